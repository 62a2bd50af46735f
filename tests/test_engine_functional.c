/* The functional model: real numbers through the PEs. Bit-exact on integers,
 * within rounding on random floats, the hardware's input rounding, and its
 * cycle count equal to the analytic model's on 1,000+ random shapes. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/engine.h"

static unsigned next(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A plain matmul, summing in k order in double. */
static void reference(const float *a, const float *b, double *c, int64_t m, int64_t k, int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)a[i * k + p] * (double)b[p * n + j];
            c[i * n + j] = s;
        }
}

static void fill_ints(float *x, size_t count, unsigned *seed)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)((int)(next(seed) % 17) - 8); /* -8..8: exact in every format */
}

static void run(int rows, int cols, engine_dataflow df, int64_t m, int64_t k, int64_t n,
                engine_number t, const float *a, const float *b, float *c,
                engine_array_cycles *stats)
{
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(engine_functional_gemm(rows, cols, df, m, k, n, t, a, b, c, stats, &err),
                     USIM_OK);
}

static void bit_exact_on_integers(void **state)
{
    (void)state;
    unsigned seed = 7;
    int64_t m = 13, k = 21, n = 9;
    float a[13 * 21], b[21 * 9], c[13 * 9];
    double ref[13 * 9];
    fill_ints(a, sizeof a / sizeof a[0], &seed);
    fill_ints(b, sizeof b / sizeof b[0], &seed);
    reference(a, b, ref, m, k, n);
    engine_number formats[] = {ENGINE_NUM_FP32, ENGINE_NUM_BF16, ENGINE_NUM_FP8_E4M3,
                               ENGINE_NUM_FP8_E5M2};
    for (int df = 0; df < 3; df++)
        for (int f = 0; f < 4; f++) {
            engine_array_cycles s;
            run(4, 5, (engine_dataflow)df, m, k, n, formats[f], a, b, c, &s);
            for (int i = 0; i < m * n; i++)
                assert_true(c[i] == (float)ref[i]);
        }
}

/* fp32 inputs, random in [-1, 1): the only error is fp32 summation, bounded
 * by K x eps x sum |a b| (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2002, sec. 3.1). bf16 inputs: the reference rounds the inputs
 * to bf16 first, then the same bound holds. */
static void within_rounding_on_floats(void **state)
{
    (void)state;
    unsigned seed = 99;
    int64_t m = 17, k = 40, n = 11;
    float a[17 * 40], b[40 * 11], ar[17 * 40], br[40 * 11], c[17 * 11];
    double ref[17 * 11], mag[17 * 11];
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        a[i] = (float)(next(&seed) % 65536) / 32768.0f - 1.0f;
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        b[i] = (float)(next(&seed) % 65536) / 32768.0f - 1.0f;
    for (int pass = 0; pass < 2; pass++) {
        engine_number t = pass ? ENGINE_NUM_BF16 : ENGINE_NUM_FP32;
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
            ar[i] = engine_round(t, a[i]);
        for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
            br[i] = engine_round(t, b[i]);
        reference(ar, br, ref, m, k, n);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                mag[i * n + j] = 0;
                for (int64_t p = 0; p < k; p++)
                    mag[i * n + j] += fabs((double)ar[i * k + p] * br[p * n + j]);
            }
        for (int df = 0; df < 3; df++) {
            engine_array_cycles s;
            run(8, 4, (engine_dataflow)df, m, k, n, t, a, b, c, &s);
            for (int i = 0; i < m * n; i++)
                assert_true(fabs((double)c[i] - ref[i]) <= (double)k * FLT_EPSILON * mag[i]);
        }
    }
}

static void rounds_as_hardware(void **state)
{
    (void)state;
    /* bf16: 8 significant bits; ties go to even */
    assert_true(engine_round(ENGINE_NUM_BF16, 1.0f + 0x1p-8f) == 1.0f);
    assert_true(engine_round(ENGINE_NUM_BF16, 1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    assert_true(engine_round(ENGINE_NUM_BF16, 1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    assert_true(isinf(engine_round(ENGINE_NUM_BF16, FLT_MAX)));
    assert_true(engine_round(ENGINE_NUM_BF16, 0x1p-133f) == 0x1p-133f); /* bf16 subnormal */
    /* fp16 */
    assert_true(engine_round(ENGINE_NUM_FP16, 65504.0f) == 65504.0f);
    assert_true(isinf(engine_round(ENGINE_NUM_FP16, 65520.0f))); /* the tie rounds up */
    assert_true(engine_round(ENGINE_NUM_FP16, 0x1p-24f) == 0x1p-24f);
    assert_true(engine_round(ENGINE_NUM_FP16, 0x1p-26f) == 0.0f);
    /* tf32: 11 significant bits */
    assert_true(engine_round(ENGINE_NUM_TF32, 1.0f + 0x1p-11f) == 1.0f);
    assert_true(engine_round(ENGINE_NUM_TF32, 1.0f + 0x1p-10f) == 1.0f + 0x1p-10f);
    /* e4m3: max 448, min subnormal 2^-9, saturating */
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 448.0f) == 448.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 1000.0f) == 448.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, -INFINITY) == -448.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 0x1p-9f) == 0x1p-9f);
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 0x1p-11f) == 0.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 1.0625f) == 1.0f);  /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 1.1875f) == 1.25f); /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP8_E4M3, 17.5f) == 18.0f);
    /* e5m2: max 57344, min subnormal 2^-16 */
    assert_true(engine_round(ENGINE_NUM_FP8_E5M2, 57344.0f) == 57344.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E5M2, 1e6f) == 57344.0f);
    assert_true(engine_round(ENGINE_NUM_FP8_E5M2, 0x1p-16f) == 0x1p-16f);
    assert_true(engine_round(ENGINE_NUM_FP8_E5M2, 1.125f) == 1.0f); /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP8_E5M2, 1.375f) == 1.5f);
    /* e2m1 (the FP4 element): 0, 0.5, 1, 1.5, 2, 3, 4, 6; saturating */
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 6.0f) == 6.0f);
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 100.0f) == 6.0f);
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, -7.0f) == -6.0f);
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 5.0f) == 4.0f);   /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 2.6f) == 3.0f);
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 0.75f) == 1.0f);  /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 0.25f) == 0.0f);  /* tie to even */
    assert_true(engine_round(ENGINE_NUM_FP4_E2M1, 0.3f) == 0.5f);   /* subnormal */
    /* NaN stays NaN, signs survive, fp32 is untouched */
    assert_true(isnan(engine_round(ENGINE_NUM_FP8_E4M3, NAN)));
    assert_true(engine_round(ENGINE_NUM_BF16, -3.0f) == -3.0f);
    assert_true(engine_round(ENGINE_NUM_FP32, 0.1f) == 0.1f);
    engine_number t;
    assert_true(engine_number_parse("e5m2", &t) && t == ENGINE_NUM_FP8_E5M2);
    assert_true(engine_number_parse("fp8", &t) && t == ENGINE_NUM_FP8_E4M3);
    assert_false(engine_number_parse("fp4", &t));
    assert_int_equal(engine_number_of(USIM_BF16), ENGINE_NUM_BF16);
}

/* The property: on 1,200 random shapes and arrays (each dataflow 400 times),
 * what the PEs counted equals the closed forms, and the product is exact. */
static void cycles_equal_analytic(void **state)
{
    (void)state;
    unsigned seed = 2024;
    enum { MAXD = 24 };
    float a[MAXD * MAXD], b[MAXD * MAXD], c[MAXD * MAXD];
    double ref[MAXD * MAXD];
    for (int i = 0; i < 1200; i++) {
        int rows = 1 + (int)(next(&seed) % 8), cols = 1 + (int)(next(&seed) % 8);
        int64_t m = 1 + next(&seed) % MAXD, k = 1 + next(&seed) % MAXD, n = 1 + next(&seed) % MAXD;
        engine_dataflow df = (engine_dataflow)(i % 3);
        fill_ints(a, (size_t)(m * k), &seed);
        fill_ints(b, (size_t)(k * n), &seed);
        engine_array_cycles s, x = engine_array_gemm(rows, cols, df, m, k, n, false);
        run(rows, cols, df, m, k, n, ENGINE_NUM_BF16, a, b, c, &s);
        assert_close(s.cycles, x.cycles, 0);
        assert_int_equal(s.row_folds, x.row_folds);
        assert_int_equal(s.col_folds, x.col_folds);
        assert_close(s.macs, x.macs, 0);
        assert_close(s.mapping_efficiency, x.mapping_efficiency, 1e-12);
        assert_close(s.compute_utilisation, x.compute_utilisation, 1e-12);
        assert_close(s.fold_utilisation, x.fold_utilisation, 1e-12);
        assert_close(s.fold_cycles, x.fold_cycles, 0);
        assert_close(s.fill_drain_cycles, x.fill_drain_cycles, 0);
        assert_close(s.reads_a, x.reads_a, 0);
        assert_close(s.reads_b, x.reads_b, 0);
        assert_close(s.writes_c, x.writes_c, 0);
        reference(a, b, ref, m, k, n);
        for (int j = 0; j < m * n; j++)
            assert_true(c[j] == (float)ref[j]);
    }
}

static void rejects_bad_sizes(void **state)
{
    (void)state;
    float a[1] = {1}, b[1] = {1}, c[1];
    engine_array_cycles s;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(engine_functional_gemm(0, 4, ENGINE_WS, 1, 1, 1, ENGINE_NUM_BF16, a, b, c,
                                            &s, &err),
                     USIM_EINPUT);
    assert_non_null(strstr(err.message, "at least 1"));
    assert_int_equal(engine_functional_gemm(4, 4, ENGINE_OS, 1, -3, 1, ENGINE_NUM_BF16, a, b, c,
                                            &s, &err),
                     USIM_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bit_exact_on_integers),
        cmocka_unit_test(within_rounding_on_floats),
        cmocka_unit_test(rounds_as_hardware),
        cmocka_unit_test(cycles_equal_analytic),
        cmocka_unit_test(rejects_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
