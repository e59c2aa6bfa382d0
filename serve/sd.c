/*
 * sd.c — systemd: socket activation and service notification.
 *
 * The one file that touches libsystemd. `ledger serve` under systemd
 * takes its listening socket from the socket unit (sd_listen_fds) and
 * tells the manager when it is ready, what it is doing and when it is
 * stopping (sd_notify; Type=notify). Everything else in the project never
 * needs libsystemd, and linking it pulls liblzma, liblz4, libgcrypt and
 * libcap into every `ledger query`; so, like export/archive_dl.c for
 * libarchive, it is loaded with dlopen here, and only when the
 * environment says systemd is there (LISTEN_FDS or NOTIFY_SOCKET set).
 * The function pointers are declared from <systemd/sd-daemon.h>'s own
 * prototypes, so the compiler checks they match.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "serve/serve.h"

#define SONAME "libsystemd.so.0"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[300] = "libsystemd is not loaded";
static __typeof__(sd_listen_fds) *p_listen_fds;
static __typeof__(sd_is_socket_unix) *p_is_socket_unix;
static __typeof__(sd_notify) *p_notify;

static void
load(void)
{
    void *lib = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(why, sizeof why, "cannot load %s: %s", SONAME, dlerror());
        return;
    }
    *(void **)&p_listen_fds = dlsym(lib, "sd_listen_fds");
    *(void **)&p_is_socket_unix = dlsym(lib, "sd_is_socket_unix");
    *(void **)&p_notify = dlsym(lib, "sd_notify");
    if (!p_listen_fds || !p_is_socket_unix || !p_notify) {
        snprintf(why, sizeof why, "%s lacks sd_listen_fds/sd_notify", SONAME);
        p_listen_fds = NULL;
        p_is_socket_unix = NULL;
        p_notify = NULL;
    }
}

static int
loaded(void)
{
    pthread_once(&once, load);
    return p_notify != NULL;
}

int
ldg_serve_sd_listen(int *fd, char *err, size_t errcap)
{
    int n, r;

    *fd = -1;
    if (getenv("LISTEN_FDS") == NULL)
        return 0;
    if (!loaded()) {
        snprintf(err, errcap, "LISTEN_FDS is set (socket activation) but %s",
                 why);
        return LDG_EIO;
    }
    /* 1: unset LISTEN_FDS/LISTEN_PID, so the jobs we start do not take
     * them for their own. */
    n = p_listen_fds(1);
    if (n < 0) {
        snprintf(err, errcap, "sd_listen_fds: %s", strerror(-n));
        return LDG_EIO;
    }
    if (n == 0)
        return 0; /* meant for another process (LISTEN_PID) */
    if (n > 1) {
        snprintf(err, errcap,
                 "socket activation passed %d sockets; ledger serve takes "
                 "exactly one (one ListenStream= in the socket unit)",
                 n);
        return LDG_EINVAL;
    }
    r = p_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
    if (r <= 0) {
        snprintf(
            err, errcap,
            "the socket passed by socket activation is not a listening "
            "Unix stream socket (ListenStream=/PATH in the socket unit)%s%s",
            r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
        return LDG_EINVAL;
    }
    *fd = SD_LISTEN_FDS_START;
    return 1;
}

int
ldg_serve_sd_notify(const char *state)
{
    int r;
    if (getenv("NOTIFY_SOCKET") == NULL)
        return 0;
    if (!loaded())
        return LDG_EIO;
    r = p_notify(0, state);
    return r < 0 ? LDG_EIO : r;
}

const char *
ldg_serve_sd_why(void)
{
    return why;
}
