/*
 * Failure rates of a job, Daly's expected wall time, the optimal checkpoint
 * interval, and a Monte-Carlo run of the same process (see
 * ultrasim/reliability.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/reliability.h"

#define FIT_PER_S (1e-9 / 3600.0) /* one FIT, in failures per second */

static const char *const PART_NAMES[REL_PART_COUNT] = {"chip", "hbm", "host",
                                                       "software", "nic", "link"};

const char *rel_part_name(rel_part p)
{
    return p >= 0 && p < REL_PART_COUNT ? PART_NAMES[p] : "?";
}

rel_rates rel_job_rates(const hw_system *sys)
{
    rel_rates r;
    const hw_reliability *f = &sys->reliability;
    double chips = sys->chips;
    double nodes = ceil(chips / sys->node.chips);
    double stacks = chips * (sys->chip.hbm.stacks > 0 ? sys->chip.hbm.stacks : 1);
    memset(&r, 0, sizeof r);
    r.per_s[REL_CHIP] = chips * f->chip_fit * FIT_PER_S;
    r.per_s[REL_HBM] = stacks * f->hbm_stack_fit * FIT_PER_S;
    r.per_s[REL_HOST] = nodes * f->host_fit * FIT_PER_S;
    r.per_s[REL_SOFTWARE] = nodes * f->software_fit * FIT_PER_S;
    r.per_s[REL_NIC] = chips * f->nic_fit * FIT_PER_S;
    r.per_s[REL_LINK] = chips * f->link_fit * FIT_PER_S;
    for (int i = 0; i < REL_PART_COUNT; i++)
        r.total_per_s += r.per_s[i];
    r.mtbf_s = r.total_per_s > 0 ? 1.0 / r.total_per_s : INFINITY;
    return r;
}

/* T_wall = M e^(R/M) (e^((tau + delta)/M) - 1) T_solve / tau; without
 * failures (M infinite) it is T_solve (1 + delta / tau), and T_solve when no
 * checkpoint is taken (tau infinite). */
double rel_expected_wall_s(const rel_process *p)
{
    double M = p->mtbf_s, tau = p->interval_s;
    if (!isfinite(M))
        return p->solve_s * (1 + p->checkpoint_s / tau);
    return M * exp(p->restart_s / M) * expm1((tau + p->checkpoint_s) / M) * p->solve_s / tau;
}

double rel_young_interval_s(double checkpoint_s, double mtbf_s)
{
    return sqrt(2 * checkpoint_s * mtbf_s);
}

/* A run checkpoints after each interval, so it takes a whole number of
 * segments: the interval that divides the run evenly into the nearer count
 * of the two around tau's, the one Daly's T_wall prefers (tau just under
 * the run made the run two segments, a checkpoint paid for a tail of
 * microseconds that the continuous formula does not see). */
static double whole_segments(const rel_process *p, double tau)
{
    if (!isfinite(p->solve_s) || !(p->solve_s > 0))
        return tau;
    double n = p->solve_s / tau, fewer = fmax(1, floor(n)), more = fmax(1, ceil(n));
    rel_process a = *p, b = *p;
    a.interval_s = p->solve_s / fewer;
    b.interval_s = p->solve_s / more;
    return rel_expected_wall_s(&a) <= rel_expected_wall_s(&b) ? a.interval_s : b.interval_s;
}

/* Daly's T_wall is convex in tau: a golden-section search over
 * [delta/100, 10 M] (clipped to the run) finds its minimum. Without failures
 * a checkpoint only costs time: the best is never to take one. */
double rel_optimal_interval_s(const rel_process *p)
{
    if (!isfinite(p->mtbf_s))
        return INFINITY;
    const double phi = (sqrt(5.0) - 1) / 2;
    double lo = fmax(p->checkpoint_s / 100, 1e-3), hi = fmin(10 * p->mtbf_s, p->solve_s);
    if (hi <= lo)
        return hi;
    rel_process q = *p;
    for (int i = 0; i < 200 && hi - lo > 1e-6 * hi; i++) {
        double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
        q.interval_s = a;
        double fa = rel_expected_wall_s(&q);
        q.interval_s = b;
        double fb = rel_expected_wall_s(&q);
        if (fa < fb)
            hi = b;
        else
            lo = a;
    }
    return whole_segments(p, (lo + hi) / 2);
}

/* splitmix64 (Steele, Lea, Flood 2014): small, fast, seeded, deterministic. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double exponential(uint64_t *state, double mean)
{
    double u = ((double)(next_u64(state) >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
    return -mean * log(u);
}

/* Time to get through `need` seconds of uninterrupted activity, restarting
 * (at cost R, itself interruptible) after every failure. */
static double survive(double need, const rel_process *p, uint64_t *rng, double *clock_to_fail,
                      double *failures)
{
    double spent = 0;
    for (;;) {
        if (*clock_to_fail >= need) {
            *clock_to_fail -= need;
            return spent + need;
        }
        spent += *clock_to_fail; /* lost */
        *failures += 1;
        *clock_to_fail = exponential(rng, p->mtbf_s);
        while (*clock_to_fail < p->restart_s) { /* failed again while restarting */
            spent += *clock_to_fail;
            *failures += 1;
            *clock_to_fail = exponential(rng, p->mtbf_s);
        }
        spent += p->restart_s;
        *clock_to_fail -= p->restart_s;
    }
}

static double one_run(const rel_process *p, uint64_t *rng, double *failures)
{
    double wall = 0, left = p->solve_s;
    double clock_to_fail = isfinite(p->mtbf_s) ? exponential(rng, p->mtbf_s) : INFINITY;
    /* Daly's model checkpoints every segment; so does this one. An infinite
     * interval is one segment and no checkpoint. */
    double checkpoint_s = isfinite(p->interval_s) ? p->checkpoint_s : 0;
    /* what rounding leaves of an interval that divides the run evenly (10^-9
     * of it) is not a segment of its own with a checkpoint */
    while (left > 1e-9 * p->solve_s) {
        double work = fmin(p->interval_s, left);
        wall += survive(work + checkpoint_s, p, rng, &clock_to_fail, failures);
        left -= work;
    }
    return wall;
}

/* Each run draws one number per failure and passes one loop per checkpoint
 * segment: runs x (segments + failures), with Daly's expected failures. */
double rel_monte_carlo_events(const rel_process *p, int runs)
{
    double segments = isfinite(p->interval_s) ? ceil(p->solve_s / p->interval_s) : 1;
    double failures = isfinite(p->mtbf_s) ? rel_expected_wall_s(p) / p->mtbf_s : 0;
    double events = (double)runs * (segments + failures);
    return isnan(events) ? INFINITY : events;
}

usim_status rel_simulate(const rel_process *p, int runs, uint64_t seed,
                         const rel_progress *progress, rel_monte_carlo *out, usim_error *err)
{
    if (runs < 1 || !(p->interval_s > 0) || !(p->solve_s >= 0))
        return usim_fail(err, USIM_EINPUT, "a Monte-Carlo run needs runs >= 1 and an interval > 0");
    double events = rel_monte_carlo_events(p, runs);
    if (!(events <= REL_MC_MAX_EVENTS))
        return usim_fail(err, USIM_EINPUT,
                         "%d Monte-Carlo runs of this process would take %.3g events (failures "
                         "and checkpoint segments), over the limit of %.0e; use fewer runs or a "
                         "longer interval",
                         runs, events, REL_MC_MAX_EVENTS);
    uint64_t rng = seed;
    /* Welford's running mean and squared deviations: the sum of squares less
     * the squared mean cancels to noise when every run takes the same time
     * (41 ms of spread on identical 16-day runs) */
    double mean = 0, squares = 0, failures = 0;
    for (int i = 0; i < runs; i++) {
        double w = one_run(p, &rng, &failures);
        double delta = w - mean;
        mean += delta / (i + 1);
        squares += delta * (w - mean);
        if (progress && progress->fn)
            progress->fn(progress->ctx, i + 1, runs);
    }
    out->runs = runs;
    out->mean_wall_s = mean;
    out->stddev_wall_s = sqrt(squares / runs);
    out->mean_failures = failures / runs;
    return USIM_OK;
}
