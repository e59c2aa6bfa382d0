/*
 * args.c — parsing argv against a command's option table (cli/cli.h):
 * getopt_long's lists are built from the table, the common options are
 * taken here, and an option with a kind is validated and stored by the
 * table alone (enum cli_kind); and the checks of the tables and of the
 * library's command lines against them (`ledger help --check`).
 */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ID_DIR 0x10001 /* --dir: handled here, never returned */
#define ID_NOPAGER 0x10002
#define ID_COLOR 0x10003
#define ID_UTC 0x10004
#define ID_WIDE 0x10005

/* ------------------------------------------------------------ parsing -- */

static void
args_init(struct cli_args *a, struct cli *c, int argc, char **argv, void *dst)
{
    const struct cli_opt *o;
    size_t n = 0, s = 0;

    memset(a, 0, sizeof *a);
    a->c = c;
    a->argc = argc;
    a->argv = argv;
    a->dst = dst;
    a->shortopts[s++] = ':'; /* a missing value is reported as ':' */
    for (o = c->command ? c->command->opts : NULL; o && (o->name || o->value);
         o++) {
        if (o->flags & CLI_POS)
            continue;
        /* a table too long for the lists is the program's fault: never
         * an option dropped in silence (room kept for "o:h" and the
         * seven common long options with the end) */
        if (o->short_name) {
            LDG_ASSERT(s + 2 + sizeof "o:h" <= sizeof a->shortopts);
            a->shortopts[s++] = o->short_name;
            if (o->value)
                a->shortopts[s++] = ':';
        }
        if (o->name) {
            LDG_ASSERT(n + 1 + 7 + 1 <= CLI_OPTS_MAX);
            a->lo[n].name = o->name;
            a->lo[n].has_arg = o->value ? required_argument : no_argument;
            a->lo[n].flag = NULL;
            a->lo[n].val = o->id;
            n++;
        }
    }
    memcpy(a->shortopts + s, "o:h", 4);
    a->lo[n++] = (struct option){"dir", required_argument, NULL, ID_DIR};
    a->lo[n++] = (struct option){"output", required_argument, NULL, 'o'};
    a->lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    a->lo[n++] = (struct option){"no-pager", no_argument, NULL, ID_NOPAGER};
    a->lo[n++] = (struct option){"color", optional_argument, NULL, ID_COLOR};
    a->lo[n++] = (struct option){"utc", no_argument, NULL, ID_UTC};
    a->lo[n++] = (struct option){"wide", no_argument, NULL, ID_WIDE};
    a->lo[n] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: start over, argv[0] is the command's name */
    opterr = 0; /* errors are ours to word */
}

/* How many long options "--xy[=v]" abbreviates. */
static int
prefix_matches(const struct cli_args *a, const char *arg)
{
    size_t n = strcspn(arg + 2, "=");
    int k = 0;
    for (const struct option *o = a->lo; o->name; o++)
        k += strncmp(o->name, arg + 2, n) == 0;
    return k;
}

/* The long option without a value that "--name=value" names, exactly or
 * by its one unambiguous prefix (as getopt takes it), or NULL. */
static const char *
flag_of(const struct cli_args *a, const char *arg)
{
    size_t n = strcspn(arg + 2, "=");
    const struct option *hit = NULL;
    int k = 0;

    if (strncmp(arg, "--", 2) != 0)
        return NULL;
    for (const struct option *o = a->lo; o->name; o++) {
        if (strncmp(o->name, arg + 2, n) != 0)
            continue;
        if (strlen(o->name) == n) { /* exact: that one */
            hit = o;
            k = 1;
            break;
        }
        hit = o;
        k++;
    }
    return k == 1 && hit->has_arg == no_argument ? hit->name : NULL;
}

/* Whether arg ("--name" or "--name=value") names one of a's long options
 * exactly. */
static int
is_long_opt(const struct cli_args *a, const char *arg)
{
    size_t n;
    if (strncmp(arg, "--", 2) != 0)
        return 0;
    n = strcspn(arg + 2, "=");
    for (const struct option *o = a->lo; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
            return 1;
    return 0;
}

/* The table's entry of what getopt returned: a short option's (its id
 * may be another value than its letter: -S is OPT_SINCE), else the
 * option of that id; NULL for none. */
static const struct cli_opt *
opt_of(const struct cli_args *a, int ch)
{
    const struct cli_opt *t = a->c->command ? a->c->command->opts : NULL;
    for (const struct cli_opt *o = t; o && (o->name || o->value); o++)
        if (!(o->flags & CLI_POS) && o->short_name != 0 && o->short_name == ch)
            return o;
    for (const struct cli_opt *o = t; o && (o->name || o->value); o++)
        if (!(o->flags & CLI_POS) && o->id == ch)
            return o;
    return NULL;
}

/* CLI_K_PICK: the index of a->value among o->pick's words into *p. */
static int
opt_pick(struct cli_args *a, const struct cli_opt *o, char *p)
{
    char words[256] = "";
    size_t n = strlen(a->value), k = 0;
    unsigned u = 0;

    for (const char *w = o->pick;; u++) {
        size_t len = strcspn(w, "|");
        if (len == n && strncmp(w, a->value, n) == 0) {
            LDG_ASSERT(o->size == sizeof u);
            memcpy(p, &u, sizeof u);
            return 0;
        }
        k += (size_t)snprintf(words + k, sizeof words - k, "%s%.*s",
                              u == 0          ? ""
                              : w[len] == '|' ? ", "
                                              : " or ",
                              (int)len, w);
        if (w[len] == '\0' || k >= sizeof words)
            break;
        w += len + 1;
    }
    cli_usage_err(a->c, "--%s: '%s' is not %s", o->name, a->value, words);
    return -1;
}

/* What a value of metavariable meta names when one of its '|'
 * alternatives is a file ("FILE", "VKEY|FILE", "EVENTS.jsonl") or a
 * directory ("DIR", "OUTDIR"): "file" or "directory", else NULL. An empty
 * value then names nothing, and is refused when parsed rather than met
 * later as "cannot open : ...". */
static const char *
path_kind(const char *meta)
{
    for (const char *w = meta; w != NULL && *w;) {
        size_t n = strcspn(w, "|");
        if ((n >= 4 && (memcmp(w + n - 4, "FILE", 4) == 0 ||
                        memcmp(w + n - 4, "PATH", 4) == 0)) ||
            (n >= 6 && memcmp(w + n - 6, ".jsonl", 6) == 0))
            return "file";
        if (n >= 3 && memcmp(w + n - 3, "DIR", 3) == 0)
            return "directory";
        w += n + (w[n] == '|');
    }
    return NULL;
}

/* Stores a->value as o's kind says: 0, or -1 after a usage error. */
static int
opt_store(struct cli_args *a, const struct cli_opt *o)
{
    char *p = (char *)a->dst + o->off;
    uint64_t v;
    unsigned u;

    if (o->kind == CLI_K_QUIET) {
        a->c->quiet = 1;
        return 0;
    }
    LDG_ASSERT(a->dst != NULL && o->size > 0);
    switch (o->kind) {
    case CLI_K_ON:
        u = 1;
        LDG_ASSERT(o->size == sizeof u);
        memcpy(p, &u, sizeof u);
        return 0;
    case CLI_K_STR:
        LDG_ASSERT(o->size == sizeof a->value);
        memcpy(p, &a->value, sizeof a->value);
        return 0;
    case CLI_K_PICK:
        return opt_pick(a, o, p);
    case CLI_K_LIST: {
        struct cli_list *l = (struct cli_list *)(void *)p;
        if (l->v == NULL &&
            (l->v = calloc((size_t)a->argc + 1, sizeof *l->v)) == NULL) {
            cli_err(a->c, "%s", ldg_strerror(LDG_ENOMEM));
            return -1;
        }
        l->v[l->n++] = a->value;
        return 0;
    }
    default:
        if (cli_parse_u64(a->value, &v) < 0 || v < o->min || v > o->max) {
            cli_usage_err(a->c,
                          "--%s: '%s' is not a whole number%s from %llu "
                          "to %llu",
                          o->name, a->value,
                          strcmp(o->value, "MS") == 0 ? " of milliseconds" : "",
                          o->min, o->max);
            return -1;
        }
        if (o->size == sizeof v) {
            memcpy(p, &v, sizeof v);
        } else {
            u = (unsigned)v;
            LDG_ASSERT(o->size == sizeof u && v <= UINT_MAX);
            memcpy(p, &u, sizeof u);
        }
        return 0;
    }
}

/* 1 after saying so when o takes one value (it has a metavariable, or
 * the parser stores one) and was given before: which one was meant is a
 * guess (mirror --key A --key B, doctor --at 3 --at 4), so neither is
 * taken. Options marked CLI_REPEAT collect their values. */
static int
given_twice(struct cli_args *a, const struct cli_opt *o)
{
    size_t i = (size_t)(o - a->c->command->opts);
    uint64_t bit;

    if (o->value == NULL || (o->flags & CLI_REPEAT) || o->kind == CLI_K_LIST)
        return 0;
    LDG_ASSERT(i < 64);
    bit = UINT64_C(1) << i;
    if (!(a->given & bit)) {
        a->given |= bit;
        return 0;
    }
    if (o->name != NULL)
        cli_err(a->c, "option '--%s' given more than once (it takes one value)",
                o->name);
    else
        cli_err(a->c, "option '-%c' given more than once (it takes one value)",
                o->short_name);
    return 1;
}

/* The next option's id (> 0) the table cannot store; 0 when the options
 * are done (a->ind is the first positional); -1 when parsing must stop:
 * --help was printed (a->exit is 0) or a usage error was (a->exit). */
static int
args_next(struct cli_args *a)
{
    for (;;) {
        int ch = getopt_long(a->argc, a->argv, a->shortopts, a->lo, NULL);
        const char *bad;

        a->value = optarg;
        /* "--before --out x": the option left without its value, not
         * --out taken for it */
        if (ch != '?' && ch != ':' && optarg != NULL && optind >= 2 &&
            optarg == a->argv[optind - 1] && is_long_opt(a, optarg)) {
            cli_err(a->c, "option '%s' needs a value (got the option '%s')",
                    a->argv[optind - 2], optarg);
            a->exit = cli_usage(a->c);
            return -1;
        }
        switch (ch) {
        case -1:
            a->ind = optind;
            return 0;
        case ID_DIR:
            a->c->dir_opt = optarg;
            continue;
        case 'o':
            cli_set_output(a->c, optarg);
            continue;
        case ID_NOPAGER:
            a->c->no_pager = 1;
            continue;
        case ID_UTC:
            cli_set_utc();
            continue;
        case ID_WIDE:
            a->c->fit = 0;
            continue;
        case ID_COLOR:
            if (cli_color_parse(a->c, optarg) < 0) {
                cli_err(a->c, "--color: '%s' is not always, never or auto",
                        optarg);
                a->exit = cli_usage(a->c);
                return -1;
            }
            continue;
        case 'h':
            cli_help_command(stdout, a->c->command);
            a->exit = EX_OK;
            return -1;
        case ':':
        case '?':
            bad = a->argv[optind - 1];
            if (ch == ':')
                cli_err(a->c, "option '%s' needs a value", bad);
            else if (optopt != 0 && strncmp(bad, "--", 2) != 0)
                cli_err(a->c, "unknown option '-%c'", optopt);
            else if (strchr(bad, '=') != NULL && flag_of(a, bad) != NULL)
                cli_err(a->c, "option '--%s' takes no value ('%s' given)",
                        flag_of(a, bad), strchr(bad, '=') + 1);
            else if (prefix_matches(a, bad) > 1 && strncmp(bad, "--", 2) == 0) {
                /* which it could be, as GNU getopt says */
                char which[512] = "";
                size_t n = strcspn(bad + 2, "="), w = 0;
                int k = prefix_matches(a, bad), i = 0;
                for (const struct option *o = a->lo; o->name; o++) {
                    if (strncmp(o->name, bad + 2, n) != 0 || w >= sizeof which)
                        continue;
                    w += (size_t)snprintf(which + w, sizeof which - w, "%s--%s",
                                          i == 0       ? ""
                                          : i == k - 1 ? " or "
                                                       : ", ",
                                          o->name);
                    i++;
                }
                cli_err(a->c, "ambiguous option '%s' (%s)", bad, which);
            } else
                cli_err(a->c, "%s option '%s'",
                        prefix_matches(a, bad) > 1 ? "ambiguous" : "unknown",
                        bad);
            a->exit = cli_usage(a->c);
            return -1;
        default: {
            const struct cli_opt *o = opt_of(a, ch);
            if (o != NULL && a->value != NULL && a->value[0] == '\0' &&
                path_kind(o->value) != NULL) {
                cli_err(a->c, "--%s '': names no %s", o->name,
                        path_kind(o->value));
                a->exit = cli_usage(a->c);
                return -1;
            }
            if (o != NULL && given_twice(a, o)) {
                a->exit = cli_usage(a->c);
                return -1;
            }
            if (o == NULL || o->kind == CLI_K_NONE ||
                (a->dst == NULL && o->kind != CLI_K_QUIET))
                return o != NULL ? o->id : ch;
            if (opt_store(a, o) < 0) {
                a->exit = o->kind == CLI_K_LIST ? EX_OSERR : EX_USAGE;
                return -1;
            }
            continue;
        }
        }
    }
}

void
cli_args_free(const struct cli *c, void *args)
{
    for (const struct cli_opt *o = c->command ? c->command->opts : NULL;
         args != NULL && o && (o->name || o->value); o++)
        if (o->kind == CLI_K_LIST)
            free(((struct cli_list *)(void *)((char *)args + o->off))->v);
    free(args);
}

int
cli_parse(struct cli *c, int argc, char **argv, void **args, int *ind)
{
    const struct cli_command *cmd = c->command;
    struct cli_args a;
    void *x = NULL;
    int id, rc = 0;

    if (cmd->args.size > 0 && (x = calloc(1, cmd->args.size)) == NULL) {
        cli_err(c, "%s", ldg_strerror(LDG_ENOMEM));
        return EX_OSERR;
    }
    if (cmd->args.defaults != NULL)
        memcpy(x, cmd->args.defaults, cmd->args.size);
    *args = x;
    args_init(&a, c, argc, argv, x);
    while (rc == 0 && (id = args_next(&a)) > 0)
        rc = cmd->args.opt != NULL ? cmd->args.opt(c, x, id, &a) : cli_usage(c);
    if (rc == 0 && id < 0)
        rc = a.exit == EX_OK ? -1 : a.exit;
    else if (rc == 0 && cmd->args.maxpos >= 0 &&
             argc - a.ind > cmd->args.maxpos)
        rc = cli_usage_err(c, "unexpected argument '%s'",
                           argv[a.ind + cmd->args.maxpos]);
    /* an empty positional where a file goes (the last positional of the
     * table stands for those after it) */
    for (int i = a.ind; rc == 0 && i < argc; i++) {
        const struct cli_opt *p = NULL;
        int k = i - a.ind;
        for (const struct cli_opt *o = cmd->opts; o && (o->name || o->value);
             o++)
            if ((o->flags & CLI_POS) && (p = o, k-- == 0))
                break;
        if (argv[i][0] == '\0' && p != NULL && path_kind(p->value) != NULL)
            rc = cli_usage_err(c, "%s '': names no %s", p->value,
                               path_kind(p->value));
    }
    *ind = a.ind;
    return rc;
}

/* An option table's end. */
static int
is_end(const struct cli_opt *o)
{
    return o->name == NULL && o->value == NULL;
}

/* ------------------------------------- the library's command lines -- */

/* The next word of a command line at *p: up to a space, or a '...'
 * quoted run; its length in *n. NULL at the end. */
static const char *
next_word(const char **p, size_t *n)
{
    const char *s = *p, *q;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    if (*s == '\'' && (q = strchr(s + 1, '\'')) != NULL)
        *n = (size_t)(q - s) + 1;
    else
        *n = strcspn(s, " ");
    *p = s + *n;
    return s;
}

/* Whether the option w (n bytes: "--name", "--name=V" or "-x") is one of
 * a's: 1 when it takes a value, 0 when not, -1 when there is none. */
static int
option_takes(const struct cli_args *a, const char *w, size_t n)
{
    if (n == 2 && w[1] != '-') {
        const char *x = strchr(a->shortopts + 1, w[1]);
        return x == NULL ? -1 : x[1] == ':';
    }
    n = strcspn(w + 2, "=") < n - 2 ? strcspn(w + 2, "=") : n - 2;
    for (const struct option *o = a->lo; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, w + 2, n) == 0)
            return o->has_arg == required_argument;
    return -1;
}

/* Whether w (n bytes) may be cmd's first positional: one of the words its
 * metavariable's alternatives begin with ("add NAME|list|..."), or
 * anything when one of them is a placeholder (upper case) or it has none. */
static int
positional_ok(const struct cli_command *cmd, const char *w, size_t n)
{
    const struct cli_opt *o = cmd->opts;
    while (o && !is_end(o) && !(o->flags & CLI_POS))
        o++;
    if (o == NULL || is_end(o) || strchr(o->value, '|') == NULL)
        return 1;
    for (const char *alt = o->value; *alt;) {
        size_t al = strcspn(alt, " |");
        if ((al == n && strncmp(alt, w, n) == 0) ||
            isupper((unsigned char)alt[0]))
            return 1;
        alt += strcspn(alt, "|");
        alt += *alt == '|';
    }
    return 0;
}

int
cli_check_cmdline(FILE *f, const char *line)
{
    const struct cli_command *cmd = NULL;
    struct cli c;
    struct cli_args a;
    const char *p = line, *w;
    size_t n;
    int bad = 0, first = 1;

    w = next_word(&p, &n);
    if (w == NULL || n != 6 || strncmp(w, "ledger", 6) != 0) {
        fprintf(f, "'%s': does not begin with 'ledger'\n", line);
        return 1;
    }
    if ((w = next_word(&p, &n)) != NULL && n == 5 && !strncmp(w, "--dir", 5)) {
        next_word(&p, &n); /* its value */
        w = next_word(&p, &n);
    }
    for (size_t k = 0; w && cli_commands[k] != NULL && cmd == NULL; k++)
        if (strlen(cli_commands[k]->name) == n &&
            strncmp(cli_commands[k]->name, w, n) == 0)
            cmd = cli_commands[k];
    if (cmd == NULL) {
        fprintf(f, "'%s': no command '%.*s'\n", line, w ? (int)n : 0,
                w ? w : "");
        return 1;
    }
    memset(&c, 0, sizeof c);
    c.command = cmd;
    args_init(&a, &c, 0, NULL, NULL);
    while ((w = next_word(&p, &n)) != NULL) {
        int takes = w[0] == '-' && n > 1 ? option_takes(&a, w, n) : -2;
        if (takes == -1) {
            fprintf(f, "'%s': ledger %s has no option %.*s\n", line, cmd->name,
                    (int)n, w);
            bad++;
        } else if (takes == 1 && memchr(w, '=', n) == NULL) {
            next_word(&p, &n); /* its value, if the line gives it */
        } else if (takes == -2 && first) {
            first = 0;
            if (!positional_ok(cmd, w, n)) {
                fprintf(f, "'%s': ledger %s takes no '%.*s'\n", line, cmd->name,
                        (int)n, w);
                bad++;
            }
        }
    }
    return bad;
}

/* Whether each of cmds (commas between; "keys add" a subcommand) has the
 * option opt, as cli_check_cmdline checks a line. Problems counted. */
static int
check_option(FILE *f, const char *opt, const char *cmds)
{
    char line[160];
    int bad = 0;

    for (const char *p = cmds; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(line, sizeof line, "ledger %.*s %s", (int)n, p, opt);
        bad += cli_check_cmdline(f, line);
        p += n;
        p += *p == ',';
    }
    return bad;
}

/*
 * `ledger help --check`: every table is consistent — no two options of a
 * command share an id, a short or a long name, and none takes the common
 * ones (-o, -h, --dir, --output, --help, --no-pager, --color); and every
 * command line of util.h's table (LDG_CMDS) names a command and options
 * the tables have, and each command LDG_OPTS lists an option for has
 * it. Prints each problem; returns how many there are.
 */
int
cli_help_check(FILE *f)
{
    static const char *const common[] = {"dir",   "output", "help", "no-pager",
                                         "color", "utc",    "wide", NULL};
    int bad = 0;
    for (size_t i = 0; cli_commands[i] != NULL; i++) {
        const struct cli_command *cmd = cli_commands[i];
        const struct cli_opt *o, *p;
        for (o = cmd->opts; o && !is_end(o); o++) {
            if (o->flags & CLI_POS)
                continue;
            if (o->short_name == 'o' || o->short_name == 'h') {
                fprintf(f, "%s: -%c is a common option\n", cmd->name,
                        o->short_name);
                bad++;
            }
            for (size_t k = 0; o->name && common[k]; k++)
                if (strcmp(o->name, common[k]) == 0) {
                    fprintf(f, "%s: --%s is a common option\n", cmd->name,
                            o->name);
                    bad++;
                }
            for (p = cmd->opts; p != o; p++) {
                if (p->flags & CLI_POS)
                    continue;
                if (p->id == o->id) {
                    fprintf(f, "%s: --%s and --%s share the id %d\n", cmd->name,
                            p->name ? p->name : "?", o->name ? o->name : "?",
                            o->id);
                    bad++;
                }
                if (o->short_name && p->short_name == o->short_name) {
                    fprintf(f, "%s: -%c is declared twice\n", cmd->name,
                            o->short_name);
                    bad++;
                }
                if (o->name && p->name && strcmp(o->name, p->name) == 0) {
                    fprintf(f, "%s: --%s is declared twice\n", cmd->name,
                            o->name);
                    bad++;
                }
            }
        }
    }
    /* the command lines library code runs and names (util.h) */
#define CHECK_LINE(line) bad += cli_check_cmdline(f, line);
    LDG_CMDS(CHECK_LINE)
#undef CHECK_LINE
    /* the options library messages name, in each command they name it */
#define CHECK_OPT(opt, cmds) bad += check_option(f, opt, cmds);
    LDG_OPTS(CHECK_OPT)
#undef CHECK_OPT
    return bad;
}
