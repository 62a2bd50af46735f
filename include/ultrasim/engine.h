/*
 * ultrasim engine layer: what one operation costs on one chip.
 *
 *   - the classic systolic-array cycle model (weight-, output- and
 *     input-stationary; folding, fill and drain, partial tiles), with a
 *     SCALE-Sim v2 compatible mode;
 *   - a functional model of the same array that moves real numbers PE by PE
 *     (fp32 accumulation; bf16, fp16, tf32 and fp8 inputs rounded as the
 *     hardware rounds) and counts the cycles it took;
 *   - the Trainium instruction-level matmul model (stationary K x M <= 128 x
 *     128, moving N <= 512, issue interval max(N, 64) cycles, PSUM
 *     accumulation, FP8 double-row) and SBUF tiling with HBM DMA;
 *   - GPU tensor cores: thread-block tiles and wave quantisation over SMs;
 *   - vector/scalar engines and the HBM roofline for everything else;
 *   - a fused (flash) attention block.
 * Every cost says what bounds it. Cost functions are pure: no allocation, no
 * state. docs/engine.md gives the formulas and their sources.
 */
#ifndef ULTRASIM_ENGINE_H
#define ULTRASIM_ENGINE_H

#include <stdint.h>

#include "ultrasim/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the classic systolic array --------------------------------------- */

typedef enum engine_dataflow { ENGINE_WS, ENGINE_OS, ENGINE_IS } engine_dataflow;

const char *engine_dataflow_name(engine_dataflow d);
/* Parses "ws", "os", "is"; false when unknown. */
bool engine_dataflow_parse(const char *name, engine_dataflow *out);

/* Cycles of one GEMM (M x K times K x N) on one R x C array. */
typedef struct engine_array_cycles {
    double cycles;             /* compute cycles, fill and drain included */
    int64_t row_folds, col_folds;
    double mapping_efficiency; /* mean fraction of PEs a fold maps (0..1] */
    double compute_utilisation; /* MACs done / (PEs x cycles) */
    /* Added after the first interface: */
    double macs;                /* M x K x N */
    double fold_cycles;         /* cycles of one full fold */
    double fold_utilisation;    /* mean over folds of a fold's MACs / (PEs x its
                                 * cycles): SCALE-Sim's "Compute Util" */
    double fill_drain_cycles;   /* cycles spent loading, skewing and draining,
                                 * not streaming operands */
    /* Elements crossing the array edge (reads of A and B, writes of C and
     * of partial sums between folds). */
    double reads_a, reads_b, writes_c;
} engine_array_cycles;

/* scalesim: reproduce SCALE-Sim v2's compute cycles exactly (its operand
 * conventions); otherwise the textbook model. Every argument must be >= 1;
 * otherwise the result is all zeros. */
engine_array_cycles engine_array_gemm(int rows, int cols, engine_dataflow dataflow, int64_t m,
                                      int64_t k, int64_t n, bool scalesim);

/* ---- the functional model ---------------------------------------------- */

/* Number formats of the functional model's inputs (fp8 has two). */
typedef enum engine_number {
    ENGINE_NUM_FP32,
    ENGINE_NUM_TF32,
    ENGINE_NUM_BF16,
    ENGINE_NUM_FP16,
    ENGINE_NUM_FP8_E4M3,
    ENGINE_NUM_FP8_E5M2,
    ENGINE_NUM_FP4_E2M1,
    ENGINE_NUM_COUNT
} engine_number;

const char *engine_number_name(engine_number t);
/* Parses "fp32", "tf32", "bf16", "fp16", "fp8", "e4m3", "e5m2". */
bool engine_number_parse(const char *name, engine_number *out);
/* x rounded to the nearest value of format t, ties to even; overflow gives
 * infinity (bf16, fp16, tf32) or the largest finite value (fp8, which
 * saturates as hardware conversions do); NaN stays NaN. */
float engine_round(engine_number t, float x);
/* The format the matrix engine reads for a dtype (fp8 means e4m3). */
engine_number engine_number_of(usim_dtype t);

/* Runs C = A x B (A is m x k, B is k x n, C is m x n, row-major) through an
 * R x C array PE by PE: operands are rounded to `input` on entry, every PE
 * multiplies and adds in fp32, and partial sums of successive row folds add
 * in fp32 at the array edge. Fills stats with what the simulation counted
 * (cycles, folds, MACs, PEs mapped); they equal engine_array_gemm(...,
 * false). Allocates rows x cols registers; fails only when out of memory or
 * given a dimension < 1 (USIM_EINPUT). */
usim_status engine_functional_gemm(int rows, int cols, engine_dataflow dataflow, int64_t m,
                                   int64_t k, int64_t n, engine_number input, const float *a,
                                   const float *b, float *c, engine_array_cycles *stats,
                                   usim_error *err);

/* ---- SCALE-Sim topology files ------------------------------------------ */

typedef enum engine_topology_format {
    ENGINE_TOPO_AUTO, /* by the header's column count */
    ENGINE_TOPO_GEMM, /* Layer, M, N, K, */
    ENGINE_TOPO_CONV  /* Layer, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter,
                       * Stride H[, Stride W], */
} engine_topology_format;

/* One layer lowered to a GEMM as SCALE-Sim lowers it: M = output pixels
 * (ofmap H x W), K = conv window (filter H x W x channels), N = filters. */
typedef struct engine_topo_layer {
    char name[96];
    int64_t m, k, n;
    int line; /* in the file */
} engine_topo_layer;

typedef struct engine_topology {
    engine_topo_layer *layers;
    size_t count;
    engine_topology_format format; /* GEMM or CONV as read */
} engine_topology;

/* Reads a topology CSV (file names messages). Depth-wise layers (a name
 * containing "DP") expand to one single-channel layer per channel, as
 * SCALE-Sim does. Bad input fails with file:line:column and the field. */
usim_status engine_topology_parse(const char *file, const char *text,
                                  engine_topology_format format, engine_topology *out,
                                  usim_error *err);
usim_status engine_topology_load(const char *path, engine_topology_format format,
                                 engine_topology *out, usim_error *err);
void engine_topology_free(engine_topology *t);

/* ---- costs on a chip ---------------------------------------------------- */

typedef enum engine_bound {
    ENGINE_BOUND_COMPUTE, /* the matrix or vector engine */
    ENGINE_BOUND_MEMORY,  /* HBM (or DMA) bandwidth */
    ENGINE_BOUND_LATENCY  /* fixed per-instruction or launch overheads */
} engine_bound;

const char *engine_bound_name(engine_bound b);

/* What an operation costs on a whole chip. */
typedef struct engine_cost {
    double seconds;
    double compute_s;   /* the engine side of the roofline */
    double memory_s;    /* the HBM side */
    double flops;       /* useful FLOPs (2 x M x N x K for a GEMM) */
    double bytes;       /* HBM bytes read and written */
    double utilisation; /* flops / (seconds x chip peak of the dtype) */
    engine_bound bound;
} engine_cost;

/* batch independent GEMMs of M x K times K x N in dtype, spread over all cores
 * of the chip; operands start and end in HBM. */
typedef struct engine_gemm_op {
    int64_t m, k, n;
    int64_t batch;
    usim_dtype dtype;
} engine_gemm_op;

/* Any M, K, N >= 1 and batch >= 1 (smaller values count as 1). Trainium
 * (systolic) chips: the instruction model on each NeuronCore, the work split
 * over chip->cores by batch, then by M or N, each core with its share of HBM.
 * GPUs: thread-block tiles in waves over the SMs. A dtype the chip cannot
 * multiply (fp8 on A100) is computed at the next wider type it can (bf16, then
 * fp16, tf32, fp32) while bytes stay those of dtype; a chip that can multiply
 * nothing costs infinite time. */
engine_cost engine_gemm(const hw_chip *chip, const engine_gemm_op *op);

/* How a GEMM's cost came about: the numbers behind engine_gemm's answer. */
typedef struct engine_gemm_detail {
    usim_dtype compute_dtype;  /* what the engine computes in */
    bool dtype_fallback;       /* the chip lacks the requested dtype */
    bool systolic;             /* Trainium instruction model (else GPU tiles) */
    /* How the chip's cores share the work (Trainium). */
    int cores_used;
    const char *split;         /* "none", "batch", "m", "n" */
    int64_t core_m, core_k, core_n, core_batch; /* one core's share */
    double core_bytes_per_s;   /* HBM/DMA bandwidth one core gets */
    /* One core's (Trainium) or the chip's (GPU) matrix engine. */
    double instructions;       /* matmul instructions per core, or thread-block tiles */
    double interval_cycles;    /* issue interval of one full instruction, or one tile's mainloop */
    int64_t tile_m, tile_n, tile_k; /* instruction tile (stationary free, moving free,
                                     * contraction per pass) or thread-block tile */
    bool stationary_b;         /* Trainium: B is the stationary operand (else A^T) */
    double steady_cycles;      /* back-to-back instruction intervals */
    double fill_cycles;        /* first LoadStationary + array fill and drain */
    double array_utilisation;  /* MACs / (PE MACs per cycle x engine cycles) */
    double steady_utilisation; /* the same without fill and drain */
    double peak_flops;         /* first-principles peak of what ran (a core or the chip) */
    double block_m, block_n;   /* output block held on chip: SBUF (Trainium) or one wave (GPU) */
    double edge_s;             /* exposed DMA prologue and epilogue, or per-wave load/store */
    double core_seconds;       /* one core's time for its share */
    /* GPU */
    double tiles, waves, wave_efficiency, split_k, pad_efficiency;
    double sustained_fraction; /* matrix.efficiency applied to the rate */
} engine_gemm_detail;

/* engine_gemm, and why: fills detail (which may not be NULL). */
engine_cost engine_gemm_explain(const hw_chip *chip, const engine_gemm_op *op,
                                engine_gemm_detail *detail);

/* The whole op on ONE core (one NeuronCore; on a GPU one SM) with that core's
 * share of HBM (1/cores of the chip's, capped by its DMA engines). The
 * utilisation is against that core's first-principles peak. */
engine_cost engine_core_gemm(const hw_chip *chip, const engine_gemm_op *op,
                             engine_gemm_detail *detail);

/* ---- vector and scalar engines ----------------------------------------- */

/* Elementwise or reduction work on the vector (or scalar) engines:
 * elements x flops_per_element of arithmetic, bytes moved to and from HBM. */
typedef enum engine_unit { ENGINE_VECTOR, ENGINE_SCALAR } engine_unit;

typedef struct engine_vector_op {
    double elements;
    double flops_per_element;
    double bytes; /* HBM traffic */
    engine_unit unit;
} engine_vector_op;

/* Each FLOP per element is one pass of the element through the unit's
 * datapath (elements_per_cycle per core, every core); one fixed instruction
 * overhead is added. A chip without a scalar engine uses its vector engine.
 * utilisation is against the unit's element throughput. */
engine_cost engine_vector(const hw_chip *chip, const engine_vector_op *op);

/* Common layers, costed as the instruction sequence an NKI kernel issues
 * (docs/engine.md lists each): rows x cols elements in dtype, read from and
 * written to HBM, reductions along cols. */
typedef enum engine_layer_op {
    ENGINE_OP_ELEMENTWISE, /* one input, one op: scale, cast, add a scalar */
    ENGINE_OP_BINARY,      /* two inputs: add, multiply (residuals) */
    ENGINE_OP_REDUCE,      /* sum or max of each row */
    ENGINE_OP_SOFTMAX,     /* max, exp(x - max) with sum, scale by 1/sum */
    ENGINE_OP_LAYERNORM,   /* mean and variance, normalise, gamma and beta */
    ENGINE_OP_RMSNORM,     /* sum of squares, scale, gamma */
    ENGINE_OP_ACTIVATION,  /* GeLU, SiLU, exp, tanh on the scalar engine */
    ENGINE_OP_SWIGLU,      /* silu(a) x b: cols is the output width */
    ENGINE_OP_COUNT
} engine_layer_op;

const char *engine_layer_op_name(engine_layer_op op);
bool engine_layer_op_parse(const char *name, engine_layer_op *out);
engine_cost engine_layer_cost(const hw_chip *chip, engine_layer_op op, double rows, double cols,
                              usim_dtype dtype);

/* ---- attention ---------------------------------------------------------- */

/* How an attention core is run. Each is a kernel family real software
 * ships; which one a framework used changes the cost, not the FLOPs. */
typedef enum engine_attention_kernel {
    /* One fused kernel, scores kept on chip (FlashAttention, cuDNN, XQA,
     * NKI flash attention); K and V read once per KV head. */
    ENGINE_ATTN_FUSED,
    /* Fused, but each query head reads its own copy of its K and V: the
     * masked multi-head attention decode kernel of FasterTransformer and
     * TensorRT-LLM up to 0.6, before XQA (grouped-query attention then
     * saves memory but not bandwidth). */
    ENGINE_ATTN_PER_HEAD,
    /* Scores and probabilities through HBM: batched GEMMs for QK^T and PV,
     * a fused scale-mask-softmax pass and, with dropout, a dropout pass
     * (Megatron-LM before FlashAttention, Narayanan et al. SC21 s4.2). */
    ENGINE_ATTN_UNFUSED,
    /* FlashAttention-2 (Dao 2023) as PyTorch's scaled_dot_product_attention
     * runs it: the fused kernel, at no more than the rate FA2's own
     * benchmarks reach on the chip (matrix.flash2_efficiency). */
    ENGINE_ATTN_FLASH2,
    ENGINE_ATTN_KERNEL_COUNT
} engine_attention_kernel;

/* Attention (QK^T, softmax, PV) for batch x heads queries of q_len against
 * kv_len keys of head_dim, grouped-query with kv_heads; causal masks the
 * upper triangle. backward: the gradient pass (a fused kernel recomputes the
 * scores; an unfused one reads the probabilities its forward stored).
 * dropout: attention-probability dropout (unfused kernels pay a pass and a
 * 1-byte mask for it; fused ones generate it on chip). window: sliding-window
 * attention (fused kernels skip the blocks outside the band; a decode step
 * reads only the last window keys; unfused kernels compute every score). */
typedef struct engine_attention_op {
    int64_t batch, heads, kv_heads, q_len, kv_len, head_dim;
    bool causal;
    bool backward;
    usim_dtype dtype;
    engine_attention_kernel kernel;
    bool dropout;
    /* Sliding-window attention: a query sees only the last window keys
     * (itself included); 0: every key before it. */
    int64_t window;
} engine_attention_op;

engine_cost engine_attention(const hw_chip *chip, const engine_attention_op *op);

/* Where a fused core's compute time goes: the products (tensor cores or PE
 * arrays), the softmax (GPUs: exponentials on the special-function units and
 * row operations on the lanes; Trainium: the busier of its vector and scalar
 * engines), the part of the softmax run beside the products, and Trainium's
 * array fill and drain. A fused core's compute_s is tensor_s + softmax_s -
 * hidden_s + fill_s (FlashAttention-2's measured floor aside); all zero for an
 * unfused core or a dtype the chip cannot multiply. */
typedef struct engine_attention_parts {
    double tensor_s, softmax_s, hidden_s, fill_s;
} engine_attention_parts;
engine_attention_parts engine_attention_explain(const hw_chip *chip,
                                                const engine_attention_op *op);
/* What one fused attention forward pays whatever its size: its launch and two
 * DMA set-ups. A varlen kernel runs a batch's prompts in one launch. */
double engine_attention_fixed_s(const hw_chip *chip);
/* The kernel launches in one attention call's time: a fused forward is one
 * kernel, its backward two (dQ, then dK and dV); the unfused path's are its
 * GEMMs' own. What a benchmark's back-to-back timing hides. */
double engine_attention_launches_s(const hw_chip *chip, const engine_attention_op *op);

/* Seconds an attention core takes in a compiled graph, averaged over a
 * model's layers when a share of them slide over `window` keys (the rest see
 * every key); op's own window is ignored. */
double engine_attention_layer_s(const hw_chip *chip, engine_attention_op op, int64_t window,
                                double sliding_share);

/* An operation known only by its FLOPs and HBM bytes (a trace's compute
 * node): on the matrix units at the dtype's dense peak times the chip's
 * matrix efficiency (a dtype the units lack at bf16), or on the vector
 * engine; bytes at the HBM rate; one launch; as part of a compiled graph. */
engine_cost engine_roofline(const hw_chip *chip, double flops, double bytes, usim_dtype dtype,
                            bool matrix);

/* A cost as part of a compiled model graph: the compute side slowed by the
 * chip's graph_efficiency, the memory side unchanged. */
engine_cost engine_in_graph(const hw_chip *chip, engine_cost c);

/* Moving bytes through HBM at the sustained bandwidth. */
engine_cost engine_memory(const hw_chip *chip, double bytes);

#ifdef __cplusplus
}
#endif
#endif
