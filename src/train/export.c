/*
 * A simulated training step written as Chakra execution traces (one file per
 * rank, ultrasim/chakra.h), so ASTRA-sim or any Chakra consumer can run the
 * same workload and `ultrasim replay` can run it on another system.
 *
 * Each stage's tasks become nodes on the stage's ranks: compute tasks keep
 * their time, FLOPs and HBM bytes; a communication task becomes the calls it
 * is made of, one node per call, on the group of the rank's own TP, CP, DP or
 * EP peers (PREFIX.comm_group.json lists every group's ranks); a pipeline
 * send becomes a send on this rank and a receive on the next stage's rank.
 * Streams follow the step's resources: 0 the engines (and in-line
 * collectives), 1 the DP stream, 2 and 3 the sends, 4 and 5 the collectives
 * the step hides behind its own work.
 *
 * Overlap is written as structure rather than as a shortened call: TP calls
 * hidden behind GEMMs run on stream 4 beside the GEMM node, ring-attention
 * exchanges beside the attention's later blocks, ZeRO-3's prefetched gathers
 * on stream 5 beside the whole pass; what follows waits for both. Hidden
 * all-to-alls run on stream 6 beside their pass and the next one (the pass
 * paired with it), after which the engines wait for them; what they still
 * cost the engines is a node of its own. A pass with none beside it
 * (warm-up, cool-down) runs its all-to-alls in line, after what is pending
 * from the pass before. For a pass
 * of identical layers that gives the time train_step gives. Ranks follow
 * Megatron-LM's order: TP fastest, then CP, DP and PP.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "train/internal.h"
#include "ultrasim/chakra.h"

enum { STREAM_ENGINES, STREAM_DP, STREAM_SEND_FWD, STREAM_SEND_BWD, STREAM_HIDDEN,
       STREAM_PREFETCH, STREAM_EP, STREAM_COUNT };

/* A rank's coordinates in the plan. */
typedef struct coords {
    int t, c, d, s;
} coords;

typedef struct exporter {
    const wl_plan *p;
    const hw_system *sys;
    const sim_graph *g;
    const train_record *rec;
    train_ctx *x;
    int *stage_of_res;      /* resource -> stage */
    int **preds;            /* task -> dependency tasks (explicit edges) */
    int *npreds;
    int **succs;            /* task -> tasks waiting on it (explicit edges) */
    int *nsuccs;
    bool representative;    /* one rank per stage written */
    /* per rank being written */
    et_writer *w;
    coords at;
    int rank;
    uint64_t next_id;
    uint64_t *exit_node;    /* task -> the node that ends it (UINT64_MAX: none) */
    uint64_t stream_last[STREAM_COUNT];
    bool stream_used[STREAM_COUNT];
    uint64_t pending_ep;    /* the last pass's hidden all-to-alls, joined after the next */
    int64_t nodes;
    usim_error *err;
    usim_status st;
} exporter;

static int rank_of(const wl_plan *p, coords k)
{
    return k.t + p->tp * (k.c + p->cp * (k.d + p->dp * k.s));
}

static coords coords_of(const wl_plan *p, int rank)
{
    coords k;
    k.t = rank % p->tp;
    rank /= p->tp;
    k.c = rank % p->cp;
    rank /= p->cp;
    k.d = rank % p->dp;
    k.s = rank / p->dp;
    return k;
}

/* ---- process groups ------------------------------------------------------ */

/* A group: size ranks from first, stride apart. */
typedef struct pgroup {
    const char *kind;
    int first, size, stride;
} pgroup;

static const char *const GROUP_KINDS[] = {"tp", "cp", "ep", "dp", "edp", "dpr"};

/* The group of kind's calls (DP traffic of expert weights: the expert
 * data-parallel group, EP x ETP ranks apart within the stage, as
 * train_step groups it; HSDP's replicas: shard-group ranks apart). */
static pgroup group_for(const exporter *e, train_kind kind, int dp_group)
{
    const wl_plan *p = e->p;
    coords k = e->at;
    pgroup g = {"tp", 0, 1, 1};
    int shard = wl_plan_zero_shard(p), in_dp = k.c + p->cp * k.d; /* the rank within DP x CP */
    if (kind == TRAIN_DP_COMM && dp_group == TRAIN_DP_REPLICA) {
        k.c = k.d = 0;
        return (pgroup){"dpr", rank_of(p, k) + p->tp * (in_dp % shard), p->dp * p->cp / shard,
                        p->tp * shard};
    }
    if (kind == TRAIN_DP_COMM && dp_group == TRAIN_DP_EXPERT) {
        int span = wl_plan_etp(p) * p->ep;
        int stage = rank_of(p, (coords){0, 0, 0, k.s}), f = rank_of(p, k) - stage;
        return (pgroup){"edp", stage + f % span, (int)wl_expert_dp(p), span};
    }
    switch (kind) {
    case TRAIN_TP_COMM:
        k.t = 0;
        g = (pgroup){"tp", rank_of(p, k), p->tp, 1};
        break;
    case TRAIN_CP_COMM:
        k.c = 0;
        g = (pgroup){"cp", rank_of(p, k), p->cp, p->tp};
        break;
    case TRAIN_EP_COMM: { /* as train_step groups them: ETP apart over TP x CP x DP */
        int etp = wl_plan_etp(p), span = etp * p->ep;
        int stage = rank_of(p, (coords){0, 0, 0, k.s}), f = rank_of(p, k) - stage;
        g = (pgroup){"ep", stage + f % etp + f / span * span, p->ep, etp};
        break;
    }
    default: /* DP: DP x CP ranks, stride TP (HSDP: the shard group's) */
        k.c = k.d = 0;
        g = (pgroup){"dp", rank_of(p, k) + p->tp * (in_dp / shard * shard), shard, p->tp};
        break;
    }
    return g;
}

/* A group's name: a whole number, as ASTRA-sim reads process groups (it
 * parses them as integers, 0 meaning every rank): 1 + kind x chips + first
 * rank, kinds in GROUP_KINDS' order. */
static void pg_name(const exporter *e, const pgroup *g, char *buf, size_t size)
{
    long long kind = 0, last = sizeof GROUP_KINDS / sizeof GROUP_KINDS[0] - 1;
    while (kind < last && strcmp(GROUP_KINDS[kind], g->kind) != 0)
        kind++;
    snprintf(buf, size, "%lld", 1 + kind * e->sys->chips + g->first);
}

/* ---- nodes ---------------------------------------------------------------- */

static uint64_t emit(exporter *e, et_node *n, int stream, const uint64_t *deps, int ndeps)
{
    uint64_t all[8];
    int k = 0;
    if (e->st != USIM_OK)
        return 0;
    if (e->stream_used[stream])
        all[k++] = e->stream_last[stream];
    for (int i = 0; i < ndeps && k < 8; i++)
        if (deps[i] != UINT64_MAX && !(k > 0 && all[0] == deps[i]))
            all[k++] = deps[i];
    n->id = e->next_id++;
    n->stream = stream;
    n->deps = all;
    n->ndeps = n->ndata = k; /* all as data dependencies: what ASTRA-sim's feeder reads */
    e->st = et_write(e->w, n, e->err);
    e->stream_last[stream] = n->id;
    e->stream_used[stream] = true;
    e->nodes++;
    return n->id;
}

static et_node blank(const char *name)
{
    et_node n;
    memset(&n, 0, sizeof n);
    snprintf(n.name, sizeof n.name, "%s", name);
    n.flops = n.bytes = n.comm_bytes = -1;
    n.comm_type = n.comm_src = n.comm_dst = -1;
    return n;
}

static uint64_t compute_node(exporter *e, const char *label, const char *what, double seconds,
                             double flops, double bytes, int stream, const uint64_t *deps,
                             int ndeps)
{
    char name[96];
    snprintf(name, sizeof name, "%s %s", label, what);
    et_node n = blank(name);
    n.type = ET_COMP;
    n.duration_s = seconds;
    n.flops = flops;
    n.bytes = bytes;
    n.dtype = e->p->dtype;
    return emit(e, &n, stream, deps, ndeps);
}

static int coll_type(net_op op)
{
    switch (op) {
    case NET_ALLREDUCE: return ET_ALL_REDUCE;
    case NET_REDUCE_SCATTER: return ET_REDUCE_SCATTER;
    case NET_ALLGATHER: return ET_ALL_GATHER;
    case NET_ALLTOALL: return ET_ALL_TO_ALL;
    case NET_BROADCAST: return ET_BROADCAST;
    default: return ET_REDUCE;
    }
}

static double call_s(exporter *e, const train_call *c, train_kind kind)
{
    const train_group *g = kind == TRAIN_TP_COMM   ? &e->rec->tp
                           : kind == TRAIN_CP_COMM ? &e->rec->cp
                           : kind == TRAIN_EP_COMM ? &e->rec->ep
                           : c->dp_group == TRAIN_DP_EXPERT  ? &e->rec->edp
                           : c->dp_group == TRAIN_DP_REPLICA ? &e->rec->dpr
                                                             : &e->rec->dp;
    return train_collective_s(e->x, (net_op)c->op, c->bytes, g);
}

/* One call on kind's group: a collective, or for a ring exchange (CP) a send
 * to the next rank of the ring and a receive from the one before. */
static uint64_t call_node(exporter *e, const char *label, train_kind kind, const train_call *c,
                          int stream, uint64_t dep)
{
    pgroup g = group_for(e, kind, c->dp_group);
    char name[96], pg[32];
    pg_name(e, &g, pg, sizeof pg);
    if (c->op != NET_SENDRECV) {
        snprintf(name, sizeof name, "%s %s %s", label, g.kind, et_coll_name(coll_type(c->op)));
        et_node n = blank(name);
        n.type = ET_COLL;
        n.comm_type = coll_type(c->op);
        n.comm_bytes = c->bytes;
        snprintf(n.pg_name, sizeof n.pg_name, "%s", pg);
        n.duration_s = call_s(e, c, kind);
        return emit(e, &n, stream, &dep, 1);
    }
    int pos = (e->rank - g.first) / g.stride;
    snprintf(name, sizeof name, "%s %s exchange", label, g.kind);
    et_node send = blank(name), recv = blank(name);
    send.type = ET_SEND;
    recv.type = ET_RECV;
    send.comm_bytes = recv.comm_bytes = c->bytes;
    send.comm_src = recv.comm_dst = e->rank;
    send.comm_dst = g.first + ((pos + 1) % g.size) * g.stride;
    recv.comm_src = g.first + ((pos + g.size - 1) % g.size) * g.stride;
    send.comm_tag = recv.comm_tag = (int)(e->next_id & 0x7fffffff);
    snprintf(send.pg_name, sizeof send.pg_name, "%s", pg);
    snprintf(recv.pg_name, sizeof recv.pg_name, "%s", pg);
    send.duration_s = call_s(e, c, kind);
    uint64_t s = emit(e, &send, stream, &dep, 1);
    return emit(e, &recv, stream, &s, 1);
}

/* The calls of kind in c that are (or are not) hidden, one after another. */
static uint64_t call_chain(exporter *e, const char *label, const train_costs *c, train_kind kind,
                           bool hidden, int stream, uint64_t dep)
{
    uint64_t last = dep;
    for (int i = 0; i < c->ncalls[kind]; i++) {
        const train_call *call = &c->calls[kind][i];
        if (call->hidden != hidden)
            continue;
        long count = lround(call->count);
        for (long k = 0; k < count; k++)
            last = call_node(e, label, kind, call, stream, last);
    }
    return last;
}

static bool has_hidden(const train_costs *c, train_kind kind)
{
    for (int i = 0; i < c->ncalls[kind]; i++)
        if (c->calls[kind][i].hidden)
            return true;
    return false;
}

/* ---- a stage's program -------------------------------------------------- */

/* A zero-time node on stream waiting for the stream, a and b. */
static uint64_t join(exporter *e, const char *label, int stream, uint64_t a, uint64_t b)
{
    uint64_t deps[2] = {a, b};
    return compute_node(e, label, "join", 0, 0, 0, stream, deps, 2);
}

/* One operation (a pass of a chunk, or one layer of the last backward) on
 * the engines, starting after entry: see the file's comment for its shape. */
static uint64_t op_nodes(exporter *e, const char *label, const train_costs *c, uint64_t entry)
{
    static const char *const WHAT[] = {"gemm", "attention", "elementwise", "optimizer",
                                       "host launches", "activation offload"};
    uint64_t prefetch = UINT64_MAX, hidden = UINT64_MAX, ep = UINT64_MAX, last = entry;
    if (has_hidden(c, TRAIN_EP_COMM)) { /* beside the whole pass (DualPipe) */
        ep = call_chain(e, label, c, TRAIN_EP_COMM, true, STREAM_EP, entry);
    } else if (c->ncalls[TRAIN_EP_COMM] > 0 && e->pending_ep != UINT64_MAX) {
        /* a pass with none beside it (cool-down) starts once its
         * predecessor's pair has ended, all-to-alls included */
        last = entry = join(e, label, STREAM_ENGINES, entry, e->pending_ep);
        e->pending_ep = UINT64_MAX;
    }
    if (has_hidden(c, TRAIN_DP_COMM))
        prefetch = call_chain(e, label, c, TRAIN_DP_COMM, true, STREAM_PREFETCH, entry);
    if (has_hidden(c, TRAIN_TP_COMM))
        hidden = call_chain(e, label, c, TRAIN_TP_COMM, true, STREAM_HIDDEN, entry);
    for (int k = TRAIN_GEMM; k <= TRAIN_OFFLOAD; k++) {
        double s = c->s[k];
        if (k == TRAIN_ATTENTION && has_hidden(c, TRAIN_CP_COMM) && s > 0) {
            double head = s / e->p->cp;
            last = compute_node(e, label, "attention (first block)", head,
                                c->flops[k] / e->p->cp, c->bytes[k] / e->p->cp, STREAM_ENGINES,
                                &last, 1);
            uint64_t x = call_chain(e, label, c, TRAIN_CP_COMM, true, STREAM_HIDDEN, last);
            last = compute_node(e, label, "attention", s - head, c->flops[k] - c->flops[k] / e->p->cp,
                                c->bytes[k] - c->bytes[k] / e->p->cp, STREAM_ENGINES, &last, 1);
            last = join(e, label, STREAM_ENGINES, last, x);
            continue;
        }
        if (s > 0 || (k == TRAIN_GEMM && hidden != UINT64_MAX))
            last = compute_node(e, label, WHAT[k], s, c->flops[k], c->bytes[k], STREAM_ENGINES,
                                &last, 1);
        if (k == TRAIN_GEMM && hidden != UINT64_MAX)
            last = join(e, label, STREAM_ENGINES, last, hidden);
    }
    /* what the hidden all-to-alls still cost the engines: the share of the
     * cores their kernels hold, or their time beyond the blocks beside them */
    if (ep != UINT64_MAX && c->s[TRAIN_EP_COMM] > 0)
        last = compute_node(e, label, "beside the all-to-alls", c->s[TRAIN_EP_COMM], 0, 0,
                            STREAM_ENGINES, &last, 1);
    for (int k = TRAIN_TP_COMM; k <= TRAIN_DP_COMM; k++)
        if (k != TRAIN_PP_COMM)
            last = call_chain(e, label, c, (train_kind)k, false, STREAM_ENGINES, last);
    /* a pass's hidden all-to-alls run beside the pass paired with it, the
     * next one (train_hide_ep): the engines wait for them after that one */
    if (e->pending_ep != UINT64_MAX)
        last = join(e, label, STREAM_ENGINES, last, e->pending_ep);
    e->pending_ep = ep;
    if (prefetch != UINT64_MAX)
        last = join(e, label, STREAM_ENGINES, last, prefetch);
    return last;
}

static int stream_of(const exporter *e, int task)
{
    const int *res = e->rec->res[e->at.s];
    int r = sim_task_resource(e->g, task);
    for (int i = 0; i < 4; i++)
        if (res[i] == r)
            return i; /* compute, DP, send forward, send backward: streams 0-3 */
    return STREAM_ENGINES;
}

/* The rank of peer's stage with this rank's TP, CP and DP coordinates. */
static int peer_rank(const exporter *e, int task)
{
    coords k = e->at;
    k.s = e->stage_of_res[sim_task_resource(e->g, task)];
    return rank_of(e->p, k);
}

/* What task waits for: the previous task on its resource and its explicit
 * dependencies, as nodes of this rank; a send from another stage becomes a
 * receive here. */
static int entry_deps(exporter *e, int task, uint64_t *deps, int max)
{
    int n = 0;
    for (int i = 0; i < e->npreds[task] && n < max; i++) {
        int before = e->preds[task][i];
        bool here = e->stage_of_res[sim_task_resource(e->g, before)] == e->at.s;
        if (here || e->exit_node[before] != UINT64_MAX) { /* a receive made already */
            deps[n++] = e->exit_node[before];
            continue;
        }
        et_node r = blank(sim_task_label(e->g, before));
        r.type = ET_RECV;
        r.comm_src = peer_rank(e, before);
        r.comm_dst = e->rank;
        r.comm_tag = before;
        const train_costs *c = &e->rec->ops[e->rec->task_op[before]];
        r.comm_bytes = c->calls[TRAIN_PP_COMM][0].bytes;
        deps[n++] = e->exit_node[before] = emit(e, &r, stream_of(e, task), NULL, 0);
    }
    return n;
}

static void send_node(exporter *e, int task, const train_costs *c, const uint64_t *deps, int n)
{
    et_node s = blank(sim_task_label(e->g, task));
    s.type = ET_SEND;
    s.comm_bytes = c->calls[TRAIN_PP_COMM][0].bytes;
    s.duration_s = sim_duration(e->g, task);
    s.comm_src = e->rank;
    s.comm_tag = task;
    for (int i = 0; i < e->nsuccs[task]; i++) /* the stage it sends to */
        s.comm_dst = peer_rank(e, e->succs[task][i]);
    e->exit_node[task] = emit(e, &s, stream_of(e, task), deps, n);
}

static void single_node(exporter *e, int task, const train_costs *c, const uint64_t *deps, int n)
{
    train_kind kind = (train_kind)sim_task_kind(e->g, task);
    if (kind == TRAIN_PP_COMM) {
        send_node(e, task, c, deps, n);
        return;
    }
    uint64_t last = n > 0 ? deps[0] : UINT64_MAX;
    if (kind == TRAIN_DP_COMM) { /* a bucket's reduction or the weights' gather */
        for (int i = 1; i < n; i++)
            last = join(e, sim_task_label(e->g, task), stream_of(e, task), last, deps[i]);
        e->exit_node[task] =
            call_chain(e, sim_task_label(e->g, task), c, kind, false, stream_of(e, task), last);
        return;
    }
    e->exit_node[task] = compute_node(e, sim_task_label(e->g, task),
                                      train_kind_name(kind), c->s[kind], c->flops[kind],
                                      c->bytes[kind], stream_of(e, task), deps, n);
}

static void write_stage_program(exporter *e)
{
    int n = sim_task_count(e->g);
    for (int t = 0; t < n && e->st == USIM_OK; t++) {
        if (e->stage_of_res[sim_task_resource(e->g, t)] != e->at.s)
            continue;
        int op = e->rec->task_op[t];
        int last = t;
        while (last + 1 < n && e->rec->task_op[last + 1] == op && op >= 0)
            last++;
        uint64_t deps[8];
        int nd = entry_deps(e, t, deps, 8);
        const train_costs *c = &e->rec->ops[op];
        bool engines = sim_task_resource(e->g, t) == e->rec->res[e->at.s][0];
        bool optimizer = sim_task_kind(e->g, t) == TRAIN_OPTIMIZER;
        if (engines && optimizer && e->pending_ep != UINT64_MAX) { /* nothing left to pair */
            deps[0] = join(e, sim_task_label(e->g, t), STREAM_ENGINES,
                           nd > 0 ? deps[0] : UINT64_MAX, e->pending_ep);
            nd = nd > 0 ? nd : 1;
            e->pending_ep = UINT64_MAX;
        }
        if (!engines || optimizer) {
            single_node(e, t, c, deps, nd);
        } else {
            /* The pass starts when the engines are free and its inputs are
             * here: a join holds both for the chains that start beside it. */
            const char *label = sim_task_label(e->g, t);
            uint64_t entry = join(e, label, STREAM_ENGINES, nd > 0 ? deps[0] : UINT64_MAX,
                                  nd > 1 ? deps[1] : UINT64_MAX);
            for (int i = 2; i < nd; i++)
                entry = join(e, label, STREAM_ENGINES, entry, deps[i]);
            uint64_t end = op_nodes(e, label, c, entry);
            for (int k = t; k <= last; k++)
                e->exit_node[k] = end;
        }
        t = last;
    }
}

/* ---- the whole step -------------------------------------------------------- */

static usim_status index_edges(exporter *e)
{
    int n = sim_task_count(e->g), m = sim_edge_count(e->g);
    e->npreds = calloc((size_t)n, sizeof(int));
    e->nsuccs = calloc((size_t)n, sizeof(int));
    e->preds = calloc((size_t)n, sizeof(int *));
    e->succs = calloc((size_t)n, sizeof(int *));
    e->exit_node = malloc((size_t)(n > 0 ? n : 1) * sizeof(uint64_t));
    int nres = sim_resource_count(e->g);
    e->stage_of_res = calloc((size_t)(nres > 0 ? nres : 1), sizeof(int));
    if (!e->npreds || !e->nsuccs || !e->preds || !e->succs || !e->exit_node || !e->stage_of_res)
        return usim_fail(e->err, USIM_ERUNTIME, "out of memory");
    for (int s = 0; s < e->p->pp; s++)
        for (int r = 0; r < 4; r++)
            e->stage_of_res[e->rec->res[s][r]] = s;
    for (int i = 0; i < m; i++) {
        int to, from;
        sim_edge(e->g, i, &to, &from);
        e->npreds[to]++;
        e->nsuccs[from]++;
    }
    for (int t = 0; t < n; t++) {
        e->preds[t] = malloc((size_t)(e->npreds[t] + 1) * sizeof(int));
        e->succs[t] = malloc((size_t)(e->nsuccs[t] + 1) * sizeof(int));
        if (!e->preds[t] || !e->succs[t])
            return usim_fail(e->err, USIM_ERUNTIME, "out of memory");
        e->npreds[t] = e->nsuccs[t] = 0;
    }
    for (int i = 0; i < m; i++) {
        int to, from;
        sim_edge(e->g, i, &to, &from);
        e->preds[to][e->npreds[to]++] = from;
        e->succs[from][e->nsuccs[from]++] = to;
    }
    return USIM_OK;
}

static void free_exporter(exporter *e)
{
    int n = e->g ? sim_task_count(e->g) : 0;
    for (int t = 0; e->preds && t < n; t++) {
        free(e->preds[t]);
        free(e->succs[t]);
    }
    free(e->preds);
    free(e->succs);
    free(e->npreds);
    free(e->nsuccs);
    free(e->exit_node);
    free(e->stage_of_res);
}

static usim_status write_rank(exporter *e, const char *path, int rank)
{
    e->rank = rank;
    e->at = coords_of(e->p, rank);
    e->next_id = 0;
    e->pending_ep = UINT64_MAX;
    memset(e->stream_used, 0, sizeof e->stream_used);
    for (int t = 0; t < sim_task_count(e->g); t++)
        e->exit_node[t] = UINT64_MAX;
    e->w = et_writer_open(path, rank, e->sys->chips, e->representative, e->err);
    if (!e->w)
        return USIM_EINPUT;
    write_stage_program(e);
    usim_status st = et_writer_close(e->w, e->err);
    e->w = NULL;
    return e->st != USIM_OK ? e->st : st;
}

/* Every group the written ranks belong to, with its ranks. */
static usim_status add_groups(json_t *groups, const exporter *e0, int rank)
{
    static const struct {
        train_kind kind;
        int dp_group; /* train_dp_group: the expert one a MoE model's only */
    } GROUPS[] = {{TRAIN_TP_COMM, TRAIN_DP_DENSE},   {TRAIN_CP_COMM, TRAIN_DP_DENSE},
                  {TRAIN_EP_COMM, TRAIN_DP_DENSE},   {TRAIN_DP_COMM, TRAIN_DP_DENSE},
                  {TRAIN_DP_COMM, TRAIN_DP_EXPERT},  {TRAIN_DP_COMM, TRAIN_DP_REPLICA}};
    exporter e = *e0;
    e.rank = rank;
    e.at = coords_of(e.p, rank);
    for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++) {
        if (GROUPS[i].dp_group == TRAIN_DP_EXPERT && e.x->m->experts <= 1)
            continue;
        pgroup g = group_for(&e, GROUPS[i].kind, GROUPS[i].dp_group);
        char name[32];
        pg_name(&e, &g, name, sizeof name);
        if (g.size < 2 || json_object_get(groups, name))
            continue;
        json_t *ranks = json_array();
        for (int k = 0; k < g.size; k++)
            json_array_append_new(ranks, json_integer(g.first + k * g.stride));
        if (json_object_set_new(groups, name, ranks) != 0)
            return USIM_ERUNTIME;
    }
    return USIM_OK;
}

typedef struct staging {
    char dir[4200];
    char **staged, **final;
    int n;
} staging;

static usim_status make_staging(staging *sg, const char *prefix, int files, usim_error *err)
{
    char folder[4200];
    snprintf(folder, sizeof folder, "%s", prefix);
    char *slash = strrchr(folder, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(folder, sizeof folder, ".");
    snprintf(sg->dir, sizeof sg->dir, "%s/.et-export.%ld.XXXXXX", folder, (long)getpid());
    if (!mkdtemp(sg->dir))
        return usim_fail_field(err, USIM_EINPUT, "export-et", "cannot write in the folder %s (%s)",
                               folder, strerror(errno));
    sg->staged = calloc((size_t)files, sizeof(char *));
    sg->final = calloc((size_t)files, sizeof(char *));
    if (!sg->staged || !sg->final)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    return USIM_OK;
}

static usim_status stage_file(staging *sg, const char *prefix, const char *suffix,
                              usim_error *err)
{
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    size_t a = strlen(sg->dir) + strlen(base) + strlen(suffix) + 2;
    size_t b = strlen(prefix) + strlen(suffix) + 1;
    sg->staged[sg->n] = malloc(a);
    sg->final[sg->n] = malloc(b);
    if (!sg->staged[sg->n] || !sg->final[sg->n])
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    snprintf(sg->staged[sg->n], a, "%s/%s%s", sg->dir, base, suffix);
    snprintf(sg->final[sg->n], b, "%s%s", prefix, suffix);
    sg->n++;
    return USIM_OK;
}

static void drop_staging(staging *sg)
{
    for (int i = 0; i < sg->n; i++) {
        remove(sg->staged[i]);
        free(sg->staged[i]);
        free(sg->final[i]);
    }
    free(sg->staged);
    free(sg->final);
    rmdir(sg->dir);
}

static usim_status write_all(exporter *e, staging *sg, const char *prefix, bool every_rank,
                             train_export *out)
{
    const wl_plan *p = e->p;
    int per_stage = p->tp * p->cp * p->dp;
    json_t *groups = json_object();
    usim_status st = groups ? USIM_OK : USIM_ERUNTIME;
    for (int s = 0; s < p->pp && st == USIM_OK; s++) {
        for (int k = 0; k < (every_rank ? per_stage : 1) && st == USIM_OK; k++) {
            int rank = s * per_stage + k;
            char suffix[32];
            snprintf(suffix, sizeof suffix, ".%d.et", rank);
            st = stage_file(sg, prefix, suffix, e->err);
            if (st == USIM_OK)
                st = write_rank(e, sg->staged[sg->n - 1], rank);
            if (st == USIM_OK && add_groups(groups, e, rank) != USIM_OK)
                st = usim_fail(e->err, USIM_ERUNTIME, "out of memory");
            out->files++;
        }
    }
    if (st == USIM_OK)
        st = stage_file(sg, prefix, ".comm_group.json", e->err);
    if (st == USIM_OK && json_dump_file(groups, sg->staged[sg->n - 1], JSON_INDENT(1)) != 0)
        st = usim_fail(e->err, USIM_ERUNTIME, "%s: write failed", sg->staged[sg->n - 1]);
    json_decref(groups);
    return st;
}

/* Rank files an earlier export left under the same prefix would join this
 * trace when it is replayed: those this one did not write go (it wrote every
 * rank below chips, or the first of every per_stage). */
static void remove_stale_ranks(const char *prefix, bool every_rank, int per_stage, int chips)
{
    char folder[4200];
    const char *base = strrchr(prefix, '/');
    snprintf(folder, sizeof folder, "%.*s", base ? (int)(base - prefix) : 1, base ? prefix : ".");
    if (base && base == prefix)
        snprintf(folder, sizeof folder, "/");
    base = base ? base + 1 : prefix;
    DIR *d = opendir(folder);
    size_t blen = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.')
            continue;
        long r = strtol(e->d_name + blen + 1, &end, 10);
        if (end == e->d_name + blen + 1 || strcmp(end, ".et") != 0 || r < 0)
            continue;
        bool ours = r < chips && (every_rank || r % per_stage == 0);
        if (!ours) {
            char path[8400];
            snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
            remove(path);
        }
    }
    if (d)
        closedir(d);
}

usim_status train_export_et(const wl_model *m, const wl_plan *p, const hw_system *sys,
                            const char *prefix, bool every_rank, train_export *out,
                            usim_error *err)
{
    train_result r;
    train_record rec;
    sim_graph *g = NULL;
    exporter e;
    staging sg;
    train_ctx x;
    memset(out, 0, sizeof *out);
    memset(&e, 0, sizeof e);
    memset(&sg, 0, sizeof sg);
    size_t plen = strlen(prefix);
    if (plen == 0 || prefix[plen - 1] == '/')
        return usim_fail_field(err, USIM_EINPUT, "export-et",
                               "'%s' names a folder; give the files' prefix in it (e.g. %sstep: "
                               "step.0.et, step.1.et, ...)",
                               prefix, prefix);
    if (p->tp_cores > p->tp)
        return usim_fail_field(err, USIM_EINPUT, "export-et",
                               "a plan whose TP ranks are NeuronCores (--tp-unit core: %d, %d "
                               "a chip) is not exported: a trace's ranks are chips, and its TP "
                               "collectives run over the cores; give --tp in chips",
                               p->tp_cores, p->tp_cores / p->tp);
    memset(&x, 0, sizeof x);
    usim_status st = train_step_recorded(m, p, sys, &r, &g, &rec, err);
    for (int i = 0; st == USIM_OK && i < rec.nops; i++)
        if (rec.ops[i].calls_lost)
            st = usim_fail(err, USIM_ERUNTIME,
                           "a pass makes more kinds of call than the export keeps (%d)",
                           TRAIN_CALLS);
    x.m = m;
    x.p = p; /* the plan's dispatcher picks who moves an all-to-all */
    x.sys = sys;
    x.err = err;
    e = (exporter){.p = p, .sys = sys, .g = g, .rec = &rec, .x = &x, .err = err,
                   .representative = !every_rank};
    if (st == USIM_OK)
        st = index_edges(&e);
    if (st == USIM_OK)
        st = make_staging(&sg, prefix, (every_rank ? sys->chips : p->pp) + 1, err);
    if (st == USIM_OK)
        st = write_all(&e, &sg, prefix, every_rank, out);
    if (st == USIM_OK)
        st = usim_replace_files((const char *const *)sg.staged, (const char *const *)sg.final,
                                sg.n, sg.dir, err);
    if (st == USIM_OK)
        remove_stale_ranks(prefix, every_rank, p->tp * p->cp * p->dp, sys->chips);
    out->nodes = e.nodes;
    out->step_time_s = r.step_time_s;
    if (sg.dir[0])
        drop_staging(&sg);
    free_exporter(&e);
    train_record_free(&rec);
    sim_graph_free(g);
    return st;
}
