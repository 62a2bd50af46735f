/*
 * ultrasim report layer: results as files people and tools read.
 *
 *   - Chrome/Perfetto traces (the trace-event JSON format) of a simulated
 *     timeline: one process per group of resources (a pipeline stage), one
 *     track per resource (its engines, its links);
 *   - charts (Cairo, SVG or PNG): line charts in stacked panels and stacked
 *     bar charts, with axes, ticks, labels, units and legends.
 */
#ifndef ULTRASIM_REPORT_H
#define ULTRASIM_REPORT_H

#include "ultrasim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Names a task kind for the trace's "cat" field. */
typedef const char *(*report_kind_name)(int kind);

/* Writes g's timeline to path (usim_output: atomic for a regular file, in place
 * for a device or FIFO, through links; complete "X" events in
 * microseconds). Resources are grouped into processes of
 * resources_per_process consecutive resources, named by process_prefix and
 * their index ("stage 0"). */
usim_status report_write_trace(const sim_graph *g, const char *path, int resources_per_process,
                               const char *process_prefix, report_kind_name kind_name,
                               usim_error *err);

/* ---- charts --------------------------------------------------------- */

typedef struct report_series {
    char name[64];
    double *x, *y;
    int n;
} report_series;

typedef struct report_chart {
    char title[128], xlabel[96], ylabel[96];
    bool logx, logy;
    report_series *series;
    int nseries;
    char legend_title[64]; /* drawn above the legend; "" for none */
    usim_unit xunit, yunit; /* what text cells ("2.9TB/s") were read in; NONE for numbers */
} report_chart;

/* Adds the ok rows of a sweep database as series: (x, y) grouped by the
 * column `series` (NULL: one series), sorted by x. Series whose names are
 * all numbers or quantities ("512GB/s", "2.9TB/s") come in numeric order,
 * others in text order. Unknown columns fail with a did-you-mean. */
usim_status report_db_series(const char *path, const char *x, const char *y, const char *series,
                             report_chart *chart, usim_error *err);
/* Same, keeping in each series only the largest y at each x: a sweep over
 * more than chips has several points per chip count, and joining them all
 * draws a zigzag. When points were merged, chart->legend_title says so
 * ("best of 3 per chips"). */
usim_status report_db_best_series(const char *path, const char *x, const char *y,
                                  const char *series, report_chart *chart, usim_error *err);
bool report_db_has_column(const char *path, const char *name);
void report_chart_free(report_chart *chart);

/* An axis title for a column: its name, and its unit where its text cells or
 * its name say it: "tokens_per_s (tokens/s)", "step_time_s (s)", a column of
 * "2.9TB/s" cells "link_bw (bytes/s)". */
void report_column_label(const char *column, usim_unit read_as, char *buf, size_t size);

/* Line charts, one panel per chart, stacked; path ends .svg or .png. */
usim_status report_plot_lines(const report_chart *charts, int ncharts, const char *path,
                              usim_error *err);

typedef struct report_bars {
    char title[128], xlabel[96], ylabel[96];
    char **labels; /* nbars */
    char **parts;  /* nparts */
    double *values; /* nbars x nparts, row-major */
    int nbars, nparts;
} report_bars;

/* Stacked bars, one per label. */
usim_status report_plot_bars(const report_bars *b, const char *path, usim_error *err);

/* The same chart as SVG text (the caller frees it), to inline in a page. */
usim_status report_bars_svg(const report_bars *b, char **svg, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
