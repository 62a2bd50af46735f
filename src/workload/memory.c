/*
 * Memory per chip for training: weights, gradients, optimizer states,
 * activations, temporary buffers and a runtime reserve.
 *
 * Mixed-precision Adam as Megatron-Core runs it by default: 16-bit weights
 * (2 bytes), 16-bit gradient buffers (2 bytes; accumulate_allreduce_grads_in_fp32
 * is off by default), fp32 master weights + Adam m and v (12 bytes): the 16
 * bytes a parameter of the ZeRO paper.
 * ZeRO-1 shards the optimizer states over the data-parallel ranks (Megatron's
 * distributed optimizer), ZeRO-2 the gradients too, ZeRO-3 (FSDP) the weights
 * too (Rajbhandari et al. 2020).
 *
 * Activations follow Korthikanti et al. 2022 ("Reducing Activation
 * Recomputation in Large Transformer Models"), per layer and micro-batch,
 * generalised from GPT-3's shapes to grouped-query attention and gated MLPs by
 * counting each stored tensor: the 34 s b h of their table is 11 (attention)
 * + 19 (MLP) + 4 (norms). Attention is taken to run as a fused (flash) kernel,
 * as every framework has since 2022, so the 5 a s^2 b score terms are not
 * stored (the backward recomputes them); that is also why selective
 * recompute costs no extra memory or compute here. Full recompute keeps only
 * each layer's input. A pipeline rank holds, at its peak, the layers its
 * program has in flight, each forward its own chunk's
 * (wl_pipeline_peak_layers).
 */
#include <string.h>

#include "ultrasim/workload.h"

#define BYTES_16BIT 2.0
#define BYTES_GRAD 2.0       /* 16-bit gradient buffers (Megatron-Core default) */
#define BYTES_OPTIMIZER 12.0 /* fp32 master weights + Adam m + Adam v */
/* CUDA context or Neuron runtime, collective buffers and allocator slack.
 * An assumption, the same for every chip: PyTorch's caching allocator and
 * NCCL together typically hold 1-3 GiB outside the model's tensors. */
#define RUNTIME_RESERVE_BYTES (2.0 * 1024 * 1024 * 1024)

static double max_d(double a, double b)
{
    return a > b ? a : b;
}


static double mlp_width_params(const wl_model *m, double ffn)
{
    return (m->mlp == WL_MLP_SWIGLU ? 3.0 : 2.0) * m->hidden * ffn;
}

/* Per-rank query/key/value widths under TP: KV heads are replicated when
 * there are fewer of them than TP ranks. */
typedef struct qkv_widths {
    double q, k, v, o;
} qkv_widths;

static qkv_widths qkv_per_rank(const wl_model *m, int tp)
{
    qkv_widths w;
    double qk = m->mla.kv_lora_rank > 0 ? (double)m->mla.qk_nope_dim + m->mla.qk_rope_dim
                                        : m->head_dim;
    double vd = m->mla.kv_lora_rank > 0 ? m->mla.v_head_dim : m->head_dim;
    double kv_heads = m->mla.kv_lora_rank > 0 ? m->heads : m->kv_heads;
    double kv_rank = max_d(kv_heads / tp, 1.0);
    w.q = (double)m->heads / tp * qk;
    w.k = kv_rank * qk;
    w.v = kv_rank * vd;
    w.o = (double)m->heads / tp * vd;
    return w;
}

/* engine_attention_kernel's unfused kernel (the workload layer sits below
 * the engine and keeps only the number). */
#define UNFUSED_ATTENTION 2

/* What unfused attention keeps for its backward: the softmax output, and
 * with dropout its 1-byte mask and the dropped probabilities, for every
 * (head, query, key) (Korthikanti et al.'s 5 a s / h term); selective
 * recomputation recomputes them instead. */
static double unfused_score_bytes(const wl_model *m, const wl_plan *p, double tokens)
{
    double per_score = BYTES_16BIT + (wl_model_dropout(m) ? 1.0 + BYTES_16BIT : 0.0);
    return per_score * (double)m->heads / p->tp * tokens * (double)p->seq;
}

/* A per-op policy that keeps every other matmul's output (torchtitan's
 * selective "op" checkpointing) keeps, per token: the layer's input, the
 * outputs of wq, wv, w1 and w2 (and of a plain MLP's first projection), and
 * the attention core's output with its fp32 log-sum-exp; the backward
 * recomputes the rest from them. */
static double alternate_matmul_bytes(const wl_model *m, const wl_plan *p, bool moe,
                                     double tokens, double replicated)
{
    qkv_widths w = qkv_per_rank(m, p->tp);
    double h = m->hidden, t = p->tp;
    double f = moe ? (double)m->expert_ffn * m->experts_per_token / t : m->ffn / t;
    bool gated = m->mlp == WL_MLP_SWIGLU;
    double elems = tokens * (h * replicated + w.q + w.v + w.o + f);
    if (gated)
        elems += tokens * h * replicated;
    return BYTES_16BIT * elems + 4.0 * tokens * m->heads / t;
}

static double layer_activation_bytes(const wl_model *m, const wl_plan *p, bool moe)
{
    double tokens = (double)p->mbs * (double)p->seq / p->cp;
    double h = m->hidden, t = p->tp;
    double replicated = p->sp && p->tp > 1 ? 1.0 / t : 1.0;
    if (p->recompute == WL_RECOMPUTE_FULL)
        return BYTES_16BIT * tokens * h * replicated;
    if (p->recompute == WL_RECOMPUTE_SELECTIVE &&
        p->stack.selective == WL_SELECTIVE_ALTERNATE_MATMULS)
        return alternate_matmul_bytes(m, p, moe, tokens, replicated);
    const wl_stack *s = &p->stack;
    bool selective = p->recompute == WL_RECOMPUTE_SELECTIVE; /* the stack's rebuilds */
    qkv_widths w = qkv_per_rank(m, p->tp);
    /* A kept MLP tensor: 16-bit, or the stack's cached format (DeepSeek's
     * FP8). A kept linear input (norm outputs, the attention output,
     * dispatched tokens, the MLP product): also what an FP8 run of the
     * stack keeps for its GEMMs' backward (Transformer Engine's FP8 copy). */
    double cache = s->activation_cache_bytes > 0 ? s->activation_cache_bytes : BYTES_16BIT;
    double lin = s->activation_cache_bytes > 0                        ? s->activation_cache_bytes
                 : p->dtype == USIM_FP8 && s->fp8_input_bytes > 0 ? s->fp8_input_bytes
                                                                   : BYTES_16BIT;
    /* Norm inputs, and the norms' outputs (the QKV and first MLP projections'
     * inputs) unless recomputed. */
    double bytes = (2 * BYTES_16BIT + (selective && s->recompute_norms ? 0 : 2 * lin)) * tokens *
                   h * replicated;
    /* Q, K, V (or MLA's latents when its up-projections are recomputed; the
     * down-projections are not split by TP), the attention output, fp32
     * log-sum-exp. */
    const wl_mla *a = &m->mla;
    double qkv = a->kv_lora_rank > 0 && selective && s->recompute_mla_up
                     ? (a->q_lora_rank > 0 ? a->q_lora_rank : w.q) + a->kv_lora_rank +
                           a->qk_rope_dim
                     : w.q + w.k + w.v;
    /* the attention output: the projection's kept input, and without
     * selective recomputation also the attention kernel's own 16-bit copy
     * for its backward when the projection keeps a narrower one */
    double attention_out = p->recompute == WL_RECOMPUTE_NONE && lin < BYTES_16BIT
                               ? BYTES_16BIT + lin
                               : lin;
    bytes += BYTES_16BIT * tokens * qkv + attention_out * tokens * w.o +
             BYTES_16BIT * 2 * tokens * m->heads / t;
    /* gate and up (a plain MLP's first output), and the product (the second
     * projection's input) unless rebuilt */
    bool gated = m->mlp == WL_MLP_SWIGLU;
    double product = selective && s->recompute_swiglu && gated ? 0 : lin;
    double per_ffn = (gated ? 2 : 1) * cache + product;
    if (moe && selective && s->recompute_moe) {
        /* the whole MoE layer rebuilt from its input, which the norm keeps */
    } else if (moe) {
        double routed = tokens * m->experts_per_token;
        double expert_ffn = (gated ? 2 : 1) * cache +
                            (selective && s->recompute_moe_act ? 0 : product);
        /* dispatched in, and combined out unless the routing weights were
         * applied inside the experts: a TP group's tokens on every rank when
         * experts split TP ways, each rank's own share when they fold */
        double combined = s->moe_probs_in_experts ? 0 : BYTES_16BIT;
        bytes += (lin + combined) * routed * wl_plan_etp(p) / t * h;
        bytes += (expert_ffn * routed + per_ffn * tokens * m->shared_experts) * m->expert_ffn / t;
    } else if (!(selective && s->recompute_mlp)) {
        bytes += per_ffn * tokens * m->ffn / t;
    }
    if (wl_model_dropout(m)) /* two 1-byte hidden-dropout masks */
        bytes += 2 * tokens * h * replicated;
    if (p->attention == UNFUSED_ATTENTION && p->recompute == WL_RECOMPUTE_NONE)
        bytes += unfused_score_bytes(m, p, tokens);
    return bytes;
}

double wl_layer_activation_bytes(const wl_model *m, const wl_plan *p)
{
    return layer_activation_bytes(m, p, wl_moe_layers(m) > 0);
}

double wl_layer_activation_bytes_of(const wl_model *m, const wl_plan *p, int layer)
{
    return layer_activation_bytes(m, p, wl_is_moe_layer(m, layer));
}

/* With CPU offloading (PP 1) the device holds, at the end of the forward
 * where activations peak, the layers past the offloaded ones, each at its
 * own size, and the multi-token prediction layers beside the head; each
 * offloaded layer is on the device only while it and the next one run. */
static double resident_activation_bytes(const wl_model *m, const wl_plan *p)
{
    double bytes = m->mtp_layers * layer_activation_bytes(m, p, m->experts > 1);
    for (int l = p->cpu_offload_layers; l < m->layers; l++)
        bytes += wl_layer_activation_bytes_of(m, p, l);
    return bytes;
}

/* First global layer of virtual stage v (chunk c of rank s is v = c pp + s). */
static int first_layer(const wl_model *m, const wl_plan *p, int v)
{
    int first = 0;
    for (int u = 0; u < v; u++)
        first += wl_chunk_layers(m, p, u % p->pp, u / p->pp);
    return first;
}

/* One layer's parameters on a chip: attention (with its norms) and its MLP
 * or experts. */
static void add_layer(const wl_model *m, const wl_plan *p, double attention, bool moe,
                      wl_stage_params *sp)
{
    double layer = attention, experts = 0;
    if (moe) {
        experts = m->experts * mlp_width_params(m, m->expert_ffn);
        layer += m->shared_experts * mlp_width_params(m, m->expert_ffn) +
                 (double)m->hidden * m->experts;
    } else {
        layer += mlp_width_params(m, m->ffn);
    }
    sp->dense += layer / p->tp;
    double expert_split = (double)wl_plan_etp(p) * p->ep;
    sp->experts += experts / expert_split;
    sp->largest_layer = max_d(sp->largest_layer, layer / p->tp + experts / expert_split);
}

/* Parameters of chunk `chunk` of rank `stage` (chunk -1: all chunks), per
 * chip: dense weights split by TP, experts by TP and EP. */
static wl_stage_params params_of(const wl_model *m, const wl_plan *p, int stage, int chunk)
{
    wl_stage_params sp = {0, 0, 0};
    wl_params all = wl_model_params(m);
    /* Per layer: attention and its two norms; the final norm is half a
     * layer's norms, so norms per layer = all / (layers + 1/2). */
    double layer_norms = all.norms / (m->layers + 0.5);
    double attention = all.attention / m->layers + layer_norms;
    for (int c = 0; c < p->vp; c++) {
        if (chunk >= 0 && c != chunk)
            continue;
        int v = c * p->pp + stage, first = first_layer(m, p, v);
        for (int l = first; l < first + wl_chunk_layers(m, p, stage, c); l++)
            add_layer(m, p, attention, wl_is_moe_layer(m, l), &sp);
    }
    int v_first = (chunk < 0 ? 0 : chunk) * p->pp + stage;
    int v_last = (chunk < 0 ? p->vp - 1 : chunk) * p->pp + stage;
    int last_virtual = p->pp * p->vp - 1;
    /* multi-token prediction beside the head: a layer (with experts when the
     * model has them), two norms and the 2h -> h projection each, and on a
     * pipelined run the embedding it reads the next tokens from (Megatron-Core
     * builds one where "MTP need both embedding layer and output layer") */
    for (int i = 0; v_last == last_virtual && i < m->mtp_layers; i++) {
        add_layer(m, p, attention, m->experts > 1, &sp);
        sp.dense += (2.0 * m->hidden * m->hidden + 2.0 * m->hidden) / p->tp;
    }
    if (v_last == last_virtual && m->mtp_layers > 0 && v_first != 0)
        sp.dense += all.embedding / p->tp;
    if (v_first == 0)
        sp.dense += all.embedding / p->tp;
    /* The LM head, or the tied embedding's copy Megatron keeps on the last stage. */
    if (v_last == last_virtual && (last_virtual > 0 || !m->tied_embeddings))
        sp.dense += (double)m->vocab * m->hidden / p->tp;
    if (v_last == last_virtual)
        sp.dense += layer_norms / 2; /* the final norm, replicated: counted once */
    return sp;
}

wl_stage_params wl_stage_params_of(const wl_model *m, const wl_plan *p, int stage)
{
    return params_of(m, p, stage, -1);
}

wl_stage_params wl_chunk_params_of(const wl_model *m, const wl_plan *p, int stage, int chunk)
{
    return params_of(m, p, stage, chunk);
}

/* Activation bytes a stage holds at its peak, its program walked
 * (wl_pipeline_peak_layers): each forward in flight holds its own chunk's
 * layers, a recomputed one only its input, the last chunk of the last
 * stage also the multi-token prediction modules beside the head. */
static double inflight_bytes(const wl_model *m, const wl_plan *p, int stage)
{
    double bytes[WL_MAX_VP];
    int vp = p->vp < WL_MAX_VP ? p->vp : WL_MAX_VP;
    bool moe = wl_moe_layers(m) > 0;
    wl_plan kept = *p;
    kept.recompute = WL_RECOMPUTE_NONE; /* the block method's other layers */
    double whole = layer_activation_bytes(m, &kept, moe);
    /* a layer as the plan keeps it (under full recomputation, its input) */
    double planned = layer_activation_bytes(m, p, moe);
    for (int c = 0; c < vp; c++) {
        bool head = stage == p->pp - 1 && c == p->vp - 1;
        int layers = wl_chunk_layers(m, p, stage, c) + (head ? m->mtp_layers : 0);
        int redone = wl_recomputed_layers(p, layers);
        bytes[c] = p->recompute == WL_RECOMPUTE_FULL ? redone * planned + (layers - redone) * whole
                                                     : layers * planned;
    }
    return wl_pipeline_peak_layers(p->pp, vp, p->vp_group, wl_plan_microbatches(p), stage,
                                   p->schedule, bytes);
}

static wl_memory stage_memory(const wl_model *m, const wl_plan *p, int stage)
{
    wl_memory mem;
    memset(&mem, 0, sizeof mem);
    wl_stage_params sp = wl_stage_params_of(m, p, stage);
    double shard = wl_plan_zero_shard(p);       /* ZeRO shards over DP x CP, or HSDP's group */
    double expert_shard = wl_expert_dp(p);      /* expert weights: their replicas */
    double dense = sp.dense, experts = sp.experts;
    double params_sharded = dense / shard + experts / expert_shard;
    double params_local = dense + experts;
    bool per_step = wl_plan_zero3_per_step(p); /* unsharded through the step */
    mem.weights = BYTES_16BIT * (p->zero >= 3 && !per_step ? params_sharded : params_local);
    mem.gradients = per_step ? p->stack.grad_reduce_bytes * params_local
                             : BYTES_GRAD * (p->zero >= 2 ? params_sharded : params_local);
    mem.optimizer = BYTES_OPTIMIZER * (p->zero >= 1 ? params_sharded : params_local);
    bool moe = wl_moe_layers(m) > 0;
    mem.activations =
        p->cpu_offload_layers > 0 ? resident_activation_bytes(m, p) : inflight_bytes(m, p, stage);
    double tokens = (double)p->mbs * (double)p->seq / p->cp;
    if (stage == p->pp - 1) /* the logits and their gradient, as the stack's loss keeps them */
        mem.temporary += p->stack.loss_logit_bytes * tokens * m->vocab / p->tp;
    if (p->recompute == WL_RECOMPUTE_FULL) {
        wl_plan whole = *p;
        whole.recompute = WL_RECOMPUTE_NONE;
        mem.temporary += layer_activation_bytes(m, &whole, moe); /* one layer recomputed */
    }
    if (p->zero >= 3 && !per_step) /* the layer in use and the one prefetched, gathered */
        mem.temporary += 2 * BYTES_16BIT * sp.largest_layer;
    mem.reserve = RUNTIME_RESERVE_BYTES;
    mem.total = mem.weights + mem.gradients + mem.optimizer + mem.activations + mem.temporary +
                mem.reserve;
    mem.worst_stage = stage;
    return mem;
}

wl_memory wl_memory_per_chip(const wl_model *m, const wl_plan *p)
{
    wl_memory worst = stage_memory(m, p, 0);
    for (int s = 1; s < p->pp; s++) {
        wl_memory mem = stage_memory(m, p, s);
        if (mem.total > worst.total)
            worst = mem;
    }
    return worst;
}
