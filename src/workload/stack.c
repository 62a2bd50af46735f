/*
 * Software stacks as data (data/stacks/NAME.json): what a training stack's
 * kernels move through memory, what its selective recomputation keeps, in
 * what type it reduces gradients. The same file serves every model, plan and
 * chip; each figure cites the stack's code or documentation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "ultrasim/workload.h"

#define U_1 USIM_UNIT_NONE

/* The kernel chains a stack describes, each a field of wl_kernel_bytes:
 * in bytes per element, or in launches. */
#define KERNEL_CHAINS(LO, HI, REQUIRED)                                                          \
    USIM_NUM("norm", wl_kernel_bytes, norm, U_1, LO, HI, REQUIRED),                              \
        USIM_NUM("rope", wl_kernel_bytes, rope, U_1, LO, HI, REQUIRED),                          \
        USIM_NUM("gated_activation", wl_kernel_bytes, gated_activation, U_1, LO, HI, REQUIRED),  \
        USIM_NUM("residual", wl_kernel_bytes, residual, U_1, LO, HI, REQUIRED),                  \
        USIM_NUM("attention_copies", wl_kernel_bytes, attention_copies, U_1, LO, HI, REQUIRED),  \
        USIM_NUM("kv_repeat", wl_kernel_bytes, kv_repeat, U_1, LO, HI, REQUIRED),                \
        USIM_NUM("loss", wl_kernel_bytes, loss, U_1, LO, HI, REQUIRED), USIM_DOC("source"),      \
        USIM_DOC("note")

/* Bytes per element: a kernel chain of a few dozen passes at most. */
static const usim_field KERNEL_FIELDS[] = {KERNEL_CHAINS(0, 256, true)};
static const usim_schema KERNEL_SCHEMA = USIM_SCHEMA("kernel bytes", KERNEL_FIELDS);

/* Kernel launches a chain makes: an eager chain of a dozen ops at most;
 * absent, one (a fused kernel). */
static const usim_field LAUNCH_FIELDS[] = {KERNEL_CHAINS(1, 64, false)};
static const usim_schema LAUNCH_SCHEMA = USIM_SCHEMA("kernel launches", LAUNCH_FIELDS);

const char *const wl_fp8_recipe_names[] = {"delayed", "current", "mxfp8", "blockwise", NULL};

/* A cast pass reads 2 bytes and writes at most a few: 64 bounds a chain. */
static const usim_field FP8_CAST_FIELDS[] = {
    USIM_NUM("delayed", wl_fp8_cast_bytes, delayed, U_1, 0, 64, false),
    USIM_NUM("current", wl_fp8_cast_bytes, current, U_1, 0, 64, false),
    USIM_NUM("mxfp8", wl_fp8_cast_bytes, mxfp8, U_1, 0, 64, false),
    USIM_NUM("blockwise", wl_fp8_cast_bytes, blockwise, U_1, 0, 64, false),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema FP8_CAST_SCHEMA = USIM_SCHEMA("fp8 cast bytes", FP8_CAST_FIELDS);

static const char *const SELECTIVE[] = {"attention_core", "alternate_matmuls", NULL};
/* engine_attention_kernel's names, in its order (the workload layer sits
 * below the engine and keeps only the number). */
static const char *const ATTENTION[] = {"fused", "per-head", "unfused", "flash2", NULL};

const char *const wl_stack_platform_names[] = {"any", "gpu", "trainium", NULL};

const char *wl_default_stack(const hw_system *sys)
{
    return sys->stack[0]                                   ? sys->stack
           : sys->chip.matrix.kind == HW_MATRIX_SYSTOLIC ? WL_DEFAULT_TRAINIUM_STACK
                                                          : WL_DEFAULT_STACK;
}

static const usim_field STACK_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", wl_stack, name, true),
    USIM_STR("description", wl_stack, description, false),
    USIM_ENUM("selective_recompute", wl_stack, selective, SELECTIVE, true),
    USIM_ENUM("attention", wl_stack, attention, ATTENTION, true),
    USIM_ENUM("sink_attention", wl_stack, sink_attention, ATTENTION, false),
    USIM_NUM("grad_reduce_bytes", wl_stack, grad_reduce_bytes, U_1, 1, 4, true),
    USIM_ENUM("fp8_recipe", wl_stack, fp8_recipe, wl_fp8_recipe_names, true),
    USIM_OBJ("fp8_cast_bytes", wl_stack, fp8_cast, &FP8_CAST_SCHEMA, true),
    USIM_BOOL("fp8_output_layer", wl_stack, fp8_output_layer),
    USIM_BOOL("fp8_tp_all_gather", wl_stack, fp8_tp_all_gather),
    USIM_BOOL("mxfp8_tp_all_gather", wl_stack, mxfp8_tp_all_gather),
    USIM_NUM("sp_collective_copies", wl_stack, sp_collective_copies, U_1, 0, 4, false),
    USIM_BOOL("zero3_pipeline_per_step", wl_stack, zero3_pipeline_per_step),
    USIM_BOOL("tp_comm_overlap", wl_stack, tp_comm_overlap),
    USIM_BOOL("tp_comm_overlap_forward_only", wl_stack, tp_comm_overlap_forward_only),
    USIM_BOOL("tp_comm_overlap_needs_compile", wl_stack, tp_comm_overlap_needs_compile),
    USIM_BOOL("ep_comm_overlap", wl_stack, ep_comm_overlap),
    USIM_ENUM("moe_dispatcher", wl_stack, moe_dispatcher, wl_dispatcher_names, false),
    USIM_NUM("ep_comm_sms", wl_stack, ep_comm_sms, U_1, 0, 1024, false),
    USIM_BOOL("recompute_norms", wl_stack, recompute_norms),
    USIM_BOOL("recompute_mla_up_projection", wl_stack, recompute_mla_up),
    USIM_BOOL("recompute_swiglu", wl_stack, recompute_swiglu),
    USIM_BOOL("recompute_moe_act", wl_stack, recompute_moe_act),
    USIM_BOOL("recompute_mlp", wl_stack, recompute_mlp),
    USIM_BOOL("recompute_moe", wl_stack, recompute_moe),
    USIM_NUM("activation_cache_bytes", wl_stack, activation_cache_bytes, U_1, 0, 4, false),
    USIM_NUM("fp8_input_bytes", wl_stack, fp8_input_bytes, U_1, 0, 4, false),
    USIM_NUM("host_kernel_s", wl_stack, host_kernel_s, USIM_UNIT_SECONDS, 0, 1e-3, false),
    USIM_NUM("expert_gemm_host_s", wl_stack, expert_gemm_host_s, USIM_UNIT_SECONDS, 0, 1e-3,
             false),
    USIM_INT("expert_gemm_streams", wl_stack, expert_gemm_streams, 0, 64, false),
    USIM_INT("moe_dispatch_kernels", wl_stack, moe_dispatch_kernels, 0, 10000, false),
    USIM_INT("moe_dispatch_kernels_backward", wl_stack, moe_dispatch_kernels_backward, 0, 10000, false),
    USIM_NUM("moe_permute_bytes", wl_stack, moe_permute_bytes, U_1, 0, 256, false),
    USIM_NUM("moe_dispatch_bytes", wl_stack, moe_dispatch_bytes, U_1, 0.5, 4, false),
    USIM_BOOL("moe_probs_in_experts", wl_stack, moe_probs_in_experts),
    USIM_BOOL("activation_offload", wl_stack, activation_offload),
    USIM_NUM("loss_logit_bytes", wl_stack, loss_logit_bytes, U_1, 1, 16, false),
    USIM_OBJ("kernels", wl_stack, eager, &KERNEL_SCHEMA, true),
    USIM_OBJ("compiled_kernels", wl_stack, compiled, &KERNEL_SCHEMA, false),
    USIM_OBJ("kernel_launches", wl_stack, eager_launches, &LAUNCH_SCHEMA, false),
    USIM_OBJ("compiled_kernel_launches", wl_stack, compiled_launches, &LAUNCH_SCHEMA, false),
    USIM_BOOL("compile", wl_stack, compile_default),
    USIM_ENUM("runs_on", wl_stack, runs_on, wl_stack_platform_names, false),
    USIM_BOOL("fsdp_copies", wl_stack, fsdp_copies),
    USIM_NUM("fp8_transpose_bytes", wl_stack, fp8_transpose_bytes, U_1, 0, 4, false),
    USIM_NUM("fp8_activation_amax_bytes", wl_stack, fp8_activation_amax_bytes, U_1, 0, 4, false),
    USIM_BOOL("fp8_amax_tp_reduce", wl_stack, fp8_amax_tp_reduce),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema STACK_SCHEMA = USIM_SCHEMA("stack", STACK_FIELDS);

/* A chain the stack counts no launches for is one fused kernel; a count
 * is a whole number of kernels. */
static usim_status whole_launches(const usim_reader *r, const char *table, wl_kernel_bytes *k,
                                  usim_error *err)
{
    double *each[] = {&k->norm,     &k->rope,      &k->gated_activation, &k->residual,
                      &k->attention_copies, &k->kv_repeat, &k->loss};
    for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) {
        if (*each[i] < 1)
            *each[i] = 1;
        if (*each[i] != floor(*each[i]))
            return usim_fail_at(r, table, false, err,
                                "%g launches: a count of kernels is a whole number (1 to 64)",
                                *each[i]);
    }
    return USIM_OK;
}

/* What the schema cannot say: whether compiled figures were given, and a
 * stack that compiles by default must give them. */
static usim_status finish_stack(const usim_reader *r, json_t *doc, void *out, usim_error *err)
{
    wl_stack *s = out;
    usim_status st = whole_launches(r, "kernel_launches", &s->eager_launches, err);
    if (st == USIM_OK)
        st = whole_launches(r, "compiled_kernel_launches", &s->compiled_launches, err);
    if (st != USIM_OK)
        return st;
    /* a tensor-scaled cast reads 16 bits and writes 8 at the least, whatever
     * a chip or an activation kernel saves it */
    int scaled[] = {WL_FP8_DELAYED, WL_FP8_CURRENT};
    for (int i = 0; i < 2; i++) {
        double least = wl_stack_cast_bytes_on(s, scaled[i], true, true);
        if (wl_stack_fp8_cast_bytes(s, scaled[i]) > 0 && least < 3)
            return usim_fail_at(r, "fp8_transpose_bytes", false, err,
                                "with fp8_activation_amax_bytes it leaves the %s cast %g bytes an "
                                "element, below the 3 a cast moves (read 2, write 1)",
                                wl_fp8_recipe_names[scaled[i]], least);
    }
    if (json_object_get(doc, "compiled_kernel_launches") && !json_object_get(doc, "compiled_kernels"))
        return usim_fail_at(r, "compiled_kernel_launches", false, err,
                            "a stack with no compiled mode (no compiled_kernels) launches no "
                            "compiled kernels; drop it or give compiled_kernels");
    s->has_compiled = json_object_get(doc, "compiled_kernels") != NULL;
    s->has_sink_attention = json_object_get(doc, "sink_attention") != NULL;
    if (!json_object_get(doc, "loss_logit_bytes"))
        s->loss_logit_bytes = 2 * 4.0; /* fp32 logits and an fp32 gradient */
    if (!json_object_get(doc, "moe_dispatch_bytes"))
        s->moe_dispatch_bytes = 2; /* 16-bit tokens */
    if (!json_object_get(doc, "mxfp8_tp_all_gather"))
        s->mxfp8_tp_all_gather = s->fp8_tp_all_gather;
    if (s->compile_default && !s->has_compiled)
        return usim_fail_at(r, "compile", false, err,
                            "a stack that compiles by default needs compiled_kernels");
    if (wl_stack_fp8_cast_bytes(s, s->fp8_recipe) <= 0)
        return usim_fail_at(r, "fp8_recipe", false, err,
                            "its default recipe '%s' needs its bytes in fp8_cast_bytes",
                            wl_fp8_recipe_names[s->fp8_recipe]);
    return USIM_OK;
}

double wl_stack_fp8_cast_bytes(const wl_stack *s, int recipe)
{
    const wl_fp8_cast_bytes *c = &s->fp8_cast;
    switch (recipe) {
    case WL_FP8_DELAYED:
        return c->delayed;
    case WL_FP8_CURRENT:
        return c->current;
    case WL_FP8_MXFP8:
        return c->mxfp8;
    case WL_FP8_BLOCKWISE:
        return c->blockwise;
    default:
        return 0;
    }
}

double wl_stack_cast_bytes_on(const wl_stack *s, int recipe, bool any_layout, bool amax_taken)
{
    bool tensor_scaled = recipe == WL_FP8_DELAYED || recipe == WL_FP8_CURRENT;
    return wl_stack_fp8_cast_bytes(s, recipe) -
           (tensor_scaled && any_layout ? s->fp8_transpose_bytes : 0) -
           (recipe == WL_FP8_CURRENT && amax_taken ? s->fp8_activation_amax_bytes : 0);
}

usim_status wl_stack_load(const char *name_or_file, wl_stack *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    return usim_load_kind("stacks", "stack", "stack", name_or_file, &STACK_SCHEMA, out,
                          finish_stack, err);
}

int wl_stack_attention(const wl_stack *s, const wl_model *m)
{
    return m->attention_sinks && s->has_sink_attention ? s->sink_attention : s->attention;
}

void wl_plan_stack_defaults(wl_plan *p, const wl_model *m)
{
    p->compile = p->stack.compile_default;
    p->attention = wl_stack_attention(&p->stack, m);
    p->overlap_tp_comm = p->stack.tp_comm_overlap;
    p->overlap_ep_comm = p->stack.ep_comm_overlap;
    p->moe_dispatcher = m->experts > 1 ? p->stack.moe_dispatcher : WL_DISPATCH_ALLTOALL;
    p->fp8_recipe = p->stack.fp8_recipe;
}

const wl_kernel_bytes *wl_stack_kernels(const wl_stack *s, bool compiled)
{
    return compiled && s->has_compiled ? &s->compiled : &s->eager;
}

const wl_kernel_bytes *wl_stack_kernel_launches(const wl_stack *s, bool compiled)
{
    return compiled && s->has_compiled ? &s->compiled_launches : &s->eager_launches;
}

/* A per-op policy that keeps every other matmul's output recomputes the 2nd,
 * 4th and 6th matmuls of a Llama block (wq, wk, wv, wo, w1, w3, w2): wk, wo
 * and the up projection w3 (a plain MLP's down projection). */
double wl_selective_matmul_share(const wl_model *m, const wl_plan *p)
{
    if (p->recompute != WL_RECOMPUTE_SELECTIVE ||
        p->stack.selective != WL_SELECTIVE_ALTERNATE_MATMULS)
        return 0;
    double h = m->hidden, q = (double)m->heads * m->head_dim;
    double kv = (double)m->kv_heads * m->head_dim;
    double f = m->experts > 1 ? (double)m->expert_ffn * m->experts_per_token : m->ffn;
    bool gated = m->mlp == WL_MLP_SWIGLU;
    double all = h * (q + 2 * kv) + q * h + (gated ? 3 : 2) * h * f;
    return (h * kv + q * h + h * f) / all;
}
