/*
 * net layer internals, shared by its files:
 *
 *   topology.c   the link graph of a system: link ids, capacities, latencies,
 *                labels and dimension-order routes (net_topo);
 *   layout.c     where a group's members sit (net_sub) and whether a group
 *                of size p and stride s tiles the machine regularly;
 *   pattern.c    the flows of one algorithm step (ring channels, pairwise
 *                exchanges, all pairs, trees, torus dimensions);
 *   plan.c       algorithms as phases of patterns (net_plan), shared by both
 *                cost models, with each phase's per-step latency;
 *   analytic.c   alpha-beta: each phase's bandwidth from the representative
 *                group's own link loads;
 *   flow.c       the flow-level model: max-min fair progressive filling;
 *   library.c    the collective library's own model (NCCL's latencies and
 *                protocols), from the system's collective_library data;
 *   collective.c the public call: validation, auto selection, the result.
 *
 * Chip c sits in node c / nc and scale-up domain c / dc (nc chips per node,
 * dc = nc x nodes-per-domain). All bandwidths are bytes/s in one direction,
 * after the preset's efficiency knobs.
 */
#ifndef USIM_NET_INTERNAL_H
#define USIM_NET_INTERNAL_H

#include <stdint.h>

#include "ultrasim/net.h"

#define NET_MAX_CLOS 8       /* Clos tiers, including tiers added to fit the chips */
#define NET_MAX_TDIMS 6      /* torus dimensions: node dims, then domain dims */
#define NET_MAX_NODE_CHIPS 1024
#define NET_MAX_PHASES 128
#define NET_MAX_ITEMS 3

/* ---- topology ------------------------------------------------------- */

/* Link regions, in id order. */
typedef enum net_region { NET_R_NODE, NET_R_DOMAIN, NET_R_NIC, NET_R_CLOS } net_region;

/* One torus dimension at chip level: extent, distance in chips between
 * neighbours, and whether its links are node or domain links. */
typedef struct net_tdim {
    int extent;
    int64_t chip_stride;
    int tier; /* NET_TIER_NODE or NET_TIER_DOMAIN */
    int index; /* dimension index inside its node or domain topology */
} net_tdim;

typedef struct net_topo {
    const hw_system *sys;
    int64_t chips;
    int nc;        /* chips per node */
    int dn;        /* nodes per scale-up domain (1: the node is the domain) */
    int64_t dc;    /* chips per scale-up domain */
    /* node: kind (hw_topology_kind), torus dims (ring: one dim of nc) */
    int node_kind, node_nd, node_dims[3], node_lpc;
    int64_t node_stride[3]; /* row-major strides of the node dims */
    double node_cap, node_hop_s;
    /* domain: how nodes join (ring/torus over equal coordinates, switch, mesh) */
    int dom_kind, dom_nd, dom_dims[3], dom_lpc;
    int64_t dom_stride[3];
    double dom_cap, dom_hop_s;
    /* scale-out: per-chip NIC and a folded Clos of `tiers` levels; pod[l] is
     * the chips under one tier-l switch group (pod[1] = one leaf). */
    double nic_cap;
    int tiers, preset_tiers;
    int64_t pod[NET_MAX_CLOS + 1];
    double tier_s[NET_MAX_CLOS + 1];
    double endpoint_s, oversub;
    /* torus dimensions usable by the torus algorithm, by ascending stride */
    net_tdim tdim[NET_MAX_TDIMS];
    int ntdim;
    /* link id layout */
    int64_t base_node, base_dom, base_nic, base_clos[NET_MAX_CLOS + 1], nlinks;
    /* FNV-1a of everything above but sys: equal topologies, equal prints, so
     * analytic results can be reused across calls (analytic.c). */
    uint64_t fingerprint;
} net_topo;

usim_status net_topo_init(const hw_system *sys, net_topo *t, usim_error *err);

/* A route is handed out link by link with the fraction of the flow that
 * crosses it (ties between equally short torus directions are split). */
typedef void (*net_link_fn)(void *ctx, int64_t link, double fraction);
void net_route(const net_topo *t, int64_t a, int64_t b, net_link_fn fn, void *ctx);
double net_route_latency(const net_topo *t, int64_t a, int64_t b);
/* The highest tier a route from a to b crosses. */
int net_route_tier(const net_topo *t, int64_t a, int64_t b);

double net_link_capacity(const net_topo *t, int64_t link);
int net_link_tier(const net_topo *t, int64_t link);
void net_link_label(const net_topo *t, int64_t link, char *buf, size_t size);
/* The Clos tier whose uplinks (pod -> parent) are oversubscribed: tiers - 1. */
double net_pod_capacity(const net_topo *t, int tier, int64_t pod_index);

static inline int64_t net_node_of(const net_topo *t, int64_t chip) { return chip / t->nc; }
static inline int64_t net_domain_of(const net_topo *t, int64_t chip) { return chip / t->dc; }

/* ---- layout ---------------------------------------------------------- */

/* A set of ranks: member j is chip base + j * stride. */
typedef struct net_sub {
    int64_t base, stride;
    int size;
    int m0;       /* members per node */
    int nodes;    /* nodes touched */
    int m_dom;    /* members per domain */
    int domains;  /* domains touched */
    int last_dom; /* members in the last domain: fewer when the system ends
                     part way through a domain (131,072 chips of 144-chip
                     Trn3 UltraServers) */
} net_sub;

/* Members j' sharing j's domain: [first, first + count). */
static inline int64_t net_domain_first(const net_sub *s, int64_t j) { return j / s->m_dom * s->m_dom; }
static inline int64_t net_domain_count(const net_sub *s, int64_t j)
{
    int64_t first = net_domain_first(s, j);
    return first + s->m_dom <= s->size ? s->m_dom : s->size - first;
}

/* Fills the per-level counts of sub (base, stride, size already set);
 * fails when the members do not sit the same way in every node and domain. */
usim_status net_sub_layout(const net_topo *t, net_sub *sub, usim_error *err);

static inline int64_t net_member_chip(const net_sub *s, int64_t j) { return s->base + j * s->stride; }

/* Members j in [0, J) of the translates of (size, stride) that touch chips
 * [0, span): how many translates hold exactly J members there, for the
 * first `groups` translates (offsets, then blocks). Calls fn once per class. */
typedef void (*net_class_fn)(void *ctx, int members_inside, int64_t translates);
void net_touching_classes(int size, int64_t stride, int64_t groups, int64_t span,
                          net_class_fn fn, void *ctx);

/* ---- patterns ------------------------------------------------------- */

typedef enum net_pattern {
    NET_PAT_RING,     /* ring channels: H cycles x R rotations x D directions */
    NET_PAT_DIMRING,  /* both neighbours along one torus dimension */
    NET_PAT_XOR,      /* j <-> j ^ dist, for j below the largest power of two */
    NET_PAT_SHIFT,    /* j in [lo, hi) sends to (j + dist) mod size */
    NET_PAT_ALLPAIRS, /* every ordered pair */
    NET_PAT_FANOUT,   /* member 0 to every other */
    NET_PAT_FANIN,    /* every other to member 0 */
    NET_PAT_TREE      /* double binary tree, child <-> parent */
} net_pattern;

enum { NET_CHAIN_NONE = 0, NET_CHAIN_FROM_ROOT = 1, NET_CHAIN_TO_ROOT = 2 };

typedef struct net_item {
    int pattern;
    int dirs;      /* ring: 1 or 2 directions */
    int chain;     /* ring: NET_CHAIN_* */
    int dim;       /* dimring: member-index stride of the dimension */
    int extent;    /* dimring: its extent */
    int64_t dist;  /* xor, shift */
    int lo, hi;    /* shift: senders */
    int p2;        /* xor: members taking part (a power of two) */
    double bytes;  /* bytes per flow */
} net_item;

/* How a ring is laid over a set of members: H edge-disjoint in-node cycles
 * (2 on a full square 2D torus node, as Neuron's runtime uses [CCintra]),
 * R rotations (one exit chip per rotation, NCCL-style channels), D
 * directions. ord[h][t] is the in-node member index at position t. */
typedef struct net_ringgeo {
    int H, R, m0, K; /* K: nodes in the ring */
    short ord[2][NET_MAX_NODE_CHIPS];
    short pos[2][NET_MAX_NODE_CHIPS];
} net_ringgeo;

void net_ring_geometry(const net_topo *t, const net_sub *s, net_ringgeo *g);

typedef struct net_sink {
    void (*flow)(void *ctx, int64_t src, int64_t dst, double weight);
    /* `count` flows of `weight` from src to members outside src's domain
     * (all-pairs and fan-out only; the caller places them). */
    void (*bulk)(void *ctx, int64_t src, int64_t count, double weight);
    void *ctx;
} net_sink;

/* Emits the flows sent by members j in [j_lo, j_hi) of s for item it. */
void net_pattern_emit(const net_topo *t, const net_sub *s, const net_ringgeo *g,
                      const net_item *it, int j_lo, int j_hi, const net_sink *sink);

/* Flows of item crossing out of members [0, J) of a subgroup (to members
 * >= J); used for pods. Ring counts are per channel set. */
double net_pattern_cross(const net_sub *s, const net_ringgeo *g, const net_item *it, int J);

/* Double binary tree over m ranks (lowbit in-order trees, the second
 * mirrored or shifted so a rank is interior in at most one). */
int net_tree_parent(int m, int tree, int rank);
int net_tree_children(int m, int tree, int rank, int child[2]);
int net_tree_depth(int m);

/* ---- plans ---------------------------------------------------------- */

typedef struct net_phase {
    int size;                 /* members per subgroup */
    int64_t stride;           /* chips between members */
    int n1, n2;               /* subgroups: base + k1 * step1 + k2 * step2 */
    int64_t step1, step2;
    net_item item[NET_MAX_ITEMS];
    int nitems;
    int steps;
    double latency_s;         /* steps x per-step latency */
    int tier;                 /* highest tier its routes cross */
    int level;                /* 0 flat; 1 inside (hier); 2 across (hier) */
} net_phase;

typedef struct net_plan {
    net_phase phase[NET_MAX_PHASES];
    int nphases;
    net_algo algo;
    net_algo intra; /* Neuron's rule inside one node: the algorithm it picked */
    char why[256];
} net_plan;

typedef struct net_request {
    net_op op;
    double bytes;
    int size;
    int64_t stride;
    int64_t groups; /* concurrent translates */
    bool own_kernels; /* net_group's: no library model */
} net_request;

/* Builds the plan of algo (not AUTO) for the request; USIM_EINPUT when the
 * algorithm does not apply, with the reason. */
usim_status net_plan_build(const net_topo *t, const net_request *rq, net_algo algo,
                           net_plan *plan, usim_error *err);
/* Picks the fastest applicable algorithm by the analytic model; costs[a]
 * is each candidate's analytic time (INFINITY when it does not apply). */
usim_status net_plan_auto(const net_topo *t, const net_request *rq, net_plan *plan,
                          double costs[NET_ALGO_COUNT], usim_error *err);

/* ---- cost models ------------------------------------------------------- */

typedef struct net_cost {
    double seconds, latency_s, bandwidth_s;
    double tier_seconds[NET_TIER_COUNT];
    int64_t busiest_link;
    double busiest_utilisation;
    double peak_link_load; /* flow: max over time and links of load / capacity */
    double bytes_injected; /* sum over every flow of its bytes */
    double link_bytes;     /* sum over every link of the bytes it carried */
    int64_t groups_simulated;
    int64_t flows;
    int protocol; /* net_protocol */
} net_cost;

/* ---- collective library (library.c) ------------------------------------ */

/* True when the system's collective library runs op with algo (NCCL: ring
 * for all-reduce, all-gather and reduce-scatter; tree for all-reduce; mesh,
 * its point-to-point path, for all-to-all where it has a p2p entry). */
bool net_library_runs(const net_topo *t, net_op op, net_algo algo);
/* True when the library's own model times op over s: an op it runs, and an
 * all-to-all only inside one scale-up domain and not on own_kernels. */
bool net_library_times(const net_topo *t, net_op op, const net_sub *s, bool own_kernels);
/* USIM_OK when the library runs NVLS for op over s (an `nvls` entry, one
 * scale-up domain, more than two ranks); else why, in err (field "algo"). */
usim_status net_library_nvls_fits(const net_topo *t, net_op op, const net_sub *s,
                                  usim_error *err);
/* The library's time for op run with algo over s, the fastest protocol:
 * latency from the library's per-step figures, bandwidth time bw_s (the
 * plan's time at the links' sustained rate) over the protocol's
 * efficiency, capped by its bus bandwidth. INFINITY when it does not run. */
double net_library_time(const net_topo *t, net_op op, net_algo algo, const net_sub *s,
                        double bytes, double bw_s, int *protocol, double *latency_s,
                        double *bandwidth_s);

/* How the library's p2p path splits an all-to-all of bytes a rank over
 * ranks: "NCCL's point-to-point path: each peer's 32 MiB on 4 of 32
 * channels, 16 steps of 512 KiB". */
void net_library_p2p_why(const net_topo *t, int ranks, double bytes, char *buf, size_t size);

/* Replaces the plan's alpha-beta cost c (analytic or flow) by the
 * library's, when the library runs the plan's algorithm. */
void net_library_apply(const net_topo *t, const net_plan *plan, const net_request *rq,
                       net_cost *c);

/* Analytic: allocation-free for domains of up to NET_ANALYTIC_CHIPS chips. */
#define NET_ANALYTIC_CHIPS 512
usim_status net_plan_analytic(const net_topo *t, const net_plan *plan, const net_request *rq,
                              net_cost *out, usim_error *err);
double net_phase_analytic(const net_topo *t, const net_phase *ph, int64_t groups,
                          int64_t *bottleneck, double *bytes_out);

/* One collective in a flow-level run. */
typedef struct net_flow_job {
    const net_plan *plan;
    const net_request *rq;
    double start_s;
} net_flow_job;

usim_status net_plan_flow(const net_topo *t, const net_flow_job *jobs, int njobs,
                          net_cost *per_job, net_cost *all, usim_error *err);

#endif
