/*
 * cmd_core.c — init, append, ingest, show, verify, stats, keys, erase.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "doctor/doctor.h"
#include "ingest/ingest.h"
#include "projections/projections.h"
#include "query/query.h"
#include "serve/serve.h"

static int
check_output(struct cli *c, const char *const *human)
{
    if (c->out_name == NULL || c->out != OUT_HUMAN)
        return 0;
    for (size_t i = 0; human && human[i]; i++)
        if (strcmp(c->out_name, human[i]) == 0)
            return 0;
    if (strcmp(c->out_name, "human") == 0)
        return 0;
    cli_err(c, "unknown output format '%s' (use human, json or json-pretty)",
            c->out_name);
    return EX_USAGE;
}

enum { OPT_DIRECT = 300, OPT_ID, OPT_TIME };

#define QUIET_OPT                                                              \
    CLI_FLAG('q', 'q', "quiet", "print only the sequence number (for scripts)")

/* The sequence number of a new event, labelled: "seq 33" or "seq 33:
 * what"; the bare number with -q; {"seq":"33"} with -o json. */
static void
print_seq(struct cli *c, uint64_t seq, const char *what)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)seq);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s}", "seq", b));
    else if (c->quiet)
        printf("%s\n", b);
    else
        printf("seq %s%s%s\n", b, what ? ": " : "", what ? what : "");
}

/* ---------------------------------------------------------------- init -- */

static const struct cli_opt init_opts[] = {
    CLI_VALUE('g', 0, "origin", "NAME",
              "the log's name in every checkpoint: printable ASCII without "
              "spaces or '+' (default: ledger.local/ and 12 random hex "
              "digits)"),
    CLI_VALUE('F', 0, "format", "1|2",
              "the ledger format: 2, sealed entries (one signature per key "
              "per commit); 1, a signature per event, as ledgers before "
              "format 2 (default: 2, or $LEDGER_FORMAT)"),
    CLI_VALUE('L', 0, "layout", "1|2|3|4",
              "the store layout: 4, the tree as tiles of two pages and the "
              "indexes as a key per value; 3, tiles of three pages; 2, the "
              "tree as tiles and a key per event in each index; 1, a record "
              "per tree node too, as ledgers before layout 2 (default: 4, "
              "or $LEDGER_LAYOUT; `ledger migrate` converts older layouts "
              "to newer ones)"),
    CLI_OPT_END};

const struct cli_command cli_cmd_init = {
    "init",
    CLI_GROUP_EVENTS,
    cmd_init,
    "create a ledger and its log key",
    "Creates an empty ledger in the ledger directory: the LMDB store, the "
    "log's signing key (kept 0600 in a 0700 directory) and the origin that "
    "names this log in its checkpoints. Prints the directory, the origin and "
    "the verifier key a third party needs to check checkpoints and bundles "
    "from this ledger. Refuses (exit 73) when a ledger already exists there.",
    init_opts,
    CLI_OUT_BASIC,
    "# a ledger in ./box, named for its checkpoints\n"
    "ledger init --origin box.example/ledger --dir ./box\n"
    "# a format 2 ledger (sealed entries)\n"
    "ledger init --format 2 --dir ./box2\n",
    0};

int
cmd_init(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    const char *origin = NULL, *format = getenv("LEDGER_FORMAT");
    const char *format_from = "$LEDGER_FORMAT";
    const char *layout = getenv("LEDGER_LAYOUT"),
               *layout_from = "$LEDGER_LAYOUT";
    char err[1024], vkey[512];
    struct ldg_ledger *l;
    struct ldg_options o;
    int ch, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'g')
            origin = a.value;
        else if (ch == 'F') {
            format = a.value;
            format_from = "--format";
        } else if (ch == 'L') {
            layout = a.value;
            layout_from = "--layout";
        } else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage_err(c, "unexpected argument '%s'", argv[a.ind]);
    memset(&o, 0, sizeof o);
    if (format != NULL && (format[0] != '\0' || format_from[0] == '-')) {
        if (strcmp(format, "1") != 0 && strcmp(format, "2") != 0) {
            cli_err(c, "%s: '%s' is not a ledger format (1 or 2)", format_from,
                    format);
            return EX_USAGE;
        }
        o.format = (unsigned)(format[0] - '0');
    }
    /* an empty $LEDGER_LAYOUT is unset; an empty --layout a mistake */
    if (layout != NULL && (layout[0] != '\0' || layout_from[0] == '-')) {
        if (strlen(layout) != 1 || layout[0] < '1' ||
            layout[0] > '0' + LDG_LAYOUT_NEWEST) {
            cli_err(c, "%s: '%s' is not a store layout (1 to %d)", layout_from,
                    layout, LDG_LAYOUT_NEWEST);
            return EX_USAGE;
        }
        o.layout = (unsigned)(layout[0] - '0');
    }
    /* the user's own default, never the system ledger: init makes a new
     * ledger where it was asked to */
    if ((rc = cli_resolve_dir_own(c)) != 0)
        return rc;
    rc = ldg_init(c->dir, origin, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        return cli_exit_code(rc);
    }
    /* Opened for writing, so the projections' store is made now, current
     * at the genesis event: a fresh ledger's views are current and empty
     * (read-only views would otherwise say the store is not current).
     * The ledger itself is already made and durable; if only this step
     * fails (say an I/O error in the projections' store), init has done
     * its job: say what was not done and that the next write does it, so
     * that init is not left unrepeatable ("a ledger already exists"). */
    if (cli_open(c, 0, &l) != 0) {
        cli_err(c,
                "the ledger in %s is made, but its projections were not "
                "built (above); the next command that writes builds them",
                c->dir);
        if ((rc = cli_open(c, 1, &l)) != 0)
            return rc;
    }
    ldg_verifier_key(l, vkey, sizeof vkey);
    if (c->out == OUT_HUMAN) {
        printf("dir\t%s\norigin\t%s\nverifier\t%s\n", c->dir, ldg_origin(l),
               vkey);
    } else {
        cli_print_json(c, json_pack("{s:s, s:s, s:s}", "dir", c->dir, "origin",
                                    ldg_origin(l), "verifier", vkey));
    }
    ldg_close(l);
    return EX_OK;
}

/* -------------------------------------------------------------- append -- */

static int
read_all(FILE *f, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return LDG_ENOMEM;
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap > max) {
                free(buf);
                return LDG_ETOOBIG;
            }
            cap *= 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return LDG_ENOMEM;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return LDG_EIO;
    }
    if (n > max) {
        free(buf);
        return LDG_ETOOBIG;
    }
    *out = buf;
    *len = n;
    return 0;
}

static json_t *
parse_body(struct cli *c, const char *what, const char *text, size_t len)
{
    json_error_t je;
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (b == NULL) {
        if (je.line < 1 || je.text[0] == '\0')
            cli_err(c, "%s: cannot parse the body: %s", what,
                    je.text[0] ? je.text : "out of memory");
        else
            cli_err(c, "%s:%d:%d: %s", what, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(b)) {
        cli_err(c, "%s: the body must be a JSON object", what);
        json_decref(b);
        return NULL;
    }
    return b;
}

static const struct cli_opt append_opts[] = {
    CLI_VALUE('s', 0, "subject", "S",
              "what the event is about (a model, route, pack, ...)"),
    CLI_VALUE('r', 0, "run", "R", "the run it belongs to"),
    CLI_VALUE('p', 0, "parent", "SEQ", "the event it follows from"),
    CLI_VALUE('a', 0, "actor", "NAME",
              "vouch with this actor's key (`ledger keys add`); default: "
              "the log key"),
    CLI_VALUE('b', 0, "body", "JSON", "the body, a JSON object"),
    CLI_VALUE('f', 0, "body-file", "FILE",
              "read the body from FILE (- for standard input)"),
    CLI_VALUE(OPT_ID, 0, "id", "ID",
              "idempotency key (1 to 128 bytes): if an event with this id "
              "is in the log, print its seq and append nothing"),
    CLI_VALUE(OPT_TIME, 0, "time", "TIME",
              "when it happened at the source: RFC 3339 or nanoseconds "
              "since the epoch (stored beside the ledger's own time)"),
    CLI_FLAG(OPT_DIRECT, 0, "direct",
             "write to the ledger directly even when `ledger serve` serves "
             "it"),
    CLI_FLAG('v', 'v', "verbose", "say which way the event went"),
    QUIET_OPT,
    CLI_ARG("TYPE", "the event type, e.g. run.started, model.loaded", 0),
    CLI_OPT_END};

const struct cli_command cli_cmd_append = {
    "append",
    CLI_GROUP_EVENTS,
    cmd_append,
    "append one event",
    "Appends one event of type TYPE, sealed (format 2) or signed (format "
    "1) with its actor's key, and prints its sequence number "
    "(\"seq 33\") once it is durably committed. The body is a JSON object "
    "given with "
    "--body, read from --body-file, or read from standard input when "
    "neither is given. The event is chained to the previous one, added to "
    "the Merkle tree, and the projections are updated in the same "
    "transaction.\n\n"
    "When `ledger serve` serves the ledger (its socket DIR/ledger.sock "
    "answers), the event goes through it and is committed with what other "
    "clients send; when nothing listens there, or with --direct, append "
    "writes the ledger itself. A socket it may not reach (permission "
    "denied: a server may be there) is an error (74), not a direct write "
    "behind a server's back. -v says which way the event went.",
    append_opts,
    CLI_OUT_BASIC,
    "# run r1 of pack summarize starts (the run link is the body's run)\n"
    "ledger append run.started --body "
    "'{\"run\":\"r1\",\"pack\":\"summarize\"}'\n"
    "# the body from a file, e.g. "
    "{\"model\":\"llama-3-8b\",\"state\":\"loaded\"}\n"
    "ledger append model.state --body-file body.json\n"
    "# keep the sequence number for a later --parent\n"
    "seq=$(ledger append run.step -q \\\n"
    "    --body "
    "'{\"run\":\"r1\",\"step\":\"ocr\",\"tool\":\"ocr\",\"status\":\"ok\"}')\n"
    "ledger append run.finished --parent \"$seq\" \\\n"
    "    --body '{\"run\":\"r1\",\"status\":\"ok\"}'\n",
    0};

/* Through `ledger serve` when it serves c->dir: the exit code, or -1
 * when no server answers (then the caller writes directly). */
/* An --id already in the log: the first event's seq is printed and
 * nothing appended; said on stderr with -v, and always when the event
 * given differs from the stored one (the id was reused for another). */
static void
dup_say(const char *id, uint64_t seq, unsigned differs, char *what, size_t cap)
{
    if (differs)
        fprintf(stderr,
                "ledger append: id '%s' is already event %llu, which "
                "differs from this one in %s: not appended again\n",
                id, (unsigned long long)seq,
                ldg_dup_diff_names(differs, what, cap));
    else
        fprintf(stderr,
                "ledger append: id '%s' is already event %llu: not appended "
                "again\n",
                id, (unsigned long long)seq);
}

static int
append_served(struct cli *c, const struct ldg_event_in *in, int verbose)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    int rc;

    if ((rc = cli_serve_connect(c, &cl, verbose)) != 0)
        return rc;
    rc = ldg_client_append(cl, in, in->id, in->has_time, in->time_ns);
    if (rc == LDG_EBADINPUT) { /* refused before anything was sent */
        cli_err(c, "%s", ldg_client_errmsg(cl));
        ldg_client_close(cl);
        return EX_DATAERR;
    }
    if (rc == 0)
        rc = ldg_client_wait(cl, &ans, -1);
    if (rc < 0) {
        cli_err(c, "ledger serve: %s; the event may or may not be recorded",
                ldg_client_errmsg(cl));
        rc = EX_IOERR;
    } else if (!ans.ok) {
        const char *m = ans.error;
        /* "line 1: " is the connection's line; ours has one */
        if (strncmp(m, "line 1: ", 8) == 0)
            m += 8;
        cli_err(c, "%s", m);
        rc = ans.code > 0 && ans.code < 256 ? ans.code : EX_SOFTWARE;
    } else {
        if (ans.duplicate && (verbose || ans.differs)) {
            char what[96];
            dup_say(in->id, ans.seq, ans.differs, what, sizeof what);
        }
        print_seq(c, ans.seq, NULL);
        rc = EX_OK;
    }
    ldg_client_close(cl);
    return rc;
}

int
cmd_append(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_event_in in;
    const char *body_text = NULL, *body_file = NULL;
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq;
    unsigned differs = 0;
    int ch, rc, direct = 0, verbose = 0;

    memset(&in, 0, sizeof in);
    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 's':
            in.subject = a.value;
            break;
        case 'r':
            in.run = a.value;
            break;
        case 'p':
            if (cli_parse_u64(a.value, &in.parent) < 0)
                return cli_usage_err(c,
                                     "--parent: '%s' is not a sequence "
                                     "number",
                                     a.value);
            in.has_parent = 1;
            break;
        case 'a':
            in.actor = a.value;
            break;
        case 'b':
            body_text = a.value;
            break;
        case 'f':
            body_file = a.value;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case OPT_DIRECT:
            direct = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case OPT_ID:
            in.id = a.value;
            break;
        case OPT_TIME: {
            const char *why;
            if (ldg_ingest_parse_time(a.value, &in.time_ns, &why) < 0)
                return cli_usage_err(c, "--time: '%s' %s", a.value, why);
            in.has_time = 1;
            break;
        }
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind + 1 != argc || (body_text && body_file))
        return cli_usage(c);
    in.type = argv[a.ind];
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (body_text != NULL) {
        body = parse_body(c, "--body", body_text, strlen(body_text));
    } else {
        FILE *f = stdin;
        char *text;
        size_t len;
        const char *name = body_file ? body_file : "<stdin>";
        if (f == stdin && isatty(0))
            fprintf(stderr, "ledger append: reading the body from the "
                            "terminal; end it with Ctrl-D (or give --body "
                            "JSON or --body-file FILE)\n");
        if (body_file != NULL && strcmp(body_file, "-") != 0) {
            f = fopen(body_file, "rb");
            if (f == NULL) {
                cli_err(c, "cannot open %s: %s", body_file, strerror(errno));
                return EX_NOINPUT;
            }
        }
        rc = read_all(f, LDG_BODY_MAX_DEFAULT * 4, &text, &len);
        if (f != stdin)
            fclose(f);
        if (rc < 0) {
            cli_err(c, "%s: %s", name, ldg_strerror(rc));
            return cli_exit_code(rc);
        }
        body = parse_body(c, name, text, len);
        free(text);
    }
    if (body == NULL)
        return EX_DATAERR;
    in.body = body;
    if (!direct) {
        rc = append_served(c, &in, verbose);
        if (rc >= 0)
            goto out;
    } else if (verbose)
        fprintf(stderr, "ledger append: --direct: writing %s directly\n",
                c->dir);
    if ((rc = cli_open(c, 0, &l)) != 0)
        goto out;
    rc = ldg_append_ex(l, &in, &seq, &differs);
    if (rc == LDG_EDUPLICATE) { /* idempotent: the first one's seq */
        if (verbose || differs) {
            char what[96];
            dup_say(in.id, seq, differs, what, sizeof what);
        }
        rc = 0;
    }
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        if (rc == LDG_EFULL)
            cli_full_advice(c);
        rc = cli_exit_code(rc);
        goto out;
    }
    print_seq(c, seq, NULL);
    rc = EX_OK;
out:
    json_decref(body);
    ldg_close(l);
    return rc;
}

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

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
        uint64_t el = now_ns() - ic->t0_ns;
        double frac = (double)pos / (double)ic->size;
        if (frac > 1)
            frac = 1;
        if (el > 1000000000u && frac > 0 && frac < 1) {
            unsigned long left =
                (unsigned long)((double)el / 1e9 * (1 - frac) / frac + 0.5);
            snprintf(eta, sizeof eta, ", %lu:%02lu left", left / 60, left % 60);
        }
        fprintf(stderr,
                "\ringest: %.0f%% of %s (%llu lines read, %llu "
                "committed)%s\033[K",
                100.0 * frac, ic->name, (unsigned long long)lines,
                (unsigned long long)committed, eta);
        return;
    }
    fprintf(stderr, "\ringest: %llu lines read, %llu committed\033[K",
            (unsigned long long)lines, (unsigned long long)committed);
}

static const struct cli_opt ingest_opts[] = {
    CLI_FLAG('s', 0, "strict",
             "all or nothing: one invalid line and nothing is committed"),
    CLI_VALUE('b', 0, "batch", "N",
              "events per commit (1 to 1000000; default chosen by ingest)"),
    CLI_VALUE('t', 0, "threads", "N",
              "signing threads (0 to 64; 0 = one per core)"),
    CLI_FLAG('A', 0, "acks",
             "print one JSON line per durable commit on standard output"),
    CLI_FLAG(OPT_DIRECT, 0, "direct",
             "write to the ledger directly even when `ledger serve` serves "
             "it"),
    CLI_FLAG('v', 'v', "verbose",
             "say which way the events went, and name every line whose id "
             "was already in the log"),
    CLI_ARG("FILE", "JSON Lines to read (- or none: standard input)",
            CLI_OPTIONAL),
    CLI_OPT_END};

const struct cli_command cli_cmd_ingest = {
    "ingest",
    CLI_GROUP_EVENTS,
    cmd_ingest,
    "append events from JSON Lines",
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
    "batches; a summary of what was committed goes to standard error, and "
    "an event is acknowledged only once its batch is durable.\n\n"
    "With --batch N, ingest commits every N events. Without it, events "
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
    ingest_opts,
    CLI_OUT_BASIC,
    "# append every line of events.jsonl, or nothing if one is invalid\n"
    "ledger ingest --strict events.jsonl\n"
    "# from a pipe\n"
    "producer | ledger ingest -\n",
    0};

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
        for (size_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(f->err, sizeof f->err, "the server went away: %s",
                         strerror(errno));
                f->rc = LDG_EIO;
                goto out;
            }
            off += (size_t)w;
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

/* Prints a server's "line N[, column C]: msg" as NAME:N:C: msg. */
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
    fprintf(stderr, "%s:%llu:%d: %s\n", name, line, col, m);
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
              int verbose)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    struct feed f;
    pthread_t th;
    uint64_t answered = 0, committed = 0, rejected = 0, first = 0, last = 0;
    uint64_t dups = 0, key_refused = 0;
    int rc;

    if ((rc = cli_serve_connect(c, &cl, verbose)) != 0)
        return rc;
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
            say_dup_line(ic, 0, ans.id, ans.seq, ans.differs);
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
        } else {
            rejected++;
            if (ans.code == EX_NOPERM)
                key_refused++;
            served_error(ic->name, ans.error);
        }
    }
    pthread_join(th, NULL);
    if (f.rc < 0 || answered < f.requests) {
        cli_err(c,
                "ledger serve: %s after %llu of %llu answers; the lines "
                "not answered may or may not be recorded",
                f.rc < 0 ? f.err : ldg_client_errmsg(cl),
                (unsigned long long)answered, (unsigned long long)f.requests);
        rc = EX_IOERR;
    } else
        rc = rejected == 0             ? EX_OK
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
    say_dups(dups);
    if (c->out != OUT_HUMAN) {
        /* counts are numbers, seqs strings, as a direct ingest gives */
        cli_print_json(c, json_pack("{s:I, s:I, s:I, s:o}", "committed",
                                    (json_int_t)committed, "rejected",
                                    (json_int_t)rejected, "duplicates",
                                    (json_int_t)dups, "first_seq",
                                    ldg_json_u64(first)));
    }
    ldg_client_close(cl);
    return rc;
}

int
cmd_ingest(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct ingest_ctx ic;
    struct ldg_ledger *l = NULL;
    FILE *in = stdin;
    uint64_t v;
    int ch, rc, direct = 0, verbose = 0;

    memset(&o, 0, sizeof o);
    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 's':
            o.strict = 1;
            break;
        case 'A':
            o.on_commit = ingest_ack;
            break;
        case 'b':
            if (cli_parse_u64(a.value, &v) < 0 || v == 0 || v > 1000000)
                return cli_usage_err(c, "--batch: 1 to 1000000");
            o.batch = (size_t)v;
            break;
        case 't':
            if (cli_parse_u64(a.value, &v) < 0 || v > 64)
                return cli_usage_err(c, "--threads: 0 to 64");
            o.threads = (unsigned)v;
            break;
        case OPT_DIRECT:
            direct = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind + 1 < argc)
        return cli_usage(c);
    memset(&ic, 0, sizeof ic);
    ic.c = c;
    ic.name = "<stdin>";
    ic.verbose = verbose;
    if (a.ind < argc && strcmp(argv[a.ind], "-") != 0) {
        ic.name = argv[a.ind];
        in = fopen(argv[a.ind], "rb");
        if (in == NULL) {
            cli_err(c, "cannot open %s: %s", argv[a.ind], strerror(errno));
            return EX_NOINPUT;
        }
    }
    {
        struct stat st; /* a regular file (or redirected stdin): its size */
        if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
            ic.size = (uint64_t)st.st_size;
        ic.in = in;
        ic.t0_ns = now_ns();
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        goto out;
    if (!direct && !o.strict) {
        rc = ingest_served(c, in, &ic, o.on_commit != NULL, verbose);
        if (rc >= 0)
            goto out;
    } else if (verbose)
        fprintf(stderr, "ledger ingest: %s: writing %s directly\n",
                direct ? "--direct" : "--strict", c->dir);
    if ((rc = cli_open(c, 0, &l)) != 0)
        goto out;
    o.on_error = ingest_error;
    o.on_duplicate = ingest_dup;
    o.on_progress = ingest_progress;
    o.ctx = &ic;
    rc = ldg_ingest(l, in, &o, &rep);
    if (c->progress)
        fputs("\r\033[K", stderr); /* the summary follows */
    if (rc < 0 && rc != LDG_EBADINPUT &&
        !(rc == LDG_EKEY && rep.key_refused > 0))
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
    if (rc == LDG_EFULL)
        cli_full_advice(c);
    if (o.strict && rep.rejected > 0)
        fprintf(stderr,
                "ingest: --strict: %llu invalid lines, nothing "
                "committed\n",
                (unsigned long long)rep.rejected);
    else if (rep.committed > 0) {
        fprintf(stderr,
                "ingest: %llu events committed (seq %llu..%llu), "
                "%llu lines rejected",
                (unsigned long long)rep.committed,
                (unsigned long long)rep.first_seq,
                (unsigned long long)(rep.first_seq + rep.committed - 1),
                (unsigned long long)rep.rejected);
        say_dups(rep.duplicates);
    } else {
        fprintf(stderr, "ingest: 0 events committed, %llu lines rejected",
                (unsigned long long)rep.rejected);
        say_dups(rep.duplicates);
    }
    if (c->out != OUT_HUMAN) {
        char d[24]; /* counts are numbers, seqs strings (README) */
        snprintf(d, sizeof d, "%llu", (unsigned long long)rep.first_seq);
        cli_print_json(c,
                       json_pack("{s:I, s:I, s:I, s:s}", "committed",
                                 (json_int_t)rep.committed, "rejected",
                                 (json_int_t)rep.rejected, "duplicates",
                                 (json_int_t)rep.duplicates, "first_seq", d));
    }
    rc = cli_exit_code(rc);
out:
    if (in != stdin)
        fclose(in);
    ldg_close(l);
    return rc;
}

/* ---------------------------------------------------------------- show -- */

/* One event in full: the shape `ledger query -o json` prints (one shape
 * for scripts everywhere), plus the actor's public key. */
static json_t *
event_json(struct ldg_txn *t, const struct ldg_event *ev)
{
    json_t *o = ldg_query_event_json(t, ev);
    struct ldg_keyinfo ki;
    char hex[65];
    if (o != NULL && ldg_key_info(t, ev->actor, &ki) == 0) {
        ldg_hex(hex, ki.pub, 32);
        json_object_set_new(o, "actor_public_key", json_string(hex));
    }
    return o;
}

static const struct cli_opt show_opts[] = {
    CLI_FLAG('r', 0, "raw",
             "write the stored entry's bytes (msgpack) instead of text"),
    CLI_ARG("SEQ", "the event's sequence number", 0), CLI_OPT_END};

const struct cli_command cli_cmd_show = {
    "show",
    CLI_GROUP_EVENTS,
    cmd_show,
    "one event in full",
    "Prints one event: its sequence number, time, type, subject, run, "
    "actor and the actor's public key, parent, hashes, and its body (or "
    "that the body was erased, and by which event). -o json prints the "
    "shape `ledger query -o json` prints.",
    show_opts,
    CLI_OUT_BASIC,
    "ledger show 12\n"
    "ledger show 12 -o json-pretty\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_show(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    uint64_t seq;
    int ch, rc, raw = 0;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'r')
            raw = 1;
        else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if ((rc = cli_one_seq(c, argc, argv, a.ind, "the event to show", &seq)))
        return rc;
    if ((rc = check_output(c, NULL)) != 0)
        return rc;
    if (raw && c->tty_out) {
        cli_err(c, "--raw writes the binary entry; refusing to write it to "
                   "a terminal (redirect it to a file or a pipe)");
        return EX_USAGE;
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    rc = ldg_event_get(t, seq, &ev);
    if (rc < 0) {
        char what[64];
        snprintf(what, sizeof what, "event %llu was pruned",
                 (unsigned long long)seq);
        if (rc == LDG_ENOTFOUND)
            cli_err(c, "no event %llu", (unsigned long long)seq);
        else if (rc == LDG_EPRUNED)
            cli_pruned_seq(c, l, seq, what);
        else
            cli_err(c, "event %llu: %s", (unsigned long long)seq,
                    ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    if (raw) {
        uint64_t bad;
        char what[512];
        /* raw bytes carry no mark: say so, when they are this event's */
        if (cli_finding(c, l, &bad, what, sizeof what,
                        "--raw prints the entry's bytes alone") &&
            bad == seq)
            cli_err(c,
                    "the bytes below are event %llu's, which ledger "
                    "verify found altered or not verifiable",
                    (unsigned long long)seq);
        fwrite(ev.entry, 1, ev.entry_len, stdout);
    } else {
        json_t *o = event_json(t, &ev), *v;
        uint64_t bad;
        char what[512];
        /* what `ledger verify` found, beside the data it found altered */
        if (cli_finding(c, l, &bad, what, sizeof what, NULL) && bad == seq)
            json_object_set_new(o, "verify", json_sprintf("failed: %s", what));
        if (c->out != OUT_HUMAN) {
            cli_print_json(c, o);
            goto done;
        }
        const char *k;
        json_object_foreach(o, k, v)
        {
            if (json_is_string(v)) {
                printf("%-16s %s\n", k, json_string_value(v));
            } else if (strcmp(k, "source") == 0) {
                /* who submitted it, beside the signer above: one line */
                printf(
                    "%-16s uid %lld gid %lld pid %lld", k,
                    (long long)json_integer_value(json_object_get(v, "uid")),
                    (long long)json_integer_value(json_object_get(v, "gid")),
                    (long long)json_integer_value(json_object_get(v, "pid")));
                if (json_is_string(json_object_get(v, "exe")))
                    printf(" exe %s",
                           json_string_value(json_object_get(v, "exe")));
                if (json_is_string(json_object_get(v, "unit")))
                    printf(" unit %s",
                           json_string_value(json_object_get(v, "unit")));
                putchar('\n');
            } else {
                char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS |
                                            JSON_ENCODE_ANY);
                printf("%-16s %s\n", k, s ? s : "?");
                free(s);
            }
        }
        json_decref(o);
    }
done:
    rc = EX_OK;
out:
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

/* -------------------------------------------------------------- verify -- */

static int
read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    int rc;
    if (f == NULL)
        return LDG_ENOTFOUND;
    rc = read_all(f, max, out, len);
    fclose(f);
    return rc;
}

static const struct cli_opt verify_opts[] = {
    CLI_VALUE('f', 0, "from", "SEQ",
              "start at event SEQ (implies a full check from there)"),
    CLI_FLAG('F', 0, "full",
             "check everything from event 0, not only what was appended "
             "since the last verify: also every page of data.mdb as "
             "stored, every index key by key, and the projections' stored "
             "state and signed notes against the log"),
    CLI_FLAG('N', 0, "new",
             "check only the events appended since the last recorded "
             "verification, at what they cost (what `ledger doctor` does "
             "on demand and `serve --verify-every` on an interval): chain "
             "link, signatures or seals, bodies, tree consistency, the "
             "checkpoints they brought"),
    CLI_VALUE('t', 0, "trusted", "FILE",
              "also check that this log extends FILE, a checkpoint saved "
              "earlier (`ledger checkpoint > FILE`)"),
    CLI_VALUE('W', 0, "witness-key", "VKEY",
              "with --trusted: a witness's cosigner key whose cosignature "
              "on FILE counts toward --quorum (repeatable; FILE from "
              "`ledger checkpoint --cosigned`)"),
    CLI_VALUE('Q', 0, "quorum", "K",
              "with --witness-key: at least K of those witnesses must have "
              "cosigned FILE (default 1)"),
    CLI_OPT_END};

const struct cli_command cli_cmd_verify = {
    "verify",
    CLI_GROUP_EVENTS,
    cmd_verify,
    "re-check signatures, chain and tree",
    "Re-checks the ledger: that each event's actor key vouched for it (in "
    "a format 2 ledger its seal: the claim's digest in the seal's root, "
    "one signature per seal; in format 1 the event's own signature), the "
    "hash chain, the bodies against their hashes, the Merkle tree "
    "against the signed checkpoints, the key registry and the indexes. "
    "Without --full, signatures and indexes are checked only for events "
    "appended since the last verify (the rest from event 0), and it says "
    "so. It reads only (a write-protected copy works) and records its "
    "result afterwards where it can; a failure is remembered and fails "
    "every later verify until a --full one passes. A projection state "
    "that differs from the log's fails --full too (`ledger rebuild` "
    "makes it again). Exits 0 when "
    "everything holds and 1 with the first failure named when something "
    "does not.",
    verify_opts,
    CLI_OUT_BASIC,
    "ledger verify\n"
    "# only what was appended since the last verification (cheap)\n"
    "ledger verify --new\n"
    "# everything, and that the log still extends a checkpoint kept "
    "elsewhere\n"
    "ledger verify --full --trusted saved-checkpoint.txt\n"
    "# and that 2 of these 3 witnesses cosigned it\n"
    "ledger verify --trusted c.txt --quorum 2 --witness-key \"$W1\" \\\n"
    "    --witness-key \"$W2\" --witness-key \"$W3\"\n",
    0};

/* Verification reads only: the ledger is opened read-only (it may be an
 * auditor's write-protected copy) and the result recorded afterwards,
 * where the files allow it (ldg_verify_record_dir). Returns 0 or, with
 * why filled, the reason it could not. */
static int
record_result(struct cli *c, const struct ldg_verify_report *r, char *why,
              size_t cap)
{
    int rc = ldg_verify_record_dir(c->dir, NULL, r, why, cap);
    if (rc < 0 && why[0] == '\0')
        snprintf(why, cap, "%s", ldg_strerror(rc));
    return rc;
}

/* What the verifying child has done, in memory shared with its parent
 * (ldg_run_isolated): if a corrupt page kills the child, the parent says
 * how far it got. NULL when verifying in this process. */
static struct ldg_isolation *vshared;

static void
verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    ldg_isolation_progress(vshared, done, total);
    cli_progress(ctx, done, total);
}

static int verify_run(struct cli *c, int argc, char **argv);

struct verify_call {
    struct cli *c;
    int argc;
    char **argv;
};

/* verify_run with its output kept until it is done (cli/gather.c): in the
 * process that verifies, which is not the command's when it forks. */
static int
verify_gathered(void *ctx, struct ldg_isolation *iso)
{
    struct verify_call *v = ctx;
    int rc, err;
    vshared = iso;
    cli_gather_start();
    rc = verify_run(v->c, v->argc, v->argv);
    if ((err = cli_gather_end()) != 0) {
        cli_err(v->c, "cannot keep the output until the command is done: %s",
                strerror(err));
        if (rc == EX_OK)
            rc = EX_IOERR;
    }
    return rc;
}

/*
 * Verification is the one command that must survive any file: the checks
 * run in a child process (ldg_run_isolated), and a child killed by what it
 * read is a finding, exit 1. LEDGER_VERIFY_INPROCESS=1 runs it in this
 * process (for debuggers).
 */
int
cmd_verify(struct cli *c, int argc, char **argv)
{
    const char *inproc = getenv("LEDGER_VERIFY_INPROCESS");
    struct verify_call v = {c, argc, argv};
    char what[512];
    int st = 0, rc;

    if ((inproc != NULL && strcmp(inproc, "1") == 0) ||
        (argc > 1 &&
         (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)))
        return verify_gathered(&v, NULL);
    rc = ldg_run_isolated(verify_gathered, &v, &st, what, sizeof what);
    if (rc == LDG_EIO) {
        cli_err(c, "%s", what);
        return EX_OSERR;
    }
    if (rc == 0) {
        if (what[0] != '\0') /* stopped from outside */
            cli_err(c, "%s", what);
        return st;
    }
    /* the child parsed the options; -o json is looked for again here */
    for (int i = 1; i < argc; i++)
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
            i + 1 < argc)
            cli_set_output(c, argv[i + 1]);
        else if (strncmp(argv[i], "--output=", 9) == 0)
            cli_set_output(c, argv[i] + 9);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:b, s:s}", "ok", 0, "error", what));
    cli_err(c, "FAILED: %s", what);
    return EX_VERIFY;
}

/* verify --full's check of the projections' stored records
 * (ldg_projections_check_stored). Returns 0 when they are what the log
 * gives, 1 with r->what naming the first difference (or a projection page
 * that cannot be read), < 0 on another error. *diffs (the caller's) gets
 * the differences, *checked the projections checked. */
static int
check_projections(struct cli *c, struct ldg_ledger *l,
                  struct ldg_verify_report *r, json_t **diffs,
                  unsigned *checked)
{
    uint64_t n = 0;
    json_t *d;
    char *key = NULL;
    int rc =
        ldg_projections_check_stored(l, cli_progress, c, diffs, &n, checked);
    if (c->progress)
        cli_progress_done(c);
    if (rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
        snprintf(r->what, sizeof r->what,
                 "storage corrupt: the projections' records cannot be read "
                 "(%s); `ledger rebuild` makes them again from the log",
                 ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        return 1;
    }
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    d = json_array_get(*diffs, 0);
    if (json_is_string(json_object_get(d, "key")))
        key = json_dumps(json_object_get(d, "key"), JSON_ENCODE_ANY);
    snprintf(r->what, sizeof r->what,
             "projection %s%s%s: %s (%llu difference%s between the stored "
             "state and the one the log gives; the log itself verified; "
             "`ledger rebuild` makes the state again from the log)",
             json_string_value(json_object_get(d, "projection")),
             key ? ", record " : "", key ? key : "",
             json_string_value(json_object_get(d, "what")),
             (unsigned long long)n, n == 1 ? "" : "s");
    free(key);
    return 1;
}

/* What `ledger verify` was asked (verify_parse) and what it found. */
struct vrun {
    const char *trusted;
    uint64_t from, quorum;
    unsigned flags;
    int only_new;
    const char *wkeys[32];
    int wok[32];
    size_t nw;
    char *note; /* the trusted checkpoint's text */
    size_t note_len;
    struct ldg_verify_report r;
    struct ldg_trusted_report tr;
    int trc, prc;
    json_t *pdiffs;
    unsigned pchecked;
    char nowrite[600];
};

/* The options: 0, or the exit code of a usage error. */
static int
verify_parse(struct cli *c, int argc, char **argv, struct vrun *v)
{
    struct cli_args a;
    int ch;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'W':
            if (v->nw == 32)
                return cli_usage_err(c, "--witness-key: at most 32");
            v->wkeys[v->nw++] = a.value;
            break;
        case 'Q':
            if (cli_parse_u64(a.value, &v->quorum) < 0 || v->quorum == 0)
                return cli_usage_err(c, "--quorum: '%s' is not a count > 0",
                                     a.value);
            break;
        case 'f':
            if (cli_parse_u64(a.value, &v->from) < 0)
                return cli_usage_err(c,
                                     "--from: '%s' is not a sequence "
                                     "number",
                                     a.value);
            break;
        case 'F':
            v->flags |= LDG_VERIFY_FULL;
            break;
        case 'N':
            v->only_new = 1;
            break;
        case 't':
            v->trusted = a.value;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage_err(c, "unexpected argument '%s'", argv[a.ind]);
    if (v->only_new && (v->flags != 0 || v->from != 0 || v->trusted != NULL))
        return cli_usage_err(c, "--new checks only new events: it takes no "
                                "--full, --from or --trusted");
    if ((v->nw > 0 || v->quorum > 0) && v->trusted == NULL)
        return cli_usage_err(c, "--witness-key and --quorum need --trusted");
    if (v->quorum > 0 && v->nw == 0)
        return cli_usage_err(c, "--quorum needs --witness-key");
    if (v->nw > 0 && v->quorum == 0)
        v->quorum = 1;
    if (v->quorum > v->nw)
        return cli_usage_err(c, "--quorum %llu: only %zu witness keys given",
                             (unsigned long long)v->quorum, v->nw);
    return 0;
}

/* --from SEQ must name an event: 0, or the exit code. */
static int
verify_check_from(struct cli *c, struct ldg_ledger *l, struct vrun *v)
{
    uint64_t size = 0;
    int rc;
    if (v->from == 0)
        return 0;
    if ((rc = ldg_size(l, &size)) < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    if (v->from >= size) {
        /* Not "0 events verified": nothing there was checked. */
        cli_err(c,
                "--from %llu: no such event (the log has events "
                "0..%llu)",
                (unsigned long long)v->from,
                (unsigned long long)(size ? size - 1 : 0));
        return EX_NOINPUT;
    }
    v->flags |= LDG_VERIFY_FULL; /* an explicit start overrides the saved */
    return 0;
}

/* The checks themselves: ldg_verify's code (LDG_ETAMPER also when the
 * projections' records differ), v->nowrite "" when the result is
 * recorded or need not be. */
static int
verify_checks(struct cli *c, struct ldg_ledger *l, struct vrun *v)
{
    int rc;
    if (v->only_new) {
        /* records itself, where the files allow it */
        rc = ldg_doctor_verify_new(l, UINT64_MAX, &v->r, v->nowrite,
                                   sizeof v->nowrite);
        if (v->r.recorded || v->r.finding_stands ||
            (rc == 0 && v->r.checked == 0))
            v->nowrite[0] = '\0';
        else if (v->nowrite[0] == '\0')
            snprintf(v->nowrite, sizeof v->nowrite, "not recorded");
        return rc;
    }
    rc = ldg_verify(l, v->flags, v->from, &v->r, verify_progress, c);
    /* --full: the projections' records the views answer from, too */
    if (rc == 0 && v->r.full)
        v->prc = check_projections(c, l, &v->r, &v->pdiffs, &v->pchecked);
    if (v->prc < 0) {
        rc = v->prc;
    } else if (v->prc > 0) {
        /* the log held; what failed is stored state the log makes again
         * (`ledger rebuild`): not recorded as a passing full verification */
        rc = LDG_ETAMPER;
        v->nowrite[0] = '\0';
    } else if ((rc == 0 || rc == LDG_ETAMPER) && !v->r.finding_stands &&
               record_result(c, &v->r, v->nowrite, sizeof v->nowrite) == 0)
        v->nowrite[0] = '\0';
    else if (v->r.finding_stands)
        v->nowrite[0] = '\0';
    return rc;
}

/* The k-of-n witness policy over the trusted file's cosignatures, into
 * v->trc and v->tr.what: 0, or the exit code of malformed keys. */
static int
verify_quorum(struct cli *c, struct vrun *v)
{
    int got = ldg_cosig_count(v->note, v->note_len, v->wkeys, v->nw, v->wok);
    size_t o = 0;
    char who[1024] = "";
    if (got == LDG_EBADINPUT) {
        cli_err(c,
                "--witness-key or %s: malformed (a witness key is "
                "what `ledger witness key` prints)",
                v->trusted);
        return EX_DATAERR;
    }
    for (size_t i = 0; i < v->nw && got >= 0; i++)
        o += (size_t)snprintf(who + o, o < sizeof who ? sizeof who - o : 0,
                              "%s%.*s %s", i ? ", " : "",
                              (int)strcspn(v->wkeys[i], "+"), v->wkeys[i],
                              v->wok[i] ? "cosigned" : "did not cosign");
    if (got < 0) {
        v->trc = LDG_ETAMPER;
        snprintf(v->tr.what, sizeof v->tr.what,
                 "a cosignature on %s by one of the witness keys does "
                 "not verify (forged)",
                 v->trusted);
    } else if ((uint64_t)got < v->quorum) {
        v->trc = LDG_ETAMPER;
        snprintf(v->tr.what, sizeof v->tr.what,
                 "witness quorum not met: %d of %zu cosigned, %llu "
                 "needed (%s)",
                 got, v->nw, (unsigned long long)v->quorum, who);
    } else {
        size_t tl = strlen(v->tr.what);
        snprintf(v->tr.what + tl, sizeof v->tr.what - tl,
                 "; witness quorum met: %d of %zu cosigned, %llu needed "
                 "(%s)",
                 got, v->nw, (unsigned long long)v->quorum, who);
    }
    return 0;
}

/* -o json: the result as one object. */
static void
verify_json(struct cli *c, struct ldg_ledger *l, const struct vrun *v, int rc)
{
    const struct ldg_verify_report *r = &v->r;
    char n0[24], b[24], t1[32];
    struct ldg_horizon h;
    json_t *o;

    snprintf(n0, sizeof n0, "%llu", (unsigned long long)r->from);
    snprintf(b, sizeof b, "%llu", (unsigned long long)r->to);
    o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:b}", "ok",
                  rc == 0 && v->trc == 0, "mode",
                  v->only_new ? "new-only"
                  : r->full   ? "full"
                              : "new",
                  "from", n0, "to", b, "checkpoints",
                  (json_int_t)r->checkpoints, "erased", (json_int_t)r->erased,
                  "recorded", v->nowrite[0] == '\0');
    if (o != NULL && r->horizon > 0)
        json_object_set_new(o, "erased_pruned",
                            json_integer((json_int_t)r->erased_pruned));
    /* a pruned ledger (whatever the mode checked) */
    if (ldg_horizon(l, &h) == 0) {
        char hs[24], hx[65];
        snprintf(hs, sizeof hs, "%llu", (unsigned long long)h.seq);
        ldg_hex(hx, h.archive, 32);
        ldg_time_rfc3339_ns(t1, sizeof t1, h.pruned_ns);
        json_object_set_new(o, "pruned",
                            json_pack("{s:s, s:s, s:s}", "horizon", hs, "at",
                                      t1, "archive_sha256", hx));
        ldg_horizon_release(&h);
    }
    if (r->full_ts_ns != 0) {
        char fs[24];
        snprintf(fs, sizeof fs, "%llu", (unsigned long long)r->full_size);
        ldg_time_rfc3339_ns(t1, sizeof t1, r->full_ts_ns);
        json_object_set_new(o, "last_full",
                            json_pack("{s:s, s:s}", "size", fs, "time", t1));
    }
    if (rc == LDG_ETAMPER && v->prc > 0) {
        json_object_set_new(o, "error", json_string(r->what));
    } else if (rc == LDG_ETAMPER) {
        char bs[24];
        snprintf(bs, sizeof bs, "%llu", (unsigned long long)r->bad_seq);
        ldg_time_rfc3339_ns(t1, sizeof t1, r->found_ts_ns);
        json_object_set_new(o, "bad_seq", json_string(bs));
        json_object_set_new(o, "error", json_string(r->what));
        json_object_set_new(o, "found", json_string(t1));
        json_object_set_new(o, "standing", json_boolean(r->finding_stands));
    }
    if (r->full && (rc == 0 || v->prc > 0)) {
        json_t *names = json_array();
        for (unsigned bit = 1; bit <= LDG_PROJECTIONS_ALL; bit <<= 1)
            if (v->pchecked & bit)
                json_array_append_new(names,
                                      json_string(ldg_projections_name(bit)));
        json_object_set_new(o, "projections",
                            json_pack("{s:o, s:O}", "checked", names,
                                      "differences",
                                      v->pdiffs ? v->pdiffs : json_null()));
    }
    if (v->note != NULL && rc == 0)
        json_object_set_new(
            o, "trusted",
            json_pack("{s:b, s:s}", "ok", v->trc == 0, "detail", v->tr.what));
    cli_print_json(c, o);
}

/* ok / FAILED in colour on a colour terminal */
#define OKP cli_paint(c->color, CLI_PAINT_OK)
#define OFFO cli_paint(c->color, CLI_PAINT_OFF)

/* The human "ok" line of a verification that passed. */
static void
verify_ok_line(struct cli *c, struct ldg_ledger *l, const struct vrun *v)
{
    const struct ldg_verify_report *r = &v->r;
    /* format 2: one signature per seal, every seal checked from 0 */
    int sealed = ldg_format(l) >= 2;
    const char *sigs = sealed ? "seals" : "signatures";
    char pnote[96] = "";
    if (v->pchecked)
        snprintf(pnote, sizeof pnote, "%d stored projections match the log",
                 __builtin_popcount(v->pchecked));
    else
        snprintf(pnote, sizeof pnote,
                 "no projection state is stored as current (views "
                 "compute it from the log)");
    if (v->only_new && r->checked == 0)
        cli_printf_fit(c, 4,
                       "%sok%s: nothing new since seq %llu (the last "
                       "recorded verification)\n",
                       OKP, OFFO, (unsigned long long)(r->to ? r->to - 1 : 0));
    else if (v->only_new)
        cli_printf_fit(
            c, 4,
            "%sok%s: checked %llu new event%s %llu..%llu (chain link, %s, "
            "bodies, tree consistency, checkpoints); their indexes%s are "
            "left to "
            "`ledger verify`\n",
            OKP, OFFO, (unsigned long long)r->checked,
            r->checked == 1 ? "" : "s", (unsigned long long)r->from,
            (unsigned long long)(r->to - 1), sigs,
            r->from > 0 ? " and the events before them" : "");
    else if (r->full && r->horizon > 0)
        cli_printf_fit(c, 4,
                       "%sok%s: full verification of the %llu kept events "
                       "(%llu..%llu) and the tree over all %llu: "
                       "%s, bodies, chain, tree, %llu checkpoint%s; "
                       "%llu erased bodies; %s\n",
                       OKP, OFFO, (unsigned long long)(r->to - r->horizon),
                       (unsigned long long)r->horizon,
                       (unsigned long long)(r->to ? r->to - 1 : 0),
                       (unsigned long long)r->to, sigs,
                       (unsigned long long)r->checkpoints,
                       r->checkpoints == 1 ? "" : "s",
                       (unsigned long long)r->erased, pnote);
    else if (r->full)
        cli_printf_fit(
            c, 4,
            "%sok%s: full verification of %llu event%s (0..%llu): "
            "%s, bodies, chain, tree, %llu checkpoint%s; "
            "%llu erased bodies; %s\n",
            OKP, OFFO, (unsigned long long)r->to, r->to == 1 ? "" : "s",
            (unsigned long long)(r->to ? r->to - 1 : 0), sigs,
            (unsigned long long)r->checkpoints, r->checkpoints == 1 ? "" : "s",
            (unsigned long long)r->erased, pnote);
    else if (r->checked == 0)
        cli_printf_fit(
            c, 4,
            "%sok%s: nothing new since seq %llu (chain, tree, bodies and "
            "%llu checkpoint%s re-checked from %llu)\n",
            OKP, OFFO, (unsigned long long)(r->to ? r->to - 1 : 0),
            (unsigned long long)r->checkpoints, r->checkpoints == 1 ? "" : "s",
            (unsigned long long)r->horizon);
    else
        cli_printf_fit(
            c, 4,
            "%sok%s: checked %llu new event%s %llu..%llu (%s, "
            "indexes); chain, tree, bodies%s and %llu checkpoint%s "
            "re-checked from %llu; %llu erased bodies\n",
            OKP, OFFO, (unsigned long long)r->checked,
            r->checked == 1 ? "" : "s", (unsigned long long)r->from,
            (unsigned long long)(r->to - 1), sealed ? "claims" : "signatures",
            sealed ? ", seals" : "", (unsigned long long)r->checkpoints,
            r->checkpoints == 1 ? "" : "s", (unsigned long long)r->horizon,
            (unsigned long long)r->erased);
}

/* The human report of a verification that passed: the ok line, what it
 * did not re-check, the trusted checkpoint, the pruned past. */
static void
verify_human(struct cli *c, struct ldg_ledger *l, const struct vrun *v)
{
    const struct ldg_verify_report *r = &v->r;
    int sealed = ldg_format(l) >= 2;
    char t1[32];
    struct ldg_horizon h;

    verify_ok_line(c, l, v);
    /* (the erased bodies counted are the kept events', as stats counts
     * them; a body.erased kept for a pruned event is said apart) */
    if (r->erased_pruned > 0)
        cli_printf_fit(c, 4,
                       "    and %llu body.erased kept for pruned events "
                       "(their bodies left with them, into the archive)\n",
                       (unsigned long long)r->erased_pruned);
    if (!v->only_new && !r->full && r->from > 0 &&
        (r->horizon == 0 || r->from > r->horizon)) {
        char last[128], range[64];
        if (r->full_ts_ns != 0) {
            cli_when(t1, sizeof t1, r->full_ts_ns);
            snprintf(
                last, sizeof last, "last full verification at seq %llu, %s",
                (unsigned long long)(r->full_size ? r->full_size - 1 : 0), t1);
        } else {
            snprintf(last, sizeof last, "never fully verified");
        }
        if (r->horizon > 0)
            snprintf(range, sizeof range, "the kept events %llu..%llu",
                     (unsigned long long)r->horizon,
                     (unsigned long long)(r->from - 1));
        else
            snprintf(range, sizeof range, "events before %llu",
                     (unsigned long long)r->from);
        cli_printf_fit(c, 4,
                       "%s; %s of %s were not re-checked (`ledger "
                       "verify --full` does)\n",
                       last, sealed ? "claims, keys and indexes" : "signatures",
                       range);
    }
    if (v->note != NULL)
        cli_printf_fit(c, 4, "%sok%s: %s\n", OKP, OFFO, v->tr.what);
    if (r->horizon > 0 && ldg_horizon(l, &h) == 0) {
        char hx[65], earlier[80] = "";
        ldg_hex(hx, h.archive, 32);
        cli_when(t1, sizeof t1, h.pruned_ns);
        if (h.first > 0)
            snprintf(earlier, sizeof earlier,
                     " (0..%llu into earlier archives)",
                     (unsigned long long)(h.first - 1));
        cli_printf_fit(c, 4,
                       "events %llu..%llu pruned at %s into archive "
                       "%s%s; verified from %llu (and the tree over "
                       "the pruned events' kept hashes, with their "
                       "checkpoints)\n",
                       (unsigned long long)h.first,
                       (unsigned long long)(h.seq - 1), t1, hx, earlier,
                       (unsigned long long)h.seq);
        ldg_horizon_release(&h);
    }
}
#undef OKP
#undef OFFO

/* The verdict: EX_OK, or EX_VERIFY with the failure said. */
static int
verify_report(struct cli *c, struct ldg_ledger *l, const struct vrun *v, int rc)
{
    const char *failp = cli_paint(c->color_err, CLI_PAINT_FAIL);
    const char *offe = cli_paint(c->color_err, CLI_PAINT_OFF);
    char t1[32];

    if (c->out != OUT_HUMAN)
        verify_json(c, l, v, rc);
    if (v->nowrite[0] != '\0')
        cli_err(c,
                "note: could not record this result in the ledger (%s); "
                "it is read-only here",
                v->nowrite);
    if (rc == LDG_ETAMPER && v->r.finding_stands) {
        cli_when(t1, sizeof t1, v->r.found_ts_ns);
        cli_err(c,
                "%sFAILED%s: a verification at %s found: %s; this stands "
                "until `ledger verify --full` passes",
                failp, offe, t1, v->r.what);
        return EX_VERIFY;
    }
    if (rc == LDG_ETAMPER || v->trc == LDG_ETAMPER) {
        cli_err(c, "%sFAILED%s: %s", failp, offe,
                rc == LDG_ETAMPER ? v->r.what : v->tr.what);
        return EX_VERIFY;
    }
    if (c->out == OUT_HUMAN)
        verify_human(c, l, v);
    return EX_OK;
}

static int
verify_run(struct cli *c, int argc, char **argv)
{
    struct vrun v;
    struct ldg_ledger *l = NULL;
    int rc;

    memset(&v, 0, sizeof v);
    if ((rc = verify_parse(c, argc, argv, &v)) != 0)
        return rc;
    if ((rc = check_output(c, NULL)) != 0)
        return rc;
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (v.trusted != NULL) {
        rc = read_file(v.trusted, 1 << 16, &v.note, &v.note_len);
        if (rc < 0) {
            cli_err(c, "cannot read trusted checkpoint %s: %s", v.trusted,
                    rc == LDG_ENOTFOUND ? strerror(errno) : ldg_strerror(rc));
            return cli_exit_code(rc);
        }
    }
    if ((rc = cli_open(c, 1, &l)) != 0) {
        if (rc == EX_DATAERR)
            rc = EX_VERIFY; /* storage that cannot be opened fails */
        goto out;
    }
    if ((rc = verify_check_from(c, l, &v)) != 0)
        goto out;
    if (vshared != NULL) {
        vshared->start = v.from; /* 0 unless --from: a lower bound */
        vshared->started = 1;
    }
    rc = verify_checks(c, l, &v);
    if (c->progress)
        cli_progress_done(c);
    if (rc < 0 && rc != LDG_ETAMPER) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    if (rc == 0 && v.note != NULL) {
        v.trc = ldg_verify_trusted(l, v.note, v.note_len, &v.tr);
        if (v.trc < 0 && v.trc != LDG_ETAMPER) {
            cli_err(c, "%s: %s", v.trusted, ldg_errmsg(l));
            rc = cli_exit_code(v.trc);
            goto out;
        }
    }
    if (rc == 0 && v.trc == 0 && v.nw > 0 && (rc = verify_quorum(c, &v)) != 0)
        goto out;
    rc = verify_report(c, l, &v, rc);
out:
    free(v.note);
    json_decref(v.pdiffs);
    ldg_close(l);
    return rc;
}

/* --------------------------------------------------------------- stats -- */

static const struct cli_opt stats_opts[] = {
    CLI_FLAG('d', 0, "databases",
             "also each database's records, pages and bytes (and bytes an "
             "event), LMDB's own pages included: together data.mdb's size"),
    CLI_OPT_END};

const struct cli_command cli_cmd_stats = {
    "stats",
    CLI_GROUP_EVENTS,
    cmd_stats,
    "counts and sizes",
    "Prints the ledger's origin, how many events, bodies (and erased "
    "bodies), checkpoints and keys it holds, the bytes they take, and the "
    "first and last event. With --databases, a table of where data.mdb's "
    "bytes are: every database the ledger keeps (the log's, the indexes, "
    "the projections) with its records, pages, bytes and bytes an event, "
    "then LMDB's catalogue, free and meta pages. The layout line names the "
    "store layout (how the records are kept in LMDB, docs/FORMAT.md 6.1) "
    "and says when `ledger migrate` has work to do.",
    stats_opts,
    CLI_OUT_BASIC,
    "ledger stats\n"
    "# where the bytes go, database by database\n"
    "ledger stats --databases\n"
    "ledger stats -o json\n",
    CLI_CMD_GATHER};

/* The --databases rows as a table, or as a JSON array. */
static void
stats_dbs_print(const struct ldg_db_size *d, size_t n, uint64_t events)
{
    uint64_t total = 0;
    printf("\n%-24s %12s %10s %14s %12s\n", "database", "records", "pages",
           "bytes", "bytes/event");
    for (size_t i = 0; i < n; i++) {
        total += d[i].bytes;
        printf("%-24s %12llu %10llu %14llu %12.1f\n", d[i].name,
               (unsigned long long)d[i].entries, (unsigned long long)d[i].pages,
               (unsigned long long)d[i].bytes,
               events ? (double)d[i].bytes / (double)events : 0.0);
    }
    printf("%-24s %12s %10s %14llu %12.1f\n", "total", "", "",
           (unsigned long long)total,
           events ? (double)total / (double)events : 0.0);
}

static json_t *
stats_dbs_json(const struct ldg_db_size *d, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I}", "name",
                                           d[i].name, "records",
                                           (json_int_t)d[i].entries, "pages",
                                           (json_int_t)d[i].pages, "bytes",
                                           (json_int_t)d[i].bytes));
    return a;
}

int
cmd_stats(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ledger *l = NULL;
    struct ldg_stats st;
    uint64_t tiles_whole = 0;
    struct ldg_db_size *dbs = NULL;
    size_t ndbs = 0;
    char t1[64] = "", t2[64] = "";
    int ch, rc, databases = 0;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'd':
            databases = 1;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage_err(c, "unexpected argument '%s'", argv[a.ind]);
    if ((rc = check_output(c, NULL)) != 0)
        return rc;
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_stats(l, &st);
    if (rc == 0)
        rc = ldg_stats_tiles_whole(l, &tiles_whole);
    if (rc == 0 && databases)
        rc = ldg_stats_databases(l, &dbs, &ndbs);
    if (rc < 0) {
        cli_err(c, "%s%s", databases ? "the databases' sizes: " : "",
                ldg_strerror(rc));
        ldg_close(l);
        return cli_exit_code(rc);
    }
    if (st.events) {
        ldg_time_rfc3339_ns(t1, sizeof t1, st.first_ts);
        ldg_time_rfc3339_ns(t2, sizeof t2, st.last_ts);
    }
    if (c->out == OUT_HUMAN) {
        printf("origin       %s\n", ldg_origin(l));
        printf("layout       %d (%s", st.layout,
               st.layout >= 4 ? "Merkle tree as tiles of two pages, an index "
                                "key per value"
               : st.layout == 3
                   ? "Merkle tree as tiles, an index key per value; ledger "
                     "migrate converts it"
               : st.layout == 2 ? "Merkle tree as tiles, an index key per "
                                  "event; ledger migrate converts it"
                                : "a record per tree node; ledger migrate "
                                  "converts it");
        if (tiles_whole > 0)
            printf("; %llu tile%s not yet split: ledger migrate splits %s",
                   (unsigned long long)tiles_whole, tiles_whole == 1 ? "" : "s",
                   tiles_whole == 1 ? "it" : "them");
        printf(")\n");
        if (st.horizon > 0)
            printf("events       %llu (0..%llu pruned: %llu kept)\n",
                   (unsigned long long)st.events,
                   (unsigned long long)(st.horizon - 1),
                   (unsigned long long)(st.events - st.horizon));
        else
            printf("events       %llu\n", (unsigned long long)st.events);
        printf("bodies       %llu (%llu erased)\n",
               (unsigned long long)st.bodies,
               (unsigned long long)(st.events - st.horizon - st.bodies));
        printf("checkpoints  %llu\n", (unsigned long long)st.checkpoints);
        printf("keys         %llu\n", (unsigned long long)st.keys);
        printf("entry bytes  %llu\n", (unsigned long long)st.entry_bytes);
        printf("body bytes   %llu\n", (unsigned long long)st.body_bytes);
        printf("file bytes   %llu\n", (unsigned long long)st.file_bytes);
        printf("map bytes    %llu\n", (unsigned long long)st.map_bytes);
        if (st.events) {
            char h1[32], h2[32];
            cli_when(h1, sizeof h1, st.first_ts);
            cli_when(h2, sizeof h2, st.last_ts);
            printf("first        %llu %s %s\n", (unsigned long long)st.horizon,
                   h1, st.first_type);
            printf("last         %llu %s %s\n",
                   (unsigned long long)(st.events - 1), h2, st.last_type);
        }
        if (databases)
            stats_dbs_print(dbs, ndbs, st.events);
    } else {
        char b[2][24];
        json_t *o;
        snprintf(b[0], sizeof b[0], "%llu", (unsigned long long)st.first_ts);
        snprintf(b[1], sizeof b[1], "%llu", (unsigned long long)st.last_ts);
        /* counts and byte sizes are numbers, the log size a string
         * (docs/OUTPUT.md) */
        o = json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
                      "origin", ldg_origin(l), "size", ldg_json_u64(st.events),
                      "events", (json_int_t)st.events, "bodies",
                      (json_int_t)st.bodies, "checkpoints",
                      (json_int_t)st.checkpoints, "keys", (json_int_t)st.keys,
                      "sizes", "entry_bytes", (json_int_t)st.entry_bytes,
                      "body_bytes", (json_int_t)st.body_bytes, "file_bytes",
                      (json_int_t)st.file_bytes, "map_bytes",
                      (json_int_t)st.map_bytes);
        /* the kept events' erased bodies, as verify counts them */
        if (o != NULL)
            json_object_set_new(
                o, "erased",
                json_integer((json_int_t)(st.events - st.horizon - st.bodies)));
        if (st.events) {
            char last[24];
            snprintf(last, sizeof last, "%llu",
                     (unsigned long long)(st.events - 1));
            json_object_set_new(o, "first",
                                json_pack("{s:o, s:s, s:s, s:s}", "seq",
                                          ldg_json_u64(st.horizon), "ts", b[0],
                                          "time", t1, "type", st.first_type));
            json_object_set_new(o, "last",
                                json_pack("{s:s, s:s, s:s, s:s}", "seq", last,
                                          "ts", b[1], "time", t2, "type",
                                          st.last_type));
        }
        json_object_set_new(o, "layout", json_integer(st.layout));
        if (st.layout >= 4)
            json_object_set_new(o, "tiles_whole",
                                json_integer((json_int_t)tiles_whole));
        if (st.horizon > 0)
            json_object_set_new(o, "horizon", ldg_json_u64(st.horizon));
        if (databases)
            json_object_set_new(o, "databases", stats_dbs_json(dbs, ndbs));
        cli_print_json(c, o);
    }
    free(dbs);
    ldg_close(l);
    return EX_OK;
}

/* ------------------------------------------------------------- migrate -- */

static const struct cli_opt migrate_opts[] = {
    CLI_VALUE('L', 0, "layout", "N",
              "the layout to convert to (default: the newest, 4)"),
    CLI_OPT_END};

const struct cli_command cli_cmd_migrate = {
    "migrate",
    CLI_GROUP_EVENTS,
    cmd_migrate,
    "convert the store to the newest layout",
    "Converts the ledger's store, in place, to a newer layout (how the "
    "ledger keeps its records in LMDB; docs/FORMAT.md section 6): no "
    "signed or hashed byte changes, and every checkpoint, proof, tile and "
    "bundle stays as it was. Layout 2 keeps the Merkle tree as tiles of 256 "
    "hashes instead of a record per node; layout 3 also keeps each index "
    "as one key per value (a type, a subject, a run, an actor) with its "
    "events' seqs packed under it, instead of a key per event, and no time "
    "index (times are found in the log itself); layout 4 also keeps a full "
    "tile's last hash apart, so that the tile takes two pages of the file "
    "instead of three. A crash or a full disk at any moment leaves the "
    "ledger in a layout it had or the one it goes to (layout 4 perhaps with "
    "some tiles not yet split, which `ledger stats` says), each verifying "
    "with every checkpoint, and migrate can simply be run again. "
    "Refuses (exit 75) while `ledger serve` serves "
    "the ledger, on any socket (stop it first); other writers may go on. "
    "Refuses (exit 1) while a failed verification stands: converting "
    "rebuilds the stored tree and indexes, which would hide what it found. "
    "Shows "
    "progress on "
    "a terminal and prints the bytes in use before and after (data.mdb "
    "itself does not shrink: LMDB reuses the freed pages for later "
    "writes). `ledger stats` says which layout a ledger has.",
    migrate_opts,
    CLI_OUT_BASIC,
    "ledger migrate --dir ./box\n"
    "ledger stats --dir ./box | grep layout\n",
    0};

int
cmd_migrate(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ledger *l = NULL;
    struct ldg_client *cl = NULL;
    struct ldg_migrate_result r;
    int ch, rc, to = 0;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'L') {
            if (strlen(a.value) != 1 || a.value[0] < '1' ||
                a.value[0] > '0' + LDG_LAYOUT_NEWEST) {
                cli_err(c, "--layout: '%s' is not a store layout (1 to %d)",
                        a.value, LDG_LAYOUT_NEWEST);
                return EX_USAGE;
            }
            to = a.value[0] - '0';
        } else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage_err(c, "unexpected argument '%s'", argv[a.ind]);
    if ((rc = check_output(c, NULL)) != 0)
        return rc;
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    rc = cli_serve_connect(c, &cl, 0);
    if (rc == 0) {
        ldg_client_close(cl);
        cli_err(c,
                "ledger serve serves this ledger (%s/%s): stop it, migrate, "
                "then start it again; nothing was changed",
                c->dir, LDG_SERVE_SOCKET);
        return EX_TEMPFAIL;
    }
    if (rc > 0)
        return rc;
    /* served on another socket: the server's hold on DIR/serve.lock */
    rc = ldg_serve_held(c->dir);
    if (rc != 0) {
        if (rc > 0)
            cli_err(c,
                    "ledger serve serves this ledger (it holds %s/%s; its "
                    "socket is elsewhere): stop it, migrate, then start it "
                    "again; nothing was changed",
                    c->dir, LDG_SERVE_LOCK);
        else
            cli_err(c, "%s/%s: %s", c->dir, LDG_SERVE_LOCK, ldg_strerror(rc));
        return rc > 0 ? EX_TEMPFAIL : cli_exit_code(rc);
    }
    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_migrate(l, to, cli_progress, c, &r);
    cli_progress_done(c);
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        ldg_close(l);
        return cli_exit_code(rc);
    }
    ldg_close(l);
    if (c->out == OUT_HUMAN) {
        if (r.from == r.to && r.tiles_split > 0) {
            printf("layout %d already: split the %llu tile%s an earlier "
                   "migrate left whole (%llu event%s)\n",
                   r.to, (unsigned long long)r.tiles_split,
                   r.tiles_split == 1 ? "" : "s", (unsigned long long)r.events,
                   r.events == 1 ? "" : "s");
            printf("tree     %llu -> %llu bytes\n",
                   (unsigned long long)r.tree_before,
                   (unsigned long long)r.tree_after);
        } else if (r.from == r.to) {
            printf("layout %d already: nothing to convert (%llu event%s)\n",
                   r.to, (unsigned long long)r.events,
                   r.events == 1 ? "" : "s");
        } else {
            printf("layout %d -> %d (%llu event%s)\n", r.from, r.to,
                   (unsigned long long)r.events, r.events == 1 ? "" : "s");
            printf("tree     %llu -> %llu bytes\n",
                   (unsigned long long)r.tree_before,
                   (unsigned long long)r.tree_after);
            printf("indexes  %llu -> %llu bytes\n",
                   (unsigned long long)r.index_before,
                   (unsigned long long)r.index_after);
        }
        printf("in use   %llu -> %llu bytes (data.mdb %llu bytes; LMDB "
               "reuses its free pages for later writes)\n",
               (unsigned long long)r.used_before,
               (unsigned long long)r.used_after,
               (unsigned long long)r.file_after);
    } else {
        cli_print_json(
            c, json_pack(
                   "{s:i, s:i, s:b, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I}, "
                   "s:{s:I, s:I}, s:{s:I, s:I}}",
                   "from", r.from, "to", r.to, "converted",
                   r.from != r.to || r.tiles_split > 0, "events",
                   (json_int_t)r.events, "tiles_split",
                   (json_int_t)r.tiles_split, "used_bytes", "before",
                   (json_int_t)r.used_before, "after", (json_int_t)r.used_after,
                   "file_bytes", "before", (json_int_t)r.file_before, "after",
                   (json_int_t)r.file_after, "tree_bytes", "before",
                   (json_int_t)r.tree_before, "after", (json_int_t)r.tree_after,
                   "index_bytes", "before", (json_int_t)r.index_before, "after",
                   (json_int_t)r.index_after));
    }
    return EX_OK;
}

/* ---------------------------------------------------------------- keys -- */

static int
keys_list(struct cli *c, struct ldg_ledger *l)
{
    struct ldg_keyinfo *k;
    size_t n;
    int rc = ldg_keys_list(l, &k, &n);
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    if (c->out == OUT_HUMAN)
        printf("%-16s %-16s %-7s %-7s %-6s %-7s %s\n", "NAME", "KEY ID",
               "ADDED", "REVOKED", "HELD", "SEALED", "ROLES");
    for (size_t i = 0; i < n; i++) {
        char added[24], rev[24], pub[65];
        /* who holds the secret: the ledger (keys/NAME.key on this box),
         * the writer (enrolled with --public-key: its events arrive
         * sealed), or nobody here (a ledger-held key whose file is gone) */
        const char *held = k[i].writer_held  ? "writer"
                           : k[i].has_secret ? "ledger"
                                             : "none";
        snprintf(added, sizeof added, "%llu",
                 (unsigned long long)k[i].added_seq);
        if (k[i].revoked_seq == UINT64_MAX)
            snprintf(rev, sizeof rev, "-");
        else
            snprintf(rev, sizeof rev, "%llu",
                     (unsigned long long)k[i].revoked_seq);
        ldg_hex(pub, k[i].pub, 32);
        if (c->out == OUT_HUMAN) {
            /* 80 columns on a terminal: a long name or role list is cut
             * with "…" (whole when piped) */
            cli_cell(c, k[i].name, 16, 0);
            printf("%-16s %-7s %-7s %-6s %-7llu ", k[i].key_id, added, rev,
                   held, (unsigned long long)k[i].sealed);
            cli_cell(c,
                     k[i].roles[0] == '*'    ? "* (log key: any type)"
                     : k[i].roles[0] == '\0' ? "(none: any actor type)"
                                             : k[i].roles,
                     (int)cli_width(c) - 65, 1);
        } else {
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "name", k[i].name,
                          "key_id", k[i].key_id, "public_key", pub, "added_seq",
                          added, "has_secret", k[i].has_secret, "held",
                          k[i].writer_held ? "writer" : "ledger");
            /* the `first` this key's next seal must carry (a count) */
            json_object_set_new(o, "sealed",
                                json_integer((json_int_t)k[i].sealed));
            json_t *rl = json_array();
            char *dup = strdup(k[i].roles), *save = NULL;
            /* the log key: ["*"]; none: [] (any actor type) */
            for (char *r = dup ? strtok_r(dup, ",", &save) : NULL; r;
                 r = strtok_r(NULL, ",", &save))
                json_array_append_new(rl, json_string(r));
            free(dup);
            json_object_set_new(o, "roles", rl);
            if (k[i].revoked_seq != UINT64_MAX)
                json_object_set_new(o, "revoked_seq", json_string(rev));
            cli_print_json(c, o);
        }
    }
    free(k);
    return EX_OK;
}

enum { OPT_PUBKEY = 400, OPT_KEYOUT, OPT_KEYNAME };

static const struct cli_opt keys_opts[] = {
    CLI_VALUE('r', 0, "roles", "R,...",
              "with add: the event types the key may sign, as roles: host, "
              "runtime, capacity, model, pack, permission, route, eval, "
              "promotion, run, x, erase, sensor, control-plane, plan, "
              "debate, snapshot, tripcode, memory, build, health, "
              "controller, any "
              "(docs/FORMAT.md, Key roles; none: any actor type)"),
    CLI_VALUE('R', 0, "reason", "TEXT", "with revoke (required): why"),
    CLI_VALUE(OPT_PUBKEY, 0, "public-key", "KEY",
              "with add: enrol a key held by its writer: its public key as "
              "64 hex digits, or @FILE holding what `ledger keys generate` "
              "printed; no secret key file is written, and the key's events "
              "must arrive sealed (`ledger seal`). Format version 2 ledgers "
              "only"),
    CLI_VALUE(OPT_KEYOUT, 0, "out", "FILE",
              "with generate (required): the secret key file to create, "
              "mode 0600; an existing file is never overwritten"),
    CLI_VALUE(OPT_KEYNAME, 0, "name", "NAME",
              "with generate: the name written in the key file (default: "
              "FILE's base name without .key)"),
    QUIET_OPT,
    CLI_ARG("add NAME|list|revoke NAME|verifier|generate",
            "add: create actor NAME's key and record it (with --public-key: "
            "record a key its writer holds); list: every key; revoke: record "
            "that NAME's key is no longer trusted; verifier: the log's "
            "verifier key, for a third party; generate: make a secret key "
            "file outside any ledger (--out) and print its public key",
            0),
    CLI_OPT_END};

const struct cli_command cli_cmd_keys = {
    "keys",
    CLI_GROUP_EVENTS,
    cmd_keys,
    "actor keys and the log key",
    "Manages the keys that vouch for events. Every actor (a runtime, an "
    "evaluator, an operator) has its own Ed25519 key, which seals its "
    "events (format 2: one signature per commit or batch covers them) or "
    "signs each one (format 1); "
    "adding and revoking a key are themselves events in the log, so a "
    "verifier knows which key was valid when. The secret keys stay in the "
    "ledger directory's keys/ (0600); only public keys enter the log."
    "\n\n"
    "A writer may hold its own key instead: `ledger keys generate --out "
    "FILE > FILE.pub` makes a secret key file anywhere (no ledger needed) "
    "and prints its public key, kept in FILE.pub; `ledger keys add NAME "
    "--public-key @FILE.pub` records "
    "it with \"held\": \"writer\" in its key.added and writes no secret. "
    "The ledger then never signs as that key: appending or ingesting as it "
    "without a seal is refused (exit 77); its events must arrive sealed by "
    "their writer. Enrolling one needs a format version 2 ledger. `keys "
    "list` shows who holds each key (HELD: ledger, writer, or none when a "
    "ledger-held key's file is gone) and how many events its seals cover "
    "(SEALED; in a format 2 ledger, the \"first\" its next seal carries: "
    "-o json \"sealed\").",
    keys_opts,
    CLI_OUT_BASIC,
    "# prints \"seq 5: key runtime (id 3f9a1c2e5b7d0a41) added\"\n"
    "ledger keys add runtime --roles run,route\n"
    "ledger keys list\n"
    "ledger keys revoke runtime --reason 'host reinstalled'\n"
    "# give this to whoever verifies your bundles\n"
    "ledger keys verifier > box.vkey\n"
    "# a key the control plane holds itself: make it on its own box ...\n"
    "ledger keys generate --out cp.key > cp.pub\n"
    "# ... and enrol only its public key in the ledger\n"
    "ledger keys add control-plane --public-key @cp.pub --roles pack,run\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

/* "key NAME (id KEYID) added" */
static void
key_added(struct ldg_ledger *l, const char *name, char *what, size_t cap)
{
    struct ldg_keyinfo *k;
    size_t n;
    snprintf(what, cap, "key %s added", name);
    if (ldg_keys_list(l, &k, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0 && k[i].revoked_seq == UINT64_MAX)
            snprintf(what, cap, "key %s (id %s) added%s", name, k[i].key_id,
                     k[i].writer_held ? ", held by its writer" : "");
    free(k);
}

/* 1 if s is exactly 64 hex digits. */
static int
is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
            return 0;
    return 1;
}

/* --public-key KEY: 64 hex digits, or @FILE holding what `keys generate`
 * prints (its "public_key HEX" line, its -o json object, or the bare hex).
 * 0, or an exit code after saying why. */
static int
parse_public_key(struct cli *c, const char *arg, uint8_t pub[32])
{
    char text[4096], hex[65];
    const char *what = arg;
    size_t n;

    if (arg[0] != '@') {
        if (!is_hex64(arg, strlen(arg)) || ldg_unhex(pub, 32, arg) < 0) {
            cli_err(c,
                    "--public-key: '%.80s' is not a public key (64 hex "
                    "digits, or @FILE as `ledger keys generate` prints it)",
                    arg);
            return EX_USAGE;
        }
        return 0;
    }
    what = arg + 1;
    {
        FILE *f = fopen(what, "r");
        if (f == NULL) {
            cli_err(c, "--public-key: cannot open %s: %s", what,
                    strerror(errno));
            return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
        }
        n = fread(text, 1, sizeof text - 1, f);
        if (ferror(f)) {
            cli_err(c, "--public-key: cannot read %s: %s", what,
                    strerror(errno));
            fclose(f);
            return EX_IOERR;
        }
        if (n == sizeof text - 1 && fgetc(f) != EOF) {
            fclose(f);
            cli_err(c, "--public-key: %s is larger than a public key file",
                    what);
            return EX_DATAERR;
        }
        fclose(f);
        text[n] = '\0';
    }
    hex[0] = '\0';
    {
        /* the bare hex, with or without a newline */
        size_t m = strcspn(text, " \t\r\n");
        if (is_hex64(text, m) && text[m + strspn(text + m, " \t\r\n")] == '\0')
            snprintf(hex, sizeof hex, "%.64s", text);
    }
    if (hex[0] == '\0' && text[0] == '{') {
        json_error_t je;
        json_t *o = json_loads(text, 0, &je);
        const char *v = json_string_value(json_object_get(o, "public_key"));
        if (v != NULL && is_hex64(v, strlen(v)))
            snprintf(hex, sizeof hex, "%s", v);
        json_decref(o);
    }
    if (hex[0] == '\0') {
        /* "public_key HEX" on a line of its own */
        for (char *line = text; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "public_key ", 11) == 0 &&
                is_hex64(line + 11, strcspn(line + 11, " \t\r")) &&
                line[11 + 64 + strspn(line + 75, " \t\r")] == '\0') {
                snprintf(hex, sizeof hex, "%.64s", line + 11);
                break;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    if (hex[0] == '\0' || ldg_unhex(pub, 32, hex) < 0) {
        cli_err(c,
                "--public-key: %s holds no public key (a line 'public_key "
                "<64 hex digits>' as `ledger keys generate` prints it, its "
                "-o json object, or the 64 hex digits alone)",
                what);
        return EX_DATAERR;
    }
    return 0;
}

/* `keys generate --out FILE [--name NAME]`: no ledger involved. */
static int
keys_generate(struct cli *c, const char *out, const char *name)
{
    char nbuf[LDG_NAME_MAX + 1], err[1024], pub[65];
    struct ldg_key *k = NULL;
    int rc;

    if (out == NULL || *out == '\0') {
        cli_err(c, "generate needs --out FILE (the secret key file to "
                   "create)");
        return EX_USAGE;
    }
    if (name == NULL) {
        const char *base = strrchr(out, '/');
        size_t len;
        base = base ? base + 1 : out;
        len = strlen(base);
        if (len > 4 && strcmp(base + len - 4, ".key") == 0)
            len -= 4;
        if (len == 0 || len > LDG_NAME_MAX) {
            cli_err(c,
                    "--out %s: no key name in the file name; give --name "
                    "NAME",
                    out);
            return EX_USAGE;
        }
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)len, base);
        name = nbuf;
        if (!ldg_key_name_valid(name)) {
            cli_err(c,
                    "--out %s: '%s' is not a valid key name (1-%d of A-Z "
                    "a-z 0-9 . _ -); give --name NAME",
                    out, name, LDG_NAME_MAX);
            return EX_USAGE;
        }
    } else if (!ldg_key_name_valid(name)) {
        cli_err(c,
                "--name: '%s' is not a valid key name (1-%d of A-Z a-z 0-9 "
                ". _ -)",
                name, LDG_NAME_MAX);
        return EX_USAGE;
    }
    if ((rc = ldg_key_generate(&k, name)) < 0) {
        cli_err(c, "cannot generate a key: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    rc = ldg_keyfile_save(out, k, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        ldg_key_free(k);
        return rc == LDG_EEXIST ? EX_CANTCREAT : cli_exit_code(rc);
    }
    ldg_hex(pub, k->pub, 32);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s, s:s, s:s, s:s}", "name", k->name,
                                    "key_id", k->key_id, "public_key", pub,
                                    "file", out));
    else if (c->quiet)
        printf("%s\n", pub);
    else
        printf("public_key %s\nkey_id %s\nname %s\n", pub, k->key_id, k->name);
    ldg_key_free(k);
    return EX_OK;
}

int
cmd_keys(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    const char *roles = NULL, *reason = NULL, *sub, *pubkey = NULL;
    const char *kout = NULL, *kname = NULL;
    struct ldg_ledger *l = NULL;
    uint64_t seq;
    int ch, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'r')
            roles = a.value;
        else if (ch == 'R')
            reason = a.value;
        else if (ch == 'q')
            c->quiet = 1;
        else if (ch == OPT_PUBKEY)
            pubkey = a.value;
        else if (ch == OPT_KEYOUT)
            kout = a.value;
        else if (ch == OPT_KEYNAME)
            kname = a.value;
        else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    int ind = a.ind;
    if (ind >= argc)
        return cli_usage(c);
    sub = argv[ind];
    if (pubkey != NULL && strcmp(sub, "add") != 0)
        return cli_usage_err(c, "--public-key goes with add");
    if ((kout != NULL || kname != NULL) && strcmp(sub, "generate") != 0)
        return cli_usage_err(c, "--out and --name go with generate");
    if (strcmp(sub, "generate") == 0) {
        if (ind + 1 != argc)
            return cli_usage(c);
        if (roles != NULL || reason != NULL)
            return cli_usage_err(c, "generate makes a key file only; give "
                                    "--roles to keys add");
        return keys_generate(c, kout, kname);
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (strcmp(sub, "list") == 0 && ind + 1 == argc) {
        if ((rc = cli_open(c, 1, &l)) != 0)
            return rc;
        rc = keys_list(c, l);
    } else if (strcmp(sub, "verifier") == 0 && ind + 1 == argc) {
        char vkey[512];
        if ((rc = cli_open(c, 1, &l)) != 0)
            return rc;
        ldg_verifier_key(l, vkey, sizeof vkey);
        if (c->out == OUT_HUMAN)
            printf("%s\n", vkey);
        else
            cli_print_json(c, json_pack("{s:s}", "verifier", vkey));
        rc = EX_OK;
    } else if (strcmp(sub, "add") == 0 && ind + 2 == argc) {
        uint8_t pub[32];
        if (pubkey != NULL && (rc = parse_public_key(c, pubkey, pub)) != 0)
            return rc;
        if ((rc = cli_open(c, 0, &l)) != 0)
            return rc;
        rc = pubkey != NULL ? ldg_keys_enrol(l, argv[ind + 1], roles, pub, &seq)
                            : ldg_keys_add(l, argv[ind + 1], roles, &seq);
        if (rc < 0) {
            cli_err(c, "%s",
                    ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
            rc = cli_exit_code(rc);
        } else {
            char what[200];
            key_added(l, argv[ind + 1], what, sizeof what);
            print_seq(c, seq, what);
            rc = EX_OK;
        }
    } else if (strcmp(sub, "revoke") == 0 && ind + 2 == argc) {
        if (reason == NULL || *reason == '\0') {
            cli_err(c, "revoke needs --reason TEXT");
            return EX_USAGE;
        }
        if ((rc = cli_open(c, 0, &l)) != 0)
            return rc;
        rc = ldg_keys_revoke(l, argv[ind + 1], reason, &seq);
        if (rc < 0) {
            cli_err(c, "%s",
                    ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
            rc = cli_exit_code(rc);
        } else {
            char what[200];
            snprintf(what, sizeof what, "key %s revoked", argv[ind + 1]);
            print_seq(c, seq, what);
            rc = EX_OK;
        }
    } else {
        return cli_usage(c);
    }
    ldg_close(l);
    return rc;
}

/* --------------------------------------------------------------- erase -- */

static const struct cli_opt erase_opts[] = {
    {'R', 0, "reason", "TEXT", "why the body is erased (required)",
     CLI_REQUIRED},
    QUIET_OPT,
    CLI_ARG("SEQ", "the event whose body is erased", 0),
    CLI_OPT_END};

const struct cli_command cli_cmd_erase = {
    "erase",
    CLI_GROUP_EVENTS,
    cmd_erase,
    "erase the body of an event",
    "Erases the body of event SEQ (personal data, a leaked secret) by "
    "appending a body.erased event that names it and says why. The event "
    "itself, its body hash and its place in the chain and the tree stay, "
    "so the log still verifies; the body is gone from the store and from "
    "every later export. Prints the sequence number of the erasure.",
    erase_opts,
    CLI_OUT_BASIC,
    "ledger erase 17 --reason 'customer data, ticket 4411'\n",
    0};

int
cmd_erase(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_event_in in;
    struct ldg_ledger *l = NULL;
    const char *reason = NULL;
    uint64_t target, seq;
    json_t *body;
    int ch, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'R')
            reason = a.value;
        else if (ch == 'q')
            c->quiet = 1;
        else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if ((rc = cli_one_seq(c, argc, argv, a.ind, "the event to erase", &target)))
        return rc;
    if (reason == NULL || *reason == '\0')
        return cli_usage_err(c, "--reason TEXT is required (why the body "
                                "is erased, kept in the log)");
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    {
        /* An event that is not in the log is missing input (66), not bad
         * data: say so before asking the library to refuse it. */
        uint64_t size = 0;
        if ((rc = ldg_size(l, &size)) < 0) {
            cli_err(c, "%s",
                    ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
            ldg_close(l);
            return cli_exit_code(rc);
        }
        if (target >= size) {
            cli_err(c, "no event %llu: the log has events 0..%llu",
                    (unsigned long long)target,
                    (unsigned long long)(size ? size - 1 : 0));
            ldg_close(l);
            return EX_NOINPUT;
        }
    }
    body = json_pack("{s:I, s:s}", "target_seq", (json_int_t)target, "reason",
                     reason);
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_BODY_ERASED;
    in.body = body;
    rc = ldg_append(l, &in, &seq);
    json_decref(body);
    if (rc == LDG_EPRUNED) {
        /* its body is in an archive, which cannot be changed: nothing to
         * erase here (docs/RETENTION.md) */
        char what[160];
        snprintf(what, sizeof what,
                 "event %llu was pruned, its body with it (an archive "
                 "holds it and cannot be changed); nothing erased",
                 (unsigned long long)target);
        cli_pruned(c, l, what);
        rc = EX_NOINPUT;
    } else if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        rc = cli_exit_code(rc);
    } else {
        char what[80];
        snprintf(what, sizeof what, "body of event %llu erased",
                 (unsigned long long)target);
        print_seq(c, seq, what);
        rc = EX_OK;
    }
    ldg_close(l);
    return rc;
}
