/*
 * main.c — the ledger program: global options, dispatch, help (the
 * helpers every command uses: cli.c).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "doctor/doctor.h"
#include "export/export.h"
#include "fleet/fleet.h"
#include "http/http.h"
#include "projections/projections.h"
#include "query/query.h"
#include "serve/serve.h"

static const struct cli_command *const commands[] = {CLI_COMMANDS, NULL};

static const struct cli_command *
find_command(const char *name)
{
    for (size_t k = 0; cli_commands[k] != NULL; k++)
        if (strcmp(cli_commands[k]->name, name) == 0)
            return cli_commands[k];
    return NULL;
}

/*
 * ledger help [COMMAND]: the overview, or one command's help. For the
 * completions and tests: `help --commands` lists the command names, one a
 * line; `help --options COMMAND` every option spelling of COMMAND;
 * `help --check` checks the option tables and util.h's command lines and
 * options,
 * `help --check-line LINE` one such line;
 * `help --man NAME` the scdoc source of man page NAME (the build's).
 */
static int
help_main(int argc, char **argv)
{
    const struct cli_command *cmd;

    if (argc <= 1) {
        cli_help_overview(stdout);
        return EX_OK;
    }
    if (strcmp(argv[1], "--commands") == 0 && argc == 2) {
        for (size_t k = 0; cli_commands[k] != NULL; k++)
            printf("%s\n", cli_commands[k]->name);
        return EX_OK;
    }
    if (strcmp(argv[1], "--options") == 0 && argc == 3 &&
        (cmd = find_command(argv[2])) != NULL) {
        cli_help_options(stdout, cmd);
        return EX_OK;
    }
    if (strcmp(argv[1], "--check") == 0 && argc == 2)
        return cli_help_check(stderr) == 0 ? EX_OK : EX_SOFTWARE;
    if (strcmp(argv[1], "--check-line") == 0 && argc == 3)
        return cli_check_cmdline(stderr, argv[2]) == 0 ? EX_OK : EX_SOFTWARE;
    if (strcmp(argv[1], "--man") == 0 && argc == 3) {
        if (cli_help_man(stdout, argv[2]) == 0)
            return EX_OK;
        fprintf(stderr, "ledger help: no man page '%s'\n", argv[2]);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cli_help_overview(stdout);
        return EX_OK;
    }
    if (argc == 2 && (cmd = find_command(argv[1])) != NULL) {
        cli_help_command(stdout, cmd);
        return EX_OK;
    }
    if (argc == 2 && argv[1][0] != '-')
        fprintf(stderr, "ledger help: no command '%s'\n", argv[1]);
    fputs("usage: ledger help [COMMAND]\n"
          "Try 'ledger help' for the list of commands.\n",
          stderr);
    return EX_USAGE;
}

/* 1 if fd is a pipe or socket whose reading end is closed. */
static int
reader_gone(int fd)
{
    struct pollfd p = {fd, POLLOUT, 0};
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return 0;
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

static void catch_fatal_signals(const char *cmd);

/* libarchive ends the process with exit(1) when it cannot allocate
 * (__archive_errx: "Fatal Internal Error in libarchive: No memory"),
 * which would read as "verification failed"; so would any library's
 * exit() inside a command. Set once the command has returned. */
static volatile sig_atomic_t command_returned;
/* the count of failed allocations when the command began; the crash
 * handler's (ULONG_MAX: it does not ask, for a command that runs until
 * stopped) */
static volatile unsigned long oom_at_start = ULONG_MAX;

static void
exit_guard(void)
{
    static const char msg[] =
        "ledger: a library ended the command (libarchive does when out of "
        "memory): exit 71\n";
    if (!command_returned) {
        (void)!write(2, msg, sizeof msg - 1);
        _exit(EX_OSERR);
    }
}

/* The commands that run until stopped: a failed allocation hours before
 * they stop is not their exit status (each request says so itself). */
static int
runs_until_stopped(const char *name)
{
    return strcmp(name, "serve") == 0 || strcmp(name, "proxy") == 0 ||
           strcmp(name, "witness") == 0;
}

static int
run_command(struct cli *c, const struct cli_command *cmd, int argc, char **argv)
{
    void *args = NULL;
    int ind, rc;
    c->cmd = cmd->name;
    c->command = cmd;
    catch_fatal_signals(cmd->name);
    cli_term_setup(c, argc, argv);
    if (cmd->flags & CLI_CMD_PAGER)
        cli_pager_start(c);
    /* a reading command's output waits until its transactions ended, so
     * that a reader of it that stops pins no snapshot (cli/gather.c) */
    if (cmd->flags & CLI_CMD_GATHER)
        cli_gather_start();
    rc = cli_parse(c, argc, argv, &args, &ind);
    /* an unknown -o is refused before the command runs, whichever it is
     * (before: each command had to ask, and `keys` printed text for any) */
    if (rc == 0 && !(cmd->flags & CLI_CMD_OWN_OUTPUT))
        rc = cli_check_output(c, NULL);
    if (rc == 0) {
        unsigned long oom = ldg_alloc_failures();
        if (!runs_until_stopped(cmd->name))
            oom_at_start = oom;
        atexit(exit_guard);
        rc = cmd->fn(c, args, argc - ind, argv + ind);
        command_returned = 1;
        /* an object built or parsed while memory ran out may lack members
         * or read as malformed: no answer given then is one (error.h) */
        if (oom_at_start != ULONG_MAX && ldg_alloc_failures() != oom &&
            rc != EX_OSERR) {
            cli_err(c,
                    "out of memory: an allocation failed while the "
                    "command ran, so what it printed%s is not to be "
                    "relied on",
                    rc == EX_OK ? "" : " and its exit status");
            rc = EX_OSERR;
        }
    } else if (rc < 0) {
        rc = EX_OK; /* --help */
    }
    cli_args_free(c, args);
    {
        int grc = cli_gather_end(c); /* (71 when out of memory) */
        if (grc != 0)
            return rc == EX_OK ? grc : rc;
    }
    /* Data that did not reach stdout is a failure: a sequence number lost
     * to a full disk must not look like success. */
    int ferr = fflush(stdout) != 0 ? errno : 0;
    if (ferr == 0 && ferror(stdout))
        ferr = -1; /* an earlier write failed */
    if (ferr != 0) {
        /* A reader that went away (| head) is a normal end (SIGPIPE is
         * ignored, see main). An earlier failed write leaves only the
         * error flag, so ask the pipe whether its reader is gone. */
        if (ferr == EPIPE || (ferr == -1 && reader_gone(1)))
            return rc;
        /* a command that met the failed write said why (and with errno
         * then, not this stale EIO): once is enough */
        if (ferr == -1 && rc == EX_IOERR)
            return rc;
        cli_err(c, "cannot write to standard output: %s",
                strerror(ferr > 0 ? ferr : EIO));
        return rc == EX_OK ? EX_IOERR : rc;
    }
    return rc;
}

#ifndef LEDGER_VERSION
#define LEDGER_VERSION "1.0.0"
#endif

/* --version: what this build is, reads and writes, and runs on. */
static void
print_version(void)
{
    char libs[512], *p, *save = NULL;
    int lo = 0, hi = 0, makes = 0, devel = 0;
    /* the store layouts, as the library knows them: the one it makes,
     * reads and appends to, and the earlier ones ledger migrate converts */
    for (int n = 1; n <= 1000; n++) {
        unsigned f = ldg_layout_info(n, NULL);
        if (f & LDG_LAYOUT_DEVEL) {
            devel = n;
            continue;
        }
        if (f & LDG_LAYOUT_MIGRATES)
            hi = n, lo = lo ? lo : n;
        if (f & LDG_LAYOUT_MAKES)
            makes = n;
    }
    ldg_lib_versions(libs, sizeof libs);
    printf("ledger %s\n", LEDGER_VERSION);
    printf("formats:   ledger format %d and %d (init makes %d: sealed "
           "entries),\n"
           "           store layout %d (ledger migrate converts %d to %d to "
           "it), bundle format %d,\n",
           LDG_FORMAT_VERSION_MIN, LDG_FORMAT_VERSION_MAX, LDG_FORMAT_VERSION,
           makes, lo, hi, LDG_BUNDLE_VERSION);
    if (devel != 0)
        printf("           store layout %d in development (no release "
               "reads it),\n",
               devel);
    printf("           c2sp.org/tlog-checkpoint, c2sp.org/tlog-proof@v1,\n"
           "           c2sp.org/tlog-tiles\n");
    printf("features:  query --grep (PCRE2), evidence bundles (tar + zstd;\n"
           "           libarchive loaded on first use), HTTP client "
           "(libcurl),\n"
           "           serve (Unix socket), witness server "
           "(libmicrohttpd),\n"
           "           ship to ClickHouse (HTTP)\n");
    printf("libraries:");
    for (p = strtok_r(libs, ",", &save); p; p = strtok_r(NULL, ",", &save))
        printf(" %s\n          ", p + (*p == ' '));
    printf(" %s\n           %s\n           %s\n           %s\n",
           ldg_query_lib_version(), ldg_http_lib_version(),
           ldg_export_lib_version(), ldg_witness_lib_version());
}

/*
 * A fatal signal while a command runs is, in the field, almost always a
 * corrupt data.mdb: LMDB has no page checksums and trusts its pages. Say
 * so, and exit 70 without a core dump, unless memory ran out before: then
 * say that, and exit 71. (verify runs its reads in a child
 * and reports such a death as a finding; see cmd_verify.) Not installed
 * under AddressSanitizer, whose own report is worth more.
 */
static char crash_msg[512];

static void
on_fatal(int sig)
{
    const char *name = sig == SIGSEGV   ? "SIGSEGV"
                       : sig == SIGBUS  ? "SIGBUS"
                       : sig == SIGABRT ? "SIGABRT"
                       : sig == SIGFPE  ? "SIGFPE"
                                        : "SIGILL";
    static const char oom[] =
        "): an allocation had failed before (out of memory), and jansson "
        "2.14 can crash after one (akheron/jansson#362); exit 71\n";
    ssize_t w;
    w = write(2, crash_msg, strlen(crash_msg));
    w = write(2, name, strlen(name));
    if (oom_at_start != ULONG_MAX && /* atomic loads: signal-safe */
        ldg_alloc_failures() != oom_at_start) {
        w = write(2, oom, sizeof oom - 1);
        (void)w;
        _exit(EX_OSERR);
    }
    w = write(2,
              "): the ledger's storage is probably corrupt; run `ledger "
              "verify --full`. If it verifies, this is a bug: please report "
              "it.\n",
              strlen("): the ledger's storage is probably corrupt; run "
                     "`ledger verify --full`. If it verifies, this is a bug: "
                     "please report it.\n"));
    (void)w;
    _exit(EX_SOFTWARE);
}

#if defined(__SANITIZE_ADDRESS__)
#define LDG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LDG_ASAN 1
#endif
#endif

static void
catch_fatal_signals(const char *cmd)
{
#ifndef LDG_ASAN
    static char altstack[65536];
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    struct sigaction sa;
    stack_t ss;
    struct rlimit rl = {0, 0};

    snprintf(crash_msg, sizeof crash_msg, "ledger %s: crashed (", cmd);
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaction(sigs[k], &sa, NULL);
    setrlimit(RLIMIT_CORE, &rl);
#else
    (void)cmd;
#endif
}

int
main(int argc, char **argv)
{
    const struct cli_command *cmd;
    struct cli c;
    int i = 1, rc;

    /* A reader that goes away (`ledger runs | head -1`) ends the output;
     * it is not an error: writes then fail with EPIPE and run_command
     * returns the command's own exit code, for every command alike. */
    signal(SIGPIPE, SIG_IGN);
    /* a control byte in recorded data is shown, not obeyed (guard.c) */
    cli_guard_install();
    cli_commands = commands;
    memset(&c, 0, sizeof c);
    c.prog = "ledger";
    c.progress = isatty(2);
    c.tty_out = isatty(1);
    c.fit = c.tty_out;
    c.columns = c.tty_out ? cli_term_columns(1) : CLI_COLUMNS;
    c.out = OUT_HUMAN;
    cli_color_parse(&c, "auto");
    /* Global options before the command. Commands accept -o and --dir too
     * (see cli/args.c). */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            c.dir_opt = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--dir=", 6) == 0) {
            c.dir_opt = argv[i] + 6;
            i++;
        } else if ((strcmp(argv[i], "-o") == 0 ||
                    strcmp(argv[i], "--output") == 0) &&
                   i + 1 < argc) {
            cli_set_output(&c, argv[i + 1]);
            i += 2;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            cli_pager_start(&c);
            cli_help_overview(stdout);
            cli_pager_end();
            return EX_OK;
        } else if (strcmp(argv[i], "--no-pager") == 0) {
            c.no_pager = 1;
            i++;
        } else if (strcmp(argv[i], "--utc") == 0) {
            cli_set_utc();
            i++;
        } else if (strcmp(argv[i], "--wide") == 0) {
            c.fit = 0;
            i++;
        } else if (strcmp(argv[i], "--color") == 0 ||
                   strncmp(argv[i], "--color=", 8) == 0) {
            if (cli_color_parse(&c, argv[i][7] ? argv[i] + 8 : NULL) < 0) {
                fprintf(stderr,
                        "ledger: --color: '%s' is not always, never "
                        "or auto\n",
                        argv[i] + 8);
                return cli_usage(NULL);
            }
            i++;
        } else if (strcmp(argv[i], "--version") == 0) {
            print_version();
            return EX_OK;
        } else if (strcmp(argv[i], "--dir") == 0 ||
                   strcmp(argv[i], "-o") == 0 ||
                   strcmp(argv[i], "--output") == 0) {
            fprintf(stderr, "ledger: option '%s' needs a value\n", argv[i]);
            return cli_usage(NULL);
        } else {
            fprintf(stderr, "ledger: unknown option '%s'\n", argv[i]);
            return cli_usage(NULL);
        }
    }
    if (i >= argc)
        return cli_usage(NULL);
    if (strcmp(argv[i], "help") == 0) {
        /* --no-pager and --color are the terminal's business: drop them
         * from what help_main reads (argv is ours to reorder) */
        int n = 1;
        cli_term_setup(&c, argc - i, argv + i);
        for (int k = i + 1; k < argc; k++)
            if (strcmp(argv[k], "--no-pager") != 0 &&
                strncmp(argv[k], "--color", 7) != 0)
                argv[i + n++] = argv[k];
        if (n == 1 || argv[i + 1][0] != '-')
            cli_pager_start(&c);
        rc = help_main(n, argv + i);
        cli_pager_end();
        return rc;
    }
    if ((cmd = find_command(argv[i])) == NULL) {
        fprintf(stderr, "ledger: unknown command '%s'\n", argv[i]);
        return cli_usage(NULL);
    }
    rc = run_command(&c, cmd, argc - i, argv + i);
    cli_pager_end(); /* wait for the pager, if one runs */
    return rc;
}
