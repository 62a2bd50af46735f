/*
 * Deployments: what a replica holds in HBM, and whether it can serve at all.
 *
 * Per chip: the weights of its share of the model (split by TP and PP) at
 * the weight dtype's bytes, the draft model's when
 * speculating, a workspace for one iteration's activations and logits, the
 * runtime reserve, and the paged KV cache in what is left. A KV cache token
 * costs 2 (K and V) x layers x KV heads per chip x head dim x KV bytes; with
 * more TP ranks than KV heads, heads are replicated, not split.
 *
 * Expert parallelism regroups the same chips rather than adding any: the tp
 * chips of a pipeline stage hold a layer's experts, ep groups of tp / ep
 * chips each holding experts / ep whole experts split tp / ep ways. A chip
 * holds 1 / tp of the experts' weights whatever ep is, and ep must divide tp
 * (a layer's experts cannot live on another stage's chips).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/internal.h"

#define GIB (1024.0 * 1024 * 1024)
/* The same runtime reserve as training (workload/memory.c). */
#define RUNTIME_RESERVE_BYTES (2.0 * GIB)

double serve_weight_bytes(int weights)
{
    switch (weights) {
    case SERVE_W_FP8:
    case SERVE_W_INT8:
        return 1.0;
    case SERVE_W_INT4:
        return 0.5 + 2.0 / 128.0; /* 4 bits, an fp16 scale per 128 */
    case SERVE_W_MXFP4:
        return 0.5 + 1.0 / 32.0; /* 4 bits, an E8M0 scale byte per 32 (OCP MX v1.0) */
    case SERVE_W_NVFP4:
        return 0.5 + 1.0 / 16.0; /* 4 bits, an E4M3 scale byte per 16 */
    default:
        return 2.0; /* bf16, fp16 */
    }
}

int serve_attention_dp(const serve_deployment *d, const wl_model *m)
{
    bool on = d->attention_dp == SERVE_ADP_ENGINE ? d->engine.moe_attention_dp
                                                   : d->attention_dp == SERVE_ADP_ON;
    return on && m->experts > 1 && d->tp_ranks_per_chip <= 1 ? d->tp : 1;
}

double serve_dense_split(const serve_deployment *d, const wl_model *m)
{
    return serve_attention_dp(d, m) > 1 ? 1.0 : (double)d->tp;
}

int serve_replica_batch(const serve_deployment *d)
{
    return d->max_batch * serve_attention_dp(d, &d->model);
}

double serve_replica_budget(const serve_deployment *d)
{
    return (double)d->token_budget * serve_attention_dp(d, &d->model);
}

/* A chip's share of the weights: 1 / (TP x PP) of them, or under attention
 * data parallelism the routed experts' share and every other weight of its
 * stage whole. */
static double weight_bytes(const serve_deployment *d, const wl_model *m)
{
    wl_params p = wl_model_params(m);
    double split = p.total / d->tp;
    if (serve_attention_dp(d, m) > 1)
        split = p.mlp_experts / d->tp + (p.total - p.mlp_experts);
    return serve_weight_bytes(d->weights) * split / d->pp;
}

/* Medusa heads, split over TP as the target's LM head beside them, counted
 * over the stages as the target's weights are (an average stage). */
static double medusa_bytes(const serve_deployment *d)
{
    return serve_weight_bytes(d->weights) * serve_medusa_params(&d->medusa) / d->tp / d->pp;
}

/* TP ranks: chips, or on Trainium every NeuronCore of them. */
static double tp_ranks(const serve_deployment *d)
{
    return (double)d->tp * (d->tp_ranks_per_chip > 1 ? d->tp_ranks_per_chip : 1);
}

/* Attention heads of model m on one chip. Heads TP does not divide are
 * padded to a multiple of the TP ranks (NxD Inference's
 * get_shardable_head_counts pads them to one; GPU engines require TP to
 * divide them). */
double serve_q_heads_per_chip(const serve_deployment *d, const wl_model *m)
{
    if (serve_attention_dp(d, m) > 1)
        return m->heads;
    double ranks = tp_ranks(d);
    return ceil(m->heads / ranks) * ranks / d->tp;
}

/* KV heads of model m on one chip. A GPU holds its share, one when there
 * are fewer KV heads than GPUs (vLLM replicates them). NeuronCores hold
 * them as NxD Inference shards them (modules/attention/gqa.py): multi-head
 * attention keeps one KV head per (padded) query head; KV heads the ranks
 * divide are split; fewer KV heads than ranks, a divisor of them, are
 * replicated to one a rank (REPLICATE_TO_TP_DEGREE); any other count is
 * turned into multi-head attention (CONVERT_TO_MHA). */
double serve_kv_heads_per_chip(const serve_deployment *d, const wl_model *m)
{
    double ranks = tp_ranks(d), per_chip = ranks / d->tp;
    if (serve_attention_dp(d, m) > 1)
        return m->kv_heads;
    if (per_chip <= 1)
        return fmax((double)m->kv_heads / d->tp, 1);
    if (m->kv_heads == m->heads)
        return serve_q_heads_per_chip(d, m);
    if (fmod(m->kv_heads, ranks) == 0)
        return m->kv_heads / (double)d->tp;
    if (fmod(ranks, m->kv_heads) == 0)
        return per_chip;
    return serve_q_heads_per_chip(d, m);
}

/* KV cache bytes a token of model m takes on a chip at context ctx. */
static double kv_bytes_per_token_of(const serve_deployment *d, const wl_model *m, double ctx)
{
    double kv_bytes = serve_weight_bytes(d->kv_dtype);
    double layers = (double)m->layers;
    if (ctx > m->sliding_window)
        layers -= m->layers * wl_sliding_share(m) * (1.0 - m->sliding_window / ctx);
    layers /= d->pp;
    if (m->mla.kv_lora_rank > 0) /* the compressed latent and the rope key, per layer */
        return layers * ((double)m->mla.kv_lora_rank + m->mla.qk_rope_dim) * kv_bytes;
    return 2 * layers * serve_kv_heads_per_chip(d, m) * m->head_dim * kv_bytes;
}

/* The target's, and a draft's beside it: vLLM allocates a drafter's layers
 * from the same KV cache blocks (its V1 KV cache spec spans every attention
 * layer of the worker, the draft's included). */
double serve_kv_bytes_per_token(const serve_deployment *d, double ctx)
{
    double target = kv_bytes_per_token_of(d, &d->model, ctx);
    return serve_draft_runs(d) ? target + kv_bytes_per_token_of(d, &d->draft, ctx) : target;
}

bool serve_draft_runs(const serve_deployment *d)
{
    return d->spec_len > 0 && d->draft.layers > 0;
}

double serve_verify_tokens(const serve_deployment *d)
{
    if (d->spec_len <= 0)
        return 1;
    bool tree = d->medusa.heads > 0 && !d->engine.medusa_chain;
    return tree ? d->medusa.tree_tokens : d->spec_len + 1;
}

double serve_medusa_rows(const serve_deployment *d)
{
    return d->engine.medusa_chain ? 1 : d->medusa.tree_tokens;
}

/* One iteration's activations on a chip (a few hidden-size tensors per
 * token) and the fp32 logits of the rows that sample; under attention data
 * parallelism a chip's own tokens (the limits are each chip's) through its
 * whole dense MLP and LM head. */
static double workspace_bytes(const serve_deployment *d, double tokens)
{
    const wl_model *m = &d->model;
    double split = serve_dense_split(d, m);
    double act = tokens * (4.0 * m->hidden + 3.0 * m->ffn / split) * 2.0;
    double logits = fmin(tokens, d->max_batch) * wl_head_vocab(m) / split * 4.0;
    return act + logits;
}

/* What the engine lets the KV cache take beside `fixed` bytes (weights,
 * workspace, runtime): a fraction of what is left (TensorRT-LLM), or of the
 * whole memory with everything else inside it (vLLM). */
static double kv_cache_bytes(const serve_deployment *d, double fixed)
{
    double hbm = d->sys.chip.hbm.capacity_bytes, f = d->engine.kv_fraction;
    if (f <= 0)
        return hbm - fixed;
    return d->engine.kv_fraction_of == SERVE_KV_OF_TOTAL ? f * hbm - fixed : f * (hbm - fixed);
}

/* " (engine trtllm: the cache takes 90% of what the weights leave)" where
 * the engine bounds the cache, or "". */
static const char *kv_share_text(const serve_deployment *d, char *buf, size_t size)
{
    bool bounds = d->engine.kv_fraction > 0 &&
                  (d->engine.kv_fraction < 1 || d->engine.kv_fraction_of == SERVE_KV_OF_TOTAL);
    if (!bounds)
        return "";
    snprintf(buf, size, " (engine %s: the cache takes %.0f%% of %s)", d->engine.name,
             100 * d->engine.kv_fraction,
             d->engine.kv_fraction_of == SERVE_KV_OF_TOTAL ? "the HBM, weights included"
                                                           : "what the weights leave");
    return buf;
}

serve_memory serve_memory_of(const serve_deployment *d, const serve_workload *w)
{
    serve_memory mem;
    memset(&mem, 0, sizeof mem);
    double isl = w ? (double)w->isl : 1.0;
    double batch_tokens = (double)d->max_batch * isl;
    bool budgeted = d->scheduler != SERVE_STATIC && d->scheduler != SERVE_CHUNKED;
    double step_tokens = batch_tokens;
    if (d->scheduler == SERVE_CHUNKED)
        step_tokens = d->token_budget;
    else if (budgeted)
        step_tokens = fmin(batch_tokens, fmax(d->token_budget, isl));
    mem.weights = weight_bytes(d, &d->model) +
                  (serve_draft_runs(d) ? weight_bytes(d, &d->draft) : 0) +
                  (d->medusa.heads > 0 ? medusa_bytes(d) : 0);
    mem.workspace = workspace_bytes(d, fmin(step_tokens, 65536));
    mem.reserve = RUNTIME_RESERVE_BYTES;
    mem.kv_per_token = serve_kv_bytes_per_token(d, w ? (double)w->isl + (double)w->osl : 0.0);
    double left = kv_cache_bytes(d, mem.weights + mem.workspace + mem.reserve);
    /* under attention data parallelism each chip holds its own requests' */
    double holders = serve_attention_dp(d, &d->model);
    mem.kv_tokens = left > 0 ? floor(holders * left / mem.kv_per_token) : 0;
    return mem;
}

/* EP on a dense model is refused as train refuses it. */
usim_status serve_check_ep(const wl_model *m, int ep, int tp, const char *ranks, usim_error *err)
{
    if (m->experts <= 1 && ep > 1)
        return usim_fail_field(err, USIM_EINPUT, "ep",
                               "EP %d needs a mixture-of-experts model (this one has 1 expert)",
                               ep);
    if (m->experts > 1 && m->experts % ep != 0)
        return usim_fail_field(err, USIM_EINPUT, "ep",
                               "EP %d does not divide the %d experts (allowed: a divisor of %d "
                               "that divides TP %d)",
                               ep, m->experts, m->experts, tp);
    if (ep > tp)
        return usim_fail_field(err, USIM_EINPUT, "ep",
                               "EP %d needs %d %s per pipeline stage to hold the experts; TP %d "
                               "gives %d (allowed: 1 to %d, dividing TP %d; raise --tp to spread "
                               "the experts over more %s)",
                               ep, ep, ranks, tp, tp, tp, tp, ranks);
    if (tp % ep != 0)
        return usim_fail_field(err, USIM_EINPUT, "ep",
                               "EP %d does not divide TP %d: EP ranks are the stage's %s "
                               "(allowed: a divisor of %d)",
                               ep, tp, ranks, tp);
    return USIM_OK;
}

static usim_status check_split(const serve_deployment *d, usim_error *err)
{
    const wl_model *m = &d->model;
    int group = d->tp * d->pp;
    if (d->tp > m->heads * 8)
        return usim_fail_field(err, USIM_EINPUT, "tp",
                               "TP %d is more than 8 ranks per attention head (%d heads)", d->tp,
                               m->heads);
    if (d->pp > m->layers)
        return usim_fail_field(err, USIM_EINPUT, "pp", "PP %d is more than the %d layers", d->pp,
                               m->layers);
    usim_status st = serve_check_ep(m, d->ep, d->tp, "chips", err);
    if (st != USIM_OK)
        return st;
    if ((long long)group * d->replicas > d->sys.chips)
        return usim_fail_field(err, USIM_EINPUT, "replicas",
                               "%d replicas of TP %d x PP %d need %lld chips; the system has %d "
                               "(raise --chips)",
                               d->replicas, d->tp, d->pp, (long long)group * d->replicas,
                               d->sys.chips);
    if (d->scheduler == SERVE_DISAGG && d->replicas < 2)
        return usim_fail_field(err, USIM_EINPUT, "replicas",
                               "disaggregation needs 2 replicas or more (a prefill and a decode "
                               "one); %d of TP %d x PP %d run here (raise --chips or --replicas)",
                               d->replicas, d->tp, d->pp);
    if (d->scheduler == SERVE_DISAGG &&
        (d->prefill_replicas < 1 || d->prefill_replicas >= d->replicas))
        return usim_fail_field(err, USIM_EINPUT, "prefill-replicas",
                               "%d of %d replicas prefilling leaves %s (allowed: 1 to %d)",
                               d->prefill_replicas, d->replicas,
                               d->prefill_replicas < 1 ? "none to prefill" : "none to decode",
                               d->replicas - 1);
    return USIM_OK;
}

/* Every layer's projections run on the matrix units: a chip without a rate
 * for the GEMM dtype would give infinite step times. */
static usim_status check_chip(const serve_deployment *d, usim_error *err)
{
    usim_dtype t = serve_gemm_dtype(d);
    if (hw_core_matrix_flops(&d->sys.chip, t) > 0)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "hw",
                           "%s cannot serve: its matrix units do no %s work "
                           "(chip.matrix.macs_per_pe_per_cycle.%s is 0; allowed: above 0)",
                           d->sys.chip.name, usim_dtype_name(t), usim_dtype_name(t));
}

/* What frees memory for this deployment: more chips a replica or smaller
 * weights, and under attention data parallelism splitting what it keeps
 * whole. */
static const char *fixes_for_memory(const serve_deployment *d)
{
    bool dp = serve_attention_dp(d, &d->model) > 1, small = serve_weight_bytes(d->weights) <= 1.0;
    return dp ? (small ? "use --attention-dp off or raise --pp"
                       : "use --attention-dp off, raise --pp or use --weights fp8")
              : (small ? "raise --tp or --pp" : "raise --tp or --pp, or use --weights fp8");
}

/* Attention data parallelism asked for where there is none to run: a dense
 * model (every weight is TP's), or Neuron's core-sharded engines. */
static usim_status check_attention_dp(const serve_deployment *d, usim_error *err)
{
    if (d->attention_dp != SERVE_ADP_ON)
        return USIM_OK;
    if (d->spec_len > 0)
        return usim_fail_field(err, USIM_EINPUT, "attention-dp",
                               "on with --spec-draft: a draft beside a data-parallel target is "
                               "not modelled; allowed with a draft: engine, off");
    if (d->model.experts <= 1)
        return usim_fail_field(err, USIM_EINPUT, "attention-dp",
                               "on needs a mixture-of-experts model (%s has 1 expert); allowed "
                               "for it: engine, off",
                               d->model.name);
    if (d->tp_ranks_per_chip > 1)
        return usim_fail_field(err, USIM_EINPUT, "attention-dp",
                               "on is a GPU engine's (TensorRT-LLM's enable_attention_dp); the "
                               "Neuron engines shard attention over NeuronCores; allowed on "
                               "Trainium: engine, off");
    return USIM_OK;
}

usim_status serve_check(const serve_deployment *d, const serve_workload *w, usim_error *err)
{
    usim_status st = check_split(d, err);
    if (st == USIM_OK)
        st = check_attention_dp(d, err);
    if (st == USIM_OK)
        st = check_chip(d, err);
    if (st != USIM_OK)
        return st;
    serve_memory mem = serve_memory_of(d, w);
    double capacity = d->sys.chip.hbm.capacity_bytes;
    double fixed = mem.weights + mem.workspace + mem.reserve;
    char draft[160] = "";
    /* name the draft: its weights may be what does not fit */
    double draft_bytes = serve_draft_runs(d)     ? weight_bytes(d, &d->draft)
                         : d->medusa.heads > 0 ? medusa_bytes(d)
                                               : 0;
    if (draft_bytes > 0)
        snprintf(draft, sizeof draft, ", the draft %s's %.1f GiB among them", d->draft.name,
                 draft_bytes / GIB);
    if (fixed > capacity)
        return usim_fail(err, USIM_EINPUT,
                         "the deployment does not fit: weights need %.1f GiB per chip%s (plus "
                         "%.1f GiB workspace and reserve) of the %.1f GiB HBM, %.1f GiB too "
                         "much; %s",
                         mem.weights / GIB, draft, (mem.workspace + mem.reserve) / GIB,
                         capacity / GIB, (fixed - capacity) / GIB, fixes_for_memory(d));
    /* a request's cache lives on one chip under attention data parallelism */
    double need = (double)(w->isl + w->osl) * (1 + w->isl_spread);
    int holders = serve_attention_dp(d, &d->model);
    char share[160];
    if (mem.kv_tokens / holders < need)
        return usim_fail(err, USIM_EINPUT,
                         "the KV cache holds %.0f tokens per %s after %.1f GiB of weights and "
                         "%.1f GiB of workspace per chip%s; one request needs %.0f; %s; or lower "
                         "--batch or --token-budget, %sor shorten the request",
                         mem.kv_tokens / holders, holders > 1 ? "chip" : "replica",
                         mem.weights / GIB, mem.workspace / GIB,
                         kv_share_text(d, share, sizeof share), need, fixes_for_memory(d),
                         serve_weight_bytes(d->kv_dtype) > 1.0 ? "use --kv-dtype fp8, " : "");
    return USIM_OK;
}
