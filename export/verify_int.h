/*
 * verify_int.h — private to `ledger verify-bundle` (export/verify*.c): the
 * verifier's context, its per-event and per-key records, and the steps each
 * file gives the others. Nothing here is API; see export.h.
 *
 * The context (struct vctx) is owned by ldg_export_verify*; every pointer in
 * it lives until that call returns. Worker threads (bv_pfor_run) write only
 * their own events' struct vev and read the key table, which is complete
 * before they start.
 */
#ifndef LEDGER_EXPORT_VERIFY_INT_H
#define LEDGER_EXPORT_VERIFY_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define WHY_MAX 200
#define THREADS_MAX 16

enum bstate { BS_FULL, BS_REDACTED, BS_WITHHELD, BS_ERASED };
/* "full", "redacted", "withheld", "erased" (verify.c) */
extern const char *const bv_bstate_name[];

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

/* One seals/<seq>.seal member (format 2). A seal's signature is checked
 * once, not once per event it covers: the slot remembers the last check,
 * with the exact record bytes and public key it was made with, and an
 * event's check reuses it only when both are the same (bv_seal_sig). */
struct vseal {
    uint64_t seq;
    pthread_mutex_t mu; /* held while the slot is read or checked */
    const uint8_t *rec; /* the record last checked (borrowed), or NULL */
    size_t rec_len;
    uint8_t pub[32];
    int result; /* of that check: 0 verified, -1 did not */
};

/* A seal whose epoch part bv_check_epochs certified: the seq it is
 * stored at, its key's epoch and the anchor it was certified from. */
struct vsealep {
    uint64_t seq;
    uint32_t period, sub;
    uint8_t anchor[32];
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
    /* the trusted checkpoint is of the checkpoint's size with another
     * root (set by bv_check_trusted_checkpoint) */
    int trusted_fork;
    /* the checkpoint's epoch line checked from the log key's anchor
     * (ck_anchor, its t0 and period length), by epoch ck_period.ck_sub
     * (set by bv_check_epochs) */
    int ck_ep;
    uint32_t ck_period, ck_sub;
    uint8_t ck_anchor[32];
    uint64_t ck_t0, ck_len;
    /* format 2: one slot per seals/ member, by seq */
    struct vseal *seals;
    size_t nseals;
    unsigned long long seal_sigs; /* Ed25519 seal checks made (atomic) */
    int epoch_seals;              /* a seal by an epoch key met (atomic) */
    /* events.jsonl's "model_at" (docs/format-bundle.md section 5): allowed
     * only when the manifest declares no redaction, and then due on every
     * line whose whole body names a model, in a manifest with "sizes"
     * (bundles from before November 23, 2026 may lack it). */
    int model_at_allowed, model_at_due;
    /* a bundle from a pruned ledger: its member "horizon", verified with
     * the log key (hz_seq 0: none); the roles of its keys, owned */
    uint64_t hz_seq;
    json_t *hz_roles;
    /* the seals bv_check_epochs certified from an anchor, in seq order
     * (owned): what bv_check_against compares */
    struct vsealep *sealeps;
    size_t nsealeps;
    /* when set, called with v once the bundle verified, before v is
     * released (bv_verify_file) */
    void (*keep)(struct vctx *v, void *arg);
    void *keep_arg;
};

/* Per-thread scratch: proofs of neighbouring entries share most of their
 * hash lines and path nodes (ldg_tlog_proof_parse_cached,
 * ldg_tlog_verify_inclusion_memo). */
struct wctx {
    struct ldg_tlog_proof_cache pc;
    struct ldg_tlog_memo mm;
    struct ldg_buf buf; /* reused for each expected events.jsonl line */
};

/* segment.c: verify-bundle of a segment (the file on fd), its checks
 * into r. */
int bv_segment_verify(int fd, const struct ldg_bundle_verify_opts *o,
                      struct ldg_bundle_report *r);
/* ldg_export_each of a segment (the file on fd). */
int bv_segment_each(int fd, const struct ldg_bundle_verify_opts *o,
                    struct ldg_bundle_report *r,
                    int (*fn)(void *ctx, json_t *event), void *ctx,
                    struct ldg_bundle_contents **out);

/* verify.c: reports, small helpers, the worker pool, the flow */
const char *bv_jstr(const json_t *o, const char *k);
int bv_cmp_vkey(const void *a, const void *b);
int bv_ju64(const json_t *o, const char *k, uint64_t *v);
int bv_vkey_pub(const char *vkey, uint8_t pub[32]);
struct vev *bv_find_ev(struct vctx *v, uint64_t seq);
struct vkey *bv_find_key(struct vctx *v, const char *id);
/* "out of memory", for a check that failed because an allocation did:
 * counted (ldg_alloc_failed), so that the verdict is LDG_ENOMEM and no
 * failed check stands. bv_strerror is ldg_strerror, counting the same
 * when rc is LDG_ENOMEM. A check's text never decides it: a bundle may
 * put any words there. */
const char *bv_nomem(void);
const char *bv_strerror(int rc);
void bv_check(struct ldg_bundle_report *r, const char *name,
              enum ldg_check_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bv_check_fails(struct ldg_bundle_report *r, const char *name,
                    const struct fails *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bv_fail_add(struct fails *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bv_pfor_run(struct vctx *v, size_t n,
                 void (*fn)(struct vctx *, size_t, struct wctx *));
/* ldg_export_verify with a hook: keep(v, arg), when not NULL, is called
 * with the verified bundle's context before it is released (never for a
 * segment, nor when a check failed). */
int bv_verify_file(const char *path, const struct ldg_bundle_verify_opts *o,
                   struct ldg_bundle_report *r,
                   void (*keep)(struct vctx *v, void *arg), void *arg);

/* verify_trust.c: the log key, the manifest and its signature, the checkpoint,
 * cosignatures and witnesses, the members' digests */
int bv_open_checkpoint(struct vctx *v);
void bv_check_checkpoint(struct vctx *v);
void bv_check_cosigned(struct vctx *v);
void bv_check_files(struct vctx *v);
void bv_check_log_key(struct vctx *v);
void bv_check_manifest_sig(struct vctx *v);
void bv_check_trusted_checkpoint(struct vctx *v);
void bv_check_witnesses(struct vctx *v);
void bv_digest_member(struct vctx *v, size_t i);
void bv_pick_log_key(struct vctx *v);
void bv_side_task(struct vctx *v, int k);

/* verify_events.c: each event on its own (decode, inclusion proof, body,
 * signature or seal) */
int bv_attest(struct vctx *v, const struct vev *e, const uint8_t pub[32],
              const char *keyname, char *why, size_t cap);
int bv_collect_events(struct vctx *v);
/* Whether the seal record rec (len bytes, stored as seals/<seq>.seal)
 * decodes and its signature verifies with pub: 0 or -1. The Ed25519 check
 * runs only when seq's slot holds no result for these very bytes and this
 * key (each check counts in v->seal_sigs); concurrent callers for one seal
 * wait for one check. rec must live as long as v. */
int bv_seal_sig(struct vctx *v, uint64_t seq, const uint8_t *rec, size_t len,
                const uint8_t pub[32]);
/* Frees the slots bv_collect_events made. */
void bv_release_seals(struct vctx *v);
void bv_event_pass1(struct vctx *v, size_t i, struct wctx *w);
void bv_event_sig(struct vctx *v, size_t i, struct wctx *w);

/* verify_keys.c: the actor keys, from the proven key events and the bundle's
 * key files */
void bv_build_keys(struct vctx *v);
void bv_check_epochs(struct vctx *v);
/* A trusted checkpoint that forks from the bundle's, when both are signed
 * by epoch keys certified from the log key's anchor: the "equivocation"
 * check (after bv_check_epochs). */
void bv_check_equivocation(struct vctx *v);

/* verify_against.c: opts->against, another bundle of the log, verified
 * and compared with this one checkpoint, event and seal: the "against"
 * check, and an "equivocation" check that fails when two seals or two
 * checkpoints that differ are both signed by certified epoch keys. */
void bv_check_against(struct vctx *v);

/* verify_listing.c: what the bundle lists agrees with what it proves (chain,
 * erasures, events.jsonl, the manifest's events, state, redactions) */
void bv_check_erasures(struct vctx *v);
void bv_check_events(struct vctx *v);
void bv_check_redactions(struct vctx *v);
void bv_check_state(struct vctx *v);
void bv_report_pass(struct vctx *v);

#endif
