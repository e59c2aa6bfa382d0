/*
 * remote.c — where a log is published: an HTTP prefix that accepts PUT
 * (WebDAV), an S3-compatible bucket (s3://BUCKET/PREFIX, SigV4-signed by
 * http/), or a local directory. One place maps a relative tile path to a
 * URL and moves bytes through http/http.h; nothing here speaks libcurl.
 *
 * s3://BUCKET/PREFIX goes to $LEDGER_S3_ENDPOINT (path style, e.g.
 * http://127.0.0.1:9000/BUCKET/PREFIX/...) or, without it, to
 * https://BUCKET.s3.REGION.amazonaws.com/PREFIX/...; the region is
 * $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1; the credentials
 * $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "http/http.h"

struct ldg_remote {
    int kind; /* 0 http, 1 s3, 2 dir */
    char base[2048];
    char sigv4[128];
    char userpwd[512];
    struct ldg_http_client *http;
};

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
ldg_remote_open(struct ldg_remote **out, const char *url, char *err,
                size_t errcap)
{
    struct ldg_remote *r;
    size_t n;

    *out = NULL;
    if (url == NULL)
        return LDG_EINVAL;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return LDG_ENOMEM;
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
        const char *host = strstr(url, "://") + 3;
        if (*host == '\0' || *host == '/') { /* "http://", "http:///x" */
            snprintf(err, errcap, "%s: no host (want http(s)://HOST/PATH)",
                     url);
            free(r);
            return LDG_EINVAL;
        }
        r->kind = 0;
        snprintf(r->base, sizeof r->base, "%s", url);
    } else if (strncmp(url, "s3://", 5) == 0) {
        const char *ep = getenv("LEDGER_S3_ENDPOINT");
        const char *region = getenv("AWS_REGION");
        const char *id = getenv("AWS_ACCESS_KEY_ID");
        const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *bucket = url + 5, *slash = strchr(bucket, '/');
        int bl = slash ? (int)(slash - bucket) : (int)strlen(bucket);

        if (region == NULL || *region == '\0')
            region = getenv("AWS_DEFAULT_REGION");
        if (region == NULL || *region == '\0')
            region = "us-east-1";
        if (bl == 0 || id == NULL || secret == NULL) {
            snprintf(err, errcap,
                     bl == 0 ? "%s: no bucket (want s3://BUCKET/PREFIX)"
                             : "%s: set AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY",
                     url);
            free(r);
            return LDG_EINVAL;
        }
        r->kind = 1;
        if (ep != NULL && *ep != '\0')
            snprintf(r->base, sizeof r->base, "%s/%.*s%s", ep, bl, bucket,
                     slash ? slash : "");
        else
            snprintf(r->base, sizeof r->base,
                     "https://%.*s.s3.%s.amazonaws.com%s", bl, bucket, region,
                     slash ? slash : "");
        snprintf(r->sigv4, sizeof r->sigv4, "aws:amz:%s:s3", region);
        snprintf(r->userpwd, sizeof r->userpwd, "%s:%s", id, secret);
    } else if (strncmp(url, "file://", 7) == 0 || url[0] == '/' ||
               url[0] == '.' || is_dir(url)) {
        /* a directory: absolute, "./new", or one that is there ("pub") */
        r->kind = 2;
        snprintf(r->base, sizeof r->base, "%s",
                 strncmp(url, "file://", 7) == 0 ? url + 7 : url);
        if (r->base[0] == '\0') {
            /* "file://" alone named no directory (it used to write the
             * log into / ) */
            snprintf(err, errcap, "%s: no directory after file://", url);
            free(r);
            return LDG_EINVAL;
        }
    } else if (*url != '\0' && strstr(url, "://") == NULL) {
        /* "example.com/logs" is more likely a URL without its scheme than
         * a directory to create here */
        snprintf(err, errcap,
                 "%s: no such directory (a new one here: ./%s; a server: "
                 "http://, https:// or s3://BUCKET/PREFIX)",
                 url, url);
        free(r);
        return LDG_EINVAL;
    } else {
        snprintf(err, errcap,
                 "%s: want http://, https://, s3://BUCKET/PREFIX, file:// "
                 "or a directory",
                 url);
        free(r);
        return LDG_EINVAL;
    }
    n = strlen(r->base);
    while (n > 1 && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    if (r->kind != 2 && ldg_http_client_new(&r->http) < 0) {
        free(r);
        return LDG_ENOMEM;
    }
    *out = r;
    return 0;
}

void
ldg_remote_free(struct ldg_remote *r)
{
    if (r == NULL)
        return;
    ldg_http_client_free(r->http);
    free(r);
}

static void
prepare(const struct ldg_remote *r, struct ldg_http_request *q,
        const char *method, const char *url)
{
    memset(q, 0, sizeof *q);
    q->method = method;
    q->url = url;
    q->retries = 3;
    q->timeout_ms = 60000;
    if (r->kind == 1) {
        q->aws_sigv4 = r->sigv4;
        q->userpwd = r->userpwd;
    }
}

int
ldg_remote_get(struct ldg_remote *r, const char *rel, uint8_t **out,
               size_t *len, char *err, size_t errcap)
{
    char url[2600];
    struct ldg_http_request q;
    struct ldg_http_response resp;
    int rc;

    *out = NULL;
    *len = 0;
    snprintf(url, sizeof url, "%s/%s", r->base, rel);
    if (r->kind == 2) {
        rc = ldg_fleet_read_file(url, 64u << 20, (char **)out, len);
        if (rc < 0)
            snprintf(err, errcap, "%s: %s", url,
                     rc == LDG_ENOTFOUND ? "not found" : ldg_strerror(rc));
        return rc;
    }
    prepare(r, &q, "GET", url);
    q.accept_error_status = 1;
    rc = ldg_http_request(r->http, &q, &resp, err, errcap);
    if (rc == 0 && resp.status == 404) {
        snprintf(err, errcap, "GET %s: HTTP 404 (not published)", url);
        rc = LDG_ENOTFOUND;
    } else if (rc == 0 && resp.status >= 300) {
        snprintf(err, errcap, "GET %s: HTTP %ld", url, resp.status);
        rc = LDG_EIO;
    }
    if (rc == 0) {
        if (resp.body == NULL) {
            resp.body = malloc(1);
            if (resp.body == NULL)
                rc = LDG_ENOMEM;
        }
        *out = (uint8_t *)resp.body;
        *len = resp.body_len;
        resp.body = NULL;
    }
    ldg_http_response_release(&resp);
    return rc;
}

int
ldg_remote_settle(struct ldg_remote *r, char *err, size_t errcap)
{
    int fd, rc = 0;
    if (r->kind != 2)
        return 0;
    if ((fd = open(r->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        syncfs(fd) < 0) {
        snprintf(err, errcap, "%s: cannot flush what was written: %s", r->base,
                 strerror(errno));
        rc = LDG_EIO;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int
ldg_remote_put(struct ldg_remote *r, const char *rel, const void *data,
               size_t len, char *err, size_t errcap)
{
    char url[2600];
    struct ldg_http_request q;
    struct ldg_http_response resp;
    int rc;

    snprintf(url, sizeof url, "%s/%s", r->base, rel);
    if (r->kind == 2)
        return ldg_fleet_put_file(r->base, rel, data, len, err, errcap);
    prepare(r, &q, "PUT", url);
    q.body = data;
    q.body_len = len;
    rc = ldg_http_request(r->http, &q, &resp, err, errcap);
    ldg_http_response_release(&resp);
    return rc;
}

static int
fetch_cb(void *ctx, const char *rel, uint8_t **out, size_t *len, char *err,
         size_t errcap)
{
    return ldg_remote_get(ctx, rel, out, len, err, errcap);
}

void
ldg_remote_fetcher(struct ldg_remote *r, struct ldg_fetcher *f)
{
    f->get = fetch_cb;
    f->ctx = r;
}

int
ldg_remote_post(const char *url, const char *body, size_t len, long *status,
                char **resp_body, size_t *resp_len, char *err, size_t errcap)
{
    struct ldg_http_request q;
    struct ldg_http_response resp;
    int rc;

    memset(&q, 0, sizeof q);
    q.method = "POST";
    q.url = url;
    q.body = body;
    q.body_len = len;
    q.timeout_ms = 10000;
    q.connect_timeout_ms = 3000;
    q.accept_error_status = 1;
    rc = ldg_http_request(NULL, &q, &resp, err, errcap);
    *status = resp.status;
    *resp_body = resp.body;
    *resp_len = resp.body_len;
    resp.body = NULL;
    ldg_http_response_release(&resp);
    return rc;
}
