/*
 * Bad hardware descriptions and bad command lines: each gets exit code 2, one
 * clear line on stderr naming the file, line and column, the field path and
 * the allowed range, and nothing on stdout. Cases are made by editing one
 * spot of a valid description.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static const char *BASE =
    "{\n"
    "  \"kind\": \"system\",\n"
    "  \"name\": \"test-system\",\n"
    "  \"chip\": {\n"
    "    \"kind\": \"chip\", \"name\": \"c\", \"cores\": 8,\n"
    "    \"matrix\": {\"kind\": \"systolic\", \"rows\": 128, \"cols\": 128, \"clock\": \"2.4GHz\",\n"
    "               \"macs_per_pe_per_cycle\": {\"bf16\": 1, \"fp8\": 2}},\n"
    "    \"vector\": {\"clock\": \"1GHz\", \"elements_per_cycle\": 256},\n"
    "    \"sram\": {\"per_core\": \"24MiB\"},\n"
    "    \"hbm\": {\"capacity\": \"96GiB\", \"bandwidth\": \"2.9TB/s\"},\n"
    "    \"power\": \"500W\"\n"
    "  },\n"
    "  \"node\": {\"chips\": 16, \"topology\": {\"kind\": \"torus\", \"dims\": [4, 4]},\n"
    "           \"bandwidth_per_chip\": \"1TB/s\", \"hop_latency\": \"1us\",\n"
    "           \"nic_bandwidth_per_chip\": \"200Gbps\"},\n"
    "  \"network\": \"efa-v3-10p10u\",\n"
    "  \"price\": {\"usd_per_chip_hour\": 3, \"basis\": \"estimate\"}\n"
    "}\n";

typedef struct bad_case {
    const char *name;
    const char *find;    /* text of BASE to replace (first occurrence) */
    const char *replace; /* its replacement */
    const char *expect[3]; /* substrings the error line must hold */
} bad_case;

static const bad_case CASES[] = {
    /* a name is what every page and message prints: not empty, no control codes */
    {"empty name", "\"name\": \"test-system\"", "\"name\": \"\"",
     {":3:", "name: is empty; allowed: 1 to 63 characters"}},
    {"name with a line break", "\"name\": \"test-system\"", "\"name\": \"a\\nb\"",
     {":3:", "name: holds a control character (code 10)"}},
    {"truncated file", "  \"price\"", "", {"malformed JSON", ":17:"}},
    {"trailing comma", "\"estimate\"}", "\"estimate\",}", {"malformed JSON", ":17:"}},
    {"unknown key with suggestion", "\"bandwidth\": \"2.9TB/s\"", "\"bandwdith\": \"2.9TB/s\"",
     {":10:", "chip.hbm.bandwdith", "did you mean 'bandwidth'"}},
    {"unknown top-level key", "\"node\":", "\"nodes\":", {":13:", "did you mean 'node'"}},
    {"unknown key, no near match", "\"power\": \"500W\"", "\"power\": \"500W\", \"colour\": 1",
     {"chip.colour", "allowed keys", "vector"}},
    {"wrong type", "\"cores\": 8", "\"cores\": \"eight\"", {":5:", "chip.cores", "whole number"}},
    {"zero cores", "\"cores\": 8", "\"cores\": 0", {"chip.cores", "out of range", "allowed 1 to 1024"}},
    {"negative cores", "\"cores\": 8", "\"cores\": -3", {"chip.cores", "-3 is out of range"}},
    {"fractional cores", "\"cores\": 8", "\"cores\": 2.5", {"chip.cores", "fraction"}},
    {"zero-byte HBM", "\"capacity\": \"96GiB\"", "\"capacity\": \"0B\"",
     {":10:", "chip.hbm.capacity", "allowed 1.00 MiB to 100 TiB"}},
    {"zero HBM bandwidth", "\"bandwidth\": \"2.9TB/s\"", "\"bandwidth\": 0",
     {"chip.hbm.bandwidth", "out of range", "1.00 GB/s"}},
    {"stated peak a thousandth of the arrays'", "\"power\": \"500W\"",
     "\"power\": \"500W\", \"dense_flops\": {\"bf16\": \"629GFLOPS\"}",
     {"chip.dense_flops.bf16", "629 GFLOPS is under a tenth of the 629.1 TFLOPS its matrix "
      "arrays give", "allowed: 62.9 TFLOPS or more"}},
    {"absurd clock", "\"clock\": \"2.4GHz\"", "\"clock\": 1e30",
     {":6:", "chip.matrix.clock", "allowed 1.00 MHz to 20.0 GHz"}},
    {"unknown unit", "\"clock\": \"2.4GHz\"", "\"clock\": \"2.4 parsecs\"",
     {"chip.matrix.clock", "unknown unit", "frequency"}},
    {"bandwidth where a size belongs", "\"capacity\": \"96GiB\"", "\"capacity\": \"96GiB/s\"",
     {"chip.hbm.capacity", "unknown unit"}},
    {"missing required object", "    \"hbm\": {\"capacity\": \"96GiB\", \"bandwidth\": \"2.9TB/s\"},\n",
     "", {"chip.hbm", "missing required key 'hbm'"}},
    {"missing required value", "\"capacity\": \"96GiB\", ", "",
     {"chip.hbm.capacity", "missing required key 'capacity'"}},
    {"torus does not hold the chips", "\"dims\": [4, 4]", "\"dims\": [4, 3]",
     {"node.topology", "multiply to 12 but there are 16"}},
    {"misspelt topology", "\"kind\": \"torus\"", "\"kind\": \"tourus\"",
     {"node.topology.kind", "did you mean 'torus'"}},
    {"absurd host launch scale", "\"bandwidth_per_chip\": \"1TB/s\"",
     "\"bandwidth_per_chip\": \"1TB/s\", \"host_launch_scale\": 20",
     {"node.host_launch_scale", "20 is out of range; allowed 0.1 to 10"}},
    {"negative link bandwidth", "\"bandwidth_per_chip\": \"1TB/s\"",
     "\"bandwidth_per_chip\": \"-1TB/s\"", {"node.bandwidth_per_chip", "out of range"}},
    /* a huge value keeps its unit (it printed 47 digits of a wrong number) */
    {"hop latency of 1e300 s", "\"hop_latency\": \"1us\"", "\"hop_latency\": 1e300",
     {"node.hop_latency", "1.16e+295 d is out of range", "allowed 0 s to 1.00 ms"}},
    {"hop latency of a second", "\"hop_latency\": \"1us\"", "\"hop_latency\": \"1s\"",
     {"node.hop_latency", "allowed 0 s to 1.00 ms"}},
    {"unknown network preset", "\"efa-v3-10p10u\"", "\"ib-ndrr\"",
     {"network", "unknown hardware 'ib-ndrr'", "did you mean 'ib-ndr'"}},
    {"network preset of the wrong kind", "\"efa-v3-10p10u\"", "\"trn2\"",
     {":16:", "network", "'trn2' describes a chip, not a network"}},
    {"misspelt kind", "\"kind\": \"system\"", "\"kind\": \"sytem\"",
     {":2:", "did you mean 'system'"}},
    {"missing kind", "  \"kind\": \"system\",\n", "", {"missing required key 'kind'"}},
    {"duplicate key", "\"cores\": 8", "\"cores\": 8, \"cores\": 9", {"malformed JSON", "duplicate"}},
    {"absurd power", "\"power\": \"500W\"", "\"power\": \"1e9W\"",
     {"chip.power", "allowed 1.00 W to 100 kW"}},
    {"text where a bandwidth belongs", "\"nic_bandwidth_per_chip\": \"200Gbps\"",
     "\"nic_bandwidth_per_chip\": \"fast\"", {"node.nic_bandwidth_per_chip", "bandwidth like"}},
    {"array too large", "\"rows\": 128", "\"rows\": 100000", {"chip.matrix.rows", "allowed 1 to 4096"}},
    {"negative MAC rate", "\"fp8\": 2", "\"fp8\": -1", {"chip.matrix.macs_per_pe_per_cycle.fp8"}},
    {"cited value with a typo", "\"cores\": 8", "\"cores\": {\"value\": 8, \"sorce\": \"x\"}",
     {"chip.cores.sorce", "did you mean 'source'"}},
    {"cited value without a value", "\"cores\": 8", "\"cores\": {\"source\": \"x\"}",
     {"chip.cores", "needs a 'value'"}},
    {"too many torus dimensions", "\"dims\": [4, 4]", "\"dims\": [2, 2, 2, 2]",
     {"node.topology.dims", "1 to 3 items"}},
    {"negative price", "\"usd_per_chip_hour\": 3", "\"usd_per_chip_hour\": -3",
     {"price.usd_per_chip_hour", "out of range"}},
    {"unknown price basis", "\"estimate\"", "\"cheap\"", {"price.basis", "on-demand, estimate"}},
    {"array, not object", "{\n  \"kind\"", "[{\n  \"kind\"", {"malformed JSON"}},
    {"unknown collective library", "  \"network\":",
     "  \"collective_library\": {\"preset\": \"nccl-2.19\", \"gpu\": \"hopper\", \"cpu\": "
     "\"intel\"},\n  \"network\":",
     {":16:", "collective_library.preset", "allowed: nccl-2.20, nccl-2.27"}},
    {"a GPU the library predates", "  \"network\":",
     "  \"collective_library\": {\"preset\": \"nccl-2.20\", \"gpu\": \"blackwell\", \"cpu\": "
     "\"intel\"},\n  \"network\":",
     {"collective_library.gpu", "'blackwell' is not a GPU generation nccl-2.20 has figures for",
      "allowed: ampere, hopper"}},
    {"an unknown host CPU", "  \"network\":",
     "  \"collective_library\": {\"preset\": \"nccl-2.27\", \"gpu\": \"hopper\", \"cpu\": "
     "\"arm\"},\n  \"network\":",
     {"collective_library.cpu", "allowed: intel, amd"}},
    {"a stray key beside a library preset", "  \"network\":",
     "  \"collective_library\": {\"preset\": \"nccl-2.27\", \"gpu\": \"hopper\", \"cpu\": "
     "\"amd\", \"gpus\": 1},\n  \"network\":",
     {"collective_library", "unknown key 'gpus' beside a preset"}},
    {"zero domain nodes", "  \"network\":",
     "  \"scaleup_domain\": {\"nodes\": 0, \"topology\": {\"kind\": \"ring\"}, "
     "\"bandwidth_per_chip\": \"1GB/s\", \"hop_latency\": \"1us\"},\n  \"network\":",
     {"scaleup_domain.nodes", "allowed 1 to 4096"}},
};

static char *edited(const bad_case *c)
{
    const char *at = strstr(BASE, c->find);
    if (!at)
        fail_msg("case '%s': '%s' not in the base text", c->name, c->find);
    size_t head = (size_t)(at - BASE);
    size_t size = strlen(BASE) - strlen(c->find) + strlen(c->replace) + 1;
    char *text = malloc(size);
    snprintf(text, size, "%.*s%s%s", (int)head, BASE, c->replace, at + strlen(c->find));
    return text;
}

static void base_is_valid(void **state)
{
    (void)state;
    const char *path = write_temp("hw_base.json", BASE);
    char args[600];
    snprintf(args, sizeof args, "hw show %s --json", path);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"chips\": 16"));
    cli_free(&r);
}

static void each_bad_file_fails_cleanly(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const bad_case *c = &CASES[i];
        char *text = edited(c);
        const char *path = write_temp("hw_bad.json", text);
        char args[600];
        snprintf(args, sizeof args, "hw show %s", path);
        cli_result r = cli_run(args);
        if (r.status != 2 || r.out[0] != '\0' || !strstr(r.err, "hw_bad.json"))
            fail_msg("case '%s': exit %d, stdout '%s', stderr '%s'", c->name, r.status, r.out,
                     r.err);
        for (int k = 0; k < 3 && c->expect[k]; k++)
            if (!strstr(r.err, c->expect[k]))
                fail_msg("case '%s': '%s' not in: %s", c->name, c->expect[k], r.err);
        /* one line, no crash report */
        assert_non_null(strchr(r.err, '\n'));
        assert_null(strchr(strchr(r.err, '\n') + 1, '\n'));
        cli_free(&r);
        free(text);
    }
}

typedef struct bad_args {
    const char *args;
    const char *expect;
} bad_args;

static const bad_args ARG_CASES[] = {
    {"hw show trn2u.48xlarge --chips 0", "--chips: 0 is out of range; allowed 1 to 4194304"},
    {"hw show trn2u.48xlarge --chips 24", "multiple of 16"},
    {"hw show trn2u.48xlarge --chips 100000000", "out of range"},
    {"hw show trn2u.48xlarge --chips many", "not a whole number"},
    {"hw show trn2u.48xlarge --chps 64", "did you mean '--chips'"},
    {"hw show trn2u.48xlarge --chips", "--chips needs a value"},
    {"hw show trn2u.48xlarge --chips 64 --chips 128", "given twice"},
    {"hw show trn2u.48xlarge extra", "unexpected argument 'extra'"},
    {"hw show trn2x", "unknown hardware 'trn2x'; did you mean 'trn2'"},
    {"hw show /nonexistent/hw.json", "cannot open"},
    {"hw show trn2u.48xlarge --network ib-ndrr", "did you mean 'ib-ndr'"},
    /* options that would do nothing: a network has no chips, a chip alone no NIC */
    {"hw show ib-ndr --chips 4", "--chips: 'ib-ndr' is a network"},
    {"hw show trn2 --network ib-ndr", "--network: 'trn2' is a single chip, which has no NIC"},
    {"hw show", "--name: is required"},
    {"hw shw", "unknown subcommand 'shw'"},
    {"hwx", "unknown command 'hwx'"},
    {"hw show trn2 --chips 2", "single chip"},
    /* a step simulates every micro-batch and a run every request: the old
     * bounds (10^9 sequences, 10^8 requests) ran for minutes into tens of GB */
    {"train --model llama3-8b --hw dgx-h100 --tp 1 --pp 1 --gbs 2000000 --seq 4096",
     "--gbs: 2000000 is out of range; allowed 1 to 1048576"},
    {"serve --model llama3-8b --hw dgx-h100 --tp 1 --requests 20000000",
     "--requests: 20000000 is out of range; allowed 1 to 10000000"},
};

static void each_bad_command_line_fails_cleanly(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ARG_CASES / sizeof ARG_CASES[0]; i++) {
        cli_result r = cli_run(ARG_CASES[i].args);
        if (r.status != 2 || r.out[0] != '\0' || !strstr(r.err, ARG_CASES[i].expect))
            fail_msg("'%s': exit %d, stderr '%s'", ARG_CASES[i].args, r.status, r.err);
        cli_free(&r);
    }
}

static void empty_and_binary_files(void **state)
{
    (void)state;
    const char *inputs[] = {"", "\x01\x02\xff\xfe", "null", "42", "\"text\""};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        const char *path = write_temp("hw_odd.json", inputs[i]);
        char args[600];
        snprintf(args, sizeof args, "hw show %s", path);
        cli_result r = cli_run(args);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, "hw_odd.json"));
        cli_free(&r);
    }
}

/* BASE with one edit, written to name; returns the path (write_temp's buffer). */
static const char *edited_file(const char *name, const char *find, const char *replace)
{
    bad_case c = {name, find, replace, {NULL}};
    char *text = edited(&c);
    const char *path = write_temp(name, text);
    free(text);
    return path;
}

/* No price is not $0: hw show says "n/a (no price: ...)", JSON null with the
 * reason, and ranking plans by cost is refused, naming the system and field. */
static void no_price_is_not_zero(void **state)
{
    (void)state;
    const char *path = edited_file("hw_noprice.json", ",\n  \"price\": {\"usd_per_chip_hour\": 3, "
                                                      "\"basis\": \"estimate\"}\n",
                                   "\n");
    char args[700];
    snprintf(args, sizeof args, "hw show %s", path);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "price                    n/a (no price: the hardware "
                                  "description has no price.usd_per_chip_hour)"));
    assert_null(strstr(r.out, "$0"));
    cli_free(&r);
    snprintf(args, sizeof args,
             "train --model llama3.2-1b --hw %s --mbs 1 --gbs 16 --seq 1024 --tokens 1e9", path);
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "cost n/a (no price: the hardware description has no "
                                  "price.usd_per_chip_hour)"));
    cli_free(&r);
    strcat(args, " --json");
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"cost_usd\": null"));
    cli_free(&r);
    snprintf(args, sizeof args, "plan --model llama3.2-1b --hw %s --gbs 16 --seq 1024 "
                                "--objective cost", path);
    r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--objective: cost needs a price, and 'test-system' has none "
                                  "(its hardware description has no price.usd_per_chip_hour)"));
    assert_string_equal(r.out, "");
    cli_free(&r);
}

/* Arrays of 128 x 128 PEs x 8 cores x 1 MAC x 2 FLOP x 2.4 GHz = 629.1 TFLOPS
 * bf16 against a stated 180 TFLOPS: 349.5%, a slip worth a warning on stderr
 * (and in the result), while the answer still comes. */
static void arrays_beyond_the_stated_peak_warn(void **state)
{
    (void)state;
    const char *path = edited_file("hw_fastarrays.json", "    \"power\": \"500W\"\n",
                                   "    \"power\": \"500W\",\n"
                                   "    \"dense_flops\": {\"bf16\": \"180TFLOPS\"}\n");
    char args[700];
    snprintf(args, sizeof args, "hw show %s --json", path);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    const char *expect = "chip c: its matrix arrays give 629.1 TFLOPS bf16 (cores x "
                         "arrays_per_core x rows x cols x macs_per_pe_per_cycle x 2 x clock), "
                         "350% of its stated dense_flops.bf16 180 TFLOPS";
    if (!strstr(r.err, "ultrasim: warning: ") || !strstr(r.err, expect))
        fail_msg("stderr: %s", r.err);
    assert_non_null(strstr(r.out, "\"warnings\": ["));
    cli_free(&r);
    /* every command that loads the hardware says so, serve among them */
    snprintf(args, sizeof args, "serve --model llama3.2-1b --hw %s --tp 1 --requests 1", path);
    r = cli_run(args);
    assert_int_equal(r.status, 0);
    if (!strstr(r.err, expect))
        fail_msg("serve's stderr: %s", r.err);
    cli_free(&r);
    /* the base states no peak: no warning */
    snprintf(args, sizeof args, "hw show %s", write_temp("hw_base.json", BASE));
    r = cli_run(args);
    assert_string_equal(r.err, "");
    cli_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_is_valid),
        cmocka_unit_test(each_bad_file_fails_cleanly),
        cmocka_unit_test(each_bad_command_line_fails_cleanly),
        cmocka_unit_test(empty_and_binary_files),
        cmocka_unit_test(no_price_is_not_zero),
        cmocka_unit_test(arrays_beyond_the_stated_peak_warn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
