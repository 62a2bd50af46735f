/*
 * ultrasim serve layer: inference serving, request by request.
 *
 * A deployment is a model on a tensor- (and pipeline-) parallel group of
 * chips, repeated as data-parallel replicas. Each model forward (an
 * iteration) is costed from the engine and network layers: prefill tokens
 * are compute-bound GEMMs, decode reads every weight and the KV cache from
 * HBM, and every layer's TP all-reduces cross the scale-up links, where per-hop
 * latency matters at batch 1. A scheduler (static batching, continuous
 * batching, chunked prefill, prefill/decode disaggregation) decides what each
 * iteration runs; a paged KV cache bounds how many requests run at once.
 * Speculative decoding has a draft model propose k tokens and the target
 * verify them in one pass of k + 1 tokens, accepting each with probability a.
 */
#ifndef ULTRASIM_SERVE_H
#define ULTRASIM_SERVE_H

#include <stdint.h>

#include "ultrasim/hw.h"
#include "ultrasim/workload.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How weights (and the KV cache) are stored; serve_weight_bytes says how
 * big each is and serve_gemm_dtype what a GEMM computes in. */
typedef enum serve_weights {
    SERVE_W_BF16,
    SERVE_W_FP8,
    SERVE_W_INT8,  /* weight-only: dequantised to bf16 */
    SERVE_W_FP16,
    SERVE_W_INT4,  /* weight-only, AWQ/GPTQ groups of 128 with an fp16 scale */
    SERVE_W_MXFP4, /* weight-only, OCP MX: 32 FP4 values share an 8-bit scale */
    SERVE_W_NVFP4, /* weights and activations in FP4 on FP4 tensor cores: 16 share an FP8 scale */
    SERVE_W_COUNT
} serve_weights;

/* Bytes a weight (or KV element) of that type takes, scales included. */
double serve_weight_bytes(int weights);
typedef enum serve_scheduler {
    SERVE_STATIC,     /* a fixed batch runs to completion before the next */
    SERVE_CONTINUOUS, /* requests join and leave at every iteration; prefill first */
    SERVE_CHUNKED,    /* continuous, prefill cut into chunks within a token budget */
    SERVE_DISAGG,     /* prefill and decode on separate replicas, KV sent between */
    SERVE_INFLIGHT    /* continuous, decodes and whole prompts together within the budget */
} serve_scheduler;

/* The schedulers' names, in serve_scheduler's order, NULL-terminated. */
extern const char *const serve_scheduler_names[];
typedef enum serve_mode {
    SERVE_OFFLINE,
    SERVE_STATIC_RUN,
    SERVE_CLOSED,
    SERVE_POISSON,
    SERVE_TRACE,
    SERVE_CONSTANT, /* arrivals 1 / rate apart (guidellm's constant rate) */
    SERVE_SWEEP     /* not a load: the serve command runs a series of the others */
} serve_mode;

/* How far a decode step reads a request's KV cache: its context (paged
 * attention), the power-of-two bucket its context falls in (a compiled
 * token-generation graph per bucket), or the deployment's max_model_len
 * (a block table compiled for the longest request). */
typedef enum serve_kv_read { SERVE_KV_CONTEXT, SERVE_KV_BUCKET, SERVE_KV_MAX_MODEL_LEN } serve_kv_read;

/* Attention data parallelism for a mixture-of-experts model: as the engine
 * runs it (serve_engine.moe_attention_dp), or on or off whatever it does. */
typedef enum serve_attention_dp_choice {
    SERVE_ADP_ENGINE,
    SERVE_ADP_ON,
    SERVE_ADP_OFF
} serve_attention_dp_choice;

/* What an engine's KV-cache fraction is a share of: the memory left once the
 * model is loaded, or the whole HBM. */
typedef enum serve_kv_share { SERVE_KV_OF_FREE, SERVE_KV_OF_TOTAL } serve_kv_share;

/* A serving engine as data (data/engines/NAME.json): the limits and the
 * batching its throughput benchmark runs with when a run gives none. */
/* When an engine's decode kernel reads a KV head once for the query heads
 * of its group (an engine that lists no groups: always); any other model's
 * decode reads it once per query head, as the per-head kernel does. */
typedef struct serve_shared_kv {
    int groups[8];       /* query heads per KV head it takes */
    int ngroups;
    int head_dims[8];    /* head sizes it takes */
    int nhead_dims;
    bool sliding_window; /* it also runs layers with a sliding window */
} serve_shared_kv;

/* The chips an engine runs on: its kernels are a GPU's or a Trainium's. */
typedef enum serve_platform { SERVE_ON_ANY, SERVE_ON_GPU, SERVE_ON_TRAINIUM } serve_platform;

typedef struct serve_engine {
    char name[64];
    char description[240];
    int runs_on; /* serve_platform */
    int max_batch;    /* requests in flight a replica runs at most (the KV cache may hold fewer) */
    int token_budget; /* tokens an iteration may prefill (chunked prefill) */
    int scheduler;    /* serve_scheduler */
    /* Admits a request only when the cache can hold its whole prompt and
     * output (TensorRT-LLM's guaranteed_no_evict), so nothing is ever
     * preempted; otherwise admits on the prompt and preempts when short. */
    bool reserve_output;
    /* Compiled shapes (Neuron): a prompt runs in the context-encoding graph
     * of the next power of two >= prefill_bucket_min tokens and pays for the
     * padding (0: no buckets). */
    int prefill_bucket_min;
    int max_prefills; /* prompts an iteration prefills at most (0: any) */
    int decode_kv_read; /* serve_kv_read: how far a decode step reads each request's cache */
    /* Mixture-of-experts prefill as Neuron's blockwise matmul runs it: blocks
     * of this many tokens, one expert each, ceil(tokens x top-k / block) +
     * experts - 1 of them computed (0: only the tokens routed). */
    int moe_prefill_block;
    /* The attention kernel the engine's graphs run when the run names none
     * (engine_attention_kernel; transformers-neuronx before SDK 2.19 built
     * the whole score matrix). */
    int attention;
    /* Host time between one graph execution and the next that the device
     * sits idle for (dispatch, allocation, Python), paid by every prefill,
     * decode, draft and verify step: an engine that launches synchronously. */
    double step_gap_s;
    /* max_batch and token_budget are caps: the limits the engine's
     * benchmark derives for each workload from the requests its KV cache
     * holds (trtllm-bench's engine tuning) are used below them. */
    bool tuned_limits;
    /* HBM bytes per routed token element a MoE layer's permutation kernels
     * move beyond its GEMMs (copying each token to its experts, reducing
     * their outputs back); 0: none counted. */
    double moe_permute_bytes;
    /* A prefill's TP collectives split into this many tiles, each moving
     * while the GEMM of the next computes (the Neuron compiler's collective-
     * compute pipelining); 0 or 1: each collective runs after its GEMM. */
    int collective_tiles;
    /* The share of HBM the KV cache may take: of what the weights, one
     * iteration's workspace and the runtime leave (TensorRT-LLM's
     * kv_cache_free_gpu_mem_fraction), or of the whole memory, everything
     * else inside it (vLLM's gpu_memory_utilization); 0: all that is left. */
    double kv_fraction;
    int kv_fraction_of; /* serve_kv_share */
    /* A mixture-of-experts model runs its attention, dense MLPs, shared
     * experts and LM head data-parallel over the TP group's GPUs (whole on
     * each, each GPU its own requests), only the routed experts split. */
    bool moe_attention_dp;
    /* Its longest request may be set beyond the model's context (rotary
     * positions run on); an engine without it refuses that, as vLLM does. */
    bool max_model_len_beyond_context;
    /* Its own context-encoding buckets end at half of max_model_len, and a
     * prompt longer than its largest context-encoding graph (its own or a
     * run's list) runs the rest one token at a time through the
     * token-generation graph; an engine without it refuses such a prompt. */
    bool serial_prompt_tail;
    /* Its token-generation graph is compiled for the batch cap, and a step
     * with fewer requests runs padded up to it (NxD Inference's
     * _forward_with_pad): every line's weights' share, KV read, norms and
     * logits, as if full. */
    bool pad_decode_batch;
    /* Medusa heads propose their top-1 tokens, a chain the target verifies
     * as k + 1 tokens, and run on each request's newest accepted position
     * only (vLLM); else a tree of the heads' candidates, the heads run over
     * every verified position (TensorRT-LLM, the Medusa paper). */
    bool medusa_chain;
    serve_shared_kv shared_kv;
} serve_engine;

/* The engine a run serves with when neither it nor its system names one: on
 * GPUs TensorRT-LLM, on Trainium AWS's own NxD Inference. */
#define SERVE_DEFAULT_ENGINE "trtllm"
#define SERVE_DEFAULT_TRAINIUM_ENGINE "nxdi"
#define SERVE_MAX_BUCKETS 32 /* context-encoding buckets a run may list */
/* --spec-draft's name for prompt lookup: n-gram proposals made on the host */
#define SERVE_NGRAM_DRAFT "ngram"

usim_status serve_engine_load(const char *name_or_file, serve_engine *out, usim_error *err);
/* The engine presets (data/engines) that run on a GPU (trainium false) or a
 * Trainium chip, comma-separated into buf: what an error offers instead. */
void serve_engines_for(bool trainium, char *buf, size_t size);
/* Whether engine e runs on a Trainium chip (trainium) or a GPU. */
bool serve_engine_runs_on(const serve_engine *e, bool trainium);
/* The engine sys serves with when a run names none: its own, else the
 * platform's default. */
const char *serve_default_engine(const struct hw_system *sys);

/* The attention kernel an engine decodes model m with when a run names
 * none: its own, or the per-head kernel where its grouped kernel does not
 * apply (engine_attention_kernel). */
int serve_engine_attention(const serve_engine *e, const wl_model *m);

/* Medusa heads (Cai et al. 2024), a draft made of the target's own last
 * hidden state: `heads` heads, each `head_layers` residual blocks (an
 * h x h linear with bias, SiLU, added back) and its own LM head (h x
 * vocab), one draft position each; a round verifies a tree of
 * `tree_tokens` candidates a request (the root included) in one target
 * pass, or on an engine that verifies the heads' top-1 chain
 * (serve_engine.medusa_chain) heads + 1 tokens. data/medusa/NAME.json or a
 * file of "kind": "medusa". */
typedef struct serve_medusa {
    char name[64];
    int heads, head_layers, hidden, vocab, tree_tokens;
} serve_medusa;

/* Whether name_or_file is a Medusa preset or file (else a draft model). */
bool serve_is_medusa(const char *name_or_file);
usim_status serve_medusa_load(const char *name_or_file, serve_medusa *out, usim_error *err);
/* Its weights: per head, the blocks' h x h + h and the LM head's h x vocab. */
double serve_medusa_params(const serve_medusa *m);

typedef struct serve_deployment {
    wl_model model;
    hw_system sys;
    int tp, pp, replicas;
    /* TP ranks on each chip: on Trainium its logical NeuronCores (NxD
     * Inference shards over cores), whose all-reduces also step between the
     * cores of a chip; 0 or 1: a rank is a chip. */
    int tp_ranks_per_chip;
    /* Replicas one Trainium chip runs side by side when a TP group takes
     * fewer logical NeuronCores than the chip has: sys.chip is then one such
     * part (hw_chip_part) and sys.chips counts parts. 0 or 1: a replica
     * takes whole chips. */
    int chip_parts;
    /* Expert parallel ranks: chips of one pipeline stage (a TP group), each
     * holding experts / ep whole experts split tp / ep ways; ep divides tp. */
    int ep;
    int weights;          /* serve_weights */
    int kv_dtype;         /* serve_weights: bf16, fp16, fp8 or int8 */
    int max_batch;
    int block_tokens;     /* KV cache block */
    int scheduler;        /* serve_scheduler */
    int token_budget;     /* chunked prefill: tokens per iteration */
    int prefill_replicas; /* disaggregation: replicas doing prefill (of replicas) */
    /* speculative decoding: spec_len 0 = off; the draft a model, or
     * Medusa heads (medusa.heads > 0), or n-gram lookup (neither) */
    wl_model draft;
    serve_medusa medusa;
    int spec_len;
    double spec_accept;
    double prefix_hit;    /* fraction of prompt tokens found in the prefix cache */
    int attention;        /* engine_attention_kernel */
    int draft_attention;  /* the draft's: the engine's rule for its own heads unless given */
    int max_model_len;    /* the longest request the engine is set up for (tokens) */
    /* context-encoding buckets the engine was compiled with, ascending
     * (NxD Inference's context_encoding_buckets); none: the engine's own */
    int prefill_buckets[SERVE_MAX_BUCKETS];
    int nprefill_buckets;
    int attention_dp; /* serve_attention_dp_choice: for a mixture-of-experts model */
    serve_engine engine;  /* what the limits not given come from */
} serve_deployment;

/* Whether a draft model (a model or an EAGLE head) runs beside the target;
 * an n-gram draft (--spec-draft ngram) proposes from the request's own
 * tokens on the host and runs nothing on the chips, Medusa heads run on
 * the target's state. */
bool serve_draft_runs(const serve_deployment *d);

/* Chips that run attention data-parallel for model m: the TP group's when
 * the deployment runs a mixture-of-experts model's attention, dense MLPs,
 * shared experts and LM head whole on every chip, each chip its own
 * requests, and splits only the routed experts (TensorRT-LLM's
 * enable_attention_dp); 1 otherwise. */
int serve_attention_dp(const serve_deployment *d, const wl_model *m);
/* Requests a replica runs at once and tokens an iteration takes: the
 * deployment's max_batch and token_budget, which under attention data
 * parallelism are each chip's (TensorRT-LLM's max_batch_size and
 * max_num_tokens are per rank), times its chips. */
int serve_replica_batch(const serve_deployment *d);
double serve_replica_budget(const serve_deployment *d);
/* The longest prompt one context-encoding graph takes: a run's largest
 * listed bucket, else max_model_len. */
double serve_context_bucket_max(const serve_deployment *d);

typedef struct serve_workload {
    int mode;             /* serve_mode */
    int64_t requests;
    int64_t isl, osl;     /* input and output tokens (means when spread) */
    double isl_spread, osl_spread; /* uniform +- fraction of the mean */
    int concurrency;      /* closed loop */
    double rate;          /* Poisson or constant, requests/s */
    int sweep_size;       /* --mode sweep: runs in the series */
    const char *trace_file; /* CSV: arrival_s, input_tokens, output_tokens */
    uint64_t seed;
    double slo_ttft_s, slo_tpot_s; /* 0 = none */
} serve_workload;

/* The batch and token limits an engine with tuned_limits sets for
 * deployment d and workload w (its max_batch and token_budget otherwise). */
void serve_engine_limits(const serve_deployment *d, const serve_workload *w, int *max_batch,
                         int *token_budget);

typedef struct serve_percentiles {
    double p50, p90, p99, mean;
} serve_percentiles;

typedef struct serve_result {
    serve_percentiles ttft, tpot, e2e;
    serve_percentiles itl; /* every gap between two outputs of a request, pooled */
    double output_tokens_per_s, output_tokens_per_s_per_chip;
    double requests_per_s, goodput_requests_per_s, slo_attainment;
    double makespan_s;
    int64_t requests, output_tokens, preemptions, iterations;
    double kv_capacity_tokens, kv_peak_use; /* per replica; use as a fraction */
    double weights_bytes_per_chip, kv_bytes_per_chip;
    double cost_per_mtok_usd, energy_per_token_j;
    double chips; /* a replica on part of a chip (chip_parts) counts its share */
    /* Where a decode iteration at batch 1 goes (for the explanation). */
    double decode_weights_s, decode_kv_s, decode_comm_s, decode_other_s, decode_step_s;
    double decode_step_lines; /* the lines that pass runs: 1, or a compiled batch it pads to */
    double prefill_s, prefill_tokens; /* one request's prefill, alone */
    /* Where it goes (a draft's prefill and a serial tail's steps counted in) */
    double prefill_weights_s, prefill_attention_s, prefill_comm_s, prefill_other_s;
    double prefill_serial_tokens;     /* of them, run one at a time after the largest graph */
    double tokens_per_round; /* speculative: tokens accepted per target pass */
    /* A quantity that does not exist is NaN with the reason here (NULL when
     * it exists): TPOT without a second token, cost without a price, SLO
     * attainment without an SLO. */
    const char *tpot_note, *cost_note, *energy_note, *slo_note;
    /* Requests longer than the model's context (rotary positions run on past
     * it, so the run goes ahead); "" when none. */
    char context_note[160];
} serve_result;

/* Checks the deployment: degrees divide the model, chips suffice, the chip
 * can run its GEMMs, weights and at least one full-length request's KV
 * cache fit. serve_run also checks the requests against the model's
 * positions and the load's time span. */
usim_status serve_check(const serve_deployment *d, const serve_workload *w, usim_error *err);

usim_status serve_run(const serve_deployment *d, const serve_workload *w, serve_result *out,
                      usim_error *err);

/* Expert parallelism of EP ranks over a stage of TP ranks ("chips", or
 * "NeuronCores" with --tp-unit core): the model has experts, EP divides them,
 * and EP divides TP, as EP ranks are the stage's own ranks. */
usim_status serve_check_ep(const wl_model *m, int ep, int tp, const char *ranks, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
