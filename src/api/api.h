/*
 * The front door's internals: each command is an api_command, a public
 * usim_command (name, options, help) plus the function that answers a request
 * and the one that renders its result as text. A command lives in its own
 * file (src/api/cmd_*.c) and is listed once in commands.c.
 */
#ifndef USIM_API_H
#define USIM_API_H

#include <jansson.h>

#include "core/buf.h"
#include "ultrasim/ultrasim.h"

typedef usim_status (*api_handler)(json_t *request, json_t **result, usim_error *err);
typedef usim_status (*api_renderer)(json_t *result, usim_buf *out, usim_error *err);

typedef struct api_command {
    usim_command info; /* first: a usim_command * points here */
    api_handler run;
    api_renderer render;
} api_command;

const api_command *api_command_find(const char *name);

/* Writes doc as indented JSON (plus jansson flags) and a final newline to
 * path, atomically: a failed write leaves nothing half-written. */
usim_status api_write_json(const char *path, json_t *doc, size_t flags, usim_error *err);

/* Writes the HTML page of a result (report command, --report), embedding
 * the Perfetto trace at trace_path when not NULL. */
usim_status api_write_report(json_t *result, const char *trace_path, const char *path,
                             usim_error *err);

/* Runs a parsed request (owned by the caller); *result is new. */
usim_status api_run(json_t *request, json_t **result, usim_error *err);

/* Checks every key of request against cmd's options: unknown keys (with a
 * did-you-mean), missing required options, values of the wrong type or out of
 * range. Handlers may then read options with the getters below. */
usim_status api_validate(const usim_command *cmd, json_t *request, usim_error *err);

/* Getters: the request's value or the option's default, parsed and checked.
 * "Unset" (no value and no default) returns USIM_OK with *present false. */
usim_status api_string(const usim_command *cmd, json_t *req, const char *name,
                       const char **out, usim_error *err);
usim_status api_int(const usim_command *cmd, json_t *req, const char *name, int64_t *out,
                    bool *present, usim_error *err);
usim_status api_quantity(const usim_command *cmd, json_t *req, const char *name, double *out,
                         bool *present, usim_error *err);
usim_status api_choice(const usim_command *cmd, json_t *req, const char *name, int *index,
                       usim_error *err);
bool api_flag(json_t *req, const char *name);

/* Whether a long command shows its progress on stderr: off while a sweep
 * runs commands as its points (the sweep shows its own). */
void api_set_progress(bool on);
bool api_progress_on(void);

/* The getters for a chain of reads: each reads only while *st is USIM_OK and
 * leaves the first failure there. An option with no value and no default
 * reads as def (numbers) or its first choice (index 0). */
int64_t api_next_int(const usim_command *cmd, json_t *req, const char *name, int64_t def,
                     usim_status *st, usim_error *err);
double api_next_quantity(const usim_command *cmd, json_t *req, const char *name, double def,
                         usim_status *st, usim_error *err);
int api_next_choice(const usim_command *cmd, json_t *req, const char *name, usim_status *st,
                    usim_error *err);

/* --report FILE.html: train, serve, goodput, plan and study write their result
 * as one HTML page too (api_run does it). */
#define API_OPT_REPORT                                                                      \
    {"report", USIM_OPT_STRING, USIM_UNIT_NONE, "FILE.html",                               \
     "also write the result as a self-contained HTML page ('ultrasim report')", NULL, NULL, \
     0, 0, false}

/* Common options every simulation command shares. */
#define API_OPT_HW(help_)                                                                   \
    {"hw", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", help_, NULL, NULL, 0, 0, true, true}
#define API_OPT_CHIPS                                                                       \
    {"chips", USIM_OPT_INT, USIM_UNIT_NONE, "N",                                            \
     "chips in the system (default: one scale-up domain of the preset)", NULL, NULL, 1,     \
     4194304, false}
#define API_OPT_NETWORK                                                                     \
    {"network", USIM_OPT_STRING, USIM_UNIT_NONE, "NET",                                     \
     "scale-out network preset or file (default: the system's own)", NULL, NULL, 0, 0,      \
     false}

/* The parts of a training step's breakdown: its JSON key and its label, in
 * train_kind's order, then the pipeline bubble. */
#define API_STEP_PARTS 12
extern const char *const api_step_parts[API_STEP_PARTS][2];

/* How attention runs (engine_attention_kernel, in its order). */
extern const char *const api_attention_choices[];
#define API_OPT_ATTENTION                                                                   \
    {"attention", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KERNEL",                                \
     "attention kernel: fused (flash-style, K/V once per KV head), per-head (each query "  \
     "head reads its K/V: TensorRT-LLM <= 0.6 decode), unfused (scores through HBM: "       \
     "Megatron-LM 2021) or flash2 (FlashAttention-2 at its measured rate: PyTorch SDPA); "  \
     "unless given, the stack's (train) or the engine's (serve) own; a serve decode of "    \
     "latent attention (DeepSeek-V3) runs absorbed over the latent whatever it says",         \
     "fused", api_attention_choices, 0, 0, false}

/* A chip with no matrix units for the dtype named (nor a wider one) never
 * finishes a product: the result's keys[] that would time it are null, each
 * with the reason, which is also written to reason. */
void api_put_no_matrix_units(json_t *obj, const char *chip, const char *dtype,
                             const char *const *keys, size_t n, char *reason, size_t size);

/* The system of a request: its "hw" (a preset, a file, or an inline JSON
 * description from a sweep's "what if"), sized by "chips", joined by
 * "network". */
struct hw_system;
usim_status api_load_system(const usim_command *cmd, json_t *req, struct hw_system *out,
                            usim_error *err);

/* Adds what looks wrong in the system's description (a chip whose arrays
 * outrun its stated peak) to the result's "warnings" array; the CLI prints
 * them to stderr. */
void api_system_warnings(json_t *result, const struct hw_system *sys);

/* The model of a request: "model" names a preset or file, or holds an
 * ultrasim model description inline. */
struct wl_model;
usim_status api_load_model(const usim_command *cmd, json_t *req, struct wl_model *out,
                           usim_error *err);

/* The ranks a Trainium chip holds when a rank is a logical NeuronCore
 * (cores / LNC); any other chip fails naming field (it is one rank). */
usim_status api_ranks_per_chip(const struct hw_system *sys, const char *field, int *per_chip,
                               usim_error *err);

/* NVFP4 weights multiply FP4 by FP4: a chip without FP4 tensor cores
 * refuses them on --weights, naming the chip presets that have them. */
struct hw_chip;
usim_status api_check_fp4(const struct hw_chip *chip, usim_error *err);
/* Reads --prefill-buckets (NxD Inference's context_encoding_buckets) into
 * d, whose engine, model and max_model_len are already set: up to
 * SERVE_MAX_BUCKETS ascending token counts no longer than the longest
 * request, for an engine of compiled buckets; exit 2 otherwise. */
struct serve_deployment;
usim_status api_read_prefill_buckets(const usim_command *cmd, json_t *req,
                                     struct serve_deployment *d, usim_error *err);
/* Loads the engine a serving run uses into e: --engine, else the system's
 * own, else the default. */
struct serve_engine;
usim_status api_load_engine(const usim_command *cmd, json_t *req, const struct hw_system *sys,
                            struct serve_engine *e, usim_error *err);
/* Exit 2 unless the chip's tensor cores take MX block scales (--fp8-recipe
 * mxfp8), naming the chips that do. */
usim_status api_check_mx(const struct hw_chip *chip, usim_error *err);

/* TP counted in logical NeuronCores becomes TP in chips: a chip runs its
 * cores as one device, so TP across them costs no link. */
usim_status api_tp_in_chips(const struct hw_system *sys, int tp_cores, int *tp_chips,
                            usim_error *err);

/* Text helpers shared by renderers. api_number reads an absent or null
 * figure as NaN; api_text_value formats a figure, or "n/a (KEY_reason)". */
void api_text_quantity(usim_buf *b, const char *label, json_t *result, const char *key,
                       usim_unit unit);
void api_text_value(json_t *obj, const char *key, usim_unit unit, char *buf, size_t size);
double api_number(json_t *obj, const char *key);
/* "  LABEL  TIME  SHARE%": a time and its share of whole, label padded to width. */
void api_text_share(usim_buf *b, const char *label, int width, double seconds, double whole);
/* "s" unless n is 1: "1 chip", "8 chips". */
const char *api_plural(double n);
/* A count in T, B, M or K with 4 digits ("1.236 B", "86.85 K", "512"). */
void api_text_count(double n, char *buf, size_t size);

/* Results keep figures that do not exist. jansson refuses NaN and infinity
 * (json_real returns NULL, json_pack fails as a whole and the result is
 * lost), so results are packed by api_pack: json_pack's grammar for
 * s s? n b i I f o o? O O? { } [ ], where a non-finite "f" becomes null and,
 * as an object member KEY, gets a sibling "KEY_reason" unless the result
 * packs its own. Commands build their results with api_pack, never json_pack.
 * api_real is json_real with null for NaN/inf. */
json_t *api_pack(const char *fmt, ...);
json_t *api_real(double v);
/* Appends one printf-formatted line to a result's "why" list (gemm, attention). */
void api_why(json_t *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* obj[key] = v, or null with obj[KEY_reason] (unless already there) when v is not finite. */
void api_put_real(json_t *obj, const char *key, double v);
const char *api_nonfinite_reason(double v);

#endif
