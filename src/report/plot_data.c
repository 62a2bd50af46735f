/*
 * Data for charts from a sweep's database: the ok rows' columns x and y,
 * grouped into series by a third column, ordered by x; or only the best y at
 * each x. Series named by numbers or quantities are ordered by value, so a
 * legend reads 512GB/s, 2.9TB/s, 10TB/s rather than in text order.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
        return usim_fail(err, USIM_EINPUT, "%s: cannot read the database: %s", path,
                         sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW && c->n < 512) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", sqlite3_column_text(q, 1));
        c->ptrs[c->n] = c->names[c->n];
        c->n++;
    }
    sqlite3_finalize(q);
    return c->n > 0 ? USIM_OK
                    : usim_fail(err, USIM_EINPUT,
                                "%s: not a sweep database (it has no points table)", path);
}

/* "file:PATH?immutable=1" with the URI's reserved characters escaped. */
static char *immutable_uri(const char *path)
{
    char *uri = sqlite3_mprintf("file:");
    for (const char *c = path; uri && *c; c++) {
        char *next = strchr("%?#", *c) ? sqlite3_mprintf("%s%%%02X", uri, (unsigned char)*c)
                                       : sqlite3_mprintf("%s%c", uri, *c);
        sqlite3_free(uri);
        uri = next;
    }
    char *full = uri ? sqlite3_mprintf("%s?immutable=1", uri) : NULL;
    sqlite3_free(uri);
    return full;
}

/* Whether db can be read (the first read is where SQLite opens the file and
 * its WAL), else SQLite's error code. */
static int first_read(sqlite3 *db)
{
    return sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/* Whether FILE-wal holds pages: read as immutable, the database would miss them. */
static bool wal_has_data(const char *path)
{
    char wal[4096];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &sb) == 0 && sb.st_size > 0;
}

/* Opens a sweep's database for reading. SQLite reads a WAL database through
 * FILE-shm, which it must create next to it; in a folder it cannot write (a
 * shared results folder) the read fails ("unable to open database file",
 * or "attempt to write a readonly database"). Then no sweep can be writing there either (it
 * would have created that file), and the database is read as immutable, unless a killed
 * sweep left committed pages in FILE-wal, which an immutable read would silently miss. */
static usim_status report_db_open(const char *path, sqlite3 **db, usim_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return usim_fail(err, USIM_EINPUT, "%s: cannot open the database: %s", path,
                         strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return usim_fail(err, USIM_EINPUT, "%s: is a directory, not a sweep database", path);
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = first_read(*db);
    if ((rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY) && wal_has_data(path)) {
        sqlite3_close(*db);
        *db = NULL;
        return usim_fail(err, USIM_EINPUT,
                         "%s: cannot read the database: its newest points are still in %s-wal, "
                         "which needs a writable folder; open it once where the folder is "
                         "writable (any ultrasim plot or sqlite3 there)",
                         path, path);
    }
    if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY) {
        char *uri = immutable_uri(path);
        sqlite3_close(*db);
        *db = NULL;
        rc = uri ? sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL)
                 : SQLITE_NOMEM;
        if (rc == SQLITE_OK)
            rc = first_read(*db);
        sqlite3_free(uri);
    }
    if (rc == SQLITE_OK)
        return USIM_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
    sqlite3_close(*db);
    *db = NULL;
    return usim_fail(err, USIM_EINPUT, "%s: cannot read the database: %s", path, why);
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
    usim_error e;
    if (c && report_db_open(path, &db, &e) == USIM_OK)
        found = read_columns(db, path, c, &e) == USIM_OK &&
                check_column(c, path, "", name, &e) == USIM_OK;
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

/* The value a series name stands for ("16", "2.9TB/s") and the unit it was
 * read in (in SI: bytes/s there); false for words. */
static bool name_value(const char *name, double *v, usim_unit *unit)
{
    for (int u = USIM_UNIT_NONE; u < USIM_UNIT_COUNT_ENUM_END; u++) {
        usim_error e;
        if (usim_parse_quantity(name, (usim_unit)u, v, &e) == USIM_OK) {
            *unit = (usim_unit)u;
            return true;
        }
    }
    return false;
}

/* Numeric legends in numeric order (insertion sort: a handful of series). */
static void sort_series(report_chart *chart)
{
    double key[64];
    usim_unit unit;
    if (chart->nseries > 64)
        return;
    for (int i = 0; i < chart->nseries; i++)
        if (!name_value(chart->series[i].name, &key[i], &unit))
            return;
    for (int i = 1; i < chart->nseries; i++) {
        report_series s = chart->series[i];
        double k = key[i];
        int j = i;
        for (; j > 0 && key[j - 1] > k; j--) {
            chart->series[j] = chart->series[j - 1];
            key[j] = key[j - 1];
        }
        chart->series[j] = s;
        key[j] = k;
    }
}

/* A cell as a number on an axis: a number, or a quantity a sweep wrote as
 * text ("2.9TB/s", in SI units: its unit kept for the axis title); a word is
 * no position, and a missing figure (NULL) no point. "1TB/s" read as 1 stood
 * left of "100GB/s", and "ok" drew as 0. */
static usim_status cell_value(sqlite3_stmt *q, int col, const char *column, double *v,
                              bool *point, usim_unit *unit, usim_error *err)
{
    int type = sqlite3_column_type(q, col);
    *point = type != SQLITE_NULL;
    if (type != SQLITE_TEXT) {
        *v = sqlite3_column_double(q, col);
        return USIM_OK;
    }
    const char *text = (const char *)sqlite3_column_text(q, col);
    usim_unit read_as;
    if (text && name_value(text, v, &read_as)) {
        if (read_as != USIM_UNIT_NONE)
            *unit = read_as;
        return USIM_OK;
    }
    return usim_fail_field(err, USIM_EINPUT, col == 0 ? "x" : "y",
                           "column '%s' holds '%.40s', not a number or a quantity with a unit: "
                           "it cannot be an axis (allowed: a numeric column)",
                           column, text ? text : "");
}

static int by_x(const void *a, const void *b)
{
    const double *p = a, *q = b;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

/* Each series in the order of its x values, which text cells do not sort in. */
static usim_status sort_points(report_chart *chart, usim_error *err)
{
    for (int i = 0; i < chart->nseries; i++) {
        report_series *s = &chart->series[i];
        double *pairs = malloc((size_t)s->n * 2 * sizeof *pairs + 1);
        if (!pairs)
            return usim_fail(err, USIM_ERUNTIME, "out of memory");
        for (int k = 0; k < s->n; k++) {
            pairs[2 * k] = s->x[k];
            pairs[2 * k + 1] = s->y[k];
        }
        qsort(pairs, (size_t)s->n, 2 * sizeof *pairs, by_x);
        for (int k = 0; k < s->n; k++) {
            s->x[k] = pairs[2 * k];
            s->y[k] = pairs[2 * k + 1];
        }
        free(pairs);
    }
    return USIM_OK;
}

/* Rows (x, y, series name, points merged) of the query, into the chart. */
static usim_status read_rows(sqlite3_stmt *q, const char *x, const char *y, report_chart *chart,
                             int merged[2], usim_error *err)
{
    merged[0] = merged[1] = 0; /* fewest and most */
    while (sqlite3_step(q) == SQLITE_ROW) {
        double vx = 0, vy = 0;
        bool px = false, py = false;
        usim_status st = cell_value(q, 0, x, &vx, &px, &chart->xunit, err);
        if (st == USIM_OK)
            st = cell_value(q, 1, y, &vy, &py, &chart->yunit, err);
        if (st != USIM_OK)
            return st;
        if (!px || !py)
            continue;
        const char *name = (const char *)sqlite3_column_text(q, 2);
        report_series *s = series_named(chart, name ? name : "");
        if (!s || !append(s, vx, vy))
            return usim_fail(err, USIM_ERUNTIME, "out of memory");
        int n = sqlite3_column_int(q, 3);
        merged[0] = merged[0] == 0 || n < merged[0] ? n : merged[0];
        merged[1] = n > merged[1] ? n : merged[1];
    }
    return USIM_OK;
}

/* "best of 4 points per chip count" ("up to" when the groups differ). */
static void best_legend(report_chart *chart, const int merged[2], const char *x)
{
    if (merged[1] <= 1)
        return;
    snprintf(chart->legend_title, sizeof chart->legend_title, "best of %s%d points per %s",
             merged[0] == merged[1] ? "" : "up to ", merged[1],
             strcmp(x, "chips") == 0 ? "chip count" : x);
}

/* The best point at each x is SQL's max(y), which orders text as text
 * ("900GB/s" above "2TB/s"): the best of a column holding text is refused. */
static usim_status check_numeric_best(sqlite3 *db, const char *path, const char *y,
                                      usim_error *err)
{
    char *sql = sqlite3_mprintf("SELECT count(*) FROM points WHERE status = 'ok' AND "
                                "typeof(\"%w\") = 'text'",
                                y);
    sqlite3_stmt *q = NULL;
    int texts = 0;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        texts = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_free(sql);
    if (texts == 0)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "y",
                           "%s: column '%s' holds text in %d rows, and the best point at each "
                           "x is chosen by number (allowed: a numeric column, or --kind line)",
                           path, y, texts);
}

static usim_status load_series(const char *path, const char *x, const char *y,
                               const char *series, bool best, report_chart *chart,
                               usim_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    columns *c = malloc(sizeof *c);
    usim_status st = USIM_OK;
    int merged[2] = {1, 1};
    if (!c)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = report_db_open(path, &db, err);
    if (st == USIM_OK)
        st = read_columns(db, path, c, err);
    if (st == USIM_OK)
        st = check_column(c, path, "x", x, err);
    if (st == USIM_OK)
        st = check_column(c, path, "y", y, err);
    if (st == USIM_OK && series)
        st = check_column(c, path, "series", series, err);
    if (st == USIM_OK && best)
        st = check_numeric_best(db, path, y, err);
    if (st == USIM_OK) {
        /* a column name may hold any character a sweep spec's key does: quoted by SQLite */
        char *group = series ? sqlite3_mprintf("\"%w\"", series) : sqlite3_mprintf("'all'");
        char *sql = !group ? NULL
                    : best ? sqlite3_mprintf("SELECT \"%w\", max(\"%w\"), %s, count(*) FROM "
                                             "points WHERE status = 'ok' GROUP BY 3, 1 "
                                             "ORDER BY 3, 1",
                                             x, y, group)
                           : sqlite3_mprintf("SELECT \"%w\", \"%w\", %s, 1 FROM points WHERE "
                                             "status = 'ok' ORDER BY 3, 1",
                                             x, y, group);
        if (!sql)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
        else if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
            st = usim_fail(err, USIM_EINPUT, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_free(sql);
        sqlite3_free(group);
    }
    if (st == USIM_OK)
        st = read_rows(q, x, y, chart, merged, err);
    if (st == USIM_OK)
        st = sort_points(chart, err);
    if (st == USIM_OK && chart->nseries == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: no rows with status 'ok' to plot", path);
    if (st == USIM_OK)
        sort_series(chart);
    if (st == USIM_OK)
        best_legend(chart, merged, x);
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(c);
    return st;
}

usim_status report_db_series(const char *path, const char *x, const char *y, const char *series,
                             report_chart *chart, usim_error *err)
{
    return load_series(path, x, y, series, false, chart, err);
}

usim_status report_db_best_series(const char *path, const char *x, const char *y,
                                  const char *series, report_chart *chart, usim_error *err)
{
    return load_series(path, x, y, series, true, chart, err);
}

/* Units spelled by a column's name, longest suffix first. */
static const char *const UNIT_SUFFIXES[][2] = {
    {"tokens_per_s", "tokens/s"}, {"bytes_per_s", "bytes/s"}, {"_per_s", "per second"},
    {"_bytes", "bytes"},          {"_s", "s"},
};

/* The SI unit a quantity written as text is read in. */
static const char *const SI_UNITS[USIM_UNIT_COUNT_ENUM_END] = {
    [USIM_UNIT_BYTES] = "bytes", [USIM_UNIT_BYTES_PER_S] = "bytes/s", [USIM_UNIT_SECONDS] = "s",
    [USIM_UNIT_HERTZ] = "Hz",    [USIM_UNIT_FLOPS] = "FLOPS",         [USIM_UNIT_WATTS] = "W",
};

void report_column_label(const char *column, usim_unit read_as, char *buf, size_t size)
{
    size_t n = strlen(column);
    const char *unit = strcmp(column, "size") == 0 ? "bytes" : SI_UNITS[read_as];
    for (size_t i = 0; !unit && i < sizeof UNIT_SUFFIXES / sizeof UNIT_SUFFIXES[0]; i++) {
        size_t k = strlen(UNIT_SUFFIXES[i][0]);
        if (n >= k && strcmp(column + n - k, UNIT_SUFFIXES[i][0]) == 0)
            unit = UNIT_SUFFIXES[i][1];
    }
    if (unit)
        snprintf(buf, size, "%s (%s)", column, unit);
    else
        snprintf(buf, size, "%s", column);
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
