/* Charts: real PNG and SVG files with the labels asked for; clean errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char db[512];

static int setup(void **state)
{
    (void)state;
    const char *spec = write_temp(
        "plot_sweep.json",
        "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"}, \"grid\": "
        "{\"chips\": [16, 64, 256], \"hw.chip.hbm.bandwidth\": [\"2.9TB/s\", \"4TB/s\"]}}");
    char args[1200];
    snprintf(db, sizeof db, "%s/plot_sweep.db", USIM_TEST_TMP);
    remove(db);
    snprintf(args, sizeof args, "sweep %s --db %s", spec, db);
    cli_result r = cli_run(args);
    int rc = r.status;
    cli_free(&r);
    return rc;
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_has_its_size),
        cmocka_unit_test(svg_names_axes_and_series),
        cmocka_unit_test(bad_plots),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
