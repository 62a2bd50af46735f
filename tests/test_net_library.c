/*
 * The collective library's cost model (src/net/library.c): NCCL's latencies,
 * protocols and bus-bandwidth caps, each figure checked by hand from the
 * constants in data/hw (NCCL src/graph/tuning.cc, docs/net.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/hw.h"
#include "ultrasim/net.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * MIB)
#define US 1e-6

/* DGX H200 NVLink: 900 GB/s both ways, 450 GB/s each way, x 0.822 link efficiency. */
#define H200_LINK (450e9 * 0.822)

/* All-reduce of bytes over ranks, auto, analytic, launched as asked. */
static usim_status allreduce(const hw_system *s, double bytes, int ranks, net_launch launch,
                             net_result *r, usim_error *err)
{
    usim_error_clear(err);
    net_group g = {ranks, 1, 1, 0, launch, false};
    return net_collective(s, NET_ALLREDUCE, bytes, g, NET_ALGO_AUTO, NET_MODEL_ANALYTIC, r, err);
}

static net_result run(const hw_system *s, net_op op, double bytes, int ranks, net_algo a)
{
    net_result r;
    usim_error err;
    usim_error_clear(&err);
    net_group g = {ranks, 1, 1, 0, NET_LAUNCH_ASYNC, false};
    if (net_collective(s, op, bytes, g, a, NET_MODEL_ANALYTIC, &r, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return r;
}

/*
 * 1 MiB all-reduce on 8 H200 (dgx-h200: NCCL 2.27's figures): ring/LL wins,
 * as NCCL 2.27.7 ran it (validation/collectives.csv, mle-h200-1n-ar-1MiB).
 *   latency   6.6 us + 2(8-1) x 0.6 us = 15.0 us
 *   bandwidth LL runs at 1/2 of the link: 1.75 MiB / (369.9 GB/s / 2) = 9.92 us,
 *             but its bus bandwidth is capped at 141 GB/s (Hopper, one node):
 *             1.75 MiB / 141 GB/s = 13.01 us, which binds; 28.01 us in all.
 * NVLS: 25 us + 1 MiB x (1 + 1/8) / (369.9 GB/s x 0.85) = 28.75 us: slower.
 * LL128: 14 + 14 x 1.9 = 40.6 us + ...; Simple: 56 us + ...: both slower.
 */
static void one_mib_allreduce_runs_ring_ll(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    net_result r = run(s, NET_ALLREDUCE, 1 * MIB, 8, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_LL);
    assert_close(r.latency_seconds, 15.0 * US, 1e-9);
    assert_close(r.bandwidth_seconds, 1.75 * MIB / 141e9, 1e-9);
    assert_close(r.seconds, 15.0 * US + 1.75 * MIB / 141e9, 1e-9);
    assert_non_null(strstr(r.why, "ring/LL"));
    net_result n = run(s, NET_ALLREDUCE, 1 * MIB, 8, NET_ALGO_NVLS);
    assert_close(n.seconds, 25.0 * US + 1.125 * MIB / (H200_LINK * 0.85), 1e-9);
    free(s);
}

/*
 * The same 1 MiB all-reduce timed call by call (a torch.distributed loop:
 * barrier, event, all_reduce, event, synchronize): the host's per-call path,
 * blocking_call_overhead 44.8 us (data/hw/dgx-h200.json), before the device
 * time above. ring/LL still wins (the overhead is the same for every
 * algorithm): 44.8 + 15.0 = 59.8 us of latency terms, + 13.01 us = 72.8 us.
 */
static void blocking_adds_the_host_call(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    net_result r;
    usim_error err;
    assert_int_equal(allreduce(s, 1 * MIB, 8, NET_LAUNCH_BLOCKING, &r, &err), USIM_OK);
    double device = 15.0 * US + 1.75 * MIB / 141e9;
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_LL);
    assert_close(r.launch_seconds, 44.8 * US, 1e-9);
    assert_close(r.latency_seconds, 59.8 * US, 1e-9);
    assert_close(r.seconds, 44.8 * US + device, 1e-9);
    assert_close(r.algbw_bytes_per_s, 1 * MIB / (44.8 * US + device), 1e-9);
    assert_close(run(s, NET_ALLREDUCE, 1 * MIB, 8, NET_ALGO_AUTO).seconds, device, 1e-9);
    free(s);
}

/* A system whose library gives no per-call figure (none at all on Trainium)
 * cannot be timed blocking: an input error naming the launch, no guess. */
static void blocking_needs_the_figure(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 0);
    net_result r;
    usim_error err;
    assert_int_equal(allreduce(s, 1 * MIB, 16, NET_LAUNCH_BLOCKING, &r, &err), USIM_EINPUT);
    assert_string_equal(err.field, "launch");
    assert_non_null(strstr(err.message, "trn2.48xlarge"));
    free(s);
}

/* 16 GiB by ring: Simple at the full sustained link rate, 8.4 + 14 x 3.4 =
 * 56 us of latency. */
static void large_allreduce_runs_ring_simple(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    net_result r = run(s, NET_ALLREDUCE, 16 * GIB, 8, NET_ALGO_RING);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.latency_seconds, 56.0 * US, 1e-9);
    assert_close(r.seconds, 56.0 * US + 1.75 * 16 * GIB / H200_LINK, 1e-6);
    free(s);
}

/*
 * NVLS (NVLink SHARP) on 8 H200, 8 GiB all-reduce. The NVSwitch reduces and
 * multicasts, so each GPU's link carries n (1 + 1/8) each way, at NCCL's
 * Hopper NVLS efficiency 0.85 (tuning.cc @766bffee); Simple only, latency
 * the NVLink NVLS hwLat alone:
 *   latency   25 us
 *   bandwidth 1.125 x 8 GiB / (369.9 GB/s x 0.85) = 30.72 ms
 *   busbw     1.75 x 8 GiB / 30.75 ms = 488.7 GB/s (nccl-tests: 473.1)
 * Ring/Simple would take 56 us + 1.75 x 8 GiB / 369.9 GB/s = 40.69 ms, so
 * auto picks NVLS.
 */
static void nvls_allreduce_8gib_on_h200(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    double bw = 1.125 * 8 * GIB / (H200_LINK * 0.85);
    net_result r = run(s, NET_ALLREDUCE, 8 * GIB, 8, NET_ALGO_NVLS);
    assert_int_equal(r.algorithm, NET_ALGO_NVLS);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.latency_seconds, 25.0 * US, 1e-9);
    assert_close(r.bandwidth_seconds, bw, 1e-6);
    assert_close(r.busbw_bytes_per_s, 1.75 * 8 * GIB / (25.0 * US + bw), 1e-6);
    net_result a = run(s, NET_ALLREDUCE, 8 * GIB, 8, NET_ALGO_AUTO);
    assert_int_equal(a.algorithm, NET_ALGO_NVLS);
    assert_close(a.seconds, r.seconds, 1e-12);
    free(s);
}

/*
 * Where auto picks NVLS, as NCCL 2.27.7 did on 8 H200 ("Ring/LL up to 1 MiB
 * and NVLS/Simple from 2 MiB", validation/collectives.csv):
 *   2 MiB:   ring/LL 15 us + 1.75 x 2 MiB / 141 GB/s = 41.03 us;
 *            NVLS    25 us + 1.125 x 2 MiB / 314.4 GB/s = 32.50 us -> nvls
 * Two GPUs: NCCL turns NVLS off (gpuCount <= 2), so ring. All-gather of
 * 16 GiB: NVLS carries 7/8 of it as the ring does, at 0.85 of the rate, so
 * the ring wins (as the 8-GPU all-gather row ran). Across two DGX H200 NCCL
 * runs no NVLS (no CollNet): ring or tree.
 */
static void auto_picks_nvls_where_nccl_would(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    net_result r = run(s, NET_ALLREDUCE, 2 * MIB, 8, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_NVLS);
    assert_close(r.seconds, 25.0 * US + 1.125 * 2 * MIB / (H200_LINK * 0.85), 1e-9);
    /* two GPUs: ring/Simple, 8.4 + 2 x 3.4 us, and 2 (2-1)/2 x 1 GiB at the link */
    r = run(s, NET_ALLREDUCE, 1 * GIB, 2, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.seconds, 15.2 * US + 1 * GIB / H200_LINK, 1e-9);
    r = run(s, NET_ALLGATHER, 16 * GIB, 8, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_close(r.seconds, 32.2 * US + 0.875 * 16 * GIB / H200_LINK, 1e-6);
    r = run(s, NET_ALLGATHER, 16 * GIB, 8, NET_ALGO_NVLS);
    assert_close(r.seconds, 25.0 * US + 0.875 * 16 * GIB / (H200_LINK * 0.85), 1e-6);
    free(s);
    /* two nodes on NDR InfiniBand: ring/Simple, 8.4 + 26 x max(3.4, 3 x 1 us
     * Intel overhead) + 4 x 14 us = 152.8 us of latency */
    s = new_system("dgx-h200", 16);
    r = run(s, NET_ALLREDUCE, 1 * GIB, 16, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.latency_seconds, 152.8 * US, 1e-9);
    free(s);
}

/* A100's NVSwitch has no SHARP: --algo nvls exits 2 naming --algo and the
 * algorithms allowed; so do two GPUs and a group across nodes on H200. */
static void nvls_refused_without_sharp(void **state)
{
    (void)state;
    expect_input_error("collective --hw dgx-a100-80gb --size 8GiB --algo nvls",
                       "--algo: nvls (NVLink SHARP) runs");
    expect_input_error("collective --hw dgx-a100-80gb --size 8GiB --algo nvls",
                       "allowed: ring, ring2, tree");
    expect_input_error("collective --hw dgx-h200 --size 8GiB --group 2 --algo nvls",
                       "at least 3 ranks");
    expect_input_error("collective --hw dgx-h200 --chips 16 --size 8GiB --algo nvls",
                       "one scale-up domain");
}

/*
 * 8 B all-reduce over 2 DGX H100 (16 ranks, 2 NVLink domains):
 *   tree/LL: 6.8 + 2 ((16/2 - 1) x 0.6 + log2(2) x 5.0) = 25.2 us;
 *   ring/LL: 2(16-1) = 30 steps, 2 x 2 = 4 across the network:
 *            6.6 + 26 x max(0.6, 1 us overhead) + 4 x 2.7 = 43.4 us.
 * Auto picks the tree; asking for the ring gives NCCL's ring latency.
 */
static void small_allreduce_across_nodes(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h100", 16);
    net_result t = run(s, NET_ALLREDUCE, 8, 16, NET_ALGO_AUTO);
    assert_int_equal(t.algorithm, NET_ALGO_TREE);
    assert_int_equal(t.protocol, NET_PROTO_LL);
    assert_close(t.latency_seconds, 25.2 * US, 1e-9);
    net_result r = run(s, NET_ALLREDUCE, 8, 16, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_LL);
    assert_close(r.latency_seconds, 43.4 * US, 1e-9);
    free(s);
}

/*
 * The same 8 B on two p5.48xlarge: EFA states its own step (aws-ofi-nccl's
 * tuner: 20 us, and 3 us more of completion for Simple), which replaces
 * NCCL's InfiniBand network row:
 *   tree/LL: 6.8 + 2 (7 x 0.6 + 1 x 20) = 55.2 us (NCCL's row: 25.2 us).
 */
static void efa_step_replaces_nccl_network_row(void **state)
{
    (void)state;
    hw_system *s = new_system("p5.48xlarge", 16);
    net_result t = run(s, NET_ALLREDUCE, 8, 16, NET_ALGO_AUTO);
    assert_int_equal(t.algorithm, NET_ALGO_TREE);
    assert_int_equal(t.protocol, NET_PROTO_LL);
    assert_close(t.latency_seconds, 55.2 * US, 1e-9);
    /* 1 GiB by ring/Simple: 8.4 + 26 x max(3.4, 3 x 2 us AMD overhead) + 4 network
     * steps x (20 + 3 us of Simple's completion) = 256.4 us */
    net_result r = run(s, NET_ALLREDUCE, 1 * GIB, 16, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.latency_seconds, 256.4 * US, 1e-9);
    free(s);
}

/* 1 MiB over the same 16 ranks: tree/LL128, whose latency is
 * 14 + 2 ((8 - 1) x 1.25 + 1 x 8.5) = 48.5 us. */
static void mid_allreduce_across_nodes_runs_tree_ll128(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h100", 16);
    net_result r = run(s, NET_ALLREDUCE, 1 * MIB, 16, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_TREE);
    assert_int_equal(r.protocol, NET_PROTO_LL128);
    assert_close(r.latency_seconds, 48.5 * US, 1e-9);
    free(s);
}

/* All-gather: p-1 = 7 steps, none across the network: 6.6 + 7 x 0.6 = 10.8 us. */
static void small_allgather_ring_latency(void **state)
{
    (void)state;
    hw_system *s = new_system("dgx-h200", 0);
    net_result r = run(s, NET_ALLGATHER, 8 * 1024, 8, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_LL);
    assert_close(r.latency_seconds, 10.8 * US, 1e-9);
    free(s);
}

/* The library only runs what it runs: all-to-all across nodes on a GPU
 * system, and any collective on a system without a library, keep the plain
 * model. */
static void no_library_no_protocol(void **state)
{
    (void)state;
    hw_system *g = new_system("dgx-h200", 16);
    net_result a = run(g, NET_ALLTOALL, 1 * MIB, 16, NET_ALGO_AUTO);
    assert_int_equal(a.protocol, NET_PROTO_NONE);
    net_result m = run(g, NET_ALLREDUCE, 1 * MIB, 8, NET_ALGO_MESH);
    assert_int_equal(m.protocol, NET_PROTO_NONE);
    hw_system *t = new_system("trn2.48xlarge", 0);
    net_result r = run(t, NET_ALLREDUCE, 1 * MIB, 16, NET_ALGO_AUTO);
    assert_int_equal(r.protocol, NET_PROTO_NONE);
    assert_string_equal(net_protocol_name(NET_PROTO_LL128), "LL128");
    free(g);
    free(t);
}

/* A made-up 4-chip switch node whose library runs one protocol: every
 * figure of the formula shows. Ring all-reduce of 1 MiB over 4 ranks:
 *   latency   5 us + 2(4-1) x 1 us = 11 us
 *   bandwidth 2 x 3/4 MiB / (100 GB/s x 0.5) = 31.46 us (no cap). */
static const char *SYSTEM =
    "{\"kind\": \"system\", \"name\": \"lib-test\", \"chip\": \"h100-sxm\",\n"
    " \"node\": {\"chips\": 4, \"topology\": {\"kind\": \"switch\"},\n"
    "          \"bandwidth_per_chip\": \"100GB/s\", \"hop_latency\": \"2us\",\n"
    "          \"nic_bandwidth_per_chip\": \"400Gbps\"},\n"
    " \"network\": \"ib-ndr\",\n"
    " \"collective_library\": {\"name\": \"test\", \"ring_ll\": {\"base_latency\": \"5us\",\n"
    "   \"hop_latency\": \"1us\", \"net_hop_latency\": \"3us\", \"efficiency\": EFF}}}\n";

static const char *system_file(const char *eff)
{
    static char text[1024];
    const char *at = strstr(SYSTEM, "EFF");
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - SYSTEM), SYSTEM, eff, at + 3);
    return write_temp("lib-test.json", text);
}

/* A library named by preset takes its figures for the system's GPU and CPU
 * (data/collectives/nccl-2.27.json): an AMD host's network overhead (2 us,
 * 3 x 2 on Simple) and two-node LL cap (22.5 GB/s), Hopper's one-node cap
 * (141 GB/s) and NVLS (25 us, 0.85); an Ampere GPU has no NVLS at all. */
static void library_preset_variants(void **state)
{
    (void)state;
    char text[1024];
    const char *gpus[] = {"hopper", "ampere"};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text,
                 "{\"kind\": \"system\", \"name\": \"preset-lib\", \"chip\": \"h100-sxm\","
                 " \"node\": {\"chips\": 8, \"topology\": {\"kind\": \"switch\"},"
                 " \"bandwidth_per_chip\": \"900GB/s\", \"hop_latency\": \"2us\","
                 " \"nic_bandwidth_per_chip\": \"400Gbps\"},"
                 " \"collective_library\": {\"preset\": \"nccl-2.27\", \"gpu\": \"%s\","
                 " \"cpu\": {\"value\": \"amd\", \"source\": \"test\"}}}",
                 gpus[i]);
        hw_system *s = new_system(write_temp("preset-lib.json", text), 0);
        const hw_collective_library *l = &s->collective_library;
        assert_string_equal(l->name, "NCCL");
        assert_close(l->ring_ll.net_overhead_s, 2e-6, 1e-12);
        assert_close(l->ring_simple.net_overhead_s, 6e-6, 1e-12);
        assert_close(l->ring_ll.max_bus_two_domains, 22.5e9, 1e-12);
        assert_close(l->ring_ll.max_bus_one_domain, i == 0 ? 141e9 : 87.7e9, 1e-12);
        assert_close(l->ring_ll.efficiency, 0.5, 1e-12);
        assert_close(l->nvls.efficiency, i == 0 ? 0.85 : 0.0, 1e-12);
        if (i == 0)
            assert_close(l->nvls.hop_latency_s, 25e-6, 1e-12);
        free(s);
    }
}

static void formula_on_a_made_up_system(void **state)
{
    (void)state;
    hw_system *s = new_system(system_file("0.5"), 0);
    net_result r = run(s, NET_ALLREDUCE, 1 * MIB, 4, NET_ALGO_AUTO);
    assert_int_equal(r.algorithm, NET_ALGO_RING);
    assert_int_equal(r.protocol, NET_PROTO_LL);
    assert_close(r.latency_seconds, 11.0 * US, 1e-9);
    assert_close(r.bandwidth_seconds, 1.5 * MIB / 50e9, 1e-9);
    free(s);
}

/* A system on 100 GB/s links whose library runs only the p2p path, with
 * `channels` channels. */
static const char *p2p_system(const char *channels)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "{\"kind\": \"system\", \"name\": \"p2p-test\", \"chip\": \"h100-sxm\",\n"
             " \"node\": {\"chips\": 8, \"topology\": {\"kind\": \"switch\"},\n"
             "          \"bandwidth_per_chip\": \"100GB/s\", \"hop_latency\": \"2us\",\n"
             "          \"nic_bandwidth_per_chip\": \"400Gbps\"},\n"
             " \"network\": \"ib-ndr\",\n"
             " \"collective_library\": {\"name\": \"test\", \"p2p\": {\"channels\": %s,\n"
             "   \"chunk\": \"512KiB\", \"min_part\": \"64KiB\", \"max_part\": \"16MiB\",\n"
             "   \"latency\": \"10us\"}}}\n",
             channels);
    return write_temp("p2p-test.json", text);
}

/* NCCL's p2p path, by hand: 8 ranks on 100 GB/s links, 256 MiB a rank. Each
 * peer's 32 MiB gets 4 of the 32 channels (32 halved until 8 x 4 fit), parts
 * of 8 MiB (under the 16 MiB cap), 16 chunks of 512 KiB each; one part a
 * channel at 100 / 32 GB/s, 17/16 of it with the copy-out of the last step:
 * 10 us + 8 MiB x 32 / 100 GB/s x 17 / 16. DeepEP-like own kernels move the
 * same 7 x 32 MiB at the link rate. */
static void alltoall_runs_the_p2p_path(void **state)
{
    (void)state;
    hw_system *s = new_system(p2p_system("32"), 0);
    net_result r = run(s, NET_ALLTOALL, 256 * MIB, 8, NET_ALGO_AUTO);
    assert_int_equal(r.protocol, NET_PROTO_SIMPLE);
    assert_close(r.latency_seconds, 10 * US, 1e-9);
    assert_close(r.bandwidth_seconds, 8 * MIB * 32 / 100e9 * 17 / 16, 1e-9);
    net_result own;
    usim_error err;
    net_group g = {8, 1, 1, 0, NET_LAUNCH_ASYNC, true};
    assert_int_equal(net_collective(s, NET_ALLTOALL, 256 * MIB, g, NET_ALGO_AUTO,
                                    NET_MODEL_ANALYTIC, &own, &err),
                     USIM_OK);
    assert_int_equal(own.protocol, NET_PROTO_NONE);
    assert_close(own.bandwidth_seconds, 7 * 32 * MIB / 100e9, 1e-9);
    free(s);
}

/* A system can take part of a library preset: NVL72 racks take NCCL's p2p
 * path and keep ultrasim's algorithms for the rest; a part that is none is
 * refused by name. */
static void library_parts(void **state)
{
    (void)state;
    hw_system *s = new_system("gb200-nvl72", 0);
    const hw_collective_library *l = &s->collective_library;
    assert_string_equal(l->name, "NCCL");
    assert_close(l->p2p.channels, 32, 0);
    assert_close(l->ring_simple.efficiency, 0, 0);
    assert_close(l->blocking_call_overhead_s, 0, 0);
    net_result a = run(s, NET_ALLREDUCE, 1 * MIB, 72, NET_ALGO_AUTO);
    assert_int_equal(a.protocol, NET_PROTO_NONE);
    free(s);
    char args[512];
    snprintf(args, sizeof args, "collective --hw %s --size 1MiB",
             write_temp("parts.json", "{\"kind\": \"system\", \"base\": \"gb200-nvl72\", "
                                      "\"name\": \"parts\", \"collective_library\": "
                                      "{\"preset\": \"nccl-2.27\", \"parts\": [\"p2p\", "
                                      "\"rings\"]}}"));
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "collective_library.parts"));
    assert_non_null(strstr(r.err, "'rings' is not a part"));
    cli_free(&r);
}

static void bad_p2p_exits_2(void **state)
{
    (void)state;
    char args[512];
    snprintf(args, sizeof args, "collective --hw %s --op alltoall --size 1MiB",
             p2p_system("0"));
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "collective_library.p2p.channels: 0 is out of range"));
    cli_free(&r);
}

static void bad_efficiency_exits_2(void **state)
{
    (void)state;
    char args[512];
    snprintf(args, sizeof args, "collective --hw %s --size 1MiB", system_file("1.5"));
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "collective_library.ring_ll.efficiency"));
    assert_non_null(strstr(r.err, "1.5"));
    cli_free(&r);
}

/* The protocol shows in the text, the JSON and the sweep's algorithm column. */
static void protocol_in_output(void **state)
{
    (void)state;
    cli_result r = cli_run("collective --hw dgx-h200 --size 1MiB");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "ring/LL\n"));
    cli_free(&r);
    r = cli_run("collective --hw dgx-h200 --size 1MiB --json");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"protocol\": \"LL\""));
    cli_free(&r);
    r = cli_run("collective --hw dgx-h200 --sweep 16GiB:16GiB");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "nvls/Simple"));
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_mib_allreduce_runs_ring_ll),
        cmocka_unit_test(blocking_adds_the_host_call),
        cmocka_unit_test(blocking_needs_the_figure),
        cmocka_unit_test(large_allreduce_runs_ring_simple),
        cmocka_unit_test(nvls_allreduce_8gib_on_h200),
        cmocka_unit_test(auto_picks_nvls_where_nccl_would),
        cmocka_unit_test(nvls_refused_without_sharp),
        cmocka_unit_test(small_allreduce_across_nodes),
        cmocka_unit_test(efa_step_replaces_nccl_network_row),
        cmocka_unit_test(library_preset_variants),
        cmocka_unit_test(mid_allreduce_across_nodes_runs_tree_ll128),
        cmocka_unit_test(small_allgather_ring_latency),
        cmocka_unit_test(no_library_no_protocol),
        cmocka_unit_test(formula_on_a_made_up_system),
        cmocka_unit_test(alltoall_runs_the_p2p_path),
        cmocka_unit_test(library_parts),
        cmocka_unit_test(bad_p2p_exits_2),
        cmocka_unit_test(bad_efficiency_exits_2),
        cmocka_unit_test(protocol_in_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
