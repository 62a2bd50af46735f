/*
 * Serving engines as data (data/engines/NAME.json): what an engine's own
 * throughput benchmark runs with when the user gives no limit, each figure
 * cited to the engine's code. The same file serves every model and chip.
 */
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
