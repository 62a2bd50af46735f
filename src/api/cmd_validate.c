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

#include "api/measurements.h"

extern const api_command api_cmd_validate;

/* The sets in meas_set_names' order (MEAS_*), then "all". */
static const char *const SETS[] = {"training", "inference", "collectives", "gemm",
                                   "attention", "all", NULL};
enum { SET_ALL = MEAS_SET_COUNT };
static const char *const CV_KINDS[] = {"source", NULL};

static const usim_option VALIDATE_OPTIONS[] = {
    {"set", USIM_OPT_CHOICE, USIM_UNIT_NONE, "SET", "which measurements", "all", SETS, 0, 0,
     false},
    {"file", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.csv",
     "another CSV of the same columns instead of the built-in set", NULL, NULL, 0, 0, false},
    {"hw", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",
     "with --file: run every row on this system (e.g. one calibrate wrote) instead of its own",
     NULL, NULL, 0, 0, false},
    {"cv", USIM_OPT_CHOICE, USIM_UNIT_NONE, "source",
     "leave one source out: judge each source's rows by the others' errors", NULL, CV_KINDS, 0,
     0, false},
    {"write-intervals", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.json",
     "write the interval classes (10th-90th percentile errors per set and chip family) the "
     "commands print intervals from (data/intervals.json)",
     NULL, NULL, 0, 0, false},
};

typedef struct tally {
    double sum_abs_pct;
    double worst_pct;
    int rows;
} tally;

/* Every row of one file, predicted and compared. A row that does not run,
 * or whose metric the simulator cannot give, fails the whole validation: a
 * silent failed row would hide a broken prediction inside a healthy MAPE. */
static usim_status run_set(int *set, const char *text, const char *file, json_t *hw,
                           json_t *rows, tally *t, cv_list *cv, usim_error *err)
{
    meas_table *m = NULL;
    usim_status st = meas_read(file, text, *set, &m, err);
    if (st == USIM_OK)
        *set = meas_set(m);
    for (int i = 0; st == USIM_OK && i < meas_count(m); i++) {
        double pred = NAN, measured = meas_value(m, i);
        st = meas_predict(m, i, hw, &pred, err);
        if (st == USIM_OK && cv)
            st = cv_add(cv, m, i, pred, err);
        if (st != USIM_OK)
            break;
        /* as a ratio: 100 x (pred - measured) overflowed for a measured 1e308 */
        double pct = 100.0 * (pred / measured - 1.0);
        if (!isfinite(pct)) {
            const char *id = meas_cell(m, i, "id");
            st = usim_fail(err, USIM_EINPUT,
                           "%s:%d (row '%s'): value: %g is too far from the prediction %g to "
                           "compare (their ratio is not a finite number)",
                           meas_file(m), meas_line(m, i), id ? id : "?", measured, pred);
            break;
        }
        json_t *row = api_pack("{s:s, s:s?, s:s, s:f, s:f, s:f}", "set", SETS[*set], "id",
                               meas_cell(m, i, "id"), "metric", meas_cell(m, i, "metric"),
                               "measured", measured, "predicted", pred, "error_pct", pct);
        if (cv) { /* the class and source the row was judged in */
            const cv_row *c = &cv->rows[cv->n - 1];
            json_object_set_new(row, "source", json_string(c->source));
            json_object_set_new(row, "family", json_string(c->family));
        }
        json_array_append_new(rows, row);
        t->sum_abs_pct += fabs(pct);
        t->worst_pct = fmax(t->worst_pct, fabs(pct));
        t->rows++;
    }
    meas_free(m);
    return st;
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
static const char *const SET_FILES[][6] = {
    [MEAS_TRAINING] = {"training", "torchtitan", "nemo-performance", "megatron-moe",
                       "trainium-training", NULL},
    [MEAS_INFERENCE] = {"inference", "trainium-inference", NULL},
    [MEAS_COLLECTIVES] = {"collectives", NULL},
    [MEAS_GEMM] = {"gemm", NULL},
    [MEAS_ATTENTION] = {"attention", NULL},
};

/* The rows of one set: its built-in CSVs, a tally of each and one over
 * them all (the ratchet, validation/mape.json, holds both). */
static usim_status validate_set(int s, json_t *rows, json_t *sets, cv_list *cv,
                                usim_error *err)
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
        int kind = s;
        st = run_set(&kind, f ? f->text : "", path, NULL, rows, &one, cv, err);
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

static usim_status validate_file(int set, bool set_given, const char *file, json_t *hw,
                                 json_t *rows, json_t *sets, cv_list *cv, usim_error *err)
{
    char *text = NULL;
    usim_status st = usim_read_file(file, &text, NULL, err);
    if (!set_given || set == SET_ALL)
        set = -1; /* from the file's columns */
    tally t = {0, 0, 0};
    if (st == USIM_OK)
        st = run_set(&set, text, file, hw, rows, &t, cv, err);
    if (st == USIM_OK)
        json_object_set_new(sets, SETS[set], set_summary(&t));
    free(text);
    return st;
}

static usim_status write_intervals(const cv_list *cv, const char *path, usim_error *err)
{
    json_t *classes = cv_interval_classes(cv);
    usim_status st = api_write_json(path, classes, JSON_REAL_PRECISION(6), err);
    json_decref(classes);
    return st;
}

static usim_status validate_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_validate.info;
    const char *file, *hw_name;
    int set;
    usim_status st = api_choice(cmd, req, "set", &set, err);
    api_string(cmd, req, "file", &file, err);
    api_string(cmd, req, "hw", &hw_name, err);
    if (st == USIM_OK && hw_name && !file)
        st = usim_fail_field(err, USIM_EINPUT, "hw",
                             "--hw runs the rows of --file on one system; the built-in sets "
                             "span many (give --file)");
    const char *intervals = NULL;
    api_string(cmd, req, "write-intervals", &intervals, err);
    /* the classes are every shipped set's: a part of them would leave the
     * rest empty in the file the commands read */
    if (st == USIM_OK && intervals && (file || set != SET_ALL))
        st = usim_fail_field(err, USIM_EINPUT, "write-intervals",
                             "the intervals come from every set of validation/ (allowed "
                             "without --file and --set)");
    json_t *hw = NULL, *doc = NULL;
    if (st == USIM_OK && hw_name)
        st = meas_resolve_system(hw_name, &doc, err);
    if (doc)
        hw = json_pack("{s:o}", "hw", doc);
    if (st != USIM_OK)
        return st;
    bool loso = json_object_get(req, "cv") != NULL;
    cv_list cv = {NULL, 0, 0};
    cv_list *want = loso || intervals ? &cv : NULL;
    json_t *rows = json_array(), *sets = json_object();
    if (file)
        st = validate_file(set, json_object_get(req, "set") != NULL, file, hw, rows, sets, want,
                           err);
    json_decref(hw);
    for (int s = 0; !file && s < SET_ALL && st == USIM_OK; s++)
        if (set == SET_ALL || set == s)
            st = validate_set(s, rows, sets, want, err);
    for (int s = 0; st == USIM_OK && loso && s < MEAS_SET_COUNT; s++) {
        json_t *summary = json_object_get(sets, SETS[s]);
        if (summary)
            json_object_set_new(summary, "cv", cv_leave_one_source_out(&cv, s));
    }
    if (st == USIM_OK && intervals)
        st = write_intervals(&cv, intervals, err);
    cv_free(&cv);
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

/* "holds 29 of 40 (72%)", or why there is no figure. */
static void coverage_text(json_t *c, char *buf, size_t size)
{
    json_t *pct = json_object_get(c, "coverage_pct");
    if (json_is_number(pct))
        snprintf(buf, size, "%.0f of %.0f inside (%.0f%%)", api_number(c, "coverage_pct") *
                                                                api_number(c, "judged") / 100.0,
                 api_number(c, "judged"), json_number_value(pct));
    else
        snprintf(buf, size, "n/a (fewer than %d rows of other sources)", CV_MIN_ROWS);
}

static void cv_lines(usim_buf *b, json_t *cv)
{
    if (!cv)
        return;
    char cover[80];
    coverage_text(cv, cover, sizeof cover);
    usim_buf_printf(b,
                    "  leave one source out: calibrated on the others MAPE %.1f%% (as shipped "
                    "%.1f%%); their 80%% intervals: %s\n",
                    api_number(cv, "calibrated_mape_pct"), api_number(cv, "mape_pct"), cover);
    double shipped = api_number(cv, "shipped_coverage_pct");
    if (isfinite(shipped))
        snprintf(cover, sizeof cover, "%.0f of %.0f inside (%.0f%%)",
                 shipped * api_number(cv, "judged_shipped") / 100.0,
                 api_number(cv, "judged_shipped"), shipped);
    else
        snprintf(cover, sizeof cover, "n/a (no row has a shipped interval)");
    usim_buf_printf(b, "  the shipped intervals (every source, data/intervals.json): %s\n", cover);
    const char *key;
    json_t *s;
    json_object_foreach(json_object_get(cv, "sources"), key, s)
    {
        coverage_text(s, cover, sizeof cover);
        usim_buf_printf(b, "    %-60.60s %3.0f row%s %6.1f%%  %s\n", key, api_number(s, "rows"), api_number(s, "rows") == 1 ? " " : "s",
                        api_number(s, "calibrated_mape_pct"), cover);
    }
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
        cv_lines(b, json_object_get(s, "cv"));
    }
    return USIM_OK;
}

const api_command api_cmd_validate = {
    {"validate", "compare predictions with published measurements (MAPE)",
     "ultrasim validate [--set training|inference|collectives|gemm|attention|all] "
     "[--file FILE.csv [--hw NAME|FILE]] [--cv source] [--write-intervals FILE.json] [--json]",
     "Runs every row of validation/training.csv, torchtitan.csv,\n"
     "nemo-performance.csv, megatron-moe.csv and trainium-training.csv (train),\n"
     "validation/inference.csv and\n"
     "trainium-inference.csv (serve), validation/collectives.csv (collective),\n"
     "validation/gemm.csv (gemm) and validation/attention.csv (attention; both\n"
     "timed as benchmarks time kernels back to back: without the launch) through\n"
     "the same commands\n"
     "users run, with the documented defaults for blank cells, and prints predicted\n"
     "against published with the error of each and the mean absolute percentage error\n"
     "of each set. --file reads another CSV of the same columns; its set follows from its\n"
     "columns (a 'gbs' column: training; 'isl' or 'osl': inference; 'size_bytes':\n"
     "collectives; 'k': gemm; 'head_dim' without 'gbs': attention) unless --set names one.\n"
     "A row that does not run or has no prediction, a bad value or an empty file is an\n"
     "error naming the file and line.\n"
     "--cv source judges each source by the others: their class's median error as a\n"
     "calibration, their 10th-90th percentile as an 80% interval (docs/accuracy.md).",
     NULL, VALIDATE_OPTIONS, sizeof VALIDATE_OPTIONS / sizeof VALIDATE_OPTIONS[0]},
    validate_run,
    validate_render,
};
