/*
 * ultrasim sim layer: a small discrete-event core.
 *
 * A graph holds resources (an engine stream, a link) and tasks. Each task runs
 * on one resource for a fixed duration; a resource runs its tasks one at a
 * time in the order they were added; a task starts when its resource is free
 * and every task it depends on has finished. Running the graph gives every
 * task's start and end: a timeline from which idle time (pipeline bubbles)
 * and exposed communication are read, not assumed.
 *
 * The graph is evaluated in one pass over a topological order of the
 * dependency and resource-order edges (Kahn's algorithm), so a step of
 * thousands of tasks costs microseconds; a cycle means the program deadlocks
 * and is reported as such.
 */
#ifndef ULTRASIM_SIM_H
#define ULTRASIM_SIM_H

#include "ultrasim/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_graph sim_graph;

sim_graph *sim_graph_new(void);
void sim_graph_free(sim_graph *g);

/* Adds a resource; returns its id, or -1 when out of memory. */
int sim_resource(sim_graph *g, const char *name);

/* Adds a task of duration_s on resource; kind is the caller's category (for
 * breakdowns), label a short name for traces (copied). Returns its id or -1. */
int sim_task(sim_graph *g, int resource, double duration_s, int kind, const char *label);

/* Sets a task's duration before the graph runs (a time known only once
 * other tasks exist). */
void sim_set_duration(sim_graph *g, int task, double duration_s);

/* task starts only after `before` has finished (plus lag_s). */
usim_status sim_depend(sim_graph *g, int task, int before, double lag_s, usim_error *err);

/* Computes start and end of every task. On a deadlock (USIM_ERUNTIME) the
 * tasks that can never start have NaN start and end. */
usim_status sim_run(sim_graph *g, usim_error *err);

int sim_task_count(const sim_graph *g);
int sim_resource_count(const sim_graph *g);
double sim_start(const sim_graph *g, int task);
double sim_end(const sim_graph *g, int task);
double sim_duration(const sim_graph *g, int task);
int sim_task_kind(const sim_graph *g, int task);
int sim_task_resource(const sim_graph *g, int task);
const char *sim_task_label(const sim_graph *g, int task);
const char *sim_resource_name(const sim_graph *g, int resource);

/* The dependencies added with sim_depend, by number (0 .. count - 1):
* edge_id's waiting task waits for before. */
int sim_edge_count(const sim_graph *g);
void sim_edge(const sim_graph *g, int edge_id, int *waiting, int *before);

/* The end of the last task. */
double sim_makespan(const sim_graph *g);

/* Total busy time of a resource. */
double sim_resource_busy(const sim_graph *g, int resource);

#ifdef __cplusplus
}
#endif
#endif
