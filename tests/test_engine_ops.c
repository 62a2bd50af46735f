/* Vector and scalar engines, layers built on them, HBM, and fused attention,
 * against hand calculations on the Trn2 and H100 presets. */
#include <math.h>
#include <string.h>

#include "support.h"
#include "ultrasim/engine.h"

static hw_chip load(const char *name)
{
    hw_chip chip;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_chip(name, &chip, &err), USIM_OK);
    return chip;
}

/* Trn2: vector 8 cores x 256 lanes x 0.96 GHz, scalar 8 x 128 x 1.2 GHz,
 * 100-cycle instruction overhead, HBM 2.9 TB/s x 0.88. */
#define TRN2_VECTOR (8 * 256 * 0.96e9)
#define TRN2_SCALAR (8 * 128 * 1.2e9)
#define TRN2_HBM (2.9e12 * 0.88)

static void vector_roofline(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    engine_vector_op op = {1e9, 2, 4e9, ENGINE_VECTOR};
    engine_cost r = engine_vector(&c, &op);
    assert_close(r.compute_s, 2e9 / TRN2_VECTOR + 100 / 0.96e9, 1e-12);
    assert_close(r.memory_s, 4e9 / TRN2_HBM, 1e-12);
    /* plus the fixed cost of one operation (launch_overhead: 6 us on Trainium) */
    assert_close(r.seconds, r.memory_s + c.launch_overhead_s, 1e-15);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    assert_close(r.flops, 2e9, 0);
    /* a tiny op is its fixed overhead */
    engine_vector_op tiny = {1000, 1, 0, ENGINE_SCALAR};
    r = engine_vector(&c, &tiny);
    assert_close(r.seconds, 1000 / TRN2_SCALAR + 100 / 1.2e9 + c.launch_overhead_s, 1e-12);
    assert_int_equal(r.bound, ENGINE_BOUND_LATENCY);
    /* compute-bound with many passes and few bytes */
    engine_vector_op heavy = {1e8, 50, 1e8, ENGINE_VECTOR};
    assert_int_equal(engine_vector(&c, &heavy).bound, ENGINE_BOUND_COMPUTE);
    /* a GPU has no scalar engine: its vector lanes do the work */
    hw_chip h = load("h100-sxm");
    engine_vector_op s = {1e9, 1, 0, ENGINE_SCALAR};
    assert_close(engine_vector(&h, &s).compute_s, 1e9 / (132 * 128 * 1.83e9), 1e-12);
    engine_vector_op bad = {-5, NAN, -1, ENGINE_VECTOR};
    assert_close(engine_vector(&c, &bad).seconds, 0, 0);
}

/* Trn1 moves HBM traffic only by its 32 DMA engines, which sustain 17 B/ns
 * each (NKI DMA bandwidth guide): 544 GB/s, below HBM's 820 GB/s x 0.88 =
 * 721.6 GB/s; the same 4 GB stream is bounded by them. On Trn2 the 128
 * engines' 2,944 GB/s are above HBM's 2,552 GB/s, which stays the bound. */
static void dma_bounds_trainium_memory(void **state)
{
    (void)state;
    hw_chip t1 = load("trn1");
    engine_vector_op op = {1e9, 1, 4e9, ENGINE_VECTOR};
    assert_close(engine_vector(&t1, &op).memory_s, 4e9 / (32 * 17e9), 1e-12);
    hw_chip t2 = load("trn2");
    assert_close(engine_vector(&t2, &op).memory_s, 4e9 / TRN2_HBM, 1e-12);
}

/* Softmax over 4096 x 4096 bf16 on Trn2: 2 vector passes, 1 scalar pass, in
 * parallel; 2 bytes in and out per element: memory-bound. */
static void layers(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    double e = 4096.0 * 4096;
    engine_cost r = engine_layer_cost(&c, ENGINE_OP_SOFTMAX, 4096, 4096, USIM_BF16);
    double vec = 2 * e / TRN2_VECTOR + 100 / 0.96e9, sca = e / TRN2_SCALAR + 100 / 1.2e9;
    assert_close(r.compute_s, fmax(vec, sca), 1e-12);
    assert_close(r.bytes, 4 * e, 0);
    assert_close(r.memory_s, 4 * e / TRN2_HBM, 1e-12);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    assert_close(r.flops, 5 * e, 0);
    /* RMSNorm: 2 vector passes and a scalar one; SwiGLU reads two inputs */
    r = engine_layer_cost(&c, ENGINE_OP_RMSNORM, 1, 1e6, USIM_FP32);
    assert_close(r.bytes, 8e6, 0);
    r = engine_layer_cost(&c, ENGINE_OP_SWIGLU, 10, 1e5, USIM_BF16);
    assert_close(r.bytes, 6e6, 0);
    /* reductions write one value per row */
    r = engine_layer_cost(&c, ENGINE_OP_REDUCE, 1000, 1000, USIM_BF16);
    assert_close(r.bytes, 2e6 + 2e3, 0);
    /* on H100 every pass runs on the vector lanes */
    hw_chip h = load("h100-sxm");
    r = engine_layer_cost(&h, ENGINE_OP_LAYERNORM, 1000, 1000, USIM_BF16);
    assert_close(r.compute_s, 4e6 / (132 * 128 * 1.83e9), 1e-12);
    engine_layer_op op;
    assert_true(engine_layer_op_parse("rmsnorm", &op) && op == ENGINE_OP_RMSNORM);
    assert_string_equal(engine_layer_op_name(ENGINE_OP_ACTIVATION), "activation");
    assert_false(engine_layer_op_parse("conv", &op));
}

static void memory(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    engine_cost r = engine_memory(&c, 1073741824.0);
    assert_close(r.seconds, 1073741824.0 / TRN2_HBM + 1.3e-6, 1e-12);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    assert_int_equal(engine_memory(&c, 64).bound, ENGINE_BOUND_LATENCY);
    hw_chip h = load("h100-sxm");
    assert_close(engine_memory(&h, 1e9).seconds, 1e9 / (3.35e12 * 0.84), 1e-12);
}

/* Causal prefill on Trn2, 1 x 8 heads, 2048 tokens, d = 128. Tiles of 128
 * queries against key blocks of 512: tile t sees (t + 1) x 128 keys, so
 * ceil((t + 1) / 4) blocks: 4 x (1 + 2 + 3 + 4) = 40 per head, 320 in all, 40 per
 * core. A pair is QK^T 512 + 4 transposes x 128 + PV 4 x 128 = 1,536 tensor
 * cycles, 512 + 128 vector cycles, 512 scalar cycles. */
static void attention_prefill(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    engine_attention_op op = {1, 8, 8, 2048, 2048, 128, true, false, USIM_BF16,
                              ENGINE_ATTN_FUSED, false, 0};
    engine_cost r = engine_attention(&c, &op);
    double tensor = 40 * 1536 / 2.4e9, vector = 40 * 640 / 0.96e9, scalar = 40 * 512 / 1.2e9;
    double compute = fmax(tensor, fmax(vector, scalar)) + 254 / 2.4e9;
    assert_close(r.compute_s, compute, 1e-12);
    double bytes = 8 * 2048 * (128 * 2 * 2 + 4.0) + 8 * (2 * 2048 * 128 * 2.0);
    assert_close(r.bytes, bytes, 1e-15);
    assert_close(r.seconds, fmax(compute, bytes / TRN2_HBM) + 2 * 1.3e-6 + c.launch_overhead_s,
                 1e-12);
    assert_close(r.flops, 4.0 * 128 * 8 * (2048.0 * 2049 / 2), 1e-15);
    assert_int_equal(r.bound, ENGINE_BOUND_COMPUTE);
    /* without the mask, all 64 pairs per head; backward does 2.5x the FLOPs */
    op.causal = false;
    engine_cost full = engine_attention(&c, &op);
    assert_close(full.flops, 4.0 * 128 * 8 * 2048 * 2048, 1e-15);
    assert_true(full.compute_s > r.compute_s);
    op.backward = true;
    engine_cost back = engine_attention(&c, &op);
    assert_close(back.flops, 2.5 * full.flops, 1e-15);
    assert_true(back.seconds > full.seconds);
}

/* Sliding-window attention (gpt-oss: 128 keys): 2,048 causal queries see
 * 128 x 129 / 2 + (2,048 - 128) x 128 = 254,016 keys in all, not the triangle's
 * 2,098,176; one decode token against 8,192 cached keys reads only the last
 * 128, as the same op with 128 keys does. */
static void attention_window(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    engine_attention_op op = {1, 8, 8, 2048, 2048, 128, true, false, USIM_BF16,
                              ENGINE_ATTN_FUSED, false, 128};
    engine_cost band = engine_attention(&c, &op);
    assert_close(band.flops, 4.0 * 128 * 8 * 254016.0, 1e-15);
    op.window = 0;
    assert_true(engine_attention(&c, &op).seconds > band.seconds);
    engine_attention_op dec = {1, 32, 8, 1, 8192, 128, false, false, USIM_BF16,
                               ENGINE_ATTN_FUSED, false, 128};
    engine_attention_op same = {1, 32, 8, 1, 128, 128, false, false, USIM_BF16,
                                ENGINE_ATTN_FUSED, false, 0};
    engine_cost w = engine_attention(&c, &dec), k = engine_attention(&c, &same);
    assert_close(w.flops, 4.0 * 128 * 32 * 128, 1e-15);
    assert_close(w.bytes, k.bytes, 1e-15);
    assert_close(w.seconds, k.seconds, 1e-15);
    dec.causal = true; /* the same step written as causal: the last 128 keys too */
    assert_close(engine_attention(&c, &dec).bytes, k.bytes, 1e-15);
}

/* Decoding: 32 query heads share 8 KV heads, one token against 8,192. Each KV
 * group's 4 queries share a tile; reading the 8 heads' K and V (4 MiB each) from
 * HBM is the limit. */
static void attention_decode(void **state)
{
    (void)state;
    hw_chip c = load("trn2");
    engine_attention_op op = {1, 32, 8, 1, 8192, 128, true, false, USIM_BF16,
                              ENGINE_ATTN_FUSED, false, 0};
    engine_cost r = engine_attention(&c, &op);
    double kv = 8 * 2 * 8192 * 128 * 2.0, q = 32 * (128 * 2 * 2 + 4.0);
    assert_close(r.bytes, kv + q, 1e-15);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    assert_close(r.flops, 4.0 * 128 * 32 * 8192, 1e-15);
    /* the same on H100: also memory-bound; K and V read once through L2 */
    hw_chip h = load("h100-sxm");
    r = engine_attention(&h, &op);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    assert_close(r.bytes, kv + q, 1e-15);
    /* odd inputs do not crash: kv_heads 0 means heads, lengths below 1 count as 1 */
    engine_attention_op odd = {0, 4, 0, 0, 0, 0, true, true, USIM_FP8, ENGINE_ATTN_FUSED, false, 0};
    r = engine_attention(&c, &odd);
    assert_true(isfinite(r.seconds) && r.seconds > 0);
}

/* The same decode with a per-head kernel (TensorRT-LLM's pre-XQA masked
 * multi-head attention): each of the 32 query heads reads its KV head's
 * 4 MiB, four times the traffic of the grouped read, for the same FLOPs. */
static void attention_decode_per_head(void **state)
{
    (void)state;
    hw_chip h = load("h100-sxm");
    engine_attention_op op = {1, 32, 8, 1, 8192, 128, true, false, USIM_BF16,
                              ENGINE_ATTN_PER_HEAD, false, 0};
    engine_cost r = engine_attention(&h, &op);
    double kv_head = 2 * 8192 * 128 * 2.0, q = 32 * (128 * 2 * 2 + 4.0);
    assert_close(r.bytes, 32 * kv_head + q, 1e-15);
    assert_close(r.flops, 4.0 * 128 * 32 * 8192, 1e-15);
    assert_int_equal(r.bound, ENGINE_BOUND_MEMORY);
    op.kernel = ENGINE_ATTN_FUSED;
    assert_true(engine_attention(&h, &op).seconds < r.seconds);
}

/* Unfused attention (Megatron-LM 2021) on A100: 24 heads of 96 over 2,048
 * tokens. Forward = two batched GEMMs (QK^T, PV) + a softmax pass reading
 * and writing every fp16 score + a dropout pass (read, write, 1-byte mask);
 * backward = four GEMMs + the dropout and softmax gradient passes (3 score
 * reads or writes). Each piece is its own kernel, so times add. */
static void attention_unfused(void **state)
{
    (void)state;
    hw_chip a = load("a100-80gb");
    engine_attention_op op = {1, 24, 24, 2048, 2048, 96, true, false, USIM_FP16,
                              ENGINE_ATTN_UNFUSED, true, 0};
    double scores = 24.0 * 2048 * 2048;
    engine_gemm_op qk = {2048, 96, 2048, 24, USIM_FP16}, pv = {2048, 2048, 96, 24, USIM_FP16};
    engine_vector_op softmax = {scores, 5, scores * 4, ENGINE_VECTOR};
    engine_vector_op dropout = {scores, 2, scores * 5, ENGINE_VECTOR};
    engine_cost parts[4] = {engine_gemm(&a, &qk), engine_gemm(&a, &pv),
                            engine_vector(&a, &softmax), engine_vector(&a, &dropout)};
    engine_cost r = engine_attention(&a, &op);
    double sum = parts[0].seconds + parts[1].seconds + parts[2].seconds + parts[3].seconds;
    assert_close(r.seconds, sum, 1e-12);
    assert_close(r.bytes, parts[0].bytes + parts[1].bytes + scores * 9, 1e-12);
    /* the whole score matrix is multiplied, but FLOPs count the causal half */
    assert_close(r.flops, 4.0 * 96 * 24 * (2048.0 * 2049 / 2), 1e-15);
    /* backward: dP = dO V^T (as QK^T), dV = P^T dO, dQ = dS K (as PV), dK = dS^T Q */
    op.backward = true;
    engine_gemm_op dv = {2048, 2048, 96, 24, USIM_FP16};
    engine_vector_op softmax_grad = {scores, 4, scores * 6, ENGINE_VECTOR};
    double back = parts[0].seconds + 2 * engine_gemm(&a, &dv).seconds + parts[1].seconds +
                  engine_vector(&a, &softmax_grad).seconds + parts[3].seconds;
    assert_close(engine_attention(&a, &op).seconds, back, 1e-12);
    /* without dropout, no dropout pass; fused attention is far cheaper */
    op.backward = false;
    op.dropout = false;
    assert_close(engine_attention(&a, &op).seconds,
                 parts[0].seconds + parts[1].seconds + parts[2].seconds, 1e-12);
    op.kernel = ENGINE_ATTN_FUSED;
    assert_true(engine_attention(&a, &op).seconds < 0.5 * r.seconds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vector_roofline),  cmocka_unit_test(dma_bounds_trainium_memory),
        cmocka_unit_test(layers),
        cmocka_unit_test(memory),           cmocka_unit_test(attention_prefill),
        cmocka_unit_test(attention_decode), cmocka_unit_test(attention_decode_per_head),
        cmocka_unit_test(attention_window),
        cmocka_unit_test(attention_unfused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
