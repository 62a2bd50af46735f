/*
 * One training step as a discrete-event simulation.
 *
 * Ranks are laid out Megatron-LM's way, TP fastest, then CP, DP and PP: TP
 * groups are neighbouring chips (inside a node or scale-up domain), pipeline
 * stages are the furthest apart. One representative chip per pipeline stage
 * is simulated; its peers in the TP, CP, DP and EP groups do the same work at
 * the same time, and the collectives' costs already account for all groups
 * running at once.
 *
 * Each stage has four resources: its engines (compute, and the in-line TP,
 * CP and EP collectives that wait on them), its data-parallel
 * communication stream, and a send link toward each neighbouring stage. The
 * stage runs its pipeline program (workload/schedule.c) in order; a forward
 * of virtual stage v waits for v - 1's activations to arrive, a backward for
 * v + 1's gradients; under ZB-H1 a W (weight gradients) waits only for its
 * own stage's B. The last micro-batch's backward (or W) runs layer by layer so
 * that each layer's gradient reduction (a bucket) can start as soon as the
 * layer is done, overlapped with the layers still to come. The optimizer
 * runs when the stage's reductions are done; ZeRO-1/2 then gather the
 * updated weights.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/internal.h"
#include "ultrasim/engine.h"

static const char *const KIND_NAMES[TRAIN_KIND_COUNT] = {
    "gemm",    "attention", "elementwise", "optimizer", "host",   "offload",
    "tp_comm", "cp_comm",   "ep_comm",     "pp_comm",   "dp_comm"};

const char *train_kind_name(train_kind k)
{
    return k >= 0 && k < TRAIN_KIND_COUNT ? KIND_NAMES[k] : "?";
}

static train_group group_of(const hw_system *sys, int size, int stride)
{
    train_group g = {size, stride, NET_TIER_NODE};
    double span = (double)size * stride;
    if (size > 1 && span > sys->node.chips)
        g.tier = span > sys->default_chips ? NET_TIER_SCALEOUT : NET_TIER_DOMAIN;
    return g;
}

static double cost_total(const train_costs *c)
{
    double t = 0;
    for (int i = 0; i < TRAIN_KIND_COUNT; i++)
        t += c->s[i];
    return t;
}

/* Per-layer costs, computed once and reused for every chunk. */
typedef struct layer_table {
    train_costs dense[2], moe[2]; /* [backward] */
    train_costs embedding[2], head[2], mtp[2];
    double p2p_s, p2p_bytes;
} layer_table;

/* A chunk's passes, one micro-batch through it. */
typedef struct chunk_passes {
    train_costs fwd, bwd;
    train_costs input_grad, weight_grad; /* bwd split in its B and W halves (ZB-H1) */
    train_costs first_fwd; /* the step's first forward (the one that gathers ZeRO-3 weights
                              kept for the step, wl_plan_zero3_per_step) */
} chunk_passes;

typedef struct chunk_plan {
    int layers, moe_layers;
    bool first_virtual, last_virtual;
    wl_stage_params params;
    chunk_passes paired; /* next to a pass of another micro-batch (wl_pipe_op.paired) */
    chunk_passes alone;  /* with none beside it, when that differs (ep_paired) */
    bool ep_paired;      /* a paired pass hides its all-to-alls behind its partner */
} chunk_plan;

typedef struct step_builder {
    train_ctx x;
    layer_table lt;
    layer_table lt_alone; /* the layers without the expert all-to-all overlap */
    chunk_plan *chunks; /* [stage * vp + chunk] */
    sim_graph *g;
    int (*res)[4];      /* per stage: compute, dp, send forward, send backward */
    int *fwd_first, *fwd_last, *bwd_first, *bwd_last, *send_fwd, *send_bwd; /* [v * M + mb] */
    int *dp_tasks;      /* per stage: last DP task */
    int *stage_end;     /* per stage: the task that ends its step */
    int *param_gather;  /* per stage: ZeRO-1/2's prefetched weight gather, or -1 */
    int64_t M;
    int V;
    train_record *rec;  /* what each task is made of, when exporting */
} step_builder;

enum { RES_COMPUTE, RES_DP, RES_SEND_FWD, RES_SEND_BWD };


/* What DP traffic moves, dense weights and expert weights apart: the dense
 * ones' collectives run over the DP group, the experts' over the expert
 * data-parallel group (train_ctx.edp), one after the other on the DP
 * stream. */
typedef struct dp_bytes {
    double dense, experts;
} dp_bytes;

/* The gradients a reduction moves, in the stack's reduction type. */
static dp_bytes grad_bytes(const step_builder *b, const wl_stage_params *sp)
{
    double w = b->x.p->stack.grad_reduce_bytes;
    return (dp_bytes){sp->dense * w, sp->experts * w};
}

static dp_bytes weight_bytes(const wl_stage_params *sp)
{
    return (dp_bytes){sp->dense * 2.0, sp->experts * 2.0}; /* 16-bit weights */
}

static dp_bytes dp_share(dp_bytes a, double k)
{
    return (dp_bytes){a.dense * k, a.experts * k};
}

/* HSDP: after a gradient reduce-scatter in the shard group, each rank's
 * shard is all-reduced with its replicas (PyTorch's HSDP, Megatron-Core's
 * num_distributed_optimizer_instances), 1 / shard of the bytes. */
static double replica_bytes(const step_builder *b, net_op op, dp_bytes bytes)
{
    return op == NET_REDUCE_SCATTER && b->x.dpr.size > 1 ? bytes.dense / b->x.dp.size : 0;
}

static double dp_collective_s(step_builder *b, net_op op, dp_bytes bytes)
{
    return train_collective_s(&b->x, op, bytes.dense, &b->x.dp) +
           train_collective_s(&b->x, op, bytes.experts, &b->x.edp) +
           train_collective_s(&b->x, NET_ALLREDUCE, replica_bytes(b, op, bytes), &b->x.dpr);
}

/* Records such a collective's calls in c, each where its group has more
 * than one rank. */
static void dp_calls(const step_builder *b, train_costs *c, net_op op, dp_bytes bytes,
                     double count, bool hidden)
{
    if (b->x.dp.size > 1)
        train_costs_call(c, TRAIN_DP_COMM, op, bytes.dense, count, hidden);
    if (b->x.edp.size > 1)
        train_costs_dp_call(c, TRAIN_DP_EXPERT, op, bytes.experts, count, hidden);
    double replicas = replica_bytes(b, op, bytes);
    if (replicas > 0)
        train_costs_dp_call(c, TRAIN_DP_REPLICA, NET_ALLREDUCE, replicas, count, hidden);
}

/* Sharded gradients are reduce-scattered layer by layer after every
 * micro-batch's backward: a sharded buffer cannot accumulate the next
 * micro-batch's (ZeRO-2: DeepSpeed's stage 2, FSDP's SHARD_GRAD_OP; ZeRO-3
 * too). ZeRO-3 also gathers each layer's weights before its forward and its
 * backward. With prefetching (overlap_param_gather) the gathers, with
 * overlap_grad_reduce the reduce-scatter, show only what outlasts the
 * layer. A stack that keeps ZeRO-3 state for the step
 * (wl_plan_zero3_per_step) gathers only in the first forward, given here
 * with no bwd, and reduces once (finish_stage). */
static void sharded_layer_comm(step_builder *b, train_costs *fwd, train_costs *bwd,
                               const wl_stage_params *layer)
{
    const wl_plan *p = b->x.p;
    double gather = 0, params = layer->dense + layer->experts;
    /* FSDP2: split each gather's output, pack each RS input (a group of one
     * shards nothing: torchtitan applies fully_shard only over more) */
    if (p->stack.fsdp_copies && b->x.dp.size > 1) {
        if (p->zero >= 3)
            train_copy_costs(&b->x, fwd, params, 2.0 + 2.0);
        if (p->zero >= 3 && bwd)
            train_copy_costs(&b->x, bwd, params, 2.0 + 2.0);
        if (bwd)
            train_copy_costs(&b->x, bwd, params, 2.0 + p->stack.grad_reduce_bytes);
    }
    if (p->zero >= 3) {
        dp_bytes gather_bytes = weight_bytes(layer);
        gather = dp_collective_s(b, NET_ALLGATHER, gather_bytes);
        dp_calls(b, fwd, NET_ALLGATHER, gather_bytes, 1, p->overlap_param_gather);
        if (bwd)
            dp_calls(b, bwd, NET_ALLGATHER, gather_bytes, 1, p->overlap_param_gather);
        fwd->s[TRAIN_DP_COMM] += p->overlap_param_gather ? fmax(0, gather - cost_total(fwd))
                                                         : gather;
    }
    if (!bwd)
        return;
    dp_bytes scatter_bytes = grad_bytes(b, layer);
    double scatter = dp_collective_s(b, NET_REDUCE_SCATTER, scatter_bytes);
    dp_calls(b, bwd, NET_REDUCE_SCATTER, scatter_bytes, 1, p->overlap_grad_reduce);
    double hidden = (p->overlap_param_gather ? gather : 0) + (p->overlap_grad_reduce ? scatter : 0);
    bwd->s[TRAIN_DP_COMM] += fmax(0, hidden - cost_total(bwd)) + gather + scatter - hidden;
}

/* A chunk's layers, the last chunk's prediction modules counted as layers. */
static int chunk_units(const step_builder *b, const chunk_plan *c)
{
    return c->layers + (c->last_virtual ? b->x.m->mtp_layers : 0);
}

/* Spreads ZeRO-2's or ZeRO-3's traffic over chunk c's layers: each layer's
 * own. */
static void sharded_chunk_comm(step_builder *b, const chunk_plan *c, chunk_passes *k)
{
    int units = chunk_units(b, c);
    wl_stage_params layer = {c->params.dense / units, c->params.experts / units, 0};
    train_costs layer_fwd = {{0}}, layer_bwd = {{0}};
    train_costs_add(&layer_fwd, &k->fwd, 1.0 / units);
    train_costs_add(&layer_bwd, &k->bwd, 1.0 / units);
    bool per_step = b->x.p->zero >= 3 && wl_plan_zero3_per_step(b->x.p);
    sharded_layer_comm(b, &layer_fwd, per_step ? NULL : &layer_bwd, &layer);
    train_costs *whole_fwd = per_step ? &k->first_fwd : &k->fwd;
    *whole_fwd = layer_fwd;
    train_costs_add(whole_fwd, &layer_fwd, units - 1);
    if (!per_step) /* every forward gathers alike, the first too */
        k->first_fwd = k->fwd;
    k->bwd = layer_bwd;
    train_costs_add(&k->bwd, &layer_bwd, units - 1);
}

/* ZB-H1's W: the weight-gradient GEMMs (each linear's dW = X^T dY), as many
 * FLOPs as the forward's GEMMs, at the rate the backward's GEMMs run; B is
 * the rest of the backward, everything the previous stage waits for. */
static void split_backward(chunk_passes *c)
{
    double bwd_flops = c->bwd.flops[TRAIN_GEMM];
    double share = bwd_flops > 0 ? fmin(1.0, c->fwd.flops[TRAIN_GEMM] / bwd_flops) : 0.0;
    c->input_grad = c->bwd;
    memset(&c->weight_grad, 0, sizeof c->weight_grad);
    c->weight_grad.s[TRAIN_GEMM] = share * c->bwd.s[TRAIN_GEMM];
    c->weight_grad.flops[TRAIN_GEMM] = share * bwd_flops;
    c->weight_grad.bytes[TRAIN_GEMM] = share * c->bwd.bytes[TRAIN_GEMM];
    c->input_grad.s[TRAIN_GEMM] -= c->weight_grad.s[TRAIN_GEMM];
    c->input_grad.flops[TRAIN_GEMM] -= c->weight_grad.flops[TRAIN_GEMM];
    c->input_grad.bytes[TRAIN_GEMM] -= c->weight_grad.bytes[TRAIN_GEMM];
}

/* CPU offloading as Transformer Engine's offload handler runs it: each
 * offloaded layer's activations go to host memory on a copy stream while
 * the next layer's forward runs (the handler waits for the copy before the
 * one after), and come back while the backward of the layer after it runs
 * (prefetched one layer ahead). What a copy outlasts that layer by shows. */
static void offload_wait(const step_builder *b, const chunk_plan *c, const layer_table *lt,
                         chunk_passes *k)
{
    const wl_model *m = b->x.m;
    int n = b->x.p->cpu_offload_layers;
    if (n <= 0 || c->layers <= n) /* PP 1: the chunk is the whole model */
        return;
    double rate = b->x.sys->reliability.host_copy_bandwidth_per_chip;
    for (int l = 0; l < n; l++) {
        double copy = wl_layer_activation_bytes_of(m, b->x.p, l) / rate;
        const train_costs *next = wl_is_moe_layer(m, l + 1) ? lt->moe : lt->dense;
        double out = fmax(0.0, copy - cost_total(&next[0]));
        k->fwd.s[TRAIN_OFFLOAD] += out;
        k->first_fwd.s[TRAIN_OFFLOAD] += out;
        k->bwd.s[TRAIN_OFFLOAD] += fmax(0.0, copy - cost_total(&next[1]));
    }
}

/* Chunk c's passes from a table of layer costs: its layers, the embedding
 * or head at the ends, ZeRO-3's gathers, full recomputation's second forward,
 * CPU offloading's copies. */
static void chunk_passes_of(step_builder *b, const chunk_plan *c, const layer_table *lt,
                            chunk_passes *k)
{
    const wl_plan *p = b->x.p;
    int dense = c->layers - c->moe_layers;
    memset(k, 0, sizeof *k);
    for (int bw = 0; bw < 2; bw++) {
        train_costs *t = bw ? &k->bwd : &k->fwd;
        train_costs_add(t, &lt->dense[bw], dense);
        train_costs_add(t, &lt->moe[bw], c->moe_layers);
        if (c->first_virtual)
            train_costs_add(t, &lt->embedding[bw], 1);
        if (c->last_virtual) {
            train_costs_add(t, &lt->head[bw], 1);
            train_costs_add(t, &lt->mtp[bw], b->x.m->mtp_layers);
        }
    }
    k->first_fwd = k->fwd;
    /* The recomputed layers' second forward runs inside the backward, on the
     * weights the backward gathers under ZeRO-3 (FSDP gathers a unit once for
     * both), so it joins the backward before ZeRO-3's traffic is spread. */
    if (p->recompute == WL_RECOMPUTE_FULL) {
        int units = chunk_units(b, c);
        train_costs_add(&k->bwd, &k->fwd,
                        units > 0 ? (double)wl_recomputed_layers(p, units) / units : 1.0);
    }
    if (p->zero >= 2 && chunk_units(b, c) > 0)
        sharded_chunk_comm(b, c, k);
    offload_wait(b, c, lt, k);
}

static void plan_chunk(step_builder *b, int stage, int chunk, int first_layer)
{
    const wl_plan *p = b->x.p;
    chunk_plan *c = &b->chunks[stage * p->vp + chunk];
    int v = chunk * p->pp + stage;
    memset(c, 0, sizeof *c);
    c->layers = wl_chunk_layers(b->x.m, p, stage, chunk);
    for (int l = first_layer; l < first_layer + c->layers; l++)
        c->moe_layers += wl_is_moe_layer(b->x.m, l);
    c->first_virtual = v == 0;
    c->last_virtual = v == b->V - 1;
    c->params = wl_chunk_params_of(b->x.m, p, stage, chunk);
    chunk_passes *k = &c->paired;
    chunk_passes_of(b, c, &b->lt, k);
    bool mtp_experts = c->last_virtual && b->x.m->mtp_layers > 0 && b->x.m->experts > 1;
    c->ep_paired = p->overlap_ep_comm && (c->moe_layers > 0 || mtp_experts);
    if (c->ep_paired) {
        chunk_passes_of(b, c, &b->lt_alone, &c->alone);
        split_backward(&c->alone);
        train_costs bwd = k->bwd;
        double held = train_ep_comm_held(&b->x);
        train_hide_ep(&k->first_fwd, &bwd, held);
        train_hide_ep(&k->fwd, &k->bwd, held);
    }
    split_backward(k);
}

/* Notes that tasks first..last (added in a row) are the work c describes. */
static void record(step_builder *b, int first, int last, const train_costs *c)
{
    train_record *r = b->rec;
    if (!r || b->x.st != USIM_OK || first < 0)
        return;
    if (r->nops == r->cap_ops || last >= r->cap_tasks) {
        int ops = r->nops == r->cap_ops ? (r->cap_ops ? 2 * r->cap_ops : 256) : r->cap_ops;
        int tasks = last >= r->cap_tasks ? 2 * last + 256 : r->cap_tasks;
        train_costs *o = realloc(r->ops, (size_t)ops * sizeof *o);
        if (o)
            r->ops = o;
        int *t = o ? realloc(r->task_op, (size_t)tasks * sizeof *t) : NULL;
        if (!t) {
            b->x.st = usim_fail(b->x.err, USIM_ERUNTIME, "out of memory recording the step");
            return;
        }
        for (int i = r->cap_tasks; i < tasks; i++)
            t[i] = -1;
        r->task_op = t;
        r->cap_ops = ops;
        r->cap_tasks = tasks;
    }
    r->ops[r->nops] = *c;
    for (int t = first; t <= last; t++)
        r->task_op[t] = r->nops;
    r->nops++;
}

/* One task of kind: its time and, when recording, the call it makes, of
 * bytes.dense (DP traffic: dense and expert weights' calls, dp_calls). */
static int comm_task(step_builder *b, int resource, train_kind kind, net_op op, dp_bytes bytes,
                     double seconds, const char *label)
{
    int t = sim_task(b->g, resource, seconds, kind, label);
    if (b->rec) {
        train_costs c;
        memset(&c, 0, sizeof c);
        c.s[kind] = seconds;
        if (kind == TRAIN_DP_COMM)
            dp_calls(b, &c, op, bytes, 1, false);
        else
            train_costs_call(&c, kind, op, bytes.dense, 1, false);
        record(b, t, t, &c);
    }
    return t;
}

/* Adds one task per kind of work with time in it; returns the first and last. */
static void add_tasks(step_builder *b, int resource, const train_costs *c, const char *label,
                      int *first, int *last)
{
    *first = *last = -1;
    for (int k = 0; k < TRAIN_KIND_COUNT; k++) {
        if (c->s[k] <= 0)
            continue;
        char name[40];
        snprintf(name, sizeof name, "%s %s", label, KIND_NAMES[k]);
        int t = sim_task(b->g, resource, c->s[k], k, name);
        if (*first < 0)
            *first = t;
        *last = t;
    }
    if (*first < 0) { /* keep the program's shape even for free ops */
        *first = *last = sim_task(b->g, resource, 0, TRAIN_ELEMENTWISE, label);
    }
    record(b, *first, *last, c);
}

/* Data-parallel reduction of `params` gradients: all-reduce without ZeRO,
 * reduce-scatter with ZeRO-1 (ZeRO-2 and 3 reduce per micro-batch instead). */
static net_op grad_reduce_op(const step_builder *b)
{
    return b->x.p->zero == 0 ? NET_ALLREDUCE : NET_REDUCE_SCATTER;
}

static double grad_reduce_s(step_builder *b, dp_bytes bytes)
{
    const wl_plan *p = b->x.p;
    if (p->zero == 2 || (p->zero >= 3 && !wl_plan_zero3_per_step(p)))
        return 0;
    return dp_collective_s(b, grad_reduce_op(b), bytes);
}

/* The last pass of a chunk that makes weight gradients (its last backward,
 * or under ZB-H1 its last W), layer by layer, each followed by its gradient
 * bucket's reduction on the DP stream. */
static void last_backward(step_builder *b, int stage, const chunk_plan *c, const train_costs *work,
                          const char *label, int *first, int *last)
{
    int rc = b->res[stage][RES_COMPUTE], rd = b->res[stage][RES_DP];
    int layers = chunk_units(b, c) > 0 ? chunk_units(b, c) : 1;
    dp_bytes bucket = dp_share(grad_bytes(b, &c->params), 1.0 / layers);
    double bucket_s = grad_reduce_s(b, bucket);
    train_costs per_layer = *work;
    train_costs_add(&per_layer, work, 1.0 / layers - 1);
    *first = -1;
    for (int l = 0; l < layers; l++) {
        int f, e;
        add_tasks(b, rc, &per_layer, label, &f, &e);
        if (*first < 0)
            *first = f;
        *last = e;
        if (bucket_s > 0) {
            int d = comm_task(b, rd, TRAIN_DP_COMM, grad_reduce_op(b), bucket, bucket_s,
                              "grad reduce");
            usim_status st = sim_depend(b->g, d, e, 0, b->x.err);
            if (st != USIM_OK)
                b->x.st = st;
            b->dp_tasks[stage] = d;
        }
    }
}

static int idx(const step_builder *b, int v, int64_t mb)
{
    return (int)(v * b->M + mb);
}

static void depend(step_builder *b, int task, int before)
{
    if (b->x.st == USIM_OK && task >= 0 && before >= 0)
        b->x.st = sim_depend(b->g, task, before, 0, b->x.err);
}

/* ZeRO-1/2 with overlap_param_gather: the weights the last step's optimizer
 * updated are gathered while the stage's first forward runs (Megatron-Core
 * launches the gathers from the forward's pre-hooks), and the stage's next
 * operation waits for them; without overlap the gather follows the
 * optimizer (finish_stage). */
static void prefetch_param_gather(step_builder *b, int stage)
{
    const wl_plan *p = b->x.p;
    b->param_gather[stage] = -1;
    if ((p->zero != 1 && p->zero != 2) || !p->overlap_param_gather)
        return;
    wl_stage_params sp = wl_stage_params_of(b->x.m, p, stage);
    dp_bytes bytes = weight_bytes(&sp);
    double s = dp_collective_s(b, NET_ALLGATHER, bytes);
    if (s > 0)
        b->param_gather[stage] =
            comm_task(b, b->res[stage][RES_DP], TRAIN_DP_COMM, NET_ALLGATHER, bytes, s,
                      "param gather");
}

/* Whether the gradient reduction runs bucket by bucket during the last
 * backward; a pipeline stage that keeps ZeRO-3 state unsharded for the step
 * reduces only once that backward has returned (PyTorch's pipelining calls
 * FSDP's post-backward then). */
static bool reduces_in_backward(const wl_plan *p)
{
    return p->overlap_grad_reduce && !wl_plan_zero3_per_step(p);
}

/* What a pass of chunk c costs: a forward (the step's first may gather
 * weights), a whole backward, or under ZB-H1 its B or W half; paired with a
 * pass of another micro-batch, or alone (warm-up, cool-down), where its
 * all-to-alls have nothing to hide behind. */
static const train_costs *pass_costs(const step_builder *b, const chunk_plan *c,
                                     const wl_pipe_op *op)
{
    const chunk_passes *k = op->paired || !c->ep_paired ? &c->paired : &c->alone;
    if (op->weight)
        return &k->weight_grad;
    if (op->backward)
        return b->x.p->schedule == WL_SCHED_ZB_H1 ? &k->input_grad : &k->bwd;
    return op->microbatch == 0 ? &k->first_fwd : &k->fwd;
}

/* The pass after which a chunk's weight gradients are complete. */
static bool final_gradients(const step_builder *b, const wl_pipe_op *op)
{
    bool makes_them = op->weight || (op->backward && b->x.p->schedule != WL_SCHED_ZB_H1);
    return makes_them && op->microbatch == b->M - 1;
}

static void build_stage_program(step_builder *b, int stage, wl_pipe_op *ops)
{
    const wl_plan *p = b->x.p;
    int64_t n = wl_pipeline_ops(p->vp, b->M, p->schedule);
    dp_bytes sent = {b->lt.p2p_bytes, 0}; /* a pipeline send's bytes */
    prefetch_param_gather(b, stage);
    wl_pipeline_order(p->pp, p->vp, p->vp_group, b->M, stage, p->schedule, ops);
    for (int64_t i = 0; i < n; i++) {
        const wl_pipe_op *op = &ops[i];
        const chunk_plan *c = &b->chunks[stage * p->vp + op->chunk];
        int v = op->chunk * p->pp + stage, first, last;
        char label[32];
        snprintf(label, sizeof label, "%c%lld.%d", op->weight ? 'W' : op->backward ? 'B' : 'F',
                 (long long)op->microbatch, v);
        const train_costs *work = pass_costs(b, c, op);
        if (final_gradients(b, op) && reduces_in_backward(p))
            last_backward(b, stage, c, work, label, &first, &last);
        else
            add_tasks(b, b->res[stage][RES_COMPUTE], work, label, &first, &last);
        if (i == 1 && b->param_gather[stage] >= 0)
            depend(b, first, b->param_gather[stage]);
        if (op->weight)
            continue; /* nothing waits for a W but the stage's own next pass */
        int k = idx(b, v, op->microbatch);
        if (op->backward) {
            b->bwd_first[k] = first;
            b->bwd_last[k] = last;
            if (v > 0)
                b->send_bwd[k] = comm_task(b, b->res[stage][RES_SEND_BWD], TRAIN_PP_COMM,
                                           NET_SENDRECV, sent, b->lt.p2p_s, "send grad");
        } else {
            b->fwd_first[k] = first;
            b->fwd_last[k] = last;
            if (v < b->V - 1)
                b->send_fwd[k] = comm_task(b, b->res[stage][RES_SEND_FWD], TRAIN_PP_COMM,
                                           NET_SENDRECV, sent, b->lt.p2p_s, "send act");
        }
    }
}

static void link_pipeline(step_builder *b)
{
    for (int s = 1; s < b->x.p->pp; s++) /* a gather starts with its stage's first forward */
        depend(b, b->param_gather[s], b->send_fwd[idx(b, s - 1, 0)]);
    for (int v = 0; v < b->V; v++) {
        for (int64_t mb = 0; mb < b->M; mb++) {
            int k = idx(b, v, mb);
            if (v < b->V - 1) {
                depend(b, b->send_fwd[k], b->fwd_last[k]);
                depend(b, b->fwd_first[idx(b, v + 1, mb)], b->send_fwd[k]);
            } else {
                depend(b, b->bwd_first[k], b->fwd_last[k]);
            }
            if (v > 0) {
                depend(b, b->send_bwd[k], b->bwd_last[k]);
                depend(b, b->bwd_first[idx(b, v - 1, mb)], b->send_bwd[k]);
            }
        }
    }
}

/* After the last backward: the rest of the gradient reduction (when it was
 * not overlapped), the optimizer, and ZeRO-1/2's weight all-gather when it is
 * not prefetched into the next step. */
static void finish_stage(step_builder *b, int stage)
{
    const wl_plan *p = b->x.p;
    int rc = b->res[stage][RES_COMPUTE], rd = b->res[stage][RES_DP];
    wl_stage_params sp = wl_stage_params_of(b->x.m, p, stage);
    train_costs none;
    memset(&none, 0, sizeof none);
    int last_compute = sim_task(b->g, rc, 0, TRAIN_OPTIMIZER, "end of backward");
    record(b, last_compute, last_compute, &none);
    if (p->stack.fsdp_copies && b->x.dp.size > 1 && wl_plan_zero3_per_step(p)) {
        /* FSDP2 packs the step's accumulated gradients (reduction type) into
         * the one reduce-scatter's input, on the compute stream */
        train_costs pack;
        memset(&pack, 0, sizeof pack);
        double w = p->stack.grad_reduce_bytes;
        train_copy_costs(&b->x, &pack, sp.dense + sp.experts, w + w);
        last_compute =
            sim_task(b->g, rc, pack.s[TRAIN_ELEMENTWISE], TRAIN_ELEMENTWISE, "RS copy-in");
        record(b, last_compute, last_compute, &pack);
    }
    if (!reduces_in_backward(p)) {
        dp_bytes bytes = grad_bytes(b, &sp);
        double s = grad_reduce_s(b, bytes);
        if (s > 0) {
            int d = comm_task(b, rd, TRAIN_DP_COMM, grad_reduce_op(b), bytes, s, "grad reduce");
            depend(b, d, last_compute);
            b->dp_tasks[stage] = d;
        }
    }
    double shard = p->zero >= 1 ? (double)wl_plan_zero_shard(p) : 1.0;
    double expert_shard = p->zero >= 1 ? wl_expert_dp(p) : 1.0;
    double local = sp.dense / shard + sp.experts / expert_shard;
    train_costs update = train_optimizer_costs(&b->x, local);
    int opt = sim_task(b->g, rc, update.s[TRAIN_OPTIMIZER], TRAIN_OPTIMIZER, "optimizer");
    record(b, opt, opt, &update);
    depend(b, opt, b->dp_tasks[stage]);
    b->stage_end[stage] = opt;
    if ((p->zero == 1 || p->zero == 2) && !p->overlap_param_gather) {
        dp_bytes bytes = weight_bytes(&sp);
        double gather = dp_collective_s(b, NET_ALLGATHER, bytes);
        if (gather > 0) {
            int a = comm_task(b, rd, TRAIN_DP_COMM, NET_ALLGATHER, bytes, gather, "param gather");
            depend(b, a, opt);
            b->stage_end[stage] = a;
        }
    }
}

static usim_status alloc_builder(step_builder *b)
{
    const wl_plan *p = b->x.p;
    size_t slots = (size_t)b->V * (size_t)b->M;
    b->chunks = calloc((size_t)p->pp * p->vp, sizeof *b->chunks);
    b->res = calloc((size_t)p->pp, sizeof *b->res);
    b->dp_tasks = malloc((size_t)p->pp * sizeof(int));
    b->stage_end = malloc((size_t)p->pp * sizeof(int));
    b->param_gather = malloc((size_t)p->pp * sizeof(int));
    int **arrays[] = {&b->fwd_first, &b->fwd_last, &b->bwd_first,
                      &b->bwd_last,  &b->send_fwd, &b->send_bwd};
    bool ok = b->chunks && b->res && b->dp_tasks && b->stage_end && b->param_gather;
    for (size_t i = 0; i < 6; i++) {
        *arrays[i] = malloc(slots * sizeof(int));
        ok = ok && *arrays[i];
        if (*arrays[i])
            for (size_t k = 0; k < slots; k++)
                (*arrays[i])[k] = -1;
    }
    b->g = sim_graph_new();
    if (!ok || !b->g)
        return usim_fail(b->x.err, USIM_ERUNTIME, "out of memory building the step");
    for (int s = 0; s < p->pp; s++)
        b->dp_tasks[s] = -1;
    return USIM_OK;
}

static void free_builder(step_builder *b)
{
    free(b->chunks);
    free(b->res);
    free(b->dp_tasks);
    free(b->stage_end);
    free(b->param_gather);
    free(b->fwd_first);
    free(b->fwd_last);
    free(b->bwd_first);
    free(b->bwd_last);
    free(b->send_fwd);
    free(b->send_bwd);
}

static void make_resources(step_builder *b)
{
    static const char *const NAMES[4] = {"compute", "dp comm", "send fwd", "send bwd"};
    for (int s = 0; s < b->x.p->pp; s++) {
        for (int r = 0; r < 4; r++) {
            char name[48];
            snprintf(name, sizeof name, "stage %d %s", s, NAMES[r]);
            b->res[s][r] = sim_resource(b->g, name);
        }
    }
}

static void fill_layer_table(train_ctx *x, layer_table *lt)
{
    for (int bw = 0; bw < 2; bw++) {
        lt->dense[bw] = train_layer_costs(x, false, bw);
        lt->moe[bw] = x->m->experts > 1 ? train_layer_costs(x, true, bw) : lt->dense[bw];
        lt->embedding[bw] = train_embedding_costs(x, bw);
        lt->head[bw] = train_head_costs(x, bw);
        if (x->m->mtp_layers > 0)
            lt->mtp[bw] = train_mtp_costs(x, bw);
    }
    double bytes = x->tokens * x->m->hidden * 2.0 / x->p->tp;
    train_group pair = {2, x->pp.stride, x->pp.tier};
    lt->p2p_bytes = bytes;
    lt->p2p_s = x->p->pp > 1 ? train_collective_s(x, NET_SENDRECV, bytes, &pair) : 0;
}

/* The layers' costs; with the expert all-to-all overlap also as they run
 * with no pass beside them, which is the same plan without the overlap. */
static void layer_costs(step_builder *b)
{
    train_ctx *x = &b->x;
    fill_layer_table(x, &b->lt);
    if (!x->p->overlap_ep_comm)
        return;
    const wl_plan *p = x->p;
    wl_plan alone = *p;
    alone.overlap_ep_comm = false;
    x->p = &alone;
    fill_layer_table(x, &b->lt_alone);
    x->p = p;
}

static usim_status build_graph(step_builder *b)
{
    const wl_plan *p = b->x.p;
    usim_status st = alloc_builder(b);
    if (st != USIM_OK)
        return st;
    layer_costs(b);
    make_resources(b);
    int first_layer = 0;
    for (int v = 0; v < b->V; v++) {
        plan_chunk(b, v % p->pp, v / p->pp, first_layer);
        first_layer += b->chunks[(v % p->pp) * p->vp + v / p->pp].layers;
    }
    wl_pipe_op *ops = malloc((size_t)wl_pipeline_ops(p->vp, b->M, p->schedule) * sizeof *ops);
    if (!ops)
        return usim_fail(b->x.err, USIM_ERUNTIME, "out of memory");
    for (int s = 0; s < p->pp && b->x.st == USIM_OK; s++) {
        build_stage_program(b, s, ops);
        finish_stage(b, s);
    }
    free(ops);
    link_pipeline(b);
    return b->x.st;
}

/* ---- reading the timeline ------------------------------------------ */

typedef struct interval {
    double a, b;
    double reach; /* the latest end among this interval and those before it */
} interval;

static int by_start(const void *l, const void *r)
{
    double x = ((const interval *)l)->a, y = ((const interval *)r)->a;
    return x < y ? -1 : x > y;
}

/* Time in [a, b) not covered by the intervals busy[], sorted by start. Only
 * those that reach past a and start before b can cover any of it: a binary
 * search on reach skips the rest, so reading a stage costs O(tasks log
 * tasks), not O(tasks^2), which was most of a plan search's time. */
static double uncovered(double a, double b, const interval *busy, int n)
{
    double left = b - a;
    int first = 0, past = n;
    while (first < past) {
        int mid = first + (past - first) / 2;
        if (busy[mid].reach <= a)
            first = mid + 1;
        else
            past = mid;
    }
    for (int i = first; i < n && left > 0 && busy[i].a < b; i++) {
        double lo = fmax(a, busy[i].a), hi = fmin(b, busy[i].b);
        if (hi > lo)
            left -= hi - lo;
    }
    return left > 0 ? left : 0;
}

/* One stage's step: busy time by kind on its engines, the exposed part of
 * its DP and PP communication, and the idle rest (the bubble). */
typedef struct stage_reading {
    double busy[TRAIN_KIND_COUNT], exposed[TRAIN_KIND_COUNT];
    double load; /* busy + exposed */
} stage_reading;

/* owner[t]: task t's resource, read once for all stages (a compact array
 * rather than a walk over the whole task table per stage); busy: room for
 * one interval per task. */
static stage_reading read_stage(const sim_graph *g, const step_builder *b, const int *owner,
                                interval *busy, int stage)
{
    stage_reading sr;
    int ntasks = sim_task_count(g), rc = b->res[stage][RES_COMPUTE];
    const int *res = b->res[stage];
    int nb = 0;
    memset(&sr, 0, sizeof sr);
    for (int t = 0; t < ntasks; t++) {
        if (owner[t] != rc)
            continue;
        sr.busy[sim_task_kind(g, t)] += sim_duration(g, t);
        sr.load += sim_duration(g, t);
        if (sim_duration(g, t) > 0)
            busy[nb++] = (interval){sim_start(g, t), sim_end(g, t), 0};
    }
    qsort(busy, (size_t)nb, sizeof *busy, by_start);
    for (int i = 0; i < nb; i++)
        busy[i].reach = i > 0 && busy[i - 1].reach > busy[i].b ? busy[i - 1].reach : busy[i].b;
    for (int t = 0; t < ntasks; t++) {
        int r = owner[t];
        if (r != res[RES_DP] && r != res[RES_SEND_FWD] && r != res[RES_SEND_BWD])
            continue;
        double e = uncovered(sim_start(g, t), sim_end(g, t), busy, nb);
        sr.exposed[sim_task_kind(g, t)] += e;
        sr.load += e;
    }
    return sr;
}

/* The breakdown is read on the busiest stage. TP, CP and EP collectives run
 * in line on the engines' stream, so all of their time is exposed. */
static usim_status read_timeline(const sim_graph *g, const step_builder *b, train_result *r,
                                 usim_error *err)
{
    stage_reading worst;
    memset(&worst, 0, sizeof worst);
    r->critical_stage = 0;
    int ntasks = sim_task_count(g);
    size_t slots = (size_t)(ntasks > 0 ? ntasks : 1);
    int *owner = malloc(slots * sizeof *owner);
    interval *busy = malloc(slots * sizeof *busy);
    if (!owner || !busy) {
        free(owner);
        free(busy);
        return usim_fail(err, USIM_ERUNTIME, "out of memory reading the step's timeline");
    }
    for (int t = 0; t < ntasks; t++)
        owner[t] = sim_task_resource(g, t);
    for (int s = 0; s < b->x.p->pp; s++) {
        stage_reading sr = read_stage(g, b, owner, busy, s);
        if (s == 0 || sr.load > worst.load) {
            worst = sr;
            r->critical_stage = s;
        }
    }
    free(owner);
    free(busy);
    for (int k = 0; k < TRAIN_KIND_COUNT; k++) {
        bool inline_comm = k == TRAIN_TP_COMM || k == TRAIN_CP_COMM || k == TRAIN_EP_COMM ||
                           (k == TRAIN_DP_COMM && b->x.p->zero >= 2);
        r->busy_s[k] = inline_comm ? 0 : worst.busy[k];
        r->exposed_s[k] = worst.exposed[k] + (inline_comm ? worst.busy[k] : 0);
    }
    r->bubble_s = fmax(0, r->step_time_s - worst.load);
    return USIM_OK;
}

static void init_ctx(train_ctx *x, const wl_model *m, const wl_plan *p, const hw_system *sys,
                     usim_error *err)
{
    x->m = m;
    x->p = p;
    x->sys = sys;
    /* A step keeps the matrix units busy for minutes: their sustained rate. */
    x->run_chip = hw_chip_sustained(&sys->chip);
    x->chip = &x->run_chip;
    x->grad_chip = x->run_chip;
    if (x->run_chip.matrix.efficiency_fp8_split_acc > 0)
        x->grad_chip.matrix.efficiency_fp8 = x->run_chip.matrix.efficiency_fp8_split_acc;
    x->tokens = (double)p->mbs * (double)p->seq / p->cp;
    x->err = err;
}

/* ---- the step ------------------------------------------------------ */

static void set_groups(train_ctx *x)
{
    const wl_plan *p = x->p;
    x->tp = group_of(x->sys, p->tp, 1);
    x->cp = group_of(x->sys, p->cp, p->tp);
    int shard = wl_plan_zero_shard(p); /* ZeRO's shard group; HSDP's replicas beyond */
    x->dp = group_of(x->sys, shard, p->tp);
    x->dpr = group_of(x->sys, p->dp * p->cp / shard, p->tp * shard);
    /* EP ranks ETP apart (expert TP, TP unless folded), over what the dense
     * layers use as CP and DP ranks: Megatron-Core's expert rank order
     * (tp-ep-dp, with CP folded in). */
    x->ep = group_of(x->sys, p->ep, wl_plan_etp(p));
    x->edp = group_of(x->sys, (int)wl_expert_dp(p), wl_plan_etp(p) * p->ep);
    x->pp = group_of(x->sys, p->pp, p->tp * p->cp * p->dp);
}

static double peak_flops(const hw_chip *chip, usim_dtype t)
{
    return hw_per_dtype_get(&chip->dense_flops, t);
}

static void metrics(const wl_model *m, const wl_plan *p, const hw_system *sys, train_result *r)
{
    double tokens = (double)p->gbs * (double)p->seq;
    r->tokens_per_step = tokens;
    r->tokens_per_s = tokens / r->step_time_s;
    r->tokens_per_s_per_chip = r->tokens_per_s / sys->chips;
    r->model_flops_per_step = wl_model_flops_per_token(m, p->seq) * tokens;
    wl_flops f = wl_forward_flops(m, p->seq);
    double fwd_per_token = (f.matmul + f.lm_head + f.attention_core) / (double)p->seq;
    double extra = p->recompute == WL_RECOMPUTE_FULL
                       ? fwd_per_token * tokens
                       : f.matmul / (double)p->seq * tokens * wl_selective_matmul_share(m, p);
    r->hardware_flops_per_step = r->model_flops_per_step + extra;
    r->peak_flops_per_chip = peak_flops(&sys->chip, p->dtype);
    double per_chip = r->model_flops_per_step / r->step_time_s / sys->chips;
    r->model_tflops_per_chip = per_chip / 1e12;
    r->mfu = per_chip / r->peak_flops_per_chip;
    r->hfu = r->hardware_flops_per_step / r->step_time_s / sys->chips / r->peak_flops_per_chip;
    r->memory = wl_memory_per_chip(m, p);
    r->hbm_bytes_per_chip = sys->chip.hbm.capacity_bytes;
    r->fits = r->memory.total <= r->hbm_bytes_per_chip;
}

/* Training runs its GEMMs on the matrix units: the stated peak (the MFU basis)
 * and the arrays themselves must both do work in the dtype, or the step would
 * be elementwise work alone and MFU past 100%. */
static usim_status check_dtype(const wl_plan *p, const hw_system *sys, usim_error *err)
{
    const char *t = usim_dtype_name(p->dtype);
    if (!(peak_flops(&sys->chip, p->dtype) > 0))
        return usim_fail_field(err, USIM_EINPUT, "dtype",
                               "%s has no %s matrix support; choose another --dtype",
                               sys->chip.name, t);
    if (!(hw_core_matrix_flops(&sys->chip, p->dtype) > 0))
        return usim_fail_field(err, USIM_EINPUT, "hw",
                               "%s cannot train in %s: its matrix units do no %s work "
                               "(chip.matrix.macs_per_pe_per_cycle.%s is 0; allowed: above 0)",
                               sys->chip.name, t, t, t);
    return USIM_OK;
}

/* Offloaded activations live in the host's memory: a node's chips together
 * must fit in it (one micro-batch's at a time, PP 1 running each micro-batch
 * through before the next). node.host_memory, where the hardware gives it. */
static usim_status check_host_memory(const wl_model *m, const wl_plan *p, const hw_system *sys,
                                     usim_error *err)
{
    double host = sys->node.host_memory_bytes;
    if (p->cpu_offload_layers <= 0 || !(host > 0))
        return USIM_OK;
    double per_chip = 0;
    for (int l = 0; l < p->cpu_offload_layers; l++)
        per_chip += wl_layer_activation_bytes_of(m, p, l);
    int chips = sys->chips < sys->node.chips ? sys->chips : sys->node.chips;
    double gib = 1024.0 * 1024 * 1024;
    if (per_chip * chips <= host)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "cpu-offload-layers",
                           "%d layers offload %.1f GiB a chip, %.1f GiB for a node's %d chips; "
                           "its host memory (node.host_memory) is %.1f GiB (allowed: fewer "
                           "layers)",
                           p->cpu_offload_layers, per_chip / gib, per_chip * chips / gib, chips,
                           host / gib);
}

void train_record_free(train_record *r)
{
    free(r->ops);
    free(r->task_op);
    free(r->res);
    memset(r, 0, sizeof *r);
}

static usim_status keep_resources(const step_builder *b, train_record *rec, usim_error *err)
{
    size_t size = (size_t)b->x.p->pp * sizeof *rec->res;
    rec->res = malloc(size);
    if (!rec->res)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    memcpy(rec->res, b->res, size);
    rec->tp = b->x.tp;
    rec->cp = b->x.cp;
    rec->dp = b->x.dp;
    rec->edp = b->x.edp;
    rec->dpr = b->x.dpr;
    rec->ep = b->x.ep;
    rec->pp = b->x.pp;
    return USIM_OK;
}

usim_status train_step(const wl_model *m, const wl_plan *p, const hw_system *sys,
                       train_result *result, sim_graph **trace, usim_error *err)
{
    return train_step_recorded(m, p, sys, result, trace, NULL, err);
}

usim_status train_check(const wl_model *m, const wl_plan *p, const hw_system *sys,
                        usim_error *err)
{
    usim_status st = wl_plan_check(p, m, sys->chips, err);
    if (st == USIM_OK)
        st = check_dtype(p, sys, err);
    if (st == USIM_OK)
        st = check_host_memory(m, p, sys, err);
    return st;
}

usim_status train_step_recorded(const wl_model *m, const wl_plan *p, const hw_system *sys,
                                train_result *result, sim_graph **trace, train_record *rec,
                                usim_error *err)
{
    usim_status st = train_check(m, p, sys, err);
    if (st != USIM_OK)
        return st;
    step_builder b;
    memset(&b, 0, sizeof b);
    memset(result, 0, sizeof *result);
    init_ctx(&b.x, m, p, sys, err);
    set_groups(&b.x);
    b.M = wl_plan_microbatches(p);
    b.V = p->pp * p->vp;
    b.rec = rec;
    if (rec)
        memset(rec, 0, sizeof *rec);
    st = build_graph(&b);
    if (st == USIM_OK && rec)
        st = keep_resources(&b, rec, err);
    if (st == USIM_OK)
        st = sim_run(b.g, err);
    if (st == USIM_OK) {
        result->step_time_s = sim_makespan(b.g);
        st = read_timeline(b.g, &b, result, err);
    }
    if (st == USIM_OK) {
        result->microbatches = b.M;
        result->tasks = sim_task_count(b.g);
        result->tp = b.x.tp;
        result->cp = b.x.cp;
        result->dp = b.x.dp;
        result->pp = b.x.pp;
        result->ep = b.x.ep;
        result->edp = b.x.edp;
        result->dpr = b.x.dpr;
        metrics(m, p, sys, result);
    }
    if (st == USIM_OK && trace)
        *trace = b.g;
    else
        sim_graph_free(b.g);
    free_builder(&b);
    return st;
}

/* The busiest stage's compute, all micro-batches, no communication and no
 * waiting: no schedule can finish the step sooner. */
double train_step_lower_bound(const wl_model *m, const wl_plan *p, const hw_system *sys)
{
    step_builder b;
    usim_error err;
    memset(&b, 0, sizeof b);
    init_ctx(&b.x, m, p, sys, &err);
    b.x.compute_only = true;
    b.M = wl_plan_microbatches(p);
    b.V = p->pp * p->vp;
    b.chunks = calloc((size_t)p->pp * p->vp, sizeof *b.chunks);
    if (!b.chunks)
        return 0;
    layer_costs(&b);
    double worst = 0;
    int first_layer = 0;
    for (int v = 0; v < b.V; v++) {
        plan_chunk(&b, v % p->pp, v / p->pp, first_layer);
        first_layer += b.chunks[(v % p->pp) * p->vp + v / p->pp].layers;
    }
    for (int s = 0; s < p->pp; s++) {
        double stage = 0;
        for (int c = 0; c < p->vp; c++) {
            const chunk_plan *k = &b.chunks[s * p->vp + c];
            stage += (double)b.M * (cost_total(&k->paired.fwd) + cost_total(&k->paired.bwd));
        }
        worst = fmax(worst, stage);
    }
    free(b.chunks);
    return worst;
}

train_totals train_totals_for(const train_result *r, const hw_system *sys, double tokens)
{
    train_totals t;
    t.steps = tokens / r->tokens_per_step;
    t.seconds = t.steps * r->step_time_s;
    t.energy_kwh = t.seconds * sys->chips * sys->chip.power_w / 3.6e6;
    t.cost_usd = t.seconds / 3600.0 * sys->chips * sys->price.usd_per_chip_hour;
    return t;
}
