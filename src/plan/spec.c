/*
 * Sweep specs: a command, its base options and a grid.
 *
 *   {"command": "train",
 *    "base": {"model": "llama3-8b", "hw": "trn2.48xlarge", "gbs": 256, "seq": 4096},
 *    "grid": {"chips": [16, 64, 256], "tp": [1, 2, 4, 8]}}
 *
 * Points are the grid's cartesian product, the last key varying fastest;
 * point i is always the same request, which is what makes a sweep
 * resumable. Keys are the command's options; a key "hw.PATH" changes one
 * figure of the base hardware ("hw.chip.hbm.bandwidth": ["2.9TB/s", "4TB/s"]),
 * which is then passed inline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "plan/internal.h"
#include "ultrasim/hw.h"

#define MAX_POINTS 100000000LL

static const char *const SWEEPABLE[] = {"train", "serve", "collective", "gemm", "attention",
                                        "goodput", "plan", "hw show"};

static usim_status check_command(const usim_reader *r, const char *command, usim_error *err)
{
    size_t n = sizeof SWEEPABLE / sizeof SWEEPABLE[0];
    for (size_t i = 0; i < n; i++)
        if (command && strcmp(command, SWEEPABLE[i]) == 0)
            return USIM_OK;
    const char *near = command ? usim_closest(command, SWEEPABLE, n) : NULL;
    return usim_fail_at(r, "command", false, err,
                        "'%s' cannot be swept; use train, serve, collective, gemm, attention, "
                        "goodput, plan or hw show%s%s%s",
                        command ? command : "?", near ? "; did you mean '" : "",
                        near ? near : "", near ? "'?" : "");
}

/* FNV-1a over the canonical (sorted, compact) spec text. */
static void spec_hash(json_t *doc, char out[17])
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned long long h = 1469598103934665603ULL;
    for (const char *p = text ? text : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, 17, "%016llx", h);
    free(text);
}

static usim_status read_grid(const usim_reader *r, sweep_spec *s, usim_error *err)
{
    json_t *grid = json_object_get(s->doc, "grid");
    const char *key;
    json_t *v;
    if (!json_is_object(grid) || json_object_size(grid) == 0)
        return usim_fail_at(r, grid ? "grid" : "", false, err,
                            "a sweep needs a non-empty \"grid\" object of option: [values]");
    size_t n = json_object_size(grid);
    s->keys = calloc(n, sizeof *s->keys);
    s->values = calloc(n, sizeof *s->values);
    if (!s->keys || !s->values)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    s->points = 1;
    json_object_foreach(grid, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "grid.%s", key);
        if (!json_is_array(v) || json_array_size(v) == 0)
            return usim_fail_at(r, path, false, err, "expected a non-empty list of values");
        if (json_object_get(s->base, key))
            return usim_fail_at(r, path, true, err, "'%s' is both in base and in grid", key);
        s->keys[s->nkeys] = key;
        s->values[s->nkeys++] = v;
        s->points *= (long long)json_array_size(v);
        if (s->points > MAX_POINTS)
            return usim_fail_at(r, "grid", false, err,
                                "the grid has more than %lld points; split the sweep",
                                MAX_POINTS);
    }
    return USIM_OK;
}

/* Sets doc's value at a dotted path, creating objects on the way. */
static usim_status set_path(json_t *doc, const char *path, json_t *value, usim_error *err)
{
    char part[128];
    const char *dot;
    json_t *at = doc;
    while ((dot = strchr(path, '.')) != NULL) {
        size_t n = (size_t)(dot - path);
        if (n == 0 || n >= sizeof part)
            return usim_fail(err, USIM_EINPUT, "bad hardware path '%s'", path);
        memcpy(part, path, n);
        part[n] = '\0';
        json_t *next = json_object_get(at, part);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(at, part, next);
        }
        at = next;
        path = dot + 1;
    }
    json_object_set(at, path, value);
    return USIM_OK;
}

static bool has_hw_key(const sweep_spec *s)
{
    const char *key;
    json_t *v;
    for (int i = 0; i < s->nkeys; i++)
        if (strncmp(s->keys[i], "hw.", 3) == 0)
            return true;
    json_object_foreach(s->base, key, v)
    {
        if (strncmp(key, "hw.", 3) == 0)
            return true;
    }
    return false;
}

static usim_status inline_hw(const usim_reader *r, sweep_spec *s, usim_error *err)
{
    s->hw_key = strcmp(s->command, "hw show") == 0 ? "name" : "hw";
    const char *hw = json_string_value(json_object_get(s->base, s->hw_key));
    if (!hw)
        return usim_fail_at(r, "base", false, err,
                            "hw.* keys change the base hardware: give base a \"hw\" preset");
    char *text = NULL;
    usim_status st = hw_resolve_text(hw, &text, err);
    if (st != USIM_OK)
        return st;
    s->hw_doc = json_loads(text, 0, NULL);
    free(text);
    return s->hw_doc ? USIM_OK : usim_fail(err, USIM_ERUNTIME, "out of memory");
}

/* Point 0 must be a well-formed request: a typo in a key fails the spec, not
 * every point. Values are checked point by point (a bad one is recorded). */
static usim_status check_first_point(const usim_reader *r, const sweep_spec *s,
                                     const plan_sweep_options *o, usim_error *err)
{
    json_t *inputs = NULL;
    json_t *req = sweep_point_request(s, 0, &inputs);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    json_decref(inputs);
    if (!text)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    usim_error e;
    usim_error_clear(&e);
    usim_status st = o->check ? o->check(text, &e) : USIM_OK;
    free(text);
    /* a typo in an option's name, or in a hw.* path (a key of the inline
     * hardware, named here by its hw.* key) */
    const char *hw_typo = s->hw_doc ? strstr(e.message, "unknown key") : NULL;
    if (st == USIM_OK || (!hw_typo && !strstr(e.message, "unknown option")))
        return USIM_OK;
    char key[200], path[256];
    snprintf(key, sizeof key, "%s%s", hw_typo ? "hw." : "", e.field);
    snprintf(path, sizeof path, "%s.%s", json_object_get(s->base, key) ? "base" : "grid", key);
    return usim_fail_at(r, path, true, err, "%s", hw_typo ? hw_typo : e.message);
}

usim_status sweep_spec_load(const char *path, const plan_sweep_options *o, sweep_spec *s,
                            usim_error *err)
{
    static const char *const KEYS[] = {"command", "base", "grid", "name", "description"};
    char *text = NULL;
    memset(s, 0, sizeof *s);
    usim_status st = usim_read_file(path, &text, NULL, err);
    if (st == USIM_OK)
        st = usim_json_parse(path, text, &s->doc, err);
    usim_reader r = {path, text, NULL};
    const char *key;
    json_t *v;
    if (st == USIM_OK && !json_is_object(s->doc))
        st = usim_fail_at(&r, "", false, err, "a sweep spec is a JSON object");
    if (st == USIM_OK) {
        json_object_foreach(s->doc, key, v)
        {
            const char *near = usim_closest(key, KEYS, 5);
            bool known = false;
            for (int i = 0; i < 5; i++)
                known = known || strcmp(key, KEYS[i]) == 0;
            if (!known && st == USIM_OK)
                st = usim_fail_at(&r, key, true, err, "unknown key '%s'%s%s%s", key,
                                  near ? "; did you mean '" : " (command, base, grid, name)",
                                  near ? near : "", near ? "'?" : "");
        }
    }
    if (st == USIM_OK) {
        s->command = json_string_value(json_object_get(s->doc, "command"));
        s->base = json_object_get(s->doc, "base");
        if (!s->base) {
            s->base = json_object();
            json_object_set_new(s->doc, "base", s->base);
        }
        st = check_command(&r, s->command, err);
    }
    if (st == USIM_OK && !json_is_object(s->base))
        st = usim_fail_at(&r, "base", false, err, "expected an object of option: value");
    if (st == USIM_OK)
        st = read_grid(&r, s, err);
    if (st == USIM_OK && has_hw_key(s))
        st = inline_hw(&r, s, err);
    if (st == USIM_OK)
        st = check_first_point(&r, s, o, err);
    if (st == USIM_OK)
        spec_hash(s->doc, s->hash);
    free(text);
    if (st != USIM_OK)
        sweep_spec_free(s);
    return st;
}

void sweep_spec_free(sweep_spec *s)
{
    json_decref(s->doc);
    json_decref(s->hw_doc);
    free(s->keys);
    free(s->values);
    memset(s, 0, sizeof *s);
}

json_t *sweep_point_request(const sweep_spec *s, long long i, json_t **inputs)
{
    json_t *req = json_deep_copy(s->base);
    json_t *hw = s->hw_doc ? json_deep_copy(s->hw_doc) : NULL;
    const char *key;
    json_t *v;
    *inputs = json_object();
    json_object_foreach(s->base, key, v)
    {
        json_object_set(*inputs, key, v);
    }
    for (int k = s->nkeys - 1; k >= 0; k--) { /* the last key varies fastest */
        long long n = (long long)json_array_size(s->values[k]);
        json_t *value = json_array_get(s->values[k], (size_t)(i % n));
        i /= n;
        json_object_set(req, s->keys[k], value);
        json_object_set(*inputs, s->keys[k], value);
    }
    if (hw) {
        json_t *req2 = json_object();
        json_object_foreach(req, key, v)
        {
            if (strncmp(key, "hw.", 3) == 0)
                set_path(hw, key + 3, v, NULL);
            else
                json_object_set(req2, key, v);
        }
        json_object_set_new(req2, s->hw_key, hw);
        json_decref(req);
        req = req2;
    }
    json_object_set_new(req, "command", json_string(s->command));
    return req;
}
