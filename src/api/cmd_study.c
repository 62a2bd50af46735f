/*
 * `ultrasim study scale-up`: the seed's question, end to end. For a model,
 * from tens to 131,072 chips, on (a) 16-chip Trn2 instances joined only by
 * EFA, (b) 64-chip Trn2 UltraServers joined by EFA and (c) 8-GPU H100 nodes
 * on InfiniBand, the best plan at each size (the plan search), its step
 * time, tokens/s and MFU; where adding chips stops paying and why (the
 * breakdown); written as a Markdown report with charts.
 *
 * The global batch grows with the system (one 8K-token sequence per chip)
 * up to 2,048 sequences, Llama 3 405B's 16M-token batch: beyond that more
 * chips split the same work finer, which is where coordination catches up
 * with compute. "Stops paying": the first doubling (or more) of chips whose
 * added chips deliver less than half the tokens/s per chip the system had.
 *
 * The searches are independent: a pool of threads (one per core, --jobs)
 * takes them largest first, each a single-threaded plan search, and stores
 * each answer in its own slot, so the report is the same on any number of
 * threads. Progress goes to stderr. Nothing is written until every search is
 * done; the report and its charts are written into a staging folder of the
 * run's own and renamed into place only when all of them were written, so a
 * failed write leaves no part of a report behind and the previous one whole.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/train_options.h"
#include "ultrasim/plan.h"
#include "ultrasim/report.h"

extern const api_command api_cmd_study;

static const char *const STUDIES[] = {"scale-up", NULL};

static const usim_option STUDY_OPTIONS[] = {
    {"study", USIM_OPT_CHOICE, USIM_UNIT_NONE, "NAME", "which study", NULL, STUDIES, 0, 0, true},
    {"model", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", "the model", "llama3.1-405b", NULL, 0,
     0, false, true},
    {"out", USIM_OPT_STRING, USIM_UNIT_NONE, "DIR",
     "where the report and its charts go (created)", "scale-up-study", NULL, 0, 0, false},
    {"seq", USIM_OPT_INT, USIM_UNIT_NONE, "S", "sequence length", "8192", NULL, 1, 1048576, false},
    {"max-gbs", USIM_OPT_INT, USIM_UNIT_NONE, "G", "largest global batch, sequences", "2048", NULL,
     1, API_GBS_MAX, false},
    {"max-chips", USIM_OPT_INT, USIM_UNIT_NONE, "N", "largest system (a multiple of 64)", "131072", NULL, 64,
     4194304, false},
    {"jobs", USIM_OPT_INT, USIM_UNIT_NONE, "N", "threads (default: one per core)", NULL, NULL, 1,
     PLAN_JOBS_MAX, false},
    API_OPT_REPORT,
};
static const char *const STUDY_POSITIONALS[] = {"study", NULL};

typedef struct system_kind {
    const char *label, *hw, *network;
} system_kind;

static const system_kind SYSTEMS[] = {
    {"Trn2 instances (16 chips) on EFA", "trn2.48xlarge", NULL},
    {"Trn2 UltraServers (64 chips) on EFA", "trn2u.48xlarge", NULL},
    {"8-GPU H100 nodes on InfiniBand", "dgx-h100", NULL},
};
#define NSYSTEMS 3
#define MAX_SIZES 16

typedef struct point {
    int chips;
    bool ok;
    wl_plan plan;
    train_result r;
    char reason[160];
} point;

static int sizes_up_to(int max, int *out)
{
    int n = 0;
    for (int c = 64; c <= max && n < MAX_SIZES; c *= 4)
        out[n++] = c;
    if (n < MAX_SIZES && out[n - 1] != max)
        out[n++] = max;
    return n;
}

/* One search, single-threaded: the study's threads run searches side by
 * side instead. */
static void search_point(const wl_model *m, const system_kind *k, int chips, int seq,
                         int max_gbs, point *p)
{
    hw_system *sys = malloc(sizeof *sys);
    plan_search_result *res = malloc(sizeof *res);
    usim_error err;
    usim_error_clear(&err);
    memset(p, 0, sizeof *p);
    p->chips = chips;
    if (!sys || !res || hw_load_system(k->hw, chips, k->network, sys, &err) != USIM_OK) {
        snprintf(p->reason, sizeof p->reason, "%s", err.message);
    } else {
        plan_search_options o;
        memset(&o, 0, sizeof o);
        o.plan.gbs = chips < max_gbs ? chips : max_gbs;
        o.plan.seq = seq;
        o.plan.dtype = USIM_BF16;
        o.plan.overlap_grad_reduce = o.plan.overlap_param_gather = true;
        o.top = 1;
        o.jobs = 1;
        if (plan_search(m, sys, &o, res, &err) == USIM_OK) {
            p->ok = true;
            p->plan = res->plans[0];
            p->r = res->results[0];
        } else {
            snprintf(p->reason, sizeof p->reason, "%.150s", err.message);
        }
    }
    free(sys);
    free(res);
}

/* The first size whose added chips deliver under half the per-chip rate. */
static int stops_paying(const point *pts, int n)
{
    for (int i = 1; i < n; i++) {
        if (!pts[i].ok || !pts[i - 1].ok)
            continue;
        double per_chip = pts[i - 1].r.tokens_per_s / pts[i - 1].chips;
        double added = (pts[i].r.tokens_per_s - pts[i - 1].r.tokens_per_s) /
                       (pts[i].chips - pts[i - 1].chips);
        if (added < 0.5 * per_chip)
            return i;
    }
    return -1;
}

static double comm_share(const train_result *r)
{
    double comm = r->bubble_s;
    for (int k = TRAIN_TP_COMM; k < TRAIN_KIND_COUNT; k++)
        comm += r->exposed_s[k];
    return comm / r->step_time_s;
}

static void write_table(usim_buf *b, const system_kind *k, const point *pts, int n)
{
    usim_buf_printf(b, "\n### %s (`--hw %s`)\n\n", k->label, k->hw);
    usim_buf_puts(b, "| chips | best plan (TP/PP/DP/CP, VP, MBS, ZeRO, recompute) | global batch | "
                     "step | tokens/s | tokens/s per chip | MFU | waiting on communication "
                     "and bubbles |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const point *p = &pts[i];
        if (!p->ok) {
            usim_buf_printf(b, "| %d | no plan: %s | | | | | | |\n", p->chips, p->reason);
            continue;
        }
        static const char *const RC[] = {"none", "selective", "full"};
        usim_buf_printf(b, "| %d | %d/%d/%d/%d, VP %d, MBS %d, ZeRO %d, %s | %lld | %.2f s | %.4g | "
                           "%.1f | %.1f%% | %.0f%% |\n",
                        p->chips, p->plan.tp, p->plan.pp, p->plan.dp, p->plan.cp, p->plan.vp,
                        p->plan.mbs, p->plan.zero, RC[p->plan.recompute], (long long)p->plan.gbs,
                        p->r.step_time_s, p->r.tokens_per_s, p->r.tokens_per_s_per_chip,
                        100 * p->r.mfu, 100 * comm_share(&p->r));
    }
}

static void write_verdict(usim_buf *b, const system_kind *k, const point *pts, int n)
{
    int ran = 0, last = -1;
    for (int i = 0; i < n; i++)
        if (pts[i].ok) {
            ran++;
            last = i;
        }
    if (ran < 2) { /* nothing, or one size, to compare */
        usim_buf_printf(b, "\n%s: %s, so there is no step up in size to judge (the table says "
                           "why).\n",
                        k->label, ran ? "only one size has a plan that fits"
                                      : "no size has a plan that fits");
        return;
    }
    int at = stops_paying(pts, n);
    if (at < 0) {
        usim_buf_printf(b, "\n%s: every step up in size with a plan still pays (added chips "
                           "keep at least half the per-chip rate) up to %d chips%s.\n",
                        k->label, pts[last].chips,
                        ran < n ? "; sizes without a plan that fits are left out" : "");
        return;
    }
    const train_result *a = &pts[at - 1].r, *z = &pts[at].r;
    usim_buf_printf(b, "\n%s: adding chips **stops paying at %d chips**: going from %d to %d chips "
                       "%s tokens/s from %.4g to %.4g. Per chip, the step spends %.0f%% "
                       "of its time on exposed communication and pipeline bubbles at %d chips "
                       "against %.0f%% at %d",
                    k->label, pts[at].chips, pts[at - 1].chips, pts[at].chips,
                    z->tokens_per_s < a->tokens_per_s ? "lowers" : "raises only",
                    a->tokens_per_s, z->tokens_per_s, 100 * comm_share(z), pts[at].chips, 100 * comm_share(a),
                    pts[at - 1].chips);
    double most = 0;
    int kind = -1;
    for (int k2 = TRAIN_TP_COMM; k2 < TRAIN_KIND_COUNT; k2++) {
        double grew = z->exposed_s[k2] / z->step_time_s - a->exposed_s[k2] / a->step_time_s;
        if (grew > most) {
            most = grew;
            kind = k2;
        }
    }
    double bubble = z->bubble_s / z->step_time_s - a->bubble_s / a->step_time_s;
    if (bubble > most)
        usim_buf_printf(b, "; most of the growth is pipeline bubble (%+.0f points).\n",
                        100 * bubble);
    else if (kind >= 0)
        usim_buf_printf(b, "; most of the growth is %s (%+.0f points).\n",
                        train_kind_name((train_kind)kind), 100 * most);
    else
        usim_buf_puts(b, ".\n");
}

static usim_status write_charts(const char *png, const char *svg, point pts[NSYSTEMS][MAX_SIZES],
                                int n, usim_error *err)
{
    report_series thr[NSYSTEMS], eff[NSYSTEMS];
    double x[NSYSTEMS][MAX_SIZES], y[NSYSTEMS][MAX_SIZES], e[NSYSTEMS][MAX_SIZES];
    for (int s = 0; s < NSYSTEMS; s++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (!pts[s][i].ok)
                continue;
            x[s][m] = pts[s][i].chips;
            y[s][m] = pts[s][i].r.tokens_per_s;
            e[s][m] = 100 * pts[s][i].r.mfu;
            m++;
        }
        thr[s] = (report_series){"", x[s], y[s], m};
        eff[s] = (report_series){"", x[s], e[s], m};
        snprintf(thr[s].name, sizeof thr[s].name, "%s", SYSTEMS[s].hw);
        snprintf(eff[s].name, sizeof eff[s].name, "%s", SYSTEMS[s].hw);
    }
    report_chart c[2] = {{"Training throughput with the best plan at each size", "chips",
                          "tokens per second", true, true, thr, NSYSTEMS},
                         {"Model FLOPs utilisation", "chips", "MFU, %", true, false, eff,
                          NSYSTEMS}};
    usim_status st = report_plot_lines(c, 2, png, err);
    if (st == USIM_OK)
        st = report_plot_lines(c, 2, svg, err);
    return st;
}

/* ---- running the searches ------------------------------------------- */

typedef struct study_pool {
    const wl_model *m;
    const int *sizes;
    int nsizes, seq, max_gbs;
    point (*pts)[MAX_SIZES];
    pthread_mutex_t lock;
    int next, done;   /* searches taken and finished, under lock */
    double started_s; /* CLOCK_MONOTONIC */
    bool tty;         /* stderr is a terminal: redraw one line */
    bool shown;       /* a progress line has been drawn */
} study_pool;

/* Progress on stderr (never stdout, which holds the result), once the study
 * has run for a second: quick studies stay quiet. */
static void show_progress(study_pool *w, const system_kind *k, int chips)
{
    double elapsed = usim_now_s() - w->started_s;
    int total = NSYSTEMS * w->nsizes;
    if (elapsed < 1)
        return;
    fprintf(stderr, "%sstudy: %d of %d plan searches done (last: %s, %d chips), %.0f s%s",
            w->tty ? "\r" : "", w->done, total, k->hw, chips, elapsed, w->tty ? " " : "\n");
    fflush(stderr);
    w->shown = true;
}

/* Search j: the largest systems first, as they take longest, so that no
 * thread is left with a big one at the end. */
static void search_of(const study_pool *w, int j, int *sys, int *size)
{
    *sys = j % NSYSTEMS;
    *size = w->nsizes - 1 - j / NSYSTEMS;
}

static void *study_worker(void *arg)
{
    study_pool *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int j = w->next < NSYSTEMS * w->nsizes ? w->next++ : -1;
        pthread_mutex_unlock(&w->lock);
        if (j < 0)
            return NULL;
        int s, i;
        search_of(w, j, &s, &i);
        search_point(w->m, &SYSTEMS[s], w->sizes[i], w->seq, w->max_gbs, &w->pts[s][i]);
        pthread_mutex_lock(&w->lock);
        w->done++;
        show_progress(w, &SYSTEMS[s], w->sizes[i]);
        pthread_mutex_unlock(&w->lock);
    }
}

static void run_searches(study_pool *w, int jobs)
{
    pthread_mutex_init(&w->lock, NULL);
    w->started_s = usim_now_s();
    w->tty = isatty(STDERR_FILENO) != 0;
    plan_run_pool(study_worker, w, jobs);
    pthread_mutex_destroy(&w->lock);
    if (w->shown && w->tty)
        fputc('\n', stderr);
}

/* ---- writing the report --------------------------------------------- */

/* The report, its PNG and its SVG are written first into a staging folder
 * of this run's own, made next to them with mkdtemp (a unique name, created
 * exclusively: two studies on one --out never share it), and renamed into
 * place once all three are complete. The charts' writer picks the format by
 * the extension, so the staged files keep their names. Only what this run
 * made is removed: the files in its staging folder, and the folder. */
#define NOUTPUTS 3
static const char *const FINAL_NAMES[NOUTPUTS] = {"scale-up.md", "scale-up.png",
                                                  "scale-up.svg"};

typedef struct output_paths {
    char stage[4200];
    char final[NOUTPUTS][4200], staged[NOUTPUTS][4300];
} output_paths;

static usim_status make_stage(const char *dir, output_paths *o, usim_error *err)
{
    snprintf(o->stage, sizeof o->stage, "%s/.scale-up.%ld.XXXXXX", dir, (long)getpid());
    if (!mkdtemp(o->stage))
        return usim_fail_field(err, USIM_EINPUT, "out", "cannot write in the folder %s (%s)",
                               dir, strerror(errno));
    for (int i = 0; i < NOUTPUTS; i++) {
        snprintf(o->final[i], sizeof o->final[i], "%s/%s", dir, FINAL_NAMES[i]);
        snprintf(o->staged[i], sizeof o->staged[i], "%s/%s", o->stage, FINAL_NAMES[i]);
    }
    return USIM_OK;
}

/* Renames the staged files into place, all or none (usim_replace_files):
 * the folder never holds half a report, and a failure leaves the previous
 * one whole. A folder in the way of an output is the user's to move, found
 * before anything is renamed. */
static usim_status publish(const output_paths *o, usim_error *err)
{
    struct stat info;
    const char *staged[NOUTPUTS], *final[NOUTPUTS];
    for (int i = 0; i < NOUTPUTS; i++) {
        if (lstat(o->final[i], &info) == 0 && S_ISDIR(info.st_mode))
            return usim_fail_field(err, USIM_EINPUT, "out",
                                   "cannot write %s (a folder is in the way); nothing was written",
                                   o->final[i]);
        staged[i] = o->staged[i];
        final[i] = o->final[i];
    }
    return usim_replace_files(staged, final, NOUTPUTS, o->stage, err);
}

/* Removes the staging folder and what this run put in it. */
static void remove_stage(const output_paths *o)
{
    for (int i = 0; i < NOUTPUTS; i++)
        remove(o->staged[i]); /* after a failure; after success they are gone already */
    rmdir(o->stage);
}

/* The folder, made before the searches so that a bad --out fails at once;
 * *created says whether to remove it again if the study fails. */
static usim_status make_out_dir(const char *dir, bool *created, usim_error *err)
{
    struct stat info;
    *created = mkdir(dir, 0777) == 0;
    if (!*created && (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)))
        return usim_fail_field(err, USIM_EINPUT, "out", "cannot create the folder %s (%s)", dir,
                               strerror(errno));
    return USIM_OK;
}

static usim_status write_outputs(const char *dir, const char *text, point pts[NSYSTEMS][MAX_SIZES],
                                 int n, usim_error *err)
{
    output_paths *o = malloc(sizeof *o);
    if (!o)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_status st = make_stage(dir, o, err);
    if (st != USIM_OK) {
        free(o);
        return st;
    }
    st = usim_write_file_atomic(o->staged[0], text, strlen(text), err);
    if (st == USIM_OK)
        st = write_charts(o->staged[1], o->staged[2], pts, n, err);
    if (st == USIM_OK)
        st = publish(o, err);
    remove_stage(o);
    free(o);
    return st;
}

static char *report_text(const wl_model *m, const int *sizes, int n, int64_t seq,
                         int64_t max_gbs, point pts[NSYSTEMS][MAX_SIZES])
{
    usim_buf b = {0};
    usim_buf_printf(&b, "# Scale up or scale out? %s from %d to %d chips\n\n", m->name, sizes[0],
                    sizes[n - 1]);
    usim_buf_printf(&b, "Generated by `ultrasim study scale-up --model %s`. At each size the plan "
                        "search picks the fastest plan that fits (TP, PP, DP, CP, virtual stages, "
                        "micro-batch, ZeRO stage, recompute); the global batch is one %lld-token "
                        "sequence per chip, capped at %lld sequences (Llama 3 405B's batch), so "
                        "past the cap more chips split the same work finer.\n\n"
                        "![throughput and MFU](scale-up.png)\n",
                    m->name, (long long)seq, (long long)max_gbs);
    for (int s = 0; s < NSYSTEMS; s++)
        write_table(&b, &SYSTEMS[s], pts[s], n);
    usim_buf_puts(&b, "\n## Where adding chips stops paying\n");
    for (int s = 0; s < NSYSTEMS; s++)
        write_verdict(&b, &SYSTEMS[s], pts[s], n);
    return usim_buf_take(&b);
}

static usim_status study_run(json_t *req, json_t **result, usim_error *err)
{
    const usim_command *cmd = &api_cmd_study.info;
    const char *dir;
    wl_model m;
    api_string(cmd, req, "out", &dir, err);
    usim_status st = api_load_model(cmd, req, &m, err);
    int64_t seq = api_next_int(cmd, req, "seq", 8192, &st, err);
    int64_t max_gbs = api_next_int(cmd, req, "max-gbs", 2048, &st, err);
    int64_t max_chips = api_next_int(cmd, req, "max-chips", 131072, &st, err);
    int64_t jobs = api_next_int(cmd, req, "jobs", plan_thread_count(0), &st, err);
    if (st == USIM_OK && max_chips % 64 != 0) /* an UltraServer's 64 chips, 4 instances, 8 nodes */
        st = usim_fail_field(err, USIM_EINPUT, "max-chips",
                             "%lld chips do not fill whole Trn2 UltraServers (64 chips), so no "
                             "system of the study holds them (allowed: a multiple of 64)",
                             (long long)max_chips);
    bool created = false;
    if (st == USIM_OK)
        st = make_out_dir(dir, &created, err);
    if (st != USIM_OK)
        return st;
    int sizes[MAX_SIZES], n = sizes_up_to((int)max_chips, sizes);
    point(*pts)[MAX_SIZES] = calloc(NSYSTEMS, sizeof *pts);
    if (!pts) {
        if (created)
            rmdir(dir);
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    study_pool w = {.m = &m, .sizes = sizes, .nsizes = n, .seq = (int)seq,
                    .max_gbs = (int)max_gbs, .pts = pts};
    run_searches(&w, (int)jobs);
    char *text = report_text(&m, sizes, n, seq, max_gbs, pts);
    st = text ? write_outputs(dir, text, pts, n, err)
              : usim_fail(err, USIM_ERUNTIME, "out of memory");
    free(text);
    if (st == USIM_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, FINAL_NAMES[0]);
        *result = api_pack("{s:s, s:s}", "report", path, "out", dir);
    } else if (created) {
        rmdir(dir); /* only if empty: never anything but what this run made */
    }
    free(pts);
    return st;
}

static usim_status study_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    usim_buf_printf(b, "wrote %s and its charts in %s\n",
                    json_string_value(json_object_get(res, "report")),
                    json_string_value(json_object_get(res, "out")));
    return USIM_OK;
}

const api_command api_cmd_study = {
    {"study", "run a whole study: 'study scale-up' asks when more servers stop helping",
     "ultrasim study scale-up [--model M] [--out DIR] [--max-chips N] [--jobs N] [--json]",
     "scale-up: best plan, step time, tokens/s and MFU from 64 to --max-chips chips on\n"
     "Trn2 instances (EFA only), Trn2 UltraServers and H100 nodes, the size where adding\n"
     "chips stops paying for each and why; a Markdown report and charts in --out.\n"
     "The searches run on all cores (--jobs), with the same report on any number;\n"
     "progress goes to stderr. The report and charts appear only once all are written.",
     STUDY_POSITIONALS, STUDY_OPTIONS, sizeof STUDY_OPTIONS / sizeof STUDY_OPTIONS[0]},
    study_run,
    study_render,
};
