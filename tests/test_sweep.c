/*
 * Sweeps: rows in SQLite with hand-checkable values, invalid points kept
 * with their reason, resuming after kill -9, and the same sweep under
 * mpirun with two ranks.
 */
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static const char *SPEC =
    "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"},\n"
    " \"grid\": {\"chips\": [16, 64, 24], \"hw.chip.hbm.bandwidth\": [\"2.9TB/s\", \"4TB/s\"]}}\n";

static double query(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    double v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db); /* a failed open still allocates the handle */
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_double(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void fresh(const char *db)
{
    char path[600];
    remove(db);
    snprintf(path, sizeof path, "%s-wal", db);
    remove(path);
    snprintf(path, sizeof path, "%s-shm", db);
    remove(path);
}

/* 6 points; 24 chips are not whole 16-chip nodes: 2 invalid rows. HBM
 * bandwidth is chips x the figure swept: 64 x 4 TB/s = 256 TB/s. */
static void rows_and_what_if(void **state)
{
    (void)state;
    const char *spec = write_temp("sweep_basic.json", SPEC);
    char db[512], csv[512], args[2048];
    snprintf(db, sizeof db, "%s/sweep_basic.db", USIM_TEST_TMP);
    snprintf(csv, sizeof csv, "%s/sweep_basic.csv", USIM_TEST_TMP);
    fresh(db);
    snprintf(args, sizeof args, "sweep %s --db %s --csv %s --json", spec, db, csv);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"computed\": 6"));
    cli_free(&r);
    assert_close(query(db, "SELECT count(*) FROM points"), 6, 0);
    assert_close(query(db, "SELECT count(*) FROM points WHERE status = 'invalid' AND reason "
                           "LIKE '%multiple of 16%'"),
                 2, 0);
    assert_close(query(db, "SELECT hbm_bytes_per_s FROM points WHERE chips = 64 AND "
                           "hw_chip_hbm_bandwidth = '4TB/s'"),
                 64 * 4e12, 1e-12);
    assert_close(query(db, "SELECT dense_flops_fp8 FROM points WHERE id = 0"), 16 * 1300e12, 1e-12);
    FILE *fp = fopen(csv, "r");
    char head[64] = "";
    assert_non_null(fp);
    assert_non_null(fgets(head, sizeof head, fp));
    fclose(fp);
    assert_int_equal(strncmp(head, "id,status,reason", 16), 0);
    /* Run again: nothing to do. */
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"done_before\": 6"));
    assert_non_null(strstr(r.out, "\"computed\": 0"));
    cli_free(&r);
    /* a CSV nowhere to write is refused before any point runs (every point
     * ran, then the run exited 2) */
    char fresh_db[512];
    snprintf(fresh_db, sizeof fresh_db, "%s/sweep_nocsv.db", USIM_TEST_TMP);
    fresh(fresh_db);
    snprintf(args, sizeof args, "sweep %s --db %s --csv /nonexistent/x.csv", spec, fresh_db);
    expect_input_error(args, "--csv: /nonexistent/x.csv: cannot write: folder /nonexistent");
    assert_int_equal(access(fresh_db, F_OK), -1);
}

/* Runs the spec text as NAME.json into a fresh NAME.db (its path in db). */
static cli_result sweep_spec(const char *name, const char *spec_text, char *db, size_t size)
{
    char file[256], args[1400];
    snprintf(file, sizeof file, "%s.json", name);
    const char *spec = write_temp(file, spec_text);
    snprintf(db, size, "%s/%s.db", USIM_TEST_TMP, name);
    fresh(db);
    snprintf(args, sizeof args, "sweep %s --db %s --jobs 1", spec, db);
    return cli_run(args);
}

/* A plan point's own progress stays off the sweep's stderr: a search of
 * over a second printed a line a second, a flood over many points. */
static void points_show_no_progress(void **state)
{
    (void)state;
    char db[512];
    cli_result r = sweep_spec("sweep_plan",
                              "{\"command\": \"plan\", \"base\": {\"model\": "
                              "\"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", \"gbs\": 2048, "
                              "\"seq\": 8192}, \"grid\": {\"chips\": [16384]}}",
                              db, sizeof db);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.err, "plans simulated"));
    cli_free(&r);
}

/* A flag swept false is off: "sp": false ran with sequence parallelism,
 * the default, as "sp": true did (3.009 s both), where --no-sp takes 3.099 s. */
static void flag_swept_false(void **state)
{
    (void)state;
    char db[512];
    cli_result r = sweep_spec("sweep_sp",
                              "{\"command\": \"train\", \"base\": {\"model\": \"llama3-8b\", "
                              "\"hw\": \"dgx-h100\", \"gbs\": 64, \"seq\": 4096, \"tp\": 2}, "
                              "\"grid\": {\"sp\": [true, false]}}",
                              db, sizeof db);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    assert_close(query(db, "SELECT plan_sp FROM points WHERE id = 1"), 0, 0);
    cli_result off = cli_run("train --model llama3-8b --hw dgx-h100 --gbs 64 --seq 4096 --tp 2 "
                             "--no-sp --json");
    json_t *j = json_loads(off.out, 0, NULL);
    assert_close(query(db, "SELECT step_time_s FROM points WHERE id = 1"),
                 json_real_value(json_object_get(j, "step_time_s")), 1e-12);
    json_decref(j);
    cli_free(&off);
}

/* A spec of 1,200 cheap points (hw show: 60 HBM bandwidths x 20 sizes) in a file
 * of the given name; returns its path (write_temp's buffer). */
static const char *write_1200_point_spec(const char *name)
{
    char spec_text[4096], values[1200] = "";
    for (int i = 0; i < 60; i++) {
        size_t n = strlen(values);
        snprintf(values + n, sizeof values - n, "%s\"%d.%dTB/s\"", i ? ", " : "", 1 + i / 10,
                 i % 10);
    }
    snprintf(spec_text, sizeof spec_text,
             "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"}, \"grid\": "
             "{\"hw.chip.hbm.bandwidth\": [%s], \"chips\": [16, 32, 48, 64, 80, 96, 112, 128, "
             "144, 160, 176, 192, 208, 224, 240, 256, 272, 288, 304, 320]}}",
             values);
    return write_temp(name, spec_text);
}

/* A long sweep killed with SIGKILL mid-way, then run again: every point is
 * there once, none was run twice (the second run computes exactly the
 * missing ones), and the rows equal those of an uninterrupted sweep. */
static void resumes_after_kill(void **state)
{
    (void)state;
    const char *spec = write_1200_point_spec("sweep_kill.json");
    char db[512], ref[512];
    snprintf(db, sizeof db, "%s/sweep_kill.db", USIM_TEST_TMP);
    snprintf(ref, sizeof ref, "%s/sweep_ref.db", USIM_TEST_TMP);
    fresh(db);
    fresh(ref);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open_devnull();
        (void)null;
        execl(USIM_CLI, USIM_CLI, "sweep", spec, "--db", db, "--jobs", "1", (char *)NULL);
        _exit(127);
    }
    /* Kill once some rows are committed and before the end. */
    double rows = 0;
    for (int i = 0; i < 2000 && rows < 100; i++) {
        struct timespec t = {0, 5000000};
        nanosleep(&t, NULL);
        rows = query(db, "SELECT count(*) FROM points");
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    double kept = query(db, "SELECT count(*) FROM points");
    assert_true(kept >= 100 && kept < 1200);
    char args[1200];
    snprintf(args, sizeof args, "sweep %s --db %s --json", spec, db);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    char expect[64];
    snprintf(expect, sizeof expect, "\"computed\": %.0f", 1200 - kept);
    assert_non_null(strstr(r.out, expect));
    cli_free(&r);
    assert_close(query(db, "SELECT count(DISTINCT id) FROM points"), 1200, 0);
    assert_close(query(db, "SELECT min(id) + max(id) FROM points"), 1199, 0);
    snprintf(args, sizeof args, "sweep %s --db %s", spec, ref);
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    char sql[700];
    snprintf(sql, sizeof sql,
             "SELECT sum(a.hbm_bytes_per_s - b.hbm_bytes_per_s) + sum(a.chips != b.chips) FROM "
             "points a JOIN ref.points b USING (id)");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char attach[600];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS ref", ref);
    assert_int_equal(sqlite3_exec(h, attach, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_true(sqlite3_column_double(q, 0) == 0);
    sqlite3_finalize(q);
    sqlite3_close(h);
}

/* mpirun -n 2: rank 0 writes, rank 1 runs; the result is the same rows. */
static void two_mpi_ranks(void **state)
{
    (void)state;
    if (system("command -v mpirun >/dev/null 2>&1") != 0)
        skip();
    const char *spec = write_temp("sweep_mpi.json", SPEC);
    char db[512], cmd[2048];
    snprintf(db, sizeof db, "%s/sweep_mpi.db", USIM_TEST_TMP);
    fresh(db);
    /* OpenMPI's dlopened plugins leave allocations LeakSanitizer cannot
     * attribute (no symbols once unloaded); leaks of our own sweep code are
     * checked by the thread-runner tests above. */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 mpirun -n 2 --oversubscribe --allow-run-as-root %s "
             "sweep %s --db %s > %s/mpi.out 2>&1",
             USIM_CLI, spec, db, USIM_TEST_TMP);
    int rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 0);
    assert_close(query(db, "SELECT count(*) FROM points"), 6, 0);
    assert_close(query(db, "SELECT hbm_bytes_per_s FROM points WHERE chips = 64 AND "
                           "hw_chip_hbm_bandwidth = '2.9TB/s'"),
                 64 * 2.9e12, 1e-12);
}

static void bad_specs(void **state)
{
    (void)state;
    struct {
        const char *text, *expect;
    } cases[] = {
        {"{\"command\": \"trian\", \"grid\": {\"chips\": [1]}}", "did you mean 'train'"},
        {"{\"command\": \"hw show\", \"base\": {\"name\": \"trn2\"}, \"grid\": {}}",
         "non-empty \"grid\""},
        {"{\"command\": \"hw show\", \"base\": {\"name\": \"trn2\"}, \"grid\": {\"chps\": [1]}}",
         "did you mean '--chips'"},
        {"{\"command\": \"hw show\", \"bsae\": {}, \"grid\": {\"chips\": [1]}}",
         "did you mean 'base'"},
        {"{\"command\": \"hw show\", \"base\": {\"name\": \"trn2\"}, \"grid\": {\"chips\": 4}}",
         "list of values"},
        {"[1, 2", "malformed JSON"},
        /* a typo in a hw.* path made every point invalid, exit 0 */
        {"{\"command\": \"train\", \"base\": {\"model\": \"llama3-8b\", \"hw\": \"dgx-h100\", "
         "\"gbs\": 64, \"seq\": 4096}, \"grid\": {\"hw.chip.hbm.bandwdth\": [\"3TB/s\"]}}",
         "grid.hw.chip.hbm.bandwdth: unknown key 'bandwdth'; did you mean 'bandwidth'?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *spec = write_temp("sweep_bad.json", cases[i].text);
        char args[700], db[512];
        snprintf(db, sizeof db, "%s/sweep_bad.db", USIM_TEST_TMP);
        fresh(db);
        snprintf(args, sizeof args, "sweep %s --db %s", spec, db);
        cli_result r = cli_run(args);
        if (r.status != 2 || !strstr(r.err, cases[i].expect) || !strstr(r.err, "sweep_bad.json"))
            fail_msg("case %zu: exit %d, stderr %s", i, r.status, r.err);
        cli_free(&r);
    }
}

/* Starts `ultrasim sweep SPEC --db DB --json` with stdout and stderr into
 * OUT.out and OUT.err. */
static pid_t start_sweep(const char *spec, const char *db, const char *out)
{
    char out_path[1100], err_path[1100];
    snprintf(out_path, sizeof out_path, "%s.out", out);
    snprintf(err_path, sizeof err_path, "%s.err", out);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr))
            _exit(127);
        execl(USIM_CLI, USIM_CLI, "sweep", spec, "--db", db, "--json", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static char *slurp_file(const char *path)
{
    static char text[8192];
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    text[n] = '\0';
    if (fp)
        fclose(fp);
    return text;
}

static long long json_count(const char *text, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(text, pattern);
    return at ? atoll(at + strlen(pattern)) : -1;
}

/* While another process holds the writer's lock, a sweep is refused (exit 2)
 * with a message naming the database; once it is released the sweep runs. */
static void second_writer_is_refused(void **state)
{
    (void)state;
    const char *spec = write_temp("sweep_locked.json", SPEC);
    char db[512], args[1200];
    snprintf(db, sizeof db, "%s/sweep_locked.db", USIM_TEST_TMP);
    fresh(db);
    int fd = open(db, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    snprintf(args, sizeof args, "sweep %s --db %s --json", spec, db);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "sweep_locked.db: another sweep is writing this database"));
    cli_free(&r);
    close(fd); /* releases the lock */
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"computed\": 6"));
    cli_free(&r);
}

/* Two sweeps started together on one new database: each either runs or is
 * refused with the message, never "duplicate column name"; the points the
 * successful runs report (already there + run now) add up to the sweep's
 * 1,200, and every point is in the table once. */
static void two_sweeps_at_once(void **state)
{
    (void)state;
    const char *spec = write_1200_point_spec("sweep_twice.json");
    char db[512], out[2][512];
    snprintf(db, sizeof db, "%s/sweep_twice.db", USIM_TEST_TMP);
    fresh(db);
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        snprintf(out[k], sizeof out[k], "%s/sweep_twice_%d", USIM_TEST_TMP, k);
        pid[k] = start_sweep(spec, db, out[k]);
    }
    long long computed = 0, succeeded = 0;
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
        char path[600];
        snprintf(path, sizeof path, "%s.%s", out[k], WEXITSTATUS(status) == 0 ? "out" : "err");
        const char *text = slurp_file(path);
        if (WEXITSTATUS(status) == 0) {
            long long before = json_count(text, "done_before"), now = json_count(text, "computed");
            assert_int_equal(before + now, 1200);
            computed += now;
            succeeded++;
        } else if (WEXITSTATUS(status) != 2 || !strstr(text, "another sweep is writing")) {
            fail_msg("sweep %d: exit %d, %s", k, WEXITSTATUS(status), text);
        }
    }
    assert_true(succeeded >= 1);
    assert_int_equal(computed, 1200); /* no point was run by both */
    assert_close(query(db, "SELECT count(DISTINCT id) FROM points"), 1200, 0);
}

/* A file that is not SQLite: its name once, SQLite's reason, exit 2. */
static void foreign_database(void **state)
{
    (void)state;
    char spec[512], args[1200], expect[700];
    snprintf(spec, sizeof spec, "%s", write_temp("sweep_foreign.json", SPEC));
    const char *db = write_temp("sweep_foreign.db", "these are my notes, not a database\n");
    snprintf(args, sizeof args, "sweep %s --db %s", spec, db);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    snprintf(expect, sizeof expect,
             "ultrasim: %s: not a usable sweep database: file is not a database\n", db);
    assert_string_equal(r.err, expect);
    cli_free(&r);
}

/* A database its user may not write (mode 444; as root, run as nobody so
 * that the mode binds): its name once and the system's reason, exit 2. */
static void unwritable_database(void **state)
{
    (void)state;
    const char *dir = shared_scratch(); /* nobody must reach the files and the CLI */
    char spec[512], db[512], err_path[600], cli[512];
    snprintf(spec, sizeof spec, "%s/sweep_unwritable.json", dir);
    snprintf(db, sizeof db, "%s/sweep_unwritable.db", dir);
    snprintf(err_path, sizeof err_path, "%s/sweep_unwritable.err", dir);
    snprintf(cli, sizeof cli, "%s/ultrasim", dir);
    write_text_file(spec, SPEC);
    write_text_file(db, "");
    assert_int_equal(chmod(db, 0444), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen(err_path, "w", stderr))
            _exit(78);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        execl(cli, cli, "sweep", spec, "--db", db, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 2);
    char expect[700];
    snprintf(expect, sizeof expect,
             "ultrasim: %s: cannot open the database for writing: Permission denied\n", db);
    assert_string_equal(slurp_file(err_path), expect);
    chmod(db, 0644);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_and_what_if),
        cmocka_unit_test(points_show_no_progress),
        cmocka_unit_test(resumes_after_kill),
        cmocka_unit_test(two_mpi_ranks),
        cmocka_unit_test(bad_specs),
        cmocka_unit_test(flag_swept_false),
        cmocka_unit_test(second_writer_is_refused),
        cmocka_unit_test(two_sweeps_at_once),
        cmocka_unit_test(foreign_database),
        cmocka_unit_test(unwritable_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
