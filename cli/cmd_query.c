/*
 * cmd_query.c — ledger query (journalctl-style) and ledger timeline.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "page/page.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"
#include "util/util.h"

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
    const char *m = ldg_errmsg(ldg_txn_ledger(t));
    cli_err(c, "%s", m && m[0] ? m : ldg_strerror(rc));
    return cli_exit_code(rc);
}

/* Output is gathered in memory up to this much, then the read
 * transaction is let go before it is written: a consumer that stops
 * reading (`query | less` left open) then blocks the write without
 * pinning a snapshot, so writers can reuse freed pages. */
#define CHUNK_BYTES ((size_t)4 << 20)

struct chunk {
    struct ldg_buf b;
    size_t ready; /* bytes of b.p known mapped (populated or written) */
};

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Maps the pages of ch->b.p that the next len bytes will be written to,
 * ahead, in steps that double (so at most twice what is written): one
 * madvise instead of a page fault a page, which costs ~10 us on a
 * virtual machine (bench/RESULTS.md). Only speed depends on it. */
static void
chunk_prefault(struct chunk *ch, size_t len)
{
    const size_t pg = 4096;
    uintptr_t base = (uintptr_t)ch->b.p, lo, hi;
    size_t want = ch->b.len + len, step;

    if (want <= ch->ready)
        return;
    step = ch->ready < ((size_t)16 << 10) ? (size_t)16 << 10 : ch->ready;
    if (step > ((size_t)1 << 20))
        step = (size_t)1 << 20;
    if (want < ch->ready + step)
        want = ch->ready + step;
    if (want > ch->b.cap)
        want = ch->b.cap;
    lo = (base + ch->ready + pg - 1) & ~(uintptr_t)(pg - 1);
    hi = (base + want) & ~(uintptr_t)(pg - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
    ch->ready = want;
}

static int
chunk_write(void *ctx, const char *text, size_t len)
{
    struct chunk *ch = ctx;
    uint8_t *o;
    if (ch->b.p == NULL || len >= ch->b.cap - ch->b.len) {
        /* Room for a whole chunk at once: a block this size is mapped
         * (not touched) by malloc, so only the pages written are paid
         * for, and growing never copies what is there (a 64 KiB start
         * doubled twice copied and faulted in 64 KiB more for a 100
         * event -o json). */
        const uint8_t *was = ch->b.p;
        size_t want = len;
        if (was == NULL && want < CHUNK_BYTES + ((size_t)1 << 16))
            want = CHUNK_BYTES + ((size_t)1 << 16);
        if (ldg_buf_room(&ch->b, want) == NULL)
            return LDG_ENOMEM;
        if (ch->b.p != was)
            ch->ready = 0;
    }
    chunk_prefault(ch, len);
    o = ch->b.p + ch->b.len;
    memcpy(o, text, len);
    ch->b.len += len;
    return ch->b.len >= CHUNK_BYTES ? LDG_QUERY_WRITE_PAUSE : 0;
}

/*
 * A thread that writes a full chunk while the next one is filled: the
 * query goes on while a pipe's reader takes the output (on a two-core box
 * the scan stood still for every 4 MiB written). Chunks go out in order,
 * one at a time; run_once lets its snapshot go before it waits for the
 * thread, so a reader that stops reading still pins no snapshot.
 */
struct bgw {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct out *o;
    struct chunk *job; /* being written; NULL when idle */
    int rc;            /* the first nonzero write_out result */
    int quit, started;
};

static void *
bgw_main(void *arg)
{
    struct bgw *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct chunk *ch;
        int rc = 0, failed = w->rc != 0;
        while (w->job == NULL && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if ((ch = w->job) == NULL)
            break;
        pthread_mutex_unlock(&w->mu);
        if (!failed) /* after a failed write nothing more is written */
            rc = write_out(w->o, ch->b.s, ch->b.len);
        ch->b.len = 0;
        pthread_mutex_lock(&w->mu);
        if (rc != 0 && w->rc == 0)
            w->rc = rc;
        w->job = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until w has written what it was given: 0, or the first nonzero
 * result of its writes. */
static int
bgw_idle(struct bgw *w)
{
    int rc;
    if (!w->started)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (w->job != NULL)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Gives idle w ch to write (started on first use): 0, or -1 when no
 * thread can be had (the caller writes ch itself). */
static int
bgw_give(struct bgw *w, struct chunk *ch)
{
    if (!w->started) {
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->th, NULL, bgw_main, w) != 0) {
            pthread_cond_destroy(&w->cv);
            pthread_mutex_destroy(&w->mu);
            return -1;
        }
        w->started = 1;
    }
    pthread_mutex_lock(&w->mu);
    w->job = ch;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Waits for w's last write and ends the thread: as bgw_idle. */
static int
bgw_stop(struct bgw *w)
{
    int rc = bgw_idle(w);
    if (!w->started)
        return rc;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
    return rc;
}

/* The end of run_once's stream (rc 0 or a failure): what came before a
 * failure is printed, then the error. The last chunk goes out after the
 * one the thread writes; either write may be blocked by a reader that
 * stopped reading, so the snapshot is let go first, and a new one begun
 * for the caller (--explain) once all is written. (It was let go only
 * when a thread had written: an output under CHUNK_BYTES, a human table
 * of up to ~25,000 events, pinned it while its last write was blocked,
 * and `ledger query | less` left open grew data.mdb 12x; issue 29.) */
static int
finish(struct out *o, struct ldg_ledger *l, struct ldg_txn **tp, struct bgw *w,
       struct chunk *ch, int rc)
{
    char msg[1024] = "";
    int code = 0, wr;

    if (rc < 0) {
        const char *m = ldg_errmsg(l);
        snprintf(msg, sizeof msg, "%s", m && m[0] ? m : ldg_strerror(rc));
        code = cli_exit_code(rc);
    }
    ldg_txn_abort(*tp);
    *tp = NULL;
    wr = bgw_idle(w);
    if (wr == 0 && ch->b.len > 0)
        wr = write_out(o, ch->b.s, ch->b.len);
    ch->b.len = 0;
    if (*tp == NULL && ldg_txn_begin(l, LDG_TXN_READ, tp) < 0)
        *tp = NULL;
    if (code != 0) {
        cli_err(o->c, "%s", msg);
        return code;
    }
    return wr;
}

/*
 * Prints the matches of q with seq >= lo in *tp's snapshot. limit 0 = all.
 * Without -r and with a limit, the last `limit` matches are wanted in
 * forward order: a reverse pass finds where they start, then a forward
 * pass prints them (two passes over the same snapshot, constant memory).
 * Every CHUNK_BYTES of output the transaction is ended and a new one
 * begun (*tp replaced) to go on after the last event printed, never past
 * the first snapshot's size; the full chunk is written by a thread (struct
 * bgw) while the next is filled.
 */
static int
run_once(struct out *o, struct ldg_ledger *l, struct ldg_query *q,
         struct ldg_txn **tp, uint64_t lo, uint64_t limit, int reverse,
         uint64_t *last_seq)
{
    struct ldg_query_iter *it = NULL;
    struct ldg_query_stream_opts so;
    struct ldg_event ev;
    struct chunk ch[2];
    struct bgw w;
    uint64_t n = 0, size, hi;
    int rc, cur = 0, wr;

    memset(ch, 0, sizeof ch);
    memset(&w, 0, sizeof w);
    w.o = o;
    if ((rc = ldg_txn_size(*tp, &size)) < 0)
        return iter_error(o->c, *tp, rc);
    if (size == 0)
        return 0;
    hi = size - 1;
    ldg_query_restrict(q, lo, hi);
    if (limit > 0 && !reverse) {
        uint64_t first = 0;
        rc = ldg_query_iter_new(&it, q, *tp, LDG_QUERY_REVERSE);
        if (rc < 0)
            return iter_error(o->c, *tp, rc);
        while (n < limit && (rc = ldg_query_iter_next(it, &ev)) == 0) {
            first = ev.seq;
            n++;
        }
        ldg_query_iter_free(it);
        it = NULL;
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return iter_error(o->c, *tp, rc);
        if (n == 0)
            return 0;
        /* narrow to [first, ...]: the last `limit` matches */
        lo = first;
        ldg_query_restrict(q, lo, hi);
        limit = 0;
        n = 0;
    }
    for (;;) {
        uint64_t got = 0;
        rc = ldg_query_iter_new(&it, q, *tp, reverse ? LDG_QUERY_REVERSE : 0);
        if (rc < 0) {
            rc = iter_error(o->c, *tp, rc);
            break;
        }
        /* what the iterator read for each event (its decoded body or
         * stored record) is rendered without reading it again; -o json
         * renders on all cores */
        memset(&so, 0, sizeof so);
        so.limit = limit ? limit - n : 0;
        so.write = chunk_write;
        so.ctx = &ch[cur];
        so.stop = &stop_flag;
        rc = ldg_query_stream(it, o->r, &so, &got, &ev);
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
        if (rc != LDG_QUERY_WRITE_PAUSE) {
            rc = finish(o, l, tp, &w, &ch[cur], rc);
            break;
        }
        /* Paused with a chunk in hand: let the snapshot go, have the chunk
         * written (after the one before it), then go on from the event
         * after the last one printed, into the other chunk. */
        ldg_txn_abort(*tp);
        *tp = NULL;
        if ((rc = bgw_idle(&w)) != 0)
            break;
        if (bgw_give(&w, &ch[cur]) == 0) {
            cur ^= 1;
        } else {
            rc = write_out(o, ch[cur].b.s, ch[cur].b.len);
            ch[cur].b.len = 0;
            if (rc != 0)
                break;
        }
        if ((rc = ldg_txn_begin(l, LDG_TXN_READ, tp)) < 0) {
            cli_err(o->c, "reading the ledger: %s", ldg_strerror(rc));
            rc = cli_exit_code(rc);
            break;
        }
        if (reverse ? ev.seq <= lo : ev.seq >= hi)
            break;
        if (reverse)
            hi = ev.seq - 1;
        else
            lo = ev.seq + 1;
        ldg_query_restrict(q, lo, hi);
    }
    if ((wr = bgw_stop(&w)) != 0 && rc == 0)
        rc = wr;
    ldg_buf_release(&ch[0].b);
    ldg_buf_release(&ch[1].b);
    return rc == 1 ? 0 : rc;
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
        if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0 ||
            (rc = ldg_txn_size(t, &size)) < 0) {
            ldg_txn_abort(t);
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
        ldg_txn_abort(t);
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

static const struct cli_opt query_opts[] = {
    CLI_VALUE('S', 'S', "since", "TIME", "events at or after TIME"),
    CLI_VALUE('U', 'U', "until", "TIME", "events at or before TIME"),
    CLI_VALUE('g', 'g', "grep", "PATTERN",
              "events whose text matches the regular expression (PCRE2); "
              "repeated -g OR, as git log --grep"),
    CLI_VALUE('n', 'n', "lines", "N",
              "the last N matches (or 'all'); with -r the first N newest"),
    CLI_FLAG('r', 'r', "reverse", "newest first"),
    CLI_FLAG('f', 'f', "follow",
             "keep printing new matches as they are appended (the last 10 "
             "first, unless -n)"),
    CLI_VALUE(OPT_AFTER, 0, "after-cursor", "CURSOR",
              "only events after CURSOR (from --show-cursor)"),
    CLI_FLAG(OPT_SHOWCUR, 0, "show-cursor",
             "end with a cursor to continue from"),
    CLI_FLAG(OPT_EXPLAIN, 0, "explain",
             "say on standard error which index answered"),
    CLI_VALUE(OPT_FIELDS, 0, "output-fields", "LIST",
              "with -o json or json-pretty: only these keys, a comma-separated "
              "list of seq ts time recorded_ts recorded_time clock type "
              "subject run parent actor actor_name id source prev "
              "body_commitment leaf_hash claim_digest seal seal_leaf "
              "signature body model_at (as journalctl's)"),
    CLI_FLAG(OPT_DEPS, 0, "deps",
             "with pack=P: also what the pack depends on - its routes "
             "(declarations, decisions, evals, promotions) and their "
             "models and fallbacks (registrations, states, verifications), "
             "each with the other terms of pack=P's group (type=, run=, ...)"),
    CLI_BUNDLE_OPTS,
    CLI_ARG("FIELD=VALUE",
            "type=GLOB subject=GLOB run=ID actor=NAME|ID pack=P model=M "
            "route=R seq=N|A..B body.NAME=VALUE. Repeating a field ORs, "
            "different fields AND; a lone '+' starts another group, OR'ed "
            "with the others. FIELD!=VALUE negates (body.NAME!= only "
            "where the body has NAME); no other operator is understood",
            CLI_OPTIONAL | CLI_REPEAT),
    CLI_OPT_END};

const struct cli_command cli_cmd_query = {
    "query",
    CLI_GROUP_QUERY,
    cmd_query,
    "find events, journalctl-style",
    "Prints the events that match, oldest first, one line each (or in the "
    "format -o names), using the ledger's indexes. Matches work like "
    "journalctl's: FIELD=VALUE terms, time bounds with -S and -U, a body "
    "pattern with -g. TIME is a systemd.time(7) expression ('yesterday', "
    "'-1h', '11min ago', '2026-11-20 10:00', '@1763600000') or RFC 3339; "
    "times print in local time unless --utc. -S and -U select by the "
    "ledger's own (recorded) time; in -o json an event sent with the "
    "source's time shows it as \"time\" and \"ts\", with the ledger's "
    "as \"recorded_time\" and \"recorded_ts\" and \"clock\":\"source\" "
    "(docs/QUERY.md). With --bundle FILE it "
    "searches the selected events of an evidence bundle instead, after "
    "verifying it (withheld fields are not there to match). Exits 0 when "
    "it could look, even if nothing matched.",
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
    CLI_CMD_PAGER};

/* A standing verification finding (ledger verify found event *seq
 * altered, and no full verification has passed since): said once on
 * stderr, since what follows may show the altered data, and 1 returned
 * with *seq and what ("event N: ...") set; 0 when there is none (or it
 * cannot be read: the command shows what it can). unmarked: NULL when the
 * output marks the event, else why it cannot ("-o cat prints bodies
 * alone"), which is said instead. */
int
cli_finding(struct cli *c, struct ldg_ledger *l, uint64_t *seq, char *what,
            size_t cap, const char *unmarked)
{
    struct ldg_verify_state st;
    char when[32];

    if (ldg_verify_state(l, &st) < 0 || !st.finding)
        return 0;
    cli_when(when, sizeof when, st.finding_ts_ns);
    if (unmarked != NULL)
        cli_err(c,
                "WARNING: ledger verify found event %llu altered or not "
                "verifiable (%s): %s; it is NOT marked in this output (%s), "
                "and what is shown may be altered data until a full "
                "verification passes (ledger verify --full)",
                (unsigned long long)st.finding_seq, when, st.finding_what,
                unmarked);
    else
        cli_err(c,
                "WARNING: ledger verify found event %llu altered or not "
                "verifiable (%s): %s; it is marked where it is shown, and "
                "what is shown may be altered data until a full verification "
                "passes (ledger verify --full)",
                (unsigned long long)st.finding_seq, when, st.finding_what);
    *seq = st.finding_seq;
    snprintf(what, cap, "%s", st.finding_what);
    return 1;
}

/*
 * --deps: the terms, then for each pack=P among them an OR group for each
 * of its routes (route=R) and each model they use (model=M: the current
 * and declared model and the fallbacks), from the routes view. Each such
 * group carries the other terms of the group its pack=P is in (type=,
 * run=, body.X=, ...: `pack=P type=route.decision --deps` keeps only the
 * route decisions of P and of what it depends on). P may be a glob, as
 * pack= takes. *out points into the terms and into *store (a JSON array
 * that owns the new strings). 0 or an exit code (printed).
 */
static int
deps_terms(struct cli *c, int nterms, char **terms, char ***out, int *nout,
           json_t **store)
{
    static char plus[] = "+";
    struct ldg_view_opts vo;
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL, *r, *names = json_array(), *m;
    size_t i, k, cap;
    int rc, npacks = 0, g0, g1, t;

    for (t = 0; t < nterms; t++)
        npacks += strncmp(terms[t], "pack=", 5) == 0;
    if (npacks == 0) {
        json_decref(names);
        cli_err(c, "--deps needs a pack=P term");
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 1, &l)) != 0) {
        json_decref(names);
        return rc;
    }
    memset(&vo, 0, sizeof vo);
    rc = ldg_projections_view(l, LDG_VIEW_ROUTES, &vo, &rows);
    if (rc < 0) {
        cli_err(c, "--deps: %s",
                ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        ldg_close(l);
        json_decref(names);
        return cli_exit_code(rc);
    }
    ldg_close(l);
    /* names: for each group of the terms (split at "+") that has pack=
     * terms, [group start, group end, "route=R", "model=M", ...] */
    cap = (size_t)nterms;
    for (g0 = 0; g0 < nterms; g0 = g1 + 1) {
        json_t *deps = json_array();
        for (g1 = g0; g1 < nterms && strcmp(terms[g1], "+") != 0; g1++)
            ;
        json_array_foreach(rows, i, r)
        {
            const char *pk = json_string_value(json_object_get(r, "pack"));
            int mine = 0;
            char buf[600];
            for (t = g0; pk && t < g1; t++)
                mine |= strncmp(terms[t], "pack=", 5) == 0 &&
                        fnmatch(terms[t] + 5, pk, 0) == 0;
            if (!mine)
                continue;
            snprintf(buf, sizeof buf, "route=%s",
                     json_string_value(json_object_get(r, "route")));
            json_array_append_new(deps, json_string(buf));
            static const char *const mk[] = {"model", "declared_model"};
            for (k = 0; k < 2; k++)
                if (json_is_string(json_object_get(r, mk[k]))) {
                    snprintf(buf, sizeof buf, "model=%s",
                             json_string_value(json_object_get(r, mk[k])));
                    json_array_append_new(deps, json_string(buf));
                }
            json_array_foreach(json_object_get(r, "fallbacks"), k, m)
            {
                if (!json_is_string(m))
                    continue;
                snprintf(buf, sizeof buf, "model=%s", json_string_value(m));
                json_array_append_new(deps, json_string(buf));
            }
        }
        if (json_array_size(deps) > 0) {
            json_array_append_new(names, json_pack("{s:i, s:i, s:o}", "from",
                                                   g0, "to", g1, "deps", deps));
            cap += json_array_size(deps) * (size_t)(g1 - g0 + 2);
        } else {
            json_decref(deps);
        }
    }
    json_decref(rows);
    *out = calloc(cap + 1, sizeof **out);
    if (*out == NULL) {
        json_decref(names);
        return EX_OSERR;
    }
    memcpy(*out, terms, (size_t)nterms * sizeof **out);
    *nout = nterms;
    /* each dependency its own group: + OTHER-TERMS route=R + OTHER-TERMS
     * model=M ... (a duplicate group is harmless) */
    json_array_foreach(names, i, r)
    {
        g0 = (int)json_integer_value(json_object_get(r, "from"));
        g1 = (int)json_integer_value(json_object_get(r, "to"));
        json_array_foreach(json_object_get(r, "deps"), k, m)
        {
            (*out)[(*nout)++] = plus;
            for (t = g0; t < g1; t++)
                if (strncmp(terms[t], "pack=", 5) != 0)
                    (*out)[(*nout)++] = terms[t];
            (*out)[(*nout)++] = (char *)(uintptr_t)json_string_value(m);
        }
    }
    *store = names;
    return 0;
}

/* An event's seq as a bundle's events.jsonl has it ("?" if it has none). */
static const char *
bundle_seq(const json_t *e, char buf[24])
{
    const json_t *v = json_object_get(e, "seq");
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return "?";
}

/* The run's events among a bundle's, gathered as they come (timeline
 * RUN --bundle of a bundle without timeline.json), with how many it holds
 * and its first and last seq. */
struct brun {
    const char *run;
    json_t *evs;
    uint64_t events;
    char first_seq[24], last_seq[24];
};

static int
bundle_run_hit(void *ctx, json_t *e)
{
    struct brun *r = ctx;
    const char *run = json_string_value(json_object_get(e, "run"));
    char buf[24];
    if (r->events++ == 0)
        snprintf(r->first_seq, sizeof r->first_seq, "%s", bundle_seq(e, buf));
    snprintf(r->last_seq, sizeof r->last_seq, "%s", bundle_seq(e, buf));
    if (run != NULL && strcmp(run, r->run) == 0 &&
        json_array_append(r->evs, e) < 0)
        return EX_OSERR;
    return 0;
}

/* 1 (said) when the bundle holds no event of the run. */
static int
bundle_run_none(struct cli *c, const struct cli_bundle_args *ba,
                const struct brun *br)
{
    if (json_array_size(br->evs) > 0)
        return 0;
    cli_err(c,
            "bundle %s holds no timeline and no event of run %s (it "
            "holds %llu events, seq %s..%s)",
            ba->file, br->run, (unsigned long long)br->events, br->first_seq,
            br->last_seq);
    return 1;
}

/* timeline RUN --bundle FILE of a bundle with no timeline.json (an
 * archive, an export by selection): the run's events it holds, in seq
 * order, with their offsets from the first; -o json gives {"run",
 * "bundle", "from": "events", "events": [...]}. 66 when it holds none. */
static int
bundle_run_events(struct cli *c, const struct cli_bundle_args *ba,
                  struct brun *br)
{
    json_t *evs = br->evs, *e;
    size_t i;
    uint64_t t0 = 0;
    char b0[24], b1[24];

    if (bundle_run_none(c, ba, br))
        return EX_NOINPUT;
    cli_err(c,
            "bundle %s holds no timeline.json (`ledger export --run R` "
            "writes one): these are the events of run %s it holds",
            ba->file, br->run);
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, json_pack("{s:s, s:s, s:s, s:O}", "run", br->run,
                                    "bundle", ba->file, "from", "events",
                                    "events", evs));
        return EX_OK;
    }
    printf("run %s  (%zu events in %s, seq %s..%s)\n\ntimeline:\n", br->run,
           json_array_size(evs), ba->file,
           bundle_seq(json_array_get(evs, 0), b0),
           bundle_seq(json_array_get(evs, json_array_size(evs) - 1), b1));
    json_array_foreach(evs, i, e)
    {
        const char *ts = json_string_value(json_object_get(e, "ts"));
        const char *sub = json_string_value(json_object_get(e, "subject"));
        uint64_t t = ts ? strtoull(ts, NULL, 10) : 0;
        if (i == 0)
            t0 = t;
        printf("  %+10.3fs  #%-8s %s%s%s\n", (double)(t - t0) / 1e9,
               bundle_seq(e, b0),
               json_string_value(json_object_get(e, "type"))
                   ? json_string_value(json_object_get(e, "type"))
                   : "?",
               sub ? " " : "", sub ? sub : "");
    }
    printf("\n%zu events\n", json_array_size(evs));
    return EX_OK;
}

/* One match of query --bundle, as the ledger's query prints it: through
 * the ledger's own renderer, the lines and keys `query` gives. */
static int
bundle_print(const struct cli *c, struct ldg_query_render *r, json_t *e,
             enum ldg_query_format fmt)
{
    const char *text;
    size_t len;
    int rc;

    if ((rc = ldg_query_render_bundle_event(r, e, &text, &len)) < 0)
        return rc;
    if (fmt == LDG_QFMT_JSON || fmt == LDG_QFMT_JSON_PRETTY)
        fwrite(text, 1, len, stdout);
    else /* fitted to the terminal, as a ledger's lines are */
        cli_line(c, text, len - 1, 0, NULL, NULL);
    return 0;
}

/* The matches of query --bundle, gathered as the events come: all of
 * them, or with -n N only the last N (a ring), so that a segment's
 * millions of events are never held. */
struct bhits {
    struct cli *c;
    const struct ldg_query *q;
    struct ldg_query_render *r;
    enum ldg_query_format fmt;
    int stream; /* no -n, no -r: each match printed as it comes */
    uint64_t limit;
    json_t **v; /* a ring of cap when limited */
    size_t n, cap, start;
    uint64_t events, matched;
    char first_seq[24], last_seq[24];
    int rc;
};

static int
bundle_hit(void *ctx, json_t *e)
{
    struct bhits *h = ctx;
    int m = ldg_query_match_json(h->q, e);
    char buf[24];
    if (h->events++ == 0)
        snprintf(h->first_seq, sizeof h->first_seq, "%s", bundle_seq(e, buf));
    snprintf(h->last_seq, sizeof h->last_seq, "%s", bundle_seq(e, buf));
    if (m < 0) {
        h->rc = m;
        return EX_DATAERR;
    }
    if (m != 1)
        return 0;
    h->matched++;
    if (h->stream) {
        if ((h->rc = bundle_print(h->c, h->r, e, h->fmt)) < 0)
            return h->rc == LDG_ENOMEM ? EX_OSERR : EX_DATAERR;
        return ferror(stdout) ? EX_IOERR : 0;
    }
    if (h->limit > 0 && h->n == h->limit) {
        /* full: the oldest goes */
        json_decref(h->v[h->start]);
        h->v[h->start] = json_incref(e);
        h->start = (h->start + 1) % h->n;
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        json_t **v;
        if (h->limit > 0 && cap > h->limit)
            cap = (size_t)h->limit;
        if ((v = realloc(h->v, cap * sizeof *v)) == NULL) {
            h->rc = LDG_ENOMEM;
            return EX_OSERR;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = json_incref(e);
    return 0;
}

/* query --bundle: the matches among a verified bundle's selected events
 * (a segment's range). */
static int
query_bundle(struct cli *c, const struct cli_bundle_args *ba,
             const struct ldg_query *q, enum ldg_query_format fmt,
             uint32_t fields, uint64_t limit, int reverse)
{
    struct ldg_bundle_contents *bc = NULL;
    struct bhits h;
    int rc;

    if (fmt != LDG_QFMT_SHORT && fmt != LDG_QFMT_SHORT_UTC &&
        fmt != LDG_QFMT_SHORT_ISO && fmt != LDG_QFMT_JSON &&
        fmt != LDG_QFMT_JSON_PRETTY)
        return cli_usage_err(c, "--bundle prints short, short-iso, "
                                "short-utc, json or json-pretty");
    memset(&h, 0, sizeof h);
    h.c = c;
    h.q = q;
    h.fmt = fmt;
    h.stream = limit == 0 && !reverse;
    signal(SIGPIPE, SIG_IGN);
    /* -n N: the last N (with -r, the first N newest), as on a ledger;
     * either way the last N matches */
    h.limit = limit;
    /* the ledger's own renderer: the lines `query` prints */
    if (ldg_query_render_new(&h.r, fmt, 0) < 0 ||
        (fields != LDG_QF_ALL &&
         ldg_query_render_set_fields(h.r, fields) < 0)) {
        ldg_query_render_free(h.r);
        return EX_OSERR;
    }
    rc = cli_bundle_each(c, ba, bundle_hit, &h, &bc);
    if (rc != 0) {
        if (h.rc < 0)
            cli_err(c, "bundle %s: event %llu: %s", ba->file,
                    (unsigned long long)h.events, ldg_strerror(h.rc));
        goto out;
    }
    if (h.matched == 0) {
        /* a bundle holds a selection: say which, so that an empty answer
         * is not taken for the log's */
        if (h.events == 0)
            cli_err(c, "bundle %s holds no events", ba->file);
        else
            cli_err(c,
                    "no event of bundle %s matches: it holds %llu events of "
                    "the log %s, seq %s..%s%s",
                    ba->file, (unsigned long long)h.events, bc->origin,
                    h.first_seq, h.last_seq,
                    h.events == bc->checkpoint_size
                        ? ""
                        : " (a selection; an archive holds the events before "
                          "its horizon, earlier archives the ones before "
                          "those)");
    }
    for (size_t k = 0; k < h.n; k++) {
        /* the ring's oldest is at start */
        size_t at =
            reverse ? (h.start + h.n - 1 - k) % h.n : (h.start + k) % h.n;
        if ((rc = bundle_print(c, h.r, h.v[at], fmt)) < 0) {
            cli_err(c, "bundle %s: %s", ba->file, ldg_strerror(rc));
            rc = rc == LDG_ENOMEM ? EX_OSERR : EX_DATAERR;
            goto out;
        }
        if (ferror(stdout))
            break;
    }
    rc = EX_OK;
    if (fflush(stdout) != 0 && errno != EPIPE) {
        cli_err(c, "writing the output: %s", strerror(errno));
        rc = EX_IOERR;
    }
out:
    for (size_t k = 0; k < h.n; k++)
        json_decref(h.v[k]);
    free(h.v);
    ldg_query_render_free(h.r);
    ldg_export_contents_free(bc);
    return rc;
}

/* What `ledger query` was asked. */
struct qargs {
    const char *since, *until, *after, *limit_s, *fields_s;
    const char *patterns[64];
    int npatterns, reverse, follow_mode, show_cursor, explain, deps, ind;
    uint32_t fields;
    enum ldg_query_format fmt;
    uint64_t limit;
    struct cli_bundle_args ba;
};

/* The options and how they go together: 0, or the exit code; g->ind the
 * first MATCH term. */
static int
query_parse(struct cli *c, int argc, char **argv, struct qargs *g)
{
    struct cli_args a;
    char err[1024];
    int ch, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'S':
            g->since = a.value;
            break;
        case 'U':
            g->until = a.value;
            break;
        case 'g':
            /* repeated -g OR, as git log --grep */
            if (g->npatterns ==
                (int)(sizeof g->patterns / sizeof *g->patterns)) {
                cli_err(c, "more than %d -g patterns",
                        (int)(sizeof g->patterns / sizeof *g->patterns));
                return EX_USAGE;
            }
            g->patterns[g->npatterns++] = a.value;
            break;
        case 'n':
            g->limit_s = a.value;
            break;
        case 'r':
            g->reverse = 1;
            break;
        case 'f':
            g->follow_mode = 1;
            break;
        case OPT_AFTER:
            g->after = a.value;
            break;
        case OPT_SHOWCUR:
            g->show_cursor = 1;
            break;
        case OPT_EXPLAIN:
            g->explain = 1;
            break;
        case OPT_DEPS:
            g->deps = 1;
            break;
        case OPT_FIELDS:
            g->fields_s = a.value;
            break;
        default:
            rc = cli_bundle_opt(c, &g->ba, ch, a.value);
            if (rc < 0)
                return -rc;
            if (rc == 0)
                return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (g->ba.file == NULL && (g->ba.have_key || g->ba.insecure))
        return cli_usage_err(c, "--trusted-key and "
                                "--insecure-trust-bundle-key go with "
                                "--bundle FILE");
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
    g->ind = a.ind;
    return 0;
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
    if (g->explain && t != NULL) {
        struct ldg_query_iter *it = NULL;
        struct ldg_query_stats st;
        if (ldg_query_iter_new(&it, q, t, 0) == 0) {
            ldg_query_iter_stats(it, &st);
            fprintf(stderr, "plan: %s; seq window %llu..%llu\n", st.plan,
                    (unsigned long long)st.seq_lo,
                    (unsigned long long)st.seq_hi);
        }
        ldg_query_iter_free(it);
    }
    return rc;
}

int
cmd_query(struct cli *c, int argc, char **argv)
{
    struct qargs g;
    char **dterms = NULL;
    int ndterms = 0, rc;
    json_t *dstore = NULL;
    struct ldg_query *q = NULL;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct out o;
    uint64_t size = 0, cursor_lo = 0;
    char err[1024];

    memset(&g, 0, sizeof g);
    g.fields = LDG_QF_ALL;
    g.fmt = LDG_QFMT_SHORT;
    if ((rc = query_parse(c, argc, argv, &g)) != 0)
        return rc;
    if (g.deps) {
        if ((rc = cli_resolve_dir(c)) != 0 ||
            (rc = deps_terms(c, argc - g.ind, argv + g.ind, &dterms, &ndterms,
                             &dstore)) != 0)
            goto out;
        rc = ldg_query_compile(&q, ndterms, dterms, g.since, g.until, err,
                               sizeof err);
    } else {
        rc = ldg_query_compile(&q, argc - g.ind, argv + g.ind, g.since, g.until,
                               err, sizeof err);
    }
    for (int i = 0; rc == 0 && i < g.npatterns; i++)
        rc = ldg_query_set_grep(q, g.patterns[i], err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        ldg_query_free(q);
        return rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
    }
    if (g.ba.file != NULL) {
        rc = query_bundle(c, &g.ba, q, g.fmt, g.fields, g.limit, g.reverse);
        ldg_query_free(q);
        return rc;
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        goto out;
    if ((rc = cli_open(c, 1, &l)) != 0)
        goto out;
    memset(&o, 0, sizeof o);
    o.c = c;
    o.show_cursor = g.show_cursor;
    o.json = g.fmt == LDG_QFMT_JSON || g.fmt == LDG_QFMT_JSON_PRETTY;
    o.cut = c->fit && !o.json && g.fmt != LDG_QFMT_CAT;
    if ((rc = ldg_query_render_new(
             &o.r, g.fmt, g.show_cursor ? LDG_RENDER_CURSOR : 0)) < 0 ||
        (g.fields != LDG_QF_ALL &&
         (rc = ldg_query_render_set_fields(o.r, g.fields)) < 0)) {
        cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    {
        uint64_t bad;
        char what[512];
        if (cli_finding(c, l, &bad, what, sizeof what,
                        ldg_query_render_marks(o.r)
                            ? NULL
                            : "-o cat prints the bodies alone") &&
            (rc = ldg_query_render_set_finding(o.r, bad, what)) < 0) {
            cli_err(c, "%s", ldg_strerror(rc));
            rc = cli_exit_code(rc);
            goto out_r;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (g.follow_mode) {
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
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0 ||
        (rc = ldg_txn_size(t, &size)) < 0) {
        cli_err(c, "reading the ledger: %s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out_r;
    }
    if (g.after != NULL) {
        uint64_t cseq;
        rc = ldg_query_cursor_check(t, g.after, &cseq, err, sizeof err);
        if (rc < 0) {
            cli_err(c, "%s", err);
            rc = cli_exit_code(rc);
            goto out_r;
        }
        cursor_lo = cseq + 1;
    }
    rc = run_once(&o, l, q, &t, cursor_lo, g.limit, g.reverse, NULL);
    ldg_query_restrict(q, cursor_lo, UINT64_MAX);
    rc = query_said(c, l, q, t, &g, o.printed, rc);
    ldg_txn_abort(t);
    t = NULL;
    if (rc != 0)
        goto out_r;
    print_cursor(&o);
    if ((rc = flush_out(&o)) == 1)
        rc = 0;
    if (rc == 0 && g.follow_mode && !o.closed) {
        rc = follow(&o, l, q, size, cursor_lo);
        print_cursor(&o);
        if (flush_out(&o) == EX_IOERR && rc == 0)
            rc = EX_IOERR;
    }
out_r:
    ldg_txn_abort(t);
    ldg_query_render_free(o.r);
out:
    ldg_query_free(q);
    ldg_close(l);
    free(dterms);
    json_decref(dstore);
    return rc;
}

/* (a long option's id: above the common options' and CLI_OPT_BUNDLE's) */
enum { OPT_TL_HTML = 0x4c48, OPT_TL_TRACE };
static const struct cli_opt timeline_opts[] = {
    CLI_BUNDLE_OPTS,
    CLI_VALUE(OPT_TL_HTML, 0, "html", "FILE",
              "write the run (or plan) as one self-contained HTML page to FILE "
              "(- for "
              "standard output): a picture on a time axis, the doctor at its "
              "start, the evidence status, every event (docs/PAGE.md)"),
    CLI_VALUE(OPT_TL_TRACE, 0, "trace", "ID",
              "instead of a run: the events of this trace (32 hex digits: "
              "the spans and logs `ledger serve --otlp` took, the proxy's "
              "records of requests that carried its traceparent), whatever "
              "their run; found by a scan of the log"),
    CLI_ARG("RUN",
            "the run's id (as in `ledger runs`), or a plan's (`ledger plans`)",
            0),
    CLI_OPT_END};

const struct cli_command cli_cmd_timeline = {
    "timeline",
    CLI_GROUP_QUERY,
    cmd_timeline,
    "the flight-recorder view of a run",
    "Prints the story of one run: when it started and with which pack, "
    "each step, route decision (which model served it, and why), policy "
    "decision and failure in order, how it ended, and a summary. Each "
    "route decision, eval and promotion also shows the weights its model "
    "had then: the digest the runtime last reported before it and whether "
    "`ledger model verify` had hashed them (model_at in -o json). This is "
    "the view to start from when someone asks what happened to their "
    "request. With --bundle FILE it reads the timeline an `export --run` "
    "put in an evidence bundle, after verifying the bundle, with no ledger "
    "at hand; a bundle without one (an archive of `ledger archive`) gives "
    "the run's events it holds. When no run has that id but a plan of the "
    "box's control "
    "pipeline does (`ledger plans`), it prints the plan's story: its "
    "states, steps, debates, snapshots, tripcodes and builds, with each "
    "broken rule marked '!' under the event that broke it.\n\n"
    "With --html FILE it writes the same run as one HTML page that needs "
    "nothing "
    "else (no script, font or image from anywhere): a time axis with one "
    "lane per kind of event, each event a mark with its type and body as a "
    "tooltip, failures and denials in red with a cross, route decisions "
    "with the model that answered and any fallback, the doctor's verdict "
    "for the run's pack at its start, and what the events are proven "
    "against. Every evidence bundle carries such a page as index.html.\n\n"
    "Spans an application exported to `ledger serve --otlp` (docs/OTLP.md) "
    "are shown as a tree (each indented under its parent), and a model "
    "call the proxy recorded for a request that carried the span's trace "
    "context (traceparent) is shown under the application's span: one "
    "request, two witnesses, with what they disagree on (the model, the "
    "tokens, the outcome) marked '!'. A trace is the run of its spans by "
    "default, so `ledger timeline TRACEID` shows it; --trace ID selects "
    "its events whatever their run.",
    timeline_opts,
    CLI_OUT_BASIC,
    "ledger timeline r1\n"
    "ledger timeline r1 -o json-pretty\n"
    "# on the receiving side: the run's story from the bundle alone\n"
    "ledger timeline r1 --bundle r1.bundle --trusted-key box.vkey\n"
    "# a page to attach to the ticket\n"
    "ledger timeline r1 --html r1.html\n"
    "# an application's trace (OpenTelemetry), with the proxy's records\n"
    "ledger timeline --trace 5b8efff798038103d269b633813fc60c\n",
    CLI_CMD_PAGER};

/* Writes text to file whole (a temporary file renamed over it), or to
 * standard output for "-". */
static int
write_whole(struct cli *c, const char *file, const char *text, size_t len)
{
    char tmp[4200];
    int fd;
    if (strcmp(file, "-") == 0) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            if (errno == EPIPE)
                return EX_OK;
            cli_err(c, "writing the page: %s", strerror(errno));
            return EX_IOERR;
        }
        return EX_OK;
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", file, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        cli_err(c, "cannot create %s: %s", file, strerror(errno));
        return EX_CANTCREAT;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cli_err(c, "writing %s: %s", file, strerror(errno));
            close(fd);
            unlink(tmp);
            return EX_IOERR;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 || rename(tmp, file) != 0) {
        cli_err(c, "writing %s: %s", file, strerror(errno));
        unlink(tmp);
        return EX_IOERR;
    }
    return EX_OK;
}

/* The page of a run (page/page.h): tl, the doctor at its start (may be
 * NULL), what the events are proven against (evidence, taken), and a
 * notice (may be NULL). */
static int page_write(struct cli *c, json_t *m, json_t *evidence,
                      const char *notice, const char *file);

static int
timeline_page(struct cli *c, const json_t *tl, const json_t *doctor,
              const char *doctor_title, json_t *evidence, const char *notice,
              const char *file)
{
    json_t *m = NULL;
    /* a plan's story (ldg_pipeline_timeline's) or a run's timeline */
    int is_plan = json_is_string(json_object_get(tl, "plan")) &&
                  json_is_array(json_object_get(tl, "path"));

    if ((is_plan ? ldg_page_plan(tl, &m) : ldg_page_run(tl, &m)) < 0) {
        json_decref(evidence);
        cli_err(c, "the timeline cannot be drawn (not a timeline)");
        return EX_DATAERR;
    }
    if (doctor != NULL)
        ldg_page_set_doctor(m, doctor,
                            json_string_value(json_object_get(tl, "pack")),
                            doctor_title);
    return page_write(c, m, evidence, notice, file);
}

/* Writes the page of model m (taken), with what its events are proven
 * against (evidence, taken) and a notice (may be NULL), into file. */
static int
page_write(struct cli *c, json_t *m, json_t *evidence, const char *notice,
           const char *file)
{
    char *html = NULL;
    size_t hlen = 0;
    char gen[128], when[64];
    int rc;

    json_object_set_new(m, "evidence", evidence);
    if (notice != NULL)
        json_object_set_new(m, "notice", json_string(notice));
    ldg_time_rfc3339_sec(when, sizeof when, ldg_now_wall_ns());
    snprintf(gen, sizeof gen, "Written by `ledger timeline --html` at %s.",
             when);
    json_object_set_new(m, "generator", json_string(gen));
    rc = ldg_page_html(m, &html, &hlen);
    json_decref(m);
    if (rc < 0) {
        cli_err(c, "drawing the page: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    rc = write_whole(c, file, html, hlen);
    free(html);
    return rc;
}

static json_t *
evidence_lines(const char *status)
{
    return json_pack("{s:s, s:[]}", "status", status, "lines");
}

static void add_line(json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
add_line(json_t *ev, const char *fmt, ...)
{
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    json_array_append_new(json_object_get(ev, "lines"), json_string(s));
}

/* timeline RUN --bundle FILE --html of a bundle with no timeline.json (an
 * archive): the page of the run's events it holds, as the text form lists
 * them (page/page.h, ldg_page_events). */
static int
bundle_run_page(struct cli *c, const struct cli_bundle_args *ba,
                const struct ldg_bundle_contents *bc, const struct brun *br,
                const char *file)
{
    json_t *evs = br->evs, *m = NULL, *ev;
    char title[400], sub[600], b0[24], b1[24];
    int rc;

    if (bundle_run_none(c, ba, br))
        return EX_NOINPUT;
    cli_err(c,
            "bundle %s holds no timeline.json (`ledger export --run R` "
            "writes one): the page shows the events of run %s it holds",
            ba->file, br->run);
    snprintf(title, sizeof title, "Run %s", br->run);
    snprintf(sub, sizeof sub, "%zu events in %s, seq %s..%s",
             json_array_size(evs), ba->file,
             bundle_seq(json_array_get(evs, 0), b0),
             bundle_seq(json_array_get(evs, json_array_size(evs) - 1), b1));
    rc = ldg_page_events(evs, json_array_size(evs), title, sub, &m);
    if (rc < 0) {
        cli_err(c, "drawing the page: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    ev = evidence_lines(ba->insecure ? "warn" : "ok");
    add_line(ev,
             "Verified just now by this program, as `ledger verify-bundle %s` "
             "does: the bundle's %llu events are proven against its "
             "checkpoint of size %llu of the log %s.",
             ba->file, (unsigned long long)br->events,
             (unsigned long long)bc->checkpoint_size, bc->origin);
    return page_write(c, m, ev,
                      "This page is drawn from an evidence bundle by its "
                      "receiver, after verifying it. The bundle holds no "
                      "timeline of the run (an archive, or an export by "
                      "selection): these are the run's events it holds.",
                      file);
}

/* What the run's events in the ledger rest on: the newest checkpoint, the
 * log key and what `ledger verify` last found. */
static json_t *
ledger_evidence(struct ldg_ledger *l, struct ldg_txn *t, const char *flag,
                const char *run)
{
    struct ldg_verify_state vs;
    uint64_t size = 0;
    char vkey[512] = "?", when[64];
    json_t *ev;
    int have_vs = ldg_verify_state(l, &vs) == 0;

    ldg_txn_size(t, &size);
    ldg_verifier_key(l, vkey, sizeof vkey);
    ev = evidence_lines(!have_vs || vs.finding     ? "fail"
                        : vs.verified_size >= size ? "ok"
                                                   : "warn");
    add_line(ev,
             "From the ledger %s (origin %s), the box's own log: its newest "
             "checkpoint covers events 0 to %llu and is signed by the log "
             "key %s.",
             ldg_dir(l), ldg_origin(l),
             (unsigned long long)(size ? size - 1 : 0), vkey);
    if (!have_vs)
        add_line(ev, "What `ledger verify` last found cannot be read.");
    else if (vs.finding)
        add_line(ev,
                 "A verification FAILED and that finding stands: event %llu: "
                 "%s. Do not trust this page until `ledger verify` passes.",
                 (unsigned long long)vs.finding_seq, vs.finding_what);
    else if (vs.verified_size == 0)
        add_line(ev, "`ledger verify` has not checked this log yet: run it "
                     "to re-check every signature, the chain and the tree.");
    else {
        if (vs.full_ts_ns)
            ldg_time_rfc3339_sec(when, sizeof when, vs.full_ts_ns);
        add_line(
            ev,
            "`ledger verify` has checked events 0 to %llu%s%s%s; %llu "
            "appended since are not yet verified.",
            (unsigned long long)(vs.verified_size ? vs.verified_size - 1 : 0),
            vs.full_ts_ns ? " (last full verification " : "",
            vs.full_ts_ns ? when : "", vs.full_ts_ns ? ")" : "",
            (unsigned long long)(size > vs.verified_size
                                     ? size - vs.verified_size
                                     : 0));
    }
    add_line(ev,
             "To prove the events to someone else: `ledger export %s %s` "
             "writes a bundle that `ledger verify-bundle` checks offline.",
             flag, run);
    return ev;
}

/* Shows a timeline: its page (--html FILE), -o json, or its lines; takes
 * tl and evidence. */
static int
timeline_show(struct cli *c, json_t *tl, const json_t *doctor,
              const char *dtitle, json_t *evidence, const char *notice,
              const char *html)
{
    char *text = NULL;
    int rc, events = 0;

    if (html != NULL) {
        rc = timeline_page(c, tl, doctor, dtitle, evidence, notice, html);
        json_decref(tl);
        return rc;
    }
    json_decref(evidence);
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, tl);
        goto flush;
    }
    rc = ldg_query_timeline_text(tl, &text);
    json_decref(tl);
    if (rc < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    /* on a colour terminal the lines marked '!' (a failure, a denial, a
     * model down, a grant withdrawn) are red; on a terminal a line wider
     * than 80 columns is wrapped at its field gaps, an event's under its
     * detail column (after the time, seq and kind: 34 columns), the others
     * indented by 4 */
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        int bad = c->color && p[0] == '!';
        cli_line(c, p, n, events ? 34 : 4,
                 bad ? cli_paint(c->color, CLI_PAINT_FAIL) : NULL,
                 bad ? cli_paint(c->color, CLI_PAINT_OFF) : NULL);
        if (n == 9 && strncmp(p, "timeline:", 9) == 0)
            events = 1;
        else if (n == 0)
            events = 0;
        p += n;
        if (*p == '\n')
            p++;
    }
    free(text);
flush:
    if (fflush(stdout) != 0 && errno != EPIPE) {
        cli_err(c, "writing the output: %s", strerror(errno));
        return EX_IOERR;
    }
    return EX_OK;
}

/* ledger timeline RUN --bundle FILE: the run's (or plan's) timeline the
 * bundle holds, verified first. */
static int
timeline_bundle(struct cli *c, struct cli_bundle_args *ba, const char *run,
                const char *html)
{
    struct ldg_bundle_contents *bc = NULL;
    json_t *tl = NULL, *doctor = NULL, *evidence = NULL;
    char dtitle[200] = "Doctor at the run's start";
    int rc;

    const json_t *bt;
    struct brun br;
    if (run[0] == '\0' || strlen(run) > LDG_RUN_MAX)
        return cli_usage_err(c, "run id must be 1..%d bytes", LDG_RUN_MAX);
    memset(&br, 0, sizeof br);
    br.run = run;
    if ((br.evs = json_array()) == NULL)
        return EX_OSERR;
    if ((rc = cli_bundle_each(c, ba, bundle_run_hit, &br, &bc)) != 0) {
        json_decref(br.evs);
        return rc;
    }
    bt = bc->timeline;
    if (bt != NULL && json_is_string(json_object_get(bt, "plan")) &&
        strcmp(json_string_value(json_object_get(bt, "plan")), run) == 0) {
        /* export --plan's: the plan's story (cmd_pipeline.c) */
        if (html != NULL) {
            json_t *ev = evidence_lines(ba->insecure ? "warn" : "ok");
            add_line(ev,
                     "Verified just now by this program, as `ledger "
                     "verify-bundle %s` does: the bundle's %zu events are "
                     "proven against its checkpoint of size %llu of the "
                     "log %s.",
                     ba->file, json_array_size(bc->events),
                     (unsigned long long)bc->checkpoint_size, bc->origin);
            rc = timeline_page(c, json_object_get(bt, "timeline"), NULL, NULL,
                               ev,
                               "This page is drawn from an evidence "
                               "bundle by its receiver, after verifying "
                               "it.",
                               html);
        } else {
            rc = cli_plan_timeline_json(c, json_object_get(bt, "timeline"));
        }
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return rc;
    }
    if (bt == NULL) {
        /* no timeline.json (an archive, an export by selection): the
         * run's events the bundle holds, as it gives them, or their
         * page */
        rc = html != NULL ? bundle_run_page(c, ba, bc, &br, html)
                          : bundle_run_events(c, ba, &br);
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return rc;
    }
    if (bt == NULL || strcmp(json_string_value(json_object_get(bt, "run"))
                                 ? json_string_value(json_object_get(bt, "run"))
                                 : "",
                             run) != 0) {
        if (bt == NULL)
            cli_err(c,
                    "bundle %s holds no timeline (`ledger export --run "
                    "R` writes one, unless something is redacted)",
                    ba->file);
        else if (json_is_string(json_object_get(bt, "plan")))
            cli_err(c, "bundle %s holds the timeline of plan %s, not of %s",
                    ba->file, json_string_value(json_object_get(bt, "plan")),
                    run);
        else
            cli_err(c,
                    "bundle %s holds the timeline of run %s, not of "
                    "run %s",
                    ba->file, json_string_value(json_object_get(bt, "run")),
                    run);
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return EX_NOINPUT;
    }
    tl = json_incref(json_object_get(bt, "timeline"));
    if (html != NULL) {
        /* the exporter's doctor at the run's start, and what
         * verify-bundle has just proven */
        doctor = json_incref(json_array_get(json_object_get(bt, "doctor"), 0));
        if (doctor != NULL)
            snprintf(dtitle, sizeof dtitle,
                     "Doctor at the run's start (the exporter's view, log "
                     "size %s)",
                     json_string_value(json_object_get(doctor, "size"))
                         ? json_string_value(json_object_get(doctor, "size"))
                         : "?");
        evidence = evidence_lines(ba->insecure ? "warn" : "ok");
        add_line(evidence,
                 "Verified just now by this program, as `ledger "
                 "verify-bundle %s` does: the bundle's %zu events are "
                 "proven against its checkpoint of size %llu of the log "
                 "%s, signed by %s.",
                 ba->file, json_array_size(bc->events),
                 (unsigned long long)bc->checkpoint_size, bc->origin,
                 ba->insecure ? "the key the bundle carries (not checked "
                                "against a trusted key: "
                                "--insecure-trust-bundle-key)"
                              : "the trusted key given");
    }
    json_decref(br.evs);
    ldg_export_contents_free(bc);
    if (!json_is_object(tl)) {
        json_decref(tl);
        json_decref(doctor);
        json_decref(evidence);
        cli_err(c, "bundle %s: its timeline.json has no timeline", ba->file);
        return EX_DATAERR;
    }
    rc = timeline_show(c, tl, doctor, dtitle, evidence,
                       "This page is drawn from an evidence bundle by its "
                       "receiver, after verifying it.",
                       html);
    json_decref(doctor);
    return rc;
}

int
cmd_timeline(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    json_t *tl = NULL;
    struct cli_bundle_args ba;
    const char *html = NULL, *trace = NULL, *run;
    json_t *doctor = NULL, *evidence = NULL;
    char dtitle[200] = "Doctor at the run's start", note[3000];
    int ch, rc, kind = 0;

    memset(&ba, 0, sizeof ba);
    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == OPT_TL_HTML) {
            if (a.value[0] == '\0')
                return cli_usage_err(c, "--html: empty file name");
            html = a.value;
            continue;
        }
        if (ch == OPT_TL_TRACE) {
            trace = a.value;
            continue;
        }
        rc = cli_bundle_opt(c, &ba, ch, a.value);
        if (rc < 0)
            return -rc;
        if (rc == 0)
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if (trace != NULL && a.ind != argc)
        return cli_usage_err(c, "--trace ID or RUN, not both");
    if (trace != NULL && ba.file != NULL)
        return cli_usage_err(c, "--trace does not go with --bundle");
    if (trace == NULL && a.ind + 1 != argc)
        return cli_usage(c);
    if (ba.file == NULL && (ba.have_key || ba.insecure))
        return cli_usage_err(c, "--trusted-key and "
                                "--insecure-trust-bundle-key go with "
                                "--bundle FILE");
    if (html != NULL && c->out_name != NULL)
        return cli_usage_err(c, "--html writes a page: -o does not go with "
                                "it");
    if (c->out == OUT_HUMAN && c->out_name != NULL &&
        strcmp(c->out_name, "human") != 0 &&
        strcmp(c->out_name, "short") != 0) {
        cli_err(c,
                "unknown output format '%s' (use human, json or "
                "json-pretty)",
                c->out_name);
        return EX_USAGE;
    }
    if (ba.file != NULL)
        return timeline_bundle(c, &ba, argv[a.ind], html);
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0) {
        cli_err(c, "reading the ledger: %s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    run = trace != NULL ? trace : argv[a.ind];
    /* a run, else a plan (ldg_pipeline_timeline_find), or why neither */
    rc = trace != NULL ? ldg_query_timeline_trace(t, trace, &tl)
                       : ldg_pipeline_timeline_find(l, t, run, &tl, &kind, note,
                                                    sizeof note);
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l));
        if (rc == LDG_ENOTFOUND && trace != NULL)
            cli_pruned(c, l, "it may be in an archive");
        rc = rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
        goto out;
    }
    if (note[0] != '\0')
        cli_err(c, "%s", note);
    if (kind == LDG_TIMELINE_PLAN) {
        /* the plan's story (cmd_pipeline.c) */
        if (html != NULL) {
            evidence = ledger_evidence(l, t, "--plan", run);
            ldg_txn_abort(t);
            t = NULL;
            rc = timeline_page(c, tl, NULL, NULL, evidence, NULL, html);
            evidence = NULL;
        } else {
            rc = cli_plan_timeline_json(c, tl);
        }
        goto out;
    }
    if (html != NULL) {
        /* the log-derived doctor after the events before the run's start
         * (export's SUMMARY.txt takes the same) */
        struct ldg_view_opts vo;
        const char *ss = json_string_value(
            json_object_get(json_object_get(tl, "start"), "seq"));
        memset(&vo, 0, sizeof vo);
        vo.at_size = ss ? strtoull(ss, NULL, 10) : 0;
        evidence = ledger_evidence(l, t, "--run", run);
        ldg_txn_abort(t);
        t = NULL;
        if (vo.at_size > 0 &&
            ldg_projections_view(l, LDG_VIEW_DOCTOR, &vo, &doctor) == 0)
            snprintf(dtitle, sizeof dtitle,
                     "Doctor at the run's start (log size %llu)",
                     (unsigned long long)vo.at_size);
    }
    ldg_txn_abort(t);
    t = NULL;
    {
        uint64_t bad;
        char what[512], sq[24];
        size_t i;
        json_t *e;
        if (cli_finding(c, l, &bad, what, sizeof what, NULL)) {
            snprintf(sq, sizeof sq, "%llu", (unsigned long long)bad);
            json_array_foreach(json_object_get(tl, "events"), i, e)
            {
                const char *es = json_string_value(json_object_get(e, "seq"));
                if (es != NULL && strcmp(es, sq) == 0)
                    json_object_set_new(e, "verify",
                                        json_sprintf("failed: %s", what));
            }
        }
    }
    rc = timeline_show(c, tl, doctor, dtitle, evidence, NULL, html);
    tl = NULL;
    evidence = NULL;
out:
    json_decref(tl);
    json_decref(doctor);
    json_decref(evidence);
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}
