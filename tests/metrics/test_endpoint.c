/*
 * test_endpoint.c — metrics/endpoint.c: GET /metrics from the library
 * alone (this test program is no `ledger`, and none is executed: each
 * scrape is a job the server's runner forks), the ledger's figures with
 * the server's own; a path other than /metrics is 404.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "serve/serve.h"
#include "tests/support/support.h"

static struct ldg_jobs *jobs; /* its runner, made before any thread */

/* GET path from 127.0.0.1:port: the whole answer (malloc'd). */
static char *
get(unsigned port, const char *path)
{
    struct sockaddr_in sa;
    char req[256], *buf = calloc(1, 1 << 20);
    size_t len = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_true(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    while ((n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    return buf;
}

static char *
extra(void *ctx, size_t *len)
{
    static const char own[] = "server_own_figure 7\n";
    (void)ctx;
    *len = sizeof own - 1;
    return strdup(own);
}

static void
test_endpoint__scrapes_without_the_program(void **state)
{
    struct ldg_metrics_endpoint_opts o;
    struct ldg_metrics_endpoint *e = NULL;
    struct ldg_ledger *l;
    char dir[256], err[512], *a;
    (void)state;

    l = t_ledger_new(dir, sizeof dir, 0);
    t_append_many(l, 12);
    memset(&o, 0, sizeof o);
    o.listen = "127.0.0.1:0";
    o.dir = dir;
    o.jobs = jobs;
    o.extra = extra;
    assert_int_equal(ldg_metrics_endpoint_start(&e, &o, err, sizeof err), 0);
    a = get(ldg_metrics_endpoint_port(e), "/metrics");
    if (strstr(a, "ledger_metrics_scrape_ok 1") == NULL)
        fail_msg("scrape: %s", a);
    if (strstr(a, "ledger_events_total{type=\"x.test.n\"} 12") == NULL)
        fail_msg("no count: %s", a);
    assert_non_null(strstr(a, "server_own_figure 7"));
    free(a);
    a = get(ldg_metrics_endpoint_port(e), "/other");
    assert_non_null(strstr(a, " 404 "));
    free(a);
    ldg_metrics_endpoint_stop(e);
    /* without a runner to scrape with: refused */
    o.jobs = NULL;
    assert_int_equal(ldg_metrics_endpoint_start(&e, &o, err, sizeof err),
                     LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint__scrapes_without_the_program),
    };
    int rc;
    if (ldg_jobs_new(&jobs) < 0) /* before any thread, as serve.h asks */
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ldg_jobs_free(jobs);
    return rc;
}
