/*
 * server_int.h — what the daemon's files share (not public): the loop
 * (server.c), its connections (conn.c) and the writer thread (writer.c).
 * The picture and the rules of who touches what are server.c's opening
 * comment.
 */
#ifndef LDG_SERVE_SERVER_INT_H
#define LDG_SERVE_SERVER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <jansson.h>

#include "ingest/ingest.h"
#include "ledger/module.h"
#include "serve/serve.h"
#include "serve/serve_int.h"
#include "util/util.h"

#define ENVELOPE_ROOM (64 * 1024)
#define READ_MIN 4096
#define TAG_LISTEN ((void *)1)
#define TAG_STOP ((void *)2)
#define TAG_DONE ((void *)3)
#define TAG_HUP ((void *)4)

struct conn;

/* An in-process writer's events (ldg_serve_submit): no connection; its
 * outcome goes to done, on the writer's thread, once the group is
 * durable (or failed). */
struct ext_batch {
    const struct ldg_event_in *evs;
    size_t n;
    int *outcome;      /* per event: 0 appended, 1 duplicate, < 0 refused */
    uint64_t *seqs;    /* per event: where it went, or the event with its id */
    unsigned *differs; /* per duplicate: what differs (LDG_DIFF_*) */
    char why[600];     /* the first refusal, or why nothing was written */
    int rc;            /* < 0: nothing of the group was written */
    ldg_serve_done_fn done;
    void *cls;
};

struct req {
    struct req *next;  /* in the connection's FIFO */
    struct req *qnext; /* in the writer's queue or the completed list */
    struct conn *c;    /* NULL for an in-process writer's (ext) */
    struct ext_batch *ext;
    json_t *holder; /* owns ev's strings */
    struct ldg_event_in ev;
    struct ldg_sealed_batch *sb; /* a sealed batch instead of ev */
    struct ldg_ingest_meta meta;
    size_t bytes;
    uint64_t lineno;  /* the line's number on its connection */
    uint64_t seq;     /* writer: where it went, or the event with its id */
    int dup;          /* writer: its id was already recorded */
    unsigned differs; /* writer: what of it differs from that event */
    int ready;        /* the loop may send resp (loop-only) */
    int is_err;       /* resp is an error */
    char *resp;
    size_t resp_len;
    /* direct: the writer may send resp itself, to fd, once durable (set
     * by the loop when queued, see server.c); sent: how much of resp it
     * sent (the writer's until handed back, then the loop's) */
    int direct;
    int fd;
    size_t sent;
};

struct conn {
    int fd;
    struct conn *prev, *next;
    struct serve_peer peer;
    uint64_t may; /* the access.json entries it matches (serve/auth.c) */
    struct ldg_source source; /* from peer: recorded with every event */
    uint64_t lineno;
    /* What was read and not yet made requests: complete lines waiting
     * for room in the queue, then the start of the next line. Grows by
     * doubling from READ_MIN up to the line limit (srv_conn_read), freed when
     * empty above 64 KiB (srv_process_lines). */
    struct ldg_buf in;
    int skipping; /* discarding an over-long line up to its newline */
    struct req *head, *tail;
    unsigned waiting; /* requests not yet answered */
    size_t waiting_bytes;
    unsigned held; /* requests the writer holds */
    /* Direct answers (server.c): direct, the requests in the FIFO the
     * writer may answer itself; direct_held, those of them it holds,
     * while which the socket stays open (a close waits in close_fd, -1
     * none, for srv_conn_free). w_stop: the writer left one of them for
     * the loop, so it sends none after it (written by the writer while
     * it holds a direct request, reset by the loop when none is held;
     * the queue's lock orders the two). */
    unsigned direct, direct_held;
    int close_fd;
    int w_stop;
    /* Answers not yet sent: out.p[out_off..out.len). What was sent is
     * dropped (ldg_buf_consume) only when an answer needs room or all of
     * it was sent, so a socket that takes a little at a time costs no
     * memmove a send. No ceiling of its own: out_max stops the reading,
     * and what is already queued must still be answered. */
    struct ldg_buf out;
    size_t out_off;
    int rd_eof, dead;
    uint32_t mask; /* epoll events registered */
    int dirty;     /* in take_done's list */
    struct conn *dirty_next;
    uint64_t stall_since_ms;
    size_t counted; /* its bytes in s->held, as held_sync last saw them */
    /* idle_ms: when it last sent something (or was accepted); line_ms:
     * since when its current line has been read without its newline
     * coming (0: no line under way, or the count restarts at the next
     * read: it was not read meanwhile) */
    uint64_t active_ms;
    uint64_t line_since_ms;
    uint64_t line_lineno; /* lineno when line_since_ms was set */
    int nowrite;          /* may write nothing: counted in s->nowrite */
    /* its next line is a sealed batch waiting for room in the budget to
     * be parsed (sealed_waits): not read meanwhile; counted in
     * s->ndeferred */
    int deferred;
};

struct ldg_server {
    struct ldg_ledger *l;
    struct ldg_serve_options o;
    struct serve_auth *auth; /* who may write: DIR/access.json */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int bound; /* we bound path and remove it at the end */
    int lfd, ep, stop_fd, done_fd, hup_fd;
    int spare_fd; /* held for a connection when out of fds (ldg_accept) */
    int hold_fd;  /* LDG_SERVE_LOCK, held shared while the server lives */
    char auth_path[4200];
    struct conn *conns;
    struct conn *graveyard; /* closed, freed once the writer is done */
    unsigned nconns;
    unsigned nowrite; /* of nconns, peers that may write nothing */
    /* sealed batches parsed and not yet freed, and connections whose
     * next sealed batch waits for them (sealed_waits); recheck: one was
     * freed, look at those connections again */
    size_t sealed_held;
    unsigned ndeferred;
    int recheck;
    int stopping;
    /* The budget (o.budget_bytes, docs/PROTOCOL.md): held is what every
     * open connection holds (held_sync); over says some connection was
     * not read for it since it was last under. fin, the finisher, may read
     * past it until a line of its completes (fin_lineno is its line count
     * when chosen, at fin_ms): see budget_round. Loop thread only. */
    size_t held;
    int over;
    struct conn *fin;
    uint64_t fin_lineno, fin_ms;
    /* when the next stalled connection (or finisher) is due to be
     * dropped, for epoll_wait's timeout; 0: none */
    uint64_t wake_ms;
    char err[512];
    struct ldg_serve_stats st;

    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct req *lq_head, *lq_tail; /* the loop's, for srv_queue_flush */
    size_t lq_n;
    struct req *q_head, *q_tail; /* to the writer */
    size_t q_n;                  /* events in it (a request counts 1,
                                    an ext batch its events) */
    struct req *done_head;       /* from the writer */
    struct req *spare;           /* the loop's freed requests, to reuse */
    size_t nspare;
    struct req
        *retired; /* answered and written out, freed by srv_retire_flush */
    int writer_quit;
    int done_ready; /* atomic: the writer handed answers back */
    /* the writer takes ext batches (ldg_serve_submit): from
     * ldg_serve_new (they wait for ldg_serve_run's writer) until it has
     * committed its last group (under mu) */
    int accepting;
    uint64_t backlog; /* q_n, readable without the lock (atomic) */
};

/* A counter of ldg_serve_stats, which any thread may read while the
 * server runs: each is added to atomically (relaxed: a count, not a
 * signal). */
static inline void
srv_bump(uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* Something is due at at_ms: the loop wakes then at the latest. */
void srv_wake_at(struct ldg_server *s, uint64_t at_ms);

void srv_req_error(struct req *r, const char *msg, int code);

void *srv_writer_main(void *arg);

/* Frees the requests conn_drain_fifo retired (loop thread only). Their
 * answers are written out first, all connections' of a group, and the
 * parsed requests freed after: the frees (jansson's, a few microseconds
 * a request) no longer hold back the next connection's acks. */
void srv_retire_flush(struct ldg_server *s);

void srv_conn_free(struct ldg_server *s, struct conn *c);

/* A connection's own limits: not read while it has this much waiting. */
int srv_conn_paused(const struct ldg_server *s, const struct conn *c);

/* Closes the socket and unlinks c. It is freed by srv_sweep() once the
 * writer has handed back its last request, never while the loop may
 * still hold a pointer to it. */
void srv_conn_close(struct ldg_server *s, struct conn *c);

void srv_sweep(struct ldg_server *s);

/* Writes what it can; then decides what to wait for. */
void srv_conn_update(struct ldg_server *s, struct conn *c);

void srv_queue_flush(struct ldg_server *s);

/* A parsed batch was freed: the connections whose sealed batch waited
 * for it are looked at again (once a loop round). */
void srv_sealed_recheck(struct ldg_server *s);

/* Handles every complete line in c->in while there is room. The lines
 * are parsed where they lie; what is left (a line not yet complete, or
 * lines waiting for room) moves to the front once, after the loop. */
void srv_process_lines(struct ldg_server *s, struct conn *c);

void srv_conn_read(struct ldg_server *s, struct conn *c);

/* Answers fd with a code 75 error line and closes it. */
void srv_refuse(struct ldg_server *s, int fd, const char *why);

#endif
