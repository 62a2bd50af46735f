/* The sweep's writer side, shared by the thread runner (sweep.c) and the MPI
 * runner (mpi.c) (internal). */
#ifndef USIM_PLAN_RUNNER_H
#define USIM_PLAN_RUNNER_H

#include "plan/internal.h"

typedef struct sweep_writer {
    const plan_sweep_options *o;
    sweep_spec spec;
    sweep_db db;
    unsigned char *done; /* per point: already in the database */
    long long next, done_before, computed, ok, invalid, failed, uncommitted;
    double started, last_commit, last_draw;
} sweep_writer;

usim_status sweep_writer_init(sweep_writer *w, const plan_sweep_options *o, usim_error *err);
void sweep_writer_free(sweep_writer *w);
bool sweep_next_request(sweep_writer *w, long long *id, char **text);
usim_status sweep_record(sweep_writer *w, long long id, usim_status run_status,
                         const usim_error *run_err, const char *result_text, usim_error *err);
usim_status sweep_writer_finish(sweep_writer *w, plan_sweep_summary *out, usim_error *err);

/* Runs the sweep on this process's threads. */
usim_status sweep_threads(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err);

/* True when this process was started by mpirun. */
bool sweep_mpi_launched(void);
usim_status sweep_mpi(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err);

#endif
