/*
 * Hardware presets and their derived figures, against the seed's published
 * numbers (AWS Trn2 instance and UltraServer tables) and first-principles
 * closed forms.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "support.h"
#include "ultrasim/hw.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

/* trn2.48xlarge: 16 chips, 20.8 PFLOPS dense FP8, 1.5 TB (1,536 GiB), 46.4 TB/s */
static void trn2_instance_matches_aws(void **state)
{
    (void)state;
    hw_system s = load_system("trn2.48xlarge", 0);
    hw_totals t = hw_derive(&s);
    assert_int_equal(t.chips, 16);
    assert_close(t.dense_flops.fp8, 20.8e15, 1e-9);
    assert_close(t.dense_flops.bf16, 10.7e15, 1e-9);
    assert_close(t.dense_flops.fp32, 2.9e15, 1e-9);
    assert_close(t.hbm_bytes, 1536 * GIB, 1e-12);
    assert_close(t.hbm_bytes_per_s, 46.4e12, 1e-12);
    assert_close(t.scaleup_bytes_per_s_per_chip, 1024e9, 1e-12);
    assert_close(t.scaleout_bits_per_s_per_chip, 200e9, 1e-12);
}

/* trn2u.48xlarge: 64 chips, 83.2 PFLOPS dense FP8, 6 TB HBM, 185.6 TB/s,
 * 1,280 GB/s NeuronLink per chip (1,024 in the instance + 256 in Z). */
static void trn2_ultraserver_matches_aws(void **state)
{
    (void)state;
    hw_system s = load_system("trn2u.48xlarge", 0);
    hw_totals t = hw_derive(&s);
    assert_int_equal(t.chips, 64);
    assert_int_equal(t.nodes, 4);
    assert_int_equal(t.domains, 1);
    assert_close(t.dense_flops.fp8, 83.2e15, 1e-9);
    assert_close(t.dense_flops.bf16, 42.8e15, 1e-9);
    assert_close(t.dense_flops.fp32, 11.6e15, 1e-9);
    assert_close(t.hbm_bytes, 6144 * GIB, 1e-12);
    assert_close(t.hbm_bytes_per_s, 185.6e12, 1e-12);
    assert_close(t.scaleup_bytes_per_s_per_chip, 1280e9, 1e-12);
    /* The published system figures match the derived ones. */
    assert_close(s.published.dense_flops.fp8, t.dense_flops.fp8, 1e-9);
    assert_close(s.published.hbm_bytes_per_s, t.hbm_bytes_per_s, 1e-9);
}

/* First principles: 128 x 128 PEs x 2 FLOP x 2.4 GHz = 78.64 TFLOPS BF16 per
 * NeuronCore; FP8 double-row doubles it; FP32 runs at a quarter. */
static void trn2_array_peak_from_geometry(void **state)
{
    (void)state;
    hw_chip c;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_chip("trn2", &c, &err), USIM_OK);
    double core_bf16 = 128.0 * 128.0 * 2.0 * 2.4e9;
    assert_close(hw_core_matrix_flops(&c, USIM_BF16), core_bf16, 1e-12);
    assert_close(hw_core_matrix_flops(&c, USIM_FP8), 2 * core_bf16, 1e-12);
    assert_close(hw_core_matrix_flops(&c, USIM_FP32), core_bf16 / 4, 1e-12);
    /* The documented chip figure (667) is about 6% above 8 cores x 78.6 = 629. */
    assert_close(c.published_chip_flops.bf16 / (8 * core_bf16), 667.0 / 629.1456, 1e-6);
}

/* A quarter of a Trn2 chip (one of its 4 logical cores under LNC 2): 2 of
 * its 8 physical cores, 24 of its 96 GiB and a quarter of its 2.9 TB/s and
 * of its FLOPS; each core's own rate is unchanged. */
static void trn2_quarter_chip(void **state)
{
    (void)state;
    hw_chip c;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_chip("trn2", &c, &err), USIM_OK);
    hw_chip q = hw_chip_part(&c, 4);
    assert_int_equal(q.cores, 2);
    assert_close(q.hbm.capacity_bytes, 96.0 * 1024 * 1024 * 1024 / 4, 1e-12);
    assert_close(q.hbm.bandwidth_bytes_per_s, 2.9e12 / 4, 1e-12);
    assert_close(q.dense_flops.bf16, c.dense_flops.bf16 / 4, 1e-12);
    assert_close(q.dma.bandwidth_bytes_per_s / q.cores, c.dma.bandwidth_bytes_per_s / c.cores,
                 1e-12);
    assert_close(hw_core_matrix_flops(&q, USIM_BF16), hw_core_matrix_flops(&c, USIM_BF16), 1e-12);
    assert_close(q.power_w, c.power_w, 1e-12);
}

/* H100 SXM: 132 SMs x 4 tensor cores x 512 MACs x 2 x 1.83 GHz = 989.4 TFLOPS. */
static void h100_array_peak_matches_datasheet(void **state)
{
    (void)state;
    hw_system s = load_system("dgx-h100", 0);
    hw_totals t = hw_derive(&s);
    assert_int_equal(t.chips, 8);
    assert_close(t.array_flops.bf16 / 8, 989.4e12, 1e-3);
    assert_close(t.dense_flops.fp8 / 8, 1978.9e12, 1e-9);
    assert_close(hw_node_bandwidth_per_direction(&s), 450e9, 1e-12);
    assert_close(t.scaleout_bits_per_s_per_chip, 400e9, 1e-12);
}

static void sizes_by_chips(void **state)
{
    (void)state;
    hw_system s = load_system("trn2u.48xlarge", 1024);
    hw_totals t = hw_derive(&s);
    assert_int_equal(t.chips, 1024);
    assert_int_equal(t.nodes, 64);
    assert_int_equal(t.domains, 16);
    assert_close(t.dense_flops.fp8, 1024 * 1300e12, 1e-9);
    s = load_system("trn2u.48xlarge", 16); /* one instance of an UltraServer */
    t = hw_derive(&s);
    assert_int_equal(t.domains, 1);
    assert_close(t.scaleup_bytes_per_s_per_chip, 1024e9, 1e-12);
}

static void rejects_partial_nodes(void **state)
{
    (void)state;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_system("trn2.48xlarge", 24, NULL, &s, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "multiple of 16"));
    assert_int_equal(hw_load_system("trn2", 2, NULL, &s, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "single chip"));
}

static void network_override(void **state)
{
    (void)state;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_system("dgx-h100", 64, "roce-400g", &s, &err), USIM_OK);
    assert_string_equal(s.network.name, "roce-400g");
    assert_int_equal(s.network.tiers, 3);
    assert_close(s.network.port_bandwidth, 50e9, 1e-12);
}

static void every_preset_loads(void **state)
{
    (void)state;
    size_t n = hw_preset_count();
    assert_true(n >= 31);
    for (size_t i = 0; i < n; i++) {
        hw_preset_info info;
        usim_error err;
        usim_error_clear(&err);
        assert_int_equal(hw_preset_at(i, &info, &err), USIM_OK);
        int kind = -1;
        assert_int_equal(hw_kind_of(info.name, &kind, &err), USIM_OK);
        assert_int_equal(kind, info.kind);
        if (kind == HW_KIND_NETWORK) {
            hw_network net;
            if (hw_load_network(info.name, &net, &err) != USIM_OK)
                fail_msg("%s: %s", info.name, err.message);
            continue;
        }
        hw_system s;
        if (hw_load_system(info.name, 0, NULL, &s, &err) != USIM_OK)
            fail_msg("%s: %s", info.name, err.message);
        assert_true(s.chip.dense_flops.bf16 > 0);
        assert_true(s.chip.hbm.capacity_bytes > 0);
    }
}

/* Every figure of the Trn2 chip preset cites where it comes from. */
static void trn2_figures_are_cited(void **state)
{
    (void)state;
    char *text = NULL;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_sources_json("trn2u.48xlarge", &text, &err), USIM_OK);
    const char *keys[] = {"chip.hbm.bandwidth", "chip.matrix.clock", "chip.dense_flops.fp8",
                          "node.bandwidth_per_chip", "scaleup_domain.bandwidth_per_chip"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(text, keys[i]))
            fail_msg("no source for %s", keys[i]);
    free(text);
}

/* A figure with a note or derivation and no citation is listed as an assumption,
 * with its note; a cited one is not (a100-80gb's matrix.efficiency borrows H100's). */
static void uncited_figures_are_assumptions(void **state)
{
    (void)state;
    char *text = NULL;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_sources_json("a100-80gb", &text, &err), USIM_OK);
    json_t *all = json_loads(text, 0, NULL);
    free(text);
    json_t *eff = json_object_get(all, "matrix.efficiency");
    assert_true(json_is_true(json_object_get(eff, "assumption")));
    assert_string_equal(json_string_value(json_object_get(eff, "note")),
                        "the H100 figure (no measured A100 figure was found)");
    assert_non_null(json_object_get(eff, "derived"));
    json_t *clock = json_object_get(all, "matrix.clock");
    assert_true(json_is_false(json_object_get(clock, "assumption")));
    assert_non_null(strstr(json_string_value(json_object_get(clock, "source")), "1,410 MHz"));
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trn2_instance_matches_aws),
        cmocka_unit_test(trn2_ultraserver_matches_aws),
        cmocka_unit_test(trn2_array_peak_from_geometry),
        cmocka_unit_test(trn2_quarter_chip),
        cmocka_unit_test(h100_array_peak_matches_datasheet),
        cmocka_unit_test(sizes_by_chips),
        cmocka_unit_test(rejects_partial_nodes),
        cmocka_unit_test(network_override),
        cmocka_unit_test(every_preset_loads),
        cmocka_unit_test(trn2_figures_are_cited),
        cmocka_unit_test(uncited_figures_are_assumptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
