/*
 * test_stored.c — store layouts 5's to 8's records against
 * tests/vectors/store-v5.txt (computed independently of the C code:
 * docs/FORMAT.md 4 and 6.1): seeded salts (BLAKE2b, layout 5; AES, layout
 * 6), body records of every kind, stored entries of every form (layout 7
 * keeps a sealed entry's claim digest in its stamp, layout 8 raw before
 * the record) and their derived bytes,
 * a dictionary; single-bit changes of stored entries; the erase guarantee
 * (nothing of an erased body is left in the store's dictionaries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#define ZSTD_STATIC_LINKING_ONLY /* the magicless frame format */
#include <zstd.h>

#include "ledger/handle_int.h"
#include "ledger/tlog_int.h"
#include "tests/support/support.h"

#define VECTORS "tests/vectors/store-v5.txt"
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

/* The bytes of vector key (malloc'd). */
static size_t
bytes(const char *key, uint8_t **out)
{
    const char *hex = vec(key);
    size_t n = strlen(hex) / 2;
    *out = malloc(n ? n : 1);
    assert_non_null(*out);
    assert_int_equal(ldg_unhex(*out, n, hex), 0);
    return n;
}

static void
assert_hex(const uint8_t *p, size_t n, const char *key)
{
    char *h = malloc(2 * n + 1);
    ldg_hex(h, p, n);
    assert_string_equal(h, vec(key));
    free(h);
}

static const char *const names[] = {"a", "b", "c", "d", "e", "route"};
#define NF (sizeof names / sizeof names[0])

static void
test_stored__seed_salts_are_the_vectors(void **state)
{
    uint8_t *seed, salts[NF][LDG_SALT_LEN], more[300][LDG_SALT_LEN];
    (void)state;
    assert_int_equal(bytes("seed", &seed), LDG_SEED_LEN);
    ldg_seed_salts(seed, NF, salts);
    for (size_t i = 0; i < NF; i++) {
        char k[40];
        snprintf(k, sizeof k, "body.field.%s.salt", names[i]);
        assert_hex(salts[i], LDG_SALT_LEN, k);
    }
    /* layout 6: AES */
    ldg_seed_salts_aes(seed, NF, salts);
    for (size_t i = 0; i < NF; i++) {
        char k[40];
        snprintf(k, sizeof k, "aes.field.%s.salt", names[i]);
        assert_hex(salts[i], LDG_SALT_LEN, k);
    }
    /* past a batch of 64 blocks and for any n, the salt of field i is the
     * same: each is its own counter block */
    ldg_seed_salts_aes(seed, 300, more);
    assert_memory_equal(more, salts, sizeof salts);
    for (size_t n = 1; n <= 300; n += 37) {
        uint8_t few[300][LDG_SALT_LEN];
        ldg_seed_salts_aes(seed, n, few);
        assert_memory_equal(few, more, n * LDG_SALT_LEN);
    }
    for (size_t i = 1; i < 300; i++)
        assert_memory_not_equal(more[i], more[i - 1], LDG_SALT_LEN);
    free(seed);
}

/* Layout 5's seeded record (0x02) and layout 6's (0x05): made from the
 * seed, they are the vector's bytes, and read back with its salts and
 * digests. */
static void
check_seeded_record(uint8_t kind, const char *rec_key, const char *root_key,
                    const char *prefix)
{
    uint8_t *seed;
    struct ldg_body_rec br;
    struct ldg_field *f;
    size_t n;
    char err[128];
    json_t *body = json_loads(vec("body.json"), 0, NULL);
    assert_non_null(body);
    bytes("seed", &seed);
    assert_int_equal(ldg_body_prepare_seeded(body, kind, seed, NULL, 1 << 20,
                                             &br, err, sizeof err),
                     0);
    assert_hex(br.rec, br.rec_len, rec_key);
    assert_hex(br.root, 32, root_key);
    /* the fields read back with their derived salts and digests */
    assert_int_equal(ldg_body_decode(NULL, br.rec, br.rec_len, 1 << 20, &f, &n),
                     0);
    assert_int_equal(n, NF);
    for (size_t i = 0; i < n; i++) {
        char k[40];
        assert_string_equal(f[i].name, names[i]);
        snprintf(k, sizeof k, "%s.field.%s.salt", prefix, names[i]);
        assert_hex(f[i].salt, LDG_SALT_LEN, k);
        snprintf(k, sizeof k, "%s.field.%s.digest", prefix, names[i]);
        assert_hex(f[i].digest, 32, k);
    }
    ldg_fields_free(f, n);
    ldg_body_rec_release(&br);
    json_decref(body);
    free(seed);
}

static void
test_stored__a_seeded_record_is_the_vector(void **state)
{
    char err[128];
    struct ldg_body_rec br;
    uint8_t *seed;
    json_t *body = json_loads(vec("body.json"), 0, NULL);
    (void)state;
    check_seeded_record(LDG_BODY_SEEDED, "body.record.seeded",
                        "body.commitment", "body");
    check_seeded_record(LDG_BODY_SEEDED_AES, "aes.record", "aes.commitment",
                        "aes");
    /* no other kind is made seeded */
    bytes("seed", &seed);
    assert_int_equal(ldg_body_prepare_seeded(body, LDG_BODY_SEEDED_Z, seed,
                                             NULL, 1 << 20, &br, err,
                                             sizeof err),
                     LDG_EINVAL);
    json_decref(body);
    free(seed);
}

static struct ldg_dicts *
vector_dicts(void)
{
    struct ldg_dicts *d;
    uint8_t *dict;
    size_t n = bytes("dict", &dict);
    assert_int_equal(ldg_dicts_new(&d), 0);
    assert_int_equal(ldg_dicts_add(d, 7, dict, n), 0);
    /* again, the same bytes: a no-op; another id or other bytes: refused */
    assert_int_equal(ldg_dicts_add(d, 7, dict, n), 0);
    assert_int_equal(ldg_dicts_add(d, 8, dict, n), LDG_ECORRUPT);
    dict[n - 1] ^= 1;
    assert_int_equal(ldg_dicts_add(d, 7, dict, n), LDG_ECORRUPT);
    free(dict);
    return d;
}

static void
test_stored__every_record_kind_gives_its_commitment(void **state)
{
    static const struct {
        const char *rec, *root;
        int needs_dict;
    } cases[] = {
        {"body.record.seeded", "body.commitment", 0},
        {"body.record.seeded_zstd", "body.commitment", 0},
        {"body.record.seeded_dict", "body.commitment", 1},
        {"salted.record", "salted.commitment", 0},
        {"salted.record.dict", "salted.commitment", 1},
        {"aes.record", "aes.commitment", 0},
        {"aes.record.zstd", "aes.commitment", 0},
        {"aes.record.dict", "aes.commitment", 1},
    };
    struct ldg_dicts *d = vector_dicts();
    json_t *want = json_loads(vec("body.json"), 0, NULL);
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *rec, root[32];
        size_t n = bytes(cases[i].rec, &rec);
        json_t *got = NULL;
        assert_int_equal(ldg_body_rec_root(d, rec, n, 1 << 20, root), 0);
        assert_hex(root, 32, cases[i].root);
        assert_int_equal(ldg_body_decode_json(d, rec, n, 1 << 20, &got), 0);
        assert_true(json_equal(got, want));
        json_decref(got);
        /* without the dictionary it names: refused, never wrong */
        assert_int_equal(ldg_body_rec_root(NULL, rec, n, 1 << 20, root),
                         cases[i].needs_dict ? LDG_ECORRUPT : 0);
        /* a frame stating more than the body limit: refused first */
        if (rec[0] != 0 && rec[0] != 2 && rec[0] != 5)
            assert_int_equal(ldg_body_rec_root(d, rec, n, 16, root),
                             LDG_ECORRUPT);
        /* cut short anywhere: refused */
        for (size_t k = 0; k < n; k++)
            assert_int_not_equal(ldg_body_rec_root(d, rec, k, 1 << 20, root),
                                 0);
        free(rec);
    }
    json_decref(want);
    ldg_dicts_free(d);
}

/* A record's frame must state its content size, hold exactly that, be
 * one frame and no more, within the limit: each of the vectors'
 * compressed records made over so that zstd alone would take it (checked
 * with zstd here: the refusal is the reader's rule, not a broken frame)
 * is refused, and the record as it is still read. */
static void
test_stored__a_frame_states_its_size_and_is_one(void **state)
{
    static const char *const cases[] = {
        "body.record.seeded_zstd", "body.record.seeded_dict",
        "salted.record.dict",      "aes.record.zstd",
        "aes.record.dict",
    };
    struct ldg_dicts *d = vector_dicts();
    uint8_t *dict;
    size_t dn = bytes("dict", &dict);
    ZSTD_DCtx *dx = ZSTD_createDCtx();
    (void)state;
    assert_non_null(dx);
    assert_false(ZSTD_isError(
        ZSTD_DCtx_setParameter(dx, ZSTD_d_format, ZSTD_f_zstd1_magicless)));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *rec, *two, root[32], out[1024];
        size_t n = bytes(cases[i], &rec);
        size_t at = rec[0] == LDG_BODY_SALTED_Z ? 2 : 2 + LDG_SEED_LEN;
        uint8_t *f = rec + at, fcs;
        size_t want, fn = n - at;
        unsigned id = rec[at - 1];
        json_t *got = NULL;

        /* the vectors' frames: single segment, a one-byte content size */
        assert_int_equal(f[0] & 0xe3, 0x20);
        fcs = f[1];
        want = ZSTD_decompress_usingDict(dx, out, sizeof out, f, fn,
                                         id ? dict : NULL, id ? dn : 0);
        assert_int_equal(want, fcs);
        assert_int_equal(ldg_body_rec_root(d, rec, n, 1 << 20, root), 0);

        /* stating one byte less, or more, than it holds: refused (zstd
         * refuses these too) */
        for (int delta = -1; delta <= 1; delta += 2) {
            f[1] = (uint8_t)(fcs + delta);
            assert_int_equal(ldg_body_rec_root(d, rec, n, 1 << 20, root),
                             LDG_ECORRUPT);
            assert_int_equal(ldg_body_decode_json(d, rec, n, 1 << 20, &got),
                             LDG_ECORRUPT);
            assert_null(got);
        }

        /* no content size (a window descriptor of 1 KiB in its place):
         * zstd takes it, the reader does not */
        f[0] = 0x00;
        f[1] = 0x00;
        assert_int_equal(ZSTD_decompress_usingDict(dx, out, sizeof out, f, fn,
                                                   id ? dict : NULL,
                                                   id ? dn : 0),
                         want);
        assert_int_equal(ldg_body_rec_root(d, rec, n, 1 << 20, root),
                         LDG_ECORRUPT);
        f[0] = 0x20;
        f[1] = fcs;

        /* the frame twice, one after the other: zstd takes both, the
         * reader refuses the record */
        two = malloc(n + fn);
        assert_non_null(two);
        memcpy(two, rec, n);
        memcpy(two + n, f, fn);
        assert_int_equal(
            ZSTD_decompress_usingDict(dx, out, sizeof out, two + at, fn * 2,
                                      id ? dict : NULL, id ? dn : 0),
            2 * want);
        assert_int_equal(ldg_body_rec_root(d, two, n + fn, 1 << 20, root),
                         LDG_ECORRUPT);
        assert_int_equal(ldg_body_decode_json(d, two, n + fn, 1 << 20, &got),
                         LDG_ECORRUPT);

        /* over the limit by a byte (it allows 16 bytes of framing) */
        assert_int_equal(ldg_body_rec_root(d, rec, n, want - 17, root),
                         LDG_ECORRUPT);
        assert_int_equal(ldg_body_rec_root(d, rec, n, want - 16, root), 0);
        free(two);
        free(rec);
    }
    ZSTD_freeDCtx(dx);
    free(dict);
    ldg_dicts_free(d);
}

/* The Literals_Block_Type of a magicless frame's first block (RFC 8878
 * 3.1.1.3.1.1: 0 raw, 1 RLE, 2 Huffman-coded, 3 treeless), or -1 when
 * that block is not a compressed one. */
static int
first_literals_type(const uint8_t *f, size_t n)
{
    static const size_t did_len[4] = {0, 1, 2, 4}, fcs_len[4] = {0, 2, 4, 8};
    size_t at;
    uint32_t bh;
    int single;

    assert_true(n > 1);
    single = (f[0] >> 5) & 1;
    at = 1 + (single ? 0 : 1) + did_len[f[0] & 3] +
         ((f[0] >> 6) == 0 && single ? 1 : fcs_len[f[0] >> 6]);
    assert_true(at + 4 <= n);
    bh = (uint32_t)f[at] | (uint32_t)f[at + 1] << 8 | (uint32_t)f[at + 2] << 16;
    if (((bh >> 1) & 3) != 2)
        return -1;
    return f[at + 3] & 3;
}

/* A seeded record of body with cd (or none) into out, compressed: the
 * Literals_Block_Type of its frame's first block. */
static int
seeded_literals(json_t *body, const struct ldg_cdict *cd,
                struct ldg_body_rec *out)
{
    char err[128];
    uint8_t *seed;
    bytes("seed", &seed);
    assert_int_equal(ldg_body_prepare_seeded(body, LDG_BODY_SEEDED_AES, seed,
                                             cd, 1 << 20, out, err, sizeof err),
                     0);
    free(seed);
    assert_int_equal(out->rec[0], LDG_BODY_SEEDED_AES_Z);
    assert_int_equal(out->rec[1 + LDG_SEED_LEN], cd ? ldg_cdict_id(cd) : 0);
    return first_literals_type(out->rec + 2 + LDG_SEED_LEN,
                               out->rec_len - 2 - LDG_SEED_LEN);
}

/* A record compressed with a dictionary keeps its literals raw (the
 * writer's choice, body.c's compress5: cheaper to inflate) and decodes,
 * with the dictionary and only with it; a frame without one keeps them
 * Huffman-coded. The body carries twice 423 bytes of text the dictionary
 * does not hold, literals a Huffman table shortens (and past 512 bytes,
 * so that it is compressed without a dictionary too). And the dictionary
 * is used: the vector's body alone (45 bytes of map) is smaller with it
 * than stored as it is. */
static void
test_stored__a_dictionary_frame_has_raw_literals(void **state)
{
    static const char text[] =
        "the kettle hums beside a window of rain while the night shift "
        "checks each model run against its budget, and every decision "
        "the router makes is written down before the answer leaves the "
        "box; a reader who holds the ledger can ask later which run "
        "spent what, which policy denied a tool, and whether the record "
        "itself was kept whole from the first event to the last one "
        "signed, without trusting anyone who was there at the time";
    struct ldg_dicts *d = vector_dicts();
    struct ldg_cdict *cd;
    struct ldg_body_rec with, without, plain;
    uint8_t *dict, root[32];
    size_t n = bytes("dict", &dict);
    json_t *body = json_loads(vec("body.json"), 0, NULL), *got = NULL;
    char err[128];
    uint8_t *seed;
    (void)state;
    assert_int_equal(ldg_cdict_new(&cd, 7, dict, n), 0);
    /* the vector's body: smaller with the dictionary than as it is */
    bytes("seed", &seed);
    assert_int_equal(ldg_body_prepare_seeded(body, LDG_BODY_SEEDED_AES, seed,
                                             NULL, 1 << 20, &plain, err,
                                             sizeof err),
                     0);
    free(seed);
    assert_int_equal(plain.rec[0], LDG_BODY_SEEDED_AES);
    assert_int_equal(seeded_literals(body, cd, &with), 0);
    assert_true(with.rec_len < plain.rec_len);
    print_message("the vector's body: %zu B as it is, %zu B with the "
                  "dictionary\n",
                  plain.rec_len, with.rec_len);
    ldg_body_rec_release(&with);
    ldg_body_rec_release(&plain);
    /* with the text: raw with the dictionary, Huffman without */
    json_object_set_new(body, "note", json_string(text));
    json_object_set_new(body, "note2", json_string(text));
    assert_int_equal(seeded_literals(body, cd, &with), 0);
    assert_int_equal(
        ldg_body_rec_root(d, with.rec, with.rec_len, 1 << 20, root), 0);
    assert_memory_equal(root, with.root, 32);
    assert_int_equal(
        ldg_body_decode_json(d, with.rec, with.rec_len, 1 << 20, &got), 0);
    assert_true(json_equal(got, body));
    assert_int_equal(
        ldg_body_rec_root(NULL, with.rec, with.rec_len, 1 << 20, root),
        LDG_ECORRUPT);
    assert_int_equal(seeded_literals(body, NULL, &without), 2);
    assert_memory_equal(without.root, with.root, 32);
    json_decref(got);
    ldg_body_rec_release(&with);
    ldg_body_rec_release(&without);
    ldg_cdict_free(cd);
    json_decref(body);
    free(dict);
    ldg_dicts_free(d);
}

/* digest: the stored form (enum ldg_stored_form): a sealed entry's claim
 * digest kept in its stamp (layout 7), raw before the record (layout 8)
 * or not (layouts 5 and 6); a format 1 entry has one form */
static void
check_entry(const char *whole_key, const char *prev_key, const char *stored_key,
            const char *leaf_key, int sealed, int digest)
{
    uint8_t *e, *prev, *st, out[LDG_ENTRY_MAX];
    size_t en = bytes(whole_key, &e), sn = bytes(stored_key, &st), n;
    struct ldg_event ev;
    char hex[65];

    assert_int_equal(bytes(prev_key, &prev), 32);
    /* whole -> stored -> whole */
    assert_int_equal(ldg_entry_stored(e, en, digest, out, sizeof out, &n), 0);
    assert_hex(out, n, stored_key);
    /* the stored form of the stored form: itself */
    assert_int_equal(ldg_entry_stored(st, sn, digest, out, sizeof out, &n), 0);
    assert_hex(out, n, stored_key);
    assert_int_equal(ldg_entry_whole(st, sn, prev, out, sizeof out, &n), 0);
    assert_int_equal(n, en);
    assert_memory_equal(out, e, en);
    /* decoded from the stored form with prev: the whole entry's leaf */
    assert_int_equal(ldg_entry_decode_rec(st, sn, prev, &ev, 0), 0);
    assert_true(ev.derived);
    assert_int_equal(ev.sealed, sealed);
    assert_int_equal(ev.digest_derived, sealed && digest == LDG_STORED_CUT);
    assert_hex(ev.leaf, 32, leaf_key);
    assert_memory_equal(ev.prev, prev, 32);
    if (sealed) {
        uint8_t d[32];
        ldg_claim_digest(d, ev.signed_part, ev.signed_len);
        assert_memory_equal(d, ev.digest, 32);
    }
    /* too little room: said so */
    assert_int_equal(ldg_entry_whole(st, sn, prev, out, en - 1, &n),
                     LDG_ETOOBIG);
    /* every single-bit change of the stored form is refused, or makes
     * another entry (another leaf): nothing else is derived from it */
    for (size_t i = 0; i < sn * 8; i++) {
        struct ldg_event x;
        st[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (ldg_entry_decode_rec(st, sn, prev, &x, 0) == 0) {
            ldg_hex(hex, x.leaf, 32);
            assert_string_not_equal(hex, vec(leaf_key));
        }
        st[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* cut short, or one byte more: refused */
    for (size_t k = 0; k < sn; k++)
        assert_int_not_equal(ldg_entry_decode_rec(st, k, prev, &ev, 0), 0);
    free(e);
    free(prev);
    free(st);
}

static void
test_stored__entries_lose_and_regain_their_derived_bytes(void **state)
{
    (void)state;
    check_entry("sealed.entry", "sealed.prev", "sealed.stored",
                "sealed.leaf_hash", 1, 0);
    check_entry("sealed.entry", "sealed.prev", "sealed.stored7",
                "sealed.leaf_hash", 1, 1);
    check_entry("sealed.entry", "sealed.prev", "sealed.stored8",
                "sealed.leaf_hash", 1, 2);
    for (int form = 0; form < 3; form++)
        check_entry("format1.entry", "format1.prev", "format1.stored",
                    "format1.leaf_hash", 0, form);
}

/* The three stored forms of a sealed entry, each made from the others
 * and from the whole entry: layout 8's (0x01, the digest raw), 7's (the
 * digest in the stamp), 5's and 6's without it (derived and put in, or
 * cut); the whole entry of each is the same. */
static void
test_stored__the_sealed_forms_convert_every_way(void **state)
{
    static const char *const keys[3] = {"sealed.stored", "sealed.stored7",
                                        "sealed.stored8"};
    uint8_t *e, *prev, *sf[3], out[LDG_ENTRY_MAX], w[LDG_ENTRY_MAX];
    size_t en = bytes("sealed.entry", &e), sn[3], n, wn, m;
    int sealed;
    (void)state;
    assert_int_equal(bytes("sealed.prev", &prev), 32);
    for (int f = 0; f < 3; f++)
        sn[f] = bytes(keys[f], &sf[f]);
    assert_int_equal(sn[1], sn[0] + 41); /* a6 "digest" c4 20 d[32] */
    assert_int_equal(sn[2], sn[0] + 33); /* 01 d[32] */
    for (int from = 0; from < 3; from++) {
        for (int to = 0; to < 3; to++) {
            assert_int_equal(
                ldg_entry_stored(sf[from], sn[from], to, out, sizeof out, &n),
                0);
            assert_hex(out, n, keys[to]);
            /* too little room: said so */
            assert_int_equal(
                ldg_entry_stored(sf[from], sn[from], to, out, sn[to] - 1, &n),
                LDG_ETOOBIG);
        }
        assert_int_equal(
            ldg_entry_whole(sf[from], sn[from], prev, w, sizeof w, &wn), 0);
        assert_int_equal(wn, en);
        assert_memory_equal(w, e, en);
    }
    for (int to = 0; to < 3; to++) {
        assert_int_equal(ldg_entry_stored(e, en, to, out, sizeof out, &n), 0);
        assert_hex(out, n, keys[to]);
        assert_int_equal(ldg_entry_stored(e, en, to, out, sn[to] - 1, &n),
                         LDG_ETOOBIG);
    }
    assert_int_equal(ldg_entry_stored(e, en, 3, out, sizeof out, &n),
                     LDG_EINVAL);
    assert_int_equal(ldg_entry_stored_parts(sf[1], sn[1], &m, &sealed), 0);
    assert_true(sealed);
    assert_int_equal(ldg_entry_stored_digest(sf[1], sn[1], m), 1);
    assert_int_equal(ldg_entry_stored_parts(sf[0], sn[0], &m, &sealed), 0);
    assert_int_equal(ldg_entry_stored_digest(sf[0], sn[0], m), 0);
    /* layout 8's is no 0x92 record (a segment's ENTRY never is one) */
    assert_int_equal(ldg_entry_stored_parts(sf[2], sn[2], &m, &sealed),
                     LDG_ECORRUPT);
    free(e);
    free(prev);
    for (int f = 0; f < 3; f++)
        free(sf[f]);
}

/* A layout 8 record whose own record is not layout 5/6's (layout 7's,
 * with the digest twice; a format 1 entry; nothing) is damage to every
 * reader, as is a tag other than 0x01 before a digest. */
static void
test_stored__a_layout8_record_holds_a_cut_sealed_record_only(void **state)
{
    static const unsigned fl[] = {0, LDG_DECODE_NO_DIGEST, LDG_DECODE_TRUSTED,
                                  LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST};
    uint8_t *prev, *s7, *s8, *f1, bad[LDG_ENTRY_MAX], w[LDG_ENTRY_MAX];
    size_t n7 = bytes("sealed.stored7", &s7), n8 = bytes("sealed.stored8", &s8),
           n1 = bytes("format1.stored", &f1), bn[4], wn;
    uint8_t *b[4];
    (void)state;
    assert_int_equal(bytes("sealed.prev", &prev), 32);
    for (int k = 0; k < 4; k++)
        b[k] = malloc(LDG_ENTRY_MAX);
    memcpy(b[0], s8, 33); /* 01 d ‖ layout 7's record */
    memcpy(b[0] + 33, s7, n7);
    bn[0] = 33 + n7;
    memcpy(b[1], s8, 33); /* 01 d ‖ a format 1 entry's */
    memcpy(b[1] + 33, f1, n1);
    bn[1] = 33 + n1;
    memcpy(b[2], s8, 33); /* 01 d ‖ nothing */
    bn[2] = 33;
    memcpy(b[3], s8, n8); /* 02 d ‖ ... */
    b[3][0] = 0x02;
    bn[3] = n8;
    for (int k = 0; k < 4; k++) {
        for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++) {
            struct ldg_event ev;
            assert_int_equal(
                ldg_entry_decode_rec(b[k], bn[k], prev, &ev, fl[f]),
                LDG_ECORRUPT);
            assert_int_equal(
                ldg_entry_decode_rec(b[k], bn[k], NULL, &ev, fl[f]),
                LDG_ECORRUPT);
        }
        assert_int_equal(ldg_entry_whole(b[k], bn[k], prev, w, sizeof w, &wn),
                         LDG_ECORRUPT);
        for (int to = 0; to < 3; to++)
            assert_int_equal(
                ldg_entry_stored(b[k], bn[k], to, bad, sizeof bad, &wn),
                LDG_ECORRUPT);
        free(b[k]);
    }
    free(prev);
    free(s7);
    free(s8);
    free(f1);
}

/* A layout 7 or 8 record's digest is read, never derived: a stored
 * digest that is not its claim's comes back as stored (every reader:
 * trusted, strict, strict with the leaf, and the whole-entry way), so
 * verify can name it, and the leaf is the whole entry's with that digest.
 * A layout 5/6 record's digest is derived, unless NO_DIGEST. */
static void
test_stored__a_stored_digest_is_read_not_derived(void **state)
{
    static const unsigned fl[] = {0, LDG_DECODE_NO_DIGEST, LDG_DECODE_TRUSTED,
                                  LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST};
    static const uint8_t zero[32];
    uint8_t *prev, *s5, *s7, *s8, d[32], w[LDG_ENTRY_MAX], leaf[32];
    size_t n5 = bytes("sealed.stored", &s5), n7 = bytes("sealed.stored7", &s7),
           n8 = bytes("sealed.stored8", &s8), wn, m;
    int sealed;
    (void)state;
    assert_int_equal(bytes("sealed.prev", &prev), 32);
    assert_int_equal(ldg_entry_stored_parts(s7, n7, &m, &sealed), 0);
    /* the digest's bytes: after 0x92, the claim, the map header and the
     * 9 bytes of a6 "digest" c4 20; in layout 8's, after 0x01 */
    s7[1 + m + 1 + 9] ^= 0x01;
    memcpy(d, s7 + 1 + m + 1 + 9, 32);
    s8[1] ^= 0x01;
    assert_memory_equal(s8 + 1, d, 32);
    assert_int_equal(ldg_entry_whole(s7, n7, prev, w, sizeof w, &wn), 0);
    ldg_tlog_leaf_hash(leaf, w, wn);
    assert_int_equal(ldg_entry_whole(s8, n8, prev, w, sizeof w, &wn), 0);
    ldg_tlog_leaf_hash(w, w, wn);
    assert_memory_equal(w, leaf, 32);
    for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++) {
        struct ldg_event ev;
        for (int p = 0; p < 4; p++) {
            const uint8_t *sx = p < 2 ? s7 : s8;
            size_t nx = p < 2 ? n7 : n8;
            assert_int_equal(
                ldg_entry_decode_rec(sx, nx, p % 2 ? prev : NULL, &ev, fl[f]),
                0);
            assert_false(ev.digest_derived);
            assert_true(ev.derived);
            assert_memory_equal(ev.digest, d, 32);
            if (p % 2 && !(fl[f] & LDG_DECODE_TRUSTED))
                assert_memory_equal(ev.leaf, leaf, 32);
            assert_int_equal(
                ldg_entry_decode_rec(s5, n5, p % 2 ? prev : NULL, &ev, fl[f]),
                0);
            assert_true(ev.digest_derived);
            if (fl[f] & LDG_DECODE_NO_DIGEST) {
                assert_memory_equal(ev.digest, zero, 32);
            } else {
                uint8_t c[32];
                ldg_claim_digest(c, ev.signed_part, ev.signed_len);
                assert_memory_equal(ev.digest, c, 32);
            }
        }
    }
    free(prev);
    free(s5);
    free(s7);
    free(s8);
}

/* The strict readers take one digest pair, first, of 32 bytes: a second
 * one, another length, or another place is refused (LDG_ECORRUPT), by
 * every way a stored record is read. */
static void
test_stored__malformed_digest_pairs_are_refused(void **state)
{
    static const unsigned fl[] = {0, LDG_DECODE_NO_DIGEST, LDG_DECODE_TRUSTED,
                                  LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST};
    uint8_t *prev, *s7, bad[LDG_ENTRY_MAX], w[LDG_ENTRY_MAX];
    size_t n7 = bytes("sealed.stored7", &s7), m, st, bn, wn;
    int sealed;
    (void)state;
    assert_int_equal(bytes("sealed.prev", &prev), 32);
    assert_int_equal(ldg_entry_stored_parts(s7, n7, &m, &sealed), 0);
    st = 1 + m; /* the stamp's map header */
    for (int k = 0; k < 4; k++) {
        memcpy(bad, s7, st);
        bn = st;
        /* s7 + st: map header, a6 "digest" (7 bytes), c4 20, d[32] */
        if (k == 0) { /* the pair twice */
            bad[bn++] = (uint8_t)(s7[st] + 1);
            memcpy(bad + bn, s7 + st + 1, 41);
            bn += 41;
            memcpy(bad + bn, s7 + st + 1, n7 - st - 1);
            bn += n7 - st - 1;
        } else if (k == 2) { /* a str of 32, not a bin */
            memcpy(bad + bn, s7 + st, n7 - st);
            bad[st + 8] = 0xd9;
            bn = n7;
        } else { /* a bin of 31 or 33 bytes */
            size_t dn = k == 1 ? 31 : 33;
            memcpy(bad + bn, s7 + st, 9);
            bn += 9;
            bad[bn++] = (uint8_t)dn;
            memcpy(bad + bn, s7 + st + 10, 31);
            bn += 31;
            if (dn == 33) {
                memcpy(bad + bn, s7 + st + 41, 1);
                bad[bn + 1] = 0x00;
                bn += 2;
            }
            memcpy(bad + bn, s7 + st + 42, n7 - st - 42);
            bn += n7 - st - 42;
        }
        for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++) {
            struct ldg_event ev;
            assert_int_equal(ldg_entry_decode_rec(bad, bn, prev, &ev, fl[f]),
                             LDG_ECORRUPT);
            assert_int_equal(ldg_entry_decode_rec(bad, bn, NULL, &ev, fl[f]),
                             LDG_ECORRUPT);
        }
        /* the whole entry it makes (if framed) is no entry either */
        if (ldg_entry_whole(bad, bn, prev, w, sizeof w, &wn) == 0) {
            struct ldg_event ev;
            assert_int_equal(ldg_event_decode_flags(w, wn, &ev, 0),
                             LDG_ECORRUPT);
        }
    }
    free(prev);
    free(s7);
}

/* ev as the whole entry's reader left it, but for what the stored form
 * derives or leaves (prev, leaf, entry, the digest without NO_DIGEST). */
static void
same_event(const struct ldg_event *w, const struct ldg_event *p, unsigned flags)
{
    static const uint8_t zero[32];
    assert_int_equal(p->seq, w->seq);
    assert_int_equal(p->ts_ns, w->ts_ns);
    assert_string_equal(p->type, w->type);
    assert_string_equal(p->subject, w->subject);
    assert_string_equal(p->run, w->run);
    assert_string_equal(p->actor, w->actor);
    assert_int_equal(p->has_parent, w->has_parent);
    assert_int_equal(p->parent, w->parent);
    assert_memory_equal(p->body_root, w->body_root, 32);
    assert_int_equal(p->signed_len, w->signed_len);
    assert_memory_equal(p->signed_part, w->signed_part, w->signed_len);
    assert_int_equal(p->id_len, w->id_len);
    if (w->id_len > 0)
        assert_memory_equal(p->id, w->id, w->id_len);
    assert_int_equal(p->has_time, w->has_time);
    assert_int_equal(p->time_ns, w->time_ns);
    assert_int_equal(p->has_source, w->has_source);
    assert_int_equal(p->src_uid, w->src_uid);
    assert_int_equal(p->src_gid, w->src_gid);
    assert_int_equal(p->src_pid, w->src_pid);
    assert_int_equal(p->src_exe_len, w->src_exe_len);
    assert_int_equal(p->src_unit_len, w->src_unit_len);
    if (w->src_exe_len > 0)
        assert_memory_equal(p->src_exe, w->src_exe, w->src_exe_len);
    if (w->src_unit_len > 0)
        assert_memory_equal(p->src_unit, w->src_unit, w->src_unit_len);
    assert_int_equal(p->sealed, w->sealed);
    assert_int_equal(p->seal_seq, w->seal_seq);
    assert_int_equal(p->seal_leaf, w->seal_leaf);
    /* a digest stored (layouts 7, 8) is read as ever; derived only if
     * asked */
    assert_memory_equal(
        p->digest,
        (flags & LDG_DECODE_NO_DIGEST) && p->digest_derived ? zero : w->digest,
        32);
    assert_memory_equal(p->leaf, zero, 32);
    assert_null(p->entry);
    assert_true(p->derived);
}

/* A stored sealed entry read in place (no leaf asked for, or prev given
 * for it) as its whole entry is read: the same fields (and leaf), and,
 * under every single-bit change, the same records refused. */
static void
check_in_place(const uint8_t *st, size_t sn, const uint8_t prev[32])
{
    static const unsigned fl[] = {0, LDG_DECODE_NO_DIGEST, LDG_DECODE_TRUSTED,
                                  LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST};
    static const uint8_t zero[32];
    uint8_t *m = malloc(sn), w[LDG_ENTRY_MAX];
    assert_non_null(m);
    memcpy(m, st, sn);
    for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++) {
        for (size_t i = 0; i <= sn * 8; i++) {
            struct ldg_event we, pe;
            size_t wn;
            int wrc, prc;
            if (i < sn * 8)
                m[i / 8] ^= (uint8_t)(1u << (i % 8));
            wrc = ldg_entry_whole(m, sn, prev, w, sizeof w, &wn);
            if (wrc == 0)
                wrc = ldg_event_decode_flags(w, wn, &we,
                                             fl[f] & LDG_DECODE_TRUSTED);
            prc = ldg_entry_decode_rec(
                m, sn, (fl[f] & LDG_DECODE_TRUSTED) ? prev : NULL, &pe, fl[f]);
            assert_int_equal(prc == 0, wrc == 0);
            if (prc == 0) {
                same_event(&we, &pe, fl[f]);
                assert_memory_equal(
                    pe.prev, (fl[f] & LDG_DECODE_TRUSTED) ? prev : zero, 32);
            }
            /* with prev and the leaf asked for (verify's pass 1): in
             * place too, the whole entry's fields and leaf */
            if (fl[f] == 0) {
                uint8_t leaf[32];
                prc = ldg_entry_decode_rec(m, sn, prev, &pe, 0);
                assert_int_equal(prc == 0, wrc == 0);
                if (prc == 0) {
                    assert_memory_equal(pe.leaf, we.leaf, 32);
                    assert_memory_equal(pe.prev, prev, 32);
                    memcpy(leaf, pe.leaf, 32);
                    memset(pe.leaf, 0, 32);
                    same_event(&we, &pe, 0);
                    memcpy(pe.leaf, leaf, 32);
                }
            }
            if (i < sn * 8)
                m[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
    }
    free(m);
}

static void
test_stored__sealed_entries_are_read_in_place_as_whole(void **state)
{
    static const struct ldg_source src = {1000, 1000, 4242, "/usr/bin/x",
                                          "x.service"};
    uint8_t *prev, claim[1024], e[LDG_ENTRY_MAX], st[LDG_ENTRY_MAX];
    size_t cn, en, sn;
    struct ldg_claim c;
    struct ldg_stamp s;
    uint8_t *v;
    size_t vn;
    (void)state;
    assert_int_equal(bytes("sealed.prev", &prev), 32);
    /* the vector's entry, then claims with every optional key and a
     * stamp with a source (the trusted reader's way out) */
    vn = bytes("sealed.stored", &v);
    check_in_place(v, vn, prev);
    free(v);
    vn = bytes("sealed.stored7", &v);
    check_in_place(v, vn, prev);
    free(v);
    vn = bytes("sealed.stored8", &v);
    check_in_place(v, vn, prev);
    free(v);
    for (int k = 0; k < 2; k++) {
        memset(&c, 0, sizeof c);
        memcpy(c.actor, "0123456789abcdef", 17);
        memset(c.body, 0x5a, 32);
        c.id = "req-1";
        c.id_len = k ? 5 : 0;
        c.has_parent = k;
        c.parent = 7;
        c.run = "r-42";
        c.run_len = 4;
        c.subject = "model/x";
        c.subject_len = 7;
        c.has_time = k;
        c.time_ns = 1700000000000000000ull;
        c.type = "run.step";
        c.type_len = 8;
        assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
        memset(&s, 0, sizeof s);
        ldg_claim_digest(s.digest, claim, cn);
        s.leaf = 2;
        s.seal = 40;
        s.seq = 42;
        s.ts = 1700000000123456789ull;
        s.source = k ? &src : NULL;
        assert_int_equal(
            ldg_entry2_encode(e, sizeof e, &en, claim, cn, &s, prev), 0);
        for (int d = 0; d < 3; d++) {
            assert_int_equal(ldg_entry_stored(e, en, d, st, sizeof st, &sn), 0);
            check_in_place(st, sn, prev);
        }
    }
    free(prev);
}

/* A ledger whose bodies repeat a secret far more often than a dictionary
 * needs to learn a value: the dictionary holds none of it, and once
 * erased, the body's record (its seed with it) is gone. */
static void
test_stored__a_dictionary_holds_nothing_an_erase_removes(void **state)
{
    char dir[512], body[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    const struct ldg_dicts *d;
    const uint8_t *p;
    size_t n;
    uint64_t target = 0;
    static const char secret[] = "alice.secret@example.org";
    (void)state;
    for (int i = 0; i < LDG_DICT_FIRST + 300; i++) {
        snprintf(body, sizeof body,
                 "{\"run\":\"R-%d\",\"step\":\"s\",\"tool\":\"t\","
                 "\"status\":\"ok\",\"email\":\"%s\",\"n\":%d}",
                 i % 7, secret, i);
        uint64_t s = t_append(l, "run.step", body, NULL);
        if (i == LDG_DICT_FIRST + 200)
            target = s;
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    d = ldg_txn_dicts(t);
    assert_non_null(d);
    assert_int_equal(ldg_dicts_get(d, 1, &p, &n), 0);
    /* names and the vocabulary's words are in it; the secret never */
    assert_non_null(memmem(p, n, "status", 6));
    assert_null(memmem(p, n, secret, strlen(secret)));
    assert_null(memmem(p, n, "alice", 5));
    ldg_txn_abort(t);
    /* the record of a body after the dictionary: seeded (compressed with
     * it when that is smaller) */
    {
        uint8_t rec[4096];
        size_t rn = t_raw_stored_get(l, "bodies", target, rec, sizeof rec);
        assert_true(rn > 1 + LDG_SEED_LEN);
        assert_true(rec[0] == 0x05 || (rec[0] == 0x06 && rec[17] == 1));
    }
    /* a map of 32 bytes or less is not tried (25 bytes here, all of it
     * words the dictionary holds); the same words past 32 bytes are */
    {
        uint8_t rec[4096];
        uint64_t small = t_append(l, "x.small",
                                  "{\"status\":\"ok\",\"tool\":\"t\","
                                  "\"step\":\"s\"}",
                                  NULL);
        uint64_t big = t_append(l, "x.small",
                                "{\"status\":\"ok\",\"tool\":\"t\","
                                "\"step\":\"s\",\"run\":\"R-1\",\"n\":5}",
                                NULL);
        size_t rn = t_raw_stored_get(l, "bodies", small, rec, sizeof rec);
        assert_int_equal(rn, 1 + LDG_SEED_LEN + 25);
        assert_int_equal(rec[0], 0x05);
        rn = t_raw_stored_get(l, "bodies", big, rec, sizeof rec);
        assert_true(rn > 1 + LDG_SEED_LEN);
        assert_int_equal(rec[0], 0x06);
        assert_int_equal(rec[17], 1);
    }
    snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"gdpr\"}",
             (unsigned long long)target);
    t_append(l, "body.erased", body, NULL);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    {
        json_t *b = NULL;
        struct ldg_val v;
        ldg_dbi bodies;
        uint8_t k[8];
        assert_int_equal(ldg_body_get(t, target, &b), LDG_EERASED);
        ldg_be64(k, target);
        assert_int_equal(ldg_db_open(t, "bodies5", 0, &bodies), 0);
        assert_int_equal(ldg_kv_get(t, bodies, k, 8, &v), LDG_ENOTFOUND);
    }
    ldg_txn_abort(t);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    }
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored__seed_salts_are_the_vectors),
        cmocka_unit_test(test_stored__a_seeded_record_is_the_vector),
        cmocka_unit_test(test_stored__every_record_kind_gives_its_commitment),
        cmocka_unit_test(test_stored__a_frame_states_its_size_and_is_one),
        cmocka_unit_test(test_stored__the_sealed_forms_convert_every_way),
        cmocka_unit_test(
            test_stored__a_layout8_record_holds_a_cut_sealed_record_only),
        cmocka_unit_test(test_stored__a_stored_digest_is_read_not_derived),
        cmocka_unit_test(test_stored__malformed_digest_pairs_are_refused),
        cmocka_unit_test(test_stored__a_dictionary_frame_has_raw_literals),
        cmocka_unit_test(
            test_stored__sealed_entries_are_read_in_place_as_whole),
        cmocka_unit_test(
            test_stored__entries_lose_and_regain_their_derived_bytes),
        cmocka_unit_test(
            test_stored__a_dictionary_holds_nothing_an_erase_removes),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
