/*
 * Validation as a ratchet: the mean absolute percentage error of every set
 * of published measurements may not rise above the figure recorded in
 * validation/mape.json (which may only go down); a row that does not run
 * fails the whole validation.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

static void check_mape(const char *name, json_t *summary, json_t *recorded)
{
    if (!summary)
        fail_msg("validate did not report %s", name);
    if (!json_is_number(recorded))
        fail_msg("validation/mape.json records nothing for %s", name);
    double mape = json_number_value(json_object_get(summary, "mape_pct"));
    double limit = json_number_value(recorded);
    print_message("%s: MAPE %.2f%% (recorded %.2f%%)\n", name, mape, limit);
    if (!(mape <= limit))
        fail_msg("%s MAPE rose to %.2f%% above the recorded %.2f%%", name, mape, limit);
}

/* Each set's MAPE, and each of its files', at or below the record. */
static void mape_does_not_rise(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/validation/mape.json", USIM_SOURCE_DIR);
    json_t *recorded = json_load_file(path, 0, NULL);
    assert_non_null(recorded);
    json_t *j = cli_json("validate --cv source --json");
    json_t *sets = json_object_get(j, "sets");
    json_t *files = json_object_get(recorded, "files");
    const char *names[] = {"training", "inference", "collectives", "gemm", "attention"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *s = json_object_get(sets, names[i]);
        check_mape(names[i], s, json_object_get(recorded, names[i]));
        const char *file;
        json_t *f;
        json_object_foreach(json_object_get(s, "files"), file, f)
            check_mape(file, f, json_object_get(files, file));
        /* Calibrated on the other sources, each source's error (the
         * cross-validated figure) has its own ratchet. */
        json_t *cv = json_object_get(s, "cv");
        json_t *calibrated = json_pack("{s:O}", "mape_pct",
                                       json_object_get(cv, "calibrated_mape_pct"));
        char name[64];
        snprintf(name, sizeof name, "%s, left out by source", names[i]);
        check_mape(name, calibrated, json_object_get(json_object_get(recorded, "cv"), names[i]));
        json_decref(calibrated);
    }
    json_decref(j);
    json_decref(recorded);
}

/* Leaving a source out: with nothing in the model fitted to the rows, a
 * held-out row's error is its in-sample one; calibrated on the others it
 * may not be much worse (1.3x: a larger gap is a class bias that does not
 * carry over); every row is some source's; coverage is a share. */
static void leave_one_source_out(void **state)
{
    (void)state;
    json_t *j = cli_json("validate --cv source --json");
    const char *key;
    json_t *s;
    json_object_foreach(json_object_get(j, "sets"), key, s)
    {
        json_t *cv = json_object_get(s, "cv");
        double in = json_number_value(json_object_get(s, "mape_pct"));
        assert_close(json_number_value(json_object_get(cv, "mape_pct")), in, 1e-9);
        assert_true(json_number_value(json_object_get(cv, "calibrated_mape_pct")) <= 1.3 * in);
        double rows = 0;
        const char *src;
        json_t *one;
        json_object_foreach(json_object_get(cv, "sources"), src, one)
            rows += json_number_value(json_object_get(one, "rows"));
        assert_close(rows, json_number_value(json_object_get(s, "rows")), 0);
        double cover = json_number_value(json_object_get(cv, "coverage_pct"));
        assert_true(cover >= 0 && cover <= 100);
        /* The shipped intervals, built from every row, hold about 80% of them. */
        double shipped = json_number_value(json_object_get(cv, "shipped_coverage_pct"));
        assert_true(shipped >= 70 && shipped <= 90);
    }
    json_decref(j);
    /* a file of two rows of one source has no coverage to give: n/a with
     * the reason (it printed "nan of 0 inside (nan%)") */
    char args[700];
    snprintf(args, sizeof args, "validate --cv source --file %s",
             write_temp("cv_two.csv", "id,hw,chips,model,tp,gbs,seq,metric,value\n"
                                      "a,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4\n"
                                      "b,dgx-h100,8,llama3-8b,2,8,4096,step_time_s,0.4\n"));
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "nan"));
    assert_non_null(strstr(r.out, "n/a (fewer than 5 rows of other sources)"));
    cli_free(&r);
}

/* A train result's interval is its figure moved by the 10th and 90th
 * percentile log errors of its class (data/intervals.json): a time by
 * exp(p10) and exp(p90), a rate by exp(-p90) and exp(-p10). */
static void intervals_follow_their_class(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/data/intervals.json", USIM_SOURCE_DIR);
    json_t *doc = json_load_file(path, 0, NULL);
    json_t *c = json_object_get(json_object_get(json_object_get(doc, "classes"), "training"),
                                "h100");
    assert_non_null(c);
    double p10 = json_number_value(json_object_get(c, "p10"));
    double p90 = json_number_value(json_object_get(c, "p90"));
    json_t *r = cli_json("train --model llama3-8b --hw dgx-h100 --gbs 8 --seq 4096 --json");
    double t = json_number_value(json_object_get(r, "step_time_s"));
    double mfu = json_number_value(json_object_get(r, "mfu"));
    assert_close(json_number_value(json_object_get(r, "step_time_s_p10")), t * exp(p10), 1e-9);
    assert_close(json_number_value(json_object_get(r, "step_time_s_p90")), t * exp(p90), 1e-9);
    assert_close(json_number_value(json_object_get(r, "mfu_p10")), mfu * exp(-p90), 1e-9);
    assert_close(json_number_value(json_object_get(r, "mfu_p90")), mfu * exp(-p10), 1e-9);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(r, "interval"), "class")),
                           "training on h100"));
    json_decref(r);
    /* B200 serving has no runs of its own: the set's, said so. */
    r = cli_json("serve --model llama3-8b --hw dgx-b200 --tp 1 --chips 1 --requests 4 --json");
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(r, "interval"), "class")),
                           "any chip (too few b200 runs)"));
    json_decref(r);
    json_decref(doc);
}

/* A row whose cell the simulator refuses makes the file wrong: exit 2, the
 * file and line named, nothing on stdout. */
static void bad_cell_is_an_input_error(void **state)
{
    (void)state;
    const char *path = "/tmp/usim_test_validate_bad.csv";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("id,hw,chips,model,tp,gbs,seq,attention,metric,value\n"
          "ok,dgx-h100,8,llama3-8b,1,8,4096,fused,step_time_s,1\n"
          "bad,dgx-h100,8,llama3-8b,1,8,4096,flashy,step_time_s,1\n",
          f);
    fclose(f);
    cli_result r = cli_run("validate --set training --file /tmp/usim_test_validate_bad.csv");
    assert_int_equal(r.status, 2);
    assert_non_null(
        strstr(r.err, "usim_test_validate_bad.csv:3 (row 'bad'): attention: 'flashy' is not "
                      "one of"));
    assert_string_equal(r.out, "");
    cli_free(&r);
    remove(path);
}

/* `validate --json --file PATH`, which must succeed; its parsed output. */
static json_t *validate_file(const char *path)
{
    char args[700];
    snprintf(args, sizeof args, "validate --json --file %s", path);
    return cli_json(args);
}

/* A file's set follows from its columns: a serving CSV (isl, osl) runs
 * through `serve` without --set, and only its own set is reported. */
static void file_set_from_columns(void **state)
{
    (void)state;
    const char *path = write_temp("validate_serving.csv",
                                  "id,hw,chips,model,tp,weights,batch,isl,osl,mode,metric,value\n"
                                  "one,dgx-h100,1,llama3-8b,1,fp8,8,128,128,static,"
                                  "output_tokens_per_s_per_chip,1000\n");
    json_t *j = validate_file(path);
    json_t *sets = json_object_get(j, "sets");
    assert_null(json_object_get(sets, "training"));
    json_t *inf = json_object_get(sets, "inference");
    assert_int_equal(json_integer_value(json_object_get(inf, "rows")), 1);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    double pred = json_number_value(json_object_get(row, "predicted"));
    assert_true(pred > 0);
    /* error = 100 (predicted - 1000) / 1000; MAPE of one row is its |error| */
    assert_close(json_number_value(json_object_get(row, "error_pct")), (pred - 1000.0) / 10.0,
                 1e-9);
    assert_close(json_number_value(json_object_get(inf, "mape_pct")),
                 fabs(pred - 1000.0) / 10.0, 1e-9);
    json_decref(j);
}

/* Benchmark tables write latencies in milliseconds and medians as
 * "median": tpot_median_ms is the result's tpot_p50_s x 1000, itl_p99_ms
 * its itl_p99_s x 1000. */
static void latencies_in_milliseconds(void **state)
{
    (void)state;
    const char *path =
        write_temp("validate_ms.csv",
                   "id,hw,chips,model,tp,weights,batch,isl,osl,mode,concurrency,metric,value\n"
                   "a,dgx-h100,1,llama3-8b,1,fp8,8,128,128,closed,2,tpot_median_ms,5\n"
                   "b,dgx-h100,1,llama3-8b,1,fp8,8,128,128,closed,2,itl_p99_ms,5\n");
    json_t *j = validate_file(path);
    json_t *r = cli_json("serve --model llama3-8b --hw dgx-h100 --chips 1 --tp 1 --weights fp8 "
                         "--batch 8 --isl 128 --osl 128 --mode closed --concurrency 2 --json");
    json_t *rows = json_object_get(j, "rows");
    assert_close(json_number_value(json_object_get(json_array_get(rows, 0), "predicted")),
                 1e3 * json_number_value(json_object_get(r, "tpot_p50_s")), 1e-12);
    assert_close(json_number_value(json_object_get(json_array_get(rows, 1), "predicted")),
                 1e3 * json_number_value(json_object_get(r, "itl_p99_s")), 1e-12);
    json_decref(r);
    json_decref(j);
}

/* A training row's schedule, moe_dispatcher, mtp_layers, cpu_offload_layers,
 * vp_group and pipeline-split cells run as train's --schedule,
 * --moe-dispatcher, --mtp-layers, --cpu-offload-layers,
 * --microbatch-group-size-per-virtual-pipeline-stage and
 * --account-for-*-in-pipeline-split do. */
static void schedule_column(void **state)
{
    (void)state;
    const char *path = write_temp(
        "validate_schedule.csv",
        "id,hw,chips,model,tp,pp,ep,gbs,seq,schedule,moe_dispatcher,mtp_layers,"
        "cpu_offload_layers,recompute,metric,value\n"
        "a,dgx-h100,4,llama2-7b,1,4,1,12,2048,zb-h1,,,,,step_time_s,0.6\n"
        "b,dgx-h100,16,qwen3-30b-a3b,1,1,16,16,4096,,deepep,1,,,step_time_s,9\n"
        "c,dgx-b200,8,llama3-8b,1,1,1,8,8192,,,,12,none,step_time_s,0.4\n");
    json_t *j = validate_file(path);
    const char *cmds[] = {"train --model llama2-7b --hw dgx-h100 --chips 4 --tp 1 --pp 4 "
                          "--gbs 12 --seq 2048 --schedule zb-h1 --json",
                          "train --model qwen3-30b-a3b --hw dgx-h100 --chips 16 --ep 16 "
                          "--gbs 16 --seq 4096 --moe-dispatcher deepep --mtp-layers 1 --json",
                          "train --model llama3-8b --hw dgx-b200 --chips 8 --gbs 8 --seq 8192 "
                          "--recompute none --cpu-offload-layers 12 --json"};
    for (size_t i = 0; i < 3; i++) {
        json_t *row = json_array_get(json_object_get(j, "rows"), i);
        assert_close(json_number_value(json_object_get(row, "predicted")),
                     cli_number(cmds[i], "", NULL, "step_time_s"), 1e-12);
    }
    assert_true(cli_number(cmds[1], "", NULL, "step_time_s") !=
                cli_number("train --model qwen3-30b-a3b --hw dgx-h100 --chips 16 --ep 16 "
                           "--gbs 16 --seq 4096 --json",
                           "", NULL, "step_time_s"));
    /* over the B200's PCIe the copies outlast their layers */
    assert_true(cli_number(cmds[2], "", NULL, "step_time_s") >
                cli_number("train --model llama3-8b --hw dgx-b200 --chips 8 --gbs 8 --seq 8192 "
                           "--recompute none --json",
                           "", NULL, "step_time_s"));
    json_decref(j);
    const char *split = write_temp(
        "validate_split.csv",
        "id,hw,chips,model,pp,vp,gbs,seq,vp_group,embedding_in_pipeline_split,"
        "loss_in_pipeline_split,metric,value\n"
        "d,dgx-h100,8,llama2-13b,2,3,32,2048,4,1,1,step_time_s,1\n");
    json_t *js = validate_file(split);
    assert_close(json_number_value(json_object_get(json_array_get(json_object_get(js, "rows"), 0),
                                                   "predicted")),
                 cli_number("train --model llama2-13b --hw dgx-h100 --chips 8 --pp 2 --vp 3 "
                            "--gbs 32 --seq 2048 --microbatch-group-size-per-virtual-pipeline-stage "
                            "4 --account-for-embedding-in-pipeline-split "
                            "--account-for-loss-in-pipeline-split --json",
                            "", NULL, "step_time_s"),
                 1e-12);
    json_decref(js);
    const char *bad = write_temp(
        "validate_split_bad.csv",
        "id,hw,chips,model,pp,vp,gbs,seq,embedding_in_pipeline_split,metric,value\n"
        "e,dgx-h100,8,llama2-13b,2,3,32,2048,yes,step_time_s,1\n");
    char args[600];
    snprintf(args, sizeof args, "validate --file %s", bad);
    expect_input_error(args, "(row 'e'): account-for-embedding-in-pipeline-split: is a flag");
}

/* A serving row's ep, attention_dp and kv_dtype cells run as serve's --ep,
 * --attention-dp and --kv-dtype do (a published DEP configuration). */
static void serving_parallelism_columns(void **state)
{
    (void)state;
    const char *path = write_temp(
        "validate_dep.csv",
        "id,hw,chips,model,tp,ep,attention_dp,weights,kv_dtype,isl,osl,mode,requests,metric,value\n"
        "a,dgx-h100,4,qwen3-30b-a3b,4,4,on,fp8,bf16,1024,1024,offline,300,"
        "output_tokens_per_s_per_chip,5000\n");
    json_t *j = validate_file(path);
    const char *dep = "serve --model qwen3-30b-a3b --hw dgx-h100 --chips 4 --tp 4 --ep 4 "
                      "--attention-dp on --weights fp8 --kv-dtype bf16 --isl 1024 --osl 1024 "
                      "--mode offline --requests 300 --json";
    double want = cli_number(dep, "", NULL, "output_tokens_per_s_per_chip");
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    assert_close(json_number_value(json_object_get(row, "predicted")), want, 1e-12);
    assert_true(want != cli_number("serve --model qwen3-30b-a3b --hw dgx-h100 --chips 4 --tp 4 "
                                   "--ep 4 --weights fp8 --kv-dtype bf16 --isl 1024 --osl 1024 "
                                   "--mode offline --requests 300 --json",
                                   "", NULL, "output_tokens_per_s_per_chip"));
    json_decref(j);
}

/* An offline row with no requests cell runs the 1,000 prompts of vLLM's
 * throughput benchmark; a requests cell runs that many. Each predicts what
 * `serve` predicts for the same run. */
static void offline_rows_run_a_benchmarks_requests(void **state)
{
    (void)state;
    const char *path = write_temp(
        "validate_offline.csv",
        "id,hw,chips,model,tp,weights,isl,osl,mode,requests,metric,value\n"
        "a,dgx-h100,1,llama3-8b,1,fp8,128,2048,offline,,output_tokens_per_s,1000\n"
        "b,dgx-h100,1,llama3-8b,1,fp8,128,2048,offline,300,output_tokens_per_s,1000\n");
    json_t *j = validate_file(path);
    json_t *rows = json_object_get(j, "rows");
    const char *base = "serve --model llama3-8b --hw dgx-h100 --chips 1 --tp 1 --weights fp8 "
                       "--isl 128 --osl 2048 --mode offline --json --requests ";
    const char *requests[] = {"1000", "300"};
    for (size_t i = 0; i < 2; i++) {
        char args[300];
        snprintf(args, sizeof args, "%s%s", base, requests[i]);
        double want = cli_number(args, "", NULL, "output_tokens_per_s");
        assert_close(json_number_value(json_object_get(json_array_get(rows, i), "predicted")),
                     want, 1e-12);
    }
    json_decref(j);
}

/* guidellm's modes and the benchmarks' names: a throughput row is an
 * offline run, whose total token throughput is requests/s x (ISL + OSL); a
 * synchronous row is a closed loop of one client, its ttft_median_s the
 * TTFT p50. */
static void benchmark_names_of_modes_and_metrics(void **state)
{
    (void)state;
    const char *path = write_temp(
        "validate_names.csv",
        "id,hw,chips,model,tp,weights,isl,osl,mode,requests,metric,value\n"
        "a,dgx-h100,1,llama3-8b,1,fp8,512,128,throughput,200,total_tokens_per_s,1000\n"
        "b,dgx-h100,1,llama3-8b,1,fp8,512,128,synchronous,,ttft_median_s,0.01\n");
    json_t *j = validate_file(path);
    json_t *rows = json_object_get(j, "rows");
    const char *base = "serve --model llama3-8b --hw dgx-h100 --chips 1 --tp 1 --weights fp8 "
                       "--isl 512 --osl 128 --json ";
    char args[300];
    snprintf(args, sizeof args, "%s--mode offline --requests 200", base);
    assert_close(json_number_value(json_object_get(json_array_get(rows, 0), "predicted")),
                 cli_number(args, "", NULL, "requests_per_s") * (512 + 128), 1e-12);
    snprintf(args, sizeof args, "%s--mode closed --concurrency 1 --requests 8", base);
    assert_close(json_number_value(json_object_get(json_array_get(rows, 1), "predicted")),
                 cli_number(args, "", NULL, "ttft_p50_s"), 1e-12);
    json_decref(j);
}

/* A collectives row runs through `collective`: 1 GiB all-reduce by ring on
 * a DGX H100 takes (8.4 + 14 x 3.4) us + 1.75 GiB / (450 GB/s x 0.822)
 * (NCCL's ring/Simple latency, data/hw/dgx-h100.json; the hand
 * derivation of tests/test_net_cli.c); time_us is that time, busbw_GBps
 * 1.75 GiB over it in 1e9 B/s. Ranks counted in cores (rank_unit core) run
 * as `collective --rank-unit core`: the 2 NeuronCores of one Trainium1 chip
 * all-reduce 1 GiB in 2 DMA steps of 1.3 us and 5 GiB through HBM at 820 GB/s
 * x 0.88 (data/hw/trn1.json), bus factor 2 x 1/2; bw_unit GiB/s divides by
 * 2^30. The op is spelled as nccl-tests spells it. A blocking row (launch
 * blocking) adds DGX H100's 44.8 us host call to the time. */
static void collectives_rows_by_hand(void **state)
{
    (void)state;
    const char *path =
        write_temp("validate_coll.csv",
                   "id,op,size_bytes,metric,value,preset,chips,algo,ranks,rank_unit,bw_unit,"
                   "launch\n"
                   "t,all_reduce,1073741824,time_us,1000,dgx-h100,8,ring,,,,\n"
                   "b,all_reduce,1073741824,busbw_GBps,100,dgx-h100,8,ring,,,,\n"
                   "c,all_reduce,1073741824,busbw_GBps,100,trn1.32xlarge,1,,2,core,GiB/s,\n"
                   "w,all_reduce,1073741824,time_us,1000,dgx-h100,8,ring,,,,blocking\n");
    json_t *j = validate_file(path);
    json_t *rows = json_object_get(j, "rows");
    double gib = 1073741824.0, t = (8.4 + 14 * 3.4) * 1e-6 + 1.75 * gib / (450e9 * 0.822);
    double core = 2 * 1.3e-6 + 5 * gib / (820e9 * 0.88);
    double want[4] = {t * 1e6, 1.75 * gib / t / 1e9, gib / core / gib, (t + 44.8e-6) * 1e6};
    assert_int_equal(json_array_size(rows), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(row, "set")), "collectives");
        assert_close(json_number_value(json_object_get(row, "predicted")), want[i], 1e-9);
    }
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "sets"), "collectives"), "rows")),
                     4);
    json_decref(j);
}

static void expect_file_error(const char *name, const char *text, const char *message)
{
    char args[700];
    snprintf(args, sizeof args, "validate --file %s", write_temp(name, text));
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    if (!strstr(r.err, message))
        fail_msg("expected '%s' in: %s", message, r.err);
    assert_string_equal(r.out, "");
    cli_free(&r);
}

/* The rows of a validated file: n of them, each of the set, each predicting want[i]. */
static void expect_predictions(json_t *rows, const char *set, const double *want, size_t n)
{
    assert_int_equal(json_array_size(rows), n);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(row, "set")), set);
        assert_close(json_number_value(json_object_get(row, "predicted")), want[i], 1e-9);
    }
}

/* A training row that gives the model's shape keeps the architecture of
 * the preset its model cell names, and an inline GPT (no preset by that
 * name) its kv_heads; params derived by hand. Llama 3 8B cut to 2 layers:
 * embeddings and LM head 2 x 128256 x 4096 (1,050,673,152); a layer's
 * attention 2 x 4096^2 + 2 x 4096 x 1024, its gated MLP 3 x 4096 x 14336 and
 * 2 x 4096 norms (218,112,000); the final norm: 1,486,901,248 (the inline
 * GPT such a row once became counts 902,934,528). The GPT of 16 heads over 4
 * KV heads: a tied 51200 x 1024 embedding and 2048 x 1024 positions; a layer
 * 1024 x 1536 QKV and 1024^2 output with biases, 2 x 1024 x 4096 MLP with
 * biases and two LayerNorms (11,021,824); the final norm: 76,571,648. */
static void shaped_rows_keep_their_architecture(void **state)
{
    (void)state;
    const char *path = write_temp(
        "validate_shape.csv",
        "id,hw,chips,model,layers,hidden,heads,kv_heads,ffn,vocab,seq,tp,pp,dp,mbs,gbs,dtype,"
        "metric,value\n"
        "llama,dgx-h100,8,llama3-8b,2,4096,32,8,14336,128256,2048,1,1,8,1,8,bf16,params,1\n"
        "gpt,dgx-h100,8,gpt,2,1024,16,4,4096,51200,2048,1,1,8,1,8,bf16,params,1\n");
    json_t *j = validate_file(path);
    static const double WANT[] = {1486901248.0, 76571648.0};
    expect_predictions(json_object_get(j, "rows"), "training", WANT, 2);
    json_decref(j);
    /* a mistyped preset is not taken for a GPT, and a bad shape cell is
     * refused as itself, with its range */
    static const char HEADER[] = "id,hw,chips,model,layers,hidden,seq,tp,gbs,metric,value\n";
    char text[256];
    snprintf(text, sizeof text, "%sr,dgx-h100,8,llama9-8b,2,4096,2048,1,8,params,1\n", HEADER);
    expect_file_error("validate_typo.csv", text, "unknown model 'llama9-8b'");
    snprintf(text, sizeof text, "%sr,dgx-h100,8,gpt,2,abc,2048,1,8,params,1\n", HEADER);
    expect_file_error("validate_hidden.csv", text,
                      "hidden: 'abc' is not a whole number; allowed 1 to 1048576");
    /* 40 heads do not divide 4096 without a head_dim, and do with one (a
     * gbs column keeps it a training file): tied 51200 x 4096 embedding and
     * 2048 x 4096 positions; a layer's QKV 4096 x 3 x 40 x 128 and output
     * 5120 x 4096 with biases, 2 x 4096 x 16384 MLP with biases, two
     * LayerNorms (218,160,128); the final norm: 436,272,128 */
    static const char SHAPE[] = "id,hw,chips,model,layers,hidden,heads,head_dim,ffn,vocab,seq,tp,"
                                "gbs,metric,value\n";
    snprintf(text, sizeof text, "%sr,dgx-h100,8,gpt,1,4096,40,,16384,51200,2048,1,8,params,1\n",
             SHAPE);
    expect_file_error("validate_heads.csv", text, "give head_dim");
    snprintf(text, sizeof text, "%sr,dgx-h100,8,gpt,1,4096,40,128,16384,51200,2048,1,8,params,1\n",
             SHAPE);
    json_t *h = validate_file(write_temp("validate_head_dim.csv", text));
    static const double HEAD_DIM[] = {436272128.0};
    expect_predictions(json_object_get(h, "rows"), "training", HEAD_DIM, 1);
    json_decref(h);
}

/* A GEMM row runs through `gemm` and is timed as GEMM benchmarks time a
 * kernel, queued back to back: gemm's seconds less the one launch inside
 * them (the preset's launch_overhead, 4 us on the H100); tflops is the
 * GEMM's 2 M K N over that. A metric gemm does not give is refused by name. */
static void gemm_rows_by_hand(void **state)
{
    (void)state;
    const char *path = write_temp("validate_gemm.csv", "id,hw,m,k,n,dtype,metric,value\n"
                                                       "t,h100-sxm,2048,8192,8192,bf16,time_us,381\n"
                                                       "f,h100-sxm,16,4096,6144,bf16,tflops,39\n");
    json_t *j = validate_file(path);
    json_t *rows = json_object_get(j, "rows");
    json_t *big = cli_json("gemm 2048 8192 8192 --hw h100-sxm --dtype bf16 --json");
    json_t *small = cli_json("gemm 16 4096 6144 --hw h100-sxm --dtype bf16 --json");
    assert_close(json_number_value(json_object_get(big, "launch_s")), 4e-6, 1e-12);
    double kernel_big = json_number_value(json_object_get(big, "seconds")) - 4e-6;
    double kernel_small = json_number_value(json_object_get(small, "seconds")) - 4e-6;
    double want[2] = {kernel_big * 1e6, 2.0 * 16 * 4096 * 6144 / kernel_small / 1e12};
    expect_predictions(rows, "gemm", want, 2);
    json_decref(big);
    json_decref(small);
    json_decref(j);
    expect_file_error("validate_gemm_metric.csv",
                      "id,hw,m,k,n,dtype,metric,value\n"
                      "x,h100-sxm,16,4096,6144,bf16,gflops,39\n",
                      "validate_gemm_metric.csv:2 (row 'x'): metric: 'gflops' is not a GEMM "
                      "figure (tflops or time_us)");
    expect_file_error("validate_gemm_hw.csv",
                      "id,hw,m,k,n,dtype,metric,value\n"
                      "h,,16,4096,6144,bf16,tflops,39\n",
                      "validate_gemm_hw.csv:2 (row 'h'): hw: required for a GEMM row");
}

/* An attention row runs through `attention`, timed as kernel benchmarks
 * time one (its launches left out); tflops counts its useful pairs (a causal
 * row's halved) over that, and a row must say whether it is causal. A decode
 * row's kv_heads, kv_len and head_dim reach the command: its one query a
 * sequence reads 16 x 8 KV heads x 4,096 positions x 64 dims of K and V in
 * 16 bits, 134,217,728 bytes, beside its 16 x 64 heads' queries and outputs
 * (64 dims, 16 bits) and their fp32 log-sum-exps. */
static void attention_rows_by_hand(void **state)
{
    (void)state;
    const char *path =
        write_temp("validate_attention.csv",
                   "id,hw,batch,heads,kv_heads,seq,kv_len,head_dim,causal,pass,metric,value\n"
                   "f,h100-sxm,2,16,,8192,,128,no,forward,tflops,659\n"
                   "b,h100-sxm,2,16,,8192,,128,yes,backward,time_us,2585\n"
                   "d,h100-sxm,16,64,8,1,4096,64,no,forward,time_us,200\n");
    json_t *j = validate_file(path);
    json_t *rows = json_object_get(j, "rows");
    json_t *fwd = cli_json("attention --hw h100-sxm --batch 2 --heads 16 --seq 8192 --json");
    json_t *bwd = cli_json("attention --hw h100-sxm --batch 2 --heads 16 --seq 8192 --causal "
                           "--pass backward --json");
    json_t *dec = cli_json("attention --hw h100-sxm --batch 16 --heads 64 --kv-heads 8 --seq 1 "
                           "--kv-len 4096 --head-dim 64 --json");
    double kv_bytes = 16.0 * 8 * 4096 * 64 * 2 * 2, q_and_o = 16.0 * 64 * (64 * 2 * 2 + 4);
    assert_close(json_number_value(json_object_get(dec, "bytes")), kv_bytes + q_and_o, 1e-9);
    double fwd_s = json_number_value(json_object_get(fwd, "seconds")) - 4e-6;
    double bwd_s = json_number_value(json_object_get(bwd, "seconds")) - 8e-6;
    double dec_s = json_number_value(json_object_get(dec, "seconds")) - 4e-6;
    double want[3] = {4.0 * 128 * 2 * 16 * 8192.0 * 8192.0 / fwd_s / 1e12, bwd_s * 1e6,
                      dec_s * 1e6};
    expect_predictions(rows, "attention", want, 3);
    json_decref(fwd);
    json_decref(bwd);
    json_decref(dec);
    json_decref(j);
    expect_file_error("validate_attention_causal.csv",
                      "id,hw,seq,head_dim,causal,metric,value\n"
                      "c,h100-sxm,4096,128,maybe,tflops,600\n",
                      "validate_attention_causal.csv:2 (row 'c'): causal: 'maybe' is not one "
                      "of: yes, no");
    expect_file_error("validate_attention_seq.csv",
                      "id,hw,seq,head_dim,causal,metric,value\n"
                      "s,h100-sxm,,128,no,tflops,600\n",
                      "validate_attention_seq.csv:2 (row 's'): seq: required for an attention "
                      "row");
}

/* A row it cannot predict names the row (it used to print "predicted 0,
 * error +0.0%" and exit 0); so does a value that is not a number. */
static void unpredictable_row_is_an_error(void **state)
{
    (void)state;
    expect_file_error("validate_metric.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value\n"
                       "x,dgx-h100,8,llama3-8b,1,8,4096,bogus_metric,1\n",
                       "validate_metric.csv:2 (row 'x'): metric: 'bogus_metric' is not a figure "
                       "of 'train'");
    expect_file_error("validate_value.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value\n"
                       "y,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,fast\n",
                       "validate_value.csv:2 (row 'y'): value: 'fast' is not a measurement");
    /* intervals from one set left the others empty in the file written */
    expect_input_error("validate --set gemm --write-intervals /tmp/never-written.json",
                       "--write-intervals: the intervals come from every set of validation/");
    /* a column twice, or a row with a cell too many, was read silently */
    expect_file_error("validate_twice.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value,value\n"
                       "t,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,0.5\n",
                       "validate_twice.csv:1: column 'value' appears twice (columns 9 and 10)");
    expect_file_error("validate_shifted.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value\n"
                       "s,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,0.5\n",
                       "validate_shifted.csv:2 (row 's'): 10 cells where the header names 9");
    /* a spreadsheet's byte-order mark and a quoted line break are CSV */
    char args[700];
    snprintf(args, sizeof args, "validate --file %s",
             write_temp("validate_bom.csv",
                        "\xEF\xBB\xBFid,hw,chips,model,tp,gbs,seq,metric,value,note\n"
                        "b,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,\"two\nlines\"\n"
                        "c,dgx-h100,8,llama3-8b,2,8,4096,step_time_s,0.4,\n"));
    cli_result r = cli_run(args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "over 2 rows"));
    cli_free(&r);
    /* a quote inside a cell is text; one that opens a cell must close it
     * (an unclosed one swallowed every row after it, exit 0) */
    snprintf(args, sizeof args, "validate --file %s",
             write_temp("validate_inch.csv",
                        "id,hw,chips,model,tp,gbs,seq,metric,value,note\n"
                        "i,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,a 12\" wafer\n"
                        "j,dgx-h100,8,llama3-8b,2,8,4096,step_time_s,0.4,\n"));
    r = cli_run(args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "over 2 rows"));
    cli_free(&r);
    expect_file_error("validate_open.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value,note\n"
                       "o,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,\"never closed\n"
                       "p,dgx-h100,8,llama3-8b,2,8,4096,step_time_s,0.4,\n",
                       "validate_open.csv:2: a quoted cell is never closed");
    expect_file_error("validate_late.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value,note\n"
                       "b,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,0.4,\"two\nlines\"\n"
                       "c,dgx-h100,8,llama3-8b,2,8,4096,step_time_s,fast,\n",
                       "validate_late.csv:4 (row 'c')");
    /* a denormal printed an error of "+nan%" and a MAPE of nan, exit 0 */
    expect_file_error("validate_tiny.csv",
                       "id,hw,chips,model,tp,gbs,seq,metric,value\n"
                       "z,dgx-h100,8,llama3-8b,1,8,4096,step_time_s,1e-320\n",
                       "validate_tiny.csv:2 (row 'z'): value: 9.99989e-321 is too far from the "
                       "prediction");
}

/* A collectives row that cannot run (one Trainium1 chip holds no group of
 * two chips) or asks for a figure `collective` does not give fails the
 * whole validation, naming the row. */
static void collectives_row_that_cannot_run(void **state)
{
    (void)state;
    expect_file_error("validate_coll_chip.csv",
                       "id,op,size_bytes,metric,value,preset,chips\n"
                       "one-chip,all_reduce,1024,time_us,58,trn1,1\n",
                       "validate_coll_chip.csv:2 (row 'one-chip'): ");
    expect_file_error("validate_coll_metric.csv",
                       "id,op,size_bytes,metric,value,preset,chips\n"
                       "m,all_reduce,1024,latency_ms,1,dgx-h100,8\n",
                       "validate_coll_metric.csv:2 (row 'm'): metric: 'latency_ms' is not a "
                       "collectives figure");
    expect_file_error("validate_coll_unit.csv",
                       "id,op,size_bytes,metric,value,preset,chips,bw_unit\n"
                       "u,all_reduce,1024,busbw_GBps,1,dgx-h100,8,MB/s\n",
                       "validate_coll_unit.csv:2 (row 'u'): bw_unit: 'MB/s' is not one of: "
                       "GB/s (10^9 B/s, the default), GiB/s");
    expect_file_error("validate_coll_rankunit.csv",
                       "id,op,size_bytes,metric,value,preset,chips,rank_unit,ranks\n"
                       "k,all_reduce,1024,busbw_GBps,1,trn1.32xlarge,16,cores,32\n",
                       "validate_coll_rankunit.csv:2 (row 'k'): rank_unit: 'cores' is not one "
                       "of: core");
    expect_file_error("validate_coll_gpu_cores.csv",
                       "id,op,size_bytes,metric,value,preset,chips,rank_unit,ranks\n"
                       "g,all_reduce,1024,busbw_GBps,1,dgx-h100,8,core,16\n",
                       "validate_coll_gpu_cores.csv:2 (row 'g'): rank-unit: 'core' applies to "
                       "Trainium chips");
    expect_file_error("validate_coll_ranks.csv",
                       "id,op,size_bytes,metric,value,preset,chips,rank_unit,ranks\n"
                       "n,all_reduce,1024,busbw_GBps,1,trn1.32xlarge,16,core,1\n",
                       "validate_coll_ranks.csv:2 (row 'n'): ranks: '1' is not a rank count "
                       "from 2 to 4194304");
    expect_file_error("validate_coll_op.csv",
                       "id,op,size_bytes,metric,value,preset,chips\n"
                       "o,all_reduse,1024,time_us,1,dgx-h100,8\n",
                       "validate_coll_op.csv:2 (row 'o'): op: 'all_reduse' is not one of: "
                       "all_reduce,");
    expect_file_error("validate_coll_launch.csv",
                       "id,op,size_bytes,metric,value,preset,chips,launch\n"
                       "l,all_reduce,1024,time_us,1,dgx-h100,8,sync\n",
                       "validate_coll_launch.csv:2 (row 'l'): launch: 'sync' is not one of: "
                       "async");
    expect_file_error("validate_coll_nofigure.csv",
                       "id,op,size_bytes,metric,value,preset,chips,launch\n"
                       "f,all_reduce,1024,time_us,1,trn2.48xlarge,16,blocking\n",
                       "validate_coll_nofigure.csv:2 (row 'f'): launch: blocking needs the "
                       "host's per-call cost");
}

/* Nothing to compare is not a pass: an empty file (or a header alone) is an
 * input error, and so is a file whose columns say neither set. */
static void empty_file_is_an_error(void **state)
{
    (void)state;
    expect_file_error("validate_empty.csv", "", "validate_empty.csv: no measurements");
    expect_file_error("validate_header.csv", "id,hw,gbs,metric,value\r\n\r\n",
                       "validate_header.csv: no measurements");
    expect_file_error("validate_which.csv", "id,hw,metric,value\nz,dgx-h100,step_time_s,1\n",
                       "cannot tell training rows from serving rows");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(mape_does_not_rise),
                                       cmocka_unit_test(leave_one_source_out),
                                       cmocka_unit_test(intervals_follow_their_class),
                                       cmocka_unit_test(bad_cell_is_an_input_error),
                                       cmocka_unit_test(file_set_from_columns),
        cmocka_unit_test(latencies_in_milliseconds),
        cmocka_unit_test(schedule_column),
        cmocka_unit_test(serving_parallelism_columns),
        cmocka_unit_test(offline_rows_run_a_benchmarks_requests),
        cmocka_unit_test(benchmark_names_of_modes_and_metrics),
                                       cmocka_unit_test(unpredictable_row_is_an_error),
                                       cmocka_unit_test(collectives_rows_by_hand),
                                       cmocka_unit_test(gemm_rows_by_hand),
                                       cmocka_unit_test(attention_rows_by_hand),
                                       cmocka_unit_test(collectives_row_that_cannot_run),
                                       cmocka_unit_test(empty_file_is_an_error),
                                       cmocka_unit_test(shaped_rows_keep_their_architecture)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
