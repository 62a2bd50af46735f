/*
 * The options a training run is described by, shared by `train`, `goodput`
 * and the plan search: model, hardware, parallel plan, batch, precision.
 * Reads a request into a model, a system and a plan, with the documented
 * defaults (docs/training.md) filled in the same way for every run.
 */
#include <stdio.h>
#include <string.h>

#include "api/train_options.h"
#include "ultrasim/train.h"

/* The three types, then FP8 with its recipe as NVIDIA's performance tables
 * name it (FP8-DS delayed, FP8-CS current, FP8-MX MXFP8 scaling), in
 * wl_fp8_recipe's order. */
const char *const api_dtype_choices[] = {"bf16", "fp16", "fp8", "fp8-ds", "fp8-cs", "fp8-mx", NULL};
enum { DTYPE_FP8_RECIPES = API_DTYPE_FP8_RECIPES };
const char *const api_recompute_choices[] = {"none", "selective", "full", NULL};
const char *const api_zero_choices[] = {"0", "1", "2", "3", NULL};
const char *const api_on_off_choices[] = {"on", "off", NULL};
const char *const api_tp_unit_choices[] = {"chip", "core", NULL};

static int int_or(const usim_command *cmd, json_t *req, const char *name, int64_t def,
                  usim_status *st, usim_error *err)
{
    return (int)api_next_int(cmd, req, name, def, st, err);
}

static bool on(const usim_command *cmd, json_t *req, const char *name, usim_status *st,
               usim_error *err)
{
    return api_next_choice(cmd, req, name, st, err) == 0;
}

/* An overlapped all-to-all's kernels hold ep_comm_sms of the chip's SMs
 * while the experts' GEMMs run on the rest: a stack asking for all of them
 * leaves the overlap nothing to run on. */
static usim_status check_ep_comm_sms(const char *stack, const hw_chip *chip, const wl_model *m,
                                     const wl_plan *p, usim_error *err)
{
    if (!p->overlap_ep_comm || m->experts <= 1 || chip->matrix.kind != HW_MATRIX_TENSOR_CORE ||
        p->stack.ep_comm_sms < chip->cores)
        return USIM_OK;
    usim_fail_field(err, USIM_EINPUT, "ep_comm_sms",
                    "%g SMs for the overlapped all-to-all leave none of %s's %d for the "
                    "computation it overlaps (allowed: 0 to %d, or --overlap-ep-comm off)",
                    p->stack.ep_comm_sms, chip->name, chip->cores, chip->cores - 1);
    snprintf(err->file, sizeof err->file, "%s", stack);
    return USIM_EINPUT;
}

/* The stack a run uses (--stack, else the system's own, else Megatron-Core),
 * whether it compiles (--compile, else the stack's default) and how it
 * dispatches MoE tokens (--moe-dispatcher, else the stack's). */
usim_status api_read_stack(const usim_command *cmd, json_t *req, const hw_system *sys,
                           const wl_model *m, wl_plan *p, usim_error *err)
{
    const char *name = NULL;
    usim_status st = api_string(cmd, req, "stack", &name, err);
    if (st != USIM_OK)
        return st;
    /* CUDA stacks do not run on a NeuronCore, nor Neuron's on a GPU */
    bool trainium = sys->chip.matrix.kind == HW_MATRIX_SYSTOLIC;
    if (!name)
        name = wl_default_stack(sys);
    st = wl_stack_load(name, &p->stack, err);
    if (st != USIM_OK)
        return st;
    if (p->stack.runs_on != WL_ON_ANY && (p->stack.runs_on == WL_ON_TRAINIUM) != trainium)
        return usim_fail_field(err, USIM_EINPUT, "stack",
                               "'%s' runs on %s, and %s's chips are %s (allowed here: a stack "
                               "for %s, such as %s)",
                               p->stack.name, trainium ? "GPUs" : "Trainium", sys->name,
                               trainium ? "Trainium" : "GPUs", trainium ? "Trainium" : "GPUs",
                               trainium ? WL_DEFAULT_TRAINIUM_STACK : WL_DEFAULT_STACK);
    wl_plan given = *p; /* what the run said, read before the stack was known */
    wl_plan_stack_defaults(p, m);
    if (json_object_get(req, "attention"))
        p->attention = given.attention;
    if (json_object_get(req, "overlap-tp-comm"))
        p->overlap_tp_comm = given.overlap_tp_comm;
    if (json_object_get(req, "overlap-ep-comm"))
        p->overlap_ep_comm = given.overlap_ep_comm;
    if (json_object_get(req, "moe-dispatcher"))
        p->moe_dispatcher = api_next_choice(cmd, req, "moe-dispatcher", &st, err);
    if (st == USIM_OK)
        st = check_ep_comm_sms(name, &sys->chip, m, p, err);
    if (st == USIM_OK && json_object_get(req, "compile")) {
        p->compile = on(cmd, req, "compile", &st, err);
        if (st == USIM_OK && p->compile && !p->stack.has_compiled)
            return usim_fail_field(err, USIM_EINPUT, "compile",
                                   "stack '%s' has no compiled mode (its kernels are already "
                                   "fused); allowed: off, or a stack that compiles (torchtitan)",
                                   p->stack.name);
    }
    if (st == USIM_OK && p->tp > 1 && p->overlap_tp_comm &&
        p->stack.tp_comm_overlap_needs_compile && !p->compile)
        return usim_fail_field(err, USIM_EINPUT, "overlap-tp-comm",
                               "stack '%s' overlaps TP collectives only in a compiled graph (a "
                               "torch.compile pass: async TP); add --compile on, or give "
                               "--overlap-tp-comm off",
                               p->stack.name);
    return st;
}

/* --fp8-recipe: for an FP8 run, one its stack implements, and MX block
 * scales (given or the stack's default) only on tensor cores that take
 * them. */
usim_status api_read_fp8_recipe(const usim_command *cmd, json_t *req, const hw_system *sys,
                                int named, wl_plan *p, usim_error *err)
{
    usim_status st = USIM_OK;
    int recipe = json_object_get(req, "fp8-recipe") ? api_next_choice(cmd, req, "fp8-recipe", &st, err)
                                                     : named;
    if (st != USIM_OK)
        return st;
    if (named >= 0 && recipe != named)
        return usim_fail_field(err, USIM_EINPUT, "fp8-recipe",
                               "--dtype %s already names the %s recipe; give one of them",
                               api_dtype_choices[DTYPE_FP8_RECIPES + named],
                               wl_fp8_recipe_names[named]);
    if (recipe < 0)
        return p->dtype == USIM_FP8 && p->fp8_recipe == WL_FP8_MXFP8 ? api_check_mx(&sys->chip, err)
                                                                     : USIM_OK;
    if (p->dtype != USIM_FP8)
        return usim_fail_field(err, USIM_EINPUT, "fp8-recipe",
                               "a recipe scales FP8 GEMM inputs; add --dtype fp8 or drop it");
    if (wl_stack_fp8_cast_bytes(&p->stack, recipe) <= 0) {
        char have[96] = "";
        for (int i = 0; wl_fp8_recipe_names[i]; i++)
            if (wl_stack_fp8_cast_bytes(&p->stack, i) > 0)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
                         have[0] ? ", " : "", wl_fp8_recipe_names[i]);
        return usim_fail_field(err, USIM_EINPUT, "fp8-recipe",
                               "stack '%s' has no %s recipe; allowed with it: %s", p->stack.name,
                               wl_fp8_recipe_names[recipe], have);
    }
    if (recipe == WL_FP8_MXFP8 && (st = api_check_mx(&sys->chip, err)) != USIM_OK)
        return st;
    p->fp8_recipe = recipe;
    return USIM_OK;
}

/* Megatron-Core's --recompute-modules: the list replaces what the stack's
 * selective recomputation rebuilds besides the attention core, which every
 * module-based selective mode recomputes (free with a flash kernel), so
 * core_attn is accepted and changes nothing. A per-op policy (torchtitan's)
 * has no modules to name. */
static usim_status read_recompute_modules(const usim_command *cmd, json_t *req, wl_plan *p,
                                          usim_error *err)
{
    static const char *const names[] = {"core_attn", "layernorm", "mla_up_proj", "moe_act", "mlp",
                                        "moe"};
    static const char *const allowed =
        "allowed: core_attn, layernorm, mla_up_proj, moe_act, mlp, moe";
    const char *list = NULL;
    usim_status st = api_string(cmd, req, "recompute-modules", &list, err);
    if (st != USIM_OK || !list)
        return st;
    if (p->recompute != WL_RECOMPUTE_SELECTIVE)
        return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                               "recompute modules apply to --recompute selective only%s",
                               p->cpu_offload_layers > 0
                                   ? " (with --cpu-offload-layers nothing is recomputed: "
                                     "Megatron-Core offloads only without recomputation)"
                                   : "");
    if (p->stack.selective != WL_SELECTIVE_ATTENTION_CORE)
        return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                               "stack '%s' recomputes by its own per-op policy, not by modules; "
                               "allowed with a module-based stack (megatron-core, nemo, hai-llm)",
                               p->stack.name);
    enum { N = sizeof names / sizeof names[0] };
    bool on[N] = {false};
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                               "the list is longer than %zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        size_t i = 0;
        while (i < N && strcmp(tok, names[i]) != 0)
            i++;
        if (i == N && !*tok)
            return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                                   "an empty entry in '%s'; %s", list, allowed);
        if (i == N)
            return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                                   "'%s' is not a module this simulator recomputes; %s", tok,
                                   allowed);
        on[i] = true;
    }
    wl_stack *s = &p->stack;
    s->recompute_norms = on[1];
    s->recompute_mla_up = on[2];
    s->recompute_moe_act = on[3];
    s->recompute_mlp = on[4];
    s->recompute_moe = on[5];
    s->recompute_swiglu = false;
    return USIM_OK;
}

/* Options this plan and model never read: a pipeline option at PP 1, an
 * expert option on a dense model. Given, they would change nothing. */
static usim_status check_unread_options(json_t *req, const wl_plan *p, const wl_model *m,
                                        usim_error *err)
{
    static const char *const PIPELINE[] = {"account-for-embedding-in-pipeline-split",
                                           "account-for-loss-in-pipeline-split", NULL};
    for (int i = 0; PIPELINE[i] && p->pp == 1; i++)
        if (api_flag(req, PIPELINE[i]))
            return usim_fail_field(err, USIM_EINPUT, PIPELINE[i],
                                   "splits the layers over pipeline stages; PP 1 has one stage "
                                   "(allowed with --pp 2 or more)");
    if (p->pp == 1 && p->schedule == WL_SCHED_ZB_H1)
        return usim_fail_field(err, USIM_EINPUT, "schedule",
                               "zb-h1 fills a pipeline's bubbles, and PP 1 has none (allowed at "
                               "PP 1: 1f1b)");
    bool modules = json_object_get(req, "recompute-modules") != NULL; /* read: p->stack */
    if (m->experts <= 1 && p->overlap_ep_comm && json_object_get(req, "overlap-ep-comm"))
        return usim_fail_field(err, USIM_EINPUT, "overlap-ep-comm",
                               "on hides expert-parallel all-to-alls, and %s is dense (no "
                               "experts; allowed: off)",
                               m->name);
    if (m->experts <= 1 && modules && (p->stack.recompute_moe_act || p->stack.recompute_moe))
        return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                               "%s recomputes %s, and %s is dense (no experts)",
                               p->stack.recompute_moe ? "moe" : "moe_act",
                               p->stack.recompute_moe ? "the MoE layers" : "the experts' activation",
                               m->name);
    if (m->mla.kv_lora_rank <= 0 && modules && p->stack.recompute_mla_up)
        return usim_fail_field(err, USIM_EINPUT, "recompute-modules",
                               "mla_up_proj recomputes latent attention's up-projections, and %s "
                               "has no latent attention",
                               m->name);
    return USIM_OK;
}

/* The option to name when TP x PP x CP does not divide the chips: the first
 * degree given that does not divide them alone, else the first given, else
 * the chip count. */
static const char *degree_at_fault(json_t *req, const wl_plan *p, int chips)
{
    const char *names[] = {"pp", "cp", "tp"};
    int degrees[] = {p->pp, p->cp, p->tp};
    for (int i = 0; i < 3; i++)
        if (json_object_get(req, names[i]) && chips % degrees[i] != 0)
            return names[i];
    for (int i = 0; i < 3; i++)
        if (json_object_get(req, names[i]))
            return names[i];
    return "chips";
}

usim_status api_train_setup(const usim_command *cmd, json_t *req, api_train_setup_t *out,
                            usim_error *err)
{
    usim_status st = api_load_model(cmd, req, &out->model, err);
    if (st == USIM_OK)
        st = api_load_system(cmd, req, &out->sys, err);
    if (st != USIM_OK)
        return st;
    wl_plan *p = &out->plan;
    memset(p, 0, sizeof *p);
    out->model.mtp_layers = int_or(cmd, req, "mtp-layers", out->model.mtp_layers, &st, err);
    p->tp = int_or(cmd, req, "tp", 1, &st, err);
    p->pp = int_or(cmd, req, "pp", 1, &st, err);
    p->cp = int_or(cmd, req, "cp", 1, &st, err);
    p->ep = int_or(cmd, req, "ep", 1, &st, err);
    p->etp = int_or(cmd, req, "etp", 0, &st, err);
    p->vp = int_or(cmd, req, "vp", 1, &st, err);
    p->vp_group = int_or(cmd, req, "microbatch-group-size-per-virtual-pipeline-stage", 0, &st, err);
    p->embedding_slot = api_flag(req, "account-for-embedding-in-pipeline-split");
    p->loss_slot = api_flag(req, "account-for-loss-in-pipeline-split");
    /* More virtual stages than layers run in Megatron-Core only with the
     * embedding and the loss counted as layers (NVIDIA's 405B recipe at PP
     * 16 x VP 8 sets both): a run that needs them and names neither has them. */
    int stages = p->pp * p->vp, layers = out->model.layers;
    if (!p->embedding_slot && !p->loss_slot && stages > layers && (layers + 2) % stages == 0)
        p->embedding_slot = p->loss_slot = true;
    p->schedule = api_next_choice(cmd, req, "schedule", &st, err);
    p->mbs = int_or(cmd, req, "mbs", 1, &st, err);
    p->gbs = int_or(cmd, req, "gbs", 1, &st, err);
    p->seq = int_or(cmd, req, "seq", 1, &st, err);
    int dtype = api_next_choice(cmd, req, "dtype", &st, err);
    p->recompute = api_next_choice(cmd, req, "recompute", &st, err);
    out->recompute_given = json_object_get(req, "recompute") ||
                           json_object_get(req, "recompute-modules") ||
                           json_object_get(req, "recompute-layers") ||
                           json_object_get(req, "cpu-offload-layers");
    out->selective_bytes = out->full_bytes = out->stack_modules_bytes = 0;
    out->modules_added[0] = '\0';
    p->cpu_offload_layers = int_or(cmd, req, "cpu-offload-layers", 0, &st, err);
    p->recompute_layers = int_or(cmd, req, "recompute-layers", 0, &st, err);
    /* Megatron-Core offloads only without recomputation */
    if (p->cpu_offload_layers > 0 && !json_object_get(req, "recompute"))
        p->recompute = WL_RECOMPUTE_NONE;
    p->zero = api_next_choice(cmd, req, "zero", &st, err);
    p->dp_shard = int_or(cmd, req, "dp-shard", 0, &st, err);
    int unit = api_next_choice(cmd, req, "tp-unit", &st, err);
    p->attention = api_next_choice(cmd, req, "attention", &st, err);
    p->dtype = dtype == 0 ? USIM_BF16 : dtype == 1 ? USIM_FP16 : USIM_FP8;
    int named_recipe = dtype >= DTYPE_FP8_RECIPES ? dtype - DTYPE_FP8_RECIPES : -1;
    /* Megatron-LM recommends SP with TP and NeMo's configurations use it. */
    if (api_flag(req, "sp") && api_flag(req, "no-sp"))
        return usim_fail_field(err, USIM_EINPUT, "sp", "give --sp or --no-sp, not both");
    /* "sp": false (a sweep's grid, a JSON request) turns it off, as --no-sp;
     * read as "not given" it left the default on */
    p->sp = !api_flag(req, "no-sp") && !json_is_false(json_object_get(req, "sp"));
    p->overlap_grad_reduce = on(cmd, req, "overlap-grad-reduce", &st, err);
    p->overlap_param_gather = on(cmd, req, "overlap-param-gather", &st, err);
    if (json_object_get(req, "overlap-tp-comm")) /* else the stack's (api_read_stack) */
        p->overlap_tp_comm = on(cmd, req, "overlap-tp-comm", &st, err);
    if (json_object_get(req, "overlap-ep-comm"))
        p->overlap_ep_comm = on(cmd, req, "overlap-ep-comm", &st, err);
    if (st == USIM_OK)
        st = api_read_stack(cmd, req, &out->sys, &out->model, p, err);
    if (st == USIM_OK)
        st = read_recompute_modules(cmd, req, p, err);
    if (st == USIM_OK)
        st = check_unread_options(req, p, &out->model, err);
    if (st == USIM_OK)
        st = api_read_fp8_recipe(cmd, req, &out->sys, named_recipe, p, err);
    if (st == USIM_OK && unit == 1 && json_object_get(req, "etp"))
        return usim_fail_field(err, USIM_EINPUT, "etp",
                               "give --etp with TP counted in chips, not with --tp-unit core");
    if (st == USIM_OK && unit == 1) {
        p->tp_cores = p->tp;
        st = api_tp_in_chips(&out->sys, p->tp_cores, &p->tp, err);
    }
    if (st != USIM_OK)
        return st;
    int rest = p->tp * p->pp * p->cp;
    if (!json_object_get(req, "dp") && out->sys.chips % rest != 0)
        return usim_fail_field(err, USIM_EINPUT, degree_at_fault(req, p, out->sys.chips),
                               "TP %d x PP %d x CP %d = %d does not divide the %d chips, so "
                               "there is no whole DP degree; change --tp, --pp, --cp or --chips",
                               p->tp, p->pp, p->cp, rest, out->sys.chips);
    p->dp = int_or(cmd, req, "dp", out->sys.chips / (rest > 0 ? rest : 1), &st, err);
    if (st == USIM_OK && p->dp < 1)
        st = usim_fail_field(err, USIM_EINPUT, degree_at_fault(req, p, out->sys.chips),
                             "TP %d x PP %d x CP %d = %d is more than the %d chips", p->tp,
                             p->pp, p->cp, rest, out->sys.chips);
    return st;
}

/* What shrinks the activations of plan p: the options it has not used yet. */
static const char *activation_advice(const wl_plan *p)
{
    if (p->cpu_offload_layers > 0)
        return "offload more layers (--cpu-offload-layers), or use a smaller --mbs or more "
               "--tp with --sp";
    if (p->recompute == WL_RECOMPUTE_FULL)
        return "use a smaller --mbs, more --tp with --sp, --cp, or more --pp";
    if (p->schedule == WL_SCHED_ZB_H1) /* which recomputes nothing whole */
        return "use --schedule 1f1b (which may recompute whole layers), a smaller --mbs, more "
               "--tp with --sp, or more --pp";
    if (p->pp == 1 && p->stack.activation_offload)
        return "use --recompute full, --cpu-offload-layers with --recompute none, a smaller "
               "--mbs, more --tp with --sp, or --pp";
    return "use --recompute full, a smaller --mbs, more --tp with --sp, or more --pp";
}

/* "Does not fit" names the biggest parts and what would shrink them. */
static usim_status check_fits(const api_train_setup_t *s, usim_error *err)
{
    const wl_plan *p = &s->plan;
    wl_memory mem = wl_memory_per_chip(&s->model, p);
    const wl_memory *m = &mem;
    double hbm = s->sys.chip.hbm.capacity_bytes;
    if (m->total <= hbm)
        return USIM_OK;
    double gib = 1024.0 * 1024 * 1024;
    double states = m->weights + m->gradients + m->optimizer;
    wl_plan tried = *p; /* full recomputation, where it was tried, is no advice */
    if (s->full_bytes > 0)
        tried.recompute = WL_RECOMPUTE_FULL;
    const char *advice = m->activations > states ? activation_advice(&tried)
                         : p->zero < 3 ? "raise --zero, or shard the model more (--tp, --pp)"
                         : p->dp_shard > 0
                             ? "raise --dp-shard, or shard the model more (--tp, --pp)"
                             : "shard the model more (--tp, --pp) or add chips";
    char full[80] = "";
    if (s->full_bytes > 0)
        snprintf(full, sizeof full, " (recomputing every layer whole: %.1f GiB)",
                 s->full_bytes / gib);
    return usim_fail(err, USIM_EINPUT,
                     "the plan does not fit: it needs %.1f GiB per chip%s (pipeline stage %d) of "
                     "the %.1f GiB HBM, %.1f GiB too much (weights %.1f, gradients %.1f, "
                     "optimizer %.1f, activations %.1f, temporary %.1f, reserve %.1f GiB); %s",
                     m->total / gib, full, m->worst_stage, hbm / gib, (m->total - hbm) / gib,
                     m->weights / gib, m->gradients / gib, m->optimizer / gib,
                     m->activations / gib, m->temporary / gib, m->reserve / gib, advice);
}

static bool plan_fits(const api_train_setup_t *s)
{
    return wl_memory_per_chip(&s->model, &s->plan).total <= s->sys.chip.hbm.capacity_bytes;
}

/* A run that names no recomputation and does not fit under the stack's
 * selective modules: NVIDIA's recipes first add the modules that cost little
 * to rebuild (Megatron-Core's --recompute-modules layernorm, moe_act,
 * mla_up_proj: norms, the experts' activation, latent attention's
 * up-projections; Megatron-Bridge's performance configs set them per model
 * to fit), in that order, as many as it takes. True when that fits. */
static bool add_cheap_modules(api_train_setup_t *s)
{
    wl_plan *p = &s->plan;
    wl_stack *k = &p->stack, saved = *k;
    if (k->selective != WL_SELECTIVE_ATTENTION_CORE)
        return false;
    const struct {
        const char *name;
        bool *on;
        bool applies;
    } ladder[] = {{"layernorm", &k->recompute_norms, true},
                  {"moe_act", &k->recompute_moe_act, s->model.experts > 1},
                  {"mla_up_proj", &k->recompute_mla_up, s->model.mla.kv_lora_rank > 0}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++) {
        if (!ladder[i].applies || *ladder[i].on)
            continue;
        *ladder[i].on = true;
        n += (size_t)snprintf(s->modules_added + n, sizeof s->modules_added - n, "%s%s",
                              n ? ", " : "", ladder[i].name);
        if (plan_fits(s))
            return true;
    }
    *k = saved;
    s->modules_added[0] = '\0';
    return false;
}

/* A run that names no recomputation and does not fit under selective, the
 * cheap modules added: a recipe then recomputes whole layers (Megatron-Core's block method,
 * recompute_num_layers N of each model chunk), as few as fit, since each
 * costs a forward again. Memory falls as N grows, so the fewest is found by
 * bisection; if none fits, the run stays selective, for the message. A
 * zero-bubble schedule, which needs selective recomputation, is left as it
 * is. */
static void fit_recompute(api_train_setup_t *s)
{
    wl_plan *p = &s->plan;
    if (s->recompute_given || p->recompute != WL_RECOMPUTE_SELECTIVE ||
        p->schedule == WL_SCHED_ZB_H1)
        return;
    double stack_bytes = wl_memory_per_chip(&s->model, p).total;
    if (stack_bytes <= s->sys.chip.hbm.capacity_bytes)
        return;
    if (add_cheap_modules(s)) {
        s->stack_modules_bytes = stack_bytes;
        return;
    }
    int per_rank = s->model.layers / (p->pp > 0 ? p->pp : 1);
    p->recompute = WL_RECOMPUTE_FULL;
    int lo = 1, hi = per_rank;
    p->recompute_layers = hi;
    if (!plan_fits(s)) {
        s->full_bytes = wl_memory_per_chip(&s->model, p).total;
        p->recompute = WL_RECOMPUTE_SELECTIVE;
        p->recompute_layers = 0;
        return;
    }
    s->selective_bytes = stack_bytes;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        p->recompute_layers = mid;
        if (plan_fits(s))
            hi = mid;
        else
            lo = mid + 1;
    }
    p->recompute_layers = lo < per_rank ? lo : 0;
}

usim_status api_train_check(api_train_setup_t *s, usim_error *err)
{
    usim_status st = train_check(&s->model, &s->plan, &s->sys, err);
    if (st != USIM_OK)
        return st;
    fit_recompute(s);
    return check_fits(s, err);
}
