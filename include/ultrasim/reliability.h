/*
 * ultrasim reliability layer: failures, checkpoints and goodput.
 *
 * A synchronous training job stops when any of its parts fails, so its
 * failure rate is the sum of its parts' rates: chips, HBM stacks, hosts,
 * NICs, links and software (FIT, failures per 10^9 hours, from the hardware
 * description). Between failures it checkpoints every tau seconds at a
 * blocking cost delta; a failure loses the work since the last checkpoint and
 * costs a restart R. The expected wall time follows Daly (2006, "A higher
 * order estimate of the optimum checkpoint interval for restart dumps"):
 *
 *     T_wall = M e^(R/M) (e^((tau + delta)/M) - 1) T_solve / tau
 *
 * with M the job's mean time between failures. A seeded Monte-Carlo run of
 * the same process checks it (tests: within 2%) and gives the spread.
 */
#ifndef ULTRASIM_RELIABILITY_H
#define ULTRASIM_RELIABILITY_H

#include <stdint.h>

#include "ultrasim/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rel_part {
    REL_CHIP, REL_HBM, REL_HOST, REL_SOFTWARE, REL_NIC, REL_LINK, REL_PART_COUNT
} rel_part;

const char *rel_part_name(rel_part p);

/* Failures per second of a job on sys->chips chips, by part. */
typedef struct rel_rates {
    double per_s[REL_PART_COUNT];
    double total_per_s;
    double mtbf_s;
} rel_rates;

rel_rates rel_job_rates(const hw_system *sys);

/* The checkpoint/restart process of one run. */
typedef struct rel_process {
    double solve_s;      /* failure-free time of the whole run */
    double interval_s;   /* tau: compute between checkpoints */
    double checkpoint_s; /* delta: blocking cost of one checkpoint */
    double restart_s;    /* R: from failure to computing again */
    double mtbf_s;       /* M */
} rel_process;

/* Daly's expected wall time. */
double rel_expected_wall_s(const rel_process *p);

/* The tau that minimises the expected wall time (golden-section search on
 * Daly's formula), and Young's first-order sqrt(2 delta M) for comparison.
 * Without failures (M infinite) both are infinite: never checkpoint. */
double rel_optimal_interval_s(const rel_process *p);
double rel_young_interval_s(double checkpoint_s, double mtbf_s);

typedef struct rel_monte_carlo {
    double mean_wall_s, stddev_wall_s;
    double mean_failures;
    int runs;
} rel_monte_carlo;

/* Told after each Monte-Carlo run; fn may be NULL. */
typedef struct rel_progress {
    void (*fn)(void *ctx, int done, int runs);
    void *ctx;
} rel_progress;

/* The Monte-Carlo work, in events (random draws and checkpoint segments),
 * that `runs` runs of the process take on average; infinite when the run
 * never finishes. Some 5 x 10^7 events take a second. */
double rel_monte_carlo_events(const rel_process *p, int runs);

#define REL_MC_MAX_EVENTS 1e8

/* Simulates `runs` runs of the process with exponential failures (seeded,
 * deterministic). Refuses (USIM_EINPUT) work over REL_MC_MAX_EVENTS: a
 * failure rate near the top of its range would otherwise run for hours. */
usim_status rel_simulate(const rel_process *p, int runs, uint64_t seed,
                         const rel_progress *progress, rel_monte_carlo *out, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
