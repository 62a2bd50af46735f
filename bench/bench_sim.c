/*
 * Simulation speed at scale: one training step of Llama 3.1 405B on 16,384
 * and 131,072 Trn2 UltraServer chips, the plan search for 405B on 16,384
 * chips, and 100,000 requests through continuous batching. Wall time of
 * each (best of three) and the process's peak resident memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    run("train 405B, 16,384 trn2u chips, TP 64 PP 16",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 16384, \"tp\": 64, \"pp\": 16, \"gbs\": 2048, \"seq\": 8192}",
        3);
    run("train 405B, 131,072 trn2u chips, TP 64 PP 16",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 131072, \"tp\": 64, \"pp\": 16, \"gbs\": 16384, \"seq\": 8192}",
        3);
    run("train 405B, 16,384 H100, TP 8 PP 16 VP 4",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"dgx-h100\", "
        "\"chips\": 16384, \"tp\": 8, \"pp\": 16, \"vp\": 4, \"gbs\": 2048, \"seq\": 8192}",
        3);
    run("serve 100,000 requests, continuous batching, llama3-8b",
        "{\"command\": \"serve\", \"model\": \"llama3-8b\", \"hw\": \"dgx-h100\", \"tp\": 1, "
        "\"batch\": 256, \"mode\": \"offline\", \"requests\": 100000, \"isl\": 512, \"osl\": 128, "
        "\"isl-spread\": 0.5, \"osl-spread\": 0.5}",
        1);
    run("plan search 405B, 16,384 trn2u chips (all cores)",
        "{\"command\": \"plan\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 16384, \"gbs\": 2048, \"seq\": 8192}",
        1);
    return 0;
}
