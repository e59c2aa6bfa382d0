/*
 * conn.c — the daemon's connections: their buffers and epoll mask, the
 * budget over all of them, reading, splitting lines into requests and
 * answering in order (loop thread only; server.c draws the picture).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "serve/server_int.h"

/* -------------------------------------------------------- connections -- */

static void
ep_set(struct ldg_server *s, struct conn *c, uint32_t mask)
{
    struct epoll_event e;
    if (c->dead || mask == c->mask)
        return;
    memset(&e, 0, sizeof e);
    e.events = mask;
    e.data.ptr = c;
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->mask = mask;
}

/* Requests the loop keeps for reuse (a calloc and a free fewer a line). */
#define SPARE_MAX 4096

/* Frees what r holds and keeps r for req_new (loop thread only). */
static void
req_free(struct ldg_server *s, struct req *r)
{
    json_decref(r->holder);
    if (r->sb != NULL) {
        s->sealed_held--;
        s->recheck = s->ndeferred > 0;
    }
    ldg_sealed_batch_free(r->sb);
    free(r->resp);
    if (s->nspare < SPARE_MAX) {
        r->next = s->spare;
        s->spare = r;
        s->nspare++;
    } else {
        free(r);
    }
}

void
srv_retire_flush(struct ldg_server *s)
{
    struct req *r, *nx;
    for (r = s->retired; r != NULL; r = nx) {
        nx = r->next;
        req_free(s, r);
    }
    s->retired = NULL;
}

/* A Unix socket closed with unread input resets its peer, which may then
 * lose answers it has not read yet (a drain on SIGTERM): what is waiting
 * is dropped first (a bounded amount), then the socket is closed. */
static void
drain_close(int fd)
{
    char sink[4096];
    for (int i = 0; i < 256; i++)
        if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    close(fd);
}

void
srv_conn_free(struct ldg_server *s, struct conn *c)
{
    struct req *r = c->head, *nx;
    for (; r != NULL; r = nx) {
        nx = r->next;
        req_free(s, r);
    }
    if (c->close_fd >= 0)
        drain_close(c->close_fd); /* the writer is done with it */
    ldg_buf_release(&c->in);
    ldg_buf_release(&c->out);
    free(c);
}

int
srv_conn_paused(const struct ldg_server *s, const struct conn *c)
{
    return c->waiting >= s->o.queue_max ||
           c->waiting_bytes >= s->o.queue_bytes ||
           c->out.len - c->out_off >= s->o.out_max;
}

/* ------------------------------------------------------------ budget -- */

/*
 * The budget bounds the bytes held for all connections together (the
 * per-connection limits bound each alone, and 4,096 connections at their
 * limits would hold gigabytes): what was read and not yet made requests
 * (c->in), the text of requests waiting for the disk or for their turn to
 * be answered (waiting_bytes), and answers not yet sent (c->out). At or
 * over it no connection is read (conn_may_read, and the epoll mask that
 * srv_conn_update sets from it); committing and answering go on, and when
 * what is held falls below, budget_round looks at every connection again.
 *
 * What is held then goes down by itself unless it is stuck, and it can be
 * stuck two ways, each undone by a rule:
 *   - answers a client does not read: while the daemon is at its budget, a
 *     connection with unsent answers that takes none for stall_ms is
 *     dropped (srv_conn_update, check_stalls), however few they are: the
 *     out_max rule alone would never fire once reading has stopped;
 *   - lines not yet complete: if no request is waiting (what is held is
 *     the starts of lines and answers not yet sent), no line could ever
 *     complete. One connection, the one holding the longest start of a
 *     line, is then let read on up to the newline that completes it and
 *     no further (the finisher, conn_recv); if it has not within stall_ms
 *     it is dropped. Another is chosen once its line is a request
 *     answered: what it held is then less than before, so finishers one
 *     after another never add up.
 * So what is held may pass the budget by what one read brings (a read
 * takes at most the room in the connection's buffer) and by the rest of
 * the finisher's line.
 *
 * The bytes counted are the text's: the memory behind them is more (a
 * buffer is up to twice what it holds, a parsed request several times
 * its line), and a closed connection's requests still held by the writer
 * are no longer counted.
 */

/* Brings c's share of s->held up to date. Cheap (a few additions): called
 * wherever c's buffers may have changed before the budget is consulted. */
static void
held_sync(struct ldg_server *s, struct conn *c)
{
    size_t now = c->in.len + c->waiting_bytes + (c->out.len - c->out_off);
    if (now == c->counted)
        return;
    s->held = s->held - c->counted + now;
    c->counted = now;
    __atomic_store_n(&s->st.held, (uint64_t)s->held, __ATOMIC_RELAXED);
    if (s->held > s->st.held_peak) /* only this thread writes it */
        __atomic_store_n(&s->st.held_peak, (uint64_t)s->held, __ATOMIC_RELAXED);
}

/* c is closed: what it holds is no longer counted. */
static void
held_forget(struct ldg_server *s, struct conn *c)
{
    s->held -= c->counted;
    c->counted = 0;
    __atomic_store_n(&s->st.held, (uint64_t)s->held, __ATOMIC_RELAXED);
    if (s->fin == c)
        s->fin = NULL;
}

/* Whether c may be read now: its own limits, then the budget, which only
 * the finisher passes (until a line of its completes). */
static int
conn_may_read(struct ldg_server *s, struct conn *c)
{
    if (srv_conn_paused(s, c) || c->deferred)
        return 0;
    held_sync(s, c);
    if (s->held < s->o.budget_bytes ||
        (c == s->fin && c->lineno == s->fin_lineno))
        return 1;
    if (!s->over) {
        s->over = 1;
        srv_bump(&s->st.budget_stops);
    }
    return 0;
}

void
srv_conn_close(struct ldg_server *s, struct conn *c)
{
    if (c->dead)
        return;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->direct_held > 0)
        c->close_fd = c->fd; /* the writer may still send on it */
    else
        drain_close(c->fd);
    c->fd = -1;
    c->dead = 1;
    held_forget(s, c);
    s->nowrite -= c->nowrite;
    s->ndeferred -= c->deferred;
    c->deferred = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->graveyard;
    s->graveyard = c;
    s->nconns--;
}

void
srv_sweep(struct ldg_server *s)
{
    struct conn **pp = &s->graveyard, *c;
    while ((c = *pp) != NULL) {
        if (c->held == 0) {
            *pp = c->next;
            srv_conn_free(s, c);
        } else
            pp = &c->next;
    }
}

/* Queues n bytes of answers; -1 when out of memory (c->out unchanged:
 * tried again at the next update). */
static int
out_append(struct conn *c, const char *p, size_t n)
{
    uint8_t *o;
    LDG_ASSERT(c->out_off <= c->out.len);
    if (c->out_off > 0 &&
        (c->out_off == c->out.len || n >= c->out.cap - c->out.len)) {
        /* all sent, or no room: what was sent goes first */
        ldg_buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    if ((o = ldg_buf_room(&c->out, n)) == NULL) {
        c->out.err = 0; /* not sticky here: the bytes held are intact */
        return -1;
    }
    memcpy(o, p, n);
    c->out.len += n;
    return 0;
}

/* Moves answered requests from the FIFO's head to the output buffer. */
static void
conn_drain_fifo(struct ldg_server *s, struct conn *c)
{
    struct req *r;
    while ((r = c->head) != NULL && r->ready) {
        if (!c->dead && r->resp != NULL && r->sent < r->resp_len &&
            out_append(c, r->resp + r->sent, r->resp_len - r->sent) < 0)
            break;
        if (r->sent > 0) { /* the writer sent (some of) it */
            c->stall_since_ms = 0;
            c->active_ms = ldg_now_mono_ms();
        }
        c->direct -= (unsigned)r->direct;
        c->head = r->next;
        if (c->head == NULL)
            c->tail = NULL;
        LDG_ASSERT(c->waiting > 0 && c->waiting_bytes >= r->bytes);
        c->waiting--;
        c->waiting_bytes -= r->bytes;
        r->next = s->retired;
        s->retired = r;
    }
}

void
srv_conn_update(struct ldg_server *s, struct conn *c)
{
    uint32_t mask = 0;

    if (c->dead)
        return;
    conn_drain_fifo(s, c);
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            srv_conn_close(s, c); /* the peer went away */
            return;
        }
        c->out_off += (size_t)w;
        LDG_ASSERT(c->out_off <= c->out.len);
        c->stall_since_ms = 0;
        c->active_ms = ldg_now_mono_ms();
    }
    if (c->out_off == c->out.len) {
        ldg_buf_consume(&c->out, c->out_off); /* all sent: no memmove */
        c->out_off = 0;
    }
    held_sync(s, c);
    /* Unsent answers past out_max stop its reading; at the budget, any
     * stop everyone's: a client that takes none of them for stall_ms is
     * dropped (check_stalls). */
    if (c->out.len - c->out_off >= s->o.out_max ||
        (c->out_off < c->out.len && s->held >= s->o.budget_bytes)) {
        if (c->stall_since_ms == 0)
            c->stall_since_ms = ldg_now_mono_ms();
        srv_wake_at(s, c->stall_since_ms + s->o.stall_ms);
    } else
        c->stall_since_ms = 0;
    /* Lines already read wait for room in the queue. */
    if (!srv_conn_paused(s, c) && c->in.len > 0 && !c->skipping)
        srv_process_lines(s, c);
    if (c->dead)
        return;
    if (c->out_off < c->out.len)
        mask |= EPOLLOUT;
    if (!c->rd_eof && !s->stopping && conn_may_read(s, c))
        mask |= EPOLLIN | EPOLLRDHUP;
    /* line_ms counts while it may be read and a line is under way; a
     * pause (the server's, not the client's doing) starts it again */
    if (!(mask & EPOLLIN) || (c->in.len == 0 && !c->skipping)) {
        c->line_since_ms = 0;
    } else if (c->line_since_ms == 0 || c->lineno != c->line_lineno) {
        c->line_since_ms = ldg_now_mono_ms();
        c->line_lineno = c->lineno;
        srv_wake_at(s, c->line_since_ms + s->o.line_ms);
    }
    if ((c->rd_eof || s->stopping) && c->head == NULL && !c->deferred &&
        c->out_off == c->out.len) {
        srv_conn_close(s, c); /* all answered */
        return;
    }
    ep_set(s, c, mask);
}

static struct req *
req_new(struct ldg_server *s, struct conn *c, size_t bytes)
{
    struct req *r = s->spare;
    if (r != NULL) {
        s->spare = r->next;
        s->nspare--;
        memset(r, 0, sizeof *r);
    } else if ((r = calloc(1, sizeof *r)) == NULL) {
        return NULL;
    }
    r->c = c;
    r->bytes = bytes;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->waiting++;
    c->waiting_bytes += bytes;
    return r;
}

/* An answer the loop gives itself (no writer involved). */
static void
answer_now(struct ldg_server *s, struct conn *c, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    struct req *r = req_new(s, c, 0);
    if (r == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_req_error(r, msg, SERVE_CODE_DATA);
    r->ready = 1;
    srv_bump(&s->st.errors);
}

static void answer_now_req(struct ldg_server *s, struct req *r, int code,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers r at once with an error (no writer involved). */
static void
answer_now_req(struct ldg_server *s, struct req *r, int code, const char *fmt,
               ...)
{
    char msg[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_req_error(r, msg, code);
    r->ready = 1;
    srv_bump(&s->st.errors);
    if (code == SERVE_CODE_NOPERM)
        srv_bump(&s->st.denied);
}

/* A line the parser refused (SERVE_CODE_DATA): "line N[, column C]: msg". */
static void
answer_parse_error(struct ldg_server *s, struct req *r, int col,
                   const char *msg)
{
    if (col > 1)
        answer_now_req(s, r, SERVE_CODE_DATA, "line %llu, column %d: %s",
                       (unsigned long long)r->lineno, col, msg);
    else
        answer_now_req(s, r, SERVE_CODE_DATA, "line %llu: %s",
                       (unsigned long long)r->lineno, msg);
}

static void queue_req(struct ldg_server *s, struct conn *c, struct req *r);

/* A sealed batch (docs/PROTOCOL.md, "Sealed batches"): parsed here, its
 * events checked against access.json as its key's name, then queued for
 * the writer, which appends it whole or refuses it whole. */
static void
handle_sealed(struct ldg_server *s, struct conn *c, struct req *r,
              const char *line, size_t len)
{
    char msg[900] = "";
    int col = 1, rc;
    size_t cost;

    if (c->may == 0) {
        /* a peer that may write nothing: refused before the batch is
         * parsed (its parse takes several times its line) */
        serve_auth_check(s->auth, 0, &c->peer, "", NULL, msg, sizeof msg);
        answer_now_req(s, r, SERVE_CODE_NOPERM, "line %llu: %s",
                       (unsigned long long)c->lineno, msg);
        return;
    }
    msg[0] = '\0';
    rc = ldg_ingest_parse_sealed(line, len, &r->sb, &col, msg, sizeof msg);
    if (rc < 0) {
        answer_parse_error(s, r, col, msg[0] ? msg : ldg_strerror(rc));
        return;
    }
    /* What the parsed batch holds counts against the budget from here
     * until it is freed, instead of its line's length. */
    s->sealed_held++;
    cost = ldg_ingest_sealed_cost(r->sb);
    c->waiting_bytes = c->waiting_bytes - r->bytes + cost;
    r->bytes = cost;
    if (s->auth != NULL && c->may != SERVE_AUTH_SELF) {
        /* access.json names actors by key name: the enrolled name of the
         * batch's key (an unknown key is the writer's to refuse) */
        struct ldg_txn *t = NULL;
        struct ldg_keyinfo ki;
        memset(&ki, 0, sizeof ki);
        if (ldg_txn_begin(s->l, LDG_TXN_READ, &t) == 0) {
            if (ldg_key_info(t, r->sb->key_id, &ki) < 0)
                ki.name[0] = '\0';
            ldg_txn_abort(t);
        }
        for (size_t i = 0; i < r->sb->n; i++) {
            if (!serve_auth_check(
                    s->auth, c->may, &c->peer, r->sb->ev[i].in.type,
                    ki.name[0] ? ki.name : r->sb->key_id, msg, sizeof msg)) {
                answer_now_req(s, r, SERVE_CODE_NOPERM,
                               "line %llu: sealed.events[%zu]: %s",
                               (unsigned long long)c->lineno, i, msg);
                return;
            }
        }
    }
    /* Who sent it, as the kernel says, goes with every event as for an
     * unsealed one: into each entry's stamp, the ledger's part, outside
     * the claim the client sealed (FORMAT.md 3.2), so the seal still
     * verifies. c outlives r (c->held). */
    for (size_t i = 0; i < r->sb->n; i++)
        r->sb->ev[i].in.source = c->peer.ok ? &c->source : NULL;
    queue_req(s, c, r);
}

/* Queues r on the loop's own list; srv_queue_flush hands the list to the
 * writer once a loop round: one lock and one wake-up for all the
 * requests a round read, not one each (the writer takes the lock to cut
 * every group). */
static void
queue_req(struct ldg_server *s, struct conn *c, struct req *r)
{
    c->held++;
    /* direct (server.c): nothing waits to go out before its answer but
     * answers the writer may send itself */
    if (c->waiting == c->direct + 1 && c->out_off == c->out.len &&
        (c->head == r || !c->head->ready)) {
        if (c->direct_held == 0)
            c->w_stop = 0; /* the writer holds none: not reading it */
        r->direct = 1;
        r->fd = c->fd;
        c->direct++;
        c->direct_held++;
    }
    if (s->lq_tail)
        s->lq_tail->qnext = r;
    else
        s->lq_head = r;
    s->lq_tail = r;
    s->lq_n++;
}

void
srv_queue_flush(struct ldg_server *s)
{
    if (s->lq_head == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->q_tail)
        s->q_tail->qnext = s->lq_head;
    else
        s->q_head = s->lq_head;
    s->q_tail = s->lq_tail;
    s->q_n += s->lq_n;
    __atomic_store_n(&s->backlog, (uint64_t)s->q_n, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->lq_head = s->lq_tail = NULL;
    s->lq_n = 0;
}

static void
handle_line(struct ldg_server *s, struct conn *c, const char *line, size_t len)
{
    struct req *r;
    char msg[600];
    int col, rc;

    size_t i = 0;

    while (len > 0 && line[len - 1] == '\r')
        len--;
    c->lineno++;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return; /* blank lines (spaces, tabs) are not requests, as for a
                   direct ingest and as ledger ingest counts them */
    srv_bump(&s->st.requests);
    r = req_new(s, c, len);
    if (r == NULL) {
        c->rd_eof = 1; /* out of memory: answer what it has, then close */
        return;
    }
    r->lineno = c->lineno;
    if (ldg_ingest_is_sealed(line, len)) {
        handle_sealed(s, c, r, line, len);
        return;
    }
    if (len > s->o.max_line) {
        /* room is made for sealed batches only */
        answer_now_req(s, r, SERVE_CODE_DATA,
                       "line %llu: longer than %zu bytes: not recorded",
                       (unsigned long long)c->lineno, s->o.max_line);
        return;
    }
    rc = ldg_ingest_parse_line_ex(line, len, s->o.max_line, LDG_INGEST_REQUEST,
                                  &r->ev, &r->meta, &r->holder, &col, msg,
                                  sizeof msg);
    if (rc < 0) {
        answer_parse_error(s, r, col, msg);
        return;
    }
    if (!serve_auth_check(s->auth, c->may, &c->peer, r->ev.type, r->ev.actor,
                          msg, sizeof msg)) {
        answer_now_req(s, r, SERVE_CODE_NOPERM, "line %llu: %s",
                       (unsigned long long)c->lineno, msg);
        return;
    }
    /* What the client claims, and who it is as the kernel says: the
     * request cannot name a source (ingest refuses the field). */
    r->ev.id = r->meta.has_id ? r->meta.id : NULL;
    r->ev.has_time = r->meta.has_time;
    r->ev.time_ns = r->meta.time_ns;
    r->ev.source = c->peer.ok ? &c->source : NULL;
    queue_req(s, c, r);
}

/*
 * A sealed batch's parse takes several times its line (jansson's tree:
 * 8 times for the issue 29 batches, up to 15 for bodies of small arrays),
 * and 16 connections sending 8.8 MB batches had 770 MB parsed at once
 * against a 64 MiB budget. So a complete sealed line waits, unparsed (its
 * text is counted as read input), while another parsed batch is held and
 * parsing this one would take what is held past the budget: it is parsed
 * once that batch is freed (recheck), one after another. A lone batch is
 * always parsed, even one whose parse alone passes the budget: what is
 * held then passes it by at most one batch's parse. A peer that may write
 * nothing is refused without a parse (handle_sealed).
 */
static int
sealed_waits(struct ldg_server *s, struct conn *c, const char *line, size_t len)
{
    if (s->sealed_held == 0 || c->may == 0 || !ldg_ingest_is_sealed(line, len))
        return 0;
    held_sync(s, c);
    return s->held + len * LDG_INGEST_SEALED_FACTOR > s->o.budget_bytes;
}

void
srv_sealed_recheck(struct ldg_server *s)
{
    struct conn *c, *nx;
    if (!s->recheck)
        return;
    s->recheck = 0;
    for (c = s->conns; c != NULL && s->ndeferred > 0; c = nx) {
        nx = c->next; /* srv_conn_update may close c */
        if (c->deferred)
            srv_conn_update(s, c);
    }
}

void
srv_process_lines(struct ldg_server *s, struct conn *c)
{
    char *in = c->in.s;
    size_t pos = 0;
    if (c->deferred) {
        c->deferred = 0; /* looked at again here */
        s->ndeferred--;
    }
    while (pos < c->in.len && !c->dead &&
           (s->stopping || !srv_conn_paused(s, c))) {
        char *nl = memchr(in + pos, '\n', c->in.len - pos);
        if (nl == NULL)
            break;
        if (sealed_waits(s, c, in + pos, (size_t)(nl - (in + pos)))) {
            c->deferred = 1;
            s->ndeferred++;
            break;
        }
        handle_line(s, c, in + pos, (size_t)(nl - (in + pos)));
        pos = (size_t)(nl - in) + 1;
    }
    if (c->dead)
        return;
    LDG_ASSERT(pos <= c->in.len);
    ldg_buf_consume(&c->in, pos);
    /* Keep idle connections small. */
    if (c->in.len == 0 && c->in.cap > 64 * 1024)
        ldg_buf_release(&c->in);
}

/* The longest sealed-batch line: SERVE_SEALED_LINE_FACTOR times
 * --max-line, or the budget's share a batch may take (its parse and
 * append take about LDG_INGEST_SEALED_FACTOR times its line: 16 connections
 * sending issue 29's 8.8 MB batches took 770 MB) if less, but never less
 * than max_line. */
static size_t
sealed_max(const struct ldg_server *s)
{
    size_t lim = SERVE_SEALED_LINE_FACTOR * s->o.max_line;
    size_t share = s->o.budget_bytes / LDG_INGEST_SEALED_FACTOR;
    if (share < lim)
        lim = share;
    return lim > s->o.max_line ? lim : s->o.max_line;
}

/* Makes room in c->in to read into when it is full (only its NUL's byte
 * left): twice as much, from READ_MIN, up to the line limit. 0; 1 when
 * the buffer holds a whole line's limit without a newline (over-long:
 * answered, and skipped from here to its newline); -1 out of memory. */
static int
in_room(struct ldg_server *s, struct conn *c)
{
    struct ldg_buf *in = &c->in;
    size_t lim = s->o.max_line + 1; /* a full line and its newline */
    size_t want;

    if (in->len + 1 < in->cap)
        return 0;
    /* a sealed batch carries many events on one line: it may be longer
     * (sealed_max) */
    int sealed =
        in->len > 0 && !c->skipping && ldg_ingest_is_sealed(in->s, in->len);
    if (sealed)
        lim = sealed_max(s) + 1;
    if (in->len >= lim) {
        /* a full buffer without a newline: over-long. Refused before it
         * grows any further; the rest of the line is read and dropped. */
        c->lineno++;
        srv_bump(&s->st.requests);
        if (sealed)
            answer_now(s, c,
                       "line %llu: a sealed batch longer than %zu bytes: "
                       "not recorded (the rest of the line is skipped). "
                       "Parsed and appended, a batch takes about %d times "
                       "its line: it may be 8 times " LDG_OPT_MAX_LINE
                       ", or " LDG_OPT_BUDGET " "
                       "(%zu) / %d if less, at least " LDG_OPT_MAX_LINE
                       "; send "
                       "smaller batches, or raise " LDG_OPT_BUDGET,
                       (unsigned long long)c->lineno, lim - 1,
                       LDG_INGEST_SEALED_FACTOR, s->o.budget_bytes,
                       LDG_INGEST_SEALED_FACTOR);
        else
            answer_now(s, c,
                       "line %llu: longer than %zu bytes: not recorded "
                       "(the rest of the line is skipped)",
                       (unsigned long long)c->lineno, lim - 1);
        c->lineno--; /* counted again when its newline comes */
        c->skipping = 1;
        in->len = 0;
        return 1;
    }
    /* in->cap - 1 more doubles the allocation (ldg_buf_grow) */
    want = in->cap ? in->cap - 1 : READ_MIN - 1;
    if (want > lim - in->len)
        want = lim - in->len;
    in->max = lim;
    return ldg_buf_room(in, want) != NULL ? 0 : -1;
}

/* Reads what c sent into the room in c->in. The finisher (past the
 * budget) takes nothing past its line's newline: it looks first
 * (MSG_PEEK) and then takes up to the newline, so what it holds after its
 * line is only ever less. */
static ssize_t
conn_recv(struct ldg_server *s, struct conn *c)
{
    uint8_t *at = c->in.p + c->in.len;
    size_t room = c->in.cap - c->in.len - 1;
    ssize_t n;
    const uint8_t *nl;

    LDG_ASSERT(c->in.len < c->in.cap);
    if (s->held < s->o.budget_bytes)
        return recv(c->fd, at, room, MSG_DONTWAIT);
    n = recv(c->fd, at, room, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return n;
    if ((nl = memchr(at, '\n', (size_t)n)) != NULL)
        n = nl + 1 - at;
    return recv(c->fd, at, (size_t)n, MSG_DONTWAIT);
}

void
srv_conn_read(struct ldg_server *s, struct conn *c)
{
    struct ldg_buf *in = &c->in;

    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        ssize_t n;
        int room;
        if (!conn_may_read(s, c))
            break;
        if ((room = in_room(s, c)) < 0) {
            srv_conn_close(s, c);
            return;
        }
        if (room > 0)
            continue;
        n = conn_recv(s, c);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            srv_conn_close(s, c);
            return;
        }
        if (n == 0) {
            c->rd_eof = 1;
            if (in->len > 0 && !c->skipping) {
                size_t len = in->len;
                while (len > 0 &&
                       (in->s[len - 1] == ' ' || in->s[len - 1] == '\t' ||
                        in->s[len - 1] == '\r'))
                    len--;
                if (len > 0) {
                    c->lineno++;
                    srv_bump(&s->st.requests);
                    answer_now(s, c,
                               "line %llu: cut short (the connection's "
                               "input ended before its newline): not "
                               "recorded",
                               (unsigned long long)c->lineno);
                }
            }
            in->len = 0;
            break;
        }
        c->active_ms = ldg_now_mono_ms();
        if (c->skipping) {
            /* read at in->p (in->len is 0 while skipping) and dropped up
             * to the newline, if one came */
            char *nl = memchr(in->s, '\n', (size_t)n);
            if (nl == NULL)
                continue;
            c->skipping = 0;
            c->lineno++;
            in->len = (size_t)n;
            ldg_buf_consume(in, (size_t)(nl + 1 - in->s));
        } else
            in->len += (size_t)n;
        LDG_ASSERT(in->len < in->cap);
        srv_process_lines(s, c);
    }
}

void
srv_refuse(struct ldg_server *s, int fd, const char *why)
{
    char msg[300];
    int n = snprintf(msg, sizeof msg, "{\"error\":\"%s\",\"code\":%d}\n", why,
                     SERVE_CODE_TEMP);
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing more to tell it */
    }
    close(fd);
    srv_bump(&s->st.refused);
}
