/*
 * ultrasim plan layer: many simulations at once.
 *
 *   - sweeps: a grid over any command's options (and any hardware figure, as
 *     "hw.chip.hbm.bandwidth"), run on all cores or across MPI ranks, every
 *     point recorded in a SQLite database (one row per point, inputs and
 *     outputs as columns), resumable after a kill at any moment;
 *   - plan search: the fastest valid parallel plan for a model on a system.
 */
#ifndef ULTRASIM_PLAN_H
#define ULTRASIM_PLAN_H

#include "ultrasim/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a point is run: the front door (usim_run), handed down by the caller so
 * that this layer does not depend on the commands above it. check runs the
 * request's validation only (no simulation). */
typedef usim_status (*plan_run_fn)(const char *request_json, char **result_json,
                                   usim_error *err);
typedef usim_status (*plan_check_fn)(const char *request_json, usim_error *err);

typedef struct plan_sweep_options {
    plan_run_fn run;
    plan_check_fn check;
    const char *spec_file;  /* the sweep's JSON spec */
    const char *db_path;    /* SQLite database (created or resumed) */
    const char *csv_path;   /* optional: every row as CSV at the end */
    int jobs;               /* worker threads (0 = one per core) */
    bool progress;          /* draw a progress bar on stderr */
} plan_sweep_options;

typedef struct plan_sweep_summary {
    long long points, done_before, computed, ok, invalid, failed;
    double seconds;
    int ranks, jobs;
    bool worker; /* an MPI rank other than the writer: it prints nothing */
} plan_sweep_summary;

usim_status plan_sweep(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
