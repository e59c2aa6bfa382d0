/*
 * server.c — the `ledger serve` daemon: one event loop, one writer.
 * This file holds the loop and the server's set-up and tear-down; the
 * connections (reading, lines, answers, the budget) are conn.c's, the
 * writer thread writer.c's, and what they share server_int.h's.
 *
 *   clients ──▶ event loop (epoll)            writer thread
 *               accept, read, split lines,    takes every queued request,
 *               parse, queue ────────────────▶ one ldg_batch per group,
 *               answers in order ◀──────────── commit (fsync), answers
 *
 * Every request line becomes a struct req in its connection's FIFO, in the
 * order read. A line the loop can already judge (malformed JSON, unknown
 * field, over-long) is answered on the spot; the rest go to the writer's
 * queue. The writer takes all that is queued (up to group_max) as one
 * group: each event goes through ldg_batch_add (a refused one gets its
 * error, the others go on), then one ldg_batch_commit makes the group
 * durable and only then are the seqs written into the answers. While the
 * writer sits in fsync the loop keeps reading, so under load events share
 * commits; a lone event is committed at once. The loop queues what one
 * round of epoll_wait read on a list of its own and hands it over at the
 * end of the round (one lock and one wake-up a round, not one a line).
 *
 * Why one writer and no pipeline: preparing group N+1 (ldg_prepare on a
 * second thread) while group N commits was measured (eighth session,
 * bench/RESULTS.md): as fast, and about 15% more daemon CPU, on two cores
 * the bench's 64 clients already fill. What bounds the 64-client figure is
 * CPU a request (jansson's parse and free in the loop, LMDB's puts in the
 * writer), not the writer waiting on fsync.
 *
 * Answers leave a connection strictly in request order: the loop writes
 * out the FIFO's head while it is answered. `ready` is the loop's own
 * flag (set when it takes an answer from the writer's completed list),
 * so the writer never touches anything the loop reads without the lock.
 *
 * A connection closed or dropped while the writer holds some of its
 * requests is only unlinked; it is freed when the writer hands the last
 * of them back (c->held reaches 0).
 *
 * Direct answers: when nothing of a connection is waiting to go out but
 * requests the writer may answer itself, the request the loop queues is
 * one of those too (req->direct). The writer, once the group is durable
 * and nothing else is queued for it, sends such an answer to the socket
 * itself and hands it back marked sent: a lone event's ack then costs
 * one thread's wake-up less on its way to the client (the loop's). With
 * a queue behind it, the writer goes on committing and the loop answers.
 * Order holds: the writer sends a connection's direct answers in FIFO
 * order, and once it leaves one unsent (or half sent) it sends none after
 * it (c->w_stop) until the loop has them all back. The socket is not
 * closed while the writer holds a direct request: its number cannot be
 * another connection's meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "serve/server_int.h"

void
srv_wake_at(struct ldg_server *s, uint64_t at_ms)
{
    if (s->wake_ms == 0 || at_ms < s->wake_ms)
        s->wake_ms = at_ms;
}

static void
seterr(struct ldg_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

/*
 * The shares of max_conns (docs/PROTOCOL.md, "Limits"): peers that may
 * write nothing (access.json) hold at most a quarter of it together, and
 * one uid other than the daemon's own at most half. So a reader-group
 * member's idle connections, or one writer's, never use up the slots
 * the other writers need; the daemon's own uid (the control plane under
 * the same user, `ledger append` run by the operator) has no share but
 * the limit. Writes *msg (cap bytes) and returns 1 when c is over one.
 */
static int
over_share(const struct ldg_server *s, const struct conn *c, char *msg,
           size_t cap)
{
    unsigned nowrite_max = s->o.max_conns / 4, uid_max = s->o.max_conns / 2;
    unsigned n = 0;
    if (c->may == 0 && s->nowrite >= (nowrite_max ? nowrite_max : 1)) {
        snprintf(msg, cap,
                 "too many connections from peers that may not write (%u, a "
                 "quarter of " LDG_OPT_MAX_CONNS "); try again later",
                 s->nowrite);
        return 1;
    }
    if (c->may == SERVE_AUTH_SELF || s->nconns < uid_max)
        return 0;
    for (const struct conn *x = s->conns; x != NULL; x = x->next)
        n += x->peer.uid == c->peer.uid;
    if (n < (uid_max ? uid_max : 1))
        return 0;
    snprintf(msg, cap,
             "too many connections from uid %u (%u, half of " LDG_OPT_MAX_CONNS
             "); "
             "try again later",
             (unsigned)c->peer.uid, n);
    return 1;
}

static void
accept_all(struct ldg_server *s)
{
    for (;;) {
        struct epoll_event e;
        struct conn *c;
        char why[200];
        int full, fd = ldg_accept(s->lfd, &s->spare_fd, &full);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN; or EMFILE with no spare (the next event) */
        }
        if (full) {
            srv_refuse(s, fd,
                       "the server is out of file descriptors (its open-file "
                       "limit); try again later");
            continue;
        }
        if (s->nconns >= s->o.max_conns || s->stopping) {
            srv_refuse(s, fd,
                       s->stopping ? "the server is stopping"
                                   : "too many connections; try again later");
            continue;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->close_fd = -1;
        serve_peer_get(fd, &c->peer);
        serve_peer_groups(fd, &c->peer);
        c->may = serve_auth_match(s->auth, &c->peer);
        if (over_share(s, c, why, sizeof why)) {
            srv_refuse(s, fd, why);
            srv_bump(&s->st.refused_share);
            free(c);
            continue;
        }
        c->nowrite = c->may == 0;
        c->active_ms = ldg_now_mono_ms();
        c->source.uid = c->peer.uid;
        c->source.gid = c->peer.gid;
        c->source.pid = (uint64_t)c->peer.pid;
        c->source.exe = c->peer.exe[0] ? c->peer.exe : NULL;
        c->source.unit = c->peer.unit[0] ? c->peer.unit : NULL;
        memset(&e, 0, sizeof e);
        e.events = c->mask = EPOLLIN | EPOLLRDHUP;
        e.data.ptr = c;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        s->nowrite += (unsigned)c->nowrite;
        srv_wake_at(s, c->active_ms + s->o.idle_ms);
        srv_bump(&s->st.conns);
    }
}

/* Takes the writer's answers and writes out what is in order. Two
 * passes: the first only marks requests answered and collects their
 * connections, the second writes each connection out once (which frees
 * the answered requests, so the list is not touched after the first). */
static void
take_done(struct ldg_server *s)
{
    struct req *r, *nx;
    struct conn *dirty = NULL, **dtail = &dirty, *c;
    uint64_t v;

    if (read(s->done_fd, &v, sizeof v) < 0) {
        /* nothing to read: another wake-up took it */
    }
    __atomic_store_n(&s->done_ready, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->mu);
    r = s->done_head;
    s->done_head = NULL;
    pthread_mutex_unlock(&s->mu);
    for (; r != NULL; r = nx) {
        nx = r->qnext;
        r->qnext = NULL;
        r->ready = 1;
        c = r->c;
        c->held--;
        c->direct_held -= (unsigned)r->direct;
        if (!c->dead && !c->dirty) {
            /* in the order of each connection's first answered request:
             * the connection whose request reached the writer first gets
             * its answers first (a group is in queue order) */
            c->dirty = 1;
            c->dirty_next = NULL;
            *dtail = c;
            dtail = &c->dirty_next;
        }
    }
    for (c = dirty; c != NULL; c = dirty) {
        dirty = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        srv_conn_update(s, c);
    }
    srv_retire_flush(s);
}

/* Whether idle_ms closes c when it is idle: always for a peer that may
 * write nothing, else only while slots are scarce (half of max_conns or
 * more taken). A writer that waits hours between events (`tail -f log |
 * ledger ingest -`) keeps its connection on a box with slots to spare,
 * and loses it only when others need them: it must then connect again
 * (it had nothing in flight, so nothing of it is lost; `ledger ingest`
 * says the server went away and exits 74). */
static int
idle_matters(const struct ldg_server *s, const struct conn *c)
{
    unsigned half = s->o.max_conns / 2;
    return c->nowrite || s->nconns >= (half ? half : 1);
}

/* Drops connections that have not read their answers for stall_ms. */
static void
check_stalls(struct ldg_server *s)
{
    uint64_t now = ldg_now_mono_ms();
    int over = s->held >= s->o.budget_bytes;
    struct conn *c, *nx;
    s->wake_ms = 0;
    for (c = s->conns; c != NULL; c = nx) {
        nx = c->next;
        /* at the budget, unsent answers are a stall too (srv_conn_update
         * says so for the connections it looks at; this for the rest) */
        if (over && c->stall_since_ms == 0 && c->out_off < c->out.len)
            c->stall_since_ms = now;
        if (c->line_since_ms != 0) {
            /* slowloris: a line that does not complete */
            if (now - c->line_since_ms >= s->o.line_ms) {
                srv_bump(&s->st.slow_dropped);
                srv_conn_close(s, c);
                continue;
            }
            srv_wake_at(s, c->line_since_ms + s->o.line_ms);
        } else if (!(c->mask & EPOLLIN)) {
            /* not read meanwhile (a pause): what it sent may be waiting */
            c->active_ms = now;
        } else if (!s->stopping && c->in.len == 0 && !c->skipping &&
                   c->head == NULL && c->held == 0 &&
                   c->out_off == c->out.len && idle_matters(s, c)) {
            /* nothing in flight: idle since it last sent or was answered */
            if (now - c->active_ms >= s->o.idle_ms) {
                srv_bump(&s->st.idle_closed);
                srv_conn_close(s, c);
                continue;
            }
            srv_wake_at(s, c->active_ms + s->o.idle_ms);
        }
        if (c->stall_since_ms == 0)
            continue;
        if (now - c->stall_since_ms >= s->o.stall_ms) {
            srv_bump(&s->st.dropped);
            srv_conn_close(s, c);
        } else
            srv_wake_at(s, c->stall_since_ms + s->o.stall_ms);
    }
}

/* Once a loop round, after check_stalls: under the budget again after
 * some connection was not read for it, every connection is looked at
 * again (srv_conn_update sets its epoll mask). At or over it, the finisher
 * (see "budget" above) is let go once a line of its completed, dropped if
 * none did within stall_ms, and chosen when no request is waiting. */
static void
budget_round(struct ldg_server *s)
{
    struct conn *c, *nx, *best = NULL;
    size_t waiting = 0;
    uint64_t now;

    if (s->stopping)
        return;
    if (s->fin != NULL && s->fin->lineno != s->fin_lineno)
        s->fin = NULL; /* done: a line of its completed */
    if (s->held < s->o.budget_bytes) {
        s->fin = NULL;
        if (!s->over)
            return;
        s->over = 0;
        for (c = s->conns; c != NULL; c = nx) {
            nx = c->next; /* srv_conn_update may close c */
            srv_conn_update(s, c);
        }
        return;
    }
    now = ldg_now_mono_ms();
    if (s->fin != NULL) {
        if (now - s->fin_ms >= s->o.stall_ms) {
            srv_bump(&s->st.dropped);
            srv_conn_close(s, s->fin); /* and s->fin = NULL */
        } else
            srv_wake_at(s, s->fin_ms + s->o.stall_ms);
        return;
    }
    for (c = s->conns; c != NULL; c = c->next) {
        waiting += c->waiting_bytes;
        if (c->in.len > 0 && !c->skipping && !c->rd_eof && !c->deferred &&
            !srv_conn_paused(s, c) &&
            (best == NULL || c->in.len > best->in.len))
            best = c;
    }
    /* Requests waiting go to the disk and come back as answers (fewer
     * bytes) by themselves: while there are any, no finisher. Answers are
     * not waited for: a reader takes them, a non-reader is dropped, and
     * neither needs a line to complete. */
    if (waiting > 0 || best == NULL)
        return;
    s->fin = best;
    s->fin_lineno = best->lineno;
    s->fin_ms = now;
    srv_wake_at(s, now + s->o.stall_ms);
    srv_conn_update(s, best);
}

/* ------------------------------------------------------------ the loop -- */

/* SIGHUP: reads access.json again. A good file replaces the rules (and
 * every open connection is judged by them from its next line); a bad one
 * changes nothing. Either way on_reload says so. */
static void
reload_auth(struct ldg_server *s)
{
    struct serve_auth *a = NULL;
    char msg[600] = "";
    uint64_t v;
    int rc;
    if (read(s->hup_fd, &v, sizeof v) < 0) {
        /* nothing to read: another wake-up took it */
    }
    rc = serve_auth_load(&a, s->auth_path, geteuid(), msg, sizeof msg);
    if (rc == 0)
        rc = serve_auth_apply_readers(
            a, ldg_dir(s->l), s->bound ? s->path : NULL, msg, sizeof msg);
    if (rc < 0) {
        serve_auth_free(a);
        if (s->o.on_reload != NULL)
            s->o.on_reload(s->o.ctx, rc, msg);
        return;
    }
    serve_auth_free(s->auth);
    s->auth = a;
    s->nowrite = 0;
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        c->may = serve_auth_match(a, &c->peer);
        c->nowrite = c->may == 0;
        s->nowrite += (unsigned)c->nowrite;
    }
    if (s->o.on_reload != NULL)
        s->o.on_reload(s->o.ctx, 0, s->auth_path);
}

static void
begin_stop(struct ldg_server *s)
{
    struct conn *c, *nx;
    s->stopping = 1;
    if (s->o.on_stopping != NULL)
        s->o.on_stopping(s->o.ctx);
    if (s->lfd >= 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
        close(s->lfd);
        s->lfd = -1;
        if (s->bound)
            unlink(s->path);
        s->bound = 0;
    }
    /* Complete lines already read are in flight: they are committed and
     * answered. Nothing more is read. */
    for (c = s->conns; c != NULL; c = nx) {
        nx = c->next;
        if (!c->skipping && c->in.len > 0)
            srv_process_lines(s, c);
        srv_conn_update(s, c);
    }
}

static int
held_total(const struct ldg_server *s)
{
    for (const struct conn *c = s->conns; c != NULL; c = c->next)
        if (c->held > 0 || c->head != NULL || c->out_off < c->out.len ||
            c->deferred)
            return 1;
    return 0;
}

int
ldg_serve_run(struct ldg_server *s)
{
    struct epoll_event ev[64];
    uint64_t stop_deadline = 0;
    int rc = 0;

    if (s == NULL)
        return LDG_EINVAL;
    if (pthread_create(&s->writer, NULL, srv_writer_main, s) != 0) {
        seterr(s, "cannot start the writer thread");
        return LDG_ENOMEM;
    }
    s->writer_started = 1;
    if (s->o.on_ready != NULL)
        s->o.on_ready(s->o.ctx, s->path);
    for (;;) {
        int n, timeout = 1000;
        if (s->stopping) {
            uint64_t now = ldg_now_mono_ms();
            if (!held_total(s) || now >= stop_deadline)
                break;
            timeout =
                (int)(stop_deadline - now < 100 ? stop_deadline - now : 100);
        }
        if (s->wake_ms != 0) {
            /* a stalled connection is due: dropped on time, not at the
             * next second's round */
            uint64_t now = ldg_now_mono_ms();
            uint64_t due = s->wake_ms > now ? s->wake_ms - now : 0;
            if (due < (uint64_t)timeout)
                timeout = (int)due;
        }
        n = epoll_wait(s->ep, ev, 64, timeout);
        if (n < 0 && errno != EINTR) {
            seterr(s, "epoll_wait: %s", strerror(errno));
            rc = LDG_EIO;
            s->stopping = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = ev[i].data.ptr;
            if (tag == TAG_LISTEN) {
                accept_all(s);
            } else if (tag == TAG_STOP) {
                if (!s->stopping) {
                    begin_stop(s);
                    stop_deadline = ldg_now_mono_ms() + s->o.drain_ms;
                }
            } else if (tag == TAG_DONE) {
                take_done(s);
            } else if (tag == TAG_HUP) {
                reload_auth(s);
            } else {
                struct conn *c = tag;
                if (c->dead)
                    continue;
                if ((ev[i].events &
                     (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
                    !c->rd_eof && !s->stopping)
                    srv_conn_read(s, c);
                if (!c->dead && (ev[i].events & (EPOLLHUP | EPOLLERR))) {
                    /* gone both ways: nothing more can be delivered (what
                     * it sent in full is still committed) */
                    srv_conn_close(s, c);
                    srv_queue_flush(s);
                    continue;
                }
                srv_conn_update(s, c);
                /* What this connection sent goes to the writer now, not
                 * at the end of the round: a round over 64 busy
                 * connections parses for milliseconds, and a group cut
                 * meanwhile would leave all of it for the next commit. */
                srv_queue_flush(s);
            }
            /* Answers the writer handed back go out before the next
             * connection is read: a group's acks wait for no read. */
            if (__atomic_load_n(&s->done_ready, __ATOMIC_ACQUIRE))
                take_done(s);
        }
        srv_queue_flush(s);
        srv_retire_flush(s);
        check_stalls(s);
        budget_round(s);
        srv_sweep(s); /* may free a closed connection's parsed batch */
        srv_sealed_recheck(s);
        srv_queue_flush(s);
    }
    /* The writer finishes its queue (it is empty unless the drain timed
     * out, and then what it holds is still committed), then stops. */
    srv_queue_flush(s);
    pthread_mutex_lock(&s->mu);
    s->writer_quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->writer_started = 0;
    take_done(s);
    while (s->conns != NULL)
        srv_conn_close(s, s->conns);
    srv_sweep(s);
    srv_retire_flush(s);
    return rc;
}

int
ldg_serve_submit(struct ldg_server *s, const struct ldg_event_in *evs, size_t n,
                 ldg_serve_done_fn done, void *cls)
{
    struct req *r;
    struct ext_batch *x;
    size_t sz;

    if (s == NULL || evs == NULL || n == 0 || done == NULL ||
        n > (SIZE_MAX - sizeof *r - sizeof *x) /
                (sizeof(int) + sizeof(uint64_t) + sizeof(unsigned)))
        return LDG_EINVAL;
    /* one allocation: the request, its batch, the seqs, outcomes and
     * differences */
    sz = sizeof *r + sizeof *x +
         n * (sizeof(uint64_t) + sizeof(int) + sizeof(unsigned));
    r = calloc(1, sz);
    if (r == NULL)
        return LDG_ENOMEM;
    x = (struct ext_batch *)(r + 1);
    x->seqs = (uint64_t *)(x + 1);
    x->outcome = (int *)(x->seqs + n);
    x->differs = (unsigned *)(x->outcome + n);
    x->evs = evs;
    x->n = n;
    x->done = done;
    x->cls = cls;
    r->ext = x;
    pthread_mutex_lock(&s->mu);
    if (!s->accepting || s->writer_quit) {
        pthread_mutex_unlock(&s->mu);
        free(r);
        return LDG_EIO; /* not started, or stopping */
    }
    if (s->q_tail)
        s->q_tail->qnext = r;
    else
        s->q_head = r;
    s->q_tail = r;
    s->q_n += n;
    __atomic_store_n(&s->backlog, (uint64_t)s->q_n, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

uint64_t
ldg_serve_backlog(const struct ldg_server *s)
{
    return s ? __atomic_load_n(&s->backlog, __ATOMIC_RELAXED) : 0;
}

void
ldg_serve_reload(struct ldg_server *s)
{
    uint64_t one = 1;
    if (s != NULL && write(s->hup_fd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

void
ldg_serve_stop(struct ldg_server *s)
{
    uint64_t one = 1;
    if (s != NULL && write(s->stop_fd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

/* --------------------------------------------------------- set up/down -- */

/* Takes the shared hold on DIR/serve.lock for the server's life (none
 * when the file cannot be made or opened). */
static int
hold(struct ldg_server *s, const char *dir)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, LDG_SERVE_LOCK) >=
        sizeof path)
        return LDG_EINVAL;
    /* read-only is enough for a flock; a directory this user cannot
     * write (where no migrate can run either) has none: served without */
    s->hold_fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->hold_fd < 0)
        s->hold_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (s->hold_fd >= 0 && flock(s->hold_fd, LOCK_SH) < 0) {
        seterr(s, "%s: %s", path, strerror(errno));
        return LDG_EIO;
    }
    return 0;
}

int
ldg_serve_held(const char *dir)
{
    char path[4096];
    int fd, held;

    if (dir == NULL || (size_t)snprintf(path, sizeof path, "%s/%s", dir,
                                        LDG_SERVE_LOCK) >= sizeof path)
        return LDG_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : LDG_EIO;
    held = flock(fd, LOCK_EX | LOCK_NB) < 0;
    if (held && errno != EWOULDBLOCK) {
        close(fd);
        return LDG_EIO;
    }
    close(fd); /* and the lock with it */
    return held;
}

/* Binds path, replacing a stale socket file that nothing answers on;
 * any other file there is left alone (LDG_EEXIST). */
static int
bind_socket(struct ldg_server *s)
{
    struct sockaddr_un sa;
    mode_t old;
    int fd, rc;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(s->path) >= sizeof sa.sun_path) {
        seterr(s, "socket path %s is longer than %zu bytes", s->path,
               sizeof sa.sun_path - 1);
        return LDG_EINVAL;
    }
    memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        seterr(s, "socket: %s", strerror(errno));
        return LDG_EIO;
    }
    old = umask(0117); /* srw-rw----: never world-writable */
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0 && errno == EADDRINUSE) {
        struct stat st;
        /* only a socket is replaced: a file of another kind at the path
         * (serve --socket /etc/passwd) refuses connections too, and is
         * not ours to delete */
        if (lstat(s->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            umask(old);
            close(fd);
            seterr(s,
                   "%s exists and is not a socket (serve replaces only a "
                   "socket its server left)",
                   s->path);
            return LDG_EEXIST;
        }
        if (ldg_unix_socket_live(s->path)) {
            umask(old);
            close(fd);
            seterr(s, "%s: another server already answers there", s->path);
            return LDG_EBUSY;
        }
        unlink(s->path); /* stale: its server is gone */
        rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    umask(old);
    if (rc < 0) {
        seterr(s, "cannot bind %s: %s", s->path, strerror(errno));
        close(fd);
        return errno == EADDRINUSE ? LDG_EBUSY : LDG_EIO;
    }
    chmod(s->path, 0660);
    if (listen(fd, 512) < 0) {
        seterr(s, "listen on %s: %s", s->path, strerror(errno));
        close(fd);
        unlink(s->path);
        return LDG_EIO;
    }
    s->lfd = fd;
    s->bound = 1;
    return 0;
}

static int
ep_add(struct ldg_server *s, int fd, void *tag)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.ptr = tag;
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
}

int
ldg_serve_new(struct ldg_server **out, struct ldg_ledger *l,
              const struct ldg_serve_options *opts, char *err, size_t errcap)
{
    struct ldg_server *s;
    int rc;

    if (out == NULL || l == NULL)
        return LDG_EINVAL;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    s->l = l;
    s->lfd = s->ep = s->stop_fd = s->done_fd = s->hup_fd = s->hold_fd = -1;
    s->spare_fd = -1;
    if (opts != NULL)
        s->o = *opts;
    if (s->o.max_conns == 0)
        s->o.max_conns = 4096;
    if (s->o.max_line == 0)
        s->o.max_line = ldg_body_max(l) + ENVELOPE_ROOM;
    if (s->o.queue_max == 0)
        s->o.queue_max = 256;
    if (s->o.queue_bytes == 0)
        s->o.queue_bytes = (size_t)4 << 20;
    if (s->o.out_max == 0)
        s->o.out_max = (size_t)1 << 20;
    if (s->o.stall_ms == 0)
        s->o.stall_ms = 10000;
    if (s->o.idle_ms == 0)
        s->o.idle_ms = LDG_SERVE_IDLE_DEFAULT;
    if (s->o.line_ms == 0)
        s->o.line_ms = LDG_SERVE_LINE_DEFAULT;
    if (s->o.drain_ms == 0)
        s->o.drain_ms = 5000;
    if (s->o.group_max == 0)
        s->o.group_max = 4096;
    if (s->o.sweep_ms == 0)
        s->o.sweep_ms = 60000;
    if (s->o.trim_events == 0)
        s->o.trim_events = 8192;
    if (s->o.budget_bytes == 0)
        s->o.budget_bytes = LDG_SERVE_BUDGET_DEFAULT;
    /* its timed wait is the sweep's interval: on the monotonic clock */
    if (ldg_cond_init_mono(&s->cv) != 0) {
        if (s->o.has_listen_fd)
            close(s->o.listen_fd); /* as every failure here closes it */
        free(s);
        return LDG_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->accepting = 1;
    /* a store this build does not append to: refused here, where the
     * operator (and systemd) sees it, not request by request for ever */
    if ((rc = ldg_check_writable(l)) < 0) {
        seterr(s, "not serving: %s", ldg_errmsg(l));
        if (s->o.has_listen_fd)
            s->lfd = s->o.listen_fd; /* closed with the server */
        goto fail;
    }
    if ((rc = hold(s, ldg_dir(l))) < 0) {
        if (s->o.has_listen_fd)
            s->lfd = s->o.listen_fd; /* closed with the server */
        goto fail;
    }
    {
        char *apath = s->auth_path;
        size_t acap = sizeof s->auth_path;
        if (s->o.writers_path != NULL)
            snprintf(apath, acap, "%s", s->o.writers_path);
        else
            snprintf(apath, acap, "%s/%s", ldg_dir(l), SERVE_AUTH_FILE);
        rc = serve_auth_load(&s->auth, apath, geteuid(), s->err, sizeof s->err);
        if (rc < 0) {
            if (s->o.has_listen_fd)
                s->lfd = s->o.listen_fd; /* closed with the server */
            goto fail;
        }
    }
    if (s->o.has_listen_fd) {
        s->lfd = s->o.listen_fd;
        fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
        if (s->o.socket_path != NULL)
            snprintf(s->path, sizeof s->path, "%s", s->o.socket_path);
        else {
            /* the name it was bound to (by the socket unit) */
            struct sockaddr_un sa;
            socklen_t sl = sizeof sa;
            memset(&sa, 0, sizeof sa);
            if (getsockname(s->lfd, (struct sockaddr *)&sa, &sl) == 0 &&
                sa.sun_family == AF_UNIX && sa.sun_path[0] != '\0')
                snprintf(s->path, sizeof s->path, "%.*s",
                         (int)(sizeof sa.sun_path), sa.sun_path);
        }
    } else {
        int n = s->o.socket_path != NULL
                    ? snprintf(s->path, sizeof s->path, "%s", s->o.socket_path)
                    : snprintf(s->path, sizeof s->path, "%s/%s", ldg_dir(l),
                               LDG_SERVE_SOCKET);
        if (n < 0 || (size_t)n >= sizeof s->path) {
            seterr(s, "socket path is longer than %zu bytes",
                   sizeof s->path - 1);
            rc = LDG_EINVAL;
            goto fail;
        }
        if ((rc = bind_socket(s)) < 0)
            goto fail;
    }
    if ((rc = serve_auth_apply_readers(s->auth, ldg_dir(l),
                                       s->bound ? s->path : NULL, s->err,
                                       sizeof s->err)) < 0)
        goto fail;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->hup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->ep < 0 || s->stop_fd < 0 || s->done_fd < 0 || s->hup_fd < 0 ||
        ep_add(s, s->hup_fd, TAG_HUP) < 0 ||
        ep_add(s, s->lfd, TAG_LISTEN) < 0 ||
        ep_add(s, s->stop_fd, TAG_STOP) < 0 ||
        ep_add(s, s->done_fd, TAG_DONE) < 0) {
        seterr(s, "cannot set up the event loop: %s", strerror(errno));
        rc = LDG_EIO;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "%s", s->err[0] ? s->err : ldg_strerror(rc));
    ldg_serve_free(s);
    return rc;
}

const char *
ldg_serve_path(const struct ldg_server *s)
{
    return s ? s->path : "";
}

const char *
ldg_serve_errmsg(const struct ldg_server *s)
{
    return s ? s->err : "";
}

void
ldg_serve_stats(const struct ldg_server *s, struct ldg_serve_stats *st)
{
    const struct ldg_serve_stats *c;
    if (s == NULL || st == NULL)
        return;
    c = &s->st; /* each counter read whole; together, not a snapshot */
    st->conns = __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
    st->refused = __atomic_load_n(&c->refused, __ATOMIC_RELAXED);
    st->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
    st->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
    st->acked = __atomic_load_n(&c->acked, __ATOMIC_RELAXED);
    st->errors = __atomic_load_n(&c->errors, __ATOMIC_RELAXED);
    st->commits = __atomic_load_n(&c->commits, __ATOMIC_RELAXED);
    st->denied = __atomic_load_n(&c->denied, __ATOMIC_RELAXED);
    st->sweeps = __atomic_load_n(&c->sweeps, __ATOMIC_RELAXED);
    st->cleared = __atomic_load_n(&c->cleared, __ATOMIC_RELAXED);
    st->trims = __atomic_load_n(&c->trims, __ATOMIC_RELAXED);
    st->duplicates = __atomic_load_n(&c->duplicates, __ATOMIC_RELAXED);
    st->held = __atomic_load_n(&c->held, __ATOMIC_RELAXED);
    st->held_peak = __atomic_load_n(&c->held_peak, __ATOMIC_RELAXED);
    st->budget_stops = __atomic_load_n(&c->budget_stops, __ATOMIC_RELAXED);
    st->idle_closed = __atomic_load_n(&c->idle_closed, __ATOMIC_RELAXED);
    st->slow_dropped = __atomic_load_n(&c->slow_dropped, __ATOMIC_RELAXED);
    st->refused_share = __atomic_load_n(&c->refused_share, __ATOMIC_RELAXED);
    st->epochs_ended = __atomic_load_n(&c->epochs_ended, __ATOMIC_RELAXED);
    st->epoch_failures = __atomic_load_n(&c->epoch_failures, __ATOMIC_RELAXED);
    st->direct = __atomic_load_n(&c->direct, __ATOMIC_RELAXED);
}

void
ldg_serve_free(struct ldg_server *s)
{
    if (s == NULL)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->writer_quit = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
    }
    /* ext batches the writer never took (it never ran): not written */
    pthread_mutex_lock(&s->mu);
    s->accepting = 0;
    struct req *q = s->q_head;
    s->q_head = s->q_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    for (struct req *r = q, *nx; r != NULL; r = nx) {
        nx = r->qnext;
        if (r->ext != NULL) {
            struct ldg_serve_done d;
            memset(&d, 0, sizeof d);
            d.rc = LDG_EIO;
            d.why = "the server stopped before its writer ran";
            d.n = r->ext->n;
            d.outcome = r->ext->outcome;
            d.seqs = r->ext->seqs;
            d.differs = r->ext->differs;
            r->ext->done(r->ext->cls, &d);
            free(r);
        }
    }
    while (s->conns != NULL)
        srv_conn_close(s, s->conns);
    for (struct conn *c = s->graveyard; c != NULL; c = s->graveyard) {
        s->graveyard = c->next;
        srv_conn_free(s, c);
    }
    srv_retire_flush(s);
    while (s->spare != NULL) {
        struct req *r = s->spare;
        s->spare = r->next;
        free(r);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    if (s->bound)
        unlink(s->path);
    if (s->hold_fd >= 0)
        close(s->hold_fd);
    if (s->ep >= 0)
        close(s->ep);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->hup_fd >= 0)
        close(s->hup_fd);
    if (s->done_fd >= 0)
        close(s->done_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    serve_auth_free(s->auth);
    free(s);
}
