/*
 * The analytic model: alpha-beta per phase,
 *
 *     t_phase = steps x alpha + bytes_per_flow / rate,
 *
 * where alpha is the phase's per-step latency (plan.c) and rate the share of
 * its most loaded link that one flow gets when the flows of ONE
 * representative group (subgroup 0 of group 0) are placed on their routes:
 *
 *   - links inside scale-up domain 0: the group's own flows there, routed
 *     one by one (a few hundred at most, on the stack: no allocation for
 *     domains up to NET_ANALYTIC_CHIPS chips);
 *   - its NICs: the flows each chip of domain 0 sends out of the domain;
 *   - the Clos: the uplink of pod 0 at each tier, shared by every
 *     concurrent group that crosses it (closed-form counts, layout.c), with
 *     the oversubscription at the top tier.
 *
 * With every flow of a step at the same rate (a step waits for its slowest
 * flow), the phase's bandwidth time is bytes / min over links (capacity /
 * flows on it): for a ring over one switch, 2(p-1)/p n / B exactly. What it
 * does not see: other groups' flows inside a node or domain (strided groups
 * whose routes overlap), other collectives running at the same time, and
 * pods other than pod 0 running hotter. The flow model sees all three.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

typedef struct loads {
    const net_topo *t;
    double *link; /* node links of domain 0, then its domain links */
    double *nic;  /* flows leaving domain 0, per chip */
    int64_t node_span, dom_span;
    int64_t shift; /* first chip of the representative domain */
    double weight;
} loads;

static void add_link(void *ctx, int64_t link, double fraction)
{
    loads *a = ctx;
    int64_t i = link - a->t->base_node;
    if (i >= 0 && i < a->node_span) {
        a->link[i] += a->weight * fraction;
        return;
    }
    i = link - a->t->base_dom;
    if (i >= 0 && i < a->dom_span)
        a->link[a->node_span + i] += a->weight * fraction;
}

static void on_flow(void *ctx, int64_t src, int64_t dst, double weight)
{
    loads *a = ctx;
    src -= a->shift;
    dst -= a->shift;
    if (dst >= 0 && dst < a->t->dc) {
        a->weight = weight;
        net_route(a->t, src, dst, add_link, a);
    } else if (src < a->t->dc) {
        a->nic[src] += weight;
    }
}

static void on_bulk(void *ctx, int64_t src, int64_t count, double weight)
{
    loads *a = ctx;
    src -= a->shift;
    if (src >= 0 && src < a->t->dc)
        a->nic[src] += (double)count * weight;
}

typedef struct pod_sum {
    const net_sub *s;
    const net_ringgeo *g;
    const net_item *it;
    double flows;
} pod_sum;

static void add_class(void *ctx, int inside, int64_t translates)
{
    pod_sum *p = ctx;
    p->flows += (double)translates * net_pattern_cross(p->s, p->g, p->it, inside);
}

/* A tree is not the same in every domain: the member with the most tree
 * neighbours outside its domain sets the NIC load (in = out for a tree).
 * Checked: the members of the first two domains and some more, the ranks
 * just below every multiple of 1,024 (the high interior nodes of the lowbit
 * tree, whose neighbours are far) and their mirrors in the second tree. */
static int tree_outside(const net_topo *t, const net_sub *s, int j)
{
    int64_t dom = net_member_chip(s, j) / t->dc;
    int n = 0;
    for (int tree = 0; tree < 2; tree++) {
        int child[2];
        int parent = net_tree_parent(s->size, tree, j);
        n += parent >= 0 && net_member_chip(s, parent) / t->dc != dom;
        int c = net_tree_children(s->size, tree, j, child);
        for (int i = 0; i < c; i++)
            n += net_member_chip(s, child[i]) / t->dc != dom;
    }
    return n;
}

static void tree_nic(const net_topo *t, const net_sub *s, double *worst, int64_t *chip)
{
    int m = s->size, near = 2 * s->m_dom + 64;
    for (int pass = 0; pass < 2; pass++) {
        int step = pass ? 1024 : 1;
        for (int x = pass ? 1023 : 0; x < m && (pass || x < near); x += step) {
            int js[2] = {x, m - 1 - x};
            for (int k = 0; k < 2; k++) {
                int n = tree_outside(t, s, js[k]);
                if (n > *worst) {
                    *worst = n;
                    *chip = net_member_chip(s, js[k]);
                }
            }
        }
    }
}

typedef struct bottleneck {
    double rate;
    int64_t link;
} bottleneck;

static void consider(bottleneck *b, double capacity, double flows, int64_t link)
{
    if (flows <= 1e-12)
        return;
    double r = capacity / flows;
    if (r < b->rate) {
        b->rate = r;
        b->link = link;
    }
}

/*
 * All pairs of a group that fills whole domains of a vertex-transitive
 * topology (tori, switches, meshes, and their products): every chip sends
 * the same pattern, translated, so the load of a link class (a torus
 * dimension and direction, a switch's up or down links) is the same on
 * every link of it: chip 0's flows alone, summed over the class, divided by
 * the class's links per chip. O(dc) routes instead of O(dc^2).
 */
static void symmetric_bottleneck(const loads *a, bottleneck *b)
{
    const net_topo *t = a->t;
    /* classes: torus slots (2 x dims <= 6), switch up and down, or one mesh class */
    double node_class[8] = {0}, dom_class[8] = {0};
    int64_t nlpc = t->node_kind == HW_TOPO_MESH ? 1 : t->node_lpc;
    int64_t dlpc = t->dom_kind == HW_TOPO_MESH ? 1 : t->dom_lpc;
    for (int64_t i = 0; i < a->node_span; i++)
        node_class[i % t->node_lpc % nlpc] += a->link[i];
    for (int64_t i = 0; i < a->dom_span; i++)
        dom_class[i % t->dom_lpc % dlpc] += a->link[a->node_span + i];
    /* a mesh class holds lpc links per chip; the others one */
    for (int64_t q = 0; q < nlpc; q++)
        consider(b, t->node_cap, node_class[q] / (double)(t->node_lpc / nlpc), t->base_node + q);
    for (int64_t q = 0; q < dlpc; q++)
        consider(b, t->dom_cap, dom_class[q] / (double)(t->dom_lpc / dlpc), t->base_dom + q);
    if (t->tiers > 0)
        consider(b, t->nic_cap, a->nic[0], t->base_nic);
}

/* Contiguous groups of whole nodes whose translates fill the domain. */
static bool all_pairs_symmetric(const net_topo *t, const net_sub *s, const net_item *it,
                                int64_t groups)
{
    return it->pattern == NET_PAT_ALLPAIRS && s->stride == 1 && s->m0 == t->nc &&
           (s->m_dom == t->dc || groups * s->m_dom >= t->dc) &&
           (t->node_kind == HW_TOPO_MESH || t->node_lpc <= 8) &&
           (t->dom_kind == HW_TOPO_MESH || t->dom_lpc <= 8);
}

static void domain_bottleneck(const loads *a, bottleneck *b)
{
    const net_topo *t = a->t;
    for (int64_t i = 0; i < a->node_span; i++)
        consider(b, t->node_cap, a->link[i], t->base_node + i);
    for (int64_t i = 0; i < a->dom_span; i++)
        consider(b, t->dom_cap, a->link[a->node_span + i], t->base_dom + i);
    for (int64_t c = 0; c < t->dc && t->tiers > 0; c++)
        consider(b, t->nic_cap, a->nic[c], t->base_nic + 2 * c);
}

/* Pods of whole domains: the flows leaving pod 0, summed over the groups
 * that cross it. Pods inside a domain (a leaf smaller than a Trn3
 * UltraServer) carry only their chips' cross-domain flows, which the
 * domain's NIC counts hold for every group there. */
static void pod_bottleneck(const loads *a, const net_sub *s, const net_ringgeo *g,
                           const net_item *it, int64_t groups, bottleneck *b)
{
    const net_topo *t = a->t;
    for (int l = 1; l < t->tiers; l++) {
        if (t->pod[l] >= t->chips)
            break;
        double flows = 0.0;
        if (t->pod[l] >= t->dc) {
            pod_sum p = {s, g, it, 0.0};
            net_touching_classes(s->size, s->stride, groups, t->pod[l], add_class, &p);
            flows = p.flows;
        } else {
            for (int64_t c = 0; c < t->pod[l]; c++)
                flows += a->nic[c];
        }
        consider(b, net_pod_capacity(t, l, 0), flows, t->base_clos[l]);
    }
}

/* Flows of one subgroup for an item (for the bytes it injects). */
static double item_flows(const net_sub *s, const net_ringgeo *g, const net_item *it)
{
    double m = s->size;
    switch (it->pattern) {
    case NET_PAT_RING:
        return (double)g->H * g->R * it->dirs * (it->chain ? m - 1 : m);
    case NET_PAT_DIMRING:
        return 2.0 * m;
    case NET_PAT_XOR:
        return it->p2;
    case NET_PAT_SHIFT:
        return it->hi - it->lo;
    case NET_PAT_ALLPAIRS:
        return m * (m - 1);
    case NET_PAT_FANOUT:
    case NET_PAT_FANIN:
        return m - 1;
    case NET_PAT_TREE:
        return 4.0 * (m - 1);
    default:
        return 0.0;
    }
}

/* Emits the item's flows from every concurrent translate's members in
 * domain D (at most dc of them): the representative group sees the other
 * groups' routes through its domain. */
static void emit_translates(const net_topo *t, const net_sub *s, const net_item *it,
                            int64_t groups, int64_t D, net_ringgeo *g, const net_sink *sink)
{
    int64_t block = (int64_t)s->size * s->stride, lo = D * t->dc, hi = lo + t->dc;
    int64_t b0 = lo / block, b1 = block >= t->dc ? b0 + 1 : hi / block;
    for (int64_t b = b0; b < b1; b++) {
        int64_t o0 = 0, o1 = s->stride;
        if (s->stride >= t->dc) {
            o0 = (lo - b * block) % s->stride;
            o1 = o0 + t->dc < s->stride ? o0 + t->dc : s->stride;
        }
        for (int64_t o = o0; o < o1 && b * s->stride + o < groups; o++) {
            net_sub k = *s;
            k.base = b * block + o;
            int64_t j0 = lo > k.base ? (lo - k.base + s->stride - 1) / s->stride : 0;
            int64_t j1 = (hi - k.base + s->stride - 1) / s->stride;
            if (j1 > s->size)
                j1 = s->size;
            if (j1 <= j0)
                continue;
            if (it->pattern == NET_PAT_RING)
                net_ring_geometry(t, &k, g);
            net_pattern_emit(t, &k, g, it, (int)j0, (int)j1, sink);
        }
    }
}

/* An item's bottleneck rate depends on the topology, the subgroup's shape,
 * the pattern and the groups running, not on the bytes: the last few are
 * kept per thread, so a collective costed again (every layer of a training
 * step, every candidate of a plan search, a sweep over sizes) routes no
 * flow twice. */
typedef struct rate_memo {
    uint64_t topo;
    int64_t stride, groups;
    int size;
    net_item it; /* bytes zeroed */
    double rate;
    int64_t link;
} rate_memo;

#define RATE_MEMO 32
static _Thread_local rate_memo memo[RATE_MEMO];
static _Thread_local int memo_count, memo_next;

static bool same_item(const net_item *a, const net_item *b)
{
    return a->pattern == b->pattern && a->dirs == b->dirs && a->chain == b->chain &&
           a->dim == b->dim && a->extent == b->extent && a->dist == b->dist && a->lo == b->lo &&
           a->hi == b->hi && a->p2 == b->p2;
}

static const rate_memo *memo_find(const rate_memo *key)
{
    for (int i = 0; i < memo_count; i++) {
        const rate_memo *m = &memo[i];
        if (m->topo == key->topo && m->stride == key->stride && m->groups == key->groups &&
            m->size == key->size && same_item(&m->it, &key->it))
            return m;
    }
    return NULL;
}

static void memo_keep(const rate_memo *entry)
{
    memo[memo_next] = *entry;
    memo_next = (memo_next + 1) % RATE_MEMO;
    if (memo_count < RATE_MEMO)
        memo_count++;
}

static double item_rate(const net_topo *t, const net_sub *s, const net_item *item,
                        int64_t groups, double *buf, int64_t *link);

/* Bandwidth time of one item for the representative subgroup. */
static double item_time(const net_topo *t, const net_sub *s, const net_item *item,
                        int64_t groups, double *buf, int64_t *link)
{
    rate_memo key = {t->fingerprint, s->stride, groups, s->size, *item, 0.0, -1};
    key.it.bytes = 0.0;
    const rate_memo *hit = memo_find(&key);
    if (hit) {
        if (link)
            *link = hit->link;
    } else {
        key.rate = item_rate(t, s, item, groups, buf, &key.link);
        memo_keep(&key);
        hit = &key;
        if (link)
            *link = key.link;
    }
    return isfinite(hit->rate) ? item->bytes / hit->rate : 0.0;
}

/* The bottleneck rate (bytes a flow per second) of one item. */
static double item_rate(const net_topo *t, const net_sub *s, const net_item *item,
                        int64_t groups, double *buf, int64_t *link)
{
    net_item it = *item;
    net_ringgeo g;
    loads a = {t, buf, NULL, t->dc * t->node_lpc, t->dc * t->dom_lpc, 0, 0.0};
    a.nic = buf + a.node_span + a.dom_span;
    memset(buf, 0, sizeof(double) * (size_t)(a.node_span + a.dom_span + t->dc));
    /* The representative domain: the first one holding a sender. */
    int first = it.pattern == NET_PAT_SHIFT ? it.lo
                : it.pattern == NET_PAT_RING && it.chain == NET_CHAIN_TO_ROOT ? 1
                                                                             : 0;
    int j_lo = first / s->m_dom * s->m_dom;
    int64_t D = net_member_chip(s, j_lo) / t->dc;
    a.shift = D * t->dc;
    net_sink sink = {on_flow, on_bulk, &a};
    bottleneck b = {INFINITY, -1};
    if (it.pattern == NET_PAT_DIMRING) {
        /* whole torus dimensions tile the domain: one flow on each link of
         * the dimension, each way, whatever the other groups do */
        bool node = s->stride * it.dim < t->nc;
        consider(&b, node ? t->node_cap : t->dom_cap, 1.0, node ? t->base_node : t->base_dom);
    } else if (all_pairs_symmetric(t, s, &it, groups)) {
        net_pattern_emit(t, s, &g, &it, j_lo, j_lo + 1, &sink);
        symmetric_bottleneck(&a, &b);
    } else {
        emit_translates(t, s, &it, groups, D, &g, &sink);
        domain_bottleneck(&a, &b);
    }
    /* all pairs: a partial last domain's chips have the most peers outside */
    if (it.pattern == NET_PAT_ALLPAIRS && s->last_dom < s->m_dom && t->tiers > 0)
        consider(&b, t->nic_cap, (double)(s->size - s->last_dom),
                 t->base_nic + 2 * net_member_chip(s, s->size - 1));
    /* a fan-in's root receives from every other domain through its NIC */
    if (it.pattern == NET_PAT_FANIN && s->domains > 1 && t->tiers > 0)
        consider(&b, t->nic_cap, (double)(s->size - s->m_dom), t->base_nic + 1);
    if (it.pattern == NET_PAT_TREE && s->domains > 1 && t->tiers > 0) {
        double worst = 0.0;
        int64_t chip = 0;
        tree_nic(t, s, &worst, &chip);
        consider(&b, t->nic_cap, worst, t->base_nic + 2 * chip);
    }
    if (it.pattern == NET_PAT_RING)
        net_ring_geometry(t, s, &g);
    pod_bottleneck(&a, s, &g, &it, groups, &b);
    *link = b.link;
    return b.rate;
}

double net_phase_analytic(const net_topo *t, const net_phase *ph, int64_t groups,
                          int64_t *bottleneck_link, double *bytes_out)
{
    double stack[NET_ANALYTIC_CHIPS * 13];
    int64_t need = t->dc * (t->node_lpc + t->dom_lpc + 1);
    double *buf = need <= (int64_t)(sizeof stack / sizeof stack[0]) ? stack
                                                                     : malloc(sizeof(double) * (size_t)need);
    net_sub s = {.base = 0, .stride = ph->stride, .size = ph->size};
    if (!buf || net_sub_layout(t, &s, NULL) != USIM_OK) {
        if (buf != stack)
            free(buf);
        return INFINITY;
    }
    double worst = 0.0, bytes = 0.0;
    int64_t worst_link = -1;
    for (int i = 0; i < ph->nitems; i++) {
        int64_t link = -1;
        double x = item_time(t, &s, &ph->item[i], groups, buf, &link);
        if (x > worst || worst_link < 0) {
            worst = x > worst ? x : worst;
            worst_link = link;
        }
        if (bytes_out) {
            net_ringgeo g;
            if (ph->item[i].pattern == NET_PAT_RING)
                net_ring_geometry(t, &s, &g);
            bytes += ph->item[i].bytes * item_flows(&s, &g, &ph->item[i]) * (double)groups;
        }
    }
    if (buf != stack)
        free(buf);
    if (bottleneck_link)
        *bottleneck_link = worst_link;
    if (bytes_out)
        *bytes_out = bytes;
    return worst;
}

usim_status net_plan_analytic(const net_topo *t, const net_plan *plan, const net_request *rq,
                              net_cost *out, usim_error *err)
{
    (void)err;
    memset(out, 0, sizeof *out);
    out->busiest_link = -1;
    out->groups_simulated = rq->groups;
    int64_t busy_link[NET_MAX_PHASES];
    double busy_s[NET_MAX_PHASES];
    int nbusy = 0;
    for (int i = 0; i < plan->nphases; i++) {
        const net_phase *ph = &plan->phase[i];
        int64_t link = -1;
        double bytes = 0.0;
        double bw = net_phase_analytic(t, ph, rq->groups * ph->n1 * ph->n2, &link, &bytes);
        out->latency_s += ph->latency_s;
        out->bandwidth_s += bw;
        out->tier_seconds[ph->tier] += ph->latency_s;
        out->tier_seconds[link >= 0 ? net_link_tier(t, link) : ph->tier] += bw;
        out->bytes_injected += bytes;
        /* a phase's bottleneck link is busy for its whole bandwidth time */
        int k = 0;
        while (k < nbusy && busy_link[k] != link)
            k++;
        if (k == nbusy) {
            busy_link[nbusy] = link;
            busy_s[nbusy++] = 0.0;
        }
        busy_s[k] += bw;
    }
    out->seconds = out->latency_s + out->bandwidth_s;
    double widest = 0.0;
    for (int k = 0; k < nbusy; k++) {
        if (busy_link[k] >= 0 && busy_s[k] > widest) {
            widest = busy_s[k];
            out->busiest_link = busy_link[k];
        }
    }
    out->busiest_utilisation = out->seconds > 0.0 ? widest / out->seconds : 0.0;
    net_library_apply(t, plan, rq, out);
    return USIM_OK;
}
