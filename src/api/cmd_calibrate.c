/*
 * `ultrasim calibrate`: a user's own measurements turn a generic hardware
 * description into a twin of their cluster. The knobs are the measured
 * figures of the description (efficiencies, overheads, latencies), each with
 * its physical bounds; the fit moves the chosen ones, in log space, to
 * minimise a robust loss of log(predicted / measured) over the rows (soft L1,
 * so one bad row cannot drag the fit), and writes the description back with
 * the new values cited to the fit. Every row runs through the same front door
 * as `validate`, on the description being fitted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/measurements.h"
#include "core/schema.h"
#include "ultrasim/hw.h"

extern const api_command api_cmd_calibrate;

static const usim_option CALIBRATE_OPTIONS[] = {
    {"measurements", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.csv",
     "the runs to fit: validate's columns (training, serving, collectives or GEMM rows)", NULL, NULL, 0,
     0, false},
    API_OPT_HW("the hardware description to fit (preset or file)"),
    {"knobs", USIM_OPT_STRING, USIM_UNIT_NONE, "A,B,...",
     "the knobs to fit (default: the two the rows are most sensitive to; --list-knobs)", NULL,
     NULL, 0, 0, false},
    {"bounds", USIM_OPT_STRING, USIM_UNIT_NONE, "KNOB=LO:HI,...",
     "narrower bounds for knobs (default: each knob's physical range)", NULL, NULL, 0, 0, false},
    {"stack", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",
     "the software stack of training rows that name none (default: the system's own)", NULL,
     NULL, 0, 0, false},
    {"name", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME",
     "the fitted description's name (default: the original's, with -calibrated)", NULL, NULL, 0,
     0, false},
    {"out", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.json",
     "where to write the fitted description (-o)", NULL, NULL, 0, 0, false},
    {"list-knobs", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "list the knobs of --hw with their values, bounds and sources, and fit nothing", NULL, NULL,
     0, 0, false},
};

/* A measured figure of a system description, by its path in the resolved
 * description (chip and network inline), with the range physics allows. */
typedef struct knob_def {
    const char *path;
    usim_unit unit;
    double lo, hi;
    const char *what;
} knob_def;

static const knob_def KNOBS[] = {
    {"chip.matrix.efficiency", USIM_UNIT_NONE, 0.05, 1,
     "the 16-bit matrix peak's share a short benchmark reaches"},
    {"chip.matrix.efficiency_fp8", USIM_UNIT_NONE, 0.05, 1, "the same for FP8 inputs"},
    {"chip.matrix.efficiency_fp8_split_acc", USIM_UNIT_NONE, 0.05, 1,
     "FP8 with FP32-promoted accumulation (backward GEMMs)"},
    {"chip.matrix.sustained", USIM_UNIT_NONE, 0.3, 1,
     "the share of those rates held for minutes (training)"},
    {"chip.matrix.flash2_efficiency", USIM_UNIT_NONE, 0.01, 1,
     "FlashAttention-2's share of the 16-bit peak"},
    {"chip.matrix.softmax_overlap", USIM_UNIT_NONE, 0.01, 1,
     "a fused attention forward's softmax run beside its products"},
    {"chip.hbm.efficiency", USIM_UNIT_NONE, 0.05, 1, "sustained share of HBM bandwidth"},
    {"chip.launch_overhead", USIM_UNIT_SECONDS, 1e-7, 1e-3, "fixed cost of a device operation"},
    {"chip.graph_efficiency", USIM_UNIT_NONE, 0.05, 1,
     "a compiled graph's share of the engine's matrix rate"},
    {"node.link_efficiency", USIM_UNIT_NONE, 0.05, 1,
     "achieved share of the scale-up links in collectives"},
    {"node.hop_latency", USIM_UNIT_SECONDS, 1e-8, 1e-3, "per step of a collective on a link"},
    {"network.efficiency", USIM_UNIT_NONE, 0.05, 1, "achieved share of the scale-out links"},
    {"network.collective_step_latency", USIM_UNIT_SECONDS, 1e-7, 1e-3,
     "a collective step across the scale-out network"},
    {"collective_library.nvls.efficiency", USIM_UNIT_NONE, 0.05, 1,
     "NVLink SHARP's share of the link in its own model"},
    {"collective_library.blocking_call_overhead", USIM_UNIT_SECONDS, 1e-7, 1e-2,
     "the host's path of one blocking collective call"},
};
#define NKNOBS (int)(sizeof KNOBS / sizeof KNOBS[0])
#define MAX_FIT 4
#define SOFT_L1_SCALE 0.05 /* log error at which a row's pull stops growing linearly */
#define SENSITIVITY_MIN 0.05
#define SAME_DIRECTION 0.98 /* |cosine| of two knobs' effects beyond which rows cannot split them */

typedef struct fit_knob {
    const knob_def *def;
    double before, value, lo, hi, sensitivity;
} fit_knob;

typedef struct fit {
    meas_table *rows;
    json_t *doc;  /* the resolved description being fitted */
    json_t *with; /* what each row runs with: {"hw": doc, "stack": ...} */
    char hw_label[200];
    fit_knob k[MAX_FIT];
    int n;
    int evaluations;
} fit;

/* ---- knobs in a description ------------------------------------------- */

static const knob_def *knob_named(const char *name)
{
    for (int i = 0; i < NKNOBS; i++)
        if (strcmp(KNOBS[i].path, name) == 0)
            return &KNOBS[i];
    return NULL;
}

/* The object holding a knob's last key, and that key. */
static json_t *knob_parent(json_t *doc, const char *path, char *last, size_t size)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *o = doc;
    char *key = buf, *dot;
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        o = json_object_get(o, key);
        if (!json_is_object(o))
            return NULL;
        key = dot + 1;
    }
    snprintf(last, size, "%s", key);
    return o;
}

static bool knob_get(json_t *doc, const knob_def *d, double *out)
{
    char key[64];
    json_t *parent = knob_parent(doc, d->path, key, sizeof key);
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v)
        return false;
    usim_reader r = {"", NULL, NULL};
    usim_error e;
    return usim_read_quantity(&r, d->path, v, d->unit, 0, INFINITY, out, &e) == USIM_OK;
}

static void knob_set(json_t *doc, const knob_def *d, double value, const char *source)
{
    char key[64];
    json_t *parent = knob_parent(doc, d->path, key, sizeof key);
    json_t *v = source ? json_pack("{s:f, s:s}", "value", value, "source", source)
                       : json_real(value);
    if (parent && v)
        json_object_set_new(parent, key, v);
    else
        json_decref(v);
}

static void knob_list_text(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < NKNOBS && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", KNOBS[i].path);
}

/* ---- the fit ---------------------------------------------------------- */

static double soft_l1(double r)
{
    double x = r / SOFT_L1_SCALE;
    return 2.0 * SOFT_L1_SCALE * SOFT_L1_SCALE * (sqrt(1.0 + x * x) - 1.0);
}

/* Every row's log error on the description as it stands; the loss. */
static usim_status residuals(fit *f, double *res, double *loss, usim_error *err)
{
    *loss = 0.0;
    f->evaluations++;
    for (int i = 0; i < meas_count(f->rows); i++) {
        double pred = NAN;
        usim_status st = meas_predict(f->rows, i, f->with, &pred, err);
        if (st != USIM_OK)
            return st;
        double r = log(pred / meas_value(f->rows, i));
        if (res)
            res[i] = r;
        *loss += soft_l1(r);
    }
    return USIM_OK;
}

static double mape_of(const double *res, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += fabs(expm1(res[i]));
    return 100.0 * s / n;
}

/* The loss with knob j at value v (the others as they stand). */
static usim_status loss_at(fit *f, int j, double v, double *loss, usim_error *err)
{
    /* exp(log(x)) may land an ulp outside the bound the schema checks */
    v = fmin(fmax(v, f->k[j].lo), f->k[j].hi);
    knob_set(f->doc, f->k[j].def, v, NULL);
    return residuals(f, NULL, loss, err);
}

#define GRID 16

/* Knob j in log space over its bounds: a coarse grid first (a prediction
 * can jump where the library switches algorithm, so the loss need not have
 * one valley), then a golden-section search around the grid's best point. */
static usim_status fit_one(fit *f, int j, usim_error *err)
{
    const double g = (sqrt(5.0) - 1.0) / 2.0;
    double a = log(f->k[j].lo), b = log(f->k[j].hi), step = (b - a) / (GRID - 1);
    double best = INFINITY, loss;
    int at = 0;
    usim_status st = USIM_OK;
    for (int i = 0; i < GRID && st == USIM_OK; i++) {
        st = loss_at(f, j, exp(a + i * step), &loss, err);
        if (loss < best) {
            best = loss;
            at = i;
        }
    }
    double lo = a + (at > 0 ? at - 1 : 0) * step, hi = a + (at < GRID - 1 ? at + 1 : at) * step;
    a = lo;
    b = hi;
    double c = b - g * (b - a), d = a + g * (b - a), fc, fd;
    if (st == USIM_OK)
        st = loss_at(f, j, exp(c), &fc, err);
    if (st == USIM_OK)
        st = loss_at(f, j, exp(d), &fd, err);
    while (st == USIM_OK && b - a > 1e-5) {
        if (fc <= fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            st = loss_at(f, j, exp(c), &fc, err);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            st = loss_at(f, j, exp(d), &fd, err);
        }
    }
    f->k[j].value = fmin(fmax(exp((a + b) / 2.0), f->k[j].lo), f->k[j].hi);
    knob_set(f->doc, f->k[j].def, f->k[j].value, NULL);
    return st;
}

/* Coordinate descent: each knob in turn, until none moves by 0.1%. */
static usim_status fit_all(fit *f, usim_error *err)
{
    usim_status st = USIM_OK;
    for (int round = 0; round < 8 && st == USIM_OK; round++) {
        double moved = 0.0;
        for (int j = 0; j < f->n && st == USIM_OK; j++) {
            double old = f->k[j].value;
            st = fit_one(f, j, err);
            moved = fmax(moved, fabs(log(f->k[j].value / old)));
        }
        if (moved < 1e-3)
            break;
    }
    return st;
}

/* Every row's log error on the description as it stands, in a new array
 * (the caller frees it): the base the sensitivities step from. */
static usim_status base_residuals(fit *f, double **base, usim_error *err)
{
    double loss;
    *base = malloc(sizeof **base * (size_t)meas_count(f->rows));
    if (!*base)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    return residuals(f, *base, &loss, err);
}

/* d log(prediction) / d log(knob) for each row, by a 5% step from base. */
static usim_status sensitivity(fit *f, const knob_def *d, double value, const double *base,
                               double *out, usim_error *err)
{
    double loss, step = value * 1.05 <= d->hi ? 1.05 : 1.0 / 1.05;
    knob_set(f->doc, d, value * step, NULL);
    usim_status st = residuals(f, out, &loss, err);
    knob_set(f->doc, d, value, NULL);
    for (int i = 0; st == USIM_OK && i < meas_count(f->rows); i++)
        out[i] = (out[i] - base[i]) / log(step);
    return st;
}

static double mean_abs(const double *v, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += fabs(v[i]);
    return s / n;
}

static double cosine(const double *a, const double *b, int n)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

/* ---- which knobs ------------------------------------------------------ */

static usim_status add_knob(fit *f, const knob_def *d, usim_error *err)
{
    double v;
    if (!knob_get(f->doc, d, &v))
        return usim_fail_field(err, USIM_EINPUT, "knobs",
                               "%s has no %s to fit; add it to the description first",
                               f->hw_label, d->path);
    for (int i = 0; i < f->n; i++)
        if (f->k[i].def == d) /* one knob fitted twice would be two unknowns of one */
            return usim_fail_field(err, USIM_EINPUT, "knobs", "%s is named twice", d->path);
    if (f->n >= MAX_FIT)
        return usim_fail_field(err, USIM_EINPUT, "knobs", "at most %d knobs at once", MAX_FIT);
    f->k[f->n++] = (fit_knob){d, v, v, d->lo, d->hi, 0.0};
    return USIM_OK;
}

static usim_status named_knobs(fit *f, const char *list, usim_error *err)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    usim_status st = USIM_OK;
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name && st == USIM_OK;
         name = strtok_r(NULL, ",", &save)) {
        const knob_def *d = knob_named(name);
        if (!d) {
            char all[1024];
            knob_list_text(all, sizeof all);
            const char *names[NKNOBS];
            for (int i = 0; i < NKNOBS; i++)
                names[i] = KNOBS[i].path;
            const char *near = usim_closest(name, names, NKNOBS);
            return usim_fail_field(err, USIM_EINPUT, "knobs",
                                   "'%s' is not a knob%s%s%s; allowed: %s", name,
                                   near ? "; did you mean '" : "", near ? near : "",
                                   near ? "'?" : "", all);
        }
        st = add_knob(f, d, err);
    }
    return st;
}

/* The knobs the rows move most (mean |d log prediction / d log knob| at
 * least 0.05), at most two, and never more than half the rows. */
static usim_status sensitive_knobs(fit *f, usim_error *err)
{
    int n = meas_count(f->rows), best[2] = {-1, -1};
    double score[2] = {SENSITIVITY_MIN, SENSITIVITY_MIN};
    double *s = malloc(sizeof *s * (size_t)n), *base = NULL;
    usim_status st = s ? base_residuals(f, &base, err)
                       : usim_fail(err, USIM_ERUNTIME, "out of memory");
    for (int i = 0; i < NKNOBS && st == USIM_OK; i++) {
        double v;
        if (!knob_get(f->doc, &KNOBS[i], &v))
            continue;
        st = sensitivity(f, &KNOBS[i], v, base, s, err);
        double m = st == USIM_OK ? mean_abs(s, n) : 0.0;
        if (m > score[0]) {
            best[1] = best[0], score[1] = score[0];
            best[0] = i, score[0] = m;
        } else if (m > score[1]) {
            best[1] = i, score[1] = m;
        }
    }
    free(s);
    free(base);
    int want = n >= 4 ? 2 : 1;
    for (int i = 0; i < want && st == USIM_OK; i++)
        if (best[i] >= 0)
            st = add_knob(f, &KNOBS[best[i]], err);
    if (st == USIM_OK && f->n == 0)
        st = usim_fail_field(err, USIM_EINPUT, "knobs",
                             "no knob of %s moves these rows' predictions by 5%% of a change in "
                             "it; name the knobs with --knobs",
                             f->hw_label);
    return st;
}

/* A knob the rows hardly move cannot be fitted from them: its best value
 * would be wherever the search stopped. */
static usim_status check_sensitive(fit *f, usim_error *err)
{
    int n = meas_count(f->rows);
    double *s = malloc(sizeof *s * (size_t)n), *base = NULL;
    usim_status st = s ? base_residuals(f, &base, err)
                       : usim_fail(err, USIM_ERUNTIME, "out of memory");
    for (int j = 0; j < f->n && st == USIM_OK; j++) {
        st = sensitivity(f, f->k[j].def, f->k[j].value, base, s, err);
        double m = st == USIM_OK ? mean_abs(s, n) : 0.0;
        if (st == USIM_OK && m < SENSITIVITY_MIN)
            st = usim_fail_field(err, USIM_EINPUT, "knobs",
                                 "the rows of %s hardly depend on %s (a 1%% change moves "
                                 "their predictions %.3f%% on average; at least %.2g%% is "
                                 "needed): it cannot be fitted from them",
                                 meas_file(f->rows), f->k[j].def->path, m, SENSITIVITY_MIN);
    }
    free(s);
    free(base);
    return st;
}

/* --bounds KNOB=LO:HI,...: narrower than the knob's physical range. */
static usim_status read_bounds(fit *f, const char *spec, usim_error *err)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *colon = eq ? strchr(eq, ':') : NULL;
        if (!eq || !colon)
            return usim_fail_field(err, USIM_EINPUT, "bounds",
                                   "'%s' is not KNOB=LO:HI (e.g. chip.hbm.efficiency=0.7:0.95)",
                                   item);
        *eq = *colon = '\0';
        int j = 0;
        while (j < f->n && strcmp(f->k[j].def->path, item) != 0)
            j++;
        if (j == f->n)
            return usim_fail_field(err, USIM_EINPUT, "bounds",
                                   "'%s' is not one of the knobs being fitted", item);
        double lo, hi;
        usim_status st = usim_parse_quantity(eq + 1, f->k[j].def->unit, &lo, err);
        if (st == USIM_OK)
            st = usim_parse_quantity(colon + 1, f->k[j].def->unit, &hi, err);
        if (st != USIM_OK)
            return st;
        if (!(lo > 0 && lo < hi) || lo < f->k[j].def->lo || hi > f->k[j].def->hi)
            return usim_fail_field(err, USIM_EINPUT, "bounds",
                                   "%s: %g:%g is not a range inside %g:%g", item, lo, hi,
                                   f->k[j].def->lo, f->k[j].def->hi);
        f->k[j].lo = lo;
        f->k[j].hi = hi;
        f->k[j].value = fmin(fmax(f->k[j].value, lo), hi);
    }
    return USIM_OK;
}

/* ---- the command ------------------------------------------------------ */

static json_t *list_knobs(json_t *doc, const char *hw)
{
    json_t *knobs = json_array();
    for (int i = 0; i < NKNOBS; i++) {
        double v;
        bool has = knob_get(doc, &KNOBS[i], &v);
        json_array_append_new(knobs, api_pack("{s:s, s:o, s:f, s:f, s:s}", "knob", KNOBS[i].path,
                                               "value", has ? json_real(v) : json_null(), "lo",
                                               KNOBS[i].lo, "hi", KNOBS[i].hi, "what",
                                               KNOBS[i].what));
    }
    return api_pack("{s:s, s:o}", "hw", hw, "knobs", knobs);
}

static void name_fitted(fit *f, const char *name, const char *file, double before,
                        double after)
{
    char label[300], note[600];
    const char *old = json_string_value(json_object_get(f->doc, "name"));
    if (name)
        snprintf(label, sizeof label, "%s", name);
    else
        snprintf(label, sizeof label, "%s-calibrated", old ? old : "system");
    json_object_set_new(f->doc, "name", json_string(label));
    snprintf(note, sizeof note,
             "calibrated by 'ultrasim calibrate' on %s: %d rows, MAPE %.1f%% -> %.1f%%", file,
             meas_count(f->rows), before, after);
    for (int j = 0; j < f->n; j++)
        knob_set(f->doc, f->k[j].def, f->k[j].value, note);
}

/* A fit pinned against a bound wanted a value outside it. */
static usim_status check_bounds(const fit *f, const char *file, usim_error *err)
{
    for (int j = 0; j < f->n; j++) {
        const fit_knob *k = &f->k[j];
        bool low = k->value <= k->lo * 1.001, high = k->value >= k->hi / 1.001;
        if (low || high)
            return usim_fail_field(err, USIM_EINPUT, "bounds",
                                   "%s: the rows of %s want it %s its bound %g; widen "
                                   "--bounds, fit another knob, or check the rows",
                                   k->def->path, file, low ? "below" : "above",
                                   low ? k->lo : k->hi);
    }
    return USIM_OK;
}

static json_t *fit_result(const fit *f, double before, double after, const char *out,
                          json_t *warnings)
{
    json_t *knobs = json_array();
    for (int j = 0; j < f->n; j++)
        json_array_append_new(knobs, api_pack("{s:s, s:f, s:f, s:f, s:f, s:f}", "knob",
                                               f->k[j].def->path, "before", f->k[j].before,
                                               "after", f->k[j].value, "lo", f->k[j].lo, "hi",
                                               f->k[j].hi, "sensitivity", f->k[j].sensitivity));
    return api_pack("{s:s, s:s, s:i, s:o, s:f, s:f, s:i, s:s?, s:o}", "hw", f->hw_label,
                    "measurements", meas_file(f->rows), "rows", meas_count(f->rows), "knobs",
                    knobs, "mape_before_pct", before, "mape_after_pct", after, "evaluations",
                    f->evaluations, "out", out, "warnings", warnings);
}

/* Each knob's pull on the rows at the fitted values; two knobs the rows
 * move the same way cannot be told apart. */
static usim_status confounded(fit *f, json_t *warnings, usim_error *err)
{
    int n = meas_count(f->rows);
    double *s[MAX_FIT] = {NULL}, *base = NULL;
    usim_status st = base_residuals(f, &base, err);
    for (int j = 0; j < f->n && st == USIM_OK; j++) {
        s[j] = malloc(sizeof(double) * (size_t)n);
        st = s[j] ? sensitivity(f, f->k[j].def, f->k[j].value, base, s[j], err)
                  : usim_fail(err, USIM_ERUNTIME, "out of memory");
        if (st == USIM_OK)
            f->k[j].sensitivity = mean_abs(s[j], n);
    }
    for (int a = 0; st == USIM_OK && a < f->n; a++)
        for (int b = a + 1; b < f->n; b++)
            if (fabs(cosine(s[a], s[b], n)) > SAME_DIRECTION) {
                char w[400];
                snprintf(w, sizeof w,
                         "the rows cannot tell %s from %s apart (they move every prediction "
                         "alike); fit one of them, or add rows that load them differently",
                         f->k[a].def->path, f->k[b].def->path);
                json_array_append_new(warnings, json_string(w));
            }
    for (int j = 0; j < f->n; j++)
        free(s[j]);
    free(base);
    return st;
}

static usim_status run_fit(fit *f, json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_calibrate.info;
    const char *knobs = NULL, *bounds = NULL, *name = NULL, *out = NULL;
    api_string(cmd, req, "knobs", &knobs, err);
    api_string(cmd, req, "bounds", &bounds, err);
    api_string(cmd, req, "name", &name, err);
    api_string(cmd, req, "out", &out, err);
    int n = meas_count(f->rows);
    double *res = malloc(sizeof *res * (size_t)n), loss;
    if (!res)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = knobs ? named_knobs(f, knobs, err) : sensitive_knobs(f, err);
    if (st == USIM_OK)
        st = check_sensitive(f, err);
    if (st == USIM_OK && bounds)
        st = read_bounds(f, bounds, err);
    if (st == USIM_OK)
        st = residuals(f, res, &loss, err);
    double before = mape_of(res, n);
    if (st == USIM_OK)
        st = fit_all(f, err);
    if (st == USIM_OK)
        st = check_bounds(f, meas_file(f->rows), err);
    if (st == USIM_OK)
        st = residuals(f, res, &loss, err);
    double after = mape_of(res, n);
    free(res);
    json_t *warnings = json_array();
    if (st == USIM_OK)
        st = confounded(f, warnings, err);
    if (st == USIM_OK)
        *result = fit_result(f, before, after, out, warnings);
    else
        json_decref(warnings);
    if (st == USIM_OK && out) {
        name_fitted(f, name, meas_file(f->rows), before, after);
        st = api_write_json(out, f->doc, 0, err);
    }
    return st;
}

static usim_status calibrate_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_calibrate.info;
    const char *file = NULL, *hw = NULL;
    api_string(cmd, req, "measurements", &file, err);
    api_string(cmd, req, "hw", &hw, err);
    if (!json_is_string(json_object_get(req, "hw")))
        return usim_fail_field(err, USIM_EINPUT, "hw",
                               "calibrate needs a preset name or a file to start from");
    fit f;
    memset(&f, 0, sizeof f);
    snprintf(f.hw_label, sizeof f.hw_label, "%s", hw);
    usim_status st = meas_resolve_system(hw, &f.doc, err);
    const char *stack = NULL;
    api_string(cmd, req, "stack", &stack, err);
    f.with = json_object();
    if (st == USIM_OK)
        json_object_set(f.with, "hw", f.doc);
    if (stack)
        json_object_set_new(f.with, "stack", json_string(stack));
    if (st == USIM_OK && api_flag(req, "list-knobs")) {
        *result = list_knobs(f.doc, hw);
        json_decref(f.with);
        json_decref(f.doc);
        return USIM_OK;
    }
    char *text = NULL;
    if (st == USIM_OK && !file)
        st = usim_fail_field(err, USIM_EINPUT, "measurements",
                             "calibrate needs --measurements FILE.csv (or --list-knobs)");
    if (st == USIM_OK)
        st = usim_read_file(file, &text, NULL, err);
    if (st == USIM_OK)
        st = meas_read(file, text, -1, &f.rows, err);
    free(text);
    if (st == USIM_OK)
        st = run_fit(&f, req, result, err);
    if (st != USIM_OK && *result) {
        json_decref(*result);
        *result = NULL;
    }
    meas_free(f.rows);
    json_decref(f.with);
    json_decref(f.doc);
    return st;
}

static usim_status calibrate_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    json_t *knobs = json_object_get(res, "knobs"), *k;
    size_t i;
    if (!json_object_get(res, "rows")) { /* --list-knobs */
        usim_buf_printf(b, "knobs of %s\n", json_string_value(json_object_get(res, "hw")));
        json_array_foreach(knobs, i, k)
        {
            json_t *v = json_object_get(k, "value");
            char value[32] = "absent";
            if (json_is_number(v))
                snprintf(value, sizeof value, "%.4g", json_number_value(v));
            usim_buf_printf(b, "  %-38s %10s   [%g, %g]  %s\n",
                            json_string_value(json_object_get(k, "knob")), value,
                            api_number(k, "lo"), api_number(k, "hi"),
                            json_string_value(json_object_get(k, "what")));
        }
        return USIM_OK;
    }
    usim_buf_printf(b, "calibrated %s on %s (%.0f rows, %.0f evaluations)\n",
                    json_string_value(json_object_get(res, "hw")),
                    json_string_value(json_object_get(res, "measurements")),
                    api_number(res, "rows"), api_number(res, "evaluations"));
    usim_buf_printf(b, "  %-38s %10s %10s %14s %12s\n", "knob", "before", "after", "bounds",
                    "sensitivity");
    json_array_foreach(knobs, i, k)
    {
        char bounds[40];
        snprintf(bounds, sizeof bounds, "%.3g:%.3g", api_number(k, "lo"), api_number(k, "hi"));
        usim_buf_printf(b, "  %-38s %10.4g %10.4g %14s %12.2f\n",
                        json_string_value(json_object_get(k, "knob")), api_number(k, "before"),
                        api_number(k, "after"), bounds, api_number(k, "sensitivity"));
    }
    usim_buf_printf(b, "  fit: MAPE %.1f%% before, %.1f%% after\n", api_number(res, "mape_before_pct"),
                    api_number(res, "mape_after_pct"));
    const char *out = json_string_value(json_object_get(res, "out"));
    usim_buf_printf(b, "%s%s%s\n", out ? "wrote " : "no --out: nothing written",
                    out ? out : "", out ? " (use it as --hw anywhere)" : "");
    return USIM_OK;
}

const api_command api_cmd_calibrate = {
    {"calibrate", "fit a hardware description's measured figures to your own runs",
     "ultrasim calibrate --measurements FILE.csv --hw NAME|FILE [--stack NAME|FILE] "
     "[--knobs A,B] [--bounds KNOB=LO:HI] [--name NAME] [-o FILE.json] [--list-knobs] [--json]",
     "Runs every row of FILE.csv (the columns of validate: training, serving,\n"
     "collectives or GEMM rows) on --hw, and moves the chosen knobs, in log space\n"
     "and within their bounds, until the predictions match the measurements: a\n"
     "robust (soft L1) loss of log(predicted / measured), so one bad row cannot drag\n"
     "the fit. Without --knobs it fits the two knobs the rows are most sensitive to.\n"
     "It prints each knob before and after and the fit error, warns when the rows\n"
     "cannot tell two knobs apart, and with -o writes the description with the fitted\n"
     "values, each cited to the fit: it works wherever a preset does. A fit pinned at\n"
     "a bound is an error.",
     NULL, CALIBRATE_OPTIONS, sizeof CALIBRATE_OPTIONS / sizeof CALIBRATE_OPTIONS[0]},
    calibrate_run,
    calibrate_render,
};
