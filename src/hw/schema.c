/*
 * The hardware description's JSON schema: every key a chip, system or network
 * file may hold, its unit and its allowed range. Ranges are wide enough for
 * any real or plausible "what if" machine and narrow enough to catch a typo
 * (a 0-byte HBM, a 10^30 Hz clock). docs/hardware.md lists the same keys.
 */
#include <stddef.h>

#include "hw/internal.h"

#define U_B USIM_UNIT_BYTES
#define U_BPS USIM_UNIT_BYTES_PER_S
#define U_S USIM_UNIT_SECONDS
#define U_HZ USIM_UNIT_HERTZ
#define U_F USIM_UNIT_FLOPS
#define U_W USIM_UNIT_WATTS
#define U_1 USIM_UNIT_NONE

#define KIB 1024.0
#define GIB (1024.0 * 1024.0 * 1024.0)
#define TIB (1024.0 * GIB)
#define PIB (1024.0 * TIB)

static const usim_field PER_DTYPE_MACS[] = {
    USIM_NUM("fp8", hw_per_dtype, fp8, U_1, 0, 64, false),
    USIM_NUM("bf16", hw_per_dtype, bf16, U_1, 0, 64, false),
    USIM_NUM("fp16", hw_per_dtype, fp16, U_1, 0, 64, false),
    USIM_NUM("tf32", hw_per_dtype, tf32, U_1, 0, 64, false),
    USIM_NUM("fp32", hw_per_dtype, fp32, U_1, 0, 64, false),
    USIM_NUM("fp4", hw_per_dtype, fp4, U_1, 0, 64, false),
};
static const usim_schema PER_DTYPE_MACS_SCHEMA = USIM_SCHEMA("MACs per PE per cycle",
                                                             PER_DTYPE_MACS);

/* Per chip: 1 EFLOPS is far beyond any chip (B200 is 4.5 PFLOPS dense FP8). */
static const usim_field PER_DTYPE_FLOPS[] = {
    USIM_NUM("fp8", hw_per_dtype, fp8, U_F, 0, 1e18, false),
    USIM_NUM("bf16", hw_per_dtype, bf16, U_F, 0, 1e18, false),
    USIM_NUM("fp16", hw_per_dtype, fp16, U_F, 0, 1e18, false),
    USIM_NUM("tf32", hw_per_dtype, tf32, U_F, 0, 1e18, false),
    USIM_NUM("fp32", hw_per_dtype, fp32, U_F, 0, 1e18, false),
    USIM_NUM("fp4", hw_per_dtype, fp4, U_F, 0, 1e18, false),
};
static const usim_schema PER_DTYPE_FLOPS_SCHEMA = USIM_SCHEMA("dense FLOP/s per dtype",
                                                              PER_DTYPE_FLOPS);

/* Systems of up to millions of chips: 10^24 FLOP/s bounds their totals. */
static const usim_field SYSTEM_FLOPS[] = {
    USIM_NUM("fp8", hw_per_dtype, fp8, U_F, 0, 1e24, false),
    USIM_NUM("bf16", hw_per_dtype, bf16, U_F, 0, 1e24, false),
    USIM_NUM("fp16", hw_per_dtype, fp16, U_F, 0, 1e24, false),
    USIM_NUM("tf32", hw_per_dtype, tf32, U_F, 0, 1e24, false),
    USIM_NUM("fp32", hw_per_dtype, fp32, U_F, 0, 1e24, false),
    USIM_NUM("fp4", hw_per_dtype, fp4, U_F, 0, 1e24, false),
};
static const usim_schema SYSTEM_FLOPS_SCHEMA = USIM_SCHEMA("system FLOP/s", SYSTEM_FLOPS);

static const char *const MATRIX_KINDS[] = {"systolic", "tensor_core", NULL};

static const usim_field MATRIX[] = {
    USIM_ENUM("kind", hw_matrix, kind, MATRIX_KINDS, true),
    USIM_INT("rows", hw_matrix, rows, 1, 4096, true),
    USIM_INT("cols", hw_matrix, cols, 1, 4096, true),
    USIM_INT("arrays_per_core", hw_matrix, arrays_per_core, 1, 64, false),
    USIM_NUM("clock", hw_matrix, clock_hz, U_HZ, 1e6, 2e10, true),
    USIM_OBJ("macs_per_pe_per_cycle", hw_matrix, macs_per_pe, &PER_DTYPE_MACS_SCHEMA, true),
    USIM_BOOL("fp8_double_row", hw_matrix, fp8_double_row),
    USIM_INT("moving_free_max", hw_matrix, moving_free_max, 1, 65536, false),
    USIM_INT("issue_min_cycles", hw_matrix, issue_min_cycles, 0, 100000, false),
    USIM_NUM("stationary_load_speedup", hw_matrix, stationary_load_speedup, U_1, 1, 64, false),
    USIM_INT("tile_m", hw_matrix, tile_m, 1, 1024, false),
    USIM_INT("tile_n", hw_matrix, tile_n, 1, 1024, false),
    USIM_INT("tile_k", hw_matrix, tile_k, 1, 1024, false),
    USIM_INT("blocks_per_core", hw_matrix, blocks_per_core, 1, 64, false),
    USIM_NUM("efficiency", hw_matrix, efficiency, U_1, 0.05, 1, false),
    USIM_NUM("efficiency_fp8", hw_matrix, efficiency_fp8, U_1, 0.05, 1, false),
    USIM_NUM("efficiency_fp8_split_acc", hw_matrix, efficiency_fp8_split_acc, U_1, 0.05, 1, false),
    USIM_BOOL("fp8_any_layout", hw_matrix, fp8_any_layout),
    USIM_NUM("flash2_efficiency", hw_matrix, flash2_efficiency, U_1, 0.01, 1, false),
    USIM_NUM("flash2_efficiency_backward", hw_matrix, flash2_efficiency_backward, U_1, 0.01, 1,
             false),
    USIM_NUM("sustained", hw_matrix, sustained, U_1, 0.3, 1, false),
    USIM_NUM("softmax_overlap", hw_matrix, softmax_overlap, U_1, 0, 1, false),
    USIM_NUM("attention_tile_overhead", hw_matrix, attention_tile_overhead, U_1, 0, 64, false),
};
static const usim_schema MATRIX_SCHEMA = USIM_SCHEMA("matrix engine", MATRIX);

static const usim_field ENGINE[] = {
    USIM_NUM("clock", hw_engine, clock_hz, U_HZ, 1e6, 2e10, true),
    USIM_NUM("elements_per_cycle", hw_engine, elements_per_cycle, U_1, 1, 65536, true),
    USIM_NUM("fixed_overhead_cycles", hw_engine, fixed_overhead_cycles, U_1, 0, 1e6, false),
    USIM_NUM("special_per_cycle", hw_engine, special_per_cycle, U_1, 0, 65536, false),
};
static const usim_schema ENGINE_SCHEMA = USIM_SCHEMA("engine", ENGINE);

static const usim_field SRAM[] = {
    USIM_NUM("per_core", hw_sram, per_core_bytes, U_B, 1 * KIB, 1 * GIB, true),
    USIM_NUM("accumulator_per_core", hw_sram, accum_per_core_bytes, U_B, 0, 1 * GIB, false),
    USIM_NUM("shared", hw_sram, shared_bytes, U_B, 0, 16 * GIB, false),
};
static const usim_schema SRAM_SCHEMA = USIM_SCHEMA("on-chip SRAM", SRAM);

static const usim_field MEMORY[] = {
    USIM_NUM("capacity", hw_memory, capacity_bytes, U_B, 1024 * KIB, 100 * TIB, true),
    USIM_NUM("bandwidth", hw_memory, bandwidth_bytes_per_s, U_BPS, 1e9, 1e15, true),
    USIM_INT("stacks", hw_memory, stacks, 1, 64, false),
    USIM_NUM("efficiency", hw_memory, efficiency, U_1, 0.05, 1, false),
};
static const usim_schema MEMORY_SCHEMA = USIM_SCHEMA("HBM", MEMORY);

static const usim_field DMA[] = {
    USIM_INT("engines", hw_dma, engines, 1, 4096, true),
    USIM_NUM("bandwidth", hw_dma, bandwidth_bytes_per_s, U_BPS, 1e9, 1e15, true),
    USIM_NUM("fixed_latency", hw_dma, fixed_latency_s, U_S, 0, 1e-3, false),
};
static const usim_schema DMA_SCHEMA = USIM_SCHEMA("DMA", DMA);

static const usim_field CHIP[] = {
    USIM_DOC("kind"),
    USIM_STR("name", hw_chip, name, true),
    USIM_STR("vendor", hw_chip, vendor, false),
    USIM_STR("description", hw_chip, description, false),
    USIM_INT("cores", hw_chip, cores, 1, 1024, true),
    USIM_STR("core_name", hw_chip, core_name, false),
    USIM_INT("logical_core_size", hw_chip, logical_core_size, 1, 64, false),
    USIM_OBJ("matrix", hw_chip, matrix, &MATRIX_SCHEMA, true),
    USIM_OBJ("vector", hw_chip, vector, &ENGINE_SCHEMA, true),
    USIM_OBJ("scalar", hw_chip, scalar, &ENGINE_SCHEMA, false),
    USIM_OBJ("sram", hw_chip, sram, &SRAM_SCHEMA, true),
    USIM_OBJ("hbm", hw_chip, hbm, &MEMORY_SCHEMA, true),
    USIM_OBJ("dma", hw_chip, dma, &DMA_SCHEMA, false),
    USIM_NUM("power", hw_chip, power_w, U_W, 1, 1e5, true),
    USIM_NUM("power_limit", hw_chip, power_limit_w, U_W, 1, 1e5, false),
    USIM_NUM("launch_overhead", hw_chip, launch_overhead_s, U_S, 0, 1e-3, false),
    USIM_NUM("graph_efficiency", hw_chip, graph_efficiency, U_1, 0.05, 1, false),
    USIM_OBJ("dense_flops", hw_chip, dense_flops, &PER_DTYPE_FLOPS_SCHEMA, false),
    USIM_OBJ("published_chip_flops", hw_chip, published_chip_flops, &PER_DTYPE_FLOPS_SCHEMA,
             false),
    USIM_DOC("notes"),
};
const usim_schema hw_chip_schema = USIM_SCHEMA("chip", CHIP);

static const char *const TOPOLOGY_KINDS[] = {"none", "ring", "torus", "switch", "mesh", NULL};

static const usim_field TOPOLOGY[] = {
    USIM_ENUM("kind", hw_topology, kind, TOPOLOGY_KINDS, true),
    USIM_INTS("dims", hw_topology, dims, ndims, 1, 1024, false),
    USIM_DOC("note"),
};
static const usim_schema TOPOLOGY_SCHEMA = USIM_SCHEMA("topology", TOPOLOGY);

static const usim_field NODE[] = {
    USIM_INT("chips", hw_node, chips, 1, 1024, true),
    USIM_INT("chips_unit", hw_node, chips_unit, 0, 1024, false),
    USIM_OBJ("topology", hw_node, topology, &TOPOLOGY_SCHEMA, true),
    USIM_NUM("bandwidth_per_chip", hw_node, bandwidth_per_chip, U_BPS, 0, 1e14, true),
    USIM_BOOL("bidirectional", hw_node, bidirectional),
    USIM_INT("links_per_chip", hw_node, links_per_chip, 0, 256, false),
    USIM_NUM("hop_latency", hw_node, hop_latency_s, U_S, 0, 1e-3, true),
    USIM_NUM("nic_bandwidth_per_chip", hw_node, nic_bandwidth_per_chip, U_BPS, 0, 1e14, true),
    USIM_INT("host_vcpus", hw_node, host_vcpus, 0, 100000, false),
    USIM_NUM("host_launch_scale", hw_node, host_launch_scale, U_1, 0.1, 10, false),
    USIM_NUM("host_memory", hw_node, host_memory_bytes, U_B, 0, 1 * PIB, false),
    USIM_NUM("link_efficiency", hw_node, link_efficiency, U_1, 0.05, 1, false),
};
static const usim_schema NODE_SCHEMA = USIM_SCHEMA("node", NODE);

static const usim_field DOMAIN[] = {
    USIM_INT("nodes", hw_domain, nodes, 1, 4096, true),
    USIM_OBJ("topology", hw_domain, topology, &TOPOLOGY_SCHEMA, true),
    USIM_NUM("bandwidth_per_chip", hw_domain, bandwidth_per_chip, U_BPS, 0, 1e14, true),
    USIM_NUM("hop_latency", hw_domain, hop_latency_s, U_S, 0, 1e-3, true),
};
static const usim_schema DOMAIN_SCHEMA = USIM_SCHEMA("scale-up domain", DOMAIN);

static const char *const PRICE_BASES[] = {"on-demand", "estimate", NULL};

static const usim_field PRICE[] = {
    USIM_NUM("usd_per_chip_hour", hw_price, usd_per_chip_hour, U_1, 0, 1e4, true),
    USIM_ENUM("basis", hw_price, basis, PRICE_BASES, true),
};
static const usim_schema PRICE_SCHEMA = USIM_SCHEMA("price", PRICE);

static const usim_field PUBLISHED[] = {
    USIM_OBJ("dense_flops", hw_published, dense_flops, &SYSTEM_FLOPS_SCHEMA, false),
    USIM_NUM("hbm", hw_published, hbm_bytes, U_B, 0, 1e21, false),
    USIM_NUM("hbm_bandwidth", hw_published, hbm_bytes_per_s, U_BPS, 0, 1e21, false),
};
static const usim_schema PUBLISHED_SCHEMA = USIM_SCHEMA("published figures", PUBLISHED);

/* FIT is failures per 10^9 device-hours: 10^9 is one failure a device-hour. */
static const usim_field RELIABILITY[] = {
    USIM_NUM("chip_fit", hw_reliability, chip_fit, U_1, 0, 1e9, false),
    USIM_NUM("hbm_stack_fit", hw_reliability, hbm_stack_fit, U_1, 0, 1e9, false),
    USIM_NUM("host_fit", hw_reliability, host_fit, U_1, 0, 1e9, false),
    USIM_NUM("software_fit", hw_reliability, software_fit, U_1, 0, 1e9, false),
    USIM_NUM("nic_fit", hw_reliability, nic_fit, U_1, 0, 1e9, false),
    USIM_NUM("link_fit", hw_reliability, link_fit, U_1, 0, 1e9, false),
    USIM_NUM("storage_bandwidth_per_node", hw_reliability, storage_bandwidth_per_node, U_BPS,
             1e6, 1e14, false),
    USIM_NUM("storage_bandwidth_aggregate", hw_reliability, storage_bandwidth_aggregate, U_BPS,
             1e6, 1e16, false),
    USIM_NUM("host_copy_bandwidth_per_chip", hw_reliability, host_copy_bandwidth_per_chip, U_BPS,
             1e6, 1e14, false),
    USIM_NUM("restart", hw_reliability, restart_s, U_S, 0, 86400 * 7, false),
    USIM_NUM("replacement", hw_reliability, replacement_s, U_S, 0, 86400 * 30, false),
};
static const usim_schema RELIABILITY_SCHEMA = USIM_SCHEMA("reliability", RELIABILITY);

/* A collective library's figures for one algorithm and protocol: NCCL's
 * tuning model (docs/net.md). */
static const usim_field COLL_PROTOCOL[] = {
    USIM_NUM("base_latency", hw_coll_protocol, base_latency_s, U_S, 0, 1e-3, true),
    USIM_NUM("hop_latency", hw_coll_protocol, hop_latency_s, U_S, 0, 1e-3, true),
    USIM_NUM("net_hop_latency", hw_coll_protocol, net_hop_latency_s, U_S, 0, 1e-3, true),
    USIM_NUM("net_overhead", hw_coll_protocol, net_overhead_s, U_S, 0, 1e-3, false),
    USIM_NUM("efficiency", hw_coll_protocol, efficiency, U_1, 0.01, 1, true),
    USIM_NUM("efficiency_one_domain", hw_coll_protocol, efficiency_one_domain, U_1, 0.01, 1,
             false),
    USIM_NUM("max_bus_bandwidth_one_domain", hw_coll_protocol, max_bus_one_domain, U_BPS, 0,
             1e14, false),
    USIM_NUM("max_bus_bandwidth_two_domains", hw_coll_protocol, max_bus_two_domains, U_BPS, 0,
             1e14, false),
    USIM_NUM("max_bus_bandwidth_more_domains", hw_coll_protocol, max_bus_more_domains, U_BPS, 0,
             1e14, false),
    USIM_DOC("note"),
};
static const usim_schema COLL_PROTOCOL_SCHEMA = USIM_SCHEMA("collective protocol",
                                                            COLL_PROTOCOL);

/* NCCL's point-to-point path for an all-to-all inside one domain. */
static const usim_field COLL_P2P[] = {
    USIM_NUM("channels", hw_coll_p2p, channels, U_1, 1, 256, true),
    USIM_NUM("chunk", hw_coll_p2p, chunk_bytes, U_B, 1024, 1 << 30, true),
    USIM_NUM("min_part", hw_coll_p2p, min_part_bytes, U_B, 1, 1 << 30, true),
    USIM_NUM("max_part", hw_coll_p2p, max_part_bytes, U_B, 1024, 1 << 30, true),
    USIM_NUM("latency", hw_coll_p2p, latency_s, U_S, 0, 1e-3, true),
    USIM_DOC("note"),
};
static const usim_schema COLL_P2P_SCHEMA = USIM_SCHEMA("collective p2p", COLL_P2P);

/* hw_auto_rule, in order */
static const char *const AUTO_RULES[] = {"fastest", "neuron", NULL};

static const usim_field COLL_LIBRARY[] = {
    USIM_STR("name", hw_collective_library, name, true),
    USIM_OBJ("ring_ll", hw_collective_library, ring_ll, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("ring_ll128", hw_collective_library, ring_ll128, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("ring_simple", hw_collective_library, ring_simple, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("tree_ll", hw_collective_library, tree_ll, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("tree_ll128", hw_collective_library, tree_ll128, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("tree_simple", hw_collective_library, tree_simple, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("nvls", hw_collective_library, nvls, &COLL_PROTOCOL_SCHEMA, false),
    USIM_OBJ("p2p", hw_collective_library, p2p, &COLL_P2P_SCHEMA, false),
    USIM_ENUM("auto_algorithm", hw_collective_library, auto_rule, AUTO_RULES, false),
    USIM_NUM("blocking_call_overhead", hw_collective_library, blocking_call_overhead_s, U_S, 0,
             1e-2, false),
    USIM_DOC("source"),
};
static const usim_schema COLL_LIBRARY_SCHEMA = USIM_SCHEMA("collective library", COLL_LIBRARY);

/* "chip" and "network" are a preset name or an inline object: read by hand. */
static const usim_field SYSTEM[] = {
    USIM_DOC("kind"),
    USIM_STR("name", hw_system, name, true),
    USIM_STR("description", hw_system, description, false),
    USIM_DOC("chip"),
    USIM_OBJ("node", hw_system, node, &NODE_SCHEMA, true),
    USIM_OBJ("scaleup_domain", hw_system, domain, &DOMAIN_SCHEMA, false),
    USIM_DOC("network"),
    USIM_OBJ("price", hw_system, price, &PRICE_SCHEMA, false),
    USIM_OBJ("published", hw_system, published, &PUBLISHED_SCHEMA, false),
    USIM_OBJ("reliability", hw_system, reliability, &RELIABILITY_SCHEMA, false),
    USIM_OBJ("collective_library", hw_system, collective_library, &COLL_LIBRARY_SCHEMA, false),
    USIM_STR("stack", hw_system, stack, false),
    USIM_STR("engine", hw_system, engine, false),
    USIM_DOC("notes"),
};
const usim_schema hw_system_schema = USIM_SCHEMA("system", SYSTEM);

static const usim_field NETWORK[] = {
    USIM_DOC("kind"),
    USIM_STR("name", hw_network, name, true),
    USIM_STR("description", hw_network, description, false),
    USIM_INT("tiers", hw_network, tiers, 1, HW_MAX_TIERS, true),
    USIM_INT("radix", hw_network, radix, 2, 4096, true),
    USIM_NUM("port_bandwidth", hw_network, port_bandwidth, U_BPS, 1e8, 1e14, true),
    USIM_NUMS("tier_latency", hw_network, tier_latency_s, tier_latency_count, U_S, 0, 1e-3,
              true),
    USIM_NUM("oversubscription", hw_network, oversubscription, U_1, 1, 64, false),
    USIM_NUM("endpoint_latency", hw_network, endpoint_latency_s, U_S, 0, 1e-3, true),
    USIM_NUM("efficiency", hw_network, efficiency, U_1, 0.05, 1, false),
    USIM_NUM("collective_step_latency", hw_network, collective_step_latency_s, U_S, 0, 1e-3,
             false),
    USIM_NUM("collective_completion_overhead", hw_network, collective_completion_overhead_s,
             U_S, 0, 1e-3, false),
    USIM_DOC("notes"),
};
const usim_schema hw_network_schema = USIM_SCHEMA("network", NETWORK);
