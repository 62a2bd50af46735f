/*
 * Failure rates against the Llama 3 paper, Daly's model against its closed
 * forms, and the Monte-Carlo run against Daly's expectation.
 */
#include <math.h>
#include <string.h>

#include "support.h"
#include "ultrasim/reliability.h"

/* 16,384 H100s for 54 days at the Llama 3 rates: 419 expected interruptions
 * (the rates were derived from that run, so this checks the bookkeeping:
 * per-chip, per-stack and per-host rates times the parts of a DGX cluster). */
static void llama3_interruptions(void **state)
{
    (void)state;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(hw_load_system("dgx-h100", 16384, NULL, &s, &err), USIM_OK);
    rel_rates r = rel_job_rates(&s);
    double hours = 54 * 24;
    assert_close(r.total_per_s * hours * 3600, 419, 0.002);
    assert_close(r.mtbf_s / 3600, hours / 419, 0.002);
    /* GPU + HBM = 268 of 419 (64%). */
    assert_close((r.per_s[REL_CHIP] + r.per_s[REL_HBM]) * hours * 3600, 268, 0.002);
}

/* Without failures the wall time is the work plus the checkpoints. */
static void no_failures_closed_form(void **state)
{
    (void)state;
    rel_process p = {1000 * 3600.0, 3600, 60, 600, INFINITY};
    assert_close(rel_expected_wall_s(&p), 1000 * 3600.0 * (1 + 60.0 / 3600), 1e-12);
}

/* For delta << tau << M, Daly's formula tends to the first-order expectation
 * T (1 + delta/tau + (tau/2 + R) / M): each failure costs half an interval
 * plus a restart. */
static void daly_first_order(void **state)
{
    (void)state;
    double M = 1e6, tau = 1000, delta = 1, R = 10, T = 1e8;
    rel_process p = {T, tau, delta, R, M};
    double first = T * (1 + delta / tau + (tau / 2 + R) / M);
    assert_close(rel_expected_wall_s(&p), first, 1e-3);
}

/* The optimum lies near Young's sqrt(2 delta M) when delta << M. */
static void optimum_near_young(void **state)
{
    (void)state;
    rel_process p = {3e7, 0, 120, 600, 3.09 * 3600};
    double young = rel_young_interval_s(120, 3.09 * 3600);
    double best = rel_optimal_interval_s(&p);
    assert_close(best, young, 0.12);
    rel_process q = p;
    q.interval_s = best;
    double at_best = rel_expected_wall_s(&q);
    q.interval_s = best * 1.5;
    assert_true(rel_expected_wall_s(&q) > at_best);
    q.interval_s = best / 1.5;
    assert_true(rel_expected_wall_s(&q) > at_best);
}

/* The Monte-Carlo mean agrees with Daly's expectation within 2%. */
static void monte_carlo_agrees(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    rel_process cases[] = {
        {54 * 86400.0, 1800, 120, 600, 3.09 * 3600}, /* Llama 3 scale */
        {7 * 86400.0, 600, 30, 300, 2 * 3600},       /* frequent failures */
        {30 * 86400.0, 7200, 600, 1800, 24 * 3600},  /* rare failures, slow checkpoints */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rel_monte_carlo mc;
        assert_int_equal(rel_simulate(&cases[i], 400, 42 + i, NULL, &mc, &err), USIM_OK);
        assert_close(mc.mean_wall_s, rel_expected_wall_s(&cases[i]), 0.02);
    }
}

static void monte_carlo_is_deterministic(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    rel_process p = {86400.0, 600, 30, 300, 3600};
    rel_monte_carlo a, b;
    assert_int_equal(rel_simulate(&p, 50, 7, NULL, &a, &err), USIM_OK);
    assert_int_equal(rel_simulate(&p, 50, 7, NULL, &b, &err), USIM_OK);
    assert_true(a.mean_wall_s == b.mean_wall_s);
    p.interval_s = 0;
    assert_int_equal(rel_simulate(&p, 50, 7, NULL, &a, &err), USIM_EINPUT);
}

/* Without failures the best interval is infinite (no checkpoint pays), the
 * wall time is then the work alone, and the Monte-Carlo run agrees exactly. */
static void no_failures_never_checkpoint(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    rel_process p = {1000 * 3600.0, 0, 60, 600, INFINITY};
    p.interval_s = rel_optimal_interval_s(&p);
    assert_true(isinf(p.interval_s));
    assert_true(rel_expected_wall_s(&p) == 1000 * 3600.0);
    rel_monte_carlo mc;
    assert_int_equal(rel_simulate(&p, 5, 1, NULL, &mc, &err), USIM_OK);
    assert_true(mc.mean_wall_s == 1000 * 3600.0);
    assert_true(mc.mean_failures == 0.0);
}

/* A run far shorter than the MTBF is best checkpointed once, at its end:
 * the optimum divides it into whole segments, so the Monte-Carlo run pays
 * the one checkpoint Daly's formula charges (the search stopped just under
 * the run, and each simulated run paid a second checkpoint for a tail of
 * microseconds: 33.8 s against 22.5 s). */
static void short_run_one_segment(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    rel_process p = {11.3, 0, 11.2, 600, 2.28e7};
    p.interval_s = rel_optimal_interval_s(&p);
    assert_true(p.interval_s == p.solve_s);
    rel_monte_carlo mc;
    assert_int_equal(rel_simulate(&p, 50, 1, NULL, &mc, &err), USIM_OK);
    assert_true(mc.mean_failures == 0.0);
    assert_true(fabs(mc.mean_wall_s - (11.3 + 11.2)) < 1e-9);
    /* Daly adds the chance of a failure: 22.5 x (22.5 / 2M + R / M), 6e-4 s */
    assert_true(fabs(rel_expected_wall_s(&p) - (11.3 + 11.2)) < 1e-3);
    /* three segments: a third of 11,033.7 s does not add up to the run in
     * doubles, and the remainder was a fourth segment with its checkpoint */
    rel_process q = {11033.7, 11033.7 / 3, 11.2, 600, INFINITY};
    assert_int_equal(rel_simulate(&q, 5, 1, NULL, &mc, &err), USIM_OK);
    assert_true(fabs(mc.mean_wall_s - (11033.7 + 3 * 11.2)) < 1e-6);
}

typedef struct counter {
    int calls, last;
} counter;

static void count_runs(void *ctx, int done, int runs)
{
    counter *c = ctx;
    c->calls++;
    c->last = done;
    assert_int_equal(runs, 20);
}

/* The work is runs x (segments + expected failures); over 1e8 events the
 * run is refused with the limit named, before any work. */
static void monte_carlo_is_bounded(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    rel_process calm = {1000.0, 100, 1, 0, INFINITY};
    assert_true(rel_monte_carlo_events(&calm, 10) == 10 * 10.0);
    rel_process p = {86400.0, 600, 30, 300, 3600};
    double wall = 3600 * exp(300.0 / 3600) * expm1(630.0 / 3600) * 86400 / 600;
    assert_close(rel_monte_carlo_events(&p, 50), 50 * (144 + wall / 3600), 1e-12);
    counter c = {0, 0};
    rel_progress progress = {count_runs, &c};
    rel_monte_carlo mc;
    assert_int_equal(rel_simulate(&p, 20, 3, &progress, &mc, &err), USIM_OK);
    assert_int_equal(c.calls, 20);
    assert_int_equal(c.last, 20);
    /* A failure every 10 s against a 5-minute restart: e^30 restarts per
     * segment, far over any budget. */
    rel_process storm = {86400.0, 600, 30, 300, 10};
    c.calls = 0;
    assert_int_equal(rel_simulate(&storm, 20, 3, &progress, &mc, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "over the limit of 1e+08"));
    assert_int_equal(c.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(llama3_interruptions),  cmocka_unit_test(no_failures_closed_form),
        cmocka_unit_test(daly_first_order),      cmocka_unit_test(optimum_near_young),
        cmocka_unit_test(monte_carlo_agrees),    cmocka_unit_test(monte_carlo_is_deterministic),
        cmocka_unit_test(no_failures_never_checkpoint),
        cmocka_unit_test(short_run_one_segment), cmocka_unit_test(monte_carlo_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
