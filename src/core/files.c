/*
 * Files: embedded presets, whole-file reads, and output files.
 *
 * Outputs (traces, charts, CSV, reports) go through usim_output. A regular
 * file is replaced atomically: the data goes to a temporary file in the same
 * folder (a unique name, so two runs writing one file never share it) that
 * is synced to disk and renamed over the target once complete. Renaming is
 * only right for regular files: renamed over a symbolic link it would
 * replace the link, and over /dev/null or a FIFO it would replace the device
 * with a plain file (as root, for everyone). So links are resolved first, and anything that is
 * not a regular file is opened and written in place.
 */
#define _XOPEN_SOURCE 700 /* realpath, fchmod */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/embedded.h"

const usim_embedded_file *usim_embedded_find(const char *path)
{
    for (const usim_embedded_file *f = usim_embedded_files; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

void usim_embedded_each(const char *prefix,
                        void (*visit)(const usim_embedded_file *f, void *ctx), void *ctx)
{
    size_t n = strlen(prefix);
    for (const usim_embedded_file *f = usim_embedded_files; f->path; f++)
        if (strncmp(f->path, prefix, n) == 0)
            visit(f, ctx);
}

void usim_embedded_name(const usim_embedded_file *f, char *name, size_t size)
{
    const char *slash = strrchr(f->path, '/'), *base = slash ? slash + 1 : f->path;
    const char *dot = strrchr(base, '.');
    snprintf(name, size, "%.*s", (int)(dot ? (size_t)(dot - base) : strlen(base)), base);
}

/* Input files larger than this are not hardware or model descriptions. */
#define USIM_MAX_INPUT_BYTES (256L * 1024 * 1024)

/* What is at path, said in words, when it cannot be read as a file. */
static usim_status check_readable(FILE *fp, const char *path, usim_error *err)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return usim_fail(err, USIM_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return usim_fail(err, USIM_EINPUT, "%s: is a directory, not a file", path);
    if (!S_ISREG(st.st_mode))
        return usim_fail(err, USIM_EINPUT, "%s: not a regular file", path);
    if (st.st_size > USIM_MAX_INPUT_BYTES)
        return usim_fail(err, USIM_EINPUT, "%s: %lld bytes, larger than 256 MiB", path,
                         (long long)st.st_size);
    return USIM_OK;
}

usim_status usim_read_file(const char *path, char **text, size_t *size, usim_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return usim_fail(err, USIM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    usim_status st = check_readable(fp, path, err);
    long len = st == USIM_OK && fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    if (st == USIM_OK && len < 0)
        st = usim_fail(err, USIM_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    if (st != USIM_OK) {
        fclose(fp);
        return st;
    }
    rewind(fp);
    char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(fp);
        return usim_fail(err, USIM_ERUNTIME, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    if (got != (size_t)len) {
        free(buf);
        return usim_fail(err, USIM_EINPUT, "%s: short read", path);
    }
    buf[len] = '\0';
    *text = buf;
    if (size)
        *size = (size_t)len;
    return USIM_OK;
}

/* ---- output files ---------------------------------------------------- */

/* Replaces cur by where the link at cur points (relative links taken from
 * the link's folder); false when cur is not a link. */
static bool follow_link(char *cur, size_t size)
{
    struct stat ls;
    char link[4096], dir_copy[4096];
    if (lstat(cur, &ls) != 0 || !S_ISLNK(ls.st_mode))
        return false;
    ssize_t n = readlink(cur, link, sizeof link - 1);
    if (n < 0)
        return false;
    link[n] = '\0';
    snprintf(dir_copy, sizeof dir_copy, "%s", cur);
    const char *dir = dirname(dir_copy);
    int w = link[0] == '/' ? snprintf(cur, size, "%s", link)
                           : snprintf(cur, size, "%s/%s", dir, link);
    return w > 0 && (size_t)w < size;
}

/* The file that writing to path would change: links followed, dangling ones
 * too (writing through a link creates what it points at, and the link stays).
 * A file not there yet resolves through its folder. */
static usim_status resolve_target(usim_output *out, const char *path, usim_error *err)
{
    char resolved[PATH_MAX], cur[4096];
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0;; hops++) {
        if (realpath(cur, resolved)) {
            snprintf(out->target, sizeof out->target, "%s", resolved);
            return USIM_OK;
        }
        if (errno != ENOENT)
            return usim_fail(err, USIM_EINPUT, "%s: cannot write: %s", path, strerror(errno));
        if (hops >= 40 || !follow_link(cur, sizeof cur))
            break;
    }
    char dir_copy[4096], base_copy[4096];
    snprintf(dir_copy, sizeof dir_copy, "%s", cur);
    snprintf(base_copy, sizeof base_copy, "%s", cur);
    const char *dir = dirname(dir_copy), *base = basename(base_copy);
    if (!realpath(dir, resolved))
        return usim_fail(err, USIM_EINPUT, "%s: cannot write: folder %s: %s", path, dir,
                         strerror(errno));
    int n = snprintf(out->target, sizeof out->target, "%s/%s", resolved, base);
    if (n < 0 || (size_t)n >= sizeof out->target)
        return usim_fail(err, USIM_EINPUT, "%s: path too long", path);
    return USIM_OK;
}

/* Creates "target.tmp.PID.XXXXXX" with O_EXCL: unique against other runs and
 * other threads. Mode 0666 less the umask, as fopen would give; an existing
 * target's mode is kept. */
static int create_temp(usim_output *out, const struct stat *old)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        unsigned long salt = (unsigned long)t.tv_nsec ^ ((unsigned long)(uintptr_t)out >> 4) ^
                             ((unsigned long)attempt * 2654435761UL);
        int n = snprintf(out->tmp, sizeof out->tmp, "%s.tmp.%ld.%06lx", out->target,
                         (long)getpid(), salt & 0xffffffUL);
        if (n < 0 || (size_t)n >= sizeof out->tmp) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(out->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            if (old)
                (void)fchmod(fd, old->st_mode & 07777);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* The descriptor path names when it reaches /proc/PID/fd/N on its way
 * (/dev/stdout, /dev/fd/1), else -1. Such a path is written through the
 * descriptor itself: opened anew it would start at offset 0 over what the
 * process already printed, and renamed over it would detach a shell's
 * redirection. */
static int proc_descriptor(const char *path)
{
    char cur[4096], dir_copy[4096], base_copy[4096], resolved[PATH_MAX], self[64];
    snprintf(self, sizeof self, "/proc/%ld/fd", (long)getpid());
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        snprintf(dir_copy, sizeof dir_copy, "%s", cur);
        snprintf(base_copy, sizeof base_copy, "%s", cur);
        const char *base = basename(base_copy);
        char *end;
        long fd = strtol(base, &end, 10);
        if (realpath(dirname(dir_copy), resolved) && strcmp(resolved, self) == 0 &&
            end != base && *end == '\0' && fd >= 0 && fd <= INT_MAX)
            return (int)fd;
        if (!follow_link(cur, sizeof cur))
            break;
    }
    return -1;
}

/* Writes in place: a device or FIFO opened by name, a descriptor duplicated. */
static usim_status open_in_place(usim_output *out, const char *path, int fd, usim_error *err)
{
    snprintf(out->target, sizeof out->target, "%s", path);
    if (fd >= 0) {
        int copy = dup(fd);
        out->fp = copy >= 0 ? fdopen(copy, "wb") : NULL;
        if (!out->fp && copy >= 0)
            close(copy);
    } else {
        out->fp = fopen(path, "wb");
    }
    if (!out->fp)
        return usim_fail(err, USIM_EINPUT, "%s: cannot write: %s", path, strerror(errno));
    return USIM_OK;
}

/* A path to write: refused when it names a directory; *straight when it is
 * a device, FIFO or descriptor, written straight through (fd: its number). */
static usim_status output_kind(const char *path, bool *straight, int *fd, usim_error *err)
{
    struct stat sb;
    bool exists = stat(path, &sb) == 0; /* through links */
    *straight = false;
    *fd = -1;
    if (exists && S_ISDIR(sb.st_mode))
        return usim_fail(err, USIM_EINPUT, "%s: is a directory; name a file to write", path);
    *fd = proc_descriptor(path);
    *straight = (exists && !S_ISREG(sb.st_mode)) || *fd >= 0;
    return USIM_OK;
}

usim_status usim_output_check(const char *path, usim_error *err)
{
    usim_output out;
    memset(&out, 0, sizeof out);
    bool straight;
    int fd;
    usim_status st = output_kind(path, &straight, &fd, err);
    if (st != USIM_OK || straight)
        return st;
    st = resolve_target(&out, path, err);
    if (st != USIM_OK)
        return st;
    char dir_copy[4096];
    snprintf(dir_copy, sizeof dir_copy, "%s", out.target);
    const char *dir = dirname(dir_copy);
    if (access(dir, W_OK) != 0)
        return usim_fail(err, USIM_EINPUT, "%s: cannot write: folder %s: %s", path, dir,
                         strerror(errno));
    return USIM_OK;
}

usim_status usim_output_open(usim_output *out, const char *path, usim_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    bool straight;
    int fd;
    usim_status st = output_kind(path, &straight, &fd, err);
    if (st != USIM_OK)
        return st;
    if (straight) /* device, FIFO, descriptor */
        return open_in_place(out, path, fd, err);
    st = resolve_target(out, path, err);
    if (st != USIM_OK)
        return st;
    struct stat sb;
    bool exists = stat(out->target, &sb) == 0;
    fd = create_temp(out, exists ? &sb : NULL);
    if (fd < 0) {
        int e = errno;
        out->tmp[0] = '\0';
        return usim_fail(err, USIM_EINPUT, "%s: cannot write: %s", path, strerror(e));
    }
    out->fp = fdopen(fd, "wb");
    if (!out->fp) {
        int e = errno;
        close(fd);
        usim_output_abort(out);
        return usim_fail(err, USIM_ERUNTIME, "%s: cannot write: %s", path, strerror(e));
    }
    return USIM_OK;
}

usim_status usim_output_commit(usim_output *out, usim_error *err)
{
    bool failed = ferror(out->fp) != 0;
    int e = failed ? EIO : 0;
    if (fflush(out->fp) != 0 && !e)
        e = errno;
    /* On disk before the rename: else a crash could leave the real name
     * pointing at a file whose data never reached the disk (zero length).
     * Only the temporary file: a device or FIFO has nothing to sync. */
    if (out->tmp[0] && !e && fsync(fileno(out->fp)) != 0)
        e = errno;
    if (fclose(out->fp) != 0 && !e)
        e = errno;
    out->fp = NULL;
    if (e || failed) {
        usim_output_abort(out);
        return usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", out->path,
                         strerror(e ? e : EIO));
    }
    if (out->tmp[0] && rename(out->tmp, out->target) != 0) {
        e = errno;
        usim_output_abort(out);
        return usim_fail(err, USIM_ERUNTIME, "%s: cannot rename into place: %s", out->path,
                         strerror(e));
    }
    out->tmp[0] = '\0';
    return USIM_OK;
}

void usim_output_abort(usim_output *out)
{
    if (out->fp)
        fclose(out->fp);
    out->fp = NULL;
    if (out->tmp[0])
        remove(out->tmp);
    out->tmp[0] = '\0';
}

/* ---- several files replaced together ---------------------------------- */

typedef struct replacing {
    const char *const *staged, *const *final, *keep_dir;
    int n;
    char (*keep)[4200]; /* keep[i]: a hard link to the previous final[i] */
    bool *kept;
} replacing;

/* A hard link to each final file there is, so that a failure can put it
 * back; links, not copies: the same file, at no cost. */
static usim_status keep_previous(replacing *r, usim_error *err)
{
    struct stat info;
    for (int i = 0; i < r->n; i++) {
        if (lstat(r->final[i], &info) != 0)
            continue;
        if (link(r->final[i], r->keep[i]) != 0)
            return usim_fail(err, USIM_ERUNTIME,
                             "cannot keep the previous %s (%s); nothing was written", r->final[i],
                             strerror(errno));
        r->kept[i] = true;
    }
    return USIM_OK;
}

/* After final[i] could not be replaced: the ones before it go back to what
 * they were (or away, if they were not there). */
static usim_status put_back(replacing *r, int failed, int e, usim_error *err)
{
    bool whole = true;
    for (int k = 0; k < failed; k++) {
        if (!r->kept[k])
            remove(r->final[k]); /* this call's, just renamed there */
        else if (rename(r->keep[k], r->final[k]) != 0)
            whole = false; /* left where it is kept, not removed */
        r->kept[k] = false;
    }
    if (!whole)
        return usim_fail(err, USIM_ERUNTIME,
                         "cannot write %s (%s), nor put every previous file back (kept in %s)",
                         r->final[failed], strerror(e), r->keep_dir);
    return usim_fail(err, USIM_ERUNTIME, "cannot write %s (%s); the previous files are as they were",
                     r->final[failed], strerror(e));
}

usim_status usim_replace_files(const char *const *staged, const char *const *final, int n,
                               const char *keep_dir, usim_error *err)
{
    replacing r = {staged, final, keep_dir, n, calloc((size_t)n, sizeof *r.keep),
                   calloc((size_t)n, sizeof *r.kept)};
    if (!r.keep || !r.kept) {
        free(r.keep);
        free(r.kept);
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    for (int i = 0; i < n; i++)
        snprintf(r.keep[i], sizeof r.keep[i], "%s/previous.%d", keep_dir, i);
    usim_status st = keep_previous(&r, err);
    for (int i = 0; st == USIM_OK && i < n; i++)
        if (rename(staged[i], final[i]) != 0)
            st = put_back(&r, i, errno, err);
    for (int i = 0; i < n; i++)
        if (r.kept[i])
            remove(r.keep[i]); /* a second name of a file still in place */
    free(r.keep);
    free(r.kept);
    return st;
}

usim_status usim_write_file_atomic(const char *path, const char *data, size_t size,
                                   usim_error *err)
{
    usim_output out;
    usim_status st = usim_output_open(&out, path, err);
    if (st != USIM_OK)
        return st;
    if (fwrite(data, 1, size, out.fp) != size) {
        int e = errno;
        usim_output_abort(&out);
        return usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", path, strerror(e));
    }
    return usim_output_commit(&out, err);
}

usim_status usim_open_named(const char *dir, const char *name, const char **text, char **owned,
                            char *label, size_t label_size, bool *missing, usim_error *err)
{
    char path[256];
    *text = NULL;
    *owned = NULL;
    *missing = false;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    size_t n = strlen(name);
    bool is_path = strchr(name, '/') || (n > 5 && strcmp(name + n - 5, ".json") == 0);
    const usim_embedded_file *f = strchr(name, '/') ? NULL : usim_embedded_find(path);
    if (f) {
        snprintf(label, label_size, "data/%s", f->path);
        *text = f->text;
        return USIM_OK;
    }
    if (!is_path && access(name, R_OK) != 0) {
        *missing = true;
        return USIM_OK;
    }
    snprintf(label, label_size, "%s", name);
    usim_status st = usim_read_file(name, owned, NULL, err);
    *text = *owned;
    return st;
}
