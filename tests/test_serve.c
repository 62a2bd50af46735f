/*
 * Serving: decode reads every weight from HBM (a lower bound on TPOT),
 * speculative decoding keeps (1 - a^(k+1)) / (1 - a) tokens a round, static
 * batches add up, an underloaded Poisson stream is served at its arrival
 * rate, runs are deterministic, and an over-committed deployment fails with
 * how much it misses by.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static json_t *serve(const char *args)
{
    char full[1200];
    snprintf(full, sizeof full, "serve %s --json", args);
    return cli_json(full);
}

static double num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        fail_msg("no '%s'", key);
    return json_number_value(v);
}

/* Llama 3 8B in bf16 on one H100: every weight but the input embedding
 * (8.03B - 128,256 x 4,096 parameters, 15.01 GB) is read per decode step; at
 * 3.35 TB/s x 0.84 sustained that is 5.33 ms. TPOT at batch 1 cannot be
 * lower, and with a short context it is that plus about 11 kernels a layer
 * (32 layers, and the LM head) at 4 us of launch overhead each. */
static void decode_reads_the_weights(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 128 --osl 64 --requests 4");
    double floor_s = (8030261248.0 - 128256.0 * 4096) * 2 / (3.35e12 * 0.84);
    double tpot = num(j, "tpot_p50_s");
    assert_true(tpot >= floor_s);
    assert_true(tpot < 1.05 * floor_s + 33 * 11 * 4e-6);
    /* At batch 1 the TPOT is the decode step the explanation shows. */
    assert_close(tpot, num(json_object_get(j, "explain"), "decode_step_s"), 1e-6);
    json_decref(j);
    /* FP8 weights halve the bytes: TPOT drops towards half. */
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 128 --osl 64 --requests 4 "
              "--weights fp8");
    assert_true(num(j, "tpot_p50_s") < 0.65 * tpot);
    json_decref(j);
}

/* Weight types by their stored size (Llama 3 8B, 8,030,261,248 parameters,
 * on one chip): fp16 2 bytes, int4 4 bits and an fp16 scale per 128 weights
 * (0.515625 bytes), MXFP4 4 bits and an 8-bit scale per 32 (0.53125). The
 * KV cache of 4-bit weights stays bf16, and is refused as int4. */
/* Llama 3 8B on one A100 with the given weights and the rest of the run. */
static json_t *serve_8b_on_a100(const char *weights, const char *run)
{
    char args[300];
    snprintf(args, sizeof args,
             "--model llama3-8b --hw dgx-a100-80gb --tp 1 --weights %s --isl 128 --osl 16 %s",
             weights, run);
    return serve(args);
}

static void weight_types(void **state)
{
    (void)state;
    const double n = 8030261248.0;
    const char *types[] = {"fp16", "int4", "mxfp4"};
    const double bytes[] = {2.0, 0.515625, 0.53125};
    for (int i = 0; i < 3; i++) {
        json_t *j = serve_8b_on_a100(types[i], "--requests 2");
        assert_close(num(j, "weights_bytes_per_chip"), n * bytes[i], 1e-12);
        json_decref(j);
    }
    json_t *a = serve("--model llama3-8b --hw dgx-h100 --tp 1 --weights mxfp4 --isl 128 "
                      "--osl 16 --requests 2");
    json_t *b = serve("--model llama3-8b --hw dgx-h100 --tp 1 --weights mxfp4 --kv-dtype bf16 "
                      "--isl 128 --osl 16 --requests 2");
    assert_close(num(a, "kv_capacity_tokens"), num(b, "kv_capacity_tokens"), 0);
    /* the result says what ran: MXFP4 weights keep a bf16 cache by default */
    assert_string_equal(json_string_value(json_object_get(a, "weights")), "mxfp4");
    assert_string_equal(json_string_value(json_object_get(a, "kv_dtype")), "bf16");
    assert_string_equal(json_string_value(json_object_get(a, "attention")), "fused");
    json_decref(a);
    json_decref(b);
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --kv-dtype int4",
                       "--kv-dtype: 'int4' is not one of bf16, fp8, int8, fp16");
    /* At batch 1 a decode step reads its weights and little else: the weight
     * time follows the stored bytes (1 : 0.5 : 0.26 for bf16, int8, int4) on
     * an A100, whose GEMMs of one token fill 16-row tiles, not 128-row ones. */
    double w[3];
    const char *bf[] = {"bf16", "int8", "int4"};
    for (int i = 0; i < 3; i++) {
        json_t *j = serve_8b_on_a100(bf[i], "--batch 1 --mode static --requests 1");
        w[i] = num(json_object_get(j, "explain"), "decode_weights_s");
        json_decref(j);
    }
    assert_true(w[1] < 0.56 * w[0] && w[1] > 0.5 * w[0]);
    assert_true(w[2] < 0.6 * w[1] && w[2] > 0.5 * w[1]);
}

/* NVFP4 stores 4 bits and an FP8 scale per 16 weights (0.5625 bytes) and
 * multiplies on FP4 tensor cores, at twice the FP8 rate on a B200: a
 * compute-bound GEMM's tensor-core time halves exactly; its cache is FP8
 * unless a run says. A chip without them refuses it, naming the chips that
 * have them. */
static void nvfp4_needs_fp4_tensor_cores(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-b200 --tp 1 --chips 1 --weights nvfp4 "
                      "--isl 128 --osl 16 --requests 2");
    assert_close(num(j, "weights_bytes_per_chip"), 8030261248.0 * 0.5625, 1e-12);
    /* NVIDIA's NVFP4 checkpoints carry an FP8 KV cache (kv_cache_quant_algo) */
    assert_string_equal(json_string_value(json_object_get(j, "kv_dtype")), "fp8");
    json_decref(j);
    json_t *fp4 = cli_json("gemm 8192 8192 8192 --hw b200 --dtype fp4 --json");
    json_t *fp8 = cli_json("gemm 8192 8192 8192 --hw b200 --dtype fp8 --json");
    assert_string_equal(json_string_value(json_object_get(fp4, "compute_dtype")), "fp4");
    assert_close(num(fp4, "compute_s"), num(fp8, "compute_s") / 2, 1e-12);
    assert_close(num(fp4, "peak_flops"), 9e15, 1e-12);
    json_decref(fp4);
    json_decref(fp8);
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --weights nvfp4",
                       "--weights: nvfp4 computes on FP4 tensor cores, which h100-sxm does not "
                       "have (chips that do: b200, gb200-gpu, gb300-gpu;");
}

/* gpt-oss keeps only 128 tokens of a sequence in each of its 18 sliding
 * layers: over 1,024 + 1,024 tokens a token costs 18 + 18 x 128 / 2,048 =
 * 19.125 full layers of cache instead of 36, so the same memory holds
 * 36 / 19.125 times the tokens (as the same model without the window). */
static void sliding_layers_keep_their_window(void **state)
{
    (void)state;
    const char *plain = write_temp("gpt-oss-no-window.json",
        "{\"kind\": \"model\", \"name\": \"no-window\", \"family\": \"gpt_oss\","
        "\"layers\": 36, \"hidden\": 2880, \"heads\": 64, \"kv_heads\": 8,"
        "\"head_dim\": 64, \"ffn\": 2880, \"vocab\": 201088, \"mlp\": \"swiglu\","
        "\"norm\": \"rms\", \"position\": \"rope\", \"qkv_bias\": true,"
        "\"out_bias\": true, \"mlp_bias\": true, \"attention_sinks\": true, \"experts\": 128,"
        "\"experts_per_token\": 4, \"expert_ffn\": 2880}");
    const char *run = "--hw dgx-h100 --chips 2 --tp 2 --weights fp8 --isl 1024 --osl 1024 "
                      "--batch 4 --mode static";
    char args[600];
    snprintf(args, sizeof args, "--model gpt-oss-120b %s", run);
    json_t *w = serve(args);
    snprintf(args, sizeof args, "--model %s %s", plain, run);
    json_t *f = serve(args);
    assert_close(num(w, "kv_capacity_tokens") / num(f, "kv_capacity_tokens"), 36 / 19.125,
                 1e-5);
    assert_true(num(w, "tpot_p50_s") < num(f, "tpot_p50_s"));
    json_decref(w);
    json_decref(f);
}

/* An engine's KV share. Of what the weights, workspace and runtime leave
 * (TensorRT-LLM's kv_cache_free_gpu_mem_fraction): half of it holds half the
 * cache. Of the whole HBM (vLLM's gpu_memory_utilization), everything else
 * inside it: 0.9 of 80 GiB leaves the cache 0.1 x 80 GiB less than all that
 * is left. The same run, Llama 3 8B on one H100, under each, to a token's
 * bytes (the cache holds whole tokens). */
static void kv_cache_fraction_of_free_or_total(void **state)
{
    (void)state;
    const char *shares[] = {"1", "0.5", "0.9, \"kv_cache_fraction_of\": \"total\""};
    double kv[3], per_token = 2.0 * 32 * 8 * 128 * 2; /* bf16 K and V, 32 layers of 8 heads */
    for (int i = 0; i < 3; i++) {
        char engine[200], args[700];
        snprintf(engine, sizeof engine,
                 "{\"kind\": \"engine\", \"base\": \"trtllm\", \"name\": \"share\", "
                 "\"kv_cache_fraction\": %s}",
                 shares[i]);
        snprintf(args, sizeof args,
                 "--model llama3-8b --hw dgx-h100 --chips 1 --tp 1 --engine %s --isl 128 "
                 "--osl 16 --requests 2",
                 write_temp("kv-share.json", engine));
        json_t *j = serve(args);
        kv[i] = num(j, "kv_bytes_per_chip");
        json_decref(j);
    }
    double hbm = 80.0 * 1024 * 1024 * 1024;
    assert_true(fabs(kv[1] - kv[0] / 2) <= per_token);
    assert_true(fabs(kv[2] - (kv[0] - 0.1 * hbm)) <= per_token);
    char bad[700];
    snprintf(bad, sizeof bad, "serve --model llama3-8b --hw dgx-h100 --tp 1 --engine %s",
             write_temp("kv-none.json", "{\"kind\": \"engine\", \"base\": \"trtllm\", "
                                        "\"name\": \"none\", \"kv_cache_fraction\": 0}"));
    expect_input_error(bad, "kv_cache_fraction: 0 is out of range; allowed 0.01 to 1");
}

/* Attention data parallelism splits a MoE model's work around its experts
 * on GPUs: asked of a dense model or of Neuron's core-sharded engines it is
 * refused, naming what is allowed. */
static void attention_dp_where_it_runs(void **state)
{
    (void)state;
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --attention-dp on",
                       "--attention-dp: on needs a mixture-of-experts model (llama3-8b has 1 "
                       "expert); allowed for it: engine, off");
    expect_input_error("serve --model gpt-oss-120b --hw trn2.48xlarge --chips 4 --tp 16 "
                       "--tp-unit core --attention-dp on",
                       "the Neuron engines shard attention over NeuronCores; allowed on "
                       "Trainium: engine, off");
    expect_input_error("serve --model qwen3-30b-a3b --hw dgx-h100 --tp 4 --attention-dp yes",
                       "--attention-dp: 'yes' is not one of engine, on, off");
    expect_input_error("serve --model qwen3-30b-a3b --hw dgx-h100 --tp 4 --chips 4 "
                       "--attention-dp on --spec-draft qwen3-0.6b --spec-len 3",
                       "--attention-dp: on with --spec-draft: a draft beside a data-parallel "
                       "target is not modelled; allowed with a draft: engine, off");
}

/* Leviathan et al. 2023: with acceptance a and k draft tokens a round keeps
 * (1 - a^(k+1)) / (1 - a) tokens on average. */
static void speculation_closed_form(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3.1-70b --hw dgx-h100 --chips 8 --tp 8 --isl 256 --osl 512 "
                      "--requests 8 --spec-draft llama3.2-1b --spec-len 4 --spec-accept 0.8");
    double expect = (1 - pow(0.8, 5)) / 0.2;
    assert_close(num(json_object_get(j, "explain"), "tokens_per_round"), expect, 1e-12);
    /* Simulated rounds draw acceptances: TPOT = round time / tokens kept. */
    json_t *base = serve("--model llama3.1-70b --hw dgx-h100 --chips 8 --tp 8 --isl 256 "
                         "--osl 512 --requests 8");
    assert_true(num(j, "tpot_p50_s") < 0.6 * num(base, "tpot_p50_s"));
    json_decref(j);
    json_decref(base);
    /* The draft reads the prompt too: a lone 2,048-token request's first
     * token comes after the target's prefill and then the draft's, each what
     * it takes alone. */
    const char *one = "--hw dgx-h100 --chips 1 --tp 1 --isl 2048 --osl 1 --requests 1";
    char args[300];
    snprintf(args, sizeof args, "--model llama3.1-8b --spec-draft llama3.2-1b %s", one);
    j = serve(args);
    snprintf(args, sizeof args, "--model llama3.1-8b %s", one);
    base = serve(args);
    snprintf(args, sizeof args, "--model llama3.2-1b %s", one);
    json_t *draft = serve(args);
    assert_close(num(j, "ttft_p50_s"), num(base, "ttft_p50_s") + num(draft, "ttft_p50_s"), 1e-12);
    json_decref(j);
    json_decref(base);
    json_decref(draft);
}

/* Runs `run` with and without `spec` (a draft that prefills nothing): the
 * first token comes as without it, and a round of k drafts accepted at a
 * keeps the chain's (1 - a^(k+1)) / (1 - a) tokens. */
static void draft_without_prefill(const char *run, const char *spec, double a, int k,
                                  json_t **with, json_t **without)
{
    char args[400];
    snprintf(args, sizeof args, "%s %s", run, spec);
    *with = serve(args);
    *without = serve(run);
    assert_close(num(*with, "ttft_p50_s"), num(*without, "ttft_p50_s"), 1e-12);
    assert_close(num(json_object_get(*with, "explain"), "tokens_per_round"),
                 (1 - pow(a, k + 1)) / (1 - a), 1e-12);
}

/* An n-gram draft runs nothing on the chips: the first token comes as
 * without speculation, the KV cache holds as many tokens, the weights are
 * the target's alone, and a round keeps the chain's (1 - a^(k+1)) / (1 - a)
 * tokens. Its acceptance is the workload's, so it must be given. */
static void ngram_drafts_on_the_host(void **state)
{
    (void)state;
    const char *run = "--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --isl 1024 --osl 64 "
                      "--requests 2";
    char args[300];
    json_t *j, *base;
    draft_without_prefill(run, "--spec-draft ngram --spec-len 3 --spec-accept 0.6", 0.6, 3, &j,
                          &base);
    assert_close(num(j, "kv_capacity_tokens"), num(base, "kv_capacity_tokens"), 1e-12);
    json_decref(j);
    json_decref(base);
    snprintf(args, sizeof args, "serve %s --spec-draft ngram --spec-len 3", run);
    expect_input_error(args, "--spec-accept: missing with --spec-draft ngram");
}

/* Medusa heads ride on the target: four heads of a 4,096 x 4,096 block
 * (with bias) and a 4,096 x 32,000 LM head add 4 x (16,781,312 +
 * 131,072,000) = 591,413,248 16-bit weights and no KV cache; no draft
 * prefills, so the first token comes as without them; a round drafts one
 * token a head (k = 4) and keeps the chain's tokens. Heads of another
 * model, more positions than heads and a tree that cannot hold a path are
 * refused. */
static void medusa_heads_ride_on_the_target(void **state)
{
    (void)state;
    const char *run = "--model llama2-7b --hw dgx-h100 --chips 1 --tp 1 --isl 512 --osl 64 "
                      "--requests 2";
    char args[300];
    json_t *j, *base;
    draft_without_prefill(run, "--spec-draft medusa-vicuna-7b", 0.7, 4, &j, &base);
    assert_close(num(j, "weights_bytes_per_chip") - num(base, "weights_bytes_per_chip"),
                 2.0 * 591413248, 1e-12);
    json_decref(j);
    j = cli_json("models --json"); /* the listing counts them alike */
    assert_close(num(json_array_get(json_object_get(j, "medusa"), 0), "params"), 591413248, 0);
    json_decref(j);
    /* TensorRT-LLM verifies the 64-token tree, vLLM the heads' chain of 5:
     * the target's pass as an n-gram draft's of 63 and of 4 tokens, the
     * heads' own pass on top (over the tree, or the newest position) */
    const char *engines[] = {"", " --engine vllm"};
    const int widths[] = {63, 4};
    double heads[2];
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "%s --spec-draft medusa-vicuna-7b%s", run, engines[i]);
        json_t *m = json_object_get(j = serve(args), "explain");
        snprintf(args, sizeof args, "%s --spec-draft ngram --spec-accept 0.5 --spec-len %d%s", run,
                 widths[i], engines[i]);
        json_t *g = serve(args), *n = json_object_get(g, "explain");
        assert_close(num(m, "decode_weights_s"), num(n, "decode_weights_s"), 1e-12);
        heads[i] = num(m, "decode_step_s") - num(n, "decode_step_s");
        json_decref(j);
        json_decref(g);
    }
    assert_true(heads[0] > heads[1] && heads[1] > 0);
    json_decref(base);
    snprintf(args, sizeof args, "serve %s --spec-draft medusa-vicuna-7b --spec-len 5", run);
    expect_input_error(args, "--spec-len: 5, but 'medusa-vicuna-7b' drafts 4 positions a round "
                             "(a head each, its 64-token tree over all of them); allowed: 4");
    expect_input_error("serve --model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 "
                       "--spec-draft medusa-vicuna-7b",
                       "the model 'llama3.1-8b' is 4096 wide with 128256");
    const char *tree = write_temp("medusa-tree.json",
                                  "{\"kind\": \"medusa\", \"name\": \"m\", \"heads\": 4, "
                                  "\"head_layers\": 1, \"hidden\": 4096, \"vocab\": 32000, "
                                  "\"tree_tokens\": 3}");
    snprintf(args, sizeof args, "serve %s --spec-draft %s", run, tree);
    expect_input_error(args, "tree_tokens: 3 cannot hold a path through the 4 heads; allowed: 5");
    snprintf(args, sizeof args, "serve %s --spec-draft medusa-vicuna", run);
    expect_input_error(args, "a draft may also be Medusa heads (data/medusa");
    tree = write_temp("medusa-heads.json", "{\"kind\": \"medusa\", \"name\": \"m\"}");
    snprintf(args, sizeof args, "serve --model %s --hw dgx-h100 --tp 1", tree);
    expect_input_error(args, "these are Medusa heads, a speculative draft that rides on a model");
}

/* A static batch: every request starts together, prefills together and
 * decodes in lockstep, so all finish at the same time and the throughput is
 * batch x osl / that time. */
static void static_batch_adds_up(void **state)
{
    (void)state;
    json_t *j = serve("--model llama2-7b --hw dgx-h100 --tp 1 --mode static --batch 64 "
                      "--requests 64 --isl 128 --osl 128");
    assert_close(num(j, "e2e_p50_s"), num(j, "e2e_p99_s"), 1e-9);
    assert_close(num(j, "output_tokens_per_s"), 64 * 128 / num(j, "makespan_s"), 1e-9);
    /* e2e = TTFT + (osl - 1) x TPOT */
    assert_close(num(j, "e2e_p50_s"), num(j, "ttft_p50_s") + 127 * num(j, "tpot_p50_s"), 1e-9);
    json_decref(j);
}

/* 1,000 one-token prompts in one batch run the GEMMs of one 1,000-token prompt
 * and far less attention, through one variable-length kernel a layer (they
 * paid a launch a prompt a layer: 189.5 ms against 25.3 ms). What they add is
 * 999 more tokens through Llama 3.1 8B's LM head, 2 x 999 x 4,096 x 128,256 =
 * 1.05 TFLOP, 1.4 ms at 76% of the H100's 989 TFLOPS (allow twice that), and
 * a kernel of 8,000 query tiles a layer (a prompt's four query heads of a KV
 * head share one), each paying its prologue and epilogue: at most the
 * attention command's time for them, 32 layers over. */
static void short_prompts_share_a_kernel(void **state)
{
    (void)state;
    json_t *many = serve("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --isl 1 --osl 2 "
                         "--mode static --batch 1000 --requests 1000");
    json_t *one = serve("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --isl 1000 --osl 2 "
                        "--requests 1");
    json_t *tiles = cli_json("attention --hw h100-sxm --batch 1000 --seq 1 --heads 32 "
                             "--kv-heads 8 --causal --json");
    double lm_head = 2.0 * 999 * 4096 * 128256 / (0.76 * 989.4e12);
    assert_true(num(many, "ttft_p50_s") <=
                num(one, "ttft_p50_s") + 2 * lm_head + 32 * num(tiles, "seconds"));
    json_decref(tiles);
    json_decref(many);
    json_decref(one);
}

/* An underloaded server keeps up: output tokens/s = arrival rate x osl. */
static void poisson_keeps_up(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate 2 "
                      "--requests 400 --isl 256 --osl 64 --seed 7");
    double rate = num(j, "requests_per_s");
    assert_close(rate, 2.0, 0.12);
    assert_close(num(j, "output_tokens_per_s"), rate * 64, 1e-9);
    json_decref(j);
}

static void deterministic(void **state)
{
    (void)state;
    const char *args = "--model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate 20 "
                       "--requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3";
    cli_result a = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate "
                           "20 --requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3 "
                           "--json");
    cli_result b = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate "
                           "20 --requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3 "
                           "--json");
    (void)args;
    assert_int_equal(a.status, 0);
    assert_string_equal(a.out, b.out);
    cli_free(&a);
    cli_free(&b);
}

static void trace_in(void **state)
{
    (void)state;
    const char *csv = write_temp("requests.csv", "arrival_s,input_tokens,output_tokens\n"
                                                 "0,100,10\n0.5,200,20\n1.0,50,5\n");
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s", csv);
    json_t *j = serve(args);
    assert_close(num(j, "requests"), 3, 0);
    assert_close(num(j, "output_tokens"), 35, 0);
    /* the same trace 1,000 s later runs the same: the idle time before the
     * first arrival is no part of the run (it counted 1,000 s of it) */
    const char *late = write_temp("late.csv", "arrival_s,input_tokens,output_tokens\n"
                                              "1000,100,10\n1000.5,200,20\n1001.0,50,5\n");
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s", late);
    json_t *later = serve(args);
    assert_close(num(later, "output_tokens_per_s"), num(j, "output_tokens_per_s"), 1e-9);
    assert_close(num(later, "makespan_s"), num(j, "makespan_s"), 1e-9);
    json_decref(later);
    json_decref(j);
    const char *bad = write_temp("bad_requests.csv", "0,100,10\n0.5,-2,20\n");
    snprintf(args, sizeof args, "serve --model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s", bad);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "bad_requests.csv:2"));
    cli_free(&r);
}

static void over_committed(void **state)
{
    (void)state;
    cli_result r = cli_run("serve --model llama3.1-405b --hw dgx-h100 --tp 1");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "does not fit"));
    assert_non_null(strstr(r.err, "GiB too much"));
    cli_free(&r);
    r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --replicas 9");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "need 9 chips"));
    cli_free(&r);
    r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--rate"));
    cli_free(&r);
}

/* Disaggregation: decode replicas never stall behind a prompt, so their
 * TPOT tail is tighter than colocated replicas' at the same load. */
static void disaggregation_smooths_decode(void **state)
{
    (void)state;
    const char *load = "--model llama3-8b --hw dgx-h100 --tp 1 --replicas 4 --mode poisson "
                       "--rate 10 --requests 200 --isl 2048 --osl 128";
    char args[600];
    snprintf(args, sizeof args, "%s --scheduler disagg --prefill-replicas 1", load);
    json_t *d = serve(args);
    json_t *c = serve(load);
    assert_true(num(d, "tpot_p99_s") < num(c, "tpot_p99_s"));
    assert_close(num(d, "output_tokens"), 200 * 128, 0);
    json_decref(d);
    json_decref(c);
}

/* A disaggregated request's first token comes from its decode replica:
 * after the prefill, the KV cache's transfer (Llama 3.1 8B: 513 tokens x
 * 131,072 bytes over one 400 Gb/s NIC, 1.34479872 ms, and 2 x 1 us of
 * endpoint latency) and the decode replica's first step, so a lone request
 * of one output token there takes what an aggregated one of two takes end
 * to end, plus the transfer. */
static void disaggregated_first_token_from_decode(void **state)
{
    (void)state;
    const char *load = "--model llama3.1-8b --hw dgx-h100 --tp 1 --mode poisson --rate 0.1 "
                       "--isl 512 --requests 1";
    char args[400];
    snprintf(args, sizeof args, "%s --replicas 2 --scheduler disagg --prefill-replicas 1 --osl 1",
             load);
    json_t *d = serve(args);
    snprintf(args, sizeof args, "%s --osl 2", load);
    json_t *a = serve(args);
    double transfer = 513 * 131072.0 / 50e9 + 2e-6;
    assert_close(num(d, "ttft_p50_s"), num(a, "e2e_p50_s") + transfer, 1e-6);
    json_decref(d);
    json_decref(a);
}

/* A disaggregated prefill replica runs whole prompts up to its token budget
 * an iteration, as continuous batching does: two 2,048-token prompts fit a
 * 4,096 budget and reach the decode replica together (equal TTFTs); under a
 * 2,048 budget the second waits one prefill of 2,048 tokens, so the two
 * TTFTs a and b differ by it: with two requests the mean is (a + b) / 2 and
 * p99 a + 0.99 (b - a). It prefilled every waiting prompt at once. */
static void disaggregated_prefill_keeps_its_budget(void **state)
{
    (void)state;
    const char *load = "--model llama3.1-8b --hw dgx-h100 --chips 2 --tp 1 --scheduler disagg "
                       "--mode offline --requests 2 --isl 2048 --osl 2 --token-budget";
    char args[300];
    snprintf(args, sizeof args, "%s 4096", load);
    json_t *together = serve(args);
    assert_close(num(together, "ttft_p99_s"), num(together, "ttft_mean_s"), 1e-12);
    snprintf(args, sizeof args, "%s 2048", load);
    json_t *apart = serve(args);
    double prefill = json_number_value(
        json_object_get(json_object_get(apart, "explain"), "prefill_s"));
    assert_close(num(apart, "ttft_p99_s") - num(apart, "ttft_mean_s"), 0.49 * prefill, 1e-9);
    json_decref(together);
    json_decref(apart);
}

/* A pipeline keeps one batch in flight a stage: at PP 2 two clients' requests
 * run in batches of their own, each as a lone request runs (its iteration
 * the whole pipeline), so together they take a lone request's time and
 * double its output rate. */
static void pipeline_keeps_a_batch_a_stage(void **state)
{
    (void)state;
    const char *pp2 = "--model llama3.1-8b --hw dgx-h100 --chips 2 --tp 1 --pp 2 --isl 512 "
                      "--osl 64";
    char args[300];
    snprintf(args, sizeof args, "%s --requests 1", pp2);
    json_t *one = serve(args);
    snprintf(args, sizeof args, "%s --requests 2 --concurrency 2", pp2);
    json_t *two = serve(args);
    assert_close(num(two, "e2e_p50_s"), num(one, "e2e_p50_s"), 1e-12);
    assert_close(num(two, "output_tokens_per_s"), 2 * num(one, "output_tokens_per_s"), 1e-12);
    json_decref(one);
    json_decref(two);
}

static void json_contract(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw trn2.48xlarge --tp 4 --requests 16 --concurrency 4");
    const char *keys[] = {"ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "e2e_p50_s",
                          "output_tokens_per_s", "output_tokens_per_s_per_chip",
                          "requests_per_s", "cost_per_mtok_usd"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(num(j, keys[i]) > 0);
    json_decref(j);
}

/* Runs `serve ARGS` expecting exit 2 with every one of the phrases in the
 * message. */
static void refused(const char *args, const char *const *phrases)
{
    char full[1200];
    snprintf(full, sizeof full, "serve %s", args);
    cli_result r = cli_run(full);
    if (r.status != 2)
        fail_msg("serve %s: exit %d, expected 2: %s", args, r.status, r.err);
    for (; *phrases; phrases++)
        if (!strstr(r.err, *phrases))
            fail_msg("serve %s: '%s' not in: %s", args, *phrases, r.err);
    cli_free(&r);
}

/* One output token: TPOT has no second token to time, so it is null with the
 * reason (it was NaN, which JSON cannot hold: "out of memory", exit 1). With
 * no decode every request ends at its first token, alone in the replica: a
 * 1,024-token prefill. */
static void tpot_without_second_token(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --requests 4 --osl 1");
    assert_true(json_is_null(json_object_get(j, "tpot_p50_s")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "tpot"), "p99")));
    assert_string_equal(json_string_value(json_object_get(j, "tpot_p50_s_reason")),
                        "every request has one output token: TPOT needs a second");
    double prefill = num(json_object_get(j, "explain"), "prefill_s");
    assert_close(num(j, "ttft_p50_s"), prefill, 1e-12);
    assert_close(num(j, "e2e_p99_s"), prefill, 1e-12);
    assert_close(num(j, "output_tokens_per_s"), 1 / prefill, 1e-9);
    json_decref(j);
    cli_result r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --requests 4 --osl 1");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "n/a        n/a        n/a  (every request has one output "
                                  "token: TPOT needs a second)"));
    cli_free(&r);
}

/* The explanation's prefill parts (weight GEMMs, attention, collectives,
 * other kernels) add up to the prefill it names, a speculative draft's own
 * prefill counted in; the draft adds to each part, its prefill being a pass
 * of its own through the same kinds of kernels. */
static void prefill_parts_add_up(void **state)
{
    (void)state;
    const char *parts[] = {"prefill_weights_s", "prefill_attention_s", "prefill_comm_s",
                           "prefill_other_s"};
    json_t *alone = serve("--model llama3-70b --hw dgx-h100 --tp 4 --requests 2 --isl 2048");
    json_t *drafted = serve("--model llama3-70b --hw dgx-h100 --tp 4 --requests 2 --isl 2048 "
                            "--spec-draft llama3.2-1b --spec-len 4");
    json_t *xa = json_object_get(alone, "explain"), *xd = json_object_get(drafted, "explain");
    double sum_alone = 0, sum_drafted = 0;
    for (int i = 0; i < 4; i++) {
        sum_alone += num(xa, parts[i]);
        sum_drafted += num(xd, parts[i]);
        assert_true(num(xd, parts[i]) > num(xa, parts[i]));
    }
    assert_close(sum_alone, num(xa, "prefill_s"), 1e-12);
    assert_close(sum_drafted, num(xd, "prefill_s"), 1e-12);
    assert_close(num(alone, "ttft_p50_s"), num(xa, "prefill_s"), 1e-12);
    json_decref(alone);
    json_decref(drafted);
}

/* Inter-token latency pools every gap between a request's outputs. The gaps
 * of a request add up to its last token's time less its first, so with equal
 * output lengths the mean gap is the mean TPOT exactly; alone, every gap is a
 * decode pass; under Poisson arrivals a prefill-first engine stalls decodes
 * for whole prefills, which ITL's tail shows and per-request TPOT averages
 * away, where in-flight batching (TensorRT-LLM's) runs the decodes beside
 * the prompt, so no gap waits for prompts alone and the tail is a fraction
 * of the prefill-first one. One output token has no gap: n/a with TPOT's
 * reason. */
static void itl_pools_the_gaps(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 512 --osl 64 --concurrency 8 "
                      "--requests 200");
    assert_close(num(j, "itl_mean_s"), num(j, "tpot_mean_s"), 1e-9);
    json_decref(j);
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 512 --osl 64 --requests 1");
    assert_close(num(j, "itl_p50_s"), num(j, "tpot_p50_s"), 0.002);
    assert_close(num(j, "itl_p99_s"), num(j, "tpot_p50_s"), 0.002);
    json_decref(j);
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 2048 --osl 256 --rate 20 "
              "--requests 400 --engine trtllm --scheduler continuous");
    assert_true(num(j, "itl_p99_s") > 3 * num(j, "tpot_p99_s"));
    assert_true(num(j, "itl_p99_s") >= num(json_object_get(j, "explain"), "prefill_s"));
    double stalled = num(j, "itl_p99_s");
    json_decref(j);
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 2048 --osl 256 --rate 20 "
              "--requests 400 --engine trtllm");
    assert_string_equal(json_string_value(json_object_get(j, "scheduler")), "inflight");
    assert_true(num(j, "itl_p99_s") < stalled / 3);
    json_decref(j);
    /* a prompt longer than what the decodes leave of the budget still runs
     * first in its turn: in flight, prompts of 2,048 +-90% tokens (budget
     * 2,048) wait no longer than prefill-first ones */
    const char *spread = "--model llama3.1-8b --hw dgx-h100 --tp 1 --isl 2048 --isl-spread 0.9 "
                         "--osl 256 --requests 600 --rate 5";
    char args[300];
    snprintf(args, sizeof args, "%s", spread);
    j = serve(args);
    snprintf(args, sizeof args, "%s --scheduler continuous", spread);
    json_t *c = serve(args);
    assert_true(num(j, "ttft_p99_s") < 1.2 * num(c, "ttft_p99_s"));
    json_decref(j);
    json_decref(c);
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --requests 4 --osl 1");
    assert_true(json_is_null(json_object_get(j, "itl_mean_s")));
    assert_string_equal(json_string_value(json_object_get(j, "itl_p99_s_reason")),
                        "every request has one output token: TPOT needs a second");
    json_decref(j);
}

/* An engine that admits on the prompt (vLLM, SGLang) claims a prompt's
 * blocks as its chunks run: prompts admitted but not yet prefilled count as
 * taken, so a burst larger than the cache is admitted as fast as the cache
 * frees, not all at once. 2,000 requests of 1,024 + 1,024 tokens against a
 * 0.5 M-token cache: preemptions stay under one a request (the cache
 * overran 110 times a request when admission looked at the cache alone). */
static void admission_counts_prompts_to_come(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --engine vllm --isl 1024 "
                      "--osl 1024 --mode offline --requests 2000");
    assert_true(num(j, "preemptions") < 2000);
    assert_true(num(j, "kv_peak_use") <= 1.0);
    json_decref(j);
    /* the first token's slot is the request's too: a 1,024-token prompt
     * (64 blocks of 16) with its first output holds 65 blocks, 1,040 tokens */
    j = serve("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --engine vllm --isl 1024 "
              "--osl 2 --requests 1");
    assert_close(num(j, "kv_peak_use") * num(j, "kv_capacity_tokens"), 1040, 1e-9);
    json_decref(j);
}

/* Without an SLO there is nothing to attain: n/a, not "100% of requests". With
 * a TTFT SLO of 1 ms, which no 1,024-token prefill of an 8B model meets, 0%. */
static void slo_attainment_needs_an_slo(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --requests 4");
    assert_true(json_is_null(json_object_get(j, "slo_attainment")));
    assert_true(json_is_null(json_object_get(j, "goodput_requests_per_s")));
    assert_string_equal(json_string_value(json_object_get(j, "slo_attainment_reason")),
                        "no SLO given: --slo-ttft or --slo-tpot sets one");
    json_decref(j);
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --requests 4 --slo-ttft 1ms");
    assert_close(num(j, "slo_attainment"), 0.0, 0);
    json_decref(j);
    cli_result r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --requests 4");
    assert_non_null(strstr(r.out, "within the SLO             n/a (no SLO given: --slo-ttft or "
                                  "--slo-tpot sets one)"));
    cli_free(&r);
}

/* A bad trace row is refused at its line and column, naming the field.
 * Arrivals past 10^7 s (and inf): at 1e300 s a double cannot hold a
 * millisecond, and every latency came out 0. A trace is read by position, so
 * a header naming other fields (or the right ones in another order) is
 * refused rather than misread; token counts are whole (1.5 output tokens made
 * TPOT divide by 0.5) and numbers decimal (strtod read "0x10" as 16 s). */
static void bad_trace_rows(void **state)
{
    (void)state;
    static const struct {
        const char *file, *text, *expect;
    } CASES[] = {
        {"inf_arrival.csv", "0,100,10\ninf,100,10\n",
         "inf_arrival.csv:2:1: arrival_s: inf is out of range (allowed: 0 to 10^7 s)"},
        {"far_arrival.csv", "0,100,10\n1e300,100,10\n",
         "far_arrival.csv:2:1: arrival_s: 1e300 is out of range (allowed: 0 to 10^7 s)"},
        {"nan_tokens.csv", "0,100,10\n1, nan ,10\n",
         "nan_tokens.csv:2:4: input_tokens: nan is out of range (allowed: 1 to 10^7)"},
        {"half_token.csv", "0,128,1.5\n",
         "half_token.csv:1:7: output_tokens: 1.5 is not a whole number of tokens (allowed: 1 to "
         "10^7)"},
        {"reordered.csv", "output_tokens,input_tokens,arrival_s\n2,128,0\n",
         "reordered.csv:1:1: expected the header arrival_s,input_tokens,output_tokens (fields in "
         "that order), got 'output_tokens,input_tokens,arrival_s'"},
        {"spaced_name.csv", "arrival _s,input_tokens,output_tokens\n0,100,10\n",
         "spaced_name.csv:1:1: expected the header"},
        {"hex_arrival.csv", "0x10,128,2\n",
         "hex_arrival.csv:1:1: arrival_s: '0x10' is hexadecimal; a trace is written in decimal"},
        /* a row no replica's cache holds is named by its line, as every other */
        {"too_long.csv", "0,100,10\n0.1,3000000,10\n",
         "too_long.csv:2:1: input_tokens: a request of 3000010 input + output tokens (the engine "
         "reserves the output) does not fit in the "},
        {"long_output.csv", "0,100,10\n0.1,100,3000000\n",
         "long_output.csv:2:1: output_tokens: a request of 3000100 input + output tokens"},
    };
    char args[800];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s",
                 write_temp(CASES[i].file, CASES[i].text));
        const char *phrases[] = {CASES[i].expect, NULL};
        refused(args, phrases);
    }
    /* the header with spaces after its commas and a CRLF ending is read */
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s",
             write_temp("spaced_header.csv",
                        "arrival_s, input_tokens, output_tokens\r\n0,100,10\n"));
    json_t *j = serve(args);
    assert_close(num(j, "output_tokens"), 10, 0);
    json_decref(j);
    /* so is one behind a UTF-8 byte-order mark (the mark is invisible in the
     * message that refused it) */
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s",
             write_temp("bom_header.csv",
                        "\xEF\xBB\xBF" "arrival_s,input_tokens,output_tokens\n0,100,10\n"));
    j = serve(args);
    assert_close(num(j, "output_tokens"), 10, 0);
    json_decref(j);
}

/* A chip whose matrix units do no bf16 work cannot run a layer: exit 2
 * naming the field (it gave infinite step times, "out of memory"). */
static void chip_that_cannot_multiply(void **state)
{
    (void)state;
    char path[600], *text = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/data/hw/h200.json", USIM_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    text = calloc(1, 1 << 20);
    size = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(size > 0);
    char *bf16 = strstr(text, "\"bf16\": 1,");
    assert_non_null(bf16);
    bf16[8] = '0';
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw %s --tp 1",
             write_temp("no_matrix.json", text));
    free(text);
    const char *phrases[] = {"macs_per_pe_per_cycle.bf16", NULL};
    refused(args, phrases);
}

/* Without a price the cost per token does not exist: null with the reason,
 * not $0. A chip file (h200.json) has no price; its 700 W does give the
 * energy: 700 W / (tokens/s). */
static void cost_without_price(void **state)
{
    (void)state;
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw %s/data/hw/h200.json --tp 1 --requests 2",
             USIM_SOURCE_DIR);
    json_t *j = serve(args);
    assert_true(json_is_null(json_object_get(j, "cost_per_mtok_usd")));
    assert_string_equal(json_string_value(json_object_get(j, "cost_per_mtok_usd_reason")),
                        "no price: the hardware description has no price.usd_per_chip_hour");
    assert_close(num(j, "energy_per_token_j"), 700 / num(j, "output_tokens_per_s"), 1e-9);
    json_decref(j);
}

/* A price of 0 given explicitly is a free machine: $0 per million tokens,
 * with no note, not "no price". */
static void cost_at_price_zero(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/data/hw/dgx-h200.json", USIM_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    size_t size = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(size > 0);
    char *price = strstr(text, "\"value\": 7.91,");
    assert_non_null(price);
    memcpy(price, "\"value\": 0.00,", strlen("\"value\": 0.00,"));
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw %s --chips 1 --tp 1 --requests 2",
             write_temp("free_dgx_h200.json", text));
    free(text);
    json_t *j = serve(args);
    assert_true(json_is_number(json_object_get(j, "cost_per_mtok_usd")));
    assert_close(num(j, "cost_per_mtok_usd"), 0, 0);
    assert_null(json_object_get(j, "cost_per_mtok_usd_reason"));
    json_decref(j);
}

/* EP regroups the chips of a stage. Mixtral 8x7B has 46,702,792,704
 * parameters (32 layers x (41,943,040 attention + 32,768 router + 8 x 3 x
 * 4,096 x 14,336 experts + 8,192 norms) + 2 x 32,000 x 4,096 embeddings +
 * 4,096): at TP 2 in bf16 a chip holds half, 46,702,792,704 bytes, with EP 1
 * or EP 2 alike, and a decode step reads the same bytes (two experts split
 * two ways, or one whole). EP 4 on two chips would need chips that do not
 * exist. */
static void ep_uses_the_chips_there_are(void **state)
{
    (void)state;
    const char *base = "--model mixtral-8x7b --hw dgx-h200 --chips 2 --tp 2 --requests 4";
    char args[600];
    snprintf(args, sizeof args, "%s --ep 1", base);
    json_t *one = serve(args);
    snprintf(args, sizeof args, "%s --ep 2", base);
    json_t *two = serve(args);
    assert_close(num(one, "weights_bytes_per_chip"), 46702792704.0, 0);
    assert_close(num(two, "weights_bytes_per_chip"), 46702792704.0, 0);
    assert_close(num(two, "tpot_p50_s"), num(one, "tpot_p50_s"), 1e-3);
    json_decref(one);
    json_decref(two);
    /* EP 8 on 8 chips at batch 1: a token's two experts sit on two chips,
     * each reading its expert whole (3 x 4,096 x 14,336 x 2 bytes a layer,
     * 32 layers), so TPOT is at least 11.27 GB / 4.8 TB/s = 2.35 ms (the
     * chips with no token do not shorten the step). */
    json_t *eight = serve("--model mixtral-8x7b --hw dgx-h200 --chips 8 --tp 8 --ep 8 "
                          "--requests 4");
    assert_true(num(eight, "tpot_p50_s") >= 32.0 * 3 * 4096 * 14336 * 2 / 4.8e12);
    json_decref(eight);
    snprintf(args, sizeof args, "%s --ep 4", base);
    const char *chips[] = {"--ep: EP 4 needs 4 chips per pipeline stage", "TP 2 gives 2",
                           "allowed: 1 to 2", NULL};
    refused(args, chips);
    /* DeepSeek-V3 in FP8 on one H200: 671B parameters do not fit, and EP
     * cannot spread them over chips a TP 1 replica does not have. */
    const char *one_chip[] = {"--ep: EP 8 needs 8 chips", NULL};
    refused("--model deepseek-v3 --hw dgx-h200 --chips 1 --tp 1 --ep 8 --weights fp8", one_chip);
    const char *dense[] = {"--ep: EP 2 needs a mixture-of-experts model", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --ep 2", dense);
    /* with --tp-unit core a dense model is refused the same way */
    refused("--model llama3-8b --hw trn2.48xlarge --tp 4 --tp-unit core --ep 2", dense);
    /* EP below TP that does not divide it: the ranks exist, the split does not */
    const char *divide[] = {"--ep: EP 4 does not divide TP 6: EP ranks are the stage's chips "
                            "(allowed: a divisor of 6)",
                            NULL};
    refused("--model mixtral-8x7b --hw dgx-h100 --chips 6 --tp 6 --ep 4", divide);
    const char *experts[] = {"--ep: EP 3 does not divide the 8 experts (allowed: a divisor of 8 "
                             "that divides TP 8)",
                             NULL};
    refused("--model mixtral-8x7b --hw dgx-h100 --tp 8 --ep 3", experts);
    /* disaggregation on one replica said "needs 1 to replicas - 1 (0) prefill replicas" */
    const char *lone[] = {"--replicas: disaggregation needs 2 replicas or more (a prefill and a "
                         "decode one); 1 of TP 1 x PP 1 run here",
                         NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --scheduler disagg --mode offline",
            lone);
    const char *all[] = {"--prefill-replicas: 8 of 8 replicas prefilling leaves none to decode "
                         "(allowed: 1 to 7)",
                         NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --chips 8 --scheduler disagg "
            "--prefill-replicas 8 --mode offline",
            all);
    /* a draft that does not fit beside the model is named in the message */
    const char *draft[] = {"weights need 146.4 GiB per chip, the draft llama3.1-8b's 15.0 GiB "
                           "among them",
                           NULL};
    refused("--model llama3.1-70b --hw dgx-h100 --tp 1 --chips 1 --spec-draft llama3.1-8b",
            draft);
    /* a draft no cheaper than the model it drafts for (it ran: TPOT 18.4 ms
     * against 3.09 ms without it) */
    const char *bigger[] = {"--spec-draft: 'llama3.1-70b' computes 70.6 B parameters a token, "
                            "no fewer than the model 'llama3.1-8b' (8.03 B); allowed: a smaller "
                            "draft",
                            NULL};
    refused("--model llama3.1-8b --hw dgx-h100 --tp 8 --chips 8 --spec-draft llama3.1-70b",
            bigger);
    /* a GPU engine on Trainium ran (TensorRT-LLM on a Trn2), as a Neuron one on GPUs */
    const char *platform[] = {"--engine: 'trtllm' runs on GPUs, and trn2.48xlarge's chips are "
                              "Trainium (allowed here: nxdi, optimum-neuron, transformers-neuronx, "
                              "vllm-neuron)",
                              NULL};
    refused("--model llama3.1-8b --hw trn2.48xlarge --tp 4 --tp-unit core --engine trtllm",
            platform);
    const char *neuron[] = {"'vllm-neuron' runs on Trainium, and dgx-h100's chips are GPUs", NULL};
    refused("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --engine vllm-neuron", neuron);
    /* --mode static overrode a given --scheduler in silence */
    const char *static_run[] = {"--scheduler: disagg conflicts with --mode static", NULL};
    refused("--model llama3.1-8b --hw dgx-h100 --chips 2 --tp 1 --requests 16 --mode static "
            "--scheduler disagg",
            static_run);
    /* a cache already of 1-byte entries is not told to become fp8 */
    const char *one_byte[] = {"one request needs 1000100", "or lower --batch or --token-budget, "
                                                           "or shorten the request",
                              NULL};
    refused("--model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --weights fp8 --kv-dtype int8 "
            "--isl 1000000 --osl 100 --requests 1",
            one_byte);
}

/* --chips 8 at TP 1 is 8 replicas; 8 clients on them run exactly as one
 * client on one chip, eight times over. One client on 8 replicas is still one
 * request at a time (it used to become a client per replica). */
static void chips_fill_replicas(void **state)
{
    (void)state;
    json_t *eight = serve("--model llama3-8b --hw dgx-h100 --chips 8 --tp 1 --requests 64 "
                          "--concurrency 8");
    json_t *one = serve("--model llama3-8b --hw dgx-h100 --chips 1 --tp 1 --requests 8 "
                        "--concurrency 1");
    json_t *lone = serve("--model llama3-8b --hw dgx-h100 --chips 8 --tp 1 --requests 8 "
                         "--concurrency 1");
    assert_close(num(eight, "chips"), 8, 0);
    assert_close(num(eight, "replicas"), 8, 0);
    assert_close(num(eight, "output_tokens_per_s"), 8 * num(one, "output_tokens_per_s"), 1e-9);
    assert_close(num(eight, "tpot_p50_s"), num(one, "tpot_p50_s"), 1e-12);
    assert_close(num(lone, "output_tokens_per_s"), num(one, "output_tokens_per_s"), 1e-9);
    json_decref(eight);
    json_decref(one);
    json_decref(lone);
    const char *uneven[] = {"--chips: 8 chips do not split into replicas of TP 3", NULL};
    refused("--model llama3-8b --hw dgx-h100 --chips 8 --tp 3", uneven);
}

/* Options the load would not read are refused saying why; --rate alone
 * means Poisson arrivals, the same run as --mode poisson. */
static void options_a_load_ignores(void **state)
{
    (void)state;
    cli_result implied = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --rate 5 "
                                 "--requests 20 --json");
    cli_result given = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --rate 5 "
                               "--requests 20 --mode poisson --json");
    assert_int_equal(implied.status, 0);
    assert_string_equal(implied.out, given.out);
    cli_free(&implied);
    cli_free(&given);
    /* 100 requests at one a million seconds span 10^8 s, where a double
     * keeps latencies only to 15 ns: past the 10^7 s a trace may span. */
    const char *slow[] = {"--rate: 100 requests at 1e-06 per second arrive over 1e+08 s "
                          "(allowed: requests / rate up to 10^7 s",
                          NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --rate 1e-6 --requests 100", slow);
    const char *rate[] = {"--rate: does not apply to --mode closed", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --rate 5 --mode closed", rate);
    const char *spec[] = {"--spec-len: needs a draft model: add --spec-draft", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --spec-len 4", spec);
    const char *clients[] = {"--concurrency: does not apply to --mode poisson", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --rate 2 --concurrency 4", clients);
    /* guidellm's throughput runs as offline, but the message names the mode typed */
    const char *typed[] = {"--concurrency: does not apply to --mode throughput", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --mode throughput --concurrency 4", typed);
    const char *typed_rate[] = {"--rate: does not apply to --mode synchronous", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --mode synchronous --rate 2", typed_rate);
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --requests 5 --trace-in %s",
             write_temp("one_row.csv", "0,100,10\n"));
    const char *trace[] = {"--requests: does not apply to --mode trace: the trace's rows are the "
                           "requests",
                           NULL};
    refused(args, trace);
    /* options the scheduler does not read changed nothing, silently */
    const char *prefill[] = {"--prefill-replicas: does not apply to the engine's scheduler (inflight): "
                             "only disaggregation (--scheduler disagg) has prefill replicas",
                             NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --chips 2 --prefill-replicas 1", prefill);
    const char *budget[] = {"--token-budget: does not apply to --scheduler static: its prompts "
                            "run whole, with no budget",
                            NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --scheduler static --token-budget 100",
            budget);
    const char *mode[] = {"--token-budget: does not apply to --mode static", NULL};
    refused("--model llama3-8b --hw dgx-h100 --tp 1 --mode static --token-budget 100", mode);
    /* a preset's budget is a default, not an option given: it runs */
    json_t *preset = serve("--model llama3.2-1b --hw dgx-h100 --tp 1 --requests 16 --preset "
                           "throughput --mode static");
    assert_true(num(preset, "output_tokens") == 16 * 256);
    json_decref(preset);
}

/* GPT-3 has learned position embeddings for 2,048 positions: 2,000 + 100
 * tokens cannot run. Llama 3 8B's rotary positions run past its 8,192, as
 * engines run them, with a note. */
static void requests_beyond_the_context(void **state)
{
    (void)state;
    const char *learned[] = {"--isl: a request of 2000 input + 100 output tokens needs 2100 "
                             "positions; gpt3-175b has learned position embeddings for 2048",
                             NULL};
    refused("--model gpt3-175b --hw dgx-h100 --tp 8 --isl 2000 --osl 100 --requests 2", learned);
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 8000 --osl 500 --requests 2");
    assert_string_equal(json_string_value(json_object_get(j, "context_note")),
                        "8500-token requests exceed llama3-8b's 8192-token context; its rotary "
                        "positions run past it, at a quality not modelled");
    json_decref(j);
}

/* Limits a run does not give come from its engine's file: TensorRT-LLM's
 * trtllm-bench sizes its batch for the dataset (95% of the 188.6 GiB the
 * bf16 weights leave on 4 H100s holds 916 requests of 640 tokens at 320 KiB
 * a token: 1,024) with prefill whole, vLLM V1 up to 1,024 with 16,384-token
 * chunked prefill, the
 * Trainium presets' NxD Inference 32; a given --batch wins. Offline, a batch
 * the KV cache bounds moves more tokens a second than 64 does. */
static void limits_come_from_the_engine(void **state)
{
    (void)state;
    const char *base = "--model llama3-70b --hw dgx-h100 --tp 4 --chips 4 --mode offline "
                       "--isl 128 --osl 512 --requests 600";
    char args[400];
    snprintf(args, sizeof args, "%s", base);
    json_t *trt = serve(args);
    assert_string_equal(json_string_value(json_object_get(trt, "engine")), "trtllm");
    assert_int_equal((int)num(trt, "max_batch"), 1024);
    assert_string_equal(json_string_value(json_object_get(trt, "scheduler")), "inflight");
    snprintf(args, sizeof args, "%s --engine vllm", base);
    json_t *vllm = serve(args);
    assert_int_equal((int)num(vllm, "max_batch"), 1024);
    assert_int_equal((int)num(vllm, "token_budget"), 16384);
    assert_string_equal(json_string_value(json_object_get(vllm, "scheduler")), "chunked");
    snprintf(args, sizeof args, "%s --batch 64", base);
    json_t *small = serve(args);
    assert_int_equal((int)num(small, "max_batch"), 64);
    assert_true(num(trt, "output_tokens_per_s") > 1.5 * num(small, "output_tokens_per_s"));
    json_t *trn = serve("--model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 --requests 2");
    assert_string_equal(json_string_value(json_object_get(trn, "engine")), "nxdi");
    assert_int_equal((int)num(trn, "max_batch"), 32);
    json_decref(trt);
    json_decref(vllm);
    json_decref(small);
    json_decref(trn);
    /* a draft head is only ever a draft */
    expect_input_error("serve --model llama3.1-8b-eagle3 --hw dgx-h100 --tp 1 --chips 1",
                       "is an EAGLE-3 draft head: it runs only beside its target");
    expect_input_error("train --model gpt-oss-120b-eagle3 --hw dgx-h100 --gbs 8 --seq 1024",
                       "serve --spec-draft gpt-oss-120b-eagle3");
    expect_input_error("serve --model llama3-70b --hw dgx-h100 --tp 8 --chips 8 --spec-draft "
                       "llama3.1-8b-eagle3",
                       "EAGLE-3 head 'llama3.1-8b-eagle3' is 4096 wide, the model 8192");
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --engine tgi",
                       "allowed: nxdi, optimum-neuron, sglang, transformers-neuronx, trtllm-0.9, trtllm, "
                       "vllm-neuron, vllm");
    /* an engine file's new figures, named with their ranges */
    char engine[300];
    snprintf(engine, sizeof engine,
             "serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --engine %s",
             write_temp("bad-engine.json", "{\"kind\": \"engine\", \"base\": \"trtllm\", "
                                           "\"name\": \"x\", \"moe_permute_bytes\": 300}"));
    expect_input_error(engine, "moe_permute_bytes: 300 is out of range; allowed 0 to 256");
    snprintf(engine, sizeof engine,
             "serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --engine %s",
             write_temp("bad-engine2.json", "{\"kind\": \"engine\", \"base\": \"trtllm\", "
                                            "\"name\": \"x\", \"tuned_limits\": \"maybe\"}"));
    expect_input_error(engine, "tuned_limits: expected true or false, got a string");
    snprintf(engine, sizeof engine,
             "serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --engine %s",
             write_temp("bad-engine3.json", "{\"kind\": \"engine\", \"base\": \"trtllm\", "
                                            "\"name\": \"x\", \"shared_kv\": {\"groups\": [0], "
                                            "\"head_dims\": [128]}}"));
    expect_input_error(engine, "shared_kv.groups");
    /* vLLM refuses a --max-model-len beyond the model's context, and a request
     * (of the load or of a trace) longer than it. */
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine vllm-neuron --max-model-len 10000",
                       "--max-model-len: 10000 tokens is longer than llama3-8b's 8192-token "
                       "context (vLLM refuses it; engine vllm-neuron has no way past it); "
                       "allowed: 1 to 8192");
    /* transformers-neuronx compiles any length: AWS ran Llama 2 13B at 16,384 */
    json_t *tnx = cli_json("serve --model llama2-13b --hw trn1.32xlarge --chips 16 --tp 32 "
                           "--tp-unit core --engine transformers-neuronx --max-model-len 16384 "
                           "--isl 8192 --osl 8192 --requests 1 --json");
    assert_true(json_number_value(json_object_get(tnx, "ttft_p50_s")) > 0);
    json_decref(tnx);
    /* learned positions end at the table's length whatever the engine */
    expect_input_error("serve --model gpt3-5b --hw trn1.32xlarge --chips 16 --tp 32 --tp-unit core "
                       "--engine transformers-neuronx --max-model-len 100000",
                       "--max-model-len: 100000 tokens is longer than gpt3-5b's");
    char trace[300];
    snprintf(trace, sizeof trace,
             "serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 --max-model-len 512 "
             "--trace-in %s",
             write_temp("long.csv", "arrival_s,input_tokens,output_tokens\n0,500,100\n"));
    expect_input_error(trace, "long.csv:2:1: input_tokens: a request of 500 input + 100 output "
                              "tokens is longer than --max-model-len 512");
    expect_input_error("plan --serve --model llama3-8b --hw dgx-h100 --chips 8 --weights nvfp4",
                       "--weights: nvfp4 computes on FP4 tensor cores, which h100-sxm does not "
                       "have");
    /* vLLM refuses a request longer than --max-model-len. */
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine vllm-neuron --max-model-len 1000 --isl 900 --osl 200",
                       "--max-model-len: a request of 900 input + 200 output tokens is longer "
                       "than --max-model-len 1000 (allowed: input + output tokens up to 1000)");
    /* NxD Inference's bucket list: ascending numbers, on an engine of
     * compiled buckets, and no prompt beyond the largest. */
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine nxdi --prefill-buckets 4096,2048",
                       "--prefill-buckets: entry 2, 2048, is not above the bucket before it, "
                       "4096; allowed: ascending buckets");
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine nxdi --prefill-buckets 2048,",
                       "--prefill-buckets: entry 2 of '2048,' is ''; allowed: whole numbers of "
                       "tokens from 1 to 8192 (the longest request, --max-model-len)");
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 "
                       "--mode synchronous --concurrency 4",
                       "--concurrency: --mode synchronous runs one request at a time, not 4");
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine nxdi --prefill-buckets ' 256'",
                       "--prefill-buckets: entry 1 of ' 256' is ' 256'");
    expect_input_error("plan --serve --model llama3-8b --hw trn2.48xlarge --chips 4 "
                       "--engine nxdi --prefill-buckets 9000",
                       "--prefill-buckets: entry 1 of '9000' is '9000'; allowed: whole numbers "
                       "of tokens from 1 to 8192");
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 "
                       "--prefill-buckets 2048",
                       "--prefill-buckets: engine 'trtllm' runs prompts as they come, not in "
                       "compiled buckets; allowed with nxdi, vllm-neuron or transformers-neuronx");
    expect_input_error("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                       "--engine nxdi --prefill-buckets 512,1024 --isl 2000 --osl 10",
                       "--prefill-buckets: a prompt of 2000 tokens is longer than the largest "
                       "bucket, 1024 (allowed: prompts up to 1024 tokens");
}

/* A constant rate sends request i at i / rate. Far below capacity each is
 * served alone, as a synchronous client's are: the same TTFT and E2E, and
 * the last finishes (n - 1) / rate after the first is sent, plus one E2E. */
static void constant_rate_paces_arrivals(void **state)
{
    (void)state;
    const char *base = "--model llama3-8b --hw dgx-h100 --tp 1 --isl 512 --osl 64 --requests 20";
    char args[300];
    snprintf(args, sizeof args, "%s --mode closed", base);
    json_t *sync = serve(args);
    snprintf(args, sizeof args, "%s --mode constant --rate 0.5", base);
    json_t *paced = serve(args);
    assert_close(num(paced, "ttft_p50_s"), num(sync, "ttft_p50_s"), 1e-9);
    assert_close(num(paced, "e2e_p99_s"), num(sync, "e2e_p99_s"), 1e-9);
    assert_close(num(paced, "makespan_s"), 19 / 0.5 + num(sync, "e2e_p50_s"), 1e-9);
    json_decref(sync);
    json_decref(paced);
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode constant",
                       "--rate: --mode constant needs --rate QPS");
}

/* guidellm's sweep of N: synchronous, throughput, then N - 2 constant rates
 * at synchronous + (throughput - synchronous) k / (N - 2), k = 1 .. N - 2,
 * each run as --mode constant would run it. */
static void sweep_as_guidellm(void **state)
{
    (void)state;
    const char *base = "--model llama3-8b --hw dgx-h100 --tp 1 --isl 256 --osl 32 --requests 40";
    char args[300];
    snprintf(args, sizeof args, "%s --mode sweep --sweep-size 5", base);
    json_t *j = serve(args);
    json_t *runs = json_object_get(j, "sweep");
    assert_int_equal(json_array_size(runs), 5);
    json_t *sync = json_array_get(runs, 0), *thr = json_array_get(runs, 1);
    assert_string_equal(json_string_value(json_object_get(sync, "strategy")), "synchronous");
    assert_string_equal(json_string_value(json_object_get(thr, "strategy")), "throughput");
    assert_true(json_is_null(json_object_get(sync, "rate")));
    double lo = num(sync, "requests_per_s"), hi = num(thr, "requests_per_s");
    for (int k = 1; k <= 3; k++) {
        json_t *c = json_array_get(runs, (size_t)k + 1);
        double rate = lo + (hi - lo) * k / 3;
        assert_close(num(c, "rate"), rate, 1e-12);
        snprintf(args, sizeof args, "%s --mode constant --rate %.17g", base, rate);
        json_t *alone = serve(args);
        assert_close(num(c, "output_tokens_per_s"), num(alone, "output_tokens_per_s"), 1e-9);
        json_decref(alone);
    }
    snprintf(args, sizeof args, "%s --mode closed", base);
    json_t *closed = serve(args);
    assert_close(lo, num(closed, "requests_per_s"), 1e-12);
    json_decref(closed);
    json_decref(j);
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --sweep-size 4",
                       "--sweep-size: does not apply to --mode closed");
    expect_input_error("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode sweep --slo-ttft 1s",
                       "--slo-ttft: does not apply to --mode sweep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_reads_the_weights), cmocka_unit_test(speculation_closed_form),
        cmocka_unit_test(ngram_drafts_on_the_host),
        cmocka_unit_test(medusa_heads_ride_on_the_target),
        cmocka_unit_test(sliding_layers_keep_their_window),
        cmocka_unit_test(kv_cache_fraction_of_free_or_total),
        cmocka_unit_test(attention_dp_where_it_runs),
        cmocka_unit_test(weight_types),
        cmocka_unit_test(nvfp4_needs_fp4_tensor_cores),
        cmocka_unit_test(static_batch_adds_up),
        cmocka_unit_test(short_prompts_share_a_kernel),     cmocka_unit_test(poisson_keeps_up),
        cmocka_unit_test(deterministic),            cmocka_unit_test(trace_in),
        cmocka_unit_test(over_committed),           cmocka_unit_test(json_contract),
        cmocka_unit_test(disaggregation_smooths_decode),
        cmocka_unit_test(disaggregated_first_token_from_decode),
        cmocka_unit_test(disaggregated_prefill_keeps_its_budget),
        cmocka_unit_test(pipeline_keeps_a_batch_a_stage),
        cmocka_unit_test(tpot_without_second_token),
        cmocka_unit_test(itl_pools_the_gaps),
        cmocka_unit_test(admission_counts_prompts_to_come),
        cmocka_unit_test(slo_attainment_needs_an_slo),
        cmocka_unit_test(bad_trace_rows),
        cmocka_unit_test(chip_that_cannot_multiply),
        cmocka_unit_test(cost_without_price),
        cmocka_unit_test(cost_at_price_zero),
        cmocka_unit_test(ep_uses_the_chips_there_are),
        cmocka_unit_test(chips_fill_replicas),
        cmocka_unit_test(options_a_load_ignores),
        cmocka_unit_test(requests_beyond_the_context),
        cmocka_unit_test(limits_come_from_the_engine),
        cmocka_unit_test(constant_rate_paces_arrivals),
        cmocka_unit_test(sweep_as_guidellm),
        cmocka_unit_test(prefill_parts_add_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
