/*
 * The sweep's database (SQLite, WAL mode): one row per point with its inputs
 * and outputs as columns.
 *
 *   meta(key, value)   the spec and its hash: a database holds one sweep
 *   points(id, status, reason, request, result, <input columns>, <output columns>)
 *
 * Output columns are the result's scalars, nested keys joined by '_'
 * ("breakdown_gemm"), added as they first appear. Points are written in
 * transactions of a batch each; a sweep killed at any moment leaves every
 * committed point intact, and a restart skips exactly those.
 *
 * One writer at a time: two sweeps on one database would both compute the
 * points missing when they started, and race to add the same columns
 * ("duplicate column name"). The writer holds an flock on the database file
 * for its whole run; a second one is refused with a message saying so. The
 * kernel drops the lock when the process ends, kill -9 included, so a
 * crashed sweep never blocks the next. Readers (plot, sqlite3) are not
 * affected: flock locks are apart from the POSIX locks SQLite takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "plan/internal.h"

static usim_status sql_fail(sweep_db *d, usim_error *err, const char *what)
{
    return usim_fail(err, USIM_ERUNTIME, "database: %s: %s", what,
                     d->db ? sqlite3_errmsg(d->db) : "not open");
}

static usim_status exec(sweep_db *d, const char *sql, usim_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return USIM_OK;
    usim_status st = usim_fail(err, USIM_ERUNTIME, "database: %s", msg ? msg : "error");
    sqlite3_free(msg);
    return st;
}

static void load_columns(sweep_db *d)
{
    sqlite3_stmt *q;
    d->columns = json_object();
    if (sqlite3_prepare_v2(d->db, "PRAGMA table_info(points)", -1, &q, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(q) == SQLITE_ROW)
        json_object_set_new(d->columns, (const char *)sqlite3_column_text(q, 1), json_true());
    sqlite3_finalize(q);
}

/* The database must hold this spec's sweep, or none yet. */
static usim_status check_meta(sweep_db *d, const sweep_spec *s, usim_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(d->db, "SELECT value FROM meta WHERE key = 'spec_hash'", -1, &q,
                           NULL) != SQLITE_OK)
        return sql_fail(d, err, "reading meta");
    usim_status st = USIM_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(q, 0);
        if (!hash || strcmp(hash, s->hash) != 0)
            st = usim_fail(err, USIM_EINPUT,
                           "the database holds another sweep (spec hash %s, this one %s); use "
                           "another --db or remove it",
                           hash ? hash : "?", s->hash);
    } else {
        char *spec = json_dumps(s->doc, JSON_COMPACT | JSON_SORT_KEYS);
        char *sql = sqlite3_mprintf("INSERT INTO meta VALUES ('spec_hash', %Q), ('spec', %Q), "
                                    "('command', %Q), ('points', '%lld')",
                                    s->hash, spec, s->command, s->points);
        st = exec(d, sql, err);
        sqlite3_free(sql);
        free(spec);
    }
    sqlite3_finalize(q);
    return st;
}

/* Takes the writer's lock (see the top of the file). */
static usim_status claim_writer(sweep_db *d, const char *path, usim_error *err)
{
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (d->lock_fd < 0)
        return usim_fail(err, USIM_EINPUT, "%s: cannot open the database for writing: %s", path,
                         strerror(errno));
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return USIM_OK;
    int e = errno;
    close(d->lock_fd);
    d->lock_fd = -1;
    if (e == EWOULDBLOCK)
        return usim_fail(err, USIM_EINPUT,
                         "%s: another sweep is writing this database; one writer at a time: "
                         "wait for it to finish (then run again to resume), or use another --db",
                         path);
    return usim_fail(err, USIM_ERUNTIME, "%s: cannot lock the database: %s", path, strerror(e));
}

static usim_status create_schema(sweep_db *d, const char *path, usim_error *err)
{
    static const char SCHEMA[] =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, status "
        "TEXT NOT NULL, reason TEXT, request TEXT, result TEXT);";
    if (sqlite3_exec(d->db, SCHEMA, NULL, NULL, NULL) == SQLITE_OK)
        return USIM_OK;
    /* SQLite's own words ("file is not a database", "attempt to write a
     * readonly database"), copied before err is written. */
    char why[256];
    snprintf(why, sizeof why, "%s", sqlite3_errmsg(d->db));
    return usim_fail(err, USIM_EINPUT, "%s: not a usable sweep database: %s", path, why);
}

usim_status sweep_db_open(sweep_db *d, const char *path, const sweep_spec *s, usim_error *err)
{
    memset(d, 0, sizeof *d);
    usim_status st = claim_writer(d, path, err);
    if (st != USIM_OK)
        return st;
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", d->db ? sqlite3_errmsg(d->db) : "out of memory");
        sweep_db_close(d);
        return usim_fail(err, USIM_EINPUT, "%s: cannot open the database: %s", path, why);
    }
    sqlite3_busy_timeout(d->db, 10000);
    st = create_schema(d, path, err);
    if (st == USIM_OK)
        st = check_meta(d, s, err);
    if (st == USIM_OK &&
        (sqlite3_prepare_v2(d->db, "BEGIN", -1, &d->begin, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(d->db, "COMMIT", -1, &d->commit, NULL) != SQLITE_OK))
        st = sql_fail(d, err, "preparing");
    if (st == USIM_OK)
        load_columns(d);
    if (st != USIM_OK)
        sweep_db_close(d);
    return st;
}

/* The lock's descriptor is closed after SQLite's connection: closing any
 * descriptor of a file drops the process's POSIX locks on it, SQLite's
 * included. */
void sweep_db_close(sweep_db *d)
{
    sqlite3_finalize(d->begin);
    sqlite3_finalize(d->commit);
    sqlite3_close(d->db);
    json_decref(d->columns);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    memset(d, 0, sizeof *d);
    d->lock_fd = -1;
}

usim_status sweep_db_done(sweep_db *d, unsigned char *done, long long n, long long *count,
                          usim_error *err)
{
    sqlite3_stmt *q;
    *count = 0;
    if (sqlite3_prepare_v2(d->db, "SELECT id FROM points", -1, &q, NULL) != SQLITE_OK)
        return sql_fail(d, err, "reading points");
    while (sqlite3_step(q) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(q, 0);
        if (id >= 0 && id < n && !done[id]) {
            done[id] = 1;
            (*count)++;
        }
    }
    sqlite3_finalize(q);
    return USIM_OK;
}

usim_status sweep_db_begin(sweep_db *d, usim_error *err)
{
    sqlite3_reset(d->begin);
    return sqlite3_step(d->begin) == SQLITE_DONE ? USIM_OK : sql_fail(d, err, "begin");
}

usim_status sweep_db_commit(sweep_db *d, usim_error *err)
{
    sqlite3_reset(d->commit);
    return sqlite3_step(d->commit) == SQLITE_DONE ? USIM_OK : sql_fail(d, err, "commit");
}

/* Scalars of a result, nested keys joined by '_'. */
static void flatten(json_t *obj, const char *prefix, json_t *out)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "_" : "", key);
        for (char *c = name; *c; c++)
            if (*c == '.' || *c == '-' || *c == ' ')
                *c = '_';
        if (json_is_object(v))
            flatten(v, name, out);
        else if (!json_is_array(v) && !json_is_null(v))
            json_object_set(out, name, v);
    }
}

static usim_status ensure_column(sweep_db *d, const char *name, usim_error *err)
{
    if (json_object_get(d->columns, name))
        return USIM_OK;
    char *sql = sqlite3_mprintf("ALTER TABLE points ADD COLUMN \"%w\"", name);
    usim_status st = exec(d, sql, err);
    sqlite3_free(sql);
    if (st == USIM_OK)
        json_object_set_new(d->columns, name, json_true());
    return st;
}

static void bind_value(sqlite3_stmt *q, int i, json_t *v)
{
    if (json_is_integer(v))
        sqlite3_bind_int64(q, i, json_integer_value(v));
    else if (json_is_real(v))
        sqlite3_bind_double(q, i, json_real_value(v));
    else if (json_is_boolean(v))
        sqlite3_bind_int(q, i, json_is_true(v));
    else if (json_is_string(v))
        sqlite3_bind_text(q, i, json_string_value(v), -1, SQLITE_TRANSIENT);
    else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        sqlite3_bind_text(q, i, text ? text : "", -1, SQLITE_TRANSIENT);
        free(text);
    }
}

static const char *const FIXED[] = {"id", "status", "reason", "request", "result"};

static bool is_fixed(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(name, FIXED[i]) == 0)
            return true;
    return false;
}

usim_status sweep_db_insert(sweep_db *d, long long id, const char *status, const char *reason,
                            json_t *inputs, json_t *result, usim_error *err)
{
    json_t *cols = json_object();
    const char *key;
    json_t *v;
    if (result)
        flatten(result, "", cols);
    json_object_foreach(inputs, key, v) /* inputs win over echoes in the result */
    {
        char name[256];
        snprintf(name, sizeof name, "%s", key);
        for (char *c = name; *c; c++)
            if (*c == '.' || *c == '-')
                *c = '_';
        json_object_set(cols, name, v);
    }
    usim_status st = USIM_OK;
    char *result_text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    char *input_text = json_dumps(inputs, JSON_COMPACT);
    char *names = sqlite3_mprintf("id, status, reason, request, result");
    char *marks = sqlite3_mprintf("?, ?, ?, ?, ?");
    json_object_foreach(cols, key, v)
    {
        if (is_fixed(key))
            continue;
        st = ensure_column(d, key, err);
        if (st != USIM_OK)
            break;
        char *n2 = sqlite3_mprintf("%s, \"%w\"", names, key);
        char *m2 = sqlite3_mprintf("%s, ?", marks);
        sqlite3_free(names);
        sqlite3_free(marks);
        names = n2;
        marks = m2;
    }
    sqlite3_stmt *q = NULL;
    char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO points (%s) VALUES (%s)", names, marks);
    if (st == USIM_OK && sqlite3_prepare_v2(d->db, sql, -1, &q, NULL) != SQLITE_OK)
        st = sql_fail(d, err, "preparing an insert");
    if (st == USIM_OK) {
        int i = 1;
        sqlite3_bind_int64(q, i++, id);
        sqlite3_bind_text(q, i++, status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, i++, reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, i++, input_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, i++, result_text, -1, SQLITE_TRANSIENT);
        json_object_foreach(cols, key, v)
        {
            if (!is_fixed(key))
                bind_value(q, i++, v);
        }
        if (sqlite3_step(q) != SQLITE_DONE)
            st = sql_fail(d, err, "inserting a point");
    }
    sqlite3_finalize(q);
    sqlite3_free(sql);
    sqlite3_free(names);
    sqlite3_free(marks);
    free(result_text);
    free(input_text);
    json_decref(cols);
    return st;
}

static void csv_field(FILE *fp, const char *text)
{
    if (!text)
        return;
    if (!strpbrk(text, ",\"\n")) {
        fputs(text, fp);
        return;
    }
    fputc('"', fp);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', fp);
        fputc(*c, fp);
    }
    fputc('"', fp);
}

usim_status sweep_db_export_csv(sweep_db *d, const char *path, usim_error *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(d->db, "SELECT * FROM points ORDER BY id", -1, &q, NULL) != SQLITE_OK)
        return sql_fail(d, err, "reading points");
    usim_output out;
    usim_status st = usim_output_open(&out, path, err);
    if (st != USIM_OK) {
        sqlite3_finalize(q);
        return st;
    }
    FILE *fp = out.fp;
    int n = sqlite3_column_count(q);
    for (int c = 0, first = 1; c < n; c++) {
        const char *name = sqlite3_column_name(q, c);
        if (strcmp(name, "request") == 0 || strcmp(name, "result") == 0)
            continue;
        fprintf(fp, "%s", first ? "" : ",");
        csv_field(fp, name);
        first = 0;
    }
    fputc('\n', fp);
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0, first = 1; c < n; c++) {
            const char *name = sqlite3_column_name(q, c);
            if (strcmp(name, "request") == 0 || strcmp(name, "result") == 0)
                continue;
            fprintf(fp, "%s", first ? "" : ",");
            csv_field(fp, (const char *)sqlite3_column_text(q, c));
            first = 0;
        }
        fputc('\n', fp);
    }
    sqlite3_finalize(q);
    return usim_output_commit(&out, err);
}
