/*
 * `ultrasim plot`: charts from a sweep's database or a run's JSON.
 *
 *   scaling    throughput and scaling efficiency against chips (two panels)
 *   breakdown  where each step's time goes, stacked bars
 *   latency    serving latency against throughput
 *   bandwidth  collective bus bandwidth against message size
 *   line       any column against any other
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/report.h"

extern const api_command api_cmd_plot;

static const char *const KINDS[] = {"line", "scaling", "breakdown", "latency", "bandwidth",
                                    NULL};
enum { KIND_LINE, KIND_SCALING, KIND_BREAKDOWN, KIND_LATENCY, KIND_BANDWIDTH };

static const usim_option PLOT_OPTIONS[] = {
    {"db", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.db", "a sweep's database", NULL, NULL, 0, 0,
     false},
    {"result", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.json",
     "a run's saved JSON result (ultrasim train ... --json > FILE.json)", NULL, NULL, 0, 0,
     false},
    {"out", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE", "the image: .svg or .png", NULL, NULL, 0, 0,
     true},
    {"kind", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KIND", "what to draw", "line", KINDS, 0, 0, false},
    {"x", USIM_OPT_STRING, USIM_UNIT_NONE, "COLUMN", "x column (default by kind)", NULL, NULL, 0,
     0, false},
    {"y", USIM_OPT_STRING, USIM_UNIT_NONE, "COLUMN", "y column (default by kind)", NULL, NULL, 0,
     0, false},
    {"series", USIM_OPT_STRING, USIM_UNIT_NONE, "COLUMN", "one line per value of this column",
     NULL, NULL, 0, 0, false},
    {"title", USIM_OPT_STRING, USIM_UNIT_NONE, "TEXT", "chart title", NULL, NULL, 0, 0, false},
    {"logx", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL, "logarithmic x axis", NULL, NULL, 0, 0, false},
    {"logy", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL, "logarithmic y axis", NULL, NULL, 0, 0, false},
};

typedef struct plot_args {
    const char *db, *json, *out, *x, *y, *series, *title;
    int kind;
    bool logx, logy;
} plot_args;

static const char *or_default(const char *v, const char *def)
{
    return v ? v : def;
}

/* Throughput per chip relative to the series' smallest system, in percent. */
static void efficiency_of(const report_chart *throughput, report_chart *eff)
{
    for (int s = 0; s < eff->nseries; s++) {
        report_series *e = &eff->series[s];
        const report_series *t = &throughput->series[s];
        double base = t->n > 0 && t->x[0] > 0 ? t->y[0] / t->x[0] : NAN;
        for (int i = 0; i < e->n; i++)
            e->y[i] = 100.0 * (t->y[i] / t->x[i]) / base;
    }
}

/* Two panels over the best point per chip count: a sweep over more than
 * chips (tp, pp, mbs) has several, and joining them all draws a zigzag. */
static usim_status plot_scaling(const plot_args *a, usim_error *err)
{
    report_chart c[2];
    memset(c, 0, sizeof c);
    const char *x = or_default(a->x, "chips"), *y = or_default(a->y, "tokens_per_s");
    const char *series = a->series ? a->series
                         : report_db_has_column(a->db, "hw") ? "hw"
                                                             : NULL;
    usim_status st = report_db_best_series(a->db, x, y, series, &c[0], err);
    if (st == USIM_OK)
        st = report_db_best_series(a->db, x, y, series, &c[1], err);
    if (st == USIM_OK) {
        efficiency_of(&c[0], &c[1]);
        snprintf(c[0].title, sizeof c[0].title, "%s", or_default(a->title, "Throughput"));
        report_column_label(x, c[0].xunit, c[0].xlabel, sizeof c[0].xlabel);
        report_column_label(y, c[0].yunit, c[0].ylabel, sizeof c[0].ylabel);
        snprintf(c[1].title, sizeof c[1].title, "Scaling efficiency (per chip, vs the smallest)");
        report_column_label(x, c[1].xunit, c[1].xlabel, sizeof c[1].xlabel);
        snprintf(c[1].ylabel, sizeof c[1].ylabel, "efficiency, %%");
        c[0].logx = c[1].logx = c[0].logy = true;
        st = report_plot_lines(c, 2, a->out, err);
    }
    report_chart_free(&c[0]);
    report_chart_free(&c[1]);
    return st;
}

static usim_status plot_line(const plot_args *a, const char *x, const char *y, bool logx,
                             bool logy, usim_error *err)
{
    report_chart c;
    memset(&c, 0, sizeof c);
    usim_status st = report_db_series(a->db, x, y, a->series, &c, err);
    if (st == USIM_OK) {
        snprintf(c.title, sizeof c.title, "%s", or_default(a->title, ""));
        if (!a->title)
            snprintf(c.title, sizeof c.title, "%s against %s", y, x);
        report_column_label(x, c.xunit, c.xlabel, sizeof c.xlabel);
        report_column_label(y, c.yunit, c.ylabel, sizeof c.ylabel);
        c.logx = logx || a->logx;
        c.logy = logy || a->logy;
        st = report_plot_lines(&c, 1, a->out, err);
    }
    report_chart_free(&c);
    return st;
}

/* Breakdown bars from a train result (one bar) or a sweep (one per row). */
#define NPARTS API_STEP_PARTS

static const char *part(int k)
{
    return api_step_parts[k][0];
}

static usim_status plot_breakdown_json(const plot_args *a, json_t *doc, usim_error *err)
{
    json_t *bd = json_object_get(doc, "breakdown");
    if (!json_is_object(bd))
        return usim_fail_field(err, USIM_EINPUT, "result",
                               "%s has no \"breakdown\" (use 'train --json' output)", a->json);
    double values[NPARTS], total = 0;
    char *labels[1] = {(char *)"step"}, *parts[NPARTS];
    for (int k = 0; k < NPARTS; k++) {
        parts[k] = (char *)part(k);
        values[k] = api_number(bd, part(k));
        total += isfinite(values[k]) ? values[k] : 0;
    }
    if (!(total > 0)) /* an empty chart says nothing */
        return usim_fail_field(err, USIM_EINPUT, "result",
                               "%s: its \"breakdown\" has none of a step's parts (%s, ...) "
                               "above 0 s (use 'train --json' output)",
                               a->json, part(0));
    report_bars b = {"", "", "seconds per step", labels, parts, values, 1, NPARTS};
    snprintf(b.title, sizeof b.title, "%s",
             or_default(a->title, "Where a training step's time goes"));
    const char *model = json_string_value(json_object_get(doc, "model"));
    snprintf(b.xlabel, sizeof b.xlabel, "%s", model ? model : "");
    return report_plot_bars(&b, a->out, err);
}

static usim_status plot_json(const plot_args *a, usim_error *err)
{
    char *text = NULL;
    json_t *doc = NULL;
    usim_status st = usim_read_file(a->json, &text, NULL, err);
    if (st == USIM_OK && !(doc = json_loads(text, 0, NULL)))
        st = usim_fail_field(err, USIM_EINPUT, "result", "%s is not JSON", a->json);
    if (st == USIM_OK)
        st = a->kind == KIND_BREAKDOWN ? plot_breakdown_json(a, doc, err)
                                       : usim_fail_field(err, USIM_EINPUT, "kind",
                                                         "from --result, only --kind breakdown "
                                                         "is drawn; use --db for the others");
    json_decref(doc);
    free(text);
    return st;
}

static usim_status plot_breakdown_db(const plot_args *a, usim_error *err)
{
    report_chart parts[NPARTS];
    memset(parts, 0, sizeof parts);
    const char *x = or_default(a->x, "chips");
    usim_status st = USIM_OK;
    int used = 0;
    const char *names[NPARTS];
    for (int k = 0; k < NPARTS && st == USIM_OK; k++) {
        char col[64];
        snprintf(col, sizeof col, "breakdown_%s", part(k));
        if (!report_db_has_column(a->db, col))
            continue;
        st = report_db_series(a->db, x, col, NULL, &parts[used], err);
        names[used++] = part(k);
    }
    if (st == USIM_OK && used == 0)
        st = usim_fail_field(err, USIM_EINPUT, "db", "%s has no breakdown_* columns (a train "
                                                     "sweep has them)",
                             a->db);
    int nbars = st == USIM_OK ? parts[0].series[0].n : 0;
    double *values = calloc((size_t)(nbars * used + 1), sizeof *values);
    char **labels = calloc((size_t)nbars + 1, sizeof *labels);
    if (st == USIM_OK && (!values || !labels))
        st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    for (int i = 0; st == USIM_OK && i < nbars; i++) {
        labels[i] = malloc(32);
        if (labels[i])
            snprintf(labels[i], 32, "%g", parts[0].series[0].x[i]);
        for (int k = 0; k < used; k++)
            values[i * used + k] = parts[k].series[0].y[i];
    }
    if (st == USIM_OK) {
        report_bars b = {"", "", "seconds per step", labels, (char **)names, values, nbars, used};
        snprintf(b.title, sizeof b.title, "%s", or_default(a->title, "Where the step time goes"));
        snprintf(b.xlabel, sizeof b.xlabel, "%s", x);
        st = report_plot_bars(&b, a->out, err);
    }
    for (int i = 0; labels && i < nbars; i++)
        free(labels[i]);
    free(labels);
    free(values);
    for (int k = 0; k < used; k++)
        report_chart_free(&parts[k]);
    return st;
}

static usim_status plot_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_plot.info;
    plot_args a;
    memset(&a, 0, sizeof a);
    api_string(cmd, req, "db", &a.db, err);
    api_string(cmd, req, "result", &a.json, err);
    api_string(cmd, req, "out", &a.out, err);
    api_string(cmd, req, "x", &a.x, err);
    api_string(cmd, req, "y", &a.y, err);
    api_string(cmd, req, "series", &a.series, err);
    api_string(cmd, req, "title", &a.title, err);
    a.logx = api_flag(req, "logx");
    a.logy = api_flag(req, "logy");
    usim_status st = api_choice(cmd, req, "kind", &a.kind, err);
    if (st != USIM_OK)
        return st;
    if (!!a.db == !!a.json)
        return usim_fail_field(err, USIM_EINPUT, "db", "give exactly one of --db and --result");
    if (a.json)
        st = plot_json(&a, err);
    else if (a.kind == KIND_SCALING)
        st = plot_scaling(&a, err);
    else if (a.kind == KIND_BREAKDOWN)
        st = plot_breakdown_db(&a, err);
    else if (a.kind == KIND_LATENCY)
        st = plot_line(&a, or_default(a.x, "output_tokens_per_s"), or_default(a.y, "tpot_p50_s"),
                       false, false, err);
    else if (a.kind == KIND_BANDWIDTH)
        st = plot_line(&a, or_default(a.x, "size"), or_default(a.y, "busbw_bytes_per_s"), true,
                       false, err);
    else if (!a.x || !a.y)
        st = usim_fail_field(err, USIM_EINPUT, "x", "--kind line needs --x and --y columns");
    else
        st = plot_line(&a, a.x, a.y, false, false, err);
    if (st == USIM_OK)
        *result = api_pack("{s:s, s:s}", "out", a.out, "kind", KINDS[a.kind]);
    return st;
}

static usim_status plot_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    usim_buf_printf(b, "wrote %s (%s)\n", json_string_value(json_object_get(res, "out")),
                    json_string_value(json_object_get(res, "kind")));
    return USIM_OK;
}

const api_command api_cmd_plot = {
    {"plot", "draw charts (SVG or PNG) from a sweep database or a run's JSON",
     "ultrasim plot (--db FILE.db | --result FILE.json) --out FILE.svg|png [--kind "
     "line|scaling|breakdown|latency|bandwidth] [--x COL] [--y COL] [--series COL] [--json]",
     "Kinds and their defaults:\n"
     "  scaling    tokens_per_s and per-chip efficiency against chips, a line per hw;\n"
     "             the best point at each chip count when the sweep has several\n"
     "  breakdown  stacked seconds per step by kind (breakdown_* columns, or a train JSON)\n"
     "  latency    tpot_p50_s against output_tokens_per_s (serving sweeps)\n"
     "  bandwidth  busbw_bytes_per_s against size (collective sweeps)\n"
     "  line       --y against --x\n"
     "Columns are those of the sweep's points table ('sqlite3 FILE.db .schema').\n"
     "Legends named by numbers or quantities (512GB/s, 2.9TB/s) are in numeric order.",
     NULL, PLOT_OPTIONS, sizeof PLOT_OPTIONS / sizeof PLOT_OPTIONS[0]},
    plot_run,
    plot_render,
};
