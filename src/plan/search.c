/*
 * Plan search: the fastest (or cheapest, or least energy) parallel plan for a
 * model, a system, a chip count and a batch.
 *
 * Candidates are every combination of TP (powers of two up to the scale-up
 * domain and the heads), PP (divisors-friendly depths up to the layers), CP
 * (up to 16 from 32K tokens; up to 4 from 8K tokens when, without it, each
 * pipeline would get fewer than 2 x PP sequences a step), EP (for MoE),
 * virtual stages, micro-batch, ZeRO stage and recompute mode whose degrees
 * divide what they split. Each is first checked and sized cheaply
 * (wl_plan_check, wl_memory_per_chip); the ones that fit get a lower bound on
 * their step time (their busiest pipeline stage's compute, with no
 * communication and no waiting). They are then simulated in order of that
 * bound, on all cores, and the search stops as soon as the next bound cannot
 * beat the K-th best simulated plan: the pruning is exact, the answer the same
 * as simulating them all.
 *
 * Threads finish out of order, so a parallel search simulates a few plans a
 * single thread would have pruned (never fewer: a plan it adds scores no
 * better than the K-th best a single thread had at that point). The answer
 * is then read the way one thread would have produced it: a replay in bound
 * order keeps exactly the plans the sequential rule simulates, and ties are
 * broken by enumeration order, so the result is the same, byte for byte, on
 * any number of threads.
 */
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ultrasim/plan.h"
#include "ultrasim/train.h"

typedef struct candidate {
    wl_plan plan;
    long long index; /* enumeration order: breaks ties deterministically */
    double bound_s;
    double score; /* the objective: seconds, dollars or joules per step */
    train_result result;
    bool simulated, failed;
    bool kept; /* simulated by the sequential rule (see replay) */
} candidate;

static int powers_of_two(int limit, int *out, int max)
{
    int n = 0;
    for (int v = 1; v <= limit && n < max; v *= 2)
        out[n++] = v;
    return n;
}

/* Pipeline depths: powers of two, and the layer count's small divisors. */
static int depths(const wl_model *m, int limit, int *out, int max)
{
    int n = powers_of_two(limit, out, max);
    for (int d = 3; d <= limit && d <= m->layers && n < max; d++) {
        bool power = (d & (d - 1)) == 0;
        if (!power && m->layers % d == 0 && d <= 64)
            out[n++] = d;
    }
    return n;
}

typedef struct search {
    const wl_model *m;
    const hw_system *sys;
    plan_search_options o;
    candidate *c;
    size_t n, cap;
    size_t next;        /* next candidate (in bound order) to simulate */
    double best[64];    /* the best scores so far, sorted */
    int nbest;
    double kth_best;    /* the K-th best score so far */
    pthread_mutex_t lock;
    long long considered, pruned_fit, pruned_check;
    long long simulated; /* so far, for progress */
    long long failed;    /* simulations that refused their plan */
    long long first_failure;   /* the lowest candidate index among them, */
    char failure[768];         /* and its message: the same whatever the threads */
    char invalid[768];         /* the first candidate's reason to be invalid */
} search;

static bool push(search *s, const wl_plan *p, double bound)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        candidate *c = realloc(s->c, cap * sizeof *c);
        if (!c)
            return false;
        s->c = c;
        s->cap = cap;
    }
    memset(&s->c[s->n], 0, sizeof s->c[s->n]);
    s->c[s->n].plan = *p;
    s->c[s->n].index = (long long)s->n;
    s->c[s->n].bound_s = bound;
    s->n++;
    return true;
}

/* No step can be faster than its busiest stage's compute alone. */
static double lower_bound_s(const search *s, const wl_plan *p)
{
    return train_step_lower_bound(s->m, p, s->sys);
}

static void consider(search *s, const wl_plan *p)
{
    usim_error e;
    usim_error_clear(&e);
    s->considered++;
    if (wl_plan_check(p, s->m, s->sys->chips, &e) != USIM_OK) {
        if (s->pruned_check++ == 0)
            usim_error_format(&e, s->invalid, sizeof s->invalid);
        return;
    }
    if (wl_memory_per_chip(s->m, p).total > s->sys->chip.hbm.capacity_bytes) {
        s->pruned_fit++;
        return;
    }
    push(s, p, lower_bound_s(s, p));
}

static void enumerate(search *s)
{
    const wl_model *m = s->m;
    int tps[16], pps[64], cps[8], eps[16], vps[4] = {1, 2, 4, 8}, mbss[4] = {1, 2, 4, 8};
    int limit_tp = s->sys->default_chips < m->heads ? s->sys->default_chips : m->heads;
    int ntp = powers_of_two(limit_tp > 64 ? 64 : limit_tp, tps, 16);
    int npp = depths(m, m->layers < 128 ? m->layers : 128, pps, 64);
    int ncp = powers_of_two(s->o.plan.seq >= 32768 ? 16 : s->o.plan.seq >= 8192 ? 4 : 1, cps, 8);
    int nep = m->experts > 1 ? powers_of_two(m->experts < 64 ? m->experts : 64, eps, 16) : 1;
    if (m->experts <= 1)
        eps[0] = 1;
    for (int a = 0; a < ntp; a++)
        for (int b = 0; b < npp; b++)
            for (int c = 0; c < ncp; c++) {
                long long rest = (long long)tps[a] * pps[b] * cps[c];
                if (rest > s->sys->chips || s->sys->chips % rest != 0)
                    continue;
                /* Below 32K tokens, context parallelism is tried only when,
                 * without it, each pipeline would get fewer than 2 x PP
                 * sequences a step: too few to fill it. */
                long long dp_without = s->sys->chips / ((long long)tps[a] * pps[b]);
                if (cps[c] > 1 && s->o.plan.seq < 32768 &&
                    s->o.plan.gbs >= 2LL * pps[b] * dp_without)
                    continue;
                for (int d = 0; d < nep; d++)
                    for (int v = 0; v < 4; v++)
                        for (int mb = 0; mb < 4; mb++)
                            for (int z = 1; z <= 3; z += 2)
                                for (int r = WL_RECOMPUTE_SELECTIVE; r <= WL_RECOMPUTE_FULL; r++) {
                                    wl_plan p = s->o.plan;
                                    p.tp = tps[a];
                                    p.pp = pps[b];
                                    p.cp = cps[c];
                                    p.ep = eps[d];
                                    p.vp = vps[v];
                                    p.mbs = mbss[mb];
                                    p.dp = (int)(s->sys->chips / rest);
                                    p.zero = z;
                                    p.recompute = r;
                                    p.sp = p.tp > 1;
                                    if (p.vp > 1 && (p.pp == 1 || p.schedule == WL_SCHED_ZB_H1))
                                        continue; /* no chunks to interleave */
                                    if (z > 1 && p.dp * p.cp == 1 && wl_expert_dp(&p) == 1)
                                        continue; /* nothing to shard: ZeRO 1's plan */
                                    consider(s, &p);
                                }
            }
}

static int by_index(const candidate *x, const candidate *y)
{
    return x->index < y->index ? -1 : x->index > y->index;
}

static int by_bound(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->bound_s != y->bound_s)
        return x->bound_s < y->bound_s ? -1 : 1;
    return by_index(x, y);
}

/* Kept plans first, best score first, ties in enumeration order. */
static int by_score(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->kept != y->kept)
        return x->kept ? -1 : 1;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return by_index(x, y);
}

static double score_of(const search *s, const train_result *r)
{
    switch (s->o.objective) {
    case PLAN_OBJECTIVE_COST:
        return r->step_time_s * s->sys->chips * s->sys->price.usd_per_chip_hour / 3600;
    case PLAN_OBJECTIVE_ENERGY:
        return r->step_time_s * s->sys->chips * s->sys->chip.power_w;
    default:
        return r->step_time_s;
    }
}

/* Keeps the best K scores sorted; the K-th is the pruning threshold. */
static void record_score(search *s, double v)
{
    int k = s->o.top < 64 ? s->o.top : 64;
    if (!isfinite(v) || (s->nbest == k && v >= s->best[k - 1]))
        return;
    int j = s->nbest < k ? s->nbest++ : k - 1;
    while (j > 0 && s->best[j - 1] > v) {
        s->best[j] = s->best[j - 1];
        j--;
    }
    s->best[j] = v;
    s->kth_best = s->nbest == k ? s->best[k - 1] : INFINITY;
}

/* A candidate's bound in the objective's units. */
static double bound_score(const search *s, const candidate *c)
{
    train_result r;
    memset(&r, 0, sizeof r);
    r.step_time_s = c->bound_s;
    return score_of(s, &r);
}

static void *worker(void *arg)
{
    search *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        candidate *c = NULL;
        if (s->next < s->n && bound_score(s, &s->c[s->next]) < s->kth_best)
            c = &s->c[s->next++];
        pthread_mutex_unlock(&s->lock);
        if (!c)
            return NULL;
        usim_error e;
        usim_error_clear(&e);
        c->failed = train_step(s->m, &c->plan, s->sys, &c->result, NULL, &e) != USIM_OK;
        c->score = c->failed ? INFINITY : score_of(s, &c->result);
        pthread_mutex_lock(&s->lock);
        c->simulated = true;
        if (c->failed && (s->failed++ == 0 || c->index < s->first_failure)) {
            s->first_failure = c->index;
            snprintf(s->failure, sizeof s->failure, "%s", e.message);
        }
        if (!c->failed && c->result.fits)
            record_score(s, c->score);
        s->simulated++;
        if (s->o.progress)
            s->o.progress(s->o.progress_ctx, s->simulated, (long long)s->n);
        pthread_mutex_unlock(&s->lock);
    }
}

/* The sequential rule, replayed on the parallel run's results: in bound
 * order, a plan is kept when its bound beats the K-th best of the plans kept
 * before it. Every plan it keeps was simulated (see the top of the file). */
static long long replay(search *s)
{
    long long kept = 0;
    s->nbest = 0;
    s->kth_best = INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        candidate *c = &s->c[i];
        if (!(bound_score(s, c) < s->kth_best))
            break;
        assert(c->simulated);
        c->kept = c->simulated;
        kept += c->kept;
        if (c->kept && !c->failed && c->result.fits)
            record_score(s, c->score);
    }
    return kept;
}

static int collect(const search *s, const plan_search_options *o, plan_search_result *out)
{
    size_t top = 0;
    for (size_t i = 0; i < s->n && top < (size_t)o->top && top < PLAN_TOP_MAX; i++) {
        const candidate *c = &s->c[i];
        if (!c->kept || c->failed || !c->result.fits)
            continue;
        out->plans[top] = c->plan;
        out->results[top] = c->result;
        out->scores[top] = c->score;
        top++;
    }
    return (int)top;
}

usim_status plan_search(const wl_model *m, const hw_system *sys, const plan_search_options *o,
                        plan_search_result *out, usim_error *err)
{
    search s;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    s.m = m;
    s.sys = sys;
    s.o = *o;
    /* A plan with no stack runs the system's own. */
    if (!s.o.plan.stack.name[0]) {
        usim_status st = wl_stack_load(wl_default_stack(sys), &s.o.plan.stack, err);
        if (st != USIM_OK)
            return st;
        wl_plan_stack_defaults(&s.o.plan, m);
    }
    s.kth_best = INFINITY;
    pthread_mutex_init(&s.lock, NULL);
    enumerate(&s);
    if (s.n > 0)
        qsort(s.c, s.n, sizeof *s.c, by_bound);
    /* Candidates in bound order until none left can beat the K-th best. */
    plan_run_pool(worker, &s, o->jobs);
    pthread_mutex_destroy(&s.lock);
    out->simulated = replay(&s);
    if (s.n > 0)
        qsort(s.c, s.n, sizeof *s.c, by_score);
    out->considered = s.considered;
    out->invalid = s.pruned_check;
    out->too_big = s.pruned_fit;
    out->feasible = (long long)s.n;
    out->count = collect(&s, o, out);
    free(s.c);
    if (out->count == 0 && s.failed > 0)
        return usim_fail(err, USIM_EINPUT,
                         "no plan runs: %lld candidates, %lld invalid for this model, %lld too "
                         "big for %.0f GiB per chip, %lld refused by the simulation (the "
                         "first: %s)",
                         s.considered, s.pruned_check, s.pruned_fit,
                         sys->chip.hbm.capacity_bytes / (1024.0 * 1024 * 1024), s.failed,
                         s.failure);
    if (out->count == 0 && s.pruned_fit == 0)
        return usim_fail(err, USIM_EINPUT,
                         "no plan is valid: %lld candidates, every one invalid for this model "
                         "on %d chips (the first: %s); 'train' takes a plan the search does "
                         "not try (uneven pipeline stages, any TP)",
                         s.considered, sys->chips, s.invalid);
    if (out->count == 0)
        return usim_fail(err, USIM_EINPUT,
                         "no plan fits: %lld candidates, %lld invalid for this model, %lld too "
                         "big for %.0f GiB per chip; add chips or shorten --seq/--gbs",
                         s.considered, s.pruned_check, s.pruned_fit,
                         sys->chip.hbm.capacity_bytes / (1024.0 * 1024 * 1024));
    return USIM_OK;
}
