/*
 * `ultrasim train`: one training step of a model on a system under a plan,
 * simulated; where the time goes; whether it fits; and, with --tokens, the
 * time, energy and cost of a whole run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/goodput.h"
#include "api/intervals.h"
#include "api/train_options.h"
#include "ultrasim/report.h"
#include "ultrasim/train.h"

extern const api_command api_cmd_train;

static const char *const EXPORT_RANKS[] = {"all", "stage", NULL};

static const usim_option TRAIN_OPTIONS[] = {
    API_TRAIN_OPTIONS,
    {"tokens", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "N",
     "tokens to train: adds time, energy and cost of the run (e.g. 15e12)", NULL, NULL, 1, 1e18,
     false},
    {"trace", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE",
     "write the step's timeline as a Chrome/Perfetto trace", NULL, NULL, 0, 0, false},
    {"export-et", USIM_OPT_STRING, USIM_UNIT_NONE, "PREFIX",
     "write the step as Chakra execution traces: PREFIX.<rank>.et and PREFIX.comm_group.json "
     "('ultrasim replay', ASTRA-sim)",
     NULL, NULL, 0, 0, false},
    {"export-et-ranks", USIM_OPT_CHOICE, USIM_UNIT_NONE, "WHICH",
     "with --export-et: a file for every rank, or for the first rank of each pipeline stage "
     "(its peers do the same work; for 'ultrasim replay': ASTRA-sim needs every rank)",
     "all", EXPORT_RANKS, 0, 0, false},
    {"failures", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "with --tokens: add failures, checkpoints and goodput (options as in 'goodput')", NULL,
     NULL, 0, 0, false},
    API_GOODPUT_OPTIONS,
    API_OPT_REPORT,
};

/* The options that only describe failures: without --failures they would
 * change nothing, so giving one alone is a mistake worth naming. */
static const usim_option GOODPUT_ONLY[] = {API_GOODPUT_OPTIONS};

static usim_status check_failures_options(json_t *req, bool has_tokens, usim_error *err)
{
    bool failures = api_flag(req, "failures");
    if (failures && !has_tokens)
        return usim_fail_field(err, USIM_EINPUT, "failures", "needs --tokens N (the run's length)");
    for (size_t i = 0; !failures && i < sizeof GOODPUT_ONLY / sizeof GOODPUT_ONLY[0]; i++)
        if (json_object_get(req, GOODPUT_ONLY[i].name))
            return usim_fail_field(err, USIM_EINPUT, GOODPUT_ONLY[i].name,
                                   "describes failures and changes nothing without them; add "
                                   "--failures --tokens N (or run 'ultrasim goodput')");
    return USIM_OK;
}

static const char *const TIERS[] = {"node", "scale-up domain", "scale-out network"};

static json_t *group_json(const train_group *g)
{
    return api_pack("{s:i, s:i, s:s}", "size", g->size, "stride", g->stride, "link",
                     g->size > 1 ? TIERS[g->tier] : "none");
}

static json_t *breakdown_json(const train_result *r)
{
    json_t *b = json_object();
    for (int k = 0; k < TRAIN_KIND_COUNT; k++)
        json_object_set_new(b, train_kind_name((train_kind)k),
                            json_real(r->busy_s[k] + r->exposed_s[k]));
    json_object_set_new(b, "bubble", json_real(r->bubble_s));
    return b;
}

static json_t *memory_json(const wl_memory *m, double capacity)
{
    return api_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "weights", m->weights,
                     "gradients", m->gradients, "optimizer", m->optimizer, "activations",
                     m->activations, "temporary", m->temporary, "reserve", m->reserve, "total",
                     m->total, "capacity", capacity, "worst_stage", m->worst_stage);
}

static json_t *plan_json(const wl_plan *p)
{
    static const char *const RC[] = {"none", "selective", "full"};
    json_t *j = api_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:b, s:i, s:I}",
                         "tp", p->tp, "pp", p->pp, "dp", p->dp, "cp", p->cp, "ep", p->ep, "vp",
                         p->vp, "mbs", p->mbs, "gbs", (json_int_t)p->gbs, "seq",
                         (json_int_t)p->seq, "dtype", usim_dtype_name(p->dtype), "recompute",
                         RC[p->recompute], "sp", p->sp && p->tp > 1, "zero", p->zero, "tp_cores",
                         (json_int_t)p->tp_cores);
    json_object_set_new(j, "etp", json_integer(wl_plan_etp(p)));
    json_object_set_new(j, "stack", json_string(p->stack.name));
    json_object_set_new(j, "compile", json_boolean(p->compile));
    json_object_set_new(j, "attention", json_string(api_attention_choices[p->attention]));
    json_object_set_new(j, "overlap_tp_comm", json_boolean(p->overlap_tp_comm));
    json_object_set_new(j, "overlap_tp_comm_forward_only",
                        json_boolean(p->overlap_tp_comm && p->stack.tp_comm_overlap_forward_only));
    json_object_set_new(j, "overlap_ep_comm", json_boolean(p->overlap_ep_comm));
    json_object_set_new(j, "schedule", json_string(wl_schedule_names[p->schedule]));
    json_object_set_new(j, "moe_dispatcher", json_string(wl_dispatcher_names[p->moe_dispatcher]));
    json_object_set_new(j, "cpu_offload_layers", json_integer(p->cpu_offload_layers));
    json_object_set_new(j, "dp_shard", json_integer(wl_plan_zero_shard(p)));
    if (p->recompute == WL_RECOMPUTE_FULL && p->recompute_layers > 0)
        json_object_set_new(j, "recompute_layers", json_integer(p->recompute_layers));
    json_object_set_new(j, "vp_group",
                        json_integer(p->vp > 1 ? wl_vp_group_size(p->pp, p->vp_group) : 0));
    json_object_set_new(j, "embedding_in_pipeline_split", json_boolean(p->embedding_slot));
    json_object_set_new(j, "loss_in_pipeline_split", json_boolean(p->loss_slot));
    if (p->dtype == USIM_FP8)
        json_object_set_new(j, "fp8_recipe", json_string(wl_fp8_recipe_names[p->fp8_recipe]));
    return j;
}

static json_t *result_json(const api_train_setup_t *s, const train_result *r)
{
    wl_params params = wl_model_params(&s->model);
    json_t *groups = api_pack("{s:o, s:o, s:o, s:o, s:o}", "tp", group_json(&r->tp), "cp",
                               group_json(&r->cp), "dp", group_json(&r->dp), "pp",
                               group_json(&r->pp), "ep", group_json(&r->ep));
    if (s->model.experts > 1) /* expert weights' DP traffic; a dense model's is dp's */
        json_object_set_new(groups, "edp", group_json(&r->edp));
    if (r->dpr.size > 1) /* HSDP: dp is the shard group, these its replicas */
        json_object_set_new(groups, "dpr", group_json(&r->dpr));
    json_t *plan = plan_json(&s->plan);
    json_object_set_new(plan, "mtp_layers", json_integer(s->model.mtp_layers));
    if (s->selective_bytes > 0) /* full recomputation chosen to fit */
        json_object_set_new(plan, "selective_would_need_bytes", json_real(s->selective_bytes));
    if (s->modules_added[0]) { /* cheap selective modules added to fit */
        json_object_set_new(plan, "recompute_modules_added", json_string(s->modules_added));
        json_object_set_new(plan, "stack_modules_would_need_bytes",
                            json_real(s->stack_modules_bytes));
    }
    return api_pack(
        "{s:s, s:s, s:i, s:f, s:o, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b, s:o,"
        " s:o, s:o, s:i, s:I, s:i, s:f}",
        "model", s->model.name, "hw", s->sys.name, "chips", s->sys.chips, "params",
        params.total, "plan", plan, "step_time_s", r->step_time_s,
        "tokens_per_s", r->tokens_per_s, "tokens_per_s_per_chip", r->tokens_per_s_per_chip,
        "model_tflops_per_chip", r->model_tflops_per_chip, "mfu", r->mfu, "hfu", r->hfu,
        "model_flops_per_step", r->model_flops_per_step, "hardware_flops_per_step",
        r->hardware_flops_per_step, "peak_flops_per_chip", r->peak_flops_per_chip,
        "memory_per_chip_bytes", r->memory.total, "fits", r->fits, "memory",
        memory_json(&r->memory, r->hbm_bytes_per_chip), "breakdown", breakdown_json(r), "groups",
        groups, "critical_stage", r->critical_stage, "microbatches", (json_int_t)r->microbatches,
        "simulated_tasks", r->tasks, "tokens_per_step", r->tokens_per_step);
}

static void add_totals(json_t *res, const train_result *r, const hw_system *sys, double tokens)
{
    train_totals t = train_totals_for(r, sys, tokens);
    json_t *run = api_pack("{s:f, s:f, s:f, s:f, s:f}", "tokens", tokens, "steps", t.steps,
                            "time_s", t.seconds, "energy_kwh", t.energy_kwh, "cost_usd",
                            t.cost_usd);
    if (hw_no_price_reason(sys))
        json_object_set_new(run, "cost_usd_reason", json_string(hw_no_price_reason(sys)));
    json_object_set_new(res, "run", run);
}

static const char *kind_name(int k)
{
    return train_kind_name((train_kind)k);
}

/* The step's headline figures, with where measured runs fall around them. */
static const api_figure TRAIN_FIGURES[] = {
    {"step_time_s", -1, "step", 1, USIM_UNIT_SECONDS, ""},
    {"mfu", 1, "MFU", 100, USIM_UNIT_NONE, "%"},
    {"tokens_per_s", 1, "tokens/s", 1, USIM_UNIT_NONE, ""},
};

/* --export-et PREFIX: the step as Chakra traces, described in *out. */
static usim_status export_et(const usim_command *cmd, json_t *req, const api_train_setup_t *s,
                             json_t **out, usim_error *err)
{
    const char *prefix = NULL;
    train_export x;
    int which = 0;
    api_string(cmd, req, "export-et", &prefix, err);
    usim_status st = api_choice(cmd, req, "export-et-ranks", &which, err);
    if (st != USIM_OK || !prefix) {
        if (st == USIM_OK && json_object_get(req, "export-et-ranks"))
            st = usim_fail_field(err, USIM_EINPUT, "export-et-ranks",
                                 "says which ranks --export-et writes; add --export-et PREFIX");
        return st;
    }
    st = train_export_et(&s->model, &s->plan, &s->sys, prefix, which == 0, &x, err);
    if (st == USIM_OK)
        *out = api_pack("{s:s, s:s, s:i, s:I}", "prefix", prefix, "ranks", EXPORT_RANKS[which],
                        "files", x.files, "nodes", (json_int_t)x.nodes);
    return st;
}

static usim_status train_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_train.info;
    api_train_setup_t *s = malloc(sizeof *s);
    train_result r;
    sim_graph *graph = NULL;
    const char *trace;
    double tokens = 0;
    bool has_tokens = false;
    if (!s)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    api_string(cmd, req, "trace", &trace, err);
    usim_status st = api_train_setup(cmd, req, s, err);
    if (st == USIM_OK)
        st = api_quantity(cmd, req, "tokens", &tokens, &has_tokens, err);
    if (st == USIM_OK) /* before the step, so a refused request writes no trace */
        st = check_failures_options(req, has_tokens, err);
    if (st == USIM_OK)
        st = api_train_check(s, err);
    if (st == USIM_OK)
        st = train_step(&s->model, &s->plan, &s->sys, &r, trace ? &graph : NULL, err);
    if (st == USIM_OK && trace)
        st = report_write_trace(graph, trace, 4, "pipeline stage", kind_name, err);
    json_t *exported = NULL;
    if (st == USIM_OK)
        st = export_et(cmd, req, s, &exported, err);
    if (st == USIM_OK) {
        *result = result_json(s, &r);
        api_system_warnings(*result, &s->sys);
        api_add_intervals(*result, &s->sys, "training", TRAIN_FIGURES,
                          sizeof TRAIN_FIGURES / sizeof TRAIN_FIGURES[0]);
        if (has_tokens)
            add_totals(*result, &r, &s->sys, tokens);
        if (exported)
            json_object_set_new(*result, "export_et", exported);
    }
    if (st == USIM_OK && api_flag(req, "failures")) {
        json_t *g = NULL;
        st = api_goodput(cmd, req, s, &r, tokens, &g, err);
        if (st == USIM_OK)
            json_object_set_new(*result, "goodput", g);
        else
            json_decref(*result);
    }
    sim_graph_free(graph);
    free(s);
    return st;
}

/* ---- text ----------------------------------------------------------- */

static void render_breakdown(usim_buf *b, json_t *res, double step)
{
    json_t *bd = json_object_get(res, "breakdown");
    usim_buf_printf(b, "\nWhere a step goes (pipeline stage %.0f, the busiest; communication "
                       "counts only where nothing hides it)\n",
                    api_number(res, "critical_stage"));
    for (size_t i = 0; i < API_STEP_PARTS; i++) {
        double s = api_number(bd, api_step_parts[i][0]);
        if (s > 0)
            api_text_share(b, api_step_parts[i][1], 22, s, step);
    }
}

static void render_memory(usim_buf *b, json_t *res)
{
    static const char *const PARTS[] = {"weights",   "gradients", "optimizer",
                                        "activations", "temporary", "reserve"};
    json_t *m = json_object_get(res, "memory");
    double gib = 1024.0 * 1024 * 1024;
    usim_buf_printf(b, "\nMemory per chip (pipeline stage %.0f): %.1f of %.1f GiB\n ",
                    api_number(m, "worst_stage"), api_number(m, "total") / gib,
                    api_number(m, "capacity") / gib);
    for (size_t i = 0; i < sizeof PARTS / sizeof PARTS[0]; i++)
        usim_buf_printf(b, " %s %.1f", PARTS[i], api_number(m, PARTS[i]) / gib);
    usim_buf_puts(b, " GiB\n");
}

static void render_groups(usim_buf *b, json_t *res)
{
    static const char *const NAMES[] = {"tp", "cp", "dp", "dpr", "pp", "ep", "edp"};
    json_t *g = json_object_get(res, "groups");
    usim_buf_puts(b, "\nWhere each group's traffic flows\n");
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        json_t *x = json_object_get(g, NAMES[i]);
        if (x && api_number(x, "size") > 1)
            usim_buf_printf(b, "  %-4s %5.0f ranks, stride %-6.0f %s\n", NAMES[i],
                            api_number(x, "size"), api_number(x, "stride"),
                            json_string_value(json_object_get(x, "link")));
    }
}

static void render_run(usim_buf *b, json_t *res)
{
    json_t *run = json_object_get(res, "run");
    char t[32];
    if (!json_is_object(run))
        return;
    usim_format_quantity(api_number(run, "time_s"), USIM_UNIT_SECONDS, t, sizeof t);
    char cost[160];
    if (isfinite(api_number(run, "cost_usd")))
        snprintf(cost, sizeof cost, "$%.3g", api_number(run, "cost_usd"));
    else
        api_text_value(run, "cost_usd", USIM_UNIT_NONE, cost, sizeof cost);
    usim_buf_printf(b, "\nTraining %.3g tokens: %.0f steps, %s, %.3g MWh, cost %s\n",
                    api_number(run, "tokens"), api_number(run, "steps"), t,
                    api_number(run, "energy_kwh") / 1000, cost);
}

static usim_status train_render(json_t *res, usim_buf *b, usim_error *err)
{
    json_t *p = json_object_get(res, "plan");
    double step = api_number(res, "step_time_s");
    char st[32];
    usim_format_quantity(step, USIM_UNIT_SECONDS, st, sizeof st);
    char params[32];
    double chips = api_number(res, "chips");
    api_text_count(api_number(res, "params"), params, sizeof params);
    usim_buf_printf(b, "%s (%s parameters) on %.0f chip%s of %s\n",
                    json_string_value(json_object_get(res, "model")), params, chips,
                    api_plural(chips), json_string_value(json_object_get(res, "hw")));
    char etp[32] = "", dtype[48];
    const char *recipe = json_string_value(json_object_get(p, "fp8_recipe"));
    snprintf(dtype, sizeof dtype, recipe ? "%s (%s recipe)" : "%s",
             json_string_value(json_object_get(p, "dtype")), recipe);
    if (api_number(p, "etp") < api_number(p, "tp"))
        snprintf(etp, sizeof etp, " (expert TP %.0f)", api_number(p, "etp"));
    const char *schedule = json_string_value(json_object_get(p, "schedule"));
    const char *dispatcher = json_string_value(json_object_get(p, "moe_dispatcher"));
    char extras[160];
    bool zero_bubble = schedule && !strcmp(schedule, "zb-h1") && api_number(p, "pp") > 1;
    snprintf(extras, sizeof extras, "%s", zero_bubble ? ", ZB-H1 schedule" : "");
    if (api_number(p, "vp_group") > 0 && api_number(p, "vp_group") != api_number(p, "pp"))
        snprintf(extras + strlen(extras), sizeof extras - strlen(extras),
                 " in groups of %.0f micro-batches", api_number(p, "vp_group"));
    bool embedding = json_is_true(json_object_get(p, "embedding_in_pipeline_split"));
    bool loss = json_is_true(json_object_get(p, "loss_in_pipeline_split"));
    if (embedding || loss)
        snprintf(extras + strlen(extras), sizeof extras - strlen(extras), ", %s a layer's place",
                 !loss ? "embedding takes" : embedding ? "embedding and loss take" : "loss takes");
    if (api_number(p, "mtp_layers") > 0) /* multi-token prediction modules */
        snprintf(extras + strlen(extras), sizeof extras - strlen(extras), ", MTP %.0f",
                 api_number(p, "mtp_layers"));
    char offload[160] = "";
    if (api_number(p, "recompute_layers") > 0)
        snprintf(offload, sizeof offload, " (the first %.0f layers of each chunk)",
                 api_number(p, "recompute_layers"));
    if (api_number(p, "selective_would_need_bytes") > 0)
        snprintf(offload + strlen(offload), sizeof offload - strlen(offload),
                 ", as selective would need %.1f GiB a chip",
                 api_number(p, "selective_would_need_bytes") / (1024.0 * 1024 * 1024));
    const char *added = json_string_value(json_object_get(p, "recompute_modules_added"));
    if (added)
        snprintf(offload + strlen(offload), sizeof offload - strlen(offload),
                 " (adding %s, as the stack's own would need %.1f GiB a chip)", added,
                 api_number(p, "stack_modules_would_need_bytes") / (1024.0 * 1024 * 1024));
    if (api_number(p, "cpu_offload_layers") > 0)
        snprintf(offload + strlen(offload), sizeof offload - strlen(offload),
                 ", %.0f layers' activations offloaded to host",
                 api_number(p, "cpu_offload_layers"));
    char hsdp[48] = ""; /* a shard group smaller than DP x CP */
    if (api_number(p, "dp_shard") < api_number(p, "dp") * api_number(p, "cp"))
        snprintf(hsdp, sizeof hsdp, " (HSDP: shards of %.0f ranks)", api_number(p, "dp_shard"));
    usim_buf_printf(b, "plan: TP %.0f, PP %.0f, DP %.0f, CP %.0f, EP %.0f%s, VP %.0f%s; micro-batch "
                       "%.0f, global batch %.0f x %.0f tokens; %s, recompute %s%s%s, ZeRO %.0f%s\n"
                       "stack: %s%s, attention %s%s%s%s\n\n",
                    api_number(p, "tp"), api_number(p, "pp"), api_number(p, "dp"),
                    api_number(p, "cp"), api_number(p, "ep"), etp, api_number(p, "vp"), extras,
                    api_number(p, "mbs"), api_number(p, "gbs"), api_number(p, "seq"), dtype,
                    json_string_value(json_object_get(p, "recompute")), offload,
                    json_is_true(json_object_get(p, "sp")) ? ", SP" : "",
                    api_number(p, "zero"),
                    hsdp, json_string_value(json_object_get(p, "stack")),
                    json_is_true(json_object_get(p, "compile")) ? " (compiled)" : "",
                    json_string_value(json_object_get(p, "attention")),
                    api_number(p, "tp") > 1 && json_is_true(json_object_get(p, "overlap_tp_comm"))
                        ? json_is_true(json_object_get(p, "overlap_tp_comm_forward_only"))
                              ? ", TP collectives overlapped in the forward"
                              : ", TP collectives overlapped"
                        : "",
                    api_number(p, "ep") > 1 && json_is_true(json_object_get(p, "overlap_ep_comm"))
                        ? ", EP all-to-alls overlapped"
                        : "",
                    dispatcher && !strcmp(dispatcher, "deepep") ? ", DeepEP dispatch" : "");
    usim_buf_printf(b, "  %-22s %s\n", "step time", st);
    usim_buf_printf(b, "  %-22s %.4g (%.4g per chip)\n", "tokens/s", api_number(res, "tokens_per_s"),
                    api_number(res, "tokens_per_s_per_chip"));
    usim_buf_printf(b, "  %-22s %.1f TFLOP/s per chip\n", "model FLOPs",
                    api_number(res, "model_tflops_per_chip"));
    usim_buf_printf(b, "  %-22s %.1f%% (HFU %.1f%%) of %.4g TFLOPS %s peak\n", "MFU",
                    100 * api_number(res, "mfu"), 100 * api_number(res, "hfu"),
                    api_number(res, "peak_flops_per_chip") / 1e12,
                    json_string_value(json_object_get(p, "dtype")));
    api_interval_line(b, res, TRAIN_FIGURES, 2, 22);
    render_breakdown(b, res, step);
    render_memory(b, res);
    render_groups(b, res);
    render_run(b, res);
    if (json_is_object(json_object_get(res, "goodput"))) {
        usim_buf_puts(b, "\nWith failures and checkpoints\n");
        api_goodput_render(json_object_get(res, "goodput"), b, err);
    }
    json_t *x = json_object_get(res, "export_et");
    if (x) {
        char nodes[32];
        const char *prefix = json_string_value(json_object_get(x, "prefix"));
        api_text_count(api_number(x, "nodes"), nodes, sizeof nodes);
        usim_buf_printf(b, "\nWrote %.0f Chakra trace file%s (%s.<rank>.et, %s nodes, %s) and "
                           "%s.comm_group.json\n",
                        api_number(x, "files"), api_plural(api_number(x, "files")), prefix, nodes,
                        strcmp(json_string_value(json_object_get(x, "ranks")), "all")
                            ? "the first rank of each pipeline stage"
                            : "every rank",
                        prefix);
    }
    return USIM_OK;
}

const api_command api_cmd_train = {
    {"train", "simulate a training step: time, MFU, breakdown, memory",
     "ultrasim train --model NAME|config.json --hw PRESET [--chips N] [--tp T] [--pp P] [--dp D] "
     "[--cp C] [--ep E] [--vp V] [--microbatch-group-size-per-virtual-pipeline-stage N] "
     "[--account-for-embedding-in-pipeline-split] [--account-for-loss-in-pipeline-split] "
     "[--schedule 1f1b|zb-h1] [--moe-dispatcher alltoall|deepep] [--mtp-layers N] [--mbs B] --gbs G --seq S [--dtype bf16|fp16|fp8|fp8-cs|fp8-mx] [--recompute "
     "none|selective|full] [--cpu-offload-layers N] [--sp] [--zero 0|1|2|3] [--stack NAME|FILE] [--compile on|off] "
     "[--tokens N] [--trace F] [--export-et PREFIX] [--json]",
     "Simulates one step on the discrete-event core, one representative chip per pipeline\n"
     "stage: per-op costs from the engine and network models, pipeline bubbles from the\n"
     "schedule, exposed communication from what the timeline leaves uncovered. MFU counts\n"
     "6N + attention FLOPs per token against the dtype's dense peak; HFU adds recompute.\n"
     "The software stack (--stack, data/stacks) says what its kernels move, what its\n"
     "selective recomputation keeps, its attention kernel and its gradient type.\n"
     "A plan that does not fit in HBM is an error (exit 2) saying by how much.",
     NULL, TRAIN_OPTIONS, sizeof TRAIN_OPTIONS / sizeof TRAIN_OPTIONS[0]},
    train_run,
    train_render,
};
