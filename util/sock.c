/*
 * sock.c — whether a Unix socket file is a live server's or one left by a
 * server that is gone (ledger serve's socket, the proxy's unix: address).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"

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
