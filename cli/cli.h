/*
 * cli.h — shared pieces of the ledger command-line program.
 *
 * The CLI parses arguments, calls the library, prints and exits. stdout
 * carries data only; errors go to stderr and name the cause. Exit codes:
 * 0 ok, 1 verification failed, sysexits otherwise.
 *
 * Calls go one way (tools/check_cli_calls.sh, in make headertest): main.c
 * (dispatch, help) on top; the command files cmd_*.c under it, none
 * calling another's functions; the helpers every command may use at the
 * bottom (cli.c, opt.c, term.c, gather.c, view.c, bundle.c, ...), which
 * call no command file. What two commands share goes down into a helper
 * or into the library.
 */
#ifndef LDG_CLI_H
#define LDG_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"
#include "util/util.h"

#define EX_OK 0
#define EX_VERIFY 1
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66
#define EX_UNAVAILABLE 69
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_TEMPFAIL 75
#define EX_NOPERM 77
#define EX_CONFIG 78

enum cli_output { OUT_HUMAN, OUT_JSON, OUT_JSON_PRETTY };

/*
 * Options: each command declares its options once, in a table of struct
 * cli_opt, and its usage line, `ledger CMD --help`, `ledger help CMD`,
 * `ledger --help`, the completions and the man pages are all generated
 * from that table (libgit2's cli_opt_spec is the model). The common
 * options --dir, -o/--output and -h/--help are added to every command by
 * the parser; do not list them.
 *
 * How to add a command (say `ledger frob`):
 *   1. In cli/cmd_<area>.c write its options (kept in a struct of its
 *      own: the table says where each goes), the command itself, then its
 *      description:
 *
 *        struct frob_args { uint64_t count; int fast; };
 *        static const struct cli_opt frob_opts[] = {
 *            CLI_NUM('n', 'n', "count", "N", "how many to frob",
 *                    struct frob_args, count, 1, 100),
 *            CLI_ON(OPT_FAST, 0, "fast", "frob without checking",
 *                   struct frob_args, fast),
 *            CLI_ARG("NAME", "the thing to frob", 0),
 *            CLI_OPT_END};
 *        static int
 *        cmd_frob(struct cli *c, struct frob_args *x, int npos, char **pos)
 *        {
 *            ...
 *        }
 *        CLI_COMMAND(
 *            frob, CLI_GROUP_STATE, "frob a thing",
 *            "One paragraph: what it does, what it prints, exit codes.",
 *            frob_opts, CLI_OUT_BASIC,
 *            "# frob twice\nledger frob -n 2 widget\n",
 *            0,   (or CLI_CMD_PAGER when its output can be long)
 *            {.size = sizeof(struct frob_args), .maxpos = 1});
 *
 *   2. The dispatcher (main.c) parses argv with the table into a zeroed
 *      struct frob_args (--help and usage errors are its business) and
 *      calls cmd_frob(c, args, npos, pos): args is that struct, pos the
 *      npos positionals (at most maxpos; -1: any number, the command
 *      checks them). An option the table cannot store (CLI_VALUE,
 *      CLI_FLAG: no kind) goes to .opt, which takes it into args.
 *
 *   3. Declare `extern const struct cli_command cli_cmd_frob;` in
 *      cli/commands.h and add `&cli_cmd_frob` to CLI_COMMANDS there.
 *      tests/e2e/cli_help.sh then checks its --help automatically.
 */
enum cli_opt_flags {
    CLI_POS = 1 << 0,      /* a positional argument, not an option */
    CLI_OPTIONAL = 1 << 1, /* positional that may be left out: [NAME] */
    CLI_REPEAT = 1 << 2,   /* may be given more than once: NAME...; an
                              option: CLI_VALUES */
    CLI_HIDDEN = 1 << 3,   /* parsed, not shown in help */
    CLI_REQUIRED = 1 << 4, /* an option that must be given */
};

/* How the parser stores an option's value itself: at off in the
 * command's args struct (else the command's .args.opt takes it). */
enum cli_kind {
    CLI_K_NONE,  /* handed to the command's .args.opt */
    CLI_K_STR,   /* const char *: the value */
    CLI_K_ON,    /* int: 1 */
    CLI_K_NUM,   /* unsigned or uint64_t/size_t: a whole number from min to
                    max ("MS" as the metavariable: milliseconds), else a
                    usage error "--NAME: 'V' is not a whole number from
                    MIN to MAX" */
    CLI_K_LIST,  /* struct cli_list: every value of a repeated option, in
                    order (v is malloc'd; the dispatcher frees it after
                    the command, cli_args_free) */
    CLI_K_QUIET, /* -q: c->quiet = 1 (CLI_QUIET_OPT) */
    CLI_K_PICK,  /* int: which of pick's words ("all|genai": 0 or 1) the
                    value is, else "--NAME: 'V' is not all or genai" */
};

struct cli_list {
    const char **v; /* NULL-terminated, or NULL before a value */
    size_t n;
};

struct cli_opt {
    int id;                   /* what .args.opt is given: the short letter,
                                 or a value >= 256 for a long-only option */
    char short_name;          /* 'n' for -n, or 0 */
    const char *name;         /* "count" for --count; NULL for a positional */
    const char *value;        /* metavariable ("N") when it takes a value */
    const char *help;         /* one line or a few: what it means */
    unsigned flags;           /* enum cli_opt_flags */
    unsigned char kind;       /* enum cli_kind */
    unsigned short off, size; /* where and how wide, for kind */
    unsigned long long min, max; /* CLI_K_NUM's range */
    const char *pick;            /* CLI_K_PICK's words */
};

#define CLI_OPTS_MAX 64 /* options of one command, common ones included */

#define CLI_FLAG(xid, xs, xname, xhelp)                                        \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .help = (xhelp)      \
    }
#define CLI_VALUE(xid, xs, xname, xmeta, xhelp)                                \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp)                                                        \
    }
/* CLI_VALUE that may be given more than once: .opt gets each value
 * (any other option with a value given twice is a usage error) */
#define CLI_VALUES(xid, xs, xname, xmeta, xhelp)                               \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp), .flags = CLI_REPEAT                                   \
    }
#define CLI_ARG(xmeta, xhelp, xflags)                                          \
    {                                                                          \
        .value = (xmeta), .help = (xhelp), .flags = CLI_POS | (xflags)         \
    }
#define CLI_OPT_END                                                            \
    {                                                                          \
        .id = 0                                                                \
    }
/* The same options, stored by the parser in field f of struct T. */
#define CLI_AT(xT, xf, xk)                                                     \
    .kind = (xk), .off = offsetof(xT, xf), .size = sizeof(((xT *)0)->xf)
#define CLI_ON(xid, xs, xname, xhelp, xT, xf)                                  \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .help = (xhelp),     \
        CLI_AT(xT, xf, CLI_K_ON)                                               \
    }
#define CLI_STR(xid, xs, xname, xmeta, xhelp, xT, xf)                          \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp), CLI_AT(xT, xf, CLI_K_STR)                             \
    }
#define CLI_NUM(xid, xs, xname, xmeta, xhelp, xT, xf, xlo, xhi)                \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp), CLI_AT(xT, xf, CLI_K_NUM), .min = (xlo), .max = (xhi) \
    }

#define CLI_PICK(xid, xs, xname, xmeta, xhelp, xT, xf, xpick)                  \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp), CLI_AT(xT, xf, CLI_K_PICK), .pick = (xpick)           \
    }

#define CLI_LIST(xid, xs, xname, xmeta, xhelp, xT, xf)                         \
    {                                                                          \
        .id = (xid), .short_name = (xs), .name = (xname), .value = (xmeta),    \
        .help = (xhelp), CLI_AT(xT, xf, CLI_K_LIST)                            \
    }

/* Groups: one man page each (ledger-<name>(1)). */
enum cli_group {
    CLI_GROUP_EVENTS,
    CLI_GROUP_TLOG,
    CLI_GROUP_QUERY,
    CLI_GROUP_EXPORT,
    CLI_GROUP_STATE,
    CLI_GROUP_COUNT
};

/* What -o accepts, for the help text. */
#define CLI_OUT_BASIC "human, json or json-pretty"

struct cli;
struct cli_args;
struct cli_command {
    const char *name;
    enum cli_group group;
    /* The command, its options parsed: args is its struct of .args.size
     * bytes (NULL when 0), pos its npos positionals. The exit code. */
    int (*fn)(struct cli *c, void *args, int npos, char **pos);
    const char *summary;     /* one line, lower case, no full stop */
    const char *description; /* a paragraph (blank line = new paragraph) */
    const struct cli_opt *opts;
    const char *outputs;  /* what -o accepts, or NULL when -o is not used */
    const char *examples; /* "# comment\nledger ...\n" lines */
    unsigned flags;       /* CLI_CMD_PAGER, CLI_CMD_GATHER, _OWN_OUTPUT */
    /* How the dispatcher parses argv for fn (cli_parse). */
    struct {
        size_t size; /* of the struct the options are stored in */
        int maxpos;  /* positionals at most, -1: any number */
        /* an option without a kind (a->value its value): 0, or the exit
         * code after saying why */
        int (*opt)(struct cli *c, void *args, int id, struct cli_args *a);
        const void *defaults; /* the struct before parsing, NULL: zeroed */
    } args;
};

#define CLI_CMD_PAGER 1u  /* long output, paged on a tty */
#define CLI_CMD_GATHER 2u /* reads: output kept until done (cli/gather.c) */
/* formats of its own for -o beyond human, json and json-pretty, checked
 * by the command (others: by the dispatcher, cli_check_output) */
#define CLI_CMD_OWN_OUTPUT 4u

/* Defines command ID: const struct cli_command cli_cmd_ID, named "ID" and
 * run by cmd_ID, which takes its own args struct (struct ID_args *x, say)
 * where .fn takes void *: the one conversion is here. The arguments after
 * its group are the fields after .fn, in order. A command named otherwise
 * (a '-' in its name) or run by a function it shares is written out as
 * the struct. */
#define CLI_COMMAND(xid, xgroup, ...)                                          \
    static int cli_run_##xid(struct cli *c, void *args, int npos, char **pos)  \
    {                                                                          \
        return cmd_##xid(c, args, npos, pos);                                  \
    }                                                                          \
    const struct cli_command cli_cmd_##xid = {#xid, (xgroup), cli_run_##xid,   \
                                              __VA_ARGS__}

struct cli {
    const char *dir_opt; /* --dir, or NULL */
    char dir[4096];      /* resolved ledger directory */
    enum cli_output out;
    const char *out_name;              /* the -o value as given */
    int progress;                      /* stderr is a terminal */
    const char *prog;                  /* "ledger" */
    const char *cmd;                   /* command name, for messages */
    const struct cli_command *command; /* the command being run */
    int quiet;                         /* -q: bare values for scripts */
    int color, color_err; /* colour on stdout / stderr (cli/term.c) */
    int no_pager;         /* --no-pager */
    int tty_out;          /* stdout was a terminal (before any pager) */
    int fit;     /* human output fitted to the terminal: stdout is a terminal
                    and --wide was not given (docs/OUTPUT.md) */
    int columns; /* the width fit fits to: the terminal's, at least
                    CLI_COLUMNS (cli_term_columns) */
};

/* The parser over a command's table (getopt_long underneath, so options
 * and positionals may mix and `--` ends the options). */
struct cli_args {
    struct cli *c;
    int argc;
    char **argv;
    char *value;    /* the value of the option just parsed */
    void *dst;      /* where options with a kind are stored */
    int ind;        /* after the loop: index of the first positional */
    int exit;       /* when parsing stopped: the exit code */
    uint64_t given; /* bit i: the table's option i was stored already */
    char shortopts[128];
    struct option lo[CLI_OPTS_MAX]; /* built from the table */
};

/* Parses argv (argv[0] is the command's name) with c->command's table
 * into a new *args (.args: its size, defaults; free it with
 * cli_args_free): 0 with *ind the first positional; -1 after --help (the
 * command then exits 0); or the exit code of a usage error, said. --dir,
 * -o and the terminal's options are taken here. */
int cli_parse(struct cli *c, int argc, char **argv, void **args, int *ind);
/* Frees args and the CLI_K_LIST values in it (NULL is a no-op). */
void cli_args_free(const struct cli *c, void *args);
/* Prints the usage line of c->command and a pointer to --help on stderr;
 * returns EX_USAGE. */
int cli_usage(const struct cli *c);
/* Prints "ledger CMD: message", then the usage; returns EX_USAGE. */
#define cli_usage_err(c, ...) (cli_err((c), __VA_ARGS__), cli_usage(c))
/* The full help of a command on f. */
void cli_help_command(FILE *f, const struct cli_command *cmd);
/* `ledger --help`: every command, its synopsis and summary. */
void cli_help_overview(FILE *f);
/* Every spelling of a command's options, one a line (for completions). */
void cli_help_options(FILE *f, const struct cli_command *cmd);
/* The scdoc source of man page NAME ("ledger" or "ledger-GROUP");
 * 0, or -1 when there is no such page. */
int cli_help_man(FILE *f, const char *name);
/* cli/gather.c: stdout goes to memory (or a temporary file) until
 * cli_gather_end writes it to the real stdout; a no-op when gathering
 * cannot start. @return of _end: 0, or EX_IOERR after saying why the
 * output could not be kept (then none of it is written: a part of an
 * answer is not the answer). */
void cli_gather_start(void);
int cli_gather_end(const struct cli *c);
/* cli/guard.c: standard output and error go through a filter that writes
 * control bytes, invalid UTF-8, C1 controls and bidi overrides as text
 * ("\x1b", "\u202e"): recorded data cannot drive the terminal.
 * cli_guard_install replaces stdout and stderr (once, before any output);
 * cli_guard_paint lets cli_paint's sequences through where colour is on;
 * cli_guard_raw passes stdout's bytes unchanged from then on (a file
 * format: show --raw, page, metrics); cli_guard_stderr_raw is the
 * unfiltered stderr, for the progress line's "\r". */
void cli_guard_install(void);
/* The columns the character (or paint sequence, when paint) at s, n bytes
 * of text, takes once the filter has written it, and its bytes in *len:
 * what tables and cut lines count by (cli/term.c). */
size_t cli_shown_cols(const char *s, size_t n, int paint, size_t *len);
void cli_guard_paint(int on_out, int on_err);
void cli_guard_raw(void);
FILE *cli_guard_stderr_raw(void);
/* cli/term.c: the pager and colour. */
enum cli_paint {
    CLI_PAINT_OFF,
    CLI_PAINT_OK,
    CLI_PAINT_WARN,
    CLI_PAINT_FAIL,
    CLI_PAINT_BOLD
};
/* --color[=always|never|auto] (NULL: always); -1 for another WHEN. */
int cli_color_parse(struct cli *c, const char *when);
/* Decides colour and pager from the environment and argv. */
void cli_term_setup(struct cli *c, int argc, char **argv);
/* Pipes stdout through $PAGER when it is a terminal (see term.c). */
void cli_pager_start(struct cli *c);
/* Closes the pager's pipe and waits for it. */
void cli_pager_end(void);
/* The escape sequence for what, or "" when on is 0. */
const char *cli_paint(int on, enum cli_paint what);
/* Checks every command's table (ids and names unique, no common option
 * redeclared), util.h's command lines (cli_check_cmdline) and the options
 * its LDG_OPTS lists for each command; prints the problems, returns their
 * number. */
int cli_help_check(FILE *f);
/* Checks one command line of util.h's table ("ledger verify --full")
 * against the option tables: its command exists, so does each option it
 * uses (a value after one that takes one is skipped), and its first
 * positional is one its command takes (`keys list`). Prints each problem
 * on f; returns their number. */
int cli_check_cmdline(FILE *f, const char *line);
/* All commands, NULL-terminated: main.c's table, handed down (cli/opt.c;
 * a helper never names a command file's symbols). */
extern const struct cli_command *const *cli_commands;

/* Prints "ledger CMD: message" to stderr. */
void cli_err(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* What went wrong: l's last message (ldg_errmsg), else rc's (l may be
 * NULL). Borrowed from l until its next call. */
const char *cli_why(struct ldg_ledger *l, int rc);
/* Says cli_why(l, rc) and returns rc's exit code; _close closes l too. */
int cli_fail(struct cli *c, struct ldg_ledger *l, int rc);
int cli_fail_close(struct cli *c, struct ldg_ledger *l, int rc);
/* The same for a library call that words its error into err: err, else
 * rc's name. */
int cli_fail_err(struct cli *c, const char *err, int rc);
/* Maps a library error code to an exit code. */
int cli_exit_code(int rc);
/* After a write refused with LDG_EFULL: the free space on the ledger's
 * file system and what makes room (ldg_doctor_full_advice), as one more
 * "ledger CMD: ..." line on stderr. */
void cli_full_advice(const struct cli *c);
/* The doors' way to `ledger serve` (append, ingest, probe): connects to
 * DIR/ledger.sock. 0: *out is connected (the caller closes it). -1: no
 * server serves the ledger (no socket, or nobody listens on it): write
 * directly (with verbose, says so on stderr, as "ledger CMD: no server
 * (...)"). Otherwise the socket could not be reached for another reason
 * (Permission denied, say: a server may be there or not): never a silent
 * direct write that might go behind a running server's back; says so,
 * naming the cause and --direct, and returns the exit code (74). */
struct ldg_client;
int cli_serve_connect(struct cli *c, struct ldg_client **out, int verbose);
/* Resolves the ledger directory into c->dir (ldg_default_dir: --dir,
 * $LEDGER_DIR, the XDG default, else the system ledger when there is
 * one): 0; or EX_USAGE after saying why not. */
int cli_resolve_dir(struct cli *c);
/* The same, never the system ledger (ldg_default_dir_own): where init
 * makes a new one. */
int cli_resolve_dir_own(struct cli *c);
/* *o zeroed, with flags (LDG_RDONLY...) and the map sizes of
 * $LEDGER_MAP_BYTES and $LEDGER_MAP_MAX_BYTES when set. */
void cli_ledger_options(struct ldg_options *o, unsigned flags);
/* Opens the ledger in c->dir, resolving it first (cli_resolve_dir) when
 * that was not done: ro is CLI_OPEN_WRITE (0: a one-shot writer, which
 * leaves the intake's tail for the next writer: LDG_KEEP_TAIL),
 * CLI_OPEN_READ (1), CLI_OPEN_DAEMON (a long-lived writer, whose clean
 * stop applies the tail) or CLI_OPEN_MIGRATE (ledger migrate: a store an
 * earlier build left is opened too, LDG_MIGRATE, and the projections are
 * not attached). On failure prints and returns an exit code (> 0). */
enum {
    CLI_OPEN_WRITE = 0,
    CLI_OPEN_READ = 1,
    CLI_OPEN_DAEMON = 2,
    CLI_OPEN_MIGRATE = 3
};
int cli_open(struct cli *c, int ro, struct ldg_ledger **out);
/* A one-shot writer (append --direct, ingest without serve), before it
 * writes: ends the epochs that outlived their period (ldg_keys_expire,
 * docs/EPOCHS.md), so that the next writer ends what no serve or timer
 * did. A failure is left to the seal that needs the key (which names
 * it) and to the doctor's epoch-exposure: the write goes on. */
void cli_expire_epochs(struct ldg_ledger *l);
/* cli_open read-only, then a read transaction: 0 with *l and *t (the
 * caller aborts and closes them), or the exit code, said, nothing left
 * open. */
struct ldg_txn;
int cli_open_read(struct cli *c, struct ldg_ledger **l, struct ldg_txn **t);
/* Parses -o/--output: human names accepted by a command are passed in
 * allowed (NULL-terminated); "json" and "json-pretty" always are. */
int cli_set_output(struct cli *c, const char *v);
/* Parses an unsigned decimal; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);
/* The command's one SEQ argument, pos[0..npos): 0 with *seq, else the
 * usage error's exit code, naming what is wrong (missing: "SEQ is
 * required: " what; more than one; not a number). */
int cli_one_seq(struct cli *c, int npos, char **pos, const char *what,
                uint64_t *seq);
/* The command's arguments pos[0..npos), at least min and at most max: 0,
 * else the usage error's exit code, naming the cause (fewer: what, e.g.
 * "TYPE is needed: the event type"; more: "unexpected argument 'X'", the
 * first too many). */
int cli_npos(struct cli *c, int npos, char **pos, int min, int max,
             const char *what);
/* A command with one subcommand and one argument after it (`eval run
 * SUITE`): 0 when pos is sub and one more, else the usage error's exit
 * code (the subcommand missing or another; want when the count is off). */
int cli_only_sub(struct cli *c, int npos, char **pos, const char *sub,
                 const char *want);
/* The one time format of human output: "Nov 22 09:39:01", local time (UTC
 * after --utc), to the second, as `ledger query` shows it (util.h's
 * ldg_time_local); with the year, "Oct 22 2025 16:06:57", when it is not
 * this one (cap: 21 bytes or more for that). */
void cli_when(char *buf, size_t cap, uint64_t ts_ns);
/* The same from an RFC 3339 UTC time as the JSON forms carry it (the
 * text itself if it does not parse, "-" for NULL). */
void cli_when_rfc3339(char *buf, size_t cap, const char *t);
/* One cell of a human table: s padded to width columns and a space, or
 * with last, s and a newline. On a terminal (c->fit) a longer s is cut to
 * width with "…" (systemctl's rule), so tables fit 80 columns; piped or
 * with --wide, cells are whole (a wider line beats a lost value). */
void cli_cell(const struct cli *c, const char *s, int width, int last);
/* A row of cells, each a string (not NULL) and its width, NULL after the last
 * (which ends the line when last): a table's head, cli_cells(c, 1, "PACK", 20,
 * "STATE", 8, NULL). */
void cli_cells(const struct cli *c, int last, ...);
/* A line of prose after indent spaces: on a terminal (c->fit) wrapped at
 * word boundaries to 80 columns (never cut), else one whole line. */
void cli_wrap(const struct cli *c, const char *s, int indent);
/* Columns of human output on a terminal that says no width, and the least
 * a wider one gets (c->columns). */
#define CLI_COLUMNS 80
/* The width of the terminal fd is (TIOCGWINSZ, else $COLUMNS), at least
 * CLI_COLUMNS; CLI_COLUMNS when it says none. */
int cli_term_columns(int fd);
/* The columns fitted output takes: c->columns, at least CLI_COLUMNS. */
size_t cli_width(const struct cli *c);
/* A human table whose columns take the widths their cells need: every
 * cell whole when the table fits the terminal (c->columns) or stdout is
 * not one (piped, --wide); otherwise the widest columns give way, down to
 * their minimum, and a cell cut there ends with "…" (systemctl's rule).
 * Build it row by row (a row is ncols cells), then print it. */
struct cli_col {
    const char *head; /* the column's title */
    int min;          /* the narrowest it becomes on a narrow terminal */
    int right;        /* aligned right (numbers) */
};
struct cli_table;
/* A table of these columns (cols is borrowed until cli_table_print).
 * NULL on ENOMEM. */
struct cli_table *cli_table_new(const struct cli_col *cols, size_t ncols);
/* The next cell (copied; NULL prints "-"), in colour what on a terminal
 * with colour (CLI_PAINT_OFF: none). */
void cli_table_add(struct cli_table *t, const char *s, enum cli_paint what);
/* A line of prose under the row just ended, after indent spaces (wrapped
 * as cli_wrap wraps). */
void cli_table_note(struct cli_table *t, const char *s, int indent);
/* Prints the table (head, then rows) and frees it. NULL is a no-op. */
void cli_table_print(const struct cli *c, struct cli_table *t);
/* Frees the table unprinted (an empty list prints no header alone).
 * NULL is a no-op. */
void cli_table_free(struct cli_table *t);
/* One line of n bytes (no newline in it) and a newline. With c->fit and
 * wider than 80 columns: hang > 0 wraps it at spaces, two-space field
 * gaps first, continuation lines indented by hang; hang 0 cuts it to 80
 * columns with "…". pre and post (colour, or NULL) go around every
 * printed line. Otherwise the line is written whole. */
void cli_line(const struct cli *c, const char *s, size_t n, int hang,
              const char *pre, const char *post);
/* printf, then each line of the text through cli_line with hang. */
void cli_printf_fit(const struct cli *c, int hang, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Columns the UTF-8 text s[0..n) takes. */
size_t cli_cols(const char *s, size_t n);
/* --utc: every time from here on in UTC (TZ=UTC). */
void cli_set_utc(void);
/* Writes one JSON value as a line (compact) or pretty, then frees it. */
void cli_print_json(const struct cli *c, json_t *v);
/* One text answer: as it is (and a newline when it ends with none), or
 * with -o json {key: text}. */
void cli_print_text(const struct cli *c, const char *key, const char *text);
/* Progress line on stderr when it is a terminal: done of total (0 when
 * unknown), with a percentage and an estimate of the time left. */
void cli_progress(void *ctx, uint64_t done, uint64_t total);
/* Erases the progress line, if one was drawn. */
void cli_progress_done(const struct cli *c);

/* --bundle FILE for readers (timeline, query, doctor): the bundle is
 * verified in full before anything of it is shown (cmd_export.c). */
#define CLI_OPT_BUNDLE 0x301
#define CLI_OPT_BUNDLE_KEY 0x302
#define CLI_OPT_BUNDLE_INSECURE 0x303
#define CLI_OPT_BUNDLE_MAX 0x304
#define CLI_BUNDLE_OPTS                                                        \
    CLI_VALUE(CLI_OPT_BUNDLE, 0, "bundle", "FILE",                             \
              "read this evidence bundle (or segment) instead of a ledger, "   \
              "after verifying it as verify-bundle does (needs "               \
              "--trusted-key)"),                                               \
        CLI_VALUE(CLI_OPT_BUNDLE_KEY, 0, "trusted-key", "VKEY|FILE",           \
                  "with --bundle: the log's verifier key, as for "             \
                  "verify-bundle"),                                            \
        CLI_FLAG(CLI_OPT_BUNDLE_INSECURE, 0, "insecure-trust-bundle-key",      \
                 "with --bundle: check it only against the key it carries"),   \
        CLI_VALUE(CLI_OPT_BUNDLE_MAX, 0, "max-bytes", "N",                     \
                  "with --bundle: read a bundle that unpacks to at most N "    \
                  "bytes, a member of it to N (an archive: ledger archive)")
struct cli_bundle_args {
    const char *file;
    char key[1024];
    struct ldg_anchor_pin *pins; /* --trusted-key's anchors (free()) */
    size_t npins;
    int have_key, insecure;
    uint64_t max_bytes; /* 0: the reader's defaults */
};
struct ldg_bundle_contents;
/* Takes a CLI_BUNDLE_OPTS option: 1 if id was one (0 if not), or a
 * negative exit code after printing why. */
int cli_bundle_opt(struct cli *c, struct cli_bundle_args *b, int id,
                   const char *value);
/* Reads and verifies b->file: 0 and *out, or an exit code after printing
 * every check that did not pass and why nothing is shown. */
int cli_bundle_read(struct cli *c, const struct cli_bundle_args *b,
                    struct ldg_bundle_contents **out);
/* The same for a reader that takes the events one at a time (a segment's
 * are never held: ldg_export_each): fn gets each selected event once the
 * whole file verified; *out its state and timeline (and a bundle's
 * events). fn's non-zero return is returned as an exit code. */
int cli_bundle_each(struct cli *c, const struct cli_bundle_args *b,
                    int (*fn)(void *ctx, json_t *event), void *ctx,
                    struct ldg_bundle_contents **out);
/* --trusted-key of verify-bundle and the --bundle readers: what `ledger
 * keys verifier` prints (the verifier key, then an "anchor FIELD=VALUE
 * ..." line for each anchored key), or its -o json, given as the text or
 * a file holding it. 0 with vkey and *pins (free(); NULL when none);
 * EX_NOINPUT (a file that cannot be read), EX_USAGE (a malformed anchor,
 * naming the field), after printing why, each naming opt (the option:
 * --trusted-key, mirror's --key). */
int cli_trust_arg(struct cli *c, const char *opt, const char *arg, char *vkey,
                  size_t cap, struct ldg_anchor_pin **pins, size_t *npins);
/* verify-bundle's exit code for a bundle reader's code (a missing trust
 * anchor is a usage error), and --max-bytes N as the reader's limits. */
int cli_bundle_exit(int rc);
/* Whether `--out PATH` is free for a bundle (segment 0) or a segment
 * (ldg_export_out_check; export and archive): 0, or its exit code (73)
 * said as "--out " and the library's message. l stays open. */
int cli_out_check(struct cli *c, struct ldg_ledger *l, const char *path,
                  int segment);
struct ldg_bundle_limits;
void cli_bundle_limits(struct ldg_bundle_limits *lim, uint64_t n);
/* A standing verification finding (ldg_query_finding): warned about once
 * on stderr; 1 with *f, 0 if none. unmarked: NULL when the output marks
 * that event, else why it cannot (said instead of "it is marked where it
 * is shown"). cli_finding_say only says it. cli/cli.c */
struct ldg_ledger;
struct ldg_query_finding;
int cli_finding(struct cli *c, struct ldg_ledger *l,
                struct ldg_query_finding *f, const char *unmarked);
void cli_finding_say(struct cli *c, const struct ldg_query_finding *f,
                     const char *unmarked);
#endif
