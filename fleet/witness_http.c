/*
 * witness_http.c — the witness over HTTP: POST <prefix>/add-checkpoint
 * (c2sp.org/tlog-witness), served through http/server.h; the protocol's
 * decisions are witness.c's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "http/server.h"

const char *
ldg_witness_lib_version(void)
{
    return ldg_httpd_lib_version();
}

struct srv {
    struct ldg_witness *w;
    const struct ldg_witness_serve_options *o;
};

static int
send_text(struct ldg_httpd_req *r, unsigned status, const char *ctype,
          const char *body, size_t len, const char *why)
{
    char h_type[160], h_why[600];
    const char *headers[3] = {h_type, NULL, NULL};

    snprintf(h_type, sizeof h_type, "Content-Type: %s", ctype);
    if (why != NULL && status != 200) {
        snprintf(h_why, sizeof h_why, "Ledger-Witness-Reason: %s", why);
        headers[1] = h_why;
    }
    return ldg_httpd_reply(r, status, headers, body, len);
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

static int
handle(void *cls, struct ldg_httpd_req *r)
{
    struct srv *s = cls;
    struct ldg_witness_reply rep;
    const char *url = ldg_httpd_path(r), *method = ldg_httpd_method(r);
    const void *body;
    size_t ul = strlen(url), len;
    static const char path[] = "/add-checkpoint";
    int rc;

    if (ul < sizeof path - 1 ||
        strcmp(url + ul - (sizeof path - 1), path) != 0) {
        static const char m[] = "not found: this witness serves only POST "
                                "/add-checkpoint\n";
        log_line(s, 404, method, url);
        return send_text(r, 404, "text/plain", m, sizeof m - 1, NULL);
    }
    if (strcmp(method, "POST") != 0) {
        static const char m[] = "add-checkpoint takes POST\n";
        log_line(s, 405, method, url);
        return send_text(r, 405, "text/plain", m, sizeof m - 1, NULL);
    }
    if (ldg_httpd_body_too_big(r)) {
        static const char m[] = "request body over the limit\n";
        log_line(s, 413, method, url);
        return send_text(r, 413, "text/plain", m, sizeof m - 1, NULL);
    }
    body = ldg_httpd_body(r, &len);
    if (ldg_witness_add_checkpoint(s->w, body != NULL ? body : "", len,
                                   (uint64_t)time(NULL), &rep) < 0)
        return -1;
    log_line(s, rep.status, rep.why, "");
    rc = send_text(r, (unsigned)rep.status, rep.ctype, rep.body, rep.body_len,
                   rep.why);
    ldg_witness_reply_release(&rep);
    return rc;
}

int
ldg_witness_serve(struct ldg_witness *w,
                  const struct ldg_witness_serve_options *o, char *err,
                  size_t errcap)
{
    struct srv s = {w, o};
    struct ldg_httpd_options ho = {0};
    struct ldg_httpd *h;
    int rc;

    if (w == NULL || o == NULL || o->addr == NULL || o->stop == NULL)
        return LDG_EINVAL;
    ho.listen = o->addr;
    ho.handle = handle;
    ho.ctx = &s;
    ho.body_max = LDG_WITNESS_BODY_MAX;
    if ((rc = ldg_httpd_start(&h, &ho, err, errcap)) < 0)
        return rc;
    if (o->on_ready != NULL)
        o->on_ready(o->ctx, ldg_httpd_port(h));
    while (!*o->stop)
        usleep(100 * 1000);
    ldg_httpd_stop(h);
    return 0;
}
