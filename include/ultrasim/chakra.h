/*
 * ultrasim chakra layer: MLCommons Chakra execution traces, read and
 * written, and replayed on any system.
 *
 * A trace is one file per rank, PREFIX.<rank>.et: a stream of
 * length-delimited protobuf messages (a varint byte count, then the message),
 * GlobalMetadata first, then one Node per operation (schema/et_def.proto).
 * Collectives name their process group (pg_name); the ranks of each group
 * are in PREFIX.comm_group.json ({"name": [ranks]}), as ASTRA-sim reads them.
 *
 * Replay turns the ranks' nodes into the sim layer's task graph: each rank's
 * streams are resources, ctrl and data dependencies are dependencies, a
 * collective starts when every member rank reaches it and costs what the net
 * layer says on the chosen system, a send and its matching receive are one
 * transfer. Compute nodes keep their recorded duration or, recosted, take
 * what the engine's roofline gives their FLOPs and bytes on the chip.
 */
#ifndef ULTRASIM_CHAKRA_H
#define ULTRASIM_CHAKRA_H

#include <stdint.h>

#include "ultrasim/hw.h"
#include "ultrasim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Chakra's NodeType values. */
typedef enum et_type {
    ET_INVALID = 0,
    ET_METADATA = 1,
    ET_MEM_LOAD = 2,
    ET_MEM_STORE = 3,
    ET_COMP = 4,
    ET_SEND = 5,
    ET_RECV = 6,
    ET_COLL = 7,
} et_type;

/* Chakra's CollectiveCommType values. */
typedef enum et_coll {
    ET_ALL_REDUCE = 0,
    ET_REDUCE = 1,
    ET_ALL_GATHER = 2,
    ET_GATHER = 3,
    ET_SCATTER = 4,
    ET_BROADCAST = 5,
    ET_ALL_TO_ALL = 6,
    ET_REDUCE_SCATTER = 7,
    ET_REDUCE_SCATTER_BLOCK = 8,
    ET_BARRIER = 9,
} et_coll;

const char *et_coll_name(int comm_type);

#define ET_MAX_DIMS 8

/* One node, as much of it as ultrasim reads or writes. Absent numbers are
 * negative. */
typedef struct et_node {
    uint64_t id;
    char name[96];
    int type;                /* et_type */
    uint64_t *deps;          /* ctrl and data dependencies together */
    int ndeps, ndata;        /* the first ndata of deps are data dependencies */
    double duration_s;       /* duration_micros */
    double flops, bytes;     /* num_ops, tensor_size (-1: absent) */
    int comm_type;           /* et_coll (-1: absent) */
    double comm_bytes;       /* comm_size */
    int comm_src, comm_dst;  /* send/recv peers (-1: absent) */
    int comm_tag;
    char pg_name[128];       /* "" : every rank */
    int stream;              /* the "stream" attribute (-1: absent) */
    bool cpu;                /* is_cpu_op: runs on the host (absent: true, as Chakra's feeder reads it) */
    int dims;                /* involved_dim entries (0: absent) */
    bool involved[ET_MAX_DIMS];
    usim_dtype dtype;        /* read from inputs.types (bf16 when absent) */
    char bad[128];           /* the first attribute whose value cannot be used ("" : none) */
} et_node;

/* One rank's file. */
typedef struct et_rank {
    int rank;
    char *path;              /* the file (et_rank_free frees it) */
    int world;               /* the "world_size" attribute (0: absent, -1: not a job size) */
    double world_value;      /* as written */
    bool representative;     /* "representative": the file stands for its peers too */
    et_node *nodes;
    int n;
} et_rank;

void et_rank_free(et_rank *r);

/* Reads path as rank's trace. Not a trace, cut short, a node of a type
 * ultrasim cannot replay: USIM_EINPUT naming the file, rank and node id. */
usim_status et_read(const char *path, int rank, et_rank *out, usim_error *err);

/* ---- writing ------------------------------------------------------------ */

typedef struct et_writer et_writer;

/* Opens path and writes its GlobalMetadata (Chakra version, the rank, the
 * world size, who wrote it, and whether the file stands for peers that have
 * none: a trace of one rank per pipeline stage). */
et_writer *et_writer_open(const char *path, int rank, int world, bool representative,
                          usim_error *err);
usim_status et_write(et_writer *w, const et_node *n, usim_error *err);
/* Flushes and closes; false-status leaves a partial file for the caller to remove. */
usim_status et_writer_close(et_writer *w, usim_error *err);

/* ---- replay ------------------------------------------------------------- */

typedef struct et_replay_options {
    bool recost;        /* compute nodes: the engine's time on the chip, not the recorded one */
    int chips;          /* ranks of the job (0: the trace's world_size, else its files) */
} et_replay_options;

/* Where a rank's time went. */
typedef struct et_rank_time {
    int rank;
    double end_s;
    double compute_s;       /* busy compute streams */
    double comm_exposed_s;  /* communication with no compute under it */
    double comm_s;          /* communication, hidden or not */
    double idle_s;          /* neither */
} et_rank_time;

typedef struct et_replay_result {
    double step_time_s;
    int ranks, chips, nodes;
    int compute_nodes, comm_nodes, p2p_nodes;
    int recosted, kept;            /* compute nodes recosted / kept at their recorded time */
    int free_nodes;                /* compute nodes with no time, FLOPs or bytes (joins, markers) */
    double recorded_compute_s;     /* the busiest rank's compute as recorded */
    et_rank_time busiest;          /* the rank that ends last */
    double coll_s[ET_BARRIER + 1]; /* the busiest rank's collective time by type */
} et_replay_result;

/* The ranks of the job a trace describes: rank 0's world_size, or the rank
 * files there are. */
usim_status et_world(const char *prefix, int *world, usim_error *err);

/* Reads PREFIX.<rank>.et for rank 0, 1, ... (and PREFIX.comm_group.json when
 * there) and replays them on sys. *trace (when not NULL) receives the task
 * graph for a timeline: a resource per rank and stream ("rank 3 stream 0"),
 * one per process group. */
usim_status et_replay(const char *prefix, const hw_system *sys, const et_replay_options *o,
                      et_replay_result *out, sim_graph **trace, usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
