/*
 * How fast the engine layer answers: GEMM shapes per second for the classic
 * array's closed forms (the issue asks for at least 10 million on one core),
 * for the whole-chip models the training simulator calls (Trainium
 * instruction model, GPU tiles), and the wall time of a SCALE-Sim topology
 * file parsed and run in SCALE-Sim mode. Run by `make bench`; results go to
 * bench/RESULTS.md by hand.
 *
 *   bench_gemm [SECONDS_PER_CASE]    (default 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ultrasim/engine.h"

#define SHAPES 4096

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct shape {
    int64_t m, k, n;
} shape;

/* Sizes from 1 to about 64K, log-uniform, as a simulator asks for them. */
static void make_shapes(shape *s)
{
    unsigned x = 12345;
    for (int i = 0; i < SHAPES; i++) {
        int64_t v[3];
        for (int j = 0; j < 3; j++) {
            x = x * 1664525u + 1013904223u;
            v[j] = 1 + (int64_t)((x >> 8) % (1u << (1 + (x >> 28)))) * 16;
        }
        s[i] = (shape){v[0], v[1], v[2]};
    }
}

typedef double (*kernel)(const shape *s, const void *ctx);

static double array_ws(const shape *s, const void *ctx)
{
    (void)ctx;
    return engine_array_gemm(128, 128, ENGINE_WS, s->m, s->k, s->n, false).cycles;
}

static double array_scalesim_os(const shape *s, const void *ctx)
{
    (void)ctx;
    return engine_array_gemm(128, 128, ENGINE_OS, s->m, s->k, s->n, true).cycles;
}

static double chip_gemm(const shape *s, const void *ctx)
{
    engine_gemm_op op = {s->m, s->k, s->n, 1, USIM_BF16};
    return engine_gemm((const hw_chip *)ctx, &op).seconds;
}

static double core_gemm(const shape *s, const void *ctx)
{
    engine_gemm_op op = {s->m, s->k, s->n, 1, USIM_BF16};
    engine_gemm_detail d;
    return engine_core_gemm((const hw_chip *)ctx, &op, &d).seconds;
}

/* Runs f over the shapes for at least `seconds`; returns shapes per second. */
static double rate(kernel f, const void *ctx, const shape *s, double seconds, double *sink)
{
    double start = now_s(), elapsed;
    long n = 0;
    do {
        for (int i = 0; i < SHAPES; i++)
            *sink += f(&s[i], ctx);
        n += SHAPES;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (double)n / elapsed;
}

static double topology_ms(const char *path, engine_dataflow df, double *sink)
{
    double start = now_s();
    int runs = 0;
    do {
        engine_topology t;
        usim_error err;
        usim_error_clear(&err);
        if (engine_topology_load(path, ENGINE_TOPO_AUTO, &t, &err) != USIM_OK) {
            fprintf(stderr, "bench_gemm: %s\n", err.message);
            return -1;
        }
        for (size_t i = 0; i < t.count; i++)
            *sink += engine_array_gemm(128, 128, df, t.layers[i].m, t.layers[i].k,
                                       t.layers[i].n, true)
                         .cycles;
        engine_topology_free(&t);
        runs++;
    } while (now_s() - start < 0.2);
    return (now_s() - start) / runs * 1e3;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0, sink = 0;
    static shape shapes[SHAPES];
    make_shapes(shapes);
    hw_chip trn2, h100;
    usim_error err;
    usim_error_clear(&err);
    if (hw_load_chip("trn2", &trn2, &err) != USIM_OK ||
        hw_load_chip("h100-sxm", &h100, &err) != USIM_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.message);
        return 1;
    }
    printf("bench_gemm: engine layer evaluation speed, one core\n");
    printf("  %-44s %12.3g shapes/s\n", "array model, WS textbook (engine_array_gemm)",
           rate(array_ws, NULL, shapes, seconds, &sink));
    printf("  %-44s %12.3g shapes/s\n", "array model, OS SCALE-Sim mode",
           rate(array_scalesim_os, NULL, shapes, seconds, &sink));
    printf("  %-44s %12.3g shapes/s\n", "trn2 one NeuronCore (engine_core_gemm)",
           rate(core_gemm, &trn2, shapes, seconds, &sink));
    printf("  %-44s %12.3g shapes/s\n", "trn2 chip GEMM (engine_gemm)",
           rate(chip_gemm, &trn2, shapes, seconds, &sink));
    printf("  %-44s %12.3g shapes/s\n", "h100-sxm chip GEMM (engine_gemm)",
           rate(chip_gemm, &h100, shapes, seconds, &sink));
    const char *topo = "tests/data/scalesim/transformer_partial.csv";
    double ms = topology_ms(topo, ENGINE_OS, &sink);
    if (ms >= 0)
        printf("  %-44s %12.4f ms per run (read + 6 layers)\n",
               "transformer_partial.csv, SCALE-Sim OS", ms);
    printf("  (checksum %.6g)\n", sink);
    return 0;
}
