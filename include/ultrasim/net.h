/*
 * ultrasim net layer: how long collectives take, alone and when they share links.
 *
 * Chips are numbered domain-major: chip i sits in node i / chips_per_node,
 * scale-up domain i / chips_per_domain. A group of ranks is described by its
 * size and the stride between consecutive members (TP groups are contiguous,
 * stride 1; DP groups of a TP x PP x DP layout have stride TP x PP). The
 * system's chips are partitioned into `concurrent` such groups running the
 * same collective at once (their translates), so traffic from all of them
 * shares the links it crosses.
 *
 * Two cost models answer the same call:
 *   - analytic: alpha-beta with per-algorithm step counts and per-hop latency;
 *   - flow: every transfer is a flow over the links of its route, bandwidth
 *     shared max-min fairly and recomputed at each flow start and finish.
 */
#ifndef ULTRASIM_NET_H
#define ULTRASIM_NET_H

#include "ultrasim/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum net_op {
    NET_ALLREDUCE,
    NET_REDUCE_SCATTER,
    NET_ALLGATHER,
    NET_ALLTOALL,
    NET_BROADCAST,
    NET_REDUCE,
    NET_SENDRECV,
    NET_OP_COUNT
} net_op;

typedef enum net_algo {
    NET_ALGO_AUTO,
    NET_ALGO_RING,       /* one direction */
    NET_ALGO_RING_BIDIR, /* both directions, half the data each way */
    NET_ALGO_TREE,       /* double binary tree */
    NET_ALGO_RHD,        /* recursive halving-doubling */
    NET_ALGO_MESH,       /* direct: every rank to every rank */
    NET_ALGO_TORUS,      /* dimension by dimension on a torus */
    NET_ALGO_HIER,       /* inside the scale-up domain, then across it */
    NET_ALGO_COUNT
} net_algo;

typedef enum net_model { NET_MODEL_ANALYTIC, NET_MODEL_FLOW } net_model;

const char *net_op_name(net_op op);
const char *net_algo_name(net_algo algo);
bool net_op_parse(const char *name, net_op *out);
bool net_algo_parse(const char *name, net_algo *out);

typedef struct net_group {
    int size;       /* ranks */
    int stride;     /* chip distance between consecutive members; 1 = contiguous */
    int concurrent; /* identical groups running at once; 1 = alone */
} net_group;

/* Where a collective's time went, by the tier of links it crossed. */
typedef enum net_tier { NET_TIER_NODE, NET_TIER_DOMAIN, NET_TIER_SCALEOUT, NET_TIER_COUNT } net_tier;

typedef struct net_result {
    double seconds;
    double algbw_bytes_per_s; /* nccl-tests: size / time */
    double busbw_bytes_per_s; /* algbw x the op's bus factor, e.g. 2(p-1)/p */
    net_algo algorithm;
    char why[256];            /* why auto picked it */
    double tier_seconds[NET_TIER_COUNT];
    char busiest_link[96];
    double busiest_link_utilisation; /* 0..1, flow model */
} net_result;

/* bytes follow nccl-tests: the per-rank buffer for all-reduce, broadcast and
 * reduce; the whole gathered (all-gather) or scattered (reduce-scatter)
 * buffer; the per-rank send buffer for all-to-all; the message for
 * send/recv. */
usim_status net_collective(const hw_system *sys, net_op op, double bytes, net_group group,
                           net_algo algo, net_model model, net_result *out, usim_error *err);

/* The nccl-tests bus-bandwidth factor of op over p ranks. */
double net_bus_factor(net_op op, int p);

#ifdef __cplusplus
}
#endif
#endif
