/*
 * Chrome / Perfetto trace writer (the trace-event JSON format: an object
 * with a "traceEvents" array). Each task is a complete event ("ph": "X")
 * with its start and duration in microseconds; metadata events name the
 * processes (pipeline stages) and threads (each stage's engines and links),
 * so the timeline opens in ui.perfetto.dev or chrome://tracing as it ran.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/report.h"

static json_t *meta(const char *what, int pid, int tid, const char *name)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", what, "ph", "M", "pid", pid, "tid",
                     tid, "args", "name", name);
}

usim_status report_write_trace(const sim_graph *g, const char *path, int resources_per_process,
                               const char *process_prefix, report_kind_name kind_name,
                               usim_error *err)
{
    int per = resources_per_process > 0 ? resources_per_process : 1;
    json_t *events = json_array();
    for (int r = 0; r < sim_resource_count(g); r++) {
        if (r % per == 0) {
            char name[64];
            snprintf(name, sizeof name, "%s %d", process_prefix, r / per);
            json_array_append_new(events, meta("process_name", r / per, 0, name));
        }
        json_array_append_new(events, meta("thread_name", r / per, r % per,
                                           sim_resource_name(g, r)));
    }
    for (int t = 0; t < sim_task_count(g); t++) {
        if (sim_duration(g, t) <= 0)
            continue;
        int r = sim_task_resource(g, t);
        json_array_append_new(
            events, json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i}", "name", sim_task_label(g, t),
                              "cat", kind_name(sim_task_kind(g, t)), "ph", "X", "ts",
                              sim_start(g, t) * 1e6, "dur", sim_duration(g, t) * 1e6, "pid",
                              r / per, "tid", r % per));
    }
    json_t *doc = json_pack("{s:o, s:s}", "traceEvents", events, "displayTimeUnit", "ms");
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return usim_fail(err, USIM_ERUNTIME, "out of memory writing the trace");
    usim_status st = usim_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return st;
}
