/* Prediction intervals from the published measurements (internal). */
#ifndef USIM_API_INTERVALS_H
#define USIM_API_INTERVALS_H

#include "api/api.h"

/* A headline figure of a result: its key, whether it is a rate (+1, higher
 * is faster) or a time (-1), and how to print it. */
typedef struct api_figure {
    const char *key;
    int sign;
    const char *label;
    double scale;   /* printed value = value x scale */
    usim_unit unit; /* USIM_UNIT_NONE: plain number with suffix */
    const char *suffix;
} api_figure;

/* Adds KEY_p10 and KEY_p90 for each figure of result (where 80% of measured
 * runs of the class of `set` on the system's chip family fell) and an
 * "interval" object naming the class and how many runs it rests on (null,
 * with "interval_reason", when none does). */
struct hw_system;
void api_add_intervals(json_t *result, const struct hw_system *sys, const char *set,
                       const api_figure *figures, size_t n);

/* The result's intervals as one text line (and the class under it). */
void api_interval_line(usim_buf *b, json_t *res, const api_figure *figures, size_t n, int width);

#endif
