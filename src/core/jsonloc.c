/*
 * Locating a value in JSON text by its path.
 *
 * jansson parses and validates; it does not keep positions of values. To point
 * a user at file:line:column of a bad value we scan the text once more along
 * the path ("chip.hbm.bandwidth", "node.topology.dims[1]"). The text has
 * already been parsed successfully, so the scanner can assume valid JSON.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"

typedef struct scanner {
    const char *p;
    int line, col;
} scanner;

static void advance(scanner *s)
{
    if (*s->p == '\n') {
        s->line++;
        s->col = 1;
    } else if (((unsigned char)*s->p & 0xC0) != 0x80) {
        s->col++; /* count UTF-8 characters, not continuation bytes */
    }
    s->p++;
}

static void skip_space(scanner *s)
{
    while (*s->p && isspace((unsigned char)*s->p))
        advance(s);
}

/* Reads a string token into buf (escapes kept raw, enough for key matching). */
static bool scan_string(scanner *s, char *buf, size_t size)
{
    size_t n = 0;
    if (*s->p != '"')
        return false;
    advance(s);
    while (*s->p && *s->p != '"') {
        if (*s->p == '\\' && s->p[1]) {
            if (buf && n + 1 < size)
                buf[n++] = s->p[1];
            advance(s);
        } else if (buf && n + 1 < size) {
            buf[n++] = *s->p;
        }
        advance(s);
    }
    if (buf)
        buf[n] = '\0';
    if (*s->p != '"')
        return false;
    advance(s);
    return true;
}

static bool skip_value(scanner *s, int depth);

static bool skip_container(scanner *s, char close, bool keyed, int depth)
{
    advance(s); /* the opening bracket */
    skip_space(s);
    if (*s->p == close) {
        advance(s);
        return true;
    }
    for (;;) {
        skip_space(s);
        if (keyed) {
            if (!scan_string(s, NULL, 0))
                return false;
            skip_space(s);
            if (*s->p != ':')
                return false;
            advance(s);
        }
        if (!skip_value(s, depth + 1))
            return false;
        skip_space(s);
        if (*s->p == ',') {
            advance(s);
            continue;
        }
        if (*s->p == close) {
            advance(s);
            return true;
        }
        return false;
    }
}

static bool skip_value(scanner *s, int depth)
{
    if (depth > 4096)
        return false;
    skip_space(s);
    switch (*s->p) {
    case '"':
        return scan_string(s, NULL, 0);
    case '{':
        return skip_container(s, '}', true, depth);
    case '[':
        return skip_container(s, ']', false, depth);
    case '\0':
        return false;
    default:
        while (*s->p && !strchr(",}] \t\r\n", *s->p))
            advance(s);
        return true;
    }
}

/* Moves s to the value of key in the object at s (or to the key itself). */
static bool enter_key(scanner *s, const char *key, bool stop_at_key)
{
    char name[256];
    skip_space(s);
    if (*s->p != '{')
        return false;
    advance(s);
    for (;;) {
        skip_space(s);
        scanner at_key = *s;
        if (!scan_string(s, name, sizeof name))
            return false;
        skip_space(s);
        if (*s->p != ':')
            return false;
        advance(s);
        skip_space(s);
        if (strcmp(name, key) == 0) {
            if (stop_at_key)
                *s = at_key;
            return true;
        }
        if (!skip_value(s, 0))
            return false;
        skip_space(s);
        if (*s->p != ',')
            return false;
        advance(s);
    }
}

static bool enter_index(scanner *s, long index)
{
    skip_space(s);
    if (*s->p != '[')
        return false;
    advance(s);
    for (long i = 0;; i++) {
        skip_space(s);
        if (*s->p == ']')
            return false;
        if (i == index)
            return true;
        if (!skip_value(s, 0))
            return false;
        skip_space(s);
        if (*s->p != ',')
            return false;
        advance(s);
    }
}

bool usim_json_locate(const char *text, const char *path, bool want_key, int *line, int *col)
{
    scanner s = {text, 1, 1};
    const char *q = path;
    if (!text)
        return false;
    while (*q) {
        if (*q == '.') {
            q++;
            continue;
        }
        if (*q == '[') {
            char *end;
            long index = strtol(q + 1, &end, 10);
            if (*end != ']' || !enter_index(&s, index))
                return false;
            q = end + 1;
            continue;
        }
        size_t n = strcspn(q, ".[");
        char key[256];
        if (n >= sizeof key)
            return false;
        memcpy(key, q, n);
        key[n] = '\0';
        q += n;
        bool last = *q == '\0';
        if (!enter_key(&s, key, last && want_key))
            return false;
    }
    skip_space(&s);
    *line = s.line;
    *col = s.col;
    return true;
}
