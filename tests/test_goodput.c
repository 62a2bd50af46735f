/*
 * Goodput of a run: the printed expectation is Daly's formula of the printed
 * inputs, the Monte-Carlo mean agrees with it within 2%, the interval is
 * near Young's, and bad inputs are errors.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(daly_of_the_printed_inputs),
        cmocka_unit_test(bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
