/*
 * Number formats of the matrix engine's inputs, for the functional model.
 *
 * A binary float format is its mantissa width (stored bits), its smallest
 * normal exponent (below it values are subnormal, with the same quantum) and
 * its largest finite value:
 *
 *     format     mantissa  min normal exp  max finite          on overflow
 *     tf32       10        -126            (2 - 2^-10) 2^127   infinity
 *     bf16        7        -126            (2 - 2^-7) 2^127    infinity
 *     fp16       10         -14            65504               infinity
 *     fp8 e4m3    3          -6            448                 saturate
 *     fp8 e5m2    2         -14            57344               saturate
 *     fp4 e2m1    1           0            6                   saturate
 *
 * (IEEE 754 for fp16; bf16 and tf32 are fp32's range with 7 and 10 mantissa
 * bits; the fp8 pair is the OCP 8-bit floating point specification, OFP8,
 * 2023, which NKI's float8_e4m3 / float8_e5m2 follow; e2m1 is the element of the
 * OCP Microscaling formats v1.0, the FP4 of NVFP4 and MXFP4, without its block
 * scale.) Rounding is to nearest,
 * ties to even, the IEEE default and what conversion units implement. An
 * e4m3 value has no infinity and conversions to fp8 saturate to the largest
 * finite value (the "satfinite" conversions of NVIDIA's PTX cvt; the OCP
 * specification allows either), so both fp8 formats saturate here.
 *
 * Rounding works in double: x = f 2^E with the exponent clamped to the
 * format's smallest normal one, the quantum is 2^(E - mantissa bits), and
 * rint(x / quantum) (ties to even in the default rounding mode) times the
 * quantum is exact.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

typedef struct number_format {
    const char *name;
    int mantissa_bits; /* 0 = fp32 itself, no rounding */
    int min_exponent;
    double max_finite;
    bool saturate;
} number_format;

static const number_format FORMATS[ENGINE_NUM_COUNT] = {
    {"fp32", 0, 0, 0.0, false},
    {"tf32", 10, -126, 0x1.ffcp127, false},
    {"bf16", 7, -126, 0x1.fep127, false},
    {"fp16", 10, -14, 65504.0, false},
    {"e4m3", 3, -6, 448.0, true},
    {"e5m2", 2, -14, 57344.0, true},
    {"e2m1", 1, 0, 6.0, true},
};

const char *engine_number_name(engine_number t)
{
    return t >= ENGINE_NUM_FP32 && t < ENGINE_NUM_COUNT ? FORMATS[t].name : "?";
}

bool engine_number_parse(const char *name, engine_number *out)
{
    if (strcmp(name, "fp8") == 0 || strcmp(name, "fp8_e4m3") == 0) {
        *out = ENGINE_NUM_FP8_E4M3;
        return true;
    }
    if (strcmp(name, "fp8_e5m2") == 0) {
        *out = ENGINE_NUM_FP8_E5M2;
        return true;
    }
    for (int t = 0; t < ENGINE_NUM_COUNT; t++) {
        if (strcmp(name, FORMATS[t].name) == 0) {
            *out = (engine_number)t;
            return true;
        }
    }
    return false;
}

engine_number engine_number_of(usim_dtype t)
{
    switch (t) {
    case USIM_FP4:
        return ENGINE_NUM_FP4_E2M1;
    case USIM_FP8:
        return ENGINE_NUM_FP8_E4M3;
    case USIM_BF16:
        return ENGINE_NUM_BF16;
    case USIM_FP16:
        return ENGINE_NUM_FP16;
    case USIM_TF32:
        return ENGINE_NUM_TF32;
    case USIM_FP32:
    case USIM_DTYPE_COUNT:
        break;
    }
    return ENGINE_NUM_FP32;
}

float engine_round(engine_number t, float x)
{
    if (t <= ENGINE_NUM_FP32 || t >= ENGINE_NUM_COUNT || isnan(x) || x == 0.0f)
        return x;
    const number_format *f = &FORMATS[t];
    double ax = fabs((double)x), y;
    if (isinf(ax)) {
        y = f->saturate ? f->max_finite : ax;
    } else {
        int e;
        frexp(ax, &e); /* ax = g 2^e with 0.5 <= g < 1: the normal exponent is e - 1 */
        int exponent = e - 1 < f->min_exponent ? f->min_exponent : e - 1;
        double quantum = ldexp(1.0, exponent - f->mantissa_bits);
        y = rint(ax / quantum) * quantum;
        if (y > f->max_finite)
            y = f->saturate ? f->max_finite : (double)INFINITY;
    }
    return (float)copysign(y, (double)x);
}
