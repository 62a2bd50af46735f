/*
 * Collective algorithms as plans: sequences of phases, each a pattern of
 * flows run by every subgroup at once, with its step count and per-step
 * latency. Both cost models read the same plan, so they can only differ in
 * how they share bandwidth. n is the nccl-tests size (net.h); m the ranks.
 *
 *   ring     all-reduce = reduce-scatter + all-gather over a ring, 2(m-1)
 *            steps of n/m:  t = 2(m-1) a + 2(m-1)/m n / B   (Patarasuk and
 *            Yuan 2009; Thakur et al. 2005). RS, AG: half. Broadcast and
 *            reduce pipeline a chain: t = (m-1) a + n / B. With C channels
 *            (H cycles x R rotations x D directions) each carries n / C.
 *   ring2    the same with D = 2: every ring also runs backwards on half.
 *   tree     all-reduce by a double binary tree, pipelined reduce + broadcast,
 *            each tree on n/2 (Sanders et al. 2009; NCCL 2.4):
 *            t = 2 d a + 2 n / B, d = floor(log2 m).
 *   rhd      recursive halving then doubling (Rabenseifner 2004; Thakur et
 *            al. 2005): t = 2 log2(m) a + 2 (m-1)/m n / B, partners near
 *            first so the large halves stay on the fastest links; for m not
 *            a power of two the m - 2^k extra ranks fold in first and get the
 *            result last (2 more steps of n). Broadcast = binomial scatter +
 *            recursive-doubling all-gather (van de Geijn); reduce =
 *            reduce-scatter + binomial gather; all-to-all = Bruck's
 *            ceil(log2 m) steps of about n/2 (Bruck et al. 1997).
 *   mesh     direct: every rank to every rank in one step per phase:
 *            all-reduce t = 2 a + 2 (m-1)/m n / B when the links allow
 *            (Neuron's Mesh [CCintra]; on a torus the routed flows
 *            oversubscribe links, which the link loads show).
 *   torus    dimension by dimension (Neuron's and TPU's multi-dimensional
 *            rings): the data is cut in D parts, part i reduce-scatters along
 *            dims i, i+1, ... in turn, both directions of each dimension's
 *            ring at once, so all 2D links are busy every phase:
 *            t = 2 sum_d (k_d - 1) a + 2 (m-1)/m n / B_chip when balanced.
 *   hier     inside, then across: all-reduce = inner reduce-scatter + outer
 *            all-reduce on n / m_in + inner all-gather; all-gather runs the
 *            outer stage first (less traffic on the slow links) [CCinter].
 *            Each stage picks its fastest algorithm.
 *   neuron   the Neuron runtime's documented intra-node choice by size:
 *            mesh below 1 MB, RDH to 56 MB, ring (KangaRing) above
 *            [CCintra]; across nodes hierarchical with the fastest stage.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/internal.h"

#define NEURON_MESH_BELOW_BYTES 1e6
#define NEURON_RDH_BELOW_BYTES 56e6

typedef struct fam {
    int n1, n2;
    int64_t step1, step2;
    int level;
} fam;

static const fam FLAT = {1, 1, 0, 0, 0};

typedef enum choose_mode { CHOOSE_AUTO, CHOOSE_NEURON } choose_mode;

typedef struct ctx {
    const net_topo *t;
    int64_t groups;
    net_plan *plan;
    usim_error *err;
    double *costs; /* the top-level choice records every candidate's cost */
    bool own_kernels; /* the request's: no library model */
} ctx;

static usim_status build_algo(ctx *c, net_op op, double n, const net_sub *s, net_algo algo,
                              fam f, choose_mode mode);
static usim_status choose(ctx *c, net_op op, double n, const net_sub *s, fam f,
                          choose_mode mode, bool allow_hier, net_algo *picked);

static bool is_pow2(int m)
{
    return m > 0 && (m & (m - 1)) == 0;
}

static int log2_floor(int m)
{
    int k = 0;
    while ((1 << (k + 1)) <= m)
        k++;
    return k;
}

static net_phase *new_phase(ctx *c, const net_sub *s, fam f, int steps, double step_s, int tier)
{
    net_plan *pl = c->plan;
    if (pl->nphases >= NET_MAX_PHASES) {
        usim_fail(c->err, USIM_ERUNTIME, "the plan needs more than %d phases", NET_MAX_PHASES);
        return NULL;
    }
    net_phase *ph = &pl->phase[pl->nphases++];
    memset(ph, 0, sizeof *ph);
    ph->size = s->size;
    ph->stride = s->stride;
    ph->n1 = f.n1;
    ph->n2 = f.n2;
    ph->step1 = f.step1;
    ph->step2 = f.step2;
    ph->level = f.level;
    ph->steps = steps;
    ph->latency_s = steps * step_s;
    ph->tier = tier;
    return ph;
}

static net_item *add_item(net_phase *ph, int pattern, double bytes)
{
    net_item *it = &ph->item[ph->nitems++];
    memset(it, 0, sizeof *it);
    it->pattern = pattern;
    it->bytes = bytes;
    it->dirs = 1;
    return it;
}

/* ---- per-step latency ------------------------------------------------- */

typedef struct lat {
    double s;
    int tier;
} lat;

static void lat_pair(const net_topo *t, const net_sub *s, int64_t a, int64_t b, lat *l)
{
    if (a == b || a < 0 || b < 0 || a >= s->size || b >= s->size)
        return;
    int64_t ca = net_member_chip(s, a), cb = net_member_chip(s, b);
    double x = net_route_latency(t, ca, cb);
    int tier = net_route_tier(t, ca, cb);
    if (x > l->s)
        l->s = x;
    if (tier > l->tier)
        l->tier = tier;
}

/* Ring steps: every in-node edge, and the node-to-node edges of every
 * rotation at the first node boundary, the first domain boundary and the
 * closing edge. */
static lat ring_latency(const net_topo *t, const net_sub *s, const net_ringgeo *g)
{
    lat l = {0.0, NET_TIER_NODE};
    int m0 = g->m0, K = g->K, per_dom = s->m_dom / m0;
    for (int h = 0; h < g->H; h++) {
        for (int i = 0; i < m0 && K == 1; i++)
            lat_pair(t, s, g->ord[h][i], g->ord[h][(i + 1) % m0], &l);
        for (int i = 0; i + 1 < m0 && K > 1; i++)
            lat_pair(t, s, g->ord[h][i], g->ord[h][i + 1], &l);
        if (K == 1)
            continue;
        int ks[3] = {0, per_dom - 1, K - 1};
        for (int c = 0; c < g->R; c++) {
            int exit = g->ord[h][(c + m0 - 1) % m0], entry = g->ord[h][c];
            for (int x = 0; x < 3; x++) {
                int k = ks[x] < 0 ? 0 : ks[x];
                lat_pair(t, s, (int64_t)k * m0 + exit, (int64_t)((k + 1) % K) * m0 + entry, &l);
            }
        }
    }
    return l;
}

/* Members worth checking for the worst route of a pairwise step: the first
 * ones, the last ones, and those at every node, domain and pod boundary. */
static int sample_members(const net_topo *t, const net_sub *s, int64_t *out, int cap)
{
    int n = 0;
    for (int64_t j = 0; j < s->size && j < 32 && n < cap; j++)
        out[n++] = j;
    for (int64_t j = s->size - 8 > 32 ? s->size - 8 : 32; j < s->size && n < cap; j++)
        out[n++] = j;
    int64_t units[NET_MAX_CLOS + 3];
    int nu = 0;
    units[nu++] = t->nc;
    units[nu++] = t->dc;
    for (int l = 1; l <= t->tiers; l++)
        units[nu++] = t->pod[l];
    for (int u = 0; u < nu; u++) {
        int64_t j = units[u] / s->stride;
        for (int64_t d = -2; d <= 1 && n < cap; d++)
            if (j + d >= 0 && j + d < s->size)
                out[n++] = j + d;
    }
    return n;
}

static lat pair_latency(const net_topo *t, const net_sub *s, const net_item *it)
{
    lat l = {0.0, NET_TIER_NODE};
    int64_t js[96];
    int n = sample_members(t, s, js, 96);
    for (int i = 0; i < n; i++) {
        int64_t j = js[i];
        if (it->pattern == NET_PAT_XOR) {
            if (j < it->p2)
                lat_pair(t, s, j, j ^ it->dist, &l);
        } else if (j >= it->lo && j < it->hi) {
            lat_pair(t, s, j, ((j + it->dist) % s->size + s->size) % s->size, &l);
        }
    }
    return l;
}

/* The worst route from member 0 (fan-out, mesh, tree edges near the root):
 * the farthest member of node 0, that chip's twin in every node of domain 0,
 * and the last member (across the highest Clos tier the group spans). By
 * translation, member 0's farthest route is as long as any pair's. */
static lat far_latency(const net_topo *t, const net_sub *s)
{
    lat l = {0.0, NET_TIER_NODE};
    int far = 0;
    double worst = -1.0;
    for (int i = 0; i < s->m0; i++) {
        double x = net_route_latency(t, net_member_chip(s, 0), net_member_chip(s, i));
        if (x > worst) {
            worst = x;
            far = i;
        }
        lat_pair(t, s, 0, i, &l);
    }
    int nodes = s->m_dom / s->m0;
    for (int k = 1; k < nodes; k++)
        lat_pair(t, s, 0, (int64_t)k * s->m0 + far, &l);
    lat_pair(t, s, 0, s->size - 1, &l);
    return l;
}

/* ---- ring ------------------------------------------------------------ */

static usim_status shift_phase(ctx *c, const net_sub *s, fam f, int64_t dist, int lo, int hi,
                               double bytes)
{
    net_item probe = {.pattern = NET_PAT_SHIFT, .dist = dist, .lo = lo, .hi = hi};
    lat l = pair_latency(c->t, s, &probe);
    net_phase *ph = new_phase(c, s, f, 1, l.s, l.tier);
    if (!ph)
        return USIM_ERUNTIME;
    net_item *it = add_item(ph, NET_PAT_SHIFT, bytes);
    it->dist = dist;
    it->lo = lo;
    it->hi = hi;
    return USIM_OK;
}

static usim_status alg_ring(ctx *c, net_op op, double n, const net_sub *s, int dirs, fam f)
{
    int m = s->size;
    if (op == NET_ALLTOALL)
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "ring does not apply to all-to-all; use mesh or rhd");
    if (op == NET_SENDRECV)
        return shift_phase(c, s, f, 1, 0, m, n);
    net_ringgeo g;
    net_ring_geometry(c->t, s, &g);
    double channels = (double)g.H * g.R * dirs;
    int steps = m - 1;
    double bytes = (double)(m - 1) / m * n;
    int chain = NET_CHAIN_NONE;
    if (op == NET_ALLREDUCE) {
        steps = 2 * (m - 1);
        bytes *= 2.0;
    } else if (op == NET_BROADCAST || op == NET_REDUCE) {
        bytes = n;
        chain = op == NET_BROADCAST ? NET_CHAIN_FROM_ROOT : NET_CHAIN_TO_ROOT;
    }
    lat l = ring_latency(c->t, s, &g);
    net_phase *ph = new_phase(c, s, f, steps, l.s, l.tier);
    if (!ph)
        return USIM_ERUNTIME;
    net_item *it = add_item(ph, NET_PAT_RING, bytes / channels);
    it->dirs = dirs;
    it->chain = chain;
    return USIM_OK;
}

/* ---- torus ----------------------------------------------------------- */

typedef struct torus_run {
    int D;
    int extent[NET_MAX_TDIMS];
    int mstride[NET_MAX_TDIMS];
    double hop_s[NET_MAX_TDIMS];
    int tier[NET_MAX_TDIMS];
} torus_run;

/* The group as whole torus dimensions: consecutive dims from the one whose
 * chip stride is the group's stride, multiplying to its size. */
static bool find_torus_run(const net_topo *t, const net_sub *s, torus_run *r)
{
    int a = -1;
    for (int d = 0; d < t->ntdim; d++)
        if (t->tdim[d].chip_stride == s->stride)
            a = d;
    if (a < 0)
        return false;
    int64_t product = 1;
    r->D = 0;
    for (int d = a; d < t->ntdim && product < s->size; d++) {
        if (t->tdim[d].chip_stride != s->stride * product)
            return false;
        r->extent[r->D] = t->tdim[d].extent;
        r->mstride[r->D] = (int)product;
        r->hop_s[r->D] = t->tdim[d].tier == NET_TIER_NODE ? t->node_hop_s : t->dom_hop_s;
        r->tier[r->D] = t->tdim[d].tier;
        product *= t->tdim[d].extent;
        r->D++;
    }
    return product == s->size && r->D <= NET_MAX_ITEMS;
}

/* Phase j of the reduce-scatter: part i works on dim (i + j) mod D with its
 * data shrunk by the extents it has already reduced over. */
static usim_status torus_phase(ctx *c, const net_sub *s, fam f, const torus_run *r, int j,
                               double n)
{
    int steps = 0;
    double step_s = 0.0;
    for (int i = 0; i < r->D; i++) {
        int d = (i + j) % r->D;
        if (r->extent[d] - 1 > steps)
            steps = r->extent[d] - 1;
        if ((r->extent[d] - 1) * r->hop_s[d] > step_s)
            step_s = (r->extent[d] - 1) * r->hop_s[d];
    }
    net_phase *ph = new_phase(c, s, f, steps, step_s / steps, NET_TIER_NODE);
    if (!ph)
        return USIM_ERUNTIME;
    ph->latency_s = step_s;
    for (int i = 0; i < r->D; i++) {
        double data = n / r->D;
        for (int e = 0; e < j; e++)
            data /= r->extent[(i + e) % r->D];
        int d = (i + j) % r->D;
        double k = r->extent[d];
        net_item *it = add_item(ph, NET_PAT_DIMRING, (k - 1) / k * data / 2.0);
        it->dim = r->mstride[d];
        it->extent = r->extent[d];
        if (r->tier[d] > ph->tier)
            ph->tier = r->tier[d];
    }
    return USIM_OK;
}

static usim_status alg_torus(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    torus_run r;
    if (op != NET_ALLREDUCE && op != NET_REDUCE_SCATTER && op != NET_ALLGATHER)
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "torus applies to all-reduce, reduce-scatter and all-gather");
    if (!find_torus_run(c->t, s, &r))
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "torus needs a group that is whole dimensions of a torus (for "
                               "example the 16 chips of a trn2 node or the 64 of a Trn2 "
                               "UltraServer); this group of %d ranks with stride %lld is not",
                               s->size, (long long)s->stride);
    usim_status st = USIM_OK;
    if (op != NET_ALLGATHER)
        for (int j = 0; j < r.D && st == USIM_OK; j++)
            st = torus_phase(c, s, f, &r, j, n);
    if (op != NET_REDUCE_SCATTER)
        for (int j = r.D - 1; j >= 0 && st == USIM_OK; j--)
            st = torus_phase(c, s, f, &r, j, n);
    return st;
}

/* ---- recursive halving and doubling ------------------------------------ */

static usim_status xor_phase(ctx *c, const net_sub *s, fam f, int p2, int64_t dist, double bytes)
{
    net_item probe = {.pattern = NET_PAT_XOR, .dist = dist, .p2 = p2};
    lat l = pair_latency(c->t, s, &probe);
    net_phase *ph = new_phase(c, s, f, 1, l.s, l.tier);
    if (!ph)
        return USIM_ERUNTIME;
    net_item *it = add_item(ph, NET_PAT_XOR, bytes);
    it->dist = dist;
    it->p2 = p2;
    return USIM_OK;
}

/* Reduce-scatter by halving, nearest partner first: step k exchanges n/2^(k+1). */
static usim_status rhd_halving(ctx *c, const net_sub *s, fam f, int p2, double n)
{
    usim_status st = USIM_OK;
    for (int k = 0; (1 << k) < p2 && st == USIM_OK; k++)
        st = xor_phase(c, s, f, p2, (int64_t)1 << k, n / (double)(2 << k));
    return st;
}

/* All-gather by doubling, farthest partner first (small pieces far). */
static usim_status rhd_doubling(ctx *c, const net_sub *s, fam f, int p2, double n)
{
    usim_status st = USIM_OK;
    for (int k = log2_floor(p2) - 1; k >= 0 && st == USIM_OK; k--)
        st = xor_phase(c, s, f, p2, (int64_t)1 << k, n / (double)(2 << k));
    return st;
}

static usim_status rhd_bruck(ctx *c, const net_sub *s, fam f, double n)
{
    int m = s->size;
    usim_status st = USIM_OK;
    for (int k = 0; (1 << k) < m && st == USIM_OK; k++) {
        int64_t blocks = 0;
        for (int64_t i = 0; i < m; i++)
            blocks += (i >> k) & 1;
        st = shift_phase(c, s, f, (int64_t)1 << k, 0, m, (double)blocks * n / m);
    }
    return st;
}

static usim_status alg_rhd(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    int m = s->size, p2 = 1 << log2_floor(m);
    usim_status st = USIM_OK;
    if (op == NET_ALLTOALL)
        return rhd_bruck(c, s, f, n);
    if (op == NET_SENDRECV)
        return shift_phase(c, s, f, 1, 0, m, n);
    if (op != NET_ALLREDUCE && !is_pow2(m))
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "rhd needs a power-of-two number of ranks for %s (got %d)",
                               net_op_name(op), m);
    switch (op) {
    case NET_ALLREDUCE:
        if (p2 < m)
            st = shift_phase(c, s, f, -p2, p2, m, n);
        if (st == USIM_OK)
            st = rhd_halving(c, s, f, p2, n);
        if (st == USIM_OK)
            st = rhd_doubling(c, s, f, p2, n);
        if (st == USIM_OK && p2 < m)
            st = shift_phase(c, s, f, p2, 0, m - p2, n);
        return st;
    case NET_REDUCE_SCATTER:
        return rhd_halving(c, s, f, m, n);
    case NET_ALLGATHER:
        return rhd_doubling(c, s, f, m, n);
    case NET_BROADCAST:
        for (int k = 0; (1 << k) < m && st == USIM_OK; k++)
            st = shift_phase(c, s, f, (int64_t)1 << k, 0, 1 << k, n / (double)(2 << k));
        return st == USIM_OK ? rhd_doubling(c, s, f, m, n) : st;
    case NET_REDUCE:
        st = rhd_halving(c, s, f, m, n);
        for (int k = log2_floor(m) - 1; k >= 0 && st == USIM_OK; k--)
            st = shift_phase(c, s, f, -((int64_t)1 << k), 1 << k, 2 << k, n / (double)(2 << k));
        return st;
    default:
        return USIM_OK;
    }
}

/* ---- mesh and tree ---------------------------------------------------- */

static usim_status pattern_phase(ctx *c, const net_sub *s, fam f, int pattern, int steps,
                                 double bytes)
{
    lat l = far_latency(c->t, s);
    net_phase *ph = new_phase(c, s, f, steps, l.s, l.tier);
    if (!ph)
        return USIM_ERUNTIME;
    add_item(ph, pattern, bytes);
    return USIM_OK;
}

static usim_status alg_mesh(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    int m = s->size;
    usim_status st;
    switch (op) {
    case NET_ALLREDUCE:
        st = pattern_phase(c, s, f, NET_PAT_ALLPAIRS, 1, n / m);
        return st == USIM_OK ? pattern_phase(c, s, f, NET_PAT_ALLPAIRS, 1, n / m) : st;
    case NET_REDUCE_SCATTER:
    case NET_ALLGATHER:
    case NET_ALLTOALL:
        return pattern_phase(c, s, f, NET_PAT_ALLPAIRS, 1, n / m);
    case NET_BROADCAST:
        return pattern_phase(c, s, f, NET_PAT_FANOUT, 1, n);
    case NET_REDUCE:
        return pattern_phase(c, s, f, NET_PAT_FANIN, 1, n);
    default:
        return shift_phase(c, s, f, 1, 0, m, n);
    }
}

/* NVLink SHARP: the NVSwitch reduces and multicasts. An all-reduce reads
 * each rank's share of the sum from every rank through the switch
 * (multimem.ld_reduce: n out of every rank, n / p into it) and multicasts the
 * share back (multimem.st: n / p out, n in), so a rank's links carry
 * n (1 + 1/p) each way; an all-gather or reduce-scatter of n bytes carries
 * n (p-1)/p, as a ring does. As all pairs: that over p - 1 per pair. Only
 * where the system's collective library runs it (library.c). */
static usim_status alg_nvls(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    usim_status st = net_library_nvls_fits(c->t, op, s, c->err);
    if (st != USIM_OK)
        return st;
    int p = s->size;
    double per_rank = op == NET_ALLREDUCE ? n * (1.0 + 1.0 / p) : n * (p - 1) / p;
    return pattern_phase(c, s, f, NET_PAT_ALLPAIRS, 1, per_rank / (p - 1));
}

static usim_status alg_tree(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    if (op != NET_ALLREDUCE)
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "tree applies to all-reduce only (as in NCCL)");
    int depth = net_tree_depth(s->size);
    lat l = far_latency(c->t, s);
    net_phase *ph = new_phase(c, s, f, 2 * depth, l.s, l.tier);
    if (!ph)
        return USIM_ERUNTIME;
    add_item(ph, NET_PAT_TREE, n / 2.0);
    return USIM_OK;
}

/* ---- hierarchical ------------------------------------------------------ */

/* Adds an index dimension (count, step) to a family. */
static fam fam_with(fam f, int count, int64_t step, int level)
{
    if (f.n1 == 1) {
        f.n1 = count;
        f.step1 = step;
    } else {
        f.n2 = count;
        f.step2 = step;
    }
    f.level = f.level ? f.level : level;
    return f;
}

static usim_status sub_of(ctx *c, int size, int64_t stride, net_sub *out)
{
    memset(out, 0, sizeof *out);
    out->size = size;
    out->stride = stride;
    return net_sub_layout(c->t, out, c->err);
}

static void append_why(ctx *c, const char *label, const char *algo)
{
    size_t used = strlen(c->plan->why);
    if (used + 1 < sizeof c->plan->why)
        snprintf(c->plan->why + used, sizeof c->plan->why - used, "%s%s %s", used ? ", " : "",
                 label, algo);
}

/* One stage of a hierarchical plan: the fastest algorithm for it, or
 * `reuse` (the inner all-gather mirrors the inner reduce-scatter, so it
 * takes the same algorithm without costing them all again). */
static usim_status stage(ctx *c, net_op op, double n, const net_sub *s, fam f, choose_mode mode,
                         const char *label, net_algo reuse, net_algo *picked)
{
    net_algo local;
    picked = picked ? picked : &local;
    if (s->size < 2)
        return USIM_OK;
    usim_status st;
    if (reuse != NET_ALGO_AUTO) {
        *picked = reuse;
        st = build_algo(c, op, n, s, reuse, f, mode);
    } else {
        st = choose(c, op, n, s, f, mode, true, picked);
    }
    if (st == USIM_OK)
        append_why(c, label, net_algo_name(*picked));
    return st;
}

/* The ranks of hier's inner stage: a scale-up domain's, then across; where
 * the system ends part way through its last domain (96 Trn2 chips in domains
 * of 64), a node's, which every system holds whole. */
static int hier_inner(const net_sub *s)
{
    return s->domains > 1 && s->last_dom == s->m_dom ? s->m_dom : s->m0;
}

static usim_status alg_hier(ctx *c, net_op op, double n, const net_sub *s, fam f,
                            choose_mode mode)
{
    int m_in = hier_inner(s);
    if (op == NET_ALLTOALL || op == NET_SENDRECV)
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "hier applies to all-reduce, reduce-scatter, all-gather, "
                               "broadcast and reduce");
    if (s->nodes < 2 || m_in < 2)
        return usim_fail_field(c->err, USIM_EINPUT, "algo",
                               "hier needs a group with several ranks in each of several "
                               "nodes or scale-up domains (this one has %d per node in %d "
                               "nodes)",
                               s->m0, s->nodes);
    int m_out = s->size / m_in;
    net_sub in, out;
    usim_status st = sub_of(c, m_in, s->stride, &in);
    if (st == USIM_OK)
        st = sub_of(c, m_out, s->stride * m_in, &out);
    if (st != USIM_OK)
        return st;
    fam fin = fam_with(f, m_out, (int64_t)m_in * s->stride, 1);
    fam fout = fam_with(f, m_in, s->stride, 2);
    fam froot = fam_with(f, 1, 0, 2);
    double shard = n / m_in;
    net_algo inner = NET_ALGO_AUTO;
    const net_algo A = NET_ALGO_AUTO;
    switch (op) {
    case NET_ALLREDUCE:
        st = stage(c, NET_REDUCE_SCATTER, n, &in, fin, mode, "inside", A, &inner);
        if (st == USIM_OK)
            st = stage(c, NET_ALLREDUCE, shard, &out, fout, mode, "across", A, NULL);
        return st == USIM_OK ? stage(c, NET_ALLGATHER, n, &in, fin, mode, "inside", inner, NULL)
                             : st;
    case NET_REDUCE_SCATTER:
        st = stage(c, NET_REDUCE_SCATTER, n, &in, fin, mode, "inside", A, NULL);
        return st == USIM_OK ? stage(c, NET_REDUCE_SCATTER, shard, &out, fout, mode, "across", A,
                                     NULL)
                             : st;
    case NET_ALLGATHER:
        st = stage(c, NET_ALLGATHER, shard, &out, fout, mode, "across", A, NULL);
        return st == USIM_OK ? stage(c, NET_ALLGATHER, n, &in, fin, mode, "inside", A, NULL) : st;
    case NET_BROADCAST:
        st = stage(c, NET_BROADCAST, n, &out, froot, mode, "across", A, NULL);
        return st == USIM_OK ? stage(c, NET_BROADCAST, n, &in, fin, mode, "inside", A, NULL) : st;
    default:
        st = stage(c, NET_REDUCE, n, &in, fin, mode, "inside", A, NULL);
        return st == USIM_OK ? stage(c, NET_REDUCE, n, &out, froot, mode, "across", A, NULL) : st;
    }
}

/* ---- Neuron's documented choice ----------------------------------------- */

static net_algo neuron_intra(net_op op, double n, int m)
{
    if (op == NET_ALLTOALL || n < NEURON_MESH_BELOW_BYTES)
        return NET_ALGO_MESH;
    if (n < NEURON_RDH_BELOW_BYTES && (op == NET_ALLREDUCE || is_pow2(m)))
        return NET_ALGO_RHD;
    return NET_ALGO_RING_BIDIR;
}

static usim_status alg_neuron(ctx *c, net_op op, double n, const net_sub *s, fam f)
{
    if (s->nodes > 1 && op != NET_ALLTOALL && op != NET_SENDRECV && hier_inner(s) > 1)
        return alg_hier(c, op, n, s, f, CHOOSE_NEURON);
    if (s->nodes > 1) {
        net_algo picked;
        usim_status st = choose(c, op, n, s, f, CHOOSE_NEURON, false, &picked);
        if (st == USIM_OK)
            append_why(c, "across nodes:", net_algo_name(picked));
        return st;
    }
    net_algo picked = neuron_intra(op, n, s->size);
    c->plan->intra = picked;
    append_why(c, op == NET_ALLTOALL                 ? "all-to-all:"
                  : n < NEURON_MESH_BELOW_BYTES      ? "below 1 MB:"
                  : n < NEURON_RDH_BELOW_BYTES      ? (picked == NET_ALGO_RHD
                                                           ? "1 to 56 MB:"
                                                           : "1 to 56 MB, not a power of two:")
                                                     : "above 56 MB:",
               picked == NET_ALGO_RING_BIDIR ? "ring2 (KangaRing's two rings)"
                                             : net_algo_name(picked));
    return build_algo(c, op, n, s, picked, f, CHOOSE_AUTO);
}

/* ---- dispatch and choice ------------------------------------------------ */

static usim_status build_algo(ctx *c, net_op op, double n, const net_sub *s, net_algo algo,
                              fam f, choose_mode mode)
{
    switch (algo) {
    case NET_ALGO_RING:
        return alg_ring(c, op, n, s, 1, f);
    case NET_ALGO_RING_BIDIR:
        return alg_ring(c, op, n, s, 2, f);
    case NET_ALGO_TREE:
        return alg_tree(c, op, n, s, f);
    case NET_ALGO_RHD:
        return alg_rhd(c, op, n, s, f);
    case NET_ALGO_MESH:
        return alg_mesh(c, op, n, s, f);
    case NET_ALGO_TORUS:
        return alg_torus(c, op, n, s, f);
    case NET_ALGO_HIER:
        return alg_hier(c, op, n, s, f, mode);
    case NET_ALGO_NEURON:
        return alg_neuron(c, op, n, s, f);
    case NET_ALGO_NVLS:
        return alg_nvls(c, op, n, s, f);
    default:
        return usim_fail_field(c->err, USIM_EINPUT, "algo", "no algorithm '%s'",
                               net_algo_name(algo));
    }
}

static double phases_cost(ctx *c, int from)
{
    double s = 0.0;
    for (int i = from; i < c->plan->nphases; i++) {
        const net_phase *ph = &c->plan->phase[i];
        s += ph->latency_s +
             net_phase_analytic(c->t, ph, c->groups * ph->n1 * ph->n2, NULL, NULL);
    }
    return s;
}

/* The plan's bandwidth time alone (the library adds its own latencies). */
static double phases_bandwidth(ctx *c, int from)
{
    double s = 0.0;
    for (int i = from; i < c->plan->nphases; i++) {
        const net_phase *ph = &c->plan->phase[i];
        s += net_phase_analytic(c->t, ph, c->groups * ph->n1 * ph->n2, NULL, NULL);
    }
    return s;
}

static const net_algo CANDIDATES[] = {NET_ALGO_RING, NET_ALGO_RING_BIDIR, NET_ALGO_TREE,
                                      NET_ALGO_RHD,  NET_ALGO_MESH,       NET_ALGO_TORUS,
                                      NET_ALGO_HIER, NET_ALGO_NVLS};
#define NCANDIDATES ((int)(sizeof CANDIDATES / sizeof CANDIDATES[0]))

/* Neuron's algorithms between nodes: ring, mesh and RDH, the fastest of
 * them (internode-collective-comm.rst: "Ring, Mesh and RDH over EFA"). */
static bool neuron_runs_across(net_algo a)
{
    return a == NET_ALGO_RING || a == NET_ALGO_MESH || a == NET_ALGO_RHD;
}

/* Appends the fastest applicable algorithm's phases; picked says which. */
static usim_status choose(ctx *c, net_op op, double n, const net_sub *s, fam f,
                          choose_mode mode, bool allow_hier, net_algo *picked)
{
    if (mode == CHOOSE_NEURON && s->nodes == 1) {
        *picked = neuron_intra(op, n, s->size);
        return build_algo(c, op, n, s, *picked, f, CHOOSE_AUTO);
    }
    /* Several ranks in each of several nodes: Neuron's hierarchical scheme. */
    if (mode == CHOOSE_NEURON && op != NET_ALLTOALL && op != NET_SENDRECV && hier_inner(s) > 1) {
        *picked = NET_ALGO_NEURON;
        return build_algo(c, op, n, s, NET_ALGO_NEURON, f, mode);
    }
    int start = c->plan->nphases;
    size_t why_len = strlen(c->plan->why);
    double *costs = c->costs;
    double best = INFINITY;
    net_algo best_algo = NET_ALGO_AUTO;
    c->costs = NULL;
    /* A system whose collective library runs this op (NCCL) gets only the
     * library's algorithms, each at its fastest protocol (library.c). */
    bool lib = costs && net_library_times(c->t, op, s, c->own_kernels);
    for (int i = 0; i < NCANDIDATES; i++) {
        if (CANDIDATES[i] == NET_ALGO_HIER && !allow_hier)
            continue;
        if (lib ? !net_library_runs(c->t, op, CANDIDATES[i]) : CANDIDATES[i] == NET_ALGO_NVLS)
            continue;
        if (mode == CHOOSE_NEURON && !neuron_runs_across(CANDIDATES[i]))
            continue;
        usim_error scratch;
        usim_error *saved = c->err;
        usim_error_clear(&scratch);
        c->err = &scratch;
        usim_status st = build_algo(c, op, n, s, CANDIDATES[i], f, mode);
        c->err = saved;
        double cost = st != USIM_OK ? INFINITY
                      : lib ? net_library_time(c->t, op, CANDIDATES[i], s, n,
                                               phases_bandwidth(c, start), NULL, NULL, NULL)
                            : phases_cost(c, start);
        c->plan->nphases = start;
        c->plan->why[why_len] = '\0';
        if (costs)
            costs[CANDIDATES[i]] = cost;
        if (cost < best * (1.0 - 1e-12)) {
            best = cost;
            best_algo = CANDIDATES[i];
        }
    }
    if (best_algo == NET_ALGO_AUTO)
        return usim_fail(c->err, USIM_EINPUT, "no algorithm applies to %s over %d ranks",
                         net_op_name(op), s->size);
    *picked = best_algo;
    return build_algo(c, op, n, s, best_algo, f, mode);
}

static usim_status start(const net_topo *t, const net_request *rq, net_plan *plan,
                         usim_error *err, ctx *c, net_sub *s)
{
    plan->nphases = 0;
    plan->intra = NET_ALGO_AUTO;
    plan->why[0] = '\0';
    *c = (ctx){t, rq->groups, plan, err, NULL, rq->own_kernels};
    memset(s, 0, sizeof *s);
    s->size = rq->size;
    s->stride = rq->stride;
    return net_sub_layout(t, s, err);
}

usim_status net_plan_build(const net_topo *t, const net_request *rq, net_algo algo,
                           net_plan *plan, usim_error *err)
{
    ctx c;
    net_sub s;
    usim_status st = start(t, rq, plan, err, &c, &s);
    if (st != USIM_OK)
        return st;
    plan->algo = algo;
    st = build_algo(&c, rq->op, rq->bytes, &s, algo, FLAT, CHOOSE_AUTO);
    if (st == USIM_OK && plan->why[0] == '\0')
        snprintf(plan->why, sizeof plan->why, "%s as asked", net_algo_name(algo));
    return st;
}

usim_status net_plan_auto(const net_topo *t, const net_request *rq, net_plan *plan,
                          double costs[NET_ALGO_COUNT], usim_error *err)
{
    ctx c;
    net_sub s;
    usim_status st = start(t, rq, plan, err, &c, &s);
    if (st != USIM_OK)
        return st;
    net_algo picked;
    for (int i = 0; i < NET_ALGO_COUNT; i++)
        costs[i] = INFINITY;
    c.costs = costs;
    st = choose(&c, rq->op, rq->bytes, &s, FLAT, CHOOSE_AUTO, true, &picked);
    plan->algo = picked;
    return st;
}
