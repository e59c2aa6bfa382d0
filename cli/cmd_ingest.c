/*
 * cmd_ingest.c — ingest (a file, a stream, through ledger serve).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "serve/serve.h"
#include "ingest/ingest.h"

enum { OPT_DIRECT = 300 };

/* -------------------------------------------------------------- ingest -- */

struct ingest_ctx {
    struct cli *c;
    const char *name;
    FILE *in;
    uint64_t size;  /* bytes of a regular input file; 0 if unknown */
    uint64_t t0_ns; /* when reading began, for the ETA */
    int verbose;
    uint64_t dups_said; /* duplicate lines named on stderr */
};

/* The most duplicate lines named without -v: a retried ingest of a
 * million lines says the first ones and how many more there were. */
#define DUPS_SAID_MAX 20

/* A line whose id was in the log: named on stderr when its event differs
 * (the input is not what was recorded under that id: likely a mistake),
 * or with -v; at most DUPS_SAID_MAX without -v. line 0: not known (an
 * answer of ledger serve, which names the id). */
static void
say_dup_line(struct ingest_ctx *ic, uint64_t line, const char *id, uint64_t seq,
             unsigned differs)
{
    char what[96], where[64] = "";
    if (!ic->verbose && differs == 0)
        return;
    if (!ic->verbose && ic->dups_said++ >= DUPS_SAID_MAX) {
        if (ic->dups_said == DUPS_SAID_MAX + 1)
            fprintf(stderr,
                    "%s: more lines with an id already in the log: not "
                    "named (-v names every one)\n",
                    ic->name);
        return;
    }
    if (line > 0)
        snprintf(where, sizeof where, ":%llu", (unsigned long long)line);
    if (differs)
        fprintf(stderr,
                "%s%s: id '%s' is already event %llu, which differs from "
                "this line in %s: not appended again\n",
                ic->name, where, id, (unsigned long long)seq,
                ldg_dup_diff_names(differs, what, sizeof what));
    else
        fprintf(stderr,
                "%s%s: id '%s' is already event %llu: not appended again\n",
                ic->name, where, id, (unsigned long long)seq);
}

static void
ingest_dup(void *ctx, uint64_t line, const char *id, uint64_t seq,
           unsigned differs)
{
    say_dup_line(ctx, line, id, seq, differs);
}

static void
ingest_error(void *ctx, uint64_t line, int col, const char *msg)
{
    struct ingest_ctx *ic = ctx;
    fprintf(stderr, "%s:%llu:%d: %s\n", ic->name, (unsigned long long)line, col,
            msg);
}

/* --acks: one line per durable commit on stdout, flushed at once, so a
 * caller (or a crash test) knows exactly what was acknowledged. */
static void
ingest_ack(void *ctx, uint64_t first, uint64_t n)
{
    (void)ctx;
    printf("{\"committed_first\":\"%llu\",\"committed_last\":\"%llu\"}\n",
           (unsigned long long)first, (unsigned long long)(first + n - 1));
    fflush(stdout);
}

static void
ingest_progress(void *ctx, uint64_t lines, uint64_t committed)
{
    struct ingest_ctx *ic = ctx;
    off_t pos;
    char eta[48] = "";

    if (!ic->c->progress)
        return;
    /* A file of known size: how far into it reading is, and an ETA. */
    pos = ic->size > 0 ? ftello(ic->in) : -1;
    if (pos > 0) {
        uint64_t el = ldg_now_mono_ns() - ic->t0_ns;
        double frac = (double)pos / (double)ic->size;
        if (frac > 1)
            frac = 1;
        if (el > 1000000000u && frac > 0 && frac < 1) {
            unsigned long left =
                (unsigned long)((double)el / 1e9 * (1 - frac) / frac + 0.5);
            snprintf(eta, sizeof eta, ", %lu:%02lu left", left / 60, left % 60);
        }
        fprintf(cli_guard_stderr_raw(),
                "\ringest: %.0f%% of %s (%llu lines read, %llu "
                "committed)%s\033[K",
                100.0 * frac, ic->name, (unsigned long long)lines,
                (unsigned long long)committed, eta);
        return;
    }
    fprintf(cli_guard_stderr_raw(),
            "\ringest: %llu lines read, %llu committed\033[K",
            (unsigned long long)lines, (unsigned long long)committed);
}

struct ingest_args {
    struct ldg_ingest_opts o;
    int acks, direct, verbose;
};
#define IA struct ingest_args
static const struct cli_opt ingest_opts[] = {
    CLI_ON('s', 0, "strict",
           "all or nothing: one invalid line and nothing is committed", IA,
           o.strict),
    CLI_NUM('b', 0, "batch", "N",
            "events per commit (1 to 1000000; default chosen by ingest)", IA,
            o.batch, 1, 1000000),
    CLI_NUM('t', 0, "threads", "N",
            "signing threads (0 to 64; 0 = one per core)", IA, o.threads, 0,
            64),
    CLI_ON('A', 0, "acks",
           "print one JSON line per durable commit on standard output", IA,
           acks),
    CLI_DIRECT_OPT(OPT_DIRECT, IA, direct),
    CLI_ON('v', 'v', "verbose",
           "say which way the events went, and name every line whose id "
           "was already in the log",
           IA, verbose),
    CLI_ARG("FILE", "JSON Lines to read (- or none: standard input)",
            CLI_OPTIONAL),
    CLI_OPT_END};

/* ingest through `ledger serve`: a thread streams the input's bytes to
 * the socket as they are (the protocol takes ingest lines, and the
 * server's line numbers are then the input's), this thread reads the
 * answers. */
struct feed {
    FILE *in;
    struct ldg_client *cl;
    uint64_t requests; /* non-blank lines sent */
    int rc;
    char err[300];
};

static void *
feed_main(void *arg)
{
    struct feed *f = arg;
    char buf[65536];
    size_t n;
    int last = '\n', blank = 1, fd = ldg_client_fd(f->cl);
    while ((n = fread(buf, 1, sizeof buf, f->in)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                f->requests += !blank;
                blank = 1;
            } else if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')
                blank = 0;
        }
        last = (unsigned char)buf[n - 1];
        if (ldg_write_all(fd, buf, n, 1) < 0) {
            snprintf(f->err, sizeof f->err, "the server went away: %s",
                     strerror(errno));
            f->rc = LDG_EIO;
            goto out;
        }
    }
    if (ferror(f->in)) {
        snprintf(f->err, sizeof f->err, "read error: %s", strerror(errno));
        f->rc = LDG_EIO;
    }
    /* a last line without its newline is a line, as for direct ingest */
    if (last != '\n') {
        f->requests += !blank;
        if (send(fd, "\n", 1, MSG_NOSIGNAL) != 1 && f->rc == 0) {
            snprintf(f->err, sizeof f->err, "the server went away");
            f->rc = LDG_EIO;
        }
    }
out:
    ldg_client_done(f->cl);
    return NULL;
}

/* Prints a server's "line N[, column C]: msg" as NAME:N:C: msg; an
 * answer about no line (the connection refused) as NAME: msg. */
static void
served_error(const char *name, const char *m)
{
    unsigned long long line = 0;
    int col = 1, used = 0;
    if (sscanf(m, "line %llu, column %d: %n", &line, &col, &used) == 2 &&
        used > 0)
        m += used;
    else if (sscanf(m, "line %llu: %n", &line, &used) == 1 && used > 0)
        m += used;
    else {
        fprintf(stderr, "%s: ledger serve: %s\n", name, m);
        return;
    }
    fprintf(stderr, "%s:%llu:%d: %s\n", name, line, col, m);
}

/* A code the line is not to blame for (docs/PROTOCOL.md): 71, 74, 75,
 * 70: the server's; the line was not recorded and may be sent again. */
static int
server_side(int code)
{
    return code != EX_DATAERR && code != EX_NOPERM;
}

/* Ends ingest's summary line: how many lines carried an id already in
 * the log (answered with that event, not appended again). */
static void
say_dups(uint64_t dups)
{
    if (dups > 0)
        fprintf(stderr,
                ", %llu events with an id already in the log (not "
                "appended again)",
                (unsigned long long)dups);
    fputc('\n', stderr);
}

/* The exit code, or -1 when no server answers (write directly). */
static int
ingest_served(struct cli *c, FILE *in, struct ingest_ctx *ic, int acks,
              int verbose, int tuned)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    struct feed f;
    pthread_t th;
    uint64_t answered = 0, committed = 0, rejected = 0, first = 0, last = 0;
    uint64_t dups = 0, key_refused = 0, unrecorded = 0;
    int rc, srv_code = 0, refused_conn = 0;

    if ((rc = cli_serve_connect(c, &cl, verbose)) != 0)
        return rc;
    if (tuned)
        cli_err(c, "--batch and --threads are a direct ingest's: ledger serve "
                   "commits as it batches (--direct writes the ledger here)");
    memset(&f, 0, sizeof f);
    f.in = in;
    f.cl = cl;
    if (pthread_create(&th, NULL, feed_main, &f) != 0) {
        ldg_client_close(cl);
        cli_err(c, "cannot start a thread");
        return EX_OSERR;
    }
    while ((rc = ldg_client_wait(cl, &ans, -1)) == 0) {
        answered++;
        if (ans.ok && ans.duplicate) {
            dups += ans.count; /* its id was in the log: nothing appended */
            if (ans.has_id)
                say_dup_line(ic, 0, ans.id, ans.seq, ans.differs);
            else if (verbose) /* a sealed batch recorded before */
                fprintf(stderr,
                        "%s: a sealed batch of %llu events is already "
                        "events %llu..%llu: not appended again\n",
                        ic->name, (unsigned long long)ans.count,
                        (unsigned long long)ans.seq,
                        (unsigned long long)(ans.seq + ans.count - 1));
        } else if (ans.ok) {
            /* one event, or a sealed batch of count */
            if (committed == 0)
                first = ans.seq;
            committed += ans.count;
            last = ans.seq + ans.count - 1;
            if (acks) {
                printf("{\"committed_first\":\"%llu\",\"committed_last\":"
                       "\"%llu\"}\n",
                       (unsigned long long)ans.seq,
                       (unsigned long long)(ans.seq + ans.count - 1));
                fflush(stdout);
            }
        } else if (server_side(ans.code)) {
            /* not the line's fault: not recorded (75 on accept: the
             * connection is refused before any line is read) */
            unrecorded++;
            if (srv_code == 0)
                srv_code = ans.code > 0 ? ans.code : EX_IOERR;
            refused_conn |= answered == 1 && strncmp(ans.error, "line ", 5);
            served_error(ic->name, ans.error);
        } else {
            rejected++;
            if (ans.code == EX_NOPERM)
                key_refused++;
            served_error(ic->name, ans.error);
        }
    }
    pthread_join(th, NULL);
    if (refused_conn && answered == 1) {
        /* refused on accept: nothing of the input was read */
        cli_err(c,
                "ledger serve refused the connection (exit %d); nothing of "
                "%s was recorded",
                srv_code, ic->name);
        ldg_client_close(cl);
        return srv_code;
    }
    if (f.rc < 0 || answered < f.requests) {
        cli_err(c,
                "ledger serve: %s after %llu of %llu answers; the lines "
                "not answered may or may not be recorded",
                f.rc < 0 ? f.err : ldg_client_errmsg(cl),
                (unsigned long long)answered, (unsigned long long)f.requests);
        rc = EX_IOERR;
    } else
        rc = srv_code != 0             ? srv_code
             : rejected == 0           ? EX_OK
             : key_refused == rejected ? EX_NOPERM
                                       : EX_DATAERR;
    if (committed > 0)
        fprintf(stderr,
                "ingest: %llu events committed through ledger serve (seq "
                "%llu..%llu, other clients' events may lie between), %llu "
                "lines rejected",
                (unsigned long long)committed, (unsigned long long)first,
                (unsigned long long)last, (unsigned long long)rejected);
    else
        fprintf(stderr, "ingest: 0 events committed, %llu lines rejected",
                (unsigned long long)rejected);
    if (unrecorded > 0)
        fprintf(stderr,
                ", %llu lines not recorded by the server's fault (code %d: "
                "send them again)",
                (unsigned long long)unrecorded, srv_code);
    say_dups(dups);
    if (c->out != OUT_HUMAN) {
        /* counts are numbers, seqs strings, as a direct ingest gives */
        cli_print_json(
            c,
            json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "committed",
                      (json_int_t)committed, "rejected", (json_int_t)rejected,
                      "not_recorded", (json_int_t)unrecorded, "duplicates",
                      (json_int_t)dups, "first_seq",
                      committed ? ldg_json_u64(first) : json_null(), "last_seq",
                      committed ? ldg_json_u64(last) : json_null()));
    }
    ldg_client_close(cl);
    return rc;
}

static int
cmd_ingest(struct cli *c, struct ingest_args *x, int npos, char **pos)
{
    struct ldg_ingest_report rep;
    struct ingest_ctx ic;
    struct ldg_ledger *l = NULL;
    FILE *in = stdin;
    int rc;

    if (x->acks)
        x->o.on_commit = ingest_ack;
    memset(&ic, 0, sizeof ic);
    ic.c = c;
    ic.name = "<stdin>";
    ic.verbose = x->verbose;
    if (npos > 0 && strcmp(pos[0], "-") != 0) {
        ic.name = pos[0];
        in = cli_fopen_input(pos[0]);
        if (in == NULL) {
            cli_err(c, "cannot open %s: %s", pos[0], strerror(errno));
            return EX_NOINPUT;
        }
    }
    {
        struct stat st; /* a regular file (or redirected stdin): its size */
        if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
            ic.size = (uint64_t)st.st_size;
        ic.in = in;
        ic.t0_ns = ldg_now_mono_ns();
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        goto out;
    if (!x->direct && !x->o.strict) {
        rc = ingest_served(c, in, &ic, x->o.on_commit != NULL, x->verbose,
                           x->o.batch != 0 || x->o.threads != 0);
        if (rc >= 0)
            goto out;
    } else if (x->verbose)
        fprintf(stderr, "ledger ingest: %s: writing %s directly\n",
                x->direct ? "--direct" : "--strict", c->dir);
    if ((rc = cli_open(c, 0, &l)) != 0)
        goto out;
    cli_expire_epochs(l);
    x->o.on_error = ingest_error;
    x->o.on_duplicate = ingest_dup;
    x->o.on_progress = ingest_progress;
    x->o.ctx = &ic;
    rc = ldg_ingest(l, in, &x->o, &rep);
    if (c->progress)
        fputs("\r\033[K", cli_guard_stderr_raw()); /* the summary follows */
    if (rc < 0 && rc != LDG_EBADINPUT &&
        !(rc == LDG_EKEY && rep.key_refused > 0))
        cli_err(c, "%s", cli_why(l, rc));
    if (rc == LDG_EFULL)
        cli_full_advice(c);
    if (x->o.strict && rep.rejected > 0)
        fprintf(stderr,
                "ingest: --strict: %llu invalid lines, nothing "
                "committed\n",
                (unsigned long long)rep.rejected);
    else if (rep.committed > 0) {
        /* another writer's commits may come between this input's */
        int among = rep.last_seq - rep.first_seq + 1 > rep.committed;
        fprintf(stderr,
                "ingest: %llu events committed (seq %llu..%llu%s), "
                "%llu lines rejected",
                (unsigned long long)rep.committed,
                (unsigned long long)rep.first_seq,
                (unsigned long long)rep.last_seq,
                among ? ", other writers' events among them" : "",
                (unsigned long long)rep.rejected);
        say_dups(rep.duplicates);
    } else {
        fprintf(stderr, "ingest: 0 events committed, %llu lines rejected",
                (unsigned long long)rep.rejected);
        say_dups(rep.duplicates);
    }
    if (c->out != OUT_HUMAN) {
        /* counts are numbers, seqs strings (README); no seqs, null, when
         * nothing was committed (seq 0 is the log's first event) */
        int any = rep.committed > 0, ex = cli_exit_code(rc);
        /* not_recorded: lines lost to a failed commit (through serve, the
         * server's count); null when a direct write stopped on one */
        cli_print_json(
            c, json_pack("{s:I, s:I, s:o, s:I, s:o, s:o}", "committed",
                         (json_int_t)rep.committed, "rejected",
                         (json_int_t)rep.rejected, "not_recorded",
                         rc < 0 && ex != EX_DATAERR && ex != EX_NOPERM
                             ? json_null()
                             : json_integer(0),
                         "duplicates", (json_int_t)rep.duplicates, "first_seq",
                         any ? ldg_json_u64(rep.first_seq) : json_null(),
                         "last_seq",
                         any ? ldg_json_u64(rep.last_seq) : json_null()));
    }
    rc = cli_exit_code(rc);
out:
    if (in != stdin)
        fclose(in);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    ingest, CLI_GROUP_EVENTS, "append events from JSON Lines",
    "Appends one event per line of FILE, each a JSON object with a type and "
    "optionally subject, run, parent, actor and body (the fields `append` "
    "takes), and id and time: \"id\" (1 to 128 bytes) makes the line "
    "idempotent, a line whose id is already in the log is not appended "
    "again (the summary counts them; a line that differs from the event "
    "recorded under its id is named on standard error as FILE:LINE, with "
    "what differs, and -v names every such line); \"time\" (RFC 3339, or "
    "nanoseconds "
    "as a string) is when it happened at the source, stored beside the "
    "ledger's own time. Lines that do not parse are reported as "
    "FILE:LINE:COLUMN on "
    "standard error and skipped, unless --strict. Events are committed in "
    "batches; a summary of what was committed goes to standard error (the "
    "seqs of the first and the last, and whether another writer's events "
    "lie between them), and an event is acknowledged only once its batch "
    "is durable.\n\n"
    "With --batch N, ingest commits every N events (writing the ledger "
    "itself; through ledger serve the server batches, and ingest says "
    "--batch and --threads are not used). Without it, events "
    "are prepared in batches of 1000 and a file is committed two batches "
    "at a time (up to four when the disk falls behind). Input "
    "that arrives "
    "over time (a pipe, a socket, a terminal) never waits for a batch to "
    "fill, whatever --batch says: what is queued goes to a commit when "
    "nothing more has arrived 2 ms after the last line, and when the "
    "oldest event not yet committed was read 10 ms ago though input keeps "
    "coming: an event is handed to a commit about 10 ms after it is read "
    "at the latest (sooner when the input goes quiet), unless the commits "
    "ahead of it have not yet freed room for it (then when they do); it "
    "is durable (and acknowledged) once that commit, and any ahead of it, "
    "is. --strict keeps everything for its one transaction. --acks "
    "prints "
    "{\"committed_first\":\"N\",\"committed_last\":\"M\"} on standard "
    "output after each durable commit (flushed at once): a producer "
    "knows exactly what is safe.\n\n"
    "When `ledger serve` serves the ledger, the lines go through it (its "
    "protocol takes ingest lines as they are, docs/PROTOCOL.md), each "
    "answered once committed (--acks then prints one line per event); "
    "--direct, or --strict (all or nothing needs one transaction of its "
    "own), writes the ledger itself; a socket it may not reach is an error "
    "(74), as for append. -v says which.",
    ingest_opts, CLI_OUT_BASIC,
    "# append every line of events.jsonl, or nothing if one is invalid\n"
    "ledger ingest --strict events.jsonl\n"
    "# from a pipe\n"
    "producer | ledger ingest -\n",
    0, {.size = sizeof(struct ingest_args), .maxpos = 1});
