/*
 * Loading a request's system: "hw" names a preset or file, or (from a sweep
 * that varies a hardware figure) holds the whole description inline.
 */
#include <stdlib.h>

#include "api/api.h"
#include "ultrasim/hw.h"

usim_status api_load_system(const usim_command *cmd, json_t *req, hw_system *out,
                            usim_error *err)
{
    const char *network = NULL;
    int64_t chips = 0;
    bool has_chips = false;
    json_t *hw = json_object_get(req, "hw");
    api_string(cmd, req, "network", &network, err);
    usim_status st = api_int(cmd, req, "chips", &chips, &has_chips, err);
    if (st != USIM_OK)
        return st;
    int n = has_chips ? (int)chips : 0;
    if (!json_is_object(hw))
        return hw_load_system(json_string_value(hw), n, network, out, err);
    char *text = json_dumps(hw, JSON_INDENT(2));
    if (!text)
        return usim_fail(err, USIM_ERUNTIME, "out of memory");
    st = hw_load_system_text("<hw in the request>", text, n, network, out, err);
    free(text);
    return st;
}
