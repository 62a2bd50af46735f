/*
 * The link graph and the building blocks of the algorithms, against figures
 * derived by hand from the presets: per-link bandwidths, Clos sizing, route
 * latencies, the two edge-disjoint Hamiltonian cycles of a 4x4 torus, the
 * double binary tree, and regular group layouts.
 */
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"
#include "support.h"

static void topo(const hw_system *s, net_topo *t)
{
    usim_error err;
    usim_error_clear(&err);
    if (net_topo_init(s, t, &err) != USIM_OK)
        fail_msg("%s", err.message);
}

/* Trn2: 1,024 GB/s both ways = 512 each way over 4 torus links = 128 GB/s;
 * the Z ring's 256 GB/s = 128 each way over 2 links = 64 GB/s; EFA 25 GB/s. */
static void trn2_link_bandwidths(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2u.48xlarge", 0);
    net_topo t;
    topo(s, &t);
    assert_int_equal(t.nc, 16);
    assert_int_equal(t.dc, 64);
    assert_close(t.node_cap, 128e9, 1e-12);
    assert_close(t.dom_cap, 64e9, 1e-12);
    assert_close(t.nic_cap, 25e9, 1e-12);
    assert_int_equal(t.ntdim, 3); /* X, Y inside, Z across */
    assert_int_equal(t.tdim[2].chip_stride, 16);
    free(s);
    s = new_system("dgx-h100", 0);
    topo(s, &t);
    assert_close(t.node_cap, 450e9 * 0.822, 1e-12); /* NVSwitch uplink, one way */
    assert_close(t.nic_cap, 50e9 * 0.94, 1e-12);
    free(s);
}

/* efa-v3-10p10u: radix 64, 400 Gb/s ports, 200 Gb/s NICs: a leaf's 32 down
 * ports serve 64 chips (one UltraServer), 32 leaves a pod of 2,048, 64 pods
 * 131,072 chips in 3 tiers. 15 us through the spine: 2 x 5 + 5 x 1. */
static void clos_sizing_and_latency(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2u.48xlarge", 131072);
    net_topo t;
    topo(s, &t);
    assert_int_equal(t.tiers, 3);
    assert_int_equal(t.pod[1], 64);
    assert_int_equal(t.pod[2], 2048);
    assert_close(net_route_latency(&t, 0, 131071), 15e-6, 1e-12);
    assert_close(net_route_latency(&t, 0, 64), 2 * 5e-6 + 3e-6, 1e-12);
    /* (0,0) to (3,3) of node 3: one X and one Y hop (wrapping), one Z hop */
    assert_close(net_route_latency(&t, 0, 63), 2 * 1.5e-6 + 2e-6, 1e-12);
    free(s);
    /* ib-hdr's radix-40 3-tier tree holds 16,000 HDR endpoints: a fourth tier. */
    s = new_system("dgx-a100-80gb", 131072);
    topo(s, &t);
    assert_int_equal(t.preset_tiers, 3);
    assert_int_equal(t.tiers, 4);
    assert_int_equal(t.pod[1] % 8, 0); /* leaves hold whole DGX nodes */
    free(s);
}

typedef struct collect {
    int64_t link[64];
    double frac[64];
    int n;
} collect;

static void add(void *ctx, int64_t link, double fraction)
{
    collect *c = ctx;
    c->link[c->n] = link;
    c->frac[c->n++] = fraction;
}

/* Two rows apart on a 4-row torus: half the flow each way round, 2 hops. */
static void torus_ties_split(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 0);
    net_topo t;
    topo(s, &t);
    collect c = {.n = 0};
    net_route(&t, 0, 8, add, &c);
    assert_int_equal(c.n, 4);
    double total = 0.0;
    for (int i = 0; i < c.n; i++)
        total += c.frac[i];
    assert_close(total, 2.0, 1e-12); /* 2 hops of the whole flow */
    assert_close(net_route_latency(&t, 0, 8), 3e-6, 1e-12);
    free(s);
}

typedef struct use {
    int count[16][16];
} use;

/* The 4x4 torus's two cycles: each a Hamiltonian cycle of neighbour hops,
 * together using each of the 32 undirected links exactly once. */
static void torus_hamiltonian_cycles(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 0);
    net_topo t;
    topo(s, &t);
    net_sub sub = {.base = 0, .stride = 1, .size = 16};
    assert_int_equal(net_sub_layout(&t, &sub, NULL), USIM_OK);
    net_ringgeo *g = malloc(sizeof *g);
    net_ring_geometry(&t, &sub, g);
    assert_int_equal(g->H, 2);
    use *u = calloc(1, sizeof *u);
    for (int h = 0; h < 2; h++) {
        int seen[16] = {0};
        for (int i = 0; i < 16; i++) {
            int a = g->ord[h][i], b = g->ord[h][(i + 1) % 16];
            seen[a]++;
            assert_close(net_route_latency(&t, a, b), 1.5e-6, 1e-12); /* one hop */
            u->count[a < b ? a : b][a < b ? b : a]++;
        }
        for (int i = 0; i < 16; i++)
            assert_int_equal(seen[i], 1);
    }
    int links = 0;
    for (int a = 0; a < 16; a++)
        for (int b = 0; b < 16; b++) {
            assert_true(u->count[a][b] <= 1);
            links += u->count[a][b];
        }
    assert_int_equal(links, 32);
    free(u);
    free(g);
    free(s);
}

/* Every rank is interior in at most one tree; depth floor(log2 m). */
static void double_binary_tree(void **state)
{
    (void)state;
    for (int m = 2; m <= 70; m++) {
        int roots = 0;
        for (int r = 0; r < m; r++) {
            int child[2], interior = 0;
            for (int tree = 0; tree < 2; tree++) {
                interior += net_tree_children(m, tree, r, child) > 0;
                int p = net_tree_parent(m, tree, r);
                roots += p < 0;
                if (p >= 0) { /* the parent lists r as a child */
                    int n = net_tree_children(m, tree, p, child);
                    assert_true((n > 0 && child[0] == r) || (n > 1 && child[1] == r));
                }
            }
            assert_true(interior <= 1);
        }
        assert_int_equal(roots, 2);
    }
    assert_int_equal(net_tree_depth(64), 6);
    assert_int_equal(net_tree_depth(100), 6);
}

/* TP 8 inside a 16-chip node; DP 32 with stride 8 (2 a node); a stride of
 * 24 chips does not repeat across nodes. */
static void regular_layouts(void **state)
{
    (void)state;
    hw_system *s = new_system("trn2.48xlarge", 256);
    net_topo t;
    topo(s, &t);
    net_sub tp = {.base = 0, .stride = 1, .size = 8}, dp = {.base = 3, .stride = 8, .size = 32}, odd = {.base = 0, .stride = 24, .size = 4};
    assert_int_equal(net_sub_layout(&t, &tp, NULL), USIM_OK);
    assert_int_equal(tp.m0, 8);
    assert_int_equal(tp.nodes, 1);
    assert_int_equal(net_sub_layout(&t, &dp, NULL), USIM_OK);
    assert_int_equal(dp.m0, 2);
    assert_int_equal(dp.nodes, 16);
    assert_int_equal(net_sub_layout(&t, &odd, NULL), USIM_EINPUT);
    free(s);
}

static void count(void *ctx, int inside, int64_t translates)
{
    int64_t *c = ctx;
    c[inside] += translates;
}

/* Translates of (16, stride 64) over 64-chip pods: 64 of them, one member
 * each in pod 0; blocks of 16 x 2 inside a pod never cross it. */
static void pod_crossing_counts(void **state)
{
    (void)state;
    int64_t c[70] = {0};
    net_touching_classes(16, 64, 64, 64, count, c);
    assert_int_equal(c[1], 64);
    memset(c, 0, sizeof c);
    net_touching_classes(16, 2, 4, 64, count, c);
    for (int i = 0; i < 70; i++)
        assert_int_equal(c[i], 0);
    memset(c, 0, sizeof c);
    net_touching_classes(10, 7, 7, 30, count, c); /* 30 = 4 x 7 + 2 */
    assert_int_equal(c[5], 2);
    assert_int_equal(c[4], 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trn2_link_bandwidths),   cmocka_unit_test(clos_sizing_and_latency),
        cmocka_unit_test(torus_ties_split),       cmocka_unit_test(torus_hamiltonian_cycles),
        cmocka_unit_test(double_binary_tree),     cmocka_unit_test(regular_layouts),
        cmocka_unit_test(pod_crossing_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
