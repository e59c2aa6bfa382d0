/*
 * mirror.c — keeps a verified copy of a log published as C2SP tlog-tiles.
 *
 * The mirror trusts nothing it fetches. From its own verified copy (the
 * tiles and entry bundles below the size it last verified) and the new
 * entries, it recomputes every hash tile itself and requires:
 *   - the checkpoint's signature with the remembered log key;
 *   - no rollback (a smaller size) and no fork (the same size, another
 *     root);
 *   - the published tiles and bundles it already holds unchanged;
 *   - each published hash tile byte-identical to the one it computed;
 *   - the root of the recomputed tree equal to the checkpoint's: with the
 *     old entries taken from the verified copy, this is the consistency
 *     of the new checkpoint with the old one (an RFC 6962 consistency
 *     proof could only show the same thing).
 * Only then does it write the new files, and the checkpoint last. The copy
 * is itself a tlog-tiles tree that any static HTTP server can serve.
 *
 * Hashes at tree level 8k ("tile level k") are kept in one array per tile
 * level, from the first index of the first tile that changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define H 32
#define W LDG_TILE_WIDTH
#define LEVELS 8 /* tile levels: 8 * 8 = 64 tree levels */

struct level {
    uint64_t first; /* index of hashes[0] at tree level 8k */
    uint64_t count; /* hashes at this level in the tree of the new size */
    uint8_t *hashes;
    uint64_t cap; /* hashes[] has room for cap hashes */
};

/* Makes room in L for the hashes of indexes [first, upto). Level 0 grows
 * as entry bundles arrive, so a checkpoint claiming an absurd size costs
 * memory only for the entries actually fetched, never an allocation sized
 * by the claim. */
static int
level_reserve(struct level *L, uint64_t upto)
{
    uint64_t need = upto - L->first, nc;
    uint8_t *nh;

    if (need <= L->cap)
        return 0;
    nc = L->cap ? L->cap : W;
    while (nc < need)
        nc *= 2;
    if (nc > SIZE_MAX / H)
        return LDG_ENOMEM;
    nh = realloc(L->hashes, (size_t)nc * H);
    if (nh == NULL)
        return LDG_ENOMEM;
    LDG_ASSERT(nc >= need);
    L->hashes = nh;
    L->cap = nc;
    return 0;
}

/* The log key's anchor (FORMAT.md 5.1: its key.anchored's), and an epoch
 * of the log key. */
struct lanchor {
    uint8_t anchor[32];
    uint64_t t0, len, seq;
};
struct lepoch {
    uint32_t period, sub;
};

struct sync {
    const char *dir;
    const struct ldg_fetcher *f;
    struct ldg_mirror_report *rep;
    char *err;
    size_t errcap;
    uint64_t old, size;
    struct level lv[LEVELS];
    int nlv;
    char **staged; /* rel paths written under DIR/staging */
    size_t nstaged, capstaged;
    /* epoch keys: the log key's anchor (when known), the published
     * checkpoint's epoch line (ne, new_ep) and the mirrored one's */
    struct lanchor par;
    int anchored, fresh_anchor, new_ep, old_ep;
    struct lepoch ne, oe;
    char *line;
    size_t llen;
    char eq[256]; /* what a fork adds when both sides are epoch-signed */
};

static int fail(struct sync *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct sync *s, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, s->errcap, fmt, ap);
    va_end(ap);
    return rc;
}

/* Reads a local file of the verified copy (rel under dir). */
static int
read_local(struct sync *s, const char *rel, char **out, size_t *len)
{
    char path[4400];

    snprintf(path, sizeof path, "%s/%s", s->dir, rel);
    return ldg_fleet_read_file(path, 64u << 20, out, len);
}

static int
fetch(struct sync *s, const char *rel, char **out, size_t *len)
{
    char e[512] = "";
    int rc = s->f->get(s->f->ctx, rel, (uint8_t **)out, len, e, sizeof e);

    if (rc < 0)
        return fail(s, rc, "%s: %s", rel, e[0] ? e : ldg_strerror(rc));
    s->rep->bytes_fetched += *len;
    return 0;
}

/* Writes rel under DIR/staging (not durable yet; see commit_staged). */
static int
stage(struct sync *s, const char *rel, const void *p, size_t n)
{
    char srel[200];
    int rc;

    snprintf(srel, sizeof srel, "staging/%s", rel);
    rc = ldg_fleet_put_file(s->dir, srel, p, n, s->err, s->errcap);
    if (rc < 0)
        return rc;
    if (s->nstaged == s->capstaged) {
        size_t nc = s->capstaged ? 2 * s->capstaged : 64;
        char **ns = realloc(s->staged, nc * sizeof *ns);
        if (ns == NULL)
            return LDG_ENOMEM;
        s->staged = ns;
        s->capstaged = nc;
    }
    LDG_ASSERT(s->nstaged < s->capstaged);
    s->staged[s->nstaged] = strdup(rel);
    if (s->staged[s->nstaged] == NULL)
        return LDG_ENOMEM;
    s->nstaged++;
    return 0;
}

/* Merkle hash of n (a power of two) consecutive hashes. */
static void
subtree(uint8_t out[H], const uint8_t *h, uint64_t n)
{
    if (n == 1) {
        memcpy(out, h, H);
        return;
    }
    uint8_t l[H], r[H];
    subtree(l, h, n / 2);
    subtree(r, h + n / 2 * H, n / 2);
    ldg_tlog_node_hash(out, l, r);
}

/* Loads the verified part [first, min(count, oldcount)) of a level from
 * the local partial tile that the old size left (if any). */
static int
load_old_part(struct sync *s, int k, uint64_t oldcount)
{
    struct level *L = &s->lv[k];
    unsigned w = (unsigned)(oldcount - L->first);
    char rel[128], *buf = NULL;
    size_t len = 0;
    int rc;

    if (w == 0)
        return 0;
    ldg_tlog_tile_path(rel, sizeof rel, k, L->first / W, w);
    rc = read_local(s, rel, &buf, &len);
    if (rc < 0 || len != (size_t)w * H) {
        free(buf);
        return fail(s, LDG_ECORRUPT,
                    "mirror state: %s missing or wrong size (the state "
                    "directory was altered?)",
                    rel);
    }
    memcpy(L->hashes, buf, len);
    free(buf);
    return 0;
}

/* Level 0 from the entry bundles [old/W .. (size-1)/W]; checks the part
 * of the first bundle that the mirror already holds is unchanged. */
static int
leaves_from_bundles(struct sync *s)
{
    struct level *L = &s->lv[0];
    uint64_t oldw = s->old - L->first;

    for (uint64_t n = L->first / W; n * W < s->size; n++) {
        uint64_t lo = n * W, hi = lo + W < s->size ? lo + W : s->size;
        unsigned w = (unsigned)(hi - lo);
        char rel[128], *buf = NULL, *mine = NULL;
        size_t len = 0, mlen = 0, off = 0;
        int rc;

        ldg_tlog_tile_path(rel, sizeof rel, -1, n, w);
        rc = fetch(s, rel, &buf, &len);
        if (rc < 0)
            return rc;
        if ((rc = level_reserve(L, hi)) < 0) {
            free(buf);
            return rc;
        }
        s->rep->bundles_fetched++;
        if (lo < s->old && oldw > 0) {
            char orel[128];
            ldg_tlog_tile_path(orel, sizeof orel, -1, n, (unsigned)oldw);
            rc = read_local(s, orel, &mine, &mlen);
            if (rc < 0) {
                free(buf);
                return fail(s, LDG_ECORRUPT, "mirror state: %s missing", orel);
            }
            if (len < mlen || memcmp(buf, mine, mlen) != 0) {
                free(buf);
                free(mine);
                return fail(s, LDG_ETAMPER,
                            "fork: the published %s does not begin with the "
                            "%llu entries mirrored in %s (entries below the "
                            "mirrored size %llu were rewritten)%s",
                            rel, (unsigned long long)oldw, orel,
                            (unsigned long long)s->old, s->eq);
            }
            free(mine);
        }
        for (uint64_t i = lo; i < hi; i++) {
            size_t el;
            if (off + 2 > len)
                goto short_bundle;
            el = (size_t)((uint8_t)buf[off]) << 8 | (uint8_t)buf[off + 1];
            off += 2;
            if (off + el > len)
                goto short_bundle;
            LDG_ASSERT(i >= L->first && i - L->first < L->cap &&
                       off + el <= len);
            ldg_tlog_leaf_hash(L->hashes + (i - L->first) * H, buf + off, el);
            off += el;
        }
        LDG_ASSERT(off <= len);
        if (off != len) {
            free(buf);
            return fail(s, LDG_ETAMPER, "%s: %zu bytes after its %u entries",
                        rel, len - off, w);
        }
        rc = stage(s, rel, buf, len);
        free(buf);
        if (rc < 0)
            return rc;
        continue;
    short_bundle:
        free(buf);
        return fail(s, LDG_ETAMPER, "%s: holds fewer than %u entries", rel, w);
    }
    return 0;
}

/* Hash (tree level lvl, index i) from the level arrays, or from the local
 * verified tiles for indexes below an array's first. */
static int
stored(void *ctx, int lvl, uint64_t i, uint8_t out[32])
{
    struct sync *s = ctx;
    int k = lvl / 8, r = lvl % 8;
    uint64_t n = (uint64_t)1 << r, base = i << r;
    struct level *L;
    uint8_t tmp[W * H];

    if (k >= s->nlv)
        return LDG_ENOTFOUND;
    L = &s->lv[k];
    if (base + n > L->count)
        return LDG_ENOTFOUND;
    if (base >= L->first) {
        subtree(out, L->hashes + (base - L->first) * H, n);
        return 0;
    }
    /* below the arrays: a full tile of the verified copy */
    {
        char rel[128], *buf = NULL;
        size_t len = 0;
        uint64_t t = base / W;
        ldg_tlog_tile_path(rel, sizeof rel, k, t, W);
        if (read_local(s, rel, &buf, &len) < 0 || len != W * H) {
            free(buf);
            return LDG_ECORRUPT;
        }
        memcpy(tmp, buf, len);
        free(buf);
        subtree(out, tmp + (base - t * W) * H, n);
    }
    return 0;
}

/* Compares the published hash tiles with the computed ones. */
static int
check_tiles(struct sync *s)
{
    for (int k = 0; k < s->nlv; k++) {
        struct level *L = &s->lv[k];
        for (uint64_t t = L->first / W; t * W < L->count; t++) {
            uint64_t lo = t * W, hi = lo + W < L->count ? lo + W : L->count;
            unsigned w = (unsigned)(hi - lo);
            char rel[128], *buf = NULL;
            size_t len = 0;
            int rc;

            ldg_tlog_tile_path(rel, sizeof rel, k, t, w);
            rc = fetch(s, rel, &buf, &len);
            if (rc < 0)
                return rc;
            s->rep->tiles_fetched++;
            if (len != (size_t)w * H ||
                memcmp(buf, L->hashes + (lo - L->first) * H, len) != 0) {
                uint64_t bad = 0;
                while (bad < w && (size_t)(bad + 1) * H <= len &&
                       memcmp(buf + bad * H,
                              L->hashes + (lo - L->first + bad) * H, H) == 0)
                    bad++;
                free(buf);
                return fail(s, LDG_ETAMPER,
                            "%s: hash %llu (tree level %d, index %llu) "
                            "differs from the hash of the entries",
                            rel, (unsigned long long)bad, 8 * k,
                            (unsigned long long)(lo + bad));
            }
            free(buf);
        }
    }
    return 0;
}

/* Computes level k+1's new hashes from level k's complete groups. */
static int
level_up(struct sync *s, int k, uint64_t oldcount_up)
{
    struct level *L = &s->lv[k], *U = &s->lv[k + 1];
    int rc;

    U->count = L->count / W;
    U->first = (s->old >> (8 * (k + 1))) / W * W;
    if ((rc = level_reserve(U, U->count + 1)) < 0)
        return rc;
    rc = load_old_part(s, k + 1, oldcount_up);
    if (rc < 0)
        return rc;
    for (uint64_t j = oldcount_up; j < U->count; j++)
        subtree(U->hashes + (j - U->first) * H,
                L->hashes + (j * W - L->first) * H, W);
    return 0;
}

static int
stage_tiles(struct sync *s)
{
    for (int k = 0; k < s->nlv; k++) {
        struct level *L = &s->lv[k];
        for (uint64_t t = L->first / W; t * W < L->count; t++) {
            uint64_t lo = t * W, hi = lo + W < L->count ? lo + W : L->count;
            char rel[128];
            int rc;

            ldg_tlog_tile_path(rel, sizeof rel, k, t, (unsigned)(hi - lo));
            rc = stage(s, rel, L->hashes + (lo - L->first) * H,
                       (size_t)(hi - lo) * H);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Moves the staged files into place, makes them durable, then the
 * checkpoint (last: a reader of the copy never sees a checkpoint whose
 * tiles are missing). */
static int
commit_staged(struct sync *s, const char *note, size_t len)
{
    char from[4400], to[4400];
    int rc, fd;

    for (size_t i = 0; i < s->nstaged; i++) {
        snprintf(from, sizeof from, "%s/staging/%s", s->dir, s->staged[i]);
        snprintf(to, sizeof to, "%s/%s", s->dir, s->staged[i]);
        rc = ldg_fleet_mkdirs_for(to);
        if (rc < 0 || rename(from, to) < 0)
            return fail(s, LDG_EIO, "%s: %s", to, strerror(errno));
    }
    fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        rc = syncfs(fd);
        close(fd);
        if (rc < 0)
            return fail(s, LDG_EIO, "%s: syncfs: %s", s->dir, strerror(errno));
    }
    return ldg_fleet_write_file(s->dir, "checkpoint", note, len, 0644, s->err,
                                s->errcap);
}

static void
sync_release(struct sync *s)
{
    for (int k = 0; k < LEVELS; k++)
        free(s->lv[k].hashes);
    for (size_t i = 0; i < s->nstaged; i++)
        free(s->staged[i]);
    free(s->staged);
}

/* The log key to check the checkpoint with: the one the state remembers,
 * or --key. A key is remembered (remember_key) only once a checkpoint
 * verified with it, so a wrong --key is never kept. A state that
 * remembers a key but holds no checkpoint (one an older version wrote
 * before its checkpoint failed) has verified nothing with it: --key then
 * replaces it, again only once it verifies one. *fresh is 1 when the key
 * is to be remembered after that. */
static int
remembered_key(const char *dir, const char *vkey, char *out, size_t cap,
               int *fresh, char *err, size_t errcap)
{
    char path[4400], *k = NULL;
    struct stat st;
    size_t n = 0;
    int rc;

    *fresh = 0;
    snprintf(path, sizeof path, "%s/vkey", dir);
    rc = ldg_fleet_read_file(path, 4096, &k, &n);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        snprintf(err, errcap, "%s: cannot read", path);
        return rc;
    }
    if (rc == 0) {
        while (n > 0 && (k[n - 1] == '\n' || k[n - 1] == '\r'))
            k[--n] = '\0';
        snprintf(path, sizeof path, "%s/checkpoint", dir);
        if (vkey == NULL || strcmp(vkey, k) == 0) {
            snprintf(out, cap, "%s", k);
            free(k);
            return 0;
        }
        if (stat(path, &st) == 0) {
            snprintf(err, errcap,
                     LDG_OPT_KEY
                     " differs from the key %s remembers (%s), which "
                     "verified its checkpoint: a log's key does not change; "
                     "use another " LDG_OPT_STATE " for another log",
                     dir, k);
            free(k);
            return LDG_EKEY;
        }
        /* (remembered, but nothing verified with it: --key is tried) */
        free(k);
    } else if (vkey == NULL) {
        snprintf(err, errcap,
                 "%s: no log key remembered: give " LDG_OPT_KEY
                 " VKEY (the line "
                 "`" LDG_CMD_KEYS_VERIFIER "` prints on the box) once",
                 dir);
        return LDG_EINVAL; /* none given: a usage error, not a bad key */
    }
    {
        char name[LDG_ORIGIN_MAX + 1];
        uint8_t pub[32];
        if (ldg_note_parse_verifier(vkey, name, sizeof name, pub) < 0) {
            snprintf(err, errcap,
                     LDG_OPT_KEY
                     ": '%.200s' is not a log verifier key "
                     "(name+id+key, the line `" LDG_CMD_KEYS_VERIFIER "` "
                     "prints on the box, or a file holding it)",
                     vkey);
            return LDG_EINVAL; /* a usage error: nothing written */
        }
    }
    snprintf(out, cap, "%s", vkey);
    *fresh = 1;
    return 0;
}

/* Remembers vkey in DIR/vkey: once it verified a checkpoint. */
static int
remember_key(const char *dir, const char *vkey, char *err, size_t errcap)
{
    char path[4400], *k;
    size_t n = strlen(vkey);
    int rc;

    snprintf(path, sizeof path, "%s/vkey", dir);
    if (ldg_fleet_mkdirs_for(path) < 0) {
        snprintf(err, errcap, "%s: cannot create: %s", dir, strerror(errno));
        return LDG_EIO;
    }
    if ((k = malloc(n + 2)) == NULL)
        return LDG_ENOMEM;
    memcpy(k, vkey, n);
    k[n] = '\n';
    rc = ldg_fleet_write_file(dir, "vkey", k, n + 1, 0644, err, errcap);
    free(k);
    return rc;
}

/* ------------------------------------------------------------ epochs -- */

/* The epoch the mirrored checkpoint (DIR/checkpoint) names under anchor
 * par, read from its own epoch line (checked when it was taken): 1 and
 * *e; 0 when it has none (or there is no mirrored checkpoint). */
static int
mirrored_epoch_of(struct sync *s, const char *origin, const struct lanchor *par,
                  struct lepoch *e)
{
    char *mine = NULL;
    size_t n = 0, tl;
    int rc = read_local(s, "checkpoint", &mine, &n);

    if (rc == 0 && ldg_fleet_note_text_len(mine, n, &tl) == 0)
        rc = ldg_epoch_checkpoint_epoch(mine, n, tl, origin, par->anchor,
                                        &e->period, &e->sub) == 0;
    else
        rc = 0;
    free(mine);
    return rc;
}

static int
mirrored_under(struct sync *s, const char *origin, const struct lanchor *par)
{
    struct lepoch e;
    return mirrored_epoch_of(s, origin, par, &e);
}

/* The log key's anchor (docs/EPOCHS.md): the caller's pin of it (among
 * pins, the one of the log key's id), else the one DIR/anchor remembers
 * ("key_id pub t0 period_ns seq", written by the first sync that passed
 * with it). A pin replaces a remembered anchor under which the mirrored
 * checkpoint is not signed; LDG_EKEY when it is. 1 and *par; 0: none.
 * *fresh: the pin is new (to remember). */
static int
log_anchor(struct sync *s, const uint8_t logpub[32], const char *origin,
           const struct ldg_anchor_pin *pins, size_t npins, struct lanchor *par,
           int *fresh)
{
    char id[LDG_KEYID_LEN + 1], rid[LDG_KEYID_LEN + 1], hex[65], *txt = NULL;
    const struct ldg_anchor_pin *pin = NULL;
    unsigned long long t0 = 0, len = 0, seq = 0;
    size_t n = 0;
    int have = 0, rc;

    *fresh = 0;
    ldg_key_id(id, logpub);
    for (size_t i = 0; i < npins; i++)
        if (strcmp(pins[i].key_id, id) == 0)
            pin = &pins[i];
    rc = read_local(s, "anchor", &txt, &n);
    if (rc == 0) {
        if (sscanf(txt, "%16s %64s %llu %llu %llu", rid, hex, &t0, &len,
                   &seq) != 5 ||
            strcmp(rid, id) != 0 || ldg_unhex(par->anchor, 32, hex) < 0) {
            free(txt);
            return fail(s, LDG_ECORRUPT,
                        "%s/anchor: not the anchor of the log key %s", s->dir,
                        id);
        }
        free(txt);
        par->t0 = t0;
        par->len = len;
        par->seq = seq;
        have = 1;
    } else if (rc != LDG_ENOTFOUND) {
        return fail(s, rc, "%s/anchor: cannot read", s->dir);
    }
    if (pin != NULL && have &&
        (memcmp(pin->anchor, par->anchor, 32) != 0 || pin->t0_ns != t0 ||
         pin->period_ns != len || pin->seq != seq)) {
        /* (one the mirrored checkpoint is signed under stays) */
        if (mirrored_under(s, origin, par))
            return fail(s, LDG_EKEY,
                        "the pinned anchor of the log key %s is not the "
                        "one this mirror remembers (%s/anchor), under which "
                        "its checkpoint is signed: a log's anchor does not "
                        "change",
                        id, s->dir);
        have = 0;
    }
    if (pin != NULL && !have) {
        memcpy(par->anchor, pin->anchor, 32);
        par->t0 = pin->t0_ns;
        par->len = pin->period_ns;
        par->seq = pin->seq;
        *fresh = 1;
        have = 1;
    }
    return have;
}

/* Checkpoint note (len bytes) and its whole epoch line (line, or NULL
 * when none was published), held to the anchor: 1 and *e when it is
 * signed by an epoch key certified from it; 0 when the note carries no
 * epoch line; else the failure (LDG_ETAMPER), naming what. */
static int
epoch_of(struct sync *s, const char *what, const char *note, size_t len,
         const char *line, size_t llen, const char *origin,
         const struct lanchor *par, struct lepoch *e)
{
    char err[512];
    size_t tl;
    int rc;

    if (ldg_fleet_note_text_len(note, len, &tl) < 0)
        return fail(s, LDG_ETAMPER, "%s: not a signed note", what);
    /* the note's own line, malformed: not a race, a note tampered with */
    if (ldg_epoch_checkpoint_epoch(note, len, tl, origin, par->anchor,
                                   &e->period, &e->sub) == LDG_ECORRUPT)
        return fail(s, LDG_ETAMPER, "%s: its epoch signature line is malformed",
                    what);
    rc = ldg_epoch_checkpoint_check(
        note, len, tl, line ? line : "", line ? llen : 0, origin, par->anchor,
        par->t0, par->len, &e->period, &e->sub, err, sizeof err);
    if (rc == LDG_ENOTFOUND) {
        /* none by this anchor: but one by another? */
        if (ldg_epoch_checkpoint_has_line(note, len, tl, origin))
            return fail(s, LDG_ETAMPER,
                        "%s carries an epoch line, but none by the log "
                        "key's anchor (pinned or remembered): the wrong "
                        "pin, or the log anchored again?",
                        what);
        return 0;
    }
    if (rc == LDG_ENOMEM)
        return fail(s, rc, "out of memory");
    if (line == NULL)
        return fail(s, LDG_EBUSY,
                    "%s carries an epoch line, but no checkpoint.epoch is "
                    "published beside it (published by an earlier build, "
                    "or in progress: publish again, then mirror)",
                    what);
    if (rc == LDG_ECORRUPT)
        return fail(s, LDG_EBUSY,
                    "%s and the published checkpoint.epoch do not agree: "
                    "%s (a publish in progress or interrupted: try again)",
                    what, err);
    if (rc < 0)
        return fail(s, LDG_ETAMPER, "%s, by the log key's epoch: %s", what,
                    err);
    return 1;
}

/* The published checkpoint (note, len bytes, of origin): the log key's
 * anchor, then the checkpoint's epoch line (checkpoint.epoch) held to it.
 * 0 with s->anchored, s->new_ep and s->ne; else the failure. */
static int
published_epoch(struct sync *s, const char *vkey,
                const struct ldg_anchor_pin *pins, size_t npins,
                const char *note, size_t len, const char *origin)
{
    char name[LDG_ORIGIN_MAX + 1], what[128], e[512] = "";
    uint8_t logpub[32];
    int rc;

    free(s->line);
    s->line = NULL;
    s->llen = 0;
    if (ldg_note_parse_verifier(vkey, name, sizeof name, logpub) < 0)
        return fail(s, LDG_EKEY, "%s/vkey: not a log verifier key", s->dir);
    rc = log_anchor(s, logpub, origin, pins, npins, &s->par, &s->fresh_anchor);
    if (rc <= 0)
        return rc;
    s->anchored = 1;
    rc = s->f->get(s->f->ctx, "checkpoint.epoch", (uint8_t **)&s->line,
                   &s->llen, e, sizeof e);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return fail(s, rc, "checkpoint.epoch: %s", e[0] ? e : ldg_strerror(rc));
    if (rc < 0) {
        s->line = NULL;
        s->llen = 0;
    }
    s->rep->bytes_fetched += s->llen;
    snprintf(what, sizeof what, "the published checkpoint of size %llu",
             (unsigned long long)s->size);
    rc =
        epoch_of(s, what, note, len, s->line, s->llen, origin, &s->par, &s->ne);
    if (rc < 0)
        return rc;
    s->new_ep = rc;
    return 0;
}

/* A log key's epochs never go back, and once under them, stay. */
static int
epochs_hold(struct sync *s)
{
    if (s->old_ep && !s->new_ep)
        return fail(s, LDG_ETAMPER,
                    "the published checkpoint of size %llu carries no "
                    "signature by an epoch key, but the mirrored one of "
                    "size %llu is signed by epoch %u.%u of the log key: "
                    "signed again by the log key alone?",
                    (unsigned long long)s->size, (unsigned long long)s->old,
                    s->oe.period, s->oe.sub);
    if (s->old_ep && (s->ne.period < s->oe.period ||
                      (s->ne.period == s->oe.period && s->ne.sub < s->oe.sub)))
        return fail(s, LDG_ETAMPER,
                    "the published checkpoint of size %llu is signed by "
                    "epoch %u.%u of the log key, before epoch %u.%u of the "
                    "mirrored one of size %llu (a key's epochs never go "
                    "back)",
                    (unsigned long long)s->size, s->ne.period, s->ne.sub,
                    s->oe.period, s->oe.sub, (unsigned long long)s->old);
    return 0;
}

/* The published checkpoint's epoch line, for the copy's readers: with
 * the tiles (staged: moved into place before the checkpoint), or at once
 * (now); a stale one removed when there is none checked (after the
 * checkpoint: drop_epoch). The mirror reads its own copy's epoch from the
 * checkpoint's own line. */
static int
keep_epoch(struct sync *s, int now)
{
    if (!s->new_ep)
        return 0;
    if (now)
        return ldg_fleet_write_file(s->dir, "checkpoint.epoch", s->line,
                                    s->llen, 0644, s->err, s->errcap);
    return stage(s, "checkpoint.epoch", s->line, s->llen);
}

static int
drop_epoch(struct sync *s)
{
    char path[4400];

    snprintf(path, sizeof path, "%s/checkpoint.epoch", s->dir);
    if (!s->new_ep && unlink(path) < 0 && errno != ENOENT)
        return fail(s, LDG_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

/* Remembers the pinned anchor in DIR/anchor (before the checkpoint is
 * written: a pin that checked everything it could is kept). */
static int
remember_anchor(struct sync *s, const char *vkey)
{
    char id[LDG_KEYID_LEN + 1], hex[65], txt[256], name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    int n;

    if (ldg_note_parse_verifier(vkey, name, sizeof name, pub) < 0)
        return LDG_EINVAL;
    ldg_key_id(id, pub);
    ldg_hex(hex, s->par.anchor, 32);
    n = snprintf(txt, sizeof txt, "%s %s %llu %llu %llu\n", id, hex,
                 (unsigned long long)s->par.t0, (unsigned long long)s->par.len,
                 (unsigned long long)s->par.seq);
    return ldg_fleet_write_file(s->dir, "anchor", txt, (size_t)n, 0644, s->err,
                                s->errcap);
}

int
ldg_mirror_sync(const char *dir, const char *vkey_opt,
                const struct ldg_anchor_pin *pins, size_t npins,
                const struct ldg_fetcher *f, struct ldg_mirror_report *rep,
                char *err, size_t errcap)
{
    struct sync s;
    char vkey[1024], origin[LDG_ORIGIN_MAX + 1], lorigin[LDG_ORIGIN_MAX + 1];
    char *note = NULL, *mine = NULL, b1[45], b2[45];
    size_t len = 0, mlen = 0;
    uint8_t root[32], oldroot[32], got[32];
    int rc, fresh = 0, tries = 0;

    if (dir == NULL || f == NULL || f->get == NULL || rep == NULL ||
        (npins > 0 && pins == NULL))
        return LDG_EINVAL;
    memset(rep, 0, sizeof *rep);
    memset(&s, 0, sizeof s);
    s.dir = dir;
    s.f = f;
    s.rep = rep;
    s.err = err;
    s.errcap = errcap;
    rc = remembered_key(dir, vkey_opt, vkey, sizeof vkey, &fresh, err, errcap);
    if (rc < 0)
        return rc;
again:
    rc = fetch(&s, "checkpoint", &note, &len);
    if (rc < 0)
        goto out;
    rc = ldg_checkpoint_open(vkey, note, len, origin, sizeof origin, &s.size,
                             root);
    if (rc == LDG_EBADINPUT &&
        ldg_note_parse_verifier(vkey, origin, sizeof origin, got) < 0) {
        rc = fail(&s, LDG_EKEY, "%s/vkey: not a log verifier key", dir);
        goto out;
    }
    if (rc < 0) {
        rc = fail(&s, rc == LDG_EBADSIG ? LDG_EBADSIG : LDG_ETAMPER,
                  "checkpoint: %s with the log key %s",
                  rc == LDG_EBADSIG ? "signature does not verify"
                                    : "malformed or for another origin",
                  vkey);
        goto out;
    }
    /* epoch keys: once the mirror knows the log key's anchor (pinned, or
     * remembered), the checkpoint's epoch line, published whole beside
     * it, is checked from the anchor (docs/EPOCHS.md) */
    rc = published_epoch(&s, vkey, pins, npins, note, len, origin);
    if (rc == LDG_EBUSY && ++tries < 3) {
        /* (published between the two reads? read both again) */
        struct timespec pause = {0, 200 * 1000 * 1000};
        free(note);
        note = NULL;
        nanosleep(&pause, NULL);
        goto again;
    }
    if (rc < 0)
        goto out;
    /* the key verified the log's checkpoint: from now on it is the log's */
    if (fresh && (rc = remember_key(dir, vkey, err, errcap)) < 0)
        goto out;
    snprintf(rep->origin, sizeof rep->origin, "%s", origin);
    rep->size = s.size;
    rc = read_local(&s, "checkpoint", &mine, &mlen);
    if (rc == 0) {
        size_t tl;
        if (ldg_fleet_note_text_len(mine, mlen, &tl) < 0 ||
            ldg_checkpoint_parse(mine, tl, lorigin, sizeof lorigin, &s.old,
                                 oldroot) < 0 ||
            strcmp(lorigin, origin) != 0) {
            rc = fail(&s, LDG_ECORRUPT, "%s/checkpoint: not a checkpoint of %s",
                      dir, origin);
            goto out;
        }
    } else if (rc != LDG_ENOTFOUND) {
        rc = fail(&s, rc, "%s/checkpoint: cannot read", dir);
        goto out;
    }
    if (mine != NULL && s.anchored)
        /* (read, not checked again: every copy taken since the anchor
         * was remembered had its line checked under it; one taken
         * before counts as under no epoch) */
        s.old_ep =
            !s.fresh_anchor && mirrored_epoch_of(&s, origin, &s.par, &s.oe);
    if (s.new_ep && s.old_ep)
        snprintf(s.eq, sizeof s.eq,
                 "; equivocation: both are signed by epoch keys of the log "
                 "key, certified from its anchor (the published one by "
                 "epoch %u.%u, the mirrored one by epoch %u.%u)",
                 s.ne.period, s.ne.sub, s.oe.period, s.oe.sub);
    rep->old_size = s.old;
    ldg_base64(b1, oldroot, 32);
    ldg_base64(b2, root, 32);
    if (mine != NULL && s.size < s.old) {
        rc = fail(&s, LDG_ETAMPER,
                  "rollback: %s publishes size %llu (root %s) but was "
                  "mirrored at size %llu (root %s)",
                  origin, (unsigned long long)s.size, b2,
                  (unsigned long long)s.old, b1);
        goto out;
    }
    if (mine != NULL && s.size == s.old && memcmp(root, oldroot, 32) != 0) {
        rc = fail(&s, LDG_ETAMPER,
                  "fork: %s publishes size %llu with root %s but the "
                  "mirrored size %llu has root %s%s",
                  origin, (unsigned long long)s.size, b2,
                  (unsigned long long)s.old, b1, s.eq);
        goto out;
    }
    if ((rc = epochs_hold(&s)) < 0)
        goto out;
    rep->epoch = s.new_ep;
    rep->period = s.ne.period;
    rep->sub = s.ne.sub;
    if (mine != NULL && s.size == s.old) {
        if ((rc = keep_epoch(&s, 1)) == 0 &&
            (len != mlen || memcmp(note, mine, len) != 0))
            rc = ldg_fleet_write_file(dir, "checkpoint", note, len, 0644, err,
                                      errcap); /* e.g. new cosignatures */
        if (rc == 0)
            rc = drop_epoch(&s);
        goto done;
    }

    /* Level 0: the leaf hashes from the first changed bundle on. */
    s.lv[0].count = s.size;
    s.lv[0].first = s.old / W * W;
    if ((rc = level_reserve(&s.lv[0], s.lv[0].first + W)) < 0)
        goto out;
    s.nlv = 1;
    if ((rc = load_old_part(&s, 0, s.old)) < 0 ||
        (rc = leaves_from_bundles(&s)) < 0)
        goto out;
    while (s.nlv < LEVELS && s.lv[s.nlv - 1].count >= W) {
        rc = level_up(&s, s.nlv - 1, s.old >> (8 * s.nlv));
        if (rc < 0)
            goto out;
        s.nlv++;
    }
    if (s.size > 0 && (rc = ldg_tlog_root(stored, &s, s.size, got)) < 0) {
        rc = fail(&s, LDG_ECORRUPT,
                  "mirror state: cannot compute the root "
                  "(the state directory was altered?)");
        goto out;
    }
    if (s.size == 0)
        ldg_sha256(got, "", 0);
    if (memcmp(got, root, 32) != 0) {
        char b3[45];
        ldg_base64(b3, got, 32);
        rc = fail(&s, LDG_ETAMPER,
                  mine != NULL
                      ? "fork: %s's checkpoint of size %llu (root %s) does "
                        "not extend the mirrored size %llu (root %s): the "
                        "mirrored entries and the new ones give root %s%s"
                      : "%s's checkpoint of size %llu (root %s) does not "
                        "match its entries (mirrored size %llu, root %s): "
                        "they give root %s%s",
                  origin, (unsigned long long)s.size, b2,
                  (unsigned long long)s.old, b1, b3, s.eq);
        goto out;
    }
    if ((rc = check_tiles(&s)) < 0 || (rc = stage_tiles(&s)) < 0 ||
        (rc = keep_epoch(&s, 0)) < 0 ||
        (rc = commit_staged(&s, note, len)) < 0 || (rc = drop_epoch(&s)) < 0)
        goto out;
    rep->entries_added = s.size - s.old;
done:
    /* the pin, once a sync passed with it: the copy is now one whose
     * epoch line (if any) was checked under it */
    if (rc == 0 && s.fresh_anchor)
        rc = remember_anchor(&s, vkey);
out:
    sync_release(&s);
    free(note);
    free(mine);
    free(s.line);
    return rc;
}

/* ------------------------------------------------- a directory source -- */

static int
dir_get(void *ctx, const char *rel, uint8_t **out, size_t *len, char *err,
        size_t errcap)
{
    char path[4400];
    int rc;

    snprintf(path, sizeof path, "%s/%s", (const char *)ctx, rel);
    rc = ldg_fleet_read_file(path, 64u << 20, (char **)out, len);
    if (rc == LDG_ENOTFOUND)
        snprintf(err, errcap, "not found");
    return rc;
}

void
ldg_fetcher_dir(struct ldg_fetcher *f, const char *dir)
{
    f->get = dir_get;
    f->ctx = (void *)(uintptr_t)dir;
}
