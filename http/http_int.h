/*
 * http_int.h — what http/server.c shares with http/admit.c (not public).
 *
 * Who may hold a connection to one of the project's HTTP servers. A
 * server has max connections; without shares anyone able to connect
 * could hold them all with idle sockets (issue 46: ~1,030 idle
 * connections of uid nobody and every other client of `ledger proxy`
 * timed out; 16 blinded `serve --metrics`). So, as `ledger serve` does
 * for its socket (serve/server.c, over_share):
 *
 *   - a peer is a uid when the kernel can say whose the other end is (a
 *     Unix socket's SO_PEERCRED; a TCP connection from this box: the
 *     socket tables, ldg_tcp_peer_owner), else the client's address (an
 *     IPv4 address, or an IPv6 address's /64: one host's share);
 *   - each peer holds at most half of max (at least 1), but the server's
 *     own uid, which has no share but max;
 *   - a connection is idle while no request of it is being handled (from
 *     the end of its last answer to its next request's handler); idle
 *     connections go first: while half of max or more are taken, one
 *     idle for pressure_ms or longer is closed as the next connection
 *     arrives, and when max are taken the arriving connection takes the
 *     slot of an idle one: of the peer holding the most connections, the
 *     one idle the longest;
 *   - a connection over its peer's share, or arriving when max are taken
 *     and none is idle, is closed at once (refused).
 *
 * A table is guarded by its server's mutex; nothing here blocks or
 * allocates beyond one record per peer.
 */
#ifndef LDG_HTTP_INT_H
#define LDG_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "http/server.h"

enum httpd_peer_kind {
    HTTPD_PEER_NONE = 0, /* unknown: shares the "none" peer */
    HTTPD_PEER_UID = 1,
    HTTPD_PEER_ADDR = 2
};

struct httpd_peer {
    enum httpd_peer_kind kind;
    uint32_t uid;           /* HTTPD_PEER_UID */
    unsigned char addr[16]; /* HTTPD_PEER_ADDR: 4 or 8 bytes used */
};

struct httpd_peer_rec; /* a peer's count (admit.c) */

/* One connection. The caller fills id, fd and peer, and keeps busy and
 * active_ms current (__atomic: set on the server's threads, read under
 * the table's mutex). */
struct httpd_conn {
    uint64_t id;
    int fd;
    struct httpd_peer peer;
    int busy;           /* __atomic: a request of it is being handled */
    uint64_t active_ms; /* __atomic: its last request's start or end */
    /* the table's */
    int listed;  /* in the table (admitted), until httpd_leave */
    int closing; /* closed by the table: counted no more */
    struct httpd_peer_rec *pr;
    struct httpd_conn *prev, *next;
};

struct httpd_table {
    unsigned max;         /* connections; >= 1 */
    uint64_t pressure_ms; /* idle time that closes under pressure */
    uint32_t self_uid;    /* the server's own uid: no share */
    /* the table's */
    unsigned n; /* listed and not closing */
    struct httpd_conn *head;
    struct httpd_peer_rec *peers;
    /* counts, for ldg_httpd_stats and ldg_grpcd_stats (written by the
     * server's loop, read from other threads: atomic, relaxed) */
    uint64_t admitted, refused_share, refused_full, closed_idle;
};

/* Why a connection is refused (httpd_admit's negative returns). */
#define HTTPD_OVER_SHARE (-1)
#define HTTPD_FULL (-2)
#define HTTPD_NOMEM (-3)

/* Admits c at now_ms (monotonic ms), closing what must make room: each
 * connection closed is marked closing and given to close_fn (which shuts
 * its socket; it stays listed until httpd_leave). @return 0 (c listed),
 * HTTPD_OVER_SHARE, HTTPD_FULL or HTTPD_NOMEM (c not listed: the caller
 * closes it). */
int httpd_admit(struct httpd_table *t, struct httpd_conn *c, uint64_t now_ms,
                void (*close_fn)(void *cls, struct httpd_conn *victim),
                void *cls);
/* c's connection closed: out of the table (a no-op for one not listed). */
void httpd_leave(struct httpd_table *t, struct httpd_conn *c);
/* Frees the peer records (every connection must have left). */
void httpd_table_release(struct httpd_table *t);

/* Who is at the other end of fd, as the kernel says (above). */
void httpd_peer_of(int fd, struct httpd_peer *p);

/* The listening socket for addr ("HOST:PORT", "[V6]:PORT", "unix:PATH",
 * server.h), into *fd; *port its TCP port, *unix_path (malloc'd) the
 * socket file made. 0, LDG_EBADINPUT, LDG_EBUSY (in use), LDG_EIO or
 * LDG_ENOMEM, with err. */
int httpd_listen(const char *addr, int *fd, unsigned *port, char **unix_path,
                 char *err, size_t errcap);

/* The gRPC server's (grpc.c) connection fed data without a socket, for
 * the fuzz target: @return 0, LDG_ECORRUPT when a message stayed held. */
int httpd_grpc_fuzz_one(const unsigned char *data, size_t len, size_t msg_max,
                        ldg_grpcd_handler handle, void *ctx);

#endif
