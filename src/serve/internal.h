/* serve layer internals: iteration costs (cost.c), requests (requests.c),
 * the scheduler and event loop (engine.c). */
#ifndef USIM_SERVE_INTERNAL_H
#define USIM_SERVE_INTERNAL_H

#include "ultrasim/net.h"
#include "ultrasim/serve.h"

typedef struct serve_ctx {
    const serve_deployment *d;
    const wl_model *model; /* the target, or the draft when costing drafts */
    usim_dtype dtype;      /* GEMM compute type */
    int attention;         /* engine_attention_kernel of the model costed */
    usim_error *err;
    usim_status st;        /* first failure of a collective, sticky */
} serve_ctx;

/* A context costing model m (the deployment's target or its draft). */
void serve_ctx_init(serve_ctx *c, const serve_deployment *d, const wl_model *m, usim_error *err);

typedef struct serve_prefill {
    double tokens;  /* prompt tokens in this iteration */
    double context; /* the request's context after them, a cached prefix included */
    bool first;     /* the request's first computed tokens: a compiled bucket pads them */
} serve_prefill;

/* What one iteration runs. */
typedef struct serve_batch {
    double decode_seqs, decode_tokens; /* tokens = seqs x (1, or k + 1 verifying) */
    double decode_context;             /* mean context of the decoding requests */
    double decode_context_max;         /* and the longest */
    double prefill_tokens;
    serve_prefill *prefill;
    int nprefill;
    double logits; /* rows through the LM head */
} serve_batch;

typedef struct serve_iter_cost {
    double seconds, weights_s, kv_s, comm_s, other_s;
} serve_iter_cost;

typedef struct serve_memory {
    double weights, workspace, reserve; /* per chip */
    double kv_per_token;                /* per chip */
    double kv_tokens;                   /* the KV cache's capacity, tokens */
} serve_memory;

serve_memory serve_memory_of(const serve_deployment *d, const serve_workload *w);
/* Attention and KV heads one chip holds, padded and replicated as the
 * engine shards them over its TP ranks (all of them under attention data
 * parallelism, for the chip's own requests). */
double serve_q_heads_per_chip(const serve_deployment *d, const wl_model *m);
/* The ways model m's dense MLPs, shared experts and LM head are split: TP,
 * or none under attention data parallelism (each chip runs them whole on
 * its own tokens). */
double serve_dense_split(const serve_deployment *d, const wl_model *m);
double serve_kv_heads_per_chip(const serve_deployment *d, const wl_model *m);
/* KV-cache bytes per token of a sequence of ctx tokens on one rank, a
 * speculative draft's layers included (a sliding-window layer keeps only its
 * window of them; ctx 0: every layer keeps every token). */
double serve_kv_bytes_per_token(const serve_deployment *d, double ctx);

/* Tokens a decode row's target pass verifies: the k drafted and the one
 * after them, or on a tree engine a Medusa tree's candidates; 1 without
 * speculation. */
double serve_verify_tokens(const serve_deployment *d);

/* Hidden states a request's Medusa heads read a round: its newest accepted
 * one on an engine that verifies their chain, else every verified tree
 * position (which one is accepted is known only after). */
double serve_medusa_rows(const serve_deployment *d);

/* The Medusa heads' pass over `rows` hidden states: each head's blocks and
 * LM head split over TP, their outputs gathered (TensorRT-LLM's MedusaHead:
 * ColumnLinear with gather_output). */
double serve_medusa_s(serve_ctx *c, double rows);

/* A request of the workload. */
typedef struct serve_request {
    double issued;         /* when the client sent it */
    double arrival, isl, osl; /* arrival: when a replica may take it */
    double isl_compute;    /* prompt tokens to compute (the rest hit the prefix cache) */
    double cached;         /* prompt tokens whose KV came from the prefix cache */
    double generated_base; /* output tokens whose KV a re-prefill rebuilds (after preemption) */
    double prefilled, generated;
    double first_token, finish;
    double last_token;     /* when its latest output token (or tokens) came out */
    bool first_pending;    /* a static batch's row waiting for the batch's first token */
    int replica;
    int line;              /* a trace's request: its line in the file */
} serve_request;

/* Inter-token latencies, every gap between two outputs of a request pooled
 * over all requests as vLLM's benchmark pools them: counts in logarithmic
 * bins 0.1% wide from 0.1 us to 10^4 s, so percentiles are within 0.1% and
 * the mean (from the exact sum) exact, in fixed memory however many tokens. */
#define SERVE_HIST_BINS 25400
typedef struct serve_hist {
    int64_t counts[SERVE_HIST_BINS];
    int64_t n;
    double sum;
} serve_hist;

void serve_hist_add(serve_hist *h, double seconds);
serve_percentiles serve_hist_percentiles(const serve_hist *h);

/* Makes the workload's requests (seeded), arrival order; serve_run gives
 * them their replicas (serve_replica_of). */
usim_status serve_requests(const serve_workload *w, serve_request **out, int64_t *count,
                           usim_error *err);

/* The replica request i goes to, and a closed loop's clients on a replica. */
int serve_replica_of(const serve_workload *w, int replicas, int64_t i);
int serve_clients_of(const serve_workload *w, int replicas, int r);

usim_dtype serve_gemm_dtype(const serve_deployment *d);
/* The longest request the engine is set up for: the deployment's, else the
 * model's context (vLLM's default). */
double serve_max_model_len(const serve_deployment *d);

/* A uniform draw in (0, 1) from a splitmix64 stream (seeded, deterministic). */
double serve_uniform(uint64_t *state);
/* Prompt tokens a whole-prompt engine prefills next of a request that has
 * prefilled some and has `left`: all of them, or on an engine that runs a
 * prompt's tail token by token, up to its largest context graph and then one
 * token-generation step a token. */
double serve_prompt_chunk(const serve_deployment *d, double prefilled, double left);
/* Whether a request with `prefilled` prompt tokens done steps its prompt's
 * tail one token at a time (past the largest context graph). */
bool serve_in_prompt_tail(const serve_deployment *d, double prefilled);
serve_iter_cost serve_iteration(serve_ctx *c, const serve_batch *b);

/* A chip's routed-expert GEMMs in one MoE layer of `tokens` tokens (EP ep): one per
 * expert the tokens reach, of the tokens each gets (selective loading); or,
 * in blocks of `block` tokens (Neuron's blockwise prefill), every block a
 * routing could need, ceil(tokens x top-k / block) + experts - 1 of them. */
typedef struct serve_experts {
    double gemms, rows;
} serve_experts;
serve_experts serve_routed_experts(const wl_model *m, int ep, double tokens, double block);

#endif
