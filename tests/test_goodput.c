/*
 * Goodput of a run: the printed expectation is Daly's formula of the printed
 * inputs, the Monte-Carlo mean agrees with it within 2%, the interval is
 * near Young's, and bad inputs are errors. Without failures goodput is 100%
 * and what does not exist is null; a failure rate at the top of its range
 * skips the Monte-Carlo run (which would take hours) and says why.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "support.h"

static double num(json_t *j, const char *k)
{
    return json_number_value(json_object_get(j, k));
}

static void daly_of_the_printed_inputs(void **state)
{
    (void)state;
    cli_result r = cli_run("goodput --model llama3-8b --hw dgx-h100 --chips 1024 --tp 1 --zero 3 "
                           "--gbs 1024 --seq 8192 --tokens 1e12 --mc-runs 300 --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    double M = num(j, "mtbf_s"), tau = num(j, "checkpoint_interval_s");
    double d = num(j, "checkpoint_s"), R = num(j, "restart_s"), T = num(j, "solve_time_s");
    double wall = M * exp(R / M) * expm1((tau + d) / M) * T / tau;
    assert_close(num(j, "wall_time_s"), wall, 1e-9);
    assert_close(num(j, "goodput"), T / wall, 1e-9);
    assert_close(num(j, "interruptions"), wall / M, 1e-9);
    json_t *mc = json_object_get(j, "monte_carlo");
    assert_close(num(mc, "mean_wall_s"), wall, 0.02);
    assert_close(tau, sqrt(2 * d * M), 0.15);
    /* 1,024 H100s: 1,024 x (chip + NIC + link) + 5,120 stacks + 128 hosts at
     * the Llama 3 rates = 20.2 failures per million hours per GPU... */
    double per_hour = (1024 * (9230.6 + 329.7 + 1648.3) + 5120 * 678.2 + 128 * (17331 + 23736)) *
                      1e-9;
    assert_close(3600 / M, per_hour, 1e-4);
    json_decref(j);
    cli_free(&r);
    /* a run that names no recomputation and does not fit under selective
     * runs, and says so, as train does (the fewest whole layers: 8 of 16) */
    expect_output("goodput --model llama3.2-1b --hw dgx-h100 --chips 8 --gbs 64 --mbs 8 --seq 8192 "
                  "--zero 0 --tokens 1e9",
                  "(the first 8 layers of each chunk recomputed whole: selective does not fit)",
                  NULL);
}

static void bad_inputs(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"--chip-fit -5", "--chip-fit"},
        {"--storage-bw 0", "--storage-bw"},
        {"--ckpt-interval 0s", "--ckpt-interval"},
        {"--ckpt-interval often", "--ckpt-interval"},
        {"--straggler-prob 2", "--straggler-prob"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[600];
        snprintf(args, sizeof args,
                 "goodput --model llama3-8b --hw dgx-h100 --chips 64 --zero 3 --gbs 64 --seq 4096 "
                 "--tokens 1e11 %s",
                 cases[i][0]);
        cli_result r = cli_run(args);
        if (r.status != 2 || !strstr(r.err, cases[i][1]))
            fail_msg("%s: exit %d: %s", cases[i][0], r.status, r.err);
        cli_free(&r);
    }
}

#define SMALL_RUN "goodput --model llama3-8b --hw dgx-h100 --chips 64 --zero 3 --gbs 64 " \
                  "--seq 4096 --tokens 1e11 "
#define NO_FAILURES "--chip-fit 0 --hbm-fit 0 --host-fit 0 --software-fit 0 --nic-fit 0 " \
                    "--link-fit 0 "

/* No failures: no checkpoint is worth taking, so the wall time is the
 * failure-free time and goodput is exactly 1; MTBF and the intervals do not
 * exist (null), and every Monte-Carlo run takes exactly the solve time. */
static void no_failures_is_full_goodput(void **state)
{
    (void)state;
    cli_result r = cli_run(SMALL_RUN NO_FAILURES "--json");
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    double T = num(j, "solve_time_s");
    assert_true(T > 0);
    assert_true(num(j, "goodput") == 1.0);
    assert_true(num(j, "wall_time_s") == T);
    assert_true(num(j, "interruptions") == 0.0);
    assert_true(num(j, "cost_lost_usd") == 0.0);
    assert_true(json_is_null(json_object_get(j, "mtbf_s")));
    assert_true(json_is_null(json_object_get(j, "checkpoint_interval_s")));
    assert_true(json_is_null(json_object_get(j, "young_interval_s")));
    assert_string_equal(json_string_value(json_object_get(j, "mtbf_s_reason")),
                        "no failures");
    json_t *mc = json_object_get(j, "monte_carlo");
    assert_close(num(mc, "mean_wall_s"), T, 1e-12);
    assert_true(num(mc, "mean_failures") == 0.0);
    json_decref(j);
    cli_free(&r);
    /* identical runs (checkpoints, no failures) have no spread: the sum of
     * squares less the squared mean left 41 ms of it on 16-day runs */
    j = cli_json(SMALL_RUN NO_FAILURES "--ckpt-interval 1h --json");
    assert_true(num(json_object_get(j, "monte_carlo"), "stddev_wall_s") == 0.0);
    json_decref(j);

    r = cli_run(SMALL_RUN NO_FAILURES);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "goodput                      100.0%\n"));
    assert_non_null(strstr(r.out, "interruptions expected       0 (no failures)\n"));
    assert_non_null(strstr(r.out, "checkpoint interval          n/a (no failures: never "
                                  "checkpoint) (Young's sqrt(2 delta M): n/a (no failures))\n"));
    cli_free(&r);
    /* a short run expects a fraction of an interruption: it printed 0, beside
     * dollars lost to failures */
    r = cli_run("goodput --model llama3-8b --hw dgx-h100 --chips 8 --gbs 64 --seq 4096 "
                "--tokens 1e9");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "interruptions expected       0.0005 (one every 263.9 d)\n"));
    assert_non_null(strstr(r.out, "0.032 chip-hours lost\n"));
    cli_free(&r);
}

/* --chip-fit 1e9 on 64 H100s: a failure every 56 s, so 200 runs would draw
 * 200 x (T/tau segments + T_wall/M failures), about 2.4e10 events (hours of
 * work). The Monte-Carlo run is skipped with that count named; the analytic
 * result (Daly) stands. */
static void top_fit_skips_monte_carlo(void **state)
{
    (void)state;
    cli_result r = cli_run(SMALL_RUN "--chip-fit 1e9 --json");
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    double M = num(j, "mtbf_s"), tau = num(j, "checkpoint_interval_s");
    double d = num(j, "checkpoint_s"), R = num(j, "restart_s"), T = num(j, "solve_time_s");
    double wall = M * exp(R / M) * expm1((tau + d) / M) * T / tau;
    /* 64 chips x 1e9 FIT = 0.0178 failures/s from chips alone. */
    assert_close(1 / M, 64 * 1e9 * 1e-9 / 3600 + 64 * (329.7 + 1648.3) * 1e-9 / 3600 +
                            320 * 678.2 * 1e-9 / 3600 + 8 * (17331 + 23736) * 1e-9 / 3600,
                 1e-4);
    assert_close(num(j, "wall_time_s"), wall, 1e-9);
    assert_true(json_is_null(json_object_get(j, "monte_carlo")));
    char expected[300];
    snprintf(expected, sizeof expected,
             "not run: 200 runs would take %.2g events (failures and checkpoints), over the "
             "limit of 1e+08; the analytic result stands",
             200 * (ceil(T / tau) + wall / M));
    assert_string_equal(json_string_value(json_object_get(j, "monte_carlo_note")), expected);
    json_decref(j);
    cli_free(&r);
}

/* With a 7-day restart and a failure every 56 s, e^(R/M) overflows: the run
 * never finishes. Goodput 0, the times and costs null, no crash. */
static void never_finishes(void **state)
{
    (void)state;
    cli_result r = cli_run(SMALL_RUN "--chip-fit 1e9 --restart 7d --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_true(num(j, "goodput") == 0.0);
    const char *nulls[] = {"wall_time_s", "interruptions", "checkpoint_interval_s", "cost_usd",
                           "energy_kwh", "monte_carlo"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (!json_is_null(json_object_get(j, nulls[i])))
            fail_msg("%s is not null", nulls[i]);
    /* and each says why, beside it */
    assert_string_equal(json_string_value(json_object_get(j, "cost_usd_reason")),
                        "the run never finishes: failures come faster than restarts");
    assert_string_equal(json_string_value(json_object_get(j, "checkpoint_interval_s_reason")),
                        "the run never finishes: failures come faster than restarts");
    json_decref(j);
    cli_free(&r);
    r = cli_run(SMALL_RUN "--chip-fit 1e9 --restart 7d");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "goodput                      0% (the run never finishes)"));
    cli_free(&r);
}

/* One asynchronous write at a time: Llama 3 8B's 112.4 GB checkpoint takes
 * 1,124 s at 100 MB/s, so the interval chosen is that write (Young's 633 s
 * would have had two in flight), and a 100 s interval given blocks for the
 * copy to host plus the 1,024 s left of the write before it. */
static void async_writes_one_at_a_time(void **state)
{
    (void)state;
    const char *cmd = SMALL_RUN "--async-ckpt --storage-aggregate 100MB/s --mc-runs 0 --json";
    json_t *j = cli_json(cmd);
    double write = num(j, "checkpoint_bytes") / 100e6;
    double copy = num(j, "checkpoint_s");
    assert_true(num(j, "young_interval_s") < write);
    assert_close(num(j, "checkpoint_interval_s"), write, 1e-12);
    json_decref(j);
    char args[400];
    snprintf(args, sizeof args, "%s --ckpt-interval 100s", cmd);
    j = cli_json(args);
    assert_close(num(j, "checkpoint_s"), copy + write - 100, 1e-12);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(daly_of_the_printed_inputs),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(no_failures_is_full_goodput),
        cmocka_unit_test(top_fit_skips_monte_carlo),
        cmocka_unit_test(never_finishes),
        cmocka_unit_test(async_writes_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
