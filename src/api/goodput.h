/* Goodput of a training run, shared by `goodput` and `train --failures`
 * (internal). */
#ifndef USIM_API_GOODPUT_H
#define USIM_API_GOODPUT_H

#include "api/train_options.h"
#include "ultrasim/train.h"

extern const char *const api_hot_spare_choices[];

#define API_GOODPUT_OPTIONS                                                                        \
    {"ckpt-interval", USIM_OPT_STRING, USIM_UNIT_NONE, "TIME|auto",                                \
     "compute between checkpoints; auto = the interval that minimises wall time", "auto", NULL, \
     0, 0, false},                                                                                 \
        {"async-ckpt", USIM_OPT_FLAG, USIM_UNIT_NONE, NULL,                                        \
         "checkpoint asynchronously: block only to copy to host memory", NULL, NULL, 0, 0,         \
         false},                                                                                   \
        {"hot-spares", USIM_OPT_CHOICE, USIM_UNIT_NONE, "on|off",                                  \
         "a spare node waits, so a hardware failure costs no replacement time", "on",              \
         api_hot_spare_choices, 0, 0, false},                                                      \
        {"chip-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "chip failures per 10^9 hours",    \
         NULL, NULL, 0, 1e9, false},                                                               \
        {"hbm-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "per HBM stack", NULL, NULL, 0,     \
         1e9, false},                                                                              \
        {"host-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "per host", NULL, NULL, 0, 1e9,    \
         false},                                                                                   \
        {"software-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "software, per host", NULL,    \
         NULL, 0, 1e9, false},                                                                     \
        {"nic-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "per chip's NIC", NULL, NULL, 0,    \
         1e9, false},                                                                              \
        {"link-fit", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "FIT", "links and switches, per chip",    \
         NULL, NULL, 0, 1e9, false},                                                               \
        {"storage-bw", USIM_OPT_QUANTITY, USIM_UNIT_BYTES_PER_S, "BW",                             \
         "checkpoint bandwidth per node", NULL, NULL, 1e6, 1e14, false},                           \
        {"storage-aggregate", USIM_OPT_QUANTITY, USIM_UNIT_BYTES_PER_S, "BW",                      \
         "the file system's total bandwidth", NULL, NULL, 1e6, 1e16, false},                       \
        {"restart", USIM_OPT_QUANTITY, USIM_UNIT_SECONDS, "TIME",                                  \
         "from a failure to training again, checkpoint load excluded", NULL, NULL, 0, 604800,      \
         false},                                                                                   \
        {"straggler-prob", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "P",                                 \
         "chance a given chip runs slow in a step", "0", NULL, 0, 1, false},                       \
        {"straggler-slowdown", USIM_OPT_QUANTITY, USIM_UNIT_NONE, "X",                             \
         "how much slower a straggler is (synchronous steps wait for it)", "1.2", NULL, 1, 100,    \
         false},                                                                                   \
        {"mc-runs", USIM_OPT_INT, USIM_UNIT_NONE, "N", "Monte-Carlo runs (0 = none)", "200",      \
         NULL, 0, 100000, false},                                                                  \
    {                                                                                              \
        "seed", USIM_OPT_INT, USIM_UNIT_NONE, "N", "Monte-Carlo seed", "1", NULL, 0, 9e15, false   \
    }

/* The goodput of training `tokens` tokens at step r on setup s, as JSON. */
usim_status api_goodput(const usim_command *cmd, json_t *req, const api_train_setup_t *s,
                        const train_result *r, double tokens, json_t **out, usim_error *err);
usim_status api_goodput_render(json_t *res, usim_buf *b, usim_error *err);

#endif
