/*
 * report: one HTML page from a result or a sweep, and --report on the
 * commands that write one. What a browser makes of the page is checked by
 * scripts/check-report.py (ctest report_in_browser); here, what the page holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* A training step's page: its headline, the two charts (the step's parts and
 * memory, each with ids of its own), the run as the CLI prints it, and the
 * trace, whose "</" cannot end the script early. */
static void train_page(void **state)
{
    (void)state;
    char page[512], trace[512], args[1400];
    snprintf(page, sizeof page, "%s", write_temp("step.html", ""));
    snprintf(trace, sizeof trace, "%s", write_temp("step.json", ""));
    snprintf(args, sizeof args,
             "train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 --trace %s --report %s "
             "--json",
             trace, page);
    json_t *r = cli_json(args);
    assert_string_equal(json_string_value(json_object_get(r, "report_html")), page);
    json_decref(r);
    char *html = read_all(page);
    assert_non_null(strstr(html, "<title>ultrasim train: llama3-8b on dgx-h100</title>"));
    assert_int_equal(count(html, "<svg"), 2);
    assert_true(count(html, "id=\"c") > 0 && count(html, "id=\"glyph") == 0);
    assert_non_null(strstr(html, "Where a step goes (s)"));
    assert_non_null(strstr(html, "Memory per chip (GiB)"));
    assert_non_null(strstr(html, "The run, as the command line prints it"));
    assert_non_null(strstr(html, "<script type=\"application/json\" id=\"trace\">"));
    char *start = strstr(html, "id=\"trace\">"), *end = strstr(start, "</script>");
    for (char *p = start; p < end; p++)
        assert_false(p[0] == '<' && p[1] == '/');
    free(html);
}

/* Every output is checked before the first is written: a trace (and eight
 * Chakra files) written and then a report refused left them behind. */
static void refused_output_writes_nothing(void **state)
{
    (void)state;
    char trace[512], et[512], args[1400];
    snprintf(trace, sizeof trace, "%s/left_behind.json", USIM_TEST_TMP);
    snprintf(et, sizeof et, "%s/left_behind_et", USIM_TEST_TMP);
    remove(trace);
    snprintf(args, sizeof args,
             "train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 --trace %s "
             "--export-et %s --report /nonexistent/page.html",
             trace, et);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--report: /nonexistent/page.html: cannot write: folder "
                                  "/nonexistent"));
    cli_free(&r);
    char first_rank[600];
    snprintf(first_rank, sizeof first_rank, "%s.0.et", et);
    FILE *f = fopen(trace, "r");
    assert_null(f);
    f = fopen(first_rank, "r");
    assert_null(f);
}

/* A plan search's page tables its plans (header + one row each). */
static void plan_page(void **state)
{
    (void)state;
    char page[512], args[900];
    snprintf(page, sizeof page, "%s", write_temp("plan.html", ""));
    snprintf(args, sizeof args,
             "plan --model llama3-8b --hw dgx-h100 --chips 8 --gbs 16 --seq 2048 --top 3 "
             "--report %s",
             page);
    cli_result c = cli_run(args);
    assert_int_equal(c.status, 0);
    cli_free(&c);
    char *html = read_all(page);
    assert_int_equal(count(html, "<tr>"), 4);
    assert_non_null(strstr(html, "class=\"sortable\""));
    free(html);
}

/* From a result file, as `report` reads it; a file that is neither a result
 * nor a sweep is an input error, and writes nothing. */
static void report_command(void **state)
{
    (void)state;
    char result[512], page[512], args[1200];
    cli_result c = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --chips 1 --requests 4 "
                           "--json");
    assert_int_equal(c.status, 0);
    snprintf(result, sizeof result, "%s", write_temp("serve.json", c.out));
    cli_free(&c);
    snprintf(page, sizeof page, "%s", write_temp("serve.html", "old"));
    snprintf(args, sizeof args, "report %s -o %s", result, page);
    c = cli_run(args);
    assert_int_equal(c.status, 0);
    cli_free(&c);
    char *html = read_all(page);
    assert_non_null(strstr(html, "TTFT p50"));
    free(html);
    const char *md = write_temp("notes.json", "{\"hello\": 1}");
    snprintf(args, sizeof args, "report %s -o %s", md, page);
    expect_input_error(args, "is neither a result");
    html = read_all(page); /* the refused run wrote nothing over it */
    assert_non_null(strstr(html, "TTFT p50"));
    free(html);
    /* a result missing what its page reads, or of no command with a page,
     * is refused (a bare collective result crashed; a bare train result drew
     * "(null) on nan chips"); a system without its collectives draws */
    static const char *const BAD[][2] = {
        {"{\"command\": \"collective\"}", "field 'hw' is missing or not a string: not a "
                                              "collective result as 'ultrasim collective --json' "
                                              "writes it"},
        {"{\"command\": \"train\", \"model\": \"m\", \"hw\": \"h\", \"chips\": \"8\"}",
         "field 'chips' is missing or not a number or null"},
        {"{\"command\": \"bogus\"}", "command 'bogus' has no report page (allowed: train, "
                                         "serve, goodput, plan, study, collective, gemm, "
                                         "attention, replay, calibrate, hw show, hw list, "
                                         "models, validate)"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        snprintf(args, sizeof args, "report %s -o %s", write_temp("bad-result.json", BAD[i][0]),
                 page);
        expect_input_error(args, BAD[i][1]);
    }
    snprintf(args, sizeof args, "report %s -o %s",
             write_temp("odd-list.json", "{\"command\": \"hw list\", \"presets\": [null]}"),
             page);
    c = cli_run(args);
    assert_int_equal(c.status, 0);
    cli_free(&c);
    /* results in their other shapes draw as before */
    static const char *const GOOD[] = {
        ("serve --model llama3.1-8b --hw dgx-h100 --tp 1 --mode sweep --requests 20 "
         "--sweep-size 3 --json"),
        "collective --hw dgx-h100 --sweep 1KiB:1MiB --json",
        "collective --hw dgx-h100 --size 1GiB --json", /* its "sweep" is null */
        "calibrate --list-knobs --hw p5.48xlarge --json"};
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        c = cli_run(GOOD[i]);
        assert_int_equal(c.status, 0);
        snprintf(args, sizeof args, "report %s -o %s", write_temp("good-result.json", c.out),
                 page);
        cli_free(&c);
        c = cli_run(args);
        if (c.status != 0)
            fail_msg("%s: %s", GOOD[i], c.err);
        cli_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_page),
        cmocka_unit_test(refused_output_writes_nothing),
        cmocka_unit_test(plan_page),
        cmocka_unit_test(report_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
