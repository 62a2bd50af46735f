/*
 * Chakra trace replay speed: a 1 GiB all-reduce over 1,024 and 8,192 ranks
 * (one rank file each; ASTRA-sim's analytical backend takes 8 ms to 0.6 s up
 * to 1,024 NPUs and 65-73 s at 8,192 on the same workload), and the export
 * and replay of Llama 3.1 405B's step on 2,048 Trn2 chips. Wall time (best of
 * three, files already written) and the process's peak resident memory.
 */
#include <string.h>
#include <unistd.h>

#include "bench_run.h"
#include "ultrasim/chakra.h"

/* ranks files of one node each: a 1 GiB all-reduce over every rank. */
static int write_allreduce(const char *prefix, int ranks)
{
    usim_error err;
    for (int r = 0; r < ranks; r++) {
        char path[600];
        snprintf(path, sizeof path, "%s.%d.et", prefix, r);
        et_writer *w = et_writer_open(path, r, ranks, false, &err);
        if (!w)
            return 1;
        et_node n;
        memset(&n, 0, sizeof n);
        snprintf(n.name, sizeof n.name, "all_reduce");
        n.type = ET_COLL;
        n.comm_type = ET_ALL_REDUCE;
        n.comm_bytes = 1024.0 * 1024 * 1024;
        n.flops = n.bytes = -1;
        n.comm_src = n.comm_dst = n.stream = -1;
        if (et_write(w, &n, &err) != USIM_OK || et_writer_close(w, &err) != USIM_OK)
            return 1;
    }
    return 0;
}

static void remove_ranks(const char *prefix, int ranks)
{
    for (int r = 0; r < ranks; r++) {
        char path[600];
        snprintf(path, sizeof path, "%s.%d.et", prefix, r);
        remove(path);
    }
}

int main(void)
{
    char dir[] = "/tmp/usim-bench-chakra.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static const int RANKS[] = {1024, 8192};
    for (int i = 0; i < 2; i++) {
        char prefix[300], label[100], request[600];
        snprintf(prefix, sizeof prefix, "%s/ar%d", dir, RANKS[i]);
        if (write_allreduce(prefix, RANKS[i]) != 0)
            return 1;
        snprintf(label, sizeof label, "replay 1 GiB all-reduce, %d ranks (dgx-h100)", RANKS[i]);
        snprintf(request, sizeof request,
                 "{\"command\": \"replay\", \"et\": \"%s\", \"hw\": \"dgx-h100\"}", prefix);
        run(label, request, 3);
        remove_ranks(prefix, RANKS[i]);
    }
    char request[1000];
    snprintf(request, sizeof request,
             "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": "
             "\"trn2u.48xlarge\", \"chips\": 2048, \"tp\": 8, \"pp\": 16, \"vp\": 2, \"gbs\": "
             "1024, \"seq\": 8192, \"recompute\": \"full\", \"export-et\": \"%s/step\", "
             "\"export-et-ranks\": \"stage\"}",
             dir);
    run("train + export 405B, 2,048 trn2u chips, PP 16 (16 files)", request, 3);
    snprintf(request, sizeof request,
             "{\"command\": \"replay\", \"et\": \"%s/step\", \"hw\": \"trn2u.48xlarge\"}", dir);
    run("replay of that export", request, 3);
    snprintf(request, sizeof request,
             "{\"command\": \"replay\", \"et\": \"%s/step\", \"hw\": \"dgx-h100\", \"recost\": "
             "true}",
             dir);
    run("the same, recosted on 2,048 H100", request, 3);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
