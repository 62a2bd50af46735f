/*
 * Derived figures: peaks from first principles and system aggregates.
 *
 * Two bases for peak compute exist and do not agree on Trainium2: the array
 * (128 x 128 PEs x 2 FLOP x 2.4 GHz x 8 cores = 629 TFLOPS BF16 per chip) and
 * the published table (667 TFLOPS). A chip's `dense_flops` is the basis used
 * for totals and MFU (the published table where one exists); `array_flops` is
 * always printed beside it so the gap is visible.
 */
#include <stdio.h>
#include <string.h>

#include "hw/internal.h"

static const char *const DTYPE_NAMES[USIM_DTYPE_COUNT] = {"fp8",  "bf16", "fp16",
                                                          "tf32", "fp32", "fp4"};

const char *usim_dtype_name(usim_dtype t)
{
    return t >= 0 && t < USIM_DTYPE_COUNT ? DTYPE_NAMES[t] : "?";
}

bool usim_dtype_parse(const char *name, usim_dtype *out)
{
    for (int t = 0; t < USIM_DTYPE_COUNT; t++) {
        if (strcmp(name, DTYPE_NAMES[t]) == 0) {
            *out = (usim_dtype)t;
            return true;
        }
    }
    return false;
}

double usim_dtype_bytes(usim_dtype t)
{
    switch (t) {
    case USIM_FP4:
        return 0.5;
    case USIM_FP8:
        return 1.0;
    case USIM_BF16:
    case USIM_FP16:
        return 2.0;
    case USIM_TF32:
    case USIM_FP32:
    case USIM_DTYPE_COUNT:
        break;
    }
    return 4.0;
}

double hw_per_dtype_get(const hw_per_dtype *v, usim_dtype t)
{
    switch (t) {
    case USIM_FP8:
        return v->fp8;
    case USIM_BF16:
        return v->bf16;
    case USIM_FP16:
        return v->fp16;
    case USIM_TF32:
        return v->tf32;
    case USIM_FP4:
        return v->fp4;
    case USIM_FP32:
    case USIM_DTYPE_COUNT:
        break;
    }
    return v->fp32;
}

static hw_per_dtype per_dtype_scaled(const hw_per_dtype *v, double k)
{
    return (hw_per_dtype){v->fp8 * k, v->bf16 * k, v->fp16 * k, v->tf32 * k, v->fp32 * k, v->fp4 * k};
}

const char *hw_topology_name(int kind)
{
    static const char *const NAMES[] = {"none", "ring", "torus", "switch", "mesh"};
    return kind >= 0 && kind <= HW_TOPO_MESH ? NAMES[kind] : "?";
}

/* peak = rows x cols x arrays x MACs/PE/cycle x 2 FLOP/MAC x clock */
double hw_core_matrix_flops(const hw_chip *chip, usim_dtype t)
{
    const hw_matrix *m = &chip->matrix;
    return (double)m->rows * m->cols * m->arrays_per_core *
           hw_per_dtype_get(&m->macs_per_pe, t) * 2.0 * m->clock_hz;
}

/* A vendor's per-chip link figure counts both directions when marked so. */
static double per_direction(double bandwidth, bool bidirectional)
{
    return bidirectional ? bandwidth / 2.0 : bandwidth;
}

double hw_node_bandwidth_per_direction(const hw_system *sys)
{
    return per_direction(sys->node.bandwidth_per_chip, sys->node.bidirectional);
}

double hw_domain_bandwidth_per_direction(const hw_system *sys)
{
    return per_direction(sys->domain.bandwidth_per_chip, sys->node.bidirectional);
}

hw_totals hw_derive(const hw_system *sys)
{
    hw_totals t;
    const hw_chip *c = &sys->chip;
    memset(&t, 0, sizeof t);
    t.chips = sys->chips;
    t.chips_per_domain = sys->default_chips;
    t.nodes = (sys->chips + sys->node.chips - 1) / sys->node.chips;
    t.domains = (sys->chips + sys->default_chips - 1) / sys->default_chips;
    t.dense_flops = per_dtype_scaled(&c->dense_flops, sys->chips);
    hw_per_dtype array = {0};
    double *dst[] = {&array.fp8, &array.bf16, &array.fp16, &array.tf32, &array.fp32, &array.fp4};
    for (int d = 0; d < USIM_DTYPE_COUNT; d++)
        *dst[d] = hw_core_matrix_flops(c, (usim_dtype)d) * c->cores;
    t.array_flops = per_dtype_scaled(&array, sys->chips);
    t.hbm_bytes = c->hbm.capacity_bytes * sys->chips;
    t.hbm_bytes_per_s = c->hbm.bandwidth_bytes_per_s * sys->chips;
    /* a node of one chip has no links inside it, whatever its file says */
    t.scaleup_bytes_per_s_per_chip = sys->node.chips > 1 ? sys->node.bandwidth_per_chip : 0.0;
    if (sys->domain.nodes > 1 && sys->chips > sys->node.chips)
        t.scaleup_bytes_per_s_per_chip += sys->domain.bandwidth_per_chip;
    t.scaleout_bits_per_s_per_chip = sys->node.nic_bandwidth_per_chip * 8.0;
    t.power_w = c->power_w * sys->chips;
    t.usd_per_hour = sys->price.usd_per_chip_hour * sys->chips;
    return t;
}

/* Presets agree within 3% (B200 TF32: arrays +2.3%, as NVIDIA rounds); 10%
 * above the stated peak is a slip (a clock in MHz as GHz, a doubled count). */
#define HW_PEAK_TOLERANCE 1.10

bool hw_peak_warning(const hw_chip *chip, const char *file, char *buf, size_t size)
{
    int worst = -1;
    double worst_ratio = HW_PEAK_TOLERANCE;
    for (int d = 0; d < USIM_DTYPE_COUNT; d++) {
        double stated = hw_per_dtype_get(&chip->dense_flops, (usim_dtype)d);
        double arrays = hw_core_matrix_flops(chip, (usim_dtype)d) * chip->cores;
        if (stated > 0 && arrays / stated > worst_ratio) {
            worst_ratio = arrays / stated;
            worst = d;
        }
    }
    buf[0] = '\0';
    if (worst < 0)
        return false;
    char arrays[48], stated[48];
    usim_dtype t = (usim_dtype)worst;
    usim_format_quantity(hw_core_matrix_flops(chip, t) * chip->cores, USIM_UNIT_FLOPS, arrays,
                         sizeof arrays);
    usim_format_quantity(hw_per_dtype_get(&chip->dense_flops, t), USIM_UNIT_FLOPS, stated,
                         sizeof stated);
    snprintf(buf, size,
             "%s: chip %s: its matrix arrays give %s %s (cores x arrays_per_core x rows x cols x "
             "macs_per_pe_per_cycle x 2 x clock), %.0f%% of its stated dense_flops.%s %s; "
             "check matrix.* and dense_flops",
             file, chip->name, arrays, usim_dtype_name(t), 100.0 * worst_ratio,
             usim_dtype_name(t), stated);
    return true;
}

hw_chip hw_chip_sustained(const hw_chip *chip)
{
    hw_chip c = *chip;
    double s = chip->matrix.sustained > 0 ? chip->matrix.sustained : 1.0;
    hw_matrix *m = &c.matrix;
    m->efficiency *= s;
    m->efficiency_fp8 *= s;
    m->efficiency_fp8_split_acc *= s;
    /* FlashAttention-2's measured rates stay: on Hopper it leaves the tensor
     * cores half idle, below the power that pulls the clock down. */
    return c;
}

static void divide_rates(hw_per_dtype *v, double parts)
{
    v->fp8 /= parts;
    v->bf16 /= parts;
    v->fp16 /= parts;
    v->tf32 /= parts;
    v->fp32 /= parts;
    v->fp4 /= parts;
}

hw_chip hw_chip_part(const hw_chip *chip, int parts)
{
    hw_chip c = *chip;
    if (parts <= 1)
        return c;
    c.cores = chip->cores / parts;
    c.hbm.capacity_bytes /= parts;
    c.hbm.bandwidth_bytes_per_s /= parts;
    c.hbm.stacks = chip->hbm.stacks >= parts ? chip->hbm.stacks / parts : 1;
    c.dma.engines = chip->dma.engines >= parts ? chip->dma.engines / parts : 1;
    c.dma.bandwidth_bytes_per_s /= parts;
    divide_rates(&c.dense_flops, parts);
    divide_rates(&c.published_chip_flops, parts);
    return c;
}

double hw_matrix_efficiency(const hw_matrix *m, usim_dtype t)
{
    /* FP4 runs at the FP8 figure: no FP4 GEMM efficiency is published apart */
    bool narrow = t == USIM_FP8 || t == USIM_FP4;
    return narrow && m->efficiency_fp8 > 0 ? m->efficiency_fp8 : m->efficiency;
}
