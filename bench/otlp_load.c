/*
 * otlp_load.c — the load of bench/otlp.sh: the same spans, recorded by
 * `ledger serve --otlp` over OTLP/HTTP and by `ledger serve` over its own
 * protocol, in batches of BATCH (512).
 *
 *   otlp_load pb|json URL CONNS BATCHES   POST /v1/traces, protobuf or JSON
 *   otlp_load serve SOCKET CONNS BATCHES  the events those requests map to,
 *                                         as request lines (docs/PROTOCOL.md)
 *   otlp_load dump DIR CONNS BATCHES      the protobuf requests, written as
 *                                         DIR/K.B.pb for the OTLP/gRPC load
 *                                         (bench/otlp_grpc_load.cjs)
 *
 * Each of CONNS connections sends BATCHES batches, one at a time: an
 * export request of BATCH chat spans (an SDK's BatchSpanProcessor sends
 * the next batch when the last is answered), or the BATCH request lines
 * those spans map to, written at once, the next batch once all are
 * answered. Every request body and line is made before the clock starts
 * (ldg_otlp_decode maps the JSON request to the very events the receiver
 * records), so the figures are the server's. Span ids are the run's own
 * (a tag from the pid and clock), so nothing is a duplicate. Prints
 *
 *   otlp_load mode=pb conns=4 spans=51200 secs=0.812 sps=63054 errors=0
 *
 * and exits 1 when any request was refused or a span was not recorded.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "util/util.h"
#include "otlp/otlp.h"
#include "otlp/otlp.pb-c.h"

#define BATCH 512

static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t
wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One batch as OTLP/JSON: BATCH chat spans of trace (tag, conn, batch),
 * as the openai instrumentation writes them. */
static char *
batch_json(uint32_t tag, int conn, int b)
{
    json_t *spans = json_array();
    uint64_t t0 = wall_ns() - 60ull * 1000000000ull;
    char trace[33], span[17], num[32];
    snprintf(trace, sizeof trace, "%08x%08x%016x", tag, (unsigned)conn,
             (unsigned)b + 1);
    for (int i = 0; i < BATCH; i++) {
        snprintf(span, sizeof span, "%016x", (unsigned)i + 1);
        json_t *attrs = json_pack(
            "[{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}},"
            "{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s,s:{s:s}}]",
            "key", "gen_ai.operation.name", "value", "stringValue", "chat",
            "key", "gen_ai.request.model", "value", "stringValue", "llama3:8b",
            "key", "gen_ai.response.model", "value", "stringValue", "llama3:8b",
            "key", "gen_ai.system", "value", "stringValue", "openai", "key",
            "gen_ai.usage.input_tokens", "value", "intValue", "97", "key",
            "gen_ai.usage.output_tokens", "value", "intValue", "52", "key",
            "gen_ai.response.id", "value", "stringValue", "chatcmpl-1", "key",
            "server.address", "value", "stringValue", "127.0.0.1");
        json_t *s =
            json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:o}", "traceId", trace,
                      "spanId", span, "parentSpanId", "00000000000000ff",
                      "name", "chat llama3:8b", "kind", 3, "startTimeUnixNano",
                      "", "endTimeUnixNano", "", "attributes", attrs);
        snprintf(num, sizeof num, "%llu",
                 (unsigned long long)(t0 + (uint64_t)i * 1000));
        json_object_set_new(s, "startTimeUnixNano", json_string(num));
        snprintf(num, sizeof num, "%llu",
                 (unsigned long long)(t0 + (uint64_t)i * 1000 + 250000000));
        json_object_set_new(s, "endTimeUnixNano", json_string(num));
        json_array_append_new(spans, s);
    }
    json_t *rq = json_pack(
        "{s:[{s:{s:[{s:s,s:{s:s}}]},s:[{s:{s:s},s:o}]}]}", "resourceSpans",
        "resource", "attributes", "key", "service.name", "value", "stringValue",
        "bench-agent", "scopeSpans", "scope", "name",
        "@opentelemetry/instrumentation-openai", "spans", spans);
    char *text = json_dumps(rq, JSON_COMPACT);
    json_decref(rq);
    return text;
}

/* The same request in protobuf: packed by protobuf-c from the JSON's
 * fields (the test side of the wire; the receiver decodes it). */
static uint8_t *
batch_pb(const char *text, size_t *len)
{
    json_t *rq = json_loads(text, 0, NULL);
    json_t *rs = json_array_get(json_object_get(rq, "resourceSpans"), 0);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    json_t *spans = json_object_get(ss, "spans");
    size_t n = json_array_size(spans);
    LdgOtlp__ExportTraceServiceRequest r;
    LdgOtlp__ResourceSpans prs, *pprs = &prs;
    LdgOtlp__Resource res;
    LdgOtlp__ScopeSpans pss, *ppss = &pss;
    LdgOtlp__InstrumentationScope sc;
    LdgOtlp__KeyValue rkv, *prkv = &rkv;
    LdgOtlp__AnyValue rav;
    LdgOtlp__Span *sp = calloc(n, sizeof *sp), **psp = calloc(n, sizeof *psp);
    LdgOtlp__KeyValue *kv = calloc(n * 8, sizeof *kv),
                      **pkv = calloc(n * 8, sizeof *pkv);
    LdgOtlp__AnyValue *av = calloc(n * 8, sizeof *av);
    uint8_t *ids = calloc(n, 32);

    ldg_otlp__export_trace_service_request__init(&r);
    ldg_otlp__resource_spans__init(&prs);
    ldg_otlp__resource__init(&res);
    ldg_otlp__scope_spans__init(&pss);
    ldg_otlp__instrumentation_scope__init(&sc);
    ldg_otlp__key_value__init(&rkv);
    ldg_otlp__any_value__init(&rav);
    rav.value_case = LDG_OTLP__ANY_VALUE__VALUE_STRING_VALUE;
    rav.string_value = (char *)(uintptr_t) "bench-agent";
    rkv.key = (char *)(uintptr_t) "service.name";
    rkv.value = &rav;
    res.n_attributes = 1;
    res.attributes = &prkv;
    sc.name = (char *)(uintptr_t)json_string_value(
        json_object_get(json_object_get(ss, "scope"), "name"));
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(spans, i), *a, *kvj;
        size_t k;
        ldg_otlp__span__init(&sp[i]);
        uint8_t *id = ids + 32 * i;
        ldg_unhex(id, 16, json_string_value(json_object_get(s, "traceId")));
        ldg_unhex(id + 16, 8, json_string_value(json_object_get(s, "spanId")));
        ldg_unhex(id + 24, 8,
                  json_string_value(json_object_get(s, "parentSpanId")));
        sp[i].trace_id.data = id;
        sp[i].trace_id.len = 16;
        sp[i].span_id.data = id + 16;
        sp[i].span_id.len = 8;
        sp[i].parent_span_id.data = id + 24;
        sp[i].parent_span_id.len = 8;
        sp[i].name =
            (char *)(uintptr_t)json_string_value(json_object_get(s, "name"));
        sp[i].kind = LDG_OTLP__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
        sp[i].start_time_unix_nano =
            strtoull(json_string_value(json_object_get(s, "startTimeUnixNano")),
                     NULL, 10);
        sp[i].end_time_unix_nano = strtoull(
            json_string_value(json_object_get(s, "endTimeUnixNano")), NULL, 10);
        a = json_object_get(s, "attributes");
        json_array_foreach(a, k, kvj)
        {
            LdgOtlp__KeyValue *x = &kv[i * 8 + k];
            LdgOtlp__AnyValue *v = &av[i * 8 + k];
            json_t *val = json_object_get(kvj, "value");
            ldg_otlp__key_value__init(x);
            ldg_otlp__any_value__init(v);
            x->key = (char *)(uintptr_t)json_string_value(
                json_object_get(kvj, "key"));
            x->value = v;
            if (json_object_get(val, "intValue")) {
                v->value_case = LDG_OTLP__ANY_VALUE__VALUE_INT_VALUE;
                v->int_value =
                    strtoll(json_string_value(json_object_get(val, "intValue")),
                            NULL, 10);
            } else {
                v->value_case = LDG_OTLP__ANY_VALUE__VALUE_STRING_VALUE;
                v->string_value = (char *)(uintptr_t)json_string_value(
                    json_object_get(val, "stringValue"));
            }
            pkv[i * 8 + k] = x;
        }
        sp[i].n_attributes = json_array_size(a);
        sp[i].attributes = pkv + i * 8;
        psp[i] = &sp[i];
    }
    pss.scope = &sc;
    pss.n_spans = n;
    pss.spans = psp;
    prs.resource = &res;
    prs.n_scope_spans = 1;
    prs.scope_spans = &ppss;
    r.n_resource_spans = 1;
    r.resource_spans = &pprs;
    *len = protobuf_c_message_get_packed_size(&r.base);
    uint8_t *out = malloc(*len);
    protobuf_c_message_pack(&r.base, out);
    free(sp);
    free(psp);
    free(kv);
    free(pkv);
    free(av);
    free(ids);
    json_decref(rq);
    return out;
}

/* The request lines the JSON request's events make (docs/PROTOCOL.md). */
static char *
batch_lines(const char *text, size_t *len)
{
    struct ldg_otlp_batch *b = NULL;
    char err[512];
    size_t n;
    if (ldg_otlp_decode(&b, LDG_OTLP_TRACES, 1, text, strlen(text), NULL, NULL,
                        err, sizeof err) < 0) {
        fprintf(stderr, "otlp_load: %s\n", err);
        exit(1);
    }
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        char t[32];
        snprintf(t, sizeof t, "%llu", (unsigned long long)ev[i].time_ns);
        json_t *line =
            json_pack("{s:s,s:O,s:s,s:s,s:s}", "type", ev[i].type, "body",
                      ev[i].body, "run", ev[i].run, "id", ev[i].id, "time", t);
        char *s = json_dumps(line, JSON_COMPACT);
        size_t l = strlen(s);
        if (used + l + 1 > cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        memcpy(out + used, s, l);
        out[used + l] = '\n';
        used += l + 1;
        free(s);
        json_decref(line);
    }
    ldg_otlp_batch_free(b);
    *len = used;
    return out;
}

/* ------------------------------------------------------------- http -- */

struct hconn {
    struct ldg_http_loop *loop;
    const char *url;
    int json, next, nbatches, errors;
    void **bodies;
    size_t *lens;
    struct ldg_http_xfer *x;
    long status;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *left;
};

static void hstart(struct hconn *c);

static int
hhead(void *cls, struct ldg_http_xfer *x, long status)
{
    struct hconn *c = cls;
    (void)x;
    c->status = status;
    return 0;
}

static void
hend(void *cls, struct ldg_http_xfer *x, int rc, int connected, const char *err)
{
    struct hconn *c = cls;
    (void)connected;
    if (rc != 0 || c->status != 200) {
        fprintf(stderr, "otlp_load: batch %d: %s (status %ld)\n", c->next,
                rc ? err : "refused", c->status);
        c->errors++;
    }
    ldg_http_xfer_close(x);
    if (++c->next < c->nbatches) {
        hstart(c);
        return;
    }
    pthread_mutex_lock(c->mu);
    --*c->left;
    pthread_cond_signal(c->cv);
    pthread_mutex_unlock(c->mu);
}

static void
hstart(struct hconn *c)
{
    static const char *const hj[] = {"Content-Type: application/json", NULL};
    static const char *const hp[] = {"Content-Type: application/x-protobuf",
                                     NULL};
    struct ldg_http_xfer_cbs cb = {hhead, NULL, hend};
    struct ldg_http_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.url = c->url;
    rq.headers = c->json ? hj : hp;
    rq.body = c->bodies[c->next];
    rq.body_len = c->lens[c->next];
    c->status = 0;
    if (ldg_http_xfer_start(c->loop, &rq, 60000, 0, &cb, c, &c->x) < 0) {
        fprintf(stderr, "otlp_load: cannot start a transfer\n");
        exit(1);
    }
}

/* ------------------------------------------------------------ serve -- */

static int
serve_conn(const char *path, char **lines, size_t *lens, int nb, int *errors)
{
    struct sockaddr_un sa;
    char buf[65536];
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    for (int b = 0; b < nb; b++) {
        size_t off = 0;
        while (off < lens[b]) {
            ssize_t w = write(fd, lines[b] + off, lens[b] - off);
            if (w <= 0)
                return -1;
            off += (size_t)w;
        }
        int answered = 0;
        while (answered < BATCH) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0)
                return -1;
            for (ssize_t i = 0; i < r; i++)
                answered += buf[i] == '\n';
            if (memmem(buf, (size_t)r, "\"error\"", 7) != NULL)
                (*errors)++;
        }
    }
    close(fd);
    return 0;
}

struct sarg {
    const char *path;
    char **lines;
    size_t *lens;
    int nb, errors, rc;
};

static void *
serve_main(void *p)
{
    struct sarg *a = p;
    a->rc = serve_conn(a->path, a->lines, a->lens, a->nb, &a->errors);
    return NULL;
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr,
                "usage: otlp_load pb|json|serve|dump URL|SOCKET|DIR CONNS "
                "BATCHES\n");
        return 64;
    }
    const char *mode = argv[1], *where = argv[2];
    int conns = atoi(argv[3]), nb = atoi(argv[4]), errors = 0;
    uint32_t tag = (uint32_t)(getpid() ^ (uint32_t)now_ns());
    if (conns < 1 || nb < 1 ||
        (strcmp(mode, "pb") && strcmp(mode, "json") && strcmp(mode, "serve") &&
         strcmp(mode, "dump")))
        return 64;
    int dump = strcmp(mode, "dump") == 0;
    /* every body first: the clock measures the server */
    void **bodies = calloc((size_t)conns * nb, sizeof *bodies);
    size_t *lens = calloc((size_t)conns * nb, sizeof *lens);
    for (int k = 0; k < conns; k++)
        for (int b = 0; b < nb; b++) {
            char *text = batch_json(tag, k, b);
            size_t i = (size_t)k * nb + b;
            if (strcmp(mode, "json") == 0) {
                bodies[i] = text;
                lens[i] = strlen(text);
                continue;
            }
            bodies[i] = strcmp(mode, "pb") == 0 || dump
                            ? (void *)batch_pb(text, &lens[i])
                            : (void *)batch_lines(text, &lens[i]);
            free(text);
            if (dump) {
                char path[600];
                FILE *f;
                snprintf(path, sizeof path, "%s/%d.%d.pb", where, k, b);
                if ((f = fopen(path, "wb")) == NULL ||
                    fwrite(bodies[i], 1, lens[i], f) != lens[i] ||
                    fclose(f) != 0) {
                    fprintf(stderr, "otlp_load: cannot write %s\n", path);
                    return 1;
                }
            }
        }
    if (dump)
        return 0;
    uint64_t t0 = now_ns();
    if (strcmp(mode, "serve") == 0) {
        pthread_t *th = calloc((size_t)conns, sizeof *th);
        struct sarg *a = calloc((size_t)conns, sizeof *a);
        for (int k = 0; k < conns; k++) {
            a[k].path = where;
            a[k].lines = (char **)bodies + (size_t)k * nb;
            a[k].lens = lens + (size_t)k * nb;
            a[k].nb = nb;
            pthread_create(&th[k], NULL, serve_main, &a[k]);
        }
        for (int k = 0; k < conns; k++) {
            pthread_join(th[k], NULL);
            errors += a[k].errors + (a[k].rc < 0);
        }
    } else {
        char url[512], err[512];
        struct ldg_http_loop *loop;
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
        int left = conns;
        struct hconn *c = calloc((size_t)conns, sizeof *c);
        snprintf(url, sizeof url, "%s/v1/traces", where);
        if (ldg_http_loop_new(&loop, err, sizeof err) < 0) {
            fprintf(stderr, "otlp_load: %s\n", err);
            return 1;
        }
        t0 = now_ns();
        for (int k = 0; k < conns; k++) {
            c[k].loop = loop;
            c[k].url = url;
            c[k].json = strcmp(mode, "json") == 0;
            c[k].nbatches = nb;
            c[k].bodies = bodies + (size_t)k * nb;
            c[k].lens = lens + (size_t)k * nb;
            c[k].mu = &mu;
            c[k].cv = &cv;
            c[k].left = &left;
            hstart(&c[k]);
        }
        pthread_mutex_lock(&mu);
        while (left > 0)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        for (int k = 0; k < conns; k++)
            errors += c[k].errors;
        ldg_http_loop_free(loop);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    size_t spans = (size_t)conns * nb * BATCH;
    printf("otlp_load mode=%s conns=%d spans=%zu secs=%.3f sps=%.0f "
           "errors=%d\n",
           mode, conns, spans, secs, (double)spans / secs, errors);
    return errors ? 1 : 0;
}
