/*
 * `plan --serve`: the deployments of a model on N chips, searched for the
 * most output tokens per second per chip (or per dollar, or per joule) whose
 * latency stays within an SLA, and the Pareto front of throughput per chip
 * against speed per user.
 *
 * A deployment is a worker (TP x PP chips) in a weight type, aggregated
 * (every replica prefills and decodes; N / worker replicas) or disaggregated
 * (some replicas prefill, the rest decode, the KV cache sent between). Each
 * runs as the serve command runs it: first one request at a time (its
 * latency alone), then under Poisson arrivals at the rates that would keep
 * 2, 4, 8, ... requests in flight per decoding replica by Little's law
 * (rate = in flight / latency alone), until the SLA breaks or throughput
 * stops rising. Replicas are independent under an even load, so the
 * smallest system of the same shape is simulated (one aggregated replica;
 * prefill and decode replicas divided by their greatest common divisor) and
 * its rate per chip is the system's. "Within the SLA" is TTFT p90 and TPOT
 * p90 within their bounds.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/serve_plan.h"
#include "ultrasim/serve.h"

#define MAX_POINTS 4096

/* One deployment at one concurrency. */
typedef struct point {
    int tp, pp, replicas, prefill, weights, concurrency;
    double alone_s; /* disaggregated: one request's time through the worker alone */
    double per_chip, per_user, ttft_p90, tpot_p50, tpot_p90, usd_per_mtok, joule_per_token;
    bool within;
} point;

typedef struct search {
    json_t *base; /* the serve request every candidate starts from */
    int chips;
    int64_t osl;
    double slo_ttft, slo_tpot;
    int objective; /* 0 per chip, 1 per dollar, 2 per joule */
    point *points;
    int npoints, runs, refused;
    usim_error first_refusal;
    usim_error *err;
} search;

static const char *const WEIGHT_NAMES[] = {"bf16", "fp8", "int8", "fp16", "int4", "mxfp4", "nvfp4"};

static double score(const search *s, const point *p)
{
    if (s->objective == 1)
        return p->usd_per_mtok > 0 ? 1.0 / p->usd_per_mtok : 0;
    if (s->objective == 2)
        return p->joule_per_token > 0 ? 1.0 / p->joule_per_token : 0;
    return p->per_chip;
}

static bool within(const search *s, double ttft_p90, double tpot_p90)
{
    return (!(s->slo_ttft > 0) || ttft_p90 <= s->slo_ttft) &&
           (!(s->slo_tpot > 0) || !(tpot_p90 > s->slo_tpot));
}

/* One worker shape (TP x PP in a weight type) explored: its aggregated and
 * disaggregated ladders. Workers are explored on several threads, each
 * into its own unit, and merged in order, so the answer does not depend on
 * the thread count. */
#define UNIT_POINTS 64

typedef struct unit {
    const search *s;
    int tp, pp, weights;
    point points[UNIT_POINTS];
    int n, runs, refused;
    usim_status st;
    usim_error err;
    usim_error first_refusal; /* why the first deployment that did not run did not */
} unit;

/* Runs the serve command on one candidate; false when the deployment
 * cannot run (does not divide, fit or compute in its type). */
static bool run_point(unit *u, point *p)
{
    json_t *req = json_deep_copy(u->s->base);
    int chips = p->tp * p->pp * p->replicas;
    int clients = p->concurrency * (p->prefill > 0 ? p->replicas - p->prefill : 1);
    json_object_set_new(req, "chips", json_integer(chips));
    json_object_set_new(req, "tp", json_integer(p->tp));
    json_object_set_new(req, "pp", json_integer(p->pp));
    json_object_set_new(req, "replicas", json_integer(p->replicas));
    json_object_set_new(req, "weights", json_string(WEIGHT_NAMES[p->weights]));
    json_object_set_new(req, "requests", json_integer(clients * 10 + 40));
    if (p->prefill > 0) {
        json_object_set_new(req, "scheduler", json_string("disagg"));
        json_object_set_new(req, "prefill-replicas", json_integer(p->prefill));
    }
    if (p->alone_s > 0) {
        json_object_set_new(req, "mode", json_string("poisson"));
        json_object_set_new(req, "rate", json_real(clients / p->alone_s));
    } else {
        json_object_set_new(req, "concurrency", json_integer(clients));
    }
    json_t *res = NULL;
    usim_error e;
    usim_error_clear(&e);
    usim_status rs = api_run(req, &res, &e);
    json_decref(req);
    u->runs++;
    if (rs == USIM_ERUNTIME && u->st == USIM_OK) {
        u->st = rs;
        u->err = e;
    }
    if (rs == USIM_EINPUT && !u->first_refusal.message[0])
        u->first_refusal = e;
    if (rs != USIM_OK)
        return false;
    p->per_chip = api_number(res, "output_tokens_per_s") / chips;
    p->ttft_p90 = api_number(res, "ttft_p90_s");
    p->tpot_p50 = api_number(res, "tpot_p50_s");
    p->tpot_p90 = api_number(res, "tpot_p90_s");
    p->per_user = p->tpot_p50 > 0 ? 1.0 / p->tpot_p50 : NAN;
    p->usd_per_mtok = api_number(res, "cost_per_mtok_usd");
    p->joule_per_token = api_number(res, "energy_per_token_j");
    p->within = within(u->s, p->ttft_p90, p->tpot_p90);
    json_decref(res);
    return u->n < UNIT_POINTS;
}

/* The ladder of one deployment from `from` requests in flight: up until the
 * SLA breaks, the engine's batch is reached, or throughput stops rising
 * (under 3%). */
static void climb(unit *u, point proto, int from, int max_batch)
{
    double last = 0;
    for (int c = from; c <= max_batch && u->st == USIM_OK; c *= 2) {
        point p = proto;
        p.concurrency = c;
        if (!run_point(u, &p)) {
            u->refused += c == from;
            break;
        }
        u->points[u->n++] = p;
        if (!p.within || p.per_chip < 1.03 * last)
            break;
        last = p.per_chip;
    }
}

#define MAX_BATCH 512

/* A worker: alone (one request at a time), its aggregated ladder, and
 * disaggregated with a quarter and with half of the replicas prefilling. */
static void explore(unit *u)
{
    int r = u->s->chips / (u->tp * u->pp);
    point agg = {.tp = u->tp, .pp = u->pp, .replicas = 1, .weights = u->weights,
                 .concurrency = 1};
    if (!run_point(u, &agg)) { /* the worker cannot run */
        u->refused++;
        return;
    }
    u->points[u->n++] = agg;
    agg.alone_s = agg.ttft_p90 + (agg.tpot_p50 > 0 ? agg.tpot_p50 : 0) * (double)u->s->osl;
    climb(u, agg, 2, MAX_BATCH);
    for (int k = 4; k >= 2 && r >= 2; k /= 2) {
        int prefill = r / k > 0 ? r / k : 1;
        if (k == 2 && prefill == (r / 4 > 0 ? r / 4 : 1))
            continue;
        int g = (int)usim_gcd(prefill, r - prefill);
        point dis = agg;
        dis.replicas = r / g;
        dis.prefill = prefill / g;
        climb(u, dis, 1, MAX_BATCH);
    }
}

typedef struct queue {
    unit *units;
    int n, next;
    pthread_mutex_t lock;
} queue;

static void *work(void *arg)
{
    queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        int i = q->next++;
        pthread_mutex_unlock(&q->lock);
        if (i >= q->n)
            return NULL;
        explore(&q->units[i]);
    }
}

static usim_status deployments(search *s, int domain, const int *weights, int nw)
{
    int cap = nw * 64, n = 0;
    unit *units = calloc((size_t)cap, sizeof *units);
    if (!units)
        return usim_fail(s->err, USIM_ERUNTIME, "out of memory");
    for (int w = 0; w < nw; w++)
        for (int tp = 1; tp <= domain && tp <= s->chips; tp *= 2)
            for (int pp = 1; tp * pp <= s->chips && pp <= 8 && n < cap; pp *= 2)
                if (s->chips % (tp * pp) == 0)
                    units[n++] = (unit){.s = s, .tp = tp, .pp = pp, .weights = weights[w]};
    queue q = {units, n, 0, PTHREAD_MUTEX_INITIALIZER};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 1 ? (int)(cores < 8 ? cores : 8) : 1;
    pthread_t t[8];
    int started = 0;
    while (started + 1 < threads && pthread_create(&t[started], NULL, work, &q) == 0)
        started++;
    work(&q);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    usim_status st = USIM_OK;
    for (int i = 0; i < n && st == USIM_OK; i++) {
        const unit *u = &units[i];
        if (u->st != USIM_OK) {
            *s->err = u->err;
            st = u->st;
        }
        for (int k = 0; k < u->n && s->npoints < MAX_POINTS; k++)
            s->points[s->npoints++] = u->points[k];
        s->runs += u->runs;
        s->refused += u->refused;
        if (!s->first_refusal.message[0])
            s->first_refusal = u->first_refusal;
    }
    free(units);
    /* refused for an option the run gave (a prompt past its largest bucket,
     * past --max-model-len): that option is the mistake, which no chips fix */
    const char *field = s->first_refusal.field;
    if (st == USIM_OK && s->npoints == 0 && field[0] && json_object_get(s->base, field)) {
        *s->err = s->first_refusal;
        return USIM_EINPUT;
    }
    if (st == USIM_OK && s->npoints == 0)
        st = usim_fail(s->err, USIM_EINPUT,
                       "no deployment runs on %d chip%s: all %d refused (add chips); the first: %s",
                       s->chips, s->chips == 1 ? "" : "s", s->refused,
                       s->first_refusal.message);
    return st;
}

/* ---- the answer ----------------------------------------------------------- */

static json_t *point_json(const point *p)
{
    return api_pack("{s:i, s:i, s:i, s:i, s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b}",
                    "tp", p->tp, "pp", p->pp, "replicas", p->replicas, "prefill_replicas",
                    p->prefill, "weights", WEIGHT_NAMES[p->weights], "serving",
                    p->prefill > 0 ? "disaggregated" : "aggregated", "concurrency",
                    p->concurrency, "output_tokens_per_s_per_chip", p->per_chip,
                    "tokens_per_s_per_user", p->per_user, "ttft_p90_s", p->ttft_p90,
                    "tpot_p50_s", p->tpot_p50, "tpot_p90_s", p->tpot_p90, "cost_per_mtok_usd",
                    p->usd_per_mtok, "energy_per_token_j", p->joule_per_token, "within_sla",
                    p->within);
}

static bool same_deployment(const point *a, const point *b)
{
    return a->tp == b->tp && a->pp == b->pp && a->replicas == b->replicas &&
           a->prefill == b->prefill && a->weights == b->weights;
}

/* Each deployment's best point within the SLA, best first. */
static json_t *ranked(const search *s, int top)
{
    int *best = malloc((size_t)(s->npoints + 1) * sizeof *best), n = 0;
    for (int i = 0; best && i < s->npoints; i++) {
        const point *p = &s->points[i];
        if (!p->within)
            continue;
        int k = 0;
        while (k < n && !same_deployment(&s->points[best[k]], p))
            k++;
        if (k == n)
            best[n++] = i;
        else if (score(s, p) > score(s, &s->points[best[k]]))
            best[k] = i;
    }
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen deployments */
        for (int j = i; j > 0 && score(s, &s->points[best[j]]) > score(s, &s->points[best[j - 1]]);
             j--) {
            int t = best[j];
            best[j] = best[j - 1];
            best[j - 1] = t;
        }
    json_t *rows = json_array();
    for (int i = 0; i < n && i < top; i++)
        json_array_append_new(rows, point_json(&s->points[best[i]]));
    free(best);
    return rows;
}

/* Points no other beats on both throughput per chip and speed per user,
 * fastest per user first. */
static json_t *pareto(const search *s)
{
    json_t *front = json_array();
    int *keep = malloc((size_t)(s->npoints + 1) * sizeof *keep), n = 0;
    for (int i = 0; keep && i < s->npoints; i++) {
        const point *p = &s->points[i];
        bool beaten = !(p->per_user > 0);
        for (int j = 0; j < s->npoints && !beaten; j++) {
            const point *q = &s->points[j];
            beaten = j != i && q->per_chip >= p->per_chip && q->per_user >= p->per_user &&
                     (q->per_chip > p->per_chip || q->per_user > p->per_user || j < i);
        }
        if (!beaten)
            keep[n++] = i;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s->points[keep[j]].per_user > s->points[keep[j - 1]].per_user;
             j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        json_array_append_new(front, point_json(&s->points[keep[i]]));
    free(keep);
    return front;
}

#define WEIGHT_LIST "bf16, fp8, int8, fp16, int4, mxfp4, nvfp4, comma-separated"

static usim_status read_weights(const usim_command *cmd, json_t *req, const hw_system *sys,
                                int *weights, int *n, usim_error *err)
{
    const char *list = NULL;
    api_string(cmd, req, "weights", &list, err);
    *n = 0;
    if (!list) { /* 16-bit, and FP8 where the matrix units run it */
        weights[(*n)++] = SERVE_W_BF16;
        if (hw_per_dtype_get(&sys->chip.dense_flops, USIM_FP8) > 0)
            weights[(*n)++] = SERVE_W_FP8;
        return USIM_OK;
    }
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    bool listed[SERVE_W_COUNT] = {false};
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < SERVE_W_COUNT && strcmp(t, WEIGHT_NAMES[k]) != 0)
            k++;
        if (k == SERVE_W_COUNT)
            return usim_fail_field(err, USIM_EINPUT, "weights",
                                   "'%s' is not a weight type (allowed: " WEIGHT_LIST ")", t);
        if (k == SERVE_W_NVFP4 && api_check_fp4(&sys->chip, err) != USIM_OK)
            return USIM_EINPUT;
        if (!listed[k]) /* a type named twice is searched once */
            weights[(*n)++] = k;
        listed[k] = true;
    }
    if (*n == 0)
        return usim_fail_field(err, USIM_EINPUT, "weights",
                               "'%s' names no weight type (allowed: " WEIGHT_LIST ")", list);
    return USIM_OK;
}

/* The serve request each candidate starts from: the plan's model, system,
 * network, engine and request shape, closed loop. */
static json_t *base_request(json_t *req)
{
    static const char *const KEYS[] = {"model", "hw",  "network",       "engine",
                                       "isl",   "osl", "max-model-len", "prefill-buckets",
                                       NULL};
    json_t *base = json_pack("{s:s, s:s}", "command", "serve", "mode", "closed");
    for (int i = 0; KEYS[i]; i++) {
        json_t *v = json_object_get(req, KEYS[i]);
        if (v)
            json_object_set_new(base, KEYS[i], json_deep_copy(v));
    }
    return base;
}

/* The engine and bucket list every candidate shares, checked once: they are
 * the run's mistake (exit 2), not deployments that do not run. */
static usim_status check_shared(const usim_command *cmd, json_t *req, const wl_model *m,
                                const hw_system *sys, usim_error *err)
{
    serve_deployment *d = calloc(1, sizeof *d);
    if (!d)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = api_load_engine(cmd, req, sys, &d->engine, err);
    d->model = *m;
    d->max_model_len = (int)api_next_int(cmd, req, "max-model-len", 0, &st, err);
    if (st == USIM_OK)
        st = api_read_prefill_buckets(cmd, req, d, err);
    free(d);
    return st;
}

usim_status api_serve_plan(const usim_command *cmd, json_t *req, json_t **result,
                           usim_error *err)
{
    static const char *const OBJECTIVES[] = {"throughput per chip", "cost", "energy"};
    wl_model *m = malloc(sizeof *m);
    hw_system *sys = malloc(sizeof *sys);
    search s;
    memset(&s, 0, sizeof s);
    s.err = err;
    s.points = malloc(MAX_POINTS * sizeof *s.points);
    int weights[SERVE_W_COUNT], nw = 0;
    usim_status st = m && sys && s.points ? api_load_model(cmd, req, m, err)
                                          : usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = api_load_system(cmd, req, sys, err);
    s.osl = api_next_int(cmd, req, "osl", 256, &st, err);
    s.slo_ttft = api_next_quantity(cmd, req, "slo-ttft", 0, &st, err);
    s.slo_tpot = api_next_quantity(cmd, req, "slo-tpot", 0, &st, err);
    int64_t top = api_next_int(cmd, req, "top", 5, &st, err);
    s.objective = api_next_choice(cmd, req, "objective", &st, err);
    if (st == USIM_OK && s.osl < 2)
        st = usim_fail_field(err, USIM_EINPUT, "osl",
                             "%lld leaves no time per output token, the speed per user the "
                             "Pareto front ranks (allowed: 2 or more)",
                             (long long)s.osl);
    if (st == USIM_OK && s.objective == 1 && !isfinite(sys->price.usd_per_chip_hour))
        st = usim_fail_field(err, USIM_EINPUT, "objective",
                             "cost needs a price: %s has no price.usd_per_chip_hour",
                             sys->name);
    if (st == USIM_OK)
        st = read_weights(cmd, req, sys, weights, &nw, err);
    if (st == USIM_OK)
        st = check_shared(cmd, req, m, sys, err);
    if (st == USIM_OK) {
        s.chips = sys->chips;
        s.base = base_request(req);
        int domain = sys->default_chips > 0 ? sys->default_chips : sys->chips;
        st = deployments(&s, domain, weights, nw);
    }
    if (st == USIM_OK) {
        json_t *rows = ranked(&s, (int)top);
        *result = api_pack("{s:s, s:s, s:i, s:f, s:f, s:s, s:o, s:o, s:i, s:i, s:i}", "model",
                           m->name, "hw", sys->name, "chips", sys->chips, "slo_ttft_s",
                           s.slo_ttft > 0 ? s.slo_ttft : NAN, "slo_tpot_s",
                           s.slo_tpot > 0 ? s.slo_tpot : NAN, "objective",
                           OBJECTIVES[s.objective], "deployments", rows, "pareto", pareto(&s),
                           "simulated", s.runs, "points", s.npoints, "refused", s.refused);
        if (!(s.slo_ttft > 0))
            json_object_set_new(*result, "slo_ttft_s_reason", json_string("no --slo-ttft given"));
        if (!(s.slo_tpot > 0))
            json_object_set_new(*result, "slo_tpot_s_reason", json_string("no --slo-tpot given"));
        api_system_warnings(*result, sys);
    }
    json_decref(s.base);
    free(s.points);
    free(m);
    free(sys);
    return st;
}

/* ---- text ------------------------------------------------------------------- */

static void render_rows(usim_buf *b, json_t *rows)
{
    size_t i;
    json_t *p;
    usim_buf_printf(b, "  #  %-13s %3s %3s %8s %-6s %4s %12s %10s %10s %10s\n", "serving", "TP",
                    "PP", "replicas", "type", "conc", "tok/s/chip", "tok/s/user", "TTFT p90",
                    "TPOT p90");
    json_array_foreach(rows, i, p)
    {
        char ttft[32], tpot[32], reps[16];
        usim_format_quantity(api_number(p, "ttft_p90_s"), USIM_UNIT_SECONDS, ttft, sizeof ttft);
        usim_format_quantity(api_number(p, "tpot_p90_s"), USIM_UNIT_SECONDS, tpot, sizeof tpot);
        if (api_number(p, "prefill_replicas") > 0)
            snprintf(reps, sizeof reps, "%.0fP+%.0fD", api_number(p, "prefill_replicas"),
                     api_number(p, "replicas") - api_number(p, "prefill_replicas"));
        else
            snprintf(reps, sizeof reps, "each");
        usim_buf_printf(b, " %2zu  %-13s %3.0f %3.0f %8s %-6s %4.0f %12.1f %10.1f %10s %10s%s\n",
                        i + 1, json_string_value(json_object_get(p, "serving")),
                        api_number(p, "tp"), api_number(p, "pp"), reps,
                        json_string_value(json_object_get(p, "weights")),
                        api_number(p, "concurrency"), api_number(p, "output_tokens_per_s_per_chip"),
                        api_number(p, "tokens_per_s_per_user"), ttft, tpot,
                        json_is_true(json_object_get(p, "within_sla")) ? "" : "  (past the SLA)");
    }
}

usim_status api_serve_plan_render(json_t *res, usim_buf *b, usim_error *err)
{
    char ttft[40], tpot[40];
    (void)err;
    api_text_value(res, "slo_ttft_s", USIM_UNIT_SECONDS, ttft, sizeof ttft);
    api_text_value(res, "slo_tpot_s", USIM_UNIT_SECONDS, tpot, sizeof tpot);
    usim_buf_printf(b,
                    "Deployments of %s on %.0f x %s by %s, within TTFT p90 %s and TPOT p90 %s: "
                    "%.0f runs simulated, %.0f deployments refused (do not divide, fit or run)\n\n",
                    json_string_value(json_object_get(res, "model")), api_number(res, "chips"),
                    json_string_value(json_object_get(res, "hw")),
                    json_string_value(json_object_get(res, "objective")), ttft, tpot,
                    api_number(res, "simulated"), api_number(res, "refused"));
    json_t *rows = json_object_get(res, "deployments");
    if (json_array_size(rows) == 0)
        usim_buf_puts(b, "  no deployment meets the SLA (the Pareto front below shows the "
                         "closest)\n");
    else
        render_rows(b, rows);
    usim_buf_puts(b, "\nPareto front: throughput per chip against speed per user (conc: requests "
                     "in flight per decoding replica)\n");
    render_rows(b, json_object_get(res, "pareto"));
    return USIM_OK;
}
