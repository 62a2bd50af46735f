/*
 * Parameter and FLOP counts, exact, from the model's shape.
 *
 * A layer is attention + MLP + two norms (four with Gemma's sandwich norms,
 * one where attention and MLP run side by side after it).
 * Attention is grouped-query (q: h x H d, k and v: h x KV d, o: H d x h) or
 * multi-head latent attention (low-rank q and kv projections,
 * DeepSeek-V2/V3). An MLP is gated (SwiGLU, Gemma's GeGLU: three h x f
 * matrices) or not (GELU: two); a mixture-of-experts MLP adds a
 * router (h x E) and E experts of which top-k run per token, plus shared
 * experts that always run. The counts reproduce the published sizes of every
 * preset (tests/test_workload.c): Llama 3.1 405B = 405,853,388,800.
 */
#include <string.h>

#include "ultrasim/workload.h"

static double norm_params(const wl_model *m, double width)
{
    /* MPT's LayerNorm has no bias; every other LayerNorm has one. */
    bool bias = m->norm == WL_NORM_LAYER && strcmp(m->family, "mpt") != 0;
    return bias ? 2 * width : width;
}

static double attention_matmul_params(const wl_model *m)
{
    double h = m->hidden;
    if (m->mla.kv_lora_rank > 0) {
        const wl_mla *a = &m->mla;
        double qk = (double)a->qk_nope_dim + a->qk_rope_dim;
        double q = a->q_lora_rank > 0
                       ? h * a->q_lora_rank + (double)a->q_lora_rank * m->heads * qk
                       : h * m->heads * qk;
        double kv_down = h * ((double)a->kv_lora_rank + a->qk_rope_dim);
        double kv_up = (double)a->kv_lora_rank * m->heads * ((double)a->qk_nope_dim + a->v_head_dim);
        double o = (double)m->heads * a->v_head_dim * h;
        return q + kv_down + kv_up + o;
    }
    double q = (double)m->heads * m->head_dim, kv = (double)m->kv_heads * m->head_dim;
    return wl_qkv_input(m) * (q + 2 * kv) + q * h;
}

int wl_head_vocab(const wl_model *m)
{
    return m->draft_vocab > 0 ? m->draft_vocab : m->vocab;
}

double wl_qkv_input(const wl_model *m)
{
    return (m->fused_states > 0 ? 2.0 : 1.0) * m->hidden;
}

/* Weights of one attention block besides its matmuls: biases, q/k norms. */
static double attention_extra_params(const wl_model *m)
{
    double extra = 0;
    if (m->mla.kv_lora_rank > 0)
        extra += m->mla.kv_lora_rank + (m->mla.q_lora_rank > 0 ? m->mla.q_lora_rank : 0);
    if (m->qkv_bias)
        extra += (double)(m->heads + 2 * m->kv_heads) * m->head_dim;
    if (m->out_bias)
        extra += m->hidden;
    if (m->qk_norm)
        extra += 2.0 * m->head_dim;
    if (m->attention_sinks)
        extra += m->heads;
    return extra;
}

static double mlp_matmul_params(const wl_model *m, double ffn)
{
    return (m->mlp == WL_MLP_SWIGLU ? 3.0 : 2.0) * m->hidden * ffn;
}

static double mlp_bias_params(const wl_model *m, double ffn)
{
    if (!m->mlp_bias)
        return 0;
    return (m->mlp == WL_MLP_SWIGLU ? 2.0 : 1.0) * ffn + m->hidden;
}

bool wl_is_moe_layer(const wl_model *m, int layer)
{
    int step = m->moe_layer_step > 1 ? m->moe_layer_step : 1;
    return m->experts > 1 && layer >= m->dense_layers && (layer + 1) % step == 0;
}

/* Layers l in [dense_layers, layers) with (l + 1) % step == 0: the
 * multiples of step in (dense_layers, layers], counted without a loop (serve
 * asks once an iteration). */
int wl_moe_layers(const wl_model *m)
{
    int step = m->moe_layer_step > 1 ? m->moe_layer_step : 1;
    int first = m->dense_layers < m->layers ? m->dense_layers : m->layers;
    return m->experts > 1 ? m->layers / step - first / step : 0;
}

static double router_params(const wl_model *m)
{
    /* DeepSeek-V3 adds a per-expert score-correction bias to its router; a
     * model with linear biases (gpt-oss) has a router bias too. */
    double bias = strcmp(m->family, "deepseek_v3") == 0 || m->mlp_bias ? m->experts : 0;
    return (double)m->hidden * m->experts + bias;
}

wl_params wl_model_params(const wl_model *m)
{
    wl_params p;
    memset(&p, 0, sizeof p);
    double h = m->hidden;
    double attention = attention_matmul_params(m) + attention_extra_params(m);
    double norms = (m->sandwich_norm ? 4 : m->one_norm ? 1 : 2) * norm_params(m, h);
    for (int l = 0; l < m->layers; l++) {
        double layer = attention + norms;
        p.attention += attention;
        p.norms += norms;
        if (wl_is_moe_layer(m, l)) {
            double expert = mlp_matmul_params(m, m->expert_ffn) +
                            mlp_bias_params(m, m->expert_ffn);
            double routed = m->experts * expert;
            double shared = m->shared_experts * expert + router_params(m);
            p.mlp_experts += routed;
            p.mlp_shared += shared;
            layer += routed + shared;
        } else {
            double dense = mlp_matmul_params(m, m->ffn) + mlp_bias_params(m, m->ffn);
            p.mlp_dense += dense;
            layer += dense;
        }
        if (layer > p.per_layer_max)
            p.per_layer_max = layer;
    }
    p.norms += norm_params(m, h) * (m->embedding_norm ? 2 : 1); /* final (and embedding) norm */
    p.embedding = (double)m->vocab * h;
    if (m->position == WL_POS_LEARNED)
        p.embedding += (double)m->max_seq * h;
    p.lm_head = m->tied_embeddings ? 0 : (double)wl_head_vocab(m) * h;
    if (m->fused_states > 0) { /* an EAGLE-3 head: the target's embedding, its own fc */
        p.embedding = 0;
        p.fusion = (double)m->fused_states * h * h;
        p.norms += norm_params(m, h); /* the fused state's norm beside the embedding's */
    }
    p.total = p.embedding + p.attention + p.mlp_dense + p.mlp_experts + p.mlp_shared + p.norms +
              p.lm_head + p.fusion;
    double active_experts = m->experts > 1 ? (double)m->experts_per_token / m->experts : 1;
    p.active = p.total - p.mlp_experts * (1 - active_experts);
    return p;
}

/* Matmul weights one token passes through in a forward pass (LM head included,
 * embedding lookups excluded): the N of "6 N" FLOPs per token. */
static double active_matmul_params(const wl_model *m)
{
    double n = (double)m->layers * attention_matmul_params(m);
    for (int l = 0; l < m->layers; l++) {
        if (wl_is_moe_layer(m, l))
            n += (m->experts_per_token + m->shared_experts) *
                     mlp_matmul_params(m, m->expert_ffn) +
                 (double)m->hidden * m->experts;
        else
            n += mlp_matmul_params(m, m->ffn);
    }
    return n + (double)wl_head_vocab(m) * m->hidden +
           (double)m->fused_states * m->hidden * m->hidden;
}

static double qk_dim(const wl_model *m)
{
    return m->mla.kv_lora_rank > 0 ? (double)m->mla.qk_nope_dim + m->mla.qk_rope_dim
                                   : m->head_dim;
}

static double v_dim(const wl_model *m)
{
    return m->mla.kv_lora_rank > 0 ? m->mla.v_head_dim : m->head_dim;
}

/* (query, key) pairs a causal sequence of s tokens computes in one layer:
 * the triangle s(s+1)/2, or with a window of w keys, w(w+1)/2 + (s - w) w. */
static double causal_pairs(double s, double w)
{
    if (w <= 0 || w >= s)
        return s * (s + 1) / 2;
    return w * (w + 1) / 2 + (s - w) * w;
}

/* Layers' pairs summed: full-attention layers and sliding-window ones. */
static double layer_pairs(const wl_model *m, double s)
{
    double sliding = m->layers * wl_sliding_share(m);
    return (m->layers - sliding) * causal_pairs(s, 0) +
           sliding * causal_pairs(s, m->sliding_window);
}

/* Forward, one sequence of s tokens:
 *   matmuls   2 x tokens x active matmul weights
 *   attention QK^T and PV over the causal triangle: 2 x H x s(s+1)/2 x (d_qk + d_v)
 *             (sliding-window layers: over the band of the last w keys)
 *   other     norms (4/element), activation (wl_mlp_activation_flops),
 *             softmax (5 per score), residual adds, embedding: small. */
wl_flops wl_forward_flops(const wl_model *m, int64_t seq)
{
    wl_flops f;
    double s = (double)seq, h = m->hidden;
    double head = (double)wl_head_vocab(m) * h;
    double pairs = layer_pairs(m, s);
    memset(&f, 0, sizeof f);
    f.lm_head = 2 * s * head;
    f.matmul = 2 * s * active_matmul_params(m) - f.lm_head;
    f.attention_core = 2.0 * m->heads * pairs * (qk_dim(m) + v_dim(m));
    double act_per_elem = wl_mlp_activation_flops(m);
    double ffn = m->experts > 1 ? (double)m->expert_ffn * (m->experts_per_token + m->shared_experts)
                                : m->ffn;
    f.other = m->layers * (2 * 4 * s * h + act_per_elem * s * ffn + 2 * s * h) +
              5 * m->heads * pairs;
    f.total = f.matmul + f.attention_core + f.lm_head + f.other;
    return f;
}

/* 6N + 12 L H Q T per token (Chowdhery et al. 2022, PaLM, appendix B); a
 * sliding-window layer counts its window for T when the sequence is longer. */
double wl_model_flops_per_token(const wl_model *m, int64_t seq)
{
    double s = (double)seq;
    double sliding = m->layers * wl_sliding_share(m);
    double keys = (m->layers - sliding) * s +
                  sliding * (s < m->sliding_window ? s : (double)m->sliding_window);
    double attention = 6.0 * m->heads * (qk_dim(m) + v_dim(m)) * keys;
    return 6.0 * active_matmul_params(m) + attention;
}

/* SwiGLU: the SiLU's 3 and the product's 1; GELU's tanh form about 8;
 * squared ReLU a compare and a multiply; ReLU a compare. */
double wl_mlp_activation_flops(const wl_model *m)
{
    switch (m->mlp) {
    case WL_MLP_SWIGLU:
        return 4;
    case WL_MLP_RELU2:
        return 2;
    case WL_MLP_RELU:
        return 1;
    default:
        return 8;
    }
}

double wl_sliding_share(const wl_model *m)
{
    if (m->sliding_window < 1 || m->layers < 1)
        return 0.0;
    return (double)m->sliding_layers / m->layers;
}

bool wl_model_dropout(const wl_model *m)
{
    return strcmp(m->family, "gpt") == 0;
}

/* 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) (Narayanan et al. 2021, eq. 3). */
double wl_megatron_flops(const wl_model *m, int64_t batch, int64_t seq)
{
    double B = (double)batch, s = (double)seq, l = m->layers, h = m->hidden, V = m->vocab;
    return 96.0 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
}
