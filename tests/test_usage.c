/*
 * Usage lines cannot drift from the options: every --flag a command's usage line
 * shows is an option that command takes (--json and --help are the CLI's own),
 * outside brackets only where it is required.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "ultrasim/ultrasim.h"

static bool takes_option(const usim_command *cmd, const char *name)
{
    if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0)
        return true;
    for (size_t i = 0; i < cmd->option_count; i++)
        if (strcmp(cmd->options[i].name, name) == 0)
            return true;
    return false;
}

/* The flags of a usage line: "--" then letters, digits and dashes. */
static int unknown_flags(const usim_command *cmd)
{
    int unknown = 0;
    for (const char *p = strstr(cmd->usage, "--"); p; p = strstr(p + 2, "--")) {
        char name[64];
        size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (n == 0 || n >= sizeof name)
            continue;
        memcpy(name, p + 2, n);
        name[n] = '\0';
        if (!takes_option(cmd, name)) {
            print_error("'%s' usage shows --%s, which it does not take\n", cmd->name, name);
            unknown++;
        }
    }
    return unknown;
}

static void usage_lines_show_only_real_options(void **state)
{
    (void)state;
    int unknown = 0;
    for (const usim_command *const *c = usim_commands(); *c; c++)
        unknown += unknown_flags(*c);
    assert_int_equal(unknown, 0);
}

/* Whether --name stands in the usage line outside [...] and (... | ...). */
static bool shown_bare(const char *usage, const char *name)
{
    size_t n = strlen(name);
    int depth = 0;
    for (const char *p = usage; *p; p++) {
        depth += (*p == '[' || *p == '(') - (*p == ']' || *p == ')');
        if (depth == 0 && strncmp(p, "--", 2) == 0 && strncmp(p + 2, name, n) == 0 &&
            !strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p[2 + n]))
            return true;
    }
    return false;
}

static bool positional(const usim_command *cmd, const char *name)
{
    for (const char *const *p = cmd->positionals; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

/* `train --tp T --pp P ... --mbs B` read as required, though each defaults to 1. */
static void usage_lines_bracket_what_has_a_default(void **state)
{
    (void)state;
    int wrong = 0;
    for (const usim_command *const *c = usim_commands(); *c; c++)
        for (size_t i = 0; i < (*c)->option_count; i++) {
            const usim_option *o = &(*c)->options[i];
            bool bare = shown_bare((*c)->usage, o->name);
            if (o->default_text && bare)
                print_error("'%s' usage shows --%s as required; it defaults to %s\n", (*c)->name,
                            o->name, o->default_text);
            if (o->required && !bare && !positional(*c, o->name))
                print_error("'%s' usage does not show required --%s\n", (*c)->name, o->name);
            wrong += (o->default_text && bare) || (o->required && !bare && !positional(*c, o->name));
        }
    assert_int_equal(wrong, 0);
}

/* The usage line is what --help prints first. */
static void help_starts_with_the_usage_line(void **state)
{
    (void)state;
    for (const usim_command *const *c = usim_commands(); *c; c++) {
        char args[128];
        snprintf(args, sizeof args, "%s --help", (*c)->name);
        cli_result r = cli_run(args);
        assert_int_equal(r.status, 0);
        char want[1024];
        snprintf(want, sizeof want, "usage: %s\n", (*c)->usage);
        assert_memory_equal(r.out, want, strlen(want));
        cli_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_lines_show_only_real_options),
        cmocka_unit_test(usage_lines_bracket_what_has_a_default),
        cmocka_unit_test(help_starts_with_the_usage_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
