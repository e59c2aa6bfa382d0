/*
 * test_engine.c — keeping projections honest: the model test (random
 * event streams applied incrementally give the same state as a rebuild
 * from scratch, in this process and in another), --at against a ledger
 * that only ever had the prefix, version upgrades, appenders without
 * projections, erasures, signed notes, tampered stores and interrupted
 * rebuilds.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/ingest.h"
#include "projections/projections.h"
#include "tests/support/support.h"

/* ------------------------------------------------------- random events -- */

struct rng {
    uint64_t s;
};

static uint64_t
next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned
below(struct rng *r, unsigned n)
{
    return (unsigned)(next(r) % n);
}

static const char *
pick(struct rng *r, const char *const *v, unsigned n)
{
    return v[below(r, n)];
}

#define PICK(r, arr) pick((r), (arr), sizeof(arr) / sizeof((arr)[0]))

static const char *const packs[] = {"p0", "p1", "p2"};
static const char *const groups[] = {"fs.read", "exec", "net.egress"};
static const char *const scopes[] = {"s0", "s1", "demo"};
static const char *const models[] = {"m0", "m1", "m2", "m3"};
static const char *const runtimes[] = {"r0", "r1"};
static const char *const routes[] = {"p0/a", "p1/b", "p2/c", "p0/d"};
static const char *const runs[] = {"R0", "R1", "R2", "R3", "R4"};
static const char *const evals[] = {"E0", "E1", "E2", "E3", "E4", "E5"};
static const char *const mstates[] = {"available", "loaded", "parked",
                                      "offline", "removed"};
static const char *const expires[] = {"2001-01-01T00:00:00Z",
                                      "2999-01-01T00:00:00Z"};

static json_t *
requires_json(struct rng *r)
{
    json_t *perms = json_array(), *rt = json_array(), *md = json_array();
    unsigned n = 1 + below(r, 3);
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(perms, json_pack("{s:s, s:s, s:s, s:b}", "group",
                                               PICK(r, groups), "scope",
                                               PICK(r, scopes), "tier", "T1",
                                               "optional", below(r, 3) == 0));
    json_array_append_new(rt, json_string(PICK(r, routes)));
    json_array_append_new(md, json_string(PICK(r, models)));
    return json_pack("{s:o, s:o, s:o}", "permissions", perms, "routes", rt,
                     "models", md);
}

static json_t *
target_json(struct rng *r)
{
    char t[64];
    switch (below(r, 4)) {
    case 0:
        snprintf(t, sizeof t, "pack:%s", PICK(r, packs));
        break;
    case 1:
        snprintf(t, sizeof t, "model:%s", PICK(r, models));
        break;
    default:
        snprintf(t, sizeof t, "route:%s", PICK(r, routes));
    }
    return json_string(t);
}

/* One random valid event of the vocabulary (type into *type). */
static json_t *
random_event(struct rng *r, const char **type)
{
    unsigned k = below(r, 30);
    json_t *b;
    switch (k) {
    case 0:
        *type = "host.profile";
        return json_pack("{s:s, s:i, s:i, s:i}", "cpu", "c", "cores", 4,
                         "ram_mb", 1000, "disk_free_mb", (int)below(r, 3000));
    case 1:
        *type = "capacity.snapshot";
        return json_pack("{s:i}", "disk_free_mb", (int)below(r, 3000));
    case 2:
        *type = "runtime.health";
        return json_pack("{s:s, s:s, s:f}", "runtime", PICK(r, runtimes),
                         "status", below(r, 3) ? "up" : "down", "latency_ms",
                         below(r, 100) / 7.0);
    case 3:
        *type = "model.registered";
        return json_pack("{s:s, s:s, s:s}", "model", PICK(r, models), "digest",
                         below(r, 2) ? "sha256:a" : "sha256:b", "runtime",
                         PICK(r, runtimes));
    case 4:
    case 5:
        *type = "model.state";
        return json_pack("{s:s, s:s}", "model", PICK(r, models), "state",
                         PICK(r, mstates));
    case 6:
        *type = "model.verified";
        return json_pack("{s:s, s:s, s:b}", "model", PICK(r, models), "digest",
                         "sha256:a", "ok", below(r, 4) != 0);
    case 7:
        *type = "pack.installed";
        return json_pack("{s:s, s:s, s:s, s:o}", "pack", PICK(r, packs),
                         "version", "1", "manifest_digest", "sha256:p",
                         "requires", requires_json(r));
    case 8:
        *type = "pack.upgraded";
        return json_pack("{s:s, s:s, s:s, s:s, s:o}", "pack", PICK(r, packs),
                         "from", "1", "to", "2", "manifest_digest", "sha256:q",
                         "requires", requires_json(r));
    case 9:
    case 10:
        *type = "pack.validated";
        return json_pack("{s:s, s:b, s:[s]}", "pack", PICK(r, packs), "ok",
                         below(r, 5) != 0, "errors", "e");
    case 11:
        *type = "pack.checked";
        return json_pack("{s:s, s:b, s:[{s:s, s:b}]}", "pack", PICK(r, packs),
                         "ok", below(r, 4) != 0, "clauses", "name", "c", "ok",
                         0);
    case 12:
        *type = below(r, 3) == 0   ? "pack.disabled"
                : below(r, 2) == 0 ? "pack.removed"
                                   : "pack.enabled";
        return json_pack("{s:s}", "pack", PICK(r, packs));
    case 13:
    case 14:
    case 15: {
        static const char *const t[] = {
            "permission.requested", "permission.granted", "permission.denied",
            "permission.revoked"};
        *type = PICK(r, t);
        b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "pack", PICK(r, packs),
                      "group", PICK(r, groups), "scope", PICK(r, scopes), "by",
                      "op", "tier", "T2");
        if (strcmp(*type, "permission.granted") == 0 && below(r, 3) == 0)
            json_object_set_new(b, "expires", json_string(PICK(r, expires)));
        return b;
    }
    case 16:
        *type = "route.declared";
        return json_pack("{s:s, s:s, s:s, s:[s], s:{s:s, s:s, s:f}}", "route",
                         PICK(r, routes), "pack", PICK(r, packs), "model",
                         PICK(r, models), "fallbacks", PICK(r, models),
                         "threshold", "metric", "pass_rate", "op",
                         ">=", "value", 0.5);
    case 17:
    case 18:
        *type = "eval.result";
        return json_pack(
            "{s:s, s:s, s:o, s:s, s:b, s:i, s:i, s:{s:f, s:i}, s:i}", "eval_id",
            PICK(r, evals), "suite", "s", "target", target_json(r), "candidate",
            PICK(r, models), "passed", below(r, 3) != 0, "cases_total", 10,
            "cases_passed", (int)below(r, 11), "metrics", "pass_rate",
            below(r, 11) / 10.0, "latency_p50_ms", (int)below(r, 900),
            "policy_violations", (int)below(r, 2));
    case 19:
    case 20: {
        static const char *const t[] = {
            "promotion.requested", "promotion.promoted", "promotion.rejected"};
        *type = PICK(r, t);
        return json_pack("{s:o, s:s, s:s, s:s}", "target", target_json(r),
                         "candidate", PICK(r, models), "eval_id",
                         PICK(r, evals), "reason", "r");
    }
    case 21:
        *type = "promotion.rolled_back";
        return json_pack("{s:o, s:s, s:s}", "target", target_json(r), "to",
                         PICK(r, models), "reason", "r");
    case 22:
        *type = "run.started";
        return json_pack("{s:s, s:s}", "run", PICK(r, runs), "pack",
                         PICK(r, packs));
    case 23:
    case 24: {
        static const char *const st[] = {"ok", "failed", "skipped"};
        *type = "run.step";
        return json_pack("{s:s, s:s, s:s, s:s}", "run", PICK(r, runs), "step",
                         "s", "tool", "t", "status", PICK(r, st));
    }
    case 25:
        *type = "run.policy";
        return json_pack("{s:s, s:s, s:s}", "run", PICK(r, runs), "decision",
                         below(r, 2) ? "allow" : "deny", "rule", "x");
    case 26: {
        static const char *const st[] = {"ok", "failed", "aborted"};
        *type = "run.finished";
        return json_pack("{s:s, s:s}", "run", PICK(r, runs), "status",
                         PICK(r, st));
    }
    case 27:
        *type = "x.test.linked";
        return json_pack("{s:s}", "run", PICK(r, runs));
    default: {
        static const char *const oc[] = {"ok", "error", "refused"};
        *type = "route.decision";
        b = json_pack("{s:s, s:s, s:s, s:b, s:s}", "route", PICK(r, routes),
                      "chosen_model", PICK(r, models), "run", PICK(r, runs),
                      "fallback", below(r, 4) == 0, "outcome", PICK(r, oc));
        json_object_set_new(b, "latency_ms",
                            below(r, 2) ? json_integer(below(r, 5000))
                                        : json_real(below(r, 5000) / 3.0));
        return b;
    }
    }
}

/* Appends n random events in commit groups of random sizes, sometimes
 * erasing the body of an earlier event. */
static void
append_random(struct ldg_ledger *l, struct rng *r, int n)
{
    uint64_t size;
    int done = 0;
    assert_int_equal(ldg_size(l, &size), 0);
    while (done < n) {
        struct ldg_writer_options wo;
        struct ldg_writer *w;
        int chunk = 1 + (int)below(r, 150);
        memset(&wo, 0, sizeof wo);
        wo.batch = 1 + below(r, 60);
        wo.threads = 1;
        assert_int_equal(ldg_writer_new(&w, l, &wo), 0);
        for (int i = 0; i < chunk && done < n; i++, done++) {
            struct ldg_event_in in;
            const char *type = NULL;
            json_t *b = random_event(r, &type);
            memset(&in, 0, sizeof in);
            in.type = type;
            in.body = b;
            if (strcmp(type, "x.test.linked") == 0)
                in.run = json_string_value(json_object_get(b, "run"));
            if (ldg_writer_add(w, &in) != 0)
                fail_msg("add %s: %s", type, ldg_errmsg(l));
            json_decref(b);
        }
        assert_int_equal(ldg_writer_flush(w), 0);
        ldg_writer_free(w);
        /* Now and then erase an earlier body (not genesis). */
        if (below(r, 4) == 0) {
            struct ldg_event_in in;
            uint64_t cur, target;
            json_t *b;
            assert_int_equal(ldg_size(l, &cur), 0);
            target = 1 + next(r) % (cur - 1);
            b = json_pack("{s:I, s:s}", "target_seq", (json_int_t)target,
                          "reason", "test");
            memset(&in, 0, sizeof in);
            in.type = "body.erased";
            in.body = b;
            /* Refused for keys, erasures and already erased bodies. */
            (void)ldg_append(l, &in, NULL);
            json_decref(b);
        }
    }
}

/* Digest strings of a projections list, "name=digest;..." */
static void
digests(json_t *list, char *buf, size_t cap)
{
    size_t i, o = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(list, i, x)
    {
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s=%s;",
                              json_string_value(json_object_get(x, "name")),
                              json_string_value(json_object_get(x, "digest")));
    }
}

/* The digests of the state after `size` events, replayed in a separate
 * process. */
static void
digests_in_child(const char *dir, uint64_t size, char *buf, size_t cap)
{
    int fd[2], status;
    pid_t pid;
    ssize_t got, total = 0;
    assert_int_equal(pipe(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ldg_options o;
        struct ldg_ledger *l;
        json_t *list = NULL;
        char err[256], out[4096];
        close(fd[0]);
        memset(&o, 0, sizeof o);
        o.flags = LDG_RDONLY;
        if (ldg_open(&l, dir, &o, err, sizeof err) != 0 ||
            ldg_projections_list(l, size, &list) != 0)
            _exit(2);
        digests(list, out, sizeof out);
        if (write(fd[1], out, strlen(out)) < 0)
            _exit(3);
        _exit(0);
    }
    close(fd[1]);
    while ((got = read(fd[0], buf + total, cap - 1 - (size_t)total)) > 0)
        total += got;
    buf[total] = '\0';
    close(fd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
model_test(uint64_t seed, int n)
{
    char dir[256], a[4096], b[4096], c[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct rng r = {seed};
    json_t *list = NULL, *diffs = NULL, *rep = NULL, *x;
    uint64_t size, ndiff = 99;
    size_t i;

    assert_int_equal(ldg_projections_attach(l), 0);
    append_random(l, &r, n);
    assert_int_equal(ldg_size(l, &size), 0);
    /* incremental (stored) */
    assert_int_equal(ldg_projections_list(l, 0, &list), 0);
    json_array_foreach(list, i, x)
        assert_true(json_is_true(json_object_get(x, "current")));
    digests(list, a, sizeof a);
    json_decref(list);
    /* replayed from scratch in this process */
    assert_int_equal(ldg_projections_list(l, size, &list), 0);
    digests(list, b, sizeof b);
    json_decref(list);
    assert_string_equal(a, b);
    /* replayed in another process */
    digests_in_child(dir, size, c, sizeof c);
    assert_string_equal(a, c);
    /* record by record */
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    if (ndiff != 0)
        fail_msg("seed %llu: %s", (unsigned long long)seed,
                 json_dumps(diffs, JSON_INDENT(1)));
    json_decref(diffs);
    /* a rebuild changes nothing */
    assert_int_equal(ldg_projections_rebuild(l, 0, NULL, NULL, &rep), 0);
    json_array_foreach(rep, i, x)
    {
        assert_false(json_is_true(json_object_get(x, "changed")));
        assert_string_equal(json_string_value(json_object_get(x, "note")),
                            "matches");
    }
    json_decref(rep);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_engine__incremental_equals_rebuild_seed_1(void **state)
{
    (void)state;
    model_test(1, 2500);
}

static void
test_engine__incremental_equals_rebuild_seed_2(void **state)
{
    (void)state;
    model_test(2, 2500);
}

static void
test_engine__incremental_equals_rebuild_seed_3(void **state)
{
    (void)state;
    model_test(77, 2500);
}

/* ------------------------------------------------------------ --at -- */

static const char *
src_dir(void)
{
    const char *s = getenv("LEDGER_SRC");
    return s ? s : ".";
}

/* Appends lines [from, to) (0-based, non-empty lines) of a JSONL file,
 * one commit each. */
/* Appends lines [from, to) of path (past its end: those there are);
 * returns the lines read, at most to. */
static int
append_range(struct ldg_ledger *l, const char *path, int from, int to)
{
    char line[8192];
    FILE *f = fopen(path, "r");
    int k = 0;
    assert_non_null(f);
    while (k < to && fgets(line, sizeof line, f) != NULL) {
        struct ldg_event_in in;
        json_t *holder = NULL;
        char msg[256];
        int col;
        size_t len = strlen(line);
        while (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (k++ < from)
            continue;
        assert_int_equal(ldg_ingest_parse_line(line, len, 1 << 20, &in, &holder,
                                               &col, msg, sizeof msg),
                         0);
        if (ldg_append(l, &in, NULL) != 0)
            fail_msg("append: %s", ldg_errmsg(l));
        json_decref(holder);
    }
    fclose(f);
    return k;
}

static void
append_lines(struct ldg_ledger *l, const char *path, int n)
{
    append_range(l, path, 0, n);
}

static json_t *
state_without_note(struct ldg_ledger *l, uint64_t at_size)
{
    json_t *s = NULL;
    assert_int_equal(ldg_projections_state_json(l, at_size, &s), 0);
    json_object_del(s, "note");
    return s;
}

static void
test_engine__at_equals_a_ledger_that_stopped_there(void **state)
{
    /* Same events and the same timestamps (a fixed clock) in both. */
    static const uint64_t clock = 4000000000000000000ull;
    char da[256], db[256], path[1024];
    struct ldg_ledger *a = t_ledger_new(da, sizeof da, 0);
    static const int cut[] = {1, 5, 12, 17, 20, 24, 27};
    (void)state;

    snprintf(path, sizeof path, "%s/examples/scenarios/routes.jsonl",
             src_dir());
    ldg_set_clock(a, &clock);
    assert_int_equal(ldg_projections_attach(a), 0);
    append_lines(a, path, 1000);
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        struct ldg_ledger *b = t_ledger_new(db, sizeof db, 0);
        json_t *sa, *sb, *la = NULL, *lb = NULL;
        char *ta, *tb;
        char ga[4096], gb[4096];
        ldg_set_clock(b, &clock);
        assert_int_equal(ldg_projections_attach(b), 0);
        append_lines(b, path, cut[i]);
        /* --at SEQ on a is the current state of b (SEQ = cut) */
        sa = state_without_note(a, (uint64_t)cut[i] + 1);
        sb = state_without_note(b, 0);
        ta = json_dumps(sa, JSON_SORT_KEYS | JSON_COMPACT);
        tb = json_dumps(sb, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(ta, tb);
        assert_int_equal(ldg_projections_list(a, (uint64_t)cut[i] + 1, &la), 0);
        assert_int_equal(ldg_projections_list(b, 0, &lb), 0);
        digests(la, ga, sizeof ga);
        digests(lb, gb, sizeof gb);
        assert_string_equal(ga, gb);
        free(ta);
        free(tb);
        json_decref(sa);
        json_decref(sb);
        json_decref(la);
        json_decref(lb);
        ldg_close(b);
        t_rmrf(db);
    }
    ldg_close(a);
    t_rmrf(da);
}

/* ldg_projections_doctor_each, stepping one event a size, answers what
 * ldg_projections_view answers at each size (a replay of its own, or the
 * stored state at the log's size). */
struct each {
    struct ldg_ledger *l;
    uint64_t next;
};

static int
each_cb(void *ctx, uint64_t size, json_t *d)
{
    struct each *e = ctx;
    struct ldg_view_opts o;
    json_t *v = NULL;
    assert_int_equal(size, e->next);
    memset(&o, 0, sizeof o);
    o.at_size = size;
    assert_int_equal(ldg_projections_view(e->l, LDG_VIEW_DOCTOR, &o, &v), 0);
    if (!json_equal(v, d)) {
        char *a = json_dumps(v, JSON_COMPACT), *b = json_dumps(d, JSON_COMPACT);
        fail_msg("doctor at %llu: view %s, each %s", (unsigned long long)size,
                 a, b);
    }
    json_decref(v);
    json_decref(d);
    e->next++;
    return 0;
}

static void
test_engine__doctor_each_is_the_view_at_each_size(void **state)
{
    static const char *const files[] = {"routes", "permissions", "erasure",
                                        "promotions"};
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char d[256], path[1024];
        struct ldg_ledger *l = t_ledger_new(d, sizeof d, 0);
        struct each e;
        uint64_t size;
        snprintf(path, sizeof path, "%s/examples/scenarios/%s.jsonl", src_dir(),
                 files[i]);
        assert_int_equal(ldg_projections_attach(l), 0);
        append_lines(l, path, 1000);
        assert_int_equal(ldg_size(l, &size), 0);
        e.l = l;
        e.next = 1;
        assert_int_equal(ldg_projections_doctor_each(l, 1, size, each_cb, &e),
                         0);
        assert_int_equal(e.next, size + 1);
        e.next = 3;
        assert_int_equal(ldg_projections_doctor_each(l, 3, 4, each_cb, &e), 0);
        assert_int_equal(e.next, 5);
        assert_int_equal(
            ldg_projections_doctor_each(l, 1, size + 1, each_cb, &e),
            LDG_EINVAL);
        assert_int_equal(ldg_projections_doctor_each(l, 0, 1, each_cb, &e),
                         LDG_EINVAL);
        ldg_close(l);
        t_rmrf(d);
    }
}

/* The permissions at an earlier size (folded from the pack and
 * permission events alone) are those of a ledger that stopped there. */
static json_t *
perms_at(struct ldg_ledger *l, uint64_t at_size)
{
    struct ldg_view_opts o;
    json_t *v = NULL, *r;
    size_t i;
    memset(&o, 0, sizeof o);
    o.at_size = at_size;
    assert_int_equal(ldg_projections_view(l, LDG_VIEW_PERMISSIONS, &o, &v), 0);
    json_array_foreach(v, i, r) json_object_del(r, "signer"); /* its key */
    return v;
}

static void
test_engine__permissions_at_equal_a_ledger_that_stopped_there(void **state)
{
    static const uint64_t clock = 4000000000000000000ull;
    char da[256], db[256], path[1024];
    struct ldg_ledger *a = t_ledger_new(da, sizeof da, 0);
    static const int cut[] = {6, 7, 9, 12, 14, 15, 17};
    (void)state;

    snprintf(path, sizeof path, "%s/examples/scenarios/permissions.jsonl",
             src_dir());
    ldg_set_clock(a, &clock);
    assert_int_equal(ldg_projections_attach(a), 0);
    append_lines(a, path, 1000);
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        struct ldg_ledger *b = t_ledger_new(db, sizeof db, 0);
        json_t *pa, *pb;
        ldg_set_clock(b, &clock);
        assert_int_equal(ldg_projections_attach(b), 0);
        append_lines(b, path, cut[i]);
        pa = perms_at(a, (uint64_t)cut[i] + 1);
        pb = perms_at(b, 0);
        assert_true(json_array_size(pb) > 0);
        if (!json_equal(pa, pb)) {
            char *x = json_dumps(pa, JSON_COMPACT);
            char *y = json_dumps(pb, JSON_COMPACT);
            fail_msg("cut %d: at %s, stopped %s", cut[i], x, y);
        }
        json_decref(pa);
        json_decref(pb);
        ldg_close(b);
        t_rmrf(db);
    }
    ldg_close(a);
    t_rmrf(da);
}

/* The pipeline's views and the promotions at an earlier size (folded
 * from the events that can change the projection each reads alone:
 * plans, memory, builds, promotions) and the records of those
 * projections there are those of a ledger that stopped there, whose
 * folds took every event. The log: the pipeline's first day, route
 * decisions (after its promotions: errors for the gates) and runs,
 * promotions, then the pipeline's second day. */
static void
append_pipeline(struct ldg_ledger *l, int n)
{
    static const char *const files[] = {"examples/pipeline/day1.jsonl",
                                        "examples/scenarios/routes.jsonl",
                                        "examples/scenarios/promotions.jsonl",
                                        "examples/pipeline/day2.jsonl",
                                        "examples/scenarios/models-runs.jsonl",
                                        "examples/scenarios/lifecycle.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0] && n > 0; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", src_dir(), files[i]);
        n -= append_range(l, path, 0, n);
    }
}

static json_t *
pipeline_at(struct ldg_ledger *l, uint64_t at_size)
{
    static const enum ldg_proj_view views[] = {
        LDG_VIEW_PLANS,  LDG_VIEW_SNAPSHOTS, LDG_VIEW_TRIPCODES,
        LDG_VIEW_MEMORY, LDG_VIEW_GATES,     LDG_VIEW_PROMOTIONS,
        LDG_VIEW_ROUTES, LDG_VIEW_MODELS,    LDG_VIEW_PACKS};
    static const char *const names[] = {
        "plans", "memory", "builds", "promotions", "routes", "models", "packs"};
    json_t *all = json_array();
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        for (int flagged = 0; flagged < 2; flagged++) {
            struct ldg_view_opts o;
            json_t *v = NULL;
            memset(&o, 0, sizeof o);
            o.at_size = at_size;
            o.only_flagged = flagged;
            assert_int_equal(ldg_projections_view(l, views[i], &o, &v), 0);
            json_array_append_new(all, v);
        }
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint64_t n = UINT64_MAX;
        assert_int_equal(ldg_projections_records(l, names[i], at_size, &n), 0);
        json_array_append_new(all, json_integer((json_int_t)n));
    }
    return all;
}

static void
test_engine__pipeline_views_at_equal_a_ledger_that_stopped_there(void **state)
{
    static const uint64_t clock = 4000000000000000000ull;
    char da[256], db[256];
    struct ldg_ledger *a = t_ledger_new(da, sizeof da, 0);
    static const int cut[] = {1,  9,   14,  20,  27,  33,  40,  47,  60, 80,
                              90, 100, 106, 115, 120, 128, 135, 143, 150};
    uint64_t n = UINT64_MAX;
    (void)state;

    ldg_set_clock(a, &clock);
    assert_int_equal(ldg_projections_attach(a), 0);
    append_pipeline(a, 1000);
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        struct ldg_ledger *b = t_ledger_new(db, sizeof db, 0);
        json_t *pa, *pb;
        ldg_set_clock(b, &clock);
        assert_int_equal(ldg_projections_attach(b), 0);
        append_pipeline(b, cut[i]);
        pa = pipeline_at(a, (uint64_t)cut[i] + 1);
        pb = pipeline_at(b, 0);
        for (size_t k = 0; k < json_array_size(pb); k++) {
            json_t *x = json_array_get(pa, k), *y = json_array_get(pb, k);
            if (!json_equal(x, y)) {
                char *xs = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                char *ys = json_dumps(y, JSON_COMPACT | JSON_ENCODE_ANY);
                fail_msg("cut %d, answer %zu: at %s, stopped %s", cut[i], k, xs,
                         ys);
            }
        }
        json_decref(pa);
        json_decref(pb);
        ldg_close(b);
        t_rmrf(db);
    }
    /* through the pipeline's second day: plans, memory items, promotions */
    assert_int_equal(ldg_projections_records(a, "plans", 116, &n), 0);
    assert_true(n > 0);
    assert_int_equal(ldg_projections_records(a, "memory", 116, &n), 0);
    assert_true(n > 0);
    assert_int_equal(ldg_projections_records(a, "promotions", 116, &n), 0);
    assert_true(n > 0);
    assert_int_equal(ldg_projections_records(a, "nosuch", 116, &n), LDG_EINVAL);
    ldg_close(a);
    t_rmrf(da);
}

/* ----------------------------------------------------- store upkeep -- */

static void
put_meta_version(struct ldg_ledger *l, const char *name, uint32_t version)
{
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t rec[60];
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.meta", 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, name, strlen(name), &v), 0);
    assert_int_equal(v.len, 60);
    memcpy(rec, v.data, 60);
    rec[8] = (uint8_t)(version >> 24);
    rec[9] = (uint8_t)(version >> 16);
    rec[10] = (uint8_t)(version >> 8);
    rec[11] = (uint8_t)version;
    assert_int_equal(ldg_kv_put(t, dbi, name, strlen(name), rec, 60), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static struct ldg_ledger *
reopen(const char *dir, int ro)
{
    struct ldg_options o;
    struct ldg_ledger *l;
    char err[256];
    memset(&o, 0, sizeof o);
    o.flags = (ro ? LDG_RDONLY : 0) | LDG_NOSYNC;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

static const char *
pack_state(struct ldg_ledger *l, const char *pack)
{
    static char buf[64];
    struct ldg_view_opts o;
    json_t *v = NULL;
    memset(&o, 0, sizeof o);
    o.filter = pack;
    if (ldg_projections_view(l, LDG_VIEW_PACKS, &o, &v) != 0)
        return "(none)";
    snprintf(buf, sizeof buf, "%s",
             json_string_value(json_object_get(json_array_get(v, 0), "state")));
    json_decref(v);
    return buf;
}

static json_t *
list_row(json_t *list, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach(
        list, i, x) if (strcmp(json_string_value(json_object_get(x, "name")),
                               name) == 0) return x;
    return NULL;
}

static void
test_engine__other_version_is_rebuilt_and_never_used(void **state)
{
    char dir[256], path[1024];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *ro;
    json_t *list = NULL, *rep = NULL, *diffs = NULL;
    uint64_t ndiff = 0;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 1000);
    ldg_close(l);
    put_meta_version(l = reopen(dir, 0), "packs", 999);
    ldg_close(l);
    /* A reader does not use the stored packs: it computes them. */
    ro = reopen(dir, 1);
    assert_int_equal(ldg_projections_list(ro, 0, &list), 0);
    assert_false(
        json_is_true(json_object_get(list_row(list, "packs"), "current")));
    json_decref(list);
    assert_string_equal(pack_state(ro, "pdf-ops"), "declared-not-proven");
    assert_int_equal(ldg_projections_check(ro, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_true(ndiff >= 1);
    json_decref(diffs);
    ldg_close(ro);
    /* A writable open rebuilds it. */
    l = reopen(dir, 0);
    assert_int_equal(ldg_projections_attach(l), 0);
    assert_int_equal(ldg_projections_list(l, 0, &list), 0);
    assert_true(
        json_is_true(json_object_get(list_row(list, "packs"), "current")));
    assert_int_equal(
        json_integer_value(json_object_get(list_row(list, "packs"), "version")),
        1);
    json_decref(list);
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_int_equal(ndiff, 0);
    json_decref(diffs);
    json_decref(rep);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_engine__appender_without_projections_is_caught_up(void **state)
{
    char dir[256], path[1024];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *ro;
    json_t *list = NULL, *diffs = NULL;
    uint64_t ndiff = 9;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 20);
    ldg_close(l);
    /* Another writer, without projections, appends the rest. */
    l = reopen(dir, 0);
    append_range(l, path, 20, 1000);
    ldg_close(l);
    ro = reopen(dir, 1);
    assert_int_equal(ldg_projections_list(ro, 0, &list), 0);
    assert_false(
        json_is_true(json_object_get(list_row(list, "routes"), "current")));
    assert_int_equal(
        json_integer_value(json_object_get(list_row(list, "routes"), "behind")),
        11);
    json_decref(list);
    /* ...but readers never see stale state: the missing events are
     * folded for the answer (the model went offline at seq 28). */
    {
        struct ldg_view_opts o;
        json_t *v = NULL;
        memset(&o, 0, sizeof o);
        assert_int_equal(ldg_projections_view(ro, LDG_VIEW_ROUTES, &o, &v), 0);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(v, 0), "readiness")),
                            "fallback-active");
        json_decref(v);
    }
    ldg_close(ro);
    l = reopen(dir, 0);
    assert_int_equal(ldg_projections_attach(l), 0);
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_int_equal(ndiff, 0);
    json_decref(diffs);
    assert_int_equal(ldg_projections_list(l, 0, &list), 0);
    assert_true(
        json_is_true(json_object_get(list_row(list, "routes"), "current")));
    json_decref(list);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_engine__erasing_a_grant_replays_without_it(void **state)
{
    char dir[256], path[1024];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *diffs = NULL;
    uint64_t ndiff = 9;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/scenarios/erasure.jsonl",
             src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 12);
    assert_string_equal(pack_state(l, "p"), "ready");
    append_range(l, path, 12, 13); /* erases the grant's body (seq 6) */
    assert_string_equal(pack_state(l, "p"), "awaiting-permissions");
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_int_equal(ndiff, 0);
    json_decref(diffs);
    ldg_close(l);
    t_rmrf(dir);
}

/* Readers on threads of one handle at layout 9, its tail not applied:
 * each read replays the tail, the projections folding it (their caches
 * are the handle's); the replays take turns. Two at once freed each
 * other's cache (ASan: heap-use-after-free in verify's workers). */
static void *
reads(void *arg)
{
    struct ldg_ledger *l = arg;
    uint64_t size;
    for (int i = 0; i < 150; i++)
        if (ldg_size(l, &size) != 0 || size != 101)
            return (void *)1;
    return NULL;
}

static void
test_engine__readers_on_threads_replay_the_tail_in_turn(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 9);
    struct ldg_stats st;
    pthread_t th[6];
    void *bad;
    (void)state;

    assert_int_equal(ldg_projections_attach(l), 0);
    for (int i = 0; i < 100; i++) /* lone acks: a tail of 100 */
        t_append(l, "runtime.health", "{\"runtime\":\"r\",\"status\":\"up\"}",
                 NULL);
    assert_int_equal(ldg_stats(l, &st), 0);
    assert_int_equal(st.intake_events, 100);
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reads, l), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_null(bad);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* (layout 8: a note a commit; at layout 9 an application of the intake's
 * tail stores one, FORMAT.md 12.6) */
static void
test_engine__every_commit_signs_a_note_of_the_digests(void **state)
{
    char dir[256], path[1024], want[200];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    json_t *list = NULL, *x;
    char *note = NULL;
    size_t text_len, i;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 1000);
    for (uint64_t size = 2; size <= 32; size++) {
        assert_int_equal(ldg_projections_note(l, size, &note), 0);
        assert_int_equal(ldg_log_verify_note(l, note, strlen(note), &text_len),
                         0);
        snprintf(want, sizeof want, "size %llu\n", (unsigned long long)size);
        assert_non_null(strstr(note, want));
        free(note);
    }
    /* The latest note binds the digests the store has now. */
    assert_int_equal(ldg_projections_note(l, 0, &note), 0);
    assert_int_equal(ldg_projections_list(l, 0, &list), 0);
    json_array_foreach(list, i, x)
    {
        snprintf(want, sizeof want, "%s %lld %s\n",
                 json_string_value(json_object_get(x, "name")),
                 (long long)json_integer_value(json_object_get(x, "version")),
                 json_string_value(json_object_get(x, "digest")));
        assert_non_null(strstr(note, want));
    }
    /* A changed note does not verify. */
    note[strlen("ledger-projections/v1\norigin ") + 2] ^= 1;
    assert_int_not_equal(ldg_log_verify_note(l, note, strlen(note), &text_len),
                         0);
    free(note);
    json_decref(list);
    assert_int_equal(ldg_projections_note(l, 999, &note), LDG_ENOTFOUND);
    ldg_close(l);
    t_rmrf(dir);
}

/* Stores text, signed by the log key, as the projection note of size. */
static void
put_note(struct ldg_ledger *l, uint64_t size, const char *text)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    char *note = NULL;
    uint8_t k[8];
    assert_int_equal(ldg_log_sign_note(l, text, strlen(text), &note), 0);
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(size >> (56 - 8 * i));
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.notes", 0, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, k, 8, note, strlen(note)), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    free(note);
}

/* The differences check_stored names of the note at the state's size. */
static int
note_findings(struct ldg_ledger *l)
{
    json_t *d = NULL, *x;
    uint64_t n = 0;
    unsigned checked = 0;
    size_t i;
    int k = 0;
    assert_int_equal(
        ldg_projections_check_stored(l, NULL, NULL, &d, &n, &checked), 0);
    json_array_foreach(d, i, x) k +=
        strcmp(json_string_value(json_object_get(x, "projection")), "notes") ==
        0;
    json_decref(d);
    return k;
}

/* A note signed when a projection's code was at another version states
 * that version's fold: it is not a difference once the projection is at
 * a new version and folded anew (issue 46: bumping a version made every
 * ledger's verify --full fail on its last note); the same version with
 * another digest is one, and so is the doctor's line when the versions
 * are the same. */
static void
test_engine__a_note_of_another_version_is_not_a_difference(void **state)
{
    char dir[256], path[1024], *note = NULL, *text, *m, *e;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    size_t tlen;
    uint64_t size;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 1000);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(ldg_projections_note(l, size, &note), 0);
    assert_int_equal(ldg_log_verify_note(l, note, strlen(note), &tlen), 0);
    text = strndup(note, tlen);
    free(note);
    assert_non_null(text);
    assert_int_equal(note_findings(l), 0);
    m = strstr(text, "\nmodels ");
    assert_non_null(m);
    m += strlen("\nmodels ");
    e = strchr(m, ' ');
    assert_non_null(e);
    /* another version of models, another digest: not a difference */
    {
        char *t2 = strdup(text);
        t2[m - text] = t2[m - text] == '9' ? '8' : '9';
        t2[(e - text) + 1] = t2[(e - text) + 1] == 'a' ? 'b' : 'a';
        put_note(l, size, t2);
        assert_int_equal(note_findings(l), 0);
        free(t2);
    }
    /* the same version, another digest: a difference */
    {
        char *t2 = strdup(text);
        t2[(e - text) + 1] = t2[(e - text) + 1] == 'a' ? 'b' : 'a';
        put_note(l, size, t2);
        assert_int_equal(note_findings(l), 1);
        free(t2);
    }
    /* every version the same, the doctor's digest another: a difference */
    {
        char *t2 = strdup(text), *d = strstr(t2, "\ndoctor ");
        assert_non_null(d);
        d = strchr(d + 8, ' ') + 1;
        *d = *d == 'a' ? 'b' : 'a';
        put_note(l, size, t2);
        assert_int_equal(note_findings(l), 1);
        free(t2);
    }
    put_note(l, size, text);
    assert_int_equal(note_findings(l), 0);
    free(text);
    ldg_close(l);
    t_rmrf(dir);
}

/* Writes a bogus record straight into proj.packs (behind the applier's
 * back): the stored state then differs from what the log gives. */
static void
tamper(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.packs", 0, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, "pforged", 7,
                                "\x08"
                                "forged",
                                7),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
test_engine__check_names_a_forged_record_and_rebuild_drops_it(void **state)
{
    char dir[256], path[1024];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *diffs = NULL, *rep = NULL, *x;
    uint64_t ndiff = 0;
    size_t i;
    int saw = 0;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 1000);
    tamper(l);
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_true(ndiff >= 1);
    json_array_foreach(diffs, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "key")), "p:forged") ==
            0) {
            assert_string_equal(json_string_value(json_object_get(x, "what")),
                                "only in the store");
            saw = 1;
        }
    }
    assert_true(saw);
    json_decref(diffs);
    assert_int_equal(ldg_projections_rebuild(l, ldg_projections_bit("packs"),
                                             NULL, NULL, &rep),
                     0);
    assert_int_equal(json_array_size(rep), 1);
    assert_true(
        json_is_true(json_object_get(json_array_get(rep, 0), "changed")));
    json_decref(rep);
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_int_equal(ndiff, 0);
    json_decref(diffs);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_engine__a_record_that_does_not_decode_is_rebuilt_not_trusted(void **state)
{
    char dir[256], path[1024];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    json_t *diffs = NULL, *v = NULL;
    struct ldg_view_opts o;
    uint64_t ndiff = 9;
    ldg_dbi dbi;
    (void)state;

    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src_dir());
    assert_int_equal(ldg_projections_attach(l), 0);
    append_lines(l, path, 1000);
    /* garble the run record the next append will touch */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.runs", 0, &dbi), 0);
    assert_int_equal(ldg_kv_put(t, dbi, "uR-0001", 7, "\xff\xff", 2), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    t_append(l, "run.step",
             "{\"run\":\"R-0001\",\"step\":\"late\",\"tool\":\"t\","
             "\"status\":\"failed\"}",
             NULL);
    assert_int_equal(ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff),
                     0);
    assert_int_equal(ndiff, 0);
    json_decref(diffs);
    memset(&o, 0, sizeof o);
    o.filter = "R-0001";
    assert_int_equal(ldg_projections_view(l, LDG_VIEW_RUNS, &o, &v), 0);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(v, 0), "steps"), "failed")),
        1);
    json_decref(v);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_engine__killed_rebuild_leaves_old_or_new_state_whole(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct rng r = {42};
    (void)state;

    assert_int_equal(ldg_projections_attach(l), 0);
    append_random(l, &r, 3000);
    ldg_close(l);
    for (int round = 0; round < 6; round++) {
        struct ldg_verify_report vr;
        json_t *diffs = NULL, *x;
        uint64_t ndiff = 0;
        size_t i;
        int status;
        pid_t pid;

        l = reopen(dir, 0);
        tamper(l);
        ldg_close(l);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct ldg_ledger *c = reopen(dir, 0);
            for (;;)
                if (ldg_projections_rebuild(c, 0, NULL, NULL, NULL) != 0)
                    _exit(1);
        }
        /* Kill it somewhere along the way: before, during or after a
         * commit. The outcome must be whole either way. */
        usleep((useconds_t)(next(&r) % 400000));
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        l = reopen(dir, 0);
        assert_int_equal(
            ldg_projections_check(l, 0, NULL, NULL, &diffs, &ndiff), 0);
        /* Old state: the forged record. New state: nothing. Never
         * anything else. */
        json_array_foreach(diffs, i, x)
        {
            const char *k = json_string_value(json_object_get(x, "key"));
            assert_non_null(k);
            assert_string_equal(k, "p:forged");
        }
        assert_true(ndiff <= 1);
        json_decref(diffs);
        memset(&vr, 0, sizeof vr);
        assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                    &vr, NULL, NULL),
                         0);
        ldg_close(l);
    }
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine__incremental_equals_rebuild_seed_1),
        cmocka_unit_test(test_engine__incremental_equals_rebuild_seed_2),
        cmocka_unit_test(test_engine__incremental_equals_rebuild_seed_3),
        cmocka_unit_test(test_engine__at_equals_a_ledger_that_stopped_there),
        cmocka_unit_test(test_engine__doctor_each_is_the_view_at_each_size),
        cmocka_unit_test(
            test_engine__permissions_at_equal_a_ledger_that_stopped_there),
        cmocka_unit_test(
            test_engine__pipeline_views_at_equal_a_ledger_that_stopped_there),
        cmocka_unit_test(test_engine__other_version_is_rebuilt_and_never_used),
        cmocka_unit_test(
            test_engine__appender_without_projections_is_caught_up),
        cmocka_unit_test(test_engine__erasing_a_grant_replays_without_it),
        cmocka_unit_test(test_engine__every_commit_signs_a_note_of_the_digests),
        cmocka_unit_test(test_engine__readers_on_threads_replay_the_tail_in_turn),
        cmocka_unit_test(
            test_engine__a_note_of_another_version_is_not_a_difference),
        cmocka_unit_test(
            test_engine__check_names_a_forged_record_and_rebuild_drops_it),
        cmocka_unit_test(
            test_engine__a_record_that_does_not_decode_is_rebuilt_not_trusted),
        cmocka_unit_test(
            test_engine__killed_rebuild_leaves_old_or_new_state_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
