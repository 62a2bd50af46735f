/*
 * ultrasim: a performance simulator ("digital twin") of AI infrastructure.
 *
 * One front door. Every command is a request, a JSON object holding the
 * command's name and exactly the command line's options:
 *
 *     {"command": "hw show", "name": "trn2u.48xlarge", "chips": "128"}
 *
 * answered by one call that returns a JSON result. The command-line tool, the
 * sweep runner and any binding are thin shells over it. Option values may be
 * JSON numbers or strings with units ("1GiB", "2us"); every one is checked
 * against the command's option table, and bad input fails with USIM_EINPUT
 * and a message naming the option, the value and the allowed range.
 *
 * The typed layer APIs (ultrasim/hw.h, ...) stay available for embedding.
 */
#ifndef ULTRASIM_H
#define ULTRASIM_H

#include "ultrasim/core.h"

#ifdef __cplusplus
extern "C" {
#endif

const char *usim_version(void);

/* Runs request_json; on success *result_json is a JSON object (caller frees
 * with free()). On failure err says why and *result_json is NULL. */
usim_status usim_run(const char *request_json, char **result_json, usim_error *err);

/* ---- the command registry (used by the CLI for parsing and --help) ---- */

typedef enum usim_option_type {
    USIM_OPT_STRING,   /* free text: a preset name, a file */
    USIM_OPT_CHOICE,   /* one of choices */
    USIM_OPT_INT,      /* whole number in [min, max]; accepts K/M/Gi suffixes */
    USIM_OPT_QUANTITY, /* number with unit in [min, max] */
    USIM_OPT_FLAG      /* on when present */
} usim_option_type;

typedef struct usim_option {
    const char *name;    /* request key and --name */
    usim_option_type type;
    usim_unit unit;      /* USIM_OPT_QUANTITY */
    const char *metavar; /* "N", "BYTES" */
    const char *help;
    const char *default_text; /* NULL: no default (required or unset) */
    const char *const *choices; /* USIM_OPT_CHOICE, NULL-terminated */
    double min, max;
    bool required;
    bool inline_json; /* a request may give a JSON object instead (e.g. a whole system) */
} usim_option;

typedef struct usim_command usim_command;

typedef struct usim_command {
    const char *name;        /* "hw show" */
    const char *summary;     /* one line for the command list */
    const char *usage;       /* "ultrasim hw show NAME|FILE [--chips N] [--json]" */
    const char *description; /* paragraphs for --help */
    const char *const *positionals; /* option names taken by position, NULL-terminated */
    const usim_option *options;
    size_t option_count;
} usim_command;

/* Every command, in display order; NULL-terminated. */
const usim_command *const *usim_commands(void);
const usim_command *usim_command_find(const char *name);

/* Writes the command's --help text into a newly allocated string. */
char *usim_command_help(const usim_command *cmd);

/* Renders a result as human-readable text (caller frees). */
usim_status usim_render_text(const char *command, const char *result_json, char **text,
                             usim_error *err);

#ifdef __cplusplus
}
#endif
#endif
