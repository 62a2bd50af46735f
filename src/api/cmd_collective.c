/*
 * `ultrasim collective`: how long a collective takes on a system, by which
 * algorithm, and which link limits it.
 *
 *   ultrasim collective --op allreduce --size 1GiB --hw trn2u.48xlarge
 *       [--chips N] [--network NET] [--algo auto|ring|ring2|tree|rhd|mesh|torus|hier|neuron|nvls]
 *       [--model analytic|flow] [--launch async|blocking]
 *       [--group P --stride S --concurrent G] [--rank-unit chip|core]
 *       [--sweep 8B:8GiB] [--json]
 *
 * Bandwidths follow nccl-tests: algbw = size / time, busbw = algbw x the
 * op's bus factor (2(p-1)/p for all-reduce), so busbw compares with a link's
 * speed at any rank count. --sweep doubles the size from the first bound to
 * the second and prints the columns nccl-tests prints (size, count, type,
 * time, algbw, busbw) with the algorithm chosen. Like nccl-tests' default
 * (-d float), its buffers hold 4-byte floats, so a size is a whole number of
 * them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/intervals.h"
#include "ultrasim/hw.h"
#include "ultrasim/net.h"

extern const api_command api_cmd_collective;

static const char *const OPS[] = {"allreduce", "reducescatter", "allgather", "alltoall",
                                  "broadcast", "reduce",        "sendrecv",  NULL};
static const char *const ALGOS[] = {"auto", "ring",  "ring2", "tree",   "rhd",
                                    "mesh", "torus", "hier",  "neuron", "nvls", NULL};
static const char *const MODELS[] = {"analytic", "flow", NULL};
static const char *const RANK_UNITS[] = {"chip", "core", NULL};
static const char *const LAUNCHES[] = {"async", "blocking", NULL};

#define PIB (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0)
#define SWEEP_MAX_ROWS 64
/* The sweep's element: nccl-tests' default data type, float (4 bytes). */
#define SWEEP_TYPE "float"
#define SWEEP_ELEMENT_BYTES 4.0

static const usim_option COLLECTIVE_OPTIONS[] = {
    {"op", USIM_OPT_CHOICE, USIM_UNIT_NONE, "OP", "the collective", "allreduce", OPS, 0, 0,
     false},
    {"size", USIM_OPT_QUANTITY, USIM_UNIT_BYTES, "BYTES",
     "bytes, nccl-tests convention (all-reduce: per rank; all-gather: the gathered buffer)",
     NULL, NULL, 1, PIB, false},
    API_OPT_HW("system preset or file (ultrasim hw list)"),
    API_OPT_CHIPS,
    API_OPT_NETWORK,
    {"algo", USIM_OPT_CHOICE, USIM_UNIT_NONE, "ALGO",
     "algorithm; auto picks the fastest and says why", "auto", ALGOS, 0, 0, false},
    {"model", USIM_OPT_CHOICE, USIM_UNIT_NONE, "MODEL",
     "analytic (alpha-beta) or flow (max-min fair sharing of every link)", "analytic", MODELS,
     0, 0, false},
    {"launch", USIM_OPT_CHOICE, USIM_UNIT_NONE, "LAUNCH",
     "async: back to back, the host's per-call cost hidden (nccl-tests); blocking: the caller "
     "waits for each call (a torch.distributed timing loop), adding the collective library's "
     "blocking_call_overhead",
     "async", LAUNCHES, 0, 0, false},
    {"group", USIM_OPT_INT, USIM_UNIT_NONE, "P", "ranks per group (default: every chip)", NULL,
     NULL, 1, 4194304, false},
    {"rank-unit", USIM_OPT_CHOICE, USIM_UNIT_NONE, "UNIT",
     "what a rank is: a chip, or (Trainium) one logical NeuronCore, as nccom-test counts "
     "ranks; --stride and --concurrent still count chips",
     "chip", RANK_UNITS, 0, 0, false},
    {"stride", USIM_OPT_INT, USIM_UNIT_NONE, "S", "chips between a group's consecutive ranks",
     "1", NULL, 1, 4194304, false},
    {"concurrent", USIM_OPT_INT, USIM_UNIT_NONE, "G",
     "groups running at once, translates of the first (default: all that fit)", NULL, NULL, 1,
     4194304, false},
    {"sweep", USIM_OPT_STRING, USIM_UNIT_NONE, "MIN:MAX",
     "sizes doubling from MIN to MAX, e.g. 8B:8GiB (instead of --size); MIN a whole number "
     "of 4-byte floats, at most MAX",
     NULL, NULL, 0, 0, false},
    {"with", USIM_OPT_STRING, USIM_UNIT_NONE, "OP:SIZE:P:S[:ALGO],...",
     "other collectives running at the same time on every group of P ranks with stride S "
     "(flow model only)",
     NULL, NULL, 0, 0, false},
};

#define MAX_WITH 8

typedef struct setup {
    hw_system *sys;
    net_op op;
    net_algo algo;
    net_model model;
    net_group group;
} setup;

/* --rank-unit core: the ranks each chip holds (api_ranks_per_chip). */
static usim_status read_rank_unit(json_t *req, const hw_system *sys, int *per_chip,
                                  usim_error *err)
{
    int unit = 0;
    *per_chip = 1;
    usim_status st = api_choice(&api_cmd_collective.info, req, "rank-unit", &unit, err);
    if (st == USIM_OK && unit == 1)
        st = api_ranks_per_chip(sys, "rank-unit", per_chip, err);
    return st;
}

static usim_status read_group(json_t *req, const hw_system *sys, net_group *g, usim_error *err)
{
    const usim_command *cmd = &api_cmd_collective.info;
    int64_t size = 0, stride = 1, conc = 0;
    bool has_size = false, has_conc = false;
    int per_chip = 1;
    usim_status st = read_rank_unit(req, sys, &per_chip, err);
    if (st == USIM_OK)
        st = api_int(cmd, req, "group", &size, &has_size, err);
    if (st == USIM_OK)
        st = api_int(cmd, req, "stride", &stride, NULL, err);
    if (st == USIM_OK)
        st = api_int(cmd, req, "concurrent", &conc, &has_conc, err);
    if (st != USIM_OK)
        return st;
    if (!has_size)
        size = sys->chips / stride * per_chip;
    if (!has_size && sys->chips * per_chip == 1) /* a chip alone has no one to talk to */
        return usim_fail_field(err, USIM_EINPUT, "hw",
                               "'%s' is a single chip and a collective needs at least 2 ranks; "
                               "use a system preset such as trn2.48xlarge or dgx-h100 ('ultrasim "
                               "hw list')%s",
                               sys->name,
                               sys->chip.matrix.kind == HW_MATRIX_SYSTOLIC
                                   ? ", or --rank-unit core for its NeuronCores"
                                   : "");
    if (size < 1)
        return usim_fail_field(err, USIM_EINPUT, "stride",
                               "stride %lld leaves no room for a group in %d chips",
                               (long long)stride, sys->chips);
    if (size % per_chip != 0)
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "%lld ranks do not fill whole %s chips of %d ranks; allowed: a "
                               "multiple of %d",
                               (long long)size, sys->chip.name, per_chip, per_chip);
    int64_t chips = size / per_chip;
    if (!has_conc)
        conc = chips * stride <= sys->chips ? sys->chips / (chips * stride) * stride : 1;
    g->size = (int)size;
    g->stride = (int)stride;
    g->concurrent = (int)(conc > 0 ? conc : 1);
    g->ranks_per_chip = per_chip;
    return USIM_OK;
}

static usim_status read_setup(json_t *req, setup *s, usim_error *err)
{
    const usim_command *cmd = &api_cmd_collective.info;
    int op = 0, algo = 0, model = 0, launch = 0;
    usim_status st = api_choice(cmd, req, "op", &op, err);
    if (st == USIM_OK)
        st = api_choice(cmd, req, "algo", &algo, err);
    if (st == USIM_OK)
        st = api_choice(cmd, req, "model", &model, err);
    if (st == USIM_OK)
        st = api_choice(cmd, req, "launch", &launch, err);
    if (st == USIM_OK)
        st = api_load_system(cmd, req, s->sys, err);
    if (st == USIM_OK)
        st = read_group(req, s->sys, &s->group, err);
    s->group.launch = (net_launch)launch;
    s->op = (net_op)op;
    s->algo = (net_algo)algo;
    s->model = model ? NET_MODEL_FLOW : NET_MODEL_ANALYTIC;
    return st;
}

static usim_status parse_sweep(const char *text, double *lo, double *hi, usim_error *err)
{
    char a[64], b[64];
    const char *colon = strchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof a || strlen(colon + 1) >= sizeof b)
        return usim_fail_field(err, USIM_EINPUT, "sweep",
                               "'%s' is not MIN:MAX (for example 8B:8GiB)", text);
    memcpy(a, text, (size_t)(colon - text));
    a[colon - text] = '\0';
    snprintf(b, sizeof b, "%s", colon + 1);
    usim_error perr;
    usim_error_clear(&perr);
    if (usim_parse_quantity(a, USIM_UNIT_BYTES, lo, &perr) != USIM_OK ||
        usim_parse_quantity(b, USIM_UNIT_BYTES, hi, &perr) != USIM_OK)
        return usim_fail_field(err, USIM_EINPUT, "sweep", "%s", perr.message);
    const char *why = NULL;
    if (*lo < SWEEP_ELEMENT_BYTES)
        why = "MIN is below one element";
    else if (fmod(*lo, SWEEP_ELEMENT_BYTES) != 0.0)
        why = "MIN is not a whole number of elements";
    else if (*hi < *lo)
        why = "MIN is above MAX";
    else if (*hi > PIB)
        why = "MAX is above 1 PiB";
    if (why)
        return usim_fail_field(err, USIM_EINPUT, "sweep",
                               "'%s': %s; allowed MIN:MAX with %.0f B <= MIN <= MAX <= 1 PiB, "
                               "MIN a multiple of %.0f B (one %s, as nccl-tests -d %s)",
                               text, why, SWEEP_ELEMENT_BYTES, SWEEP_ELEMENT_BYTES, SWEEP_TYPE,
                               SWEEP_TYPE);
    if (log2(*hi / *lo) > SWEEP_MAX_ROWS - 1)
        return usim_fail_field(err, USIM_EINPUT, "sweep", "'%s' is more than %d doublings",
                               text, SWEEP_MAX_ROWS - 1);
    return USIM_OK;
}

/* A message is whole bytes, from one to a PiB (1.5 B or 0 B is no buffer). */
static usim_status check_bytes(const char *field, const char *text, double bytes,
                               usim_error *err)
{
    if (bytes >= 1.0 && bytes <= PIB && bytes == floor(bytes))
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, field,
                           "'%s' is %.6g bytes; allowed: a whole number of bytes from 1 B to "
                           "1 PiB",
                           text, bytes);
}

/* One "OP:SIZE:P:S[:ALGO]" entry of --with. */
static usim_status parse_job(const char *text, const hw_system *sys, net_job *job,
                             usim_error *err)
{
    char buf[160], *parts[6];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *p = buf, *save = NULL; n < 6 && (p = strtok_r(p, ":", &save)) != NULL; p = NULL)
        parts[n++] = p;
    usim_error perr;
    usim_error_clear(&perr);
    long size = 0, stride = 0;
    char *end1 = NULL, *end2 = NULL;
    if (n == 4 || n == 5) {
        size = strtol(parts[2], &end1, 10);
        stride = strtol(parts[3], &end2, 10);
    }
    if ((n != 4 && n != 5) || *end1 || *end2 || size < 2 || stride < 1 ||
        !net_op_parse(parts[0], &job->op) ||
        usim_parse_quantity(parts[1], USIM_UNIT_BYTES, &job->bytes, &perr) != USIM_OK ||
        (n == 5 && !net_algo_parse(parts[4], &job->algo)))
        return usim_fail_field(err, USIM_EINPUT, "with",
                               "'%s' is not OP:SIZE:P:S[:ALGO] (for example "
                               "allreduce:256MiB:8:1 or alltoall:64MiB:16:8:mesh)",
                               text);
    usim_status st = check_bytes("with", text, job->bytes, err);
    if (st != USIM_OK)
        return st;
    if (n == 4)
        job->algo = NET_ALGO_AUTO;
    if (size > sys->chips || stride > sys->chips || size * stride > sys->chips)
        return usim_fail_field(err, USIM_EINPUT, "with",
                               "'%s': a group of %ld ranks with stride %ld spans more than the "
                               "system's %d chips (allowed: P x S up to %d)",
                               text, size, stride, sys->chips, sys->chips);
    job->group.size = (int)size;
    job->group.stride = (int)stride;
    job->group.concurrent = (int)(sys->chips / (size * stride) * stride); /* P S <= chips */
    job->group.ranks_per_chip = 1;
    job->group.launch = NET_LAUNCH_ASYNC;
    job->group.own_kernels = false;
    job->start_s = 0.0;
    return USIM_OK;
}

static usim_status parse_with(const char *text, const hw_system *sys, net_job *jobs, int *n,
                              usim_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *p = buf, *save = NULL; (p = strtok_r(p, ",", &save)) != NULL; p = NULL) {
        if (*n >= MAX_WITH)
            return usim_fail_field(err, USIM_EINPUT, "with", "at most %d collectives", MAX_WITH);
        usim_status st = parse_job(p, sys, &jobs[(*n)++], err);
        if (st != USIM_OK)
            return st;
    }
    return USIM_OK;
}

static json_t *result_json(const net_result *r, double bytes)
{
    return api_pack(
        "{s:f, s:f, s:f, s:f, s:s, s:s, s:f, s:f, s:{s:f, s:f, s:f}, s:{s:s, s:f}, s:f, s:f, "
        "s:f, s:I, s:I, s:s, s:s, s:f}",
        "bytes", bytes, "time_s", r->seconds, "algbw_bytes_per_s", r->algbw_bytes_per_s,
        "busbw_bytes_per_s", r->busbw_bytes_per_s, "algorithm", net_algo_name(r->algorithm),
        "why", r->why, "latency_s", r->latency_seconds, "bandwidth_s", r->bandwidth_seconds,
        "tier_seconds", "node", r->tier_seconds[NET_TIER_NODE], "domain",
        r->tier_seconds[NET_TIER_DOMAIN], "scaleout", r->tier_seconds[NET_TIER_SCALEOUT],
        "busiest_link", "name", r->busiest_link, "utilisation", r->busiest_link_utilisation,
        "peak_link_load", r->peak_link_load, "bytes_injected", r->bytes_injected, "link_bytes",
        r->link_bytes, "groups_simulated", (json_int_t)r->groups_simulated, "flows",
        (json_int_t)r->flows, "notes", r->notes, "protocol", net_protocol_name(r->protocol),
        "launch_s", r->launch_seconds);
}

/* The analytic model routes no flows: what only the flow model measures is
 * null with the reason, not 0 (a link load of 0 claimed an idle fabric). */
static void flow_figures_absent(json_t *body)
{
    static const char *const KEYS[] = {"peak_link_load", "link_bytes", "groups_simulated",
                                       "flows"};
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        char reason[64];
        snprintf(reason, sizeof reason, "%s_reason", KEYS[i]);
        json_object_set_new(body, KEYS[i], json_null());
        json_object_set_new(body, reason,
                            json_string("the analytic model routes no flows; --model flow "
                                        "simulates them"));
    }
}

static json_t *header_json(const setup *s, const char *sweep)
{
    int per_chip = s->group.ranks_per_chip > 1 ? s->group.ranks_per_chip : 1;
    return api_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:s, s:i}, s:f, s:s?}",
                    "hw",
                     s->sys->name, "chips", s->sys->chips, "op", net_op_name(s->op), "model",
                     net_model_name(s->model), "algo", net_algo_name(s->algo), "launch",
                     net_launch_name(s->group.launch), "group", "size",
                     s->group.size, "stride", s->group.stride, "concurrent",
                     s->group.concurrent, "rank_unit", per_chip > 1 ? "core" : "chip",
                     "ranks_per_chip", per_chip, "bus_factor",
                     net_bus_factor(s->op, s->group.size), "sweep", sweep);
}

static json_t *job_json(const net_job *j, const net_result *r)
{
    return api_pack("{s:s, s:f, s:{s:i, s:i, s:i}, s:s, s:f, s:f, s:f, s:{s:s, s:f}}", "op",
                     net_op_name(j->op), "bytes", j->bytes, "group", "size", j->group.size,
                     "stride", j->group.stride, "concurrent", j->group.concurrent, "algorithm",
                     net_algo_name(r->algorithm), "time_s", r->seconds, "algbw_bytes_per_s",
                     r->algbw_bytes_per_s, "busbw_bytes_per_s", r->busbw_bytes_per_s,
                     "busiest_link", "name", r->busiest_link, "utilisation",
                     r->busiest_link_utilisation);
}

/* The collective with others at once: its flow-model result under their
 * traffic, theirs, and its analytic time alone for comparison. */
static usim_status run_with(const setup *s, double bytes, const char *with, json_t *out,
                            usim_error *err)
{
    net_job jobs[MAX_WITH + 1];
    net_result res[MAX_WITH + 1], combined, alone;
    int n = 0;
    if (s->model != NET_MODEL_FLOW)
        return usim_fail_field(err, USIM_EINPUT, "with",
                               "needs --model flow: the analytic model times one collective "
                               "alone");
    if (s->group.ranks_per_chip > 1)
        return usim_fail_field(err, USIM_EINPUT, "with",
                               "cannot be combined with --rank-unit core: ranks that are cores "
                               "run alone; allowed: --rank-unit chip");
    usim_status st = parse_with(with, s->sys, jobs + 1, &n, err);
    if (st != USIM_OK)
        return st;
    jobs[0] = (net_job){s->op, bytes, s->group, s->algo, 0.0};
    st = net_collectives_flow(s->sys, jobs, n + 1, res, &combined, err);
    if (st == USIM_OK)
        st = net_collective(s->sys, s->op, bytes, s->group, s->algo, NET_MODEL_ANALYTIC, &alone,
                            err);
    if (st != USIM_OK)
        return st;
    json_t *body = result_json(&res[0], bytes);
    json_object_update(out, body);
    json_decref(body);
    json_t *others = json_array();
    for (int i = 1; i <= n; i++)
        json_array_append_new(others, job_json(&jobs[i], &res[i]));
    json_object_set_new(out, "alongside", others);
    json_object_set_new(out, "alone_analytic_time_s", json_real(alone.seconds));
    json_object_set_new(out, "combined",
                        api_pack("{s:f, s:{s:s, s:f}, s:f}", "time_s", combined.seconds,
                                  "busiest_link", "name", combined.busiest_link, "utilisation",
                                  combined.busiest_link_utilisation, "peak_link_load",
                                  combined.peak_link_load));
    return USIM_OK;
}

static usim_status run_one(const setup *s, double bytes, net_result *r, usim_error *err)
{
    return net_collective(s->sys, s->op, bytes, s->group, s->algo, s->model, r, err);
}

static usim_status run_sweep(const setup *s, const char *text, json_t *out, usim_error *err)
{
    double lo, hi;
    usim_status st = parse_sweep(text, &lo, &hi, err);
    json_t *rows = json_array();
    for (double n = lo; st == USIM_OK && n <= hi * (1 + 1e-12); n *= 2.0) {
        net_result r;
        st = run_one(s, n, &r, err);
        if (st != USIM_OK)
            break;
        json_t *row = result_json(&r, n);
        if (s->model == NET_MODEL_ANALYTIC)
            flow_figures_absent(row);
        json_object_set_new(row, "count", json_integer((json_int_t)(n / SWEEP_ELEMENT_BYTES)));
        json_array_append_new(rows, row);
    }
    json_object_set_new(out, "type", json_string(SWEEP_TYPE));
    json_object_set_new(out, "rows", rows);
    return st;
}

/* The headline figures, with where measured runs fall around them. */
static const api_figure COLLECTIVE_FIGURES[] = {
    {"time_s", -1, "time", 1, USIM_UNIT_SECONDS, ""},
    {"busbw_bytes_per_s", 1, "busbw", 1, USIM_UNIT_BYTES_PER_S, ""},
};

static usim_status collective_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_collective.info;
    setup s = {calloc(1, sizeof(hw_system)), 0, 0, 0,
               {.size = 0, .stride = 0, .concurrent = 0, .launch = NET_LAUNCH_ASYNC,
                .own_kernels = false}};
    const char *sweep = NULL, *with = NULL;
    double bytes = 0.0;
    bool has_bytes = false;
    if (!s.sys)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = read_setup(req, &s, err);
    if (st == USIM_OK)
        st = api_quantity(cmd, req, "size", &bytes, &has_bytes, err);
    api_string(cmd, req, "sweep", &sweep, err);
    api_string(cmd, req, "with", &with, err);
    if (st == USIM_OK && has_bytes == (sweep != NULL))
        st = usim_fail_field(err, USIM_EINPUT, "size",
                             "give either --size BYTES or --sweep MIN:MAX");
    if (st == USIM_OK && has_bytes) {
        const char *text = json_string_value(json_object_get(req, "size"));
        char written[64];
        snprintf(written, sizeof written, "%.17g", bytes);
        st = check_bytes("size", text ? text : written, bytes, err);
    }
    if (st == USIM_OK) {
        *result = header_json(&s, sweep);
        if (sweep && with)
            st = usim_fail_field(err, USIM_EINPUT, "with", "cannot be combined with --sweep");
        else if (sweep)
            st = run_sweep(&s, sweep, *result, err);
        else if (with) {
            st = run_with(&s, bytes, with, *result, err);
            if (st == USIM_OK) /* the measured runs behind an interval ran alone */
                json_object_set_new(*result, "interval_reason",
                                    json_string("the published runs behind the interval ran "
                                                "one collective alone, not beside --with's"));
        }
        else {
            net_result r;
            st = run_one(&s, bytes, &r, err);
            if (st == USIM_OK) {
                json_t *body = result_json(&r, bytes);
                if (s.model == NET_MODEL_ANALYTIC)
                    flow_figures_absent(body);
                json_object_update(*result, body);
                json_decref(body);
                api_add_intervals(*result, s.sys, "collectives", COLLECTIVE_FIGURES,
                                  sizeof COLLECTIVE_FIGURES / sizeof COLLECTIVE_FIGURES[0]);
            }
        }
        if (st != USIM_OK) {
            json_decref(*result);
            *result = NULL;
        }
        api_system_warnings(*result, s.sys);
    }
    free(s.sys);
    return st;
}

/* ---- text -------------------------------------------------------------- */

static void q(double v, usim_unit u, char *buf, size_t size)
{
    usim_format_quantity(v, u, buf, size);
}

/* "ring", or "ring/LL" with the collective library's protocol. */
static const char *algorithm_label(json_t *res, char *buf, size_t size)
{
    const char *algo = json_string_value(json_object_get(res, "algorithm"));
    const char *proto = json_string_value(json_object_get(res, "protocol"));
    if (proto && strcmp(proto, "none") != 0)
        snprintf(buf, size, "%s/%s", algo ? algo : "?", proto);
    else
        snprintf(buf, size, "%s", algo ? algo : "?");
    return buf;
}

static void render_single(json_t *res, usim_buf *b)
{
    char label[48];
    char size[32], t[32], lat[32], bw[32], alg[32], bus[32], tiers[3][32];
    q(api_number(res, "bytes"), USIM_UNIT_BYTES, size, sizeof size);
    q(api_number(res, "time_s"), USIM_UNIT_SECONDS, t, sizeof t);
    q(api_number(res, "latency_s"), USIM_UNIT_SECONDS, lat, sizeof lat);
    q(api_number(res, "bandwidth_s"), USIM_UNIT_SECONDS, bw, sizeof bw);
    q(api_number(res, "algbw_bytes_per_s"), USIM_UNIT_BYTES_PER_S, alg, sizeof alg);
    q(api_number(res, "busbw_bytes_per_s"), USIM_UNIT_BYTES_PER_S, bus, sizeof bus);
    json_t *g = json_object_get(res, "group");
    json_t *ts = json_object_get(res, "tier_seconds");
    json_t *bl = json_object_get(res, "busiest_link");
    static const char *const TIERS[] = {"node", "domain", "scaleout"};
    for (int i = 0; i < 3; i++)
        q(api_number(ts, TIERS[i]), USIM_UNIT_SECONDS, tiers[i], sizeof tiers[i]);
    usim_buf_printf(b, "%s of %s over %.0f ranks (stride %.0f, %.0f group%s at once) on %s, "
                       "%.0f chip%s; %s model\n\n",
                    json_string_value(json_object_get(res, "op")), size, api_number(g, "size"),
                    api_number(g, "stride"), api_number(g, "concurrent"),
                    api_number(g, "concurrent") == 1 ? "" : "s",
                    json_string_value(json_object_get(res, "hw")), api_number(res, "chips"),
                    api_number(res, "chips") == 1 ? "" : "s",
                    json_string_value(json_object_get(res, "model")));
    usim_buf_printf(b, "  %-16s %s\n", "algorithm", algorithm_label(res, label, sizeof label));
    usim_buf_printf(b, "  %-16s %s\n", "why", json_string_value(json_object_get(res, "why")));
    usim_buf_printf(b, "  %-16s %s  (latency terms %s, bandwidth %s)\n", "time", t, lat, bw);
    if (api_number(res, "launch_s") > 0.0) {
        char host[32];
        q(api_number(res, "launch_s"), USIM_UNIT_SECONDS, host, sizeof host);
        usim_buf_printf(b, "  %-16s blocking: the host's per-call path, %s, in the latency "
                           "terms (the why and the tiers are the device's time)\n",
                        "launch", host);
    }
    usim_buf_printf(b, "  %-16s %s\n", "algbw", alg);
    usim_buf_printf(b, "  %-16s %s  (algbw x %.4g, nccl-tests convention)\n", "busbw", bus,
                    api_number(res, "bus_factor"));
    api_interval_line(b, res, COLLECTIVE_FIGURES, 2, 16);
    usim_buf_printf(b, "  %-16s node %s, domain %s, scale-out %s\n", "time by tier", tiers[0],
                    tiers[1], tiers[2]);
    usim_buf_printf(b, "  %-16s %s, %.0f%% busy%s\n", "busiest link",
                    json_string_value(json_object_get(bl, "name")),
                    100.0 * api_number(bl, "utilisation"),
                    json_object_get(res, "alongside") ? " with this collective's traffic" : "");
    const char *model = json_string_value(json_object_get(res, "model"));
    if (model && strcmp(model, "flow") == 0)
        usim_buf_printf(b, "  %-16s %.0f%% of its capacity at most; %.0f group(s) simulated, "
                           "%.0f flows\n",
                        "peak link load", 100.0 * api_number(res, "peak_link_load"),
                        api_number(res, "groups_simulated"), api_number(res, "flows"));
    json_t *others = json_object_get(res, "alongside");
    if (json_is_array(others)) {
        char a[32], c[32];
        size_t i;
        json_t *o;
        q(api_number(res, "alone_analytic_time_s"), USIM_UNIT_SECONDS, a, sizeof a);
        usim_buf_printf(b, "  %-16s %s (analytic model, with nothing else running)\n", "alone",
                        a);
        json_array_foreach(others, i, o)
        {
            json_t *og = json_object_get(o, "group");
            char sz[32];
            q(api_number(o, "time_s"), USIM_UNIT_SECONDS, a, sizeof a);
            q(api_number(o, "bytes"), USIM_UNIT_BYTES, sz, sizeof sz);
            usim_buf_printf(b, "  %-16s %s of %s on %.0f groups of %.0f (stride %.0f), %s: %s\n",
                            i ? "" : "alongside", json_string_value(json_object_get(o, "op")),
                            sz, api_number(og, "concurrent"), api_number(og, "size"),
                            api_number(og, "stride"),
                            json_string_value(json_object_get(o, "algorithm")), a);
        }
        json_t *all = json_object_get(res, "combined");
        json_t *abl = json_object_get(all, "busiest_link");
        q(api_number(all, "time_s"), USIM_UNIT_SECONDS, c, sizeof c);
        usim_buf_printf(b, "  %-16s %s; busiest link %s, %.0f%% busy\n", "all together", c,
                        json_string_value(json_object_get(abl, "name")),
                        100.0 * api_number(abl, "utilisation"));
    }
    const char *notes = json_string_value(json_object_get(res, "notes"));
    if (notes && notes[0])
        usim_buf_printf(b, "  %-16s %s\n", "note", notes);
}

static void render_sweep(json_t *res, usim_buf *b)
{
    char label[48];
    json_t *g = json_object_get(res, "group");
    size_t i;
    json_t *row;
    usim_buf_printf(b, "# %s on %s, %.0f ranks (stride %.0f, %.0f at once), %s model, algo %s\n",
                    json_string_value(json_object_get(res, "op")),
                    json_string_value(json_object_get(res, "hw")), api_number(g, "size"),
                    api_number(g, "stride"), api_number(g, "concurrent"),
                    json_string_value(json_object_get(res, "model")),
                    json_string_value(json_object_get(res, "algo")));
    /* nccl-tests' columns and units: GB/s are 1e9 B/s. */
    usim_buf_printf(b, "#%14s %14s %8s %12s %10s %10s  %s\n", "size", "count", "type", "time",
                    "algbw", "busbw", "algorithm");
    usim_buf_printf(b, "#%14s %14s %8s %12s %10s %10s\n", "(B)", "(elements)", "", "(us)",
                    "(GB/s)", "(GB/s)");
    const char *type = json_string_value(json_object_get(res, "type"));
    json_array_foreach(json_object_get(res, "rows"), i, row)
    {
        usim_buf_printf(b, "%15.0f %14.0f %8s %12.2f %10.2f %10.2f  %s\n",
                        api_number(row, "bytes"), api_number(row, "count"), type ? type : "",
                        api_number(row, "time_s") * 1e6,
                        api_number(row, "algbw_bytes_per_s") / 1e9,
                        api_number(row, "busbw_bytes_per_s") / 1e9,
                        algorithm_label(row, label, sizeof label));
    }
}

static usim_status collective_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    if (json_object_get(res, "rows"))
        render_sweep(res, b);
    else
        render_single(res, b);
    return USIM_OK;
}

const api_command api_cmd_collective = {
    {"collective", "time a collective (all-reduce, all-gather, ...) on a system's links",
     "ultrasim collective --hw NAME --size BYTES [--op OP] [--chips N] [--algo ALGO] "
     "[--model analytic|flow] [--launch async|blocking] [--group P --stride S --concurrent G] "
     "[--rank-unit chip|core] [--sweep MIN:MAX] [--with OP:SIZE:P:S[:ALGO],...] [--json]",
     "Times one collective over a group of ranks: by default every chip of the system,\n"
     "all-reduce, the fastest algorithm. Prints the time, the nccl-tests algorithm and bus\n"
     "bandwidths, the time by tier (node, scale-up domain, scale-out), and the busiest link.\n"
     "--model flow shares every link max-min fairly between all flows, so groups running at\n"
     "once (--concurrent), oversubscribed spines and overlapping routes show. Group g's rank j\n"
     "is chip (g / S) * P * S + g % S + j * S. --launch blocking times one call the caller\n"
     "waits for (a torch.distributed benchmark loop), not a stream of them. See docs/net.md.",
     NULL, COLLECTIVE_OPTIONS, sizeof COLLECTIVE_OPTIONS / sizeof COLLECTIVE_OPTIONS[0]},
    collective_run,
    collective_render,
};
