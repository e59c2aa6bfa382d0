/*
 * sock.c — whether a Unix socket file is a live server's or one left by a
 * server that is gone (ledger serve's socket, the proxy's unix: address),
 * who holds the other end of a TCP connection made on this box, and an
 * accept that does not spin when the process is out of descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "util/util.h"

int
ldg_accept(int lfd, int *spare, int *full)
{
    int fd;
    *full = 0;
    if (*spare < 0)
        *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || *spare < 0)
        return fd;
    close(*spare); /* one descriptor, to take the waiting one off */
    *spare = -1;
    if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        *full = 1;
    return fd;
}

int
ldg_unix_socket_live(const char *path)
{
    struct sockaddr_un sa;
    int fd, live;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return 1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 1;
    live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ||
           (errno != ECONNREFUSED && errno != ENOENT);
    close(fd);
    return live;
}

/* The port (network order) and address of an AF_INET or AF_INET6 address:
 * the address's length (4 or 16), or 0 for another family. */
static size_t
inet_parts(const struct sockaddr_storage *s, uint16_t *port, const void **addr)
{
    if (s->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)s;
        *port = a->sin_port;
        *addr = &a->sin_addr;
        return 4;
    }
    if (s->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)s;
        *port = a->sin6_port;
        *addr = &a->sin6_addr;
        return 16;
    }
    return 0;
}

int
ldg_tcp_peer_owner(const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *self, uint64_t *uid,
                   uint64_t *inode)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    union {
        struct nlmsghdr h;
        char b[8192];
    } ans;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int rc = -1;

    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.nlh.nlmsg_seq = 1;
    req.r.sdiag_family = (uint8_t)peer->ss_family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    uint16_t sport, dport;
    const void *src, *dst;
    size_t alen = inet_parts(peer, &sport, &src);
    if (alen == 0 || self->ss_family != peer->ss_family ||
        inet_parts(self, &dport, &dst) != alen)
        return -1;
    req.r.id.idiag_sport = sport;
    req.r.id.idiag_dport = dport;
    memcpy(req.r.id.idiag_src, src, alen);
    memcpy(req.r.id.idiag_dst, dst, alen);
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) ==
        (ssize_t)sizeof req) {
        ssize_t n = recv(fd, &ans, sizeof ans, 0);
        if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct inet_diag_msg)) &&
            ans.h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            const struct inet_diag_msg *m = NLMSG_DATA(&ans.h);
            /* a socket without an inode is no process's any more (a
             * closed one in TIME_WAIT or FIN_WAIT says uid 0): none */
            *uid = m->idiag_uid;
            *inode = m->idiag_inode;
            rc = *inode != 0 ? 0 : -1;
        }
    }
    close(fd);
    return rc;
}
