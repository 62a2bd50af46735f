/*
 * Parallel plans: how a model is cut across chips, and whether the cut is
 * possible at all. Chips = TP x PP x DP x CP; expert parallelism (EP) splits
 * the experts over the data- and context-parallel ranks, as Megatron-LM does.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "ultrasim/workload.h"

int64_t wl_plan_microbatches(const wl_plan *p)
{
    return p->gbs / ((int64_t)p->dp * p->mbs);
}

/* Slots of `slots` spread over the virtual stages: the extra ones go to
 * the middle stages, the first and the last last. */
static int stage_slots(int slots, int virtual_stages, int v)
{
    int base = slots / virtual_stages;
    int extra = slots % virtual_stages; /* virtual stages that get base + 1 */
    int skip_first = extra <= virtual_stages - 2 ? 1 : 0;
    return extra > 0 && v >= skip_first && v < skip_first + extra ? base + 1 : base;
}

/* A multi-token prediction module takes two layers' slots on the last
 * virtual stage, beside the head: its layer and its pass through the output
 * head. NVIDIA's DeepSeek-V3 recipes lay 61 layers and the module over 16
 * stages as "Et*4|(t*4|)*14tmL", the last stage one layer beside the module
 * and the loss, and over 32 as "Et|(tt|)*30mL", the last none and the first
 * one; these slots give the same. With the embedding and the loss counted
 * as layers (Megatron-Core's account_for_*_in_pipeline_split), the split is
 * even (wl_plan_check) and they take their slot on the first and the last
 * virtual stage, prediction modules beside the loss outside the count as
 * Megatron-Core has them: the Llama 3 paper's 405B layout, 126 layers and
 * the two over 16 x 8 virtual stages, its first chunk only the embedding and
 * its last only the output projection and the loss. */
int wl_chunk_layers(const wl_model *m, const wl_plan *p, int stage, int chunk)
{
    int virtual_stages = p->pp * p->vp;
    int v = chunk * p->pp + stage, last = virtual_stages - 1;
    int mtp = 2 * m->mtp_layers;
    if (p->embedding_slot || p->loss_slot) {
        int e = p->embedding_slot, l = p->loss_slot;
        int slots = stage_slots(m->layers + e + l, virtual_stages, v);
        return slots - (v == 0 ? e : 0) - (v == last ? l : 0);
    }
    if (mtp <= 0)
        return stage_slots(m->layers, virtual_stages, v);
    if (stage_slots(m->layers + mtp, virtual_stages, last) > mtp) {
        int slots = stage_slots(m->layers + mtp, virtual_stages, v);
        return v == last ? slots - mtp : slots;
    }
    /* the last holds the modules alone; of the rest, the first (with the
     * embedding) takes the fewer layers */
    return v == last ? 0 : stage_slots(m->layers, virtual_stages - 1, virtual_stages - 2 - v);
}

static usim_status fail(usim_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static usim_status fail(usim_error *err, const char *field, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return usim_fail_field(err, USIM_EINPUT, field, "%s", message);
}

static usim_status check_degrees(const wl_plan *p, int chips, usim_error *err)
{
    int64_t product = (int64_t)p->tp * p->pp * p->dp * p->cp;
    if (product != chips)
        return usim_fail_field(err, USIM_EINPUT, "dp",
                               "TP %d x PP %d x DP %d x CP %d = %lld ranks, but the system has "
                               "%d chips",
                               p->tp, p->pp, p->dp, p->cp, (long long)product, chips);
    int etp = wl_plan_etp(p);
    if (etp != 1 && etp != p->tp)
        return fail(err, "etp",
                    "expert TP %d is not modelled; allowed: 1 (experts folded over TP) or TP "
                    "(%d, experts split as the dense layers)",
                    etp, p->tp);
    if (etp == p->tp && (p->dp * p->cp) % p->ep != 0)
        return fail(err, "ep",
                    "EP %d must divide DP x CP (%d), or with --etp below TP, TP x CP x DP",
                    p->ep, p->dp * p->cp);
    if ((p->tp * p->cp * p->dp) % (p->ep * etp) != 0)
        return fail(err, "ep", "EP %d x expert TP %d must divide TP x CP x DP (%d)", p->ep, etp,
                    p->tp * p->cp * p->dp);
    return USIM_OK;
}

int wl_recomputed_layers(const wl_plan *p, int layers)
{
    if (p->recompute != WL_RECOMPUTE_FULL)
        return 0;
    return p->recompute_layers > 0 && p->recompute_layers < layers ? p->recompute_layers : layers;
}

int wl_plan_etp(const wl_plan *p)
{
    if (p->etp > 0)
        return p->etp;
    /* Unset: TP, Megatron-Core's default, unless EP fits only folded over
     * TP x CP x DP, which takes experts whole (NVIDIA's MoE recipes set
     * expert TP 1 for every MoE model they publish). */
    bool fits_unfolded = p->ep <= 1 || (p->dp * p->cp) % p->ep == 0;
    return fits_unfolded ? p->tp : 1;
}

bool wl_plan_zero3_per_step(const wl_plan *p)
{
    return p->zero >= 3 && p->pp > 1 && p->stack.zero3_pipeline_per_step;
}

int wl_plan_zero_shard(const wl_plan *p)
{
    return p->dp_shard > 0 ? p->dp_shard : p->dp * p->cp;
}

/* HSDP: a shard group that divides DP x CP, of a sharded state, on the
 * dense weights (expert weights shard over their own replicas, which this
 * does not split). */
static usim_status check_dp_shard(const wl_plan *p, const wl_model *m, usim_error *err)
{
    int ranks = p->dp * p->cp;
    if (p->dp_shard == 0)
        return USIM_OK;
    if (p->zero < 1)
        return fail(err, "dp-shard", "a shard group needs a sharded state: ZeRO 1 to 3, not "
                                     "ZeRO 0; add --zero 1, 2 or 3");
    if (p->dp_shard < 1 || p->dp_shard > ranks || ranks % p->dp_shard != 0)
        return fail(err, "dp-shard", "%d does not divide DP x CP = %d; allowed: a divisor of %d",
                    p->dp_shard, ranks, ranks);
    if (m->experts > 1 && p->dp_shard < ranks)
        return fail(err, "dp-shard", "HSDP of a mixture-of-experts model (%s) is not modelled: "
                                     "its expert weights shard over their own replicas; drop "
                                     "--dp-shard",
                    m->name);
    return USIM_OK;
}

double wl_expert_dp(const wl_plan *p)
{
    return (double)p->tp * p->cp * p->dp / ((double)p->ep * wl_plan_etp(p));
}

static usim_status check_tensor_split(const wl_plan *p, const wl_model *m, usim_error *err)
{
    if (m->heads % p->tp != 0)
        return fail(err, "tp", "TP %d does not divide the %d attention heads", p->tp, m->heads);
    if (m->kv_heads % p->tp != 0 && p->tp % m->kv_heads != 0)
        return fail(err, "tp", "TP %d and the %d KV heads: one must divide the other", p->tp,
                    m->kv_heads);
    if (m->ffn % p->tp != 0)
        return fail(err, "tp", "TP %d does not divide the MLP width %d", p->tp, m->ffn);
    if (m->experts > 1 && m->experts % p->ep != 0)
        return fail(err, "ep", "EP %d does not divide the %d experts", p->ep, m->experts);
    if (m->experts <= 1 && p->etp > 0 && p->etp != p->tp)
        return fail(err, "etp", "expert TP %d needs a mixture-of-experts model", p->etp);
    if (m->experts <= 1 && p->ep > 1)
        return fail(err, "ep", "EP %d needs a mixture-of-experts model (this one has %d expert)",
                    p->ep, 1);
    /* Megatron-Core asserts it: its token dispatchers take the
     * sequence-parallel tokens */
    if (m->experts > 1 && p->tp > 1 && !p->sp)
        return fail(err, "sp",
                    "a mixture-of-experts model at TP %d needs sequence parallelism (Megatron-Core "
                    "refuses MoE with TP and no SP); allowed: drop --no-sp, or TP 1",
                    p->tp);
    return USIM_OK;
}

static usim_status check_sequence(const wl_plan *p, const wl_model *m, usim_error *err)
{
    if (p->seq % (2 * p->cp) != 0 && p->cp > 1)
        return fail(err, "cp", "CP %d: the sequence %d must be a multiple of 2 x CP (each rank "
                               "takes two balanced halves)",
                    p->cp, (int)p->seq);
    if (m->position == WL_POS_LEARNED && p->seq > m->max_seq)
        return fail(err, "seq", "%d is longer than the model's %d learned positions",
                    (int)p->seq, m->max_seq);
    return USIM_OK;
}

/* How the layers split over the virtual stages: one at least each; with the
 * embedding or the loss counted as a layer, evenly, as Megatron-Core
 * requires (prediction modules stay outside that count). */
static usim_status check_split(const wl_plan *p, const wl_model *m, usim_error *err)
{
    int stages = p->pp * p->vp, e = p->embedding_slot, l = p->loss_slot;
    if (p->vp > WL_MAX_VP)
        return fail(err, "vp", "%d; allowed 1 to %d virtual stages a rank", p->vp, WL_MAX_VP);
    int slots = m->layers + e + l;
    const char *counted = e && l ? "the embedding and the loss" : e ? "the embedding" : "the loss";
    if (stages > slots)
        return fail(err, "pp", "PP x VP = %d virtual stages, but the model has %d layers%s%s",
                    stages, m->layers, e || l ? " with " : "", e || l ? counted : "");
    if ((e || l) && slots % stages != 0)
        return fail(err, "pp", "with %s counted as layers, %d slots must split evenly over "
                               "PP x VP = %d virtual stages (Megatron-Core's rule)",
                    counted, slots, stages);
    return USIM_OK;
}

/* Megatron-Core's microbatch_group_size_per_vp_stage: an interleaved run's,
 * from PP (Megatron's schedule) to every micro-batch at once. */
static usim_status check_vp_group(const wl_plan *p, usim_error *err)
{
    if (p->vp_group == 0)
        return USIM_OK;
    if (p->vp <= 1)
        return fail(err, "microbatch-group-size-per-virtual-pipeline-stage",
                    "a group of micro-batches a chunk needs interleaving (--vp above 1)");
    int64_t m = wl_plan_microbatches(p);
    if (p->vp_group < p->pp || p->vp_group > m)
        return fail(err, "microbatch-group-size-per-virtual-pipeline-stage",
                    "%d; allowed %d (PP) to %lld (the step's micro-batches)", p->vp_group, p->pp,
                    (long long)m);
    /* a last group of fewer than PP micro-batches can leave ranks waiting on
     * each other's chunks in a circle */
    int64_t left = m % p->vp_group;
    if (left > 0 && left < p->pp)
        return fail(err, "microbatch-group-size-per-virtual-pipeline-stage",
                    "%d leaves a last group of %lld micro-batches, fewer than PP (%d), which can "
                    "deadlock; use a group that divides the %lld micro-batches or leaves PP or "
                    "more",
                    p->vp_group, (long long)left, p->pp, (long long)m);
    return USIM_OK;
}

/* Megatron-Core's block recomputation: with full recomputation, from one
 * layer to a pipeline rank's. */
static usim_status check_recompute_layers(const wl_plan *p, const wl_model *m, usim_error *err)
{
    if (p->recompute_layers == 0)
        return USIM_OK;
    if (p->recompute != WL_RECOMPUTE_FULL)
        return fail(err, "recompute-layers", "the layers recomputed whole apply to --recompute "
                                             "full only");
    int per_rank = m->layers / p->pp;
    if (p->recompute_layers < 1 || p->recompute_layers > per_rank)
        return fail(err, "recompute-layers", "%d; allowed 1 to %d (a pipeline rank's layers)",
                    p->recompute_layers, per_rank);
    return USIM_OK;
}

static usim_status check_batch(const wl_plan *p, const wl_model *m, usim_error *err)
{
    if (p->gbs % ((int64_t)p->dp * p->mbs) != 0)
        return usim_fail_field(err, USIM_EINPUT, "gbs",
                               "global batch %lld is not a multiple of DP %d x micro-batch %d",
                               (long long)p->gbs, p->dp, p->mbs);
    usim_status st = check_split(p, m, err);
    if (st != USIM_OK)
        return st;
    /* a step is simulated pass by pass: 2^19 micro-batch chunks (a
     * micro-batch on one model chunk of one rank) take about 3 s and 0.5 GB */
    const double chunks_max = 524288;
    double chunks = (double)wl_plan_microbatches(p) * p->pp * (p->vp > 1 ? p->vp : 1);
    if (chunks > chunks_max)
        return usim_fail_field(err, USIM_EINPUT, "gbs",
                               "%lld micro-batches a pipeline x PP %d x VP %d = %.0f passes to "
                               "simulate, over the %.0f allowed; use a larger --mbs or DP, or a "
                               "smaller --gbs",
                               (long long)wl_plan_microbatches(p), p->pp, p->vp > 1 ? p->vp : 1,
                               chunks, chunks_max);
    if (p->vp > 1 && p->pp == 1)
        return fail(err, "vp", "virtual stages (VP %d) need pipeline parallelism (PP %d)", p->vp,
                    p->pp);
    if (p->vp > 1 && wl_plan_microbatches(p) % p->pp != 0)
        return fail(err, "vp", "interleaving needs the micro-batches per step (%d) to be a "
                               "multiple of PP (%d)",
                    (int)wl_plan_microbatches(p), p->pp);
    st = wl_check_dispatcher(m, p, err);
    if (st != USIM_OK)
        return st;
    if (p->schedule == WL_SCHED_ZB_H1 && p->recompute == WL_RECOMPUTE_FULL)
        return fail(err, "schedule", "zb-h1 keeps each layer's inputs until its weight gradient, "
                                     "which full recomputation would rebuild and hold; not "
                                     "modelled: use --recompute selective or none");
    if (p->schedule == WL_SCHED_ZB_H1 && p->vp > 1)
        return fail(err, "schedule", "zb-h1 runs one model chunk a pipeline rank (VP 1, not %d); "
                                     "interleaved zero-bubble schedules (ZB-V) are not modelled",
                    p->vp);
    return USIM_OK;
}

/* Megatron-Core's own rules for CPU offloading (TransformerConfig): fewer
 * layers than the model has, no pipeline parallelism, no recomputation. */
static usim_status check_offload(const wl_plan *p, const wl_model *m, usim_error *err)
{
    int n = p->cpu_offload_layers;
    if (n == 0)
        return USIM_OK;
    if (n < 0 || n >= m->layers)
        return fail(err, "cpu-offload-layers", "%d; allowed 0 to %d (fewer than the model's %d "
                                               "layers)",
                    n, m->layers - 1, m->layers);
    if (!p->stack.activation_offload)
        return fail(err, "cpu-offload-layers", "stack '%s' does not offload activations; "
                                               "megatron-core and nemo do",
                    p->stack.name);
    if (p->pp > 1)
        return fail(err, "cpu-offload-layers", "Megatron-Core offloads activations only without "
                                               "pipeline parallelism (PP %d); use --pp 1",
                    p->pp);
    if (p->recompute != WL_RECOMPUTE_NONE)
        return fail(err, "cpu-offload-layers", "Megatron-Core offloads activations only without "
                                               "recomputation; use --recompute none");
    if (p->schedule == WL_SCHED_ZB_H1)
        return fail(err, "cpu-offload-layers", "Megatron-Core has no zero-bubble schedule to "
                                               "offload under (and at PP 1 it has no bubble to "
                                               "fill); use --schedule 1f1b");
    return USIM_OK;
}

usim_status wl_plan_check(const wl_plan *p, const wl_model *m, int chips, usim_error *err)
{
    /* A plan with no stack would reduce gradients of 0 bytes. */
    if (!p->stack.name[0])
        return usim_fail_field(err, USIM_EINPUT, "stack",
                               "the plan names no software stack; load one (wl_stack_load: "
                               "a data/stacks name or a stack file)");
    usim_status st = check_degrees(p, chips, err);
    if (st == USIM_OK)
        st = check_tensor_split(p, m, err);
    if (st == USIM_OK)
        st = check_sequence(p, m, err);
    if (st == USIM_OK)
        st = check_batch(p, m, err);
    if (st == USIM_OK)
        st = check_offload(p, m, err);
    if (st == USIM_OK)
        st = check_vp_group(p, err);
    if (st == USIM_OK)
        st = check_recompute_layers(p, m, err);
    if (st == USIM_OK)
        st = check_dp_shard(p, m, err);
    return st;
}

const char *const wl_dispatcher_names[] = {"alltoall", "deepep", NULL};

usim_status wl_check_dispatcher(const wl_model *m, const wl_plan *p, usim_error *err)
{
    if (p->moe_dispatcher == WL_DISPATCH_DEEPEP && m->experts <= 1)
        return fail(err, "moe-dispatcher", "deepep dispatches tokens to experts, and %s has none "
                                           "(a dense model); drop --moe-dispatcher",
                    m->name);
    return USIM_OK;
}

double wl_dispatch_share(const wl_model *m, int domains)
{
    int k = m->experts_per_token;
    if (domains <= 1 || k < 1 || m->experts <= 1)
        return 1.0;
    /* the domains a token can reach: with group-limited routing, those of its
     * groups (a domain per group when the EP group spans as many) */
    double reach = domains;
    if (m->expert_groups > 1 && m->groups_per_token > 0)
        reach = fmin(reach, m->groups_per_token * fmax(1.0, (double)domains / m->expert_groups));
    /* a reachable domain holds none of the k experts, drawn without
     * replacement from the reachable ones, with this probability */
    double pool = m->experts * reach / domains, outside = pool - pool / reach, none = 1.0;
    for (int i = 0; i < k && none > 0; i++)
        none *= fmax(0.0, (outside - i) / (pool - i));
    return fmin(1.0, reach * (1.0 - none) / k);
}
