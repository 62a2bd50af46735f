/*
 * `ultrasim replay`: a Chakra execution trace (one file per rank) run on a
 * system: its step time and where the time of the rank that ends last went.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/chakra.h"
#include "ultrasim/report.h"

extern const api_command api_cmd_replay;

static const usim_option REPLAY_OPTIONS[] = {
    {"et", USIM_OPT_STRING, USIM_UNIT_NONE, "PREFIX",
     "the trace: PREFIX.0.et, PREFIX.1.et, ... (and PREFIX.comm_group.json)", NULL, NULL, 0, 0,
     true},
    API_OPT_HW("system preset ('ultrasim hw list') or JSON file to run the trace on"),
    {"chips", USIM_OPT_INT, USIM_UNIT_NONE, "N",
     "ranks in the job (default: the trace's world_size, else its rank files)", NULL, NULL, 1,
     4194304, false},
    API_OPT_NETWORK,
    {"recost", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "run compute nodes for what their FLOPs and bytes take on the chip (engine roofline), "
     "not their recorded duration",
     NULL, NULL, 0, 0, false},
    {"trace", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE",
     "write the replay's timeline as a Chrome/Perfetto trace", NULL, NULL, 0, 0, false},
};

static const char *kind_name(int k)
{
    static const char *const NAMES[] = {"compute", "collective", "send", "wait"};
    return k >= 0 && k < 4 ? NAMES[k] : "?";
}

static json_t *collectives_json(const et_replay_result *r)
{
    json_t *c = json_object();
    for (int t = 0; t <= ET_BARRIER; t++)
        if (r->coll_s[t] > 0)
            json_object_set_new(c, et_coll_name(t), api_real(r->coll_s[t]));
    return c;
}

static json_t *result_json(const char *prefix, const hw_system *sys, const et_replay_result *r,
                           bool recost)
{
    const et_rank_time *t = &r->busiest;
    json_t *res = api_pack(
        "{s:s, s:s, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:{s:i, s:f, s:f, s:f, s:f, s:f, s:f}, "
        "s:o}",
        "et", prefix, "hw", sys->name, "step_time_s", r->step_time_s, "ranks", r->ranks,
        "chips", r->chips, "nodes", r->nodes, "compute_nodes", r->compute_nodes,
        "collective_nodes", r->comm_nodes, "p2p_nodes", r->p2p_nodes, "busiest_rank", "rank",
        t->rank, "end_s", t->end_s, "compute_s", t->compute_s, "exposed_comm_s",
        t->comm_exposed_s, "comm_s", t->comm_s, "idle_s", t->idle_s, "recorded_compute_s",
        r->recorded_compute_s, "collectives_s", collectives_json(r));
    if (recost)
        json_object_set_new(res, "recost",
                            api_pack("{s:i, s:i, s:i}", "recosted", r->recosted, "kept", r->kept,
                                     "no_time", r->free_nodes));
    return res;
}

/* The ranks the job has: --chips, else what the trace says, so the system
 * is sized to the job before it is loaded. */
static usim_status job_chips(json_t *req, const char *prefix, usim_error *err)
{
    int world;
    if (json_object_get(req, "chips"))
        return USIM_OK;
    usim_status st = et_world(prefix, &world, err);
    if (st == USIM_OK)
        json_object_set_new(req, "chips", json_integer(world));
    return st;
}

static usim_status replay_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_replay.info;
    const char *prefix = NULL, *trace = NULL;
    et_replay_result r;
    sim_graph *g = NULL;
    hw_system *sys = calloc(1, sizeof *sys);
    if (!sys)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    api_string(cmd, req, "et", &prefix, err);
    api_string(cmd, req, "trace", &trace, err);
    et_replay_options o = {api_flag(req, "recost"), 0};
    usim_status st = job_chips(req, prefix, err);
    if (st == USIM_OK)
        st = api_load_system(cmd, req, sys, err);
    if (st == USIM_OK) {
        o.chips = sys->chips;
        st = et_replay(prefix, sys, &o, &r, trace ? &g : NULL, err);
    }
    if (st == USIM_OK && !(r.step_time_s > 0))
        st = usim_fail_field(err, USIM_EINPUT, "et",
                             "%s: the trace takes no time: no compute node has a duration "
                             "(duration_micros) and no collective moves a byte (--recost "
                             "prices compute nodes from their tensor shapes)",
                             prefix);
    if (st == USIM_OK && trace)
        st = report_write_trace(g, trace, 1 << 30, "replay", kind_name, err);
    if (st == USIM_OK) {
        *result = result_json(prefix, sys, &r, o.recost);
        api_system_warnings(*result, sys);
    }
    sim_graph_free(g);
    free(sys);
    return st;
}

/* ---- text ------------------------------------------------------------- */

static usim_status replay_render(json_t *res, usim_buf *b, usim_error *err)
{
    char count[32], v[32];
    (void)err;
    double step = api_number(res, "step_time_s"), ranks = api_number(res, "ranks");
    double chips = api_number(res, "chips");
    api_text_count(api_number(res, "nodes"), count, sizeof count);
    usim_buf_printf(b, "%s: %.0f rank file%s", json_string_value(json_object_get(res, "et")),
                    ranks, api_plural(ranks));
    if (chips > ranks)
        usim_buf_printf(b, " standing for %.0f chips", chips);
    usim_buf_printf(b, ", %s nodes (%.0f compute, %.0f collective, %.0f send/receive), on %s\n\n",
                    count, api_number(res, "compute_nodes"), api_number(res, "collective_nodes"),
                    api_number(res, "p2p_nodes"), json_string_value(json_object_get(res, "hw")));
    usim_format_quantity(step, USIM_UNIT_SECONDS, v, sizeof v);
    usim_buf_printf(b, "  step time              %s\n", v);
    json_t *t = json_object_get(res, "busiest_rank");
    usim_buf_printf(b, "\nWhere rank %.0f's time goes (the rank that ends last)\n",
                    api_number(t, "rank"));
    api_text_share(b, "compute", 26, api_number(t, "compute_s"), step);
    api_text_share(b, "communication, exposed", 26, api_number(t, "exposed_comm_s"), step);
    api_text_share(b, "waiting", 26, api_number(t, "idle_s"), step);
    usim_format_quantity(api_number(t, "comm_s"), USIM_UNIT_SECONDS, v, sizeof v);
    usim_buf_printf(b, "  (communication in all: %s, hidden or not)\n", v);
    json_t *c = json_object_get(res, "collectives_s");
    if (json_object_size(c) > 0) {
        const char *name;
        json_t *s;
        usim_buf_printf(b, "\nCollectives of rank %.0f, whole calls\n", api_number(t, "rank"));
        json_object_foreach(c, name, s)
        {
            usim_format_quantity(json_number_value(s), USIM_UNIT_SECONDS, v, sizeof v);
            usim_buf_printf(b, "  %-26s %10s\n", name, v);
        }
    }
    json_t *rc = json_object_get(res, "recost");
    if (rc) {
        usim_format_quantity(api_number(t, "recorded_compute_s"), USIM_UNIT_SECONDS, v, sizeof v);
        usim_buf_printf(b,
                        "\nRecosted %.0f compute nodes on the chip (FLOPs and bytes, engine "
                        "roofline); %.0f kept their recorded time (no FLOPs or bytes); %.0f take "
                        "no time (joins, markers). Rank %.0f's compute as recorded: %s.\n",
                        api_number(rc, "recosted"), api_number(rc, "kept"),
                        api_number(rc, "no_time"), api_number(t, "rank"), v);
    }
    return USIM_OK;
}

const api_command api_cmd_replay = {
    {"replay", "run a Chakra execution trace (one file per rank) on a system",
     "ultrasim replay --et PREFIX --hw NAME|FILE [--chips N] [--network NET] [--recost] "
     "[--trace F] [--json]",
     "Reads PREFIX.<rank>.et for ranks 0, 1, ... (MLCommons Chakra: length-delimited\n"
     "protobuf, GlobalMetadata then Nodes) and PREFIX.comm_group.json (process groups, as\n"
     "ASTRA-sim reads them), and runs them on the system's discrete-event core: each rank's\n"
     "streams run their nodes in dependency order; a collective starts when every member\n"
     "rank reaches it and takes what the network model says for its type, size and group;\n"
     "a receive waits for its send. Compute nodes take their recorded duration, or with\n"
     "--recost what the engine gives their FLOPs and bytes on the chip. Traces written by\n"
     "'train --export-et' replay to train's step time. See docs/chakra.md.",
     NULL, REPLAY_OPTIONS, sizeof REPLAY_OPTIONS / sizeof REPLAY_OPTIONS[0]},
    replay_run,
    replay_render,
};
