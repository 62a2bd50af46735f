/*
 * The link graph of a system, built from its hardware description:
 *
 *   chip -> node     a torus or ring (Trn2: 4x4 torus of NeuronLink), a switch
 *                    (NVLink through NVSwitch) or a full mesh (Trn3 servers);
 *   node -> domain   the Trn2 UltraServer's Z ring joins chips with equal
 *                    coordinates in its 4 instances; Trn3 joins servers
 *                    through NeuronSwitch;
 *   domain -> cluster every chip's own NIC into a folded Clos (fat tree) of
 *                    `tiers` levels of radix-k switches, oversubscribed at
 *                    the top (EFA on 10p10u, InfiniBand, RoCE).
 *
 * Every link is directed, with its own capacity (bytes/s one way) and
 * latency. Ids are computed, not stored: chip c's node links are
 * base_node + c * node_lpc + slot, and so on, so a 131,072-chip system costs
 * no memory until a model touches its links.
 *
 * Capacities. A torus chip's per-direction bandwidth is spread evenly over
 * its 2 x dims neighbour links (Trn2: 1,024 GB/s counted both ways = 512 each
 * way, over 4 links = 128 GB/s per link and direction; the Z ring adds
 * 256 GB/s = 128 each way over 2 links = 64). A switch gives each chip one
 * up and one down link at its full per-direction bandwidth; a mesh divides
 * it over its peers. The presets' efficiency knobs scale every link: the
 * node's link_efficiency for scale-up links, the network's efficiency for
 * NICs and switch ports.
 *
 * The Clos. Switch groups are aggregated into one vertex per pod (one leaf,
 * the pods under one tier-2 group, ...) whose up and down links carry the
 * sum of its ports: this is the fluid picture of a fabric that sprays
 * packets over all equal paths (EFA's SRD, InfiniBand adaptive routing), so
 * no ECMP collisions are modelled. A leaf holds as many chips as half its
 * ports can serve at their NIC rate (all of them in a 1-tier fabric); pods
 * are aligned to whole scale-up domains when the sizes allow, so no
 * UltraServer is split across leaves unevenly. A pod's uplink carries its
 * chips' NIC bandwidth, divided by the oversubscription at the top tier.
 * When the preset's tiers cannot hold the chips, tiers are added (with the
 * top tier's latency) and the result says so.
 *
 * Latency. A route's latency is the sum of its links': a torus or mesh hop
 * costs the preset's hop latency, a switch hop the same split over up and
 * down; a scale-out path costs 2 x endpoint + one traversal of every switch
 * it passes (5 traversals through a 3-tier spine: the Neuron docs' ~15 us
 * HBM-to-HBM on efa-v3-10p10u). The presets' hop latencies are per step of
 * a collective (Neuron's "~1-2 us per hop", NCCL's latency = 2(n-1) x hop),
 * so a ring step over one link costs one hop latency.
 *
 * Routes are dimension-ordered and minimal: inside a node, torus dimensions
 * fastest first (ties between equally short directions split the flow in
 * half each way); across nodes of a domain, first inside the source node to
 * the destination's coordinates, then along the domain's dimensions; across
 * domains, straight from the source chip's NIC to the destination chip's.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/internal.h"

static double positive_or_one(double x)
{
    return x > 0.0 ? x : 1.0;
}

static int nontrivial_dims(const int *dims, int nd)
{
    int n = 0;
    for (int d = 0; d < nd; d++)
        n += dims[d] > 1;
    return n;
}

/* Stride (in members of the topology) of dimension d, row-major. */
static int64_t dim_stride(const int *dims, int nd, int d)
{
    int64_t s = 1;
    for (int e = d + 1; e < nd; e++)
        s *= dims[e];
    return s;
}

static int coord_of(int64_t index, const int *dims, const int64_t *strides, int d)
{
    return (int)((index / strides[d]) % dims[d]);
}

/* ---- node and domain topologies ------------------------------------- */

static usim_status init_node(const hw_system *sys, net_topo *t, usim_error *err)
{
    const hw_topology *top = &sys->node.topology;
    double eff = positive_or_one(sys->node.link_efficiency);
    double dir = hw_node_bandwidth_per_direction(sys) * eff;
    t->node_kind = t->nc > 1 ? top->kind : HW_TOPO_NONE;
    t->node_hop_s = sys->node.hop_latency_s;
    t->node_nd = 0;
    switch (t->node_kind) {
    case HW_TOPO_TORUS:
        t->node_nd = top->ndims;
        memcpy(t->node_dims, top->dims, sizeof t->node_dims);
        break;
    case HW_TOPO_RING:
        t->node_nd = 1;
        t->node_dims[0] = t->nc;
        break;
    default:
        break;
    }
    if (t->node_nd > 0) {
        t->node_lpc = 2 * t->node_nd;
        t->node_cap = dir / (2.0 * nontrivial_dims(t->node_dims, t->node_nd));
    } else if (t->node_kind == HW_TOPO_SWITCH) {
        t->node_lpc = 2;
        t->node_cap = dir;
    } else if (t->node_kind == HW_TOPO_MESH) {
        t->node_lpc = t->nc - 1;
        t->node_cap = dir / (t->nc - 1);
    }
    if (t->nc > 1 && !(t->node_cap > 0.0))
        return usim_fail_field(err, USIM_EINPUT, "node.bandwidth_per_chip",
                               "%s has no scale-up bandwidth inside a node", sys->name);
    return USIM_OK;
}

static usim_status init_domain(const hw_system *sys, net_topo *t, usim_error *err)
{
    const hw_topology *top = &sys->domain.topology;
    double dir = hw_domain_bandwidth_per_direction(sys) * positive_or_one(sys->node.link_efficiency);
    t->dom_kind = t->dn > 1 ? top->kind : HW_TOPO_NONE;
    t->dom_hop_s = sys->domain.hop_latency_s;
    if (t->dom_kind == HW_TOPO_TORUS) {
        t->dom_nd = top->ndims;
        memcpy(t->dom_dims, top->dims, sizeof t->dom_dims);
    } else if (t->dom_kind == HW_TOPO_RING) {
        t->dom_nd = 1;
        t->dom_dims[0] = t->dn;
    }
    if (t->dom_nd > 0) {
        t->dom_lpc = 2 * t->dom_nd;
        t->dom_cap = dir / (2.0 * nontrivial_dims(t->dom_dims, t->dom_nd));
    } else if (t->dom_kind == HW_TOPO_SWITCH) {
        t->dom_lpc = 2;
        t->dom_cap = dir;
    } else if (t->dom_kind == HW_TOPO_MESH) {
        t->dom_lpc = t->dn - 1;
        t->dom_cap = dir / (t->dn - 1);
    }
    if (t->dn > 1 && !(t->dom_cap > 0.0))
        return usim_fail_field(err, USIM_EINPUT, "scaleup_domain.bandwidth_per_chip",
                               "%s has no bandwidth between the nodes of its scale-up domain",
                               sys->name);
    return USIM_OK;
}

/* Torus dimensions usable dimension by dimension, by ascending chip stride. */
static void init_tdims(net_topo *t)
{
    for (int d = 0; d < t->node_nd; d++)
        t->node_stride[d] = dim_stride(t->node_dims, t->node_nd, d);
    for (int d = 0; d < t->dom_nd; d++)
        t->dom_stride[d] = dim_stride(t->dom_dims, t->dom_nd, d);
    t->ntdim = 0;
    for (int d = t->node_nd - 1; d >= 0 && t->ntdim < NET_MAX_TDIMS; d--) {
        if (t->node_dims[d] < 2)
            continue;
        t->tdim[t->ntdim++] = (net_tdim){t->node_dims[d],
                                         dim_stride(t->node_dims, t->node_nd, d), NET_TIER_NODE, d};
    }
    for (int d = t->dom_nd - 1; d >= 0 && t->ntdim < NET_MAX_TDIMS; d--) {
        if (t->dom_dims[d] < 2)
            continue;
        t->tdim[t->ntdim++] = (net_tdim){t->dom_dims[d],
                                         dim_stride(t->dom_dims, t->dom_nd, d) * t->nc,
                                         NET_TIER_DOMAIN, d};
    }
}

/* ---- the Clos ------------------------------------------------------- */

/* The largest divisor of n that is <= limit and a multiple of unit (1 if none). */
static int64_t divisor_at_most(int64_t n, int64_t limit, int64_t unit)
{
    for (int64_t d = limit < n ? limit : n; d >= 1; d--)
        if (n % d == 0 && d % unit == 0)
            return d;
    return 1;
}

/* Chips under one leaf: what half its ports (all, in a 1-tier fabric) serve
 * at the NIC rate, aligned to whole domains or to a divisor of one. */
static int64_t leaf_chips(const net_topo *t, const hw_network *n, int tiers)
{
    double ports = tiers == 1 ? n->radix : n->radix / 2;
    int64_t cap = (int64_t)floor(ports * n->port_bandwidth / (t->nic_cap / positive_or_one(n->efficiency)));
    if (cap < 1)
        cap = 1;
    if (cap >= t->dc)
        return cap / t->dc * t->dc;
    return divisor_at_most(t->dc, cap, cap >= t->nc ? t->nc : 1);
}

/* Pod sizes for a fabric of `tiers`; returns the chips the top can hold. */
static double size_pods(net_topo *t, const hw_network *n, int tiers)
{
    int half = n->radix / 2 > 0 ? n->radix / 2 : 1;
    t->pod[0] = 1;
    t->pod[1] = leaf_chips(t, n, tiers);
    for (int l = 2; l < tiers; l++) {
        int children = half;
        if (t->pod[l - 1] < t->dc)
            while (children > 1 && (t->pod[l - 1] * children) % t->dc != 0)
                children--;
        t->pod[l] = t->pod[l - 1] * children;
    }
    return tiers == 1 ? (double)t->pod[1] : (double)n->radix * (double)t->pod[tiers - 1];
}

static void init_clos(const hw_system *sys, net_topo *t)
{
    const hw_network *n = &sys->network;
    t->tiers = 0;
    t->preset_tiers = n->tiers;
    if (n->tiers < 1 || !(sys->node.nic_bandwidth_per_chip > 0.0))
        return;
    t->nic_cap = sys->node.nic_bandwidth_per_chip * positive_or_one(n->efficiency);
    t->endpoint_s = n->endpoint_latency_s;
    t->oversub = n->oversubscription >= 1.0 ? n->oversubscription : 1.0;
    int tiers = n->tiers;
    while (size_pods(t, n, tiers) < (double)t->chips && tiers < NET_MAX_CLOS)
        tiers++;
    size_pods(t, n, tiers);
    t->tiers = tiers;
    t->pod[tiers] = t->chips > t->pod[tiers - 1] ? t->chips : t->pod[tiers - 1];
    for (int l = 1; l <= tiers; l++) {
        int i = l <= n->tier_latency_count ? l - 1 : n->tier_latency_count - 1;
        t->tier_s[l] = i >= 0 ? n->tier_latency_s[i] : 0.0;
    }
}

static void init_ids(net_topo *t)
{
    int64_t whole = (t->chips + t->dc - 1) / t->dc * t->dc; /* links of whole domains */
    t->base_node = 0;
    t->base_dom = t->base_node + whole * t->node_lpc;
    t->base_nic = t->base_dom + whole * t->dom_lpc;
    int64_t next = t->base_nic + (t->tiers > 0 ? 2 * t->chips : 0);
    for (int l = 1; l < t->tiers; l++) {
        t->base_clos[l] = next;
        next += 2 * ((t->chips + t->pod[l] - 1) / t->pod[l]);
    }
    t->nlinks = next;
}

/* The struct was zeroed whole before it was filled, padding included, so
 * its bytes are a faithful key. */
static uint64_t fingerprint_of(const net_topo *t)
{
    const unsigned char *p = (const unsigned char *)t + offsetof(net_topo, chips);
    size_t n = offsetof(net_topo, fingerprint) - offsetof(net_topo, chips);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

usim_status net_topo_init(const hw_system *sys, net_topo *t, usim_error *err)
{
    memset(t, 0, sizeof *t);
    t->sys = sys;
    t->chips = sys->chips;
    t->nc = sys->node.chips > 0 ? sys->node.chips : 1;
    t->dn = sys->domain.nodes > 0 ? sys->domain.nodes : 1;
    t->dc = (int64_t)t->nc * t->dn;
    if (t->nc > NET_MAX_NODE_CHIPS)
        return usim_fail_field(err, USIM_EINPUT, "node.chips", "at most %d chips per node",
                               NET_MAX_NODE_CHIPS);
    usim_status st = init_node(sys, t, err);
    if (st == USIM_OK)
        st = init_domain(sys, t, err);
    if (st != USIM_OK)
        return st;
    init_tdims(t);
    init_clos(sys, t);
    if (t->chips > t->dc && t->tiers == 0)
        return usim_fail_field(err, USIM_EINPUT, "network",
                               "%lld chips span several scale-up domains but %s has no "
                               "scale-out network",
                               (long long)t->chips, sys->name);
    init_ids(t);
    t->fingerprint = fingerprint_of(t);
    return USIM_OK;
}

/* ---- link ids ------------------------------------------------------- */

static int64_t node_link(const net_topo *t, int64_t chip, int slot)
{
    return t->base_node + chip * t->node_lpc + slot;
}

static int64_t dom_link(const net_topo *t, int64_t chip, int slot)
{
    return t->base_dom + chip * t->dom_lpc + slot;
}

static int64_t nic_link(const net_topo *t, int64_t chip, int down)
{
    return t->base_nic + 2 * chip + down;
}

static int64_t clos_link(const net_topo *t, int tier, int64_t pod, int down)
{
    return t->base_clos[tier] + 2 * pod + down;
}

/* Slot of peer among n members, skipping self. */
static int peer_slot(int64_t self, int64_t peer)
{
    return (int)(peer < self ? peer : peer - 1);
}

/* ---- routing -------------------------------------------------------- */

/* Walks a torus: `index` is the position inside the torus, `chip` the chip
 * it is, `chip_per_index` how far a unit of index moves in chips. */
typedef struct torus_walk {
    const int *dims;
    const int64_t *strides;
    int nd;
    int64_t chip_origin; /* chip of torus position 0 */
    int64_t chip_per_index;
    bool domain;
} torus_walk;

static void walk_dim(const net_topo *t, const torus_walk *w, int64_t from, int d, int steps,
                     int dirn, double frac, net_link_fn fn, void *ctx)
{
    int64_t stride = w->strides[d];
    int k = w->dims[d];
    int64_t pos = from;
    int slot = 2 * d + (dirn > 0 ? 0 : 1);
    int c = coord_of(pos, w->dims, w->strides, d);
    for (int i = 0; i < steps; i++) {
        int64_t chip = w->chip_origin + pos * w->chip_per_index;
        fn(ctx, w->domain ? dom_link(t, chip, slot) : node_link(t, chip, slot), frac);
        int next = c + dirn;
        next = next == k ? 0 : next < 0 ? k - 1 : next;
        pos += (int64_t)(next - c) * stride;
        c = next;
    }
}

/* Dimension-order minimal route between torus positions a and b. */
static void torus_route(const net_topo *t, const torus_walk *w, int64_t a, int64_t b,
                        net_link_fn fn, void *ctx)
{
    int64_t cur = a;
    for (int d = w->nd - 1; d >= 0; d--) {
        int k = w->dims[d];
        int ca = coord_of(cur, w->dims, w->strides, d), cb = coord_of(b, w->dims, w->strides, d);
        int fwd = (cb - ca + k) % k, bwd = (k - fwd) % k;
        if (fwd == 0)
            continue;
        if (fwd < bwd)
            walk_dim(t, w, cur, d, fwd, +1, 1.0, fn, ctx);
        else if (bwd < fwd)
            walk_dim(t, w, cur, d, bwd, -1, 1.0, fn, ctx);
        else {
            walk_dim(t, w, cur, d, fwd, +1, 0.5, fn, ctx);
            walk_dim(t, w, cur, d, bwd, -1, 0.5, fn, ctx);
        }
        cur += (int64_t)(cb - ca) * w->strides[d];
    }
}

static void node_route(const net_topo *t, int64_t a, int64_t b, net_link_fn fn, void *ctx)
{
    int64_t node0 = a / t->nc * t->nc;
    int64_t la = a - node0, lb = b - node0;
    if (t->node_nd > 0) {
        torus_walk w = {t->node_dims, t->node_stride, t->node_nd, node0, 1, false};
        torus_route(t, &w, la, lb, fn, ctx);
    } else if (t->node_kind == HW_TOPO_SWITCH) {
        fn(ctx, node_link(t, a, 0), 1.0);
        fn(ctx, node_link(t, b, 1), 1.0);
    } else if (t->node_kind == HW_TOPO_MESH) {
        fn(ctx, node_link(t, a, peer_slot(la, lb)), 1.0);
    }
}

static void domain_route(const net_topo *t, int64_t a, int64_t b, net_link_fn fn, void *ctx)
{
    if (t->dom_kind == HW_TOPO_SWITCH) {
        fn(ctx, dom_link(t, a, 0), 1.0);
        fn(ctx, dom_link(t, b, 1), 1.0);
        return;
    }
    /* Inside the source node to the destination's coordinates, then across. */
    int64_t aligned = a / t->nc * t->nc + b % t->nc;
    if (aligned != a)
        node_route(t, a, aligned, fn, ctx);
    int64_t dom0 = aligned / t->dc * t->dc + b % t->nc; /* the chip in node 0 of the domain */
    int64_t ia = (aligned - dom0) / t->nc, ib = (b - dom0) / t->nc;
    if (t->dom_nd > 0) {
        torus_walk w = {t->dom_dims, t->dom_stride, t->dom_nd, dom0, t->nc, true};
        torus_route(t, &w, ia, ib, fn, ctx);
    } else if (t->dom_kind == HW_TOPO_MESH) {
        fn(ctx, dom_link(t, aligned, peer_slot(ia, ib)), 1.0);
    }
}

/* The lowest Clos tier whose pod holds both chips. */
static int lca_tier(const net_topo *t, int64_t a, int64_t b)
{
    for (int l = 1; l < t->tiers; l++)
        if (a / t->pod[l] == b / t->pod[l])
            return l;
    return t->tiers;
}

static void clos_route(const net_topo *t, int64_t a, int64_t b, net_link_fn fn, void *ctx)
{
    int top = lca_tier(t, a, b);
    fn(ctx, nic_link(t, a, 0), 1.0);
    for (int l = 1; l < top; l++)
        fn(ctx, clos_link(t, l, a / t->pod[l], 0), 1.0);
    for (int l = top - 1; l >= 1; l--)
        fn(ctx, clos_link(t, l, b / t->pod[l], 1), 1.0);
    fn(ctx, nic_link(t, b, 1), 1.0);
}

void net_route(const net_topo *t, int64_t a, int64_t b, net_link_fn fn, void *ctx)
{
    if (a == b)
        return;
    if (a / t->nc == b / t->nc)
        node_route(t, a, b, fn, ctx);
    else if (a / t->dc == b / t->dc)
        domain_route(t, a, b, fn, ctx);
    else
        clos_route(t, a, b, fn, ctx);
}

int net_route_tier(const net_topo *t, int64_t a, int64_t b)
{
    if (a / t->nc == b / t->nc)
        return NET_TIER_NODE;
    return a / t->dc == b / t->dc ? NET_TIER_DOMAIN : NET_TIER_SCALEOUT;
}

/* Minimal hops between torus positions a and b. */
static int torus_hops(const int *dims, const int64_t *strides, int nd, int64_t a, int64_t b)
{
    int hops = 0;
    for (int d = 0; d < nd; d++) {
        int k = dims[d];
        int fwd = (coord_of(b, dims, strides, d) - coord_of(a, dims, strides, d) + k) % k;
        hops += fwd < k - fwd ? fwd : k - fwd;
    }
    return hops;
}

static double node_latency(const net_topo *t, int64_t la, int64_t lb)
{
    if (la == lb)
        return 0.0;
    if (t->node_nd > 0)
        return torus_hops(t->node_dims, t->node_stride, t->node_nd, la, lb) * t->node_hop_s;
    return t->node_hop_s;
}

double net_route_latency(const net_topo *t, int64_t a, int64_t b)
{
    if (a == b)
        return 0.0;
    if (a / t->nc == b / t->nc)
        return node_latency(t, a % t->nc, b % t->nc);
    if (a / t->dc == b / t->dc) {
        if (t->dom_kind == HW_TOPO_SWITCH)
            return t->dom_hop_s;
        double s = node_latency(t, a % t->nc, b % t->nc);
        int64_t ia = a % t->dc / t->nc, ib = b % t->dc / t->nc;
        if (t->dom_nd > 0)
            return s + torus_hops(t->dom_dims, t->dom_stride, t->dom_nd, ia, ib) * t->dom_hop_s;
        return s + t->dom_hop_s;
    }
    int top = lca_tier(t, a, b);
    double s = 2.0 * t->endpoint_s + t->tier_s[1];
    for (int l = 1; l < top; l++)
        s += t->tier_s[l + 1] + t->tier_s[l];
    return s;
}

/* ---- link properties ------------------------------------------------ */

static int region_of(const net_topo *t, int64_t link, int *tier, int64_t *index)
{
    if (link < t->base_dom) {
        *index = link - t->base_node;
        return NET_R_NODE;
    }
    if (link < t->base_nic) {
        *index = link - t->base_dom;
        return NET_R_DOMAIN;
    }
    int64_t end_nic = t->base_nic + 2 * t->chips;
    if (link < end_nic || t->tiers < 2) {
        *index = link - t->base_nic;
        return NET_R_NIC;
    }
    for (int l = t->tiers - 1; l >= 1; l--) {
        if (link >= t->base_clos[l]) {
            *tier = l;
            *index = link - t->base_clos[l];
            return NET_R_CLOS;
        }
    }
    *index = 0;
    return NET_R_NIC;
}

double net_pod_capacity(const net_topo *t, int tier, int64_t pod_index)
{
    int64_t first = pod_index * t->pod[tier];
    int64_t chips = t->chips - first < t->pod[tier] ? t->chips - first : t->pod[tier];
    double cap = (double)chips * t->nic_cap;
    return tier == t->tiers - 1 ? cap / t->oversub : cap;
}

double net_link_capacity(const net_topo *t, int64_t link)
{
    int tier = 0;
    int64_t index;
    switch (region_of(t, link, &tier, &index)) {
    case NET_R_NODE:
        return t->node_cap;
    case NET_R_DOMAIN:
        return t->dom_cap;
    case NET_R_NIC:
        return t->nic_cap;
    default:
        return net_pod_capacity(t, tier, index / 2);
    }
}

int net_link_tier(const net_topo *t, int64_t link)
{
    int tier = 0;
    int64_t index;
    int r = region_of(t, link, &tier, &index);
    return r == NET_R_NODE ? NET_TIER_NODE : r == NET_R_DOMAIN ? NET_TIER_DOMAIN : NET_TIER_SCALEOUT;
}

static const char DIM_NAMES[] = "XYW";

static void coords_text(const net_topo *t, int64_t local, char *buf, size_t size)
{
    int n = snprintf(buf, size, "(");
    for (int d = 0; d < t->node_nd && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%d", d ? "," : "",
                      coord_of(local, t->node_dims, t->node_stride, d));
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ")");
}

static void node_label(const net_topo *t, int64_t index, char *buf, size_t size)
{
    int64_t chip = index / t->node_lpc;
    int slot = (int)(index % t->node_lpc);
    char where[48] = "";
    if (t->node_nd > 0) {
        int d = slot / 2;
        coords_text(t, chip % t->nc, where, sizeof where);
        snprintf(buf, size, "node %lld: chip %lld %s link %c%c", (long long)(chip / t->nc),
                 (long long)chip, where, DIM_NAMES[(t->node_nd - 1 - d) % 3],
                 slot % 2 ? '-' : '+');
    } else if (t->node_kind == HW_TOPO_SWITCH) {
        snprintf(buf, size, "node %lld: chip %lld %s node switch", (long long)(chip / t->nc),
                 (long long)chip, slot ? "<-" : "->");
    } else {
        snprintf(buf, size, "node %lld: chip %lld mesh link %d", (long long)(chip / t->nc),
                 (long long)chip, slot);
    }
}

static void domain_label(const net_topo *t, int64_t index, char *buf, size_t size)
{
    int64_t chip = index / t->dom_lpc;
    int slot = (int)(index % t->dom_lpc);
    if (t->dom_nd > 0)
        snprintf(buf, size, "domain %lld: chip %lld link Z%s%c", (long long)(chip / t->dc),
                 (long long)chip, t->dom_nd > 1 ? "" : "", slot % 2 ? '-' : '+');
    else if (t->dom_kind == HW_TOPO_SWITCH)
        snprintf(buf, size, "domain %lld: chip %lld %s domain switch",
                 (long long)(chip / t->dc), (long long)chip, slot ? "<-" : "->");
    else
        snprintf(buf, size, "domain %lld: chip %lld mesh link %d", (long long)(chip / t->dc),
                 (long long)chip, slot);
}

void net_link_label(const net_topo *t, int64_t link, char *buf, size_t size)
{
    int tier = 0;
    int64_t index;
    switch (region_of(t, link, &tier, &index)) {
    case NET_R_NODE:
        node_label(t, index, buf, size);
        break;
    case NET_R_DOMAIN:
        domain_label(t, index, buf, size);
        break;
    case NET_R_NIC:
        snprintf(buf, size, "chip %lld NIC %s", (long long)(index / 2), index % 2 ? "down" : "up");
        break;
    default:
        snprintf(buf, size, "tier-%d pod %lld (%lld chips) %s", tier, (long long)(index / 2),
                 (long long)t->pod[tier],
                 index % 2 ? "downlink from tier above" : "uplink to tier above");
        break;
    }
}
