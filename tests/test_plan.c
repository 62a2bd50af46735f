/*
 * Plan search: the best plan found is at least as fast as every plan a
 * person would try by hand (each simulated here), plans come back ranked,
 * and a model that fits nowhere is an error that says why. The search and
 * the scale-up study give the same bytes on any number of threads, and a
 * study whose last write fails leaves no part of its report behind.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "ultrasim/plan.h"

/* Llama 3 8B on 16 H100s, 64 x 4,096 tokens, the best 4: a search small
 * enough for a test. */
static plan_search_options small_search(wl_model *m, hw_system *s)
{
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(wl_model_load("llama3-8b", m, &err), USIM_OK);
    *s = load_system("dgx-h100", 16);
    plan_search_options o;
    memset(&o, 0, sizeof o);
    o.plan.gbs = 64;
    o.plan.seq = 4096;
    o.plan.dtype = USIM_BF16;
    o.plan.overlap_grad_reduce = o.plan.overlap_param_gather = true;
    assert_int_equal(wl_stack_load("megatron-core", &o.plan.stack, &err), USIM_OK);
    o.top = 4;
    return o;
}

static void best_beats_hand_plans(void **state)
{
    (void)state;
    wl_model m;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    plan_search_options o = small_search(&m, &s);
    plan_search_result *r = malloc(sizeof *r);
    assert_int_equal(plan_search(&m, &s, &o, r, &err), USIM_OK);
    assert_true(r->count == 4);
    for (int i = 1; i < r->count; i++)
        assert_true(r->scores[i] >= r->scores[i - 1]);
    int tps[] = {1, 2, 4, 8}, pps[] = {1, 2, 4};
    for (int a = 0; a < 4; a++) {
        for (int b = 0; b < 3; b++) {
            wl_plan p = o.plan;
            p.tp = tps[a];
            p.pp = pps[b];
            p.dp = 16 / (p.tp * p.pp);
            p.cp = p.ep = p.vp = p.mbs = 1;
            p.zero = 1;
            p.recompute = WL_RECOMPUTE_SELECTIVE;
            p.sp = p.tp > 1;
            train_result t;
            if (train_step(&m, &p, &s, &t, NULL, &err) != USIM_OK || !t.fits)
                continue;
            assert_true(r->results[0].step_time_s <= t.step_time_s * (1 + 1e-12));
        }
    }
    free(r);
}

/* Progress: one call per plan simulated, with the count so far and the plans
 * that fit; on one thread the calls are exactly the plans the search reports
 * simulated (the parallel run may simulate a few more: see search.c). */
typedef struct progress_log {
    long long calls, last, fitting;
} progress_log;

static void log_progress(void *ctx, long long simulated, long long fitting)
{
    progress_log *l = ctx;
    l->calls++;
    assert_int_equal(simulated, l->last + 1);
    l->last = simulated;
    l->fitting = fitting;
}

static void search_reports_progress(void **state)
{
    (void)state;
    wl_model m;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    plan_search_options o = small_search(&m, &s);
    o.jobs = 1;
    progress_log log = {0, 0, 0};
    o.progress = log_progress;
    o.progress_ctx = &log;
    plan_search_result *r = malloc(sizeof *r);
    assert_int_equal(plan_search(&m, &s, &o, r, &err), USIM_OK);
    assert_true(r->simulated > 0);
    assert_int_equal(log.calls, r->simulated);
    assert_int_equal(log.fitting, r->feasible);
    free(r);
}

static void nothing_fits(void **state)
{
    (void)state;
    cli_result r = cli_run("plan --model llama3.1-405b --hw dgx-h100 --chips 8 --gbs 8 --seq 4096");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no plan fits"));
    cli_free(&r);
    /* Plans the simulation refuses are counted and the first one's reason
     * given: every plan in fp8 on an A100 failed, and the message said only
     * that nothing was too big. */
    r = cli_run("plan --model llama3-8b --hw dgx-a100-80gb --chips 64 --gbs 64 --seq 4096 "
                "--dtype fp8");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "594 refused by the simulation (the first: a100-80gb has no "
                                  "fp8 matrix support; choose another --dtype)"));
    cli_free(&r);
    /* every candidate invalid, none too big: the reason, not "add chips" */
    expect_input_error("plan --model llama3-8b --hw dgx-h100 --chips 7 --gbs 64 --seq 4096",
                       "no plan is valid: 16 candidates, every one invalid for this model on 7 "
                       "chips (the first: gbs: global batch 64 is not a multiple of DP 7 x "
                       "micro-batch 1)");
}

static void ranked_output(void **state)
{
    (void)state;
    cli_result r = cli_run("plan --model llama3-8b --hw trn2.48xlarge --gbs 32 --seq 4096 --top 3");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Why #1 beats #2"));
    cli_free(&r);
    /* two plans 0.04% apart: the line says so rather than ending empty */
    r = cli_run("plan --model llama3-8b --hw dgx-h100 --chips 16 --gbs 128 --seq 4096");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Why #1 beats #2 (seconds per step, #1 - #2): step -0.00132; "
                                  "no part differs by 0.5% of the step"));
    cli_free(&r);
}

/* plan --schedule zb-h1 searches plans of one chunk a rank, each timed as
 * train times it under that schedule. */
static void zero_bubble_search(void **state)
{
    (void)state;
    json_t *j = cli_json("plan --model llama3-70b --hw dgx-h100 --chips 32 --gbs 64 --seq 4096 "
                         "--schedule zb-h1 --top 5 --json");
    assert_string_equal(json_string_value(json_object_get(j, "schedule")), "zb-h1");
    size_t i;
    json_t *p;
    int pipelined = 0;
    json_array_foreach(json_object_get(j, "plans"), i, p)
    {
        assert_int_equal(json_integer_value(json_object_get(p, "vp")), 1);
        if (json_integer_value(json_object_get(p, "pp")) < 2)
            continue;
        pipelined++;
        char args[400];
        snprintf(args, sizeof args,
                 "train --model llama3-70b --hw dgx-h100 --chips 32 --gbs 64 --seq 4096 "
                 "--schedule zb-h1 --tp %lld --pp %lld --mbs %lld --zero %lld --recompute %s --json",
                 (long long)json_integer_value(json_object_get(p, "tp")),
                 (long long)json_integer_value(json_object_get(p, "pp")),
                 (long long)json_integer_value(json_object_get(p, "mbs")),
                 (long long)json_integer_value(json_object_get(p, "zero")),
                 json_string_value(json_object_get(p, "recompute")));
        assert_close(cli_number(args, "", NULL, "step_time_s"),
                     json_number_value(json_object_get(p, "step_time_s")), 1e-9);
    }
    assert_true(pipelined > 0);
    json_decref(j);
}

/* At DP 1 there is nothing for ZeRO to shard: ZeRO 3 is ZeRO 1's plan and
 * was listed beside it ("Why #1 beats #2: step +0"). */
static void no_zero_sharding_without_dp(void **state)
{
    (void)state;
    json_t *j = cli_json("plan --model llama3-8b --hw dgx-h100 --chips 8 --gbs 3 --seq 4096 "
                         "--top 20 --json");
    json_t *plans = json_object_get(j, "plans"), *p;
    size_t i;
    assert_true(json_array_size(plans) > 4);
    json_array_foreach(plans, i, p)
    {
        double dp = json_number_value(json_object_get(p, "dp"));
        double cp = json_number_value(json_object_get(p, "cp"));
        if (dp * cp == 1)
            assert_int_equal(json_integer_value(json_object_get(p, "zero")), 1);
    }
    json_decref(j);
}

/* The whole JSON, counts included, is the same on 1, 2 and 5 threads. */
static void search_same_on_any_thread_count(void **state)
{
    (void)state;
    const char *base = "plan --model llama3-8b --hw dgx-h100 --chips 64 --gbs 64 --seq 4096 "
                       "--top 8 --json --jobs";
    char args[256];
    snprintf(args, sizeof args, "%s 1", base);
    cli_result one = cli_run(args);
    assert_int_equal(one.status, 0);
    /* The sequential search's counts (594 of the 1,056 candidates valid and
     * fitting, 8 simulated before no bound beats the 8th best): threads that
     * simulate a few more plans must not show in the result. */
    assert_non_null(strstr(one.out, "\"feasible\": 594"));
    assert_non_null(strstr(one.out, "\"simulated\": 8,"));
    for (int jobs = 2; jobs <= 5; jobs += 3) {
        snprintf(args, sizeof args, "%s %d", base, jobs);
        cli_result many = cli_run(args);
        assert_int_equal(many.status, 0);
        assert_string_equal(many.out, one.out);
        cli_free(&many);
    }
    cli_free(&one);
}

static char *read_all(const char *path, long *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *size = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)*size + 1);
    size_t got = fread(buf, 1, (size_t)*size, fp);
    buf[got] = '\0';
    fclose(fp);
    return buf;
}

static void assert_same_file(const char *a, const char *b)
{
    long na = -1, nb = -2;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, (size_t)na);
    free(x);
    free(y);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names in dir, hidden ones too, sorted and joined by spaces. */
static const char *folder_listing(const char *dir)
{
    static char listing[2048];
    char names[32][256];
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) && n < 32;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    listing[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(listing + strlen(listing), sizeof listing - strlen(listing), "%s%s",
                 i ? " " : "", names[i]);
    return listing;
}

/* Report and both charts are byte-identical on 1 and 3 threads. */
static void study_same_on_any_thread_count(void **state)
{
    (void)state;
    const char *names[] = {"scale-up.md", "scale-up.png", "scale-up.svg"};
    char dirs[2][600], args[1400];
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/study-%d-jobs%d", USIM_TEST_TMP, (int)getpid(),
                 i ? 3 : 1);
        snprintf(args, sizeof args,
                 "study scale-up --model llama3-8b --max-chips 1024 --out %s --jobs %d",
                 dirs[i], i ? 3 : 1);
        cli_result r = cli_run(args);
        if (r.status != 0)
            fail_msg("exit %d: %s", r.status, r.err);
        char said[2600]; /* progress, if any, went to stderr: stdout is the result only */
        snprintf(said, sizeof said, "wrote %s/scale-up.md and its charts in %s\n", dirs[i],
                 dirs[i]);
        assert_string_equal(r.out, said);
        cli_free(&r);
    }
    for (int k = 0; k < 3; k++) {
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", dirs[0], names[k]);
        snprintf(b, sizeof b, "%s/%s", dirs[1], names[k]);
        assert_same_file(a, b);
        remove(a);
        remove(b);
    }
    rmdir(dirs[0]);
    rmdir(dirs[1]);
}

/* A folder in the way of the last output (the SVG) fails the study with
 * exit 2 naming it, and neither the report nor the PNG nor a temporary
 * file is left in the folder. */
static void study_failed_write_leaves_nothing(void **state)
{
    (void)state;
    char dir[600], blocker[700], args[1400];
    snprintf(dir, sizeof dir, "%s/study-blocked-%d", USIM_TEST_TMP, (int)getpid());
    snprintf(blocker, sizeof blocker, "%s/scale-up.svg", dir);
    assert_int_equal(mkdir(dir, 0777), 0);
    assert_int_equal(mkdir(blocker, 0777), 0);
    snprintf(args, sizeof args, "study scale-up --model llama3-8b --max-chips 64 --out %s", dir);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--out"));
    assert_non_null(strstr(r.err, "scale-up.svg"));
    assert_string_equal(r.out, "");
    assert_string_equal(folder_listing(dir), "scale-up.svg");
    cli_free(&r);
    rmdir(blocker);
    rmdir(dir);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A failed study leaves the previous run's report and PNG as they were
 * (same bytes), and none of its own staging behind; the next study, with
 * the way clear, replaces them. */
static void study_failed_write_keeps_previous(void **state)
{
    (void)state;
    char dir[600], blocker[700], args[1400], path[1024];
    snprintf(dir, sizeof dir, "%s/study-previous-%d", USIM_TEST_TMP, (int)getpid());
    snprintf(blocker, sizeof blocker, "%s/scale-up.svg", dir);
    assert_int_equal(mkdir(dir, 0777), 0);
    write_text(dir, "scale-up.md", "previous report\n");
    write_text(dir, "scale-up.png", "previous chart\n");
    assert_int_equal(mkdir(blocker, 0777), 0);
    snprintf(args, sizeof args, "study scale-up --model llama3-8b --max-chips 64 --out %s", dir);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    cli_free(&r);
    long n = 0;
    snprintf(path, sizeof path, "%s/scale-up.md", dir);
    char *md = read_all(path, &n);
    assert_string_equal(md, "previous report\n");
    free(md);
    snprintf(path, sizeof path, "%s/scale-up.png", dir);
    char *png = read_all(path, &n);
    assert_string_equal(png, "previous chart\n");
    free(png);
    assert_string_equal(folder_listing(dir), "scale-up.md scale-up.png scale-up.svg");
    rmdir(blocker);
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    snprintf(path, sizeof path, "%s/scale-up.md", dir);
    md = read_all(path, &n);
    assert_non_null(strstr(md, "# Scale up or scale out? llama3-8b"));
    free(md);
    assert_string_equal(folder_listing(dir), "scale-up.md scale-up.png scale-up.svg");
    const char *names[] = {"scale-up.md", "scale-up.png", "scale-up.svg"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        remove(path);
    }
    rmdir(dir);
}

/* A study claims only what its sizes show: with no plan at any size there
 * is no step up to judge (it said every step "still pays" up to 64 chips),
 * and a size no system of the study holds is refused (100 chips). */
static void study_verdict_needs_two_sizes(void **state)
{
    (void)state;
    char dir[600], args[1400], path[1024];
    snprintf(dir, sizeof dir, "%s/study-nofit-%d", USIM_TEST_TMP, (int)getpid());
    snprintf(args, sizeof args, "study scale-up --model deepseek-v3 --max-chips 64 --out %s",
             dir);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    cli_free(&r);
    long n = 0;
    snprintf(path, sizeof path, "%s/scale-up.md", dir);
    char *md = read_all(path, &n);
    assert_null(strstr(md, "still pays"));
    assert_non_null(strstr(md, "8-GPU H100 nodes on InfiniBand: no size has a plan that fits, "
                               "so there is no step up in size to judge"));
    free(md);
    expect_input_error("study scale-up --max-chips 100 --out /tmp",
                       "--max-chips: 100 chips do not fill whole Trn2 UltraServers (64 chips)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(best_beats_hand_plans),
        cmocka_unit_test(study_verdict_needs_two_sizes),
        cmocka_unit_test(search_reports_progress),
        cmocka_unit_test(nothing_fits),
        cmocka_unit_test(ranked_output),
        cmocka_unit_test(zero_bubble_search),
        cmocka_unit_test(search_same_on_any_thread_count),
        cmocka_unit_test(no_zero_sharding_without_dp),
        cmocka_unit_test(study_same_on_any_thread_count),
        cmocka_unit_test(study_failed_write_leaves_nothing),
        cmocka_unit_test(study_failed_write_keeps_previous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
