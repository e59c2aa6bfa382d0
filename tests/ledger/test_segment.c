/*
 * test_segment.c — segments (ledger/segment.c, FORMAT.md section 11):
 *
 *   - a segment of a ledger's first events round-trips: it verifies with
 *     the log key, says its range, checkpoint, state and erasures, the
 *     file's SHA-256 is the writer's, and reading it again gives every
 *     event's exact entry and stored body; ldg_segment_check passes it
 *     against the ledger, and a second segment from a horizon (with its
 *     horizon record and left edge) too;
 *   - what must fail, each refused naming the check (and the event, when
 *     one is to blame): every truncation, a byte flipped in each record
 *     kind, events reordered, records out of order, a segment of another
 *     ledger (with that ledger's key: another key; against this ledger:
 *     its tree), one re-signed with its last event removed (stated end
 *     kept: it ends early; end made end-1: no consistency proof takes its
 *     root to the checkpoint), an erasure's proof left out;
 *   - FORMAT.md 11.1's rules, the reader's (issue 63), on segments made
 *     from a good one's bytes: a second STATE (forged, with a copy of the
 *     real note), a frame without its checksum, a compressed BODY, a SEAL
 *     before a leaf > 0, a seal's first off a known count, a STATE of
 *     another size; a range that begins inside a commit is not written;
 *   - a prune refuses an archive whose STATE is not the state the ledger
 *     computes, though its trailer was signed again with the log key;
 *   - the vectors in tests/vectors/segment/: good.seg verifies with
 *     good.vkey; each bad-*.seg fails the check EXPECT names, each "ok"
 *     one verifies (with the key file EXPECT names third, if any; written
 *     anew with LDG_SEGMENT_WRITE_VECTORS=DIR, or the derived and keyed
 *     ones alone with LDG_SEGMENT_WRITE_DERIVED, LDG_SEGMENT_WRITE_KEYED).
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/export.h"
#include "ledger/log_int.h"
#include "retention/retention.h"
#include "tests/ledger/segment_stream.h"
#include "tests/support/support.h"

#define HZ 14 /* the first segment: events 0..13 */

struct fx {
    char dir[256];
    struct ldg_ledger *l;
    char vkey[512];
    uint8_t *seg; /* the segment of events 0..HZ-1 */
    size_t len;
    struct ldg_segment_info info;
};

static uint8_t *
slurp(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *b;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    b = malloc((size_t)st.st_size + 1);
    assert_non_null(b);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void
spit(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* The segment of events first..end-1 as `ledger archive` writes it. */
static uint8_t *
segment_of(struct fx *f, struct ldg_ledger *l, uint64_t first, uint64_t end,
           size_t *len, struct ldg_segment_info *info)
{
    struct ldg_export_segment_opts o;
    struct ldg_segment_report rep;
    char path[400];
    uint8_t *b;
    int rc;

    snprintf(path, sizeof path, "%s/s-%llu-%llu.seg", f->dir,
             (unsigned long long)first, (unsigned long long)end);
    unlink(path);
    memset(&o, 0, sizeof o);
    o.first = first;
    o.end = end;
    o.with_state = 1;
    if ((rc = ldg_export_segment(l, &o, path, &rep)) != 0)
        fail_msg("segment %llu..%llu: %s (%s)", (unsigned long long)first,
                 (unsigned long long)end, ldg_strerror(rc), ldg_errmsg(l));
    b = slurp(path, len);
    unlink(path);
    /* what it holds, as a reader finds it (and as the writer said) */
    assert_int_equal(ldg_segment_read_mem(b, *len, NULL, info), 0);
    assert_int_equal(info->first, rep.first);
    assert_int_equal(info->end, rep.end);
    assert_int_equal(info->checkpoint_size, rep.checkpoint_size);
    assert_int_equal(info->erased, rep.erased);
    assert_int_equal(info->after, rep.after);
    assert_int_equal(info->file_bytes, rep.bytes);
    assert_memory_equal(info->sha256, rep.sha256, 32);
    return b;
}

/*
 *   0        genesis
 *   1, 2     key.added alice (run, x), bob
 *   3        pack.installed
 *   4        run.started by alice
 *   5..12    x.test.n (one commit)
 *   13       x.test.n by alice
 *   --- HZ ---
 *   14..19   x.test.n (one commit)
 *   20       body.erased of event 6
 *   21       key.revoked bob
 *   22       x.test.n
 */
static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    assert_int_equal(ldg_keys_add(f->l, "alice", "run,x", NULL), 0);
    assert_int_equal(ldg_keys_add(f->l, "bob", NULL, NULL), 0);
    t_append(f->l, "pack.installed",
             "{\"pack\":\"p1\",\"version\":\"1.0\","
             "\"manifest_digest\":\"sha256:bb\"}",
             NULL);
    t_append(f->l, "run.started", "{\"run\":\"R-1\",\"pack\":\"p1\"}", "alice");
    t_append_many(f->l, 8);
    t_append(f->l, "x.test.a", "{\"a\":1}", "alice");
    t_append_many(f->l, 6);
    t_append(f->l, "body.erased", "{\"target_seq\":6,\"reason\":\"test\"}",
             NULL);
    assert_int_equal(ldg_keys_revoke(f->l, "bob", "test", NULL), 0);
    t_append(f->l, "x.test.z", "{\"z\":1}", NULL);
    assert_int_equal(ldg_verifier_key(f->l, f->vkey, sizeof f->vkey), 0);
    f->seg = segment_of(f, f->l, 0, HZ, &f->len, &f->info);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_segment_info_release(&f->info);
    free(f->seg);
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static int
verify(const void *p, size_t n, const char *vkey, struct ldg_segment_result *r)
{
    struct ldg_segment_verify_opts o;
    int rc;
    memset(&o, 0, sizeof o);
    o.trusted_vkey = vkey;
    rc = ldg_segment_verify_mem(p, n, &o, r);
    ldg_segment_info_release(&r->info);
    return rc;
}

/* ------------------------------------------- must-fail segments, made -- */

/* Events 6 and 7 (one seal's) swapped, entry and body. */
static uint8_t *
make_reordered(struct fx *f, size_t *len)
{
    struct stream st;
    struct part parts[512], tmp;
    size_t np, e1 = 0, e2;
    uint8_t *bad;

    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0, seen = 0; i < np; i++)
        if (parts[i].kind == 0x08 && seen++ == 6)
            e1 = i;
    e2 = e1 + 2;
    assert_int_equal(parts[e2].kind, 0x08);
    tmp = parts[e1];
    parts[e1] = parts[e2];
    parts[e2] = tmp;
    tmp = parts[e1 + 1];
    parts[e1 + 1] = parts[e2 + 1];
    parts[e2 + 1] = tmp;
    bad = compose(parts, np, len);
    free(st.p);
    return bad;
}

/* The trailer's text, as the writer makes it. */
static void
trailer(char *buf, size_t cap, const char *origin, uint64_t first, uint64_t end,
        uint64_t n, const uint8_t *state)
{
    char hex[65];
    ldg_hex(hex, state, 32);
    snprintf(buf, cap,
             "ledger.segment/v1\norigin %s\nfirst %llu\nend %llu\n"
             "checkpoint %llu\nstate %s\n",
             origin, (unsigned long long)first, (unsigned long long)end,
             (unsigned long long)n, hex);
}

/* Re-signed by the log key with its last event removed: without it, its
 * header and trailer say end - 1 (keep_end 0) or still end (1). */
static uint8_t *
resigned(struct fx *f, int keep_end, size_t *len)
{
    struct stream st;
    struct part parts[512], keep[512];
    uint8_t *bad, hdr[600];
    size_t np, nk = 0, last = 0;
    char text[800], *sig = NULL;

    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0; i < np; i++)
        if (parts[i].kind == 0x08)
            last = i;
    /* (and the seal record before it, when it opens a seal) */
    for (size_t i = 0; i < np; i++)
        if (i != last && i != last + 1 &&
            !(i == last - 1 && parts[i].kind == 0x07))
            keep[nk++] = parts[i];
    if (!keep_end) {
        uint8_t *e;
        assert_int_equal(keep[0].kind, 0x01);
        memcpy(hdr, keep[0].p, keep[0].n);
        e = memmem(hdr, keep[0].n,
                   "\xa3"
                   "end",
                   4);
        assert_non_null(e);
        assert_int_equal(e[4], HZ);
        e[4] = HZ - 1;
        keep[0].p = hdr;
        trailer(text, sizeof text, f->info.origin, 0, HZ - 1,
                f->info.checkpoint_size, f->info.state_sha256);
        assert_int_equal(ldg_log_sign_note(f->l, text, strlen(text), &sig), 0);
        assert_int_equal(keep[nk - 1].kind, 0x0d);
        keep[nk - 1].p = (const uint8_t *)sig;
        keep[nk - 1].n = strlen(sig);
    }
    bad = compose(keep, nk, len);
    free(sig);
    free(st.p);
    return bad;
}

static uint8_t *
make_resigned(struct fx *f, size_t *len)
{
    return resigned(f, 0, len);
}

/* The proven events after its range (the erasure's) left out. */
static uint8_t *
make_unproven(struct fx *f, size_t *len)
{
    struct stream st;
    struct part parts[512], keep[512];
    size_t np, nk = 0;
    uint8_t *bad;

    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0; i < np; i++)
        if (parts[i].kind != 0x06)
            keep[nk++] = parts[i];
    assert_true(nk < np);
    bad = compose(keep, nk, len);
    free(st.p);
    return bad;
}

/* ------------------- must-fail segments derived from a good one's bytes --
 * (no key needed: each made from good.seg alone, as a stranger could) */

/* Before the real STATE, a forged one (the real one less its last byte,
 * then "  }": the same object, as a reader of JSON takes it) and a copy of
 * the real STATE_NOTE: the trailer still signs the real (last) state. */
static uint8_t *
derive_second_state(const uint8_t *seg, size_t len, size_t *blen)
{
    struct stream st;
    struct part parts[512], out[514];
    uint8_t *forged, *bad;
    size_t np, no = 0;
    long k;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    k = first_of(parts, np, 0x0b);
    assert_true(k > 0 && parts[k + 1].kind == 0x0c);
    forged = malloc(parts[k].n + 2);
    memcpy(forged, parts[k].p, parts[k].n - 1);
    memcpy(forged + parts[k].n - 1, "  }", 3);
    for (size_t i = 0; i < np; i++) {
        if ((long)i == k) {
            out[no++] = (struct part){0x0b, forged, parts[k].n + 2};
            out[no++] = parts[k + 1];
        }
        out[no++] = parts[i];
    }
    bad = compose(out, no, blen);
    free(forged);
    free(st.p);
    return bad;
}

/* The same stream in a zstd frame without its content checksum. */
static uint8_t *
derive_no_checksum(const uint8_t *seg, size_t len, size_t *blen)
{
    struct stream st;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    uint8_t *out;

    decompress(seg, len, &st);
    out = malloc(ZSTD_compressBound(st.n));
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);
    *blen = ZSTD_compress2(z, out, ZSTD_compressBound(st.n), st.p, st.n);
    assert_false(ZSTD_isError(*blen));
    assert_int_equal(out[4] & 0x04, 0);
    ZSTD_freeCCtx(z);
    free(st.p);
    return out;
}

/* The first salted BODY (0x00 ‖ map) stored compressed, as a store keeps
 * it: kind 0x01 (0x01 ‖ a zstd frame of the map) or 0x04 (0x04 ‖ dict 0
 * ‖ the frame without its magic). Its commitment is the same (it is the
 * map's); a segment carries bodies uncompressed. (good.seg's bodies are
 * salted; where the first is seeded, 0x05 ‖ seed ‖ map, it becomes 0x06
 * ‖ seed ‖ dict 0 ‖ the frame: the same rule.) */
static uint8_t *
derive_body_kind(const uint8_t *seg, size_t len, uint8_t kind, size_t *blen)
{
    struct stream st;
    struct part parts[512];
    uint8_t *rec, *bad;
    size_t np, zn, at = kind == 0x04 ? 2 : 1;
    long k;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    k = first_of(parts, np, 0x09);
    assert_true(k > 0);
    if (parts[k].p[0] == 0x05) {
        for (long i = k; i < (long)np; i++)
            if (parts[i].kind == 0x09 && parts[i].p[0] == 0x00) {
                k = i;
                break;
            }
    }
    if (parts[k].p[0] == 0x05) {
        /* seed[16] stays before the dictionary and the frame */
        kind = 0x06;
        at = 18;
    }
    assert_true(parts[k].p[0] == 0x00 || kind == 0x06);
    rec = malloc(at + 4 + ZSTD_compressBound(parts[k].n));
    zn = ZSTD_compress(rec + at, ZSTD_compressBound(parts[k].n),
                       parts[k].p + at - (kind != 0x01),
                       parts[k].n - (at - (kind != 0x01)), 1);
    assert_false(ZSTD_isError(zn));
    if (kind != 0x01) { /* magicless: the frame less its 4 bytes */
        memmove(rec + at, rec + at + 4, zn - 4);
        zn -= 4;
        rec[at - 1] = 0;                         /* dictionary 0: none */
        memcpy(rec + 1, parts[k].p + 1, at - 2); /* (a seed, or nothing) */
    }
    rec[0] = kind;
    parts[k].p = rec;
    parts[k].n = at + zn;
    bad = compose(parts, np, blen);
    free(rec);
    free(st.p);
    return bad;
}

static uint8_t *
derive_body_01(const uint8_t *seg, size_t len, size_t *blen)
{
    return derive_body_kind(seg, len, 0x01, blen);
}

static uint8_t *
derive_body_04(const uint8_t *seg, size_t len, size_t *blen)
{
    return derive_body_kind(seg, len, 0x04, blen);
}

/* A copy of the seal record before event 6 (leaf 1 of the seal event 5
 * opens): a SEAL comes exactly before an entry of leaf 0 (FORMAT.md 11.1). */
static uint8_t *
derive_seal_before_leaf(const uint8_t *seg, size_t len, size_t *blen)
{
    struct stream st;
    struct part parts[512], out[513];
    size_t np, no = 0, entries = 0;
    long seal = -1;
    uint8_t *bad;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0; i < np; i++) {
        if (parts[i].kind == 0x07)
            seal = (long)i;
        if (parts[i].kind == 0x08 && entries++ == 6) {
            assert_true(seal > 0 && parts[i - 1].kind != 0x07);
            out[no++] = parts[seal];
        }
        out[no++] = parts[i];
    }
    bad = compose(out, no, blen);
    free(st.p);
    return bad;
}

/* The first seal record's `first` (its key's running count) made 1: the
 * seal opens alice's or the log key's first seal, whose key the segment
 * saw added (or the genesis), so its count is known: 0. */
static uint8_t *
derive_seal_first(const uint8_t *seg, size_t len, size_t *blen)
{
    struct stream st;
    struct part parts[512];
    uint8_t *rec, *f, *bad;
    size_t np;
    long k;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    k = first_of(parts, np, 0x07);
    assert_true(k > 0);
    rec = malloc(parts[k].n);
    memcpy(rec, parts[k].p, parts[k].n);
    f = memmem(rec, parts[k].n,
               "\xa5"
               "first\x00",
               7);
    assert_non_null(f);
    f[6] = 1;
    parts[k].p = rec;
    bad = compose(parts, np, blen);
    free(rec);
    free(st.p);
    return bad;
}

/* STATE's "size" (a decimal string, end) made another: a STATE is a JSON
 * object whose "size" is end (FORMAT.md 11.6), checked before the
 * trailer. */
static uint8_t *
derive_state_size(const uint8_t *seg, size_t len, size_t *blen)
{
    struct stream st;
    struct part parts[512];
    uint8_t *state, *z, *bad;
    size_t np;
    long k;

    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    k = first_of(parts, np, 0x0b);
    state = malloc(parts[k].n);
    memcpy(state, parts[k].p, parts[k].n);
    z = memmem(state, parts[k].n, "\"size\":\"14\"", 11);
    assert_non_null(z);
    z[9] = '3';
    parts[k].p = state;
    bad = compose(parts, np, blen);
    free(state);
    free(st.p);
    return bad;
}

/* The derived must-fail vectors: file, maker, the check that fails. */
static const struct {
    const char *name;
    uint8_t *(*make)(const uint8_t *, size_t, size_t *);
    enum ldg_segment_check check;
} derived[] = {
    {"bad-second-state.seg", derive_second_state, LDG_SEGCHK_CONTAINER},
    {"bad-no-checksum.seg", derive_no_checksum, LDG_SEGCHK_CONTAINER},
    {"bad-body-kind-01.seg", derive_body_01, LDG_SEGCHK_BODIES},
    {"bad-body-kind-04-dict-0.seg", derive_body_04, LDG_SEGCHK_BODIES},
    {"bad-seal-before-leaf.seg", derive_seal_before_leaf, LDG_SEGCHK_SEALS},
    {"bad-seal-first.seg", derive_seal_first, LDG_SEGCHK_SEALS},
    {"bad-state-size.seg", derive_state_size, LDG_SEGCHK_STATE},
};

/* A segment of another ledger. */
static uint8_t *
make_foreign(struct fx *f, size_t *len)
{
    struct fx g;
    struct ldg_segment_info info;
    uint8_t *seg;
    (void)f;
    memset(&g, 0, sizeof g);
    g.l = t_ledger_new(g.dir, sizeof g.dir, 0);
    t_append_many(g.l, 20);
    seg = segment_of(&g, g.l, 0, 21, len, &info);
    ldg_segment_info_release(&info);
    ldg_close(g.l);
    t_rmrf(g.dir);
    return seg;
}

/* Events HZ..22 and the prune's own, once events 0..HZ-1 are pruned
 * (archived and pruned here): the segment carries the horizon record. */
static uint8_t *
second_segment(struct fx *f, size_t *len)
{
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    struct ldg_segment_info info;
    char path[400];
    uint8_t *seg;

    snprintf(path, sizeof path, "%s/a1.seg", f->dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "14";
    ao.out = path;
    assert_int_equal(ldg_retention_archive(f->l, &ao, &ar), 0);
    memset(&po, 0, sizeof po);
    po.before = "14";
    po.archive = path;
    if (ldg_retention_prune(f->l, &po, &pr) != 0)
        fail_msg("prune: %s", ldg_errmsg(f->l));
    assert_memory_equal(pr.archive_sha256, ar.sha256, 32);
    seg = segment_of(f, f->l, HZ, 24, len, &info);
    assert_int_equal(info.horizon_seq, HZ);
    ldg_segment_info_release(&info);
    return seg;
}

/* -------------------------------------------------------- round trip -- */

struct seen {
    struct ldg_ledger *l;
    int range, prior, after, erased;
    uint64_t next;
};

static int
seen_event(void *ctx, const struct ldg_segment_event *e)
{
    struct seen *s = ctx;
    struct ldg_txn *t;
    static uint8_t whole[LDG_ENTRY_MAX];
    const uint8_t *w;
    size_t wl;
    struct ldg_val v;
    if (e->where == LDG_SEGMENT_PRIOR)
        s->prior++;
    if (e->where == LDG_SEGMENT_AFTER)
        s->after++;
    if (e->where != LDG_SEGMENT_RANGE)
        return 0;
    assert_int_equal(e->ev->seq, s->next++);
    s->range++;
    assert_int_equal(ldg_txn_begin(s->l, LDG_TXN_READ, &t), 0);
    /* the exact entry, rebuilt */
    assert_int_equal(
        ldg_event_entry(t, e->ev->seq, whole, sizeof whole, &w, &wl), 0);
    assert_int_equal(wl, e->ev->entry_len);
    assert_memory_equal(w, e->ev->entry, wl);
    if (e->body == NULL) {
        s->erased++;
        assert_int_equal(ldg_body_raw(t, e->ev->seq, &v), LDG_EERASED);
    } else {
        /* the stored record, uncompressed (the segment's stream
         * compresses it): the same kind and bytes inflated */
        struct ldg_inflate zs = {0}, raw = {0};
        const uint8_t *r;
        size_t rl;
        assert_int_equal(ldg_body_raw(t, e->ev->seq, &v), 0);
        assert_int_equal(ldg_body_rec_raw(ldg_txn_dicts(t), v.data, v.len,
                                          ldg_body_max(s->l), &zs, &raw, &r,
                                          &rl),
                         0);
        assert_true(e->body_len > 0 && (e->body[0] == LDG_BODY_RAW ||
                                        e->body[0] == LDG_BODY_SEEDED_AES));
        assert_int_equal(rl, e->body_len);
        assert_memory_equal(r, e->body, rl);
        /* the public form (query's stream inflates with it) agrees */
        {
            struct ldg_buf ub = {0};
            assert_int_equal(
                ldg_body_record_raw_append(ldg_txn_dicts(t), v.data, v.len,
                                           ldg_body_max(s->l), &ub),
                0);
            assert_int_equal(ub.len, rl);
            assert_memory_equal(ub.p, r, rl);
            ldg_buf_release(&ub);
        }
        ldg_inflate_release(&zs);
        ldg_inflate_release(&raw);
    }
    ldg_txn_abort(t);
    return 0;
}

static void
test_segment__round_trips(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    struct ldg_segment_verify_opts o;
    struct seen s = {f->l, 0, 0, 0, 0, 0};
    struct ldg_segment_info ri;
    struct ldg_txn *t;
    uint8_t sha[32];
    char path[400];
    int fd;

    assert_int_equal(f->info.first, 0);
    assert_int_equal(f->info.end, HZ);
    /* erased after the horizon: proven against the latest checkpoint */
    assert_int_equal(f->info.checkpoint_size, HZ + 9);
    assert_int_equal(f->info.erased, 1);
    assert_true(f->info.after >= 2); /* the body.erased, bob's revocation */
    ldg_sha256(sha, f->seg, f->len);
    assert_memory_equal(sha, f->info.sha256, 32);
    assert_int_equal(f->info.file_bytes, f->len);

    memset(&o, 0, sizeof o);
    o.trusted_vkey = f->vkey;
    o.keep_state = 1;
    assert_int_equal(ldg_segment_verify_mem(f->seg, f->len, &o, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.info.first, 0);
    assert_int_equal(r.info.end, HZ);
    assert_int_equal(r.info.events, HZ);
    assert_int_equal(r.info.erased, 1);
    assert_int_equal(r.info.after, f->info.after);
    assert_true(r.info.has_state);
    assert_non_null(r.info.state);
    assert_non_null(strstr(r.info.state_note, "ledger-projections/v1\n"));
    assert_memory_equal(r.info.sha256, sha, 32);
    assert_int_equal(r.info.format, 2);
    /* a signature check a seal, and one for each proven event's */
    assert_true(r.info.seals >= 5 && r.info.seal_checks > r.info.seals);
    ldg_segment_info_release(&r.info);

    /* read again: every event's exact bytes */
    snprintf(path, sizeof path, "%s/rt.seg", f->dir);
    spit(path, f->seg, f->len);
    fd = open(path, O_RDONLY);
    memset(&o, 0, sizeof o);
    o.event = seen_event;
    o.ctx = &s;
    assert_int_equal(ldg_segment_read_fd(fd, &o, &ri), 0);
    close(fd);
    ldg_segment_info_release(&ri);
    assert_int_equal(s.range, HZ);
    assert_int_equal(s.erased, 1);
    assert_int_equal(s.prior, 0);
    assert_int_equal(s.after, (int)f->info.after);

    /* the prune's check: leaf for leaf against this ledger */
    fd = open(path, O_RDONLY);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_segment_check(t, fd, NULL, &r), 0);
    assert_true(r.ok);
    ldg_segment_info_release(&r.info);
    ldg_txn_abort(t);
    close(fd);
    assert_int_equal(ldg_segment_sniff(open(path, O_RDONLY)), 1);
    unlink(path);
}

/* The second segment, from the horizon of a prune: the horizon record,
 * the left edge, prev from the record. */
static void
test_segment__from_a_horizon(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    struct stream st;
    struct part parts[512];
    uint8_t *seg, *bad;
    size_t len, blen, np;
    char path[400];
    struct ldg_txn *t;
    int fd;

    seg = second_segment(f, &len);
    assert_int_equal(verify(seg, len, f->vkey, &r), 0);
    assert_true(r.ok);
    snprintf(path, sizeof path, "%s/a2.seg", f->dir);
    spit(path, seg, len);
    fd = open(path, O_RDONLY);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    if (ldg_segment_check(t, fd, NULL, &r) != 0)
        fail_msg("check: %s: %s", ldg_segment_check_name(r.failed), r.what);
    ldg_segment_info_release(&r.info);
    ldg_txn_abort(t);
    close(fd);
    /* its horizon record changed: refused as such */
    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    assert_int_equal(parts[1].kind, 0x02);
    st.p[parts[1].p - st.p + 40] ^= 1;
    bad = compose(parts, np, &blen);
    assert_int_equal(verify(bad, blen, f->vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_HORIZON);
    free(bad);
    free(st.p);
    free(seg);
}

/* A range in the middle of an unpruned log (export --segment): the
 * genesis and the key events before it come as proven events, and so
 * does the erasure after it; alice's event in it is hers. */
static void
test_segment__a_middle_range(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    struct ldg_segment_info info;
    struct ldg_segment_verify_opts o;
    uint8_t *seg;
    size_t len;

    seg = segment_of(f, f->l, 5, HZ, &len, &info);
    assert_int_equal(info.prior, 3); /* the genesis, alice's, bob's */
    assert_true(info.after >= 2);
    memset(&o, 0, sizeof o);
    o.trusted_vkey = f->vkey;
    if (ldg_segment_verify_mem(seg, len, &o, &r) != 0)
        fail_msg("%s: %s", ldg_segment_check_name(r.failed), r.what);
    assert_int_equal(r.info.first, 5);
    assert_int_equal(r.info.prior, 3);
    assert_int_equal(r.info.erased, 1);
    ldg_segment_info_release(&r.info);
    ldg_segment_info_release(&info);
    free(seg);
}

/* What the writer's snapshot callback saw; at the end of window
 * `erase_after` it appends a body.erased of event `target` (0: of an event
 * it appends first). */
struct snaps {
    struct ldg_ledger *l;
    int held, begins, ends, nested, erase_after;
    uint64_t target;
};

static void
on_snapshot(void *ctx, int held)
{
    struct snaps *s = ctx;
    if (held) {
        s->nested += s->held;
        s->held = 1;
        s->begins++;
        return;
    }
    s->held = 0;
    s->ends++;
    if (s->erase_after > 0 && s->ends == s->erase_after) {
        char body[100];
        if (s->target == 0)
            s->target = t_append(s->l, "x.test.new", "{\"n\":1}", NULL);
        snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"t\"}",
                 (unsigned long long)s->target);
        t_append(s->l, "body.erased", body, NULL);
    }
}

/* 2,509 events are read in windows of at most 1,000, each in a snapshot
 * of its own (begun and ended in turn, none left held), and the segment
 * verifies; an erase of one of them between two windows fails it
 * (LDG_ENOTFOUND, naming it); one after its checkpoint does not. */
static void
test_segment__written_in_windows(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_write_opts o;
    struct ldg_segment_result r;
    struct snaps sn;
    char path[400];
    uint8_t *b;
    size_t len;
    uint64_t size;
    struct ldg_txn *t;
    int fd;

    t_append_many(f->l, 2500);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    ldg_txn_abort(t);
    snprintf(path, sizeof path, "%s/win.seg", f->dir);
    memset(&o, 0, sizeof o);
    o.first = HZ;
    o.end = size;
    o.snapshot = on_snapshot;
    o.snapshot_ctx = &sn;

    memset(&sn, 0, sizeof sn);
    sn.l = f->l;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ldg_segment_write(f->l, &o, fd, NULL), 0);
    close(fd);
    assert_true(sn.begins >= 3);
    assert_int_equal(sn.ends, sn.begins);
    assert_int_equal(sn.nested, 0);
    assert_int_equal(sn.held, 0);
    b = slurp(path, &len);
    assert_int_equal(verify(b, len, f->vkey, &r), 0);
    assert_int_equal(r.info.events, size - HZ);
    free(b);

    /* an erase of an event of it after the first window */
    memset(&sn, 0, sizeof sn);
    sn.l = f->l;
    sn.erase_after = 1;
    sn.target = 2000;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ldg_segment_write(f->l, &o, fd, NULL), LDG_ENOTFOUND);
    close(fd);
    assert_non_null(strstr(ldg_errmsg(f->l), "event 2000's body was erased"));
    assert_int_equal(sn.ends, sn.begins);
    assert_int_equal(sn.held, 0);

    /* an erase after its checkpoint (of an event appended meanwhile)
     * changes nothing it holds */
    memset(&sn, 0, sizeof sn);
    sn.l = f->l;
    sn.erase_after = 1;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ldg_segment_write(f->l, &o, fd, NULL), 0);
    close(fd);
    assert_true(sn.target > size);
    b = slurp(path, &len);
    assert_int_equal(verify(b, len, f->vkey, &r), 0);
    free(b);
}

/* A range that begins inside a commit (event 6: leaf 1 of the seal event
 * 5 opens; export --segment and archive take whole commits, this writer
 * is asked directly): refused, writing nothing, as a verifier would refuse
 * its first event, whose seal is not open in it (FORMAT.md 11.1). */
static void
test_segment__a_range_inside_a_commit_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_write_opts o;
    struct stat sb;
    char path[400];
    int fd;

    snprintf(path, sizeof path, "%s/mid.seg", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    memset(&o, 0, sizeof o);
    o.first = 6;
    o.end = HZ;
    assert_int_equal(ldg_segment_write(f->l, &o, fd, NULL), LDG_EINVAL);
    assert_non_null(
        strstr(ldg_errmsg(f->l), "a segment begins where a commit begins"));
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    close(fd);
}

/* A format 1 ledger's segment: entries with their signatures (less
 * prev), checked a signature an event; a byte of a signature flipped is
 * refused at its event. */
static void
test_segment__format_1(void **state)
{
    struct fx g;
    struct ldg_segment_result r;
    struct ldg_segment_info info;
    struct stream st;
    struct part parts[512];
    char vkey[512];
    uint8_t *seg, *bad;
    size_t len, blen, np, e3 = 0;
    (void)state;

    memset(&g, 0, sizeof g);
    g.l = t_ledger_new_format(g.dir, sizeof g.dir, 0, 1);
    assert_int_equal(ldg_keys_add(g.l, "alice", "x", NULL), 0);
    t_append(g.l, "x.test.a", "{\"a\":1}", "alice");
    t_append_many(g.l, 10);
    assert_int_equal(ldg_verifier_key(g.l, vkey, sizeof vkey), 0);
    seg = segment_of(&g, g.l, 0, 13, &len, &info);
    assert_int_equal(info.format, 1);
    assert_int_equal(verify(seg, len, vkey, &r), 0);
    /* event 3's entry: its signature's last byte */
    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0, n = 0; i < np; i++)
        if (parts[i].kind == 0x08 && n++ == 3)
            e3 = i;
    assert_int_equal(parts[e3].p[0], 0x92);
    ((uint8_t *)(uintptr_t)parts[e3].p)[parts[e3].n - 1] ^= 1;
    bad = compose(parts, np, &blen);
    assert_int_equal(verify(bad, blen, vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_SEALS);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.what, "signature does not verify"));
    free(bad);
    free(st.p);
    free(seg);
    ldg_segment_info_release(&info);
    ldg_close(g.l);
    t_rmrf(g.dir);
}

/* ------------------------------------------------------ must fail -- */

static void
test_segment__every_truncation_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    size_t step = f->len > 4000 ? f->len / 1000 : 1;

    for (size_t n = 0; n < f->len; n += (n < 600 ? 1 : step)) {
        int rc = verify(f->seg, n, f->vkey, &r);
        if (rc == 0 || r.ok)
            fail_msg("the first %zu of %zu bytes verify", n, f->len);
        assert_true(r.what[0] != '\0');
    }
}

/* A byte flipped in each record kind, at its start, middle and end: every
 * one refused, naming a check. */
static void
test_segment__a_flipped_byte_in_each_record_is_refused(void **state)
{
    struct fx *f = *state;
    struct stream st;
    struct part parts[512];
    size_t np;
    unsigned kinds = 0;

    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0; i < np; i++) {
        size_t at[3] = {0, parts[i].n / 2, parts[i].n - 1};
        if (parts[i].n == 0)
            continue; /* (an erased body's record) */
        kinds |= 1u << parts[i].kind;
        for (int k = 0; k < 3; k++) {
            struct ldg_segment_result r;
            uint8_t *bad;
            size_t blen;
            uint8_t *b = (uint8_t *)(uintptr_t)parts[i].p + at[k];
            int rc;
            *b ^= 0x01;
            bad = compose(parts, np, &blen);
            rc = verify(bad, blen, f->vkey, &r);
            *b ^= 0x01;
            free(bad);
            if (rc == 0 || r.ok)
                fail_msg("record %zu (kind %u) with byte %zu of %zu flipped "
                         "verifies",
                         i, parts[i].kind, at[k], parts[i].n);
            assert_true(r.what[0] != '\0');
        }
    }
    /* every kind this segment has: header, checkpoint, consistency,
     * proven, seal, entry, body, state, note, trailer (its edge is empty:
     * it starts at 0; test_segment__from_a_horizon has the others) */
    assert_int_equal(kinds, 0x3bf2);
    free(st.p);
}

static void
test_segment__reordered_is_refused(void **state)
{
    struct fx *f = *state;
    struct stream st;
    struct part parts[512], tmp;
    struct ldg_segment_result r;
    size_t np, blen;
    uint8_t *bad;

    bad = make_reordered(f, &blen);
    assert_int_equal(verify(bad, blen, f->vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_CHAIN);
    assert_int_equal(r.bad_seq, 6);
    assert_non_null(strstr(r.what, "where 6 belongs"));
    free(bad);
    /* the header and the edge swapped */
    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    tmp = parts[0];
    parts[0] = parts[1];
    parts[1] = tmp;
    bad = compose(parts, np, &blen);
    assert_true(verify(bad, blen, f->vkey, &r) < 0);
    assert_int_equal(r.failed, LDG_SEGCHK_HEADER);
    free(bad);
    free(st.p);
}

static void
test_segment__another_ledgers_is_refused(void **state)
{
    struct fx *f = *state;
    struct fx g;
    struct ldg_segment_result r;
    struct ldg_segment_info info;
    struct ldg_txn *t;
    uint8_t *seg;
    size_t len;
    char path[400], gkey[512];
    int fd;

    memset(&g, 0, sizeof g);
    g.l = t_ledger_new(g.dir, sizeof g.dir, 0);
    t_append_many(g.l, 20);
    assert_int_equal(ldg_verifier_key(g.l, gkey, sizeof gkey), 0);
    seg = segment_of(&g, g.l, 0, 21, &len, &info);
    assert_int_equal(verify(seg, len, gkey, &r), 0);
    /* with this ledger's key: another ledger's */
    assert_int_equal(verify(seg, len, f->vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_LOG_KEY);
    assert_non_null(strstr(r.what, "another ledger's"));
    /* checked against this ledger (its key aside): refused too */
    snprintf(path, sizeof path, "%s/g.seg", f->dir);
    spit(path, seg, len);
    fd = open(path, O_RDONLY);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_segment_check(t, fd, NULL, &r), LDG_ETAMPER);
    ldg_segment_info_release(&r.info);
    ldg_txn_abort(t);
    close(fd);
    free(seg);
    ldg_segment_info_release(&info);
    ldg_close(g.l);
    t_rmrf(g.dir);
}

/* Re-signed by the log key with its last event removed: with the end
 * it stated, it ends early; with end - 1 in its header and trailer, no
 * consistency proof takes its root to the checkpoint. */
static void
test_segment__resigned_without_its_last_event_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    uint8_t *bad;
    size_t blen;

    bad = resigned(f, 1, &blen);
    assert_true(verify(bad, blen, f->vkey, &r) < 0);
    assert_false(r.ok);
    assert_int_equal(r.failed, LDG_SEGCHK_CONTAINER);
    free(bad);
    bad = resigned(f, 0, &blen);
    assert_int_equal(verify(bad, blen, f->vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_TREE);
    assert_non_null(strstr(r.what, "events 0..12"));
    free(bad);
}

/* The proof of an erasure after the horizon left out: the erased body is
 * named by nothing the segment carries. */
static void
test_segment__an_unproven_erasure_is_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_result r;
    size_t blen;
    uint8_t *bad = make_unproven(f, &blen);

    assert_int_equal(verify(bad, blen, f->vkey, &r), LDG_ETAMPER);
    assert_int_equal(r.failed, LDG_SEGCHK_ERASURES);
    assert_int_equal(r.bad_seq, 6);
    free(bad);
}

/* FORMAT.md 11.1's rules, the reader's (issue 63): a second STATE (a
 * forged one and a copy of the real note before the real ones) is refused
 * by its order, naming the record and its offset, and leaks nothing (the
 * reader kept the last and dropped the first); a frame without its
 * content checksum; a body of kind 0x01, or 0x04 of dictionary 0. Each by
 * verify and by the prune's check against the ledger. */
static void
test_segment__derived_must_fail(void **state)
{
    struct fx *f = *state;
    char path[400];

    snprintf(path, sizeof path, "%s/d.seg", f->dir);
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
        struct ldg_segment_result r;
        struct ldg_segment_verify_opts o;
        struct ldg_txn *t;
        size_t blen;
        uint8_t *bad = derived[i].make(f->seg, f->len, &blen);
        int rc, fd;

        memset(&o, 0, sizeof o);
        o.trusted_vkey = f->vkey;
        o.keep_state = 1;
        rc = ldg_segment_verify_mem(bad, blen, &o, &r);
        if (rc == 0 || r.ok)
            fail_msg("%s verifies", derived[i].name);
        if (r.failed != derived[i].check)
            fail_msg("%s fails %s (%s), not %s", derived[i].name,
                     ldg_segment_check_name(r.failed), r.what,
                     ldg_segment_check_name(derived[i].check));
        ldg_segment_info_release(&r.info);
        if (i == 0)
            assert_non_null(strstr(r.what, "a state record (kind 0x0b) at "
                                           "byte "));
        if (i == 1)
            assert_non_null(strstr(r.what, "no content checksum"));
        if (i == 2 || i == 3)
            assert_non_null(strstr(r.what, "its body record is of kind 0x0"));
        if (i == 4)
            assert_non_null(strstr(r.what, "a seal record comes before it"));
        if (i == 5)
            assert_non_null(strstr(r.what, "sealed 1 events before it; the "
                                           "log says 0"));
        if (i == 6)
            assert_non_null(strstr(r.what, "the state at size 14"));
        spit(path, bad, blen);
        fd = open(path, O_RDONLY);
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        rc = ldg_segment_check(t, fd, &o, &r);
        ldg_txn_abort(t);
        close(fd);
        assert_true(rc < 0 && !r.ok);
        ldg_segment_info_release(&r.info);
        free(bad);
    }
}

/* The archive of events 0..HZ-1 with its STATE edited by edit() and its
 * trailer signed again by the log key (what root on the box can do):
 * written to path, and it verifies (the key signs it). */
static void
forged_archive(struct fx *f, const char *path,
               size_t (*edit)(const uint8_t *p, size_t n, uint8_t *out))
{
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_segment_result r;
    struct stream st;
    struct part parts[512];
    uint8_t *seg, *bad, *state, sha[32];
    size_t len, blen, np;
    char text[800], *sig = NULL;
    long k;

    memset(&ao, 0, sizeof ao);
    ao.before = "14";
    ao.out = path;
    assert_int_equal(ldg_retention_archive(f->l, &ao, &ar), 0);
    seg = slurp(path, &len);
    unlink(path);
    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    k = first_of(parts, np, 0x0b);
    assert_true(k > 0 && parts[np - 1].kind == 0x0d);
    state = malloc(parts[k].n + 16);
    parts[k].n = edit(parts[k].p, parts[k].n, state);
    parts[k].p = state;
    ldg_sha256(sha, state, parts[k].n);
    trailer(text, sizeof text, f->info.origin, 0, HZ, ar.checkpoint_size, sha);
    assert_int_equal(ldg_log_sign_note(f->l, text, strlen(text), &sig), 0);
    parts[np - 1].p = (const uint8_t *)sig;
    parts[np - 1].n = strlen(sig);
    bad = compose(parts, np, &blen);
    assert_int_equal(verify(bad, blen, f->vkey, &r), 0);
    spit(path, bad, blen);
    free(bad);
    free(sig);
    free(state);
    free(st.p);
    free(seg);
}

/* The doctor's verdict "blocked" made "healthy". */
static size_t
edit_verdict(const uint8_t *p, size_t n, uint8_t *out)
{
    uint8_t *v;
    memcpy(out, p, n);
    v = memmem(out, n, "\"verdict\":\"blocked\"", 19);
    assert_non_null(v);
    memcpy(v + 11, "healthy", 7);
    return n;
}

/* One space added after the first comma: the same JSON. */
static size_t
edit_space(const uint8_t *p, size_t n, uint8_t *out)
{
    const uint8_t *c = memchr(p, ',', n);
    size_t at = (size_t)(c - p) + 1;
    assert_non_null(c);
    memcpy(out, p, at);
    out[at] = ' ';
    memcpy(out + at + 1, p + at, n - at);
    return n + 1;
}

/* A state the ledger never computed (issue 63): the archive's STATE
 * edited, its trailer signed again by the log key. It verifies, so only
 * the prune, which holds the state at the horizon, can tell: it refuses,
 * naming where the state differs, and prunes nothing. */
static void
test_segment__prune_refuses_a_state_it_did_not_compute(void **state)
{
    struct fx *f = *state;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    struct ldg_horizon hz;
    struct ldg_txn *t;
    char path[400];

    snprintf(path, sizeof path, "%s/forged.seg", f->dir);
    memset(&po, 0, sizeof po);
    po.before = "14";
    po.archive = path;
    forged_archive(f, path, edit_verdict);
    assert_int_equal(ldg_retention_prune(f->l, &po, &pr), LDG_ETAMPER);
    if (strstr(ldg_errmsg(f->l), "doctor.verdict: \"healthy\" in the "
                                 "archive, \"blocked\" as the ledger") == NULL)
        fail_msg("%s", ldg_errmsg(f->l));
    unlink(path);
    forged_archive(f, path, edit_space);
    assert_int_equal(ldg_retention_prune(f->l, &po, &pr), LDG_ETAMPER);
    if (strstr(ldg_errmsg(f->l), "the same JSON in other bytes") == NULL)
        fail_msg("%s", ldg_errmsg(f->l));
    unlink(path);
    /* nothing pruned */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_horizon_get(t, &hz), LDG_ENOTFOUND);
    ldg_txn_abort(t);
}

/* The fixture's store (layout 8) carried back to layout `layout`: every
 * entries5 record rewritten in that layout's stored form (7: the digest
 * in the stamp; 6: without it), meta "layout" with it. */
static void
stored_as(struct fx *f, uint64_t size, int layout)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t rec[LDG_ENTRY_MAX], out[LDG_ENTRY_MAX], lay[4] = {0, 0, 0, 0};
    size_t n, on;
    int form = layout == 7 ? LDG_STORED_STAMP : LDG_STORED_CUT;

    for (uint64_t q = 0; q < size; q++) {
        n = t_raw_stored_get(f->l, "entries", q, rec, sizeof rec);
        assert_int_equal(ldg_entry_stored(rec, n, form, out, sizeof out, &on),
                         0);
        /* from 8 (0x01 ‖ d ‖ the record without d) or 7 */
        assert_int_equal(on, layout == 7 ? n + 8 : n - 41);
        t_raw_put(f->l, "entries", q, out, on);
    }
    lay[3] = (uint8_t)layout;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "meta", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, "layout", 6, lay, 4), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &(struct ldg_verify_report){0}, NULL, NULL),
                     0);
}

/* A segment's ENTRY records leave a sealed entry's claim digest out
 * whatever layout the store keeps (layouts 7 and 8 keep it): the same
 * events stored as layout 7 keeps them (the digest in the stamp) and as
 * layout 6 does (every entries5 record's digest cut) make a segment of
 * the same bytes as the fixture's layout 8 store. */
static void
test_segment__the_same_bytes_from_layouts_6_7_and_8(void **state)
{
    struct fx *f = *state;
    struct ldg_segment_info info;
    struct ldg_txn *t;
    uint8_t rec[LDG_ENTRY_MAX];
    uint64_t size;
    size_t len, n, tagged = 0;
    uint8_t *seg;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    ldg_txn_abort(t);
    for (uint64_t q = 0; q < size; q++) {
        n = t_raw_stored_get(f->l, "entries", q, rec, sizeof rec);
        tagged += n > 33 && rec[0] == 0x01;
    }
    assert_int_equal(tagged, size); /* layout 8 keeps every one so */
    for (int layout = 7; layout >= 6; layout--) {
        stored_as(f, size, layout);
        seg = segment_of(f, f->l, 0, HZ, &len, &info);
        assert_int_equal(len, f->len);
        assert_memory_equal(seg, f->seg, len);
        ldg_segment_info_release(&info);
        free(seg);
    }
}

/* ---------------------------------------------------------- vectors -- */

static const char *const VECTORS = "tests/vectors/segment";

/* The must-fail files derived from good.seg's bytes (derived[]), each
 * with its line of EXPECT. */
static void
write_derived(const char *dir, const uint8_t *seg, size_t len, FILE *ex)
{
    char path[600];
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
        size_t blen;
        uint8_t *bad = derived[i].make(seg, len, &blen);
        snprintf(path, sizeof path, "%s/%s", dir, derived[i].name);
        spit(path, bad, blen);
        fprintf(ex, "%s %s\n", derived[i].name,
                ldg_segment_check_name(derived[i].check));
        free(bad);
    }
}

/* The keyed vectors (a fixture's own key, keyed.vkey; EXPECT's third
 * column): what FORMAT.md 11 answers that only a segment signed anew can
 * show, each ok (verifies) or naming its check.
 *
 *   good-middle.seg     events 5..13: the genesis and alice's and bob's
 *                       key.added are proven before the range, so the
 *                       log key's and alice's seal counts are not known
 *                       (11.8 step 6): her seal at 13 says first 1,
 *                       unchecked, and it verifies
 *   good-state-spaced.seg  the state with one space added and the trailer
 *                       signed again: a verifier without the ledger takes
 *                       any JSON object of the right size (only a prune,
 *                       which computes the state, refuses it)
 *   good-horizon-before-first.seg  events 25..26 of the ledger pruned at
 *                       14: the horizon record (14 < first) and, proven
 *                       before the range, the key events since the
 *                       horizon (21 bob's key.revoked, 24 carol's
 *                       key.added), no genesis (11.5)
 *   bad-horizon-key-left-out.seg  the same without carol's key.added:
 *                       her event 25 is by a key not added (keys) */
static void
write_keyed(struct fx *f, const char *dir, FILE *ex)
{
    struct ldg_segment_info info;
    struct stream st;
    struct part parts[512], keep[512];
    uint8_t *seg, *bad;
    size_t len, blen, np, nk = 0;
    char path[600];

    snprintf(path, sizeof path, "%s/keyed.vkey", dir);
    spit(path, f->vkey, strlen(f->vkey));
    seg = segment_of(f, f->l, 5, HZ, &len, &info);
    assert_int_equal(info.prior, 3);
    ldg_segment_info_release(&info);
    snprintf(path, sizeof path, "%s/good-middle.seg", dir);
    spit(path, seg, len);
    fprintf(ex, "good-middle.seg ok keyed.vkey\n");
    free(seg);
    snprintf(path, sizeof path, "%s/good-state-spaced.seg", dir);
    forged_archive(f, path, edit_space);
    fprintf(ex, "good-state-spaced.seg ok keyed.vkey\n");
    /* pruned at 14, then carol and an event of hers */
    free(second_segment(f, &len));
    assert_int_equal(ldg_keys_add(f->l, "carol", "x", NULL), 0);
    t_append(f->l, "x.test.c", "{\"c\":1}", "carol");
    t_append(f->l, "x.test.d", "{\"d\":1}", NULL);
    seg = segment_of(f, f->l, 25, 27, &len, &info);
    assert_int_equal(info.horizon_seq, HZ);
    assert_int_equal(info.prior, 2);
    ldg_segment_info_release(&info);
    snprintf(path, sizeof path, "%s/good-horizon-before-first.seg", dir);
    spit(path, seg, len);
    fprintf(ex, "good-horizon-before-first.seg ok keyed.vkey\n");
    decompress(seg, len, &st);
    np = parts_of(&st, parts);
    for (size_t i = 0, proven = 0; i < np; i++)
        if (!(parts[i].kind == 0x06 && proven++ == 1))
            keep[nk++] = parts[i];
    assert_int_equal(nk, np - 1);
    bad = compose(keep, nk, &blen);
    snprintf(path, sizeof path, "%s/bad-horizon-key-left-out.seg", dir);
    spit(path, bad, blen);
    fprintf(ex, "bad-horizon-key-left-out.seg keys keyed.vkey\n");
    free(bad);
    free(st.p);
    free(seg);
}

/* With LDG_SEGMENT_WRITE_VECTORS=DIR: good.seg and its key, and a
 * must-fail file for each case, with EXPECT (file, check). */
static void
write_vectors(struct fx *f, const char *dir)
{
    struct stream st;
    struct part parts[512];
    size_t np, blen;
    uint8_t *bad;
    char path[600];
    FILE *ex;
    struct ldg_segment_result r;

    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/good.seg", dir);
    spit(path, f->seg, f->len);
    snprintf(path, sizeof path, "%s/good.vkey", dir);
    spit(path, f->vkey, strlen(f->vkey));
    snprintf(path, sizeof path, "%s/EXPECT", dir);
    ex = fopen(path, "w");
    assert_non_null(ex);
    fprintf(ex, "# file check [key] (what verify-bundle --trusted-key "
                "good.vkey, or the key file named, names as failing; ok: "
                "it verifies)\n");
    decompress(f->seg, f->len, &st);
    np = parts_of(&st, parts);
    /* one byte flipped in the middle of each record kind's first */
    for (unsigned k = 1; k <= 0x0d; k++) {
        for (size_t i = 0; i < np; i++) {
            uint8_t *b;
            if (parts[i].kind != k || parts[i].n == 0)
                continue;
            b = (uint8_t *)(uintptr_t)parts[i].p + parts[i].n / 2;
            *b ^= 0x01;
            bad = compose(parts, np, &blen);
            *b ^= 0x01;
            verify(bad, blen, f->vkey, &r);
            snprintf(path, sizeof path, "%s/bad-flip-kind-%02u.seg", dir, k);
            spit(path, bad, blen);
            fprintf(ex, "bad-flip-kind-%02u.seg %s\n", k,
                    ldg_segment_check_name(r.failed));
            free(bad);
            break;
        }
    }
    /* truncated: the first half */
    verify(f->seg, f->len / 2, f->vkey, &r);
    snprintf(path, sizeof path, "%s/bad-truncated.seg", dir);
    spit(path, f->seg, f->len / 2);
    fprintf(ex, "bad-truncated.seg %s\n", ldg_segment_check_name(r.failed));
    /* the other cases of the tests above, as files */
    {
        struct {
            const char *name;
            uint8_t *(*make)(struct fx *, size_t *);
        } cases[] = {{"bad-reordered.seg", make_reordered},
                     {"bad-resigned-end.seg", make_resigned},
                     {"bad-unproven-erasure.seg", make_unproven},
                     {"bad-another-ledger.seg", make_foreign}};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            bad = cases[i].make(f, &blen);
            verify(bad, blen, f->vkey, &r);
            snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
            spit(path, bad, blen);
            fprintf(ex, "%s %s\n", cases[i].name,
                    ldg_segment_check_name(r.failed));
            free(bad);
        }
    }
    /* a segment from a horizon: its horizon record and left edge */
    {
        uint8_t *seg = second_segment(f, &blen);
        struct stream s2;
        struct part p2[512];
        size_t n2;
        snprintf(path, sizeof path, "%s/good-from-horizon.seg", dir);
        spit(path, seg, blen);
        decompress(seg, blen, &s2);
        n2 = parts_of(&s2, p2);
        for (unsigned k = 2; k <= 3; k++) {
            uint8_t *b = (uint8_t *)(uintptr_t)p2[k - 1].p + p2[k - 1].n / 2;
            size_t bl;
            assert_int_equal(p2[k - 1].kind, k);
            *b ^= 0x01;
            bad = compose(p2, n2, &bl);
            *b ^= 0x01;
            verify(bad, bl, f->vkey, &r);
            snprintf(path, sizeof path, "%s/bad-flip-kind-%02u.seg", dir, k);
            spit(path, bad, bl);
            fprintf(ex, "bad-flip-kind-%02u.seg %s\n", k,
                    ldg_segment_check_name(r.failed));
            free(bad);
        }
        free(s2.p);
        free(seg);
    }
    write_derived(dir, f->seg, f->len, ex);
    write_keyed(f, dir, ex);
    fclose(ex);
    free(st.p);
}

static void
test_segment__vectors(void **state)
{
    struct fx *f = *state;
    const char *w = getenv("LDG_SEGMENT_WRITE_VECTORS");
    char path[600], line[300], vkey[600];
    uint8_t *b;
    size_t len, nbad = 0, ngood = 0;
    FILE *ex;
    struct ldg_segment_result r;

    if (w != NULL && *w != '\0')
        write_vectors(f, w);
    if (getenv("LDG_SEGMENT_WRITE_DERIVED") != NULL) {
        /* the derived ones alone, from the good.seg there, appended */
        snprintf(path, sizeof path, "%s/good.seg", VECTORS);
        b = slurp(path, &len);
        snprintf(path, sizeof path, "%s/EXPECT", VECTORS);
        ex = fopen(path, "a");
        assert_non_null(ex);
        write_derived(VECTORS, b, len, ex);
        fclose(ex);
        free(b);
    }
    if (getenv("LDG_SEGMENT_WRITE_KEYED") != NULL) {
        /* the keyed ones alone, with this fixture's key, appended */
        snprintf(path, sizeof path, "%s/EXPECT", VECTORS);
        ex = fopen(path, "a");
        assert_non_null(ex);
        write_keyed(f, VECTORS, ex);
        fclose(ex);
    }
    snprintf(path, sizeof path, "%s/good.vkey", VECTORS);
    b = slurp(path, &len);
    assert_true(len < sizeof vkey);
    memcpy(vkey, b, len);
    vkey[len] = '\0';
    free(b);
    snprintf(path, sizeof path, "%s/good.seg", VECTORS);
    b = slurp(path, &len);
    if (verify(b, len, vkey, &r) != 0)
        fail_msg("good.seg: %s: %s", ldg_segment_check_name(r.failed), r.what);
    free(b);
    snprintf(path, sizeof path, "%s/EXPECT", VECTORS);
    ex = fopen(path, "r");
    assert_non_null(ex);
    while (fgets(line, sizeof line, ex) != NULL) {
        char file[200], check[50], kfile[100], key[600];
        int nf;
        if (line[0] == '#' ||
            (nf = sscanf(line, "%199s %49s %99s", file, check, kfile)) < 2)
            continue;
        snprintf(key, sizeof key, "%s", vkey);
        if (nf == 3) { /* its own key */
            uint8_t *kb;
            size_t kl;
            snprintf(path, sizeof path, "%s/%s", VECTORS, kfile);
            kb = slurp(path, &kl);
            assert_true(kl < sizeof key);
            memcpy(key, kb, kl);
            key[kl] = '\0';
            free(kb);
        }
        snprintf(path, sizeof path, "%s/%s", VECTORS, file);
        b = slurp(path, &len);
        if (strcmp(check, "ok") == 0) {
            if (verify(b, len, key, &r) != 0 || !r.ok)
                fail_msg("%s: %s: %s", file, ldg_segment_check_name(r.failed),
                         r.what);
            free(b);
            ngood++;
            continue;
        }
        if (verify(b, len, key, &r) == 0 || r.ok)
            fail_msg("%s verifies", file);
        if (strcmp(ldg_segment_check_name(r.failed), check) != 0)
            fail_msg("%s fails %s (%s), not %s", file,
                     ldg_segment_check_name(r.failed), r.what, check);
        free(b);
        nbad++;
    }
    fclose(ex);
    assert_true(nbad >= 25);
    assert_true(ngood >= 3);
    /* the good one from a horizon */
    snprintf(path, sizeof path, "%s/good-from-horizon.seg", VECTORS);
    b = slurp(path, &len);
    if (verify(b, len, vkey, &r) != 0)
        fail_msg("good-from-horizon.seg: %s: %s",
                 ldg_segment_check_name(r.failed), r.what);
    free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_segment__the_same_bytes_from_layouts_6_7_and_8, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_segment__round_trips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__from_a_horizon, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__a_middle_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__a_range_inside_a_commit_is_refused, setup, teardown),
        cmocka_unit_test(test_segment__format_1),
        cmocka_unit_test_setup_teardown(
            test_segment__every_truncation_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__a_flipped_byte_in_each_record_is_refused, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_segment__reordered_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__another_ledgers_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__resigned_without_its_last_event_is_refused, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__an_unproven_erasure_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment__derived_must_fail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__prune_refuses_a_state_it_did_not_compute, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_segment__vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment__written_in_windows, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
