/*
 * test_write.c — ledger export (export/write.c): every selection form
 * round-trips (the bundle holds exactly what the query module selects,
 * plus the support events, and verifies), each redaction form withholds
 * what it says and still verifies, erasures travel with their evidence,
 * and bad requests are refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "ledger/handle_int.h"
#include "query/query.h"
#include "tests/export/helpers.h"

struct fx {
    char *dir;
    struct ldg_ledger *l;
    uint64_t t0; /* clock of the first seeded event */
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    static uint64_t clock_ns;
    f->dir = tmp_dir();
    f->l = new_ledger(f->dir, "l");
    /* one second per event, so time windows have edges to find; after
     * the genesis, whose time is the real one */
    f->t0 = clock_ns = ((uint64_t)time(NULL) + 3600) * 1000000000ull;
    ldg_set_clock(f->l, &clock_ns);
    seed_history(f->l);
    for (int i = 0; i < 5; i++) {
        clock_ns += 1000000000ull;
        add(f->l, "model.state", "alice",
            "{\"model\":\"qwen\",\"state\":\"loaded\"}");
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Seqs the query module selects for terms/since/until, as a JSON array of
 * decimal strings. */
static json_t *
query_seqs(struct ldg_ledger *l, int n, char *const *terms, const char *since,
           const char *until)
{
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *a = json_array();
    char err[256];

    assert_int_equal(
        ldg_query_compile(&q, n, terms, since, until, err, sizeof err), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    while (ldg_query_iter_next(it, &ev) == 0)
        json_array_append_new(a, ldg_json_u64(ev.seq));
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return a;
}

/* The selected seqs the manifest lists. */
static json_t *
manifest_selected(struct bundle *b)
{
    json_t *m = member_json_get(b, B_MANIFEST), *a = json_array(), *rec;
    size_t i;
    json_array_foreach(json_object_get(m, "events"), i, rec)
    {
        if (strcmp(json_string_value(json_object_get(rec, "role")),
                   "selected") == 0)
            json_array_append(a, json_object_get(rec, "seq"));
    }
    json_decref(m);
    return a;
}

static void
expect_ok(const uint8_t *buf, size_t len)
{
    struct ldg_bundle_report r;
    int rc = verify_mem(buf, len, NULL, &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
}

/* Exports the selection and checks it is exactly the query's. */
static void
roundtrip(struct fx *f, int n, char *const *terms, const char *since,
          const char *until, uint64_t *nsel)
{
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct bundle b;
    json_t *want, *got;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.nterms = n;
    o.terms = terms;
    o.since = since;
    o.until = until;
    o.allow_empty = 1; /* compared with the query, empty or not */
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    expect_ok(buf, len);
    read_bundle(&b, buf, len);
    want = query_seqs(f->l, n, terms, since, until);
    got = manifest_selected(&b);
    if (!json_equal(want, got)) {
        char *a = json_dumps(want, 0), *c = json_dumps(got, 0);
        fprintf(stderr, "query selects %s, bundle holds %s\n", a, c);
        free(a);
        free(c);
    }
    assert_true(json_equal(want, got));
    assert_int_equal(rep.selected, json_array_size(want));
    /* events.jsonl: one line per selected event */
    {
        const struct bmember *ev = bundle_get(&b, B_EVENTS);
        size_t lines = 0;
        for (size_t i = 0; i < ev->len; i++)
            lines += ev->data[i] == '\n';
        assert_int_equal(lines, json_array_size(want));
    }
    if (nsel)
        *nsel = rep.selected;
    json_decref(want);
    json_decref(got);
    bundle_release(&b);
    free(buf);
}

/* -------------------------------------------------------- selections -- */

static void
test_write__every_selection_form_round_trips(void **state)
{
    struct fx *f = *state;
    static char run[] = "run=R1", type[] = "type=run.*",
                subj[] = "subject=model:qwen", actor[] = "actor=alice",
                body[] = "body.status=failed", seqr[] = "seq=2..5",
                plus[] = "+", run2[] = "run=R2", pack[] = "pack=pdf-ops";
    char *t1[] = {run}, *t2[] = {type}, *t3[] = {subj}, *t4[] = {actor},
         *t5[] = {body}, *t6[] = {seqr}, *t7[] = {run, plus, run2},
         *t8[] = {type, run2}, *t9[] = {pack};
    uint64_t n;

    roundtrip(f, 1, t1, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t2, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t3, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t4, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t5, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t6, NULL, NULL, &n);
    assert_int_equal(n, 4);
    roundtrip(f, 3, t7, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 2, t8, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 1, t9, NULL, NULL, &n);
    assert_true(n > 0);
    roundtrip(f, 0, NULL, NULL, NULL, &n); /* everything */
    {
        uint64_t size;
        assert_int_equal(ldg_size(f->l, &size), 0);
        assert_int_equal(n, size);
    }
}

static void
test_write__time_windows_round_trip(void **state)
{
    struct fx *f = *state;
    uint64_t n_all, n_since, n_until, n_both;
    char t2[64], t3[64];
    /* the model.state events are at t0+1s .. t0+5s */
    ldg_time_rfc3339_ns(t2, sizeof t2, f->t0 + 2000000000ull);
    ldg_time_rfc3339_ns(t3, sizeof t3, f->t0 + 3000000000ull);
    roundtrip(f, 0, NULL, t2, NULL, &n_since);
    roundtrip(f, 0, NULL, NULL, t3, &n_until);
    roundtrip(f, 0, NULL, t2, t3, &n_both);
    roundtrip(f, 0, NULL, NULL, NULL, &n_all);
    assert_true(n_since > 0 && n_since < n_all);
    assert_true(n_until > 0 && n_until < n_all);
    assert_true(n_both > 0 && n_both <= n_since && n_both <= n_until);
}

static void
test_write__empty_selection_only_when_asked(void **state)
{
    struct fx *f = *state;
    static char none[] = "run=no-such-run";
    char *t[] = {none};
    uint64_t n = 1;
    struct ldg_export_opts o;
    uint8_t *buf = NULL;
    size_t len = 0;

    /* not asked for: an error naming the selection, nothing written */
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_ENOTFOUND);
    assert_non_null(strstr(ldg_errmsg(f->l), "no event matches the selection "
                                             "run=no-such-run"));
    assert_non_null(strstr(ldg_errmsg(f->l), "--allow-empty"));
    free(buf);
    /* asked for: a valid bundle of nothing */
    roundtrip(f, 1, t, NULL, NULL, &n);
    assert_int_equal(n, 0);
}

static void
test_write__support_events_establish_every_actor_key(void **state)
{
    struct fx *f = *state;
    static char actor[] = "actor=alice";
    char *t[] = {actor};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct bundle b;
    json_t *m, *rec;
    uint8_t *buf;
    size_t len, i;
    uint64_t seq;
    int saw_genesis = 0, saw_added = 0, saw_revoked = 0;

    assert_int_equal(ldg_keys_revoke(f->l, "alice", "rotated", &seq), 0);
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    expect_ok(buf, len);
    read_bundle(&b, buf, len);
    m = member_json_get(&b, B_MANIFEST);
    json_array_foreach(json_object_get(m, "events"), i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *role = json_string_value(json_object_get(rec, "role"));
        if (strcmp(role, "support") != 0)
            continue;
        saw_genesis |= strcmp(type, "ledger.genesis") == 0;
        saw_added |= strcmp(type, "key.added") == 0;
        saw_revoked |= strcmp(type, "key.revoked") == 0;
    }
    assert_true(saw_genesis && saw_added && saw_revoked);
    assert_int_equal(rep.support, 3);
    json_decref(m);
    bundle_release(&b);
    free(buf);
}

/* A key.revoked selected alone: the key it revokes is established too
 * (its key.added as support), or the verifier refused the bundle ("which
 * no earlier proven key.added establishes"). */
static void
test_write__revocation_alone_carries_the_key_it_revokes(void **state)
{
    struct fx *f = *state;
    static char type[] = "type=key.revoked";
    char *t[] = {type};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    uint8_t *buf;
    size_t len;
    uint64_t seq;

    assert_int_equal(ldg_keys_revoke(f->l, "alice", "rotated", &seq), 0);
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(rep.selected, 1);
    expect_ok(buf, len);
    free(buf);
}

/* --------------------------------------------------------- redaction -- */

static void
test_write__redacted_fields_are_withheld_and_still_verify(void **state)
{
    struct fx *f = *state;
    static char run[] = "run=R1", f1[] = "requested_by", f2[] = "intent",
                f3[] = "actor";
    char *t[] = {run}, *fields[] = {f1, f2, f3};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    struct bundle b;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    o.nredact_fields = 3;
    o.redact_fields = fields;
    /* "actor" is only in key.added, whose body is never redacted: a
     * redaction that withholds nothing is refused, naming it */
    buf = NULL;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(f->l), "--redact actor:"));
    assert_non_null(strstr(ldg_errmsg(f->l), "--redact-allow-missing"));
    free(buf);
    o.redact_allow_missing = 1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(rep.fields_withheld, 2); /* R1's run.started */
    assert_int_equal(rep.bodies_redacted, 1);
    assert_int_equal(r.fields_withheld, 2);
    assert_non_null(
        strstr(detail_of(&r, "redactions"), "fields withheld: 2 in 1 event"));
    /* nothing of the withheld values is anywhere in the bundle, nor the
     * withheld names (format-bundle.md: a withheld field reveals neither
     * its name nor its value), nor who exported */
    read_bundle(&b, buf, len);
    for (size_t i = 0; i < b.n; i++) {
        assert_null(memmem(b.m[i].data, b.m[i].len, "bob@example.com", 15));
        assert_null(memmem(b.m[i].data, b.m[i].len, "extract tables", 14));
        assert_null(memmem(b.m[i].data, b.m[i].len, "requested_by", 12));
        assert_null(memmem(b.m[i].data, b.m[i].len, "intent", 6));
    }
    {
        json_t *m = member_json_get(&b, B_MANIFEST);
        assert_null(json_object_get(json_object_get(m, "created"), "by"));
        /* the state folds bodies and cannot be redacted: left out */
        assert_false(json_is_true(
            json_object_get(json_object_get(m, "state"), "included")));
        json_decref(m);
    }
    /* the key.added body keeps its "actor": verification needs it */
    {
        json_t *m = member_json_get(&b, B_MANIFEST), *rec;
        size_t i;
        json_array_foreach(json_object_get(m, "events"), i, rec)
        {
            const char *type = json_string_value(json_object_get(rec, "type"));
            if (strcmp(type, "key.added") == 0)
                assert_string_equal(
                    json_string_value(json_object_get(rec, "body")), "full");
            if (strcmp(type, "run.started") == 0) {
                assert_string_equal(
                    json_string_value(json_object_get(rec, "body")),
                    "redacted");
                assert_string_equal(
                    json_string_value(json_object_get(rec, "withheld")), "2");
            }
        }
        json_decref(m);
    }
    bundle_release(&b);
    free(buf);
}

static void
test_write__redacted_body_types_are_withheld_whole(void **state)
{
    struct fx *f = *state;
    static char run[] = "run=R1", ty[] = "route.decision";
    char *t[] = {run}, *types[] = {ty};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    struct bundle b;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    o.nredact_types = 1;
    o.redact_types = types;
    /* the decision's subject route:R and run repeat its body's route and
     * run: refused, naming the envelope field, unless accepted */
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(f->l), "the envelope's subject"));
    o.allow_envelope_disclosure = 1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(rep.bodies_withheld, 1);
    assert_int_equal(r.bodies_withheld, 1);
    assert_non_null(strstr(detail_of(&r, "redactions"), "route.decision"));
    read_bundle(&b, buf, len);
    /* neither names nor values of the body are anywhere (the envelope,
     * subject "route:pdf-ops/extract" included, is signed and stays) */
    for (size_t i = 0; i < b.n; i++) {
        assert_null(memmem(b.m[i].data, b.m[i].len, "chosen_model", 12));
        assert_null(memmem(b.m[i].data, b.m[i].len, "tokens_in", 9));
    }
    bundle_release(&b);
    free(buf);
}

static void
test_write__redacting_bodies_verification_needs_is_refused(void **state)
{
    struct fx *f = *state;
    static char ty[] = "key.added", empty[] = "";
    char *types[] = {ty}, *fields[] = {empty};
    struct ldg_export_opts o;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.nredact_types = 1;
    o.redact_types = types;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(f->l), "key.added"));
    memset(&o, 0, sizeof o);
    o.nredact_fields = 1;
    o.redact_fields = fields;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_EBADINPUT);
}

/* ----------------------------------------------------------- erasure -- */

static void
test_write__erased_body_travels_with_its_erasure_event(void **state)
{
    struct fx *f = *state;
    static char run[] = "run=R2", run1[] = "run=R1";
    char *t[] = {run}, *t1[] = {run1};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    struct bundle b;
    json_t *sel, *m, *rec;
    uint8_t *buf;
    size_t len, i;
    uint64_t target, eseq;
    char body[128];
    int found = 0;

    sel = query_seqs(f->l, 1, t, NULL, NULL);
    target = strtoull(json_string_value(json_array_get(sel, 0)), NULL, 10);
    json_decref(sel);
    snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"asked\"}",
             (unsigned long long)target);
    eseq = add(f->l, "body.erased", NULL, body);
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(rep.bodies_erased, 1);
    assert_int_equal(r.bodies_erased, 1);
    read_bundle(&b, buf, len);
    m = member_json_get(&b, B_MANIFEST);
    json_array_foreach(json_object_get(m, "events"), i, rec)
    {
        uint64_t seq =
            strtoull(json_string_value(json_object_get(rec, "seq")), NULL, 10);
        if (seq == target) {
            assert_string_equal(json_string_value(json_object_get(rec, "body")),
                                "erased");
            assert_int_equal(
                strtoull(json_string_value(json_object_get(rec, "erased_by")),
                         NULL, 10),
                eseq);
        }
        if (seq == eseq) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(rec, "role")),
                                "support");
        }
    }
    assert_true(found);
    json_decref(m);
    bundle_release(&b);
    free(buf);
    /* a selection without the erased event does not carry the erasure */
    o.terms = t1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(rep.bodies_erased, 0);
    assert_int_equal(rep.support, 2); /* genesis, alice's key.added */
    free(buf);
}

/* ------------------------------------------------------------ refusals -- */

static void
test_write__state_is_included_unless_left_out(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    struct bundle b;
    uint8_t *buf;
    size_t len;
    json_t *st;

    memset(&o, 0, sizeof o);
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_true(rep.has_state);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(status_of(&r, "state"), LDG_CHECK_PASS);
    read_bundle(&b, buf, len);
    st = member_json_get(&b, B_STATE);
    {
        json_t *m = member_json_get(&b, B_MANIFEST);
        assert_string_equal(json_string_value(json_object_get(st, "size")),
                            json_string_value(json_object_get(
                                json_object_get(m, "checkpoint"), "size")));
        json_decref(m);
    }
    assert_true(json_is_array(json_object_get(st, "packs")));
    assert_true(json_is_object(json_object_get(st, "doctor")));
    json_decref(st);
    bundle_release(&b);
    free(buf);
    o.no_state = 1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_false(rep.has_state);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(status_of(&r, "state"), LDG_CHECK_SKIP);
    free(buf);
}

static void
test_write__bad_term_is_refused_with_a_message(void **state)
{
    struct fx *f = *state;
    static char bad[] = "nosuchfield=1";
    char *t[] = {bad};
    struct ldg_export_opts o;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = t;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(f->l), "selection"));
    memset(&o, 0, sizeof o);
    o.since = "not a time";
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_EBADINPUT);
}

static void
test_write__selection_over_the_limit_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    uint8_t *buf;
    size_t len;

    memset(&o, 0, sizeof o);
    o.max_events = 3;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_ETOOBIG);
    assert_non_null(strstr(ldg_errmsg(f->l), "more than 3 events"));
}

static void
test_write__existing_file_is_never_overwritten(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_verify_opts vo;
    struct ldg_bundle_report *r = malloc(sizeof *r);
    char path[4200], vkey[512];
    struct stat st;

    memset(&o, 0, sizeof o);
    memset(&vo, 0, sizeof vo);
    assert_int_equal(ldg_verifier_key(f->l, vkey, sizeof vkey), 0);
    vo.trusted_vkey = vkey;
    snprintf(path, sizeof path, "%s/b.tar.zst", f->dir);
    assert_int_equal(ldg_export_write(f->l, &o, path, &rep), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, rep.bytes);
    assert_int_equal(ldg_export_verify(path, &vo, r), 0);
    assert_int_equal(ldg_export_write(f->l, &o, path, &rep), LDG_EEXIST);
    assert_int_equal(ldg_export_verify(path, &vo, r), 0);
    free(r);
}

static void
test_write__without_the_log_key_file_export_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    char from[4200], to[4200];
    uint8_t *buf;
    size_t len;

    snprintf(from, sizeof from, "%s/l/keys/log.key", f->dir);
    snprintf(to, sizeof to, "%s/log.key.away", f->dir);
    assert_int_equal(rename(from, to), 0);
    memset(&o, 0, sizeof o);
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(f->l), "log key"));
    assert_int_equal(rename(to, from), 0);
}

/* Raw access to a core database (tests only). */
static void
raw_swap(struct ldg_ledger *l, const char *db, uint64_t a, uint64_t b)
{
    struct ldg_txn *t;
    struct ldg_val va, vb;
    ldg_dbi dbi;
    uint8_t ka[8], kb[8], *ca, *cb;
    size_t na, nb;

    for (int i = 7; i >= 0; i--) {
        ka[i] = (uint8_t)(a >> (8 * (7 - i)));
        kb[i] = (uint8_t)(b >> (8 * (7 - i)));
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    /* store layout 5 keeps them in entries5 and bodies5 */
    if (strcmp(db, "entries") == 0)
        db = ldg_core_db_names[ldg_db_entries(t)];
    else if (strcmp(db, "bodies") == 0)
        db = ldg_core_db_names[ldg_db_bodies(t)];
    assert_int_equal(ldg_db_open(t, db, 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, ka, 8, &va), 0);
    assert_int_equal(ldg_kv_get(t, dbi, kb, 8, &vb), 0);
    na = va.len;
    nb = vb.len;
    ca = malloc(na);
    cb = malloc(nb);
    memcpy(ca, va.data, na);
    memcpy(cb, vb.data, nb);
    assert_int_equal(ldg_core_kv_put(t, dbi, ka, 8, cb, nb), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, kb, 8, ca, na), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    free(ca);
    free(cb);
}

/* Export vouches for what it ships: with two stored bodies swapped (the
 * entries untouched) a bundle would fail only at the receiver; export
 * refuses, naming the event, and writes nothing. */
static void
test_write__a_tampered_selection_is_refused_naming_the_event(void **state)
{
    struct fx *f = *state;
    static char t0[] = "type=model.state";
    char *terms[] = {t0};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    char path[4200];
    uint8_t *buf;
    size_t len;
    uint64_t size;
    struct stat st;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    free(buf);
    assert_int_equal(ldg_size(f->l, &size), 0);
    /* the last model.state's body and event 2's (a run.started) */
    raw_swap(f->l, "bodies", size - 1, 2);
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f->l), "refusing to export"));
    assert_non_null(strstr(ldg_errmsg(f->l), "commitment"));
    {
        char want[64];
        snprintf(want, sizeof want,
                 "event %llu:", (unsigned long long)(size - 1));
        assert_non_null(strstr(ldg_errmsg(f->l), want));
    }
    snprintf(path, sizeof path, "%s/t.tar.zst", f->dir);
    assert_int_equal(ldg_export_write(f->l, &o, path, &rep), LDG_ETAMPER);
    assert_int_equal(stat(path, &st), -1);
    raw_swap(f->l, "bodies", size - 1, 2);
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    free(buf);
}

/* export --run: the run's context (the events its timeline shows beside
 * its own) is selected by the library, in the export's snapshot, with
 * run_context; without it, only the terms' events. */
static void
test_write__a_runs_context_is_selected_with_run_context(void **state)
{
    struct fx *f = *state;
    static char run3[] = "run=R3";
    char *const terms[] = {run3};
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_txn *t = NULL;
    struct bundle b;
    json_t *own, *tl = NULL, *want, *got, *e;
    uint8_t *buf;
    size_t len, i;

    add(f->l, "run.started", NULL,
        "{\"run\":\"R3\",\"pack\":\"pdf-ops\",\"requested_by\":"
        "\"dan@example.com\"}");
    add(f->l, "route.decision", "alice",
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\","
        "\"run\":\"R3\"}");
    add(f->l, "model.state", "alice",
        "{\"model\":\"qwen\",\"state\":\"offline\"}");
    add(f->l, "run.finished", NULL, "{\"run\":\"R3\",\"status\":\"ok\"}");
    own = query_seqs(f->l, 1, terms, NULL, NULL);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_timeline(t, "R3", &tl), 0);
    ldg_txn_abort(t);
    want = json_array();
    json_array_foreach(json_object_get(tl, "events"), i, e)
        json_array_append(want, json_object_get(e, "seq"));

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.run = "R3";
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(rep.context, 0);
    read_bundle(&b, buf, len);
    got = manifest_selected(&b);
    assert_true(json_equal(own, got));
    json_decref(got);
    bundle_release(&b);
    free(buf);

    o.run_context = 1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    expect_ok(buf, len);
    assert_true(rep.context >= 1);
    assert_int_equal(rep.selected,
                     json_array_size(own) + (size_t)rep.context);
    read_bundle(&b, buf, len);
    got = manifest_selected(&b);
    assert_int_equal(json_array_size(want), json_array_size(got));
    assert_true(json_equal(want, got));
    json_decref(got);
    bundle_release(&b);
    free(buf);
    json_decref(want);
    json_decref(own);
    json_decref(tl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_write__every_selection_form_round_trips),
        T(test_write__time_windows_round_trip),
        T(test_write__empty_selection_only_when_asked),
        T(test_write__support_events_establish_every_actor_key),
        T(test_write__revocation_alone_carries_the_key_it_revokes),
        T(test_write__redacted_fields_are_withheld_and_still_verify),
        T(test_write__redacted_body_types_are_withheld_whole),
        T(test_write__redacting_bodies_verification_needs_is_refused),
        T(test_write__erased_body_travels_with_its_erasure_event),
        T(test_write__state_is_included_unless_left_out),
        T(test_write__bad_term_is_refused_with_a_message),
        T(test_write__selection_over_the_limit_is_refused),
        T(test_write__existing_file_is_never_overwritten),
        T(test_write__without_the_log_key_file_export_is_refused),
        T(test_write__a_tampered_selection_is_refused_naming_the_event),
        T(test_write__a_runs_context_is_selected_with_run_context),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
