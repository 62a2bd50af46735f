/* One replica's serving loop (internal to serve/). */
#ifndef USIM_SERVE_LOOP_H
#define USIM_SERVE_LOOP_H

#include "serve/internal.h"

typedef struct replica {
    const serve_deployment *d;
    const serve_workload *w;
    serve_ctx target, draft;
    serve_request *req;  /* all requests */
    int64_t *ids;        /* this replica's, in arrival order */
    int64_t n, next, done;
    int64_t to_issue;    /* closed loop: the next request a free client sends */
    int64_t *waiting;    /* queue of ids: [whead, wtail); a preempted one goes back at whead - 1 */
    int64_t whead, wtail;
    int64_t *running;
    double *part;        /* per running request: tokens in this iteration */
    serve_prefill *prefill_buf;
    int nrun;
    double t, kv_used, kv_capacity, peak_kv;
    double kv_reserved; /* engines that admit only what they can finish: the running
                           requests' whole prompt + output, in blocks */
    bool prefill_only;   /* a disaggregated prefill replica: done after the prefill */
    uint64_t rng;
    int64_t iterations, preemptions;
    serve_hist *itl;     /* shared by the run's replicas */
} replica;

usim_status serve_replica_run(replica *r, usim_error *err);

#endif
