/*
 * `ultrasim goodput`: a whole training run with failures. The step time comes
 * from the training simulation; failures from the hardware's failure rates;
 * checkpoints from the model's size and the storage. Answers: goodput, the
 * expected wall-clock time and cost to train N tokens, chip-hours lost, the
 * best checkpoint interval and how many interruptions to expect; the
 * analytic expectation (Daly) beside a seeded Monte-Carlo run of the same
 * process.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/goodput.h"
#include "api/train_options.h"
#include "ultrasim/reliability.h"

extern const api_command api_cmd_goodput;

static const usim_option GOODPUT_OPTIONS[] = {
    API_TRAIN_OPTIONS,
    {"tokens", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "N", "tokens to train (e.g. 15e12)", NULL, NULL,
     1, 1e18, true},
    API_GOODPUT_OPTIONS,
    API_OPT_REPORT,
};

static usim_status goodput_cmd_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_goodput.info;
    api_train_setup_t *s = malloc(sizeof *s);
    train_result r;
    if (!s)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = api_train_setup(cmd, req, s, err);
    double tokens = api_next_quantity(cmd, req, "tokens", 0, &st, err);
    if (st == USIM_OK)
        st = api_train_check(s, err);
    if (st == USIM_OK)
        st = train_step(&s->model, &s->plan, &s->sys, &r, NULL, err);
    json_t *g = NULL;
    if (st == USIM_OK)
        st = api_goodput(cmd, req, s, &r, tokens, &g, err);
    if (st == USIM_OK) {
        *result = g;
        json_object_set_new(*result, "model", json_string(s->model.name));
        json_object_set_new(*result, "hw", json_string(s->sys.name));
        json_object_set_new(*result, "chips", json_integer(s->sys.chips));
        api_system_warnings(*result, &s->sys);
        json_object_set_new(*result, "step_time_s", json_real(r.step_time_s));
        if (s->selective_bytes > 0) /* recomputation chosen to fit, as train says */
            json_object_set_new(*result, "recompute_layers",
                                json_integer(s->plan.recompute_layers > 0
                                                 ? s->plan.recompute_layers
                                                 : s->model.layers / s->plan.pp));
    }
    free(s);
    return st;
}

static usim_status goodput_cmd_render(json_t *res, usim_buf *b, usim_error *err)
{
    double chips = api_number(res, "chips");
    char recompute[96] = "";
    if (api_number(res, "recompute_layers") > 0)
        snprintf(recompute, sizeof recompute,
                 " (the first %.0f layers of each chunk recomputed whole: selective does not fit)",
                 api_number(res, "recompute_layers"));
    usim_buf_printf(b, "%s on %.0f x %s chip%s, step %.3g s%s\n\n",
                    json_string_value(json_object_get(res, "model")), chips,
                    json_string_value(json_object_get(res, "hw")), api_plural(chips),
                    api_number(res, "step_time_s"), recompute);
    return api_goodput_render(res, b, err);
}

const api_command api_cmd_goodput = {
    {"goodput", "a training run with failures: goodput, time and cost, best checkpoint interval",
     "ultrasim goodput --model M --hw H [--chips N] --gbs G --seq S [other plan options as in train] --tokens T "
     "[--ckpt-interval TIME|auto] [--async-ckpt] [--hot-spares on|off] [--json]",
     "The job stops when any part fails (chips, HBM stacks, hosts, NICs, links, software,\n"
     "at the hardware description's rates; override them with --chip-fit and the like).\n"
     "Between failures it checkpoints every interval; a failure loses the work since the\n"
     "last checkpoint and costs a restart. Expected wall time follows Daly (2006); a seeded\n"
     "Monte-Carlo run of the same process is printed beside it.",
     NULL, GOODPUT_OPTIONS, sizeof GOODPUT_OPTIONS / sizeof GOODPUT_OPTIONS[0]},
    goodput_cmd_run,
    goodput_cmd_render,
};
