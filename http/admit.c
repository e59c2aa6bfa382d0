/*
 * admit.c — the connection shares of the project's HTTP servers (the
 * rules are in http_int.h). Peers and connections are kept in lists: a
 * server holds at most a few thousand connections, and a walk of them
 * costs microseconds, once per connection that arrives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/http_int.h"
#include "util/error.h"
#include "util/util.h"

struct httpd_peer_rec {
    struct httpd_peer id;
    unsigned n;    /* its connections listed and not closing: its share */
    unsigned refs; /* its connections listed (closing ones too) */
    struct httpd_peer_rec *next;
};

static int
same_peer(const struct httpd_peer *a, const struct httpd_peer *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == HTTPD_PEER_UID)
        return a->uid == b->uid;
    if (a->kind == HTTPD_PEER_ADDR)
        return memcmp(a->addr, b->addr, sizeof a->addr) == 0;
    return 1;
}

static struct httpd_peer_rec *
peer_rec(struct httpd_table *t, const struct httpd_peer *p)
{
    struct httpd_peer_rec *r;
    for (r = t->peers; r != NULL; r = r->next)
        if (same_peer(&r->id, p))
            return r;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return NULL;
    r->id = *p;
    r->next = t->peers;
    t->peers = r;
    return r;
}

/* Frees r once no listed connection points to it. */
static void
peer_drop(struct httpd_table *t, struct httpd_peer_rec *r)
{
    struct httpd_peer_rec **pp = &t->peers;
    if (r->refs > 0)
        return;
    while (*pp != NULL && *pp != r)
        pp = &(*pp)->next;
    if (*pp == r) {
        *pp = r->next;
        free(r);
    }
}

/* c stops counting (it is being closed, or it left). */
static void
uncount(struct httpd_table *t, struct httpd_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    LDG_ASSERT(t->n > 0 && c->pr->n > 0);
    t->n--;
    c->pr->n--;
}

static int
idle(const struct httpd_conn *c)
{
    return !c->closing && !__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE);
}

static uint64_t
idle_for(const struct httpd_conn *c, uint64_t now_ms)
{
    uint64_t a = __atomic_load_n(&c->active_ms, __ATOMIC_ACQUIRE);
    return now_ms > a ? now_ms - a : 0;
}

static void
close_one(struct httpd_table *t, struct httpd_conn *c,
          void (*close_fn)(void *, struct httpd_conn *), void *cls)
{
    uncount(t, c);
    __atomic_add_fetch(&t->closed_idle, 1, __ATOMIC_RELAXED);
    close_fn(cls, c);
}

/* The idle connection to close for a newcomer when every slot is taken:
 * of the peer holding the most, the one idle the longest; NULL if none
 * is idle. */
static struct httpd_conn *
victim(const struct httpd_table *t, uint64_t now_ms)
{
    struct httpd_conn *best = NULL;
    uint64_t best_idle = 0;
    for (struct httpd_conn *c = t->head; c != NULL; c = c->next) {
        if (!idle(c))
            continue;
        uint64_t d = idle_for(c, now_ms);
        if (best == NULL || c->pr->n > best->pr->n ||
            (c->pr->n == best->pr->n && d > best_idle)) {
            best = c;
            best_idle = d;
        }
    }
    return best;
}

int
httpd_admit(struct httpd_table *t, struct httpd_conn *c, uint64_t now_ms,
            void (*close_fn)(void *cls, struct httpd_conn *victim), void *cls)
{
    unsigned share = t->max / 2 ? t->max / 2 : 1;
    struct httpd_conn *v, *nx;
    struct httpd_peer_rec *r;

    /* under pressure, idle connections go sooner */
    if (t->n >= (t->max / 2 ? t->max / 2 : 1))
        for (v = t->head; v != NULL; v = nx) {
            nx = v->next;
            if (idle(v) && idle_for(v, now_ms) >= t->pressure_ms)
                close_one(t, v, close_fn, cls);
        }
    if ((r = peer_rec(t, &c->peer)) == NULL)
        return HTTPD_NOMEM;
    if (r->n >= share &&
        !(c->peer.kind == HTTPD_PEER_UID && c->peer.uid == t->self_uid)) {
        __atomic_add_fetch(&t->refused_share, 1, __ATOMIC_RELAXED);
        peer_drop(t, r);
        return HTTPD_OVER_SHARE;
    }
    if (t->n >= t->max) {
        if ((v = victim(t, now_ms)) == NULL) {
            __atomic_add_fetch(&t->refused_full, 1, __ATOMIC_RELAXED);
            peer_drop(t, r);
            return HTTPD_FULL;
        }
        close_one(t, v, close_fn, cls);
    }
    c->pr = r;
    r->n++;
    r->refs++;
    t->n++;
    LDG_ASSERT(r->refs >= r->n);
    __atomic_add_fetch(&t->admitted, 1, __ATOMIC_RELAXED);
    c->listed = 1;
    c->closing = 0;
    c->prev = NULL;
    c->next = t->head;
    if (t->head != NULL)
        t->head->prev = c;
    t->head = c;
    return 0;
}

void
httpd_leave(struct httpd_table *t, struct httpd_conn *c)
{
    if (!c->listed)
        return;
    uncount(t, c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->listed = 0;
    LDG_ASSERT(c->pr->refs > 0);
    c->pr->refs--;
    peer_drop(t, c->pr);
    c->pr = NULL;
}

void
httpd_table_release(struct httpd_table *t)
{
    while (t->peers != NULL) {
        struct httpd_peer_rec *r = t->peers;
        t->peers = r->next;
        free(r);
    }
}

/* Who is at the other end of fd, as the kernel says (http_int.h). */
void
httpd_peer_of(int fd, struct httpd_peer *p)
{
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    uint64_t uid, inode;

    memset(p, 0, sizeof *p);
    if (getsockname(fd, (struct sockaddr *)&self, &sl) < 0)
        return;
    if (self.ss_family == AF_UNIX) {
        struct ucred uc;
        socklen_t ul = sizeof uc;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 &&
            ul == sizeof uc) {
            p->kind = HTTPD_PEER_UID;
            p->uid = (uint32_t)uc.uid;
        }
        return;
    }
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
        return;
    if (ldg_tcp_peer_owner(&peer, &self, &uid, &inode) == 0) {
        p->kind = HTTPD_PEER_UID;
        p->uid = (uint32_t)uid;
        return;
    }
    if (peer.ss_family == AF_INET) {
        p->kind = HTTPD_PEER_ADDR;
        memcpy(p->addr, &((struct sockaddr_in *)&peer)->sin_addr, 4);
    } else if (peer.ss_family == AF_INET6) {
        const unsigned char *a =
            ((struct sockaddr_in6 *)&peer)->sin6_addr.s6_addr;
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                                   0, 0, 0, 0, 0xff, 0xff};
        p->kind = HTTPD_PEER_ADDR;
        if (memcmp(a, v4mapped, 12) == 0)
            memcpy(p->addr, a + 12, 4); /* one host, either way */
        else
            memcpy(p->addr + 4, a, 8); /* its /64 (after 4 zero bytes) */
    }
}

int
httpd_listen(const char *addr, int *out_fd, unsigned *out_port,
             char **out_unix_path, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1;

    memset(&ss, 0, sizeof ss);
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un *su = (struct sockaddr_un *)&ss;
        const char *p = addr + 5;

        if (*p == '\0' || strlen(p) >= sizeof su->sun_path) {
            snprintf(err, errcap, "'%s': want unix:PATH (at most %zu bytes)",
                     addr, sizeof su->sun_path - 1);
            return LDG_EBADINPUT;
        }
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, p, strlen(p) + 1);
        sl = sizeof *su;
        if ((*out_unix_path = strdup(p)) == NULL)
            return LDG_ENOMEM;
    } else {
        const char *colon = strrchr(addr, ':'), *h = addr;
        char host[64], *end;
        unsigned long port;
        size_t hl;

        if (colon == NULL || colon[1] == '\0')
            goto bad;
        hl = (size_t)(colon - addr);
        if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
            h++; /* [::1]:PORT */
            hl -= 2;
        }
        if (hl == 0 || hl >= sizeof host)
            goto bad;
        memcpy(host, h, hl);
        host[hl] = '\0';
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (*end == '\0' && errno == 0 && port > 65535) {
            snprintf(err, errcap, "'%s': port %s is not 0 to 65535", addr,
                     colon + 1);
            return LDG_EBADINPUT;
        }
        if (*end != '\0' || errno != 0)
            goto bad;
        if (strchr(host, ':') != NULL) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)port);
            if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
                goto bad;
            sl = sizeof *s6;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)port);
            if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
                goto bad;
            sl = sizeof *s4;
        }
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "cannot listen on %s: %s", addr, strerror(errno));
        return LDG_EIO;
    }
    if (ss.ss_family == AF_UNIX) {
        /* a socket file left by a server that is gone is replaced; one a
         * live server answers on is its: in use */
        struct stat st;
        if (lstat(*out_unix_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            if (ldg_unix_socket_live(*out_unix_path)) {
                snprintf(err, errcap,
                         "cannot listen on %s: address in use (a server "
                         "answers on it)",
                         addr);
                close(fd);
                free(*out_unix_path);
                *out_unix_path = NULL;
                return LDG_EBUSY;
            }
            unlink(*out_unix_path);
        }
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 256) < 0) {
        int in_use = errno == EADDRINUSE;
        snprintf(err, errcap, "cannot listen on %s: %s", addr,
                 in_use ? "address in use" : strerror(errno));
        close(fd);
        return in_use ? LDG_EBUSY : LDG_EIO;
    }
    if (ss.ss_family == AF_UNIX) {
        chmod(*out_unix_path, 0660);
    } else {
        sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            *out_port = ntohs(ss.ss_family == AF_INET6
                                  ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                  : ((struct sockaddr_in *)&ss)->sin_port);
    }
    *out_fd = fd;
    return 0;
bad:
    snprintf(err, errcap,
             "'%s': want IP:PORT, an IP address and not a host name "
             "(e.g. 127.0.0.1:8080 or [::1]:8080) "
             "or unix:PATH",
             addr);
    return LDG_EBADINPUT;
}
