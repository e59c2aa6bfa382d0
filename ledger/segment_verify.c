/*
 * segment_verify.c — the segment verifier's one pass (segment_int.h): the
 * stream's records stage by stage in the order FORMAT.md 11.1 allows,
 * the checks of each record, and what only the end can say.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

/* The earlier prune's record: the keys as they stood at its horizon
 * (with their sealed counts when it is this segment's first event), and
 * where the chain goes on from. */
static int
take_horizon(struct sv *s, const uint8_t *p, size_t n)
{
    struct ldg_horizon hz;
    int rc;

    if (ldg_horizon_parse(p, n, &hz) < 0)
        return seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                         "the horizon record it carries does not decode");
    rc = 0;
    if (s->check && ldg_horizon_check_sig(&hz, s->pub) != 0)
        rc =
            seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                      "the horizon record's signature does not verify with the "
                      "log key");
    else if (strcmp(hz.origin, s->h.origin) != 0)
        rc = seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                       "the horizon record names another log (%s)", hz.origin);
    else if (hz.seq > s->h.first)
        rc = seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                       "the horizon record is at %" PRIu64
                       ", after the segment's first event %" PRIu64,
                       hz.seq, s->h.first);
    for (size_t i = 0; rc == 0 && i < hz.nkeys; i++) {
        const struct ldg_horizon_key *hk = &hz.keys[i];
        struct skey *k;
        if (hk->added >= hz.seq || seg_key_find(s, hk->key_id) != NULL) {
            rc = seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                           "the horizon record lists key %s twice, or as added "
                           "after its horizon",
                           hk->key_id);
            break;
        }
        if ((k = seg_key_add(s, hk->key_id, hk->pub, hk->added)) == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        snprintf(k->name, sizeof k->name, "%s", hk->name);
        k->revoked = hk->revoked;
        k->roles = ldg_horizon_roles_mask(hk->roles);
        k->sealed = hk->sealed;
        k->sealed_known = hz.seq == s->h.first;
        if (hk->added == 0 && memcmp(hk->pub, s->h.key, 32) != 0)
            rc = seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                           "the horizon record's log key is not the segment's");
        if (rc == 0 && hk->anchored)
            rc = seg_anchor_at_horizon(s, k, hk);
    }
    if (rc == 0 && hz.seq == s->h.first) {
        /* the chain goes on from the record's last leaf and time */
        memcpy(s->prev, hz.leaf, 32);
        s->last_ts = hz.ts_ns;
        s->ts_known = 1;
    }
    if (rc == 0) {
        s->r->info.horizon_seq = hz.seq;
        free(s->r->info.horizon);
        if ((s->r->info.horizon = malloc(n)) == NULL)
            rc = LDG_ENOMEM;
        else {
            memcpy(s->r->info.horizon, p, n);
            s->r->info.horizon_len = n;
        }
    }
    ldg_horizon_release(&hz);
    return rc;
}

static int
take_edge(struct sv *s, const uint8_t *p, size_t n, int have_hz, uint64_t hzseq)
{
    size_t want = 0;
    uint64_t f = s->h.first;
    int i = 0;

    for (int b = 0; b < 64; b++)
        want += f >> b & 1;
    if (n != (f ? 32 * (want + 1) : 0))
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "its left edge holds %zu bytes, not the %zu of %zu "
                         "hashes and the leaf before its first event",
                         n, f ? 32 * (want + 1) : 0, want);
    if (f == 0)
        return 0;
    if (have_hz && hzseq == f && memcmp(p, s->prev, 32) != 0)
        return seg_vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                         "the leaf before its first event is not the one the "
                         "horizon record names");
    LDG_ASSERT(s->fn == 0);
    memcpy(s->prev, p, 32);
    for (int b = 63; b >= 0; b--)
        if (f >> b & 1)
            seg_tree_push(s, p + 32 * (1 + i++), b);
    return 0;
}

/* The checkpoint: the log key's, this origin, a size at or after end. */
static int
take_checkpoint(struct sv *s, const uint8_t *p, size_t n)
{
    char origin[LDG_ORIGIN_MAX + 1];
    size_t tl;
    int rc;

    if ((s->r->info.checkpoint = malloc(n + 1)) == NULL)
        return LDG_ENOMEM;
    memcpy(s->r->info.checkpoint, p, n);
    s->r->info.checkpoint[n] = '\0';
    s->r->info.checkpoint_len = n;
    tl = 0;
    rc = ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl);
    if (rc == LDG_EBADSIG && s->check)
        return seg_vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                         "its checkpoint is not signed by the log key");
    if (rc == LDG_EBADSIG) {
        /* (read, not checked: the text is up to the blank line) */
        tl = ldg_note_text_len((const char *)p, n);
        if (tl == 0)
            return seg_vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                             "its checkpoint is not a signed note");
        rc = 0;
    }
    if ((rc < 0 && rc != LDG_EBADSIG) ||
        ldg_checkpoint_parse((const char *)p, tl, origin, sizeof origin, &s->n,
                             s->root) < 0)
        return seg_vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                         "its checkpoint is not a signed checkpoint note");
    if (strcmp(origin, s->h.origin) != 0)
        return seg_vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                         "its checkpoint is of another log (%s)", origin);
    if (s->n < s->h.end)
        return seg_vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                         "its checkpoint is of size %" PRIu64
                         ", before the end of its events (%" PRIu64 ")",
                         s->n, s->h.end);
    s->r->info.checkpoint_size = s->n;
    memcpy(s->r->info.root, s->root, 32);
    return 0;
}

/* The state: a JSON object whose "size" is end (a decimal string). */
static int
check_state_json(struct sv *s, const uint8_t *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    const char *size = json_string_value(json_object_get(j, "size"));
    char want[24];
    int ok;
    snprintf(want, sizeof want, "%" PRIu64, s->h.end);
    ok = json_is_object(j) && size != NULL && strcmp(size, want) == 0;
    json_decref(j);
    return ok ? 0
              : seg_vfail(s, LDG_SEGCHK_STATE, UINT64_MAX,
                          "its state is not a JSON object of the state at size "
                          "%" PRIu64,
                          s->h.end);
}

/* The state's note: the log key's, for this origin and size end. */
static int
take_state_note(struct sv *s, const uint8_t *p, size_t n)
{
    char want[LDG_ORIGIN_MAX + 80];
    size_t tl;

    if (s->o->keep_state) {
        if ((s->r->info.state_note = malloc(n + 1)) == NULL)
            return LDG_ENOMEM;
        memcpy(s->r->info.state_note, p, n);
        s->r->info.state_note[n] = '\0';
        s->r->info.state_note_len = n;
    }
    if (!s->check)
        return 0;
    if (ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl) != 0)
        return seg_vfail(s, LDG_SEGCHK_STATE, UINT64_MAX,
                         "the state's note is not signed by the log key");
    snprintf(want, sizeof want,
             "ledger-projections/v1\norigin %s\nsize %" PRIu64 "\n",
             s->h.origin, s->h.end);
    if (tl < strlen(want) || memcmp(p, want, strlen(want)) != 0)
        return seg_vfail(
            s, LDG_SEGCHK_STATE, UINT64_MAX,
            "the state's note is not a projection note of this log "
            "at size %" PRIu64,
            s->h.end);
    return 0;
}

static int
take_trailer(struct sv *s, const uint8_t *p, size_t n)
{
    char want[2 * LDG_ORIGIN_MAX + 200];
    size_t tl;

    if (!s->check)
        return 0;
    if (ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl) != 0)
        return seg_vfail(s, LDG_SEGCHK_TRAILER, UINT64_MAX,
                         "its trailer is not signed by the log key");
    seg_trailer_text(want, sizeof want, s->h.origin, s->h.first, s->h.end, s->n,
                     s->r->info.has_state ? s->r->info.state_sha256 : NULL);
    if (tl != strlen(want) || memcmp(p, want, tl) != 0)
        return seg_vfail(s, LDG_SEGCHK_TRAILER, UINT64_MAX,
                         "its signed trailer states another range, checkpoint "
                         "or state than the segment holds (it holds events "
                         "%" PRIu64 "..%" PRIu64 ", checkpoint %" PRIu64
                         ", %s)",
                         s->h.first, s->h.end - 1, s->n,
                         s->r->info.has_state ? "a state" : "no state");
    return 0;
}

/* The stages a stream goes through, in order. */
enum stage {
    S_HEADER,
    S_HORIZON, /* HORIZON? EDGE */
    S_CHECKPOINT,
    S_CONSISTENCY,
    S_PRIOR, /* PROVEN* before the range */
    S_RANGE, /* SEAL? ENTRY BODY|ERASED, each event */
    S_BODY,
    S_AFTER, /* PROVEN* after, STATE?, STATE_NOTE?, TRAILER */
    S_NOTE,
    S_TRAILER, /* (after the state's note) */
    S_DONE
};

static const char *
kind_name(uint8_t k)
{
    static const char *const n[] = {
        "?",           "header", "horizon",    "edge",    "checkpoint",
        "consistency", "proven", "seal",       "entry",   "body",
        "erased",      "state",  "state note", "trailer", "checkpoint epoch"};
    return k < sizeof n / sizeof n[0] ? n[k] : "unknown";
}

static int check_tree(struct sv *s);
static int check_ck_epoch(struct sv *s);

/* A record of a kind, order or count FORMAT.md 11.1 does not allow, named
 * with its offset in the stream (the magic is bytes 0..17). */
static int
misplaced(struct sv *s, const struct segr *rd, uint8_t kind, uint64_t seq,
          const char *where)
{
    if (kind < K_HEADER || kind > K_CHECKPOINT_EPOCH)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, seq,
                         "a record of no kind FORMAT.md 11.1 names (0x%02x) at "
                         "byte %" PRIu64 " of the stream, %s",
                         kind, rd->rec_at, where);
    return seg_vfail(s, LDG_SEGCHK_CONTAINER, seq,
                     "a %s record (kind 0x%02x) at byte %" PRIu64
                     " of the stream, %s",
                     kind_name(kind), kind, rd->rec_at, where);
}

/* Where the pass stands: its stage, the horizon seen, the event read. */
struct pass {
    enum stage st;
    int after_ck; /* the record before was the checkpoint */
    int have_hz;
    uint64_t hzseq;
    struct ldg_event ev;
    struct ldg_segment_event se;
};

/* The magic: the stream begins as a segment's. */
static int
read_magic(struct sv *s, struct segr *rd)
{
    uint8_t magic[LDG_SEGMENT_MAGIC_LEN];
    int rc = segr_read(rd, magic, sizeof magic);
    if (rc == 0 && memcmp(magic, LDG_SEGMENT_MAGIC, sizeof magic) == 0)
        return 0;
    if (rc == 1)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "not a segment: its stream is empty");
    if (rc < 0 && rc != LDG_EBADINPUT)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err),
               rc;
    if (rc != 0 && strncmp(rd->err, "not zstd", 8) != 0)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err);
    return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "not a segment: %s",
                     rc != 0 ? rd->err
                             : "its stream does not begin with "
                               "\"ledger.segment/v1\"");
}

/* Each kind's own bound, before the record is used. */
static int
record_bound(struct sv *s, const struct segr *rd, uint8_t kind, size_t n)
{
    uint64_t cap = kind == K_HEADER ? HEADER_MAX
                   : kind == K_EDGE ? EDGE_MAX
                   : kind == K_CHECKPOINT || kind == K_STATE_NOTE ||
                           kind == K_TRAILER || kind == K_CHECKPOINT_EPOCH
                       ? NOTE_MAX
                   : kind == K_CONSISTENCY ? 32 * LDG_PROOF_MAX
                   : kind == K_SEAL        ? LDG_SEAL_REC_MAX
                   : kind == K_ENTRY       ? LDG_ENTRY_MAX
                                           : UINT64_MAX;
    if (n > cap)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a %s record of %zu bytes at byte %" PRIu64
                         " of the stream: more than one may have",
                         kind_name(kind), n, rd->rec_at);
    return 0;
}

/* S_HEADER: the header, and the trusted key is its log's. */
static int
st_header(struct sv *s, uint8_t kind, const uint8_t *p, size_t n)
{
    if (kind != K_HEADER || seg_hdr_decode(p, n, &s->h) < 0)
        return seg_vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                         "its header record does not decode");
    if (s->h.codec != CODEC_V1 || s->h.format < 1 || s->h.format > 2) {
        seg_vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                  "codec %" PRIu64 " of format %" PRIu64
                  ": this build reads codec 1 of formats 1 and 2",
                  s->h.codec, s->h.format);
        return LDG_EVERSION;
    }
    if (s->h.end <= s->h.first)
        return seg_vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                         "its header's range is empty (first %" PRIu64
                         ", end %" PRIu64 ")",
                         s->h.first, s->h.end);
    s->r->readable = 1;
    s->r->info.format = (int)s->h.format;
    s->r->info.codec = (int)s->h.codec;
    snprintf(s->r->info.origin, sizeof s->r->info.origin, "%s", s->h.origin);
    memcpy(s->r->info.log_pub, s->h.key, 32);
    s->r->info.first = s->h.first;
    s->r->info.end = s->h.end;
    s->r->info.events = s->h.end - s->h.first;
    s->next_seq = s->h.first;
    ldg_key_id(s->log_id, s->h.key);
    if (s->o->trusted_vkey != NULL) {
        char name[LDG_ORIGIN_MAX + 1];
        if (ldg_note_parse_verifier(s->o->trusted_vkey, name, sizeof name,
                                    s->pub) < 0)
            return seg_vfail(s, LDG_SEGCHK_LOG_KEY, UINT64_MAX,
                             "the trusted key is not a verifier key");
        if (strcmp(name, s->h.origin) != 0 || memcmp(s->pub, s->h.key, 32) != 0)
            return seg_vfail(s, LDG_SEGCHK_LOG_KEY, UINT64_MAX,
                             "the segment is of the log %s, with another "
                             "key or origin than the trusted key's (%s): "
                             "another ledger's",
                             s->h.origin, name);
    } else {
        memcpy(s->pub, s->h.key, 32);
    }
    return 0;
}

/* S_HORIZON: HORIZON? then EDGE. */
static int
st_horizon(struct sv *s, struct pass *ps, const struct segr *rd, uint8_t kind,
           const uint8_t *p, size_t n)
{
    int rc;
    if (kind == K_HORIZON && !ps->have_hz) {
        if ((rc = take_horizon(s, p, n)) != 0)
            return rc;
        ps->have_hz = 1;
        ps->hzseq = s->r->info.horizon_seq;
        return 0;
    }
    if (kind != K_EDGE)
        return misplaced(s, rd, kind, UINT64_MAX,
                         kind == K_HORIZON
                             ? "a second one (at most one is allowed)"
                             : "where its left edge belongs");
    if ((rc = take_edge(s, p, n, ps->have_hz, ps->hzseq)) != 0)
        return rc;
    ps->st = S_CHECKPOINT;
    return 0;
}

/* S_CONSISTENCY: the proof from the range's end to the checkpoint. */
static int
st_consistency(struct sv *s, uint8_t kind, const uint8_t *p, size_t n)
{
    if (kind != K_CONSISTENCY)
        return seg_vfail(s, LDG_SEGCHK_TREE, UINT64_MAX,
                         "its checkpoint is of size %" PRIu64
                         ", after its last event %" PRIu64
                         ", and no consistency proof from %" PRIu64
                         " to it follows (a %s record instead)",
                         s->n, s->h.end - 1, s->h.end, kind_name(kind));
    if (n % 32 != 0)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "its consistency proof is not 32-byte hashes");
    memcpy(s->cproof, p, n);
    s->ncproof = n / 32;
    return 0;
}

/* A PROVEN record, before (after 0) or after the range. */
static int
st_proven(struct sv *s, struct pass *ps, const uint8_t *p, size_t n, int after)
{
    int rc;
    if ((rc = seg_proven_event(s, p, n, after, &ps->ev, &ps->se)) != 0)
        return rc;
    ps->se.where = after ? LDG_SEGMENT_AFTER : LDG_SEGMENT_PRIOR;
    if (s->o->event && (rc = s->o->event(s->o->ctx, &ps->se)) != 0)
        return rc;
    return 0;
}

/* S_RANGE: an event's SEAL? then its ENTRY. */
static int
st_range(struct sv *s, struct pass *ps, const struct segr *rd, uint8_t kind,
         const uint8_t *p, size_t n)
{
    if (kind == K_SEAL && s->h.format >= 2 && !s->have_seal) {
        if (ldg_seal_record_decode(p, n, &s->pend) < 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, s->next_seq,
                             "its seal record does not decode");
        if (s->pend.ext != NULL) { /* p is the reader's buffer */
            memcpy(s->pend_ext, s->pend.ext, s->pend.ext_len);
            s->pend.ext = s->pend_ext;
        }
        s->have_seal = 1;
        s->r->info.seals++;
        return 0;
    }
    if (kind != K_ENTRY)
        return misplaced(s, rd, kind, s->next_seq,
                         kind == K_SEAL && s->h.format >= 2
                             ? "a second seal record before its entry"
                             : "where its entry belongs");
    if (seg_entry_unpack((int)s->h.format, p, n, s->prev, s->entry, &n) < 0 ||
        ldg_event_decode(s->entry, n, &ps->ev) < 0)
        return seg_vfail(s, LDG_SEGCHK_CHAIN, s->next_seq,
                         "its entry does not decode");
    ps->st = S_BODY;
    return 0;
}

/* S_BODY: the event's BODY or ERASED, and the event checked whole. */
static int
st_body(struct sv *s, struct pass *ps, const struct segr *rd, uint8_t kind,
        const uint8_t *p, size_t n)
{
    int rc;
    if (kind != K_BODY && kind != K_ERASED)
        return misplaced(s, rd, kind, s->next_seq, "where its body belongs");
    if (kind == K_ERASED && n != 0)
        return seg_vfail(s, LDG_SEGCHK_CONTAINER, s->next_seq,
                         "an erased body's record is not empty");
    if (kind == K_BODY && (rc = seg_body_kind(s, ps->ev.seq, p, n)) != 0)
        return rc;
    if ((rc = seg_range_event(s, &ps->ev, kind == K_BODY ? p : NULL,
                              kind == K_BODY ? n : 0)) != 0)
        return rc;
    ps->se.where = LDG_SEGMENT_RANGE;
    ps->se.body = kind == K_BODY ? p : NULL;
    ps->se.body_len = kind == K_BODY ? n : 0;
    if (s->o->event && (rc = s->o->event(s->o->ctx, &ps->se)) != 0)
        return rc;
    if (s->o->progress != NULL && ((s->next_seq - s->h.first) & 0xffff) == 0)
        s->o->progress(s->o->progress_ctx, s->next_seq - s->h.first,
                       s->h.end - s->h.first);
    if (s->next_seq == s->h.end) {
        if (s->have_seal)
            return seg_vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                             "a seal record after its last event");
        if (s->check &&
            ((rc = check_ck_epoch(s)) != 0 || (rc = check_tree(s)) != 0))
            return rc;
        ps->st = S_AFTER;
        s->last_proven = UINT64_MAX;
    } else {
        ps->st = S_RANGE;
    }
    return 0;
}

/* S_AFTER's STATE: its digest, checked and kept when asked. */
static int
st_state(struct sv *s, const uint8_t *p, size_t n)
{
    int rc;
    s->r->info.has_state = 1;
    ldg_sha256(s->r->info.state_sha256, p, n);
    if (s->check && (rc = check_state_json(s, p, n)) != 0)
        return rc;
    if (s->o->keep_state) {
        if ((s->r->info.state = malloc(n + 1)) == NULL)
            return LDG_ENOMEM;
        memcpy(s->r->info.state, p, n);
        s->r->info.state[n] = '\0';
        s->r->info.state_len = n;
    }
    return 0;
}

/* S_TRAILER (and S_AFTER's last record): the trailer. */
static int
st_trailer(struct sv *s, struct pass *ps, const struct segr *rd, uint8_t kind,
           const uint8_t *p, size_t n)
{
    int rc;
    if (kind != K_TRAILER)
        return misplaced(s, rd, kind, UINT64_MAX,
                         ps->st == S_TRAILER
                             ? "after the state's note, where only the trailer "
                               "may follow (at most one state, with its note)"
                             : "after its events, where a proven event, the "
                               "state or the trailer belong");
    if ((rc = take_trailer(s, p, n)) != 0)
        return rc;
    ps->st = S_DONE;
    return 0;
}

/* One record, by the stage the pass is at (FORMAT.md 11.1's order). */
static int
step(struct sv *s, struct pass *ps, const struct segr *rd, uint8_t kind,
     const uint8_t *p, size_t n)
{
    int rc, after_ck = ps->after_ck;

    ps->after_ck = 0;
    if (kind == K_CHECKPOINT_EPOCH) {
        if (!after_ck)
            return misplaced(s, rd, kind, UINT64_MAX,
                             "not right after its checkpoint");
        if ((s->ck_line = malloc(n + 1)) == NULL)
            return LDG_ENOMEM;
        memcpy(s->ck_line, p, n);
        s->ck_line[n] = '\0';
        s->ck_line_len = n;
        return 0;
    }
    switch (ps->st) {
    case S_HEADER:
        if ((rc = st_header(s, kind, p, n)) != 0)
            return rc;
        ps->st = S_HORIZON;
        return 0;
    case S_HORIZON:
        return st_horizon(s, ps, rd, kind, p, n);
    case S_CHECKPOINT:
        if (kind != K_CHECKPOINT)
            return misplaced(s, rd, kind, UINT64_MAX,
                             "where its checkpoint belongs");
        if ((rc = take_checkpoint(s, p, n)) != 0)
            return rc;
        ps->after_ck = 1;
        ps->st = s->n > s->h.end ? S_CONSISTENCY : S_PRIOR;
        s->last_proven = UINT64_MAX;
        return 0;
    case S_CONSISTENCY:
        if ((rc = st_consistency(s, kind, p, n)) != 0)
            return rc;
        ps->st = S_PRIOR;
        return 0;
    case S_PRIOR:
        if (kind == K_PROVEN)
            return st_proven(s, ps, p, n, 0);
        ps->st = S_RANGE;
        /* fall through */
    case S_RANGE:
        return st_range(s, ps, rd, kind, p, n);
    case S_BODY:
        return st_body(s, ps, rd, kind, p, n);
    case S_AFTER:
        if (kind == K_PROVEN)
            return st_proven(s, ps, p, n, 1);
        if (kind == K_STATE) {
            if ((rc = st_state(s, p, n)) != 0)
                return rc;
            ps->st = S_NOTE;
            return 0;
        }
        /* fall through */
    case S_TRAILER:
        return st_trailer(s, ps, rd, kind, p, n);
    case S_NOTE:
        if (kind != K_STATE_NOTE)
            return misplaced(s, rd, kind, UINT64_MAX,
                             "where the state's note belongs (right "
                             "after the state)");
        if ((rc = take_state_note(s, p, n)) != 0)
            return rc;
        ps->st = S_TRAILER;
        return 0;
    case S_DONE:
        break;
    }
    return misplaced(s, rd, kind, UINT64_MAX, "after its trailer");
}

/* What one pass can say only at the end. */
static int
finish(struct sv *s, struct segr *rd)
{
    s->r->info.file_bytes = rd->file_bytes;
    s->r->info.raw_bytes = rd->raw_bytes;
    ldg_sha256_final(&rd->sha, s->r->info.sha256);
    if (!s->check)
        return 0;
    for (size_t i = 0; i < s->nseals; i++)
        if (s->seals[i].key >= 0)
            return seg_vfail(s, LDG_SEGCHK_SEALS, s->seals[i].seal_seq,
                             "its seal covers %" PRIu64
                             " events; the segment holds %" PRIu64 " of them",
                             s->seals[i].seal.count, s->seals[i].next);
    for (size_t i = 0; i < s->nerased; i++)
        if (!s->named[i])
            return seg_vfail(s, LDG_SEGCHK_ERASURES, s->erased[i],
                             "its body is missing and no body.erased the "
                             "segment carries names it");
    s->r->ok = 1;
    return 0;
}

/* The pass: the magic, then record after record, each by its stage,
 * until the trailer and the stream's end. */
static int
run(struct sv *s, struct segr *rd)
{
    struct pass ps;
    uint8_t kind = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc;

    memset(&ps, 0, sizeof ps);
    ps.st = S_HEADER;
    ps.se.ev = &ps.ev;
    if ((rc = read_magic(s, rd)) != 0)
        return rc;
    for (;;) {
        rc = segr_record(rd, &kind, &p, &n);
        if (rc == 1) {
            if (ps.st != S_DONE)
                return seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                                 "the segment ends before its %s (truncated)",
                                 ps.st <= S_BODY ? "events and trailer"
                                                 : "trailer");
            break;
        }
        if (rc < 0) {
            int code = rc;
            seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err);
            return code;
        }
        if ((rc = record_bound(s, rd, kind, n)) != 0 ||
            (rc = step(s, &ps, rd, kind, p, n)) != 0)
            return rc;
    }
    return finish(s, rd);
}

/* At the range's end: its leaves with the left edge give the root of the
 * tree of size end: the checkpoint's, or one its consistency proof takes
 * to the checkpoint's. */
static int
check_tree(struct sv *s)
{
    {
        uint8_t root[32];
        seg_tree_root(s, root);
        if (s->n == s->h.end && memcmp(root, s->root, 32) != 0)
            return seg_vfail(
                s, LDG_SEGCHK_TREE, UINT64_MAX,
                "its events %" PRIu64 "..%" PRIu64
                " with its left edge do not give the root of its "
                "checkpoint of size %" PRIu64
                " (an entry, the edge or the checkpoint was changed)",
                s->h.first, s->h.end - 1, s->n);
        if (s->n > s->h.end &&
            ldg_tlog_verify_consistency(s->h.end, s->n, root, s->root,
                                        (const uint8_t(*)[32])s->cproof,
                                        s->ncproof) != 0)
            return seg_vfail(s, LDG_SEGCHK_TREE, UINT64_MAX,
                             "its events %" PRIu64 "..%" PRIu64
                             " with its left edge give a root of size %" PRIu64
                             " that its consistency proof does not take to its "
                             "checkpoint of size %" PRIu64,
                             s->h.first, s->h.end - 1, s->h.end, s->n);
    }
    return 0;
}

/* At the range's end, once the log key's anchor is known (FORMAT.md
 * 11.8, step 6, "epochs": from the segment, else the caller's pin): the
 * checkpoint carries a signature by an epoch key of the log key when its
 * seals in the range are under epoch keys; its line, whole in the
 * CHECKPOINT_EPOCH record, is certified from the anchor and signs the
 * checkpoint's text; and its epoch is no earlier than the one of the log
 * key's last seal in the range. With no anchor, a line is marked
 * unchecked (info.ck_epoch -1). */
static int
check_ck_epoch(struct sv *s)
{
    const struct skey *k = seg_key_find(s, s->log_id);
    const struct ldg_epoch_chain *c = k != NULL ? k->ep : NULL;
    const struct ldg_anchor_pin *pin = NULL;
    const char *note = s->r->info.checkpoint;
    size_t tlen =
        note != NULL ? ldg_note_text_len(note, s->r->info.checkpoint_len) : 0;
    uint32_t p = 0, j = 0;
    char err[512];
    int rc;

    for (size_t i = 0; c == NULL && i < s->o->nanchors; i++)
        if (strcmp(s->o->anchors[i].key_id, s->log_id) == 0)
            pin = &s->o->anchors[i];
    if (tlen == 0)
        return 0;
    if (c == NULL && pin == NULL) {
        /* no anchor of the log key here: its line, if any, unchecked */
        if (ldg_epoch_checkpoint_has_line(note, s->r->info.checkpoint_len, tlen,
                                          s->h.origin))
            s->r->info.ck_epoch = -1;
        return 0;
    }
    rc = ldg_epoch_checkpoint_check(
        note, s->r->info.checkpoint_len, tlen,
        s->ck_line != NULL ? s->ck_line : "", s->ck_line_len, s->h.origin,
        c ? c->par.anchor : pin->anchor, c ? c->par.t0_ns : pin->t0_ns,
        c ? c->par.len_ns : pin->period_ns, &p, &j, err, sizeof err);
    if (rc == LDG_ENOTFOUND && s->ck_line != NULL)
        return seg_vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                         "a checkpoint epoch record, but the checkpoint of "
                         "size %" PRIu64 " carries no epoch line under the "
                         "log key's anchor",
                         s->n);
    if (rc == LDG_ENOTFOUND && (c == NULL || !c->started))
        return 0;
    if (rc == LDG_ENOTFOUND)
        return seg_vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                         "the checkpoint of size %" PRIu64
                         " carries no signature by an epoch key, but the log "
                         "key seals with epoch keys (epoch %" PRIu32 ".%" PRIu32
                         " in the segment): signed again by the "
                         "log key alone?",
                         s->n, c->cur.period, c->cur.sub);
    if (rc == LDG_ENOMEM)
        return rc;
    if (rc < 0)
        return seg_vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                         "the checkpoint of size %" PRIu64
                         ", by the log key's epoch: %s",
                         s->n, err);
    if (c != NULL && c->started &&
        (p < c->cur.period || (p == c->cur.period && j < c->cur.sub)))
        return seg_vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                         "the checkpoint of size %" PRIu64
                         " is signed by epoch %" PRIu32 ".%" PRIu32
                         " of the log key, before epoch %" PRIu32 ".%" PRIu32
                         " of its seals in the segment (a key's epochs never "
                         "go back)",
                         s->n, p, j, c->cur.period, c->cur.sub);
    s->r->info.ck_epoch = 1;
    s->r->info.ck_period = p;
    s->r->info.ck_sub = j;
    return 0;
}

static int
verify_common(int fd, const void *mem, size_t len,
              const struct ldg_segment_verify_opts *o,
              struct ldg_segment_result *r, int check)
{
    static const struct ldg_segment_verify_opts none;
    struct segr rd;
    struct sv *s;
    int rc;

    if (r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->bad_seq = UINT64_MAX;
    if (o == NULL)
        o = &none;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    s->o = o;
    s->r = r;
    s->check = check;
    s->body_max = o->record_max ? o->record_max : LDG_SEGMENT_RECORD_MAX;
    /* a second core for the bodies (verifying, with one to spare) */
    if (check && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
        (s->bw = calloc(1, sizeof *s->bw)) != NULL &&
        seg_bworker_start(s->bw, s->body_max) < 0) {
        seg_bworker_free(s->bw);
        free(s->bw);
        s->bw = NULL;
    }
    if ((rc = segr_open(&rd, fd, mem, len, o)) == 0)
        rc = run(s, &rd);
    else
        seg_vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", ldg_strerror(rc));
    if (s->bw != NULL) {
        /* the worker's finding, when it is the first in seq order */
        seg_bworker_finish(s->bw);
        if (s->bw->bad_seq != UINT64_MAX &&
            (rc == 0 || r->bad_seq == UINT64_MAX ||
             s->bw->bad_seq < r->bad_seq) &&
            rc != LDG_ENOMEM && rc != LDG_EIO) {
            int k = snprintf(r->what, sizeof r->what, "event %" PRIu64 ": %s",
                             s->bw->bad_seq, s->bw->what);
            (void)k;
            r->ok = 0;
            r->failed = LDG_SEGCHK_BODIES;
            r->bad_seq = s->bw->bad_seq;
            rc = LDG_ETAMPER;
        }
        seg_bworker_free(s->bw);
        free(s->bw);
    }
    if (rc == 0 && check && !r->ok)
        rc = LDG_ETAMPER;
    segr_close(&rd);
    free(s->ck_line);
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i].ep);
    free(s->keys);
    free(s->seals);
    free(s->erased);
    free(s->named);
    free(s);
    return rc;
}

int
ldg_segment_verify_fd(int fd, const struct ldg_segment_verify_opts *o,
                      struct ldg_segment_result *r)
{
    if (fd < 0)
        return LDG_EINVAL;
    return verify_common(fd, NULL, 0, o, r, 1);
}

int
ldg_segment_verify_mem(const void *p, size_t n,
                       const struct ldg_segment_verify_opts *o,
                       struct ldg_segment_result *r)
{
    if (p == NULL && n > 0)
        return LDG_EINVAL;
    return verify_common(-1, p ? p : "", n, o, r, 1);
}

int
ldg_segment_read_fd(int fd, const struct ldg_segment_verify_opts *o,
                    struct ldg_segment_info *info)
{
    struct ldg_segment_result r;
    int rc;
    if (fd < 0 || info == NULL)
        return LDG_EINVAL;
    rc = verify_common(fd, NULL, 0, o, &r, 0);
    *info = r.info;
    if (rc < 0 && r.what[0] == '\0')
        snprintf(r.what, sizeof r.what, "%s", ldg_strerror(rc));
    return rc;
}

int
ldg_segment_read_mem(const void *p, size_t n,
                     const struct ldg_segment_verify_opts *o,
                     struct ldg_segment_info *info)
{
    struct ldg_segment_result r;
    int rc;
    if ((p == NULL && n > 0) || info == NULL)
        return LDG_EINVAL;
    rc = verify_common(-1, p ? p : "", n, o, &r, 0);
    *info = r.info;
    return rc;
}
