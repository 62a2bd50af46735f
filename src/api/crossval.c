/*
 * How wrong the model is, measured the way it will be judged: on sources it
 * has not seen. Leave one source out: each source's rows are predicted
 * knowing only the other sources' errors, both as a calibration (their
 * median log error, per class) and as an 80% interval (their 10th to 90th
 * percentile); how often the held-out measurements fall inside says whether
 * the intervals can be trusted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/measurements.h"

usim_status cv_add(cv_list *l, const meas_table *t, int i, double pred, usim_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        cv_row *rows = realloc(l->rows, sizeof *rows * (size_t)cap);
        if (!rows)
            return usim_fail(err, USIM_ERUNTIME, "out of memory");
        l->rows = rows;
        l->cap = cap;
    }
    cv_row *c = &l->rows[l->n];
    memset(c, 0, sizeof *c);
    c->set = meas_set(t);
    meas_source_key(t, i, c->source, sizeof c->source);
    usim_status st = meas_family(t, i, c->family, sizeof c->family, err);
    c->sign = meas_orientation(t, i);
    c->r = c->sign * log(pred / meas_value(t, i));
    if (st == USIM_OK)
        l->n++;
    return st;
}

void cv_free(cv_list *l)
{
    free(l->rows);
    memset(l, 0, sizeof *l);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of v[0..n) (sorted in place), linearly interpolated. */
static double quantile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    double x = p * (n - 1);
    int k = (int)floor(x);
    return k + 1 < n ? v[k] + (x - k) * (v[k + 1] - v[k]) : v[n - 1];
}

/* The log errors of the class of (set, family), without `skip` (a source,
 * or NULL): the family's own rows when it has enough, else the set's. */
static int class_errors(const cv_list *l, int set, const char *family, const char *skip,
                        double *out)
{
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        for (int i = 0; i < l->n; i++) {
            const cv_row *c = &l->rows[i];
            if (c->set != set || (skip && strcmp(c->source, skip) == 0))
                continue;
            if (pass == 0 && strcmp(c->family, family) != 0)
                continue;
            out[n++] = c->r;
        }
        if (n >= CV_MIN_ROWS || pass == 1)
            return n;
    }
    return 0;
}

typedef struct cv_tally {
    double abs_pct, calibrated_abs_pct;
    int rows, inside, judged;
    int inside_shipped, judged_shipped; /* the intervals from every source, as shipped */
} cv_tally;

/* Held out, a row's error is its in-sample one (nothing in the model is
 * fitted to the rows); calibrated on the other sources (their median log
 * error of its class taken out), it shows whether a class's bias carries
 * over to a source it was not fitted on. */
static json_t *tally_json(const cv_tally *t)
{
    double n = t->rows > 0 ? t->rows : 1;
    json_t *j = api_pack("{s:i, s:f, s:f, s:o, s:i, s:o, s:i}", "rows", t->rows, "mape_pct",
                         t->abs_pct / n, "calibrated_mape_pct", t->calibrated_abs_pct / n,
                         "coverage_pct",
                         t->judged ? json_real(100.0 * t->inside / t->judged) : json_null(),
                         "judged", t->judged, "shipped_coverage_pct",
                         t->judged_shipped
                             ? json_real(100.0 * t->inside_shipped / t->judged_shipped)
                             : json_null(),
                         "judged_shipped", t->judged_shipped);
    if (j && !t->judged)
        json_object_set_new(j, "coverage_pct_reason",
                            json_string("too few rows of other sources to give an interval"));
    if (j && !t->judged_shipped)
        json_object_set_new(j, "shipped_coverage_pct_reason",
                            json_string("no row has a shipped interval"));
    return j;
}

/* One held-out row judged by the other sources' errors of its class. */
static void judge(const cv_list *l, const cv_row *c, double *others, cv_tally *set_t,
                  cv_tally *src_t)
{
    int n = class_errors(l, c->set, c->family, c->source, others);
    double bias = n > 0 ? quantile(others, n, 0.5) : 0.0;
    cv_tally *ts[2] = {set_t, src_t};
    for (int k = 0; k < 2; k++) {
        ts[k]->abs_pct += 100.0 * fabs(expm1(c->sign * c->r));
        ts[k]->calibrated_abs_pct += 100.0 * fabs(expm1(c->sign * (c->r - bias)));
        ts[k]->rows++;
    }
    int all = class_errors(l, c->set, c->family, NULL, others);
    if (all >= CV_MIN_ROWS) {
        bool in = c->r >= quantile(others, all, (1 - CV_LEVEL) / 2) &&
                  c->r <= quantile(others, all, (1 + CV_LEVEL) / 2);
        for (int k = 0; k < 2; k++) {
            ts[k]->judged_shipped++;
            ts[k]->inside_shipped += in;
        }
    }
    n = class_errors(l, c->set, c->family, c->source, others);
    if (n < CV_MIN_ROWS)
        return;
    double lo = quantile(others, n, (1 - CV_LEVEL) / 2), hi = quantile(others, n, (1 + CV_LEVEL) / 2);
    bool inside = c->r >= lo && c->r <= hi;
    for (int k = 0; k < 2; k++) {
        ts[k]->judged++;
        ts[k]->inside += inside;
    }
}

json_t *cv_leave_one_source_out(const cv_list *l, int set)
{
    double *others = malloc(sizeof *others * (size_t)(l->n > 0 ? l->n : 1));
    json_t *sources = json_object();
    cv_tally all = {0};
    for (int i = 0; others && i < l->n; i++) {
        const cv_row *c = &l->rows[i];
        if (c->set != set || json_object_get(sources, c->source))
            continue;
        cv_tally one = {0};
        for (int j = i; j < l->n; j++)
            if (l->rows[j].set == set && strcmp(l->rows[j].source, c->source) == 0)
                judge(l, &l->rows[j], others, &all, &one);
        json_object_set_new(sources, c->source, tally_json(&one));
    }
    free(others);
    json_t *out = tally_json(&all);
    json_object_set_new(out, "sources", sources);
    return out;
}

static json_t *class_json(double *v, int n)
{
    double lo = quantile(v, n, (1 - CV_LEVEL) / 2), hi = quantile(v, n, (1 + CV_LEVEL) / 2);
    return api_pack("{s:i, s:f, s:f, s:f}", "rows", n, "median", quantile(v, n, 0.5), "p10", lo,
                    "p90", hi);
}

json_t *cv_interval_classes(const cv_list *l)
{
    double *v = malloc(sizeof *v * (size_t)(l->n > 0 ? l->n : 1));
    json_t *sets = json_object();
    for (int s = 0; v && s < MEAS_SET_COUNT; s++) {
        json_t *families = json_object();
        for (int i = 0; i < l->n; i++) {
            const cv_row *c = &l->rows[i];
            if (c->set != s || json_object_get(families, c->family))
                continue;
            int n = 0;
            for (int j = 0; j < l->n; j++)
                if (l->rows[j].set == s && strcmp(l->rows[j].family, c->family) == 0)
                    v[n++] = l->rows[j].r;
            if (n >= CV_MIN_ROWS)
                json_object_set_new(families, c->family, class_json(v, n));
        }
        int n = class_errors(l, s, "", NULL, v);
        if (n >= CV_MIN_ROWS)
            json_object_set_new(families, "all", class_json(v, n));
        json_object_set_new(sets, meas_set_names[s], families);
    }
    free(v);
    return api_pack("{s:s, s:f, s:i, s:s, s:o}", "kind", "intervals", "level", CV_LEVEL,
                    "min_rows", CV_MIN_ROWS, "note",
                    "the 10th and 90th percentiles of log(predicted / measured) as a speed "
                    "(> 0: the model is fast), per set and chip family, over validation/; "
                    "written by 'ultrasim validate --write-intervals'",
                    "classes", sets);
}
