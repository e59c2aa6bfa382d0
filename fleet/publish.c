/*
 * publish.c — uploads the log as C2SP tlog-tiles to a remote.
 *
 * The tiles are first written (or brought up to date) in a local staging
 * tree by the core (ldg_tiles_write: atomic files, checkpoint last), under
 * LEDGER_DIR/fleet/publish-<H>/ with H the first 16 hex digits of
 * SHA-256(URL). Then every file that is new or grew since the size last
 * published to that URL is PUT, entry bundles and hash tiles first and the
 * checkpoint last (its epoch line, checkpoint.epoch, just before it),
 * so a reader never sees a checkpoint whose tiles are missing. Only after the
 * checkpoint's PUT succeeded is the new size recorded (publish-<H>/published);
 * an interrupted publish therefore starts again from the last size that was
 * completely published, and re-sends only the files above it (PUT is
 * idempotent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "util/util.h"

int
ldg_fleet_state_dir(struct ldg_ledger *l, const char *what, const char *url,
                    char *out, size_t cap)
{
    uint8_t h[32];
    char hex[65];

    ldg_sha256(h, url, strlen(url));
    ldg_hex(hex, h, 32);
    if ((size_t)snprintf(out, cap, "%s/fleet/%s-%.16s", ldg_dir(l), what,
                         hex) >= cap)
        return LDG_EINVAL;
    return ldg_mkdir_p(out, strlen(ldg_dir(l)) + 1, 1, 0700, NULL, NULL) < 0
               ? LDG_EIO
               : 0;
}

uint64_t
ldg_fleet_read_u64(const char *dir, const char *name)
{
    char path[4400], *buf = NULL;
    size_t n = 0;
    uint64_t v = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ldg_fleet_read_file(path, 64, &buf, &n) == 0)
        v = strtoull(buf, NULL, 10);
    free(buf);
    return v;
}

int
ldg_fleet_write_u64(const char *dir, const char *name, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)v);

    return ldg_fleet_write_file(dir, name, buf, (size_t)n, 0600, NULL, 0);
}

/*
 * Before the first publish to a URL: whatever checkpoint is there must be
 * this log's, and not ahead of it. Two boxes given one URL (a copied
 * config) would otherwise overwrite each other's log without a word, the
 * second rolling the first back. 0 to go on (nothing there, or it cannot
 * be read: a store that takes PUT only), LDG_EEXIST (another log),
 * LDG_ETAMPER (this origin, larger), or the network's error, with err
 * set.
 */
static int
remote_is_ours(struct ldg_remote *r, struct ldg_ledger *l, const char *url,
               uint64_t size, char *err, size_t errcap)
{
    const char *origin = ldg_origin(l);
    uint8_t *ck = NULL;
    size_t n = 0, ol;
    char e[512];
    unsigned long long theirs;
    int rc;

    rc = ldg_remote_get(r, "checkpoint", &ck, &n, e, sizeof e);
    if (rc == LDG_ENET || rc == LDG_ETIMEOUT) {
        snprintf(err, errcap, "%s", e); /* the PUTs would fail the same */
        return rc;
    }
    if (rc < 0)
        return 0;
    ol = strlen(origin);
    rc = 0;
    if (n <= ol || memcmp(ck, origin, ol) != 0 || ck[ol] != '\n') {
        const uint8_t *nl = memchr(ck, '\n', n);
        int tl = (int)(nl ? (size_t)(nl - ck) : n);
        snprintf(err, errcap,
                 "%s holds the checkpoint of another log ('%.*s'), not of "
                 "%s: refusing to publish over it (give this log a URL of "
                 "its own)",
                 url, tl > 200 ? 200 : tl, (const char *)ck, origin);
        rc = LDG_EEXIST;
    } else if (sscanf((const char *)ck + ol + 1, "%llu", &theirs) == 1 &&
               theirs > size) {
        snprintf(err, errcap,
                 "%s holds %s at size %llu but the log has %llu events: "
                 "refusing to publish a shorter log over it",
                 url, origin, theirs, (unsigned long long)size);
        rc = LDG_ETAMPER;
    }
    free(ck);
    return rc;
}

static int
put_one(struct ldg_remote *r, const char *tiles, const char *rel,
        struct ldg_publish_report *rep, char *err, size_t errcap)
{
    char path[4400], *buf = NULL;
    size_t n = 0;
    int rc;

    snprintf(path, sizeof path, "%s/%s", tiles, rel);
    rc = ldg_fleet_read_file(path, 64u << 20, &buf, &n);
    if (rc < 0) {
        snprintf(err, errcap, "%s: %s", path, ldg_strerror(rc));
        return rc;
    }
    rc = ldg_remote_put(r, rel, buf, n, err, errcap);
    free(buf);
    if (rc == 0) {
        rep->files_put++;
        rep->bytes_put += n;
    }
    return rc;
}

int
ldg_publish(struct ldg_ledger *l, const char *url,
            struct ldg_publish_report *rep, char *err, size_t errcap)
{
    struct ldg_remote *r = NULL;
    struct ldg_tiles_report tr;
    char st[4300], tiles[4400];
    uint64_t old, size;
    int rc;

    if (l == NULL || url == NULL || rep == NULL)
        return LDG_EINVAL;
    memset(rep, 0, sizeof *rep);
    rc = ldg_remote_open(&r, url, err, errcap);
    if (rc < 0)
        return rc;
    rc = ldg_fleet_state_dir(l, "publish", url, st, sizeof st);
    if (rc < 0) {
        snprintf(err, errcap, "%s/fleet: cannot create", ldg_dir(l));
        goto out;
    }
    snprintf(tiles, sizeof tiles, "%s/tiles", st);
    rc = ldg_tiles_write(l, tiles, &tr);
    if (rc < 0) {
        snprintf(err, errcap, "%s", ldg_errmsg(l));
        goto out;
    }
    size = tr.size;
    old = ldg_fleet_read_u64(st, "published");
    rep->old_size = old;
    rep->size = size;
    if (old > size) {
        snprintf(err, errcap,
                 "%s was published at size %llu but the log has %llu "
                 "events: refusing to publish a shorter log",
                 url, (unsigned long long)old, (unsigned long long)size);
        rc = LDG_ETAMPER;
        goto out;
    }
    if (old == size && size > 0) {
        rc = 0; /* nothing new */
        goto out;
    }
    if (old == 0 && (rc = remote_is_ours(r, l, url, size, err, errcap)) < 0)
        goto out;
    /* a pruned ledger: the entry bundles wholly before the horizon, and
     * at store layout 9 the level-0 hash tiles before tr.tree_from,
     * went with the pruned events and were not written (a publication
     * made before the prune keeps them): none is sent */
    struct ldg_horizon hz;
    uint64_t gone = 0;
    if (ldg_horizon(l, &hz) == 0) {
        gone = hz.seq;
        ldg_horizon_release(&hz);
    }
    /* entry bundles (level -1), then hash tiles level by level */
    for (int level = -1; level < 8; level++) {
        int shift = level < 0 ? 0 : 8 * level;
        uint64_t count = size >> shift;
        uint64_t skip = level < 0 ? gone : level == 0 ? tr.tree_from : 0;
        if (count == 0)
            break;
        for (uint64_t t = (old >> shift) / LDG_TILE_WIDTH;
             t * LDG_TILE_WIDTH < count; t++) {
            uint64_t w = count - t * LDG_TILE_WIDTH;
            char rel[128];
            if ((t + 1) * LDG_TILE_WIDTH <= skip)
                continue;
            if (w > LDG_TILE_WIDTH)
                w = LDG_TILE_WIDTH;
            ldg_tlog_tile_path(rel, sizeof rel, level, t, (unsigned)w);
            rc = put_one(r, tiles, rel, rep, err, errcap);
            if (rc < 0)
                goto out;
        }
    }
    /* the checkpoint's epoch line whole, when it has one (a mirror that
     * pinned the log key's anchor checks it), just before it */
    {
        char ep[4500];
        struct stat sb;
        snprintf(ep, sizeof ep, "%s/checkpoint.epoch", tiles);
        if (stat(ep, &sb) == 0 &&
            (rc = put_one(r, tiles, "checkpoint.epoch", rep, err, errcap)) < 0)
            goto out;
    }
    rc = put_one(r, tiles, "checkpoint", rep, err, errcap);
    if (rc < 0 || (rc = ldg_remote_settle(r, err, errcap)) < 0)
        goto out;
    rc = ldg_fleet_write_u64(st, "published", size);
    if (rc < 0)
        snprintf(err, errcap, "%s/published: cannot record the size", st);
out:
    ldg_remote_free(r);
    return rc;
}
