/*
 * Chakra execution trace files (see ultrasim/chakra.h): the length-delimited
 * stream of protobuf messages read into et_node and written from it. The
 * messages themselves are packed and unpacked by protobuf-c's code generated
 * from schema/et_def.proto; this file reads and writes the varint framing
 * around them and maps the attributes ultrasim uses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_def.pb-c.h"
#include "ultrasim/chakra.h"

/* The schema version ultrasim writes (Chakra's own converters write it). */
#define ET_VERSION "0.0.4"

static const char *const COLL_NAMES[] = {
    "all-reduce", "reduce",         "all-gather",           "gather",  "scatter",
    "broadcast",  "all-to-all",     "reduce-scatter",       "reduce-scatter (block)", "barrier"};

const char *et_coll_name(int comm_type)
{
    return comm_type >= 0 && comm_type <= ET_BARRIER ? COLL_NAMES[comm_type] : "?";
}

void et_rank_free(et_rank *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->nodes[i].deps);
    free(r->nodes);
    free(r->path);
    r->nodes = NULL;
    r->path = NULL;
    r->n = 0;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct cursor {
    const uint8_t *data;
    size_t size, at;
} cursor;

/* The next message's bytes; false at a clean end, *cut when cut short. */
static bool next_message(cursor *c, const uint8_t **msg, size_t *len, bool *cut)
{
    uint64_t v = 0;
    int shift = 0;
    *cut = false;
    if (c->at >= c->size)
        return false;
    while (true) {
        if (c->at >= c->size || shift > 63) {
            *cut = true;
            return false;
        }
        uint8_t b = c->data[c->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    if (v > c->size - c->at) {
        *cut = true;
        return false;
    }
    *msg = c->data + c->at;
    *len = (size_t)v;
    c->at += (size_t)v;
    return true;
}

#define VALUE(field) CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_##field

static double attr_number(const ChakraProtoMsg__AttributeProto *a)
{
    switch (a->value_case) {
    case VALUE(DOUBLE_VAL): return a->double_val;
    case VALUE(FLOAT_VAL): return a->float_val;
    case VALUE(INT32_VAL): return a->int32_val;
    case VALUE(INT64_VAL): return (double)a->int64_val;
    case VALUE(UINT32_VAL): return a->uint32_val;
    case VALUE(UINT64_VAL): return (double)a->uint64_val;
    case VALUE(SINT32_VAL): return a->sint32_val;
    case VALUE(SINT64_VAL): return (double)a->sint64_val;
    case VALUE(FIXED32_VAL): return a->fixed32_val;
    case VALUE(FIXED64_VAL): return (double)a->fixed64_val;
    case VALUE(SFIXED32_VAL): return a->sfixed32_val;
    case VALUE(SFIXED64_VAL): return (double)a->sfixed64_val;
    case VALUE(BOOL_VAL): return a->bool_val;
    default: return -1;
    }
}

/* PyTorch's type names as the converters write them ("c10::BFloat16"). */
static usim_dtype dtype_of(const char *types)
{
    if (strstr(types, "Float8"))
        return USIM_FP8;
    if (strstr(types, "BFloat16"))
        return USIM_BF16;
    if (strstr(types, "Half"))
        return USIM_FP16;
    if (strstr(types, "float") || strstr(types, "Float"))
        return USIM_FP32;
    return USIM_BF16;
}

/* Notes the first attribute whose value cannot be used. */
static void refuse(et_node *n, const char *name, double v, const char *allowed)
{
    if (!n->bad[0])
        snprintf(n->bad, sizeof n->bad, "%s %.6g is not usable (allowed: %s)", name, v, allowed);
}

/* A whole number in [lo, hi], or the node is refused. */
static int whole(et_node *n, const char *name, double v, double lo, double hi)
{
    if (!(v >= lo && v <= hi) || v != floor(v)) {
        char allowed[64];
        snprintf(allowed, sizeof allowed, "whole numbers %.0f to %.0f", lo, hi);
        refuse(n, name, v, allowed);
        return (int)lo;
    }
    return (int)v;
}

/* A size or time: finite and not negative (at most `hi`), or refused. */
static double amount(et_node *n, const char *name, double v, double hi)
{
    if (!(v >= 0 && v <= hi)) {
        char allowed[64];
        snprintf(allowed, sizeof allowed, "0 to %.3g", hi);
        refuse(n, name, v, allowed);
        return 0;
    }
    return v;
}

#define MAX_RANK 4194303.0
#define MAX_BYTES 1.125899906842624e15 /* 1 PiB */

static void read_attr(et_node *n, const ChakraProtoMsg__AttributeProto *a)
{
    const char *k = a->name;
    double v = attr_number(a);
    if (!strcmp(k, "num_ops"))
        n->flops = amount(n, k, v, 1e21);
    else if (!strcmp(k, "tensor_size"))
        n->bytes = amount(n, k, v, MAX_BYTES);
    else if (!strcmp(k, "comm_type"))
        n->comm_type = whole(n, k, v, 0, ET_BARRIER);
    else if (!strcmp(k, "comm_size"))
        n->comm_bytes = amount(n, k, v, MAX_BYTES);
    else if (!strcmp(k, "comm_src"))
        n->comm_src = whole(n, k, v, 0, MAX_RANK);
    else if (!strcmp(k, "comm_dst"))
        n->comm_dst = whole(n, k, v, 0, MAX_RANK);
    else if (!strcmp(k, "comm_tag"))
        n->comm_tag = whole(n, k, v, -2147483648.0, 2147483647.0);
    else if (!strcmp(k, "duration_ns"))
        n->duration_s = amount(n, k, v, 1e18) * 1e-9;
    else if (!strcmp(k, "is_cpu_op"))
        n->cpu = v > 0;
    else if (!strcmp(k, "stream"))
        n->stream = whole(n, k, v, 0, 1e6);
    else if (!strcmp(k, "pg_name") && a->value_case == VALUE(STRING_VAL)) {
        if (strlen(a->string_val) >= sizeof n->pg_name)
            snprintf(n->bad, sizeof n->bad, "pg_name is %zu characters long (allowed: up to %zu)",
                     strlen(a->string_val), sizeof n->pg_name - 1);
        snprintf(n->pg_name, sizeof n->pg_name, "%s", a->string_val);
    }
    else if (!strcmp(k, "involved_dim") &&
             a->value_case == VALUE(BOOL_LIST)) {
        size_t d = a->bool_list->n_values;
        n->dims = (int)(d < ET_MAX_DIMS ? d : ET_MAX_DIMS);
        for (int i = 0; i < n->dims; i++)
            n->involved[i] = a->bool_list->values[i];
    }
}

static usim_status node_from(const ChakraProtoMsg__Node *m, et_node *n, usim_error *err)
{
    memset(n, 0, sizeof *n);
    n->id = m->id;
    snprintf(n->name, sizeof n->name, "%s", m->name ? m->name : "");
    n->type = (int)m->type;
    n->duration_s = (double)m->duration_micros * 1e-6;
    n->flops = n->bytes = n->comm_bytes = -1;
    n->comm_type = n->comm_src = n->comm_dst = n->stream = -1;
    n->cpu = true;
    n->dtype = m->inputs ? dtype_of(m->inputs->types) : USIM_BF16;
    for (size_t i = 0; i < m->n_attr; i++)
        read_attr(n, m->attr[i]);
    n->ndata = (int)m->n_data_deps;
    n->ndeps = (int)(m->n_data_deps + m->n_ctrl_deps);
    n->deps = n->ndeps ? malloc((size_t)n->ndeps * sizeof *n->deps) : NULL;
    if (n->ndeps && !n->deps)
        return usim_fail(err, USIM_ERUNTIME, "out of memory reading a trace");
    for (size_t i = 0; i < m->n_data_deps; i++)
        n->deps[i] = m->data_deps[i];
    for (size_t i = 0; i < m->n_ctrl_deps; i++)
        n->deps[m->n_data_deps + i] = m->ctrl_deps[i];
    return USIM_OK;
}

static usim_status read_metadata(const char *path, int rank, cursor *c, et_rank *out,
                                 usim_error *err)
{
    const uint8_t *msg;
    size_t len;
    bool cut;
    if (!next_message(c, &msg, &len, &cut))
        return usim_fail(err, USIM_EINPUT,
                         "%s (rank %d): not a Chakra execution trace: %s", path, rank,
                         cut ? "its first length prefix runs past the end" : "the file is empty");
    ChakraProtoMsg__GlobalMetadata *meta =
        chakra_proto_msg__global_metadata__unpack(NULL, len, msg);
    if (!meta)
        return usim_fail(err, USIM_EINPUT,
                         "%s (rank %d): not a Chakra execution trace: its first message is not "
                         "a GlobalMetadata",
                         path, rank);
    for (size_t i = 0; i < meta->n_attr; i++)
        if (!strcmp(meta->attr[i]->name, "world_size")) {
            double w = attr_number(meta->attr[i]);
            out->world_value = w;
            out->world = w >= 1 && w <= MAX_RANK + 1 && w == floor(w) ? (int)w : -1;
        }
        else if (!strcmp(meta->attr[i]->name, "representative"))
            out->representative = attr_number(meta->attr[i]) > 0;
    chakra_proto_msg__global_metadata__free_unpacked(meta, NULL);
    return USIM_OK;
}

static usim_status grow_nodes(et_rank *r, int *cap)
{
    if (r->n < *cap)
        return USIM_OK;
    int cap2 = *cap ? *cap * 2 : 16;
    et_node *p = realloc(r->nodes, (size_t)cap2 * sizeof *p);
    if (!p)
        return USIM_ERUNTIME;
    r->nodes = p;
    *cap = cap2;
    return USIM_OK;
}

static const char *last_id(const et_rank *r, char *buf, size_t size)
{
    if (r->n == 0)
        return "the metadata";
    snprintf(buf, size, "node id %llu", (unsigned long long)r->nodes[r->n - 1].id);
    return buf;
}

static usim_status read_nodes(const char *path, int rank, cursor *c, et_rank *out,
                              usim_error *err)
{
    const uint8_t *msg;
    size_t len;
    bool cut;
    int cap = 0;
    char after[48];
    while (next_message(c, &msg, &len, &cut)) {
        ChakraProtoMsg__Node *m = chakra_proto_msg__node__unpack(NULL, len, msg);
        if (!m)
            return usim_fail(err, USIM_EINPUT,
                             "%s (rank %d): the message after %s (at byte %zu) is not a Chakra "
                             "Node",
                             path, rank, last_id(out, after, sizeof after), (size_t)(msg - c->data));
        usim_status st = grow_nodes(out, &cap);
        if (st == USIM_OK)
            st = node_from(m, &out->nodes[out->n], err);
        chakra_proto_msg__node__free_unpacked(m, NULL);
        if (st != USIM_OK)
            return usim_fail(err, USIM_ERUNTIME, "out of memory reading %s", path);
        out->n++;
    }
    if (cut)
        return usim_fail(err, USIM_EINPUT,
                         "%s (rank %d): cut short after %s: the next message's length runs past "
                         "the end of the file (%zu bytes)",
                         path, rank, last_id(out, after, sizeof after), c->size);
    return USIM_OK;
}

/* The whole file. A trace of a thousand ranks is a thousand files and
 * system calls are most of its reading: a file that fits the first read (a
 * short read of a regular file is its end) costs an open, a read and a
 * close; a larger one adds an fstat for its size. */
static usim_status slurp(const char *path, int rank, uint8_t **data, size_t *size,
                         usim_error *err)
{
    uint8_t first[16384];
    int fd = open(path, O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, first, sizeof first) : -1;
    struct stat info;
    if (got < 0 || ((size_t)got == sizeof first && fstat(fd, &info) != 0)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return usim_fail(err, USIM_EINPUT, "%s (rank %d): cannot read: %s", path, rank,
                         strerror(e));
    }
    size_t n = (size_t)got, cap = n;
    if (n == sizeof first && info.st_size > (off_t)n)
        cap = (size_t)info.st_size;
    uint8_t *buf = malloc(cap > 0 ? cap : 1);
    if (buf)
        memcpy(buf, first, n);
    while (buf && n < cap && (got = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)got;
    close(fd);
    if (!buf)
        return usim_fail(err, USIM_ERUNTIME, "%s (rank %d): cannot read: out of memory", path,
                         rank);
    *data = buf;
    *size = n;
    return USIM_OK;
}

usim_status et_read(const char *path, int rank, et_rank *out, usim_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    memset(out, 0, sizeof *out);
    out->rank = rank;
    out->path = strdup(path);
    if (!out->path)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = slurp(path, rank, &data, &size, err);
    if (st != USIM_OK) {
        et_rank_free(out);
        return st;
    }
    cursor c = {data, size, 0};
    st = read_metadata(path, rank, &c, out, err);
    if (st == USIM_OK)
        st = read_nodes(path, rank, &c, out, err);
    free(data);
    if (st != USIM_OK)
        et_rank_free(out);
    return st;
}

/* ---- writing ------------------------------------------------------------ */

struct et_writer {
    FILE *f;
    char path[4200];
};

static bool put_message(FILE *f, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t head[10], stack[512];
    int n = 0;
    for (uint64_t v = len; ; v >>= 7) {
        head[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf)
        return false;
    protobuf_c_message_pack(m, buf);
    bool ok = fwrite(head, 1, (size_t)n, f) == (size_t)n && fwrite(buf, 1, len, f) == len;
    if (buf != stack)
        free(buf);
    return ok;
}

/* An attribute of one value; the caller sets the value's field (the
 * schema's attribute is a oneof of every scalar and list type). */
static ChakraProtoMsg__AttributeProto attr(const char *name,
                                           ChakraProtoMsg__AttributeProto__ValueCase type)
{
    ChakraProtoMsg__AttributeProto a = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
    a.name = (char *)name;
    a.value_case = type;
    return a;
}

typedef ChakraProtoMsg__AttributeProto et_attr;

static et_attr int_attr(const char *name, int64_t v)
{
    et_attr a = attr(name, VALUE(INT64_VAL));
    return a.int64_val = v, a;
}

static et_attr uint_attr(const char *name, uint64_t v)
{
    et_attr a = attr(name, VALUE(UINT64_VAL));
    return a.uint64_val = v, a;
}

static et_attr int32_attr(const char *name, int32_t v)
{
    et_attr a = attr(name, VALUE(INT32_VAL));
    return a.int32_val = v, a;
}

static et_attr text_attr(const char *name, const char *v)
{
    et_attr a = attr(name, VALUE(STRING_VAL));
    return a.string_val = (char *)v, a;
}

static et_attr bool_attr(const char *name, bool v)
{
    et_attr a = attr(name, VALUE(BOOL_VAL));
    return a.bool_val = v, a;
}

et_writer *et_writer_open(const char *path, int rank, int world, bool representative,
                          usim_error *err)
{
    et_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->f = fopen(path, "wb"))) {
        usim_fail(err, USIM_EINPUT, "%s: cannot write: %s", path, w ? strerror(errno) : "out of memory");
        free(w);
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    et_attr a[4] = {text_attr("producer", "ultrasim"), int_attr("rank", rank),
                    int_attr("world_size", world), bool_attr("representative", representative)};
    ChakraProtoMsg__AttributeProto *ap[4] = {&a[0], &a[1], &a[2], &a[3]};
    ChakraProtoMsg__GlobalMetadata meta = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    meta.version = (char *)ET_VERSION;
    meta.n_attr = 4;
    meta.attr = ap;
    if (!put_message(w->f, &meta.base)) {
        usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", path, strerror(errno));
        fclose(w->f);
        free(w);
        return NULL;
    }
    return w;
}

static const char *type_name_of(usim_dtype t)
{
    static const char *const NAMES[] = {"c10::Float8_e4m3fn", "c10::BFloat16", "c10::Half",
                                        "float", "float", "c10::Float4_e2m1fn_x2"};
    return t >= 0 && t < USIM_DTYPE_COUNT ? NAMES[t] : "c10::BFloat16";
}

/* The attributes of n that Chakra's consumers read (ASTRA-sim's feeder:
 * is_cpu_op, num_ops, tensor_size, comm_type, comm_size, comm_src, comm_dst,
 * comm_tag, pg_name), plus the stream it runs on. */
static size_t node_attrs(const et_node *n, ChakraProtoMsg__AttributeProto *a)
{
    size_t k = 0;
    a[k++] = bool_attr("is_cpu_op", false);
    /* duration_micros in whole microseconds would round short nodes by up to
     * half of one; readers that know this attribute take it instead. */
    a[k++] = int_attr("duration_ns", (int64_t)(n->duration_s * 1e9 + 0.5));
    if (n->stream >= 0)
        a[k++] = int_attr("stream", n->stream);
    if (n->type == ET_COMP) {
        a[k++] = int_attr("num_ops", (int64_t)(n->flops > 0 ? n->flops : 0));
        a[k++] = uint_attr("tensor_size", (uint64_t)(n->bytes > 0 ? n->bytes : 0));
    }
    if (n->type == ET_COLL) {
        a[k++] = int_attr("comm_type", n->comm_type);
        if (n->pg_name[0])
            a[k++] = text_attr("pg_name", n->pg_name);
    }
    if (n->type == ET_COLL || n->type == ET_SEND || n->type == ET_RECV)
        a[k++] = int_attr("comm_size", (int64_t)n->comm_bytes);
    if (n->type == ET_SEND || n->type == ET_RECV) {
        a[k++] = int32_attr("comm_src", n->comm_src);
        a[k++] = int32_attr("comm_dst", n->comm_dst);
        a[k++] = int32_attr("comm_tag", n->comm_tag);
    }
    return k;
}

usim_status et_write(et_writer *w, const et_node *n, usim_error *err)
{
    ChakraProtoMsg__AttributeProto a[10], *ap[10];
    ChakraProtoMsg__Node m = CHAKRA_PROTO_MSG__NODE__INIT;
    ChakraProtoMsg__IOInfo in = CHAKRA_PROTO_MSG__IOINFO__INIT;
    in.types = (char *)type_name_of(n->dtype);
    m.id = n->id;
    m.name = (char *)n->name;
    m.type = (ChakraProtoMsg__NodeType)n->type;
    m.n_data_deps = (size_t)n->ndata;
    m.data_deps = n->deps;
    m.n_ctrl_deps = (size_t)(n->ndeps - n->ndata);
    m.ctrl_deps = n->deps + n->ndata;
    m.duration_micros = (uint64_t)(n->duration_s * 1e6 + 0.5);
    m.inputs = &in;
    m.n_attr = node_attrs(n, a);
    for (size_t i = 0; i < m.n_attr; i++)
        ap[i] = &a[i];
    m.attr = ap;
    if (!put_message(w->f, &m.base))
        return usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", w->path, strerror(errno));
    return USIM_OK;
}

usim_status et_writer_close(et_writer *w, usim_error *err)
{
    bool ok = !ferror(w->f);
    ok = fclose(w->f) == 0 && ok;
    usim_status st = ok ? USIM_OK
                        : usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", w->path,
                                    strerror(errno));
    free(w);
    return st;
}
