/*
 * The flow-level model. Every transfer of a plan is a flow over the links of
 * its route; links are shared max-min fairly, by progressive filling
 * (Bertsekas and Gallager, Data Networks, 6.5.2; the fluid model SimGrid
 * validated against packet simulation): all unfrozen flows grow at one rate
 * until a link fills; the flows crossing it freeze at that rate; repeat. The
 * rates are recomputed at every flow start and finish, so concurrent groups,
 * other collectives, oversubscribed spines and hot links shape the time.
 *
 * The flows of one step of one group are coupled: an algorithm step waits
 * for its slowest transfer (a ring's next step needs the previous one's
 * data), so they advance together as one coflow with a rate per flow and a
 * weight per link (flows on it x their share of the route). Fairness is per
 * flow: a coflow with 3 flows on a link gets 3 shares of it. A ring's
 * 2(p-1) identical steps are one coflow carrying their sum, with the
 * latency of every step charged before it starts (exact when nothing else
 * changes during the ring; otherwise the steps' latencies would interleave).
 *
 * Each group runs its own phases in order: phase k+1 starts latency(k+1)
 * after the last coflow of phase k finishes. Groups do not wait for each
 * other, so a group on a hot pod finishes late and the others do not.
 *
 * Symmetry: groups confined to one scale-up domain, with every domain
 * holding the same groups, see identical links and identical contention, so
 * the groups of domain 0 are simulated once for all (exact). Not used when
 * groups span domains (their pods differ) or several collectives run at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

#define MAX_JOBS 16

/* ---- links, by local id ------------------------------------------------ */

typedef struct links {
    const net_topo *t;
    int32_t *local_of; /* global id -> local id + 1 */
    int64_t *global;
    double *cap, *frozen, *wsum, *bytes, *job_bytes, *accum;
    int32_t *nunf, *version, *slot;
    int njobs;
    int64_t n, capacity;
} links;

static bool grow(void **p, size_t elem, int64_t count)
{
    void *q = realloc(*p, elem * (size_t)count);
    if (!q)
        return false;
    *p = q;
    return true;
}

static bool links_reserve(links *L, int64_t need)
{
    if (need <= L->capacity)
        return true;
    int64_t c = L->capacity ? L->capacity : 1024;
    while (c < need)
        c *= 2;
    bool ok = grow((void **)&L->global, sizeof(int64_t), c) &&
              grow((void **)&L->cap, sizeof(double), c) &&
              grow((void **)&L->frozen, sizeof(double), c) &&
              grow((void **)&L->wsum, sizeof(double), c) &&
              grow((void **)&L->bytes, sizeof(double), c) &&
              grow((void **)&L->accum, sizeof(double), c) &&
              grow((void **)&L->job_bytes, sizeof(double) * (size_t)L->njobs, c) &&
              grow((void **)&L->nunf, sizeof(int32_t), c) &&
              grow((void **)&L->version, sizeof(int32_t), c) &&
              grow((void **)&L->slot, sizeof(int32_t), c);
    if (ok)
        L->capacity = c;
    return ok;
}

/* The local id of a global link, added on first use; -1 when out of memory. */
static int64_t links_local(links *L, int64_t global)
{
    int32_t v = L->local_of[global];
    if (v)
        return v - 1;
    if (!links_reserve(L, L->n + 1))
        return -1;
    int64_t i = L->n++;
    L->local_of[global] = (int32_t)(i + 1);
    L->global[i] = global;
    L->cap[i] = net_link_capacity(L->t, global);
    L->frozen[i] = L->wsum[i] = L->bytes[i] = L->accum[i] = 0.0;
    memset(L->job_bytes + i * L->njobs, 0, sizeof(double) * (size_t)L->njobs);
    L->nunf[i] = L->version[i] = L->slot[i] = 0;
    return i;
}

static void links_free(links *L)
{
    free(L->local_of);
    free(L->global);
    free(L->cap);
    free(L->frozen);
    free(L->wsum);
    free(L->bytes);
    free(L->job_bytes);
    free(L->accum);
    free(L->nunf);
    free(L->version);
    free(L->slot);
}

/* ---- coflows ------------------------------------------------------------ */

typedef struct coflow {
    int stream;
    double bytes, remaining, rate;
    int32_t *lk;
    double *w;
    int n;
    int32_t bneck;
    bool frozen, active;
} coflow;

typedef struct stream {
    int job;
    int64_t group;
    int phase;
    bool waiting, done;
    double wake, phase_start, end;
    int running;
    int32_t last_bneck;
    double tier_s[NET_TIER_COUNT];
} stream;

typedef struct job_state {
    const net_plan *plan;
    const net_request *rq;
    double start;
    int64_t simulated, copies;
    int first_stream, nstreams;
    double bytes_injected, link_bytes;
    int64_t flows;
} job_state;

typedef struct sim {
    const net_topo *t;
    links L;
    job_state jobs[MAX_JOBS];
    int njobs;
    stream *st;
    int nst;
    coflow *cf;
    int ncf, cfcap;
    int *active;
    int nactive;
    /* building one coflow */
    int32_t *touched;
    int64_t ntouched, touchcap;
    double weight;
    bool oom;
    int cur_job;
    net_ringgeo geo;
    /* rate computation scratch */
    int32_t *rt, *csr_start, *csr;
    int64_t rt_cap, csr_cap;
    struct heap_e {
        double level;
        int32_t link, version;
    } * heap;
    int64_t heap_n, heap_cap;
    double peak;
    double now;
} sim;

static void touch(void *ctx, int64_t global, double fraction)
{
    sim *S = ctx;
    int64_t i = links_local(&S->L, global);
    if (i < 0) {
        S->oom = true;
        return;
    }
    if (S->L.accum[i] == 0.0) {
        if (S->ntouched == S->touchcap) {
            int64_t c = S->touchcap ? 2 * S->touchcap : 4096;
            if (!grow((void **)&S->touched, sizeof(int32_t), c)) {
                S->oom = true;
                return;
            }
            S->touchcap = c;
        }
        S->touched[S->ntouched++] = (int32_t)i;
    }
    S->L.accum[i] += S->weight * fraction;
}

static void sink_flow(void *ctx, int64_t src, int64_t dst, double weight)
{
    sim *S = ctx;
    S->weight = weight;
    S->jobs[S->cur_job].flows += (int64_t)(weight + 0.5); /* a weight counts flows */
    net_route(S->t, src, dst, touch, S);
}

static void sink_bulk(void *ctx, int64_t src, int64_t count, double weight)
{
    sim *S = ctx;
    S->weight = weight * (double)count;
    S->jobs[S->cur_job].flows += count;
    touch(S, S->t->base_nic + 2 * src, 1.0);
}

/* Members of s inside chips [lo, hi). */
static int64_t members_in(const net_sub *s, int64_t lo, int64_t hi)
{
    int64_t a = lo - s->base, b = hi - s->base;
    int64_t j0 = a <= 0 ? 0 : (a + s->stride - 1) / s->stride;
    int64_t j1 = b <= 0 ? 0 : (b + s->stride - 1) / s->stride;
    if (j1 > s->size)
        j1 = s->size;
    return j1 > j0 ? j1 - j0 : 0;
}

static void add_weight(sim *S, int64_t global, double w)
{
    S->weight = w;
    touch(S, global, 1.0);
}

/* The cross-domain part of an all-pairs step, aggregated: every member
 * receives from the members outside its domain; pod q's uplink and
 * downlink carry (members in q) x (members outside q). */
static void allpairs_cross(sim *S, const net_sub *s)
{
    const net_topo *t = S->t;
    if (s->domains < 2)
        return;
    for (int64_t j = 0; j < s->size; j++)
        add_weight(S, t->base_nic + 2 * net_member_chip(s, j) + 1,
                   (double)(s->size - net_domain_count(s, j)));
    for (int l = 1; l < t->tiers; l++) {
        int64_t P = t->pod[l];
        int64_t first = net_member_chip(s, 0) / P, last = net_member_chip(s, s->size - 1) / P;
        for (int64_t q = first; q <= last; q++) {
            int64_t in = members_in(s, q * P, (q + 1) * P);
            if (in == 0 || in == s->size)
                continue;
            /* a pod inside a domain reaches the rest of its domain without the Clos */
            int64_t j = q * P > s->base ? (q * P - s->base + s->stride - 1) / s->stride : 0;
            int64_t outside = P >= t->dc ? s->size - in : s->size - net_domain_count(s, j);
            double w = (double)in * (double)outside;
            add_weight(S, t->base_clos[l] + 2 * q, w);
            add_weight(S, t->base_clos[l] + 2 * q + 1, w);
        }
    }
}

/* The cross-domain part of a fan-out from member 0. */
static void fanout_cross(sim *S, const net_sub *s)
{
    const net_topo *t = S->t;
    if (s->domains < 2)
        return;
    int64_t root = net_member_chip(s, 0);
    for (int64_t j = s->m_dom; j < s->size; j++)
        add_weight(S, t->base_nic + 2 * net_member_chip(s, j) + 1, 1.0);
    for (int l = 1; l < t->tiers; l++) {
        int64_t P = t->pod[l], rq = root / P;
        int64_t first = rq, last = net_member_chip(s, s->size - 1) / P;
        int64_t out = P >= t->dc ? s->size - members_in(s, rq * P, (rq + 1) * P)
                                 : s->size - s->m_dom;
        if (out > 0)
            add_weight(S, t->base_clos[l] + 2 * rq, (double)out);
        for (int64_t q = first + 1; q <= last; q++) {
            if (q * P / t->dc == root / t->dc)
                continue; /* the root's own domain: reached without the Clos */
            int64_t in = members_in(s, q * P, (q + 1) * P);
            if (in > 0)
                add_weight(S, t->base_clos[l] + 2 * q + 1, (double)in);
        }
    }
}

/* ---- building a phase's coflows ----------------------------------------- */

static bool add_coflow(sim *S, int stream_index, double bytes, int64_t flows_before)
{
    job_state *J = &S->jobs[S->cur_job];
    double copies = (double)J->copies;
    J->bytes_injected += (double)(J->flows - flows_before) * bytes * copies;
    if (S->ntouched == 0)
        return true;
    if (S->ncf == S->cfcap) {
        int c = S->cfcap ? 2 * S->cfcap : 256;
        if (!grow((void **)&S->cf, sizeof(coflow), c) || !grow((void **)&S->active, sizeof(int), c))
            return false;
        S->cfcap = c;
    }
    coflow *f = &S->cf[S->ncf];
    memset(f, 0, sizeof *f);
    f->lk = malloc(sizeof(int32_t) * (size_t)S->ntouched);
    f->w = malloc(sizeof(double) * (size_t)S->ntouched);
    if (!f->lk || !f->w) {
        free(f->lk);
        free(f->w);
        return false;
    }
    f->n = (int)S->ntouched;
    for (int64_t i = 0; i < S->ntouched; i++) {
        int32_t l = S->touched[i];
        f->lk[i] = l;
        f->w[i] = S->L.accum[l];
        double b = S->L.accum[l] * bytes * copies;
        S->L.bytes[l] += b;
        S->L.job_bytes[(int64_t)l * S->L.njobs + S->cur_job] += b;
        J->link_bytes += b;
        S->L.accum[l] = 0.0;
    }
    S->ntouched = 0;
    f->stream = stream_index;
    f->bytes = f->remaining = bytes;
    f->bneck = -1;
    f->active = true;
    S->active[S->nactive++] = S->ncf++;
    S->st[stream_index].running++;
    return true;
}

static int64_t group_base(const net_request *rq, int64_t g)
{
    return g / rq->stride * rq->size * rq->stride + g % rq->stride;
}

static bool build_sub(sim *S, int stream_index, const net_phase *ph, const net_sub *s)
{
    net_sink sink = {sink_flow, sink_bulk, S};
    bool ring = false;
    for (int i = 0; i < ph->nitems; i++)
        ring |= ph->item[i].pattern == NET_PAT_RING;
    if (ring)
        net_ring_geometry(S->t, s, &S->geo);
    for (int i = 0; i < ph->nitems && !S->oom; i++) {
        const net_item *it = &ph->item[i];
        int64_t before = S->jobs[S->cur_job].flows;
        net_pattern_emit(S->t, s, &S->geo, it, 0, s->size, &sink);
        if (it->pattern == NET_PAT_ALLPAIRS)
            allpairs_cross(S, s);
        else if (it->pattern == NET_PAT_FANOUT)
            fanout_cross(S, s);
        if (S->oom || !add_coflow(S, stream_index, it->bytes, before))
            return false;
    }
    return true;
}

static bool build_phase(sim *S, int stream_index)
{
    stream *st = &S->st[stream_index];
    const job_state *J = &S->jobs[st->job];
    const net_phase *ph = &J->plan->phase[st->phase];
    int64_t base = group_base(J->rq, st->group);
    S->cur_job = st->job;
    for (int k1 = 0; k1 < ph->n1; k1++) {
        for (int k2 = 0; k2 < ph->n2; k2++) {
            net_sub s = {.base = base + k1 * ph->step1 + k2 * ph->step2, .stride = ph->stride, .size = ph->size};
            if (net_sub_layout(S->t, &s, NULL) != USIM_OK)
                return false;
            if (!build_sub(S, stream_index, ph, &s))
                return false;
        }
    }
    return true;
}

/* ---- max-min rates by progressive filling -------------------------------- */

static void heap_push(sim *S, double level, int32_t link)
{
    struct heap_e e = {level, link, S->L.version[link]};
    int64_t i = S->heap_n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (S->heap[p].level <= level)
            break;
        S->heap[i] = S->heap[p];
        i = p;
    }
    S->heap[i] = e;
}

static struct heap_e heap_pop(sim *S)
{
    struct heap_e top = S->heap[0], last = S->heap[--S->heap_n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= S->heap_n)
            break;
        if (c + 1 < S->heap_n && S->heap[c + 1].level < S->heap[c].level)
            c++;
        if (S->heap[c].level >= last.level)
            break;
        S->heap[i] = S->heap[c];
        i = c;
    }
    if (S->heap_n > 0)
        S->heap[i] = last;
    return top;
}

static double link_level(const links *L, int32_t l)
{
    double room = L->cap[l] - L->frozen[l];
    return room > 0.0 ? room / L->wsum[l] : 0.0;
}

static void freeze(sim *S, coflow *f, double rate, int32_t bneck)
{
    links *L = &S->L;
    f->rate = rate;
    f->frozen = true;
    f->bneck = bneck;
    for (int e = 0; e < f->n; e++) {
        int32_t l = f->lk[e];
        L->frozen[l] += rate * f->w[e];
        L->wsum[l] -= f->w[e];
        L->version[l]++;
        if (--L->nunf[l] > 0 && L->wsum[l] > 0.0)
            heap_push(S, link_level(L, l), l);
    }
}

/* Lists the links of the active coflows (rt) and their coflows (csr). */
static bool index_links(sim *S, int64_t *nlinks, int64_t *entries)
{
    links *L = &S->L;
    int64_t n = 0, total = 0;
    for (int a = 0; a < S->nactive; a++) {
        coflow *f = &S->cf[S->active[a]];
        f->frozen = false;
        total += f->n;
        for (int e = 0; e < f->n; e++) {
            int32_t l = f->lk[e];
            if (L->nunf[l]++ == 0) {
                if (n == S->rt_cap) {
                    int64_t c = S->rt_cap ? 2 * S->rt_cap : 4096;
                    if (!grow((void **)&S->rt, sizeof(int32_t), c) ||
                        !grow((void **)&S->csr_start, sizeof(int32_t), c + 1))
                        return false;
                    S->rt_cap = c;
                }
                L->slot[l] = (int32_t)n;
                S->rt[n++] = l;
            }
            L->wsum[l] += f->w[e];
        }
    }
    if (total > S->csr_cap) {
        if (!grow((void **)&S->csr, sizeof(int32_t), total))
            return false;
        S->csr_cap = total;
    }
    if (n + total > S->heap_cap) {
        if (!grow((void **)&S->heap, sizeof(struct heap_e), n + total))
            return false;
        S->heap_cap = n + total;
    }
    S->csr_start[0] = 0;
    for (int64_t i = 0; i < n; i++)
        S->csr_start[i + 1] = S->csr_start[i] + L->nunf[S->rt[i]];
    for (int64_t i = 0; i < n; i++)
        L->version[S->rt[i]] = S->csr_start[i]; /* fill cursor */
    for (int a = 0; a < S->nactive; a++) {
        coflow *f = &S->cf[S->active[a]];
        for (int e = 0; e < f->n; e++)
            S->csr[L->version[f->lk[e]]++] = S->active[a];
    }
    for (int64_t i = 0; i < n; i++)
        L->version[S->rt[i]] = 0;
    *nlinks = n;
    *entries = total;
    return true;
}

static bool compute_rates(sim *S)
{
    links *L = &S->L;
    int64_t n, total;
    if (!index_links(S, &n, &total))
        return false;
    S->heap_n = 0;
    for (int64_t i = 0; i < n; i++)
        heap_push(S, link_level(L, S->rt[i]), S->rt[i]);
    int unfrozen = S->nactive;
    while (unfrozen > 0 && S->heap_n > 0) {
        struct heap_e e = heap_pop(S);
        if (e.version != L->version[e.link] || L->nunf[e.link] == 0)
            continue;
        int32_t slot = L->slot[e.link];
        for (int32_t k = S->csr_start[slot]; k < S->csr_start[slot + 1]; k++) {
            coflow *f = &S->cf[S->csr[k]];
            if (!f->frozen) {
                freeze(S, f, e.level, e.link);
                unfrozen--;
            }
        }
    }
    for (int a = 0; a < S->nactive; a++) {
        coflow *f = &S->cf[S->active[a]];
        if (!f->frozen)
            f->rate = INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t l = S->rt[i];
        double load = L->frozen[l] / L->cap[l];
        if (load > S->peak)
            S->peak = load;
        L->frozen[l] = L->wsum[l] = 0.0;
        L->nunf[l] = L->version[l] = 0;
    }
    return true;
}

/* ---- the event loop ------------------------------------------------------ */

static void end_phase(sim *S, int si)
{
    stream *st = &S->st[si];
    const job_state *J = &S->jobs[st->job];
    const net_phase *ph = &J->plan->phase[st->phase];
    double bw = S->now - st->phase_start - ph->latency_s;
    st->tier_s[ph->tier] += ph->latency_s;
    int tier = st->last_bneck >= 0 ? net_link_tier(S->t, S->L.global[st->last_bneck]) : ph->tier;
    st->tier_s[tier] += bw > 0.0 ? bw : 0.0;
    st->last_bneck = -1;
    if (++st->phase >= J->plan->nphases) {
        st->done = true;
        st->end = S->now;
        return;
    }
    st->phase_start = S->now;
    st->wake = S->now + J->plan->phase[st->phase].latency_s;
    st->waiting = true;
}

/* Starts every phase whose latency has passed; false when out of memory. */
static bool wake_streams(sim *S)
{
    for (int si = 0; si < S->nst; si++) {
        stream *st = &S->st[si];
        while (st->waiting && st->wake <= S->now * (1.0 + 1e-12) + 1e-18) {
            st->waiting = false;
            if (!build_phase(S, si))
                return false;
            if (st->running == 0)
                end_phase(S, si);
        }
    }
    return true;
}

static double next_event(const sim *S)
{
    double dt = INFINITY;
    for (int a = 0; a < S->nactive; a++) {
        const coflow *f = &S->cf[S->active[a]];
        double x = f->rate > 0.0 ? f->remaining / f->rate : INFINITY;
        if (x < dt)
            dt = x;
    }
    for (int si = 0; si < S->nst; si++)
        if (S->st[si].waiting && S->st[si].wake - S->now < dt)
            dt = S->st[si].wake - S->now;
    return dt > 0.0 ? dt : 0.0;
}

static void advance(sim *S, double dt)
{
    S->now += dt;
    int kept = 0;
    for (int a = 0; a < S->nactive; a++) {
        int idx = S->active[a];
        coflow *f = &S->cf[idx];
        f->remaining -= isfinite(f->rate) ? f->rate * dt : f->remaining;
        bool done = f->remaining <= 1e-9 * f->bytes ||
                    (isfinite(f->rate) && f->remaining / f->rate <= 1e-12 * S->now) ||
                    !isfinite(f->rate);
        if (!done) {
            S->active[kept++] = idx;
            continue;
        }
        stream *st = &S->st[f->stream];
        st->last_bneck = f->bneck;
        free(f->lk);
        free(f->w);
        f->lk = NULL;
        f->w = NULL;
        f->active = false;
        if (--st->running == 0)
            end_phase(S, f->stream);
    }
    S->nactive = kept;
}

static usim_status run(sim *S, usim_error *err)
{
    for (;;) {
        if (!wake_streams(S))
            return usim_fail(err, USIM_ERUNTIME, "out of memory in the flow model");
        if (S->nactive > 0 && !compute_rates(S))
            return usim_fail(err, USIM_ERUNTIME, "out of memory in the flow model");
        double dt = next_event(S);
        if (!isfinite(dt))
            break;
        advance(S, dt);
    }
    for (int si = 0; si < S->nst; si++)
        if (!S->st[si].done)
            return usim_fail(err, USIM_ERUNTIME, "flow model: group %d did not finish", si);
    return USIM_OK;
}

/* ---- setup and results ---------------------------------------------------- */

/* Groups confined to one scale-up domain, with every domain holding the
 * same number of them, are simulated for domain 0 only. */
static void symmetry(const net_topo *t, const net_request *rq, int njobs, job_state *J)
{
    int64_t block = (int64_t)rq->size * rq->stride;
    int64_t per_domain = t->dc / rq->size;
    J->simulated = rq->groups;
    J->copies = 1;
    if (njobs == 1 && block <= t->dc && t->dc % block == 0 && per_domain > 0 &&
        rq->groups > per_domain && rq->groups % per_domain == 0) {
        J->simulated = per_domain;
        J->copies = rq->groups / per_domain;
    }
}

static usim_status setup(sim *S, const net_topo *t, const net_flow_job *jobs, int njobs,
                         usim_error *err)
{
    memset(S, 0, sizeof *S);
    S->t = t;
    S->njobs = njobs;
    S->L.t = t;
    S->L.njobs = njobs;
    S->L.local_of = calloc((size_t)t->nlinks + 1, sizeof(int32_t));
    if (!S->L.local_of)
        return usim_fail(err, USIM_ERUNTIME, "out of memory in the flow model");
    int64_t total = 0;
    for (int j = 0; j < njobs; j++) {
        job_state *J = &S->jobs[j];
        J->plan = jobs[j].plan;
        J->rq = jobs[j].rq;
        J->start = jobs[j].start_s;
        symmetry(t, J->rq, njobs, J);
        J->first_stream = (int)total;
        J->nstreams = (int)J->simulated;
        total += J->simulated;
    }
    if (total > 1 << 24)
        return usim_fail(err, USIM_EINPUT, "too many concurrent groups for the flow model");
    S->st = calloc((size_t)total, sizeof(stream));
    if (!S->st)
        return usim_fail(err, USIM_ERUNTIME, "out of memory in the flow model");
    S->nst = (int)total;
    for (int j = 0; j < njobs; j++) {
        job_state *J = &S->jobs[j];
        for (int g = 0; g < J->nstreams; g++) {
            stream *st = &S->st[J->first_stream + g];
            st->job = j;
            st->group = g;
            st->last_bneck = -1;
            st->phase_start = J->start;
            st->waiting = J->plan->nphases > 0;
            st->done = J->plan->nphases == 0;
            st->end = J->start;
            st->wake = J->start + (J->plan->nphases ? J->plan->phase[0].latency_s : 0.0);
        }
    }
    return USIM_OK;
}

static void busiest(const sim *S, int job, double window, net_cost *c)
{
    const links *L = &S->L;
    double best = -1.0;
    for (int64_t i = 0; i < L->n; i++) {
        double b = job >= 0 ? L->job_bytes[i * L->njobs + job] : L->bytes[i];
        /* copies of a symmetric domain add to the totals, not to one link */
        double per_link = b / (double)(job >= 0 ? S->jobs[job].copies
                                       : S->njobs == 1 ? S->jobs[0].copies : 1);
        double u = per_link / L->cap[i];
        if (u > best) {
            best = u;
            c->busiest_link = L->global[i];
        }
    }
    c->busiest_utilisation = window > 0.0 && best > 0.0 ? best / window : 0.0;
}

static void job_result(const sim *S, int j, net_cost *c)
{
    const job_state *J = &S->jobs[j];
    memset(c, 0, sizeof *c);
    c->busiest_link = -1;
    const stream *slowest = NULL;
    for (int g = 0; g < J->nstreams; g++) {
        const stream *st = &S->st[J->first_stream + g];
        if (!slowest || st->end > slowest->end)
            slowest = st;
    }
    c->seconds = slowest ? slowest->end - J->start : 0.0;
    if (slowest)
        memcpy(c->tier_seconds, slowest->tier_s, sizeof c->tier_seconds);
    for (int i = 0; i < J->plan->nphases; i++)
        c->latency_s += J->plan->phase[i].latency_s;
    c->bandwidth_s = c->seconds - c->latency_s;
    c->peak_link_load = S->peak;
    c->bytes_injected = J->bytes_injected;
    c->link_bytes = J->link_bytes;
    c->groups_simulated = J->simulated;
    c->flows = J->flows * J->copies;
    busiest(S, j, c->seconds, c);
}

static void sim_free(sim *S)
{
    for (int i = 0; i < S->ncf; i++) {
        free(S->cf[i].lk);
        free(S->cf[i].w);
    }
    free(S->cf);
    free(S->active);
    free(S->st);
    free(S->touched);
    free(S->rt);
    free(S->csr_start);
    free(S->csr);
    free(S->heap);
    links_free(&S->L);
}

usim_status net_plan_flow(const net_topo *t, const net_flow_job *jobs, int njobs,
                          net_cost *per_job, net_cost *all, usim_error *err)
{
    if (njobs < 1 || njobs > MAX_JOBS)
        return usim_fail(err, USIM_EINPUT, "the flow model runs 1 to %d collectives at once",
                         MAX_JOBS);
    sim *S = malloc(sizeof *S);
    if (!S)
        return usim_fail(err, USIM_ERUNTIME, "out of memory in the flow model");
    usim_status st = setup(S, t, jobs, njobs, err);
    if (st == USIM_OK)
        st = run(S, err);
    if (st == USIM_OK) {
        double first = INFINITY, last = 0.0;
        for (int j = 0; j < njobs; j++) {
            job_result(S, j, &per_job[j]);
            first = S->jobs[j].start < first ? S->jobs[j].start : first;
            last = S->jobs[j].start + per_job[j].seconds > last
                       ? S->jobs[j].start + per_job[j].seconds
                       : last;
        }
        if (all) {
            memset(all, 0, sizeof *all);
            all->seconds = last - first;
            all->peak_link_load = S->peak;
            for (int j = 0; j < njobs; j++) {
                all->bytes_injected += per_job[j].bytes_injected;
                all->link_bytes += per_job[j].link_bytes;
                all->flows += per_job[j].flows;
                all->groups_simulated += per_job[j].groups_simulated;
            }
            all->busiest_link = -1;
            busiest(S, -1, all->seconds, all);
        }
    }
    sim_free(S);
    free(S);
    return st;
}
