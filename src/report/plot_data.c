/*
 * Data for charts from a sweep's database: the ok rows' columns x and y,
 * grouped into series by a third column, ordered by x.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/report.h"

typedef struct columns {
    char names[512][128];
    const char *ptrs[512];
    int n;
} columns;

static usim_status read_columns(sqlite3 *db, const char *path, columns *c, usim_error *err)
{
    sqlite3_stmt *q;
    c->n = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(points)", -1, &q, NULL) != SQLITE_OK)
        return usim_fail(err, USIM_EINPUT, "%s: not a sweep database", path);
    while (sqlite3_step(q) == SQLITE_ROW && c->n < 512) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", sqlite3_column_text(q, 1));
        c->ptrs[c->n] = c->names[c->n];
        c->n++;
    }
    sqlite3_finalize(q);
    return c->n > 0 ? USIM_OK : usim_fail(err, USIM_EINPUT, "%s: no sweep points table", path);
}

static usim_status check_column(const columns *c, const char *path, const char *option,
                                const char *name, usim_error *err)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0)
            return USIM_OK;
    const char *near = usim_closest(name, c->ptrs, (size_t)c->n);
    return usim_fail_field(err, USIM_EINPUT, option, "'%s' is not a column of %s%s%s%s", name,
                           path, near ? "; did you mean '" : "", near ? near : "",
                           near ? "'?" : "");
}

bool report_db_has_column(const char *path, const char *name)
{
    sqlite3 *db = NULL;
    columns *c = malloc(sizeof *c);
    bool found = false;
    if (c && sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        usim_error e;
        found = read_columns(db, path, c, &e) == USIM_OK &&
                check_column(c, path, "", name, &e) == USIM_OK;
    }
    sqlite3_close(db);
    free(c);
    return found;
}

static report_series *series_named(report_chart *chart, const char *name)
{
    for (int i = 0; i < chart->nseries; i++)
        if (strcmp(chart->series[i].name, name) == 0)
            return &chart->series[i];
    report_series *s = realloc(chart->series, (size_t)(chart->nseries + 1) * sizeof *s);
    if (!s)
        return NULL;
    chart->series = s;
    s = &chart->series[chart->nseries++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static bool append(report_series *s, double x, double y)
{
    double *nx = realloc(s->x, (size_t)(s->n + 1) * sizeof *nx);
    if (nx)
        s->x = nx;
    double *ny = realloc(s->y, (size_t)(s->n + 1) * sizeof *ny);
    if (ny)
        s->y = ny;
    if (!nx || !ny)
        return false;
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return true;
}

usim_status report_db_series(const char *path, const char *x, const char *y, const char *series,
                             report_chart *chart, usim_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    columns *c = malloc(sizeof *c);
    usim_status st = USIM_OK;
    if (!c)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        st = usim_fail(err, USIM_EINPUT, "%s: cannot open the database", path);
    if (st == USIM_OK)
        st = read_columns(db, path, c, err);
    if (st == USIM_OK)
        st = check_column(c, path, "x", x, err);
    if (st == USIM_OK)
        st = check_column(c, path, "y", y, err);
    if (st == USIM_OK && series)
        st = check_column(c, path, "series", series, err);
    if (st == USIM_OK) {
        char *sql = sqlite3_mprintf("SELECT \"%w\", \"%w\", %s%w%s FROM points WHERE status = "
                                    "'ok' ORDER BY 3, 1",
                                    x, y, series ? "\"" : "'", series ? series : "all",
                                    series ? "\"" : "'");
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
            st = usim_fail(err, USIM_EINPUT, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_free(sql);
    }
    while (st == USIM_OK && sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 2);
        report_series *s = series_named(chart, name ? name : "");
        if (!s || !append(s, sqlite3_column_double(q, 0), sqlite3_column_double(q, 1)))
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    if (st == USIM_OK && chart->nseries == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: no rows with status 'ok' to plot", path);
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(c);
    return st;
}

void report_chart_free(report_chart *chart)
{
    for (int i = 0; i < chart->nseries; i++) {
        free(chart->series[i].x);
        free(chart->series[i].y);
    }
    free(chart->series);
    chart->series = NULL;
    chart->nseries = 0;
}
