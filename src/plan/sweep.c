/*
 * Running a sweep: every point of the grid not yet in the database, on all
 * cores (worker threads) or across MPI ranks, results written by one thread
 * of one rank.
 *
 * Workers share nothing but text: the writer hands each a request as JSON
 * text and takes back the result as JSON text, so the library's objects are
 * never shared between threads. Results are committed in batches (every 32
 * points or every second); a point is finished when its row is committed,
 * and a restart runs exactly the points without a row.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plan/internal.h"
#include "plan/runner.h"

#define BATCH_POINTS 32
#define BATCH_SECONDS 1.0

/* ---- the writer's side (shared by threads and MPI) ----------------- */

usim_status sweep_writer_init(sweep_writer *w, const plan_sweep_options *o, usim_error *err)
{
    memset(w, 0, sizeof *w);
    w->o = o;
    usim_status st = sweep_spec_load(o->spec_file, o, &w->spec, err);
    if (st != USIM_OK)
        return st;
    st = sweep_db_open(&w->db, o->db_path, &w->spec, err);
    if (st != USIM_OK) {
        sweep_spec_free(&w->spec);
        return st;
    }
    w->done = calloc((size_t)w->spec.points, 1);
    if (!w->done)
        st = usim_fail(err, USIM_ERUNTIME, "out of memory for %lld points", w->spec.points);
    if (st == USIM_OK)
        st = sweep_db_done(&w->db, w->done, w->spec.points, &w->done_before, err);
    if (st == USIM_OK)
        st = sweep_db_begin(&w->db, err);
    w->started = w->last_commit = usim_now_s();
    if (st != USIM_OK)
        sweep_writer_free(w);
    return st;
}

void sweep_writer_free(sweep_writer *w)
{
    if (w->db.db)
        sweep_db_close(&w->db);
    sweep_spec_free(&w->spec);
    free(w->done);
    w->done = NULL;
}

/* The next point not yet recorded, as request text; false when none left. */
bool sweep_next_request(sweep_writer *w, long long *id, char **text)
{
    while (w->next < w->spec.points && w->done[w->next])
        w->next++;
    if (w->next >= w->spec.points)
        return false;
    json_t *inputs = NULL;
    json_t *req = sweep_point_request(&w->spec, w->next, &inputs);
    *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    json_decref(inputs);
    *id = w->next++;
    return *text != NULL;
}

static void draw_progress(sweep_writer *w, bool final)
{
    long long total = w->spec.points - w->done_before, done = w->computed;
    double elapsed = usim_now_s() - w->started;
    if (!w->o->progress || (!final && usim_now_s() - w->last_draw < 0.2))
        return;
    w->last_draw = usim_now_s();
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 30, filled = total > 0 ? (int)(width * done / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '=' : ' ';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %lld/%lld %.1f points/s ETA %.0fs ", bar, done, total, rate, eta);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Records a finished point (its result text, or its error). */
usim_status sweep_record(sweep_writer *w, long long id, usim_status run_status,
                         const usim_error *run_err, const char *result_text, usim_error *err)
{
    json_t *inputs = NULL;
    json_t *req = sweep_point_request(&w->spec, id, &inputs);
    json_t *result = result_text ? json_loads(result_text, 0, NULL) : NULL;
    char reason[1024] = "";
    const char *status = run_status == USIM_OK ? "ok" : run_status == USIM_EINPUT ? "invalid"
                                                                                  : "error";
    if (run_status != USIM_OK)
        usim_error_format(run_err, reason, sizeof reason);
    usim_status st = sweep_db_insert(&w->db, id, status, run_status == USIM_OK ? NULL : reason,
                                     inputs, result, err);
    json_decref(req);
    json_decref(inputs);
    json_decref(result);
    if (st != USIM_OK)
        return st;
    w->computed++;
    w->ok += run_status == USIM_OK;
    w->invalid += run_status == USIM_EINPUT;
    w->failed += run_status == USIM_ERUNTIME;
    w->uncommitted++;
    if (w->uncommitted >= BATCH_POINTS || usim_now_s() - w->last_commit >= BATCH_SECONDS) {
        st = sweep_db_commit(&w->db, err);
        if (st == USIM_OK)
            st = sweep_db_begin(&w->db, err);
        w->uncommitted = 0;
        w->last_commit = usim_now_s();
    }
    draw_progress(w, false);
    return st;
}

usim_status sweep_writer_finish(sweep_writer *w, plan_sweep_summary *out, usim_error *err)
{
    usim_status st = sweep_db_commit(&w->db, err);
    draw_progress(w, true);
    if (st == USIM_OK && w->o->csv_path)
        st = sweep_db_export_csv(&w->db, w->o->csv_path, err);
    out->points = w->spec.points;
    out->done_before = w->done_before;
    out->computed = w->computed;
    out->ok = w->ok;
    out->invalid = w->invalid;
    out->failed = w->failed;
    out->seconds = usim_now_s() - w->started;
    return st;
}

/* ---- threads -------------------------------------------------------- */

typedef struct job {
    long long id;
    char *request;
    char *result;
    usim_status status;
    usim_error err;
    struct job *next;
} job;

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_ready, result_ready;
    job *todo, *done;
    bool closing;
    plan_run_fn run;
} pool;

static void push(job **list, job *j)
{
    j->next = *list;
    *list = j;
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->todo && !p->closing)
            pthread_cond_wait(&p->work_ready, &p->lock);
        job *j = p->todo;
        if (j)
            p->todo = j->next;
        pthread_mutex_unlock(&p->lock);
        if (!j)
            return NULL;
        usim_error_clear(&j->err);
        j->status = p->run(j->request, &j->result, &j->err);
        pthread_mutex_lock(&p->lock);
        push(&p->done, j);
        pthread_cond_signal(&p->result_ready);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Keeps 2 x jobs requests queued; records results as they come back. */
static usim_status run_threads(sweep_writer *w, int jobs, usim_error *err)
{
    pool p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
              NULL, NULL, false, w->o->run};
    pthread_t threads[PLAN_JOBS_MAX];
    int started = 0, in_flight = 0;
    usim_status st = USIM_OK;
    for (; started < jobs; started++)
        if (pthread_create(&threads[started], NULL, worker, &p) != 0)
            break;
    if (started == 0)
        return usim_fail(err, USIM_ERUNTIME, "cannot start worker threads");
    bool more = true;
    while (st == USIM_OK && (more || in_flight > 0)) {
        pthread_mutex_lock(&p.lock);
        while (more && in_flight < 2 * started) {
            job *j = calloc(1, sizeof *j);
            if (!j || !sweep_next_request(w, &j->id, &j->request)) {
                free(j);
                more = false;
                break;
            }
            push(&p.todo, j);
            in_flight++;
            pthread_cond_signal(&p.work_ready);
        }
        while (!p.done && in_flight > 0)
            pthread_cond_wait(&p.result_ready, &p.lock);
        job *finished = p.done;
        p.done = NULL;
        pthread_mutex_unlock(&p.lock);
        while (finished) {
            job *j = finished;
            finished = j->next;
            if (st == USIM_OK)
                st = sweep_record(w, j->id, j->status, &j->err, j->result, err);
            in_flight--;
            free(j->request);
            free(j->result);
            free(j);
        }
    }
    pthread_mutex_lock(&p.lock);
    p.closing = true;
    pthread_cond_broadcast(&p.work_ready);
    pthread_mutex_unlock(&p.lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (job *j = p.todo; j;) { /* left over after an error */
        job *next = j->next;
        free(j->request);
        free(j);
        j = next;
    }
    return st;
}

usim_status plan_sweep(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    return sweep_mpi_launched() ? sweep_mpi(o, out, err) : sweep_threads(o, out, err);
}

usim_status sweep_threads(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err)
{
    sweep_writer w;
    usim_status st = sweep_writer_init(&w, o, err);
    if (st != USIM_OK)
        return st;
    out->jobs = plan_thread_count(o->jobs);
    out->ranks = 1;
    st = run_threads(&w, out->jobs, err);
    if (st == USIM_OK)
        st = sweep_writer_finish(&w, out, err);
    sweep_writer_free(&w);
    return st;
}
