/* train layer internals: per-op costs (costs.c) used by the step (step.c). */
#ifndef USIM_TRAIN_INTERNAL_H
#define USIM_TRAIN_INTERNAL_H

#include "ultrasim/train.h"

/* The calls a kind of communication is made of: count calls of op moving
 * bytes each on the kind's group; hidden: run beside the work it overlaps
 * (the GEMMs for TP, the attention's later blocks for CP, the whole pass for
 * ZeRO-3's prefetch) rather than in line. s[] holds only what shows. */
typedef struct train_call {
    int op; /* net_op */
    double bytes, count;
    bool hidden;
    int dp_group; /* train_dp_group: which data-parallel group DP traffic runs on */
} train_call;

/* The data-parallel group a DP call runs on: the dense weights' (ZeRO's
 * shard group), the expert weights', or HSDP's replicas of a shard. */
typedef enum { TRAIN_DP_DENSE, TRAIN_DP_EXPERT, TRAIN_DP_REPLICA } train_dp_group;

#define TRAIN_CALLS 6

/* What some work costs one chip, by kind: seconds, and for export the FLOPs
 * and HBM bytes of the compute kinds and the calls of the communication. */
typedef struct train_costs {
    double s[TRAIN_KIND_COUNT];
    double flops[TRAIN_KIND_COUNT], bytes[TRAIN_KIND_COUNT];
    train_call calls[TRAIN_KIND_COUNT][TRAIN_CALLS];
    int ncalls[TRAIN_KIND_COUNT];
    double host_s;   /* the host's time to launch it (stack's figures, before the host's scale) */
    double mlp_s;    /* of the device's time, the MLP blocks' (their all-to-alls aside) */
    bool calls_lost; /* more distinct calls than TRAIN_CALLS (export refuses) */
} train_costs;

/* Adds k times b to a (times, FLOPs, bytes and call counts). */
void train_costs_add(train_costs *a, const train_costs *b, double k);
/* Records count calls of op on kind's group in c (not their time). */
void train_costs_call(train_costs *c, train_kind kind, int op, double bytes, double count,
                      bool hidden);

/* The same for DP traffic, on data-parallel group g (train_dp_group). */
void train_costs_dp_call(train_costs *c, int g, int op, double bytes, double count, bool hidden);

/* Collectives already costed in this step: the same call recurs for every
 * layer, bucket and stage. */
#define TRAIN_MEMO 64
typedef struct train_memo {
    int op, size, stride, per_chip;
    double bytes, seconds;
} train_memo;

typedef struct train_ctx {
    const wl_model *m;
    const wl_plan *p;
    const hw_system *sys;
    const hw_chip *chip;  /* &run_chip */
    hw_chip run_chip;     /* the system's chip at its sustained matrix rates */
    /* The chip as backward FP8 GEMMs see it: Transformer Engine runs dgrad
     * and wgrad with split accumulation (efficiency_fp8_split_acc), the
     * forward with fast accumulation. */
    hw_chip grad_chip;
    double tokens; /* per chip per micro-batch: mbs x seq / cp */
    train_group tp, cp, dp, pp, ep;
    /* Expert data parallelism: the ranks that hold the same experts, TP x
     * CP x DP / (EP x ETP) of them, EP x ETP apart (Megatron-Core's expert
     * rank order tp-ep-dp); expert weights' DP traffic runs over it. */
    train_group edp;
    /* HSDP: the replicas of a ZeRO shard group (dp holds the shard group),
     * shard-group ranks apart; their gradients all-reduced over it. */
    train_group dpr;
    usim_error *err;
    usim_status st; /* the first failure of a collective, sticky */
    bool compute_only; /* cost no communication (for lower bounds) */
    bool replaying;    /* costing the forward a per-op selective policy replays */
    train_memo memo[TRAIN_MEMO];
    int nmemo;
} train_ctx;

/* What each task of a step is made of (for export): task_op[t] indexes
 * ops, the costs of the work task t is part of (-1: none); res[s] are stage
 * s's resources: compute, DP stream, sends forward, sends backward. */
typedef struct train_record {
    train_costs *ops;
    int nops, cap_ops;
    int *task_op;
    int cap_tasks;
    int (*res)[4];
    train_group tp, cp, dp, ep, pp, edp, dpr;
} train_record;

/* train_step, also filling rec (train_record_free after). */
usim_status train_step_recorded(const wl_model *m, const wl_plan *p, const hw_system *sys,
                                train_result *result, sim_graph **graph, train_record *rec,
                                usim_error *err);
void train_record_free(train_record *r);

/* With EP overlap a forward chunk runs beside a backward one and each
 * all-to-all beside the other's attention or MLP blocks: only what outlasts
 * its partner stays exposed, and while it runs its kernels hold `held` of
 * the chip's cores (whole chunk passes, as the step and its export run
 * them). */
void train_hide_ep(train_costs *fwd, train_costs *bwd, double held);

/* The share of a GPU's SMs an overlapped all-to-all's kernels hold (the
 * stack's ep_comm_sms); Trainium's collectives run on their own cores. */
double train_ep_comm_held(const train_ctx *x);

train_costs train_layer_costs(train_ctx *x, bool moe, bool backward);
train_costs train_embedding_costs(train_ctx *x, bool backward);
train_costs train_head_costs(train_ctx *x, bool backward);
train_costs train_mtp_costs(train_ctx *x, bool backward);
train_costs train_optimizer_costs(const train_ctx *x, double params);

/* A copy kernel over `elements` values moving `bytes` each through HBM,
 * added to c as elementwise work. */
void train_copy_costs(const train_ctx *x, train_costs *c, double elements, double bytes);
double train_collective_s(train_ctx *x, net_op op, double bytes, const train_group *g);

#endif
