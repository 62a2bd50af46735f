/*
 * Model descriptions: ultrasim's own JSON (strict: every key known, every
 * value in range) and Hugging Face config.json (lenient: a config carries
 * dozens of keys irrelevant to performance, so unknown keys are ignored, but
 * the shape keys must be there and sane).
 *
 * A config.json is recognised by its "model_type". Each family maps its own
 * key names onto wl_model: llama/mistral/qwen2/qwen3/mixtral/phi3 share
 * Llama's names, gpt2 and gptj use n_embd/n_layer/n_head, mpt
 * d_model/n_layers/n_heads, falcon, qwen2_moe, deepseek_v2/v3 and llama4
 * (whose text model is in text_config) add their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "ultrasim/workload.h"

#define MAX_DIM 1048576  /* 2^20: far beyond any published hidden size or FFN */
#define MAX_VOCAB 4194304
#define MAX_LAYERS 4096

static const char *const MLP_KINDS[] = {"swiglu", "gelu", "relu2", "relu", NULL};
static const char *const NORM_KINDS[] = {"rms", "layer", NULL};
static const char *const POSITION_KINDS[] = {"rope", "learned", "alibi", NULL};

static const usim_field MLA_FIELDS[] = {
    USIM_INT("q_lora_rank", wl_mla, q_lora_rank, 0, MAX_DIM, false),
    USIM_INT("kv_lora_rank", wl_mla, kv_lora_rank, 1, MAX_DIM, true),
    USIM_INT("qk_nope_dim", wl_mla, qk_nope_dim, 1, 4096, true),
    USIM_INT("qk_rope_dim", wl_mla, qk_rope_dim, 0, 4096, true),
    USIM_INT("v_head_dim", wl_mla, v_head_dim, 1, 4096, true),
};
static const usim_schema MLA_SCHEMA = USIM_SCHEMA("multi-head latent attention", MLA_FIELDS);

static const usim_field MODEL_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", wl_model, name, true),
    USIM_DOC("description"),
    USIM_STR("family", wl_model, family, false),
    USIM_INT("layers", wl_model, layers, 1, MAX_LAYERS, true),
    USIM_INT("hidden", wl_model, hidden, 1, MAX_DIM, true),
    USIM_INT("heads", wl_model, heads, 1, 65536, true),
    USIM_INT("kv_heads", wl_model, kv_heads, 1, 65536, false),
    USIM_INT("head_dim", wl_model, head_dim, 1, 4096, false),
    USIM_INT("ffn", wl_model, ffn, 1, MAX_DIM, true),
    USIM_INT("vocab", wl_model, vocab, 1, MAX_VOCAB, true),
    USIM_INT("max_seq", wl_model, max_seq, 1, 16777216, false),
    USIM_ENUM("mlp", wl_model, mlp, MLP_KINDS, false),
    USIM_ENUM("norm", wl_model, norm, NORM_KINDS, false),
    USIM_ENUM("position", wl_model, position, POSITION_KINDS, false),
    USIM_BOOL("tied_embeddings", wl_model, tied_embeddings),
    USIM_BOOL("qkv_bias", wl_model, qkv_bias),
    USIM_BOOL("out_bias", wl_model, out_bias),
    USIM_BOOL("mlp_bias", wl_model, mlp_bias),
    USIM_BOOL("linear_bias", wl_model, linear_bias),
    USIM_BOOL("qk_norm", wl_model, qk_norm),
    USIM_BOOL("sandwich_norm", wl_model, sandwich_norm),
    USIM_BOOL("one_norm", wl_model, one_norm),
    USIM_BOOL("embedding_norm", wl_model, embedding_norm),
    USIM_INT("sliding_window", wl_model, sliding_window, 0, 16777216, false),
    USIM_INT("sliding_layers", wl_model, sliding_layers, 0, MAX_LAYERS, false),
    USIM_BOOL("attention_sinks", wl_model, attention_sinks),
    USIM_INT("experts", wl_model, experts, 0, 65536, false),
    USIM_INT("experts_per_token", wl_model, experts_per_token, 0, 65536, false),
    USIM_INT("shared_experts", wl_model, shared_experts, 0, 1024, false),
    USIM_INT("expert_ffn", wl_model, expert_ffn, 0, MAX_DIM, false),
    USIM_INT("dense_layers", wl_model, dense_layers, 0, MAX_LAYERS, false),
    USIM_INT("moe_layer_step", wl_model, moe_layer_step, 0, MAX_LAYERS, false),
    USIM_INT("expert_groups", wl_model, expert_groups, 0, 65536, false),
    USIM_INT("groups_per_token", wl_model, groups_per_token, 0, 65536, false),
    USIM_INT("mtp_layers", wl_model, mtp_layers, 0, 16, false),
    USIM_OBJ("mla", wl_model, mla, &MLA_SCHEMA, false),
    USIM_INT("fused_states", wl_model, fused_states, 0, 16, false),
    USIM_INT("draft_vocab", wl_model, draft_vocab, 0, MAX_VOCAB, false),
    USIM_NUM("published_params", wl_model, published_params, USIM_UNIT_NONE, 0, 1e16, false),
    USIM_NUM("published_params_precision", wl_model, published_precision, USIM_UNIT_NONE, 0,
             1e15, false),
};
static const usim_schema MODEL_SCHEMA = USIM_SCHEMA("model", MODEL_FIELDS);

static void model_defaults(wl_model *m)
{
    memset(m, 0, sizeof *m);
    m->max_seq = 4096;
    m->experts = 1;
}

/* Derived fields and the checks that involve several values. */
static usim_status finish_model(const usim_reader *r, wl_model *m, usim_error *err)
{
    if (m->linear_bias) /* the key of both before they were apart */
        m->out_bias = m->mlp_bias = true;
    if (m->kv_heads == 0)
        m->kv_heads = m->heads;
    if (m->head_dim == 0) {
        if (m->hidden % m->heads != 0)
            return usim_fail_at(r, "heads", false, err,
                                "hidden %d is not a multiple of heads %d; give head_dim",
                                m->hidden, m->heads);
        m->head_dim = m->hidden / m->heads;
    }
    if (m->heads % m->kv_heads != 0)
        return usim_fail_at(r, "kv_heads", false, err,
                            "heads %d is not a multiple of kv_heads %d", m->heads, m->kv_heads);
    if (m->experts < 1)
        m->experts = 1;
    if (m->experts > 1) {
        if (m->experts_per_token < 1 || m->experts_per_token > m->experts)
            return usim_fail_at(r, "experts_per_token", false, err,
                                "%d is out of range; allowed 1 to experts (%d)",
                                m->experts_per_token, m->experts);
        if (m->expert_ffn == 0)
            m->expert_ffn = m->ffn;
        if (m->dense_layers > m->layers)
            return usim_fail_at(r, "dense_layers", false, err,
                                "%d is more than the %d layers", m->dense_layers, m->layers);
        if (wl_moe_layers(m) == 0)
            return usim_fail_at(r, "moe_layer_step", false, err,
                                "%d leaves no expert layer among the %d layers after the %d "
                                "dense ones; allowed: 1 to %d",
                                m->moe_layer_step, m->layers, m->dense_layers,
                                m->layers - m->dense_layers);
        if (m->expert_groups > 0 && m->experts % m->expert_groups != 0)
            return usim_fail_at(r, "expert_groups", false, err,
                                "%d groups do not divide the %d experts", m->expert_groups,
                                m->experts);
        if (m->groups_per_token > m->expert_groups)
            return usim_fail_at(r, "groups_per_token", false, err,
                                "%d is out of range; allowed 0 to expert_groups (%d)",
                                m->groups_per_token, m->expert_groups);
        if (m->groups_per_token > 0 &&
            m->experts_per_token > m->groups_per_token * (m->experts / m->expert_groups))
            return usim_fail_at(r, "groups_per_token", false, err,
                                "%d groups of %d experts hold fewer than the %d a token picks",
                                m->groups_per_token, m->experts / m->expert_groups,
                                m->experts_per_token);
    }
    if (m->draft_vocab > 0 && m->fused_states == 0)
        return usim_fail_at(r, "draft_vocab", false, err,
                            "a draft vocabulary belongs to an EAGLE-3 head; give fused_states too");
    if (m->fused_states > 0 && (m->tied_embeddings || m->mla.kv_lora_rank > 0 || m->experts > 1))
        return usim_fail_at(r, "fused_states", false, err,
                            "an EAGLE-3 head is one dense decoder layer with its own LM head: no "
                            "tied embeddings, MLA or experts");
    if (m->draft_vocab > m->vocab)
        return usim_fail_at(r, "draft_vocab", false, err,
                            "%d is more than the vocabulary (%d); allowed 0 to vocab",
                            m->draft_vocab, m->vocab);
    if (m->sliding_layers > m->layers)
        return usim_fail_at(r, "sliding_layers", false, err, "%d is more than the %d layers",
                            m->sliding_layers, m->layers);
    if (m->sliding_layers > 0 && m->sliding_window < 1)
        return usim_fail_at(r, "sliding_window", false, err,
                            "sliding_layers %d need a window; allowed 1 to 16777216 keys",
                            m->sliding_layers);
    return USIM_OK;
}

/* A hardware description passed where a model belongs fails on its first
 * hardware key ("vendor"); its "kind" says what it is, so say that instead. */
static usim_status check_not_hardware(const usim_reader *r, json_t *doc, usim_error *err)
{
    static const char *const HW_KINDS[] = {"chip", "system", "network"};
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && strcmp(kind, "medusa") == 0)
        return usim_fail_at(r, "kind", false, err,
                            "'medusa': these are Medusa heads, a speculative draft that rides on "
                            "a model; give them to serve as --spec-draft and name a model");
    for (size_t i = 0; kind && i < sizeof HW_KINDS / sizeof HW_KINDS[0]; i++)
        if (strcmp(kind, HW_KINDS[i]) == 0)
            return usim_fail_at(r, "kind", false, err,
                                "'%s': this looks like a hardware file (a %s), not a model; "
                                "give it as the hardware (--hw) and name a model (a preset "
                                "from 'ultrasim models', or a model or config.json file)",
                                kind, kind);
    return USIM_OK;
}

static usim_status read_own(const usim_reader *r, json_t *doc, wl_model *m, usim_error *err)
{
    usim_status hw = check_not_hardware(r, doc, err);
    if (hw != USIM_OK)
        return hw;
    model_defaults(m);
    usim_status st = usim_read_object(r, &MODEL_SCHEMA, "", doc, m, err);
    return st == USIM_OK ? finish_model(r, m, err) : st;
}

/* ---- Hugging Face config.json --------------------------------------- */

typedef struct hf_reader {
    const usim_reader *r;
    json_t *doc;
    usim_error *err;
    usim_status st;
    const char *within; /* the object doc is, as a path prefix ("" for the top) */
} hf_reader;

/* A key's path as messages name it (text_config.hidden_size). */
static const char *hf_path(const hf_reader *h, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", h->within ? h->within : "", key);
    return buf;
}

/* An integer key, or def when absent; a present key must be a sane integer. */
static int hf_int(hf_reader *h, const char *key, int def, int lo, int hi, bool required)
{
    json_t *v = json_object_get(h->doc, key);
    char path[96];
    if (h->st != USIM_OK)
        return def;
    if (!v || json_is_null(v)) {
        if (required)
            h->st = usim_fail_at(h->r, "", false, h->err,
                                 "config.json lacks '%s', which this model_type needs",
                                 hf_path(h, key, path, sizeof path));
        return def;
    }
    double x = json_is_integer(v) ? (double)json_integer_value(v)
               : json_is_real(v)  ? json_real_value(v)
                                  : -1e300;
    if (!(x >= lo && x <= hi) || x != (double)(int64_t)x) {
        h->st = usim_fail_at(h->r, hf_path(h, key, path, sizeof path), false, h->err,
                             "expected a whole number from %d to %d", lo, hi);
        return def;
    }
    return (int)x;
}

static bool hf_bool(hf_reader *h, const char *key, bool def)
{
    json_t *v = json_object_get(h->doc, key);
    char path[96];
    if (h->st != USIM_OK || !v || json_is_null(v))
        return def;
    if (!json_is_boolean(v)) {
        h->st = usim_fail_at(h->r, hf_path(h, key, path, sizeof path), false, h->err,
                             "expected true or false");
        return def;
    }
    return json_is_true(v);
}

/* Llama's MLP (and Mistral's, Qwen's, Gemma's) is gated whatever its
 * activation: gate, up and down projections, the activation on the gate
 * (transformers' LlamaMLP), so the key changes no weight; a name outside
 * transformers' activations is a mistake, not SiLU. */
static void hf_gated_activation(hf_reader *h, const char *key)
{
    static const char *const KNOWN[] = {
        "silu", "swish", "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_python",
        "gelu_python_tanh", "gelu_accurate", "gelu_10", "quick_gelu", "relu", "relu2", "relu6",
        "leaky_relu", "laplace", "linear", "prelu", "xielu", "mish", "tanh", "sigmoid", NULL};
    json_t *v = json_object_get(h->doc, key);
    if (h->st != USIM_OK || !v || json_is_null(v))
        return;
    for (int i = 0; KNOWN[i] && json_is_string(v); i++)
        if (strcmp(json_string_value(v), KNOWN[i]) == 0)
            return;
    char path[96], allowed[512] = ""; /* the list, for the message only */
    for (int i = 0; KNOWN[i]; i++) {
        size_t n = strlen(allowed);
        snprintf(allowed + n, sizeof allowed - n, "%s%s", i ? ", " : "", KNOWN[i]);
    }
    h->st = usim_fail_at(h->r, hf_path(h, key, path, sizeof path), false, h->err,
                         "'%.40s' is not an activation transformers names (allowed: %s)",
                         json_is_string(v) ? json_string_value(v) : "(not a string)", allowed);
}

/* qwen3_moe: layer l's MLP is experts when (l + 1) % decoder_sparse_step is
 * 0, unless `mlp_only_layers` lists it; a list of chosen layers is not what
 * ultrasim's model (dense layers first, then every step-th) expresses: an
 * input error, not a guess. */
static void hf_qwen3_moe_experts(hf_reader *h, wl_model *m)
{
    m->experts = hf_int(h, "num_experts", 0, 1, 65536, true);
    m->experts_per_token = hf_int(h, "num_experts_per_tok", 0, 1, 65536, true);
    m->expert_ffn = hf_int(h, "moe_intermediate_size", 0, 1, MAX_DIM, true);
    m->moe_layer_step = hf_int(h, "decoder_sparse_step", 1, 1, MAX_LAYERS, false);
    json_t *dense = json_object_get(h->doc, "mlp_only_layers");
    if (h->st == USIM_OK && json_is_array(dense) && json_array_size(dense) > 0)
        h->st = usim_fail_at(h->r, "mlp_only_layers", false, h->err,
                             "dense layers chosen one by one are not modelled; allowed: "
                             "mlp_only_layers [] (decoder_sparse_step places expert layers "
                             "evenly)");
}

static void set_biases(wl_model *m, bool qkv, bool out, bool mlp)
{
    m->qkv_bias = qkv;
    m->out_bias = out;
    m->mlp_bias = mlp;
}

/* llama, mistral, qwen2, qwen3, qwen3_moe, mixtral, phi3: Llama's key
 * names (phi3 stores Q, K, V as one matrix and gate and up as another: the
 * same weights). */
static void hf_llama_like(hf_reader *h, wl_model *m)
{
    m->hidden = hf_int(h, "hidden_size", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "num_hidden_layers", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, "num_attention_heads", 0, 1, 65536, true);
    m->kv_heads = hf_int(h, "num_key_value_heads", m->heads, 1, 65536, false);
    m->head_dim = hf_int(h, "head_dim", 0, 0, 4096, false);
    m->ffn = hf_int(h, "intermediate_size", 0, 1, MAX_DIM, true);
    m->vocab = hf_int(h, "vocab_size", 0, 1, MAX_VOCAB, true);
    m->max_seq = hf_int(h, "max_position_embeddings", 4096, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", false);
    hf_gated_activation(h, "hidden_act");
    m->mlp = WL_MLP_SWIGLU;
    m->norm = WL_NORM_RMS;
    m->position = WL_POS_ROPE;
    /* transformers' Llama, Mistral, Qwen3 and gpt-oss attention: attention_bias
     * on all four projections; Qwen2's: Q, K and V biased, the output not. */
    bool qwen2 = strcmp(m->family, "qwen2") == 0;
    bool attention_bias = hf_bool(h, "attention_bias", qwen2);
    set_biases(m, attention_bias, attention_bias && !qwen2, hf_bool(h, "mlp_bias", false));
    m->qk_norm = strcmp(m->family, "qwen3") == 0 || strcmp(m->family, "qwen3_moe") == 0;
    if (strcmp(m->family, "qwen3_moe") == 0)
        hf_qwen3_moe_experts(h, m);
    /* Mistral's sliding-window attention, on every layer where the config
     * gives a window (Mistral 7B v0.1: 4,096; null: the whole context) */
    if (strcmp(m->family, "mistral") == 0 || strcmp(m->family, "mixtral") == 0) {
        m->sliding_window = hf_int(h, "sliding_window", 0, 0, 16777216, false);
        m->sliding_layers = m->sliding_window > 0 ? m->layers : 0;
    }
    if (strcmp(m->family, "mixtral") == 0) {
        m->experts = hf_int(h, "num_local_experts", 8, 1, 65536, false);
        m->experts_per_token = hf_int(h, "num_experts_per_tok", 2, 1, 65536, false);
        m->expert_ffn = m->ffn;
    }
}

static void hf_gpt2(hf_reader *h, wl_model *m)
{
    m->hidden = hf_int(h, "n_embd", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "n_layer", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, "n_head", 0, 1, 65536, true);
    m->ffn = hf_int(h, "n_inner", 4 * m->hidden, 1, MAX_DIM, false);
    m->vocab = hf_int(h, "vocab_size", 50257, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "n_positions", 1024, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", true);
    m->mlp = WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
    m->position = WL_POS_LEARNED;
    set_biases(m, true, true, true);
}

/* opt: Meta's OPT (Zhang et al. 2022, table 1): GPT-2's layer (LayerNorm,
 * biased projections, a two-matrix MLP of ffn_dim) with ReLU, learned
 * positions and a tied LM head. OPT-350m's projections between a narrower
 * word embedding and the layers (word_embed_proj_dim) are not modelled. */
static void hf_opt(hf_reader *h, wl_model *m)
{
    m->hidden = hf_int(h, "hidden_size", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "num_hidden_layers", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, "num_attention_heads", 0, 1, 65536, true);
    m->ffn = hf_int(h, "ffn_dim", 4 * m->hidden, 1, MAX_DIM, false);
    m->vocab = hf_int(h, "vocab_size", 50272, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "max_position_embeddings", 2048, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", true);
    int proj = hf_int(h, "word_embed_proj_dim", m->hidden, 1, MAX_DIM, false);
    if (h->st == USIM_OK && proj != m->hidden) {
        char path[96];
        h->st = usim_fail_at(h->r, hf_path(h, "word_embed_proj_dim", path, sizeof path), false,
                             h->err,
                             "%d: embeddings narrower than the layers (OPT-350m's projections "
                             "in and out) are not modelled (allowed: hidden_size, %d)",
                             proj, m->hidden);
    }
    m->mlp = WL_MLP_RELU;
    m->norm = WL_NORM_LAYER;
    m->position = WL_POS_LEARNED;
    bool bias = hf_bool(h, "enable_bias", true);
    set_biases(m, bias, bias, bias);
}

/* gptj: GPT-2's key names with rotary positions (on rotary_dim of each
 * head's dims), attention and MLP side by side after one LayerNorm, no
 * biases on the attention projections, and an untied LM head: GPT-J 6B's
 * 6,050,882,784 less its LM head's bias (50,400), which wl_model does not
 * count. */
static void hf_gptj(hf_reader *h, wl_model *m)
{
    hf_gpt2(h, m);
    m->vocab = hf_int(h, "vocab_size", 50400, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "n_positions", 2048, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", false);
    m->position = WL_POS_ROPE;
    m->one_norm = true;
    set_biases(m, false, false, true);
}

static void hf_gpt_neox(hf_reader *h, wl_model *m)
{
    hf_llama_like(h, m);
    m->ffn = hf_int(h, "intermediate_size", 4 * m->hidden, 1, MAX_DIM, false);
    m->mlp = WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
    bool bias = hf_bool(h, "use_bias", true);
    set_biases(m, bias, bias, bias);
}

static void hf_falcon(hf_reader *h, wl_model *m)
{
    m->hidden = hf_int(h, "hidden_size", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "num_hidden_layers", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, "num_attention_heads", 0, 1, 65536, true);
    bool new_arch = hf_bool(h, "new_decoder_architecture", false);
    int kv_default = hf_bool(h, "multi_query", true) ? 1 : m->heads;
    m->kv_heads = new_arch ? hf_int(h, "num_kv_heads", m->heads, 1, 65536, false) : kv_default;
    m->ffn = hf_int(h, "ffn_hidden_size", 4 * m->hidden, 1, MAX_DIM, false);
    m->vocab = hf_int(h, "vocab_size", 65024, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "max_position_embeddings", 2048, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", true);
    m->mlp = WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
    m->position = hf_bool(h, "alibi", false) ? WL_POS_ALIBI : WL_POS_ROPE;
    bool bias = hf_bool(h, "bias", false);
    set_biases(m, bias, bias, bias);
    /* transformers' FalconDecoderLayer: the new architecture's two norms
     * (num_ln_in_parallel_attn of them), else one before parallel attention
     * and MLP (Falcon 7B), two when they run in turn */
    m->one_norm = new_arch ? hf_int(h, "num_ln_in_parallel_attn", 2, 1, 2, false) == 1
                           : hf_bool(h, "parallel_attn", true);
}

/* bloom: ALiBi, LayerNorms with biases (one after the embeddings too), GELU
 * MLPs 4 x hidden wide with biases, tied embeddings; hidden_size or the
 * older n_embed, n_layer, n_head. */
static void hf_bloom(hf_reader *h, wl_model *m)
{
    bool legacy = json_object_get(h->doc, "hidden_size") == NULL;
    m->hidden = hf_int(h, legacy ? "n_embed" : "hidden_size", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "n_layer", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, json_object_get(h->doc, "n_head") ? "n_head" : "num_attention_heads", 0,
                      1, 65536, true);
    m->ffn = 4 * m->hidden;
    m->vocab = hf_int(h, "vocab_size", 250880, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "seq_length", 2048, 1, 16777216, false);
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", true);
    m->mlp = WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
    m->position = WL_POS_ALIBI;
    set_biases(m, true, true, true);
    m->embedding_norm = true;
}

static void hf_mpt(hf_reader *h, wl_model *m)
{
    m->hidden = hf_int(h, "d_model", 0, 1, MAX_DIM, true);
    m->layers = hf_int(h, "n_layers", 0, 1, MAX_LAYERS, true);
    m->heads = hf_int(h, "n_heads", 0, 1, 65536, true);
    m->ffn = m->hidden * hf_int(h, "expansion_ratio", 4, 1, 1024, false);
    m->vocab = hf_int(h, "vocab_size", 50368, 1, MAX_VOCAB, false);
    m->max_seq = hf_int(h, "max_seq_len", 2048, 1, 16777216, false);
    m->tied_embeddings = true;
    m->mlp = WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
    m->position = WL_POS_ALIBI;
    bool bias = !hf_bool(h, "no_bias", true);
    set_biases(m, bias, bias, bias);
}

/* nemotron (Nemotron-4 15B and 340B, Minitron): Llama's keys, an MLP of two
 * projections around the activation (transformers' NemotronMLP: up, act,
 * down; Nemotron-4's squared ReLU, its default; another activation is
 * costed as GELU, the same two projections), LayerNorms with biases (LayerNorm1P),
 * no biases on the projections unless the config gives them, untied
 * embeddings. Rotary positions on partial_rotary_factor of each head change
 * no weight. */
static void hf_nemotron(hf_reader *h, wl_model *m)
{
    hf_llama_like(h, m);
    json_t *act = json_object_get(h->doc, "hidden_act"); /* absent or null: relu2 */
    bool relu2 = !act || json_is_null(act) ||
                 (json_is_string(act) && strcmp(json_string_value(act), "relu2") == 0);
    m->mlp = relu2 ? WL_MLP_RELU2 : WL_MLP_GELU;
    m->norm = WL_NORM_LAYER;
}

/* qwen2_moe (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2's biased Q, K and V with
 * qwen3_moe's expert keys, and on every expert layer one shared expert
 * shared_expert_intermediate_size wide, counted as that many routed widths
 * (Qwen1.5-MoE-A2.7B: 5,632 = 4 x 1,408); a width the routed one does not
 * divide is an input error. Its sigmoid gate (hidden x 1 a layer) is not
 * counted. */
static void hf_qwen2_moe(hf_reader *h, wl_model *m)
{
    hf_llama_like(h, m);
    m->qkv_bias = true;
    hf_qwen3_moe_experts(h, m);
    int shared = hf_int(h, "shared_expert_intermediate_size", 0, 0, MAX_DIM, false);
    if (h->st == USIM_OK && m->expert_ffn > 0 && shared % m->expert_ffn != 0)
        h->st = usim_fail_at(h->r, "shared_expert_intermediate_size", false, h->err,
                             "%d is not a multiple of moe_intermediate_size %d; allowed: a "
                             "shared expert as wide as a whole number of routed experts",
                             shared, m->expert_ffn);
    else if (m->expert_ffn > 0)
        m->shared_experts = shared / m->expert_ffn;
}

/* deepseek_v2 and deepseek_v3: latent attention (MLA), shared and routed
 * experts after the first dense layers, group-limited routing; v3 adds
 * multi-token prediction layers and its router's score-correction bias. */
static void hf_deepseek(hf_reader *h, wl_model *m)
{
    hf_llama_like(h, m);
    m->experts = hf_int(h, "n_routed_experts", 1, 1, 65536, false);
    m->experts_per_token = hf_int(h, "num_experts_per_tok", 1, 1, 65536, false);
    m->shared_experts = hf_int(h, "n_shared_experts", 0, 0, 1024, false);
    m->expert_ffn = hf_int(h, "moe_intermediate_size", m->ffn, 1, MAX_DIM, false);
    m->dense_layers = hf_int(h, "first_k_dense_replace", 0, 0, MAX_LAYERS, false);
    m->expert_groups = hf_int(h, "n_group", 0, 0, 65536, false);
    m->groups_per_token = hf_int(h, "topk_group", 0, 0, 65536, false);
    m->mtp_layers = hf_int(h, "num_nextn_predict_layers", 0, 0, 16, false);
    m->mla.q_lora_rank = hf_int(h, "q_lora_rank", 0, 0, MAX_DIM, false);
    m->mla.kv_lora_rank = hf_int(h, "kv_lora_rank", 0, 0, MAX_DIM, false);
    m->mla.qk_nope_dim = hf_int(h, "qk_nope_head_dim", 128, 1, 4096, false);
    m->mla.qk_rope_dim = hf_int(h, "qk_rope_head_dim", 64, 0, 4096, false);
    m->mla.v_head_dim = hf_int(h, "v_head_dim", 128, 1, 4096, false);
}

/* A `moe_layers` list must be the layers the step places experts in: layers
 * picked one by one are not what the model expresses. */
static void hf_check_moe_layers(hf_reader *h, const wl_model *m)
{
    json_t *list = json_object_get(h->doc, "moe_layers"), *v;
    size_t i;
    int step = m->moe_layer_step > 1 ? m->moe_layer_step : 1, listed = 0;
    char path[96];
    if (h->st != USIM_OK || !list)
        return;
    bool ok = json_is_array(list);
    json_array_foreach(list, i, v)
    {
        json_int_t l = json_integer_value(v);
        ok = ok && json_is_integer(v) && l >= 0 && l < m->layers && (l + 1) % step == 0;
        listed++;
    }
    if (!ok || listed != m->layers / step)
        h->st = usim_fail_at(h->r, hf_path(h, "moe_layers", path, sizeof path), false, h->err,
                             "expert layers chosen one by one are not modelled; allowed: every "
                             "interleave_moe_layer_step-th layer (%d here: %d of %d)",
                             step, m->layers / step, m->layers);
}

/* A multimodal config's text model (Llama 4's, Gemma 3's) is in text_config:
 * read on from there. False (and the reader failed) when it is not an
 * object. */
static bool hf_text_model(hf_reader *h)
{
    json_t *text = json_object_get(h->doc, "text_config");
    if (text && !json_is_object(text)) {
        h->st = usim_fail_at(h->r, "text_config", false, h->err,
                             "expected an object (the text model's configuration)");
        return false;
    }
    if (text) {
        h->doc = text;
        h->within = "text_config.";
    }
    return true;
}

/* llama4: the text model's keys are in text_config (a llama4_text config is
 * the text model alone). Every interleave_moe_layer_step-th layer is experts
 * (intermediate_size wide) with one shared expert of that width; the others
 * are dense MLPs of intermediate_size_mlp. Its chunked local attention (8,192
 * keys on three layers of four) is not modelled: prompts longer than a chunk
 * attend over more keys here than they do. */
static void hf_llama4(hf_reader *h, wl_model *m)
{
    if (!hf_text_model(h))
        return;
    hf_llama_like(h, m);
    m->expert_ffn = m->ffn;
    m->ffn = hf_int(h, "intermediate_size_mlp", m->ffn, 1, MAX_DIM, false);
    m->experts = hf_int(h, "num_local_experts", 0, 1, 65536, true);
    m->experts_per_token = hf_int(h, "num_experts_per_tok", 1, 1, 65536, false);
    m->shared_experts = 1;
    m->moe_layer_step = hf_int(h, "interleave_moe_layer_step", 1, 1, MAX_LAYERS, false);
    hf_check_moe_layers(h, m);
}

/* Layers whose `layer_types` entry is "sliding_attention"; absent, the
 * layers of dflt (transformers' default for the family). As transformers'
 * layer_type_validation, the list has one entry a layer, each a kind of
 * attention this simulator knows. */
static int hf_sliding_layers(hf_reader *h, const wl_model *m, int dflt)
{
    json_t *types = json_object_get(h->doc, "layer_types"), *t;
    char path[96];
    size_t i;
    int n = 0;
    if (h->st != USIM_OK || !types || json_is_null(types))
        return dflt;
    hf_path(h, "layer_types", path, sizeof path);
    if (!json_is_array(types) || json_array_size(types) != (size_t)m->layers) {
        char got[48] = "not a list";
        if (json_is_array(types))
            snprintf(got, sizeof got, "%zu", json_array_size(types));
        h->st = usim_fail_at(h->r, path, false, h->err,
                             "expected a list of %d entries, one a layer (num_hidden_layers), "
                             "each \"sliding_attention\" or \"full_attention\"; got %s",
                             m->layers, got);
        return dflt;
    }
    json_array_foreach(types, i, t)
    {
        const char *s = json_string_value(t);
        bool sliding = s && strcmp(s, "sliding_attention") == 0;
        if (!sliding && !(s && strcmp(s, "full_attention") == 0)) {
            h->st = usim_fail_at(h->r, path, false, h->err,
                                 "entry %zu is not \"sliding_attention\" or \"full_attention\"",
                                 i);
            return dflt;
        }
        n += sliding;
    }
    return n;
}

/* gpt_oss: Llama's keys with every layer's MLP experts (biased, as its
 * attention projections are), a learned softmax sink per head, and
 * sliding-window attention on the layers `layer_types` names; without it,
 * as transformers' GptOssConfig fills it, the even layers (0, 2, ...) slide,
 * over 128 keys unless sliding_window says otherwise. */
static void hf_gpt_oss(hf_reader *h, wl_model *m)
{
    hf_llama_like(h, m);
    m->experts = hf_int(h, "num_local_experts", 0, 1, 65536, true);
    m->experts_per_token = hf_int(h, "num_experts_per_tok", 0, 1, 65536, true);
    m->expert_ffn = m->ffn;
    m->mlp_bias = true;
    m->attention_sinks = true;
    m->sliding_window = hf_int(h, "sliding_window", 128, 0, 16777216, false);
    int sliding = hf_sliding_layers(h, m, (m->layers + 1) / 2);
    m->sliding_layers = m->sliding_window > 0 ? sliding : 0;
}

/* The keys a Gemma 3 config may leave out, as transformers' Gemma3TextConfig
 * fills them (the multimodal 4B, 12B and 27B configs give no heads; 27B no
 * vocabulary). */
static void gemma3_text_defaults(json_t *doc)
{
    static const struct {
        const char *key;
        int value;
    } DEFAULTS[] = {{"vocab_size", 262208},        {"hidden_size", 2304},
                    {"intermediate_size", 9216},   {"num_hidden_layers", 26},
                    {"num_attention_heads", 8},    {"num_key_value_heads", 4},
                    {"head_dim", 256},             {"max_position_embeddings", 131072},
                    {"sliding_window", 4096}};
    for (size_t i = 0; i < sizeof DEFAULTS / sizeof DEFAULTS[0]; i++)
        if (!json_object_get(doc, DEFAULTS[i].key))
            json_object_set_new(doc, DEFAULTS[i].key, json_integer(DEFAULTS[i].value));
}

/* Gemma: Llama's keys, a gated GELU MLP (three matrices, as SwiGLU's), tied
 * embeddings unless the config says otherwise; gemma2 and gemma3 add norms
 * after attention and after the MLP, gemma3 q/k norms. Their local layers
 * slide: Gemma 2's even layers, Gemma 3's all but every
 * sliding_window_pattern-th (as `layer_types` lists them where it is given).
 * A gemma3 config's text model is in text_config. */
static void hf_gemma(hf_reader *h, wl_model *m)
{
    if (!hf_text_model(h))
        return;
    if (strncmp(m->family, "gemma3", 6) == 0)
        gemma3_text_defaults(h->doc);
    hf_llama_like(h, m);
    hf_gated_activation(h, "hidden_activation");
    m->tied_embeddings = hf_bool(h, "tie_word_embeddings", true);
    bool gemma1 = strcmp(m->family, "gemma") == 0, gemma3 = strncmp(m->family, "gemma3", 6) == 0;
    m->sandwich_norm = !gemma1;
    m->qk_norm = gemma3;
    m->sliding_window = gemma1 ? 0 : hf_int(h, "sliding_window", 0, 0, 16777216, false);
    if (m->sliding_window <= 0)
        return;
    int pattern = gemma3 ? hf_int(h, "sliding_window_pattern", 6, 1, MAX_LAYERS, false) : 2;
    m->sliding_layers = hf_sliding_layers(h, m, m->layers - m->layers / pattern);
}

typedef struct hf_family {
    const char *model_type;
    void (*read)(hf_reader *h, wl_model *m);
} hf_family;

static const hf_family HF_FAMILIES[] = {
    {"llama", hf_llama_like},   {"mistral", hf_llama_like}, {"mixtral", hf_llama_like},
    {"qwen2", hf_llama_like},   {"qwen3", hf_llama_like},   {"qwen3_moe", hf_llama_like},
    {"gpt_oss", hf_gpt_oss},    {"gpt2", hf_gpt2},          {"gptj", hf_gptj},
    {"gpt_neox", hf_gpt_neox},  {"falcon", hf_falcon},      {"mpt", hf_mpt},
    {"bloom", hf_bloom},        {"phi3", hf_llama_like},    {"qwen2_moe", hf_qwen2_moe},
    {"opt", hf_opt},
    {"deepseek_v2", hf_deepseek}, {"deepseek_v3", hf_deepseek},
    {"llama4", hf_llama4},      {"llama4_text", hf_llama4}, {"gemma", hf_gemma},
    {"gemma2", hf_gemma},       {"gemma3", hf_gemma},       {"gemma3_text", hf_gemma},
    {"nemotron", hf_nemotron},
};

static usim_status read_hf(const usim_reader *r, json_t *doc, wl_model *m, usim_error *err)
{
    const char *type = json_string_value(json_object_get(doc, "model_type"));
    const char *names[sizeof HF_FAMILIES / sizeof HF_FAMILIES[0]];
    size_t n = sizeof HF_FAMILIES / sizeof HF_FAMILIES[0];
    model_defaults(m);
    for (size_t i = 0; i < n; i++) {
        names[i] = HF_FAMILIES[i].model_type;
        if (type && strcmp(type, names[i]) == 0) {
            hf_reader h = {r, doc, err, USIM_OK, ""};
            snprintf(m->family, sizeof m->family, "%s", type);
            const char *name = json_string_value(json_object_get(doc, "_name_or_path"));
            snprintf(m->name, sizeof m->name, "%s", name ? name : type);
            HF_FAMILIES[i].read(&h, m);
            return h.st == USIM_OK ? finish_model(r, m, err) : h.st;
        }
    }
    const char *near = type ? usim_closest(type, names, n) : NULL;
    char allowed[512] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 i ? ", " : "", names[i]);
    if (!json_object_get(doc, "model_type"))
        return usim_fail_at(r, "model_type", false, err,
                            "missing: a config.json in Hugging Face's form (it has "
                            "num_hidden_layers) names its family here; allowed: %s",
                            allowed);
    /* The value as written, quoted when a string: 7 is not '7'. */
    char *written = json_dumps(json_object_get(doc, "model_type"), JSON_ENCODE_ANY);
    usim_status st = usim_fail_at(r, "model_type", false, err,
                                  "%s is not a supported model type; allowed: %s (a string)%s%s%s",
                                  written ? written : "this value", allowed,
                                  near ? "; did you mean '" : "", near ? near : "",
                                  near ? "'?" : "");
    free(written);
    return st;
}

/* ---- loading ------------------------------------------------------- */

usim_status wl_model_load_text(const char *file, const char *text, wl_model *out,
                               usim_error *err)
{
    json_t *doc = NULL;
    usim_reader r = {file, text, NULL};
    usim_status st = usim_json_parse(file, text, &doc, err);
    if (st != USIM_OK)
        return st;
    if (!json_is_object(doc))
        st = usim_fail_at(&r, "", false, err, "expected a JSON object describing a model");
    else if (json_object_get(doc, "model_type") || json_object_get(doc, "num_hidden_layers"))
        st = read_hf(&r, doc, out, err);
    else
        st = read_own(&r, doc, out, err);
    json_decref(doc);
    return st;
}

typedef struct model_names {
    char names[128][64];
    const char *ptrs[128];
    size_t count;
} model_names;

static void collect_model(const usim_embedded_file *f, void *ctx)
{
    model_names *l = ctx;
    if (l->count >= 128)
        return;
    usim_embedded_name(f, l->names[l->count], sizeof l->names[0]);
    l->ptrs[l->count] = l->names[l->count];
    l->count++;
}

static void list_models(model_names *l)
{
    l->count = 0;
    usim_embedded_each("models/", collect_model, l);
}

size_t wl_model_preset_count(void)
{
    model_names *l = malloc(sizeof *l);
    if (!l)
        return 0;
    list_models(l);
    size_t n = l->count;
    free(l);
    return n;
}

usim_status wl_model_preset_name(size_t i, char *name, size_t size, usim_error *err)
{
    model_names *l = malloc(sizeof *l);
    if (!l)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    list_models(l);
    usim_status st = USIM_OK;
    if (i < l->count)
        snprintf(name, size, "%s", l->names[i]);
    else
        st = usim_fail(err, USIM_EINPUT, "no model preset %zu", i);
    free(l);
    return st;
}

static usim_status unknown_model(const char *name, usim_error *err)
{
    model_names *l = malloc(sizeof *l);
    if (!l)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    list_models(l);
    const char *near = usim_closest(name, l->ptrs, l->count);
    usim_fail(err, USIM_EINPUT,
              "unknown model '%s'%s%s%s: not a preset and no such file (presets: "
              "'ultrasim models')",
              name, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    free(l);
    return USIM_EINPUT;
}

usim_status wl_model_load(const char *name_or_file, wl_model *out, usim_error *err)
{
    const char *text;
    char *owned, label[300];
    bool missing;
    usim_status st = usim_open_named("models", name_or_file, &text, &owned, label, sizeof label,
                                     &missing, err);
    if (st == USIM_OK && missing)
        st = unknown_model(name_or_file, err);
    else if (st == USIM_OK)
        st = wl_model_load_text(label, text, out, err);
    free(owned);
    return st;
}
