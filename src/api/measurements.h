/* Published measurements as CSV rows, run through the front door (internal
 * to the api layer: validate and calibrate read them). */
#ifndef USIM_API_MEASUREMENTS_H
#define USIM_API_MEASUREMENTS_H

#include "api/api.h"

enum { MEAS_TRAINING, MEAS_INFERENCE, MEAS_COLLECTIVES, MEAS_SET_COUNT };
extern const char *const meas_set_names[]; /* training, inference, collectives */

typedef struct meas_table meas_table;

/* Reads a CSV of measurements; set is MEAS_* or -1 to tell it from the
 * columns (a 'gbs' column: training; 'isl' or 'osl': inference;
 * 'size_bytes': collectives). An unknown column, a row without a metric or
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

/* Row i's prediction of its metric, on its own hardware or (hw not NULL) on
 * that hardware description instead. A row that does not run or gives no
 * such figure is an input error naming the file, line and row. */
usim_status meas_predict(const meas_table *t, int i, json_t *hw, double *pred, usim_error *err);

/* A system preset or file resolved to one JSON description (chip and network
 * inline), for meas_predict's hw; a chip alone is an input error. */
usim_status meas_resolve_system(const char *hw, json_t **doc, usim_error *err);

#endif
