/*
 * The front door: a JSON request in, a JSON result out.
 *
 * A request names its command and carries option values; before any handler
 * runs, every key is checked against the command's option table, so a typo or
 * an absurd value fails the same way whether it came from the command line,
 * a sweep file or a binding.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/schema.h"

#ifndef USIM_VERSION_STRING
#define USIM_VERSION_STRING "0.0.0"
#endif

const char *usim_version(void)
{
    return USIM_VERSION_STRING;
}

static const usim_option *option_find(const usim_command *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->option_count; i++)
        if (strcmp(cmd->options[i].name, name) == 0)
            return &cmd->options[i];
    return NULL;
}

static usim_status unknown_option(const usim_command *cmd, const char *name, usim_error *err)
{
    const char *names[64];
    size_t n = cmd->option_count < 64 ? cmd->option_count : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = cmd->options[i].name;
    const char *near = usim_closest(name, names, n);
    if (near)
        return usim_fail_field(err, USIM_EINPUT, name,
                               "unknown option for '%s'; did you mean '--%s'?", cmd->name, near);
    return usim_fail_field(err, USIM_EINPUT, name,
                           "unknown option for '%s' ('ultrasim %s --help' lists them)",
                           cmd->name, cmd->name);
}

/* The option's value as text: a string as is, a number printed exactly. */
static bool value_text(json_t *v, char *buf, size_t size)
{
    if (json_is_string(v)) {
        snprintf(buf, size, "%s", json_string_value(v));
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return true;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%.17g", json_real_value(v));
        return true;
    }
    return false;
}

static usim_status parse_int(const usim_option *o, const char *text, int64_t *out,
                             usim_error *err)
{
    usim_error perr;
    usim_error_clear(&perr);
    if (usim_parse_count(text, out, &perr) != USIM_OK) /* the range helps fix it */
        return usim_fail_field(err, USIM_EINPUT, o->name, "%s; allowed %.0f to %.0f",
                               perr.message, o->min, o->max);
    if ((double)*out < o->min || (double)*out > o->max)
        return usim_fail_field(err, USIM_EINPUT, o->name,
                               "%s is out of range; allowed %.0f to %.0f", text, o->min, o->max);
    return USIM_OK;
}

static usim_status parse_quantity(const usim_option *o, const char *text, double *out,
                                  usim_error *err)
{
    usim_error perr;
    usim_error_clear(&perr);
    if (usim_parse_quantity(text, o->unit, out, &perr) != USIM_OK)
        return usim_fail_field(err, USIM_EINPUT, o->name, "%s", perr.message);
    if (!(*out >= o->min && *out <= o->max)) {
        char lo[48], hi[48];
        usim_format_quantity(o->min, o->unit, lo, sizeof lo);
        usim_format_quantity(o->max, o->unit, hi, sizeof hi);
        if (o->unit == USIM_UNIT_NONE) {
            snprintf(lo, sizeof lo, "%g", o->min);
            snprintf(hi, sizeof hi, "%g", o->max);
        }
        return usim_fail_field(err, USIM_EINPUT, o->name, "%s is out of range; allowed %s to %s",
                               text, lo, hi);
    }
    return USIM_OK;
}

static usim_status parse_choice(const usim_option *o, const char *text, int *index,
                                usim_error *err)
{
    size_t n = 0;
    char list[512] = "";
    while (o->choices[n]) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", n ? ", " : "", o->choices[n]);
        if (strcmp(o->choices[n], text) == 0) {
            *index = (int)n;
            return USIM_OK;
        }
        n++;
    }
    const char *near = usim_closest(text, o->choices, n);
    return usim_fail_field(err, USIM_EINPUT, o->name, "'%s' is not one of %s%s%s%s", text, list,
                           near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

static usim_status check_value(const usim_option *o, json_t *v, usim_error *err)
{
    char text[1024];
    if (o->type == USIM_OPT_FLAG) {
        if (!json_is_boolean(v))
            return usim_fail_field(err, USIM_EINPUT, o->name, "is a flag: expected true or false");
        return USIM_OK;
    }
    if (json_is_object(v) && o->inline_json)
        return USIM_OK; /* checked by the loader of what it describes */
    if (!value_text(v, text, sizeof text))
        return usim_fail_field(err, USIM_EINPUT, o->name, "expected a string or a number");
    switch (o->type) {
    case USIM_OPT_INT: {
        int64_t n;
        return parse_int(o, text, &n, err);
    }
    case USIM_OPT_QUANTITY: {
        double x;
        return parse_quantity(o, text, &x, err);
    }
    case USIM_OPT_CHOICE: {
        int i;
        return parse_choice(o, text, &i, err);
    }
    case USIM_OPT_STRING:
        if (!text[0])
            return usim_fail_field(err, USIM_EINPUT, o->name, "must not be empty");
        return USIM_OK;
    case USIM_OPT_FLAG:
        break;
    }
    return USIM_OK;
}

usim_status api_validate(const usim_command *cmd, json_t *request, usim_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(request, key, v)
    {
        if (strcmp(key, "command") == 0)
            continue;
        const usim_option *o = option_find(cmd, key);
        if (!o)
            return unknown_option(cmd, key, err);
        usim_status st = check_value(o, v, err);
        if (st != USIM_OK)
            return st;
    }
    for (size_t i = 0; i < cmd->option_count; i++) {
        const usim_option *o = &cmd->options[i];
        if (o->required && !json_object_get(request, o->name))
            return usim_fail_field(err, USIM_EINPUT, o->name, "is required for '%s' (%s)",
                                   cmd->name, cmd->usage);
    }
    return USIM_OK;
}

/* The request's text for option name, or its default; NULL when neither. */
static const char *text_of(const usim_command *cmd, json_t *req, const char *name, char *buf,
                           size_t size, const usim_option **opt)
{
    *opt = option_find(cmd, name);
    json_t *v = json_object_get(req, name);
    if (v && value_text(v, buf, size))
        return buf;
    return *opt ? (*opt)->default_text : NULL;
}

usim_status api_string(const usim_command *cmd, json_t *req, const char *name,
                       const char **out, usim_error *err)
{
    const usim_option *o;
    json_t *v = json_object_get(req, name);
    (void)err;
    o = option_find(cmd, name);
    *out = v && json_is_string(v) ? json_string_value(v) : o ? o->default_text : NULL;
    return USIM_OK;
}

usim_status api_int(const usim_command *cmd, json_t *req, const char *name, int64_t *out,
                    bool *present, usim_error *err)
{
    const usim_option *o;
    char buf[256];
    const char *text = text_of(cmd, req, name, buf, sizeof buf, &o);
    if (present)
        *present = text != NULL;
    if (!text || !o)
        return USIM_OK;
    return parse_int(o, text, out, err);
}

usim_status api_quantity(const usim_command *cmd, json_t *req, const char *name, double *out,
                         bool *present, usim_error *err)
{
    const usim_option *o;
    char buf[256];
    const char *text = text_of(cmd, req, name, buf, sizeof buf, &o);
    if (present)
        *present = text != NULL;
    if (!text || !o)
        return USIM_OK;
    return parse_quantity(o, text, out, err);
}

usim_status api_choice(const usim_command *cmd, json_t *req, const char *name, int *index,
                       usim_error *err)
{
    const usim_option *o;
    char buf[256];
    const char *text = text_of(cmd, req, name, buf, sizeof buf, &o);
    if (!text || !o)
        return usim_fail_field(err, USIM_EINPUT, name, "has no value and no default");
    return parse_choice(o, text, index, err);
}

bool api_flag(json_t *req, const char *name)
{
    return json_is_true(json_object_get(req, name));
}

static atomic_bool progress_off;

void api_set_progress(bool on)
{
    atomic_store(&progress_off, !on);
}

bool api_progress_on(void)
{
    return !atomic_load(&progress_off);
}

int64_t api_next_int(const usim_command *cmd, json_t *req, const char *name, int64_t def,
                     usim_status *st, usim_error *err)
{
    int64_t v = def;
    bool present = false;
    if (*st == USIM_OK)
        *st = api_int(cmd, req, name, &v, &present, err);
    return present ? v : def;
}

double api_next_quantity(const usim_command *cmd, json_t *req, const char *name, double def,
                         usim_status *st, usim_error *err)
{
    double v = def;
    bool present = false;
    if (*st == USIM_OK)
        *st = api_quantity(cmd, req, name, &v, &present, err);
    return present ? v : def;
}

int api_next_choice(const usim_command *cmd, json_t *req, const char *name, usim_status *st,
                    usim_error *err)
{
    int v = 0;
    if (*st == USIM_OK)
        *st = api_choice(cmd, req, name, &v, err);
    return v;
}

/* The files a run writes beside its result, checked before it writes any:
 * a trace written and then a report refused left the trace behind, and a
 * sweep ran every point before its CSV's folder was found missing. */
static usim_status check_outputs(json_t *request, usim_error *err)
{
    static const char *const OUTPUTS[][2] = {
        {"trace", ""}, {"report", ""}, {"export-et", ".comm_group.json"}, {"csv", ""}};
    for (size_t i = 0; i < sizeof OUTPUTS / sizeof OUTPUTS[0]; i++) {
        const char *path = json_string_value(json_object_get(request, OUTPUTS[i][0]));
        char file[4096];
        if (!path)
            continue;
        snprintf(file, sizeof file, "%s%s", path, OUTPUTS[i][1]);
        usim_status st = usim_output_check(file, err);
        if (st != USIM_OK) {
            if (err)
                snprintf(err->field, sizeof err->field, "%s", OUTPUTS[i][0]);
            return st;
        }
    }
    return USIM_OK;
}

usim_status api_run(json_t *request, json_t **result, usim_error *err)
{
    *result = NULL;
    if (!json_is_object(request))
        return usim_fail(err, USIM_EINPUT, "a request is a JSON object with a \"command\" key");
    const char *name = json_string_value(json_object_get(request, "command"));
    if (!name)
        return usim_fail_field(err, USIM_EINPUT, "command", "missing or not a string");
    const api_command *cmd = api_command_find(name);
    if (!cmd || !cmd->run)
        return usim_fail_field(err, USIM_EINPUT, "command",
                               "unknown command '%s' ('ultrasim --help' lists them)", name);
    usim_status st = api_validate(&cmd->info, request, err);
    if (st == USIM_OK)
        st = check_outputs(request, err);
    if (st != USIM_OK)
        return st;
    st = cmd->run(request, result, err);
    if (st == USIM_OK && !*result) /* a bug, but never "out of memory" in disguise */
        st = usim_fail(err, USIM_ERUNTIME, "'%s' could not build its result", name);
    if (st == USIM_OK && *result && !json_object_get(*result, "command"))
        json_object_set_new(*result, "command", json_string(name));
    /* --report FILE.html: the result as a page (with the trace, if one was written) */
    const char *report = json_string_value(json_object_get(request, "report"));
    if (st == USIM_OK && report && strcmp(name, "report") != 0) {
        st = api_write_report(*result, json_string_value(json_object_get(request, "trace")),
                              report, err);
        if (st == USIM_OK)
            json_object_set_new(*result, "report_html", json_string(report));
    }
    if (st != USIM_OK && *result) {
        json_decref(*result);
        *result = NULL;
    }
    return st;
}

usim_status usim_run(const char *request_json, char **result_json, usim_error *err)
{
    json_t *req = NULL, *res = NULL;
    *result_json = NULL;
    usim_status st = usim_json_parse("<request>", request_json, &req, err);
    if (st != USIM_OK)
        return st;
    st = api_run(req, &res, err);
    json_decref(req);
    if (st != USIM_OK)
        return st;
    *result_json = json_dumps(res, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(res);
    return *result_json ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

usim_status usim_render_text(const char *command, const char *result_json, char **text,
                             usim_error *err)
{
    const api_command *cmd = api_command_find(command);
    if (!cmd || !cmd->render)
        return usim_fail(err, USIM_EINPUT, "no text form for command '%s'", command);
    json_t *res = NULL;
    usim_status st = usim_json_parse("<result>", result_json, &res, err);
    if (st != USIM_OK)
        return st;
    usim_buf b = {0};
    st = cmd->render(res, &b, err);
    json_decref(res);
    if (st != USIM_OK) {
        usim_buf_free(&b);
        return st;
    }
    *text = usim_buf_take(&b);
    return *text ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

/* ---- results with figures that do not exist --------------------------- */

/* jansson refuses NaN and infinity: json_real() returns NULL and api_pack()
 * fails as a whole, so one undefined figure used to lose the entire result
 * (reported as "out of memory"). Results are built with api_pack() instead
 * (every command uses it): a non-finite "f" becomes null, and in an
 * object a sibling "KEY_reason" says why unless the result gives its own. */

typedef struct pack_state {
    const char *fmt;
    va_list *ap;
    bool failed;
} pack_state;

static json_t *pack_value(pack_state *p);

static void pack_skip(pack_state *p)
{
    while (*p->fmt == ' ' || *p->fmt == '\t' || *p->fmt == '\n' || *p->fmt == ':' ||
           *p->fmt == ',')
        p->fmt++;
}

static bool pack_nullable(pack_state *p)
{
    if (*p->fmt != '?')
        return false;
    p->fmt++;
    return true;
}

const char *api_nonfinite_reason(double v)
{
    return isnan(v) ? "not defined for this input" : "infinite for this input";
}

static void pack_object_member(pack_state *p, json_t *obj, const char *key)
{
    bool real = *p->fmt == 'f';
    double v = 0;
    json_t *value;
    if (real) {
        p->fmt++;
        v = va_arg(*p->ap, double);
        value = isfinite(v) ? json_real(v) : json_null();
    } else {
        value = pack_value(p);
    }
    if (!value || !key) {
        p->failed = true;
        json_decref(value);
        return;
    }
    json_object_set_new(obj, key, value);
    if (real && !isfinite(v)) {
        char reason_key[256];
        snprintf(reason_key, sizeof reason_key, "%s_reason", key);
        if (!json_object_get(obj, reason_key))
            json_object_set_new(obj, reason_key, json_string(api_nonfinite_reason(v)));
    }
}

static json_t *pack_object(pack_state *p)
{
    json_t *obj = json_object();
    for (pack_skip(p); *p->fmt && *p->fmt != '}'; pack_skip(p)) {
        if (*p->fmt != 's') { /* a key is always a string */
            p->failed = true;
            break;
        }
        p->fmt++;
        const char *key = va_arg(*p->ap, const char *);
        pack_skip(p);
        pack_object_member(p, obj, key);
    }
    if (*p->fmt == '}')
        p->fmt++;
    else
        p->failed = true;
    return obj;
}

static json_t *pack_array(pack_state *p)
{
    json_t *arr = json_array();
    for (pack_skip(p); *p->fmt && *p->fmt != ']'; pack_skip(p)) {
        json_t *v = pack_value(p);
        if (!v)
            p->failed = true;
        else
            json_array_append_new(arr, v);
    }
    if (*p->fmt == ']')
        p->fmt++;
    else
        p->failed = true;
    return arr;
}

/* One value of the format: the subset of json_pack's grammar results use. */
static json_t *pack_value(pack_state *p)
{
    char c = *p->fmt++;
    switch (c) {
    case '{':
        return pack_object(p);
    case '[':
        return pack_array(p);
    case 's': {
        const char *text = va_arg(*p->ap, const char *);
        bool nullable = pack_nullable(p);
        return text ? json_string(text) : nullable ? json_null() : NULL;
    }
    case 'n':
        return json_null();
    case 'b':
        return json_boolean(va_arg(*p->ap, int));
    case 'i':
        return json_integer(va_arg(*p->ap, int));
    case 'I':
        return json_integer(va_arg(*p->ap, json_int_t));
    case 'f': {
        double v = va_arg(*p->ap, double);
        return isfinite(v) ? json_real(v) : json_null();
    }
    case 'o':
    case 'O': {
        json_t *v = va_arg(*p->ap, json_t *);
        bool nullable = pack_nullable(p);
        if (c == 'O')
            json_incref(v);
        return v ? v : nullable ? json_null() : NULL;
    }
    default: /* a conversion results do not use (s#, o*): a bug, not data */
        p->failed = true;
        return NULL;
    }
}

void api_why(json_t *list, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(list, json_string(line));
}

json_t *api_pack(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pack_state p = {fmt, &ap, false};
    pack_skip(&p);
    json_t *v = pack_value(&p);
    pack_skip(&p);
    va_end(ap);
    if (p.failed || *p.fmt || !v) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *api_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void api_put_real(json_t *obj, const char *key, double v)
{
    json_object_set_new(obj, key, api_real(v));
    char reason_key[128];
    snprintf(reason_key, sizeof reason_key, "%s_reason", key);
    if (!isfinite(v) && !json_object_get(obj, reason_key))
        json_object_set_new(obj, reason_key, json_string(api_nonfinite_reason(v)));
}

/* ---- help ----------------------------------------------------------- */

static void help_option(usim_buf *b, const usim_option *o)
{
    char head[96];
    if (o->type == USIM_OPT_FLAG)
        snprintf(head, sizeof head, "--%s", o->name);
    else
        snprintf(head, sizeof head, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
    usim_buf_printf(b, "  %-26s %s", head, o->help);
    if (o->type == USIM_OPT_CHOICE) {
        usim_buf_puts(b, " (");
        for (size_t i = 0; o->choices[i]; i++)
            usim_buf_printf(b, "%s%s", i ? "|" : "", o->choices[i]);
        usim_buf_puts(b, ")");
    }
    if (o->required)
        usim_buf_puts(b, " [required]");
    else if (o->default_text)
        usim_buf_printf(b, " [default: %s]", o->default_text);
    usim_buf_puts(b, "\n");
}

char *usim_command_help(const usim_command *cmd)
{
    usim_buf b = {0};
    usim_buf_printf(&b, "usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->description)
        usim_buf_printf(&b, "\n%s\n", cmd->description);
    usim_buf_puts(&b, "\noptions:\n");
    for (size_t i = 0; i < cmd->option_count; i++)
        help_option(&b, &cmd->options[i]);
    usim_buf_printf(&b, "  %-26s %s\n", "--json", "print the result as JSON");
    usim_buf_printf(&b, "  %-26s %s\n", "-h, --help", "show this help (anywhere on the line)");
    usim_buf_puts(&b,
                  "\nValues take human units (96GiB, 2.9TB/s, 200Gbps, 1us, 2.4GHz, "
                  "1.3PFLOPS).\nExit codes: 0 ok, 1 runtime failure, 2 usage or input "
                  "error.\n");
    return usim_buf_take(&b);
}

/* ---- text helpers shared by renderers -------------------------------- */

/* A figure that is absent or null reads as NaN, never as 0. */
double api_number(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void api_text_value(json_t *obj, const char *key, usim_unit unit, char *buf, size_t size)
{
    double v = api_number(obj, key);
    if (isfinite(v)) {
        usim_format_quantity(v, unit, buf, size);
        return;
    }
    char reason_key[256];
    snprintf(reason_key, sizeof reason_key, "%s_reason", key);
    const char *reason = json_string_value(json_object_get(obj, reason_key));
    snprintf(buf, size, "n/a (%s)", reason ? reason : "not computed");
}

const char *api_plural(double n)
{
    return n == 1 ? "" : "s";
}

void api_text_count(double n, char *buf, size_t size)
{
    static const struct {
        double scale;
        const char *symbol;
    } SCALES[] = {{1e12, " T"}, {1e9, " B"}, {1e6, " M"}, {1e3, " K"}};
    for (size_t i = 0; i < sizeof SCALES / sizeof SCALES[0]; i++) {
        if (fabs(n) >= SCALES[i].scale) {
            snprintf(buf, size, "%.4g%s", n / SCALES[i].scale, SCALES[i].symbol);
            return;
        }
    }
    snprintf(buf, size, "%.0f", n);
}

void api_text_quantity(usim_buf *b, const char *label, json_t *result, const char *key,
                       usim_unit unit)
{
    char value[256];
    api_text_value(result, key, unit, value, sizeof value);
    usim_buf_printf(b, "  %-24s %s\n", label, value);
}

void api_text_share(usim_buf *b, const char *label, int width, double seconds, double whole)
{
    char v[32];
    usim_format_quantity(seconds, USIM_UNIT_SECONDS, v, sizeof v);
    if (!(whole > 0)) { /* no whole to share: no percentage */
        usim_buf_printf(b, "  %-*s %10s\n", width, label, v);
        return;
    }
    usim_buf_printf(b, "  %-*s %10s  %5.1f%%\n", width, label, v, 100.0 * seconds / whole);
}

usim_status api_write_json(const char *path, json_t *doc, size_t flags, usim_error *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | flags);
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    memcpy(line + n, "\n", 2);
    usim_status st = usim_write_file_atomic(path, line, n + 1, err);
    free(line);
    return st;
}
