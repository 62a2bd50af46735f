/*
 * Loading hardware descriptions: a name is an embedded preset (data/hw/NAME.json)
 * or a path to a JSON file of the same form. A file's top-level "kind" says
 * what it describes: "chip", "system" (a node, an instance, an UltraServer) or
 * "network". A system names its chip and default network by preset name or
 * holds them inline. After the schema has checked each value, the checks here
 * cover what involves several values (a 4x4 torus must hold 16 chips).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/internal.h"

#define HW_MAX_CHIPS 4194304 /* 2^22: beyond any announced cluster (Trn3: 1M chips) */

typedef struct hw_source {
    char label[300]; /* file name for messages */
    char *owned;     /* text read from a file, freed by source_free */
    const char *text;
    json_t *doc;
} hw_source;

static void source_free(hw_source *s)
{
    json_decref(s->doc);
    free(s->owned);
    memset(s, 0, sizeof *s);
}

static bool looks_like_path(const char *name)
{
    size_t n = strlen(name);
    return strchr(name, '/') != NULL || (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

typedef struct name_list {
    const char *names[128];
    char storage[128][64];
    size_t count;
} name_list;

static void collect_name(const usim_embedded_file *f, void *ctx)
{
    name_list *l = ctx;
    if (l->count >= 128)
        return;
    usim_embedded_name(f, l->storage[l->count], sizeof l->storage[0]);
    l->names[l->count] = l->storage[l->count];
    l->count++;
}

static usim_status unknown_preset(const char *name, usim_error *err)
{
    name_list list = {.count = 0};
    usim_embedded_each("hw/", collect_name, &list);
    const char *near = usim_closest(name, list.names, list.count);
    if (near)
        return usim_fail(err, USIM_EINPUT,
                         "unknown hardware '%s'; did you mean '%s'? ('ultrasim hw list' shows "
                         "all presets)",
                         name, near);
    return usim_fail(err, USIM_EINPUT,
                     "unknown hardware '%s': not a preset and no such file ('ultrasim hw list' "
                     "shows all presets)",
                     name);
}

#define MAX_BASE_DEPTH 8

static usim_status open_source_at(const char *name, hw_source *s, int depth, usim_error *err);

/* A description with "base": NAME starts from that preset or file (of the
 * same kind) and changes only what it lists: a "what if" is a few lines. */
static usim_status apply_base(hw_source *s, int depth, usim_error *err)
{
    json_t *ref = json_is_object(s->doc) ? json_object_get(s->doc, "base") : NULL;
    if (!ref)
        return USIM_OK;
    usim_reader r = {s->label, s->text, NULL};
    if (!json_is_string(ref))
        return usim_fail_at(&r, "base", false, err,
                            "expected the name of a preset or file to start from");
    if (depth >= MAX_BASE_DEPTH)
        return usim_fail_at(&r, "base", false, err,
                            "more than %d bases in a chain (a base that names itself?)",
                            MAX_BASE_DEPTH);
    hw_source b;
    usim_status st = open_source_at(json_string_value(ref), &b, depth + 1, err);
    if (st != USIM_OK)
        return st;
    json_t *kind = json_object_get(s->doc, "kind"), *base_kind = json_object_get(b.doc, "kind");
    if (json_is_string(kind) && !json_equal(kind, base_kind)) {
        st = usim_fail_at(&r, "base", false, err, "'%s' describes a %s, not a %s",
                          json_string_value(ref),
                          json_is_string(base_kind) ? json_string_value(base_kind) : "?",
                          json_string_value(kind));
        source_free(&b);
        return st;
    }
    json_object_del(s->doc, "base");
    usim_json_merge_over(b.doc, s->doc);
    json_decref(s->doc);
    s->doc = json_incref(b.doc);
    source_free(&b);
    return USIM_OK;
}

static usim_status open_source(const char *name, hw_source *s, usim_error *err)
{
    return open_source_at(name, s, 0, err);
}

static usim_status open_source_at(const char *name, hw_source *s, int depth, usim_error *err)
{
    char path[128];
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "hw/%s.json", name);
    const usim_embedded_file *f = looks_like_path(name) ? NULL : usim_embedded_find(path);
    if (f) {
        s->text = f->text;
        snprintf(s->label, sizeof s->label, "data/%s", f->path);
    } else if (looks_like_path(name) || access(name, R_OK) == 0) {
        usim_status st = usim_read_file(name, &s->owned, NULL, err);
        if (st != USIM_OK)
            return st;
        s->text = s->owned;
        snprintf(s->label, sizeof s->label, "%s", name);
    } else {
        return unknown_preset(name, err);
    }
    usim_status st = usim_json_parse(s->label, s->text, &s->doc, err);
    if (st == USIM_OK)
        st = apply_base(s, depth, err);
    if (st != USIM_OK)
        source_free(s);
    return st;
}

static const char *const KIND_NAMES[] = {"chip", "system", "network"};

/* The top-level "kind" of doc as an hw_preset_kind. */
static usim_status kind_index(const usim_reader *r, json_t *doc, int *kind, usim_error *err)
{
    if (!json_is_object(doc))
        return usim_fail_at(r, "", false, err,
                            "expected a JSON object describing a chip, system or network");
    json_t *k = json_object_get(doc, "kind");
    if (!k)
        return usim_fail_at(r, "", false, err,
                            "missing required key 'kind' (one of chip, system, network)");
    const char *text = json_is_string(k) ? json_string_value(k) : "";
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, KIND_NAMES[i]) == 0) {
            *kind = i;
            return USIM_OK;
        }
    }
    const char *near = usim_closest(text, KIND_NAMES, 3);
    return usim_fail_at(r, "kind", false, err, "'%s' is not one of chip, system, network%s%s%s",
                        text, near ? "; did you mean '" : "", near ? near : "",
                        near ? "'?" : "");
}

static usim_status check_kind(const usim_reader *r, json_t *doc, const char *want,
                              usim_error *err)
{
    int kind;
    usim_status st = kind_index(r, doc, &kind, err);
    if (st == USIM_OK && strcmp(KIND_NAMES[kind], want) != 0)
        st = usim_fail_at(r, "kind", false, err, "this file describes a %s, not a %s",
                          KIND_NAMES[kind], want);
    return st;
}

static void chip_defaults(hw_chip *c)
{
    memset(c, 0, sizeof *c);
    c->logical_core_size = 1;
    c->graph_efficiency = 1.0;
    c->matrix.arrays_per_core = 1;
    c->matrix.stationary_load_speedup = 1.0;
    c->matrix.tile_m = 128;
    c->matrix.tile_n = 128;
    c->matrix.tile_k = 64;
    c->matrix.blocks_per_core = 1;
    c->matrix.efficiency = 1.0;
    c->hbm.stacks = 1;
    c->hbm.efficiency = 1.0;
}

/* A stated peak under a tenth of what the chip's own matrix arrays give is
 * a slip (TFLOPS written as GFLOPS): every MFU would be measured against it.
 * Closer to the arrays' figure it is a warning (hw_peak_warning). */
static usim_status check_dense_flops(const usim_reader *r, const char *path, const hw_chip *c,
                                     usim_error *err)
{
    for (int t = 0; t < USIM_DTYPE_COUNT; t++) {
        double stated = hw_per_dtype_get(&c->dense_flops, (usim_dtype)t);
        double arrays = hw_core_matrix_flops(c, (usim_dtype)t) * c->cores;
        if (!(stated > 0.0) || !(stated < arrays / 10))
            continue;
        char field[200], given[48], low[48], high[48];
        snprintf(field, sizeof field, "%s%sdense_flops.%s", path, path[0] ? "." : "",
                 usim_dtype_name((usim_dtype)t));
        usim_format_quantity(stated, USIM_UNIT_FLOPS, given, sizeof given);
        usim_format_quantity(arrays / 10, USIM_UNIT_FLOPS, low, sizeof low);
        usim_format_quantity(arrays, USIM_UNIT_FLOPS, high, sizeof high);
        return usim_fail_at(r, field, false, err,
                            "%s is under a tenth of the %s its matrix arrays give (cores x "
                            "arrays_per_core x rows x cols x macs_per_pe_per_cycle x 2 x clock); "
                            "allowed: %s or more, or 0 for the arrays' figure",
                            given, high, low);
    }
    return USIM_OK;
}

/* Zero dense_flops entries fall back to the first-principles array figure. */
static void fill_dense_flops(hw_chip *c)
{
    double *dst[] = {&c->dense_flops.fp8,  &c->dense_flops.bf16, &c->dense_flops.fp16,
                     &c->dense_flops.tf32, &c->dense_flops.fp32, &c->dense_flops.fp4};
    for (int t = 0; t < USIM_DTYPE_COUNT; t++)
        if (*dst[t] == 0.0)
            *dst[t] = hw_core_matrix_flops(c, (usim_dtype)t) * c->cores;
}

/* A chip run under a power cap holds lower clocks on every engine: CMOS
 * dynamic power is C V^2 f, and DVFS lowers the voltage with the clock, so
 * power goes as f^3 and the sustained clock as the cube root of the cap's
 * share of the rated power. The peak (dense_flops, the MFU basis) stays the
 * datasheet's. */
static usim_status apply_power_limit(const usim_reader *r, const char *path, hw_chip *c,
                                     usim_error *err)
{
    if (c->power_limit_w <= 0)
        return USIM_OK;
    if (c->power_limit_w > c->power_w) {
        char field[200], rated[32];
        snprintf(field, sizeof field, "%s%spower_limit", path, path[0] ? "." : "");
        usim_format_bound(c->power_w, USIM_UNIT_WATTS, rated, sizeof rated);
        return usim_fail_at(r, field, false, err,
                            "a power limit above the chip's rated power does not raise its "
                            "clocks; allowed: 1 W to %s",
                            rated);
    }
    double k = cbrt(c->power_limit_w / c->power_w);
    c->matrix.clock_hz *= k;
    c->vector.clock_hz *= k;
    c->scalar.clock_hz *= k;
    c->power_w = c->power_limit_w; /* what it draws, for energy and cost */
    return USIM_OK;
}

/* The path of the chip's matrix field `name`, for a message. */
static const char *matrix_field(char *buf, size_t size, const char *path, const char *name)
{
    snprintf(buf, size, "%s%smatrix.%s", path, path[0] ? "." : "", name);
    return buf;
}

/* A GPU-only number set on a systolic array: refused, saying what it means. */
static usim_status refuse_on_array(const usim_reader *r, const char *path, const char *name,
                                   double value, const char *meaning, usim_error *err)
{
    char field[200];
    return usim_fail_at(r, matrix_field(field, sizeof field, path, name), false, err,
                        "%g on a systolic matrix; allowed: 0 (%s)", value, meaning);
}

/* fp8_any_layout says which operand layouts a GPU's FP8 tensor cores take,
 * softmax_overlap how much of its attention softmax runs beside them and
 * attention_tile_overhead what a query tile of its kernels pays; a
 * systolic array streams its operands as the compiler lays them out, and a
 * NeuronCore's engines already work on successive tiles at once, so the
 * fields would change nothing there and are refused rather than ignored. */
static usim_status check_tensor_core_fields(const usim_reader *r, const char *path,
                                            const hw_chip *c, usim_error *err)
{
    if (c->matrix.kind != HW_MATRIX_SYSTOLIC)
        return USIM_OK;
    if (c->matrix.fp8_any_layout) {
        char field[200];
        return usim_fail_at(r, matrix_field(field, sizeof field, path, "fp8_any_layout"), false,
                            err,
                            "true on a systolic matrix; allowed: false (the field says which "
                            "FP8 operand layouts a GPU's tensor cores take; an array streams "
                            "its operands as the compiler lays them out)");
    }
    if (c->matrix.softmax_overlap > 0)
        return refuse_on_array(r, path, "softmax_overlap", c->matrix.softmax_overlap,
                               "the field says how much of a GPU's attention softmax runs "
                               "beside its tensor cores; a NeuronCore's tensor, vector and "
                               "scalar engines already work on successive tiles at once",
                               err);
    if (c->matrix.attention_tile_overhead > 0)
        return refuse_on_array(r, path, "attention_tile_overhead",
                               c->matrix.attention_tile_overhead,
                               "the field prices a GPU attention kernel's query-tile prologue "
                               "and epilogue; a NeuronCore's array fill and drain are costed "
                               "from its own instructions",
                               err);
    return USIM_OK;
}

static usim_status read_chip_object(const usim_reader *r, const char *path, json_t *obj,
                                    hw_chip *out, usim_error *err)
{
    chip_defaults(out);
    usim_status st = usim_read_object(r, &hw_chip_schema, path, obj, out, err);
    if (st != USIM_OK)
        return st;
    if (!json_object_get(obj, "scalar"))
        out->scalar = out->vector;
    st = check_dense_flops(r, path, out, err);
    if (st == USIM_OK)
        st = check_tensor_core_fields(r, path, out, err);
    if (st != USIM_OK)
        return st;
    fill_dense_flops(out);
    return apply_power_limit(r, path, out, err);
}

static usim_status read_network_object(const usim_reader *r, const char *path, json_t *obj,
                                       hw_network *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    out->oversubscription = 1.0;
    usim_status st = usim_read_object(r, &hw_network_schema, path, obj, out, err);
    if (st != USIM_OK)
        return st;
    if (out->tier_latency_count != out->tiers) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s%stier_latency", path, path[0] ? "." : "");
        return usim_fail_at(r, sub, false, err, "has %d entries; expected one per tier (%d)",
                            out->tier_latency_count, out->tiers);
    }
    return USIM_OK;
}

/* Reads preset or file `name` of the given kind with reader sources. */
typedef usim_status (*object_reader)(const usim_reader *r, const char *path, json_t *obj,
                                     void *out, usim_error *err);

static usim_status load_kind(const char *name, const char *kind, object_reader read, void *out,
                             json_t *sources, usim_error *err)
{
    hw_source s;
    usim_status st = open_source(name, &s, err);
    if (st != USIM_OK)
        return st;
    usim_reader r = {s.label, s.text, sources};
    st = check_kind(&r, s.doc, kind, err);
    if (st == USIM_OK)
        st = read(&r, "", s.doc, out, err);
    source_free(&s);
    return st;
}

static usim_status read_chip_any(const usim_reader *r, const char *path, json_t *obj, void *out,
                                 usim_error *err)
{
    return read_chip_object(r, path, obj, out, err);
}

static usim_status read_network_any(const usim_reader *r, const char *path, json_t *obj,
                                    void *out, usim_error *err)
{
    return read_network_object(r, path, obj, out, err);
}

usim_status hw_load_chip(const char *name_or_file, hw_chip *out, usim_error *err)
{
    return load_kind(name_or_file, "chip", read_chip_any, out, NULL, err);
}

usim_status hw_load_network(const char *name_or_file, hw_network *out, usim_error *err)
{
    return load_kind(name_or_file, "network", read_network_any, out, NULL, err);
}

static usim_status check_topology(const usim_reader *r, const char *path, const hw_topology *t,
                                  int members, usim_error *err)
{
    if (t->kind == HW_TOPO_TORUS) {
        int product = 1;
        for (int i = 0; i < t->ndims; i++)
            product *= t->dims[i];
        if (t->ndims == 0)
            return usim_fail_at(r, path, false, err, "a torus needs 'dims', e.g. [4, 4]");
        if (product != members)
            return usim_fail_at(r, path, false, err,
                                "torus dims multiply to %d but there are %d members", product,
                                members);
    }
    if (t->kind == HW_TOPO_NONE && members > 1)
        return usim_fail_at(r, path, false, err,
                            "topology 'none' cannot join %d members; use ring, torus, switch or "
                            "mesh",
                            members);
    return USIM_OK;
}

/* "chip" or "network": a preset name, or an inline object. */
static usim_status read_part(const usim_reader *r, json_t *doc, const char *key,
                             const char *kind, object_reader read, void *out, bool *present,
                             usim_error *err)
{
    json_t *v = json_object_get(doc, key);
    *present = v != NULL;
    if (!v)
        return USIM_OK;
    if (json_is_string(v)) {
        const char *name = json_string_value(v);
        int found = -1;
        usim_status st = hw_kind_of(name, &found, err);
        if (st == USIM_OK && strcmp(KIND_NAMES[found], kind) != 0)
            return usim_fail_at(r, key, false, err, "'%s' describes a %s, not a %s", name,
                                KIND_NAMES[found], kind);
        if (st == USIM_OK)
            st = load_kind(name, kind, read, out, NULL, err);
        if (st != USIM_OK && err && !err->file[0]) {
            /* The name itself is wrong: point at it in this file. */
            char message[sizeof err->message];
            snprintf(message, sizeof message, "%s", err->message);
            usim_fail_at(r, key, false, err, "%s", message);
        }
        return st;
    }
    if (json_is_object(v))
        return read(r, key, v, out, err);
    return usim_fail_at(r, key, false, err, "expected a %s preset name or an object", kind);
}

/* Failure rates when a description gives none: those Meta observed over 54
 * days on 16,384 H100s (Llama 3 paper, table 5; 419 unexpected
 * interruptions), per device-hour; recovery figures are assumptions. See
 * docs/reliability.md for the arithmetic. */
static void reliability_defaults(hw_reliability *r)
{
    r->chip_fit = 9230.6;      /* 196 GPU failures (HBM excluded) / 21.2M GPU-hours */
    r->hbm_stack_fit = 678.2;  /* 72 HBM3 failures / (21.2M GPU-hours x 5 stacks) */
    r->host_fit = 17331;       /* 46 host-hardware failures / 2.65M node-hours */
    r->software_fit = 23736;   /* 63 software, dependency and NCCL-timeout failures */
    r->nic_fit = 329.7;        /* 7 NIC failures / 21.2M GPU-hours */
    r->link_fit = 1648.3;      /* 35 switch and cable failures / 21.2M GPU-hours */
    r->storage_bandwidth_per_node = 10e9;    /* assumption: a 100 Gbps front-end link */
    r->storage_bandwidth_aggregate = 2e12;   /* Llama 3: Tectonic, 2 TB/s sustained */
    r->host_copy_bandwidth_per_chip = 25e9;  /* assumption: PCIe Gen5 x16, achieved */
    r->restart_s = 600;        /* assumption: detect, reschedule, load, warm up */
    r->replacement_s = 3600;   /* assumption: swap a node when no hot spare waits */
}

/* ---- a collective library named by preset ------------------------------- */

#define LIBRARY_LIST_BYTES 200

/* The library presets' names, comma separated (data/collectives). */
static void add_library_name(const usim_embedded_file *f, void *ctx)
{
    char *list = ctx, name[64];
    size_t n = strlen(list);
    usim_embedded_name(f, name, sizeof name);
    snprintf(list + n, LIBRARY_LIST_BYTES - n, "%s%s", n ? ", " : "", name);
}

/* "gpu": "hopper" or "gpu": {"value": "hopper", "source": ...} */
static const char *variant_of(json_t *ref, const char *key)
{
    json_t *v = json_object_get(ref, key);
    return json_is_object(v) ? json_string_value(json_object_get(v, "value"))
                             : json_string_value(v);
}

static bool listed(json_t *list, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        if (name && json_is_string(x) && strcmp(json_string_value(x), name) == 0)
            return true;
    }
    return false;
}

static void join_list(json_t *list, char *buf, size_t size)
{
    size_t i;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(list, i, x)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", json_string_value(x));
    }
}

/* Takes, everywhere in node, {"by_gpu": {...}} and {"by_cpu": {...}} for the
 * system's GPU generation and CPU; a variant the library does not give leaves
 * the figure out (NVLS on a GPU without it). */
static void select_variants(json_t *node, const char *gpu, const char *cpu)
{
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(node, tmp, key, v)
    {
        if (!json_is_object(v))
            continue;
        json_t *by_gpu = json_object_get(v, "by_gpu"), *by_cpu = json_object_get(v, "by_cpu");
        if (by_gpu || by_cpu) {
            json_t *pick = json_object_get(by_gpu ? by_gpu : by_cpu, by_gpu ? gpu : cpu);
            if (pick)
                json_object_set(node, key, pick);
            else
                json_object_del(node, key);
        } else {
            select_variants(v, gpu, cpu);
        }
    }
}

/* A library preset's parts a system can take ("parts"): its tuning model
 * (ring, tree, NVLS), its point-to-point path, its host cost per blocking
 * call; each the keys it holds. */
static const char *const LIBRARY_PARTS[] = {"tuning", "p2p", "blocking_call", NULL};
#define LIBRARY_PARTS_ALLOWED "allowed: tuning, p2p, blocking_call"
static const char *const TUNING_KEYS[] = {"ring_ll",  "ring_ll128",  "ring_simple", "tree_ll",
                                          "tree_ll128", "tree_simple", "nvls"};

static bool part_listed(json_t *parts, const char *name)
{
    return !parts || listed(parts, name);
}

/* "parts": ["p2p", ...] keeps those parts of the preset and drops the rest. */
static usim_status take_parts(const usim_reader *r, json_t *parts, json_t *lib, usim_error *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(parts, i, v)
    {
        bool known = false;
        for (int k = 0; LIBRARY_PARTS[k] && json_is_string(v); k++)
            known = known || strcmp(json_string_value(v), LIBRARY_PARTS[k]) == 0;
        if (!known)
            return usim_fail_at(r, "collective_library.parts", false, err,
                                "'%s' is not a part of a collective library; "
                                LIBRARY_PARTS_ALLOWED,
                                json_is_string(v) ? json_string_value(v) : "(not a string)");
    }
    if (!part_listed(parts, "tuning")) { /* with its GPU and CPU rows */
        for (size_t k = 0; k < sizeof TUNING_KEYS / sizeof TUNING_KEYS[0]; k++)
            json_object_del(lib, TUNING_KEYS[k]);
        json_object_del(lib, "gpus");
        json_object_del(lib, "cpus");
    }
    if (!part_listed(parts, "p2p"))
        json_object_del(lib, "p2p");
    if (!part_listed(parts, "blocking_call"))
        json_object_del(lib, "blocking_call_overhead");
    return USIM_OK;
}

/* The GPU generation and host CPU name rows the preset has. A library whose
 * figures do not depend on them lists none, nor do the parts a system takes
 * without the tuning model. */
static usim_status check_rows(const usim_reader *r, json_t *lib, const char *preset,
                              const char *gpu, const char *cpu, usim_error *err)
{
    char allowed[LIBRARY_LIST_BYTES];
    if (json_object_get(lib, "gpus") && !listed(json_object_get(lib, "gpus"), gpu)) {
        join_list(json_object_get(lib, "gpus"), allowed, sizeof allowed);
        return usim_fail_at(r, "collective_library.gpu", false, err,
                            "'%s' is not a GPU generation %s has figures for; allowed: %s",
                            gpu ? gpu : "", preset, allowed);
    }
    if (json_object_get(lib, "cpus") && !listed(json_object_get(lib, "cpus"), cpu)) {
        join_list(json_object_get(lib, "cpus"), allowed, sizeof allowed);
        return usim_fail_at(r, "collective_library.cpu", false, err,
                            "'%s' is not a host CPU %s has figures for; allowed: %s",
                            cpu ? cpu : "", preset, allowed);
    }
    return USIM_OK;
}

/* "collective_library": {"preset": "nccl-2.27", "gpu": ..., "cpu": ...} becomes
 * that library's figures (data/collectives/NAME.json) for this system; with
 * "parts", only those (the GPU and CPU rows then only where tuning is one). */
static usim_status resolve_library(const usim_reader *r, json_t *doc, usim_error *err)
{
    json_t *ref = json_object_get(doc, "collective_library");
    json_t *preset = json_is_object(ref) ? json_object_get(ref, "preset") : NULL;
    if (!preset)
        return USIM_OK;
    static const char *const REF_KEYS[] = {"preset", "gpu", "cpu", "parts", "note"};
    const char *key;
    json_t *v;
    json_object_foreach(ref, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof REF_KEYS / sizeof REF_KEYS[0]; i++)
            known = known || strcmp(key, REF_KEYS[i]) == 0;
        if (!known)
            return usim_fail_at(r, "collective_library", false, err,
                                "unknown key '%s' beside a preset; allowed: preset, gpu, cpu, "
                                "parts, note",
                                key);
    }
    char path[160], allowed[LIBRARY_LIST_BYTES];
    snprintf(path, sizeof path, "collectives/%s.json",
             json_is_string(preset) ? json_string_value(preset) : "");
    const usim_embedded_file *f = usim_embedded_find(path);
    if (!f) {
        allowed[0] = '\0';
        usim_embedded_each("collectives/", add_library_name, allowed);
        return usim_fail_at(r, "collective_library.preset", false, err,
                            "unknown collective library; allowed: %s (data/collectives)",
                            allowed);
    }
    json_t *lib = json_loads(f->text, 0, NULL);
    if (!lib)
        return usim_fail(err, USIM_ERUNTIME, "data/%s is not valid JSON", f->path);
    const char *gpu = variant_of(ref, "gpu"), *cpu = variant_of(ref, "cpu");
    json_t *parts = json_object_get(ref, "parts");
    usim_status st = USIM_OK;
    if (parts && !json_is_array(parts))
        st = usim_fail_at(r, "collective_library.parts", false, err,
                          "a list of parts; " LIBRARY_PARTS_ALLOWED);
    else if (parts)
        st = take_parts(r, parts, lib, err);
    if (st == USIM_OK)
        st = check_rows(r, lib, json_string_value(preset), gpu, cpu, err);
    if (st == USIM_OK) {
        static const char *const NOT_FIGURES[] = {"kind", "description", "gpus", "cpus"};
        for (size_t i = 0; i < sizeof NOT_FIGURES / sizeof NOT_FIGURES[0]; i++)
            json_object_del(lib, NOT_FIGURES[i]);
        select_variants(lib, gpu, cpu);
        json_object_set(doc, "collective_library", lib);
    }
    json_decref(lib);
    return st;
}

static usim_status read_system_object(const usim_reader *r, json_t *doc, hw_system *out,
                                      usim_error *err)
{
    bool has_chip, has_network;
    memset(out, 0, sizeof *out);
    reliability_defaults(&out->reliability);
    out->domain.nodes = 1;
    out->domain.topology.kind = HW_TOPO_NONE;
    out->price.basis = HW_PRICE_ESTIMATE;
    out->price.usd_per_chip_hour = NAN; /* until the description gives one */
    usim_status st = resolve_library(r, doc, err);
    if (st == USIM_OK)
        st = usim_read_object(r, &hw_system_schema, "", doc, out, err);
    if (st == USIM_OK)
        st = read_part(r, doc, "chip", "chip", read_chip_any, &out->chip, &has_chip, err);
    if (st == USIM_OK && !has_chip)
        st = usim_fail_at(r, "", false, err, "missing required key 'chip'");
    if (st == USIM_OK)
        st = read_part(r, doc, "network", "network", read_network_any, &out->network,
                       &has_network, err);
    if (st == USIM_OK)
        st = check_topology(r, "node.topology", &out->node.topology, out->node.chips, err);
    if (st == USIM_OK)
        st = check_topology(r, "scaleup_domain.topology", &out->domain.topology,
                            out->domain.nodes, err);
    out->default_chips = out->node.chips * out->domain.nodes;
    return st;
}

/* A chip on its own: one chip, no links. */
static void system_of_chip(const hw_chip *chip, hw_system *out)
{
    memset(out, 0, sizeof *out);
    out->chip = *chip;
    snprintf(out->name, sizeof out->name, "%s", chip->name);
    snprintf(out->description, sizeof out->description, "one %s chip", chip->name);
    out->node.chips = 1;
    out->domain.nodes = 1;
    out->default_chips = 1;
    out->price.basis = HW_PRICE_ESTIMATE;
    out->price.usd_per_chip_hour = NAN; /* until the description gives one */
    reliability_defaults(&out->reliability);
}

static usim_status load_system_source(hw_source *s, int chips, const char *network,
                                      hw_system *out, usim_error *err)
{
    usim_reader r = {s->label, s->text, NULL};
    json_t *kind = json_is_object(s->doc) ? json_object_get(s->doc, "kind") : NULL;
    usim_status st;
    if (kind && json_is_string(kind) && strcmp(json_string_value(kind), "chip") == 0) {
        hw_chip chip;
        st = read_chip_object(&r, "", s->doc, &chip, err);
        if (st != USIM_OK)
            return st;
        system_of_chip(&chip, out);
    } else {
        st = check_kind(&r, s->doc, "system", err);
        if (st == USIM_OK)
            st = read_system_object(&r, s->doc, out, err);
        if (st != USIM_OK)
            return st;
    }
    if (network && network[0]) {
        st = hw_load_network(network, &out->network, err);
        if (st != USIM_OK)
            return st;
    }
    hw_peak_warning(&out->chip, s->label, out->warning, sizeof out->warning);
    return hw_set_chips(out, chips > 0 ? chips : out->default_chips, err);
}

usim_status hw_load_system(const char *name_or_file, int chips, const char *network,
                           hw_system *out, usim_error *err)
{
    hw_source s;
    usim_status st = open_source(name_or_file, &s, err);
    if (st != USIM_OK)
        return st;
    st = load_system_source(&s, chips, network, out, err);
    source_free(&s);
    return st;
}

usim_status hw_load_system_text(const char *file, const char *text, int chips,
                                const char *network, hw_system *out, usim_error *err)
{
    hw_source s;
    memset(&s, 0, sizeof s);
    snprintf(s.label, sizeof s.label, "%s", file && file[0] ? file : "<input>");
    s.text = text;
    usim_status st = usim_json_parse(s.label, text, &s.doc, err);
    if (st == USIM_OK)
        st = apply_base(&s, 0, err);
    if (st == USIM_OK)
        st = load_system_source(&s, chips, network, out, err);
    source_free(&s);
    return st;
}

/* A job larger than a node but not a multiple of it takes the same number of
 * whole units from each of the fewest nodes it needs (128 GB200s: 16 trays of
 * 4 in each of two racks), so its NVLink domains are that size. */
static bool spread_over_nodes(hw_system *sys, int chips)
{
    int per_node = sys->node.chips, unit = sys->node.chips_unit;
    if (unit <= 0 || unit >= per_node || sys->domain.nodes > 1)
        return false;
    int nodes = (chips + per_node - 1) / per_node;
    if (chips % nodes != 0 || (chips / nodes) % unit != 0)
        return false;
    sys->node.chips = chips / nodes;
    sys->default_chips = sys->node.chips;
    return true;
}

usim_status hw_set_chips(hw_system *sys, int chips, usim_error *err)
{
    int per_node = sys->node.chips;
    if (chips < 1 || chips > HW_MAX_CHIPS)
        return usim_fail_field(err, USIM_EINPUT, "chips",
                               "%d is out of range; allowed 1 to %d", chips, HW_MAX_CHIPS);
    if (per_node == 1 && sys->default_chips == 1 && chips > 1 && sys->network.tiers == 0)
        return usim_fail_field(err, USIM_EINPUT, "chips",
                               "'%s' is a single chip; for %d chips use a system preset such "
                               "as trn2.48xlarge or dgx-h100 ('ultrasim hw list')",
                               sys->name, chips);
    if (chips > per_node && chips % per_node != 0 && !spread_over_nodes(sys, chips)) {
        if (sys->node.chips_unit > 0 && sys->node.chips_unit < per_node)
            return usim_fail_field(err, USIM_EINPUT, "chips",
                                   "%d chips neither fill whole %s nodes of %d chips nor split "
                                   "evenly into units of %d over the fewest nodes; use a "
                                   "multiple of %d, or e.g. %d",
                                   chips, sys->name, per_node, sys->node.chips_unit, per_node,
                                   (chips + per_node - 1) / per_node * per_node);
        return usim_fail_field(err, USIM_EINPUT, "chips",
                               "%d chips do not fill whole %s nodes of %d chips; use a multiple "
                               "of %d",
                               chips, sys->name, per_node, per_node);
    }
    if (chips > sys->default_chips && sys->network.tiers == 0)
        return usim_fail_field(err, USIM_EINPUT, "network",
                               "%d chips span more than one %d-chip scale-up domain of %s, which "
                               "has no scale-out network; name one with --network",
                               chips, sys->default_chips, sys->name);
    sys->chips = chips;
    return USIM_OK;
}

static void add_sources(json_t *all, json_t *part, const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach(part, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s", prefix, key);
        json_object_set(all, path, v);
    }
}

static usim_status sources_of_part(json_t *doc, const char *key, const char *kind,
                                   object_reader read, void *scratch, json_t *all,
                                   usim_error *err)
{
    json_t *v = json_object_get(doc, key);
    if (!v || !json_is_string(v))
        return USIM_OK;
    json_t *part = json_object();
    usim_status st = load_kind(json_string_value(v), kind, read, scratch, part, err);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", key);
    add_sources(all, part, prefix);
    json_decref(part);
    return st;
}

usim_status hw_sources_json(const char *name_or_file, char **json_text, usim_error *err)
{
    hw_source s;
    usim_status st = open_source(name_or_file, &s, err);
    if (st != USIM_OK)
        return st;
    json_t *all = json_object();
    usim_reader r = {s.label, s.text, all};
    json_t *kind = json_object_get(s.doc, "kind");
    const char *k = json_is_string(kind) ? json_string_value(kind) : "";
    hw_system *scratch = calloc(1, sizeof *scratch);
    if (!scratch) {
        st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    } else if (strcmp(k, "chip") == 0) {
        st = read_chip_object(&r, "", s.doc, &scratch->chip, err);
    } else if (strcmp(k, "network") == 0) {
        st = read_network_object(&r, "", s.doc, &scratch->network, err);
    } else {
        st = read_system_object(&r, s.doc, scratch, err);
        if (st == USIM_OK)
            st = sources_of_part(s.doc, "chip", "chip", read_chip_any, &scratch->chip, all,
                                 err);
        if (st == USIM_OK)
            st = sources_of_part(s.doc, "network", "network", read_network_any,
                                 &scratch->network, all, err);
    }
    if (st == USIM_OK) {
        *json_text = json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!*json_text)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    free(scratch);
    json_decref(all);
    source_free(&s);
    return st;
}

/* Replaces doc[key], a preset name, by that preset's own document. */
static usim_status inline_part(json_t *doc, const char *key, usim_error *err)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v))
        return USIM_OK;
    hw_source part;
    usim_status st = open_source(json_string_value(v), &part, err);
    if (st != USIM_OK)
        return st;
    json_object_set(doc, key, part.doc);
    source_free(&part);
    return USIM_OK;
}

usim_status hw_resolve_text(const char *name_or_file, char **json_text, usim_error *err)
{
    hw_source s;
    usim_status st = open_source(name_or_file, &s, err);
    if (st != USIM_OK)
        return st;
    usim_reader r = {s.label, s.text, NULL};
    if (json_is_object(s.doc))
        st = inline_part(s.doc, "chip", err);
    if (st == USIM_OK && json_is_object(s.doc))
        st = inline_part(s.doc, "network", err);
    if (st == USIM_OK && json_is_object(s.doc))
        st = resolve_library(&r, s.doc, err);
    if (st == USIM_OK) {
        *json_text = json_dumps(s.doc, JSON_INDENT(2));
        if (!*json_text)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    source_free(&s);
    return st;
}

usim_status hw_kind_of(const char *name_or_file, int *kind, usim_error *err)
{
    hw_source s;
    usim_status st = open_source(name_or_file, &s, err);
    if (st != USIM_OK)
        return st;
    usim_reader r = {s.label, s.text, NULL};
    st = kind_index(&r, s.doc, kind, err);
    source_free(&s);
    return st;
}

/* ---- the preset list ------------------------------------------------ */

size_t hw_preset_count(void)
{
    name_list list = {.count = 0};
    usim_embedded_each("hw/", collect_name, &list);
    return list.count;
}

usim_status hw_preset_at(size_t i, hw_preset_info *out, usim_error *err)
{
    name_list list = {.count = 0};
    usim_embedded_each("hw/", collect_name, &list);
    if (i >= list.count)
        return usim_fail(err, USIM_EINPUT, "no preset %zu", i);
    char path[128];
    snprintf(path, sizeof path, "hw/%s.json", list.names[i]);
    const usim_embedded_file *f = usim_embedded_find(path);
    json_t *doc = json_loads(f->text, 0, NULL);
    if (!doc)
        return usim_fail(err, USIM_ERUNTIME, "preset %s is not valid JSON", path);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", list.names[i]);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    for (int k = 0; k < 3; k++)
        if (kind && strcmp(kind, KIND_NAMES[k]) == 0)
            out->kind = k;
    const char *desc = json_string_value(json_object_get(doc, "description"));
    snprintf(out->description, sizeof out->description, "%s", desc ? desc : "");
    json_decref(doc);
    return USIM_OK;
}

const char *hw_no_price_reason(const hw_system *sys)
{
    return isfinite(sys->price.usd_per_chip_hour)
               ? NULL
               : "no price: the hardware description has no price.usd_per_chip_hour";
}
