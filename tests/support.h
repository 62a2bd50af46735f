/* Test helpers: run the CLI and capture what it printed. */
#ifndef USIM_TEST_SUPPORT_H
#define USIM_TEST_SUPPORT_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "ultrasim/hw.h"

typedef struct cli_result {
    int status;   /* exit code */
    char *out;    /* stdout */
    char *err;    /* stderr */
} cli_result;

/* Runs `ultrasim ARGS` (args is a shell-quoted string). */
cli_result cli_run(const char *args);
void cli_free(cli_result *r);

/* Runs `ultrasim ARGS`, fails the test unless it exits 0 with JSON on stdout,
 * and returns that JSON (the caller's to json_decref). */
json_t *cli_json(const char *args);

/* One figure of that JSON: obj.key, or key when obj is NULL; the command is
 * base followed by extra. */
double cli_number(const char *base, const char *extra, const char *obj, const char *key);

/* Runs `ultrasim ARGS` and fails the test unless it exits 2 (bad input) with
 * fragment in its stderr and nothing on its stdout (no half-written output). */
void expect_input_error(const char *args, const char *fragment);

/* Runs `ultrasim ARGS` and fails the test unless it exits 0 with fragment in its
 * stdout and, when absent is not NULL, without absent there. */
void expect_output(const char *args, const char *fragment, const char *absent);

/* A hardware preset or file sized to chips (0: the preset's own), failing the
 * test when it does not load; new_system's copy is the caller's to free. */
hw_system load_system(const char *name, int chips);
hw_system *new_system(const char *name, int chips);

/* A folder every user can reach (under /tmp, mode 0755) holding a copy of the
 * CLI as "ultrasim", made once per test program and removed at its exit. Tests
 * that run the CLI as nobody (as root a file's mode does not bind) work there:
 * the build tree may sit below a folder only its owner can enter. LeakSanitizer's
 * suppressions are copied there too, and LSAN_OPTIONS points at the copy. */
const char *shared_scratch(void);

/* Points stdout and stderr at /dev/null (in a forked child). */
int open_devnull(void);

/* Writes text to the file at path (created or replaced). */
void write_text_file(const char *path, const char *text);

/* Writes text to a fresh file under the test tree; returns its path (static buffer). */
const char *write_temp(const char *name, const char *text);

/* assert |actual - expected| <= rel * |expected| */
#define assert_close(actual, expected, rel)                                               \
    do {                                                                                   \
        double a_ = (actual), e_ = (expected);                                             \
        if (!(fabs(a_ - e_) <= (rel) * fabs(e_))) {                                        \
            print_error("%s = %.9g, expected %.9g within %.3g%%\n", #actual, a_, e_,       \
                        100.0 * (rel));                                                    \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

#endif
