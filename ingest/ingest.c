/*
 * ingest.c — JSON Lines reader and bulk append.
 *
 * Lines are read with a bounded reader: a line longer than the body limit
 * plus room for the envelope is refused (and skipped) before any buffer
 * grows past that bound, so outside input cannot make us allocate without
 * limit.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ingest/ingest_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define ENVELOPE_ROOM (64 * 1024)

/* The fields of an event line (and of a serve request). */
enum {
    F_TYPE,
    F_BODY,
    F_SUBJECT,
    F_RUN,
    F_PARENT,
    F_ACTOR,
    F_ID,
    F_TIME,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "type", "body", "subject", "run", "parent", "actor", "id", "time"};

static int
field_index(const char *key)
{
    for (int i = 0; i < F_COUNT; i++)
        if (key[0] == field_names[i][0] && strcmp(key, field_names[i]) == 0)
            return i;
    return -1;
}

int
ldg_ingest_parse_time(const char *s, uint64_t *ns, const char **why)
{
    *why = "must be RFC 3339 (2026-11-22T20:55:01.5Z) or nanoseconds since "
           "the epoch as a string";
    if (*s == '\0')
        return LDG_EBADINPUT;
    if (strspn(s, "0123456789") == strlen(s)) {
        if (ldg_parse_u64(s, strlen(s), 0, ns) < 0)
            goto range;
        return 0;
    }
    switch (ldg_time_parse_rfc3339(s, strlen(s), 0, ns)) {
    case 0:
        return 0;
    case -2:
        goto range;
    default:
        return LDG_EBADINPUT;
    }
range:
    *why = "is outside 1970-01-01T00:00:00Z .. 2554-07-21T23:34:33Z";
    return LDG_EBADINPUT;
}

/* "id": 1..LDG_ID_MAX bytes, no control characters (jansson has already
 * checked it is UTF-8). */
static int
id_valid(const char *s, size_t n)
{
    if (n == 0 || n > LDG_ID_MAX || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

int
ldg_ingest_parse_line(const char *line, size_t len, size_t body_max,
                      struct ldg_event_in *ev, json_t **holder, int *col,
                      char *msg, size_t msgcap)
{
    return ldg_ingest_parse_line_ex(line, len, body_max, 0, ev, NULL, holder,
                                    col, msg, msgcap);
}

int
ldg_ingest_parse_line_ex(const char *line, size_t len, size_t body_max,
                         unsigned flags, struct ldg_event_in *ev,
                         struct ldg_ingest_meta *meta, json_t **holder,
                         int *col, char *msg, size_t msgcap)
{
    json_error_t je;
    json_t *root, *v;
    const char *key;
    struct ldg_ingest_meta local;
    const char *id_str = NULL, *unknown = NULL;
    json_t *fv[F_COUNT] = {NULL};
    int request = 1; /* every line may carry "id" and "time" */

    (void)flags;
    if (meta == NULL)
        meta = &local;

    if (meta != NULL)
        memset(meta, 0, sizeof *meta);
    memset(ev, 0, sizeof *ev);
    *holder = NULL;
    *col = 1;
    if (len > body_max + ENVELOPE_ROOM) {
        snprintf(msg, msgcap, "line is %zu bytes, more than the %zu allowed",
                 len, body_max + ENVELOPE_ROOM);
        return LDG_ETOOBIG;
    }
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        *col = je.column > 0 ? je.column : 1;
        snprintf(msg, msgcap, "%s", je.text);
        return LDG_EBADINPUT;
    }
    if (!json_is_object(root)) {
        snprintf(msg, msgcap, "an event must be a JSON object");
        json_decref(root);
        return LDG_EBADINPUT;
    }
    /* One walk over the fields finds each known one and the first
     * unknown; they are judged below in a fixed order (id first, so that
     * an error about any other field can name it). */
    json_object_foreach(root, key, v)
    {
        int f = field_index(key);
        if (f >= 0)
            fv[f] = v;
        else if (unknown == NULL)
            unknown = key;
    }
    if (request && (v = fv[F_ID]) != NULL) {
        if (!json_is_string(v) ||
            !id_valid(json_string_value(v), json_string_length(v))) {
            snprintf(msg, msgcap,
                     "field 'id': must be a string of 1 to %d bytes without "
                     "control characters",
                     LDG_ID_MAX);
            json_decref(root);
            return LDG_EBADINPUT;
        }
        meta->id_len = json_string_length(v);
        memcpy(meta->id, json_string_value(v), meta->id_len + 1);
        meta->has_id = 1;
        id_str = json_string_value(v);
    }
    if (request && (v = fv[F_TIME]) != NULL) {
        const char *why = "must be a string";
        if (!json_is_string(v) ||
            strlen(json_string_value(v)) != json_string_length(v) ||
            ldg_ingest_parse_time(json_string_value(v), &meta->time_ns, &why) <
                0) {
            snprintf(msg, msgcap, "field 'time': %s", why);
            json_decref(root);
            return LDG_EBADINPUT;
        }
        meta->has_time = 1;
    }
    if (unknown != NULL) {
        snprintf(msg, msgcap,
                 "unknown field '%s' (an event has type, body, subject, "
                 "run, parent, actor%s)",
                 unknown, request ? ", id, time" : "");
        json_decref(root);
        return LDG_EBADINPUT;
    }
#define STR_FIELD(f, name, dst)                                                \
    do {                                                                       \
        v = fv[f];                                                             \
        if (v != NULL) {                                                       \
            if (!json_is_string(v) ||                                          \
                strlen(json_string_value(v)) != json_string_length(v)) {       \
                snprintf(msg, msgcap, "field '%s': must be a string", name);   \
                json_decref(root);                                             \
                return LDG_EBADINPUT;                                          \
            }                                                                  \
            dst = json_string_value(v);                                        \
        }                                                                      \
    } while (0)
    STR_FIELD(F_TYPE, "type", ev->type);
    STR_FIELD(F_SUBJECT, "subject", ev->subject);
    STR_FIELD(F_RUN, "run", ev->run);
    STR_FIELD(F_ACTOR, "actor", ev->actor);
#undef STR_FIELD
    if (ev->type == NULL) {
        snprintf(msg, msgcap, "field 'type': required");
        json_decref(root);
        return LDG_EBADINPUT;
    }
    v = fv[F_PARENT];
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(msg, msgcap, "field 'parent': must be a sequence number");
            json_decref(root);
            return LDG_EBADINPUT;
        }
        ev->has_parent = 1;
        ev->parent = (uint64_t)json_integer_value(v);
    }
    v = fv[F_BODY];
    if (v == NULL) {
        snprintf(msg, msgcap, "field 'body': required");
        json_decref(root);
        return LDG_EBADINPUT;
    }
    if (!json_is_object(v)) {
        snprintf(msg, msgcap, "field 'body': must be an object");
        json_decref(root);
        return LDG_EBADINPUT;
    }
    ev->body = v;
    ev->id = id_str; /* owned by root */
    ev->has_time = meta->has_time;
    ev->time_ns = meta->time_ns;
    *holder = root;
    return 0;
}

int
ldg_ingest_is_sealed(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != '{')
        return 0;
    i++;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return len - i >= 8 && memcmp(line + i, "\"sealed\"", 8) == 0;
}

int
ldg_ingest_parse_sealed(const char *line, size_t len,
                        struct ldg_sealed_batch **out, int *col, char *msg,
                        size_t msgcap)
{
    json_error_t je;
    json_t *root;
    int rc;

    *out = NULL;
    *col = 1;
    if (len > LDG_SEALED_LINE_MAX) {
        snprintf(msg, msgcap,
                 "sealed batch is %zu bytes, more than the %zu "
                 "allowed",
                 len, (size_t)LDG_SEALED_LINE_MAX);
        return LDG_ETOOBIG;
    }
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        *col = je.column > 0 ? je.column : 1;
        snprintf(msg, msgcap, "%s", je.text);
        return LDG_EBADINPUT;
    }
    rc = ldg_sealed_batch_parse(out, root, msg, msgcap);
    json_decref(root); /* the batch holds its own reference */
    return rc;
}

/* A malloc'd block of n bytes as glibc rounds it: 8 bytes of header, a
 * multiple of 16, at least 32. */
static size_t
block(size_t n)
{
    n = (n + 8 + 15) & ~(size_t)15;
    return n < 32 ? 32 : n;
}

/* Jansson's memory for j and what it holds (2.x: a json_t of 16 bytes
 * in each node; an object's hashtable starts with 8 buckets of 16 bytes
 * and doubles, each pair holds its key; an array's table starts with 8
 * slots and doubles). Depth is bounded by the parser's (2048). */
static size_t
json_cost(const json_t *j)
{
    size_t n = 0, cap;
    const char *k;
    json_t *v;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        cap = 8;
        while (cap < json_object_size(j))
            cap *= 2;
        n = block(64) + block(cap * 16);
        json_object_foreach((json_t *)(uintptr_t)j, k, v) n +=
            block(56 + strlen(k) + 1) + json_cost(v);
        return n;
    case JSON_ARRAY:
        cap = 8;
        while (cap < json_array_size(j))
            cap *= 2;
        n = block(40) + block(cap * sizeof(json_t *));
        for (size_t i = 0; i < json_array_size(j); i++)
            n += json_cost(json_array_get(j, i));
        return n;
    case JSON_STRING:
        return block(32) + block(json_string_length(j) + 1);
    case JSON_INTEGER:
    case JSON_REAL:
        return block(24);
    default:
        return 0; /* true, false, null: shared */
    }
}

size_t
ldg_ingest_sealed_cost(const struct ldg_sealed_batch *b)
{
    if (b == NULL)
        return 0;
    size_t n = block(sizeof *b) + block(b->n * sizeof *b->ev) +
               json_cost(b->json) + ldg_batch_sealed_cost(b);
    /* the writer encodes each body (its record): about its parse again */
    for (size_t i = 0; i < b->n; i++)
        n += json_cost(b->ev[i].in.body);
    return n;
}

/* Reads the next line into r->buf (NUL-terminated, newline removed; a
 * NUL byte inside the line is kept and counted in *len). Returns
 * LDG_LINE_OK with *len set, LDG_LINE_END at the end of input,
 * LDG_LINE_LONG if the line exceeded r->max (it is consumed up to its
 * newline and *len is its length), LDG_LINE_STOP if no newline came within
 * r->skip_max bytes of an over-long line (reading stops there; *len is
 * what was read of it) and LDG_LINE_ERROR on a read error or when memory
 * runs out (errno says which).
 *
 * The buffer exists after every LDG_LINE_OK, even for an empty first line,
 * and never grows past r->max + 1 bytes (r->sealed_max + 1 for a sealed
 * batch): the line's limit is the buffer's ceiling. */
int
ldg_line_read(struct ldg_line_reader *r, size_t *len)
{
    size_t n = 0, skip_max = r->skip_max ? r->skip_max : LDG_LINE_SKIP_MAX;
    size_t limit = r->max;
    int c, over = 0;

    *len = 0;
    if (r->eof)
        return LDG_LINE_END;
    r->buf.len = 0;
    r->buf.err = 0;
    r->buf.max = limit ? limit : 1; /* (0 would be ldg_buf's default) */
    if (ldg_buf_room(&r->buf, limit < 4095 ? limit : 4095) == NULL) {
        errno = ENOMEM;
        return LDG_LINE_ERROR;
    }
    while ((c = getc_unlocked(r->in)) != EOF && c != '\n') {
        uint8_t *o;
        if (!over && n == limit) {
            /* a sealed batch carries many events on one line */
            if (limit < r->sealed_max && n >= 9 &&
                ldg_ingest_is_sealed(r->buf.s, n))
                r->buf.max = limit = r->sealed_max;
            else
                over = 1;
        }
        if (over) {
            if (++n - r->max > skip_max) {
                *len = n;
                r->eof = 1;
                return LDG_LINE_STOP;
            }
            continue;
        }
        if ((o = ldg_buf_room(&r->buf, 1)) == NULL) {
            errno = ENOMEM;
            return LDG_LINE_ERROR;
        }
        *o = (uint8_t)c;
        r->buf.len = ++n;
    }
    if (c == EOF) {
        if (ferror(r->in))
            return LDG_LINE_ERROR;
        r->eof = 1;
        if (n == 0)
            return LDG_LINE_END;
    }
    *len = n;
    if (over)
        return LDG_LINE_LONG;
    r->buf.p[n] = '\0';
    return LDG_LINE_OK;
}

static int
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static void
report_error(const struct ldg_ingest_opts *o, uint64_t line, int col,
             const char *msg)
{
    if (o->on_error != NULL)
        o->on_error(o->ctx, line, col, msg);
}

/* The codes with which the ledger refuses one event and changes nothing:
 * the line is reported and the rest goes on, in both modes. */
static int
refuses_line(int rc)
{
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
           rc == LDG_EEXIST;
}

/*
 * Input that arrives over time (a pipe, a socket, a terminal) is read
 * through idle_read, which commits what is queued on two conditions,
 * whatever the batch size:
 *
 *  - idle: nothing more has come IDLE_MS after the last byte. What is
 *    queued is committed (ldg_writer_flush) before the read blocks.
 *  - age: the oldest event not yet handed to a commit was read AGE_MS
 *    ago, though input keeps coming (a steady trickle, or a producer
 *    that keeps the pipe full). What is queued goes to the commit thread
 *    (ldg_writer_push) and reading goes on while it commits.
 *
 * So an event written to `ledger ingest -` is handed to a commit at most
 * AGE_MS after it was read (IDLE_MS once the input pauses), and is durable
 * (acknowledged with --acks) when that commit and the ones ahead of it
 * are. The age is looked at each time the reader wants more bytes; a
 * read never waits past the bound (the poll's timeout is cut to it).
 * A regular file is read as it is (pass_piped, full batches): it never
 * goes idle and nothing in it waits for more input.
 */
#define IDLE_MS 2
#define AGE_MS 10

struct idle_src {
    int fd;
    struct ldg_writer *w;
    uint64_t pending;   /* events added since the last commit or push */
    uint64_t oldest_ns; /* when the first of them was added (monotonic) */
    int rc;             /* a failed commit: reading stops */
};

/* pass(): an event went to the writer. */
static void
idle_added(struct idle_src *src)
{
    if (src->pending++ == 0)
        src->oldest_ns = ldg_now_mono_ns();
}

static ssize_t
idle_read(void *cookie, char *buf, size_t size)
{
    struct idle_src *src = cookie;
    struct pollfd p;
    ssize_t k;

    if (src->pending > 0 && src->rc == 0) {
        uint64_t age_ms = (ldg_now_mono_ns() - src->oldest_ns) / 1000000u;
        int idle = 0, aged = age_ms >= AGE_MS;
        if (!aged) {
            int n, wait_ms = IDLE_MS;
            if (AGE_MS - age_ms < IDLE_MS)
                wait_ms = (int)(AGE_MS - age_ms);
            p.fd = src->fd;
            p.events = POLLIN;
            p.revents = 0;
            while ((n = poll(&p, 1, wait_ms)) < 0 && errno == EINTR)
                ;
            if (n == 0 && wait_ms == IDLE_MS)
                idle = 1;
            else if (n == 0)
                aged = 1;
        }
        if (idle)
            src->rc = ldg_writer_flush(src->w);
        else if (aged)
            src->rc = ldg_writer_push(src->w); /* reading goes on */
        if (idle || aged) {
            src->pending = 0;
            if (src->rc < 0)
                return 0; /* ends the input; pass() reports src->rc */
        }
    }
    while ((k = read(src->fd, buf, size)) < 0 && errno == EINTR)
        ;
    return k;
}

static int
is_stream(FILE *in)
{
    struct stat st;
    int fd = fileno(in);
    return fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) &&
           !S_ISBLK(st.st_mode);
}

/* One sealed-batch line: appended whole, contiguously, in one commit, or
 * refused whole. Without strict, what the writer holds is committed first
 * (so the log keeps the input's order) and the batch gets a commit of its
 * own (ldg_writer_add_sealed); with strict it joins the all-or-nothing
 * batch. 0 (refusals are reported and counted), or a storage failure. */
static int
sealed_line(struct ldg_ledger *l, const struct ldg_ingest_opts *o,
            struct ldg_writer *w, struct ldg_batch *batch,
            struct ldg_ingest_report *rep, uint64_t lineno, const char *line,
            size_t len)
{
    struct ldg_sealed_batch *sb = NULL;
    uint64_t first = 0;
    char msg[900] = "";
    int col = 1, rc;

    rep->sealed_lines++;
    rc = ldg_ingest_parse_sealed(line, len, &sb, &col, msg, sizeof msg);
    if (rc < 0) {
        report_error(o, lineno, col, msg[0] ? msg : ldg_strerror(rc));
        rep->rejected++;
        rep->sealed_refused++;
        return rc == LDG_ENOMEM ? rc : 0;
    }
    rc = w != NULL ? ldg_writer_add_sealed(w, sb, &first)
                   : ldg_batch_add_sealed(batch, sb, &first);
    if (rc == LDG_EDUPLICATE) {
        /* a retried batch: every event's id is in the log */
        rep->duplicates += sb->n;
        if (o->on_duplicate != NULL)
            for (size_t i = 0; i < sb->n; i++)
                o->on_duplicate(o->ctx, lineno, sb->ev[i].in.id, first + i, 0);
        rc = 0;
        goto out;
    }
    if (rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
        rc == LDG_EBADSIG || rc == LDG_EEXIST) {
        report_error(o, lineno, 1, ldg_errmsg(l));
        rep->rejected++;
        rep->sealed_refused++;
        if (rc == LDG_EKEY)
            rep->key_refused++;
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    /* through the writer: committed (and on_commit called) by now */
    rep->sealed_batches++;
    rep->sealed_events += sb->n;
out:
    ldg_sealed_batch_free(sb);
    return rc;
}

/*
 * One pass over the input: each valid event goes to the writer w (commits
 * in groups) or, in strict mode, to the all-or-nothing batch. Either way
 * an event is judged by the same library checks, so both modes refuse the
 * same lines.
 */
static int
pass(struct ldg_ledger *l, FILE *in, const struct ldg_ingest_opts *o,
     struct ldg_writer *w, struct ldg_batch *batch,
     struct ldg_ingest_report *rep, FILE *spool, struct idle_src *idle)
{
    struct ldg_line_reader r;
    size_t body_max = ldg_body_max(l), len = 0;
    uint64_t lineno = 0;
    int rc = 0, got;

    memset(&r, 0, sizeof r);
    r.in = in;
    r.max = body_max + ENVELOPE_ROOM;
    r.sealed_max = LDG_SEALED_LINE_MAX;
    while ((got = ldg_line_read(&r, &len)) != LDG_LINE_END) {
        struct ldg_event_in ev;
        json_t *holder;
        char msg[600];
        int col;

        lineno++;
        if (got == LDG_LINE_ERROR) {
            rc = errno == ENOMEM ? LDG_ENOMEM : LDG_EIO;
            ldg_set_errmsg(l, "read error at line %llu: %s",
                           (unsigned long long)lineno, strerror(errno));
            break;
        }
        if (spool != NULL && got == LDG_LINE_OK) {
            fwrite(r.buf.s, 1, len, spool);
            fputc('\n', spool);
        }
        if (got == LDG_LINE_OK && is_blank(r.buf.s, len))
            continue;
        rep->lines++;
        if (got == LDG_LINE_LONG) {
            snprintf(msg, sizeof msg,
                     "line is longer than %zu bytes (body limit %zu)", r.max,
                     body_max);
            report_error(o, lineno, 1, msg);
            rep->rejected++;
            continue;
        }
        if (got == LDG_LINE_STOP) {
            /* /dev/zero, or a stream with no newlines: never read it to
             * the end. What came before is still committed (or, with
             * --strict, nothing is). */
            snprintf(msg, sizeof msg,
                     "line is longer than %zu bytes (body limit %zu) and "
                     "has no newline within %zu MiB more: stopped reading "
                     "the input here",
                     r.max, body_max, (size_t)(LDG_LINE_SKIP_MAX >> 20));
            report_error(o, lineno, 1, msg);
            rep->rejected++;
            break;
        }
        if (ldg_ingest_is_sealed(r.buf.s, len)) {
            rc = sealed_line(l, o, w, batch, rep, lineno, r.buf.s, len);
            if (rc < 0)
                break;
            if (idle != NULL)
                idle->pending = 0; /* the writer was flushed */
            continue;
        }
        if (ldg_ingest_parse_line(r.buf.s, len, body_max, &ev, &holder, &col,
                                  msg, sizeof msg) < 0) {
            report_error(o, lineno, col, msg);
            rep->rejected++;
            continue;
        }
        if (w != NULL) {
            rc = ldg_writer_add_tagged(w, &ev, lineno);
        } else {
            uint64_t dseq = 0;
            unsigned differs = 0;
            rc = ldg_batch_add_seq(batch, &ev, &dseq, &differs);
            if (rc == LDG_EDUPLICATE && o->on_duplicate != NULL)
                o->on_duplicate(o->ctx, lineno, ev.id, dseq, differs);
        }
        if (rc == 0 && idle != NULL)
            idle_added(idle);
        if (rc == LDG_EDUPLICATE) {
            rc = 0; /* its id is in the log: not appended again */
            rep->duplicates++;
        }
        if (refuses_line(rc)) {
            /* Only this line is refused; nothing else changed. A failed
             * group commit is never one of these: those come from
             * validation before anything is queued. */
            report_error(o, lineno, 1, ldg_errmsg(l));
            rep->rejected++;
            if (rc == LDG_EKEY && ev.actor != NULL &&
                ldg_keys_held_by_writer(l, ev.actor) == 1)
                rep->key_refused++;
            rc = 0;
        }
        json_decref(holder);
        if (rc < 0)
            break;
        if (o->on_progress != NULL && (lineno & 0x3fff) == 0)
            o->on_progress(o->ctx, lineno, w ? ldg_writer_committed(w) : 0);
    }
    ldg_buf_release(&r.buf);
    if (rc == 0 && idle != NULL && idle->rc < 0)
        rc = idle->rc;
    return rc;
}

/* ---------------------------------------------------------- pipelined -- */

/*
 * Input that is all there (a file) is cut into lines by this thread and
 * parsed on parse threads: a parse thread turns each line of a chunk into
 * a prepared event (ldg_ingest_parse_line, then ldg_prepare: jansson, the
 * vocabulary, the body's record and commitment), and this thread takes
 * the chunks back in input order and does with each line what pass()
 * does, through ldg_writer_add_prepared. So refusals are reported in line
 * order with the same messages, the writer sees the events in input
 * order, and what ingest does is what pass() does; only the parsing runs
 * on the other cores.
 */
#define PIPE_CHUNKS 6
#define CHUNK_LINES 128
#define CHUNK_BYTES ((size_t)256 * 1024)
#define PIPE_THREADS_MAX 8

enum { PL_EVENT, PL_LONG, PL_STOP, PL_ERROR, PL_SEALED };
enum { C_FREE, C_FILLED, C_TAKEN, C_DONE };

struct pline {
    uint64_t lineno;
    int kind;
    size_t off, len; /* the line in its chunk's buf; a long line's length */
    int err;         /* PL_ERROR: errno */
    int parse_rc;    /* < 0: the line does not parse (col, msg) */
    int col;
    char msg[600];
    struct ldg_prepared *pe; /* PL_EVENT that parsed */
};

struct chunk {
    int state;
    /* the lines, each followed by a NUL; reused from one fill to the next
     * (a zeroed struct is an empty buffer: calloc'd by pipe_init) */
    struct ldg_buf buf;
    struct pline lines[CHUNK_LINES];
    size_t n;
};

struct pipe {
    struct ldg_ledger *l;
    size_t body_max;
    struct chunk *c; /* PIPE_CHUNKS */
    uint64_t fill, take, cons;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int stop;
    pthread_t th[PIPE_THREADS_MAX];
    unsigned nth;
};

static void
parse_chunk(struct pipe *pp, struct chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct pline *ln = &c->lines[i];
        struct ldg_event_in ev;
        json_t *holder = NULL;
        if (ln->kind != PL_EVENT)
            continue;
        ln->parse_rc = ldg_ingest_parse_line(c->buf.s + ln->off, ln->len,
                                             pp->body_max, &ev, &holder,
                                             &ln->col, ln->msg, sizeof ln->msg);
        if (ln->parse_rc < 0)
            continue;
        if (ldg_prepare(pp->l, &ev, ln->pe) < 0)
            ln->parse_rc = LDG_ENOMEM; /* reading stops there */
        json_decref(holder);
    }
}

static void *
parse_worker(void *arg)
{
    struct pipe *pp = arg;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        struct chunk *c;
        while (!pp->stop && pp->take == pp->fill)
            pthread_cond_wait(&pp->work, &pp->mu);
        if (pp->stop)
            break;
        c = &pp->c[pp->take++ % PIPE_CHUNKS];
        LDG_ASSERT(c->state == C_FILLED && pp->take <= pp->fill);
        c->state = C_TAKEN;
        pthread_mutex_unlock(&pp->mu);
        parse_chunk(pp, c);
        pthread_mutex_lock(&pp->mu);
        LDG_ASSERT(c->state == C_TAKEN);
        c->state = C_DONE;
        pthread_cond_broadcast(&pp->done);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static void
pipe_free(struct pipe *pp)
{
    pthread_mutex_lock(&pp->mu);
    pp->stop = 1;
    pthread_cond_broadcast(&pp->work);
    pthread_mutex_unlock(&pp->mu);
    for (unsigned i = 0; i < pp->nth; i++)
        pthread_join(pp->th[i], NULL);
    for (int k = 0; pp->c != NULL && k < PIPE_CHUNKS; k++) {
        for (size_t i = 0; i < CHUNK_LINES; i++)
            ldg_prepared_free(pp->c[k].lines[i].pe);
        ldg_buf_release(&pp->c[k].buf);
    }
    free(pp->c);
    pthread_mutex_destroy(&pp->mu);
    pthread_cond_destroy(&pp->work);
    pthread_cond_destroy(&pp->done);
}

static int
pipe_init(struct pipe *pp, struct ldg_ledger *l)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = ncpu > 0 ? (unsigned)ncpu : 1;

    memset(pp, 0, sizeof *pp);
    pp->l = l;
    pp->body_max = ldg_body_max(l);
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->work, NULL);
    pthread_cond_init(&pp->done, NULL);
    pp->c = calloc(PIPE_CHUNKS, sizeof *pp->c);
    if (pp->c == NULL)
        goto nomem;
    for (int k = 0; k < PIPE_CHUNKS; k++)
        for (size_t i = 0; i < CHUNK_LINES; i++)
            if ((pp->c[k].lines[i].pe = ldg_prepared_alloc()) == NULL)
                goto nomem;
    if (want > PIPE_THREADS_MAX)
        want = PIPE_THREADS_MAX;
    for (unsigned i = 0; i < want; i++) {
        if (pthread_create(&pp->th[i], NULL, parse_worker, pp) != 0)
            break;
        pp->nth++;
    }
    if (pp->nth == 0) {
        pipe_free(pp);
        ldg_set_errmsg(l, "cannot start the parse threads");
        return LDG_ENOMEM;
    }
    return 0;
nomem:
    pipe_free(pp);
    return LDG_ENOMEM;
}

/* Appends a line's bytes to c's buffer, and a NUL after them. 0, or the
 * buffer's error (LDG_ENOMEM: chunk_fill's ceiling is never reached). */
static int
chunk_put(struct chunk *c, const char *s, size_t n, struct pline *ln)
{
    uint8_t *o = ldg_buf_room(&c->buf, n + 1);
    if (o == NULL)
        return c->buf.err;
    memcpy(o, s, n);
    o[n] = '\0';
    ln->off = c->buf.len;
    ln->len = n;
    c->buf.len += n + 1;
    return 0;
}

/* Reads lines into the free chunk c until it is full or the input ends
 * (*eof set). Blank lines only count. 0, or LDG_ENOMEM. */
static int
chunk_fill(struct chunk *c, struct ldg_line_reader *r, uint64_t *lineno,
           int *eof)
{
    c->n = 0;
    c->buf.len = 0;
    /* Lines are added while less than CHUNK_BYTES is held, each at most
     * the reader's longest (a sealed batch's) and its NUL: the ceiling is
     * never reached, it only says that the chunk is bounded. */
    c->buf.max =
        CHUNK_BYTES + (r->sealed_max > r->max ? r->sealed_max : r->max);
    while (c->n < CHUNK_LINES && c->buf.len < CHUNK_BYTES && !*eof) {
        struct pline *ln = &c->lines[c->n];
        size_t len = 0;
        int got = ldg_line_read(r, &len);
        if (got == LDG_LINE_END) {
            *eof = 1;
            break;
        }
        ++*lineno;
        if (got == LDG_LINE_OK && is_blank(r->buf.s, len))
            continue;
        ln->lineno = *lineno;
        ln->parse_rc = 0;
        ln->len = len;
        switch (got) {
        case LDG_LINE_ERROR:
            ln->kind = PL_ERROR;
            ln->err = errno;
            *eof = 1;
            break;
        case LDG_LINE_LONG:
            ln->kind = PL_LONG;
            break;
        case LDG_LINE_STOP:
            ln->kind = PL_STOP;
            *eof = 1;
            break;
        default:
            ln->kind =
                ldg_ingest_is_sealed(r->buf.s, len) ? PL_SEALED : PL_EVENT;
            if (chunk_put(c, r->buf.s, len, ln) < 0)
                return LDG_ENOMEM;
        }
        c->n++;
    }
    return 0;
}

/* One line back from the parse threads, in order: what pass() does with
 * it. *stop is set where pass() stops reading. */
static int
consume_line(struct ldg_ledger *l, const struct ldg_ingest_opts *o,
             struct ldg_writer *w, struct ldg_ingest_report *rep,
             const struct ldg_line_reader *r, struct chunk *c, struct pline *ln,
             int *stop)
{
    size_t body_max = ldg_body_max(l);
    char msg[600];
    int rc;

    if (ln->kind == PL_ERROR) {
        rc = ln->err == ENOMEM ? LDG_ENOMEM : LDG_EIO;
        ldg_set_errmsg(l, "read error at line %llu: %s",
                       (unsigned long long)ln->lineno, strerror(ln->err));
        *stop = 1;
        return rc;
    }
    rep->lines++;
    if (ln->kind == PL_LONG) {
        snprintf(msg, sizeof msg,
                 "line is longer than %zu bytes (body limit %zu)", r->max,
                 body_max);
        report_error(o, ln->lineno, 1, msg);
        rep->rejected++;
        return 0;
    }
    if (ln->kind == PL_STOP) {
        snprintf(msg, sizeof msg,
                 "line is longer than %zu bytes (body limit %zu) and "
                 "has no newline within %zu MiB more: stopped reading "
                 "the input here",
                 r->max, body_max, (size_t)(LDG_LINE_SKIP_MAX >> 20));
        report_error(o, ln->lineno, 1, msg);
        rep->rejected++;
        *stop = 1;
        return 0;
    }
    if (ln->kind == PL_SEALED) {
        rc = sealed_line(l, o, w, NULL, rep, ln->lineno, c->buf.s + ln->off,
                         ln->len);
        if (rc < 0)
            *stop = 1;
        return rc;
    }
    if (ln->parse_rc == LDG_ENOMEM) {
        ldg_set_errmsg(l, "line %llu: %s", (unsigned long long)ln->lineno,
                       ldg_strerror(LDG_ENOMEM));
        *stop = 1;
        return LDG_ENOMEM;
    }
    if (ln->parse_rc < 0) {
        report_error(o, ln->lineno, ln->col, ln->msg);
        rep->rejected++;
        return 0;
    }
    rc = ldg_writer_add_prepared(w, ln->pe, ln->lineno);
    if (rc == LDG_EDUPLICATE) {
        rc = 0; /* its id is in the log: not appended again */
        rep->duplicates++;
    }
    if (refuses_line(rc)) {
        const char *actor = ldg_prepared_actor(ln->pe);
        report_error(o, ln->lineno, 1, ldg_errmsg(l));
        rep->rejected++;
        if (rc == LDG_EKEY && actor != NULL &&
            ldg_keys_held_by_writer(l, actor) == 1)
            rep->key_refused++;
        rc = 0;
    }
    if (rc < 0) {
        *stop = 1;
        return rc;
    }
    if (o->on_progress != NULL && (ln->lineno & 0x3fff) == 0)
        o->on_progress(o->ctx, ln->lineno, ldg_writer_committed(w));
    return 0;
}

static int
pass_piped(struct ldg_ledger *l, FILE *in, const struct ldg_ingest_opts *o,
           struct ldg_writer *w, struct ldg_ingest_report *rep)
{
    struct ldg_line_reader r;
    struct pipe pp;
    uint64_t lineno = 0;
    int rc, eof = 0, stop = 0;

    if ((rc = pipe_init(&pp, l)) < 0)
        return rc;
    memset(&r, 0, sizeof r);
    r.in = in;
    r.max = ldg_body_max(l) + ENVELOPE_ROOM;
    r.sealed_max = LDG_SEALED_LINE_MAX;
    while (!stop) {
        struct chunk *head = &pp.c[pp.cons % PIPE_CHUNKS];
        int ready;
        pthread_mutex_lock(&pp.mu);
        ready = pp.cons < pp.fill && head->state == C_DONE;
        pthread_mutex_unlock(&pp.mu);
        if (!ready && !eof && pp.fill - pp.cons < PIPE_CHUNKS) {
            struct chunk *c = &pp.c[pp.fill % PIPE_CHUNKS];
            if ((rc = chunk_fill(c, &r, &lineno, &eof)) < 0)
                break;
            if (c->n == 0)
                continue;
            pthread_mutex_lock(&pp.mu);
            c->state = C_FILLED;
            pp.fill++;
            pthread_cond_signal(&pp.work);
            pthread_mutex_unlock(&pp.mu);
            continue;
        }
        if (pp.cons == pp.fill)
            break; /* all read, all done */
        pthread_mutex_lock(&pp.mu);
        while (head->state != C_DONE)
            pthread_cond_wait(&pp.done, &pp.mu);
        pthread_mutex_unlock(&pp.mu);
        for (size_t i = 0; i < head->n && !stop; i++)
            rc = consume_line(l, o, w, rep, &r, head, &head->lines[i], &stop);
        pthread_mutex_lock(&pp.mu);
        LDG_ASSERT(head->state == C_DONE && pp.cons < pp.fill);
        head->state = C_FREE;
        pp.cons++;
        pthread_mutex_unlock(&pp.mu);
    }
    /* what was read past a stop is dropped unread, as pass() never read it */
    pipe_free(&pp);
    ldg_buf_release(&r.buf);
    return rc;
}

/* Strict mode: every line into one all-or-nothing batch; committed only
 * if no line was refused. A batch that outgrows the map is retried from
 * the start after the map grows (the input is seekable or spooled). */
#define STRICT_TRIES 4

static int
ingest_strict(struct ldg_ledger *l, FILE *in, const struct ldg_ingest_opts *o,
              struct ldg_ingest_report *rep)
{
    struct ldg_batch *b = NULL;
    FILE *spool = NULL, *src = in;
    long pos = ftell(in);
    int rc = 0;

    if (pos < 0 || fseek(in, pos, SEEK_SET) != 0) {
        spool = tmpfile();
        if (spool == NULL) {
            ldg_set_errmsg(
                l, "cannot create a temporary file for " LDG_OPT_STRICT ": %s",
                strerror(errno));
            return LDG_EIO;
        }
    }
    for (int tries = 0; tries < STRICT_TRIES; tries++) {
        memset(rep, 0, sizeof *rep);
        if ((rc = ldg_batch_begin(&b, l)) < 0)
            break;
        rc = pass(l, src, o, NULL, b, rep, src == in ? spool : NULL, NULL);
        if (rc == 0 && rep->rejected == 0) {
            uint64_t first = 0, n = 0;
            rc = ldg_batch_commit(b, &first, &n);
            if (rc == 0) {
                rep->committed = n;
                rep->first_seq = first;
                rep->last_seq = n > 0 ? first + n - 1 : 0;
                if (n > 0 && o->on_commit != NULL)
                    o->on_commit(o->ctx, first, n);
            }
        }
        ldg_batch_free(b); /* discards what was not committed */
        b = NULL;
        if (rc != LDG_EFULL || tries + 1 == STRICT_TRIES)
            break;
        /* the map grew: read the input again from the start */
        if (spool != NULL) {
            fflush(spool);
            rewind(spool);
            src = spool;
        } else if (fseek(in, pos, SEEK_SET) != 0) {
            ldg_set_errmsg(l, "cannot rewind the input: %s", strerror(errno));
            rc = LDG_EIO;
            break;
        }
    }
    if (spool != NULL)
        fclose(spool);
    if (rc == 0 && rep->rejected > 0)
        rc = rep->key_refused == rep->rejected ? LDG_EKEY : LDG_EBADINPUT;
    if (rc < 0)
        rep->committed = 0;
    return rc;
}

/* The writer's callbacks, through which the report learns the seq of the
 * last event committed (another writer's may lie between two commits). */
struct relay {
    const struct ldg_ingest_opts *o;
    struct ldg_ingest_report *rep;
};

static void
relay_commit(void *ctx, uint64_t first_seq, uint64_t n)
{
    struct relay *r = ctx;
    if (n > 0 && first_seq + n - 1 > r->rep->last_seq)
        r->rep->last_seq = first_seq + n - 1;
    if (r->o->on_commit != NULL)
        r->o->on_commit(r->o->ctx, first_seq, n);
}

static void
relay_duplicate(void *ctx, uint64_t tag, const char *id, uint64_t seq,
                unsigned differs)
{
    struct relay *r = ctx;
    if (r->o->on_duplicate != NULL)
        r->o->on_duplicate(r->o->ctx, tag, id, seq, differs);
}

int
ldg_ingest(struct ldg_ledger *l, FILE *in, const struct ldg_ingest_opts *o,
           struct ldg_ingest_report *rep)
{
    struct relay relay = {o, rep};
    struct ldg_writer_options wo;
    struct ldg_writer *w = NULL;
    struct idle_src idle;
    FILE *stream = NULL;
    int rc;

    memset(rep, 0, sizeof *rep);
    if (o->strict)
        return ingest_strict(l, in, o, rep);
    memset(&wo, 0, sizeof wo);
    wo.batch = o->batch;
    /* Without --batch, batches that are ready together (the commit thread
     * fell behind) are committed together: a commit rewrites about the
     * same LMDB pages whether it holds 1,000 events or 8,000, so this
     * cuts the CPU and disk writes a durable event costs (events wait in
     * the writer compacted: 8 batches in flight fit in about the memory
     * 4 took before). With --batch
     * N a commit holds exactly N events, as that option says. */
    wo.group = o->batch == 0 ? LDG_WRITER_GROUP_MAX : 1;
    /* A file is all there: a commit waits for two batches (events in
     * flight as before, half the commits). Input that arrives over time
     * is committed as it comes (and when it pauses, idle_read). */
    wo.gather = o->batch == 0 && !is_stream(in) ? 2 : 1;
    wo.threads = o->threads;
    wo.on_commit = relay_commit;
    wo.on_duplicate = relay_duplicate; /* the tag is the line */
    wo.ctx = &relay;
    rc = ldg_writer_new(&w, l, &wo);
    if (rc < 0)
        goto out;
    if (is_stream(in)) {
        static const cookie_io_functions_t fns = {idle_read, NULL, NULL, NULL};
        memset(&idle, 0, sizeof idle);
        idle.fd = fileno(in);
        idle.w = w;
        stream = fopencookie(&idle, "r", fns);
    }
    if (stream == NULL)
        rc = pass_piped(l, in, o, w, rep);
    else
        rc = pass(l, stream, o, w, NULL, rep, NULL, &idle);
    if (stream != NULL)
        fclose(stream); /* the cookie does not close fd */
    if (rc == 0)
        rc = ldg_writer_flush(w);
    rep->committed = ldg_writer_committed(w);
    rep->first_seq = ldg_writer_first_seq(w);
    /* the writer skips a line whose id is in the log when it commits:
     * every accepted plain line was committed or was such a one */
    {
        /* sealed events went through the writer too */
        uint64_t plain = rep->lines - rep->sealed_lines;
        uint64_t refused = rep->rejected - rep->sealed_refused;
        uint64_t done = rep->committed - rep->sealed_events;
        if (rc == 0 && rep->committed >= rep->sealed_events &&
            plain >= refused + done)
            rep->duplicates += plain - refused - done;
    }
    if (rc == 0 && rep->rejected > 0)
        rc = rep->key_refused == rep->rejected ? LDG_EKEY : LDG_EBADINPUT;
out:
    ldg_writer_free(w);
    return rc;
}
