/*
 * Plan search: the best plan found is at least as fast as every plan a
 * person would try by hand (each simulated here), plans come back ranked,
 * and a model that fits nowhere is an error that says why.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/plan.h"

static void best_beats_hand_plans(void **state)
{
    (void)state;
    wl_model m;
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(wl_model_load("llama3-8b", &m, &err), USIM_OK);
    assert_int_equal(hw_load_system("dgx-h100", 16, NULL, &s, &err), USIM_OK);
    plan_search_options o;
    memset(&o, 0, sizeof o);
    o.plan.gbs = 64;
    o.plan.seq = 4096;
    o.plan.dtype = USIM_BF16;
    o.plan.overlap_grad_reduce = o.plan.overlap_param_gather = true;
    o.top = 4;
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

static void nothing_fits(void **state)
{
    (void)state;
    cli_result r = cli_run("plan --model llama3.1-405b --hw dgx-h100 --chips 8 --gbs 8 --seq 4096");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no plan fits"));
    cli_free(&r);
}

static void ranked_output(void **state)
{
    (void)state;
    cli_result r = cli_run("plan --model llama3-8b --hw trn2.48xlarge --gbs 32 --seq 4096 --top 3");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Why #1 beats #2"));
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(best_beats_hand_plans),
        cmocka_unit_test(nothing_fits),
        cmocka_unit_test(ranked_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
