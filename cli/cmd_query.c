/*
 * cmd_query.c — ledger query (journalctl-style); timeline: cmd_timeline.c.
 */
#include <signal.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "query/query.h"

#define FOLLOW_POLL_MS 100 /* safety net under inotify */

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Output state: stops quietly when the reader goes away (EPIPE). */
struct out {
    struct cli *c;
    struct ldg_query_render *r;
    int show_cursor, json;
    int cut; /* human lines cut to 80 columns (a terminal, no --wide) */
    uint64_t last_seq; /* the last event printed, for --show-cursor */
    uint8_t last_leaf[32];
    uint64_t printed;
    int closed; /* EPIPE: the reader is gone */
};

/* The stream's writer: 0 ok, 1 reader gone, or an exit code. */
static int
write_out(void *ctx, const char *text, size_t len)
{
    struct out *o = ctx;
    if (o->cut) { /* whole lines, each cut to 80 columns with "…" */
        const char *p = text, *end = text + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            cli_line(o->c, p, n, 0, NULL, NULL);
            p += n + (nl != NULL);
        }
        if (!ferror(stdout))
            return 0;
    } else if (fwrite(text, 1, len, stdout) == len) {
        return 0;
    }
    if (errno == EPIPE) {
        o->closed = 1;
        return 1;
    }
    cli_err(o->c, "writing the output: %s", strerror(errno));
    return EX_IOERR;
}

static int
flush_out(struct out *o)
{
    if (fflush(stdout) != 0) {
        if (errno == EPIPE) {
            o->closed = 1;
            return 1;
        }
        cli_err(o->c, "writing the output: %s", strerror(errno));
        return EX_IOERR;
    }
    return 0;
}

static int
iter_error(struct cli *c, struct ldg_txn *t, int rc)
{
    return cli_fail(c, ldg_txn_ledger(t), rc);
}

/* The end of run_once's stream (rc 0 or a failure): what came before a
 * failure is printed, then the error. The last chunk goes out after the
 * one the thread writes; either write may be blocked by a reader that
 * stopped reading, so the snapshot is let go first, and a new one begun
 * for the caller (--explain) once all is written. (It was let go only
 * when a thread had written: an output under CLI_CHUNK_BYTES, a human table
 * of up to ~25,000 events, pinned it while its last write was blocked,
 * and `ledger query | less` left open grew data.mdb 12x; issue 29.) */
static int
finish(struct out *o, struct ldg_ledger *l, struct ldg_txn **tp,
       struct cli_bgw *w, struct cli_chunk *ch, int rc)
{
    char msg[1024] = "";
    int code = 0, wr;

    if (rc < 0) {
        snprintf(msg, sizeof msg, "%s", cli_why(l, rc));
        code = cli_exit_code(rc);
    }
    cli_rtxn_end(*tp);
    *tp = NULL;
    wr = cli_bgw_idle(w);
    if (wr == 0 && ch->b.len > 0)
        wr = write_out(o, ch->b.s, ch->b.len);
    ch->b.len = 0;
    if (*tp == NULL && cli_rtxn_begin(l, tp) < 0)
        *tp = NULL;
    if (code != 0) {
        cli_err(o->c, "%s", msg);
        return code;
    }
    return wr;
}

/*
 * The read window (issue 63). A reader holds its read transaction only
 * while it reads a batch: at most WINDOW_EVENTS events examined or
 * WINDOW_MS, whichever comes first; then the snapshot is let go, what was
 * read is handed to the writer thread, and the next batch is read in a
 * new snapshot from the event after the last examined. LMDB cannot reuse
 * a page freed after a live snapshot was taken, so a reader stopped
 * (SIGSTOP) or slow inside one makes data.mdb grow by all that is written
 * meanwhile (40x over 30,000 events in commits of 5, issue 63); with the
 * window it is inside one for a fraction of its time, and out of any
 * while it waits on its output (ctrl-Z waits for the window's end:
 * cli_rtxn_begin). The log's events never change
 * once appended, so the batches make the answer of the first snapshot
 * (never past its size), unless a prune removes events not yet read:
 * that is an error (window_pruned), not a gap.
 */
#define WINDOW_EVENTS 1000
#define WINDOW_MS 100

/* 0, or EX_NOINPUT after saying so when events of [lo, hi] not yet read
 * were pruned since the first snapshot, whose horizon was h0 (it, an
 * iterator in the current snapshot, gives the horizon now). */
static int
window_pruned(struct out *o, struct ldg_ledger *l, struct ldg_query_iter *it,
              uint64_t h0, uint64_t lo, uint64_t hi)
{
    struct ldg_query_stats st;
    char what[256];
    uint64_t a = lo > h0 ? lo : h0, b;

    ldg_query_iter_stats(it, &st);
    b = st.horizon < hi ? st.horizon : hi + 1;
    if (st.horizon <= h0 || a >= b)
        return 0;
    snprintf(what, sizeof what,
             "events %llu..%llu were pruned while this query read them, so "
             "the answer above stops short of them (run it again)",
             (unsigned long long)a, (unsigned long long)(b - 1));
    cli_pruned(o->c, l, what);
    return EX_NOINPUT;
}

/* Ends *tp's snapshot and begins another: 0 or the exit code. */
static int
window_renew(struct out *o, struct ldg_ledger *l, struct ldg_txn **tp)
{
    int rc;
    cli_rtxn_end(*tp);
    *tp = NULL;
    if ((rc = cli_rtxn_begin(l, tp)) < 0) {
        *tp = NULL;
        cli_err(o->c, "reading the ledger: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    return 0;
}

/* -n N without -r: where the last N matches of [lo, hi] start, read
 * backwards a window at a time. 0 with *first (*n matches found, 0 when
 * none), or the exit code. */
static int
last_n_start(struct out *o, struct ldg_ledger *l, struct ldg_query *q,
             struct ldg_txn **tp, uint64_t h0, uint64_t lo, uint64_t hi,
             uint64_t limit, uint64_t *first, uint64_t *n)
{
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    uint64_t pos;
    int rc;

    *n = 0;
    for (;;) {
        ldg_query_restrict(q, lo, hi);
        if ((rc = ldg_query_iter_new(
                 &it, q, *tp, LDG_QUERY_REVERSE | LDG_QUERY_KEEP_HINT)) < 0)
            return iter_error(o->c, *tp, rc);
        if ((rc = window_pruned(o, l, it, h0, lo, hi)) != 0) {
            ldg_query_iter_free(it);
            return rc;
        }
        ldg_query_iter_window(it, WINDOW_EVENTS, WINDOW_MS);
        while (*n < limit && (rc = ldg_query_iter_next(it, &ev)) == 0) {
            *first = ev.seq;
            (*n)++;
        }
        if (rc != LDG_QUERY_WINDOW_END || !ldg_query_iter_position(it, &pos)) {
            ldg_query_iter_free(it);
            break;
        }
        ldg_query_iter_free(it);
        if ((rc = window_renew(o, l, tp)) != 0)
            return rc;
        if (pos <= lo)
            return 0;
        hi = pos - 1;
    }
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return iter_error(o->c, *tp, rc);
    return 0;
}

/*
 * Prints the matches of q with seq >= lo in *tp's snapshot. limit 0 = all.
 * Without -r and with a limit, the last `limit` matches are wanted in
 * forward order: a reverse pass finds where they start, then a forward
 * pass prints them (two passes, constant memory). Each read window (see
 * above), and every CLI_CHUNK_BYTES of output, the transaction is ended and a
 * new one begun (*tp replaced) to go on after the last event read, never
 * past the first snapshot's size; what was read is written by a thread
 * (struct cli_bgw) while the next window is read.
 */
static int
run_windows(struct out *o, struct ldg_ledger *l, struct ldg_query *q,
            struct ldg_txn **tp, uint64_t lo, uint64_t limit, int reverse,
            uint64_t *last_seq)
{
    struct ldg_query_iter *it = NULL;
    struct ldg_query_stream_opts so;
    struct ldg_query_stats st;
    struct ldg_event ev;
    struct cli_chunk ch[2];
    struct cli_bgw w;
    uint64_t n = 0, size, hi, h0;
    int rc, cur = 0, wr;

    memset(ch, 0, sizeof ch);
    memset(&w, 0, sizeof w);
    w.write = write_out;
    w.ctx = o;
    if ((rc = ldg_txn_size(*tp, &size)) < 0)
        return iter_error(o->c, *tp, rc);
    if (size == 0)
        return 0;
    hi = size - 1;
    ldg_query_restrict(q, lo, hi);
    /* the horizon of the first snapshot (a prune between windows) */
    if ((rc = ldg_query_iter_new(&it, q, *tp, LDG_QUERY_KEEP_HINT)) < 0)
        return iter_error(o->c, *tp, rc);
    ldg_query_iter_stats(it, &st);
    h0 = st.horizon;
    ldg_query_iter_free(it);
    it = NULL;
    if (limit > 0 && !reverse) {
        uint64_t first = 0;
        if ((rc = last_n_start(o, l, q, tp, h0, lo, hi, limit, &first, &n)) !=
            0)
            return rc;
        if (n == 0)
            return 0;
        /* narrow to [first, ...]: the last `limit` matches */
        lo = first;
        ldg_query_restrict(q, lo, hi);
        limit = 0;
        n = 0;
    }
    for (;;) {
        uint64_t got = 0, pos = 0;
        int have_pos;
        rc = ldg_query_iter_new(&it, q, *tp,
                                (reverse ? LDG_QUERY_REVERSE : 0) |
                                    LDG_QUERY_KEEP_HINT);
        if (rc < 0) {
            rc = finish(o, l, tp, &w, &ch[cur], rc);
            break;
        }
        if ((rc = window_pruned(o, l, it, h0, lo, hi)) != 0) {
            ldg_query_iter_free(it);
            it = NULL;
            wr = finish(o, l, tp, &w, &ch[cur], 0);
            break;
        }
        ldg_query_iter_window(it, WINDOW_EVENTS, WINDOW_MS);
        /* what the iterator read for each event (its decoded body or
         * stored record) is rendered without reading it again; -o json
         * renders on all cores */
        memset(&so, 0, sizeof so);
        so.limit = limit ? limit - n : 0;
        so.write = cli_chunk_write;
        so.ctx = &ch[cur];
        so.stop = &stop_flag;
        rc = ldg_query_stream(it, o->r, &so, &got, &ev);
        have_pos =
            rc == LDG_QUERY_WINDOW_END && ldg_query_iter_position(it, &pos);
        ldg_query_iter_free(it);
        it = NULL;
        if (got > 0) {
            n += got;
            o->printed += got;
            o->last_seq = ev.seq; /* the cursor text is made at the end */
            memcpy(o->last_leaf, ev.leaf, 32);
            if (last_seq != NULL)
                *last_seq = ev.seq;
        }
        if (rc == LDG_QUERY_WINDOW_END && !have_pos)
            rc = 0; /* (a window examines one event at least) */
        if (rc != LDG_QUERY_WRITE_PAUSE && rc != LDG_QUERY_WINDOW_END) {
            rc = finish(o, l, tp, &w, &ch[cur], rc);
            break;
        }
        /* A window read, or a chunk full: let the snapshot go, have what
         * was read written (after the chunk before it), then go on from
         * the event after the last one read, into the other chunk. */
        if (rc == LDG_QUERY_WRITE_PAUSE)
            pos = ev.seq;
        cli_rtxn_end(*tp);
        *tp = NULL;
        if ((rc = cli_bgw_idle(&w)) != 0)
            break;
        if (ch[cur].b.len == 0) {
            /* nothing matched in the window */
        } else if (cli_bgw_give(&w, &ch[cur]) == 0) {
            cur ^= 1;
        } else {
            rc = write_out(o, ch[cur].b.s, ch[cur].b.len);
            ch[cur].b.len = 0;
            if (rc != 0)
                break;
        }
        if ((rc = window_renew(o, l, tp)) != 0)
            break;
        if (reverse ? pos <= lo : pos >= hi)
            break;
        if (reverse)
            hi = pos - 1;
        else
            lo = pos + 1;
        ldg_query_restrict(q, lo, hi);
    }
    if ((wr = cli_bgw_stop(&w)) != 0 && rc == 0)
        rc = wr;
    ldg_buf_release(&ch[0].b);
    ldg_buf_release(&ch[1].b);
    return rc == 1 ? 0 : rc;
}

/* run_windows, then the windows' scan hints taken back */
static int
run_once(struct out *o, struct ldg_ledger *l, struct ldg_query *q,
         struct ldg_txn **tp, uint64_t lo, uint64_t limit, int reverse,
         uint64_t *last_seq)
{
    int rc = run_windows(o, l, q, tp, lo, limit, reverse, last_seq);
    ldg_query_release_hint(q, l);
    return rc;
}

static int
parse_limit(const char *s, uint64_t *out)
{
    if (strcmp(s, "all") == 0) {
        *out = 0;
        return 0;
    }
    if (cli_parse_u64(s, out) < 0 || *out == 0)
        return -1;
    return 0;
}

static void
print_cursor(struct out *o)
{
    if (o->show_cursor && !o->json && o->printed > 0 && !o->closed) {
        struct ldg_event ev;
        char cur[LDG_QUERY_CURSOR_MAX];
        memset(&ev, 0, sizeof ev);
        ev.seq = o->last_seq;
        memcpy(ev.leaf, o->last_leaf, 32);
        ldg_query_cursor(&ev, cur);
        printf("-- cursor: %s\n", cur);
    }
}

/* Follow: wait for the log to grow, print what matches, repeat. */
static int
follow(struct out *o, struct ldg_ledger *l, struct ldg_query *q, uint64_t next,
       uint64_t cursor_lo)
{
    struct ldg_query_follow *f = NULL;
    int rc = ldg_query_follow_new(&f, ldg_dir(l));
    if (rc < 0) {
        cli_err(o->c, "cannot watch %s: %s", ldg_dir(l), ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    while (!stop_flag && !o->closed) {
        struct ldg_txn *t = NULL;
        uint64_t size;
        rc = ldg_query_follow_wait(f, FOLLOW_POLL_MS);
        if (rc < 0) {
            cli_err(o->c, "waiting for new events: %s", ldg_strerror(rc));
            rc = cli_exit_code(rc);
            break;
        }
        if (stop_flag)
            break;
        if ((rc = cli_rtxn_begin(l, &t)) < 0 ||
            (rc = ldg_txn_size(t, &size)) < 0) {
            cli_rtxn_end(t);
            cli_err(o->c, "reading the ledger: %s", ldg_strerror(rc));
            rc = cli_exit_code(rc);
            break;
        }
        if (size > next) {
            rc = run_once(o, l, q, &t, next > cursor_lo ? next : cursor_lo, 0,
                          0, NULL);
            next = size;
            if (rc == 0)
                rc = flush_out(o) == EX_IOERR ? EX_IOERR : 0;
        } else {
            rc = 0;
        }
        cli_rtxn_end(t);
        if (rc != 0)
            break;
    }
    ldg_query_follow_free(f);
    return rc;
}

enum {
    OPT_AFTER = 1000,
    OPT_SHOWCUR,
    OPT_EXPLAIN,
    OPT_DEPS,
    OPT_FIELDS,
};

/* What `ledger query` was asked. */
struct qargs {
    const char *since, *until, *after, *limit_s, *fields_s;
    const char *patterns[64];
    int npatterns, reverse, follow_mode, show_cursor, explain, deps;
    uint32_t fields;
    enum ldg_query_format fmt;
    uint64_t limit;
    struct cli_bundle_args ba;
};
static const struct qargs query_defaults = {.fields = LDG_QF_ALL,
                                            .fmt = LDG_QFMT_SHORT};

/* -g and --bundle's: 0, or the exit code after saying why */
static int
query_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct qargs *g = args;
    int rc;
    if (id != 'g') {
        rc = cli_bundle_opt(c, &g->ba, id, a->value);
        return rc < 0 ? -rc : rc == 0 ? cli_usage(c) : 0;
    }
    /* repeated -g OR, as git log --grep */
    if (g->npatterns == (int)(sizeof g->patterns / sizeof *g->patterns)) {
        cli_err(c, "more than %d -g patterns",
                (int)(sizeof g->patterns / sizeof *g->patterns));
        return EX_USAGE;
    }
    g->patterns[g->npatterns++] = a->value;
    return 0;
}

#define QA struct qargs
static const struct cli_opt query_opts[] = {
    CLI_STR('S', 'S', "since", "TIME", "events at or after TIME", QA, since),
    CLI_STR('U', 'U', "until", "TIME", "events at or before TIME", QA, until),
    CLI_VALUES('g', 'g', "grep", "PATTERN",
               "events whose text matches the regular expression (PCRE2); "
               "repeated -g OR, as git log --grep"),
    CLI_STR('n', 'n', "lines", "N",
            "the last N matches (or 'all'); with -r the first N newest", QA,
            limit_s),
    CLI_ON('r', 'r', "reverse", "newest first", QA, reverse),
    CLI_ON('f', 'f', "follow",
           "keep printing new matches as they are appended (the last 10 "
           "first, unless -n)",
           QA, follow_mode),
    CLI_STR(OPT_AFTER, 0, "after-cursor", "CURSOR",
            "only events after CURSOR (from --show-cursor)", QA, after),
    CLI_ON(OPT_SHOWCUR, 0, "show-cursor", "end with a cursor to continue from",
           QA, show_cursor),
    CLI_ON(OPT_EXPLAIN, 0, "explain",
           "say on standard error which index answered", QA, explain),
    CLI_STR(OPT_FIELDS, 0, "output-fields", "LIST",
            "with -o json or json-pretty: only these keys, a comma-separated "
            "list of seq ts time recorded_ts recorded_time clock type "
            "subject run parent actor actor_name id source prev "
            "body_commitment leaf_hash claim_digest seal seal_leaf "
            "signature body model_at (as journalctl's)",
            QA, fields_s),
    CLI_ON(OPT_DEPS, 0, "deps",
           "with pack=P: also what the pack depends on - its routes "
           "(declarations, decisions, evals, promotions) and their "
           "models and fallbacks (registrations, states, verifications), "
           "each with the other terms of pack=P's group (type=, run=, ...)",
           QA, deps),
    CLI_BUNDLE_OPTS,
    CLI_ARG("FIELD=VALUE",
            "type=GLOB subject=GLOB run=ID actor=NAME|ID pack=P model=M "
            "route=R seq=N|A..B body.NAME=VALUE. Repeating a field ORs, "
            "different fields AND; a lone '+' starts another group, OR'ed "
            "with the others. FIELD!=VALUE negates (body.NAME!= only "
            "where the body has NAME); no other operator is understood",
            CLI_OPTIONAL | CLI_REPEAT),
    CLI_OPT_END};

/* How the options go together: 0, or the exit code. */
static int
query_check_args(struct cli *c, struct qargs *g)
{
    char err[1024];

    if (g->ba.file == NULL &&
        (g->ba.have_key || g->ba.insecure || g->ba.max_bytes != 0))
        return cli_usage_err(c, "--trusted-key, "
                                "--insecure-trust-bundle-key and --max-bytes "
                                "go with --bundle FILE");
    if (g->ba.file != NULL && (g->follow_mode || g->after != NULL ||
                               g->show_cursor || g->explain || g->deps))
        return cli_usage_err(c, "--bundle reads a bundle's events: -f, "
                                "--after-cursor, --show-cursor, --explain "
                                "and --deps need a ledger");
    if (c->out_name != NULL &&
        ldg_query_format_parse(c->out_name, &g->fmt) < 0) {
        cli_err(c,
                "unknown output format '%s' (use short, short-iso, "
                "short-precise, short-utc, verbose, json, json-pretty or "
                "cat)",
                c->out_name);
        return EX_USAGE;
    }
    if (g->fields_s != NULL) {
        if (g->fmt != LDG_QFMT_JSON && g->fmt != LDG_QFMT_JSON_PRETTY)
            return cli_usage_err(c, "--output-fields goes with -o json or "
                                    "-o json-pretty");
        if (ldg_query_fields_parse(g->fields_s, &g->fields, err, sizeof err) <
            0)
            return cli_usage_err(c, "--output-fields: %s", err);
    }
    if (g->follow_mode && g->reverse) {
        cli_err(c, "-f/--follow and -r/--reverse conflict: follow prints new "
                   "events in order as they come");
        return EX_USAGE;
    }
    if (g->follow_mode && g->until != NULL) {
        cli_err(c, "-f/--follow and -U/--until conflict: a followed query "
                   "has no end");
        return EX_USAGE;
    }
    if (g->after != NULL && g->reverse) {
        cli_err(c, "--after-cursor and -r/--reverse conflict: use -U or "
                   "seq=..N to look backwards from a point");
        return EX_USAGE;
    }
    if (g->limit_s != NULL && parse_limit(g->limit_s, &g->limit) < 0) {
        cli_err(c, "-n: '%s' is not a positive number of events or 'all'",
                g->limit_s);
        return EX_USAGE;
    }
    if (g->limit_s == NULL && g->follow_mode)
        g->limit = 10;
    return 0;
}

/* The library's notes on the terms ('\n' between them), one a line. */
static void
say_notes(const struct cli *c, const char *notes)
{
    for (const char *n = notes; n != NULL;) {
        size_t len = strcspn(n, "\n");
        cli_err(c, "note: %.*s", (int)len, n);
        n = n[len] != '\0' ? n + len + 1 : NULL;
    }
}

/* After the answer: on a pruned ledger, where the rest went (EX_NOINPUT
 * when nothing kept matches); with --explain, the plan. Returns rc or
 * EX_NOINPUT. */
static int
query_said(struct cli *c, struct ldg_ledger *l, struct ldg_query *q,
           struct ldg_txn *t, const struct qargs *g, uint64_t printed, int rc)
{
    /* A pruned ledger: an answer that reaches before the horizon says
     * where the rest went; one that lies wholly before it is an error. */
    if (rc == 0 && t != NULL) {
        struct ldg_query_iter *it = NULL;
        struct ldg_query_stats st;
        if (ldg_query_iter_new(&it, q, t, 0) == 0) {
            ldg_query_iter_stats(it, &st);
            if (st.all_pruned || (st.reached_pruned && printed == 0)) {
                cli_pruned(c, l,
                           st.all_pruned
                               ? "the selection lies before the horizon"
                               : "no kept event matches, and the selection "
                                 "reaches before the horizon");
                rc = EX_NOINPUT;
            } else if (st.reached_pruned) {
                cli_pruned(c, l, "note: this answer covers the kept events");
            }
        }
        ldg_query_iter_free(it);
    }
    /* run=ID naming no run: the empty answer is true, the note says why
     * (not under -f, which may wait for the run to start) */
    if ((rc == 0 || rc == EX_NOINPUT) && t != NULL && !g->follow_mode) {
        char *notes = NULL;
        if (ldg_query_run_notes(q, t, &notes) == 0)
            say_notes(c, notes);
        free(notes);
    }
    if (g->explain && t != NULL) {
        struct ldg_query_iter *it = NULL;
        struct ldg_query_stats st;
        if (ldg_query_iter_new(&it, q, t, 0) == 0) {
            ldg_query_iter_stats(it, &st);
            if (st.seq_lo > st.seq_hi) /* the window holds no event */
                fprintf(stderr, "plan: %s; seq window empty\n", st.plan);
            else
                fprintf(stderr, "plan: %s; seq window %llu..%llu\n", st.plan,
                        (unsigned long long)st.seq_lo,
                        (unsigned long long)st.seq_hi);
        }
        ldg_query_iter_free(it);
    }
    return rc;
}

static int
cmd_query(struct cli *c, struct qargs *g, int npos, char **pos)
{
    char **dterms = NULL;
    int ndterms = 0, rc;
    json_t *dstore = NULL;
    struct ldg_query *q = NULL;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct out o;
    uint64_t size = 0, cursor_lo = 0;
    char err[1024];

    if ((rc = query_check_args(c, g)) != 0)
        return rc;
    if (g->deps) {
        if ((rc = cli_resolve_dir(c)) != 0 ||
            (rc = cli_query_deps(c, npos, pos, &dterms, &ndterms, &dstore)) !=
                0)
            goto out;
        rc = ldg_query_compile(&q, ndterms, dterms, g->since, g->until, err,
                               sizeof err);
    } else {
        rc = ldg_query_compile(&q, npos, pos, g->since, g->until, err,
                               sizeof err);
    }
    for (int i = 0; rc == 0 && i < g->npatterns; i++)
        rc = ldg_query_set_grep(q, g->patterns[i], err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        ldg_query_free(q);
        return rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
    }
    say_notes(c, ldg_query_notes(q));
    if (g->ba.file != NULL) {
        rc = cli_query_bundle(c, &g->ba, q, g->fmt, g->fields, g->limit,
                              g->reverse);
        ldg_query_free(q);
        return rc;
    }
    cli_tstp_install(); /* ctrl-Z waits for a read window's end */
    if ((rc = cli_open(c, 1, &l)) != 0)
        goto out;
    memset(&o, 0, sizeof o);
    o.c = c;
    o.show_cursor = g->show_cursor;
    o.json = g->fmt == LDG_QFMT_JSON || g->fmt == LDG_QFMT_JSON_PRETTY;
    o.cut = c->fit && !o.json && g->fmt != LDG_QFMT_CAT;
    if ((rc = ldg_query_render_new(
             &o.r, g->fmt, g->show_cursor ? LDG_RENDER_CURSOR : 0)) < 0 ||
        (g->fields != LDG_QF_ALL &&
         (rc = ldg_query_render_set_fields(o.r, g->fields)) < 0)) {
        cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    {
        struct ldg_query_finding f;
        if (cli_finding(c, l, &f,
                        ldg_query_render_marks(o.r)
                            ? NULL
                            : "-o cat prints the bodies alone") &&
            (rc = ldg_query_render_set_finding(o.r, f.seq, f.what)) < 0) {
            cli_err(c, "%s", ldg_strerror(rc));
            rc = cli_exit_code(rc);
            goto out_r;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (g->follow_mode) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop; /* no SA_RESTART: poll() returns EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    } else if (!isatty(1)) {
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        /* A bigger pipe means fewer switches to the reader and back for
         * big results (the default 64 KiB holds ~70 json lines). A hint:
         * if the pipe cannot grow, nothing changes. */
        fcntl(1, F_SETPIPE_SZ, 1 << 20);
    }
    if ((rc = cli_rtxn_begin(l, &t)) < 0 || (rc = ldg_txn_size(t, &size)) < 0) {
        cli_err(c, "reading the ledger: %s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out_r;
    }
    if (g->after != NULL) {
        uint64_t cseq;
        rc = ldg_query_cursor_check(t, g->after, &cseq, err, sizeof err);
        if (rc < 0) {
            rc = cli_fail_err(c, err, rc);
            goto out_r;
        }
        cursor_lo = cseq + 1;
    }
    rc = run_once(&o, l, q, &t, cursor_lo, g->limit, g->reverse, NULL);
    ldg_query_restrict(q, cursor_lo, UINT64_MAX);
    rc = query_said(c, l, q, t, g, o.printed, rc);
    cli_rtxn_end(t);
    t = NULL;
    if (rc != 0)
        goto out_r;
    print_cursor(&o);
    if ((rc = flush_out(&o)) == 1)
        rc = 0;
    if (rc == 0 && g->follow_mode && !o.closed) {
        rc = follow(&o, l, q, size, cursor_lo);
        print_cursor(&o);
        if (flush_out(&o) == EX_IOERR && rc == 0)
            rc = EX_IOERR;
    }
out_r:
    cli_rtxn_end(t);
    ldg_query_render_free(o.r);
out:
    ldg_query_free(q);
    ldg_close(l);
    free(dterms);
    json_decref(dstore);
    return rc;
}

CLI_COMMAND(
    query, CLI_GROUP_QUERY, "find events, journalctl-style",
    "Prints the events that match, oldest first, one line each (or in the "
    "format -o names), using the ledger's indexes. Matches work like "
    "journalctl's: FIELD=VALUE terms, time bounds with -S and -U, a body "
    "pattern with -g. TIME is a systemd.time(7) expression ('yesterday', "
    "'-1h', '11min ago', '2026-11-20 10:00', '@1763600000'; a number "
    "without a unit is seconds, '-30' is '-30s') or RFC 3339; times print in "
    "local time unless --utc. -S and -U select by the "
    "ledger's own (recorded) time; in -o json an event sent with the "
    "source's time shows it as \"time\" and \"ts\", with the ledger's "
    "as \"recorded_time\" and \"recorded_ts\" and \"clock\":\"source\" "
    "(docs/QUERY.md). With --bundle FILE it "
    "searches the selected events of an evidence bundle instead, after "
    "verifying it (withheld fields are not there to match). It reads the "
    "store a window at a time (1,000 events or 100 ms, each in a new "
    "snapshot) and writes outside them, so it pins no snapshot while it "
    "waits on its output; ctrl-Z waits for the window's end (docs/QUERY.md, "
    "\"Readers and the file's growth\"). Exits 0 when it could look, even "
    "if nothing matched; 66 when a prune removed events it had not read "
    "yet.",
    query_opts,
    "short (default), short-iso, short-precise, short-utc, verbose, json, "
    "json-pretty or cat",
    "# everything run r1 did\n"
    "ledger query run=r1\n"
    "# route decisions of the last hour, newest first\n"
    "ledger query type='route.*' -S -1h -r\n"
    "# failures of pack summarize, as JSON Lines\n"
    "ledger query pack=summarize type=run.finished body.status=failed "
    "-o json\n"
    "# everything about pack pdf-ops and what it depends on\n"
    "ledger query pack=pdf-ops --deps\n"
    "# only route decisions, of the pack and of its routes and models\n"
    "ledger query pack=pdf-ops type=route.decision --deps\n"
    "# follow new events like tail -f\n"
    "ledger query -f\n",
    CLI_CMD_PAGER | CLI_CMD_OWN_OUTPUT,
    {.size = sizeof(struct qargs),
     .maxpos = -1,
     .opt = query_opt,
     .defaults = &query_defaults});
