/*
 * How far to trust a prediction: where 80% of measured runs of its class
 * fell around the model's figure. The classes (a set and a chip family) and
 * their 10th and 90th percentile log errors come from the published
 * measurements (data/intervals.json, written by `validate
 * --write-intervals`); docs/accuracy.md shows how often such intervals held
 * on sources left out.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/intervals.h"
#include "ultrasim/hw.h"

/* The class for a set and a chip: its family's, else the set's pooled one. */
static json_t *class_of(json_t *doc, const char *set, const hw_system *sys, char *name,
                        size_t size)
{
    json_t *classes = json_object_get(json_object_get(doc, "classes"), set);
    char family[32];
    snprintf(family, sizeof family, "%.*s", (int)strcspn(sys->chip.name, "-"), sys->chip.name);
    json_t *c = json_object_get(classes, family);
    snprintf(name, size, "%s on %s chips", set, family);
    if (!c) {
        c = json_object_get(classes, "all");
        snprintf(name, size, "%s on any chip (too few %s runs)", set, family);
    }
    return c;
}

void api_add_intervals(json_t *result, const hw_system *sys, const char *set,
                       const api_figure *figures, size_t n)
{
    const usim_embedded_file *f = usim_embedded_find("intervals.json");
    json_t *doc = f ? json_loads(f->text, 0, NULL) : NULL;
    char name[160];
    json_t *c = doc ? class_of(doc, set, sys, name, sizeof name) : NULL;
    if (!c) {
        json_object_set_new(result, "interval", json_null());
        json_object_set_new(result, "interval_reason",
                            json_string("no published runs of this kind to measure the "
                                        "model's error by"));
        json_decref(doc);
        return;
    }
    double lo = api_number(c, "p10"), hi = api_number(c, "p90");
    for (size_t i = 0; i < n; i++) {
        double v = api_number(result, figures[i].key);
        if (!isfinite(v))
            continue;
        /* measured speed = predicted x exp(-r); a time, the reverse */
        double a = figures[i].sign > 0 ? v * exp(-hi) : v * exp(lo);
        double b = figures[i].sign > 0 ? v * exp(-lo) : v * exp(hi);
        char key[80];
        snprintf(key, sizeof key, "%s_p10", figures[i].key);
        json_object_set_new(result, key, json_real(a));
        snprintf(key, sizeof key, "%s_p90", figures[i].key);
        json_object_set_new(result, key, json_real(b));
    }
    json_object_set_new(result, "interval",
                        api_pack("{s:f, s:s, s:f, s:s}", "level", api_number(doc, "level"),
                                 "class", name, "rows", api_number(c, "rows"), "source",
                                 "data/intervals.json (docs/accuracy.md)"));
    json_decref(doc);
}

void api_interval_line(usim_buf *b, json_t *res, const api_figure *figures, size_t n, int width)
{
    json_t *iv = json_object_get(res, "interval");
    if (!json_is_object(iv)) {
        usim_buf_printf(b, "  %-*s n/a (%s)\n", width, "80% interval",
                        json_string_value(json_object_get(res, "interval_reason")));
        return;
    }
    usim_buf_printf(b, "  %-*s", width, "80% interval");
    for (size_t i = 0; i < n; i++) {
        char key[80], lo[40], hi[40];
        snprintf(key, sizeof key, "%s_p10", figures[i].key);
        double a = api_number(res, key) * figures[i].scale;
        snprintf(key, sizeof key, "%s_p90", figures[i].key);
        double c = api_number(res, key) * figures[i].scale;
        if (!isfinite(a) || !isfinite(c))
            continue;
        if (figures[i].unit == USIM_UNIT_NONE) {
            snprintf(lo, sizeof lo, "%.3g", a);
            snprintf(hi, sizeof hi, "%.3g%s", c, figures[i].suffix);
        } else {
            usim_format_quantity(a, figures[i].unit, lo, sizeof lo);
            usim_format_quantity(c, figures[i].unit, hi, sizeof hi);
        }
        usim_buf_printf(b, "%s %s %s to %s", i ? "," : "", figures[i].label, lo, hi);
    }
    usim_buf_printf(b, "\n  %-*s where 80%% of measured runs land (%s, %.0f published runs)\n",
                    width, "", json_string_value(json_object_get(iv, "class")),
                    api_number(iv, "rows"));
}
