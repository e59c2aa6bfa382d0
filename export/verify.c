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
#include <sys/stat.h>
#include <unistd.h>

#include "export/verify_int.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

const char *const bv_bstate_name[] = {"full", "redacted", "withheld", "erased"};

/* ------------------------------------------------------------ reports -- */

void
bv_check(struct ldg_bundle_report *r, const char *name,
         enum ldg_check_status st, const char *fmt, ...)
{
    struct ldg_bundle_check *c;
    va_list ap;

    if (r->nchecks == LDG_BUNDLE_CHECKS_MAX) {
        if (st == LDG_CHECK_FAIL) /* no room to say it; never an ok */
            r->ok = 0;
        return;
    }
    c = &r->checks[r->nchecks++];
    c->name = name;
    c->status = st;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
    if (st == LDG_CHECK_FAIL)
        r->ok = 0;
}

const char *
bv_nomem(void)
{
    return ldg_strerror(ldg_alloc_failed());
}

const char *
bv_strerror(int rc)
{
    return rc == LDG_ENOMEM ? bv_nomem() : ldg_strerror(rc);
}

void
bv_fail_add(struct fails *f, const char *fmt, ...)
{
    va_list ap;
    if (f->n++ == 0) {
        va_start(ap, fmt);
        vsnprintf(f->first, sizeof f->first, fmt, ap);
        va_end(ap);
    }
}

/* Reports a check from its failures, or PASS with the given text. */

void
bv_check_fails(struct ldg_bundle_report *r, const char *name,
               const struct fails *f, const char *fmt, ...)
{
    char pass[LDG_BUNDLE_DETAIL_MAX];
    va_list ap;

    if (f->n == 0) {
        va_start(ap, fmt);
        vsnprintf(pass, sizeof pass, fmt, ap);
        va_end(ap);
        bv_check(r, name, LDG_CHECK_PASS, "%s", pass);
    } else if (f->n == 1) {
        bv_check(r, name, LDG_CHECK_FAIL, "%s", f->first);
    } else {
        bv_check(r, name, LDG_CHECK_FAIL, "%s (and %llu more)", f->first,
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

const char *
bv_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A 64-bit number given as a decimal string. */
int
bv_ju64(const json_t *o, const char *k, uint64_t *v)
{
    const char *s = bv_jstr(o, k);
    return s ? ldg_parse_u64(s, strlen(s), LDG_DEC_CANONICAL, v) : -1;
}

static int
seq_cmp(const void *seq, const void *e)
{
    uint64_t a = *(const uint64_t *)seq, b = ((const struct vev *)e)->seq;
    return (a > b) - (a < b);
}

struct vev *
bv_find_ev(struct vctx *v, uint64_t seq)
{
    return v->nev ? bsearch(&seq, v->ev, v->nev, sizeof *v->ev, seq_cmp) : NULL;
}

int
bv_cmp_vkey(const void *a, const void *b)
{
    const struct vkey *x = a, *y = b;
    return strcmp(x->id, y->id);
}

/* The key with id (the table is sorted by build_keys). */
struct vkey *
bv_find_key(struct vctx *v, const char *id)
{
    struct vkey k;
    if (v->nkeys == 0 || strlen(id) > LDG_KEYID_LEN)
        return NULL;
    snprintf(k.id, sizeof k.id, "%s", id);
    return bsearch(&k, v->keys, v->nkeys, sizeof *v->keys, bv_cmp_vkey);
}

/* The public key inside a verifier key "name+hexid+base64(0x01 ‖ pub)".
 * Names never hold '+'; base64 may. */
int
bv_vkey_pub(const char *vkey, uint8_t pub[32])
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

void
bv_pfor_run(struct vctx *v, size_t n,
            void (*fn)(struct vctx *, size_t, struct wctx *))
{
    pfor_run_side(v, n, fn, NULL, 0);
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
    bv_pick_log_key(v);
    bv_open_checkpoint(v);
    if ((rc = bv_collect_events(v)) < 0)
        return rc;
    v->mdigest = malloc((v->b.n ? v->b.n : 1) * sizeof *v->mdigest);
    if (v->mdigest == NULL)
        return LDG_ENOMEM;
    /* Pass 1 (events, then member digests) with the manifest beside it. */
    pfor_run_side(v, v->nev + v->b.n, bv_event_pass1, bv_side_task, 2);
    if ((rc = v->manifest_rc) < 0)
        return rc;
    v->r->readable = 1;
    bv_check_log_key(v);
    bv_check_checkpoint(v);
    bv_check_cosigned(v);
    bv_check_witnesses(v);
    bv_check_trusted_checkpoint(v);
    bv_check_manifest_sig(v);
    bv_check_files(v);
    bv_build_keys(v);
    bv_pfor_run(v, v->nev, bv_event_sig);
    bv_report_pass(v);
    bv_check_epochs(v);
    bv_check_equivocation(v);
    bv_check_erasures(v);
    bv_check_events(v);
    bv_check_state(v);
    bv_check_redactions(v);
    bv_check_against(v);
    return v->r->ok ? 0 : LDG_ETAMPER;
}

static int
verify_common(struct vctx *v, int rc, const char *err)
{
    if (rc < 0) {
        bv_check(v->r, "archive", LDG_CHECK_FAIL, "%s", err);
        return rc;
    }
    bv_check(v->r, "archive", LDG_CHECK_PASS,
             "%llu members, %llu bytes uncompressed, layout %s",
             (unsigned long long)v->b.members, (unsigned long long)v->b.total,
             LDG_BUNDLE_MAGIC);
    rc = verify_bundle(v);
    if (rc == 0 && v->keep != NULL)
        v->keep(v, v->keep_arg);
    if (v->o->extract_dir != NULL && (rc < 0 || !v->r->ok)) {
        /* only what verified is ever written */
        bv_check(v->r, "extract", LDG_CHECK_FAIL,
                 "nothing written to %s: the bundle did not verify",
                 v->o->extract_dir);
    } else if (v->o->extract_dir != NULL) {
        char xerr[512];
        int xrc = bundle_extract(&v->b, v->o->extract_dir, xerr, sizeof xerr);
        if (xrc < 0) {
            bv_check(v->r, "extract", LDG_CHECK_FAIL, "%s", xerr);
            if (rc == 0)
                rc = xrc;
        }
    }
    for (size_t i = 0; i < v->nev; i++)
        json_decref(v->ev[i].shown);
    free(v->ev);
    bv_release_seals(v);
    free(v->keys);
    free(v->member_ok);
    free(v->mdigest);
    json_decref(v->state);
    free(v->jl);
    json_decref(v->manifest);
    json_decref(v->hz_roles);
    free(v->sealeps);
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
        bv_check(r, "log-key", LDG_CHECK_FAIL,
                 "no trust anchor: pass " LDG_OPT_TRUSTED_KEY
                 " with the log's verifier "
                 "key (`" LDG_CMD_KEYS_VERIFIER
                 "` on the box that wrote it), or " LDG_OPT_TRUSTED_CHECKPOINT
                 " with a checkpoint of that log you trust, "
                 "or " LDG_OPT_INSECURE_TRUST_BUNDLE_KEY
                 " to check the bundle only "
                 "against the key it carries");
        return LDG_EKEY;
    }
    return 0;
}

/* rc, or LDG_ENOMEM when an allocation failed since oom was read: a check
 * that failed then proves nothing, nor does one that passed on what a
 * failed allocation left out (ldg_alloc_failures) */
static int
bv_whole(int rc, unsigned long oom, struct ldg_bundle_report *r)
{
    if (ldg_alloc_failures() == oom || rc == LDG_EKEY)
        return rc;
    r->ok = 0;
    return LDG_ENOMEM;
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
    unsigned long oom = ldg_alloc_failures();

    if (report == NULL || (buf == NULL && len > 0))
        return LDG_EINVAL;
    if ((rc = ctx_init(&v, opts ? opts : &none, report)) < 0)
        return rc;
    rc = bundle_read_mem(&v.b, buf, len, &v.o->limits, err, sizeof err);
    return bv_whole(verify_common(&v, rc, err), oom, report);
}

int
ldg_export_verify(const char *path, const struct ldg_bundle_verify_opts *opts,
                  struct ldg_bundle_report *report)
{
    return bv_verify_file(path, opts, report, NULL, NULL);
}

int
bv_verify_file(const char *path, const struct ldg_bundle_verify_opts *opts,
               struct ldg_bundle_report *report,
               void (*keep)(struct vctx *v, void *arg), void *arg)
{
    static const struct ldg_bundle_verify_opts none;
    struct vctx v;
    struct stat st;
    char err[512] = "";
    int fd, rc;
    unsigned long oom = ldg_alloc_failures();

    if (report == NULL || path == NULL)
        return LDG_EINVAL;
    /* a missing file first: no trust flag makes it appear */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd); /* no input there, as a missing file */
        fd = -1;
        errno = EISDIR;
    }
    if (fd < 0) {
        int e = errno;
        memset(report, 0, sizeof *report);
        bv_check(report, "archive", LDG_CHECK_FAIL, "cannot open %s: %s", path,
                 strerror(e));
        return e == ENOENT || e == ENOTDIR || e == EISDIR ? LDG_ENOTFOUND
                                                          : LDG_EIO;
    }
    if ((rc = ctx_init(&v, opts ? opts : &none, report)) < 0) {
        close(fd);
        return rc;
    }
    v.keep = keep;
    v.keep_arg = arg;
    if (ldg_segment_sniff(fd) == 1 && v.o->against != NULL) {
        close(fd); /* refused, not verified: no comparison of segments */
        report->segment = 1;
        bv_check(report, "against", LDG_CHECK_FAIL,
                 "%s is a segment: " LDG_OPT_AGAINST " compares two bundles",
                 path);
        return LDG_EINVAL;
    }
    if (ldg_segment_sniff(fd) == 1) {
        /* a segment, not a bundle: its own one-pass verification */
        rc = bv_segment_verify(fd, v.o, report);
        close(fd);
        return bv_whole(rc, oom, report);
    }
    rc = bundle_read_fd(&v.b, fd, &v.o->limits, err, sizeof err);
    close(fd);
    return bv_whole(verify_common(&v, rc, err), oom, report);
}
