/*
 * render.c — the ledger's figures in the Prometheus text exposition
 * format (docs/METRICS.md lists every family). Names follow Prometheus's
 * conventions: a `ledger_` prefix, base units in the name (_seconds,
 * _bytes), counters ending in _total, a HELP and a TYPE line before each
 * family, states as state sets (one series per possible value, 1 for the
 * current one) so that a series never vanishes when a state changes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <jansson.h>

#include "doctor/doctor.h"
#include "metrics/metrics_int.h"
#include "projections/projections.h"
#include "ledger/module.h"
#include "util/util.h"

static void
head(struct ldg_buf *o, const char *name, const char *type, const char *help)
{
    ldg_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The model label's values for the buckets that are not one model: told
 * from a model of the same name by address (esc). */
static const char bucket_none[] = "none", bucket_other[] = "other";

/* A label value, escaped as the format asks (backslash, quote, newline),
 * from a name that keeps it distinct from every other name: the format
 * has no escape for the other control characters (promtool refuses
 * "\\r"), and a raw carriage return ends a line for many a reader of the
 * text, so each is written as the four characters \xHH; a backslash of
 * the name is doubled, so that a name holding "\x0d" stays apart from one
 * holding a carriage return; and a model whose name is a bucket's
 * ("none", "other") is written "\none", "\other" (model: this is the
 * model label). */
static void
esc(struct ldg_buf *o, const char *s, int model)
{
    if (model && s != bucket_none && s != bucket_other &&
        (strcmp(s, "none") == 0 || strcmp(s, "other") == 0))
        ldg_buf_puts(o, "\\\\"); /* the value's one backslash */
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\')
            ldg_buf_puts(o, "\\\\\\\\"); /* two in the value */
        else if (ch == '"')
            ldg_buf_puts(o, "\\\"");
        else if (ch == '\n')
            ldg_buf_puts(o, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            ldg_buf_printf(o, "\\\\x%02x", ch); /* \xHH in the value */
        else
            ldg_buf_add(o, s, 1);
    }
}

/* name{k1="v1",k2="v2"} value: labels as NULL-terminated pairs. */
static void
sample(struct ldg_buf *o, const char *name, const char *const *labels,
       const char *value)
{
    ldg_buf_puts(o, name);
    if (labels != NULL && labels[0] != NULL) {
        ldg_buf_puts(o, "{");
        for (size_t i = 0; labels[i] != NULL; i += 2) {
            ldg_buf_printf(o, "%s%s=\"", i ? "," : "", labels[i]);
            esc(o, labels[i + 1] ? labels[i + 1] : "",
                strcmp(labels[i], "model") == 0);
            ldg_buf_puts(o, "\"");
        }
        ldg_buf_puts(o, "}");
    }
    ldg_buf_printf(o, " %s\n", value);
}

static void
sample_u(struct ldg_buf *o, const char *name, const char *const *labels,
         uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    sample(o, name, labels, b);
}

static void
sample_d(struct ldg_buf *o, const char *name, const char *const *labels,
         double v)
{
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    sample(o, name, labels, b);
}

/* A time in ns as Unix seconds with milliseconds. */
static void
sample_ts(struct ldg_buf *o, const char *name, const char *const *labels,
          uint64_t ns)
{
    char b[40];
    snprintf(b, sizeof b, "%llu.%03llu", (unsigned long long)(ns / 1000000000u),
             (unsigned long long)(ns % 1000000000u / 1000000u));
    sample(o, name, labels, b);
}

#define jstr(o, k) ldg_json_str(o, k)

/* ------------------------------------------------------- the log itself -- */

static int
render_log(struct ldg_buf *o, struct ldg_ledger *l, struct ldg_txn *t)
{
    struct ldg_stats st;
    struct ldg_verify_state vs;
    char *ck = NULL;
    int rc;

    if ((rc = ldg_stats(l, &st)) < 0)
        return rc;
    head(o, "ledger_log_events", "gauge", "Events in the log (its size).");
    sample_u(o, "ledger_log_events", NULL, st.events);
    head(o, "ledger_log_file_bytes", "gauge",
         "Size of the log's data file (data.mdb).");
    sample_u(o, "ledger_log_file_bytes", NULL, st.file_bytes);
    head(o, "ledger_log_stored_bytes", "gauge",
         "Bytes of the log's pages in use, by part (entries, bodies).");
    static const char *const part_entries[] = {"part", "entries", NULL};
    static const char *const part_bodies[] = {"part", "bodies", NULL};
    sample_u(o, "ledger_log_stored_bytes", part_entries, st.entry_bytes);
    sample_u(o, "ledger_log_stored_bytes", part_bodies, st.body_bytes);
    head(o, "ledger_last_commit_timestamp_seconds", "gauge",
         "When the last event was committed (Unix time; absent when the log "
         "is empty).");
    if (st.events > 0)
        sample_ts(o, "ledger_last_commit_timestamp_seconds", NULL, st.last_ts);
    /* one checkpoint is signed in every commit (FORMAT.md section 7): the
     * newest covers the log's size and was signed with its last event */
    {
        uint64_t size = 0;
        struct ldg_event ev;
        if (st.events > 0 && ldg_checkpoint_get(t, 0, &ck) == 0) {
            const char *nl = strchr(ck, '\n');
            size = nl ? strtoull(nl + 1, NULL, 10) : 0;
            free(ck);
        }
        head(o, "ledger_checkpoint_size_events", "gauge",
             "Events covered by the newest signed checkpoint.");
        sample_u(o, "ledger_checkpoint_size_events", NULL, size);
        head(o, "ledger_checkpoint_timestamp_seconds", "gauge",
             "When the newest signed checkpoint was made (Unix time; absent: "
             "none yet).");
        if (size > 0 &&
            ldg_event_get_ex(t, size - 1, &ev, LDG_DECODE_TRUSTED) == 0)
            sample_ts(o, "ledger_checkpoint_timestamp_seconds", NULL, ev.ts_ns);
    }
    if ((rc = ldg_verify_state(l, &vs)) < 0)
        return rc;
    head(o, "ledger_verify_verified_events", "gauge",
         "Events `" LDG_CMD_VERIFY "` has checked so far (any mode).");
    sample_u(o, "ledger_verify_verified_events", NULL, vs.verified_size);
    head(o, "ledger_verify_unverified_events", "gauge",
         "Events appended since the last verification.");
    sample_u(o, "ledger_verify_unverified_events", NULL,
             st.events > vs.verified_size ? st.events - vs.verified_size : 0);
    head(o, "ledger_verify_last_full_timestamp_seconds", "gauge",
         "When the last full verification (" LDG_CMD_VERIFY_FULL ") passed "
         "(Unix time; absent: never).");
    if (vs.full_ts_ns)
        sample_ts(o, "ledger_verify_last_full_timestamp_seconds", NULL,
                  vs.full_ts_ns);
    head(o, "ledger_verify_last_full_size_events", "gauge",
         "Events the last full verification covered.");
    sample_u(o, "ledger_verify_last_full_size_events", NULL, vs.full_size);
    head(o, "ledger_verify_failed", "gauge",
         "1 when a failed verification stands (the log is tampered or "
         "damaged: " LDG_CMD_VERIFY " names the event), else 0.");
    sample_u(o, "ledger_verify_failed", NULL, vs.finding ? 1 : 0);
    head(o, "ledger_verify_failed_timestamp_seconds", "gauge",
         "When the standing failed verification was found (Unix time).");
    if (vs.finding && vs.finding_ts_ns)
        sample_ts(o, "ledger_verify_failed_timestamp_seconds", NULL,
                  vs.finding_ts_ns);
    return 0;
}

static void
render_types(struct ldg_buf *o, const struct ldg_metrics *m)
{
    head(o, "ledger_events_total", "counter",
         "Events in the log by type (types past the 256th are \"other\").");
    for (size_t i = 0; i < m->ntypes; i++)
        sample_u(o, "ledger_events_total",
                 (const char *const[]){"type", m->types[i].name, NULL},
                 m->types[i].n);
    if (m->types != NULL && m->types[LDG_METRICS_TYPES_MAX].n)
        sample_u(o, "ledger_events_total",
                 (const char *const[]){"type", "other", NULL},
                 m->types[LDG_METRICS_TYPES_MAX].n);
}

/* ------------------------------------------------- doctor, routes, disk -- */

static const char *const verdicts[] = {"healthy", "degraded", "blocked",
                                       "unknown", NULL};
static const char *const clause_states[] = {"ok", "warn", "fail", "unknown",
                                            NULL};

static void
state_set(struct ldg_buf *o, const char *name, const char *k1, const char *v1,
          const char *k2, const char *v2, const char *key,
          const char *const *states, const char *now)
{
    for (size_t i = 0; states[i]; i++) {
        const char *lab[8];
        size_t n = 0;
        if (k1) {
            lab[n++] = k1;
            lab[n++] = v1;
        }
        if (k2) {
            lab[n++] = k2;
            lab[n++] = v2;
        }
        lab[n++] = key;
        lab[n++] = states[i];
        LDG_ASSERT(n < sizeof lab / sizeof lab[0]);
        lab[n] = NULL;
        sample(o, name, lab, strcmp(states[i], now) == 0 ? "1" : "0");
    }
}

/* A state not in the set shows as "unknown". */
static const char *
in_set(const char *s, const char *const *set)
{
    for (size_t i = 0; set[i]; i++)
        if (strcmp(s, set[i]) == 0)
            return s;
    return "unknown";
}

static int
render_doctor(struct ldg_buf *o, struct ldg_ledger *l)
{
    struct ldg_doctor_opts dopt;
    json_t *d = NULL, *p, *c, *x;
    size_t i, j;
    int verdict, rc;

    memset(&dopt, 0, sizeof dopt);
    if ((rc = ldg_doctor_run(l, &dopt, &d, &verdict)) < 0)
        return rc;
    head(o, "ledger_doctor_verdict", "gauge",
         "The doctor's verdict for the box (state set: 1 for the current "
         "verdict).");
    state_set(o, "ledger_doctor_verdict", NULL, NULL, NULL, NULL, "verdict",
              verdicts, in_set(jstr(d, "verdict"), verdicts));
    head(o, "ledger_doctor_pack_verdict", "gauge",
         "The doctor's verdict per pack (state set).");
    json_array_foreach(json_object_get(d, "packs"), i, p) state_set(
        o, "ledger_doctor_pack_verdict", "pack", jstr(p, "pack"), NULL, NULL,
        "verdict", verdicts, in_set(jstr(p, "verdict"), verdicts));
    head(o, "ledger_doctor_clause_status", "gauge",
         "Each clause of each pack's verdict (state set: ok, warn, fail, "
         "unknown).");
    json_array_foreach(json_object_get(d, "packs"), i, p)
    {
        json_array_foreach(json_object_get(p, "ok"), j, x) state_set(
            o, "ledger_doctor_clause_status", "pack", jstr(p, "pack"), "clause",
            json_string_value(x), "status", clause_states, "ok");
        json_array_foreach(json_object_get(p, "clauses"), j, c)
            state_set(o, "ledger_doctor_clause_status", "pack", jstr(p, "pack"),
                      "clause", jstr(c, "name"), "status", clause_states,
                      in_set(jstr(c, "status"), clause_states));
    }
    head(o, "ledger_doctor_box_clause_status", "gauge",
         "Each box-wide clause of the doctor (state set).");
    json_array_foreach(json_object_get(d, "box"), i, c)
        state_set(o, "ledger_doctor_box_clause_status", "clause",
                  jstr(c, "name"), NULL, NULL, "status", clause_states,
                  in_set(jstr(c, "status"), clause_states));
    json_decref(d);
    return 0;
}

static const char *const readiness[] = {
    "proven",  "declared-not-proven", "failing", "fallback-active",
    "offline", "undeclared",          NULL};

static int
render_routes(struct ldg_buf *o, struct ldg_ledger *l)
{
    struct ldg_view_opts vo;
    json_t *a = NULL, *r;
    size_t i;
    int rc;

    memset(&vo, 0, sizeof vo);
    if ((rc = ldg_projections_view(l, LDG_VIEW_ROUTES, &vo, &a)) < 0)
        return rc;
    head(o, "ledger_route_readiness", "gauge",
         "Each route's readiness (state set: proven only when an eval "
         "proved the model serving it now).");
    json_array_foreach(a, i, r) state_set(
        o, "ledger_route_readiness", "route", jstr(r, "route"), NULL, NULL,
        "readiness", readiness, in_set(jstr(r, "readiness"), readiness));
    json_decref(a);
    return 0;
}

static void
render_disk(struct ldg_buf *o, struct ldg_ledger *l)
{
    struct statvfs sv;
    uint64_t used = 0;
    DIR *dp;
    struct dirent *de;

    /* the ledger directory's own files (data.mdb, lock, keys, status) */
    if ((dp = opendir(ldg_dir(l))) != NULL) {
        while ((de = readdir(dp)) != NULL) {
            struct stat sb;
            if (fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(sb.st_mode))
                used += (uint64_t)sb.st_blocks * 512u;
        }
        closedir(dp);
    }
    head(o, "ledger_dir_used_bytes", "gauge",
         "Disk space used by the files in the ledger directory.");
    sample_u(o, "ledger_dir_used_bytes", NULL, used);
    if (statvfs(ldg_dir(l), &sv) != 0)
        return;
    head(o, "ledger_filesystem_avail_bytes", "gauge",
         "Free space left to the ledger on its file system (the headroom).");
    sample_u(o, "ledger_filesystem_avail_bytes", NULL,
             (uint64_t)sv.f_bavail * sv.f_frsize);
    head(o, "ledger_filesystem_size_bytes", "gauge",
         "Size of the ledger's file system.");
    sample_u(o, "ledger_filesystem_size_bytes", NULL,
             (uint64_t)sv.f_blocks * sv.f_frsize);
    head(o, "ledger_filesystem_headroom_bytes", "gauge",
         "Free space above the doctor's minimum (1 GiB or 5% of the file "
         "system, whichever is larger); negative: below it.");
    {
        double total = (double)sv.f_blocks * sv.f_frsize;
        double min = (double)LDG_DOCTOR_DISK_MIN_MB * 1048576.0;
        if (total * LDG_DOCTOR_DISK_MIN_PERCENT / 100.0 > min)
            min = total * LDG_DOCTOR_DISK_MIN_PERCENT / 100.0;
        sample_d(o, "ledger_filesystem_headroom_bytes", NULL,
                 (double)sv.f_bavail * sv.f_frsize - min);
    }
}

/* ------------------------------------------------------------- readers -- */

/* Snapshots of the store other processes (or this one's other
 * transactions) hold (ldg_stats_snapshots): per holder, what it keeps the
 * writer from reusing, how many commits old it is and when its process
 * started (LMDB does not record when the snapshot was taken); and the
 * largest, 0 with none, to alert on. */
static void
render_readers(struct ldg_buf *o, struct ldg_ledger *l)
{
    struct ldg_snapshot_holder *v = NULL;
    size_t n = 0;
    uint64_t max = 0;

    if (ldg_stats_snapshots(l, &v, &n, NULL) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        max = v[i].held_bytes > max ? v[i].held_bytes : max;
    head(o, "ledger_snapshot_held_bytes_max", "gauge",
         "The most bytes one read snapshot of the store keeps the writer "
         "from reusing (freed since it was taken); 0 when none is held.");
    sample_u(o, "ledger_snapshot_held_bytes_max", NULL, max);
    if (n == 0) {
        free(v);
        return;
    }
    head(o, "ledger_snapshot_held_bytes", "gauge",
         "Bytes freed since a held read snapshot was taken, which no "
         "write may reuse while it is held: data.mdb grows by them, by "
         "holder pid and process state (T: stopped).");
    for (size_t i = 0; i < n; i++) {
        char pid[16], st[2] = {v[i].state ? v[i].state : '?', '\0'};
        snprintf(pid, sizeof pid, "%d", v[i].pid);
        sample_u(o, "ledger_snapshot_held_bytes",
                 (const char *const[]){"pid", pid, "state", st, NULL},
                 v[i].held_bytes);
    }
    head(o, "ledger_snapshot_commits_behind", "gauge",
         "Commits made since a held read snapshot was taken, by holder "
         "pid.");
    for (size_t i = 0; i < n; i++) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", v[i].pid);
        sample_u(o, "ledger_snapshot_commits_behind",
                 (const char *const[]){"pid", pid, NULL}, v[i].behind);
    }
    head(o, "ledger_snapshot_process_start_seconds", "gauge",
         "When the process holding a read snapshot started (Unix seconds; "
         "the snapshot is younger), by holder pid.");
    for (size_t i = 0; i < n; i++) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", v[i].pid);
        if (v[i].proc_start_ns != 0)
            sample_ts(o, "ledger_snapshot_process_start_seconds",
                      (const char *const[]){"pid", pid, NULL},
                      v[i].proc_start_ns);
    }
    free(v);
}

/* ---------------------------------------------------------------- jobs -- */

static uint64_t
parse_time(const char *s)
{
    uint64_t ns = 0;
    if (s == NULL || ldg_time_parse_rfc3339(s, strlen(s), 0, &ns) < 0)
        return 0;
    return ns;
}

static void
render_jobs(struct ldg_buf *o, struct ldg_ledger *l)
{
    json_t *st = NULL, *j;
    char err[512];
    int alive = 0, failing = 0;
    size_t i;

    if (ldg_jobs_status(ldg_dir(l), &st, &alive, &failing, err, sizeof err) < 0)
        return; /* no server has run here: no such families */
    head(o, "ledger_serve_up", "gauge",
         "1 while a `" LDG_CMD_SERVE
         "` of this ledger runs (its status file and "
         "pid), else 0.");
    sample_u(o, "ledger_serve_up", NULL, alive ? 1 : 0);
    head(o, "ledger_serve_job_runs_total", "counter",
         "Runs of each interval job of the server (since it started).");
    json_array_foreach(json_object_get(st, "jobs"), i, j)
        sample_u(o, "ledger_serve_job_runs_total",
                 (const char *const[]){"job", jstr(j, "name"), NULL},
                 (uint64_t)json_integer_value(json_object_get(j, "runs")));
    head(o, "ledger_serve_job_failures_total", "counter",
         "Failed runs of each interval job (since the server started).");
    json_array_foreach(json_object_get(st, "jobs"), i, j)
        sample_u(o, "ledger_serve_job_failures_total",
                 (const char *const[]){"job", jstr(j, "name"), NULL},
                 (uint64_t)json_integer_value(json_object_get(j, "failures")));
    head(o, "ledger_serve_job_failing", "gauge",
         "1 when the job's last run failed, else 0.");
    json_array_foreach(json_object_get(st, "jobs"), i, j) sample_u(
        o, "ledger_serve_job_failing",
        (const char *const[]){"job", jstr(j, "name"), NULL},
        json_integer_value(json_object_get(j, "failing_in_a_row")) > 0);
    head(o, "ledger_serve_job_last_success_timestamp_seconds", "gauge",
         "When each interval job last succeeded (Unix time; absent: never).");
    json_array_foreach(json_object_get(st, "jobs"), i, j)
    {
        uint64_t ns = parse_time(jstr(j, "last_ok"));
        if (ns)
            sample_ts(o, "ledger_serve_job_last_success_timestamp_seconds",
                      (const char *const[]){"job", jstr(j, "name"), NULL}, ns);
    }
    json_decref(st);
}

/* --------------------------------------------------------------- proxy -- */

static void
status_name(const struct ldg_metrics *m, uint16_t s, char *b, size_t cap)
{
    if (s == M_OTHER_STATUS || s >= m->nstatuses)
        snprintf(b, cap, "other");
    else
        snprintf(b, cap, "%u", m->statuses[s]);
}

static const struct m_model *
model_at(const struct ldg_metrics *m, size_t i)
{
    return i < m->nmodels ? &m->models[i] : &m->models[LDG_METRICS_MODELS_MAX];
}

/* The model label of slot i: a model's name, or a bucket's. */
static const char *
model_label(const struct ldg_metrics *m, size_t i)
{
    if (i >= m->nmodels)
        return bucket_other;
    return m->models[i].name[0] != '\0' ? m->models[i].name : bucket_none;
}

/* The models to show: those named, then "other" if anything fell there. */
static size_t
models_shown(const struct ldg_metrics *m)
{
    const struct m_model *x;
    if (m->models == NULL)
        return 0;
    x = &m->models[LDG_METRICS_MODELS_MAX];
    return m->nmodels + (x->lat.count || x->ttft.count || x->tok_in ||
                                 x->tok_out || x->req_bytes || x->resp_bytes
                             ? 1
                             : 0);
}

static void
hist(struct ldg_buf *o, const char *name, const char *model,
     const struct m_hist *h)
{
    char n[96], le[24];
    uint64_t cum = 0;
    for (size_t i = 0; i < M_NBUCKETS; i++) {
        cum += h->b[i];
        snprintf(n, sizeof n, "%s_bucket", name);
        snprintf(le, sizeof le, "%g", metrics_bounds[i]);
        sample_u(o, n, (const char *const[]){"model", model, "le", le, NULL},
                 cum);
    }
    snprintf(n, sizeof n, "%s_bucket", name);
    sample_u(o, n, (const char *const[]){"model", model, "le", "+Inf", NULL},
             h->count);
    snprintf(n, sizeof n, "%s_sum", name);
    sample_d(o, n, (const char *const[]){"model", model, NULL}, h->sum);
    snprintf(n, sizeof n, "%s_count", name);
    sample_u(o, n, (const char *const[]){"model", model, NULL}, h->count);
}

static void
render_proxy(struct ldg_buf *o, const struct ldg_metrics *m)
{
    size_t nm = models_shown(m);

    head(o, "ledger_proxy_requests_total", "counter",
         "Requests the proxy served, from its events in the log, by model "
         "(\"none\": not a model call), HTTP status (0: no response) and "
         "outcome.");
    for (size_t i = 0; i < m->nreqs; i++) {
        const struct m_req *r = &m->reqs[i];
        char st[16];
        status_name(m, r->status, st, sizeof st);
        sample_u(o, "ledger_proxy_requests_total",
                 (const char *const[]){"model", model_label(m, r->model),
                                       "status", st, "outcome",
                                       metrics_outcomes[r->outcome], NULL},
                 r->n);
    }
    head(o, "ledger_proxy_request_duration_seconds", "histogram",
         "Time the proxy took to answer a request (latency_ms), by model.");
    for (size_t i = 0; i < nm; i++)
        hist(o, "ledger_proxy_request_duration_seconds", model_label(m, i),
             &model_at(m, i)->lat);
    head(o, "ledger_proxy_time_to_first_token_seconds", "histogram",
         "Time to the first token of a streamed answer (ttft_ms), by model.");
    for (size_t i = 0; i < nm; i++)
        if (model_label(m, i) != bucket_none)
            hist(o, "ledger_proxy_time_to_first_token_seconds",
                 model_label(m, i), &model_at(m, i)->ttft);
    head(o, "ledger_proxy_tokens_total", "counter",
         "Tokens through the proxy by model and direction (in: prompt, out: "
         "completion).");
    for (size_t i = 0; i < nm; i++) {
        const struct m_model *x = model_at(m, i);
        const char *ml = model_label(m, i);
        if (ml == bucket_none)
            continue;
        sample_u(o, "ledger_proxy_tokens_total",
                 (const char *const[]){"model", ml, "direction", "in", NULL},
                 x->tok_in);
        sample_u(o, "ledger_proxy_tokens_total",
                 (const char *const[]){"model", ml, "direction", "out", NULL},
                 x->tok_out);
    }
    head(o, "ledger_proxy_transferred_bytes_total", "counter",
         "Bytes through the proxy by model and direction (request, "
         "response).");
    for (size_t i = 0; i < nm; i++) {
        const struct m_model *x = model_at(m, i);
        const char *ml = model_label(m, i);
        sample_u(
            o, "ledger_proxy_transferred_bytes_total",
            (const char *const[]){"model", ml, "direction", "request", NULL},
            x->req_bytes);
        sample_u(
            o, "ledger_proxy_transferred_bytes_total",
            (const char *const[]){"model", ml, "direction", "response", NULL},
            x->resp_bytes);
    }
    head(o, "ledger_proxy_fallbacks_total", "counter",
         "Model requests answered by a fallback model, by the model that "
         "answered.");
    for (size_t i = 0; i < nm; i++)
        if (model_label(m, i) != bucket_none)
            sample_u(o, "ledger_proxy_fallbacks_total",
                     (const char *const[]){"model", model_label(m, i), NULL},
                     model_at(m, i)->fallbacks);
}

static int
render_all(struct ldg_metrics *m, struct ldg_ledger *l, struct ldg_buf *out)
{
    struct ldg_txn *t = NULL;
    struct ldg_buf doc;
    int rc;

    /* The doctor first: it verifies and records the events new since
     * the last verification, and the verify series below must say what
     * it found, not what was recorded before it ran. Its series are
     * printed after the log's. */
    ldg_buf_init(&doc, 0);
    if ((rc = render_doctor(&doc, l)) < 0)
        goto out;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    rc = render_log(out, l, t);
    ldg_txn_abort(t);
    if (rc < 0)
        goto out;
    render_types(out, m);
    ldg_buf_add(out, doc.p, doc.len);
    if ((rc = doc.err) < 0 || (rc = render_routes(out, l)) < 0)
        goto out;
    render_disk(out, l);
    render_readers(out, l);
    render_jobs(out, l);
    render_proxy(out, m);
    head(out, "ledger_otlp_events_total", "counter",
         "Events in the log made from OpenTelemetry spans and log records "
         "(" LDG_CMD_SERVE_OTLP "), by signal and event type.");
    for (size_t i = 0; i < M_NOTLP; i++)
        sample_u(out, "ledger_otlp_events_total",
                 (const char *const[]){"signal",
                                       i == M_NOTLP - 1 ? "log" : "span",
                                       "type", metrics_otlp_types[i], NULL},
                 m->otlp[i]);
    head(out, "ledger_metrics_counted_events", "gauge",
         "Events the event counts (events by type, proxy) are up to.");
    sample_u(out, "ledger_metrics_counted_events", NULL, m->size);
    rc = out->err;
out:
    ldg_buf_release(&doc);
    return rc;
}

/* Hands b's text to the caller: 0, or b's error (b released). */
static int
detach(struct ldg_buf *b, int rc, char **out, size_t *len)
{
    if (rc == 0 && (rc = b->err) == 0) {
        *out = ldg_buf_detach(b, len);
        if (*out == NULL)
            rc = LDG_ENOMEM;
    }
    if (rc < 0)
        ldg_buf_release(b);
    return rc;
}

int
ldg_metrics_render(struct ldg_metrics *m, struct ldg_ledger *l, char **out,
                   size_t *len)
{
    struct ldg_buf b;

    if (m == NULL || l == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    *out = NULL;
    *len = 0;
    /* the doctor's history of the device's writes (storage-wear): a
     * sample every 10 minutes at most, whatever runs the metrics; a
     * sample that cannot be taken leaves the doctor saying it has none */
    (void)ldg_doctor_wear_sample(ldg_dir(l), ldg_now_wall_ns() / 1000000000u);
    ldg_buf_init(&b, 0);
    return detach(&b, render_all(m, l, &b), out, len);
}

/* The serve and OTLP counters: one family each, read from the stats
 * struct at off (a uint64_t). */
struct counter {
    const char *name, *type, *help;
    size_t off;
};

static const struct counter serve_counters[] = {
    {"ledger_serve_connections_total", "counter",
     "Connections the server accepted.",
     offsetof(struct ldg_serve_stats, conns)},
    {"ledger_serve_connections_refused_total", "counter",
     "Connections refused (" LDG_OPT_MAX_CONNS " reached).",
     offsetof(struct ldg_serve_stats, refused)},
    {"ledger_serve_connections_dropped_total", "counter",
     "Connections dropped (readers stalled past " LDG_OPT_STALL_TIMEOUT ").",
     offsetof(struct ldg_serve_stats, dropped)},
    {"ledger_serve_requests_total", "counter", "Request lines read.",
     offsetof(struct ldg_serve_stats, requests)},
    {"ledger_serve_events_committed_total", "counter",
     "Events committed and answered with their seq.",
     offsetof(struct ldg_serve_stats, acked)},
    {"ledger_serve_commits_total", "counter",
     "Group commits that appended events.",
     offsetof(struct ldg_serve_stats, commits)},
    {"ledger_serve_duplicates_total", "counter",
     "Requests whose id was already in the log (answered, not appended).",
     offsetof(struct ldg_serve_stats, duplicates)},
    {"ledger_serve_request_errors_total", "counter",
     "Requests refused with an error (bad request, not committed).",
     offsetof(struct ldg_serve_stats, errors)},
    {"ledger_serve_requests_denied_total", "counter",
     "Requests refused as not authorised (access.json).",
     offsetof(struct ldg_serve_stats, denied)},
    {"ledger_serve_budget_stops_total", "counter",
     "Times reading stopped at the memory budget (" LDG_OPT_BUDGET ").",
     offsetof(struct ldg_serve_stats, budget_stops)},
    {"ledger_serve_held_bytes", "gauge",
     "Bytes held now for all connections (input, requests, answers).",
     offsetof(struct ldg_serve_stats, held)},
    {"ledger_serve_held_peak_bytes", "gauge",
     "The most bytes held at once since the server started.",
     offsetof(struct ldg_serve_stats, held_peak)},
};

static const struct counter otlp_counters[] = {
#define OTLP_FIELD(n, h, m)                                                    \
    {                                                                          \
        "ledger_otlp_" n, "counter", h, offsetof(struct ldg_otlp_stats, m)     \
    }
    OTLP_FIELD("requests_total", "OTLP export requests answered.", requests),
    OTLP_FIELD("requests_throttled_total",
               "OTLP requests answered 429 or 503 because the writer is "
               "behind (Retry-After 1 to 3).",
               throttled),
    OTLP_FIELD("requests_failed_total",
               "OTLP requests answered 503 because their commit failed or "
               "the server is stopping.",
               failed),
    OTLP_FIELD("spans_received_total", "Spans in OTLP requests that decoded.",
               spans.received),
    OTLP_FIELD("spans_recorded_total", "Spans committed as new events.",
               spans.recorded),
    OTLP_FIELD("spans_duplicate_total",
               "Spans whose id was already in the log (sent again).",
               spans.duplicate),
    OTLP_FIELD("spans_rejected_total",
               "Spans refused by the ledger (partial success) or not "
               "committed.",
               spans.rejected),
    OTLP_FIELD("spans_dropped_total",
               "Spans not recorded by choice (" LDG_OPT_OTLP_SPANS " genai).",
               spans.dropped),
    OTLP_FIELD("spans_early_total",
               "Spans taken with a time before 2000-01-01 or the ledger's "
               "first event (seconds sent as nanoseconds?), flagged in the "
               "answer.",
               spans.early),
    OTLP_FIELD("logs_received_total",
               "Log records in OTLP requests that decoded.", logs.received),
    OTLP_FIELD("logs_recorded_total", "Log records committed as new events.",
               logs.recorded),
    OTLP_FIELD("logs_duplicate_total",
               "Log records already in the log (sent again).", logs.duplicate),
    OTLP_FIELD("logs_rejected_total",
               "Log records refused by the ledger or not committed.",
               logs.rejected),
    OTLP_FIELD("logs_early_total",
               "Log records taken with a time before 2000-01-01 or the "
               "ledger's first event, flagged in the answer.",
               logs.early),
    OTLP_FIELD("logs_dropped_total",
               "Log records not recorded by choice (" LDG_OPT_OTLP_LOGS
               " drop).",
               logs.dropped),
    OTLP_FIELD("grpc_requests_total",
               "Of the OTLP requests, the calls answered over OTLP/gRPC "
               "(" LDG_OPT_OTLP_GRPC ").",
               grpc_calls),
    OTLP_FIELD("h2_refused_total",
               "HTTP/2 connections (gRPC exporters) at the OTLP/HTTP port, "
               "answered with a GOAWAY naming " LDG_OPT_OTLP_GRPC ".",
               h2_refused),
    OTLP_FIELD("grpc_conns_refused_total",
               "OTLP/gRPC connections closed at once: over their peer's "
               "share, or every slot busy.",
               grpc_conns_refused),
    OTLP_FIELD("grpc_conns_idle_closed_total",
               "Idle OTLP/gRPC connections closed to make room.",
               grpc_conns_idle),
    OTLP_FIELD("grpc_calls_cut_total",
               "OTLP/gRPC calls reset for not ending within 30 s, and "
               "connections closed for not reading their answers.",
               grpc_calls_cut),
    OTLP_FIELD("grpc_h2_errors_total",
               "OTLP/gRPC connections ended for breaking HTTP/2.",
               grpc_h2_errors),
#undef OTLP_FIELD
};

static int
render_counters(const void *st, const struct counter *f, size_t n, char **out,
                size_t *len)
{
    struct ldg_buf b;

    if (st == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    *out = NULL;
    *len = 0;
    ldg_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)st + f[i].off, sizeof v);
        head(&b, f[i].name, f[i].type, f[i].help);
        sample_u(&b, f[i].name, NULL, v);
    }
    return detach(&b, 0, out, len);
}

int
ldg_metrics_render_otlp(const struct ldg_otlp_stats *st, char **out,
                        size_t *len)
{
    static const char name[] = "ledger_otlp_requests_refused_total";
    struct ldg_buf b;
    char *t = NULL;
    size_t tl = 0;
    int rc = render_counters(st, otlp_counters,
                             sizeof otlp_counters / sizeof otlp_counters[0], &t,
                             &tl);

    if (rc < 0)
        return rc;
    ldg_buf_init(&b, 0);
    ldg_buf_add(&b, t, tl);
    free(t);
    /* by reason, each one there from the start (0) */
    head(&b, name, "counter",
         "OTLP requests refused (4xx but 429), by reason: path (404), "
         "method (405), content_type and content_encoding (415), body_size "
         "and limit (413), invalid (400).");
    for (unsigned i = 0; i < LDG_OTLP_REFUSED_N; i++) {
        const char *const labels[] = {"reason", ldg_otlp_refusal_name(i), NULL};
        sample_u(&b, name, labels, st->refused_by[i]);
    }
    return detach(&b, 0, out, len);
}

/* The kernel's count of the bytes this process caused to be written
 * (write_bytes of /proc/self/io: page-cache pages it dirtied, each counted
 * once when first dirtied, and its direct writes; Linux adds a reaped
 * child's count to its parent's, so a server's scrape children are in
 * it). -1 where the kernel does not say (no /proc, no task I/O
 * accounting). */
static int
proc_written(uint64_t *out)
{
    char line[128];
    unsigned long long v;
    int rc = -1;
    FILE *f = fopen("/proc/self/io", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "write_bytes: %llu", &v) == 1) {
            *out = (uint64_t)v;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

int
ldg_metrics_render_serve(const struct ldg_serve_stats *st, char **out,
                         size_t *len)
{
    static const char *const name = "ledger_storage_written_bytes_total";
    struct ldg_buf b;
    uint64_t w;
    char *s;
    size_t n;
    int rc = render_counters(st, serve_counters,
                             sizeof serve_counters / sizeof serve_counters[0],
                             &s, &n);

    if (rc < 0)
        return rc;
    if (proc_written(&w) < 0) { /* the kernel does not say: no family */
        *out = s;
        *len = n;
        return 0;
    }
    ldg_buf_init(&b, 0);
    ldg_buf_add(&b, s, n);
    free(s);
    head(&b, name, "counter",
         "Bytes this server caused to be written to storage since it "
         "started, its scrapes included: the kernel's count (write_bytes of "
         "/proc/PID/io), page-cache folios dirtied, before the file system's "
         "own writes.");
    sample_u(&b, name, NULL, w);
    return detach(&b, 0, out, len);
}
