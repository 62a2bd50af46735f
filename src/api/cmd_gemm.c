/*
 * `ultrasim gemm`: what one matrix multiply (or a SCALE-Sim topology file of
 * them) costs on a chip, and why it does not reach the peak.
 *
 *   ultrasim gemm M K N [--hw trn2] [--dtype bf16] [--batch B]
 *                 [--dataflow ws|os|is] [--array RxC] [--compat scalesim] [--csv]
 *   ultrasim gemm --topology FILE.csv [...the same options]
 *
 * The options choose the model (src/engine/):
 *   - a Trainium preset alone: the instruction model of one NeuronCore, with
 *     the whole chip beside it;
 *   - --array, --dataflow or --compat: the classic systolic array at the chip's
 *     matrix clock (--compat scalesim: SCALE-Sim v2's conventions, so a topology
 *     file's cycles match its COMPUTE_REPORT.csv);
 *   - a GPU preset: tensor-core tiles and waves over the whole GPU.
 * The result carries the numbers and a list of reasons ("why"); the text
 * renderer prints them, or CSV rows when the request asked for --csv.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/engine.h"
#include "ultrasim/hw.h"

extern const api_command api_cmd_gemm;

typedef enum gemm_model { MODEL_TRAINIUM, MODEL_ARRAY, MODEL_SCALESIM, MODEL_GPU } gemm_model;

static const char *const MODEL_NAMES[] = {"trainium", "array", "scalesim", "tensor_core"};
static const char *const DTYPES[] = {"fp8", "bf16", "fp16", "tf32", "fp32", "fp4", NULL};
static const char *const DATAFLOWS[] = {"ws", "os", "is", NULL};
static const char *const COMPATS[] = {"none", "scalesim", NULL};
static const char *const TOPO_FORMATS[] = {"auto", "gemm", "conv", NULL};

#define GEMM_MAX_DIM 10000000.0
#define ARRAY_MAX 4096
#define GEMM_DEFAULT_HW "trn2"

/* Everything the request decided. */
typedef struct gemm_setup {
    hw_system *sys;
    gemm_model model;
    int rows, cols;
    engine_dataflow dataflow;
    usim_dtype dtype;
    int64_t batch;
} gemm_setup;

/* One GEMM's answer in any model. */
typedef struct gemm_row {
    double cycles, seconds, flops, utilisation, bytes, mapping_efficiency, fold_utilisation;
    engine_bound bound;
} gemm_row;

/* ---- reading the request ------------------------------------------------ */

static usim_status parse_array(const char *text, int *rows, int *cols, usim_error *err)
{
    long r = 0, c = 0;
    char x = 0, extra = 0;
    int got = sscanf(text, "%ld%c%ld%c", &r, &x, &c, &extra);
    if (got != 3 || (x != 'x' && x != 'X') || r < 1 || c < 1 || r > ARRAY_MAX || c > ARRAY_MAX)
        return usim_fail_field(err, USIM_EINPUT, "array",
                               "'%s' is not an array shape; expected ROWSxCOLS (such as 128x128) "
                               "with each from 1 to %d",
                               text, ARRAY_MAX);
    *rows = (int)r;
    *cols = (int)c;
    return USIM_OK;
}

static usim_status read_model(json_t *req, gemm_setup *g, usim_error *err)
{
    const usim_command *cmd = &api_cmd_gemm.info;
    const hw_matrix *x = &g->sys->chip.matrix;
    const char *array = NULL;
    int compat = 0, df = 0;
    usim_status st = api_choice(cmd, req, "compat", &compat, err);
    api_string(cmd, req, "array", &array, err);
    bool has_df = json_object_get(req, "dataflow") != NULL;
    if (st == USIM_OK && has_df)
        st = api_choice(cmd, req, "dataflow", &df, err);
    g->rows = x->rows;
    g->cols = x->cols;
    if (st == USIM_OK && array)
        st = parse_array(array, &g->rows, &g->cols, err);
    if (st != USIM_OK)
        return st;
    g->dataflow = (engine_dataflow)df;
    if (compat == 1)
        g->model = MODEL_SCALESIM;
    else if (array || has_df)
        g->model = MODEL_ARRAY;
    else
        g->model = x->kind == HW_MATRIX_SYSTOLIC ? MODEL_TRAINIUM : MODEL_GPU;
    return USIM_OK;
}

static usim_status read_setup(json_t *req, gemm_setup *g, usim_error *err)
{
    const usim_command *cmd = &api_cmd_gemm.info;
    int dtype = 1;
    usim_status st = api_choice(cmd, req, "dtype", &dtype, err);
    if (st == USIM_OK)
        st = api_int(cmd, req, "batch", &g->batch, NULL, err);
    if (st != USIM_OK)
        return st;
    g->dtype = (usim_dtype)dtype;
    g->sys = calloc(1, sizeof *g->sys);
    if (!g->sys)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = api_load_system(cmd, req, g->sys, err);
    if (st == USIM_OK)
        st = read_model(req, g, err);
    return st;
}

/* M K N, all three or none (then --topology). */
static usim_status read_dims(json_t *req, int64_t dims[3], bool *present, usim_error *err)
{
    static const char *const NAMES[] = {"m", "k", "n"};
    int given = 0;
    for (int i = 0; i < 3; i++) {
        bool has = false;
        usim_status st = api_int(&api_cmd_gemm.info, req, NAMES[i], &dims[i], &has, err);
        if (st != USIM_OK)
            return st;
        given += has;
    }
    bool topology = json_object_get(req, "topology") != NULL;
    if (given == 3 && topology)
        return usim_fail_field(err, USIM_EINPUT, "topology",
                               "give either M K N or --topology FILE, not both");
    if (given != 3 && !topology)
        return usim_fail(err, USIM_EINPUT,
                         "gemm needs three sizes M K N (each 1 to %.0f) or --topology FILE "
                         "('ultrasim gemm --help' shows both)",
                         GEMM_MAX_DIM);
    *present = given == 3;
    return USIM_OK;
}

/* ---- the models ----------------------------------------------------------- */

static gemm_row array_row(const gemm_setup *g, int64_t m, int64_t k, int64_t n,
                          engine_array_cycles *a)
{
    const hw_chip *chip = &g->sys->chip;
    *a = engine_array_gemm(g->rows, g->cols, g->dataflow, m, k, n, g->model == MODEL_SCALESIM);
    double batch = (double)g->batch;
    gemm_row r;
    r.cycles = a->cycles * batch;
    r.seconds = r.cycles / chip->matrix.clock_hz;
    r.flops = 2.0 * a->macs * batch;
    r.utilisation = a->compute_utilisation;
    double in_b = usim_dtype_bytes(g->dtype), out_b = g->dtype == USIM_FP8 ? 2.0 : in_b;
    r.bytes = ((a->reads_a + a->reads_b) * in_b + a->writes_c * out_b) * batch;
    r.mapping_efficiency = a->mapping_efficiency;
    r.fold_utilisation = a->fold_utilisation;
    r.bound = a->fill_drain_cycles * 2.0 >= a->cycles ? ENGINE_BOUND_LATENCY
                                                       : ENGINE_BOUND_COMPUTE;
    return r;
}

static gemm_row cost_row(const engine_cost *c, const engine_gemm_detail *d, double clock_hz)
{
    gemm_row r;
    r.cycles = c->seconds * clock_hz;
    r.seconds = c->seconds;
    r.flops = c->flops;
    r.utilisation = c->utilisation;
    r.bytes = c->bytes;
    r.mapping_efficiency = d->steady_utilisation;
    r.fold_utilisation = d->array_utilisation;
    r.bound = c->bound;
    return r;
}

static gemm_row model_row(const gemm_setup *g, int64_t m, int64_t k, int64_t n)
{
    const hw_chip *chip = &g->sys->chip;
    engine_gemm_op op = {m, k, n, g->batch, g->dtype};
    engine_gemm_detail d;
    if (g->model == MODEL_ARRAY || g->model == MODEL_SCALESIM) {
        engine_array_cycles a;
        return array_row(g, m, k, n, &a);
    }
    engine_cost c = g->model == MODEL_TRAINIUM ? engine_core_gemm(chip, &op, &d)
                                               : engine_gemm_explain(chip, &op, &d);
    return cost_row(&c, &d, chip->matrix.clock_hz);
}

/* ---- JSON ------------------------------------------------------------------- */

static void set_num(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

static json_t *row_json(const gemm_row *r)
{
    json_t *o = json_object();
    set_num(o, "cycles", r->cycles);
    set_num(o, "seconds", r->seconds);
    set_num(o, "flops", r->flops);
    set_num(o, "flops_per_s", r->seconds > 0 ? r->flops / r->seconds : NAN);
    set_num(o, "utilisation", r->utilisation);
    set_num(o, "bytes", r->bytes);
    json_object_set_new(o, "bound", json_string(engine_bound_name(r->bound)));
    return o;
}

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

/* Where one NeuronCore's time goes. */
static void trainium_why(json_t *w, const hw_chip *chip, const engine_cost *c,
                         const engine_gemm_detail *d)
{
    double clock = chip->matrix.clock_hz, t = c->seconds;
    double tiles_s = d->steady_cycles * (1.0 - d->steady_utilisation) / clock;
    double fill_s = d->fill_cycles / clock;
    api_why(w, "%.0f nc_matmul instructions of stationary %lld x moving %lld (K %lld per pass), "
           "%s stationary, %.0f cycles each",
        d->instructions, (long long)d->tile_m, (long long)d->tile_n, (long long)d->tile_k,
        d->stationary_b ? "B" : "A^T", d->interval_cycles);
    char peak[32], rate[32];
    usim_format_quantity(d->peak_flops, USIM_UNIT_FLOPS, peak, sizeof peak);
    usim_format_quantity(d->core_bytes_per_s, USIM_UNIT_BYTES_PER_S, rate, sizeof rate);
    api_why(w, "the PE array does useful MACs %.2f%% of its busy time (%.2f%% in steady state); "
           "%.2f%% of the whole run, DMA included (peak %s)",
        100.0 * d->array_utilisation, 100.0 * d->steady_utilisation, 100.0 * c->utilisation,
        peak);
    api_why(w, "partial tiles and short instructions (K, M or N not filling %d x %d x %d, or "
           "under the %d-cycle issue interval): %.2f%% of the time",
        chip->matrix.rows, chip->matrix.cols, chip->matrix.moving_free_max,
        chip->matrix.issue_min_cycles, pct(tiles_s, t));
    api_why(w, "first LoadStationary and the array's fill and drain: %.0f cycles, %.2f%%",
        d->fill_cycles, pct(fill_s, t));
    api_why(w, "DMA before the first and after the last instruction (not overlapped): %.2f us, "
           "%.2f%%",
        d->edge_s * 1e6, pct(d->edge_s, t));
    if (c->memory_s > c->compute_s)
        api_why(w, "memory-bound: %.3g MB through SBUF at %s takes %.2f us, the engine "
               "%.2f us (%.2f%% waiting on DMA)",
            c->bytes / 1e6, rate, c->memory_s * 1e6, c->compute_s * 1e6,
            pct(c->memory_s - c->compute_s, t));
    else
        api_why(w, "compute-bound: %.3g MB of HBM traffic (SBUF blocks of %.0f x %.0f outputs) "
               "takes %.2f us at %s, hidden under the engine's %.2f us",
            c->bytes / 1e6, d->block_m, d->block_n, c->memory_s * 1e6, rate, c->compute_s * 1e6);
    if (d->dtype_fallback)
        api_why(w, "the chip cannot multiply this dtype; computed in %s",
            usim_dtype_name(d->compute_dtype));
}

static void gpu_why(json_t *w, const engine_cost *c, const engine_gemm_detail *d)
{
    api_why(w, "%.0f thread-block tiles of %lld x %lld (split-K %.0f) in %.0f waves over the SMs: "
           "%.1f%% of the waves' slots used",
        d->tiles, (long long)d->tile_m, (long long)d->tile_n, d->split_k, d->waves,
        100.0 * d->wave_efficiency);
    api_why(w, "padding to whole tiles keeps %.1f%% of the MACs useful", 100.0 * d->pad_efficiency);
    api_why(w, "tensor cores sustain %.0f%% of the peak rate (matrix.efficiency: clock under "
           "load, issue)",
        100.0 * d->sustained_fraction);
    api_why(w, "per-wave loads and stores not overlapped: %.2f us, %.2f%%", d->edge_s * 1e6,
        pct(d->edge_s, c->seconds));
    api_why(w, "%s-bound: HBM traffic %.3g MB takes %.2f us, tensor cores %.2f us",
        c->memory_s > c->compute_s + d->edge_s ? "memory" : "compute", c->bytes / 1e6,
        c->memory_s * 1e6, c->compute_s * 1e6);
    if (d->dtype_fallback)
        api_why(w, "the chip lacks this dtype; computed in %s", usim_dtype_name(d->compute_dtype));
}

static void array_why(json_t *w, const gemm_setup *g, const engine_array_cycles *a)
{
    api_why(w, "%s on a %dx%d array: %lld row folds x %lld column folds, %.0f cycles per full fold",
        engine_dataflow_name(g->dataflow), g->rows, g->cols, (long long)a->row_folds,
        (long long)a->col_folds, a->fold_cycles);
    api_why(w, "mapping efficiency %.2f%%: the folds map that share of the PEs on average",
        100.0 * a->mapping_efficiency);
    api_why(w, "fill, skew and drain: %.0f of %.0f cycles (%.2f%%)", a->fill_drain_cycles, a->cycles,
        pct(a->fill_drain_cycles, a->cycles));
    if (g->model == MODEL_SCALESIM)
        api_why(w, "SCALE-Sim v2 conventions: folds padded to the full array, cycles counted to the "
               "last cycle's index");
}

/* The chip's dense peak for dtype, or for what it computed in instead. */
static double chip_peak(const hw_chip *chip, usim_dtype dtype, const engine_gemm_detail *d)
{
    double peak = hw_per_dtype_get(&chip->dense_flops, dtype);
    return peak > 0 || d->compute_dtype >= USIM_DTYPE_COUNT
               ? peak
               : hw_per_dtype_get(&chip->dense_flops, d->compute_dtype);
}

static json_t *chip_json(const hw_chip *chip, const gemm_setup *g, int64_t m, int64_t k,
                         int64_t n)
{
    engine_gemm_op op = {m, k, n, g->batch, g->dtype};
    engine_gemm_detail d;
    engine_cost c = engine_gemm_explain(chip, &op, &d);
    gemm_row r = cost_row(&c, &d, chip->matrix.clock_hz);
    json_t *o = row_json(&r);
    json_object_set_new(o, "cores", json_integer(chip->cores));
    json_object_set_new(o, "cores_used", json_integer(d.cores_used));
    json_object_set_new(o, "split", json_string(d.split));
    set_num(o, "peak_flops", chip_peak(chip, g->dtype, &d));
    return o;
}

/* A chip with no matrix units for the dtype (nor any wider one it could
 * compute in) never finishes a GEMM: the engine says infinite time, and the
 * command says there is no such time, and why, rather than a number. */
static json_t *no_matrix_json(const gemm_setup *g, int64_t m, int64_t k, int64_t n)
{
    static const char *const NONE[] = {"cycles", "seconds", "flops_per_s", "utilisation",
                                       "compute_s"};
    char reason[256];
    json_t *o = json_object();
    api_put_no_matrix_units(o, g->sys->chip.name, usim_dtype_name(g->dtype), NONE,
                            sizeof NONE / sizeof NONE[0], reason, sizeof reason);
    set_num(o, "flops", 2.0 * (double)m * (double)k * (double)n * (double)g->batch);
    set_num(o, "peak_flops", hw_per_dtype_get(&g->sys->chip.dense_flops, g->dtype));
    json_object_set_new(o, "bound", json_null());
    json_object_set_new(o, "compute_dtype", json_null());
    json_object_set_new(o, "why", api_pack("[s]", reason));
    return o;
}

static json_t *single_json(const gemm_setup *g, int64_t m, int64_t k, int64_t n)
{
    const hw_chip *chip = &g->sys->chip;
    engine_gemm_op op = {m, k, n, g->batch, g->dtype};
    engine_gemm_detail d;
    json_t *w = json_array(), *o;
    memset(&d, 0, sizeof d);
    if (g->model == MODEL_ARRAY || g->model == MODEL_SCALESIM) {
        engine_array_cycles a;
        gemm_row r = array_row(g, m, k, n, &a);
        o = row_json(&r);
        json_object_set_new(o, "array", api_pack("{s:i, s:i, s:s, s:I, s:I, s:f, s:f, s:f}",
                                                  "rows", g->rows, "cols", g->cols, "dataflow",
                                                  engine_dataflow_name(g->dataflow), "row_folds",
                                                  (json_int_t)a.row_folds, "col_folds",
                                                  (json_int_t)a.col_folds, "mapping_efficiency",
                                                  a.mapping_efficiency, "fold_utilisation",
                                                  a.fold_utilisation, "fill_drain_cycles",
                                                  a.fill_drain_cycles));
        set_num(o, "peak_flops", 2.0 * g->rows * g->cols * chip->matrix.clock_hz);
        array_why(w, g, &a);
    } else {
        engine_cost c = g->model == MODEL_TRAINIUM ? engine_core_gemm(chip, &op, &d)
                                                   : engine_gemm_explain(chip, &op, &d);
        if (d.compute_dtype >= USIM_DTYPE_COUNT) {
            json_decref(w);
            return no_matrix_json(g, m, k, n);
        }
        gemm_row r = cost_row(&c, &d, chip->matrix.clock_hz);
        o = row_json(&r);
        set_num(o, "peak_flops", g->model == MODEL_TRAINIUM ? d.peak_flops
                                                            : chip_peak(chip, g->dtype, &d));
        set_num(o, "array_utilisation", d.array_utilisation);
        set_num(o, "steady_utilisation", d.steady_utilisation);
        set_num(o, "engine_cycles", d.steady_cycles + d.fill_cycles);
        set_num(o, "compute_s", c.compute_s);
        set_num(o, "memory_s", c.memory_s);
        /* the one kernel launch inside seconds, which a benchmark that
         * queues kernels back to back does not see */
        set_num(o, "launch_s", g->model == MODEL_TRAINIUM ? 0.0 : chip->launch_overhead_s);
        json_object_set_new(o, "compute_dtype", json_string(usim_dtype_name(d.compute_dtype)));
        if (g->model == MODEL_TRAINIUM) {
            trainium_why(w, chip, &c, &d);
            json_object_set_new(o, "all_cores", chip_json(chip, g, m, k, n));
        } else {
            gpu_why(w, &c, &d);
        }
    }
    json_object_set_new(o, "why", w);
    return o;
}

static json_t *common_json(const gemm_setup *g)
{
    const hw_chip *chip = &g->sys->chip;
    return api_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:s}", "model", MODEL_NAMES[g->model],
                     "hw", g->sys->name, "chip", chip->name, "dtype", usim_dtype_name(g->dtype),
                     "batch", (json_int_t)g->batch, "clock_hz", chip->matrix.clock_hz,
                     "core_name", chip->core_name);
}

/* A chip multiplies what its HBM holds: A, B and C of every GEMM in the batch
 * (results in at least 16 bits, as the models store fp8's). 10^7 x 10^7 x 1
 * in bf16 is 200 TB of A: no chip runs it. The bare arrays have no HBM. */
static usim_status check_fits(const gemm_setup *g, int64_t m, int64_t k, int64_t n,
                              const char *layer, usim_error *err)
{
    double hbm = g->sys->chip.hbm.capacity_bytes, in = usim_dtype_bytes(g->dtype);
    double out = in < 2.0 ? 2.0 : in;
    double bytes = (double)g->batch * (((double)m * (double)k + (double)k * (double)n) * in +
                                       (double)m * (double)n * out);
    if ((g->model != MODEL_TRAINIUM && g->model != MODEL_GPU) || hbm <= 0 || bytes <= hbm)
        return USIM_OK;
    char need[32], have[32];
    usim_format_quantity(bytes, USIM_UNIT_BYTES, need, sizeof need);
    usim_format_quantity(hbm, USIM_UNIT_BYTES, have, sizeof have);
    char what[160] = "";
    if (layer)
        snprintf(what, sizeof what, "layer '%.100s', ", layer);
    return usim_fail_field(err, USIM_EINPUT, layer ? "topology" : "",
                           "%s%lld x %lld x %lld (M x K x N)%s: A, B and C need %s, more than "
                           "%s's %s of HBM (allowed: operands that fit it)",
                           what, (long long)m, (long long)k, (long long)n,
                           g->batch > 1 ? " x the batch" : "", need, g->sys->chip.name, have);
}

static usim_status topology_json(json_t *req, const gemm_setup *g, json_t *out,
                                 usim_error *err)
{
    const char *path = NULL;
    int fmt = 0;
    engine_topology topo;
    api_string(&api_cmd_gemm.info, req, "topology", &path, err);
    usim_status st = api_choice(&api_cmd_gemm.info, req, "topology-format", &fmt, err);
    if (st == USIM_OK)
        st = engine_topology_load(path, (engine_topology_format)fmt, &topo, err);
    if (st != USIM_OK)
        return st;
    for (size_t i = 0; i < topo.count && st == USIM_OK; i++)
        st = check_fits(g, topo.layers[i].m, topo.layers[i].k, topo.layers[i].n,
                        topo.layers[i].name, err);
    if (st != USIM_OK) {
        engine_topology_free(&topo);
        return st;
    }
    json_t *rows = json_array();
    gemm_row total = {0};
    for (size_t i = 0; i < topo.count; i++) {
        const engine_topo_layer *l = &topo.layers[i];
        gemm_row r = model_row(g, l->m, l->k, l->n);
        json_t *o = row_json(&r);
        json_object_set_new(o, "layer", json_string(l->name));
        json_object_set_new(o, "m", json_integer(l->m));
        json_object_set_new(o, "n", json_integer(l->n));
        json_object_set_new(o, "k", json_integer(l->k));
        set_num(o, "mapping_efficiency", r.mapping_efficiency);
        set_num(o, "fold_utilisation", r.fold_utilisation);
        json_array_append_new(rows, o);
        total.cycles += r.cycles;
        total.seconds += r.seconds;
        total.flops += r.flops;
        total.bytes += r.bytes;
    }
    json_object_set_new(out, "topology", json_string(path));
    json_object_set_new(out, "topology_format",
                        json_string(topo.format == ENGINE_TOPO_CONV ? "conv" : "gemm"));
    json_object_set_new(out, "layers", rows);
    json_object_set_new(out, "total", api_pack("{s:f, s:f, s:f, s:f}", "cycles", total.cycles,
                                                "seconds", total.seconds, "flops", total.flops,
                                                "bytes", total.bytes));
    engine_topology_free(&topo);
    return USIM_OK;
}

static usim_status gemm_run(json_t *req, json_t **result, usim_error *err)
{
    gemm_setup g;
    int64_t dims[3] = {0, 0, 0};
    bool single = false;
    memset(&g, 0, sizeof g);
    usim_status st = read_dims(req, dims, &single, err);
    if (st == USIM_OK)
        st = read_setup(req, &g, err);
    if (st == USIM_OK && single)
        st = check_fits(&g, dims[0], dims[1], dims[2], NULL, err);
    if (st == USIM_OK) {
        json_t *out = common_json(&g);
        if (single) {
            json_t *one = single_json(&g, dims[0], dims[1], dims[2]);
            json_object_set_new(out, "m", json_integer(dims[0]));
            json_object_set_new(out, "k", json_integer(dims[1]));
            json_object_set_new(out, "n", json_integer(dims[2]));
            json_object_update(out, one);
            json_decref(one);
        } else {
            st = topology_json(req, &g, out, err);
        }
        json_object_set_new(out, "csv", json_boolean(api_flag(req, "csv")));
        api_system_warnings(out, g.sys);
        if (st == USIM_OK)
            *result = out;
        else
            json_decref(out);
    }
    free(g.sys);
    return st;
}

/* ---- text --------------------------------------------------------------- */

static void fmt_q(double v, usim_unit unit, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "n/a");
    else
        usim_format_quantity(v, unit, buf, size);
}

static void render_csv(json_t *res, usim_buf *b)
{
    json_t *layers = json_object_get(res, "layers"), *it;
    size_t i;
    usim_buf_puts(b, "layer,m,n,k,cycles,seconds,overall_util_pct,mapping_efficiency_pct,"
                     "compute_util_pct,bound\n");
    if (!layers) { /* a figure that does not exist is an empty cell */
        char cycles[32] = "", seconds[32] = "", util[32] = "", mapping[32] = "", fold[32] = "";
        const char *bound = json_string_value(json_object_get(res, "bound"));
        if (isfinite(api_number(res, "seconds"))) {
            snprintf(cycles, sizeof cycles, "%.0f", api_number(res, "cycles"));
            snprintf(seconds, sizeof seconds, "%.9g", api_number(res, "seconds"));
            snprintf(util, sizeof util, "%.9g", 100.0 * api_number(res, "utilisation"));
        }
        /* the cells a topology's row fills (model_row): the array's mapping and
         * fold figures, or the tiles' steady and busy-time utilisation */
        json_t *array = json_object_get(res, "array");
        double mapped = array ? api_number(array, "mapping_efficiency")
                              : api_number(res, "steady_utilisation");
        double folded = array ? api_number(array, "fold_utilisation")
                              : api_number(res, "array_utilisation");
        if (isfinite(mapped))
            snprintf(mapping, sizeof mapping, "%.9g", 100.0 * mapped);
        if (isfinite(folded))
            snprintf(fold, sizeof fold, "%.9g", 100.0 * folded);
        usim_buf_printf(b, "gemm,%.0f,%.0f,%.0f,%s,%s,%s,%s,%s,%s\n", api_number(res, "m"),
                        api_number(res, "n"), api_number(res, "k"), cycles, seconds, util,
                        mapping, fold, bound ? bound : "");
        return;
    }
    json_array_foreach(layers, i, it)
    {
        usim_buf_printf(b, "%s,%.0f,%.0f,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,%s\n",
                        json_string_value(json_object_get(it, "layer")), api_number(it, "m"),
                        api_number(it, "n"), api_number(it, "k"), api_number(it, "cycles"),
                        api_number(it, "seconds"), 100.0 * api_number(it, "utilisation"),
                        100.0 * api_number(it, "mapping_efficiency"),
                        100.0 * api_number(it, "fold_utilisation"),
                        json_string_value(json_object_get(it, "bound")));
    }
}

static void render_topology(json_t *res, usim_buf *b)
{
    json_t *layers = json_object_get(res, "layers"), *it;
    size_t i;
    char t[32];
    usim_buf_printf(b, "%s (%s topology) on %s, %s model\n\n",
                    json_string_value(json_object_get(res, "topology")),
                    json_string_value(json_object_get(res, "topology_format")),
                    json_string_value(json_object_get(res, "hw")),
                    json_string_value(json_object_get(res, "model")));
    usim_buf_printf(b, "  %-28s %8s %8s %8s %14s %12s %7s  %s\n", "layer", "M", "N", "K",
                    "cycles", "time", "util", "bound");
    json_array_foreach(layers, i, it)
    {
        fmt_q(api_number(it, "seconds"), USIM_UNIT_SECONDS, t, sizeof t);
        usim_buf_printf(b, "  %-28.28s %8.0f %8.0f %8.0f %14.0f %12s %6.1f%%  %s\n",
                        json_string_value(json_object_get(it, "layer")), api_number(it, "m"),
                        api_number(it, "n"), api_number(it, "k"), api_number(it, "cycles"), t,
                        100.0 * api_number(it, "utilisation"),
                        json_string_value(json_object_get(it, "bound")));
    }
    json_t *total = json_object_get(res, "total");
    fmt_q(api_number(total, "seconds"), USIM_UNIT_SECONDS, t, sizeof t);
    usim_buf_printf(b, "  %-28s %26s %14.0f %12s\n", "total", "", api_number(total, "cycles"), t);
}

static void render_line(usim_buf *b, const char *label, json_t *o, const char *scope)
{
    char t[32], f[32], by[32];
    fmt_q(api_number(o, "seconds"), USIM_UNIT_SECONDS, t, sizeof t);
    fmt_q(api_number(o, "flops_per_s"), USIM_UNIT_FLOPS, f, sizeof f);
    fmt_q(api_number(o, "bytes"), USIM_UNIT_BYTES, by, sizeof by);
    usim_buf_printf(b, "  %-12s %s, %s, %.1f%% of %s peak, %s moved, %s-bound\n", label, t, f,
                    100.0 * api_number(o, "utilisation"), scope, by,
                    json_string_value(json_object_get(o, "bound")));
}

static void render_single(json_t *res, usim_buf *b)
{
    char peak[32];
    const char *model = json_string_value(json_object_get(res, "model"));
    fmt_q(api_number(res, "peak_flops"), USIM_UNIT_FLOPS, peak, sizeof peak);
    usim_buf_printf(b, "GEMM %.0f x %.0f x %.0f (M x K x N)%s, %s, on %s: %s model\n\n",
                    api_number(res, "m"), api_number(res, "k"), api_number(res, "n"),
                    api_number(res, "batch") > 1 ? " batched" : "",
                    json_string_value(json_object_get(res, "dtype")),
                    json_string_value(json_object_get(res, "hw")), model);
    if (!isfinite(api_number(res, "seconds"))) {
        char t[256];
        api_text_value(res, "seconds", USIM_UNIT_SECONDS, t, sizeof t);
        usim_buf_printf(b, "  %-12s %s\n", "time", t);
        return;
    }
    usim_buf_printf(b, "  %-12s %.0f at %.3g GHz\n", "cycles", api_number(res, "cycles"),
                    api_number(res, "clock_hz") / 1e9);
    bool trainium = strcmp(model, "trainium") == 0;
    char scope[64];
    snprintf(scope, sizeof scope, "%s (%s)",
             trainium ? json_string_value(json_object_get(res, "core_name"))
             : strcmp(model, "tensor_core") == 0 ? "the chip's" : "the array's",
             peak);
    render_line(b, trainium ? "one core" : "result", res, scope);
    json_t *chip = json_object_get(res, "all_cores");
    if (json_is_object(chip)) {
        char label[32], cp[32];
        snprintf(label, sizeof label, "%.0f cores", api_number(chip, "cores_used"));
        fmt_q(api_number(chip, "peak_flops"), USIM_UNIT_FLOPS, cp, sizeof cp);
        snprintf(scope, sizeof scope, "the chip's basis (%s)", cp);
        render_line(b, label, chip, scope);
        usim_buf_printf(b, "  %-12s split by %s over %.0f of %.0f cores\n", "",
                        json_string_value(json_object_get(chip, "split")),
                        api_number(chip, "cores_used"), api_number(chip, "cores"));
    }
    json_t *w = json_object_get(res, "why"), *it;
    size_t i;
    usim_buf_puts(b, "\nWhy:\n");
    json_array_foreach(w, i, it)
    {
        usim_buf_printf(b, "  - %s\n", json_string_value(it));
    }
}

static usim_status gemm_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    if (json_is_true(json_object_get(res, "csv")))
        render_csv(res, b);
    else if (json_object_get(res, "layers"))
        render_topology(res, b);
    else
        render_single(res, b);
    return USIM_OK;
}

/* ---- the command ---------------------------------------------------------- */

#define DIM_OPTION(name_, help_)                                                            \
    {name_, USIM_OPT_INT, USIM_UNIT_NONE, "N", help_, NULL, NULL, 1, GEMM_MAX_DIM, false, false}

static const usim_option GEMM_OPTIONS[] = {
    DIM_OPTION("m", "rows of A and C"),
    DIM_OPTION("k", "columns of A, rows of B (the contraction)"),
    DIM_OPTION("n", "columns of B and C"),
    {"hw", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", "chip or system preset, or JSON file",
     GEMM_DEFAULT_HW, NULL, 0, 0, false, true},
    {"dtype", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE", "input data type", "bf16", DTYPES, 0, 0,
     false, false},
    {"batch", USIM_OPT_INT, USIM_UNIT_NONE, "B", "independent GEMMs of this shape", "1", NULL,
     1, 1000000, false, false},
    {"dataflow", USIM_OPT_CHOICE, USIM_UNIT_NONE, "DF",
     "classic array dataflow; selects the array model [default with --array: ws]", NULL,
     DATAFLOWS, 0, 0, false, false},
    {"array", USIM_OPT_STRING, USIM_UNIT_NONE, "RxC",
     "classic array of R rows and C columns (default: the chip's); selects the array model",
     NULL, NULL, 0, 0, false, false},
    {"compat", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TOOL",
     "reproduce another simulator's conventions", "none", COMPATS, 0, 0, false, false},
    {"topology", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE",
     "a SCALE-Sim topology CSV (GEMM: Layer,M,N,K, or convolution layers)", NULL, NULL, 0, 0,
     false, false},
    {"topology-format", USIM_OPT_CHOICE, USIM_UNIT_NONE, "FMT",
     "how to read --topology (auto: by its header)", "auto", TOPO_FORMATS, 0, 0, false, false},
    {"csv", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "print CSV: a header 'layer,m,n,k,cycles,...' and one row per layer", NULL, NULL, 0, 0,
     false, false},
};

static const char *const GEMM_POSITIONALS[] = {"m", "k", "n", NULL};

const api_command api_cmd_gemm = {
    {"gemm", "cost of a matrix multiply (or a SCALE-Sim topology) on a chip, and why",
     "ultrasim gemm M K N [--hw trn2] [--dtype bf16] [--batch B] [--dataflow ws|os|is] "
     "[--array RxC] [--compat scalesim] [--csv] [--json]\n"
     "       ultrasim gemm --topology FILE.csv [--array RxC] [--dataflow DF] "
     "[--compat scalesim] [--csv]",
     "C (M x N) = A (M x K) x B (K x N). On a Trainium preset the default is the\n"
     "instruction-level model of one NeuronCore (nc_matmul tiles, LoadStationary overlap,\n"
     "PSUM accumulation, SBUF tiling with HBM DMA), with the whole chip beside it; on a\n"
     "GPU preset, tensor-core tiles and waves over the SMs. --array, --dataflow or\n"
     "--compat select the classic systolic-array model at the chip's matrix clock;\n"
     "--compat scalesim reproduces SCALE-Sim v2's compute cycles (its Total Cycles with\n"
     "no memory stalls). A topology file is SCALE-Sim's: Layer,M,N,K (N before K!) or\n"
     "convolution layers, lowered to GEMMs as SCALE-Sim lowers them.",
     GEMM_POSITIONALS, GEMM_OPTIONS, sizeof GEMM_OPTIONS / sizeof GEMM_OPTIONS[0]},
    gemm_run,
    gemm_render,
};
