/* The classic systolic-array model: hand-derived cycles, and SCALE-Sim v2's
 * golden COMPUTE_REPORT files reproduced cycle for cycle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/engine.h"

/* WS on 4x4, M=5 K=6 N=7: K folds into rows of 4 and 2, N into columns of 4
 * and 3; each fold takes 2r + c + T - 2 with T = M = 5:
 *   (4,4) 15 + (2,4) 11 + (4,3) 14 + (2,3) 10 = 50 cycles. */
static void textbook_ws_by_hand(void **state)
{
    (void)state;
    engine_array_cycles a = engine_array_gemm(4, 4, ENGINE_WS, 5, 6, 7, false);
    assert_close(a.cycles, 50, 0);
    assert_int_equal(a.row_folds, 2);
    assert_int_equal(a.col_folds, 2);
    assert_close(a.macs, 210, 0);
    assert_close(a.mapping_efficiency, 42.0 / 64.0, 1e-15);
    assert_close(a.compute_utilisation, 210.0 / (16.0 * 50.0), 1e-15);
    /* per fold r c T / (16 x fold cycles), averaged over the 4 folds */
    double folds = 16.0 * 5 / (16 * 15) + 8.0 * 5 / (16 * 11) + 12.0 * 5 / (16 * 14) +
                   6.0 * 5 / (16 * 10);
    assert_close(a.fold_utilisation, folds / 4, 1e-15);
    assert_close(a.fill_drain_cycles, 50 - 4 * 5, 0);
    assert_close(a.fold_cycles, 15, 0);
    /* A streams once per column fold, B once, C once per row fold */
    assert_close(a.reads_a, 30 * 2, 0);
    assert_close(a.reads_b, 42, 0);
    assert_close(a.writes_c, 35 * 2, 0);
}

/* OS maps M x N on the array and streams K; IS maps K x M and streams N. */
static void textbook_os_is_by_hand(void **state)
{
    (void)state;
    /* OS 8x8 array, M=10 (folds 8, 2), N=8 (one fold), K=3:
     *   (8,8): 16 + 8 + 1 = 25; (2,8): 4 + 8 + 1 = 13 */
    engine_array_cycles os = engine_array_gemm(8, 8, ENGINE_OS, 10, 3, 8, false);
    assert_close(os.cycles, 38, 0);
    assert_close(os.reads_b, 3 * 8 * 2, 0); /* B streams once per row fold */
    assert_close(os.writes_c, 80, 0);
    /* IS 3x5 array, M=5 (one column fold), K=4 (folds 3, 1), N=2:
     *   (3,5): 6 + 5 + 0 = 11; (1,5): 2 + 5 + 0 = 7 */
    engine_array_cycles is = engine_array_gemm(3, 5, ENGINE_IS, 5, 4, 2, false);
    assert_close(is.cycles, 18, 0);
    assert_close(is.reads_a, 20, 0); /* A is loaded once */
}

static void rejects_empty_shapes(void **state)
{
    (void)state;
    engine_array_cycles a = engine_array_gemm(0, 4, ENGINE_WS, 5, 6, 7, false);
    assert_close(a.cycles, 0, 0);
    a = engine_array_gemm(4, 4, ENGINE_WS, 5, 0, 7, true);
    assert_close(a.cycles, 0, 0);
    engine_dataflow d;
    assert_true(engine_dataflow_parse("is", &d) && d == ENGINE_IS);
    assert_false(engine_dataflow_parse("xs", &d));
    assert_string_equal(engine_dataflow_name(ENGINE_OS), "os");
}

/* ---- SCALE-Sim v2 -------------------------------------------------------- */

typedef struct golden_row {
    double total, stall, overall, mapping, compute;
} golden_row;

static int read_golden(const char *name, golden_row *rows, int max)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/tests/data/scalesim/%s", USIM_SOURCE_DIR, name);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    int n = 0;
    assert_non_null(fgets(line, sizeof line, fp)); /* header */
    while (n < max && fgets(line, sizeof line, fp)) {
        int id;
        golden_row *r = &rows[n];
        if (sscanf(line, "%d, %lf, %lf, %lf, %lf, %lf", &id, &r->total, &r->stall, &r->overall,
                   &r->mapping, &r->compute) == 6)
            n++;
    }
    fclose(fp);
    return n;
}

static engine_topology load_topology(const char *name)
{
    char path[512];
    engine_topology t;
    usim_error err;
    usim_error_clear(&err);
    snprintf(path, sizeof path, "%s/tests/data/scalesim/%s", USIM_SOURCE_DIR, name);
    assert_int_equal(engine_topology_load(path, ENGINE_TOPO_AUTO, &t, &err), USIM_OK);
    return t;
}

static void check_golden(const char *topology, const char *df_name, engine_dataflow df)
{
    char report[256];
    golden_row rows[16];
    snprintf(report, sizeof report, "128x128_%s_%s.COMPUTE_REPORT.csv", df_name, topology);
    char topo_file[256];
    snprintf(topo_file, sizeof topo_file, "%s.csv", topology);
    engine_topology t = load_topology(topo_file);
    int n = read_golden(report, rows, 16);
    assert_int_equal(n, (int)t.count);
    for (int i = 0; i < n; i++) {
        const engine_topo_layer *l = &t.layers[i];
        engine_array_cycles a = engine_array_gemm(128, 128, df, l->m, l->k, l->n, true);
        assert_close(rows[i].stall, 0, 0);
        assert_close(a.cycles, rows[i].total - rows[i].stall, 0); /* exact */
        assert_close(100.0 * a.compute_utilisation, rows[i].overall, 1e-12);
        assert_close(100.0 * a.mapping_efficiency, rows[i].mapping, 1e-12);
        assert_close(100.0 * a.fold_utilisation, rows[i].compute, 1e-12);
    }
    engine_topology_free(&t);
}

static void scalesim_golden_files(void **state)
{
    (void)state;
    const char *names[] = {"ws", "os", "is"};
    engine_dataflow dfs[] = {ENGINE_WS, ENGINE_OS, ENGINE_IS};
    for (int i = 0; i < 3; i++) {
        check_golden("transformer_partial", names[i], dfs[i]);
        check_golden("test_mnk_input", names[i], dfs[i]);
    }
}

/* SCALE-Sim's construction, fold by fold (systolic_compute_*.py): the rows of
 * the demand matrix that paces the others, padded to the full array, then the
 * skew; Total Cycles is the last row's index. Utilisation per fold from the
 * MACs the fold maps. Checked against the closed forms for random shapes on
 * arrays that are not square. */
static void scalesim_fold_by_fold(engine_dataflow df, int64_t rows, int64_t cols, int64_t m,
                                  int64_t k, int64_t n)
{
    int64_t sr = df == ENGINE_OS ? m : k, sc = df == ENGINE_IS ? m : n;
    int64_t t = df == ENGINE_WS ? m : df == ENGINE_OS ? k : n;
    double total = 0, util = 0, mapping = 0;
    int64_t folds = 0;
    for (int64_t c0 = 0; c0 < sc; c0 += cols)
        for (int64_t r0 = 0; r0 < sr; r0 += rows) {
            int64_t r = sr - r0 < rows ? sr - r0 : rows, c = sc - c0 < cols ? sc - c0 : cols;
            double demand, util_len;
            if (df == ENGINE_OS) {
                demand = (double)(t + cols - 1) + (double)(rows - 1); /* + skew */
                util_len = (double)(t - 1 + rows) + (double)(cols - 1);
            } else {
                demand = (double)(rows + t + cols - 1) + (double)(rows - 1);
                util_len = (double)(rows + rows + cols + t - 2) + (double)(cols - 1);
            }
            total += demand;
            util += (double)(r * c * t) / (double)(rows * cols) / util_len;
            mapping += (double)(r * c) / (double)(rows * cols);
            folds++;
        }
    engine_array_cycles a = engine_array_gemm((int)rows, (int)cols, df, m, k, n, true);
    assert_close(a.cycles, total - 1, 0);
    assert_close(a.fold_utilisation, util / (double)folds, 1e-12);
    assert_close(a.mapping_efficiency, mapping / (double)folds, 1e-12);
}

static void scalesim_any_array_shape(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t rows = 1 + (seed >> 8) % 40, cols = 1 + (seed >> 16) % 70;
        seed = seed * 1103515245u + 12345u;
        int64_t m = 1 + (seed >> 4) % 300, k = 1 + (seed >> 12) % 300, n = 1 + (seed >> 20) % 300;
        scalesim_fold_by_fold((engine_dataflow)(i % 3), rows, cols, m, k, n);
    }
}

/* Fast enough to sit inside everything: a million shapes is a few ms. */
static void closed_forms_handle_huge_shapes(void **state)
{
    (void)state;
    engine_array_cycles a = engine_array_gemm(128, 128, ENGINE_WS, 1000000, 1000000, 1000000,
                                              false);
    assert_true(a.cycles > 0 && a.compute_utilisation > 0.99 && a.compute_utilisation <= 1.0);
    a = engine_array_gemm(1, 1, ENGINE_OS, 1, 1, 1, true);
    assert_close(a.cycles, 0, 0); /* SCALE-Sim's one-cycle fold is cycle 0 */
    assert_close(a.compute_utilisation, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(textbook_ws_by_hand),
        cmocka_unit_test(textbook_os_is_by_hand),
        cmocka_unit_test(rejects_empty_shapes),
        cmocka_unit_test(scalesim_golden_files),
        cmocka_unit_test(scalesim_any_array_shape),
        cmocka_unit_test(closed_forms_handle_huge_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
