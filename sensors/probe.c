/*
 * probe.c — `ledger probe`: what the runtimes and the host say, and which
 * of it is news to the log.
 *
 * Collecting asks each runtime in the shapes its API documents:
 *   Ollama     GET /api/version {version}; GET /api/tags {models: [{name,
 *              digest, size, details: {format, family, parameter_size,
 *              quantization_level}}]}; POST /api/show {model} →
 *              {capabilities, details}; GET /api/ps {models: [{name, …}]}
 *   llama.cpp  GET /props {model_path, build_info, …}; GET /v1/models
 *              {data: [{id}]} (the id is --alias when given: a name the
 *              server claims, recorded as what it says)
 *   OpenAI     GET URL/models {data: [{id, owned_by}]}
 * The runtimes' answers are recorded as they give them: Ollama's digest
 * is the SHA-256 of its manifest (see sensors/model.c), and the
 * OpenAI-compatible servers report none (digest "unreported").
 *
 * Diffing compares each event with the latest of its type and subject in
 * the log, on the fields that say what the state is, so that probing
 * twice in a row appends nothing the second time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "http/http.h"
#include "ledger/ledger.h"
#include "query/query.h"
#include "sensors/sensors.h"
#include "ledger/module.h"
#include "util/util.h"

#define UNREPORTED "unreported"

static void
push(json_t *arr, const char *type, json_t *body)
{
    json_array_append_new(arr,
                          json_pack("{s:s, s:o}", "type", type, "body", body));
}

/* GET/POST url+path; the parsed JSON (new ref) or NULL with err. */
static json_t *
ask(const char *base, const char *path, const char *post, long tmo, double *ms,
    char *err, size_t errlen)
{
    char url[2048];
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct ldg_http_response r;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    struct ldg_http_request q = {.method = post ? "POST" : "GET",
                                 .url = url,
                                 .headers = post ? hdrs : NULL,
                                 .body = post,
                                 .body_len = post ? strlen(post) : 0,
                                 .timeout_ms = tmo,
                                 .connect_timeout_ms = tmo,
                                 .max_response_bytes = 16u << 20,
                                 .retries = post ? 0 : 1,
                                 .backoff_ms = 100};
    int rc = ldg_http_request(NULL, &q, &r, err, errlen);
    if (ms)
        *ms = r.elapsed_ms;
    json_t *j = NULL;
    if (rc == 0) {
        json_error_t je;
        j = json_loadb(r.body ? r.body : "", r.body_len, 0, &je);
        if (!j || !json_is_object(j)) {
            snprintf(err, errlen,
                     "GET %.300s: reply is not a JSON object (%.150s)", url,
                     j ? "other JSON" : je.text);
            json_decref(j);
            j = NULL;
        }
    }
    ldg_http_response_release(&r);
    return j;
}

static void
set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static json_t *
runtime_marker(const char *name, int up, json_t *models)
{
    return json_pack("{s:s, s:b, s:o}", "runtime", name, "up", up, "models",
                     models ? models : json_array());
}

static void
health(json_t *out, const char *name, const char *status, double ms,
       const char *detail)
{
    json_t *b = json_pack("{s:s, s:s, s:i}", "runtime", name, "status", status,
                          "latency_ms", (int)(ms + 0.5));
    if (detail && *detail)
        json_object_set_new(b, "detail", json_string(detail));
    push(out, LDG_EV_RUNTIME_HEALTH, b);
}

static void
probe_ollama(json_t *out, const struct ldg_probe_runtime *rt, long tmo)
{
    char err[LDG_HTTP_ERR_MAX] = "", e2[LDG_HTTP_ERR_MAX] = "";
    double ms = 0, ms2 = 0;
    json_t *ver = ask(rt->url, "/api/version", NULL, tmo, &ms, err, sizeof err);
    json_t *tags = ask(rt->url, "/api/tags", NULL, tmo, &ms2, e2, sizeof e2);
    json_t *names = json_array();
    json_t *reg = json_pack("{s:s, s:s, s:s}", "runtime", rt->name, "endpoint",
                            rt->url, "kind", "ollama");
    set_str(reg, "version", json_string_value(json_object_get(ver, "version")));
    if (!tags) {
        /* Down: what it is cannot be asked; say only that it is down. */
        json_decref(reg);
        health(out, rt->name, "down", ms2, e2);
        push(out, "_runtime", runtime_marker(rt->name, 0, names));
        json_decref(ver);
        return;
    }
    push(out, LDG_EV_RUNTIME_REGISTERED, reg);
    json_t *ps = ask(rt->url, "/api/ps", NULL, tmo, NULL, err, sizeof err);
    int degraded = ps == NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(tags, "models"), i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *dg = json_string_value(json_object_get(m, "digest"));
        if (!name || !dg)
            continue;
        json_t *d = json_object_get(m, "details");
        json_t *b = json_pack("{s:s, s:s, s:s}", "model", name, "digest", dg,
                              "runtime", rt->name);
        json_t *sz = json_object_get(m, "size");
        if (json_is_integer(sz) && json_integer_value(sz) >= 0)
            json_object_set(b, "size_bytes", sz);
        else if (sz != NULL) /* not a byte count: left out, and said */
            push(out, "_warning",
                 json_pack("{s:s, s:s, s:s, s:O, s:s}", "runtime", rt->name,
                           "model", name, "field", "size", "value", sz,
                           "left_out", "size_bytes"));
        set_str(b, "format", json_string_value(json_object_get(d, "format")));
        set_str(b, "quant",
                json_string_value(json_object_get(d, "quantization_level")));
        set_str(b, "family", json_string_value(json_object_get(d, "family")));
        set_str(b, "parameter_size",
                json_string_value(json_object_get(d, "parameter_size")));
        char req[1024];
        json_t *rq = json_pack("{s:s}", "model", name);
        char *rqs = json_dumps(rq, JSON_COMPACT);
        json_decref(rq);
        snprintf(req, sizeof req, "%s", rqs ? rqs : "{}");
        free(rqs);
        json_t *show = ask(rt->url, "/api/show", req, tmo, NULL, e2, sizeof e2);
        json_t *caps = json_object_get(show, "capabilities");
        if (json_is_array(caps))
            json_object_set(b, "capabilities", caps);
        json_decref(show);
        if (show == NULL) {
            /* without its capabilities the registration would differ
             * from the last one, and again when /api/show is back: two
             * false changes a blip. Left for a probe that can say it */
            degraded = 1;
            json_decref(b);
        } else {
            push(out, LDG_EV_MODEL_REGISTERED, b);
        }
        int loaded = 0;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(ps, "models"), k, p)
        {
            const char *pn = json_string_value(json_object_get(p, "name"));
            loaded |= pn && strcmp(pn, name) == 0;
        }
        push(out, LDG_EV_MODEL_STATE,
             json_pack("{s:s, s:s, s:s}", "model", name, "state",
                       loaded ? "loaded" : "available", "runtime", rt->name));
        json_array_append_new(names, json_string(name));
    }
    health(out, rt->name, degraded ? "degraded" : "up", ms2,
           degraded ? (ps ? "/api/show failed" : "/api/ps failed") : NULL);
    push(out, "_runtime", runtime_marker(rt->name, 1, names));
    json_decref(ps);
    json_decref(tags);
    json_decref(ver);
}

/* OpenAI-compatible (and llama.cpp, which adds /props). */
static void
probe_openai(json_t *out, const struct ldg_probe_runtime *rt, long tmo,
             int llamacpp)
{
    char err[LDG_HTTP_ERR_MAX] = "";
    double ms = 0;
    json_t *props = NULL, *names = json_array();
    json_t *reg = json_pack("{s:s, s:s, s:s}", "runtime", rt->name, "endpoint",
                            rt->url, "kind", llamacpp ? "llama.cpp" : "openai");
    if (llamacpp) {
        props = ask(rt->url, "/props", NULL, tmo, &ms, err, sizeof err);
        set_str(reg, "version",
                json_string_value(json_object_get(props, "build_info")));
    }
    json_t *models = ask(rt->url, llamacpp ? "/v1/models" : "/models", NULL,
                         tmo, &ms, err, sizeof err);
    if (!models) {
        json_decref(reg);
        health(out, rt->name, "down", ms, err);
        push(out, "_runtime", runtime_marker(rt->name, 0, names));
        json_decref(props);
        return;
    }
    /* llama.cpp without /props: no version, no model path; registering
     * so would say they changed (and a model verify would then look for
     * the weights in the wrong place): only health and states this time */
    int reg_ok = !llamacpp || props != NULL;
    if (reg_ok)
        push(out, LDG_EV_RUNTIME_REGISTERED, reg);
    else
        json_decref(reg);
    size_t i;
    json_t *m;
    const char *path = json_string_value(json_object_get(props, "model_path"));
    json_array_foreach(json_object_get(models, "data"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id)
            continue;
        json_t *b = json_pack("{s:s, s:s, s:s}", "model", id, "digest",
                              UNREPORTED, "runtime", rt->name);
        if (llamacpp) {
            json_object_set_new(b, "format", json_string("gguf"));
            set_str(b, "path", path);
        }
        if (reg_ok)
            push(out, LDG_EV_MODEL_REGISTERED, b);
        else
            json_decref(b);
        push(out, LDG_EV_MODEL_STATE,
             json_pack("{s:s, s:s, s:s}", "model", id, "state",
                       llamacpp ? "loaded" : "available", "runtime", rt->name));
        json_array_append_new(names, json_string(id));
    }
    health(out, rt->name, llamacpp && !props ? "degraded" : "up", ms,
           llamacpp && !props ? "/props failed" : NULL);
    push(out, "_runtime", runtime_marker(rt->name, 1, names));
    json_decref(models);
    json_decref(props);
}

static enum ldg_runtime_kind
detect(const struct ldg_probe_runtime *rt, long tmo)
{
    char err[LDG_HTTP_ERR_MAX];
    json_t *j = ask(rt->url, "/api/version", NULL, tmo, NULL, err, sizeof err);
    if (j && json_is_string(json_object_get(j, "version"))) {
        json_decref(j);
        return LDG_RT_OLLAMA;
    }
    json_decref(j);
    j = ask(rt->url, "/props", NULL, tmo, NULL, err, sizeof err);
    if (j && json_object_get(j, "default_generation_settings")) {
        json_decref(j);
        return LDG_RT_LLAMACPP;
    }
    json_decref(j);
    return LDG_RT_OPENAI;
}

/* ----------------------------------------------------------------- host -- */

static long long
meminfo_mb(const char *proc, const char *key)
{
    char path[512], line[256];
    long long v = -1;
    snprintf(path, sizeof path, "%s/meminfo", proc);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10) / 1024;
            break;
        }
    fclose(f);
    return v;
}

static void
cpuinfo(const char *proc, char *model, size_t cap, int *cores)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/cpuinfo", proc);
    FILE *f = fopen(path, "r");
    *cores = 0;
    snprintf(model, cap, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "processor", 9) == 0)
            (*cores)++;
        else if (strncmp(line, "model name", 10) == 0 && *cores <= 1) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(model, cap, "%s", c);
            }
        }
    }
    fclose(f);
}

/* GPUs from nvidia-smi, [{name, vram_mb, vram_free_mb}]; empty if none. */
static json_t *
gpus(const char *prog)
{
    json_t *a = json_array();
    char cmd[600], line[512];
    if (prog && !*prog)
        return a;
    snprintf(cmd, sizeof cmd,
             "%s --query-gpu=name,memory.total,memory.free "
             "--format=csv,noheader,nounits 2>/dev/null",
             prog ? prog : "nvidia-smi");
    FILE *p = popen(cmd, "r");
    if (!p)
        return a;
    while (fgets(line, sizeof line, p)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c1 || !c2)
            continue;
        *c1 = 0;
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I}", "name", line, "vram_mb",
                         (json_int_t)strtoll(c1 + 1, NULL, 10), "vram_free_mb",
                         (json_int_t)strtoll(c2 + 1, NULL, 10)));
    }
    pclose(p);
    return a;
}

static void
probe_host(json_t *out, const struct ldg_probe_opts *o, json_t *loaded)
{
    const char *proc = o->proc_root ? o->proc_root : "/proc";
    char model[256];
    int cores;
    struct statvfs sv;
    long long disk = -1;
    cpuinfo(proc, model, sizeof model, &cores);
    if (o->disk_path && statvfs(o->disk_path, &sv) == 0)
        disk = (long long)((unsigned long long)sv.f_bavail * sv.f_frsize >> 20);
    json_t *g = gpus(o->nvidia_smi);
    long long ram = meminfo_mb(proc, "MemTotal");
    json_t *hp = json_pack("{s:s, s:i, s:I}", "cpu", model, "cores", cores,
                           "ram_mb", (json_int_t)(ram > 0 ? ram : 0));
    json_t *glist = json_array(), *gg;
    size_t i;
    long long vfree = 0;
    json_array_foreach(g, i, gg)
    {
        json_array_append_new(
            glist, json_pack("{s:O, s:O}", "name", json_object_get(gg, "name"),
                             "vram_mb", json_object_get(gg, "vram_mb")));
        vfree += json_integer_value(json_object_get(gg, "vram_free_mb"));
    }
    json_object_set_new(hp, "gpus", glist);
    if (disk >= 0)
        json_object_set_new(hp, "disk_free_mb", json_integer(disk));
    push(out, LDG_EV_HOST_PROFILE, hp);
    json_t *cap = json_object();
    long long avail = meminfo_mb(proc, "MemAvailable");
    if (avail >= 0)
        json_object_set_new(cap, "ram_free_mb", json_integer(avail));
    if (json_array_size(g) > 0)
        json_object_set_new(cap, "vram_free_mb", json_integer(vfree));
    if (disk >= 0)
        json_object_set_new(cap, "disk_free_mb", json_integer(disk));
    json_object_set_new(cap, "loaded_models", loaded);
    push(out, LDG_EV_CAPACITY_SNAPSHOT, cap);
    json_decref(g);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
ldg_probe_collect(const struct ldg_probe_opts *o, json_t **out)
{
    json_t *a = json_array();
    long tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    if (!a)
        return LDG_ENOMEM;
    for (size_t i = 0; i < o->nruntimes; i++) {
        struct ldg_probe_runtime rt = o->runtimes[i];
        if (rt.kind == LDG_RT_AUTO)
            rt.kind = detect(&rt, tmo);
        if (rt.kind == LDG_RT_OLLAMA)
            probe_ollama(a, &rt, tmo);
        else
            probe_openai(a, &rt, tmo, rt.kind == LDG_RT_LLAMACPP);
    }
    if (o->host) {
        /* Loaded models, sorted, from the model.state events above. */
        const char *v[1024];
        size_t n = 0, i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
            json_t *b = json_object_get(e, "body");
            if (strcmp(json_string_value(json_object_get(e, "type")),
                       LDG_EV_MODEL_STATE) == 0 &&
                strcmp(json_string_value(json_object_get(b, "state")),
                       "loaded") == 0 &&
                n < 1024)
                v[n++] = json_string_value(json_object_get(b, "model"));
        }
        qsort(v, n, sizeof *v, cmp_str);
        json_t *loaded = json_array();
        for (i = 0; i < n; i++)
            json_array_append_new(loaded, json_string(v[i]));
        probe_host(a, o, loaded);
    }
    *out = a;
    return 0;
}

/* ----------------------------------------------------------------- diff -- */

/* The body of the latest event of type on subject, and of runtime rt when
 * rt is not NULL (a model two runtimes serve has one subject: each is
 * compared with its own news, not the other's); NULL if none. */
static json_t *
latest(struct ldg_txn *t, const char *type, const char *subject, const char *rt)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    json_t *body = NULL;
    char err[256], ty[128], sj[LDG_SUBJECT_MAX + 16], br[512];
    char *terms[] = {ty, sj, br};
    snprintf(ty, sizeof ty, "type=%s", type);
    snprintf(sj, sizeof sj, "subject=%s", subject);
    if (rt != NULL &&
        (size_t)snprintf(br, sizeof br, "body.runtime=%s", rt) >= sizeof br)
        return NULL;
    if (ldg_query_compile(&q, rt != NULL ? 3 : 2, terms, NULL, NULL, err,
                          sizeof err) < 0)
        return NULL;
    if (ldg_query_iter_new(&it, q, t, LDG_QUERY_REVERSE) == 0 &&
        ldg_query_iter_next(it, &ev) == 0)
        ldg_body_get(t, ev.seq, &body);
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return body;
}

static int
near(json_t *a, json_t *b)
{
    if (!json_is_integer(a) || !json_is_integer(b))
        return json_equal(a, b) || (a == NULL && b == NULL);
    long long x = json_integer_value(a), y = json_integer_value(b);
    long long d = x > y ? x - y : y - x;
    long long m = x > y ? x : y;
    return d <= 256 || d * 10 <= m;
}

/* 1 if new says the same as old for this type. */
static int
same(const char *type, json_t *old, json_t *nw)
{
    const char *k;
    json_t *v;
    if (!old)
        return 0;
    if (strcmp(type, LDG_EV_RUNTIME_HEALTH) == 0)
        return json_equal(json_object_get(old, "status"),
                          json_object_get(nw, "status"));
    if (strcmp(type, LDG_EV_MODEL_STATE) == 0)
        return json_equal(json_object_get(old, "state"),
                          json_object_get(nw, "state"));
    if (strcmp(type, LDG_EV_CAPACITY_SNAPSHOT) == 0) {
        static const char *const f[] = {"ram_free_mb", "vram_free_mb",
                                        "disk_free_mb"};
        for (int i = 0; i < 3; i++)
            if (!near(json_object_get(old, f[i]), json_object_get(nw, f[i])))
                return 0;
        return json_equal(json_object_get(old, "loaded_models"),
                          json_object_get(nw, "loaded_models"));
    }
    /* every field, both ways; host.profile's disk_free_mb loosely */
    if (json_object_size(old) != json_object_size(nw))
        return 0;
    json_object_foreach(nw, k, v)
    {
        json_t *ov = json_object_get(old, k);
        if (strcmp(type, LDG_EV_HOST_PROFILE) == 0 &&
            strcmp(k, "disk_free_mb") == 0) {
            if (!near(ov, v))
                return 0;
        } else if (!ov || !json_equal(ov, v)) {
            return 0;
        }
    }
    return 1;
}

/* Models the log registered on runtime rt (names, new ref). */
static json_t *
models_of(struct ldg_txn *t, const char *rt)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    json_t *names = json_object();
    char err[256], ty[] = "type=model.registered", br[512];
    char *terms[] = {ty, br};
    snprintf(br, sizeof br, "body.runtime=%s", rt);
    if (ldg_query_compile(&q, 2, terms, NULL, NULL, err, sizeof err) < 0)
        return names;
    if (ldg_query_iter_new(&it, q, t, 0) == 0)
        while (ldg_query_iter_next(it, &ev) == 0)
            if (strncmp(ev.subject, "model:", 6) == 0)
                json_object_set_new(names, ev.subject + 6, json_true());
    ldg_query_iter_free(it);
    ldg_query_free(q);
    /* a model registered since on another runtime moved there: it is
     * that one's to call removed or offline, not this one's */
    const char *name;
    json_t *v, *tmp;
    json_object_foreach_safe(names, tmp, name, v)
    {
        char subj[LDG_SUBJECT_MAX + 16];
        json_t *last;
        snprintf(subj, sizeof subj, "model:%s", name);
        last = latest(t, LDG_EV_MODEL_REGISTERED, subj, NULL);
        const char *lrt = json_string_value(json_object_get(last, "runtime"));
        if (lrt != NULL && strcmp(lrt, rt) != 0)
            json_object_del(names, name);
        json_decref(last);
    }
    return names;
}

/* Keeps body of type when it is news. A body whose subject cannot be
 * formed (a model's name longer than a subject holds) is not recorded:
 * a _warning says so. */
static int
consider(struct ldg_txn *t, json_t *keep, const char *type, json_t *body)
{
    char subj[LDG_SUBJECT_MAX + 1];
    const char *rt = json_string_value(json_object_get(body, "runtime"));
    if (ldg_vocab_subject(type, body, subj, sizeof subj) < 0) {
        const char *m = json_string_value(json_object_get(body, "model"));
        char why[300];
        snprintf(why, sizeof why,
                 "model '%.*s%s' (%zu bytes): cannot be recorded, its name is "
                 "longer than a subject holds (%d bytes); %s left out",
                 m ? ldg_utf8_cut(m, 60) : 1, m ? m : "?",
                 m && strlen(m) > 60 ? "..." : "", m ? strlen(m) : 0,
                 LDG_SUBJECT_MAX, type);
        json_array_append_new(keep, json_pack("{s:s, s:{s:s, s:s}}", "type",
                                              "_warning", "body", "runtime",
                                              rt ? rt : "?", "why", why));
        return LDG_EBADINPUT;
    }
    int per_rt = strcmp(type, LDG_EV_MODEL_STATE) == 0 ||
                 strcmp(type, LDG_EV_MODEL_REGISTERED) == 0;
    json_t *old = latest(t, type, subj, per_rt ? rt : NULL);
    int s = same(type, old, body);
    json_decref(old);
    if (!s)
        json_array_append_new(
            keep, json_pack("{s:s, s:O}", "type", type, "body", body));
    return 0;
}

int
ldg_probe_diff(struct ldg_ledger *l, json_t *events,
               const struct ldg_probe_opts *o, json_t **out)
{
    struct ldg_txn *t = NULL;
    json_t *keep = json_array();
    size_t i;
    json_t *e;
    int rc;
    (void)o;
    if (!keep)
        return LDG_ENOMEM;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0) {
        json_decref(keep);
        return rc;
    }
    json_array_foreach(events, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *body = json_object_get(e, "body");
        if (strcmp(type, "_warning") == 0) {
            json_array_append(keep, e); /* for the caller to say */
            continue;
        }
        if (strcmp(type, "_runtime") != 0) {
            consider(t, keep, type, body);
            continue;
        }
        /* Models the log knows on this runtime that it no longer lists
         * (removed), or all of them when it is down (offline). */
        const char *rt = json_string_value(json_object_get(body, "runtime"));
        int up = json_is_true(json_object_get(body, "up"));
        json_t *known = models_of(t, rt), *listed = json_object(), *v;
        const char *name;
        size_t k;
        json_array_foreach(json_object_get(body, "models"), k, v)
            json_object_set_new(listed, json_string_value(v), json_true());
        json_object_foreach(known, name, v)
        {
            if (up && json_object_get(listed, name))
                continue;
            json_t *st = json_pack("{s:s, s:s, s:s}", "model", name, "state",
                                   up ? "removed" : "offline", "runtime", rt);
            if (!up)
                json_object_set_new(st, "reason", json_string("runtime down"));
            consider(t, keep, LDG_EV_MODEL_STATE, st);
            json_decref(st);
        }
        json_decref(known);
        json_decref(listed);
    }
    ldg_txn_abort(t);
    *out = keep;
    return 0;
}

int
ldg_probe_runtime_parse(char *s, const struct ldg_probe_runtime *rts, size_t n,
                        struct ldg_probe_runtime *rt)
{
    static const struct {
        const char *p;
        enum ldg_runtime_kind k;
    } kinds[] = {{"ollama:", LDG_RT_OLLAMA},
                 {"llamacpp:", LDG_RT_LLAMACPP},
                 {"openai:", LDG_RT_OPENAI}};
    char *eq = strchr(s, '=');

    if (eq == NULL || eq == s)
        return LDG_EBADINPUT;
    rt->name = s;
    rt->url = eq + 1;
    rt->kind = LDG_RT_AUTO;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(rt->url, kinds[i].p, strlen(kinds[i].p)) == 0) {
            rt->kind = kinds[i].k;
            rt->url += strlen(kinds[i].p);
        }
    if (strncmp(rt->url, "http://", 7) != 0 &&
        strncmp(rt->url, "https://", 8) != 0)
        return LDG_EBADINPUT;
    *eq = 0;
    LDG_ASSERT(rts != NULL || n == 0); /* the names given before */
    if (!ldg_json_text_ok(rt->name) || !ldg_json_text_ok(rt->url))
        return LDG_EBADINPUT; /* recorded in JSON bodies */
    for (size_t i = 0; i < n; i++)
        if (strcmp(rts[i].name, rt->name) == 0)
            return LDG_EEXIST;
    return 0;
}

/* The file at path whole, at most max bytes, NUL-ended: 0,
 * LDG_ENOTFOUND (no file), LDG_ETOOBIG, LDG_EIO, LDG_ENOMEM. */
static int
read_small(const char *path, size_t max, char **out)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL)
        return errno == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    if ((*out = malloc(max + 1)) == NULL) {
        fclose(f);
        return LDG_ENOMEM;
    }
    n = fread(*out, 1, max + 1, f);
    (*out)[n <= max ? n : max] = '\0';
    if (ferror(f)) { /* a directory opens, and reads as an error */
        fclose(f);
        free(*out);
        *out = NULL;
        return LDG_EIO;
    }
    fclose(f);
    return n <= max ? 0 : LDG_ETOOBIG;
}

int
ldg_probe_runtimes_load(const char *dir, struct ldg_probe_runtime *rts,
                        size_t *n, char **text, char *err, size_t errcap)
{
    char path[4200], line[1024], *p, *next;
    unsigned ln = 0;
    int rc;

    *n = 0;
    *text = NULL;
    snprintf(path, sizeof path, "%s/runtimes", dir);
    rc = read_small(path, 1 << 20, text);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0) {
        snprintf(err, errcap, "%s: %s", path,
                 rc == LDG_EIO ? strerror(errno) : ldg_strerror(rc));
        return rc;
    }
    for (p = *text; p != NULL && *p; p = next) {
        next = strchr(p, '\n');
        if (next != NULL)
            *next++ = '\0';
        ln++;
        p[strcspn(p, "\r")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (*n == LDG_PROBE_RUNTIMES_MAX) {
            snprintf(err, errcap, "%s:%u: more than %d runtimes", path, ln,
                     LDG_PROBE_RUNTIMES_MAX);
            return LDG_EBADINPUT;
        }
        snprintf(line, sizeof line, "%s", p);
        rc = ldg_probe_runtime_parse(p, rts, *n, &rts[*n]);
        if (rc == LDG_EEXIST) {
            snprintf(err, errcap, "%s:%u: runtime '%s' is listed twice", path,
                     ln, rts[*n].name);
            return LDG_EBADINPUT;
        }
        if (rc < 0) {
            snprintf(err, errcap,
                     "%s:%u: '%s' is not NAME=URL (an http(s) URL, in UTF-8)",
                     path, ln, line);
            return LDG_EBADINPUT;
        }
        (*n)++;
    }
    return 0;
}
