/*
 * submit.c — the box's side of C2SP tlog-witness: submits the latest
 * checkpoint to each configured witness, with store-and-forward.
 *
 * Per witness (LEDGER_DIR/fleet/witness-<H>/, H from the witness URL):
 *   cosigned   the size this witness last cosigned for us (0: never)
 *   pending    the size waiting in the outbox (absent: nothing waits)
 *   attempts   failed attempts since the last success
 *   next_try   POSIX seconds before which we do not try again
 * Backoff: 2 s after the first failure, doubling, at most an hour. next_try
 * outlives the process (and a boot), so it is a wall-clock time, not a
 * monotonic one; one more than an hour ahead was written before the clock
 * was stepped back (NTP at boot, by hand) and is not waited for: the step
 * would otherwise lengthen the backoff by itself (a day back, a day). A box
 * offline for weeks keeps one pending entry (the newest checkpoint
 * supersedes older ones) and, once the witness answers, sends the newest
 * checkpoint with a consistency proof from the last cosigned size.
 *
 * Cosignatures are kept in LEDGER_DIR/fleet/cosigned/<size>: the log's
 * signed checkpoint followed by every verified cosignature line for it;
 * LEDGER_DIR/fleet/cosigned/latest names the newest size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define BACKOFF_FIRST_S 2
#define BACKOFF_MAX_S 3600

static int
cosigned_dir(struct ldg_ledger *l, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/fleet/cosigned", ldg_dir(l)) >= cap)
        return LDG_EINVAL;
    return ldg_mkdir_p(out, strlen(ldg_dir(l)) + 1, 1, 0700, NULL, NULL) < 0
               ? LDG_EIO
               : 0;
}

/* Adds a verified cosignature line to cosigned/<size> (creating it from
 * the checkpoint note), unless an equal line by that key is there. */
static int
keep_cosignature(struct ldg_ledger *l, uint64_t size, const char *note,
                 const char *line, size_t line_len, const char *wname)
{
    char dir[4300], rel[64], path[4400], *cur = NULL, *nb;
    size_t n = 0;
    int rc;

    if ((rc = cosigned_dir(l, dir, sizeof dir)) < 0)
        return rc;
    snprintf(rel, sizeof rel, "%llu", (unsigned long long)size);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    rc = ldg_fleet_read_file(path, 1 << 20, &cur, &n);
    if (rc == LDG_ENOTFOUND) {
        cur = strdup(note);
        if (cur == NULL)
            return LDG_ENOMEM;
        n = strlen(cur);
    } else if (rc < 0) {
        return rc;
    }
    /* one line per witness name among the signatures (never in the
     * text): a newer cosignature replaces the older */
    {
        char prefix[LDG_ORIGIN_MAX + 8];
        size_t tl = 0;
        char *p;
        snprintf(prefix, sizeof prefix, "\n\xe2\x80\x94 %s ", wname);
        if (ldg_fleet_note_text_len(cur, n, &tl) < 0) {
            free(cur);
            return LDG_ECORRUPT; /* cosigned/<size> is not a signed note */
        }
        while ((p = strstr(cur + tl, prefix)) != NULL) {
            char *e = strchr(p + 1, '\n');
            size_t cut = e ? (size_t)(e - p) : strlen(p);
            memmove(p, p + cut, strlen(p + cut) + 1);
            n -= cut;
        }
    }
    nb = realloc(cur, n + line_len + 1);
    if (nb == NULL) {
        free(cur);
        return LDG_ENOMEM;
    }
    memcpy(nb + n, line, line_len);
    nb[n + line_len] = '\0';
    rc = ldg_fleet_write_file(dir, rel, nb, n + line_len, 0644, NULL, 0);
    free(nb);
    if (rc == 0 && ldg_fleet_read_u64(dir, "latest") <= size)
        rc = ldg_fleet_write_u64(dir, "latest", size);
    return rc;
}

int
ldg_cosigned_get(struct ldg_ledger *l, uint64_t size, char **out, size_t *len)
{
    char dir[4300], path[4400];

    *out = NULL;
    /* a reader: look, never create (export of a ledger that never
     * published must not leave a fleet/ directory behind) */
    snprintf(dir, sizeof dir, "%s/fleet/cosigned", ldg_dir(l));
    if (size == 0)
        size = ldg_fleet_read_u64(dir, "latest");
    if (size == 0)
        return LDG_ENOTFOUND;
    snprintf(path, sizeof path, "%s/%llu", dir, (unsigned long long)size);
    return ldg_fleet_read_file(path, 1 << 20, out, len);
}

/* The request body: "old 0" + empty line + checkpoint, or the
 * consistency proof from old. */
static int
request_body(struct ldg_ledger *l, uint64_t old, uint64_t size, char **body)
{
    struct ldg_txn *t;
    char *ck = NULL;
    int rc;

    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    if (old == 0) {
        rc = ldg_checkpoint_get(t, size, &ck);
        if (rc == 0) {
            *body = malloc(strlen(ck) + 8);
            if (*body == NULL)
                rc = LDG_ENOMEM;
            else
                sprintf(*body, "old 0\n\n%s", ck);
        }
        free(ck);
    } else {
        rc = ldg_consistency_text(t, old, size, body);
    }
    ldg_txn_abort(t);
    return rc;
}

/* The line of resp (rlen bytes, the witness's answer) that begins with
 * "— wname " and verifies with wvkey over the checkpoint note ck: *line
 * and *ll (its bytes, with its newline) point into resp; *note (the note
 * verified, malloc'd) is the caller's to free. 0; LDG_EBADSIG when no
 * line verifies; LDG_ENOMEM. */
static int
verified_line(const char *ck, const char *resp, size_t rlen, const char *wname,
              const char *wvkey, const char **line, size_t *ll, char **note)
{
    char lb[LDG_ORIGIN_MAX + 8];
    size_t cl = strlen(ck), lbn;
    const char *p = resp, *end = resp + rlen;
    *note = NULL;
    snprintf(lb, sizeof lb, "\xe2\x80\x94 %s ", wname);
    lbn = strlen(lb);
    while (resp != NULL && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        uint64_t ts = 0;
        if (n > lbn && memcmp(p, lb, lbn) == 0) {
            char *v = malloc(cl + n + 2);
            if (v == NULL)
                return LDG_ENOMEM;
            size_t vn = cl + n;
            memcpy(v, ck, cl);
            memcpy(v + cl, p, n);
            if (p[n - 1] != '\n')
                v[vn++] = '\n';
            v[vn] = '\0';
            if (ldg_cosig_verify(v, vn, wvkey, &ts) >= 0) {
                *line = p;
                *ll = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
                *note = v;
                return 0;
            }
            free(v);
        }
        p += n;
    }
    return LDG_EBADSIG;
}

static void
backoff(const char *st, uint64_t size, uint64_t now)
{
    uint64_t a = ldg_fleet_read_u64(st, "attempts") + 1, wait = BACKOFF_FIRST_S;

    for (uint64_t i = 1; i < a && wait < BACKOFF_MAX_S; i++)
        wait *= 2;
    if (wait > BACKOFF_MAX_S)
        wait = BACKOFF_MAX_S;
    ldg_fleet_write_u64(st, "pending", size);
    ldg_fleet_write_u64(st, "attempts", a);
    ldg_fleet_write_u64(st, "next_try", now + wait);
}

static void
settled(const char *st, uint64_t size)
{
    char path[4400];

    ldg_fleet_write_u64(st, "cosigned", size);
    ldg_fleet_write_u64(st, "attempts", 0);
    ldg_fleet_write_u64(st, "next_try", 0);
    snprintf(path, sizeof path, "%s/pending", st);
    remove(path);
}

int
ldg_witness_submit(struct ldg_ledger *l, const char *url, const char *wvkey,
                   unsigned flags, struct ldg_submit_report *rep)
{
    char st[4300], wname[LDG_ORIGIN_MAX + 1], full[2200], e[600] = "";
    uint8_t wpub[32];
    uint64_t size = 0, old, now = (uint64_t)time(NULL);
    struct ldg_txn *t;
    int rc, tries;

    if (l == NULL || url == NULL || wvkey == NULL || rep == NULL)
        return LDG_EINVAL;
    memset(rep, 0, sizeof *rep);
    if (ldg_cosig_parse_verifier(wvkey, wname, sizeof wname, wpub) < 0) {
        snprintf(rep->what, sizeof rep->what,
                 "%s: not a witness (cosignature) verifier key", wvkey);
        return LDG_EBADINPUT;
    }
    /* a URL no retry can reach is refused, never queued in the outbox */
    if (!((strncmp(url, "http://", 7) == 0 && url[7] != '\0') ||
          (strncmp(url, "https://", 8) == 0 && url[8] != '\0'))) {
        snprintf(rep->what, sizeof rep->what,
                 "'%s' is not an http(s) URL (the witness's submission "
                 "prefix)",
                 url);
        return LDG_EBADINPUT;
    }
    if (ldg_fleet_state_dir(l, "witness", url, st, sizeof st) < 0) {
        snprintf(rep->what, sizeof rep->what, "%s/fleet: cannot create",
                 ldg_dir(l));
        return LDG_EIO;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    ldg_txn_size(t, &size);
    ldg_txn_abort(t);
    rep->size = size;
    old = ldg_fleet_read_u64(st, "cosigned");
    rep->cosigned = old;
    if (old == size) {
        rep->outcome = LDG_SUBMIT_UPTODATE;
        snprintf(rep->what, sizeof rep->what, "%s: size %llu already cosigned",
                 wname, (unsigned long long)size);
        return 0;
    }
    uint64_t next = ldg_fleet_read_u64(st, "next_try");
    if (!(flags & LDG_SUBMIT_NOW) && next > now &&
        next - now <= BACKOFF_MAX_S) {
        ldg_fleet_write_u64(st, "pending", size);
        rep->outcome = LDG_SUBMIT_QUEUED;
        rep->attempts = ldg_fleet_read_u64(st, "attempts");
        snprintf(rep->what, sizeof rep->what,
                 "%s: size %llu waits in the outbox (retry after %llus)", wname,
                 (unsigned long long)size, (unsigned long long)(next - now));
        return 0;
    }
    snprintf(full, sizeof full, "%s%sadd-checkpoint", url,
             url[strlen(url) - 1] == '/' ? "" : "/");
    for (tries = 0; tries < 2; tries++) {
        char *body = NULL, *resp = NULL;
        size_t rlen = 0;
        long status = 0;

        rc = request_body(l, old, size, &body);
        if (rc < 0) {
            /* (store layout 9: a witness whose last size is among the
             * tree hashes a prune dropped; the ledger's message says so) */
            snprintf(rep->what, sizeof rep->what,
                     "%s: cannot build the request from size %llu: %s", wname,
                     (unsigned long long)old,
                     rc == LDG_EPRUNED ? ldg_errmsg(l) : ldg_strerror(rc));
            return rc;
        }
        rc = ldg_remote_post(full, body, strlen(body), &status, &resp, &rlen, e,
                             sizeof e);
        /* 408 and 429 are "later", as a 5xx is: queued, not refused */
        if (rc < 0 || status >= 500 || status == 408 || status == 429) {
            backoff(st, size, now);
            rep->outcome = LDG_SUBMIT_QUEUED;
            rep->attempts = ldg_fleet_read_u64(st, "attempts");
            snprintf(
                rep->what, sizeof rep->what,
                "%s unreachable (%s): size %llu queued in the outbox, "
                "attempt %llu, next try in %llus",
                wname, rc < 0 ? e : "server error", (unsigned long long)size,
                (unsigned long long)rep->attempts,
                (unsigned long long)(ldg_fleet_read_u64(st, "next_try") - now));
            free(body);
            free(resp);
            return 0;
        }
        if (status == 200) {
            const char *ck = strstr(body, "\n\n") + 2;
            const char *line = NULL;
            size_t ll = 0;
            char *note = NULL;
            /* the witness's line that verifies with its key: it may send
             * others of its name (an older key's) before it */
            rc = verified_line(ck, resp, rlen, wname, wvkey, &line, &ll, &note);
            if (rc == LDG_ENOMEM) {
                free(body);
                free(resp);
                return rc;
            }
            if (rc < 0) {
                snprintf(rep->what, sizeof rep->what,
                         "%s answered 200 but its cosignature does not verify "
                         "with %s",
                         wname, wvkey);
                free(body);
                free(resp);
                return LDG_EBADSIG;
            }
            rc = keep_cosignature(l, size, ck, line, ll, wname);
            free(note);
            free(body);
            free(resp);
            if (rc < 0) {
                snprintf(rep->what, sizeof rep->what,
                         "%s: cannot keep the cosignature", wname);
                return rc;
            }
            settled(st, size);
            rep->outcome = LDG_SUBMIT_COSIGNED;
            rep->cosigned = size;
            snprintf(rep->what, sizeof rep->what,
                     "%s cosigned size %llu (from %llu)", wname,
                     (unsigned long long)size, (unsigned long long)old);
            return 0;
        }
        if (status == 409 && resp != NULL && tries == 0) {
            uint64_t held = strtoull(resp, NULL, 10);
            free(body);
            free(resp);
            if (held <= size) {
                /* our record was stale (at our very size: its 200 was
                 * lost): prove from its size; an equal one with an empty
                 * proof, which it cosigns again if the roots agree */
                old = held;
                continue;
            }
            snprintf(rep->what, sizeof rep->what,
                     "%s refused: it holds size %llu for this log, at or "
                     "above our %llu: this log was rolled back or forked "
                     "since it was cosigned",
                     wname, (unsigned long long)held, (unsigned long long)size);
            rep->outcome = LDG_SUBMIT_REFUSED;
            return LDG_ETAMPER;
        }
        rep->outcome = LDG_SUBMIT_REFUSED;
        snprintf(rep->what, sizeof rep->what,
                 "%s refused size %llu: HTTP %ld %.*s", wname,
                 (unsigned long long)size, status,
                 resp ? (int)strcspn(resp, "\n") : 0, resp ? resp : "");
        free(body);
        free(resp);
        return status == 422 || status == 409 ? LDG_ETAMPER : LDG_EHTTP;
    }
    return LDG_ETAMPER;
}
