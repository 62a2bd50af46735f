/*
 * ultrasim engine layer: what one operation costs on one chip.
 *
 *   - the classic systolic-array cycle model (weight-, output- and
 *     input-stationary; folding, fill and drain, partial tiles), with a
 *     SCALE-Sim v2 compatible mode;
 *   - the Trainium instruction-level matmul model (stationary K x M <= 128 x
 *     128, moving N <= 512, issue interval max(N, 64) cycles, PSUM
 *     accumulation, FP8 double-row) and SBUF tiling with HBM DMA;
 *   - GPU tensor cores: thread-block tiles and wave quantisation over SMs;
 *   - vector/scalar engines and the HBM roofline for everything else;
 *   - a fused (flash) attention block.
 * Every cost says what bounds it. Functions are pure: no allocation, no state.
 */
#ifndef ULTRASIM_ENGINE_H
#define ULTRASIM_ENGINE_H

#include <stdint.h>

#include "ultrasim/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum engine_dataflow { ENGINE_WS, ENGINE_OS, ENGINE_IS } engine_dataflow;

const char *engine_dataflow_name(engine_dataflow d);

/* Cycles of one GEMM (M x K times K x N) on one R x C array. */
typedef struct engine_array_cycles {
    double cycles;             /* compute cycles, fill and drain included */
    int64_t row_folds, col_folds;
    double mapping_efficiency; /* mean fraction of PEs a fold maps (0..1] */
    double compute_utilisation; /* MACs done / (PEs x cycles) */
} engine_array_cycles;

/* scalesim: reproduce SCALE-Sim v2's compute cycles exactly (its operand
 * conventions); otherwise the textbook model. */
engine_array_cycles engine_array_gemm(int rows, int cols, engine_dataflow dataflow, int64_t m,
                                      int64_t k, int64_t n, bool scalesim);

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

engine_cost engine_gemm(const hw_chip *chip, const engine_gemm_op *op);

/* Elementwise or reduction work on the vector (or scalar) engines:
 * elements x flops_per_element of arithmetic, bytes moved to and from HBM. */
typedef enum engine_unit { ENGINE_VECTOR, ENGINE_SCALAR } engine_unit;

typedef struct engine_vector_op {
    double elements;
    double flops_per_element;
    double bytes; /* HBM traffic */
    engine_unit unit;
} engine_vector_op;

engine_cost engine_vector(const hw_chip *chip, const engine_vector_op *op);

/* Fused attention (QK^T, softmax, PV) for batch x heads queries of q_len
 * against kv_len keys of head_dim, grouped-query with kv_heads; causal masks
 * the upper triangle. backward: the gradient pass (recomputes the scores). */
typedef struct engine_attention_op {
    int64_t batch, heads, kv_heads, q_len, kv_len, head_dim;
    bool causal;
    bool backward;
    usim_dtype dtype;
} engine_attention_op;

engine_cost engine_attention(const hw_chip *chip, const engine_attention_op *op);

/* Moving bytes through HBM at the sustained bandwidth. */
engine_cost engine_memory(const hw_chip *chip, double bytes);

#ifdef __cplusplus
}
#endif
#endif
