/*
 * The command line and the library's front door: help on every command, the
 * version, exit codes, and the JSON contract of `hw show`.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "support.h"
#include "ultrasim/ultrasim.h"

static void every_command_has_help(void **state)
{
    (void)state;
    const usim_command *const *cmds = usim_commands();
    for (size_t i = 0; cmds[i]; i++) {
        char args[160];
        snprintf(args, sizeof args, "%s --help", cmds[i]->name);
        cli_result r = cli_run(args);
        if (r.status != 0 || !strstr(r.out, "usage: ultrasim") || !strstr(r.out, "--json"))
            fail_msg("'%s': exit %d, out '%s'", args, r.status, r.out);
        cli_free(&r);
        /* --json and --help belong to the command line itself. */
        for (size_t k = 0; k < cmds[i]->option_count; k++)
            if (!strcmp(cmds[i]->options[k].name, "json") ||
                !strcmp(cmds[i]->options[k].name, "help"))
                fail_msg("'%s' defines --%s", cmds[i]->name, cmds[i]->options[k].name);
    }
}

static void top_level_help_lists_commands(void **state)
{
    (void)state;
    cli_result r = cli_run("--help");
    assert_int_equal(r.status, 0);
    const usim_command *const *cmds = usim_commands();
    for (size_t i = 0; cmds[i]; i++)
        assert_non_null(strstr(r.out, cmds[i]->name));
    cli_free(&r);
    r = cli_run("");
    assert_int_equal(r.status, 2); /* no command is a usage error */
    cli_free(&r);
    r = cli_run("hw");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "hw show"));
    cli_free(&r);
}

static void version_prints(void **state)
{
    (void)state;
    cli_result r = cli_run("--version");
    assert_int_equal(r.status, 0);
    char expect[64];
    snprintf(expect, sizeof expect, "ultrasim %s\n", usim_version());
    assert_string_equal(r.out, expect);
    cli_free(&r);
}

/* The keys scripts rely on, with the seed's UltraServer figures. */
static void hw_show_json_contract(void **state)
{
    (void)state;
    cli_result r = cli_run("hw show trn2u.48xlarge --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "chips")), 64);
    json_t *flops = json_object_get(j, "dense_flops");
    assert_close(json_number_value(json_object_get(flops, "fp8")), 83.2e15, 1e-9);
    assert_close(json_number_value(json_object_get(flops, "bf16")), 42.8e15, 1e-9);
    assert_close(json_number_value(json_object_get(flops, "fp32")), 11.6e15, 1e-9);
    assert_close(json_number_value(json_object_get(j, "hbm_bytes")), 6144.0 * (1 << 30), 1e-12);
    assert_close(json_number_value(json_object_get(j, "hbm_bytes_per_s")), 185.6e12, 1e-12);
    assert_close(json_number_value(json_object_get(j, "scaleup_bytes_per_s_per_chip")), 1280e9,
                 1e-12);
    assert_close(json_number_value(json_object_get(j, "scaleout_bits_per_s_per_chip")), 200e9,
                 1e-12);
    json_t *coll = json_object_get(j, "collectives");
    assert_string_equal(json_string_value(json_object_get(coll, "library")), "Neuron");
    assert_string_equal(json_string_value(json_object_get(coll, "auto")), "neuron");
    json_decref(j);
    cli_free(&r);
}

/* What a GPU system's collective library brings, from its data: NCCL, NVLS at
 * 2.20's 23 us and Hopper's 0.85 (data/hw/p5.48xlarge.json), the blocking host
 * call (44.8 us) and EFA's own step (20 us, data/hw/efa-v2.json). */
static void hw_show_collectives(void **state)
{
    (void)state;
    cli_result r = cli_run("hw show p5.48xlarge --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *coll = json_object_get(j, "collectives");
    assert_string_equal(json_string_value(json_object_get(coll, "library")), "NCCL");
    assert_true(json_is_true(json_object_get(coll, "nvls")));
    assert_close(json_number_value(json_object_get(coll, "nvls_latency_s")), 23e-6, 1e-12);
    assert_close(json_number_value(json_object_get(coll, "nvls_efficiency")), 0.85, 1e-12);
    assert_close(json_number_value(json_object_get(coll, "blocking_call_overhead_s")), 44.8e-6,
                 1e-12);
    assert_close(json_number_value(json_object_get(coll, "network_step_latency_s")), 20e-6,
                 1e-12);
    json_decref(j);
    cli_free(&r);
}

/* The rate memory-bound kernels run at: on trn1.32xlarge its 16 chips' DMA
 * engines, 32 x 17 B/ns each (below HBM's 820 GB/s x 0.88); on the Trn2
 * UltraServer HBM's 2.9 TB/s x 0.88 on each of 64 chips. */
static void hw_show_sustained_memory(void **state)
{
    (void)state;
    const char *systems[] = {"trn1.32xlarge", "trn2u.48xlarge"};
    double expected[] = {16 * 32 * 17e9, 64 * 2.9e12 * 0.88};
    for (int i = 0; i < 2; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "hw show %s --json", systems[i]);
        cli_result r = cli_run(cmd);
        assert_int_equal(r.status, 0);
        json_t *j = json_loads(r.out, 0, NULL);
        assert_close(json_number_value(json_object_get(j, "hbm_sustained_bytes_per_s")),
                     expected[i], 1e-12);
        json_decref(j);
        cli_free(&r);
    }
    cli_result r = cli_run("hw show trn1.32xlarge");
    assert_non_null(strstr(r.out, "what the DMA engines sustain: 544 GB/s a chip"));
    cli_free(&r);
}

/* `hw show FILE EXTRA` of a file holding json: it runs, prints want and not absent. */
static void expect_hw_file_shows(const char *file, const char *json, const char *extra,
                                 const char *want, const char *absent)
{
    char args[600];
    snprintf(args, sizeof args, "hw show %s%s", write_temp(file, json), extra);
    expect_output(args, want, absent);
}

static void hw_show_text_names_the_figures(void **state)
{
    (void)state;
    cli_result r = cli_run("hw show trn2.48xlarge");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "20.8 PFLOPS"));
    assert_non_null(strstr(r.out, "HBM                1.50 TiB (1.649 TB), 46.4 TB/s"));
    assert_non_null(strstr(r.out, "46.4 TB/s"));
    cli_free(&r);
    /* a capacity under a GiB keeps its figure (100 MiB printed as "0 GiB") */
    expect_hw_file_shows("small_hbm.json",
                         "{\"kind\": \"chip\", \"base\": \"trn2\", \"name\": \"small\", "
                         "\"hbm\": {\"capacity\": \"100MiB\"}}",
                         "", "HBM                100 MiB (0.0001049 TB)", NULL);
    /* a node of one chip has no scale-up links, whatever its base's figures; a
     * ring shows no torus dims it inherited (it runs as a ring of 16) */
    expect_hw_file_shows("solo.json",
                         "{\"kind\": \"system\", \"base\": \"trn2.48xlarge\", \"name\": "
                         "\"solo\", \"node\": {\"chips\": 1, \"topology\": {\"kind\": "
                         "\"none\"}}}",
                         " --chips 4",
                         "per chip, total          n/a (no scale-up links: a node holds one chip)",
                         "in node");
    expect_hw_file_shows("ringy.json",
                         "{\"kind\": \"system\", \"base\": \"trn2.48xlarge\", \"name\": "
                         "\"ringy\", \"node\": {\"topology\": {\"kind\": \"ring\"}}}",
                         "", "in node            ring, 1.02 TB/s per chip", NULL);
    r = cli_run("hw show ib-ndr");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "400 Gbps"));
    cli_free(&r);
    r = cli_run("hw show trn2 --sources");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "hbm.bandwidth"));
    cli_free(&r);
    /* a chip alone has no links: n/a with the reason, not "0 B/s" and "0 Gbps" */
    r = cli_run("hw show h100-sxm");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "per chip, total          n/a (no scale-up links: a chip "
                                  "alone)"));
    assert_non_null(strstr(r.out, "per chip                 n/a (no scale-out network: a chip "
                                  "alone)"));
    assert_null(strstr(r.out, "0 B/s"));
    cli_free(&r);
}

/* The library call: requests are checked before any work is done. */
static void front_door_checks_requests(void **state)
{
    (void)state;
    char *out = NULL;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_run("{\"command\": \"hw show\", \"name\": \"trn2\"}", &out, &err),
                     USIM_OK);
    assert_non_null(strstr(out, "\"chips\": 1"));
    free(out);
    assert_int_equal(usim_run("{\"command\": \"hw show\", \"nme\": \"trn2\"}", &out, &err),
                     USIM_EINPUT);
    assert_null(out);
    assert_non_null(strstr(err.message, "did you mean '--name'"));
    assert_int_equal(usim_run("{\"command\": \"fly\"}", &out, &err), USIM_EINPUT);
    assert_int_equal(usim_run("not json", &out, &err), USIM_EINPUT);
    assert_int_equal(usim_run("{\"command\": \"hw show\", \"name\": \"trn2u.48xlarge\", "
                              "\"chips\": 128}",
                              &out, &err),
                     USIM_OK);
    assert_non_null(strstr(out, "\"chips\": 128"));
    free(out);
}

/* jansson refuses NaN and infinity, so one undefined figure used to lose a
 * whole result ("out of memory", exit 1). Results are packed by api_pack:
 * the figure becomes null with a sibling reason, unless one is given. */
static const char *reason_of(json_t *obj, const char *key)
{
    char name[96];
    snprintf(name, sizeof name, "%s_reason", key);
    assert_true(json_is_null(json_object_get(obj, key)));
    return json_string_value(json_object_get(obj, name));
}

/* hw show --json: what the hardware does not have is null with the reason, not
 * 0 (an H100's fp4 rate, its DMA engines, a lone Trn2's links, a library's
 * blocking-call figure it never gives) */
static void hw_show_json_absent_figures(void **state)
{
    (void)state;
    json_t *h = cli_json("hw show dgx-h100 --json");
    assert_non_null(strstr(reason_of(json_object_get(h, "dense_flops"), "fp4"),
                           "no matrix units for this type"));
    assert_string_equal(reason_of(json_object_get(h, "published_chip_flops"), "bf16"),
                        "not published");
    assert_non_null(strstr(reason_of(json_object_get(h, "chip"), "dma_bytes_per_s"),
                           "names no DMA engines"));
    assert_true(json_number_value(json_object_get(json_object_get(h, "dense_flops"), "bf16")) >
                0);
    json_decref(h);
    json_t *t = cli_json("hw show trn2 --json");
    assert_string_equal(reason_of(json_object_get(t, "scaleup"), "node_bytes_per_s_per_chip"),
                        "no scale-up links: a chip alone");
    assert_non_null(strstr(reason_of(json_object_get(t, "collectives"),
                                     "blocking_call_overhead_s"),
                           "gives no figure"));
    json_decref(t);
}

static void nonfinite_figures_become_null(void **state)
{
    (void)state;
    json_t *o = api_pack("{s:f, s:f, s:f, s:s, s:[f, i], s:{s:f}}", "ok", 1.5, "none", NAN,
                          "inf", INFINITY, "inf_reason", "the link has no bandwidth", "list",
                          NAN, 3, "nested", "x", NAN);
    assert_non_null(o);
    assert_close(json_real_value(json_object_get(o, "ok")), 1.5, 0);
    assert_true(json_is_null(json_object_get(o, "none")));
    assert_string_equal(json_string_value(json_object_get(o, "none_reason")),
                        "not defined for this input");
    assert_true(json_is_null(json_object_get(o, "inf")));
    assert_string_equal(json_string_value(json_object_get(o, "inf_reason")),
                        "the link has no bandwidth");
    assert_true(json_is_null(json_array_get(json_object_get(o, "list"), 0)));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "list"), 1)), 3);
    json_t *nested = json_object_get(o, "nested");
    assert_string_equal(json_string_value(json_object_get(nested, "x_reason")),
                        "not defined for this input");
    /* text: "n/a (reason)", never 0 */
    usim_buf b = {0};
    api_text_quantity(&b, "time", o, "inf", USIM_UNIT_SECONDS);
    api_text_quantity(&b, "size", o, "ok", USIM_UNIT_BYTES);
    char *text = usim_buf_take(&b);
    assert_string_equal(text, "  time                     n/a (the link has no bandwidth)\n"
                              "  size                     1.50 B\n");
    free(text);
    json_decref(o);
}

/* A failures option without --failures used to be ignored in silence. */
static void failure_options_need_failures(void **state)
{
    (void)state;
    cli_result r = cli_run("train --model llama3.2-1b --hw dgx-h100 --tp 1 --mbs 1 --gbs 8 "
                           "--seq 1024 --chip-fit 100");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--chip-fit: describes failures and changes nothing without "
                                  "them; add --failures --tokens N"));
    assert_string_equal(r.out, "");
    cli_free(&r);
}

/* "--trace --json" forgot the file name: '--json' is not one. */
static void option_value_is_not_an_option(void **state)
{
    (void)state;
    cli_result r = cli_run("train --model llama3.2-1b --hw dgx-h100 --tp 1 --mbs 1 --gbs 8 "
                           "--seq 1024 --trace --json");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--trace needs a value, but '--json' is an option"));
    assert_string_equal(r.out, "");
    cli_free(&r);
}

static void expect_error(const char *args, const char *message)
{
    cli_result r = cli_run(args);
    if (r.status != 2 || r.out[0] || !strstr(r.err, message))
        fail_msg("'%s': exit %d, stderr '%s', expected '%s'", args, r.status, r.err, message);
    cli_free(&r);
}

/* Messages that name what is wrong and what is allowed. */
static void messages_name_the_fix(void **state)
{
    (void)state;
    char args[900];
    const char *plan = "--hw dgx-h100 --tp 1 --mbs 1 --gbs 8 --seq 1024";
    /* a hardware file as the model: say so, not "unknown key 'vendor'" */
    snprintf(args, sizeof args, "train --model %s/data/hw/h100-sxm.json %s", USIM_SOURCE_DIR,
             plan);
    expect_error(args, "kind: 'chip': this looks like a hardware file (a chip), not a model; "
                       "give it as the hardware (--hw)");
    /* model_type 7: the field, the value as written and the allowed types */
    snprintf(args, sizeof args, "train --model %s %s",
             write_temp("model_type_7.json", "{\"model_type\": 7}"), plan);
    expect_error(args, "model_type: 7 is not a supported model type; allowed: llama, mistral, "
                       "mixtral, qwen2, qwen3, qwen3_moe, gpt_oss, gpt2, gptj, gpt_neox, falcon, "
                       "mpt, bloom, phi3, qwen2_moe, opt, deepseek_v2, deepseek_v3, llama4, "
                       "llama4_text, gemma, gemma2, gemma3, gemma3_text, nemotron (a string)");
    /* a Hugging Face config without model_type: that key, not "unknown key" */
    snprintf(args, sizeof args, "train --model %s %s",
             write_temp("no_model_type.json", "{\"num_hidden_layers\": 2, \"hidden_size\": 64}"),
             plan);
    expect_error(args, "model_type: missing: a config.json in Hugging Face's form (it has "
                       "num_hidden_layers) names its family here; allowed: llama, mistral");
    /* a fraction of a chip: the range too */
    expect_error("train --model llama3.2-1b --hw dgx-h100 --chips 8.5 --tp 1 --mbs 1 --gbs 8 "
                 "--seq 1024",
                 "--chips: '8.5' is not a whole number; allowed 1 to 4194304");
}

/* "1 chip", and a small model's parameters in K, not "0.0001642 B". The
 * model: 2 layers of h 64 (QKV 3 x 64^2 + out 64^2 + SwiGLU 3 x 64 x 256 +
 * two RMSNorms 2 x 64 = 65,664) + embedding and head 2 x 256 x 64 + final
 * norm 64 = 164,160 parameters. */
static void counts_read_as_words(void **state)
{
    (void)state;
    const char *model = write_temp("tiny_model.json",
                                   "{\"kind\": \"model\", \"name\": \"tiny\", \"family\": \"gpt\", "
                                   "\"layers\": 2, \"hidden\": 64, \"heads\": 4, \"ffn\": 256, "
                                   "\"vocab\": 256, \"max_seq\": 128}");
    char args[700];
    snprintf(args, sizeof args, "train --model %s --hw h100-sxm --mbs 1 --gbs 1 --seq 128",
             model);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    const char *first = "tiny (164.2 K parameters) on 1 chip of h100-sxm\n";
    if (strncmp(r.out, first, strlen(first)) != 0)
        fail_msg("first line: %.80s", r.out);
    cli_free(&r);
}

/* -h anywhere prints the command's help and exits 0. */
static void help_anywhere(void **state)
{
    (void)state;
    const char *lines[] = {"train --model x -h", "train --model llama3.2-1b --bogus 3 --help",
                           "hw show -h"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        cli_result r = cli_run(lines[i]);
        if (r.status != 0 || strncmp(r.out, "usage: ultrasim ", 16) != 0 || r.err[0])
            fail_msg("'%s': exit %d, out '%.60s', err '%s'", lines[i], r.status, r.out, r.err);
        cli_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_has_help),
        cmocka_unit_test(top_level_help_lists_commands),
        cmocka_unit_test(version_prints),
        cmocka_unit_test(hw_show_json_contract),
        cmocka_unit_test(hw_show_collectives),
        cmocka_unit_test(hw_show_sustained_memory),
        cmocka_unit_test(hw_show_text_names_the_figures),
        cmocka_unit_test(front_door_checks_requests),
        cmocka_unit_test(nonfinite_figures_become_null),
        cmocka_unit_test(hw_show_json_absent_figures),
        cmocka_unit_test(failure_options_need_failures),
        cmocka_unit_test(option_value_is_not_an_option),
        cmocka_unit_test(messages_name_the_fix),
        cmocka_unit_test(counts_read_as_words),
        cmocka_unit_test(help_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
