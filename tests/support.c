#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return strdup("");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, fp);
    buf[got] = '\0';
    fclose(fp);
    return buf;
}

cli_result cli_run(const char *args)
{
    char out_path[512], err_path[512], cmd[8192];
    cli_result r;
    snprintf(out_path, sizeof out_path, "%s/cli_out.%d", USIM_TEST_TMP, (int)getpid());
    snprintf(err_path, sizeof err_path, "%s/cli_err.%d", USIM_TEST_TMP, (int)getpid());
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", USIM_CLI, args, out_path, err_path);
    int rc = system(cmd);
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    remove(out_path);
    remove(err_path);
    return r;
}

int open_devnull(void)
{
    FILE *out = freopen("/dev/null", "w", stdout);
    FILE *err = freopen("/dev/null", "w", stderr);
    return out && err ? 0 : -1;
}

void cli_free(cli_result *r)
{
    free(r->out);
    free(r->err);
}

json_t *cli_json(const char *args)
{
    cli_result r = cli_run(args);
    if (r.status != 0)
        fail_msg("ultrasim %s: exit %d: %s", args, r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cli_free(&r);
    assert_non_null(j);
    return j;
}

double cli_number(const char *base, const char *extra, const char *obj, const char *key)
{
    char args[1000];
    snprintf(args, sizeof args, "%s%s", base, extra);
    json_t *j = cli_json(args);
    json_t *v = json_object_get(obj ? json_object_get(j, obj) : j, key);
    if (!json_is_number(v))
        fail_msg("ultrasim %s: no number at %s%s%s", args, obj ? obj : "", obj ? "." : "", key);
    double x = json_number_value(v);
    json_decref(j);
    return x;
}

void expect_input_error(const char *args, const char *fragment)
{
    cli_result r = cli_run(args);
    if (r.status != 2 || !strstr(r.err, fragment) || (r.out && r.out[0]))
        fail_msg("'%s': exit %d, stderr: %s (wanted '%s'), stdout: '%.200s' (wanted none)", args,
                 r.status, r.err, fragment, r.out ? r.out : "");
    cli_free(&r);
}

void expect_output(const char *args, const char *fragment, const char *absent)
{
    cli_result r = cli_run(args);
    if (r.status != 0 || !strstr(r.out, fragment) || (absent && strstr(r.out, absent)))
        fail_msg("'%s': exit %d, stdout: %s (wanted '%s'%s%s)", args, r.status, r.out, fragment,
                 absent ? ", not " : "", absent ? absent : "");
    cli_free(&r);
}

void write_text_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

const char *write_temp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", USIM_TEST_TMP, name);
    write_text_file(path, text);
    return path;
}

hw_system load_system(const char *name, int chips)
{
    hw_system s;
    usim_error err;
    usim_error_clear(&err);
    if (hw_load_system(name, chips, NULL, &s, &err) != USIM_OK)
        fail_msg("%s: %s", name, err.message);
    return s;
}

hw_system *new_system(const char *name, int chips)
{
    hw_system *s = malloc(sizeof *s);
    assert_non_null(s);
    *s = load_system(name, chips);
    return s;
}

static char scratch_dir[64];

static void remove_scratch(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch_dir);
}

const char *shared_scratch(void)
{
    if (scratch_dir[0])
        return scratch_dir;
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/usim-test-XXXXXX");
    assert_non_null(mkdtemp(scratch_dir));
    atexit(remove_scratch);
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "chmod 755 %s && cp %s %s/ultrasim && cp %s/tests/lsan.supp %s/ && "
             "chmod 755 %s/ultrasim && chmod 644 %s/lsan.supp",
             scratch_dir, USIM_CLI, scratch_dir, USIM_SOURCE_DIR, scratch_dir, scratch_dir,
             scratch_dir);
    assert_int_equal(system(cmd), 0);
    /* Under the sanitizers the children read LeakSanitizer's suppressions:
     * from here, where nobody can read them too. */
    if (getenv("LSAN_OPTIONS")) {
        char options[256];
        snprintf(options, sizeof options, "suppressions=%s/lsan.supp:print_suppressions=0",
                 scratch_dir);
        setenv("LSAN_OPTIONS", options, 1);
    }
    return scratch_dir;
}
