/*
 * verify_trust.c — the log key, the manifest and its signature, the
 * checkpoint, cosignatures and witnesses, the members' digests (`ledger
 * verify-bundle`; the flow is in verify.c, the shared context in
 * verify_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/verify_int.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* ------------------------------------------------- the manifest & keys -- */

static int
load_manifest(struct vctx *v)
{
    const struct bmember *m = bundle_get(&v->b, B_MANIFEST);
    const char *fmt;
    json_error_t je;
    json_t *j;

    if (m == NULL) {
        bv_check(v->r, "manifest", LDG_CHECK_FAIL, "no manifest.json");
        return LDG_EBADINPUT;
    }
    j = json_loadb((const char *)m->data, m->len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        bv_check(v->r, "manifest", LDG_CHECK_FAIL,
                 "manifest.json is not a JSON object (line %d: %s)", je.line,
                 j ? "not an object" : je.text);
        json_decref(j);
        return LDG_EBADINPUT;
    }
    v->manifest = j;
    fmt = bv_jstr(j, "format");
    if (fmt == NULL || strcmp(fmt, LDG_BUNDLE_MAGIC) != 0) {
        bv_check(v->r, "manifest", LDG_CHECK_FAIL,
                 "manifest format is %s, this reader knows %s",
                 fmt ? fmt : "missing", LDG_BUNDLE_MAGIC);
        return fmt ? LDG_EVERSION : LDG_EBADINPUT;
    }
    if (!json_is_array(json_object_get(j, "events")) ||
        !json_is_object(json_object_get(j, "files")) ||
        !json_is_object(json_object_get(j, "checkpoint")) ||
        !json_is_object(json_object_get(j, "counts")) ||
        bv_jstr(j, "origin") == NULL || bv_jstr(j, "log_key") == NULL) {
        bv_check(v->r, "manifest", LDG_CHECK_FAIL,
                 "manifest.json lacks events, files, checkpoint, counts, "
                 "origin or log_key");
        return LDG_EBADINPUT;
    }
    if (!v->b.listed) {
        /* its member list (files, sizes) did not decode */
        bv_check(v->r, "manifest", LDG_CHECK_FAIL, "%s", v->b.list_err);
        return LDG_EBADINPUT;
    }
    bv_check(v->r, "manifest", LDG_CHECK_PASS,
             "%s, %zu events listed, %zu "
             "files",
             LDG_BUNDLE_MAGIC, json_array_size(json_object_get(j, "events")),
             json_object_size(json_object_get(j, "files")));
    return 0;
}

/* The two large JSON documents of a bundle, the manifest and the state,
 * are parsed beside pass 1. Only the manifest's task adds a check while
 * pass 1 runs, so the report keeps its order. */
void
bv_side_task(struct vctx *v, int k)
{
    const struct bmember *sj;

    if (k == 0) {
        v->manifest_rc = load_manifest(v);
        return;
    }
    sj = bundle_get(&v->b, B_STATE);
    if (sj != NULL)
        v->state = json_loadb((const char *)sj->data, sj->len,
                              JSON_REJECT_DUPLICATES, NULL);
}

/* log.vkey as one line without its newline into own ("" if it is not). */
static void
own_vkey(struct vctx *v, char *own, size_t cap)
{
    const struct bmember *m = bundle_get(&v->b, B_VKEY);
    own[0] = '\0';
    if (m != NULL && m->len > 1 && m->len < cap &&
        m->data[m->len - 1] == '\n' &&
        memchr(m->data, '\n', m->len - 1) == NULL)
        snprintf(own, cap, "%.*s", (int)(m->len - 1), (const char *)m->data);
}

/* Picks the log key: trusted, or the bundle's own (check_log_key reports
 * which, with a warning for the latter). Needs no manifest. */
void
bv_pick_log_key(struct vctx *v)
{
    char own[512];

    own_vkey(v, own, sizeof own);
    if (v->o->trusted_vkey != NULL) {
        snprintf(v->vkey, sizeof v->vkey, "%s", v->o->trusted_vkey);
        v->r->key_trusted = 1;
    } else {
        snprintf(v->vkey, sizeof v->vkey, "%s", own);
    }
    snprintf(v->r->log_vkey, sizeof v->r->log_vkey, "%s", v->vkey);
    if (bv_vkey_pub(v->vkey, v->logpub) == 0) {
        v->vkey_ok = 1;
        ldg_key_id(v->logid, v->logpub);
    }
}

void
bv_check_log_key(struct vctx *v)
{
    const char *mk = bv_jstr(v->manifest, "log_key");
    char own[512];

    own_vkey(v, own, sizeof own);
    if (v->o->trusted_vkey != NULL && !v->vkey_ok)
        bv_check(v->r, "log-key", LDG_CHECK_FAIL,
                 "the trusted key is not a verifier key (name+id+key): %s",
                 v->vkey);
    else if (own[0] == '\0')
        bv_check(v->r, "log-key", LDG_CHECK_FAIL,
                 "log.vkey is missing or not one line");
    else if (mk == NULL || strcmp(mk, own) != 0)
        bv_check(v->r, "log-key", LDG_CHECK_FAIL,
                 "the manifest names log key %s, log.vkey holds %s",
                 mk ? mk : "none", own);
    else if (v->o->trusted_vkey != NULL && strcmp(own, v->vkey) != 0)
        bv_check(v->r, "log-key", LDG_CHECK_FAIL,
                 "the bundle's log key %s is not the trusted key %s", own,
                 v->vkey);
    else if (v->o->trusted_vkey != NULL)
        bv_check(v->r, "log-key", LDG_CHECK_PASS,
                 "the bundle's log key is the "
                 "trusted key %s",
                 v->vkey);
    else if (!v->vkey_ok)
        bv_check(v->r, "log-key", LDG_CHECK_FAIL,
                 "log.vkey is not a verifier "
                 "key: %s",
                 own);
    else if (v->o->trusted_checkpoint != NULL)
        bv_check(v->r, "log-key", LDG_CHECK_PASS,
                 "the bundle's log key %s, held to the trusted checkpoint (the "
                 "trusted-checkpoint check)",
                 own);
    else
        bv_check(v->r, "log-key", LDG_CHECK_WARN,
                 "taken on trust from the bundle itself (%s); "
                 "pass " LDG_OPT_TRUSTED_KEY
                 " with the log's verifier key to check it",
                 own);
}

void
bv_check_manifest_sig(struct vctx *v)
{
    const struct bmember *sig = bundle_get(&v->b, B_MANIFEST_SIG);
    const struct bmember *m = bundle_get(&v->b, B_MANIFEST);
    char want[sizeof B_SIG_PURPOSE + 80], hex[65];
    uint8_t d[32];
    size_t tlen = 0;
    int rc;

    if (sig == NULL) {
        bv_check(v->r, "manifest-signature", LDG_CHECK_FAIL, "no manifest.sig");
        return;
    }
    ldg_sha256(d, m->data, m->len);
    ldg_hex(hex, d, 32);
    snprintf(want, sizeof want, "%s\n%s\n", B_SIG_PURPOSE, hex);
    rc =
        ldg_note_verify_vkey(v->vkey, (const char *)sig->data, sig->len, &tlen);
    if (rc < 0)
        bv_check(v->r, "manifest-signature", LDG_CHECK_FAIL,
                 "manifest.sig does not verify with the log key (%s)",
                 bv_strerror(rc));
    else if (tlen != strlen(want) || memcmp(sig->data, want, tlen) != 0)
        bv_check(v->r, "manifest-signature", LDG_CHECK_FAIL,
                 "manifest.sig is a valid note but does not name this "
                 "manifest (want \"%s %.16s...\")",
                 B_SIG_PURPOSE, hex);
    else
        bv_check(v->r, "manifest-signature", LDG_CHECK_PASS,
                 "signed by the log key, manifest SHA-256 %s", hex);
}

/* Opens the checkpoint with the log key (before pass 1, whose proofs need
 * its size and root); check_checkpoint reports. */
int
bv_open_checkpoint(struct vctx *v)
{
    v->ck = bundle_get(&v->b, B_CHECKPOINT);
    if (v->ck == NULL)
        return LDG_ENOTFOUND;
    v->ck_rc = ldg_checkpoint_open(v->vkey, (const char *)v->ck->data,
                                   v->ck->len, v->ck_origin,
                                   sizeof v->ck_origin, &v->cksize, v->root);
    if (v->ck_rc < 0)
        return v->ck_rc;
    v->ck_ok = 1;
    v->r->checkpoint_size = v->cksize;
    memcpy(v->r->checkpoint_root, v->root, 32);
    snprintf(v->r->origin, sizeof v->r->origin, "%s", v->ck_origin);
    return 0;
}

void
bv_check_checkpoint(struct vctx *v)
{
    const json_t *mc = json_object_get(v->manifest, "checkpoint");
    const char *mroot = bv_jstr(mc, "root"), *morigin;
    const char *origin = v->ck_origin;
    char rootb64[45];
    uint64_t msize = 0;

    if (v->ck == NULL) {
        bv_check(v->r, "checkpoint", LDG_CHECK_FAIL, "no checkpoint member");
        return;
    }
    if (!v->ck_ok) {
        bv_check(v->r, "checkpoint", LDG_CHECK_FAIL,
                 "the checkpoint does not verify with the log key (%s)",
                 bv_strerror(v->ck_rc));
        return;
    }
    ldg_base64(rootb64, v->root, 32);
    morigin = bv_jstr(v->manifest, "origin");
    if (bv_ju64(mc, "size", &msize) < 0 || msize != v->cksize || !mroot ||
        strcmp(mroot, rootb64) != 0 || !morigin || strcmp(morigin, origin) != 0)
        bv_check(v->r, "checkpoint", LDG_CHECK_FAIL,
                 "the manifest's checkpoint (origin, size, root) is not the "
                 "bundle's (%s, %llu, %s)",
                 origin, (unsigned long long)v->cksize, rootb64);
    else
        bv_check(v->r, "checkpoint", LDG_CHECK_PASS,
                 "%s, size %llu, root %s, signed by the log key", origin,
                 (unsigned long long)v->cksize, rootb64);
}

/* ------------------------------------------- cosignatures and anchors -- */

/* cosigned/checkpoint and cosigned/consistency (format-bundle.md §2): a
 * checkpoint of this log the witnesses cosigned, signed by the log key, of
 * a size at most the bundle's, and the consistency proof from it to the
 * bundle's checkpoint, which the proof's body embeds byte for byte. */
void
bv_check_cosigned(struct vctx *v)
{
    const struct bmember *p = bundle_get(&v->b, B_COSIGNED_PROOF);
    uint8_t proof[LDG_PROOF_MAX][32];
    char origin[LDG_ORIGIN_MAX + 1];
    const char *embedded;
    size_t n = 0, elen = 0;
    uint64_t old = 0;
    int rc;

    v->cs = bundle_get(&v->b, B_COSIGNED);
    if (v->cs == NULL && p == NULL) {
        bv_check(v->r, "cosignatures", LDG_CHECK_SKIP,
                 "the bundle carries no cosigned checkpoint");
        return;
    }
    if (v->cs == NULL || p == NULL) {
        bv_check(v->r, "cosignatures", LDG_CHECK_FAIL, "%s without %s",
                 v->cs ? B_COSIGNED : B_COSIGNED_PROOF,
                 v->cs ? B_COSIGNED_PROOF : B_COSIGNED);
        return;
    }
    if (!v->ck_ok) {
        bv_check(v->r, "cosignatures", LDG_CHECK_FAIL,
                 "not checked: the bundle's checkpoint does not verify");
        return;
    }
    rc = ldg_checkpoint_open(v->vkey, (const char *)v->cs->data, v->cs->len,
                             origin, sizeof origin, &v->cs_size, v->cs_root);
    if (rc < 0) {
        bv_check(v->r, "cosignatures", LDG_CHECK_FAIL,
                 "%s does not verify with the log key (%s)", B_COSIGNED,
                 bv_strerror(rc));
        return;
    }
    if (strcmp(origin, v->ck_origin) != 0 || v->cs_size > v->cksize) {
        bv_check(
            v->r, "cosignatures", LDG_CHECK_FAIL,
            "%s is of origin %s, size %llu; the bundle's checkpoint of %s, "
            "size %llu",
            B_COSIGNED, origin, (unsigned long long)v->cs_size, v->ck_origin,
            (unsigned long long)v->cksize);
        return;
    }
    rc = ldg_tlog_consistency_parse((const char *)p->data, p->len, &old, proof,
                                    &n, &embedded, &elen);
    if (rc < 0 || old != v->cs_size || elen != v->ck->len ||
        memcmp(embedded, v->ck->data, elen) != 0) {
        bv_check(v->r, "cosignatures", LDG_CHECK_FAIL,
                 "%s is not a consistency proof from size %llu to the bundle's "
                 "checkpoint",
                 B_COSIGNED_PROOF, (unsigned long long)v->cs_size);
        return;
    }
    if (ldg_tlog_verify_consistency(v->cs_size, v->cksize, v->cs_root, v->root,
                                    (const uint8_t(*)[32])proof, n) != 0) {
        bv_check(v->r, "cosignatures", LDG_CHECK_FAIL,
                 "the consistency proof from the cosigned size %llu to %llu "
                 "does not verify: the bundle's log is not an extension of "
                 "the cosigned one",
                 (unsigned long long)v->cs_size, (unsigned long long)v->cksize);
        return;
    }
    v->cs_ok = 1;
    v->r->cosigned_size = v->cs_size;
    bv_check(v->r, "cosignatures", LDG_CHECK_PASS,
             "carries the cosigned checkpoint of size %llu, signed by the log "
             "key and consistent with the bundle's (size %llu)%s",
             (unsigned long long)v->cs_size, (unsigned long long)v->cksize,
             v->o->nwitness_keys ? ""
                                 : "; its cosignatures are checked only "
                                   "against " LDG_OPT_WITNESS_KEY " keys");
}

/* The k-of-n witness policy over the cosigned checkpoint. */
void
bv_check_witnesses(struct vctx *v)
{
    size_t nw = v->o->nwitness_keys, o = 0, m = 0;
    unsigned quorum = v->o->quorum ? v->o->quorum : 1;
    int *ok, got;
    char who[LDG_BUNDLE_DETAIL_MAX / 2] = "", miss[LDG_BUNDLE_DETAIL_MAX / 2];

    if (nw == 0)
        return;
    ok = calloc(nw, sizeof *ok);
    if (ok == NULL) {
        bv_check(v->r, "witnesses", LDG_CHECK_FAIL, "%s", bv_nomem());
        return;
    }
    got = v->cs_ok ? ldg_cosig_count((const char *)v->cs->data, v->cs->len,
                                     v->o->witness_keys, nw, ok)
                   : 0;
    miss[0] = '\0';
    for (size_t i = 0; i < nw && got >= 0; i++) {
        int nl = (int)strcspn(v->o->witness_keys[i], "+");
        if (o < sizeof who)
            o += (size_t)snprintf(who + o, sizeof who - o, "%s%.*s %s",
                                  i ? ", " : "", nl, v->o->witness_keys[i],
                                  ok[i] ? "cosigned" : "did not cosign");
        if (!ok[i] && m < sizeof miss)
            m += (size_t)snprintf(miss + m, sizeof miss - m, "%s%.*s",
                                  m ? ", " : "", nl, v->o->witness_keys[i]);
    }
    free(ok);
    if (got == LDG_EBADINPUT)
        bv_check(v->r, "witnesses", LDG_CHECK_FAIL,
                 "a witness key or the cosigned checkpoint is malformed");
    else if (got < 0)
        bv_check(v->r, "witnesses", LDG_CHECK_FAIL,
                 "a cosignature by one of the witness keys does not verify "
                 "(forged or altered)");
    else if (!v->cs_ok)
        bv_check(v->r, "witnesses", LDG_CHECK_FAIL,
                 "witness quorum not met: the bundle carries no valid cosigned "
                 "checkpoint, %u needed; missing: %s",
                 quorum, miss);
    else if ((unsigned)got < quorum)
        bv_check(v->r, "witnesses", LDG_CHECK_FAIL,
                 "witness quorum not met: %d of %zu cosigned, %u needed; "
                 "missing: %s",
                 got, nw, quorum, miss);
    else
        bv_check(v->r, "witnesses", LDG_CHECK_PASS,
                 "witness quorum met: %d of %zu cosigned size %llu, %u needed "
                 "(%s)",
                 got, nw, (unsigned long long)v->cs_size, quorum, who);
    if (got > 0)
        v->r->witnesses_cosigned = (unsigned)got;
}

/* The caller's trusted checkpoint: signed by the log key, and the bundle's
 * checkpoint or its cosigned one (then proven consistent with it). */
void
bv_check_trusted_checkpoint(struct vctx *v)
{
    const char *tc = v->o->trusted_checkpoint;
    char origin[LDG_ORIGIN_MAX + 1], tr[45], br[45];
    uint8_t root[32];
    uint64_t size;
    int rc;

    if (tc == NULL)
        return;
    rc = ldg_checkpoint_open(v->vkey, tc, v->o->trusted_checkpoint_len, origin,
                             sizeof origin, &size, root);
    if (rc < 0) {
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
                 "the trusted checkpoint does not verify with the %s log key "
                 "%s (%s)",
                 v->o->trusted_vkey ? "trusted" : "bundle's", v->vkey,
                 bv_strerror(rc));
        return;
    }
    ldg_base64(tr, root, 32);
    if (!v->ck_ok) {
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
                 "not checked: the bundle's checkpoint does not verify");
        return;
    }
    ldg_base64(br, v->root, 32);
    if (strcmp(origin, v->ck_origin) != 0) {
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
                 "the trusted checkpoint is of origin %s, the bundle of %s",
                 origin, v->ck_origin);
    } else if (size == v->cksize && memcmp(root, v->root, 32) == 0) {
        v->r->checkpoint_trusted = 1;
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_PASS,
                 "the bundle's checkpoint is the trusted one (size %llu, root "
                 "%s)",
                 (unsigned long long)size, tr);
    } else if (size == v->cksize) {
        v->trusted_fork = 1;
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
                 "same size %llu, different roots: trusted %s, bundle %s (a "
                 "fork of the log, or not the log you trust)",
                 (unsigned long long)size, tr, br);
    } else if (v->cs_ok && size == v->cs_size &&
               memcmp(root, v->cs_root, 32) == 0) {
        v->r->checkpoint_trusted = 1;
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_PASS,
                 "the trusted checkpoint (size %llu, root %s) is the bundle's "
                 "cosigned one, and the bundle's checkpoint (size %llu) is "
                 "proven consistent with it",
                 (unsigned long long)size, tr, (unsigned long long)v->cksize);
    } else if (v->cs_ok && size == v->cs_size) {
        char cr[45];
        ldg_base64(cr, v->cs_root, 32);
        bv_check(
            v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
            "same size %llu as the bundle's cosigned checkpoint, different "
            "roots: trusted %s, bundle %s (a fork of the log)",
            (unsigned long long)size, tr, cr);
    } else {
        char cs[64] = "none";
        if (v->cs_ok)
            snprintf(cs, sizeof cs, "size %llu",
                     (unsigned long long)v->cs_size);
        bv_check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
                 "the trusted checkpoint has size %llu; the bundle is proven "
                 "against size %llu (cosigned checkpoint carried: %s), and no "
                 "proof links them",
                 (unsigned long long)size, (unsigned long long)v->cksize, cs);
    }
}

/* Member i's SHA-256 (pass 1: before the manifest is there to compare). */
void
bv_digest_member(struct vctx *v, size_t i)
{
    /* computed by the reader as the member streamed in */
    memcpy(v->mdigest[i], v->b.m[i].sha, 32);
}

static void
digest_one(struct vctx *v, size_t i)
{
    const struct bmember *m = &v->b.m[i];
    const char *want;
    uint8_t d[32];

    if (strcmp(m->name, B_MANIFEST) == 0 ||
        strcmp(m->name, B_MANIFEST_SIG) == 0) {
        v->member_ok[i] = 1;
        return;
    }
    want = bv_jstr(json_object_get(v->manifest, "files"), m->name);
    if (want == NULL) {
        v->member_ok[i] = 2; /* not listed */
        return;
    }
    v->member_ok[i] = strlen(want) == 64 && ldg_unhex(d, 32, want) == 0 &&
                      memcmp(d, v->mdigest[i], 32) == 0;
}

void
bv_check_files(struct vctx *v)
{
    json_t *files = json_object_get(v->manifest, "files"), *val;
    const char *name;
    struct fails f = {{0}, 0};

    v->member_ok = calloc(v->b.n ? v->b.n : 1, 1);
    if (v->member_ok == NULL) {
        bv_check(v->r, "files", LDG_CHECK_FAIL, "%s", bv_nomem());
        return;
    }
    for (size_t i = 0; i < v->b.n; i++)
        digest_one(v, i);
    for (size_t i = 0; i < v->b.n; i++) {
        const struct bmfile *lf =
            v->b.listed ? bmlist_find(&v->b.files, v->b.m[i].name) : NULL;
        if (v->member_ok[i] == 0 && lf != NULL && lf->size_bad)
            continue; /* its size is named below */
        if (v->member_ok[i] == 0)
            bv_fail_add(&f, "%s: digest does not match the manifest",
                        v->b.m[i].name);
        else if (v->member_ok[i] == 2)
            bv_fail_add(&f, "%s: not listed in the manifest", v->b.m[i].name);
    }
    json_object_foreach(files, name, val)
    {
        const struct bmfile *lf =
            v->b.listed ? bmlist_find(&v->b.files, name) : NULL;
        if (lf != NULL && lf->size_bad)
            bv_fail_add(&f, "%s: %llu bytes, the manifest says %llu (not read)",
                        name, (unsigned long long)lf->size,
                        (unsigned long long)lf->declared);
        else if (bundle_get(&v->b, name) == NULL && lf != NULL && lf->seen)
            /* too large to hold once its digest was wrong */
            bv_fail_add(&f,
                        "%s: digest does not match the manifest (%llu bytes, "
                        "not read into memory)",
                        name, (unsigned long long)lf->size);
        else if (bundle_get(&v->b, name) == NULL)
            bv_fail_add(&f, "%s: listed in the manifest but missing", name);
        else if (strcmp(name, B_MANIFEST) == 0 ||
                 strcmp(name, B_MANIFEST_SIG) == 0)
            bv_fail_add(&f, "%s: cannot list itself", name);
    }
    if (v->b.not_held > 0) {
        /* members the manifest does not vouch for, beyond the small
         * budget the reader holds to name them: never read into memory */
        uint64_t listed_bad = 0;
        for (size_t i = 0; i < v->b.files.n; i++)
            listed_bad += v->b.files.f[i].seen && !v->b.files.f[i].matches &&
                          bundle_get(&v->b, v->b.files.f[i].name) == NULL;
        if (v->b.not_held > listed_bad)
            bv_fail_add(&f,
                        "%llu members (%llu bytes) not vouched for by the "
                        "manifest and not read into memory, the first %s",
                        (unsigned long long)(v->b.not_held - listed_bad),
                        (unsigned long long)v->b.not_held_bytes,
                        v->b.first_not_held);
    }
    bv_check_fails(v->r, "files", &f,
                   "%zu members match the manifest's "
                   "SHA-256 digests",
                   v->b.n - 2);
}
