/*
 * Serving: decode reads every weight from HBM (a lower bound on TPOT),
 * speculative decoding keeps (1 - a^(k+1)) / (1 - a) tokens a round, static
 * batches add up, an underloaded Poisson stream is served at its arrival
 * rate, runs are deterministic, and an over-committed deployment fails with
 * how much it misses by.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static json_t *serve(const char *args)
{
    char full[1200];
    snprintf(full, sizeof full, "serve %s --json", args);
    cli_result r = cli_run(full);
    if (r.status != 0)
        fail_msg("serve %s: exit %d: %s", args, r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cli_free(&r);
    assert_non_null(j);
    return j;
}

static double num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        fail_msg("no '%s'", key);
    return json_number_value(v);
}

/* Llama 3 8B in bf16 on one H100: every weight but the input embedding
 * (8.03B - 128,256 x 4,096 parameters, 15.01 GB) is read per decode step; at
 * 3.35 TB/s x 0.84 sustained that is 5.33 ms. TPOT at batch 1 cannot be
 * lower, and with a short context it is that plus about 11 kernels a layer
 * (32 layers, and the LM head) at 4 us of launch overhead each. */
static void decode_reads_the_weights(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 128 --osl 64 --requests 4");
    double floor_s = (8030261248.0 - 128256.0 * 4096) * 2 / (3.35e12 * 0.84);
    double tpot = num(j, "tpot_p50_s");
    assert_true(tpot >= floor_s);
    assert_true(tpot < 1.05 * floor_s + 33 * 11 * 4e-6);
    /* At batch 1 the TPOT is the decode step the explanation shows. */
    assert_close(tpot, num(json_object_get(j, "explain"), "decode_step_s"), 1e-6);
    json_decref(j);
    /* FP8 weights halve the bytes: TPOT drops towards half. */
    j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --isl 128 --osl 64 --requests 4 "
              "--weights fp8");
    assert_true(num(j, "tpot_p50_s") < 0.65 * tpot);
    json_decref(j);
}

/* Leviathan et al. 2023: with acceptance a and k draft tokens a round keeps
 * (1 - a^(k+1)) / (1 - a) tokens on average. */
static void speculation_closed_form(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3.1-70b --hw dgx-h100 --chips 8 --tp 8 --isl 256 --osl 512 "
                      "--requests 8 --spec-draft llama3.2-1b --spec-len 4 --spec-accept 0.8");
    double expect = (1 - pow(0.8, 5)) / 0.2;
    assert_close(num(json_object_get(j, "explain"), "tokens_per_round"), expect, 1e-12);
    /* Simulated rounds draw acceptances: TPOT = round time / tokens kept. */
    json_t *base = serve("--model llama3.1-70b --hw dgx-h100 --chips 8 --tp 8 --isl 256 "
                         "--osl 512 --requests 8");
    assert_true(num(j, "tpot_p50_s") < 0.6 * num(base, "tpot_p50_s"));
    json_decref(j);
    json_decref(base);
}

/* A static batch: every request starts together, prefills together and
 * decodes in lockstep, so all finish at the same time and the throughput is
 * batch x osl / that time. */
static void static_batch_adds_up(void **state)
{
    (void)state;
    json_t *j = serve("--model llama2-7b --hw dgx-h100 --tp 1 --mode static --batch 64 "
                      "--requests 64 --isl 128 --osl 128");
    assert_close(num(j, "e2e_p50_s"), num(j, "e2e_p99_s"), 1e-9);
    assert_close(num(j, "output_tokens_per_s"), 64 * 128 / num(j, "makespan_s"), 1e-9);
    /* e2e = TTFT + (osl - 1) x TPOT */
    assert_close(num(j, "e2e_p50_s"), num(j, "ttft_p50_s") + 127 * num(j, "tpot_p50_s"), 1e-9);
    json_decref(j);
}

/* An underloaded server keeps up: output tokens/s = arrival rate x osl. */
static void poisson_keeps_up(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate 2 "
                      "--requests 400 --isl 256 --osl 64 --seed 7");
    double rate = num(j, "requests_per_s");
    assert_close(rate, 2.0, 0.12);
    assert_close(num(j, "output_tokens_per_s"), rate * 64, 1e-9);
    json_decref(j);
}

static void deterministic(void **state)
{
    (void)state;
    const char *args = "--model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate 20 "
                       "--requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3";
    cli_result a = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate "
                           "20 --requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3 "
                           "--json");
    cli_result b = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson --rate "
                           "20 --requests 200 --isl 512 --osl 128 --isl-spread 0.5 --seed 3 "
                           "--json");
    (void)args;
    assert_int_equal(a.status, 0);
    assert_string_equal(a.out, b.out);
    cli_free(&a);
    cli_free(&b);
}

static void trace_in(void **state)
{
    (void)state;
    const char *csv = write_temp("requests.csv", "arrival_s,input_tokens,output_tokens\n"
                                                 "0,100,10\n0.5,200,20\n1.0,50,5\n");
    char args[800];
    snprintf(args, sizeof args, "--model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s", csv);
    json_t *j = serve(args);
    assert_close(num(j, "requests"), 3, 0);
    assert_close(num(j, "output_tokens"), 35, 0);
    json_decref(j);
    const char *bad = write_temp("bad_requests.csv", "0,100,10\n0.5,-2,20\n");
    snprintf(args, sizeof args, "serve --model llama3-8b --hw dgx-h100 --tp 1 --trace-in %s", bad);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "bad_requests.csv:2"));
    cli_free(&r);
}

static void over_committed(void **state)
{
    (void)state;
    cli_result r = cli_run("serve --model llama3.1-405b --hw dgx-h100 --tp 1");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "does not fit"));
    assert_non_null(strstr(r.err, "GiB too much"));
    cli_free(&r);
    r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --replicas 9");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "need 9 chips"));
    cli_free(&r);
    r = cli_run("serve --model llama3-8b --hw dgx-h100 --tp 1 --mode poisson");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--rate"));
    cli_free(&r);
}

/* Disaggregation: decode replicas never stall behind a prompt, so their
 * TPOT tail is tighter than colocated replicas' at the same load. */
static void disaggregation_smooths_decode(void **state)
{
    (void)state;
    const char *load = "--model llama3-8b --hw dgx-h100 --tp 1 --replicas 4 --mode poisson "
                       "--rate 10 --requests 200 --isl 2048 --osl 128";
    char args[600];
    snprintf(args, sizeof args, "%s --scheduler disagg --prefill-replicas 1", load);
    json_t *d = serve(args);
    json_t *c = serve(load);
    assert_true(num(d, "tpot_p99_s") < num(c, "tpot_p99_s"));
    assert_close(num(d, "output_tokens"), 200 * 128, 0);
    json_decref(d);
    json_decref(c);
}

static void json_contract(void **state)
{
    (void)state;
    json_t *j = serve("--model llama3-8b --hw trn2.48xlarge --tp 4 --requests 16 --concurrency 4");
    const char *keys[] = {"ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "e2e_p50_s",
                          "output_tokens_per_s", "output_tokens_per_s_per_chip",
                          "requests_per_s", "cost_per_mtok_usd"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(num(j, keys[i]) > 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_reads_the_weights), cmocka_unit_test(speculation_closed_form),
        cmocka_unit_test(static_batch_adds_up),     cmocka_unit_test(poisson_keeps_up),
        cmocka_unit_test(deterministic),            cmocka_unit_test(trace_in),
        cmocka_unit_test(over_committed),           cmocka_unit_test(json_contract),
        cmocka_unit_test(disaggregation_smooths_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
