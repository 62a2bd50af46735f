/*
 * Models and plans: exact parameter counts against the published sizes,
 * FLOP conventions against their closed forms, pipeline schedules and memory
 * against hand calculations (Korthikanti et al. 2022).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/engine.h"
#include "ultrasim/sim.h"
#include "ultrasim/workload.h"

static wl_model load(const char *name)
{
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    if (wl_model_load(name, &m, &err) != USIM_OK)
        fail_msg("%s: %s", name, err.message);
    return m;
}

static void llama31_405b_exact(void **state)
{
    (void)state;
    wl_model m = load("llama3.1-405b");
    wl_params p = wl_model_params(&m);
    assert_true(p.total == 405853388800.0);
}

/* Every preset matches its published size to the precision published. */
static void every_preset_matches_published(void **state)
{
    (void)state;
    size_t n = wl_model_preset_count();
    assert_true(n >= 27);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        usim_error err;
        usim_error_clear(&err);
        assert_int_equal(wl_model_preset_name(i, name, sizeof name, &err), USIM_OK);
        wl_model m = load(name);
        wl_params p = wl_model_params(&m);
        if (m.fused_states > 0) /* a draft head: no published size (eagle3_head_params) */
            continue;
        assert_true(m.published_params > 0);
        double tolerance = m.published_precision > 0 ? m.published_precision : 0.0;
        if (fabs(p.total - m.published_params) > tolerance)
            fail_msg("%s: %.0f parameters, published %.0f (+-%.0f)", name, p.total,
                     m.published_params, tolerance);
    }
}

/* The EAGLE-3 head of Llama 3.1 8B, by its parts: Q, K, V reading 2 x 4,096
 * (2 x 4096 x 6144 = 50,331,648), O (16,777,216), the SwiGLU MLP (3 x 4096 x
 * 14336 = 176,160,768), the fc over three hidden states (3 x 4096^2 =
 * 50,331,648), the LM head over 32,000 draft tokens (131,072,000) and four
 * RMSNorms (16,384): 424,689,664, the target's embedding not counted. A
 * draft vocabulary without a head, or beyond the vocabulary, and a head with
 * tied embeddings are refused. */
static void eagle3_head_params(void **state)
{
    (void)state;
    wl_model m = load("llama3.1-8b-eagle3");
    wl_params p = wl_model_params(&m);
    assert_true(p.total == 424689664.0);
    assert_true(p.embedding == 0 && p.fusion == 50331648.0 && p.lm_head == 131072000.0);
    assert_int_equal(wl_head_vocab(&m), 32000);
    /* a small model with each bad pair of keys, and the message it gets */
    static const char *const bad[][2] = {
        {"\"draft_vocab\": 2000", "give fused_states too"},
        {"\"fused_states\": 3, \"draft_vocab\": 2000", "allowed 0 to vocab"},
        {"\"fused_states\": 3, \"tied_embeddings\": true", "no tied embeddings, MLA or experts"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[300];
        usim_error err;
        snprintf(text, sizeof text,
                 "{\"kind\": \"model\", \"name\": \"x\", \"layers\": 1, \"hidden\": 64, "
                 "\"heads\": 4, \"ffn\": 128, \"vocab\": 1000, %s}",
                 bad[i][0]);
        assert_int_equal(wl_model_load_text("x.json", text, &m, &err), USIM_EINPUT);
        assert_non_null(strstr(err.message, bad[i][1]));
    }
}

/* Mixtral 8x7B: 46.7B total, about 12.9B active per token (2 of 8 experts). */
static void moe_active_parameters(void **state)
{
    (void)state;
    wl_model m = load("mixtral-8x7b");
    wl_params p = wl_model_params(&m);
    double expert = 3.0 * 4096 * 14336;
    assert_close(p.total - p.active, 32 * 6 * expert, 1e-12);
    m = load("deepseek-v3");
    p = wl_model_params(&m);
    assert_close(p.active, 37e9, 0.03); /* DeepSeek: 37B activated */
}

/* 6N + 12 L H Q T, by hand for Llama 3 8B at 8192 tokens. */
static void model_flops_convention(void **state)
{
    (void)state;
    wl_model m = load("llama3-8b");
    double n_matmul = 32 * (4096.0 * 4096 * 2 + 4096.0 * 1024 * 2 + 3 * 4096.0 * 14336) +
                      128256.0 * 4096;
    double expect = 6 * n_matmul + 12.0 * 32 * 32 * 128 * 8192;
    assert_close(wl_model_flops_per_token(&m, 8192), expect, 1e-12);
    wl_flops f = wl_forward_flops(&m, 8192);
    /* Forward matmuls = 2 N per token. */
    assert_close(f.matmul + f.lm_head, 2 * n_matmul * 8192, 1e-12);
}

/* Megatron's formula for its 145.6B row: 96 B s l h^2 (1 + s/6h + V/16lh). */
static void megatron_formula(void **state)
{
    (void)state;
    wl_model m = load("megatron-gpt-145.6b");
    double B = 2304, s = 2048, l = 80, h = 12288, V = 51200;
    double expect = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
    assert_close(wl_megatron_flops(&m, 2304, 2048), expect, 1e-12);
}

static void hf_config_json(void **state)
{
    (void)state;
    const char *cfg = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
                      "\"hidden_size\": 4096, \"intermediate_size\": 14336,"
                      "\"num_attention_heads\": 32, \"num_hidden_layers\": 32,"
                      "\"num_key_value_heads\": 8, \"vocab_size\": 128256,"
                      "\"rope_theta\": 500000.0, \"torch_dtype\": \"bfloat16\"}";
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 8030261248.0);
    const char *gpt2 = "{\"model_type\": \"gpt2\", \"n_embd\": 768, \"n_layer\": 12,"
                       "\"n_head\": 12, \"vocab_size\": 50257, \"n_positions\": 1024}";
    assert_int_equal(wl_model_load_text("config.json", gpt2, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 124439808.0); /* GPT-2 small */
    /* GPT-J 6B's config: embedding and untied LM head 2 x 50400 x 4096
     * (412,876,800); a layer 4 x 4096^2 attention (67,108,864), the GELU MLP 2 x
     * 4096 x 16384 with its biases 16384 + 4096 (134,238,208) and one LayerNorm
     * 2 x 4096 (8,192); 28 layers and the final LayerNorm (8,192): 6,050,832,384,
     * rotary, no biases on the attention's projections (transformers' GPTJAttention). */
    const char *gptj = "{\"model_type\": \"gptj\", \"n_embd\": 4096, \"n_layer\": 28,"
                       "\"n_head\": 16, \"n_inner\": null, \"rotary_dim\": 64,"
                       "\"n_positions\": 2048, \"tie_word_embeddings\": false,"
                       "\"vocab_size\": 50400}";
    assert_int_equal(wl_model_load_text("config.json", gptj, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 6050832384.0);
    assert_true(m.position == WL_POS_ROPE && !m.qkv_bias && !m.out_bias && !m.tied_embeddings);
    assert_int_equal(m.head_dim, 256);
    /* OPT-13B's config (facebook/opt-13b): tied embeddings 50272 x 5120
     * (257,392,640) and positions 2048 x 5120 (10,485,760); a layer 4 x 5120^2
     * attention with its 4 x 5120 biases (104,878,080), the ReLU MLP 2 x 5120 x
     * 20480 with biases 20480 + 5120 (209,740,800) and two LayerNorms 4 x 5120
     * (20,480); 40 layers and the final LayerNorm (10,240): 12,853,463,040
     * (transformers keeps 2 more position rows, its offset, 10,240 more). */
    const char *opt = "{\"model_type\": \"opt\", \"hidden_size\": 5120, \"num_hidden_layers\": 40,"
                      "\"num_attention_heads\": 40, \"ffn_dim\": 20480, \"vocab_size\": 50272,"
                      "\"max_position_embeddings\": 2048, \"word_embed_proj_dim\": 5120,"
                      "\"activation_function\": \"relu\", \"enable_bias\": true}";
    assert_int_equal(wl_model_load_text("config.json", opt, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 12853463040.0);
    assert_true(m.mlp == WL_MLP_RELU && m.position == WL_POS_LEARNED && m.tied_embeddings);
    const char *opt350m = "{\"model_type\": \"opt\", \"hidden_size\": 1024,"
                          "\"num_hidden_layers\": 24, \"num_attention_heads\": 16,"
                          "\"word_embed_proj_dim\": 512}";
    assert_int_equal(wl_model_load_text("config.json", opt350m, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "OPT-350m's projections"));
    const char *bad = "{\"model_type\": \"lama\", \"hidden_size\": 4096}";
    assert_int_equal(wl_model_load_text("config.json", bad, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "did you mean 'llama'"));
    /* Qwen3-30B-A3B's config: embeddings and LM head 2 x 151936 x 2048; a layer
     * 2048 x (4096 + 512 + 512) + 4096 x 2048 attention, 2 x 128 q/k norms, 2 x 2048
     * norms, 128 experts of 3 x 2048 x 768, a 2048 x 128 router; 48 layers and
     * the final norm: 30,532,122,624 ("30.5B in total"); a token passes 8 experts:
     * 3,353,032,704 ("3.3B activated", the model card). */
    const char *qwen3_moe =
        "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 2048, \"head_dim\": 128,"
        "\"intermediate_size\": 6144, \"moe_intermediate_size\": 768,"
        "\"num_attention_heads\": 32, \"num_key_value_heads\": 4, \"num_hidden_layers\": 48,"
        "\"num_experts\": 128, \"num_experts_per_tok\": 8, \"decoder_sparse_step\": 1,"
        "\"mlp_only_layers\": [], \"tie_word_embeddings\": false, \"vocab_size\": 151936}";
    assert_int_equal(wl_model_load_text("config.json", qwen3_moe, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 30532122624.0);
    assert_true(wl_model_params(&m).active == 3353032704.0);
    const char *chosen =
        "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 64, \"intermediate_size\": 128,"
        "\"moe_intermediate_size\": 32, \"num_attention_heads\": 4, \"num_hidden_layers\": 4,"
        "\"num_experts\": 4, \"num_experts_per_tok\": 2, \"mlp_only_layers\": [1],"
        "\"vocab_size\": 1000}";
    assert_int_equal(wl_model_load_text("config.json", chosen, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "mlp_only_layers"));
    /* decoder_sparse_step 2: layers 1 and 3 are experts (Hugging Face's
     * (l + 1) % step == 0), 0 and 2 dense MLPs of intermediate_size. Each layer
     * has 4 x 64 x 64 attention, 2 x 16 q/k norms and 2 x 64 norms (16,544); an
     * expert layer 4 experts of 3 x 64 x 32 and a 64 x 4 router (24,832), a
     * dense one 3 x 64 x 128 (24,576); with the 2 x 1000 x 64 embedding and
     * head and the final norm: 293,056 parameters. */
    const char *every_other =
        "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 64, \"intermediate_size\": 128,"
        "\"moe_intermediate_size\": 32, \"num_attention_heads\": 4, \"num_hidden_layers\": 4,"
        "\"num_experts\": 4, \"num_experts_per_tok\": 2, \"decoder_sparse_step\": 2,"
        "\"head_dim\": 16, \"vocab_size\": 1000}";
    assert_int_equal(wl_model_load_text("config.json", every_other, &m, &err), USIM_OK);
    assert_int_equal(wl_moe_layers(&m), 2);
    assert_false(wl_is_moe_layer(&m, 0));
    assert_true(wl_is_moe_layer(&m, 3));
    assert_true(wl_model_params(&m).total == 293056.0);
    /* BLOOM-176B: embeddings 250880 x 14336 and their LayerNorm; a layer's QKV
     * 14336 x 43008 and output 14336 x 14336 with biases, a GELU MLP 14336 x
     * 57344 and back with biases, two LayerNorms (2,466,437,120); 70 layers,
     * the final LayerNorm, tied head: 176,247,271,424, the model card's count. */
    const char *bloom = "{\"model_type\": \"bloom\", \"n_embed\": 14336, \"n_layer\": 70,"
                        "\"num_attention_heads\": 112, \"vocab_size\": 250880}";
    assert_int_equal(wl_model_load_text("config.json", bloom, &m, &err), USIM_OK);
    assert_true(wl_model_params(&m).total == 176247271424.0);
    assert_true(m.position == WL_POS_ALIBI && m.embedding_norm);
    const char *missing = "{\"model_type\": \"llama\", \"hidden_size\": 4096}";
    assert_int_equal(wl_model_load_text("config.json", missing, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "num_hidden_layers"));
}

/*
 * gpt-oss-120b from its config: embeddings and LM head 2 x 201088 x 2880; a
 * layer's attention 2880 x (4096 + 512 + 512) + 4096 x 2880 with q, k, v and o
 * biases (5120 + 2880) and 64 sinks, 2 x 2880 norms, 128 experts of
 * 3 x 2880 x 2880 with biases (2 x 2880 + 2880 each), a router 2880 x 128 with
 * its bias; 36 layers and the final norm: 116,829,156,672, the model card's
 * 116.83B; 4 experts a token: 5,711,982,912 with the embedding, 5.13B without
 * (the card's figure). The even layers (18) slide over 128 keys.
 */
static void gpt_oss_config(void **state)
{
    (void)state;
    char cfg[4096], types[2048] = "";
    for (int l = 0; l < 36; l++)
        snprintf(types + strlen(types), sizeof types - strlen(types), "%s\"%s\"", l ? ", " : "",
                 l % 2 == 0 ? "sliding_attention" : "full_attention");
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"gpt_oss\", \"hidden_size\": 2880, \"num_hidden_layers\": 36,"
             "\"num_attention_heads\": 64, \"num_key_value_heads\": 8, \"head_dim\": 64,"
             "\"intermediate_size\": 2880, \"num_local_experts\": 128, \"num_experts_per_tok\": 4,"
             "\"vocab_size\": 201088, \"sliding_window\": 128, \"attention_bias\": true,"
             "\"tie_word_embeddings\": false, \"layer_types\": [%s]}",
             types);
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_OK);
    wl_params p = wl_model_params(&m);
    assert_true(p.total == 116829156672.0);
    assert_true(p.active == 5711982912.0);
    assert_true(p.active - p.embedding == 5132849472.0);
    assert_int_equal(m.sliding_layers, 18);
    assert_int_equal(m.sliding_window, 128);
    wl_model preset = load("gpt-oss-120b");
    assert_true(wl_model_params(&preset).total == p.total);
    /* without layer_types or sliding_window, transformers' GptOssConfig
     * fills them: the even layers slide, over 128 keys */
    char *at = strstr(cfg, ", \"sliding_window\"");
    snprintf(at, sizeof cfg - (size_t)(at - cfg), ", \"attention_bias\": true}");
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_OK);
    assert_int_equal(m.sliding_layers, 18);
    assert_int_equal(m.sliding_window, 128);
    /* a list of another length than the layers is refused, as transformers
     * refuses it */
    snprintf(at, sizeof cfg - (size_t)(at - cfg),
             ", \"layer_types\": [\"sliding_attention\", \"full_attention\"]}");
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "layer_types");
    assert_non_null(strstr(err.message, "expected a list of 36 entries"));
    assert_non_null(strstr(err.message, "got 2"));
    snprintf(at, sizeof cfg - (size_t)(at - cfg), ", \"layer_types\": \"sliding\"}");
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "; got not a list"));
    memcpy(types + 1, "chunked_attention", 17); /* entry 0, in place of sliding_attention */
    snprintf(at, sizeof cfg - (size_t)(at - cfg), ", \"layer_types\": [%s]}", types);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "entry 0 is not \"sliding_attention\""));
}

/*
 * Families read from config.json by their published totals, derived by hand.
 * DeepSeek-V2-Lite: embeddings and LM head 2 x 102400 x 2048; a layer's latent
 * attention 2048 x 16 x 192 (queries, no q_lora_rank) + 2048 x (512 + 64) +
 * 512 (the latent's norm) + 512 x 16 x 256 + 2048 x 2048 (13,763,072) and
 * 2 x 2048 norms; layer 0 a dense MLP 3 x 2048 x 10944, the other 26 64
 * routed and 2 shared experts of 3 x 2048 x 1408 and a 2048 x 64 router; the
 * final norm: 15,706,484,224 (the model card's 15.7B). Qwen1.5-MoE-A2.7B: 2 x
 * 151936 x 2048; a layer's attention 4 x 2048^2 with Q, K and V biases, 2 x
 * 2048 norms, 60 experts of 3 x 2048 x 1408, the shared expert 3 x 2048 x 5632
 * (four routed widths), a 2048 x 60 router; 24 layers and the final norm:
 * 14,315,735,040 (the card's 14.3B; its 24 x 2048 shared-expert gate weights
 * are not counted). Phi-3-mini: 2 x 32064 x 3072; a layer 4 x 3072^2 + 3 x
 * 3072 x 8192 + 2 x 3072; 32 layers and the final norm: 3,821,079,552.
 * Gemma 2 9B: a tied 256000 x 3584 embedding; a layer 3584 x (4096 + 2048 +
 * 2048) + 4096 x 3584 attention (256-wide heads), a gated GELU MLP 3 x 3584 x
 * 14336 and four norms (sandwich: after attention and the MLP too); 42
 * layers and the final norm: 9,241,705,984, half of them sliding over 4,096
 * keys. Gemma 3 1B: a tied 262144 x 1152 embedding; a layer 1152 x (1024 +
 * 256 + 256) + 1024 x 1152, q/k norms 2 x 256, 3 x 1152 x 6912 and four
 * norms; 26 layers and the final norm: 999,885,952, all but every sixth
 * sliding over 512 keys (22). Nemotron-4 340B (the Hugging Face conversion's
 * config): embeddings and an untied LM head 2 x 256000 x 18432; a layer's Q
 * and O 2 x 18432^2, K and V 2 x 18432 x 1536 (8 heads of 192), a squared-ReLU
 * MLP of two projections 2 x 18432 x 73728 and two LayerNorms with biases 4 x
 * 18432 (3,454,083,072); 96 layers and the final norm: 341,029,195,776, the
 * report's 9.4B embedding and 331.6B other parameters.
 */
/* A config.json's model, loaded or failed. */
static wl_model config_model(const char *text)
{
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    if (wl_model_load_text("config.json", text, &m, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return m;
}

static void more_families_config(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        double total;
        int sliding_layers;
    } CASES[] = {
        {"{\"model_type\": \"deepseek_v2\", \"hidden_size\": 2048, \"num_hidden_layers\": 27,"
         "\"intermediate_size\": 10944, \"moe_intermediate_size\": 1408,"
         "\"num_attention_heads\": 16, \"num_key_value_heads\": 16, \"vocab_size\": 102400,"
         "\"q_lora_rank\": null, \"kv_lora_rank\": 512, \"qk_nope_head_dim\": 128,"
         "\"qk_rope_head_dim\": 64, \"v_head_dim\": 128, \"n_routed_experts\": 64,"
         "\"num_experts_per_tok\": 6, \"n_shared_experts\": 2, \"first_k_dense_replace\": 1,"
         "\"n_group\": 1, \"topk_group\": 1, \"tie_word_embeddings\": false}",
         15706484224.0, 0},
        {"{\"model_type\": \"qwen2_moe\", \"hidden_size\": 2048, \"intermediate_size\": 5632,"
         "\"num_hidden_layers\": 24, \"num_attention_heads\": 16, \"num_key_value_heads\": 16,"
         "\"vocab_size\": 151936, \"num_experts\": 60, \"num_experts_per_tok\": 4,"
         "\"moe_intermediate_size\": 1408, \"shared_expert_intermediate_size\": 5632,"
         "\"decoder_sparse_step\": 1, \"mlp_only_layers\": [], \"tie_word_embeddings\": false}",
         14315735040.0, 0},
        {"{\"model_type\": \"phi3\", \"hidden_size\": 3072, \"intermediate_size\": 8192,"
         "\"num_hidden_layers\": 32, \"num_attention_heads\": 32, \"num_key_value_heads\": 32,"
         "\"vocab_size\": 32064, \"hidden_act\": \"silu\", \"tie_word_embeddings\": false}",
         3821079552.0, 0},
        {"{\"model_type\": \"gemma2\", \"hidden_size\": 3584, \"intermediate_size\": 14336,"
         "\"num_hidden_layers\": 42, \"num_attention_heads\": 16, \"num_key_value_heads\": 8,"
         "\"head_dim\": 256, \"vocab_size\": 256000, \"sliding_window\": 4096,"
         "\"hidden_activation\": \"gelu_pytorch_tanh\"}",
         9241705984.0, 21},
        /* Gemma 3 4B's multimodal config: its text_config names no heads or
         * vocabulary, which Gemma3TextConfig's defaults give (8 heads, 4 KV
         * heads of 256, 262,208 tokens): 34 x 94,382,592 + 262,208 x 2,560
         * + 2,560 (it was refused) */
        {"{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 2560,"
         "\"intermediate_size\": 10240, \"model_type\": \"gemma3_text\","
         "\"num_hidden_layers\": 34, \"sliding_window\": 1024}}",
         3880263168.0, 29},
        /* Falcon 7B: attention (one shared K/V head) and MLP in parallel after
         * one LayerNorm a layer; it counted two (6,922,011,520) */
        {"{\"model_type\": \"falcon\", \"hidden_size\": 4544, \"num_hidden_layers\": 32,"
         "\"num_attention_heads\": 71, \"multi_query\": true, \"vocab_size\": 65024,"
         "\"parallel_attn\": true, \"bias\": false, \"new_decoder_architecture\": false}",
         6921720704.0, 0},
        {"{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 1152,"
         "\"intermediate_size\": 6912, \"num_hidden_layers\": 26, \"num_attention_heads\": 4,"
         "\"num_key_value_heads\": 1, \"head_dim\": 256, \"vocab_size\": 262144,"
         "\"sliding_window\": 512, \"sliding_window_pattern\": 6}}",
         999885952.0, 22},
        {"{\"model_type\": \"nemotron\", \"hidden_size\": 18432, \"intermediate_size\": 73728,"
         "\"num_hidden_layers\": 96, \"num_attention_heads\": 96, \"num_key_value_heads\": 8,"
         "\"vocab_size\": 256000, \"hidden_act\": \"relu2\", \"partial_rotary_factor\": 0.5,"
         "\"tie_word_embeddings\": false, \"max_position_embeddings\": 4096}",
         341029195776.0, 0},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        wl_model m = config_model(CASES[i].config);
        double total = wl_model_params(&m).total;
        if (total != CASES[i].total || m.sliding_layers != CASES[i].sliding_layers)
            fail_msg("%s: %.0f parameters, %d sliding layers", m.family, total,
                     m.sliding_layers);
    }
    wl_model m = config_model(CASES[1].config);
    assert_int_equal(m.shared_experts, 4);
    assert_true(m.qkv_bias);
    m = config_model(CASES[7].config); /* two projections, LayerNorms, no biases */
    assert_int_equal(m.mlp, WL_MLP_RELU2);
    assert_int_equal(m.norm, WL_NORM_LAYER);
    assert_false(m.qkv_bias || m.out_bias || m.mlp_bias);
    /* squared ReLU is NemotronConfig's default (absent or null); another
     * activation keeps the two projections, costed as GELU */
    m = config_model("{\"model_type\": \"nemotron\", \"hidden_size\": 64,"
                     "\"intermediate_size\": 256, \"num_hidden_layers\": 2,"
                     "\"num_attention_heads\": 4, \"vocab_size\": 1000, \"hidden_act\": null}");
    assert_int_equal(m.mlp, WL_MLP_RELU2);
    m = config_model("{\"model_type\": \"nemotron\", \"hidden_size\": 64,"
                     "\"intermediate_size\": 256, \"num_hidden_layers\": 2,"
                     "\"num_attention_heads\": 4, \"vocab_size\": 1000, \"hidden_act\": \"silu\"}");
    assert_int_equal(m.mlp, WL_MLP_GELU);
    assert_close(wl_mlp_activation_flops(&m), 8, 0);
    usim_error err;
    usim_error_clear(&err);
    const char *uneven = "{\"model_type\": \"qwen2_moe\", \"hidden_size\": 64,"
                         "\"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                         "\"num_attention_heads\": 4, \"vocab_size\": 1000, \"num_experts\": 4,"
                         "\"num_experts_per_tok\": 2, \"moe_intermediate_size\": 32,"
                         "\"shared_expert_intermediate_size\": 48}";
    assert_int_equal(wl_model_load_text("config.json", uneven, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "shared_expert_intermediate_size");
    assert_non_null(strstr(err.message, "48 is not a multiple of moe_intermediate_size 32"));
    /* Mistral 7B v0.1 slides every layer over 4,096 keys; v0.3's null
     * window is the whole context */
    m = config_model("{\"model_type\": \"mistral\", \"hidden_size\": 4096,"
                     "\"intermediate_size\": 14336, \"num_hidden_layers\": 32,"
                     "\"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
                     "\"vocab_size\": 32000, \"sliding_window\": 4096}");
    assert_int_equal(m.sliding_layers, 32);
    assert_int_equal(m.sliding_window, 4096);
    m = config_model("{\"model_type\": \"mistral\", \"hidden_size\": 4096,"
                     "\"intermediate_size\": 14336, \"num_hidden_layers\": 32,"
                     "\"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
                     "\"vocab_size\": 32000, \"sliding_window\": null}");
    assert_int_equal(m.sliding_layers, 0);
    /* Llama's MLP is gated whatever hidden_act names: gelu kept the gate and
     * up projections of Llama 3 8B (6.15 B parameters counted for 8.03 B),
     * and a name transformers does not know is refused, not taken for silu */
    const char *llama = "{\"model_type\": \"llama\", \"hidden_size\": 4096,"
                        "\"intermediate_size\": 14336, \"num_hidden_layers\": 32,"
                        "\"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
                        "\"vocab_size\": 128256, \"hidden_act\": \"%s\"}";
    char cfg[512];
    snprintf(cfg, sizeof cfg, llama, "gelu");
    m = config_model(cfg);
    assert_true(wl_model_params(&m).total == 8030261248.0);
    snprintf(cfg, sizeof cfg, llama, "bogus");
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "hidden_act");
    assert_non_null(strstr(err.message, "'bogus' is not an activation transformers names"));
    /* transformers' LlamaAttention biases Q, K, V and O on attention_bias:
     * 32 layers x ((32 + 2 x 8) x 128 + 4096) = 327,680 more; mlp_bias the gate,
     * up and down projections only: 32 x (2 x 14336 + 4096) = 1,048,576 */
    const char *biased = "{\"model_type\": \"llama\", \"hidden_size\": 4096,"
                         "\"intermediate_size\": 14336, \"num_hidden_layers\": 32,"
                         "\"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
                         "\"vocab_size\": 128256, \"%s\": true}";
    snprintf(cfg, sizeof cfg, biased, "attention_bias");
    m = config_model(cfg);
    assert_true(wl_model_params(&m).total == 8030261248.0 + 327680.0);
    snprintf(cfg, sizeof cfg, biased, "mlp_bias");
    m = config_model(cfg);
    assert_true(wl_model_params(&m).total == 8030261248.0 + 1048576.0);
    /* a model file's older linear_bias is out_bias and mlp_bias together:
     * 2 layers x (64 + 128 + 64) more */
    const char *own = "{\"kind\": \"model\", \"name\": \"b\", \"layers\": 2, \"hidden\": 64, "
                      "\"heads\": 4, \"ffn\": 128, \"vocab\": 100, \"mlp\": \"gelu\", %s}";
    snprintf(cfg, sizeof cfg, own, "\"qkv_bias\": false");
    assert_int_equal(wl_model_load_text("b.json", cfg, &m, &err), USIM_OK);
    double plain = wl_model_params(&m).total;
    snprintf(cfg, sizeof cfg, own, "\"linear_bias\": true");
    assert_int_equal(wl_model_load_text("b.json", cfg, &m, &err), USIM_OK);
    assert_true(m.out_bias && m.mlp_bias);
    assert_true(wl_model_params(&m).total == plain + 2 * (64 + 128 + 64));
}

/*
 * Llama 4 from its config.json (the text model in text_config). Maverick:
 * embeddings and LM head 2 x 202048 x 5120; a layer's attention 5120 x (5120
 * + 1024 + 1024) + 5120 x 5120 and 2 x 5120 norms; every other layer (1, 3,
 * ..., 47: interleave_moe_layer_step 2) 128 experts and one shared expert of
 * 3 x 5120 x 8192 with a 5120 x 128 router, the other 24 a dense MLP of
 * 3 x 5120 x 16384; the final norm: 400,711,848,960 (the model card: "400B
 * total", its vision encoder aside). Scout: 16 experts in all 48 layers:
 * 107,769,861,120 (the card's 109B with the vision encoder). A token passes
 * one routed and the shared expert: 17.18B and 17.17B active with the
 * embedding, the cards' "17B active".
 */
static void llama4_config(void **state)
{
    (void)state;
    char cfg[2048];
    const char *text = "\"hidden_size\": 5120, \"num_hidden_layers\": 48,"
                       "\"num_attention_heads\": 40, \"num_key_value_heads\": 8,"
                       "\"head_dim\": 128, \"intermediate_size\": 8192,"
                       "\"intermediate_size_mlp\": 16384, \"num_experts_per_tok\": 1,"
                       "\"vocab_size\": 202048, \"tie_word_embeddings\": false";
    wl_model m;
    usim_error err;
    usim_error_clear(&err);
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama4\", \"text_config\": {\"model_type\": \"llama4_text\", "
             "%s, \"num_local_experts\": 128, \"interleave_moe_layer_step\": 2}, "
             "\"vision_config\": {\"model_type\": \"llama4_vision_model\"}}",
             text);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_OK);
    wl_params p = wl_model_params(&m);
    assert_true(p.total == 400711848960.0);
    wl_model preset = load("llama4-maverick");
    assert_true(wl_model_params(&preset).total == p.total);
    assert_int_equal(wl_moe_layers(&m), 24);
    assert_false(wl_is_moe_layer(&m, 0));
    assert_true(wl_is_moe_layer(&m, 1));
    assert_true(fabs(p.active - 17e9) < 0.5e9);
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama4_text\", %s, \"num_local_experts\": 16,"
             "\"interleave_moe_layer_step\": 1}",
             text);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_OK);
    p = wl_model_params(&m);
    assert_true(p.total == 107769861120.0);
    preset = load("llama4-scout");
    assert_true(wl_model_params(&preset).total == p.total);
    assert_int_equal(wl_moe_layers(&m), 48);
    assert_true(fabs(p.active - 17e9) < 0.5e9);
    /* A key of the nested text model is named by its path. */
    const char *bad = "{\"model_type\": \"llama4\", \"text_config\": {\"hidden_size\": 5120,"
                      "\"num_hidden_layers\": 48, \"num_attention_heads\": 40,"
                      "\"intermediate_size\": 8192, \"vocab_size\": 202048,"
                      "\"num_local_experts\": -3}}";
    assert_int_equal(wl_model_load_text("config.json", bad, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "text_config.num_local_experts");
    /* Expert layers listed one by one, a step past the last layer, and a
     * text_config that is not an object are refused. */
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama4_text\", %s, \"num_local_experts\": 16,"
             "\"interleave_moe_layer_step\": 2, \"moe_layers\": [0, 2]}",
             text);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "moe_layers");
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama4_text\", %s, \"num_local_experts\": 16,"
             "\"interleave_moe_layer_step\": 49}",
             text);
    assert_int_equal(wl_model_load_text("config.json", cfg, &m, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "leaves no expert layer"));
    const char *flat = "{\"model_type\": \"llama4\", \"text_config\": [1]}";
    assert_int_equal(wl_model_load_text("config.json", flat, &m, &err), USIM_EINPUT);
    assert_string_equal(err.field, "text_config");
}

/*
 * Sliding-window attention in the FLOP counts, gpt-oss-120b at 1,024 tokens:
 * 18 full layers see the triangle, 1024 x 1025 / 2 pairs each; 18 sliding
 * ones 128 x 129 / 2 + 896 x 128; each pair costs 2 x 64 heads x (64 + 64).
 * The PaLM term counts 1,024 keys per token on a full layer and 128 on a
 * sliding one: 6 x 64 x 128 x 18 x (1024 + 128) per token.
 */
static void sliding_window_flops(void **state)
{
    (void)state;
    wl_model m = load("gpt-oss-120b");
    double pairs = 18 * (1024.0 * 1025 / 2) + 18 * (128.0 * 129 / 2 + 896.0 * 128);
    assert_close(wl_forward_flops(&m, 1024).attention_core, 2.0 * 64 * pairs * 128, 1e-12);
    wl_model full = m;
    full.sliding_layers = 0;
    double attention = 6.0 * 64 * 128 * 18 * (1024 + 128);
    double matmul = wl_model_flops_per_token(&full, 1024) - 6.0 * 64 * 128 * 36 * 1024;
    assert_close(wl_model_flops_per_token(&m, 1024), matmul + attention, 1e-12);
}

/* 1F1B: rank 0 of 4 warms up with 3 forwards, then alternates. */
static void one_f_one_b_order(void **state)
{
    (void)state;
    wl_pipe_op ops[16];
    wl_pipeline_order(4, 1, 0, 8, 0, WL_SCHED_1F1B, ops);
    int expect_fwd[] = {0, 1, 2, 3}; /* first four ops are forwards 0..3 */
    for (int i = 0; i < 4; i++) {
        assert_false(ops[i].backward);
        assert_int_equal(ops[i].microbatch, expect_fwd[i]);
    }
    assert_true(ops[4].backward && ops[4].microbatch == 0);
    assert_true(!ops[5].backward && ops[5].microbatch == 4);
    assert_true(ops[15].backward && ops[15].microbatch == 7);
    assert_int_equal(wl_pipeline_max_inflight(4, 1, 0, 8, 0, WL_SCHED_1F1B), 4);
    assert_int_equal(wl_pipeline_max_inflight(4, 1, 0, 8, 3, WL_SCHED_1F1B), 1);
}

/* Interleaved, pp 2, vp 2, m 4: rank 0 warms up with (2-0-1)*2 + (2-1)*2 = 4. */
static void interleaved_order(void **state)
{
    (void)state;
    wl_pipe_op ops[16];
    wl_pipeline_order(2, 2, 0, 4, 0, WL_SCHED_1F1B, ops);
    /* forwards: mb0 c0, mb1 c0, mb0 c1, mb1 c1, then mb2 c0 with the first backward */
    assert_true(ops[0].microbatch == 0 && ops[0].chunk == 0);
    assert_true(ops[1].microbatch == 1 && ops[1].chunk == 0);
    assert_true(ops[2].microbatch == 0 && ops[2].chunk == 1);
    assert_true(ops[3].microbatch == 1 && ops[3].chunk == 1);
    assert_true(!ops[4].backward && ops[4].microbatch == 2 && ops[4].chunk == 0);
    assert_true(ops[5].backward && ops[5].microbatch == 0 && ops[5].chunk == 1);
    int forwards = 0, backwards = 0;
    for (int i = 0; i < 16; i++)
        ops[i].backward ? backwards++ : forwards++;
    assert_int_equal(forwards, 8);
    assert_int_equal(backwards, 8);
}

/* Groups of N contiguous micro-batches a chunk (the Llama 3 paper's schedule,
 * Megatron-Core's get_schedule_table): pp 2, vp 2, m 6, N 3, rank 0 warms up
 * with (2-0-1)*2 + (2-1)*3 = 5 forwards, mb 0-2 through chunk 0 then chunk
 * 1; its first backward is mb 0's of chunk 1. Six forwards in flight: three
 * of each chunk (with N = PP = 2: four warm-up forwards, five in flight,
 * three of chunk 0). At m 4 and N 3 the last group holds mb 3 alone. */
static void interleaved_groups(void **state)
{
    (void)state;
    wl_pipe_op ops[24];
    wl_pipeline_order(2, 2, 3, 6, 0, WL_SCHED_1F1B, ops);
    const int fwd[][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}};
    for (int i = 0; i < 5; i++)
        assert_true(!ops[i].backward && ops[i].microbatch == fwd[i][0] &&
                    ops[i].chunk == fwd[i][1]);
    assert_true(!ops[5].backward && ops[5].microbatch == 2 && ops[5].chunk == 1);
    assert_true(ops[6].backward && ops[6].microbatch == 0 && ops[6].chunk == 1);
    const double one[2] = {1, 1};
    assert_true(wl_pipeline_peak_layers(2, 2, 3, 6, 0, WL_SCHED_1F1B, one) == 6);
    assert_true(wl_pipeline_peak_layers(2, 2, 0, 6, 0, WL_SCHED_1F1B, one) == 5);
    wl_pipeline_order(2, 2, 3, 4, 1, WL_SCHED_1F1B, ops);
    const int all[][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}, {3, 0}, {3, 1}};
    for (int i = 0, f = 0; i < 16; i++)
        if (!ops[i].backward) {
            assert_true(ops[i].microbatch == all[f][0] && ops[i].chunk == all[f][1]);
            f++;
        }
}

/* A rank's peak activations, walked over its own program: 80 layers over
 * PP 8 x VP 3 leave rank 0 chunks of 3, 4 and 3 layers; at 32 micro-batches
 * its first 2 x 7 + 2 x 8 + 1 = 31 forwards hold 101 layers, but later in
 * the steady state, where backwards free chunk 2's while forwards add chunk
 * 1's, it holds more: the peak equals a walk over wl_pipeline_order. */
static void peak_layers_follow_the_program(void **state)
{
    (void)state;
    const double layers[3] = {3, 4, 3};
    static wl_pipe_op ops[2 * 32 * 3];
    wl_pipeline_order(8, 3, 0, 32, 0, WL_SCHED_1F1B, ops);
    double live = 0, peak = 0, first = 0;
    for (int i = 0; i < 2 * 32 * 3; i++) {
        live += ops[i].backward ? -layers[ops[i].chunk] : layers[ops[i].chunk];
        peak = live > peak ? live : peak;
        if (i == 30)
            first = live;
    }
    assert_true(first == 101);
    assert_true(peak > first);
    assert_true(wl_pipeline_peak_layers(8, 3, 0, 32, 0, WL_SCHED_1F1B, layers) == peak);
}

/* The embedding and the loss each in a layer's place (Megatron-Core's
 * account_for_*_in_pipeline_split): Llama 3.1 405B's 126 layers and the two
 * over 16 x 8 virtual stages, one slot each: the first chunk of rank 0 holds
 * the embedding alone, the last of rank 15 the loss alone. Llama 2 13B's 40
 * layers and the two over 2 x 3 hold 7 slots each, 6 layers at the ends; at
 * 4 micro-batches rank 0 has 7 forwards in flight (2 + 2 x 2 warm-up and one
 * more), 3 of chunk 0 (6 layers) and 2 each of chunks 1 and 2 (7): 46 layers'
 * activations. */
static void embedding_and_loss_take_a_slot(void **state)
{
    (void)state;
    wl_model m = load("llama3.1-405b");
    wl_plan p;
    memset(&p, 0, sizeof p);
    p.pp = 16;
    p.vp = 8;
    p.embedding_slot = p.loss_slot = true;
    int total = 0;
    for (int s = 0; s < 16; s++)
        for (int c = 0; c < 8; c++) {
            int layers = wl_chunk_layers(&m, &p, s, c);
            bool end = (s == 0 && c == 0) || (s == 15 && c == 7);
            assert_int_equal(layers, end ? 0 : 1);
            total += layers;
        }
    assert_int_equal(total, 126);
    wl_model m13 = load("llama2-13b");
    usim_error err;
    memset(&p, 0, sizeof p);
    p.tp = p.cp = p.dp = p.ep = p.mbs = 1;
    p.pp = 2;
    p.vp = 3;
    p.gbs = 4;
    p.seq = 4096;
    p.recompute = WL_RECOMPUTE_SELECTIVE;
    p.embedding_slot = p.loss_slot = true;
    assert_int_equal(wl_stack_load("megatron-core", &p.stack, &err), USIM_OK);
    assert_int_equal(wl_plan_check(&p, &m13, 2, &err), USIM_OK);
    assert_int_equal(wl_chunk_layers(&m13, &p, 0, 0), 6);
    assert_int_equal(wl_chunk_layers(&m13, &p, 0, 1), 7);
    assert_int_equal(wl_chunk_layers(&m13, &p, 1, 2), 6);
    wl_memory mem = wl_memory_per_chip(&m13, &p);
    assert_int_equal(mem.worst_stage, 0);
    assert_true(fabs(mem.activations - 46 * wl_layer_activation_bytes(&m13, &p)) <=
                1e-9 * mem.activations);
    p.vp = 4; /* 42 slots over 8 virtual stages: uneven, refused as Megatron-Core does */
    assert_int_equal(wl_plan_check(&p, &m13, 2, &err), USIM_EINPUT);
}

/* The rank's passes as "F0 B0 W0 ..."; with mark_alone, an unpaired one in
 * lower case. */
static void pass_string(const wl_pipe_op *ops, int n, bool mark_alone, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char kind = ops[i].weight ? 'W' : ops[i].backward ? 'B' : 'F';
        size_t at = strlen(out);
        snprintf(out + at, size - at, "%s%c%lld", i ? " " : "",
                 mark_alone && !ops[i].paired ? kind - 'A' + 'a' : kind,
                 (long long)ops[i].microbatch);
    }
}

/* ZB-H1, pp 4, m 8: rank s runs triples (F x, B x-(3-s), W x-3). The last
 * rank pairs each F with its own B and holds W back three triples; rank 0
 * warms up like 1F1B and then runs B and W together. */
static void zero_bubble_order(void **state)
{
    (void)state;
    wl_pipe_op ops[24];
    assert_int_equal(wl_pipeline_ops(1, 8, WL_SCHED_ZB_H1), 24);
    wl_pipeline_order(4, 1, 0, 8, 3, WL_SCHED_ZB_H1, ops);
    const char *last = "F0 B0 F1 B1 F2 B2 F3 B3 W0 F4 B4 W1";
    const char *first = "F0 F1 F2 F3 B0 W0 F4 B1 W1 F5 B2 W2";
    char got[64];
    pass_string(ops, 12, false, got, sizeof got);
    assert_string_equal(got, last);
    wl_pipeline_order(4, 1, 0, 8, 0, WL_SCHED_ZB_H1, ops);
    pass_string(ops, 12, false, got, sizeof got);
    assert_string_equal(got, first);
    assert_true(ops[23].weight && ops[23].microbatch == 7);
    assert_int_equal(wl_pipeline_max_inflight(4, 1, 0, 8, 3, WL_SCHED_ZB_H1), 4);
}

/* Which passes run beside a pass of another micro-batch (Megatron-Core's
 * combined 1F1B): rank 0 of 4 at m 8 warms up with 3 forwards and drains 3
 * backwards alone, the 5 steady pairs (F x+3, B x) merged. The last rank
 * has no warm-up and its B x needs its F x, so as without a pipeline the
 * first forward and the last backward run alone and F x+1 pairs with B x.
 * Interleaved pp 2, vp 2, m 4, rank 0: 4 warm-up forwards. ZB-H1 rank 0 of
 * 4: the 3 triples without a B. A W never pairs. */
static void steady_passes_pair(void **state)
{
    (void)state;
    wl_pipe_op ops[24];
    char got[160];
    wl_pipeline_order(4, 1, 0, 8, 0, WL_SCHED_1F1B, ops);
    pass_string(ops, 16, true, got, sizeof got);
    assert_string_equal(got, "f0 f1 f2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 b5 b6 b7");
    wl_pipeline_order(4, 1, 0, 8, 3, WL_SCHED_1F1B, ops);
    pass_string(ops, 16, true, got, sizeof got);
    assert_string_equal(got, "f0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 b7");
    wl_pipeline_order(2, 2, 0, 4, 0, WL_SCHED_1F1B, ops);
    pass_string(ops, 16, true, got, sizeof got);
    assert_string_equal(got, "f0 f1 f0 f1 F2 B0 F3 B1 F2 B0 F3 B1 b2 b3 b2 b3");
    wl_pipeline_order(4, 1, 0, 8, 0, WL_SCHED_ZB_H1, ops);
    pass_string(ops, 12, true, got, sizeof got);
    assert_string_equal(got, "f0 f1 f2 F3 B0 w0 F4 B1 w1 F5 B2 w2");
    pass_string(ops + 18, 6, true, got, sizeof got);
    assert_string_equal(got, "b5 w5 b6 w6 b7 w7");
}

/* The step of pp ranks running the schedule with forward, input-gradient
 * and weight-gradient passes of f, b and w seconds (1F1B runs b + w as one
 * backward) and nothing else: the pipeline's dependencies alone. */
static double pipeline_makespan(int pp, int64_t m, wl_schedule schedule, double f, double b,
                                double w)
{
    sim_graph *g = sim_graph_new();
    int fwd[8][16], bwd[8][16];
    wl_pipe_op ops[48];
    for (int s = 0; s < pp; s++) {
        int r = sim_resource(g, "stage");
        wl_pipeline_order(pp, 1, 0, m, s, schedule, ops);
        for (int64_t i = 0; i < wl_pipeline_ops(1, m, schedule); i++) {
            const wl_pipe_op *op = &ops[i];
            double t = op->weight ? w : !op->backward ? f : schedule == WL_SCHED_ZB_H1 ? b : b + w;
            int task = sim_task(g, r, t, 0, "op");
            if (!op->weight)
                (op->backward ? bwd : fwd)[s][op->microbatch] = task;
        }
    }
    for (int s = 0; s < pp; s++)
        for (int64_t mb = 0; mb < m; mb++) {
            if (s > 0)
                assert_int_equal(sim_depend(g, fwd[s][mb], fwd[s - 1][mb], 0, NULL), USIM_OK);
            int after = s < pp - 1 ? bwd[s + 1][mb] : fwd[s][mb];
            assert_int_equal(sim_depend(g, bwd[s][mb], after, 0, NULL), USIM_OK);
        }
    assert_int_equal(sim_run(g, NULL), USIM_OK);
    double end = 0;
    for (int t = 0; t < sim_task_count(g); t++)
        end = fmax(end, sim_end(g, t));
    sim_graph_free(g);
    return end;
}

/* The paper's closed forms (Qi et al. 2024, section 3.1) with F = B = W = 1,
 * pp 4, m 8: 1F1B takes (m + pp - 1)(F + B + W) = 33, ZB-H1
 * m (F + B + W) + (pp - 1)(F + B - W) = 27. */
static void zero_bubble_shrinks_the_bubble(void **state)
{
    (void)state;
    assert_close(pipeline_makespan(4, 8, WL_SCHED_1F1B, 1, 1, 1), 33.0, 1e-12);
    assert_close(pipeline_makespan(4, 8, WL_SCHED_ZB_H1, 1, 1, 1), 27.0, 1e-12);
    assert_close(pipeline_makespan(8, 16, WL_SCHED_ZB_H1, 1, 1, 1), 48.0 + 7.0, 1e-12);
}

/* DeepSeek-V3's multi-token prediction module takes two layers' places on
 * the last stage, as NVIDIA's layouts put it: over 16 stages
 * "Et*4|(t*4|)*14tmL" (one layer on the last), over 8 x 4 virtual stages
 * "Et|(tt|)*30mL" (none on the last, one on the first, two elsewhere). Its
 * parameters, from config.json's shapes: MLA (q_a 7168 x 1536, its norm,
 * q_b 1536 x 128 x 192, kv_a 7168 x 576, its norm, kv_b 512 x 128 x 256, o
 * 128 x 128 x 7168), 256 + 1 experts of 3 x 7168 x 2048, the router and its
 * bias, two layer norms, and the module's two norms and 14336 x 7168
 * projection: 11,610,061,056. */
static void mtp_takes_the_last_stage(void **state)
{
    (void)state;
    wl_model m = load("deepseek-v3");
    assert_int_equal(m.mtp_layers, 1);
    wl_plan p = {.tp = 1, .pp = 16, .dp = 1, .cp = 1, .ep = 1, .vp = 1, .mbs = 1, .gbs = 16,
                 .seq = 4096};
    for (int s = 0; s < 16; s++)
        assert_int_equal(wl_chunk_layers(&m, &p, s, 0), s == 15 ? 1 : 4);
    p.pp = 8;
    p.vp = 4;
    for (int c = 0; c < 4; c++)
        for (int s = 0; s < 8; s++) {
            int v = c * 8 + s;
            assert_int_equal(wl_chunk_layers(&m, &p, s, c), v == 31 ? 0 : v == 0 ? 1 : 2);
        }
    p.pp = p.vp = 1;
    wl_stage_params with = wl_stage_params_of(&m, &p, 0);
    m.mtp_layers = 0;
    wl_stage_params without = wl_stage_params_of(&m, &p, 0);
    assert_close(with.dense + with.experts - without.dense - without.experts, 11610061056.0,
                 1e-6);
    expect_input_error("train --model deepseek-v3 --hw dgx-h100 --chips 8 --gbs 8 --seq 4096 "
                       "--mtp-layers 17",
                       "--mtp-layers");
    /* pipelined, the last stage also holds the embedding the module reads:
     * 129,280 x 7,168 more over the stages */
    p.pp = 2;
    double total[2] = {0, 0};
    for (int mtp = 0; mtp < 2; mtp++) {
        m.mtp_layers = mtp;
        for (int s = 0; s < 2; s++) {
            wl_stage_params sp = wl_stage_params_of(&m, &p, s);
            total[mtp] += sp.dense + sp.experts;
        }
    }
    assert_close(total[1] - total[0], 11610061056.0 + 129280.0 * 7168, 1e-6);
}

/* Llama 3.1 405B's 126 layers on PP 8: the first and last stages get fewer. */
static void uneven_layers(void **state)
{
    (void)state;
    wl_model m = load("llama3.1-405b");
    wl_plan p = {.tp = 8, .pp = 8, .dp = 1, .cp = 1, .ep = 1, .vp = 1, .mbs = 1, .gbs = 8,
                 .seq = 8192};
    int total = 0;
    for (int s = 0; s < 8; s++)
        total += wl_chunk_layers(&m, &p, s, 0);
    assert_int_equal(total, 126);
    assert_int_equal(wl_chunk_layers(&m, &p, 0, 0), 15);
    assert_int_equal(wl_chunk_layers(&m, &p, 3, 0), 16);
    assert_int_equal(wl_chunk_layers(&m, &p, 7, 0), 15);
}

/* Korthikanti et al. 2022, Table 2, GPT-3 shapes: with TP t and SP, no
 * recompute, per layer s b h (34/t) bytes once the 5as/h score term is gone
 * (fused attention), s b h (34 + 5as/h)/t with unfused attention; full
 * recompute keeps 2 s b h / t. */
static void activation_memory_matches_korthikanti(void **state)
{
    (void)state;
    wl_model m = load("gpt3-175b");
    wl_plan p = {.tp = 8, .pp = 1, .dp = 1, .cp = 1, .ep = 1, .vp = 1, .mbs = 1, .gbs = 1,
                 .seq = 2048, .sp = true};
    double sbh = 2048.0 * 12288;
    /* 34 of Korthikanti minus the 1-byte softmax-dropout terms, plus the fp32
     * log-sum-exp of fused attention (4 bytes x s x heads / t). */
    double lse = 4.0 * 2048 * 96 / 8;
    assert_close(wl_layer_activation_bytes(&m, &p), sbh * 34 / 8 + lse, 1e-12);
    /* unfused attention keeps the scores: Korthikanti's 5 a s / h term
     * (softmax output 2 bytes, dropout mask 1, dropped output 2) per s b h */
    p.attention = ENGINE_ATTN_UNFUSED;
    assert_close(wl_layer_activation_bytes(&m, &p),
                 sbh * (34 + 5.0 * 96 * 2048 / 12288) / 8 + lse, 1e-12);
    p.recompute = WL_RECOMPUTE_SELECTIVE; /* which selective recomputation drops */
    assert_close(wl_layer_activation_bytes(&m, &p), sbh * 34 / 8 + lse, 1e-12);
    p.recompute = WL_RECOMPUTE_NONE;
    p.attention = ENGINE_ATTN_FUSED;
    p.sp = false; /* 10 + 24/t */
    assert_close(wl_layer_activation_bytes(&m, &p), sbh * (10 + 24.0 / 8) + lse, 1e-12);
    p.recompute = WL_RECOMPUTE_FULL;
    assert_close(wl_layer_activation_bytes(&m, &p), 2 * sbh, 1e-12);
}

/* Weights + gradients + Adam for Llama 3 8B on one chip, ZeRO 0: 16 bytes
 * a parameter (2 + 2 + 12, the ZeRO paper's count); ZeRO-1 over 8 ranks
 * shards the 12 optimizer bytes. */
static void model_state_memory(void **state)
{
    (void)state;
    wl_model m = load("llama3-8b");
    wl_plan p = {.tp = 1, .pp = 1, .dp = 1, .cp = 1, .ep = 1, .vp = 1, .mbs = 1, .gbs = 1,
                 .seq = 4096};
    double n = 8030261248.0;
    wl_memory mem = wl_memory_per_chip(&m, &p);
    assert_close(mem.weights + mem.gradients + mem.optimizer, 16 * n, 1e-9);
    p.dp = 8;
    p.gbs = 8;
    p.zero = 1;
    mem = wl_memory_per_chip(&m, &p);
    assert_close(mem.optimizer, 12 * n / 8, 1e-9);
    assert_close(mem.weights, 2 * n, 1e-9);
    p.zero = 3;
    mem = wl_memory_per_chip(&m, &p);
    assert_close(mem.weights + mem.gradients + mem.optimizer, 16 * n / 8, 1e-9);
}

static void plan_checks(void **state)
{
    (void)state;
    wl_model m = load("llama3-70b");
    usim_error err;
    usim_error_clear(&err);
    wl_plan p = {.tp = 8, .pp = 4, .dp = 2, .cp = 1, .ep = 1, .vp = 1, .mbs = 1, .gbs = 64,
                 .seq = 8192};
    /* A plan must name the software that runs it. */
    assert_int_equal(wl_plan_check(&p, &m, 64, &err), USIM_EINPUT);
    assert_string_equal(err.field, "stack");
    assert_int_equal(wl_stack_load("megatron-core", &p.stack, &err), USIM_OK);
    assert_int_equal(wl_plan_check(&p, &m, 64, &err), USIM_OK);
    assert_int_equal(wl_plan_check(&p, &m, 128, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "128 chips"));
    p.tp = 3;
    p.dp = 1;
    assert_int_equal(wl_plan_check(&p, &m, 12, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "64 attention heads"));
    p.tp = 8;
    p.dp = 2;
    p.gbs = 63;
    assert_int_equal(wl_plan_check(&p, &m, 64, &err), USIM_EINPUT);
    assert_string_equal(err.field, "gbs");
    p.gbs = 64;
    p.vp = 2;
    p.gbs = 2 * 6; /* 6 micro-batches, not a multiple of PP 4 */
    assert_int_equal(wl_plan_check(&p, &m, 64, &err), USIM_EINPUT);
    assert_string_equal(err.field, "vp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(llama31_405b_exact),
        cmocka_unit_test(zero_bubble_order),
        cmocka_unit_test(mtp_takes_the_last_stage),
        cmocka_unit_test(zero_bubble_shrinks_the_bubble),
        cmocka_unit_test(every_preset_matches_published),
        cmocka_unit_test(llama4_config),
        cmocka_unit_test(moe_active_parameters),
        cmocka_unit_test(eagle3_head_params),
        cmocka_unit_test(model_flops_convention),
        cmocka_unit_test(megatron_formula),
        cmocka_unit_test(hf_config_json),
        cmocka_unit_test(gpt_oss_config),
        cmocka_unit_test(more_families_config),
        cmocka_unit_test(sliding_window_flops),
        cmocka_unit_test(one_f_one_b_order),
        cmocka_unit_test(interleaved_order),
        cmocka_unit_test(interleaved_groups),
        cmocka_unit_test(peak_layers_follow_the_program),
        cmocka_unit_test(embedding_and_loss_take_a_slot),
        cmocka_unit_test(steady_passes_pair),
        cmocka_unit_test(uneven_layers),
        cmocka_unit_test(activation_memory_matches_korthikanti),
        cmocka_unit_test(model_state_memory),
        cmocka_unit_test(plan_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
