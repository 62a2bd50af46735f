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
 * (pp - s - 1) x 2 + (vp - 1) x pp forwards.
 *
 * The timing of these programs is not computed here: the discrete-event
 * simulation runs them against each other, and bubbles emerge from the
 * dependencies between ranks.
 */
#include "ultrasim/workload.h"

/* k-th forward (or backward) of an interleaved program: micro-batches go in
 * groups of pp, each group through chunk 0, 1, ... (backwards in reverse). */
static wl_pipe_op interleaved_op(int pp, int vp, int64_t k, bool backward)
{
    int64_t group = k / ((int64_t)pp * vp);
    int64_t in_group = k % ((int64_t)pp * vp);
    int chunk = (int)(in_group / pp);
    wl_pipe_op op = {group * pp + k % pp, backward ? vp - 1 - chunk : chunk, backward};
    return op;
}

static int64_t warmup_forwards(int pp, int vp, int64_t m, int stage)
{
    int64_t total = m * vp;
    int64_t warmup = vp == 1 ? pp - stage - 1 : (int64_t)(pp - stage - 1) * 2 + (int64_t)(vp - 1) * pp;
    return warmup < total ? warmup : total;
}

void wl_pipeline_order(int pp, int vp, int64_t m, int stage, wl_pipe_op *out)
{
    int64_t total = m * vp;
    int64_t warmup = warmup_forwards(pp, vp, m, stage);
    int64_t n = 0;
    for (int64_t k = 0; k < warmup; k++)
        out[n++] = interleaved_op(pp, vp, k, false);
    for (int64_t k = 0; k < total - warmup; k++) {
        out[n++] = interleaved_op(pp, vp, warmup + k, false);
        out[n++] = interleaved_op(pp, vp, k, true);
    }
    for (int64_t k = total - warmup; k < total; k++)
        out[n++] = interleaved_op(pp, vp, k, true);
}

/* In flight peaks at the end of warm-up plus the first steady forward. */
int64_t wl_pipeline_max_inflight(int pp, int vp, int64_t m, int stage)
{
    int64_t total = m * vp;
    int64_t warmup = warmup_forwards(pp, vp, m, stage);
    return warmup < total ? warmup + 1 : total;
}
