/* Human units: parsing into SI and printing back. */
#include <math.h>
#include <string.h>

#include "support.h"
#include "ultrasim/core.h"

static double q(const char *text, usim_unit unit)
{
    double v = -1;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_parse_quantity(text, unit, &v, &err), USIM_OK);
    return v;
}

static void parses_issue_examples(void **state)
{
    (void)state;
    assert_close(q("96GiB", USIM_UNIT_BYTES), 96.0 * 1024 * 1024 * 1024, 1e-15);
    assert_close(q("2.9TB/s", USIM_UNIT_BYTES_PER_S), 2.9e12, 1e-15);
    assert_close(q("200Gbps", USIM_UNIT_BYTES_PER_S), 200e9 / 8, 1e-15);
    assert_close(q("400Gb/s", USIM_UNIT_BYTES_PER_S), 50e9, 1e-15);
    assert_close(q("1us", USIM_UNIT_SECONDS), 1e-6, 1e-15);
    assert_close(q("2.4GHz", USIM_UNIT_HERTZ), 2.4e9, 1e-15);
    assert_close(q("1.3PFLOPS", USIM_UNIT_FLOPS), 1.3e15, 1e-15);
    assert_close(q("83.2PF", USIM_UNIT_FLOPS), 83.2e15, 1e-15);
    assert_close(q("989TFLOP/s", USIM_UNIT_FLOPS), 989e12, 1e-15);
    assert_close(q("500W", USIM_UNIT_WATTS), 500, 1e-15);
}

static void parses_more_forms(void **state)
{
    (void)state;
    assert_close(q("24MB", USIM_UNIT_BYTES), 24e6, 1e-15);
    assert_close(q("1 KiB", USIM_UNIT_BYTES), 1024, 1e-15);
    assert_close(q("8B", USIM_UNIT_BYTES), 8, 1e-15);
    assert_close(q("15 ms", USIM_UNIT_SECONDS), 0.015, 1e-15);
    assert_close(q("54d", USIM_UNIT_SECONDS), 54 * 86400.0, 1e-15);
    assert_close(q("2h", USIM_UNIT_SECONDS), 7200, 1e-15);
    assert_close(q("130ns", USIM_UNIT_SECONDS), 130e-9, 1e-15);
    assert_close(q("1024GiB/s", USIM_UNIT_BYTES_PER_S), 1024.0 * 1073741824.0, 1e-15);
    assert_close(q("42", USIM_UNIT_BYTES), 42, 1e-15);
}

static void rejects_bad_units(void **state)
{
    (void)state;
    /* strtod reads hexadecimal: "0x10" was 16 bytes */
    const char *bad[] = {"96GiB/s", "fast", "", "2.9", "1e400GB", "nan", "inf", "3 furlongs",
                         "1mB", "0x10", "-0x1p4s"};
    usim_unit units[] = {USIM_UNIT_BYTES,   USIM_UNIT_BYTES,   USIM_UNIT_BYTES,
                         USIM_UNIT_NONE,    USIM_UNIT_BYTES,   USIM_UNIT_BYTES,
                         USIM_UNIT_SECONDS, USIM_UNIT_SECONDS, USIM_UNIT_BYTES,
                         USIM_UNIT_BYTES,   USIM_UNIT_SECONDS};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        usim_error err;
        usim_error_clear(&err);
        if (units[i] == USIM_UNIT_NONE) /* a bare number is always fine */
            continue;
        assert_int_equal(usim_parse_quantity(bad[i], units[i], &v, &err), USIM_EINPUT);
        assert_true(strlen(err.message) > 0);
    }
}

static void counts_take_suffixes(void **state)
{
    (void)state;
    int64_t n;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_parse_count("16K", &n, &err), USIM_OK);
    assert_int_equal(n, 16000);
    assert_int_equal(usim_parse_count("1Mi", &n, &err), USIM_OK);
    assert_int_equal(n, 1048576);
    assert_int_equal(usim_parse_count("1.5", &n, &err), USIM_EINPUT);
    assert_int_equal(usim_parse_count("12x", &n, &err), USIM_EINPUT);
    assert_int_equal(usim_parse_count("0x10", &n, &err), USIM_EINPUT);
}

static void formats_with_three_digits(void **state)
{
    (void)state;
    char buf[64];
    usim_format_quantity(83.2e15, USIM_UNIT_FLOPS, buf, sizeof buf);
    assert_string_equal(buf, "83.2 PFLOPS");
    usim_format_quantity(1536.0 * 1073741824.0, USIM_UNIT_BYTES, buf, sizeof buf);
    assert_string_equal(buf, "1.50 TiB");
    usim_format_quantity(46.4e12, USIM_UNIT_BYTES_PER_S, buf, sizeof buf);
    assert_string_equal(buf, "46.4 TB/s");
    usim_format_quantity(1.5e-6, USIM_UNIT_SECONDS, buf, sizeof buf);
    assert_string_equal(buf, "1.50 us");
    usim_format_quantity(64.9 * 86400, USIM_UNIT_SECONDS, buf, sizeof buf);
    assert_string_equal(buf, "64.9 d");
    usim_format_quantity(3 * 3600, USIM_UNIT_SECONDS, buf, sizeof buf);
    assert_string_equal(buf, "3.00 h");
    usim_format_quantity(90, USIM_UNIT_SECONDS, buf, sizeof buf);
    assert_string_equal(buf, "90.0 s");
}

static void suggests_close_words(void **state)
{
    (void)state;
    const char *names[] = {"bandwidth", "capacity", "stacks"};
    assert_string_equal(usim_closest("bandwdith", names, 3), "bandwidth");
    assert_null(usim_closest("zzz", names, 3));
    assert_int_equal(usim_edit_distance("kitten", "sitting"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_issue_examples), cmocka_unit_test(parses_more_forms),
        cmocka_unit_test(rejects_bad_units),     cmocka_unit_test(counts_take_suffixes),
        cmocka_unit_test(formats_with_three_digits), cmocka_unit_test(suggests_close_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
