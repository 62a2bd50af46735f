/*
 * A GEMM on a whole chip: which model, which dtype, and how the cores share it.
 *
 * Trainium (a systolic matrix kind): every NeuronCore runs the instruction
 * model of trainium.c on its share. A batch of at least as many GEMMs as cores
 * is dealt out whole, ceil(batch / cores) to a core. Otherwise each GEMM gets
 * cores / batch cores and is cut along M (each core reads all of B) or along N
 * (each core reads all of A), whichever finishes first. The cores share the
 * chip's HBM: a core gets the sustained bandwidth over the busy cores, capped
 * by its own DMA engines (dma.bandwidth / cores). The chip is done when its
 * busiest core is.
 *
 * GPUs: tensorcore.c over all SMs.
 *
 * Data types. A chip that cannot multiply the requested dtype (macs_per_pe 0,
 * such as fp8 on A100) computes in the next wider one it can (fp8 -> bf16 ->
 * fp16 -> tf32 -> fp32; bf16 skips fp16, whose range is narrower), as a
 * framework would upcast, while operands keep the requested dtype's bytes in
 * HBM. A chip that multiplies nothing costs infinite time. Utilisation is
 * against the chip's dense peak for the requested dtype (chip->dense_flops,
 * the basis used for MFU), or the computed one when the chip has none.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

const char *engine_bound_name(engine_bound b)
{
    static const char *const NAMES[] = {"compute", "memory", "latency"};
    return b >= ENGINE_BOUND_COMPUTE && b <= ENGINE_BOUND_LATENCY ? NAMES[b] : "?";
}

engine_bound engine_bound_of(double compute_s, double memory_s, double fixed_s)
{
    if (fixed_s > compute_s && fixed_s > memory_s)
        return ENGINE_BOUND_LATENCY;
    return memory_s > compute_s ? ENGINE_BOUND_MEMORY : ENGINE_BOUND_COMPUTE;
}

/* What HBM sustains; on a chip whose traffic to and from HBM moves only by
 * its DMA engines (Trainium), no more than those engines sustain. */
double engine_hbm_bytes_per_s(const hw_chip *chip)
{
    double eff = chip->hbm.efficiency > 0 ? chip->hbm.efficiency : 1.0;
    double hbm = chip->hbm.bandwidth_bytes_per_s * eff;
    double dma = chip->dma.bandwidth_bytes_per_s;
    return dma > 0 && dma < hbm ? dma : hbm;
}

double engine_out_bytes(usim_dtype dtype)
{
    return dtype == USIM_FP8 || dtype == USIM_FP4 ? 2.0 : usim_dtype_bytes(dtype);
}

usim_dtype engine_compute_dtype(const hw_chip *chip, usim_dtype dtype)
{
    if (dtype < 0 || dtype >= USIM_DTYPE_COUNT)
        dtype = USIM_FP32;
    if (dtype == USIM_FP4) { /* the narrowest type, listed last */
        if (chip->matrix.macs_per_pe.fp4 > 0)
            return USIM_FP4;
        dtype = USIM_FP8;
    }
    for (int t = dtype; t < USIM_FP4; t++) {
        if (dtype == USIM_BF16 && t == USIM_FP16)
            continue;
        if (hw_per_dtype_get(&chip->matrix.macs_per_pe, (usim_dtype)t) > 0)
            return (usim_dtype)t;
    }
    return USIM_DTYPE_COUNT;
}

static int64_t at_least_1(int64_t v)
{
    return v < 1 ? 1 : v;
}

static double core_dma_bytes_per_s(const hw_chip *chip)
{
    return chip->dma.bandwidth_bytes_per_s > 0 ? chip->dma.bandwidth_bytes_per_s / chip->cores
                                                : INFINITY;
}

/* One GEMM per core, or one GEMM over `share` cores cut along M or N. */
static engine_cost trn_split(const hw_chip *chip, const engine_shape *s, usim_dtype cd,
                             usim_dtype storage, engine_gemm_detail *d)
{
    int cores = chip->cores;
    double hbm = engine_hbm_bytes_per_s(chip), dma = core_dma_bytes_per_s(chip);
    if (s->batch >= cores || cores == 1) {
        engine_shape per = *s;
        per.batch = engine_ceil_div(s->batch, cores);
        d->cores_used = (int)(s->batch < cores ? s->batch : cores);
        d->split = cores > 1 ? "batch" : "none";
        engine_cost c = engine_trn_core(chip, &per, cd, storage,
                                        engine_min(hbm / d->cores_used, dma), d);
        d->core_m = per.m, d->core_k = per.k, d->core_n = per.n, d->core_batch = per.batch;
        return c;
    }
    int64_t share = cores / s->batch;
    engine_gemm_detail along[2];
    engine_cost cost[2];
    engine_shape per[2] = {{engine_ceil_div(s->m, share), s->k, s->n, 1},
                           {s->m, s->k, engine_ceil_div(s->n, share), 1}};
    int active[2] = {(int)(engine_ceil_div(s->m, per[0].m) * s->batch),
                     (int)(engine_ceil_div(s->n, per[1].n) * s->batch)};
    for (int i = 0; i < 2; i++) {
        along[i] = *d;
        cost[i] = engine_trn_core(chip, &per[i], cd, storage,
                                  engine_min(hbm / active[i], dma), &along[i]);
    }
    int pick = cost[1].seconds < cost[0].seconds ? 1 : 0;
    *d = along[pick];
    d->cores_used = active[pick];
    d->split = pick ? "n" : "m";
    d->core_m = per[pick].m, d->core_k = per[pick].k, d->core_n = per[pick].n;
    d->core_batch = 1;
    return cost[pick];
}

static engine_cost unsupported(const engine_shape *s, usim_dtype dtype)
{
    engine_cost c;
    memset(&c, 0, sizeof c);
    double m = (double)s->m, k = (double)s->k, n = (double)s->n, batch = (double)s->batch;
    c.flops = 2.0 * m * k * n * batch;
    c.bytes = usim_dtype_bytes(dtype) * (m * k + k * n + m * n) * batch;
    c.seconds = c.compute_s = INFINITY;
    c.bound = ENGINE_BOUND_COMPUTE;
    return c;
}

static engine_shape shape_of(const engine_gemm_op *op)
{
    return (engine_shape){at_least_1(op->m), at_least_1(op->k), at_least_1(op->n),
                          at_least_1(op->batch)};
}

static void start_detail(const hw_chip *chip, const engine_gemm_op *op, usim_dtype *storage,
                         engine_gemm_detail *d)
{
    memset(d, 0, sizeof *d);
    *storage = op->dtype >= 0 && op->dtype < USIM_DTYPE_COUNT ? op->dtype : USIM_FP32;
    d->compute_dtype = engine_compute_dtype(chip, *storage);
    d->dtype_fallback = d->compute_dtype != *storage;
    d->systolic = chip->matrix.kind == HW_MATRIX_SYSTOLIC;
    d->split = "none";
    d->cores_used = 1;
}

engine_cost engine_gemm_explain(const hw_chip *chip, const engine_gemm_op *op,
                                engine_gemm_detail *d)
{
    usim_dtype storage;
    engine_shape s = shape_of(op);
    start_detail(chip, op, &storage, d);
    if (d->compute_dtype == USIM_DTYPE_COUNT)
        return unsupported(&s, storage);
    engine_cost c;
    if (d->systolic) {
        c = trn_split(chip, &s, d->compute_dtype, storage, d);
    } else {
        c = engine_gpu_gemm(chip, &s, d->compute_dtype, storage, chip->cores, d);
        d->cores_used = chip->cores;
        d->core_m = s.m, d->core_k = s.k, d->core_n = s.n, d->core_batch = s.batch;
    }
    /* The chip's view: all of the work, its bytes, against the chip's peak. */
    c.flops = 2.0 * (double)s.m * (double)s.k * (double)s.n * (double)s.batch;
    if (d->systolic)
        c.bytes *= d->cores_used;
    double peak = hw_per_dtype_get(&chip->dense_flops, storage);
    if (peak <= 0)
        peak = hw_per_dtype_get(&chip->dense_flops, d->compute_dtype);
    c.seconds += chip->launch_overhead_s; /* one kernel (or instruction stream) */
    c.utilisation = peak > 0 ? c.flops / (c.seconds * peak) : 0.0;
    return c;
}

engine_cost engine_gemm(const hw_chip *chip, const engine_gemm_op *op)
{
    engine_gemm_detail d;
    return engine_gemm_explain(chip, op, &d);
}

engine_cost engine_core_gemm(const hw_chip *chip, const engine_gemm_op *op,
                             engine_gemm_detail *d)
{
    usim_dtype storage;
    engine_shape s = shape_of(op);
    start_detail(chip, op, &storage, d);
    if (d->compute_dtype == USIM_DTYPE_COUNT)
        return unsupported(&s, storage);
    d->core_m = s.m, d->core_k = s.k, d->core_n = s.n, d->core_batch = s.batch;
    if (!d->systolic)
        return engine_gpu_gemm(chip, &s, d->compute_dtype, storage, 1, d);
    /* every core busy: its share of the chip's rate, which the DMA engines
     * already bound (engine_hbm_bytes_per_s) */
    double share = engine_hbm_bytes_per_s(chip) / chip->cores;
    return engine_trn_core(chip, &s, d->compute_dtype, storage, share, d);
}

/* seconds = max(compute, memory) + fixed; only the compute side stretches. */
engine_cost engine_in_graph(const hw_chip *chip, engine_cost c)
{
    double e = chip->graph_efficiency > 0 ? chip->graph_efficiency : 1.0;
    if (e >= 1.0 || !isfinite(c.seconds))
        return c;
    double fixed = c.seconds - engine_max(c.compute_s, c.memory_s);
    c.compute_s /= e;
    c.seconds = engine_max(c.compute_s, c.memory_s) + fixed;
    if (c.compute_s > c.memory_s && c.bound == ENGINE_BOUND_MEMORY)
        c.bound = ENGINE_BOUND_COMPUTE;
    return c;
}
