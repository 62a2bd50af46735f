/*
 * GPU tensor cores: a GEMM's cost from its shape, through thread-block tiles
 * and waves over the SMs, not one flat efficiency number.
 *
 * Rate. An SM multiplies P = rows x cols x arrays_per_core x macs_per_pe MACs
 * per cycle (H100: 4 tensor cores of 16 x 32 dense 16-bit MACs = 2,048, so 132
 * SMs at 1.83 GHz give the datasheet's 989 TFLOPS; the preset says where each
 * figure comes from).
 *
 * Tiles and waves. cuBLAS and CUTLASS give each thread block a tm x tn tile of
 * C and loop over K in steps of tk; a block runs on one SM, blocks_per_core at
 * a time. The tiles, ceil(M/tm) ceil(N/tn) per GEMM of the batch, run in
 * waves of SMs x blocks_per_core, and every wave lasts as long as one tile:
 *
 *     tile cycles = tm tn tk ceil(K/tk) / P
 *     compute     = ceil(tiles / slots) x tile cycles x blocks_per_core / (clock x e)
 *
 * so a shape pays for padded tiles (M not a multiple of tm) and for idle SMs in
 * its last wave. Libraries pick the tile per shape: the model uses the
 * preset's (128 x 256 x 64 on Hopper), and when that leaves SMs idle (fewer
 * tiles than SMs) or is wider than M or N, it also tries smaller ones (tm / 2
 * to tm / 8, 16 rows on a 128-row tile: the M of one MMA instruction, so a
 * decode GEMM of a few tokens does not pay for 128 padded rows; tn / 2, tn / 4) and splitting K across blocks (split-K, whose fp32 partial
 * sums are written and read back once), and keeps the fastest.
 *
 * Each wave also waits for what its blocks cannot overlap with their own
 * MMAs: the first K step of the A rows and B columns it covers, from HBM; and
 * the last wave's C tiles are stored after its last MMA (earlier waves' stores
 * overlap the next wave).
 *
 * Memory. Blocks of one wave share their A rows and B columns through L2, so
 * HBM traffic is that of a blocked GEMM whose block is one wave's output
 * region (slots x tm x tn elements, as square as the matrix allows):
 *     bytes_in K (M ceil(N/Nw) + N ceil(M/Mw)) + bytes_out M N
 * The GEMM takes max(compute + wave edges, traffic / bandwidth).
 *
 * e = matrix.efficiency (efficiency_fp8 for FP8) is what the model does not see: the clock the SMs
 * hold under load (below the clock the peak assumes) and issue overheads. The
 * presets derive it from a measured cuBLAS GEMM by taking out the losses this
 * model already counts for that shape (data/hw/h100-sxm.json, docs/engine.md),
 * so nothing is counted twice.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

typedef struct gpu_ctx {
    double m, k, n, batch;
    double in_b, out_b;
    double p;     /* MACs per cycle per SM */
    double slots; /* resident blocks over all SMs */
    double bpc, tk, clock, eff, bw;
} gpu_ctx;

typedef struct gpu_choice {
    double seconds, compute_s, memory_s, edge_s, bytes;
    double tm, tn, tiles, split, waves, tile_cycles, items;
} gpu_choice;

/* One wave's output region, slots x tm x tn elements as square as the matrix
 * allows: its blocks share these A rows and B columns through L2. */
static void wave_region(const gpu_ctx *g, double tm, double tn, double *mw, double *nw)
{
    double region = g->slots * tm * tn;
    *mw = engine_min(g->m, engine_max(tm, sqrt(region)));
    *nw = engine_min(g->n, engine_max(tn, region / *mw));
}

/* HBM bytes when each wave reads the A rows and B columns of its region once;
 * split-K adds its fp32 partial sums, written and read back. */
static double wave_traffic(const gpu_ctx *g, double mw, double nw, double split)
{
    double per_gemm = g->in_b * g->k * (g->m * ceil(g->n / nw) + g->n * ceil(g->m / mw)) +
                      g->out_b * g->m * g->n;
    double partials = split > 1.0 ? 2.0 * 4.0 * g->m * g->n * split : 0.0;
    return g->batch * (per_gemm + partials);
}

static gpu_choice evaluate(const gpu_ctx *g, double tm, double tn)
{
    gpu_choice c;
    double mw, nw;
    c.tm = tm;
    c.tn = tn;
    c.tiles = ceil(g->m / tm) * ceil(g->n / tn) * g->batch;
    double ksteps = ceil(g->k / g->tk);
    c.split = c.tiles < g->slots ? engine_min(floor(g->slots / c.tiles), ksteps) : 1.0;
    c.items = c.tiles * c.split;
    c.waves = ceil(c.items / g->slots);
    c.tile_cycles = tm * tn * g->tk * ceil(ksteps / c.split) / g->p;
    c.compute_s = c.waves * c.tile_cycles * g->bpc / (g->clock * g->eff);
    wave_region(g, tm, tn, &mw, &nw);
    /* each wave waits for its first K step; the last wave's C tiles are
     * stored after its last MMA (earlier stores overlap the next wave) */
    double first_step = (mw + nw) * g->tk * g->in_b;
    double last_store = engine_min(c.items, g->slots) * tm * tn * (c.split > 1.0 ? 4.0 : g->out_b);
    c.edge_s = (c.waves * first_step + last_store) / g->bw;
    c.bytes = wave_traffic(g, mw, nw, c.split);
    c.memory_s = c.bytes / g->bw;
    c.seconds = engine_max(c.compute_s + c.edge_s, c.memory_s);
    return c;
}

/* The preset's tile; when it leaves SMs idle (fewer tiles than slots) or is
 * wider than the matrix (attention's head-dim products), also the smaller
 * tiles and split-K a library picks for such problems. */
static gpu_choice best_tile(const gpu_ctx *g, const hw_matrix *x)
{
    gpu_choice best = evaluate(g, x->tile_m, x->tile_n);
    if (best.tiles >= g->slots && g->m >= x->tile_m && g->n >= x->tile_n)
        return best;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            double tm = engine_max(1.0, floor(x->tile_m / (double)(1 << i)));
            double tn = engine_max(1.0, floor(x->tile_n / (double)(1 << j)));
            gpu_choice c = evaluate(g, tm, tn);
            bool faster = c.seconds < best.seconds ||
                          (c.seconds == best.seconds &&
                           c.compute_s + c.edge_s < best.compute_s + best.edge_s);
            if (faster)
                best = c;
        }
    return best;
}

engine_cost engine_gpu_gemm(const hw_chip *chip, const engine_shape *shape, usim_dtype compute,
                            usim_dtype storage, int sms, engine_gemm_detail *d)
{
    const hw_matrix *x = &chip->matrix;
    gpu_ctx g;
    g.m = (double)shape->m;
    g.k = (double)shape->k;
    g.n = (double)shape->n;
    g.batch = (double)shape->batch;
    g.in_b = usim_dtype_bytes(storage);
    g.out_b = engine_out_bytes(storage);
    g.p = (double)x->rows * x->cols * x->arrays_per_core * hw_per_dtype_get(&x->macs_per_pe, compute);
    g.bpc = x->blocks_per_core;
    g.slots = (double)sms * g.bpc;
    g.tk = x->tile_k;
    g.clock = x->clock_hz;
    g.eff = hw_matrix_efficiency(x, compute);
    g.bw = engine_hbm_bytes_per_s(chip) * sms / chip->cores;
    gpu_choice c = best_tile(&g, x);
    double macs = g.m * g.k * g.n * g.batch;
    engine_cost cost;
    memset(&cost, 0, sizeof cost);
    cost.flops = 2.0 * macs;
    cost.bytes = c.bytes;
    cost.compute_s = c.compute_s;
    cost.memory_s = c.memory_s;
    cost.seconds = c.seconds;
    double steady = c.compute_s * c.items / (c.waves * g.slots);
    cost.bound = engine_bound_of(steady, c.memory_s, c.compute_s - steady + c.edge_s);
    d->peak_flops = 2.0 * g.p * sms * g.clock;
    cost.utilisation = cost.flops / (cost.seconds * d->peak_flops);
    d->systolic = false;
    d->instructions = c.tiles;
    d->interval_cycles = c.tile_cycles;
    d->tile_m = (int64_t)c.tm;
    d->tile_n = (int64_t)c.tn;
    d->tile_k = (int64_t)g.tk;
    d->tiles = c.tiles;
    d->waves = c.waves;
    d->split_k = c.split;
    d->wave_efficiency = c.items / (c.waves * g.slots);
    d->pad_efficiency = macs / (c.tiles * c.tm * c.tn * g.tk * ceil(g.k / g.tk));
    d->steady_cycles = c.waves * c.tile_cycles * g.bpc;
    d->array_utilisation = macs / (g.p * sms * d->steady_cycles);
    d->steady_utilisation = d->array_utilisation / d->wave_efficiency;
    d->sustained_fraction = g.eff;
    d->edge_s = c.edge_s;
    wave_region(&g, c.tm, c.tn, &d->block_m, &d->block_n);
    d->core_seconds = cost.seconds;
    d->core_bytes_per_s = g.bw;
    return cost;
}
