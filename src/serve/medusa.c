/*
 * Medusa heads as data (data/medusa/NAME.json): the draft a target carries
 * on its own last hidden state. Each head is residual blocks and an LM head
 * of its own; the target verifies a tree of their candidates in one pass
 * and the heads read every verified position, or, on an engine that
 * verifies their top-1 chain, the newest accepted one only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/schema.h"
#include "serve/internal.h"

static const usim_field MEDUSA_FIELDS[] = {
    USIM_DOC("kind"),
    USIM_STR("name", serve_medusa, name, true),
    USIM_DOC("description"),
    USIM_INT("heads", serve_medusa, heads, 1, 64, true),
    USIM_INT("head_layers", serve_medusa, head_layers, 0, 16, true),
    USIM_INT("hidden", serve_medusa, hidden, 1, 1 << 20, true),
    USIM_INT("vocab", serve_medusa, vocab, 1, 1 << 24, true),
    USIM_INT("tree_tokens", serve_medusa, tree_tokens, 2, 4096, true),
    USIM_DOC("source"),
    USIM_DOC("note"),
};
static const usim_schema MEDUSA_SCHEMA = USIM_SCHEMA("medusa", MEDUSA_FIELDS);

/* Each head drafts one position, so a path through the tree is the root
 * and a token a head: a tree of fewer than heads + 1 tokens holds none. */
static usim_status finish_medusa(const usim_reader *r, json_t *doc, void *out, usim_error *err)
{
    (void)doc;
    const serve_medusa *m = out;
    if (m->tree_tokens < m->heads + 1)
        return usim_fail_at(r, "tree_tokens", false, err,
                            "%d cannot hold a path through the %d heads; allowed: %d to 4096 "
                            "(the root and one candidate a head at the least)",
                            m->tree_tokens, m->heads, m->heads + 1);
    return USIM_OK;
}

bool serve_is_medusa(const char *name_or_file)
{
    const char *text;
    char *owned, label[300];
    bool missing;
    usim_error err;
    if (usim_open_named("medusa", name_or_file, &text, &owned, label, sizeof label, &missing,
                        &err) != USIM_OK ||
        missing)
        return false;
    json_t *doc = json_loads(text, 0, NULL);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    /* any spelling of the kind: the loader then says which one it wants */
    bool medusa = kind && strcasecmp(kind, "medusa") == 0;
    json_decref(doc);
    free(owned);
    return medusa;
}

usim_status serve_medusa_load(const char *name_or_file, serve_medusa *out, usim_error *err)
{
    memset(out, 0, sizeof *out);
    return usim_load_kind("medusa", "medusa", "spec-draft", name_or_file, &MEDUSA_SCHEMA, out,
                          finish_medusa, err);
}

double serve_medusa_params(const serve_medusa *m)
{
    double h = m->hidden;
    return m->heads * (m->head_layers * (h * h + h) + h * m->vocab);
}
