/*
 * `ultrasim report`: one self-contained HTML page from a result (`--json` of
 * train, serve, goodput, plan, collective, study) or a sweep database. No
 * network is needed to view it: the charts are inline SVG drawn by the plot
 * layer, the styles and the few lines of script (sorting a table, saving the
 * embedded trace) are in the page. `train`, `serve`, `goodput`, `plan` and
 * `study` write the same page with --report FILE.html.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/report.h"

extern const api_command api_cmd_report;

static const char *const REPORT_POSITIONALS[] = {"input", NULL};

static const usim_option REPORT_OPTIONS[] = {
    {"input", USIM_OPT_STRING, USIM_UNIT_NONE, "RESULT.json|SWEEP.db",
     "a result ('ultrasim COMMAND ... --json') or a sweep database", NULL, NULL, 0, 0, true},
    {"out", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.html", "the page to write (-o)", NULL, NULL, 0,
     0, true},
};

/* ---- HTML pieces ------------------------------------------------------ */

static void esc(usim_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': usim_buf_printf(b, "&lt;"); break;
        case '>': usim_buf_printf(b, "&gt;"); break;
        case '&': usim_buf_printf(b, "&amp;"); break;
        case '"': usim_buf_printf(b, "&quot;"); break;
        default: usim_buf_printf(b, "%c", *s);
        }
    }
}

static const char STYLE[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:72em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}"
    ".cards{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #ccc;border-radius:6px;"
    "padding:.6em 1em;min-width:10em}.card b{display:block;font-size:1.4em}"
    "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .6em;"
    "text-align:right}th{background:#f4f4f4;cursor:pointer}td:first-child,th:first-child{"
    "text-align:left}pre{background:#f8f8f8;padding:1em;overflow-x:auto;font-size:.85em}"
    "svg{max-width:100%;height:auto}";

/* Sorts a table by the clicked column (numbers as numbers), and saves the
 * embedded trace as a file. */
static const char SCRIPT[] =
    "document.querySelectorAll('table.sortable th').forEach(function(th,i){"
    "th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],"
    "r=Array.from(b.rows),up=th.dataset.up!=='1';th.dataset.up=up?'1':'0';"
    "r.sort(function(x,y){var a=x.cells[i].textContent,c=y.cells[i].textContent,"
    "p=parseFloat(a),q=parseFloat(c);var d=(!isNaN(p)&&!isNaN(q))?p-q:a.localeCompare(c);"
    "return up?d:-d});r.forEach(function(e){b.appendChild(e)})})});"
    "var tr=document.getElementById('trace');if(tr){document.getElementById('save').addEventListener("
    "'click',function(){var a=document.createElement('a');a.href=URL.createObjectURL(new Blob("
    "[tr.textContent],{type:'application/json'}));a.download='trace.json';a.click()})}";

static void page_start(usim_buf *b, const char *title)
{
    usim_buf_printf(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>");
    esc(b, title);
    usim_buf_printf(b, "</title><style>%s</style></head><body>\n<h1>", STYLE);
    esc(b, title);
    usim_buf_printf(b, "</h1>\n");
}

static void page_end(usim_buf *b)
{
    usim_buf_printf(b, "<p><small>Written by ultrasim %s.</small></p>\n<script>%s</script>"
                       "\n</body></html>\n",
                    usim_version(), SCRIPT);
}

static void card(usim_buf *b, const char *label, double v, usim_unit unit, double scale,
                 const char *suffix)
{
    if (!isfinite(v))
        return;
    char text[64];
    if (unit == USIM_UNIT_NONE)
        snprintf(text, sizeof text, "%.4g%s", v * scale, suffix);
    else
        usim_format_quantity(v, unit, text, sizeof text);
    usim_buf_printf(b, "<div class=\"card\">");
    esc(b, label);
    usim_buf_printf(b, "<b>%s</b></div>", text);
}

/* An SVG inline in the page, without its XML declaration and with its ids
 * made its own: Cairo names every chart's glyphs and clips alike
 * ("glyph0-1"), and in one document the second chart would draw the first's
 * letters. */
static void inline_svg(usim_buf *b, const char *svg)
{
    const char *p = strstr(svg, "<svg");
    char prefix[32];
    /* where the chart starts in the page: unique to it */
    snprintf(prefix, sizeof prefix, "c%zu-", b->len);
    static const char *const REFS[] = {"id=\"", "href=\"#", "url(#"};
    while (p && *p) {
        const char *next = NULL;
        size_t which = 0;
        for (size_t i = 0; i < sizeof REFS / sizeof REFS[0]; i++) {
            const char *q = strstr(p, REFS[i]);
            if (q && (!next || q < next)) {
                next = q;
                which = i;
            }
        }
        if (!next) {
            usim_buf_puts(b, p);
            break;
        }
        size_t n = strlen(REFS[which]);
        usim_buf_printf(b, "%.*s%s", (int)(next - p + n), p, prefix);
        p = next + n;
    }
    usim_buf_puts(b, "\n");
}

/* One stacked bar of the parts of obj (labels from a table), inline. */
static usim_status bar_chart(usim_buf *b, const char *title, const char *ylabel, json_t *obj,
                             const char *const (*parts)[2], size_t nparts, double scale,
                             usim_error *err)
{
    char *labels[1] = {(char *)""}, *names[16];
    double values[16];
    size_t n = 0;
    for (size_t i = 0; i < nparts && n < 16; i++) {
        double v = api_number(obj, parts[i][0]);
        if (isfinite(v) && v > 0) {
            names[n] = (char *)parts[i][1];
            values[n++] = v * scale;
        }
    }
    if (n == 0)
        return USIM_OK;
    report_bars bars;
    memset(&bars, 0, sizeof bars);
    snprintf(bars.title, sizeof bars.title, "%s", title);
    snprintf(bars.ylabel, sizeof bars.ylabel, "%s", ylabel);
    bars.labels = labels;
    bars.parts = names;
    bars.values = values;
    bars.nbars = 1;
    bars.nparts = (int)n;
    char *svg = NULL;
    usim_status st = report_bars_svg(&bars, &svg, err);
    if (st == USIM_OK) {
        usim_buf_printf(b, "<h2>");
        esc(b, title);
        usim_buf_printf(b, "</h2>\n");
        inline_svg(b, svg);
    }
    free(svg);
    return st;
}

/* ---- a result --------------------------------------------------------- */

static const char *const MEMORY_PARTS[][2] = {
    {"weights", "weights"},         {"gradients", "gradients"}, {"optimizer", "optimizer"},
    {"activations", "activations"}, {"temporary", "temporary"}, {"reserve", "reserve"}};

static void headline(usim_buf *b, json_t *r, const char *command)
{
    usim_buf_printf(b, "<div class=\"cards\">");
    if (strcmp(command, "train") == 0) {
        card(b, "step time", api_number(r, "step_time_s"), USIM_UNIT_SECONDS, 1, "");
        card(b, "tokens/s", api_number(r, "tokens_per_s"), USIM_UNIT_NONE, 1, "");
        card(b, "MFU", api_number(r, "mfu"), USIM_UNIT_NONE, 100, "%");
        card(b, "memory per chip",
             api_number(json_object_get(r, "memory"), "total"), USIM_UNIT_BYTES, 1, "");
    } else if (strcmp(command, "serve") == 0) {
        card(b, "TTFT p50", api_number(r, "ttft_p50_s"), USIM_UNIT_SECONDS, 1, "");
        card(b, "TPOT p50", api_number(r, "tpot_p50_s"), USIM_UNIT_SECONDS, 1, "");
        card(b, "output tokens/s", api_number(r, "output_tokens_per_s"), USIM_UNIT_NONE, 1, "");
        card(b, "$ per million tokens", api_number(r, "cost_per_mtok_usd"), USIM_UNIT_NONE, 1,
             "");
    } else if (strcmp(command, "goodput") == 0) {
        card(b, "goodput", api_number(r, "goodput"), USIM_UNIT_NONE, 100, "%");
        card(b, "wall time", api_number(r, "wall_time_s"), USIM_UNIT_SECONDS, 1, "");
        card(b, "cost", api_number(r, "cost_usd"), USIM_UNIT_NONE, 1, " $");
    } else if (strcmp(command, "collective") == 0) {
        card(b, "time", api_number(r, "time_s"), USIM_UNIT_SECONDS, 1, "");
        card(b, "bus bandwidth", api_number(r, "busbw_bytes_per_s"), USIM_UNIT_BYTES_PER_S, 1,
             "");
    }
    usim_buf_printf(b, "</div>\n");
}

/* The plans of a plan search, or the points of a study, as a sortable table. */
static void rows_table(usim_buf *b, const char *title, json_t *rows)
{
    if (!json_is_array(rows) || json_array_size(rows) == 0)
        return;
    json_t *first = json_array_get(rows, 0), *v;
    const char *key;
    usim_buf_printf(b, "<h2>");
    esc(b, title);
    usim_buf_printf(b, "</h2>\n<table class=\"sortable\"><thead><tr>");
    json_object_foreach(first, key, v)
    {
        if (json_is_object(v) || json_is_array(v))
            continue;
        usim_buf_printf(b, "<th>");
        esc(b, key);
        usim_buf_printf(b, "</th>");
    }
    usim_buf_printf(b, "</tr></thead><tbody>\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        usim_buf_printf(b, "<tr>");
        json_object_foreach(first, key, v)
        {
            if (json_is_object(v) || json_is_array(v))
                continue;
            json_t *c = json_object_get(row, key);
            char *text = json_is_string(c) ? strdup(json_string_value(c))
                                          : c ? json_dumps(c, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6))
                                              : strdup("");
            usim_buf_printf(b, "<td>");
            esc(b, text);
            usim_buf_printf(b, "</td>");
            free(text);
        }
        usim_buf_printf(b, "</tr>\n");
    }
    usim_buf_printf(b, "</tbody></table>\n");
}

static usim_status embed_trace(usim_buf *b, const char *trace_path, usim_error *err)
{
    char *text = NULL;
    usim_status st = usim_read_file(trace_path, &text, NULL, err);
    if (st != USIM_OK)
        return st;
    usim_buf_printf(b, "<h2>Timeline</h2>\n<p>The step's Chrome/Perfetto trace is in this page: "
                       "<button id=\"save\">save trace.json</button>, then open it in "
                       "ui.perfetto.dev or chrome://tracing.</p>\n"
                       "<script type=\"application/json\" id=\"trace\">");
    /* "</" would end the script element early: "<\/" reads the same as JSON */
    const char *p = text, *q;
    while ((q = strstr(p, "</")) != NULL) {
        usim_buf_printf(b, "%.*s<\\/", (int)(q - p), p);
        p = q + 2;
    }
    usim_buf_puts(b, p);
    usim_buf_printf(b, "</script>\n");
    free(text);
    return USIM_OK;
}

/* A study's chart (the SVG beside its Markdown) inline, and the Markdown. */
static usim_status study_part(usim_buf *b, const char *markdown, usim_error *err)
{
    char *md = NULL, *svg = NULL, path[600];
    if (!markdown)
        return USIM_OK;
    usim_status st = usim_read_file(markdown, &md, NULL, err);
    size_t n = strlen(markdown);
    snprintf(path, sizeof path, "%.*s.svg", (int)(n > 3 ? n - 3 : n), markdown);
    if (st == USIM_OK)
        st = usim_read_file(path, &svg, NULL, err);
    if (st == USIM_OK) {
        usim_buf_printf(b, "<h2>The study's chart</h2>\n");
        inline_svg(b, svg);
        usim_buf_printf(b, "<h2>The study</h2>\n<pre>");
        esc(b, md);
        usim_buf_printf(b, "</pre>\n");
    }
    free(md);
    free(svg);
    return st;
}

static usim_status result_page(usim_buf *b, json_t *r, const char *trace, usim_error *err)
{
    const char *command = json_string_value(json_object_get(r, "command"));
    char title[300];
    const char *model = json_string_value(json_object_get(r, "model"));
    const char *hw = json_string_value(json_object_get(r, "hw"));
    snprintf(title, sizeof title, "ultrasim %s%s%s%s%s", command, model ? ": " : "",
             model ? model : "", hw ? " on " : "", hw ? hw : "");
    page_start(b, title);
    headline(b, r, command);
    usim_status st = USIM_OK;
    if (json_object_get(r, "breakdown"))
        st = bar_chart(b, "Where a step goes (s)", "seconds", json_object_get(r, "breakdown"),
                       api_step_parts, API_STEP_PARTS, 1, err);
    if (st == USIM_OK && json_is_object(json_object_get(r, "memory")))
        st = bar_chart(b, "Memory per chip (GiB)", "GiB", json_object_get(r, "memory"),
                       MEMORY_PARTS, sizeof MEMORY_PARTS / sizeof MEMORY_PARTS[0],
                       1.0 / (1024.0 * 1024 * 1024), err);
    rows_table(b, "Plans", json_object_get(r, "plans"));
    if (st == USIM_OK && strcmp(command, "study") == 0)
        st = study_part(b, json_string_value(json_object_get(r, "report")), err);
    char *json = json_dumps(r, 0), *text = NULL;
    usim_error e;
    if (st == USIM_OK && json && usim_render_text(command, json, &text, &e) == USIM_OK) {
        usim_buf_printf(b, "<h2>The run, as the command line prints it</h2>\n<pre>");
        esc(b, text);
        usim_buf_printf(b, "</pre>\n");
    }
    free(text);
    free(json);
    if (st == USIM_OK && trace)
        st = embed_trace(b, trace, err);
    page_end(b);
    return st;
}

/* ---- a sweep ---------------------------------------------------------- */

static usim_status sweep_page(usim_buf *b, const char *path, usim_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, status, reason, request, result FROM points ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK) {
        usim_status st = usim_fail(err, USIM_EINPUT, "%s: not a sweep database (%s)", path,
                                   sqlite3_errmsg(db));
        sqlite3_close(db);
        return st;
    }
    json_t *rows = json_array();
    while (sqlite3_step(q) == SQLITE_ROW) {
        json_t *row = api_pack("{s:I, s:s}", "id", (json_int_t)sqlite3_column_int64(q, 0),
                               "status", (const char *)sqlite3_column_text(q, 1));
        const char *reason = (const char *)sqlite3_column_text(q, 2);
        json_object_set_new(row, "reason", json_string(reason ? reason : ""));
        for (int c = 3; c <= 4; c++) {
            const char *text = (const char *)sqlite3_column_text(q, c);
            json_t *o = text ? json_loads(text, 0, NULL) : NULL, *v;
            const char *key;
            json_object_foreach(o, key, v) if (!json_object_get(row, key) && !json_is_object(v) &&
                                               !json_is_array(v))
                json_object_set(row, key, v);
            json_decref(o);
        }
        json_array_append_new(rows, row);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    char title[400];
    snprintf(title, sizeof title, "ultrasim sweep: %s (%zu points)", path, json_array_size(rows));
    page_start(b, title);
    rows_table(b, "Points (click a column to sort)", rows);
    json_decref(rows);
    page_end(b);
    return USIM_OK;
}

/* ---- entry points ----------------------------------------------------- */

static usim_status write_page(const usim_buf *b, const char *path, usim_error *err)
{
    if (b->failed)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    return usim_write_file_atomic(path, b->data, b->len, err);
}

usim_status api_write_report(json_t *result, const char *trace, const char *path,
                             usim_error *err)
{
    usim_buf b = {NULL, 0, 0, false};
    usim_status st = result_page(&b, result, trace, err);
    if (st == USIM_OK)
        st = write_page(&b, path, err);
    usim_buf_free(&b);
    return st;
}

/* What a page of each command's result reads without asking: a result
 * missing one, or holding the wrong type, was not written by the command
 * (or was edited) and is refused rather than drawn as "(null)" and "nan".
 * Each key is "T:name", T its type: s a string, n a number (or null: a
 * figure that does not exist), o an object, a an array. */
static const struct {
    const char *command;
    const char *when; /* the entry holds for a result with this key not null (NULL: any) */
    const char *keys[14];
} RESULT_KEYS[] = {
    {"train", NULL, {"s:model", "s:hw", "n:chips", "o:plan", "n:step_time_s", "n:tokens_per_s",
                     "n:mfu", "o:memory", "o:breakdown", "n:params"}},
    {"serve", "sweep", {"s:model", "s:hw", "n:chips", "s:engine", "a:sweep"}},
    {"serve", NULL, {"s:model", "s:hw", "n:chips", "n:tp", "n:pp", "n:replicas", "s:engine",
                     "s:scheduler", "o:ttft", "o:tpot", "o:e2e", "o:explain",
                     "n:output_tokens_per_s"}},
    {"goodput", NULL, {"s:model", "s:hw", "n:chips", "n:goodput", "n:wall_time_s",
                       "n:solve_time_s", "n:mtbf_s", "o:failures_by_part"}},
    {"plan", NULL, {"s:model", "s:hw", "n:chips", "s:objective", "n:simulated"}},
    {"study", NULL, {"s:out", "s:report"}},
    {"collective", "sweep", {"s:hw", "n:chips", "s:op", "s:model", "a:rows"}},
    {"collective", NULL, {"s:hw", "n:chips", "s:op", "s:model", "n:time_s", "o:busiest_link",
                          "o:tier_seconds"}},
    {"gemm", NULL, {"s:hw", "s:model", "n:m", "n:n", "n:k", "n:seconds"}},
    {"attention", NULL, {"s:hw", "s:pass", "n:seq", "n:kv_len", "n:flops"}},
    {"replay", NULL, {"s:et", "s:hw", "n:chips", "n:ranks", "n:step_time_s", "o:busiest_rank",
                      "o:collectives_s"}},
    {"calibrate", NULL, {"s:hw", "a:knobs"}},
    {"hw show", NULL, {"s:name", "s:description"}},
    {"hw list", NULL, {"a:presets"}},
    {"models", NULL, {"a:models"}},
    {"validate", NULL, {"a:rows", "o:sets"}},
};

static bool of_type(json_t *v, char type)
{
    switch (type) {
    case 's':
        return json_is_string(v);
    case 'n':
        return json_is_number(v) || json_is_null(v);
    case 'o':
        return json_is_object(v);
    default:
        return json_is_array(v);
    }
}

static const char *type_name(char type)
{
    return type == 's' ? "a string" : type == 'n' ? "a number or null" : type == 'o' ? "an object"
                                                                                     : "an array";
}

static usim_status check_result(const char *input, json_t *r, usim_error *err)
{
    const char *command = json_string_value(json_object_get(r, "command"));
    char allowed[256] = "";
    for (size_t i = 0; i < sizeof RESULT_KEYS / sizeof RESULT_KEYS[0]; i++) {
        size_t used = strlen(allowed);
        if (i == 0 || strcmp(RESULT_KEYS[i].command, RESULT_KEYS[i - 1].command) != 0)
            snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "",
                     RESULT_KEYS[i].command);
        json_t *shape = RESULT_KEYS[i].when ? json_object_get(r, RESULT_KEYS[i].when) : NULL;
        if (strcmp(command, RESULT_KEYS[i].command) != 0 ||
            (RESULT_KEYS[i].when && (!shape || json_is_null(shape))))
            continue;
        for (const char *const *k = RESULT_KEYS[i].keys; *k; k++)
            if (!of_type(json_object_get(r, *k + 2), **k))
                return usim_fail(err, USIM_EINPUT,
                                 "%s: field '%s' is missing or not %s: not a %s result as "
                                 "'ultrasim %s --json' writes it",
                                 input, *k + 2, type_name(**k), command, command);
        return USIM_OK;
    }
    return usim_fail(err, USIM_EINPUT, "%s: command '%s' has no report page (allowed: %s)",
                     input, command, allowed);
}

static bool is_sqlite(const char *text, size_t size)
{
    return size >= 16 && memcmp(text, "SQLite format 3", 16) == 0;
}

static usim_status report_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_report.info;
    const char *input = NULL, *out = NULL;
    api_string(cmd, req, "input", &input, err);
    api_string(cmd, req, "out", &out, err);
    char *text = NULL;
    size_t size = 0;
    usim_status st = usim_read_file(input, &text, &size, err);
    if (st != USIM_OK)
        return st;
    usim_buf b = {NULL, 0, 0, false};
    json_t *doc = is_sqlite(text, size) ? NULL : json_loads(text, 0, NULL);
    bool result_json = json_is_string(json_object_get(doc, "command"));
    if (is_sqlite(text, size))
        st = sweep_page(&b, input, err);
    else if (result_json && (st = check_result(input, doc, err)) == USIM_OK)
        st = result_page(&b, doc, NULL, err);
    else if (!result_json)
        st = usim_fail_field(err, USIM_EINPUT, "input",
                             "%s is neither a result ('ultrasim COMMAND ... --json', a JSON "
                             "object with \"command\") nor a sweep database",
                             input);
    if (st == USIM_OK)
        st = write_page(&b, out, err);
    if (st == USIM_OK)
        *result = api_pack("{s:s, s:s, s:i}", "out", out, "input", input, "bytes", (int)b.len);
    usim_buf_free(&b);
    json_decref(doc);
    free(text);
    return st;
}

static usim_status report_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    usim_buf_printf(b, "wrote %s (%.0f bytes) from %s\n",
                    json_string_value(json_object_get(res, "out")), api_number(res, "bytes"),
                    json_string_value(json_object_get(res, "input")));
    return USIM_OK;
}

const api_command api_cmd_report = {
    {"report", "one self-contained HTML page from a result or a sweep",
     "ultrasim report RESULT.json|SWEEP.db --out|-o FILE.html",
     "Writes one HTML page that needs no network to view: the headline figures, where\n"
     "the time goes and memory per chip as inline SVG charts, the plans or points as a\n"
     "table sorted by a click, and the run as the command line prints it. RESULT.json is\n"
     "what 'ultrasim COMMAND ... --json' prints (one missing a field its page reads is\n"
     "refused); a sweep database gives its points.\n"
     "train, serve, goodput, plan and study write the same page with --report FILE.html\n"
     "(train with --trace also embeds the step's Perfetto trace).",
     REPORT_POSITIONALS, REPORT_OPTIONS, sizeof REPORT_OPTIONS / sizeof REPORT_OPTIONS[0]},
    report_run,
    report_render,
};
