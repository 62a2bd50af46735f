/* Published measurements as CSV rows, run through the front door (internal
 * to the api layer: validate and calibrate read them). */
#ifndef USIM_API_MEASUREMENTS_H
#define USIM_API_MEASUREMENTS_H

#include "api/api.h"

enum { MEAS_TRAINING, MEAS_INFERENCE, MEAS_COLLECTIVES, MEAS_GEMM, MEAS_ATTENTION, MEAS_SET_COUNT };
/* training, inference, collectives, gemm, attention */
extern const char *const meas_set_names[];

typedef struct meas_table meas_table;

/* Reads a CSV of measurements; set is MEAS_* or -1 to tell it from the
 * columns (a 'gbs' column: training; 'isl' or 'osl': inference;
 * 'size_bytes': collectives; 'k': gemm; 'head_dim': attention). An unknown column, a row without a metric or
 * a positive value, or a file without rows is an input error naming the
 * file and line. */
usim_status meas_read(const char *file, const char *text, int set, meas_table **out,
                      usim_error *err);
void meas_free(meas_table *t);

int meas_count(const meas_table *t);
int meas_set(const meas_table *t);
const char *meas_file(const meas_table *t);
const char *meas_cell(const meas_table *t, int i, const char *column); /* NULL if blank */
double meas_value(const meas_table *t, int i);
int meas_line(const meas_table *t, int i);

/* Row i's prediction of its metric. `with` (or NULL) holds request keys to
 * run it with instead of its own cells: "hw" (a hardware description, e.g.
 * one being calibrated), "stack" (training rows that name none). A row that
 * does not run or gives no such figure is an input error naming the file,
 * line and row. */
usim_status meas_predict(const meas_table *t, int i, json_t *with, double *pred,
                         usim_error *err);

/* The row's source, up to the first '@', ',' or '(' (a repository and path,
 * or a paper and table): rows of one source stand or fall together. */
void meas_source_key(const meas_table *t, int i, char *buf, size_t size);

/* +1 when the row's metric is a rate (higher is faster: tokens/s, TFLOPS,
 * bus bandwidth), -1 when it is a time. */
int meas_orientation(const meas_table *t, int i);

/* The family of the chip the row ran on: its preset name up to the first
 * '-' (h100, a100, trn1, ...). */
usim_status meas_family(const meas_table *t, int i, char *buf, size_t size, usim_error *err);

/* A system preset or file resolved to one JSON description (chip and network
 * inline), for meas_predict's hw; a chip alone is an input error. */
usim_status meas_resolve_system(const char *hw, json_t **doc, usim_error *err);

/* ---- how wrong: cross-validation and intervals (crossval.c) --------- */

/* Intervals hold 80% of measurements: the 10th to the 90th percentile of the
 * log errors of their class. A class is a set (training, inference,
 * collectives, gemm, attention) and a chip family; one with fewer than CV_MIN_ROWS rows
 * borrows its set's rows of every family. */
#define CV_LEVEL 0.8
#define CV_MIN_ROWS 5

typedef struct cv_row {
    int set;
    char source[160];
    char family[24];
    double r; /* log(predicted / measured) as a speed: > 0 when the model is fast */
    int sign; /* +1: the metric is a rate; -1: a time */
} cv_row;

typedef struct cv_list {
    cv_row *rows;
    int n, cap;
} cv_list;

/* Adds row i of t, predicted pred, to the list. */
usim_status cv_add(cv_list *l, const meas_table *t, int i, double pred, usim_error *err);
void cv_free(cv_list *l);

/* Leave one source out over the rows of a set: each source's rows judged by
 * the others' (their median log error as a calibration, their 10th-90th
 * percentiles as the interval). {"mape_pct", "coverage_pct", "rows",
 * "sources": {KEY: {...}}}. */
json_t *cv_leave_one_source_out(const cv_list *l, int set);

/* The interval classes of every set and family from all rows, as the
 * runtime reads them (data/intervals.json). */
json_t *cv_interval_classes(const cv_list *l);

#endif
