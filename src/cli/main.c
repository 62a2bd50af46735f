/*
 * The `ultrasim` command: argv in, a request to the library's front door, the
 * result printed as text or JSON. This is the only place that prints errors
 * and chooses exit codes: 0 ok, 1 runtime failure, 2 usage or input error.
 *
 *   ultrasim COMMAND [SUBCOMMAND] [ARG...] [--option VALUE | --option=VALUE | --flag]
 *
 * Options are those of the command's table (ultrasim/ultrasim.h); --json and
 * --help are the CLI's own. Nothing is printed until the whole result exists,
 * so a failure never leaves half an answer on stdout.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ultrasim/ultrasim.h"

typedef struct cli_args {
    const usim_command *cmd;
    json_t *request;
    bool json;
    bool help;
} cli_args;

static void print_overview(FILE *out)
{
    const usim_command *const *cmds = usim_commands();
    fprintf(out, "ultrasim %s: a performance simulator of AI infrastructure\n"
                 "(Trainium2 chips, Trn2 instances and UltraServers, GPU clusters).\n\n"
                 "usage: ultrasim COMMAND [ARGS] [OPTIONS]\n\ncommands:\n",
            usim_version());
    for (size_t i = 0; cmds[i]; i++)
        fprintf(out, "  %-14s %s\n", cmds[i]->name, cmds[i]->summary);
    fprintf(out, "\n'ultrasim COMMAND --help' describes one. Other options:\n"
                 "  --version      print the version\n  --help         show this help\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ultrasim: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return USIM_EINPUT;
}

/* "hw show" is two words; "gemm" one. A bare group ("hw") lists its members. */
static const usim_command *find_command(int argc, char **argv, int *used)
{
    if (argc >= 3) {
        char two[128];
        snprintf(two, sizeof two, "%s %s", argv[1], argv[2]);
        const usim_command *c = usim_command_find(two);
        if (c) {
            *used = 2;
            return c;
        }
    }
    *used = 1;
    return usim_command_find(argv[1]);
}

/* The subcommands of a group ("hw list, hw show"), or "" when group is none. */
static void group_members(const char *group, char *buf, size_t size)
{
    const usim_command *const *cmds = usim_commands();
    size_t n = strlen(group), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; cmds[i] && used < size; i++)
        if (strncmp(cmds[i]->name, group, n) == 0 && cmds[i]->name[n] == ' ')
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     cmds[i]->name);
}

static int print_group(const char *group, int argc, char **argv)
{
    const usim_command *const *cmds = usim_commands();
    size_t n = strlen(group);
    if (argc > 2 && strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0) {
        char members[512];
        group_members(group, members, sizeof members);
        return usage_error("unknown subcommand '%s' for '%s' (%s)", argv[2], group, members);
    }
    printf("usage: ultrasim %s SUBCOMMAND ...\n\n", group);
    for (size_t i = 0; cmds[i]; i++)
        if (strncmp(cmds[i]->name, group, n) == 0 && cmds[i]->name[n] == ' ')
            printf("  %-14s %s\n", cmds[i]->name, cmds[i]->summary);
    return USIM_OK;
}

static const usim_option *find_option(const usim_command *cmd, const char *name)
{
    for (size_t i = 0; i < cmd->option_count; i++)
        if (strcmp(cmd->options[i].name, name) == 0)
            return &cmd->options[i];
    return NULL;
}

static int unknown_option(const usim_command *cmd, const char *name)
{
    const char *names[64];
    size_t n = cmd->option_count < 64 ? cmd->option_count : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = cmd->options[i].name;
    const char *near = usim_closest(name, names, n);
    if (near)
        return usage_error("unknown option '--%s' for '%s'; did you mean '--%s'?", name,
                           cmd->name, near);
    return usage_error("unknown option '--%s' for '%s' ('ultrasim %s --help' lists them)", name,
                       cmd->name, cmd->name);
}

static int set_option(cli_args *a, const char *name, const char *value)
{
    if (json_object_get(a->request, name))
        return usage_error("--%s is given twice", name);
    json_object_set_new(a->request, name, value ? json_string(value) : json_true());
    return 0;
}

static int parse_long_option(cli_args *a, int argc, char **argv, int *i)
{
    char name[128];
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    if (n == 0 || n >= sizeof name)
        return usage_error("bad option '%s'", argv[*i]);
    memcpy(name, arg, n);
    name[n] = '\0';
    if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0) {
        if (eq)
            return usage_error("--%s takes no value", name);
        *(strcmp(name, "json") == 0 ? &a->json : &a->help) = true;
        return 0;
    }
    const usim_option *o = find_option(a->cmd, name);
    if (!o)
        return unknown_option(a->cmd, name);
    if (o->type == USIM_OPT_FLAG) {
        if (eq)
            return usage_error("--%s is a flag and takes no value", name);
        return set_option(a, name, NULL);
    }
    if (eq)
        return set_option(a, name, eq + 1);
    if (*i + 1 >= argc)
        return usage_error("--%s needs a value", name);
    /* "--trace --json" forgot the file: '--json' is the next option, not a name. */
    if (strncmp(argv[*i + 1], "--", 2) == 0)
        return usage_error("--%s needs a value, but '%s' is an option (write --%s=VALUE for "
                           "a value that starts with --)",
                           name, argv[*i + 1], name);
    *i += 1;
    return set_option(a, name, argv[*i]);
}

/* -h or --help anywhere asks for help, whatever else the line holds (a user
 * adds it to the line that just failed). */
static bool wants_help(int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

static int parse_args(cli_args *a, int argc, char **argv, int first)
{
    size_t positional = 0;
    const char *const *names = a->cmd->positionals;
    for (int i = first; i < argc; i++) {
        int rc;
        if (strcmp(argv[i], "-o") == 0 && find_option(a->cmd, "out")) {
            /* -o FILE is --out FILE wherever a command writes one */
            rc = i + 1 < argc ? set_option(a, "out", argv[++i])
                              : usage_error("-o needs a file name");
        } else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
            rc = parse_long_option(a, argc, argv, &i);
        } else if (names && names[positional]) {
            rc = set_option(a, names[positional++], argv[i]);
        } else {
            rc = usage_error("unexpected argument '%s'", argv[i]);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void print_error(const usim_command *cmd, const usim_error *err)
{
    char line[2048];
    usim_error e = *err;
    /* An error about an option the user typed reads best as "--name". */
    if (!e.file[0] && e.field[0] && cmd && !strchr(e.field, '.') && strcmp(e.field, "command")) {
        char field[sizeof e.field];
        snprintf(field, sizeof field, "--%.*s", (int)sizeof e.field - 3, e.field);
        snprintf(e.field, sizeof e.field, "%s", field);
    }
    usim_error_format(&e, line, sizeof line);
    fprintf(stderr, "ultrasim: %s\n", line);
}

/* What the result flags as suspect, on stderr: stdout keeps the answer. */
static void print_warnings(const char *result)
{
    json_t *res = json_loads(result, 0, NULL), *w;
    size_t i;
    json_array_foreach(json_object_get(res, "warnings"), i, w)
    {
        fprintf(stderr, "ultrasim: warning: %s\n", json_string_value(w));
    }
    json_decref(res);
}

static int run_command(cli_args *a)
{
    usim_error err;
    char *result = NULL, *text = NULL;
    usim_error_clear(&err);
    json_object_set_new(a->request, "command", json_string(a->cmd->name));
    char *request = json_dumps(a->request, 0);
    if (!request)
        return USIM_ERUNTIME;
    usim_status st = usim_run(request, &result, &err);
    free(request);
    if (st == USIM_OK && !a->json)
        st = usim_render_text(a->cmd->name, result, &text, &err);
    if (st != USIM_OK) {
        print_error(a->cmd, &err);
        free(result);
        return st;
    }
    if (strstr(result, "\"warnings\""))
        print_warnings(result);
    if (!strstr(result, "\"quiet\": true")) { /* an MPI worker rank prints nothing */
        fputs(a->json ? result : text, stdout);
        if (a->json)
            fputc('\n', stdout);
    }
    free(result);
    free(text);
    return fflush(stdout) == 0 ? USIM_OK : USIM_ERUNTIME;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_overview(argc < 2 ? stderr : stdout);
        return argc < 2 ? USIM_EINPUT : USIM_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ultrasim %s\n", usim_version());
        return USIM_OK;
    }
    int used;
    cli_args a = {find_command(argc, argv, &used), NULL, false, false};
    if (!a.cmd) {
        char members[512];
        group_members(argv[1], members, sizeof members);
        if (members[0])
            return print_group(argv[1], argc, argv);
        return usage_error("unknown command '%s' ('ultrasim --help' lists them)", argv[1]);
    }
    a.request = json_object();
    a.help = wants_help(argc, argv, 1 + used);
    int rc = a.help ? 0 : parse_args(&a, argc, argv, 1 + used);
    if (rc == 0 && a.help) {
        char *help = usim_command_help(a.cmd);
        fputs(help, stdout);
        free(help);
    } else if (rc == 0) {
        rc = run_command(&a);
    }
    json_decref(a.request);
    return rc;
}
