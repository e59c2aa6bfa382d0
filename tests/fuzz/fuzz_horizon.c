/*
 * fuzz_horizon.c — libFuzzer target for the horizon record (FORMAT.md 6.2,
 * ledger/horizon.c): what a bundle from a pruned ledger carries as its
 * member "horizon", decoded by ldg_horizon_parse. Arbitrary bytes in; no
 * crash, no undefined behaviour, and:
 *
 *   - parse answers 0 or LDG_ECORRUPT (LDG_ENOMEM aside); a refusal leaves
 *     nothing to release (no keys);
 *   - strict: one byte less never decodes;
 *   - canonical: what decodes is one msgpack object of exactly these
 *     bytes, array(2) of the map and bin8(64), that msgpack-c packs again
 *     to the same bytes (shortest forms only); keys in increasing key id
 *     (FORMAT.md 6.2), so that a record has one encoding;
 *   - the decoded record obeys the format: seq > 0, first < seq, at most
 *     LDG_HORIZON_KEYS_MAX keys, each a 16-digit lowercase hex id, a name
 *     of 1..64 bytes, strings NUL-terminated within their arrays; an
 *     epoch part only on an anchored key, whole and checkable from its
 *     anchor without harm (FORMAT.md 6.2, "epoch");
 *   - ldg_horizon_check_sig, with the record's own log key (the key added
 *     at 0) and with a key of ours, answers 0 or LDG_EBADSIG: a record
 *     that decodes can always be encoded again to check it;
 *   - ldg_horizon_describe writes a NUL-terminated text within its buffer,
 *     a short one too.
 *
 * Known bugs (excused under -DFUZZ_TOLERATE_KNOWN, reproducers in
 * tests/fuzz/corpus_horizon/known-*): the decoder takes keys out of key id
 * order (or the same id twice), and ldg_horizon_check_sig answers
 * LDG_ETOOBIG for a record of long names and roles that decodes (its
 * buffer estimate, map_cap, is below the largest key map).
 *
 * Built by tests/fuzz/run.sh; tests/ledger/test_fuzz_regress.c runs the
 * corpus (tests/fuzz/corpus_horizon/) through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/epoch_int.h"
#include "ledger/module.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* 1 when msgpack-c reads data as one object, array(2) of a map and a
 * 64-byte bin, and packs it again to the very same bytes. */
static int
horizon_repacks(const uint8_t *data, size_t size)
{
    msgpack_unpacked u;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t off = 0;
    int same = 0;

    msgpack_unpacked_init(&u);
    msgpack_sbuffer_init(&sb);
    if (msgpack_unpack_next(&u, (const char *)data, size, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        off == size && u.data.type == MSGPACK_OBJECT_ARRAY &&
        u.data.via.array.size == 2 &&
        u.data.via.array.ptr[0].type == MSGPACK_OBJECT_MAP &&
        u.data.via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
        u.data.via.array.ptr[1].via.bin.size == 64) {
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (msgpack_pack_object(&pk, u.data) == 0 && sb.size == size &&
            memcmp(sb.data, data, size) == 0)
            same = 1;
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&u);
    return same;
}

static int
horizon_str_ok(const char *s, size_t cap, size_t min)
{
    size_t n = strnlen(s, cap);
    return n < cap && n >= min;
}

static void
horizon_check_fields(const struct ldg_horizon *h)
{
    FUZZ_ASSERT(h->seq > 0 && h->first < h->seq);
    FUZZ_ASSERT(h->nkeys <= LDG_HORIZON_KEYS_MAX);
    FUZZ_ASSERT(h->keys != NULL);
    FUZZ_ASSERT(h->record == NULL && h->record_len == 0);
    FUZZ_ASSERT(horizon_str_ok(h->origin, sizeof h->origin, 1));
    for (size_t i = 0; i < h->nkeys; i++) {
        const struct ldg_horizon_key *k = &h->keys[i];
        FUZZ_ASSERT(strnlen(k->key_id, sizeof k->key_id) == LDG_KEYID_LEN);
        for (size_t j = 0; j < LDG_KEYID_LEN; j++)
            FUZZ_ASSERT((k->key_id[j] >= '0' && k->key_id[j] <= '9') ||
                        (k->key_id[j] >= 'a' && k->key_id[j] <= 'f'));
        FUZZ_ASSERT(horizon_str_ok(k->name, sizeof k->name, 1));
        FUZZ_ASSERT(horizon_str_ok(k->roles, sizeof k->roles, 0));
        FUZZ_ASSERT(horizon_str_ok(k->held, sizeof k->held, 0));
#ifndef FUZZ_TOLERATE_KNOWN
        /* FORMAT.md 6.2: "in increasing key id" */
        if (i > 0)
            FUZZ_ASSERT(strcmp(h->keys[i - 1].key_id, k->key_id) < 0);
#endif
    }
}

/* The record's log key: the key added at 0 (NULL when none is). */
static const uint8_t *
horizon_log_pub(const struct ldg_horizon *h)
{
    for (size_t i = 0; i < h->nkeys; i++)
        if (h->keys[i].added == 0)
            return h->keys[i].pub;
    return NULL;
}

static void
horizon_check_sig_answers(const struct ldg_horizon *h, const uint8_t pub[32])
{
    int rc = ldg_horizon_check_sig(h, pub);
#ifdef FUZZ_TOLERATE_KNOWN
    if (rc == LDG_ETOOBIG)
        return;
#endif
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADSIG || rc == LDG_ENOMEM);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    /* a key of ours: the public key of the all-0x01 seed */
    static const uint8_t other[32] = {
        0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb,
        0x2d, 0x3c, 0xba, 0x5d, 0x72, 0xca, 0x67, 0x09, 0xbf, 0x1d, 0x94,
        0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c};
    struct ldg_horizon h, h2;
    const uint8_t *pub;
    char text[1024], small[12];
    int rc;

    rc = ldg_horizon_parse(data, size, &h);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ECORRUPT || rc == LDG_ENOMEM);
    if (rc != 0) {
        FUZZ_ASSERT(h.keys == NULL && h.nkeys == 0);
        ldg_horizon_release(&h); /* harmless on a refusal */
        return 0;
    }
    horizon_check_fields(&h);
    FUZZ_ASSERT(horizon_repacks(data, size));
    /* an anchored key's chain is checked from its anchor, or refused */
    for (size_t i = 0; i < h.nkeys; i++) {
        struct ldg_epoch_chain *c;
        char err[256];
        if (!h.keys[i].anchored)
            continue;
        FUZZ_ASSERT((c = malloc(sizeof *c)) != NULL);
        rc = ldg_epoch_chain_from_horizon(&h.keys[i], c, err, sizeof err);
        FUZZ_ASSERT(rc == 0 || rc == LDG_EBADSIG);
        free(c);
    }
    if (size > 0) {
        rc = ldg_horizon_parse(data, size - 1, &h2);
        FUZZ_ASSERT(rc != 0 && h2.keys == NULL);
    }
    /* deterministic: the same bytes decode to the same keys (an anchored
     * key's epoch part compared by its bytes, not its pointer) */
    FUZZ_ASSERT(ldg_horizon_parse(data, size, &h2) == 0);
    FUZZ_ASSERT(h2.nkeys == h.nkeys && h2.seq == h.seq &&
                memcmp(h2.sig, h.sig, 64) == 0);
    for (size_t i = 0; i < h.nkeys; i++) {
        struct ldg_horizon_key a = h.keys[i], b = h2.keys[i];
        FUZZ_ASSERT(a.epoch_len == b.epoch_len &&
                    (a.epoch_len == 0 ||
                     memcmp(a.epoch, b.epoch, a.epoch_len) == 0));
        FUZZ_ASSERT(a.anchored || a.epoch_len == 0);
        a.epoch = b.epoch = NULL;
        FUZZ_ASSERT(memcmp(&a, &b, sizeof a) == 0);
    }
    ldg_horizon_release(&h2);

    if ((pub = horizon_log_pub(&h)) != NULL)
        horizon_check_sig_answers(&h, pub);
    horizon_check_sig_answers(&h, other);

    ldg_horizon_describe(&h, text, sizeof text);
    FUZZ_ASSERT(strnlen(text, sizeof text) < sizeof text);
    FUZZ_ASSERT(strncmp(text, "events 0..", 10) == 0);
    ldg_horizon_describe(&h, small, sizeof small);
    FUZZ_ASSERT(strnlen(small, sizeof small) == sizeof small - 1);
    ldg_horizon_release(&h);
    FUZZ_ASSERT(h.keys == NULL && h.nkeys == 0);
    return 0;
}
