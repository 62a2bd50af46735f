/* train layer internals: per-op costs (costs.c) used by the step (step.c). */
#ifndef USIM_TRAIN_INTERNAL_H
#define USIM_TRAIN_INTERNAL_H

#include "ultrasim/train.h"

typedef struct train_costs {
    double s[TRAIN_KIND_COUNT];
} train_costs;

/* Collectives already costed in this step: the same call recurs for every
 * layer, bucket and stage. */
#define TRAIN_MEMO 64
typedef struct train_memo {
    int op, size, stride;
    double bytes, seconds;
} train_memo;

typedef struct train_ctx {
    const wl_model *m;
    const wl_plan *p;
    const hw_system *sys;
    const hw_chip *chip;
    /* The chip as backward FP8 GEMMs see it: Transformer Engine runs dgrad
     * and wgrad with split accumulation (efficiency_fp8_split_acc), the
     * forward with fast accumulation. */
    hw_chip grad_chip;
    double tokens; /* per chip per micro-batch: mbs x seq / cp */
    train_group tp, cp, dp, pp, ep;
    usim_error *err;
    usim_status st; /* the first failure of a collective, sticky */
    bool compute_only; /* cost no communication (for lower bounds) */
    train_memo memo[TRAIN_MEMO];
    int nmemo;
} train_ctx;

train_costs train_layer_costs(train_ctx *x, bool moe, bool backward);
train_costs train_embedding_costs(train_ctx *x, bool backward);
train_costs train_head_costs(train_ctx *x, bool backward);
double train_optimizer_s(const train_ctx *x, double params);
double train_collective_s(train_ctx *x, net_op op, double bytes, const train_group *g);

#endif
