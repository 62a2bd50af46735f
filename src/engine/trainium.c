/*
 * Trainium's tensor engine, instruction by instruction, and the SBUF tiling
 * that feeds it from HBM: what one GEMM costs on one NeuronCore.
 *
 * The instruction (HARDWARE.md sec. 6; NKI ISA, nki.isa.nc_matmul):
 *     nc_matmul(stationary[K, s], moving[K, v]) -> PSUM[s, v] += stationary^T moving
 * with K <= 128 partitions (the PE rows), s <= 128 (the PE columns) and v <= 512
 * (one 2 KiB PSUM bank of fp32). The stationary tile is loaded into the array
 * (LoadStationary) while the previous instruction still streams, and the moving
 * tile streams through one column per cycle. Back to back, an instruction
 * costs on average (nc_matmul's "estimated instruction cost")
 *
 *     interval(s, v) = max(min(64, s), v) cycles      (x 4 for fp32 inputs)
 *
 * where 64 is MM_INIT_LATENCY, the minimum issue interval (matrix.issue_min_cycles,
 * an NC-v2 figure: none is published for NC-v3). FP8 in double-row mode puts two
 * rows of K through each PE per pass: K = 256 per instruction at the same
 * interval, twice the BF16 rate (matrix.fp8_double_row; K per pass = rows x
 * macs_per_pe.fp8, so Trn3's MX mode gets 512). FP32 is macs_per_pe = 1/4.
 *
 * A GEMM C = A B (M x K times K x N) maps to ceil(M/128) x ceil(K/128) x
 * ceil(N/512) instructions with A^T stationary and B moving, accumulating over K
 * in PSUM; or, with the roles swapped (B stationary, A^T moving, C^T in PSUM),
 * to ceil(N/128) x ceil(K/128) x ceil(M/512). The compiler may use either; the
 * model takes the cheaper. Partial tiles cost their own (smaller) interval;
 * a partial K tile costs a full one (the interval does not depend on K).
 *
 * Exposed once per core, not per instruction:
 *   - the first LoadStationary, s / stationary_load_speedup cycles (it is "up to
 *     4x faster than a MultiplyMoving of equal free size"; later loads hide
 *     under the previous instruction);
 *   - the array's fill and drain: the last moving column crosses rows - 1 + cols
 *     - 1 PEs after it enters (the skew of the classic model, systolic.c).
 *
 * Memory. Operands start and end in HBM and reach the engine through SBUF (28 MiB
 * per core on Trn2) by DMA. The core computes C in blocks of Mb x Nb outputs,
 * streaming K in chunks of one instruction's contraction, double-buffered: the
 * block's fp32 partial sums (in PSUM and SBUF) and two chunks of A and B must fit,
 *
 *     4 Mb Nb + 2 (Mb + Nb) Kc bytes_in <= SBUF + PSUM,
 *
 * and HBM traffic is bytes_in K (M ceil(N/Nb) + N ceil(M/Mb)) + bytes_out M N:
 * the block is as large and as square as fits, or the whole output when it
 * fits. DMA runs beside the engine (double buffering), so the core takes
 * max(engine, DMA) plus what cannot overlap: the first tiles' DMA before the
 * first instruction and the last output tile's after the last (each with the
 * DMA fixed cost of about 1.3 us, HARDWARE.md sec. 1). When DMA takes longer
 * than the engine, the GEMM is memory-bound.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

/* One core's tensor engine for one dtype. */
typedef struct trn_engine {
    double rows, cols;    /* PE rows (contraction), PE columns (stationary free) */
    double k_pass;        /* contraction per instruction */
    double slow;          /* interval multiplier: 4 for fp32 */
    double moving_max;    /* 0: unlimited */
    double issue_min;
    double ls_speedup;
    double macs_per_cycle; /* the array's peak */
    double clock_hz;
} trn_engine;

static trn_engine trn_engine_of(const hw_chip *chip, usim_dtype dtype)
{
    const hw_matrix *x = &chip->matrix;
    double macs = hw_per_dtype_get(&x->macs_per_pe, dtype);
    trn_engine e;
    e.rows = x->rows;
    e.cols = x->cols;
    bool double_row = x->fp8_double_row && dtype == USIM_FP8 && macs > 1.0;
    e.k_pass = double_row ? x->rows * macs : x->rows;
    e.slow = double_row ? 1.0 : 1.0 / macs;
    e.moving_max = x->moving_free_max;
    e.issue_min = x->issue_min_cycles;
    e.ls_speedup = x->stationary_load_speedup > 0 ? x->stationary_load_speedup : 1.0;
    e.macs_per_cycle = x->rows * x->cols * macs * x->arrays_per_core;
    e.clock_hz = x->clock_hz * x->efficiency;
    return e;
}

/* nc_matmul's back-to-back cost for stationary free size s, moving free size v. */
static double interval(const trn_engine *e, double s, double v)
{
    return engine_max(engine_min(e->issue_min, s), v) * e->slow;
}

/* An orientation: the stationary side's free dimension (tiled by cols) and the
 * moving side's (tiled by moving_max). */
typedef struct plan {
    double cycles;       /* sum of intervals */
    double instructions;
    double first_s;      /* the first stationary tile's free size */
    double tile_s, tile_v;
} plan;

static plan plan_of(const trn_engine *e, double stationary, double moving, double k)
{
    double vmax = e->moving_max > 0 ? e->moving_max : moving;
    double fs = floor(stationary / e->cols), rs = stationary - fs * e->cols;
    double fv = floor(moving / vmax), rv = moving - fv * vmax;
    double passes = ceil(k / e->k_pass);
    double sum = fs * fv * interval(e, e->cols, vmax);
    if (rv > 0)
        sum += fs * interval(e, e->cols, rv);
    if (rs > 0)
        sum += fv * interval(e, rs, vmax) + (rv > 0 ? interval(e, rs, rv) : 0.0);
    plan p;
    p.cycles = sum * passes;
    p.instructions = ceil(stationary / e->cols) * ceil(moving / vmax) * passes;
    p.first_s = engine_min(stationary, e->cols);
    p.tile_s = engine_min(stationary, e->cols);
    p.tile_v = engine_min(moving, vmax);
    return p;
}

double engine_trn_matmul_cycles(const hw_chip *chip, usim_dtype dtype, double stationary,
                                double moving, double contraction)
{
    trn_engine e = trn_engine_of(chip, dtype);
    return plan_of(&e, stationary, moving, contraction).cycles;
}

/* The output block held on chip and the HBM traffic it implies. */
typedef struct blocking {
    double mb, nb, bytes;
} blocking;

static double block_other(double cap, double fixed, double kc_bytes)
{
    return engine_max(1.0, (cap - 2.0 * fixed * kc_bytes) / (4.0 * fixed + 2.0 * kc_bytes));
}

static blocking block_of(const hw_chip *chip, double m, double k, double n, double kc,
                         double in_b, double out_b)
{
    double cap = chip->sram.per_core_bytes + chip->sram.accum_per_core_bytes;
    double kcb = kc * in_b;
    blocking b;
    if (4.0 * m * n + 2.0 * (m + n) * kcb <= cap) {
        b.mb = m;
        b.nb = n;
    } else {
        /* 4x^2 + 4 kcb x = cap: the largest square block */
        double x = (-4.0 * kcb + sqrt(16.0 * kcb * kcb + 16.0 * cap)) / 8.0;
        if (m <= x) {
            b.mb = m;
            b.nb = engine_min(n, block_other(cap, m, kcb));
        } else if (n <= x) {
            b.nb = n;
            b.mb = engine_min(m, block_other(cap, n, kcb));
        } else {
            b.mb = b.nb = engine_max(1.0, floor(x));
        }
    }
    b.bytes = in_b * k * (m * ceil(n / b.nb) + n * ceil(m / b.mb)) + out_b * m * n;
    return b;
}

/* DMA that cannot overlap the engine: the first stationary and moving tiles
 * before the first instruction, the last output tile after the last. */
static double edge_seconds(const hw_chip *chip, const plan *p, double k_first, double in_b,
                           double out_b, double bytes_per_s)
{
    double first = (p->tile_s + p->tile_v) * k_first * in_b;
    double last = p->tile_s * p->tile_v * out_b;
    return 2.0 * chip->dma.fixed_latency_s + (first + last) / bytes_per_s;
}

static void fill_detail(engine_gemm_detail *d, const trn_engine *e, const plan *p, bool use_b,
                        const blocking *blk, double steady, double fill, double macs)
{
    d->systolic = true;
    d->instructions = p->instructions;
    d->interval_cycles = interval(e, p->tile_s, p->tile_v);
    d->tile_m = (int64_t)p->tile_s;
    d->tile_n = (int64_t)p->tile_v;
    d->tile_k = (int64_t)e->k_pass;
    d->stationary_b = use_b;
    d->steady_cycles = steady;
    d->fill_cycles = fill;
    d->array_utilisation = macs / (e->macs_per_cycle * (steady + fill));
    d->steady_utilisation = macs / (e->macs_per_cycle * steady);
    d->block_m = blk->mb;
    d->block_n = blk->nb;
    d->sustained_fraction = 1.0;
}

engine_cost engine_trn_core(const hw_chip *chip, const engine_shape *shape, usim_dtype compute,
                            usim_dtype storage, double bytes_per_s, engine_gemm_detail *d)
{
    trn_engine e = trn_engine_of(chip, compute);
    double m = (double)shape->m, k = (double)shape->k, n = (double)shape->n;
    double batch = (double)shape->batch;
    plan a = plan_of(&e, m, n, k), b = plan_of(&e, n, m, k);
    bool use_b = b.cycles < a.cycles;
    const plan *p = use_b ? &b : &a;
    double in_b = usim_dtype_bytes(storage), out_b = engine_out_bytes(storage);
    blocking blk = block_of(chip, m, k, n, e.k_pass, in_b, out_b);
    /* first LoadStationary + the last column's trip across the array */
    double fill = p->first_s * e.slow / e.ls_speedup + (e.rows - 1.0) + (e.cols - 1.0);
    double steady = p->cycles * batch, macs = m * k * n * batch;
    engine_cost c;
    memset(&c, 0, sizeof c);
    c.flops = 2.0 * macs;
    c.bytes = blk.bytes * batch;
    c.compute_s = (steady + fill) / e.clock_hz;
    c.memory_s = c.bytes / bytes_per_s;
    double edge = edge_seconds(chip, p, engine_min(k, e.k_pass), in_b, out_b, bytes_per_s);
    c.seconds = engine_max(c.compute_s, c.memory_s) + edge;
    c.bound = engine_bound_of(steady / e.clock_hz, c.memory_s, fill / e.clock_hz + edge);
    c.utilisation = c.flops / (c.seconds * 2.0 * e.macs_per_cycle * chip->matrix.clock_hz);
    fill_detail(d, &e, p, use_b, &blk, steady, fill, macs);
    d->edge_s = edge;
    d->peak_flops = 2.0 * e.macs_per_cycle * chip->matrix.clock_hz;
    d->core_seconds = c.seconds;
    d->core_bytes_per_s = bytes_per_s;
    return c;
}
