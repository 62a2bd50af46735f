/*
 * Where a group's members sit. Member j of a group is chip base + j * stride;
 * the group's translates (net.h) tile the machine. A layout is regular when
 * every node the group touches holds the same number of its members at the
 * same positions, and likewise every scale-up domain: the shape of real
 * tensor-, pipeline- and data-parallel groups, and what lets one group stand
 * for all (the analytic model) and lets identical groups be simulated once
 * (the flow model).
 */
#include "net/internal.h"

/* Members per unit (node or domain) and units touched, for members
 * base + j * stride, j < size; false when the units do not hold equal shares
 * at equal positions. */
static bool level_counts(int64_t base, int64_t stride, int size, int64_t unit, bool partial_ok,
                         int *per, int *count)
{
    int64_t offset = base % unit;
    int64_t first = (unit - offset + stride - 1) / stride;
    if (first >= size) {
        *per = size;
        *count = 1;
        return true;
    }
    if (stride >= unit) {
        *per = 1;
        *count = size;
        return stride % unit == 0;
    }
    int64_t share = unit / stride;
    if (unit % stride != 0 || offset >= stride || (size % share != 0 && !partial_ok))
        return false;
    *per = (int)share;
    *count = (int)((size + share - 1) / share);
    return true;
}

usim_status net_sub_layout(const net_topo *t, net_sub *s, usim_error *err)
{
    if (!level_counts(s->base, s->stride, s->size, t->nc, false, &s->m0, &s->nodes))
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "a group of %d ranks with stride %lld does not sit the same way "
                               "in every %d-chip node; use a size x stride that divides or is a "
                               "multiple of the node",
                               s->size, (long long)s->stride, t->nc);
    /* the last domain may be partial when whole nodes end the system early */
    if (!level_counts(s->base, s->stride, s->size, t->dc, s->size % s->m0 == 0, &s->m_dom,
                      &s->domains))
        return usim_fail_field(err, USIM_EINPUT, "group",
                               "a group of %d ranks with stride %lld does not sit the same way "
                               "in every %lld-chip scale-up domain",
                               s->size, (long long)s->stride, (long long)t->dc);
    s->last_dom = s->size - (s->domains - 1) * s->m_dom;
    return USIM_OK;
}

/*
 * Translates of (size, stride): translate g has offset g % stride inside
 * block g / stride of size * stride chips. Pod 0 is chips [0, span). When a
 * block fits inside the pod, no translate crosses it; otherwise only block 0
 * touches it, and offset o holds the members o + j * stride < span:
 * floor(span / stride) or one more for the first span % stride offsets.
 */
void net_touching_classes(int size, int64_t stride, int64_t groups, int64_t span,
                          net_class_fn fn, void *ctx)
{
    if ((int64_t)size * stride <= span)
        return;
    int64_t active = groups < stride ? groups : stride;
    if (stride >= span) {
        fn(ctx, 1, active < span ? active : span);
        return;
    }
    int64_t q = span / stride, r = span % stride;
    int64_t hi = active < r ? active : r;
    if (hi > 0 && q + 1 < size)
        fn(ctx, (int)(q + 1), hi);
    if (active > r && q < size)
        fn(ctx, (int)q, active - r);
}
