/*
 * serve_run: requests made, each replica's loop run, metrics gathered.
 *
 * Replicas serve their round-robin share of the requests independently (a
 * disaggregated deployment runs its prefill replicas first, then hands each
 * request's KV cache over the scale-out network to a decode replica).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/loop.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles by linear interpolation between ranks. */
static serve_percentiles percentiles(double *v, int64_t n)
{
    serve_percentiles p = {NAN, NAN, NAN, NAN};
    if (n <= 0)
        return p;
    qsort(v, (size_t)n, sizeof *v, by_value);
    double q[3] = {0.50, 0.90, 0.99}, *out[3] = {&p.p50, &p.p90, &p.p99}, sum = 0;
    for (int k = 0; k < 3; k++) {
        double pos = q[k] * (double)(n - 1);
        int64_t lo = (int64_t)floor(pos);
        int64_t hi = lo + 1 < n ? lo + 1 : lo;
        *out[k] = v[lo] + (v[hi] - v[lo]) * (pos - (double)lo);
    }
    for (int64_t i = 0; i < n; i++)
        sum += v[i];
    p.mean = sum / (double)n;
    return p;
}

/* Bin b holds [1e-7 x 1.001^b, 1e-7 x 1.001^(b+1)). */
static const double HIST_FLOOR_S = 1e-7, HIST_STEP = 1.001;

void serve_hist_add(serve_hist *h, double seconds)
{
    double b = seconds > HIST_FLOOR_S ? floor(log(seconds / HIST_FLOOR_S) / log(HIST_STEP)) : 0;
    h->counts[b < SERVE_HIST_BINS ? (int)b : SERVE_HIST_BINS - 1]++;
    h->n++;
    h->sum += seconds;
}

/* The value at rank q x (n - 1): its bin's geometric middle. */
static double hist_at(const serve_hist *h, double q)
{
    double rank = q * (double)(h->n - 1);
    int64_t seen = 0;
    for (int b = 0; b < SERVE_HIST_BINS; b++) {
        seen += h->counts[b];
        if ((double)seen > rank)
            return HIST_FLOOR_S * pow(HIST_STEP, b + 0.5);
    }
    return NAN;
}

serve_percentiles serve_hist_percentiles(const serve_hist *h)
{
    serve_percentiles p = {NAN, NAN, NAN, NAN};
    if (h->n == 0)
        return p;
    p.p50 = hist_at(h, 0.50);
    p.p90 = hist_at(h, 0.90);
    p.p99 = hist_at(h, 0.99);
    p.mean = h->sum / (double)h->n;
    return p;
}

void serve_ctx_init(serve_ctx *c, const serve_deployment *d, const wl_model *m, usim_error *err)
{
    c->d = d;
    c->model = m;
    c->dtype = serve_gemm_dtype(d);
    c->attention = m == &d->draft ? d->draft_attention : d->attention;
    c->err = err;
    c->st = USIM_OK;
}

typedef struct run_state {
    const serve_deployment *d;
    const serve_workload *w;
    serve_request *req;
    int64_t count;
    int lanes;          /* batches in flight: PP of them a replica (pipeline_lanes) */
    double kv_capacity; /* a lane's */
    int64_t iterations, preemptions;
    double peak_kv, makespan;
    serve_hist *itl;
} run_state;

/* Runs the replica serving the requests with replica == which, marking
 * prefill-only replicas for disaggregation. */
static usim_status run_replica(run_state *s, int which, bool prefill_only, usim_error *err)
{
    replica r;
    memset(&r, 0, sizeof r);
    r.d = s->d;
    r.w = s->w;
    r.req = s->req;
    r.kv_capacity = s->kv_capacity;
    r.prefill_only = prefill_only;
    r.itl = s->itl;
    r.rng = s->w->seed * 6364136223846793005ULL + (uint64_t)which + 1;
    serve_ctx_init(&r.target, s->d, &s->d->model, err);
    serve_ctx_init(&r.draft, s->d, &s->d->draft, err);
    for (int64_t i = 0; i < s->count; i++)
        r.n += s->req[i].replica == which;
    r.ids = malloc((size_t)(r.n + 1) * sizeof *r.ids);
    r.waiting = malloc((size_t)(r.n + 1) * sizeof *r.waiting);
    size_t slots = (size_t)serve_replica_batch(s->d) + 1;
    r.running = malloc(slots * sizeof *r.running);
    r.part = malloc(slots * sizeof *r.part);
    r.prefill_buf = malloc(slots * sizeof *r.prefill_buf);
    usim_status st = USIM_OK;
    if (!r.ids || !r.waiting || !r.running || !r.part || !r.prefill_buf)
        st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    for (int64_t i = 0, k = 0; st == USIM_OK && i < s->count; i++)
        if (s->req[i].replica == which)
            r.ids[k++] = i;
    if (st == USIM_OK && s->w->mode == SERVE_CLOSED) {
        int clients = serve_clients_of(s->w, s->lanes, which);
        r.to_issue = clients;
        for (int64_t k = clients; k < r.n; k++)
            s->req[r.ids[k]].arrival = s->req[r.ids[k]].issued = INFINITY; /* set when a client is free */
    }
    if (st == USIM_OK)
        st = serve_replica_run(&r, err);
    s->iterations += r.iterations;
    s->preemptions += r.preemptions;
    s->peak_kv = fmax(s->peak_kv, r.peak_kv / fmax(r.kv_capacity, 1));
    s->makespan = fmax(s->makespan, r.t);
    free(r.ids);
    free(r.waiting);
    free(r.running);
    free(r.part);
    free(r.prefill_buf);
    return st;
}

/* Prefill replicas first; each request's KV cache then crosses the network
 * to a decode replica, which picks it up already prefilled and makes every
 * output token, the first too: the client's stream comes from the decode
 * side (vLLM's disaggregated proxy sends the prompt to the prefill instance
 * for one token it drops, then to the decode instance; Dynamo's decode
 * workers start from the prefill's KV cache alike). */
static usim_status run_disaggregated(run_state *s, usim_error *err)
{
    const serve_deployment *d = s->d;
    int prefill = d->prefill_replicas, decode = d->replicas - prefill;
    usim_status st = USIM_OK;
    for (int64_t i = 0; i < s->count; i++)
        s->req[i].replica = (int)(i % prefill);
    for (int p = 0; st == USIM_OK && p < prefill; p++)
        st = run_replica(s, p, true, err);
    double link = d->sys.node.nic_bandwidth_per_chip * d->tp;
    for (int64_t i = 0; st == USIM_OK && i < s->count; i++) {
        serve_request *q = &s->req[i];
        double ctx = q->isl + 1.0, kv_bytes = serve_kv_bytes_per_token(d, ctx) * d->tp;
        double transfer = ctx * kv_bytes / link + 2 * d->sys.network.endpoint_latency_s;
        q->arrival = q->finish + transfer;
        q->replica = prefill + (int)(i % decode);
        q->generated = q->generated_base = 0;
    }
    for (int r = prefill; st == USIM_OK && r < d->replicas; r++)
        st = run_replica(s, r, false, err);
    return st;
}

/* Rates are over the run as a benchmark client times it: from the first
 * request it sends to the last token; a trace that starts late does not
 * count the idle time before its first arrival. */
static void metrics(const run_state *s, serve_result *out)
{
    int64_t n = s->count;
    double *ttft = malloc((size_t)n * sizeof *ttft), *tpot = malloc((size_t)n * sizeof *tpot);
    double *e2e = malloc((size_t)n * sizeof *e2e);
    int64_t ntpot = 0, good = 0;
    double tokens = 0, first_sent = INFINITY;
    if (!ttft || !tpot || !e2e)
        goto done;
    for (int64_t i = 0; i < n; i++) {
        const serve_request *q = &s->req[i];
        first_sent = fmin(first_sent, q->issued);
        double first = q->first_token - q->issued;
        double total = q->finish - q->issued;
        ttft[i] = first;
        e2e[i] = total;
        double per = q->osl > 1 ? (q->finish - q->first_token) / (q->osl - 1) : NAN;
        if (q->osl > 1)
            tpot[ntpot++] = per;
        tokens += q->osl;
        bool ok_ttft = s->w->slo_ttft_s <= 0 || first <= s->w->slo_ttft_s;
        bool ok_tpot = s->w->slo_tpot_s <= 0 || q->osl <= 1 || per <= s->w->slo_tpot_s;
        good += ok_ttft && ok_tpot;
    }
    out->ttft = percentiles(ttft, n);
    out->tpot = percentiles(tpot, ntpot);
    if (ntpot == 0)
        out->tpot_note = "every request has one output token: TPOT needs a second";
    out->e2e = percentiles(e2e, n);
    out->itl = serve_hist_percentiles(s->itl);
    out->makespan_s = s->makespan - first_sent;
    out->requests = n;
    out->output_tokens = (int64_t)tokens;
    out->output_tokens_per_s = tokens / out->makespan_s;
    out->requests_per_s = (double)n / out->makespan_s;
    out->goodput_requests_per_s = (double)good / out->makespan_s;
    out->slo_attainment = (double)good / (double)n;
    if (s->w->slo_ttft_s <= 0 && s->w->slo_tpot_s <= 0) { /* nothing to attain */
        out->goodput_requests_per_s = out->slo_attainment = NAN;
        out->slo_note = "no SLO given: --slo-ttft or --slo-tpot sets one";
    }
done:
    free(ttft);
    free(tpot);
    free(e2e);
}

/* Adds an iteration's cost and its parts to a sum. */
static void add_cost(serve_iter_cost *sum, serve_iter_cost one)
{
    sum->seconds += one.seconds;
    sum->weights_s += one.weights_s;
    sum->kv_s += one.kv_s;
    sum->comm_s += one.comm_s;
    sum->other_s += one.other_s;
}

/* A lone prompt of isl tokens: one prefill (and a speculative draft's over
 * it, as the serving loop runs it), or, past the largest context-encoding
 * graph of an engine that runs the rest token by token, that graph and then
 * a token-generation step at each remaining position; its parts summed. */
static serve_iter_cost lone_prefill(serve_ctx *c, serve_ctx *draft, double isl,
                                    double *serial_tokens)
{
    serve_iter_cost sum = {0, 0, 0, 0, 0};
    double head = serve_prompt_chunk(c->d, 0, isl);
    serve_prefill one = {head, head, true};
    serve_batch pre = {0, 0, 0, 0, head, &one, 1, 1};
    add_cost(&sum, serve_iteration(c, &pre));
    if (draft)
        add_cost(&sum, serve_iteration(draft, &pre));
    *serial_tokens = isl - head;
    for (double at = head + 1; at <= isl; at++) {
        serve_batch step = {1, 1, at, at, 0, NULL, 0, 1};
        add_cost(&sum, serve_iteration(c, &step));
    }
    return sum;
}

/* A decode step at batch 1 and a lone prefill, for the explanation; a
 * step that is not a positive finite time means the chip cannot run the
 * model, and every latency after it would be meaningless. */
static usim_status explain(const serve_deployment *d, double isl, double osl, serve_result *out,
                           usim_error *err)
{
    serve_ctx c;
    serve_ctx_init(&c, d, &d->model, err);
    double mid = isl + floor(osl / 2);
    serve_batch step = {1, serve_verify_tokens(d), mid, mid, 0, NULL, 0, 1};
    serve_iter_cost s = serve_iteration(&c, &step);
    if (d->medusa.heads > 0) { /* the heads, LM heads of their own, after the pass */
        double heads = serve_medusa_s(&c, serve_medusa_rows(d));
        s.other_s += heads;
        s.seconds += heads;
    }
    out->decode_weights_s = s.weights_s;
    out->decode_kv_s = s.kv_s;
    out->decode_comm_s = s.comm_s;
    out->decode_other_s = s.other_s;
    out->decode_step_s = s.seconds;
    out->decode_step_lines = d->engine.pad_decode_batch ? fmax(1, d->max_batch) : 1;
    out->prefill_tokens = isl;
    serve_ctx draft;
    bool drafting = serve_draft_runs(d);
    if (drafting)
        serve_ctx_init(&draft, d, &d->draft, err);
    serve_iter_cost p = lone_prefill(&c, drafting ? &draft : NULL, isl,
                                     &out->prefill_serial_tokens);
    out->prefill_s = p.seconds;
    out->prefill_weights_s = p.weights_s;
    out->prefill_attention_s = p.kv_s;
    out->prefill_comm_s = p.comm_s;
    out->prefill_other_s = p.other_s;
    double a = d->spec_accept, k = d->spec_len;
    out->tokens_per_round = d->spec_len > 0 ? (1 - pow(a, k + 1)) / (1 - a) : 1;
    if (c.st != USIM_OK)
        return c.st;
    if (drafting && draft.st != USIM_OK)
        return draft.st;
    if (!(out->decode_step_s > 0 && out->prefill_s > 0 && isfinite(out->decode_step_s) &&
          isfinite(out->prefill_s)))
        return usim_fail_field(err, USIM_EINPUT, "hw",
                               "%s cannot serve %s: a decode step costs %g s and a prefill %g s",
                               d->sys.chip.name, d->model.name, out->decode_step_s, out->prefill_s);
    return USIM_OK;
}

/* The explanation's request: the workload's lengths, or a trace's mean
 * lengths (--isl and --osl do not apply to a trace). */
static usim_status explain_requests(const serve_deployment *d, const serve_workload *w,
                                    const run_state *s, serve_result *out, usim_error *err)
{
    double isl = (double)w->isl, osl = (double)w->osl;
    if (w->mode == SERVE_TRACE && s->count > 0) {
        isl = osl = 0;
        for (int64_t i = 0; i < s->count; i++) {
            isl += s->req[i].isl;
            osl += s->req[i].osl;
        }
        isl = round(isl / (double)s->count);
        osl = round(osl / (double)s->count);
    }
    return explain(d, isl, osl, out, err);
}

/* A prompt longer than the largest context-encoding graph: NxD Inference
 * has no graph for a prompt past the largest bucket a run lists, and
 * transformers-neuronx runs a longer prompt's tail token by token only in a
 * static batch (under continuous batching it asserts that the prompt fits
 * its largest context graph). */
static usim_status check_prefill_buckets(const serve_deployment *d, const serve_workload *w,
                                         const run_state *s, usim_error *err)
{
    bool tail = d->engine.serial_prompt_tail;
    if ((tail && d->scheduler == SERVE_STATIC) || (!tail && d->nprefill_buckets == 0))
        return USIM_OK;
    double largest = serve_context_bucket_max(d);
    for (int64_t i = 0; i < s->count; i++) {
        const serve_request *q = &s->req[i];
        if (q->isl <= largest)
            continue;
        const char *field = w->mode == SERVE_TRACE ? "input_tokens"
                            : tail                 ? "scheduler"
                                                   : "prefill-buckets";
        usim_status st =
            tail ? usim_fail_field(err, USIM_EINPUT, field,
                                   "a prompt of %.0f tokens is longer than the largest context "
                                   "graph, %.0f, and engine %s runs a longer prompt's tail token "
                                   "by token only in a static batch (allowed: prompts up to %.0f "
                                   "tokens, --scheduler static, or a bucket that holds %.0f)",
                                   q->isl, largest, d->engine.name, largest, q->isl)
                 : usim_fail_field(err, USIM_EINPUT, field,
                                   "a prompt of %.0f tokens is longer than the largest bucket, "
                                   "%.0f (allowed: prompts up to %.0f tokens, or a bucket that "
                                   "holds %.0f)",
                                   q->isl, largest, largest, q->isl);
        if (err && w->mode == SERVE_TRACE) {
            snprintf(err->file, sizeof err->file, "%s", w->trace_file);
            err->line = q->line;
            err->column = 1;
        }
        return st;
    }
    return USIM_OK;
}

/* Requests longer than the model's positions: learned position embeddings
 * end there (exit 2); rotary and ALiBi positions run on, as engines run
 * them, so the run goes ahead with a note. */
static usim_status check_context(const serve_deployment *d, const serve_workload *w,
                                 const run_state *s, serve_result *out, usim_error *err)
{
    const wl_model *m = &d->model;
    int64_t at = -1;
    double longest = 0;
    for (int64_t i = 0; i < s->count; i++)
        if (s->req[i].isl + s->req[i].osl > longest) {
            longest = s->req[i].isl + s->req[i].osl;
            at = i;
        }
    if (at < 0)
        return USIM_OK;
    const serve_request *q = &s->req[at];
    if (d->max_model_len > 0 && longest > d->max_model_len) { /* vLLM refuses it */
        usim_status st = usim_fail_field(
            err, USIM_EINPUT, w->mode == SERVE_TRACE ? "input_tokens" : "max-model-len",
            "a request of %.0f input + %.0f output tokens is longer than --max-model-len %d "
            "(allowed: input + output tokens up to %d)",
            q->isl, q->osl, d->max_model_len, d->max_model_len);
        if (err && w->mode == SERVE_TRACE) {
            snprintf(err->file, sizeof err->file, "%s", w->trace_file);
            err->line = q->line;
            err->column = 1;
        }
        return st;
    }
    usim_status buckets = check_prefill_buckets(d, w, s, err);
    if (buckets != USIM_OK || longest <= m->max_seq)
        return buckets;
    if (m->position == WL_POS_LEARNED) {
        usim_status st = usim_fail_field(
            err, USIM_EINPUT, w->mode == SERVE_TRACE ? "input_tokens" : "isl",
            "a request of %.0f input + %.0f output tokens needs %.0f positions; %s has learned "
            "position embeddings for %d (allowed: input + output tokens up to %d)",
            q->isl, q->osl, longest, m->name, m->max_seq, m->max_seq);
        if (err && w->mode == SERVE_TRACE) {
            snprintf(err->file, sizeof err->file, "%s", w->trace_file);
            err->line = q->line;
            err->column = 1;
        }
        return st;
    }
    snprintf(out->context_note, sizeof out->context_note,
             "%.0f-token requests exceed %s's %d-token context; its %s positions run past it, "
             "at a quality not modelled",
             longest, m->name, m->max_seq, m->position == WL_POS_ALIBI ? "ALiBi" : "rotary");
    return USIM_OK;
}

/* Cost and energy per token; without a price or a power figure they do not
 * exist (NaN with the reason), rather than costing nothing. A price of 0
 * given explicitly is a free machine: $0. */
static void cost_and_energy(const serve_deployment *d, serve_result *out)
{
    double usd_per_hour = out->chips * d->sys.price.usd_per_chip_hour;
    double watts = out->chips * d->sys.chip.power_w;
    const char *no_price = hw_no_price_reason(&d->sys);
    out->cost_per_mtok_usd = usd_per_hour / (out->output_tokens_per_s * 3600) * 1e6;
    out->energy_per_token_j = watts / out->output_tokens_per_s;
    if (no_price) {
        out->cost_per_mtok_usd = NAN;
        out->cost_note = no_price;
    }
    if (!(watts > 0)) {
        out->energy_per_token_j = NAN;
        out->energy_note = "the hardware gives no power figure";
    }
}

/* Batches a replica keeps in flight: one, or with PP one a pipeline stage
 * (vLLM's PP batches in flight, TensorRT-LLM's PP micro-batches, each up to
 * its max_batch_size, which trtllm-bench sizes per stage), so every stage
 * works on one of them while the others run on. Each lane runs as a replica
 * of its own whose iteration lasts the whole pipeline, with an even share
 * of the KV cache: the engines share one cache among the batches, which
 * evenly loaded lanes split alike, and fewer lanes run where a request
 * needs more than a share. Lanes do not wait for one another at a stage, so
 * unevenly loaded ones come out a little fast. A disaggregated deployment's
 * replicas run one batch each. */
static int pipeline_lanes(const serve_deployment *d, const run_state *s, double kv_tokens)
{
    if (d->scheduler == SERVE_DISAGG)
        return 1;
    double longest = 1;
    for (int64_t i = 0; i < s->count; i++)
        longest = fmax(longest, s->req[i].isl + s->req[i].osl);
    return (int)fmax(1, fmin(d->pp, floor(kv_tokens / longest)));
}

usim_status serve_run(const serve_deployment *d, const serve_workload *w, serve_result *out,
                      usim_error *err)
{
    memset(out, 0, sizeof *out);
    usim_status st = serve_check(d, w, err);
    if (st != USIM_OK)
        return st;
    run_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.w = w;
    serve_memory mem = serve_memory_of(d, w);
    s.itl = calloc(1, sizeof *s.itl);
    st = s.itl ? serve_requests(w, &s.req, &s.count, err)
               : usim_fail(err, USIM_ERUNTIME, "out of memory");
    int lanes = st == USIM_OK ? pipeline_lanes(d, &s, mem.kv_tokens) : 1;
    s.lanes = d->replicas * lanes;
    s.kv_capacity = floor(mem.kv_tokens / lanes);
    for (int64_t i = 0; st == USIM_OK && i < s.count; i++)
        s.req[i].replica = serve_replica_of(w, s.lanes, i);
    if (st == USIM_OK)
        st = check_context(d, w, &s, out, err);
    if (st == USIM_OK)
        st = explain_requests(d, w, &s, out, err);
    for (int64_t i = 0; st == USIM_OK && i < s.count; i++) {
        serve_request *q = &s.req[i];
        q->isl_compute = fmax(1, round(q->isl * (1 - d->prefix_hit)));
        q->cached = q->isl - q->isl_compute;
        q->issued = q->arrival;
    }
    if (st == USIM_OK && d->scheduler == SERVE_DISAGG)
        st = run_disaggregated(&s, err);
    else
        for (int r = 0; st == USIM_OK && r < s.lanes; r++)
            st = run_replica(&s, r, false, err);
    if (st == USIM_OK) {
        metrics(&s, out);
        out->chips = (double)d->tp * d->pp * d->replicas / (d->chip_parts > 1 ? d->chip_parts : 1);
        out->output_tokens_per_s_per_chip = out->output_tokens_per_s / out->chips;
        out->iterations = s.iterations;
        out->preemptions = s.preemptions;
        out->kv_capacity_tokens = mem.kv_tokens;
        out->kv_peak_use = s.peak_kv;
        out->weights_bytes_per_chip = mem.weights;
        out->kv_bytes_per_chip = mem.kv_tokens * mem.kv_per_token / serve_attention_dp(d, &d->model);
        cost_and_energy(d, out);
    }
    free(s.req);
    free(s.itl);
    return st;
}
