/*
 * test_verify.c — offline bundle verification (export/verify.c).
 *
 * Good bundles pass every check; the must-fail battery changes a real
 * bundle the ways an attacker or an accident would — an event removed,
 * added, altered, reordered; a proof for another checkpoint; the manifest
 * altered; a key swapped; a revoked key's later event; a body or erasure
 * faked — and each must fail the check that names it. Most cases run twice:
 * as tampered, and again with the manifest made consistent and re-signed
 * with the log key, so the deeper checks are shown to hold on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zstd.h>

#include "export/verify_int.h"
#include "ledger/log_int.h"
#include "tests/export/helpers.h"

struct fx {
    char *dir;
    struct ldg_ledger *l;
    uint64_t size;
    uint8_t *buf; /* export of run R1 */
    size_t len;
};

static int
setup(void **state)
{
    static const char *const r1[] = {"run=R1", NULL};
    struct fx *f = calloc(1, sizeof *f);
    f->dir = tmp_dir();
    f->l = new_ledger(f->dir, "l");
    f->size = seed_history(f->l);
    assert_int_equal(export_terms(f->l, r1, &f->buf, &f->len), 0);
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
    free(f->buf);
    free(f);
    return 0;
}

static char *
vkey_of(struct ldg_ledger *l)
{
    char *v = malloc(512);
    assert_int_equal(ldg_verifier_key(l, v, 512), 0);
    return v;
}

/* Verifies buf and requires check `name` to fail (and the whole result). */
static void
expect_fail(const uint8_t *buf, size_t len, const char *trusted,
            const char *name, const char *needle)
{
    struct ldg_bundle_report r;
    int rc = verify_mem(buf, len, trusted, &r);
    if (rc != LDG_ETAMPER || status_of(&r, name) != LDG_CHECK_FAIL ||
        (needle && strstr(detail_of(&r, name), needle) == NULL)) {
        fprintf(stderr, "expected %s to fail (with '%s'), rc %d:\n", name,
                needle ? needle : "", rc);
        print_report(&r);
    }
    assert_int_equal(rc, LDG_ETAMPER);
    assert_int_equal(status_of(&r, name), LDG_CHECK_FAIL);
    if (needle)
        assert_non_null(strstr(detail_of(&r, name), needle));
    assert_false(r.ok);
}

static void
expect_pass(const uint8_t *buf, size_t len, const char *trusted)
{
    struct ldg_bundle_report r;
    int rc = verify_mem(buf, len, trusted, &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
    assert_true(r.ok);
    assert_true(r.readable);
}

/* The members of one event. */
static void
event_names(uint64_t seq, char e[48], char p[48], char b[48])
{
    snprintf(e, 48, "entries/%llu.entry", (unsigned long long)seq);
    snprintf(p, 48, "proofs/%llu.proof", (unsigned long long)seq);
    snprintf(b, 48, "bodies/%llu.json", (unsigned long long)seq);
}

/* The seq of the first selected event of type in the manifest. */
static uint64_t
first_of_type(struct bundle *b, const char *type)
{
    json_t *m = member_json_get(b, B_MANIFEST), *rec;
    size_t i;
    uint64_t seq = UINT64_MAX;
    json_array_foreach(json_object_get(m, "events"), i, rec)
    {
        if (strcmp(json_string_value(json_object_get(rec, "type")), type) ==
            0) {
            seq = strtoull(json_string_value(json_object_get(rec, "seq")), NULL,
                           10);
            break;
        }
    }
    json_decref(m);
    assert_true(seq != UINT64_MAX);
    return seq;
}

/* ------------------------------------------------------------- good -- */

static void
test_verify__export_of_a_run_passes_every_check(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    char *vk = vkey_of(f->l);

    assert_int_equal(verify_mem(f->buf, f->len, NULL, &r), 0);
    assert_int_equal(status_of(&r, "log-key"), LDG_CHECK_WARN);
    assert_int_equal(status_of(&r, "state"), LDG_CHECK_PASS);
    assert_false(r.key_trusted);
    assert_int_equal(r.selected, 4); /* R1: started, decision, step, end */
    assert_int_equal(r.events, 6);   /* + genesis, alice's key.added */
    assert_int_equal(r.checkpoint_size, f->size);
    for (size_t i = 0; i < r.nchecks; i++)
        assert_true(r.checks[i].status != LDG_CHECK_FAIL);
    assert_int_equal(verify_mem(f->buf, f->len, vk, &r), 0);
    assert_int_equal(status_of(&r, "log-key"), LDG_CHECK_PASS);
    assert_true(r.key_trusted);
    free(vk);
}

static void
test_verify__rewritten_unchanged_bundle_still_passes(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    write_bundle(&b, &out, &len);
    expect_pass(out, len, NULL);
    free(out);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_pass(out, len, NULL);
    free(out);
    bundle_release(&b);
}

/* -------------------------------------------------------- must-fail -- */

static void
test_verify__event_removed_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48];
    uint8_t *out;
    size_t len;
    uint64_t seq;

    read_bundle(&b, f->buf, f->len);
    seq = first_of_type(&b, "route.decision");
    event_names(seq, e, p, bd);
    member_del(&b, e);
    member_del(&b, p);
    member_del(&b, bd);
    write_bundle(&b, &out, &len);
    save_vector("tamper-event-removed", out, len);
    expect_fail(out, len, NULL, "files", "listed in the manifest but missing");
    expect_fail(out, len, NULL, "events", "not in the bundle");
    free(out);
    resign(&b, f->l); /* files now agree; the event list does not */
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "events", "not in the bundle");
    free(out);
    bundle_release(&b);
}

static void
test_verify__event_added_fails(void **state)
{
    static const char *const r2[] = {"run=R2", NULL};
    struct fx *f = *state;
    struct bundle b, other;
    char e[48], p[48], bd[48];
    uint8_t *buf2, *out;
    size_t len2, len;
    uint64_t seq;

    assert_int_equal(export_terms(f->l, r2, &buf2, &len2), 0);
    read_bundle(&other, buf2, len2);
    seq = first_of_type(&other, "run.started");
    event_names(seq, e, p, bd);
    read_bundle(&b, f->buf, f->len);
    assert_null(member_get(&b, e));
    member_set(&b, e, member_get(&other, e)->data, member_get(&other, e)->len);
    member_set(&b, p, member_get(&other, p)->data, member_get(&other, p)->len);
    member_set(&b, bd, member_get(&other, bd)->data,
               member_get(&other, bd)->len);
    write_bundle(&b, &out, &len);
    save_vector("tamper-event-added", out, len);
    expect_fail(out, len, NULL, "files", "not listed in the manifest");
    expect_fail(out, len, NULL, "events", "not listed in the manifest");
    free(out);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "events", "not listed in the manifest");
    free(out);
    bundle_release(&b);
    bundle_release(&other);
    free(buf2);
}

/* A member of another size than the manifest's "sizes" says is refused
 * by its size alone (never read), and named with both sizes; with the
 * manifest re-signed to match, the deeper checks still catch the change. */
static void
test_verify__member_of_another_size_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48], want[96];
    struct bmember *m;
    uint8_t *out, *grown;
    size_t len;
    uint64_t seq;

    read_bundle(&b, f->buf, f->len);
    seq = first_of_type(&b, "run.step");
    event_names(seq, e, p, bd);
    m = member_get(&b, bd);
    grown = malloc(m->len + 1);
    assert_non_null(grown);
    memcpy(grown, m->data, m->len);
    grown[m->len] = ' ';
    snprintf(want, sizeof want, "%s: %zu bytes, the manifest says %zu", bd,
             m->len + 1, m->len);
    member_set(&b, bd, grown, m->len + 1);
    free(grown);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "files", want);
    free(out);
    bundle_release(&b);
}

static void
test_verify__event_altered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48];
    struct bmember *m;
    uint8_t *out, *pos;
    size_t len;
    uint64_t seq;

    read_bundle(&b, f->buf, f->len);
    seq = first_of_type(&b, "run.step");
    event_names(seq, e, p, bd);
    m = member_get(&b, e);
    /* run.step -> run.stop: still decodes, says something else */
    pos = memmem(m->data, m->len, "run.step", 8);
    assert_non_null(pos);
    memcpy(pos, "run.stop", 8);
    write_bundle(&b, &out, &len);
    save_vector("tamper-event-altered", out, len);
    expect_fail(out, len, NULL, "files", "digest does not match");
    expect_fail(out, len, NULL, "proofs", "not included");
    expect_fail(out, len, NULL, "signatures", "does not verify");
    free(out);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "proofs", "not included");
    expect_fail(out, len, NULL, "signatures", "does not verify");
    free(out);
    bundle_release(&b);
}

static void
test_verify__body_altered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48];
    json_t *body;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    event_names(first_of_type(&b, "run.finished"), e, p, bd);
    body = member_json_get(&b, bd);
    json_object_set_new(
        json_object_get(json_object_get(body, "fields"), "status"), "value",
        json_string("failed"));
    member_json_set(&b, bd, body);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    save_vector("tamper-body-altered", out, len);
    expect_fail(out, len, NULL, "bodies",
                "does not match the entry's "
                "commitment");
    free(out);
    bundle_release(&b);
}

static void
test_verify__events_reordered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e1[48], p1[48], b1[48], e2[48], p2[48], b2[48];
    struct bmember *x, *y, t;
    uint8_t *out;
    size_t len;

    /* swap two events' members: each name now holds the other event */
    read_bundle(&b, f->buf, f->len);
    event_names(first_of_type(&b, "route.decision"), e1, p1, b1);
    event_names(first_of_type(&b, "run.step"), e2, p2, b2);
    const char *pairs[3][2] = {{e1, e2}, {p1, p2}, {b1, b2}};
    for (int i = 0; i < 3; i++) {
        x = member_get(&b, pairs[i][0]);
        y = member_get(&b, pairs[i][1]);
        t = *x;
        x->data = y->data;
        x->len = y->len;
        y->data = t.data;
        y->len = t.len;
    }
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    save_vector("tamper-events-reordered", out, len);
    expect_fail(out, len, NULL, "proofs", "holds event");
    expect_fail(out, len, NULL, "signatures", "holds event");
    free(out);
    bundle_release(&b);
}

static void
test_verify__events_jsonl_reordered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    struct bmember *m;
    char *first_nl, *second_nl, *tmp;
    size_t l1, l2;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    m = member_get(&b, B_EVENTS);
    first_nl = memchr(m->data, '\n', m->len);
    second_nl = memchr(first_nl + 1, '\n',
                       m->len - (size_t)(first_nl + 1 - (char *)m->data));
    l1 = (size_t)(first_nl + 1 - (char *)m->data);
    l2 = (size_t)(second_nl - first_nl);
    tmp = malloc(m->len);
    memcpy(tmp, first_nl + 1, l2);
    memcpy(tmp + l2, m->data, l1);
    memcpy(tmp + l1 + l2, second_nl + 1, m->len - l1 - l2);
    member_set(&b, B_EVENTS, tmp, m->len);
    free(tmp);
    write_bundle(&b, &out, &len);
    save_vector("tamper-jsonl-reordered", out, len);
    expect_fail(out, len, NULL, "files", "events.jsonl");
    free(out);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "events", "differs");
    free(out);
    bundle_release(&b);
}

static void
test_verify__manifest_event_list_reordered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    json_t *m, *list, *a0;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    m = member_json_get(&b, B_MANIFEST);
    list = json_object_get(m, "events");
    a0 = json_incref(json_array_get(list, 0));
    json_array_remove(list, 0);
    json_array_append_new(list, a0);
    member_json_set(&b, B_MANIFEST, m);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "manifest-signature", NULL);
    expect_fail(out, len, NULL, "events", "not in increasing order");
    free(out);
    bundle_release(&b);
}

static void
test_verify__proof_for_another_checkpoint_fails(void **state)
{
    static const char *const r1[] = {"run=R1", NULL};
    struct fx *f = *state;
    struct bundle b, later;
    char e[48], p[48], bd[48];
    uint8_t *buf2, *out;
    size_t len2, len;

    add(f->l, "x.test.later", NULL, "{\"n\":1}");
    assert_int_equal(export_terms(f->l, r1, &buf2, &len2), 0);
    read_bundle(&later, buf2, len2);
    read_bundle(&b, f->buf, f->len);
    event_names(first_of_type(&b, "run.step"), e, p, bd);
    member_set(&b, p, member_get(&later, p)->data, member_get(&later, p)->len);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    save_vector("tamper-foreign-proof", out, len);
    expect_fail(out, len, NULL, "proofs", "another checkpoint");
    free(out);
    /* the later checkpoint in place of the bundle's own */
    member_set(&b, B_CHECKPOINT, member_get(&later, B_CHECKPOINT)->data,
               member_get(&later, B_CHECKPOINT)->len);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "checkpoint", "is not the bundle's");
    expect_fail(out, len, NULL, "proofs", "another checkpoint");
    free(out);
    bundle_release(&b);
    bundle_release(&later);
    free(buf2);
}

static void
test_verify__manifest_altered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    json_t *m;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    m = member_json_get(&b, B_MANIFEST);
    json_object_set_new(json_object_get(m, "created"), "by",
                        json_string("someone@else"));
    member_json_set(&b, B_MANIFEST, m);
    write_bundle(&b, &out, &len);
    save_vector("tamper-manifest-altered", out, len);
    expect_fail(out, len, NULL, "manifest-signature", "does not name this");
    free(out);
    /* a signature made by another key */
    {
        char *dir2 = tmp_dir();
        struct ldg_ledger *l2 = new_ledger(dir2, "other");
        resign(&b, l2);
        write_bundle(&b, &out, &len);
        expect_fail(out, len, NULL, "manifest-signature", "does not verify");
        free(out);
        ldg_close(l2);
        rm_rf(dir2);
        free(dir2);
    }
    bundle_release(&b);
}

static void
test_verify__actor_key_swapped_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    struct ldg_key *k;
    json_t *kj;
    char name[64], hex[65];
    uint8_t *out;
    size_t len;
    uint64_t aseq;
    char e[48], p[48], bd[48];

    read_bundle(&b, f->buf, f->len);
    assert_int_equal(ldg_key_generate(&k, "mallory"), 0);
    ldg_hex(hex, k->pub, 32);
    /* 1. the key file claims another public key */
    for (size_t i = 0; i < b.n; i++)
        if (strncmp(b.m[i].name, "keys/", 5) == 0) {
            kj = member_json_get(&b, b.m[i].name);
            if (strcmp(json_string_value(json_object_get(kj, "actor")),
                       "alice") == 0) {
                snprintf(name, sizeof name, "%s", b.m[i].name);
                json_object_set_new(kj, "public_key", json_string(hex));
                member_json_set(&b, name, kj);
                break;
            }
            json_decref(kj);
        }
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    save_vector("tamper-key-swapped", out, len);
    expect_fail(out, len, NULL, "keys", "does not agree");
    free(out);
    bundle_release(&b);
    /* 2. the key.added body names mallory's key for alice */
    read_bundle(&b, f->buf, f->len);
    aseq = first_of_type(&b, "key.added");
    event_names(aseq, e, p, bd);
    kj = member_json_get(&b, bd);
    json_object_set_new(
        json_object_get(json_object_get(kj, "fields"), "public_key"), "value",
        json_string(hex));
    member_json_set(&b, bd, kj);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "bodies", "commitment");
    expect_fail(out, len, NULL, "signatures", "not established");
    free(out);
    bundle_release(&b);
    ldg_key_free(k);
}

static void
test_verify__log_key_swapped_fails(void **state)
{
    struct fx *f = *state;
    char *dir2 = tmp_dir();
    struct ldg_ledger *l2 = new_ledger(dir2, "impostor");
    char *vk = vkey_of(f->l);
    uint8_t *buf2;
    size_t len2;

    seed_history(l2);
    assert_int_equal(export_terms(l2, NULL, &buf2, &len2), 0);
    /* on its own terms the impostor's bundle holds together... */
    expect_pass(buf2, len2, NULL);
    /* ...but not under our log key */
    expect_fail(buf2, len2, vk, "log-key", "is not the trusted key");
    expect_fail(buf2, len2, vk, "checkpoint", "does not verify");
    expect_fail(buf2, len2, vk, "manifest-signature", "does not verify");
    {
        /* our bundle, with the impostor's log.vkey and manifest key */
        struct bundle b;
        char vk2[520];
        json_t *m;
        uint8_t *out;
        size_t len;
        read_bundle(&b, f->buf, f->len);
        assert_int_equal(ldg_verifier_key(l2, vk2, 512), 0);
        m = member_json_get(&b, B_MANIFEST);
        json_object_set_new(m, "log_key", json_string(vk2));
        member_json_set(&b, B_MANIFEST, m);
        strcat(vk2, "\n");
        member_set(&b, B_VKEY, vk2, strlen(vk2));
        resign(&b, l2);
        write_bundle(&b, &out, &len);
        expect_fail(out, len, NULL, "checkpoint", "does not verify");
        free(out);
        bundle_release(&b);
    }
    free(buf2);
    free(vk);
    ldg_close(l2);
    rm_rf(dir2);
    free(dir2);
}

/*
 * A revoked key's later event. The core never appends one, so this builds
 * the forgery a log-key holder could: a fork where alice's key is revoked
 * at 2, and alice's event 4 from a copy of the ledger where she was not,
 * under one signed checkpoint over both. Every proof, the keys and the
 * chain hold; only the signatures check may (and must) catch it.
 */
static void
test_verify__revoked_keys_later_event_fails(void **state)
{
    static const char *const sel4[] = {"seq=4", NULL};
    struct fx *f = *state;
    char *dir = tmp_dir(), path[4200], cmd[8500], ck[512], rootb64[45];
    struct ldg_ledger *a, *b2;
    uint8_t *abuf, *bbuf, *out, leaves[5][32], root[32], proof[64][32];
    size_t alen, blen, len;
    struct bundle ab, bb;
    char *note;
    json_t *m, *list, *kj;
    uint64_t seq;
    char keyname[64] = "";

    (void)f;
    a = new_ledger(dir, "a");
    assert_int_equal(ldg_keys_add(a, "alice", NULL, &seq), 0);
    assert_int_equal(seq, 1);
    ldg_close(a);
    snprintf(path, sizeof path, "%s/a", dir);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s/b'", path, dir);
    assert_int_equal(system(cmd), 0);
    a = open_ledger(path);
    assert_int_equal(ldg_keys_revoke(a, "alice", "lost laptop", &seq), 0);
    assert_int_equal(seq, 2);
    add(a, "x.test.filler", NULL, "{\"n\":3}");
    snprintf(path, sizeof path, "%s/b", dir);
    b2 = open_ledger(path);
    add(b2, "x.test.filler", NULL, "{\"n\":2}");
    add(b2, "x.test.filler", NULL, "{\"n\":3}");
    assert_int_equal(add(b2, "x.test.deed", "alice", "{\"n\":4}"), 4);
    assert_int_equal(export_terms(a, NULL, &abuf, &alen), 0);
    assert_int_equal(export_terms(b2, NULL, &bbuf, &blen), 0);
    read_bundle(&ab, abuf, alen);
    read_bundle(&bb, bbuf, blen);
    /* the forged log: a's 0..2, b's 3..4 */
    for (uint64_t i = 0; i < 5; i++) {
        char e[48], p[48], bd[48];
        event_names(i, e, p, bd);
        struct bmember *src = member_get(i <= 2 ? &ab : &bb, e);
        leaf_of(leaves[i], src->data, src->len);
    }
    naive_root(root, (const uint8_t(*)[32])leaves, 0, 5);
    ldg_base64(rootb64, root, 32);
    snprintf(ck, sizeof ck, "%s\n5\n%s\n", ldg_origin(b2), rootb64);
    assert_int_equal(ldg_log_sign_note(b2, ck, strlen(ck), &note), 0);
    /* start from b's export of event 4 (with 0 and 1 as support) */
    free(bbuf);
    bundle_release(&bb);
    assert_int_equal(export_terms(b2, sel4, &bbuf, &blen), 0);
    read_bundle(&bb, bbuf, blen);
    {
        char e[48], p[48], bd[48];
        event_names(2, e, p, bd);
        member_set(&bb, e, member_get(&ab, e)->data, member_get(&ab, e)->len);
        member_set(&bb, bd, member_get(&ab, bd)->data,
                   member_get(&ab, bd)->len);
    }
    member_set(&bb, B_CHECKPOINT, note, strlen(note));
    for (uint64_t i = 0; i < 5; i++) {
        char e[48], p[48], bd[48], *pt;
        size_t n;
        if (i == 3)
            continue;
        event_names(i, e, p, bd);
        n = naive_path(proof, (const uint8_t(*)[32])leaves, i, 0, 5);
        pt = proof_text(i, (const uint8_t(*)[32])proof, n, note);
        member_set(&bb, p, pt, strlen(pt));
        free(pt);
    }
    for (size_t i = 0; i < bb.n; i++)
        if (strncmp(bb.m[i].name, "keys/", 5) == 0) {
            kj = member_json_get(&bb, bb.m[i].name);
            if (strcmp(json_string_value(json_object_get(kj, "actor")),
                       "alice") == 0) {
                snprintf(keyname, sizeof keyname, "%s", bb.m[i].name);
                json_object_set_new(kj, "revoked_seq", json_string("2"));
                member_json_set(&bb, keyname, kj);
                break;
            }
            json_decref(kj);
        }
    assert_true(keyname[0] != '\0');
    m = member_json_get(&bb, B_MANIFEST);
    json_object_set_new(json_object_get(m, "checkpoint"), "size",
                        json_string("5"));
    json_object_set_new(json_object_get(m, "checkpoint"), "root",
                        json_string(rootb64));
    list = json_object_get(m, "events");
    json_array_insert_new(list, 2,
                          json_pack("{s:s, s:s, s:s, s:s}", "seq", "2", "type",
                                    "key.revoked", "role", "support", "body",
                                    "full"));
    json_object_set_new(json_object_get(m, "counts"), "support",
                        json_string("3"));
    json_object_set_new(json_object_get(m, "counts"), "entries",
                        json_string("4"));
    member_json_set(&bb, B_MANIFEST, m);
    resign(&bb, b2);
    write_bundle(&bb, &out, &len);
    save_vector("tamper-revoked-key-later-event", out, len);
    {
        struct ldg_bundle_report r;
        int vrc = verify_mem(out, len, NULL, &r);
        if (vrc != LDG_ETAMPER)
            print_report(&r);
        assert_int_equal(vrc, LDG_ETAMPER);
        if (status_of(&r, "signatures") != LDG_CHECK_FAIL)
            print_report(&r);
        assert_int_equal(status_of(&r, "proofs"), LDG_CHECK_PASS);
        assert_int_equal(status_of(&r, "keys"), LDG_CHECK_PASS);
        assert_int_equal(status_of(&r, "chain"), LDG_CHECK_PASS);
        assert_int_equal(status_of(&r, "checkpoint"), LDG_CHECK_PASS);
        assert_int_equal(status_of(&r, "signatures"), LDG_CHECK_FAIL);
        assert_non_null(
            strstr(detail_of(&r, "signatures"), "was revoked at event 2"));
    }
    free(out);
    free(note);
    free(abuf);
    free(bbuf);
    bundle_release(&ab);
    bundle_release(&bb);
    ldg_close(a);
    ldg_close(b2);
    rm_rf(dir);
    free(dir);
}

static void
test_verify__key_event_missing_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48];
    json_t *m, *list, *rec;
    size_t i;
    uint8_t *out;
    size_t len;
    uint64_t aseq;

    read_bundle(&b, f->buf, f->len);
    aseq = first_of_type(&b, "key.added");
    event_names(aseq, e, p, bd);
    member_del(&b, e);
    member_del(&b, p);
    member_del(&b, bd);
    m = member_json_get(&b, B_MANIFEST);
    list = json_object_get(m, "events");
    json_array_foreach(list, i, rec)
    {
        if (strcmp(json_string_value(json_object_get(rec, "type")),
                   "key.added") == 0) {
            json_array_remove(list, i);
            break;
        }
    }
    member_json_set(&b, B_MANIFEST, m);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "signatures", "not established");
    expect_fail(out, len, NULL, "keys", "no proven event establishes");
    free(out);
    bundle_release(&b);
}

static void
test_verify__fake_erasure_marker_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    char e[48], p[48], bd[48];
    uint8_t *out;
    size_t len;
    json_t *m, *rec;
    size_t i;
    uint64_t seq;

    read_bundle(&b, f->buf, f->len);
    seq = first_of_type(&b, "run.step");
    event_names(seq, e, p, bd);
    member_set(&b, bd, "{\"erased\":true}", 15);
    m = member_json_get(&b, B_MANIFEST);
    json_array_foreach(json_object_get(m, "events"), i, rec)
    {
        if (strcmp(json_string_value(json_object_get(rec, "type")),
                   "run.step") == 0)
            json_object_set_new(rec, "body", json_string("erased"));
    }
    member_json_set(&b, B_MANIFEST, m);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    save_vector("tamper-fake-erasure", out, len);
    expect_fail(out, len, NULL, "erasures", "no proven body.erased");
    free(out);
    bundle_release(&b);
}

static void
test_verify__erased_body_verifies_with_its_erasure_event(void **state)
{
    static const char *const r2[] = {"run=R2", NULL};
    struct fx *f = *state;
    struct ldg_bundle_report r;
    struct bundle b;
    uint8_t *buf, *out;
    size_t len, olen;
    uint64_t target = 0, eseq;
    char e[48], p[48], bd[48], body[128];

    /* erase R2's run.started */
    read_bundle(&b, f->buf, f->len);
    bundle_release(&b);
    assert_int_equal(export_terms(f->l, r2, &buf, &len), 0);
    read_bundle(&b, buf, len);
    target = first_of_type(&b, "run.started");
    bundle_release(&b);
    free(buf);
    snprintf(body, sizeof body,
             "{\"target_seq\":%llu,\"reason\":\"GDPR request\"}",
             (unsigned long long)target);
    eseq = add(f->l, "body.erased", NULL, body);
    assert_int_equal(export_terms(f->l, r2, &buf, &len), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(r.bodies_erased, 1);
    assert_non_null(strstr(detail_of(&r, "redactions"), "erased"));
    /* without the body.erased event the erasure is unexplained */
    read_bundle(&b, buf, len);
    event_names(eseq, e, p, bd);
    assert_non_null(member_get(&b, e));
    member_del(&b, e);
    member_del(&b, p);
    member_del(&b, bd);
    {
        json_t *m = member_json_get(&b, B_MANIFEST), *rec;
        size_t i;
        json_array_foreach(json_object_get(m, "events"), i, rec)
        {
            if (strcmp(json_string_value(json_object_get(rec, "type")),
                       "body.erased") == 0) {
                json_array_remove(json_object_get(m, "events"), i);
                break;
            }
        }
        json_object_set_new(json_object_get(m, "counts"), "support",
                            json_string("1"));
        json_object_set_new(json_object_get(m, "counts"), "entries",
                            json_string("4"));
        member_json_set(&b, B_MANIFEST, m);
    }
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "erasures", "no proven body.erased");
    free(out);
    bundle_release(&b);
    free(buf);
}

static void
test_verify__withheld_field_filled_in_wrongly_fails(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    static char t0[] = "run=R1", f0[] = "requested_by";
    char *terms[] = {t0}, *fields[] = {f0};
    struct bundle b;
    uint8_t *buf, *out;
    size_t len, olen;
    uint64_t seq;
    char e[48], p[48], bd[48];
    json_t *body, *fl, *wh;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.nredact_fields = 1;
    o.redact_fields = fields;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    expect_pass(buf, len, NULL);
    read_bundle(&b, buf, len);
    seq = first_of_type(&b, "run.started");
    event_names(seq, e, p, bd);
    body = member_json_get(&b, bd);
    fl = json_object_get(body, "fields");
    wh = json_object_get(body, "withheld");
    assert_int_equal(json_array_size(wh), 1);
    /* claim a value for the withheld field, dropping its digest */
    json_object_set_new(fl, "requested_by",
                        json_pack("{s:s, s:s}", "salt",
                                  "AAAAAAAAAAAAAAAAAAAAAA==", "value",
                                  "eve@example.com"));
    json_array_clear(wh);
    member_json_set(&b, bd, body);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    save_vector("tamper-withheld-field-filled", out, olen);
    expect_fail(out, olen, NULL, "bodies", "commitment");
    free(out);
    bundle_release(&b);
    free(buf);
}

/* Nothing of the n bytes at needle, raw, base64 or hex, in any member of
 * b. */
static void
assert_nowhere(struct bundle *b, const uint8_t *needle, size_t n,
               const char *what)
{
    char b64[64], hex[2 * 32 + 1];
    ldg_base64(b64, needle, n);
    ldg_hex(hex, needle, n);
    b64[20] = '\0'; /* the first 15 bytes' characters, past any padding */
    for (size_t i = 0; i < b->n; i++) {
        const struct bmember *m = &b->m[i];
        if (memmem(m->data, m->len, needle, n) != NULL ||
            memmem(m->data, m->len, b64, strlen(b64)) != NULL ||
            memmem(m->data, m->len, hex, strlen(hex)) != NULL)
            fail_msg("%s is in member %s", what, m->name);
    }
}

/* Issue 49: a body of store layout 5 keeps one seed, its salts derived
 * (FORMAT.md 4). A redacted export discloses the derived salts of the
 * fields it discloses, and neither the seed nor the withheld field's salt
 * (nor its value) is anywhere in the bundle. */
static void
test_verify__a_seeded_body_discloses_derived_salts_only(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    static char t0[] = "type=x.test.seeded", f0[] = "beta";
    char *terms[] = {t0}, *fields[] = {f0};
    struct bundle b;
    struct ldg_txn *t;
    struct ldg_val v;
    uint8_t seed[LDG_SEED_LEN], salts[3][LDG_SALT_LEN];
    uint8_t *buf;
    size_t len;
    uint64_t seq;
    char e[48], p[48], bd[48], want[64];
    json_t *body, *fl;

    seq = add(f->l, "x.test.seeded", NULL,
              "{\"alpha\":\"A1\",\"beta\":\"B2-withheld-value\","
              "\"gamma\":\"C3\"}");
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_body_raw(t, seq, &v), 0);
    assert_true(v.len > 1 + LDG_SEED_LEN);
    /* layout 6's seeded record: its salts derived by AES */
    assert_int_equal(((const uint8_t *)v.data)[0], LDG_BODY_SEEDED_AES);
    memcpy(seed, (const uint8_t *)v.data + 1, LDG_SEED_LEN);
    ldg_txn_abort(t);
    ldg_seed_salts_aes(seed, 3, salts); /* alpha, beta, gamma: sorted */

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.nredact_fields = 1;
    o.redact_fields = fields;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    expect_pass(buf, len, NULL);
    read_bundle(&b, buf, len);
    event_names(seq, e, p, bd);
    body = member_json_get(&b, bd);
    fl = json_object_get(body, "fields");
    assert_int_equal(json_object_size(fl), 2);
    assert_null(json_object_get(fl, "beta"));
    assert_int_equal(json_array_size(json_object_get(body, "withheld")), 1);
    ldg_base64(want, salts[0], LDG_SALT_LEN);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(fl, "alpha"), "salt")),
                        want);
    ldg_base64(want, salts[2], LDG_SALT_LEN);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(fl, "gamma"), "salt")),
                        want);
    json_decref(body);
    assert_nowhere(&b, seed, LDG_SEED_LEN, "the seed");
    assert_nowhere(&b, salts[1], LDG_SALT_LEN, "the withheld field's salt");
    assert_nowhere(&b, (const uint8_t *)"B2-withheld-value", 17,
                   "the withheld value");
    bundle_release(&b);
    free(buf);
}

static void
test_verify__state_altered_fails(void **state)
{
    struct fx *f = *state;
    struct bundle b;
    json_t *st, *doc;
    uint8_t *out;
    size_t len;

    read_bundle(&b, f->buf, f->len);
    st = member_json_get(&b, B_STATE);
    assert_non_null(st);
    doc = json_object_get(st, "doctor");
    assert_true(json_is_object(doc));
    json_object_set_new(doc, "verdict", json_string("healthy-says-mallory"));
    member_json_set(&b, B_STATE, st);
    write_bundle(&b, &out, &len);
    save_vector("tamper-state-altered", out, len);
    expect_fail(out, len, NULL, "files", "state/projections.json");
    free(out);
    bundle_release(&b);
}

static void
test_verify__state_note_of_another_size_fails(void **state)
{
    static const char *const r1[] = {"run=R1", NULL};
    struct fx *f = *state;
    struct bundle b, later;
    uint8_t *buf2, *out;
    size_t len2, len;

    add(f->l, "x.test.later", NULL, "{\"n\":1}");
    assert_int_equal(export_terms(f->l, r1, &buf2, &len2), 0);
    read_bundle(&later, buf2, len2);
    read_bundle(&b, f->buf, f->len);
    member_set(&b, B_STATE_NOTE, member_get(&later, B_STATE_NOTE)->data,
               member_get(&later, B_STATE_NOTE)->len);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "state", "is not for");
    free(out);
    /* and the whole later state: its size is not the checkpoint's */
    member_set(&b, B_STATE, member_get(&later, B_STATE)->data,
               member_get(&later, B_STATE)->len);
    resign(&b, f->l);
    write_bundle(&b, &out, &len);
    expect_fail(out, len, NULL, "state", "the checkpoint for");
    free(out);
    bundle_release(&b);
    bundle_release(&later);
    free(buf2);
}

/* Enough events for the worker threads (128 and more), one of them bad. */
static void
test_verify__large_bundle_is_checked_on_threads(void **state)
{
    static const char *const sel[] = {"type=x.test.bulk", NULL};
    struct fx *f = *state;
    struct ldg_bundle_report r;
    struct bundle b;
    char e[48], p[48], bd[48];
    uint8_t *buf, *out;
    size_t len, olen;
    struct bmember *m;

    for (int i = 0; i < 400; i++)
        add(f->l, "x.test.bulk", i % 2 ? "alice" : NULL, "{\"i\":1}");
    assert_int_equal(export_terms(f->l, sel, &buf, &len), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(r.selected, 400);
    read_bundle(&b, buf, len);
    event_names(first_of_type(&b, "x.test.bulk") + 301, e, p, bd);
    m = member_get(&b, e);
    m->data[m->len - 1] ^= 1; /* the signature's last byte */
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "signatures", "does not verify");
    expect_fail(out, olen, NULL, "proofs", "not included");
    free(out);
    bundle_release(&b);
    free(buf);
}

/* What format-bundle.md promises beyond the digests, each broken in a
 * bundle whose manifest is then made consistent and re-signed: the counts,
 * the key files' names and the keys list, the withheld digests' form and
 * order, events.jsonl's keys, erased_by. */
enum spec_case {
    SC_BODIES_FULL,
    SC_FIELDS_WITHHELD,
    SC_COUNTS_EXTRA,
    SC_KEY_ACTOR,
    SC_KEY_FILE_EXTRA_FIELD,
    SC_LOG_KEY_FILE,
    SC_KEYS_LIST,
    SC_DIGEST_CASE,
    SC_DIGEST_ORDER,
    SC_JSONL_EXTRA_KEY,
    SC_WITHHELD_NAMES,
    SC_ERASED_BY,
    SC_N
};

static void
set_count(json_t *m, const char *k, const char *v)
{
    json_object_set_new(json_object_get(m, "counts"), k, json_string(v));
}

static void
test_verify__what_the_spec_promises_is_checked(void **state)
{
    struct fx *f = *state;
    static char t0[] = "run=R1", f0[] = "requested_by", f1[] = "intent";
    static const char *const r2[] = {"run=R2", NULL};
    char *terms[] = {t0}, *fields[] = {f0, f1};
    struct ldg_export_opts o;
    uint8_t *buf, *ebuf, *out;
    size_t len, elen, olen;
    char *vk = vkey_of(f->l), logfile[64], body[128];
    uint64_t target, eseq;
    struct bundle b;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.nredact_fields = 2;
    o.redact_fields = fields;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    expect_pass(buf, len, vk);
    /* an erased body, for erased_by */
    assert_int_equal(export_terms(f->l, r2, &ebuf, &elen), 0);
    read_bundle(&b, ebuf, elen);
    target = first_of_type(&b, "run.started");
    bundle_release(&b);
    free(ebuf);
    snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"x\"}",
             (unsigned long long)target);
    eseq = add(f->l, "body.erased", NULL, body);
    assert_int_equal(export_terms(f->l, r2, &ebuf, &elen), 0);
    expect_pass(ebuf, elen, vk);
    snprintf(logfile, sizeof logfile, "keys/%s.json",
             ldg_log_key(f->l)->key_id);

    for (int c = 0; c < SC_N; c++) {
        const char *check = "events", *needle = NULL;
        json_t *m, *rec;
        size_t i;
        read_bundle(&b, c == SC_ERASED_BY ? ebuf : buf,
                    c == SC_ERASED_BY ? elen : len);
        m = member_json_get(&b, B_MANIFEST);
        switch (c) {
        case SC_BODIES_FULL:
            set_count(m, "bodies_full", "6");
            needle = "counts.bodies_full";
            break;
        case SC_FIELDS_WITHHELD:
            set_count(m, "fields_withheld", "0");
            needle = "counts.fields_withheld";
            break;
        case SC_COUNTS_EXTRA:
            set_count(m, "bodies_lost", "0");
            needle = "counts";
            break;
        case SC_KEY_ACTOR:
        case SC_KEY_FILE_EXTRA_FIELD: {
            char kf[64];
            json_t *k;
            snprintf(kf, sizeof kf, "keys/%s.json",
                     json_string_value(json_array_get(
                         json_object_get(m, "keys"),
                         strcmp(json_string_value(json_array_get(
                                    json_object_get(m, "keys"), 0)),
                                ldg_log_key(f->l)->key_id) == 0)));
            k = member_json_get(&b, kf);
            if (c == SC_KEY_ACTOR)
                json_object_set_new(k, "actor", json_string("mallory"));
            else
                json_object_set_new(k, "note", json_string("x"));
            member_json_set(&b, kf, k);
            check = "keys";
            needle = "actor name";
            break;
        }
        case SC_LOG_KEY_FILE: {
            json_t *keys = json_object_get(m, "keys");
            json_array_foreach(keys, i, rec)
            {
                if (strcmp(json_string_value(rec), ldg_log_key(f->l)->key_id) ==
                    0) {
                    json_array_remove(keys, i);
                    break;
                }
            }
            member_del(&b, logfile);
            check = "keys";
            needle = "(the log key) is missing";
            break;
        }
        case SC_KEYS_LIST:
            json_array_append_new(json_object_get(m, "keys"),
                                  json_string(ldg_log_key(f->l)->key_id));
            check = "keys";
            needle = "twice";
            break;
        case SC_DIGEST_CASE:
        case SC_DIGEST_ORDER: {
            char e[48], p[48], bd[48];
            json_t *bdy, *wh;
            event_names(first_of_type(&b, "run.started"), e, p, bd);
            bdy = member_json_get(&b, bd);
            wh = json_object_get(bdy, "withheld");
            assert_int_equal(json_array_size(wh), 2);
            if (c == SC_DIGEST_CASE) {
                char up[65];
                snprintf(up, sizeof up, "%s",
                         json_string_value(json_array_get(wh, 0)));
                for (char *q = up; *q; q++)
                    if (*q >= 'a' && *q <= 'f')
                        *q = (char)(*q - 'a' + 'A');
                json_array_set_new(wh, 0, json_string(up));
                needle = "lowercase";
            } else {
                json_t *x = json_incref(json_array_get(wh, 0));
                json_array_remove(wh, 0);
                json_array_append_new(wh, x);
                needle = "increasing order";
            }
            member_json_set(&b, bd, bdy);
            check = "bodies";
            break;
        }
        case SC_JSONL_EXTRA_KEY:
        case SC_WITHHELD_NAMES: {
            const struct bmember *jm = member_get(&b, B_EVENTS);
            const char *nl = memchr(jm->data, '\n', jm->len);
            size_t l1 = (size_t)(nl - (const char *)jm->data);
            json_t *line = json_loadb((const char *)jm->data, l1, 0, NULL);
            char *s1, *all;
            size_t n1;
            assert_non_null(line);
            if (c == SC_JSONL_EXTRA_KEY) {
                json_object_set_new(line, "approved", json_true());
                needle = "unexpected key";
            } else {
                assert_non_null(json_object_get(line, "withheld"));
                json_object_set_new(line, "withheld", json_pack("[s]", "x"));
                needle = "withheld count";
            }
            s1 = json_dumps(line, JSON_COMPACT);
            n1 = strlen(s1);
            all = malloc(n1 + jm->len - l1);
            memcpy(all, s1, n1);
            memcpy(all + n1, nl, jm->len - l1);
            member_set(&b, B_EVENTS, all, n1 + jm->len - l1);
            free(all);
            free(s1);
            json_decref(line);
            break;
        }
        case SC_ERASED_BY:
            json_array_foreach(json_object_get(m, "events"), i, rec)
            {
                if (json_object_get(rec, "erased_by") != NULL) {
                    char s[24];
                    assert_string_equal(
                        json_string_value(json_object_get(rec, "erased_by")),
                        (snprintf(s, sizeof s, "%llu",
                                  (unsigned long long)eseq),
                         s));
                    json_object_set_new(rec, "erased_by", json_string("0"));
                }
            }
            needle = "erased_by";
            break;
        }
        member_json_set(&b, B_MANIFEST, m);
        resign(&b, f->l);
        write_bundle(&b, &out, &olen);
        if (c == SC_BODIES_FULL)
            save_vector("tamper-counts-bodies-full", out, olen);
        fprintf(stderr, "case %d: %s\n", c, needle);
        expect_fail(out, olen, vk, check, needle);
        free(out);
        bundle_release(&b);
    }
    free(ebuf);
    free(buf);
    free(vk);
}

/* A projection note the manifest names but the bundle lacks is a warning
 * that says so; one the manifest does not name is a failure. */
static void
test_verify__projection_note_named_but_missing_warns(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    char *vk = vkey_of(f->l);
    struct bundle b;
    uint8_t *out;
    size_t olen;
    json_t *m;

    read_bundle(&b, f->buf, f->len);
    assert_non_null(member_get(&b, B_STATE_NOTE));
    member_del(&b, B_STATE_NOTE);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    assert_int_equal(verify_mem(out, olen, vk, &r), 0);
    assert_int_equal(status_of(&r, "state"), LDG_CHECK_WARN);
    assert_non_null(
        strstr(detail_of(&r, "state"), "names the projection note"));
    free(out);
    bundle_release(&b);
    read_bundle(&b, f->buf, f->len);
    m = member_json_get(&b, B_MANIFEST);
    json_object_set_new(json_object_get(m, "state"), "note", json_null());
    member_json_set(&b, B_MANIFEST, m);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "state", "does not name");
    free(out);
    bundle_release(&b);
    free(vk);
}

/* No trust anchor: refused before the bundle is read, saying what to
 * pass; the insecure choice has to be spelt out. A file that is not there
 * is said first (66 before 64): no trust flag would make it appear. */
static void
test_verify__without_a_trust_anchor_nothing_is_checked(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_verify_opts o;
    struct ldg_bundle_report r;

    memset(&o, 0, sizeof o);
    assert_int_equal(ldg_export_verify_mem(f->buf, f->len, &o, &r), LDG_EKEY);
    assert_false(r.readable);
    assert_int_equal(r.nchecks, 1);
    assert_int_equal(status_of(&r, "log-key"), LDG_CHECK_FAIL);
    assert_non_null(strstr(r.checks[0].detail, "--trusted-key"));
    assert_int_equal(ldg_export_verify_mem(f->buf, f->len, NULL, &r), LDG_EKEY);
    assert_int_equal(ldg_export_verify("/nonexistent/b", &o, &r),
                     LDG_ENOTFOUND);
    assert_int_equal(r.nchecks, 1);
    assert_int_equal(status_of(&r, "archive"), LDG_CHECK_FAIL);
    assert_non_null(strstr(r.checks[0].detail, "/nonexistent/b"));
    /* a directory: no input there either (not an I/O error) */
    assert_int_equal(ldg_export_verify("/", &o, &r), LDG_ENOTFOUND);
    assert_non_null(strstr(r.checks[0].detail, "Is a directory"));
    o.insecure_trust_bundle_key = 1;
    assert_int_equal(ldg_export_verify_mem(f->buf, f->len, &o, &r), 0);
    assert_int_equal(status_of(&r, "log-key"), LDG_CHECK_WARN);
}

static void
test_verify__garbage_is_not_a_bundle(void **state)
{
    struct ldg_bundle_report r;
    uint8_t junk[4096];
    (void)state;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(verify_mem(junk, sizeof junk, NULL, &r), LDG_EBADINPUT);
    assert_false(r.readable);
    assert_int_equal(status_of(&r, "archive"), LDG_CHECK_FAIL);
    assert_int_equal(verify_mem(junk, 0, NULL, &r), LDG_EBADINPUT);
}

static void
test_verify__every_truncation_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    size_t step = f->len / 97 + 1;

    for (size_t n = 0; n < f->len; n += step) {
        int rc = verify_mem(f->buf, n, NULL, &r);
        if (rc == 0)
            fprintf(stderr, "truncated to %zu of %zu bytes: accepted\n", n,
                    f->len);
        assert_true(rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
        assert_false(r.readable);
    }
}

/* The decompressed content of a zstd stream (NULL if it does not
 * decompress). */
static uint8_t *
unzstd(const uint8_t *p, size_t n, size_t *out_len)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t cap = 1 << 20, len = 0, r = 1;
    uint8_t *out = malloc(cap);
    ZSTD_inBuffer in = {p, n, 0};

    while (in.pos < in.size || r != 0) {
        ZSTD_outBuffer ob;
        size_t before = in.pos;
        if (len == cap)
            out = realloc(out, cap *= 2);
        ob.dst = out + len;
        ob.size = cap - len;
        ob.pos = 0;
        r = ZSTD_decompressStream(d, &ob, &in);
        if (ZSTD_isError(r) || (ob.pos == 0 && in.pos == before)) {
            free(out);
            out = NULL;
            break;
        }
        len += ob.pos;
    }
    ZSTD_freeDCtx(d);
    *out_len = len;
    return out;
}

/*
 * Every single-bit change of the file is refused, except the few that
 * zstd itself ignores (unused header bits, bitstream padding): those
 * leave the decompressed archive byte for byte the same, and only they
 * may pass.
 */
static void
test_verify__bit_flips_pass_only_if_the_content_is_unchanged(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    uint8_t *copy = malloc(f->len), *orig, *got;
    size_t olen, glen, step = f->len / 97 + 1;

    orig = unzstd(f->buf, f->len, &olen);
    assert_non_null(orig);
    for (size_t i = 0; i < f->len; i += step) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, f->buf, f->len);
            copy[i] ^= (uint8_t)(1 << bit);
            if (verify_mem(copy, f->len, NULL, &r) != 0)
                continue;
            got = unzstd(copy, f->len, &glen);
            if (got == NULL || glen != olen || memcmp(got, orig, olen) != 0)
                fprintf(stderr,
                        "flip of bit %d at %zu: accepted with other "
                        "content\n",
                        bit, i);
            assert_non_null(got);
            assert_int_equal(glen, olen);
            assert_memory_equal(got, orig, olen);
            free(got);
        }
    }
    free(orig);
    free(copy);
}

/* ------------------------------------ cosignatures, trusted checkpoint -- */

/* The checkpoint of size (0: latest), malloc'd. */
static char *
stored_checkpoint(struct ldg_ledger *l, uint64_t size)
{
    struct ldg_txn *t;
    char *ck = NULL;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, size, &ck), 0);
    ldg_txn_abort(t);
    return ck;
}

static int
verify_policy(const uint8_t *buf, size_t len, const char *tc,
              const char *const *wk, size_t nw, unsigned quorum,
              struct ldg_bundle_report *r)
{
    struct ldg_bundle_verify_opts o;
    memset(&o, 0, sizeof o);
    o.trusted_checkpoint = tc;
    o.trusted_checkpoint_len = tc ? strlen(tc) : 0;
    o.insecure_trust_bundle_key = tc == NULL;
    o.witness_keys = wk;
    o.nwitness_keys = nw;
    o.quorum = quorum;
    o.threads = 2;
    return ldg_export_verify_mem(buf, len, &o, r);
}

/* A bundle carries a cosigned checkpoint of an older size with the proof
 * to its own; a k-of-n policy and a trusted checkpoint hold it; a proof
 * that does not link them, a missing member or a forged cosignature fail;
 * a cosigned note of another log is refused by export. */
static void
test_verify__cosignatures_witness_policy_and_trusted_checkpoint(void **state)
{
    static const char *const r1[] = {"run=R1"};
    struct fx *f = *state;
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    struct ldg_key *w1, *w2;
    char v1[256], v2[256], *line = NULL, *ck, *cosigned, *latest;
    const char *both[2];
    uint8_t *buf = NULL, *out = NULL;
    size_t len, olen;
    struct bundle b;

    assert_int_equal(ldg_key_generate(&w1, "w1"), 0);
    assert_int_equal(ldg_key_generate(&w2, "w2"), 0);
    assert_true(ldg_cosig_verifier(v1, sizeof v1, "w.example/w1", w1->pub) > 0);
    assert_true(ldg_cosig_verifier(v2, sizeof v2, "w.example/w2", w2->pub) > 0);
    both[0] = v1;
    both[1] = v2;
    ck = stored_checkpoint(f->l, f->size - 2);
    /* the witness cosigns the checkpoint text (up to the blank line) */
    assert_int_equal(ldg_cosig_sign(&line, ck,
                                    (size_t)(strstr(ck, "\n\n") - ck) + 1,
                                    "w.example/w1", w1, 1795000000),
                     0);
    cosigned = malloc(strlen(ck) + strlen(line) + 1);
    sprintf(cosigned, "%s%s", ck, line);

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = (char *const *)(uintptr_t)r1;
    o.cosigned_note = cosigned;
    o.cosigned_len = strlen(cosigned);
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(rep.cosigned_size, f->size - 2);
    assert_int_equal(rep.cosignatures, 1);

    /* 1 of 1, then 2 of 2 with w2 missing */
    assert_int_equal(verify_policy(buf, len, NULL, both, 1, 1, &r), 0);
    assert_int_equal(status_of(&r, "cosignatures"), LDG_CHECK_PASS);
    assert_int_equal(status_of(&r, "witnesses"), LDG_CHECK_PASS);
    assert_int_equal(r.witnesses_cosigned, 1);
    assert_int_equal(r.cosigned_size, f->size - 2);
    assert_int_equal(verify_policy(buf, len, NULL, both, 2, 2, &r),
                     LDG_ETAMPER);
    assert_non_null(strstr(detail_of(&r, "witnesses"), "1 of 2 cosigned"));
    assert_non_null(
        strstr(detail_of(&r, "witnesses"), "missing: w.example/w2"));
    assert_null(strstr(detail_of(&r, "witnesses"), "missing: w.example/w1"));

    /* the cosigned checkpoint as the only trust anchor; the latest too */
    assert_int_equal(verify_policy(buf, len, ck, NULL, 0, 0, &r), 0);
    assert_true(r.checkpoint_trusted);
    assert_false(r.key_trusted);
    assert_int_equal(status_of(&r, "trusted-checkpoint"), LDG_CHECK_PASS);
    latest = stored_checkpoint(f->l, 0);
    assert_int_equal(verify_policy(buf, len, latest, NULL, 0, 0, &r), 0);
    free(latest);
    /* a checkpoint of another size: nothing links it */
    latest = stored_checkpoint(f->l, f->size - 1);
    assert_int_equal(verify_policy(buf, len, latest, NULL, 0, 0, &r),
                     LDG_ETAMPER);
    assert_non_null(
        strstr(detail_of(&r, "trusted-checkpoint"), "no proof links them"));
    free(latest);

    /* a consistency proof from another size, manifest re-signed */
    read_bundle(&b, buf, len);
    {
        struct ldg_txn *t;
        char *other = NULL;
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_consistency_text(t, f->size - 3, 0, &other), 0);
        ldg_txn_abort(t);
        member_set(&b, B_COSIGNED_PROOF, other, strlen(other));
        free(other);
    }
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    save_vector("tamper-cosigned-consistency", out, olen);
    assert_int_equal(verify_policy(out, olen, NULL, both, 1, 1, &r),
                     LDG_ETAMPER);
    assert_int_equal(status_of(&r, "cosignatures"), LDG_CHECK_FAIL);
    assert_int_equal(status_of(&r, "witnesses"), LDG_CHECK_FAIL);
    free(out);
    /* the proof left out */
    member_del(&b, B_COSIGNED_PROOF);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    assert_int_equal(verify_policy(out, olen, NULL, NULL, 0, 0, &r),
                     LDG_ETAMPER);
    assert_non_null(strstr(detail_of(&r, "cosignatures"), "without"));
    free(out);
    bundle_release(&b);

    /* a forged cosignature line by w1: the policy fails, never counts */
    read_bundle(&b, buf, len);
    {
        struct bmember *m = member_get(&b, B_COSIGNED);
        size_t at = m->len - 10; /* inside w1's signature, in base64 */
        char *copy = malloc(m->len);
        memcpy(copy, m->data, m->len);
        copy[at] = copy[at] == 'A' ? 'B' : 'A';
        member_set(&b, B_COSIGNED, copy, m->len);
        free(copy);
    }
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    assert_int_equal(verify_policy(out, olen, NULL, both, 1, 1, &r),
                     LDG_ETAMPER);
    assert_int_equal(status_of(&r, "witnesses"), LDG_CHECK_FAIL);
    assert_non_null(strstr(detail_of(&r, "witnesses"), "does not verify"));
    assert_int_equal(r.witnesses_cosigned, 0);
    free(out);
    bundle_release(&b);
    free(buf);

    /* export refuses a cosigned note that is not this log's */
    {
        struct ldg_ledger *other = new_ledger(f->dir, "other");
        char *ock;
        seed_history(other);
        ock = stored_checkpoint(other, 0);
        o.cosigned_note = ock;
        o.cosigned_len = strlen(ock);
        assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), LDG_ECORRUPT);
        assert_non_null(strstr(ldg_errmsg(f->l), "cosigned checkpoint"));
        free(ock);
        ldg_close(other);
    }
    free(line);
    free(cosigned);
    free(ck);
    ldg_key_free(w1);
    ldg_key_free(w2);
}

/* "model_at" (issue 14): a route decision shows the digest its model had
 * then and whether its weights were hashed, backed by the model.registered
 * and model.verified the bundle carries as support; a line whose model_at
 * the bundle's events do not back fails "events" even re-signed; with a
 * redaction, no model_at and no model support events. */
static void
test_verify__model_at_is_backed_by_support_events(void **state)
{
    static const char *const terms[] = {"type=route.decision", NULL};
    struct fx *f = *state;
    struct bundle b;
    struct bmember *m;
    uint8_t *buf, *out;
    size_t len, olen;
    char *txt, *p;
    struct ldg_bundle_report r;

    add(f->l, "model.registered", NULL,
        "{\"model\":\"qwen\",\"digest\":\"sha256:aa\"}");
    add(f->l, "model.verified", NULL,
        "{\"model\":\"qwen\",\"digest\":\"sha256:aa\",\"ok\":true}");
    add(f->l, "route.decision", "alice",
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\"}");
    add(f->l, "model.registered", NULL,
        "{\"model\":\"qwen\",\"digest\":\"sha256:bb\"}");
    add(f->l, "route.decision", "alice",
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\"}");
    assert_int_equal(export_terms(f->l, terms, &buf, &len), 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(r.selected, 3); /* the seeded decision and two new */
    read_bundle(&b, buf, len);
    m = member_get(&b, B_EVENTS);
    txt = strndup((const char *)m->data, m->len);
    /* the first decision: no registration before it */
    assert_non_null(strstr(txt, "\"model_at\":{\"model\":\"qwen\",\"digest\":"
                                "null,\"verified\":false,\"ever_verified\":"
                                "false}"));
    assert_non_null(strstr(txt, "\"digest\":\"sha256:aa\",\"registered_seq\":"
                                "\"8\",\"verified\":true,\"ever_verified\":"
                                "true,\"verified_seq\":\"9\""));
    assert_non_null(strstr(txt, "\"digest\":\"sha256:bb\",\"registered_seq\":"
                                "\"11\",\"verified\":false,\"ever_verified\":"
                                "false}"));
    /* tampered: the second decision's weights claimed verified */
    p = strstr(txt,
               "\"sha256:bb\",\"registered_seq\":\"11\",\"verified\":false");
    assert_non_null(p);
    memcpy(strstr(p, "false"), "true ", 5);
    member_set(&b, B_EVENTS, txt, strlen(txt));
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "events", "model_at");
    free(out);
    /* tampered: another digest than the registration's */
    memcpy(strstr(txt, "true ,"), "false,", 6);
    p = strstr(txt, "sha256:bb");
    p[8] = 'c';
    member_set(&b, B_EVENTS, txt, strlen(txt));
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "events", "has no model.registered");
    free(out);
    free(txt);
    bundle_release(&b);
    free(buf);
    /* with a redaction: no model_at, no model support events */
    {
        struct ldg_export_opts o;
        char red0[] = "route", *red[] = {red0};
        memset(&o, 0, sizeof o);
        o.nterms = 1;
        o.terms = (char *const *)(uintptr_t)terms;
        o.nredact_fields = 1;
        o.redact_fields = red;
        /* the subject route:R repeats the withheld route: accepted here */
        o.allow_envelope_disclosure = 1;
        assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
        assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
        read_bundle(&b, buf, len);
        m = member_get(&b, B_EVENTS);
        assert_null(memmem(m->data, m->len, "model_at", 8));
        m = member_get(&b, B_MANIFEST);
        assert_null(memmem(m->data, m->len, "model.registered", 16));
        bundle_release(&b);
        free(buf);
    }
}

/* Issue 29: two changes an exporter could make and re-sign with the log
 * key, each now refused as docs/format-bundle.md sections 5 and 7 say:
 * a line of events.jsonl without its model_at (due on every route
 * decision, eval and promotion whose whole body names a model, in a
 * bundle made without redaction), and a manifest state.size (or scope)
 * other than the state's. */
static void
test_verify__model_at_dropped_or_state_size_changed_fails(void **state)
{
    static const char *const terms[] = {"type=route.decision", NULL};
    struct fx *f = *state;
    struct bundle b;
    struct bmember *m;
    uint8_t *buf, *out;
    size_t len, olen;
    char *txt, *p, *q;
    json_t *man, *st;

    add(f->l, "model.registered", NULL,
        "{\"model\":\"qwen\",\"digest\":\"sha256:aa\"}");
    add(f->l, "route.decision", "alice",
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\"}");
    assert_int_equal(export_terms(f->l, terms, &buf, &len), 0);
    expect_pass(buf, len, NULL);

    /* the last decision's model_at taken out of its line */
    read_bundle(&b, buf, len);
    m = member_get(&b, B_EVENTS);
    txt = strndup((const char *)m->data, m->len);
    p = strstr(txt,
               ",\"model_at\":{\"model\":\"qwen\",\"digest\":\"sha256:aa\"");
    assert_non_null(p);
    q = strchr(p, '}');
    assert_non_null(q);
    memmove(p, q + 1, strlen(q + 1) + 1);
    member_set(&b, B_EVENTS, txt, strlen(txt));
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    save_vector("tamper-model-at-dropped", out, olen);
    expect_fail(out, olen, NULL, "events", "no model_at");
    free(out);
    free(txt);
    bundle_release(&b);

    /* the manifest's state.size changed */
    read_bundle(&b, buf, len);
    man = member_json_get(&b, B_MANIFEST);
    st = json_object_get(man, "state");
    assert_true(json_is_true(json_object_get(st, "included")));
    json_object_set_new(st, "size", json_string("1"));
    member_json_set(&b, B_MANIFEST, man);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    save_vector("tamper-state-size", out, olen);
    expect_fail(out, olen, NULL, "state", "state.size is 1");
    free(out);
    bundle_release(&b);

    /* ... or its scope */
    read_bundle(&b, buf, len);
    man = member_json_get(&b, B_MANIFEST);
    st = json_object_get(man, "state");
    json_object_set_new(st, "scope", json_string("run"));
    member_json_set(&b, B_MANIFEST, man);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "state", "state.scope is run");
    free(out);
    bundle_release(&b);

    /* a model_at in a bundle whose manifest declares a redaction */
    read_bundle(&b, buf, len);
    man = member_json_get(&b, B_MANIFEST);
    json_object_set_new(json_object_get(man, "redaction"), "fields",
                        json_string("1"));
    member_json_set(&b, B_MANIFEST, man);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, NULL, "events", "unexpected key 'model_at'");
    free(out);
    bundle_release(&b);
    free(buf);
}

/* Issue 29: a body all of whose fields --redact withholds is "withheld"
 * (format-bundle.md section 3), as an empty body --redact-body names is
 * "full": the label says what the member holds, and the bundle verifies. */
static void
test_verify__bodies_labelled_by_what_they_hold(void **state)
{
    static const char *const terms[] = {"type=x.d", NULL};
    struct fx *f = *state;
    struct ldg_export_opts o;
    struct ldg_export_report rep;
    struct ldg_bundle_report r;
    char fa[] = "a", fb[] = "b", xe[] = "x.e", *red[] = {fa, fb},
         *types[] = {xe};
    uint8_t *buf;
    size_t len;

    add(f->l, "x.d", NULL, "{\"a\":1,\"b\":2}");
    add(f->l, "x.e", NULL, "{}");
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = (char *const *)(uintptr_t)terms;
    o.nredact_fields = 2;
    o.redact_fields = red;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
    assert_int_equal(rep.bodies_withheld, 1);
    assert_int_equal(rep.bodies_redacted, 0);
    assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
    assert_int_equal(r.bodies_withheld, 1);
    free(buf);
    {
        static const char *const t2[] = {"type=x.e", NULL};
        o.terms = (char *const *)(uintptr_t)t2;
        o.nredact_fields = 0;
        o.redact_fields = NULL;
        o.nredact_types = 1;
        o.redact_types = types;
        assert_int_equal(export_mem(f->l, &o, &buf, &len, &rep), 0);
        assert_int_equal(rep.bodies_withheld, 0);
        assert_int_equal(verify_mem(buf, len, NULL, &r), 0);
        free(buf);
    }
}

/* ------------------------------------------- format 2: seals -- */

/* A format 2 ledger where alice's three events of run R1 share one seal
 * (one batch) and the log key's events have seals of their own. */
static struct ldg_ledger *
sealed_ledger(const char *dir)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_batch *b = NULL;
    char path[4200], err[512];
    static const char *const bodies[] = {
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\","
        "\"run\":\"R1\"}",
        "{\"run\":\"R1\",\"step\":\"ocr\",\"tool\":\"tesseract\","
        "\"status\":\"ok\"}",
        "{\"run\":\"R1\",\"step\":\"table\",\"tool\":\"camelot\","
        "\"status\":\"ok\"}"};
    static const char *const types[] = {"route.decision", "run.step",
                                        "run.step"};
    uint64_t seq;

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.format = 2;
    snprintf(path, sizeof path, "%s/l2", dir);
    if (ldg_init(path, NULL, &o, err, sizeof err) < 0 ||
        ldg_open(&l, path, &o, err, sizeof err) < 0) {
        fprintf(stderr, "ledger %s: %s\n", path, err);
        abort();
    }
    assert_int_equal(ldg_format(l), 2);
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    add(l, "run.started", NULL, "{\"run\":\"R1\",\"pack\":\"pdf-ops\"}");
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    for (size_t i = 0; i < 3; i++) {
        struct ldg_event_in in;
        memset(&in, 0, sizeof in);
        in.type = types[i];
        in.actor = "alice";
        in.body = json_loads(bodies[i], 0, NULL);
        assert_int_equal(ldg_batch_add(b, &in), 0);
        json_decref(in.body);
    }
    assert_int_equal(ldg_batch_commit(b, NULL, NULL), 0);
    ldg_batch_free(b);
    add(l, "run.finished", NULL, "{\"run\":\"R1\",\"status\":\"ok\"}");
    return l;
}

/* Flips one bit of member name (at offset off from its end). */
static void
flip_in(struct bundle *b, const char *name, size_t from_end)
{
    struct bmember *m = member_get(b, name);
    assert_non_null(m);
    assert_true(m->len > from_end);
    m->data[m->len - 1 - from_end] ^= 0x01;
}

static void
test_verify__sealed_events_carry_their_seals(void **state)
{
    static const char *const r1[] = {"run=R1", NULL};
    struct fx *f = *state;
    char *dir = tmp_dir();
    struct ldg_ledger *l = sealed_ledger(dir);
    char *vk = vkey_of(l);
    uint8_t *buf = NULL, *out;
    size_t len, olen;
    struct bundle b;
    uint64_t step;
    char name[64], name2[64];
    (void)f;
    assert_int_equal(export_terms(l, r1, &buf, &len), 0);
    expect_pass(buf, len, vk);

    read_bundle(&b, buf, len);
    step = first_of_type(&b, "run.step"); /* leaf 1 of alice's seal */
    /* the members: one seal for alice's three events, a path per event */
    snprintf(name, sizeof name, "seals/%llu.seal",
             (unsigned long long)(step - 1));
    assert_non_null(member_get(&b, name));
    snprintf(name2, sizeof name2, "sealproofs/%llu.proof",
             (unsigned long long)step);
    assert_int_equal(member_get(&b, name2)->len, 2 * 45); /* 3 leaves */
    snprintf(name2, sizeof name2, "seals/%llu.seal", (unsigned long long)step);
    assert_null(member_get(&b, name2));
    bundle_release(&b);

    /* a bit of the seal's signature flipped: every event it covers */
    read_bundle(&b, buf, len);
    flip_in(&b, name, 3);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "does not verify with key");
    free(out);
    bundle_release(&b);

    /* a bit of the seal map (its root) flipped */
    read_bundle(&b, buf, len);
    flip_in(&b, name, 70);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", NULL);
    free(out);
    bundle_release(&b);

    /* the path of one event altered: that event is not in the seal */
    read_bundle(&b, buf, len);
    snprintf(name2, sizeof name2, "sealproofs/%llu.proof",
             (unsigned long long)step);
    {
        struct bmember *m = member_get(&b, name2);
        m->data[0] = m->data[0] == 'A' ? 'B' : 'A';
    }
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    {
        char want[96];
        snprintf(want, sizeof want, "event %llu: its claim is not in seal",
                 (unsigned long long)step);
        expect_fail(out, olen, vk, "signatures", want);
    }
    free(out);
    bundle_release(&b);

    /* the path cut short: not the seal's either */
    read_bundle(&b, buf, len);
    {
        char first_hash[45];
        memcpy(first_hash, member_get(&b, name2)->data, 45);
        member_set(&b, name2, first_hash, 45);
    }
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "is not in seal");
    free(out);
    bundle_release(&b);

    /* the seal left out */
    read_bundle(&b, buf, len);
    member_del(&b, name);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "is not in the bundle");
    free(out);
    bundle_release(&b);

    /* the seal proof left out */
    read_bundle(&b, buf, len);
    member_del(&b, name2);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "no seal proof");
    free(out);
    bundle_release(&b);

    /* alice's seal replaced by the log key's seal of another event: the
     * claim's actor is not the seal's key */
    read_bundle(&b, buf, len);
    {
        uint64_t first = first_of_type(&b, "run.started");
        struct bmember *other;
        snprintf(name2, sizeof name2, "seals/%llu.seal",
                 (unsigned long long)first);
        other = member_get(&b, name2);
        assert_non_null(other);
        member_set(&b, name, other->data, other->len);
    }
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "but its seal");
    free(out);
    bundle_release(&b);

    /* a seal no event of the bundle is under */
    read_bundle(&b, buf, len);
    {
        struct bmember *m = member_get(&b, name);
        member_set(&b, "seals/999.seal", m->data, m->len);
    }
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "seals/999.seal: no sealed event");
    free(out);
    bundle_release(&b);

    /* a seal proof for an event the bundle does not carry */
    read_bundle(&b, buf, len);
    member_set(&b, "sealproofs/999.proof", "", 0);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures",
                "sealproofs/999.proof: no sealed event of the bundle is this "
                "one");
    free(out);
    bundle_release(&b);

    /* without re-signing, the files check names the change too */
    read_bundle(&b, buf, len);
    flip_in(&b, name, 3);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "files", "digest does not match");
    free(out);
    bundle_release(&b);

    free(buf);
    free(vk);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

/* Each seal's signature is checked once, however many of the bundle's
 * events it covers, and a remembered result stands only for the very
 * record bytes and key it was computed with. */
static void
test_verify__each_seal_is_checked_once(void **state)
{
    static const char *const r1[] = {"run=R1", NULL};
    char *dir = tmp_dir();
    struct ldg_ledger *l = sealed_ledger(dir);
    char *vk = vkey_of(l);
    uint8_t *buf = NULL, *out, pub[32], other[32], *copy;
    size_t len, olen, nseals = 0, nentries = 0;
    struct ldg_bundle_report r;
    struct bundle b;
    struct bmember *m;
    struct ldg_seal seal, bad;
    struct vctx v;
    uint64_t step, first;
    char name[64], want[96];
    (void)state;
    assert_int_equal(export_terms(l, r1, &buf, &len), 0);

    /* a good bundle: as many checks as seals, fewer than sealed events */
    assert_int_equal(verify_mem(buf, len, vk, &r), 0);
    read_bundle(&b, buf, len);
    for (size_t i = 0; i < b.n; i++) {
        uint64_t q;
        enum bname k = bundle_name_kind(b.m[i].name, &q);
        nseals += k == BN_SEAL;
        nentries += k == BN_ENTRY;
    }
    assert_true(nseals >= 2 && nseals < nentries);
    snprintf(want, sizeof want, "%zu sealed", nentries);
    assert_non_null(strstr(detail_of(&r, "signatures"), want));
    snprintf(want, sizeof want, "; %zu seal signature checks for %zu seals",
             nseals, nseals);
    assert_non_null(strstr(detail_of(&r, "signatures"), want));

    /* alice's seal (three events) with its signature flipped: one check,
     * still a failure for each of the three */
    step = first_of_type(&b, "run.step");
    snprintf(name, sizeof name, "seals/%llu.seal",
             (unsigned long long)(step - 1));
    flip_in(&b, name, 3);
    resign(&b, l);
    write_bundle(&b, &out, &olen);
    expect_fail(out, olen, vk, "signatures", "does not verify with key");
    assert_int_equal(verify_mem(out, olen, vk, &r), LDG_ETAMPER);
    assert_non_null(strstr(detail_of(&r, "signatures"), "(and 2 more)"));
    free(out);
    bundle_release(&b);

    /* the cache itself: the log key's seal of run.started */
    read_bundle(&b, buf, len);
    first = first_of_type(&b, "run.started");
    snprintf(name, sizeof name, "seals/%llu.seal", (unsigned long long)first);
    m = member_get(&b, name);
    assert_non_null(m);
    assert_int_equal(ldg_seal_record_decode(m->data, m->len, &seal), 0);
    assert_int_equal(bv_vkey_pub(vk, pub), 0);
    memcpy(other, pub, 32);
    other[0] ^= 0x01;
    copy = malloc(m->len);
    memcpy(copy, m->data, m->len);
    copy[m->len - 1] ^= 0x01; /* the signature's last byte */
    assert_int_equal(ldg_seal_record_decode(copy, m->len, &bad), 0);
    assert_memory_not_equal(bad.sig, seal.sig, 64);
    memset(&v, 0, sizeof v);
    v.b = b;
    assert_int_equal(bv_collect_events(&v), 0);
    assert_true(v.nseals == nseals);
    assert_int_equal(bv_seal_sig(&v, first, m->data, m->len, pub), 0);
    assert_int_equal(bv_seal_sig(&v, first, m->data, m->len, pub), 0);
    assert_int_equal(v.seal_sigs, 1);
    /* another record for the same seal does not ride on that result */
    assert_int_equal(bv_seal_sig(&v, first, copy, m->len, pub), -1);
    assert_int_equal(v.seal_sigs, 2);
    assert_int_equal(bv_seal_sig(&v, first, copy, m->len, pub), -1);
    assert_int_equal(v.seal_sigs, 2);
    /* back to the good record: checked again; the same bytes elsewhere
     * are a hit (the bytes count, not where they are) */
    assert_int_equal(bv_seal_sig(&v, first, m->data, m->len, pub), 0);
    assert_int_equal(v.seal_sigs, 3);
    memcpy(copy, m->data, m->len);
    assert_int_equal(bv_seal_sig(&v, first, copy, m->len, pub), 0);
    assert_int_equal(v.seal_sigs, 3);
    /* nor does another key */
    assert_int_equal(bv_seal_sig(&v, first, m->data, m->len, other), -1);
    assert_int_equal(v.seal_sigs, 4);
    /* nor another seal's slot */
    assert_int_equal(bv_seal_sig(&v, step - 1, m->data, m->len, pub), 0);
    assert_int_equal(v.seal_sigs, 5);
    bv_release_seals(&v);
    free(v.ev);
    free(copy);
    bundle_release(&b);

    free(buf);
    free(vk);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_verify__export_of_a_run_passes_every_check),
        T(test_verify__rewritten_unchanged_bundle_still_passes),
        T(test_verify__event_removed_fails),
        T(test_verify__event_added_fails),
        T(test_verify__member_of_another_size_fails),
        T(test_verify__event_altered_fails),
        T(test_verify__body_altered_fails),
        T(test_verify__events_reordered_fails),
        T(test_verify__events_jsonl_reordered_fails),
        T(test_verify__manifest_event_list_reordered_fails),
        T(test_verify__proof_for_another_checkpoint_fails),
        T(test_verify__manifest_altered_fails),
        T(test_verify__actor_key_swapped_fails),
        T(test_verify__log_key_swapped_fails),
        T(test_verify__revoked_keys_later_event_fails),
        T(test_verify__key_event_missing_fails),
        T(test_verify__fake_erasure_marker_fails),
        T(test_verify__erased_body_verifies_with_its_erasure_event),
        T(test_verify__withheld_field_filled_in_wrongly_fails),
        T(test_verify__a_seeded_body_discloses_derived_salts_only),
        T(test_verify__state_altered_fails),
        T(test_verify__state_note_of_another_size_fails),
        T(test_verify__large_bundle_is_checked_on_threads),
        T(test_verify__without_a_trust_anchor_nothing_is_checked),
        T(test_verify__what_the_spec_promises_is_checked),
        T(test_verify__projection_note_named_but_missing_warns),
        T(test_verify__garbage_is_not_a_bundle),
        T(test_verify__cosignatures_witness_policy_and_trusted_checkpoint),
        T(test_verify__every_truncation_is_refused),
        T(test_verify__bit_flips_pass_only_if_the_content_is_unchanged),
        T(test_verify__model_at_is_backed_by_support_events),
        T(test_verify__model_at_dropped_or_state_size_changed_fails),
        T(test_verify__bodies_labelled_by_what_they_hold),
        T(test_verify__sealed_events_carry_their_seals),
        T(test_verify__each_seal_is_checked_once),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
