/*
 * How fast the net layer answers. The issue asks for analytic costs in
 * microseconds (the training simulator calls net_collective thousands of
 * times a step), a flow-level all-reduce over 65,536 chips in under 1 s and
 * 1 GiB, and an all-to-all over 4,096 chips in under 5 s. Run by
 * `make bench`; results go to bench/RESULTS.md by hand.
 *
 *   bench_net [SECONDS_PER_ANALYTIC_CASE]    (default 0.5)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ultrasim/hw.h"
#include "ultrasim/net.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)
/* count ranks, stride apart, in groups at once: async, the library's kernels */
#define GROUP(count, stride, groups) {count, stride, groups, 0, NET_LAUNCH_ASYNC, false}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double peak_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static hw_system *load(const char *name, int chips)
{
    hw_system *s = calloc(1, sizeof *s);
    usim_error err;
    usim_error_clear(&err);
    if (!s || hw_load_system(name, chips, NULL, s, &err) != USIM_OK) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        exit(1);
    }
    return s;
}

typedef struct bcase {
    const char *hw;
    int chips;
    net_op op;
    double bytes;
    net_group group;
    net_algo algo;
    const char *label;
} bcase;

/* One call per size from 8 B to 16 GiB, as `collective --sweep` makes them:
 * the sizes share the topology, and the algorithms change with the size. */
static double sweep_us(const bcase *c, hw_system *s)
{
    net_result r;
    usim_error err;
    usim_error_clear(&err);
    int calls = 0;
    double t0 = now_s();
    for (double b = 8; b <= 16 * GIB; b *= 2, calls++)
        if (net_collective(s, c->op, b, c->group, c->algo, NET_MODEL_ANALYTIC, &r, &err) !=
            USIM_OK) {
            fprintf(stderr, "%s: %s\n", c->label, err.message);
            exit(1);
        }
    return (now_s() - t0) / calls * 1e6;
}

static void analytic_case(const bcase *c, double budget_s)
{
    hw_system *s = load(c->hw, c->chips);
    net_result r;
    usim_error err;
    usim_error_clear(&err);
    double sweep = sweep_us(c, s);
    long calls = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < budget_s) {
        for (int i = 0; i < 16; i++, calls++)
            if (net_collective(s, c->op, c->bytes, c->group, c->algo, NET_MODEL_ANALYTIC, &r,
                               &err) != USIM_OK) {
                fprintf(stderr, "%s: %s\n", c->label, err.message);
                exit(1);
            }
        t = now_s();
    }
    printf("  %-58s %7.1f us/call over sizes, %7.1f us again   (%s, %.3g ms)\n", c->label,
           sweep, (t - t0) / calls * 1e6, net_algo_name(r.algorithm), r.seconds * 1e3);
    free(s);
}

static void flow_case(const bcase *c)
{
    hw_system *s = load(c->hw, c->chips);
    net_result r;
    usim_error err;
    usim_error_clear(&err);
    double t0 = now_s();
    if (net_collective(s, c->op, c->bytes, c->group, c->algo, NET_MODEL_FLOW, &r, &err) !=
        USIM_OK) {
        fprintf(stderr, "%s: %s\n", c->label, err.message);
        exit(1);
    }
    double wall = now_s() - t0;
    printf("  %-58s %8.3f s wall, peak RSS %6.0f MiB   (%s, %.3g ms, %lld flows, %lld "
           "group(s) simulated)\n",
           c->label, wall, peak_rss_mib(), net_algo_name(r.algorithm), r.seconds * 1e3,
           r.flows, r.groups_simulated);
    free(s);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.5;
    const bcase analytic[] = {
        {"dgx-h100", 8, NET_ALLREDUCE, 1 * GIB, GROUP(8, 1, 1), NET_ALGO_RING,
         "dgx-h100, 8 GPUs, all-reduce 1 GiB, ring"},
        {"dgx-h100", 8, NET_ALLREDUCE, 1 * GIB, GROUP(8, 1, 1), NET_ALGO_AUTO,
         "dgx-h100, 8 GPUs, all-reduce 1 GiB, auto"},
        {"dgx-h100", 1024, NET_ALLREDUCE, 1 * MIB, GROUP(1024, 1, 1),
         NET_ALGO_AUTO, "dgx-h100, 1,024 GPUs, all-reduce 1 MiB, auto"},
        {"p5.48xlarge", 1024, NET_ALLREDUCE, 1 * GIB, GROUP(1024, 1, 1),
         NET_ALGO_AUTO, "p5, 1,024 GPUs over EFA, all-reduce 1 GiB, auto"},
        {"trn2.48xlarge", 16, NET_ALLREDUCE, 1 * MIB, GROUP(16, 1, 1),
         NET_ALGO_AUTO, "trn2, 16 chips, all-reduce 1 MiB, auto"},
        {"trn2u.48xlarge", 64, NET_ALLREDUCE, 1 * GIB, GROUP(64, 1, 1),
         NET_ALGO_AUTO, "trn2u, 64 chips, all-reduce 1 GiB, auto"},
        {"trn2u.48xlarge", 1024, NET_ALLREDUCE, 1 * GIB, GROUP(1024, 1, 1),
         NET_ALGO_AUTO, "trn2u, 1,024 chips, all-reduce 1 GiB, auto"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(16, 1, 8192),
         NET_ALGO_AUTO, "trn2u, 131,072 chips, TP=16 all-reduce, auto"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(2048, 64, 64),
         NET_ALGO_RING, "trn2u, 131,072 chips, DP=2048 (stride 64) all-reduce, ring"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(2048, 64, 64),
         NET_ALGO_AUTO, "trn2u, 131,072 chips, DP=2048 (stride 64) all-reduce, auto"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(131072, 1, 1),
         NET_ALGO_RING, "trn2u, 131,072 chips, one all-reduce, ring"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(131072, 1, 1),
         NET_ALGO_AUTO, "trn2u, 131,072 chips, one all-reduce, auto"},
        {"dgx-h100", 131072, NET_ALLTOALL, 256 * MIB, GROUP(64, 1, 2048),
         NET_ALGO_AUTO, "dgx-h100, 131,072 GPUs, EP=64 all-to-all, auto"},
    };
    const bcase flow[] = {
        {"trn2u.48xlarge", 65536, NET_ALLREDUCE, 1 * GIB, GROUP(65536, 1, 1),
         NET_ALGO_AUTO, "trn2u, 65,536 chips (1,024 UltraServers), all-reduce, auto"},
        {"trn2u.48xlarge", 65536, NET_ALLREDUCE, 1 * GIB, GROUP(65536, 1, 1),
         NET_ALGO_RING_BIDIR, "trn2u, 65,536 chips, all-reduce, flat ring2 (64 channels)"},
        {"trn2u.48xlarge", 4096, NET_ALLTOALL, 1 * GIB, GROUP(4096, 1, 1),
         NET_ALGO_MESH, "trn2u, 4,096 chips, all-to-all, mesh"},
        {"trn2u.48xlarge", 4096, NET_ALLTOALL, 1 * GIB, GROUP(4096, 1, 1),
         NET_ALGO_RHD, "trn2u, 4,096 chips, all-to-all, Bruck"},
        {"dgx-h100", 4096, NET_ALLTOALL, 1 * GIB, GROUP(4096, 1, 1), NET_ALGO_MESH,
         "dgx-h100, 4,096 GPUs, all-to-all, mesh"},
        {"trn2u.48xlarge", 8192, NET_ALLREDUCE, 1 * GIB, GROUP(64, 128, 128),
         NET_ALGO_RING, "trn2u, 8,192 chips, 128 DP groups across the spine, ring"},
        {"dgx-h100", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(131072, 1, 1),
         NET_ALGO_AUTO, "dgx-h100, 131,072 GPUs, all-reduce, auto"},
        {"trn2u.48xlarge", 131072, NET_ALLREDUCE, 1 * GIB, GROUP(131072, 1, 1),
         NET_ALGO_AUTO, "trn2u, 131,072 chips, all-reduce, auto"},
    };
    printf("bench_net: analytic model (%.2g s per case)\n", budget);
    for (size_t i = 0; i < sizeof analytic / sizeof analytic[0]; i++)
        analytic_case(&analytic[i], budget);
    printf("bench_net: flow model (one run each; RSS is the process's peak so far)\n");
    for (size_t i = 0; i < sizeof flow / sizeof flow[0]; i++)
        flow_case(&flow[i]);
    return 0;
}
