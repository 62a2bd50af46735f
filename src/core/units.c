/*
 * Human units in, SI doubles inside, human units out.
 *
 * A quantity is a number followed by an optional suffix made of a prefix and a
 * base symbol: "2.9TB/s" = 2.9 x 10^12 x (1 B/s). Bandwidth given in bits
 * ("200Gbps", "400Gb/s") is converted to bytes/s, since every cost in the
 * simulator is bytes over bytes/s. Bytes take decimal (kB, MB, GB) or binary
 * (KiB, MiB, GiB) prefixes as written; printing uses binary prefixes for sizes
 * (memory is built in powers of two) and decimal ones for everything else.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/core.h"

typedef struct prefix {
    const char *symbol;
    double scale;
} prefix;

static const prefix DECIMAL_PREFIXES[] = {
    {"", 1.0},     {"k", 1e3},    {"K", 1e3},    {"M", 1e6},   {"G", 1e9},
    {"T", 1e12},   {"P", 1e15},   {"E", 1e18},   {"m", 1e-3},  {"u", 1e-6},
    {"\xc2\xb5", 1e-6}, {"n", 1e-9}, {"p", 1e-12},
};

static const prefix BINARY_PREFIXES[] = {
    {"Ki", 1024.0},
    {"Mi", 1048576.0},
    {"Gi", 1073741824.0},
    {"Ti", 1099511627776.0},
    {"Pi", 1125899906842624.0},
    {"Ei", 1152921504606846976.0},
};

typedef struct base_symbol {
    const char *symbol;
    double scale;       /* to the SI base of the unit kind */
    bool binary_ok;     /* accepts Ki/Mi/Gi... */
    bool small_ok;      /* accepts m/u/n/p */
} base_symbol;

/* Longer symbols first, so "B/s" is tried before "s" and "Bps" before "B". */
static const base_symbol BYTE_SYMBOLS[] = {
    {"bytes", 1, true, false}, {"byte", 1, true, false}, {"B", 1, true, false},
};
static const base_symbol BANDWIDTH_SYMBOLS[] = {
    {"bytes/s", 1, true, false}, {"bit/s", 0.125, false, false},
    {"B/s", 1, true, false},     {"b/s", 0.125, false, false},
    {"Bps", 1, true, false},     {"bps", 0.125, false, false},
};
static const base_symbol TIME_SYMBOLS[] = {
    {"days", 86400, false, false}, {"day", 86400, false, false},
    {"min", 60, false, false},     {"sec", 1, false, true},
    {"h", 3600, false, false},     {"d", 86400, false, false},
    {"s", 1, false, true},
};
static const base_symbol HERTZ_SYMBOLS[] = {{"Hz", 1, false, false}};
static const base_symbol FLOPS_SYMBOLS[] = {
    {"FLOP/s", 1, false, false}, {"FLOPS", 1, false, false},
    {"flops", 1, false, false},  {"F", 1, false, false},
};
static const base_symbol WATT_SYMBOLS[] = {{"W", 1, false, true}};

typedef struct unit_info {
    const base_symbol *symbols;
    size_t count;
    const char *example;
} unit_info;

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static unit_info info_of(usim_unit unit)
{
    switch (unit) {
    case USIM_UNIT_BYTES:
        return (unit_info){BYTE_SYMBOLS, N_OF(BYTE_SYMBOLS), "a size like 96GiB or 24MB"};
    case USIM_UNIT_BYTES_PER_S:
        return (unit_info){BANDWIDTH_SYMBOLS, N_OF(BANDWIDTH_SYMBOLS),
                           "a bandwidth like 2.9TB/s or 200Gbps"};
    case USIM_UNIT_SECONDS:
        return (unit_info){TIME_SYMBOLS, N_OF(TIME_SYMBOLS), "a time like 1us, 15ms or 54d"};
    case USIM_UNIT_HERTZ:
        return (unit_info){HERTZ_SYMBOLS, N_OF(HERTZ_SYMBOLS), "a frequency like 2.4GHz"};
    case USIM_UNIT_FLOPS:
        return (unit_info){FLOPS_SYMBOLS, N_OF(FLOPS_SYMBOLS),
                           "a compute rate like 1.3PFLOPS or 83.2PF"};
    case USIM_UNIT_WATTS:
        return (unit_info){WATT_SYMBOLS, N_OF(WATT_SYMBOLS), "a power like 500W"};
    case USIM_UNIT_NONE:
    case USIM_UNIT_COUNT_ENUM_END:
        break;
    }
    return (unit_info){NULL, 0, "a plain number"};
}

const char *usim_unit_example(usim_unit unit)
{
    return info_of(unit).example;
}

static bool ends_with(const char *s, size_t len, const char *suffix, size_t *head_len)
{
    size_t n = strlen(suffix);
    if (n > len || memcmp(s + len - n, suffix, n) != 0)
        return false;
    *head_len = len - n;
    return true;
}

static bool find_prefix(const char *head, size_t len, const base_symbol *b, double *scale)
{
    for (size_t i = 0; i < N_OF(DECIMAL_PREFIXES); i++) {
        const prefix *p = &DECIMAL_PREFIXES[i];
        bool small = p->scale < 1.0;
        if (strlen(p->symbol) == len && memcmp(head, p->symbol, len) == 0 &&
            (!small || b->small_ok)) {
            *scale = p->scale;
            return true;
        }
    }
    if (!b->binary_ok)
        return false;
    for (size_t i = 0; i < N_OF(BINARY_PREFIXES); i++) {
        const prefix *p = &BINARY_PREFIXES[i];
        if (strlen(p->symbol) == len && memcmp(head, p->symbol, len) == 0) {
            *scale = p->scale;
            return true;
        }
    }
    return false;
}

/* Scale of suffix (already trimmed) for the unit kind; false when it is not one. */
static bool suffix_scale(const char *suffix, usim_unit unit, double *scale)
{
    size_t len = strlen(suffix);
    if (len == 0) {
        *scale = 1.0;
        return true;
    }
    unit_info info = info_of(unit);
    for (size_t i = 0; i < info.count; i++) {
        size_t head_len;
        double pscale;
        if (ends_with(suffix, len, info.symbols[i].symbol, &head_len) &&
            find_prefix(suffix, head_len, &info.symbols[i], &pscale)) {
            *scale = pscale * info.symbols[i].scale;
            return true;
        }
    }
    return false;
}

/* strtod reads "0x10" as 16; a figure written so is a slip, not a quantity. */
static bool is_hex(const char *text)
{
    if (*text == '-' || *text == '+')
        text++;
    return text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
}

usim_status usim_parse_quantity(const char *text, usim_unit unit, double *out,
                                usim_error *err)
{
    char *end = NULL;
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0' || is_hex(text) ||
        (!isdigit((unsigned char)*text) && *text != '.' && *text != '-' && *text != '+'))
        return usim_fail(err, USIM_EINPUT, "'%s' is not %s", text, usim_unit_example(unit));
    double number = strtod(text, &end);
    if (end == text || !isfinite(number))
        return usim_fail(err, USIM_EINPUT, "'%s' is not %s", text, usim_unit_example(unit));
    while (isspace((unsigned char)*end))
        end++;
    char suffix[32];
    size_t n = strlen(end);
    while (n > 0 && isspace((unsigned char)end[n - 1]))
        n--;
    if (n >= sizeof suffix)
        return usim_fail(err, USIM_EINPUT, "'%s' is not %s", text, usim_unit_example(unit));
    memcpy(suffix, end, n);
    suffix[n] = '\0';
    double scale;
    if (!suffix_scale(suffix, unit, &scale))
        return usim_fail(err, USIM_EINPUT, "'%s': unknown unit '%s'; expected %s", text, suffix,
                         usim_unit_example(unit));
    double value = number * scale;
    if (!isfinite(value))
        return usim_fail(err, USIM_EINPUT, "'%s' is too large", text);
    *out = value;
    return USIM_OK;
}

usim_status usim_parse_count(const char *text, int64_t *out, usim_error *err)
{
    static const prefix COUNT_PREFIXES[] = {
        {"", 1},  {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
        {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
    };
    char *end = NULL;
    while (isspace((unsigned char)*text))
        text++;
    if (is_hex(text) || (!isdigit((unsigned char)*text) && *text != '-' && *text != '+'))
        return usim_fail(err, USIM_EINPUT, "'%s' is not a whole number", text);
    double number = strtod(text, &end);
    if (end == text || !isfinite(number))
        return usim_fail(err, USIM_EINPUT, "'%s' is not a whole number", text);
    for (size_t i = 0; i < N_OF(COUNT_PREFIXES); i++) {
        if (strcmp(end, COUNT_PREFIXES[i].symbol) == 0) {
            double v = number * COUNT_PREFIXES[i].scale;
            if (v != floor(v))
                return usim_fail(err, USIM_EINPUT, "'%s' is not a whole number", text);
            if (fabs(v) > 9.0e18)
                return usim_fail(err, USIM_EINPUT, "'%s' is too large", text);
            *out = (int64_t)v;
            return USIM_OK;
        }
    }
    return usim_fail(err, USIM_EINPUT, "'%s' is not a whole number (suffixes K, M, G, Ki, Mi)",
                     text);
}

typedef struct out_scale {
    double scale;
    const char *symbol;
    double from; /* used from this magnitude on (0: from scale) */
} out_scale;

static const out_scale OUT_BYTES[] = {
    {1152921504606846976.0, "EiB"}, {1125899906842624.0, "PiB"}, {1099511627776.0, "TiB"},
    {1073741824.0, "GiB"},          {1048576.0, "MiB"},          {1024.0, "KiB"},
    {1.0, "B"},
};
static const out_scale OUT_BANDWIDTH[] = {
    {1e18, "EB/s"}, {1e15, "PB/s"}, {1e12, "TB/s"}, {1e9, "GB/s"},
    {1e6, "MB/s"},  {1e3, "kB/s"},  {1.0, "B/s"},
};
/* Days from two days on, hours from two hours, minutes from two minutes. */
static const out_scale OUT_SECONDS[] = {
    {86400.0, "d", 2 * 86400.0}, {3600.0, "h", 7200.0}, {60.0, "min", 120.0}, {1.0, "s"},
    {1e-3, "ms"},                {1e-6, "us"},          {1e-9, "ns"},         {1e-12, "ps"},
};
static const out_scale OUT_HERTZ[] = {{1e9, "GHz"}, {1e6, "MHz"}, {1e3, "kHz"}, {1.0, "Hz"}};
static const out_scale OUT_FLOPS[] = {
    {1e18, "EFLOPS"}, {1e15, "PFLOPS"}, {1e12, "TFLOPS"}, {1e9, "GFLOPS"},
    {1e6, "MFLOPS"},  {1.0, "FLOPS"},
};
static const out_scale OUT_WATTS[] = {{1e6, "MW"}, {1e3, "kW"}, {1.0, "W"}};

static void format_scaled(double value, const out_scale *scales, size_t n, char *buf,
                          size_t size)
{
    double mag = fabs(value);
    size_t pick = n - 1;
    /* The first scale the value reaches: a mantissa in [1, 1000) for powers
     * of ten, or at least 2 for minutes, hours and days. */
    for (size_t i = 0; i < n; i++) {
        double from = scales[i].from > 0 ? scales[i].from : scales[i].scale;
        if (mag >= from || (mag == 0.0 && scales[i].scale == 1.0)) {
            pick = i;
            break;
        }
    }
    double m = value / scales[pick].scale;
    double am = fabs(m);
    /* past the largest unit's thousands (1e300 s) digits would run off the
     * buffer: a power of ten keeps the figure and its unit */
    if (am >= 1e5) {
        snprintf(buf, size, "%.3g %s", m, scales[pick].symbol);
        return;
    }
    /* Three significant digits, four above 100 so "185.6 TB/s" keeps its last digit. */
    int decimals = value == 0.0 ? 0 : am >= 10 ? 1 : 2;
    if (am >= 100 && fabs(m - round(m)) < 0.05)
        decimals = 0;
    snprintf(buf, size, "%.*f %s", decimals, m, scales[pick].symbol);
}

void usim_format_quantity(double value, usim_unit unit, char *buf, size_t size)
{
    if (!isfinite(value)) { /* no such quantity: never a number with a unit */
        snprintf(buf, size, "n/a");
        return;
    }
    switch (unit) {
    case USIM_UNIT_BYTES:
        format_scaled(value, OUT_BYTES, N_OF(OUT_BYTES), buf, size);
        return;
    case USIM_UNIT_BYTES_PER_S:
        format_scaled(value, OUT_BANDWIDTH, N_OF(OUT_BANDWIDTH), buf, size);
        return;
    case USIM_UNIT_SECONDS:
        format_scaled(value, OUT_SECONDS, N_OF(OUT_SECONDS), buf, size);
        return;
    case USIM_UNIT_HERTZ:
        format_scaled(value, OUT_HERTZ, N_OF(OUT_HERTZ), buf, size);
        return;
    case USIM_UNIT_FLOPS:
        format_scaled(value, OUT_FLOPS, N_OF(OUT_FLOPS), buf, size);
        return;
    case USIM_UNIT_WATTS:
        format_scaled(value, OUT_WATTS, N_OF(OUT_WATTS), buf, size);
        return;
    case USIM_UNIT_NONE:
    case USIM_UNIT_COUNT_ENUM_END:
        break;
    }
    snprintf(buf, size, "%.4g", value);
}
