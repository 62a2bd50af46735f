/* A growing text buffer for building reports (internal). */
#ifndef USIM_CORE_BUF_H
#define USIM_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct usim_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed: data holds what fitted */
} usim_buf;

void usim_buf_printf(usim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void usim_buf_puts(usim_buf *b, const char *s);
/* Hands the text to the caller (never NULL unless failed) and resets b. */
char *usim_buf_take(usim_buf *b);
void usim_buf_free(usim_buf *b);

#endif
