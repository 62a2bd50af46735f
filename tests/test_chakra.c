/*
 * Chakra execution traces: hand-built traces whose step time follows from
 * their durations and the collective command's own times, export then
 * replay of train's steps, recosting against the chip's roofline, and every
 * kind of bad trace named by file, rank and node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "ultrasim/chakra.h"
#include "ultrasim/engine.h"

static char dir[600];

static const char *prefix_of(const char *name)
{
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static et_node node(uint64_t id, int type, const char *name)
{
    et_node n;
    memset(&n, 0, sizeof n);
    n.id = id;
    n.type = type;
    snprintf(n.name, sizeof n.name, "%s", name);
    n.flops = n.bytes = n.comm_bytes = -1;
    n.comm_type = n.comm_src = n.comm_dst = n.stream = -1;
    n.dtype = USIM_BF16;
    return n;
}

static void dep(et_node *n, uint64_t *store, uint64_t before)
{
    store[n->ndeps] = before;
    n->deps = store;
    n->ndeps++;
    n->ndata = n->ndeps;
}

static et_node compute(uint64_t id, double seconds)
{
    et_node n = node(id, ET_COMP, "compute");
    n.duration_s = seconds;
    return n;
}

static et_node allreduce(uint64_t id, double bytes, const char *group)
{
    et_node n = node(id, ET_COLL, "all-reduce");
    n.comm_type = ET_ALL_REDUCE;
    n.comm_bytes = bytes;
    snprintf(n.pg_name, sizeof n.pg_name, "%s", group);
    return n;
}

static void write_rank(const char *name, int rank, int world, const et_node *nodes, int n)
{
    char path[800];
    usim_error err;
    snprintf(path, sizeof path, "%s.%d.et", prefix_of(name), rank);
    et_writer *w = et_writer_open(path, rank, world, false, &err);
    assert_non_null(w);
    for (int i = 0; i < n; i++)
        assert_int_equal(et_write(w, &nodes[i], &err), USIM_OK);
    assert_int_equal(et_writer_close(w, &err), USIM_OK);
}

static void write_groups(const char *name, const char *json)
{
    char path[800];
    snprintf(path, sizeof path, "%s.comm_group.json", prefix_of(name));
    write_text_file(path, json);
}

static double cli_time(const char *args)
{
    json_t *r = cli_json(args);
    double t = json_number_value(json_object_get(r, "time_s"));
    json_decref(r);
    return t;
}

/* Two ranks: compute (100 and 200 us), a 64 MiB all-reduce, 50 us of
 * compute, then rank 0 sends 16 MiB that rank 1's last 30 us wait for. The
 * all-reduce starts when the slower rank reaches it. */
static void write_two_ranks(void)
{
    uint64_t d[4][4];
    for (int rank = 0; rank < 2; rank++) {
        et_node n[5];
        n[0] = compute(10, rank ? 200e-6 : 100e-6);
        n[1] = allreduce(11, 64 << 20, "0");
        dep(&n[1], d[0], 10);
        n[2] = compute(12, 50e-6);
        dep(&n[2], d[1], 11);
        if (rank == 0) {
            n[3] = node(13, ET_SEND, "send");
            n[3].comm_src = 0;
            n[3].comm_dst = 1;
        } else {
            n[3] = node(13, ET_RECV, "recv");
            n[3].comm_src = 0;
            n[3].comm_dst = 1;
        }
        n[3].comm_tag = 7;
        n[3].comm_bytes = 16 << 20;
        dep(&n[3], d[2], 12);
        n[4] = compute(14, 30e-6);
        dep(&n[4], d[3], 13);
        write_rank("two", rank, 2, n, rank ? 5 : 4);
    }
    write_groups("two", "{\"0\": [0, 1]}");
}

static void hand_built_trace_times(void **state)
{
    (void)state;
    write_two_ranks();
    double ar = cli_time("collective --hw dgx-h100 --chips 2 --size 64MiB --json");
    double p2p = cli_time("collective --hw dgx-h100 --chips 2 --op sendrecv --size 16MiB --json");
    char args[1000];
    snprintf(args, sizeof args, "replay --et %s --hw dgx-h100 --json", prefix_of("two"));
    json_t *r = cli_json(args);
    assert_close(json_number_value(json_object_get(r, "step_time_s")),
                 200e-6 + ar + 50e-6 + p2p + 30e-6, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(r, "chips")), 2);
    json_t *b = json_object_get(r, "busiest_rank");
    assert_int_equal(json_integer_value(json_object_get(b, "rank")), 1);
    assert_close(json_number_value(json_object_get(b, "compute_s")), 280e-6, 1e-9);
    assert_close(json_number_value(json_object_get(json_object_get(r, "collectives_s"),
                                                   "all-reduce")),
                 ar, 1e-9);
    json_decref(r);
}

/* The trace kept in tests/data (made by us, as a PyTorch run converted by
 * Chakra's tools would look: aten:: names, FLOPs and bytes): rank 1's 2 ms
 * GEMM, the 64 MiB all-reduce, 0.5 ms, rank 0's 16 MiB send and rank 1's
 * last 0.3 ms. */
static void kept_trace_times(void **state)
{
    (void)state;
    double ar = cli_time("collective --hw dgx-h100 --chips 2 --size 64MiB --json");
    double p2p = cli_time("collective --hw dgx-h100 --chips 2 --op sendrecv --size 16MiB --json");
    json_t *r = cli_json("replay --et " USIM_SOURCE_DIR "/tests/data/chakra/two-ranks --hw "
                         "dgx-h100 --json");
    assert_close(json_number_value(json_object_get(r, "step_time_s")),
                 2e-3 + ar + 0.5e-3 + p2p + 0.3e-3, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(r, "nodes")), 9);
    json_decref(r);
}

/* One GEMM-named node of 10^15 FLOPs and 1 MB: recosted, it takes the chip's
 * dense bf16 peak times its matrix efficiency at the rate a training step
 * sustains (matrix.sustained), slowed by the compiled graph's efficiency,
 * plus one launch; its recorded 1 s no longer counts. */
static void recost_follows_the_roofline(void **state)
{
    (void)state;
    et_node n = compute(0, 1.0);
    snprintf(n.name, sizeof n.name, "aten::mm");
    n.flops = 1e15;
    n.bytes = 1e6;
    write_rank("gemm", 0, 1, &n, 1);
    const char *systems[] = {"dgx-h100", "dgx-b200", "trn2.48xlarge"};
    for (int i = 0; i < 3; i++) {
        hw_system s = load_system(systems[i], 1);
        const hw_chip *c = &s.chip;
        double ge = c->graph_efficiency > 0 && c->graph_efficiency < 1 ? c->graph_efficiency : 1;
        double sustained = c->matrix.sustained > 0 ? c->matrix.sustained : 1;
        double expected = 1e15 / (hw_per_dtype_get(&c->dense_flops, USIM_BF16) *
                                  hw_matrix_efficiency(&c->matrix, USIM_BF16) * sustained * ge) +
                          c->launch_overhead_s;
        char args[1000];
        snprintf(args, sizeof args, "replay --et %s --hw %s --recost --json", prefix_of("gemm"),
                 systems[i]);
        json_t *r = cli_json(args);
        assert_close(json_number_value(json_object_get(r, "step_time_s")), expected, 1e-9);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "recost"),
                                                            "recosted")),
                         1);
        json_decref(r);
        snprintf(args, sizeof args, "replay --et %s --hw %s --json", prefix_of("gemm"),
                 systems[i]);
        r = cli_json(args);
        assert_close(json_number_value(json_object_get(r, "step_time_s")), 1.0, 1e-9);
        json_decref(r);
    }
}

static void export_then_replay_within(const char *train_args, const char *ranks, int files,
                                      double tolerance)
{
    char args[1200];
    snprintf(args, sizeof args, "train %s --export-et %s --export-et-ranks %s --json",
             train_args, prefix_of("step"), ranks);
    json_t *t = cli_json(args);
    double step = json_number_value(json_object_get(t, "step_time_s"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "export_et"),
                                                        "files")),
                     files);
    json_decref(t);
    const char *h = strstr(train_args, "--hw ") + 5;
    char system[64];
    snprintf(system, sizeof system, "%.*s", (int)strcspn(h, " "), h);
    snprintf(args, sizeof args, "replay --et %s --hw %s --json", prefix_of("step"), system);
    json_t *r = cli_json(args);
    assert_close(json_number_value(json_object_get(r, "step_time_s")), step, tolerance);
    json_decref(r);
}

static void export_then_replay(const char *train_args, const char *ranks, int files)
{
    export_then_replay_within(train_args, ranks, files, 0.001);
}

/* The flagship: Llama 3.1 405B on 2,048 Trn2 chips, ZeRO-3 (the prefetched
 * gathers written beside the passes they hide behind). */
static void exported_405b_replays_to_train(void **state)
{
    (void)state;
    export_then_replay("--model llama3.1-405b --hw trn2u.48xlarge --chips 2048 --tp 8 --pp 1 "
                       "--zero 3 --gbs 1024 --seq 8192",
                       "stage", 1);
}

/* Every rank written: pipeline sends and receives between real files,
 * interleaved stages, context-parallel ring exchanges. */
static void every_rank_replays_to_train(void **state)
{
    (void)state;
    export_then_replay("--model llama3-8b --hw dgx-h100 --chips 32 --tp 2 --pp 2 --cp 2 --vp 2 "
                       "--gbs 32 --seq 8192",
                       "all", 32);
    export_then_replay("--model mixtral-8x7b --hw dgx-h100 --chips 64 --tp 2 --pp 4 --ep 4 "
                       "--gbs 64 --seq 4096",
                       "stage", 4);
    /* all-to-alls hidden beside each pass (--overlap-ep-comm), ZeRO-3 and full recompute */
    export_then_replay("--model mixtral-8x7b --hw dgx-h100 --chips 16 --pp 2 --ep 8 --gbs 32 "
                       "--seq 4096 --overlap-ep-comm on --zero 3 --recompute full",
                       "stage", 2);
    /* all-to-alls across nodes, each pass's beside the next (ZB-H1's B and W);
     * on the last stage a forward pairs with the backward before it, which
     * the export cannot place its all-to-alls beside, so the last forward's
     * run into the lone last backward, which waits: 0.2% longer */
    export_then_replay_within("--model mixtral-8x7b --hw dgx-h100 --chips 64 --tp 8 --pp 2 "
                              "--ep 4 --gbs 64 --seq 4096 --overlap-ep-comm on --schedule zb-h1",
                              "stage", 2, 0.003);
    /* EP with CP: EP ranks are TP apart over CP x DP, as train_step groups
     * them (Megatron-Core's expert order); a group stays inside its stage */
    export_then_replay("--model mixtral-8x7b --hw dgx-h100 --chips 64 --tp 2 --pp 2 --cp 2 "
                       "--ep 4 --gbs 64 --seq 4096",
                       "all", 64);
    export_then_replay("--model mixtral-8x7b --hw dgx-h100 --chips 16 --tp 2 --pp 2 --cp 2 "
                       "--ep 4 --gbs 64 --seq 4096",
                       "all", 16);
    /* Experts folded over TP (expert TP 1): EP ranks 1 apart, across TP */
    export_then_replay("--model mixtral-8x7b --hw dgx-h100 --chips 16 --tp 2 --pp 2 --ep 8 "
                       "--etp 1 --gbs 16 --seq 4096",
                       "all", 16);
}

static double matrix_rate(const hw_chip *c)
{
    double ge = c->graph_efficiency > 0 && c->graph_efficiency < 1 ? c->graph_efficiency : 1;
    return hw_per_dtype_get(&c->dense_flops, USIM_BF16) *
           hw_matrix_efficiency(&c->matrix, USIM_BF16) * ge;
}

static double hbm_rate(const hw_chip *c)
{
    return c->hbm.bandwidth_bytes_per_s * (c->hbm.efficiency > 0 ? c->hbm.efficiency : 1);
}

static double recosted_compute(const char *hw)
{
    char args[1200];
    snprintf(args, sizeof args, "replay --et %s --hw %s --recost --json", prefix_of("moved"), hw);
    json_t *r = cli_json(args);
    json_t *rc = json_object_get(r, "recost");
    assert_true(json_integer_value(json_object_get(rc, "recosted")) > 1000);
    assert_int_equal(json_integer_value(json_object_get(rc, "kept")), 0);
    double s = json_number_value(json_object_get(json_object_get(r, "busiest_rank"), "compute_s"));
    json_decref(r);
    return s;
}

/* A trace recorded on H100s, recosted on B200s: every node runs at the B200's
 * matrix rate or its HBM rate, so the compute shrinks by a factor between the
 * two chips' ratios of those (launches and the vector engine aside). */
static void recost_moves_an_export(void **state)
{
    (void)state;
    char args[1200];
    snprintf(args, sizeof args,
             "train --model llama3-8b --hw dgx-h100 --chips 8 --tp 8 --gbs 8 --seq 4096 "
             "--export-et %s --json",
             prefix_of("moved"));
    json_decref(cli_json(args));
    double h100 = recosted_compute("dgx-h100"), b200 = recosted_compute("dgx-b200");
    hw_system a = load_system("dgx-h100", 8), b = load_system("dgx-b200", 8);
    double by_matrix = matrix_rate(&b.chip) / matrix_rate(&a.chip);
    double by_hbm = hbm_rate(&b.chip) / hbm_rate(&a.chip);
    double speedup = h100 / b200;
    assert_true(speedup > 0.95 * fmin(by_matrix, by_hbm));
    assert_true(speedup < 1.05 * fmax(by_matrix, by_hbm));
}

/* ---- bad traces ------------------------------------------------------------ */

static void expect_replay_error(const char *name, const char *fragment)
{
    char args[1000];
    snprintf(args, sizeof args, "replay --et %s --hw dgx-h100", prefix_of(name));
    expect_input_error(args, fragment);
}

static void bad_traces_are_named(void **state)
{
    (void)state;
    char path[800];
    /* not protobuf at all */
    snprintf(path, sizeof path, "%s.0.et", prefix_of("text"));
    write_text_file(path, "this is not a trace\n");
    expect_replay_error("text", "(rank 0): not a Chakra execution trace");
    /* cut short: the two-rank trace's rank 1 without its last bytes */
    write_two_ranks();
    snprintf(path, sizeof path, "%s.1.et", prefix_of("two"));
    FILE *f = fopen(path, "rb+");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 3), 0);
    expect_replay_error("two", "(rank 1): cut short after node id 13");
    /* a trace of no work: every share of its step printed -nan% */
    et_node idle = compute(0, 0);
    write_rank("idle", 0, 1, &idle, 1);
    char idle_args[1000];
    snprintf(idle_args, sizeof idle_args, "replay --et %s --hw h100-sxm", prefix_of("idle"));
    expect_input_error(idle_args, "the trace takes no time: no compute node has a duration");
    /* a rank missing */
    et_node one = compute(0, 1e-3);
    write_rank("gap", 0, 3, &one, 1);
    write_rank("gap", 2, 3, &one, 1);
    expect_replay_error("gap", "gap.1.et is missing");
    /* an unknown node type */
    et_node odd = node(5, 42, "odd");
    write_rank("odd", 0, 1, &odd, 1);
    expect_replay_error("odd", "(rank 0): node id 5 has type 42");
    /* a dependency cycle */
    uint64_t d[2][2];
    et_node loop[2] = {compute(1, 1e-3), compute(2, 1e-3)};
    dep(&loop[0], d[0], 2);
    dep(&loop[1], d[1], 1);
    write_rank("loop", 0, 1, loop, 2);
    expect_replay_error("loop", "(rank 0): the dependencies form a cycle through node id 1");
    /* a dependency on a node that is not there */
    et_node lost = compute(3, 1e-3);
    dep(&lost, d[0], 99);
    write_rank("lost", 0, 1, &lost, 1);
    expect_replay_error("lost", "node id 3 depends on node id 99");
    /* ranks that disagree on a collective's size */
    et_node a = allreduce(4, 1 << 20, "0"), b = allreduce(4, 1 << 21, "0");
    write_rank("sizes", 0, 2, &a, 1);
    write_rank("sizes", 1, 2, &b, 1);
    write_groups("sizes", "{\"0\": [0, 1]}");
    expect_replay_error("sizes", "(rank 1): node id 4 is call 1 of group \"0\"");
    /* a group the trace never defines */
    write_rank("nogroup", 0, 1, &a, 1);
    expect_replay_error("nogroup", "names process group \"0\"");
    /* no trace at all */
    expect_replay_error("nothing", "no trace files");
    /* --chips below the files there are */
    char args[1000];
    snprintf(args, sizeof args, "replay --et %s --hw dgx-h100 --chips 1", prefix_of("sizes"));
    expect_input_error(args, "--chips: 1 is fewer than the trace's ranks");
    /* a rank file past --chips, in a trace written one rank per stage */
    export_then_replay("--model llama3.2-1b --hw dgx-h100 --chips 8 --tp 2 --pp 2 --cp 2 "
                       "--gbs 8 --seq 4096",
                       "stage", 2);
    snprintf(args, sizeof args, "replay --et %s --hw dgx-h100 --chips 4", prefix_of("step"));
    expect_input_error(args, "--chips: 4 is fewer than the trace's ranks (its files go up to "
                             "rank 4");
    /* a whole-job trace without its last rank */
    et_node solo = compute(0, 1e-3);
    write_rank("short", 0, 3, &solo, 1);
    write_rank("short", 1, 3, &solo, 1);
    expect_replay_error("short", "short.2.et is missing: the job has 3 ranks");
    /* sizes and peers that cannot be */
    et_node negative = allreduce(6, -5, "0");
    write_rank("negative", 0, 1, &negative, 1);
    write_groups("negative", "{\"0\": [0]}");
    expect_replay_error("negative", "node id 6: comm_size -5 is not usable");
    et_node send = node(7, ET_SEND, "send");
    send.comm_src = 1;
    send.comm_dst = 0;
    send.comm_bytes = 1024;
    write_rank("src", 0, 1, &send, 1);
    expect_replay_error("src", "node id 7: comm_src 1 is not this file's rank");
    /* groups: listed in any order; a rank twice, or a caller not listed, refused */
    et_node c0 = allreduce(8, 1 << 20, "g"), c1 = allreduce(8, 1 << 20, "g");
    write_rank("order", 0, 2, &c0, 1);
    write_rank("order", 1, 2, &c1, 1);
    write_groups("order", "{\"g\": [1, 0]}");
    snprintf(args, sizeof args, "replay --et %s --hw dgx-h100 --json", prefix_of("order"));
    json_decref(cli_json(args));
    write_groups("order", "{\"g\": [0, 1, 1]}");
    expect_replay_error("order", "group \"g\" lists rank 1 twice");
    write_groups("order", "{\"g\": [0]}");
    expect_replay_error("order", "(rank 1): node id 8 calls group \"g\", which does not list rank 1");
    /* a send to its own rank named a --group option replay does not have */
    et_node self = node(30, ET_SEND, "send");
    self.comm_src = self.comm_dst = 0;
    self.comm_bytes = 1024;
    write_rank("self", 0, 1, &self, 1);
    expect_replay_error("self", "node id 30: comm_dst 0 is its own rank");
    /* a rank that is no whole number is named as written (it read as -1) */
    write_groups("order", "{\"g\": [0, 0.5]}");
    expect_replay_error("order", "group \"g\": rank 0.5 is not one of the job's ranks (allowed: "
                                 "whole numbers 0 to 1)");
    /* two ranks that each receive before they send: neither ever starts */
    for (int rank = 0; rank < 2; rank++) {
        uint64_t after[1] = {20};
        et_node pair[2] = {node(20, ET_RECV, "recv"), node(21, ET_SEND, "send")};
        pair[0].comm_src = pair[1].comm_dst = 1 - rank;
        pair[0].comm_dst = pair[1].comm_src = rank;
        pair[0].comm_bytes = pair[1].comm_bytes = 4096;
        pair[1].deps = after;
        pair[1].ndeps = pair[1].ndata = 1;
        write_rank("stuck", rank, 2, pair, 2);
    }
    expect_replay_error("stuck", "(rank 0): node id 20 never starts: the ranks wait on each other");
    /* --export-et-ranks alone */
    expect_input_error("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 "
                       "--export-et-ranks stage",
                       "add --export-et PREFIX");
}

/* A failed export leaves nothing: a folder in the way of a file. */
static void failed_export_writes_nothing(void **state)
{
    (void)state;
    char path[800];
    snprintf(path, sizeof path, "%s.comm_group.json", prefix_of("blocked"));
    assert_int_equal(mkdir(path, 0755) == 0 || access(path, F_OK) == 0, 1);
    char args[1000];
    snprintf(args, sizeof args,
             "train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 --export-et %s",
             prefix_of("blocked"));
    cli_result r = cli_run(args);
    assert_int_not_equal(r.status, 0);
    cli_free(&r);
    snprintf(path, sizeof path, "%s.0.et", prefix_of("blocked"));
    assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/chakra", USIM_TEST_TMP);
    mkdir(dir, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_built_trace_times),
        cmocka_unit_test(kept_trace_times),
        cmocka_unit_test(recost_follows_the_roofline),
        cmocka_unit_test(exported_405b_replays_to_train),
        cmocka_unit_test(every_rank_replays_to_train),
        cmocka_unit_test(recost_moves_an_export),
        cmocka_unit_test(bad_traces_are_named),
        cmocka_unit_test(failed_export_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
