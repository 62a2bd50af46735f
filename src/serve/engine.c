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

static const char *const SCHEDULERS[] = {"static", "continuous", "chunked", "disagg", NULL};
static const char *const KV_READS[] = {"context", "bucket", "max_model_len", NULL};
/* engine_attention_kernel's names, in its order */
static const char *const ATTENTION[] = {"fused", "per-head", "unfused", "flash2", NULL};

static const usim_field ENGINE_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", serve_engine, name, true),
    USIM_STR("description", serve_engine, description, false),
    USIM_INT("max_batch", serve_engine, max_batch, 1, 65536, true),
    USIM_INT("token_budget", serve_engine, token_budget, 16, 1048576, true),
    USIM_ENUM("scheduler", serve_engine, scheduler, SCHEDULERS, true),
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
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema ENGINE_SCHEMA = USIM_SCHEMA("engine", ENGINE_FIELDS);

usim_status serve_engine_load(const char *name_or_file, serve_engine *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    return usim_load_kind("engines", "engine", "engine", name_or_file, &ENGINE_SCHEMA, out, NULL,
                          err);
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
