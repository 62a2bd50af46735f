/*
 * The requests a workload sends: how many, when, how long.
 *
 *   offline   every request at time 0 (trtllm-bench style)
 *   static    the same, served as fixed batches
 *   closed    `concurrency` clients, each sending its next request as soon
 *             as the last one finished (LLMPerf style); arrival times are
 *             set by the simulation
 *   poisson   arrivals at `rate` per second, exponential gaps
 *   constant  arrivals at `rate` per second, evenly spaced (guidellm)
 *   trace     a CSV of arrival_s,input_tokens,output_tokens
 *
 * Lengths are fixed, or uniform within +- spread of the mean. Requests go to
 * replicas round-robin; in a closed loop client k sends to replica k mod R,
 * so fewer clients than replicas leave replicas idle rather than inventing
 * clients. Everything is seeded: the same seed, the same run.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/internal.h"

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double serve_uniform(uint64_t *s)
{
    return ((double)(next_u64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double length(uint64_t *rng, double mean, double spread)
{
    if (spread <= 0)
        return mean;
    double v = mean * (1 - spread + 2 * spread * serve_uniform(rng));
    return fmax(1, round(v));
}

/* Bounds of a trace's fields. Arrivals stop at 10^7 s (116 days): there a
 * double still resolves 2 ns, so a latency added to an arrival keeps its
 * digits (at 1e300 s every latency would round to 0). */
#define TRACE_ARRIVAL_MAX_S 1e7
#define TRACE_TOKENS_MAX 1e7

typedef struct trace_field {
    const char *name;
    double lo, hi;
    const char *range; /* as the message prints it */
    bool whole;        /* token counts: no fractions */
} trace_field;

static const trace_field TRACE_FIELDS[3] = {
    {"arrival_s", 0, TRACE_ARRIVAL_MAX_S, "0 to 10^7 s", false},
    {"input_tokens", 1, TRACE_TOKENS_MAX, "1 to 10^7", true},
    {"output_tokens", 1, TRACE_TOKENS_MAX, "1 to 10^7", true},
};

/* The one header a trace may start with (the fields are read by position,
 * so a header naming them in another order is refused, not misread). */
#define TRACE_HEADER "arrival_s,input_tokens,output_tokens"

/* strtod reads C's hexadecimal floats ("0x10" is 16): a trace is decimal. */
static bool hexadecimal(const char *p)
{
    if (*p == '+' || *p == '-')
        p++;
    return p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
}

/* A header line: the names of TRACE_HEADER in order, spaces allowed around
 * the commas and at the ends, not inside a name. */
static bool is_trace_header(const char *line)
{
    const char *want = TRACE_HEADER, *p = line;
    while (*want) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(want, ",");
        if (strncmp(p, want, n) != 0)
            return false;
        p += n;
        want += n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*want == ',' && *p++ != ',')
            return false;
        want += *want == ',';
    }
    return *p == '\0' || *p == '\r';
}

/* An input error at a trace's line and column, naming the field. */
static usim_status at_cell(usim_status st, const serve_workload *w, int line, int column,
                           usim_error *err)
{
    if (err) {
        snprintf(err->file, sizeof err->file, "%s", w->trace_file);
        err->line = line;
        err->column = column;
    }
    return st;
}

/* Reads the three comma-separated fields of a row into v; each must be a
 * number within its bounds (NaN and inf are not). */
static usim_status parse_row(const serve_workload *w, const char *row, int line, double v[3],
                             usim_error *err)
{
    const char *p = row;
    for (int f = 0; f < 3; f++) {
        const trace_field *tf = &TRACE_FIELDS[f];
        while (*p == ' ' || *p == '\t')
            p++;
        int column = (int)(p - row) + 1;
        if (hexadecimal(p))
            return at_cell(usim_fail_field(err, USIM_EINPUT, tf->name,
                                           "'%.*s' is hexadecimal; a trace is written in decimal",
                                           (int)strcspn(p, ", \t\r"), p),
                           w, line, column, err);
        char *end;
        v[f] = strtod(p, &end);
        const char *rest = end;
        while (*rest == ' ' || *rest == '\t' || *rest == '\r')
            rest++;
        if (end == p || *rest != (f < 2 ? ',' : '\0'))
            return at_cell(usim_fail_field(err, USIM_EINPUT, tf->name,
                                           "expected " TRACE_HEADER ", got '%.60s'",
                                           row),
                           w, line, column, err);
        if (!(v[f] >= tf->lo && v[f] <= tf->hi))
            return at_cell(usim_fail_field(err, USIM_EINPUT, tf->name,
                                           "%.*s is out of range (allowed: %s)", (int)(end - p),
                                           p, tf->range),
                           w, line, column, err);
        if (tf->whole && v[f] != floor(v[f]))
            return at_cell(usim_fail_field(err, USIM_EINPUT, tf->name,
                                           "%.*s is not a whole number of tokens (allowed: %s)",
                                           (int)(end - p), p, tf->range),
                           w, line, column, err);
        p = rest + (f < 2);
    }
    return USIM_OK;
}

static usim_status parse_trace(const serve_workload *w, serve_request **out, int64_t *count,
                               usim_error *err)
{
    char *text = NULL;
    usim_status st = usim_read_file(w->trace_file, &text, NULL, err);
    if (st != USIM_OK)
        return st;
    int64_t cap = 1024, n = 0;
    serve_request *r = malloc((size_t)cap * sizeof *r);
    if (!r)
        st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    int line = 0;
    char *start = text;
    if (start && strncmp(start, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte-order mark */
        start += 3;
    for (char *p = start, *next; st == USIM_OK && p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line++;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue; /* blank or comment */
        if (line == 1 && isalpha((unsigned char)*p)) {
            if (is_trace_header(p))
                continue;
            st = at_cell(usim_fail(err, USIM_EINPUT, "expected the header " TRACE_HEADER
                                   " (fields in that order), got '%.60s'", p),
                         w, line, 1, err);
            break;
        }
        double v[3];
        st = parse_row(w, p, line, v, err);
        if (st == USIM_OK && n == cap) {
            cap *= 2;
            serve_request *g = realloc(r, (size_t)cap * sizeof *r);
            if (!g)
                st = usim_fail(err, USIM_ERUNTIME, "out of memory");
            else
                r = g;
        }
        if (st != USIM_OK)
            break;
        memset(&r[n], 0, sizeof r[n]);
        r[n].arrival = v[0];
        r[n].isl = v[1];
        r[n].osl = v[2];
        r[n].line = line;
        n++;
    }
    free(text);
    if (st == USIM_OK && n == 0)
        st = usim_fail(err, USIM_EINPUT, "%s: no requests", w->trace_file);
    if (st != USIM_OK) {
        free(r);
        return st;
    }
    *out = r;
    *count = n;
    return USIM_OK;
}

int serve_replica_of(const serve_workload *w, int replicas, int64_t i)
{
    int64_t sender = w->mode == SERVE_CLOSED ? i % w->concurrency : i;
    return (int)(sender % replicas);
}

/* A closed loop's clients on replica r: client k sends to replica k mod R. */
int serve_clients_of(const serve_workload *w, int replicas, int r)
{
    return w->concurrency / replicas + (r < w->concurrency % replicas);
}

static int by_arrival(const void *a, const void *b)
{
    double x = ((const serve_request *)a)->arrival, y = ((const serve_request *)b)->arrival;
    return x < y ? -1 : x > y;
}

usim_status serve_requests(const serve_workload *w, serve_request **out, int64_t *count,
                           usim_error *err)
{
    uint64_t rng = w->seed;
    usim_status st = USIM_OK;
    if (w->mode == SERVE_TRACE) {
        st = parse_trace(w, out, count, err);
        if (st == USIM_OK)
            qsort(*out, (size_t)*count, sizeof **out, by_arrival);
    } else {
        bool paced = w->mode == SERVE_POISSON || w->mode == SERVE_CONSTANT;
        if (paced && (double)w->requests / w->rate > TRACE_ARRIVAL_MAX_S)
            return usim_fail_field(err, USIM_EINPUT, "rate",
                                   "%lld requests at %g per second arrive over %.3g s (allowed: "
                                   "requests / rate up to 10^7 s, as for a trace's arrivals)",
                                   (long long)w->requests, w->rate,
                                   (double)w->requests / w->rate);
        serve_request *r = calloc((size_t)w->requests, sizeof *r);
        if (!r)
            return usim_fail(err, USIM_ERUNTIME, "out of memory for %lld requests",
                             (long long)w->requests);
        double t = 0;
        for (int64_t i = 0; i < w->requests; i++) {
            if (w->mode == SERVE_POISSON) {
                t += -log(serve_uniform(&rng)) / w->rate;
                r[i].arrival = t;
            } else if (w->mode == SERVE_CONSTANT) {
                r[i].arrival = (double)i / w->rate;
            }
            r[i].isl = length(&rng, (double)w->isl, w->isl_spread);
            r[i].osl = length(&rng, (double)w->osl, w->osl_spread);
        }
        *out = r;
        *count = w->requests;
    }
    return st;
}
