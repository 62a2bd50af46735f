/*
 * Loading a request's system: "hw" names a preset or file, or (from a sweep
 * that varies a hardware figure) holds the whole description inline.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "ultrasim/hw.h"
#include "ultrasim/workload.h"

const char *const api_step_parts[API_STEP_PARTS][2] = {
    {"gemm", "matrix multiplies"}, {"attention", "attention core"},
    {"elementwise", "elementwise"}, {"optimizer", "optimizer"},
    {"host", "host launches"},     {"offload", "activation offload"},
    {"tp_comm", "TP collectives"},
    {"cp_comm", "CP exchanges"},   {"ep_comm", "EP all-to-all"},
    {"pp_comm", "pipeline sends"}, {"dp_comm", "DP collectives"},
    {"bubble", "pipeline bubble"}};

const char *const api_attention_choices[] = {"fused", "per-head", "unfused", "flash2", NULL};

void api_put_no_matrix_units(json_t *obj, const char *chip, const char *dtype,
                             const char *const *keys, size_t n, char *reason, size_t size)
{
    snprintf(reason, size,
             "no matrix units: %s multiplies no %s nor a wider type "
             "(matrix.macs_per_pe_per_cycle is 0)",
             chip, dtype);
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s_reason", keys[i]);
        json_object_set_new(obj, keys[i], json_null());
        json_object_set_new(obj, key, json_string(reason));
    }
}

usim_status api_load_system(const usim_command *cmd, json_t *req, hw_system *out,
                            usim_error *err)
{
    const char *network = NULL;
    int64_t chips = 0;
    bool has_chips = false;
    json_t *hw = json_object_get(req, "hw");
    api_string(cmd, req, "network", &network, err);
    usim_status st = api_int(cmd, req, "chips", &chips, &has_chips, err);
    if (st != USIM_OK)
        return st;
    int n = has_chips ? (int)chips : 0;
    if (!json_is_object(hw)) {
        const char *name = json_string_value(hw);
        if (!hw) /* unset: the command's default chip (gemm's and attention's trn2) */
            api_string(cmd, req, "hw", &name, err);
        return hw_load_system(name, n, network, out, err);
    }
    char *text = json_dumps(hw, JSON_INDENT(2));
    if (!text)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = hw_load_system_text("<hw in the request>", text, n, network, out, err);
    free(text);
    return st;
}

/* A draft head predicts from its target's hidden states: never a model alone. */
static usim_status refuse_draft_head(const wl_model *m, usim_error *err)
{
    if (m->fused_states == 0)
        return USIM_OK;
    return usim_fail_field(err, USIM_EINPUT, "model",
                           "'%s' is an EAGLE-3 draft head: it runs only beside its target, as "
                           "serve --spec-draft %s",
                           m->name, m->name);
}

usim_status api_load_model(const usim_command *cmd, json_t *req, wl_model *out, usim_error *err)
{
    const char *name = NULL;
    json_t *model = json_object_get(req, "model");
    usim_status st;
    if (!json_is_object(model)) {
        api_string(cmd, req, "model", &name, err);
        st = wl_model_load(name, out, err);
        return st == USIM_OK ? refuse_draft_head(out, err) : st;
    }
    char *text = json_dumps(model, JSON_INDENT(2));
    if (!text)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = wl_model_load_text("<model in the request>", text, out, err);
    free(text);
    if (st != USIM_OK && err) /* a place in our own rendering of it means nothing to the user */
        err->line = err->column = 0;
    return st == USIM_OK ? refuse_draft_head(out, err) : st;
}

/* The chip presets with FP4 tensor cores, comma-separated. */
static void fp4_chips(char *buf, size_t size)
{
    usim_error ignored;
    buf[0] = '\0';
    for (size_t i = 0, used = 0; i < hw_preset_count(); i++) {
        hw_preset_info p;
        hw_chip chip;
        if (hw_preset_at(i, &p, &ignored) != USIM_OK || p.kind != HW_KIND_CHIP ||
            hw_load_chip(p.name, &chip, &ignored) != USIM_OK || chip.dense_flops.fp4 <= 0)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", p.name);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* Exit 2 naming field, what the run needs, the chips that have FP4 tensor
 * cores and what is allowed here, unless this chip has them. */
static usim_status needs_fp4(const hw_chip *chip, const char *field, const char *need,
                             const char *allowed, usim_error *err)
{
    if (chip->dense_flops.fp4 > 0)
        return USIM_OK;
    char chips[256];
    fp4_chips(chips, sizeof chips);
    return usim_fail_field(err, USIM_EINPUT, field,
                           "%s, which %s does not have (chips that do: %s; allowed here: %s)",
                           need, chip->name, chips, allowed);
}

usim_status api_check_fp4(const hw_chip *chip, usim_error *err)
{
    return needs_fp4(chip, "weights", "nvfp4 computes on FP4 tensor cores",
                     "bf16, fp8, int8, fp16, int4, mxfp4", err);
}

/* MX block scaling (OCP microscaling) came to tensor cores with FP4: the
 * chips that list FP4 rates take MXFP8 scales in their GEMMs. */
usim_status api_check_mx(const hw_chip *chip, usim_error *err)
{
    return needs_fp4(chip, "fp8-recipe",
                     "mxfp8 needs tensor cores that apply a scale per 32 elements",
                     "delayed, current, blockwise", err);
}

usim_status api_ranks_per_chip(const hw_system *sys, const char *field, int *per_chip,
                               usim_error *err)
{
    int lnc = sys->chip.logical_core_size > 0 ? sys->chip.logical_core_size : 1;
    *per_chip = sys->chip.cores / lnc;
    if (sys->chip.matrix.kind != HW_MATRIX_SYSTOLIC || *per_chip < 1)
        return usim_fail_field(err, USIM_EINPUT, field,
                               "'core' applies to Trainium chips, whose NeuronCores are ranks; "
                               "a %s is one rank (allowed: chip)",
                               sys->chip.name);
    return USIM_OK;
}

usim_status api_tp_in_chips(const hw_system *sys, int tp_cores, int *tp_chips, usim_error *err)
{
    int per_chip = 1;
    usim_status st = api_ranks_per_chip(sys, "tp-unit", &per_chip, err);
    if (st != USIM_OK)
        return st;
    if (tp_cores % per_chip != 0)
        return usim_fail_field(err, USIM_EINPUT, "tp",
                               "%d cores do not fill whole %s chips of %d logical cores",
                               tp_cores, sys->chip.name, per_chip);
    *tp_chips = tp_cores / per_chip;
    return USIM_OK;
}

void api_system_warnings(json_t *result, const hw_system *sys)
{
    if (!result || !sys->warning[0])
        return;
    json_t *list = json_object_get(result, "warnings");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(result, "warnings", list);
    }
    json_array_append_new(list, json_string(sys->warning));
}
