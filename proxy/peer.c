/*
 * peer.c — who is at the other end of a client's connection, as the
 * kernel says (never as the client says):
 *
 *   Unix socket   SO_PEERCRED: uid, gid, pid at connect time
 *   loopback TCP  the client's socket is the one whose local address is
 *                 the connection's peer address and whose remote address
 *                 is ours: the kernel's sock_diag netlink interface
 *                 looks it up by those four (reading /proc/net/tcp*, the
 *                 fallback, costs milliseconds on a busy box) and names
 *                 the owner's uid and the socket's inode; the process
 *                 holding that inode is found in /proc/PID/fd (only
 *                 processes we may read: a process of another user is
 *                 named by its uid alone unless we run as root)
 *
 * and the executable from /proc/PID/exe. The scan of /proc/PID/fd costs
 * from one to tens of milliseconds (every descriptor of every process of
 * that uid is a readlink), so it is never on a request's path nor on the
 * server's threads: it runs on a thread of its own beside the upstream
 * request, which says when it is done (proxy_peer_lookup). What is
 * learned is kept for the connection (struct proxy_peers, by the
 * server's connection id) and reused by the next requests of a
 * keep-alive connection, until the connection closes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/proxy_int.h"

static void
exe_of(uint64_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%llu/exe", (unsigned long long)pid);
    ssize_t n = readlink(path, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* "0100007F:1F90" style, as /proc/net/tcp{,6} print an address. */
static int
hexaddr(const struct sockaddr_storage *ss, char *buf, size_t cap, int *v6)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        *v6 = 0;
        snprintf(buf, cap, "%08X:%04X", (unsigned)a->sin_addr.s_addr,
                 (unsigned)ntohs(a->sin_port));
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uint32_t w[4];
        memcpy(w, &a->sin6_addr, 16);
        *v6 = 1;
        snprintf(buf, cap, "%08X%08X%08X%08X:%04X", (unsigned)w[0],
                 (unsigned)w[1], (unsigned)w[2], (unsigned)w[3],
                 (unsigned)ntohs(a->sin6_port));
        return 0;
    }
    return -1;
}

int
proxy_tcp_lookup(const char *text, size_t len, const char *local,
                 const char *remote, uint64_t *uid, uint64_t *inode)
{
    const char *p = text, *end = text + len;
    size_t ll = strlen(local), rl = strlen(remote);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        /* "  12: 0100007F:9C40 0100007F:1F90 01 00000000:00000000
         *  00:00000000 00000000  1000        0 123456 ..." */
        const char *q = memchr(p, ':', (size_t)(e - p));
        if (q != NULL) {
            q++;
            while (q < e && *q == ' ')
                q++;
            if ((size_t)(e - q) > ll + rl + 1 && memcmp(q, local, ll) == 0 &&
                q[ll] == ' ' && memcmp(q + ll + 1, remote, rl) == 0) {
                /* fields after the addresses: st, tx:rx, tr:when,
                 * retrnsmt, uid, timeout, inode */
                char tmp[256];
                size_t n = (size_t)(e - q);
                if (n >= sizeof tmp)
                    n = sizeof tmp - 1;
                memcpy(tmp, q, n);
                tmp[n] = 0;
                unsigned long long u, ino;
                char a[80], b[80], st[8], tx[40], tr[40], rt[20], to[20];
                if (sscanf(tmp, "%79s %79s %7s %39s %39s %19s %llu %19s %llu",
                           a, b, st, tx, tr, rt, &u, to, &ino) == 9) {
                    *uid = u;
                    *inode = ino;
                    return 0;
                }
            }
        }
        p = e + 1;
    }
    return -1;
}

static char *
slurp(const char *path, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b == NULL || fd < 0) {
        free(b);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= (64u << 20))
                break; /* bounded: a box with millions of sockets */
            char *nb = realloc(b, cap * 2);
            if (nb == NULL)
                break;
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        LDG_ASSERT(n <= cap);
    }
    close(fd);
    *len = n;
    return b;
}

/* 1 if process pid (a string) holds want ("socket:[INODE]"). */
static int
holds(const char *pid, const char *want, size_t wl, uint64_t uid, int root)
{
    char path[64], lp[400], link[64];
    struct dirent *f;
    int hit = 0;

    if (!root) {
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s", pid);
        if (stat(path, &st) < 0 || (uint64_t)st.st_uid != uid)
            return 0;
    }
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    DIR *fd = opendir(path);
    if (fd == NULL)
        return 0;
    while (!hit && (f = readdir(fd)) != NULL) {
        if (f->d_name[0] == '.')
            continue;
        snprintf(lp, sizeof lp, "%s/%s", path, f->d_name);
        ssize_t n = readlink(lp, link, sizeof link - 1);
        hit = n == (ssize_t)wl && memcmp(link, want, wl) == 0;
    }
    closedir(fd);
    return hit;
}

/* The processes found most recently: a client opens its connections one
 * after another (a pool, a load generator), so the next one is most
 * likely theirs again. */
#define RECENT 8
static pthread_mutex_t recent_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t recent[RECENT];

static void
remember(uint64_t pid)
{
    pthread_mutex_lock(&recent_mu);
    size_t i = 0;
    while (i < RECENT - 1 && recent[i] != pid)
        i++;
    LDG_ASSERT(i < RECENT);
    memmove(recent + 1, recent, i * sizeof recent[0]);
    recent[0] = pid;
    pthread_mutex_unlock(&recent_mu);
}

static int
by_pid_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The pid of a process (of uid, unless we are root) holding socket
 * inode, or 0. The recent finders first, then every process from the
 * newest pid down (a short-lived client such as curl is new). */
static uint64_t
pid_of_inode(uint64_t inode, uint64_t uid)
{
    char want[48], name[24];
    uint64_t found = 0, mine[RECENT], *pids = NULL;
    size_t n = 0, cap = 0;
    int root = geteuid() == 0;
    struct dirent *e;

    snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)inode);
    size_t wl = strlen(want);
    pthread_mutex_lock(&recent_mu);
    memcpy(mine, recent, sizeof mine);
    pthread_mutex_unlock(&recent_mu);
    for (size_t i = 0; i < RECENT && mine[i]; i++) {
        snprintf(name, sizeof name, "%llu", (unsigned long long)mine[i]);
        if (holds(name, want, wl, uid, root)) {
            found = mine[i];
            goto out;
        }
    }
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            uint64_t *np = realloc(pids, nc * sizeof *np);
            if (np == NULL)
                break;
            pids = np;
            cap = nc;
        }
        LDG_ASSERT(n < cap);
        pids[n++] = strtoull(e->d_name, NULL, 10);
    }
    closedir(d);
    if (pids)
        qsort(pids, n, sizeof *pids, by_pid_desc);
    for (size_t i = 0; i < n && !found; i++) {
        snprintf(name, sizeof name, "%llu", (unsigned long long)pids[i]);
        if (holds(name, want, wl, uid, root))
            found = pids[i];
    }
    free(pids);
out:
    if (found)
        remember(found);
    return found;
}

static void
tcp_peer(int fd, struct proxy_peer *p)
{
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    char local[64], remote[64];
    int v6 = 0, v6b = 0;

    if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
        getsockname(fd, (struct sockaddr *)&self, &sl) < 0 ||
        hexaddr(&peer, local, sizeof local, &v6) < 0 ||
        hexaddr(&self, remote, sizeof remote, &v6b) < 0)
        return;
    if (peer.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&peer;
        char ip[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(p->addr, sizeof p->addr, "%s:%u", ip,
                 (unsigned)ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&peer;
        char ip[INET6_ADDRSTRLEN] = "";
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(p->addr, sizeof p->addr, "[%s]:%u", ip,
                 (unsigned)ntohs(a->sin6_port));
    }
    size_t len = 0;
    char *text = NULL;
    uint64_t uid, inode;
    if (ldg_tcp_peer_owner(&peer, &self, &uid, &inode) == 0 ||
        ((text = slurp(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", &len)) &&
         proxy_tcp_lookup(text, len, local, remote, &uid, &inode) == 0)) {
        p->has_ids = 1;
        p->uid = uid;
        p->gid = (uint64_t)-1;
        p->inode = inode;
        p->scan = 1; /* the pid: by a thread of proxy_peer_lookup */
    }
    free(text);
}

/* The scan for the process holding p->inode. */
static void
resolve_pid(struct proxy_peer *p)
{
    uint64_t pid = pid_of_inode(p->inode, p->uid);
    if (pid) {
        struct stat st;
        char path[64];
        p->has_pid = 1;
        p->pid = pid;
        exe_of(pid, p->exe, sizeof p->exe);
        snprintf(path, sizeof path, "/proc/%llu", (unsigned long long)pid);
        if (stat(path, &st) == 0)
            p->gid = st.st_gid;
    }
}

static void
peer_fast(int fd, struct proxy_peer *p)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    memset(p, 0, sizeof *p);
    p->transport = "tcp";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        struct ucred uc;
        socklen_t ul = sizeof uc;
        p->transport = "unix";
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 &&
            ul == sizeof uc) {
            p->has_ids = 1;
            p->uid = uc.uid;
            p->gid = uc.gid;
            if (uc.pid > 0) {
                p->has_pid = 1;
                p->pid = (uint64_t)uc.pid;
                exe_of(p->pid, p->exe, sizeof p->exe);
            }
        }
        return;
    }
    tcp_peer(fd, p);
}

void
proxy_peer_get(int fd, struct proxy_peer *p)
{
    peer_fast(fd, p);
    if (p->scan) {
        resolve_pid(p);
        p->scan = 0;
    }
}

/* ------------------------------------------------- per connection -- */

struct entry {
    uint64_t conn;
    int known; /* p is whole */
    struct proxy_peer p;
    struct entry *next;
};

#define PEERS_BUCKETS 256

struct proxy_peers {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    struct entry *b[PEERS_BUCKETS];
    unsigned scans; /* threads running */
};

struct scan {
    struct proxy_peers *ps;
    uint64_t conn;
    struct proxy_peer *p;
    void (*done)(void *);
    void *cls;
};

int
proxy_peers_new(struct proxy_peers **out)
{
    struct proxy_peers *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return LDG_ENOMEM;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->idle, NULL);
    *out = ps;
    return 0;
}

void
proxy_peers_free(struct proxy_peers *ps)
{
    if (ps == NULL)
        return;
    pthread_mutex_lock(&ps->mu);
    while (ps->scans > 0)
        pthread_cond_wait(&ps->idle, &ps->mu);
    pthread_mutex_unlock(&ps->mu);
    for (size_t i = 0; i < PEERS_BUCKETS; i++) {
        struct entry *e, *next;
        for (e = ps->b[i]; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->idle);
    free(ps);
}

/* With mu held: the entry of conn, or NULL. */
static struct entry **
slot_of(struct proxy_peers *ps, uint64_t conn)
{
    struct entry **pp = &ps->b[conn % PEERS_BUCKETS];
    while (*pp && (*pp)->conn != conn)
        pp = &(*pp)->next;
    return pp;
}

void
proxy_peers_closed(struct proxy_peers *ps, uint64_t conn)
{
    pthread_mutex_lock(&ps->mu);
    struct entry **pp = slot_of(ps, conn), *e = *pp;
    if (e)
        *pp = e->next;
    pthread_mutex_unlock(&ps->mu);
    free(e);
}

/* With mu held: keeps a whole p for conn (its entry made by the lookup
 * and not yet removed by the connection's close). */
static void
remember_conn(struct proxy_peers *ps, uint64_t conn, const struct proxy_peer *p)
{
    struct entry *e = *slot_of(ps, conn);
    if (e && !e->known) {
        e->p = *p;
        e->known = 1;
    }
}

static void *
scan_main(void *arg)
{
    struct scan *sc = arg;
    struct proxy_peers *ps = sc->ps;

    resolve_pid(sc->p);
    pthread_mutex_lock(&ps->mu);
    remember_conn(ps, sc->conn, sc->p);
    pthread_mutex_unlock(&ps->mu);
    sc->done(sc->cls);
    free(sc);
    pthread_mutex_lock(&ps->mu);
    if (--ps->scans == 0)
        pthread_cond_broadcast(&ps->idle);
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

int
proxy_peer_lookup(struct proxy_peers *ps, int fd, uint64_t conn,
                  struct proxy_peer *p, void (*done)(void *cls), void *cls)
{
    pthread_mutex_lock(&ps->mu);
    struct entry **pp = slot_of(ps, conn);
    if (*pp && (*pp)->known) {
        *p = (*pp)->p;
        pthread_mutex_unlock(&ps->mu);
        return 1;
    }
    if (*pp == NULL && (*pp = calloc(1, sizeof **pp)) != NULL)
        (*pp)->conn = conn;
    pthread_mutex_unlock(&ps->mu);

    peer_fast(fd, p);
    if (p->scan) {
        struct scan *sc = malloc(sizeof *sc);
        pthread_attr_t at;
        pthread_t t;
        p->scan = 0;
        if (sc != NULL) {
            *sc = (struct scan){ps, conn, p, done, cls};
            pthread_mutex_lock(&ps->mu);
            ps->scans++;
            pthread_mutex_unlock(&ps->mu);
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            int ok = pthread_create(&t, &at, scan_main, sc) == 0;
            pthread_attr_destroy(&at);
            if (ok)
                return 0;
            pthread_mutex_lock(&ps->mu);
            ps->scans--;
            pthread_mutex_unlock(&ps->mu);
            free(sc);
        }
        resolve_pid(p); /* no thread: here */
    }
    pthread_mutex_lock(&ps->mu);
    remember_conn(ps, conn, p);
    pthread_mutex_unlock(&ps->mu);
    return 1;
}

json_t *
proxy_peer_json(const struct proxy_peer *p)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "transport", json_string(p->transport));
    if (p->addr[0])
        json_object_set_new(o, "addr", json_string(p->addr));
    if (p->has_ids) {
        json_object_set_new(o, "uid", json_integer((json_int_t)p->uid));
        if (p->gid != (uint64_t)-1)
            json_object_set_new(o, "gid", json_integer((json_int_t)p->gid));
    }
    if (p->has_pid)
        json_object_set_new(o, "pid", json_integer((json_int_t)p->pid));
    if (p->exe[0])
        json_object_set_new(o, "exe", json_string(p->exe));
    return o;
}
