/*
 * `ultrasim attention`: what one attention core (QK^T, softmax, PV: a
 * FlashAttention-style fused kernel, or the other kernels train and serve can
 * name) costs on a chip, forward or backward, and why.
 *
 *   ultrasim attention --seq S [--hw trn2] [--batch B] [--heads H] [--kv-heads K]
 *                      [--kv-len L] [--head-dim D] [--causal] [--pass forward|backward]
 *                      [--dtype bf16] [--attention fused] [--window W] [--json]
 *
 * It is the same engine call train and serve make for each layer, so the
 * kernel model can be checked on its own against attention benchmarks
 * (validation/attention.csv) before it is trusted inside a step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/engine.h"
#include "ultrasim/hw.h"

extern const api_command api_cmd_attention;

static const char *const DTYPES[] = {"bf16", "fp16", "fp8", NULL};
static const usim_dtype DTYPE_OF[] = {USIM_BF16, USIM_FP16, USIM_FP8};
static const char *const PASSES[] = {"forward", "backward", NULL};

#define ATTN_DEFAULT_HW "trn2"
#define ATTN_MAX_LEN 16777216
#define ATTN_MAX_HEADS 65536

/* The operation a request describes; its kv_heads divide its heads. */
static usim_status read_op(json_t *req, engine_attention_op *op, usim_error *err)
{
    const usim_command *cmd = &api_cmd_attention.info;
    usim_status st = USIM_OK;
    memset(op, 0, sizeof *op);
    op->batch = api_next_int(cmd, req, "batch", 1, &st, err);
    op->heads = api_next_int(cmd, req, "heads", 16, &st, err);
    op->q_len = api_next_int(cmd, req, "seq", 1, &st, err);
    op->head_dim = api_next_int(cmd, req, "head-dim", 128, &st, err);
    op->window = api_next_int(cmd, req, "window", 0, &st, err);
    op->kv_heads = api_next_int(cmd, req, "kv-heads", op->heads, &st, err);
    op->kv_len = api_next_int(cmd, req, "kv-len", op->q_len, &st, err);
    op->backward = api_next_choice(cmd, req, "pass", &st, err) == 1;
    op->dtype = DTYPE_OF[api_next_choice(cmd, req, "dtype", &st, err)];
    op->kernel = (engine_attention_kernel)api_next_choice(cmd, req, "attention", &st, err);
    op->causal = api_flag(req, "causal");
    if (st != USIM_OK)
        return st;
    if (op->heads % op->kv_heads != 0)
        return usim_fail_field(err, USIM_EINPUT, "kv-heads",
                               "%lld does not divide --heads %lld: grouped-query attention "
                               "gives each KV head the same number of query heads",
                               (long long)op->kv_heads, (long long)op->heads);
    if (op->causal && op->kv_len < op->q_len)
        return usim_fail_field(err, USIM_EINPUT, "kv-len",
                               "%lld is shorter than --seq %lld: causal queries are the last "
                               "seq of kv-len positions, so kv-len must be at least seq",
                               (long long)op->kv_len, (long long)op->q_len);
    return USIM_OK;
}

/* Q, K, V and the output (a backward also dO, dQ, dK and dV) must fit in the
 * chip's HBM, in at least 16 bits: no chip runs a million-token batch of a
 * thousand sequences. */
static usim_status check_fits(const hw_chip *chip, const engine_attention_op *op,
                              usim_error *err)
{
    double el = fmax(2.0, usim_dtype_bytes(op->dtype));
    double bytes = el * (double)op->batch * (double)op->head_dim *
                   (2.0 * (double)op->heads * (double)op->q_len +
                    2.0 * (double)op->kv_heads * (double)op->kv_len) *
                   (op->backward ? 2.0 : 1.0);
    double hbm = chip->hbm.capacity_bytes;
    if (hbm <= 0 || bytes <= hbm)
        return USIM_OK;
    char need[32], have[32];
    usim_format_quantity(bytes, USIM_UNIT_BYTES, need, sizeof need);
    usim_format_quantity(hbm, USIM_UNIT_BYTES, have, sizeof have);
    return usim_fail_field(err, USIM_EINPUT, "seq",
                           "%lld sequences of %lld queries x %lld keys, %lld heads: Q, K, V "
                           "and the output%s need %s, more than %s's %s of HBM (allowed: "
                           "tensors that fit it)",
                           (long long)op->batch, (long long)op->q_len, (long long)op->kv_len,
                           (long long)op->heads, op->backward ? " with their gradients" : "",
                           need, chip->name, have);
}

/* How the cores spend the compute time: the products, the softmax and how
 * much of it runs beside them; FlashAttention-2's own rate where it binds. */
static void compute_reasons(json_t *w, const hw_chip *chip, const engine_attention_op *op,
                            const engine_cost *c, engine_attention_parts p)
{
    if (!(p.tensor_s > 0))
        return;
    if (chip->matrix.kind == HW_MATRIX_SYSTOLIC) {
        api_why(w, "PE arrays %.2f us on the products; vector and scalar engines %.2f us beside "
                   "them; the arrays' fill and drain %.2f us",
                p.tensor_s * 1e6, p.softmax_s * 1e6, p.fill_s * 1e6);
    } else {
        api_why(w, "tensor cores %.2f us on the products; softmax %.2f us (exponentials on the "
                   "special-function units, row operations on the lanes), %.0f%% of it beside "
                   "the products (%s)",
                p.tensor_s * 1e6, p.softmax_s * 1e6, 100.0 * p.hidden_s / p.softmax_s,
                op->backward ? "a backward runs it after them, as FlashAttention-2 does"
                             : "matrix.softmax_overlap");
    }
    double parts = p.tensor_s + p.softmax_s - p.hidden_s + p.fill_s;
    if (c->compute_s > parts * (1 + 1e-9))
        api_why(w, "no faster than FlashAttention-2's own benchmarks on %s: %.1f%% of the "
                   "16-bit peak (matrix.flash2_efficiency%s)",
                chip->name,
                100.0 * (op->backward && chip->matrix.flash2_efficiency_backward > 0
                             ? chip->matrix.flash2_efficiency_backward
                             : chip->matrix.flash2_efficiency),
                op->backward && chip->matrix.flash2_efficiency_backward > 0 ? "_backward" : "");
}

static json_t *reasons(const hw_chip *chip, const engine_attention_op *op, const engine_cost *c,
                       engine_attention_parts parts)
{
    json_t *w = json_array();
    api_why(w, "%s %s: %.4g TFLOP counted (%s%s)", api_attention_choices[op->kernel],
        op->backward ? "backward" : "forward", c->flops / 1e12,
        op->backward ? "10 x head_dim a (query, key) pair: five products with the scores "
                       "recomputed"
                     : "4 x head_dim a (query, key) pair: QK^T and PV",
        op->causal ? "; causal: the pairs above the diagonal are not counted" : "");
    if (isfinite(c->compute_s)) {
        compute_reasons(w, chip, op, c, parts);
        api_why(w, "%s-bound: the cores %.2f us, HBM %.3g MB in %.2f us",
                engine_bound_name(c->bound), c->compute_s * 1e6, c->bytes / 1e6,
                c->memory_s * 1e6);
    }
    return w;
}

static usim_status attention_run(json_t *req, json_t **result, usim_error *err)
{
    engine_attention_op op;
    usim_status st = read_op(req, &op, err);
    hw_system *sys = st == USIM_OK ? calloc(1, sizeof *sys) : NULL;
    if (st == USIM_OK && !sys)
        st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = api_load_system(&api_cmd_attention.info, req, sys, err);
    if (st == USIM_OK)
        st = check_fits(&sys->chip, &op, err);
    if (st != USIM_OK) {
        free(sys);
        return st;
    }
    const hw_chip *chip = &sys->chip;
    engine_cost c = engine_attention(chip, &op);
    double peak = hw_per_dtype_get(&chip->dense_flops, op.dtype);
    json_t *out = api_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:s, s:s, s:I}", "hw",
        chip->name, "pass", PASSES[op.backward], "batch", (json_int_t)op.batch, "heads",
        (json_int_t)op.heads, "kv_heads", (json_int_t)op.kv_heads, "seq", (json_int_t)op.q_len,
        "kv_len", (json_int_t)op.kv_len, "head_dim", (json_int_t)op.head_dim, "causal",
        op.causal, "dtype", usim_dtype_name(op.dtype), "attention",
        api_attention_choices[op.kernel], "bound", engine_bound_name(c.bound), "window",
        (json_int_t)op.window);
    api_put_real(out, "seconds", c.seconds);
    api_put_real(out, "launch_s", engine_attention_launches_s(chip, &op));
    api_put_real(out, "compute_s", c.compute_s);
    api_put_real(out, "memory_s", c.memory_s);
    api_put_real(out, "flops", c.flops);
    api_put_real(out, "bytes", c.bytes);
    api_put_real(out, "flops_per_s", c.seconds > 0 ? c.flops / c.seconds : NAN);
    api_put_real(out, "peak_flops", peak > 0 ? peak : NAN);
    api_put_real(out, "utilisation", c.utilisation);
    engine_attention_parts parts = engine_attention_explain(chip, &op);
    json_object_set_new(out, "parts",
                        api_pack("{s:f, s:f, s:f, s:f}", "tensor_s", parts.tensor_s, "softmax_s",
                                 parts.softmax_s, "softmax_hidden_s", parts.hidden_s, "fill_s",
                                 parts.fill_s));
    if (!isfinite(c.seconds)) { /* no matrix units: the times do not exist */
        static const char *const NONE[] = {"seconds", "compute_s", "flops_per_s", "utilisation"};
        char reason[256];
        api_put_no_matrix_units(out, chip->name, usim_dtype_name(op.dtype), NONE,
                                sizeof NONE / sizeof NONE[0], reason, sizeof reason);
    }
    json_object_set_new(out, "why", reasons(chip, &op, &c, parts));
    api_system_warnings(out, sys);
    free(sys);
    *result = out;
    return USIM_OK;
}

/* ---- text --------------------------------------------------------------- */

static void quantity(json_t *res, const char *key, usim_unit unit, char *buf, size_t size)
{
    double v = api_number(res, key);
    if (isfinite(v))
        usim_format_quantity(v, unit, buf, size);
    else
        snprintf(buf, size, "n/a");
}

static usim_status attention_render(json_t *res, usim_buf *b, usim_error *err)
{
    (void)err;
    char t[32], f[32], p[32], by[32];
    quantity(res, "seconds", USIM_UNIT_SECONDS, t, sizeof t);
    quantity(res, "flops_per_s", USIM_UNIT_FLOPS, f, sizeof f);
    quantity(res, "peak_flops", USIM_UNIT_FLOPS, p, sizeof p);
    quantity(res, "bytes", USIM_UNIT_BYTES, by, sizeof by);
    usim_buf_printf(b,
                    "attention %s, %s kernel: batch %.0f, %.0f heads (%.0f KV), %.0f queries x "
                    "%.0f keys, head dim %.0f%s, %s, on %s\n\n",
                    json_string_value(json_object_get(res, "pass")),
                    json_string_value(json_object_get(res, "attention")),
                    api_number(res, "batch"), api_number(res, "heads"),
                    api_number(res, "kv_heads"), api_number(res, "seq"),
                    api_number(res, "kv_len"), api_number(res, "head_dim"),
                    json_is_true(json_object_get(res, "causal")) ? ", causal" : "",
                    json_string_value(json_object_get(res, "dtype")),
                    json_string_value(json_object_get(res, "hw")));
    const char *none = json_string_value(json_object_get(res, "seconds_reason"));
    if (none)
        usim_buf_printf(b, "  %-12s n/a (%s)\n", "result", none);
    else
        usim_buf_printf(b, "  %-12s %s, %s, %.1f%% of the chip's %s peak, %s moved\n", "result",
                        t, f, 100.0 * api_number(res, "utilisation"), p, by);
    json_t *w = json_object_get(res, "why"), *it;
    size_t i;
    usim_buf_puts(b, "\nWhy:\n");
    json_array_foreach(w, i, it)
    {
        usim_buf_printf(b, "  - %s\n", json_string_value(it));
    }
    return USIM_OK;
}

/* ---- the command ---------------------------------------------------------- */

#define COUNT_OPTION(name_, help_, default_, max_)                                         \
    {name_, USIM_OPT_INT, USIM_UNIT_NONE, "N", help_, default_, NULL, 1, max_, false, false}

static const usim_option ATTENTION_OPTIONS[] = {
    {"hw", USIM_OPT_STRING, USIM_UNIT_NONE, "NAME|FILE", "chip or system preset, or JSON file",
     ATTN_DEFAULT_HW, NULL, 0, 0, false, true},
    {"seq", USIM_OPT_INT, USIM_UNIT_NONE, "S", "queries a sequence (tokens)", NULL, NULL, 1,
     ATTN_MAX_LEN, true, false},
    COUNT_OPTION("batch", "sequences", "1", 1048576),
    COUNT_OPTION("heads", "query heads", "16", ATTN_MAX_HEADS),
    COUNT_OPTION("kv-heads", "key/value heads (grouped-query attention; default: --heads)", NULL,
                 ATTN_MAX_HEADS),
    COUNT_OPTION("kv-len", "keys a sequence (default: --seq)", NULL, ATTN_MAX_LEN),
    COUNT_OPTION("head-dim", "dimension of a head", "128", 1024),
    {"causal", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,
     "causal mask: a query sees only the keys up to its own position", NULL, NULL, 0, 0, false,
     false},
    {"pass", USIM_OPT_CHOICE, USIM_UNIT_NONE, "PASS",
     "forward, or backward (the gradient pass: a fused kernel recomputes the scores)",
     "forward", PASSES, 0, 0, false, false},
    {"dtype", USIM_OPT_CHOICE, USIM_UNIT_NONE, "TYPE", "Q, K and V data type", "bf16", DTYPES,
     0, 0, false, false},
    {"attention", USIM_OPT_CHOICE, USIM_UNIT_NONE, "KERNEL",
     "kernel: fused (flash-style: FlashAttention-3 and -4, cuDNN, NKI), per-head (each query "
     "head reads its K/V), unfused (scores through HBM) or flash2 (FlashAttention-2 at its "
     "measured rate on the chip)",
     "fused", api_attention_choices, 0, 0, false},
    {"window", USIM_OPT_INT, USIM_UNIT_NONE, "W",
     "sliding window: a query sees only the last W keys (0: all)", "0", NULL, 0, ATTN_MAX_LEN,
     false, false},
};

const api_command api_cmd_attention = {
    {"attention", "cost of an attention core (fused or not) on a chip, forward or backward",
     "ultrasim attention --seq S [--hw trn2] [--batch B] [--heads H] [--kv-heads K] "
     "[--kv-len L] [--head-dim D] [--causal] [--pass forward|backward] [--dtype bf16] "
     "[--attention fused] [--window W] [--json]",
     "The attention core of one layer (QK^T, softmax, PV) for batch x heads queries,\n"
     "as train and serve cost it: a fused kernel works in (query tile, key block)\n"
     "pairs on the tensor cores or systolic arrays, with the softmax's exponentials\n"
     "on the special-function units or the scalar engine, and reads Q, K and V once\n"
     "(docs/engine.md). FLOPs count the useful pairs: a causal mask halves them, as\n"
     "FlashAttention's benchmarks count them.",
     NULL, ATTENTION_OPTIONS, sizeof ATTENTION_OPTIONS / sizeof ATTENTION_OPTIONS[0]},
    attention_run,
    attention_render,
};
