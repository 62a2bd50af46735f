/*
 * Table-driven JSON reading (internal to the library).
 *
 * A usim_schema lists the keys an object may have; each usim_field says where
 * in a C struct the value goes, its type and unit, and its allowed range. The
 * reader rejects unknown keys (suggesting the nearest known one), wrong types,
 * missing required keys and values out of range, and names file:line:column
 * and the dotted field path in the error. Every numeric value may be written
 *   - as a JSON number, in SI base units (bytes, bytes/s, s, Hz, FLOP/s, W);
 *   - as a string with units: "2.9TB/s", "96GiB", "1us";
 *   - as an object {"value": ..., "source": "...", "note": "..."}, which is how
 *     presets cite where each figure comes from.
 */
#ifndef USIM_CORE_SCHEMA_H
#define USIM_CORE_SCHEMA_H

#include <jansson.h>

#include "ultrasim/core.h"

typedef enum usim_field_type {
    USIM_F_NUMBER,   /* double, with a unit */
    USIM_F_INT,      /* int */
    USIM_F_BOOL,     /* bool */
    USIM_F_STRING,   /* char[size] */
    USIM_F_ENUM,     /* int index into choices */
    USIM_F_OBJECT,   /* nested struct at offset, read with child */
    USIM_F_INT_LIST, /* int[size], count written to count_offset (an int) */
    USIM_F_NUM_LIST, /* double[size] with a unit, count written to count_offset */
    USIM_F_IGNORE    /* documentation keys: accepted, not stored */
} usim_field_type;

typedef struct usim_schema usim_schema;

typedef struct usim_field {
    const char *key;
    usim_field_type type;
    usim_unit unit;
    size_t offset;
    double min, max; /* allowed range, inclusive (numbers, ints, list items) */
    bool required;
    const usim_schema *child;   /* USIM_F_OBJECT */
    const char *const *choices; /* USIM_F_ENUM, NULL-terminated */
    size_t size;                /* USIM_F_STRING buffer size; USIM_F_INT_LIST capacity */
    size_t count_offset;        /* USIM_F_INT_LIST */
} usim_field;

struct usim_schema {
    const char *name;
    const usim_field *fields;
    size_t count;
};

/* Field constructors keep schema tables one line per key. */
#define USIM_NUM(k, st, m, unit_, lo, hi, req) \
    {k, USIM_F_NUMBER, unit_, offsetof(st, m), lo, hi, req, NULL, NULL, 0, 0}
#define USIM_INT(k, st, m, lo, hi, req) \
    {k, USIM_F_INT, USIM_UNIT_NONE, offsetof(st, m), lo, hi, req, NULL, NULL, 0, 0}
#define USIM_BOOL(k, st, m) \
    {k, USIM_F_BOOL, USIM_UNIT_NONE, offsetof(st, m), 0, 1, false, NULL, NULL, 0, 0}
#define USIM_STR(k, st, m, req) \
    {k, USIM_F_STRING, USIM_UNIT_NONE, offsetof(st, m), 0, 0, req, NULL, NULL, \
     sizeof(((st *)0)->m), 0}
#define USIM_ENUM(k, st, m, choices_, req) \
    {k, USIM_F_ENUM, USIM_UNIT_NONE, offsetof(st, m), 0, 0, req, NULL, choices_, 0, 0}
#define USIM_OBJ(k, st, m, child_, req) \
    {k, USIM_F_OBJECT, USIM_UNIT_NONE, offsetof(st, m), 0, 0, req, child_, NULL, 0, 0}
#define USIM_INTS(k, st, m, n, lo, hi, req) \
    {k, USIM_F_INT_LIST, USIM_UNIT_NONE, offsetof(st, m), lo, hi, req, NULL, NULL, \
     sizeof(((st *)0)->m) / sizeof(int), offsetof(st, n)}
#define USIM_NUMS(k, st, m, n, unit_, lo, hi, req) \
    {k, USIM_F_NUM_LIST, unit_, offsetof(st, m), lo, hi, req, NULL, NULL, \
     sizeof(((st *)0)->m) / sizeof(double), offsetof(st, n)}
#define USIM_DOC(k) {k, USIM_F_IGNORE, USIM_UNIT_NONE, 0, 0, 0, false, NULL, NULL, 0, 0}
#define USIM_SCHEMA(name_, fields_) \
    {name_, fields_, sizeof(fields_) / sizeof((fields_)[0])}

typedef struct usim_reader {
    const char *file; /* for messages; "" when not from a file */
    const char *text; /* the source text, to locate values; may be NULL */
    json_t *sources;  /* optional: path -> "source" string of each cited value */
} usim_reader;

/* Reads obj into out following schema. path is the dotted prefix of obj ("" at
 * the top). Defaults must already be in out; keys that are absent keep them. */
usim_status usim_read_object(const usim_reader *r, const usim_schema *schema, const char *path,
                             json_t *obj, void *out, usim_error *err);

/* Parses text as JSON with duplicate keys rejected; a syntax error names
 * file:line:column. The caller owns the result. */
usim_status usim_json_parse(const char *file, const char *text, json_t **out, usim_error *err);

/* Lays `over` onto `base`: objects merge key by key, null removes a key,
 * anything else (and a cited value, an object with "value") replaces what
 * the base had (JSON merge patch, RFC 7386, with cited values whole). */
void usim_json_merge_over(json_t *base, json_t *over);

/* Where the value at a dotted path ("a.b[2].c") starts in text (1-based line
 * and column); with want_key, where its key starts. False when not found. */
bool usim_json_locate(const char *text, const char *path, bool want_key, int *line, int *col);

/* A data file of one kind: the preset data/DIR/NAME.json (embedded) or a
 * file, whose top-level "kind" must be `kind`, read into out (defaults
 * already there) by schema; then finish (or NULL) checks what the schema
 * cannot. A name that is neither fails naming `field` and listing DIR's
 * presets. */
typedef usim_status (*usim_finish_fn)(const usim_reader *r, json_t *doc, void *out,
                                      usim_error *err);
usim_status usim_load_kind(const char *dir, const char *kind, const char *field,
                           const char *name_or_file, const usim_schema *schema, void *out,
                           usim_finish_fn finish, usim_error *err);

/* Fails with err located at path in r's text. */
usim_status usim_fail_at(const usim_reader *r, const char *path, bool at_key, usim_error *err,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reads a JSON value (number, unit string, or {"value": ...}) as a quantity. */
usim_status usim_read_quantity(const usim_reader *r, const char *path, json_t *v,
                               usim_unit unit, double lo, double hi, double *out,
                               usim_error *err);

/* "2.9 TB/s" or "42" for messages about the allowed range of a field. */
void usim_format_bound(double v, usim_unit unit, char *buf, size_t size);

#endif
