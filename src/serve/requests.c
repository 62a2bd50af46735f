/*
 * The requests a workload sends: how many, when, how long.
 *
 *   offline   every request at time 0 (trtllm-bench style)
 *   static    the same, served as fixed batches
 *   closed    `concurrency` clients, each sending its next request as soon
 *             as the last one finished (LLMPerf style); arrival times are
 *             set by the simulation
 *   poisson   arrivals at `rate` per second, exponential gaps
 *   trace     a CSV of arrival_s,input_tokens,output_tokens
 *
 * Lengths are fixed, or uniform within +- spread of the mean. Requests go to
 * replicas round-robin. Everything is seeded: the same seed, the same run.
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

static usim_status parse_trace(const serve_workload *w, serve_request **out, int64_t *count,
                               usim_error *err)
{
    char *text = NULL;
    usim_status st = usim_read_file(w->trace_file, &text, NULL, err);
    if (st != USIM_OK)
        return st;
    int64_t cap = 1024, n = 0;
    serve_request *r = malloc((size_t)cap * sizeof *r);
    int line = 0;
    for (char *p = text, *next; st == USIM_OK && p && *p; p = next) {
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        line++;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#' || (line == 1 && isalpha((unsigned char)*p)))
            continue; /* blank, comment or header */
        double a, in, o;
        char extra;
        if (sscanf(p, "%lf , %lf , %lf %c", &a, &in, &o, &extra) != 3 || !(a >= 0) ||
            !(in >= 1) || !(o >= 1) || in > 1e7 || o > 1e7) {
            st = usim_fail(err, USIM_EINPUT,
                           "%s:%d: expected arrival_s,input_tokens,output_tokens with arrival >= "
                           "0 and 1 to 10^7 tokens, got '%.60s'",
                           w->trace_file, line, p);
            break;
        }
        if (n == cap) {
            cap *= 2;
            serve_request *g = realloc(r, (size_t)cap * sizeof *r);
            if (!g) {
                st = usim_fail(err, USIM_ERUNTIME, "out of memory");
                break;
            }
            r = g;
        }
        memset(&r[n], 0, sizeof r[n]);
        r[n].arrival = a;
        r[n].isl = in;
        r[n].osl = o;
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

static int by_arrival(const void *a, const void *b)
{
    double x = ((const serve_request *)a)->arrival, y = ((const serve_request *)b)->arrival;
    return x < y ? -1 : x > y;
}

usim_status serve_requests(const serve_workload *w, int replicas, serve_request **out,
                           int64_t *count, usim_error *err)
{
    uint64_t rng = w->seed;
    usim_status st = USIM_OK;
    if (w->mode == SERVE_TRACE) {
        st = parse_trace(w, out, count, err);
        if (st == USIM_OK)
            qsort(*out, (size_t)*count, sizeof **out, by_arrival);
    } else {
        serve_request *r = calloc((size_t)w->requests, sizeof *r);
        if (!r)
            return usim_fail(err, USIM_ERUNTIME, "out of memory for %lld requests",
                             (long long)w->requests);
        double t = 0;
        for (int64_t i = 0; i < w->requests; i++) {
            if (w->mode == SERVE_POISSON) {
                t += -log(serve_uniform(&rng)) / w->rate;
                r[i].arrival = t;
            }
            r[i].isl = length(&rng, (double)w->isl, w->isl_spread);
            r[i].osl = length(&rng, (double)w->osl, w->osl_spread);
        }
        *out = r;
        *count = w->requests;
    }
    for (int64_t i = 0; st == USIM_OK && i < *count; i++)
        (*out)[i].replica = (int)(i % replicas);
    return st;
}
