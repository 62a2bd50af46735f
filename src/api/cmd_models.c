/*
 * `ultrasim models`: the model presets with their sizes, and the Medusa
 * heads that serve can draft with.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "ultrasim/core.h"
#include "ultrasim/serve.h"
#include "ultrasim/workload.h"

extern const api_command api_cmd_models;

/* A Medusa preset (data/medusa/NAME.json) as a row of the listing. */
static void add_medusa(const usim_embedded_file *f, void *ctx)
{
    char name[64];
    usim_embedded_name(f, name, sizeof name);
    serve_medusa m;
    usim_error err;
    if (serve_medusa_load(name, &m, &err) == USIM_OK)
        json_array_append_new(ctx, api_pack("{s:s, s:i, s:i, s:i, s:f}", "name", m.name, "heads",
                                            m.heads, "hidden", m.hidden, "tree_tokens",
                                            m.tree_tokens, "params", serve_medusa_params(&m)));
}

static usim_status models_run(json_t *req, json_t **result, usim_error *err)
{
    json_t *items = json_array();
    (void)req;
    for (size_t i = 0; i < wl_model_preset_count(); i++) {
        char name[64];
        wl_model m;
        usim_status st = wl_model_preset_name(i, name, sizeof name, err);
        if (st == USIM_OK)
            st = wl_model_load(name, &m, err);
        if (st != USIM_OK) {
            json_decref(items);
            return st;
        }
        wl_params p = wl_model_params(&m);
        json_array_append_new(items, api_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f, s:f}",
                                               "name", name, "family", m.family, "layers",
                                               m.layers, "hidden", m.hidden, "heads", m.heads,
                                               "kv_heads", m.kv_heads, "experts", m.experts,
                                               "params", p.total, "active_params", p.active));
    }
    json_t *medusa = json_array();
    usim_embedded_each("medusa/", add_medusa, medusa);
    *result = api_pack("{s:o, s:o}", "models", items, "medusa", medusa);
    return USIM_OK;
}

static usim_status models_render(json_t *res, usim_buf *b, usim_error *err)
{
    size_t i;
    json_t *m;
    (void)err;
    usim_buf_printf(b, "%-22s %-12s %6s %6s %6s %4s %7s %16s\n", "model", "family", "layers",
                    "hidden", "heads", "kv", "experts", "parameters");
    json_array_foreach(json_object_get(res, "models"), i, m)
    {
        usim_buf_printf(b, "%-22s %-12s %6.0f %6.0f %6.0f %4.0f %7.0f %16.0f\n",
                        json_string_value(json_object_get(m, "name")),
                        json_string_value(json_object_get(m, "family")), api_number(m, "layers"),
                        api_number(m, "hidden"), api_number(m, "heads"),
                        api_number(m, "kv_heads"), api_number(m, "experts"),
                        api_number(m, "params"));
    }
    usim_buf_printf(b, "\nMedusa heads (serve --spec-draft NAME):\n%-22s %6s %6s %6s %16s\n",
                    "heads", "count", "hidden", "tree", "parameters");
    json_array_foreach(json_object_get(res, "medusa"), i, m)
    {
        usim_buf_printf(b, "%-22s %6.0f %6.0f %6.0f %16.0f\n",
                        json_string_value(json_object_get(m, "name")), api_number(m, "heads"),
                        api_number(m, "hidden"), api_number(m, "tree_tokens"),
                        api_number(m, "params"));
    }
    usim_buf_puts(b, "\nA Hugging Face config.json or an ultrasim model JSON works wherever a "
                     "name does.\n");
    return USIM_OK;
}

const api_command api_cmd_models = {
    {"models", "list the model presets and their parameter counts", "ultrasim models", NULL,
     NULL, NULL, 0},
    models_run,
    models_render,
};
