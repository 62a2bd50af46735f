/*
 * The schema reader (see schema.h for the rules it enforces).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/schema.h"

usim_status usim_fail_at(const usim_reader *r, const char *path, bool at_key, usim_error *err,
                         const char *fmt, ...)
{
    if (!err)
        return USIM_EINPUT;
    va_list ap;
    err->status = USIM_EINPUT;
    snprintf(err->file, sizeof err->file, "%s", r->file ? r->file : "");
    snprintf(err->field, sizeof err->field, "%s", path);
    err->line = err->column = 0;
    if (r->text && !usim_json_locate(r->text, path, at_key, &err->line, &err->column))
        err->line = err->column = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return USIM_EINPUT;
}

usim_status usim_json_parse(const char *file, const char *text, json_t **out, usim_error *err)
{
    json_error_t jerr;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (*out)
        return USIM_OK;
    if (err) {
        usim_error_clear(err);
        err->status = USIM_EINPUT;
        snprintf(err->file, sizeof err->file, "%s", file ? file : "<input>");
        err->line = jerr.line;
        err->column = jerr.column;
        snprintf(err->message, sizeof err->message, "malformed JSON: %s", jerr.text);
    }
    return USIM_EINPUT;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static void join_path(char *buf, size_t size, const char *prefix, const char *key)
{
    if (prefix[0])
        snprintf(buf, size, "%s.%s", prefix, key);
    else
        snprintf(buf, size, "%s", key);
}

void usim_format_bound(double v, usim_unit unit, char *buf, size_t size)
{
    if (unit == USIM_UNIT_NONE && v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v); /* a count in full: 1048576, not 1.04858e+06 */
    else if (unit == USIM_UNIT_NONE)
        snprintf(buf, size, "%.6g", v);
    else
        usim_format_quantity(v, unit, buf, size);
}

static usim_status range_error(const usim_reader *r, const char *path, double v, usim_unit unit,
                               double lo, double hi, usim_error *err)
{
    char got[48], blo[48], bhi[48];
    usim_format_bound(v, unit, got, sizeof got);
    usim_format_bound(lo, unit, blo, sizeof blo);
    usim_format_bound(hi, unit, bhi, sizeof bhi);
    return usim_fail_at(r, path, false, err, "%s is out of range; allowed %s to %s", got, blo,
                        bhi);
}

/* Where a figure comes from, for 'hw show --sources': its citation, and its note
 * or derivation. A figure with a note or derivation but no citation is an
 * assumption of ours, and is marked so that a reader weighs it as one. */
static void record_provenance(json_t *sources, const char *path, json_t *cited)
{
    static const char *const KEYS[] = {"source", "note", "derived"};
    json_t *entry = json_object();
    for (size_t i = 0; i < 3; i++) {
        json_t *text = json_object_get(cited, KEYS[i]);
        if (text)
            json_object_set(entry, KEYS[i], text);
    }
    if (json_object_size(entry) == 0) {
        json_decref(entry);
        return;
    }
    json_object_set_new(entry, "assumption", json_boolean(!json_object_get(cited, "source")));
    json_object_set_new(sources, path, entry);
}

/* {"value": ..., "source": ..., "note": ...}: the cited form of a number. */
static usim_status unwrap_cited(const usim_reader *r, const char *path, json_t **v,
                                char *value_path, size_t size, usim_error *err)
{
    static const char *const CITED_KEYS[] = {"value", "source", "note", "derived"};
    const char *key;
    json_t *item;
    snprintf(value_path, size, "%s", path);
    if (!json_is_object(*v))
        return USIM_OK;
    json_object_foreach(*v, key, item)
    {
        char sub[256];
        join_path(sub, sizeof sub, path, key);
        bool known = false;
        for (size_t i = 0; i < 4; i++)
            known = known || strcmp(key, CITED_KEYS[i]) == 0;
        if (!known) {
            const char *near = usim_closest(key, CITED_KEYS, 4);
            return usim_fail_at(r, sub, true, err,
                                "unknown key '%s'%s%s%s; a cited value takes value, source, "
                                "note, derived",
                                key, near ? "; did you mean '" : "", near ? near : "",
                                near ? "'?" : "");
        }
        if (strcmp(key, "value") != 0 && !json_is_string(item))
            return usim_fail_at(r, sub, false, err, "expected a string, got %s",
                                json_kind(item));
    }
    json_t *value = json_object_get(*v, "value");
    if (!value)
        return usim_fail_at(r, path, false, err, "a cited value needs a 'value' key");
    if (r->sources)
        record_provenance(r->sources, path, *v);
    join_path(value_path, size, path, "value");
    *v = value;
    return USIM_OK;
}

usim_status usim_read_quantity(const usim_reader *r, const char *path, json_t *v,
                               usim_unit unit, double lo, double hi, double *out,
                               usim_error *err)
{
    char vpath[256];
    usim_status st = unwrap_cited(r, path, &v, vpath, sizeof vpath, err);
    if (st != USIM_OK)
        return st;
    double x;
    if (json_is_number(v)) {
        x = json_number_value(v);
    } else if (json_is_string(v)) {
        usim_error perr;
        usim_error_clear(&perr);
        if (usim_parse_quantity(json_string_value(v), unit, &x, &perr) != USIM_OK)
            return usim_fail_at(r, vpath, false, err, "%s", perr.message);
    } else {
        return usim_fail_at(r, vpath, false, err, "expected %s, got %s",
                            usim_unit_example(unit), json_kind(v));
    }
    if (!(x >= lo && x <= hi))
        return range_error(r, vpath, x, unit, lo, hi, err);
    *out = x;
    return USIM_OK;
}

/* "LO to HI" for a whole-number field's message. */
static const char *int_range(double lo, double hi, char *buf, size_t size)
{
    char blo[48], bhi[48];
    usim_format_bound(lo, USIM_UNIT_NONE, blo, sizeof blo);
    usim_format_bound(hi, USIM_UNIT_NONE, bhi, sizeof bhi);
    snprintf(buf, size, "%s to %s", blo, bhi);
    return buf;
}

static usim_status read_int(const usim_reader *r, const char *path, json_t *v, double lo,
                            double hi, int *out, usim_error *err)
{
    char vpath[256], range[100];
    usim_status st = unwrap_cited(r, path, &v, vpath, sizeof vpath, err);
    if (st != USIM_OK)
        return st;
    double x;
    if (json_is_integer(v)) {
        x = (double)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
        x = json_real_value(v);
    } else if (json_is_string(v)) {
        int64_t n;
        usim_error perr;
        usim_error_clear(&perr);
        if (usim_parse_count(json_string_value(v), &n, &perr) != USIM_OK)
            return usim_fail_at(r, vpath, false, err, "%s; allowed %s", perr.message,
                                int_range(lo, hi, range, sizeof range));
        x = (double)n;
    } else {
        return usim_fail_at(r, vpath, false, err, "expected a whole number from %s, got %s",
                            int_range(lo, hi, range, sizeof range),
                            json_is_real(v) ? "a fraction" : json_kind(v));
    }
    if (!(x >= lo && x <= hi))
        return range_error(r, vpath, x, USIM_UNIT_NONE, lo, hi, err);
    *out = (int)x;
    return USIM_OK;
}

static usim_status read_enum(const usim_reader *r, const char *path, json_t *v,
                             const char *const *choices, int *out, usim_error *err)
{
    size_t n = 0;
    char list[512] = "";
    while (choices[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
    }
    if (!json_is_string(v))
        return usim_fail_at(r, path, false, err, "expected one of %s, got %s", list,
                            json_kind(v));
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, choices[i]) == 0) {
            *out = (int)i;
            return USIM_OK;
        }
    }
    const char *near = usim_closest(s, choices, n);
    return usim_fail_at(r, path, false, err, "'%s' is not one of %s%s%s%s", s, list,
                        near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

/* A JSON array of whole numbers (int[]) or of quantities (double[]). */
static usim_status read_list(const usim_reader *r, const char *path, json_t *v,
                             const usim_field *f, void *out, usim_error *err)
{
    bool ints = f->type == USIM_F_INT_LIST;
    if (!json_is_array(v))
        return usim_fail_at(r, path, false, err, "expected a list of %s, got %s",
                            ints ? "whole numbers" : usim_unit_example(f->unit), json_kind(v));
    size_t n = json_array_size(v);
    if (n == 0 || n > f->size)
        return usim_fail_at(r, path, false, err, "expected 1 to %zu items, got %zu", f->size, n);
    for (size_t i = 0; i < n; i++) {
        char sub[256];
        usim_status st;
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (ints)
            st = read_int(r, sub, json_array_get(v, i), f->min, f->max,
                          (int *)((char *)out + f->offset) + i, err);
        else
            st = usim_read_quantity(r, sub, json_array_get(v, i), f->unit, f->min, f->max,
                                    (double *)((char *)out + f->offset) + i, err);
        if (st != USIM_OK)
            return st;
    }
    *(int *)((char *)out + f->count_offset) = (int)n;
    return USIM_OK;
}

static usim_status read_field(const usim_reader *r, const usim_field *f, const char *path,
                              json_t *v, void *out, usim_error *err)
{
    void *dst = (char *)out + f->offset;
    char vpath[256];
    if (f->type == USIM_F_BOOL || f->type == USIM_F_STRING || f->type == USIM_F_ENUM) {
        usim_status st = unwrap_cited(r, path, &v, vpath, sizeof vpath, err);
        if (st != USIM_OK)
            return st;
        path = vpath;
    }
    switch (f->type) {
    case USIM_F_NUMBER:
        return usim_read_quantity(r, path, v, f->unit, f->min, f->max, (double *)dst, err);
    case USIM_F_INT:
        return read_int(r, path, v, f->min, f->max, (int *)dst, err);
    case USIM_F_BOOL:
        if (!json_is_boolean(v))
            return usim_fail_at(r, path, false, err, "expected true or false, got %s",
                                json_kind(v));
        *(bool *)dst = json_is_true(v);
        return USIM_OK;
    case USIM_F_STRING:
        if (!json_is_string(v))
            return usim_fail_at(r, path, false, err, "expected a string, got %s", json_kind(v));
        if (json_string_length(v) >= f->size)
            return usim_fail_at(r, path, false, err, "longer than %zu characters", f->size - 1);
        /* every required string is a name, which messages and pages print */
        if (f->required && json_string_length(v) == 0)
            return usim_fail_at(r, path, false, err, "is empty; allowed: 1 to %zu characters",
                                f->size - 1);
        for (const char *c = json_string_value(v); *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return usim_fail_at(r, path, false, err,
                                    "holds a control character (code %d); allowed: printable "
                                    "text",
                                    (unsigned char)*c);
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return USIM_OK;
    case USIM_F_ENUM:
        return read_enum(r, path, v, f->choices, (int *)dst, err);
    case USIM_F_OBJECT:
        return usim_read_object(r, f->child, path, v, dst, err);
    case USIM_F_INT_LIST:
    case USIM_F_NUM_LIST:
        return read_list(r, path, v, f, out, err);
    case USIM_F_IGNORE:
        return USIM_OK;
    }
    return USIM_OK;
}

static usim_status unknown_key(const usim_reader *r, const usim_schema *schema,
                               const char *path, const char *key, usim_error *err)
{
    const char *names[64];
    char allowed[1024] = "";
    size_t n = schema->count < 64 ? schema->count : 64;
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(allowed);
        names[i] = schema->fields[i].key;
        snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = usim_closest(key, names, n);
    if (near)
        return usim_fail_at(r, path, true, err, "unknown key '%s'; did you mean '%s'?", key,
                            near);
    return usim_fail_at(r, path, true, err, "unknown key '%s'; allowed keys: %s", key, allowed);
}

usim_status usim_read_object(const usim_reader *r, const usim_schema *schema, const char *path,
                             json_t *obj, void *out, usim_error *err)
{
    const char *key;
    json_t *value;
    if (!json_is_object(obj))
        return usim_fail_at(r, path, false, err, "expected an object (%s), got %s",
                            schema->name, json_kind(obj));
    json_object_foreach(obj, key, value)
    {
        char sub[256];
        join_path(sub, sizeof sub, path, key);
        const usim_field *f = NULL;
        for (size_t i = 0; i < schema->count && !f; i++)
            if (strcmp(schema->fields[i].key, key) == 0)
                f = &schema->fields[i];
        if (!f)
            return unknown_key(r, schema, sub, key, err);
        usim_status st = read_field(r, f, sub, value, out, err);
        if (st != USIM_OK)
            return st;
    }
    for (size_t i = 0; i < schema->count; i++) {
        if (schema->fields[i].required && !json_object_get(obj, schema->fields[i].key)) {
            char sub[256];
            join_path(sub, sizeof sub, path, schema->fields[i].key);
            usim_fail_at(r, path, false, err, "missing required key '%s'",
                         schema->fields[i].key);
            if (err)
                snprintf(err->field, sizeof err->field, "%s", sub);
            return USIM_EINPUT;
        }
    }
    return USIM_OK;
}

typedef struct name_list {
    char text[512];
} name_list;

static void add_preset_name(const usim_embedded_file *f, void *ctx)
{
    name_list *l = ctx;
    char name[64];
    size_t used = strlen(l->text);
    usim_embedded_name(f, name, sizeof name);
    snprintf(l->text + used, sizeof l->text - used, "%s%s", used ? ", " : "", name);
}

void usim_json_merge_over(json_t *base, json_t *over)
{
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v)
    {
        json_t *b = json_object_get(base, key);
        if (json_is_null(v))
            json_object_del(base, key);
        else if (json_is_object(b) && json_is_object(v) && !json_object_get(v, "value") &&
            !json_object_get(b, "value"))
            usim_json_merge_over(b, v);
        else
            json_object_set(base, key, v);
    }
}

#define MAX_BASE_DEPTH 8

/* A description with "base": NAME starts from that preset or file of the same
 * kind and changes only what it lists, as hardware descriptions do. */
static usim_status apply_kind_base(const char *dir, const char *kind, const usim_reader *r,
                                   json_t **doc, int depth, usim_error *err)
{
    json_t *ref = json_is_object(*doc) ? json_object_get(*doc, "base") : NULL;
    if (!ref)
        return USIM_OK;
    if (!json_is_string(ref))
        return usim_fail_at(r, "base", false, err,
                            "expected the name of a %s preset or file to start from", kind);
    if (depth >= MAX_BASE_DEPTH)
        return usim_fail_at(r, "base", false, err,
                            "more than %d bases in a chain (a base that names itself?)",
                            MAX_BASE_DEPTH);
    const char *name = json_string_value(ref), *text = NULL;
    char *owned = NULL, label[300];
    bool missing = false;
    json_t *base = NULL;
    usim_status st =
        usim_open_named(dir, name, &text, &owned, label, sizeof label, &missing, err);
    if (st == USIM_OK && missing)
        st = usim_fail_at(r, "base", false, err, "unknown %s '%s': not a preset and no such file",
                          kind, name);
    if (st == USIM_OK)
        st = usim_json_parse(label, text, &base, err);
    usim_reader br = {label, text, NULL};
    if (st == USIM_OK)
        st = apply_kind_base(dir, kind, &br, &base, depth + 1, err);
    json_t *k = st == USIM_OK && json_is_object(base) ? json_object_get(base, "kind") : NULL;
    if (st == USIM_OK && (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0))
        st = usim_fail_at(r, "base", false, err, "'%s' is not a %s", name, kind);
    if (st == USIM_OK) {
        json_object_del(*doc, "base");
        usim_json_merge_over(base, *doc);
        json_decref(*doc);
        *doc = json_incref(base);
    }
    json_decref(base);
    free(owned);
    return st;
}

static usim_status read_kind(const char *dir, const char *file, const char *text,
                             const char *kind, const usim_schema *schema, void *out,
                             usim_finish_fn finish, usim_error *err)
{
    json_t *doc = NULL;
    usim_reader r = {file, text, NULL};
    usim_status st = usim_json_parse(file, text, &doc, err);
    if (st == USIM_OK)
        st = apply_kind_base(dir, kind, &r, &doc, 0, err);
    if (st != USIM_OK) {
        json_decref(doc);
        return st;
    }
    json_t *k = json_is_object(doc) ? json_object_get(doc, "kind") : NULL;
    if (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0)
        st = usim_fail_at(&r, json_is_object(doc) ? "kind" : "", false, err,
                          "expected \"kind\": \"%s\"", kind);
    else
        st = usim_read_object(&r, schema, "", doc, out, err);
    if (st == USIM_OK && finish)
        st = finish(&r, doc, out, err);
    json_decref(doc);
    return st;
}

usim_status usim_load_kind(const char *dir, const char *kind, const char *field,
                           const char *name_or_file, const usim_schema *schema, void *out,
                           usim_finish_fn finish, usim_error *err)
{
    const char *text;
    char *owned, label[300];
    bool missing;
    usim_status st = usim_open_named(dir, name_or_file, &text, &owned, label, sizeof label,
                                     &missing, err);
    if (st == USIM_OK && missing) {
        name_list names = {""};
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s/", dir);
        usim_embedded_each(prefix, add_preset_name, &names);
        st = usim_fail_field(err, USIM_EINPUT, field,
                             "unknown %s '%s': not a preset and no such file; allowed: %s "
                             "(data/%s) or a%s %s JSON file",
                             kind, name_or_file, names.text, dir,
                             strchr("aeiou", kind[0]) ? "n" : "", kind);
    } else if (st == USIM_OK) {
        st = read_kind(dir, label, text, kind, schema, out, finish, err);
    }
    free(owned);
    return st;
}
