/*
 * What one layer costs one chip for one micro-batch, forward and backward,
 * by kind of work; and what the first and last pipeline stages add (the
 * embedding, the LM head and the loss).
 *
 * Every figure comes from the layers below: matrix multiplies from
 * engine_gemm (the dgrad and wgrad of a backward are two GEMMs of the same
 * FLOPs as the forward), the attention core from engine_attention,
 * elementwise work from engine_vector, collectives from net_collective on
 * the group the plan puts them on. The layer is the Megatron-LM transformer:
 *
 *   norm -> [SP all-gather] -> QKV -> attention -> out-proj -> TP all-reduce
 *        (reduce-scatter with SP) -> residual -> norm -> [SP all-gather]
 *        -> MLP (or router, EP all-to-all, experts, all-to-all) -> TP
 *        all-reduce (reduce-scatter) -> residual
 *
 * with context parallelism as ring attention: CP - 1 exchanges of the key and
 * value blocks, each hidden behind one block of attention compute.
 */
#include <math.h>
#include <string.h>

#include "train/internal.h"
#include "ultrasim/engine.h"

static void add(train_costs *c, train_kind k, double seconds)
{
    c->s[k] += seconds;
}

static void add_cost(train_costs *c, train_kind k, engine_cost e)
{
    c->s[k] += e.seconds;
    c->flops[k] += e.flops;
    c->bytes[k] += e.bytes;
}

static int find_call(const train_costs *c, train_kind k, const train_call *call)
{
    for (int i = 0; i < c->ncalls[k]; i++) {
        const train_call *h = &c->calls[k][i];
        if (h->op == call->op && h->bytes == call->bytes && h->hidden == call->hidden &&
            h->dp_group == call->dp_group)
            return i;
    }
    return -1;
}

static void add_call(train_costs *c, train_kind kind, train_call call)
{
    /* a negative count takes calls back (train_costs_add) */
    if (call.count == 0 || call.bytes <= 0)
        return;
    int i = find_call(c, kind, &call);
    if (i >= 0)
        c->calls[kind][i].count += call.count;
    else if (c->ncalls[kind] < TRAIN_CALLS)
        c->calls[kind][c->ncalls[kind]++] = call;
    else
        c->calls_lost = true;
}

void train_costs_call(train_costs *c, train_kind kind, int op, double bytes, double count,
                      bool hidden)
{
    add_call(c, kind, (train_call){op, bytes, count, hidden, TRAIN_DP_DENSE});
}

void train_costs_dp_call(train_costs *c, int g, int op, double bytes, double count, bool hidden)
{
    add_call(c, TRAIN_DP_COMM, (train_call){op, bytes, count, hidden, g});
}

void train_costs_add(train_costs *a, const train_costs *b, double k)
{
    for (int i = 0; i < TRAIN_KIND_COUNT; i++) {
        a->s[i] += k * b->s[i];
        a->flops[i] += k * b->flops[i];
        a->bytes[i] += k * b->bytes[i];
        for (int j = 0; j < b->ncalls[i]; j++) {
            train_call h = b->calls[i][j];
            h.count *= k;
            add_call(a, (train_kind)i, h);
        }
    }
    a->host_s += k * b->host_s;
    a->mlp_s += k * b->mlp_s;
    a->calls_lost = a->calls_lost || b->calls_lost;
}

/* count calls of op on group g, recorded under kind: their seconds. */
static double calls_s(train_ctx *x, train_costs *c, train_kind kind, net_op op, double bytes,
                      const train_group *g, double count, bool hidden)
{
    double s = train_collective_s(x, op, bytes, g);
    if (s > 0) {
        train_costs_call(c, kind, (int)op, bytes, count, hidden);
        c->host_s += count * x->p->stack.host_kernel_s;
    }
    return count * s;
}

static engine_cost one_call(const hw_chip *chip, double m, double k, double n, int64_t batch,
                            usim_dtype dtype)
{
    engine_gemm_op op = {(int64_t)ceil(m), (int64_t)ceil(k), (int64_t)ceil(n), batch, dtype};
    return engine_in_graph(chip, engine_gemm(chip, &op));
}

/* sum += k x c: the time, FLOPs and bytes a train cost keeps. */
static void cost_add_times(engine_cost *sum, engine_cost c, double k)
{
    sum->seconds += k * c.seconds;
    sum->flops += k * c.flops;
    sum->bytes += k * c.bytes;
}

/* A batch of GEMMs as one call, or, by a stack that issues them one by one
 * over `streams` concurrent streams (Transformer Engine's multi-stream
 * GroupedLinear), `streams` at a time: each round fills the chip's waves
 * with only its own GEMMs' tiles. */
static engine_cost gemm_cost(const hw_chip *chip, double m, double k, double n, double batch,
                             int streams, usim_dtype dtype)
{
    engine_cost c = {0};
    if (m < 1 || k < 1 || n < 1)
        return c;
    int64_t b = batch < 1 ? 1 : (int64_t)batch;
    if (streams < 1 || b <= streams)
        return one_call(chip, m, k, n, b, dtype);
    cost_add_times(&c, one_call(chip, m, k, n, streams, dtype), (double)(b / streams));
    if (b % streams)
        cost_add_times(&c, one_call(chip, m, k, n, b % streams, dtype), 1.0);
    return c;
}

static void elementwise(const train_ctx *x, train_costs *c, bool backward, double elements,
                        double flops, double bytes, double launches);

/* Which of a projection's FP8 inputs an activation kernel produced, its
 * amax computed as it wrote them (Transformer Engine's current scaling):
 * the forward input of the projection after an activation, the output
 * gradient of the one before it. */
enum { AMAX_NONE = 0, AMAX_WITH_INPUT = 1, AMAX_WITH_OUTPUT_GRAD = 2 };

/* Bytes a GEMM input's FP8 cast moves an element on this chip
 * (wl_stack_cast_bytes_on; `fused`: the activation kernel that wrote the
 * input took its amax). */
static double fp8_cast_bytes(const train_ctx *x, bool fused)
{
    return wl_stack_cast_bytes_on(&x->p->stack, x->p->fp8_recipe,
                                  x->chip->matrix.fp8_any_layout, fused);
}

/* A projection of m tokens from k to n features: forward, or its backward
 * (dgrad m x n -> m x k, and wgrad k x m -> k x n). In FP8 (Transformer
 * Engine), each GEMM input is first cast to FP8 (fp8_cast_bytes): the
 * forward casts the m x k activations, the backward the m x n gradients
 * (Micikevicius et al. 2022, "FP8 formats for deep learning"); the
 * backward's two GEMMs accumulate with FP32 promotion (x->grad_chip). */
static void linear_in(const train_ctx *x, train_costs *c, bool backward, double m, double k,
                      double n, double batch, usim_dtype t, int amax)
{
    int streams = x->p->stack.expert_gemm_streams;
    bool fused = amax & (backward ? AMAX_WITH_OUTPUT_GRAD : AMAX_WITH_INPUT);
    if (t == USIM_FP8)
        elementwise(x, c, false, m * (backward ? n : k) * batch, 2, fp8_cast_bytes(x, fused), 1);
    if (!backward) {
        add_cost(c, TRAIN_GEMM, gemm_cost(x->chip, m, k, n, batch, streams, t));
        return;
    }
    const hw_chip *g = &x->grad_chip;
    add_cost(c, TRAIN_GEMM, gemm_cost(g, m, n, k, batch, streams, t));
    add_cost(c, TRAIN_GEMM, gemm_cost(g, k, m, n, batch, streams, t));
}

/* The host's time to issue a projection's GEMMs: one kernel each, or with a
 * stack that issues a grouped expert GEMM expert by expert (Transformer
 * Engine's GroupedLinear: a GEMM call per local expert), one call per expert. */
static void gemm_launches(const train_ctx *x, train_costs *c, bool backward, double batch)
{
    const wl_stack *s = &x->p->stack;
    double each = batch > 1 && s->expert_gemm_host_s > 0 ? batch * s->expert_gemm_host_s
                                                          : s->host_kernel_s;
    c->host_s += each * (backward ? 2 : 1);
}

/* A projection beside an activation (amax: which inputs it wrote). */
static void linear_by_activation(const train_ctx *x, train_costs *c, bool backward, double m,
                                 double k, double n, double batch, int amax)
{
    linear_in(x, c, backward, m, k, n, batch, x->p->dtype, amax);
    gemm_launches(x, c, backward, batch);
}

static void linear(const train_ctx *x, train_costs *c, bool backward, double m, double k,
                   double n, double batch)
{
    linear_by_activation(x, c, backward, m, k, n, batch, AMAX_NONE);
}

/* Elementwise work over `elements` values: `flops` each, `bytes` each moved
 * through HBM (the stack's kernels, wl_kernel_bytes), in `launches` kernels
 * (wl_stack.eager_launches: an eager chain launches each op); a backward
 * reads the saved input and the incoming gradient and writes one gradient,
 * about twice the traffic, in as many launches (autograd runs each op's). */
static void elementwise(const train_ctx *x, train_costs *c, bool backward, double elements,
                        double flops, double bytes, double launches)
{
    double k = backward ? 2.0 : 1.0;
    engine_vector_op op = {elements * k, flops, elements * bytes * k, ENGINE_VECTOR};
    if (elements > 0 && (bytes > 0 || flops > 0)) { /* no traffic, no work: no kernel */
        add_cost(c, TRAIN_ELEMENTWISE, engine_vector(x->chip, &op));
        c->host_s += launches * x->p->stack.host_kernel_s;
    }
}

double train_collective_s(train_ctx *x, net_op op, double bytes, const train_group *g)
{
    net_result r;
    /* TP counted in NeuronCores: each core of a chip is a rank of the group */
    int per_chip = g == &x->tp && x->p->tp_cores > x->p->tp ? x->p->tp_cores / x->p->tp : 0;
    int ranks = g->size * (per_chip ? per_chip : 1);
    if (ranks <= 1 || bytes <= 0 || x->st != USIM_OK || x->compute_only)
        return 0;
    for (int i = 0; i < x->nmemo; i++) {
        const train_memo *k = &x->memo[i];
        if (k->op == (int)op && k->size == ranks && k->stride == g->stride &&
            k->per_chip == per_chip && k->bytes == bytes)
            return k->seconds;
    }
    /* A pipeline send pairs two chips; every chip sends through its own
     * links, so the pair is costed alone. DeepEP's all-to-alls are its own
     * kernels, not the collective library's. */
    int concurrent = op == NET_SENDRECV ? 1 : x->sys->chips / g->size;
    bool own = op == NET_ALLTOALL && x->p->moe_dispatcher == WL_DISPATCH_DEEPEP;
    net_group group = {ranks, g->stride, concurrent, per_chip, NET_LAUNCH_ASYNC, own};
    x->st = net_collective(x->sys, op, bytes, group, NET_ALGO_AUTO, NET_MODEL_ANALYTIC, &r,
                           x->err);
    if (x->st != USIM_OK)
        return 0;
    if (x->nmemo < TRAIN_MEMO)
        x->memo[x->nmemo++] = (train_memo){(int)op, ranks, g->stride, per_chip, bytes, r.seconds};
    return r.seconds;
}

/* Bytes a TP all-gather moves per activation element: 16-bit, or 8-bit where
 * the gathered tensor feeds FP8 GEMMs and the stack casts before gathering
 * (Transformer Engine's and torchao's FP8 tensor parallelism). Reductions
 * stay 16-bit: they sum GEMM outputs. */
static double tp_gather_bytes(const train_ctx *x, usim_dtype gemms)
{
    const wl_stack *s = &x->p->stack;
    bool cast = x->p->fp8_recipe == WL_FP8_MXFP8 ? s->mxfp8_tp_all_gather : s->fp8_tp_all_gather;
    return gemms == USIM_FP8 && cast ? 1.0 : 2.0;
}

/* Whether a pass's TP collectives run pipelined into its GEMMs: with TP
 * overlap on, unless the stack pipelines only the forward's. */
static bool tp_pipelined(const train_ctx *x, bool backward)
{
    return x->p->overlap_tp_comm && !(backward && x->p->stack.tp_comm_overlap_forward_only);
}

/* `count` TP collectives of one kind on the whole activation (tokens x
 * hidden), and with SP the copy a stack makes of each when it gathers or
 * scatters along a dimension other than the leading one (a read and a write
 * of every element; async TP gathers chunk by chunk into its matmuls and
 * makes none where it pipelines the pass). */
static double tp_calls(train_ctx *x, train_costs *c, net_op op, double element_bytes,
                       int count, bool hidden, bool backward)
{
    double elements = x->tokens * x->m->hidden;
    double s = calls_s(x, c, TRAIN_TP_COMM, op, elements * element_bytes, &x->tp, count, hidden);
    double copies = x->replaying ? 0 : x->p->stack.sp_collective_copies;
    if (s > 0 && copies > 0 && op != NET_ALLREDUCE && !tp_pipelined(x, backward))
        for (int i = 0; i < count; i++)
            elementwise(x, c, false, elements, 0, 2.0 * element_bytes * copies, copies);
    return s;
}

/* Current scaling's amax all-reduces of one layer pass (wl_stack
 * fp8_amax_tp_reduce): one for each of the `count` TP blocks, its
 * column-parallel input in the forward, its row-parallel output gradient in
 * the backward; a 4-byte fp32 amax, which the cast waits for, so nothing
 * hides it. */
static double amax_reductions_s(train_ctx *x, train_costs *c, int count)
{
    const wl_plan *p = x->p;
    if (!p->stack.fp8_amax_tp_reduce || p->dtype != USIM_FP8 ||
        p->fp8_recipe != WL_FP8_CURRENT || !p->sp)
        return 0;
    return calls_s(x, c, TRAIN_TP_COMM, NET_ALLREDUCE, 4.0, &x->tp, count, false);
}

/* Tensor-parallel collectives of one layer pass: the two all-reduces of
 * Megatron's TP (reduce-scatter + all-gather pairs with SP). With TP
 * communication overlap only what outlasts the layer's GEMMs shows. */
static void tp_collectives(train_ctx *x, train_costs *c, int count, bool backward)
{
    bool hidden = tp_pipelined(x, backward);
    double s;
    if (x->p->sp)
        s = tp_calls(x, c, NET_REDUCE_SCATTER, 2.0, count, hidden, backward) +
            tp_calls(x, c, NET_ALLGATHER, tp_gather_bytes(x, x->p->dtype), count, hidden,
                     backward);
    else
        s = tp_calls(x, c, NET_ALLREDUCE, 2.0, count, hidden, backward);
    if (hidden)
        s = fmax(0.0, s - c->s[TRAIN_GEMM]);
    add(c, TRAIN_TP_COMM, s);
}

static double replicated_share(const train_ctx *x)
{
    return x->p->sp && x->p->tp > 1 ? 1.0 / x->p->tp : 1.0;
}

static const wl_kernel_bytes *kernels(const train_ctx *x)
{
    return wl_stack_kernels(&x->p->stack, x->p->compile);
}

static const wl_kernel_bytes *launches(const train_ctx *x)
{
    return wl_stack_kernel_launches(&x->p->stack, x->p->compile);
}

/* `count` RMS/layer norms over the tokens' hidden states (a chip's share
 * of them under SP), each the stack's chain. */
static void norms(const train_ctx *x, train_costs *c, bool backward, double count)
{
    elementwise(x, c, backward, count * x->tokens * x->m->hidden * replicated_share(x), 4,
                kernels(x)->norm, count * launches(x)->norm);
}

/* Query and key/value widths per chip under TP (KV heads replicated when
 * fewer than TP ranks). */
static double q_width(const train_ctx *x)
{
    return (double)x->m->heads / x->p->tp * x->m->head_dim;
}

static double kv_width(const train_ctx *x)
{
    return fmax((double)x->m->kv_heads / x->p->tp, 1.0) * x->m->head_dim;
}

/* What a standard attention layer does around its projections besides the
 * core: rotary embedding of queries and keys, K and V expanded to every
 * query head where the stack's attention cannot read grouped heads, and the
 * output's head transpose made contiguous. */
static void attention_elementwise(const train_ctx *x, train_costs *c, bool backward)
{
    const wl_kernel_bytes *k = kernels(x), *n = launches(x);
    double T = x->tokens, q = q_width(x), kv = kv_width(x);
    if (x->m->position == WL_POS_ROPE)
        elementwise(x, c, backward, T * (q + kv), 6, k->rope, n->rope);
    if (x->m->kv_heads < x->m->heads)
        elementwise(x, c, backward, 2 * T * q, 0, k->kv_repeat, n->kv_repeat);
    elementwise(x, c, backward, T * q, 0, k->attention_copies, n->attention_copies);
}

/* An attention core averaged over the layers: the sliding-window ones (a
 * model's sliding_layers) see only their window of keys. */
static double layer_attention_s(const train_ctx *x, const engine_attention_op *op)
{
    return engine_attention_layer_s(x->chip, *op, x->m->sliding_window, wl_sliding_share(x->m));
}

/* A rank's attention core under context parallelism as Transformer Engine's
 * and PyTorch's load-balanced rings run it: the rank holds chunks i and
 * 2 CP - 1 - i of the sequence (seq / CP tokens), attends causally to its own
 * (op), then, for each of the CP - 1 blocks that come round the ring, to half
 * of it without a mask (all its queries against the block's first chunk, or
 * its last chunk against the whole block): 1 / CP of the causal core, in CP
 * kernels. Without CP, the op itself. */
static engine_cost ring_attention(const train_ctx *x, const engine_attention_op *op)
{
    engine_cost work = engine_attention(x->chip, op);
    work.seconds = layer_attention_s(x, op);
    if (x->p->cp <= 1)
        return work;
    engine_attention_op half = *op;
    half.causal = false;
    half.kv_len = op->kv_len / 2;
    engine_cost block = engine_attention(x->chip, &half);
    double steps = x->p->cp - 1;
    work.seconds += steps * layer_attention_s(x, &half);
    work.flops += steps * block.flops;
    work.bytes += steps * block.bytes;
    return work;
}

static void attention_block(train_ctx *x, train_costs *c, bool backward)
{
    const wl_model *m = x->m;
    double T = x->tokens, h = m->hidden, t = x->p->tp;
    double rep = replicated_share(x);
    norms(x, c, backward, 1);
    if (m->mla.kv_lora_rank > 0) {
        const wl_mla *a = &m->mla;
        double qk = (double)a->qk_nope_dim + a->qk_rope_dim;
        if (a->q_lora_rank > 0) {
            linear(x, c, backward, T, h, a->q_lora_rank, 1);
            linear(x, c, backward, T, a->q_lora_rank, m->heads / t * qk, 1);
        } else {
            linear(x, c, backward, T, h, m->heads / t * qk, 1);
        }
        linear(x, c, backward, T, h, (double)a->kv_lora_rank + a->qk_rope_dim, 1);
        linear(x, c, backward, T, a->kv_lora_rank,
               m->heads / t * ((double)a->qk_nope_dim + a->v_head_dim), 1);
        linear(x, c, backward, T, m->heads / t * a->v_head_dim, h, 1);
    } else {
        double kv = kv_width(x), q = q_width(x);
        linear(x, c, backward, T, h, q + 2 * kv, 1);
        linear(x, c, backward, T, q, h, 1);
        attention_elementwise(x, c, backward);
    }
    double heads = (double)m->heads / t;
    engine_attention_op op = {x->p->mbs,
                              (int64_t)fmax(heads, 1),
                              (int64_t)fmax((double)m->kv_heads / t, 1),
                              x->p->seq / x->p->cp,
                              x->p->seq / x->p->cp,
                              m->mla.kv_lora_rank > 0 ? m->mla.qk_nope_dim + m->mla.qk_rope_dim
                                                      : m->head_dim,
                              true,
                              backward,
                              USIM_BF16,
                              (engine_attention_kernel)x->p->attention,
                              wl_model_dropout(m),
                              0};
    engine_cost work = ring_attention(x, &op);
    bool selective = x->p->recompute == WL_RECOMPUTE_SELECTIVE;
    if (backward && op.kernel == ENGINE_ATTN_UNFUSED && selective) {
        /* selective recomputation: the core's forward again, for its scores */
        op.backward = false;
        engine_cost again = ring_attention(x, &op);
        work.seconds += again.seconds;
        work.flops += again.flops;
        work.bytes += again.bytes;
    }
    add_cost(c, TRAIN_ATTENTION, work);
    c->host_s += x->p->stack.host_kernel_s;
    if (x->p->cp > 1) {
        /* Ring attention: CP - 1 key/value block exchanges (their gradients
         * too in the backward), each overlapped with a block of compute. */
        double bytes = 2.0 * T * kv_width(x) * 2.0 * (backward ? 2 : 1);
        double exchange =
            calls_s(x, c, TRAIN_CP_COMM, NET_SENDRECV, bytes, &x->cp, x->p->cp - 1, true);
        add(c, TRAIN_CP_COMM,
            fmax(0.0, exchange - work.seconds * (x->p->cp - 1) / x->p->cp));
    }
    elementwise(x, c, backward, T * h * rep, 1, kernels(x)->residual, launches(x)->residual);
}

/* An MLP's activation over `elements` values: a gated one's product (the
 * stack's chain), or a plain GeLU's 8 FLOPs and one read and write. */
static void mlp_activation(const train_ctx *x, train_costs *c, bool backward, double elements)
{
    bool gated = x->m->mlp == WL_MLP_SWIGLU;
    double bytes = gated ? kernels(x)->gated_activation : 4;
    elementwise(x, c, backward, elements, wl_mlp_activation_flops(x->m), bytes,
                gated ? launches(x)->gated_activation : 1);
}

static void dense_mlp(train_ctx *x, train_costs *c, bool backward, double ffn)
{
    const wl_model *m = x->m;
    double T = x->tokens, h = m->hidden, f = ffn / x->p->tp;
    bool gated = m->mlp == WL_MLP_SWIGLU;
    linear_by_activation(x, c, backward, T, h, (gated ? 2 : 1) * f, 1, AMAX_WITH_OUTPUT_GRAD);
    mlp_activation(x, c, backward, T * f);
    linear_by_activation(x, c, backward, T, f, h, 1, AMAX_WITH_INPUT);
}

/* The router's and token dispatcher's small kernels (top-k, softmax, the
 * load-balancing loss, split counts, permutation maps; their gradients in
 * the backward) beyond the one costed by its traffic: each a launch on the
 * host and the device's own launch time. */
static void dispatch_kernels(const train_ctx *x, train_costs *c, bool backward)
{
    const wl_stack *s = &x->p->stack;
    int listed = backward ? s->moe_dispatch_kernels_backward : s->moe_dispatch_kernels;
    double n = listed > 1 ? listed - 1 : 0;
    c->host_s += n * s->host_kernel_s;
    c->s[TRAIN_ELEMENTWISE] += n * x->chip->launch_overhead_s;
}

/* The share of the all-to-all's copies the plan's dispatcher sends: DeepEP
 * sends a token once to each scale-up domain that holds one of its experts
 * and forwards it there over the domain's links, which an EP group inside
 * one domain gains nothing from. */
static double dispatched_share(const train_ctx *x)
{
    const train_group *g = &x->ep;
    if (x->p->moe_dispatcher != WL_DISPATCH_DEEPEP || g->tier != NET_TIER_SCALEOUT)
        return 1.0;
    double per_domain = fmax(1.0, fmin(g->size, (double)x->sys->default_chips / g->stride));
    return wl_dispatch_share(x->m, (int)ceil(g->size / per_domain));
}

/* Router, dispatch all-to-all, local experts as a grouped GEMM, combine.
 * Each TP rank routes its own sequence-parallel share of the tokens, T x
 * top-k / TP copies, and sends them over the EP group (Megatron-Core's
 * all-to-all dispatcher). Each chip holds E / EP experts split ETP ways:
 * with ETP 1 (folded) it works on what it receives; with ETP = TP the TP
 * ranks all-gather what they received before their expert shards and
 * reduce-scatter the outputs before the combine (the dispatcher's
 * dispatch_postprocess and combine_preprocess), so each works on T x top-k
 * copies, and the layer's MLP side has no TP pair of its own. Balanced
 * routing is assumed. */
static void moe_mlp(train_ctx *x, train_costs *c, bool backward)
{
    const wl_model *m = x->m;
    double etp = wl_plan_etp(x->p);
    double T = x->tokens, h = m->hidden, fe = (double)m->expert_ffn / etp;
    bool gated = m->mlp == WL_MLP_SWIGLU;
    double mine = T / x->p->tp; /* the rank's sequence-parallel tokens */
    double own = mine * m->experts_per_token, routed = own * etp;
    double local = (double)m->experts / x->p->ep;
    linear(x, c, backward, mine, h, m->experts, 1); /* router */
    elementwise(x, c, backward, mine * m->experts, 6, 4, 1);
    dispatch_kernels(x, c, backward);
    /* the permutations run the same way in either pass: no saved input */
    if (x->p->stack.moe_permute_bytes > 0)
        elementwise(x, c, false, routed * h, 0, x->p->stack.moe_permute_bytes, 1);
    /* to the experts (the forward's dispatch, the backward's combine
     * gradient) in the stack's dispatch type; back from them 16-bit */
    double elements = own * h * dispatched_share(x);
    bool overlap = x->p->overlap_ep_comm;
    add(c, TRAIN_EP_COMM,
        calls_s(x, c, TRAIN_EP_COMM, NET_ALLTOALL, elements * x->p->stack.moe_dispatch_bytes,
                &x->ep, 1, overlap) +
            calls_s(x, c, TRAIN_EP_COMM, NET_ALLTOALL, elements * 2.0, &x->ep, 1, overlap));
    if (etp > 1)
        add(c, TRAIN_TP_COMM,
            calls_s(x, c, TRAIN_TP_COMM, NET_ALLGATHER, routed * h * 2.0, &x->tp, 1, false) +
                calls_s(x, c, TRAIN_TP_COMM, NET_REDUCE_SCATTER, routed * h * 2.0, &x->tp, 1,
                        false));
    linear_by_activation(x, c, backward, routed / local, h, (gated ? 2 : 1) * fe, local,
                         AMAX_WITH_OUTPUT_GRAD);
    mlp_activation(x, c, backward, routed * fe);
    linear_by_activation(x, c, backward, routed / local, fe, h, local, AMAX_WITH_INPUT);
    if (m->shared_experts > 0)
        dense_mlp(x, c, backward, (double)m->shared_experts * m->expert_ffn);
}

/* What a stack's selective recomputation also rebuilds in the backward
 * (DeepSeek-V3's savings): the two norms, MLA's up-projections from the
 * latents, the SwiGLU product from its inputs; each its forward once more. */
static void stack_recompute(train_ctx *x, train_costs *c, bool moe)
{
    const wl_model *m = x->m;
    const wl_stack *s = &x->p->stack;
    double T = x->tokens, t = x->p->tp;
    if (s->recompute_norms)
        norms(x, c, false, 2);
    const wl_mla *a = &m->mla;
    if (s->recompute_mla_up && a->kv_lora_rank > 0) {
        if (a->q_lora_rank > 0)
            linear(x, c, false, T, a->q_lora_rank,
                   m->heads / t * ((double)a->qk_nope_dim + a->qk_rope_dim), 1);
        linear(x, c, false, T, a->kv_lora_rank,
               m->heads / t * ((double)a->qk_nope_dim + a->v_head_dim), 1);
    }
    bool gated = m->mlp == WL_MLP_SWIGLU;
    double routed = moe ? T * m->experts_per_token * m->expert_ffn / t : 0;
    if (s->recompute_swiglu && gated) {
        double f = moe ? routed + T * m->shared_experts * m->expert_ffn / t : T * m->ffn / t;
        elementwise(x, c, false, f, 4, kernels(x)->gated_activation, launches(x)->gated_activation);
    } else if (s->recompute_moe_act && moe && !s->recompute_moe) {
        mlp_activation(x, c, false, routed);
    }
    if (s->recompute_moe && moe) /* the layer's forward again, its all-to-alls with it */
        moe_mlp(x, c, false);
    if (s->recompute_mlp && !moe) { /* FC1's input cast again, its amax with it */
        dense_mlp(x, c, false, m->ffn);
        add(c, TRAIN_TP_COMM, amax_reductions_s(x, c, 1));
    }
}

/* The device's work besides the all-to-alls (its waits on the host left out). */
static double device_besides_ep(const train_costs *c)
{
    double others = 0;
    for (int k = 0; k < TRAIN_KIND_COUNT; k++)
        if (k != TRAIN_EP_COMM && k != TRAIN_HOST && k != TRAIN_OFFLOAD)
            others += c->s[k];
    return others;
}

/* DeepSeek-V3's DualPipe (report, section 3.2.1 and Figure 4) and
 * Megatron-Core's EP overlap of merged forward and backward passes pair the
 * forward's dispatch with the backward's MLP, its combine with the backward's
 * attention, and the backward's two all-to-alls with the forward's MLP and
 * attention. A pass's all-to-alls are its dispatch and combine, equal in
 * size. Beside an all-to-all of A seconds holding a share h of the cores, a
 * block of C seconds ends after max(A, C + h A): the all-to-all shows for
 * max(A - C, h A). */
static double outlasting(const train_costs *pass, double each, const train_costs *partner,
                         double held)
{
    double mlp = partner->mlp_s, attention = device_besides_ep(partner) - mlp;
    double shown = fmax(each - mlp, held * each) + fmax(each - attention, held * each);
    /* beyond two (a backward's recomputed forward's) they have no partner block */
    shown += fmax(0.0, pass->s[TRAIN_EP_COMM] - 2 * each);
    /* a pass that waits on its host's launches absorbs it in that wait */
    return fmax(0.0, shown - pass->s[TRAIN_HOST]);
}

double train_ep_comm_held(const train_ctx *x)
{
    const hw_chip *chip = x->chip;
    if (chip->matrix.kind != HW_MATRIX_TENSOR_CORE || chip->cores <= 0)
        return 0.0;
    return fmin(1.0, x->p->stack.ep_comm_sms / chip->cores);
}

void train_hide_ep(train_costs *fwd, train_costs *bwd, double held)
{
    double each = fwd->s[TRAIN_EP_COMM] / 2; /* a forward's dispatch and combine */
    double shown_fwd = outlasting(fwd, each, bwd, held);
    double shown_bwd = outlasting(bwd, each, fwd, held);
    fwd->s[TRAIN_EP_COMM] = shown_fwd;
    bwd->s[TRAIN_EP_COMM] = shown_bwd;
}

static train_costs layer_pass(train_ctx *x, bool moe, bool backward)
{
    train_costs c;
    memset(&c, 0, sizeof c);
    if (backward && x->p->recompute == WL_RECOMPUTE_SELECTIVE)
        stack_recompute(x, &c, moe);
    attention_block(x, &c, backward);
    /* the MLP's norm (none where it shares attention's, GPT-J's and Falcon
     * 7B's); Gemma's sandwich norms add one after attention and one after
     * the MLP */
    double count = x->m->sandwich_norm ? 3 : x->m->one_norm ? 0 : 1;
    if (count > 0)
        norms(x, &c, backward, count);
    double before_mlp = device_besides_ep(&c);
    if (moe)
        moe_mlp(x, &c, backward);
    else
        dense_mlp(x, &c, backward, x->m->ffn);
    c.mlp_s = device_besides_ep(&c) - before_mlp;
    elementwise(x, &c, backward, x->tokens * x->m->hidden * replicated_share(x), 1,
                kernels(x)->residual, launches(x)->residual);
    /* A MoE layer's dispatcher takes the sequence-parallel tokens as they are
     * (moe_mlp gathers what expert TP needs): only the attention block, and a
     * TP-split shared expert, all-gather and reduce-scatter the layer's
     * activations. */
    int tp_blocks = moe && x->m->shared_experts == 0 ? 1 : 2;
    tp_collectives(x, &c, tp_blocks, backward);
    add(&c, TRAIN_TP_COMM, amax_reductions_s(x, &c, tp_blocks));
    return c;
}

/* A backward under a per-op selective policy first replays the forward's
 * elementwise work, the matmuls whose outputs were not kept and the TP
 * collectives that are not on its save list (with SP the two all-gathers
 * before the projections, with the copies a stack makes of them; without,
 * the all-reduces); the attention core's output was kept. */
static void alternate_matmul_recompute(train_ctx *x, bool moe, train_costs *bwd)
{
    x->replaying = true; /* its collectives are the two all-gathers below */
    train_costs f = layer_pass(x, moe, false);
    x->replaying = false;
    double share = wl_selective_matmul_share(x->m, x->p);
    bwd->s[TRAIN_GEMM] += f.s[TRAIN_GEMM] * share;
    bwd->flops[TRAIN_GEMM] += f.flops[TRAIN_GEMM] * share;
    bwd->bytes[TRAIN_GEMM] += f.bytes[TRAIN_GEMM] * share;
    bwd->s[TRAIN_ELEMENTWISE] += f.s[TRAIN_ELEMENTWISE];
    bwd->flops[TRAIN_ELEMENTWISE] += f.flops[TRAIN_ELEMENTWISE];
    bwd->bytes[TRAIN_ELEMENTWISE] += f.bytes[TRAIN_ELEMENTWISE];
    bwd->host_s += f.host_s; /* its launches, taken as the whole forward's */
    bool sp = x->p->sp;
    bwd->s[TRAIN_TP_COMM] += tp_calls(x, bwd, sp ? NET_ALLGATHER : NET_ALLREDUCE,
                                      sp ? tp_gather_bytes(x, x->p->dtype) : 2.0, 2, false,
                                      true);
}

/* A pass whose kernels take the host longer to launch than the device to
 * run leaves the device waiting for the difference. Per pass, not per step:
 * a MoE token dispatcher that reads the routing counts back to size its
 * all-to-all stops the host from running ahead into the next layer. */
static void host_bound(const train_ctx *x, train_costs *c)
{
    double others = device_besides_ep(c), ep = c->s[TRAIN_EP_COMM];
    double device = x->p->overlap_ep_comm ? fmax(others, ep) : others + ep;
    double scale = x->sys->node.host_launch_scale > 0 ? x->sys->node.host_launch_scale : 1.0;
    double host = c->host_s * scale;
    if (host > device)
        c->s[TRAIN_HOST] += host - device;
}

train_costs train_layer_costs(train_ctx *x, bool moe, bool backward)
{
    train_costs c = layer_pass(x, moe, backward);
    if (backward && wl_selective_matmul_share(x->m, x->p) > 0)
        alternate_matmul_recompute(x, moe, &c);
    host_bound(x, &c);
    return c;
}

/* The input embedding: a row gather (a vocabulary-parallel one ends in a TP
 * all-reduce), and in the backward a scatter-add into fp32 gradients. */
train_costs train_embedding_costs(train_ctx *x, bool backward)
{
    train_costs c;
    memset(&c, 0, sizeof c);
    double elements = x->tokens * x->m->hidden;
    elementwise(x, &c, backward, elements, 1, backward ? 6 : 4, 1);
    if (!backward)
        tp_collectives(x, &c, 1, false);
    host_bound(x, &c);
    return c;
}

/* Final norm, LM head (vocabulary split by TP) and the fp32 cross-entropy. */
train_costs train_head_costs(train_ctx *x, bool backward)
{
    train_costs c;
    memset(&c, 0, sizeof c);
    double T = x->tokens, h = x->m->hidden, v = (double)x->m->vocab / x->p->tp;
    norms(x, &c, backward, 1);
    /* The LM head stays 16-bit in an FP8 run unless the stack converts it. */
    usim_dtype head = x->p->dtype == USIM_FP8 && !x->p->stack.fp8_output_layer ? USIM_BF16
                                                                                : x->p->dtype;
    if (x->p->sp && x->p->tp > 1)
        add(&c, TRAIN_TP_COMM,
            tp_calls(x, &c, NET_ALLGATHER, tp_gather_bytes(x, head), 1, false, backward));
    linear_in(x, &c, backward, T, h, v, 1, head, AMAX_NONE);
    elementwise(x, &c, backward, T * v, 5, kernels(x)->loss, launches(x)->loss);
    add(&c, TRAIN_TP_COMM, calls_s(x, &c, TRAIN_TP_COMM, NET_ALLREDUCE, T * 4.0, &x->tp, 3, false));
    host_bound(x, &c);
    return c;
}

/* DeepSeek-V3's multi-token prediction module (report section 2.2): the
 * next token's embedding and the model's last hidden state, each RMS-normed,
 * concatenated and projected (2h -> h), one more layer (with experts when
 * the model has them), and the shared output head and loss once more. */
train_costs train_mtp_costs(train_ctx *x, bool backward)
{
    train_costs c = train_embedding_costs(x, backward), own;
    memset(&own, 0, sizeof own);
    double T = x->tokens, h = x->m->hidden;
    norms(x, &own, backward, 2);
    linear(x, &own, backward, T, 2 * h, h / x->p->tp, 1);
    host_bound(x, &own);
    train_costs_add(&c, &own, 1);
    train_costs layer = train_layer_costs(x, x->m->experts > 1, backward);
    train_costs head = train_head_costs(x, backward);
    train_costs_add(&c, &layer, 1);
    train_costs_add(&c, &head, 1);
    return c;
}

void train_copy_costs(const train_ctx *x, train_costs *c, double elements, double bytes)
{
    elementwise(x, c, false, elements, 0, bytes, 1);
}

/* Adam over the chip's share of parameters: read fp32 gradient, master
 * weight, m and v, write master, m, v and the 16-bit weight: 30 bytes a
 * parameter, about 12 FLOPs. */
train_costs train_optimizer_costs(const train_ctx *x, double params)
{
    train_costs c;
    memset(&c, 0, sizeof c);
    engine_vector_op op = {params, 12, 30.0 * params, ENGINE_VECTOR};
    if (params > 0)
        add_cost(&c, TRAIN_OPTIMIZER, engine_vector(x->chip, &op));
    return c;
}
