/*
 * ultrasim net layer: how long collectives take, alone and when they share links.
 *
 * Chips are numbered domain-major: chip i sits in node i / chips_per_node,
 * scale-up domain i / chips_per_domain; inside a node, chip index maps to
 * torus coordinates row-major (last dimension fastest). A group of ranks is
 * described by its size p and the stride s between consecutive members (TP
 * groups are contiguous, stride 1; DP groups of a TP x PP x DP layout have
 * stride TP x PP). Group g (g = 0 .. concurrent-1) is the translate
 *     rank j of group g = chip (g / s) * p * s + (g % s) + j * s,
 * i.e. offsets 0..s-1 first, then the next block of p * s chips; all
 * p * s * ceil(groups / s) chips must exist. `concurrent` = chips / p runs the
 * collective on every chip at once, so traffic from all groups shares the
 * links it crosses. Groups must sit the same way in every node and scale-up
 * domain they touch (p * s divides, or is a multiple of, the node and the
 * domain size).
 *
 * Two cost models answer the same call:
 *   - analytic: alpha-beta with per-algorithm step counts and per-hop latency;
 *   - flow: every transfer is a flow over the links of its route, bandwidth
 *     shared max-min fairly and recomputed at each flow start and finish.
 * The analytic model sees one representative group with the other groups
 * that share its scale-up domain or its pod's uplinks; it does not see other
 * collectives running at the same time (net_collectives_flow does). With a
 * named algorithm it costs microseconds at any scale and allocates nothing
 * for domains up to 512 chips; NET_ALGO_AUTO costs every applicable plan
 * (up to ~1.5 ms for one group of 131,072 chips), so a caller asking for the
 * same collective many times should reuse the algorithm it picked
 * (net_result.algorithm). See docs/net.md.
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
    NET_ALGO_NEURON,     /* Neuron's documented choice: mesh < 1 MB, RDH < 56 MB, ring */
    NET_ALGO_NVLS,       /* NVLink SHARP: the NVSwitch reduces (collective library) */
    NET_ALGO_COUNT
} net_algo;

typedef enum net_model { NET_MODEL_ANALYTIC, NET_MODEL_FLOW } net_model;

/* The collective library's protocol (NCCL's LL, LL128, Simple); NONE when
 * the system names no library or the library does not run the algorithm. */
typedef enum net_protocol {
    NET_PROTO_NONE,
    NET_PROTO_LL,
    NET_PROTO_LL128,
    NET_PROTO_SIMPLE,
    NET_PROTO_COUNT
} net_protocol;

const char *net_protocol_name(net_protocol proto);

const char *net_op_name(net_op op);
const char *net_algo_name(net_algo algo);
bool net_op_parse(const char *name, net_op *out);
bool net_algo_parse(const char *name, net_algo *out);

/* How the caller launches the collective. ASYNC: back to back without waiting
 * (nccl-tests' default, and how training streams its collectives), so the
 * host's per-call cost hides behind the device time. BLOCKING: the caller
 * waits for each call (a torch.distributed loop timing every all_reduce), so
 * the time adds the library's blocking_call_overhead. */
typedef enum net_launch { NET_LAUNCH_ASYNC, NET_LAUNCH_BLOCKING, NET_LAUNCH_COUNT } net_launch;

const char *net_launch_name(net_launch launch);
bool net_launch_parse(const char *name, net_launch *out);

typedef struct net_group {
    int size;       /* ranks */
    int stride;     /* chip distance between consecutive members; 1 = contiguous */
    int concurrent; /* identical groups running at once; 1 = alone */
    /* Ranks on each chip (Trainium NeuronCores, one per logical core);
     * 0 or 1: a rank is a chip. With c > 1, size counts ranks, a multiple of
     * c, and stride and concurrent still count chips. */
    int ranks_per_chip;
    net_launch launch; /* ASYNC (0) unless set */
    /* The caller moves the data with its own kernels (DeepEP's all-to-all),
     * not the system's collective library: the links' rate, no library model. */
    bool own_kernels;
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
    /* Added fields. */
    int ranks;                  /* group size */
    net_model model;
    double latency_seconds;     /* analytic: sum of per-step latencies */
    double bandwidth_seconds;   /* analytic: sum of bytes / bottleneck rate */
    double peak_link_load;      /* flow: max over time and links of load / capacity */
    double bytes_injected;      /* every flow's bytes, all groups */
    double link_bytes;          /* every link's bytes, all groups (bytes x hops) */
    long long groups_simulated; /* flow: groups simulated (symmetry), else groups */
    long long flows;            /* flow: transfers placed on routes */
    char notes[256];            /* e.g. Clos tiers added to fit the chips */
    net_protocol protocol;      /* analytic: the library's fastest protocol */
    double launch_seconds;      /* BLOCKING: the host's per-call path, in seconds and latency */
    net_algo intra;             /* Neuron's rule inside one node: what it picked (else the
                                   algorithm) */
} net_result;

/* bytes follow nccl-tests: the per-rank buffer for all-reduce, broadcast and
 * reduce; the whole gathered (all-gather) or scattered (reduce-scatter)
 * buffer; the per-rank send buffer for all-to-all; the message for
 * send/recv. */
usim_status net_collective(const hw_system *sys, net_op op, double bytes, net_group group,
                           net_algo algo, net_model model, net_result *out, usim_error *err);

/* The nccl-tests bus-bandwidth factor of op over p ranks. */
double net_bus_factor(net_op op, int p);

const char *net_model_name(net_model model);
bool net_model_parse(const char *name, net_model *out);
const char *net_tier_name(net_tier tier);

/* One collective of a concurrent set. */
typedef struct net_job {
    net_op op;
    double bytes;
    net_group group;
    net_algo algo;
    double start_s; /* when it starts, from the start of the run */
} net_job;

/* Runs several collectives at once through the flow model (for example a
 * tensor-parallel all-reduce inside nodes while a data-parallel one crosses
 * the spine): out[i] is job i's result (its time counted from its start);
 * combined, when not NULL, spans the whole run with its busiest link. Every
 * job's group launches ASYNC (start_s places it). */
usim_status net_collectives_flow(const hw_system *sys, const net_job *jobs, int njobs,
                                 net_result *out, net_result *combined, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
