/*
 * seal.c — format version 2 primitives: claims, stamps, sealed entries,
 * seal trees, seal maps and their signatures, and the sealed-batch wire
 * format (docs/FORMAT.md section 3.2 to 3.4).
 *
 * Claims, stamps and seal maps are small maps of known keys, so they are
 * written and read here byte by byte rather than through msgpack-c: the
 * writer emits msgpack's shortest forms (the canonical encoding of
 * codec.c), and the reader accepts only those, with the keys in bytewise
 * order and nothing else, so "decodes" already means "is canonical" and
 * no re-pack is needed. That reader is what ledger verify runs on every
 * entry, at a few hundred nanoseconds each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/record_int.h"
#include "ledger/mp_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------- claims -- */

/* The claim keys: ldg_claim_keys (format.h). */

static int
claim_fields_ok(const struct ldg_claim *c)
{
    return keyid_ok(c->actor, strnlen(c->actor, sizeof c->actor)) &&
           text_ok(c->type, c->type_len, 1, LDG_TYPE_MAX, 0) &&
           text_ok(c->subject, c->subject_len, 0, LDG_SUBJECT_MAX, 0) &&
           text_ok(c->run, c->run_len, 0, LDG_RUN_MAX, 0) &&
           text_ok(c->id, c->id_len, 0, LDG_ID_MAX, 1);
}

int
ldg_claim_encode(const struct ldg_claim *c, uint8_t *out, size_t cap,
                 size_t *len)
{
    struct wr w = {out, 0, cap, 0};

    if (c == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    if (!claim_fields_ok(c))
        return LDG_EBADINPUT;
    w_byte(&w, (uint8_t)(0x80 | (5 + (c->id_len > 0) + (c->has_parent != 0) +
                                 (c->run_len > 0) + (c->has_time != 0))));
    w_key(&w, ldg_claim_keys[LDG_CK_ACTOR]);
    w_str(&w, c->actor, LDG_KEYID_LEN);
    w_key(&w, ldg_claim_keys[LDG_CK_BODY]);
    w_bin(&w, c->body, 32);
    if (c->id_len > 0) {
        w_key(&w, ldg_claim_keys[LDG_CK_ID]);
        w_str(&w, c->id, c->id_len);
    }
    if (c->has_parent) {
        w_key(&w, ldg_claim_keys[LDG_CK_PARENT]);
        w_uint(&w, c->parent);
    }
    if (c->run_len > 0) {
        w_key(&w, ldg_claim_keys[LDG_CK_RUN]);
        w_str(&w, c->run, c->run_len);
    }
    w_key(&w, ldg_claim_keys[LDG_CK_SUBJECT]);
    w_str(&w, c->subject, c->subject_len);
    if (c->has_time) {
        w_key(&w, ldg_claim_keys[LDG_CK_TIME]);
        w_uint(&w, c->time_ns);
    }
    w_key(&w, ldg_claim_keys[LDG_CK_TYPE]);
    w_str(&w, c->type, c->type_len);
    w_key(&w, ldg_claim_keys[LDG_CK_V]);
    w_uint(&w, LDG_CLAIM_V);
    if (w.err)
        return w.err;
    LDG_ASSERT(w.n <= cap);
    *len = w.n;
    return 0;
}

/* Reads one claim map at r (not necessarily to the end). */
static int
claim_read(struct rd *r, struct ldg_claim *c)
{
    unsigned n, seen = 0;
    int next = 0;
    uint64_t v = 0;
    const char *s;
    size_t sn;

    memset(c, 0, sizeof *c);
    if (r_map(r, &n) < 0)
        return LDG_ECORRUPT;
    for (unsigned i = 0; i < n; i++) {
        int k = r_key(r, ldg_claim_keys, LDG_CK_COUNT, next);
        if (k < 0)
            return LDG_ECORRUPT;
        next = k + 1;
        seen |= 1u << k;
        switch (k) {
        case LDG_CK_ACTOR:
            if (r_str(r, &s, &sn) < 0 || !keyid_ok(s, sn))
                return LDG_ECORRUPT;
            memcpy(c->actor, s, sn);
            c->actor[sn] = '\0';
            break;
        case LDG_CK_BODY:
            if (r_bin(r, c->body, 32) < 0)
                return LDG_ECORRUPT;
            break;
        case LDG_CK_ID:
            if (r_str(r, &c->id, &c->id_len) < 0 ||
                !text_ok(c->id, c->id_len, 1, LDG_ID_MAX, 1))
                return LDG_ECORRUPT;
            break;
        case LDG_CK_PARENT:
            if (r_uint(r, &c->parent) < 0)
                return LDG_ECORRUPT;
            c->has_parent = 1;
            break;
        case LDG_CK_RUN:
            if (r_str(r, &c->run, &c->run_len) < 0 ||
                !text_ok(c->run, c->run_len, 1, LDG_RUN_MAX, 0))
                return LDG_ECORRUPT;
            break;
        case LDG_CK_SUBJECT:
            if (r_str(r, &c->subject, &c->subject_len) < 0 ||
                !text_ok(c->subject, c->subject_len, 0, LDG_SUBJECT_MAX, 0))
                return LDG_ECORRUPT;
            break;
        case LDG_CK_TIME:
            if (r_uint(r, &c->time_ns) < 0)
                return LDG_ECORRUPT;
            c->has_time = 1;
            break;
        case LDG_CK_TYPE:
            if (r_str(r, &c->type, &c->type_len) < 0 ||
                !text_ok(c->type, c->type_len, 1, LDG_TYPE_MAX, 0))
                return LDG_ECORRUPT;
            break;
        case LDG_CK_V:
            if (r_uint(r, &v) < 0)
                return LDG_ECORRUPT;
            break;
        }
    }
    {
        unsigned need = (1u << LDG_CK_ACTOR) | (1u << LDG_CK_BODY) |
                        (1u << LDG_CK_SUBJECT) | (1u << LDG_CK_TYPE) |
                        (1u << LDG_CK_V);
        if ((seen & need) != need)
            return LDG_ECORRUPT;
    }
    if (v != LDG_CLAIM_V)
        return LDG_EVERSION;
    return 0;
}

int
ldg_claim_decode(const uint8_t *p, size_t len, struct ldg_claim *out)
{
    struct rd r;
    int rc;
    if (p == NULL || out == NULL)
        return LDG_EINVAL;
    r.p = p;
    r.end = p + len;
    rc = claim_read(&r, out);
    if (rc == 0 && r.p != r.end)
        rc = LDG_ECORRUPT;
    return rc;
}

void
ldg_claim_digest(uint8_t out[32], const uint8_t *claim, size_t len)
{
    struct ldg_sha256_ctx c;
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, LDG_CTX_CLAIM, sizeof LDG_CTX_CLAIM);
    ldg_sha256_update(&c, claim, len);
    ldg_sha256_final(&c, out);
}

/* ------------------------------------------------------------- stamps -- */

/* The stamp and source keys: ldg_stamp_keys, ldg_source_keys (format.h). */

static void
w_source(struct wr *w, const struct ldg_source *src)
{
    size_t ne = src->exe ? strlen(src->exe) : 0;
    size_t nu = src->unit ? strlen(src->unit) : 0;
    w_byte(w, (uint8_t)(0x80 | (3 + (ne > 0) + (nu > 0))));
    if (ne > 0) {
        w_key(w, "exe");
        w_str(w, src->exe, ne);
    }
    w_key(w, "gid");
    w_uint(w, src->gid);
    w_key(w, "pid");
    w_uint(w, src->pid);
    w_key(w, "uid");
    w_uint(w, src->uid);
    if (nu > 0) {
        w_key(w, "unit");
        w_str(w, src->unit, nu);
    }
}

int
ldg_entry2_encode(uint8_t *out, size_t cap, size_t *len, const uint8_t *claim,
                  size_t claim_len, const struct ldg_stamp *st,
                  const uint8_t prev[32])
{
    struct wr w = {out, 0, cap < LDG_ENTRY_MAX ? cap : LDG_ENTRY_MAX, 0};

    w_byte(&w, 0x93);
    w_bytes(&w, claim, claim_len);
    w_byte(&w, (uint8_t)(0x80 | (5 + (st->source != NULL))));
    w_key(&w, ldg_stamp_keys[LDG_TK_DIGEST]);
    w_bin(&w, st->digest, 32);
    w_key(&w, ldg_stamp_keys[LDG_TK_LEAF]);
    w_uint(&w, st->leaf);
    w_key(&w, ldg_stamp_keys[LDG_TK_SEAL]);
    w_uint(&w, st->seal);
    w_key(&w, ldg_stamp_keys[LDG_TK_SEQ]);
    w_uint(&w, st->seq);
    if (st->source != NULL) {
        w_key(&w, ldg_stamp_keys[LDG_TK_SOURCE]);
        w_source(&w, st->source);
    }
    w_key(&w, ldg_stamp_keys[LDG_TK_TS]);
    w_uint(&w, st->ts);
    w_bin(&w, prev, 32);
    if (w.err)
        return w.err;
    LDG_ASSERT(w.n <= cap);
    *len = w.n;
    return 0;
}

static int
source_read(struct rd *r, struct ldg_event *ev)
{
    unsigned n, seen = 0;
    int next = 0;

    if (r_map(r, &n) < 0)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        int k = r_key(r, ldg_source_keys, LDG_SK_COUNT, next);
        const char *s;
        size_t sn;
        if (k < 0)
            return -1;
        next = k + 1;
        seen |= 1u << k;
        switch (k) {
        case LDG_SK_EXE:
            if (r_str(r, &s, &sn) < 0 || !text_ok(s, sn, 1, LDG_EXE_MAX, 0))
                return -1;
            ev->src_exe = s;
            ev->src_exe_len = sn;
            break;
        case LDG_SK_UNIT:
            if (r_str(r, &s, &sn) < 0 || !text_ok(s, sn, 1, LDG_UNIT_MAX, 0))
                return -1;
            ev->src_unit = s;
            ev->src_unit_len = sn;
            break;
        case LDG_SK_GID:
            if (r_uint(r, &ev->src_gid) < 0)
                return -1;
            break;
        case LDG_SK_PID:
            if (r_uint(r, &ev->src_pid) < 0)
                return -1;
            break;
        case LDG_SK_UID:
            if (r_uint(r, &ev->src_uid) < 0)
                return -1;
            break;
        }
    }
    if ((seen & 0xe) != 0xe) /* gid, pid, uid */
        return -1;
    ev->has_source = 1;
    return 0;
}

/* Copies a (pointer, length) string into a NUL-terminated field. */
static void
copy_to(char *dst, const char *s, size_t n)
{
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* ldg_entry2_decode of a whole entry (stored 0), or of a stored form
 * (stored 1: 0x92, no prev; the stamp with its digest, layout 7, or
 * without, layouts 5 and 6: ev->digest_derived says which). */
static int
decode2(const uint8_t *buf, size_t len, struct ldg_event *ev, int stored)
{
    struct ldg_claim c;
    struct rd r;
    unsigned n, seen = 0, need;
    int next = 0, rc;

    memset(ev, 0, sizeof *ev);
    if (len < 1 || len > LDG_ENTRY_MAX || buf[0] != (stored ? 0x92 : 0x93))
        return LDG_ECORRUPT;
    r.p = buf + 1;
    r.end = buf + len;
    if ((rc = claim_read(&r, &c)) < 0)
        return rc;
    ev->sealed = 1;
    ev->signed_part = buf + 1;
    ev->signed_len = (size_t)(r.p - (buf + 1));
    copy_to(ev->type, c.type, c.type_len);
    copy_to(ev->subject, c.subject, c.subject_len);
    copy_to(ev->run, c.run, c.run_len);
    memcpy(ev->actor, c.actor, sizeof ev->actor);
    memcpy(ev->body_root, c.body, 32);
    ev->has_parent = c.has_parent;
    ev->parent = c.parent;
    ev->id = c.id_len > 0 ? c.id : NULL;
    ev->id_len = c.id_len;
    ev->has_time = c.has_time;
    ev->time_ns = c.time_ns;
    if (r_map(&r, &n) < 0)
        return LDG_ECORRUPT;
    for (unsigned i = 0; i < n; i++) {
        int k = r_key(&r, ldg_stamp_keys, LDG_TK_COUNT, next);
        if (k < 0)
            return LDG_ECORRUPT;
        next = k + 1;
        seen |= 1u << k;
        switch (k) {
        case LDG_TK_DIGEST:
            rc = r_bin(&r, ev->digest, 32);
            break;
        case LDG_TK_LEAF:
            rc = r_uint(&r, &ev->seal_leaf);
            break;
        case LDG_TK_SEAL:
            rc = r_uint(&r, &ev->seal_seq);
            break;
        case LDG_TK_SEQ:
            rc = r_uint(&r, &ev->seq);
            break;
        case LDG_TK_SOURCE:
            rc = source_read(&r, ev);
            break;
        case LDG_TK_TS:
            rc = r_uint(&r, &ev->ts_ns);
            break;
        }
        if (rc < 0)
            return LDG_ECORRUPT;
    }
    /* keys in order, each once (r_key); a stored stamp may leave out its
     * digest (layouts 5 and 6), which the reader then derives */
    need = (1u << LDG_TK_COUNT) - 1 - (1u << LDG_TK_SOURCE);
    if (stored && !(seen & (1u << LDG_TK_DIGEST))) {
        need &= ~(1u << LDG_TK_DIGEST);
        ev->digest_derived = 1;
    }
    if ((seen & ~(1u << LDG_TK_SOURCE)) != need)
        return LDG_ECORRUPT;
    if ((!stored && r_bin(&r, ev->prev, 32) < 0) || r.p != r.end)
        return LDG_ECORRUPT;
    /* the stamp's own consistency: leaf 0 opens the seal at its seq */
    if (ev->seal_seq > ev->seq ||
        (ev->seal_leaf == 0) != (ev->seal_seq == ev->seq) ||
        ev->seal_leaf > ev->seq - ev->seal_seq)
        return LDG_ECORRUPT;
    if (!stored) {
        ev->entry = buf;
        ev->entry_len = len;
    }
    return 0;
}

int
ldg_entry2_decode(const uint8_t *buf, size_t len, struct ldg_event *ev)
{
    return decode2(buf, len, ev, 0);
}

int
ldg_entry2_decode_stored(const uint8_t *buf, size_t len, struct ldg_event *ev)
{
    return decode2(buf, len, ev, 1);
}

/* ---------------------------------------- the display path's reader -- */

/* The key k (n bytes, a fixstr as written) at *pp: 1 and past it, else 0
 * and *pp unchanged. */
static int
t_key(const uint8_t **pp, const uint8_t *end, const char *k, size_t n)
{
    const uint8_t *p = *pp;
    if ((size_t)(end - p) < n + 1 || p[0] != (0xa0 | n) ||
        memcmp(p + 1, k, n) != 0)
        return 0;
    *pp = p + 1 + n;
    return 1;
}
/* t_key with a key of format.h's tables, whose length the compiler
 * knows. */
#define T_KEY(pp, end, k) t_key(pp, end, k, strlen(k))

/* A str of min..max bytes without NUL (as text_ok without no_ctl). */
static int
t_str(struct rd *r, const char **s, size_t *n, size_t min, size_t max)
{
    return r_str(r, s, n) == 0 && text_ok(*s, *n, min, max, 0) ? 0 : -1;
}

/* A uint in any width (the strict reader wants the shortest). */
static int
t_uint(struct rd *r, uint64_t *v)
{
    return r_uint_form(r, v, 0);
}

/* ldg_entry2_decode_trusted of a whole entry (stored 0) or of the stored
 * form (stored 1). */
static int
decode2_trusted(const uint8_t *buf, size_t len, struct ldg_event *ev,
                int stored)
{
    struct rd r;
    const char *s;
    size_t n;
    uint64_t v;
    unsigned keys, got = 0;

    /* ev is zeroed by the caller */
    if (len < 2 || len > LDG_ENTRY_MAX || buf[0] != (stored ? 0x92 : 0x93) ||
        (buf[1] & 0xf0) != 0x80)
        return -1;
    keys = buf[1] & 0x0f;
    r.p = buf + 2;
    r.end = buf + len;
    /* the claim, in the order ldg_claim_encode writes it */
    if (!T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_ACTOR]) ||
        r_str(&r, &s, &n) < 0 || !keyid_ok(s, n))
        return -1;
    memcpy(ev->actor, s, n);
    ev->actor[n] = '\0';
    if (!T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_BODY]) ||
        r_bin(&r, ev->body_root, 32) < 0)
        return -1;
    got = 2;
    if (T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_ID])) {
        if (r_str(&r, &ev->id, &ev->id_len) < 0 ||
            !text_ok(ev->id, ev->id_len, 1, LDG_ID_MAX, 1))
            return -1;
        got++;
    }
    if (T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_PARENT])) {
        if (t_uint(&r, &ev->parent) < 0)
            return -1;
        ev->has_parent = 1;
        got++;
    }
    if (T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_RUN])) {
        if (t_str(&r, &s, &n, 1, LDG_RUN_MAX) < 0)
            return -1;
        copy_to(ev->run, s, n);
        got++;
    }
    if (!T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_SUBJECT]) ||
        t_str(&r, &s, &n, 0, LDG_SUBJECT_MAX) < 0)
        return -1;
    copy_to(ev->subject, s, n);
    if (T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_TIME])) {
        if (t_uint(&r, &ev->time_ns) < 0)
            return -1;
        ev->has_time = 1;
        got++;
    }
    if (!T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_TYPE]) ||
        t_str(&r, &s, &n, 1, LDG_TYPE_MAX) < 0)
        return -1;
    copy_to(ev->type, s, n);
    if (!T_KEY(&r.p, r.end, ldg_claim_keys[LDG_CK_V]) || t_uint(&r, &v) < 0 ||
        v != LDG_CLAIM_V || got + 3 != keys)
        return -1;
    ev->sealed = 1;
    ev->signed_part = buf + 1;
    ev->signed_len = (size_t)(r.p - (buf + 1));
    /* the stamp, in the order ldg_entry2_encode writes it; a source (an
     * event submitted through serve) goes to the strict reader; a stored
     * one with its digest (layout 7) or without (layouts 5, 6: 0x84) */
    if (r.p >= r.end || (*r.p != 0x85 && !(stored && *r.p == 0x84)))
        return -1;
    ev->digest_derived = *r.p++ == 0x84;
    if ((!ev->digest_derived &&
         (!T_KEY(&r.p, r.end, ldg_stamp_keys[LDG_TK_DIGEST]) ||
          r_bin(&r, ev->digest, 32) < 0)) ||
        !T_KEY(&r.p, r.end, ldg_stamp_keys[LDG_TK_LEAF]) ||
        t_uint(&r, &ev->seal_leaf) < 0 ||
        !T_KEY(&r.p, r.end, ldg_stamp_keys[LDG_TK_SEAL]) ||
        t_uint(&r, &ev->seal_seq) < 0 ||
        !T_KEY(&r.p, r.end, ldg_stamp_keys[LDG_TK_SEQ]) ||
        t_uint(&r, &ev->seq) < 0 ||
        !T_KEY(&r.p, r.end, ldg_stamp_keys[LDG_TK_TS]) ||
        t_uint(&r, &ev->ts_ns) < 0 ||
        (!stored && r_bin(&r, ev->prev, 32) < 0) || r.p != r.end)
        return -1;
    if (ev->seal_seq > ev->seq ||
        (ev->seal_leaf == 0) != (ev->seal_seq == ev->seq) ||
        ev->seal_leaf > ev->seq - ev->seal_seq)
        return -1;
    if (!stored) {
        ev->entry = buf;
        ev->entry_len = len;
    }
    return 0;
}

int
ldg_entry2_decode_trusted(const uint8_t *buf, size_t len, struct ldg_event *ev)
{
    return decode2_trusted(buf, len, ev, 0);
}

int
ldg_entry2_decode_stored_trusted(const uint8_t *buf, size_t len,
                                 struct ldg_event *ev)
{
    return decode2_trusted(buf, len, ev, 1);
}

int
ldg_entry2_finish(struct ldg_buf *b, const struct ldg_stamp *st,
                  const uint8_t prev[32])
{
    uint8_t tmp[2048];
    struct wr w = {tmp, 0, sizeof tmp, 0};

    w_byte(&w, (uint8_t)(0x80 | (5 + (st->source != NULL))));
    w_key(&w, ldg_stamp_keys[LDG_TK_DIGEST]);
    w_bin(&w, st->digest, 32);
    w_key(&w, ldg_stamp_keys[LDG_TK_LEAF]);
    w_uint(&w, st->leaf);
    w_key(&w, ldg_stamp_keys[LDG_TK_SEAL]);
    w_uint(&w, st->seal);
    w_key(&w, ldg_stamp_keys[LDG_TK_SEQ]);
    w_uint(&w, st->seq);
    if (st->source != NULL) {
        w_key(&w, ldg_stamp_keys[LDG_TK_SOURCE]);
        w_source(&w, st->source);
    }
    w_key(&w, ldg_stamp_keys[LDG_TK_TS]);
    w_uint(&w, st->ts);
    w_bin(&w, prev, 32);
    if (w.err)
        return w.err;
    if (b->len + w.n > LDG_ENTRY_MAX)
        return LDG_ETOOBIG;
    ldg_buf_add(b, tmp, w.n);
    return b->err;
}

void
ldg_seal_acc_init(struct ldg_seal_acc *a)
{
    a->count = 0;
    a->n = 0;
}

#ifdef LDG_DEBUG
/* The leaves the accumulator's subtrees cover: complete subtrees of
 * 2^level leaves, levels falling left to right (a seal's span in binary);
 * UINT64_MAX when they do not fall. */
static uint64_t
acc_span(const struct ldg_seal_acc *a)
{
    uint64_t s = 0;
    for (int i = 0; i < a->n; i++) {
        if (i > 0 && a->level[i] >= a->level[i - 1])
            return UINT64_MAX;
        s += (uint64_t)1 << a->level[i];
    }
    return s;
}
#endif

void
ldg_seal_acc_add(struct ldg_seal_acc *a, const uint8_t digest[32])
{
    LDG_ASSERT(a->n < 64);
    ldg_tlog_leaf_hash(a->h[a->n], digest, 32);
    a->level[a->n] = 0;
    a->n++;
    a->count++;
    while (a->n >= 2 && a->level[a->n - 1] == a->level[a->n - 2]) {
        ldg_tlog_node_hash(a->h[a->n - 2], a->h[a->n - 2], a->h[a->n - 1]);
        a->level[a->n - 2]++;
        a->n--;
    }
    LDG_ASSERT(acc_span(a) == a->count); /* the seal spans what was added */
}

void
ldg_seal_acc_root(const struct ldg_seal_acc *a, uint8_t root[32])
{
    LDG_ASSERT(acc_span(a) == a->count);
    if (a->n == 0) {
        ldg_sha256(root, "", 0);
        return;
    }
    memcpy(root, a->h[a->n - 1], 32);
    for (int i = a->n - 2; i >= 0; i--)
        ldg_tlog_node_hash(root, a->h[i], root);
}

/* ---------------------------------------------------------- seal tree -- */

/* The stored-hash reader over an array of claim digests: the hash of the
 * complete subtree (level, index), computed from its leaves. The tree
 * code (tlog.c) asks only for O(log n) of them, together covering each
 * leaf once, so a root or a proof costs O(n) hashes. */
struct dig_tree {
    const uint8_t (*d)[32];
    size_t n;
};

static void
sub_hash(const struct dig_tree *t, int level, uint64_t index, uint8_t out[32])
{
    uint8_t l[32], r[32];
    LDG_ASSERT(level >= 0 && ((index + 1) << level) <= t->n);
    if (level == 0) {
        ldg_tlog_leaf_hash(out, t->d[index], 32);
        return;
    }
    sub_hash(t, level - 1, 2 * index, l);
    sub_hash(t, level - 1, 2 * index + 1, r);
    ldg_tlog_node_hash(out, l, r);
}

static int
dig_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct dig_tree *t = ctx;
    if (level > 62 || ((index + 1) << level) > t->n)
        return LDG_ENOTFOUND;
    sub_hash(t, level, index, out);
    return 0;
}

int
ldg_seal_root(const uint8_t (*digests)[32], size_t n, uint8_t root[32])
{
    struct dig_tree t = {digests, n};
    if (digests == NULL || root == NULL || n == 0 || n > LDG_SEAL_EVENTS_MAX)
        return LDG_EINVAL;
    return ldg_tlog_root(dig_reader, &t, n, root);
}

int
ldg_seal_inclusion(const uint8_t (*digests)[32], size_t n, size_t index,
                   uint8_t proof[][32], size_t *np)
{
    struct dig_tree t = {digests, n};
    if (digests == NULL || proof == NULL || np == NULL || n == 0 ||
        n > LDG_SEAL_EVENTS_MAX || index >= n)
        return LDG_EINVAL;
    return ldg_tlog_inclusion_proof(dig_reader, &t, index, n, proof, np);
}

/* A seal's tree with every complete subtree kept: each proof is log2(n)
 * lookups (an export of all a seal's events would otherwise rehash the
 * seal once per event). */
struct ldg_seal_tree {
    uint64_t n;
    int nlv;
    uint8_t (*lv[64])[32]; /* lv[L][i]: subtree (L, i); n >> L of them */
};

static int
stree_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct ldg_seal_tree *t = ctx;
    if (level < 0 || level >= t->nlv || index >= (t->n >> level))
        return LDG_ENOTFOUND;
    memcpy(out, t->lv[level][index], 32);
    return 0;
}

void
ldg_seal_tree_free(struct ldg_seal_tree *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->nlv; i++)
        free(t->lv[i]);
    free(t);
}

int
ldg_seal_tree_new(struct ldg_seal_tree **out, const uint8_t (*digests)[32],
                  size_t n)
{
    struct ldg_seal_tree *t;

    *out = NULL;
    if (digests == NULL || n == 0 || n > LDG_SEAL_EVENTS_MAX)
        return LDG_EINVAL;
    if ((t = calloc(1, sizeof *t)) == NULL)
        return LDG_ENOMEM;
    t->n = n;
    if ((t->lv[0] = malloc(n * 32)) == NULL) {
        free(t);
        return LDG_ENOMEM;
    }
    t->nlv = 1;
    for (size_t i = 0; i < n; i++)
        ldg_tlog_leaf_hash(t->lv[0][i], digests[i], 32);
    for (int L = 1; L < 64 && (n >> L) > 0; L++) {
        uint64_t m = n >> L;
        if ((t->lv[L] = malloc((size_t)m * 32)) == NULL) {
            ldg_seal_tree_free(t);
            return LDG_ENOMEM;
        }
        t->nlv = L + 1;
        LDG_ASSERT(2 * m <= (n >> (L - 1)));
        for (uint64_t i = 0; i < m; i++)
            ldg_tlog_node_hash(t->lv[L][i], t->lv[L - 1][2 * i],
                               t->lv[L - 1][2 * i + 1]);
    }
    LDG_ASSERT(t->nlv < 64 && (n >> t->nlv) == 0);
    *out = t;
    return 0;
}

int
ldg_seal_tree_proof(const struct ldg_seal_tree *t, size_t index,
                    uint8_t proof[][32], size_t *np)
{
    if (t == NULL || proof == NULL || np == NULL || index >= t->n)
        return LDG_EINVAL;
    return ldg_tlog_inclusion_proof(stree_reader, (void *)(uintptr_t)t, index,
                                    t->n, proof, np);
}

int
ldg_seal_verify_inclusion(const uint8_t digest[32], uint64_t index,
                          uint64_t count, const uint8_t proof[][32], size_t np,
                          const uint8_t root[32])
{
    uint8_t leaf[32];
    if (digest == NULL || root == NULL)
        return LDG_EINVAL;
    if (count == 0 || count > LDG_SEAL_EVENTS_MAX)
        return LDG_EBADPROOF;
    ldg_tlog_leaf_hash(leaf, digest, 32);
    return ldg_tlog_verify_inclusion(leaf, index, count, proof, np, root);
}

/* --------------------------------------------------------------- seals -- */

enum seal_key { M_COUNT, M_FIRST, M_KEY, M_ORIGIN, M_ROOT, M_N };
static const char *const seal_keys[M_N] = {"count", "first", "key", "origin",
                                           "root"};

static int
seal_fields_ok(const struct ldg_seal *s)
{
    return s->count >= 1 && s->count <= LDG_SEAL_EVENTS_MAX &&
           keyid_ok(s->key_id, strnlen(s->key_id, sizeof s->key_id)) &&
           text_ok(s->origin, strnlen(s->origin, sizeof s->origin), 1,
                   LDG_ORIGIN_MAX, 1);
}

int
ldg_seal_map_encode(const struct ldg_seal *s, uint8_t *out, size_t cap,
                    size_t *len)
{
    struct wr w = {out, 0, cap, 0};
    if (s == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    if (!seal_fields_ok(s))
        return LDG_EBADINPUT;
    w_byte(&w, 0x85);
    w_key(&w, "count");
    w_uint(&w, s->count);
    w_key(&w, "first");
    w_uint(&w, s->first);
    w_key(&w, "key");
    w_str(&w, s->key_id, LDG_KEYID_LEN);
    w_key(&w, "origin");
    w_str(&w, s->origin, strlen(s->origin));
    w_key(&w, "root");
    w_bin(&w, s->root, 32);
    if (w.err)
        return w.err;
    LDG_ASSERT(w.n <= cap);
    *len = w.n;
    return 0;
}

static int
seal_map_read(struct rd *r, struct ldg_seal *s)
{
    unsigned n;
    const char *str;
    size_t sn;

    if (r_map(r, &n) < 0 || n != M_N)
        return LDG_ECORRUPT;
    /* all five keys, in order */
    for (int k = 0; k < M_N; k++) {
        if (r_key(r, seal_keys, k + 1, k) != k)
            return LDG_ECORRUPT;
        switch (k) {
        case M_COUNT:
            if (r_uint(r, &s->count) < 0)
                return LDG_ECORRUPT;
            break;
        case M_FIRST:
            if (r_uint(r, &s->first) < 0)
                return LDG_ECORRUPT;
            break;
        case M_KEY:
            if (r_str(r, &str, &sn) < 0 || !keyid_ok(str, sn))
                return LDG_ECORRUPT;
            copy_to(s->key_id, str, sn);
            break;
        case M_ORIGIN:
            if (r_str(r, &str, &sn) < 0 ||
                !text_ok(str, sn, 1, LDG_ORIGIN_MAX, 1))
                return LDG_ECORRUPT;
            copy_to(s->origin, str, sn);
            break;
        case M_ROOT:
            if (r_bin(r, s->root, 32) < 0)
                return LDG_ECORRUPT;
            break;
        }
    }
    if (s->count == 0 || s->count > LDG_SEAL_EVENTS_MAX)
        return LDG_ECORRUPT;
    return 0;
}

int
ldg_seal_map_decode(const uint8_t *p, size_t len, struct ldg_seal *s)
{
    struct rd r;
    int rc;
    if (p == NULL || s == NULL)
        return LDG_EINVAL;
    memset(s, 0, sizeof *s);
    r.p = p;
    r.end = p + len;
    rc = seal_map_read(&r, s);
    if (rc == 0 && r.p != r.end)
        rc = LDG_ECORRUPT;
    return rc;
}

int
ldg_seal_record_encode(const struct ldg_seal *s, uint8_t *out, size_t cap,
                       size_t *len)
{
    size_t n, tail;
    int rc;
    if (s == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    if (s->ext_len > LDG_SEAL_EXT_MAX || (s->ext_len > 0 && s->ext == NULL))
        return LDG_EINVAL;
    /* the key's own signature, or (an epoch seal) the epoch part, whose
     * epoch signature stands in its place */
    tail = s->ext_len ? 3 + s->ext_len : 66;
    if (cap < 1 + tail)
        return LDG_ETOOBIG;
    out[0] = s->ext_len ? 0x93 : 0x92;
    if ((rc = ldg_seal_map_encode(s, out + 1, cap - 1 - tail, &n)) < 0)
        return rc;
    *len = 1 + n;
    if (s->ext_len) { /* bin16 even when short: one form only */
        out[*len] = 0xc5;
        out[*len + 1] = (uint8_t)(s->ext_len >> 8);
        out[*len + 2] = (uint8_t)s->ext_len;
        memcpy(out + *len + 3, s->ext, s->ext_len);
    } else {
        out[*len] = 0xc4;
        out[*len + 1] = 64;
        memcpy(out + *len + 2, s->sig, 64);
    }
    *len += tail;
    LDG_ASSERT(*len <= cap);
    return 0;
}

int
ldg_seal_record_decode(const uint8_t *p, size_t len, struct ldg_seal *s)
{
    struct rd r;
    int rc;
    if (p == NULL || s == NULL)
        return LDG_EINVAL;
    memset(s, 0, sizeof *s);
    if (len < 1 || len > LDG_SEAL_REC_MAX || (p[0] != 0x92 && p[0] != 0x93))
        return LDG_ECORRUPT;
    r.p = p + 1;
    r.end = p + len;
    if ((rc = seal_map_read(&r, s)) < 0)
        return rc;
    if (p[0] == 0x92) {
        if (r_bin(&r, s->sig, 64) < 0)
            return LDG_ECORRUPT;
    } else {
        size_t n;
        if (r.end - r.p < 3 || r.p[0] != 0xc5)
            return LDG_ECORRUPT;
        n = ((size_t)r.p[1] << 8) | r.p[2];
        if (n == 0 || n > LDG_SEAL_EXT_MAX || (size_t)(r.end - r.p) != 3 + n)
            return LDG_ECORRUPT;
        s->ext = r.p + 3;
        s->ext_len = n;
        r.p += 3 + n;
    }
    if (r.p != r.end)
        return LDG_ECORRUPT;
    return 0;
}

int
ldg_seal_sign(struct ldg_seal *s, const struct ldg_key *key)
{
    uint8_t map[LDG_SEAL_MAP_MAX];
    size_t n;
    int rc;
    if (s == NULL || key == NULL || key->sk == NULL ||
        strcmp(key->key_id, s->key_id) != 0)
        return LDG_EINVAL;
    if ((rc = ldg_seal_map_encode(s, map, sizeof map, &n)) < 0)
        return rc;
    return ldg_ed25519_sign_ctx(s->sig, LDG_CTX_SEAL, map, n, key);
}

int
ldg_seal_verify(const struct ldg_seal *s, const uint8_t pub[32])
{
    uint8_t map[LDG_SEAL_MAP_MAX];
    size_t n;
    if (s == NULL || pub == NULL)
        return LDG_EINVAL;
    /* an epoch seal has no signature by the key itself: only its epoch
     * part's, checked from the key's anchor (ldg_epoch_seal_check) */
    if (s->ext_len > 0 || ldg_seal_map_encode(s, map, sizeof map, &n) < 0)
        return LDG_EBADSIG;
    return ldg_ed25519_verify_ctx(s->sig, LDG_CTX_SEAL, map, n, pub) == 0
               ? 0
               : LDG_EBADSIG;
}

/* ------------------------------------------------------ sealed batches -- */

/* A JSON integer in [0, max]. */
static int
json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int
parse_event(struct ldg_sealed_event *e, const json_t *o, size_t i, char *err,
            size_t cap)
{
    const char *k;
    json_t *v;
    uint64_t u;

    if (!json_is_object(o))
        return ldg_errf(err, cap, LDG_EBADINPUT,
                        "sealed.events[%zu]: must be an object", i);
    memset(e, 0, sizeof *e);
    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        int str = strcmp(k, "type") == 0 || strcmp(k, "subject") == 0 ||
                  strcmp(k, "run") == 0 || strcmp(k, "id") == 0;
        if (str && !json_is_string(v))
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "sealed.events[%zu].%s: must be a string", i, k);
        if (str && strlen(json_string_value(v)) != json_string_length(v))
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "sealed.events[%zu].%s: contains a NUL byte", i, k);
        if (strcmp(k, "type") == 0) {
            e->in.type = json_string_value(v);
        } else if (strcmp(k, "subject") == 0) {
            e->in.subject = json_string_value(v);
        } else if (strcmp(k, "run") == 0) {
            e->in.run = json_string_value(v);
        } else if (strcmp(k, "id") == 0) {
            e->in.id = json_string_value(v);
        } else if (strcmp(k, "parent") == 0) {
            if (json_u64(v, INT64_MAX, &u) < 0)
                return ldg_errf(err, cap, LDG_EBADINPUT,
                                "sealed.events[%zu].parent: must be a "
                                "non-negative integer",
                                i);
            e->in.has_parent = 1;
            e->in.parent = u;
        } else if (strcmp(k, "time") == 0) {
            if (json_u64(v, INT64_MAX, &u) < 0)
                return ldg_errf(err, cap, LDG_EBADINPUT,
                                "sealed.events[%zu].time: must be integer "
                                "nanoseconds since the epoch",
                                i);
            e->in.has_time = 1;
            e->in.time_ns = u;
        } else if (strcmp(k, "body") == 0) {
            if (!json_is_object(v))
                return ldg_errf(err, cap, LDG_EBADINPUT,
                                "sealed.events[%zu].body: must be an object",
                                i);
            e->in.body = v; /* borrowed from b->json */
        } else if (strcmp(k, "salts") == 0) {
            if (!json_is_object(v))
                return ldg_errf(err, cap, LDG_EBADINPUT,
                                "sealed.events[%zu].salts: must be an object",
                                i);
            e->salts = v;
        } else {
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "sealed.events[%zu]: unknown field '%s'", i, k);
        }
    }
    if (e->in.type == NULL)
        return ldg_errf(err, cap, LDG_EBADINPUT,
                        "sealed.events[%zu].type: required", i);
    if (e->salts == NULL && json_object_size(e->in.body) > 0)
        return ldg_errf(err, cap, LDG_EBADINPUT,
                        "sealed.events[%zu].salts: required for a body with "
                        "fields",
                        i);
    /* one 16-byte salt per body field, nothing else */
    json_object_foreach((json_t *)(uintptr_t)e->salts, k, v)
    {
        uint8_t salt[LDG_SALT_LEN];
        if (!json_is_string(v) || json_string_length(v) != 32 ||
            ldg_unhex(salt, LDG_SALT_LEN, json_string_value(v)) < 0)
            return ldg_errf(
                err, cap, LDG_EBADINPUT,
                "sealed.events[%zu].salts.%s: must be 32 hex digits", i, k);
        if (json_object_get(e->in.body, k) == NULL)
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "sealed.events[%zu].salts.%s: the body has no such "
                            "field",
                            i, k);
    }
    json_object_foreach((json_t *)(uintptr_t)e->in.body, k, v)
    {
        if (json_object_get(e->salts, k) == NULL)
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "sealed.events[%zu].salts: no salt for body field "
                            "'%s'",
                            i, k);
    }
    return 0;
}

int
ldg_sealed_batch_parse(struct ldg_sealed_batch **out, const json_t *j,
                       char *err, size_t errcap)
{
    struct ldg_sealed_batch *b;
    const json_t *s, *evs = NULL;
    const char *k;
    json_t *v;
    int have = 0, rc;

    if (out == NULL || j == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (!json_is_object(j) || json_object_size(j) != 1 ||
        !json_is_object(s = json_object_get(j, "sealed")))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "a sealed batch is one object {\"sealed\": {...}}");
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return LDG_ENOMEM;
    json_object_foreach((json_t *)(uintptr_t)s, k, v)
    {
        if (strcmp(k, "key") == 0) {
            if (!json_is_string(v) ||
                !keyid_ok(json_string_value(v), json_string_length(v))) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              "sealed.key: must be a key id (16 lowercase hex "
                              "digits)");
                goto fail;
            }
            memcpy(b->key_id, json_string_value(v), LDG_KEYID_LEN + 1);
            have |= 1;
        } else if (strcmp(k, "first") == 0) {
            if (json_u64(v, INT64_MAX, &b->first) < 0) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              "sealed.first: must be a non-negative integer");
                goto fail;
            }
            have |= 2;
        } else if (strcmp(k, "count") == 0) {
            if (json_u64(v, LDG_SEAL_EVENTS_MAX, &b->count) < 0 ||
                b->count == 0) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              "sealed.count: must be 1 to %d",
                              LDG_SEAL_EVENTS_MAX);
                goto fail;
            }
            have |= 4;
        } else if (strcmp(k, "sig") == 0) {
            if (!json_is_string(v) ||
                ldg_unbase64(b->sig, 64, json_string_value(v),
                             json_string_length(v)) < 0) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              "sealed.sig: must be base64 of 64 bytes");
                goto fail;
            }
            have |= 8;
        } else if (strcmp(k, "events") == 0) {
            if (!json_is_array(v)) {
                rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                              "sealed.events: must be an array");
                goto fail;
            }
            evs = v;
            have |= 16;
        } else {
            rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                          "sealed: unknown field '%s'", k);
            goto fail;
        }
    }
    if (have != 31) {
        static const char *const names[] = {"key", "first", "count", "sig",
                                            "events"};
        int i = 0;
        while (have & (1 << i))
            i++;
        rc = ldg_errf(err, errcap, LDG_EBADINPUT, "sealed.%s: required",
                      names[i]);
        goto fail;
    }
    if (json_array_size(evs) != b->count) {
        rc = ldg_errf(err, errcap, LDG_EBADINPUT,
                      "sealed.count: is %llu but sealed.events holds %zu",
                      (unsigned long long)b->count, json_array_size(evs));
        goto fail;
    }
    b->n = (size_t)b->count;
    b->ev = calloc(b->n, sizeof *b->ev);
    if (b->ev == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < b->n; i++)
        if ((rc = parse_event(&b->ev[i], json_array_get(evs, i), i, err,
                              errcap)) < 0)
            goto fail;
    b->json = json_incref((json_t *)(uintptr_t)j);
    *out = b;
    return 0;
fail:
    free(b->ev);
    free(b);
    return rc;
}

void
ldg_sealed_batch_free(struct ldg_sealed_batch *b)
{
    if (b == NULL)
        return;
    json_decref(b->json);
    free(b->ev);
    free(b);
}
