/*
 * What one forward pass (an iteration) of a serving replica costs.
 *
 * An iteration runs `tokens` tokens through the model on one TP group: the
 * decode tokens of running requests (one each, or k + 1 when a speculative
 * round is verified) and the prompt tokens being prefilled. Per layer:
 *
 *   QKV and output projections, MLP (or routed experts): GEMMs of M = tokens
 *     rows against the layer's weights, which are read from HBM whole every
 *     iteration, so at small batch they cost weight bytes / bandwidth;
 *   attention: prompts attend causally to themselves; a decode token reads
 *     its request's whole KV cache;
 *   two TP all-reduces of tokens x hidden x 2 bytes, latency-bound at batch 1.
 *
 * Weight-only quantisation (int8) computes in bf16 but reads 1-byte weights:
 * the engine's roofline is re-read with the weight bytes halved.
 */
#include <math.h>
#include <string.h>

#include "serve/internal.h"
#include "ultrasim/engine.h"


static double weight_bytes_per_param(const serve_deployment *d)
{
    return serve_weight_bytes(d->weights);
}

/* The dtype GEMMs compute in: fp8 weights with fp8 activations where the
 * chip has fp8, NVFP4 in fp4 (the deployment is refused on chips without
 * it), fp16 where it has fp16; weight-only types (int8, int4, MXFP4) are
 * dequantised to bf16 and read at their own size. */
usim_dtype serve_gemm_dtype(const serve_deployment *d)
{
    if (d->weights == SERVE_W_NVFP4 && d->sys.chip.dense_flops.fp4 > 0)
        return USIM_FP4;
    if (d->weights == SERVE_W_FP8 && d->sys.chip.dense_flops.fp8 > 0)
        return USIM_FP8;
    if (d->weights == SERVE_W_FP16 && d->sys.chip.dense_flops.fp16 > 0)
        return USIM_FP16;
    return USIM_BF16;
}

double serve_max_model_len(const serve_deployment *d)
{
    return d->max_model_len > 0 ? d->max_model_len : d->model.max_seq;
}

bool serve_in_prompt_tail(const serve_deployment *d, double prefilled)
{
    return d->engine.serial_prompt_tail && prefilled >= serve_context_bucket_max(d);
}

double serve_prompt_chunk(const serve_deployment *d, double prefilled, double left)
{
    if (!d->engine.serial_prompt_tail)
        return left;
    double head = serve_context_bucket_max(d);
    return prefilled < head ? fmin(left, head - prefilled) : fmin(left, 1);
}

/* The largest context-encoding graph: the last of a run's list, else one
 * of max_model_len. transformers-neuronx's own default ends at half of it
 * (bucket.py), but AWS's runs set their context estimates to hold their
 * prompts (the engine file's serial_prompt_tail), so only a list shorter
 * than a prompt leaves it a tail. */
double serve_context_bucket_max(const serve_deployment *d)
{
    if (d->nprefill_buckets > 0)
        return d->prefill_buckets[d->nprefill_buckets - 1];
    return serve_max_model_len(d);
}

/* `batch` GEMMs (a whole number) of m tokens through a k x n weight matrix. */
static double whole_gemms_s(const serve_ctx *c, double m, double k, double n, double batch)
{
    engine_gemm_op op = {(int64_t)ceil(m), (int64_t)ceil(k), (int64_t)ceil(n), (int64_t)batch,
                         c->dtype};
    engine_cost e = engine_in_graph(&c->d->sys.chip, engine_gemm(&c->d->sys.chip, &op));
    double stored = usim_dtype_bytes(c->dtype), wanted = weight_bytes_per_param(c->d);
    if (stored == wanted || e.bytes <= 0)
        return e.seconds;
    /* Re-read the roofline with the weights' true size. */
    double weights = k * n * fmax(batch, 1) * stored;
    double memory = e.memory_s * (e.bytes - weights * (1 - wanted / stored)) / e.bytes;
    return e.seconds - fmax(e.compute_s, e.memory_s) + fmax(e.compute_s, memory);
}

/* A GEMM of m tokens through a k x n weight matrix, `batch` times; an
 * expected count of them (5.47 experts a batch touches on average) costs
 * between the whole counts around it, not the one below. */
static double weight_gemm_s(const serve_ctx *c, double m, double k, double n, double batch)
{
    if (m < 1 || k < 1 || n < 1)
        return 0;
    double below = floor(fmax(batch, 1)), part = fmax(batch, 1) - below;
    double s = whole_gemms_s(c, m, k, n, below);
    return part > 0 ? s + part * (whole_gemms_s(c, m, k, n, below + 1) - s) : s;
}

/* Multi-head latent attention decodes with its key and value up-projections
 * absorbed into the query and the output (DeepSeek-V2, section 2.1.3; DeepSeek's
 * FlashMLA kernel): every head of a chip attends over the one compressed
 * latent a position keeps (kv_lora_rank + rope dims), read once for all of
 * them; scores over those dims, values over the latent's. */
static double mla_decode_s(const serve_ctx *c, double batch, double q_len, double kv_len)
{
    const wl_mla *a = &c->model->mla;
    const hw_chip *chip = &c->d->sys.chip;
    double latent = (double)a->kv_lora_rank + a->qk_rope_dim;
    double heads = serve_q_heads_per_chip(c->d, c->model);
    double flops = 2.0 * batch * q_len * heads * kv_len * (latent + a->kv_lora_rank);
    double bytes = batch * kv_len * latent * serve_weight_bytes(c->d->kv_dtype);
    return engine_in_graph(chip, engine_roofline(chip, flops, bytes, USIM_BF16, true)).seconds;
}

static double attention_s(const serve_ctx *c, double batch, double q_len, double kv_len,
                          bool causal)
{
    const wl_model *m = c->model;
    if (batch < 1 || q_len < 1)
        return 0;
    if (m->mla.kv_lora_rank > 0 && !causal)
        return mla_decode_s(c, batch, q_len, fmax(kv_len, q_len));
    double kv_heads = serve_kv_heads_per_chip(c->d, c->model);
    engine_attention_op op = {(int64_t)batch,
                              (int64_t)fmax(serve_q_heads_per_chip(c->d, c->model), 1),
                              (int64_t)kv_heads,
                              (int64_t)ceil(q_len),
                              (int64_t)ceil(fmax(kv_len, q_len)),
                              m->mla.kv_lora_rank > 0 ? m->mla.qk_nope_dim + m->mla.qk_rope_dim
                                                      : m->head_dim,
                              causal,
                              false,
                              /* a decode step reads the cache as stored: 1-byte
                               * fp8/int8 halves its traffic */
                              !causal && serve_weight_bytes(c->d->kv_dtype) < 2.0 ? USIM_FP8
                                                                                   : USIM_BF16,
                              (engine_attention_kernel)c->attention,
                              false,
                              0};
    /* the sliding-window layers (gpt-oss: every other one) see their window */
    return engine_attention_layer_s(&c->d->sys.chip, op, m->sliding_window, wl_sliding_share(m));
}

/* One collective of `bytes` over the TP group (zero without TP). */
static net_result tp_collective(serve_ctx *c, net_op op, double bytes)
{
    net_result r;
    memset(&r, 0, sizeof r);
    int per_chip = c->d->tp_ranks_per_chip > 1 ? c->d->tp_ranks_per_chip : 1;
    if (c->d->tp * per_chip <= 1 || c->st != USIM_OK)
        return r;
    net_group g = {c->d->tp * per_chip, 1, c->d->sys.chips / c->d->tp, per_chip,
                   NET_LAUNCH_ASYNC, false};
    c->st = net_collective(&c->d->sys, op, bytes, g, NET_ALGO_AUTO, NET_MODEL_ANALYTIC, &r,
                           c->err);
    if (c->st != USIM_OK)
        memset(&r, 0, sizeof r);
    return r;
}

/* One layer's TP all-reduce of `tokens` activations. */
static net_result tp_allreduce(serve_ctx *c, double tokens)
{
    return tp_collective(c, NET_ALLREDUCE, tokens * c->model->hidden * 2.0);
}

double serve_medusa_s(serve_ctx *c, double rows)
{
    const serve_medusa *m = &c->d->medusa;
    double h = m->hidden, t = c->d->tp, blocks = (double)m->heads * m->head_layers;
    double gemms = weight_gemm_s(c, rows, h, h / t, blocks) +
                   weight_gemm_s(c, rows, h, m->vocab / t, m->heads);
    /* every block's and LM head's output gathered whole over TP */
    return gemms + blocks * tp_collective(c, NET_ALLGATHER, rows * h * 2.0).seconds +
           m->heads * tp_collective(c, NET_ALLGATHER, rows * m->vocab * 2.0).seconds;
}

/* A step's TP collectives beside its GEMMs (gemm_s): one after another, or
 * on an engine that pipelines a prefill's collectives with compute in n
 * tiles, their bandwidth part overlapped: a two-stage pipeline of n tiles
 * lasts max(C, B) + min(C, B) / n where C and B run alone, so B adds that
 * less C. Each of the n tiles is a collective of its own and pays the
 * latency. */
static double collectives_s(const serve_ctx *c, net_result r, double count, double gemm_s,
                            bool prefill)
{
    int n = c->d->engine.collective_tiles;
    if (!prefill || n <= 1)
        return count * r.seconds;
    double bw = count * r.bandwidth_seconds, latency = count * r.seconds - bw;
    return n * latency + fmax(gemm_s, bw) + fmin(gemm_s, bw) / n - gemm_s;
}

static double elementwise_s(const serve_ctx *c, double elements, double flops, double bytes)
{
    engine_vector_op op = {elements, flops, elements * bytes, ENGINE_VECTOR};
    return elements > 0 ? engine_vector(&c->d->sys.chip, &op).seconds : 0;
}

static double norm_s(const serve_ctx *c, double elements)
{
    return elementwise_s(c, elements, 4, 4);
}

/* One layer's elementwise kernels: two norms, rotary embedding of q and k,
 * the MLP activation, two residual adds. */
static double layer_elementwise_s(const serve_ctx *c, double tokens)
{
    const wl_model *m = c->model;
    double t = serve_dense_split(c->d, c->model), h = m->hidden;
    double qk = (serve_q_heads_per_chip(c->d, c->model) + serve_kv_heads_per_chip(c->d, c->model)) * m->head_dim;
    double act = (m->experts > 1 ? (double)m->expert_ffn * m->experts_per_token : m->ffn) / t;
    double norms = c->model->sandwich_norm ? 4 : c->model->one_norm ? 1 : 2;
    return norms * norm_s(c, tokens * h) + elementwise_s(c, tokens * qk, 6, 4) +
           elementwise_s(c, tokens * act, 4, 6) + 2 * elementwise_s(c, tokens * h, 1, 6);
}

/* A MoE layer's permutation kernels: each token's copies for its experts
 * (those of this chip's EP group) and their outputs reduced back. */
static double permute_s(const serve_ctx *c, double tokens)
{
    const wl_model *m = c->model;
    double bytes = c->d->engine.moe_permute_bytes;
    double routed = tokens * m->experts_per_token / c->d->ep;
    return bytes > 0 ? elementwise_s(c, routed * m->hidden, 1, bytes) : 0;
}

serve_experts serve_routed_experts(const wl_model *m, int ep, double tokens, double block)
{
    double local = (double)m->experts / ep;
    double visits = tokens * m->experts_per_token / ep;
    if (block > 0) /* static blocks, enough for any routing, all computed */
        return (serve_experts){ceil(visits / block) + local - 1, block};
    /* Each token picks k of the E experts; under even routing an expert is
     * left out by all of them with probability (1 - k / E)^tokens, so a chip's
     * batch touches local x (1 - (1 - k / E)^tokens) of its experts on
     * average: Mixtral's 4 decode tokens (top-2 of 8) read 5.47 experts, not
     * all 8. Fewer visits than EP groups: the busiest chip still runs a token
     * through a whole local expert, and the step waits for it. */
    double k = m->experts_per_token, e = m->experts;
    double touched = fmax(1, local * (1 - pow(1 - k / e, tokens)));
    return (serve_experts){touched, fmax(1, visits / touched)};
}

/* One layer's weight GEMMs for `tokens` tokens, of which a chip's attention,
 * dense MLP and shared expert run `own` (all of them, or under attention
 * data parallelism the busiest chip's share); a prefill on an engine with
 * blockwise experts (block > 0) runs the experts in blocks of that many. */
static double layer_gemms_s(const serve_ctx *c, double tokens, double own, bool moe,
                            double block)
{
    const wl_model *m = c->model;
    double h = m->hidden, t = c->d->tp, split = serve_dense_split(c->d, c->model);
    double q = serve_q_heads_per_chip(c->d, c->model) * m->head_dim;
    double kv = serve_kv_heads_per_chip(c->d, c->model) * m->head_dim;
    double s = weight_gemm_s(c, own, wl_qkv_input(m), q + 2 * kv, 1) +
               weight_gemm_s(c, own, q, h, 1);
    bool gated = m->mlp == WL_MLP_SWIGLU;
    if (!moe) {
        double f = m->ffn / split;
        return s + weight_gemm_s(c, own, h, (gated ? 2 : 1) * f, 1) +
               weight_gemm_s(c, own, f, h, 1);
    }
    /* Routed experts: each token visits top-k of E; the experts a batch
     * touches all have their weights read (at most all E / EP local ones).
     * A chip's EP group of tp / ep chips splits each local expert's FFN
     * tp / ep ways, so per chip the expert bytes are 1 / tp whatever ep is. */
    double fe = m->expert_ffn / (t / c->d->ep);
    serve_experts x = serve_routed_experts(m, c->d->ep, tokens, block);
    s += weight_gemm_s(c, own, h, m->experts, 1);
    s += weight_gemm_s(c, x.rows, h, (gated ? 2 : 1) * fe, x.gemms);
    s += weight_gemm_s(c, x.rows, fe, h, x.gemms);
    if (m->shared_experts > 0) {
        double fs = (double)m->shared_experts * m->expert_ffn / split;
        s += weight_gemm_s(c, own, h, (gated ? 2 : 1) * fs, 1) +
             weight_gemm_s(c, own, fs, h, 1);
    }
    return s;
}

/* The compiled bucket n tokens run in: the smallest power of two >=
 * max(n, floor), the engine's top bucket being max_model_len itself. */
static double pow2_bucket(const serve_deployment *d, double n, double floor)
{
    double b = exp2(ceil(log2(fmax(fmax(n, floor), 1))));
    return fmax(n, fmin(b, serve_max_model_len(d)));
}

/* Tokens a prefill computes: a whole prompt (or the head of one whose
 * tail runs token by token) on an engine of compiled context-encoding
 * buckets runs padded to its bucket, the smallest of the run's own list
 * that holds it (one longer than all is refused before the run, unless its
 * tail runs token by token), or else of the engine's powers of two, which
 * end at its top context bucket. */
static double compiled_prompt(const serve_deployment *d, const serve_prefill *p)
{
    int floor = d->engine.prefill_bucket_min;
    if (floor <= 0 || !p->first)
        return p->tokens;
    for (int i = 0; i < d->nprefill_buckets; i++)
        if (d->prefill_buckets[i] >= p->tokens)
            return d->prefill_buckets[i];
    return fmax(p->tokens, fmin(pow2_bucket(d, p->tokens, floor), serve_context_bucket_max(d)));
}

/* Keys a decode step reads per request. */
static double decode_read(const serve_deployment *d, const serve_batch *b)
{
    switch (d->engine.decode_kv_read) {
    case SERVE_KV_BUCKET: /* the graph of the longest context in the batch */
        return pow2_bucket(d, b->decode_context_max, d->engine.prefill_bucket_min);
    case SERVE_KV_MAX_MODEL_LEN: /* a longer request is refused; read it whole if not */
        return fmax(serve_max_model_len(d), b->decode_context_max);
    default:
        return b->decode_context;
    }
}

/* An iteration's prompts as compiled: their tokens, the longest, and their
 * attention one after another (and the longest's). */
typedef struct prefill_sums {
    double tokens, longest, attention_s, longest_attention_s;
} prefill_sums;

static prefill_sums sum_prefills(const serve_ctx *c, const serve_batch *b)
{
    prefill_sums p = {0, 0, 0, 0};
    double q0 = 0, kv0 = 0;
    bool alike = true;
    for (int i = 0; i < b->nprefill; i++) {
        double q = compiled_prompt(c->d, &b->prefill[i]);
        double kv = b->prefill[i].context - b->prefill[i].tokens + q;
        double s = attention_s(c, 1, q, kv, true);
        alike = alike && (i == 0 || (q == q0 && kv == kv0));
        q0 = q;
        kv0 = kv;
        p.tokens += q;
        p.longest = fmax(p.longest, q);
        p.attention_s += s;
        p.longest_attention_s = fmax(p.longest_attention_s, s);
    }
    /* Engines run a batch's prompts through one variable-length fused kernel
     * a layer (FlashAttention's varlen, TensorRT-LLM's packed context FMHA):
     * one launch whose tiles share the SMs, not a kernel a prompt (1,000
     * one-token prompts paid 160 ms of launches on an H100). Prompts alike
     * are one batched kernel; others pay their own tiles and one launch. The
     * unfused path's kernels stay per prompt. */
    if (b->nprefill > 1 && c->attention != ENGINE_ATTN_UNFUSED)
        p.attention_s = alike ? attention_s(c, b->nprefill, q0, kv0, true)
                              : p.attention_s - (b->nprefill - 1) *
                                                    engine_attention_fixed_s(&c->d->sys.chip);
    return p;
}

/* A prefill's attention: its prompts one after another, or under attention
 * data parallelism spread over the chips (each prompt on one of them), the
 * busiest chip at least the longest prompt's. */
static double prefill_attention_s(const prefill_sums *p, int nprefill, int dp)
{
    if (nprefill == 0)
        return 0;
    return dp > 1 ? fmax(p->attention_s / fmin(nprefill, dp), p->longest_attention_s)
                  : p->attention_s;
}

/* The decode lines a step runs: its own, or on an engine whose
 * token-generation graph is compiled for the batch cap, that many (the
 * padded lines read their own cache lines to the same bucket). */
static serve_batch padded_decode(const serve_deployment *d, const serve_batch *b)
{
    serve_batch p = *b;
    if (!d->engine.pad_decode_batch || b->decode_seqs <= 0 || b->decode_seqs >= d->max_batch)
        return p;
    double per_seq = b->decode_tokens / b->decode_seqs;
    p.logits += (d->max_batch - b->decode_seqs) * per_seq;
    p.decode_seqs = d->max_batch;
    p.decode_tokens = per_seq * p.decode_seqs;
    return p;
}

serve_iter_cost serve_iteration(serve_ctx *c, const serve_batch *batch)
{
    serve_iter_cost r;
    const wl_model *m = c->model;
    memset(&r, 0, sizeof r);
    serve_batch padded = padded_decode(c->d, batch);
    const serve_batch *b = &padded;
    prefill_sums sums = sum_prefills(c, b);
    double prefill = sums.tokens, longest = sums.longest;
    double tokens = b->decode_tokens + prefill;
    if (tokens <= 0)
        return r;
    /* Under attention data parallelism a chip runs its own requests' share:
     * the busiest holds ceil(seqs / dp) of the decoding ones and at least
     * the longest prompt. */
    int dp = serve_attention_dp(c->d, m);
    double per_seq = b->decode_seqs > 0 ? b->decode_tokens / b->decode_seqs : 0;
    double own_seqs = ceil(b->decode_seqs / dp);
    double own = dp > 1 ? fmax(own_seqs * per_seq + prefill / dp, longest) : tokens;
    int moe_layers = wl_moe_layers(m);
    int dense_layers = m->layers - moe_layers;
    double block = prefill > 0 ? c->d->engine.moe_prefill_block : 0;
    double per_layer_dense = layer_gemms_s(c, tokens, own, false, 0);
    double per_layer_moe = moe_layers ? layer_gemms_s(c, tokens, own, true, block) : 0;
    r.weights_s = dense_layers * per_layer_dense + moe_layers * per_layer_moe;
    /* Decode tokens: each reads its request's KV cache, as far as the
     * engine's attention reads it. */
    double kv = 0;
    if (b->decode_seqs > 0)
        kv += attention_s(c, own_seqs, per_seq, decode_read(c->d, b), false);
    kv += prefill_attention_s(&sums, b->nprefill, dp);
    r.kv_s = m->layers * kv;
    /* TP: an all-reduce after attention and after the MLP of every layer;
     * attention data parallelism: the routed experts' dispatch (all-gather)
     * and combine (reduce-scatter) of each expert layer, an all-reduce's
     * traffic between them. */
    double count = dp > 1 ? (double)moe_layers : m->layers * 2.0;
    r.comm_s = collectives_s(c, tp_allreduce(c, tokens), count, r.weights_s, b->nprefill > 0);
    double own_logits = dp > 1 ? ceil(b->logits / dp) : b->logits;
    r.other_s = m->layers * layer_elementwise_s(c, own) + moe_layers * permute_s(c, tokens) +
                weight_gemm_s(c, own_logits, m->hidden,
                              (double)wl_head_vocab(m) / serve_dense_split(c->d, c->model), 1);
    if (m->fused_states > 0) /* an EAGLE-3 head's fc, split over TP as its memory counts it */
        r.weights_s += weight_gemm_s(c, tokens, (double)m->fused_states * m->hidden,
                                     (double)m->hidden / c->d->tp, 1);
    /* With PP the stages run one after another: every layer still runs once,
     * plus a send of the activations between consecutive stages. */
    if (c->d->pp > 1 && c->st == USIM_OK) {
        net_result p2p;
        net_group pair = {2, c->d->tp, c->d->sys.chips / 2, 0, NET_LAUNCH_ASYNC, false};
        c->st = net_collective(&c->d->sys, NET_SENDRECV, tokens * m->hidden * 2.0, pair,
                               NET_ALGO_AUTO, NET_MODEL_ANALYTIC, &p2p, c->err);
        r.comm_s += (c->d->pp - 1) * (c->st == USIM_OK ? p2p.seconds : 0);
    }
    r.other_s += c->d->engine.step_gap_s; /* the host's gap before the device runs it */
    r.seconds = r.weights_s + r.kv_s + r.comm_s + r.other_s;
    return r;
}
