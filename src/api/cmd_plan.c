/*
 * `ultrasim plan`: the best parallel plans for a model on a system, ranked,
 * and why the best beats the runner-up.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/serve_plan.h"
#include "api/train_options.h"
#include "ultrasim/plan.h"

extern const api_command api_cmd_plan;

static const char *const OBJECTIVES[] = {"time", "cost", "energy", NULL};

static const usim_option PLAN_OPTIONS[] = {
    {"model", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", "model preset or config.json", NULL,
     NULL, 0, 0, true, true},
    API_OPT_HW("system preset or JSON file"),
    API_OPT_CHIPS,
    API_OPT_NETWORK,
    {"gbs", USIM_OPT_INT, USIM_UNIT_NONE, "G",
     "global batch size, sequences (required for a training plan)", NULL, NULL, 1, API_GBS_MAX,
     false},
    {"seq", USIM_OPT_INT, USIM_UNIT_NONE, "S",
     "sequence length, tokens (required for a training plan)", NULL, NULL, 1, 16777216, false},
    {"dtype", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE",
     "matrix-multiply input type (fp8-ds, fp8-cs, fp8-mx: FP8 with that recipe, as train)",
     "bf16", api_dtype_choices, 0, 0, false},
    {"fp8-recipe", USIM_OPT_CHOICE, USIM_UNIT_NONE, "RECIPE",
     "with --dtype fp8: how each GEMM input is scaled, as train's option (default: the stack's)",
     NULL, wl_fp8_recipe_names, 0, 0, false},
    {"schedule", USIM_OPT_CHOICE, USIM_UNIT_NONE, "NAME",
     "pipeline schedule of every plan, as train's option: 1f1b (interleaved when VP > 1) or "
     "zb-h1 (VP 1 only)", "1f1b", wl_schedule_names, 0, 0, false},
    {"moe-dispatcher", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KIND",
     "how MoE tokens reach their experts, as train's option (default: the stack's)", NULL,
     wl_dispatcher_names, 0, 0, false},
    {"mtp-layers", USIM_OPT_INT, USIM_UNIT_NONE, "N",
     "multi-token prediction modules, as train's option (default: the model's)", NULL, NULL, 0,
     16, false},
    {"top", USIM_OPT_INT, USIM_UNIT_NONE, "K", "plans to show", "5", NULL, 1, PLAN_TOP_MAX, false},
    {"objective", USIM_OPT_CHOICE, USIM_UNIT_NONE, "WHAT", "rank by step time, cost or energy",
     "time", OBJECTIVES, 0, 0, false},
    {"jobs", USIM_OPT_INT, USIM_UNIT_NONE, "N", "threads (default: one per core)", NULL, NULL, 1,
     64, false},
    API_OPT_STACK,
    API_OPT_REPORT,
    {"serve", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "search serving deployments instead (TP, PP, weight type, aggregated or disaggregated, "
     "concurrency) under --slo-ttft and --slo-tpot",
     NULL, NULL, 0, 0, false},
    {"isl", USIM_OPT_INT, USIM_UNIT_NONE, "I", "with --serve: input tokens per request", "1024",
     NULL, 1, 1e7, false},
    {"osl", USIM_OPT_INT, USIM_UNIT_NONE, "O", "with --serve: output tokens per request", "256",
     NULL, 1, 1e7, false},
    {"slo-ttft", USIM_OPT_QUANTITY, USIM_UNIT_SECONDS, "TIME",
     "with --serve: bound on time to first token (p90)", NULL, NULL, 1e-6, 3600, false},
    {"slo-tpot", USIM_OPT_QUANTITY, USIM_UNIT_SECONDS, "TIME",
     "with --serve: bound on time per output token (p90)", NULL, NULL, 1e-6, 60, false},
    {"weights", USIM_OPT_STRING, USIM_UNIT_NONE, "LIST",
     "with --serve: weight types to try, comma-separated (default: bf16, and fp8 where the "
     "chip runs it)",
     NULL, NULL, 0, 0, false},
    {"engine", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",
     "with --serve: serving engine (default: the system's own)", NULL, NULL, 0, 0, false},
    {"max-model-len", USIM_OPT_INT, USIM_UNIT_NONE, "TOKENS",
     "with --serve: the longest request the engine is set up for, as serve's option", NULL,
     NULL, 1, 1e7, false},
    {"prefill-buckets", USIM_OPT_STRING, USIM_UNIT_NONE, "LIST",
     "with --serve: context-encoding buckets of a compiled engine, as serve's option", NULL, NULL,
     0, 0, false},
};

/* Options that only one kind of plan reads: naming one for the other kind
 * is a mistake worth saying. */
static const char *const TRAINING_ONLY[] = {"gbs", "seq", "dtype", "fp8-recipe", "schedule",
                                            "moe-dispatcher", "mtp-layers", "jobs", "stack",
                                            "compile", "report", NULL};
static const char *const SERVING_ONLY[] = {"isl",    "osl",          "slo-ttft", "slo-tpot",
                                           "weights", "engine", "max-model-len",
                                           "prefill-buckets", NULL};

static usim_status check_kind(json_t *req, bool serve, usim_error *err)
{
    const char *const *other = serve ? TRAINING_ONLY : SERVING_ONLY;
    for (int i = 0; other[i]; i++)
        if (json_object_get(req, other[i]))
            return usim_fail_field(err, USIM_EINPUT, other[i], "is for a %s plan; %s",
                                   serve ? "training" : "serving",
                                   serve ? "drop it, or drop --serve" : "add --serve");
    for (int i = 0; !serve && i < 2; i++)
        if (!json_object_get(req, i ? "seq" : "gbs"))
            return usim_fail_field(err, USIM_EINPUT, i ? "seq" : "gbs",
                                   "is required for a training plan (or search serving "
                                   "deployments with --serve)");
    return USIM_OK;
}

static json_t *plan_row(const wl_plan *p, const train_result *r, double score)
{
    static const char *const RC[] = {"none", "selective", "full"};
    json_t *bd = json_object();
    for (int k = 0; k < TRAIN_KIND_COUNT; k++)
        json_object_set_new(bd, train_kind_name((train_kind)k),
                            json_real(r->busy_s[k] + r->exposed_s[k]));
    json_object_set_new(bd, "bubble", json_real(r->bubble_s));
    return api_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:f, s:f, s:f, s:f, s:f,"
                     " s:o}",
                     "tp", p->tp, "pp", p->pp, "dp", p->dp, "cp", p->cp, "ep", p->ep, "vp", p->vp,
                     "mbs", p->mbs, "zero", p->zero, "recompute", RC[p->recompute], "sp", p->sp,
                     "step_time_s", r->step_time_s, "tokens_per_s", r->tokens_per_s, "mfu",
                     r->mfu, "memory_per_chip_bytes", r->memory.total, "score", score,
                     "breakdown", bd);
}

/* Progress on stderr once a search passes a second, redrawn in place on a
 * terminal, else a line a second; stdout keeps only the result. */
typedef struct plan_progress {
    double started_s, last_s;
    bool tty, shown;
} plan_progress;

static void show_plan_progress(void *ctx, long long simulated, long long fitting)
{
    plan_progress *p = ctx;
    double now = usim_now_s(), elapsed = now - p->started_s;
    if (elapsed < 1.0 || now - p->last_s < (p->tty ? 0.2 : 1.0))
        return;
    p->last_s = now;
    p->shown = true;
    fprintf(stderr, "%splan: %lld plans simulated (of at most %lld that fit), %.0f s%s",
            p->tty ? "\r" : "", simulated, fitting, elapsed, p->tty ? "" : "\n");
    fflush(stderr);
}

static usim_status plan_cmd_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_plan.info;
    bool serve = api_flag(req, "serve");
    usim_status kind = check_kind(req, serve, err);
    if (kind != USIM_OK || serve)
        return kind != USIM_OK ? kind : api_serve_plan(cmd, req, result, err);
    wl_model *m = malloc(sizeof *m);
    hw_system *sys = malloc(sizeof *sys);
    plan_search_result *out = malloc(sizeof *out);
    plan_search_options o;
    memset(&o, 0, sizeof o);
    usim_status st = m && sys && out ? api_load_model(cmd, req, m, err)
                                     : usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = api_load_system(cmd, req, sys, err);
    int64_t gbs = api_next_int(cmd, req, "gbs", 0, &st, err);
    int64_t seq = api_next_int(cmd, req, "seq", 0, &st, err);
    int64_t top = api_next_int(cmd, req, "top", 5, &st, err);
    int64_t jobs = api_next_int(cmd, req, "jobs", 0, &st, err);
    int dtype = api_next_choice(cmd, req, "dtype", &st, err);
    int schedule = api_next_choice(cmd, req, "schedule", &st, err);
    if (st == USIM_OK)
        m->mtp_layers = (int)api_next_int(cmd, req, "mtp-layers", m->mtp_layers, &st, err);
    int objective = api_next_choice(cmd, req, "objective", &st, err);
    /* Ranking by cost with no price would rank every plan at $0. */
    if (st == USIM_OK && objective == 1 && hw_no_price_reason(sys))
        st = usim_fail_field(err, USIM_EINPUT, "objective",
                             "cost needs a price, and '%s' has none (its hardware description "
                             "has no price.usd_per_chip_hour); use a system preset with a price "
                             "('ultrasim hw show NAME'), add one to the file, or rank by time "
                             "or energy",
                             sys->name);
    if (st == USIM_OK) {
        o.plan.gbs = gbs;
        o.plan.seq = seq;
        o.plan.dtype = dtype == 0 ? USIM_BF16 : dtype == 1 ? USIM_FP16 : USIM_FP8;
        o.plan.overlap_grad_reduce = o.plan.overlap_param_gather = true;
        o.plan.cp = o.plan.ep = o.plan.vp = o.plan.mbs = 1;
        o.plan.schedule = schedule;
        st = api_read_stack(cmd, req, sys, m, &o.plan, err);
    }
    if (st == USIM_OK)
        st = wl_check_dispatcher(m, &o.plan, err);
    if (st == USIM_OK)
        st = api_read_fp8_recipe(cmd, req, sys,
                                 dtype >= API_DTYPE_FP8_RECIPES ? dtype - API_DTYPE_FP8_RECIPES : -1,
                                 &o.plan, err);
    if (st == USIM_OK) {
        o.top = (int)top;
        o.objective = objective;
        o.jobs = (int)jobs;
        plan_progress progress = {usim_now_s(), 0, isatty(STDERR_FILENO) != 0, false};
        o.progress = api_progress_on() ? show_plan_progress : NULL;
        o.progress_ctx = &progress;
        st = plan_search(m, sys, &o, out, err);
        if (progress.shown && progress.tty)
            fputc('\n', stderr);
    }
    if (st == USIM_OK) {
        json_t *plans = json_array();
        for (int i = 0; i < out->count; i++)
            json_array_append_new(plans, plan_row(&out->plans[i], &out->results[i],
                                                  out->scores[i]));
        *result = api_pack("{s:s, s:s, s:i, s:s, s:o, s:I, s:I, s:I, s:I, s:I}", "model",
                            m->name, "hw", sys->name, "chips", sys->chips, "objective",
                            OBJECTIVES[objective], "plans", plans, "considered",
                            (json_int_t)out->considered, "invalid", (json_int_t)out->invalid,
                            "too_big", (json_int_t)out->too_big, "feasible",
                            (json_int_t)out->feasible, "simulated", (json_int_t)out->simulated);
        json_object_set_new(*result, "schedule", json_string(wl_schedule_names[schedule]));
        api_system_warnings(*result, sys);
    }
    free(m);
    free(sys);
    free(out);
    return st;
}

/* Why the best wins: the kinds of time where it saves most on the runner-up. */
static void render_why(usim_buf *b, json_t *best, json_t *second)
{
    json_t *a = json_object_get(best, "breakdown"), *c = json_object_get(second, "breakdown");
    usim_buf_puts(b, "\nWhy #1 beats #2 (seconds per step, #1 - #2):");
    int shown = 0;
    for (size_t i = 0; i < API_STEP_PARTS; i++) {
        const char *kind = api_step_parts[i][0];
        double d = api_number(a, kind) - api_number(c, kind);
        if (fabs(d) >= 0.005 * api_number(best, "step_time_s")) {
            usim_buf_printf(b, " %s %+.3g", kind, d);
            shown++;
        }
    }
    if (!shown) /* every part within 0.5% of the step: say so, not nothing */
        usim_buf_printf(b, " step %+.3g; no part differs by 0.5%% of the step",
                        api_number(best, "step_time_s") - api_number(second, "step_time_s"));
    usim_buf_puts(b, "\n");
}

static usim_status plan_cmd_render(json_t *res, usim_buf *b, usim_error *err)
{
    json_t *plans = json_object_get(res, "plans");
    size_t i;
    json_t *p;
    if (json_object_get(res, "deployments"))
        return api_serve_plan_render(res, b, err);
    const char *schedule = json_string_value(json_object_get(res, "schedule"));
    usim_buf_printf(b, "Best plans for %s on %.0f x %s (by %s%s): %.0f candidates, %.0f invalid, "
                       "%.0f too big for HBM, %.0f simulated\n\n",
                    json_string_value(json_object_get(res, "model")), api_number(res, "chips"),
                    json_string_value(json_object_get(res, "hw")),
                    json_string_value(json_object_get(res, "objective")),
                    schedule && !strcmp(schedule, "zb-h1") ? ", ZB-H1 schedule" : "",
                    api_number(res, "considered"), api_number(res, "invalid"),
                    api_number(res, "too_big"), api_number(res, "simulated"));
    usim_buf_printf(b, "  #  %4s %4s %6s %3s %3s %3s %4s %4s %-9s %11s %12s %6s %9s\n", "TP", "PP",
                    "DP", "CP", "EP", "VP", "MBS", "ZeRO", "recompute", "step", "tokens/s",
                    "MFU", "GiB/chip");
    json_array_foreach(plans, i, p)
    {
        char step[32];
        usim_format_quantity(api_number(p, "step_time_s"), USIM_UNIT_SECONDS, step, sizeof step);
        usim_buf_printf(b, " %2zu  %4.0f %4.0f %6.0f %3.0f %3.0f %3.0f %4.0f %4.0f %-9s %11s %12.4g "
                           "%5.1f%% %9.1f\n",
                        i + 1, api_number(p, "tp"), api_number(p, "pp"), api_number(p, "dp"),
                        api_number(p, "cp"), api_number(p, "ep"), api_number(p, "vp"),
                        api_number(p, "mbs"), api_number(p, "zero"),
                        json_string_value(json_object_get(p, "recompute")), step,
                        api_number(p, "tokens_per_s"), 100 * api_number(p, "mfu"),
                        api_number(p, "memory_per_chip_bytes") / 1073741824.0);
    }
    if (json_array_size(plans) >= 2)
        render_why(b, json_array_get(plans, 0), json_array_get(plans, 1));
    return USIM_OK;
}

const api_command api_cmd_plan = {
    {"plan", "search the parallel plans: the fastest (or cheapest) that fit",
     "ultrasim plan --model M --hw H [--chips N] --gbs G --seq S [--dtype ..] [--top K] "
     "[--objective time|cost|energy] [--schedule 1f1b|zb-h1] [--stack NAME|FILE] [--compile on|off] [--json]\n"
     "       ultrasim plan --serve --model M --hw H [--chips N] [--isl I] [--osl O] [--slo-ttft T] "
     "[--slo-tpot T] [--weights LIST] [--engine E] [--objective time|cost|energy] [--json]",
     "Enumerates TP, PP, DP, CP, EP, virtual stages, micro-batch, ZeRO stage and recompute;\n"
     "drops what does not divide or fit; simulates the rest in order of a lower bound on\n"
     "their step time (their FLOPs at peak) on all cores, stopping when no remaining\n"
     "candidate can beat the K-th best. The ranking is the same as simulating them all,\n"
     "and the output the same, byte for byte, on any number of threads (--jobs). A search\n"
     "that takes over a second shows its progress on stderr.\n"
     "With --serve: deployments of TP x PP workers in each weight type, aggregated or\n"
     "disaggregated (a quarter or half of the replicas prefill), each run one request at a\n"
     "time, then under Poisson arrivals at the rates that keep 2, 4, 8, ... requests in\n"
     "flight per decoding replica, until TTFT p90 or TPOT p90 passes its bound; ranked\n"
     "by output tokens/s per chip (time), per dollar (cost) or per joule (energy) within\n"
     "the bounds, with the Pareto front of tokens/s per chip against tokens/s per user.\n"
     "See docs/serving.md.",
     NULL, PLAN_OPTIONS, sizeof PLAN_OPTIONS / sizeof PLAN_OPTIONS[0]},
    plan_cmd_run,
    plan_cmd_render,
};
