/*
 * job_run.c — what each interval job of `ledger serve` does (jobs.c runs
 * them, each in a process of its own forked by util/spawn.c's runner):
 * the library's own calls, never the program. Each job opens the ledger
 * in its directory itself (a process of its own may: LMDB allows one
 * environment handle per process, not one per program), writes what it
 * says as lines to fd (the daemon's log and serve-status.json take them),
 * and returns an exit code as the program's would be (0 ok, 1 a finding,
 * sysexits otherwise). Their network I/O has its own time limits
 * (http/http.h); the runner kills a job at its interval's limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fleet/fleet.h"
#include "policy/policy.h"
#include "retention/retention.h"
#include "sensors/sensors.h"
#include "serve/serve.h"
#include "serve/serve_int.h"
#include "util/util.h"
#include "verify/verify.h"

/* Opens the ledger in dir (read-only unless writable): NULL after saying
 * why on fd. */
static struct ldg_ledger *
job_open(const char *dir, int writable, int fd, int *ex)
{
    struct ldg_ledger *l = NULL;
    struct ldg_options o;
    char err[1024] = "";
    int rc;

    memset(&o, 0, sizeof o);
    o.flags = writable ? 0 : LDG_RDONLY;
    if ((rc = ldg_open(&l, dir, &o, err, sizeof err)) < 0) {
        dprintf(fd, "%s\n", err[0] ? err : ldg_strerror(rc));
        *ex = ldg_exit_code(rc);
        return NULL;
    }
    return l;
}

/* A failure said on fd, with its exit code. */
static int
job_fail(int fd, const char *what, int rc)
{
    dprintf(fd, "%s\n", what[0] ? what : ldg_strerror(rc));
    return ldg_exit_code(rc);
}

int
ldg_job_verify(const char *const *a, size_t n, int fd)
{
    struct ldg_verdict v;
    struct ldg_ledger *l;
    int ex = 0, rc;

    (void)n;
    if ((l = job_open(a[0], 0, fd, &ex)) == NULL)
        return ex == 65 ? 1 : ex; /* storage that cannot be opened fails */
    memset(&v, 0, sizeof v);
    rc = ldg_verify_full(l, LDG_VERIFY_NEW, &v, NULL, NULL);
    if (rc == LDG_ETAMPER)
        dprintf(fd, "FAILED: %s\n", v.what);
    else if (rc < 0)
        dprintf(fd, "%s\n", v.what);
    else
        dprintf(fd, "ok: checked %llu new events\n",
                (unsigned long long)v.log.checked);
    if (v.not_recorded[0] != '\0')
        dprintf(fd, "note: could not record this result in the ledger (%s)\n",
                v.not_recorded);
    ldg_verdict_release(&v);
    ldg_close(l);
    return ldg_exit_code(rc);
}

int
ldg_job_prune(const char *const *a, size_t n, int fd)
{
    struct ldg_retention_policy pol;
    struct ldg_policy_report r;
    struct ldg_ledger *l;
    char err[512];
    int ex = 0, rc;

    (void)n;
    if ((rc = ldg_retention_policy_load(a[0], &pol, err, sizeof err)) < 0)
        return job_fail(fd, err, rc);
    if ((l = job_open(a[0], 1, fd, &ex)) == NULL)
        return ex;
    memset(&r, 0, sizeof r);
    rc = ldg_retention_apply(l, &pol, 0, 0, &r);
    if (rc < 0) {
        ex = job_fail(fd, ldg_errmsg(l), rc);
        ldg_close(l);
        return ex;
    }
    ldg_close(l);
    /* its notes: what the status file keeps as last_note */
    if (r.set_aside[0])
        dprintf(fd, "an archive of that name failed its check: kept as %s\n",
                r.set_aside);
    if (r.budget_refused)
        dprintf(fd, "%s\n", r.budget_why);
    else if (r.over_budget_after > 0)
        dprintf(fd, "%llu bytes over the disk budget of %llu after it\n",
                (unsigned long long)r.over_budget_after,
                (unsigned long long)pol.disk_budget);
    if (r.pr.metrics_note[0])
        dprintf(fd, "the metrics' counts were not brought up (%s)\n",
                r.pr.metrics_note);
    dprintf(fd, "{\"pruned\":%d,\"events\":%llu}\n", r.pruned,
            (unsigned long long)r.events);
    return 0;
}

int
ldg_job_publish(const char *const *a, size_t n, int fd)
{
    struct ldg_publish_report r;
    struct ldg_ledger *l;
    char err[1024] = "";
    int ex = 0, rc;

    if (n < 2 || (l = job_open(a[0], 0, fd, &ex)) == NULL)
        return n < 2 ? 64 : ex;
    rc = ldg_publish(l, a[1], &r, err, sizeof err);
    ldg_close(l);
    if (rc < 0)
        return job_fail(fd, err, rc);
    dprintf(fd, "published size %llu (%llu files)\n",
            (unsigned long long)r.size, (unsigned long long)r.files_put);
    return 0;
}

int
ldg_job_ship(const char *const *a, size_t n, int fd)
{
    struct ldg_ship_report r;
    struct ldg_ledger *l;
    char err[1024] = "";
    int ex = 0, rc;

    if (n < 2 || (l = job_open(a[0], 0, fd, &ex)) == NULL)
        return n < 2 ? 64 : ex;
    rc = ldg_ship(l, a[1], NULL, 0, &r, err, sizeof err);
    ldg_close(l);
    if (rc < 0)
        return job_fail(fd, err, rc);
    dprintf(fd, "shipped %llu events\n", (unsigned long long)r.shipped);
    return 0;
}

/* The probe's new events, through the daemon's socket: 0, or the exit
 * code (said on fd). */
static int
probe_submit(const char *dir, const char *sock, json_t *news, int fd)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    char err[600] = "";
    size_t i, got;
    json_t *e;
    int rc, ex = 0;

    if ((rc = ldg_client_connect(&cl, sock != NULL && sock[0] ? NULL : dir,
                                 sock != NULL && sock[0] ? sock : NULL, err,
                                 sizeof err)) < 0)
        return job_fail(fd, err, rc);
    json_array_foreach(news, i, e)
    {
        struct ldg_event_in in = {
            .type = json_string_value(json_object_get(e, "type")),
            .body = json_object_get(e, "body")};
        if (ldg_client_append(cl, &in, NULL, 0, 0) < 0)
            break;
    }
    ldg_client_done(cl);
    for (got = 0; got < json_array_size(news); got++) {
        if (ldg_client_wait(cl, &ans, -1) < 0) {
            dprintf(fd, "%s: %zu of %zu events acknowledged\n",
                    ldg_client_errmsg(cl), got, json_array_size(news));
            ex = 74;
            break;
        }
        if (!ans.ok) {
            dprintf(fd, "refused: %s\n", ans.error);
            ex = ans.code > 0 && ans.code < 256 ? ans.code : 70;
        }
    }
    ldg_client_close(cl);
    return ex;
}

int
ldg_job_probe(const char *const *a, size_t n, int fd)
{
    struct ldg_probe_runtime rts[LDG_PROBE_RUNTIMES_MAX];
    struct ldg_probe_opts o;
    struct ldg_ledger *l = NULL;
    json_t *evs = NULL, *news = NULL, *keep = NULL, *e;
    char *text = NULL, err[600];
    size_t nrt = 0, i;
    int ex = 0, rc;

    if ((rc = ldg_probe_runtimes_load(a[0], rts, &nrt, &text, err,
                                      sizeof err)) < 0)
        return job_fail(fd, err, rc);
    memset(&o, 0, sizeof o);
    o.runtimes = rts;
    o.nruntimes = nrt;
    o.host = 1;
    o.disk_path = a[0];
    o.proc_root = getenv("LEDGER_PROC_ROOT");
    o.nvidia_smi = getenv("LEDGER_NVIDIA_SMI");
    if ((l = job_open(a[0], 0, fd, &ex)) == NULL)
        goto out;
    if ((rc = ldg_probe_collect(&o, &evs)) < 0 ||
        (rc = ldg_probe_diff(l, evs, &o, &news)) < 0 ||
        (keep = json_array()) == NULL) {
        ex = job_fail(fd, "", rc < 0 ? rc : LDG_ENOMEM);
        goto out;
    }
    ldg_close(l);
    l = NULL;
    json_array_foreach(news, i, e)
    {
        json_t *wb = json_object_get(e, "body");
        if (strcmp(json_string_value(json_object_get(e, "type")), "_warning"))
            json_array_append(keep, e);
        else if (json_is_string(json_object_get(wb, "why")))
            dprintf(fd, "runtime %s: %s\n",
                    json_string_value(json_object_get(wb, "runtime")),
                    json_string_value(json_object_get(wb, "why")));
        else
            dprintf(fd, "runtime %s: model %s: field '%s' left out\n",
                    json_string_value(
                        json_object_get(json_object_get(e, "body"), "runtime")),
                    json_string_value(
                        json_object_get(json_object_get(e, "body"), "model")),
                    json_string_value(
                        json_object_get(json_object_get(e, "body"), "field")));
    }
    if (json_array_size(keep) > 0)
        ex = probe_submit(a[0], n > 1 ? a[1] : NULL, keep, fd);
    dprintf(fd, "%zu events appended\n", ex == 0 ? json_array_size(keep) : 0);
out:
    ldg_close(l);
    json_decref(evs);
    json_decref(news);
    json_decref(keep);
    free(text);
    return ex;
}
