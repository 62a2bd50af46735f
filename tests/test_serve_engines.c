/*
 * Serving engines of compiled shapes (data/engines: nxdi, vllm-neuron,
 * transformers-neuronx), one
 * iteration at a time against the closed forms of their rules:
 *
 * - a whole prompt runs in the context-encoding bucket of the next power of
 *   two >= 128 tokens, so 300 tokens cost what 512 cost on an engine of no
 *   buckets, and 513 what 1,024 cost;
 * - a run's own bucket list (--prefill-buckets) replaces the powers of two:
 *   10,000 tokens cost what 10,240 cost among 2,048 / 4,096 / 10,240 / 12,288;
 * - transformers-neuronx runs a prompt past its largest context graph
 *   (n_positions / 2) as that graph and then one token-generation step a
 *   token, and a static batch's first tokens come out together;
 * - a decode step reads each request's cache to the bucket of the batch's
 *   longest context (nxdi) or to max_model_len (vllm-neuron), so it costs
 *   what a paged engine's step costs at that context;
 * - blockwise MoE prefill computes ceil(T x k / B) + E - 1 blocks of B rows
 *   (gpt-oss-120b: k = 4, E = 128, B = 512) where selective routing computes
 *   min(E, T x k) experts of T x k / that many rows;
 * - vLLM on Neuron pays its host's 437 us before every graph it launches;
 * - heads are sharded over NeuronCores, as NxD Inference shards them: Llama
 *   3.1 8B's 8 KV heads over 16 core ranks are replicated to one a core, 4
 *   on each chip (2 x 32 layers x 4 x 128 x 2 B = 64 KiB of cache a token),
 *   and Llama 2 13B's 40 heads over 32 cores are padded to 64, 4 a chip;
 * - NxD Inference pipelines a prefill's all-reduces with its GEMMs in 2
 *   tiles: their bandwidth time B and the GEMMs' C take max(C, B) +
 *   min(C, B) / 2, a two-stage pipeline, and each tile pays the latency;
 * - TensorRT-LLM 0.8/0.9 shares a KV head's reads across its group only
 *   where a precompiled XQA kernel exists, else reads per query head;
 * - on Trainium a step's all-reduces run over the NeuronCores (whatever
 *   --tp counts), so they cost the `collective --rank-unit core` time of the
 *   same size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/internal.h"
#include "support.h"
#include "ultrasim/engine.h"
#include "ultrasim/net.h"

/* model on 4 Trn2 chips, TP over their 16 logical cores, under an engine. */
static serve_deployment *deployment(const char *model, const char *engine)
{
    usim_error err;
    serve_deployment *d = calloc(1, sizeof *d);
    assert_non_null(d);
    assert_int_equal(wl_model_load(model, &d->model, &err), USIM_OK);
    assert_int_equal(hw_load_system("trn2.48xlarge", 4, NULL, &d->sys, &err), USIM_OK);
    assert_int_equal(serve_engine_load(engine, &d->engine, &err), USIM_OK);
    d->tp = 4;
    d->tp_ranks_per_chip = 4;
    d->pp = d->ep = d->replicas = 1;
    d->weights = d->kv_dtype = SERVE_W_BF16;
    return d;
}

static double step_s(const serve_deployment *d, serve_batch b)
{
    usim_error err;
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, &err);
    double s = serve_iteration(&c, &b).seconds;
    assert_int_equal(c.st, USIM_OK);
    assert_true(s > 0);
    return s;
}

static double prefill_s(const serve_deployment *d, double tokens)
{
    serve_prefill p = {tokens, tokens, true};
    return step_s(d, (serve_batch){0, 0, 0, 0, tokens, &p, 1, 1});
}

static double decode_s(const serve_deployment *d, double context, double longest)
{
    return step_s(d, (serve_batch){2, 2, context, longest, 0, NULL, 0, 2});
}

/* A prompt behind a cached prefix attends over the prefix too: on Trainium
 * its 3,277 computed tokens after 29,491 cached ones cost what the last
 * 3,277-token chunk of a 32,768-token prompt costs, more than a fresh
 * 3,277-token prompt; only the first computed tokens pay a bucket. */
static void cached_prefix_is_attended(void **state)
{
    (void)state;
    serve_deployment *d = deployment("llama3.1-8b", "vllm");
    serve_prefill behind = {3277, 32768, true}, chunk = {3277, 32768, false};
    double cached = step_s(d, (serve_batch){0, 0, 0, 0, 3277, &behind, 1, 1});
    double last_chunk = step_s(d, (serve_batch){0, 0, 0, 0, 3277, &chunk, 1, 1});
    assert_true(cached == last_chunk);
    assert_true(cached > 1.2 * prefill_s(d, 3277));
    free(d);
    /* Under NxD Inference's compiled buckets the first computed tokens run
     * padded to theirs (3,277 in the 4,096 bucket, attending over the
     * 29,491 cached keys and 4,096 of their own); a later chunk does not. */
    d = deployment("llama3.1-8b", "nxdi");
    serve_prefill padded = {4096, 29491 + 4096, false};
    cached = step_s(d, (serve_batch){0, 0, 0, 0, 3277, &behind, 1, 1});
    assert_true(cached == step_s(d, (serve_batch){0, 0, 0, 0, 4096, &padded, 1, 1}));
    assert_true(cached > step_s(d, (serve_batch){0, 0, 0, 0, 3277, &chunk, 1, 1}));
    free(d);
}

/* A draft's layers take KV cache beside the target's: Llama 3.1 8B's 2 x 32
 * layers x 8 KV heads x 128 x 2 B = 131,072 bytes a token and Llama 3.2
 * 1B's 2 x 16 x 8 x 64 x 2 B = 32,768 on one H100. */
static void draft_takes_kv_cache(void **state)
{
    (void)state;
    usim_error err;
    serve_deployment *d = calloc(1, sizeof *d);
    assert_non_null(d);
    assert_int_equal(wl_model_load("llama3.1-8b", &d->model, &err), USIM_OK);
    assert_int_equal(wl_model_load("llama3.2-1b", &d->draft, &err), USIM_OK);
    assert_int_equal(hw_load_system("dgx-h100", 1, NULL, &d->sys, &err), USIM_OK);
    d->tp = d->pp = d->ep = d->replicas = 1;
    d->weights = d->kv_dtype = SERVE_W_BF16;
    assert_true(serve_kv_bytes_per_token(d, 0) == 131072.0);
    d->spec_len = 4;
    assert_true(serve_kv_bytes_per_token(d, 0) == 131072.0 + 32768.0);
    free(d);
}

static void prompts_pay_their_bucket(void **state)
{
    (void)state;
    serve_deployment *nxdi = deployment("llama3.1-8b", "nxdi");
    serve_deployment *paged = deployment("llama3.1-8b", "vllm");
    nxdi->engine.collective_tiles = 0; /* its overlap: prefill_collectives_overlap_gemms */
    assert_close(prefill_s(nxdi, 300), prefill_s(paged, 512), 1e-12);
    assert_close(prefill_s(nxdi, 513), prefill_s(paged, 1024), 1e-12);
    assert_close(prefill_s(nxdi, 100), prefill_s(paged, 128), 1e-12);
    assert_true(prefill_s(paged, 300) < prefill_s(paged, 512));
    free(nxdi);
    free(paged);
}

/* NxD Inference's context_encoding_buckets: the smallest listed bucket that
 * holds the prompt, the powers of two only where the run lists none. */
static void listed_buckets_replace_the_powers_of_two(void **state)
{
    (void)state;
    serve_deployment *nxdi = deployment("llama3.1-8b", "nxdi");
    serve_deployment *paged = deployment("llama3.1-8b", "vllm");
    nxdi->max_model_len = paged->max_model_len = 12800;
    nxdi->engine.collective_tiles = 0;
    assert_close(prefill_s(nxdi, 10000), prefill_s(paged, 12800), 1e-12);
    const int listed[] = {2048, 4096, 10240, 12288};
    memcpy(nxdi->prefill_buckets, listed, sizeof listed);
    nxdi->nprefill_buckets = 4;
    assert_close(prefill_s(nxdi, 10000), prefill_s(paged, 10240), 1e-12);
    assert_close(prefill_s(nxdi, 4096), prefill_s(paged, 4096), 1e-12);
    assert_close(prefill_s(nxdi, 300), prefill_s(paged, 2048), 1e-12);
    free(nxdi);
    free(paged);
    /* the result names the buckets it ran: the list, or the powers' floor */
    const char *run = "serve --model llama3.1-8b --hw trn2.48xlarge --tp 8 --tp-unit core "
                      "--isl 300 --osl 4 --requests 1 --json";
    json_t *pow2 = cli_json(run);
    assert_int_equal(json_integer_value(json_object_get(pow2, "prefill_bucket_min")), 128);
    assert_int_equal(json_array_size(json_object_get(pow2, "prefill_buckets")), 0);
    json_decref(pow2);
    char args[300];
    snprintf(args, sizeof args, "%s --prefill-buckets 512,4096", run);
    json_t *own = cli_json(args);
    json_t *list = json_object_get(own, "prefill_buckets");
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(json_integer_value(json_array_get(list, 1)), 4096);
    json_decref(own);
    json_t *gpu = cli_json("serve --model llama3.1-8b --hw dgx-h100 --tp 1 --isl 300 --osl 4 "
                           "--requests 1 --json");
    assert_null(json_object_get(gpu, "prefill_buckets"));
    json_decref(gpu);
}

/* NxD Inference's get_shardable_head_counts over core ranks. On GPUs (a
 * rank a chip) 8 KV heads over 8 ranks stay 1 each. */
static void heads_shard_over_cores(void **state)
{
    (void)state;
    serve_deployment *d = deployment("llama3.1-8b", "nxdi");
    assert_close(serve_kv_heads_per_chip(d, &d->model), 4, 1e-12);
    assert_close(serve_q_heads_per_chip(d, &d->model), 8, 1e-12);
    assert_close(serve_kv_bytes_per_token(d, 0), 2.0 * 32 * 4 * 128 * 2, 1e-9);
    d->tp = 2; /* 8 ranks: the 8 KV heads split, one a core */
    assert_close(serve_kv_heads_per_chip(d, &d->model), 4, 1e-12);
    free(d);
    serve_deployment *mha = deployment("llama2-13b", "nxdi");
    mha->tp = 16;
    mha->tp_ranks_per_chip = 2; /* trn1.32xlarge's 32 cores */
    assert_close(serve_q_heads_per_chip(mha, &mha->model), 4, 1e-12);
    assert_close(serve_kv_heads_per_chip(mha, &mha->model), 4, 1e-12);
    mha->tp_ranks_per_chip = 1;
    mha->tp = 8; /* 8 GPUs: 5 heads each */
    assert_close(serve_kv_heads_per_chip(mha, &mha->model), 5, 1e-12);
    free(mha);
}

/* TensorRT-LLM 0.8 and 0.9 decode grouped-query attention with XQA only
 * where a precompiled kernel exists (head size 128 or 256, 1, 8 or 16
 * query heads a KV head, no sliding window): Llama 2 70B takes it; Mixtral
 * (4 a KV head) and Falcon 180B (29, 64 wide) fall back to the per-head
 * kernel, whose decode step costs what an explicit --attention per-head
 * costs; current TensorRT-LLM shares K/V for every model. A speculative
 * draft follows the rule for its own heads. */
static void old_trtllm_shares_kv_where_xqa_runs(void **state)
{
    (void)state;
    usim_error err;
    serve_engine old, now;
    assert_int_equal(serve_engine_load("trtllm-0.9", &old, &err), USIM_OK);
    assert_int_equal(serve_engine_load("trtllm", &now, &err), USIM_OK);
    static const struct {
        const char *model;
        int kernel;
    } CASES[] = {{"llama2-70b", ENGINE_ATTN_FUSED},
                 {"mixtral-8x7b", ENGINE_ATTN_PER_HEAD},
                 {"falcon-180b", ENGINE_ATTN_PER_HEAD},
                 {"llama2-7b", ENGINE_ATTN_FUSED}};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        wl_model m;
        assert_int_equal(wl_model_load(CASES[i].model, &m, &err), USIM_OK);
        assert_int_equal(serve_engine_attention(&old, &m), CASES[i].kernel);
        assert_int_equal(serve_engine_attention(&now, &m), ENGINE_ATTN_FUSED);
        m.sliding_window = 4096; /* XQA's precompiled kernels take no window */
        assert_int_equal(serve_engine_attention(&old, &m), ENGINE_ATTN_PER_HEAD);
    }
    const char *base = "serve --model mixtral-8x7b --hw dgx-h100 --tp 2 --chips 2 --weights fp8 "
                       "--mode static --batch 64 --requests 64 --isl 128 --osl 256 --json ";
    char args[300];
    snprintf(args, sizeof args, "%s--engine trtllm-0.9", base);
    double picked = cli_number(args, "", NULL, "output_tokens_per_s");
    snprintf(args, sizeof args, "%s--engine trtllm-0.9 --attention per-head", base);
    assert_close(picked, cli_number(args, "", NULL, "output_tokens_per_s"), 1e-12);
    snprintf(args, sizeof args, "%s--engine trtllm-0.9 --attention fused", base);
    assert_true(cli_number(args, "", NULL, "output_tokens_per_s") > picked);
    /* a draft takes the rule for its own heads: Llama 3.2 1B (4 a KV head)
     * decodes per head beside Llama 3 70B (8, XQA) unless the run names one */
    const char *spec = "serve --model llama3-70b --hw dgx-h100 --tp 4 --engine trtllm-0.9 "
                       "--spec-draft llama3.2-1b --isl 16000 --osl 64 --requests 2 --json";
    json_t *j = cli_json(spec);
    assert_string_equal(json_string_value(json_object_get(j, "attention")), "fused");
    assert_string_equal(json_string_value(json_object_get(j, "draft_attention")), "per-head");
    double per_head_draft = json_number_value(json_object_get(j, "tpot_p50_s"));
    json_decref(j);
    snprintf(args, sizeof args, "%s --attention fused", spec);
    assert_true(cli_number(args, "", NULL, "tpot_p50_s") < per_head_draft);
}

static void decode_reads_as_compiled(void **state)
{
    (void)state;
    serve_deployment *nxdi = deployment("llama3.1-8b", "nxdi");
    serve_deployment *neuron = deployment("llama3.1-8b", "vllm-neuron");
    serve_deployment *paged = deployment("llama3.1-8b", "vllm");
    neuron->engine.step_gap_s = 0; /* its host gap: vllm_neuron_steps_wait_for_the_host */
    nxdi->engine.collective_tiles = 0;
    /* The longest context, 700, is in the 1,024 bucket. */
    assert_close(decode_s(nxdi, 400, 700), decode_s(paged, 1024, 1024), 1e-12);
    neuron->max_model_len = 4096;
    assert_close(decode_s(neuron, 400, 700), decode_s(paged, 4096, 4096), 1e-12);
    /* The top bucket is max_model_len itself: 4,700 keys read 5,200, not 8,192. */
    nxdi->max_model_len = 5200;
    assert_close(decode_s(nxdi, 4500, 4700), decode_s(paged, 5200, 5200), 1e-12);
    assert_close(prefill_s(nxdi, 4700), prefill_s(paged, 5200), 1e-12);
    /* Without --max-model-len, vLLM's default: the model's 131,072 positions. */
    neuron->max_model_len = 0;
    assert_close(decode_s(neuron, 400, 700), decode_s(paged, 131072, 131072), 1e-12);
    free(nxdi);
    free(neuron);
    free(paged);
}

/* transformers-neuronx (SDK 2.18): context buckets are half the token
 * buckets, so from 64; every graph builds the whole score tensor. Against a
 * paged engine running the same unfused attention: 40 tokens cost 64, 65
 * cost 128, and a decode step at a longest context of 700 reads 1,024. */
static void transformers_neuronx_as_compiled(void **state)
{
    (void)state;
    serve_deployment *tnx = deployment("llama3.1-8b", "transformers-neuronx");
    serve_deployment *paged = deployment("llama3.1-8b", "vllm");
    assert_int_equal(tnx->engine.attention, ENGINE_ATTN_UNFUSED);
    assert_int_equal(tnx->engine.scheduler, SERVE_STATIC);
    tnx->attention = paged->attention = ENGINE_ATTN_UNFUSED;
    assert_close(prefill_s(tnx, 40), prefill_s(paged, 64), 1e-12);
    assert_close(prefill_s(tnx, 65), prefill_s(paged, 128), 1e-12);
    assert_close(decode_s(tnx, 400, 700), decode_s(paged, 1024, 1024), 1e-12);
    /* the whole score tensor costs more than the fused kernel's tiles */
    paged->attention = ENGINE_ATTN_FUSED;
    assert_true(prefill_s(tnx, 4096) > prefill_s(paged, 4096));
    free(tnx);
    free(paged);
}

/* transformers-neuronx's context(): a prompt longer than its largest
 * context graph runs that graph, then each remaining token alone through
 * the token-generation graph. With graphs listed up to 1,024 (its code's
 * default at max_model_len 2,048), a prompt of 1,024 + 5 tokens has its
 * first token after the 1,024-token graph and five token-generation steps
 * (decode rows reading their bucket) at contexts 1,025 to 1,029; with none
 * listed its graphs reach max_model_len, as AWS's runs set them, and the
 * prompt runs in one, as NxD Inference runs it. */
static void transformers_neuronx_runs_a_long_prompt_token_by_token(void **state)
{
    (void)state;
    serve_deployment *tnx = deployment("llama3.1-8b", "transformers-neuronx");
    tnx->max_model_len = 2048;
    tnx->max_batch = tnx->engine.max_batch;
    tnx->token_budget = tnx->engine.token_budget;
    tnx->scheduler = tnx->engine.scheduler;
    tnx->attention = serve_engine_attention(&tnx->engine, &tnx->model);
    tnx->block_tokens = 16;
    assert_close(serve_context_bucket_max(tnx), 2048, 0);
    const int listed[] = {64, 128, 256, 512, 1024};
    memcpy(tnx->prefill_buckets, listed, sizeof listed);
    tnx->nprefill_buckets = 5;
    assert_close(serve_context_bucket_max(tnx), 1024, 0);
    double expected = prefill_s(tnx, 1024);
    for (int i = 1; i <= 5; i++)
        expected += step_s(tnx, (serve_batch){1, 1, 1024 + i, 1024 + i, 0, NULL, 0, 1});
    serve_workload w = {.mode = SERVE_CLOSED, .requests = 1, .isl = 1029, .osl = 2,
                        .concurrency = 1, .seed = 1};
    serve_result r;
    usim_error err;
    assert_int_equal(serve_run(tnx, &w, &r, &err), USIM_OK);
    assert_close(r.ttft.p50, expected, 1e-9);
    assert_close(r.prefill_s, expected, 1e-9);
    assert_close(r.prefill_serial_tokens, 5, 0);
    /* the explanation's parts hold the graph's and the five steps' */
    assert_close(r.prefill_weights_s + r.prefill_attention_s + r.prefill_comm_s +
                     r.prefill_other_s,
                 expected, 1e-9);
    /* two prompts of different tails in one static batch: their first
     * tokens come out together, when the longer's tail is done */
    serve_workload pair = {.mode = SERVE_CLOSED, .requests = 2, .isl = 1030, .osl = 3,
                           .isl_spread = 0.004, .concurrency = 2, .seed = 7};
    assert_int_equal(serve_run(tnx, &pair, &r, &err), USIM_OK);
    assert_close(r.ttft.p50, r.ttft.p99, 1e-12);
    assert_close(r.tpot.p50, r.itl.p50, 1e-2);
    /* its continuous batching asserts a prompt fits the largest graph */
    expect_input_error("serve --model llama3.1-8b --hw trn2.48xlarge --tp 16 --tp-unit core "
                       "--engine transformers-neuronx --max-model-len 2048 --isl 1500 --osl 4 "
                       "--prefill-buckets 512,1024 --scheduler continuous",
                       "--scheduler: a prompt of 1500 tokens is longer than the largest context "
                       "graph, 1024, and engine transformers-neuronx runs a longer prompt's tail "
                       "token by token only in a static batch");
    /* an engine file may not run prompt tails without compiled graphs */
    const char *eng = write_temp("tail.json", "{\"kind\": \"engine\", \"base\": \"vllm\", "
                                              "\"name\": \"tail\", \"serial_prompt_tail\": "
                                              "{\"value\": true}}");
    char args[700];
    snprintf(args, sizeof args,
             "serve --model llama3.1-8b --hw dgx-h100 --tp 1 --engine %s --isl 100 --osl 4", eng);
    expect_input_error(args, "serial_prompt_tail: needs compiled context-encoding graphs");
    tnx->nprefill_buckets = 0; /* graphs to max_model_len: the prompt in one */
    assert_int_equal(serve_run(tnx, &w, &r, &err), USIM_OK);
    assert_close(r.ttft.p50, prefill_s(tnx, 2048), 1e-9);
    assert_close(r.prefill_serial_tokens, 0, 0);
    free(tnx);
}

/* vLLM on Neuron launches each graph synchronously: every step, prefill or
 * decode, waits the host's 437 us (its async-execution design doc). */
static void vllm_neuron_steps_wait_for_the_host(void **state)
{
    (void)state;
    serve_deployment *neuron = deployment("llama3.1-8b", "vllm-neuron");
    neuron->max_model_len = 4096;
    double decode = decode_s(neuron, 400, 700), prefill = prefill_s(neuron, 300);
    assert_close(neuron->engine.step_gap_s, 437e-6, 1e-12);
    neuron->engine.step_gap_s = 0;
    assert_close(decode - decode_s(neuron, 400, 700), 437e-6, 1e-9);
    assert_close(prefill - prefill_s(neuron, 300), 437e-6, 1e-9);
    free(neuron);
}

/* TensorRT-LLM copies each token to its experts and reads their outputs
 * back: 6 bytes a routed token element, in every MoE layer. Mixtral 8x7B
 * (32 layers, top-2 of 8, hidden 4,096) prefilling 1,000 tokens: one vector
 * pass over 1,000 x 2 x 4,096 elements of 6 bytes a layer, 32 of them. */
static void moe_permutations_move_their_bytes(void **state)
{
    (void)state;
    serve_deployment *d = deployment("mixtral-8x7b", "trtllm");
    assert_close(d->engine.moe_permute_bytes, 6, 1e-12);
    double with = prefill_s(d, 1000);
    d->engine.moe_permute_bytes = 0;
    engine_vector_op op = {1000.0 * 2 * 4096, 1, 1000.0 * 2 * 4096 * 6, ENGINE_VECTOR};
    assert_close(with - prefill_s(d, 1000), 32 * engine_vector(&d->sys.chip, &op).seconds,
                 1e-9);
    free(d);
}

static void moe_prefill_runs_in_blocks(void **state)
{
    (void)state;
    serve_deployment *neuron = deployment("gpt-oss-120b", "vllm-neuron");
    assert_int_equal(neuron->model.experts, 128);
    assert_int_equal(neuron->model.experts_per_token, 4);
    assert_int_equal(neuron->engine.moe_prefill_block, 512);
    /* 512 tokens: 2,048 visits fill 4 blocks; 127 more for any routing. */
    serve_experts b = serve_routed_experts(&neuron->model, 1, 512, 512);
    assert_true(b.gemms == 131);
    assert_true(b.rows == 512);
    /* Routed selectively: every expert but about 128 x (124/128)^512 = 1e-5 of
     * one, 16 rows each. */
    serve_experts s = serve_routed_experts(&neuron->model, 1, 512, 0);
    assert_close(s.gemms, 128.0 * (1.0 - pow(124.0 / 128.0, 512)), 1e-12);
    assert_close(s.rows, 2048.0 / s.gemms, 1e-12);
    assert_close(s.rows, 16.0, 1e-6);
    /* A decode of 4 tokens of Mixtral (top-2 of 8): an expert is missed by all
     * four with probability (6/8)^4, so 8 x (1 - 81/256) = 5.46875 experts are
     * read, with 8 / 5.46875 visits each (it read all 8) */
    serve_deployment *mixtral = deployment("mixtral-8x7b", "vllm");
    serve_experts few = serve_routed_experts(&mixtral->model, 1, 4, 0);
    assert_close(few.gemms, 5.46875, 1e-12);
    assert_close(few.rows, 8.0 / 5.46875, 1e-12);
    free(mixtral);
    /* EP 4: 32 local experts, 512 visits: 1 + 31 blocks. */
    b = serve_routed_experts(&neuron->model, 4, 512, 512);
    assert_true(b.gemms == 32);
    /* A prefill on the blockwise engine costs more than selective routing
     * would: the same prompt through 131 x 512 rows instead of 128 x 16. */
    serve_deployment *paged = deployment("gpt-oss-120b", "vllm");
    assert_true(prefill_s(neuron, 512) > prefill_s(paged, 512));
    /* Decode is not blockwise: the block size does not change a step. */
    double with_blocks = decode_s(neuron, 400, 400);
    neuron->engine.moe_prefill_block = 0;
    assert_true(decode_s(neuron, 400, 400) == with_blocks);
    free(neuron);
    free(paged);
}

/* Llama 3.1 8B on 4 chips as 16 cores: a decode step of batch 2 all-reduces
 * 2 x 4,096 x 2 bytes twice a layer over 16 ranks, 4 a chip. */
/* trtllm-bench sizes its engine for the dataset. Llama 3.1 70B in FP8 on one
 * 80 GiB H100, 128 in / 2,048 out: the weights take 65.71 GiB, 95% of the
 * rest is 13.58 GiB, a token's K and V 160 KiB (80 layers x 8 heads x 128 x
 * 2 x 1 byte): 40.9 requests of 2,176 tokens, so a batch of 64 (its
 * minimum) and 43 tokens an iteration, 2,048 (its minimum). Llama 3.1 8B,
 * 128 / 128: the cache holds more than 4,096 requests, so 4,096 and 4,096 x
 * 2 = 8,192 tokens. A run's own --batch stands, and a preset's; a trace,
 * with no one length to size for, runs under the caps (4,096 and 32,768). */
static void trtllm_bench_sizes_the_engine(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        double batch, tokens;
    } CASES[] = {
        {"--model llama3.1-70b --isl 128 --osl 2048", 64, 2048},
        {"--model llama3.1-8b --isl 128 --osl 128", 4096, 8192},
        {"--model llama3.1-8b --isl 128 --osl 128 --batch 100", 100, 8192},
        {"--model llama3.1-8b --isl 128 --osl 128 --preset throughput", 256, 8192},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd,
                 "serve --hw dgx-h100 --chips 1 --tp 1 --weights fp8 --mode offline "
                 "--requests 10 --json %s",
                 CASES[i].args);
        assert_close(cli_number(cmd, "", NULL, "max_batch"), CASES[i].batch, 1e-12);
        assert_close(cli_number(cmd, "", NULL, "token_budget"), CASES[i].tokens, 1e-12);
    }
    const char *trace = write_temp("trtllm-bench-trace.csv",
                                   "arrival_s,input_tokens,output_tokens\n0,16000,16\n0.5,16000,16\n");
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "serve --model llama3.1-8b --hw dgx-h100 --chips 1 --tp 1 --weights fp8 --json "
             "--mode trace --trace-in %s",
             trace);
    assert_close(cli_number(cmd, "", NULL, "max_batch"), 4096, 1e-12);
    assert_close(cli_number(cmd, "", NULL, "token_budget"), 32768, 1e-12);
}

static void core_ranks_all_reduce_across_cores(void **state)
{
    (void)state;
    serve_deployment *d = deployment("llama3.1-8b", "vllm");
    usim_error err;
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, &err);
    serve_batch b = {2, 2, 100, 100, 0, NULL, 0, 2};
    double comm = serve_iteration(&c, &b).comm_s;
    net_result r;
    net_group g = {16, 1, 1, 4, NET_LAUNCH_ASYNC, false};
    assert_int_equal(net_collective(&d->sys, NET_ALLREDUCE, 2 * 4096 * 2.0, g, NET_ALGO_AUTO,
                                    NET_MODEL_ANALYTIC, &r, &err),
                     USIM_OK);
    assert_close(comm, 32 * 2 * r.seconds, 1e-12);
    free(d);
}

/* NxD Inference's collective-compute pipelining (2 tiles): a prefill's
 * all-reduces keep their latency, and their bandwidth time B overlaps the
 * GEMMs' C as a two-stage pipeline, max(C, B) + min(C, B) / 2 - C beyond
 * the GEMMs; a decode step's are not tiled. */
static void prefill_collectives_overlap_gemms(void **state)
{
    (void)state;
    serve_deployment *d = deployment("llama3.1-8b", "nxdi");
    usim_error err;
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, &err);
    serve_prefill p = {4096, 4096, true};
    serve_batch pre = {0, 0, 0, 0, 4096, &p, 1, 1};
    serve_iter_cost piped = serve_iteration(&c, &pre);
    net_result r;
    net_group g = {16, 1, 1, 4, NET_LAUNCH_ASYNC, false};
    assert_int_equal(net_collective(&d->sys, NET_ALLREDUCE, 4096 * 4096 * 2.0, g, NET_ALGO_AUTO,
                                    NET_MODEL_ANALYTIC, &r, &err),
                     USIM_OK);
    double C = piped.weights_s, B = 64 * r.bandwidth_seconds;
    assert_true(B > 0 && C > 0);
    assert_close(piped.comm_s, 2 * 64 * (r.seconds - r.bandwidth_seconds) + fmax(C, B) +
                                   fmin(C, B) / 2 - C, 1e-12);
    d->engine.collective_tiles = 0;
    assert_close(serve_iteration(&c, &pre).comm_s, 64 * r.seconds, 1e-12);
    serve_batch step = {2, 2, 100, 100, 0, NULL, 0, 2};
    double serial = serve_iteration(&c, &step).comm_s;
    d->engine.collective_tiles = 2;
    assert_close(serve_iteration(&c, &step).comm_s, serial, 1e-12);
    free(d);
}

/* NxD Inference runs its token-generation graph at the batch it was
 * compiled for: one request decoding under a cap of 8 costs what 8 decoding
 * at the same context cost without the padding, every line's share. */
static void decode_pads_to_the_compiled_batch(void **state)
{
    (void)state;
    serve_deployment *d = deployment("llama3.1-8b", "nxdi");
    usim_error err;
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, &err);
    d->max_batch = 8;
    serve_batch one = {1, 1, 1000, 1000, 0, NULL, 0, 1};
    serve_batch eight = {8, 8, 1000, 1000, 0, NULL, 0, 8};
    assert_true(d->engine.pad_decode_batch);
    double padded = serve_iteration(&c, &one).seconds;
    assert_close(padded, serve_iteration(&c, &eight).seconds, 1e-12);
    d->engine.pad_decode_batch = false;
    assert_close(padded, serve_iteration(&c, &eight).seconds, 1e-12);
    assert_true(serve_iteration(&c, &one).seconds < padded);
    free(d);
}

/* optimum-neuron compiles one token-generation graph for the whole sequence:
 * a decode step reads the KV cache to --max-model-len wherever its requests
 * stand (a 100-token and a 3,000-token prompt read alike), where NxD
 * Inference's buckets read to the next power of two. */
static void one_graph_reads_the_whole_sequence(void **state)
{
    (void)state;
    const char *base = "serve --model llama3.1-8b --hw trn2.48xlarge --chips 1 --tp 4 "
                       "--tp-unit core --batch 1 --max-model-len 4096 --osl 8 --requests 1 --json";
    double kv_short =
        cli_number(base, " --engine optimum-neuron --isl 100", "explain", "decode_kv_s");
    double kv_long =
        cli_number(base, " --engine optimum-neuron --isl 3000", "explain", "decode_kv_s");
    assert_close(kv_short, kv_long, 1e-12);
    assert_true(cli_number(base, " --engine nxdi --isl 100", "explain", "decode_kv_s") < kv_short);
    assert_close(cli_number(base, " --engine nxdi --isl 3000", "explain", "decode_kv_s"), kv_long,
                 1e-12);
}

/* Whatever --tp counts, NxD Inference's ranks are cores: Llama 3 8B on one
 * Trn2 chip (4 logical cores) all-reduces 4,096 x 2 bytes twice a layer at
 * batch 1 over those 4 cores, as the collective command times it. */
static void one_chip_all_reduces_over_its_cores(void **state)
{
    (void)state;
    double comm = cli_number("serve --model llama3-8b --hw trn2.48xlarge --tp 1 --chips 1 "
                             "--batch 1 --requests 2 --isl 128 --osl 16 --json",
                             "", "explain", "decode_comm_s");
    double one = cli_number("collective --hw trn2.48xlarge --chips 1 --op allreduce --size 8KiB "
                            "--group 4 --rank-unit core --json",
                            "", NULL, "time_s");
    assert_close(comm, 32 * 2 * one, 1e-9);
}

/* A TP group of fewer logical cores than a Trn2 chip's 4 runs on its share
 * of the chip, the other cores running replicas of their own: one core
 * holds all of Llama 3.1 8B's 8,030,261,248 bf16 parameters, four such
 * replicas fill one chip, and one alone takes a quarter of it. */
static void replicas_share_a_chip_by_cores(void **state)
{
    (void)state;
    const char *run = "serve --model llama3.1-8b --hw trn2.48xlarge --tp 1 --tp-unit core "
                      "--isl 128 --osl 4 --requests 4 --json";
    char args[300];
    snprintf(args, sizeof args, "%s --chips 1", run);
    json_t *full = cli_json(args);
    assert_close(json_number_value(json_object_get(full, "chips")), 1, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(full, "replicas")), 4);
    assert_int_equal(json_integer_value(json_object_get(full, "cores_per_replica")), 1);
    assert_close(json_number_value(json_object_get(full, "weights_bytes_per_chip")),
                 8030261248.0 * 2, 1e-12);
    json_decref(full);
    snprintf(args, sizeof args, "%s --replicas 1", run);
    json_t *one = cli_json(args);
    assert_close(json_number_value(json_object_get(one, "chips")), 0.25, 1e-12);
    assert_close(json_number_value(json_object_get(one, "output_tokens_per_s_per_chip")),
                 4 * json_number_value(json_object_get(one, "output_tokens_per_s")), 1e-12);
    json_decref(one);
    expect_input_error("serve --model llama3.1-8b --hw trn2.48xlarge --tp 3 --tp-unit core",
                       "3 cores do not divide a trn2 chip's 4 logical cores");
    expect_input_error("serve --model llama3.1-8b --hw trn2.48xlarge --tp 2 --pp 2 --tp-unit core",
                       "is not pipelined");
}

/* model on `chips` GPUs of a DGX, TP over them, bf16, under trtllm. */
static serve_deployment *gpu_deployment(const char *model, const char *hw, int chips)
{
    usim_error err;
    serve_deployment *d = calloc(1, sizeof *d);
    assert_non_null(d);
    assert_int_equal(wl_model_load(model, &d->model, &err), USIM_OK);
    assert_int_equal(hw_load_system(hw, chips, NULL, &d->sys, &err), USIM_OK);
    assert_int_equal(serve_engine_load("trtllm", &d->engine, &err), USIM_OK);
    d->tp = d->ep = chips;
    d->pp = d->replicas = 1;
    d->weights = d->kv_dtype = SERVE_W_BF16;
    return d;
}

/* DeepSeek-V3 decodes its latent attention absorbed: a chip's 128 / 8 = 16
 * heads attend over the 512 + 64 values a position keeps, read once for all
 * of them. 64 requests at 4,096 tokens on 8 H200s: 2 x 64 x 16 x 4,096 x
 * (576 + 512) FLOPs and 64 x 4,096 x 576 x 2 bytes a layer, on the matrix
 * units, 61 layers. */
static void mla_decodes_over_its_latent(void **state)
{
    (void)state;
    serve_deployment *d = gpu_deployment("deepseek-v3", "dgx-h200", 8);
    usim_error err;
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, &err);
    serve_iter_cost r = serve_iteration(&c, &(serve_batch){64, 64, 4096, 4096, 0, NULL, 0, 64});
    double flops = 2.0 * 64 * 16 * 4096 * (576 + 512), bytes = 64.0 * 4096 * 576 * 2;
    engine_cost layer = engine_in_graph(&d->sys.chip,
                                        engine_roofline(&d->sys.chip, flops, bytes, USIM_BF16, true));
    assert_close(r.kv_s, 61 * layer.seconds, 1e-12);
    free(d);
}

/* Attention data parallelism (Qwen3-30B-A3B on 4 H100s, bf16): each chip runs
 * its own batch up to the deployment's limits, and holds
 * a quarter of the 48 x 128 experts of 3 x 2,048 x 768 (28,991,029,248
 * weights) and the other 1,541,093,376 whole: 2 x 8,788,850,688 bytes; a
 * step all-gathers and reduce-scatters once a layer where TP all-reduces
 * twice, so its collectives take half TP's; each chip caches its own
 * requests' 4 KV heads, so the KV heads TP replicates (4 over 4 chips: one
 * each) cost nothing more, and the cache holds 4 times a chip's share. */
static void attention_dp_replicates_all_but_the_routed_experts(void **state)
{
    (void)state;
    serve_deployment *d = gpu_deployment("qwen3-30b-a3b", "dgx-h100", 4);
    serve_workload w = {.isl = 1024, .osl = 1024};
    usim_error err;
    serve_ctx c;
    serve_batch step = {256, 256, 1024, 1024, 0, NULL, 0, 256};
    serve_ctx_init(&c, d, &d->model, &err);
    double tp_comm = serve_iteration(&c, &step).comm_s;
    assert_int_equal(serve_attention_dp(d, &d->model), 1);
    d->attention_dp = SERVE_ADP_ON;
    assert_int_equal(serve_attention_dp(d, &d->model), 4);
    serve_memory mem = serve_memory_of(d, &w);
    assert_close(mem.weights, 2.0 * 8788850688.0, 1e-12);
    assert_close(mem.kv_per_token, 2.0 * 48 * 4 * 128 * 2, 1e-12);
    serve_ctx_init(&c, d, &d->model, &err);
    assert_close(serve_iteration(&c, &step).comm_s, tp_comm / 2, 1e-12);
    double left = 0.9 * (d->sys.chip.hbm.capacity_bytes - mem.weights - mem.workspace - mem.reserve);
    assert_close(mem.kv_tokens, floor(4 * left / mem.kv_per_token), 1e-12);
    /* the batch and token limits are each chip's, as TensorRT-LLM's per rank */
    d->max_batch = 128;
    d->token_budget = 1127;
    assert_int_equal(serve_replica_batch(d), 512);
    assert_close(serve_replica_budget(d), 4 * 1127.0, 0);
    /* a dense model has no experts to split: attention data parallelism is off */
    serve_deployment *dense = gpu_deployment("llama3-8b", "dgx-h100", 4);
    dense->attention_dp = SERVE_ADP_ON;
    assert_int_equal(serve_attention_dp(dense, &dense->model), 1);
    free(dense);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prompts_pay_their_bucket),
        cmocka_unit_test(cached_prefix_is_attended),
        cmocka_unit_test(draft_takes_kv_cache),
        cmocka_unit_test(listed_buckets_replace_the_powers_of_two),
        cmocka_unit_test(heads_shard_over_cores),
        cmocka_unit_test(old_trtllm_shares_kv_where_xqa_runs),
        cmocka_unit_test(decode_reads_as_compiled),
        cmocka_unit_test(transformers_neuronx_as_compiled),
        cmocka_unit_test(transformers_neuronx_runs_a_long_prompt_token_by_token),
        cmocka_unit_test(vllm_neuron_steps_wait_for_the_host),
        cmocka_unit_test(moe_prefill_runs_in_blocks),
        cmocka_unit_test(moe_permutations_move_their_bytes),
        cmocka_unit_test(trtllm_bench_sizes_the_engine),
        cmocka_unit_test(core_ranks_all_reduce_across_cores),
        cmocka_unit_test(one_chip_all_reduces_over_its_cores),
        cmocka_unit_test(replicas_share_a_chip_by_cores),
        cmocka_unit_test(decode_pads_to_the_compiled_batch),
        cmocka_unit_test(one_graph_reads_the_whole_sequence),
        cmocka_unit_test(prefill_collectives_overlap_gemms),
        cmocka_unit_test(mla_decodes_over_its_latent),
        cmocka_unit_test(attention_dp_replicates_all_but_the_routed_experts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
