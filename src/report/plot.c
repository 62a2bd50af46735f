/*
 * Charts with Cairo: line charts (one or more panels stacked, each with
 * series, log or linear axes, ticks, labels, units, a legend) and stacked bar
 * charts. SVG or PNG by the file's extension; written through usim_output
 * (a temporary file renamed over a regular target, so a failed plot leaves no
 * half-drawn file; devices, FIFOs and links' targets written in place).
 */
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/report.h"

#define WIDTH 900.0
#define PANEL_HEIGHT 380.0
#define PI 3.14159265358979323846
#define MARGIN_LEFT 90.0
#define MARGIN_RIGHT 200.0 /* legend */
#define MARGIN_TOP 50.0
#define MARGIN_BOTTOM 60.0

/* Colour-blind-safe palette (Okabe and Ito, 2008), then grey, brown, navy
 * and olive so that a training step's twelve parts stay distinct. */
static const double PALETTE[][3] = {
    {0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451},
    {0.800, 0.475, 0.655}, {0.941, 0.894, 0.259}, {0.337, 0.706, 0.914},
    {0.902, 0.624, 0.000}, {0.000, 0.000, 0.000}, {0.600, 0.600, 0.600},
    {0.545, 0.353, 0.169}, {0.153, 0.153, 0.463}, {0.502, 0.502, 0.000},
};
#define PALETTE_SIZE (sizeof PALETTE / sizeof PALETTE[0])

static void colour(cairo_t *cr, int i)
{
    const double *c = PALETTE[(size_t)i % PALETTE_SIZE];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

/* 1234567 -> "1.23M": axis labels stay short. */
static void short_number(double v, char *buf, size_t size)
{
    static const char *const SUFFIX[] = {"", "k", "M", "G", "T", "P", "E"};
    double a = fabs(v);
    int k = 0;
    if (a < 1e-3 && a > 0) {
        snprintf(buf, size, "%.2g", v);
        return;
    }
    while (a >= 1000 && k < 6) {
        a /= 1000;
        v /= 1000;
        k++;
    }
    snprintf(buf, size, "%.3g%s", v, SUFFIX[k]);
}

typedef struct axis {
    double lo, hi;
    bool log;
} axis;

static double map(const axis *a, double v, double from, double to)
{
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return from + t * (to - from);
}

/* Range over all series; log axes ignore values <= 0. */
static axis axis_of(const report_chart *c, bool x)
{
    axis a = {INFINITY, -INFINITY, x ? c->logx : c->logy};
    for (int s = 0; s < c->nseries; s++) {
        for (int i = 0; i < c->series[s].n; i++) {
            double v = x ? c->series[s].x[i] : c->series[s].y[i];
            if (!isfinite(v) || (a.log && v <= 0))
                continue;
            a.lo = fmin(a.lo, v);
            a.hi = fmax(a.hi, v);
        }
    }
    if (!isfinite(a.lo)) {
        a.lo = a.log ? 1 : 0;
        a.hi = a.log ? 10 : 1;
    }
    if (!a.log && !x && a.lo > 0)
        a.lo = 0; /* quantities start at zero */
    if (a.hi <= a.lo)
        a.hi = a.log ? a.lo * 10 : a.lo + 1;
    if (a.log) {
        a.lo = pow(10, floor(log10(a.lo)));
        a.hi = pow(10, ceil(log10(a.hi)));
    } else {
        double span = a.hi - a.lo, step = pow(10, floor(log10(span)));
        a.hi = ceil(a.hi / step) * step;
        a.lo = floor(a.lo / step) * step;
    }
    return a;
}

/* Tick values: powers of ten (log) or 1-2-5 steps (linear). */
static int ticks(const axis *a, double *out, int max)
{
    int n = 0;
    if (a->log) {
        for (double v = a->lo; v <= a->hi * 1.0001 && n < max; v *= 10)
            out[n++] = v;
        return n;
    }
    double span = a->hi - a->lo, raw = span / 6, step = pow(10, floor(log10(raw)));
    step *= raw / step >= 5 ? 5 : raw / step >= 2 ? 2 : 1;
    for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9 && n < max; v += step)
        out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align_x,
                    double align_y)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
    cairo_show_text(cr, s);
}

typedef struct frame {
    double left, right, top, bottom;
} frame;

static void grid_line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
}

static void draw_y_ticks(cairo_t *cr, const axis *ay, const frame *f)
{
    double t[64];
    char label[32];
    int n = ticks(ay, t, 64);
    cairo_set_line_width(cr, 1);
    cairo_set_font_size(cr, 11);
    for (int i = 0; i < n; i++) {
        double y = map(ay, t[i], f->bottom, f->top);
        grid_line(cr, f->left, y, f->right, y);
        short_number(t[i], label, sizeof label);
        text_at(cr, f->left - 8, y, label, 1.0, 0.5);
    }
}

static void draw_x_ticks(cairo_t *cr, const axis *ax, const frame *f)
{
    double t[64];
    char label[32];
    int n = ticks(ax, t, 64);
    cairo_set_font_size(cr, 11);
    for (int i = 0; i < n; i++) {
        double x = map(ax, t[i], f->left, f->right);
        grid_line(cr, x, f->top, x, f->bottom);
        short_number(t[i], label, sizeof label);
        text_at(cr, x, f->bottom + 16, label, 0.5, 0.5);
    }
}

/* Frame, axis titles and chart title. */
static void draw_frame(cairo_t *cr, const frame *f, const char *title, const char *xlabel,
                       const char *ylabel)
{
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->left, f->top, f->right - f->left, f->bottom - f->top);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 13);
    text_at(cr, (f->left + f->right) / 2, f->bottom + 40, xlabel, 0.5, 0.5);
    cairo_save(cr);
    cairo_translate(cr, 22, (f->top + f->bottom) / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, ylabel, 0.5, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, 15);
    text_at(cr, (f->left + f->right) / 2, f->top - 18, title, 0.5, 0.5);
}

/* The legend: an optional title line, then a swatch and a name per series. */
static void draw_legend(cairo_t *cr, const char *title, const char *const *names, int n,
                        double top)
{
    double x = WIDTH - MARGIN_RIGHT + 15;
    cairo_set_font_size(cr, 12);
    if (title && title[0]) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x, top + 10, title, 0, 0.5);
        top += 20;
    }
    for (int s = 0; s < n; s++) {
        double y = top + 10 + 20 * s;
        colour(cr, s);
        cairo_rectangle(cr, x, y - 5, 14, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x + 20, y, names[s], 0, 0.5);
    }
}

static bool plottable(const axis *ax, const axis *ay, double x, double y)
{
    return isfinite(x) && isfinite(y) && (!ax->log || x > 0) && (!ay->log || y > 0);
}

static void draw_lines(cairo_t *cr, const report_chart *c, double top)
{
    frame f = {MARGIN_LEFT, WIDTH - MARGIN_RIGHT, top, top + PANEL_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM};
    axis ax = axis_of(c, true), ay = axis_of(c, false);
    const char *names[64];
    draw_x_ticks(cr, &ax, &f);
    draw_y_ticks(cr, &ay, &f);
    draw_frame(cr, &f, c->title, c->xlabel, c->ylabel);
    for (int s = 0; s < c->nseries && s < 64; s++) {
        const report_series *se = &c->series[s];
        names[s] = se->name;
        colour(cr, s);
        cairo_set_line_width(cr, 2);
        bool pen = false;
        for (int i = 0; i < se->n; i++) {
            if (!plottable(&ax, &ay, se->x[i], se->y[i])) {
                pen = false;
                continue;
            }
            double x = map(&ax, se->x[i], f.left, f.right), y = map(&ay, se->y[i], f.bottom, f.top);
            if (pen)
                cairo_line_to(cr, x, y);
            else
                cairo_move_to(cr, x, y);
            pen = true;
        }
        cairo_stroke(cr);
        for (int i = 0; i < se->n; i++) {
            if (!plottable(&ax, &ay, se->x[i], se->y[i]))
                continue;
            cairo_arc(cr, map(&ax, se->x[i], f.left, f.right), map(&ay, se->y[i], f.bottom, f.top),
                      3.5, 0, 2 * PI);
            cairo_fill(cr);
        }
    }
    draw_legend(cr, c->legend_title, names, c->nseries < 64 ? c->nseries : 64, top);
}

typedef struct canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    bool png;
    usim_output out;
    FILE *fp;     /* where the bytes go: out.fp, or a memory stream */
    char *memory; /* the memory stream's buffer (svg_text) */
    size_t size;
} canvas;

/* Cairo's stream callback: the image's bytes into the output file. */
static cairo_status_t write_bytes(void *closure, const unsigned char *data, unsigned int length)
{
    FILE *fp = closure;
    return fwrite(data, 1, length, fp) == length ? CAIRO_STATUS_SUCCESS
                                                 : CAIRO_STATUS_WRITE_ERROR;
}

static void canvas_abort(canvas *cv)
{
    if (cv->memory || (cv->fp && cv->fp != cv->out.fp)) {
        if (cv->fp)
            fclose(cv->fp);
        free(cv->memory);
        cv->memory = NULL;
    } else {
        usim_output_abort(&cv->out);
    }
}

/* path: a file (.svg or .png); NULL: SVG text in memory (canvas_close's *text). */
static usim_status canvas_open(canvas *cv, const char *path, double height, usim_error *err)
{
    size_t n = path ? strlen(path) : 0;
    memset(cv, 0, sizeof *cv);
    cv->png = n > 4 && strcmp(path + n - 4, ".png") == 0;
    bool svg = n > 4 && strcmp(path + n - 4, ".svg") == 0;
    if (path && !cv->png && !svg)
        return usim_fail_field(err, USIM_EINPUT, "out", "'%s': name the file .svg or .png", path);
    if (path) {
        usim_status st = usim_output_open(&cv->out, path, err);
        if (st != USIM_OK)
            return st;
        cv->fp = cv->out.fp;
    } else if (!(cv->fp = open_memstream(&cv->memory, &cv->size))) {
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    cv->surface = cv->png ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)WIDTH, (int)height)
                          : cairo_svg_surface_create_for_stream(write_bytes, cv->fp, WIDTH,
                                                                height);
    if (cairo_surface_status(cv->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(cv->surface);
        canvas_abort(cv);
        return usim_fail(err, USIM_EINPUT, "%s: cannot create the image", path ? path : "SVG");
    }
    cv->cr = cairo_create(cv->surface);
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    cairo_select_font_face(cv->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    return USIM_OK;
}

static usim_status canvas_close(canvas *cv, const char *path, char **text, usim_error *err)
{
    cairo_destroy(cv->cr);
    cairo_surface_flush(cv->surface);
    cairo_status_t s = CAIRO_STATUS_SUCCESS;
    if (cv->png)
        s = cairo_surface_write_to_png_stream(cv->surface, write_bytes, cv->fp);
    cairo_surface_finish(cv->surface);
    if (s == CAIRO_STATUS_SUCCESS)
        s = cairo_surface_status(cv->surface);
    cairo_surface_destroy(cv->surface);
    if (s != CAIRO_STATUS_SUCCESS) {
        canvas_abort(cv);
        return usim_fail(err, USIM_ERUNTIME, "%s: cannot write the image (%s)",
                         path ? path : "SVG", cairo_status_to_string(s));
    }
    if (!path) {
        fclose(cv->fp);
        *text = cv->memory;
        return USIM_OK;
    }
    return usim_output_commit(&cv->out, err);
}

usim_status report_plot_lines(const report_chart *charts, int ncharts, const char *path,
                              usim_error *err)
{
    canvas cv;
    usim_status st = canvas_open(&cv, path, PANEL_HEIGHT * ncharts, err);
    if (st != USIM_OK)
        return st;
    for (int i = 0; i < ncharts; i++)
        draw_lines(cv.cr, &charts[i], MARGIN_TOP + PANEL_HEIGHT * i);
    return canvas_close(&cv, path, NULL, err);
}

/* Stacked bars: one bar per label, one segment per part. */
static usim_status plot_bars(const report_bars *b, const char *path, char **text,
                             usim_error *err)
{
    canvas cv;
    usim_status st = canvas_open(&cv, path, PANEL_HEIGHT + 40, err);
    if (st != USIM_OK)
        return st;
    cairo_t *cr = cv.cr;
    frame f = {MARGIN_LEFT, WIDTH - MARGIN_RIGHT, MARGIN_TOP, PANEL_HEIGHT - MARGIN_BOTTOM + 40};
    double most = 0;
    for (int i = 0; i < b->nbars; i++) {
        double sum = 0;
        for (int k = 0; k < b->nparts; k++)
            sum += fmax(0, b->values[i * b->nparts + k]);
        most = fmax(most, sum);
    }
    axis ay = {0, most > 0 ? most : 1, false};
    double step = pow(10, floor(log10(ay.hi)));
    ay.hi = ceil(ay.hi / step * 2) * step / 2;
    draw_y_ticks(cr, &ay, &f);
    double slot = (f.right - f.left) / (b->nbars > 0 ? b->nbars : 1);
    for (int i = 0; i < b->nbars; i++) {
        double x = f.left + slot * i + slot * 0.15, w = slot * 0.7, base = 0;
        for (int k = 0; k < b->nparts; k++) {
            double v = fmax(0, b->values[i * b->nparts + k]);
            double y0 = map(&ay, base, f.bottom, f.top), y1 = map(&ay, base + v, f.bottom, f.top);
            colour(cr, k);
            cairo_rectangle(cr, x, y1, w, y0 - y1);
            cairo_fill(cr);
            base += v;
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 11);
        text_at(cr, x + w / 2, f.bottom + 14, b->labels[i], 0.5, 0.5);
    }
    draw_frame(cr, &f, b->title, b->xlabel, b->ylabel);
    draw_legend(cr, NULL, (const char *const *)b->parts, b->nparts, f.top);
    return canvas_close(&cv, path, text, err);
}

usim_status report_plot_bars(const report_bars *b, const char *path, usim_error *err)
{
    return plot_bars(b, path, NULL, err);
}

usim_status report_bars_svg(const report_bars *b, char **svg, usim_error *err)
{
    *svg = NULL;
    return plot_bars(b, NULL, svg, err);
}
