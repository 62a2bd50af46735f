/*
 * SCALE-Sim topology files: a network as a CSV of layers, each lowered to one
 * GEMM the way SCALE-Sim v2 lowers it (scalesim/topology_utils.py,
 * scalesim/compute/operand_matrix.py), so that a file runs here as it runs
 * there.
 *
 *   GEMM files:  Layer, M, N, K,        (note the order: N before K)
 *   conv files:  Layer, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
 *                Channels, Num Filter, Strides[, Stride width],
 *
 * The first line is a header and is skipped, as SCALE-Sim skips it; rows end in
 * a trailing comma (accepted here with or without it); empty lines are
 * skipped. A convolution becomes the GEMM of its im2col matrices:
 *
 *     ofmap H = ceil((IFMAP H - Filter H + Stride H) / Stride H), likewise W
 *     M = ofmap H x ofmap W,  K = Filter H x Filter W x Channels,  N = Num Filter
 *
 * (the ceiling keeps a last window that runs past the edge, as SCALE-Sim
 * does). A layer whose name contains "DP" is depth-wise: SCALE-Sim runs it as
 * one single-channel layer per channel, and so does this reader. A GEMM row
 * M, N, K reads as the convolution M x K input, 1 x K filter, N filters, which
 * lowers back to M, K, N.
 *
 * Everything is checked: a bad number, a missing column or a filter larger
 * than its input fails with file:line:column and the column's name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

/* Bounds on what a row may say: far beyond any real network, small enough
 * that products cannot overflow. */
#define TOPO_MAX_FIELD 10000000LL     /* one size in the file */
#define TOPO_MAX_DIM 1000000000.0     /* a lowered M, K or N */
#define TOPO_MAX_LAYERS 1000000       /* after depth-wise expansion */
#define TOPO_MAX_FIELDS 12

static const char *const GEMM_COLUMNS[] = {"Layer", "M", "N", "K"};
static const char *const CONV_COLUMNS[] = {"Layer",        "IFMAP Height", "IFMAP Width",
                                           "Filter Height", "Filter Width", "Channels",
                                           "Num Filter",   "Stride Height", "Stride Width"};

/* One line split at commas: field starts (offsets into the line) and lengths. */
typedef struct fields {
    int count;
    size_t start[TOPO_MAX_FIELDS], len[TOPO_MAX_FIELDS];
} fields;

typedef struct reader {
    const char *file;
    int line;
    const char *text; /* this line */
    usim_error *err;
} reader;

static usim_status fail_at(const reader *r, size_t column, const char *field, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

static usim_status fail_at(const reader *r, size_t column, const char *field, const char *fmt,
                           ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    usim_status st = usim_fail_field(r->err, USIM_EINPUT, field, "%s", message);
    if (r->err) {
        snprintf(r->err->file, sizeof r->err->file, "%s", r->file);
        r->err->line = r->line;
        r->err->column = (int)column + 1;
    }
    return st;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Splits a row at commas, trimming blanks; a trailing comma (SCALE-Sim's
 * rows end in one) closes the row rather than opening an empty field. */
static void split(const char *s, fields *f)
{
    size_t len = strlen(s);
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len > 0 && s[len - 1] == ',')
        len--;
    f->count = 0;
    for (size_t pos = 0; f->count < TOPO_MAX_FIELDS; f->count++) {
        size_t end = pos;
        while (end < len && s[end] != ',')
            end++;
        size_t a = pos, b = end;
        while (a < b && is_space(s[a]))
            a++;
        while (b > a && is_space(s[b - 1]))
            b--;
        f->start[f->count] = a;
        f->len[f->count] = b - a;
        if (end >= len) {
            f->count++;
            break;
        }
        pos = end + 1;
    }
}

/* A whole number in [1, TOPO_MAX_FIELD]. */
static usim_status parse_size(const reader *r, const fields *f, int i, const char *column,
                              int64_t *out)
{
    char value[64];
    size_t n = f->len[i] < sizeof value - 1 ? f->len[i] : sizeof value - 1;
    memcpy(value, r->text + f->start[i], n);
    value[n] = '\0';
    int64_t v = 0;
    bool ok = n > 0 && f->len[i] < sizeof value;
    for (size_t j = 0; ok && j < n; j++) {
        ok = value[j] >= '0' && value[j] <= '9' && v <= TOPO_MAX_FIELD;
        v = v * 10 + (value[j] - '0');
    }
    if (!ok || v < 1 || v > TOPO_MAX_FIELD)
        return fail_at(r, f->start[i], column,
                       "'%s' is not a size; allowed a whole number from 1 to %lld", value,
                       TOPO_MAX_FIELD);
    *out = v;
    return USIM_OK;
}

typedef struct layer_list {
    engine_topo_layer *items;
    size_t count, cap;
} layer_list;

static usim_status push(const reader *r, layer_list *l, const char *name, double m, double k,
                        double n)
{
    if (m > TOPO_MAX_DIM || k > TOPO_MAX_DIM || n > TOPO_MAX_DIM)
        return fail_at(r, 0, "Layer",
                       "layer '%s' lowers to M %.0f, K %.0f, N %.0f; each must be at most %.0f",
                       name, m, k, n, TOPO_MAX_DIM);
    if (l->count >= TOPO_MAX_LAYERS)
        return fail_at(r, 0, "Layer", "'%s': more than %d layers", name, TOPO_MAX_LAYERS);
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        engine_topo_layer *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return usim_fail(r->err, USIM_ERUNTIME, "out of memory reading %s", r->file);
        l->items = p;
        l->cap = cap;
    }
    engine_topo_layer *t = &l->items[l->count++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->m = (int64_t)m;
    t->k = (int64_t)k;
    t->n = (int64_t)n;
    t->line = r->line;
    return USIM_OK;
}

static void field_text(const reader *r, const fields *f, int i, char *buf, size_t size)
{
    size_t n = f->len[i] < size - 1 ? f->len[i] : size - 1;
    memcpy(buf, r->text + f->start[i], n);
    buf[n] = '\0';
}

static usim_status gemm_row(const reader *r, const fields *f, layer_list *out)
{
    int64_t v[3];
    char name[96];
    for (int i = 1; i <= 3; i++) {
        usim_status st = parse_size(r, f, i, GEMM_COLUMNS[i], &v[i - 1]);
        if (st != USIM_OK)
            return st;
    }
    field_text(r, f, 0, name, sizeof name);
    /* Columns are M, N, K. */
    return push(r, out, name, (double)v[0], (double)v[2], (double)v[1]);
}

/* ofmap size along one axis, SCALE-Sim's ceiling. */
static double ofmap_size(int64_t input, int64_t filter, int64_t stride)
{
    return (double)((input - filter + stride - 1) / stride + 1);
}

static usim_status conv_row(const reader *r, const fields *f, layer_list *out)
{
    int64_t v[8];
    char name[96];
    for (int i = 1; i < f->count; i++) {
        usim_status st = parse_size(r, f, i, CONV_COLUMNS[i], &v[i - 1]);
        if (st != USIM_OK)
            return st;
    }
    if (f->count == 8)
        v[7] = v[6]; /* one stride for both axes */
    field_text(r, f, 0, name, sizeof name);
    for (int axis = 0; axis < 2; axis++) {
        if (v[2 + axis] > v[axis])
            return fail_at(r, f->start[3 + axis], CONV_COLUMNS[3 + axis],
                           "%lld is larger than the input's %s (%lld)",
                           (long long)v[2 + axis], axis ? "width" : "height",
                           (long long)v[axis]);
    }
    double m = ofmap_size(v[0], v[2], v[6]) * ofmap_size(v[1], v[3], v[7]);
    double window = (double)v[2] * (double)v[3];
    if (!strstr(name, "DP"))
        return push(r, out, name, m, window * (double)v[4], (double)v[5]);
    for (int64_t ch = 0; ch < v[4]; ch++) {
        char expanded[96];
        snprintf(expanded, sizeof expanded, "%.70sChannel_%lld", name, (long long)ch);
        usim_status st = push(r, out, expanded, m, window, (double)v[5]);
        if (st != USIM_OK)
            return st;
    }
    return USIM_OK;
}

static bool field_is_number(const char *line, const fields *f, int i)
{
    if (f->len[i] == 0)
        return false;
    for (size_t j = 0; j < f->len[i]; j++)
        if (line[f->start[i] + j] < '0' || line[f->start[i] + j] > '9')
            return false;
    return true;
}

static usim_status read_header(const reader *r, engine_topology_format *format)
{
    fields f;
    split(r->text, &f);
    if (f.count >= 2 && field_is_number(r->text, &f, 1))
        return fail_at(r, f.start[1], "header",
                       "line 1 looks like data; a topology file starts with a header row such "
                       "as 'Layer,M,N,K,'");
    if (*format == ENGINE_TOPO_AUTO) {
        if (f.count == 4)
            *format = ENGINE_TOPO_GEMM;
        else if (f.count == 8 || f.count == 9)
            *format = ENGINE_TOPO_CONV;
        else
            return fail_at(r, 0, "header",
                           "has %d columns: neither a GEMM topology's 4 (Layer, M, N, K) nor a "
                           "convolution topology's 8 or 9",
                           f.count);
    }
    return USIM_OK;
}

static usim_status read_row(const reader *r, engine_topology_format format, layer_list *out)
{
    fields f;
    split(r->text, &f);
    bool gemm = format == ENGINE_TOPO_GEMM;
    if (gemm ? f.count != 4 : f.count != 8 && f.count != 9)
        return fail_at(r, 0, "row", "has %d columns; expected %s", f.count,
                       gemm ? "4: Layer, M, N, K"
                            : "8 or 9: Layer, IFMAP Height, IFMAP Width, Filter Height, "
                              "Filter Width, Channels, Num Filter, Strides[, Stride width]");
    if (f.len[0] == 0)
        return fail_at(r, 0, "Layer", "the layer has no name");
    return gemm ? gemm_row(r, &f, out) : conv_row(r, &f, out);
}

static bool blank(const char *s)
{
    while (*s && (is_space(*s) || *s == '\n'))
        s++;
    return *s == '\0';
}

usim_status engine_topology_parse(const char *file, const char *text,
                                  engine_topology_format format, engine_topology *out,
                                  usim_error *err)
{
    layer_list list = {0};
    reader r = {file && file[0] ? file : "<topology>", 0, NULL, err};
    char line[4096];
    usim_status st = USIM_OK;
    memset(out, 0, sizeof *out);
    for (const char *p = text; *p && st == USIM_OK;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        r.line++;
        r.text = line;
        if (len >= sizeof line) {
            st = fail_at(&r, 0, "row", "line is longer than %zu characters", sizeof line - 1);
            break;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol ? eol + 1 : p + len;
        if (r.line == 1)
            st = read_header(&r, &format);
        else if (!blank(line))
            st = read_row(&r, format, &list);
    }
    if (st == USIM_OK && r.line == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: the topology file is empty", r.file);
    if (st == USIM_OK && list.count == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: the topology has a header but no layers", r.file);
    if (st != USIM_OK) {
        free(list.items);
        return st;
    }
    out->layers = list.items;
    out->count = list.count;
    out->format = format;
    return USIM_OK;
}

usim_status engine_topology_load(const char *path, engine_topology_format format,
                                 engine_topology *out, usim_error *err)
{
    char *text = NULL;
    size_t size = 0;
    memset(out, 0, sizeof *out);
    usim_status st = usim_read_file(path, &text, &size, err);
    if (st != USIM_OK)
        return st;
    if (strlen(text) != size) {
        free(text);
        return usim_fail(err, USIM_EINPUT, "%s: not a text file (it holds a NUL byte)", path);
    }
    st = engine_topology_parse(path, text, format, out, err);
    free(text);
    return st;
}

void engine_topology_free(engine_topology *t)
{
    if (!t)
        return;
    free(t->layers);
    t->layers = NULL;
    t->count = 0;
}
