/*
 * A fused attention block, flash-attention style (Dao et al., "FlashAttention",
 * 2022, and "FlashAttention-2", 2023): for each tile of queries, loop over
 * blocks of keys, computing S = Q K^T for the block, the online softmax (row
 * max, exp, row sum, rescale of the running output) and O += P V, without
 * writing S or P to HBM. Causal masking skips the blocks entirely above the
 * diagonal; blocks it cuts are computed whole.
 *
 * Work is counted in (query tile, key block) pairs. Queries of one KV head's
 * group (grouped-query attention, heads / kv_heads queries share K and V) are
 * packed into one tile when they fit (decoding: a few queries against a long
 * cache), else each head's queries are tiled on their own.
 *
 * Trainium, per pair (trainium.c's instruction intervals, with whichever
 * operand is stationary costing less, and an output tile of bq x bk with bq =
 * the array's columns and bk = the moving free size, 128 x 512 on Trn2):
 *     tensor   QK^T (contraction d) + transposes of P (nc_transpose: max(P, min(64, F))
 *              cycles per 128 keys) + PV (contraction bk)
 *     vector   row max over bk, rescale of the output (d)
 *     scalar   exp(S - max) with its row sum (bk)
 * The backward pass recomputes S and P and does five products (QK^T, dP = dO V^T,
 * dV = P^T dO, dQ = dS K, dK = dS^T Q) and two sets of transposes; its vector
 * work is dS = P (dP - D) (two inputs, 2 bk). The three engines work on
 * successive pairs at once, so the slowest sets the pace; the array's fill
 * and drain is paid once.
 *
 * GPUs: a pair is 2 bq bk d MACs on one SM's tensor cores (5 bq bk d backward)
 * at the sustained rate of tensorcore.c, one exponential per score on the
 * special-function units (16 per cycle per SM on A100 and H100, CUDA
 * programming guide, throughput table) and about 3 more vector operations
 * per score (max, sum, scale; twice backward) on its lanes. A warp runs its
 * softmax between its two products, so the three add up rather than overlap
 * (the FlashAttention-2 schedule; FlashAttention-3, Shah et al. 2024, shows
 * the exponential alone costing about half the matmul time at head dim 128
 * when not overlapped). Query tiles are padded to tile_m / 2 rows (the
 * smallest tile the GEMM model uses).
 *
 * Pairs are shared out over the cores (or SMs); when there are fewer query
 * tiles than cores, a tile's key blocks are split between cores (as
 * flash-decoding does), so a core does max(pairs / cores, the longest tile's
 * blocks / split).
 *
 * Memory: Q and O once (backward: Q, O, dO read and dQ written), the log-sum-exp
 * rows, and K and V once per core that works on their group when one head's K
 * and V fit in half of a core's SBUF (GPUs: once, shared through L2), else once
 * per query tile that needs them; backward also writes dK and dV.
 *
 * FLOPs are the useful ones: 4 d per unmasked (query, key) pair forward, 10 d
 * backward (2.5 times, the usual count with recomputation).
 *
 * Per-head kernels (TensorRT-LLM's masked multi-head attention before XQA)
 * are the fused model with each query head tiled alone and reading its own
 * K and V. Unfused attention is a chain of kernels, each paid in full: QK^T
 * and PV as batched GEMMs over every (sequence, head) with the whole score
 * matrix computed (the causal mask is applied in the softmax), a fused
 * scale-mask-softmax pass reading and writing the scores, and with dropout
 * a pass writing the dropped probabilities and a 1-byte mask. Its backward
 * is four GEMMs (dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q) and the
 * dropout and softmax gradient passes over the stored probabilities.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

typedef struct attn {
    double b, h, hk, q, kv, d;
    double w; /* causal sliding window in keys; 0: none */
    bool causal, backward, per_head;
} attn;

/* Sum of clamp(y, 0, t) over the integers y <= x. */
static double clamped_sum(double x, double t)
{
    if (x <= 0)
        return 0.0;
    if (x <= t)
        return x * (x + 1.0) / 2.0;
    return t * (t + 1.0) / 2.0 + (x - t) * t;
}

/* Keys query i may see: i + kv - q + 1 when causal (the queries are the last q
 * positions), clamped to [0, kv], and to the window w when there is one;
 * summed over i in [0, q). */
static double useful_pairs(const attn *a)
{
    if (!a->causal)
        return a->q * a->kv;
    if (a->w > 0) {
        double off = a->kv - a->q, t = engine_min(a->w, a->kv);
        return clamped_sum(a->q + off, t) - clamped_sum(off, t);
    }
    double off = a->kv - a->q;
    double i0 = engine_min(engine_max(0.0, -off), a->q);
    double i1 = engine_min(engine_max(a->kv - off - 1.0, i0), a->q);
    double n = i1 - i0;
    return n * (off + 1.0) + n * (i0 + i1 - 1.0) / 2.0 + (a->q - i1) * a->kv;
}

/* Key blocks of bk that query tiles of bq rows compute, for one head. */
static double tile_blocks(const attn *a, double bq, double bk, double *longest)
{
    double nq = ceil(a->q / bq), nk = ceil(a->kv / bk);
    *longest = nk;
    if (!a->causal)
        return nq * nk;
    if (nq > 100000) /* long enough that the staircase is a triangle */
        return engine_min(nq * nk, useful_pairs(a) / (bq * bk) + nq);
    double off = a->kv - a->q, sum = 0.0;
    *longest = 0;
    for (double t = 0; t < nq; t++) {
        double seen = engine_min(a->q, (t + 1.0) * bq) + off; /* keys the tile's last query sees */
        double blocks = engine_min(nk, engine_max(0.0, ceil(seen / bk)));
        if (a->w > 0 && seen > 0) { /* the band: from the first query's window start */
            double first = engine_max(0.0, t * bq + off - a->w + 1.0);
            blocks = engine_min(blocks, floor((seen - 1.0) / bk) - floor(first / bk) + 1.0);
        }
        sum += blocks;
        *longest = engine_max(*longest, blocks);
    }
    return sum;
}

/* How the work divides: tiles, their rows, pairs in all, and the longest
 * tile's blocks. */
typedef struct tiling {
    double rows, tiles, pairs, longest;
} tiling;

static tiling tile_work(const attn *a, double bq, double bk)
{
    tiling t;
    double group = a->h / a->hk;
    if (a->q * group <= bq && !a->per_head) { /* the group's queries share one tile */
        t.rows = a->q * group;
        t.tiles = a->b * a->hk;
        double per = tile_blocks(a, a->q, bk, &t.longest);
        t.pairs = t.tiles * per;
    } else {
        t.rows = engine_min(bq, a->q);
        double per = tile_blocks(a, bq, bk, &t.longest);
        t.tiles = a->b * a->h * ceil(a->q / bq);
        t.pairs = a->b * a->h * per;
    }
    return t;
}

/* Pairs the busiest core (or SM) does. */
static double busiest(const tiling *t, double cores)
{
    double split = t->tiles < cores ? engine_max(1.0, floor(cores / t->tiles)) : 1.0;
    return engine_max(ceil(t->pairs / cores), ceil(t->longest / engine_min(split, t->longest)));
}

static double trn_matmul(const hw_chip *chip, usim_dtype dt, double s, double v, double k)
{
    return engine_min(engine_trn_matmul_cycles(chip, dt, s, v, k),
                      engine_trn_matmul_cycles(chip, dt, v, s, k));
}

/* The three engines work on successive pairs at once: the busier of the
 * vector and scalar engines hides behind the products or they behind it. */
static engine_attention_parts trn_parts(const hw_chip *chip, const attn *a, usim_dtype dt,
                                        double bk, const tiling *t)
{
    const hw_matrix *x = &chip->matrix;
    double qk = trn_matmul(chip, dt, t->rows, bk, a->d);
    double pv = trn_matmul(chip, dt, t->rows, a->d, bk);
    double tr = ceil(bk / x->rows) * engine_max(t->rows, engine_min(x->issue_min_cycles, x->rows));
    double tensor = a->backward ? 2.0 * qk + 2.0 * tr + 3.0 * pv : qk + tr + pv;
    double vector = a->backward ? 2.0 * bk : bk + a->d;
    double scalar = bk;
    double pairs = busiest(t, chip->cores);
    double tensor_s = pairs * tensor / (x->clock_hz * x->efficiency);
    double vector_s = pairs * vector / chip->vector.clock_hz;
    double scalar_s = pairs * scalar / chip->scalar.clock_hz; /* a copy of vector if absent */
    double softmax_s = engine_max(vector_s, scalar_s);
    return (engine_attention_parts){tensor_s, softmax_s, engine_min(tensor_s, softmax_s),
                                    (x->rows + x->cols - 2.0) / x->clock_hz};
}

static engine_attention_parts gpu_parts(const hw_chip *chip, const attn *a, usim_dtype dt,
                                        double bk, const tiling *t)
{
    const hw_matrix *x = &chip->matrix;
    double p = (double)x->rows * x->cols * x->arrays_per_core * hw_per_dtype_get(&x->macs_per_pe, dt);
    double rows = engine_max(t->rows, floor(x->tile_m / 2.0));
    double macs = (a->backward ? 5.0 : 2.0) * rows * bk * a->d;
    double ops = (a->backward ? 6.0 : 3.0) * rows * bk;
    double special = chip->vector.special_per_cycle > 0 ? chip->vector.special_per_cycle
                                                        : chip->vector.elements_per_cycle;
    /* each core's query tiles pay their prologue and epilogue as blocks */
    double pairs =
        busiest(t, chip->cores) + x->attention_tile_overhead * ceil(t->tiles / chip->cores);
    double tensor_s = pairs * macs / (p * x->clock_hz * hw_matrix_efficiency(x, dt));
    double vector_s = pairs * ops / (chip->vector.elements_per_cycle * chip->vector.clock_hz);
    double softmax_s = pairs * rows * bk / (special * chip->vector.clock_hz) + vector_s;
    /* A forward hides the share of its softmax the chip's kernels run beside
     * the products; the backward's five products and two score passes run as
     * FlashAttention-2 ordered them (its measured rates, docs/engine.md). */
    double hidden = a->backward ? 0.0 : x->softmax_overlap * engine_min(tensor_s, softmax_s);
    return (engine_attention_parts){tensor_s, softmax_s, hidden, 0.0};
}

/* A fused kernel's tiles: queries of bq rows against key blocks of bk (the
 * array's columns and moving size on Trainium, the GEMM tile on GPUs). */
static tiling fused_tiling(const hw_chip *chip, const attn *a, double *bq, double *bk)
{
    const hw_matrix *x = &chip->matrix;
    bool systolic = x->kind == HW_MATRIX_SYSTOLIC;
    double moving = x->moving_free_max > 0 ? x->moving_free_max : x->cols;
    *bq = systolic ? x->cols : x->tile_m;
    *bk = systolic ? moving : x->tile_m;
    return tile_work(a, *bq, *bk);
}

static engine_attention_parts fused_parts(const hw_chip *chip, const attn *a, usim_dtype dt)
{
    double bq, bk;
    tiling t = fused_tiling(chip, a, &bq, &bk);
    return chip->matrix.kind == HW_MATRIX_SYSTOLIC ? trn_parts(chip, a, dt, bk, &t)
                                                   : gpu_parts(chip, a, dt, bk, &t);
}

static double attention_bytes(const hw_chip *chip, const attn *a, double el, double bq, double bk)
{
    double q_side = a->b * a->h * a->q * (a->d * el * (a->backward ? 4.0 : 2.0) + 4.0);
    double one_head_kv = 2.0 * a->kv * a->d * el;
    double writes = a->backward ? a->b * a->hk * one_head_kv : 0.0; /* dK, dV */
    bool systolic = chip->matrix.kind == HW_MATRIX_SYSTOLIC;
    if (a->per_head)
        return q_side + a->b * a->h * one_head_kv + writes;
    if (!systolic)
        return q_side + a->b * a->hk * one_head_kv + writes;
    if (one_head_kv <= chip->sram.per_core_bytes / 2.0) {
        double readers = engine_max(1.0, engine_min(a->h / a->hk, chip->cores / (a->b * a->hk)));
        return q_side + a->b * a->hk * one_head_kv * readers + writes;
    }
    double longest;
    double per_head = tile_blocks(a, bq, bk, &longest);
    return q_side + a->b * a->h * per_head * 2.0 * bk * a->d * el + writes;
}

/* FlashAttention-2 cannot beat its own benchmarks: the time at the share of
 * the 16-bit array peak it reaches on this chip, forward or backward. */
static double flash2_floor_s(const hw_chip *chip, const attn *a, double flops)
{
    const hw_matrix *x = &chip->matrix;
    double share = a->backward && x->flash2_efficiency_backward > 0 ? x->flash2_efficiency_backward
                                                                    : x->flash2_efficiency;
    double peak = 2.0 * x->rows * x->cols * x->arrays_per_core *
                  hw_per_dtype_get(&x->macs_per_pe, USIM_BF16) * x->clock_hz * chip->cores;
    return share > 0 && peak > 0 ? flops / (share * peak) : 0.0;
}

static attn attn_of(const engine_attention_op *op)
{
    attn a;
    a.b = op->batch > 1 ? (double)op->batch : 1.0;
    a.h = op->heads > 1 ? (double)op->heads : 1.0;
    a.hk = op->kv_heads >= 1 && op->kv_heads <= op->heads ? (double)op->kv_heads : a.h;
    a.q = op->q_len > 1 ? (double)op->q_len : 1.0;
    a.kv = op->kv_len > 1 ? (double)op->kv_len : 1.0;
    a.d = op->head_dim > 1 ? (double)op->head_dim : 1.0;
    a.w = op->window > 0 && op->kernel != ENGINE_ATTN_UNFUSED ? (double)op->window : 0.0;
    if (!op->causal && a.w > 0) { /* decoding: only the last window keys are read */
        a.kv = engine_min(a.kv, a.w);
        a.w = 0.0;
    } else if (a.w > 0) { /* keys before the first query's window are never read */
        a.kv = engine_min(a.kv, a.q + a.w - 1.0);
    }
    a.causal = op->causal;
    a.backward = op->backward;
    a.per_head = op->kernel == ENGINE_ATTN_PER_HEAD;
    return a;
}

static void cost_add(engine_cost *sum, engine_cost c)
{
    sum->seconds += c.seconds;
    sum->compute_s += c.compute_s;
    sum->memory_s += c.memory_s;
    sum->flops += c.flops;
    sum->bytes += c.bytes;
}

/* A pass over the score matrix: `bytes` and `flops` per score. */
static engine_cost score_pass(const hw_chip *chip, double scores, double flops, double bytes)
{
    engine_vector_op op = {scores, flops, scores * bytes, ENGINE_VECTOR};
    return engine_vector(chip, &op);
}

static engine_cost unfused_attention(const hw_chip *chip, const attn *a, usim_dtype storage,
                                     bool dropout)
{
    /* (m, k, n) of each product: forward QK^T, PV; backward dP, dV, dQ, dK */
    const double products[6][3] = {{a->q, a->d, a->kv}, {a->q, a->kv, a->d},
                                   {a->q, a->d, a->kv}, {a->kv, a->q, a->d},
                                   {a->q, a->kv, a->d}, {a->kv, a->q, a->d}};
    double el = usim_dtype_bytes(storage), scores = a->b * a->h * a->q * a->kv;
    engine_cost c;
    memset(&c, 0, sizeof c);
    for (int i = a->backward ? 2 : 0; i < (a->backward ? 6 : 2); i++) {
        engine_gemm_op g = {(int64_t)products[i][0], (int64_t)products[i][1],
                            (int64_t)products[i][2], (int64_t)(a->b * a->h), storage};
        cost_add(&c, engine_gemm(chip, &g));
    }
    /* softmax: max, subtract, exp, sum, scale; its gradient reads dP and P */
    cost_add(&c, a->backward ? score_pass(chip, scores, 4, 3 * el)
                             : score_pass(chip, scores, 5, 2 * el));
    if (dropout) /* read, write, and the mask (written forward, read backward) */
        cost_add(&c, score_pass(chip, scores, 2, 2 * el + 1));
    c.flops = (a->backward ? 8.0 : 4.0) * a->d * a->b * a->h * useful_pairs(a);
    c.bound = engine_bound_of(c.compute_s, c.memory_s, 0.0);
    return c;
}

double engine_attention_layer_s(const hw_chip *chip, engine_attention_op op, int64_t window,
                                double sliding_share)
{
    op.window = 0;
    double full = engine_in_graph(chip, engine_attention(chip, &op)).seconds;
    if (!(sliding_share > 0.0) || window < 1)
        return full;
    op.window = window;
    double band = engine_in_graph(chip, engine_attention(chip, &op)).seconds;
    return (1.0 - sliding_share) * full + sliding_share * band;
}

/* An attention kernel's two DMA set-ups, whatever its size. */
static double dma_setups_s(const hw_chip *chip)
{
    return 2.0 * chip->dma.fixed_latency_s;
}

double engine_attention_fixed_s(const hw_chip *chip)
{
    return dma_setups_s(chip) + chip->launch_overhead_s;
}

double engine_attention_launches_s(const hw_chip *chip, const engine_attention_op *op)
{
    if (op->kernel == ENGINE_ATTN_UNFUSED)
        return 0.0;
    return chip->launch_overhead_s * (op->backward ? 2.0 : 1.0);
}

engine_attention_parts engine_attention_explain(const hw_chip *chip,
                                                const engine_attention_op *op)
{
    engine_attention_parts none = {0.0, 0.0, 0.0, 0.0};
    attn a = attn_of(op);
    usim_dtype storage = op->dtype >= 0 && op->dtype < USIM_DTYPE_COUNT ? op->dtype : USIM_BF16;
    usim_dtype dt = engine_compute_dtype(chip, storage);
    if (op->kernel == ENGINE_ATTN_UNFUSED || dt == USIM_DTYPE_COUNT)
        return none;
    return fused_parts(chip, &a, dt);
}

engine_cost engine_attention(const hw_chip *chip, const engine_attention_op *op)
{
    engine_cost c;
    memset(&c, 0, sizeof c);
    attn a = attn_of(op);
    usim_dtype storage = op->dtype >= 0 && op->dtype < USIM_DTYPE_COUNT ? op->dtype : USIM_BF16;
    usim_dtype dt = engine_compute_dtype(chip, storage);
    if (op->kernel == ENGINE_ATTN_UNFUSED) {
        c = unfused_attention(chip, &a, storage, op->dropout);
    } else {
        double bq, bk;
        fused_tiling(chip, &a, &bq, &bk);
        c.flops = (a.backward ? 10.0 : 4.0) * a.d * a.b * a.h * useful_pairs(&a);
        c.bytes = attention_bytes(chip, &a, usim_dtype_bytes(storage), bq, bk);
        c.memory_s = c.bytes / engine_hbm_bytes_per_s(chip);
        if (dt == USIM_DTYPE_COUNT) {
            c.compute_s = INFINITY;
        } else {
            engine_attention_parts p = fused_parts(chip, &a, dt);
            c.compute_s = p.tensor_s + p.softmax_s - p.hidden_s + p.fill_s;
        }
        if (op->kernel == ENGINE_ATTN_FLASH2)
            c.compute_s = engine_max(c.compute_s, flash2_floor_s(chip, &a, c.flops));
        double fixed_s = dma_setups_s(chip) + engine_attention_launches_s(chip, op);
        c.seconds = engine_max(c.compute_s, c.memory_s) + fixed_s;
        c.bound = engine_bound_of(c.compute_s, c.memory_s, fixed_s);
    }
    double peak = hw_per_dtype_get(&chip->dense_flops, storage);
    if (peak <= 0 && dt != USIM_DTYPE_COUNT)
        peak = hw_per_dtype_get(&chip->dense_flops, dt);
    c.utilisation = peak > 0 && isfinite(c.seconds) ? c.flops / (c.seconds * peak) : 0.0;
    return c;
}
