/* Helpers shared by the engine layer's files (internal). */
#ifndef USIM_ENGINE_INTERNAL_H
#define USIM_ENGINE_INTERNAL_H

#include <stdint.h>

#include "ultrasim/engine.h"

static inline int64_t engine_ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static inline double engine_max(double a, double b)
{
    return a > b ? a : b;
}

static inline double engine_min(double a, double b)
{
    return a < b ? a : b;
}

/* Which of the three sides of a roofline is largest. */
engine_bound engine_bound_of(double compute_s, double memory_s, double fixed_s);

/* The chip's sustained HBM bandwidth (bandwidth x efficiency), bytes/s. */
double engine_hbm_bytes_per_s(const hw_chip *chip);

/* The dtype the matrix engine computes dtype in: dtype itself when the chip
 * multiplies it, else the next wider one it does (fp8 -> bf16 -> fp16 -> tf32 ->
 * fp32); USIM_DTYPE_COUNT when it multiplies nothing. */
usim_dtype engine_compute_dtype(const hw_chip *chip, usim_dtype dtype);

/* A GEMM's shape: batch x (M x K times K x N), every size >= 1. */
typedef struct engine_shape {
    int64_t m, k, n, batch;
} engine_shape;

/* Per-core (Trainium) and whole-chip (GPU) GEMM models; gemm.c dispatches.
 * compute: the dtype the engine multiplies in; storage: the operands' dtype in
 * HBM. Both fill the matrix-engine part of d and return a cost whose
 * utilisation is against what they model (one core, or sms SMs). */
engine_cost engine_trn_core(const hw_chip *chip, const engine_shape *shape, usim_dtype compute,
                            usim_dtype storage, double bytes_per_s, engine_gemm_detail *d);
engine_cost engine_gpu_gemm(const hw_chip *chip, const engine_shape *shape, usim_dtype compute,
                            usim_dtype storage, int sms, engine_gemm_detail *d);

/* Tensor-engine cycles of a Trainium sub-GEMM with a fixed orientation: the
 * stationary operand's free size, the moving operand's, and the contraction
 * (tiled into instructions; back-to-back intervals, no fill). */
double engine_trn_matmul_cycles(const hw_chip *chip, usim_dtype dtype, double stationary,
                                double moving, double contraction);

/* Bytes of an output element: GEMM results leave the engine in fp32 and are
 * stored in the input dtype (fp8 GEMMs store bf16, as training frameworks do). */
double engine_out_bytes(usim_dtype dtype);

#endif
