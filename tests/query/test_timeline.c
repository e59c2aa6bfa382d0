/*
 * test_timeline.c — the flight-recorder view of a run (query/timeline.c):
 * start, steps, route decisions, policy decisions with denials, the end,
 * what was in force at the start, relative times, erased bodies, a run
 * with no run.started, and an unknown run.
 */
#include "tests/query/qtest.h"

struct fx {
    char dir[512];
    struct ldg_ledger *l;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    q_load_pdf_ops(f->l);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static json_t *
timeline(struct ldg_ledger *l, const char *run, int want_rc)
{
    struct ldg_txn *t;
    json_t *tl = NULL;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_timeline(t, run, &tl), want_rc);
    ldg_txn_abort(t);
    return tl;
}

static const char *
s(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t
count(const json_t *tl, const char *k)
{
    return json_integer_value(
        json_object_get(json_object_get(tl, "counts"), k));
}

static void
test_timeline__run_events_in_order_with_kinds(void **state)
{
    struct fx *f = *state;
    json_t *tl = timeline(f->l, "R-0001", 0), *ev = json_array(), *e;
    static const char *const kinds[] = {"start",  "policy", "step", "route",
                                        "policy", "route",  "step", "end"};
    static const char *const seqs[] = {"23", "24", "25", "26",
                                       "27", "29", "30", "31"};
    size_t k;
    /* the run's own events; the context is checked in the next test */
    json_array_foreach(json_object_get(tl, "events"), k,
                       e) if (strcmp(s(e, "kind"), "context") != 0)
        json_array_append(ev, e);
    assert_string_equal(s(tl, "run"), "R-0001");
    assert_string_equal(s(tl, "pack"), "pdf-ops");
    assert_string_equal(s(tl, "status"), "ok");
    assert_int_equal(json_array_size(ev), 8);
    for (size_t i = 0; i < 8; i++) {
        json_t *x = json_array_get(ev, i);
        assert_string_equal(s(x, "kind"), kinds[i]);
        assert_string_equal(s(x, "seq"), seqs[i]);
        assert_true(json_is_integer(json_object_get(x, "rel_us")));
        assert_true(json_integer_value(json_object_get(x, "rel_us")) >= 0);
        assert_non_null(json_object_get(x, "body"));
    }
    /* the denial stands out */
    assert_true(json_is_true(json_object_get(json_array_get(ev, 4), "denied")));
    assert_true(
        json_is_false(json_object_get(json_array_get(ev, 1), "denied")));
    assert_string_equal(s(json_object_get(tl, "start"), "seq"), "23");
    assert_string_equal(s(json_object_get(tl, "end"), "seq"), "31");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(tl, "end"), "duration_ms")),
                     2310);
    assert_int_equal(count(tl, "events"), 8);
    assert_int_equal(count(tl, "steps"), 2);
    assert_int_equal(count(tl, "route_decisions"), 2);
    assert_int_equal(count(tl, "fallbacks"), 1);
    assert_int_equal(count(tl, "policy_decisions"), 2);
    assert_int_equal(count(tl, "denials"), 1);
    json_decref(ev);
    json_decref(tl);
}

/* Context: the runtime's health and its routes' models' states before
 * the start, and the primary going offline (#28) between the decisions
 * it explains (#26, #29); nothing of other runs or after the end. */
static void
test_timeline__context_explains_the_fallback(void **state)
{
    struct fx *f = *state;
    json_t *tl = timeline(f->l, "R-0001", 0), *e;
    static const char *const seqs[] = {"3", "6", "7", "28"};
    static const char *const types[] = {"runtime.health", "model.state",
                                        "model.state", "model.state"};
    size_t k, n = 0, at28 = 0, at29 = 0;
    json_array_foreach(json_object_get(tl, "events"), k, e)
    {
        if (strcmp(s(e, "seq"), "29") == 0)
            at29 = k;
        if (strcmp(s(e, "kind"), "context") != 0)
            continue;
        assert_true(n < 4);
        assert_string_equal(s(e, "seq"), seqs[n]);
        assert_string_equal(s(e, "type"), types[n]);
        assert_int_equal(json_is_true(json_object_get(e, "before_start")),
                         n < 3);
        if (n == 3) {
            at28 = k;
            assert_string_equal(s(json_object_get(e, "body"), "state"),
                                "offline");
        }
        n++;
    }
    assert_int_equal(n, 4);
    assert_true(at28 + 1 == at29); /* just before the fallback */
    assert_int_equal(count(tl, "context"), 4);
    assert_int_equal(count(tl, "events"), 8);
    json_decref(tl);
}

static void
test_timeline__permissions_and_evals_in_force_at_the_start(void **state)
{
    struct fx *f = *state;
    json_t *tl = timeline(f->l, "R-0001", 0), *p, *e, *x;
    size_t i;
    int denied = 0, granted = 0, extract = 0, summarize = 0;

    p = json_object_get(tl, "permissions");
    assert_int_equal(json_array_size(p), 4);
    json_array_foreach(p, i, x)
    {
        if (strcmp(s(x, "state"), "denied") == 0) {
            denied++;
            assert_string_equal(s(x, "group"), "net.egress");
            assert_string_equal(s(x, "tier"), "T3"); /* from the request */
        } else {
            assert_string_equal(s(x, "state"), "granted");
            granted++;
        }
    }
    assert_int_equal(denied, 1);
    assert_int_equal(granted, 3);
    e = json_object_get(tl, "evals");
    json_array_foreach(e, i, x)
    {
        if (strcmp(s(x, "target"), "route:pdf-ops/extract") == 0) {
            extract++;
            assert_string_equal(s(x, "eval_id"), "E-1");
            assert_true(json_is_true(json_object_get(x, "passed")));
        } else if (strcmp(s(x, "target"), "route:pdf-ops/summarize") == 0) {
            summarize++;
            assert_true(json_is_true(json_object_get(x, "none")));
        }
    }
    assert_int_equal(extract, 1);
    assert_int_equal(summarize, 1);
    assert_string_equal(s(json_object_get(tl, "pack_version"), "version"),
                        "0.3.1");
    json_decref(tl);
}

static void
test_timeline__later_grants_are_not_in_force_at_the_start(void **state)
{
    struct fx *f = *state;
    json_t *tl, *p, *x;
    size_t i;
    /* granted after the run started: the snapshot still says denied */
    q_append(f->l, "permission.granted", NULL, NULL, NULL,
             "{\"pack\":\"pdf-ops\",\"group\":\"net.egress\","
             "\"scope\":\"api.example.invalid\",\"by\":\"admin\"}");
    tl = timeline(f->l, "R-0001", 0);
    p = json_object_get(tl, "permissions");
    json_array_foreach(p, i, x) if (strcmp(s(x, "group"), "net.egress") == 0)
        assert_string_equal(s(x, "state"), "denied");
    json_decref(tl);
}

/* The permissions in force are the projections' rule, expiry included
 * (the library once read the latest permission event per group and
 * scope itself, and called a grant that had expired "granted"). */
static void
test_timeline__expired_grant_is_not_in_force(void **state)
{
    struct fx *f = *state;
    json_t *tl, *x;
    size_t i;
    int seen = 0;
    q_append(f->l, "permission.granted", NULL, NULL, NULL,
             "{\"pack\":\"pdf-ops\",\"group\":\"net.egress\","
             "\"scope\":\"api.example.invalid\",\"by\":\"admin\","
             "\"expires\":\"2020-01-01T00:00:00Z\"}");
    q_append(f->l, "run.started", "run:R-3", NULL, NULL,
             "{\"run\":\"R-3\",\"pack\":\"pdf-ops\"}");
    tl = timeline(f->l, "R-3", 0);
    json_array_foreach(json_object_get(tl, "permissions"), i, x)
    {
        if (strcmp(s(x, "group"), "net.egress") != 0)
            continue;
        assert_string_equal(s(x, "state"), "expired");
        seen = 1;
    }
    assert_true(seen);
    /* the rows are the permissions view's, as `ledger permissions` has */
    assert_string_equal(
        s(json_array_get(json_object_get(tl, "permissions"), 0), "pack"),
        "pdf-ops");
    json_decref(tl);
}

static void
test_timeline__text_view_marks_denials_and_fallbacks(void **state)
{
    struct fx *f = *state;
    json_t *tl = timeline(f->l, "R-0001", 0);
    char *text = NULL;
    assert_int_equal(ldg_query_timeline_text(tl, &text), 0);
    assert_non_null(strstr(text, "run R-0001  pack pdf-ops 0.3.1"));
    assert_non_null(strstr(text, "status ok in 2.310s"));
    assert_non_null(strstr(text, "DENY"));
    assert_non_null(strstr(text, "! DENIED"));
    assert_non_null(strstr(text, "FALLBACK"));
    assert_non_null(strstr(text, "read-pdfs"));
    assert_non_null(strstr(text, "412ms"));
    assert_non_null(strstr(text, "invoices.txt"));
    assert_non_null(strstr(text, "no eval before the start"));
    assert_non_null(strstr(text, "1 denied"));
    free(text);
    json_decref(tl);
}

static void
test_timeline__run_without_start_erased_and_unfinished(void **state)
{
    struct fx *f = *state;
    json_t *tl, *ev;
    uint64_t a;
    a = q_append(f->l, "run.step", NULL, NULL, NULL,
                 "{\"run\":\"R-2\",\"step\":\"s1\",\"tool\":\"t\","
                 "\"status\":\"failed\"}");
    q_append(f->l, "route.decision", NULL, NULL, NULL,
             "{\"run\":\"R-2\",\"route\":\"r\",\"chosen_model\":\"m\"}");
    {
        char b[96];
        snprintf(b, sizeof b, "{\"target_seq\":%llu,\"reason\":\"t\"}",
                 (unsigned long long)a);
        q_append(f->l, "body.erased", NULL, NULL, NULL, b);
    }
    tl = timeline(f->l, "R-2", 0);
    /* no run.started: what `ledger runs` says of it too (issue 46) */
    assert_string_equal(s(tl, "status"), "not-started");
    assert_true(json_is_null(json_object_get(tl, "start")));
    assert_true(json_is_null(json_object_get(tl, "end")));
    assert_true(json_is_null(json_object_get(tl, "pack")));
    assert_int_equal(count(tl, "events"), 2);
    ev = json_object_get(tl, "events");
    {
        size_t k, own = 0;
        json_t *e;
        json_array_foreach(ev, k, e)
        {
            if (strcmp(s(e, "kind"), "context") == 0)
                continue;
            if (own++ == 0)
                assert_true(json_is_true(json_object_get(e, "erased")));
        }
        assert_int_equal(own, 2);
    }
    json_decref(tl);
}

static void
test_timeline__unknown_run_is_not_found(void **state)
{
    struct fx *f = *state;
    json_t *tl = timeline(f->l, "R-nope", LDG_ENOTFOUND);
    assert_null(tl);
    assert_non_null(strstr(ldg_errmsg(f->l), "R-nope"));
    tl = timeline(f->l, "", LDG_EBADINPUT);
    assert_null(tl);
}

static uint64_t
append_at(struct ldg_ledger *l, const char *type, const char *body,
          int has_time, uint64_t time_ns)
{
    struct ldg_source src = {1000, 100, 4242, NULL, "agent.service"};
    struct ldg_event_in in;
    uint64_t seq = 0;
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = json_loads(body, 0, NULL);
    assert_non_null(in.body);
    in.has_time = has_time;
    in.time_ns = time_ns;
    in.source = &src;
    if (ldg_append(l, &in, &seq) != 0)
        fail_msg("append %s: %s", type, ldg_errmsg(l));
    json_decref(in.body);
    return seq;
}

/* Every event of the run carries the source's time: the steps are laid
 * out and ordered by it (a batch ingested at once is not all at +0.000s),
 * "ts"/"time" are the source's, "recorded_ts" the ledger's; the source
 * shows beside the signer in the text. */
static void
test_timeline__source_clock_orders_and_times_the_run(void **state)
{
    struct fx *f = *state;
    const uint64_t t0 = 1767225600000000000ull;
    uint64_t s0, s1, s2, s3;
    json_t *tl, *ev;
    char *text = NULL, want[32];

    s0 = append_at(f->l, "run.started",
                   "{\"run\":\"R-src\",\"pack\":\"pdf-ops\","
                   "\"requested_by\":\"alice\"}",
                   1, t0);
    s1 = append_at(f->l, "run.step",
                   "{\"run\":\"R-src\",\"step\":\"second\",\"tool\":\"t\","
                   "\"tier\":\"T1\",\"status\":"
                   "\"ok\"}",
                   1, t0 + 3000000000ull);
    s2 = append_at(f->l, "run.step",
                   "{\"run\":\"R-src\",\"step\":\"first\",\"tool\":\"t\","
                   "\"tier\":\"T1\",\"status\":"
                   "\"ok\"}",
                   1, t0 + 1000000000ull);
    s3 =
        append_at(f->l, "run.finished", "{\"run\":\"R-src\",\"status\":\"ok\"}",
                  1, t0 + 5000000000ull);
    tl = timeline(f->l, "R-src", 0);
    assert_string_equal(s(tl, "clock"), "source");
    assert_int_equal(json_integer_value(json_object_get(tl, "span_us")),
                     5000000);
    {
        const uint64_t order[] = {s0, s2, s1, s3};
        const json_int_t rel[] = {0, 1000000, 3000000, 5000000};
        size_t n = 0, i;
        json_array_foreach(json_object_get(tl, "events"), i, ev)
        {
            if (strcmp(s(ev, "kind"), "context") == 0)
                continue;
            assert_true(n < 4);
            snprintf(want, sizeof want, "%llu", (unsigned long long)order[n]);
            assert_string_equal(s(ev, "seq"), want);
            assert_int_equal(json_integer_value(json_object_get(ev, "rel_us")),
                             rel[n]);
            assert_string_equal(s(ev, "clock"), "source");
            assert_true(strcmp(s(ev, "ts"), s(ev, "recorded_ts")) != 0);
            assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(ev, "source"), "uid")),
                             1000);
            n++;
        }
        assert_int_equal(n, 4);
    }
    snprintf(want, sizeof want, "%llu", (unsigned long long)t0);
    assert_string_equal(s(json_object_get(tl, "start"), "ts"), want);
    assert_int_equal(ldg_query_timeline_text(tl, &text), 0);
    assert_non_null(strstr(
        text,
        "(times from the start: the source's clock, which puts the start at "));
    assert_non_null(strstr(text, "by=alice  signer="));
    assert_non_null(strstr(text, " source=uid 1000 pid 4242 agent.service"));
    assert_non_null(strstr(text, "+1.000s"));
    free(text);
    json_decref(tl);

    /* one event without a source time: the ledger's clock for the run */
    append_at(f->l, "run.started", "{\"run\":\"R-mix\",\"pack\":\"p\"}", 1, t0);
    append_at(f->l, "run.step",
              "{\"run\":\"R-mix\",\"step\":\"s\",\"tool\":\"t\",\"tier\":"
              "\"T1\",\"status\":\"ok\"}",
              0, 0);
    tl = timeline(f->l, "R-mix", 0);
    assert_string_equal(s(tl, "clock"), "ledger");
    {
        size_t i, steps = 0;
        json_array_foreach(json_object_get(tl, "events"), i, ev)
        {
            if (strcmp(s(ev, "kind"), "step") != 0)
                continue;
            assert_string_equal(s(ev, "clock"), "ledger");
            assert_string_equal(s(ev, "ts"), s(ev, "recorded_ts"));
            steps++;
        }
        assert_int_equal(steps, 1);
    }
    json_decref(tl);
}

/* issue 29: on the source's clock the context is placed on it too: a
 * revocation that claims a time 10 s into the run is at +10.000s, before
 * the denial it caused (it was at +0.000s, the ledger's time of a batch),
 * and a context event that claims no time comes right after the run event
 * before it in the log. The header's start time is the ledger's, as
 * `runs` and `query` show it, with the source's claim beside it. */
static void
test_timeline__context_on_the_source_clock(void **state)
{
    struct fx *f = *state;
    const uint64_t t0 = 1767225600000000000ull, sec = 1000000000ull;
    uint64_t s0, s1, rv, dn, gr, s3;
    json_t *tl, *ev;
    char *text = NULL, sq[24];
    const char *want_seq[6];
    const json_int_t want_rel[] = {0,        5000000,  5000000,
                                   10000000, 11000000, 12000000};
    char seqs[6][24];
    size_t i, n = 0;

    s0 = append_at(f->l, "run.started", "{\"run\":\"R-ctx\",\"pack\":\"cx\"}",
                   1, t0);
    s1 = append_at(f->l, "run.step",
                   "{\"run\":\"R-ctx\",\"step\":\"fetch\",\"tool\":\"t\","
                   "\"status\":\"ok\"}",
                   1, t0 + 5 * sec);
    gr = append_at(f->l, "permission.granted",
                   "{\"pack\":\"cx\",\"group\":\"fs.read\",\"scope\":\"/x\","
                   "\"by\":\"admin\"}",
                   0, 0);
    rv = append_at(f->l, "permission.revoked",
                   "{\"pack\":\"cx\",\"group\":\"net.egress\",\"scope\":"
                   "\"api\",\"by\":\"admin\",\"reason\":\"leak\"}",
                   1, t0 + 10 * sec);
    dn = append_at(f->l, "run.policy",
                   "{\"run\":\"R-ctx\",\"decision\":\"deny\",\"rule\":"
                   "\"net.egress\"}",
                   1, t0 + 11 * sec);
    s3 = append_at(f->l, "run.finished",
                   "{\"run\":\"R-ctx\",\"status\":\"failed\"}", 1,
                   t0 + 12 * sec);
    tl = timeline(f->l, "R-ctx", 0);
    assert_string_equal(s(tl, "clock"), "source");
    {
        const uint64_t order[] = {s0, s1, gr, rv, dn, s3};
        for (i = 0; i < 6; i++) {
            snprintf(seqs[i], sizeof seqs[i], "%llu",
                     (unsigned long long)order[i]);
            want_seq[i] = seqs[i];
        }
    }
    json_array_foreach(json_object_get(tl, "events"), i, ev)
    {
        size_t k;
        for (k = 0; k < 6 && strcmp(s(ev, "seq"), want_seq[k]) != 0; k++)
            ;
        if (k == 6)
            continue; /* context of the fixture's own (runtime.health) */
        assert_true(n < 6);
        assert_string_equal(s(ev, "seq"), want_seq[n]);
        assert_int_equal(json_integer_value(json_object_get(ev, "rel_us")),
                         want_rel[n]);
        n++;
    }
    assert_int_equal(n, 6);
    assert_int_equal(ldg_query_timeline_text(tl, &text), 0);
    snprintf(sq, sizeof sq, "#%llu", (unsigned long long)rv);
    assert_non_null(strstr(strstr(text, "+10.000s"), sq));
    {
        /* the header: the ledger's time of the start, the claim beside */
        char ledger_when[32];
        uint64_t rts =
            strtoull(s(json_object_get(tl, "start"), "recorded_ts"), NULL, 10);
        ldg_time_local(ledger_when, sizeof ledger_when, rts);
        assert_non_null(strstr(text, "started "));
        assert_non_null(strstr(strstr(text, "started "), ledger_when));
        assert_non_null(strstr(text, "which puts the start at "));
    }
    free(text);
    json_decref(tl);
}

/* A trace: an agent span, its chat span, the HTTP client span under
 * that (not exported as a model call), and the proxy's record naming the
 * HTTP span as its caller; a second call the proxy saw with other
 * tokens. */
#define TR "5b8efff798038103d269b633813fc60c"
static void
test_timeline__spans_as_a_tree_and_the_proxy_joined(void **state)
{
    struct fx *f = *state;
    json_t *tl, *e, *by[16] = {0};
    struct ldg_txn *t;
    size_t i;
    char *text = NULL;
    q_append(f->l, "otel.span", NULL, TR, NULL,
             "{\"name\":\"invoke_agent\",\"trace_id\":\"" TR "\","
             "\"span_id\":\"0000000000000001\"}");
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"tokens_in\":5,"
             "\"tokens_out\":7,\"outcome\":\"ok\",\"trace_id\":\"" TR "\","
             "\"span_id\":\"0000000000000002\",\"parent_span_id\":"
             "\"0000000000000001\"}");
    q_append(f->l, "otel.span", NULL, TR, NULL,
             "{\"name\":\"POST\",\"kind\":\"client\",\"trace_id\":\"" TR
             "\",\"span_id\":\"0000000000000003\",\"parent_span_id\":"
             "\"0000000000000002\"}");
    /* the proxy: the same call, agreeing */
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"tokens_in\":5,"
             "\"tokens_out\":7,\"outcome\":\"ok\",\"upstream\":\"ollama\","
             "\"trace_id\":\"" TR
             "\",\"parent_span_id\":\"0000000000000003\"}");
    /* a second chat, and the proxy disagreeing on its tokens */
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"tokens_out\":7,"
             "\"outcome\":\"ok\",\"trace_id\":\"" TR "\",\"span_id\":"
             "\"0000000000000004\",\"parent_span_id\":\"0000000000000001\"}");
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:2\",\"tokens_out\":9,"
             "\"outcome\":\"ok\",\"upstream\":\"ollama\",\"trace_id\":\"" TR
             "\",\"parent_span_id\":\"0000000000000004\"}");
    /* the proxy's record of another trace: joined to nothing */
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"upstream\":"
             "\"ollama\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\","
             "\"parent_span_id\":\"0000000000000004\"}");
    tl = timeline(f->l, TR, 0);
    size_t k = 0;
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        if (strcmp(s(e, "kind"), "context") != 0 && k < 16)
            by[k++] = e; /* (the runtime's health before it is context) */
    }
    assert_int_equal(k, 7);
    assert_int_equal(json_integer_value(json_object_get(by[0], "depth")), 0);
    assert_int_equal(json_integer_value(json_object_get(by[1], "depth")), 1);
    assert_int_equal(json_integer_value(json_object_get(by[2], "depth")), 2);
    assert_string_equal(s(by[0], "kind"), "span");
    /* the proxy's record sits under the chat span it witnessed */
    json_t *j = json_object_get(by[3], "joined");
    assert_non_null(j);
    assert_string_equal(s(j, "seq"), s(by[1], "seq"));
    assert_true(json_is_true(json_object_get(j, "agree")));
    assert_int_equal(json_integer_value(json_object_get(by[3], "depth")), 2);
    assert_true(
        json_equal(json_array_get(json_object_get(by[1], "witnesses"), 0),
                   json_object_get(by[3], "seq")));
    j = json_object_get(by[5], "joined");
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(j, "agree")));
    char *d = json_dumps(json_object_get(j, "differs"), JSON_COMPACT);
    assert_string_equal(d, "[{\"field\":\"chosen_model\",\"app\":\"m:1\","
                           "\"proxy\":\"m:2\"},{\"field\":\"tokens_out\","
                           "\"app\":7,\"proxy\":9}]");
    free(d);
    assert_null(json_object_get(by[6], "joined"));
    assert_int_equal(count(tl, "joined"), 2);
    assert_int_equal(count(tl, "joined_disagree"), 1);
    assert_int_equal(count(tl, "spans"), 2);
    assert_int_equal(ldg_query_timeline_text(tl, &text), 0);
    assert_non_null(strstr(text, "they agree"));
    assert_non_null(strstr(text, "they DISAGREE: chosen_model \"m:1\" (app) "
                                 "vs \"m:2\" (proxy), tokens_out 7 (app) vs "
                                 "9 (proxy)"));
    assert_non_null(strstr(text, "2 model calls seen by both"));
    free(text);
    json_decref(tl);
    /* by trace: the same events, and not those of another trace */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_timeline_trace(t, TR, &tl), 0);
    assert_int_equal(count(tl, "events"), 6); /* not the other trace's */
    assert_string_equal(s(tl, "trace"), TR);
    json_decref(tl);
    assert_int_equal(ldg_query_timeline_trace(t, "5b8e", &tl), LDG_EBADINPUT);
    assert_int_equal(
        ldg_query_timeline_trace(t, "ffffffffffffffffffffffffffffffff", &tl),
        LDG_ENOTFOUND);
    ldg_txn_abort(t);
}

/* serve --otlp-run session.id: the application's spans are in the
 * session's run, the proxy's records of its calls in the trace's; the
 * session's timeline brings in the record whose caller is one of its
 * spans (joined), not the trace's others. */
static void
test_timeline__the_proxy_joined_from_the_trace_s_run(void **state)
{
    struct fx *f = *state;
    json_t *tl, *e;
    size_t i, k = 0, joined = 0;
    char *text = NULL;
    q_append(f->l, "otel.span", NULL, "sess-1", NULL,
             "{\"name\":\"invoke_agent\",\"trace_id\":\"" TR "\","
             "\"span_id\":\"0000000000000001\"}");
    /* the proxy records before the application exports its spans */
    uint64_t px =
        q_append(f->l, "route.decision", NULL, TR, NULL,
                 "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"tokens_in\":5,"
                 "\"outcome\":\"ok\",\"upstream\":\"ollama\",\"trace_id\":\"" TR
                 "\",\"parent_span_id\":\"0000000000000002\"}");
    q_append(f->l, "route.decision", NULL, "sess-1", NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"tokens_in\":5,"
             "\"outcome\":\"ok\",\"trace_id\":\"" TR "\",\"span_id\":"
             "\"0000000000000002\",\"parent_span_id\":\"0000000000000001\"}");
    /* the trace's other calls: another session's span, its proxy record */
    q_append(f->l, "route.decision", NULL, "sess-2", NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"trace_id\":\"" TR
             "\",\"span_id\":\"0000000000000009\"}");
    q_append(f->l, "route.decision", NULL, TR, NULL,
             "{\"route\":\"m\",\"chosen_model\":\"m:1\",\"upstream\":"
             "\"ollama\",\"trace_id\":\"" TR "\",\"parent_span_id\":"
             "\"0000000000000009\"}");
    /* a span appended by hand with a trace id no trace= term takes */
    q_append(f->l, "otel.span", NULL, "sess-1", NULL,
             "{\"name\":\"by hand\",\"trace_id\":\"XYZ\",\"span_id\":\"1\"}");
    tl = timeline(f->l, "sess-1", 0);
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        if (strcmp(s(e, "kind"), "context") == 0)
            continue;
        k++;
        if (json_object_get(e, "joined") != NULL) {
            joined++;
            assert_int_equal(strtoull(s(e, "seq"), NULL, 10), px);
            assert_string_equal(s(e, "run"), TR); /* where it is */
            assert_int_equal(json_integer_value(json_object_get(e, "depth")),
                             2);
        }
    }
    assert_int_equal(k, 4); /* the three spans and the one witness */
    assert_int_equal(joined, 1);
    assert_int_equal(count(tl, "joined"), 1);
    assert_int_equal(count(tl, "joined_disagree"), 0);
    assert_int_equal(ldg_query_timeline_text(tl, &text), 0);
    assert_non_null(strstr(text, "they agree"));
    free(text);
    json_decref(tl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_timeline__run_events_in_order_with_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__spans_as_a_tree_and_the_proxy_joined, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__the_proxy_joined_from_the_trace_s_run, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__context_on_the_source_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__context_explains_the_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__permissions_and_evals_in_force_at_the_start, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__later_grants_are_not_in_force_at_the_start, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__expired_grant_is_not_in_force, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__text_view_marks_denials_and_fallbacks, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__run_without_start_erased_and_unfinished, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_timeline__unknown_run_is_not_found,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_timeline__source_clock_orders_and_times_the_run, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
