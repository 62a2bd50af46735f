/*
 * From a step time to a run with failures (see ultrasim/reliability.h).
 *
 *   checkpoint: 16-bit weights + fp32 master weights + Adam m and v = 14 bytes
 *     per parameter, written at min(nodes x per-node, aggregate) bandwidth;
 *     asynchronous checkpoints block only for the copy to host memory, one
 *     write at a time (an interval shorter than a write waits for it), and
 *     the newest may still be in flight when a failure hits, so a failure
 *     loses the write time as well;
 *   restart: the restart figure + reading the checkpoint back + (without a
 *     hot spare, for hardware failures) replacing the node;
 *   stragglers: a synchronous step waits for its slowest chip: with N chips
 *     each slow with probability q by factor x, a step takes
 *     1 + (1 - (1 - q)^N)(x - 1) times as long.
 *
 * What does not exist is null, never a number: without failures there is
 * no MTBF and no reason to checkpoint (goodput is 100%); when failures come
 * so fast that the expected wall time overflows, the run never finishes
 * (goodput 0, the times and costs null). The Monte-Carlo run is skipped, and
 * the analytic result stands, when it would take over REL_MC_MAX_EVENTS
 * events (a failure rate near the top of its range once ran for 45 minutes);
 * past a second it shows its progress on stderr.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
        json_object_set_new(o, rel_part_name((rel_part)p),
                            r->per_s[p] > 0 ? api_real(r->per_s[p] * wall_s) : json_real(0));
    return o;
}

/* ---- Monte-Carlo, bounded and with progress ------------------------- */

typedef struct mc_progress {
    double started_s, drawn_s;
    bool tty, shown;
} mc_progress;

/* On stderr, never stdout (the result); only once the runs take over a
 * second; a redrawn line on a terminal, a line a second elsewhere. */
static void show_mc_progress(void *ctx, int done, int runs)
{
    mc_progress *g = ctx;
    double now = usim_now_s();
    if (now - g->started_s < 1 || (done < runs && now - g->drawn_s < (g->tty ? 0.2 : 1)))
        return;
    g->drawn_s = now;
    g->shown = true;
    fprintf(stderr, "%sgoodput: Monte-Carlo run %d of %d, %.0f s%s", g->tty ? "\r" : "", done,
            runs, now - g->started_s, g->tty ? " " : "\n");
    fflush(stderr);
}

/* The Monte-Carlo result as JSON; null with *note set when it is not run. */
static usim_status monte_carlo_json(const rel_process *p, int runs, uint64_t seed, json_t **mc,
                                    json_t **note, usim_error *err)
{
    *mc = json_null();
    *note = json_null();
    if (runs <= 0)
        return USIM_OK;
    double events = rel_monte_carlo_events(p, runs);
    if (!(events <= REL_MC_MAX_EVENTS)) {
        *note = isfinite(events)
                    ? json_sprintf("not run: %d runs would take %.2g events (failures and "
                                   "checkpoints), over the limit of %.0e; the analytic result "
                                   "stands",
                                   runs, events, REL_MC_MAX_EVENTS)
                    : json_string("not run: the run never finishes");
        return USIM_OK;
    }
    mc_progress g = {usim_now_s(), 0, isatty(STDERR_FILENO) != 0, false};
    rel_progress progress = {api_progress_on() ? show_mc_progress : NULL, &g};
    rel_monte_carlo m;
    usim_status st = rel_simulate(p, runs, seed, &progress, &m, err);
    if (g.shown && g.tty)
        fputc('\n', stderr);
    if (st == USIM_OK)
        *mc = api_pack("{s:f, s:f, s:f, s:i}", "mean_wall_s", m.mean_wall_s, "stddev_wall_s",
                       m.stddev_wall_s, "mean_failures", m.mean_failures, "runs", m.runs);
    return st;
}

/* ---- the run -------------------------------------------------------- */

/* Says why a figure is null where the generic reason says less: no price, no
 * failures, a run that never finishes. */
static void name_missing_figures(json_t *out, const hw_system *sys, const rel_rates *rates,
                                 double wall)
{
    static const char *const FAILURE_FREE[] = {"mtbf_s", "checkpoint_interval_s",
                                               "young_interval_s"};
    static const char *const NEVER[] = {"wall_time_s",  "interruptions",   "checkpoint_interval_s",
                                        "cost_usd",     "cost_lost_usd",   "chip_hours_lost",
                                        "energy_kwh"};
    char key[64];
    for (size_t i = 0; rates->total_per_s <= 0 && i < sizeof FAILURE_FREE / sizeof FAILURE_FREE[0];
         i++) {
        snprintf(key, sizeof key, "%s_reason", FAILURE_FREE[i]);
        json_object_set_new(out, key, json_string("no failures"));
    }
    for (size_t i = 0; !isfinite(wall) && i < sizeof NEVER / sizeof NEVER[0]; i++) {
        snprintf(key, sizeof key, "%s_reason", NEVER[i]);
        json_object_set_new(out, key,
                            json_string("the run never finishes: failures come faster than "
                                        "restarts"));
    }
    if (isfinite(wall) && hw_no_price_reason(sys)) {
        json_object_set_new(out, "cost_usd_reason", json_string(hw_no_price_reason(sys)));
        json_object_set_new(out, "cost_lost_usd_reason", json_string(hw_no_price_reason(sys)));
    }
}

/* Reads the failure and checkpoint options over the system's figures. */
static usim_status read_options(const usim_command *cmd, json_t *req, hw_reliability *f,
                                double *q, double *slow, int64_t *runs, int64_t *seed,
                                int *spares, usim_error *err)
{
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
    *q = api_next_quantity(cmd, req, "straggler-prob", 0, &st, err);
    *slow = api_next_quantity(cmd, req, "straggler-slowdown", 1.2, &st, err);
    *runs = api_next_int(cmd, req, "mc-runs", 0, &st, err);
    *seed = api_next_int(cmd, req, "seed", 1, &st, err);
    *spares = api_next_choice(cmd, req, "hot-spares", &st, err);
    return st;
}

/* One asynchronous checkpoint is written at a time (PyTorch DCP's
 * async_save and Megatron-Core's async saves wait for the previous write
 * before the next): the interval chosen is never shorter than a write, and
 * a shorter one given blocks the run for the rest of the write in flight. */
static void hold_for_the_write(rel_process *p, double write_s, bool chosen)
{
    if (chosen && p->interval_s < write_s) {
        p->interval_s = fmin(write_s, p->solve_s);
        return;
    }
    p->checkpoint_s += fmax(0.0, write_s - p->interval_s);
}

usim_status api_goodput(const usim_command *cmd, json_t *req, const api_train_setup_t *s,
                        const train_result *r, double tokens, json_t **out, usim_error *err)
{
    hw_system sys = s->sys;
    hw_reliability *f = &sys.reliability;
    double q, slow, interval = 0;
    int64_t runs, seed;
    int spares;
    usim_status st = read_options(cmd, req, f, &q, &slow, &runs, &seed, &spares, err);
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
    if (async)
        hold_for_the_write(&p, write_s, interval <= 0);
    double wall = rel_expected_wall_s(&p);
    json_t *mc, *mc_note;
    st = monte_carlo_json(&p, (int)runs, (uint64_t)seed, &mc, &mc_note, err);
    if (st != USIM_OK)
        return st;
    /* A run that never finishes (wall infinite) has goodput 0; the rest of
     * its times and costs are null. */
    double usd_per_s = sys.chips * sys.price.usd_per_chip_hour / 3600;
    double interruptions = rates.total_per_s > 0 ? wall * rates.total_per_s : 0;
    double lost_s = wall - p.solve_s;
    /* a figure that does not exist is null with a KEY_reason (api_pack) */
    *out = api_pack(
        "{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o,"
        " s:o, s:o, s:b, s:b}",
        "goodput", isfinite(wall) ? p.solve_s / wall : 0, "wall_time_s", wall, "solve_time_s",
        p.solve_s, "interruptions", interruptions, "mtbf_s", rates.mtbf_s,
        "checkpoint_interval_s", isfinite(wall) || interval > 0 ? p.interval_s : INFINITY,
        "young_interval_s", young, "checkpoint_s", p.checkpoint_s, "checkpoint_bytes",
        ckpt_bytes, "restart_s", p.restart_s, "cost_usd", wall * usd_per_s, "cost_lost_usd",
        lost_s * usd_per_s, "chip_hours_lost", lost_s * sys.chips / 3600, "energy_kwh",
        wall * sys.chips * sys.chip.power_w / 3.6e6, "straggler_factor", straggle, "tokens",
        tokens, "failures_by_part", parts_json(&rates, wall), "monte_carlo", mc,
        "monte_carlo_note", mc_note, "async", async, "hot_spares", spares == 0);
    if (*out)
        name_missing_figures(*out, &sys, &rates, wall);
    return *out ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

/* ---- text ----------------------------------------------------------- */

/* A duration, or "n/a (why)" where the result holds null. */
static const char *seconds_or(json_t *res, const char *key, const char *why, char *out,
                              size_t size)
{
    json_t *v = json_object_get(res, key);
    if (json_is_number(v))
        usim_format_quantity(json_number_value(v), USIM_UNIT_SECONDS, out, size);
    else
        snprintf(out, size, "n/a (%s)", why);
    return out;
}

static bool never_finishes(json_t *res)
{
    return !json_is_number(json_object_get(res, "wall_time_s"));
}

/* A count: whole above 10, two digits below (0.0005 expected is not 0). */
static void count_text(double v, char *buf, size_t size)
{
    snprintf(buf, size, v < 10 ? "%.2g" : "%.0f", v);
}

static void render_times(json_t *res, usim_buf *b)
{
    char wall[96], solve[32], tau[96], young[96], mtbf[96], ck[32], rs[32];
    const char *no_failures = "no failures";
    bool none = !json_is_number(json_object_get(res, "mtbf_s"));
    seconds_or(res, "wall_time_s", "the run never finishes: failures come faster than restarts",
               wall, sizeof wall);
    seconds_or(res, "solve_time_s", "", solve, sizeof solve);
    seconds_or(res, "checkpoint_interval_s",
               none ? "no failures: never checkpoint" : "the run never finishes", tau, sizeof tau);
    seconds_or(res, "young_interval_s", no_failures, young, sizeof young);
    seconds_or(res, "mtbf_s", no_failures, mtbf, sizeof mtbf);
    seconds_or(res, "checkpoint_s", "", ck, sizeof ck);
    seconds_or(res, "restart_s", "", rs, sizeof rs);
    double goodput = 100 * api_number(res, "goodput");
    if (never_finishes(res))
        usim_buf_printf(b, "  %-28s 0%% (the run never finishes)\n", "goodput");
    else /* a goodput under 0.1% keeps its digits rather than print as 0.0% */
        usim_buf_printf(b, goodput >= 0.1 ? "  %-28s %.1f%%\n" : "  %-28s %.2g%%\n", "goodput",
                        goodput);
    usim_buf_printf(b, "  %-28s %s (%s without failures)\n", "expected wall time", wall, solve);
    if (none)
        usim_buf_printf(b, "  %-28s 0 (%s)\n", "interruptions expected", no_failures);
    else if (never_finishes(res))
        usim_buf_printf(b, "  %-28s n/a (one every %s)\n", "interruptions expected", mtbf);
    else {
        char n[32];
        count_text(api_number(res, "interruptions"), n, sizeof n);
        usim_buf_printf(b, "  %-28s %s (one every %s)\n", "interruptions expected", n, mtbf);
    }
    usim_buf_printf(b, "  %-28s %s (Young's sqrt(2 delta M): %s)\n", "checkpoint interval", tau,
                    young);
    usim_buf_printf(b, "  %-28s %s per checkpoint (%.3g TB), %s per restart\n", "costs", ck,
                    api_number(res, "checkpoint_bytes") / 1e12, rs);
}

static void render_costs(json_t *res, usim_buf *b)
{
    if (never_finishes(res)) {
        usim_buf_printf(b, "  %-28s n/a (the run never finishes)\n", "money and energy");
        return;
    }
    char money[200];
    if (isfinite(api_number(res, "cost_usd")))
        snprintf(money, sizeof money, "$%.4g ($%.4g lost to failures and checkpoints)",
                 api_number(res, "cost_usd"), api_number(res, "cost_lost_usd"));
    else
        api_text_value(res, "cost_usd", USIM_UNIT_NONE, money, sizeof money);
    char lost[32];
    count_text(api_number(res, "chip_hours_lost"), lost, sizeof lost);
    usim_buf_printf(b, "  %-28s %s, %s chip-hours lost\n", "money", money, lost);
    usim_buf_printf(b, "  %-28s %.4g MWh\n", "energy", api_number(res, "energy_kwh") / 1000);
}

static void render_monte_carlo(json_t *res, usim_buf *b)
{
    json_t *mc = json_object_get(res, "monte_carlo");
    json_t *note = json_object_get(res, "monte_carlo_note");
    if (json_is_string(note))
        usim_buf_printf(b, "  %-28s n/a (%s)\n", "Monte-Carlo wall time", json_string_value(note));
    if (!json_is_object(mc))
        return;
    char m[32], sd[32];
    usim_format_quantity(api_number(mc, "mean_wall_s"), USIM_UNIT_SECONDS, m, sizeof m);
    usim_format_quantity(api_number(mc, "stddev_wall_s"), USIM_UNIT_SECONDS, sd, sizeof sd);
    usim_buf_printf(b, "  %-28s %s +- %s over %.0f runs (%.0f failures each)\n",
                    "Monte-Carlo wall time", m, sd, api_number(mc, "runs"),
                    api_number(mc, "mean_failures"));
}

usim_status api_goodput_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    render_times(res, b);
    render_costs(res, b);
    render_monte_carlo(res, b);
    json_t *parts = json_object_get(res, "failures_by_part");
    const char *k;
    json_t *v;
    usim_buf_puts(b, "  interruptions by part:      ");
    json_object_foreach(parts, k, v)
    {
        if (json_is_number(v))
            usim_buf_printf(b, " %s %.0f", k, json_number_value(v));
        else
            usim_buf_printf(b, " %s n/a", k);
    }
    usim_buf_puts(b, "\n");
    return USIM_OK;
}
