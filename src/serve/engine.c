/*
 * Serving engines as data (data/engines/NAME.json): what an engine's own
 * throughput benchmark runs with when the user gives no limit, each figure
 * cited to the engine's code. The same file serves every model and chip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "serve/internal.h"

static const char *const SCHEDULERS[] = {"static", "continuous", "chunked", "disagg", NULL};

static const usim_field ENGINE_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", serve_engine, name, true),
    USIM_STR("description", serve_engine, description, false),
    USIM_INT("max_batch", serve_engine, max_batch, 1, 65536, true),
    USIM_INT("token_budget", serve_engine, token_budget, 16, 1048576, true),
    USIM_ENUM("scheduler", serve_engine, scheduler, SCHEDULERS, true),
    USIM_BOOL("reserve_output", serve_engine, reserve_output),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema ENGINE_SCHEMA = USIM_SCHEMA("engine", ENGINE_FIELDS);

static void add_name(const usim_embedded_file *f, void *ctx)
{
    char *list = ctx;
    const char *base = f->path + strlen("engines/");
    size_t used = strlen(list);
    snprintf(list + used, 512 - used, "%s%.*s", used ? ", " : "",
             (int)(strlen(base) - strlen(".json")), base);
}

static usim_status engine_from_text(const char *file, const char *text, serve_engine *out,
                                    usim_error *err)
{
    json_t *doc = NULL;
    usim_reader r = {file, text, NULL};
    usim_status st = usim_json_parse(file, text, &doc, err);
    if (st != USIM_OK)
        return st;
    memset(out, 0, sizeof *out);
    json_t *kind = json_is_object(doc) ? json_object_get(doc, "kind") : NULL;
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "engine") != 0)
        st = usim_fail_at(&r, json_is_object(doc) ? "kind" : "", false, err,
                          "expected \"kind\": \"engine\"");
    else
        st = usim_read_object(&r, &ENGINE_SCHEMA, "", doc, out, err);
    json_decref(doc);
    return st;
}

usim_status serve_engine_load(const char *name_or_file, serve_engine *out, usim_error *err)
{
    const char *text;
    char *owned, label[300];
    bool missing;
    usim_status st = usim_open_named("engines", name_or_file, &text, &owned, label,
                                     sizeof label, &missing, err);
    if (st == USIM_OK && missing) {
        char names[512] = "";
        usim_embedded_each("engines/", add_name, names);
        st = usim_fail_field(err, USIM_EINPUT, "engine",
                             "unknown engine '%s': not a preset and no such file; allowed: %s "
                             "(data/engines) or an engine JSON file",
                             name_or_file, names);
    } else if (st == USIM_OK) {
        st = engine_from_text(label, text, out, err);
    }
    free(owned);
    return st;
}
