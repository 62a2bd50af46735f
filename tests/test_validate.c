/*
 * Validation as a ratchet: the mean absolute percentage error of every set
 * of published measurements may not rise above the figure recorded in
 * validation/mape.json (which may only go down), and every row runs.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

static void mape_does_not_rise(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/validation/mape.json", USIM_SOURCE_DIR);
    json_t *recorded = json_load_file(path, 0, NULL);
    assert_non_null(recorded);
    cli_result r = cli_run("validate --json");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *sets = json_object_get(j, "sets");
    const char *names[] = {"training", "inference"};
    for (int i = 0; i < 2; i++) {
        json_t *s = json_object_get(sets, names[i]);
        double mape = json_number_value(json_object_get(s, "mape_pct"));
        double limit = json_number_value(json_object_get(recorded, names[i]));
        print_message("%s: MAPE %.2f%% (recorded %.2f%%)\n", names[i], mape, limit);
        assert_int_equal(json_integer_value(json_object_get(s, "failed")), 0);
        if (!(mape <= limit))
            fail_msg("%s MAPE rose to %.2f%% above the recorded %.2f%%", names[i], mape, limit);
    }
    json_decref(j);
    json_decref(recorded);
    cli_free(&r);
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
        strstr(r.err, "usim_test_validate_bad.csv:3: attention: 'flashy' is not one of"));
    assert_string_equal(r.out, "");
    cli_free(&r);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(mape_does_not_rise),
                                       cmocka_unit_test(bad_cell_is_an_input_error)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
