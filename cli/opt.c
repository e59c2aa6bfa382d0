/*
 * opt.c — the option tables: the usage line and help generated from a
 * command's table (cli/args.c parses argv against it).
 *
 * One table per command (struct cli_opt, see cli/cli.h) is the single
 * source: getopt_long's short and long option lists are built from it,
 * and so are the usage line, `--help`, `ledger help` and, through
 * `ledger help --options`, the shell completions.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const struct cli_command *const *cli_commands;

#define HELP_WIDTH 79 /* help text fits an 80-column terminal */
#define HELP_COL 26   /* where option descriptions start */

/* ----------------------------------------------------------- wrapping -- */

/*
 * Writes text word-wrapped to HELP_WIDTH: the cursor is at column col,
 * continuation lines start at column indent. A '\n' in the text starts a
 * new line (at indent); a blank line is kept. Returns the final column.
 */
static int
wrap(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    int at_line_start = 0;

    while (*p) {
        if (*p == '\n') {
            fputc('\n', f);
            p++;
            if (*p == '\n') { /* paragraph break */
                fputc('\n', f);
                p++;
            }
            fprintf(f, "%*s", indent, "");
            col = indent;
            at_line_start = 1;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t w = strcspn(p, " \n");
        if (!at_line_start && col > indent) {
            if (col + 1 + (int)w > HELP_WIDTH) {
                fprintf(f, "\n%*s", indent, "");
                col = indent;
            } else {
                fputc(' ', f);
                col++;
            }
        }
        fwrite(p, 1, w, f);
        col += (int)w;
        p += w;
        at_line_start = 0;
    }
    return col;
}

/* ----------------------------------------------------------- synopsis -- */

static int
is_end(const struct cli_opt *o)
{
    return o->name == NULL && o->value == NULL;
}

/* One synopsis token of an option or positional into buf. */
static void
token(char *buf, size_t cap, const struct cli_opt *o)
{
    char core[160];
    if (o->flags & CLI_POS) {
        snprintf(core, sizeof core, "%s%s", o->value,
                 o->flags & CLI_REPEAT ? "..." : "");
        if (o->flags & CLI_OPTIONAL)
            snprintf(buf, cap, "[%s]", core);
        else
            snprintf(buf, cap, "%s", core);
        return;
    }
    if (o->short_name)
        snprintf(core, sizeof core, "-%c%s%s", o->short_name,
                 o->value ? " " : "", o->value ? o->value : "");
    else
        snprintf(core, sizeof core, "--%s%s%s", o->name, o->value ? " " : "",
                 o->value ? o->value : "");
    if (o->flags & CLI_REQUIRED)
        snprintf(buf, cap, "%s", core);
    else
        snprintf(buf, cap, "[%s]", core);
}

static void
put_tok(FILE *f, const char *tok, int *col, int indent)
{
    if (*col + 1 + (int)strlen(tok) > HELP_WIDTH) {
        fprintf(f, "\n%*s", indent, "");
        *col = indent;
    } else {
        fputc(' ', f);
        (*col)++;
    }
    fputs(tok, f);
    *col += (int)strlen(tok);
}

/* "ledger CMD [-x] ... POS" wrapped, starting at column col: options
 * first, then positionals (the order they are read in). */
static void
synopsis(FILE *f, const struct cli_command *cmd, int col, int indent)
{
    const struct cli_opt *o;
    char tok[200];

    fprintf(f, "ledger %s", cmd->name);
    col += 7 + (int)strlen(cmd->name);
    for (o = cmd->opts; o && !is_end(o); o++) {
        if (!(o->flags & (CLI_HIDDEN | CLI_POS))) {
            token(tok, sizeof tok, o);
            put_tok(f, tok, &col, indent);
        }
    }
    if (cmd->outputs != NULL)
        put_tok(f, "[-o FORMAT]", &col, indent);
    for (o = cmd->opts; o && !is_end(o); o++) {
        if ((o->flags & CLI_POS) && !(o->flags & CLI_HIDDEN)) {
            token(tok, sizeof tok, o);
            put_tok(f, tok, &col, indent);
        }
    }
    fputc('\n', f);
}

int
cli_one_seq(struct cli *c, int npos, char **pos, const char *what,
            uint64_t *seq)
{
    if (npos < 1)
        return cli_usage_err(c, "SEQ is required: %s", what);
    if (npos > 1)
        return cli_usage_err(c, "one SEQ at a time ('%s' after '%s')", pos[1],
                             pos[0]);
    if (cli_parse_u64(pos[0], seq) < 0)
        return cli_usage_err(c, "'%s' is not a sequence number", pos[0]);
    return 0;
}

int
cli_npos(struct cli *c, int npos, char **pos, int min, int max,
         const char *what)
{
    if (npos < min)
        return cli_usage_err(c, "%s", what ? what : "an argument is needed");
    if (npos > max)
        return cli_usage_err(c, "unexpected argument '%s'", pos[max]);
    return 0;
}

int
cli_only_sub(struct cli *c, int npos, char **pos, const char *sub,
             const char *want)
{
    if (npos < 1)
        return cli_usage_err(c, "missing subcommand (%s)", sub);
    if (strcmp(pos[0], sub) != 0)
        return cli_usage_err(c, "unknown subcommand (only '%s')", sub);
    if (npos != 2)
        return cli_usage_err(c, "%s", want);
    return 0;
}

int
cli_usage(const struct cli *c)
{
    if (c == NULL || c->command == NULL) {
        fputs("usage: ledger [--dir DIR] COMMAND [ARGS]\n"
              "Try 'ledger help' for the list of commands.\n",
              stderr);
        return EX_USAGE;
    }
    fputs("usage: ", stderr);
    synopsis(stderr, c->command, 7, 7 + 8 + (int)strlen(c->command->name));
    fprintf(stderr, "Try 'ledger %s --help' for more.\n", c->command->name);
    return EX_USAGE;
}

/* --------------------------------------------------------------- help -- */

static void
opt_line(FILE *f, const char *label, const char *help)
{
    int col = fprintf(f, "  %s", label);
    if (col + 2 > HELP_COL) {
        fprintf(f, "\n%*s", HELP_COL, "");
        col = HELP_COL;
    } else {
        fprintf(f, "%*s", HELP_COL - col, "");
        col = HELP_COL;
    }
    wrap(f, help ? help : "", col, HELP_COL);
    fputc('\n', f);
}

static void
opt_label(char *buf, size_t cap, const struct cli_opt *o)
{
    if (o->flags & CLI_POS)
        snprintf(buf, cap, "%s", o->value);
    else if (o->short_name && o->name)
        snprintf(buf, cap, "-%c, --%s%s%s", o->short_name, o->name,
                 o->value ? " " : "", o->value ? o->value : "");
    else if (o->short_name)
        snprintf(buf, cap, "-%c%s%s", o->short_name, o->value ? " " : "",
                 o->value ? o->value : "");
    else
        snprintf(buf, cap, "    --%s%s%s", o->name, o->value ? " " : "",
                 o->value ? o->value : "");
}

void
cli_help_command(FILE *f, const struct cli_command *cmd)
{
    const struct cli_opt *o;
    const char *p;
    char label[200];
    int any, pass;

    fputs("usage: ", f);
    synopsis(f, cmd, 7, 7 + 8 + (int)strlen(cmd->name));
    fputc('\n', f);
    wrap(f, cmd->description, 0, 0);
    fputs("\n", f);
    for (pass = 0; pass < 2; pass++) /* the arguments, then the options */
        for (any = 0, o = cmd->opts; o && !is_end(o); o++) {
            if ((o->flags & CLI_POS) == (pass ? CLI_POS : 0) ||
                (o->flags & CLI_HIDDEN))
                continue;
            if (!any++)
                fputs(pass ? "\nOptions:\n" : "\nArguments:\n", f);
            opt_label(label, sizeof label, o);
            opt_line(f, label, o->help);
        }
    fputs("\nCommon options:\n", f);
    opt_line(f, "    --dir DIR",
             "the ledger directory (default $LEDGER_DIR, else "
             "${XDG_STATE_HOME:-~/.local/state}/ledger, or the system "
             "ledger ($LEDGER_SYSTEM_DIR, default /var/lib/ledger) when "
             "that holds none)");
    if (cmd->outputs != NULL) {
        char h[300];
        snprintf(h, sizeof h, "output format: %s", cmd->outputs);
        opt_line(f, "-o, --output FORMAT", h);
    }
    if (cmd->flags & CLI_CMD_PAGER)
        opt_line(f, "    --no-pager",
                 "do not page the output (it is paged through $PAGER, "
                 "default less, only when standard output is a terminal)");
    opt_line(f, "    --color[=WHEN]",
             "colour: always, never or auto (the default: on a terminal, "
             "unless NO_COLOR is set)");
    opt_line(f, "    --utc", "times in UTC, not local time");
    if (cmd->outputs != NULL)
        opt_line(
            f, "    --wide",
            "human output at full width: on a terminal it is fitted "
            "to the terminal's width, at least 80 columns (values cut with "
            "\xe2\x80\xa6, long lines wrapped); piped it always is whole");
    opt_line(f, "-h, --help", "show this help and exit");
    fputs("\nExamples:\n", f);
    for (p = cmd->examples; p && *p;) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "  %.*s\n", (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

/* All spellings of a command's options, one a line, for completions:
 * "--name=" for those taking a value. */
void
cli_help_options(FILE *f, const struct cli_command *cmd)
{
    const struct cli_opt *o;
    for (o = cmd->opts; o && !is_end(o); o++) {
        if ((o->flags & (CLI_POS | CLI_HIDDEN)) != 0)
            continue;
        if (o->short_name)
            fprintf(f, "-%c\n", o->short_name);
        if (o->name)
            fprintf(f, "--%s%s\n", o->name, o->value ? "=" : "");
    }
    if (cmd->outputs != NULL)
        fputs("-o\n--output=\n", f);
    if (cmd->flags & CLI_CMD_PAGER)
        fputs("--no-pager\n", f);
    if (cmd->outputs != NULL)
        fputs("--wide\n", f);
    fputs("--color\n--color=\n--dir=\n--utc\n-h\n--help\n", f);
}

static const char *const group_titles[CLI_GROUP_COUNT] = {
    [CLI_GROUP_EVENTS] = "Recording events and keys",
    [CLI_GROUP_TLOG] = "The transparency log",
    [CLI_GROUP_QUERY] = "Finding events",
    [CLI_GROUP_EXPORT] = "Evidence bundles",
    [CLI_GROUP_STATE] = "State and readiness",
};

static const char *const group_names[CLI_GROUP_COUNT] = {
    [CLI_GROUP_EVENTS] = "record", [CLI_GROUP_TLOG] = "tlog",
    [CLI_GROUP_QUERY] = "query",   [CLI_GROUP_EXPORT] = "export",
    [CLI_GROUP_STATE] = "state",
};

/* `ledger --help` and `ledger help`: every command with its synopsis. */
void
cli_help_overview(FILE *f)
{
    fputs("usage: ledger [--dir DIR] COMMAND [OPTIONS] [ARGS]\n"
          "       ledger help [COMMAND]\n"
          "       ledger --version\n\n",
          f);
    wrap(f,
         "ledger is the flight recorder and evidence ledger of a local AI "
         "box: every run, model change, permission grant and routing "
         "decision is recorded as a signed, hash-chained event, and the "
         "ledger answers what happened, why, and whether the box is ready "
         "- with proofs a third party can check offline.",
         0, 0);
    fputs("\n", f);
    for (int g = 0; g < CLI_GROUP_COUNT; g++) {
        fprintf(f, "\n%s:\n", group_titles[g]);
        for (size_t i = 0; cli_commands[i] != NULL; i++) {
            const struct cli_command *cmd = cli_commands[i];
            if ((int)cmd->group != g)
                continue;
            fputs("  ", f);
            synopsis(f, cmd, 2, 2 + 8 + (int)strlen(cmd->name));
            fprintf(f, "%*s", 6, "");
            wrap(f, cmd->summary, 6, 6);
            fputc('\n', f);
        }
    }
    fputs("\nGlobal options (before the command; every command takes them "
          "too):\n",
          f);
    opt_line(f, "    --dir DIR",
             "the ledger directory (default $LEDGER_DIR, else "
             "${XDG_STATE_HOME:-~/.local/state}/ledger, or the system "
             "ledger ($LEDGER_SYSTEM_DIR, default /var/lib/ledger) when "
             "that holds none)");
    opt_line(f, "-o, --output FORMAT", "human (default), json or json-pretty");
    opt_line(f, "-h, --help", "this help; `ledger help COMMAND` for one");
    opt_line(f, "    --no-pager",
             "do not page long output (paged through $PAGER, default "
             "less with LESS=FRX, only on a terminal)");
    opt_line(f, "    --color[=WHEN]",
             "always, never or auto (default: colour on a terminal unless "
             "NO_COLOR is set)");
    opt_line(f, "    --utc",
             "times in UTC, not local time (human output shows times as "
             "`Nov 22 09:39:01`, to the second)");
    opt_line(f, "    --wide",
             "human output at full width (on a terminal it is fitted to 80 "
             "columns; piped it always is whole)");
    opt_line(f, "    --version", "the version, format and libraries");
    fputs("\nExit codes: 0 ok, 1 verification failed, 64 usage, 65 bad "
          "data, 66 no input,\n69 not serving, 70 crashed, 71 out of memory, "
          "73 cannot create, 74 I/O,\n75 try again later (busy, an address "
          "in use), 77 key unusable, 78 configuration\n(doctor: 0 healthy, 1 "
          "degraded, 2 blocked, 3 unknown; docs/OUTPUT.md).\n",
          f);
    fputs("\nExamples:\n"
          "  ledger init\n"
          "  ledger append run.started --run r1 --body '{\"pack\":\"p\"}'\n"
          "  ledger timeline r1\n"
          "  ledger help query\n",
          f);
}

/* ------------------------------------------------------------ man pages -- */

/* Text for scdoc: its markup characters escaped, line breaks kept. */
static void
sc_text(FILE *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        /* a '-' or '.' opening a line would start a scdoc list entry
         * ("--proxy runs ..." did) */
        if (*p == '*' || *p == '_' || *p == '\\' ||
            ((p == s || p[-1] == '\n') && (*p == '-' || *p == '.')))
            fputc('\\', f);
        fputc(*p, f);
    }
}

static void
sc_synopsis(FILE *f, const struct cli_command *cmd)
{
    const struct cli_opt *o;
    char tok[200];
    fprintf(f, "*ledger %s*", cmd->name);
    for (o = cmd->opts; o && !is_end(o); o++)
        if (!(o->flags & (CLI_HIDDEN | CLI_POS))) {
            token(tok, sizeof tok, o);
            fputc(' ', f);
            sc_text(f, tok);
        }
    if (cmd->outputs != NULL)
        fputs(" [-o FORMAT]", f);
    for (o = cmd->opts; o && !is_end(o); o++)
        if ((o->flags & CLI_POS) && !(o->flags & CLI_HIDDEN)) {
            token(tok, sizeof tok, o);
            fputc(' ', f);
            sc_text(f, tok);
        }
    fputs("\n", f);
}

static void
sc_command(FILE *f, const struct cli_command *cmd)
{
    const struct cli_opt *o;
    char label[200];
    const char *p;

    fprintf(f, "## ledger %s\n\n", cmd->name);
    sc_synopsis(f, cmd);
    fputs("\n", f);
    sc_text(f, cmd->description);
    fputs("\n\n", f);
    for (o = cmd->opts; o && !is_end(o); o++) {
        if (o->flags & CLI_HIDDEN)
            continue;
        opt_label(label, sizeof label, o);
        fputs("*", f);
        sc_text(f, label + strspn(label, " "));
        fputs("*\n\t", f);
        sc_text(f, o->help ? o->help : "");
        fputs("\n\n", f);
    }
    if (cmd->outputs != NULL) {
        fputs("*-o, --output* _FORMAT_\n\t", f);
        sc_text(f, cmd->outputs);
        fputs("\n\n", f);
    }
    fputs("Examples:\n\n```\n", f);
    for (p = cmd->examples; p && *p;) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "%.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
    fputs("```\n\n", f);
}

static void
sc_common(FILE *f)
{
    fputs("# COMMON OPTIONS\n\n"
          "Every command takes these, before or after its name.\n\n"
          "*--dir* _DIR_\n"
          "\tThe ledger directory. Default: *$LEDGER\\_DIR*, else "
          "*${XDG\\_STATE\\_HOME:-~/.local/state}/ledger*, or, when that "
          "holds no ledger, the system ledger (*$LEDGER\\_SYSTEM\\_DIR*, "
          "default */var/lib/ledger*) when there is one; *ledger init* "
          "always makes the user's own.\n\n"
          "*-o, --output* _FORMAT_\n"
          "\t*human* (the default), *json* (one JSON object a line) or "
          "*json-pretty*; some commands take more (see each).\n\n"
          "*-h, --help*\n"
          "\tThe command's help on standard output, with examples.\n\n"
          "*--no-pager*\n"
          "\tLong output (help, query, timeline, the views, the doctor) is "
          "paged through *$PAGER* (default *less*, with *LESS=FRX* when "
          "*LESS* is unset) only when standard output is a terminal; this "
          "turns it off.\n\n"
          "*--color*[=_WHEN_]\n"
          "\t*always*, *never* or *auto* (the default: colour on a "
          "terminal unless *NO\\_COLOR* is set and not empty).\n\n"
          "*--utc*\n"
          "\tTimes in UTC rather than local time. Human output shows "
          "every time one way, *Nov 22 09:39:01* (to the second); *-o "
          "json* keeps RFC 3339 UTC with nanoseconds.\n\n"
          "*--wide*\n"
          "\tHuman output at full width. On a terminal, tables, the doctor, "
          "the timeline and *query*'s lines are fitted to the "
          "terminal's width (at least 80 columns): "
          "table cells and *query* lines are cut with an ellipsis, prose "
          "and timeline lines are wrapped, and a remedy's command is "
          "printed whole on its own line, never wrapped. Piped or "
          "redirected, output is always whole.\n\n",
          f);
}

static void
sc_exit(FILE *f)
{
    fputs("# EXIT STATUS\n\n"
          "0 ok; 1 verification failed; 64 usage error; 65 bad data; 66 "
          "no input (no such ledger, event or file); 71 out of memory; 73 "
          "cannot create; 74 "
          "I/O error; 77 key unusable. *ledger doctor* exits with its "
          "verdict: 0 healthy, 1 degraded, 2 blocked, 3 unknown.\n\n",
          f);
}

/*
 * `ledger help --man NAME`: the scdoc source of man page NAME: "ledger"
 * (ledger(1), the overview) or "ledger-GROUP" (every command of a group).
 * 0, or -1 for an unknown NAME.
 */
int
cli_help_man(FILE *f, const char *name)
{
    int g = -1;

    if (strncmp(name, "ledger-", 7) == 0)
        for (int k = 0; k < CLI_GROUP_COUNT; k++)
            if (strcmp(name + 7, group_names[k]) == 0)
                g = k;
    if (g < 0 && strcmp(name, "ledger") != 0)
        return -1;
    if (g < 0) {
        fputs("LEDGER(1)\n\n# NAME\n\n"
              "ledger - the flight recorder and evidence ledger of a local "
              "AI box\n\n# SYNOPSIS\n\n"
              "*ledger* [--dir _DIR_] _COMMAND_ [_OPTIONS_] [_ARGS_]\n\n"
              "*ledger help* [_COMMAND_]\n\n*ledger --version*\n\n"
              "# DESCRIPTION\n\n"
              "*ledger* records what happens on a local AI box - runs, model "
              "changes, permission grants, route decisions, evaluations - as "
              "signed, hash-chained events in a Merkle tree, and answers from "
              "them: what happened to a request and why (*ledger timeline*, "
              "*ledger query*), whether the box is ready (*ledger doctor*), "
              "and evidence a third party can verify offline (*ledger "
              "export*, *ledger verify-bundle*).\n\n# COMMANDS\n\n",
              f);
        for (int k = 0; k < CLI_GROUP_COUNT; k++) {
            fprintf(f, "%s, see *ledger-%s*(1):\n\n", group_titles[k],
                    group_names[k]);
            for (size_t i = 0; cli_commands[i] != NULL; i++)
                if ((int)cli_commands[i]->group == k) {
                    fprintf(f, "*%s*\n\t", cli_commands[i]->name);
                    sc_text(f, cli_commands[i]->summary);
                    fputs("\n\n", f);
                }
        }
        sc_common(f);
        fputs("*--version*\n\tThe version, the formats it reads and "
              "writes, its features and libraries.\n\n",
              f);
        fputs("# ENVIRONMENT\n\n"
              "*LEDGER\\_DIR*\n\tThe ledger directory when *--dir* is not "
              "given.\n\n"
              "*XDG\\_STATE\\_HOME*, *HOME*\n\tThe default ledger directory "
              "is under them.\n\n"
              "*LEDGER\\_MAP\\_BYTES*, *LEDGER\\_MAP\\_MAX\\_BYTES*\n\tThe "
              "initial and largest size of the memory map of the store.\n\n"
              "*PAGER*, *LESS*\n\tThe pager on a terminal (see "
              "*--no-pager*).\n\n"
              "*NO\\_COLOR*\n\tSet and not empty: no colour unless "
              "*--color=always*.\n\n",
              f);
        sc_exit(f);
        fputs("# SEE ALSO\n\n", f);
        for (int k = 0; k < CLI_GROUP_COUNT; k++)
            fprintf(f, "*ledger-%s*(1), ", group_names[k]);
        fputs("*ledger-format*(5), *ledger-events*(7)\n", f);
        return 0;
    }
    fputs("LEDGER-", f);
    for (const char *p = group_names[g]; *p; p++)
        fputc(toupper((unsigned char)*p), f);
    fprintf(f, "(1)\n\n# NAME\n\nledger-%s - ", group_names[g]);
    sc_text(f, group_titles[g]);
    fputs(":", f);
    for (size_t i = 0, first = 1; cli_commands[i] != NULL; i++)
        if ((int)cli_commands[i]->group == g) {
            fprintf(f, "%s ledger %s", first ? "" : ",", cli_commands[i]->name);
            first = 0;
        }
    fputs("\n\n# SYNOPSIS\n\n", f);
    for (size_t i = 0; cli_commands[i] != NULL; i++)
        if ((int)cli_commands[i]->group == g) {
            sc_synopsis(f, cli_commands[i]);
            fputs("\n", f);
        }
    fputs("# COMMANDS\n\n", f);
    for (size_t i = 0; cli_commands[i] != NULL; i++)
        if ((int)cli_commands[i]->group == g)
            sc_command(f, cli_commands[i]);
    sc_common(f);
    sc_exit(f);
    fputs("# SEE ALSO\n\n*ledger*(1), *ledger-format*(5), "
          "*ledger-events*(7)\n",
          f);
    return 0;
}
