/*
 * cosig.c — C2SP tlog-cosignature/v1 (c2sp.org/tlog-cosignature), Ed25519.
 *
 * A witness's cosignature is one more signature line on a checkpoint note:
 *
 *     — witness.example/w1 base64( key ID [4] ‖ time [8] ‖ sig [64] )
 *
 *     key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pub)[0:4]  (0x04: cosignature)
 *     time   = POSIX seconds, big-endian, < 2^63
 *     sig    = Ed25519 over
 *                  "cosignature/v1\n"
 *                  "time <decimal time>\n"
 *                  <the checkpoint text, every line, with its final '\n'>
 *
 * The verifier key is "name+<8 hex of key ID>+base64(0x04 ‖ pub)", the
 * signed-note vkey form with the cosignature type byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/ledger.h"
#include "ledger/tlog_int.h"

#define ALG_COSIG 0x04
#define RAW_LEN (4 + 8 + 64) /* key ID, time, signature */
#define RAW_B64_LEN 104
#define KEY_B64_LEN 44
#define COSIG_NOTE_MAX (1 << 20)
#define TIME_MAX ((uint64_t)1 << 63)

static const char em_dash[] = "\xe2\x80\x94";

static uint32_t
cosig_key_id(const char *name, size_t n, const uint8_t pub[32])
{
    return ldg_note_key_id_alg(name, n, ALG_COSIG, pub);
}

int
ldg_cosig_verifier(char *buf, size_t cap, const char *name,
                   const uint8_t pub[32])
{
    return ldg_note_vkey_format(buf, cap, name, ALG_COSIG, pub);
}

int
ldg_cosig_parse_verifier(const char *vkey, char *name, size_t name_cap,
                         uint8_t pub[32])
{
    const char *plus, *b64;
    uint8_t key[33];
    char idhex[9], tmp[LDG_ORIGIN_MAX + 1];
    unsigned long id;
    char *end;
    size_t nlen;

    if (vkey == NULL || name == NULL || pub == NULL)
        return LDG_EINVAL;
    plus = strchr(vkey, '+');
    if (plus == NULL || (size_t)(plus - vkey) > LDG_ORIGIN_MAX)
        return LDG_EBADINPUT;
    nlen = (size_t)(plus - vkey);
    memcpy(tmp, vkey, nlen);
    tmp[nlen] = '\0';
    if (!ldg_note_name_valid(tmp) || strlen(plus + 1) < 9 || plus[9] != '+')
        return LDG_EBADINPUT;
    memcpy(idhex, plus + 1, 8);
    idhex[8] = '\0';
    for (int i = 0; i < 8; i++)
        if (!strchr("0123456789abcdefABCDEF", idhex[i]))
            return LDG_EBADINPUT;
    id = strtoul(idhex, &end, 16);
    b64 = plus + 10;
    if (strlen(b64) != KEY_B64_LEN ||
        ldg_unbase64(key, sizeof key, b64, KEY_B64_LEN) < 0 ||
        key[0] != ALG_COSIG || cosig_key_id(tmp, nlen, key + 1) != id)
        return LDG_EBADINPUT;
    if (nlen + 1 > name_cap)
        return LDG_EBADINPUT;
    memcpy(name, tmp, nlen + 1);
    memcpy(pub, key + 1, 32);
    return 0;
}

/* "cosignature/v1\ntime T\n" ‖ text, malloc'd. */
static uint8_t *
signed_message(const char *text, size_t text_len, uint64_t time_s, size_t *len)
{
    char head[64];
    int hl = snprintf(head, sizeof head, "cosignature/v1\ntime %llu\n",
                      (unsigned long long)time_s);
    uint8_t *m = malloc((size_t)hl + text_len);

    if (m == NULL)
        return NULL;
    memcpy(m, head, (size_t)hl);
    memcpy(m + hl, text, text_len);
    *len = (size_t)hl + text_len;
    return m;
}

int
ldg_cosig_sign(char **line, const char *text, size_t text_len, const char *name,
               const struct ldg_key *key, uint64_t time_s)
{
    uint8_t raw[RAW_LEN], *msg;
    char b64[RAW_B64_LEN + 1];
    uint32_t id;
    size_t mlen, nlen, cap;
    int rc;

    if (line == NULL)
        return LDG_EINVAL;
    *line = NULL;
    if (text == NULL || key == NULL || key->sk == NULL ||
        !ldg_note_name_valid(name) || text_len == 0 ||
        text[text_len - 1] != '\n' || time_s >= TIME_MAX)
        return LDG_EINVAL;
    msg = signed_message(text, text_len, time_s, &mlen);
    if (msg == NULL)
        return LDG_ENOMEM;
    id = cosig_key_id(name, strlen(name), key->pub);
    ldg_be32(raw, id);
    ldg_be64(raw + 4, time_s);
    rc = ldg_ed25519_sign_raw(raw + 12, msg, mlen, key);
    free(msg);
    if (rc < 0)
        return rc;
    ldg_base64(b64, raw, sizeof raw);
    nlen = strlen(name);
    cap = 3 + 1 + nlen + 1 + RAW_B64_LEN + 2;
    *line = malloc(cap);
    if (*line == NULL)
        return LDG_ENOMEM;
    snprintf(*line, cap, "%s %s %s\n", em_dash, name, b64);
    return 0;
}

/*
 * The note's text ends at its last "\n\n" (ldg_note_text_len); every
 * line after it is a signature line "— name base64". Lines by other
 * keys (another name or key ID, e.g. the log's own signature) are
 * skipped; each must still be well formed.
 */
int
ldg_cosig_verify(const char *note, size_t len, const char *vkey,
                 uint64_t *time_s)
{
    char name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    const char *sigs = NULL, *p, *end = note + len;
    size_t nlen, tlen;
    uint32_t id;
    int found = 0, rc;

    if (note == NULL || vkey == NULL)
        return LDG_EINVAL;
    if (ldg_cosig_parse_verifier(vkey, name, sizeof name, pub) < 0)
        return LDG_EBADINPUT;
    if (len < 2 || len > COSIG_NOTE_MAX || end[-1] != '\n')
        return LDG_EBADINPUT;
    if ((tlen = ldg_note_text_len(note, len)) == 0 ||
        (sigs = note + tlen + 1) == end)
        return LDG_EBADINPUT;
    nlen = strlen(name);
    id = cosig_key_id(name, nlen, pub);
    for (p = sigs; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp, *b64;
        uint8_t raw[RAW_LEN], *msg;
        uint64_t t = 0;
        uint32_t sid = 0;
        size_t ll = (size_t)(nl - p), mlen;

        if (ll < 5 || memcmp(p, em_dash, 3) != 0 || p[3] != ' ')
            return LDG_EBADINPUT;
        sp = memchr(p + 4, ' ', ll - 4);
        if (sp == NULL)
            return LDG_EBADINPUT;
        b64 = sp + 1;
        if ((size_t)(sp - (p + 4)) != nlen || memcmp(p + 4, name, nlen) != 0 ||
            (size_t)(nl - b64) != RAW_B64_LEN ||
            ldg_unbase64(raw, RAW_LEN, b64, RAW_B64_LEN) < 0) {
            p = nl + 1; /* someone else's line (or another type's) */
            continue;
        }
        sid = ldg_rd_be32(raw);
        if (sid != id) {
            p = nl + 1;
            continue;
        }
        t = ldg_rd_be64(raw + 4);
        if (t >= TIME_MAX)
            return LDG_EBADSIG;
        msg = signed_message(note, tlen, t, &mlen);
        if (msg == NULL)
            return LDG_ENOMEM;
        rc = ldg_ed25519_verify_raw(raw + 12, msg, mlen, pub);
        free(msg);
        if (rc < 0)
            return LDG_EBADSIG;
        if (time_s != NULL && (!found || t > *time_s))
            *time_s = t;
        found = 1;
        p = nl + 1;
    }
    return found ? 0 : LDG_ENOTFOUND;
}

int
ldg_cosig_count(const char *note, size_t len, const char *const *vkeys,
                size_t n, int *cosigned)
{
    int count = 0;

    if (note == NULL || (vkeys == NULL && n > 0))
        return LDG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = ldg_cosig_verify(note, len, vkeys[i], NULL);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        if (cosigned != NULL)
            cosigned[i] = rc == 0;
        count += rc == 0;
    }
    return count;
}
