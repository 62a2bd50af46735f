/* The discrete-event core on graphs whose timing is known by hand. */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ultrasim/sim.h"

/* Two resources, a chain across them: a(2) on r0 -> b(3) on r1; c(1) on r0
 * runs right after a, in parallel with b. Makespan 5. */
static void chain_and_overlap(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    sim_graph *g = sim_graph_new();
    int r0 = sim_resource(g, "compute"), r1 = sim_resource(g, "link");
    int a = sim_task(g, r0, 2, 0, "a");
    int b = sim_task(g, r1, 3, 1, "b");
    int c = sim_task(g, r0, 1, 0, "c");
    assert_int_equal(sim_depend(g, b, a, 0, &err), USIM_OK);
    assert_int_equal(sim_run(g, &err), USIM_OK);
    assert_close(sim_start(g, b), 2, 1e-15);
    assert_close(sim_start(g, c), 2, 1e-15);
    assert_close(sim_makespan(g), 5, 1e-15);
    assert_close(sim_resource_busy(g, r0), 3, 1e-15);
    sim_graph_free(g);
}

/* A 2-stage pipeline of 3 micro-batches, forward f and backward 2f, 1F1B:
 * the closed-form step is (m + p - 1)(f + b) = (3 + 1) x 3 = 12. */
static void pipeline_bubble_emerges(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    sim_graph *g = sim_graph_new();
    int st[2] = {sim_resource(g, "stage0"), sim_resource(g, "stage1")};
    int fwd[2][3], bwd[2][3];
    /* programs: stage0 F0 F1 B0 F2 B1 B2 ; stage1 F0 B0 F1 B1 F2 B2 */
    fwd[0][0] = sim_task(g, st[0], 1, 0, "F0");
    fwd[0][1] = sim_task(g, st[0], 1, 0, "F1");
    bwd[0][0] = sim_task(g, st[0], 2, 1, "B0");
    fwd[0][2] = sim_task(g, st[0], 1, 0, "F2");
    bwd[0][1] = sim_task(g, st[0], 2, 1, "B1");
    bwd[0][2] = sim_task(g, st[0], 2, 1, "B2");
    for (int m = 0; m < 3; m++) {
        fwd[1][m] = sim_task(g, st[1], 1, 0, "F");
        bwd[1][m] = sim_task(g, st[1], 2, 1, "B");
    }
    for (int m = 0; m < 3; m++) {
        assert_int_equal(sim_depend(g, fwd[1][m], fwd[0][m], 0, &err), USIM_OK);
        assert_int_equal(sim_depend(g, bwd[0][m], bwd[1][m], 0, &err), USIM_OK);
    }
    assert_int_equal(sim_run(g, &err), USIM_OK);
    assert_close(sim_makespan(g), 12, 1e-15);
    sim_graph_free(g);
}

static void deadlock_is_reported(void **state)
{
    (void)state;
    usim_error err;
    usim_error_clear(&err);
    sim_graph *g = sim_graph_new();
    int r = sim_resource(g, "r");
    int a = sim_task(g, r, 1, 0, "a"), b = sim_task(g, r, 1, 0, "b");
    assert_int_equal(sim_depend(g, a, b, 0, &err), USIM_OK); /* a waits for b, b follows a */
    assert_int_equal(sim_run(g, &err), USIM_ERUNTIME);
    assert_non_null(strstr(err.message, "deadlock"));
    sim_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_and_overlap),
        cmocka_unit_test(pipeline_bubble_emerges),
        cmocka_unit_test(deadlock_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
