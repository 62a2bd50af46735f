/* Charts: real PNG and SVG files with the labels asked for; clean errors;
 * the best point per chip count for scaling; numeric legends in numeric
 * order; axis titles with units; a database in a folder nobody may write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "support.h"
#include "ultrasim/report.h"

static char db[512], order_db[512];

/* Runs a sweep of spec_text into path; 0 when it worked. */
static int make_sweep(const char *name, const char *spec_text, char *path, size_t size)
{
    char spec_name[128], args[1200];
    snprintf(spec_name, sizeof spec_name, "%s.json", name);
    const char *spec = write_temp(spec_name, spec_text);
    snprintf(path, size, "%s/%s.db", USIM_TEST_TMP, name);
    remove(path);
    snprintf(args, sizeof args, "sweep %s --db %s", spec, path);
    cli_result r = cli_run(args);
    int rc = r.status;
    cli_free(&r);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    /* Bandwidths whose text order (10, 2.9, 512) is not their order. */
    return make_sweep("plot_sweep",
                      "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"}, "
                      "\"grid\": {\"chips\": [16, 64, 256], \"hw.chip.hbm.bandwidth\": "
                      "[\"2.9TB/s\", \"4TB/s\"]}}",
                      db, sizeof db) ||
           make_sweep("plot_order",
                      "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"}, "
                      "\"grid\": {\"chips\": [16, 64], \"hw.chip.hbm.bandwidth\": "
                      "[\"10TB/s\", \"512GB/s\", \"2.9TB/s\"]}}",
                      order_db, sizeof order_db);
}

static void png_has_its_size(void **state)
{
    (void)state;
    char out[512], args[1600];
    snprintf(out, sizeof out, "%s/plot.png", USIM_TEST_TMP);
    remove(out);
    snprintf(args, sizeof args,
             "plot --db %s --x chips --y hbm_bytes_per_s --series hw_chip_hbm_bandwidth --logx "
             "--out %s",
             db, out);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    FILE *fp = fopen(out, "rb");
    unsigned char h[24];
    assert_non_null(fp);
    assert_int_equal(fread(h, 1, 24, fp), 24);
    fclose(fp);
    assert_memory_equal(h, "\x89PNG\r\n\x1a\n", 8);
    unsigned width = (unsigned)h[16] << 24 | (unsigned)h[17] << 16 | (unsigned)h[18] << 8 | h[19];
    assert_int_equal(width, 900);
}

static void svg_names_axes_and_series(void **state)
{
    (void)state;
    char out[512], args[1600];
    snprintf(out, sizeof out, "%s/plot.svg", USIM_TEST_TMP);
    snprintf(args, sizeof args,
             "plot --db %s --x chips --y hbm_bytes_per_s --series hw_chip_hbm_bandwidth --title "
             "'HBM by chips' --out %s",
             db, out);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    FILE *fp = fopen(out, "rb");
    assert_non_null(fp);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    assert_true(n > 1000);
    assert_non_null(strstr(text, "<svg"));
    /* Cairo draws text as glyphs: the chart holds glyph uses, one per letter. */
    assert_non_null(strstr(text, "glyph"));
    free(text);
}

static void bad_plots(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"plot --db %s --x chips --y hbm_bytes_per_s --out /tmp/x.jpg", "name the file .svg"},
        {"plot --db %s --x chps --y hbm_bytes_per_s --out /tmp/x.png", "did you mean 'chips'"},
        {"plot --db %s --kind line --out /tmp/x.png", "needs --x and --y"},
        {"plot --db %s --result x.json --x a --y b --out /tmp/x.png", "exactly one of"},
        {"plot --db %s --kind pie --out /tmp/x.png", "'pie' is not one of"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1600];
        snprintf(args, sizeof args, cases[i][0], db);
        cli_result r = cli_run(args);
        if (r.status != 2 || !strstr(r.err, cases[i][1]))
            fail_msg("%s: exit %d, %s", args, r.status, r.err);
        cli_free(&r);
    }
    /* a result whose breakdown holds no part drew an empty chart */
    char args[1200];
    snprintf(args, sizeof args, "plot --result %s --kind breakdown --out %s/empty.svg",
             write_temp("empty-breakdown.json", "{\"command\": \"train\", \"breakdown\": {}}"),
             USIM_TEST_TMP);
    expect_input_error(args, "its \"breakdown\" has none of a step's parts");
}

/* Three bandwidths per chip count: scaling keeps the best (10 TB/s per
 * chip: 16 x 10 TB/s = 160 TB/s, 64 x 10 TB/s = 640 TB/s) and says so. */
static void scaling_takes_the_best_per_chip_count(void **state)
{
    (void)state;
    report_chart c;
    memset(&c, 0, sizeof c);
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(report_db_best_series(order_db, "chips", "hbm_bytes_per_s", NULL, &c, &err),
                     USIM_OK);
    assert_int_equal(c.nseries, 1);
    assert_int_equal(c.series[0].n, 2);
    assert_close(c.series[0].x[0], 16, 0);
    assert_close(c.series[0].y[0], 16 * 10e12, 1e-12);
    assert_close(c.series[0].x[1], 64, 0);
    assert_close(c.series[0].y[1], 64 * 10e12, 1e-12);
    assert_string_equal(c.legend_title, "best of 3 points per chip count");
    report_chart_free(&c);
    /* One point per (bandwidth, chips): nothing merged, no legend title. */
    memset(&c, 0, sizeof c);
    assert_int_equal(report_db_best_series(order_db, "chips", "hbm_bytes_per_s",
                                           "hw_chip_hbm_bandwidth", &c, &err),
                     USIM_OK);
    assert_int_equal(c.nseries, 3);
    assert_string_equal(c.legend_title, "");
    report_chart_free(&c);
    char out[512], args[1600];
    snprintf(out, sizeof out, "%s/plot_scaling.svg", USIM_TEST_TMP);
    snprintf(args, sizeof args, "plot --db %s --kind scaling --y hbm_bytes_per_s --out %s",
             order_db, out);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
}

/* Legends of quantities in numeric order: 512GB/s, 2.9TB/s, 10TB/s. */
static void numeric_legends_in_numeric_order(void **state)
{
    (void)state;
    report_chart c;
    memset(&c, 0, sizeof c);
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(report_db_series(order_db, "chips", "hbm_bytes_per_s",
                                      "hw_chip_hbm_bandwidth", &c, &err),
                     USIM_OK);
    assert_int_equal(c.nseries, 3);
    assert_string_equal(c.series[0].name, "512GB/s");
    assert_string_equal(c.series[1].name, "2.9TB/s");
    assert_string_equal(c.series[2].name, "10TB/s");
    assert_close(c.series[2].y[1], 64 * 10e12, 1e-12); /* the data moved with its name */
    assert_close(c.series[0].y[0], 16 * 512e9, 1e-12);
    report_chart_free(&c);
}

static void axis_titles_carry_units(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"tokens_per_s", "tokens_per_s (tokens/s)"},
        {"busbw_bytes_per_s", "busbw_bytes_per_s (bytes/s)"},
        {"step_time_s", "step_time_s (s)"},
        {"size", "size (bytes)"},
        {"chips", "chips"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[96];
        report_column_label(cases[i][0], USIM_UNIT_NONE, label, sizeof label);
        assert_string_equal(label, cases[i][1]);
    }
    /* a column of text quantities is titled in the unit its ticks count */
    char label[96];
    report_column_label("link_bw", USIM_UNIT_BYTES_PER_S, label, sizeof label);
    assert_string_equal(label, "link_bw (bytes/s)");
}

/* Runs `ultrasim plot --db DB --x chips --y Y --out OUT` as nobody (as root a
 * folder's mode does not bind); returns the exit code (77: cannot switch) and
 * fills text with what it printed on stderr. */
static int plot_as_nobody(const char *db_path, const char *y, const char *out, char *text,
                          size_t size)
{
    char err_path[600];
    snprintf(err_path, sizeof err_path, "%s.stderr", out);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        if (!freopen(err_path, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(78);
        char cli[512];
        snprintf(cli, sizeof cli, "%s/ultrasim", shared_scratch());
        execl(cli, cli, "plot", "--db", db_path, "--x", "chips", "--y", y, "--out", out,
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *fp = fopen(err_path, "r");
    text[0] = '\0';
    if (fp) {
        size_t n = fread(text, 1, size - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    return WEXITSTATUS(status);
}

/* A database in a folder its reader cannot write (SQLite cannot create the
 * WAL's FILE-shm there) is plotted, not called "not a sweep database". When a
 * killed sweep left committed points in FILE-wal, reading it as immutable would
 * silently drop them: that is refused, saying how to fix it. */
static void database_in_a_read_only_folder(void **state)
{
    (void)state;
    char dir[512], copy[600], outdir[512], out[600], text[1024], cmd[8192];
    const char *scratch = shared_scratch(); /* nobody must reach the files and the CLI */
    snprintf(dir, sizeof dir, "%s/plot_ro", scratch);
    snprintf(copy, sizeof copy, "%s/plot.db", dir);
    snprintf(outdir, sizeof outdir, "%s/plot_ro_out", scratch);
    snprintf(out, sizeof out, "%s/ro.svg", outdir);
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s 2>/dev/null; rm -rf %s %s; mkdir -p %s %s && cp %s %s && chmod 555 %s && chmod 777 %s",
             dir, dir, outdir, dir, outdir, db, copy, dir, outdir);
    assert_int_equal(system(cmd), 0);
    int rc = plot_as_nobody(copy, "hbm_bytes_per_s", out, text, sizeof text);
    if (rc == 77)
        skip();
    if (rc != 0)
        fail_msg("exit %d: %s", rc, text);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_true(sb.st_size > 1000);
    snprintf(cmd, sizeof cmd, "chmod 755 %s && printf 'pages' > %s-wal && chmod 555 %s", dir,
             copy, dir);
    assert_int_equal(system(cmd), 0);
    rc = plot_as_nobody(copy, "hbm_bytes_per_s", out, text, sizeof text);
    assert_int_equal(rc, 2);
    if (!strstr(text, "plot.db: cannot read the database: its newest points are still in ") ||
        !strstr(text, "plot.db-wal, which needs a writable folder"))
        fail_msg("stderr: %s", text);
    snprintf(cmd, sizeof cmd, "chmod 755 %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A database NAME.db made by the SQL (its path in path). */
static void make_db(const char *name, const char *sql, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.db", USIM_TEST_TMP, name);
    remove(path);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

/* A column whose name holds a double quote is still a column: SQLite quotes it. */
static void series_column_with_a_quote(void **state)
{
    (void)state;
    char path[512], out[600];
    snprintf(out, sizeof out, "%s/plot_quote.svg", USIM_TEST_TMP);
    make_db("plot_quote",
            "CREATE TABLE points (id INTEGER, status TEXT, chips REAL, tokens_per_s REAL, "
            "\"hw\"\"name\" TEXT);"
            "INSERT INTO points VALUES (0, 'ok', 16, 100, 'a'), (1, 'ok', 64, 300, 'a'), "
            "(2, 'ok', 16, 90, 'b');",
            path, sizeof path);
    char args[1400];
    snprintf(args, sizeof args,
             "plot --db %s --x chips --y tokens_per_s --series 'hw\"name' --out %s", path, out);
    cli_result r = cli_run(args);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    cli_free(&r);
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char svg[65536];
    size_t n = fread(svg, 1, sizeof svg - 1, fp);
    svg[n] = '\0';
    fclose(fp);
    assert_true(n > 1000);
}

/* Quantities a sweep wrote as text are placed by their value ("1TB/s" at
 * 1e12, right of "100GB/s", which it stood left of as 1), in x order; a
 * column of words is no axis (status drew as 0 everywhere). */
static void text_quantities_are_values(void **state)
{
    (void)state;
    char path[512];
    make_db("plot_units",
            "CREATE TABLE points (id INTEGER, status TEXT, bw TEXT, step_time_s REAL);"
            "INSERT INTO points VALUES (0, 'ok', '100GB/s', 13.5), (1, 'ok', '1TB/s', 3.7), "
            "(2, 'ok', '2.9TB/s', 3.69), (3, 'ok', '450GB/s', 4.4);",
            path, sizeof path);
    report_chart c;
    memset(&c, 0, sizeof c);
    usim_error err;
    assert_int_equal(report_db_series(path, "bw", "step_time_s", NULL, &c, &err), USIM_OK);
    assert_int_equal(c.series[0].n, 4);
    const double x[] = {100e9, 450e9, 1e12, 2.9e12}, y[] = {13.5, 4.4, 3.7, 3.69};
    for (int i = 0; i < 4; i++) {
        assert_close(c.series[0].x[i], x[i], 1e-12);
        assert_close(c.series[0].y[i], y[i], 1e-12);
    }
    assert_int_equal(c.xunit, USIM_UNIT_BYTES_PER_S); /* the x ticks count bytes/s */
    assert_int_equal(c.yunit, USIM_UNIT_NONE);
    report_chart_free(&c);
    assert_int_equal(report_db_series(path, "id", "status", NULL, &c, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "column 'status' holds 'ok', not a number"));
    report_chart_free(&c);
    /* the best at each x is SQL's max, which orders text as text */
    assert_int_equal(report_db_best_series(path, "id", "bw", NULL, &c, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "column 'bw' holds text in 4 rows"));
    report_chart_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_quantities_are_values),
        cmocka_unit_test(png_has_its_size),
        cmocka_unit_test(svg_names_axes_and_series),
        cmocka_unit_test(bad_plots),
        cmocka_unit_test(scaling_takes_the_best_per_chip_count),
        cmocka_unit_test(numeric_legends_in_numeric_order),
        cmocka_unit_test(axis_titles_carry_units),
        cmocka_unit_test(database_in_a_read_only_folder),
        cmocka_unit_test(series_column_with_a_quote),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
