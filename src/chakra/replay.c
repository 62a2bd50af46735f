/*
 * Replaying Chakra traces on a system (see ultrasim/chakra.h).
 *
 * Every rank's nodes become tasks of one sim graph, in a topological order
 * of the rank's dependencies (a cycle is named by a node on it). Each rank
 * stream (the node's "stream" attribute, else one stream per node type) is a
 * resource that runs its nodes in that order. A collective is an "arrive"
 * and a "done" on the member's stream and one task on its process group's
 * resource that waits for every member present to arrive: the k-th
 * collective of a group on each rank is one call, and all must agree on its
 * type and size. Its time is the net layer's, on the group's size and
 * stride, with chips / size such groups at once. A send is a transfer on the
 * sender's stream (the net layer's point-to-point time); its receive waits
 * for it. A trace written for one rank per pipeline stage (world_size above
 * the files there) stands for its peers: groups keep their full size, and a
 * receive from a rank without a file pairs with this rank's own send of the
 * same tag (the peer mirrors it).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ultrasim/chakra.h"
#include "ultrasim/engine.h"
#include "ultrasim/net.h"

enum { KIND_COMPUTE, KIND_COLL, KIND_P2P, KIND_WAIT };

#define MAX_WORLD 4194304

typedef struct pgroup {
    char name[136];
    int *ranks;           /* ascending */
    int n, stride;
    int with_files;       /* members that have a rank file (-1: not counted yet) */
    int resource;
} pgroup;

/* A collective as one rank reaches it. */
typedef struct arrival {
    int group, rank, index; /* index of the node in its rank */
    int arrive, done;       /* tasks */
    int call;               /* the group's task for the call */
    int seq;                /* creation order, then its place among the rank's calls on the group */
} arrival;

typedef struct replay {
    const char *prefix;
    const hw_system *sys;
    hw_chip chip; /* the system's chip at the matrix rates a training step sustains */
    const et_replay_options *o;
    usim_error *err;
    et_rank *ranks;
    int nranks, world;
    int *file_of;           /* rank -> index in ranks, -1 */
    pgroup *groups;
    int ngroups;
    sim_graph *g;
    int **task_of;          /* [file][node] -> the task that ends the node */
    int **transfer_of;      /* [file][receive node] -> the send's transfer task, or -1 */
    int **order;            /* [file] -> node indices in topological order */
    arrival *arrivals;
    int narrivals, cap_arrivals;
    et_replay_result *out;
} replay;

/* ---- finding the files ---------------------------------------------------- */

static void split_prefix(const char *prefix, char *dir, size_t dsize, const char **base)
{
    const char *slash = strrchr(prefix, '/');
    if (!slash) {
        snprintf(dir, dsize, ".");
        *base = prefix;
        return;
    }
    snprintf(dir, dsize, "%.*s", (int)(slash - prefix) == 0 ? 1 : (int)(slash - prefix),
             prefix);
    *base = slash + 1;
}

static int ascending(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The ranks N with a file BASE.N.et in dir, ascending (the caller frees
 * them); *count of them, 0 when there are none. */
static int *scan_ranks(const char *prefix, int *count)
{
    char dir[4200];
    const char *base;
    split_prefix(prefix, dir, sizeof dir, &base);
    DIR *d = opendir(dir);
    int *ranks = NULL, cap = 0;
    *count = 0;
    if (!d)
        return NULL;
    size_t blen = strlen(base);
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || n[blen] != '.')
            continue;
        char *end;
        const char *digits = n + blen + 1;
        if (digits[0] == '0' && digits[1] != '.') /* "01": not how a rank is written */
            continue;
        long r = strtol(digits, &end, 10);
        if (end == n + blen + 1 || strcmp(end, ".et") != 0 || r < 0 || r >= MAX_WORLD)
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 64;
            int *p = realloc(ranks, (size_t)cap * sizeof *p);
            if (!p)
                break;
            ranks = p;
        }
        ranks[(*count)++] = (int)r;
    }
    closedir(d);
    if (ranks)
        qsort(ranks, (size_t)*count, sizeof *ranks, ascending);
    return ranks;
}

/* Files read by one thread: every step-th of the list from first. */
typedef struct reader {
    const char *prefix;
    const int *found;
    et_rank *ranks;
    usim_status *status;
    usim_error *errors;
    int first, step, count;
    pthread_t thread;
} reader;

static void *read_some(void *arg)
{
    reader *r = arg;
    for (int i = r->first; i < r->count; i += r->step) {
        char path[4200];
        snprintf(path, sizeof path, "%s.%d.et", r->prefix, r->found[i]);
        r->status[i] = et_read(path, r->found[i], &r->ranks[i], &r->errors[i]);
    }
    return NULL;
}

/* Reads the files on up to 8 threads (the file system's calls, not the
 * parsing, are most of the time); the first failure in rank order is the
 * one reported. */
static usim_status read_files(replay *rp, const char *prefix, const int *found, int count)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = count / 64 + 1;
    if (threads > cores)
        threads = cores > 1 ? (int)cores : 1;
    if (threads > 8)
        threads = 8;
    usim_status *status = calloc((size_t)count, sizeof *status);
    usim_error *errors = calloc((size_t)count, sizeof *errors);
    reader *r = calloc((size_t)threads, sizeof *r);
    if (!status || !errors || !r) {
        free(status);
        free(errors);
        free(r);
        return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    }
    for (int t = 0; t < threads; t++) {
        r[t] = (reader){prefix, found, rp->ranks, status, errors, t, threads, count, 0};
        if (t > 0 && pthread_create(&r[t].thread, NULL, read_some, &r[t]) != 0)
            r[t].step = 0; /* read below, on this thread */
    }
    read_some(&r[0]);
    for (int t = 1; t < threads; t++) {
        if (r[t].step)
            pthread_join(r[t].thread, NULL);
        else {
            r[t].step = threads;
            read_some(&r[t]);
        }
    }
    usim_status st = USIM_OK;
    for (int i = 0; i < count; i++) {
        if (status[i] == USIM_OK)
            continue;
        if (st == USIM_OK) {
            *rp->err = errors[i];
            st = status[i];
        }
        et_rank_free(&rp->ranks[i]); /* a failed read leaves nothing, but be sure */
    }
    free(status);
    free(errors);
    free(r);
    return st;
}

static usim_status read_ranks(replay *rp, const char *prefix)
{
    int count;
    int *found = scan_ranks(prefix, &count);
    if (count == 0 || !found) {
        free(found);
        return usim_fail_field(rp->err, USIM_EINPUT, "et",
                               "no trace files %s.<rank>.et (rank 0, 1, ...)", prefix);
    }
    rp->ranks = calloc((size_t)count, sizeof *rp->ranks);
    usim_status st = rp->ranks ? USIM_OK : usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK && found[0] != 0)
        st = usim_fail_field(rp->err, USIM_EINPUT, "et",
                             "%s.0.et is missing: the trace has %d rank files up to rank %d, "
                             "and every rank from 0 needs one",
                             prefix, count, found[count - 1]);
    if (st == USIM_OK) {
        st = read_files(rp, prefix, found, count);
        rp->nranks = count; /* what was read is freed with the rest */
    }
    /* peers stand in for missing ranks only in a trace that says it is one
     * rank per stage */
    for (int i = 1; i < count && st == USIM_OK; i++)
        if (found[i] != found[i - 1] + 1 && !rp->ranks[0].representative)
            st = usim_fail_field(rp->err, USIM_EINPUT, "et",
                                 "%s.%d.et is missing: the trace has %d rank files up to rank %d, "
                                 "and every rank from 0 needs one",
                                 prefix, found[i - 1] + 1, count, found[count - 1]);
    free(found);
    return st;
}

usim_status et_world(const char *prefix, int *world, usim_error *err)
{
    int count;
    int *found = scan_ranks(prefix, &count);
    char path[4200];
    et_rank r0;
    int high = count > 0 && found ? found[count - 1] : -1, first = found ? found[0] : -1;
    free(found);
    if (high < 0)
        return usim_fail_field(err, USIM_EINPUT, "et",
                               "no trace files %s.<rank>.et (rank 0, 1, ...)", prefix);
    if (first != 0)
        return usim_fail_field(err, USIM_EINPUT, "et",
                               "%s.0.et is missing: the trace has %d rank files up to rank %d, "
                               "and every rank from 0 needs one",
                               prefix, count, high);
    snprintf(path, sizeof path, "%s.0.et", prefix);
    usim_status st = et_read(path, 0, &r0, err);
    if (st != USIM_OK)
        return st;
    *world = r0.world > high + 1 && r0.world <= MAX_WORLD ? r0.world : high + 1;
    et_rank_free(&r0);
    return USIM_OK;
}

/* The job's size: --chips, else the world the files say, else the files. */
static usim_status set_world(replay *rp)
{
    int world = rp->ranks[rp->nranks - 1].rank + 1;
    bool representative = rp->ranks[0].representative;
    for (int i = 0; i < rp->nranks; i++) {
        const et_rank *r = &rp->ranks[i];
        if (r->world < 0)
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d): metadata world_size %.6g is not a job size "
                             "(allowed: whole numbers 1 to %d)",
                             r->path, r->rank, r->world_value, MAX_WORLD);
        if (r->world > 0 && rp->ranks[0].world > 0 && r->world != rp->ranks[0].world)
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d) is from a job of %d ranks, %s (rank 0) from one of "
                             "%d: the files come from different traces",
                             r->path, r->rank, r->world, rp->ranks[0].path, rp->ranks[0].world);
        if (r->world > world)
            world = r->world;
    }
    int last = rp->ranks[rp->nranks - 1].rank;
    if (rp->o->chips > 0) {
        if (rp->o->chips <= last)
            return usim_fail_field(rp->err, USIM_EINPUT, "chips",
                                   "%d is fewer than the trace's ranks (its files go up to rank "
                                   "%d; allowed: %d or more)",
                                   rp->o->chips, last, last + 1);
        world = rp->o->chips;
    }
    /* Ranks without files are peers only in a trace written one rank per
     * stage; in any other every rank of the job needs its file. */
    if (!representative && world > rp->nranks)
        return usim_fail_field(rp->err, USIM_EINPUT, "et",
                               "%s.%d.et is missing: the job has %d ranks and every one needs "
                               "its file (only a trace written one rank per pipeline stage, "
                               "'train --export-et-ranks stage', stands for its peers)",
                               rp->prefix, rp->nranks, world);
    rp->world = world;
    size_t slots = world > 0 ? (size_t)world : 1;
    rp->file_of = malloc(slots * sizeof(int));
    if (!rp->file_of)
        return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    for (int r = 0; r < world; r++)
        rp->file_of[r] = -1;
    for (int i = 0; i < rp->nranks; i++)
        rp->file_of[rp->ranks[i].rank] = i;
    return USIM_OK;
}

/* ---- process groups -------------------------------------------------------- */

static int find_group(const replay *rp, const char *name)
{
    for (int i = 0; i < rp->ngroups; i++)
        if (!strcmp(rp->groups[i].name, name))
            return i;
    return -1;
}

static int add_group(replay *rp, const char *name, const int *ranks, int n)
{
    pgroup *p = realloc(rp->groups, (size_t)(rp->ngroups + 1) * sizeof *p);
    if (!p)
        return -1;
    rp->groups = p;
    pgroup *g = &p[rp->ngroups];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->ranks = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!g->ranks)
        return -1;
    memcpy(g->ranks, ranks, (size_t)n * sizeof(int));
    qsort(g->ranks, (size_t)n, sizeof(int), ascending);
    g->n = n;
    g->with_files = -1;
    g->stride = n > 1 ? g->ranks[1] - g->ranks[0] : 1;
    for (int i = 2; i < n; i++) /* not evenly spaced: costed as neighbours */
        if (g->ranks[i] - g->ranks[i - 1] != g->stride)
            g->stride = 1;
    if (g->stride < 1)
        g->stride = 1;
    g->resource = sim_resource(rp->g, name);
    return rp->ngroups++;
}

static usim_status read_groups(replay *rp, const char *prefix)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.comm_group.json", prefix);
    FILE *f = fopen(path, "rb");
    if (!f)
        return USIM_OK; /* optional: collectives then span every rank */
    json_error_t je;
    json_t *doc = json_loadf(f, 0, &je);
    fclose(f);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return usim_fail(rp->err, USIM_EINPUT, "%s:%d: not a JSON object of groups (%s)", path,
                         je.line, doc ? "another JSON value" : je.text);
    }
    const char *name;
    json_t *ranks;
    usim_status st = USIM_OK;
    json_object_foreach(doc, name, ranks)
    {
        size_t n = json_array_size(ranks);
        int *list = malloc((n ? n : 1) * sizeof(int));
        if (!list) {
            st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
            break;
        }
        for (size_t i = 0; i < n && st == USIM_OK; i++) {
            json_t *v = json_array_get(ranks, i);
            json_int_t r = json_is_integer(v) ? json_integer_value(v) : -1;
            char *text = json_dumps(v, JSON_ENCODE_ANY); /* as written: 0.5 and 1e30 read as -1 */
            if (r < 0 || r >= rp->world)
                st = usim_fail(rp->err, USIM_EINPUT,
                               "%s: group \"%s\": rank %s is not one of the job's ranks "
                               "(allowed: whole numbers 0 to %d)",
                               path, name, text ? text : "?", rp->world - 1);
            free(text);
            list[i] = (int)r;
        }
        if (st == USIM_OK && (!json_is_array(ranks) || n == 0))
            st = usim_fail(rp->err, USIM_EINPUT, "%s: group \"%s\" is not a list of ranks", path,
                           name);
        int g = st == USIM_OK ? add_group(rp, name, list, (int)n) : 0;
        if (g < 0)
            st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
        for (int i = 1; st == USIM_OK && i < (int)n; i++) /* sorted: a repeat is adjacent */
            if (rp->groups[g].ranks[i] == rp->groups[g].ranks[i - 1])
                st = usim_fail(rp->err, USIM_EINPUT, "%s: group \"%s\" lists rank %d twice",
                               path, name, rp->groups[g].ranks[i]);
        free(list);
        if (st != USIM_OK)
            break;
    }
    json_decref(doc);
    return st;
}

/* The group of a collective: its pg_name, else the dimensions it involves
 * (the node, the scale-up domain, the scale-out network), else every rank. */
static int group_of_node(replay *rp, const et_rank *r, const et_node *n, usim_status *st)
{
    char name[96];
    if (n->pg_name[0]) {
        int g = find_group(rp, n->pg_name);
        if (g < 0)
            *st = usim_fail(rp->err, USIM_EINPUT,
                            "%s (rank %d): node id %llu names process group \"%s\", which the "
                            "trace's comm_group.json does not list",
                            r->path, r->rank, (unsigned long long)n->id, n->pg_name);
        return g;
    }
    int sizes[3] = {rp->sys->node.chips, rp->sys->default_chips / rp->sys->node.chips,
                    rp->world / (rp->sys->default_chips > 0 ? rp->sys->default_chips : 1)};
    int size = 1, stride = 1, first_dim = -1;
    for (int d = 0; d < n->dims && d < 3; d++) {
        if (!n->involved[d])
            continue;
        if (first_dim < 0)
            first_dim = d;
        size *= sizes[d] > 0 ? sizes[d] : 1;
    }
    for (int d = 0; d < first_dim; d++)
        stride *= sizes[d] > 0 ? sizes[d] : 1;
    if (first_dim < 0 || size > rp->world) { /* no dimensions: every rank */
        size = rp->world;
        stride = 1;
    }
    /* the group of this rank */
    int block = size * stride, base = r->rank - r->rank % block + r->rank % stride;
    if ((double)base + (double)(size - 1) * stride >= rp->world) {
        *st = usim_fail(rp->err, USIM_EINPUT,
                        "%s (rank %d): node id %llu: involved_dim picks %d ranks %d apart from "
                        "rank %d, past the job's %d ranks",
                        r->path, r->rank, (unsigned long long)n->id, size, stride, base,
                        rp->world);
        return -1;
    }
    snprintf(name, sizeof name, "dims %d x %d from %d", size, stride, base);
    int g = find_group(rp, name);
    if (g >= 0)
        return g;
    int *list = malloc((size_t)size * sizeof(int));
    if (!list) {
        *st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
        return -1;
    }
    for (int i = 0; i < size; i++)
        list[i] = base + i * stride;
    g = add_group(rp, name, list, size);
    free(list);
    if (g < 0)
        *st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    return g;
}

/* ---- one rank's order ------------------------------------------------------ */

typedef struct id_index {
    uint64_t id;
    int index;
} id_index;

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const id_index *)a)->id, y = ((const id_index *)b)->id;
    return x < y ? -1 : x > y;
}

static int lookup(const id_index *ix, int n, uint64_t id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (ix[mid].id == id)
            return ix[mid].index;
        if (ix[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static usim_status resolve_deps(replay *rp, const et_rank *r, int **dep)
{
    id_index *ix = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *ix);
    if (!ix)
        return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    for (int i = 0; i < r->n; i++)
        ix[i] = (id_index){r->nodes[i].id, i};
    qsort(ix, (size_t)r->n, sizeof *ix, by_id);
    usim_status st = USIM_OK;
    for (int i = 1; i < r->n && st == USIM_OK; i++)
        if (ix[i].id == ix[i - 1].id)
            st = usim_fail(rp->err, USIM_EINPUT, "%s (rank %d): two nodes have id %llu", r->path,
                           r->rank, (unsigned long long)ix[i].id);
    for (int i = 0; i < r->n && st == USIM_OK; i++) {
        const et_node *n = &r->nodes[i];
        dep[i] = malloc((size_t)(n->ndeps > 0 ? n->ndeps : 1) * sizeof(int));
        if (!dep[i]) {
            st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
            break;
        }
        for (int k = 0; k < n->ndeps && st == USIM_OK; k++) {
            dep[i][k] = lookup(ix, r->n, n->deps[k]);
            if (dep[i][k] < 0)
                st = usim_fail(rp->err, USIM_EINPUT,
                               "%s (rank %d): node id %llu depends on node id %llu, which the "
                               "file does not have",
                               r->path, r->rank, (unsigned long long)n->id,
                               (unsigned long long)n->deps[k]);
        }
    }
    free(ix);
    return st;
}

/* Kahn's order, ties in file order; a cycle is named by one of its nodes. */
static usim_status topo_order(replay *rp, const et_rank *r, int **dep, int *order)
{
    int n = r->n;
    int *indeg = calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int *off = calloc((size_t)n + 1, sizeof(int));
    int *succ = NULL, edges = 0;
    for (int i = 0; i < n; i++)
        edges += r->nodes[i].ndeps;
    succ = malloc((size_t)(edges > 0 ? edges : 1) * sizeof(int));
    int *fill = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    usim_status st = USIM_OK;
    if (!indeg || !off || !succ || !fill) {
        st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < r->nodes[i].ndeps; k++) {
            off[dep[i][k] + 1]++;
            indeg[i]++;
        }
    for (int i = 0; i < n; i++)
        off[i + 1] += off[i];
    memcpy(fill, off, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++)
        for (int k = 0; k < r->nodes[i].ndeps; k++)
            succ[fill[dep[i][k]]++] = i;
    /* A min-heap would give strict file order; a FIFO of ready nodes seeded
     * in file order keeps each stream's nodes in the order they were written
     * wherever the dependencies allow it. */
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        int v = order[head++];
        for (int k = off[v]; k < off[v + 1]; k++)
            if (--indeg[succ[k]] == 0)
                order[tail++] = succ[k];
    }
    if (tail < n) {
        int stuck = 0;
        while (indeg[stuck] == 0)
            stuck++;
        st = usim_fail(rp->err, USIM_EINPUT,
                       "%s (rank %d): the dependencies form a cycle through node id %llu (%d of "
                       "%d nodes can never start)",
                       r->path, r->rank, (unsigned long long)r->nodes[stuck].id, n - tail, n);
    }
done:
    free(indeg);
    free(off);
    free(succ);
    free(fill);
    return st;
}

/* ---- tasks ------------------------------------------------------------------ */

/* Streams of one rank: resources made as nodes ask for them. */
typedef struct streams {
    int id[16], resource[16];
    int n;
} streams;

static int stream_resource(replay *rp, streams *s, int rank, int stream)
{
    for (int i = 0; i < s->n; i++)
        if (s->id[i] == stream)
            return s->resource[i];
    if (s->n == 16) /* more streams than that share the last */
        return s->resource[15];
    char name[64];
    if (stream < 0)
        snprintf(name, sizeof name, "rank %d host", rank);
    else
        snprintf(name, sizeof name, "rank %d stream %d", rank, stream);
    s->id[s->n] = stream;
    s->resource[s->n] = sim_resource(rp->g, name);
    return s->resource[s->n++];
}

/* Nodes without a stream: host operators on the host thread (-1), device
 * compute on 0, collectives on 1, sends on 2, receives on 3 (a receive then
 * blocks only what depends on it). */
static int default_stream(const et_node *n)
{
    if (n->stream >= 0)
        return n->stream;
    if (n->cpu && n->type == ET_COMP)
        return -1;
    switch (n->type) {
    case ET_COLL: return 1;
    case ET_SEND: return 2;
    case ET_RECV: return 3;
    default: return 0;
    }
}

static bool on_matrix(const et_node *n)
{
    static const char *const MATRIX[] = {"gemm", "mm", "matmul", "linear", "conv",
                                         "attention", "bmm", "einsum"};
    for (size_t i = 0; i < sizeof MATRIX / sizeof MATRIX[0]; i++)
        if (strstr(n->name, MATRIX[i]))
            return true;
    return false;
}

static double compute_s(replay *rp, const et_node *n)
{
    bool known = n->flops > 0 || n->bytes > 0;
    if (n->type == ET_COMP && rp->o->recost && known) {
        rp->out->recosted++;
        return engine_roofline(&rp->chip, fmax(n->flops, 0), fmax(n->bytes, 0), n->dtype,
                               on_matrix(n))
            .seconds;
    }
    if ((n->type == ET_MEM_LOAD || n->type == ET_MEM_STORE) && rp->o->recost && n->bytes > 0)
        return engine_memory(&rp->chip, n->bytes).seconds;
    if (n->type == ET_COMP && rp->o->recost)
        *(n->duration_s > 0 ? &rp->out->kept : &rp->out->free_nodes) += 1;
    return n->duration_s;
}

static usim_status add_arrival(replay *rp, arrival a)
{
    if (rp->narrivals == rp->cap_arrivals) {
        int cap = rp->cap_arrivals ? 2 * rp->cap_arrivals : 256;
        arrival *p = realloc(rp->arrivals, (size_t)cap * sizeof *p);
        if (!p)
            return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
        rp->arrivals = p;
        rp->cap_arrivals = cap;
    }
    rp->arrivals[rp->narrivals++] = a;
    return USIM_OK;
}

static usim_status node_task(replay *rp, int file, int i, streams *s)
{
    et_rank *r = &rp->ranks[file];
    const et_node *n = &r->nodes[i];
    if (n->bad[0])
        return usim_fail(rp->err, USIM_EINPUT, "%s (rank %d): node id %llu: %s", r->path, r->rank,
                         (unsigned long long)n->id, n->bad);
    int res = stream_resource(rp, s, r->rank, default_stream(n));
    usim_status st = USIM_OK;
    switch (n->type) {
    case ET_COMP:
    case ET_MEM_LOAD:
    case ET_MEM_STORE:
    case ET_METADATA:
        rp->task_of[file][i] = sim_task(rp->g, res, compute_s(rp, n), KIND_COMPUTE, n->name);
        break;
    case ET_COLL: {
        int grp = group_of_node(rp, r, n, &st);
        if (st != USIM_OK)
            return st;
        int arrive = sim_task(rp->g, res, 0, KIND_WAIT, n->name);
        int done = sim_task(rp->g, res, 0, KIND_WAIT, n->name);
        rp->task_of[file][i] = done;
        st = add_arrival(rp, (arrival){grp, file, i, arrive, done, -1, rp->narrivals});
        break;
    }
    case ET_SEND:
    case ET_RECV:
        /* the transfer's time is set once sends and receives are paired */
        rp->task_of[file][i] = sim_task(rp->g, res, 0, n->type == ET_SEND ? KIND_P2P : KIND_WAIT,
                                        n->name);
        break;
    default:
        return usim_fail(rp->err, USIM_EINPUT,
                         "%s (rank %d): node id %llu has type %d, which replay does not run "
                         "(allowed: 1 metadata, 2-3 memory, 4 compute, 5 send, 6 receive, 7 "
                         "collective)",
                         r->path, r->rank, (unsigned long long)n->id, n->type);
    }
    if (rp->task_of[file][i] < 0 && st == USIM_OK)
        st = usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    return st;
}

/* The task a node's dependencies hold back: a collective's arrival. */
static int first_task(const replay *rp, int file, int i)
{
    int t = rp->task_of[file][i];
    return rp->ranks[file].nodes[i].type == ET_COLL ? t - 1 : t;
}

static usim_status rank_tasks(replay *rp, int file)
{
    et_rank *r = &rp->ranks[file];
    streams s = {{0}, {0}, 0};
    int **dep = calloc((size_t)(r->n > 0 ? r->n : 1), sizeof(int *));
    rp->order[file] = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof(int));
    rp->task_of[file] = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof(int));
    rp->transfer_of[file] = malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof(int));
    for (int i = 0; rp->transfer_of[file] && i < r->n; i++)
        rp->transfer_of[file][i] = -1;
    usim_status st = dep && rp->order[file] && rp->task_of[file] && rp->transfer_of[file]
                         ? USIM_OK
                         : usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = resolve_deps(rp, r, dep);
    if (st == USIM_OK)
        st = topo_order(rp, r, dep, rp->order[file]);
    for (int k = 0; k < r->n && st == USIM_OK; k++)
        st = node_task(rp, file, rp->order[file][k], &s);
    for (int i = 0; i < r->n && st == USIM_OK; i++)
        for (int k = 0; k < r->nodes[i].ndeps && st == USIM_OK; k++)
            st = sim_depend(rp->g, first_task(rp, file, i), rp->task_of[file][dep[i][k]], 0,
                            rp->err);
    for (int i = 0; dep && i < r->n; i++)
        free(dep[i]);
    free(dep);
    return st;
}

/* ---- collectives -------------------------------------------------------------- */

static int by_group_rank_order(const void *a, const void *b)
{
    const arrival *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_group_seq_rank(const void *a, const void *b)
{
    const arrival *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

static net_op net_op_of(int comm_type, bool *ok)
{
    *ok = true;
    switch (comm_type) {
    case ET_ALL_REDUCE: return NET_ALLREDUCE;
    case ET_REDUCE: return NET_REDUCE;
    case ET_ALL_GATHER:
    case ET_GATHER: return NET_ALLGATHER;
    case ET_SCATTER:
    case ET_REDUCE_SCATTER:
    case ET_REDUCE_SCATTER_BLOCK: return NET_REDUCE_SCATTER;
    case ET_BROADCAST: return NET_BROADCAST;
    case ET_ALL_TO_ALL: return NET_ALLTOALL;
    case ET_BARRIER: return NET_ALLREDUCE; /* a few bytes reduced */
    default: *ok = false; return NET_ALLREDUCE;
    }
}

static usim_status collective_s(replay *rp, const et_rank *r, const et_node *n, const pgroup *g,
                                double *seconds)
{
    bool ok;
    net_op op = net_op_of(n->comm_type, &ok);
    if (!ok)
        return usim_fail(rp->err, USIM_EINPUT,
                         "%s (rank %d): node id %llu: comm_type %d is not a collective (allowed: "
                         "0 to 9)",
                         r->path, r->rank, (unsigned long long)n->id, n->comm_type);
    if (n->comm_type != ET_BARRIER && n->comm_bytes < 0)
        return usim_fail(rp->err, USIM_EINPUT,
                         "%s (rank %d): node id %llu: a %s without comm_size", r->path, r->rank,
                         (unsigned long long)n->id, et_coll_name(n->comm_type));
    double bytes = n->comm_type == ET_BARRIER ? 4 : n->comm_bytes;
    *seconds = 0;
    if (g->n < 2 || bytes <= 0)
        return USIM_OK;
    /* The network model lays groups out evenly; a group spread wider than
     * that (the first and last pipeline stage) is costed at the widest
     * even spacing, which crosses the same tiers. */
    int stride = g->stride;
    if ((double)stride * g->n > rp->world)
        stride = rp->world / g->n > 0 ? rp->world / g->n : 1;
    net_group group = {g->n, stride, rp->world / g->n > 0 ? rp->world / g->n : 1, 0,
                       NET_LAUNCH_ASYNC, false};
    net_result res;
    usim_status st = net_collective(rp->sys, op, bytes, group, NET_ALGO_AUTO,
                                    NET_MODEL_ANALYTIC, &res, rp->err);
    if (st != USIM_OK)
        return st;
    *seconds = res.seconds;
    return USIM_OK;
}

static bool is_member(const pgroup *g, int rank)
{
    return bsearch(&rank, g->ranks, (size_t)g->n, sizeof(int), ascending) != NULL;
}

/* Every caller is a member, and every member with a file makes the call
 * (counted once per group; the members are walked only to name one that
 * does not). */
static usim_status members_all_call(replay *rp, pgroup *g, const arrival *a, int n)
{
    for (int i = 0; i < n; i++) {
        const et_rank *r = &rp->ranks[a[i].rank];
        if (!is_member(g, r->rank))
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d): node id %llu calls group \"%s\", which does not list "
                             "rank %d",
                             r->path, r->rank, (unsigned long long)r->nodes[a[i].index].id,
                             g->name, r->rank);
    }
    if (g->with_files < 0) {
        g->with_files = 0;
        for (int k = 0; k < g->n; k++)
            g->with_files += rp->file_of[g->ranks[k]] >= 0;
    }
    if (n == g->with_files)
        return USIM_OK;
    const et_rank *r0 = &rp->ranks[a[0].rank];
    for (int k = 0, i = 0; k < g->n; k++) {
        int file = rp->file_of[g->ranks[k]];
        while (i < n && a[i].rank < file)
            i++;
        if (file >= 0 && (i == n || a[i].rank != file))
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d): node id %llu is call %d of group \"%s\", but rank "
                             "%d's file makes only %d calls on that group",
                             r0->path, r0->rank,
                             (unsigned long long)r0->nodes[a[0].index].id, a[0].seq + 1, g->name,
                             g->ranks[k], a[0].seq);
    }
    return USIM_OK;
}

/* One call of group: the arrivals a[0..n) of the members present. */
static usim_status one_call(replay *rp, arrival *a, int n)
{
    const et_rank *r0 = &rp->ranks[a[0].rank];
    const et_node *n0 = &r0->nodes[a[0].index];
    for (int i = 1; i < n; i++) {
        const et_rank *r = &rp->ranks[a[i].rank];
        const et_node *x = &r->nodes[a[i].index];
        if (x->comm_type != n0->comm_type || x->comm_bytes != n0->comm_bytes)
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d): node id %llu is call %d of group \"%s\": %s of "
                             "%.0f bytes here, %s of %.0f bytes on rank %d (node id %llu)",
                             r->path, r->rank, (unsigned long long)x->id, a[i].seq + 1,
                             rp->groups[a[i].group].name, et_coll_name(x->comm_type),
                             x->comm_bytes, et_coll_name(n0->comm_type), n0->comm_bytes,
                             r0->rank, (unsigned long long)n0->id);
    }
    pgroup *g = &rp->groups[a[0].group];
    usim_status member = members_all_call(rp, g, a, n);
    if (member != USIM_OK)
        return member;
    double seconds = 0;
    usim_status st = collective_s(rp, r0, n0, g, &seconds);
    if (st != USIM_OK)
        return st;
    int t = sim_task(rp->g, g->resource, seconds, KIND_COLL, n0->name);
    if (t < 0)
        return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    for (int i = 0; i < n && st == USIM_OK; i++) {
        a[i].call = t;
        st = sim_depend(rp->g, t, a[i].arrive, 0, rp->err);
        if (st == USIM_OK)
            st = sim_depend(rp->g, a[i].done, t, 0, rp->err);
    }
    return st;
}

static usim_status link_collectives(replay *rp)
{
    arrival *a = rp->arrivals;
    int n = rp->narrivals;
    if (n == 0)
        return USIM_OK;
    qsort(a, (size_t)n, sizeof *a, by_group_rank_order);
    for (int i = 0; i < n; i++) /* the k-th call of its group on its rank */
        a[i].seq = i > 0 && a[i - 1].group == a[i].group && a[i - 1].rank == a[i].rank
                       ? a[i - 1].seq + 1
                       : 0;
    qsort(a, (size_t)n, sizeof *a, by_group_seq_rank);
    usim_status st = USIM_OK;
    for (int i = 0; i < n && st == USIM_OK;) {
        int j = i + 1;
        while (j < n && a[j].group == a[i].group && a[j].seq == a[i].seq)
            j++;
        st = one_call(rp, a + i, j - i);
        i = j;
    }
    return st;
}

/* ---- sends and receives --------------------------------------------------------- */

typedef struct p2p {
    int file, index;
    int peer, tag, seq;
    bool send;
} p2p;

static int sender_of(const p2p *x)
{
    return x->send ? x->file : x->peer;
}

static int receiver_of(const p2p *x)
{
    return x->send ? x->peer : x->file;
}

/* By sender, receiver and tag; sends before receives; each in its rank's order. */
static int by_pair(const void *a, const void *b)
{
    const p2p *x = a, *y = b;
    if (sender_of(x) != sender_of(y))
        return sender_of(x) < sender_of(y) ? -1 : 1;
    if (receiver_of(x) != receiver_of(y))
        return receiver_of(x) < receiver_of(y) ? -1 : 1;
    if (x->tag != y->tag)
        return x->tag < y->tag ? -1 : 1;
    if (x->send != y->send)
        return x->send ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* A send's time: the net layer's point-to-point time between the two chips,
 * or for a ring exchange named by its group, the group's. */
static usim_status transfer_s(replay *rp, const et_rank *r, const et_node *n, double *seconds)
{
    /* Two chips d apart cross the same tier as two world - d apart (the
     * pipeline's wrap from the last stage to the first): the shorter way
     * fits the network model's layout of a group. */
    int d = abs(n->comm_dst - n->comm_src);
    if (2 * d > rp->world)
        d = rp->world - d;
    net_group pair = {2, d, 1, 0, NET_LAUNCH_ASYNC, false};
    int g = n->pg_name[0] ? find_group(rp, n->pg_name) : -1;
    if (g >= 0 && rp->groups[g].n > 1)
        pair = (net_group){rp->groups[g].n, rp->groups[g].stride, 1, 0, NET_LAUNCH_ASYNC, false};
    if (pair.stride < 1)
        pair.stride = 1;
    net_result res;
    *seconds = 0;
    if (n->comm_bytes <= 0)
        return USIM_OK;
    usim_status st = net_collective(rp->sys, NET_SENDRECV, n->comm_bytes, pair, NET_ALGO_AUTO,
                                    NET_MODEL_ANALYTIC, &res, rp->err);
    if (st == USIM_OK)
        *seconds = res.seconds;
    (void)r;
    return st;
}

static usim_status check_peer(replay *rp, const et_rank *r, const et_node *n, int peer)
{
    if (peer >= 0 && peer < rp->world)
        return USIM_OK;
    return usim_fail(rp->err, USIM_EINPUT,
                     "%s (rank %d): node id %llu: %s rank %d is not one of the job's ranks "
                     "(allowed: 0 to %d)",
                     r->path, r->rank, (unsigned long long)n->id,
                     n->type == ET_SEND ? "comm_dst" : "comm_src", peer, rp->world - 1);
}

static usim_status collect_p2p(replay *rp, p2p **out, int *count)
{
    int n = 0;
    for (int f = 0; f < rp->nranks; f++)
        for (int i = 0; i < rp->ranks[f].n; i++)
            n += rp->ranks[f].nodes[i].type == ET_SEND || rp->ranks[f].nodes[i].type == ET_RECV;
    p2p *list = malloc((size_t)(n > 0 ? n : 1) * sizeof *list);
    if (!list)
        return usim_fail(rp->err, USIM_ERUNTIME, "out of memory");
    int k = 0;
    usim_status st = USIM_OK;
    for (int f = 0; f < rp->nranks && st == USIM_OK; f++) {
        const et_rank *r = &rp->ranks[f];
        for (int j = 0; j < r->n && st == USIM_OK; j++) {
            int i = rp->order[f][j];
            const et_node *x = &r->nodes[i];
            if (x->type != ET_SEND && x->type != ET_RECV)
                continue;
            bool send = x->type == ET_SEND;
            int peer = send ? x->comm_dst : x->comm_src, self = send ? x->comm_src : x->comm_dst;
            if (self >= 0 && self != r->rank)
                st = usim_fail(rp->err, USIM_EINPUT,
                               "%s (rank %d): node id %llu: %s %d is not this file's rank",
                               r->path, r->rank, (unsigned long long)x->id,
                               send ? "comm_src" : "comm_dst", self);
            if (st == USIM_OK && peer == r->rank)
                st = usim_fail(rp->err, USIM_EINPUT,
                               "%s (rank %d): node id %llu: %s %d is its own rank (a %s to "
                               "itself moves nothing between chips)",
                               r->path, r->rank, (unsigned long long)x->id,
                               send ? "comm_dst" : "comm_src", peer, send ? "send" : "receive");
            if (st == USIM_OK)
                st = check_peer(rp, r, x, peer);
            /* peers as files where they have one; a peer without a file is
             * written as -1 - rank so it sorts apart */
            int pf = st == USIM_OK ? rp->file_of[peer] : -1;
            list[k++] = (p2p){f, i, pf >= 0 ? pf : -1 - peer, x->comm_tag, j, send};
        }
    }
    *out = list;
    *count = k;
    return st;
}

static usim_status set_send(replay *rp, const p2p *s)
{
    const et_rank *r = &rp->ranks[s->file];
    double seconds;
    usim_status st = transfer_s(rp, r, &r->nodes[s->index], &seconds);
    if (st == USIM_OK)
        sim_set_duration(rp->g, rp->task_of[s->file][s->index], seconds);
    return st;
}

/* A receive from a rank without a file: the peer mirrors this rank, so it
 * arrives with this rank's own send of the same tag, or after a transfer of
 * its own when there is none. */
static usim_status mirrored_recv(replay *rp, const p2p *x)
{
    const et_rank *r = &rp->ranks[x->file];
    const et_node *n = &r->nodes[x->index];
    for (int k = 0; k <= r->n; k++) { /* the node before first: an export writes them in pairs */
        int i = k == 0 ? x->index - 1 : k - 1;
        if (i < 0 || r->nodes[i].type != ET_SEND || r->nodes[i].comm_tag != n->comm_tag)
            continue;
        rp->transfer_of[x->file][x->index] = rp->task_of[x->file][i];
        return sim_depend(rp->g, rp->task_of[x->file][x->index], rp->task_of[x->file][i], 0,
                          rp->err);
    }
    double seconds;
    et_node as_send = *n;
    as_send.comm_dst = r->rank;
    usim_status st = transfer_s(rp, r, &as_send, &seconds);
    if (st == USIM_OK)
        sim_set_duration(rp->g, rp->task_of[x->file][x->index], seconds);
    return st;
}

static usim_status unmatched(replay *rp, const p2p *x)
{
    const et_rank *r = &rp->ranks[x->file];
    const et_node *v = &r->nodes[x->index];
    return usim_fail(rp->err, USIM_EINPUT,
                     "%s (rank %d): node id %llu %s rank %d (tag %d), whose file has no "
                     "matching %s",
                     r->path, r->rank, (unsigned long long)v->id,
                     x->send ? "sends to" : "receives from", x->send ? v->comm_dst : v->comm_src,
                     v->comm_tag, x->send ? "receive" : "send");
}

/* One sender, receiver and tag: the k-th send pairs with the k-th receive. */
static usim_status pair_run(replay *rp, const p2p *run, int n)
{
    int sends = 0;
    while (sends < n && run[sends].send)
        sends++;
    int recvs = n - sends;
    usim_status st = USIM_OK;
    for (int k = 0; k < sends && st == USIM_OK; k++) {
        st = set_send(rp, &run[k]);
        if (st != USIM_OK)
            break;
        if (k < recvs) {
            const p2p *v = &run[sends + k];
            rp->transfer_of[v->file][v->index] = rp->task_of[run[k].file][run[k].index];
            st = sim_depend(rp->g, rp->task_of[v->file][v->index],
                            rp->task_of[run[k].file][run[k].index], 0, rp->err);
        }
        else if (run[k].peer >= 0) /* the receiver has a file and never receives it */
            st = unmatched(rp, &run[k]);
    }
    for (int k = sends; k < recvs && st == USIM_OK; k++) {
        const p2p *x = &run[sends + k];
        st = x->peer < 0 ? mirrored_recv(rp, x) : unmatched(rp, x);
    }
    return st;
}

static usim_status link_p2p(replay *rp)
{
    p2p *list = NULL;
    int n = 0;
    usim_status st = collect_p2p(rp, &list, &n);
    if (st == USIM_OK)
        qsort(list, (size_t)n, sizeof *list, by_pair);
    for (int i = 0; i < n && st == USIM_OK;) {
        int j = i + 1;
        while (j < n && sender_of(&list[j]) == sender_of(&list[i]) &&
               receiver_of(&list[j]) == receiver_of(&list[i]) && list[j].tag == list[i].tag)
            j++;
        st = pair_run(rp, list + i, j - i);
        i = j;
    }
    free(list);
    return st;
}

/* ---- reading the timeline -------------------------------------------------------- */

typedef struct span {
    double a, b;
} span;

static int by_start(const void *x, const void *y)
{
    double a = ((const span *)x)->a, b = ((const span *)y)->a;
    return (a > b) - (a < b);
}

/* Merges spans (sorted) in place; returns how many remain. */
static int merge(span *v, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && v[i].a <= v[k - 1].b) {
            if (v[i].b > v[k - 1].b)
                v[k - 1].b = v[i].b;
        } else {
            v[k++] = v[i];
        }
    }
    return k;
}

static double covered(const span *busy, int n, double a, double b)
{
    double c = 0;
    for (int i = 0; i < n && busy[i].a < b; i++)
        if (busy[i].b > a)
            c += fmin(b, busy[i].b) - fmax(a, busy[i].a);
    return c;
}

/* After a deadlock: the first node, in rank order, that never starts. */
static usim_status name_deadlock(const replay *rp)
{
    for (int f = 0; f < rp->nranks; f++) {
        const et_rank *r = &rp->ranks[f];
        for (int k = 0; k < r->n; k++) {
            int i = rp->order[f][k];
            if (!isnan(sim_end(rp->g, rp->task_of[f][i])))
                continue;
            return usim_fail(rp->err, USIM_EINPUT,
                             "%s (rank %d): node id %llu never starts: the ranks wait on each "
                             "other (their collectives on a group, or their sends and receives, "
                             "come in different orders)",
                             r->path, r->rank, (unsigned long long)r->nodes[i].id);
        }
    }
    return usim_fail(rp->err, USIM_EINPUT,
                     "the ranks wait on each other forever: their collectives on a group, or "
                     "their sends and receives, come in different orders");
}

/* The file whose last task ends last. */
static int busiest_file(const replay *rp)
{
    int best = 0;
    double end = -1;
    for (int f = 0; f < rp->nranks; f++)
        for (int i = 0; i < rp->ranks[f].n; i++) {
            double e = sim_end(rp->g, rp->task_of[f][i]);
            if (e > end) {
                end = e;
                best = f;
            }
        }
    return best;
}

static usim_status read_rank(const replay *rp, int f, et_replay_result *out)
{
    const et_rank *r = &rp->ranks[f];
    int cap = r->n + 1;
    span *busy = malloc((size_t)cap * sizeof *busy), *comm = malloc((size_t)cap * sizeof *comm);
    if (!busy || !comm) {
        free(busy);
        free(comm);
        return USIM_ERUNTIME;
    }
    int nb = 0, nc = 0;
    et_rank_time *t = &out->busiest;
    t->rank = r->rank;
    for (int i = 0; i < r->n; i++) {
        const et_node *n = &r->nodes[i];
        int task = rp->task_of[f][i];
        double a = sim_start(rp->g, task), b = sim_end(rp->g, task);
        t->end_s = fmax(t->end_s, b);
        if (n->type == ET_COMP || n->type == ET_MEM_LOAD || n->type == ET_MEM_STORE) {
            out->recorded_compute_s += n->duration_s;
            if (b > a)
                busy[nb++] = (span){a, b};
        } else if (n->type == ET_RECV && rp->transfer_of[f][i] >= 0) {
            /* a receive is communication while its send's transfer runs */
            int sent = rp->transfer_of[f][i];
            if (sim_end(rp->g, sent) > sim_start(rp->g, sent))
                comm[nc++] = (span){sim_start(rp->g, sent), sim_end(rp->g, sent)};
        } else if ((n->type == ET_SEND || n->type == ET_RECV) && b > a) {
            comm[nc++] = (span){a, b};
        }
    }
    for (int k = 0; k < rp->narrivals; k++) {
        const arrival *v = &rp->arrivals[k];
        if (v->rank != f || v->call < 0 || sim_duration(rp->g, v->call) <= 0)
            continue;
        const et_node *n = &r->nodes[v->index];
        if (nc == cap)
            break;
        comm[nc++] = (span){sim_start(rp->g, v->call), sim_end(rp->g, v->call)};
        if (n->comm_type >= 0 && n->comm_type <= ET_BARRIER)
            out->coll_s[n->comm_type] += sim_duration(rp->g, v->call);
    }
    qsort(busy, (size_t)nb, sizeof *busy, by_start);
    nb = merge(busy, nb);
    for (int i = 0; i < nb; i++)
        t->compute_s += busy[i].b - busy[i].a;
    for (int i = 0; i < nc; i++) {
        double len = comm[i].b - comm[i].a;
        t->comm_s += len;
    }
    qsort(comm, (size_t)nc, sizeof *comm, by_start);
    nc = merge(comm, nc);
    for (int i = 0; i < nc; i++)
        t->comm_exposed_s += comm[i].b - comm[i].a - covered(busy, nb, comm[i].a, comm[i].b);
    t->idle_s = t->end_s - t->compute_s - t->comm_exposed_s;
    if (t->idle_s < 1e-9 * t->end_s) /* what rounding leaves */
        t->idle_s = 0;
    free(busy);
    free(comm);
    return USIM_OK;
}

static void count_nodes(const replay *rp, et_replay_result *out)
{
    for (int f = 0; f < rp->nranks; f++)
        for (int i = 0; i < rp->ranks[f].n; i++) {
            int type = rp->ranks[f].nodes[i].type;
            out->nodes++;
            out->compute_nodes += type == ET_COMP;
            out->comm_nodes += type == ET_COLL;
            out->p2p_nodes += type == ET_SEND || type == ET_RECV;
        }
}

static void free_replay(replay *rp)
{
    for (int f = 0; f < rp->nranks; f++) {
        if (rp->order)
            free(rp->order[f]);
        if (rp->task_of)
            free(rp->task_of[f]);
        if (rp->transfer_of)
            free(rp->transfer_of[f]);
        et_rank_free(&rp->ranks[f]);
    }
    free(rp->order);
    free(rp->task_of);
    free(rp->transfer_of);
    free(rp->ranks);
    for (int i = 0; i < rp->ngroups; i++)
        free(rp->groups[i].ranks);
    free(rp->groups);
    free(rp->arrivals);
    free(rp->file_of);
}

usim_status et_replay(const char *prefix, const hw_system *sys, const et_replay_options *o,
                      et_replay_result *out, sim_graph **trace, usim_error *err)
{
    replay rp;
    memset(&rp, 0, sizeof rp);
    memset(out, 0, sizeof *out);
    rp.prefix = prefix;
    rp.sys = sys;
    rp.chip = hw_chip_sustained(&sys->chip);
    rp.o = o;
    rp.err = err;
    rp.out = out;
    rp.g = sim_graph_new();
    usim_status st = rp.g ? read_ranks(&rp, prefix) : usim_fail(err, USIM_ERUNTIME, "out of memory");
    if (st == USIM_OK)
        st = set_world(&rp);
    if (st == USIM_OK)
        st = read_groups(&rp, prefix);
    if (st == USIM_OK) {
        rp.order = calloc((size_t)rp.nranks, sizeof(int *));
        rp.task_of = calloc((size_t)rp.nranks, sizeof(int *));
        rp.transfer_of = calloc((size_t)rp.nranks, sizeof(int *));
        if (!rp.order || !rp.task_of || !rp.transfer_of)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    for (int f = 0; f < rp.nranks && st == USIM_OK; f++)
        st = rank_tasks(&rp, f);
    if (st == USIM_OK)
        st = link_collectives(&rp);
    if (st == USIM_OK)
        st = link_p2p(&rp);
    if (st == USIM_OK && sim_run(rp.g, err) != USIM_OK)
        st = name_deadlock(&rp);
    if (st == USIM_OK) {
        out->step_time_s = sim_makespan(rp.g);
        out->ranks = rp.nranks;
        out->chips = rp.world;
        count_nodes(&rp, out);
        if (read_rank(&rp, busiest_file(&rp), out) != USIM_OK)
            st = usim_fail(err, USIM_ERUNTIME, "out of memory");
    }
    if (st == USIM_OK && trace)
        *trace = rp.g;
    else
        sim_graph_free(rp.g);
    free_replay(&rp);
    return st;
}
