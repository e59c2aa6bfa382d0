/*
 * client.c — the library's client of `ledger serve` (serve.h): a
 * connection, a send side and a receive side, each under its own lock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve/serve.h"
#include "util/util.h"

#define ANSWER_MAX (64 * 1024) /* longest answer line read */
#define RECV_BYTES 16384       /* asked of recv at most */

struct ldg_client {
    int fd;
    pthread_mutex_t send_mu, recv_mu;
    struct ldg_buf in; /* received, ceiling ANSWER_MAX; read from in_off */
    size_t in_off;
    char err[512];
};

static void
cerr(struct ldg_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

int
ldg_client_connect(struct ldg_client **out, const char *dir, const char *path,
                   char *err, size_t errcap)
{
    struct sockaddr_un sa;
    struct ldg_client *c;
    int fd, n;

    if (out == NULL || (dir == NULL && path == NULL))
        return LDG_EINVAL;
    *out = NULL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    n = path != NULL ? snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path)
                     : snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir,
                                LDG_SERVE_SOCKET);
    if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
        snprintf(err, errcap, "socket path is longer than %zu bytes",
                 sizeof sa.sun_path - 1);
        return LDG_EINVAL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return LDG_EIO;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        snprintf(err, errcap, "cannot connect to %s: %s", sa.sun_path,
                 strerror(e));
        close(fd);
        return e == ENOENT || e == ECONNREFUSED ? LDG_ENOTFOUND : LDG_EIO;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        snprintf(err, errcap, "out of memory");
        return LDG_ENOMEM;
    }
    c->fd = fd;
    ldg_buf_init(&c->in, ANSWER_MAX);
    pthread_mutex_init(&c->send_mu, NULL);
    pthread_mutex_init(&c->recv_mu, NULL);
    *out = c;
    return 0;
}

static int
send_all(struct ldg_client *c, const char *p, size_t n)
{
    if (ldg_write_all(c->fd, p, n, 1) == 0)
        return 0;
    cerr(c, "the server went away: %s", strerror(errno));
    return LDG_EIO;
}

int
ldg_client_send(struct ldg_client *c, const char *line, size_t len)
{
    struct iovec iov[2];
    struct msghdr mh;
    size_t total = len + 1, done = 0;
    int rc = 0;

    if (c == NULL || line == NULL || memchr(line, '\n', len) != NULL)
        return LDG_EINVAL;
    iov[0].iov_base = (void *)(uintptr_t)line;
    iov[0].iov_len = len;
    iov[1].iov_base = (void *)(uintptr_t) "\n";
    iov[1].iov_len = 1;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    pthread_mutex_lock(&c->send_mu);
    /* one sendmsg for the usual case; the rest (a partial send) after */
    {
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno != EINTR) {
            cerr(c, "the server went away: %s", strerror(errno));
            rc = LDG_EIO;
        } else if (w > 0)
            done = (size_t)w;
    }
    if (rc == 0 && done < len)
        rc = send_all(c, line + done, len - done);
    if (rc == 0 && done < total)
        rc = send_all(c, "\n", 1);
    pthread_mutex_unlock(&c->send_mu);
    return rc;
}

int
ldg_client_append(struct ldg_client *c, const struct ldg_event_in *ev,
                  const char *id, int has_time, uint64_t time_ns)
{
    json_t *o;
    char *text, tbuf[24];
    int rc;

    if (c == NULL || ev == NULL || ev->type == NULL)
        return LDG_EINVAL;
    if (id == NULL) /* the event's own id and time, as ldg_append takes */
        id = ev->id;
    if (!has_time && ev->has_time) {
        has_time = 1;
        time_ns = ev->time_ns;
    }
    if (id != NULL) {
        if (!ldg_text_ok(id, LDG_ID_MAX)) {
            /* the server's words for it; nothing is sent */
            cerr(c,
                 "field 'id': must be a string of 1 to %d bytes without "
                 "control characters",
                 LDG_ID_MAX);
            return LDG_EBADINPUT;
        }
    }
    o = json_object();
    if (o == NULL)
        return LDG_ENOMEM;
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "body",
                        ev->body ? json_incref(ev->body) : json_object());
    if (ev->subject)
        json_object_set_new(o, "subject", json_string(ev->subject));
    if (ev->run)
        json_object_set_new(o, "run", json_string(ev->run));
    if (ev->actor)
        json_object_set_new(o, "actor", json_string(ev->actor));
    if (ev->has_parent)
        json_object_set_new(o, "parent", json_integer((json_int_t)ev->parent));
    if (id != NULL)
        json_object_set_new(o, "id", json_string(id));
    if (has_time) {
        snprintf(tbuf, sizeof tbuf, "%llu", (unsigned long long)time_ns);
        json_object_set_new(o, "time", json_string(tbuf));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        cerr(c, "cannot encode the request (a string that is not UTF-8?)");
        return LDG_EBADINPUT;
    }
    rc = ldg_client_send(c, text, strlen(text));
    free(text);
    return rc;
}

/* Parses one answer line. */
static int
parse_answer(struct ldg_client *c, const char *line, size_t len,
             struct ldg_client_answer *a)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je), *v;
    int rc = LDG_EBADINPUT;

    memset(a, 0, sizeof *a);
    if (!json_is_object(o))
        goto bad;
    if ((v = json_object_get(o, "id")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) > LDG_ID_MAX)
            goto bad;
        a->has_id = 1;
        memcpy(a->id, json_string_value(v), json_string_length(v) + 1);
    }
    if ((v = json_object_get(o, "seq")) != NULL) {
        char *end;
        if (!json_is_string(v))
            goto bad;
        errno = 0;
        a->seq = strtoull(json_string_value(v), &end, 10);
        if (*end != '\0' || errno != 0 || json_string_value(v)[0] == '\0')
            goto bad;
        a->ok = 1;
        a->count = 1;
        a->duplicate = json_is_true(json_object_get(o, "duplicate"));
        if ((v = json_object_get(o, "count")) != NULL) {
            /* a sealed batch's answer */
            if (!json_is_integer(v) || json_integer_value(v) < 1)
                goto bad;
            a->count = (uint64_t)json_integer_value(v);
        }
        if ((v = json_object_get(o, "sealed")) != NULL) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                goto bad;
            a->has_sealed = 1;
            a->sealed = (uint64_t)json_integer_value(v);
        }
        if ((v = json_object_get(o, "differs")) != NULL) {
            static const char *const names[] = {
                "type", "subject", "run", "parent", "actor", "time", "body"};
            size_t i;
            json_t *x;
            if (!json_is_array(v))
                goto bad;
            json_array_foreach(v, i, x)
            {
                for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
                    if (json_is_string(x) &&
                        strcmp(json_string_value(x), names[j]) == 0)
                        a->differs |= 1u << j;
            }
        }
    } else {
        json_t *e = json_object_get(o, "error");
        v = json_object_get(o, "code");
        if (!json_is_string(e) || !json_is_integer(v))
            goto bad;
        a->code = (int)json_integer_value(v);
        snprintf(a->error, sizeof a->error, "%s", json_string_value(e));
    }
    rc = 0;
bad:
    if (rc < 0)
        cerr(c, "the server's answer is not the protocol's: %.*s",
             (int)(len > 200 ? 200 : len), line);
    json_decref(o);
    return rc;
}

int
ldg_client_wait(struct ldg_client *c, struct ldg_client_answer *a,
                int timeout_ms)
{
    int rc;
    if (c == NULL || a == NULL)
        return LDG_EINVAL;
    pthread_mutex_lock(&c->recv_mu);
    for (;;) {
        size_t have = c->in.len - c->in_off, want;
        char *nl = have > 0 ? memchr(c->in.s + c->in_off, '\n', have) : NULL;
        uint8_t *room;
        struct pollfd p;
        ssize_t n;
        if (nl != NULL) {
            size_t len = (size_t)(nl - (c->in.s + c->in_off));
            rc = parse_answer(c, c->in.s + c->in_off, len, a);
            c->in_off += len + 1;
            LDG_ASSERT(c->in_off <= c->in.len);
            break;
        }
        ldg_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
        if (c->in.len == ANSWER_MAX) {
            cerr(c, "an answer longer than %d bytes", ANSWER_MAX);
            rc = LDG_EBADINPUT;
            break;
        }
        want = ANSWER_MAX - c->in.len;
        if (want > RECV_BYTES)
            want = RECV_BYTES;
        if ((room = ldg_buf_room(&c->in, want)) == NULL) {
            cerr(c, "out of memory");
            rc = LDG_ENOMEM;
            break;
        }
        p.fd = c->fd;
        p.events = POLLIN;
        n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            cerr(c, "no answer within %d ms", timeout_ms);
            rc = LDG_ETIMEOUT;
            break;
        }
        n = recv(c->fd, room, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cerr(c, "the server closed the connection%s%s", n < 0 ? ": " : "",
                 n < 0 ? strerror(errno) : "");
            rc = LDG_EIO;
            break;
        }
        c->in.len += (size_t)n;
    }
    pthread_mutex_unlock(&c->recv_mu);
    return rc;
}

int
ldg_client_done(struct ldg_client *c)
{
    if (c == NULL)
        return LDG_EINVAL;
    return shutdown(c->fd, SHUT_WR) == 0 ? 0 : LDG_EIO;
}

int
ldg_client_fd(const struct ldg_client *c)
{
    return c ? c->fd : -1;
}

const char *
ldg_client_errmsg(const struct ldg_client *c)
{
    return c ? c->err : "";
}

void
ldg_client_close(struct ldg_client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    pthread_mutex_destroy(&c->send_mu);
    pthread_mutex_destroy(&c->recv_mu);
    ldg_buf_release(&c->in);
    free(c);
}
