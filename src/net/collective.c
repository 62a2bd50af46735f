/*
 * How long a collective takes: the net layer's public call.
 *
 * Algorithms (plan.c has their formulas and sources) and when each wins:
 *
 *   mesh   one step per phase: wins for small messages, where the time is
 *          steps x per-step latency (Neuron: below about 1 MB [CCintra]);
 *          loses for large ones on a torus, whose routed flows share links.
 *   rhd    log2(p) steps with the big halves on the nearest (fastest)
 *          links: mid sizes, and large groups where a ring's 2(p-1) steps
 *          of ~15 us across EFA add up (Neuron: 1 to 56 MB).
 *   tree   2 log2(p) steps at a ring's bandwidth on a switch: large groups,
 *          small and mid sizes (NCCL's choice across nodes).
 *   ring   bandwidth-optimal, 2(p-1) steps: large messages. Run as several
 *          channels (edge-disjoint cycles, one exit chip per channel) so it
 *          uses every link and every NIC; ring2 also runs them backwards,
 *          which doubles a torus's usable links (not a switch's).
 *   torus  dimension by dimension: a torus's full bandwidth with only
 *          2 sum(k_d - 1) steps; needs whole torus dimensions.
 *   hier   inside the scale-up domain, then across: the slow links carry
 *          only 1/m_in of the data and the latency is O(m_in) + O(m_out).
 *   neuron Neuron's documented intra-node choice by size, hierarchical
 *          across nodes.
 *
 * On a system that names its collective library (NCCL on the GPU presets),
 * the library's algorithms run with its own latencies and protocols, and AUTO
 * picks among those only (library.c).
 *
 * A BLOCKING launch (the caller waits for each call, as a torch.distributed
 * benchmark loop does) adds the library's blocking_call_overhead, the host's
 * per-call path, to the time and its latency terms; it is the same for every
 * algorithm, so the choice does not change. ASYNC launches hide it.
 *
 * AUTO builds every applicable plan, costs each with the analytic model and
 * keeps the fastest, saying which it picked, what the others cost and
 * whether latency or bandwidth decided. With the flow model, AUTO still
 * picks by the analytic costs (fast) and then simulates the winner.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

#define PIB (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0)

static usim_status check_inputs(net_op op, double bytes, net_group g, net_algo algo,
                                net_model model, usim_error *err)
{
    if (op < 0 || op >= NET_OP_COUNT)
        return usim_fail_field(err, USIM_EINPUT, "op", "unknown collective %d", (int)op);
    if (algo < 0 || algo >= NET_ALGO_COUNT)
        return usim_fail_field(err, USIM_EINPUT, "algo", "unknown algorithm %d", (int)algo);
    if (model != NET_MODEL_ANALYTIC && model != NET_MODEL_FLOW)
        return usim_fail_field(err, USIM_EINPUT, "model", "unknown model %d", (int)model);
    if (!(bytes > 0.0) || !isfinite(bytes) || bytes > PIB)
        return usim_fail_field(err, USIM_EINPUT, "size",
                               "%g bytes is out of range; allowed 1 byte to 1 PiB", bytes);
    if (g.size < 2)
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "a collective needs at least 2 ranks (got %d)", g.size);
    if (g.launch < 0 || g.launch >= NET_LAUNCH_COUNT)
        return usim_fail_field(err, USIM_EINPUT, "launch", "unknown launch %d", (int)g.launch);
    if (g.stride < 1 || g.concurrent < 1)
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "stride and concurrent groups must be at least 1 (got %d, %d)",
                               g.stride, g.concurrent);
    return USIM_OK;
}

/* Every concurrent group must exist and sit like group 0. */
static usim_status check_groups(const net_topo *t, const net_request *rq, usim_error *err)
{
    int64_t block = (int64_t)rq->size * rq->stride;
    int64_t blocks = (rq->groups + rq->stride - 1) / rq->stride;
    if (blocks * block > t->chips)
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "%lld group(s) of %d ranks with stride %lld need %lld chips; the "
                               "system has %lld",
                               (long long)rq->groups, rq->size, (long long)rq->stride,
                               (long long)(blocks * block), (long long)t->chips);
    net_sub first = {.base = 0, .stride = rq->stride, .size = rq->size};
    usim_status st = net_sub_layout(t, &first, err);
    if (st != USIM_OK)
        return st;
    /* each group, not only the last: 5 groups of 3 put the third across the
     * first node's end (chips 6, 7, 8) while the fifth sits inside one. A
     * group sits as its first chip's place in its domain says, and those
     * places repeat every stride x domain / gcd(block, domain) groups. */
    int64_t period = rq->stride * (t->dc / usim_gcd(block, t->dc)), check = rq->groups < period ? rq->groups : period;
    for (int64_t g = 1; g < check && st == USIM_OK; g++) {
        net_sub other = {.base = g / rq->stride * block + g % rq->stride,
                         .stride = rq->stride,
                         .size = rq->size};
        st = net_sub_layout(t, &other, err);
        if (st == USIM_OK && (other.m0 != first.m0 || other.m_dom != first.m_dom))
            st = usim_fail_field(err, USIM_EINPUT, "group",
                                 "the %lld groups of %d ranks with stride %lld do not all sit "
                                 "like the first in nodes and domains (group %lld differs); use "
                                 "a size x stride that divides or is a multiple of the %d-chip "
                                 "node",
                                 (long long)rq->groups, rq->size, (long long)rq->stride,
                                 (long long)g, t->nc);
    }
    return st;
}

static void format_time(double s, char *buf, size_t size)
{
    usim_format_quantity(s, USIM_UNIT_SECONDS, buf, size);
}

/* "auto: ring2 (4.57 ms) beat hier 4.75 ms, torus 5.51 ms; bandwidth-bound" */
static void auto_why(const net_topo *t, const net_request *rq, const net_plan *plan,
                     const double *costs, const net_cost *c, char *why, size_t size)
{
    char t0[32];
    if (rq->op == NET_ALLTOALL && c->protocol != NET_PROTO_NONE) {
        net_library_p2p_why(t, rq->size, rq->bytes, why, size);
        return;
    }
    format_time(costs[plan->algo], t0, sizeof t0);
    int n = snprintf(why, size, "fastest by the analytic model: %s%s%s %s",
                     net_algo_name(plan->algo), c->protocol != NET_PROTO_NONE ? "/" : "",
                     c->protocol != NET_PROTO_NONE ? net_protocol_name((net_protocol)c->protocol) : "",
                     t0);
    /* List up to three others, cheapest first. */
    bool used[NET_ALGO_COUNT] = {false};
    used[plan->algo] = true;
    for (int k = 0; k < 3 && n > 0 && (size_t)n < size; k++) {
        int best = -1;
        for (int a = 1; a < NET_ALGO_COUNT; a++)
            if (!used[a] && isfinite(costs[a]) && (best < 0 || costs[a] < costs[best]))
                best = a;
        if (best < 0)
            break;
        used[best] = true;
        format_time(costs[best], t0, sizeof t0);
        n += snprintf(why + n, size - (size_t)n, "%s %s %s", k ? "," : "; then", net_algo_name((net_algo)best), t0);
    }
    if (n > 0 && (size_t)n < size && c->seconds > 0.0)
        n += snprintf(why + n, size - (size_t)n, "; %s-bound (latency %.0f%% of its time)",
                      c->latency_s > 0.5 * c->seconds ? "latency" : "bandwidth",
                      100.0 * c->latency_s / c->seconds);
    if (n > 0 && (size_t)n < size && c->protocol != NET_PROTO_NONE)
        n += snprintf(why + n, size - (size_t)n,
                      "; %s's algorithms only, each at its fastest protocol",
                      t->sys->collective_library.name);
    if (n > 0 && (size_t)n < size && plan->why[0])
        snprintf(why + n, size - (size_t)n, "; %s", plan->why);
}

static void clos_notes(const net_topo *t, char *buf, size_t size)
{
    buf[0] = '\0';
    if (t->tiers > t->preset_tiers && t->chips > t->dc)
        snprintf(buf, size,
                 "%s: %d tiers of radix %d cannot hold %lld chips at this NIC rate; modelled "
                 "with %d tiers",
                 t->sys->network.name, t->preset_tiers, t->sys->network.radix,
                 (long long)t->chips, t->tiers);
}

/* nccl-tests' bandwidths of a result whose time is set: algbw = bytes / time,
 * busbw = algbw x the op's bus factor over its ranks. */
static void set_bandwidths(net_result *out, double bytes, net_op op, int ranks)
{
    out->algbw_bytes_per_s = out->seconds > 0.0 ? bytes / out->seconds : 0.0;
    out->busbw_bytes_per_s = out->algbw_bytes_per_s * net_bus_factor(op, ranks);
}

static void fill_result(const net_topo *t, const net_request *rq, const net_plan *plan,
                        const net_cost *c, net_model model, net_result *out)
{
    memset(out, 0, sizeof *out);
    out->seconds = c->seconds;
    set_bandwidths(out, rq->bytes, rq->op, rq->size);
    out->algorithm = plan->algo;
    out->intra = plan->algo == NET_ALGO_NEURON && plan->intra ? plan->intra : plan->algo;
    memcpy(out->tier_seconds, c->tier_seconds, sizeof out->tier_seconds);
    if (c->busiest_link >= 0)
        net_link_label(t, c->busiest_link, out->busiest_link, sizeof out->busiest_link);
    out->busiest_link_utilisation = c->busiest_utilisation;
    out->ranks = rq->size;
    out->model = model;
    out->latency_seconds = c->latency_s;
    out->bandwidth_seconds = c->bandwidth_s;
    out->peak_link_load = c->peak_link_load;
    out->bytes_injected = c->bytes_injected;
    out->link_bytes = c->link_bytes;
    out->groups_simulated = c->groups_simulated;
    out->flows = c->flows;
    out->protocol = (net_protocol)c->protocol;
    clos_notes(t, out->notes, sizeof out->notes);
}

static usim_status make_plan(const net_topo *t, const net_request *rq, net_algo algo,
                             net_plan *plan, double *costs, usim_error *err)
{
    for (int a = 0; a < NET_ALGO_COUNT; a++)
        costs[a] = INFINITY;
    if (algo == NET_ALGO_AUTO)
        return net_plan_auto(t, rq, plan, costs, err);
    return net_plan_build(t, rq, algo, plan, err);
}

/* BLOCKING needs the host's per-call figure; nothing is assumed without one. */
static usim_status check_launch(const hw_system *sys, net_launch launch, usim_error *err)
{
    const hw_collective_library *lib = &sys->collective_library;
    if (launch != NET_LAUNCH_BLOCKING || lib->blocking_call_overhead_s > 0.0)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "launch",
                           "blocking needs the host's per-call cost "
                           "(collective_library.blocking_call_overhead), which %s does not "
                           "give%s; allowed here: async",
                           sys->name, lib->name[0] ? "" : " (it names no collective library)");
}

/* time = host's per-call path + device time (docs/net.md). */
static void add_launch(const hw_system *sys, net_launch launch, double bytes, net_op op,
                       net_result *out)
{
    if (launch != NET_LAUNCH_BLOCKING)
        return;
    double o = sys->collective_library.blocking_call_overhead_s;
    out->launch_seconds = o;
    out->seconds += o;
    out->latency_seconds += o;
    set_bandwidths(out, bytes, op, out->ranks);
}

static usim_status prepare(const hw_system *sys, net_op op, double bytes, net_group g,
                           net_algo algo, net_model model, net_topo *t, net_request *rq,
                           usim_error *err)
{
    usim_status st = check_inputs(op, bytes, g, algo, model, err);
    if (st == USIM_OK)
        st = check_launch(sys, g.launch, err);
    if (st == USIM_OK)
        st = net_topo_init(sys, t, err);
    if (st != USIM_OK)
        return st;
    *rq = (net_request){op, bytes, g.size, g.stride, g.concurrent, g.own_kernels};
    return check_groups(t, rq, err);
}

/* The steps and HBM bytes a collective takes among the c ranks of one chip
 * (Neuron's hierarchical order: reduce on the chip, then across chips, then
 * share on the chip). Each step is one DMA transfer of a 1/c share per rank;
 * a reducing step reads two shares and writes one (3 n over the chip's
 * ranks), a copying step reads and writes one (2 n). */
static usim_status on_chip_part(net_op op, int c, double bytes, int *steps, double *hbm_bytes,
                                usim_error *err)
{
    switch (op) {
    case NET_ALLREDUCE:
        *steps = 2 * (c - 1);
        *hbm_bytes = (c - 1) * 5.0 * bytes;
        return USIM_OK;
    case NET_REDUCE_SCATTER:
        *steps = c - 1;
        *hbm_bytes = (c - 1) * 3.0 * bytes;
        return USIM_OK;
    case NET_ALLGATHER:
        *steps = c - 1;
        *hbm_bytes = (c - 1) * 2.0 * bytes;
        return USIM_OK;
    default:
        return usim_fail_field(err, USIM_EINPUT, "rank-unit",
                               "ranks on the cores of a chip run allreduce, reducescatter or "
                               "allgather (got %s)",
                               net_op_name(op));
    }
}

/* Neuron's RDH with several ranks on each chip runs one recursive-halving
 * group per in-chip rank index, each exchanging along its own link direction
 * of the torus (seen as a hypercube) with 1/c of the data, after the
 * on-chip stage (aws-neuron-sdk neuron-runtime/explore/
 * intranode-collective-comm.rst, 'RDH'): the chips' steps carry 1/c of the
 * bytes while there are links for the groups. */
static usim_status rdh_by_core_index(const hw_system *sys, net_op op, double bytes,
                                     net_group chips, int c, net_model model, net_result *out,
                                     usim_error *err)
{
    int links = sys->node.links_per_chip > 0 ? sys->node.links_per_chip : 1;
    int groups = c < links ? c : links;
    if (groups < 2)
        return USIM_OK;
    char why[sizeof out->why];
    net_algo algorithm = out->algorithm;
    snprintf(why, sizeof why, "%s", out->why);
    usim_status st = net_collective(sys, op, bytes / groups, chips, NET_ALGO_RHD, model, out,
                                    err);
    if (st == USIM_OK) {
        out->algorithm = algorithm;
        snprintf(out->why, sizeof out->why, "%.180s; RDH in %d groups, one per core index",
                 why, groups);
    }
    return st;
}

/* Ranks that are cores: the chips' collective over the chips that hold them
 * (the same bytes per chip: each of a chip's c ranks carries 1/c of them),
 * plus the part on each chip, at the DMA's fixed cost per step and the
 * HBM's sustained rate; the bus bandwidth counts the ranks. */
static usim_status core_collective(const hw_system *sys, net_op op, double bytes, net_group g,
                                   net_algo algo, net_model model, net_result *out,
                                   usim_error *err)
{
    int c = g.ranks_per_chip;
    usim_status st = check_inputs(op, bytes, g, algo, model, err);
    if (st != USIM_OK)
        return st;
    if (g.size % c != 0)
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "%d ranks do not fill whole %s chips of %d ranks; allowed: a "
                               "multiple of %d",
                               g.size, sys->chip.name, c, c);
    int steps = 0;
    double hbm_bytes = 0.0;
    st = on_chip_part(op, c, bytes, &steps, &hbm_bytes, err);
    if (st == USIM_OK)
        st = check_launch(sys, g.launch, err);
    if (st != USIM_OK)
        return st;
    net_group chips = {g.size / c, g.stride, g.concurrent, 1, NET_LAUNCH_ASYNC, false};
    if (chips.size >= 2) {
        st = net_collective(sys, op, bytes, chips, algo, model, out, err);
        if (st == USIM_OK && out->intra == NET_ALGO_RHD)
            st = rdh_by_core_index(sys, op, bytes, chips, c, model, out, err);
        if (st != USIM_OK)
            return st;
    } else if (algo != NET_ALGO_AUTO && algo != NET_ALGO_RING) {
        return usim_fail_field(err, USIM_EINPUT, "algo",
                               "the ranks share one chip, which runs a ring through its HBM; "
                               "allowed: auto, ring");
    } else {
        memset(out, 0, sizeof *out);
        out->algorithm = NET_ALGO_RING;
        out->model = NET_MODEL_ANALYTIC;
        snprintf(out->why, sizeof out->why,
                 "the ranks share one chip: a ring through its HBM, in closed form");
        snprintf(out->busiest_link, sizeof out->busiest_link, "none (one chip)");
    }
    double rate = sys->chip.hbm.bandwidth_bytes_per_s *
                  (sys->chip.hbm.efficiency > 0.0 ? sys->chip.hbm.efficiency : 1.0);
    double lat = steps * sys->chip.dma.fixed_latency_s, bw = rate > 0.0 ? hbm_bytes / rate : 0.0;
    out->seconds += lat + bw;
    out->latency_seconds += lat;
    out->bandwidth_seconds += bw;
    out->tier_seconds[NET_TIER_NODE] += lat + bw;
    out->ranks = g.size;
    set_bandwidths(out, bytes, op, g.size);
    add_launch(sys, g.launch, bytes, op, out);
    size_t n = strlen(out->why);
    snprintf(out->why + n, sizeof out->why - n,
             "%s%d ranks per chip: %d on-chip steps, %.3g MB through HBM", n ? "; " : "", c,
             steps, hbm_bytes / 1e6);
    return USIM_OK;
}

/* `auto` on a system whose library decides by its own rule (Neuron's
 * choice by size, documented for all-reduce, all-gather and reduce-scatter)
 * is that rule; elsewhere the fastest algorithm. */
static net_algo library_auto(const hw_system *sys, net_op op, net_algo algo)
{
    bool ruled = op == NET_ALLREDUCE || op == NET_ALLGATHER || op == NET_REDUCE_SCATTER;
    if (algo == NET_ALGO_AUTO && ruled && sys->collective_library.auto_rule == HW_AUTO_NEURON)
        return NET_ALGO_NEURON;
    return algo;
}

usim_status net_collective(const hw_system *sys, net_op op, double bytes, net_group group,
                           net_algo algo, net_model model, net_result *out, usim_error *err)
{
    if (group.ranks_per_chip > 1)
        return core_collective(sys, op, bytes, group, algo, model, out, err);
    net_algo asked = algo;
    algo = library_auto(sys, op, algo);
    net_topo t;
    net_request rq;
    usim_status st = prepare(sys, op, bytes, group, algo, model, &t, &rq, err);
    if (st != USIM_OK)
        return st;
    net_plan plan;
    double costs[NET_ALGO_COUNT];
    st = make_plan(&t, &rq, algo, &plan, costs, err);
    if (st != USIM_OK)
        return st;
    net_cost c;
    if (model == NET_MODEL_FLOW) {
        net_flow_job job = {&plan, &rq, 0.0};
        st = net_plan_flow(&t, &job, 1, &c, NULL, err);
        if (st == USIM_OK)
            net_library_apply(&t, &plan, &rq, &c);
    } else {
        st = net_plan_analytic(&t, &plan, &rq, &c, err);
    }
    if (st != USIM_OK)
        return st;
    fill_result(&t, &rq, &plan, &c, model, out);
    add_launch(sys, group.launch, bytes, op, out);
    if (asked == NET_ALGO_AUTO && algo != NET_ALGO_AUTO) {
        snprintf(out->why, sizeof out->why, "auto: %s's own choice (%s): %s",
                 sys->collective_library.name, net_algo_name(algo), plan.why);
    } else if (algo == NET_ALGO_AUTO) {
        net_cost a = c;
        if (model == NET_MODEL_FLOW)
            net_plan_analytic(&t, &plan, &rq, &a, err);
        auto_why(&t, &rq, &plan, costs, &a, out->why, sizeof out->why);
    } else {
        snprintf(out->why, sizeof out->why, "%s", plan.why);
    }
    return USIM_OK;
}

/* The flows' span takes in no library's latency and protocol terms; each
 * collective's own time does (net_library_apply), so all of them together
 * end no earlier than the last of them: the span stretches to it, the tiers'
 * times with it, the busiest link's load spread over the longer span. */
static void stretch_span(net_cost *all, double end_s)
{
    if (!(end_s > all->seconds) || !(all->seconds > 0.0))
        return;
    double scale = end_s / all->seconds;
    for (int k = 0; k < NET_TIER_COUNT; k++)
        all->tier_seconds[k] *= scale;
    all->busiest_utilisation /= scale;
    all->seconds = end_s;
}

usim_status net_collectives_flow(const hw_system *sys, const net_job *jobs, int njobs,
                                 net_result *out, net_result *combined, usim_error *err)
{
    enum { MAX = 16 };
    if (njobs < 1 || njobs > MAX)
        return usim_fail(err, USIM_EINPUT, "1 to %d collectives at once (got %d)", MAX, njobs);
    net_topo t;
    net_request rq[MAX];
    net_flow_job fj[MAX];
    net_cost cost[MAX], all;
    net_plan *plans = calloc((size_t)njobs, sizeof *plans);
    double costs[NET_ALGO_COUNT];
    if (!plans)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = USIM_OK;
    for (int i = 0; i < njobs && st == USIM_OK; i++) {
        if (jobs[i].group.launch != NET_LAUNCH_ASYNC) {
            st = usim_fail_field(err, USIM_EINPUT, "launch",
                                 "collectives at once (--with) launch async; allowed: async");
            break;
        }
        if (jobs[i].group.ranks_per_chip > 1) {
            st = usim_fail_field(err, USIM_EINPUT, "group",
                                 "collectives at once run on chips, not on the cores of a chip; "
                                 "allowed: one rank per chip");
            break;
        }
        net_algo algo = library_auto(sys, jobs[i].op, jobs[i].algo);
        st = prepare(sys, jobs[i].op, jobs[i].bytes, jobs[i].group, algo, NET_MODEL_FLOW, &t,
                     &rq[i], err);
        if (st == USIM_OK)
            st = make_plan(&t, &rq[i], algo, &plans[i], costs, err);
        if (st == USIM_OK && algo == NET_ALGO_AUTO) {
            net_cost alone;
            net_plan_analytic(&t, &plans[i], &rq[i], &alone, err);
            char why[sizeof plans[i].why];
            auto_why(&t, &rq[i], &plans[i], costs, &alone, why, sizeof why);
            memcpy(plans[i].why, why, sizeof why);
        }
        fj[i] = (net_flow_job){&plans[i], &rq[i], jobs[i].start_s > 0.0 ? jobs[i].start_s : 0.0};
    }
    if (st == USIM_OK)
        st = net_plan_flow(&t, fj, njobs, cost, &all, err);
    double first = INFINITY; /* the flows' span runs from the earliest start */
    for (int i = 0; i < njobs && st == USIM_OK; i++)
        first = fmin(first, fj[i].start_s);
    for (int i = 0; i < njobs && st == USIM_OK; i++) {
        net_library_apply(&t, &plans[i], &rq[i], &cost[i]);
        fill_result(&t, &rq[i], &plans[i], &cost[i], NET_MODEL_FLOW, &out[i]);
        snprintf(out[i].why, sizeof out[i].why, "%s", plans[i].why);
        stretch_span(&all, fj[i].start_s - first + cost[i].seconds);
    }
    if (st == USIM_OK && combined) {
        net_request span = rq[0];
        net_plan none;
        none.algo = NET_ALGO_AUTO;
        fill_result(&t, &span, &none, &all, NET_MODEL_FLOW, combined);
        snprintf(combined->why, sizeof combined->why, "%d collectives at once", njobs);
    }
    free(plans);
    return st;
}
