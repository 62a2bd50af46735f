/*
 * `ultrasim hw list` and `ultrasim hw show`: the hardware a simulation runs on,
 * with the aggregates derived from it (peak FLOPS, HBM, link bandwidth) beside
 * the figures the vendor publishes, so a user can check the description before
 * trusting anything built on it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/engine.h"
#include "ultrasim/hw.h"
#include "ultrasim/serve.h"
#include "ultrasim/workload.h"

/* ---- hw list -------------------------------------------------------- */

static const char *const KIND_NAMES[] = {"chip", "system", "network"};

static usim_status hw_list_run(json_t *req, json_t **result, usim_error *err)
{
    (void)req;
    json_t *items = json_array();
    for (size_t i = 0; i < hw_preset_count(); i++) {
        hw_preset_info info;
        usim_status st = hw_preset_at(i, &info, err);
        if (st != USIM_OK) {
            json_decref(items);
            return st;
        }
        json_array_append_new(items, api_pack("{s:s, s:s, s:s}", "name", info.name, "kind",
                                               KIND_NAMES[info.kind], "description",
                                               info.description));
    }
    *result = api_pack("{s:o}", "presets", items);
    return USIM_OK;
}

static usim_status hw_list_render(json_t *res, usim_buf *b, usim_error *err)
{
    static const char *const HEADINGS[] = {"Chips", "Systems (use with --hw)",
                                           "Scale-out networks (use with --network)"};
    (void)err;
    json_t *items = json_object_get(res, "presets");
    for (int k = 0; k < 3; k++) {
        usim_buf_printf(b, "%s%s:\n", k ? "\n" : "", HEADINGS[k]);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *kind = json_string_value(json_object_get(it, "kind"));
            if (!kind || strcmp(kind, KIND_NAMES[k]) != 0)
                continue;
            usim_buf_printf(b, "  %-22s %s\n", json_string_value(json_object_get(it, "name")),
                            json_string_value(json_object_get(it, "description")));
        }
    }
    usim_buf_puts(b, "\n'ultrasim hw show NAME' prints one; a JSON file of the same form works "
                     "wherever a name does.\n");
    return USIM_OK;
}

extern const api_command api_cmd_hw_list;
const api_command api_cmd_hw_list = {
    {"hw list", "list the hardware presets: chips, systems and networks", "ultrasim hw list",
     NULL, NULL, NULL, 0},
    hw_list_run,
    hw_list_render,
};

/* ---- hw show -------------------------------------------------------- */

extern const api_command api_cmd_hw_show;

static json_t *per_dtype_json(const hw_per_dtype *v)
{
    return api_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "fp8", v->fp8, "bf16", v->bf16, "fp16",
                     v->fp16, "tf32", v->tf32, "fp32", v->fp32, "fp4", v->fp4);
}

static void topology_text(const hw_topology *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", hw_topology_name(t->kind));
    /* only a torus has dims; a ring or switch inherits a base's [4, 4] unused */
    for (int i = 0; t->kind == HW_TOPO_TORUS && i < t->ndims && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%d", i ? "x" : " ", t->dims[i]);
}

static json_t *chip_json(const hw_chip *c)
{
    const hw_matrix *m = &c->matrix;
    return api_pack(
        "{s:s, s:s, s:s, s:i, s:s, s:{s:s, s:i, s:i, s:i, s:f, s:o, s:b}, s:f, s:f, s:f, s:f,"
        " s:f, s:f, s:f}",
        "name", c->name, "vendor", c->vendor, "description", c->description, "cores", c->cores,
        "core_name", c->core_name, "matrix", "kind", m->kind == HW_MATRIX_SYSTOLIC ? "systolic"
                                                                                 : "tensor_core",
        "rows", m->rows, "cols", m->cols, "arrays_per_core", m->arrays_per_core, "clock_hz",
        m->clock_hz, "macs_per_pe_per_cycle", per_dtype_json(&m->macs_per_pe), "fp8_double_row",
        m->fp8_double_row, "hbm_bytes", c->hbm.capacity_bytes, "hbm_bytes_per_s",
        c->hbm.bandwidth_bytes_per_s, "sram_per_core_bytes", c->sram.per_core_bytes,
        "vector_clock_hz", c->vector.clock_hz, "dma_bytes_per_s", c->dma.bandwidth_bytes_per_s,
        "power_w", c->power_w, "core_bf16_flops", hw_core_matrix_flops(c, USIM_BF16));
}

static json_t *scaleup_json(const hw_system *s)
{
    char node_topo[64], domain_topo[64];
    topology_text(&s->node.topology, node_topo, sizeof node_topo);
    topology_text(&s->domain.topology, domain_topo, sizeof domain_topo);
    return api_pack("{s:s, s:f, s:b, s:i, s:f, s:f, s:s, s:i, s:f, s:f}", "node_topology",
                     node_topo, "node_bytes_per_s_per_chip", s->node.bandwidth_per_chip,
                     "bidirectional", s->node.bidirectional, "links_per_chip",
                     s->node.links_per_chip, "node_hop_latency_s", s->node.hop_latency_s,
                     "bytes_per_s_per_direction_per_chip",
                     hw_node_bandwidth_per_direction(s), "domain_topology", domain_topo,
                     "domain_nodes", s->domain.nodes, "domain_bytes_per_s_per_chip",
                     s->domain.bandwidth_per_chip, "domain_hop_latency_s",
                     s->domain.hop_latency_s);
}

static json_t *network_json(const hw_network *n)
{
    json_t *lat = json_array();
    for (int i = 0; i < n->tier_latency_count; i++)
        json_array_append_new(lat, json_real(n->tier_latency_s[i]));
    return api_pack("{s:s, s:s, s:i, s:i, s:f, s:o, s:f, s:f}", "name", n->name,
                     "description", n->description, "tiers", n->tiers, "radix", n->radix,
                     "port_bits_per_s", n->port_bandwidth * 8.0, "tier_latency_s", lat,
                     "oversubscription", n->oversubscription, "endpoint_latency_s",
                     n->endpoint_latency_s);
}

/* What the collective library brings: its name, the rule auto follows,
 * NVLink SHARP, the host's blocking call and the network's own step. */
static json_t *collectives_json(const hw_system *s)
{
    const hw_collective_library *l = &s->collective_library;
    /* Only a library costed by its own model (NCCL's protocols) takes the
     * network's step; Neuron's rule runs the plain model. */
    bool costed = l->ring_simple.efficiency > 0.0 || l->tree_simple.efficiency > 0.0;
    json_t *o = api_pack("{s:s, s:s, s:b, s:f, s:f, s:f}", "library",
                          l->name[0] ? l->name : "none", "auto",
                          l->auto_rule == HW_AUTO_NEURON ? "neuron" : "fastest", "nvls",
                          l->nvls.efficiency > 0.0, "blocking_call_overhead_s",
                          l->blocking_call_overhead_s, "network_step_latency_s",
                          costed ? s->network.collective_step_latency_s : 0.0,
                          "network_completion_overhead_s",
                          costed ? s->network.collective_completion_overhead_s : 0.0);
    if (l->nvls.efficiency > 0.0) {
        json_object_set_new(o, "nvls_latency_s",
                            json_real(l->nvls.base_latency_s + l->nvls.hop_latency_s));
        json_object_set_new(o, "nvls_efficiency", json_real(l->nvls.efficiency));
    }
    return o;
}

/* Published system figures apply only at the preset's own size. */
static json_t *published_json(const hw_system *s)
{
    const hw_published *p = &s->published;
    if (s->chips != s->default_chips || (p->hbm_bytes == 0 && p->dense_flops.fp8 == 0 &&
                                         p->dense_flops.bf16 == 0))
        return json_null();
    return api_pack("{s:o, s:f, s:f}", "dense_flops", per_dtype_json(&p->dense_flops),
                     "hbm_bytes", p->hbm_bytes, "hbm_bytes_per_s", p->hbm_bytes_per_s);
}

static const usim_option HW_SHOW_OPTIONS[] = {
    {"name", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",
     "hardware preset ('ultrasim hw list') or JSON file", NULL, NULL, 0, 0, true, true},
    API_OPT_CHIPS,
    API_OPT_NETWORK,
    {"sources", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL, "also print where each figure comes from",
     NULL, NULL, 0, 0, false},
};

static const char *const HW_SHOW_POSITIONALS[] = {"name", NULL};

static usim_status add_sources(const char *name, json_t *result, usim_error *err)
{
    char *text = NULL;
    usim_status st = hw_sources_json(name, &text, err);
    if (st != USIM_OK)
        return st;
    json_t *src = json_loads(text, 0, NULL);
    free(text);
    json_object_set_new(result, "sources", src ? src : json_object());
    return USIM_OK;
}

/* A network preset on its own: its own figures, nothing to derive. */
static usim_status show_network(const char *name, json_t **result, usim_error *err)
{
    hw_network net;
    usim_status st = hw_load_network(name, &net, err);
    if (st != USIM_OK)
        return st;
    *result = api_pack("{s:s, s:s, s:o}", "name", net.name, "description", net.description,
                        "network", network_json(&net));
    return *result ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

/* The software the system's users run when a request names none: the
 * training stack and the serving engine (their files' descriptions). */
static json_t *software_json(const hw_system *sys)
{
    wl_stack stack;
    serve_engine engine;
    usim_error e;
    const char *sname = wl_default_stack(sys);
    const char *ename = serve_default_engine(sys);
    bool has_stack = wl_stack_load(sname, &stack, &e) == USIM_OK;
    bool has_engine = serve_engine_load(ename, &engine, &e) == USIM_OK;
    return api_pack("{s:s, s:s, s:s, s:s}", "stack", sname, "stack_description",
                    has_stack ? stack.description : "", "engine", ename, "engine_description",
                    has_engine ? engine.description : "");
}

static void render_software(usim_buf *b, json_t *sw)
{
    if (!sw)
        return;
    usim_buf_printf(b, "\nSoftware (when a run names none)\n  %-24s %s: %s\n  %-24s %s: %s\n",
                    "training stack", json_string_value(json_object_get(sw, "stack")),
                    json_string_value(json_object_get(sw, "stack_description")),
                    "serving engine", json_string_value(json_object_get(sw, "engine")),
                    json_string_value(json_object_get(sw, "engine_description")));
}

/* obj[key] = null with obj[KEY_reason]: a figure the hardware does not have. */
static void set_absent(json_t *obj, const char *key, const char *reason)
{
    char name[96];
    snprintf(name, sizeof name, "%s_reason", key);
    json_object_set_new(obj, key, json_null());
    json_object_set_new(obj, name, json_string(reason));
}

/* The same where it is 0: not a figure the hardware has at zero. */
static void null_if_zero(json_t *obj, const char *key, const char *reason)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_number(v) && json_number_value(v) == 0.0)
        set_absent(obj, key, reason);
}

static void null_zero_dtypes(json_t *per_dtype, const char *reason)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(per_dtype, tmp, key, v)
    {
        if (!strstr(key, "_reason"))
            null_if_zero(per_dtype, key, reason);
    }
}

static const char *no_scaleup_reason(const hw_system *sys)
{
    return sys->chips == 1        ? "no scale-up links: a chip alone"
           : sys->node.chips == 1 ? "no scale-up links: a node holds one chip"
                                  : "no scale-up links: node.bandwidth_per_chip is 0";
}

/* What the JSON leaves null instead of 0, and why. */
static void absent_figures(json_t *res, const hw_system *sys)
{
    char units[96];
    snprintf(units, sizeof units, "%s has no matrix units for this type", sys->chip.name);
    null_zero_dtypes(json_object_get(res, "dense_flops"), units);
    null_zero_dtypes(json_object_get(res, "array_flops"), units);
    null_zero_dtypes(json_object_get(res, "published_chip_flops"), "not published");
    null_zero_dtypes(json_object_get(json_object_get(res, "published"), "dense_flops"),
                     "not published");
    null_if_zero(json_object_get(res, "chip"), "dma_bytes_per_s",
                 "the chip names no DMA engines: its memory traffic runs at HBM's sustained "
                 "rate");
    json_t *su = json_object_get(res, "scaleup");
    const char *no_links = no_scaleup_reason(sys);
    static const char *const NODE_KEYS[] = {"node_bytes_per_s_per_chip", "links_per_chip",
                                            "node_hop_latency_s",
                                            "bytes_per_s_per_direction_per_chip"};
    for (size_t i = 0; i < sizeof NODE_KEYS / sizeof NODE_KEYS[0]; i++) {
        if (sys->node.chips == 1) /* a node's figures join nothing when it holds one chip */
            set_absent(su, NODE_KEYS[i], no_links);
        else
            null_if_zero(su, NODE_KEYS[i], no_links);
    }
    if (sys->domain.nodes <= 1) {
        null_if_zero(su, "domain_bytes_per_s_per_chip", "no scale-up domain beyond the node");
        null_if_zero(su, "domain_hop_latency_s", "no scale-up domain beyond the node");
    }
    json_t *c = json_object_get(res, "collectives");
    null_if_zero(c, "blocking_call_overhead_s",
                 "the collective library gives no figure (collective --launch blocking is "
                 "refused)");
    null_if_zero(c, "network_step_latency_s",
                 "the library's own step figure applies (the network names none, or the "
                 "library's rule runs the plain model)");
    null_if_zero(c, "network_completion_overhead_s",
                 "the library's own step figure applies (the network names none, or the "
                 "library's rule runs the plain model)");
}

static usim_status system_result(const hw_system *sys, json_t **result, usim_error *err)
{
    hw_totals t = hw_derive(sys);
    *result = api_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:f, s:f, s:f, s:f, s:o, s:o,"
        " s:o, s:f, s:{s:f, s:s, s:f}}",
        "name", sys->name, "description", sys->description, "chips", t.chips, "nodes", t.nodes,
        "domains", t.domains, "chips_per_node", sys->node.chips, "chips_per_domain",
        t.chips_per_domain, "dense_flops", per_dtype_json(&t.dense_flops), "array_flops",
        per_dtype_json(&t.array_flops), "published_chip_flops",
        per_dtype_json(&sys->chip.published_chip_flops), "published", published_json(sys),
        "hbm_bytes", t.hbm_bytes, "hbm_bytes_per_s", t.hbm_bytes_per_s,
        "scaleup_bytes_per_s_per_chip", t.scaleup_bytes_per_s_per_chip,
        "scaleout_bits_per_s_per_chip", t.scaleout_bits_per_s_per_chip, "chip",
        chip_json(&sys->chip), "scaleup", scaleup_json(sys), "network",
        sys->network.tiers ? network_json(&sys->network) : json_null(), "power_w", t.power_w,
        "price", "usd_per_chip_hour", sys->price.usd_per_chip_hour, "basis",
        sys->price.basis == HW_PRICE_ON_DEMAND ? "on-demand" : "estimate", "usd_per_hour",
        t.usd_per_hour);
    json_object_set_new(*result, "hbm_sustained_bytes_per_s",
                        json_real(t.chips / engine_memory(&sys->chip, 1.0).memory_s));
    json_object_set_new(*result, "collectives", collectives_json(sys));
    json_object_set_new(*result, "software", software_json(sys));
    /* links a system does not have are not 0 B/s of them */
    null_if_zero(*result, "scaleup_bytes_per_s_per_chip", no_scaleup_reason(sys));
    null_if_zero(*result, "scaleout_bits_per_s_per_chip",
                 sys->chips == 1 ? "no scale-out network: a chip alone"
                                 : "no scale-out links: node.nic_bandwidth_per_chip is 0");
    if (*result)
        absent_figures(*result, sys);
    api_system_warnings(*result, sys);
    const char *no_price = hw_no_price_reason(sys);
    json_t *price = json_object_get(*result, "price");
    if (no_price) {
        json_object_set_new(price, "usd_per_chip_hour_reason", json_string(no_price));
        json_object_set_new(price, "usd_per_hour_reason", json_string(no_price));
    }
    return *result ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

/* A system given inline (a sweep changing one of its figures). */
static usim_status show_inline(const usim_command *cmd, json_t *req, json_t **result,
                               usim_error *err)
{
    json_t *name = json_object_get(req, "name");
    json_t *copy = json_deep_copy(req);
    json_object_set(copy, "hw", name);
    hw_system *sys = calloc(1, sizeof *sys);
    usim_status st = sys ? api_load_system(cmd, copy, sys, err)
                         : usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = system_result(sys, result, err);
    free(sys);
    json_decref(copy);
    return st;
}

static usim_status hw_show_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_hw_show.info;
    const char *name, *network;
    int64_t chips = 0;
    bool has_chips;
    int kind;
    if (json_is_object(json_object_get(req, "name")))
        return show_inline(cmd, req, result, err);
    api_string(cmd, req, "name", &name, err);
    api_string(cmd, req, "network", &network, err);
    usim_status st = hw_kind_of(name, &kind, err);
    if (st != USIM_OK)
        return st;
    /* a network has no chips, a chip alone no NIC: the option would do nothing */
    if (kind == HW_KIND_NETWORK && json_object_get(req, "chips"))
        return usim_fail_field(err, USIM_EINPUT, "chips",
                               "'%s' is a network: its figures do not depend on a chip count; "
                               "show a system with it instead (hw show dgx-h100 --network %s "
                               "--chips N)",
                               name, name);
    if (kind == HW_KIND_CHIP && network)
        return usim_fail_field(err, USIM_EINPUT, "network",
                               "'%s' is a single chip, which has no NIC to reach a network; "
                               "use a system preset ('ultrasim hw list')",
                               name);
    if (kind == HW_KIND_NETWORK) {
        st = show_network(name, result, err);
        if (st == USIM_OK && api_flag(req, "sources"))
            st = add_sources(name, *result, err);
        return st;
    }
    hw_system *sys = calloc(1, sizeof *sys);
    if (!sys)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = api_int(cmd, req, "chips", &chips, &has_chips, err);
    if (st == USIM_OK)
        st = hw_load_system(name, has_chips ? (int)chips : 0, network, sys, err);
    if (st == USIM_OK)
        st = system_result(sys, result, err);
    free(sys);
    if (st != USIM_OK)
        return st;
    if (api_flag(req, "sources"))
        return add_sources(name, *result, err);
    return USIM_OK;
}

/* ---- hw show: text -------------------------------------------------- */

static const char *const DTYPES[] = {"fp8", "bf16", "fp16", "tf32", "fp32", "fp4"};

static void render_flops(usim_buf *b, json_t *res)
{
    json_t *dense = json_object_get(res, "dense_flops");
    json_t *array = json_object_get(res, "array_flops");
    json_t *pub = json_object_get(json_object_get(res, "published"), "dense_flops");
    usim_buf_printf(b, "\nDense compute        %-14s %-14s %s\n", "basis", "array", "published");
    for (int d = 0; d < 6; d++) {
        char v1[32], v2[32], v3[32] = "";
        double p = pub ? api_number(pub, DTYPES[d]) : NAN;
        if (d == USIM_FP4 && !(api_number(dense, DTYPES[d]) > 0)) /* a chip without FP4 units */
            continue;
        usim_format_quantity(api_number(dense, DTYPES[d]), USIM_UNIT_FLOPS, v1, sizeof v1);
        usim_format_quantity(api_number(array, DTYPES[d]), USIM_UNIT_FLOPS, v2, sizeof v2);
        if (p > 0)
            usim_format_quantity(p, USIM_UNIT_FLOPS, v3, sizeof v3);
        usim_buf_printf(b, "  %-18s %-14s %-14s %s\n", DTYPES[d], v1, v2, v3);
    }
    usim_buf_puts(b, "  (basis: the vendor's table, used for peak and MFU; array: PEs x clock "
                     "x cores from the description)\n");
}

/* What the engine's memory-bound kernels run at: HBM's sustained share, or
 * less where the chip's DMA engines sustain less (Trainium). */
static void render_sustained_memory(usim_buf *b, json_t *res)
{
    char bw[32], dma[32];
    json_t *chip = json_object_get(res, "chip");
    double chips = api_number(res, "chips"), rate = api_number(res, "hbm_sustained_bytes_per_s");
    double dma_per_chip = api_number(chip, "dma_bytes_per_s");
    usim_format_quantity(rate, USIM_UNIT_BYTES_PER_S, bw, sizeof bw);
    usim_buf_printf(b, "\n  %-18s %s", "sustained", bw);
    if (dma_per_chip > 0 && dma_per_chip * chips <= rate * (1 + 1e-9)) {
        usim_format_quantity(dma_per_chip, USIM_UNIT_BYTES_PER_S, dma, sizeof dma);
        usim_buf_printf(b, "   (what the DMA engines sustain: %s a chip)", dma);
    }
    usim_buf_puts(b, "\n");
}

static void render_memory(usim_buf *b, json_t *res)
{
    char cap[32], bw[32];
    json_t *pub = json_object_get(res, "published");
    usim_format_quantity(api_number(res, "hbm_bytes_per_s"), USIM_UNIT_BYTES_PER_S, bw,
                         sizeof bw);
    double bytes = api_number(res, "hbm_bytes");
    usim_format_quantity(bytes, USIM_UNIT_BYTES, cap, sizeof cap); /* 100 MiB was "0 GiB" */
    usim_buf_printf(b, "\nMemory\n  %-18s %s (%.4g TB), %s", "HBM", cap, bytes / 1e12, bw);
    if (json_is_object(pub) && api_number(pub, "hbm_bytes") > 0) {
        usim_format_quantity(api_number(pub, "hbm_bytes"), USIM_UNIT_BYTES, cap, sizeof cap);
        usim_format_quantity(api_number(pub, "hbm_bytes_per_s"), USIM_UNIT_BYTES_PER_S, bw,
                             sizeof bw);
        usim_buf_printf(b, "   (published %s, %s)", cap, bw);
    }
    render_sustained_memory(b, res);
}

/* The node's links and the domain's across nodes (a system that has them). */
static void render_scaleup_links(usim_buf *b, json_t *su)
{
    char v[32], lat[32];
    usim_format_quantity(api_number(su, "node_bytes_per_s_per_chip"), USIM_UNIT_BYTES_PER_S, v,
                         sizeof v);
    usim_format_quantity(api_number(su, "node_hop_latency_s"), USIM_UNIT_SECONDS, lat,
                         sizeof lat);
    usim_buf_printf(b, "  %-18s %s, %s per chip%s, %s per hop\n", "in node",
                    json_string_value(json_object_get(su, "node_topology")), v,
                    json_is_true(json_object_get(su, "bidirectional")) ? " (both directions)"
                                                                       : "",
                    lat);
    if (api_number(su, "domain_nodes") > 1) {
        usim_format_quantity(api_number(su, "domain_bytes_per_s_per_chip"),
                             USIM_UNIT_BYTES_PER_S, v, sizeof v);
        usim_buf_printf(b, "  %-18s %s of %.0f nodes, +%s per chip\n", "across nodes",
                        json_string_value(json_object_get(su, "domain_topology")),
                        api_number(su, "domain_nodes"), v);
    }
}

static void render_scaleout(usim_buf *b, json_t *res, json_t *net)
{
    char lat[32];
    usim_buf_puts(b, "\nScale-out\n");
    double bits = api_number(res, "scaleout_bits_per_s_per_chip");
    if (isfinite(bits)) {
        usim_buf_printf(b, "  %-24s %.0f Gbps\n", "per chip", bits / 1e9);
    } else {
        char na[160];
        api_text_value(res, "scaleout_bits_per_s_per_chip", USIM_UNIT_NONE, na, sizeof na);
        usim_buf_printf(b, "  %-24s %s\n", "per chip", na);
    }
    if (json_is_object(net)) {
        usim_format_quantity(api_number(net, "endpoint_latency_s"), USIM_UNIT_SECONDS, lat,
                             sizeof lat);
        usim_buf_printf(b, "  %-24s %s: %.0f-tier Clos, radix %.0f, %.0f Gbps ports, %.3g:1, "
                           "%s per endpoint\n",
                        "network", json_string_value(json_object_get(net, "name")),
                        api_number(net, "tiers"), api_number(net, "radix"),
                        api_number(net, "port_bits_per_s") / 1e9,
                        api_number(net, "oversubscription"), lat);
    }
}

static void render_links(usim_buf *b, json_t *res)
{
    usim_buf_puts(b, "\nScale-up\n");
    if (json_is_number(json_object_get(res, "scaleup_bytes_per_s_per_chip")))
        render_scaleup_links(b, json_object_get(res, "scaleup"));
    api_text_quantity(b, "per chip, total", res, "scaleup_bytes_per_s_per_chip",
                      USIM_UNIT_BYTES_PER_S);
    render_scaleout(b, res, json_object_get(res, "network"));
}

static void render_collectives(usim_buf *b, json_t *c)
{
    const char *lib = json_string_value(json_object_get(c, "library"));
    const char *rule = json_string_value(json_object_get(c, "auto"));
    char v[32];
    if (!lib || !rule) /* a chip alone, or a network: no collectives of a system */
        return;
    usim_buf_puts(b, "\nCollectives (docs/net.md)\n");
    if (strcmp(lib, "none") == 0)
        usim_buf_printf(b, "  %-24s none: auto is the fastest of ultrasim's algorithms\n",
                        "library");
    else if (strcmp(rule, "fastest") == 0)
        usim_buf_printf(b, "  %-24s %s: auto runs its algorithms at their fastest protocol\n",
                        "library", lib);
    else
        usim_buf_printf(b, "  %-24s %s: auto is its own rule (--algo %s)\n", "library", lib,
                        rule);
    if (json_is_true(json_object_get(c, "nvls"))) {
        usim_format_quantity(api_number(c, "nvls_latency_s"), USIM_UNIT_SECONDS, v, sizeof v);
        usim_buf_printf(b, "  %-24s %s + n (1 + 1/p) at %.2f of the link\n", "NVLink SHARP", v,
                        api_number(c, "nvls_efficiency"));
    }
    if (api_number(c, "blocking_call_overhead_s") > 0.0) {
        usim_format_quantity(api_number(c, "blocking_call_overhead_s"), USIM_UNIT_SECONDS, v,
                             sizeof v);
        usim_buf_printf(b, "  %-24s %s per call (--launch blocking)\n", "host call", v);
    }
    if (api_number(c, "network_step_latency_s") > 0.0) {
        usim_format_quantity(api_number(c, "network_step_latency_s"), USIM_UNIT_SECONDS, v,
                             sizeof v);
        char done[32];
        usim_format_quantity(api_number(c, "network_completion_overhead_s"), USIM_UNIT_SECONDS,
                             done, sizeof done);
        usim_buf_printf(b, "  %-24s %s, the network's own figure (+%s on Simple)\n",
                        "step across network", v, done);
    }
}

/* One line a figure: its citation; then its note or derivation, indented; a
 * figure that has no citation is labelled an assumption. */
static void render_sources(usim_buf *b, json_t *res)
{
    json_t *src = json_object_get(res, "sources");
    const char *key;
    json_t *v;
    if (!json_is_object(src))
        return;
    usim_buf_puts(b, "\nSources (assumption: a figure of ours with a note or derivation, "
                     "no citation)\n");
    json_object_foreach(src, key, v)
    {
        const char *cited = json_string_value(json_object_get(v, "source"));
        const char *note = json_string_value(json_object_get(v, "note"));
        const char *derived = json_string_value(json_object_get(v, "derived"));
        usim_buf_printf(b, "  %-40s %s\n", key, cited ? cited : "assumption");
        if (note)
            usim_buf_printf(b, "  %-40s   note: %s\n", "", note);
        if (derived)
            usim_buf_printf(b, "  %-40s   derived: %s\n", "", derived);
    }
}

static void render_network_only(usim_buf *b, json_t *res)
{
    json_t *net = json_object_get(res, "network");
    json_t *lat = json_object_get(net, "tier_latency_s");
    char v[32];
    size_t i;
    json_t *it;
    usim_buf_printf(b, "%s: %s\n\n", json_string_value(json_object_get(res, "name")),
                    json_string_value(json_object_get(res, "description")));
    usim_buf_printf(b, "  %-24s %.0f-tier Clos of radix-%.0f switches\n", "topology",
                    api_number(net, "tiers"), api_number(net, "radix"));
    usim_buf_printf(b, "  %-24s %.0f Gbps\n", "port bandwidth",
                    api_number(net, "port_bits_per_s") / 1e9);
    usim_buf_printf(b, "  %-24s %.3g:1 at the top tier\n", "oversubscription",
                    api_number(net, "oversubscription"));
    json_array_foreach(lat, i, it)
    {
        char label[64];
        snprintf(label, sizeof label, "tier %d switch latency", (int)i + 1);
        usim_format_quantity(json_number_value(it), USIM_UNIT_SECONDS, v, sizeof v);
        usim_buf_printf(b, "  %-24s %s\n", label, v);
    }
    api_text_quantity(b, "endpoint latency", net, "endpoint_latency_s", USIM_UNIT_SECONDS);
    render_sources(b, res);
}

static usim_status hw_show_render(json_t *res, usim_buf *b, usim_error *err)
{
    if (!json_object_get(res, "chip")) {
        render_network_only(b, res);
        return USIM_OK;
    }
    json_t *chip = json_object_get(res, "chip");
    json_t *m = json_object_get(chip, "matrix");
    json_t *price = json_object_get(res, "price");
    char clock[32], core[32], watts[32];
    (void)err;
    usim_buf_printf(b, "%s: %s\n\n", json_string_value(json_object_get(res, "name")),
                    json_string_value(json_object_get(res, "description")));
    usim_buf_printf(b, "  %-24s %.0f (%.0f node%s of %.0f; %.0f scale-up domain%s of %.0f)\n",
                    "chips", api_number(res, "chips"), api_number(res, "nodes"),
                    api_number(res, "nodes") == 1 ? "" : "s", api_number(res, "chips_per_node"),
                    api_number(res, "domains"), api_number(res, "domains") == 1 ? "" : "s",
                    api_number(res, "chips_per_domain"));
    usim_format_quantity(api_number(m, "clock_hz"), USIM_UNIT_HERTZ, clock, sizeof clock);
    usim_format_quantity(api_number(chip, "core_bf16_flops"), USIM_UNIT_FLOPS, core,
                         sizeof core);
    usim_buf_printf(b, "  %-24s %s: %.0f x %s, each %.0f x %.0fx%.0f %s at %s (%s BF16)\n",
                    "chip", json_string_value(json_object_get(chip, "name")),
                    api_number(chip, "cores"),
                    json_string_value(json_object_get(chip, "core_name")),
                    api_number(m, "arrays_per_core"), api_number(m, "rows"), api_number(m, "cols"),
                    json_string_value(json_object_get(m, "kind")), clock, core);
    render_flops(b, res);
    render_memory(b, res);
    render_links(b, res);
    render_collectives(b, json_object_get(res, "collectives"));
    render_software(b, json_object_get(res, "software"));
    usim_format_quantity(api_number(res, "power_w"), USIM_UNIT_WATTS, watts, sizeof watts);
    usim_buf_printf(b, "\nPower and price\n  %-24s %s (chips only)\n", "power", watts);
    if (isfinite(api_number(price, "usd_per_chip_hour")))
        usim_buf_printf(b, "  %-24s $%.2f per chip-hour (%s), $%.2f per hour\n", "price",
                        api_number(price, "usd_per_chip_hour"),
                        json_string_value(json_object_get(price, "basis")),
                        api_number(price, "usd_per_hour"));
    else
        usim_buf_printf(b, "  %-24s n/a (%s)\n", "price",
                        json_string_value(json_object_get(price, "usd_per_chip_hour_reason")));
    render_sources(b, res);
    return USIM_OK;
}

const api_command api_cmd_hw_show = {
    {"hw show", "show a chip, system or network and its derived figures",
     "ultrasim hw show NAME|FILE [--chips N] [--network NET] [--sources] [--json]",
     "Prints the description and what follows from it: peak dense FLOP/s per data type\n"
     "(the vendor basis, the array's first-principles figure and the published system\n"
     "figure), HBM capacity and bandwidth, scale-up and scale-out bandwidth per chip,\n"
     "power and price. --chips sizes the system (whole nodes; beyond one scale-up\n"
     "domain the scale-out network joins them).",
     HW_SHOW_POSITIONALS, HW_SHOW_OPTIONS, sizeof HW_SHOW_OPTIONS / sizeof HW_SHOW_OPTIONS[0]},
    hw_show_run,
    hw_show_render,
};
