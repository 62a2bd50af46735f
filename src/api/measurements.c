/*
 * Published measurements as CSV rows (the CSVs under validation/, or a user's own
 * file): each row is a run described in the columns of its set and the
 * figure measured. A row becomes a request to the same front door a user
 * calls (train, serve or collective), so validation and calibration measure
 * exactly what users get. Blank cells take the simulator's documented
 * defaults, the same for every row.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/measurements.h"
#include "ultrasim/hw.h"
#include "ultrasim/net.h"
#include "ultrasim/workload.h"

extern const api_command api_cmd_train;

const char *const meas_set_names[] = {"training", "inference", "collectives", "gemm",
                                       "attention", NULL};

/* ---- CSV ------------------------------------------------------------- */

#define UTF8_BOM "\xEF\xBB\xBF" /* spreadsheets begin a "CSV UTF-8" file with it */

typedef struct csv_row {
    char *cells[64];
    int n;
} csv_row;

/* Splits one record in place into its cells (a cell that starts with a quote
 * runs to the lone quote that closes it, "" a quote within); false when it
 * has more cells than a row holds. */
static bool split_line(char *line, csv_row *row)
{
    row->n = 0;
    char *p = line;
    for (;;) {
        if (row->n == 64)
            return false;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"' || !*p) {
                    if (*p)
                        p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                out = ++p;
        }
        char end = *p;
        *out = '\0';
        row->cells[row->n++] = start;
        if (end != ',')
            return true;
        p++;
    }
}

/* Where a record ends: the first line break outside a quoted cell (a quoted
 * cell may hold one, as CSV allows), by split_line's rules: a quote opens a
 * cell only as its first character; NULL at the end of the text. *open is
 * set when the text ends inside a quoted cell. */
static char *record_end(char *p, int *breaks, bool *open)
{
    bool quoted = false, cell_start = true;
    *breaks = 0;
    for (; *p; p++) {
        if (quoted) {
            if (*p == '"' && p[1] == '"')
                p++;
            else if (*p == '"')
                quoted = false;
            else if (*p == '\n')
                ++*breaks;
            continue;
        }
        if (*p == '\n')
            break;
        quoted = cell_start && *p == '"';
        cell_start = *p == ',';
    }
    *open = quoted;
    return *p ? p : NULL;
}

static const char *cell(const csv_row *header, const csv_row *row, const char *name)
{
    for (int i = 0; i < header->n && i < row->n; i++)
        if (strcmp(header->cells[i], name) == 0)
            return row->cells[i][0] ? row->cells[i] : NULL;
    return NULL;
}

static void set_if(json_t *req, const char *key, const char *value)
{
    if (value && value[0])
        json_object_set_new(req, key, json_string(value));
}

/* ---- rows as requests ----------------------------------------------- */

static bool is_trainium(const char *hw)
{
    return strncmp(hw, "trn", 3) == 0;
}

/* A shape cell into a model: a whole number as one, anything else as text
 * for the model's own check to refuse by name. */
static void shape_cell(json_t *model, const char *key, const char *value)
{
    if (!value)
        return;
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    bool whole = *end == '\0' && errno != ERANGE;
    json_object_set_new(model, key, whole ? json_integer(n) : json_string(value));
}

/* A row that gives the model's shape (any of layers, hidden, heads,
 * kv_heads, head_dim, ffn, vocab): the preset its model cell names with those cells
 * over its own, so a Llama row keeps its gated MLP and a Nemotron row its
 * squared ReLU (named after the row: the preset's published total no longer
 * applies); or, for a model cell of "gpt" or none (Megatron's GPT table),
 * an inline Megatron GPT, which needs layers and hidden. A model cell that
 * names neither gives no model here: the request names it, and `train`
 * refuses it as it refuses any unknown model. */
static json_t *model_from_row(const csv_row *h, const csv_row *r)
{
    static const char *const KEYS[] = {"layers", "hidden", "heads",
                                       "kv_heads", "head_dim", "ffn", "vocab"};
    const char *cells[sizeof KEYS / sizeof KEYS[0]];
    bool shaped = false;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        shaped |= (cells[i] = cell(h, r, KEYS[i])) != NULL;
    if (!shaped)
        return NULL;
    const char *name = cell(h, r, "model"), *id = cell(h, r, "id");
    char path[128];
    snprintf(path, sizeof path, "models/%s.json", name ? name : "");
    const usim_embedded_file *preset = name ? usim_embedded_find(path) : NULL;
    json_t *model = NULL;
    bool gpt = false;
    if (preset) {
        model = json_loads(preset->text, 0, NULL);
        json_object_del(model, "published_params");
        json_object_del(model, "published_params_precision");
        json_object_set_new(model, "name", json_string(id ? id : name));
    } else if (!name || strcmp(name, "gpt") == 0) {
        model = api_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:b, s:b, s:b}",
                         "kind", "model", "name", id ? id : "gpt", "family", "gpt", "heads", 1,
                         "vocab", 51200, "max_seq", 2048, "mlp", "gelu", "norm", "layer",
                         "position", "learned", "tied_embeddings", 1, "qkv_bias", 1, "out_bias",
                         1, "mlp_bias", 1);
        gpt = true;
    }
    if (!model)
        return NULL;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        shape_cell(model, KEYS[i], cells[i]);
    shape_cell(model, "max_seq", cell(h, r, "seq"));
    /* Megatron's FFN, 4 x hidden, unless the row gives one; a hidden out of
     * range is refused as itself */
    json_int_t hidden = json_integer_value(json_object_get(model, "hidden"));
    if (gpt && !json_object_get(model, "ffn") && hidden > 0 && hidden <= 1048576)
        json_object_set_new(model, "ffn", json_integer(4 * hidden));
    return model;
}

/* Which option each column fills: {option, column}. */
typedef struct column_option {
    const char *option, *column;
} column_option;

static void copy_cells(json_t *req, const csv_row *h, const csv_row *r, const column_option *map,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        set_if(req, map[i].option, cell(h, r, map[i].column));
}

#define COPY_CELLS(req, h, r, map) copy_cells(req, h, r, map, sizeof map / sizeof map[0])

/* A flag cell: 1 or true sets it, 0 or false clears it. */
static bool is_true(const char *cell)
{
    return cell && (strcmp(cell, "1") == 0 || strcmp(cell, "true") == 0);
}

static bool is_false(const char *cell)
{
    return cell && (strcmp(cell, "0") == 0 || strcmp(cell, "false") == 0);
}

/* A flag's cell into the request: 1 or true sets it, 0 or false leaves it
 * off, anything else goes through as text for the option's own check to
 * refuse (a flag expects true or false). */
static void flag_cell(json_t *req, const char *option, const char *cell)
{
    if (is_true(cell))
        json_object_set_new(req, option, json_true());
    else if (cell && !is_false(cell))
        json_object_set_new(req, option, json_string(cell));
}

static json_t *training_request(const csv_row *h, const csv_row *r)
{
    static const column_option PLAN[] = {
        {"hw", "hw"},         {"chips", "chips"},         {"tp", "tp"},
        {"pp", "pp"},         {"dp", "dp"},               {"cp", "cp"},
        {"ep", "ep"},         {"etp", "etp"},  {"vp", "vp"},               {"mbs", "mbs"},
        {"gbs", "gbs"},       {"seq", "seq"},             {"dtype", "dtype"},
        {"recompute", "recompute"}, {"zero", "zero"},     {"attention", "attention"},
        {"stack", "stack"},   {"compile", "compile"},     {"overlap-grad-reduce", "overlap_grad_reduce"},
        {"overlap-tp-comm", "overlap_tp_comm"}, {"fp8-recipe", "fp8_recipe"},
        {"schedule", "schedule"}, {"moe-dispatcher", "moe_dispatcher"},
        {"mtp-layers", "mtp_layers"}, {"cpu-offload-layers", "cpu_offload_layers"},
        {"microbatch-group-size-per-virtual-pipeline-stage", "vp_group"},
        {"recompute-layers", "recompute_layers"}, {"dp-shard", "dp_shard"},
        {"recompute-modules", "recompute_modules"}, {"overlap-ep-comm", "overlap_ep_comm"}};
    const char *hw = cell(h, r, "hw");
    json_t *req = api_pack("{s:s}", "command", "train");
    json_t *shaped = model_from_row(h, r);
    if (shaped)
        json_object_set_new(req, "model", shaped);
    else
        set_if(req, "model", cell(h, r, "model"));
    COPY_CELLS(req, h, r, PLAN);
    const char *sp = cell(h, r, "sp");
    if (is_true(sp))
        json_object_set_new(req, "sp", json_true());
    else if (is_false(sp))
        json_object_set_new(req, "no-sp", json_true());
    flag_cell(req, "account-for-embedding-in-pipeline-split",
              cell(h, r, "embedding_in_pipeline_split"));
    flag_cell(req, "account-for-loss-in-pipeline-split", cell(h, r, "loss_in_pipeline_split"));
    if (hw && is_trainium(hw)) /* Trainium rows count TP in NeuronCores */
        json_object_set_new(req, "tp-unit", json_string("core"));
    return req;
}

/* The requests a row runs when its requests cell is blank: a static batch
 * is the whole run; an offline or open load runs the 1,000 prompts of
 * vLLM's throughput and serving benchmarks (benchmark_throughput.py and
 * benchmark_serving.py, --num-prompts), enough for an engine to reach the
 * batch it holds; a closed loop 8, or 4 for each of more than 2 clients,
 * so that every client runs several. */
static void default_requests(const char *mode, const char *batch, const char *concurrency,
                             char *out, size_t size)
{
    bool open_load = mode && (strcmp(mode, "offline") == 0 || strcmp(mode, "poisson") == 0 ||
                              strcmp(mode, "constant") == 0 || strcmp(mode, "throughput") == 0);
    long clients = concurrency ? strtol(concurrency, NULL, 10) : 1;
    if (mode && strcmp(mode, "static") == 0 && batch)
        snprintf(out, size, "%s", batch);
    else if (open_load)
        snprintf(out, size, "1000");
    else
        snprintf(out, size, "%ld", clients > 2 ? 4 * clients : 8);
}

static json_t *inference_request(const csv_row *h, const csv_row *r)
{
    static const column_option RUN[] = {
        {"hw", "hw"},       {"chips", "chips"},   {"model", "model"},
        {"tp", "tp"},       {"pp", "pp"},         {"ep", "ep"},
        {"replicas", "replicas"}, {"attention-dp", "attention_dp"},
        {"weights", "weights"}, {"kv-dtype", "kv_dtype"}, {"isl", "isl"},
        {"osl", "osl"},     {"batch", "batch"},   {"mode", "mode"},
        {"concurrency", "concurrency"}, {"rate", "rate"}, {"spec-draft", "spec_draft"},
        {"spec-len", "spec_len"}, {"spec-accept", "spec_accept"},
        {"attention", "attention"}, {"engine", "engine"}, {"max-model-len", "max_model_len"},
        {"prefill-buckets", "prefill_buckets"}, {"scheduler", "scheduler"},
        {"token-budget", "token_budget"}, {"prefill-replicas", "prefill_replicas"},
        {"requests", "requests"}};
    const char *hw = cell(h, r, "hw"), *mode = cell(h, r, "mode");
    const char *batch = cell(h, r, "batch");
    json_t *req = api_pack("{s:s}", "command", "serve");
    COPY_CELLS(req, h, r, RUN);
    if (!json_object_get(req, "requests")) {
        char requests[32];
        default_requests(mode, batch, cell(h, r, "concurrency"), requests, sizeof requests);
        set_if(req, "requests", requests);
    }
    if (hw && is_trainium(hw))
        json_object_set_new(req, "tp-unit", json_string("core"));
    return req;
}

/* A collectives row (nccl-tests or nccom-test) as a `collective` request:
 * the preset and chip count the row maps to, the op in our spelling
 * (all_reduce -> allreduce), and a group when only some of the chips ran. */
static void op_ours(const char *op, char *ours, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; op && op[i] && j + 1 < size; i++)
        if (op[i] != '_')
            ours[j++] = op[i];
    ours[j] = '\0';
}

static json_t *collective_request(const csv_row *h, const csv_row *r)
{
    char ours[32];
    op_ours(cell(h, r, "op"), ours, sizeof ours);
    static const column_option RUN[] = {
        {"hw", "preset"},   {"chips", "chips"},           {"network", "network_preset"},
        {"size", "size_bytes"}, {"group", "group"},       {"concurrent", "concurrent"},
        {"algo", "algo"},   {"launch", "launch"}};
    json_t *req = api_pack("{s:s}", "command", "collective");
    COPY_CELLS(req, h, r, RUN);
    set_if(req, "op", ours);
    const char *unit = cell(h, r, "rank_unit");
    if (unit && strcmp(unit, "core") == 0) {
        set_if(req, "rank-unit", unit);
        set_if(req, "group", cell(h, r, "ranks"));
    }
    return req;
}

/* A GEMM row runs `gemm M K N` on its chip in its data type. */
static json_t *gemm_request(const csv_row *h, const csv_row *r)
{
    static const column_option RUN[] = {{"m", "m"},         {"k", "k"},         {"n", "n"},
                                        {"hw", "hw"},       {"dtype", "dtype"}, {"batch", "batch"}};
    json_t *req = api_pack("{s:s}", "command", "gemm");
    COPY_CELLS(req, h, r, RUN);
    return req;
}

/* An attention row runs `attention` on its chip: one layer's core, forward
 * or backward, in its shape. */
static json_t *attention_request(const csv_row *h, const csv_row *r)
{
    static const column_option RUN[] = {
        {"hw", "hw"},         {"batch", "batch"},       {"heads", "heads"},
        {"kv-heads", "kv_heads"}, {"seq", "seq"},       {"kv-len", "kv_len"},
        {"head-dim", "head_dim"}, {"pass", "pass"},     {"dtype", "dtype"},
        {"attention", "attention"}, {"window", "window"}};
    json_t *req = api_pack("{s:s}", "command", "attention");
    COPY_CELLS(req, h, r, RUN);
    const char *causal = cell(h, r, "causal");
    if (causal && strcmp(causal, "yes") == 0)
        json_object_set_new(req, "causal", json_true());
    return req;
}

/* GEMM and attention rows time one kernel, as kernel benchmarks do. */
static bool kernel_set(const char *set)
{
    return strcmp(set, "gemm") == 0 || strcmp(set, "attention") == 0;
}

/* A GEMM or attention row's metric from a `gemm` or `attention` result, as
 * kernel benchmarks time a kernel: queued back to back, so the host's launch
 * is hidden (the result's launch_s left out). */
static double predicted_kernel(const char *metric, json_t *res)
{
    double kernel_s = api_number(res, "seconds") - api_number(res, "launch_s");
    if (strcmp(metric, "time_us") == 0)
        return kernel_s * 1e6;
    if (strcmp(metric, "tflops") == 0)
        return api_number(res, "flops") / kernel_s / 1e12;
    return NAN;
}

/* A collectives row's metric from a `collective` result. nccom-test prints
 * bandwidths in GiB/s (bw_unit 'GiB/s'); nccl-tests in 10^9 B/s. Ranks
 * counted in NeuronCores (rank_unit 'core') run as `collective --rank-unit
 * core --group RANKS`, so the bus factor is the row's own rank count, as
 * nccom-test computes it. */
static double predicted_collective(const char *metric, json_t *res, const csv_row *h,
                                   const csv_row *r)
{
    const char *unit = cell(h, r, "bw_unit");
    double gb = unit && strcmp(unit, "GiB/s") == 0 ? 1073741824.0 : 1e9;
    if (strcmp(metric, "time_us") == 0)
        return api_number(res, "time_s") * 1e6;
    if (strcmp(metric, "algbw_GBps") == 0)
        return api_number(res, "algbw_bytes_per_s") / gb;
    if (strcmp(metric, "busbw_GBps") != 0)
        return NAN;
    return api_number(res, "busbw_bytes_per_s") / gb;
}

/* A latency as benchmark tables write it ("tpot_median_ms", "itl_p99_ms",
 * "ttft_median_s"): the result's key in seconds with the median as p50
 * ("tpot_p50_s"), times 1000 for milliseconds; NaN when there is no such
 * key. */
static double named_latency(const char *metric, json_t *res)
{
    size_t n = strlen(metric);
    bool ms = n > 3 && strcmp(metric + n - 3, "_ms") == 0;
    size_t unit = ms ? 3 : n > 2 && strcmp(metric + n - 2, "_s") == 0 ? 2 : 0;
    char key[96];
    if (!unit || n > 80)
        return NAN;
    const char *median = strstr(metric, "_median_");
    if (median) /* "X_median_Y_ms" -> "X_p50_Y_s" */
        snprintf(key, sizeof key, "%.*s_p50%.*s_s", (int)(median - metric), metric,
                 (int)(metric + n - unit - (median + 7)), median + 7);
    else
        snprintf(key, sizeof key, "%.*s_s", (int)(n - unit), metric);
    return api_number(res, key) * (ms ? 1e3 : 1);
}

/* The row's metric from a result. */
static double predicted(const char *metric, json_t *res, json_t *req, const csv_row *h,
                        const csv_row *r)
{
    const char *command = json_string_value(json_object_get(req, "command"));
    if (strcmp(command, "collective") == 0)
        return predicted_collective(metric, res, h, r);
    if (kernel_set(command))
        return predicted_kernel(metric, res);
    double v = api_number(res, metric);
    if (isfinite(v))
        return v;
    if (strcmp(metric, "tflops_per_chip_megatron") == 0) {
        wl_model m;
        usim_error e;
        if (api_load_model(&api_cmd_train.info, req, &m, &e) != USIM_OK)
            return NAN;
        double flops = wl_megatron_flops(&m, atoll(cell(h, r, "gbs")), atoll(cell(h, r, "seq")));
        return flops / api_number(res, "step_time_s") / api_number(res, "chips") / 1e12;
    }
    if (strcmp(metric, "seq_per_s") == 0)
        return atof(cell(h, r, "gbs")) / api_number(res, "step_time_s");
    if (strcmp(metric, "ttft_s") == 0)
        return api_number(res, "ttft_p50_s");
    /* LLMPerf's per-request output throughput: a request's output tokens over
     * its end-to-end latency (equal requests one at a time: the median's). */
    if (strcmp(metric, "request_output_tokens_per_s") == 0)
        return atof(cell(h, r, "osl")) / api_number(res, "e2e_p50_s");
    /* vLLM's and trtllm-bench's total token throughput: prompt and output
     * tokens of the requests finished each second. */
    if (strcmp(metric, "total_tokens_per_s") == 0)
        return api_number(res, "requests_per_s") * (atof(cell(h, r, "isl")) + atof(cell(h, r, "osl")));
    return named_latency(metric, res); /* NaN when it is not one either */
}

/* Where a row sits, for messages: "FILE:LINE (row ID)". */
typedef struct row_place {
    const char *file;
    int line;
    const char *id;
} row_place;

static usim_status row_fail(const row_place *at, usim_status status, const char *why,
                            usim_error *err)
{
    return usim_fail(err, status, "%s:%d (row '%s'): %s", at->file, at->line,
                     at->id ? at->id : "?", why);
}

/* The published figure: a positive number, or the file is wrong. */
static usim_status measured_value(const row_place *at, const char *value, double *out,
                                  usim_error *err)
{
    char *end = NULL;
    *out = strtod(value, &end);
    if (end == value || *end || !isfinite(*out) || *out <= 0) {
        char why[160];
        snprintf(why, sizeof why, "value: '%.60s' is not a measurement (a number above 0)",
                 value);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    return USIM_OK;
}

/* Metrics computed from a result rather than read from it (see predicted);
 * a collectives or GEMM row has only these. */
static bool derived_metric(const char *set, const char *metric)
{
    if (strcmp(set, "collectives") == 0)
        return strcmp(metric, "time_us") == 0 || strcmp(metric, "busbw_GBps") == 0 ||
               strcmp(metric, "algbw_GBps") == 0;
    if (kernel_set(set))
        return strcmp(metric, "time_us") == 0 || strcmp(metric, "tflops") == 0;
    return strcmp(metric, "tflops_per_chip_megatron") == 0 || strcmp(metric, "seq_per_s") == 0 ||
           strcmp(metric, "ttft_s") == 0 || strcmp(metric, "request_output_tokens_per_s") == 0 ||
           strcmp(metric, "total_tokens_per_s") == 0;
}

/* The cells only a collectives row has, checked before it runs: a unit
 * the harness does not know would silently change the comparison. */
static usim_status collective_cells(const row_place *at, const csv_row *h, const csv_row *r,
                                    usim_error *err)
{
    const char *bw = cell(h, r, "bw_unit"), *unit = cell(h, r, "rank_unit");
    const char *ranks = cell(h, r, "ranks"), *op = cell(h, r, "op");
    const char *launch = cell(h, r, "launch");
    char why[300], *end = NULL, ours[32];
    net_launch how;
    net_op parsed;
    op_ours(op, ours, sizeof ours);
    if (!op || !net_op_parse(ours, &parsed)) {
        snprintf(why, sizeof why,
                 "op: '%.40s' is not one of: all_reduce, reduce_scatter, all_gather, alltoall, "
                 "broadcast, reduce, sendrecv (nccl-tests names; the underscores may be left "
                 "out)",
                 op ? op : "");
        return row_fail(at, USIM_EINPUT, why, err);
    }
    if (bw && strcmp(bw, "GB/s") != 0 && strcmp(bw, "GiB/s") != 0) {
        snprintf(why, sizeof why,
                 "bw_unit: '%.40s' is not one of: GB/s (10^9 B/s, the default), GiB/s", bw);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    if (unit && strcmp(unit, "core") != 0) {
        snprintf(why, sizeof why,
                 "rank_unit: '%.40s' is not one of: core (blank: ranks are chips)", unit);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    if (launch && !net_launch_parse(launch, &how)) {
        snprintf(why, sizeof why,
                 "launch: '%.40s' is not one of: async (blank, nccl-tests' back-to-back "
                 "launches), blocking (the caller waits for each call)",
                 launch);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    long n = ranks ? strtol(ranks, &end, 10) : 0;
    if (unit && (!ranks || *end || n < 2 || n > 4194304)) {
        snprintf(why, sizeof why,
                 "ranks: '%.40s' is not a rank count from 2 to 4194304 (rank_unit core needs "
                 "one)",
                 ranks ? ranks : "");
        return row_fail(at, USIM_EINPUT, why, err);
    }
    return USIM_OK;
}

/* The cells a GEMM or attention row cannot run without: its chip (unless
 * the run names the hardware) and its sizes (gemm and attention check their
 * values); an attention row says whether it is causal, yes or no. */
static usim_status kernel_cells(const char *set, const row_place *at, const csv_row *h,
                                const csv_row *r, bool hw_given, usim_error *err)
{
    static const char *const GEMM[] = {"hw", "m", "k", "n", NULL};
    static const char *const ATTENTION[] = {"hw", "seq", "causal", NULL};
    bool gemm = strcmp(set, "gemm") == 0;
    const char *const *needed = gemm ? GEMM : ATTENTION;
    char why[160];
    for (int i = hw_given ? 1 : 0; needed[i]; i++) {
        if (cell(h, r, needed[i]))
            continue;
        snprintf(why, sizeof why, "%s: required for a%s row (%s)", needed[i],
                 gemm ? " GEMM" : "n attention",
                 i == 0                               ? "a chip or system preset or file"
                 : strcmp(needed[i], "causal") == 0 ? "yes or no"
                                                    : "a whole number of 1 or more");
        return row_fail(at, USIM_EINPUT, why, err);
    }
    const char *causal = cell(h, r, "causal");
    if (!gemm && strcmp(causal, "yes") != 0 && strcmp(causal, "no") != 0) {
        snprintf(why, sizeof why, "causal: '%.40s' is not one of: yes, no", causal);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    return USIM_OK;
}

/* Runs one row and predicts its metric. A row that does not run, or whose
 * metric the simulator cannot give, fails the whole validation: a silent
 * failed row would hide a broken prediction inside a healthy-looking MAPE. */
static usim_status predict_row(const char *set, const row_place *at, const csv_row *h,
                               const csv_row *r, json_t *with, double *pred, usim_error *err)
{
    const char *metric = cell(h, r, "metric");
    json_t *hw = with ? json_object_get(with, "hw") : NULL;
    usim_status cells = strcmp(set, "collectives") == 0 ? collective_cells(at, h, r, err)
                        : kernel_set(set) ? kernel_cells(set, at, h, r, hw != NULL, err)
                                          : USIM_OK;
    if (cells != USIM_OK)
        return cells;
    json_t *req = strcmp(set, "training") == 0      ? training_request(h, r)
                  : strcmp(set, "collectives") == 0 ? collective_request(h, r)
                  : strcmp(set, "gemm") == 0        ? gemm_request(h, r)
                  : strcmp(set, "attention") == 0   ? attention_request(h, r)
                                                    : inference_request(h, r);
    json_t *stack = with ? json_object_get(with, "stack") : NULL;
    if (hw) /* the same run on another description of the hardware */
        json_object_set_new(req, "hw", json_deep_copy(hw));
    if (stack && strcmp(set, "training") == 0 && !json_object_get(req, "stack"))
        json_object_set(req, "stack", stack);
    json_t *res = NULL;
    usim_error e;
    usim_error_clear(&e);
    char why[700];
    usim_status st = api_run(req, &res, &e);
    if (st != USIM_OK) { /* a cell the simulator refuses: the file is wrong */
        usim_error_format(&e, why, sizeof why);
        json_decref(req);
        return row_fail(at, st, why, err);
    }
    *pred = predicted(metric, res, req, h, r);
    bool runs_workload = strcmp(set, "training") == 0 || strcmp(set, "inference") == 0;
    bool known = derived_metric(set, metric) ||
                 (runs_workload &&
                  (json_object_get(res, metric) || isfinite(named_latency(metric, res))));
    json_decref(req);
    json_decref(res);
    if (isfinite(*pred))
        return USIM_OK;
    if (!known && strcmp(set, "collectives") == 0) {
        snprintf(why, sizeof why,
                 "metric: '%.60s' is not a collectives figure (time_us, busbw_GBps or "
                 "algbw_GBps)",
                 metric);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    if (!known && kernel_set(set)) {
        snprintf(why, sizeof why, "metric: '%.60s' is not a%s figure (tflops or time_us)",
                 metric, strcmp(set, "gemm") == 0 ? " GEMM" : "n attention");
        return row_fail(at, USIM_EINPUT, why, err);
    }
    if (!known) {
        const char *command = strcmp(set, "training") == 0 ? "train" : "serve";
        snprintf(why, sizeof why,
                 "metric: '%.60s' is not a figure of '%s' (a key of 'ultrasim %s --json', or "
                 "tflops_per_chip_megatron, seq_per_s, ttft_s, request_output_tokens_per_s, "
                 "total_tokens_per_s, or a latency with the median named: tpot_median_ms, "
                 "ttft_median_s, itl_p99_ms, ...)",
                 metric, command, command);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    snprintf(why, sizeof why, "the simulator gives no %.60s for this configuration", metric);
    return row_fail(at, USIM_EINPUT, why, err);
}

/* Which set a file's rows belong to, from its columns: training rows give a
 * global batch, serving rows an input length, collectives rows a message
 * size, GEMM rows a contraction length, attention rows a head dimension. */
static usim_status infer_set(const char *file, const char *text, int *set, usim_error *err)
{
    text += strncmp(text, UTF8_BOM, 3) == 0 ? 3 : 0;
    size_t n = strcspn(text, "\r\n");
    char *line = strndup(text, n);
    if (!line)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    csv_row header;
    split_line(line, &header);
    bool training = false, inference = false, collectives = false, gemm = false;
    bool attention = false;
    for (int i = 0; i < header.n; i++) {
        training |= strcmp(header.cells[i], "gbs") == 0;
        inference |= strcmp(header.cells[i], "isl") == 0 || strcmp(header.cells[i], "osl") == 0;
        collectives |= strcmp(header.cells[i], "size_bytes") == 0;
        gemm |= strcmp(header.cells[i], "k") == 0;
        attention |= strcmp(header.cells[i], "head_dim") == 0;
    }
    free(line);
    attention &= !training; /* a training row's model may give its head_dim */
    if (!n)
        return usim_fail(err, USIM_EINPUT,
                         "%s: no measurements (a header line, then one row each)", file);
    if (training + inference + collectives + gemm + attention != 1)
        return usim_fail(err, USIM_EINPUT,
                         "%s: cannot tell training rows from serving rows (a 'gbs' column "
                         "means training, 'isl' or 'osl' serving, 'size_bytes' collectives, "
                         "'k' GEMMs, 'head_dim' without 'gbs' attention); give --set training, "
                         "--set inference, --set collectives, --set gemm or --set attention",
                         file);
    *set = training      ? MEAS_TRAINING
           : inference   ? MEAS_INFERENCE
           : collectives ? MEAS_COLLECTIVES
           : gemm        ? MEAS_GEMM
                         : MEAS_ATTENTION;
    return USIM_OK;
}

/* ---- the table ------------------------------------------------------ */

/* Every column a row of some set may have: what the requests read, and the
 * documentation columns (where the figure comes from, the model's shape as
 * published, notes). Anything else is a typo that would silently change a
 * comparison. */
static const char *const COLUMNS[] = {
    "id", "source", "hw", "chips", "model", "metric", "value", "note",
    /* training */
    "layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq", "params_b", "tp", "pp", "dp",
    "cp", "ep", "etp", "vp", "mbs", "gbs", "dtype", "recompute", "sp", "zero", "attention",
    "overlap_grad_reduce", "overlap_tp_comm", "stack", "compile", "fp8_recipe", "schedule", "moe_dispatcher", "mtp_layers",
    "cpu_offload_layers", "recompute_layers", "vp_group", "dp_shard", "embedding_in_pipeline_split", "loss_in_pipeline_split",
    "recompute_modules", "overlap_ep_comm",
    /* inference */
    "weights", "batch", "isl", "osl", "mode", "concurrency", "spec_draft", "spec_len", "spec_accept",
    "engine", "max_model_len", "prefill_buckets", "requests", "replicas", "attention_dp",
    "kv_dtype", "rate", "scheduler", "token_budget", "prefill_replicas",
    /* collectives */
    "nodes", "chips_per_node", "network", "op", "size_bytes", "preset", "network_preset", "group",
    "concurrent", "ranks", "rank_unit", "bw_unit", "algo", "launch",
    /* gemm (dtype and batch as above) */
    "m", "k", "n",
    /* attention (batch, heads, kv_heads, seq, dtype and attention as above) */
    "kv_len", "head_dim", "causal", "pass", "window"};

#define NCOLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])

struct meas_table {
    char file[300];
    int set;
    char *text;    /* the file's copy, split in place */
    csv_row header;
    csv_row *rows;
    int *lines;
    double *values;
    int n;
};

static usim_status check_columns(const meas_table *t, usim_error *err)
{
    for (int i = 0; i < t->header.n; i++) {
        const char *c = t->header.cells[i];
        for (int j = 0; j < i; j++)
            if (strcmp(c, t->header.cells[j]) == 0)
                return usim_fail(err, USIM_EINPUT,
                                 "%s:1: column '%.60s' appears twice (columns %d and %d); a "
                                 "row would give it two values",
                                 t->file, c, j + 1, i + 1);
        bool known = false;
        for (size_t k = 0; k < NCOLUMNS && !known; k++)
            known = strcmp(c, COLUMNS[k]) == 0;
        if (known)
            continue;
        const char *near = usim_closest(c, COLUMNS, NCOLUMNS);
        return usim_fail(err, USIM_EINPUT,
                         "%s:1: column '%.60s' is not one ultrasim reads%s%s%s (the columns "
                         "are those of validation/*.csv: docs/accuracy.md)",
                         t->file, c, near ? "; did you mean '" : "", near ? near : "",
                         near ? "'?" : "");
    }
    return USIM_OK;
}

static usim_status add_row(meas_table *t, char *line, int lineno, usim_error *err)
{
    csv_row *rows = realloc(t->rows, sizeof *rows * (size_t)(t->n + 1));
    int *lines = rows ? realloc(t->lines, sizeof *lines * (size_t)(t->n + 1)) : NULL;
    double *values = lines ? realloc(t->values, sizeof *values * (size_t)(t->n + 1)) : NULL;
    if (rows)
        t->rows = rows;
    if (lines)
        t->lines = lines;
    if (!values)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    t->values = values;
    bool whole = split_line(line, &t->rows[t->n]);
    t->lines[t->n] = lineno;
    const csv_row *r = &t->rows[t->n];
    row_place at = {t->file, lineno, cell(&t->header, r, "id")};
    if (!whole || r->n > t->header.n) {
        char why[160];
        snprintf(why, sizeof why, "%s%d cells where the header names %d: a comma too many shifts "
                 "every cell after it", whole ? "" : "more than ", r->n, t->header.n);
        return row_fail(&at, USIM_EINPUT, why, err);
    }
    const char *metric = cell(&t->header, r, "metric"), *value = cell(&t->header, r, "value");
    if (!metric || !value)
        return row_fail(&at, USIM_EINPUT, "a row needs 'metric' and 'value'", err);
    usim_status st = measured_value(&at, value, &t->values[t->n], err);
    if (st == USIM_OK)
        t->n++;
    return st;
}

usim_status meas_read(const char *file, const char *text, int set, meas_table **out,
                      usim_error *err)
{
    *out = NULL;
    meas_table *t = calloc(1, sizeof *t);
    if (!t || !(t->text = strdup(text))) {
        free(t);
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    snprintf(t->file, sizeof t->file, "%s", file);
    usim_status st = set >= 0 ? USIM_OK : infer_set(file, text, &set, err);
    t->set = set;
    char *next;
    bool first = true;
    int lineno = 0, breaks = 0;
    char *start = t->text + (strncmp(t->text, UTF8_BOM, 3) == 0 ? 3 : 0);
    for (char *line = start; st == USIM_OK && line && *line; line = next) {
        bool open = false;
        next = record_end(line, &breaks, &open);
        if (next)
            *next++ = '\0';
        int at = ++lineno;
        lineno += breaks; /* the record's quoted line breaks */
        if (open) {
            st = usim_fail(err, USIM_EINPUT,
                           "%s:%d: a quoted cell is never closed (a lone \" ends it; \"\" is a "
                           "quote within)",
                           file, at);
            break;
        }
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (!*line)
            continue;
        if (first) {
            first = false;
            st = split_line(line, &t->header)
                     ? check_columns(t, err)
                     : usim_fail(err, USIM_EINPUT, "%s:1: more than 64 columns", file);
            continue;
        }
        st = add_row(t, line, at, err);
    }
    if (st == USIM_OK && t->n == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: no measurements (a header line, then one row each)",
                       file);
    if (st != USIM_OK) {
        meas_free(t);
        return st;
    }
    *out = t;
    return USIM_OK;
}

void meas_free(meas_table *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->rows);
    free(t->lines);
    free(t->values);
    free(t);
}

int meas_count(const meas_table *t)
{
    return t->n;
}

int meas_set(const meas_table *t)
{
    return t->set;
}

const char *meas_file(const meas_table *t)
{
    return t->file;
}

const char *meas_cell(const meas_table *t, int i, const char *column)
{
    return cell(&t->header, &t->rows[i], column);
}

double meas_value(const meas_table *t, int i)
{
    return t->values[i];
}

int meas_line(const meas_table *t, int i)
{
    return t->lines[i];
}

usim_status meas_predict(const meas_table *t, int i, json_t *with, double *pred,
                         usim_error *err)
{
    row_place at = {t->file, t->lines[i], meas_cell(t, i, "id")};
    return predict_row(meas_set_names[t->set], &at, &t->header, &t->rows[i], with, pred, err);
}

/* A system preset or file with its chip and network inline, as JSON: what a
 * row runs on instead of its own hardware. */
usim_status meas_resolve_system(const char *hw, json_t **doc, usim_error *err)
{
    char *text = NULL;
    usim_status st = hw_resolve_text(hw, &text, err);
    if (st == USIM_OK) {
        *doc = json_loads(text, 0, NULL);
        const char *kind = *doc ? json_string_value(json_object_get(*doc, "kind")) : NULL;
        if (!kind || strcmp(kind, "system") != 0) {
            json_decref(*doc);
            *doc = NULL;
            st = usim_fail_field(err, USIM_EINPUT, "hw",
                                 "'%s' is not a system description (a chip alone has no "
                                 "links; name a system preset or file that holds it: "
                                 "'ultrasim hw list')",
                                 hw);
        }
    }
    free(text);
    return st;
}

/* ---- what a row is, for cross-validation ------------------------------ */

void meas_source_key(const meas_table *t, int i, char *buf, size_t size)
{
    const char *s = meas_cell(t, i, "source");
    if (!s)
        s = t->file;
    size_t n = strcspn(s, ",(@");
    while (n > 0 && s[n - 1] == ' ')
        n--;
    snprintf(buf, size, "%.*s", (int)n, s);
}

int meas_orientation(const meas_table *t, int i)
{
    const char *m = meas_cell(t, i, "metric");
    if (strstr(m, "per_s") || strstr(m, "tflops") || strstr(m, "bw_"))
        return 1;
    return -1; /* times: time_us, ttft_s, tpot_p50_s, ... */
}

usim_status meas_family(const meas_table *t, int i, char *buf, size_t size, usim_error *err)
{
    const char *name = meas_cell(t, i, t->set == MEAS_COLLECTIVES ? "preset" : "hw");
    hw_system *sys = malloc(sizeof *sys);
    if (!sys)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = name ? hw_load_system(name, 0, NULL, sys, err)
                          : usim_fail(err, USIM_EINPUT, "%s:%d: no hardware", t->file,
                                      t->lines[i]);
    if (st == USIM_OK)
        snprintf(buf, size, "%.*s", (int)strcspn(sys->chip.name, "-"), sys->chip.name);
    free(sys);
    return st;
}
