/*
 * The functional model: the systolic array of systolic.c built out of PEs
 * that hold registers and pass real numbers to their neighbours once a cycle.
 * It computes the product and counts the cycles that took, so the analytic
 * model's closed forms can be checked against a machine that does the work.
 *
 * Every PE has a horizontal register (the operand streaming left to right), a
 * vertical one (a partial sum, or in OS the second operand, moving top to
 * bottom), a stationary register and a valid bit travelling with each value.
 * In one cycle every PE reads its neighbours' registers as they were at the
 * end of the previous cycle. Updating the grid in place from the bottom-right
 * corner to the top-left keeps those old values readable without a second
 * copy of the grid.
 *
 *   WS and IS: the stationary tile shifts in from the top edge, one row per
 *     cycle (r cycles); the streamed operand enters row i from the left edge
 *     i cycles late (the skew), each PE adds stationary x streamed to the
 *     partial sum from above, and sums leave the bottom row of the tile. A sum
 *     of a later row fold (the next slice of K) adds to the one already at the
 *     edge, in fp32, as PSUM accumulates.
 *   OS: A enters from the left and B from the top, both skewed; each PE
 *     accumulates its own output, then the results shift out of the bottom
 *     edge one row per cycle (r cycles).
 *
 * Operands are rounded to the input format as they enter the array; each
 * product and sum is an fp32 operation (products of bf16, fp16, tf32 and fp8
 * are exact in fp32; with fp32 inputs the product rounds, as an fp32 FMA-less
 * datapath would). A fold runs until its last output has left, and the cycle
 * count is what the loop counted.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

/* One PE's registers. */
typedef struct pe {
    float stationary;
    float across; /* moving left to right */
    float down;   /* moving top to bottom: a partial sum (WS, IS) or B (OS) */
    float acc;    /* OS: the output this PE owns */
    bool across_valid, down_valid;
} pe;

/* A strided view of a matrix: element (i, j) is base[i * si + j * sj]. */
typedef struct view {
    const float *base;
    int64_t si, sj;
} view;

static float view_at(view v, int64_t i, int64_t j)
{
    return v.base[i * v.si + j * v.sj];
}

/* What one fold of a stationary dataflow (WS or IS) reads and writes:
 * stationary(i, j) for the r x c tile, streamed(i, t) entering row i at time
 * t + i, and the output (j, t) accumulating into out. */
typedef struct fold_io {
    view stationary, streamed;
    float *out;
    int64_t out_sj, out_st;
    int64_t r, c, t;
    engine_number input;
} fold_io;

typedef struct counters {
    double cycles, macs, mapped, fold_util_sum, reads_a, reads_b, writes_c;
    double first_fold_cycles;
    int64_t folds, row_folds, col_folds;
    int cols, rows;
} counters;

static void count_fold(counters *k, double cycles, double macs, int64_t r, int64_t c)
{
    if (k->folds == 0)
        k->first_fold_cycles = cycles;
    k->cycles += cycles;
    k->macs += macs;
    k->mapped += (double)(r * c);
    k->fold_util_sum += macs / ((double)k->rows * k->cols * cycles);
    k->folds++;
}

/* Shifts the stationary tile in from the top edge: the last row enters first,
 * so after r cycles row i holds stationary row i. Returns the cycles taken. */
static double load_stationary(pe *grid, int cols, const fold_io *io)
{
    double cycles = 0;
    for (int64_t step = 0; step < io->r; step++, cycles++) {
        for (int64_t i = io->r - 1; i > 0; i--)
            for (int64_t j = 0; j < io->c; j++)
                grid[i * cols + j].stationary = grid[(i - 1) * cols + j].stationary;
        for (int64_t j = 0; j < io->c; j++)
            grid[j].stationary = engine_round(io->input,
                                              view_at(io->stationary, io->r - 1 - step, j));
    }
    return cycles;
}

/* One cycle of one PE in WS/IS: take the operand from the left (or the edge),
 * the partial sum from above (or zero), multiply and add. */
static double stream_pe(pe *grid, int cols, const fold_io *io, int64_t i, int64_t j,
                        int64_t cycle, double *reads)
{
    pe *p = &grid[i * cols + j];
    if (j == 0) {
        int64_t t = cycle - i;
        p->across_valid = t >= 0 && t < io->t;
        if (p->across_valid) {
            p->across = engine_round(io->input, view_at(io->streamed, i, t));
            *reads += 1;
        }
    } else {
        p->across = grid[i * cols + j - 1].across;
        p->across_valid = grid[i * cols + j - 1].across_valid;
    }
    const pe *up = i == 0 ? NULL : &grid[(i - 1) * cols + j];
    float above = up && up->down_valid ? up->down : 0.0f;
    p->down_valid = p->across_valid;
    if (!p->across_valid)
        return 0;
    float product = p->stationary * p->across;
    p->down = above + product;
    return 1;
}

/* Streams one WS/IS fold; returns its cycles and adds what it did to k. */
static double stream_fold(pe *grid, int cols, const fold_io *io, counters *k, double *reads,
                          double *macs)
{
    int64_t expected = io->t * io->c, collected = 0, cycle = 0;
    for (int64_t j = 0; j < io->c; j++)
        for (int64_t i = 0; i < io->r; i++)
            grid[i * cols + j].across_valid = grid[i * cols + j].down_valid = false;
    while (collected < expected) {
        for (int64_t i = io->r - 1; i >= 0; i--)
            for (int64_t j = io->c - 1; j >= 0; j--)
                *macs += stream_pe(grid, cols, io, i, j, cycle, reads);
        for (int64_t j = 0; j < io->c; j++) {
            const pe *bottom = &grid[(io->r - 1) * cols + j];
            if (!bottom->down_valid)
                continue;
            int64_t t = cycle - (io->r - 1) - j; /* which streamed operand this sum is for */
            io->out[j * io->out_sj + t * io->out_st] += bottom->down;
            k->writes_c += 1;
            collected++;
        }
        cycle++;
    }
    return (double)cycle;
}

static double stationary_fold(pe *grid, int cols, const fold_io *io, counters *k,
                              double *stationary_reads, double *streamed_reads)
{
    double macs = 0;
    double cycles = load_stationary(grid, cols, io);
    *stationary_reads += (double)(io->r * io->c);
    cycles += stream_fold(grid, cols, io, k, streamed_reads, &macs);
    count_fold(k, cycles, macs, io->r, io->c);
    return cycles;
}

typedef struct gemm_io {
    const float *a, *b;
    float *c;
    int64_t m, k, n;
    engine_number input;
} gemm_io;

/* WS: B[k0 + i][n0 + j] stays; A[t][k0 + i] streams (t = the row of A). */
static void run_ws(pe *grid, int rows, int cols, const gemm_io *g, counters *k)
{
    for (int64_t n0 = 0; n0 < g->n; n0 += cols, k->col_folds++)
        for (int64_t k0 = 0; k0 < g->k; k0 += rows) {
            k->row_folds += n0 == 0;
            fold_io io = {{g->b + k0 * g->n + n0, g->n, 1},
                          {g->a + k0, 1, g->k},
                          g->c + n0,
                          1,
                          g->n,
                          g->k - k0 < rows ? g->k - k0 : rows,
                          g->n - n0 < cols ? g->n - n0 : cols,
                          g->m,
                          g->input};
            stationary_fold(grid, cols, &io, k, &k->reads_b, &k->reads_a);
        }
}

/* IS: A[m0 + j][k0 + i] stays (A transposed); B[k0 + i][t] streams. */
static void run_is(pe *grid, int rows, int cols, const gemm_io *g, counters *k)
{
    for (int64_t m0 = 0; m0 < g->m; m0 += cols, k->col_folds++)
        for (int64_t k0 = 0; k0 < g->k; k0 += rows) {
            k->row_folds += m0 == 0;
            fold_io io = {{g->a + m0 * g->k + k0, 1, g->k},
                          {g->b + k0 * g->n, g->n, 1},
                          g->c + m0 * g->n,
                          g->n,
                          1,
                          g->k - k0 < rows ? g->k - k0 : rows,
                          g->m - m0 < cols ? g->m - m0 : cols,
                          g->n,
                          g->input};
            stationary_fold(grid, cols, &io, k, &k->reads_a, &k->reads_b);
        }
}

/* OS, one PE and one cycle: A from the left, B from above, both skewed so
 * that A[m0 + i][s] meets B[s][n0 + j] at PE (i, j) in cycle s + i + j. */
static double os_pe(pe *grid, int cols, const gemm_io *g, int64_t m0, int64_t n0, int64_t i,
                    int64_t j, int64_t cycle, counters *k)
{
    pe *p = &grid[i * cols + j];
    if (j == 0) {
        int64_t s = cycle - i;
        p->across_valid = s >= 0 && s < g->k;
        if (p->across_valid) {
            p->across = engine_round(g->input, g->a[(m0 + i) * g->k + s]);
            k->reads_a += 1;
        }
    } else {
        p->across = grid[i * cols + j - 1].across;
        p->across_valid = grid[i * cols + j - 1].across_valid;
    }
    if (i == 0) {
        int64_t s = cycle - j;
        p->down_valid = s >= 0 && s < g->k;
        if (p->down_valid) {
            p->down = engine_round(g->input, g->b[s * g->n + n0 + j]);
            k->reads_b += 1;
        }
    } else {
        p->down = grid[(i - 1) * cols + j].down;
        p->down_valid = grid[(i - 1) * cols + j].down_valid;
    }
    if (!(p->across_valid && p->down_valid))
        return 0;
    float product = p->across * p->down;
    p->acc = p->acc + product;
    return 1;
}

/* Shifts the r x c results out of the bottom edge, one row per cycle. */
static double os_drain(pe *grid, int cols, const gemm_io *g, int64_t m0, int64_t n0, int64_t r,
                       int64_t c, counters *k)
{
    double cycles = 0;
    for (int64_t step = 0; step < r; step++, cycles++) {
        for (int64_t j = 0; j < c; j++) {
            g->c[(m0 + r - 1 - step) * g->n + n0 + j] = grid[(r - 1) * cols + j].acc;
            k->writes_c += 1;
        }
        for (int64_t i = r - 1; i > 0; i--)
            for (int64_t j = 0; j < c; j++)
                grid[i * cols + j].acc = grid[(i - 1) * cols + j].acc;
    }
    return cycles;
}

static void run_os(pe *grid, int rows, int cols, const gemm_io *g, counters *k)
{
    for (int64_t n0 = 0; n0 < g->n; n0 += cols, k->col_folds++)
        for (int64_t m0 = 0; m0 < g->m; m0 += rows) {
            k->row_folds += n0 == 0;
            int64_t r = g->m - m0 < rows ? g->m - m0 : rows;
            int64_t c = g->n - n0 < cols ? g->n - n0 : cols;
            double macs = 0, expected = (double)(r * c * g->k);
            int64_t cycle = 0;
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < c; j++)
                    grid[i * cols + j] = (pe){0};
            while (macs < expected) {
                for (int64_t i = r - 1; i >= 0; i--)
                    for (int64_t j = c - 1; j >= 0; j--)
                        macs += os_pe(grid, cols, g, m0, n0, i, j, cycle, k);
                cycle++;
            }
            double cycles = (double)cycle + os_drain(grid, cols, g, m0, n0, r, c, k);
            count_fold(k, cycles, macs, r, c);
        }
}

usim_status engine_functional_gemm(int rows, int cols, engine_dataflow dataflow, int64_t m,
                                   int64_t k, int64_t n, engine_number input, const float *a,
                                   const float *b, float *c, engine_array_cycles *stats,
                                   usim_error *err)
{
    if (rows < 1 || cols < 1 || m < 1 || k < 1 || n < 1)
        return usim_fail(err, USIM_EINPUT,
                         "array %dx%d and GEMM %lldx%lldx%lld: every size must be at least 1",
                         rows, cols, (long long)m, (long long)k, (long long)n);
    pe *grid = calloc((size_t)rows * (size_t)cols, sizeof *grid);
    if (!grid)
        return usim_fail(err, USIM_ERUNTIME, "out of memory for a %dx%d array", rows, cols);
    memset(c, 0, (size_t)(m * n) * sizeof *c);
    gemm_io g = {a, b, c, m, k, n, input};
    counters cnt;
    memset(&cnt, 0, sizeof cnt);
    cnt.rows = rows;
    cnt.cols = cols;
    if (dataflow == ENGINE_OS)
        run_os(grid, rows, cols, &g, &cnt);
    else if (dataflow == ENGINE_IS)
        run_is(grid, rows, cols, &g, &cnt);
    else
        run_ws(grid, rows, cols, &g, &cnt);
    free(grid);
    int64_t streamed = dataflow == ENGINE_WS ? m : dataflow == ENGINE_OS ? k : n;
    memset(stats, 0, sizeof *stats);
    stats->cycles = cnt.cycles;
    stats->row_folds = cnt.row_folds;
    stats->col_folds = cnt.col_folds;
    stats->macs = cnt.macs;
    stats->fold_cycles = cnt.first_fold_cycles;
    stats->fill_drain_cycles = cnt.cycles - (double)cnt.folds * (double)streamed;
    stats->mapping_efficiency = cnt.mapped / ((double)cnt.folds * rows * cols);
    stats->compute_utilisation = cnt.macs / ((double)rows * cols * cnt.cycles);
    stats->fold_utilisation = cnt.fold_util_sum / (double)cnt.folds;
    stats->reads_a = cnt.reads_a;
    stats->reads_b = cnt.reads_b;
    stats->writes_c = cnt.writes_c;
    return USIM_OK;
}
