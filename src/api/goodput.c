/*
 * From a step time to a run with failures (see ultrasim/reliability.h).
 *
 *   checkpoint: 16-bit weights + fp32 master weights + Adam m and v = 14 bytes
 *     per parameter, written at min(nodes x per-node, aggregate) bandwidth;
 *     asynchronous checkpoints block only for the copy to host memory, and
 *     the newest may still be in flight when a failure hits, so a failure
 *     loses the write time as well;
 *   restart: the restart figure + reading the checkpoint back + (without a
 *     hot spare, for hardware failures) replacing the node;
 *   stragglers: a synchronous step waits for its slowest chip: with N chips
 *     each slow with probability q by factor x, a step takes
 *     1 + (1 - (1 - q)^N)(x - 1) times as long.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/goodput.h"
#include "ultrasim/reliability.h"

const char *const api_hot_spare_choices[] = {"on", "off", NULL};

#define BYTES_PER_PARAM_CHECKPOINT 14.0

static usim_status interval_of(const usim_command *cmd, json_t *req, double *interval,
                               usim_error *err)
{
    const char *text;
    api_string(cmd, req, "ckpt-interval", &text, err);
    *interval = 0;
    if (!text || strcmp(text, "auto") == 0)
        return USIM_OK;
    usim_error e;
    usim_error_clear(&e);
    if (usim_parse_quantity(text, USIM_UNIT_SECONDS, interval, &e) != USIM_OK)
        return usim_fail_field(err, USIM_EINPUT, "ckpt-interval", "%s (or 'auto')", e.message);
    if (!(*interval >= 1 && *interval <= 30 * 86400.0))
        return usim_fail_field(err, USIM_EINPUT, "ckpt-interval",
                               "'%s' is out of range; allowed 1 s to 30 d, or auto", text);
    return USIM_OK;
}

static json_t *parts_json(const rel_rates *r, double wall_s)
{
    json_t *o = json_object();
    for (int p = 0; p < REL_PART_COUNT; p++)
        json_object_set_new(o, rel_part_name((rel_part)p), json_real(r->per_s[p] * wall_s));
    return o;
}

usim_status api_goodput(const usim_command *cmd, json_t *req, const api_train_setup_t *s,
                        const train_result *r, double tokens, json_t **out, usim_error *err)
{
    hw_system sys = s->sys;
    hw_reliability *f = &sys.reliability;
    usim_status st = USIM_OK;
    f->chip_fit = api_next_quantity(cmd, req, "chip-fit", f->chip_fit, &st, err);
    f->hbm_stack_fit = api_next_quantity(cmd, req, "hbm-fit", f->hbm_stack_fit, &st, err);
    f->host_fit = api_next_quantity(cmd, req, "host-fit", f->host_fit, &st, err);
    f->software_fit = api_next_quantity(cmd, req, "software-fit", f->software_fit, &st, err);
    f->nic_fit = api_next_quantity(cmd, req, "nic-fit", f->nic_fit, &st, err);
    f->link_fit = api_next_quantity(cmd, req, "link-fit", f->link_fit, &st, err);
    f->storage_bandwidth_per_node =
        api_next_quantity(cmd, req, "storage-bw", f->storage_bandwidth_per_node, &st, err);
    f->storage_bandwidth_aggregate = api_next_quantity(cmd, req, "storage-aggregate",
                                                       f->storage_bandwidth_aggregate, &st, err);
    f->restart_s = api_next_quantity(cmd, req, "restart", f->restart_s, &st, err);
    double q = api_next_quantity(cmd, req, "straggler-prob", 0, &st, err);
    double slow = api_next_quantity(cmd, req, "straggler-slowdown", 1.2, &st, err);
    int64_t runs = api_next_int(cmd, req, "mc-runs", 0, &st, err);
    int64_t seed = api_next_int(cmd, req, "seed", 1, &st, err);
    int spares = api_next_choice(cmd, req, "hot-spares", &st, err);
    double interval = 0;
    if (st == USIM_OK)
        st = interval_of(cmd, req, &interval, err);
    if (st != USIM_OK)
        return st;
    bool async = api_flag(req, "async-ckpt");

    rel_rates rates = rel_job_rates(&sys);
    double nodes = ceil((double)sys.chips / sys.node.chips);
    double ckpt_bytes = wl_model_params(&s->model).total * BYTES_PER_PARAM_CHECKPOINT;
    double storage = fmin(nodes * f->storage_bandwidth_per_node, f->storage_bandwidth_aggregate);
    double write_s = ckpt_bytes / storage;
    double copy_s = ckpt_bytes / sys.chips / f->host_copy_bandwidth_per_chip;
    double hardware = rates.total_per_s > 0
                          ? 1 - rates.per_s[REL_SOFTWARE] / rates.total_per_s
                          : 0;
    double straggle = 1 + (1 - pow(1 - q, sys.chips)) * (slow - 1);
    rel_process p;
    p.solve_s = tokens / r->tokens_per_step * r->step_time_s * straggle;
    p.checkpoint_s = async ? copy_s : write_s;
    p.restart_s = f->restart_s + write_s /* read back */ + (async ? write_s : 0) +
                  (spares == 0 ? 0 : hardware * f->replacement_s);
    p.mtbf_s = rates.mtbf_s;
    double young = rel_young_interval_s(p.checkpoint_s, p.mtbf_s);
    p.interval_s = interval > 0 ? interval : rel_optimal_interval_s(&p);
    double wall = rel_expected_wall_s(&p);
    json_t *mc = json_null();
    if (runs > 0) {
        rel_monte_carlo m;
        st = rel_simulate(&p, (int)runs, (uint64_t)seed, &m, err);
        if (st != USIM_OK)
            return st;
        mc = json_pack("{s:f, s:f, s:f, s:i}", "mean_wall_s", m.mean_wall_s, "stddev_wall_s",
                       m.stddev_wall_s, "mean_failures", m.mean_failures, "runs", m.runs);
    }
    double usd_per_s = sys.chips * sys.price.usd_per_chip_hour / 3600;
    *out = json_pack(
        "{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o,"
        " s:o, s:b, s:b}",
        "goodput", p.solve_s / wall, "wall_time_s", wall, "solve_time_s", p.solve_s,
        "interruptions", wall * rates.total_per_s, "mtbf_s", rates.mtbf_s,
        "checkpoint_interval_s", p.interval_s, "young_interval_s", young, "checkpoint_s",
        p.checkpoint_s, "checkpoint_bytes", ckpt_bytes, "restart_s", p.restart_s, "cost_usd",
        wall * usd_per_s, "cost_lost_usd", (wall - p.solve_s) * usd_per_s, "chip_hours_lost",
        (wall - p.solve_s) * sys.chips / 3600, "energy_kwh",
        wall * sys.chips * sys.chip.power_w / 3.6e6, "straggler_factor", straggle, "tokens",
        tokens, "failures_by_part", parts_json(&rates, wall), "monte_carlo", mc, "async", async,
        "hot_spares", spares == 0);
    if (*out && hw_no_price_reason(&sys)) {
        json_object_set_new(*out, "cost_usd_reason", json_string(hw_no_price_reason(&sys)));
        json_object_set_new(*out, "cost_lost_usd_reason", json_string(hw_no_price_reason(&sys)));
    }
    return *out ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

usim_status api_goodput_render(json_t *res, usim_buf *b, usim_error *err)
{
    char wall[32], solve[32], tau[32], young[32], mtbf[32], ck[32], rs[32];
    json_t *mc = json_object_get(res, "monte_carlo");
    (void)err;
    usim_format_quantity(api_number(res, "wall_time_s"), USIM_UNIT_SECONDS, wall, sizeof wall);
    usim_format_quantity(api_number(res, "solve_time_s"), USIM_UNIT_SECONDS, solve, sizeof solve);
    usim_format_quantity(api_number(res, "checkpoint_interval_s"), USIM_UNIT_SECONDS, tau,
                         sizeof tau);
    usim_format_quantity(api_number(res, "young_interval_s"), USIM_UNIT_SECONDS, young,
                         sizeof young);
    usim_format_quantity(api_number(res, "mtbf_s"), USIM_UNIT_SECONDS, mtbf, sizeof mtbf);
    usim_format_quantity(api_number(res, "checkpoint_s"), USIM_UNIT_SECONDS, ck, sizeof ck);
    usim_format_quantity(api_number(res, "restart_s"), USIM_UNIT_SECONDS, rs, sizeof rs);
    usim_buf_printf(b, "  %-28s %.1f%%\n", "goodput", 100 * api_number(res, "goodput"));
    usim_buf_printf(b, "  %-28s %s (%s without failures)\n", "expected wall time", wall, solve);
    usim_buf_printf(b, "  %-28s %.0f (one every %s)\n", "interruptions expected",
                    api_number(res, "interruptions"), mtbf);
    usim_buf_printf(b, "  %-28s %s (Young's sqrt(2 delta M): %s)\n", "checkpoint interval", tau,
                    young);
    usim_buf_printf(b, "  %-28s %s per checkpoint (%.3g TB), %s per restart\n", "costs", ck,
                    api_number(res, "checkpoint_bytes") / 1e12, rs);
    char money[200];
    if (isfinite(api_number(res, "cost_usd")))
        snprintf(money, sizeof money, "$%.4g ($%.4g lost to failures)",
                 api_number(res, "cost_usd"), api_number(res, "cost_lost_usd"));
    else
        api_text_value(res, "cost_usd", USIM_UNIT_NONE, money, sizeof money);
    usim_buf_printf(b, "  %-28s %s, %.0f chip-hours lost\n", "money", money,
                    api_number(res, "chip_hours_lost"));
    usim_buf_printf(b, "  %-28s %.4g MWh\n", "energy", api_number(res, "energy_kwh") / 1000);
    if (json_is_object(mc)) {
        char m[32], sd[32];
        usim_format_quantity(api_number(mc, "mean_wall_s"), USIM_UNIT_SECONDS, m, sizeof m);
        usim_format_quantity(api_number(mc, "stddev_wall_s"), USIM_UNIT_SECONDS, sd, sizeof sd);
        usim_buf_printf(b, "  %-28s %s +- %s over %.0f runs (%.0f failures each)\n",
                        "Monte-Carlo wall time", m, sd, api_number(mc, "runs"),
                        api_number(mc, "mean_failures"));
    }
    json_t *parts = json_object_get(res, "failures_by_part");
    const char *k;
    json_t *v;
    usim_buf_puts(b, "  interruptions by part:      ");
    json_object_foreach(parts, k, v)
    {
        usim_buf_printf(b, " %s %.0f", k, json_number_value(v));
    }
    usim_buf_puts(b, "\n");
    return USIM_OK;
}
