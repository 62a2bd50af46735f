/*
 * Pipeline schedules: the program each pipeline rank runs in one step.
 *
 * 1F1B (Narayanan et al. 2021, PipeDream-Flush): rank s first runs
 * pp - s - 1 warm-up forwards, then alternates one forward and one backward,
 * then drains the remaining backwards. At most pp - s micro-batches are in
 * flight, so activation memory is bounded by the pipeline depth, not by m.
 *
 * Interleaved 1F1B (Megatron-LM): each rank holds vp model chunks; forwards
 * go through micro-batches in groups of pp, chunk by chunk, which shrinks the
 * bubble by vp at the cost of more communication. Warm-up is
 * (pp - s - 1) x 2 + (vp - 1) x pp forwards. The Llama 3 paper (section
 * 3.3.2) lets the group hold any number N of contiguous micro-batches
 * instead of pp (Megatron-Core's microbatch_group_size_per_vp_stage and its
 * get_schedule_table): forwards go N at a time through each chunk, the last
 * group holding what is left, and warm-up is (pp - s - 1) x 2 + (vp - 1) x N.
 *
 * ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, section
 * 3.1; sail-sg/zero-bubble-pipeline-parallelism's zb-h1 schedule): each
 * backward splits into B, the gradient of the stage's input, which the
 * previous stage waits for, and W, the gradient of its weights, which nobody
 * waits for. In the steady state rank s runs triples (F x, B x-(pp-1-s),
 * W x-(pp-1)): B keeps 1F1B's place, W of every rank lags pp - 1 forwards, so
 * the last rank holds its W back longest and the B chain back to rank 0 is
 * shorter by the W it no longer carries. Warm-up and cool-down are the
 * triples whose indices fall outside 0..m-1, dropped. With equal F, B and W
 * the bubble falls from (pp - 1)(F + B + W) to (pp - 1)(F + B - W).
 *
 * Pairs: in the steady state a forward and a backward of different
 * micro-batches run next to each other, and a stack that overlaps expert
 * all-to-alls merges the two (Megatron-Core's combined 1F1B,
 * megatron/core/pipeline_parallel/combined_1f1b.py: in the steady state only;
 * without a pipeline the first forward and the last backward run alone, as a
 * micro-batch's backward cannot start beside its own forward). So the rank's
 * first max(1, w) forwards and last max(1, w) backwards are alone, w its
 * warm-up forwards (under ZB-H1 the triples without a B, pp - 1 - s).
 *
 * The timing of these programs is not computed here: the discrete-event
 * simulation runs them against each other, and bubbles emerge from the
 * dependencies between ranks.
 */
#include "ultrasim/workload.h"

const char *const wl_schedule_names[] = {"1f1b", "zb-h1", NULL};

/* k-th forward (or backward) of an interleaved program: micro-batches go in
 * groups of `group`, each group through chunk 0, 1, ... (backwards through
 * the chunks in reverse); only the last group may hold fewer. */
static wl_pipe_op interleaved_op(int vp, int64_t group, int64_t m, int64_t k, bool backward)
{
    int64_t block = group * vp, g = k / block, first = g * group;
    int64_t size = m - first < group ? m - first : group;
    int64_t in_group = k - g * block;
    int chunk = (int)(in_group / size);
    wl_pipe_op op = {first + in_group % size, backward ? vp - 1 - chunk : chunk, backward, false,
                     false};
    return op;
}

int64_t wl_vp_group_size(int pp, int group)
{
    return group > 0 ? group : pp;
}

static int64_t warmup_forwards(int pp, int vp, int group, int64_t m, int stage)
{
    int64_t total = m * vp;
    int64_t group_size = wl_vp_group_size(pp, group);
    int64_t warmup =
        vp == 1 ? pp - stage - 1 : (int64_t)(pp - stage - 1) * 2 + (vp - 1) * group_size;
    return warmup < total ? warmup : total;
}

int64_t wl_pipeline_ops(int vp, int64_t m, wl_schedule schedule)
{
    return schedule == WL_SCHED_ZB_H1 ? 3 * m : 2 * m * vp;
}

static void zero_bubble_order(int pp, int64_t m, int stage, wl_pipe_op *out)
{
    int64_t n = 0;
    for (int64_t x = 0; x < m + pp - 1; x++) {
        int64_t b = x - (pp - 1 - stage), w = x - (pp - 1);
        if (x < m)
            out[n++] = (wl_pipe_op){x, 0, false, false, false};
        if (b >= 0 && b < m)
            out[n++] = (wl_pipe_op){b, 0, true, false, false};
        if (w >= 0 && w < m)
            out[n++] = (wl_pipe_op){w, 0, true, true, false};
    }
}

/* Marks every forward and backward of the n ops paired but the first
 * max(1, warmup) forwards and the last as many backwards (a W never pairs). */
static void mark_pairs(wl_pipe_op *out, int64_t n, int64_t warmup)
{
    int64_t alone = warmup > 1 ? warmup : 1, forwards = 0, backwards = 0;
    for (int64_t i = 0; i < n; i++)
        out[i].paired = !out[i].weight && (out[i].backward || forwards++ >= alone);
    for (int64_t i = n - 1; i >= 0; i--)
        if (out[i].backward && !out[i].weight && backwards++ < alone)
            out[i].paired = false;
}

void wl_pipeline_order(int pp, int vp, int group, int64_t m, int stage, wl_schedule schedule,
                       wl_pipe_op *out)
{
    if (schedule == WL_SCHED_ZB_H1) {
        zero_bubble_order(pp, m, stage, out);
        mark_pairs(out, wl_pipeline_ops(vp, m, schedule), pp - 1 - stage);
        return;
    }
    int64_t total = m * vp, g = wl_vp_group_size(pp, group);
    int64_t warmup = warmup_forwards(pp, vp, group, m, stage);
    int64_t n = 0;
    for (int64_t k = 0; k < warmup; k++)
        out[n++] = interleaved_op(vp, g, m, k, false);
    for (int64_t k = 0; k < total - warmup; k++) {
        out[n++] = interleaved_op(vp, g, m, warmup + k, false);
        out[n++] = interleaved_op(vp, g, m, k, true);
    }
    for (int64_t k = total - warmup; k < total; k++)
        out[n++] = interleaved_op(vp, g, m, k, true);
    mark_pairs(out, n, warmup);
}

double wl_pipeline_peak_layers(int pp, int vp, int group, int64_t m, int stage,
                               wl_schedule schedule, const double *chunk_layers)
{
    if (vp == 1 || schedule == WL_SCHED_ZB_H1)
        return (double)wl_pipeline_max_inflight(pp, vp, group, m, stage, schedule) *
               chunk_layers[0];
    /* the program's own order: a forward holds its chunk's layers until
     * that chunk's backward of the same micro-batch frees them */
    int64_t total = m * vp, g = wl_vp_group_size(pp, group);
    int64_t warmup = warmup_forwards(pp, vp, group, m, stage);
    double live = 0, peak = 0;
    for (int64_t k = 0; k < total; k++) {
        live += chunk_layers[interleaved_op(vp, g, m, k, false).chunk];
        peak = live > peak ? live : peak;
        if (k >= warmup)
            live -= chunk_layers[interleaved_op(vp, g, m, k - warmup, true).chunk];
    }
    return peak; /* the cool-down only frees */
}

/* In flight peaks at the end of warm-up plus the first steady forward;
 * under ZB-H1 a forward stays in flight until its W, pp - 1 triples later. */
int64_t wl_pipeline_max_inflight(int pp, int vp, int group, int64_t m, int stage,
                                 wl_schedule schedule)
{
    if (schedule == WL_SCHED_ZB_H1)
        return pp < m ? pp : m;
    int64_t total = m * vp;
    int64_t warmup = warmup_forwards(pp, vp, group, m, stage);
    return warmup < total ? warmup + 1 : total;
}
