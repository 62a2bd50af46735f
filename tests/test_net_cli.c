/*
 * `ultrasim collective` from the outside: its JSON keys and numbers, the
 * nccl-tests style sweep, and bad input (exit code 2 with a clear message,
 * never a crash).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static json_t *run_json(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "collective %s --json", args);
    return cli_json(cmd);
}

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* 1 GiB on a DGX H100 by ring: NCCL's ring/Simple, 8.4 us + 14 x 3.4 us of
 * latency (data/hw/dgx-h100.json, docs/net.md) + 1.75 GiB / 369.9 GB/s. */
static void json_keys_and_numbers(void **state)
{
    (void)state;
    json_t *j = run_json("--op allreduce --size 1GiB --hw dgx-h100 --algo ring");
    double t = (8.4 + 14 * 3.4) * 1e-6 + 1.75 * 1073741824.0 / (450e9 * 0.822);
    assert_close(num(j, "time_s"), t, 1e-9);
    assert_close(num(j, "algbw_bytes_per_s"), 1073741824.0 / t, 1e-9);
    assert_close(num(j, "busbw_bytes_per_s"), 1.75 * 1073741824.0 / t, 1e-9);
    assert_string_equal(json_string_value(json_object_get(j, "algorithm")), "ring");
    assert_string_equal(json_string_value(json_object_get(j, "protocol")), "Simple");
    assert_non_null(json_object_get(j, "tier_seconds"));
    assert_non_null(json_object_get(json_object_get(j, "busiest_link"), "name"));
    /* what only the flow model measures is null with the reason, not 0 */
    assert_true(json_is_null(json_object_get(j, "flows")));
    assert_non_null(strstr(json_string_value(json_object_get(j, "peak_link_load_reason")),
                           "the analytic model routes no flows"));
    json_decref(j);
    j = run_json("--hw dgx-h100 --sweep 1MiB:2MiB"); /* and so is each row of a sweep */
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "rows"), 0),
                                             "flows")));
    json_decref(j);
}

/* --launch blocking: the same ring/Simple time plus DGX H100's 44.8 us host
 * call (data/hw/dgx-h100.json), and the header says how it was launched. */
static void blocking_launch_json(void **state)
{
    (void)state;
    json_t *j =
        run_json("--op allreduce --size 1GiB --hw dgx-h100 --algo ring --launch blocking");
    double t = 44.8e-6 + (8.4 + 14 * 3.4) * 1e-6 + 1.75 * 1073741824.0 / (450e9 * 0.822);
    assert_close(num(j, "time_s"), t, 1e-9);
    assert_close(num(j, "launch_s"), 44.8e-6, 1e-9);
    assert_string_equal(json_string_value(json_object_get(j, "launch")), "blocking");
    json_decref(j);
    j = run_json("--op allreduce --size 1GiB --hw dgx-h100 --algo ring");
    assert_string_equal(json_string_value(json_object_get(j, "launch")), "async");
    assert_close(num(j, "launch_s"), 0.0, 1e-12);
    json_decref(j);
}

/* 8B:8GiB doubles 31 times: 31 rows with growing bus bandwidth, each with
 * nccl-tests' element count of 4-byte floats (8 GiB / 4 = 2^31). */
static void sweep_table(void **state)
{
    (void)state;
    json_t *j = run_json("--hw trn2u.48xlarge --sweep 8B:8GiB");
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), 31);
    assert_close(num(json_array_get(rows, 0), "bytes"), 8, 0);
    assert_close(num(json_array_get(rows, 30), "bytes"), 8589934592.0, 0);
    assert_true(num(json_array_get(rows, 30), "busbw_bytes_per_s") >
                num(json_array_get(rows, 20), "busbw_bytes_per_s"));
    assert_string_equal(json_string_value(json_object_get(j, "type")), "float");
    assert_close(num(json_array_get(rows, 0), "count"), 2, 0);
    assert_close(num(json_array_get(rows, 30), "count"), 2147483648.0, 0);
    json_decref(j);
}

/* The text sweep prints nccl-tests' columns: size, count, type, time, algbw,
 * busbw, then the algorithm and NCCL's protocol. 1 GiB by ring on a DGX
 * H100: 2^28 floats in (8.4 + 14 x 3.4) us + 1.75 GiB / (450 GB/s x 0.822)
 * = 5135.88 us, algbw 2^30 B over it = 209.07 GB/s, busbw x 1.75 = 365.87
 * GB/s, ring/Simple. */
static void sweep_text_columns(void **state)
{
    (void)state;
    cli_result r = cli_run("collective --hw dgx-h100 --algo ring --sweep 512MiB:1GiB");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "size"));
    assert_non_null(strstr(r.out, "(elements)"));
    assert_non_null(strstr(r.out, "(GB/s)"));
    double t = (8.4 + 14 * 3.4) * 1e-6 + 1.75 * 1073741824.0 / (450e9 * 0.822);
    char want[160];
    snprintf(want, sizeof want, "%15.0f %14.0f %8s %12.2f %10.2f %10.2f  ring/Simple", 1073741824.0,
             268435456.0, "float", t * 1e6, 1073741824.0 / t / 1e9, 1.75 * 1073741824.0 / t / 1e9);
    if (!strstr(r.out, want))
        fail_msg("expected '%s' in:\n%s", want, r.out);
    cli_free(&r);
}

/* Text names the algorithm, why, the tiers and the busiest link; the
 * worked example of docs/net.md runs. */
static void text_output(void **state)
{
    (void)state;
    cli_result r = cli_run("collective --hw trn2u.48xlarge --chips 128 --size 256MiB --model flow");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "algorithm"));
    assert_non_null(strstr(r.out, "auto: Neuron's own choice"));
    assert_non_null(strstr(r.out, "busiest link"));
    cli_free(&r);
    r = cli_run("collective --hw trn2.48xlarge --chips 128 --size 1GiB --group 8 --stride 16 "
                "--algo ring --model flow --with alltoall:256MiB:8:16:mesh");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "alongside"));
    assert_non_null(strstr(r.out, "NIC"));
    /* the interval is of collectives measured alone: n/a beside others, with
     * the reason (it printed "(null)") */
    assert_non_null(strstr(r.out, "80% interval     n/a (the published runs behind the interval "
                                  "ran one collective alone, not beside --with's)"));
    cli_free(&r);
    /* two latency-bound all-reduces at once end when the later one does: 30.5
     * us each with NCCL's latency terms, where the flows alone took 8.8 us */
    json_t *j = cli_json("collective --hw dgx-h100 --size 1MiB --model flow "
                         "--with allreduce:1MiB:8:1 --json");
    double own = json_number_value(json_object_get(j, "time_s"));
    double other = json_number_value(
        json_object_get(json_array_get(json_object_get(j, "alongside"), 0), "time_s"));
    double together = json_number_value(
        json_object_get(json_object_get(j, "combined"), "time_s"));
    assert_true(own > 20e-6);
    assert_close(together, fmax(own, other), 1e-12);
    json_decref(j);
}

/* Ranks that are NeuronCores (nccom-test's ranks): 16 ranks on 4 Trainium2
 * chips (4 logical cores each) all-reduce 512 MiB as the 4 chips do, plus,
 * on each chip, 2 (4 - 1) = 6 DMA steps of 1.3 us and 5 x 3 x 512 MiB through
 * HBM at 2.9 TB/s x 0.88 (data/hw/trn2.json); the bus factor counts 16
 * ranks. Two cores of one Trainium1 chip: no link at all, 2 steps and 5 x n
 * at 820 GB/s x 0.88. */
static void core_ranks(void **state)
{
    (void)state;
    double n = 512.0 * 1048576.0;
    json_t *chips = run_json("--hw trn2.48xlarge --chips 4 --size 512MiB");
    json_t *cores = run_json("--hw trn2.48xlarge --chips 4 --size 512MiB --rank-unit core");
    double on_chip = 6 * 1.3e-6 + 15.0 * n / (2.9e12 * 0.88);
    double t = num(chips, "time_s") + on_chip;
    assert_close(num(cores, "time_s"), t, 1e-9);
    assert_close(num(cores, "busbw_bytes_per_s"), n / t * 2.0 * 15.0 / 16.0, 1e-9);
    json_t *g = json_object_get(cores, "group");
    assert_close(num(g, "size"), 16, 0);
    assert_string_equal(json_string_value(json_object_get(g, "rank_unit")), "core");
    json_decref(chips);
    json_decref(cores);
    json_t *two = run_json("--hw trn1.32xlarge --chips 1 --size 1GiB --rank-unit core");
    double t2 = 2 * 1.3e-6 + 5.0 * 1073741824.0 / (820e9 * 0.88);
    assert_close(num(two, "time_s"), t2, 1e-9);
    assert_string_equal(json_string_value(json_object_get(two, "algorithm")), "ring");
    json_decref(two);
}

/* Neuron's RDH with two cores a chip (trn1) runs one recursive-halving group
 * per core index, each with half the bytes: 32 core ranks reduce-scatter
 * 32 MiB (in RDH's 1-56 MB range) in the time the 16 chips reduce-scatter
 * 16 MiB by RDH, plus the same on-chip part a forced ring pays over the
 * chips' own 32 MiB ring. */
static void rdh_groups_per_core_index(void **state)
{
    (void)state;
    const char *rs = "--hw trn1.32xlarge --chips 16 --op reducescatter";
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s --size 32MiB --rank-unit core", rs);
    json_t *cores = run_json(cmd);
    snprintf(cmd, sizeof cmd, "%s --size 16MiB --algo rhd", rs);
    json_t *chips = run_json(cmd);
    snprintf(cmd, sizeof cmd, "%s --size 32MiB --rank-unit core --algo ring", rs);
    json_t *ring_cores = run_json(cmd);
    snprintf(cmd, sizeof cmd, "%s --size 32MiB --algo ring", rs);
    json_t *ring_chips = run_json(cmd);
    double on_chip = num(ring_cores, "time_s") - num(ring_chips, "time_s");
    assert_true(on_chip > 0);
    assert_close(num(cores, "time_s"), num(chips, "time_s") + on_chip, 1e-9);
    assert_non_null(strstr(json_string_value(json_object_get(cores, "why")),
                           "RDH in 2 groups, one per core index"));
    json_decref(cores);
    json_decref(chips);
    json_decref(ring_cores);
    json_decref(ring_chips);
}

static double time_of(const char *args)
{
    json_t *j = run_json(args);
    assert_non_null(j);
    double t = num(j, "time_s");
    json_decref(j);
    return t;
}

/* 96 Trn2 chips end half way through their second 64-chip UltraServer: the
 * hierarchical all-reduce goes node by node (it was refused, and with it the
 * default choice): a reduce-scatter in each 16-chip node, an all-reduce of
 * the 1/16 shard over the 6 chips of each place across the nodes, an
 * all-gather in each node, each stage as its own collective times it. */
static void hier_over_a_partial_domain(void **state)
{
    (void)state;
    const char *sys = "--hw trn2u.48xlarge --chips 96";
    char a[256], b[256], c[256], d[256];
    snprintf(a, sizeof a, "%s --size 1GiB --algo hier", sys);
    snprintf(b, sizeof b, "%s --size 1GiB --op reducescatter --group 16 --algo torus", sys);
    snprintf(c, sizeof c, "%s --size 64MiB --group 6 --stride 16 --algo ring2", sys);
    snprintf(d, sizeof d, "%s --size 1GiB --op allgather --group 16 --algo torus", sys);
    assert_close(time_of(a), time_of(b) + time_of(c) + time_of(d), 1e-9);
    snprintf(a, sizeof a, "%s --size 1GiB", sys);
    assert_true(time_of(a) > 0);
}

static void expect_bad(const char *args, const char *fragment)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "collective %s", args);
    expect_input_error(cmd, fragment);
}

static void bad_input_exits_2(void **state)
{
    (void)state;
    expect_bad("--hw dgx-h100 --size 1GiB --op allreduse", "did you mean 'allreduce'");
    expect_bad("--hw dgx-h100 --size 1GiB --algo rung", "did you mean 'ring'");
    expect_bad("--hw dgx-h100 --size 1GiB --model flwo", "not one of");
    expect_bad("--hw dgx-h100 --size 0", "out of range");
    expect_bad("--hw dgx-h100 --size -5MiB", "out of range");
    expect_bad("--hw dgx-h100 --size 2PiB", "out of range");
    expect_bad("--hw dgx-h100 --size lots", "size");
    expect_bad("--hw dgx-h100", "--size");
    expect_bad("--hw dgx-h100 --size 1GiB --sweep 8B:1GiB", "--size");
    expect_bad("--hw dgx-h100 --chips 12 --size 1GiB", "whole");
    expect_bad("--hw dgx-h100 --size 1GiB --algo torus", "torus needs");
    expect_bad("--hw dgx-h100 --size 1GiB --op alltoall --algo tree", "all-reduce only");
    expect_bad("--hw dgx-h100 --size 1GiB --op alltoall --algo ring", "does not apply");
    expect_bad("--hw dgx-h100 --size 1GiB --op reducescatter --algo rhd --group 6",
               "power-of-two");
    expect_bad("--hw dgx-h100 --size 1GiB --algo hier", "several");
    expect_bad("--hw trn2.48xlarge --chips 128 --size 1GiB --group 4 --stride 24",
               "does not sit");
    /* five groups of 3: the third (chips 6, 7, 8) crosses the first node's end,
     * though the first and the last sit inside one (it ran on NVLink alone) */
    expect_bad("--hw dgx-h100 --chips 16 --size 1GiB --group 3 --concurrent 5", "does not sit");
    expect_bad("--hw dgx-h100 --chips 16 --size 1GiB --group 3 --model flow", "does not sit");
    expect_bad("--hw trn2.48xlarge --size 1GiB --group 32", "need");
    /* a chip alone named --group, which was not given */
    expect_bad("--hw trn2 --size 1GiB", "--hw: 'trn2' is a single chip and a collective needs "
                                        "at least 2 ranks");
    /* a buffer is whole bytes: 1.5 ran as "1.50 B", 0x10 as 16 B, and --with's
     * 0 named --size */
    expect_bad("--hw dgx-h100 --size 1.5", "--size: '1.5' is 1.5 bytes; allowed: a whole number");
    expect_bad("--hw dgx-h100 --size 0x10", "is not a size");
    expect_bad("--hw dgx-h100 --size 1MiB --model flow --with allreduce:0:8:1",
               "--with: 'allreduce:0:8:1' is 0 bytes");
    expect_bad("--hw dgx-h100 --sweep 8B", "MIN:MAX");
    expect_bad("--hw dgx-h100 --sweep 1GiB:8B",
               "--sweep: '1GiB:8B': MIN is above MAX; allowed MIN:MAX with 4 B <= MIN <= MAX "
               "<= 1 PiB");
    expect_bad("--hw dgx-h100 --sweep 2B:8B", "--sweep: '2B:8B': MIN is below one element");
    expect_bad("--hw dgx-h100 --sweep 6B:64B", "MIN is not a whole number of elements");
    expect_bad("--hw dgx-h100 --sweep 8B:2PiB", "MAX is above 1 PiB");
    expect_bad("--hw dgx-h100 --size 1GiB --with allreduce:1GiB:8:1", "--model flow");
    expect_bad("--hw dgx-h100 --size 1GiB --model flow --with allreduce:1GiB", "OP:SIZE");
    /* a --with group wider than the system names --with (it named --group) */
    expect_bad("--hw dgx-h100 --size 1GiB --model flow --with allgather:1GiB:16:1",
               "--with: 'allgather:1GiB:16:1': a group of 16 ranks with stride 1 spans more "
               "than the system's 8 chips (allowed: P x S up to 8)");
    /* a count past int was cut to 2 ranks and run */
    expect_bad("--hw dgx-h100 --size 1MiB --model flow --with allreduce:1MiB:4294967298:1",
               "a group of 4294967298 ranks");
    expect_bad("--hw dgx-h100 --size 1GiB --stride 0", "out of range");
    expect_bad("--hw nosuch --size 1GiB", "unknown hardware");
    expect_bad("--hw dgx-h100 --size 1GiB --rank-unit core",
               "--rank-unit: 'core' applies to Trainium chips, whose NeuronCores are ranks; a "
               "h100-sxm is one rank (allowed: chip)");
    expect_bad("--hw trn2.48xlarge --size 1GiB --rank-unit core --group 6",
               "6 ranks do not fill whole trn2 chips of 4 ranks; allowed: a multiple of 4");
    expect_bad("--hw trn2.48xlarge --size 1GiB --rank-unit core --op alltoall",
               "allreduce, reducescatter or allgather");
    expect_bad("--hw trn2.48xlarge --size 1GiB --rank-unit cores", "not one of");
    expect_bad("--hw dgx-h100 --size 1GiB --launch sync", "--launch: 'sync' is not one of");
    expect_bad("--hw trn2.48xlarge --size 1GiB --launch blocking",
               "--launch: blocking needs the host's per-call cost");
    expect_bad("--hw trn2.48xlarge --size 1GiB --launch blocking",
               "trn2.48xlarge does not give");
    expect_bad("--hw dgx-h100 --size 1GiB --model flow --launch blocking --with "
               "allreduce:1GiB:8:1",
               "--launch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_keys_and_numbers),
        cmocka_unit_test(blocking_launch_json),
        cmocka_unit_test(sweep_table),
        cmocka_unit_test(sweep_text_columns),
        cmocka_unit_test(text_output),
        cmocka_unit_test(core_ranks),
        cmocka_unit_test(rdh_groups_per_core_index),
        cmocka_unit_test(hier_over_a_partial_domain),
        cmocka_unit_test(bad_input_exits_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
