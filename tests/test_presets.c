/*
 * The AWS GPU instance presets and the GB200 NVL72 rack, against figures
 * derived by hand from the published specifications:
 *
 *   instance     GPUs  EFA per instance        per GPU    HBM per GPU        NVLink per GPU
 *   p4d          8     4 x 100 =   400 Gbps     50 Gbps   40 GiB, 1,555 GB/s   600 GB/s
 *   p4de         8     4 x 100 =   400 Gbps     50 Gbps   80 GiB, 2,039 GB/s   600 GB/s
 *   p5           8    32 x 100 = 3,200 Gbps    400 Gbps   80 GiB, 3.35 TB/s    900 GB/s
 *   p5en         8    16 x 200 = 3,200 Gbps    400 Gbps  140 GiB, 4.8 TB/s     900 GB/s
 *   p6-b200      8     8 x 400 = 3,200 Gbps    400 Gbps  180 GB,  8 TB/s      1.8 TB/s
 *   gb200-nvl72  72 on one NVLink switch (18 trays of 4), InfiniBand 400 Gbps per GPU,
 *                186 GB, 8 TB/s, 1.8 TB/s
 *   gb300-nvl72  the same rack of Blackwell Ultra GPUs, XDR InfiniBand 800 Gbps per GPU,
 *                288 GB, 8 TB/s, 1.8 TB/s; 5 PFLOPS FP8 and 15 FP4 dense a GPU (360 PFLOPS
 *                and 1.08 EFLOPS a rack)
 *
 * Bytes/s are bits/s / 8; NVLink is counted in both directions, half each way.
 * Prices are the on-demand instance-hour / 8, kept to a tenth of a cent.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/hw.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define GBPS (1e9 / 8.0) /* one Gb/s in bytes/s */

typedef struct preset_case {
    const char *name;
    int chips, chips_per_node, chips_per_domain;
    int hosts_per_node;          /* what the per-host failure rates count */
    double nic_gbps_per_chip;    /* Gb/s into the scale-out network */
    double nvlink_bytes_per_s;   /* per chip, both directions */
    double hbm_bytes_per_chip, hbm_bytes_per_s_per_chip;
    const char *network;
    double port_gbps;            /* the network's switch ports */
    double usd_per_instance_hour; /* NAN: no public price */
} preset_case;

static const preset_case CASES[] = {
    {"p4d.24xlarge", 8, 8, 8, 1, 50, 600e9, 40 * GIB, 1555e9, "efa-v2", 100, 21.958},
    {"p4de.24xlarge", 8, 8, 8, 1, 50, 600e9, 80 * GIB, 2039e9, "efa-v2", 100, 27.447},
    {"p5.48xlarge", 8, 8, 8, 1, 400, 900e9, 80 * GIB, 3.35e12, "efa-v2", 100, 55.04},
    {"p5en.48xlarge", 8, 8, 8, 1, 400, 900e9, 140 * GIB, 4.8e12, "efa-v3", 200, 63.296},
    /* the B200 of 180 GB: 7.67 TB/s from its driver-reported 7,680-bit bus
     * (pytorch/ao PR 4002), not the datasheet's rounded 8 */
    {"p6-b200.48xlarge", 8, 8, 8, 1, 400, 1.8e12, 180e9, 7.67e12, "efa-v4", 400, 113.93},
    {"gb200-nvl72", 72, 72, 72, 18, 400, 1.8e12, 186e9, 8e12, "ib-ndr", 400, NAN},
    {"gb300-nvl72", 72, 72, 72, 18, 800, 1.8e12, 288e9, 8e12, "ib-xdr", 800, NAN},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static void presets_match_their_specifications(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const preset_case *c = &CASES[i];
        print_message("%s\n", c->name);
        hw_system s = load_system(c->name, 0);
        hw_totals t = hw_derive(&s);
        assert_int_equal(t.chips, c->chips);
        assert_int_equal(s.node.chips, c->chips_per_node);
        assert_int_equal(t.nodes, c->chips / c->chips_per_node);
        assert_int_equal(t.chips_per_domain, c->chips_per_domain);
        assert_int_equal(t.domains, 1);
        assert_int_equal(s.node.topology.kind, HW_TOPO_SWITCH);
        /* Scale-out: per chip in bits and bytes, and per node. */
        assert_close(t.scaleout_bits_per_s_per_chip, c->nic_gbps_per_chip * 1e9, 1e-12);
        assert_close(s.node.nic_bandwidth_per_chip, c->nic_gbps_per_chip * GBPS, 1e-12);
        assert_close(s.node.nic_bandwidth_per_chip * c->chips_per_node,
                     c->nic_gbps_per_chip * c->chips_per_node * GBPS, 1e-12);
        /* Scale-up inside a node. */
        assert_close(s.node.bandwidth_per_chip, c->nvlink_bytes_per_s, 1e-12);
        assert_close(hw_node_bandwidth_per_direction(&s), c->nvlink_bytes_per_s / 2, 1e-12);
        /* Memory. */
        assert_close(t.hbm_bytes, c->chips * c->hbm_bytes_per_chip, 1e-12);
        assert_close(t.hbm_bytes_per_s, c->chips * c->hbm_bytes_per_s_per_chip, 1e-12);
        /* Network and price. */
        assert_string_equal(s.network.name, c->network);
        assert_close(s.network.port_bandwidth, c->port_gbps * GBPS, 1e-12);
        if (isnan(c->usd_per_instance_hour)) {
            assert_true(isnan(s.price.usd_per_chip_hour));
            assert_non_null(hw_no_price_reason(&s));
        } else {
            assert_int_equal(s.price.basis, HW_PRICE_ON_DEMAND);
            assert_close(s.price.usd_per_chip_hour * 8, c->usd_per_instance_hour, 1e-4);
        }
        /* The DGX presets' failure rates (Llama 3 paper, table 5), per GPU
         * and per host: 17,331 and 23,736 FIT a host. */
        assert_close(s.reliability.chip_fit, 9230.6, 1e-9);
        assert_close(s.reliability.host_fit, 17331.0 * c->hosts_per_node, 1e-9);
        assert_close(s.reliability.software_fit, 23736.0 * c->hosts_per_node, 1e-9);
    }
}

/* No preset has a scale-up domain beyond the node: the scale-up figure is
 * NVLink alone, and two nodes are joined by the scale-out network. */
static void systems_grow_by_whole_nodes(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        hw_system s = load_system(CASES[i].name, 2 * CASES[i].chips_per_node);
        hw_totals t = hw_derive(&s);
        assert_int_equal(t.nodes, 2);
        assert_int_equal(t.domains, 2);
        assert_close(t.scaleup_bytes_per_s_per_chip, CASES[i].nvlink_bytes_per_s, 1e-12);
    }
}

/* GB200 NVL72: the node is the whole NVLink domain (72 GPUs on one switch),
 * since a tray's 4 GPUs reach each other through the same ports as the other
 * 68; its hosts are the 18 trays': 36 Grace CPUs of 72 cores. */
static void gb200_nvl72_is_one_nvlink_switch(void **state)
{
    (void)state;
    hw_system s = load_system("gb200-nvl72", 0);
    assert_int_equal(s.domain.nodes, 1);
    assert_close(hw_node_bandwidth_per_direction(&s), 900e9, 1e-12);
    assert_int_equal(s.node.host_vcpus, 36 * 72);
    assert_close(s.node.host_memory_bytes, 36 * 480e9, 1e-12);
    /* NVIDIA's per-GPU figures add up to its rack figures: 72 x 5 PFLOPS FP8
     * dense = 360 (720 with sparsity); 72 x 186 GB = 13.39 TB ("13.4 TB"). */
    hw_totals r = hw_derive(&s);
    assert_close(r.dense_flops.fp8, 360e15, 1e-12);
    assert_close(r.dense_flops.fp8, s.published.dense_flops.fp8, 1e-12);
    assert_close(r.array_flops.fp8, 360e15, 1e-3); /* 148 SMs at the derived 2.062 GHz */
    assert_close(r.hbm_bytes, s.published.hbm_bytes, 0.01);
    assert_close(r.power_w, 72 * 1200.0, 1e-12);
}

/* A job takes whole trays of 4: 128 GPUs are two racks of 64 (their NVLink
 * domains are 64 wide, so a 128-rank group crosses InfiniBand); 144 two full
 * racks; 100 does not split into whole trays evenly and is refused. */
static void gb200_jobs_take_whole_trays(void **state)
{
    (void)state;
    hw_system s = load_system("gb200-nvl72", 128);
    assert_int_equal(s.node.chips, 64);
    assert_int_equal(hw_derive(&s).domains, 2);
    s = load_system("gb200-nvl72", 144);
    assert_int_equal(s.node.chips, 72);
    s = load_system("gb200-nvl72", 64);
    assert_int_equal(s.node.chips, 72);
    expect_input_error("collective --hw gb200-nvl72 --chips 100 --size 1MiB",
                       "100 chips neither fill whole gb200-nvl72 nodes of 72 chips nor split "
                       "evenly into units of 4 over the fewest nodes; use a multiple of 72, or "
                       "e.g. 144");
}

/* The bus bandwidth a `collective ... --json` command reports. */
static double collective_busbw(const char *args)
{
    json_t *j = cli_json(args);
    double busbw = json_number_value(json_object_get(j, "busbw_bytes_per_s"));
    json_decref(j);
    return busbw;
}

/* A 72-GPU all-reduce cannot beat NVLink: 1 GiB per rank, bus bandwidth at
 * most 900 GB/s each way x 0.822 (link_efficiency) = 739.8 GB/s; the mesh
 * algorithm reaches it less its latency, 2 switch hops of 2.4 us:
 * 2 x 71/72 x 2^30 B / 739.8 GB/s = 2.862 ms, + 4.8 us = 2.867 ms, 738.6 GB/s. */
static void gb200_nvl72_all_reduce_is_bound_by_nvlink(void **state)
{
    (void)state;
    double busbw = collective_busbw("collective --hw gb200-nvl72 --size 1GiB --json");
    assert_true(busbw <= 900e9 * 0.822);
    double bus_bytes = 2.0 * 71 / 72 * 1073741824.0;
    assert_close(busbw, bus_bytes / (bus_bytes / 739.8e9 + 4.8e-6), 1e-3);
}

/* The H800 is the H100's die with 8 of its 18 NVLinks: the same dense
 * FLOPS, and an 8-GPU ring all-reduce of 1 GiB bound by 400 GB/s both ways,
 * 200 x 0.822 (link_efficiency) = 164.4 GB/s a direction (the DeepSeek-V3
 * report measures 160), within 1% of it once the ring's latency is paid. */
static void h800_is_an_h100_with_less_nvlink(void **state)
{
    (void)state;
    hw_system s = load_system("dgx-h800", 0), h = load_system("dgx-h100", 0);
    assert_close(hw_per_dtype_get(&s.chip.dense_flops, USIM_BF16),
                 hw_per_dtype_get(&h.chip.dense_flops, USIM_BF16), 1e-12);
    double busbw = collective_busbw("collective --hw dgx-h800 --size 1GiB --algo ring --json");
    assert_true(busbw <= 200e9 * 0.822);
    assert_close(busbw, 200e9 * 0.822, 1e-2);
}

/* p4d's A100 40GB is the 80GB part's compute with HBM2 at 1,555 GB/s. */
/* Blackwell Ultra runs FP4 at three times its FP8 rate and exponentials at
 * twice Blackwell's: 160 SMs x 4 x 1,024 MACs x 6 x 2 FLOPs x 1.907 GHz =
 * 15 PFLOPS FP4 a GPU, 1.08 EFLOPS for 72, against FP8's 360 PFLOPS. */
static void gb300_is_blackwell_ultra(void **state)
{
    (void)state;
    hw_system s = load_system("gb300-nvl72", 0), g = load_system("gb200-nvl72", 0);
    assert_close(hw_per_dtype_get(&s.chip.dense_flops, USIM_FP4), 15e15, 1e-12);
    assert_close(hw_per_dtype_get(&s.chip.dense_flops, USIM_FP8), 5e15, 1e-12);
    assert_close(160.0 * 4 * 1024 * 6 * 2 * s.chip.matrix.clock_hz, 15e15, 1e-3);
    assert_close(s.chip.vector.special_per_cycle, 2 * g.chip.vector.special_per_cycle, 1e-12);
    assert_close(s.chip.power_w, 1400.0, 1e-12);
}

static void a100_40gb_is_the_80gb_compute(void **state)
{
    (void)state;
    hw_system a = load_system("p4d.24xlarge", 0), b = load_system("p4de.24xlarge", 0);
    hw_totals ta = hw_derive(&a), tb = hw_derive(&b);
    assert_close(ta.dense_flops.bf16, 8 * 312e12, 1e-12);
    assert_close(ta.dense_flops.bf16, tb.dense_flops.bf16, 1e-12);
    assert_close(ta.array_flops.bf16, tb.array_flops.bf16, 1e-12);
    assert_int_equal(a.chip.hbm.stacks, 5);
}

/* hw show prints the figures above, and "n/a (no price ...)" for the rack. */
static void hw_show_prints_them(void **state)
{
    (void)state;
    cli_result r = cli_run("hw show p5en.48xlarge");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "8 (1 node of 8; 1 scale-up domain of 8)"));
    assert_non_null(strstr(r.out, "per chip                 400 Gbps"));
    assert_non_null(strstr(r.out, "efa-v3: 3-tier Clos, radix 64, 200 Gbps ports"));
    assert_non_null(strstr(r.out, "$7.91 per chip-hour (on-demand), $63.30 per hour"));
    cli_free(&r);
    r = cli_run("hw show gb200-nvl72");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "72 (1 node of 72; 1 scale-up domain of 72)"));
    assert_non_null(strstr(r.out, "price                    n/a (no price"));
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presets_match_their_specifications),
        cmocka_unit_test(systems_grow_by_whole_nodes),
        cmocka_unit_test(gb200_nvl72_is_one_nvlink_switch),
        cmocka_unit_test(gb200_nvl72_all_reduce_is_bound_by_nvlink),
        cmocka_unit_test(gb200_jobs_take_whole_trays),
        cmocka_unit_test(gb300_is_blackwell_ultra),
        cmocka_unit_test(a100_40gb_is_the_80gb_compute),
        cmocka_unit_test(h800_is_an_h100_with_less_nvlink),
        cmocka_unit_test(hw_show_prints_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
