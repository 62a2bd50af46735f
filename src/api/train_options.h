/* Options shared by the commands that describe a training run (internal). */
#ifndef USIM_API_TRAIN_OPTIONS_H
#define USIM_API_TRAIN_OPTIONS_H

#include "api/api.h"
#include "ultrasim/hw.h"
#include "ultrasim/workload.h"

/* The largest global batch, sequences: a step simulates every micro-batch,
 * so 10^9 (the old bound) took minutes and tens of GB; published runs use
 * thousands (Llama 3 405B: 2,048 of 8,192 tokens). */
#define API_GBS_MAX 1048576

/* bf16, fp16, fp8, then FP8 under each wl_fp8_recipe from this index on */
extern const char *const api_dtype_choices[];
#define API_DTYPE_FP8_RECIPES 3
extern const char *const api_recompute_choices[];
extern const char *const api_zero_choices[];
extern const char *const api_on_off_choices[];
extern const char *const api_tp_unit_choices[];

/* The software stack of a run (data/stacks) and whether it compiles. */
#define API_OPT_STACK \
    {"stack", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",                                     \
     "software stack (data/stacks: megatron-core, nemo, torchtitan, fsdp, deepspeed, hai-llm, " \
     "neuronx-distributed) or stack JSON; "                                                     \
     "default: the system's own", NULL, NULL, 0, 0, false},                                           \
    {"compile", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                                      \
     "compile the model's graph (torch.compile) where the stack can (default: the stack's own)",\
     NULL, api_on_off_choices, 0, 0, false}

/* The option-table entries of a training run; a command's table starts with
 * them and adds its own. */
#define API_TRAIN_OPTIONS \
    {"model", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE",                                     \
     "model preset ('ultrasim models'), ultrasim model JSON or Hugging Face config.json", NULL, \
     NULL, 0, 0, true, true},                                                                         \
    API_OPT_HW("system preset ('ultrasim hw list') or JSON file"),                              \
    API_OPT_CHIPS,                                                                              \
    API_OPT_NETWORK,                                                                            \
    {"tp", USIM_OPT_INT, USIM_UNIT_NONE, "T", "tensor parallel degree", "1", NULL, 1, 65536,    \
     false},                                                                                    \
    {"pp", USIM_OPT_INT, USIM_UNIT_NONE, "P", "pipeline parallel degree", "1", NULL, 1, 4096,   \
     false},                                                                                    \
    {"dp", USIM_OPT_INT, USIM_UNIT_NONE, "D", "data parallel degree (default: chips / (TP x PP x CP))",\
     NULL, NULL, 1, 4194304, false},                                                            \
    {"cp", USIM_OPT_INT, USIM_UNIT_NONE, "C", "context parallel degree", "1", NULL, 1, 4096,    \
     false},                                                                                    \
    {"ep", USIM_OPT_INT, USIM_UNIT_NONE, "E",                                                   \
     "expert parallel degree (within DP x CP; with --etp below TP, within TP x CP x DP)", "1",  \
     NULL, 1, 65536, false},                                                                    \
    {"etp", USIM_OPT_INT, USIM_UNIT_NONE, "E",                                                  \
     "expert tensor parallel (Megatron-Core's --expert-tensor-parallel-size): 1, experts "      \
     "whole and EP folded over TP x CP x DP, or TP, experts split as the dense layers "         \
     "(default TP, or 1 when EP fits only folded)",                                             \
     NULL, NULL, 1, 65536, false},                                                              \
    {"vp", USIM_OPT_INT, USIM_UNIT_NONE, "V", "virtual pipeline stages per rank (interleaved 1F1B)",\
     "1", NULL, 1, 1024, false},                                                                \
    {"microbatch-group-size-per-virtual-pipeline-stage", USIM_OPT_INT, USIM_UNIT_NONE, "N",    \
     "with --vp, the contiguous micro-batches each chunk runs before the next (the Llama 3 "    \
     "paper's schedule; Megatron-Core's option; default PP, Megatron's interleaving)", NULL,   \
     NULL, 1, 65536, false},                                                                    \
    {"account-for-embedding-in-pipeline-split", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,            \
     "the embedding takes a layer's place on the first virtual stage (Megatron-Core's option; " \
     "with the loss's, on by itself where PP x VP is the layers + 2, the one split that runs)", \
     NULL, NULL, 0, 0, false},                                                                  \
    {"account-for-loss-in-pipeline-split", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,                 \
     "the output layer and loss take a layer's place on the last virtual stage "               \
     "(Megatron-Core's option)", NULL, NULL, 0, 0, false},                                      \
    {"schedule", USIM_OPT_CHOICE, USIM_UNIT_NONE, "NAME",                                       \
     "pipeline schedule: 1f1b (interleaved with --vp > 1), or zb-h1, zero bubble: each "        \
     "backward split in its input-gradient and weight-gradient halves, the latter filling "     \
     "the bubbles (--vp 1)", "1f1b", wl_schedule_names, 0, 0, false},                           \
    {"mtp-layers", USIM_OPT_INT, USIM_UNIT_NONE, "N",                                           \
     "multi-token prediction modules trained beside the model (Megatron-Core's "               \
     "--mtp-num-layers; default: the model's, 1 for DeepSeek-V3)", NULL, NULL, 0, 16, false},  \
    {"moe-dispatcher", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KIND",                                 \
     "how MoE tokens reach their experts: alltoall (a copy per token and expert), or deepep "   \
     "(DeepEP, Megatron-Core's flex dispatcher: a copy per token and destination scale-up "     \
     "domain over the scale-out network, fanned out inside it); default: the stack's "          \
     "(deepep for hai-llm)", NULL, wl_dispatcher_names, 0, 0, false},                            \
    {"mbs", USIM_OPT_INT, USIM_UNIT_NONE, "B", "micro-batch size, sequences", "1", NULL, 1, 65536,\
     false},                                                                                    \
    {"gbs", USIM_OPT_INT, USIM_UNIT_NONE, "G", "global batch size, sequences", NULL, NULL, 1,   \
     API_GBS_MAX, true},                                                                        \
    {"seq", USIM_OPT_INT, USIM_UNIT_NONE, "S", "sequence length, tokens", NULL, NULL, 1, 16777216,\
     true},                                                                                     \
    {"dtype", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE",                                          \
     "matrix-multiply input type; fp8-ds, fp8-cs and fp8-mx are FP8 with the delayed, current " \
     "or mxfp8 recipe, as NVIDIA's tables write them", "bf16",                                  \
     api_dtype_choices, 0, 0, false},                                                           \
    {"fp8-recipe", USIM_OPT_CHOICE, USIM_UNIT_NONE, "RECIPE",                                   \
     "with --dtype fp8, how each GEMM input is scaled: delayed (amax history), current (its "   \
     "own amax: FP8-CS), mxfp8 (a scale per 32 elements: FP8-MX, chips with FP4 tensor cores) " \
     "or blockwise (DeepSeek-V3's 1 x 128 blocks); default: the stack's",                     \
     NULL, wl_fp8_recipe_names, 0, 0, false},                                                   \
    {"recompute", USIM_OPT_CHOICE, USIM_UNIT_NONE, "MODE",                                      \
     "activation recomputation; unless given, selective, where that does not fit with the "    \
     "cheap modules added (layernorm, moe_act, mla_up_proj, as recipes add them), else full "  \
     "on the fewest layers of each chunk that fits (as a recipe sets recompute_num_layers)",    \
     "selective", api_recompute_choices, 0, 0, false},                                          \
    {"recompute-layers", USIM_OPT_INT, USIM_UNIT_NONE, "N",                                     \
     "with --recompute full, recompute only the first N layers of each model chunk, the rest "  \
     "keeping everything (Megatron-Core's --recompute-method block --recompute-num-layers N, "  \
     "as NVIDIA's recipes set recompute_num_layers); default: every layer", NULL, NULL, 1,    \
     100000, false},                                                                            \
    {"recompute-modules", USIM_OPT_STRING, USIM_UNIT_NONE, "LIST",                              \
     "what selective recomputation rebuilds, as Megatron-Core's --recompute-modules names it "  \
     "(comma-separated: core_attn, layernorm, mla_up_proj, moe_act, mlp, moe: a MoE layer "     \
     "whole); default: the stack's",                                                            \
     NULL, NULL, 0, 0, false},                                                                  \
    {"cpu-offload-layers", USIM_OPT_INT, USIM_UNIT_NONE, "N",                                   \
     "keep the first N layers' activations in host memory from their forward to their "        \
     "backward (Megatron-Core's --cpu-offloading-num-layers; PP 1, no recomputation: "         \
     "--recompute defaults to none with it)", "0", NULL, 0, 100000, false},                     \
    {"sp", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,                                               \
     "sequence parallelism with TP (the default when TP > 1)", NULL, NULL, 0, 0, false},       \
    {"no-sp", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL, "no sequence parallelism", NULL, NULL, 0, 0, \
     false},                                                                                    \
    {"zero", USIM_OPT_CHOICE, USIM_UNIT_NONE, "N", "ZeRO stage (1 = distributed optimizer)", "1",\
     api_zero_choices, 0, 0, false},                                                            \
    {"dp-shard", USIM_OPT_INT, USIM_UNIT_NONE, "N",                                             \
     "HSDP: ZeRO shards over N neighbouring DP x CP ranks and replicates across the rest, "     \
     "gradients all-reduced between replicas (torchtitan's data_parallel_shard_degree x CP, "   \
     "Megatron-Core's num_distributed_optimizer_instances = DP x CP / N); default: all of DP x CP",\
     NULL, NULL, 1, 1048576, false},                                                            \
    {"overlap-grad-reduce", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                          \
     "reduce gradients during the backward", "on", api_on_off_choices, 0, 0, false},            \
    {"overlap-param-gather", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                         \
     "gather ZeRO-sharded weights during the forward", "on", api_on_off_choices, 0, 0, false},  \
    {"overlap-tp-comm", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                              \
     "hide TP collectives behind GEMMs (Megatron-Core's userbuffers, both passes; "           \
     "torchtitan's async TP, the forward's only and with --compile on); default: the "         \
     "stack's (on for megatron-core and nemo)", NULL, api_on_off_choices, 0, 0, false},        \
    {"overlap-ep-comm", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                              \
     "run EP all-to-alls beside compute as DeepSeek-V3's DualPipe pairs them (each beside a "  \
     "block of the paired forward or backward chunk, its kernels holding the stack's "          \
     "ep_comm_sms); default: the stack's (on for hai-llm)",                                     \
     NULL, api_on_off_choices, 0, 0, false},                                                    \
    {"tp-unit", USIM_OPT_CHOICE, USIM_UNIT_NONE, "UNIT",                                        \
     "what --tp counts on Trainium: chips, or logical NeuronCores", "chip", api_tp_unit_choices, 0, 0,\
     false},                                                                                    \
    API_OPT_STACK,                                                                              \
    API_OPT_ATTENTION

typedef struct api_train_setup_t {
    wl_model model;
    hw_system sys;
    wl_plan plan;
    bool recompute_given; /* --recompute, --recompute-modules or offload named */
    double selective_bytes; /* > 0: selective did not fit this per chip, so full was chosen */
    /* Selective modules added to the stack's own so the plan fits ("" when
     * none), and what the stack's own would need per chip. */
    char modules_added[48];
    double stack_modules_bytes;
    double full_bytes;      /* > 0: full on every layer was tried and needs this per chip */
} api_train_setup_t;

/* Reads --stack, --compile and --moe-dispatcher into p (the system's stack
 * by default), and the stack's defaults for what the run does not say (for
 * model m). */
usim_status api_read_stack(const usim_command *cmd, json_t *req, const hw_system *sys,
                           const wl_model *m, wl_plan *p, usim_error *err);

/* --fp8-recipe, or the recipe a --dtype names (named: a wl_fp8_recipe, or
 * -1), into p after its stack's defaults: one the stack has, MX scales only
 * on chips with FP4 tensor cores, a recipe only with FP8 (exit 2). */
usim_status api_read_fp8_recipe(const usim_command *cmd, json_t *req, const hw_system *sys,
                                int named, wl_plan *p, usim_error *err);

/* Whether the plan runs and fits, before its step is simulated (a plan of
 * 262,144 micro-batches on 8 pipeline stages took 12 s and 1.9 GB to be
 * refused as too big): the plan's own errors first, then "does not fit"
 * with its parts and what would shrink them. Where the run named no
 * recomputation and selective does not fit, full recomputation of the
 * fewest layers that fits is chosen first (s->selective_bytes says so). */
usim_status api_train_check(api_train_setup_t *s, usim_error *err);

/* Reads model, system and plan from a request holding api_train_options. */
usim_status api_train_setup(const usim_command *cmd, json_t *req, api_train_setup_t *out,
                            usim_error *err);

#endif
