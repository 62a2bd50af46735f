/* `ultrasim gemm` and `ultrasim attention` from the command line and the front
 * door, SCALE-Sim topology files, and every kind of bad input (exit code 2, a
 * clear message). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/engine.h"
#include "ultrasim/ultrasim.h"

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    return json_number_value(v);
}

/* The acceptance: 4096^3 on one NeuronCore within a few percent of
 * 128 x 128 x 2 x 2.4 GHz = 78.6 TFLOPS, with reasons for the rest. */
static void trn2_4096_cubed(void **state)
{
    (void)state;
    json_t *j = cli_json("gemm 4096 4096 4096 --hw trn2 --json");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "trainium");
    double peak = 128.0 * 128 * 2 * 2.4e9;
    assert_close(num(j, "peak_flops"), peak, 1e-15);
    assert_true(num(j, "flops_per_s") > 0.97 * peak && num(j, "flops_per_s") < peak);
    assert_close(num(j, "utilisation"), num(j, "flops_per_s") / peak, 1e-12);
    assert_string_equal(json_string_value(json_object_get(j, "bound")), "compute");
    assert_true(json_array_size(json_object_get(j, "why")) >= 5);
    json_t *chip = json_object_get(j, "all_cores");
    assert_close(num(chip, "cores_used"), 8, 0);
    json_decref(j);
    cli_result r = cli_run("gemm 4096 4096 4096");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Why:"));
    assert_non_null(strstr(r.out, "fill and drain"));
    cli_free(&r);
}

/* 128 x 64 x 256: half the PE rows (K = 64) for 256 cycles, 542 with the
 * first load and the fill and drain: 23.6% of the array. */
static void hand_calculation_128x64x256(void **state)
{
    (void)state;
    json_t *j = cli_json("gemm 128 64 256 --json");
    assert_close(num(j, "steady_utilisation"), 0.5, 1e-15);
    assert_close(num(j, "array_utilisation"), 2097152.0 / (16384.0 * 542), 1e-12);
    assert_close(num(j, "engine_cycles"), 542, 0);
    json_decref(j);
    /* the classic array, WS on 128 x 128: K = 64 rows, N = 256 in two column
     * folds of 2 x 64 + 128 + 128 - 2 = 382 cycles */
    j = cli_json("gemm 128 64 256 --array 128x128 --json");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "array");
    assert_close(num(j, "cycles"), 764, 0);
    assert_close(num(j, "utilisation"), 2097152.0 / (16384.0 * 764), 1e-12);
    json_decref(j);
    /* SCALE-Sim's own test case (its M=128, N=64, K=256), against its report */
    j = cli_json("gemm 128 256 64 --compat scalesim --dataflow is --json");
    assert_close(num(j, "cycles"), 891, 0);
    assert_close(100 * num(j, "utilisation"), 14.3658810325477, 1e-12);
    json_decref(j);
}

static void topology_csv_matches_golden(void **state)
{
    (void)state;
    char args[1024];
    snprintf(args, sizeof args,
             "gemm --topology %s/tests/data/scalesim/transformer_partial.csv --compat scalesim "
             "--dataflow ws --csv",
             USIM_SOURCE_DIR);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_int_equal(strncmp(r.out, "layer,m,n,k,cycles", 18), 0);
    const double golden[] = {24479, 509, 509, 8159, 32639, 130559};
    char *line = strchr(r.out, '\n') + 1;
    for (int i = 0; i < 6; i++) {
        char name[128];
        double m, n, k, cycles;
        assert_int_equal(sscanf(line, "%127[^,],%lf,%lf,%lf,%lf", name, &m, &n, &k, &cycles), 5);
        assert_close(cycles, golden[i], 0);
        line = strchr(line, '\n') + 1;
    }
    assert_string_equal(line, "");
    cli_free(&r);
    /* the text table and JSON forms of the same run */
    snprintf(args, sizeof args,
             "gemm --topology %s/tests/data/scalesim/transformer_partial.csv --compat scalesim "
             "--json",
             USIM_SOURCE_DIR);
    json_t *j = cli_json(args);
    json_t *layers = json_object_get(j, "layers");
    assert_int_equal(json_array_size(layers), 6);
    assert_close(num(json_array_get(layers, 5), "cycles"), 130559, 0);
    assert_close(num(json_object_get(j, "total"), "cycles"),
                 24479 + 509 + 509 + 8159 + 32639 + 130559, 0);
    json_decref(j);
}

/* A convolution file lowers as SCALE-Sim lowers it:
 *   conv1: 9x9 input, 3x3 filter, 4 channels, 8 filters, stride 2:
 *          ofmap ceil((9 - 3 + 2) / 2) = 4 per side: M = 16, K = 36, N = 8
 *   DP_conv: depth-wise, 3 channels: 3 layers of K = 3 x 3 x 1 */
static void convolution_topology(void **state)
{
    (void)state;
    const char *path = write_temp("conv_topo.csv",
                                  "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter "
                                  "Width, Channels, Num Filter, Strides,\n"
                                  "conv1, 9, 9, 3, 3, 4, 8, 2,\n"
                                  "\n"
                                  "DP_conv, 6, 5, 3, 3, 3, 1, 1, 2,\n");
    engine_topology t;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(engine_topology_load(path, ENGINE_TOPO_AUTO, &t, &err), USIM_OK);
    assert_int_equal(t.format, ENGINE_TOPO_CONV);
    assert_int_equal(t.count, 4);
    assert_int_equal(t.layers[0].m, 16);
    assert_int_equal(t.layers[0].k, 36);
    assert_int_equal(t.layers[0].n, 8);
    /* depth-wise: 6x5 input, 3x3 filter, strides 1 and 2: ofmap 4 x 2 */
    for (int i = 1; i < 4; i++) {
        assert_int_equal(t.layers[i].m, 8);
        assert_int_equal(t.layers[i].k, 9);
        assert_int_equal(t.layers[i].n, 1);
        assert_int_equal(t.layers[i].line, 4);
    }
    assert_string_equal(t.layers[3].name, "DP_convChannel_2");
    engine_topology_free(&t);
    /* a GEMM row's columns are M, N, K, and the trailing comma is optional */
    assert_int_equal(engine_topology_parse("g.csv", "Layer,M,N,K\nfc, 10, 20, 30\n",
                                           ENGINE_TOPO_AUTO, &t, &err),
                     USIM_OK);
    assert_int_equal(t.layers[0].m, 10);
    assert_int_equal(t.layers[0].n, 20);
    assert_int_equal(t.layers[0].k, 30);
    engine_topology_free(&t);
}

/* Bad topology text: each error names the file, line, column and field. */
static void topology_errors(void **state)
{
    (void)state;
    struct {
        const char *text, *field, *words;
        int line, column;
    } cases[] = {
        {"", "", "empty", 0, 0},
        {"Layer,M,N,K,\n", "", "no layers", 0, 0},
        {"fc,1,2,3,\n", "header", "looks like data", 1, 4},
        {"Layer,M,N,\n", "header", "3 columns", 1, 1},
        {"Layer,M,N,K,\nfc,1,2,\n", "row", "3 columns", 2, 1},
        {"Layer,M,N,K,\nfc,1,x2,3,\n", "N", "'x2' is not a size", 2, 6},
        {"Layer,M,N,K,\nfc,1,0,3,\n", "N", "from 1 to 10000000", 2, 6},
        {"Layer,M,N,K,\nfc,1,2,-3,\n", "K", "'-3'", 2, 8},
        {"Layer,M,N,K,\nfc,1,2,99999999999,\n", "K", "not a size", 2, 8},
        {"Layer,M,N,K,\n,1,2,3,\n", "Layer", "no name", 2, 1},
        {"L,H,W,FH,FW,C,NF,S,\nc,4,4,5,1,1,1,1,\n", "Filter Height", "larger than", 2, 7},
        {"L,H,W,FH,FW,C,NF,S,\nc,4,4,1,1,1,1,\n", "row", "7 columns", 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        engine_topology t;
        usim_error err;
        usim_error_clear(&err);
        assert_int_equal(engine_topology_parse("bad.csv", cases[i].text, ENGINE_TOPO_AUTO, &t,
                                               &err),
                         USIM_EINPUT);
        if (!strstr(err.message, cases[i].words))
            print_error("case %zu: '%s'\n", i, err.message);
        assert_non_null(strstr(err.message, cases[i].words));
        assert_string_equal(err.field, cases[i].field);
        assert_int_equal(err.line, cases[i].line);
        assert_int_equal(err.column, cases[i].column);
        assert_null(t.layers);
    }
}

/* Bad command lines: exit code 2 and a message that names the value and the
 * allowed range; nothing on stdout. */
static void bad_input(void **state)
{
    (void)state;
    char missing[600];
    snprintf(missing, sizeof missing, "gemm --topology %s/no/such/file.csv", USIM_TEST_TMP);
    const char *bad_csv = write_temp("bad_topo.csv", "Layer,M,N,K,\nfc,1,zz,3,\n");
    char malformed[600];
    snprintf(malformed, sizeof malformed, "gemm --topology %s", bad_csv);
    /* 10^6 x 10^6 x 10 in bf16: A alone is 2 x 10^12 bytes, 1.82 TiB, on a 96 GiB chip */
    const char *big_csv = write_temp("big_topo.csv", "Layer,M,N,K,\nhuge,1000000,10,1000000,\n");
    char too_big[600];
    snprintf(too_big, sizeof too_big, "gemm --topology %s", big_csv);
    struct {
        const char *args, *words;
    } cases[] = {
        {"gemm 0 4 4", "allowed 1 to 10000000"},
        {"gemm 4 -5 4", "-5"},
        {"gemm 4 4 20000000", "out of range"},
        {"gemm 4 4 1e9", "1e9"},
        {"gemm 4 4", "three sizes"},
        {"gemm", "three sizes"},
        {"gemm 4 4 4 --dtype fp6", "not one of fp8, bf16, fp16, tf32, fp32, fp4"},
        {"gemm 4 4 4 --dataflow xs", "not one of ws, os, is"},
        {"gemm 4 4 4 --array 0x0", "each from 1 to 4096"},
        {"gemm 4 4 4 --array 128", "ROWSxCOLS"},
        {"gemm 4 4 4 --array 5000x8", "each from 1 to 4096"},
        {"gemm 4 4 4 --compat scalesim2", "not one of none, scalesim"},
        {"gemm 4 4 4 --batch 0", "allowed 1 to 1000000"},
        {"gemm 4 4 4 --hw no-such-chip", "no-such-chip"},
        {"gemm 4 4 4 --topology x.csv", "not both"},
        {missing, "cannot open"},
        {malformed, "bad_topo.csv:2:6: N: 'zz' is not a size"},
        {"gemm 4 4 4 5", "unexpected argument '5'"},
        /* 10^7 x 10^7 x 1 ran as "71.1 s, 182 TiB moved" on an 80 GiB chip: A is
         * 2 x 10^14 bytes, B and C 2 x 10^7 each: 181.9 TiB */
        {"gemm 10000000 10000000 1 --hw h100-sxm",
         "10000000 x 10000000 x 1 (M x K x N): A, B and C need 181.9 TiB, more than h100-sxm's "
         "80.0 GiB of HBM"},
        {too_big, "layer 'huge', 1000000 x 1000000 x 10 (M x K x N): A, B and C need 1.82 TiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_input_error(cases[i].args, cases[i].words);
}

/* The same request through the library's front door. */
static void front_door(void **state)
{
    (void)state;
    char *out = NULL;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_run("{\"command\": \"gemm\", \"m\": 1024, \"k\": 1024, \"n\": 1024, "
                              "\"hw\": \"h100-sxm\", \"dtype\": \"fp8\"}",
                              &out, &err),
                     USIM_OK);
    json_t *j = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "tensor_core");
    assert_string_equal(json_string_value(json_object_get(j, "compute_dtype")), "fp8");
    json_decref(j);
    free(out);
    assert_int_equal(usim_run("{\"command\": \"gemm\", \"m\": 4, \"k\": 4, \"n\": 4, \"array\": "
                              "\"4x0\"}",
                              &out, &err),
                     USIM_EINPUT);
    assert_string_equal(err.field, "array");
}

/* The H100 preset with every matrix MAC rate set to 0: a chip with no matrix
 * units. Returns the file's path (write_temp's buffer). */
static const char *chip_without_matrix_units(void)
{
    char src[600];
    snprintf(src, sizeof src, "%s/data/hw/h100-sxm.json", USIM_SOURCE_DIR);
    json_t *chip = json_load_file(src, 0, NULL);
    assert_non_null(chip);
    json_object_set_new(chip, "name", json_string("nomatrix"));
    json_t *macs = json_object_get(json_object_get(chip, "matrix"), "macs_per_pe_per_cycle");
    const char *key;
    json_t *v;
    json_object_foreach(macs, key, v)
    {
        json_object_set_new(macs, key, json_integer(0));
    }
    char *text = json_dumps(chip, 0);
    const char *path = write_temp("nomatrix.json", text);
    free(text);
    json_decref(chip);
    return path;
}

/* docs/engine.md section 7: a chip that multiplies nothing costs infinite
 * time; `gemm` says there is no time (n/a, null in JSON) and why, never
 * "0 s". */
static void gemm_without_matrix_units_is_na(void **state)
{
    (void)state;
    char args[700];
    snprintf(args, sizeof args, "gemm 128 128 128 --hw %s", chip_without_matrix_units());
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "time         n/a (no matrix units: nomatrix multiplies no "
                                  "bf16 nor a wider type"));
    assert_null(strstr(r.out, " 0 s"));
    cli_free(&r);
    strcat(args, " --json");
    json_t *j = cli_json(args);
    assert_true(json_is_null(json_object_get(j, "seconds")));
    assert_true(json_is_null(json_object_get(j, "cycles")));
    assert_non_null(strstr(json_string_value(json_object_get(j, "seconds_reason")),
                           "no matrix units"));
    /* the work itself still exists: 2 x 128^3 FLOPs */
    assert_close(json_number_value(json_object_get(j, "flops")), 4194304.0, 0);
    json_decref(j);
}

/* `attention` counts the useful (query, key) pairs, 4 x head dim FLOPs each
 * forward and 10 x backward: 2 x 4 x 1,000 x 1,000 pairs of head dim 64 are
 * 2.048 GFLOP; causal keeps 1,000 x 1,001 / 2 of each head's pairs. The
 * launches a benchmark hides are one kernel forward and two backward (4 us
 * each on the H100 preset). */
static void attention_flops_by_hand(void **state)
{
    (void)state;
    const char *base = "attention --hw h100-sxm --batch 2 --heads 4 --seq 1000 --head-dim 64";
    struct {
        const char *extra;
        double flops, launch_s;
    } cases[] = {
        {"", 4.0 * 64 * 2 * 4 * 1000.0 * 1000.0, 4e-6},
        {"--causal", 4.0 * 64 * 2 * 4 * 1000.0 * 1001.0 / 2.0, 4e-6},
        {"--pass backward", 10.0 * 64 * 2 * 4 * 1000.0 * 1000.0, 8e-6},
        {"--causal --pass backward", 10.0 * 64 * 2 * 4 * 1000.0 * 1001.0 / 2.0, 8e-6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[300];
        snprintf(args, sizeof args, "%s %s --json", base, cases[i].extra);
        json_t *j = cli_json(args);
        assert_close(num(j, "flops"), cases[i].flops, 1e-6);
        assert_close(num(j, "launch_s"), cases[i].launch_s, 1e-15);
        assert_true(num(j, "seconds") > num(j, "launch_s"));
        json_decref(j);
    }
    expect_output("attention --hw h100-sxm --seq 4096 --heads 32 --kv-heads 8 --causal",
                  "batch 1, 32 heads (8 KV), 4096 queries x 4096 keys, head dim 128, causal",
                  NULL);
}

/* The attention command's JSON on an H100 whose matrix.FIELD is VALUE. */
static json_t *variant_attention(const char *field, double value, const char *shape)
{
    char chip[200], args[700];
    snprintf(chip, sizeof chip,
             "{\"kind\":\"chip\",\"base\":\"h100-sxm\",\"name\":\"variant\","
             "\"matrix\":{\"%s\":%g}}",
             field, value);
    const char *path = write_temp("variant.json", chip);
    snprintf(args, sizeof args, "attention --hw %s %s --json", path, shape);
    return cli_json(args);
}

/* A Trainium chip with matrix.FIELD set is refused: the field is a GPU's. */
static void systolic_refuses(const char *field)
{
    char chip[200], args[600], message[200];
    snprintf(chip, sizeof chip,
             "{\"kind\":\"chip\",\"base\":\"trn2\",\"name\":\"t\","
             "\"matrix\":{\"%s\":0.5}}",
             field);
    snprintf(args, sizeof args, "attention --seq 128 --hw %s", write_temp("trn_field.json", chip));
    snprintf(message, sizeof message, "matrix.%s: 0.5 on a systolic matrix; allowed: 0", field);
    expect_input_error(args, message);
}

/* A chip with matrix.softmax_overlap v hides v x min(products, softmax) of a
 * fused forward: its compute time is linear in v, the sum of the two at 0
 * and the longer at 1, so t(0) - t(1) = min and t(0.5) is their mean; the
 * backward does not move. On a systolic chip the field is refused. */
static double attention_compute_s(double overlap, const char *pass)
{
    char shape[100];
    snprintf(shape, sizeof shape, "--batch 2 --heads 16 --seq 8192 --pass %s", pass);
    json_t *j = variant_attention("softmax_overlap", overlap, shape);
    double s = num(j, "compute_s");
    json_decref(j);
    return s;
}

static void softmax_overlap_is_linear(void **state)
{
    (void)state;
    /* the parts --json gives add up to the cores' time, on a GPU and on Trainium */
    const char *shapes[] = {"--hw h100-sxm --batch 2 --heads 16 --seq 8192",
                            "--hw b200 --seq 4096 --causal --pass backward",
                            "--hw trn2 --heads 8 --seq 2048 --causal"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "attention %s --json", shapes[i]);
        json_t *j = cli_json(cmd);
        json_t *p = json_object_get(j, "parts");
        double sum = num(p, "tensor_s") + num(p, "softmax_s") - num(p, "softmax_hidden_s") +
                     num(p, "fill_s");
        assert_close(sum, num(j, "compute_s"), 1e-9);
        json_decref(j);
    }
    double serial = attention_compute_s(0, "forward"), half = attention_compute_s(0.5, "forward");
    double whole = attention_compute_s(1, "forward");
    assert_true(whole < serial);
    assert_close(half, (serial + whole) / 2.0, 1e-9);
    assert_close(attention_compute_s(0, "backward"), attention_compute_s(1, "backward"), 0);
    /* the H100's products outlast its softmax (2,048 MACs a cycle an SM at
     * 0.76, against 16 exponentials and 128 lanes): whole = the products
     * alone, 2 x 128 x 128 x 128 / (2,048 x 0.76) cycles a pair, serial adds
     * 128 x 128 / 16 + 3 x 128 x 128 / 128 */
    double products = 2.0 * 128 * 128 * 128 / (2048 * 0.76), softmax = 1024.0 + 384.0;
    assert_close(serial / whole, (products + softmax) / products, 1e-9);
    /* the preset reproduces the FlashAttention-3 row it is derived from (Table 2: 661) */
    json_t *fa3 = cli_json("attention --hw h100-sxm --batch 4 --heads 16 --seq 8448 --dtype fp16 "
                           "--json");
    assert_close(num(fa3, "flops") / (num(fa3, "seconds") - num(fa3, "launch_s")) / 1e12, 661.0,
                 661.0 * 0.005);
    json_decref(fa3);
    systolic_refuses("softmax_overlap");
}

/* A GPU's query tiles pay matrix.attention_tile_overhead key blocks each.
 * 8 sequences x 16 heads of 2,048 queries, not causal, on the H100's 132
 * SMs: 2,048 tiles of 128 queries against 16 blocks each, 32,768 pairs,
 * 249 on the busiest SM; its 16 tiles add 16 x 1.8 = 28.8, so the products
 * take 277.8 / 249 of their time without the overhead. */
static double tile_products_s(double overhead)
{
    json_t *j = variant_attention("attention_tile_overhead", overhead,
                                  "--batch 8 --heads 16 --seq 2048");
    double s = num(json_object_get(j, "parts"), "tensor_s");
    json_decref(j);
    return s;
}

static void query_tiles_pay_their_overhead(void **state)
{
    (void)state;
    assert_close(tile_products_s(1.8) / tile_products_s(0), 277.8 / 249.0, 1e-12);
    systolic_refuses("attention_tile_overhead");
}

/* A sweep runs attention points as the command does: causal FLOPs of 16
 * heads of 128 over s (s + 1) / 2 pairs, 4 x 128 each forward:
 * 4,299,161,600 at 1,024 tokens and 68,736,253,952 at 4,096. */
static void attention_sweeps(void **state)
{
    (void)state;
    char spec[600], args[2000];
    snprintf(spec, sizeof spec, "%s",
             write_temp("attention_sweep.json",
                        "{\"command\": \"attention\", \"base\": {\"hw\": \"h100-sxm\", "
                        "\"causal\": true}, \"grid\": {\"seq\": [1024, 4096]}}"));
    char db[600], csv[600];
    snprintf(db, sizeof db, "%s", write_temp("attention_sweep.db", ""));
    snprintf(csv, sizeof csv, "%s", write_temp("attention_sweep.csv", ""));
    remove(db);
    snprintf(args, sizeof args, "sweep %s --db %s --csv %s --json", spec, db, csv);
    json_t *j = cli_json(args);
    assert_true(num(j, "ok") == 2 && num(j, "failed") == 0);
    json_decref(j);
    char text[4096] = "";
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, ",4299161600.0,"));
    assert_non_null(strstr(text, ",68736253952.0,"));
}

/* Shapes no kernel runs are refused by name, exit 2, nothing on stdout. */
static void attention_bad_input(void **state)
{
    (void)state;
    struct {
        const char *args, *words;
    } cases[] = {
        {"attention", "--seq"},
        {"attention --seq 0", "allowed 1 to 16777216"},
        {"attention --seq 128 --heads 12 --kv-heads 5",
         "--kv-heads: 5 does not divide --heads 12"},
        {"attention --seq 128 --kv-len 64 --causal", "--kv-len: 64 is shorter than --seq 128"},
        {"attention --seq 128 --dtype fp4", "not one of bf16, fp16, fp8"},
        {"attention --seq 128 --pass sideways", "not one of forward, backward"},
        {"attention --seq 128 --head-dim 2048", "allowed 1 to 1024"},
        {"attention --seq 128 --hw no-such-chip", "no-such-chip"},
        {"attention --hw h100-sxm --seq 1000000 --batch 1000 --heads 128",
         "1000 sequences of 1000000 queries x 1000000 keys, 128 heads: Q, K, V and the output "
         "need 119.2 TiB, more than h100-sxm's 80.0 GiB of HBM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_input_error(cases[i].args, cases[i].words);
}

/* Attention on a chip that cannot multiply: no time, and why, never 0. */
static void attention_without_matrix_units_is_na(void **state)
{
    (void)state;
    char args[700];
    snprintf(args, sizeof args, "attention --seq 128 --hw %s", chip_without_matrix_units());
    expect_output(args, "result       n/a (no matrix units: nomatrix multiplies no bf16 nor a "
                        "wider type", " 0 FLOPS");
    strcat(args, " --json");
    json_t *j = cli_json(args);
    assert_true(json_is_null(json_object_get(j, "seconds")));
    assert_true(json_is_null(json_object_get(j, "flops_per_s")));
    assert_close(num(j, "flops"), 4.0 * 128 * 16 * 128 * 128, 0); /* the work still exists */
    json_decref(j);
}

/* The why lines name the chip's own array and instruction limits (they said
 * 128 x 128 x 512 and 64 cycles whatever the chip), and a GPU's wave line the
 * share of all its waves' slots: 544 tiles in 5 waves of 132 SMs fill
 * 544 / 660 = 82.4% of them (the last wave holds 16, 12.1%). */
static void why_lines_name_the_chip(void **state)
{
    (void)state;
    const char *path = write_temp("t64.json",
                                  "{\"kind\":\"chip\",\"base\":\"trn2\",\"name\":\"t64\","
                                  "\"matrix\":{\"rows\":64,\"cols\":64,\"moving_free_max\":256,"
                                  "\"issue_min_cycles\":32}}");
    char args[600];
    snprintf(args, sizeof args, "gemm 100 100 100 --hw %s", path);
    expect_output(args, "not filling 64 x 64 x 256, or under the 32-cycle issue", NULL);
    expect_output("gemm 4096 4096 4224 --hw h100-sxm",
                  "544 thread-block tiles of 128 x 256 (split-K 1) in 5 waves over the SMs: "
                  "82.4% of the waves' slots used",
                  NULL);
}

/* --csv gives a GEMM alone the row a topology gives it: the mapping and
 * compute cells were blank for a single GEMM */
static void single_csv_row_is_the_topology_row(void **state)
{
    (void)state;
    const char *topo = write_temp("one_layer.csv", "Layer,M,N,K,\ngemm,128,64,256,\n");
    const char *models[] = {"--compat scalesim --array 128x128", "--hw trn2", "--hw h100-sxm"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char one[600], many[600];
        snprintf(one, sizeof one, "gemm 128 256 64 %s --csv", models[i]);
        snprintf(many, sizeof many, "gemm --topology %s %s --csv", topo, models[i]);
        cli_result a = cli_run(one), b = cli_run(many);
        assert_int_equal(a.status, 0);
        assert_int_equal(b.status, 0);
        assert_string_equal(a.out, b.out);
        assert_null(strstr(a.out, ",,"));
        cli_free(&a);
        cli_free(&b);
    }
}

/* Training on it has no matrix time to give either: a step of elementwise work
 * alone would claim an MFU past 100%. It is an input error naming --hw. */
static void train_without_matrix_units_is_refused(void **state)
{
    (void)state;
    char args[700];
    snprintf(args, sizeof args,
             "train --model llama3.2-1b --hw %s --chips 1 --tp 1 --pp 1 --gbs 8 --seq 2048",
             chip_without_matrix_units());
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "--hw: nomatrix cannot train in bf16: its matrix units do no "
                                  "bf16 work (chip.matrix.macs_per_pe_per_cycle.bf16 is 0; "
                                  "allowed: above 0)"));
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trn2_4096_cubed),
        cmocka_unit_test(train_without_matrix_units_is_refused),
        cmocka_unit_test(gemm_without_matrix_units_is_na),
        cmocka_unit_test(why_lines_name_the_chip),
        cmocka_unit_test(single_csv_row_is_the_topology_row),
        cmocka_unit_test(hand_calculation_128x64x256),
        cmocka_unit_test(topology_csv_matches_golden),
        cmocka_unit_test(convolution_topology),
        cmocka_unit_test(topology_errors),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(front_door),
        cmocka_unit_test(attention_flops_by_hand),
        cmocka_unit_test(attention_bad_input),
        cmocka_unit_test(softmax_overlap_is_linear),
        cmocka_unit_test(query_tiles_pay_their_overhead),
        cmocka_unit_test(attention_without_matrix_units_is_na),
        cmocka_unit_test(attention_sweeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
