/*
 * Names of collectives, algorithms, cost models and link tiers, and the
 * nccl-tests bus-bandwidth factor that turns algorithm bandwidth (size /
 * time) into a figure comparable with link speed across ranks counts
 * (nccl-tests doc/PERFORMANCE.md):
 *
 *   all-reduce                 busbw = algbw x 2(p-1)/p
 *   reduce-scatter, all-gather busbw = algbw x (p-1)/p
 *   all-to-all                 busbw = algbw x (p-1)/p
 *   broadcast, reduce, send/recv busbw = algbw
 */
#include <string.h>

#include "net/internal.h"

static const char *const OP_NAMES[NET_OP_COUNT] = {
    "allreduce", "reducescatter", "allgather", "alltoall", "broadcast", "reduce", "sendrecv"};

static const char *const ALGO_NAMES[NET_ALGO_COUNT] = {
    "auto", "ring", "ring2", "tree", "rhd", "mesh", "torus", "hier", "neuron", "nvls"};

static const char *const MODEL_NAMES[] = {"analytic", "flow"};

static const char *const TIER_NAMES[NET_TIER_COUNT] = {"node", "domain", "scaleout"};

static const char *const LAUNCH_NAMES[NET_LAUNCH_COUNT] = {"async", "blocking"};

const char *net_op_name(net_op op)
{
    return op >= 0 && op < NET_OP_COUNT ? OP_NAMES[op] : "?";
}

const char *net_algo_name(net_algo algo)
{
    return algo >= 0 && algo < NET_ALGO_COUNT ? ALGO_NAMES[algo] : "?";
}

const char *net_model_name(net_model model)
{
    return model == NET_MODEL_FLOW ? MODEL_NAMES[1] : MODEL_NAMES[0];
}

const char *net_protocol_name(net_protocol proto)
{
    static const char *const NAMES[NET_PROTO_COUNT] = {"none", "LL", "LL128", "Simple"};
    return proto >= 0 && proto < NET_PROTO_COUNT ? NAMES[proto] : "?";
}

const char *net_tier_name(net_tier tier)
{
    return tier >= 0 && tier < NET_TIER_COUNT ? TIER_NAMES[tier] : "?";
}

const char *net_launch_name(net_launch launch)
{
    return launch >= 0 && launch < NET_LAUNCH_COUNT ? LAUNCH_NAMES[launch] : "?";
}

bool net_launch_parse(const char *name, net_launch *out)
{
    for (int i = 0; i < NET_LAUNCH_COUNT; i++) {
        if (strcmp(name, LAUNCH_NAMES[i]) == 0) {
            *out = (net_launch)i;
            return true;
        }
    }
    return false;
}

/* Aliases accepted on input besides the canonical names. */
static const struct {
    const char *alias;
    int value;
} OP_ALIASES[] = {{"all-reduce", NET_ALLREDUCE},       {"reduce-scatter", NET_REDUCE_SCATTER},
                  {"reduce_scatter", NET_REDUCE_SCATTER}, {"all-gather", NET_ALLGATHER},
                  {"all-to-all", NET_ALLTOALL},        {"send-recv", NET_SENDRECV},
                  {"bcast", NET_BROADCAST}};

bool net_op_parse(const char *name, net_op *out)
{
    for (int i = 0; i < NET_OP_COUNT; i++) {
        if (strcmp(name, OP_NAMES[i]) == 0) {
            *out = (net_op)i;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof OP_ALIASES / sizeof OP_ALIASES[0]; i++) {
        if (strcmp(name, OP_ALIASES[i].alias) == 0) {
            *out = (net_op)OP_ALIASES[i].value;
            return true;
        }
    }
    return false;
}

bool net_algo_parse(const char *name, net_algo *out)
{
    for (int i = 0; i < NET_ALGO_COUNT; i++) {
        if (strcmp(name, ALGO_NAMES[i]) == 0) {
            *out = (net_algo)i;
            return true;
        }
    }
    if (strcmp(name, "ring_bidir") == 0 || strcmp(name, "bidir") == 0) {
        *out = NET_ALGO_RING_BIDIR;
        return true;
    }
    return false;
}

bool net_model_parse(const char *name, net_model *out)
{
    for (int i = 0; i < 2; i++) {
        if (strcmp(name, MODEL_NAMES[i]) == 0) {
            *out = i ? NET_MODEL_FLOW : NET_MODEL_ANALYTIC;
            return true;
        }
    }
    return false;
}

double net_bus_factor(net_op op, int p)
{
    if (p < 1)
        return 0.0;
    switch (op) {
    case NET_ALLREDUCE:
        return 2.0 * (p - 1) / p;
    case NET_REDUCE_SCATTER:
    case NET_ALLGATHER:
    case NET_ALLTOALL:
        return (double)(p - 1) / p;
    case NET_BROADCAST:
    case NET_REDUCE:
    case NET_SENDRECV:
    case NET_OP_COUNT:
        break;
    }
    return 1.0;
}
