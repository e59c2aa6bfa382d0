/*
 * peer.c — who is at the other end of a client's connection, as the
 * kernel says (never as the client says):
 *
 *   Unix socket   SO_PEERCRED: uid, gid, pid at connect time
 *   loopback TCP  the client's socket is a line of /proc/net/tcp (or
 *                 tcp6) whose local address is the connection's peer
 *                 address and whose remote address is ours: it names
 *                 the owner's uid and the socket's inode; the process
 *                 holding that inode is found in /proc/PID/fd (only
 *                 processes we may read: a process of another user is
 *                 named by its uid alone unless we run as root)
 *
 * and the executable from /proc/PID/exe. The scan of /proc costs about a
 * millisecond on a busy box, so its answer is kept for the connection:
 * the proxy's server runs one thread per connection, and a thread-local
 * entry keyed by the connection's addresses is reused by the requests of
 * a keep-alive connection (and cannot outlive it: the thread ends with
 * the connection).
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
    }
    close(fd);
    *len = n;
    return b;
}

/* The pid of a process (of uid, unless we are root) holding socket
 * inode, or 0. */
static uint64_t
pid_of_inode(uint64_t inode, uint64_t uid)
{
    char want[48], path[300], link[64];
    uint64_t found = 0;
    int root = geteuid() == 0;
    DIR *d = opendir("/proc");
    struct dirent *e;

    if (d == NULL)
        return 0;
    snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)inode);
    size_t wl = strlen(want);
    while (!found && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (!root) {
            struct stat st;
            snprintf(path, sizeof path, "/proc/%s", e->d_name);
            if (stat(path, &st) < 0 || (uint64_t)st.st_uid != uid)
                continue;
        }
        snprintf(path, sizeof path, "/proc/%s/fd", e->d_name);
        DIR *fd = opendir(path);
        if (fd == NULL)
            continue;
        struct dirent *f;
        while ((f = readdir(fd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            char lp[600];
            snprintf(lp, sizeof lp, "%s/%s", path, f->d_name);
            ssize_t n = readlink(lp, link, sizeof link - 1);
            if (n == (ssize_t)wl && memcmp(link, want, wl) == 0) {
                found = strtoull(e->d_name, NULL, 10);
                break;
            }
        }
        closedir(fd);
    }
    closedir(d);
    return found;
}

/* The connection this thread serves, and who it was (see above). */
static _Thread_local struct {
    char key[200];
    struct proxy_peer p;
} cache;

static void
tcp_peer(int fd, struct proxy_peer *p)
{
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    char local[64], remote[64], key[200];
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
    snprintf(key, sizeof key, "%d %s %s", fd, local, remote);
    if (strcmp(cache.key, key) == 0) {
        char addr[64];
        memcpy(addr, p->addr, sizeof addr);
        *p = cache.p;
        p->transport = "tcp";
        memcpy(p->addr, addr, sizeof addr);
        return;
    }
    size_t len = 0;
    char *text = slurp(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", &len);
    uint64_t uid, inode;
    if (text && proxy_tcp_lookup(text, len, local, remote, &uid, &inode) == 0) {
        p->has_ids = 1;
        p->uid = uid;
        p->gid = (uint64_t)-1;
        uint64_t pid = pid_of_inode(inode, uid);
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
    free(text);
    snprintf(cache.key, sizeof cache.key, "%s", key);
    cache.p = *p;
}

void
proxy_peer_get(int fd, struct proxy_peer *p)
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
