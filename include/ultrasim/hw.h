/*
 * ultrasim hw layer: what the machine is.
 *
 * A system is chip -> node -> scale-up domain -> cluster network:
 *   - a chip has cores (NeuronCores or SMs), each with a matrix engine (a
 *     systolic array, or tensor cores), vector and scalar engines, on-chip SRAM,
 *     and shares HBM and DMA engines;
 *   - a node puts chips_per_node chips on one board or in one instance, joined
 *     by a scale-up topology (a 2D torus of NeuronLink, an NVSwitch);
 *   - a scale-up domain joins nodes into one (the Trn2 UltraServer: 4 instances
 *     whose chips with equal coordinates form a ring in Z);
 *   - a cluster joins domains through a scale-out network (EFA on 10p10u,
 *     InfiniBand, RoCE), a multi-tier Clos.
 * Descriptions are JSON (see docs/hardware.md); presets live in data/hw/ and
 * are embedded. All figures are SI doubles: bytes, bytes/s, s, Hz, FLOP/s, W.
 */
#ifndef ULTRASIM_HW_H
#define ULTRASIM_HW_H

#include "ultrasim/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Input data types of the matrix engine. */
typedef enum usim_dtype {
    USIM_FP8,
    USIM_BF16,
    USIM_FP16,
    USIM_TF32,
    USIM_FP32,
    USIM_FP4, /* E2M1 elements with a shared scale per block (NVFP4, MXFP4) */
    USIM_DTYPE_COUNT
} usim_dtype;

const char *usim_dtype_name(usim_dtype t);
/* Parses "fp8", "bf16", ...; false when unknown. */
bool usim_dtype_parse(const char *name, usim_dtype *out);
/* Bytes per element of an operand in this dtype (fp4 0.5, fp8 1, bf16 2, tf32 and fp32 4;
 * block scales not counted). */
double usim_dtype_bytes(usim_dtype t);

/* One figure per matrix input dtype. */
typedef struct hw_per_dtype {
    double fp8, bf16, fp16, tf32, fp32, fp4;
} hw_per_dtype;

double hw_per_dtype_get(const hw_per_dtype *v, usim_dtype t);

typedef enum hw_matrix_kind { HW_MATRIX_SYSTOLIC, HW_MATRIX_TENSOR_CORE } hw_matrix_kind;

typedef struct hw_matrix {
    int kind;                 /* hw_matrix_kind */
    int rows, cols;           /* PE grid of one array (a tensor core: its MAC grid) */
    int arrays_per_core;      /* tensor cores per SM; 1 on Trainium */
    double clock_hz;
    hw_per_dtype macs_per_pe; /* MACs per PE per cycle for each input dtype */
    bool fp8_double_row;      /* Trn2: two FP8 rows per PE pass (K = 2 x rows) */
    /* Trainium instruction model (NKI): moving free size N <= moving_free_max,
     * issue interval about max(N, issue_min_cycles), LoadStationary
     * stationary_load_speedup x faster than a MultiplyMoving of equal size. */
    int moving_free_max;
    int issue_min_cycles;
    double stationary_load_speedup;
    /* GPU tiling: thread-block tile M x N x K and resident blocks per SM. */
    int tile_m, tile_n, tile_k;
    int blocks_per_core;
    /* Sustained fraction of the array's peak in a long, well-fed loop. */
    double efficiency;
    double efficiency_fp8; /* the same for FP8 inputs, when measured apart (0 = efficiency) */
    /* FP8 with partial sums promoted to FP32 every few MMAs ("split" or 2x
     * accumulation: Transformer Engine's dgrad and wgrad GEMMs on Hopper,
     * whose FP8 tensor cores accumulate in reduced precision); 0 =
     * efficiency_fp8, as on chips that accumulate FP8 in full FP32. */
    double efficiency_fp8_split_acc;
    /* FP8 GEMMs take either operand transposed (Blackwell), so a tensor-
     * scaled FP8 copy serves both products and no transposed copy is made
     * (Hopper's FP8 GEMMs take only the TN layout). */
    bool fp8_any_layout;
    /* What FlashAttention-2 sustains on this chip, as fractions of the
     * array's 16-bit peak, forward and backward (its own published
     * benchmarks; 0 = not measured, the fused model's rate stands). FA2's
     * Ampere-style MMA instructions leave Hopper's tensor cores half idle. */
    double flash2_efficiency, flash2_efficiency_backward;
    /* The share of a fused attention forward's softmax (its exponentials and
     * row operations) that runs while the tensor cores multiply: 0 on chips
     * whose warps wait for their own products (FlashAttention-2's schedule),
     * up to 1 where asynchronous tensor-core instructions let one warpgroup's
     * softmax run beside another's products (FlashAttention-3's ping-pong on
     * Hopper, FlashAttention-4 and cuDNN on Blackwell). */
    double softmax_overlap;
    /* What a fused attention kernel's query tile pays beyond its key blocks,
     * in blocks of its own main loop: loading Q and the first K and V,
     * filling and draining the pipeline of products and softmax, rescaling
     * and writing O and the log-sum-exp (0: nothing). Short sequences, with
     * few blocks a tile, feel it. */
    double attention_tile_overhead;
    /* The share of those short-benchmark rates the chip holds when its matrix
     * units run back to back for minutes, as a training step keeps them: at
     * its power limit the SM clock falls below the boost a benchmark of a
     * few milliseconds runs at (absent: 1, no drop measured). */
    double sustained;
} hw_matrix;

/* The sustained fraction of the array's peak for inputs of dtype t. */
double hw_matrix_efficiency(const hw_matrix *m, usim_dtype t);

typedef struct hw_engine {
    double clock_hz;
    double elements_per_cycle;   /* per core */
    double fixed_overhead_cycles; /* per instruction */
    double special_per_cycle;    /* exp, log, rsqrt per cycle per core (0 = elements_per_cycle) */
} hw_engine;

typedef struct hw_sram {
    double per_core_bytes;       /* SBUF (Trainium) or shared memory + L1 (GPU) */
    double accum_per_core_bytes; /* PSUM (Trainium); 0 on GPUs */
    double shared_bytes;         /* L2 (GPU); 0 on Trainium */
} hw_sram;

typedef struct hw_memory {
    double capacity_bytes;
    double bandwidth_bytes_per_s;
    int stacks;
    double efficiency; /* sustained fraction of peak bandwidth for streaming reads */
} hw_memory;

typedef struct hw_dma {
    int engines;
    double bandwidth_bytes_per_s;
    double fixed_latency_s; /* per transfer */
} hw_dma;

typedef struct hw_chip {
    char name[64];
    char vendor[32];
    char description[160];
    int cores;
    char core_name[48];
    int logical_core_size; /* Trainium LNC: physical cores per logical core (TP rank) */
    hw_matrix matrix;
    hw_engine vector, scalar;
    hw_sram sram;
    hw_memory hbm;
    hw_dma dma;
    double power_w;
    /* A power cap below power_w (0: none). Dynamic power goes as f V^2 and
     * the voltage with the clock, so the clocks scale by the cube root of
     * power_limit_w / power_w (hw_power_limited_clock_scale). */
    double power_limit_w;
    double launch_overhead_s; /* fixed cost of each device operation: launch, dispatch, sync */
    /* Fraction of the engine model's matrix rate that whole model graphs, as
     * the vendor's framework compiles them, reach (1 where the engine's own
     * figures already come from framework kernels, as on GPUs). */
    double graph_efficiency;
    hw_per_dtype dense_flops; /* per chip, the basis used for peak and MFU */
    hw_per_dtype published_chip_flops; /* the chip page figure, when it differs */
} hw_chip;

/* The matrix rates of a chip whose units run back to back (training):
 * its GEMM efficiencies scaled by matrix.sustained. */
hw_chip hw_chip_sustained(const hw_chip *chip);

/* One of `parts` equal shares of a Trainium chip, as a job on some of its
 * logical NeuronCores sees it: each logical core owns its physical cores and
 * a share of the HBM, so cores, HBM capacity and bandwidth, DMA engines and
 * their bandwidth, and FLOPS divide; power and price stay the whole chip's. */
hw_chip hw_chip_part(const hw_chip *chip, int parts);

typedef enum hw_topology_kind {
    HW_TOPO_NONE,
    HW_TOPO_RING,
    HW_TOPO_TORUS,
    HW_TOPO_SWITCH,
    HW_TOPO_MESH
} hw_topology_kind;

const char *hw_topology_name(int kind);

typedef struct hw_topology {
    int kind; /* hw_topology_kind */
    int dims[3];
    int ndims;
} hw_topology;

typedef struct hw_node {
    int chips;
    /* The fewest chips a job takes from a node (a GB200 NVL72 rack's compute
     * tray of 4); 0: whole nodes only. A job larger than a node but not a
     * multiple of it spreads evenly over the fewest nodes it needs. */
    int chips_unit;
    hw_topology topology;
    double bandwidth_per_chip;     /* scale-up, as the vendor counts it */
    bool bidirectional;            /* the vendor figure counts both directions */
    int links_per_chip;
    double hop_latency_s;
    double nic_bandwidth_per_chip; /* bytes/s into the scale-out network */
    int host_vcpus;
    double host_memory_bytes;
    /* The host CPU's time to issue one kernel, against the x86 host the
     * stacks' figures were measured on (absent: 1). */
    double host_launch_scale;
    /* Achieved fraction of the scale-up link rate in collectives (protocol
     * overhead); applies to node and domain links. 0 (absent) means 1. */
    double link_efficiency;
} hw_node;

typedef struct hw_domain {
    int nodes;                 /* nodes per scale-up domain; 1 = the node itself */
    hw_topology topology;      /* how nodes join: a ring over equal coordinates */
    double bandwidth_per_chip; /* extra scale-up bandwidth each chip gets */
    double hop_latency_s;
} hw_domain;

#define HW_MAX_TIERS 4

typedef struct hw_network {
    char name[64];
    char description[160];
    int tiers;
    int radix;
    double port_bandwidth;             /* bytes/s per switch port */
    double tier_latency_s[HW_MAX_TIERS]; /* one switch traversal at each tier */
    int tier_latency_count;
    double oversubscription;           /* at the top tier: 1 = non-blocking */
    double endpoint_latency_s;         /* NIC + software, each end */
    /* Achieved fraction of NIC and port line rate in collectives; 0 (absent)
     * means 1. */
    double efficiency;
    /* One step of a collective across this network as its library's network
     * plugin costs it (NIC, host stack), replacing the library's own figure
     * (NCCL's comes from InfiniBand); the Simple protocol adds the completion
     * overhead. 0 (absent): the library's figure. */
    double collective_step_latency_s;
    double collective_completion_overhead_s;
} hw_network;

typedef struct hw_price {
    /* NaN when the description gives no price: a cost is then unknown, never $0. */
    double usd_per_chip_hour;
    int basis; /* hw_price_basis */
} hw_price;

typedef enum hw_price_basis { HW_PRICE_ON_DEMAND, HW_PRICE_ESTIMATE } hw_price_basis;

/* Published system figures, printed beside the derived ones. */
typedef struct hw_published {
    hw_per_dtype dense_flops;
    double hbm_bytes;
    double hbm_bytes_per_s;
} hw_published;

/* How the system's collective library (NCCL on GPU systems) costs one
 * algorithm run with one protocol, from the library's own tuning model; see
 * docs/net.md. A protocol whose efficiency is 0 is one the library does not
 * run. Latencies in seconds, bandwidths in bytes/s; 0 = no cap. */
typedef struct hw_coll_protocol {
    double base_latency_s;      /* once per collective */
    double hop_latency_s;       /* per step inside the scale-up domain */
    double net_hop_latency_s;   /* per step across the scale-out network */
    double net_overhead_s;      /* floor of an in-domain step when the group spans domains */
    double efficiency;          /* achieved fraction of the link rate */
    double efficiency_one_domain; /* the same inside one domain (0: efficiency) */
    double max_bus_one_domain, max_bus_two_domains, max_bus_more_domains;
} hw_coll_protocol;

typedef enum hw_auto_rule { HW_AUTO_FASTEST, HW_AUTO_NEURON } hw_auto_rule;

/* How the library runs an all-to-all inside one scale-up domain: grouped
 * point-to-point sends and receives to every peer (NCCL's p2p path), each
 * peer's data split over channels, each channel a thread block that moves
 * it in chunk-sized steps; docs/net.md. channels 0 = not modelled. */
typedef struct hw_coll_p2p {
    double channels;     /* p2p channels (thread blocks), and per peer at most as many */
    double chunk_bytes;  /* one step of a channel's pipeline */
    double min_part_bytes; /* a peer's data gets no more channels than it has parts this big */
    double max_part_bytes; /* a channel's part above this takes more channels */
    double latency_s;    /* once per all-to-all */
} hw_coll_p2p;

typedef struct hw_collective_library {
    char name[32]; /* "" when the system names none */
    hw_coll_protocol ring_ll, ring_ll128, ring_simple;
    hw_coll_protocol tree_ll, tree_ll128, tree_simple;
    hw_coll_protocol nvls; /* NVLink SHARP, Simple only; efficiency 0 = none */
    hw_coll_p2p p2p;
    /* What `auto` runs: the fastest of what the library runs, or the
     * library's own documented rule (Neuron's choice by size). */
    int auto_rule; /* hw_auto_rule */
    /* The host's path for one blocking call from a framework (python, dispatch,
     * enqueue, kernel launch), paid on top of the device time when the caller
     * waits for each collective; 0 when not given. */
    double blocking_call_overhead_s;
} hw_collective_library;

/* Failure rates (FIT: failures per 10^9 hours) and what recovery costs,
 * for the goodput model; see docs/reliability.md for the sources. */
typedef struct hw_reliability {
    double chip_fit;      /* per chip, HBM excluded */
    double hbm_stack_fit; /* per HBM stack */
    double host_fit;      /* per node: host hardware */
    double software_fit;  /* per node: software and unexplained job failures */
    double nic_fit;       /* per chip's NIC */
    double link_fit;      /* per chip: switches, cables, optics on its path */
    double storage_bandwidth_per_node;    /* checkpoint write/read, bytes/s */
    double storage_bandwidth_aggregate;   /* the file system's limit, bytes/s */
    double host_copy_bandwidth_per_chip;  /* HBM to host memory (asynchronous checkpoints) */
    double restart_s;     /* detect, reschedule, initialise, warm up */
    double replacement_s; /* swap in a node when no hot spare is ready */
} hw_reliability;

typedef struct hw_system {
    char name[64];
    char description[200];
    hw_chip chip;
    hw_node node;
    hw_domain domain;
    hw_network network;
    hw_price price;
    hw_published published;
    hw_reliability reliability;
    hw_collective_library collective_library;
    char stack[64];    /* the training stack its users run (data/stacks); "" = megatron-core */
    char engine[64];   /* the serving engine its users run (data/engines); "" = trtllm */
    int default_chips; /* one scale-up domain */
    int chips;         /* what this run uses (--chips) */
    char warning[400]; /* "" or what looks wrong in the description (hw_peak_warning) */
} hw_system;

/* Why a system's costs are unknown ("no price (...)"), or NULL when it has a price. */
const char *hw_no_price_reason(const hw_system *sys);

/* Derived aggregates over system->chips chips. */
typedef struct hw_totals {
    int chips, nodes, domains;
    int chips_per_domain;
    hw_per_dtype dense_flops;  /* basis figure x chips */
    hw_per_dtype array_flops;  /* first principles: PEs x clock x cores x chips */
    double hbm_bytes, hbm_bytes_per_s;
    double scaleup_bytes_per_s_per_chip;
    double scaleout_bits_per_s_per_chip;
    double power_w;
    double usd_per_hour;
} hw_totals;

typedef enum hw_preset_kind { HW_KIND_CHIP, HW_KIND_SYSTEM, HW_KIND_NETWORK } hw_preset_kind;

typedef struct hw_preset_info {
    char name[64];
    int kind; /* hw_preset_kind */
    char description[200];
} hw_preset_info;

/* Loads a system (a node or UltraServer preset, or a JSON file) and sizes it to
 * chips (0 = the preset's own scale-up domain); network overrides the
 * preset's default network when not NULL. A chip preset alone is a 1-chip
 * system. */
usim_status hw_load_system(const char *name_or_file, int chips, const char *network,
                           hw_system *out, usim_error *err);

/* Loads a system from JSON text (file names messages; may be ""). */
usim_status hw_load_system_text(const char *file, const char *text, int chips,
                                const char *network, hw_system *out, usim_error *err);

usim_status hw_load_chip(const char *name_or_file, hw_chip *out, usim_error *err);
usim_status hw_load_network(const char *name_or_file, hw_network *out, usim_error *err);

/* Re-sizes a loaded system to chips; checks that they form whole nodes. */
usim_status hw_set_chips(hw_system *sys, int chips, usim_error *err);

hw_totals hw_derive(const hw_system *sys);

/* Peak of one core's matrix engine from first principles (FLOP/s). */
double hw_core_matrix_flops(const hw_chip *chip, usim_dtype t);

/* A chip whose arrays (cores x arrays x rows x cols x MACs x 2 x clock)
 * compute well above its own stated dense_flops has a slip in one of them:
 * writes a warning naming the figures into buf and returns true. */
bool hw_peak_warning(const hw_chip *chip, const char *file, char *buf, size_t size);

/* Per-chip scale-up bandwidth in one direction (bytes/s): the intra-node part,
 * and the part the domain adds. */
double hw_node_bandwidth_per_direction(const hw_system *sys);
double hw_domain_bandwidth_per_direction(const hw_system *sys);

/* The description of a preset or file as one JSON text with its chip and
 * network inlined, so any of its figures can be changed ("what if") and the
 * result loaded with hw_load_system_text. Caller frees. */
usim_status hw_resolve_text(const char *name_or_file, char **json_text, usim_error *err);

/* What a preset or file describes (hw_preset_kind). */
usim_status hw_kind_of(const char *name_or_file, int *kind, usim_error *err);

/* All presets, in name order. */
size_t hw_preset_count(void);
usim_status hw_preset_at(size_t i, hw_preset_info *out, usim_error *err);

/* The cited sources of a preset or file, as JSON text (path -> source). */
usim_status hw_sources_json(const char *name_or_file, char **json_text, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
