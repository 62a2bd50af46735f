/*
 * The command list: every command the front door answers, in the order the
 * help shows them. Each is defined in its own src/api/cmd_*.c; add it once to
 * COMMAND_LIST below.
 */
#include <string.h>

#include "api/api.h"

#define COMMAND_LIST(X)                                                                     \
    X(api_cmd_hw_list)                                                                      \
    X(api_cmd_hw_show)                                                                      \
    X(api_cmd_collective)                                                                   \
    X(api_cmd_gemm)                                                                         \
    X(api_cmd_attention)                                                                    \
    X(api_cmd_train)                                                                        \
    X(api_cmd_replay)                                                                       \
    X(api_cmd_serve)                                                                        \
    X(api_cmd_goodput)                                                                      \
    X(api_cmd_plan)                                                                         \
    X(api_cmd_validate)                                                                     \
    X(api_cmd_calibrate)                                                                    \
    X(api_cmd_models)                                                                       \
    X(api_cmd_study)                                                                        \
    X(api_cmd_sweep)                                                                        \
    X(api_cmd_plot)                                                                         \
    X(api_cmd_report)

#define DECLARE(c) extern const api_command c;
#define INFO(c) &c.info,
#define ENTRY(c) &c,
COMMAND_LIST(DECLARE)

static const usim_command *const PUBLIC_COMMANDS[] = {COMMAND_LIST(INFO) NULL};
static const api_command *const COMMANDS[] = {COMMAND_LIST(ENTRY) NULL};

const usim_command *const *usim_commands(void)
{
    return PUBLIC_COMMANDS;
}

const api_command *api_command_find(const char *name)
{
    for (size_t i = 0; COMMANDS[i]; i++)
        if (strcmp(COMMANDS[i]->info.name, name) == 0)
            return COMMANDS[i];
    return NULL;
}

const usim_command *usim_command_find(const char *name)
{
    const api_command *c = api_command_find(name);
    return c ? &c->info : NULL;
}
