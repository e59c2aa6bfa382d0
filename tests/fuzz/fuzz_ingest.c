/*
 * fuzz_ingest.c — libFuzzer target for one JSON Lines input line:
 * ldg_ingest_parse_line (ingest/ingest.c), then ldg_vocab_check and
 * ldg_vocab_subject (ledger/vocab.c) on what it parsed, then the body's
 * canonical msgpack round trip (ledger/codec.c). Arbitrary bytes in; no
 * crash, no undefined behaviour, and:
 *
 *   - a refused line gets LDG_EBADINPUT or LDG_ETOOBIG, a message and a
 *     column >= 1, and nothing to free;
 *   - an accepted line has a type and an object body, and its strings
 *     hold no NUL;
 *   - the vocabulary check gives 0 or LDG_EBADINPUT/LDG_ETOOBIG with a
 *     message; a derived subject is "kind:name" or the body's target;
 *   - a body that encodes (within 1 MiB and the nesting limit) decodes
 *     back to an equal JSON value, and encoding is deterministic.
 *
 * See fuzz_entry.c for how this file is also built into the cmocka
 * regression test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ledger/record_int.h"
#include "util/util.h"

#include "tests/fuzz/fuzz.h"

#define INGEST_BODY_MAX (1024 * 1024)

int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* ldg_msgpack_to_json once dropped an empty object key or failed on an
 * empty string value (FUZZ_TOLERATE_KNOWN excused it here); fixed, so a
 * body must round-trip exactly. */

static void
ingest_check_body(const json_t *body)
{
    uint8_t *mp = NULL, *mp2 = NULL;
    size_t len = 0, len2 = 0;
    json_t *back = NULL;
    int rc = ldg_json_to_msgpack(body, INGEST_BODY_MAX, &mp, &len);
    if (rc != 0) {
        /* too big or too deep */
        FUZZ_ASSERT(rc == LDG_ETOOBIG);
        return;
    }
    FUZZ_ASSERT(ldg_json_to_msgpack(body, INGEST_BODY_MAX, &mp2, &len2) == 0);
    FUZZ_ASSERT(len == len2 && memcmp(mp, mp2, len) == 0);
    rc = ldg_msgpack_to_json(mp, len, &back);
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(json_equal(back, (json_t *)(uintptr_t)body));
    json_decref(back);
    free(mp);
    free(mp2);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_event_in ev;
    json_t *holder = NULL;
    char msg[600], err[512], subject[LDG_SUBJECT_MAX + 1];
    int col = 0, rc;

    msg[0] = '\0';
    if (ldg_ingest_is_sealed((const char *)data, size)) {
        /* a sealed batch: the strict parse, then every event's claim as
         * the ledger would rebuild it (ldg_sealed_claim) */
        struct ldg_sealed_batch *sb = NULL;
        static uint8_t claim[LDG_ENTRY_MAX];
        uint8_t d[32];
        size_t clen;
        rc = ldg_ingest_parse_sealed((const char *)data, size, &sb, &col, msg,
                                     sizeof msg);
        if (rc != 0) {
            FUZZ_ASSERT(rc == LDG_EBADINPUT || rc == LDG_ETOOBIG ||
                        rc == LDG_ENOMEM);
            FUZZ_ASSERT(sb == NULL);
            FUZZ_ASSERT(col >= 1 && msg[0] != '\0');
            return 0;
        }
        FUZZ_ASSERT(sb != NULL && sb->n == sb->count && sb->n >= 1);
        for (size_t i = 0; i < sb->n; i++) {
            struct ldg_claim c;
            err[0] = '\0';
            rc = ldg_sealed_claim(&sb->ev[i].in, sb->ev[i].salts, sb->key_id,
                                  INGEST_BODY_MAX, claim, sizeof claim, &clen,
                                  d, err, sizeof err);
            FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
            FUZZ_ASSERT(rc == 0 || err[0] != '\0');
            if (rc == 0) {
                /* what it encodes decodes back, canonically */
                FUZZ_ASSERT(ldg_claim_decode(claim, clen, &c) == 0);
                FUZZ_ASSERT(strcmp(c.actor, sb->key_id) == 0);
            }
        }
        ldg_sealed_batch_free(sb);
        return 0;
    }
    rc = ldg_ingest_parse_line((const char *)data, size, INGEST_BODY_MAX, &ev,
                               &holder, &col, msg, sizeof msg);
    if (rc != 0) {
        FUZZ_ASSERT(rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
        FUZZ_ASSERT(holder == NULL);
        FUZZ_ASSERT(col >= 1);
        FUZZ_ASSERT(msg[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(holder != NULL);
    FUZZ_ASSERT(ev.type != NULL && json_is_object(ev.body));
    FUZZ_ASSERT(ev.subject == NULL || strlen(ev.subject) < size);
    err[0] = '\0';
    rc = ldg_vocab_check(ev.type, ev.body, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
    FUZZ_ASSERT(rc == 0 || err[0] != '\0');
    if (rc == 0) {
        rc = ldg_vocab_subject(ev.type, ev.body, subject, sizeof subject);
        FUZZ_ASSERT(rc == 0 || rc == LDG_ETOOBIG);
        if (rc == 0)
            FUZZ_ASSERT(subject[0] != '\0');
        ingest_check_body(ev.body);
    }
    json_decref(holder);
    return 0;
}
