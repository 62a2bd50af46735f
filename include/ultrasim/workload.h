/*
 * ultrasim workload layer: what is being trained or served, and how it is cut.
 *
 *   - models: decoder-only transformers described by ultrasim's own JSON or a
 *     Hugging Face config.json (llama, mistral, mixtral, qwen2, qwen3, gpt2,
 *     gpt_neox, falcon, mpt, deepseek_v3), with GQA, SwiGLU or GELU MLPs,
 *     tied embeddings, mixture-of-experts and multi-head latent attention;
 *   - exact parameter counts and per-op FLOP counts;
 *   - parallel plans (DP with ZeRO 0-3, TP with optional SP, PP 1F1B or
 *     interleaved, CP, EP, micro-batches, activation recompute) and the
 *     memory each chip needs for them.
 */
#ifndef ULTRASIM_WORKLOAD_H
#define ULTRASIM_WORKLOAD_H

#include <stdint.h>

#include "ultrasim/hw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* gated (SwiGLU: gate, up and down projections) or not (two projections
 * around a GELU, or a squared ReLU as Nemotron-4's) */
typedef enum wl_mlp { WL_MLP_SWIGLU, WL_MLP_GELU, WL_MLP_RELU2, WL_MLP_RELU } wl_mlp;
typedef enum wl_norm { WL_NORM_RMS, WL_NORM_LAYER } wl_norm;
typedef enum wl_position { WL_POS_ROPE, WL_POS_LEARNED, WL_POS_ALIBI } wl_position;

/* Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass
 * through low-rank projections; q_lora_rank 0 = full-rank queries. */
typedef struct wl_mla {
    int q_lora_rank, kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim;
} wl_mla;

typedef struct wl_model {
    char name[64];
    char family[32];       /* model_type: llama, gpt2, deepseek_v3, ... */
    int layers;
    int hidden;
    int heads;
    int kv_heads;
    int head_dim;
    int ffn;               /* MLP intermediate size of a dense layer */
    int vocab;
    int max_seq;
    int mlp;               /* wl_mlp */
    int norm;              /* wl_norm */
    int position;          /* wl_position */
    bool tied_embeddings;
    bool qkv_bias;         /* biases on Q, K, V */
    bool out_bias;         /* a bias on the attention's output projection */
    bool mlp_bias;         /* biases on the MLP's (and experts') projections */
    bool linear_bias;      /* a model file's shorthand for out_bias and mlp_bias */
    bool qk_norm;          /* Qwen3: RMSNorm on each head's q and k */
    bool sandwich_norm;    /* Gemma 2 and 3: norms after attention and the MLP too, 4 a layer */
    bool one_norm;         /* attention and MLP side by side after one norm (GPT-J, Falcon 7B) */
    bool embedding_norm;   /* BLOOM: a LayerNorm right after the word embeddings */
    /* Sliding-window attention: sliding_layers of the layers let a query see
     * only the last sliding_window keys (itself included); 0: none. */
    int sliding_window;
    int sliding_layers;
    bool attention_sinks;  /* gpt-oss: one learned softmax sink per head */
    /* Mixture of experts: experts > 1 makes the MLPs after dense_layers MoE,
     * every moe_layer_step-th of them (layer l when (l + 1) % step == 0, as
     * Hugging Face's Llama 4 and Qwen3-MoE place them; 0 or 1: every one). */
    int experts;
    int experts_per_token;
    int shared_experts;
    int expert_ffn;
    int dense_layers;
    int moe_layer_step;
    /* Group-limited routing (DeepSeek-V3's n_group, topk_group): the experts
     * form expert_groups groups and a token picks its experts from the best
     * groups_per_token of them; 0: any expert. */
    int expert_groups;
    int groups_per_token;
    /* Multi-token prediction modules trained beside the model (DeepSeek-V3's
     * num_nextn_predict_layers): each a projection of the next token's
     * embedding and the last hidden state, one more layer and the shared
     * output head once more; not counted in the model's parameters. */
    int mtp_layers;
    wl_mla mla;              /* kv_lora_rank 0: standard multi-head attention */
    /* An EAGLE-3 draft head (a speculative decoder's draft, never a model of
     * its own): it fuses fused_states of the target's hidden states through
     * an fc (fused_states x hidden -> hidden), its layer's Q, K, V read the
     * token's embedding beside that (2 x hidden in), it borrows the target's
     * embedding and predicts over draft_vocab tokens. 0: an ordinary model. */
    int fused_states;
    int draft_vocab;         /* the LM head's vocabulary (0: vocab) */
    double published_params; /* 0 = not published */
    double published_precision; /* the published figure's rounding: 0 = exact */
} wl_model;

/* The LM head's vocabulary: an EAGLE-3 head's draft vocabulary, else vocab. */
int wl_head_vocab(const wl_model *m);

/* The width Q, K and V are projected from: hidden, or twice it in an
 * EAGLE-3 head (the token's embedding beside the fused state). */
double wl_qkv_input(const wl_model *m);

/* Whether layer l's MLP is experts, and how many layers' are. */
bool wl_is_moe_layer(const wl_model *m, int layer);
int wl_moe_layers(const wl_model *m);

/* Loads a preset (data/models/NAME.json), ultrasim's model JSON or a Hugging
 * Face config.json (recognised by "model_type"). */
usim_status wl_model_load(const char *name_or_file, wl_model *out, usim_error *err);
usim_status wl_model_load_text(const char *file, const char *text, wl_model *out,
                               usim_error *err);
size_t wl_model_preset_count(void);
usim_status wl_model_preset_name(size_t i, char *name, size_t size, usim_error *err);

/* ---- parameters ----------------------------------------------------- */

typedef struct wl_params {
    double embedding;   /* token (and learned position) embeddings */
    double attention;   /* all layers */
    double mlp_dense;   /* dense MLPs, all layers */
    double mlp_experts; /* routed experts, all layers */
    double mlp_shared;  /* shared experts and routers, all layers */
    double norms;
    double lm_head;     /* 0 when tied */
    double fusion;      /* an EAGLE-3 head's fc over the target's hidden states */
    double total;
    double active;      /* per token: routed experts counted top-k of E */
    double per_layer_max; /* the largest layer, for pipeline balance */
} wl_params;

wl_params wl_model_params(const wl_model *m);

/* ---- FLOPs ---------------------------------------------------------- */

/* Forward FLOPs of one sequence of seq tokens, by kind (one pass, no
 * recompute). attention_core counts QK^T and PV over the causal triangle. */
typedef struct wl_flops {
    double matmul;          /* projections, MLPs, experts (active), router */
    double attention_core;  /* QK^T + PV, causal */
    double lm_head;
    double other;           /* norms, activations, softmax, residuals, embedding */
    double total;
} wl_flops;

wl_flops wl_forward_flops(const wl_model *m, int64_t seq);

/* Model FLOPs per token for training, the convention published MFU figures
 * use: 6 x active matmul parameters (LM head included) + 12 x layers x heads
 * x head_dim x seq for attention (PaLM, Chowdhery et al. 2022, appendix B). */
double wl_model_flops_per_token(const wl_model *m, int64_t seq);

/* Whether the model trains with dropout: Megatron-LM's GPT ("gpt" family)
 * uses 0.1 on attention probabilities and hidden states; the Llama family
 * and the other presets train without. */
bool wl_model_dropout(const wl_model *m);

/* The share of the layers that use sliding-window attention (0: none). */
double wl_sliding_share(const wl_model *m);
/* Flops the MLP's activation takes an element of its input width. */
double wl_mlp_activation_flops(const wl_model *m);

/* Megatron's (Narayanan et al., SC21) FLOPs per iteration, counting the
 * recomputed forward: 96 B s l h^2 (1 + s/(6h) + V/(16 l h)). */
double wl_megatron_flops(const wl_model *m, int64_t batch, int64_t seq);

/* ---- parallel plans ------------------------------------------------- */

typedef enum wl_recompute { WL_RECOMPUTE_NONE, WL_RECOMPUTE_SELECTIVE, WL_RECOMPUTE_FULL } wl_recompute;

/* ---- software stacks ------------------------------------------------ */

/* What a stack's selective recomputation keeps: Megatron's recomputes only
 * the attention core (free with a flash kernel, which recomputes its scores
 * anyway); torchtitan's per-op policy keeps every other matmul's output and
 * the attention core's, and recomputes the rest of the layer. */
typedef enum wl_selective { WL_SELECTIVE_ATTENTION_CORE, WL_SELECTIVE_ALTERNATE_MATMULS } wl_selective;

/* HBM bytes a layer's elementwise work moves per element of its tensor, in
 * the forward (a backward moves about twice): what the stack's kernels read
 * and write, counted from its code. */
typedef struct wl_kernel_bytes {
    double norm;             /* per hidden element */
    double rope;             /* per query and key element */
    double gated_activation; /* per FFN element (SwiGLU: silu(gate) x up) */
    double residual;         /* per hidden element */
    double attention_copies; /* per attention-output element: head transposes made contiguous */
    double kv_repeat;        /* bytes written per element of K and V expanded to all query heads
                                (0: the attention kernel reads grouped K/V directly) */
    double loss;             /* per logit element: LM-head output to the loss */
} wl_kernel_bytes;

/* FP8 training recipes: how each GEMM input gets its scale. Delayed: from
 * an amax history of earlier steps (Transformer Engine's DelayedScaling);
 * current: from the tensor itself, one amax pass before the cast
 * (Float8CurrentScaling, torchao's tensorwise); mxfp8: an E8M0 scale per 32
 * elements (OCP MX, tensor cores that take block scales); blockwise: a
 * scale per 1 x 128 or 128 x 128 block (DeepSeek-V3's recipe). */
typedef enum wl_fp8_recipe {
    WL_FP8_DELAYED,
    WL_FP8_CURRENT,
    WL_FP8_MXFP8,
    WL_FP8_BLOCKWISE
} wl_fp8_recipe;

extern const char *const wl_fp8_recipe_names[]; /* in wl_fp8_recipe's order, NULL-ended */

/* HBM bytes per element of an FP8 GEMM input that a stack's scaling and
 * cast kernels move under each recipe (0: the stack has no such recipe). */
typedef struct wl_fp8_cast_bytes {
    double delayed, current, mxfp8, blockwise;
} wl_fp8_cast_bytes;

typedef struct wl_stack {
    char name[64];
    char description[240];
    int selective;              /* wl_selective */
    int attention;              /* the attention kernel it runs (engine_attention_kernel) */
    int sink_attention;         /* the one it runs for a model with attention sinks */
    bool has_sink_attention;
    double grad_reduce_bytes;   /* bytes per gradient element the DP reduction moves */
    int fp8_recipe;             /* wl_fp8_recipe an FP8 run uses unless it names one */
    wl_fp8_cast_bytes fp8_cast; /* per element of an FP8 GEMM input: scaling and cast passes */
    bool fp8_output_layer;      /* an FP8 run casts the LM head too (else it stays 16-bit) */
    bool fp8_tp_all_gather;     /* an FP8 run's TP all-gathers move the cast 8-bit inputs */
    bool mxfp8_tp_all_gather;   /* and under MXFP8 (unset in the file: as fp8_tp_all_gather) */
    double sp_collective_copies; /* copies of the whole activation around each SP all-gather
                                    and reduce-scatter (gathers along a non-leading dimension) */
    bool zero3_pipeline_per_step; /* under PP, ZeRO-3 gathers a stage's weights once a step
                                     and reduce-scatters its gradients after the last backward */
    bool tp_comm_overlap;       /* TP collectives hidden behind the GEMMs unless a run says */
    /* Its TP overlap pipelines only the forward passes' collectives (a full
     * recomputation's forward among them); the backward's run as without
     * it (torchtitan's async TP). */
    bool tp_comm_overlap_forward_only;
    bool tp_comm_overlap_needs_compile; /* its TP overlap is a compiler pass */
    bool ep_comm_overlap;       /* EP all-to-alls beside the paired chunk's blocks (DualPipe) */
    int moe_dispatcher;         /* wl_dispatcher its MoE runs use unless a run says */
    double ep_comm_sms;         /* SMs an overlapped all-to-all's kernels hold while it runs */
    /* What selective recomputation also leaves out, and how linear layers'
     * inputs are kept for the backward (DeepSeek-V3's memory savings). */
    bool recompute_norms;       /* norm outputs rebuilt from the kept residual */
    bool recompute_mla_up;      /* MLA's Q, K, V rebuilt from the kept latents */
    bool recompute_swiglu;      /* the SwiGLU product rebuilt from its kept inputs */
    bool recompute_moe_act;     /* the same for the routed experts only (Megatron's moe_act) */
    bool recompute_mlp;         /* dense MLPs rerun from their input (Megatron's mlp) */
    bool recompute_moe;         /* a MoE layer rerun whole from its input: router, dispatch,
                                 * experts, combine (Megatron's moe) */
    double activation_cache_bytes; /* bytes every kept MLP and linear input takes (0: 16-bit) */
    double fp8_input_bytes;     /* bytes a kept linear input takes in an FP8 run (0: 16-bit) */
    /* The host's side: the CPU time to issue one kernel from the stack's
     * training loop (0: the whole step is one compiled program), to issue
     * one local expert's GEMM of a grouped expert GEMM (0: one launch for
     * all), and the small kernels of a MoE layer's router and token
     * dispatcher beyond its GEMM, in the forward and in the backward. */
    double host_kernel_s;
    double expert_gemm_host_s;
    int expert_gemm_streams; /* expert GEMMs issued one by one over so many streams (0: one call) */
    int moe_dispatch_kernels, moe_dispatch_kernels_backward;
    /* HBM bytes per routed token element the token dispatcher's permutations
     * move in a pass (into expert order and back, and between the all-to-all's
     * rank order and the local experts'). */
    double moe_permute_bytes;
    /* Bytes per element of the all-to-alls that carry tokens to their
     * experts: the forward's dispatch and the backward's return of the
     * combine's gradient (2, 16-bit, unless given; the forward's combine and
     * the backward's dispatch gradient stay 16-bit). */
    double moe_dispatch_bytes;
    /* The routing weights multiply the experts' activations (Megatron-Core's
     * weighted SwiGLU) rather than their outputs at the combine, which then
     * keeps no 16-bit copy of the expert outputs for the weights' gradient. */
    bool moe_probs_in_experts;
    /* It can keep some layers' activations in host memory between their
     * forward and backward (Megatron-Core's --cpu-offloading-num-layers,
     * Transformer Engine's offload handler). */
    bool activation_offload;
    /* Bytes each logit holds on the device through the loss and its
     * gradient (unset in the file: fp32 logits and an fp32 gradient, 8). */
    double loss_logit_bytes;
    bool has_compiled;          /* the stack can compile its graph (torch.compile) */
    bool compile_default;
    wl_kernel_bytes eager, compiled;
    int runs_on; /* wl_stack_platform: the chips its kernels are written for */
    /* Sharded weights and gradients pass through copies on the compute
     * stream (PyTorch FSDP2): each gather's output split into the
     * parameters (read and write 16 bits), each reduce-scatter's input
     * packed from the gradients in the reduction type. */
    bool fsdp_copies;
    /* Bytes an element of a tensor-scaled (delayed or current) cast writes
     * as its transposed FP8 copy, included in fp8_cast_bytes: not written on
     * a chip whose FP8 GEMMs take any layout (hw_matrix.fp8_any_layout). */
    double fp8_transpose_bytes;
    /* Bytes of current scaling's amax pass an activation kernel saves by
     * taking the amax of what it writes (the next projection's input, the
     * previous one's output gradient). */
    double fp8_activation_amax_bytes;
    /* Under current scaling with sequence parallelism, the amax of each
     * tensor gathered over TP before an FP8 GEMM (a column-parallel
     * projection's input, a row-parallel one's output gradient) is
     * all-reduced over the TP group before the cast, so that every rank
     * casts with one scale (Transformer Engine's amax_reduction_group). */
    bool fp8_amax_tp_reduce;
    /* The same chains counted in kernel launches, eager and compiled (each
     * 1 unless the stack says: a fused kernel); a backward launches as many. */
    wl_kernel_bytes eager_launches, compiled_launches;
} wl_stack;

/* The stack a system runs when its description names none. */
#define WL_DEFAULT_STACK "megatron-core"
#define WL_DEFAULT_TRAINIUM_STACK "neuronx-distributed"

/* The stack a system runs unless told: the one it names, else the default
 * for its chips (systolic: Trainium's). */
const char *wl_default_stack(const hw_system *sys);

/* The chips a stack runs on: any, GPUs (CUDA kernels) or Trainium. */
enum wl_stack_platform { WL_ON_ANY, WL_ON_GPU, WL_ON_TRAINIUM };
extern const char *const wl_stack_platform_names[];

/* Loads a stack preset (data/stacks/NAME.json) or a stack JSON file. */
usim_status wl_stack_load(const char *name_or_file, wl_stack *out, usim_error *err);

/* The attention kernel a stack runs a model with (its sink_attention for a
 * model with attention sinks, when it names one). */
int wl_stack_attention(const wl_stack *s, const wl_model *m);

/* Bytes per element a stack's kernels move to cast an FP8 GEMM input under
 * recipe (wl_fp8_recipe); 0 when the stack has no such recipe. */
double wl_stack_fp8_cast_bytes(const wl_stack *s, int recipe);

/* The same cast on a chip: less the transposed copy (fp8_transpose_bytes)
 * of a tensor-scaled recipe where the chip's FP8 GEMMs take any layout
 * (block-scaled recipes write both copies everywhere: their scales are
 * directional), and
 * less current scaling's amax pass (fp8_activation_amax_bytes) where an
 * activation kernel already took the amax of the input. */
double wl_stack_cast_bytes_on(const wl_stack *s, int recipe, bool any_layout, bool amax_taken);

/* The kernel figures a run uses: the compiled ones when it compiles. */
const wl_kernel_bytes *wl_stack_kernels(const wl_stack *s, bool compiled);
/* The same, in kernel launches (wl_stack.eager_launches). */
const wl_kernel_bytes *wl_stack_kernel_launches(const wl_stack *s, bool compiled);
/* The pipeline schedule: 1F1B (interleaved when vp > 1), or ZB-H1 (Qi et
 * al., "Zero Bubble Pipeline Parallelism", ICLR 2024), which splits each
 * backward into its input-gradient half B and its weight-gradient half W and
 * lets the W wait to fill what would be a bubble. */
typedef enum wl_schedule { WL_SCHED_1F1B, WL_SCHED_ZB_H1 } wl_schedule;
extern const char *const wl_schedule_names[];

/* How MoE tokens travel to their experts: one copy per (token, expert) in an
 * all-to-all (Megatron-Core's alltoall dispatcher), or DeepEP's normal
 * kernels (Megatron-Core's flex dispatcher): one copy per (token,
 * destination scale-up domain) over the scale-out network, fanned out to
 * the experts over the domain's own links. */
typedef enum wl_dispatcher { WL_DISPATCH_ALLTOALL, WL_DISPATCH_DEEPEP } wl_dispatcher;
extern const char *const wl_dispatcher_names[];

/* The share of a flat all-to-all's scale-out copies DeepEP sends when an EP
 * group spans `domains` scale-up domains: the expected number of distinct
 * domains among a token's top-k experts, over k (routing balanced, at most
 * groups_per_token groups of expert_groups when the model limits it; 1 when
 * the group stays in one domain). */
double wl_dispatch_share(const wl_model *m, int domains);

#define WL_MAX_VP 1024 /* virtual stages a pipeline rank may hold */

typedef struct wl_plan {
    int tp, pp, dp, cp, ep;
    /* Expert tensor parallel: chips splitting each expert (Megatron-Core's
     * --expert-tensor-parallel-size); 0 = TP, or 1 when EP fits only folded.
     * Below TP the experts' groups fold over TP x CP x DP (MoE parallel
     * folding). */
    int etp;
    int vp;              /* virtual stages per pipeline rank (interleaved when > 1; WL_MAX_VP) */
    /* Contiguous micro-batches an interleaved rank runs through each chunk
     * (Megatron-Core's microbatch_group_size_per_vp_stage, the Llama 3
     * paper's N); 0 = PP, Megatron's own. */
    int vp_group;
    /* The embedding and the loss take a layer's place in the pipeline split
     * (Megatron-Core's account_for_embedding_in_pipeline_split and
     * account_for_loss_in_pipeline_split): the first virtual stage holds one
     * layer fewer, the last one too. */
    bool embedding_slot, loss_slot;
    int schedule;        /* wl_schedule; ZB-H1 with vp = 1 only */
    int moe_dispatcher;  /* wl_dispatcher: how MoE tokens reach their experts */
    int mbs;             /* micro-batch size, sequences */
    int64_t gbs;         /* global batch, sequences */
    int64_t seq;
    usim_dtype dtype;    /* matmul input type; activations stay 16-bit */
    int fp8_recipe;      /* wl_fp8_recipe, with dtype FP8 */
    int recompute;       /* wl_recompute */
    /* With full recomputation, the layers of each model chunk recomputed,
     * its first ones, the rest keeping everything (Megatron-Core's
     * recompute_method block with recompute_num_layers); 0: all. */
    int recompute_layers;
    /* Layers whose activations go to host memory after their forward and
     * come back for their backward (Megatron-Core's
     * --cpu-offloading-num-layers; 0: none), the first ones of the model. */
    int cpu_offload_layers;
    bool sp;             /* sequence parallel (with TP) */
    int zero;            /* 0..3 */
    /* ZeRO's shard group, the first dp_shard ranks of DP x CP, its state
     * replicated over the rest (HSDP: PyTorch's dp_shard and dp_replicate,
     * Megatron-Core's num_distributed_optimizer_instances); 0: all of them. */
    int dp_shard;
    bool overlap_grad_reduce;   /* DP gradient reduce with backward */
    bool overlap_param_gather;  /* ZeRO parameter all-gather with forward */
    bool overlap_tp_comm;       /* TP collectives hidden behind GEMMs */
    bool overlap_ep_comm;       /* EP all-to-alls hidden behind the pass's other work */
    int tp_cores;        /* Trainium: TP counted in NeuronCores (0 = chips) */
    int attention;       /* engine_attention_kernel: 0 fused (default), 2 unfused */
    wl_stack stack;      /* the software stack that runs the plan */
    bool compile;        /* the stack compiles its graph (stack.has_compiled) */
} wl_plan;

/* Sets what a plan runs as its stack (p->stack) runs it by default for
 * model m: whether it compiles, its attention kernel, its TP and EP
 * communication overlap. */
void wl_plan_stack_defaults(wl_plan *p, const wl_model *m);

/* Of a model chunk of `layers` layers, those recomputed whole: all under
 * full recomputation, or its first recompute_layers (Megatron-Core's block
 * method); none otherwise. */
int wl_recomputed_layers(const wl_plan *p, int layers);

/* Expert tensor parallel as used (etp; when 0, TP if EP divides DP x CP,
 * else 1), and the data-parallel
 * replicas of an expert: TP x CP x DP / (EP x ETP). */
int wl_plan_etp(const wl_plan *p);

/* ZeRO-3 as a pipeline-parallel stack runs it: weights gathered once a step
 * and kept, gradients accumulated unsharded and reduced after the last
 * backward, instead of both every micro-batch. */
bool wl_plan_zero3_per_step(const wl_plan *p);
double wl_expert_dp(const wl_plan *p);

/* The ranks ZeRO shards over: dp_shard, or all of DP x CP. */
int wl_plan_zero_shard(const wl_plan *p);

/* The share of a layer's forward matmul FLOPs that the plan's selective
 * recomputation runs again in the backward (0 for the attention core only). */
double wl_selective_matmul_share(const wl_model *m, const wl_plan *p);

/* Micro-batches per pipeline per step: gbs / (dp x mbs). */
int64_t wl_plan_microbatches(const wl_plan *p);

/* Layers in model chunk `chunk` of pipeline rank `stage`. Chunk c of rank s
 * is virtual stage v = c x pp + s of pp x vp; when layers do not divide
 * evenly, the first and last virtual stages (which also hold the embedding
 * and the LM head) get the fewer layers, as Llama 3's training did; each
 * multi-token prediction module counts as two layers of the last. */
int wl_chunk_layers(const wl_model *m, const wl_plan *p, int stage, int chunk);

/* Exit 2 when a plan dispatches with DeepEP on a model without experts. */
usim_status wl_check_dispatcher(const wl_model *m, const wl_plan *p, usim_error *err);

/* Checks the plan against the model and chip count: degrees divide what they
 * split, the batch divides into micro-batches. */
usim_status wl_plan_check(const wl_plan *p, const wl_model *m, int chips, usim_error *err);

/* ---- pipeline schedules --------------------------------------------- */

/* One entry of a pipeline rank's program: forward or backward of a
 * micro-batch through one of the rank's model chunks (virtual stages). Under
 * ZB-H1 a backward is its input-gradient half only and `weight` marks the
 * weight-gradient half, a separate entry. `paired`: a forward or backward
 * that runs next to a pass of another micro-batch, one of the steady state's
 * forward-backward pairs (a stack that overlaps expert all-to-alls merges
 * them); warm-up forwards and cool-down backwards run alone. */
typedef struct wl_pipe_op {
    int64_t microbatch;
    int chunk;
    bool backward;
    bool weight;
    bool paired;
} wl_pipe_op;

/* Micro-batches an interleaved schedule (vp > 1) runs through one virtual
 * stage before the next: `group`, or pp when it is 0 (Megatron-Core's
 * microbatch_group_size_per_vp_stage default). */
int64_t wl_vp_group_size(int pp, int group);

/* Entries in one pipeline rank's program: 2 x m x vp, 3 x m under ZB-H1. */
int64_t wl_pipeline_ops(int vp, int64_t m, wl_schedule schedule);

/* The order in which pipeline rank `stage` of pp runs its ops: 1F1B
 * (vp = 1), Megatron's interleaved 1F1B (vp > 1, m a multiple of pp,
 * micro-batches in groups of `group`, 0 for pp) or ZB-H1 (vp = 1). out must
 * hold wl_pipeline_ops entries. */
void wl_pipeline_order(int pp, int vp, int group, int64_t m, int stage, wl_schedule schedule,
                       wl_pipe_op *out);

/* The most chunk-forwards rank `stage` holds activations for at once (a
 * forward whose weight gradient waits still holds its layers' inputs). */
int64_t wl_pipeline_max_inflight(int pp, int vp, int group, int64_t m, int stage,
                                 wl_schedule schedule);
/* The most rank `stage` holds at once, walking its program: each forward
 * adds its chunk's share (chunk_layers[c], vp entries: layers, or their
 * bytes), each backward frees it. */
double wl_pipeline_peak_layers(int pp, int vp, int group, int64_t m, int stage,
                               wl_schedule schedule, const double *chunk_layers);

/* ---- memory --------------------------------------------------------- */

typedef struct wl_memory {
    double weights, gradients, optimizer, activations, temporary, reserve;
    double total;
    int worst_stage; /* the pipeline stage that needs the most */
} wl_memory;

/* Parameters one chip of pipeline rank `stage` holds (before ZeRO sharding):
 * dense ones split by TP, expert ones by TP and EP. */
typedef struct wl_stage_params {
    double dense;    /* per chip, after TP */
    double experts;  /* per chip, after TP and EP */
    double largest_layer; /* per chip */
} wl_stage_params;

wl_stage_params wl_stage_params_of(const wl_model *m, const wl_plan *p, int stage);

/* Parameters of model chunk `chunk` of pipeline rank `stage`, per chip. */
wl_stage_params wl_chunk_params_of(const wl_model *m, const wl_plan *p, int stage, int chunk);

/* Bytes per chip on the stage that needs the most (usually the first). */
wl_memory wl_memory_per_chip(const wl_model *m, const wl_plan *p);

/* Activation bytes of one layer for one micro-batch on one chip
 * (Korthikanti et al. 2022, generalised to GQA and gated MLPs): an expert
 * layer's when the model has any. */
double wl_layer_activation_bytes(const wl_model *m, const wl_plan *p);
/* The same for layer `layer` (0-based) as it is: dense or experts. */
double wl_layer_activation_bytes_of(const wl_model *m, const wl_plan *p, int layer);

#ifdef __cplusplus
}
#endif
#endif
