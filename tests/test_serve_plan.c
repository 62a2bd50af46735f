/*
 * plan --serve: each answer is what the serve command gives for that
 * deployment and load, every ranked deployment is within the SLA, the
 * Pareto front holds only undominated points, a tighter bound never buys
 * throughput, and mistakes name their option.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"

#define PLAN "plan --serve --model llama3.1-8b --hw dgx-h100 --chips 8 --isl 512 --osl 128 "

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* Each of the top deployments re-run through serve: the worker alone (one
 * request at a time) gives its latency, the load is Poisson at the requests
 * in flight per decoding replica over that latency (Little's law). */
static void answer_is_what_serve_gives(void **state)
{
    (void)state;
    json_t *r = cli_json(PLAN "--slo-tpot 20ms --json");
    size_t i;
    json_t *d;
    bool seen[2] = {false, false};
    json_array_foreach(json_object_get(r, "deployments"), i, d)
    {
        int tp = (int)num(d, "tp"), pp = (int)num(d, "pp"), c = (int)num(d, "concurrency");
        int reps = (int)num(d, "replicas"), prefill = (int)num(d, "prefill_replicas");
        int decode = prefill > 0 ? reps - prefill : 1, chips = tp * pp * reps;
        const char *w = json_string_value(json_object_get(d, "weights"));
        if (c < 2 || seen[prefill > 0])
            continue;
        seen[prefill > 0] = true;
        char args[800], split[80] = "";
        snprintf(args, sizeof args,
                 "serve --model llama3.1-8b --hw dgx-h100 --isl 512 --osl 128 --chips %d --tp %d "
                 "--pp %d --weights %s --requests 50 --concurrency 1 --json",
                 tp * pp, tp, pp, w);
        json_t *alone = cli_json(args);
        double alone_s = num(alone, "ttft_p90_s") + num(alone, "tpot_p50_s") * 128;
        if (prefill > 0)
            snprintf(split, sizeof split, "--scheduler disagg --prefill-replicas %d", prefill);
        snprintf(args, sizeof args,
                 "serve --model llama3.1-8b --hw dgx-h100 --isl 512 --osl 128 --chips %d --tp %d "
                 "--pp %d --replicas %d %s --weights %s --requests %d --mode poisson --rate "
                 "%.17g --json",
                 chips, tp, pp, reps, split, w, c * decode * 10 + 40, c * decode / alone_s);
        json_t *run = cli_json(args);
        assert_close(num(d, "output_tokens_per_s_per_chip"),
                     num(run, "output_tokens_per_s") / chips, 1e-9);
        assert_close(num(d, "tpot_p90_s"), num(run, "tpot_p90_s"), 1e-9);
        assert_close(num(d, "ttft_p90_s"), num(run, "ttft_p90_s"), 1e-9);
        json_decref(alone);
        json_decref(run);
    }
    assert_true(seen[0] && seen[1]);
    json_decref(r);
}

static void ranked_within_the_sla_and_front_undominated(void **state)
{
    (void)state;
    json_t *r = cli_json(PLAN "--slo-ttft 300ms --slo-tpot 15ms --json");
    size_t i, j;
    json_t *p, *q;
    double last = 1e300;
    json_array_foreach(json_object_get(r, "deployments"), i, p)
    {
        assert_true(num(p, "ttft_p90_s") <= 0.3);
        assert_true(num(p, "tpot_p90_s") <= 0.015);
        assert_true(json_is_true(json_object_get(p, "within_sla")));
        assert_true(num(p, "output_tokens_per_s_per_chip") <= last);
        last = num(p, "output_tokens_per_s_per_chip");
    }
    json_t *front = json_object_get(r, "pareto");
    assert_true(json_array_size(front) >= 2);
    json_array_foreach(front, i, p)
    {
        json_array_foreach(front, j, q)
        {
            if (i == j)
                continue;
            bool dominates = num(q, "output_tokens_per_s_per_chip") >=
                                 num(p, "output_tokens_per_s_per_chip") &&
                             num(q, "tokens_per_s_per_user") >= num(p, "tokens_per_s_per_user");
            assert_false(dominates);
        }
    }
    json_decref(r);
}

/* A bound that admits less can only lower the best throughput per chip. */
static void tighter_bound_costs_throughput(void **state)
{
    (void)state;
    json_t *loose = cli_json(PLAN "--slo-tpot 40ms --json");
    json_t *tight = cli_json(PLAN "--slo-tpot 8ms --json");
    json_t *a = json_array_get(json_object_get(loose, "deployments"), 0);
    json_t *b = json_array_get(json_object_get(tight, "deployments"), 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(num(b, "output_tokens_per_s_per_chip") <= num(a, "output_tokens_per_s_per_chip"));
    assert_true(num(b, "tpot_p90_s") <= 0.008);
    json_decref(loose);
    json_decref(tight);
}

static void mistakes_name_their_option(void **state)
{
    (void)state;
    expect_input_error(PLAN "--gbs 8", "--gbs: is for a training plan");
    expect_input_error("plan --model llama3.1-8b --hw dgx-h100 --gbs 8 --seq 4096 --isl 512",
                       "--isl: is for a serving plan; add --serve");
    expect_input_error("plan --model llama3.1-8b --hw dgx-h100 --seq 4096",
                       "--gbs: is required for a training plan");
    expect_input_error(PLAN "--weights bf16,fp7", "'fp7' is not a weight type");
    /* a list of no type searched nothing and blamed the chips */
    expect_input_error(PLAN "--weights ,", "--weights: ',' names no weight type");
    /* a type named twice is searched once (it doubled the runs) */
    assert_close(cli_number(PLAN "--weights bf16,bf16 --json", "", NULL, "simulated"),
                 cli_number(PLAN "--weights bf16 --json", "", NULL, "simulated"), 0);
    /* one output token has no TPOT: every row's speed per user was NaN and
     * the front empty, and a TPOT bound counted NaN as met */
    expect_input_error("plan --serve --model llama3.1-8b --hw dgx-h100 --chips 2 --osl 1",
                       "--osl: 1 leaves no time per output token");
    /* without a price every cost tied at 0 and the first, slowest point won */
    expect_input_error("plan --serve --model llama3.1-8b --hw h100-sxm --chips 1 --objective cost",
                       "--objective: cost needs a price: h100-sxm has no price.usd_per_chip_hour");
    /* nothing runs: exit 2 with the first refusal, not an empty front */
    expect_input_error("plan --serve --model llama3.1-405b --hw dgx-h100 --chips 1",
                       "no deployment runs on 1 chip: all 2 refused (add chips); the first: the "
                       "deployment does not fit: weights need 756.0 GiB per chip");
    /* refused for the run's own option, which no chips fix: that option's
     * message (it said "add chips") */
    expect_input_error("plan --serve --model llama3.1-8b --hw dgx-h100 --chips 2 --isl 512 "
                       "--osl 128 --max-model-len 100",
                       "--max-model-len: a request of 512 input + 128 output tokens is longer "
                       "than --max-model-len 100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_is_what_serve_gives),
        cmocka_unit_test(ranked_within_the_sla_and_front_undominated),
        cmocka_unit_test(tighter_bound_costs_throughput),
        cmocka_unit_test(mistakes_name_their_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
