/*
 * The discrete-event core (see ultrasim/sim.h).
 *
 * Storage is flat arrays grown by doubling: tasks, resources and dependency
 * edges. Running the graph builds the successor lists once (CSR), then
 * visits tasks in topological order: a task's start is the latest of its
 * resource's previous task's end and its dependencies' ends (plus lags).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/sim.h"

#define LABEL_SIZE 40

typedef struct task {
    int resource;
    int kind;
    double duration, start, end;
    int prev_on_resource; /* -1 for the first */
    char label[LABEL_SIZE];
} task;

typedef struct edge {
    int from, to;
    double lag;
} edge;

typedef struct resource {
    char name[48];
    int last_task;
} resource;

struct sim_graph {
    task *tasks;
    int ntasks, cap_tasks;
    resource *resources;
    int nresources, cap_resources;
    edge *edges;
    int nedges, cap_edges;
};

static bool grow(void **array, int *cap, int need, size_t item)
{
    if (need <= *cap)
        return true;
    int cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*array, (size_t)cap2 * item);
    if (!p)
        return false;
    *array = p;
    *cap = cap2;
    return true;
}

sim_graph *sim_graph_new(void)
{
    return calloc(1, sizeof(sim_graph));
}

void sim_graph_free(sim_graph *g)
{
    if (!g)
        return;
    free(g->tasks);
    free(g->resources);
    free(g->edges);
    free(g);
}

int sim_resource(sim_graph *g, const char *name)
{
    if (!grow((void **)&g->resources, &g->cap_resources, g->nresources + 1, sizeof(resource)))
        return -1;
    resource *r = &g->resources[g->nresources];
    strncpy(r->name, name, sizeof r->name - 1);
    r->name[sizeof r->name - 1] = '\0';
    r->last_task = -1;
    return g->nresources++;
}

int sim_task(sim_graph *g, int resource_id, double duration_s, int kind, const char *label)
{
    if (resource_id < 0 || resource_id >= g->nresources)
        return -1;
    if (!grow((void **)&g->tasks, &g->cap_tasks, g->ntasks + 1, sizeof(task)))
        return -1;
    task *t = &g->tasks[g->ntasks];
    t->resource = resource_id;
    t->kind = kind;
    t->duration = duration_s > 0 ? duration_s : 0;
    t->start = t->end = 0;
    t->prev_on_resource = g->resources[resource_id].last_task;
    strncpy(t->label, label ? label : "", LABEL_SIZE - 1);
    t->label[LABEL_SIZE - 1] = '\0';
    g->resources[resource_id].last_task = g->ntasks;
    return g->ntasks++;
}

usim_status sim_depend(sim_graph *g, int task_id, int before, double lag_s, usim_error *err)
{
    if (task_id < 0 || before < 0 || task_id >= g->ntasks || before >= g->ntasks)
        return usim_fail(err, USIM_ERUNTIME, "dependency between unknown tasks %d and %d",
                         task_id, before);
    if (!grow((void **)&g->edges, &g->cap_edges, g->nedges + 1, sizeof(edge)))
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    g->edges[g->nedges++] = (edge){before, task_id, lag_s};
    return USIM_OK;
}

/* Successors in CSR form: dependency edges plus resource order. */
typedef struct csr {
    int *offset; /* ntasks + 1 */
    int *target;
    double *lag;
} csr;

static bool build_successors(const sim_graph *g, csr *c, int *indegree)
{
    int n = g->ntasks;
    int m = g->nedges + n;
    c->offset = calloc((size_t)n + 1, sizeof(int));
    c->target = malloc((size_t)(m > 0 ? m : 1) * sizeof(int));
    c->lag = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
    if (!c->offset || !c->target || !c->lag)
        return false;
    for (int e = 0; e < g->nedges; e++)
        c->offset[g->edges[e].from + 1]++;
    for (int t = 0; t < n; t++)
        if (g->tasks[t].prev_on_resource >= 0)
            c->offset[g->tasks[t].prev_on_resource + 1]++;
    for (int t = 0; t < n; t++)
        c->offset[t + 1] += c->offset[t];
    int *fill = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!fill)
        return false;
    memcpy(fill, c->offset, (size_t)n * sizeof(int));
    for (int e = 0; e < g->nedges; e++) {
        int k = fill[g->edges[e].from]++;
        c->target[k] = g->edges[e].to;
        c->lag[k] = g->edges[e].lag;
        indegree[g->edges[e].to]++;
    }
    for (int t = 0; t < n; t++) {
        int p = g->tasks[t].prev_on_resource;
        if (p >= 0) {
            int k = fill[p]++;
            c->target[k] = t;
            c->lag[k] = 0;
            indegree[t]++;
        }
    }
    free(fill);
    return true;
}

usim_status sim_run(sim_graph *g, usim_error *err)
{
    int n = g->ntasks;
    csr c = {NULL, NULL, NULL};
    int *indegree = calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int *queue = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    usim_status st = USIM_OK;
    if (!indegree || !queue || !build_successors(g, &c, indegree)) {
        st = usim_fail(err, USIM_ERUNTIME, "out of memory simulating %d tasks", n);
        goto done;
    }
    int head = 0, tail = 0;
    for (int t = 0; t < n; t++) {
        g->tasks[t].start = 0;
        if (indegree[t] == 0)
            queue[tail++] = t;
    }
    while (head < tail) {
        int t = queue[head++];
        task *k = &g->tasks[t];
        k->end = k->start + k->duration;
        for (int e = c.offset[t]; e < c.offset[t + 1]; e++) {
            task *s = &g->tasks[c.target[e]];
            if (k->end + c.lag[e] > s->start)
                s->start = k->end + c.lag[e];
            if (--indegree[c.target[e]] == 0)
                queue[tail++] = c.target[e];
        }
    }
    if (tail != n) {
        for (int t = 0; t < n; t++) /* never ready: no time to give them */
            if (indegree[t] > 0)
                g->tasks[t].start = g->tasks[t].end = NAN;
        st = usim_fail(err, USIM_ERUNTIME,
                       "the schedule deadlocks: %d of %d tasks wait on each other", n - tail, n);
    }
done:
    free(c.offset);
    free(c.target);
    free(c.lag);
    free(indegree);
    free(queue);
    return st;
}

int sim_task_count(const sim_graph *g)
{
    return g->ntasks;
}

int sim_resource_count(const sim_graph *g)
{
    return g->nresources;
}

double sim_start(const sim_graph *g, int t)
{
    return g->tasks[t].start;
}

double sim_end(const sim_graph *g, int t)
{
    return g->tasks[t].end;
}

double sim_duration(const sim_graph *g, int t)
{
    return g->tasks[t].duration;
}

int sim_task_kind(const sim_graph *g, int t)
{
    return g->tasks[t].kind;
}

int sim_task_resource(const sim_graph *g, int t)
{
    return g->tasks[t].resource;
}

const char *sim_task_label(const sim_graph *g, int t)
{
    return g->tasks[t].label;
}

const char *sim_resource_name(const sim_graph *g, int r)
{
    return g->resources[r].name;
}

double sim_makespan(const sim_graph *g)
{
    double end = 0;
    for (int t = 0; t < g->ntasks; t++)
        if (g->tasks[t].end > end)
            end = g->tasks[t].end;
    return end;
}

double sim_resource_busy(const sim_graph *g, int r)
{
    double busy = 0;
    for (int t = 0; t < g->ntasks; t++)
        if (g->tasks[t].resource == r)
            busy += g->tasks[t].duration;
    return busy;
}

int sim_edge_count(const sim_graph *g)
{
    return g->nedges;
}

void sim_edge(const sim_graph *g, int edge_id, int *waiting, int *before)
{
    *waiting = g->edges[edge_id].to;
    *before = g->edges[edge_id].from;
}

void sim_set_duration(sim_graph *g, int task_id, double duration_s)
{
    if (task_id >= 0 && task_id < g->ntasks)
        g->tasks[task_id].duration = duration_s > 0 ? duration_s : 0;
}
