/*
 * note.c — C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and
 * the checkpoint body they carry (c2sp.org/tlog-checkpoint).
 *
 * A signed note, byte for byte:
 *
 *     example.com/log\n          ┐
 *     42\n                       │ text: signed exactly as is, ends in \n
 *     qT6k...base64...=\n        ┘
 *     \n                         the separator (the note's last empty line)
 *     — example.com/log AbCd...  one line per signature:
 *                                U+2014 (E2 80 94), ' ', key name, ' ',
 *                                base64(key ID [4, big-endian] ‖ sig [64])
 *
 * Key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pub)[0:4], 0x01 naming Ed25519.
 * The verifier key is "name+<8 hex of key ID>+base64(0x01 ‖ pub)", as Go's
 * golang.org/x/mod/sumdb/note writes it, so the two interoperate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/ledger.h"
#include "ledger/tlog_int.h"
#include "util/util.h"

#define ALG_ED25519 0x01
#define SIG_LEN 64
#define KEY_B64_LEN 44    /* base64 of 0x01 ‖ pub (33 bytes) */
#define SIG_B64_LEN 92    /* base64 of key ID ‖ sig (68 bytes) */
#define NOTE_SIGS_MAX 100 /* the spec asks for at least 16 */
#define NOTE_MAX (1 << 20)
#define ROOT_B64_LEN 44

static const char em_dash[] = "\xe2\x80\x94"; /* U+2014 */

/*
 * Decodes one UTF-8 sequence at s (n bytes available) into *cp; returns
 * its length, or 0 if it is not well formed (overlong, surrogate, beyond
 * U+10FFFF, truncated) — the same set Go's utf8.DecodeRune rejects.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Go's unicode.IsSpace, which is what "Unicode spaces" means for names. */
static int
is_unicode_space(uint32_t c)
{
    switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200a;
    }
}

/* Valid UTF-8 with no control character other than '\n' (the rule for
 * the whole of a signed note). */
static int
note_chars_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        uint32_t c;
        size_t len = utf8_decode(p + i, n - i, &c);
        if (len == 0 || (c < 0x20 && c != '\n'))
            return 0;
        i += len;
    }
    return 1;
}

static int
name_valid_n(const char *name, size_t n)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t i = 0;

    if (n == 0)
        return 0;
    while (i < n) {
        uint32_t c;
        size_t len = utf8_decode(p + i, n - i, &c);
        if (len == 0 || c < 0x20 || c == '+' || is_unicode_space(c))
            return 0;
        i += len;
    }
    return 1;
}

int
ldg_note_name_valid(const char *name)
{
    return name != NULL && name_valid_n(name, strlen(name));
}

int
ldg_origin_valid(const char *o)
{
    size_t n = o ? strlen(o) : 0;
    if (n == 0 || n > LDG_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (o[i] <= 0x20 || o[i] >= 0x7f || o[i] == '+')
            return 0;
    return 1;
}

uint32_t
ldg_note_key_id_alg(const char *name, size_t n, uint8_t alg,
                    const uint8_t pub[32])
{
    struct ldg_sha256_ctx c;
    uint8_t h[32];
    const uint8_t sep[2] = {'\n', alg};

    ldg_sha256_init(&c);
    ldg_sha256_update(&c, name, n);
    ldg_sha256_update(&c, sep, sizeof sep);
    ldg_sha256_update(&c, pub, 32);
    ldg_sha256_final(&c, h);
    return ldg_rd_be32(h);
}

uint32_t
ldg_note_key_id(const char *name, const uint8_t pub[32])
{
    return ldg_note_key_id_alg(name, strlen(name), ALG_ED25519, pub);
}

int
ldg_note_vkey_format(char *buf, size_t cap, const char *name, uint8_t alg,
                     const uint8_t pub[32])
{
    uint8_t key[33];
    char b64[KEY_B64_LEN + 1];
    int w;

    if (buf == NULL || pub == NULL || !ldg_note_name_valid(name))
        return LDG_EINVAL;
    key[0] = alg;
    memcpy(key + 1, pub, 32);
    ldg_base64(b64, key, sizeof key);
    w = snprintf(buf, cap, "%s+%08x+%s", name,
                 (unsigned)ldg_note_key_id_alg(name, strlen(name), alg, pub),
                 b64);
    if (w < 0 || (size_t)w >= cap)
        return LDG_EINVAL;
    return w;
}

int
ldg_note_verifier(char *buf, size_t cap, const char *name,
                  const uint8_t pub[32])
{
    return ldg_note_vkey_format(buf, cap, name, ALG_ED25519, pub);
}

/* "name+hhhhhhhh+base64(0x01 ‖ pub)". The name cannot hold '+', so the
 * first '+' ends it. Hex digits are accepted in either case, as Go does. */
int
ldg_note_parse_verifier(const char *vkey, char *name, size_t name_cap,
                        uint8_t pub[32])
{
    const char *plus1, *hex, *b64;
    uint8_t key[33], idb[4];
    uint32_t id;
    size_t nlen;

    if (vkey == NULL || name == NULL || pub == NULL)
        return LDG_EINVAL;
    plus1 = strchr(vkey, '+');
    if (plus1 == NULL)
        return LDG_EBADINPUT;
    nlen = (size_t)(plus1 - vkey);
    hex = plus1 + 1;
    if (!name_valid_n(vkey, nlen) || strlen(hex) < 9 || hex[8] != '+')
        return LDG_EBADINPUT;
    if (ldg_unhex_prefix(idb, 4, hex) < 0)
        return LDG_EBADINPUT;
    id = ldg_rd_be32(idb);
    b64 = hex + 9;
    if (strlen(b64) != KEY_B64_LEN ||
        ldg_unbase64(key, sizeof key, b64, KEY_B64_LEN) < 0 ||
        key[0] != ALG_ED25519)
        return LDG_EBADINPUT;
    if (ldg_note_key_id_alg(vkey, nlen, ALG_ED25519, key + 1) != id)
        return LDG_EBADINPUT;
    if (nlen + 1 > name_cap)
        return LDG_EBADINPUT;
    memcpy(name, vkey, nlen);
    name[nlen] = '\0';
    memcpy(pub, key + 1, 32);
    return 0;
}

int
ldg_note_sign(char **out, const char *text, size_t text_len, const char *name,
              const struct ldg_key *key)
{
    uint8_t raw[4 + SIG_LEN];
    char b64[SIG_B64_LEN + 1];
    uint32_t id;
    size_t nlen, total, off = 0;
    char *buf;
    int rc;

    if (out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (text == NULL || key == NULL || !ldg_note_name_valid(name))
        return LDG_EINVAL;
    if (text_len == 0 || text[text_len - 1] != '\n' || text_len > NOTE_MAX ||
        !note_chars_valid(text, text_len))
        return LDG_EINVAL;

    id = ldg_note_key_id(name, key->pub);
    raw[0] = (uint8_t)(id >> 24);
    raw[1] = (uint8_t)(id >> 16);
    raw[2] = (uint8_t)(id >> 8);
    raw[3] = (uint8_t)id;
    rc = ldg_ed25519_sign_raw(raw + 4, text, text_len, key);
    if (rc < 0)
        return rc;
    ldg_base64(b64, raw, sizeof raw);

    nlen = strlen(name);
    /* text, "\n", dash, ' ', name, ' ', b64, "\n", NUL */
    total = text_len + 1 + 3 + 1 + nlen + 1 + SIG_B64_LEN + 1 + 1;
    buf = malloc(total);
    if (buf == NULL)
        return LDG_ENOMEM;
    memcpy(buf, text, text_len);
    off = text_len;
    buf[off++] = '\n';
    memcpy(buf + off, em_dash, 3);
    off += 3;
    buf[off++] = ' ';
    memcpy(buf + off, name, nlen);
    off += nlen;
    buf[off++] = ' ';
    memcpy(buf + off, b64, SIG_B64_LEN);
    off += SIG_B64_LEN;
    buf[off++] = '\n';
    buf[off] = '\0';
    *out = buf;
    return 0;
}

int
ldg_note_sig_append(char **note, const char *name, const uint8_t *raw, size_t n)
{
    size_t have = strlen(*note), nlen = strlen(name), blen = (n + 2) / 3 * 4;
    char *b;

    if (!ldg_note_name_valid(name) || n < 5)
        return LDG_EINVAL;
    /* dash, ' ', name, ' ', base64, "\n", NUL */
    if ((b = realloc(*note, have + 3 + 1 + nlen + 1 + blen + 2)) == NULL)
        return LDG_ENOMEM;
    *note = b;
    b += have;
    memcpy(b, em_dash, 3);
    b[3] = ' ';
    memcpy(b + 4, name, nlen);
    b[4 + nlen] = ' ';
    ldg_base64(b + 5 + nlen, raw, n);
    b[5 + nlen + blen] = '\n';
    b[6 + nlen + blen] = '\0';
    return 0;
}

/* Length of the bytes a padded base64 string decodes to, or -1 if its
 * shape is wrong (the alphabet is checked by ldg_unbase64). */
static long
b64_decoded_len(const char *s, size_t n)
{
    size_t pad = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    while (pad < 2 && s[n - 1 - pad] == '=')
        pad++;
    return (long)(n / 4 * 3 - pad);
}

/*
 * Checks one signature line (without its '\n'). Sets *mine if the line is
 * by (name, id) and its signature verifies over text; returns LDG_EBADSIG
 * if it is by that key and does not verify; LDG_EBADINPUT if the line is
 * malformed. Lines by other keys only have to be well formed.
 */
static int
check_sig_line(const char *line, size_t len, const char *text, size_t text_len,
               const char *name, uint32_t id, const uint8_t pub[32], int *mine)
{
    const char *sname, *sp, *b64;
    size_t nlen, blen;
    long raw_len;
    uint8_t *raw;
    uint32_t sid;
    int rc;

    if (len < 4 || memcmp(line, em_dash, 3) != 0 || line[3] != ' ')
        return LDG_EBADINPUT;
    sname = line + 4;
    sp = memchr(sname, ' ', len - 4);
    if (sp == NULL)
        return LDG_EBADINPUT;
    nlen = (size_t)(sp - sname);
    b64 = sp + 1;
    blen = (size_t)(line + len - b64);
    raw_len = b64_decoded_len(b64, blen);
    if (!name_valid_n(sname, nlen) || raw_len < 5)
        return LDG_EBADINPUT;
    raw = malloc((size_t)raw_len);
    if (raw == NULL)
        return LDG_ENOMEM;
    rc = ldg_unbase64(raw, (size_t)raw_len, b64, blen);
    if (rc < 0) {
        rc = LDG_EBADINPUT;
        goto out;
    }
    sid = ldg_rd_be32(raw);
    if (sid != id || nlen != strlen(name) || memcmp(sname, name, nlen) != 0)
        goto out; /* someone else's: ignored */
    if (raw_len != 4 + SIG_LEN ||
        ldg_ed25519_verify_raw(raw + 4, text, text_len, pub) != 0) {
        rc = LDG_EBADSIG;
        goto out;
    }
    *mine = 1;
out:
    free(raw);
    return rc;
}

size_t
ldg_note_text_len(const char *note, size_t len)
{
    for (size_t i = len; i >= 2; i--)
        if (note[i - 1] == '\n' && note[i - 2] == '\n')
            return i - 1;
    return 0;
}

/*
 * The text ends at the note's last "\n\n" (ldg_note_text_len). Every
 * signature line must be well formed. Lines by other keys are ignored, as the
 * spec requires; a line by our key that fails to verify rejects the whole note
 * (the spec's SHOULD), and at least one by our key must verify.
 */
int
ldg_note_verify(const char *note, size_t len, const char *name,
                const uint8_t pub[32], size_t *text_len)
{
    const char *sigs, *end = note + len, *p;
    size_t tlen, nsig = 0;
    uint32_t id;
    int mine = 0, rc;

    if (note == NULL || pub == NULL || text_len == NULL ||
        !ldg_note_name_valid(name))
        return LDG_EINVAL;
    if (len > NOTE_MAX || !note_chars_valid(note, len))
        return LDG_EBADINPUT;
    tlen = ldg_note_text_len(note, len);
    sigs = tlen > 0 ? note + tlen + 1 : NULL;
    if (sigs == NULL || sigs == end || end[-1] != '\n')
        return LDG_EBADINPUT;
    id = ldg_note_key_id(name, pub);
    for (p = sigs; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (++nsig > NOTE_SIGS_MAX)
            return LDG_EBADINPUT;
        rc = check_sig_line(p, (size_t)(nl - p), note, tlen, name, id, pub,
                            &mine);
        if (rc < 0)
            return rc;
        p = nl + 1;
    }
    if (!mine)
        return LDG_EBADSIG;
    *text_len = tlen;
    return 0;
}

int
ldg_note_sig_find(const char *note, size_t len, size_t tlen, const char *name,
                  uint32_t id, uint8_t *raw, size_t cap, size_t *n)
{
    const char *p = note + tlen + 1, *end = note + len;
    size_t want = strlen(name);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *b64;
        size_t blen;
        long rl;
        if (nl == NULL)
            return LDG_EBADINPUT;
        if ((size_t)(nl - p) > 5 + want && memcmp(p, em_dash, 3) == 0 &&
            p[3] == ' ' && memcmp(p + 4, name, want) == 0 &&
            p[4 + want] == ' ') {
            uint8_t *all;
            int mine;
            b64 = p + 5 + want;
            blen = (size_t)(nl - b64);
            if ((rl = b64_decoded_len(b64, blen)) < 5)
                return LDG_EBADINPUT;
            if ((all = malloc((size_t)rl)) == NULL)
                return LDG_ENOMEM;
            if (ldg_unbase64(all, (size_t)rl, b64, blen) < 0) {
                free(all);
                return LDG_EBADINPUT;
            }
            mine = ldg_rd_be32(all) == id;
            if (mine && (size_t)rl - 4 > cap) {
                free(all);
                return LDG_EBADINPUT;
            }
            if (mine) {
                memcpy(raw, all + 4, (size_t)rl - 4);
                *n = (size_t)rl - 4;
            }
            free(all);
            if (mine)
                return 0;
        }
        p = nl + 1;
    }
    return LDG_ENOTFOUND;
}

/* ---------------------------------------------------------- checkpoint -- */

/*
 * Checkpoint body (the note text):
 *
 *     <origin>\n                 non-empty
 *     <tree size>\n              decimal, no leading zeroes
 *     <base64 root hash>\n       RFC 6962 root, 44 characters
 *     [<extension line>\n ...]   optional, non-empty, opaque
 */
int
ldg_checkpoint_text(char *buf, size_t cap, const char *origin, uint64_t size,
                    const uint8_t root[32])
{
    char b64[ROOT_B64_LEN + 1];
    size_t olen;
    int w;

    if (buf == NULL || origin == NULL || root == NULL)
        return LDG_EINVAL;
    olen = strlen(origin);
    if (olen == 0 || olen > LDG_ORIGIN_MAX || memchr(origin, '\n', olen) ||
        !note_chars_valid(origin, olen))
        return LDG_EINVAL;
    ldg_base64(b64, root, 32);
    w = snprintf(buf, cap, "%s\n%llu\n%s\n", origin, (unsigned long long)size,
                 b64);
    if (w < 0 || (size_t)w >= cap)
        return LDG_EINVAL;
    return w;
}

int
ldg_checkpoint_parse(const char *text, size_t len, char *origin,
                     size_t origin_cap, uint64_t *size, uint8_t root[32])
{
    const char *p = text, *end = text + len, *line[3];
    size_t ll[3];
    uint64_t v = 0;

    if (text == NULL || origin == NULL || size == NULL || root == NULL)
        return LDG_EINVAL;
    if (len == 0 || text[len - 1] != '\n' || !note_chars_valid(text, len))
        return LDG_EBADINPUT;
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || nl == p)
            return LDG_EBADINPUT;
        line[i] = p;
        ll[i] = (size_t)(nl - p);
        p = nl + 1;
    }
    /* Extension lines: each must be non-empty. */
    for (const char *q = p; q < end; q++)
        if (q[0] == '\n' && (q == p || q[-1] == '\n'))
            return LDG_EBADINPUT;

    if (ldg_parse_u64(line[1], ll[1], LDG_DEC_CANONICAL, &v) < 0 ||
        ll[2] != ROOT_B64_LEN ||
        ldg_unbase64(root, 32, line[2], ROOT_B64_LEN) < 0)
        return LDG_EBADINPUT;
    if (ll[0] + 1 > origin_cap)
        return LDG_EBADINPUT;
    memcpy(origin, line[0], ll[0]);
    origin[ll[0]] = '\0';
    *size = v;
    return 0;
}
