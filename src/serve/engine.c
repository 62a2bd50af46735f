/*
 * Serving engines as data (data/engines/NAME.json): what an engine's own
 * throughput benchmark runs with when the user gives no limit, each figure
 * cited to the engine's code. The same file serves every model and chip.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "serve/internal.h"
#include "ultrasim/engine.h"

const char *const serve_scheduler_names[] = {"static", "continuous", "chunked", "disagg",
                                             "inflight", NULL};
static const char *const KV_READS[] = {"context", "bucket", "max_model_len", NULL};
static const char *const KV_SHARES[] = {"free", "total", NULL}; /* serve_kv_share's order */
static const char *const PLATFORMS[] = {"any", "gpu", "trainium", NULL}; /* serve_platform's */
/* engine_attention_kernel's names, in its order */
static const char *const ATTENTION[] = {"fused", "per-head", "unfused", "flash2", NULL};

/* Head counts and sizes: a few each, within any model's. */
static const usim_field SHARED_KV_FIELDS[] = {
    USIM_INTS("groups", serve_shared_kv, groups, ngroups, 1, 1024, true),
    USIM_INTS("head_dims", serve_shared_kv, head_dims, nhead_dims, 1, 1024, true),
    USIM_BOOL("sliding_window", serve_shared_kv, sliding_window),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema SHARED_KV_SCHEMA = USIM_SCHEMA("shared_kv", SHARED_KV_FIELDS);

static const usim_field ENGINE_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", serve_engine, name, true),
    USIM_STR("description", serve_engine, description, false),
    USIM_ENUM("runs_on", serve_engine, runs_on, PLATFORMS, false),
    USIM_INT("max_batch", serve_engine, max_batch, 1, 65536, true),
    USIM_INT("token_budget", serve_engine, token_budget, 16, 1048576, true),
    USIM_ENUM("scheduler", serve_engine, scheduler, serve_scheduler_names, true),
    USIM_BOOL("reserve_output", serve_engine, reserve_output),
    USIM_INT("prefill_bucket_min", serve_engine, prefill_bucket_min, 0, 1048576, false),
    USIM_INT("max_prefills", serve_engine, max_prefills, 0, 65536, false),
    USIM_ENUM("decode_kv_read", serve_engine, decode_kv_read, KV_READS, false),
    USIM_INT("moe_prefill_block", serve_engine, moe_prefill_block, 0, 65536, false),
    USIM_ENUM("attention", serve_engine, attention, ATTENTION, false),
    USIM_NUM("step_gap", serve_engine, step_gap_s, USIM_UNIT_SECONDS, 0, 1, false),
    USIM_BOOL("tuned_limits", serve_engine, tuned_limits),
    USIM_NUM("moe_permute_bytes", serve_engine, moe_permute_bytes, USIM_UNIT_NONE, 0, 256, false),
    USIM_INT("collective_overlap_tiles", serve_engine, collective_tiles, 0, 64, false),
    USIM_NUM("kv_cache_fraction", serve_engine, kv_fraction, USIM_UNIT_NONE, 0.01, 1, false),
    USIM_ENUM("kv_cache_fraction_of", serve_engine, kv_fraction_of, KV_SHARES, false),
    USIM_BOOL("moe_attention_dp", serve_engine, moe_attention_dp),
    USIM_BOOL("max_model_len_beyond_context", serve_engine, max_model_len_beyond_context),
    USIM_BOOL("serial_prompt_tail", serve_engine, serial_prompt_tail),
    USIM_BOOL("pad_decode_batch", serve_engine, pad_decode_batch),
    USIM_BOOL("medusa_chain", serve_engine, medusa_chain),
    USIM_OBJ("shared_kv", serve_engine, shared_kv, &SHARED_KV_SCHEMA, false),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema ENGINE_SCHEMA = USIM_SCHEMA("engine", ENGINE_FIELDS);

/* What the schema cannot say: a prompt's tail runs token by token only past
 * compiled context-encoding graphs. */
static usim_status finish_engine(const usim_reader *r, json_t *doc, void *out, usim_error *err)
{
    (void)doc;
    const serve_engine *e = out;
    if (e->serial_prompt_tail && e->prefill_bucket_min <= 0)
        return usim_fail_at(r, "serial_prompt_tail", false, err,
                            "needs compiled context-encoding graphs (prefill_bucket_min above 0)");
    return USIM_OK;
}

usim_status serve_engine_load(const char *name_or_file, serve_engine *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    return usim_load_kind("engines", "engine", "engine", name_or_file, &ENGINE_SCHEMA, out,
                          finish_engine, err);
}

typedef struct engine_list {
    bool trainium;
    char *buf;
    size_t size;
} engine_list;

static void add_engine_for(const usim_embedded_file *f, void *ctx)
{
    engine_list *l = ctx;
    char name[64];
    usim_embedded_name(f, name, sizeof name);
    serve_engine e;
    usim_error err;
    if (serve_engine_load(name, &e, &err) != USIM_OK || !serve_engine_runs_on(&e, l->trainium))
        return;
    size_t n = strlen(l->buf);
    snprintf(l->buf + n, l->size - n, "%s%s", n ? ", " : "", name);
}

bool serve_engine_runs_on(const serve_engine *e, bool trainium)
{
    return e->runs_on == SERVE_ON_ANY || (e->runs_on == SERVE_ON_TRAINIUM) == trainium;
}

const char *serve_default_engine(const hw_system *sys)
{
    return sys->engine[0]                                  ? sys->engine
           : sys->chip.matrix.kind == HW_MATRIX_SYSTOLIC ? SERVE_DEFAULT_TRAINIUM_ENGINE
                                                          : SERVE_DEFAULT_ENGINE;
}

void serve_engines_for(bool trainium, char *buf, size_t size)
{
    engine_list l = {trainium, buf, size};
    buf[0] = '\0';
    usim_embedded_each("engines/", add_engine_for, &l);
}

static bool listed(const int *values, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (values[i] == v)
            return true;
    return false;
}

int serve_engine_attention(const serve_engine *e, const wl_model *m)
{
    const serve_shared_kv *k = &e->shared_kv;
    if (k->ngroups == 0 || e->attention != ENGINE_ATTN_FUSED)
        return e->attention;
    int group = m->kv_heads > 0 ? m->heads / m->kv_heads : 1;
    bool takes = listed(k->groups, k->ngroups, group) &&
                 listed(k->head_dims, k->nhead_dims, m->head_dim) &&
                 (k->sliding_window || m->sliding_window == 0);
    return takes ? ENGINE_ATTN_FUSED : ENGINE_ATTN_PER_HEAD;
}

/* Bytes an element trtllm-bench counts (its BYTES_PER_ELEM): FP8 1, NVFP4
 * 0.5 (scales left out), every other type (weight-only INT8/INT4, MXFP4)
 * 2. */
static double bench_bytes(int type)
{
    return type == SERVE_W_FP8 ? 1.0 : type == SERVE_W_NVFP4 ? 0.5 : 2.0;
}

static double round_up(double v, double step)
{
    return step * ceil(v / step);
}

/* trtllm-bench's engine settings (tensorrt_llm/bench/build/tuning.py,
 * calc_engine_setting and finetune_setting): the requests of ISL + OSL
 * tokens that 95% of the memory left by the weights holds (K and V for
 * every layer, at least one KV head a TP rank), at most 4,096 a pipeline
 * stage, rounded up (64 at least); the tokens an iteration takes, that
 * batch times 1 + ISL / OSL, at most 32,768, rounded up (2,048 at least). */
void serve_engine_limits(const serve_deployment *d, const serve_workload *w, int *max_batch,
                         int *token_budget)
{
    *max_batch = d->engine.max_batch;
    *token_budget = d->engine.token_budget;
    if (!d->engine.tuned_limits || w->isl < 1 || w->osl < 1)
        return;
    const wl_model *m = &d->model;
    double gib = 1024.0 * 1024 * 1024, gpus = (double)d->tp * d->pp;
    double kv_heads = fmax(d->tp, m->kv_heads);
    double per_token = 2.0 * m->layers * kv_heads * m->head_dim * bench_bytes(d->kv_dtype) / gib;
    double engine = wl_model_params(m).total * bench_bytes(d->weights) / gib;
    double cache = (d->sys.chip.hbm.capacity_bytes / gib * gpus - engine) * 0.95;
    double requests = cache / (per_token * (double)(w->isl + w->osl));
    double bs = fmin(requests, 4096) / d->pp;
    double tokens = fmin(bs * (1.0 + (double)w->isl / (double)w->osl), 32768);
    bs = bs < 256 ? fmax(64, round_up(bs, 32)) : bs < 1024 ? round_up(bs, 128) : round_up(bs, 256);
    tokens = tokens < 4096   ? fmax(2048, round_up(tokens, 256))
             : tokens < 8192 ? round_up(tokens, 512)
                             : round_up(tokens, 1024);
    *max_batch = (int)fmin(bs, d->engine.max_batch);
    *token_budget = (int)fmin(tokens, d->engine.token_budget);
}
