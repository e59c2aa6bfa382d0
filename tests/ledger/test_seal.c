/*
 * test_seal.c — format version 2 primitives (ledger/seal.c): claims,
 * claim digests, sealed entries, seal trees and inclusion proofs, seal
 * maps, records and signatures, the sealed-batch wire format.
 *
 * The expected bytes and hashes were computed independently of this code
 * (msgpack written out by hand, Python's hashlib and the `cryptography`
 * package's Ed25519), so these are known answers, not round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"
#include "tests/support/support.h"

/* The known answers: tests/vectors/core-v2.txt ("key: hex" lines). */
#define VECTORS "tests/vectors/core-v2.txt"
static const char *
vec(const char *key)
{
    return t_vec(key);
}

static int
load_vectors(void **state)
{
    (void)state;
    return t_vectors_load(VECTORS);
}

static int
free_vectors(void **state)
{
    (void)state;
    t_vectors_free();
    return 0;
}

#define CLAIM_HEX vec("claim")
#define DIGEST_HEX vec("claim.digest")
#define ROOT3_HEX vec("seal.root")
#define SEALMAP_HEX vec("seal.map")
#define SIG_HEX vec("seal.signature")
#define ENTRY_HEX vec("entry")
#define ENTRY_LEAF_HEX vec("entry.leaf_hash")

static size_t
unhex_alloc(uint8_t **out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    *out = malloc(n);
    assert_non_null(*out);
    assert_int_equal(ldg_unhex(*out, n, hex), 0);
    return n;
}

static void
assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char *h = malloc(2 * n + 1);
    ldg_hex(h, p, n);
    assert_string_equal(h, want);
    free(h);
}

static void
the_claim(struct ldg_claim *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->actor, "0123456789abcdef", 17);
    for (int i = 0; i < 32; i++)
        c->body[i] = (uint8_t)i;
    c->id = "e-1";
    c->id_len = 3;
    c->has_parent = 1;
    c->parent = 7;
    c->run = "r1";
    c->run_len = 2;
    c->subject = "tool:grep";
    c->subject_len = 9;
    c->has_time = 1;
    c->time_ns = 1700000000000000000ull;
    c->type = "tool.called";
    c->type_len = 11;
}

static void
test_seal__claim_vector(void **state)
{
    struct ldg_claim c, d;
    uint8_t buf[LDG_ENTRY_MAX], dg[32], *want;
    size_t n, wn;
    (void)state;

    the_claim(&c);
    assert_int_equal(ldg_claim_encode(&c, buf, sizeof buf, &n), 0);
    assert_hex(buf, n, CLAIM_HEX);
    ldg_claim_digest(dg, buf, n);
    assert_hex(dg, 32, DIGEST_HEX);
    assert_int_equal(ldg_claim_decode(buf, n, &d), 0);
    assert_string_equal(d.actor, c.actor);
    assert_memory_equal(d.body, c.body, 32);
    assert_int_equal(d.id_len, 3);
    assert_memory_equal(d.id, "e-1", 3);
    assert_true(d.has_parent && d.parent == 7);
    assert_memory_equal(d.run, "r1", 2);
    assert_memory_equal(d.subject, "tool:grep", 9);
    assert_true(d.has_time && d.time_ns == c.time_ns);
    assert_int_equal(d.type_len, 11);
    /* minimal claim: the optional keys absent, re-encodes the same */
    wn = unhex_alloc(&want, CLAIM_HEX);
    assert_int_equal(wn, n);
    free(want);
    c.id_len = 0;
    c.has_parent = 0;
    c.run_len = 0;
    c.has_time = 0;
    assert_int_equal(ldg_claim_encode(&c, buf, sizeof buf, &n), 0);
    assert_int_equal(buf[0], 0x85);
    assert_int_equal(ldg_claim_decode(buf, n, &d), 0);
    assert_int_equal(d.id_len, 0);
    assert_int_equal(d.has_parent, 0);
}

static void
test_seal__claim_refuses(void **state)
{
    struct ldg_claim c, d;
    uint8_t *p, buf[LDG_ENTRY_MAX];
    size_t n, bn;
    (void)state;

    /* encode: bad fields */
    the_claim(&c);
    memcpy(c.actor, "0123456789ABCDEF", 17);
    assert_int_equal(ldg_claim_encode(&c, buf, sizeof buf, &bn), LDG_EBADINPUT);
    the_claim(&c);
    c.type_len = 0;
    assert_int_equal(ldg_claim_encode(&c, buf, sizeof buf, &bn), LDG_EBADINPUT);
    the_claim(&c);
    c.id = "a\nb";
    assert_int_equal(ldg_claim_encode(&c, buf, sizeof buf, &bn), LDG_EBADINPUT);
    the_claim(&c);
    assert_int_equal(ldg_claim_encode(&c, buf, 40, &bn), LDG_ETOOBIG);

    n = unhex_alloc(&p, CLAIM_HEX);
    /* trailing byte, short */
    memcpy(buf, p, n);
    buf[n] = 0xc0;
    assert_int_equal(ldg_claim_decode(buf, n + 1, &d), LDG_ECORRUPT);
    assert_int_equal(ldg_claim_decode(p, n - 1, &d), LDG_ECORRUPT);
    /* v 2 */
    memcpy(buf, p, n);
    buf[n - 1] = 2;
    assert_int_equal(ldg_claim_decode(buf, n, &d), LDG_EVERSION);
    /* parent 7 as uint8 (0xcc 0x07): not the shortest form */
    {
        const uint8_t *at = memmem(p, n, "\xa6parent\x07", 8);
        size_t off;
        assert_non_null(at);
        off = (size_t)(at - p) + 7;
        memcpy(buf, p, off);
        buf[off] = 0xcc;
        buf[off + 1] = 0x07;
        memcpy(buf + off + 2, p + off + 1, n - off - 1);
        assert_int_equal(ldg_claim_decode(buf, n + 1, &d), LDG_ECORRUPT);
    }
    /* a flipped bit in a key name: unknown key */
    memcpy(buf, p, n);
    buf[2] ^= 0x01; /* "actor" -> "bctor" */
    assert_int_equal(ldg_claim_decode(buf, n, &d), LDG_ECORRUPT);
    /* actor in upper case hex */
    memcpy(buf, p, n);
    buf[8 + 10] = 'A';
    assert_int_equal(ldg_claim_decode(buf, n, &d), LDG_ECORRUPT);
    /* every single-bit flip either fails or decodes to another claim */
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) {
            uint8_t again[LDG_ENTRY_MAX];
            size_t an;
            memcpy(buf, p, n);
            buf[i] ^= (uint8_t)(1u << b);
            if (ldg_claim_decode(buf, n, &d) != 0)
                continue;
            /* canonical: re-encoding gives the same (flipped) bytes */
            assert_int_equal(ldg_claim_encode(&d, again, sizeof again, &an), 0);
            assert_int_equal(an, n);
            assert_memory_equal(again, buf, n);
        }
    free(p);
}

static void
test_seal__entry_vector(void **state)
{
    struct ldg_claim c;
    struct ldg_stamp st;
    struct ldg_source src = {1000, 1000, 4242, "/usr/bin/agent",
                             "agent.service"};
    struct ldg_event ev;
    uint8_t claim[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX], prev[32], *p;
    size_t cn, en, pn;
    (void)state;

    the_claim(&c);
    assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
    memset(&st, 0, sizeof st);
    ldg_claim_digest(st.digest, claim, cn);
    st.leaf = 2;
    st.seal = 40;
    st.seq = 42;
    st.ts = 1700000000123456789ull;
    st.source = &src;
    memset(prev, 0xab, 32);
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, prev), 0);
    assert_hex(entry, en, ENTRY_HEX);
    {
        char *h = malloc(2 * en + 1);
        ldg_hex(h, entry + 1 + cn, en - 1 - cn - 34);
        assert_string_equal(h, vec("stamp"));
        free(h);
    }

    /* the public decoder takes it, strictly, and hashes the leaf */
    assert_int_equal(ldg_event_decode(entry, en, &ev), 0);
    assert_true(ev.sealed);
    assert_int_equal(ev.seq, 42);
    assert_int_equal(ev.seal_seq, 40);
    assert_int_equal(ev.seal_leaf, 2);
    assert_int_equal(ev.ts_ns, 1700000000123456789ull);
    assert_string_equal(ev.type, "tool.called");
    assert_string_equal(ev.subject, "tool:grep");
    assert_string_equal(ev.run, "r1");
    assert_string_equal(ev.actor, "0123456789abcdef");
    assert_true(ev.has_parent && ev.parent == 7);
    assert_int_equal(ev.id_len, 3);
    assert_true(ev.has_time);
    assert_true(ev.has_source);
    assert_int_equal(ev.src_pid, 4242);
    assert_int_equal(ev.src_exe_len, strlen("/usr/bin/agent"));
    assert_int_equal(ev.src_unit_len, strlen("agent.service"));
    assert_memory_equal(ev.prev, prev, 32);
    assert_memory_equal(ev.digest, st.digest, 32);
    assert_ptr_equal(ev.signed_part, ev.entry + 1);
    assert_int_equal(ev.signed_len, cn);
    assert_hex(ev.leaf, 32, ENTRY_LEAF_HEX);
    /* trusted decode: the same fields, leaf left for the caller */
    assert_int_equal(ldg_event_decode_ex(entry, en, &ev, LDG_DECODE_TRUSTED),
                     0);
    assert_int_equal(ev.seq, 42);
    assert_true(ev.sealed);

    /* inconsistent stamps: leaf 0 must open the seal at its own seq */
    st.leaf = 0;
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, prev), 0);
    assert_int_equal(ldg_event_decode(entry, en, &ev), LDG_ECORRUPT);
    st.leaf = 3;
    st.seal = 42;
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, prev), 0);
    assert_int_equal(ldg_event_decode(entry, en, &ev), LDG_ECORRUPT);
    st.leaf = 0; /* and this one holds */
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, prev), 0);
    assert_int_equal(ldg_event_decode(entry, en, &ev), 0);
    assert_int_equal(ldg_event_decode(entry, en - 1, &ev), LDG_ECORRUPT);

    /* every single-bit flip of the vector entry fails or re-encodes to
     * exactly the flipped bytes (one entry, one encoding) */
    pn = unhex_alloc(&p, ENTRY_HEX);
    for (size_t i = 0; i < pn; i++)
        for (int b = 0; b < 8; b++) {
            uint8_t buf[1024], again[1024];
            struct ldg_claim dc;
            struct ldg_stamp ds;
            struct ldg_source dsrc;
            char exe[LDG_EXE_MAX + 1], unit[LDG_UNIT_MAX + 1];
            size_t an, dcn;
            memcpy(buf, p, pn);
            buf[i] ^= (uint8_t)(1u << b);
            if (ldg_event_decode(buf, pn, &ev) != 0)
                continue;
            assert_int_equal(
                ldg_claim_decode(ev.signed_part, ev.signed_len, &dc), 0);
            assert_int_equal(ldg_claim_encode(&dc, claim, sizeof claim, &dcn),
                             0);
            memset(&ds, 0, sizeof ds);
            memcpy(ds.digest, ev.digest, 32);
            ds.leaf = ev.seal_leaf;
            ds.seal = ev.seal_seq;
            ds.seq = ev.seq;
            ds.ts = ev.ts_ns;
            dsrc.uid = ev.src_uid;
            dsrc.gid = ev.src_gid;
            dsrc.pid = ev.src_pid;
            memcpy(exe, ev.src_exe, ev.src_exe_len);
            exe[ev.src_exe_len] = '\0';
            memcpy(unit, ev.src_unit, ev.src_unit_len);
            unit[ev.src_unit_len] = '\0';
            dsrc.exe = exe;
            dsrc.unit = unit;
            ds.source = ev.has_source ? &dsrc : NULL;
            assert_int_equal(ldg_entry2_encode(again, sizeof again, &an, claim,
                                               dcn, &ds, ev.prev),
                             0);
            assert_int_equal(an, pn);
            assert_memory_equal(again, buf, pn);
        }
    free(p);
}

static void
three_digests(uint8_t d[3][32])
{
    for (int i = 0; i < 3; i++) {
        uint8_t m[3] = {(uint8_t)i, (uint8_t)i, (uint8_t)i};
        ldg_sha256(d[i], m, 3);
    }
}

/* The display path's reader (ldg_entry2_decode_trusted) gives exactly
 * the strict decoder's event for every optional-field combination it
 * reads, leaves one with a source to the strict decoder, and on flipped
 * bits either declines or gives what the strict decoder gives when that
 * one accepts (it only skips the shortest-integer rule). */
static void
test_seal__trusted_reader_is_the_strict_one(void **state)
{
    struct ldg_source src = {1000, 1000, 4242, "/usr/bin/agent", NULL};
    uint8_t claim[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX], prev[32];
    (void)state;

    memset(prev, 0x5c, 32);
    for (unsigned m = 0; m < 32; m++) {
        struct ldg_claim c;
        struct ldg_stamp st;
        struct ldg_event a, b;
        size_t cn, en;
        the_claim(&c);
        if (!(m & 1)) {
            c.id = NULL;
            c.id_len = 0;
        }
        c.has_parent = (m & 2) != 0;
        if (!(m & 4)) {
            c.run = NULL;
            c.run_len = 0;
        }
        c.has_time = (m & 8) != 0;
        assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
        memset(&st, 0, sizeof st);
        ldg_claim_digest(st.digest, claim, cn);
        st.seq = 300000 + m;
        st.seal = st.seq - (m & 3);
        st.leaf = m & 3;
        st.ts = 1700000000123456789ull + m;
        st.source = (m & 16) ? &src : NULL;
        assert_int_equal(
            ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, prev),
            0);
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        assert_int_equal(ldg_entry2_decode(entry, en, &a), 0);
        if (m & 16) { /* a source: the strict reader's */
            assert_int_equal(ldg_entry2_decode_trusted(entry, en, &b), -1);
            continue;
        }
        assert_int_equal(ldg_entry2_decode_trusted(entry, en, &b), 0);
        assert_memory_equal(&a, &b, sizeof a);
        /* through the public decoder too */
        assert_int_equal(ldg_event_decode_ex(entry, en, &b, LDG_DECODE_TRUSTED),
                         0);
        assert_memory_equal(&a, &b, sizeof a);
        for (size_t i = 0; i < en * 8; i += 3) {
            int rs, rt;
            entry[i / 8] ^= (uint8_t)(1u << (i % 8));
            memset(&a, 0, sizeof a);
            memset(&b, 0, sizeof b);
            rs = ldg_entry2_decode(entry, en, &a);
            rt = ldg_entry2_decode_trusted(entry, en, &b);
            if (rt == 0 && rs == 0)
                assert_memory_equal(&a, &b, sizeof a);
            if (rt == 0 && rs != 0) {
                /* only an integer written longer than needed: what it
                 * read re-encodes (canonically) shorter */
                struct ldg_claim d;
                struct ldg_stamp ds;
                uint8_t again[LDG_ENTRY_MAX], dclaim[LDG_ENTRY_MAX];
                size_t dcn, an;
                memset(&d, 0, sizeof d);
                memcpy(d.actor, b.actor, sizeof d.actor);
                memcpy(d.body, b.body_root, 32);
                d.id = b.id;
                d.id_len = b.id_len;
                d.has_parent = b.has_parent;
                d.parent = b.parent;
                d.run = b.run[0] ? b.run : NULL;
                d.run_len = strlen(b.run);
                d.subject = b.subject;
                d.subject_len = strlen(b.subject);
                d.has_time = b.has_time;
                d.time_ns = b.time_ns;
                d.type = b.type;
                d.type_len = strlen(b.type);
                assert_int_equal(
                    ldg_claim_encode(&d, dclaim, sizeof dclaim, &dcn), 0);
                memset(&ds, 0, sizeof ds);
                memcpy(ds.digest, b.digest, 32);
                ds.leaf = b.seal_leaf;
                ds.seal = b.seal_seq;
                ds.seq = b.seq;
                ds.ts = b.ts_ns;
                assert_int_equal(ldg_entry2_encode(again, sizeof again, &an,
                                                   dclaim, dcn, &ds, b.prev),
                                 0);
                assert_true(an < en);
            }
            for (size_t cut = 0; cut < en; cut += 11) { /* never past the end */
                memset(&b, 0, sizeof b);
                (void)ldg_entry2_decode_trusted(entry, cut, &b);
            }
            entry[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
    }
}

static void
test_seal__tree(void **state)
{
    uint8_t d[3][32], root[32], proof[LDG_PROOF_MAX][32];
    size_t np;
    (void)state;

    three_digests(d);
    assert_hex(d[0], 32, vec("seal.digest0"));
    assert_hex(d[1], 32, vec("seal.digest1"));
    assert_hex(d[2], 32, vec("seal.digest2"));
    assert_int_equal(ldg_seal_root((const uint8_t(*)[32])d, 3, root), 0);
    assert_hex(root, 32, ROOT3_HEX);
    /* leaf 2's proof is the one hash of leaves 0..1 */
    assert_int_equal(
        ldg_seal_inclusion((const uint8_t(*)[32])d, 3, 2, proof, &np), 0);
    assert_int_equal(np, 1);
    assert_hex(proof[0], 32, vec("seal.proof2"));
    assert_int_equal(
        ldg_seal_inclusion((const uint8_t(*)[32])d, 3, 0, proof, &np), 0);
    assert_int_equal(np, 2);
    {
        char two[200];
        char h0[65], h1[65];
        ldg_hex(h0, proof[0], 32);
        ldg_hex(h1, proof[1], 32);
        snprintf(two, sizeof two, "%s %s", h0, h1);
        assert_string_equal(two, vec("seal.proof0"));
    }
    assert_int_equal(ldg_seal_verify_inclusion(
                         d[0], 0, 3, (const uint8_t(*)[32])proof, np, root),
                     0);
    /* another digest, index or count does not verify */
    assert_int_equal(ldg_seal_verify_inclusion(
                         d[1], 0, 3, (const uint8_t(*)[32])proof, np, root),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_seal_verify_inclusion(
                         d[0], 1, 3, (const uint8_t(*)[32])proof, np, root),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_seal_verify_inclusion(
                         d[0], 0, 5, (const uint8_t(*)[32])proof, np, root),
                     LDG_EBADPROOF);
    /* (count 4 would take this very path: a proof binds the count only
     * with the root of that count, which is why the seal map signs both) */
    /* sizes 1..40: every proof verifies, the root of 1 is its leaf hash */
    {
        uint8_t dd[40][32];
        for (int i = 0; i < 40; i++)
            ldg_sha256(dd[i], &i, sizeof i);
        for (size_t n = 1; n <= 40; n++) {
            assert_int_equal(ldg_seal_root((const uint8_t(*)[32])dd, n, root),
                             0);
            if (n == 1) {
                uint8_t lh[33];
                uint8_t want[32];
                lh[0] = 0;
                memcpy(lh + 1, dd[0], 32);
                ldg_sha256(want, lh, 33);
                assert_memory_equal(root, want, 32);
            }
            {
                /* the one-digest-at-a-time tree of the append path and of
                 * verify gives the same root */
                struct ldg_seal_acc acc;
                uint8_t r2[32];
                ldg_seal_acc_init(&acc);
                for (size_t i = 0; i < n; i++)
                    ldg_seal_acc_add(&acc, dd[i]);
                ldg_seal_acc_root(&acc, r2);
                assert_memory_equal(r2, root, 32);
            }
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(ldg_seal_inclusion((const uint8_t(*)[32])dd, n,
                                                    i, proof, &np),
                                 0);
                assert_int_equal(
                    ldg_seal_verify_inclusion(
                        dd[i], i, n, (const uint8_t(*)[32])proof, np, root),
                    0);
            }
        }
    }
    assert_int_equal(ldg_seal_root((const uint8_t(*)[32])d, 0, root),
                     LDG_EINVAL);
    assert_int_equal(
        ldg_seal_inclusion((const uint8_t(*)[32])d, 3, 3, proof, &np),
        LDG_EINVAL);
}

static void
the_seal(struct ldg_seal *s)
{
    memset(s, 0, sizeof *s);
    s->count = 3;
    s->first = 200;
    memcpy(s->key_id, "56475aa75463474c", 17);
    snprintf(s->origin, sizeof s->origin, "example.org/log");
    assert_int_equal(ldg_unhex(s->root, 32, ROOT3_HEX), 0);
}

static void
test_seal__seal_vector(void **state)
{
    struct ldg_seal s, d;
    struct ldg_key *k = NULL;
    uint8_t seed[32], map[LDG_SEAL_MAP_MAX], rec[LDG_SEAL_REC_MAX];
    size_t n, rn;
    (void)state;

    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_key_from_seed(&k, "alice", seed), 0);
    assert_hex(seed, 32, vec("key.seed"));
    assert_hex(k->pub, 32, vec("key.public"));
    assert_string_equal(k->key_id, vec("key.id"));
    the_seal(&s);
    assert_int_equal(ldg_seal_map_encode(&s, map, sizeof map, &n), 0);
    assert_hex(map, n, SEALMAP_HEX);
    assert_int_equal(ldg_seal_map_decode(map, n, &d), 0);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.first, 200);
    assert_string_equal(d.origin, "example.org/log");
    assert_int_equal(ldg_seal_sign(&s, k), 0);
    assert_hex(s.sig, 64, SIG_HEX);
    assert_int_equal(ldg_seal_verify(&s, k->pub), 0);

    /* the stored record */
    assert_int_equal(ldg_seal_record_encode(&s, rec, sizeof rec, &rn), 0);
    assert_int_equal(rn, 1 + n + 66);
    assert_int_equal(rec[0], 0x92);
    assert_hex(rec, rn, vec("seal.record"));
    assert_memory_equal(rec + 1, map, n);
    assert_int_equal(ldg_seal_record_decode(rec, rn, &d), 0);
    assert_memory_equal(d.sig, s.sig, 64);
    assert_int_equal(ldg_seal_verify(&d, k->pub), 0);
    assert_int_equal(ldg_seal_record_decode(rec, rn - 1, &d), LDG_ECORRUPT);

    /* any other map does not verify: first, count, root, origin, key */
    d = s;
    d.first = 201;
    assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);
    d = s;
    d.count = 2;
    assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);
    d = s;
    d.root[0] ^= 1;
    assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);
    d = s;
    snprintf(d.origin, sizeof d.origin, "example.org/other");
    assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);
    d = s;
    d.sig[10] ^= 0x40;
    assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);

    /* signing with a key of another id is misuse */
    d = s;
    memcpy(d.key_id, "0123456789abcdef", 17);
    assert_int_equal(ldg_seal_sign(&d, k), LDG_EINVAL);
    /* bad maps */
    d = s;
    d.count = 0;
    assert_int_equal(ldg_seal_map_encode(&d, map, sizeof map, &n),
                     LDG_EBADINPUT);
    d.count = LDG_SEAL_EVENTS_MAX + 1;
    assert_int_equal(ldg_seal_map_encode(&d, map, sizeof map, &n),
                     LDG_EBADINPUT);
    /* every bit flip of the record: refused, or another seal that no
     * longer verifies */
    for (size_t i = 0; i < rn; i++)
        for (int b = 0; b < 8; b++) {
            uint8_t buf[LDG_SEAL_REC_MAX];
            memcpy(buf, rec, rn);
            buf[i] ^= (uint8_t)(1u << b);
            if (ldg_seal_record_decode(buf, rn, &d) == 0)
                assert_int_equal(ldg_seal_verify(&d, k->pub), LDG_EBADSIG);
        }
    ldg_key_free(k);
}

static json_t *
batch_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void
test_seal__batch_parse(void **state)
{
    struct ldg_sealed_batch *b = NULL;
    char err[256];
    json_t *j;
    static const char sig[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                              "AAAAAAAAAAAAAAAAAAAAAAAA"
                              "AAAAAAAAAAAAAA==";
    char text[2048];
    (void)state;

    snprintf(text, sizeof text,
             "{\"sealed\": {\"key\": \"56475aa75463474c\", \"first\": 4, "
             "\"count\": 2, \"sig\": \"%s\", \"events\": ["
             "{\"type\": \"x.a\", \"subject\": \"s:1\", \"run\": \"r\", "
             "\"parent\": 3, \"id\": \"i1\", \"time\": 12, "
             "\"body\": {\"k\": 1}, \"salts\": {\"k\": "
             "\"000102030405060708090a0b0c0d0e0f\"}},"
             "{\"type\": \"x.b\"}]}}",
             sig);
    j = batch_json(text);
    if (ldg_sealed_batch_parse(&b, j, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(b->n, 2);
    assert_int_equal(b->first, 4);
    assert_string_equal(b->key_id, "56475aa75463474c");
    assert_string_equal(b->ev[0].in.type, "x.a");
    assert_string_equal(b->ev[0].in.subject, "s:1");
    assert_true(b->ev[0].in.has_parent && b->ev[0].in.parent == 3);
    assert_true(b->ev[0].in.has_time && b->ev[0].in.time_ns == 12);
    assert_string_equal(b->ev[0].in.id, "i1");
    assert_null(b->ev[1].in.body);
    json_decref(j); /* b keeps its own reference */
    assert_string_equal(b->ev[1].in.type, "x.b");
    ldg_sealed_batch_free(b);

    /* each malformed shape names its field */
    static const struct {
        const char *events, *extra, *want;
        int count;
    } bad[] = {
        {"[{\"type\": \"x.a\"}]", "", "sealed.count: is 2", 2},
        {"[{\"type\": \"x.a\", \"colour\": 1}]", "",
         "sealed.events[0]: unknown field 'colour'", 1},
        {"[{\"subject\": \"a:b\"}]", "", "sealed.events[0].type: required", 1},
        {"[{\"type\": \"x.a\", \"body\": {\"k\": 1}}]", "",
         "sealed.events[0].salts: required", 1},
        {"[{\"type\": \"x.a\", \"body\": {\"k\": 1}, \"salts\": {\"k\": "
         "\"00\"}}]",
         "", "sealed.events[0].salts.k: must be 32 hex digits", 1},
        {"[{\"type\": \"x.a\", \"body\": {\"k\": 1}, \"salts\": {\"j\": "
         "\"000102030405060708090a0b0c0d0e0f\"}}]",
         "", "sealed.events[0].salts.j: the body has no such field", 1},
        {"[{\"type\": \"x.a\", \"time\": -1}]", "",
         "sealed.events[0].time: must be integer", 1},
        {"[{\"type\": \"x.a\"}]", ", \"extra\": 1",
         "sealed: unknown field 'extra'", 1},
        {"[]", "", "sealed.count: must be 1 to", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"sealed\": {\"key\": \"56475aa75463474c\", \"first\": 0, "
                 "\"count\": %d, \"sig\": \"%s\", \"events\": %s%s}}",
                 bad[i].count, sig, bad[i].events, bad[i].extra);
        j = batch_json(text);
        err[0] = '\0';
        assert_int_equal(ldg_sealed_batch_parse(&b, j, err, sizeof err),
                         LDG_EBADINPUT);
        assert_null(b);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].want);
        json_decref(j);
    }
    /* bad key, sig, missing field, not a sealed batch */
    j = batch_json("{\"sealed\": {\"key\": \"XYZ\"}}");
    assert_int_equal(ldg_sealed_batch_parse(&b, j, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "sealed.key"));
    json_decref(j);
    j = batch_json("{\"sealed\": {\"key\": \"56475aa75463474c\", \"first\": 0,"
                   " \"count\": 1, \"sig\": \"AAAA\", \"events\": []}}");
    assert_int_equal(ldg_sealed_batch_parse(&b, j, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "sealed.sig"));
    json_decref(j);
    j = batch_json("{\"sealed\": {\"key\": \"56475aa75463474c\", \"first\": 0,"
                   " \"count\": 1, \"events\": []}}");
    assert_int_equal(ldg_sealed_batch_parse(&b, j, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "sealed.sig: required"));
    json_decref(j);
    j = batch_json("{\"type\": \"x.a\"}");
    assert_int_equal(ldg_sealed_batch_parse(&b, j, err, sizeof err),
                     LDG_EBADINPUT);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal__claim_vector),
        cmocka_unit_test(test_seal__claim_refuses),
        cmocka_unit_test(test_seal__entry_vector),
        cmocka_unit_test(test_seal__trusted_reader_is_the_strict_one),
        cmocka_unit_test(test_seal__tree),
        cmocka_unit_test(test_seal__seal_vector),
        cmocka_unit_test(test_seal__batch_parse),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
