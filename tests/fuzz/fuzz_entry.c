/*
 * fuzz_entry.c — libFuzzer target for the entry decoder (ldg_event_decode,
 * ledger/codec.c): arbitrary bytes in; no crash, no undefined behaviour,
 * and when the bytes decode, the decoded event obeys the format:
 *
 *   - strict: one byte more or one byte less never decodes;
 *   - canonical: encoding the decoded fields again (ldg_entry_encode and
 *     ldg_entry_finish, the writer's own encoder) gives the very same
 *     bytes, so every event has exactly one encoding;
 *   - the envelope's strings fit their limits and hold no NUL; the actor
 *     is a 16-digit key id;
 *   - entry/signed_part point into the input; leaf = SHA-256(0x00 ‖ entry);
 *   - decoding is deterministic; signature checking never crashes;
 *   - a sealed entry (ledger format 2, FORMAT.md 3.2) re-encodes from its
 *     decoded claim and stamp (ldg_claim_encode, ldg_entry2_encode) to the
 *     same bytes, and its claim is what signed_part points at.
 *
 * Built with tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined)
 * and compiled into tests/ledger/test_fuzz_regress.c, which runs every
 * corpus file through it under cmocka: there FUZZ_ENTRY names the function
 * and FUZZ_ASSERT is a cmocka assertion.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/record_int.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

static int
entry_str_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n <= max;
}

/* Encodes ev again with the writer's encoder; 0 if the bytes match. */
static int
entry_reencode_matches(const struct ldg_event *ev, const uint8_t *data,
                       size_t size)
{
    struct ldg_envelope env;
    struct ldg_source src;
    struct ldg_buf b;
    char id[LDG_ID_MAX + 1], exe[LDG_EXE_MAX + 1], unit[LDG_UNIT_MAX + 1];
    size_t map_len = 0;
    int rc, same;

    memset(&env, 0, sizeof env);
    /* format version 2: the decoded strings point into the entry */
    FUZZ_ASSERT(ev->id_len <= LDG_ID_MAX && ev->src_exe_len <= LDG_EXE_MAX &&
                ev->src_unit_len <= LDG_UNIT_MAX);
    memcpy(id, ev->id ? ev->id : "", ev->id_len);
    id[ev->id_len] = '\0';
    env.id = id;
    env.has_time = ev->has_time;
    env.time_ns = ev->time_ns;
    if (ev->has_source) {
        memcpy(exe, ev->src_exe ? ev->src_exe : "", ev->src_exe_len);
        exe[ev->src_exe_len] = '\0';
        memcpy(unit, ev->src_unit ? ev->src_unit : "", ev->src_unit_len);
        unit[ev->src_unit_len] = '\0';
        src.uid = ev->src_uid;
        src.gid = ev->src_gid;
        src.pid = ev->src_pid;
        src.exe = ev->src_exe_len ? exe : NULL;
        src.unit = ev->src_unit_len ? unit : NULL;
        env.source = &src;
    }
    env.seq = ev->seq;
    env.ts_ns = ev->ts_ns;
    env.type = ev->type;
    env.subject = ev->subject;
    env.run = ev->run;
    env.actor = ev->actor;
    env.has_parent = ev->has_parent;
    env.parent = ev->parent;
    memcpy(env.body_root, ev->body_root, 32);
    ldg_buf_init(&b, LDG_ENTRY_MAX);
    rc = ldg_entry_encode(&b, &env, &map_len);
    if (rc == 0)
        rc = ldg_entry_finish(&b, ev->prev, ev->sig);
    same = rc == 0 && b.len == size && memcmp(b.p, data, size) == 0 &&
           map_len == ev->signed_len;
    ldg_buf_release(&b);
    return same;
}

/* A sealed entry: claim and stamp encoded again give the same bytes. */
static int
sealed_reencode_matches(const struct ldg_event *ev, const uint8_t *data,
                        size_t size)
{
    struct ldg_claim c;
    struct ldg_stamp st;
    struct ldg_source src;
    char exe[LDG_EXE_MAX + 1], unit[LDG_UNIT_MAX + 1];
    uint8_t *claim = malloc(LDG_ENTRY_MAX), *out = malloc(LDG_ENTRY_MAX);
    size_t cn = 0, on = 0;
    int same = 0;

    FUZZ_ASSERT(claim != NULL && out != NULL);
    if (ldg_claim_decode(ev->signed_part, ev->signed_len, &c) != 0 ||
        ldg_claim_encode(&c, claim, LDG_ENTRY_MAX, &cn) != 0 ||
        cn != ev->signed_len || memcmp(claim, ev->signed_part, cn) != 0)
        goto out;
    memset(&st, 0, sizeof st);
    memcpy(st.digest, ev->digest, 32);
    st.leaf = ev->seal_leaf;
    st.seal = ev->seal_seq;
    st.seq = ev->seq;
    st.ts = ev->ts_ns;
    if (ev->has_source) {
        memcpy(exe, ev->src_exe ? ev->src_exe : "", ev->src_exe_len);
        exe[ev->src_exe_len] = '\0';
        memcpy(unit, ev->src_unit ? ev->src_unit : "", ev->src_unit_len);
        unit[ev->src_unit_len] = '\0';
        src.uid = ev->src_uid;
        src.gid = ev->src_gid;
        src.pid = ev->src_pid;
        src.exe = ev->src_exe_len ? exe : NULL;
        src.unit = ev->src_unit_len ? unit : NULL;
        st.source = &src;
    }
    same = ldg_entry2_encode(out, LDG_ENTRY_MAX, &on, claim, cn, &st,
                             ev->prev) == 0 &&
           on == size && memcmp(out, data, size) == 0;
out:
    free(claim);
    free(out);
    return same;
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_event ev, again;
    uint8_t *copy, leaf[32];
    int rc;

    rc = ldg_event_decode(data, size, &ev);
    if (rc != 0) {
        /* Outside bytes are corrupt or of another version. */
        FUZZ_ASSERT(rc == LDG_ECORRUPT || rc == LDG_EVERSION);
        return 0;
    }
    FUZZ_ASSERT(size <= LDG_ENTRY_MAX);
    FUZZ_ASSERT(ev.entry == data && ev.entry_len == size);
    FUZZ_ASSERT(ev.signed_part == data + 1);
    if (!ev.sealed) {
        FUZZ_ASSERT(size >= LDG_ENTRY_OVERHEAD);
        FUZZ_ASSERT(ev.signed_len + LDG_ENTRY_OVERHEAD == size);
    } else {
        FUZZ_ASSERT(ev.signed_len + 1 + 34 < size);
        FUZZ_ASSERT(ev.seal_seq <= ev.seq);
    }
    FUZZ_ASSERT(entry_str_ok(ev.type, LDG_TYPE_MAX));
    FUZZ_ASSERT(entry_str_ok(ev.subject, LDG_SUBJECT_MAX));
    FUZZ_ASSERT(entry_str_ok(ev.run, LDG_RUN_MAX));
    FUZZ_ASSERT(strnlen(ev.actor, sizeof ev.actor) == LDG_KEYID_LEN);

    /* leaf = SHA-256(0x00 ‖ entry) */
    copy = malloc(size + 1);
    FUZZ_ASSERT(copy != NULL);
    copy[0] = 0x00;
    memcpy(copy + 1, data, size);
    ldg_sha256(leaf, copy, size + 1);
    FUZZ_ASSERT(memcmp(leaf, ev.leaf, 32) == 0);

    /* Deterministic. */
    FUZZ_ASSERT(ldg_event_decode(data, size, &again) == 0);
    FUZZ_ASSERT(again.seq == ev.seq && again.ts_ns == ev.ts_ns &&
                strcmp(again.type, ev.type) == 0 &&
                memcmp(again.sig, ev.sig, 64) == 0);

    /* Strict length: one byte less or one more never decodes. */
    FUZZ_ASSERT(ldg_event_decode(data, size - 1, &again) != 0);
    memcpy(copy, data, size);
    copy[size] = 0xc0; /* nil */
    FUZZ_ASSERT(ldg_event_decode(copy, size + 1, &again) != 0);
    free(copy);

    /* One encoding per event. */
    if (ev.sealed) {
        FUZZ_ASSERT(sealed_reencode_matches(&ev, data, size));
        /* a sealed entry has no signature of its own */
        FUZZ_ASSERT(ldg_event_verify_sig(&ev, ev.body_root) == LDG_EBADSIG);
        return 0;
    }
    FUZZ_ASSERT(entry_reencode_matches(&ev, data, size));

    /* A signature check is a yes or no, whatever the bytes. */
    rc = ldg_event_verify_sig(&ev, ev.body_root);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADSIG);
    return 0;
}
