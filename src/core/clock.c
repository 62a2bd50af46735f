/*
 * Clock: seconds on the monotonic clock, for progress lines and the time a
 * run took. Monotonic rather than wall-clock time, so that a clock set
 * back or forward during a run cannot make an elapsed time negative.
 */
#include <time.h>

#include "ultrasim/core.h"

double usim_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
