/* plan layer internals: the sweep spec (spec.c) and its database (db.c). */
#ifndef USIM_PLAN_INTERNAL_H
#define USIM_PLAN_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>

#include "ultrasim/plan.h"

/* A parsed spec: the command, its base options, the grid in key order. */
typedef struct sweep_spec {
    json_t *doc;
    const char *command;
    json_t *base;
    const char **keys; /* grid keys */
    json_t **values;   /* grid value arrays */
    int nkeys;
    long long points;
    char hash[17];     /* of the spec's canonical text: a database belongs to one spec */
    json_t *hw_doc;    /* the base hardware inlined, when the grid changes hw.* figures */
    const char *hw_key; /* the option naming the hardware: "hw" ("name" for hw show) */
} sweep_spec;

usim_status sweep_spec_load(const char *path, const plan_sweep_options *o, sweep_spec *s,
                            usim_error *err);
void sweep_spec_free(sweep_spec *s);

/* The request of point i (caller decrefs), and its inputs as a flat object. */
json_t *sweep_point_request(const sweep_spec *s, long long i, json_t **inputs);

typedef struct sweep_db {
    sqlite3 *db;
    json_t *columns; /* names already in the table */
    sqlite3_stmt *begin, *commit;
    int lock_fd; /* the writer's flock on the database file; -1 when none */
} sweep_db;

usim_status sweep_db_open(sweep_db *d, const char *path, const sweep_spec *s, usim_error *err);
void sweep_db_close(sweep_db *d);
/* Marks which points the database already holds (done[i] = 1). */
usim_status sweep_db_done(sweep_db *d, unsigned char *done, long long n, long long *count,
                          usim_error *err);
usim_status sweep_db_begin(sweep_db *d, usim_error *err);
usim_status sweep_db_commit(sweep_db *d, usim_error *err);
/* status: "ok", "invalid" (bad input, e.g. a plan that does not fit) or "error". */
usim_status sweep_db_insert(sweep_db *d, long long id, const char *status, const char *reason,
                            json_t *inputs, json_t *result, usim_error *err);
usim_status sweep_db_export_csv(sweep_db *d, const char *path, usim_error *err);

#endif
