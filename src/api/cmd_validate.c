/*
 * `ultrasim validate`: every published measurement in validation/ (CSV),
 * predicted and compared. A row holds the configuration of a run and the
 * figure measured; blank cells take the simulator's documented defaults, the
 * same for every row. Each row becomes a request to the same front door a
 * user calls (train or serve), so validation measures exactly what users get.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/net.h"
#include "ultrasim/workload.h"

extern const api_command api_cmd_validate;

static const char *const SETS[] = {"training", "inference", "collectives", "all", NULL};
enum { SET_TRAINING, SET_INFERENCE, SET_COLLECTIVES, SET_ALL };

static const usim_option VALIDATE_OPTIONS[] = {
    {"set", USIM_OPT_CHOICE, USIM_UNIT_NONE, "SET", "which measurements", "all", SETS, 0, 0,
     false},
    {"file", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.csv",
     "another CSV of the same columns instead of the built-in set", NULL, NULL, 0, 0, false},
};

/* ---- CSV ------------------------------------------------------------- */

typedef struct csv_row {
    char *cells[64];
    int n;
} csv_row;

/* Splits one line in place (quotes honoured, "" is a quote). */
static void split_line(char *line, csv_row *row)
{
    row->n = 0;
    char *p = line;
    while (row->n < 64) {
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
            break;
        p++;
    }
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

/* A row that gives the model's shape instead of a preset name (Megatron's
 * GPT table): an inline Megatron GPT. */
static json_t *gpt_from_row(const csv_row *h, const csv_row *r)
{
    const char *layers = cell(h, r, "layers"), *hidden = cell(h, r, "hidden");
    if (!layers || !hidden)
        return NULL;
    const char *heads = cell(h, r, "heads"), *ffn = cell(h, r, "ffn"), *vocab = cell(h, r, "vocab");
    const char *seq = cell(h, r, "seq");
    return api_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:b, s:b}",
                     "kind", "model", "name", cell(h, r, "id"), "family", "gpt", "layers",
                     atoi(layers), "hidden", atoi(hidden), "heads", heads ? atoi(heads) : 1, "ffn",
                     ffn ? atoi(ffn) : 4 * atoi(hidden), "vocab", vocab ? atoi(vocab) : 51200,
                     "max_seq", seq ? atoi(seq) : 2048, "mlp", "gelu", "norm", "layer",
                     "position", "learned", "tied_embeddings", 1, "qkv_bias", 1, "linear_bias",
                     1);
}

static json_t *training_request(const csv_row *h, const csv_row *r)
{
    static const char *const PLAN[] = {"tp",  "pp",        "dp",   "cp",        "ep",
                                       "vp",  "mbs",       "gbs",  "seq",       "dtype",
                                       "recompute", "zero", "attention", "stack", "compile"};
    const char *hw = cell(h, r, "hw");
    json_t *req = api_pack("{s:s}", "command", "train");
    json_t *gpt = gpt_from_row(h, r);
    set_if(req, "hw", hw);
    set_if(req, "chips", cell(h, r, "chips"));
    if (gpt)
        json_object_set_new(req, "model", gpt);
    else
        set_if(req, "model", cell(h, r, "model"));
    for (size_t i = 0; i < sizeof PLAN / sizeof PLAN[0]; i++)
        set_if(req, PLAN[i], cell(h, r, PLAN[i]));
    set_if(req, "overlap-grad-reduce", cell(h, r, "overlap_grad_reduce"));
    const char *sp = cell(h, r, "sp");
    if (sp && (strcmp(sp, "1") == 0 || strcmp(sp, "true") == 0))
        json_object_set_new(req, "sp", json_true());
    else if (sp && (strcmp(sp, "0") == 0 || strcmp(sp, "false") == 0))
        json_object_set_new(req, "no-sp", json_true());
    if (hw && is_trainium(hw)) /* Trainium rows count TP in NeuronCores */
        json_object_set_new(req, "tp-unit", json_string("core"));
    return req;
}

static json_t *inference_request(const csv_row *h, const csv_row *r)
{
    const char *hw = cell(h, r, "hw"), *mode = cell(h, r, "mode");
    const char *batch = cell(h, r, "batch");
    json_t *req = api_pack("{s:s}", "command", "serve");
    set_if(req, "hw", hw);
    set_if(req, "chips", cell(h, r, "chips"));
    set_if(req, "model", cell(h, r, "model"));
    set_if(req, "tp", cell(h, r, "tp"));
    set_if(req, "weights", cell(h, r, "weights"));
    set_if(req, "isl", cell(h, r, "isl"));
    set_if(req, "osl", cell(h, r, "osl"));
    set_if(req, "batch", batch);
    set_if(req, "mode", mode);
    set_if(req, "concurrency", cell(h, r, "concurrency"));
    set_if(req, "spec-draft", cell(h, r, "spec_draft"));
    set_if(req, "spec-len", cell(h, r, "spec_len"));
    set_if(req, "attention", cell(h, r, "attention"));
    /* A static batch is the whole run; a closed loop runs a few requests. */
    set_if(req, "requests", mode && strcmp(mode, "static") == 0 && batch ? batch : "8");
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
    json_t *req = api_pack("{s:s}", "command", "collective");
    set_if(req, "hw", cell(h, r, "preset"));
    set_if(req, "chips", cell(h, r, "chips"));
    set_if(req, "network", cell(h, r, "network_preset"));
    set_if(req, "op", ours);
    set_if(req, "size", cell(h, r, "size_bytes"));
    set_if(req, "group", cell(h, r, "group"));
    set_if(req, "concurrent", cell(h, r, "concurrent"));
    set_if(req, "algo", cell(h, r, "algo"));
    set_if(req, "launch", cell(h, r, "launch"));
    const char *unit = cell(h, r, "rank_unit");
    if (unit && strcmp(unit, "core") == 0) {
        set_if(req, "rank-unit", unit);
        set_if(req, "group", cell(h, r, "ranks"));
    }
    return req;
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

/* The row's metric from a result. */
static double predicted(const char *metric, json_t *res, json_t *req, const csv_row *h,
                        const csv_row *r)
{
    if (strcmp(json_string_value(json_object_get(req, "command")), "collective") == 0)
        return predicted_collective(metric, res, h, r);
    double v = api_number(res, metric);
    if (isfinite(v))
        return v;
    if (strcmp(metric, "tflops_per_chip_megatron") == 0) {
        wl_model m;
        usim_error e;
        if (api_load_model(&api_cmd_validate.info, req, &m, &e) != USIM_OK)
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
    return NAN;
}

typedef struct tally {
    double sum_abs_pct;
    double worst_pct;
    int rows;
} tally;

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
 * a collectives row has only these. */
static bool derived_metric(const char *set, const char *metric)
{
    if (strcmp(set, "collectives") == 0)
        return strcmp(metric, "time_us") == 0 || strcmp(metric, "busbw_GBps") == 0 ||
               strcmp(metric, "algbw_GBps") == 0;
    return strcmp(metric, "tflops_per_chip_megatron") == 0 || strcmp(metric, "seq_per_s") == 0 ||
           strcmp(metric, "ttft_s") == 0 || strcmp(metric, "request_output_tokens_per_s") == 0;
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

/* Runs one row and predicts its metric. A row that does not run, or whose
 * metric the simulator cannot give, fails the whole validation: a silent
 * failed row would hide a broken prediction inside a healthy-looking MAPE. */
static usim_status predict_row(const char *set, const row_place *at, const csv_row *h,
                               const csv_row *r, double *pred, usim_error *err)
{
    const char *metric = cell(h, r, "metric");
    if (strcmp(set, "collectives") == 0) {
        usim_status cst = collective_cells(at, h, r, err);
        if (cst != USIM_OK)
            return cst;
    }
    json_t *req = strcmp(set, "training") == 0      ? training_request(h, r)
                  : strcmp(set, "collectives") == 0 ? collective_request(h, r)
                                                    : inference_request(h, r);
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
    bool known = derived_metric(set, metric) ||
                 (strcmp(set, "collectives") != 0 && json_object_get(res, metric));
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
    if (!known) {
        const char *command = strcmp(set, "training") == 0 ? "train" : "serve";
        snprintf(why, sizeof why,
                 "metric: '%.60s' is not a figure of '%s' (a key of 'ultrasim %s --json', or "
                 "tflops_per_chip_megatron, seq_per_s, ttft_s, request_output_tokens_per_s)",
                 metric, command, command);
        return row_fail(at, USIM_EINPUT, why, err);
    }
    snprintf(why, sizeof why, "the simulator gives no %.60s for this configuration", metric);
    return row_fail(at, USIM_EINPUT, why, err);
}

static usim_status run_row(const char *set, const row_place *at, const csv_row *h,
                           const csv_row *r, json_t *rows, tally *t, usim_error *err)
{
    const char *metric = cell(h, r, "metric"), *value = cell(h, r, "value");
    if (!metric || !value)
        return row_fail(at, USIM_EINPUT, "a row needs 'metric' and 'value'", err);
    double measured = NAN, pred = NAN;
    usim_status st = measured_value(at, value, &measured, err);
    if (st == USIM_OK)
        st = predict_row(set, at, h, r, &pred, err);
    if (st != USIM_OK)
        return st;
    double pct = 100.0 * (pred - measured) / measured;
    json_array_append_new(rows, api_pack("{s:s, s:s?, s:s, s:f, s:f, s:f}", "set", set, "id",
                                          at->id, "metric", metric, "measured", measured,
                                          "predicted", pred, "error_pct", pct));
    t->sum_abs_pct += fabs(pct);
    t->worst_pct = fmax(t->worst_pct, fabs(pct));
    t->rows++;
    return USIM_OK;
}

static usim_status run_set(const char *set, const char *text, const char *file, json_t *rows,
                           tally *t, usim_error *err)
{
    char *copy = strdup(text);
    csv_row header, row;
    char *next;
    bool first = true;
    if (!copy)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = USIM_OK;
    int lineno = 0;
    for (char *line = copy; st == USIM_OK && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        line[strcspn(line, "\r")] = '\0';
        if (!*line)
            continue;
        if (first) {
            split_line(line, &header);
            first = false;
            continue;
        }
        split_line(line, &row);
        row_place at = {file, lineno, cell(&header, &row, "id")};
        st = run_row(set, &at, &header, &row, rows, t, err);
    }
    free(copy);
    if (st == USIM_OK && t->rows == 0)
        return usim_fail(err, USIM_EINPUT, "%s: no measurements (a header line, then one row each)",
                         file);
    return st;
}

/* Which set a file's rows belong to, from its columns: training rows give a
 * global batch, serving rows an input length, collectives rows a message
 * size. */
static usim_status infer_set(const char *file, const char *text, int *set, usim_error *err)
{
    size_t n = strcspn(text, "\r\n");
    char *line = strndup(text, n);
    if (!line)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    csv_row header;
    split_line(line, &header);
    bool training = false, inference = false, collectives = false;
    for (int i = 0; i < header.n; i++) {
        training |= strcmp(header.cells[i], "gbs") == 0;
        inference |= strcmp(header.cells[i], "isl") == 0 || strcmp(header.cells[i], "osl") == 0;
        collectives |= strcmp(header.cells[i], "size_bytes") == 0;
    }
    free(line);
    if (!n)
        return usim_fail(err, USIM_EINPUT,
                         "%s: no measurements (a header line, then one row each)", file);
    if (training + inference + collectives != 1)
        return usim_fail(err, USIM_EINPUT,
                         "%s: cannot tell training rows from serving rows (a 'gbs' column "
                         "means training, 'isl' or 'osl' serving, 'size_bytes' collectives); "
                         "give --set training, --set inference or --set collectives",
                         file);
    *set = training ? SET_TRAINING : inference ? SET_INFERENCE : SET_COLLECTIVES;
    return USIM_OK;
}

static json_t *set_summary(const tally *t)
{
    json_t *s = api_pack("{s:i, s:f}", "rows", t->rows, "worst_pct", t->worst_pct);
    json_object_set_new(s, "mape_pct",
                        t->rows ? json_real(t->sum_abs_pct / t->rows) : json_null());
    return s;
}

/* The built-in CSVs of each set (validation/NAME.csv), each kept in the
 * columns and units of its source. */
static const char *const SET_FILES[][4] = {
    [SET_TRAINING] = {"training", "torchtitan", "trainium-training", NULL},
    [SET_INFERENCE] = {"inference", "trainium-inference", NULL},
    [SET_COLLECTIVES] = {"collectives", NULL},
};

/* The rows of one set: its built-in CSVs, a tally of each and one over
 * them all (the ratchet, validation/mape.json, holds both). */
static usim_status validate_set(int s, json_t *rows, json_t *sets, usim_error *err)
{
    tally t = {0, 0, 0};
    usim_status st = USIM_OK;
    json_t *files = json_object();
    for (int i = 0; SET_FILES[s][i] && st == USIM_OK; i++) {
        char path[64], name[64];
        snprintf(name, sizeof name, "%s.csv", SET_FILES[s][i]);
        snprintf(path, sizeof path, "validation/%s", name);
        const usim_embedded_file *f = usim_embedded_find(path);
        tally one = {0, 0, 0};
        st = run_set(SETS[s], f ? f->text : "", path, rows, &one, err);
        json_object_set_new(files, name, set_summary(&one));
        t.sum_abs_pct += one.sum_abs_pct;
        t.worst_pct = fmax(t.worst_pct, one.worst_pct);
        t.rows += one.rows;
    }
    if (st == USIM_OK) {
        json_t *summary = set_summary(&t);
        json_object_set_new(summary, "files", files);
        json_object_set_new(sets, SETS[s], summary);
    } else {
        json_decref(files);
    }
    return st;
}

static usim_status validate_file(int set, bool set_given, const char *file, json_t *rows,
                                 json_t *sets, usim_error *err)
{
    char *text = NULL;
    usim_status st = usim_read_file(file, &text, NULL, err);
    if (st == USIM_OK && (!set_given || set == SET_ALL))
        st = infer_set(file, text, &set, err);
    tally t = {0, 0, 0};
    if (st == USIM_OK)
        st = run_set(SETS[set], text, file, rows, &t, err);
    if (st == USIM_OK)
        json_object_set_new(sets, SETS[set], set_summary(&t));
    free(text);
    return st;
}

static usim_status validate_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_validate.info;
    const char *file;
    int set;
    usim_status st = api_choice(cmd, req, "set", &set, err);
    api_string(cmd, req, "file", &file, err);
    if (st != USIM_OK)
        return st;
    json_t *rows = json_array(), *sets = json_object();
    if (file)
        st = validate_file(set, json_object_get(req, "set") != NULL, file, rows, sets, err);
    for (int s = 0; !file && s < SET_ALL && st == USIM_OK; s++)
        if (set == SET_ALL || set == s)
            st = validate_set(s, rows, sets, err);
    if (st != USIM_OK) {
        json_decref(rows);
        json_decref(sets);
        return st;
    }
    *result = api_pack("{s:o, s:o}", "rows", rows, "sets", sets);
    return USIM_OK;
}

static void summary_line(usim_buf *b, const char *name, json_t *s)
{
    double n = api_number(s, "rows");
    usim_buf_printf(b, "%s: MAPE %.1f%% over %.0f row%s, worst %.1f%%\n", name,
                    api_number(s, "mape_pct"), n, n == 1 ? "" : "s", api_number(s, "worst_pct"));
}

static usim_status validate_render(json_t *res, usim_buf *b, usim_error *err)
{
    json_t *rows = json_object_get(res, "rows"), *sets = json_object_get(res, "sets");
    size_t i;
    json_t *r;
    const char *key;
    json_t *s;
    (void)err;
    usim_buf_printf(b, "%-46s %-26s %12s %12s %8s\n", "measurement", "metric", "published",
                    "predicted", "error");
    json_array_foreach(rows, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        usim_buf_printf(b, "%-46.46s %-26.26s %12.5g %12.5g %+7.1f%%\n", id ? id : "",
                        json_string_value(json_object_get(r, "metric")),
                        api_number(r, "measured"), api_number(r, "predicted"),
                        api_number(r, "error_pct"));
    }
    json_object_foreach(sets, key, s)
    {
        usim_buf_printf(b, "\n");
        summary_line(b, key, s);
        json_t *files = json_object_get(s, "files"), *f;
        const char *file;
        if (json_object_size(files) > 1)
            json_object_foreach(files, file, f)
            {
                usim_buf_printf(b, "  ");
                summary_line(b, file, f);
            }
    }
    return USIM_OK;
}

const api_command api_cmd_validate = {
    {"validate", "compare predictions with published measurements (MAPE)",
     "ultrasim validate [--set training|inference|collectives|all] [--file FILE.csv] [--json]",
     "Runs every row of validation/training.csv, torchtitan.csv and\n"
     "trainium-training.csv (train), validation/inference.csv and\n"
     "trainium-inference.csv (serve) and\n"
     "validation/collectives.csv (collective) through the same commands\n"
     "users run, with the documented defaults for blank cells, and prints predicted\n"
     "against published with the error of each and the mean absolute percentage error\n"
     "of each set. --file reads another CSV of the same columns; its set follows from its\n"
     "columns (a 'gbs' column: training; 'isl' or 'osl': inference; 'size_bytes':\n"
     "collectives) unless --set names one. A row that does not run or has no\n"
     "prediction, a bad value or an empty file is an error naming the file and line.",
     NULL, VALIDATE_OPTIONS, sizeof VALIDATE_OPTIONS / sizeof VALIDATE_OPTIONS[0]},
    validate_run,
    validate_render,
};
