/*
 * libFuzzer target for the hardware loader: any bytes in, a loaded system or
 * a clean USIM_EINPUT out, never a crash, leak or undefined behaviour.
 * Built and run by `make fuzz` (clang); not part of CI.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/hw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    hw_system *sys = malloc(sizeof *sys);
    usim_error err;
    usim_error_clear(&err);
    if (sys && hw_load_system_text("fuzz.json", text, 0, NULL, sys, &err) == USIM_OK) {
        hw_totals t = hw_derive(sys);
        (void)t;
        /* Re-sizing must also fail cleanly or succeed. */
        hw_set_chips(sys, sys->default_chips * 3, &err);
    }
    char line[1024];
    usim_error_format(&err, line, sizeof line);
    free(sys);
    free(text);
    return 0;
}
