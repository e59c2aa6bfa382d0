/*
 * verify.c — `ledger verify-bundle`: everything a bundle claims, checked
 * offline from the file alone (and, ideally, a log key the caller trusts).
 *
 * The order matters because trust flows one way:
 *
 *   log key (trusted, or taken from log.vkey with a warning)
 *     -> checkpoint signature (size S, root R)
 *     -> manifest signature (a signed note naming the manifest's SHA-256)
 *     -> member digests listed in the manifest
 *     -> each entry's inclusion proof in the tree (S, R); the proof must
 *        embed exactly the bundle's checkpoint and prove index == seq
 *     -> genesis (seq 0) names the log key; key.added / key.revoked
 *        events, proven and signed by the log key, give the actor keys
 *        and the seq ranges in which they may sign
 *     -> each entry's signature with its actor's key, valid at its seq
 *     -> each body: disclosed fields and withheld digests must give the
 *        committed root; an erased body needs a proven body.erased
 *     -> events.jsonl and the manifest's event list agree with the above
 *
 * Each check is reported PASS/FAIL/WARN/SKIP with a detail naming the
 * first failure ("event 41: key 3f9a1c2e (alice) was revoked at event 17,
 * before this event") and how many more there were.
 *
 * The per-event work (decode, proof, body digests, signature) runs on
 * worker threads over a shared index; each worker writes only its own
 * events' results, and the key table they read is complete before they
 * start.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export_int.h"
#include "query/query.h"

#define WHY_MAX 200
#define THREADS_MAX 16

enum bstate { BS_FULL, BS_REDACTED, BS_WITHHELD, BS_ERASED };
static const char *const bstate_name[] = {"full", "redacted", "withheld",
                                          "erased"};

struct jline;

/* One event in the bundle (one entries/<seq>.entry member). */
struct vev {
    uint64_t seq;
    const struct bmember *entry, *proof, *body;
    const struct bmember *seal_proof; /* format 2: sealproofs/<seq>.proof */
    struct ldg_event ev;
    int decoded, proof_ok, body_ok, sig_ok;
    /* Checked early with the log key (sig_early 1: it verified, -1: it
     * did not); the signature check uses this only if the event's key
     * turns out to be that same public key. */
    int sig_early;
    enum bstate bstate;
    size_t nwithheld;
    json_t *shown; /* disclosed fields, name -> value */
    char why_entry[WHY_MAX], why_proof[WHY_MAX], why_body[WHY_MAX],
        why_sig[WHY_MAX];
    const json_t *mrec; /* the manifest's record for it, or NULL */
};

struct vkey {
    char id[LDG_KEYID_LEN + 1];
    char actor[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added, revoked; /* revoked: UINT64_MAX if never */
    int is_log;
    const json_t *roles; /* its key.added's "roles" (borrowed), or NULL */
};

/* First failure and count, per check. */
struct fails {
    char first[WHY_MAX + 64];
    uint64_t n;
};

struct vctx {
    const struct ldg_bundle_verify_opts *o;
    struct ldg_bundle_report *r;
    struct bundle b;
    json_t *manifest;
    char vkey[512];
    uint8_t logpub[32];
    char logid[LDG_KEYID_LEN + 1];
    int vkey_ok;
    const struct bmember *ck;
    int ck_ok, ck_rc;
    char ck_origin[LDG_ORIGIN_MAX + 1];
    uint64_t cksize;
    uint8_t root[32];
    struct vev *ev;
    size_t nev;
    struct vkey *keys;
    size_t nkeys;
    unsigned threads;
    uint8_t (*mdigest)[32]; /* per-member SHA-256, computed with pass 1 */
    uint8_t *member_ok;     /* per-member digest results (files check) */
    int manifest_rc;        /* load_manifest's result (run beside pass 1) */
    json_t *state;          /* state/projections.json parsed, or NULL */
    struct jline *jl;       /* events.jsonl lines */
    /* cosigned/checkpoint, proven consistent with the checkpoint */
    const struct bmember *cs;
    int cs_ok;
    uint64_t cs_size;
    uint8_t cs_root[32];
};

/* ------------------------------------------------------------ reports -- */

static void check(struct ldg_bundle_report *r, const char *name,
                  enum ldg_check_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
check(struct ldg_bundle_report *r, const char *name, enum ldg_check_status st,
      const char *fmt, ...)
{
    struct ldg_bundle_check *c;
    va_list ap;

    if (r->nchecks == LDG_BUNDLE_CHECKS_MAX)
        return;
    c = &r->checks[r->nchecks++];
    c->name = name;
    c->status = st;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
    if (st == LDG_CHECK_FAIL)
        r->ok = 0;
}

static void fail_add(struct fails *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail_add(struct fails *f, const char *fmt, ...)
{
    va_list ap;
    if (f->n++ == 0) {
        va_start(ap, fmt);
        vsnprintf(f->first, sizeof f->first, fmt, ap);
        va_end(ap);
    }
}

/* Reports a check from its failures, or PASS with the given text. */
static void check_fails(struct ldg_bundle_report *r, const char *name,
                        const struct fails *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
check_fails(struct ldg_bundle_report *r, const char *name,
            const struct fails *f, const char *fmt, ...)
{
    char pass[LDG_BUNDLE_DETAIL_MAX];
    va_list ap;

    if (f->n == 0) {
        va_start(ap, fmt);
        vsnprintf(pass, sizeof pass, fmt, ap);
        va_end(ap);
        check(r, name, LDG_CHECK_PASS, "%s", pass);
    } else if (f->n == 1) {
        check(r, name, LDG_CHECK_FAIL, "%s", f->first);
    } else {
        check(r, name, LDG_CHECK_FAIL, "%s (and %llu more)", f->first,
              (unsigned long long)(f->n - 1));
    }
}

const char *
ldg_export_status_name(enum ldg_check_status s)
{
    switch (s) {
    case LDG_CHECK_PASS:
        return "PASS";
    case LDG_CHECK_FAIL:
        return "FAIL";
    case LDG_CHECK_WARN:
        return "WARN";
    case LDG_CHECK_SKIP:
        return "SKIP";
    }
    return "?";
}

/* ------------------------------------------------------------ helpers -- */

static const char *
jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A 64-bit number given as a decimal string. */
static int
ju64(const json_t *o, const char *k, uint64_t *v)
{
    const char *s = jstr(o, k);
    return s ? parse_dec(s, strlen(s), v) : -1;
}

static struct vev *
find_ev(struct vctx *v, uint64_t seq)
{
    size_t lo = 0, hi = v->nev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->ev[mid].seq == seq)
            return &v->ev[mid];
        if (v->ev[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int
cmp_vkey(const void *a, const void *b)
{
    const struct vkey *x = a, *y = b;
    return strcmp(x->id, y->id);
}

/* The key with id (the table is sorted by build_keys). */
static struct vkey *
find_key(struct vctx *v, const char *id)
{
    struct vkey k;
    if (v->nkeys == 0 || strlen(id) > LDG_KEYID_LEN)
        return NULL;
    snprintf(k.id, sizeof k.id, "%s", id);
    return bsearch(&k, v->keys, v->nkeys, sizeof *v->keys, cmp_vkey);
}

/* The public key inside a verifier key "name+hexid+base64(0x01 ‖ pub)".
 * Names never hold '+'; base64 may. */
static int
vkey_pub(const char *vkey, uint8_t pub[32])
{
    const char *plus = strchr(vkey, '+');
    uint8_t raw[33];
    if (plus == NULL || strlen(plus) != 1 + 8 + 1 + 44 || plus[9] != '+' ||
        ldg_unbase64(raw, 33, plus + 10, 44) < 0 || raw[0] != 0x01)
        return -1;
    memcpy(pub, raw + 1, 32);
    return 0;
}

/* ------------------------------------------------------ worker threads -- */

/* Per-thread scratch: proofs of neighbouring entries share most of their
 * hash lines and path nodes (ldg_tlog_proof_parse_cached,
 * ldg_tlog_verify_inclusion_memo). */
struct wctx {
    struct ldg_tlog_proof_cache pc;
    struct ldg_tlog_memo mm;
    struct ldg_buf buf; /* reused for each expected events.jsonl line */
};

struct pfor {
    size_t n, next;
    pthread_mutex_t mu;
    void (*fn)(struct vctx *v, size_t i, struct wctx *w);
    void (*side)(struct vctx *v, int k); /* extra tasks, one thread each */
    int nside, side_next;
    struct vctx *v;
};

static void *
pfor_worker(void *arg)
{
    struct pfor *p = arg;
    struct wctx *w = calloc(1, sizeof *w); /* NULL: no caches, same result */

    for (;;) {
        size_t i, end;
        int side = -1;
        pthread_mutex_lock(&p->mu);
        if (p->side_next < p->nside)
            side = p->side_next++;
        i = p->next;
        if (side < 0)
            p->next = i + 64 < p->n ? i + 64 : p->n;
        end = p->next;
        pthread_mutex_unlock(&p->mu);
        if (side >= 0) {
            p->side(p->v, side);
            continue;
        }
        if (i >= p->n)
            break;
        for (; i < end; i++)
            p->fn(p->v, i, w);
    }
    if (w != NULL)
        free(w->buf.p);
    free(w);
    return NULL;
}

/* Runs fn(v, i, scratch) for i in [0, n) on v->threads threads, and
 * side(v, k) for k in [0, nside) meanwhile, each on one of them. */
static void
pfor_run_side(struct vctx *v, size_t n,
              void (*fn)(struct vctx *, size_t, struct wctx *),
              void (*side)(struct vctx *, int), int nside)
{
    pthread_t th[THREADS_MAX];
    struct pfor p;
    unsigned nt = v->threads, started = 0;

    if (n < 128 && nside == 0)
        nt = 1;
    memset(&p, 0, sizeof p);
    p.n = n;
    p.fn = fn;
    p.side = side;
    p.nside = side ? nside : 0;
    p.v = v;
    pthread_mutex_init(&p.mu, NULL);
    for (unsigned i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, pfor_worker, &p) != 0)
            break; /* fewer threads; the calling one still does the work */
        started++;
    }
    pfor_worker(&p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
}

static void
pfor_run(struct vctx *v, size_t n,
         void (*fn)(struct vctx *, size_t, struct wctx *))
{
    pfor_run_side(v, n, fn, NULL, 0);
}

/* ------------------------------------------------- the manifest & keys -- */

static int
load_manifest(struct vctx *v)
{
    const struct bmember *m = bundle_get(&v->b, B_MANIFEST);
    const char *fmt;
    json_error_t je;
    json_t *j;

    if (m == NULL) {
        check(v->r, "manifest", LDG_CHECK_FAIL, "no manifest.json");
        return LDG_EBADINPUT;
    }
    j = json_loadb((const char *)m->data, m->len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        check(v->r, "manifest", LDG_CHECK_FAIL,
              "manifest.json is not a JSON object (line %d: %s)", je.line,
              j ? "not an object" : je.text);
        json_decref(j);
        return LDG_EBADINPUT;
    }
    v->manifest = j;
    fmt = jstr(j, "format");
    if (fmt == NULL || strcmp(fmt, LDG_BUNDLE_MAGIC) != 0) {
        check(v->r, "manifest", LDG_CHECK_FAIL,
              "manifest format is %s, this reader knows %s",
              fmt ? fmt : "missing", LDG_BUNDLE_MAGIC);
        return fmt ? LDG_EVERSION : LDG_EBADINPUT;
    }
    if (!json_is_array(json_object_get(j, "events")) ||
        !json_is_object(json_object_get(j, "files")) ||
        !json_is_object(json_object_get(j, "checkpoint")) ||
        !json_is_object(json_object_get(j, "counts")) ||
        jstr(j, "origin") == NULL || jstr(j, "log_key") == NULL) {
        check(v->r, "manifest", LDG_CHECK_FAIL,
              "manifest.json lacks events, files, checkpoint, counts, "
              "origin or log_key");
        return LDG_EBADINPUT;
    }
    if (!v->b.listed) {
        /* its member list (files, sizes) did not decode */
        check(v->r, "manifest", LDG_CHECK_FAIL, "%s", v->b.list_err);
        return LDG_EBADINPUT;
    }
    check(v->r, "manifest", LDG_CHECK_PASS,
          "%s, %zu events listed, %zu "
          "files",
          LDG_BUNDLE_MAGIC, json_array_size(json_object_get(j, "events")),
          json_object_size(json_object_get(j, "files")));
    return 0;
}

/* The two large JSON documents of a bundle, the manifest and the state,
 * are parsed beside pass 1. Only the manifest's task adds a check while
 * pass 1 runs, so the report keeps its order. */
static void
side_task(struct vctx *v, int k)
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
static void
pick_log_key(struct vctx *v)
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
    if (vkey_pub(v->vkey, v->logpub) == 0) {
        v->vkey_ok = 1;
        ldg_key_id(v->logid, v->logpub);
    }
}

static void
check_log_key(struct vctx *v)
{
    const char *mk = jstr(v->manifest, "log_key");
    char own[512];

    own_vkey(v, own, sizeof own);
    if (v->o->trusted_vkey != NULL && !v->vkey_ok)
        check(v->r, "log-key", LDG_CHECK_FAIL,
              "the trusted key is not a verifier key (name+id+key): %s",
              v->vkey);
    else if (own[0] == '\0')
        check(v->r, "log-key", LDG_CHECK_FAIL,
              "log.vkey is missing or not one line");
    else if (mk == NULL || strcmp(mk, own) != 0)
        check(v->r, "log-key", LDG_CHECK_FAIL,
              "the manifest names log key %s, log.vkey holds %s",
              mk ? mk : "none", own);
    else if (v->o->trusted_vkey != NULL && strcmp(own, v->vkey) != 0)
        check(v->r, "log-key", LDG_CHECK_FAIL,
              "the bundle's log key %s is not the trusted key %s", own,
              v->vkey);
    else if (v->o->trusted_vkey != NULL)
        check(v->r, "log-key", LDG_CHECK_PASS,
              "the bundle's log key is the "
              "trusted key %s",
              v->vkey);
    else if (!v->vkey_ok)
        check(v->r, "log-key", LDG_CHECK_FAIL,
              "log.vkey is not a verifier "
              "key: %s",
              own);
    else if (v->o->trusted_checkpoint != NULL)
        check(v->r, "log-key", LDG_CHECK_PASS,
              "the bundle's log key %s, held to the trusted checkpoint (the "
              "trusted-checkpoint check)",
              own);
    else
        check(v->r, "log-key", LDG_CHECK_WARN,
              "taken on trust from the bundle itself (%s); pass "
              "--trusted-key with the log's verifier key to check it",
              own);
}

static void
check_manifest_sig(struct vctx *v)
{
    const struct bmember *sig = bundle_get(&v->b, B_MANIFEST_SIG);
    const struct bmember *m = bundle_get(&v->b, B_MANIFEST);
    char want[sizeof B_SIG_PURPOSE + 80], hex[65];
    uint8_t d[32];
    size_t tlen = 0;
    int rc;

    if (sig == NULL) {
        check(v->r, "manifest-signature", LDG_CHECK_FAIL, "no manifest.sig");
        return;
    }
    ldg_sha256(d, m->data, m->len);
    ldg_hex(hex, d, 32);
    snprintf(want, sizeof want, "%s\n%s\n", B_SIG_PURPOSE, hex);
    rc =
        ldg_note_verify_vkey(v->vkey, (const char *)sig->data, sig->len, &tlen);
    if (rc < 0)
        check(v->r, "manifest-signature", LDG_CHECK_FAIL,
              "manifest.sig does not verify with the log key (%s)",
              ldg_strerror(rc));
    else if (tlen != strlen(want) || memcmp(sig->data, want, tlen) != 0)
        check(v->r, "manifest-signature", LDG_CHECK_FAIL,
              "manifest.sig is a valid note but does not name this "
              "manifest (want \"%s %.16s...\")",
              B_SIG_PURPOSE, hex);
    else
        check(v->r, "manifest-signature", LDG_CHECK_PASS,
              "signed by the log key, manifest SHA-256 %s", hex);
}

/* Opens the checkpoint with the log key (before pass 1, whose proofs need
 * its size and root); check_checkpoint reports. */
static int
open_checkpoint(struct vctx *v)
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
    snprintf(v->r->origin, sizeof v->r->origin, "%s", v->ck_origin);
    return 0;
}

static void
check_checkpoint(struct vctx *v)
{
    const json_t *mc = json_object_get(v->manifest, "checkpoint");
    const char *mroot = jstr(mc, "root"), *morigin;
    const char *origin = v->ck_origin;
    char rootb64[45];
    uint64_t msize = 0;

    if (v->ck == NULL) {
        check(v->r, "checkpoint", LDG_CHECK_FAIL, "no checkpoint member");
        return;
    }
    if (!v->ck_ok) {
        check(v->r, "checkpoint", LDG_CHECK_FAIL,
              "the checkpoint does not verify with the log key (%s)",
              ldg_strerror(v->ck_rc));
        return;
    }
    ldg_base64(rootb64, v->root, 32);
    morigin = jstr(v->manifest, "origin");
    if (ju64(mc, "size", &msize) < 0 || msize != v->cksize || !mroot ||
        strcmp(mroot, rootb64) != 0 || !morigin || strcmp(morigin, origin) != 0)
        check(v->r, "checkpoint", LDG_CHECK_FAIL,
              "the manifest's checkpoint (origin, size, root) is not the "
              "bundle's (%s, %llu, %s)",
              origin, (unsigned long long)v->cksize, rootb64);
    else
        check(v->r, "checkpoint", LDG_CHECK_PASS,
              "%s, size %llu, root %s, signed by the log key", origin,
              (unsigned long long)v->cksize, rootb64);
}

/* ------------------------------------------- cosignatures and anchors -- */

/* cosigned/checkpoint and cosigned/consistency (format-bundle.md §2): a
 * checkpoint of this log the witnesses cosigned, signed by the log key, of
 * a size at most the bundle's, and the consistency proof from it to the
 * bundle's checkpoint, which the proof's body embeds byte for byte. */
static void
check_cosigned(struct vctx *v)
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
        check(v->r, "cosignatures", LDG_CHECK_SKIP,
              "the bundle carries no cosigned checkpoint");
        return;
    }
    if (v->cs == NULL || p == NULL) {
        check(v->r, "cosignatures", LDG_CHECK_FAIL, "%s without %s",
              v->cs ? B_COSIGNED : B_COSIGNED_PROOF,
              v->cs ? B_COSIGNED_PROOF : B_COSIGNED);
        return;
    }
    if (!v->ck_ok) {
        check(v->r, "cosignatures", LDG_CHECK_FAIL,
              "not checked: the bundle's checkpoint does not verify");
        return;
    }
    rc = ldg_checkpoint_open(v->vkey, (const char *)v->cs->data, v->cs->len,
                             origin, sizeof origin, &v->cs_size, v->cs_root);
    if (rc < 0) {
        check(v->r, "cosignatures", LDG_CHECK_FAIL,
              "%s does not verify with the log key (%s)", B_COSIGNED,
              ldg_strerror(rc));
        return;
    }
    if (strcmp(origin, v->ck_origin) != 0 || v->cs_size > v->cksize) {
        check(v->r, "cosignatures", LDG_CHECK_FAIL,
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
        check(v->r, "cosignatures", LDG_CHECK_FAIL,
              "%s is not a consistency proof from size %llu to the bundle's "
              "checkpoint",
              B_COSIGNED_PROOF, (unsigned long long)v->cs_size);
        return;
    }
    if (ldg_tlog_verify_consistency(v->cs_size, v->cksize, v->cs_root, v->root,
                                    (const uint8_t(*)[32])proof, n) != 0) {
        check(v->r, "cosignatures", LDG_CHECK_FAIL,
              "the consistency proof from the cosigned size %llu to %llu "
              "does not verify: the bundle's log is not an extension of "
              "the cosigned one",
              (unsigned long long)v->cs_size, (unsigned long long)v->cksize);
        return;
    }
    v->cs_ok = 1;
    v->r->cosigned_size = v->cs_size;
    check(v->r, "cosignatures", LDG_CHECK_PASS,
          "carries the cosigned checkpoint of size %llu, signed by the log "
          "key and consistent with the bundle's (size %llu)%s",
          (unsigned long long)v->cs_size, (unsigned long long)v->cksize,
          v->o->nwitness_keys ? ""
                              : "; its cosignatures are checked only "
                                "against --witness-key keys");
}

/* The k-of-n witness policy over the cosigned checkpoint. */
static void
check_witnesses(struct vctx *v)
{
    size_t nw = v->o->nwitness_keys, o = 0, m = 0;
    unsigned quorum = v->o->quorum ? v->o->quorum : 1;
    int *ok, got;
    char who[LDG_BUNDLE_DETAIL_MAX / 2] = "", miss[LDG_BUNDLE_DETAIL_MAX / 2];

    if (nw == 0)
        return;
    ok = calloc(nw, sizeof *ok);
    if (ok == NULL) {
        check(v->r, "witnesses", LDG_CHECK_FAIL, "out of memory");
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
        check(v->r, "witnesses", LDG_CHECK_FAIL,
              "a witness key or the cosigned checkpoint is malformed");
    else if (got < 0)
        check(v->r, "witnesses", LDG_CHECK_FAIL,
              "a cosignature by one of the witness keys does not verify "
              "(forged or altered)");
    else if (!v->cs_ok)
        check(v->r, "witnesses", LDG_CHECK_FAIL,
              "witness quorum not met: the bundle carries no valid cosigned "
              "checkpoint, %u needed; missing: %s",
              quorum, miss);
    else if ((unsigned)got < quorum)
        check(v->r, "witnesses", LDG_CHECK_FAIL,
              "witness quorum not met: %d of %zu cosigned, %u needed; "
              "missing: %s",
              got, nw, quorum, miss);
    else
        check(v->r, "witnesses", LDG_CHECK_PASS,
              "witness quorum met: %d of %zu cosigned size %llu, %u needed "
              "(%s)",
              got, nw, (unsigned long long)v->cs_size, quorum, who);
    if (got > 0)
        v->r->witnesses_cosigned = (unsigned)got;
}

/* The caller's trusted checkpoint: signed by the log key, and the bundle's
 * checkpoint or its cosigned one (then proven consistent with it). */
static void
check_trusted_checkpoint(struct vctx *v)
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
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "the trusted checkpoint does not verify with the %s log key "
              "%s (%s)",
              v->o->trusted_vkey ? "trusted" : "bundle's", v->vkey,
              ldg_strerror(rc));
        return;
    }
    ldg_base64(tr, root, 32);
    if (!v->ck_ok) {
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "not checked: the bundle's checkpoint does not verify");
        return;
    }
    ldg_base64(br, v->root, 32);
    if (strcmp(origin, v->ck_origin) != 0) {
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "the trusted checkpoint is of origin %s, the bundle of %s",
              origin, v->ck_origin);
    } else if (size == v->cksize && memcmp(root, v->root, 32) == 0) {
        v->r->checkpoint_trusted = 1;
        check(v->r, "trusted-checkpoint", LDG_CHECK_PASS,
              "the bundle's checkpoint is the trusted one (size %llu, root "
              "%s)",
              (unsigned long long)size, tr);
    } else if (size == v->cksize) {
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "same size %llu, different roots: trusted %s, bundle %s (a "
              "fork of the log, or not the log you trust)",
              (unsigned long long)size, tr, br);
    } else if (v->cs_ok && size == v->cs_size &&
               memcmp(root, v->cs_root, 32) == 0) {
        v->r->checkpoint_trusted = 1;
        check(v->r, "trusted-checkpoint", LDG_CHECK_PASS,
              "the trusted checkpoint (size %llu, root %s) is the bundle's "
              "cosigned one, and the bundle's checkpoint (size %llu) is "
              "proven consistent with it",
              (unsigned long long)size, tr, (unsigned long long)v->cksize);
    } else if (v->cs_ok && size == v->cs_size) {
        char cr[45];
        ldg_base64(cr, v->cs_root, 32);
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "same size %llu as the bundle's cosigned checkpoint, different "
              "roots: trusted %s, bundle %s (a fork of the log)",
              (unsigned long long)size, tr, cr);
    } else {
        char cs[64] = "none";
        if (v->cs_ok)
            snprintf(cs, sizeof cs, "size %llu",
                     (unsigned long long)v->cs_size);
        check(v->r, "trusted-checkpoint", LDG_CHECK_FAIL,
              "the trusted checkpoint has size %llu; the bundle is proven "
              "against size %llu (cosigned checkpoint carried: %s), and no "
              "proof links them",
              (unsigned long long)size, (unsigned long long)v->cksize, cs);
    }
}

/* Member i's SHA-256 (pass 1: before the manifest is there to compare). */
static void
digest_member(struct vctx *v, size_t i)
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
    want = jstr(json_object_get(v->manifest, "files"), m->name);
    if (want == NULL) {
        v->member_ok[i] = 2; /* not listed */
        return;
    }
    v->member_ok[i] = strlen(want) == 64 && ldg_unhex(d, 32, want) == 0 &&
                      memcmp(d, v->mdigest[i], 32) == 0;
}

static void
check_files(struct vctx *v)
{
    json_t *files = json_object_get(v->manifest, "files"), *val;
    const char *name;
    struct fails f = {{0}, 0};

    v->member_ok = calloc(v->b.n ? v->b.n : 1, 1);
    if (v->member_ok == NULL) {
        check(v->r, "files", LDG_CHECK_FAIL, "out of memory");
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
            fail_add(&f, "%s: digest does not match the manifest",
                     v->b.m[i].name);
        else if (v->member_ok[i] == 2)
            fail_add(&f, "%s: not listed in the manifest", v->b.m[i].name);
    }
    json_object_foreach(files, name, val)
    {
        const struct bmfile *lf =
            v->b.listed ? bmlist_find(&v->b.files, name) : NULL;
        if (lf != NULL && lf->size_bad)
            fail_add(&f, "%s: %llu bytes, the manifest says %llu (not read)",
                     name, (unsigned long long)lf->size,
                     (unsigned long long)lf->declared);
        else if (bundle_get(&v->b, name) == NULL && lf != NULL && lf->seen)
            /* too large to hold once its digest was wrong */
            fail_add(&f,
                     "%s: digest does not match the manifest (%llu bytes, "
                     "not read into memory)",
                     name, (unsigned long long)lf->size);
        else if (bundle_get(&v->b, name) == NULL)
            fail_add(&f, "%s: listed in the manifest but missing", name);
        else if (strcmp(name, B_MANIFEST) == 0 ||
                 strcmp(name, B_MANIFEST_SIG) == 0)
            fail_add(&f, "%s: cannot list itself", name);
    }
    if (v->b.not_held > 0) {
        /* members the manifest does not vouch for, beyond the small
         * budget the reader holds to name them: never read into memory */
        uint64_t listed_bad = 0;
        for (size_t i = 0; i < v->b.files.n; i++)
            listed_bad += v->b.files.f[i].seen && !v->b.files.f[i].matches &&
                          bundle_get(&v->b, v->b.files.f[i].name) == NULL;
        if (v->b.not_held > listed_bad)
            fail_add(&f,
                     "%llu members (%llu bytes) not vouched for by the "
                     "manifest and not read into memory, the first %s",
                     (unsigned long long)(v->b.not_held - listed_bad),
                     (unsigned long long)v->b.not_held_bytes,
                     v->b.first_not_held);
    }
    check_fails(v->r, "files", &f,
                "%zu members match the manifest's "
                "SHA-256 digests",
                v->b.n - 2);
}

/* ------------------------------------------------------- per-event work -- */

static int
collect_events(struct vctx *v)
{
    size_t n = 0;

    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        if (bundle_name_kind(v->b.m[i].name, &seq) == BN_ENTRY)
            n++;
    }
    v->ev = calloc(n ? n : 1, sizeof *v->ev);
    if (v->ev == NULL)
        return LDG_ENOMEM;
    for (size_t i = 0; i < v->b.n; i++) {
        uint64_t seq;
        char name[48];
        struct vev *e;
        if (bundle_name_kind(v->b.m[i].name, &seq) != BN_ENTRY)
            continue;
        e = &v->ev[v->nev++];
        e->seq = seq;
        e->entry = &v->b.m[i];
        snprintf(name, sizeof name, "proofs/%llu.proof",
                 (unsigned long long)seq);
        e->proof = bundle_get(&v->b, name);
        snprintf(name, sizeof name, "bodies/%llu.json",
                 (unsigned long long)seq);
        e->body = bundle_get(&v->b, name);
        snprintf(name, sizeof name, "sealproofs/%llu.proof",
                 (unsigned long long)seq);
        e->seal_proof = bundle_get(&v->b, name);
    }
    /* member names sort as strings; events by number */
    for (size_t i = 1; i < v->nev; i++) {
        struct vev t = v->ev[i];
        size_t j = i;
        while (j > 0 && v->ev[j - 1].seq > t.seq) {
            v->ev[j] = v->ev[j - 1];
            j--;
        }
        v->ev[j] = t;
    }
    return 0;
}

static void
check_proof(struct vctx *v, struct vev *e, struct wctx *w)
{
    struct {
        uint64_t index;
        uint8_t hashes[LDG_PROOF_MAX][32];
        size_t n;
        const char *checkpoint;
        size_t checkpoint_len;
    } p;

    if (e->proof == NULL) {
        snprintf(e->why_proof, WHY_MAX, "event %llu: no proof",
                 (unsigned long long)e->seq);
        return;
    }
    if (ldg_tlog_proof_parse_cached((const char *)e->proof->data, e->proof->len,
                                    &p.index, p.hashes, &p.n, &p.checkpoint,
                                    &p.checkpoint_len, w ? &w->pc : NULL) < 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: proof is not a tlog-proof@v1",
                 (unsigned long long)e->seq);
        return;
    }
    if (!v->ck_ok || p.checkpoint_len != v->ck->len ||
        memcmp(p.checkpoint, v->ck->data, v->ck->len) != 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: the proof is for another checkpoint than the "
                 "bundle's",
                 (unsigned long long)e->seq);
        return;
    }
    if (p.index != e->seq) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: the proof is for index %llu",
                 (unsigned long long)e->seq, (unsigned long long)p.index);
        return;
    }
    if (ldg_tlog_verify_inclusion_memo(
            w ? &w->mm : NULL, e->ev.leaf, p.index, v->cksize,
            (const uint8_t(*)[32])p.hashes, p.n, v->root) < 0) {
        snprintf(e->why_proof, WHY_MAX,
                 "event %llu: not included in the tree of size %llu (the "
                 "inclusion proof does not verify)",
                 (unsigned long long)e->seq, (unsigned long long)v->cksize);
        return;
    }
    e->proof_ok = 1;
}

/* Parses bodies/<seq>.json and checks it against the commitment. */
static void
check_body(struct vev *e)
{
    json_t *doc, *fields, *withheld, *val;
    uint8_t(*d)[32] = NULL, root[32];
    const char *name;
    size_t nf, nw, k = 0;
    json_error_t je;
    char *why = e->why_body;
    unsigned long long seq = (unsigned long long)e->seq;

    if (e->body == NULL) {
        snprintf(why, WHY_MAX, "event %llu: no body member", seq);
        return;
    }
    doc = json_loadb((const char *)e->body->data, e->body->len,
                     JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(why, WHY_MAX,
                 "event %llu: body member is not a JSON "
                 "object",
                 seq);
        goto out;
    }
    if (json_object_size(doc) == 1 &&
        json_is_true(json_object_get(doc, "erased"))) {
        e->bstate = BS_ERASED;
        e->body_ok = 1; /* provided a body.erased backs it: see erasures */
        goto out;
    }
    fields = json_object_get(doc, "fields");
    withheld = json_object_get(doc, "withheld");
    if (json_object_size(doc) != 2 || !json_is_object(fields) ||
        !json_is_array(withheld)) {
        snprintf(why, WHY_MAX,
                 "event %llu: body member lacks fields and "
                 "withheld",
                 seq);
        goto out;
    }
    nf = json_object_size(fields);
    nw = json_array_size(withheld);
    if (nf + nw > LDG_FIELDS_MAX) {
        snprintf(why, WHY_MAX, "event %llu: more than %d fields", seq,
                 LDG_FIELDS_MAX);
        goto out;
    }
    d = malloc((nf + nw ? nf + nw : 1) * 32);
    e->shown = json_object();
    if (d == NULL || e->shown == NULL) {
        snprintf(why, WHY_MAX, "event %llu: out of memory", seq);
        goto out;
    }
    json_object_foreach(fields, name, val)
    {
        const char *salt = jstr(val, "salt");
        json_t *value = json_object_get(val, "value");
        uint8_t s[16];
        if (!json_is_object(val) || json_object_size(val) != 2 ||
            salt == NULL || value == NULL ||
            ldg_unbase64(s, 16, salt, strlen(salt)) < 0 ||
            ldg_field_digest(d[k], s, name, value) < 0) {
            snprintf(why, WHY_MAX, "event %llu: field '%.64s' is malformed",
                     seq, name);
            goto out;
        }
        json_object_set(e->shown, name, value);
        k++;
    }
    for (size_t i = 0; i < nw; i++) {
        const char *h = json_string_value(json_array_get(withheld, i));
        if (h == NULL || strlen(h) != 64 ||
            strspn(h, "0123456789abcdef") != 64 || ldg_unhex(d[k], 32, h) < 0) {
            snprintf(why, WHY_MAX,
                     "event %llu: withheld digest %zu is not "
                     "64 lowercase hex digits",
                     seq, i);
            goto out;
        }
        if (i > 0 && memcmp(d[k - 1], d[k], 32) >= 0) {
            snprintf(why, WHY_MAX,
                     "event %llu: withheld digests are not in increasing "
                     "order (digest %zu)",
                     seq, i);
            goto out;
        }
        k++;
    }
    ldg_body_root(root, (const uint8_t(*)[32])d, k);
    if (!e->decoded) {
        snprintf(why, WHY_MAX,
                 "event %llu: no entry to check the body "
                 "against",
                 seq);
        goto out;
    }
    if (memcmp(root, e->ev.body_root, 32) != 0) {
        snprintf(why, WHY_MAX,
                 "event %llu: the body does not match the "
                 "entry's commitment",
                 seq);
        goto out;
    }
    e->nwithheld = nw;
    e->bstate = nw == 0 ? BS_FULL : nf == 0 ? BS_WITHHELD : BS_REDACTED;
    e->body_ok = 1;
out:
    free(d);
    json_decref(doc);
}

/* A sealed entry (format 2) is vouched for by its seal, not by a
 * signature of its own (docs/format-bundle.md section 12): its claim's
 * digest is the one its stamp binds, the path in sealproofs/<seq>.proof
 * leads from that digest, as leaf `leaf` of `count`, to the root of
 * seals/<seal>.seal, whose key is the claim's actor, whose origin is the
 * bundle's, and whose signature verifies with pub. 0, or -1 with why. */
static int
seal_attest(struct vctx *v, const struct vev *e, const uint8_t pub[32],
            const char *keyname, char *why, size_t cap)
{
    unsigned long long seq = (unsigned long long)e->seq;
    unsigned long long sseq = (unsigned long long)e->ev.seal_seq;
    uint8_t d[32], path[LDG_PROOF_MAX][32];
    const struct bmember *sm;
    struct ldg_seal seal;
    char name[48];
    size_t np = 0;

    ldg_claim_digest(d, e->ev.signed_part, e->ev.signed_len);
    if (memcmp(d, e->ev.digest, 32) != 0) {
        snprintf(why, cap, "event %llu: claim digest does not match its stamp",
                 seq);
        return -1;
    }
    snprintf(name, sizeof name, "seals/%llu.seal", sseq);
    sm = bundle_get(&v->b, name);
    if (sm == NULL) {
        snprintf(why, cap, "event %llu: its seal (%s) is not in the bundle",
                 seq, name);
        return -1;
    }
    if (ldg_seal_record_decode(sm->data, sm->len, &seal) < 0) {
        snprintf(why, cap, "event %llu: %s does not decode as a seal", seq,
                 name);
        return -1;
    }
    if (strcmp(seal.key_id, e->ev.actor) != 0) {
        snprintf(why, cap, "event %llu: actor %s but its seal %llu is by %s",
                 seq, e->ev.actor, sseq, seal.key_id);
        return -1;
    }
    if (strcmp(seal.origin, v->ck_origin) != 0) {
        snprintf(why, cap,
                 "event %llu: seal %llu is for origin %s, not the bundle's "
                 "%s",
                 seq, sseq, seal.origin, v->ck_origin);
        return -1;
    }
    if (e->ev.seal_leaf >= seal.count ||
        e->ev.seq != e->ev.seal_seq + e->ev.seal_leaf) {
        snprintf(why, cap,
                 "event %llu: leaf %llu of seal %llu, which covers %llu "
                 "events",
                 seq, (unsigned long long)e->ev.seal_leaf, sseq,
                 (unsigned long long)seal.count);
        return -1;
    }
    if (e->seal_proof == NULL) {
        snprintf(why, cap, "event %llu: no seal proof (sealproofs/%llu.proof)",
                 seq, seq);
        return -1;
    }
    {
        const char *p = (const char *)e->seal_proof->data;
        size_t len = e->seal_proof->len;
        while (len > 0) {
            if (np == LDG_PROOF_MAX || len < 45 || p[44] != '\n' ||
                ldg_unbase64(path[np], 32, p, 44) < 0) {
                snprintf(why, cap,
                         "event %llu: sealproofs/%llu.proof is not base64 "
                         "hashes, one a line",
                         seq, seq);
                return -1;
            }
            np++;
            p += 45;
            len -= 45;
        }
    }
    if (ldg_seal_verify_inclusion(d, e->ev.seal_leaf, seal.count,
                                  (const uint8_t(*)[32])path, np,
                                  seal.root) < 0) {
        snprintf(why, cap,
                 "event %llu: its claim is not in seal %llu (the seal proof "
                 "does not verify)",
                 seq, sseq);
        return -1;
    }
    if (ldg_seal_verify(&seal, pub) < 0) {
        snprintf(why, cap, "event %llu: seal %llu does not verify with key %s%s%s%s",
                 seq, sseq, e->ev.actor, keyname ? " (" : "",
                 keyname ? keyname : "", keyname ? ")" : "");
        return -1;
    }
    return 0;
}

/* The event's own signature (format 1) or its seal (format 2) with pub:
 * 0, or -1 with why (when why is not NULL). */
static int
attest(struct vctx *v, const struct vev *e, const uint8_t pub[32],
       const char *keyname, char *why, size_t cap)
{
    char local[WHY_MAX];
    if (why == NULL) {
        why = local;
        cap = sizeof local;
    }
    if (e->ev.sealed)
        return seal_attest(v, e, pub, keyname, why, cap);
    if (ldg_event_verify_sig(&e->ev, pub) == 0)
        return 0;
    snprintf(why, cap, "event %llu: signature does not verify with key %s%s%s%s",
             (unsigned long long)e->seq, e->ev.actor, keyname ? " (" : "",
             keyname ? keyname : "", keyname ? ")" : "");
    return -1;
}

/* Pass 1, per event: decode, proof, body, and the signature when the log
 * key made it (the usual case: keys are only known after pass 1). */
static void
event_pass1(struct vctx *v, size_t i, struct wctx *w)
{
    struct vev *e;
    int rc;

    if (i >= v->nev) { /* the members' digests share the pass */
        digest_member(v, i - v->nev);
        return;
    }
    e = &v->ev[i];
    rc = ldg_event_decode(e->entry->data, e->entry->len, &e->ev);

    if (rc < 0) {
        snprintf(e->why_entry, WHY_MAX,
                 "event %llu: entry does not decode "
                 "(%s)",
                 (unsigned long long)e->seq, ldg_strerror(rc));
    } else if (e->ev.seq != e->seq) {
        snprintf(e->why_entry, WHY_MAX, "entries/%llu.entry holds event %llu",
                 (unsigned long long)e->seq, (unsigned long long)e->ev.seq);
    } else {
        e->decoded = 1;
        check_proof(v, e, w);
        if (v->vkey_ok && strcmp(e->ev.actor, v->logid) == 0)
            e->sig_early =
                attest(v, e, v->logpub, NULL, NULL, 0) == 0 ? 1 : -1;
    }
    if (!e->decoded)
        snprintf(e->why_proof, WHY_MAX, "%s", e->why_entry);
    check_body(e);
}

/* Is key k allowed to sign event e? NULL or the reason why not. */
static const char *
key_refusal(struct vctx *v, const struct vev *e, const struct vkey *k,
            char *buf, size_t cap)
{
    const char *t = e->ev.type;
    int needs_log = strcmp(t, "ledger.genesis") == 0 ||
                    strcmp(t, "key.added") == 0 ||
                    strcmp(t, "key.revoked") == 0;
    unsigned long long seq = (unsigned long long)e->seq;

    if (k == NULL) {
        snprintf(buf, cap,
                 "event %llu: key %s is not established by a "
                 "proven key.added in the bundle",
                 seq, e->ev.actor);
    } else if (needs_log && !k->is_log) {
        snprintf(buf, cap,
                 "event %llu: %s must be signed by the log key, "
                 "not %s (%s)",
                 seq, t, k->id, k->actor);
    } else if (!k->is_log && k->added >= e->seq) {
        snprintf(buf, cap,
                 "event %llu: key %s (%s) was only added at "
                 "event %llu",
                 seq, k->id, k->actor, (unsigned long long)k->added);
    } else if (k->revoked <= e->seq) {
        snprintf(buf, cap,
                 "event %llu: key %s (%s) was revoked at event "
                 "%llu, before this event",
                 seq, k->id, k->actor, (unsigned long long)k->revoked);
    } else if (!k->is_log && !ldg_roles_allow(k->roles, t)) {
        snprintf(buf, cap, "event %llu: %s outside the roles of key %s", seq, t,
                 k->id);
    } else {
        (void)v;
        return NULL;
    }
    return buf;
}

/* Pass 2, per event: the signature with a key valid at its seq. */
static void
event_sig(struct vctx *v, size_t i, struct wctx *w)
{
    struct vev *e = &v->ev[i];
    const struct vkey *k;
    int bad;

    (void)w;
    if (!e->decoded) {
        snprintf(e->why_sig, WHY_MAX, "%s", e->why_entry);
        return;
    }
    k = find_key(v, e->ev.actor);
    if (key_refusal(v, e, k, e->why_sig, WHY_MAX) != NULL)
        return;
    if (e->sig_early > 0 && memcmp(k->pub, v->logpub, 32) == 0)
        bad = 0; /* already checked with this very key */
    else
        bad = attest(v, e, k->pub, k->actor, e->why_sig, WHY_MAX) < 0;
    if (bad)
        return;
    e->sig_ok = 1;
}

/* ------------------------------------------------------------- keys -- */

static struct vkey *
push_key(struct vctx *v)
{
    struct vkey *n = realloc(v->keys, (v->nkeys + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    v->keys = n;
    memset(&n[v->nkeys], 0, sizeof *n);
    n[v->nkeys].revoked = UINT64_MAX;
    return &n[v->nkeys++];
}

/* A key event is usable when proven, signed by the log key and whole. */
static int
key_event_usable(struct vctx *v, struct vev *e, struct fails *f)
{
    unsigned long long seq = (unsigned long long)e->seq;
    if (!e->decoded || !e->proof_ok) {
        fail_add(f, "%s event %llu is not proven: %s", e->ev.type, seq,
                 e->decoded ? e->why_proof : e->why_entry);
        return 0;
    }
    if (strcmp(e->ev.actor, v->logid) != 0 ||
        (e->sig_early != 1 && attest(v, e, v->logpub, NULL, NULL, 0) < 0)) {
        fail_add(f, "%s event %llu is not signed by the log key", e->ev.type,
                 seq);
        return 0;
    }
    if (!e->body_ok || e->bstate != BS_FULL) {
        fail_add(f, "%s event %llu: its body is needed whole (%s)", e->ev.type,
                 seq, e->body_ok ? bstate_name[e->bstate] : e->why_body);
        return 0;
    }
    return 1;
}

static void
add_actor_key(struct vctx *v, struct vev *e, struct fails *f)
{
    const char *id = jstr(e->shown, "key_id");
    const char *hex = jstr(e->shown, "public_key");
    const char *actor = jstr(e->shown, "actor");
    char want[LDG_KEYID_LEN + 1];
    uint8_t pub[32];
    struct vkey *k;

    if (id == NULL || hex == NULL || actor == NULL ||
        ldg_unhex(pub, 32, hex) < 0) {
        fail_add(f, "key.added event %llu: malformed body",
                 (unsigned long long)e->seq);
        return;
    }
    ldg_key_id(want, pub);
    if (strcmp(want, id) != 0) {
        fail_add(f,
                 "key.added event %llu: key_id %s is not the id of its "
                 "public key (%s)",
                 (unsigned long long)e->seq, id, want);
        return;
    }
    if ((k = push_key(v)) == NULL) {
        fail_add(f, "out of memory");
        return;
    }
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->actor, sizeof k->actor, "%s", actor);
    memcpy(k->pub, pub, 32);
    k->added = e->seq;
    k->roles = json_object_get(e->shown, "roles");
}

static void
revoke_key(struct vctx *v, struct vev *e, struct fails *f)
{
    const char *id = jstr(e->shown, "key_id");
    struct vkey *k = id ? find_key(v, id) : NULL;

    if (k == NULL || k->added >= e->seq) {
        fail_add(f,
                 "key.revoked event %llu: revokes key %s, which no "
                 "earlier proven key.added establishes",
                 (unsigned long long)e->seq, id ? id : "?");
        return;
    }
    if (k->is_log) {
        fail_add(f, "key.revoked event %llu: the log key cannot be revoked",
                 (unsigned long long)e->seq);
        return;
    }
    if (e->seq < k->revoked)
        k->revoked = e->seq;
}

/* Is there a keys/<id>.json member? */
static int
has_key_file(struct vctx *v, const char *id)
{
    char name[5 + LDG_KEYID_LEN + 6];
    snprintf(name, sizeof name, "keys/%s.json", id);
    return bundle_get(&v->b, name) != NULL;
}

/* The manifest's "keys": exactly the key files, each once (format-bundle.md
 * 2 and 7); and a file for the log key and every key that signs an
 * included event. */
static void
check_key_list(struct vctx *v, struct fails *f)
{
    const json_t *list = json_object_get(v->manifest, "keys");
    const json_t *id;
    size_t i, nfiles = 0;

    for (size_t j = 0; j < v->b.n; j++)
        nfiles += bundle_name_kind(v->b.m[j].name, NULL) == BN_KEY;
    if (!json_is_array(list)) {
        fail_add(f, "manifest: no keys list");
        return;
    }
    json_array_foreach(list, i, id)
    {
        const char *s = json_string_value(id);
        if (s == NULL || strlen(s) != LDG_KEYID_LEN || !has_key_file(v, s)) {
            fail_add(f, "manifest: keys names %s, which has no key file",
                     s ? s : "a non-string");
            return;
        }
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(list, j), id)) {
                fail_add(f, "manifest: keys names %s twice", s);
                return;
            }
    }
    if (json_array_size(list) != nfiles)
        fail_add(f,
                 "manifest: keys names %zu keys, the bundle has %zu key "
                 "files",
                 json_array_size(list), nfiles);
    if (!has_key_file(v, v->logid))
        fail_add(f, "keys/%s.json (the log key) is missing", v->logid);
    for (size_t j = 0; j < v->nev; j++)
        if (v->ev[j].decoded && !has_key_file(v, v->ev[j].ev.actor)) {
            fail_add(f,
                     "event %llu: the key file of its signer %s is "
                     "missing",
                     (unsigned long long)v->ev[j].seq, v->ev[j].ev.actor);
            break;
        }
}

/* keys/<id>.json must agree with what the proven events say. */
static void
check_key_files(struct vctx *v, struct fails *f)
{
    check_key_list(v, f);
    for (size_t i = 0; i < v->b.n; i++) {
        const struct bmember *m = &v->b.m[i];
        char id[LDG_KEYID_LEN + 1], pubhex[65];
        uint64_t added = 0, revoked = UINT64_MAX;
        const struct vkey *k;
        json_t *j;

        if (bundle_name_kind(m->name, NULL) != BN_KEY)
            continue;
        memcpy(id, m->name + 5, LDG_KEYID_LEN);
        id[LDG_KEYID_LEN] = '\0';
        k = find_key(v, id);
        j = json_loadb((const char *)m->data, m->len, JSON_REJECT_DUPLICATES,
                       NULL);
        if (k != NULL)
            ldg_hex(pubhex, k->pub, 32);
        if (k == NULL) {
            fail_add(f, "%s: no proven event establishes this key", m->name);
        } else if (j == NULL || !json_is_object(j) ||
                   json_object_size(j) !=
                       4u + (json_object_get(j, "revoked_seq") != NULL) ||
                   jstr(j, "key_id") == NULL || strcmp(jstr(j, "key_id"), id) ||
                   jstr(j, "actor") == NULL ||
                   strcmp(jstr(j, "actor"), k->actor) != 0) {
            fail_add(f,
                     "%s: key_id or actor name is not the one its proven "
                     "events give (%s), or it has other keys",
                     m->name, k->actor);
        } else if (jstr(j, "public_key") == NULL ||
                   strcmp(jstr(j, "public_key"), pubhex) != 0 ||
                   ju64(j, "added_seq", &added) < 0 ||
                   (!k->is_log && added != k->added) ||
                   (json_object_get(j, "revoked_seq") != NULL &&
                    ju64(j, "revoked_seq", &revoked) < 0) ||
                   revoked != k->revoked) {
            fail_add(f, "%s: does not agree with the key's proven events",
                     m->name);
        }
        json_decref(j);
    }
}

static void
build_keys(struct vctx *v)
{
    struct vev *g = find_ev(v, 0);
    struct fails f = {{0}, 0};
    struct vkey *k;
    size_t nactors = 0;

    if (!v->vkey_ok) {
        check(v->r, "keys", LDG_CHECK_FAIL, "no usable log key");
        return;
    }
    if (g == NULL || !g->decoded || strcmp(g->ev.type, "ledger.genesis") != 0) {
        fail_add(&f, "the genesis event (0), which names the log key, is "
                     "missing");
    } else if (key_event_usable(v, g, &f)) {
        const char *hex = jstr(g->shown, "log_key");
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, v->logpub, 32) != 0)
            fail_add(&f, "the genesis event names another log key than %s",
                     v->logid);
    }
    if ((k = push_key(v)) != NULL) { /* the log key itself */
        snprintf(k->id, sizeof k->id, "%s", v->logid);
        snprintf(k->actor, sizeof k->actor, "log");
        memcpy(k->pub, v->logpub, 32);
        k->is_log = 1;
    }
    for (size_t i = 0; i < v->nev; i++) { /* additions, in seq order */
        struct vev *e = &v->ev[i];
        if (!e->decoded || strcmp(e->ev.type, "key.added") != 0 ||
            !key_event_usable(v, e, &f))
            continue;
        add_actor_key(v, e, &f);
        nactors++;
    }
    /* sort by id for lookups; an id added twice keeps its first addition */
    if (v->nkeys > 0)
        qsort(v->keys, v->nkeys, sizeof *v->keys, cmp_vkey);
    for (size_t i = 1, j = 1; i <= v->nkeys; i++) {
        if (i == v->nkeys) { /* done: j distinct ids */
            v->nkeys = j;
            break;
        }
        if (strcmp(v->keys[i].id, v->keys[j - 1].id) == 0) {
            struct vkey *keep = &v->keys[j - 1], *dup = &v->keys[i];
            fail_add(&f, "key %s is added twice (events %llu and %llu)",
                     dup->id, (unsigned long long)keep->added,
                     (unsigned long long)dup->added);
            if (dup->is_log || (!keep->is_log && dup->added < keep->added))
                *keep = *dup;
            nactors--;
        } else {
            v->keys[j++] = v->keys[i];
        }
    }
    for (size_t i = 0; i < v->nev; i++) { /* then revocations */
        struct vev *e = &v->ev[i];
        if (!e->decoded || strcmp(e->ev.type, "key.revoked") != 0 ||
            !key_event_usable(v, e, &f))
            continue;
        revoke_key(v, e, &f);
    }
    check_key_files(v, &f);
    check_fails(v->r, "keys", &f,
                "the log key and %zu actor key%s, "
                "established by proven events",
                nactors, nactors == 1 ? "" : "s");
}

/* ------------------------------------------------- event-level checks -- */

static void
report_pass(struct vctx *v)
{
    struct fails fp = {{0}, 0}, fs = {{0}, 0}, fb = {{0}, 0}, fc = {{0}, 0};
    uint64_t links = 0;

    for (size_t i = 0; i < v->nev; i++) {
        struct vev *e = &v->ev[i];
        if (!e->proof_ok)
            fail_add(&fp, "%s", e->why_proof);
        if (!e->sig_ok)
            fail_add(&fs, "%s", e->why_sig);
        if (!e->body_ok)
            fail_add(&fb, "%s", e->why_body);
        else if (e->decoded && e->bstate != BS_FULL &&
                 (strcmp(e->ev.type, "ledger.genesis") == 0 ||
                  strncmp(e->ev.type, "key.", 4) == 0 ||
                  strcmp(e->ev.type, "body.erased") == 0))
            fail_add(&fb, "event %llu: a %s body cannot be %s",
                     (unsigned long long)e->seq, e->ev.type,
                     bstate_name[e->bstate]);
        if (e->seq == 0 && e->decoded) {
            static const uint8_t zero[32];
            if (memcmp(e->ev.prev, zero, 32) != 0)
                fail_add(&fc, "event 0: prev is not zero");
        }
        if (i > 0 && v->ev[i - 1].seq + 1 == e->seq && e->decoded &&
            v->ev[i - 1].decoded) {
            links++;
            if (memcmp(e->ev.prev, v->ev[i - 1].ev.leaf, 32) != 0)
                fail_add(&fc,
                         "event %llu: prev is not the leaf hash of "
                         "event %llu",
                         (unsigned long long)e->seq,
                         (unsigned long long)v->ev[i - 1].seq);
        }
    }
    check_fails(v->r, "proofs", &fp,
                "%zu inclusion proofs against the "
                "checkpoint of size %llu",
                v->nev, (unsigned long long)v->cksize);
    {
        /* format 2: a seal or seal proof no included sealed entry uses
         * is not the bundle's to carry */
        size_t nsealed = 0;
        for (size_t i = 0; i < v->nev; i++)
            nsealed += v->ev[i].decoded && v->ev[i].ev.sealed;
        for (size_t m = 0; m < v->b.n; m++) {
            uint64_t n;
            enum bname k = bundle_name_kind(v->b.m[m].name, &n);
            int used = 0;
            if (k != BN_SEAL && k != BN_SEAL_PROOF)
                continue;
            for (size_t i = 0; i < v->nev && !used; i++)
                used = v->ev[i].decoded && v->ev[i].ev.sealed &&
                       (k == BN_SEAL ? v->ev[i].ev.seal_seq == n
                                     : v->ev[i].seq == n);
            if (!used)
                fail_add(&fs, "%s: no sealed event of the bundle is %s",
                         v->b.m[m].name,
                         k == BN_SEAL ? "under this seal" : "this one");
        }
        if (nsealed == 0)
            check_fails(v->r, "signatures", &fs,
                        "%zu entry signatures, each by a key valid at that "
                        "event",
                        v->nev);
        else
            check_fails(v->r, "signatures", &fs,
                        "%zu events vouched for by a key valid at each: %zu "
                        "sealed (claim digest, seal proof, seal signature), "
                        "%zu signed",
                        v->nev, nsealed, v->nev - nsealed);
    }
    check_fails(v->r, "chain", &fc, "%llu links between consecutive events",
                (unsigned long long)links);
    check_fails(v->r, "bodies", &fb,
                "%zu bodies or their digests match "
                "their commitments",
                v->nev);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every erased body needs a proven, validly signed body.erased naming it
 * at a later seq. */
static void
check_erasures(struct vctx *v)
{
    struct fails f = {{0}, 0};
    uint64_t n = 0, (*ok)[2] = NULL; /* {target, erasure seq} */
    size_t nok = 0;

    for (size_t j = 0; j < v->nev; j++) {
        struct vev *x = &v->ev[j];
        json_t *t;
        if (!x->decoded || strcmp(x->ev.type, "body.erased") != 0 ||
            !x->proof_ok || !x->sig_ok || !x->body_ok || x->bstate != BS_FULL)
            continue;
        t = json_object_get(x->shown, "target_seq");
        if (!json_is_integer(t) || json_integer_value(t) < 0)
            continue;
        if (ok == NULL)
            ok = malloc(v->nev * sizeof *ok);
        if (ok == NULL)
            break;
        ok[nok][0] = (uint64_t)json_integer_value(t);
        ok[nok][1] = x->seq;
        nok++;
    }
    if (nok > 0)
        qsort(ok, nok, sizeof *ok, cmp_u64); /* by target (first word) */
    for (size_t i = 0; i < v->nev; i++) {
        struct vev *e = &v->ev[i];
        uint64_t(*hit)[2];
        if (!e->body_ok || e->bstate != BS_ERASED)
            continue;
        n++;
        hit = nok ? bsearch(&e->seq, ok, nok, sizeof *ok, cmp_u64) : NULL;
        /* several erasures of one target: any later one will do */
        while (hit != NULL && hit > ok && hit[-1][0] == e->seq)
            hit--;
        while (hit != NULL && hit < ok + nok && (*hit)[0] == e->seq &&
               (*hit)[1] <= e->seq)
            hit++;
        if (hit == NULL || hit == ok + nok || (*hit)[0] != e->seq)
            fail_add(&f,
                     "event %llu: the body is missing and no proven "
                     "body.erased in the bundle names it",
                     (unsigned long long)e->seq);
    }
    free(ok);
    v->r->bodies_erased = n;
    check_fails(v->r, "erasures", &f,
                "%llu erased bod%s, each backed by a "
                "proven body.erased",
                (unsigned long long)n, n == 1 ? "y" : "ies");
}

/* A shown body's string field k equal to want. */
static int
shown_is(const struct vev *r, const char *k, const char *want)
{
    const char *got = r->shown ? jstr(r->shown, k) : NULL;
    return got != NULL && want != NULL && strcmp(got, want) == 0;
}

/* "model_at" on an events.jsonl line (docs/EXPORT.md): it names the model
 * the event's own body names, and its digest and verification are backed
 * by proven events of the bundle: registered_seq a model.registered of
 * that model with that digest before the event, verified_seq a
 * model.verified of that model and digest with ok true, "verified" true
 * exactly when that is not after the event. That no later registration
 * came between is the exporter's word (signed with the manifest). */
static int
model_at_backed(struct vctx *v, const struct vev *e, const json_t *ma,
                char *why, size_t cap)
{
    static const char *const keys[] = {
        "model",        "digest", "registered_seq", "verified", "ever_verified",
        "verified_seq", NULL};
    const char *model =
        e->shown ? ldg_query_model_of(e->ev.type, e->shown) : NULL;
    const char *d = jstr(ma, "digest"), *key;
    unsigned long long seq = (unsigned long long)e->seq;
    json_t *val;
    uint64_t rs = 0, vs = 0;
    const struct vev *r;
    int ever = json_is_true(json_object_get(ma, "ever_verified"));

    if (model == NULL || !json_is_object(ma)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at on an event that "
                 "names no model",
                 seq);
        return 0;
    }
    json_object_foreach((json_t *)(uintptr_t)ma, key, val)
    {
        size_t i;
        for (i = 0; keys[i] && strcmp(keys[i], key) != 0; i++)
            ;
        if (keys[i] == NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at: unexpected key "
                     "'%.40s'",
                     seq, key);
            return 0;
        }
    }
    if (jstr(ma, "model") == NULL || strcmp(jstr(ma, "model"), model) != 0 ||
        !json_is_boolean(json_object_get(ma, "verified")) ||
        !json_is_boolean(json_object_get(ma, "ever_verified"))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: not the event's "
                 "model '%.40s', or no verified/ever_verified",
                 seq, model);
        return 0;
    }
    if (d == NULL) {
        if (!json_is_null(json_object_get(ma, "digest")) || ever ||
            json_is_true(json_object_get(ma, "verified")) ||
            json_object_get(ma, "registered_seq") != NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at without a digest "
                     "claims a registration or a verification",
                     seq);
            return 0;
        }
        return 1;
    }
    if (ju64(ma, "registered_seq", &rs) < 0 || rs >= e->seq ||
        (r = find_ev(v, rs)) == NULL || !r->decoded ||
        strcmp(r->ev.type, "model.registered") != 0 ||
        !shown_is(r, "model", model) || !shown_is(r, "digest", d)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: digest %.24s has no "
                 "model.registered of it before it in the bundle",
                 seq, d);
        return 0;
    }
    if (!ever) {
        if (json_is_true(json_object_get(ma, "verified")) ||
            json_object_get(ma, "verified_seq") != NULL) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: model_at: verified but "
                     "never verified",
                     seq);
            return 0;
        }
        return 1;
    }
    if (ju64(ma, "verified_seq", &vs) < 0 || (r = find_ev(v, vs)) == NULL ||
        !r->decoded || strcmp(r->ev.type, "model.verified") != 0 ||
        !shown_is(r, "model", model) || !shown_is(r, "digest", d) ||
        !json_is_true(json_object_get(r->shown, "ok")) ||
        json_is_true(json_object_get(ma, "verified")) != (vs <= e->seq)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: model_at: verified_seq is no "
                 "model.verified ok of %.24s in the bundle, or 'verified' "
                 "disagrees",
                 seq, d);
        return 0;
    }
    return 1;
}

/* An events.jsonl line must show exactly the entry and disclosed body. */
static int
line_matches(struct vctx *v, const struct vev *e, json_t *line, char *why,
             size_t cap)
{
    json_t *env = envelope_json(&e->ev);
    const struct vkey *k = find_key(v, e->ev.actor);
    const char *an = jstr(line, "actor_name");
    unsigned long long seq = (unsigned long long)e->seq;
    int ok = 1;

    for (size_t i = 0; ok && envelope_keys[i]; i++) {
        json_t *a = json_object_get(env, envelope_keys[i]);
        json_t *b = json_object_get(line, envelope_keys[i]);
        if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b))) {
            snprintf(why, cap,
                     "events.jsonl: event %llu: '%s' differs "
                     "from the entry",
                     seq, envelope_keys[i]);
            ok = 0;
        }
    }
    {
        const char *key;
        json_t *val;
        json_object_foreach(line, key, val)
        {
            int known =
                json_object_get(env, key) != NULL ||
                strcmp(key, "actor_name") == 0 ||
                (strcmp(key, "body") == 0 &&
                 (e->bstate == BS_FULL || e->bstate == BS_REDACTED)) ||
                (strcmp(key, "withheld") == 0 && e->bstate == BS_REDACTED) ||
                (strcmp(key, "body_withheld") == 0 &&
                 e->bstate == BS_WITHHELD) ||
                (strcmp(key, "erased") == 0 && e->bstate == BS_ERASED) ||
                (strcmp(key, "model_at") == 0 && e->bstate == BS_FULL);
            if (ok && !known) {
                snprintf(why, cap,
                         "events.jsonl: event %llu: unexpected key '%.40s'",
                         seq, key);
                ok = 0;
            }
        }
    }
    if (ok && e->bstate == BS_REDACTED &&
        !json_equal(json_object_get(line, "withheld"),
                    json_object_get(e->mrec, "withheld"))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: the withheld count differs from "
                 "the manifest's",
                 seq);
        ok = 0;
    }
    json_decref(env);
    if (ok && an != NULL && k != NULL && strcmp(an, k->actor) != 0) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: actor_name is not "
                 "the key's",
                 seq);
        ok = 0;
    }
    if (ok && (e->bstate == BS_FULL || e->bstate == BS_REDACTED) &&
        !json_equal(json_object_get(line, "body"), e->shown)) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: the body differs "
                 "from the committed fields",
                 seq);
        ok = 0;
    }
    if (ok && json_object_get(line, "model_at") != NULL &&
        !model_at_backed(v, e, json_object_get(line, "model_at"), why, cap))
        ok = 0;
    if (ok && e->bstate == BS_ERASED &&
        !json_is_true(json_object_get(line, "erased"))) {
        snprintf(why, cap, "events.jsonl: event %llu: not shown as erased",
                 seq);
        ok = 0;
    }
    if (ok && e->bstate == BS_WITHHELD &&
        (json_object_get(line, "body") != NULL ||
         !json_is_true(json_object_get(line, "body_withheld")))) {
        snprintf(why, cap,
                 "events.jsonl: event %llu: not shown as "
                 "withheld",
                 seq);
        ok = 0;
    }
    return ok;
}

/* events.jsonl, line i against the i-th selected event (worker side). */
struct jline {
    const char *p;
    size_t len;
    struct vev *e;
    int bad;
    char why[WHY_MAX];
};

/* The line exactly as the exporter writes it (format-bundle.md, 5), from
 * the verified entry, the disclosed fields and the manifest's record. */
static void
expected_line(struct vctx *v, const struct vev *e, struct ldg_buf *b)
{
    const struct vkey *k = find_key(v, e->ev.actor);

    gb_envelope(b, &e->ev);
    if (k != NULL) {
        ldg_buf_puts(b, ",\"actor_name\":");
        gb_jstr(b, k->actor);
    }
    if (e->bstate == BS_ERASED) {
        ldg_buf_puts(b, ",\"erased\":true}");
        return;
    }
    if (e->bstate == BS_WITHHELD) {
        ldg_buf_puts(b, ",\"body_withheld\":true}");
        return;
    }
    /* one dump of the disclosed fields, in their order in the body member */
    ldg_buf_puts(b, ",\"body\":");
    gb_value(b, e->shown);
    if (e->bstate == BS_REDACTED) {
        ldg_buf_puts(b, ",\"withheld\":");
        gb_value(b, json_object_get(e->mrec, "withheld"));
    }
    ldg_buf_puts(b, "}");
}

static void
jsonl_one(struct vctx *v, size_t i, struct wctx *w)
{
    struct jline *jl = &v->jl[i];
    struct ldg_buf own = {0}, *want = w ? &w->buf : &own;
    json_t *line = NULL;

    /* Fast path: the exporter's own bytes. Anything else is compared as
     * JSON values below, which also says what differs. */
    if (jl->e->decoded && jl->e->body_ok) {
        want->len = 0;
        want->err = 0;
        expected_line(v, jl->e, want);
        if (!want->err && want->len == jl->len &&
            memcmp(want->p, jl->p, jl->len) == 0)
            goto out;
    }
    line = json_loadb(jl->p, jl->len, JSON_REJECT_DUPLICATES, NULL);

    if (line == NULL) {
        jl->bad = 1;
        snprintf(jl->why, WHY_MAX, "events.jsonl: line %zu is not JSON", i + 1);
    } else if (!jl->e->decoded || !jl->e->body_ok) {
        /* reported by proofs/bodies */
    } else if (!line_matches(v, jl->e, line, jl->why, WHY_MAX)) {
        jl->bad = 1;
    }
out:
    json_decref(line);
    free(own.p);
    /* the last use of the disclosed fields: free them here, in parallel
     * (but model.* events back other lines' "model_at": kept) */
    if (strncmp(jl->e->ev.type, "model.", 6) != 0 || !jl->e->decoded) {
        json_decref(jl->e->shown);
        jl->e->shown = NULL;
    }
}

static void
check_jsonl(struct vctx *v, struct fails *f, uint64_t nselected)
{
    const struct bmember *m = bundle_get(&v->b, B_EVENTS);
    const char *p, *end;
    size_t nlines = 0, n = 0, k = 0;

    if (m == NULL) {
        fail_add(f, "no events.jsonl");
        return;
    }
    p = (const char *)m->data;
    end = p + m->len;
    if (m->len > 0 && end[-1] != '\n') {
        fail_add(f, "events.jsonl: the last line has no newline");
        return;
    }
    for (const char *q = p; q < end; q++)
        nlines += *q == '\n';
    if (nlines != nselected)
        fail_add(f, "events.jsonl has %zu lines for %llu selected events",
                 nlines, (unsigned long long)nselected);
    v->jl = calloc(nlines ? nlines : 1, sizeof *v->jl);
    if (v->jl == NULL) {
        fail_add(f, "out of memory");
        return;
    }
    /* pair line i with the i-th selected event, in seq order */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        while (k < v->nev &&
               !(v->ev[k].mrec &&
                 strcmp(jstr(v->ev[k].mrec, "role"), "selected") == 0))
            k++;
        if (k == v->nev)
            break;
        v->jl[n].p = p;
        v->jl[n].len = (size_t)(nl - p);
        v->jl[n].e = &v->ev[k++];
        n++;
        p = nl + 1;
    }
    pfor_run(v, n, jsonl_one);
    for (size_t i = 0; i < n; i++)
        if (v->jl[i].bad)
            fail_add(f, "%s", v->jl[i].why);
}

/* A manifest record's "withheld": the count as a decimal string (what
 * the exporter writes: names never leave the box), or, in bundles written
 * before November 2026, the array of withheld names. (size_t)-1 if it is
 * neither. */
static size_t
withheld_count(const json_t *wn)
{
    const char *s = json_string_value(wn);
    size_t n = 0;
    if (json_is_array(wn))
        return json_array_size(wn);
    if (s == NULL || *s == '\0' || strlen(s) > 6 || (s[0] == '0' && s[1]))
        return (size_t)-1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return (size_t)-1;
        n = n * 10 + (size_t)(*s - '0');
    }
    return n;
}

/* An erased body's record names the body.erased that erased it
 * ("erased_by"), an event in the bundle erasing this seq; no other record
 * has one. NULL if it holds, else why not. */
static const char *
erased_by_wrong(struct vctx *v, const struct vev *e, const json_t *rec)
{
    const json_t *eb = json_object_get(rec, "erased_by");
    const struct vev *x;
    const json_t *t;
    uint64_t by;

    if (e->bstate != BS_ERASED)
        return eb ? "the manifest names an erased_by for a body that is "
                    "not erased"
                  : NULL;
    if (eb == NULL || ju64(rec, "erased_by", &by) < 0)
        return "erased, but the manifest names no valid erased_by";
    x = find_ev(v, by);
    t = x && x->decoded && x->body_ok && strcmp(x->ev.type, "body.erased") == 0
            ? json_object_get(x->shown, "target_seq")
            : NULL;
    if (!json_is_integer(t) || json_integer_value(t) < 0 ||
        (uint64_t)json_integer_value(t) != e->seq)
        return "the manifest's erased_by is not a body.erased in the "
               "bundle naming this event";
    return NULL;
}

/* The manifest's event list and counts against the entries present. */
static void
check_events(struct vctx *v)
{
    const json_t *list = json_object_get(v->manifest, "events");
    const json_t *counts = json_object_get(v->manifest, "counts");
    struct fails f = {{0}, 0};
    uint64_t prev = 0, nsel = 0, nsup = 0, c;
    uint64_t nb[4] = {0, 0, 0, 0}, fw = 0;
    int allbodies = 1; /* else the counts are the bodies check's finding */
    size_t i;
    const json_t *rec;

    json_array_foreach(list, i, rec)
    {
        uint64_t seq;
        const char *role = jstr(rec, "role"), *body = jstr(rec, "body");
        const char *type = jstr(rec, "type");
        struct vev *e;
        if (ju64(rec, "seq", &seq) < 0 || role == NULL || body == NULL ||
            type == NULL ||
            (strcmp(role, "selected") != 0 && strcmp(role, "support") != 0)) {
            fail_add(&f, "manifest: event record %zu is malformed", i);
            continue;
        }
        if (i > 0 && seq <= prev)
            fail_add(&f,
                     "manifest: events are not in increasing order at "
                     "event %llu",
                     (unsigned long long)seq);
        prev = seq;
        e = find_ev(v, seq);
        if (e == NULL) {
            fail_add(&f,
                     "event %llu: listed in the manifest but not in "
                     "the bundle",
                     (unsigned long long)seq);
            continue;
        }
        if (e->mrec != NULL)
            continue; /* duplicate: reported as out of order */
        e->mrec = rec;
        strcmp(role, "selected") == 0 ? nsel++ : nsup++;
        if (e->decoded && strcmp(type, e->ev.type) != 0)
            fail_add(&f, "event %llu: the manifest says %s, the entry %s",
                     (unsigned long long)seq, type, e->ev.type);
        allbodies &= e->body_ok;
        if (e->body_ok) {
            const json_t *wn = json_object_get(rec, "withheld");
            const char *why = erased_by_wrong(v, e, rec);
            if (why != NULL)
                fail_add(&f, "event %llu: %s", (unsigned long long)seq, why);
            else if (wn != NULL && e->bstate != BS_REDACTED)
                fail_add(&f,
                         "event %llu: the manifest gives a withheld count "
                         "for a body that is %s",
                         (unsigned long long)seq, bstate_name[e->bstate]);
            nb[e->bstate]++;
            fw += e->bstate == BS_REDACTED ? e->nwithheld : 0;
            if (strcmp(body, bstate_name[e->bstate]) != 0)
                fail_add(&f,
                         "event %llu: the manifest says its body is "
                         "%s, it is %s",
                         (unsigned long long)seq, body, bstate_name[e->bstate]);
            else if (e->bstate == BS_REDACTED &&
                     withheld_count(wn) != e->nwithheld)
                fail_add(&f,
                         "event %llu: the manifest counts %zu withheld "
                         "fields, the body withholds %zu",
                         (unsigned long long)seq, withheld_count(wn),
                         e->nwithheld);
        }
    }
    for (size_t k = 0; k < v->nev; k++)
        if (v->ev[k].mrec == NULL)
            fail_add(&f,
                     "event %llu: in the bundle but not listed in the "
                     "manifest",
                     (unsigned long long)v->ev[k].seq);
    if (ju64(counts, "selected", &c) < 0 || c != nsel ||
        ju64(counts, "support", &c) < 0 || c != nsup ||
        ju64(counts, "entries", &c) < 0 || c != v->nev)
        fail_add(&f,
                 "manifest counts (selected, support, entries) do not "
                 "match the bundle's %llu, %llu, %zu",
                 (unsigned long long)nsel, (unsigned long long)nsup, v->nev);
    if (allbodies) {
        static const char *const cn[] = {"bodies_full", "bodies_redacted",
                                         "bodies_withheld", "bodies_erased",
                                         "fields_withheld"};
        for (int j = 0; j < 5; j++) {
            uint64_t want = j < 4 ? nb[j] : fw;
            if (ju64(counts, cn[j], &c) < 0 || c != want) {
                fail_add(&f, "manifest counts.%s is %s, the bodies give %llu",
                         cn[j],
                         json_is_string(json_object_get(counts, cn[j]))
                             ? json_string_value(json_object_get(counts, cn[j]))
                             : "missing",
                         (unsigned long long)want);
                break;
            }
        }
        if (json_object_size(counts) != 8)
            fail_add(&f, "manifest counts: %zu keys, the format has 8",
                     json_object_size(counts));
    }
    check_jsonl(v, &f, nsel);
    v->r->events = v->nev;
    v->r->selected = nsel;
    v->r->bodies_withheld = nb[BS_WITHHELD];
    v->r->fields_withheld = fw;
    check_fails(v->r, "events", &f,
                "%llu selected and %llu support events "
                "agree with the manifest and "
                "events.jsonl",
                (unsigned long long)nsel, (unsigned long long)nsup);
}

/*
 * The projected state. Its signed projection note (by the log key) binds
 * the log size to a digest per projection, over the projections' stored
 * records, and the doctor's over those (projections/engine.c). A bundle
 * carries the views, not the records, so what can be checked offline is
 * that the note is the log key's, for this origin and for the checkpoint's
 * size, and that the state is for that size; its content is vouched for by
 * the exporter through the manifest's signature.
 */
static void
check_state(struct vctx *v)
{
    const json_t *st = json_object_get(v->manifest, "state");
    const struct bmember *sj = bundle_get(&v->b, B_STATE);
    const struct bmember *sn = bundle_get(&v->b, B_STATE_NOTE);
    char want[LDG_ORIGIN_MAX + 64];
    json_t *state = v->state; /* parsed beside pass 1 */
    uint64_t size = 0;
    size_t tlen = 0;

    if (!json_is_true(json_object_get(st, "included"))) {
        if (sj != NULL || sn != NULL)
            check(v->r, "state", LDG_CHECK_FAIL,
                  "state members are present "
                  "but the manifest says none "
                  "is included");
        else
            check(v->r, "state", LDG_CHECK_SKIP,
                  "no projected state in the "
                  "bundle%s%s",
                  jstr(st, "reason") ? ": " : "",
                  jstr(st, "reason") ? jstr(st, "reason") : "");
        return;
    }
    if (sj == NULL || state == NULL || !json_is_object(state) ||
        ju64(state, "size", &size) < 0) {
        check(v->r, "state", LDG_CHECK_FAIL,
              "state/projections.json is missing or malformed");
        goto out;
    }
    if (!v->ck_ok || size != v->cksize) {
        check(v->r, "state", LDG_CHECK_FAIL,
              "the state is for log size %llu, the checkpoint for %llu",
              (unsigned long long)size, (unsigned long long)v->cksize);
        goto out;
    }
    if (sn == NULL && jstr(st, "note") != NULL) {
        check(v->r, "state", LDG_CHECK_WARN,
              "the manifest names the projection note %s but the bundle "
              "lacks it: the state at size %llu is the exporter's "
              "computation",
              jstr(st, "note"), (unsigned long long)size);
        goto out;
    }
    if (sn != NULL && jstr(st, "note") == NULL) {
        check(v->r, "state", LDG_CHECK_FAIL,
              "the bundle holds a projection note the manifest does not "
              "name");
        goto out;
    }
    if (sn == NULL) {
        check(v->r, "state", LDG_CHECK_WARN,
              "state at size %llu without a signed projection note: it is "
              "the exporter's computation",
              (unsigned long long)size);
        goto out;
    }
    if (ldg_note_verify_vkey(v->vkey, (const char *)sn->data, sn->len, &tlen) <
        0) {
        check(v->r, "state", LDG_CHECK_FAIL,
              "the projection note does not verify with the log key");
        goto out;
    }
    snprintf(want, sizeof want,
             "ledger-projections/v1\norigin %s\nsize "
             "%llu\n",
             v->r->origin, (unsigned long long)size);
    if (tlen < strlen(want) || memcmp(sn->data, want, strlen(want)) != 0) {
        check(v->r, "state", LDG_CHECK_FAIL,
              "the projection note is not for %s at size %llu", v->r->origin,
              (unsigned long long)size);
        goto out;
    }
    check(v->r, "state", LDG_CHECK_PASS,
          "at the checkpoint's size %llu, with the projection note the log "
          "key signed for it; the views themselves are the exporter's "
          "(signed through the manifest)",
          (unsigned long long)size);
out:
    return;
}

/* What was withheld, as the manifest states it and the bodies confirm. */
static void
check_redactions(struct vctx *v)
{
    const json_t *red = json_object_get(v->manifest, "redaction");
    char buf[LDG_BUNDLE_DETAIL_MAX] = "";
    size_t len = 0;

    /* The bundle counts withheld fields but never names them. */
    if (v->r->fields_withheld > 0) {
        size_t nev = 0;
        int w;
        for (size_t i = 0; i < v->nev; i++)
            nev += v->ev[i].bstate == BS_REDACTED;
        w = snprintf(buf, sizeof buf,
                     "fields withheld: %llu in %zu event%s (names not "
                     "disclosed)",
                     (unsigned long long)v->r->fields_withheld, nev,
                     nev == 1 ? "" : "s");
        if (w > 0 && (size_t)w < sizeof buf)
            len = (size_t)w;
    }
    if (v->r->bodies_withheld > 0 && len < sizeof buf) {
        const json_t *types = json_object_get(red, "body_types");
        char *t = json_dumps(types, JSON_COMPACT | JSON_ENCODE_ANY);
        int w =
            snprintf(buf + len, sizeof buf - len,
                     "%s%llu whole bodies withheld (types %s)", len ? "; " : "",
                     (unsigned long long)v->r->bodies_withheld, t ? t : "?");
        free(t);
        if (w > 0 && (size_t)w < sizeof buf - len)
            len += (size_t)w;
    }
    if (v->r->bodies_erased > 0 && len < sizeof buf) {
        int w =
            snprintf(buf + len, sizeof buf - len,
                     "%s%llu bodies erased "
                     "in the ledger",
                     len ? "; " : "", (unsigned long long)v->r->bodies_erased);
        if (w > 0 && (size_t)w < sizeof buf - len)
            len += (size_t)w;
    }
    check(v->r, "redactions", LDG_CHECK_PASS, "%s",
          len ? buf : "none: every body is given whole");
}

/* ----------------------------------------------------------- the flow -- */

static unsigned
thread_count(const struct ldg_bundle_verify_opts *o)
{
    long n = o->threads ? (long)o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > THREADS_MAX)
        n = THREADS_MAX;
    return (unsigned)n;
}

static void
warm_up(void)
{
    /* Initialises libsodium and jansson's hash seed on this thread before
     * workers use them. */
    static const uint8_t seed[32];
    struct ldg_key *k = NULL;
    if (ldg_key_from_seed(&k, "warmup", seed) == 0)
        ldg_key_free(k);
    json_object_seed(0);
}

static int
verify_bundle(struct vctx *v)
{
    int rc;

    warm_up();
    pick_log_key(v);
    open_checkpoint(v);
    if ((rc = collect_events(v)) < 0)
        return rc;
    v->mdigest = malloc((v->b.n ? v->b.n : 1) * sizeof *v->mdigest);
    if (v->mdigest == NULL)
        return LDG_ENOMEM;
    /* Pass 1 (events, then member digests) with the manifest beside it. */
    pfor_run_side(v, v->nev + v->b.n, event_pass1, side_task, 2);
    if ((rc = v->manifest_rc) < 0)
        return rc;
    v->r->readable = 1;
    check_log_key(v);
    check_checkpoint(v);
    check_cosigned(v);
    check_witnesses(v);
    check_trusted_checkpoint(v);
    check_manifest_sig(v);
    check_files(v);
    build_keys(v);
    pfor_run(v, v->nev, event_sig);
    report_pass(v);
    check_erasures(v);
    check_events(v);
    check_state(v);
    check_redactions(v);
    return v->r->ok ? 0 : LDG_ETAMPER;
}

static int
verify_common(struct vctx *v, int rc, const char *err)
{
    if (rc < 0) {
        check(v->r, "archive", LDG_CHECK_FAIL, "%s", err);
        return rc;
    }
    check(v->r, "archive", LDG_CHECK_PASS,
          "%llu members, %llu bytes uncompressed, layout %s",
          (unsigned long long)v->b.members, (unsigned long long)v->b.total,
          LDG_BUNDLE_MAGIC);
    rc = verify_bundle(v);
    if (v->o->extract_dir != NULL && (rc < 0 || !v->r->ok)) {
        /* only what verified is ever written */
        check(v->r, "extract", LDG_CHECK_FAIL,
              "nothing written to %s: the bundle did not verify",
              v->o->extract_dir);
    } else if (v->o->extract_dir != NULL) {
        char xerr[512];
        int xrc = bundle_extract(&v->b, v->o->extract_dir, xerr, sizeof xerr);
        if (xrc < 0) {
            check(v->r, "extract", LDG_CHECK_FAIL, "%s", xerr);
            if (rc == 0)
                rc = xrc;
        }
    }
    for (size_t i = 0; i < v->nev; i++)
        json_decref(v->ev[i].shown);
    free(v->ev);
    free(v->keys);
    free(v->member_ok);
    free(v->mdigest);
    json_decref(v->state);
    free(v->jl);
    json_decref(v->manifest);
    bundle_release(&v->b);
    return rc;
}

/* Sets up v; LDG_EKEY (reported) when there is nothing to trust: a bundle
 * checked only against the key it carries proves nothing about where it
 * comes from, so that takes an explicit, insecure choice. */
static int
ctx_init(struct vctx *v, const struct ldg_bundle_verify_opts *o,
         struct ldg_bundle_report *r)
{
    memset(v, 0, sizeof *v);
    memset(r, 0, sizeof *r);
    r->ok = 1;
    v->o = o;
    v->r = r;
    v->threads = thread_count(o);
    if (o->trusted_vkey == NULL && o->trusted_checkpoint == NULL &&
        !o->insecure_trust_bundle_key) {
        check(r, "log-key", LDG_CHECK_FAIL,
              "no trust anchor: pass --trusted-key with the log's verifier "
              "key (`ledger keys verifier` on the box that wrote it), or "
              "--trusted-checkpoint with a checkpoint of that log you trust, "
              "or --insecure-trust-bundle-key to check the bundle only "
              "against the key it carries");
        return LDG_EKEY;
    }
    return 0;
}

int
ldg_export_verify_mem(const void *buf, size_t len,
                      const struct ldg_bundle_verify_opts *opts,
                      struct ldg_bundle_report *report)
{
    static const struct ldg_bundle_verify_opts none;
    struct vctx v;
    char err[512] = "";
    int rc;

    if (report == NULL || (buf == NULL && len > 0))
        return LDG_EINVAL;
    if ((rc = ctx_init(&v, opts ? opts : &none, report)) < 0)
        return rc;
    rc = bundle_read_mem(&v.b, buf, len, &v.o->limits, err, sizeof err);
    return verify_common(&v, rc, err);
}

int
ldg_export_verify(const char *path, const struct ldg_bundle_verify_opts *opts,
                  struct ldg_bundle_report *report)
{
    static const struct ldg_bundle_verify_opts none;
    struct vctx v;
    char err[512] = "";
    int fd, rc;

    if (report == NULL || path == NULL)
        return LDG_EINVAL;
    if ((rc = ctx_init(&v, opts ? opts : &none, report)) < 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        check(report, "archive", LDG_CHECK_FAIL, "cannot open %s: %s", path,
              strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? LDG_ENOTFOUND : LDG_EIO;
    }
    rc = bundle_read_fd(&v.b, fd, &v.o->limits, err, sizeof err);
    close(fd);
    return verify_common(&v, rc, err);
}
