/*
 * Sweeps across MPI ranks (OpenMPI): `mpirun -n N ultrasim sweep SPEC.json`.
 *
 * Rank 0 owns the database: it hands out points one at a time to whichever
 * rank asks (dynamic, so slow points do not hold up the rest) and records
 * what comes back. The other ranks run points and print nothing. Messages
 * are JSON text: {"id": i, "request": {...}} out, {"id": i, "status": s,
 * "error": "...", "result": {...}} back; an empty message means stop.
 * Without MPI built in, a sweep started by mpirun says so.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/runner.h"

static bool launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMI_SIZE") != NULL ||
           getenv("PMIX_RANK") != NULL;
}

#ifndef USIM_HAVE_MPI

bool sweep_mpi_launched(void)
{
    return launched_by_mpirun();
}

usim_status sweep_mpi(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err)
{
    (void)o;
    (void)out;
    return usim_fail(err, USIM_ERUNTIME,
                     "this ultrasim was built without MPI; install libopenmpi-dev and rebuild, "
                     "or run the sweep without mpirun (it uses every core)");
}

#else
#include <mpi.h>

enum { TAG_WORK = 1, TAG_RESULT = 2 };

bool sweep_mpi_launched(void)
{
    return launched_by_mpirun();
}

static char *recv_text(int source, int tag, int *from)
{
    MPI_Status status;
    int count;
    MPI_Probe(source, tag, MPI_COMM_WORLD, &status);
    MPI_Get_count(&status, MPI_CHAR, &count);
    if (from) /* the sender is known even when its text cannot be held */
        *from = status.MPI_SOURCE;
    char *text = malloc((size_t)count + 1);
    if (!text)
        return NULL;
    MPI_Recv(text, count, MPI_CHAR, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    text[count] = '\0';
    return text;
}

static void send_text(const char *text, int dest, int tag)
{
    MPI_Send(text, (int)strlen(text), MPI_CHAR, dest, tag, MPI_COMM_WORLD);
}

/* A message to worker `dest`: the next point, or "" to stop. */
static bool send_next(sweep_writer *w, int dest)
{
    long long id;
    char *request = NULL;
    if (!sweep_next_request(w, &id, &request)) {
        send_text("", dest, TAG_WORK);
        return false;
    }
    json_t *msg = json_pack("{s:I, s:s}", "id", (json_int_t)id, "request", request);
    char *text = json_dumps(msg, JSON_COMPACT);
    send_text(text ? text : "", dest, TAG_WORK);
    free(text);
    free(request);
    json_decref(msg);
    return true;
}

static usim_status record_message(sweep_writer *w, const char *text, usim_error *err)
{
    json_t *msg = json_loads(text, 0, NULL);
    usim_error run_err;
    usim_error_clear(&run_err);
    long long id = (long long)json_integer_value(json_object_get(msg, "id"));
    int status = (int)json_integer_value(json_object_get(msg, "status"));
    const char *e = json_string_value(json_object_get(msg, "error"));
    snprintf(run_err.message, sizeof run_err.message, "%s", e ? e : "");
    const char *result = json_string_value(json_object_get(msg, "result"));
    usim_status st = sweep_record(w, id, (usim_status)status, &run_err, result, err);
    json_decref(msg);
    return st;
}

static usim_status coordinate(const plan_sweep_options *o, int ranks, plan_sweep_summary *out,
                              usim_error *err)
{
    sweep_writer w;
    usim_status st = sweep_writer_init(&w, o, err);
    int working = 0;
    for (int r = 1; r < ranks; r++) /* on failure every worker is told to stop */
        working += st == USIM_OK ? send_next(&w, r) : (send_text("", r, TAG_WORK), 0);
    while (working > 0) {
        int from = 0;
        char *text = recv_text(MPI_ANY_SOURCE, TAG_RESULT, &from);
        if (!text && st == USIM_OK)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory for a worker's result");
        if (text && st == USIM_OK)
            st = record_message(&w, text, err);
        free(text);
        working--;
        if (st == USIM_OK)
            working += send_next(&w, from);
        else
            send_text("", from, TAG_WORK);
    }
    if (w.done && st == USIM_OK)
        st = sweep_writer_finish(&w, out, err);
    if (w.done)
        sweep_writer_free(&w);
    return st;
}

static void work(const plan_sweep_options *o)
{
    for (;;) {
        char *text = recv_text(0, TAG_WORK, NULL);
        if (!text || !text[0]) {
            free(text);
            return;
        }
        json_t *msg = json_loads(text, 0, NULL);
        free(text);
        char *result = NULL;
        usim_error e;
        usim_error_clear(&e);
        const char *request = json_string_value(json_object_get(msg, "request"));
        usim_status st = o->run(request ? request : "{}", &result, &e);
        char line[1024];
        usim_error_format(&e, line, sizeof line);
        json_t *reply = json_pack("{s:O, s:i, s:s, s:s?}", "id", json_object_get(msg, "id"),
                                  "status", (int)st, "error", st == USIM_OK ? "" : line,
                                  "result", result);
        char *out = json_dumps(reply, JSON_COMPACT);
        send_text(out ? out : "{}", 0, TAG_RESULT);
        free(out);
        free(result);
        json_decref(reply);
        json_decref(msg);
    }
}

usim_status sweep_mpi(const plan_sweep_options *o, plan_sweep_summary *out, usim_error *err)
{
    int provided, rank, ranks;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    usim_status st = USIM_OK;
    out->ranks = ranks;
    out->jobs = 1;
    if (ranks < 2) /* one rank: the writer runs the points on its threads */
        st = sweep_threads(o, out, err);
    else if (rank == 0)
        st = coordinate(o, ranks, out, err);
    else
        work(o);
    out->worker = rank != 0;
    MPI_Finalize();
    return st;
}
#endif
