/*
 * Everything that is not a matrix multiply: elementwise work, reductions and
 * normalisations on the vector and scalar engines, and plain HBM traffic.
 *
 * An engine streams elements_per_cycle elements per cycle per core at its own
 * clock (Trn2: vector 256 lanes at 0.96 GHz, scalar 128 at 1.2 GHz; an H100 SM
 * 128 FP32 lanes; the presets cite each). On Trainium an instruction over N
 * elements per partition costs about N cycles with one input and 2N with two
 * (vector), at least MIN_II = 64 cycles, plus a static overhead of about 100
 * cycles when instructions are small or dependent (HARDWARE.md sec. 6; the NKI
 * ISA's "estimated instruction cost" of each instruction). So here:
 *
 *     one pass over E elements = E / (cores x elements_per_cycle x clock)
 *
 * and an operation of p passes takes p of those plus one fixed overhead
 * (fixed_overhead_cycles / clock). It reads and writes HBM at the sustained
 * bandwidth (hbm.bandwidth x hbm.efficiency) at the same time, so it takes the
 * longer of the two: for the element sizes of training and inference nearly
 * everything here is memory-bound, which the bound field says.
 *
 * A layer (engine_layer_cost) is the instruction sequence an NKI kernel
 * issues, split between the vector and scalar engines, which work on
 * successive tiles at the same time (the slower engine sets the pace):
 *
 *   op           vector passes                      scalar passes           HBM
 *   elementwise  1 (tensor_scalar)                  -                       in 1, out 1
 *   binary       2 (tensor_tensor: two inputs)      -                       in 2, out 1
 *   reduce       1 (tensor_reduce)                  -                       in 1
 *   softmax      1 max + 1 scale by 1/sum           1 exp(x - max), summed  in 1, out 1
 *   layernorm    1 bn_stats + 2 gamma, beta         1 (x - mean) rstd       in 1, out 1
 *   rmsnorm      2 x rstd gamma (two inputs)        1 square, summed        in 1, out 1
 *   activation   -                                  1 (activation)          in 1, out 1
 *   swiglu       2 silu(a) x b (two inputs)         1 silu(a)               in 2, out 1
 *
 * A chip without a scalar engine (GPUs) runs every pass on its vector lanes.
 * FLOPs are counted one per basic operation per element (a transcendental
 * counts as one), as the "useful" work; they matter little next to the
 * bytes.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

/* A chip description without a scalar engine gets a copy of its vector engine
 * (src/hw/load.c): an identical scalar engine is the vector engine itself. */
static bool has_scalar(const hw_chip *chip)
{
    const hw_engine *s = &chip->scalar, *v = &chip->vector;
    return s->clock_hz > 0 && s->elements_per_cycle > 0 &&
           !(s->clock_hz == v->clock_hz && s->elements_per_cycle == v->elements_per_cycle &&
             s->fixed_overhead_cycles == v->fixed_overhead_cycles);
}

static const hw_engine *unit_engine(const hw_chip *chip, engine_unit unit)
{
    return unit == ENGINE_SCALAR && has_scalar(chip) ? &chip->scalar : &chip->vector;
}

static double elements_per_s(const hw_chip *chip, const hw_engine *e)
{
    return (double)chip->cores * e->elements_per_cycle * e->clock_hz;
}

static double nonneg(double x)
{
    return x > 0 && isfinite(x) ? x : 0.0;
}

/* Passes over the elements on one engine: throughput time and fixed time. */
static void engine_time(const hw_chip *chip, const hw_engine *e, double elements, double passes,
                        double *throughput_s, double *fixed_s)
{
    *throughput_s = elements * passes / elements_per_s(chip, e);
    *fixed_s = passes > 0 && elements > 0 ? e->fixed_overhead_cycles / e->clock_hz : 0.0;
}

engine_cost engine_vector(const hw_chip *chip, const engine_vector_op *op)
{
    engine_cost c;
    memset(&c, 0, sizeof c);
    double elements = nonneg(op->elements), passes = nonneg(op->flops_per_element);
    const hw_engine *e = unit_engine(chip, op->unit);
    double throughput_s, fixed_s;
    engine_time(chip, e, elements, passes, &throughput_s, &fixed_s);
    c.flops = elements * passes;
    c.bytes = nonneg(op->bytes);
    c.compute_s = throughput_s + fixed_s;
    c.memory_s = c.bytes / engine_hbm_bytes_per_s(chip);
    c.seconds = engine_max(c.compute_s, c.memory_s) +
                (elements > 0 || c.bytes > 0 ? chip->launch_overhead_s : 0.0);
    c.bound = engine_bound_of(throughput_s, c.memory_s, fixed_s);
    c.utilisation = c.seconds > 0 ? c.flops / (c.seconds * elements_per_s(chip, e)) : 0.0;
    return c;
}

typedef struct recipe {
    const char *name;
    double vector_passes, scalar_passes;
    double inputs, outputs; /* elements read and written per element */
    double flops;
} recipe;

static const recipe RECIPES[ENGINE_OP_COUNT] = {
    {"elementwise", 1, 0, 1, 1, 1}, {"binary", 2, 0, 2, 1, 1},  {"reduce", 1, 0, 1, 0, 1},
    {"softmax", 2, 1, 1, 1, 5},     {"layernorm", 3, 1, 1, 1, 8}, {"rmsnorm", 2, 1, 1, 1, 4},
    {"activation", 0, 1, 1, 1, 1},  {"swiglu", 2, 1, 2, 1, 2},
};

const char *engine_layer_op_name(engine_layer_op op)
{
    return op >= 0 && op < ENGINE_OP_COUNT ? RECIPES[op].name : "?";
}

bool engine_layer_op_parse(const char *name, engine_layer_op *out)
{
    for (int i = 0; i < ENGINE_OP_COUNT; i++) {
        if (strcmp(name, RECIPES[i].name) == 0) {
            *out = (engine_layer_op)i;
            return true;
        }
    }
    return false;
}

engine_cost engine_layer_cost(const hw_chip *chip, engine_layer_op op, double rows, double cols,
                              usim_dtype dtype)
{
    engine_cost c;
    memset(&c, 0, sizeof c);
    if (op < 0 || op >= ENGINE_OP_COUNT)
        return c;
    const recipe *r = &RECIPES[op];
    double elements = nonneg(rows) * nonneg(cols);
    const hw_engine *vec = &chip->vector, *sca = unit_engine(chip, ENGINE_SCALAR);
    double vt, vf, st, sf;
    if (sca == vec) {
        engine_time(chip, vec, elements, r->vector_passes + r->scalar_passes, &vt, &vf);
        st = sf = 0.0;
    } else {
        engine_time(chip, vec, elements, r->vector_passes, &vt, &vf);
        engine_time(chip, sca, elements, r->scalar_passes, &st, &sf);
    }
    double reduced = op == ENGINE_OP_REDUCE ? nonneg(rows) : 0.0; /* one result per row */
    c.flops = elements * r->flops;
    c.bytes = usim_dtype_bytes(dtype) * (elements * (r->inputs + r->outputs) + reduced);
    c.compute_s = engine_max(vt + vf, st + sf);
    c.memory_s = c.bytes / engine_hbm_bytes_per_s(chip);
    c.seconds = engine_max(c.compute_s, c.memory_s) + chip->launch_overhead_s;
    c.bound = engine_bound_of(engine_max(vt, st), c.memory_s, engine_max(vf, sf));
    double rate = elements_per_s(chip, vec) * (r->vector_passes > 0 ? 1.0 : 0.0) +
                  (sca != vec ? elements_per_s(chip, sca) : 0.0);
    c.utilisation = c.seconds > 0 && rate > 0 ? c.flops / (c.seconds * rate) : 0.0;
    return c;
}

/* HBM at the sustained bandwidth, plus one DMA's fixed cost (Trainium's
 * ~1.3 us; zero where the chip has no DMA figure). */
engine_cost engine_memory(const hw_chip *chip, double bytes)
{
    engine_cost c;
    memset(&c, 0, sizeof c);
    c.bytes = nonneg(bytes);
    c.memory_s = c.bytes / engine_hbm_bytes_per_s(chip);
    double fixed_s = c.bytes > 0 ? chip->dma.fixed_latency_s : 0.0;
    c.seconds = c.memory_s + fixed_s;
    c.bound = fixed_s > c.memory_s ? ENGINE_BOUND_LATENCY : ENGINE_BOUND_MEMORY;
    return c;
}

engine_cost engine_roofline(const hw_chip *chip, double flops, double bytes, usim_dtype dtype,
                            bool matrix)
{
    if (!matrix) {
        engine_vector_op op = {nonneg(flops), 1, nonneg(bytes), ENGINE_VECTOR};
        return engine_vector(chip, &op);
    }
    engine_cost c;
    memset(&c, 0, sizeof c);
    double peak = hw_per_dtype_get(&chip->dense_flops, dtype);
    if (!(peak > 0)) { /* computed at the next type the units have, as engine_gemm does */
        dtype = USIM_BF16;
        peak = hw_per_dtype_get(&chip->dense_flops, dtype);
    }
    double rate = peak * hw_matrix_efficiency(&chip->matrix, dtype);
    c.flops = nonneg(flops);
    c.bytes = nonneg(bytes);
    c.compute_s = rate > 0 ? c.flops / rate : (c.flops > 0 ? INFINITY : 0);
    c.memory_s = c.bytes / engine_hbm_bytes_per_s(chip);
    c.seconds = engine_max(c.compute_s, c.memory_s) +
                (c.flops > 0 || c.bytes > 0 ? chip->launch_overhead_s : 0.0);
    c.bound = engine_bound_of(c.compute_s, c.memory_s, chip->launch_overhead_s);
    c.utilisation = c.seconds > 0 && peak > 0 ? c.flops / (c.seconds * peak) : 0.0;
    return engine_in_graph(chip, c);
}
