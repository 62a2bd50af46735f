/*
 * `ultrasim sweep SPEC.json`: a grid of simulations into a SQLite database
 * (and optionally CSV), resumable, on all cores or under mpirun.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "ultrasim/plan.h"

extern const api_command api_cmd_sweep;

static const usim_option SWEEP_OPTIONS[] = {
    {"spec", USIM_OPT_STRING, USIM_UNIT_NONE, "SPEC.json",
     "the sweep: {\"command\": ..., \"base\": {...}, \"grid\": {option: [values]}}", NULL, NULL,
     0, 0, true},
    {"db", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.db",
     "SQLite database, created or resumed (default: SPEC with .db)", NULL, NULL, 0, 0, false},
    {"csv", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.csv", "also write every row as CSV", NULL,
     NULL, 0, 0, false},
    {"jobs", USIM_OPT_INT, USIM_UNIT_NONE, "N", "worker threads (default: one per core)", NULL,
     NULL, 1, 64, false},
};
static const char *const SWEEP_POSITIONALS[] = {"spec", NULL};

/* Validation only: the point's options against its command's table. */
static usim_status check_request(const char *request_json, usim_error *err)
{
    json_t *req = json_loads(request_json, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    const api_command *cmd = name ? api_command_find(name) : NULL;
    usim_status st = cmd ? api_validate(&cmd->info, req, err)
                         : usim_fail(err, USIM_EINPUT, "unknown command");
    /* a hardware changed by hw.* keys is inline: its keys are checked too */
    json_t *hw = json_object_get(req, strcmp(name ? name : "", "hw show") == 0 ? "name" : "hw");
    hw_system *sys = st == USIM_OK && json_is_object(hw) ? malloc(sizeof *sys) : NULL;
    char *text = sys ? json_dumps(hw, JSON_INDENT(2)) : NULL;
    if (text)
        st = hw_load_system_text("<hw in the request>", text, 0, NULL, sys, err);
    free(text);
    free(sys);
    json_decref(req);
    return st;
}

static usim_status sweep_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_sweep.info;
    const char *spec, *db, *csv;
    char db_default[4096];
    int64_t jobs = 0;
    bool has_jobs;
    api_string(cmd, req, "spec", &spec, err);
    api_string(cmd, req, "db", &db, err);
    api_string(cmd, req, "csv", &csv, err);
    usim_status st = api_int(cmd, req, "jobs", &jobs, &has_jobs, err);
    if (st != USIM_OK)
        return st;
    if (!db) {
        size_t n = strlen(spec);
        if (n > 5 && strcmp(spec + n - 5, ".json") == 0)
            n -= 5;
        snprintf(db_default, sizeof db_default, "%.*s.db", (int)n, spec);
        db = db_default;
    }
    plan_sweep_options o = {usim_run, check_request, spec, db, csv, (int)jobs,
                            isatty(STDERR_FILENO) != 0};
    plan_sweep_summary s;
    api_set_progress(false); /* the points' own progress would flood the sweep's */
    st = plan_sweep(&o, &s, err);
    api_set_progress(true);
    if (st != USIM_OK)
        return st;
    if (s.worker) {
        *result = api_pack("{s:b}", "quiet", 1);
        return USIM_OK;
    }
    *result = api_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:i}", "db", db,
                        "csv", csv, "points", (json_int_t)s.points, "done_before",
                        (json_int_t)s.done_before, "computed", (json_int_t)s.computed, "ok",
                        (json_int_t)s.ok, "invalid", (json_int_t)s.invalid, "failed",
                        (json_int_t)s.failed, "seconds", s.seconds, "ranks", s.ranks, "jobs",
                        s.jobs);
    return USIM_OK;
}

static usim_status sweep_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    if (json_is_true(json_object_get(res, "quiet")))
        return USIM_OK;
    usim_buf_printf(b,
                    "%.0f points: %.0f already in %s, %.0f run now (%.0f ok, %.0f invalid, %.0f "
                    "failed) in %.2f s on %.0f rank%s x %.0f thread%s\n",
                    api_number(res, "points"), api_number(res, "done_before"),
                    json_string_value(json_object_get(res, "db")), api_number(res, "computed"),
                    api_number(res, "ok"), api_number(res, "invalid"), api_number(res, "failed"),
                    api_number(res, "seconds"), api_number(res, "ranks"),
                    api_number(res, "ranks") == 1 ? "" : "s", api_number(res, "jobs"),
                    api_number(res, "jobs") == 1 ? "" : "s");
    if (json_is_string(json_object_get(res, "csv")))
        usim_buf_printf(b, "CSV: %s\n", json_string_value(json_object_get(res, "csv")));
    usim_buf_puts(b, "Invalid points (for example a plan that does not fit) are rows with "
                     "status 'invalid' and their reason.\n");
    return USIM_OK;
}

const api_command api_cmd_sweep = {
    {"sweep", "run a grid of simulations into a SQLite database (resumable, MPI-ready)",
     "ultrasim sweep SPEC.json [--db FILE.db] [--csv FILE.csv] [--jobs N] [--json]",
     "SPEC.json names a command and its options as on the command line:\n"
     "  {\"command\": \"train\", \"base\": {\"model\": \"llama3-8b\", \"hw\": \"trn2.48xlarge\",\n"
     "   \"gbs\": 256, \"seq\": 4096}, \"grid\": {\"chips\": [16, 64, 256], \"tp\": [1, 2, 4, 8]}}\n"
     "command: train, serve, collective, gemm, attention, goodput, plan or hw show. A grid\n"
     "key \"hw.PATH\" changes one figure of the base hardware (\"hw.chip.hbm.bandwidth\").\n"
     "Every point becomes a row (inputs and outputs as columns); invalid points are kept\n"
     "with their reason. Run it again after a kill: finished points are not redone.\n"
     "One sweep writes a database at a time; a second on the same --db is refused\n"
     "(exit 2) and can be run again, to resume, once the first has finished.\n"
     "Under 'mpirun -n N' rank 0 writes the database and the others run points.",
     SWEEP_POSITIONALS, SWEEP_OPTIONS, sizeof SWEEP_OPTIONS / sizeof SWEEP_OPTIONS[0]},
    sweep_run,
    sweep_render,
};
