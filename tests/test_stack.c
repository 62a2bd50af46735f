/*
 * Software stacks (data/stacks) and power-capped chips, each checked against
 * a figure derived by hand from the stack's own code or the published
 * benchmark it cites.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "ultrasim/workload.h"
#include "ultrasim/engine.h"

/* Llama 3 8B on 8 capped H100s, FSDP, one micro-batch of 2 x 8,192 tokens. */
#define TITAN_8B                                                                            \
    "train --model llama3-8b --hw grand-teton-h100 --chips 8 --mbs 2 --gbs 16 --seq 8192 " \
    "--zero 3 --json --compile "

/* A stack file `name`.json that takes `base` and sets the fields given (an
 * object's members, printf-style); its path. */
static const char *stack_variant(const char *base, const char *name, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
static const char *stack_variant(const char *base, const char *name, const char *fields, ...)
{
    char members[400], json[600], file[64];
    va_list ap;
    va_start(ap, fields);
    vsnprintf(members, sizeof members, fields, ap);
    va_end(ap);
    snprintf(json, sizeof json, "{\"kind\": \"stack\", \"base\": \"%s\", \"name\": \"%s\", %s}",
             base, name, members);
    snprintf(file, sizeof file, "%s.json", name);
    return write_temp(file, json);
}

static double breakdown(json_t *j, const char *kind)
{
    return json_number_value(json_object_get(json_object_get(j, "breakdown"), kind));
}

/* Eager torchtitan moves more bytes than compiled torchtitan in exactly three
 * places: RMSNorm (36 bytes an element, six kernels, against 4), rotary
 * embedding (20 against 4, over queries and keys) and SwiGLU (10 against 6).
 * Per layer forward: 2 norms x 32 x T h + 16 x T (q + kv) + 4 x T f bytes;
 * a layer runs that forward, a backward of twice the traffic and, under the
 * per-op selective policy, the forward again (x 4); the final norm once
 * forward and once backward (x 3). All of it at the HBM's sustained
 * 2.45 TB/s x 0.84. */
static void eager_minus_compiled_is_the_extra_bytes(void **state)
{
    (void)state;
    json_t *eager = cli_json(TITAN_8B "off"), *compiled = cli_json(TITAN_8B "on");
    double T = 16384, h = 4096, q = 4096, kv = 1024, f = 14336;
    double layer = 2 * 32 * T * h + 16 * T * (q + kv) + 4 * T * f;
    double bytes = 32 * 4 * layer + 3 * 32 * T * h;
    assert_close(breakdown(eager, "elementwise") - breakdown(compiled, "elementwise"),
                 bytes / (2.45e12 * 0.84), 1e-9);
    /* The matmuls and the attention core do not depend on compiling. */
    assert_close(breakdown(eager, "gemm"), breakdown(compiled, "gemm"), 1e-12);
    json_decref(eager);
    json_decref(compiled);
}

/* torchtitan's selective "op" policy keeps, per token and layer, the layer's
 * input (h), the outputs of wq (q), wv (kv), the attention core (q, plus an
 * fp32 log-sum-exp per head), w1 (f) and w2 (h): 31,744 16-bit values and
 * 32 fp32 ones = 63,616 bytes, over 16,384 tokens and 32 layers. */
static void alternate_matmul_policy_keeps_what_it_saves(void **state)
{
    (void)state;
    json_t *j = cli_json(TITAN_8B "off");
    double per_token = 2.0 * (4096 + 4096 + 1024 + 4096 + 14336 + 4096) + 4.0 * 32;
    json_t *mem = json_object_get(j, "memory");
    assert_close(json_number_value(json_object_get(mem, "activations")),
                 per_token * 16384 * 32, 1e-12);
    /* It recomputes wk, wo and w3: (h kv + q h + h f) / (h (q + 2 kv) + q h + 3 h f)
     * of the layers' matmul FLOPs, which HFU counts on top of MFU. */
    double share = (4096.0 * 1024 + 4096.0 * 4096 + 4096.0 * 14336) /
                   (4096.0 * (4096 + 2048) + 4096.0 * 4096 + 3 * 4096.0 * 14336);
    double model = json_number_value(json_object_get(j, "model_flops_per_step"));
    double hardware = json_number_value(json_object_get(j, "hardware_flops_per_step"));
    double layer_matmul_per_token = 2.0 * 32 * (4096.0 * (4096 + 2048) + 4096.0 * 4096 +
                                                 3 * 4096.0 * 14336);
    assert_close(hardware - model, layer_matmul_per_token * 16 * 8192 * share, 1e-9);
    json_decref(j);
}

/* A 500 W cap on a 700 W H100: clocks at (500/700)^(1/3) of the 1.83 GHz,
 * the rated power replaced by the cap, the datasheet peak kept for MFU. */
static void power_cap_lowers_clocks_by_the_cube_root(void **state)
{
    (void)state;
    hw_system capped = load_system("grand-teton-h100", 8), full = load_system("dgx-h100", 8);
    double k = cbrt(500.0 / 700.0);
    assert_close(capped.chip.matrix.clock_hz, full.chip.matrix.clock_hz * k, 1e-12);
    assert_close(capped.chip.vector.clock_hz, full.chip.vector.clock_hz * k, 1e-12);
    assert_close(capped.chip.power_w, 500, 1e-12);
    assert_close(capped.chip.dense_flops.bf16, full.chip.dense_flops.bf16, 1e-12);
    /* HBM2e at 1,593 MHz on 6 stacks of 1,024 bits. */
    assert_close(capped.chip.hbm.bandwidth_bytes_per_s, 2.45e12, 1e-12);
}

/* The same die held at another power limit: the B200's sustained matrix
 * rate (its datasheet peak x efficiency x sustained) at the cube root of the
 * power a streaming multiprocessor, times the SMs: GB200, 148 SMs at 1,200 W;
 * GB300, 160 SMs at 1,400 W (the chip files round to three digits). */
static void blackwell_racks_hold_the_b200_clock_by_power(void **state)
{
    (void)state;
    static const char *const CHIPS[] = {"gb200-gpu", "gb300-gpu"};
    hw_system b200 = load_system("b200", 0);
    double per_sm = b200.chip.power_w / b200.chip.cores;
    double base = b200.chip.dense_flops.bf16 * b200.chip.matrix.efficiency *
                  b200.chip.matrix.sustained;
    for (int i = 0; i < 2; i++) {
        hw_system s = load_system(CHIPS[i], 0);
        double rate = s.chip.dense_flops.bf16 * s.chip.matrix.efficiency * s.chip.matrix.sustained;
        double sms = (double)s.chip.cores / b200.chip.cores;
        assert_close(rate, base * sms * cbrt(s.chip.power_w / s.chip.cores / per_sm), 1e-3);
    }
}

/* FlashAttention-2 cannot beat its published 33.9% of an H100's peak: a long
 * causal attention forward costs its FLOPs at 0.339 x the array's 16-bit
 * rate (132 SMs x 2,048 MACs x 2 x clock), where the fused model alone
 * (FA3-class) is faster. */
static void flash2_runs_at_its_published_rate(void **state)
{
    (void)state;
    hw_system s = load_system("dgx-h100", 8);
    engine_attention_op op = {2, 32, 8, 8192, 8192, 128, true, false, USIM_BF16,
                              ENGINE_ATTN_FLASH2, false, 0};
    engine_cost fa2 = engine_attention(&s.chip, &op);
    op.kernel = ENGINE_ATTN_FUSED;
    engine_cost fused = engine_attention(&s.chip, &op);
    double peak = 2.0 * 132 * 2048 * s.chip.matrix.clock_hz;
    assert_close(fa2.compute_s, fa2.flops / (0.339 * peak), 1e-12);
    assert_true(fused.compute_s < fa2.compute_s);
    assert_close(fused.flops, fa2.flops, 1e-12);
}

static void bad_stacks_are_input_errors(void **state)
{
    (void)state;
    const char *base = "train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 2048 ";
    char args[400];
    snprintf(args, sizeof args, "%s--stack deepspeedx", base);
    expect_input_error(args, "allowed: deepspeed, fsdp, hai-llm, megatron-core, nemo, "
                             "neuronx-distributed, torchtitan");
    snprintf(args, sizeof args, "%s--compile on", base);
    expect_input_error(args, "stack 'megatron-core' has no compiled mode");
    const char *file = write_temp("stack-typo.json",
                                  "{\"kind\": \"stack\", \"name\": \"x\", \"selective_recompute\": "
                                  "\"attention_core\", \"attention\": \"fused\", "
                                  "\"grad_reduce_bytes\": 8, \"fp8_recipe\": \"delayed\", "
                                  "\"fp8_cast_bytes\": {\"delayed\": 4}, \"kernels\": {}}");
    snprintf(args, sizeof args, "%s--stack %s", base, file);
    expect_input_error(args, "grad_reduce_bytes");
    /* the host's and the MoE kernels' figures, each named with its range */
    static const char *const BAD[][2] = {
        {"\"expert_gemm_streams\": 100",
         "expert_gemm_streams: 100 is out of range; allowed 0 to 64"},
        {"\"host_kernel_s\": \"5ms\"",
         "host_kernel_s: 5.00 ms is out of range; allowed 0 s to 1.00 ms"},
        {"\"sink_attention\": \"bogus\"",
         "sink_attention: 'bogus' is not one of fused, per-head"},
        {"\"moe_permute_bytes\": 300",
         "moe_permute_bytes: 300 is out of range; allowed 0 to 256"},
        {"\"sp_collective_copies\": 5",
         "sp_collective_copies: 5 is out of range; allowed 0 to 4"},
        {"\"fp8_tp_all_gather\": 1", "fp8_tp_all_gather"},
        {"\"fp8_recipe\": \"current\", \"fp8_cast_bytes\": {\"current\": 0}",
         "fp8_recipe: its default recipe 'current' needs its bytes in fp8_cast_bytes"},
        {"\"fp8_cast_bytes\": {\"delayed\": 65}",
         "fp8_cast_bytes.delayed: 65 is out of range; allowed 0 to 64"},
        {"\"fp8_transpose_bytes\": 4",
         "fp8_transpose_bytes: with fp8_activation_amax_bytes it leaves the delayed cast 0 bytes "
         "an element, below the 3 a cast moves (read 2, write 1)"},
        {"\"kernel_launches\": {\"norm\": 1.5}",
         "kernel_launches: 1.5 launches: a count of kernels is a whole number (1 to 64)"},
        {"\"compiled_kernel_launches\": {\"norm\": 1}",
         "compiled_kernel_launches: a stack with no compiled mode (no compiled_kernels)"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        snprintf(args, sizeof args, "%s--stack %s", base,
                 stack_variant("megatron-core", "bad-host", "%s", BAD[i][0]));
        expect_input_error(args, BAD[i][1]);
    }
}

/* A stack (or engine) file with "base" starts from that preset and changes
 * what it lists: nemo is Megatron-Core's kernels under another name, so the
 * same step; a base that is not a stack, or names itself, is refused. */
static void stacks_start_from_a_base(void **state)
{
    (void)state;
    const char *plan = "train --model llama3-8b --hw dgx-h100 --chips 8 --tp 2 --gbs 16 "
                       "--seq 4096 --json --stack";
    char args[400];
    assert_close(cli_number(plan, " nemo", NULL, "step_time_s"),
                 cli_number(plan, " megatron-core", NULL, "step_time_s"), 1e-12);
    char text[400];
    snprintf(text, sizeof text,
             "{\"kind\": \"stack\", \"base\": \"%s/stack-self.json\", \"name\": \"s\"}",
             USIM_TEST_TMP);
    snprintf(args, sizeof args, "%s %s", plan, write_temp("stack-self.json", text));
    expect_input_error(args, "more than 8 bases in a chain");
    /* fsdp lists what differs from torchtitan; the rest comes from there. */
    wl_stack fsdp, titan;
    usim_error err;
    assert_int_equal(wl_stack_load("fsdp", &fsdp, &err), USIM_OK);
    assert_int_equal(wl_stack_load("torchtitan", &titan, &err), USIM_OK);
    assert_true(fsdp.grad_reduce_bytes == 2 && titan.grad_reduce_bytes == 4);
    assert_true(fsdp.eager.kv_repeat == 0 && titan.eager.kv_repeat == 2);
    assert_true(fsdp.eager.norm == 36 && fsdp.eager.loss == titan.eager.loss);
    const char *engine = write_temp("stack-on-engine.json",
                                    "{\"kind\": \"stack\", \"base\": \"nxdi\", \"name\": \"s\"}");
    snprintf(args, sizeof args, "%s %s", plan, engine);
    expect_input_error(args, "base: unknown stack 'nxdi'");
}

/* A model preset, failing the test when it does not load. */
static wl_model preset_model(const char *name)
{
    wl_model m;
    usim_error err;
    assert_int_equal(wl_model_load(name, &m, &err), USIM_OK);
    return m;
}

/* One layer at TP 1, 4,096 tokens, BF16, selective recomputation. */
static wl_plan one_layer_plan(const char *stack)
{
    wl_plan p;
    usim_error err;
    memset(&p, 0, sizeof p);
    p.tp = p.pp = p.dp = p.cp = p.ep = p.vp = p.mbs = 1;
    p.gbs = 1;
    p.seq = 4096;
    p.dtype = USIM_BF16;
    p.recompute = WL_RECOMPUTE_SELECTIVE;
    assert_int_equal(wl_stack_load(stack, &p.stack, &err), USIM_OK);
    return p;
}

/* DeepSeek-V3's memory savings (hai-llm) against Megatron-Core's selective
 * recomputation, one layer at TP 1, 4,096 tokens (h 7,168): the norms'
 * outputs 2 x 4096 x 7168 x 2 bytes (117,440,512); Q, K, V (65,536 wide) kept
 * as MLA's latents (1,536 + 512 + 64): 63,424 x 4096 x 2 (519,569,408); the
 * attention output (16,384 wide) in one byte, not two (67,108,864); the
 * 8 x 4096 dispatched tokens in one byte (234,881,024); the experts' SwiGLU
 * (8 routed + 1 shared, 2,048 wide) kept as its two inputs in one byte, not
 * three values in two (9 x 4096 x 2048 x 4 = 301,989,888): 1,240,989,696. */
static void deepseek_memory_savings(void **state)
{
    (void)state;
    wl_model m = preset_model("deepseek-v3");
    usim_error err;
    wl_plan p = one_layer_plan("megatron-core");
    double mcore = wl_layer_activation_bytes(&m, &p);
    assert_int_equal(wl_stack_load("hai-llm", &p.stack, &err), USIM_OK);
    double hai = wl_layer_activation_bytes(&m, &p);
    assert_close(mcore - hai, 1240989696.0, 1e-12);
    /* Without selective recomputation nothing is rebuilt: only the FP8
     * caching of the linear inputs stays: the two norm outputs (58,720,256),
     * dispatched tokens and the SwiGLU's three values (234,881,024 +
     * 226,492,416); the attention kernel then keeps its own 16-bit output
     * beside the projection's FP8 copy, a byte a value more than Megatron's
     * one shared 16-bit tensor (-67,108,864). */
    p.recompute = WL_RECOMPUTE_NONE;
    hai = wl_layer_activation_bytes(&m, &p);
    assert_int_equal(wl_stack_load("megatron-core", &p.stack, &err), USIM_OK);
    assert_close(wl_layer_activation_bytes(&m, &p) - hai, 452984832.0, 1e-12);
}

/* Transformer Engine keeps the FP8 copy of every linear input for the
 * backward: in an FP8 run each kept linear input is one byte, not two. Qwen3
 * 30B-A3B, one layer, 4,096 tokens: the two norm outputs (2 x 2,048), the
 * attention output (32 heads x 128), the 8 dispatched copies of each token
 * (8 x 2,048) and the experts' SwiGLU products (8 x 768): 30,720 bytes a
 * token, 125,829,120 in all. The gate and up outputs stay 16-bit. */
static void fp8_runs_keep_fp8_linear_inputs(void **state)
{
    (void)state;
    wl_model m = preset_model("qwen3-30b-a3b");
    wl_plan p = one_layer_plan("megatron-core");
    double bf16 = wl_layer_activation_bytes(&m, &p);
    p.dtype = USIM_FP8;
    assert_close(bf16 - wl_layer_activation_bytes(&m, &p), 125829120.0, 1e-12);
    /* torchtitan's torchao Float8 keeps the 16-bit inputs */
    p = one_layer_plan("torchtitan");
    p.stack.selective = WL_SELECTIVE_ATTENTION_CORE;
    bf16 = wl_layer_activation_bytes(&m, &p);
    p.dtype = USIM_FP8;
    assert_close(wl_layer_activation_bytes(&m, &p), bf16, 1e-12);
}

/* Expert GEMMs issued over S streams run S at a time. Qwen3-30B-A3B on 8
 * chips at EP 8 holds 16 experts a chip: 16 streams (or more) are one call
 * of all 16, exactly; fewer streams fill the chip's waves with fewer tiles
 * at once, so 4 are slower than one call and 1 slower still. */
static void expert_gemms_run_as_many_as_streams(void **state)
{
    (void)state;
    static const int STREAMS[] = {0, 16, 64, 4, 1};
    double gemm[5];
    for (int i = 0; i < 5; i++) {
        char name[32], cmd[400];
        snprintf(name, sizeof name, "streams-%d", STREAMS[i]);
        snprintf(cmd, sizeof cmd,
                 "train --model qwen3-30b-a3b --hw dgx-b200 --chips 8 --ep 8 --gbs 8 "
                 "--seq 4096 --zero 1 --stack %s --json",
                 stack_variant("megatron-core", name, "\"expert_gemm_streams\": %d",
                               STREAMS[i]));
        gemm[i] = cli_number(cmd, "", "breakdown", "gemm");
    }
    assert_close(gemm[1], gemm[0], 1e-12);
    assert_close(gemm[2], gemm[0], 1e-12);
    assert_true(gemm[3] > gemm[0] * 1.001);
    assert_true(gemm[4] > gemm[3] * 1.001);
}

/* Megatron-Core weights the routed tokens inside the experts' activation, so
 * its combine keeps no 16-bit copy of the expert outputs: Qwen3 30B-A3B, one
 * layer, 4,096 tokens, 8 copies of 2,048 a token, 134,217,728 bytes less
 * than a stack that weights them at the combine. */
static void probs_in_the_experts_keep_no_combined_copy(void **state)
{
    (void)state;
    wl_model m = preset_model("qwen3-30b-a3b");
    wl_plan p = one_layer_plan("megatron-core");
    double inside = wl_layer_activation_bytes(&m, &p);
    p.stack.moe_probs_in_experts = false;
    assert_close(wl_layer_activation_bytes(&m, &p) - inside, 134217728.0, 1e-12);
}

/* A model with attention sinks runs the stack's sink_attention unless the
 * run names a kernel: gpt-oss runs fused under Megatron-Core (TE 2.8 with
 * cuDNN 9.13.1); a stack for an older container that names its sinks unfused
 * runs them so (Llama stays fused there); torchtitan, which names no sink
 * kernel, runs its own FlashAttention-2. */
static void sinks_run_the_stacks_sink_kernel(void **state)
{
    (void)state;
    const char *older = stack_variant("megatron-core", "te-cudnn-9-10",
                                      "\"sink_attention\": {\"value\": \"unfused\"}");
    static const struct {
        const char *model, *stack, *extra, *kernel;
    } CASES[] = {
        {"gpt-oss-20b", "megatron-core", "", "fused"},
        {"gpt-oss-20b", NULL, "", "unfused"},
        {"gpt-oss-20b", NULL, " --attention fused", "fused"},
        {"gpt-oss-20b", "torchtitan", "", "flash2"},
        {"llama3-8b", NULL, "", "fused"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char cmd[400];
        snprintf(cmd, sizeof cmd,
                 "train --model %s --hw dgx-h100 --chips 8 --gbs 8 --seq 4096 --zero 1 --json "
                 "--stack %s%s%s",
                 CASES[i].model, CASES[i].stack ? CASES[i].stack : older,
                 strstr(CASES[i].model, "gpt-oss") ? " --ep 8" : "", CASES[i].extra);
        json_t *j = cli_json(cmd);
        const char *kernel =
            json_string_value(json_object_get(json_object_get(j, "plan"), "attention"));
        assert_string_equal(kernel, CASES[i].kernel);
        json_decref(j);
    }
}

/* --recompute-modules as Megatron-Core names them. On Qwen3 30B-A3B (48
 * layers, one micro-batch of 4,096 tokens, BF16) layernorm,moe_act leaves out
 * the two norm outputs (2 x 2,048 x 2 bytes a token) and the routed experts'
 * SwiGLU products (8 x 768 x 2): 20,480 bytes a token, 4,026,531,840 in all.
 * On DeepSeek-V3 mla_up_proj keeps MLA's latents instead of Q, K, V
 * (519,569,408 a layer, as in deepseek_memory_savings) and moe_act leaves out
 * the routed experts' products (8 x 2,048 x 2 bytes a token), not the shared
 * expert's: 653,787,136 a layer. */
static void recompute_modules_leave_out_what_they_rebuild(void **state)
{
    (void)state;
    const char *args = "train --model qwen3-30b-a3b --hw gb200-nvl72 --chips 8 --ep 8 --mbs 1 "
                       "--gbs 8 --seq 4096 --json --recompute-modules ";
    char cmd[400];
    assert_close(cli_number(args, "core_attn", "memory", "activations") -
                     cli_number(args, "layernorm,moe_act", "memory", "activations"),
                 4026531840.0, 1e-12);
    wl_model m = preset_model("deepseek-v3");
    wl_plan p = one_layer_plan("megatron-core");
    double all = wl_layer_activation_bytes(&m, &p);
    p.stack.recompute_mla_up = p.stack.recompute_moe_act = true;
    assert_close(all - wl_layer_activation_bytes(&m, &p), 653787136.0, 1e-12);
    static const char *const bad[][2] = {
        {"shared_experts", "allowed: core_attn, layernorm, mla_up_proj, moe_act, mlp, moe"},
        {"layernorm --recompute full", "recompute modules apply to --recompute selective only"},
        {"layernorm,,moe_act", "an empty entry in 'layernorm,,moe_act'; allowed: core_attn"},
        {"mlp --stack torchtitan", "stack 'torchtitan' recomputes by its own per-op policy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s%s", args, bad[i][0]);
        expect_input_error(cmd, bad[i][1]);
    }
}

/* Megatron-Core overlaps TP collectives with the GEMMs unless a run says
 * not to (NVIDIA's recipes); torchtitan does not. With SP, Llama 3 8B on 8
 * H100s at TP 8: the overlapped step is the one given explicitly on, and
 * shorter than the one given off by the TP time the GEMMs hide. */
static void stacks_say_whether_tp_overlaps(void **state)
{
    (void)state;
    const char *base = "train --model llama3-8b --hw dgx-h100 --chips 8 --tp 8 --gbs 8 "
                       "--seq 4096 --json";
    double t = cli_number(base, "", NULL, "step_time_s");
    assert_close(t, cli_number(base, " --overlap-tp-comm on", NULL, "step_time_s"), 1e-12);
    assert_true(cli_number(base, " --overlap-tp-comm off", NULL, "step_time_s") > t * 1.01);
    assert_close(cli_number(base, " --stack torchtitan", NULL, "step_time_s"),
                 cli_number(base, " --stack torchtitan --overlap-tp-comm off", NULL,
                               "step_time_s"),
                 1e-12);
}

/* DeepSeek-V3's DualPipe hides each chunk's all-to-alls behind another
 * chunk's compute: hai-llm does by default, a run can ask anywhere. Mixtral
 * on 32 H100s, EP 8, no pipeline, 4 micro-batches: the all-to-alls are
 * shorter than the blocks beside them, so a paired pass loses their exposed
 * time but for the 20 of the 132 SMs their kernels hold (megatron-core's
 * ep_comm_sms). Only 3 of the 4 forwards and backwards pair: the first
 * forward and the last backward run alone and keep theirs. With one
 * micro-batch nothing pairs. */
static void ep_overlap_hides_the_all_to_alls(void **state)
{
    (void)state;
    const char *base = "train --model mixtral-8x7b --hw dgx-h100 --chips 32 --ep 8 --gbs 128 "
                       "--seq 4096 --json";
    double off = cli_number(base, "", NULL, "step_time_s");
    double ep = cli_number(base, "", "breakdown", "ep_comm");
    assert_true(ep > 0);
    assert_close(off - cli_number(base, " --overlap-ep-comm on", NULL, "step_time_s"),
                 ep * 3 / 4 * (1 - 20.0 / 132), 1e-9);
    assert_close(cli_number(base, " --overlap-ep-comm on", "breakdown", "ep_comm"),
                 ep / 4 + ep * 3 / 4 * 20.0 / 132, 1e-9);
    const char *one = "train --model mixtral-8x7b --hw dgx-h100 --chips 32 --ep 8 --gbs 32 "
                      "--seq 4096 --json";
    assert_close(cli_number(one, " --overlap-ep-comm on", NULL, "step_time_s"),
                 cli_number(one, "", NULL, "step_time_s"), 1e-12);
    assert_close(cli_number(base, " --stack hai-llm", NULL, "step_time_s"),
                 cli_number(base, " --stack hai-llm --overlap-ep-comm on", NULL, "step_time_s"),
                 1e-12);
    /* a stack whose all-to-all holds every SM leaves the overlap nothing to
     * run beside (it was clamped to all 132 without a word) */
    char args[400];
    snprintf(args, sizeof args, "%s --overlap-ep-comm on --stack %s", base,
             write_temp("all-sms.json", "{\"kind\": \"stack\", \"base\": \"megatron-core\", "
                                        "\"name\": \"x\", \"ep_comm_sms\": 132}"));
    expect_input_error(args, "all-sms.json: ep_comm_sms: 132 SMs for the overlapped all-to-all "
                             "leave none of h100-sxm's 132 for the computation it overlaps "
                             "(allowed: 0 to 131, or --overlap-ep-comm off)");
}

/* DeepEP sends a token once to each scale-up domain holding one of its
 * experts. Qwen3-235B-A22B (128 experts, top 8) at EP 32 spans 4 DGX H100
 * nodes: a node holds none of a token's experts with probability
 * C(96, 8) / C(128, 8), so a token reaches 4 (1 - that) nodes, 0.45 of the
 * 8 copies an all-to-all sends. DeepSeek-V3 (256 experts in 8 groups, a
 * token's in its best 4) at EP 64 over 8 nodes reaches the nodes of its 4
 * groups, the same share. Inside one node DeepEP gains nothing. */
static void deepep_sends_a_copy_per_domain(void **state)
{
    (void)state;
    double none = 1.0;
    for (int i = 0; i < 8; i++)
        none *= (96.0 - i) / (128.0 - i);
    double share = 4 * (1 - none) / 8;
    usim_error err;
    wl_model q, d;
    assert_int_equal(wl_model_load("qwen3-235b-a22b", &q, &err), USIM_OK);
    assert_int_equal(wl_model_load("deepseek-v3", &d, &err), USIM_OK);
    assert_close(wl_dispatch_share(&q, 4), share, 1e-12);
    assert_close(wl_dispatch_share(&d, 8), share, 1e-12);
    assert_close(wl_dispatch_share(&q, 1), 1.0, 0);
    const char *across = "train --model qwen3-235b-a22b --hw dgx-h100 --chips 256 --tp 2 --pp 8 "
                         "--ep 32 --etp 1 --gbs 256 --seq 4096 --recompute full --json";
    double flat = cli_number(across, "", "breakdown", "ep_comm");
    /* bandwidth-bound over the scale-out links: the time follows the bytes */
    assert_close(cli_number(across, " --moe-dispatcher deepep", "breakdown", "ep_comm"),
                 share * flat, 0.1);
    /* Inside one domain DeepEP sends every copy, at the links' rate: its own
     * kernels, as fast as an all-to-all on a system without NCCL's p2p path */
    const char *no_p2p = write_temp("no-p2p.json",
                                    "{\"kind\": \"system\", \"base\": \"dgx-h100\", \"name\": "
                                    "\"no-p2p\", \"collective_library\": {\"parts\": "
                                    "[\"tuning\", \"blocking_call\"]}}");
    const char *inside = "train --model mixtral-8x7b --chips 32 --ep 8 --gbs 32 --seq 4096 --json";
    char deepep[160], plain[400];
    snprintf(deepep, sizeof deepep, " --hw dgx-h100 --moe-dispatcher deepep");
    snprintf(plain, sizeof plain, " --hw %s", no_p2p);
    assert_close(cli_number(inside, deepep, NULL, "step_time_s"),
                 cli_number(inside, plain, NULL, "step_time_s"), 1e-12);
    assert_true(cli_number(inside, " --hw dgx-h100", NULL, "step_time_s") >
                cli_number(inside, deepep, NULL, "step_time_s"));
    expect_input_error("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 "
                       "--moe-dispatcher deepep",
                       "deepep dispatches tokens to experts, and llama3-8b has none");
}

/* A pass whose kernels take the host longer to issue than the device to run
 * lasts the host's time. Qwen3-30B-A3B (48 MoE layers, 128 experts) on 16
 * chips at EP 8 holds 16 experts a chip; with half a millisecond per
 * expert GEMM every pass is the host's: two grouped projections forward,
 * twice two backward, 6 x 16 expert GEMMs a layer. One micro-batch: half a
 * millisecond more per expert GEMM adds 48 x 96 x 0.5 ms to the step, 2.75
 * times that on a Grace host (GB200 NVL72). Hiding the all-to-alls behind
 * the pass gains nothing when the host is what the pass waits for. */
static void host_bound_passes_last_the_hosts_time(void **state)
{
    (void)state;
    static const char *const HW[] = {"dgx-h100", "gb200-nvl72"};
    static const double SCALE[] = {1.0, 2.75};
    for (int h = 0; h < 2; h++) {
        double step[2];
        for (int i = 0; i < 2; i++) {
            char name[32], cmd[512];
            snprintf(name, sizeof name, "slow-host-%d", i);
            snprintf(cmd, sizeof cmd,
                     "train --model qwen3-30b-a3b --hw %s --chips 16 --ep 8 --gbs 16 --seq 4096 --zero 1 "
                     "--recompute none --stack %s --json",
                     HW[h],
                     stack_variant("megatron-core", name,
                                   "\"host_kernel_s\": \"0s\", \"expert_gemm_host_s\": \"%dus\", "
                                   "\"moe_dispatch_kernels\": 0, "
                                   "\"moe_dispatch_kernels_backward\": 0",
                                   500 * (i + 1)));
            step[i] = cli_number(cmd, "", NULL, "step_time_s");
            assert_close(cli_number(cmd, " --overlap-ep-comm on", NULL, "step_time_s"), step[i],
                         1e-9);
        }
        assert_close(step[1] - step[0], 48 * 96 * 0.5e-3 * SCALE[h], 1e-6);
    }
}

/* An eager chain launches each of its ops: a stack that counts one more
 * launch for a norm adds a launch to each norm of a host-bound step. Llama
 * 3.2 1B, 16 layers of two norms and the final norm, forward and backward,
 * one micro-batch: 66 norms, 66 ms more at 1 ms a launch. The stacks' own
 * counts: torchtitan's eager RMSNorm six kernels, compiled one; a fused
 * Transformer Engine norm one. */
static void eager_chains_launch_each_op(void **state)
{
    (void)state;
    double step[2];
    for (int i = 0; i < 2; i++) {
        char name[32], cmd[512];
        snprintf(name, sizeof name, "norms-%d", i);
        snprintf(cmd, sizeof cmd,
                 "train --model llama3.2-1b --hw dgx-h100 --chips 1 --gbs 1 --seq 512 --zero 0 "
                 "--recompute none --stack %s --json",
                 stack_variant("torchtitan", name,
                               "\"host_kernel_s\": \"1ms\", \"kernel_launches\": {\"norm\": %d}",
                               6 + i));
        step[i] = cli_number(cmd, "", NULL, "step_time_s");
    }
    assert_close(step[1] - step[0], 66e-3, 1e-9);
    wl_stack titan, fsdp, mcore;
    usim_error err;
    assert_int_equal(wl_stack_load("torchtitan", &titan, &err), USIM_OK);
    assert_int_equal(wl_stack_load("fsdp", &fsdp, &err), USIM_OK);
    assert_int_equal(wl_stack_load("megatron-core", &mcore, &err), USIM_OK);
    assert_true(wl_stack_kernel_launches(&titan, false)->norm == 6);
    assert_true(wl_stack_kernel_launches(&titan, true)->norm == 1);
    assert_true(wl_stack_kernel_launches(&fsdp, false)->norm == 6);
    assert_true(wl_stack_kernel_launches(&mcore, false)->norm == 1);
    assert_true(wl_stack_kernel_launches(&titan, false)->rope == 6); /* queries and keys */
}

/* A stack's kernels are written for its chips: CUDA stacks are refused on
 * Trainium and Neuron's on GPUs, each message naming one that runs. */
static void stacks_run_on_their_chips(void **state)
{
    (void)state;
    expect_input_error("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 "
                       "--stack neuronx-distributed",
                       "--stack: 'neuronx-distributed' runs on Trainium, and dgx-h100's chips "
                       "are GPUs (allowed here: a stack for GPUs, such as megatron-core)");
    expect_input_error("train --model llama3-8b --hw trn2.48xlarge --gbs 16 --seq 4096 "
                       "--stack fsdp",
                       "--stack: 'fsdp' runs on GPUs, and trn2.48xlarge's chips are Trainium "
                       "(allowed here: a stack for Trainium, such as neuronx-distributed)");
}

/* A torchtitan stack file with its TP figures replaced. */
static const char *titan_tp_stack(const char *name, int copies, bool fp8_gather)
{
    return stack_variant("torchtitan", name,
                         "\"sp_collective_copies\": %d, \"fp8_tp_all_gather\": %s", copies,
                         fp8_gather ? "true" : "false");
}

#define TITAN_TP8                                                                           \
    "train --model llama3-8b --hw grand-teton-h100 --chips 8 --tp 8 --mbs 1 --gbs 1 "      \
    "--seq 4096 --compile on --json --stack "

/* torchtitan gathers and scatters the sequence dimension (Shard(1)), so each
 * SP collective copies the whole activation once: a read and a write of 2
 * bytes an element. Llama 3 8B at TP 8 on 8 capped H100s, one sequence of
 * 4,096 tokens: per layer 4 collectives forward, 4 backward and the 2
 * all-gathers the per-op policy replays (10 x 32 layers), the embedding's
 * reduce-scatter and all-gather, the LM head's all-gather forward and
 * backward: 324 copies of 4,096 x 4,096 x 4 bytes at 2.45 TB/s x 0.84, each
 * a kernel of the H100's 4 us launch overhead. */
static void sp_collectives_copy_the_activation(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, TITAN_TP8 "%s", titan_tp_stack("copies1", 1, true));
    json_t *one = cli_json(cmd);
    snprintf(cmd, sizeof cmd, TITAN_TP8 "%s", titan_tp_stack("copies0", 0, true));
    json_t *none = cli_json(cmd);
    double bytes = 324.0 * 4096 * 4096 * 4;
    assert_close(breakdown(one, "elementwise") - breakdown(none, "elementwise"),
                 bytes / (2.45e12 * 0.84) + 324 * 4e-6, 1e-9);
    assert_close(breakdown(one, "tp_comm"), breakdown(none, "tp_comm"), 1e-12);
    json_decref(one);
    json_decref(none);
}

/* In an FP8 run the all-gathers move the cast 8-bit inputs (torchao's Float8
 * TP, Transformer Engine's gather_along_first_dim with a quantizer): the 6 a
 * layer (forward, backward, replayed) and the embedding's, 193 in all, move
 * T h bytes instead of 2 T h; the LM head's stays 16-bit, as its GEMM does. */
static void fp8_all_gathers_move_one_byte(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, TITAN_TP8 "%s --dtype fp8", titan_tp_stack("ag8", 0, true));
    double fp8 = cli_number(cmd, "", "breakdown", "tp_comm");
    snprintf(cmd, sizeof cmd, TITAN_TP8 "%s --dtype fp8", titan_tp_stack("ag16", 0, false));
    double bf16 = cli_number(cmd, "", "breakdown", "tp_comm");
    const char *ag = "collective --hw grand-teton-h100 --chips 8 --op allgather --json --size ";
    double two = cli_number(ag, "32MiB", NULL, "time_s"), one = cli_number(ag, "16MiB", NULL,
                                                                             "time_s");
    assert_close(bf16 - fp8, 193 * (two - one), 1e-9);
}

/* A recipe's cast bytes are all that changes a step's elementwise time, in
 * proportion, as the casts are memory-bound: current scaling at 5 and at 6
 * bytes an element adds 1 and 2 bytes to delayed scaling's 4 (with no amax
 * taken by the activation kernels). The run's
 * recipe must be one its stack has and its chip can scale (exit 2). */
static void fp8_recipes_move_their_bytes(void **state)
{
    (void)state;
    const char *base = "train --model llama3-8b --hw dgx-h100 --chips 8 --gbs 8 --seq 4096 "
                       "--dtype fp8 --json ";
    double e[3];
    for (int i = 0; i < 3; i++) {
        char name[8], args[400];
        snprintf(name, sizeof name, "r%d", 4 + i);
        snprintf(args, sizeof args, "%s--fp8-recipe %s --stack %s", base, i ? "current" : "delayed",
                 stack_variant("megatron-core", name,
                               "\"fp8_cast_bytes\": {\"delayed\": 4, \"current\": %d}, "
                               "\"fp8_activation_amax_bytes\": 0",
                               4 + i));
        e[i] = cli_number(args, "", "breakdown", "elementwise");
    }
    assert_true(e[2] > e[1] && e[1] > e[0]);
    assert_close(e[2] - e[0], 2 * (e[1] - e[0]), 1e-9);
    char args[400];
    snprintf(args, sizeof args, "%s--fp8-recipe mxfp8", base);
    expect_input_error(args, "mxfp8 needs tensor cores that apply a scale per 32 elements, "
                             "which h100-sxm does not have (chips that do: b200, gb200-gpu");
    snprintf(args, sizeof args, "%s--fp8-recipe delayed --stack torchtitan", base);
    expect_input_error(args, "stack 'torchtitan' has no delayed recipe; allowed with it: current");
    expect_input_error("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 "
                       "--fp8-recipe current",
                       "a recipe scales FP8 GEMM inputs; add --dtype fp8 or drop it");
    /* NVIDIA's tables' names: fp8-cs is FP8 under current scaling */
    const char *t = "train --model llama3-8b --hw dgx-h100 --chips 8 --gbs 8 --seq 4096 --json ";
    snprintf(args, sizeof args, "%s--dtype fp8 --fp8-recipe current", t);
    double named = cli_number(args, "", "breakdown", "elementwise");
    snprintf(args, sizeof args, "%s--dtype fp8-cs", t);
    assert_close(cli_number(args, "", "breakdown", "elementwise"), named, 1e-12);
    snprintf(args, sizeof args, "%s--dtype fp8-cs --fp8-recipe delayed", t);
    expect_input_error(args, "--dtype fp8-cs already names the current recipe");
}

/* Under current scaling with SP, each TP block all-reduces a 4-byte amax
 * before its forward input's cast and its backward gradient's: Llama 3 8B
 * at TP 8, 8 micro-batches, 32 layers of two blocks, is 32 x 8 x 4 = 1,024
 * such calls more than a stack without them, each the latency of a 4-byte
 * all-reduce over the 8 GPUs, on the step's critical path (and 256 more
 * when the MLP is recomputed: FC1's input is cast again); delayed scaling
 * has none. */
static void current_scaling_reduces_its_amax_over_tp(void **state)
{
    (void)state;
    const char *base = "train --model llama3-8b --hw dgx-h100 --chips 8 --tp 8 --gbs 8 "
                       "--seq 4096 --json --stack ";
    char off[400];
    snprintf(off, sizeof off, "%s%s", base,
             stack_variant("megatron-core", "no-amax", "\"fp8_amax_tp_reduce\": false"));
    double call = cli_number("collective --op allreduce --size 4 --hw dgx-h100 --chips 8 --json",
                             "", NULL, "time_s");
    /* recomputing the MLP casts FC1's input again: one more a layer */
    const char *recipes[] = {" --dtype fp8-cs", " --dtype fp8 --fp8-recipe delayed",
                             " --dtype fp8-cs --recompute-modules mlp"};
    const double calls[] = {1024, 0, 1280};
    for (int i = 0; i < 3; i++) {
        char on[400];
        snprintf(on, sizeof on, "%smegatron-core", base);
        double added = cli_number(on, recipes[i], NULL, "step_time_s") -
                       cli_number(off, recipes[i], NULL, "step_time_s");
        assert_close(added, calls[i] * call, 1e-9);
    }
}

/* torchtitan's async TP pipelines the forward's TP collectives into its
 * GEMMs and runs the backward's as vanilla TP (tp_comm_overlap_forward_only).
 * At TP 2 a layer pass's GEMMs outlast its collectives, and a layer's
 * forward and backward move the same bytes (bf16, nothing recomputed), so
 * pipelining the forward alone hides exactly half of what pipelining both
 * passes hides: vanilla - forward-only = forward-only - both, one pass's
 * layer collectives. The embedding's and LM head's stay exposed in all.
 * Eager, torchtitan has no async TP (its parallelize_llama raises). */
static void async_tp_pipelines_the_forward(void **state)
{
    (void)state;
    double tp[3]; /* vanilla, forward only, both passes */
    for (int i = 0; i < 3; i++) {
        char name[8], cmd[500];
        snprintf(name, sizeof name, "fo%d", i);
        snprintf(cmd, sizeof cmd,
                 "train --model llama3-8b --hw grand-teton-h100 --chips 8 --tp 2 --gbs 4 "
                 "--seq 4096 --recompute none --compile on --json --overlap-tp-comm %s --stack %s",
                 i == 0 ? "off" : "on",
                 stack_variant("torchtitan", name,
                               "\"sp_collective_copies\": 0, \"tp_comm_overlap_forward_only\": %s",
                               i < 2 ? "true" : "false"));
        tp[i] = cli_number(cmd, "", "breakdown", "tp_comm");
    }
    assert_true(tp[0] > tp[1] && tp[1] > tp[2] && tp[2] > 0);
    assert_close(tp[0] - tp[1], tp[1] - tp[2], 1e-9);
    /* async TP is a torch.compile pass: torchtitan refuses it eager */
    expect_input_error("train --model llama3-8b --hw dgx-h100 --chips 8 --tp 2 --gbs 8 "
                       "--seq 4096 --stack torchtitan --overlap-tp-comm on",
                       "stack 'torchtitan' overlaps TP collectives only in a compiled graph");
}

/* torchtitan's MXFP8 (torchao, B200): each input cast twice, along each
 * dimension, 2 x (2 + 1 + 1/32) = 6.0625 bytes an element: its elementwise
 * time sits halfway between one cast's 3.03125 and three's 9.09375; and
 * its TP all-gathers stay 16-bit ("all distributed communication ... in
 * high precision"), so they take what a bf16 run's take. */
static void torchtitan_mxfp8_casts_twice_and_gathers_wide(void **state)
{
    (void)state;
    const char *run = "train --model llama3.1-8b --hw dgx-b200 --chips 8 --tp 2 --gbs 8 "
                      "--seq 8192 --zero 3 --json --stack ";
    double e[3];
    const double bytes[] = {3.03125, 6.0625, 9.09375};
    for (int i = 0; i < 3; i++) {
        char name[8], args[400];
        snprintf(name, sizeof name, "mx%d", i);
        snprintf(args, sizeof args, "%s%s --dtype fp8-mx", run,
                 i == 1 ? "torchtitan"
                        : stack_variant("torchtitan", name,
                                        "\"fp8_cast_bytes\": {\"current\": 5, \"mxfp8\": %g}",
                                        bytes[i]));
        e[i] = cli_number(args, "", "breakdown", "elementwise");
    }
    assert_true(e[1] > e[0]);
    assert_close(e[2] - e[0], 2 * (e[1] - e[0]), 1e-9);
    assert_close(cli_number(run, "torchtitan --dtype fp8-mx", "breakdown", "tp_comm"),
                 cli_number(run, "torchtitan --dtype bf16", "breakdown", "tp_comm"), 1e-12);
    assert_true(cli_number(run, "torchtitan --dtype fp8", "breakdown", "tp_comm") <
                cli_number(run, "torchtitan --dtype bf16", "breakdown", "tp_comm"));
}

/* With pipeline stages, torchtitan keeps FSDP's weights gathered and its
 * gradients unsharded (fp32) through the step (no reshard after forward
 * under PP; PyTorch's pipelining reduces after the last backward): a chip
 * holds its stage's whole 16-bit weights, DP times ZeRO-3's shard, and 4
 * bytes of gradient for each of them. */
static void zero3_under_pp_keeps_the_stage_whole(void **state)
{
    (void)state;
    const char *base = "train --model llama3-8b --hw grand-teton-h100 --chips 16 --pp 2 "
                       "--dp 8 --gbs 16 --seq 4096 --zero 3 --json --stack ";
    char cmd[400];
    snprintf(cmd, sizeof cmd, "%s%s", base,
             stack_variant("torchtitan", "zero3-mb", "\"zero3_pipeline_per_step\": false"));
    json_t *mb_run = cli_json(cmd);
    snprintf(cmd, sizeof cmd, "%storchtitan", base);
    json_t *step_run = cli_json(cmd);
    json_t *per_mb = json_object_get(mb_run, "memory");
    json_t *per_step = json_object_get(step_run, "memory");
    double w = json_number_value(json_object_get(per_step, "weights"));
    assert_close(w, 8 * json_number_value(json_object_get(per_mb, "weights")), 1e-12);
    assert_close(json_number_value(json_object_get(per_step, "gradients")), 2 * w, 1e-12);
    json_decref(mb_run);
    json_decref(step_run);
}

/* A description that starts from a preset changes only what it lists; a
 * power cap above the rated power, or a GPU-only field on an array, is
 * refused with the range. */
static void base_and_bad_cap(void **state)
{
    (void)state;
    const char *ok = write_temp("h100-600w.json", "{\"kind\": \"chip\", \"base\": \"h100-sxm\", "
                                                  "\"name\": \"h100-600w\", \"power_limit\": "
                                                  "\"600W\"}");
    hw_system s = load_system(ok, 0), full = load_system("h100-sxm", 0);
    assert_close(s.chip.matrix.clock_hz, full.chip.matrix.clock_hz * cbrt(600.0 / 700.0), 1e-12);
    assert_close(s.chip.hbm.capacity_bytes, full.chip.hbm.capacity_bytes, 1e-12);
    const char *bad = write_temp("h100-900w.json", "{\"kind\": \"chip\", \"base\": \"h100-sxm\", "
                                                   "\"name\": \"x\", \"power_limit\": \"900W\"}");
    char args[300];
    snprintf(args, sizeof args, "hw show %s", bad);
    expect_input_error(args, "allowed: 1 W to 700 W");
    const char *wrong = write_temp("chip-on-system.json", "{\"kind\": \"chip\", \"base\": "
                                                          "\"dgx-h100\", \"name\": \"x\"}");
    snprintf(args, sizeof args, "hw show %s", wrong);
    expect_input_error(args, "'dgx-h100' describes a system, not a chip");
    /* an FP8 layout flag means nothing to a systolic array: refused, not ignored */
    const char *layout = write_temp("trn2-any.json", "{\"kind\": \"chip\", \"base\": \"trn2\", "
                                                     "\"name\": \"x\", \"matrix\": "
                                                     "{\"fp8_any_layout\": true}}");
    snprintf(args, sizeof args, "hw show %s", layout);
    expect_input_error(args, "matrix.fp8_any_layout: true on a systolic matrix; allowed: false");
}

/* Llama 3 8B on 8 GPUs of a GB200 rack, one sequence of 8,192 tokens each,
 * no recomputation (Megatron-Core offloads only without it). */
#define OFFLOAD_8B                                                                          \
    "train --model llama3-8b --chips 8 --gbs 8 --seq 8192 --recompute none --json --hw "

/* The rack with its device-to-host copies at `rate` a chip (a file of its
 * own for each tag). */
static const char *host_link(const char *tag, const char *rate)
{
    char json[300], name[64];
    snprintf(json, sizeof json,
             "{\"kind\": \"system\", \"base\": \"gb200-nvl72\", \"name\": \"host-%s\", "
             "\"reliability\": {\"host_copy_bandwidth_per_chip\": \"%s\"}}",
             tag, rate);
    snprintf(name, sizeof name, "host-%s.json", tag);
    return write_temp(name, json);
}

static double offload_run(const char *hw, int layers, const char *obj, const char *key)
{
    char cmd[512], extra[64];
    snprintf(cmd, sizeof cmd, OFFLOAD_8B "%s", hw);
    snprintf(extra, sizeof extra, " --cpu-offload-layers %d", layers);
    return cli_number(cmd, extra, obj, key);
}

/* CPU offloading keeps N of the 32 layers' activations in host memory at the
 * peak: the device holds (32 - N) / 32 of them. Each offloaded layer's copy
 * runs beside one layer's forward going out and one layer's backward coming
 * back; where both copies outlast their layers, the difference between two
 * host links is exactly 2 N x a layer's activations x (1/r1 - 1/r2), whatever
 * the layers take. A link fast enough hides every copy: the step is the one
 * without offloading. */
static void offloaded_layers_leave_the_device(void **state)
{
    (void)state;
    const char *rack = "gb200-nvl72";
    double all = offload_run(rack, 0, "memory", "activations");
    assert_close(offload_run(rack, 12, "memory", "activations"), all * 20 / 32, 1e-12);
    double layer = all / 32;
    double slow = offload_run(host_link("slow", "1GB/s"), 12, "breakdown", "offload");
    double slower = offload_run(host_link("slower", "500MB/s"), 12, "breakdown", "offload");
    assert_close(slower - slow, 2 * 12 * layer * (1 / 0.5e9 - 1 / 1e9), 1e-9);
    const char *fast = host_link("fast", "100TB/s");
    assert_close(offload_run(fast, 12, NULL, "step_time_s"), offload_run(rack, 0, NULL, "step_time_s"),
                 1e-12);
    assert_true(offload_run(fast, 12, "breakdown", "offload") == 0.0);
}

/* Offloaded layers leave at their own size: DeepSeek-V3's first three are
 * dense, smaller than its expert layers. Offloading three leaves the 58
 * expert layers and the prediction module beside the head, each an expert
 * layer's size; offloading a fourth takes one more expert layer off. */
static void offloaded_layers_keep_their_own_size(void **state)
{
    (void)state;
    wl_model m = preset_model("deepseek-v3");
    wl_plan p = one_layer_plan("megatron-core");
    p.recompute = WL_RECOMPUTE_NONE;
    double dense = wl_layer_activation_bytes_of(&m, &p, 0);
    double experts = wl_layer_activation_bytes_of(&m, &p, 3);
    assert_true(dense < experts);
    assert_close(experts, wl_layer_activation_bytes(&m, &p), 1e-12);
    p.cpu_offload_layers = 3;
    double three = wl_memory_per_chip(&m, &p).activations;
    assert_close(three, (58 + m.mtp_layers) * experts, 1e-12);
    p.cpu_offload_layers = 4;
    assert_close(wl_memory_per_chip(&m, &p).activations, three - experts, 1e-12);
}

/* The loss as the stack keeps it: Megatron-Core's Transformer Engine loss
 * holds the 16-bit logits and writes their gradient over them (2 bytes a
 * logit); a stack that names no figure holds fp32 logits and an fp32
 * gradient (8). Llama 3 8B, 8,192 tokens, 128,256 logits each. */
static void loss_keeps_the_stacks_logits(void **state)
{
    (void)state;
    const char *cmd = OFFLOAD_8B "gb200-nvl72";
    double logits = 8192.0 * 128256;
    assert_close(cli_number(cmd, "", "memory", "temporary"), 2 * logits, 1e-12);
    assert_close(cli_number(cmd, " --stack torchtitan", "memory", "temporary"), 8 * logits,
                 1e-12);
}

/* Megatron-Core's own rules: fewer layers than the model has, PP 1, no
 * recomputation, and only a stack that offloads. */
static void offloading_outside_its_rules_is_refused(void **state)
{
    (void)state;
    expect_input_error(OFFLOAD_8B "gb200-nvl72 --cpu-offload-layers 32", "allowed 0 to 31");
    expect_input_error("train --model llama3-8b --hw gb200-nvl72 --chips 8 --gbs 16 --seq 8192 "
                       "--recompute none --cpu-offload-layers 8 --pp 2",
                       "only without pipeline parallelism");
    expect_input_error("train --model llama3-8b --hw gb200-nvl72 --chips 8 --gbs 8 --seq 8192 "
                       "--recompute selective --cpu-offload-layers 8",
                       "use --recompute none");
    expect_input_error(OFFLOAD_8B "gb200-nvl72 --cpu-offload-layers 8 --stack torchtitan",
                       "megatron-core and nemo do");
    expect_input_error(OFFLOAD_8B "gb200-nvl72 --cpu-offload-layers 8 --schedule zb-h1",
                       "zb-h1 fills a pipeline's bubbles, and PP 1 has none");
    /* the host holds what is offloaded: eight layers of 8,192 tokens, 8.5 GiB
     * a chip, do not fit a DGX H100 given 8 GiB of host memory (the field was
     * read and never used) */
    char path[600], *text = NULL;
    snprintf(path, sizeof path, "%s/data/hw/dgx-h100.json", USIM_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    text = calloc(1, 1 << 16);
    size_t size = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    text[size] = '\0';
    char *host = strstr(text, "\"host_memory\": \"2TiB\"");
    assert_non_null(host);
    memcpy(host, "\"host_memory\": \"8GiB\"", strlen("\"host_memory\": \"8GiB\""));
    char args[1000];
    snprintf(args, sizeof args, OFFLOAD_8B "%s --cpu-offload-layers 8",
             write_temp("small-host.json", text));
    free(text);
    expect_input_error(args, "--cpu-offload-layers: 8 layers offload 8.5 GiB a chip, 68.1 GiB for "
                             "a node's 8 chips; its host memory (node.host_memory) is 8.0 GiB");
    /* without --recompute, offloading runs with none */
    json_t *j = cli_json("train --model llama3-8b --hw gb200-nvl72 --chips 8 --gbs 8 --seq 8192 "
                         "--cpu-offload-layers 8 --json");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "plan"), "recompute")),
                        "none");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eager_minus_compiled_is_the_extra_bytes),
        cmocka_unit_test(alternate_matmul_policy_keeps_what_it_saves),
        cmocka_unit_test(power_cap_lowers_clocks_by_the_cube_root),
        cmocka_unit_test(blackwell_racks_hold_the_b200_clock_by_power),
        cmocka_unit_test(flash2_runs_at_its_published_rate),
        cmocka_unit_test(bad_stacks_are_input_errors),
        cmocka_unit_test(stacks_start_from_a_base),
        cmocka_unit_test(deepseek_memory_savings),
        cmocka_unit_test(fp8_runs_keep_fp8_linear_inputs),
        cmocka_unit_test(recompute_modules_leave_out_what_they_rebuild),
        cmocka_unit_test(probs_in_the_experts_keep_no_combined_copy),
        cmocka_unit_test(expert_gemms_run_as_many_as_streams),
        cmocka_unit_test(sinks_run_the_stacks_sink_kernel),
        cmocka_unit_test(stacks_say_whether_tp_overlaps),
        cmocka_unit_test(ep_overlap_hides_the_all_to_alls),
        cmocka_unit_test(deepep_sends_a_copy_per_domain),
        cmocka_unit_test(host_bound_passes_last_the_hosts_time),
        cmocka_unit_test(eager_chains_launch_each_op),
        cmocka_unit_test(stacks_run_on_their_chips),
        cmocka_unit_test(base_and_bad_cap),
        cmocka_unit_test(sp_collectives_copy_the_activation),
        cmocka_unit_test(fp8_all_gathers_move_one_byte),
        cmocka_unit_test(zero3_under_pp_keeps_the_stage_whole),
        cmocka_unit_test(fp8_recipes_move_their_bytes),
        cmocka_unit_test(current_scaling_reduces_its_amax_over_tp),
        cmocka_unit_test(async_tp_pipelines_the_forward),
        cmocka_unit_test(torchtitan_mxfp8_casts_twice_and_gathers_wide),
        cmocka_unit_test(offloaded_layers_leave_the_device),
        cmocka_unit_test(offloaded_layers_keep_their_own_size),
        cmocka_unit_test(loss_keeps_the_stacks_logits),
        cmocka_unit_test(offloading_outside_its_rules_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
