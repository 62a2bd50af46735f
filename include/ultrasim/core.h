/*
 * ultrasim core: what every layer shares.
 *
 *   - errors as values: a usim_error names the file, position, field path and
 *     reason; library code returns a status and fills one, only cli/ prints;
 *   - human units: "96GiB", "2.9TB/s", "200Gbps", "1us", "2.4GHz", "1.3PFLOPS"
 *     parsed into SI doubles (bytes, bytes/s, seconds, Hz, FLOP/s, W) and
 *     printed back with sensible precision;
 *   - a table-driven reader that fills a C struct from a JSON object, rejects
 *     unknown keys (with a did-you-mean), wrong types and out-of-range values,
 *     and reports file:line:column of the offending value;
 *   - embedded data files (presets under data/).
 */
#ifndef ULTRASIM_CORE_H
#define ULTRASIM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors --------------------------------------------------------- */

typedef enum usim_status {
    USIM_OK = 0,
    USIM_ERUNTIME = 1, /* the simulation could not run (exit code 1) */
    USIM_EINPUT = 2    /* bad usage or input (exit code 2) */
} usim_status;

typedef struct usim_error {
    usim_status status;
    char file[256];     /* "" when the input did not come from a file */
    int line, column;   /* 1-based; 0 when unknown */
    char field[192];    /* dotted path, e.g. "chip.hbm.bandwidth" */
    char message[768];
} usim_error;

void usim_error_clear(usim_error *err);

/* Fills err (when not NULL) and returns status; message is printf-style. */
usim_status usim_fail(usim_error *err, usim_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, naming the field path too. */
usim_status usim_fail_field(usim_error *err, usim_status status, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One line: "file:line:col: field: message" (parts that are unknown are left out). */
void usim_error_format(const usim_error *err, char *buf, size_t size);

/* ---- units ---------------------------------------------------------- */

typedef enum usim_unit {
    USIM_UNIT_NONE,           /* plain number */
    USIM_UNIT_BYTES,          /* "96GiB", "24MB" */
    USIM_UNIT_BYTES_PER_S,    /* "2.9TB/s", "200Gbps" (bits converted to bytes) */
    USIM_UNIT_SECONDS,        /* "1us", "15 ms", "54d" */
    USIM_UNIT_HERTZ,          /* "2.4GHz" */
    USIM_UNIT_FLOPS,          /* "1.3PFLOPS", "83.2PF", "989TFLOP/s" */
    USIM_UNIT_WATTS,          /* "500W", "1.2kW" */
    USIM_UNIT_COUNT_ENUM_END
} usim_unit;

/* Parses text such as "2.9TB/s" as the given unit kind into SI (bytes/s here).
 * A bare number is taken in the SI base unit. On failure returns USIM_EINPUT
 * with a message that shows an example of the expected form. */
usim_status usim_parse_quantity(const char *text, usim_unit unit, double *out,
                                usim_error *err);

/* Parses a count that may carry a decimal or binary suffix: "16", "8K", "1Mi". */
usim_status usim_parse_count(const char *text, int64_t *out, usim_error *err);

/* Prints value with a prefix chosen so that 1 <= mantissa < 1000 and about
 * three significant digits: "2.90 TB/s", "96.0 GiB", "1.50 us". Bytes use
 * binary prefixes, everything else decimal ones. */
void usim_format_quantity(double value, usim_unit unit, char *buf, size_t size);

/* A short phrase naming the unit kind with an example: "a bandwidth like 2.9TB/s". */
const char *usim_unit_example(usim_unit unit);

/* ---- numbers -------------------------------------------------------- */

/* Greatest common divisor of two non-negative counts (gcd(a, 0) = a). */
int64_t usim_gcd(int64_t a, int64_t b);

/* ---- strings -------------------------------------------------------- */

/* Levenshtein distance, capped: used to suggest "did you mean". */
int usim_edit_distance(const char *a, const char *b);

/* The candidate closest to word, or NULL when none is plausibly meant. */
const char *usim_closest(const char *word, const char *const *candidates, size_t n);

/* ---- embedded data -------------------------------------------------- */

typedef struct usim_embedded_file {
    const char *path; /* relative to data/, e.g. "hw/trn2.json" */
    const char *text; /* NUL-terminated */
    size_t size;
} usim_embedded_file;

/* The embedded file at path, or NULL. */
const usim_embedded_file *usim_embedded_find(const char *path);

/* Visits embedded files whose path starts with prefix, in path order. */
void usim_embedded_each(const char *prefix,
                        void (*visit)(const usim_embedded_file *f, void *ctx), void *ctx);

/* The preset name an embedded file stands for: its base name without the
 * extension ("engines/vllm.json" -> "vllm"). */
void usim_embedded_name(const usim_embedded_file *f, char *name, size_t size);

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
usim_status usim_read_file(const char *path, char **text, size_t *size, usim_error *err);

/* A text a name stands for: the preset data/DIR/NAME.json (embedded) or a
 * file. *text is the preset's bytes or the file's, read into *owned (the
 * caller frees it); label names it for messages ("data/DIR/NAME.json" or the
 * path). A name that is neither (no '/', no ".json", no such file) sets
 * *missing and returns USIM_OK, so the caller can list what exists. */
usim_status usim_open_named(const char *dir, const char *name, const char **text, char **owned,
                            char *label, size_t label_size, bool *missing, usim_error *err);

/* An output file being written (usim_output_open .. usim_output_commit).
 * Symbolic links are followed to what they point at. A regular file, or one
 * not there yet, is written to a uniquely named temporary file in the same
 * folder and renamed over it on commit, so a reader never sees half a file
 * and a failed write leaves the old one in place. A device, a FIFO or any
 * other non-regular file is written straight through: /dev/null stays
 * /dev/null. */
typedef struct usim_output {
    FILE *fp;           /* write here */
    char target[4096];  /* the file that receives the data, links resolved */
    char tmp[4096];     /* the temporary file; "" when writing straight through */
    char path[4096];    /* as the user named it, for messages */
} usim_output;

/* Opens path for writing (usim_output_commit or usim_output_abort after). */
usim_status usim_output_open(usim_output *out, const char *path, usim_error *err);
/* What usim_output_open would refuse, found without writing anything: a
 * directory named as the file, a folder that is not there or not writable.
 * A command checks every output it will write before it writes the first. */
usim_status usim_output_check(const char *path, usim_error *err);
/* Flushes and closes; renames the temporary file into place. On failure the
 * temporary file is removed and the target is as it was. */
usim_status usim_output_commit(usim_output *out, usim_error *err);
/* Closes and removes the temporary file: nothing is written. */
void usim_output_abort(usim_output *out);

/* Writes a whole file through usim_output: atomically for regular files,
 * straight through for devices and FIFOs, following links. */
usim_status usim_write_file_atomic(const char *path, const char *data, size_t size,
                                   usim_error *err);

/* Renames staged[i] over final[i] for each i < n, all or none: each final
 * file there is first kept as a hard link in keep_dir (a folder of the
 * caller's own, on the same file system), and if one rename fails the files
 * already replaced are put back, those that were not there removed, and
 * USIM_ERUNTIME returned. keep_dir is left as it was found on return, but
 * for a file that could not be put back. */
usim_status usim_replace_files(const char *const *staged, const char *const *final, int n,
                               const char *keep_dir, usim_error *err);

/* Seconds on the monotonic clock: for elapsed times, not dates. */
double usim_now_s(void);

#ifdef __cplusplus
}
#endif
#endif
