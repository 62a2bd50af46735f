/*
 * Output files: a regular file is replaced atomically under a unique
 * temporary name; a symbolic link stays a link and its target gets the
 * data; a FIFO and /dev/null are written in place and stay what they are;
 * /dev/stdout writes to the descriptor.
 * Input files: a directory is said to be a directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "ultrasim/core.h"

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/files_%s", USIM_TEST_TMP, name);
}

static char *read_all(const char *path)
{
    char *text = NULL;
    usim_error err;
    usim_error_clear(&err);
    if (usim_read_file(path, &text, NULL, &err) != USIM_OK)
        fail_msg("%s", err.message);
    return text;
}

static bool is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static void write_ok(const char *path, const char *text)
{
    usim_error err;
    usim_error_clear(&err);
    if (usim_write_file_atomic(path, text, strlen(text), &err) != USIM_OK)
        fail_msg("%s", err.message);
}

/* The link is kept; what it points at holds the new text. A dangling link
 * creates its target. */
static void symlink_stays_a_link(void **state)
{
    (void)state;
    char target[512], link[512];
    path_of(target, sizeof target, "target.txt");
    path_of(link, sizeof link, "link.txt");
    remove(link);
    remove(target);
    assert_int_equal(symlink("files_target.txt", link), 0); /* relative, dangling */
    write_ok(link, "first\n");
    assert_true(is_link(link));
    char *text = read_all(target);
    assert_string_equal(text, "first\n");
    free(text);
    write_ok(link, "second\n"); /* now the target exists: replaced atomically */
    assert_true(is_link(link));
    text = read_all(target);
    assert_string_equal(text, "second\n");
    free(text);
}

/* A reader in a child process gets every byte; the FIFO is still a FIFO. */
static void fifo_is_written_through(void **state)
{
    (void)state;
    char fifo[512], copy[512];
    path_of(fifo, sizeof fifo, "pipe");
    path_of(copy, sizeof copy, "pipe_copy.txt");
    remove(fifo);
    remove(copy);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    if (pid == 0) { /* the reader: the FIFO's bytes into a regular file */
        alarm(10);   /* a writer that never opens the FIFO fails the test, not hangs it */
        FILE *in = fopen(fifo, "rb"), *out = fopen(copy, "wb");
        int c;
        while (in && out && (c = fgetc(in)) != EOF)
            fputc(c, out);
        _exit(in && out && fclose(out) == 0 ? 0 : 1);
    }
    write_ok(fifo, "through the pipe\n");
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    char *text = read_all(copy);
    assert_string_equal(text, "through the pipe\n");
    free(text);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    remove(fifo);
}

/* /dev/null stays the character device 1:3 (as root, a rename would have
 * replaced it with a plain file for the whole machine). */
static void dev_null_stays_a_device(void **state)
{
    (void)state;
    write_ok("/dev/null", "nothing\n");
    struct stat st;
    assert_int_equal(lstat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
}

/* A leftover from another run under the old fixed name "FILE.tmp.PID" (here
 * a folder, so it cannot be opened) does not block the write, and no
 * temporary file is left behind. */
static void temporary_names_are_unique(void **state)
{
    (void)state;
    char out[512], stale[600];
    path_of(out, sizeof out, "unique.txt");
    snprintf(stale, sizeof stale, "%s.tmp.%ld", out, (long)getpid());
    rmdir(stale);
    assert_int_equal(mkdir(stale, 0700), 0);
    write_ok(out, "written\n");
    char *text = read_all(out);
    assert_string_equal(text, "written\n");
    free(text);
    assert_int_equal(rmdir(stale), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s.tmp.* >/dev/null 2>&1", out);
    assert_int_not_equal(system(cmd), 0); /* nothing matches */
}

/* A kept file keeps its permissions across the replace. */
static void replace_keeps_the_mode(void **state)
{
    (void)state;
    char out[512];
    path_of(out, sizeof out, "mode.txt");
    write_ok(out, "one\n");
    assert_int_equal(chmod(out, 0640), 0);
    write_ok(out, "two\n");
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
}

static void folder_is_not_a_file(void **state)
{
    (void)state;
    char dir[512];
    path_of(dir, sizeof dir, "folder.json");
    mkdir(dir, 0700);
    char *text = NULL;
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_read_file(dir, &text, NULL, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "files_folder.json: is a directory, not a file"));
    assert_null(strstr(err.message, "256 MiB"));
    usim_error_clear(&err);
    assert_int_equal(usim_write_file_atomic(dir, "x", 1, &err), USIM_EINPUT);
    assert_non_null(strstr(err.message, "is a directory"));
    /* Through the CLI: exit 2 and the same words. */
    char args[700];
    snprintf(args, sizeof args, "plot --result %s --kind breakdown --out %s/x.svg", dir,
             USIM_TEST_TMP);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "is a directory, not a file"));
    cli_free(&r);
}

/* /dev/stdout is this process's descriptor: the CSV goes where stdout goes
 * (here a file the shell opened), before the summary, and neither is lost to
 * a file renamed over the shell's. */
static void dev_stdout_is_the_descriptor(void **state)
{
    (void)state;
    char db[512], spec[512], args[1200];
    snprintf(spec, sizeof spec, "%s",
             write_temp("files_stdout.json",
                        "{\"command\": \"hw show\", \"base\": {\"name\": \"trn2u.48xlarge\"}, "
                        "\"grid\": {\"chips\": [16, 64]}}"));
    path_of(db, sizeof db, "stdout.db");
    remove(db);
    snprintf(args, sizeof args, "sweep %s --db %s --csv /dev/stdout", spec, db);
    cli_result r = cli_run(args);
    assert_int_equal(r.status, 0);
    /* chips, nodes, domains, chips per node, per domain: 16 chips are one
     * node of 16 in a 64-chip domain, 64 chips four nodes. */
    assert_int_equal(strncmp(r.out, "id,status,reason,name,", 22), 0);
    assert_non_null(strstr(r.out, "\n0,ok,,trn2u.48xlarge,"));
    assert_non_null(strstr(r.out, "torus)\",16,1,1,16,64,"));
    assert_non_null(strstr(r.out, "torus)\",64,4,1,16,64,"));
    assert_non_null(strstr(r.out, "2 points: 0 already in"));
    cli_free(&r);
}

/* Three files replaced together. A rename failing part way (the third
 * staged file is missing) is a runtime failure that puts the first back as
 * it was and removes the second, which was not there before; the folder
 * for the kept files is left empty. Then, with all three staged, all three
 * are replaced. */
static void replace_files_all_or_none(void **state)
{
    (void)state;
    char staged[3][600], final[3][600], keep[600];
    const char *s[3], *f[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "replace_staged_%d", i);
        path_of(staged[i], sizeof staged[i], name);
        snprintf(name, sizeof name, "replace_final_%d", i);
        path_of(final[i], sizeof final[i], name);
        remove(staged[i]);
        remove(final[i]);
        s[i] = staged[i];
        f[i] = final[i];
    }
    path_of(keep, sizeof keep, "replace_keep");
    rmdir(keep);
    assert_int_equal(mkdir(keep, 0777), 0);
    write_ok(final[0], "old 0");
    write_ok(staged[0], "new 0");
    write_ok(staged[1], "new 1");
    usim_error err;
    usim_error_clear(&err);
    assert_int_equal(usim_replace_files(s, f, 3, keep, &err), USIM_ERUNTIME);
    assert_non_null(strstr(err.message, final[2]));
    assert_non_null(strstr(err.message, "the previous files are as they were"));
    char *text = read_all(final[0]);
    assert_string_equal(text, "old 0");
    free(text);
    assert_int_equal(access(final[1], F_OK), -1);
    assert_int_equal(rmdir(keep), 0); /* empty: nothing of the old files left there */

    assert_int_equal(mkdir(keep, 0777), 0);
    write_ok(staged[0], "new 0");
    write_ok(staged[1], "new 1");
    write_ok(staged[2], "new 2");
    usim_error_clear(&err);
    assert_int_equal(usim_replace_files(s, f, 3, keep, &err), USIM_OK);
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "new %d", i);
        text = read_all(final[i]);
        assert_string_equal(text, want);
        free(text);
        assert_int_equal(access(staged[i], F_OK), -1);
        remove(final[i]);
    }
    assert_int_equal(rmdir(keep), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(symlink_stays_a_link),
        cmocka_unit_test(fifo_is_written_through),
        cmocka_unit_test(dev_null_stays_a_device),
        cmocka_unit_test(temporary_names_are_unique),
        cmocka_unit_test(replace_keeps_the_mode),
        cmocka_unit_test(folder_is_not_a_file),
        cmocka_unit_test(dev_stdout_is_the_descriptor),
        cmocka_unit_test(replace_files_all_or_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
