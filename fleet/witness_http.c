/*
 * witness_http.c — the witness over HTTP: POST <prefix>/add-checkpoint
 * (c2sp.org/tlog-witness). The one file that touches libmicrohttpd; the
 * protocol's decisions are witness.c's.
 *
 * libmicrohttpd is loaded when a witness starts serving (dlopen of its
 * versioned soname), not linked: only `ledger witness serve` needs it,
 * and every other command would pay for loading it and its TLS stack
 * (bench/RESULTS.md). Its functions are called through pointers of the
 * types <microhttpd.h> declares.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fleet/fleet.h"

#define MHD_SONAME "libmicrohttpd.so.12"

static struct {
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_version) *get_version;
} mhd;

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static int mhd_ok;
static char mhd_why[300];

static void
mhd_load(void)
{
    static const char *const names[] = {"MHD_create_response_from_buffer",
                                        "MHD_add_response_header",
                                        "MHD_queue_response",
                                        "MHD_destroy_response",
                                        "MHD_start_daemon",
                                        "MHD_get_daemon_info",
                                        "MHD_stop_daemon",
                                        "MHD_get_version"};
    void **slot[] = {(void **)&mhd.create_response_from_buffer,
                     (void **)&mhd.add_response_header,
                     (void **)&mhd.queue_response,
                     (void **)&mhd.destroy_response,
                     (void **)&mhd.start_daemon,
                     (void **)&mhd.get_daemon_info,
                     (void **)&mhd.stop_daemon,
                     (void **)&mhd.get_version};
    void *lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(mhd_why, sizeof mhd_why, "cannot load %s: %s", MHD_SONAME,
                 dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*slot[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(mhd_why, sizeof mhd_why, "%s has no %s", MHD_SONAME,
                     names[i]);
            return;
        }
    }
    mhd_ok = 1;
}

const char *
ldg_witness_lib_version(void)
{
    static char v[360];
    pthread_once(&mhd_once, mhd_load);
    if (mhd_ok)
        snprintf(v, sizeof v, "libmicrohttpd %s", mhd.get_version());
    else
        snprintf(v, sizeof v, "libmicrohttpd (%s)", mhd_why);
    return v;
}

struct req {
    char *buf;
    size_t len;
    int too_big;
};

struct srv {
    struct ldg_witness *w;
    const struct ldg_witness_serve_options *o;
};

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
          const char *body, size_t len, const char *why)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return MHD_NO;
    memcpy(copy, body, len);
    /* MHD frees it with the response. */
    r = mhd.create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(copy);
        return MHD_NO;
    }
    mhd.add_response_header(r, "Content-Type", ctype);
    if (why != NULL && status != 200)
        mhd.add_response_header(r, "Ledger-Witness-Reason", why);
    ret = mhd.queue_response(c, status, r);
    mhd.destroy_response(r);
    return ret;
}

static void
log_line(struct srv *s, int status, const char *a, const char *b)
{
    char line[800];

    if (s->o->on_log == NULL)
        return;
    snprintf(line, sizeof line, "%d %s%s%s", status, a, b[0] ? " " : "", b);
    s->o->on_log(s->o->ctx, line);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size,
       void **con_cls)
{
    struct srv *s = cls;
    struct req *q = *con_cls;
    struct ldg_witness_reply rep;
    size_t ul = strlen(url);
    static const char path[] = "/add-checkpoint";
    enum MHD_Result ret;

    if (q == NULL) {
        q = calloc(1, sizeof *q);
        if (q == NULL)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!q->too_big && q->len + *upload_size <= LDG_WITNESS_BODY_MAX) {
            char *nb = realloc(q->buf, q->len + *upload_size + 1);
            if (nb == NULL)
                return MHD_NO;
            q->buf = nb;
            memcpy(q->buf + q->len, upload, *upload_size);
            q->len += *upload_size;
        } else {
            q->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (ul < sizeof path - 1 ||
        strcmp(url + ul - (sizeof path - 1), path) != 0) {
        static const char m[] = "not found: this witness serves only POST "
                                "/add-checkpoint\n";
        log_line(s, 404, method, url);
        return send_text(c, 404, "text/plain", m, sizeof m - 1, NULL);
    }
    if (strcmp(method, "POST") != 0) {
        static const char m[] = "add-checkpoint takes POST\n";
        log_line(s, 405, method, url);
        return send_text(c, 405, "text/plain", m, sizeof m - 1, NULL);
    }
    if (q->too_big) {
        static const char m[] = "request body over the limit\n";
        log_line(s, 413, method, url);
        return send_text(c, 413, "text/plain", m, sizeof m - 1, NULL);
    }
    if (ldg_witness_add_checkpoint(s->w, q->buf ? q->buf : "", q->len,
                                   (uint64_t)time(NULL), &rep) < 0)
        return MHD_NO;
    log_line(s, rep.status, rep.why, "");
    ret = send_text(c, (unsigned)rep.status, rep.ctype, rep.body, rep.body_len,
                    rep.why);
    ldg_witness_reply_release(&rep);
    return ret;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct req *q = *con_cls;

    if (q != NULL) {
        free(q->buf);
        free(q);
        *con_cls = NULL;
    }
}

int
ldg_witness_serve(struct ldg_witness *w,
                  const struct ldg_witness_serve_options *o, char *err,
                  size_t errcap)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct srv s = {w, o};
    char host[64];
    const char *colon;
    unsigned long port;
    char *end;

    if (w == NULL || o == NULL || o->addr == NULL || o->stop == NULL)
        return LDG_EINVAL;
    colon = strrchr(o->addr, ':');
    if (colon == NULL || (size_t)(colon - o->addr) >= sizeof host) {
        snprintf(err, errcap, "--listen '%s': want HOST:PORT", o->addr);
        return LDG_EBADINPUT;
    }
    memcpy(host, o->addr, (size_t)(colon - o->addr));
    host[colon - o->addr] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (*end != '\0' || colon[1] == '\0' || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errcap,
                 "--listen '%s': want an IPv4 address and a port, e.g. "
                 "127.0.0.1:8380",
                 o->addr);
        return LDG_EBADINPUT;
    }
    pthread_once(&mhd_once, mhd_load);
    if (!mhd_ok) {
        snprintf(err, errcap, "%s", mhd_why);
        return LDG_EIO;
    }
    d = mhd.start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
            MHD_USE_AUTO | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, handle, &s, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 0u, MHD_OPTION_END);
    if (d == NULL) {
        snprintf(err, errcap, "cannot listen on %s (in use?)", o->addr);
        return LDG_EIO;
    }
    info = mhd.get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (o->on_ready != NULL)
        o->on_ready(o->ctx, info != NULL ? info->port : (unsigned)port);
    while (!*o->stop)
        usleep(100 * 1000);
    mhd.stop_daemon(d);
    return 0;
}
