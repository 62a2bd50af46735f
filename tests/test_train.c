/*
 * The training step: pipeline bubbles that emerge from the schedule match
 * the 1F1B closed form, MFU and run totals follow their definitions, an
 * oversized plan is an error that says by how much, and the trace is valid
 * trace-event JSON.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "train/internal.h"
#include "ultrasim/train.h"

static wl_model model(const char *name)
{
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    if (wl_model_load(name, &m, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return m;
}

static train_result step(const wl_model *m, const wl_plan *p, const hw_system *s)
{
    train_result r;
    usim_error err;
    usim_error_clear(&err);
    if (train_step(m, p, s, &r, NULL, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return r;
}

static wl_plan plan(int tp, int pp, int dp, int mbs, int gbs, int seq)
{
    wl_plan p = {.tp = tp, .pp = pp, .dp = dp, .cp = 1, .ep = 1, .vp = 1, .mbs = mbs,
                 .gbs = gbs, .seq = seq, .dtype = USIM_BF16,
                 .recompute = WL_RECOMPUTE_SELECTIVE, .sp = tp > 1, .zero = 1,
                 .overlap_grad_reduce = true, .overlap_param_gather = true};
    usim_error err;
    if (wl_stack_load("megatron-core", &p.stack, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return p;
}

/* 1F1B over p stages of equal work: the step is (m + p - 1) x (f + b), so
 * a stage idles (p - 1)/(m + p - 1) of it. With 4 stages of 8 layers and 12
 * micro-batches that is 3/15 = 20%; the simulated bubble lands there, a
 * little lower because the busiest (last) stage also runs the LM head. */
static void bubble_matches_closed_form(void **state)
{
    (void)state;
    wl_model m = model("llama2-7b"); /* 32 layers: 8 per stage */
    hw_system s = load_system("dgx-h100", 4);
    wl_plan p = plan(1, 4, 1, 1, 12, 2048);
    train_result r = step(&m, &p, &s);
    assert_close(r.bubble_s / r.step_time_s, 3.0 / 15, 0.12);
    /* More micro-batches shrink it as the closed form says. */
    p.gbs = 48;
    train_result r2 = step(&m, &p, &s);
    assert_close(r2.bubble_s / r2.step_time_s, 3.0 / 51, 0.15);
    /* Interleaving with 2 virtual stages halves the bubble. */
    p.vp = 2;
    train_result r3 = step(&m, &p, &s);
    assert_close(r3.bubble_s / r3.step_time_s, 1.5 / 49.5, 0.25);
}

/* ZB-H1 moves the weight-gradient GEMMs (W) out of the backward: with equal
 * stages the bubble falls from (p - 1)(F + B + W) to (p - 1)(F + B - W), by
 * 2 (p - 1) W, and the work is the same. With selective recomputation of the
 * attention core only, the backward's GEMMs are twice the forward's, so W is
 * a third of a micro-batch's GEMM time. */
static void zero_bubble_matches_closed_form(void **state)
{
    (void)state;
    wl_model m = model("llama2-7b"); /* 32 layers: 8 per stage */
    hw_system s = load_system("dgx-h100", 4);
    wl_plan p = plan(1, 4, 1, 1, 12, 2048);
    train_result one = step(&m, &p, &s);
    p.schedule = WL_SCHED_ZB_H1;
    train_result zb = step(&m, &p, &s);
    double w = zb.busy_s[TRAIN_GEMM] / 3 / 12;
    assert_close(one.busy_s[TRAIN_GEMM], zb.busy_s[TRAIN_GEMM], 1e-9);
    assert_close(one.bubble_s - zb.bubble_s, 2 * 3 * w, 0.15);
    assert_close(one.step_time_s - zb.step_time_s, 2 * 3 * w, 0.15);
    const char *base = "train --model llama2-7b --hw dgx-h100 --chips 4 --pp 4 --gbs 12 "
                       "--seq 2048 ";
    char args[200];
    snprintf(args, sizeof args, "%s--schedule zb-h1 --vp 2", base);
    expect_input_error(args, "zb-h1 runs one model chunk a pipeline rank (VP 1, not 2)");
    snprintf(args, sizeof args, "%s--schedule zb", base);
    expect_input_error(args, "'zb' is not one of 1f1b, zb-h1");
}

/* With EP overlap each all-to-all runs beside one block of the paired
 * chunk (DeepSeek-V3's Figure 4): a forward of 1 s attention and 1.5 s MLP
 * beside a backward of 2 s and 3 s, each with two all-to-alls of 2 s. The
 * forward's hide behind the backward's 3 s and 2 s blocks; the backward's
 * outlast the forward's 1.5 s and 1 s by 0.5 s and 1 s. A block beside an
 * all-to-all of A that holds a share h of the cores ends after
 * max(A, C + h A). */
static void ep_all_to_alls_pair_with_blocks(void **state)
{
    (void)state;
    train_costs fwd, bwd;
    memset(&fwd, 0, sizeof fwd);
    memset(&bwd, 0, sizeof bwd);
    fwd.s[TRAIN_GEMM] = 2.5;
    fwd.mlp_s = 1.5;
    bwd.s[TRAIN_GEMM] = 5.0;
    bwd.mlp_s = 3.0;
    fwd.s[TRAIN_EP_COMM] = bwd.s[TRAIN_EP_COMM] = 4.0;
    train_costs f = fwd, b = bwd;
    train_hide_ep(&fwd, &bwd, 0.0);
    assert_close(fwd.s[TRAIN_EP_COMM], 0.0, 0);
    assert_close(bwd.s[TRAIN_EP_COMM], 1.5, 1e-12);
    /* holding a quarter of the cores, each all-to-all costs its partner at
     * least a quarter of its time: 0.5 + 0.5 forward, 0.5 + 1 backward */
    train_costs full = b;
    train_hide_ep(&f, &b, 0.25);
    assert_close(f.s[TRAIN_EP_COMM], 1.0, 1e-12);
    assert_close(b.s[TRAIN_EP_COMM], 1.5, 1e-12);
    /* a backward that also recomputes its forward runs four; the two with no
     * partner block show whole */
    full.s[TRAIN_EP_COMM] = 8.0;
    train_costs f2 = fwd;
    f2.s[TRAIN_EP_COMM] = 4.0;
    train_hide_ep(&f2, &full, 0.0);
    assert_close(full.s[TRAIN_EP_COMM], 1.5 + 4.0, 1e-12);
}

/* What a step's recorded calls of kind move (op < 0: any op; group < 0:
 * any data-parallel group, else a train_dp_group): their bytes all together, counts
 * included, the largest call's, and whether one moves exactly `bytes`. */
typedef struct call_stats {
    double total, largest;
    bool exact;
} call_stats;

/* A step with what each of its tasks is made of (train_record_free after). */
static train_record recorded_step(const wl_model *m, const wl_plan *p, const hw_system *s)
{
    train_result r;
    train_record rec;
    memset(&rec, 0, sizeof rec);
    usim_error err;
    usim_error_clear(&err);
    if (train_step_recorded(m, p, s, &r, NULL, &rec, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return rec;
}

static call_stats recorded_calls(const wl_model *m, const wl_plan *p, const hw_system *s,
                                 train_kind kind, int op, int group, double bytes)
{
    train_record rec = recorded_step(m, p, s);
    call_stats st = {0, 0, false};
    for (int i = 0; i < rec.nops; i++)
        for (int j = 0; j < rec.ops[i].ncalls[kind]; j++) {
            const train_call *c = &rec.ops[i].calls[kind][j];
            if ((op >= 0 && c->op != op) || (group >= 0 && c->dp_group != group))
                continue;
            st.total += c->bytes * c->count;
            st.largest = fmax(st.largest, c->bytes);
            st.exact = st.exact || c->bytes == bytes;
        }
    train_record_free(&rec);
    return st;
}

/* Expert TP = TP (Megatron-Core's default): each TP rank dispatches its own
 * sequence-parallel share over the EP group, then the TP ranks all-gather
 * what they received. Mixtral 8x7B at TP 2, EP 8, 4,096 tokens a
 * micro-batch, top-2 of 4,096-wide tokens: all-to-alls of 4096 x 2 x 4096 x
 * 2 B / 2 = 33,554,432 bytes a rank and a TP all-gather of 67,108,864. */
static void expert_tp_dispatches_the_rank_share(void **state)
{
    (void)state;
    wl_model m = model("mixtral-8x7b");
    hw_system s = load_system("dgx-h100", 32);
    wl_plan p = plan(2, 1, 16, 1, 64, 4096);
    p.ep = 8;
    p.etp = 2;
    assert_close(recorded_calls(&m, &p, &s, TRAIN_EP_COMM, NET_ALLTOALL, -1, 0).largest,
                 33554432.0, 0);
    assert_close(recorded_calls(&m, &p, &s, TRAIN_TP_COMM, NET_ALLGATHER, -1, 0).largest,
                 67108864.0, 0);
}

/* Expert weights reduce their gradients over the ranks that hold the same
 * experts (Megatron-Core's expert data parallelism), the dense ones over DP.
 * Qwen3-30B-A3B on 16 chips at EP 8: 16 local experts x 48 layers x 3 x 2048
 * x 768 = 3,623,878,656 expert weights a chip, reduced in 16-bit over 2 ranks
 * 8 apart (7,247,757,312 bytes); the other 1,541,093,376 (30,532,122,624
 * less 128 x 48 x 4,718,592) over all 16 (3,082,186,752 bytes). */
static void expert_gradients_reduce_over_expert_dp(void **state)
{
    (void)state;
    wl_model m = model("qwen3-30b-a3b");
    hw_system s = load_system("dgx-h100", 16);
    wl_plan p = plan(1, 1, 16, 1, 64, 4096);
    p.ep = 8;
    p.overlap_grad_reduce = false;
    train_result r = step(&m, &p, &s);
    assert_int_equal(r.edp.size, 2);
    assert_int_equal(r.edp.stride, 8);
    assert_int_equal(r.dp.size, 16);
    assert_close(recorded_calls(&m, &p, &s, TRAIN_DP_COMM, -1, TRAIN_DP_EXPERT, 0).largest, 7247757312.0, 0);
    assert_close(recorded_calls(&m, &p, &s, TRAIN_DP_COMM, -1, TRAIN_DP_DENSE, 0).largest, 3082186752.0, 0);
}

/* ZeRO-2 shards the gradients, so it reduce-scatters them after every
 * micro-batch's backward, where ZeRO-1 accumulates and reduces once: 4
 * micro-batches a step move 4 times ZeRO-1's 16,060,522,496 bytes (Llama 3
 * 8B's 8,030,261,248 weights in 16 bits). */
static void zero2_reduces_every_microbatch(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 32, 2048);
    double once = recorded_calls(&m, &p, &s, TRAIN_DP_COMM, NET_REDUCE_SCATTER, -1, 0).total;
    assert_close(once, 16060522496.0, 1e-9);
    p.zero = 2;
    assert_close(recorded_calls(&m, &p, &s, TRAIN_DP_COMM, NET_REDUCE_SCATTER, -1, 0).total,
                 4 * once, 1e-9);
}

/* HSDP: ZeRO-3 sharded over each node's 8 GPUs of 32 (Llama 3 8B, 4
 * replicas): every reduce-scatter of the shard group is followed by an
 * all-reduce of its 1/8 shard between the replicas, so the replicas move an
 * eighth of the reduce-scatters' bytes; the optimizer state is 12 bytes a
 * weight over 8, not 32 (8,030,261,248 x 12 / 8 = 12,045,391,872 bytes);
 * a shard group of all 32 is plain ZeRO-3, to the bit. */
static void hsdp_shards_in_node_and_replicates_across(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 32);
    wl_plan p = plan(1, 1, 32, 1, 64, 4096);
    p.zero = 3;
    train_result whole = step(&m, &p, &s);
    p.dp_shard = 32;
    assert_true(step(&m, &p, &s).step_time_s == whole.step_time_s);
    p.dp_shard = 8;
    train_result hsdp = step(&m, &p, &s);
    assert_int_equal(hsdp.dp.size, 8);
    assert_int_equal(hsdp.dpr.size, 4);
    assert_int_equal(hsdp.dpr.stride, 8);
    assert_close(hsdp.memory.optimizer, 12045391872.0, 1e-12);
    double scattered =
        recorded_calls(&m, &p, &s, TRAIN_DP_COMM, NET_REDUCE_SCATTER, TRAIN_DP_DENSE, 0).total;
    double replicated =
        recorded_calls(&m, &p, &s, TRAIN_DP_COMM, NET_ALLREDUCE, TRAIN_DP_REPLICA, 0).total;
    assert_true(scattered > 0);
    assert_close(replicated, scattered / 8, 1e-12);
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 32 --gbs 64 --seq 4096 "
                       "--zero 3 --dp-shard 12",
                       "--dp-shard: 12 does not divide DP x CP = 32; allowed: a divisor of 32");
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 32 --gbs 64 --seq 4096 "
                       "--zero 0 --dp-shard 8",
                       "--dp-shard: a shard group needs a sharded state");
    expect_input_error("train --model mixtral-8x7b --hw dgx-h100 --chips 32 --gbs 64 --seq 4096 "
                       "--zero 3 --ep 8 --dp-shard 8",
                       "HSDP of a mixture-of-experts model (mixtral-8x7b) is not modelled");
}

/* HBM bytes of elementwise work a step records. */
/* A step's FLOPs (or bytes) of one kind of work, over all its tasks. */
static double step_total(const wl_model *m, const wl_plan *p, const hw_system *s,
                         train_kind kind, bool flops)
{
    train_record rec = recorded_step(m, p, s);
    double sum = 0;
    for (int i = 0; i < rec.nops; i++)
        sum += flops ? rec.ops[i].flops[kind] : rec.ops[i].bytes[kind];
    train_record_free(&rec);
    return sum;
}

static double elementwise_bytes(const wl_model *m, const wl_plan *p, const hw_system *s)
{
    return step_total(m, p, s, TRAIN_ELEMENTWISE, false);
}

/* Context parallelism runs ring attention balanced, as Transformer Engine
 * and PyTorch shard it (chunks i and 2 CP - 1 - i on rank i): each rank
 * computes its own two chunks causally and half of every block that comes
 * round, 1 / CP of the causal core. Llama 3 8B, 8,192 tokens, on 8 H100s:
 * one sequence a rank at CP 1, four sequences shared by four ranks at CP 4,
 * the same attention FLOPs a rank: 32 layers x (4 + 10) d x 32 heads x
 * 8,192 x 8,193 / 2 useful (query, key) pairs. */
static void ring_attention_is_balanced(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 8, 8192);
    double pairs = 8192.0 * 8193.0 / 2.0, closed = 32 * 14.0 * 128 * 32 * pairs;
    assert_close(step_total(&m, &p, &s, TRAIN_ATTENTION, true), closed, 1e-12);
    p.dp = 2;
    p.cp = 4;
    assert_close(step_total(&m, &p, &s, TRAIN_ATTENTION, true), closed, 1e-12);
}

/* FSDP2's copies on the compute stream: every gather's output split into
 * the parameters (read and write 16 bits: 4 bytes a weight), twice a
 * micro-batch under ZeRO-3, and every reduce-scatter's input packed from
 * the 16-bit gradients in fp32 (2 + 4 bytes). Llama 3.2 1B's
 * 1,235,814,400 weights on 8 GPUs, 2 micro-batches a step: 14 bytes a
 * weight each, 34,602,803,200 bytes more than with no copies. */
static void fsdp_copies_move_each_weight(void **state)
{
    (void)state;
    wl_model m = model("llama3.2-1b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 16, 2048);
    usim_error err;
    assert_int_equal(wl_stack_load("torchtitan", &p.stack, &err), USIM_OK);
    p.zero = 3;
    double copied = elementwise_bytes(&m, &p, &s);
    p.stack.fsdp_copies = false;
    double none = elementwise_bytes(&m, &p, &s);
    assert_close(copied - none, 1235814400.0 * 14 * 2, 1e-9);
    /* a shard group of one shards nothing: no copies */
    p.stack.fsdp_copies = true;
    p.dp_shard = 1;
    double one = elementwise_bytes(&m, &p, &s);
    p.stack.fsdp_copies = false;
    assert_close(elementwise_bytes(&m, &p, &s), one, 1e-12);
}

/* Transformer Engine writes a tensor-scaled FP8 input's transposed copy
 * only where FP8 GEMMs take just the TN layout: on a B200 (any layout) a
 * delayed-scaling cast moves 3 bytes an element, on Hopper's rule 4, and
 * current scaling 6 there: the 2 bytes current scaling adds are twice the
 * byte the transposed copy costs, over the same elements. */
static void fp8_casts_skip_the_transpose_on_blackwell(void **state)
{
    (void)state;
    wl_model m = model("llama3.2-1b");
    hw_system s = load_system("dgx-b200", 8);
    wl_plan p = plan(1, 1, 8, 1, 16, 2048);
    p.dtype = USIM_FP8;
    p.fp8_recipe = WL_FP8_DELAYED;
    p.stack.fp8_activation_amax_bytes = 0; /* every current-scaling cast its own amax pass */
    assert_true(s.chip.matrix.fp8_any_layout);
    double any = elementwise_bytes(&m, &p, &s);
    s.chip.matrix.fp8_any_layout = false;
    double tn = elementwise_bytes(&m, &p, &s);
    p.fp8_recipe = WL_FP8_CURRENT;
    double current_tn = elementwise_bytes(&m, &p, &s);
    assert_true(tn > any);
    assert_close(current_tn - tn, 2 * (tn - any), 1e-9);
}

/* Under current scaling Transformer Engine's activation kernels take the
 * amax of what they write (a stack running them: Megatron-Core's default
 * runs its own, so its figure is 0), so the casts of the down projection's input and
 * of the gate/up projection's output gradient skip the 2-byte amax pass:
 * Llama 3.2 1B (FFN 8,192, gated), 2,048 tokens a micro-batch, 16 layers,
 * 2 micro-batches: 2 x (2048 x 8192 + 2048 x 2 x 8192) x 16 x 2 =
 * 3,221,225,472 bytes fewer. */
static void activation_kernels_take_the_amax(void **state)
{
    (void)state;
    wl_model m = model("llama3.2-1b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 16, 2048);
    p.dtype = USIM_FP8;
    p.fp8_recipe = WL_FP8_CURRENT;
    assert_true(p.stack.fp8_activation_amax_bytes == 0); /* Megatron-Core's own activation */
    p.stack.fp8_activation_amax_bytes = 2; /* as with use_te_activation_func */
    double fused = elementwise_bytes(&m, &p, &s);
    p.stack.fp8_activation_amax_bytes = 0;
    assert_close(elementwise_bytes(&m, &p, &s) - fused, 3221225472.0, 1e-9);
}

/* DeepSeek-V3's framework sends tokens to their experts in FP8 with a scale
 * per 128 elements and brings them back in BF16 (report section 3.3.3):
 * Qwen3-30B-A3B's 4,096 x 8 routed copies of 2,048 elements go out as
 * 67,108,864 x 1.03125 = 69,206,016 bytes and return as 134,217,728. */
static void dispatch_type_is_the_stacks(void **state)
{
    (void)state;
    wl_model m = model("qwen3-30b-a3b");
    hw_system s = load_system("dgx-h100", 16);
    wl_plan p = plan(1, 1, 16, 1, 64, 4096);
    p.ep = 8;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(wl_stack_load("hai-llm", &p.stack, &err), USIM_OK);
    assert_close(p.stack.moe_dispatch_bytes, 1.03125, 0);
    assert_true(recorded_calls(&m, &p, &s, TRAIN_EP_COMM, NET_ALLTOALL, -1, 69206016.0).exact);
    assert_true(recorded_calls(&m, &p, &s, TRAIN_EP_COMM, NET_ALLTOALL, -1, 134217728.0).exact);
    assert_int_equal(wl_stack_load("megatron-core", &p.stack, &err), USIM_OK);
    assert_close(p.stack.moe_dispatch_bytes, 2.0, 0);
}

/* Megatron-Core's --recompute-modules moe reruns a MoE layer whole from its
 * input in the backward, all-to-alls included: a layer's dispatch and
 * combine go out three times a micro-batch instead of twice (forward,
 * backward, and the forward again), and the layer keeps none of its routed
 * activations (285,212,672 bytes a layer here). */
static void moe_module_recomputes_the_layer(void **state)
{
    (void)state;
    wl_model m = model("qwen3-30b-a3b");
    hw_system s = load_system("dgx-h100", 16);
    wl_plan p = plan(1, 1, 16, 1, 64, 4096);
    p.ep = 8;
    double kept = wl_layer_activation_bytes(&m, &p);
    double twice = recorded_calls(&m, &p, &s, TRAIN_EP_COMM, NET_ALLTOALL, -1, 0).total;
    p.stack.recompute_moe = true;
    assert_close(recorded_calls(&m, &p, &s, TRAIN_EP_COMM, NET_ALLTOALL, -1, 0).total,
                 1.5 * twice, 1e-12);
    /* the dispatched tokens (16-bit; Megatron-Core weighs them inside the
     * experts, so no combined copy) and gate, up and product (3 x 16-bit)
     * of 4,096 x 8 routed copies, 2,048 and 768 wide */
    double routed = 4096.0 * 8;
    assert_close(kept - wl_layer_activation_bytes(&m, &p), routed * (2 * 2048 + 3 * 2 * 768.0),
                 1e-12);
}

/* MFU is model FLOPs / (time x chips x peak); model FLOPs are 6N + 12 L H Q T
 * per token. */
static void mfu_by_definition(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 64, 4096);
    p.zero = 3;
    train_result r = step(&m, &p, &s);
    double n = 32 * (4096.0 * 4096 * 2 + 4096.0 * 1024 * 2 + 3 * 4096.0 * 14336) +
               128256.0 * 4096;
    double per_token = 6 * n + 12.0 * 32 * 32 * 128 * 4096;
    assert_close(r.model_flops_per_step, per_token * 64 * 4096, 1e-12);
    assert_close(r.mfu, r.model_flops_per_step / (r.step_time_s * 8 * 989.4e12), 1e-12);
    assert_close(r.tokens_per_s_per_chip, 64 * 4096 / r.step_time_s / 8, 1e-12);
    /* Full recompute runs the forward twice: HFU exceeds MFU by the forward's share. */
    p.recompute = WL_RECOMPUTE_FULL;
    r = step(&m, &p, &s);
    assert_true(r.hfu > r.mfu * 1.25 && r.hfu < r.mfu * 1.40);
}

/* ZeRO-3 gathers a layer's weights once for its backward, full
 * recomputation's second forward included (FSDP gathers a unit once for
 * both): without prefetching the DP traffic is the same as under selective
 * recomputation, one gather per forward, one gather and one reduce-scatter
 * per backward. */
static void zero3_recompute_gathers_once(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 16, 4096);
    p.zero = 3;
    p.overlap_param_gather = false;
    double selective = step(&m, &p, &s).exposed_s[TRAIN_DP_COMM];
    p.recompute = WL_RECOMPUTE_FULL;
    double full = step(&m, &p, &s).exposed_s[TRAIN_DP_COMM];
    assert_true(selective > 0);
    assert_close(full, selective, 1e-9);
}

/* Doubling data parallelism with the batch per replica fixed doubles the
 * tokens per step; the step time barely moves inside a node. */
static void weak_scaling_in_a_node(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s4 = load_system("dgx-h100", 4), s8 = load_system("dgx-h100", 8);
    wl_plan p4 = plan(1, 1, 4, 1, 32, 2048), p8 = plan(1, 1, 8, 1, 64, 2048);
    p4.zero = p8.zero = 3;
    train_result a = step(&m, &p4, &s4), b = step(&m, &p8, &s8);
    assert_close(b.tokens_per_s, 2 * a.tokens_per_s, 0.05);
}

/* Overlapping the gradient reduction with the backward can only help. */
static void overlap_hides_communication(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 64);
    wl_plan p = plan(8, 1, 8, 1, 32, 4096);
    train_result on = step(&m, &p, &s);
    p.overlap_grad_reduce = false;
    train_result off = step(&m, &p, &s);
    assert_true(off.step_time_s > on.step_time_s);
    assert_true(off.exposed_s[TRAIN_DP_COMM] > on.exposed_s[TRAIN_DP_COMM]);
}

/* FP8 on H100: Transformer Engine runs the backward's dgrad and wgrad with
 * split accumulation (efficiency_fp8_split_acc), the forward fast. The
 * backward is two GEMMs of the forward's FLOPs, so slowing only them moves
 * the step's GEMM time by two thirds of what slowing every GEMM does. */
static void fp8_backward_accumulates_split(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 8, 4096);
    p.dtype = USIM_FP8;
    hw_matrix *x = &s.chip.matrix;
    assert_close(x->efficiency_fp8_split_acc, 0.60, 0);
    double fp8 = x->efficiency_fp8, split = x->efficiency_fp8_split_acc;
    double mixed = step(&m, &p, &s).busy_s[TRAIN_GEMM];
    x->efficiency_fp8_split_acc = fp8; /* all fast */
    double fast = step(&m, &p, &s).busy_s[TRAIN_GEMM];
    x->efficiency_fp8 = x->efficiency_fp8_split_acc = split; /* all split */
    double slow = step(&m, &p, &s).busy_s[TRAIN_GEMM];
    assert_true(fast < mixed && mixed < slow);
    assert_close(mixed - fast, (slow - fast) * 2.0 / 3.0, 0.03);
}

/* Time, energy and cost of a run follow from the step. */
static void run_totals(void **state)
{
    (void)state;
    wl_model m = model("llama3-8b");
    hw_system s = load_system("dgx-h100", 8);
    wl_plan p = plan(1, 1, 8, 1, 64, 4096);
    p.zero = 3;
    train_result r = step(&m, &p, &s);
    train_totals t = train_totals_for(&r, &s, 1e12);
    double steps = 1e12 / (64 * 4096.0);
    assert_close(t.steps, steps, 1e-12);
    assert_close(t.seconds, steps * r.step_time_s, 1e-12);
    assert_close(t.cost_usd, t.seconds / 3600 * 8 * 6.88, 1e-9);
    assert_close(t.energy_kwh, t.seconds * 8 * 700 / 3.6e6, 1e-9);
}

static void oversized_plan_is_an_error(void **state)
{
    (void)state;
    cli_result r = cli_run("train --model llama3.1-405b --hw dgx-h100 --chips 8 --tp 8 --gbs 8 "
                           "--seq 4096");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "does not fit"));
    assert_non_null(strstr(r.err, "GiB too much"));
    assert_string_equal(r.out, "");
    cli_free(&r);
    r = cli_run("train --model llama3-8b --hw dgx-h100 --tp 3 --gbs 8 --seq 4096");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--tp"));
    cli_free(&r);
    r = cli_run("train --model llama3-8b --hw dgx-a100-80gb --gbs 8 --seq 4096 --dtype fp8 "
                "--zero 3");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no fp8"));
    cli_free(&r);
    r = cli_run("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 --attention flashy");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "'flashy' is not one of fused, per-head, unfused"));
    assert_string_equal(r.out, "");
    cli_free(&r);
}

/* The trace is trace-event JSON: complete events with a start and a
 * duration in microseconds, named tracks per stage. */
static void trace_is_valid(void **state)
{
    (void)state;
    char path[512], args[800];
    snprintf(path, sizeof path, "%s/step.trace.json", USIM_TEST_TMP);
    remove(path);
    snprintf(args, sizeof args,
             "train --model llama2-7b --hw dgx-h100 --chips 16 --tp 2 --pp 4 --gbs 16 --seq 2048 "
             "--trace %s --json",
             path);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    json_t *res = json_loads(r.out, 0, NULL);
    cli_free(&r);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    json_t *events = json_object_get(doc, "traceEvents");
    assert_true(json_array_size(events) > 50);
    size_t i;
    json_t *e;
    double end = 0;
    int stages_named = 0;
    json_array_foreach(events, i, e)
    {
        const char *ph = json_string_value(json_object_get(e, "ph"));
        assert_non_null(ph);
        if (strcmp(ph, "M") == 0) {
            stages_named += strcmp(json_string_value(json_object_get(e, "name")),
                                   "process_name") == 0;
            continue;
        }
        assert_string_equal(ph, "X");
        assert_non_null(json_string_value(json_object_get(e, "name")));
        double ts = json_number_value(json_object_get(e, "ts"));
        double dur = json_number_value(json_object_get(e, "dur"));
        assert_true(ts >= 0 && dur > 0);
        end = fmax(end, ts + dur);
    }
    assert_int_equal(stages_named, 4);
    /* The last event ends when the step does. */
    assert_close(end / 1e6, json_number_value(json_object_get(res, "step_time_s")), 1e-6);
    json_decref(doc);
    json_decref(res);
}

/* Expert tensor parallel (Megatron-Core's MoE parallel folding). Mixtral
 * 8x7B on 16 H100s, TP 2, PP 2 (DP 4): EP 8 cannot divide DP 4 with experts
 * split as the dense layers are (expert TP 2), but folds over TP x DP with
 * expert TP 1, which a run that names no expert TP then takes. At EP 4, expert TP 1 instead of 2 doubles the expert weights
 * a chip holds: stage 0's 16 layers of 8 experts of 3 x 4096 x 14336
 * (22,548,578,304 parameters) at 2 bytes, / 4 instead of / 8: 5,637,144,576
 * bytes more; the expert FLOPs per chip stay the same. */
static void expert_tensor_parallel_folds(void **state)
{
    (void)state;
    const char *base = "train --model mixtral-8x7b --hw dgx-h100 --chips 16 --tp 2 --pp 2 "
                       "--gbs 16 --seq 4096 --json";
    char args[300];
    snprintf(args, sizeof args, "%s --ep 8 --etp 2", base);
    expect_input_error(args, "EP 8 must divide DP x CP (4), or with --etp below TP");
    snprintf(args, sizeof args, "%s --ep 8 --etp 1", base);
    json_t *folded = cli_json(args);
    assert_int_equal((int)json_number_value(json_object_get(
                         json_object_get(folded, "plan"), "etp")),
                     1);
    snprintf(args, sizeof args, "%s --ep 8", base);
    json_t *unset = cli_json(args);
    assert_int_equal((int)json_number_value(json_object_get(json_object_get(unset, "plan"),
                                                            "etp")),
                     1);
    assert_close(json_number_value(json_object_get(unset, "step_time_s")),
                 json_number_value(json_object_get(folded, "step_time_s")), 1e-12);
    json_decref(unset);
    json_decref(folded);
    snprintf(args, sizeof args, "%s --ep 4", base);
    json_t *split = cli_json(args);
    snprintf(args, sizeof args, "%s --ep 4 --etp 1", base);
    json_t *whole = cli_json(args);
    double w2 = json_number_value(json_object_get(json_object_get(split, "memory"), "weights"));
    double w1 = json_number_value(json_object_get(json_object_get(whole, "memory"), "weights"));
    assert_close(w1 - w2, 5637144576.0, 1e-9);
    assert_close(json_number_value(json_object_get(whole, "hardware_flops_per_step")),
                 json_number_value(json_object_get(split, "hardware_flops_per_step")), 1e-12);
    json_decref(split);
    json_decref(whole);
    snprintf(args, sizeof args, "%s --ep 4 --etp 3", base);
    expect_input_error(args, "expert TP 3 is not modelled; allowed: 1 (experts folded over TP) "
                             "or TP (2, experts split as the dense layers)");
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --tp 2 --etp 1 --gbs 8 "
                       "--seq 2048",
                       "expert TP 1 needs a mixture-of-experts model");
    expect_input_error("train --model mixtral-8x7b --hw trn2.48xlarge --chips 16 --tp 8 "
                       "--tp-unit core --etp 1 --gbs 16 --seq 2048",
                       "give --etp with TP counted in chips");
    /* the degree that does not divide the chips is the one named (--pp 3 named --tp) */
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --gbs 64 --seq 4096 "
                       "--pp 3",
                       "--pp: TP 1 x PP 3 x CP 1 = 3 does not divide the 8 chips");
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --gbs 64 --seq 4096 "
                       "--tp 2 --cp 3",
                       "--cp: TP 2 x PP 1 x CP 3 = 6 does not divide the 8 chips");
    /* a plan's own error comes before "does not fit", which it would make
     * meaningless (fp8 on an A100 read as 432 GiB too much) */
    expect_input_error("train --model llama3-70b --hw dgx-a100-80gb --chips 8 --tp 1 --gbs 8 "
                       "--seq 4096 --dtype fp8",
                       "--dtype: a100-80gb has no fp8 matrix support");
    /* a pipeline of a quarter million micro-batches is refused before it is
     * simulated (it took 12 s and 1.9 GB, or over 10 GB with more) */
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --gbs 262144 --seq 128 "
                       "--pp 8",
                       "--gbs: 262144 micro-batches a pipeline x PP 8 x VP 1 = 2097152 passes to "
                       "simulate, over the 524288 allowed");
    /* without a pipeline too: gradient accumulation runs micro-batch by micro-batch */
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --tp 8 --gbs 1048576 "
                       "--seq 128",
                       "--gbs: 1048576 micro-batches a pipeline x PP 1 x VP 1 = 1048576 passes");
    /* options this plan or model never reads changed nothing, silently */
    static const char *const UNREAD[][2] = {
        {"--schedule zb-h1", "--schedule: zb-h1 fills a pipeline's bubbles, and PP 1 has none"},
        {"--account-for-loss-in-pipeline-split",
         "--account-for-loss-in-pipeline-split: splits the layers over pipeline stages; PP 1 "
         "has one stage"},
        {"--overlap-ep-comm on",
         "--overlap-ep-comm: on hides expert-parallel all-to-alls, and llama3-8b is dense"},
        {"--recompute-modules moe_act",
         "--recompute-modules: moe_act recomputes the experts' activation, and llama3-8b is "
         "dense"},
        {"--recompute-modules layernorm,moe",
         "--recompute-modules: moe recomputes the MoE layers, and llama3-8b is dense"},
        {"--recompute-modules layernorm,mla_up_proj",
         "mla_up_proj recomputes latent attention's up-projections, and llama3-8b has no latent "
         "attention"}};
    for (size_t i = 0; i < sizeof UNREAD / sizeof UNREAD[0]; i++) {
        snprintf(args, sizeof args, "train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 2048 %s",
                 UNREAD[i][0]);
        expect_input_error(args, UNREAD[i][1]);
    }
}

/* Megatron-Core's block recomputation (NVIDIA's recipes' recompute_num_layers):
 * Llama 3.2 1B on one H100, 16 layers, 4 recomputed whole. They keep only
 * their input, the other 12 everything: 4/16 of full recomputation's bytes
 * and 12/16 of none's. Their second forward costs 4/16 of what recomputing
 * all 16 adds to the step. */
static void block_recompute_takes_its_share(void **state)
{
    (void)state;
    const char *base = "train --model llama3.2-1b --hw dgx-h100 --chips 1 --gbs 4 --seq 4096 "
                       "--zero 0 --json --recompute ";
    double none = cli_number(base, "none", "memory", "activations");
    double full = cli_number(base, "full", "memory", "activations");
    assert_close(cli_number(base, "full --recompute-layers 4", "memory", "activations"),
                 full * 4 / 16 + none * 12 / 16, 1e-12);
    double t_none = cli_number(base, "none", NULL, "step_time_s");
    double t_full = cli_number(base, "full", NULL, "step_time_s");
    assert_close(cli_number(base, "full --recompute-layers 4", NULL, "step_time_s") - t_none,
                 (t_full - t_none) * 4 / 16, 1e-9);
    expect_input_error("train --model llama3.2-1b --hw dgx-h100 --chips 1 --gbs 4 --seq 4096 "
                       "--recompute-layers 4",
                       "apply to --recompute full only");
    expect_input_error("train --model llama3.2-1b --hw dgx-h100 --chips 2 --pp 2 --gbs 4 "
                       "--seq 4096 --recompute full --recompute-layers 9",
                       "9; allowed 1 to 8 (a pipeline rank's layers)");
}

/* base run as JSON, its plan (in *plan) recomputing as expected. */
static json_t *run_recomputing(const char *base, const char *recompute, json_t **plan)
{
    json_t *run = cli_json(base);
    *plan = json_object_get(run, "plan");
    assert_string_equal(json_string_value(json_object_get(*plan, "recompute")), recompute);
    return run;
}

/* Before whole layers, the cheap selective modules, as NVIDIA's recipes add
 * them to fit: Nemotron-4 340B on 128 H100s (TP 8, PP 8, VP 12, DP 2) needs
 * 81.4 GiB with the stack's own modules; recomputing the norms as well fits,
 * and the run is the one that names --recompute-modules layernorm. */
static void unnamed_recompute_adds_cheap_modules_first(void **state)
{
    (void)state;
    const char *base = "train --model nemotron4-340b --hw dgx-h100 --chips 128 --tp 8 --pp 8 "
                       "--vp 12 --gbs 32 --seq 4096 --json";
    json_t *plan, *chosen = run_recomputing(base, "selective", &plan);
    assert_string_equal(json_string_value(json_object_get(plan, "recompute_modules_added")),
                        "layernorm");
    assert_close(json_number_value(json_object_get(plan, "stack_modules_would_need_bytes")) /
                     (1024.0 * 1024 * 1024),
                 81.4, 0.1);
    char args[400];
    snprintf(args, sizeof args, "%s --recompute-modules layernorm", base);
    json_t *given = cli_json(args);
    assert_close(json_number_value(json_object_get(given, "step_time_s")),
                 json_number_value(json_object_get(chosen, "step_time_s")), 1e-12);
    assert_null(json_object_get(json_object_get(given, "plan"), "recompute_modules_added"));
    snprintf(args, sizeof args, "%s --recompute selective", base);
    expect_input_error(args, "does not fit: it needs 81.4 GiB");
    json_decref(chosen);
    json_decref(given);
}

/* A run that names no recomputation and does not fit under selective
 * recomputes whole the fewest layers that fit, as a recipe would set
 * recompute_num_layers: Llama 3.2 1B, 8 x 8192 tokens on one H100 needs
 * 110 GiB under selective; with N layers whole it fits at N = 8, not 7. */
static void unnamed_recompute_fits_the_fewest_layers(void **state)
{
    (void)state;
    const char *base = "train --model llama3.2-1b --hw dgx-h100 --chips 1 --gbs 8 --mbs 8 "
                       "--seq 8192 --zero 0 --json";
    json_t *plan, *chosen = run_recomputing(base, "full", &plan);
    int n = (int)json_integer_value(json_object_get(plan, "recompute_layers"));
    assert_int_equal(n, 8);
    assert_true(json_number_value(json_object_get(plan, "selective_would_need_bytes")) >
                80.0 * 1024 * 1024 * 1024);
    char args[400];
    snprintf(args, sizeof args, "%s --recompute full --recompute-layers %d", base, n);
    json_t *given = cli_json(args);
    assert_close(json_number_value(json_object_get(given, "step_time_s")),
                 json_number_value(json_object_get(chosen, "step_time_s")), 1e-12);
    assert_null(json_object_get(json_object_get(given, "plan"), "selective_would_need_bytes"));
    snprintf(args, sizeof args, "%s --recompute full --recompute-layers %d", base, n - 1);
    expect_input_error(args, "does not fit");
    snprintf(args, sizeof args, "%s --recompute selective", base);
    expect_input_error(args, "does not fit: it needs 110.2 GiB");
    /* where recomputing every layer does not fit either, the message says
     * what it would need and advises past it */
    expect_input_error("train --model llama3.2-1b --hw dgx-h100 --chips 2 --pp 2 --gbs 8 --mbs 8 "
                       "--seq 65536 --zero 0",
                       "needs 434.9 GiB per chip (recomputing every layer whole: 191.5 GiB) "
                       "(pipeline stage 1) of the 80.0 GiB HBM, 354.9 GiB too much (weights 1.4, "
                       "gradients 1.4, optimizer 8.4, activations 296.5, temporary 125.2, reserve "
                       "2.0 GiB); use a smaller --mbs");
    /* a zero-bubble schedule keeps selective recomputation, and says so */
    expect_input_error("train --model llama3.2-1b --hw dgx-h100 --chips 2 --pp 2 --gbs 8 --mbs 8 "
                       "--seq 16384 --zero 0 --schedule zb-h1",
                       "does not fit: it needs 118.6 GiB per chip (pipeline stage 1) of the 80.0 "
                       "GiB HBM, 38.6 GiB too much (weights 1.4, gradients 1.4, optimizer 8.4, "
                       "activations 74.1, temporary 31.3, reserve 2.0 GiB); use --schedule 1f1b");
    json_decref(chosen);
    json_decref(given);
}

/* The Llama 3 paper's schedule, Megatron-Core's options: a group of
 * micro-batches a chunk needs interleaving, lies between PP and the step's
 * micro-batches and leaves no last group smaller than PP (which can
 * deadlock); the embedding and loss in the split need it even.
 * Llama 2 13B on 8 H100s, PP 2, DP 4, 8 micro-batches. */
static void llama3_schedule_options(void **state)
{
    (void)state;
    const char *base = "train --model llama2-13b --hw dgx-h100 --chips 8 --pp 2 --gbs 32 "
                       "--seq 2048 --json";
    char args[400];
    snprintf(args, sizeof args, "%s --microbatch-group-size-per-virtual-pipeline-stage 4", base);
    expect_input_error(args, "needs interleaving (--vp above 1)");
    snprintf(args, sizeof args, "%s --vp 2 --microbatch-group-size-per-virtual-pipeline-stage 1",
             base);
    expect_input_error(args, "1; allowed 2 (PP) to 8 (the step's micro-batches)");
    /* 8 micro-batches in groups of 7 leave one: fewer than PP, a circle of waits */
    snprintf(args, sizeof args, "%s --vp 2 --microbatch-group-size-per-virtual-pipeline-stage 7",
             base);
    expect_input_error(args, "leaves a last group of 1 micro-batches, fewer than PP (2)");
    snprintf(args, sizeof args, "%s --vp 4 --account-for-embedding-in-pipeline-split "
                                "--account-for-loss-in-pipeline-split", base);
    expect_input_error(args, "42 slots must split evenly over PP x VP = 8 virtual stages");
    snprintf(args, sizeof args, "%s --vp 3 --account-for-embedding-in-pipeline-split "
                                "--account-for-loss-in-pipeline-split "
                                "--microbatch-group-size-per-virtual-pipeline-stage 4", base);
    json_t *j = cli_json(args);
    json_t *plan = json_object_get(j, "plan");
    assert_int_equal((int)json_number_value(json_object_get(plan, "vp_group")), 4);
    assert_true(json_is_true(json_object_get(plan, "embedding_in_pipeline_split")));
    json_decref(j);
    /* PP 2 x VP 21 = 42 virtual stages for 40 layers runs only with both
     * counted: named or not, the same plan */
    snprintf(args, sizeof args, "%s --vp 21", base);
    json_t *unnamed = cli_json(args);
    snprintf(args, sizeof args, "%s --vp 21 --account-for-embedding-in-pipeline-split "
                                "--account-for-loss-in-pipeline-split", base);
    json_t *named = cli_json(args);
    plan = json_object_get(unnamed, "plan");
    assert_true(json_is_true(json_object_get(plan, "embedding_in_pipeline_split")));
    assert_true(json_is_true(json_object_get(plan, "loss_in_pipeline_split")));
    assert_true(json_number_value(json_object_get(unnamed, "step_time_s")) ==
                json_number_value(json_object_get(named, "step_time_s")));
    json_decref(unnamed);
    json_decref(named);
    snprintf(args, sizeof args, "%s --vp 22", base);
    expect_input_error(args, "PP x VP = 44 virtual stages, but the model has 40 layers");
}

/* TP counted in NeuronCores: every core is a rank of the TP collectives.
 * Llama 3.2 1B on one Trn2 chip, TP 4 cores, no SP: each of 4 micro-batches
 * all-reduces 2,048 x 2,048 x 2 bytes twice a layer forward and twice
 * backward over 16 layers (256 calls), each as `collective --rank-unit core`
 * times it; the loss adds a few small ones. With TP counted in chips a
 * one-chip plan has no TP collectives at all. */
static void tp_over_cores_all_reduces_between_cores(void **state)
{
    (void)state;
    double tp = cli_number("train --model llama3.2-1b --hw trn2.48xlarge --chips 1 --tp 4 "
                           "--tp-unit core --gbs 4 --seq 2048 --no-sp --json",
                           "", "breakdown", "tp_comm");
    double layers = 256 * cli_number("collective --hw trn2.48xlarge --chips 1 --op allreduce "
                                     "--size 8MiB --group 4 --rank-unit core --json",
                                     "", NULL, "time_s");
    assert_true(tp >= layers && tp < 1.05 * layers);
    expect_input_error("train --model llama3.2-1b --hw trn2.48xlarge --chips 1 --tp 4 "
                       "--tp-unit core --gbs 4 --seq 2048 --export-et x",
                       "is not exported: a trace's ranks are chips");
}

static void json_contract(void **state)
{
    (void)state;
    cli_result r = cli_run("train --model llama3-8b --hw trn2.48xlarge --tp 4 --gbs 32 --seq "
                           "4096 --tokens 1e12 --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    const char *keys[] = {"step_time_s", "tokens_per_s", "tokens_per_s_per_chip",
                          "model_tflops_per_chip", "mfu", "hfu", "memory_per_chip_bytes", "fits",
                          "breakdown", "run"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(j, keys[i]))
            fail_msg("no '%s' in train --json", keys[i]);
    assert_true(json_number_value(json_object_get(j, "mfu")) > 0.05);
    json_decref(j);
    cli_free(&r);
    /* --failures adds the goodput of the run: less than 1, wall time above the
     * failure-free time of the same run. */
    r = cli_run("train --model llama3-8b --hw trn2.48xlarge --tp 4 --gbs 32 --seq 4096 --tokens "
                "1e12 --failures --mc-runs 0 --json");
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    json_t *g = json_object_get(j, "goodput");
    double goodput = json_number_value(json_object_get(g, "goodput"));
    assert_true(goodput > 0.5 && goodput < 1);
    assert_close(json_number_value(json_object_get(g, "solve_time_s")),
                 json_number_value(json_object_get(json_object_get(j, "run"), "time_s")), 1e-9);
    json_decref(j);
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bubble_matches_closed_form),
        cmocka_unit_test(zero_bubble_matches_closed_form),
        cmocka_unit_test(ep_all_to_alls_pair_with_blocks),
        cmocka_unit_test(mfu_by_definition),
        cmocka_unit_test(zero3_recompute_gathers_once),
        cmocka_unit_test(expert_tp_dispatches_the_rank_share),
        cmocka_unit_test(expert_gradients_reduce_over_expert_dp),
        cmocka_unit_test(zero2_reduces_every_microbatch),
        cmocka_unit_test(dispatch_type_is_the_stacks),
        cmocka_unit_test(moe_module_recomputes_the_layer),
        cmocka_unit_test(weak_scaling_in_a_node),
        cmocka_unit_test(overlap_hides_communication),
        cmocka_unit_test(fp8_backward_accumulates_split),
        cmocka_unit_test(run_totals),
        cmocka_unit_test(oversized_plan_is_an_error),
        cmocka_unit_test(trace_is_valid),
        cmocka_unit_test(json_contract),
        cmocka_unit_test(expert_tensor_parallel_folds),
        cmocka_unit_test(llama3_schedule_options),
        cmocka_unit_test(block_recompute_takes_its_share),
        cmocka_unit_test(unnamed_recompute_adds_cheap_modules_first),
        cmocka_unit_test(unnamed_recompute_fits_the_fewest_layers),
        cmocka_unit_test(hsdp_shards_in_node_and_replicates_across),
        cmocka_unit_test(fsdp_copies_move_each_weight),
        cmocka_unit_test(ring_attention_is_balanced),
        cmocka_unit_test(fp8_casts_skip_the_transpose_on_blackwell),
        cmocka_unit_test(activation_kernels_take_the_amax),
        cmocka_unit_test(tp_over_cores_all_reduces_between_cores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
