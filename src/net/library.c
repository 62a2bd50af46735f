/*
 * The collective library's own cost model: how NCCL times a collective run
 * with one algorithm (ring, tree) and one protocol (LL, LL128, Simple), and
 * picks the fastest (NCCL src/graph/tuning.cc; docs/net.md has the formulas,
 * the constants and the version they come from).
 *
 * The figures are data: a system's `collective_library` object holds, per
 * algorithm and protocol, a base latency, a per-step latency inside the
 * scale-up domain (NVLink) and across the network, the floor NCCL puts on an
 * in-domain step when the group spans domains (its network overhead), the
 * protocol's bandwidth efficiency and its cap on bus bandwidth. A system
 * without the object keeps the plain alpha-beta model of plan.c.
 *
 * NCCL's "node" is what NVLink joins: the scale-up domain here. For p ranks
 * in N domains and n bytes:
 *
 *   ring all-reduce:  s = 2(p-1) steps, of which S = 2N cross the network
 *                     when N > 1 (0 otherwise);
 *   ring all-gather, reduce-scatter: s = p-1, S = N-1;
 *     t_lat = base + max(s - S, 0) max(hop, N > 1 ? overhead : 0) + S net_hop
 *     (NCCL counts s - S, negative with one rank per domain; here 0)
 *   tree all-reduce:  t_lat = base + 2 ((p/N - 1) hop + floor(log2 N) net_hop)
 *
 *   NVLS (NVLink SHARP), Simple only, inside one domain:
 *                     t_lat = base + hop  (NCCL: hwLat NVLINK, NVLS)
 *
 *   t_bw  = max(bw_s / efficiency, cap_bytes / max_bus)
 *
 * where bw_s is the plan's bandwidth time at the links' sustained rate (the
 * Simple protocol at full speed), and cap_bytes is what NCCL divides by the
 * capped bus bandwidth: n s / p for a ring, 2 n for a tree. For NVLS the
 * NVSwitch reduces and multicasts: an all-reduce carries n (1 + 1/p) each way
 * on a rank's links (plan.c), so bw_s = n (1 + 1/p) / B for a rank's
 * sustained NVLink rate B, and the efficiency is NCCL's own per-generation
 * NVLS efficiency (tuning.cc from 2.27: Hopper 0.85, Blackwell 0.74). NCCL
 * runs NVLS only when the system's NVSwitches have SHARP (the `nvls` entry),
 * with more than two GPUs and inside one node (src/transport/nvls.cc,
 * ncclNvlsInit; across nodes only with CollNet, not modelled).
 *
 * An all-to-all is no algorithm of the tuning model: NCCL runs it as grouped
 * sends and receives to every peer (its p2p path), which the `p2p` entry
 * describes; see p2p_alltoall_s.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/internal.h"

/* NCCL turns NVLS off with two GPUs or fewer in the node
 * (src/transport/nvls.cc, ncclNvlsInit: gpuCount <= 2). */
#define NVLS_MIN_RANKS 3

/* NULL when the library has no such algorithm and protocol pair. */
static const hw_coll_protocol *protocol_of(const hw_collective_library *lib, net_algo algo,
                                           int proto)
{
    if (algo == NET_ALGO_NVLS)
        return proto == NET_PROTO_SIMPLE ? &lib->nvls : NULL;
    bool ring = algo == NET_ALGO_RING;
    switch (proto) {
    case NET_PROTO_LL:
        return ring ? &lib->ring_ll : &lib->tree_ll;
    case NET_PROTO_LL128:
        return ring ? &lib->ring_ll128 : &lib->tree_ll128;
    default:
        return ring ? &lib->ring_simple : &lib->tree_simple;
    }
}

static bool runs_algo(const hw_collective_library *lib, net_algo algo)
{
    if (algo != NET_ALGO_RING && algo != NET_ALGO_TREE && algo != NET_ALGO_NVLS)
        return false;
    for (int p = NET_PROTO_LL; p < NET_PROTO_COUNT; p++) {
        const hw_coll_protocol *pr = protocol_of(lib, algo, p);
        if (pr && pr->efficiency > 0.0)
            return true;
    }
    return false;
}

bool net_library_runs(const net_topo *t, net_op op, net_algo algo)
{
    const hw_collective_library *lib = &t->sys->collective_library;
    if (lib->name[0] == '\0')
        return false;
    if (op == NET_ALLTOALL)
        return algo == NET_ALGO_MESH && lib->p2p.channels > 0.0;
    if (op == NET_ALLREDUCE)
        return runs_algo(lib, algo);
    if (op == NET_ALLGATHER || op == NET_REDUCE_SCATTER)
        return (algo == NET_ALGO_RING || algo == NET_ALGO_NVLS) && runs_algo(lib, algo);
    return false;
}

bool net_library_times(const net_topo *t, net_op op, const net_sub *s, bool own_kernels)
{
    if (op != NET_ALLTOALL)
        return net_library_runs(t, op, NET_ALGO_RING);
    return !own_kernels && s->domains == 1 && net_library_runs(t, op, NET_ALGO_MESH);
}

usim_status net_library_nvls_fits(const net_topo *t, net_op op, const net_sub *s,
                                  usim_error *err)
{
    char allowed[160] = "";
    for (int a = NET_ALGO_RING; a < NET_ALGO_NVLS; a++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 a == NET_ALGO_RING ? "" : ", ", net_algo_name(a));
    if (t->sys->collective_library.nvls.efficiency <= 0.0)
        return usim_fail_field(err, USIM_EINPUT, "algo",
                               "nvls (NVLink SHARP) runs where the system's collective_library "
                               "has an nvls entry (NVSwitch with SHARP); %s has none; allowed: "
                               "%s",
                               t->sys->name, allowed);
    if (!net_library_runs(t, op, NET_ALGO_NVLS))
        return usim_fail_field(err, USIM_EINPUT, "algo",
                               "nvls runs all-reduce, all-gather and reduce-scatter, not %s; "
                               "allowed: %s",
                               net_op_name(op), allowed);
    if (s->domains > 1)
        return usim_fail_field(err, USIM_EINPUT, "algo",
                               "nvls runs inside one scale-up domain (NCCL's node; across nodes "
                               "only with CollNet, not modelled); the group spans %d; allowed: "
                               "%s",
                               s->domains, allowed);
    if (s->size < NVLS_MIN_RANKS)
        return usim_fail_field(err, USIM_EINPUT, "algo",
                               "nvls needs at least %d ranks (NCCL turns it off with 2 GPUs); "
                               "got %d; allowed: %s",
                               NVLS_MIN_RANKS, s->size, allowed);
    return USIM_OK;
}

static int floor_log2(int n)
{
    int k = 0;
    while (n >= 2) {
        n /= 2;
        k++;
    }
    return k;
}

/* A step across the network: the network's own figure where it gives one
 * (EFA: AWS's plugin for NCCL costs it; NCCL's NET row is InfiniBand's),
 * with the completion overhead on the Simple protocol as that plugin adds it. */
static double net_step_latency(const hw_network *n, const hw_coll_protocol *pr, int proto)
{
    if (!(n->collective_step_latency_s > 0.0))
        return pr->net_hop_latency_s;
    return n->collective_step_latency_s +
           (proto == NET_PROTO_SIMPLE ? n->collective_completion_overhead_s : 0.0);
}

/* One protocol's time: latency and bandwidth parts. */
static void protocol_time(const hw_coll_protocol *pr, double net_hop, net_op op, net_algo algo,
                          const net_sub *s, double bytes, double bw_s, double *lat,
                          double *bw)
{
    int p = s->size, nodes = s->domains;
    double eff = nodes == 1 && pr->efficiency_one_domain > 0.0 ? pr->efficiency_one_domain
                                                               : pr->efficiency;
    double max_bus = nodes == 1 ? pr->max_bus_one_domain
                     : nodes == 2 ? pr->max_bus_two_domains
                                  : pr->max_bus_more_domains;
    double cap_bytes;
    if (algo == NET_ALGO_NVLS) {
        *lat = pr->base_latency_s + pr->hop_latency_s;
        cap_bytes = bytes;
    } else if (algo == NET_ALGO_RING) {
        int steps = op == NET_ALLREDUCE ? 2 * (p - 1) : p - 1;
        int net_steps = op == NET_ALLREDUCE ? (nodes > 1 ? 2 * nodes : 0) : nodes - 1;
        double hop = pr->hop_latency_s;
        if (nodes > 1 && pr->net_overhead_s > hop)
            hop = pr->net_overhead_s;
        /* one rank per domain: NCCL's 2N network steps exceed the 2(p-1) steps */
        int in_domain = steps > net_steps ? steps - net_steps : 0;
        *lat = pr->base_latency_s + in_domain * hop + net_steps * net_hop;
        cap_bytes = bytes * steps / p;
    } else {
        *lat = pr->base_latency_s + 2.0 * ((p / nodes - 1) * pr->hop_latency_s +
                                           floor_log2(nodes) * net_hop);
        cap_bytes = 2.0 * bytes;
    }
    *bw = bw_s / eff;
    if (max_bus > 0.0 && cap_bytes / max_bus > *bw)
        *bw = cap_bytes / max_bus;
}

/* How NCCL splits each peer's b = n / p bytes (src/enqueue.cc): into c
 * parts, one a channel, at first the largest channels / 2^k with which every
 * rank's peers fit on the channels at once, at most one a min_part of its
 * data, then twice as many while a part is above max_part, up to the
 * channels; a part moves in k steps of one chunk. */
typedef struct p2p_split {
    double peer, channels, part, steps;
} p2p_split;

static p2p_split split_of(const hw_coll_p2p *p, int ranks, double bytes)
{
    p2p_split x = {bytes / ranks, p->channels, 0, 0};
    while (x.channels * ranks > p->channels && x.channels > 1.0)
        x.channels /= 2.0;
    x.channels = fmax(1.0, fmin(x.channels, ceil(x.peer / p->min_part_bytes)));
    while (x.peer / x.channels > p->max_part_bytes && x.channels <= p->channels / 2.0)
        x.channels *= 2.0;
    x.part = x.peer / x.channels;
    x.steps = ceil(x.part / p->chunk_bytes);
    return x;
}

/* An all-to-all of n bytes a rank over p ranks inside one domain as NCCL's
 * p2p path runs it. Each peer's share (its own included: a copy, but on a
 * channel like the others) goes as c parts (split_of); the p c parts share
 * the P channels, ceil(p c / P) on each, and a channel, one thread block,
 * moves its parts at 1 / P of the rank's link rate R, a chunk a step, the
 * receiver copying a step out while the next arrives: a part of k steps
 * takes (k + 1) / k of its transfer time.
 *
 *   t = latency + ceil(p c / P) (b / c) / (R / P) (1 + 1 / k),
 *   R = (p - 1) b / bw_s
 *
 * with bw_s the plan's time for the all-to-all at the links' sustained rate.
 * On 8 GPUs a 256 MiB all-to-all gives each peer 4 channels of 8 MiB, 16
 * steps: one part a channel, 8 MiB in 1/32 of R, 17/16 of it. */
static double p2p_alltoall_s(const hw_coll_p2p *p, int ranks, double bytes, double bw_s,
                             double *bandwidth_s)
{
    p2p_split x = split_of(p, ranks, bytes);
    double per_channel = ceil(ranks * x.channels / p->channels) * x.part;
    double rate = (ranks - 1) * x.peer / bw_s;
    *bandwidth_s = per_channel * p->channels / rate * (1.0 + 1.0 / x.steps);
    return p->latency_s + *bandwidth_s;
}

void net_library_p2p_why(const net_topo *t, int ranks, double bytes, char *buf, size_t size)
{
    const hw_coll_p2p *p = &t->sys->collective_library.p2p;
    p2p_split x = split_of(p, ranks, bytes);
    char peer[32], chunk[32];
    usim_format_quantity(x.peer, USIM_UNIT_BYTES, peer, sizeof peer);
    usim_format_quantity(p->chunk_bytes, USIM_UNIT_BYTES, chunk, sizeof chunk);
    snprintf(buf, size,
             "%s's point-to-point path: each peer's %s on %.0f of %.0f channels, %.0f steps of "
             "%s",
             t->sys->collective_library.name, peer, x.channels, p->channels, x.steps, chunk);
}

static double p2p_time(const net_topo *t, const net_sub *s, double bytes, double bw_s,
                       int *protocol, double *latency_s, double *bandwidth_s)
{
    const hw_coll_p2p *p = &t->sys->collective_library.p2p;
    if (s->domains > 1 || s->size < 2 || !(bw_s > 0.0))
        return INFINITY;
    double bw = 0.0, x = p2p_alltoall_s(p, s->size, bytes, bw_s, &bw);
    if (protocol)
        *protocol = NET_PROTO_SIMPLE;
    if (latency_s)
        *latency_s = p->latency_s;
    if (bandwidth_s)
        *bandwidth_s = bw;
    return x;
}

double net_library_time(const net_topo *t, net_op op, net_algo algo, const net_sub *s,
                        double bytes, double bw_s, int *protocol, double *latency_s,
                        double *bandwidth_s)
{
    double best = INFINITY;
    if (protocol)
        *protocol = NET_PROTO_NONE;
    if (!net_library_runs(t, op, algo))
        return best;
    if (op == NET_ALLTOALL)
        return p2p_time(t, s, bytes, bw_s, protocol, latency_s, bandwidth_s);
    if (algo == NET_ALGO_NVLS && net_library_nvls_fits(t, op, s, NULL) != USIM_OK)
        return best;
    for (int p = NET_PROTO_LL; p < NET_PROTO_COUNT; p++) {
        const hw_coll_protocol *pr = protocol_of(&t->sys->collective_library, algo, p);
        if (!pr || !(pr->efficiency > 0.0))
            continue;
        double lat, bw;
        protocol_time(pr, net_step_latency(&t->sys->network, pr, p), op, algo, s, bytes, bw_s,
                      &lat, &bw);
        if (lat + bw < best) {
            best = lat + bw;
            if (protocol)
                *protocol = p;
            if (latency_s)
                *latency_s = lat;
            if (bandwidth_s)
                *bandwidth_s = bw;
        }
    }
    return best;
}

/* The plan's own latencies are replaced by the library's; what is left of
 * the modelled time (analytic or flow: the bandwidth time, with contention
 * for the flow model) runs at the protocol's efficiency. The tiers keep
 * their shares of the time. */
void net_library_apply(const net_topo *t, const net_plan *plan, const net_request *rq,
                       net_cost *c)
{
    if (!net_library_runs(t, rq->op, plan->algo) || !(c->seconds > 0.0))
        return;
    net_sub s = {.base = 0, .stride = rq->stride, .size = rq->size};
    if (net_sub_layout(t, &s, NULL) != USIM_OK ||
        !net_library_times(t, rq->op, &s, rq->own_kernels))
        return;
    double plan_latency = 0.0;
    for (int i = 0; i < plan->nphases; i++)
        plan_latency += plan->phase[i].latency_s;
    double bw_s = c->seconds > plan_latency ? c->seconds - plan_latency : 0.0;
    double lat = 0.0, bw = 0.0;
    int proto = NET_PROTO_NONE;
    double x = net_library_time(t, rq->op, plan->algo, &s, rq->bytes, bw_s, &proto, &lat, &bw);
    if (!isfinite(x) || !(x > 0.0))
        return;
    double busy = c->busiest_utilisation * c->seconds;
    if (bw_s > 0.0)
        busy *= bw / bw_s;
    for (int k = 0; k < NET_TIER_COUNT; k++)
        c->tier_seconds[k] *= x / c->seconds;
    c->latency_s = lat;
    c->bandwidth_s = bw;
    c->seconds = x;
    c->busiest_utilisation = busy / x;
    c->protocol = proto;
}
