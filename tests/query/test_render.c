/*
 * test_render.c — output modes (query/render.c): json has exactly the
 * shape of `ledger show -o json` (checked against ldg_query_event_json),
 * json-pretty parses to the same object, short/verbose/cat carry what they
 * promise, erased bodies render as erased in every mode.
 */
#include "tests/query/qtest.h"

struct fx {
    char dir[512];
    struct ldg_ledger *l;
    struct ldg_txn *t;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    /* format 1: these tests check each event's signature (a format 2
     * event's place in its seal: test_render__sealed_event_shows_its_seal) */
    f->l = t_ledger_new_format(f->dir, sizeof f->dir, 0, 1);
    q_load_pdf_ops(f->l);
    q_append(f->l, "body.erased", NULL, NULL, NULL,
             "{\"target_seq\":25,\"reason\":\"test\"}"); /* seq 32 */
    q_append(f->l, "x.test.weird", "kind:a \"quoted\"\ttab\x01\x1f", "R-2",
             NULL,
             "{\"s\":\"line\\nbreak \\u0001 \\\\ \\\"q\\\" é\",\"n\":-5,"
             "\"r\":0.5,\"z\":null,\"a\":[1,[2]],\"o\":{}}"); /* seq 33 */
    { /* seq 34: format version 2 (id, the source's time, the source) */
        struct ldg_source src = {1000, 100, 4242, "/usr/bin/agent",
                                 "agent.service"};
        struct ldg_event_in in;
        uint64_t seq = 0;
        memset(&in, 0, sizeof in);
        in.type = "x.step";
        in.id = "req \"7\"";
        in.has_time = 1;
        in.time_ns = 1767225600123456789ull;
        in.source = &src;
        assert_int_equal(ldg_append(f->l, &in, &seq), 0);
        assert_int_equal(seq, 34);
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &f->t), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_txn_abort(f->t);
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static char *
render(struct fx *f, enum ldg_query_format fmt, unsigned flags, uint64_t seq)
{
    struct ldg_query_render *r;
    struct ldg_event ev;
    const char *text;
    size_t len;
    char *copy;
    assert_int_equal(ldg_query_render_new(&r, fmt, flags), 0);
    assert_int_equal(ldg_event_get(f->t, seq, &ev), 0);
    assert_int_equal(ldg_query_render_event(r, f->t, &ev, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    copy = strdup(text);
    ldg_query_render_free(r);
    return copy;
}

static void
test_render__json_is_the_show_shape_for_every_event(void **state)
{
    struct fx *f = *state;
    for (uint64_t seq = 0; seq <= 34; seq++) {
        struct ldg_event ev;
        char *text = render(f, LDG_QFMT_JSON, 0, seq), *want_s, *got_s;
        json_error_t je;
        json_t *got = json_loads(text, 0, &je), *want;
        if (got == NULL)
            fail_msg("event %llu: not JSON: %s\n%s", (unsigned long long)seq,
                     je.text, text);
        /* one line */
        assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
        assert_int_equal(ldg_event_get(f->t, seq, &ev), 0);
        want = ldg_query_event_json(f->t, &ev);
        /* same keys in the same order, same values */
        want_s = json_dumps(want, JSON_COMPACT);
        got_s = json_dumps(got, JSON_COMPACT);
        assert_string_equal(got_s, want_s);
        free(want_s);
        free(got_s);
        json_decref(got);
        json_decref(want);
        free(text);
    }
}

/* A sealed event (ledger format 2) has no signature of its own: the
 * views show its claim digest and its place in its seal instead. */
static void
test_render__sealed_event_shows_its_seal(void **state)
{
    struct fx g;
    struct ldg_event ev;
    char hex[65], line[160];
    char *s;
    json_t *o;
    (void)state;

    memset(&g, 0, sizeof g);
    g.l = t_ledger_new_format(g.dir, sizeof g.dir, 0, 2);
    t_append(g.l, "x.test.sealed", "{\"k\":1}", NULL);
    assert_int_equal(ldg_txn_begin(g.l, LDG_TXN_READ, &g.t), 0);
    assert_int_equal(ldg_event_get(g.t, 1, &ev), 0);
    assert_true(ev.sealed);
    ldg_hex(hex, ev.digest, 32);
    s = render(&g, LDG_QFMT_JSON, 0, 1);
    o = json_loads(s, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "claim_digest")),
                        hex);
    assert_string_equal(json_string_value(json_object_get(o, "seal")), "1");
    assert_string_equal(json_string_value(json_object_get(o, "seal_leaf")),
                        "0");
    assert_null(json_object_get(o, "signature"));
    json_decref(o);
    free(s);
    s = render(&g, LDG_QFMT_VERBOSE, 0, 1);
    snprintf(line, sizeof line, "    claim_digest=%s\n", hex);
    assert_non_null(strstr(s, line));
    assert_non_null(strstr(s, "    seal=1 leaf=0\n"));
    assert_null(strstr(s, "signature="));
    free(s);
    ldg_txn_abort(g.t);
    ldg_close(g.l);
    t_rmrf(g.dir);
}

static void
test_render__json_keys_and_64bit_numbers_as_strings(void **state)
{
    struct fx *f = *state;
    /* event 26 is a route.decision: "model_at" follows its body */
    char *text = render(f, LDG_QFMT_JSON, LDG_RENDER_CURSOR, 26);
    json_t *o = json_loads(text, 0, NULL);
    static const char *const keys[] = {"seq",
                                       "ts",
                                       "time",
                                       "recorded_ts",
                                       "recorded_time",
                                       "clock",
                                       "type",
                                       "subject",
                                       "run",
                                       "actor",
                                       "actor_name",
                                       "prev",
                                       "body_commitment",
                                       "leaf_hash",
                                       "signature",
                                       "body",
                                       "model_at",
                                       "cursor"};
    const char *k;
    json_t *v;
    size_t i = 0;
    assert_non_null(o);
    json_object_foreach(o, k, v)
    {
        assert_true(i < sizeof keys / sizeof keys[0]);
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_int_equal(i, sizeof keys / sizeof keys[0]);
    assert_true(json_is_string(json_object_get(o, "seq")));
    assert_true(json_is_string(json_object_get(o, "ts")));
    assert_string_equal(json_string_value(json_object_get(o, "seq")), "26");
    assert_int_equal(
        strncmp(json_string_value(json_object_get(o, "cursor")), "26:", 3), 0);
    json_decref(o);
    free(text);
}

/* A format version 2 event: "ts"/"time" are the source's claim,
 * "recorded_ts"/"recorded_time" the ledger's, "clock" says which, then
 * "id" and "source"; an event without a source time has "clock":"ledger"
 * and the same time twice. The human forms show the source beside the
 * signer. */
static void
test_render__version_2_fields_and_the_two_clocks(void **state)
{
    struct fx *f = *state;
    char *text = render(f, LDG_QFMT_JSON, 0, 34), want[32];
    json_t *o = json_loads(text, 0, NULL), *src;
    struct ldg_event ev;
    static const char *const keys[] = {
        "seq",       "ts",     "time",    "recorded_ts",     "recorded_time",
        "clock",     "type",   "subject", "actor",           "actor_name",
        "id",        "source", "prev",    "body_commitment", "leaf_hash",
        "signature", "body"};
    const char *k;
    json_t *v;
    size_t i = 0;

    assert_non_null(o);
    json_object_foreach(o, k, v)
    {
        assert_true(i < sizeof keys / sizeof keys[0]);
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_int_equal(i, sizeof keys / sizeof keys[0]);
    assert_int_equal(ldg_event_get(f->t, 34, &ev), 0);
    assert_string_equal(json_string_value(json_object_get(o, "ts")),
                        "1767225600123456789");
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        "2026-01-01T00:00:00.123456789Z");
    snprintf(want, sizeof want, "%llu", (unsigned long long)ev.ts_ns);
    assert_string_equal(json_string_value(json_object_get(o, "recorded_ts")),
                        want);
    assert_string_equal(json_string_value(json_object_get(o, "clock")),
                        "source");
    assert_string_equal(json_string_value(json_object_get(o, "id")),
                        "req \"7\"");
    src = json_object_get(o, "source");
    assert_int_equal(json_integer_value(json_object_get(src, "uid")), 1000);
    assert_int_equal(json_integer_value(json_object_get(src, "gid")), 100);
    assert_int_equal(json_integer_value(json_object_get(src, "pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(src, "exe")),
                        "/usr/bin/agent");
    assert_string_equal(json_string_value(json_object_get(src, "unit")),
                        "agent.service");
    json_decref(o);
    free(text);

    /* without a source time: the ledger's clock, the same time twice */
    text = render(f, LDG_QFMT_JSON, 0, 33);
    o = json_loads(text, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "clock")),
                        "ledger");
    assert_string_equal(json_string_value(json_object_get(o, "ts")),
                        json_string_value(json_object_get(o, "recorded_ts")));
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        json_string_value(json_object_get(o, "recorded_time")));
    assert_null(json_object_get(o, "id"));
    assert_null(json_object_get(o, "source"));
    json_decref(o);
    free(text);

    text = render(f, LDG_QFMT_SHORT, 0, 34);
    assert_non_null(strstr(text, " (uid 1000 pid 4242 agent.service):"));
    free(text);
    text = render(f, LDG_QFMT_VERBOSE, 0, 34);
    assert_non_null(strstr(text, "    source=uid 1000 gid 100 pid 4242 exe "
                                 "/usr/bin/agent unit agent.service\n"));
    assert_non_null(strstr(text, "    id=req \"7\"\n"));
    assert_non_null(strstr(
        text,
        "    time=2026-01-01T00:00:00.123456789Z (the source's clock)\n"));
    free(text);
}

static void
test_render__erased_body_is_erased_in_every_mode(void **state)
{
    struct fx *f = *state;
    char *s;
    json_t *o;

    s = render(f, LDG_QFMT_JSON, 0, 25);
    o = json_loads(s, 0, NULL);
    assert_true(json_is_true(json_object_get(o, "erased")));
    assert_null(json_object_get(o, "body"));
    assert_null(json_object_get(o, "body_error"));
    json_decref(o);
    free(s);
    s = render(f, LDG_QFMT_JSON_PRETTY, 0, 25);
    o = json_loads(s, 0, NULL);
    assert_true(json_is_true(json_object_get(o, "erased")));
    json_decref(o);
    free(s);
    s = render(f, LDG_QFMT_SHORT, 0, 25);
    assert_non_null(strstr(s, "[body erased]"));
    free(s);
    s = render(f, LDG_QFMT_VERBOSE, 0, 25);
    assert_non_null(strstr(s, "body=[erased]"));
    free(s);
    s = render(f, LDG_QFMT_CAT, 0, 25);
    assert_string_equal(s, "[body erased]\n");
    free(s);
}

static void
test_render__escapes_are_valid_json(void **state)
{
    struct fx *f = *state;
    char *s = render(f, LDG_QFMT_JSON, 0, 33);
    json_t *o = json_loads(s, 0, NULL), *b;
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subject")),
                        "kind:a \"quoted\"\ttab\x01\x1f");
    /* escaped byte for byte as jansson escapes */
    assert_non_null(strstr(s, "\"kind:a \\\"quoted\\\"\\ttab\\u0001\\u001F\""));
    b = json_object_get(o, "body");
    assert_string_equal(json_string_value(json_object_get(b, "s")),
                        "line\nbreak \x01 \\ \"q\" \xc3\xa9");
    assert_int_equal(json_integer_value(json_object_get(b, "n")), -5);
    json_decref(o);
    free(s);
    s = render(f, LDG_QFMT_CAT, 0, 33);
    o = json_loads(s, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "n")), -5);
    json_decref(o);
    free(s);
}

static void
test_render__short_has_time_seq_type_subject_actor_summary(void **state)
{
    struct fx *f = *state;
    char *s;
    setenv("TZ", "UTC", 1);
    s = render(f, LDG_QFMT_SHORT, 0, 29);
    /* "Nov 21 15:09:01 29 route.decision route:pdf-ops/extract log: ..." */
    assert_non_null(
        strstr(s, " 29 route.decision route:pdf-ops/extract log: "));
    assert_non_null(strstr(s, "run=R-0001"));
    assert_non_null(strstr(s, "chosen_model=llama3.2-3b-instruct@q8_0"));
    assert_non_null(strstr(s, "fallback=true"));
    assert_non_null(strstr(s, "latency_ms=640"));
    assert_non_null(strstr(s, "reason=\"primary offline\""));
    /* route= is the subject already */
    assert_null(strstr(s, "route=pdf-ops/extract"));
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
    free(s);
    s = render(f, LDG_QFMT_SHORT_ISO, 0, 29);
    assert_non_null(strstr(s, "T"));
    assert_non_null(strstr(s, "+00:00 29 route.decision"));
    free(s);
    s = render(f, LDG_QFMT_SHORT_PRECISE, 0, 29);
    assert_non_null(strchr(s, '.'));
    free(s);
    s = render(f, LDG_QFMT_SHORT_UTC, 0, 29);
    assert_non_null(strstr(s, "Z 29 route.decision"));
    free(s);
    /* a long body is cut with "..." on one line */
    s = render(f, LDG_QFMT_SHORT, 0, 4);
    assert_true(strlen(s) < 400);
    free(s);
}

/* A long string is shown, quoted (issue 46: a reason over 64 bytes was
 * "reason=[...]"); a long nested value is still "{...}"/"[...]", and the
 * summary is cut at its end. */
static void
test_render__long_string_is_shown_not_elided(void **state)
{
    struct fx *f = *state;
    static const char reason[] =
        "runtime evicted model under VRAM pressure because another model "
        "with a large context was loaded";
    char body[400], *s;
    uint64_t seq;

    ldg_txn_abort(f->t);
    snprintf(body, sizeof body,
             "{\"model\":\"m1\",\"state\":\"offline\",\"reason\":\"%s\","
             "\"o\":{\"a\":\"0123456789012345678901234567890123456789\","
             "\"b\":\"0123456789012345678901234567890123456789\"}}",
             reason);
    seq = q_append(f->l, "model.state", NULL, NULL, NULL, body);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &f->t), 0);
    s = render(f, LDG_QFMT_SHORT, 0, seq);
    assert_non_null(strstr(s, "reason=\"runtime evicted model under VRAM"));
    assert_non_null(strstr(s, "with a large context was loaded\""));
    assert_null(strstr(s, "reason=[...]"));
    assert_non_null(strstr(s, "o={...}"));
    free(s);
}

static void
test_render__verbose_has_every_field_hash_and_key(void **state)
{
    struct fx *f = *state;
    struct ldg_event ev;
    char hex[129], line[200];
    char *s = render(f, LDG_QFMT_VERBOSE, 0, 26);
    static const char *const want[] = {
        "    type=route.decision\n",
        "    subject=route:pdf-ops/extract\n",
        "    run=R-0001\n",
        "    body.chosen_model=qwen2.5-7b-instruct@q4_k_m\n",
        "    body.latency_ms=910\n",
        "    body.fallback=false\n",
        "    body.candidates=[\"qwen2.5-7b-instruct@q4_k_m\","
        "\"llama3.2-3b-instruct@q8_0\"]\n",
        "[seq 26, cursor 26:"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(s, want[i]) == NULL)
            fail_msg("verbose lacks '%s':\n%s", want[i], s);
    assert_int_equal(ldg_event_get(f->t, 26, &ev), 0);
    ldg_hex(hex, ev.sig, 64);
    snprintf(line, sizeof line, "    signature=%s\n", hex);
    assert_non_null(strstr(s, line));
    ldg_hex(hex, ev.leaf, 32);
    snprintf(line, sizeof line, "    leaf_hash=%s\n", hex);
    assert_non_null(strstr(s, line));
    snprintf(line, sizeof line, "    actor=%s (log)\n", ev.actor);
    assert_non_null(strstr(s, line));
    free(s);
}

static void
test_render__pretty_parses_to_the_json_object(void **state)
{
    struct fx *f = *state;
    char *a = render(f, LDG_QFMT_JSON, 0, 21), *b;
    json_t *ja = json_loads(a, 0, NULL), *jb;
    b = render(f, LDG_QFMT_JSON_PRETTY, 0, 21);
    jb = json_loads(b, 0, NULL);
    assert_non_null(jb);
    assert_true(json_equal(ja, jb));
    assert_true(strchr(b, '\n') < b + strlen(b) - 1); /* several lines */
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
}

static void
test_render__given_body_renders_like_a_fetched_one(void **state)
{
    struct fx *f = *state;
    static const enum ldg_query_format fmts[] = {
        LDG_QFMT_SHORT, LDG_QFMT_VERBOSE, LDG_QFMT_JSON, LDG_QFMT_JSON_PRETTY,
        LDG_QFMT_CAT};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        for (uint64_t seq = 24; seq <= 26; seq++) {
            struct ldg_query_render *r;
            struct ldg_event ev;
            json_t *body = NULL;
            const char *text;
            size_t len;
            char *want = render(f, fmts[i], 0, seq);
            int erased = ldg_body_get(f->t, seq, &body) == LDG_EERASED;
            assert_int_equal(ldg_query_render_new(&r, fmts[i], 0), 0);
            assert_int_equal(ldg_event_get(f->t, seq, &ev), 0);
            assert_int_equal(
                ldg_query_render_body(r, f->t, &ev, body, erased, &text, &len),
                0);
            assert_string_equal(text, want);
            json_decref(body);
            free(want);
            ldg_query_render_free(r);
        }
    }
}

/* ------------------------------------------- the streaming fast path -- */

/* A deterministic generator for the seeded log below. */
static uint64_t
rnd(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st;
}

/* A random JSON value: strings with UTF-8, escapes and control bytes,
 * 64-bit integers at the edges, reals, nested arrays and objects, and now
 * and then a string long enough that the body is stored compressed. */
static json_t *
rnd_value(uint64_t *st, int depth)
{
    static const char *const strs[] = {"plain",
                                       "",
                                       "é日本語 ✓",
                                       "tab\there",
                                       "quote\"in",
                                       "back\\slash",
                                       "\x01\x1f ctl",
                                       "/a/b",
                                       "line\nbreak\r\n",
                                       "0123456789abcdef01234",
                                       "\x7f del and \xf0\x9f\x98\x80"};
    static const json_int_t ints[] = {
        0,   1,     -1,         127,       128,       -32,        -33,
        255, 65536, 4294967296, INT64_MAX, INT64_MIN, -4294967297};
    static const double reals[] = {0.5, -0.0,    1e300,        0.1,
                                   3.0, -2.5e-7, 123456789.125};
    switch (rnd(st) % (depth > 2 ? 6 : 8)) {
    case 0:
        return json_string(strs[rnd(st) % (sizeof strs / sizeof strs[0])]);
    case 1:
        return json_integer(ints[rnd(st) % (sizeof ints / sizeof ints[0])]);
    case 2:
        return json_real(reals[rnd(st) % (sizeof reals / sizeof reals[0])]);
    case 3:
        return rnd(st) % 2 ? json_true() : json_false();
    case 4:
        return json_null();
    case 5: {
        char big[700];
        memset(big, 'a' + (int)(rnd(st) % 26), sizeof big - 1);
        big[sizeof big - 1] = '\0';
        return rnd(st) % 4 == 0 ? json_string(big) : json_string("short");
    }
    case 6: {
        json_t *a = json_array();
        for (uint64_t i = rnd(st) % 4; i > 0; i--)
            json_array_append_new(a, rnd_value(st, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        char k[16];
        for (uint64_t i = rnd(st) % 4; i > 0; i--) {
            snprintf(k, sizeof k, "k%u\"é", (unsigned)(rnd(st) % 9));
            json_object_set_new(o, k, rnd_value(st, depth + 1));
        }
        return o;
    }
    }
}

/* What every query prints through ldg_query_render_iter must be, byte
 * for byte, what the generic path prints for the same event: a strict
 * ldg_event_get and ldg_query_render_event, and for json the jansson
 * encoding of ldg_query_event_json (which goes through msgpack-c and
 * jansson, not the byte-level walkers). */
static void
test_render__iter_path_is_byte_identical_to_the_generic_one(void **state)
{
    static const enum ldg_query_format fmts[] = {LDG_QFMT_JSON, LDG_QFMT_SHORT,
                                                 LDG_QFMT_VERBOSE, LDG_QFMT_CAT,
                                                 LDG_QFMT_JSON_PRETTY};
    static const struct {
        int n;
        const char *terms[3];
        const char *since, *until;
        unsigned flags;
    } qs[] = {
        {0, {NULL}, NULL, NULL, 0},
        {0, {NULL}, NULL, NULL, LDG_QUERY_REVERSE},
        {0, {NULL}, "@1900000000.5", "@1900000020", 0},
        {1, {"type=x.fast.b*"}, NULL, NULL, 0},
        {1, {"body.flag=true"}, NULL, NULL, 0},
        {3, {"run=R-1", "+", "body.s=plain"}, NULL, NULL, 0},
        {1, {"seq=5..40"}, NULL, NULL, LDG_QUERY_REVERSE},
    };
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    uint64_t st = 0x9e3779b97f4a7c15u, clock = 1900000000000000000u;
    size_t checked = 0, erased = 0;
    (void)state;

    ldg_set_clock(l, &clock);
    for (int i = 0; i < 120; i++) {
        struct ldg_event_in in;
        char type[32], subject[64], run[16];
        json_t *body = json_object();
        uint64_t seq;
        snprintf(type, sizeof type, "x.fast.%c%d", 'a' + (int)(rnd(&st) % 3),
                 i % 5);
        snprintf(subject, sizeof subject, "kind:n\"%d\t\xc3\xa9", i % 7);
        snprintf(run, sizeof run, "R-%d", i % 4);
        for (uint64_t k = rnd(&st) % 6; k > 0; k--) {
            static const char *const names[] = {"s", "n",    "flag", "deep",
                                                "é", "a\"b", "r"};
            json_object_set_new(body, names[rnd(&st) % 7], rnd_value(&st, 0));
        }
        if (i % 3 == 0)
            json_object_set_new(body, "flag", json_true());
        memset(&in, 0, sizeof in);
        in.type = type;
        in.subject = subject;
        in.run = i % 5 == 0 ? NULL : run;
        in.has_parent = i > 0 && i % 4 == 0;
        in.parent = (uint64_t)i / 2;
        in.body = body;
        clock += 250000000u + rnd(&st) % 1000; /* 4 a second */
        if (ldg_append(l, &in, &seq) != 0)
            fail_msg("append %d: %s", i, ldg_errmsg(l));
        json_decref(body);
        if (i % 9 == 4) { /* erase some bodies */
            char eb[96];
            snprintf(eb, sizeof eb, "{\"target_seq\":%llu,\"reason\":\"t\"}",
                     (unsigned long long)seq);
            clock += 1000;
            q_append(l, "body.erased", NULL, NULL, NULL, eb);
        }
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
            struct ldg_query *q = NULL;
            struct ldg_query_iter *it = NULL;
            struct ldg_query_render *fast, *gen;
            struct ldg_event ev, ev2;
            char err[256];
            int rc;
            assert_int_equal(
                ldg_query_compile(&q, qs[qi].n,
                                  (char *const *)(uintptr_t)qs[qi].terms,
                                  qs[qi].since, qs[qi].until, err, sizeof err),
                0);
            assert_int_equal(ldg_query_render_new(&fast, fmts[fi], 0), 0);
            assert_int_equal(ldg_query_render_new(&gen, fmts[fi], 0), 0);
            assert_int_equal(ldg_query_iter_new(&it, q, t, qs[qi].flags), 0);
            while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
                const char *a, *b;
                size_t an, bn;
                char *a_copy;
                json_t *body = NULL;
                assert_int_equal(ldg_query_render_iter(fast, it, &ev, &a, &an),
                                 0);
                a_copy = strdup(a);
                assert_int_equal(ldg_event_get(t, ev.seq, &ev2), 0);
                assert_memory_equal(ev.leaf, ev2.leaf, 32);
                assert_int_equal(ldg_query_render_event(gen, t, &ev2, &b, &bn),
                                 0);
                if (an != bn || memcmp(a_copy, b, an) != 0)
                    fail_msg("format %zu query %zu event %llu:\nfast    %s"
                             "generic %s",
                             fi, qi, (unsigned long long)ev.seq, a_copy, b);
                if (fmts[fi] == LDG_QFMT_JSON) {
                    json_t *o = ldg_query_event_json(t, &ev2);
                    char *want = json_dumps(o, JSON_COMPACT);
                    assert_non_null(want);
                    if (an != strlen(want) + 1 ||
                        memcmp(a_copy, want, an - 1) != 0) {
                        size_t d = 0;
                        while (a_copy[d] == want[d])
                            d++;
                        d = d > 40 ? d - 40 : 0;
                        fail_msg("json %llu differs from jansson at:\n"
                                 "fast    %.80s\njansson %.80s",
                                 (unsigned long long)ev.seq, a_copy + d,
                                 want + d);
                    }
                    free(want);
                    json_decref(o);
                }
                if (ldg_body_get(t, ev.seq, &body) == LDG_EERASED)
                    erased++;
                json_decref(body);
                free(a_copy);
                checked++;
            }
            assert_int_equal(rc, LDG_ENOTFOUND);
            ldg_query_iter_free(it);
            ldg_query_render_free(fast);
            ldg_query_render_free(gen);
            ldg_query_free(q);
        }
    }
    /* the queries saw events, erased ones among them */
    assert_true(checked > 1000);
    assert_true(erased > 10);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_render__format_names(void **state)
{
    enum ldg_query_format fmt;
    (void)state;
    assert_int_equal(ldg_query_format_parse("short", &fmt), 0);
    assert_int_equal(fmt, LDG_QFMT_SHORT);
    assert_int_equal(ldg_query_format_parse("human", &fmt), 0);
    assert_int_equal(fmt, LDG_QFMT_SHORT);
    assert_int_equal(ldg_query_format_parse("json-pretty", &fmt), 0);
    assert_int_equal(fmt, LDG_QFMT_JSON_PRETTY);
    assert_int_equal(ldg_query_format_parse("cat", &fmt), 0);
    assert_int_equal(fmt, LDG_QFMT_CAT);
    assert_int_equal(ldg_query_format_parse("export", &fmt), LDG_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render__json_is_the_show_shape_for_every_event),
        cmocka_unit_test(test_render__json_keys_and_64bit_numbers_as_strings),
        cmocka_unit_test(test_render__sealed_event_shows_its_seal),
        cmocka_unit_test(test_render__version_2_fields_and_the_two_clocks),
        cmocka_unit_test(test_render__erased_body_is_erased_in_every_mode),
        cmocka_unit_test(test_render__escapes_are_valid_json),
        cmocka_unit_test(
            test_render__short_has_time_seq_type_subject_actor_summary),
        cmocka_unit_test(test_render__verbose_has_every_field_hash_and_key),
        cmocka_unit_test(test_render__pretty_parses_to_the_json_object),
        cmocka_unit_test(test_render__given_body_renders_like_a_fetched_one),
        cmocka_unit_test(test_render__format_names),
        cmocka_unit_test(
            test_render__iter_path_is_byte_identical_to_the_generic_one),
        /* (last: it appends an event to the group's ledger) */
        cmocka_unit_test(test_render__long_string_is_shown_not_elided),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
