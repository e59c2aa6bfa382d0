/*
 * test_verify_keys.c — export/verify_keys.c's epoch check, as an attacker
 * who holds the box after two epoch advances would try it (issue 65, item
 * 6): with the log key and the current epoch state, a bundle whose past
 * event is re-sealed by the current epoch key, or by the log key alone
 * (its epoch part dropped), or under its past epoch with a forged
 * signature, is refused by `verify-bundle`, naming the event and the
 * epoch; the same re-sealing of an event before the anchor (a ledger
 * without epochs) verifies. Forged in the ledger and exported (the
 * exporter then makes proofs, checkpoint and manifest agree), or in a
 * genuine bundle whose manifest is signed again.
 */
#include "tests/ledger/epoch_fx.h"

#include "tests/export/helpers.h"

static char *
vkey_of(struct ldg_ledger *l)
{
    char *v = malloc(512);
    assert_int_equal(ldg_verifier_key(l, v, 512), 0);
    return v;
}

/* Exports the events `term` selects (NULL: all) and verifies the bundle
 * against the log key; returns the rc with *r filled. */
static int
export_verify(struct fx *f, const char *term, struct ldg_bundle_report *r)
{
    const char *terms[2] = {term, NULL};
    uint8_t *buf;
    size_t len;
    char *vk = vkey_of(f->l);
    int rc;

    assert_int_equal(export_terms(f->l, terms, &buf, &len), 0);
    rc = verify_mem(buf, len, vk, r);
    free(buf);
    free(vk);
    return rc;
}

static void
expect_epoch_fail(int rc, const struct ldg_bundle_report *r, const char *w1,
                  const char *w2)
{
    const char *d = detail_of(r, "epochs");
    if (rc != LDG_ETAMPER || status_of(r, "epochs") != LDG_CHECK_FAIL ||
        strstr(d, w1) == NULL || strstr(d, w2) == NULL) {
        fprintf(stderr, "expected epochs to fail with '%s', '%s', rc %d:\n", w1,
                w2, rc);
        print_report(r);
    }
    assert_int_equal(rc, LDG_ETAMPER);
    assert_int_equal(status_of(r, "epochs"), LDG_CHECK_FAIL);
    assert_non_null(strstr(d, w1));
    assert_non_null(strstr(d, w2));
    assert_false(r->ok);
}

static void
test_verify_keys__epoch_bundle_verifies(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    int rc = export_verify(f, NULL, &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
    assert_int_equal(status_of(&r, "epochs"), LDG_CHECK_PASS);
    /* seals 4..8 are by epoch keys, each checked from the anchor */
    assert_non_null(strstr(detail_of(&r, "epochs"), "5 seals by epoch keys"));
    /* one event of epoch 2.0: its part whole, checked from the anchor */
    rc = export_verify(f, "seq=7", &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(detail_of(&r, "epochs"), "1 seals by epoch keys"));
}

/* A redaction of the anchor's fields leaves its key.anchored whole (as
 * a key.added's): the bundle still verifies, its epochs checked. */
static void
test_verify_keys__anchor_never_redacted(void **state)
{
    struct fx *f = *state;
    struct ldg_export_opts o;
    struct ldg_bundle_report r;
    static char t7[] = "seq=7", fanchor[] = "anchor", ft0[] = "t0";
    char *terms[1] = {t7}, *fields[2] = {fanchor, ft0};
    char *vk = vkey_of(f->l);
    uint8_t *buf;
    size_t len;
    int rc;

    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.nredact_fields = 2;
    o.redact_fields = fields;
    o.redact_allow_missing = 1;
    assert_int_equal(export_mem(f->l, &o, &buf, &len, NULL), 0);
    rc = verify_mem(buf, len, vk, &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
    assert_int_equal(status_of(&r, "epochs"), LDG_CHECK_PASS);
    free(buf);
    free(vk);
}

/* The control: event 2, before the anchor, changed and re-sealed with the
 * log key verifies, as any event of a ledger without epochs would. */
static void
test_verify_keys__before_the_anchor_resignable(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    uint8_t root[32];
    int rc;

    rewrite_time(f, 2, root);
    reseal(f, 2, root, NO_EPOCH);
    rechain(f, 2);
    rc = export_verify(f, "seq=2", &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
}

static void
test_verify_keys__resealed_by_current_epoch_refused(void **state)
{
    struct fx *f = *state;
    const char *terms[2] = {"seq=4", NULL};
    uint8_t *buf = NULL, root[32];
    size_t len;

    /* the exporter checks each seal's epoch signature (there is no other
     * since the key's own went: FORMAT.md 5.1) and refuses; a bundle
     * forged this way is member_resigned_by_current_refused's */
    rewrite_time(f, 4, root);
    reseal(f, 4, root, BY_CURRENT);
    rechain(f, 4);
    assert_int_equal(export_terms(f->l, terms, &buf, &len), LDG_ETAMPER);
    assert_null(buf);
    if (strstr(ldg_errmsg(f->l), "event 4") == NULL ||
        strstr(ldg_errmsg(f->l), "of epoch 2.1 of key") == NULL)
        fail_msg("export said: %s", ldg_errmsg(f->l));
}

static void
test_verify_keys__resealed_without_epoch_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    uint8_t root[32];

    rewrite_time(f, 6, root);
    reseal(f, 6, root, NO_EPOCH);
    rechain(f, 6);
    expect_epoch_fail(export_verify(f, "seq=6", &r), &r, "event 6 (period 0)",
                      "carries no epoch");
}

/* An epoch part made whole from the key's seals since its anchor: one
 * of them forged on the way (seal 6 re-sealed by the current key), the
 * exporter refuses to write a bundle of a later event, naming it. */
static void
test_verify_keys__exporter_refuses_a_forged_chain(void **state)
{
    struct fx *f = *state;
    const char *terms[2] = {"seq=8", NULL};
    uint8_t *buf = NULL, root[32];
    size_t len;

    rewrite_time(f, 6, root);
    reseal(f, 6, root, BY_CURRENT);
    rechain(f, 6);
    assert_int_equal(export_terms(f->l, terms, &buf, &len), LDG_ETAMPER);
    assert_null(buf);
    if (strstr(ldg_errmsg(f->l), "seal at event 6") == NULL)
        fail_msg("export said: %s", ldg_errmsg(f->l));
}

/* In a genuine bundle: seals/<q>.seal replaced by what the attacker can
 * sign (the same seal map), the manifest signed again. */
static void
forge_member(struct fx *f, uint64_t q, enum forge how, struct bundle *b)
{
    struct ldg_epoch_state *st = current_state(f);
    struct ldg_seal s;
    struct bmember *m;
    uint8_t rec[LDG_SEAL_REC_MAX], map[LDG_SEAL_MAP_MAX], sig[64];
    static uint8_t ext[LDG_EPOCH_EXT_MAX];
    char name[48];
    size_t n, mn;

    snprintf(name, sizeof name, "seals/%llu.seal", (unsigned long long)q);
    assert_non_null(m = member_get(b, name));
    assert_int_equal(ldg_seal_record_decode(m->data, m->len, &s), 0);
    assert_non_null(s.ext);
    assert_int_equal(ldg_seal_map_encode(&s, map, sizeof map, &mn), 0);
    assert_int_equal(ldg_epoch_seal_sign(st, map, mn, sig), 0);
    if (how == BY_CURRENT) {
        s.ext_len = ldg_epoch_ext_encode(ext, st, sig, 0, 0);
        s.ext = ext;
    } else if (how == OLD_EPOCH_FORGED_SIG) {
        memcpy(ext, s.ext, s.ext_len);
        memcpy(ext + 8, sig, 64);
        s.ext = ext;
    } else {
        s.ext = NULL;
        s.ext_len = 0;
    }
    assert_int_equal(ldg_seal_record_encode(&s, rec, sizeof rec, &n), 0);
    member_set(b, name, rec, n);
    resign(b, f->l);
    ldg_epoch_state_free(st);
}

static void
bundle_forged(struct fx *f, const char *term, uint64_t q, enum forge how,
              struct ldg_bundle_report *r, int *rc)
{
    const char *terms[2] = {term, NULL};
    struct bundle b;
    uint8_t *buf, *out;
    size_t len, olen;
    char *vk = vkey_of(f->l);

    assert_int_equal(export_terms(f->l, terms, &buf, &len), 0);
    read_bundle(&b, buf, len);
    forge_member(f, q, how, &b);
    write_bundle(&b, &out, &olen);
    *rc = verify_mem(out, olen, vk, r);
    bundle_release(&b);
    free(buf);
    free(out);
    free(vk);
}

static void
test_verify_keys__member_resigned_by_current_refused(void **state)
{
    struct ldg_bundle_report r;
    int rc;
    bundle_forged(*state, NULL, 5, BY_CURRENT, &r, &rc);
    expect_epoch_fail(rc, &r, "event 5", "epoch 2.1");
    assert_non_null(strstr(detail_of(&r, "epochs"), "before the start"));
}

static void
test_verify_keys__member_epoch_dropped_refused(void **state)
{
    struct ldg_bundle_report r;
    int rc;
    bundle_forged(*state, NULL, 7, NO_EPOCH, &r, &rc);
    expect_epoch_fail(rc, &r, "event 7 (period 2)", "carries no epoch");
}

static void
test_verify_keys__member_past_epoch_forged_refused(void **state)
{
    struct ldg_bundle_report r;
    int rc;
    bundle_forged(*state, NULL, 6, OLD_EPOCH_FORGED_SIG, &r, &rc);
    expect_epoch_fail(rc, &r, "event 6",
                      "does not verify with the key of epoch 0.1");
}

/* A pruned ledger (issue 65, item 6: the chain survives pruning): its
 * horizon record keeps the log key's anchor and chain, so a bundle of an
 * event after the horizon is checked from the anchor, with the
 * checkpoint's epoch line, and one whose seal was re-signed by the log
 * key alone is refused. A build before this one counted such seals as
 * "not checked" and passed the forgery. */
static void
test_verify_keys__pruned_ledger_bundle_checked(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_report r;
    int rc;

    prune_at(f, 6);
    rc = export_verify(f, "seq=7", &r);
    if (rc != 0)
        print_report(&r);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(detail_of(&r, "epochs"), "1 seals by epoch keys"));
    assert_non_null(strstr(detail_of(&r, "epochs"), "the checkpoint signed by"));
    assert_null(strstr(detail_of(&r, "epochs"), "not checked"));
    bundle_forged(f, "seq=7", 7, NO_EPOCH, &r, &rc);
    expect_epoch_fail(rc, &r, "event 7 (period 2)", "carries no epoch");
}

/* The attacker's next step: the horizon record signed again by the log
 * key without the anchor it keeps. A verifier that pinned the anchor
 * refuses it, naming the pin; one without the pin refuses it too, since
 * the epoch seals after the horizon then have no signature it can check
 * (a build before 2026-12-01 kept the key's own and passed them, saying
 * their epoch parts were not checked). */
static void
test_verify_keys__pruned_anchor_dropped_refused_by_pin(void **state)
{
    struct fx *f = *state;
    const char *terms[2] = {"seq=7", NULL};
    struct ldg_bundle_verify_opts o;
    struct ldg_bundle_report r;
    struct ldg_anchor_pin *pins;
    struct ldg_horizon h;
    struct bmember *m;
    struct bundle b;
    uint8_t *buf, *out, *rec;
    size_t len, olen, npin, n;
    char *vk = vkey_of(f->l);
    int rc;

    assert_int_equal(ldg_keys_anchors(f->l, &pins, &npin), 0);
    assert_int_equal(npin, 1);
    prune_at(f, 6);
    assert_int_equal(export_terms(f->l, terms, &buf, &len), 0);
    read_bundle(&b, buf, len);
    assert_non_null(m = member_get(&b, "horizon"));
    assert_int_equal(ldg_horizon_parse(m->data, m->len, &h), 0);
    horizon_without_anchors(f, &h, &rec, &n);
    member_set(&b, "horizon", rec, n);
    resign(&b, f->l);
    write_bundle(&b, &out, &olen);

    memset(&o, 0, sizeof o);
    o.trusted_vkey = vk;
    o.threads = 2;
    o.anchors = pins;
    o.nanchors = npin;
    rc = ldg_export_verify_mem(out, olen, &o, &r);
    expect_epoch_fail(rc, &r, "event 7",
                      "horizon record keeps no anchor of key");
    /* unpinned too: an epoch seal has no signature but its epoch key's,
     * which nothing in the bundle ties to an anchor */
    rc = verify_mem(out, olen, vk, &r);
    expect_epoch_fail(rc, &r, "event 7",
                      "carries no key.anchored of key");

    ldg_horizon_release(&h);
    bundle_release(&b);
    free(rec);
    free(buf);
    free(out);
    free(vk);
    free(pins);
}

/* Whoever can write data.mdb points the key registry at an anchor of
 * their own after the log's end and appends under it (a state file of that
 * anchor in place of the box's): the pre-check of evidence (vouch: the
 * exporter's, the doctor's check of new events) holds the registry's
 * anchor to the log's key.anchored and refuses the new event alone, where
 * it took the registry's word before (the seals' own signatures, which a
 * forger without the key could not make, are gone from epoch seals). */
static void
test_verify_keys__registry_anchor_forged_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st = NULL;
    const char *terms[2] = {"seq=9", NULL};
    const char *id = f->l->log_key->key_id;
    uint8_t k[6 + LDG_KEYID_LEN], v[73] = {0}, *buf = NULL;
    char path[512], err[256], why[256] = "";
    struct ldg_vouch *vo = NULL;
    struct ldg_txn *t;
    size_t len;
    int rc;

    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ldg_epoch_state_new(&st, T0 + 200 * SEC, 60 * SEC), 0);
    assert_int_equal(ldg_epoch_file_create(path, st, err, sizeof err), 0);
    memcpy(k, "epoch:", 6);
    memcpy(k + 6, id, LDG_KEYID_LEN);
    memcpy(v, st->par.anchor, 32);
    ldg_be64(v + 32, st->par.t0_ns);
    ldg_be64(v + 40, st->par.len_ns);
    ldg_be64(v + 48, 8); /* the log's last event: the real seals skipped */
    ldg_epoch_state_free(st);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    rc = ldg_core_kv_put(t, ldg_core(f->l, LDG_DB_KEYS), k, sizeof k, v,
                         sizeof v);
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    assert_int_equal(rc, 0);
    clock_ns = T0 + 201 * SEC;
    t_append(f->l, "x.test", "{\"k\":9}", NULL); /* 9, under the forgery */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    rc = ldg_vouch_new(&vo, t);
    if (rc == 0)
        rc = ldg_vouch_event(vo, 9, why, sizeof why);
    ldg_vouch_free(vo);
    ldg_txn_abort(t);
    assert_int_equal(rc, LDG_ETAMPER);
    if (strstr(why, "registry's anchor of key") == NULL)
        fail_msg("vouch of event 9 said: %s", why);
    assert_int_equal(export_terms(f->l, terms, &buf, &len), LDG_ETAMPER);
    assert_null(buf);
}

#define TE(name) cmocka_unit_test_setup_teardown(name, setup_epochs, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TE(test_verify_keys__epoch_bundle_verifies),
        TE(test_verify_keys__anchor_never_redacted),
        TE(test_verify_keys__before_the_anchor_resignable),
        TE(test_verify_keys__resealed_by_current_epoch_refused),
        TE(test_verify_keys__resealed_without_epoch_refused),
        TE(test_verify_keys__exporter_refuses_a_forged_chain),
        TE(test_verify_keys__member_resigned_by_current_refused),
        TE(test_verify_keys__member_epoch_dropped_refused),
        TE(test_verify_keys__member_past_epoch_forged_refused),
        TE(test_verify_keys__pruned_ledger_bundle_checked),
        TE(test_verify_keys__pruned_anchor_dropped_refused_by_pin),
        TE(test_verify_keys__registry_anchor_forged_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
