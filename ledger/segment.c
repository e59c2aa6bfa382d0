/*
 * segment.c — the archive of a contiguous range of events (module.h,
 * "segments"; docs/FORMAT.md section 11 states every byte).
 *
 * A segment is one zstd frame. Its content, the stream, is the magic line
 * and then records, each a kind byte, a length and that many bytes:
 *
 *   stream  = "ledger.segment/v1\n" record*
 *   record  = kind[1] ‖ uvarint(len) ‖ payload[len]
 *
 *   +------+--------+-------------+
 *   | kind | len    | payload     |    uvarint: LEB128, the shortest
 *   +------+--------+-------------+    form, at most 5 bytes (< 2^32)
 *
 * in this order (K_* below; '?' optional, '*' any number):
 *
 *   HEADER       canonical map {codec, end, first, format, key, origin}
 *   HORIZON?     an earlier prune's horizon record (FORMAT.md 6.2)
 *   EDGE         first > 0: prev (the leaf of event first-1) ‖ the hashes
 *                of the complete subtrees covering [0, first), left to
 *                right; first = 0: empty
 *   CHECKPOINT   the signed checkpoint of size N >= end
 *   CONSISTENCY? N > end: the consistency proof from end to N (32 each)
 *   PROVEN*      events before first that the range needs (key events,
 *                the genesis): entry, body, inclusion path in N, seal
 *   then for each event first..end-1:
 *     SEAL?      format 2, before the first event of a seal: its record
 *     ENTRY      the entry less prev (and a sealed entry's claim digest)
 *     BODY|ERASED  the stored body record, or nothing: erased
 *   PROVEN*      events at or after end the range needs (the body.erased
 *                of a body of the range, their keys' events)
 *   STATE?       the projected state at end (JSON text)
 *   STATE_NOTE?  its signed projection note (with STATE only)
 *   TRAILER      a signed note by the log key: "ledger.segment/v1",
 *                origin, first, end, checkpoint, state (the SHA-256 of
 *                STATE's bytes, or "none")
 *
 * Nothing follows the trailer. This file keeps the format (the record
 * kinds, the header, the ENTRY codec, the trailer's text); the writer and
 * the one-pass verifier are its neighbours (segment_int.h lists them);
 * neither holds the events: a record at a time, the keys, one open seal
 * per key (a tree's right edge each) and the left edge of the tree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

const char *
ldg_segment_check_name(enum ldg_segment_check c)
{
    static const char *const names[LDG_SEGCHK_COUNT] = {
        "container", "header", "log-key", "checkpoint", "horizon",
        "keys",      "chain",  "seals",   "bodies",     "erasures",
        "tree",      "state",  "trailer"};
    return (unsigned)c < LDG_SEGCHK_COUNT ? names[c] : "?";
}

void
ldg_segment_info_release(struct ldg_segment_info *i)
{
    if (i == NULL)
        return;
    free(i->checkpoint);
    free(i->horizon);
    free(i->state);
    free(i->state_note);
    i->checkpoint = NULL;
    i->horizon = NULL;
    i->state = NULL;
    i->state_note = NULL;
    i->checkpoint_len = i->horizon_len = i->state_len = i->state_note_len = 0;
}

/* ------------------------------------------------------- entry codec -- */

/*
 * Codec 1: an ENTRY record is the entry as store layouts 5 and 6 keep it
 * (the "cut" stored entry record, FORMAT.md 11.4): the entry less the
 * bytes a reader derives, a sealed one's claim digest among them whatever
 * layout the store is at (layouts 7 and 8 keep it in the store; a segment does
 * not, so its bytes are the same from any store).
 *
 *   sealed:    0x92 ‖ claim ‖ stamp⁻
 *              stamp⁻: the stamp less its "digest" key and value, its
 *              header fixmap(n-1); the entry is
 *              0x93 ‖ claim ‖ (0x80|n) ‖ a6 "digest" c4 20 d[32] ‖
 *              stamp⁻[1..] ‖ c4 20 prev[32]
 *   format 1:  0x92 ‖ event-map ‖ c4 40 sig[64]
 *              the entry: 0x93 ‖ event-map ‖ c4 20 prev[32] ‖ c4 40 sig[64]
 *
 * d = SHA-256("ledger/claim/v1" ‖ 0x00 ‖ claim); prev is the leaf hash of
 * the event before. pack and unpack are each other's inverse on every
 * entry the strict decoder accepts; unpack's output is decoded strictly
 * after. (ledger/ keeps one codec of these bytes: codec_stored.c's.)
 */
size_t
seg_uv_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* The shortest form only, < 2^32: 0 and *v, or -1. */
int
seg_uv_get(const uint8_t *p, size_t avail, uint64_t *v, size_t *used)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 5 && i < avail; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i > 0 && p[i] == 0)
                return -1; /* not the shortest form */
            if (x > 0xffffffffu)
                return -1;
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return -1;
}

/* An ENTRY record is the entry as store layouts 5 and 6 keep it
 * (FORMAT.md 6.1, ledger/codec_stored.c): without prev and a sealed
 * entry's claim digest, whatever the layout of the store it comes from
 * (a layout 7 or 8 record has its digest cut; an older layout's whole entry is
 * cut to that form), so that an archive's bytes depend on its events
 * alone. The record's kind must be the ledger's format's. */
int
seg_entry_pack(int format, const uint8_t *e, size_t n, uint8_t *out, size_t cap,
               size_t *olen)
{
    size_t m;
    int sealed, rc;
    if ((rc = ldg_entry_stored(e, n, 0, out, cap, olen)) < 0 ||
        (rc = ldg_entry_stored_parts(out, *olen, &m, &sealed)) < 0)
        return rc;
    return sealed == (format >= 2) ? 0 : LDG_ECORRUPT;
}

/* out needs LDG_ENTRY_MAX + 1 bytes. A sealed ENTRY with its claim digest
 * is not the one form a segment has: refused. */
int
seg_entry_unpack(int format, const uint8_t *p, size_t n, const uint8_t prev[32],
                 uint8_t *out, size_t *olen)
{
    size_t m;
    int sealed;
    if (ldg_entry_stored_parts(p, n, &m, &sealed) < 0 ||
        sealed != (format >= 2) || (sealed && ldg_entry_stored_digest(p, n, m)))
        return LDG_ECORRUPT;
    return ldg_entry_whole(p, n, prev, out, LDG_ENTRY_MAX + 1, olen) < 0
               ? LDG_ECORRUPT
               : 0;
}

/* ------------------------------------------------------------ header -- */

static const char *const hdr_keys[6] = {"codec",  "end", "first",
                                        "format", "key", "origin"};

int
seg_hdr_encode(const struct seg_hdr *h, uint8_t *out, size_t cap, size_t *len)
{
    struct wr w = {out, 0, cap, 0};
    w_byte(&w, 0x86);
    w_key(&w, "codec");
    w_uint(&w, h->codec);
    w_key(&w, "end");
    w_uint(&w, h->end);
    w_key(&w, "first");
    w_uint(&w, h->first);
    w_key(&w, "format");
    w_uint(&w, h->format);
    w_key(&w, "key");
    w_bin(&w, h->key, 32);
    w_key(&w, "origin");
    w_str(&w, h->origin, strlen(h->origin));
    *len = w.n;
    return w.err;
}

int
seg_hdr_decode(const uint8_t *p, size_t n, struct seg_hdr *h)
{
    struct rd r = {p, p + n};
    unsigned m;
    const char *s;
    size_t sl;

    memset(h, 0, sizeof *h);
    if (r_map(&r, &m) < 0 || m != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        int rc = 0;
        if (r_key(&r, hdr_keys, 6, i) != i)
            return -1;
        switch (i) {
        case 0:
            rc = r_uint(&r, &h->codec);
            break;
        case 1:
            rc = r_uint(&r, &h->end);
            break;
        case 2:
            rc = r_uint(&r, &h->first);
            break;
        case 3:
            rc = r_uint(&r, &h->format);
            break;
        case 4:
            rc = r_bin(&r, h->key, 32);
            break;
        default:
            rc = r_str(&r, &s, &sl);
            if (rc == 0 && (sl == 0 || sl > LDG_ORIGIN_MAX || memchr(s, 0, sl)))
                rc = -1;
            if (rc == 0) {
                memcpy(h->origin, s, sl);
                h->origin[sl] = '\0';
            }
            break;
        }
        if (rc < 0)
            return -1;
    }
    return r.p == r.end ? 0 : -1;
}

/* The trailer's text (NUL-terminated in buf). */
int
seg_trailer_text(char *buf, size_t cap, const char *origin, uint64_t first,
                 uint64_t end, uint64_t n, const uint8_t *state_sha)
{
    char hex[65];
    int k;
    if (state_sha != NULL)
        ldg_hex(hex, state_sha, 32);
    k = snprintf(buf, cap,
                 SEG_TRAILER_LINE "\norigin %s\nfirst %" PRIu64 "\nend %" PRIu64
                                  "\ncheckpoint %" PRIu64 "\nstate %s\n",
                 origin, first, end, n, state_sha ? hex : "none");
    return k > 0 && (size_t)k < cap ? 0 : LDG_ETOOBIG;
}
