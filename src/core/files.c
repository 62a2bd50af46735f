/*
 * Files: embedded presets, whole-file reads, atomic writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Input files larger than this are not hardware or model descriptions. */
#define USIM_MAX_INPUT_BYTES (256L * 1024 * 1024)

usim_status usim_read_file(const char *path, char **text, size_t *size, usim_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return usim_fail(err, USIM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return usim_fail(err, USIM_EINPUT, "%s: not a regular file", path);
    }
    long len = ftell(fp);
    if (len < 0 || len > USIM_MAX_INPUT_BYTES) {
        fclose(fp);
        return usim_fail(err, USIM_EINPUT, "%s: unreadable or larger than 256 MiB", path);
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

usim_status usim_write_file_atomic(const char *path, const char *data, size_t size,
                                   usim_error *err)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return usim_fail(err, USIM_EINPUT, "%s: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        return usim_fail(err, USIM_EINPUT, "%s: cannot write: %s", path, strerror(errno));
    size_t put = fwrite(data, 1, size, fp);
    int closed = fclose(fp);
    if (put != size || closed != 0) {
        remove(tmp);
        return usim_fail(err, USIM_ERUNTIME, "%s: write failed: %s", path, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return usim_fail(err, USIM_ERUNTIME, "%s: cannot rename into place: %s", path,
                         strerror(e));
    }
    return USIM_OK;
}
