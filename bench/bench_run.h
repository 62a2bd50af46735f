/*
 * What the benchmarks that go through the front door share: a clock, the
 * process's peak resident memory, and one request timed best of a few runs.
 */
#ifndef USIM_BENCH_RUN_H
#define USIM_BENCH_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ultrasim/ultrasim.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

/* Runs request repeats times; prints the best wall time and the peak RSS. */
static void run(const char *label, const char *request, int repeats)
{
    double best = 1e300;
    for (int i = 0; i < repeats; i++) {
        char *out = NULL;
        usim_error err;
        usim_error_clear(&err);
        double t0 = now();
        usim_status st = usim_run(request, &out, &err);
        double t = now() - t0;
        if (st != USIM_OK) {
            printf("%-58s FAILED: %s\n", label, err.message);
            return;
        }
        free(out);
        if (t < best)
            best = t;
    }
    printf("%-58s %9.3f s   peak RSS %6.0f MiB\n", label, best, peak_mib());
}

#endif
