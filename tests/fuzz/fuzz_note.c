/*
 * fuzz_note.c — libFuzzer target for the C2SP texts the ledger reads from
 * outside: signed notes (ledger/note.c), checkpoints (c2sp.org/
 * tlog-checkpoint), cosignatures (ledger/cosig.c), a witness's
 * add-checkpoint request (ledger/tlog.c, fleet/witness.c), verifier keys,
 * tlog-proof@v1 texts (ledger/proofs.c) and a checkpoint checked against
 * a ledger's own tree (ldg_checkpoint_check).
 *
 * Keys, fixed so that the seeds verify in every process:
 *   - the log key: Go's sumdb/note test key PeterNeumann (its secret is
 *     public test data, tests/ledger/test_note.c), used under the name
 *     the text's first line gives when that is a valid key name (a log
 *     signs its checkpoints under its origin), else "PeterNeumann";
 *   - the seed log's key: nt_seed_vkey, the key of the ledger (origin
 *     fuzz.example/note) that wrote the seeds of tests/fuzz/corpus_note/;
 *   - the witness key (cosigner NT_WNAME, seed 32 × 0x02), and another
 *     cosigner of the same name (seed 32 × 0x03) it must not be taken for.
 * Once per process: a witness directory (in /dev/shm when it can) trusting
 * both log keys for fuzz.example/note, and a ledger of NT_NEVENTS events
 * for ldg_checkpoint_check.
 *
 * byte 0   bits 0-2: the parser (modulo 7); bit 3 (sign): sign the text
 *          given (up to the input's last "\n\n", or all of it; the
 *          signature lines after it are kept after ours) with the log key,
 *          or in mode 6 with the ledger's own key; bit 4: mode-specific
 *   0 note        ldg_note_verify, ldg_note_verify_vkey, ldg_note_sig_find;
 *                 bit 4: with the seed log's key. A note that verifies
 *                 is its text, "\n" and well-formed signature lines; every
 *                 line by the key is the signature that key makes of the
 *                 text, byte for byte (with the log key: ldg_note_sign
 *                 gives it again); another key of that name, the text with
 *                 one byte changed, or one byte less, never verifies. A
 *                 text we signed, with no other lines, always verifies.
 *   1 checkpoint  ldg_checkpoint_parse of the bytes as a text, then
 *                 ldg_checkpoint_open of them as a note (bit 4: the seed
 *                 log's key). A parsed checkpoint's origin, size and root,
 *                 formatted again (ldg_checkpoint_text), are its first
 *                 three lines byte for byte, the rest non-empty extension
 *                 lines; origin and size untouched on a refusal; signed,
 *                 it opens to the same values with the key of its origin's
 *                 name only (another key: LDG_EBADSIG; a key of another
 *                 name: LDG_EBADINPUT).
 *   2 cosig       bytes 1-8 a time (big-endian), the rest a note;
 *                 bit 4: cosign the text with the witness key at that
 *                 time. ldg_cosig_verify and ldg_cosig_count: an accepted
 *                 cosignature holds the line the witness key makes at the
 *                 time it returns, and verifies only with its key (the
 *                 other cosigner: never; the text with one byte changed:
 *                 never); a cosigned note's log signature still verifies.
 *   3 witness     bytes 1-2 the length of a first request (0: one only),
 *                 then the request(s) to a fresh witness, in order (bit 3
 *                 signs the checkpoint inside each). The witness's answer
 *                 is the status a model of c2sp.org/tlog-witness predicts
 *                 (400, 404, 403, 409 with the size held, 422, 200), with
 *                 a reason; a 200 is a cosignature line that verifies with
 *                 the witness key at the request's time. A parsed request
 *                 formats back to its bytes (ldg_tlog_consistency_format).
 *   4 vkey        the bytes (to a NUL) as a verifier key:
 *                 ldg_note_parse_verifier and ldg_cosig_parse_verifier; at
 *                 most one accepts; what is accepted formats back to the
 *                 same string (the key ID's hex in either case); outputs
 *                 untouched on a refusal.
 *   5 proof       bytes 1-2 an entry's length, the entry, then a
 *                 tlog-proof@v1 text (bit 3 signs its checkpoint; bit 4:
 *                 the seed log's key). ldg_proof_check: a refusal is a
 *                 known code with a message and no output; a pass has
 *                 index < size, the inclusion proof holds against the
 *                 checkpoint's root, and another entry fails. A parsed proof
 *                 formats back to its bytes (without an "extra" line).
 *   6 check       ldg_checkpoint_check against the process's ledger; bit 4:
 *                 byte 1 picks a size (0 to NT_NEVENTS + 1), the ledger's
 *                 signed checkpoint of that size is patched (bytes 2-3 an
 *                 offset, byte 4 bytes deleted, the rest inserted; with
 *                 bit 3 its text is patched and then signed). The answer is
 *                 what the ledger's key and tree say: LDG_EBADSIG/
 *                 LDG_EBADINPUT for the note, LDG_EBADINPUT for another
 *                 origin, LDG_ENOTFOUND beyond the log (LDG_EINVAL above
 *                 2^63 leaves), LDG_ETAMPER for a root that is not the
 *                 tree's (only for a text we signed), else 0.
 *
 * Found by this target and fixed (36cb4700; reproducers
 * tests/fuzz/corpus_note/bad-base64-*): with libsodium 1.0.18,
 * ldg_unbase64 read bytes 0x80-0xff as the digit '/', so roots, hashes,
 * keys and signatures had encodings that parsed, verified and did not
 * format back to their bytes. Every round trip below is now exact.
 *
 * No crash, no undefined behaviour, no leak. Built by tests/fuzz/run.sh;
 * tests/ledger/test_fuzz_regress.c runs the corpus (tests/fuzz/corpus_note/)
 * through it: good-* files pass their mode's parser (nt.last is 0), bad-*
 * are refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "ledger/tlog_int.h"
#include "ledger/tree_int.h"
#include "util/util.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define NT_DASH "\xe2\x80\x94"
#define NT_FALLBACK "PeterNeumann"
#define NT_ORIGIN "fuzz.example/note"
#define NT_WNAME "witness.fuzz.example/w1"
#define NT_NOW 1764547200u /* the witness's clock */
#define NT_NEVENTS 24      /* the ledger's events after its genesis */
#define NT_TIME_MAX ((uint64_t)1 << 63)
#define NT_VKEY_CAP (LDG_ORIGIN_MAX + 64)
#define NT_SENT 0x5a5a5a5a5a5a5a5aull

/* 0x01 ‖ the seed of Go's PeterNeumann test key */
static const char nt_peter_skey[] =
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
/* the ledger that wrote the corpus's real notes (its key is gone) */
static const char nt_seed_vkey[] =
    "fuzz.example/note+2ec66eed+AYkjeh4QTPZLCwKDxesXQwYo5lCZYjKgedZOkKJ0A+0t";

static struct {
    int ready;
    struct ldg_key *log, *wit, *other;
    uint8_t seed_pub[32];
    char wvkey[NT_VKEY_CAP], ovkey[NT_VKEY_CAP];
    char base[256], wdir[300];
    struct ldg_witness *w;
    struct ldg_ledger *l;
    char lvkey[NT_VKEY_CAP];
    uint64_t lsize;
    int last; /* the mode's verdict: 0 accepted, < 0 refused, 1 none */
} nt;

/* ------------------------------------------------------------ set-up -- */

static void
nt_rm_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            (void)unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static void
nt_rmrf(const char *dir)
{
    char p[600];
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            nt_rmrf(p);
        else
            (void)unlink(p);
    }
    closedir(d);
    (void)rmdir(dir);
}

static void
nt_cleanup(void)
{
    ldg_witness_free(nt.w);
    if (nt.l != NULL)
        ldg_close(nt.l);
    ldg_key_free(nt.log);
    ldg_key_free(nt.wit);
    ldg_key_free(nt.other);
    nt_rmrf(nt.base);
}

static void
nt_setup_ledger(void)
{
    struct ldg_options o;
    struct ldg_writer *wr;
    struct ldg_txn *t;
    char d[400], err[512];

    snprintf(d, sizeof d, "%s/log", nt.base);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 16u << 20;
    if (ldg_init(d, NT_ORIGIN, &o, err, sizeof err) < 0 ||
        ldg_open(&nt.l, d, &o, err, sizeof err) < 0 ||
        ldg_verifier_key(nt.l, nt.lvkey, sizeof nt.lvkey) < 0)
        abort();
    for (int i = 0; i < NT_NEVENTS; i += 8) {
        if (ldg_writer_new(&wr, nt.l, NULL) < 0)
            abort();
        for (int j = i; j < i + 8 && j < NT_NEVENTS; j++) {
            struct ldg_event_in in;
            json_t *b = json_pack("{s:i}", "i", j);
            memset(&in, 0, sizeof in);
            in.type = "x.fuzz.note";
            in.body = b;
            if (ldg_writer_add(wr, &in) < 0)
                abort();
            json_decref(b);
        }
        if (ldg_writer_flush(wr) < 0)
            abort();
        ldg_writer_free(wr);
    }
    if (ldg_txn_begin(nt.l, LDG_TXN_READ, &t) < 0 ||
        ldg_txn_size(t, &nt.lsize) < 0 || nt.lsize != NT_NEVENTS + 1)
        abort();
    ldg_txn_abort(t);
}

static void
nt_setup(void)
{
    uint8_t raw[33], seed[32];
    char name[LDG_ORIGIN_MAX + 1], vk[NT_VKEY_CAP], err[512], path[400];
    const char *trust[2];
    const char *tmp = getenv("TMPDIR");
    int fd;

    if (ldg_unbase64(raw, sizeof raw, nt_peter_skey, strlen(nt_peter_skey)) <
            0 ||
        ldg_key_from_seed(&nt.log, "peter", raw + 1) < 0)
        abort();
    memset(seed, 0x02, sizeof seed);
    if (ldg_key_from_seed(&nt.wit, "witness", seed) < 0)
        abort();
    memset(seed, 0x03, sizeof seed);
    if (ldg_key_from_seed(&nt.other, "other", seed) < 0)
        abort();
    if (ldg_note_parse_verifier(nt_seed_vkey, name, sizeof name, nt.seed_pub) <
            0 ||
        ldg_cosig_verifier(nt.wvkey, sizeof nt.wvkey, NT_WNAME, nt.wit->pub) <
            0 ||
        ldg_cosig_verifier(nt.ovkey, sizeof nt.ovkey, NT_WNAME, nt.other->pub) <
            0)
        abort();

    snprintf(nt.base, sizeof nt.base, "%s/fuzz_note.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm"
             : tmp != NULL && *tmp         ? tmp
                                           : "/tmp");
    if (mkdtemp(nt.base) == NULL)
        abort();
    atexit(nt_cleanup);

    /* the witness, with the fixed key in place of the one init made */
    snprintf(nt.wdir, sizeof nt.wdir, "%s/w", nt.base);
    if (ldg_witness_init(nt.wdir, NT_WNAME, vk, sizeof vk, err, sizeof err) < 0)
        abort();
    snprintf(path, sizeof path, "%s/witness.key", nt.wdir);
    memset(seed, 0x02, sizeof seed);
    fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, seed, sizeof seed) != (ssize_t)sizeof seed ||
        close(fd) < 0)
        abort();
    if (ldg_note_verifier(vk, sizeof vk, NT_ORIGIN, nt.log->pub) < 0)
        abort();
    trust[0] = vk;
    trust[1] = nt_seed_vkey;
    if (ldg_witness_open(&nt.w, nt.wdir, trust, 2, err, sizeof err) < 0 ||
        strcmp(ldg_witness_vkey(nt.w), nt.wvkey) != 0)
        abort();

    nt_setup_ledger();
    nt.ready = 1;
}

/* ----------------------------------------------------------- helpers -- */

/* The key name a note's text is signed under: its first line when that
 * is a valid key name (a log's origin), else NT_FALLBACK. */
static void
nt_name_for(const char *s, size_t n, char name[LDG_ORIGIN_MAX + 1])
{
    const char *nl = memchr(s, '\n', n);
    size_t l = nl != NULL ? (size_t)(nl - s) : n;

    if (l >= 1 && l <= LDG_ORIGIN_MAX && memchr(s, '\0', l) == NULL) {
        memcpy(name, s, l);
        name[l] = '\0';
        if (ldg_note_name_valid(name))
            return;
    }
    snprintf(name, LDG_ORIGIN_MAX + 1, "%s", NT_FALLBACK);
}

/* in as text and signature lines: the text is up to its last "\n\n" (or
 * all of it), the lines after. */
static void
nt_split(const char *in, size_t n, size_t *tlen, const char **rest,
         size_t *rlen)
{
    size_t tl = ldg_note_text_len(in, n);

    *tlen = tl > 0 ? tl : n;
    *rest = tl > 0 ? in + tl + 1 : in + n;
    *rlen = tl > 0 ? n - tl - 1 : 0;
}

static char *
nt_join(const char *a, size_t al, const char *b, size_t bl, size_t *len)
{
    char *s = malloc(al + bl + 1);
    if (s == NULL)
        abort();
    memcpy(s, a, al);
    memcpy(s + al, b, bl);
    s[al + bl] = '\0';
    *len = al + bl;
    return s;
}

/* The note of in's text signed by key under name (with the ledger's key
 * when l), in's signature lines after ours; NULL when the signer refuses
 * the text. *rlen gets how many bytes of lines were kept. */
static char *
nt_sign(const char *in, size_t n, const char *name, const struct ldg_key *key,
        struct ldg_ledger *l, size_t *len, size_t *rlen)
{
    const char *rest;
    size_t tl;
    char *text, *s = NULL, *out;
    int rc;

    nt_split(in, n, &tl, &rest, rlen);
    text = nt_join(in, tl, "", 0, &tl); /* (NUL-terminated) */
    rc = l != NULL ? ldg_log_sign_note(l, text, tl, &s)
                   : ldg_note_sign(&s, text, tl, name, key);
    free(text);
    if (rc < 0) {
        FUZZ_ASSERT(rc == LDG_EINVAL && s == NULL);
        return NULL;
    }
    out = nt_join(s, strlen(s), rest, *rlen, len);
    free(s);
    return out;
}

static int
nt_b64_raw(const char *b64, size_t n, uint8_t *raw, size_t cap, size_t *got)
{
    size_t pad = 0;
    if (n == 0 || n % 4 != 0)
        return -1;
    while (pad < 2 && b64[n - 1 - pad] == '=')
        pad++;
    *got = n / 4 * 3 - pad;
    if (*got > cap || ldg_unbase64(raw, *got, b64, n) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------ 0: signed note -- */

/* The signature lines of a note that verified with (name, pub): each well
 * formed; those by the key all the same line, ours when we hold the key. */
static void
nt_note_lines(const char *note, size_t len, size_t tl, const char *name,
              const uint8_t pub[32], const struct ldg_key *signer)
{
    const char *p = note + tl + 1, *end = note + len, *first = NULL;
    uint32_t id = ldg_note_key_id(name, pub);
    size_t nlen = strlen(name), count = 0, flen = 0;
    char *ours = NULL;

    if (signer != NULL) {
        FUZZ_ASSERT(ldg_note_sign(&ours, note, tl, name, signer) == 0);
        FUZZ_ASSERT(memcmp(ours, note, tl + 1) == 0);
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
        uint8_t raw[256];
        size_t got;
        FUZZ_ASSERT(nl != NULL && ++count <= 100);
        FUZZ_ASSERT(nl - p > 4 && memcmp(p, NT_DASH " ", 4) == 0);
        sp = memchr(p + 4, ' ', (size_t)(nl - p - 4));
        FUZZ_ASSERT(sp != NULL && sp > p + 4);
        if (nt_b64_raw(sp + 1, (size_t)(nl - sp - 1), raw, sizeof raw, &got) ==
            0) {
            FUZZ_ASSERT(got >= 5);
            if ((size_t)(sp - p - 4) == nlen &&
                memcmp(p + 4, name, nlen) == 0 && ldg_rd_be32(raw) == id) {
                size_t ll = (size_t)(nl - p) + 1;
                FUZZ_ASSERT(got == 68);
                if (first == NULL) {
                    first = p;
                    flen = ll;
                }
                FUZZ_ASSERT(ll == flen && memcmp(p, first, ll) == 0);
                if (ours != NULL)
                    FUZZ_ASSERT(strlen(ours + tl + 1) == ll &&
                                memcmp(ours + tl + 1, p, ll) == 0);
            }
        } else {
            /* a line too long for raw: someone else's (ours are 68 bytes) */
            FUZZ_ASSERT((size_t)(nl - sp - 1) > sizeof raw / 3 * 4);
        }
        p = nl + 1;
    }
    FUZZ_ASSERT(first != NULL);
    {
        uint8_t sig[64];
        size_t n = 0;
        FUZZ_ASSERT(ldg_note_sig_find(note, len, tl, name, id, sig, sizeof sig,
                                      &n) == 0 &&
                    n == 64);
    }
    free(ours);
}

static void
nt_note(const uint8_t *in, size_t n, int sign, int seedkey)
{
    char name[LDG_ORIGIN_MAX + 1], vkey[NT_VKEY_CAP], *s = NULL, *copy;
    const char *note = (const char *)in;
    const uint8_t *pub = seedkey ? nt.seed_pub : nt.log->pub;
    size_t len = n, tl = NT_SENT, tl2 = NT_SENT, tl3 = NT_SENT, rlen = 0;
    int rc, signed_here = 0;

    if (seedkey)
        snprintf(name, sizeof name, "%s", NT_ORIGIN);
    else
        nt_name_for(note, len, name);
    if (sign && (s = nt_sign(note, len, name, nt.log, NULL, &len, &rlen))) {
        note = s;
        signed_here = 1;
    } else {
        len = n;
    }
    rc = ldg_note_verify(note, len, name, pub, &tl);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_EBADSIG ||
                rc == LDG_ENOMEM);
    FUZZ_ASSERT(ldg_note_verifier(vkey, sizeof vkey, name, pub) > 0);
    FUZZ_ASSERT(ldg_note_verify_vkey(vkey, note, len, &tl2) == rc);
    if (signed_here && !seedkey && rlen == 0)
        FUZZ_ASSERT(rc == 0); /* a text we signed, alone */
    nt.last = rc;
    if (rc != 0) {
        FUZZ_ASSERT(tl == NT_SENT && tl2 == NT_SENT);
        free(s);
        return;
    }
    FUZZ_ASSERT(tl == tl2 && tl == ldg_note_text_len(note, len));
    FUZZ_ASSERT(tl >= 1 && tl + 1 < len && note[tl - 1] == '\n' &&
                note[tl] == '\n' && note[len - 1] == '\n');
    nt_note_lines(note, len, tl, name, pub, seedkey ? NULL : nt.log);
    /* another key of that name */
    FUZZ_ASSERT(ldg_note_verify(note, len, name, nt.other->pub, &tl3) ==
                    LDG_EBADSIG &&
                tl3 == NT_SENT);
    /* one byte less; one byte of the text changed */
    FUZZ_ASSERT(ldg_note_verify(note, len - 1, name, pub, &tl3) != 0);
    copy = nt_join(note, len, "", 0, &len);
    for (size_t k = 0; k < 3; k++) {
        size_t at = k * (tl - 1) / 2;
        copy[at] ^= 0x01;
        FUZZ_ASSERT(ldg_note_verify(copy, len, name, pub, &tl3) != 0);
        copy[at] ^= 0x01;
    }
    free(copy);
    free(s);
}

/* ------------------------------------------------------ 1: checkpoint -- */

static void
nt_open_as_note(const char *in, size_t n, int seedkey)
{
    char name[LDG_ORIGIN_MAX + 1], vkey[NT_VKEY_CAP], o[LDG_ORIGIN_MAX + 1],
        o2[LDG_ORIGIN_MAX + 1];
    uint8_t root[32], r2[32];
    uint64_t size = 0, s2 = 0;
    int rc;

    if (seedkey) {
        snprintf(vkey, sizeof vkey, "%s", nt_seed_vkey);
        snprintf(name, sizeof name, "%s", NT_ORIGIN);
    } else {
        nt_name_for(in, n, name);
        FUZZ_ASSERT(ldg_note_verifier(vkey, sizeof vkey, name, nt.log->pub) >
                    0);
    }
    rc = ldg_checkpoint_open(vkey, in, n, o, sizeof o, &size, root);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_EBADSIG ||
                rc == LDG_ENOMEM);
    if (rc == 0) {
        size_t tl = ldg_note_text_len(in, n);
        FUZZ_ASSERT(strcmp(o, name) == 0 && tl > 0);
        FUZZ_ASSERT(ldg_checkpoint_parse(in, tl, o2, sizeof o2, &s2, r2) == 0 &&
                    strcmp(o2, o) == 0 && s2 == size &&
                    memcmp(r2, root, 32) == 0);
    }
}

static void
nt_checkpoint(const uint8_t *in, size_t n, int sign, int seedkey)
{
    const char *text = (const char *)in;
    char origin[LDG_ORIGIN_MAX + 1], o2[LDG_ORIGIN_MAX + 1],
        buf[LDG_ORIGIN_MAX + 128], vkey[NT_VKEY_CAP];
    uint8_t root[32], r2[32];
    uint64_t size = NT_SENT, s2;
    size_t olen;
    int rc, w;

    memset(origin, 0x5a, sizeof origin);
    rc = ldg_checkpoint_parse(text, n, origin, sizeof origin, &size, root);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT);
    nt.last = rc;
    nt_open_as_note(text, n, seedkey);
    if (rc != 0) {
        FUZZ_ASSERT(size == NT_SENT);
        for (size_t i = 0; i < sizeof origin; i++)
            FUZZ_ASSERT(origin[i] == 0x5a);
        return;
    }
    olen = strnlen(origin, sizeof origin);
    FUZZ_ASSERT(olen >= 1 && olen < sizeof origin &&
                memchr(origin, '\n', olen) == NULL);
    /* formatted again: the first three lines, the rest extension lines */
    w = ldg_checkpoint_text(buf, sizeof buf, origin, size, root);
    FUZZ_ASSERT(w > 0 && (size_t)w <= n);
    FUZZ_ASSERT(memcmp(buf, text, (size_t)w) == 0);
    if ((size_t)w < n)
        FUZZ_ASSERT(text[w] != '\n' &&
                    memmem(text + w, n - (size_t)w, "\n\n", 2) == NULL);
    FUZZ_ASSERT(text[n - 1] == '\n');
    /* strict: one byte less; an origin buffer one byte short */
    FUZZ_ASSERT(ldg_checkpoint_parse(text, n - 1, o2, sizeof o2, &s2, r2) ==
                LDG_EBADINPUT);
    FUZZ_ASSERT(ldg_checkpoint_parse(text, n, o2, olen, &s2, r2) ==
                LDG_EBADINPUT);
    FUZZ_ASSERT(ldg_checkpoint_parse(text, n, o2, olen + 1, &s2, r2) == 0 &&
                strcmp(o2, origin) == 0 && s2 == size &&
                memcmp(r2, root, 32) == 0);
    if (sign && ldg_note_name_valid(origin)) {
        char *note = NULL;
        FUZZ_ASSERT(ldg_note_sign(&note, text, n, origin, nt.log) == 0);
        FUZZ_ASSERT(ldg_note_verifier(vkey, sizeof vkey, origin, nt.log->pub) >
                    0);
        FUZZ_ASSERT(ldg_checkpoint_open(vkey, note, strlen(note), o2, sizeof o2,
                                        &s2, r2) == 0 &&
                    strcmp(o2, origin) == 0 && s2 == size &&
                    memcmp(r2, root, 32) == 0);
        FUZZ_ASSERT(
            ldg_note_verifier(vkey, sizeof vkey, origin, nt.other->pub) > 0);
        FUZZ_ASSERT(ldg_checkpoint_open(vkey, note, strlen(note), o2, sizeof o2,
                                        &s2, r2) == LDG_EBADSIG);
        free(note);
        if (strcmp(origin, NT_FALLBACK) != 0) {
            /* signed by a key of another name: not this log's checkpoint */
            FUZZ_ASSERT(ldg_note_sign(&note, text, n, NT_FALLBACK, nt.log) ==
                        0);
            FUZZ_ASSERT(ldg_note_verifier(vkey, sizeof vkey, NT_FALLBACK,
                                          nt.log->pub) > 0);
            FUZZ_ASSERT(ldg_checkpoint_open(vkey, note, strlen(note), o2,
                                            sizeof o2, &s2,
                                            r2) == LDG_EBADINPUT);
            free(note);
        }
    }
}

/* ---------------------------------------------------------- 2: cosig -- */

static void
nt_cosig(const uint8_t *data, size_t size, int logsign, int cosign)
{
    const char *in = (const char *)data + 8, *note = in, *vks[2];
    char lname[LDG_ORIGIN_MAX + 1], vk[NT_VKEY_CAP], *s = NULL, *c = NULL,
                                                     *line = NULL, *copy;
    size_t n = size - 8, len = n, rlen = 0, tl, tl0 = ldg_note_text_len(in, n);
    uint64_t t = ldg_rd_be64(data), tt = NT_SENT;
    int rc, logged = 0, cosigned = 0, got[2] = {7, 7};

    nt_name_for(in, n, lname);
    if (logsign && (s = nt_sign(in, n, lname, nt.log, NULL, &len, &rlen))) {
        note = s;
        logged = 1;
    } else {
        len = n;
    }
    if (cosign) {
        size_t ctl = ldg_note_text_len(note, len);
        ctl = ctl > 0 ? ctl : len;
        rc = ldg_cosig_sign(&line, note, ctl, NT_WNAME, nt.wit, t);
        if (t >= NT_TIME_MAX || ctl == 0 || note[ctl - 1] != '\n') {
            FUZZ_ASSERT(rc == LDG_EINVAL && line == NULL);
        } else {
            FUZZ_ASSERT(rc == 0 && line != NULL);
            if (ldg_note_text_len(note, len) > 0 && note[len - 1] == '\n') {
                c = nt_join(note, len, line, strlen(line), &len);
            } else if (ldg_note_text_len(note, len) > 0) {
                /* (a last line cut short: ours starts a line of its own) */
                char *a = nt_join(note, len, "\n", 1, &len);
                c = nt_join(a, len, line, strlen(line), &len);
                free(a);
            } else {
                char *a = nt_join(note, len, "\n", 1, &len);
                c = nt_join(a, len, line, strlen(line), &len);
                free(a);
            }
            note = c;
            cosigned = 1;
        }
    }
    rc = ldg_cosig_verify(note, len, nt.wvkey, &tt);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ENOTFOUND || rc == LDG_EBADSIG ||
                rc == LDG_EBADINPUT || rc == LDG_ENOMEM);
    nt.last = rc;
    if (cosigned) {
        /* our line is there: found, or another line refused */
        FUZZ_ASSERT(rc != LDG_ENOTFOUND);
        if (tl0 == 0)
            FUZZ_ASSERT(rc == 0 && tt == t); /* only our lines */
    }
    if (rc != 0)
        goto out; /* (*time_s may hold a line's time: it is not promised) */
    FUZZ_ASSERT(tt < NT_TIME_MAX && (!cosigned || tt >= t));
    tl = ldg_note_text_len(note, len);
    FUZZ_ASSERT(tl > 0 && tl + 1 < len);
    {
        /* the line the key makes at that time is there, whole */
        char *again = NULL;
        const char *at = note + tl + 1, *hit;
        FUZZ_ASSERT(ldg_cosig_sign(&again, note, tl, NT_WNAME, nt.wit, tt) ==
                    0);
        hit = memmem(at, len - tl - 1, again, strlen(again));
        FUZZ_ASSERT(hit != NULL && (hit == at || hit[-1] == '\n'));
        free(again);
    }
    /* only with its key */
    rc = ldg_cosig_verify(note, len, nt.ovkey, NULL);
    FUZZ_ASSERT(rc == LDG_ENOTFOUND || rc == LDG_EBADSIG);
    vks[0] = nt.wvkey;
    vks[1] = nt.ovkey;
    rc = ldg_cosig_count(note, len, vks, 2, got);
    FUZZ_ASSERT(rc == LDG_EBADSIG || (rc == 1 && got[0] == 1 && got[1] == 0));
    /* a signed-note key (type 0x01) is no cosigner key */
    FUZZ_ASSERT(ldg_note_verifier(vk, sizeof vk, NT_WNAME, nt.wit->pub) > 0);
    FUZZ_ASSERT(ldg_cosig_verify(note, len, vk, NULL) == LDG_EBADINPUT);
    copy = nt_join(note, len, "", 0, &len);
    for (size_t k = 0; k < 3; k++) {
        size_t at = k * (tl - 1) / 2;
        copy[at] ^= 0x01;
        FUZZ_ASSERT(ldg_cosig_verify(copy, len, nt.wvkey, NULL) != 0);
        copy[at] ^= 0x01;
    }
    free(copy);
    /* a cosignature leaves the log's signature valid */
    if (logged && tl0 == 0) {
        size_t x;
        FUZZ_ASSERT(ldg_note_verify(note, len, lname, nt.log->pub, &x) == 0 &&
                    x == tl);
    }
out:
    free(line);
    free(c);
    free(s);
}

/* -------------------------------------------------------- 3: witness -- */

struct nt_held {
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[32];
};

/* The status c2sp.org/tlog-witness (and fleet/fleet.h) gives body against
 * what the witness holds (held, nheld). */
static int
nt_witness_model(const char *body, size_t len, struct nt_held *held,
                 size_t nheld, struct nt_held *now)
{
    static const uint8_t empty[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
        0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
        0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    uint8_t proof[LDG_PROOF_MAX][32];
    const char *ck = NULL;
    const uint8_t *hr = empty;
    size_t n = 0, cklen = 0, tl = 0, x;
    uint64_t old = 0, hs = 0;

    if (ldg_tlog_consistency_parse(body, len, &old, proof, &n, &ck, &cklen) <
            0 ||
        ldg_fleet_note_text_len(ck, cklen, &tl) < 0 ||
        ldg_checkpoint_parse(ck, tl, now->origin, sizeof now->origin,
                             &now->size, now->root) < 0)
        return 400;
    FUZZ_ASSERT(n <= 63 && ck > body && ck + cklen == body + len);
    if (memchr(ck, '\0', cklen) == NULL) {
        /* formatted again: the same bytes */
        char *cks = nt_join(ck, cklen, "", 0, &x), *f = NULL;
        FUZZ_ASSERT(ldg_tlog_consistency_format(
                        &f, old, (const uint8_t(*)[32])proof, n, cks) == 0);
        FUZZ_ASSERT(strlen(f) == len && memcmp(f, body, len) == 0);
        free(f);
        free(cks);
    }
    if (strcmp(now->origin, NT_ORIGIN) != 0)
        return 404;
    if (ldg_note_verify(ck, cklen, NT_ORIGIN, nt.log->pub, &x) != 0 &&
        ldg_note_verify(ck, cklen, NT_ORIGIN, nt.seed_pub, &x) != 0)
        return 403;
    if (old > now->size)
        return 400;
    for (size_t i = 0; i < nheld; i++)
        if (strcmp(held[i].origin, now->origin) == 0) {
            hs = held[i].size;
            hr = held[i].root;
        }
    if (old != hs)
        return 409;
    if (old == now->size && memcmp(hr, now->root, 32) != 0)
        return 409;
    if (ldg_tlog_verify_consistency(old, now->size, hr, now->root,
                                    (const uint8_t(*)[32])proof, n) < 0)
        return 422;
    return 200;
}

static void
nt_witness_one(const char *body, size_t len, struct nt_held *held,
               size_t *nheld)
{
    struct ldg_witness_reply r;
    struct nt_held now;
    uint64_t hs = 0;
    int want, rc;

    memset(&now, 0, sizeof now);
    want = nt_witness_model(body, len, held, *nheld, &now);

    for (size_t i = 0; i < *nheld; i++)
        if (strcmp(held[i].origin, now.origin) == 0)
            hs = held[i].size;
    rc = ldg_witness_add_checkpoint(nt.w, body, len, NT_NOW, &r);
    if (rc == LDG_ENOMEM)
        return;
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(r.status == want);
    FUZZ_ASSERT(r.body != NULL && r.body_len > 0 &&
                r.body_len == strlen(r.body) && r.ctype != NULL);
    FUZZ_ASSERT(memchr(r.why, '\0', sizeof r.why) != NULL && r.why[0] != '\0');
    nt.last = want == 200 ? 0 : -want;
    if (want == 409) {
        char sz[32];
        snprintf(sz, sizeof sz, "%llu\n", (unsigned long long)hs);
        FUZZ_ASSERT(strcmp(r.body, sz) == 0);
    }
    if (want == 200) {
        /* a cosignature line of the checkpoint's text by the witness key,
         * at the request's time */
        uint8_t proof[LDG_PROOF_MAX][32];
        const char *ck;
        size_t n, cklen, tl, cl;
        uint64_t old, t = 0;
        char *c, *a;
        FUZZ_ASSERT(ldg_tlog_consistency_parse(body, len, &old, proof, &n, &ck,
                                               &cklen) == 0 &&
                    ldg_fleet_note_text_len(ck, cklen, &tl) == 0);
        FUZZ_ASSERT(memcmp(r.body, NT_DASH " " NT_WNAME " ",
                           strlen(NT_DASH " " NT_WNAME " ")) == 0 &&
                    memchr(r.body, '\n', r.body_len) ==
                        r.body + r.body_len - 1);
        a = nt_join(ck, tl + 1, r.body, r.body_len, &cl);
        FUZZ_ASSERT(ldg_cosig_verify(a, cl, nt.wvkey, &t) == 0 && t == NT_NOW);
        FUZZ_ASSERT(ldg_cosig_verify(a, cl, nt.ovkey, NULL) == LDG_ENOTFOUND);
        free(a);
        c = nt_join(ck, cklen, r.body, r.body_len, &cl);
        rc = ldg_cosig_verify(c, cl, nt.wvkey, &t);
        FUZZ_ASSERT(rc == 0 || rc == LDG_EBADSIG);
        free(c);
        /* what the witness holds now */
        size_t i = 0;
        while (i < *nheld && strcmp(held[i].origin, now.origin) != 0)
            i++;
        FUZZ_ASSERT(i < 2);
        held[i] = now;
        if (i == *nheld)
            (*nheld)++;
    }
    ldg_witness_reply_release(&r);
}

/* body with the checkpoint inside it signed (when it parses); *len. */
static char *
nt_witness_sign(const char *body, size_t len, size_t *out_len)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    char name[LDG_ORIGIN_MAX + 1], *s, *o;
    const char *ck;
    size_t n, cklen, sl, rl;
    uint64_t old;

    if (ldg_tlog_consistency_parse(body, len, &old, proof, &n, &ck, &cklen) < 0)
        return NULL;
    nt_name_for(ck, cklen, name);
    s = nt_sign(ck, cklen, name, nt.log, NULL, &sl, &rl);
    if (s == NULL)
        return NULL;
    o = nt_join(body, (size_t)(ck - body), s, sl, out_len);
    free(s);
    return o;
}

static void
nt_witness(const uint8_t *in, size_t n, int sign)
{
    struct nt_held held[2];
    size_t nheld = 0, first = (size_t)in[0] << 8 | in[1];
    char p[400];

    memset(held, 0, sizeof held);
    in += 2;
    n -= 2;
    if (first > n)
        first = n;
    for (int k = 0; k < 2; k++) {
        const char *body = (const char *)in + (k == 0 ? 0 : first);
        size_t len = first == 0 ? n : k == 0 ? first : n - first, sl;
        char *s = NULL;
        if (first == 0 && k == 1)
            break;
        if (sign && (s = nt_witness_sign(body, len, &sl)) != NULL) {
            body = s;
            len = sl;
        }
        nt_witness_one(body, len, held, &nheld);
        free(s);
    }
    /* a fresh witness for the next input */
    snprintf(p, sizeof p, "%s/state", nt.wdir);
    nt_rm_files(p);
    snprintf(p, sizeof p, "%s/refused", nt.wdir);
    nt_rm_files(p);
}

/* ----------------------------------------------------------- 4: vkey -- */

static void
nt_vkey_same(const char *s, const char *formatted)
{
    /* the key ID's hex digits are read in either case */
    char low[NT_VKEY_CAP];
    const char *plus = strchr(s, '+');
    FUZZ_ASSERT(plus != NULL && strlen(s) < sizeof low);
    snprintf(low, sizeof low, "%s", s);
    for (size_t i = (size_t)(plus - s) + 1; i < (size_t)(plus - s) + 9; i++)
        if (low[i] >= 'A' && low[i] <= 'F')
            low[i] = (char)(low[i] - 'A' + 'a');
    FUZZ_ASSERT(strcmp(low, formatted) == 0);
}

static void
nt_vkey(const uint8_t *in, size_t n)
{
    char *s =
        nt_join((const char *)in, strnlen((const char *)in, n), "", 0, &n);
    char name[LDG_ORIGIN_MAX + 1], name2[LDG_ORIGIN_MAX + 1], f[NT_VKEY_CAP];
    uint8_t pub[32], pub2[32];
    int r1, r2;

    memset(name, 0x5a, sizeof name);
    memset(pub, 0x5a, sizeof pub);
    memset(name2, 0x5a, sizeof name2);
    memset(pub2, 0x5a, sizeof pub2);
    r1 = ldg_note_parse_verifier(s, name, sizeof name, pub);
    r2 = ldg_cosig_parse_verifier(s, name2, sizeof name2, pub2);
    FUZZ_ASSERT(r1 == 0 || r1 == LDG_EBADINPUT);
    FUZZ_ASSERT(r2 == 0 || r2 == LDG_EBADINPUT);
    FUZZ_ASSERT(r1 != 0 || r2 != 0); /* the type byte is one or the other */
    nt.last = r1 == 0 || r2 == 0 ? 0 : LDG_EBADINPUT;
    if (r1 == 0) {
        FUZZ_ASSERT(ldg_note_name_valid(name));
        FUZZ_ASSERT(ldg_note_verifier(f, sizeof f, name, pub) > 0);
        nt_vkey_same(s, f);
        /* a name buffer too short */
        FUZZ_ASSERT(ldg_note_parse_verifier(s, name2, strlen(name), pub2) ==
                    LDG_EBADINPUT);
    } else {
        for (size_t i = 0; i < sizeof name; i++)
            FUZZ_ASSERT(name[i] == 0x5a);
        for (size_t i = 0; i < sizeof pub; i++)
            FUZZ_ASSERT(pub[i] == 0x5a);
    }
    if (r2 == 0) {
        FUZZ_ASSERT(ldg_note_name_valid(name2));
        FUZZ_ASSERT(ldg_cosig_verifier(f, sizeof f, name2, pub2) > 0);
        nt_vkey_same(s, f);
    } else if (r1 != 0) {
        for (size_t i = 0; i < sizeof name2; i++)
            FUZZ_ASSERT(name2[i] == 0x5a);
        for (size_t i = 0; i < sizeof pub2; i++)
            FUZZ_ASSERT(pub2[i] == 0x5a);
    }
    free(s);
}

/* ---------------------------------------------------------- 5: proof -- */

/* The proof text formatted again from what it parses to. */
static void
nt_proof_again(const char *text, size_t len, uint64_t index,
               const uint8_t (*proof)[32], size_t n, const char *ck,
               size_t cklen)
{
    static const char magic[] = "c2sp.org/tlog-proof@v1\n";
    const char *extra = text + strlen(magic), *after = extra;
    char *cks, *f = NULL, *want;
    size_t x, wl;

    if (memchr(ck, '\0', cklen) != NULL)
        return;
    if (strncmp(extra, "extra ", 6) == 0)
        after = (const char *)memchr(extra, '\n', len - strlen(magic)) + 1;
    cks = nt_join(ck, cklen, "", 0, &x);
    FUZZ_ASSERT(ldg_tlog_proof_format(&f, index, proof, n, cks) == 0);
    want =
        nt_join(text, strlen(magic), after, (size_t)(text + len - after), &wl);
    FUZZ_ASSERT(strlen(f) == wl && memcmp(f, want, wl) == 0);
    free(want);
    free(f);
    free(cks);
}

static void
nt_proof(const uint8_t *in, size_t n, int sign, int seedkey)
{
    size_t elen = (size_t)in[0] << 8 | in[1], plen, cklen = 0, np = 0, x;
    const uint8_t *entry = in + 2;
    const char *text, *ck = NULL;
    char vkey[NT_VKEY_CAP], name[LDG_ORIGIN_MAX + 1], err[256], *s = NULL;
    uint8_t proof[LDG_PROOF_MAX][32], root[32], r2[32], leaf[32];
    uint64_t index = 0, size = NT_SENT, idx = NT_SENT, s2;
    int prc, rc;

    if (n < 2 + elen)
        return;
    text = (const char *)in + 2 + elen;
    plen = n - 2 - elen;
    prc = ldg_tlog_proof_parse(text, plen, &index, proof, &np, &ck, &cklen);
    FUZZ_ASSERT(prc == 0 || prc == LDG_EBADINPUT);
    if (prc == 0) {
        FUZZ_ASSERT(np <= LDG_PROOF_MAX && ck > text &&
                    ck + cklen == text + plen && cklen > 0);
        nt_proof_again(text, plen, index, (const uint8_t(*)[32])proof, np, ck,
                       cklen);
        nt_name_for(ck, cklen, name);
        if (sign) {
            size_t rl;
            char *sn = nt_sign(ck, cklen, name, nt.log, NULL, &x, &rl);
            if (sn != NULL) {
                s = nt_join(text, (size_t)(ck - text), sn, x, &plen);
                text = s;
                free(sn);
            }
        }
    } else {
        snprintf(name, sizeof name, "%s", NT_FALLBACK);
    }
    if (seedkey)
        snprintf(vkey, sizeof vkey, "%s", nt_seed_vkey);
    else
        FUZZ_ASSERT(ldg_note_verifier(vkey, sizeof vkey, name, nt.log->pub) >
                    0);
    memset(root, 0x5a, sizeof root);
    memset(err, 0, sizeof err);
    rc = ldg_proof_check(vkey, text, plen, entry, elen, &idx, &size, root, err,
                         sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_EBADSIG ||
                rc == LDG_EBADPROOF || rc == LDG_ENOMEM);
    nt.last = rc;
    if (rc != 0) {
        FUZZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        FUZZ_ASSERT(idx == NT_SENT && size == NT_SENT);
        for (size_t i = 0; i < 32; i++)
            FUZZ_ASSERT(root[i] == 0x5a);
        free(s);
        return;
    }
    FUZZ_ASSERT(idx < size);
    FUZZ_ASSERT(ldg_tlog_proof_parse(text, plen, &index, proof, &np, &ck,
                                     &cklen) == 0 &&
                index == idx);
    {
        char o[LDG_ORIGIN_MAX + 1];
        FUZZ_ASSERT(
            ldg_checkpoint_open(vkey, ck, cklen, o, sizeof o, &s2, r2) == 0 &&
            s2 == size && memcmp(r2, root, 32) == 0);
    }
    ldg_tlog_leaf_hash(leaf, entry, elen);
    FUZZ_ASSERT(ldg_tlog_verify_inclusion(leaf, idx, size,
                                          (const uint8_t(*)[32])proof, np,
                                          root) == 0);
    /* another entry: one byte more */
    {
        uint8_t *e2 = malloc(elen + 1);
        FUZZ_ASSERT(e2 != NULL);
        memcpy(e2, entry, elen);
        e2[elen] = 0;
        FUZZ_ASSERT(ldg_proof_check(vkey, text, plen, e2, elen + 1, NULL, NULL,
                                    NULL, err, sizeof err) == LDG_EBADPROOF);
        free(e2);
    }
    free(s);
}

/* ---------------------------------------------------------- 6: check -- */

static void
nt_check(const uint8_t *in, size_t n, int sign, int patch)
{
    char *base = NULL, *work = NULL, *s = NULL, o[LDG_ORIGIN_MAX + 1];
    const char *note = (const char *)in;
    size_t len = n, tl = 0, rl;
    uint8_t root[32], truth[32];
    uint64_t size = 0, got = NT_SENT, psize = 0;
    struct ldg_txn *t;
    int rc, vrc, want, signed_here = 0;

    if (ldg_txn_begin(nt.l, LDG_TXN_READ, &t) < 0)
        abort();
    if (patch) {
        char text[LDG_ORIGIN_MAX + 128];
        size_t blen, off, del, ins;
        int w;
        if (n < 4)
            goto out;
        size = in[0] % (nt.lsize + 2);
        if (ldg_tree_root(t, size, truth) < 0)
            memset(truth, 0, sizeof truth);
        w = ldg_checkpoint_text(text, sizeof text, ldg_origin(nt.l), size,
                                truth);
        FUZZ_ASSERT(w > 0);
        if (sign)
            base = nt_join(text, (size_t)w, "", 0, &blen);
        else
            FUZZ_ASSERT(ldg_log_sign_note(nt.l, text, (size_t)w, &base) == 0);
        blen = strlen(base);
        off = ((size_t)in[1] << 8 | in[2]) % (blen + 1);
        del = in[3] < blen - off ? in[3] : blen - off;
        ins = n - 4;
        work = malloc(blen - del + ins + 1);
        FUZZ_ASSERT(work != NULL);
        memcpy(work, base, off);
        memcpy(work + off, in + 4, ins);
        memcpy(work + off + ins, base + off + del, blen - off - del);
        len = blen - del + ins;
        work[len] = '\0';
        note = work;
    }
    if (sign && (s = nt_sign(note, len, NULL, NULL, nt.l, &len, &rl))) {
        note = s;
        signed_here = 1;
    }
    rc = ldg_checkpoint_check(t, note, len, &got);
    /* what the ledger's key and tree say */
    vrc = ldg_note_verify_vkey(nt.lvkey, note, len, &tl);
    if (vrc < 0)
        want = vrc;
    else if (ldg_checkpoint_parse(note, tl, o, sizeof o, &psize, root) < 0 ||
             strcmp(o, ldg_origin(nt.l)) != 0)
        want = LDG_EBADINPUT;
    else if (psize > NT_TIME_MAX)
        want = LDG_EINVAL; /* (the tree's answer above 2^63 leaves) */
    else if (psize > nt.lsize)
        want = LDG_ENOTFOUND;
    else {
        FUZZ_ASSERT(ldg_tree_root(t, psize, truth) == 0);
        want = memcmp(truth, root, 32) == 0 ? 0 : LDG_ETAMPER;
    }
    FUZZ_ASSERT(rc == want);
    nt.last = rc;
    if (rc == LDG_ETAMPER)
        FUZZ_ASSERT(signed_here); /* the log signed only its true roots */
    if (rc == 0 || rc == LDG_ETAMPER || rc == LDG_ENOTFOUND) {
        FUZZ_ASSERT(got == psize);
        FUZZ_ASSERT(ldg_checkpoint_check_root(t, note, len, &got) == rc);
    }
out:
    ldg_txn_abort(t);
    free(s);
    free(work);
    free(base);
}

/* ------------------------------------------------------------- entry -- */

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    int sign, alt;

    if (!nt.ready)
        nt_setup();
    nt.last = 1;
    if (size < 1)
        return 0;
    sign = (data[0] & 8) != 0;
    alt = (data[0] & 16) != 0;
    switch ((data[0] & 7) % 7) {
    case 0:
        nt_note(data + 1, size - 1, sign, alt);
        break;
    case 1:
        nt_checkpoint(data + 1, size - 1, sign, alt);
        break;
    case 2:
        if (size >= 9)
            nt_cosig(data + 1, size - 1, sign, alt);
        break;
    case 3:
        if (size >= 3)
            nt_witness(data + 1, size - 1, sign);
        break;
    case 4:
        nt_vkey(data + 1, size - 1);
        break;
    case 5:
        if (size >= 3)
            nt_proof(data + 1, size - 1, sign, alt);
        break;
    default:
        nt_check(data + 1, size - 1, sign, alt);
        break;
    }
    return 0;
}
