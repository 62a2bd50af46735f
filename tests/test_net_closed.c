/*
 * The net layer against closed forms derived by hand:
 *
 *   ring all-reduce t = 2(p-1) a + 2(p-1)/p n / B            (Thakur et al. 2005)
 *   recursive halving-doubling t = 2 log2(p) a + 2(p-1)/p n / B
 *   double binary tree t = 2 floor(log2 p) a + 2 n / B
 *   direct (mesh) t = 2 a + 2(p-1)/p n / B on a switch
 *   2D torus, dimension by dimension: 2 sum(k-1) steps, all 4 links busy
 *
 * on small hand-made systems whose a and B are round numbers, and on the
 * presets; plus the properties: bus bandwidth tends to the link, latency
 * dominates tiny messages, a 2:1 spine halves cross-spine bandwidth, bytes
 * are conserved, no link is loaded past its capacity.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/hw.h"
#include "ultrasim/net.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

/* 8 chips on a bidirectional ring of 100 GB/s links each way, 1 us a hop. */
static const char *RING8 =
    "{\"kind\":\"system\",\"name\":\"ring8\",\"chip\":\"trn2\",\"node\":{\"chips\":8,"
    "\"topology\":{\"kind\":\"ring\"},\"bandwidth_per_chip\":\"200GB/s\",\"bidirectional\":false,"
    "\"links_per_chip\":2,\"hop_latency\":\"1us\",\"nic_bandwidth_per_chip\":\"100Gbps\"},"
    "\"network\":\"ib-ndr\"}";

/* 8 single-chip nodes, 100 Gb/s NICs, a 2-tier fabric of radix-4 switches
 * (2 chips per leaf), oversubscribed OVERSUB:1 at the spine. */
static const char *CLOS8 =
    "{\"kind\":\"system\",\"name\":\"clos8\",\"chip\":\"trn2\",\"node\":{\"chips\":1,"
    "\"topology\":{\"kind\":\"none\"},\"bandwidth_per_chip\":0,\"hop_latency\":\"1us\","
    "\"nic_bandwidth_per_chip\":\"100Gbps\"},\"network\":{\"kind\":\"network\",\"name\":\"t2\","
    "\"tiers\":2,\"radix\":4,\"port_bandwidth\":\"100Gbps\",\"tier_latency\":[\"1us\",\"2us\"],"
    "\"oversubscription\":%d,\"endpoint_latency\":\"3us\"}}";

static hw_system *load_text(const char *text, int chips)
{
    hw_system *s = calloc(1, sizeof *s);
    usim_error err;
    usim_error_clear(&err);
    if (hw_load_system_text("test", text, chips, NULL, s, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return s;
}

static net_result run(const hw_system *s, net_op op, double bytes, net_group g, net_algo a,
                      net_model m)
{
    net_result r;
    usim_error err;
    usim_error_clear(&err);
    if (net_collective(s, op, bytes, g, a, m, &r, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return r;
}

static const net_group ALL8 = {8, 1, 1, 0, NET_LAUNCH_ASYNC, false};

/* Ring all-reduce on a ring: t = 2(p-1) a + 2(p-1)/p n / B, both models. */
static void ring_allreduce_closed_form(void **state)
{
    (void)state;
    hw_system *s = load_text(RING8, 0);
    double n = 1 * GIB, a = 1e-6, B = 100e9, p = 8;
    double expect = 2 * (p - 1) * a + 2 * (p - 1) / p * n / B;
    net_result an = run(s, NET_ALLREDUCE, n, ALL8, NET_ALGO_RING, NET_MODEL_ANALYTIC);
    net_result fl = run(s, NET_ALLREDUCE, n, ALL8, NET_ALGO_RING, NET_MODEL_FLOW);
    assert_close(an.seconds, expect, 1e-12);
    assert_close(fl.seconds, expect, 1e-9);
    assert_close(an.latency_seconds, 14e-6, 1e-12);
    /* Both directions: half the data each way doubles the bandwidth. */
    net_result bi = run(s, NET_ALLREDUCE, n, ALL8, NET_ALGO_RING_BIDIR, NET_MODEL_FLOW);
    assert_close(bi.seconds, 2 * (p - 1) * a + 2 * (p - 1) / p * n / (2 * B), 1e-9);
    /* Reduce-scatter and all-gather: half of it. */
    net_result rs = run(s, NET_REDUCE_SCATTER, n, ALL8, NET_ALGO_RING, NET_MODEL_FLOW);
    assert_close(rs.seconds, (p - 1) * a + (p - 1) / p * n / B, 1e-9);
    free(s);
}

/* busbw = algbw x 2(p-1)/p approaches B as n grows; every size is slower
 * than the bandwidth alone. */
static void busbw_tends_to_link_bandwidth(void **state)
{
    (void)state;
    hw_system *s = load_text(RING8, 0);
    double last = 0.0;
    for (double n = 1024; n <= 8 * GIB; n *= 8) {
        net_result r = run(s, NET_ALLREDUCE, n, ALL8, NET_ALGO_RING, NET_MODEL_ANALYTIC);
        assert_close(r.busbw_bytes_per_s, r.algbw_bytes_per_s * 1.75, 1e-12);
        assert_true(r.busbw_bytes_per_s > last);
        assert_true(r.busbw_bytes_per_s < 100e9);
        last = r.busbw_bytes_per_s;
    }
    assert_close(last, 100e9, 1e-3);
    free(s);
}

/* 8 bytes: the time is the 14 step latencies, to 1e-4. */
static void latency_dominates_tiny_messages(void **state)
{
    (void)state;
    hw_system *s = load_text(RING8, 0);
    net_result r = run(s, NET_ALLREDUCE, 8, ALL8, NET_ALGO_RING, NET_MODEL_ANALYTIC);
    assert_close(r.seconds, 14e-6, 1e-4);
    assert_true(r.latency_seconds > 0.999 * r.seconds);
    free(s);
}

/* DGX H100: 8 GPUs on NVSwitch at 450 GB/s x 0.822 = 369.9 GB/s a GPU,
 * 2.4 us a step: ring, rhd, tree and mesh by their closed forms. The plain
 * alpha-beta model: without the preset's collective library (NCCL's own
 * latencies and protocols, tests/test_net_library.c). */
static void switch_closed_forms(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h100", 0);
    s->collective_library.name[0] = '\0';
    double n = 256 * MIB, a = 2.4e-6, B = 450e9 * 0.822, p = 8;
    struct {
        net_algo algo;
        double expect;
    } cases[] = {
        {NET_ALGO_RING, 2 * (p - 1) * a + 2 * (p - 1) / p * n / B},
        {NET_ALGO_RHD, 2 * 3 * a + 2 * (p - 1) / p * n / B},
        {NET_ALGO_TREE, 2 * 3 * a + 2 * n / B},
        {NET_ALGO_MESH, 2 * a + 2 * (p - 1) / p * n / B},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_result an = run(s, NET_ALLREDUCE, n, ALL8, cases[i].algo, NET_MODEL_ANALYTIC);
        net_result fl = run(s, NET_ALLREDUCE, n, ALL8, cases[i].algo, NET_MODEL_FLOW);
        assert_close(an.seconds, cases[i].expect, 1e-9);
        assert_close(fl.seconds, cases[i].expect, 1e-9);
    }
    free(s);
}

/* A trn2 instance: 4x4 torus, 128 GB/s per link and direction, 1.5 us a hop.
 * Dimension by dimension, 2 parts: 4 phases of 3 steps; each phase keeps all
 * 4 links of a chip busy, so the bandwidth term is 2(p-1)/p n / 512 GB/s. */
static void torus_closed_form(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 0);
    net_group g = {16, 1, 1, 0, NET_LAUNCH_ASYNC, false};
    double n = 1 * GIB;
    double expect = 4 * 3 * 1.5e-6 + 2 * 15.0 / 16 * n / 512e9;
    net_result an = run(s, NET_ALLREDUCE, n, g, NET_ALGO_TORUS, NET_MODEL_ANALYTIC);
    net_result fl = run(s, NET_ALLREDUCE, n, g, NET_ALGO_TORUS, NET_MODEL_FLOW);
    assert_close(an.seconds, expect, 1e-9);
    assert_close(fl.seconds, expect, 1e-9);
    /* The ring on two edge-disjoint Hamiltonian cycles, both directions, also
     * uses all 4 links, with 30 steps. */
    net_result ring = run(s, NET_ALLREDUCE, n, g, NET_ALGO_RING_BIDIR, NET_MODEL_FLOW);
    assert_close(ring.seconds, 30 * 1.5e-6 + 2 * 15.0 / 16 * n / 512e9, 1e-9);
    free(s);
}

/* Pairs across leaves, every chip sending: at 1:1 each flow gets its NIC's
 * 12.5 GB/s; at 2:1 the leaf uplink (2 chips x 12.5 / 2) halves it. */
static void oversubscribed_spine_halves_bandwidth(void **state)
{
    (void)state;
    char text[1024];
    net_group pairs = {2, 2, 4, 0, NET_LAUNCH_ASYNC, false}; /* {0,2} {1,3} {4,6} {5,7} */
    double n = 1 * GIB, busbw[2], transfer_s[2];
    for (int o = 1; o <= 2; o++) {
        snprintf(text, sizeof text, CLOS8, o);
        hw_system *s = load_text(text, 8);
        net_result an = run(s, NET_ALLREDUCE, n, pairs, NET_ALGO_RING, NET_MODEL_ANALYTIC);
        net_result fl = run(s, NET_ALLREDUCE, n, pairs, NET_ALGO_RING, NET_MODEL_FLOW);
        assert_close(fl.seconds, an.seconds, 1e-9);
        busbw[o - 1] = fl.busbw_bytes_per_s;
        transfer_s[o - 1] = fl.seconds - fl.latency_seconds;
        if (o == 2)
            assert_non_null(strstr(fl.busiest_link, "tier-1 pod"));
        free(s);
    }
    assert_close(busbw[0], 12.5e9, 1e-3); /* 2 steps of ~11 us aside */
    assert_close(busbw[1] / busbw[0], 0.5, 1e-3);
    assert_close(transfer_s[1] / transfer_s[0], 2.0, 1e-9);
    assert_close(transfer_s[0], n / 12.5e9, 1e-9);
}

/* Every flow's bytes are counted once; on a switch each crosses 2 links.
 * Ring all-reduce: each of p ranks sends 2(p-1)/p n, in every group. */
static void bytes_are_conserved(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h100", 64);
    net_group tp = {8, 1, 8, 0, NET_LAUNCH_ASYNC, false};
    double n = 64 * MIB;
    net_result an = run(s, NET_ALLREDUCE, n, tp, NET_ALGO_RING, NET_MODEL_ANALYTIC);
    net_result fl = run(s, NET_ALLREDUCE, n, tp, NET_ALGO_RING, NET_MODEL_FLOW);
    double expect = 8 * (2 * 7.0 * n); /* groups x 2(p-1) n */
    assert_close(an.bytes_injected, expect, 1e-12);
    assert_close(fl.bytes_injected, expect, 1e-12);
    assert_close(fl.link_bytes, 2 * expect, 1e-12);
    assert_int_equal(fl.groups_simulated, 1); /* one node stands for all 8 */
    free(s);
}

/* Under heavy contention the flow model fills links but never past them. */
static void rates_never_exceed_capacity(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 0);
    net_group dp = {2, 8, 8, 0, NET_LAUNCH_ASYNC, false};
    net_result fl = run(s, NET_ALLTOALL, 64 * MIB, dp, NET_ALGO_MESH, NET_MODEL_FLOW);
    assert_true(fl.peak_link_load <= 1.0 + 1e-9);
    assert_true(fl.peak_link_load > 0.999);
    net_group all = {16, 1, 1, 0, NET_LAUNCH_ASYNC, false};
    fl = run(s, NET_ALLTOALL, 64 * MIB, all, NET_ALGO_MESH, NET_MODEL_FLOW);
    assert_true(fl.peak_link_load <= 1.0 + 1e-9);
    free(s);
}

/* Uncongested: one group, or groups on links of their own; the models agree
 * within 2% for every algorithm that applies, on every kind of topology. */
static void models_agree_when_uncongested(void **state)
{
    (void)state;
    struct {
        const char *hw;
        int chips;
        net_group g;
    } cases[] = {
        {"dgx-h100", 0, {8, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
        {"dgx-h100", 32, {32, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
        {"dgx-h100", 64, {8, 8, 8, 0, NET_LAUNCH_ASYNC, false}},
        {"trn2.48xlarge", 0, {16, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
        {"trn2.48xlarge", 64, {64, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
        {"trn2u.48xlarge", 0, {64, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
        {"trn2u.48xlarge", 256, {4, 64, 64, 0, NET_LAUNCH_ASYNC, false}},
        {"trn3-ultraserver-64", 0, {64, 1, 1, 0, NET_LAUNCH_ASYNC, false}},
    };
    const net_algo algos[] = {NET_ALGO_RING, NET_ALGO_RING_BIDIR, NET_ALGO_TREE, NET_ALGO_RHD,
                              NET_ALGO_MESH, NET_ALGO_TORUS,      NET_ALGO_HIER};
    const net_op ops[] = {NET_ALLREDUCE, NET_ALLGATHER, NET_ALLTOALL, NET_BROADCAST};
    int compared = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hw_system *s = new_system(cases[c].hw, cases[c].chips);
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
                net_result an, fl;
                usim_error err;
                usim_error_clear(&err);
                if (net_collective(s, ops[o], 32 * MIB, cases[c].g, algos[a],
                                   NET_MODEL_ANALYTIC, &an, &err) != USIM_OK)
                    continue; /* does not apply */
                fl = run(s, ops[o], 32 * MIB, cases[c].g, algos[a], NET_MODEL_FLOW);
                if (fabs(fl.seconds - an.seconds) > 0.02 * an.seconds)
                    fail_msg("%s %s %s: analytic %g s, flow %g s", cases[c].hw,
                             net_op_name(ops[o]), net_algo_name(algos[a]), an.seconds,
                             fl.seconds);
                compared++;
            }
        }
        free(s);
    }
    assert_true(compared > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_allreduce_closed_form),
        cmocka_unit_test(busbw_tends_to_link_bandwidth),
        cmocka_unit_test(latency_dominates_tiny_messages),
        cmocka_unit_test(switch_closed_forms),
        cmocka_unit_test(torus_closed_form),
        cmocka_unit_test(oversubscribed_spine_halves_bandwidth),
        cmocka_unit_test(bytes_are_conserved),
        cmocka_unit_test(rates_never_exceed_capacity),
        cmocka_unit_test(models_agree_when_uncongested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
