/*
 * ultrasim train layer: one training step of a model on a system under a
 * parallel plan, simulated, and what follows from it.
 *
 * Every chip of a pipeline stage does the same work, so one representative
 * chip per stage is simulated (a TP, CP, DP and EP rank stands for all its
 * peers); the stages run against each other on the discrete-event core, so
 * pipeline bubbles and exposed communication come out of the timeline. What
 * this assumes: identical chips and links, balanced experts, no stragglers
 * (docs/training.md).
 */
#ifndef ULTRASIM_TRAIN_H
#define ULTRASIM_TRAIN_H

#include "ultrasim/hw.h"
#include "ultrasim/net.h"
#include "ultrasim/sim.h"
#include "ultrasim/workload.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a piece of a step's time is spent on. */
typedef enum train_kind {
    TRAIN_GEMM,        /* matrix multiplies: projections, MLPs, experts, LM head */
    TRAIN_ATTENTION,   /* the attention core (QK^T, softmax, PV) */
    TRAIN_ELEMENTWISE, /* norms, activations, residuals, embedding, loss */
    TRAIN_OPTIMIZER,   /* the Adam update */
    TRAIN_HOST,        /* the device waiting on the host to launch a pass's kernels */
    TRAIN_OFFLOAD,     /* the device waiting on activations copied to or from host memory */
    TRAIN_TP_COMM,     /* tensor (and sequence) parallel collectives */
    TRAIN_CP_COMM,     /* context parallel key/value exchange */
    TRAIN_EP_COMM,     /* expert parallel all-to-all */
    TRAIN_PP_COMM,     /* pipeline sends between stages */
    TRAIN_DP_COMM,     /* data parallel gradient and parameter collectives */
    TRAIN_KIND_COUNT
} train_kind;

const char *train_kind_name(train_kind k);

/* Where a group's traffic flows. */
typedef struct train_group {
    int size, stride;
    net_tier tier;
} train_group;

typedef struct train_result {
    double step_time_s;
    double tokens_per_step;
    double tokens_per_s, tokens_per_s_per_chip;
    double model_flops_per_step;    /* 6N + attention, no recompute */
    double hardware_flops_per_step; /* with recompute */
    double model_tflops_per_chip;
    double mfu, hfu;
    double peak_flops_per_chip;     /* of the plan's dtype, the basis of MFU */
    wl_memory memory;
    double hbm_bytes_per_chip;
    bool fits;
    /* Time per step on the busiest pipeline stage, by kind: compute kinds are
     * busy time, communication kinds the part no compute covers. */
    double busy_s[TRAIN_KIND_COUNT];
    double exposed_s[TRAIN_KIND_COUNT];
    double bubble_s;                /* the stage idle, waiting on others */
    int critical_stage;
    int64_t microbatches;
    train_group tp, cp, dp, pp, ep;
    train_group edp;                /* expert data parallel: expert weights' DP traffic */
    train_group dpr;                /* HSDP: the replicas of a ZeRO shard group (size 1: none) */
    int tasks;                      /* simulated tasks */
} train_result;

/* Whether a step of plan p can run at all (the plan against the model and
 * the chips, the dtype on the matrix units, offload against host memory);
 * train_step asks it first. */
usim_status train_check(const wl_model *m, const wl_plan *p, const hw_system *sys,
                        usim_error *err);

/* Simulates one step. When trace is not NULL it receives the step's graph
 * (caller frees with sim_graph_free). A plan that does not fit in HBM is not
 * an error here: result->fits says so. */
usim_status train_step(const wl_model *m, const wl_plan *p, const hw_system *sys,
                       train_result *result, sim_graph **trace, usim_error *err);

/* A lower bound on the step time: the busiest stage's compute alone (no
 * communication, no bubble). Cheap: for pruning plan searches. */
/* What an export wrote. */
typedef struct train_export {
    int files;           /* rank files */
    int64_t nodes;       /* nodes in all of them */
    double step_time_s;  /* the step it describes */
} train_export;

/* Writes the step as Chakra execution traces (ultrasim/chakra.h):
 * PREFIX.<rank>.et for every rank, or with every_rank false for the first
 * rank of each pipeline stage (its peers do the same work), and
 * PREFIX.comm_group.json. All files appear together or none do. */
usim_status train_export_et(const wl_model *m, const wl_plan *p, const hw_system *sys,
                            const char *prefix, bool every_rank, train_export *out,
                            usim_error *err);

double train_step_lower_bound(const wl_model *m, const wl_plan *p, const hw_system *sys);

/* Time, energy and cost to train `tokens` tokens at the simulated rate:
 * energy at the chips' typical power (hosts, network and cooling excluded). */
typedef struct train_totals {
    double steps, seconds, energy_kwh, cost_usd;
} train_totals;

train_totals train_totals_for(const train_result *r, const hw_system *sys, double tokens);

#ifdef __cplusplus
}
#endif
#endif
