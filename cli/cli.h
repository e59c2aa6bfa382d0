/*
 * cli.h — shared pieces of the ledger command-line program.
 *
 * The CLI parses arguments, calls the library, prints and exits. stdout
 * carries data only; errors go to stderr and name the cause. Exit codes:
 * 0 ok, 1 verification failed, sysexits otherwise.
 */
#ifndef LDG_CLI_H
#define LDG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"

#define EX_OK 0
#define EX_VERIFY 1
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_NOPERM 77

enum cli_output { OUT_HUMAN, OUT_JSON, OUT_JSON_PRETTY };

struct cli {
    const char *dir_opt; /* --dir, or NULL */
    char dir[4096];      /* resolved ledger directory */
    enum cli_output out;
    const char *out_name; /* the -o value as given */
    int progress;         /* stderr is a terminal */
    const char *prog;     /* "ledger" */
    const char *cmd;      /* command name, for messages */
};

/* Prints "ledger CMD: message" to stderr. */
void cli_err(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Maps a library error code to an exit code. */
int cli_exit_code(int rc);
/* Opens the ledger (read-only when ro); on failure prints and returns an
 * exit code (> 0). */
int cli_open(struct cli *c, int ro, struct ldg_ledger **out);
/* Parses -o/--output: human names accepted by a command are passed in
 * allowed (NULL-terminated); "json" and "json-pretty" always are. */
int cli_set_output(struct cli *c, const char *v);
/* Parses an unsigned decimal; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);
/* Formats ns since the epoch as RFC 3339 UTC with nanoseconds. */
void cli_time(char *buf, size_t cap, uint64_t ts_ns);
/* Writes one JSON value as a line (compact) or pretty, then frees it. */
void cli_print_json(const struct cli *c, json_t *v);
/* Progress line on stderr when it is a terminal. */
void cli_progress(void *ctx, uint64_t done, uint64_t total);
/* Commands: each gets argv starting at its own name. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_append(struct cli *c, int argc, char **argv);
int cmd_ingest(struct cli *c, int argc, char **argv);
int cmd_show(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_erase(struct cli *c, int argc, char **argv);

#endif
