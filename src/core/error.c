/*
 * Errors are values. A library function that fails fills a usim_error and
 * returns its status; only the command-line layer prints and picks the exit
 * code (0 ok, 1 runtime failure, 2 usage or input error).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ultrasim/core.h"

void usim_error_clear(usim_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

static void set_message(usim_error *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void set_message(usim_error *err, const char *fmt, va_list ap)
{
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

usim_status usim_fail(usim_error *err, usim_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = status;
        va_start(ap, fmt);
        set_message(err, fmt, ap);
        va_end(ap);
    }
    return status;
}

usim_status usim_fail_field(usim_error *err, usim_status status, const char *field,
                            const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = status;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_start(ap, fmt);
        set_message(err, fmt, ap);
        va_end(ap);
    }
    return status;
}

void usim_error_format(const usim_error *err, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
#define APPEND(...)                                                              \
    do {                                                                         \
        int n_ = snprintf(buf + used, used < size ? size - used : 0, __VA_ARGS__); \
        if (n_ > 0)                                                              \
            used += (size_t)n_;                                                  \
    } while (0)
    if (err->file[0]) {
        APPEND("%s", err->file);
        if (err->line > 0)
            APPEND(":%d:%d", err->line, err->column);
        APPEND(": ");
    }
    if (err->field[0])
        APPEND("%s: ", err->field);
    APPEND("%s", err->message[0] ? err->message : "unknown error");
#undef APPEND
}
