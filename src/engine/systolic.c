/*
 * The classic systolic array: one GEMM, C (M x N) = A (M x K) x B (K x N), on an
 * R x C grid of processing elements (PEs) that pass operands to their neighbours.
 *
 * A dataflow keeps one operand in the PEs and maps two of the GEMM's dimensions
 * onto the grid (Sr along the rows, Sc along the columns); the third streams
 * through it in time (T):
 *
 *     dataflow  stationary   Sr   Sc   T
 *     WS        B (weights)  K    N    M
 *     OS        C (outputs)  M    N    K
 *     IS        A (inputs)   K    M    N
 *
 * When Sr > R or Sc > C the mapping folds: ceil(Sr/R) x ceil(Sc/C) folds run one
 * after another, the last in each direction partial (r <= R rows, c <= C columns).
 *
 * Textbook model (Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator
 * Simulator", arXiv:1811.02883, sec. III, applied per fold to the PEs it maps):
 *
 *     one fold of r x c:  2r + c + T - 2 cycles
 *
 * WS and IS shift the stationary tile in from the top edge (r cycles), then
 * stream T operands in from the left, skewed one cycle per row: the last one
 * enters row r-1 at T-1 + r-1 and meets column c-1 c-1 cycles later, when the
 * last MAC writes its sum out of the tile. OS does its last MAC at T-1 + r-1 +
 * c-1 and then shifts the r rows of results out (r cycles). Over all folds:
 *
 *     cycles = 2 Sr ceil(Sc/C) + Sc ceil(Sr/R) + ceil(Sr/R) ceil(Sc/C) (T - 2)
 *
 * The functional model (functional.c) moves the numbers through the same PEs
 * and counts the same cycles.
 *
 * SCALE-Sim v2 mode. SCALE-Sim builds per-fold demand matrices padded to the
 * full array whatever the fold's size (scalesim/compute/systolic_compute_*.py):
 * WS and IS take 2R + C + T - 2 rows per fold (R to load, T streamed, R-1 + C-1
 * of skew); OS takes R + C + T - 2 (results drain as the next fold starts); and
 * its COMPUTE_REPORT "Total Cycles" is the index of the last cycle, one less
 * than the count:
 *
 *     WS, IS: folds x (2R + C + T - 2) - 1        OS: folds x (R + C + T - 2) - 1
 *
 * Its "Compute Util" averages r c T / (R C F) over folds with its own fold
 * length F (the demand matrix plus the output skew): 2R + 2C + T - 3 for WS and
 * IS, R + C + T - 2 for OS. Both modes report the same mapping efficiency (the
 * mean fraction of PEs a fold maps) and edge traffic.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

const char *engine_dataflow_name(engine_dataflow d)
{
    static const char *const NAMES[] = {"ws", "os", "is"};
    return d >= ENGINE_WS && d <= ENGINE_IS ? NAMES[d] : "?";
}

bool engine_dataflow_parse(const char *name, engine_dataflow *out)
{
    for (int d = ENGINE_WS; d <= ENGINE_IS; d++) {
        if (strcmp(name, engine_dataflow_name((engine_dataflow)d)) == 0) {
            *out = (engine_dataflow)d;
            return true;
        }
    }
    return false;
}

/* The dataflow's mapping of (M, K, N) onto (Sr, Sc, T). */
typedef struct mapping {
    double sr, sc, t;
} mapping;

static mapping map_dataflow(engine_dataflow d, double m, double k, double n)
{
    switch (d) {
    case ENGINE_OS:
        return (mapping){m, n, k};
    case ENGINE_IS:
        return (mapping){k, m, n};
    case ENGINE_WS:
        break;
    }
    return (mapping){k, n, m};
}

static double textbook_fold(double r, double c, double t)
{
    return 2.0 * r + c + t - 2.0;
}

/* Mean over folds of r c T / (R C (2r + c + T - 2)). The folds come in four
 * kinds: full or last in each direction. */
static double mean_fold_utilisation(mapping s, double rows, double cols, double nr, double nc)
{
    double last_r = s.sr - (nr - 1.0) * rows, last_c = s.sc - (nc - 1.0) * cols;
    double kinds[4][3] = {
        {rows, cols, (nr - 1.0) * (nc - 1.0)},
        {last_r, cols, nc - 1.0},
        {rows, last_c, nr - 1.0},
        {last_r, last_c, 1.0},
    };
    double sum = 0.0;
    for (int i = 0; i < 4; i++) {
        double r = kinds[i][0], c = kinds[i][1], count = kinds[i][2];
        if (count > 0.0)
            sum += count * r * c / textbook_fold(r, c, s.t);
    }
    return sum * s.t / (rows * cols * nr * nc);
}

/* Elements crossing the array edge: the streamed operand once per fold across
 * it, the stationary one once, partial sums once per fold along the
 * contraction. */
static void edge_traffic(engine_array_cycles *out, engine_dataflow d, double m, double k,
                         double n, double nr, double nc)
{
    out->reads_a = m * k * (d == ENGINE_IS ? 1.0 : nc);
    out->reads_b = k * n * (d == ENGINE_WS ? 1.0 : d == ENGINE_OS ? nr : nc);
    out->writes_c = m * n * (d == ENGINE_OS ? 1.0 : nr);
}

static void textbook(engine_array_cycles *out, mapping s, double rows, double cols, double nr,
                     double nc)
{
    out->cycles = 2.0 * s.sr * nc + s.sc * nr + nr * nc * (s.t - 2.0);
    out->fold_cycles = textbook_fold(engine_min(rows, s.sr), engine_min(cols, s.sc), s.t);
    out->fold_utilisation = mean_fold_utilisation(s, rows, cols, nr, nc);
}

static void scalesim(engine_array_cycles *out, engine_dataflow d, mapping s, double rows,
                     double cols, double nr, double nc)
{
    bool os = d == ENGINE_OS;
    double fold = (os ? rows : 2.0 * rows) + cols + s.t - 2.0;
    double util_fold = os ? rows + cols + s.t - 2.0 : 2.0 * rows + 2.0 * cols + s.t - 3.0;
    out->cycles = nr * nc * fold - 1.0;
    out->fold_cycles = fold;
    out->fold_utilisation = s.sr * s.sc * s.t / (nr * nc * rows * cols * util_fold);
}

engine_array_cycles engine_array_gemm(int rows, int cols, engine_dataflow dataflow, int64_t m,
                                      int64_t k, int64_t n, bool scalesim_compat)
{
    engine_array_cycles out;
    memset(&out, 0, sizeof out);
    if (rows < 1 || cols < 1 || m < 1 || k < 1 || n < 1)
        return out;
    mapping s = map_dataflow(dataflow, (double)m, (double)k, (double)n);
    double r = rows, c = cols;
    /* ceil in double: exact below 2^53, and far cheaper than 64-bit division */
    double nr = ceil(s.sr / r), nc = ceil(s.sc / c);
    out.row_folds = (int64_t)nr;
    out.col_folds = (int64_t)nc;
    out.macs = (double)m * (double)k * (double)n;
    out.mapping_efficiency = s.sr * s.sc / (nr * nc * r * c);
    if (scalesim_compat)
        scalesim(&out, dataflow, s, r, c, nr, nc);
    else
        textbook(&out, s, r, c, nr, nc);
    /* SCALE-Sim counts a 1 x 1 x 1 OS fold as cycle 0. */
    out.compute_utilisation = out.cycles > 0.0 ? out.macs / (r * c * out.cycles) : 0.0;
    out.fill_drain_cycles = out.cycles - nr * nc * s.t;
    edge_traffic(&out, dataflow, (double)m, (double)k, (double)n, nr, nc);
    return out;
}
