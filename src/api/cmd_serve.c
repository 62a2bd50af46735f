/*
 * `ultrasim serve`: TTFT, TPOT, end-to-end latency, throughput and cost of a
 * deployment under a load.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/intervals.h"
#include "ultrasim/serve.h"

extern const api_command api_cmd_serve;

/* serve_weights, in order; the KV cache takes the first four */
static const char *const WEIGHTS[] = {"bf16", "fp8", "int8", "fp16", "int4", "mxfp4", "nvfp4",
                                      NULL};
static const char *const KV_TYPES[] = {"bf16", "fp8", "int8", "fp16", NULL};
/* serve_mode, in order, then guidellm's names for two of them */
static const char *const MODES[] = {"offline", "static",   "closed",      "poisson",    "trace",
                                    "constant", "sweep",   "synchronous", "throughput", NULL};
enum { MODE_SYNCHRONOUS = 7, MODE_THROUGHPUT = 8 };
static const char *const PRESETS[] = {"none", "latency", "throughput", NULL};
static const char *const TP_UNITS[] = {"chip", "core", NULL};
static const char *const ATTENTION_DP[] = {"engine", "on", "off", NULL}; /* serve_attention_dp_choice */

/* Leviathan et al. 2023 (speculative decoding) report acceptance rates of
 * about 0.5 to 0.9 across model pairs and tasks; 0.7 sits in that range and
 * is the same for every run that does not give one. */
#define DEFAULT_SPEC_ACCEPT "0.7"

static const usim_option SERVE_OPTIONS[] = {
    {"model", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", "model preset or config.json", NULL,
     NULL, 0, 0, true, true},
    API_OPT_HW("system preset or JSON file"),
    API_OPT_CHIPS,
    API_OPT_NETWORK,
    {"tp", USIM_OPT_INT, USIM_UNIT_NONE, "T", "tensor parallel degree of a replica", NULL, NULL,
     1, 65536, true},
    {"pp", USIM_OPT_INT, USIM_UNIT_NONE, "P", "pipeline parallel degree of a replica", "1", NULL,
     1, 1024, false},
    {"ep", USIM_OPT_INT, USIM_UNIT_NONE, "E",
     "expert parallel groups within a stage's TP chips (MoE; divides TP)", "1", NULL, 1, 65536,
     false},
    {"replicas", USIM_OPT_INT, USIM_UNIT_NONE, "R",
     "data-parallel replicas (with --chips and no --replicas: chips / (TP x PP))", "1", NULL, 1, 1e6,
     false},
    {"tp-unit", USIM_OPT_CHOICE, USIM_UNIT_NONE, "UNIT",
     "what --tp counts on Trainium: chips, or logical NeuronCores (fewer than a chip has: replicas share the chip)", "chip", TP_UNITS, 0, 0,
     false},
    {"weights", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE",
     "weight type (int8, int4 and mxfp4 are weight-only: dequantised to bf16; nvfp4 computes in "
     "FP4 and needs a chip with FP4 tensor cores)", "bf16", WEIGHTS,
     0, 0, false},
    {"kv-dtype", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE",
     "KV cache type (default: as --weights; fp8 for nvfp4 weights, bf16 for int4 and mxfp4)", NULL, KV_TYPES, 0,
     0, false},
    {"engine", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",
     "serving engine (data/engines: trtllm, trtllm-0.9, vllm, sglang, nxdi, vllm-neuron, "
     "optimum-neuron, transformers-neuronx) or engine "
     "JSON: the batch, scheduler "
     "and token budget a run gives none of (default: the system's own)",
     NULL, NULL, 0, 0, false},
    {"batch", USIM_OPT_INT, USIM_UNIT_NONE, "B",
     "largest batch a replica runs (with PP, each of its PP batches in flight), or under "
     "--attention-dp each chip, as TensorRT-LLM's max_batch_size (default: the engine's; the "
     "KV cache may hold fewer)", NULL,
     NULL, 1, 65536, false},
    {"max-model-len", USIM_OPT_INT, USIM_UNIT_NONE, "TOKENS",
     "the longest request the engine is set up for, as vLLM's --max-model-len; an engine whose "
     "decode reads the cache that far (vllm-neuron) pays for it (default: the model's context)",
     NULL, NULL, 1, 1e7, false},
    {"prefill-buckets", USIM_OPT_STRING, USIM_UNIT_NONE, "LIST",
     "context-encoding buckets an engine of compiled graphs was built with, as NxD Inference's "
     "context_encoding_buckets (comma-separated tokens, ascending): a prompt runs padded to the "
     "smallest that holds it (default: the engine's powers of two up to --max-model-len)",
     NULL, NULL, 0, 0, false},
    {"block", USIM_OPT_INT, USIM_UNIT_NONE, "TOKENS", "KV cache block (page) size", "16", NULL, 1,
     65536, false},
    {"scheduler", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KIND", "batching (default: the engine's)",
     NULL, serve_scheduler_names, 0, 0, false},
    {"attention-dp", USIM_OPT_CHOICE, USIM_UNIT_NONE, "WHEN",
     "a mixture-of-experts model's attention, dense MLPs, shared experts and LM head whole on "
     "every chip of a TP group, each chip its own requests, only the routed experts split "
     "(TensorRT-LLM's enable_attention_dp, a DEP configuration; --batch and --token-budget "
     "then count each chip's): as the engine runs it, or on or off",
     "engine", ATTENTION_DP, 0, 0, false},
    {"token-budget", USIM_OPT_INT, USIM_UNIT_NONE, "N",
     "tokens an iteration runs at most: chunked prefill cuts prompts to it, in-flight batching "
     "adds whole prompts beside the decodes up to it, prefill-first engines and disaggregated "
     "prefill replicas prefill whole prompts up to it (default: the engine's)", NULL, NULL, 16, 1048576,
     false},
    {"prefill-replicas", USIM_OPT_INT, USIM_UNIT_NONE, "N",
     "disaggregation: replicas that prefill (the rest decode)", "1", NULL, 1, 1e6, false},
    {"isl", USIM_OPT_INT, USIM_UNIT_NONE, "I", "input tokens per request", "1024", NULL, 1, 1e7,
     false},
    {"osl", USIM_OPT_INT, USIM_UNIT_NONE, "O", "output tokens per request", "256", NULL, 1, 1e7,
     false},
    {"isl-spread", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "F",
     "input lengths uniform within +-F of --isl", "0", NULL, 0, 0.99, false},
    {"osl-spread", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "F",
     "output lengths uniform within +-F of --osl", "0", NULL, 0, 0.99, false},
    {"requests", USIM_OPT_INT, USIM_UNIT_NONE, "N", "requests to simulate (a trace's rows are its own)", "256", NULL, 1, 1e7,
     false},
    {"mode", USIM_OPT_CHOICE, USIM_UNIT_NONE, "MODE",
     "how requests arrive; guidellm's synchronous is closed with one request in flight, its "
     "throughput is offline", "closed", MODES, 0, 0, false},
    {"concurrency", USIM_OPT_INT, USIM_UNIT_NONE, "C", "closed loop: requests in flight",
     "1", NULL, 1, 1e7, false},
    {"sweep-size", USIM_OPT_INT, USIM_UNIT_NONE, "N",
     "--mode sweep: runs in the series, as guidellm's sweep: synchronous, throughput, then N - 2 "
     "constant rates evenly spaced up to the throughput one",
     "10", NULL, 2, 100, false},
    {"rate", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "QPS",
     "arrivals per second: Poisson (implies --mode poisson), or evenly spaced with --mode constant",
     NULL, NULL,
     1e-6, 1e9, false},
    {"trace-in", USIM_OPT_STRING, USIM_UNIT_NONE, "F.csv",
     "requests from a CSV: arrival_s,input_tokens,output_tokens", NULL, NULL, 0, 0, false},
    {"spec-draft", USIM_OPT_STRING, USIM_UNIT_NONE, "MODEL",
     "speculative decoding draft: a model, an EAGLE-3 head, Medusa heads (data/medusa: "
     "medusa-vicuna-7b, or a file), or ngram (prompt lookup on the host: no model runs; needs "
     "--spec-accept)",
     NULL, NULL, 0, 0, false},
    {"spec-len", USIM_OPT_INT, USIM_UNIT_NONE, "K",
     "draft tokens per round (with --spec-draft; Medusa: its heads)", "4", NULL, 1, 64, false},
    {"spec-accept", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "A",
     "probability a draft token is accepted", DEFAULT_SPEC_ACCEPT, NULL, 0, 0.999, false},
    {"prefix-hit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "F",
     "fraction of prompt tokens found in the prefix cache", "0", NULL, 0, 0.99, false},
    {"preset", USIM_OPT_CHOICE, USIM_UNIT_NONE, "NAME",
     "latency: batch 4, FP8 weights, speculative; throughput: batch 256, chunked prefill",
     "none", PRESETS, 0, 0, false},
    {"slo-ttft", USIM_OPT_QUANTITY, USIM_UNIT_SECONDS, "TIME", "SLO on time to first token",
     NULL, NULL, 1e-6, 3600, false},
    {"slo-tpot", USIM_OPT_QUANTITY, USIM_UNIT_SECONDS, "TIME", "SLO on time per output token",
     NULL, NULL, 1e-6, 3600, false},
    {"seed", USIM_OPT_INT, USIM_UNIT_NONE, "N", "random seed", "1", NULL, 0, 9e15, false},
    API_OPT_ATTENTION,
    API_OPT_REPORT,
};

/* A preset's values where the request gives none. */
static void apply_preset(json_t *req, int preset, const wl_model *m)
{
    if (preset == 1) {
        json_t *defaults = api_pack("{s:s, s:s, s:s}", "batch", "4", "weights", "fp8",
                                     "kv-dtype", "fp8");
        /* The Llama 3 family shares its tokenizer with Llama 3.2 1B, the
         * usual draft (as in the Neuron 405B tutorial). */
        if (m->vocab == 128256 && m->layers > 16)
            json_object_set_new(defaults, "spec-draft", json_string("llama3.2-1b"));
        json_object_update_missing(req, defaults);
        json_decref(defaults);
    } else if (preset == 2) {
        json_t *defaults = api_pack("{s:s, s:s, s:s}", "batch", "256", "scheduler", "chunked",
                                     "token-budget", "8192");
        json_object_update_missing(req, defaults);
        json_decref(defaults);
    }
}

/* Options that only some loads read; any other load would ignore them, so
 * giving one there is an error rather than a silent no-op. */
typedef struct load_option {
    const char *name;
    unsigned modes; /* bit per serve_mode that reads it */
    const char *why;
} load_option;

#define ANY_BUT_TRACE                                                                         \
    ((1u << SERVE_OFFLINE) | (1u << SERVE_STATIC_RUN) | (1u << SERVE_CLOSED) |                  \
     (1u << SERVE_POISSON) | (1u << SERVE_CONSTANT) | (1u << SERVE_SWEEP))

static const load_option LOAD_OPTIONS[] = {
    {"requests", ANY_BUT_TRACE, "the trace's rows are the requests"},
    {"isl", ANY_BUT_TRACE, "the trace gives each request's input tokens"},
    {"osl", ANY_BUT_TRACE, "the trace gives each request's output tokens"},
    {"isl-spread", ANY_BUT_TRACE, "the trace gives each request's input tokens"},
    {"osl-spread", ANY_BUT_TRACE, "the trace gives each request's output tokens"},
    {"rate", (1u << SERVE_POISSON) | (1u << SERVE_CONSTANT),
     "only --mode poisson and constant send at a rate"},
    {"concurrency", 1u << SERVE_CLOSED, "only --mode closed has clients"},
    {"sweep-size", 1u << SERVE_SWEEP, "only --mode sweep runs a series"},
    {"slo-ttft", ~(1u << SERVE_SWEEP), "a sweep prints no SLO attainment"},
    {"slo-tpot", ~(1u << SERVE_SWEEP), "a sweep prints no SLO attainment"},
    {"report", ~(1u << SERVE_SWEEP), "the report page shows one run"},
};

/* shown: the mode as the user named it (throughput runs as offline, but a
 * message names what was asked for). */
static usim_status check_load_options(json_t *req, int mode, const char *shown, usim_error *err)
{
    for (size_t i = 0; i < sizeof LOAD_OPTIONS / sizeof LOAD_OPTIONS[0]; i++) {
        const load_option *o = &LOAD_OPTIONS[i];
        if (json_object_get(req, o->name) && !(o->modes & (1u << mode)))
            return usim_fail_field(err, USIM_EINPUT, o->name,
                                   "does not apply to --mode %s: %s", shown, o->why);
    }
    return USIM_OK;
}

/* The load: --trace-in implies --mode trace and --rate --mode poisson, unless
 * --mode says otherwise (then they conflict). */
static int load_mode(json_t *req, int mode, const serve_workload *w)
{
    if (json_object_get(req, "mode"))
        return mode;
    if (w->trace_file)
        return SERVE_TRACE;
    if (json_object_get(req, "rate"))
        return SERVE_POISSON;
    return mode;
}

static usim_status read_workload(const usim_command *cmd, json_t *req, serve_workload *w,
                                 usim_error *err)
{
    usim_status st = USIM_OK;
    memset(w, 0, sizeof *w);
    w->mode = api_next_choice(cmd, req, "mode", &st, err);
    w->requests = api_next_int(cmd, req, "requests", 0, &st, err);
    w->isl = api_next_int(cmd, req, "isl", 0, &st, err);
    w->osl = api_next_int(cmd, req, "osl", 0, &st, err);
    w->isl_spread = api_next_quantity(cmd, req, "isl-spread", 0, &st, err);
    w->osl_spread = api_next_quantity(cmd, req, "osl-spread", 0, &st, err);
    w->concurrency = (int)api_next_int(cmd, req, "concurrency", 0, &st, err);
    w->rate = api_next_quantity(cmd, req, "rate", 0, &st, err);
    w->sweep_size = (int)api_next_int(cmd, req, "sweep-size", 0, &st, err);
    w->seed = (uint64_t)api_next_int(cmd, req, "seed", 0, &st, err);
    w->slo_ttft_s = api_next_quantity(cmd, req, "slo-ttft", 0, &st, err);
    w->slo_tpot_s = api_next_quantity(cmd, req, "slo-tpot", 0, &st, err);
    api_string(cmd, req, "trace-in", &w->trace_file, err);
    if (st != USIM_OK)
        return st;
    if (w->mode == MODE_SYNCHRONOUS && w->concurrency > 1)
        return usim_fail_field(err, USIM_EINPUT, "concurrency",
                               "--mode synchronous runs one request at a time, not %d; allowed: "
                               "1, or --mode closed",
                               w->concurrency);
    const char *typed = MODES[w->mode];
    if (w->mode == MODE_SYNCHRONOUS)
        w->mode = SERVE_CLOSED, w->concurrency = 1;
    else if (w->mode == MODE_THROUGHPUT)
        w->mode = SERVE_OFFLINE;
    w->mode = load_mode(req, w->mode, w);
    /* messages name the mode as typed (throughput runs as offline) */
    const char *shown = json_object_get(req, "mode") ? typed : MODES[w->mode];
    if ((w->mode == SERVE_POISSON || w->mode == SERVE_CONSTANT) && w->rate <= 0)
        return usim_fail_field(err, USIM_EINPUT, "rate", "--mode %s needs --rate QPS",
                               shown);
    if (w->mode == SERVE_TRACE && !w->trace_file)
        return usim_fail_field(err, USIM_EINPUT, "trace-in", "--mode trace needs --trace-in F.csv");
    if (w->mode != SERVE_TRACE && w->trace_file)
        return usim_fail_field(err, USIM_EINPUT, "trace-in",
                               "does not apply to --mode %s: a trace sets the arrivals (use "
                               "--mode trace, or leave --mode out)",
                               shown);
    return check_load_options(req, w->mode, shown, err);
}

/* --tp-unit core: TP and EP count NeuronCores. EP ranks must divide the
 * cores of a stage; per chip the split is then the same as EP of
 * gcd(ep, chips) chips (a rank of several cores on one chip, or of several
 * chips). */
/* A TP group of fewer logical cores than a Trainium chip has runs on its
 * share of the chip (a logical NeuronCore owns its physical cores and a
 * share of the HBM: "approximately 24 GiB of HBM per rank" of a Trn2's 96
 * under LNC 2, AWS's Neuron training best practices), and the chip's other
 * cores run replicas of their own; the run then counts chip parts. */
static usim_status split_chips(serve_deployment *d, int tp_cores, usim_error *err)
{
    int per_chip = 1;
    usim_status st = api_ranks_per_chip(&d->sys, "tp-unit", &per_chip, err);
    if (st != USIM_OK || tp_cores >= per_chip)
        return st;
    if (tp_cores < 1 || per_chip % tp_cores != 0)
        return usim_fail_field(err, USIM_EINPUT, "tp",
                               "%d cores do not divide a %s chip's %d logical cores (allowed: a "
                               "divisor of %d, or a multiple of it)",
                               tp_cores, d->sys.chip.name, per_chip, per_chip);
    if (d->pp > 1)
        return usim_fail_field(err, USIM_EINPUT, "pp",
                               "%d stages: a replica on %d of a chip's %d logical cores is not "
                               "pipelined (allowed: 1, or a TP of whole chips)",
                               d->pp, tp_cores, per_chip);
    d->chip_parts = per_chip / tp_cores;
    d->sys.chip = hw_chip_part(&d->sys.chip, d->chip_parts);
    d->sys.chips *= d->chip_parts;
    d->sys.node.chips *= d->chip_parts;
    d->sys.default_chips *= d->chip_parts;
    return USIM_OK;
}

static usim_status ranks_in_chips(serve_deployment *d, usim_error *err)
{
    int tp_cores = d->tp, ep_cores = d->ep;
    usim_status st = split_chips(d, tp_cores, err);
    if (st == USIM_OK)
        st = api_tp_in_chips(&d->sys, tp_cores, &d->tp, err);
    if (st == USIM_OK)
        st = serve_check_ep(&d->model, ep_cores, tp_cores, "NeuronCores", err);
    if (st == USIM_OK)
        d->ep = ep_cores > 1 ? (int)usim_gcd(ep_cores, d->tp) : 1;
    return st;
}

/* Without --replicas, the chips given with --chips are filled with
 * replicas (8 chips at TP 1 are 8 replicas); a remainder would sit idle. */
static usim_status fill_replicas(json_t *req, serve_deployment *d, usim_error *err)
{
    int group = d->tp * d->pp;
    if (json_object_get(req, "replicas") || !json_object_get(req, "chips"))
        return USIM_OK;
    if (d->sys.chips % group != 0)
        return usim_fail_field(err, USIM_EINPUT, "chips",
                               "%d chips do not split into replicas of TP %d x PP %d = %d chips "
                               "(allowed: a multiple of %d, or give --replicas)",
                               d->sys.chips, d->tp, d->pp, group, group);
    d->replicas = d->sys.chips / group;
    return USIM_OK;
}

/* An n-gram draft (vLLM's and TensorRT-LLM's "ngram" method, prompt
 * lookup): the host proposes the k tokens that followed the last match of
 * the newest tokens in the request, so no model runs and nothing of it
 * takes memory. How often the proposal holds depends on how much an output
 * repeats its prompt (summaries, edits, code), which no default can know:
 * --spec-accept must be given. */
static usim_status ngram_draft(json_t *req, serve_deployment *d, usim_error *err)
{
    memset(&d->draft, 0, sizeof d->draft);
    snprintf(d->draft.name, sizeof d->draft.name, "%s", SERVE_NGRAM_DRAFT);
    if (!json_object_get(req, "spec-accept"))
        return usim_fail_field(err, USIM_EINPUT, "spec-accept",
                               "missing with --spec-draft ngram: the share of drafted tokens "
                               "accepted is how much the output repeats its own prompt and "
                               "earlier tokens, which only the workload knows; allowed: 0 to "
                               "0.999 (measured: vLLM's spec_decode acceptance metrics)");
    return USIM_OK;
}

/* Medusa heads: trained on the target's last hidden state, so of its width
 * and vocabulary; each head drafts one position, so a round drafts as many
 * tokens as there are heads. */
static usim_status medusa_draft(const char *name, json_t *req, serve_deployment *d,
                                usim_error *err)
{
    memset(&d->draft, 0, sizeof d->draft);
    usim_status st = serve_medusa_load(name, &d->medusa, err);
    if (st != USIM_OK)
        return st;
    const serve_medusa *m = &d->medusa;
    snprintf(d->draft.name, sizeof d->draft.name, "%s", m->name);
    if (m->hidden != d->model.hidden || m->vocab != d->model.vocab)
        return usim_fail_field(err, USIM_EINPUT, "spec-draft",
                               "Medusa heads '%s' read a %d-wide state into %d tokens, the model "
                               "'%s' is %d wide with %d; allowed: heads trained on the model",
                               m->name, m->hidden, m->vocab, d->model.name, d->model.hidden,
                               d->model.vocab);
    /* every head runs and drafts its position, the tree (or the chain of
     * their top tokens) spans them all: fewer positions would be other heads */
    char verified[64];
    if (d->engine.medusa_chain)
        snprintf(verified, sizeof verified, "their top tokens verified as a chain of %d",
                 m->heads + 1);
    else
        snprintf(verified, sizeof verified, "its %d-token tree over all of them", m->tree_tokens);
    if (json_object_get(req, "spec-len") && d->spec_len != m->heads)
        return usim_fail_field(err, USIM_EINPUT, "spec-len",
                               "%d, but '%s' drafts %d positions a round (a head each, %s); "
                               "allowed: %d, or leave it out",
                               d->spec_len, m->name, m->heads, verified, m->heads);
    d->spec_len = m->heads;
    return USIM_OK;
}

/* The draft model; --spec-len and --spec-accept without one would be
 * ignored. */
static usim_status read_draft(const usim_command *cmd, json_t *req, serve_deployment *d,
                              usim_error *err)
{
    const char *draft = NULL;
    usim_status st = USIM_OK;
    api_string(cmd, req, "spec-draft", &draft, err);
    if (!draft) {
        const char *given = json_object_get(req, "spec-len")      ? "spec-len"
                            : json_object_get(req, "spec-accept") ? "spec-accept"
                                                                  : NULL;
        return given ? usim_fail_field(err, USIM_EINPUT, given,
                                       "needs a draft model: add --spec-draft MODEL")
                     : USIM_OK;
    }
    d->spec_len = (int)api_next_int(cmd, req, "spec-len", 0, &st, err);
    if (st == USIM_OK && strcmp(draft, SERVE_NGRAM_DRAFT) == 0)
        return ngram_draft(req, d, err);
    if (st == USIM_OK && serve_is_medusa(draft))
        return medusa_draft(draft, req, d, err);
    if (st == USIM_OK)
        st = wl_model_load(draft, &d->draft, err);
    if (st == USIM_EINPUT && strncmp(err->message, "unknown model", 13) == 0) {
        char model[sizeof err->message];
        snprintf(model, sizeof model, "%s", err->message);
        return usim_fail_field(err, USIM_EINPUT, "spec-draft",
                               "%s; a draft may also be Medusa heads (data/medusa, or a file of "
                               "\"kind\": \"medusa\") or %s",
                               model, SERVE_NGRAM_DRAFT);
    }
    if (st == USIM_OK && d->draft.vocab != d->model.vocab)
        st = usim_fail_field(err, USIM_EINPUT, "spec-draft",
                             "the draft's vocabulary (%d) differs from the model's (%d)",
                             d->draft.vocab, d->model.vocab);
    /* A draft pays off only by being cheaper a token than what it drafts for. */
    double draft_active = wl_model_params(&d->draft).active,
           target_active = wl_model_params(&d->model).active;
    if (st == USIM_OK && draft_active >= target_active)
        st = usim_fail_field(err, USIM_EINPUT, "spec-draft",
                             "'%s' computes %.3g B parameters a token, no fewer than the model "
                             "'%s' (%.3g B); allowed: a smaller draft",
                             d->draft.name, draft_active / 1e9, d->model.name,
                             target_active / 1e9);
    /* An EAGLE-3 head fuses the target's hidden states: it has their width. */
    if (st == USIM_OK && d->draft.fused_states > 0 && d->draft.hidden != d->model.hidden)
        st = usim_fail_field(err, USIM_EINPUT, "spec-draft",
                             "EAGLE-3 head '%s' is %d wide, the model %d; allowed: a head of the "
                             "model's hidden size",
                             d->draft.name, d->draft.hidden, d->model.hidden);
    return st;
}

/* One bucket of a --prefill-buckets list: digits only, 1 to the longest
 * request the engine is set up for, above the bucket before it. */
static usim_status bucket_entry(const char *list, const char *at, size_t len, int index,
                                int previous, int longest, int *out, usim_error *err)
{
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1), at);
    bool digits = len > 0 && len < 9 && strspn(at, "0123456789") >= len;
    long v = digits ? strtol(text, NULL, 10) : 0;
    if (!digits || v < 1 || v > longest)
        return usim_fail_field(err, USIM_EINPUT, "prefill-buckets",
                               "entry %d of '%.40s%s' is '%s'; allowed: whole numbers of tokens "
                               "from 1 to %d (the longest request, --max-model-len)",
                               index, list, strlen(list) > 40 ? "..." : "", text, longest);
    if (v <= previous)
        return usim_fail_field(err, USIM_EINPUT, "prefill-buckets",
                               "entry %d, %ld, is not above the bucket before it, %d; allowed: "
                               "ascending buckets",
                               index, v, previous);
    *out = (int)v;
    return USIM_OK;
}

usim_status api_load_engine(const usim_command *cmd, json_t *req, const hw_system *sys,
                            serve_engine *e, usim_error *err)
{
    const char *engine = NULL;
    usim_status st = api_string(cmd, req, "engine", &engine, err);
    if (st != USIM_OK)
        return st;
    st = serve_engine_load(engine ? engine : serve_default_engine(sys), e, err);
    /* a GPU engine's kernels do not run on a Trainium chip, nor Neuron's on a GPU */
    bool trainium = sys->chip.matrix.kind == HW_MATRIX_SYSTOLIC;
    if (st != USIM_OK || serve_engine_runs_on(e, trainium))
        return st;
    char allowed[256];
    serve_engines_for(trainium, allowed, sizeof allowed);
    return usim_fail_field(err, USIM_EINPUT, "engine",
                           "'%s' runs on %s, and %s's chips are %s (allowed here: %s)", e->name,
                           e->runs_on == SERVE_ON_TRAINIUM ? "Trainium" : "GPUs", sys->name,
                           trainium ? "Trainium" : "GPUs", allowed);
}

usim_status api_read_prefill_buckets(const usim_command *cmd, json_t *req, serve_deployment *d,
                                     usim_error *err)
{
    const char *list = NULL;
    usim_status st = api_string(cmd, req, "prefill-buckets", &list, err);
    if (st != USIM_OK || !list)
        return st;
    if (d->engine.prefill_bucket_min <= 0)
        return usim_fail_field(err, USIM_EINPUT, "prefill-buckets",
                               "engine '%s' runs prompts as they come, not in compiled buckets; "
                               "allowed with nxdi, vllm-neuron or transformers-neuronx",
                               d->engine.name);
    int longest = d->max_model_len > 0 ? d->max_model_len : d->model.max_seq;
    d->nprefill_buckets = 0;
    for (const char *at = list;; at++) {
        size_t len = strcspn(at, ",");
        if (d->nprefill_buckets == SERVE_MAX_BUCKETS)
            return usim_fail_field(err, USIM_EINPUT, "prefill-buckets",
                                   "more than %d buckets; allowed: up to %d", SERVE_MAX_BUCKETS,
                                   SERVE_MAX_BUCKETS);
        int n = d->nprefill_buckets;
        st = bucket_entry(list, at, len, n + 1, n ? d->prefill_buckets[n - 1] : 0, longest,
                          &d->prefill_buckets[n], err);
        if (st != USIM_OK)
            return st;
        d->nprefill_buckets++;
        at += len;
        if (!*at)
            return USIM_OK;
    }
}

static usim_status read_deployment(const usim_command *cmd, json_t *req, serve_deployment *d,
                                   usim_error *err)
{
    usim_status st = api_load_model(cmd, req, &d->model, err);
    if (st == USIM_OK)
        apply_preset(req, api_next_choice(cmd, req, "preset", &st, err), &d->model);
    if (st == USIM_OK)
        st = api_load_system(cmd, req, &d->sys, err);
    d->tp = (int)api_next_int(cmd, req, "tp", 0, &st, err);
    d->pp = (int)api_next_int(cmd, req, "pp", 0, &st, err);
    d->ep = (int)api_next_int(cmd, req, "ep", 0, &st, err);
    d->replicas = (int)api_next_int(cmd, req, "replicas", 0, &st, err);
    d->weights = api_next_choice(cmd, req, "weights", &st, err);
    /* Unless given, the cache a checkpoint of those weights carries: an FP8
     * one with FP8 weights and with NVFP4 ones (NVIDIA's ModelOpt
     * checkpoints write kv_cache_quant_algo FP8 beside both, the engines'
     * automatic KV type follows it, and trtllm-bench maps both to an fp8
     * cache, its _KV_CACHE_MAP), 16-bit with weight-only int4 and with
     * MXFP4 (gpt-oss ships no KV quantization). */
    d->kv_dtype = json_object_get(req, "kv-dtype") ? api_next_choice(cmd, req, "kv-dtype", &st, err)
                  : d->weights == SERVE_W_NVFP4                            ? SERVE_W_FP8
                  : d->weights == SERVE_W_INT4 || d->weights == SERVE_W_MXFP4 ? SERVE_W_BF16
                                                                              : d->weights;
    if (st == USIM_OK)
        st = api_load_engine(cmd, req, &d->sys, &d->engine, err);
    d->max_batch = (int)api_next_int(cmd, req, "batch", d->engine.max_batch, &st, err);
    d->block_tokens = (int)api_next_int(cmd, req, "block", 0, &st, err);
    d->max_model_len = (int)api_next_int(cmd, req, "max-model-len", 0, &st, err);
    if (st == USIM_OK)
        st = api_read_prefill_buckets(cmd, req, d, err);
    d->scheduler = json_object_get(req, "scheduler") ? api_next_choice(cmd, req, "scheduler", &st, err)
                                                     : d->engine.scheduler;
    d->token_budget =
        (int)api_next_int(cmd, req, "token-budget", d->engine.token_budget, &st, err);
    d->prefill_replicas = (int)api_next_int(cmd, req, "prefill-replicas", 0, &st, err);
    d->spec_accept = api_next_quantity(cmd, req, "spec-accept", 0, &st, err);
    d->prefix_hit = api_next_quantity(cmd, req, "prefix-hit", 0, &st, err);
    d->attention = json_object_get(req, "attention")
                       ? api_next_choice(cmd, req, "attention", &st, err)
                       : serve_engine_attention(&d->engine, &d->model);
    d->attention_dp = api_next_choice(cmd, req, "attention-dp", &st, err);
    int unit = api_next_choice(cmd, req, "tp-unit", &st, err);
    if (st == USIM_OK && unit == 1)
        st = ranks_in_chips(d, err);
    /* NxD Inference shards over logical NeuronCores whatever --tp counts:
     * each is a TP rank. */
    if (st == USIM_OK && d->sys.chip.matrix.kind == HW_MATRIX_SYSTOLIC)
        st = api_ranks_per_chip(&d->sys, "tp-unit", &d->tp_ranks_per_chip, err);
    if (st == USIM_OK)
        st = d->weights == SERVE_W_NVFP4 ? api_check_fp4(&d->sys.chip, err) : USIM_OK;
    if (st == USIM_OK)
        st = fill_replicas(req, d, err);
    if (st == USIM_OK)
        st = read_draft(cmd, req, d, err);
    d->draft_attention = json_object_get(req, "attention")
                             ? d->attention
                             : serve_engine_attention(&d->engine, &d->draft);
    return st;
}

/* A figure that does not exist (NaN: no second token, no price, no SLO) is
 * null with KEY_reason beside it; JSON has no NaN, and 0 would claim a value.
 * The serve layer's own words replace the generic reason. */
static void put_reasons(json_t *o, const char *const *keys, const char *why)
{
    char key[96];
    for (; why && *keys; keys++) {
        snprintf(key, sizeof key, "%s_reason", *keys);
        if (json_object_get(o, key))
            json_object_set_new(o, key, json_string(why));
    }
}

static json_t *pct_json(const serve_percentiles *p, const char *why)
{
    static const char *const KEYS[] = {"p50", "p90", "p99", "mean", NULL};
    json_t *o = json_object();
    api_put_real(o, "p50", p->p50);
    api_put_real(o, "p90", p->p90);
    api_put_real(o, "p99", p->p99);
    api_put_real(o, "mean", p->mean);
    put_reasons(o, KEYS, why);
    return o;
}

static void name_missing_figures(json_t *o, const serve_result *r)
{
    static const char *const TPOT[] = {"tpot_p50_s", "tpot_p90_s", "tpot_p99_s",
                                       "tpot_mean_s", "itl_p50_s",  "itl_p90_s",
                                       "itl_p99_s",  "itl_mean_s", NULL};
    static const char *const COST[] = {"cost_per_mtok_usd", NULL};
    static const char *const ENERGY[] = {"energy_per_token_j", NULL};
    static const char *const SLO[] = {"slo_attainment", "goodput_requests_per_s", NULL};
    put_reasons(o, TPOT, r->tpot_note);
    put_reasons(o, COST, r->cost_note);
    put_reasons(o, ENERGY, r->energy_note);
    put_reasons(o, SLO, r->slo_note);
    if (r->context_note[0])
        json_object_set_new(o, "context_note", json_string(r->context_note));
}

static json_t *explain_json(const serve_result *r)
{
    json_t *o = json_object();
    api_put_real(o, "decode_step_s", r->decode_step_s);
    api_put_real(o, "decode_step_lines", r->decode_step_lines);
    api_put_real(o, "decode_weights_s", r->decode_weights_s);
    api_put_real(o, "decode_kv_s", r->decode_kv_s);
    api_put_real(o, "decode_comm_s", r->decode_comm_s);
    api_put_real(o, "decode_other_s", r->decode_other_s);
    api_put_real(o, "prefill_s", r->prefill_s);
    api_put_real(o, "prefill_weights_s", r->prefill_weights_s);
    api_put_real(o, "prefill_attention_s", r->prefill_attention_s);
    api_put_real(o, "prefill_comm_s", r->prefill_comm_s);
    api_put_real(o, "prefill_other_s", r->prefill_other_s);
    api_put_real(o, "prefill_tokens", r->prefill_tokens);
    if (r->prefill_serial_tokens > 0)
        api_put_real(o, "prefill_serial_tokens", r->prefill_serial_tokens);
    api_put_real(o, "tokens_per_round", r->tokens_per_round);
    return o;
}

static json_t *deployment_json(const serve_deployment *d, double chips)
{
    json_t *o = api_pack("{s:s, s:s, s:f, s:i, s:i, s:i, s:i, s:s, s:i, s:s, s:i}", "model",
                         d->model.name, "hw", d->sys.name, "chips", chips, "tp", d->tp, "pp", d->pp,
                         "ep", d->ep, "replicas", d->replicas, "engine", d->engine.name,
                         "max_batch", d->max_batch, "scheduler",
                         serve_scheduler_names[d->scheduler],
                         "token_budget", d->token_budget);
    json_object_set_new(o, "weights", json_string(WEIGHTS[d->weights]));
    json_object_set_new(o, "kv_dtype", json_string(KV_TYPES[d->kv_dtype]));
    json_object_set_new(o, "attention", json_string(api_attention_choices[d->attention]));
    json_object_set_new(o, "attention_dp_chips", json_integer(serve_attention_dp(d, &d->model)));
    if (d->chip_parts > 1) {
        json_object_set_new(o, "chip_parts", json_integer(d->chip_parts));
        json_object_set_new(o, "cores_per_replica", json_integer(d->tp_ranks_per_chip));
    }
    if (serve_draft_runs(d))
        json_object_set_new(o, "draft_attention",
                            json_string(api_attention_choices[d->draft_attention]));
    if (d->engine.prefill_bucket_min > 0) { /* compiled context-encoding graphs */
        json_t *buckets = json_array();
        for (int i = 0; i < d->nprefill_buckets; i++)
            json_array_append_new(buckets, json_integer(d->prefill_buckets[i]));
        json_object_set_new(o, "prefill_buckets", buckets);
        json_object_set_new(o, "prefill_bucket_min", json_integer(d->engine.prefill_bucket_min));
        json_object_set_new(o, "prefill_bucket_max", json_real(serve_context_bucket_max(d)));
        json_object_set_new(o, "serial_prompt_tail", json_boolean(d->engine.serial_prompt_tail));
    }
    return o;
}

static json_t *result_json(const serve_deployment *d, const serve_result *r)
{
    json_t *o = deployment_json(d, r->chips);
    const struct {
        const char *key;
        double v;
    } nums[] = {
        {"ttft_p50_s", r->ttft.p50},
        {"ttft_p90_s", r->ttft.p90},
        {"ttft_p99_s", r->ttft.p99},
        {"tpot_p50_s", r->tpot.p50},
        {"tpot_p90_s", r->tpot.p90},
        {"tpot_p99_s", r->tpot.p99},
        {"e2e_p50_s", r->e2e.p50},
        {"e2e_p90_s", r->e2e.p90},
        {"e2e_p99_s", r->e2e.p99},
        {"ttft_mean_s", r->ttft.mean},
        {"tpot_mean_s", r->tpot.mean},
        {"e2e_mean_s", r->e2e.mean},
        {"itl_p50_s", r->itl.p50},
        {"itl_p90_s", r->itl.p90},
        {"itl_p99_s", r->itl.p99},
        {"itl_mean_s", r->itl.mean},
        {"output_tokens_per_s", r->output_tokens_per_s},
        {"output_tokens_per_s_per_chip", r->output_tokens_per_s_per_chip},
        {"requests_per_s", r->requests_per_s},
        {"goodput_requests_per_s", r->goodput_requests_per_s},
        {"slo_attainment", r->slo_attainment},
        {"cost_per_mtok_usd", r->cost_per_mtok_usd},
        {"energy_per_token_j", r->energy_per_token_j},
        {"kv_capacity_tokens", r->kv_capacity_tokens},
        {"kv_peak_use", r->kv_peak_use},
        {"weights_bytes_per_chip", r->weights_bytes_per_chip},
        {"kv_bytes_per_chip", r->kv_bytes_per_chip},
        {"makespan_s", r->makespan_s},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        api_put_real(o, nums[i].key, nums[i].v);
    json_object_set_new(o, "requests", json_integer((json_int_t)r->requests));
    json_object_set_new(o, "output_tokens", json_integer((json_int_t)r->output_tokens));
    json_object_set_new(o, "preemptions", json_integer((json_int_t)r->preemptions));
    json_object_set_new(o, "iterations", json_integer((json_int_t)r->iterations));
    name_missing_figures(o, r);
    json_object_set_new(o, "ttft", pct_json(&r->ttft, NULL));
    json_object_set_new(o, "tpot", pct_json(&r->tpot, r->tpot_note));
    json_object_set_new(o, "e2e", pct_json(&r->e2e, NULL));
    json_object_set_new(o, "itl", pct_json(&r->itl, r->tpot_note));
    json_object_set_new(o, "explain", explain_json(r));
    if (d->spec_len > 0)
        json_object_set_new(o, "spec",
                            api_pack("{s:s, s:i, s:f}", "draft", d->draft.name, "len",
                                      d->spec_len, "accept", d->spec_accept));
    return o;
}

/* The headline figures, with where measured runs fall around them. */
static const api_figure SERVE_FIGURES[] = {
    {"ttft_p50_s", -1, "TTFT", 1, USIM_UNIT_SECONDS, ""},
    {"tpot_p50_s", -1, "TPOT", 1, USIM_UNIT_SECONDS, ""},
    {"output_tokens_per_s", 1, "tokens/s", 1, USIM_UNIT_NONE, ""},
};

/* vLLM refuses a --max-model-len beyond the model's context, an engine that
 * compiles any length does not where positions run on (rotary or ALiBi, not
 * learned embeddings); a request longer than it is refused in the serve
 * layer, which sees every request. */
static usim_status check_max_model_len(const serve_deployment *d, usim_error *err)
{
    bool rotary_on = d->engine.max_model_len_beyond_context && d->model.position != WL_POS_LEARNED;
    if (d->max_model_len <= d->model.max_seq || rotary_on)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "max-model-len",
                           "%d tokens is longer than %s's %d-token context (vLLM refuses it; "
                           "engine %s has no way past it); allowed: 1 to %d",
                           d->max_model_len, d->model.name, d->model.max_seq, d->engine.name,
                           d->model.max_seq);
}

/* guidellm's sweep: synchronous (one request at a time), throughput (every
 * request at once), then size - 2 constant rates evenly spaced from the
 * synchronous request rate up to the throughput one (its numpy
 * linspace(synchronous, throughput, size - 1)[1:]). */
static usim_status run_sweep(const serve_deployment *d, const serve_workload *w, json_t **out,
                             usim_error *err)
{
    static const char *const STRATEGY[] = {"synchronous", "throughput", "constant"};
    static const char *const NO_RATE[] = {"synchronous: one request at a time",
                                          "throughput: every request at once"};
    json_t *runs = json_array();
    serve_workload each = *w;
    double rates[2] = {0, 0}; /* requests/s of the synchronous and throughput runs */
    usim_status st = USIM_OK;
    double chips = 0;
    for (int i = 0; i < w->sweep_size && st == USIM_OK; i++) {
        serve_result r;
        each.mode = i == 0 ? SERVE_CLOSED : i == 1 ? SERVE_OFFLINE : SERVE_CONSTANT;
        each.concurrency = 1;
        each.rate = i < 2 ? 0 : rates[0] + (rates[1] - rates[0]) * (i - 1) / (w->sweep_size - 2);
        st = serve_run(d, &each, &r, err);
        if (st != USIM_OK)
            break;
        if (i < 2)
            rates[i] = r.requests_per_s;
        chips = r.chips;
        json_t *o = result_json(d, &r);
        json_object_set_new(o, "strategy", json_string(STRATEGY[i < 2 ? i : 2]));
        api_put_real(o, "rate", i < 2 ? NAN : each.rate);
        if (i < 2)
            json_object_set_new(o, "rate_reason", json_string(NO_RATE[i]));
        json_array_append_new(runs, o);
    }
    if (st != USIM_OK) {
        json_decref(runs);
        return st;
    }
    *out = deployment_json(d, chips);
    json_object_set_new(*out, "mode", json_string("sweep"));
    json_object_set_new(*out, "sweep", runs);
    return USIM_OK;
}

/* The engine's limits for this workload where the run (or its preset, in
 * req) gives none. A trace has no one length to size them for: its
 * requests run under the engine's caps. */
static void engine_limits(json_t *req, serve_deployment *d, const serve_workload *w)
{
    int batch, tokens;
    if (w->mode == SERVE_TRACE)
        return;
    serve_engine_limits(d, w, &batch, &tokens);
    if (!json_object_get(req, "batch"))
        d->max_batch = batch;
    if (!json_object_get(req, "token-budget"))
        d->token_budget = tokens;
}

/* Options only some schedulers read: elsewhere they would change nothing,
 * so giving one is an error, not a silent no-op. Only what the run itself
 * gave counts (a preset's budget is a default). The message says where the
 * scheduler came from: --scheduler, --mode static or the engine. */
static usim_status check_scheduler_options(json_t *req, int scheduler, usim_error *err)
{
    char from[80];
    const char *name = serve_scheduler_names[scheduler];
    if (json_object_get(req, "scheduler"))
        snprintf(from, sizeof from, "--scheduler %s", name);
    else if (scheduler == SERVE_STATIC && json_object_get(req, "mode"))
        snprintf(from, sizeof from, "--mode static");
    else
        snprintf(from, sizeof from, "the engine's scheduler (%s)", name);
    if (json_object_get(req, "prefill-replicas") && scheduler != SERVE_DISAGG)
        return usim_fail_field(err, USIM_EINPUT, "prefill-replicas",
                               "does not apply to %s: only disaggregation (--scheduler disagg) "
                               "has prefill replicas",
                               from);
    if (json_object_get(req, "token-budget") && scheduler == SERVE_STATIC)
        return usim_fail_field(err, USIM_EINPUT, "token-budget",
                               "does not apply to %s: its prompts run whole, with no budget "
                               "(allowed with --scheduler continuous, chunked, inflight or "
                               "disagg)",
                               from);
    return USIM_OK;
}

static usim_status serve_cmd_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_serve.info;
    serve_deployment *d = calloc(1, sizeof *d);
    serve_workload w;
    serve_result r;
    json_t *copy = json_deep_copy(req);
    usim_status st = d ? read_deployment(cmd, copy, d, err)
                       : usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = read_workload(cmd, copy, &w, err);
    if (st == USIM_OK)
        engine_limits(copy, d, &w);
    if (st == USIM_OK && d->scheduler == SERVE_DISAGG &&
        (w.mode == SERVE_CLOSED || w.mode == SERVE_SWEEP))
        st = usim_fail_field(err, USIM_EINPUT, "mode",
                             "disaggregation is simulated for open loads: use --mode offline, "
                             "poisson, constant or trace");
    if (st == USIM_OK)
        st = check_max_model_len(d, err);
    /* a static run is static batching: another scheduler given with it would
     * be overridden in silence */
    const char *asked = json_string_value(json_object_get(req, "scheduler"));
    if (st == USIM_OK && w.mode == SERVE_STATIC_RUN && asked && strcmp(asked, "static") != 0)
        st = usim_fail_field(err, USIM_EINPUT, "scheduler",
                             "%s conflicts with --mode static, which runs static batches "
                             "(allowed with it: static; or choose another --mode)",
                             asked);
    if (st == USIM_OK && w.mode == SERVE_STATIC_RUN)
        d->scheduler = SERVE_STATIC;
    if (st == USIM_OK)
        st = check_scheduler_options(req, d->scheduler, err);
    if (st == USIM_OK && w.mode == SERVE_SWEEP)
        st = run_sweep(d, &w, result, err);
    else if (st == USIM_OK)
        st = serve_run(d, &w, &r, err);
    if (st == USIM_OK && w.mode != SERVE_SWEEP)
        *result = result_json(d, &r);
    if (st == USIM_OK)
        api_system_warnings(*result, &d->sys);
    if (st == USIM_OK && w.mode != SERVE_SWEEP) /* a sweep's runs carry no single figure */
        api_add_intervals(*result, &d->sys, "inference", SERVE_FIGURES,
                          sizeof SERVE_FIGURES / sizeof SERVE_FIGURES[0]);
    json_decref(copy);
    free(d);
    return st;
}

/* A value that exists: JSON null stands for one that does not. */
static bool exists(json_t *o, const char *key)
{
    return json_is_number(json_object_get(o, key));
}

/* p50/p90/p99 in seconds, or n/a with the reason. */
static void row(usim_buf *b, const char *label, json_t *p, const char *note)
{
    char v[3][32];
    const char *keys[3] = {"p50", "p90", "p99"};
    for (int i = 0; i < 3; i++) {
        if (exists(p, keys[i]))
            usim_format_quantity(api_number(p, keys[i]), USIM_UNIT_SECONDS, v[i], sizeof v[i]);
        else
            snprintf(v[i], sizeof v[i], "n/a");
    }
    usim_buf_printf(b, "  %-26s %10s %10s %10s", label, v[0], v[1], v[2]);
    if (note)
        usim_buf_printf(b, "  (%s)", note);
    usim_buf_puts(b, "\n");
}

/* Why a figure is n/a: its KEY_reason. */
static const char *reason_of(json_t *res, const char *key)
{
    char name[96];
    snprintf(name, sizeof name, "%s_reason", key);
    const char *why = json_string_value(json_object_get(res, name));
    return why ? why : api_nonfinite_reason(NAN);
}

static void cost_line(usim_buf *b, json_t *res)
{
    usim_buf_printf(b, "  %-26s ", "cost");
    if (exists(res, "cost_per_mtok_usd"))
        usim_buf_printf(b, "$%.3g per million output tokens, ", api_number(res, "cost_per_mtok_usd"));
    else
        usim_buf_printf(b, "n/a (%s), ", reason_of(res, "cost_per_mtok_usd"));
    if (exists(res, "energy_per_token_j"))
        usim_buf_printf(b, "%.3g J per token\n", api_number(res, "energy_per_token_j"));
    else
        usim_buf_printf(b, "energy n/a (%s)\n", reason_of(res, "energy_per_token_j"));
}

/* The collectives of a decode pass: TP's all-reduces, or under attention
 * data parallelism the experts' dispatch and combine; with PP the stages'
 * sends too. */
static const char *collectives_name(json_t *res)
{
    if (api_number(res, "pp") > 1)
        return "collectives and stage sends";
    return api_number(res, "attention_dp_chips") > 1 ? "the experts' dispatch and combine"
                                                      : "TP collectives";
}

static void explain_text(usim_buf *b, json_t *x, const char *collectives)
{
    enum { PARTS = 10 };
    char s[PARTS][32];
    const char *keys[PARTS] = {"decode_step_s",     "decode_weights_s",    "decode_kv_s",
                               "decode_comm_s",     "decode_other_s",      "prefill_s",
                               "prefill_weights_s", "prefill_attention_s", "prefill_comm_s",
                               "prefill_other_s"};
    for (int i = 0; i < PARTS; i++)
        usim_format_quantity(api_number(x, keys[i]), USIM_UNIT_SECONDS, s[i], sizeof s[i]);
    /* the four parts sum to the pass and to the prefill: "other" is the
     * norms, activations, expert permutes, LM head and the engine's launch gap */
    char padded[64] = "";
    if (api_number(x, "decode_step_lines") > 1) /* a graph compiled for the batch cap */
        snprintf(padded, sizeof padded, " (run padded to the compiled %.0f)",
                 api_number(x, "decode_step_lines"));
    usim_buf_printf(b, "\nWhy: a decode pass at batch 1%s takes %s: weight GEMMs %s, KV cache "
                       "%s, %s %s, LM head and other kernels %s;\n     a %.0f-token prefill "
                       "alone takes %s",
                    padded, s[0], s[1], s[2], collectives, s[3], s[4],
                    api_number(x, "prefill_tokens"), s[5]);
    if (json_object_get(x, "prefill_serial_tokens"))
        usim_buf_printf(b, " (%.0f of them one at a time, past the largest context graph)",
                        api_number(x, "prefill_serial_tokens"));
    usim_buf_printf(b, ": weight GEMMs %s, attention %s, %s %s, other kernels %s", s[6], s[7],
                    collectives, s[8], s[9]);
    if (api_number(x, "tokens_per_round") > 1)
        usim_buf_printf(b, ";\n     speculation keeps %.2f tokens per target pass",
                        api_number(x, "tokens_per_round"));
    usim_buf_puts(b, ".\n");
}

/* A sweep: one line a run, as guidellm's summary table has them. */
static void sweep_text(usim_buf *b, json_t *runs)
{
    usim_buf_printf(b, "  %-12s %9s %9s %11s %9s %9s %9s %9s %9s\n", "strategy", "rate", "req/s",
                    "tokens/s", "TTFT p50", "TTFT p99", "ITL p50", "TPOT p50", "E2E p50");
    size_t i;
    json_t *o;
    json_array_foreach(runs, i, o) {
        char rate[32] = "-", cells[5][32];
        const char *keys[] = {"ttft_p50_s", "ttft_p99_s", "itl_p50_s", "tpot_p50_s", "e2e_p50_s"};
        if (exists(o, "rate"))
            snprintf(rate, sizeof rate, "%.3g/s", api_number(o, "rate"));
        for (int k = 0; k < 5; k++) {
            if (exists(o, keys[k]))
                usim_format_quantity(api_number(o, keys[k]), USIM_UNIT_SECONDS, cells[k],
                                     sizeof cells[k]);
            else
                snprintf(cells[k], sizeof cells[k], "n/a");
        }
        usim_buf_printf(b, "  %-12s %9s %9.3g %11.4g %9s %9s %9s %9s %9s\n",
                        json_string_value(json_object_get(o, "strategy")), rate,
                        api_number(o, "requests_per_s"), api_number(o, "output_tokens_per_s"),
                        cells[0], cells[1], cells[2], cells[3], cells[4]);
    }
    usim_buf_puts(b, "  (rate: requests sent a second; synchronous sends one at a time, "
                     "throughput all at once)\n");
}

/* What runs the requests: the engine and its batching, the weight and KV
 * cache types, the attention kernel. */
static void setup_line(usim_buf *b, json_t *res)
{
    /* in serve_scheduler's order, as serve_scheduler_names */
    static const char *const BATCHING[] = {"static batches", "continuous batching",
                                           "continuous batching, chunked prefill",
                                           "disaggregated prefill and decode",
                                           "in-flight batching"};
    const char *weights = json_string_value(json_object_get(res, "weights"));
    const char *scheduler = json_string_value(json_object_get(res, "scheduler"));
    if (!weights || !scheduler)
        return;
    for (size_t i = 0; i < sizeof BATCHING / sizeof BATCHING[0]; i++)
        if (!strcmp(scheduler, serve_scheduler_names[i]))
            scheduler = BATCHING[i];
    bool dp = api_number(res, "attention_dp_chips") > 1;
    usim_buf_printf(b, "engine %s (%s, at most %.0f a batch%s); %s weights, %s KV cache, "
                       "%s attention",
                    json_string_value(json_object_get(res, "engine")), scheduler,
                    api_number(res, "max_batch"), dp ? " on each chip" : "", weights,
                    json_string_value(json_object_get(res, "kv_dtype")),
                    json_string_value(json_object_get(res, "attention")));
    if (dp)
        usim_buf_printf(b, " data-parallel over %.0f chips (only the routed experts split)",
                        api_number(res, "attention_dp_chips"));
    json_t *buckets = json_object_get(res, "prefill_buckets");
    if (json_array_size(buckets) > 0) {
        usim_buf_puts(b, "; prefill buckets");
        size_t i;
        json_t *v;
        json_array_foreach(buckets, i, v)
            usim_buf_printf(b, "%s%lld", i ? "," : " ", (long long)json_integer_value(v));
    } else if (json_object_get(res, "prefill_bucket_min")) {
        usim_buf_printf(b, "; prefill buckets: powers of two from %.0f",
                        api_number(res, "prefill_bucket_min"));
    }
    if (json_is_true(json_object_get(res, "serial_prompt_tail")) && json_array_size(buckets) > 0)
        usim_buf_puts(b, ", a longer prompt's rest token by token");
    usim_buf_puts(b, "\n\n");
}

static usim_status serve_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    json_t *runs = json_object_get(res, "sweep");
    usim_buf_printf(b, "%s on %g chip%s of %s: TP %.0f x PP %.0f, %.0f replica%s",
                    json_string_value(json_object_get(res, "model")), api_number(res, "chips"),
                    api_number(res, "chips") == 1 ? "" : "s",
                    json_string_value(json_object_get(res, "hw")), api_number(res, "tp"),
                    api_number(res, "pp"), api_number(res, "replicas"),
                    api_number(res, "replicas") == 1 ? "" : "s");
    if (json_object_get(res, "chip_parts"))
        usim_buf_printf(b, ", each on %.0f of a chip's %.0f logical cores",
                        api_number(res, "cores_per_replica"),
                        api_number(res, "cores_per_replica") * api_number(res, "chip_parts"));
    usim_buf_printf(b, "%s\n", runs ? "; a sweep" : "");
    setup_line(b, res);
    if (runs) {
        sweep_text(b, runs);
        return USIM_OK;
    }
    usim_buf_printf(b, "  %-26s %10s %10s %10s\n", "", "p50", "p90", "p99");
    row(b, "time to first token", json_object_get(res, "ttft"), NULL);
    row(b, "time per output token", json_object_get(res, "tpot"),
        exists(res, "tpot_p50_s") ? NULL : reason_of(res, "tpot_p50_s"));
    row(b, "inter-token latency", json_object_get(res, "itl"),
        exists(res, "itl_p50_s") ? NULL : reason_of(res, "itl_p50_s"));
    row(b, "end to end", json_object_get(res, "e2e"), NULL);
    usim_buf_printf(b, "\n  %-26s %.4g tokens/s (%.4g per chip), %.3g requests/s\n", "throughput",
                    api_number(res, "output_tokens_per_s"),
                    api_number(res, "output_tokens_per_s_per_chip"),
                    api_number(res, "requests_per_s"));
    api_interval_line(b, res, SERVE_FIGURES, 3, 26);
    cost_line(b, res);
    if (exists(res, "slo_attainment"))
        usim_buf_printf(b, "  %-26s %.0f%% of requests (%.3g requests/s)\n", "within the SLO",
                        100 * api_number(res, "slo_attainment"),
                        api_number(res, "goodput_requests_per_s"));
    else
        usim_buf_printf(b, "  %-26s n/a (%s)\n", "within the SLO", reason_of(res, "slo_attainment"));
    usim_buf_printf(b, "  %-26s %.4g tokens a replica, peak use %.0f%%, %.0f preemptions\n",
                    "KV cache", api_number(res, "kv_capacity_tokens"),
                    100 * api_number(res, "kv_peak_use"), api_number(res, "preemptions"));
    const char *context = json_string_value(json_object_get(res, "context_note"));
    if (context)
        usim_buf_printf(b, "  %-26s %s\n", "note", context);
    explain_text(b, json_object_get(res, "explain"), collectives_name(res));
    return USIM_OK;
}

const api_command api_cmd_serve = {
    {"serve", "simulate inference serving: TTFT, TPOT, throughput, cost per token",
     "ultrasim serve --model NAME|config.json --hw PRESET [--chips N] --tp T [--pp P] "
     "[--ep E] [--replicas R] [--weights bf16|fp16|fp8|int8|int4|mxfp4|nvfp4] [--kv-dtype ..] [--engine NAME|FILE] [--batch B] [--isl I] [--osl O] "
     "[--requests N] [--mode offline|static|closed|poisson|constant|trace|sweep|synchronous|throughput] [--concurrency C] [--rate QPS] "
     "[--trace-in F.csv] [--spec-draft MODEL --spec-len K --spec-accept A] [--preset "
     "latency|throughput] [--json]",
     "Simulates requests iteration by iteration: prefill is compute-bound, decode reads the\n"
     "weights and KV cache from HBM, TP all-reduces cross the scale-up links every layer.\n"
     "Schedulers: static batches, continuous batching (prefill first), in-flight batching\n"
     "(whole prompts beside the decodes), chunked prefill within a token budget,\n"
     "prefill/decode disaggregation. Seeded and deterministic.",
     NULL, SERVE_OPTIONS, sizeof SERVE_OPTIONS / sizeof SERVE_OPTIONS[0]},
    serve_cmd_run,
    serve_render,
};
