/*
 * The flows of one algorithm step. A pattern says who sends to whom among a
 * subgroup's members; the cost models decide what the flows cost. Every flow
 * carries the item's `bytes` (weight 1); both models see the same flows.
 *
 * Rings are laid out as NCCL and Neuron lay them. Inside a node the ring
 * follows the node's topology: on a full square 2D torus, two edge-disjoint
 * Hamiltonian cycles (Neuron's ring runs "2 non-overlapping Hamiltonian
 * cycles on 2D Torus" [CCintra]); built here from the diagonal rule: at
 * (r, c) cycle 0 steps +c when (r + c) mod k = 0 and +r otherwise, cycle 1
 * the reverse, each a single cycle because gcd(1, k) = 1); on a partial
 * torus a boustrophedon (snake) order; on a switch or mesh, index order. A
 * ring that spans nodes runs one channel per member of a node, rotated so
 * each channel leaves the node from a different chip, as NCCL's channels use
 * every NIC ("to utilize all [EFA interfaces], we need to run multiple
 * directed cycles (called channels)" [CCinter]). Nodes follow each other in
 * chip order, so a ring enters and leaves each pod once per channel.
 *
 * The double binary tree (Sanders, Speck, Traeff 2009; NCCL 2.4) is the
 * in-order "lowbit" tree over ranks 1..m (leaves are the odd ranks) and its
 * mirror (m even) or shift by one (m odd), so a rank is interior in at most
 * one tree and sends at most 4 flows.
 */
#include <string.h>

#include "net/internal.h"

/* ---- ring geometry -------------------------------------------------- */

static bool is_member_local(const net_sub *s, int nc, int local, int *index)
{
    int64_t b0 = s->base % nc;
    int64_t off = local - b0;
    if (off < 0 || off % s->stride != 0 || off / s->stride >= s->m0)
        return false;
    *index = (int)(off / s->stride);
    return true;
}

/* Boustrophedon position t of a torus with dims (row-major, last fastest). */
static int snake_local(const int *dims, int nd, int t)
{
    int digits[3], local = 0, parity = 0, div = 1;
    for (int d = nd - 1; d >= 0; d--) {
        digits[d] = (t / div) % dims[d];
        div *= dims[d];
    }
    for (int d = 0; d < nd; d++) {
        int c = parity % 2 ? dims[d] - 1 - digits[d] : digits[d];
        parity += digits[d];
        local = local * dims[d] + c;
    }
    return local;
}

static void diagonal_cycles(net_ringgeo *g, int k)
{
    for (int h = 0; h < 2; h++) {
        int r = 0, c = 0;
        for (int t = 0; t < k * k; t++) {
            g->ord[h][t] = (short)(r * k + c);
            bool step_c = ((r + c) % k == 0) == (h == 0);
            if (step_c)
                c = (c + 1) % k;
            else
                r = (r + 1) % k;
        }
    }
}

void net_ring_geometry(const net_topo *t, const net_sub *s, net_ringgeo *g)
{
    g->m0 = s->m0;
    g->K = s->nodes;
    g->R = g->K > 1 ? g->m0 : 1;
    g->H = 1;
    bool square = t->node_nd == 2 && t->node_dims[0] == t->node_dims[1] && t->node_dims[0] >= 2;
    if (g->m0 == t->nc && s->stride == 1 && square) {
        g->H = 2;
        diagonal_cycles(g, t->node_dims[0]);
    } else if (t->node_nd > 0 && g->m0 > 1) {
        int n = 0, index;
        for (int i = 0; i < t->nc && n < g->m0; i++)
            if (is_member_local(s, t->nc, snake_local(t->node_dims, t->node_nd, i), &index))
                g->ord[0][n++] = (short)index;
    } else {
        for (int i = 0; i < g->m0; i++)
            g->ord[0][i] = (short)i;
    }
    for (int h = 0; h < g->H; h++)
        for (int i = 0; i < g->m0; i++)
            g->pos[h][g->ord[h][i]] = (short)i;
}

/* ---- double binary tree ---------------------------------------------- */

static int highest_pow2(int m)
{
    int p = 1;
    while (p <= m / 2)
        p *= 2;
    return p;
}

/* Children of node i (1-based) in the lowbit tree over 1..m. */
static int lowbit_children(int m, int i, int child[2])
{
    int b = i & -i, n = 0;
    if (b == 1)
        return 0;
    child[n++] = i - b / 2;
    int c = b / 2;
    while (c >= 1 && i + c > m)
        c /= 2;
    if (c >= 1)
        child[n++] = i + c;
    return n;
}

static int lowbit_parent(int m, int i)
{
    int x = highest_pow2(m), parent = 0;
    while (x != i && x > 0) {
        int child[2] = {0, 0};
        int n = lowbit_children(m, x, child);
        parent = x;
        if (i < x)
            x = child[0];
        else
            x = n == 2 ? child[1] : 0;
    }
    return x == i ? parent : 0;
}

/* Rank <-> 1-based tree position in tree 0 (identity) or 1 (mirror/shift). */
static int tree_pos(int m, int tree, int rank)
{
    if (tree == 0)
        return rank + 1;
    return (m % 2 == 0 ? m - 1 - rank : (rank + 1) % m) + 1;
}

static int tree_rank(int m, int tree, int pos)
{
    if (tree == 0)
        return pos - 1;
    int p = pos - 1;
    return m % 2 == 0 ? m - 1 - p : (p - 1 + m) % m;
}

int net_tree_parent(int m, int tree, int rank)
{
    int parent = lowbit_parent(m, tree_pos(m, tree, rank));
    return parent > 0 ? tree_rank(m, tree, parent) : -1;
}

int net_tree_children(int m, int tree, int rank, int child[2])
{
    int pos[2];
    int n = lowbit_children(m, tree_pos(m, tree, rank), pos);
    for (int i = 0; i < n; i++)
        child[i] = tree_rank(m, tree, pos[i]);
    return n;
}

/* The deepest node sits log2 of the root's position below it: truncated
 * right subtrees hang from nodes of smaller lowbit, never deeper. */
int net_tree_depth(int m)
{
    int depth = 0;
    for (int p = highest_pow2(m); p > 1; p /= 2)
        depth++;
    return depth;
}

/* ---- emitting flows --------------------------------------------------- */

static int64_t chip_of(const net_sub *s, int64_t member)
{
    return net_member_chip(s, member);
}

/*
 * Member j at in-node position t of cycle h: in every rotation but one its
 * successor is the next member of the cycle in its own node; in rotation
 * t + 1 it is the last of the node and hands over to that member's twin in
 * the next node. So R rotations cost two routes per member, with weights
 * R - 1 and 1 (R = 1 inside a single node, where the cycle closes).
 */
static void ring_edge(const net_sub *s, const net_item *it, int64_t j, int64_t dst, double w,
                      const net_sink *sink)
{
    if (w <= 0.0 || (it->chain == NET_CHAIN_FROM_ROOT && dst == 0) ||
        (it->chain == NET_CHAIN_TO_ROOT && j == 0))
        return;
    sink->flow(sink->ctx, chip_of(s, j), chip_of(s, dst), w);
}

static void ring_emit(const net_sub *s, const net_ringgeo *g, const net_item *it, int j_lo,
                      int j_hi, const net_sink *sink)
{
    int m0 = g->m0, K = g->K;
    for (int j = j_lo; j < j_hi; j++) {
        int64_t k = j / m0, i = j % m0;
        for (int h = 0; h < g->H; h++) {
            int t = g->pos[h][i];
            int64_t next = g->ord[h][(t + 1) % m0], prev = g->ord[h][(t - 1 + m0) % m0];
            if (K == 1) {
                ring_edge(s, it, j, k * m0 + next, 1.0, sink);
                if (it->dirs == 2)
                    ring_edge(s, it, j, k * m0 + prev, 1.0, sink);
                continue;
            }
            /* forward: same-node successor, or the next node's twin */
            ring_edge(s, it, j, k * m0 + next, g->R - 1.0, sink);
            ring_edge(s, it, j, (k + 1) % K * m0 + next, 1.0, sink);
            if (it->dirs == 2) { /* backward: the previous node's twin when first */
                ring_edge(s, it, j, k * m0 + prev, g->R - 1.0, sink);
                ring_edge(s, it, j, (k - 1 + K) % K * m0 + prev, 1.0, sink);
            }
        }
    }
}

static void dimring_emit(const net_sub *s, const net_item *it, int j_lo, int j_hi,
                         const net_sink *sink)
{
    int ms = it->dim, k = it->extent;
    for (int j = j_lo; j < j_hi; j++) {
        int c = (j / ms) % k;
        int64_t up = c < k - 1 ? j + ms : j - (int64_t)(k - 1) * ms;
        int64_t down = c > 0 ? j - ms : j + (int64_t)(k - 1) * ms;
        sink->flow(sink->ctx, chip_of(s, j), chip_of(s, up), 1.0);
        sink->flow(sink->ctx, chip_of(s, j), chip_of(s, down), 1.0);
    }
}

static void xor_emit(const net_sub *s, const net_item *it, int j_lo, int j_hi,
                     const net_sink *sink)
{
    int hi = j_hi < it->p2 ? j_hi : it->p2;
    for (int j = j_lo; j < hi; j++)
        sink->flow(sink->ctx, chip_of(s, j), chip_of(s, j ^ it->dist), 1.0);
}

static void shift_emit(const net_sub *s, const net_item *it, int j_lo, int j_hi,
                       const net_sink *sink)
{
    int lo = j_lo > it->lo ? j_lo : it->lo, hi = j_hi < it->hi ? j_hi : it->hi;
    for (int j = lo; j < hi; j++) {
        int64_t dst = ((j + it->dist) % s->size + s->size) % s->size;
        sink->flow(sink->ctx, chip_of(s, j), chip_of(s, dst), 1.0);
    }
}

/* Intra-domain pairs one by one, the rest as a count per source. */
static void allpairs_emit(const net_sub *s, int j_lo, int j_hi, const net_sink *sink)
{
    for (int j = j_lo; j < j_hi; j++) {
        int64_t first = net_domain_first(s, j), count = net_domain_count(s, j);
        for (int64_t q = first; q < first + count; q++)
            if (q != j)
                sink->flow(sink->ctx, chip_of(s, j), chip_of(s, q), 1.0);
        if (s->size > count && sink->bulk)
            sink->bulk(sink->ctx, chip_of(s, j), s->size - count, 1.0);
    }
}

static void fan_emit(const net_sub *s, const net_item *it, int j_lo, int j_hi,
                     const net_sink *sink)
{
    if (it->pattern == NET_PAT_FANIN) {
        for (int j = j_lo > 1 ? j_lo : 1; j < j_hi; j++)
            sink->flow(sink->ctx, chip_of(s, j), chip_of(s, 0), 1.0);
        return;
    }
    if (j_lo > 0 || j_hi < 1)
        return;
    for (int q = 1; q < s->m_dom && q < s->size; q++)
        sink->flow(sink->ctx, chip_of(s, 0), chip_of(s, q), 1.0);
    if (s->size > s->m_dom && sink->bulk)
        sink->bulk(sink->ctx, chip_of(s, 0), s->size - s->m_dom, 1.0);
}

static void tree_emit(const net_sub *s, int j_lo, int j_hi, const net_sink *sink)
{
    int m = s->size;
    for (int j = j_lo; j < j_hi; j++) {
        for (int tree = 0; tree < 2; tree++) {
            int child[2];
            int parent = net_tree_parent(m, tree, j);
            if (parent >= 0)
                sink->flow(sink->ctx, chip_of(s, j), chip_of(s, parent), 1.0);
            int n = net_tree_children(m, tree, j, child);
            for (int c = 0; c < n; c++)
                sink->flow(sink->ctx, chip_of(s, j), chip_of(s, child[c]), 1.0);
        }
    }
}

void net_pattern_emit(const net_topo *t, const net_sub *s, const net_ringgeo *g,
                      const net_item *it, int j_lo, int j_hi, const net_sink *sink)
{
    (void)t;
    if (j_hi > s->size)
        j_hi = s->size;
    switch (it->pattern) {
    case NET_PAT_RING:
        ring_emit(s, g, it, j_lo, j_hi, sink);
        break;
    case NET_PAT_DIMRING:
        dimring_emit(s, it, j_lo, j_hi, sink);
        break;
    case NET_PAT_XOR:
        xor_emit(s, it, j_lo, j_hi, sink);
        break;
    case NET_PAT_SHIFT:
        shift_emit(s, it, j_lo, j_hi, sink);
        break;
    case NET_PAT_ALLPAIRS:
        allpairs_emit(s, j_lo, j_hi, sink);
        break;
    case NET_PAT_FANOUT:
    case NET_PAT_FANIN:
        fan_emit(s, it, j_lo, j_hi, sink);
        break;
    case NET_PAT_TREE:
        tree_emit(s, j_lo, j_hi, sink);
        break;
    default:
        break;
    }
}

/* ---- flows crossing out of members [0, J) ---------------------------- */

/* j in [0, x) with bit `d` (a power of two) clear. */
static int64_t bit_clear_below(int64_t x, int64_t d)
{
    return (x / (2 * d)) * d + (x % (2 * d) < d ? x % (2 * d) : d);
}

static double xor_cross(const net_item *it, int J)
{
    int64_t Jp = J < it->p2 ? J : it->p2, d = it->dist;
    if (Jp >= it->p2)
        return 0.0;
    int64_t lo = Jp - d > 0 ? Jp - d : 0;
    return (double)(bit_clear_below(Jp, d) - bit_clear_below(lo, d));
}

static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* Senders in [lo, hi) crossing the cut at J, out of [0, J) or into it. */
static double shift_cross(const net_sub *s, const net_item *it, int J)
{
    int64_t m = s->size, d = it->dist;
    int64_t s0 = it->lo, s1 = it->hi < J ? it->hi : J;
    int64_t out = d >= 0 ? overlap(s0, s1, J - d, m - d) : overlap(s0, s1, J - m - d, -d);
    int64_t r0 = it->lo > J ? it->lo : J, r1 = it->hi;
    int64_t in = overlap(r0, r1, -d, J - d) + overlap(r0, r1, m - d, m - d + J) +
                 overlap(r0, r1, -d - m, J - d - m);
    return (double)(out > in ? out : in);
}

/* Edges of one tree with exactly one end among ranks [0, J). In an in-order
 * tree the edges crossing a cut between keys k and k+1 join k or k+1 to an
 * ancestor, so walking both root paths of every cut finds them all. */
static int tree_cut_edges(int m, int tree, int J)
{
    int a, b; /* the ranks' positions: [a, b] */
    if (tree == 0) {
        a = 1;
        b = J;
    } else if (m % 2 == 0) {
        a = m - J + 1;
        b = m;
    } else {
        a = 2;
        b = J + 1;
    }
    int seen[4 * 64][2], n = 0, count = 0;
    int cuts[2] = {a - 1, b}, ends[4];
    int ne = 0;
    for (int c = 0; c < 2; c++)
        if (cuts[c] >= 1 && cuts[c] < m) {
            ends[ne++] = cuts[c];
            ends[ne++] = cuts[c] + 1;
        }
    for (int e = 0; e < ne; e++) {
        for (int x = ends[e], up; x > 0 && (up = lowbit_parent(m, x)) > 0; x = up) {
            bool dup = false;
            for (int i = 0; i < n && !dup; i++)
                dup = seen[i][0] == x && seen[i][1] == up;
            if (dup || n >= 4 * 64)
                continue;
            seen[n][0] = x;
            seen[n++][1] = up;
            count += (x >= a && x <= b) != (up >= a && up <= b);
        }
    }
    return count;
}

static double tree_cross(const net_sub *s, int J)
{
    return (double)(tree_cut_edges(s->size, 0, J) + tree_cut_edges(s->size, 1, J));
}

double net_pattern_cross(const net_sub *s, const net_ringgeo *g, const net_item *it, int J)
{
    if (J <= 0 || J >= s->size)
        return 0.0;
    switch (it->pattern) {
    case NET_PAT_RING:
        return (double)g->H * g->R * it->dirs;
    case NET_PAT_XOR:
        return xor_cross(it, J);
    case NET_PAT_SHIFT:
        return shift_cross(s, it, J);
    case NET_PAT_ALLPAIRS:
        return (double)J * (s->size - J);
    case NET_PAT_FANOUT:
    case NET_PAT_FANIN:
        return (double)(s->size - J);
    case NET_PAT_TREE:
        return tree_cross(s, J);
    default:
        return 0.0;
    }
}
