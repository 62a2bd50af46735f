/*
 * The serving loop of one replica: iteration by iteration, the scheduler
 * picks what runs, the cost model says how long it takes, and requests move
 * from waiting to prefill to decode to done.
 *
 *   static      a batch of up to max_batch requests is admitted when the last
 *               one is done; it prefills, then decodes until every request
 *               of the batch has finished;
 *   continuous  requests join whenever the batch and the KV cache have room;
 *               an iteration with new prompts prefills them (prefill first),
 *               otherwise every running request decodes one token (or one
 *               speculative round);
 *   inflight    every iteration decodes the running requests and adds whole
 *               prompts beside them, in arrival order, while they fit the
 *               rest of a token budget;
 *   chunked     every iteration decodes the running requests and fills the
 *               rest of a token budget with chunks of waiting prompts;
 *   disagg      (serve.c) prefill replicas hand each request's cache to a
 *               decode replica.
 *
 * The KV cache is paged in blocks; when a decode step finds no free block
 * the newest request is preempted (its cache dropped, to be recomputed).
 * Speculative decoding runs k draft steps and one target pass of k + 1
 * tokens per round; the tokens a request keeps per round are drawn: each
 * draft token is accepted with probability a until the first rejection, and
 * the target adds one (Leviathan et al. 2023).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/loop.h"

static double blocks_of(const replica *r, double tokens)
{
    double b = r->d->block_tokens;
    return ceil(tokens / b) * b;
}

/* KV tokens a request holds: its cached prefix, what it prefilled, and the
 * outputs generated since (outputs before a preemption are re-prefilled). */
static double held(const replica *r, const serve_request *q)
{
    return blocks_of(r, q->cached + q->prefilled + (q->generated - q->generated_base));
}

static bool prefilling(const serve_request *q)
{
    return q->prefilled < q->isl_compute;
}

/* Arrivals up to now join the waiting queue. */
static void admit_arrivals(replica *r)
{
    while (r->next < r->n && r->req[r->ids[r->next]].arrival <= r->t)
        r->waiting[r->wtail++] = r->ids[r->next++];
}

/* What an engine that never evicts sets aside for a request when it admits
 * it: the cache of its whole prompt and output. */
static double reservation(const replica *r, const serve_request *q)
{
    return r->d->engine.reserve_output ? blocks_of(r, q->isl + q->osl) : 0.0;
}

/* The cache a request's prompt will take that it does not hold yet (a
 * prompt still prefilling, or one just admitted). */
static double prompt_to_come(const replica *r, const serve_request *q)
{
    double full = blocks_of(r, q->cached + q->isl_compute + 1);
    return prefilling(q) ? fmax(0, full - held(r, q)) : 0;
}

static bool room_for(const replica *r, const serve_request *q, double promised)
{
    if (r->nrun >= serve_replica_batch(r->d))
        return false;
    if (r->d->engine.reserve_output)
        return r->kv_reserved + reservation(r, q) <= r->kv_capacity;
    /* a request waiting to join holds its cached prefix's blocks too */
    return r->kv_used + promised + held(r, q) + prompt_to_come(r, q) <= r->kv_capacity;
}

/* Moves waiting requests into the batch while it and the cache have room.
 * An engine that admits on the prompt counts the prompts already admitted
 * but not yet prefilled as taken: their blocks are claimed as their chunks
 * run (vLLM allocates a request's slots as it schedules its tokens), and
 * admitting against the cache as it is would let a burst of prompts overrun
 * it and preempt one another in turn. */
static void admit_waiting(replica *r)
{
    double promised = 0;
    for (int i = 0; !r->d->engine.reserve_output && i < r->nrun; i++)
        promised += prompt_to_come(r, &r->req[r->running[i]]);
    while (r->whead < r->wtail) {
        serve_request *q = &r->req[r->waiting[r->whead]];
        if (!room_for(r, q, promised))
            break;
        promised += prompt_to_come(r, q);
        r->running[r->nrun++] = r->waiting[r->whead++];
        r->kv_used += held(r, q);
        r->kv_reserved += reservation(r, q);
    }
}

/* Drops the newest request's cache; it waits again at the head. */
static void preempt_newest(replica *r)
{
    int64_t id = r->running[--r->nrun];
    serve_request *q = &r->req[id];
    r->kv_used -= held(r, q);
    r->kv_reserved -= reservation(r, q);
    q->prefilled = q->cached = 0;
    q->isl_compute = q->isl + q->generated; /* recompute prompt and output so far */
    q->generated_base = q->generated;
    r->waiting[--r->whead] = id;
    r->preemptions++;
}

static int accepted_tokens(replica *r)
{
    int k = r->d->spec_len, n = 0;
    while (n < k && serve_uniform(&r->rng) < r->d->spec_accept)
        n++;
    return n + 1;
}

/* A prompt past the largest context-encoding graph steps the rest of its
 * tokens one an iteration through the token-generation graph
 * (transformers-neuronx's context()): a decode row at its next position. */
static bool in_prompt_tail(const replica *r, const serve_request *q)
{
    return prefilling(q) && serve_in_prompt_tail(r->d, q->cached + q->prefilled);
}

/* Adds a decode row at context ctx (the caller counts its tokens). */
static void add_decode_row(serve_batch *b, double ctx, double *ctx_sum)
{
    b->decode_seqs++;
    *ctx_sum += ctx;
    b->decode_context_max = fmax(b->decode_context_max, ctx);
}

/* Builds this iteration's batch; marks which requests take part. An
 * iteration runs at most the token budget (TensorRT-LLM's max_num_tokens,
 * vLLM's max_num_batched_tokens): chunked engines cut a prompt to fit it
 * beside the decodes; in-flight batching adds whole prompts beside them
 * while they fit (TensorRT-LLM's micro-batch scheduler, context chunking
 * off); continuous batching and a disaggregated prefill replica run prompts
 * first, whole, while they fit; a static batch runs all of its own. The first
 * prompt always runs, so one longer than the budget is not starved.
 * Returns how many of its decode rows step a prompt's tail. */
static double build_batch(replica *r, serve_batch *b, bool prefill_first)
{
    serve_scheduler kind = r->d->scheduler;
    bool chunked = kind == SERVE_CHUNKED, beside = chunked || kind == SERVE_INFLIGHT;
    double budget = kind == SERVE_STATIC ? (double)INFINITY : serve_replica_budget(r->d);
    bool any_prefill = false;
    memset(b, 0, sizeof *b);
    double tails = 0; /* decode rows stepping a prompt's tail */
    b->prefill = r->prefill_buf;
    for (int i = 0; i < r->nrun; i++)
        any_prefill = any_prefill || prefilling(&r->req[r->running[i]]);
    bool decode = !(prefill_first && any_prefill);
    double ctx = 0, width = serve_verify_tokens(r->d);
    for (int i = 0; i < r->nrun; i++) {
        serve_request *q = &r->req[r->running[i]];
        r->part[i] = 0;
        if (in_prompt_tail(r, q)) {
            r->part[i] = 1;
            tails++;
            add_decode_row(b, q->cached + q->prefilled + 1, &ctx);
        } else if (!prefilling(q) && decode && q->generated < q->osl) {
            r->part[i] = width;
            add_decode_row(b, q->isl + q->generated, &ctx);
        }
    }
    b->decode_tokens = (b->decode_seqs - tails) * width + tails;
    budget -= b->decode_tokens;
    int prefills = r->d->engine.max_prefills > 0 ? r->d->engine.max_prefills : r->nrun;
    for (int i = 0; i < r->nrun && (budget > 0 || !decode) && b->nprefill < prefills; i++) {
        serve_request *q = &r->req[r->running[i]];
        if (!prefilling(q) || in_prompt_tail(r, q) || (decode && !beside))
            continue;
        double whole = serve_prompt_chunk(r->d, q->cached + q->prefilled,
                                          q->isl_compute - q->prefilled);
        /* whole prompts only: a later iteration takes it, the first always; in
         * flight, prompts go in arrival order (TensorRT-LLM's scheduler stops
         * at the first that does not fit) */
        if (!chunked && whole > budget && b->nprefill > 0) {
            if (kind == SERVE_INFLIGHT)
                break;
            continue;
        }
        double chunk = chunked ? fmin(whole, budget) : whole;
        r->part[i] = chunk;
        b->prefill[b->nprefill++] =
            (serve_prefill){chunk, q->cached + q->prefilled + chunk, q->prefilled == 0};
        b->prefill_tokens += chunk;
        budget -= chunk;
    }
    b->decode_context = b->decode_seqs > 0 ? ctx / b->decode_seqs : 0;
    b->logits = b->decode_tokens + b->nprefill;
    return tails;
}

/* The target's pass, and with speculation the draft's k steps over the
 * decode rows; the draft reads the iteration's prompt chunks too (a draft
 * model or an EAGLE head keeps its own cache of every position), in its
 * first step: alone when no row decodes. */
static double iteration_s(replica *r, const serve_batch *b, double tails,
                          serve_iter_cost *target)
{
    *target = serve_iteration(&r->target, b);
    double s = target->seconds;
    double speculating = b->decode_seqs - tails; /* no draft runs for a tail */
    if (r->d->medusa.heads > 0 && speculating > 0)
        s += serve_medusa_s(&r->target, speculating * serve_medusa_rows(r->d));
    if (!serve_draft_runs(r->d))
        return s;
    serve_batch draft = *b;
    draft.decode_seqs = draft.decode_tokens = speculating;
    draft.logits = speculating + b->nprefill;
    if (speculating > 0 || b->nprefill > 0)
        s += serve_iteration(&r->draft, &draft).seconds;
    if (speculating > 0) {
        draft.prefill_tokens = 0;
        draft.nprefill = 0;
        draft.logits = speculating;
        s += (r->d->spec_len - 1) * serve_iteration(&r->draft, &draft).seconds;
    }
    return s;
}

static void finish(replica *r, int i)
{
    int64_t id = r->running[i];
    serve_request *q = &r->req[id];
    q->finish = r->t;
    r->kv_used -= held(r, q);
    r->kv_reserved -= reservation(r, q);
    /* keep admission order: the newest, last, is the one preempted */
    memmove(&r->running[i], &r->running[i + 1], (size_t)(r->nrun - i - 1) * sizeof r->running[0]);
    r->nrun--;
    r->done++;
    if (r->w->mode == SERVE_CLOSED && r->to_issue < r->n) { /* the client sends its next */
        serve_request *following = &r->req[r->ids[r->to_issue++]];
        following->arrival = following->issued = r->t;
    }
}

/* A static batch of an engine that steps prompt tails comes out together:
 * its rows' first tokens wait for the batch's last prompt
 * (transformers-neuronx pads a batch's prompts to the longest and steps
 * their tails together); then those done with one token finish. */
static void release_static_batch(replica *r)
{
    for (int i = 0; i < r->nrun; i++)
        if (prefilling(&r->req[r->running[i]]))
            return;
    for (int i = r->nrun - 1; i >= 0; i--) {
        serve_request *q = &r->req[r->running[i]];
        if (!q->first_pending)
            continue;
        q->first_pending = false;
        q->first_token = q->last_token = r->t;
        if (q->generated >= q->osl)
            finish(r, i);
    }
}

/* Applies an iteration's progress to the requests that took part. */
static void advance(replica *r)
{
    bool batch_out = r->d->scheduler == SERVE_STATIC && r->d->engine.serial_prompt_tail &&
                     !r->prefill_only;
    for (int i = r->nrun - 1; i >= 0; i--) {
        serve_request *q = &r->req[r->running[i]];
        double took = r->part[i];
        if (took <= 0)
            continue;
        if (prefilling(q)) {
            double before = held(r, q);
            q->prefilled += took;
            if (!prefilling(q) && q->generated == 0) {
                q->generated = 1; /* the prefill's last position samples the first token */
                q->first_token = q->last_token = r->t;
                q->first_pending = batch_out;
            } else if (!prefilling(q) && q->generated < q->osl) {
                q->generated++; /* a preempted request's recompute samples its next token */
                serve_hist_add(r->itl, r->t - q->last_token);
                q->last_token = r->t;
            }
            r->kv_used += held(r, q) - before; /* with the first token's slot */
        } else {
            double before = held(r, q);
            int gained = r->d->spec_len > 0 ? accepted_tokens(r) : 1;
            bool first = q->generated == 0; /* a disaggregated request's decode replica */
            q->generated = fmin(q->osl, q->generated + gained);
            if (first)
                q->first_token = r->t;
            else
                serve_hist_add(r->itl, r->t - q->last_token); /* one gap per output, as streamed */
            q->last_token = r->t;
            r->kv_used += held(r, q) - before;
        }
        if ((q->generated >= q->osl && !q->first_pending) || (r->prefill_only && !prefilling(q)))
            finish(r, i);
    }
    if (batch_out)
        release_static_batch(r);
    while (r->kv_used > r->kv_capacity && r->nrun > 1)
        preempt_newest(r);
    if (r->kv_used > r->peak_kv)
        r->peak_kv = r->kv_used;
}

static bool static_batch_done(const replica *r)
{
    return r->nrun == 0;
}

/* A request that does not fit an empty replica's KV cache never runs: the
 * trace row (file and line) or the --isl that asked for it is named. */
static usim_status too_long(const replica *r, const serve_request *q, usim_error *err)
{
    bool trace = r->w->mode == SERVE_TRACE, whole = r->d->engine.reserve_output;
    /* the cache in whole blocks; an engine that reserves a request's output
     * admits on input + output, the others on the prompt and its first token */
    double blocks = floor(r->kv_capacity / r->d->block_tokens) * r->d->block_tokens;
    bool output = whole && q->isl < blocks; /* the prompt alone would fit */
    const char *field = output ? (trace ? "output_tokens" : "osl")
                               : (trace ? "input_tokens" : "isl");
    usim_fail_field(err, USIM_EINPUT, field,
                    "a request of %.0f %s does not fit in the %.0f-token KV cache of a replica "
                    "(allowed: up to %.0f; or more chips a replica%s)",
                    whole ? q->isl + q->osl : q->isl,
                    whole ? "input + output tokens (the engine reserves the output)"
                          : "input tokens",
                    r->kv_capacity, whole ? blocks : blocks - 1,
                    serve_weight_bytes(r->d->kv_dtype) > 1.0 ? ", or --kv-dtype fp8" : "");
    if (trace) {
        snprintf(err->file, sizeof err->file, "%s", r->w->trace_file);
        err->line = q->line;
        err->column = 1;
    }
    return USIM_EINPUT;
}

usim_status serve_replica_run(replica *r, usim_error *err)
{
    bool prefill_first = r->d->scheduler != SERVE_CHUNKED && r->d->scheduler != SERVE_INFLIGHT;
    while (r->done < r->n) {
        admit_arrivals(r);
        if (r->d->scheduler != SERVE_STATIC || static_batch_done(r))
            admit_waiting(r);
        if (r->nrun == 0) {
            if (r->whead < r->wtail)
                return too_long(r, &r->req[r->waiting[r->whead]], err);
            if (r->next >= r->n)
                break;
            r->t = fmax(r->t, r->req[r->ids[r->next]].arrival);
            continue;
        }
        serve_batch b;
        serve_iter_cost cost;
        double tails = build_batch(r, &b, prefill_first);
        r->t += iteration_s(r, &b, tails, &cost);
        if (r->target.st != USIM_OK || r->draft.st != USIM_OK)
            return r->target.st != USIM_OK ? r->target.st : r->draft.st;
        r->iterations++;
        advance(r);
    }
    return USIM_OK;
}
