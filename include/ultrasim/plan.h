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
#include "ultrasim/train.h"

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

/* ---- plan search ------------------------------------------------------ */

typedef enum plan_objective {
    PLAN_OBJECTIVE_TIME,   /* step time */
    PLAN_OBJECTIVE_COST,   /* dollars per step */
    PLAN_OBJECTIVE_ENERGY  /* joules per step */
} plan_objective;

#define PLAN_TOP_MAX 32

typedef struct plan_search_options {
    wl_plan plan;  /* gbs, seq, dtype and the overlap switches; degrees are searched */
    int top;       /* plans to return, 1..PLAN_TOP_MAX */
    int objective; /* plan_objective */
    int jobs;      /* threads (0 = one per online core, at most PLAN_JOBS_MAX); the
                      result is the same on any number */
    /* Called after each plan simulated, under the search's lock (NULL: none):
     * plans simulated so far, of `fitting` that fit in memory (the search stops
     * early once no plan left can win). */
    void (*progress)(void *ctx, long long simulated, long long fitting);
    void *progress_ctx;
} plan_search_options;

#define PLAN_JOBS_MAX 64

/* Threads for a run that asks for `asked` (0: one per online core), at most
 * PLAN_JOBS_MAX. */
int plan_thread_count(int asked);
/* Runs work(arg) on plan_thread_count(jobs) threads at once (on the
 * caller's thread when that is 1, or when no thread can be started) and
 * returns once all are done. work takes its items from arg under its own
 * lock until none is left. */
void plan_run_pool(void *(*work)(void *), void *arg, int jobs);

typedef struct plan_search_result {
    int count;
    wl_plan plans[PLAN_TOP_MAX];
    train_result results[PLAN_TOP_MAX];
    double scores[PLAN_TOP_MAX];
    long long considered, invalid, too_big, feasible, simulated;
} plan_search_result;

usim_status plan_search(const wl_model *m, const hw_system *sys, const plan_search_options *o,
                        plan_search_result *out, usim_error *err);


#ifdef __cplusplus
}
#endif
#endif
