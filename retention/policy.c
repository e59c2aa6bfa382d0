/*
 * policy.c — a retention policy applied: archive parts into its
 * directory, then prune (ldg_retention_apply, retention.h,
 * docs/RETENTION.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <unistd.h>
#include <jansson.h>

#include "retention/retention.h"
#include "util/util.h"
#include "retention/retention_int.h"

/* ------------------------------------------------------------- policy -- */

/* mkdir -p dir (0750). */
static int
mkdir_p(struct ldg_ledger *l, const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        ldg_set_errmsg(l, "archive directory '%s': not a usable path", dir);
        return LDG_EINVAL;
    }
    memcpy(buf, dir, n + 1);
    if (ldg_mkdir_p(buf, 0, 1, 0750, NULL, NULL) < 0) {
        int e = errno;
        ldg_set_errmsg(l, "archive directory %s: cannot create %s: %s", dir,
                       buf, strerror(e));
        return e == ENOSPC || e == EIO ? LDG_EIO : LDG_EEXIST;
    }
    return 0;
}

/* An exclusive lock on DIR/.prune.lock, waited for: the fd, or < 0. */
static int
lock_dir(struct ldg_ledger *l, const char *dir)
{
    char path[4200];
    int fd;
    snprintf(path, sizeof path, "%s/.prune.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        int e = errno;
        ldg_set_errmsg(l, "archive directory %s: cannot create %s: %s", dir,
                       path, strerror(e));
        return e == ENOSPC || e == EIO ? LDG_EIO : LDG_EEXIST;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            ldg_set_errmsg(l, "%s: lock: %s", path, strerror(errno));
            close(fd);
            return LDG_EIO;
        }
    }
    return fd;
}

/* Removes DIR/ledger-*.bundle.tmp.* : archives a killed run was writing
 * (a whole archive is linked to its name only once written and synced). */
static void
remove_partials(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "ledger-", 7) == 0 &&
            (strstr(e->d_name, ".bundle.tmp.") != NULL ||
             strstr(e->d_name, ".segment.tmp.") != NULL))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* The horizon of the next part from cur: at most p->archive_events
 * events, or, when one commit holds more, that commit alone. */
static int
part_end(struct ldg_ledger *l, const struct ldg_retention_policy *p,
         const struct ldg_retention_horizon *cur, uint64_t *hz)
{
    struct ldg_retention_horizon step;
    uint64_t lo, hi;
    int rc;

    *hz = cur->horizon;
    if (p->archive_events == 0 ||
        cur->horizon - cur->first <= p->archive_events)
        return 0;
    rc = ret_resolve(l, "", 0, cur->first + p->archive_events, &step);
    if (rc == 0 && step.horizon > cur->first) {
        *hz = step.horizon;
        return 0;
    }
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    /* the first commit end after cur->first: the smallest x with a
     * commit ending in (first, x] (binary search; horizons only grow) */
    lo = cur->first + p->archive_events + 1;
    hi = cur->horizon;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        LDG_ASSERT(lo <= mid && mid < hi);
        rc = ret_resolve(l, "", 0, mid, &step);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        if (rc == 0 && step.horizon > cur->first)
            hi = mid;
        else
            lo = mid + 1;
    }
    if ((rc = ret_resolve(l, "", 0, hi, &step)) < 0)
        return rc;
    *hz = step.horizon;
    return 0;
}

/* The archive of a prune a crash stopped between two of its steps (the
 * horizon record names an archive that holds events past the horizon):
 * DIR/ledger-FIRST-LAST.segment (or .bundle, as written before segments)
 * with FIRST the record's first, LAST at or
 * past cur's first and before want, and the SHA-256 the record pins. 1
 * with its path and its end in *hz; 0 when there is none. */
static int
interrupted_archive(struct ldg_ledger *l, const struct ldg_retention_policy *p,
                    const struct ldg_retention_horizon *cur, uint64_t want,
                    char *path, size_t cap, uint64_t *hz)
{
    struct ldg_horizon rec;
    struct dirent *e;
    char prefix[40], cand[4400];
    uint8_t sha[32];
    int found = 0, n;
    DIR *d;

    if (cur->first == 0 || ldg_horizon(l, &rec) < 0)
        return 0;
    if (rec.first >= cur->first || (d = opendir(p->archive_dir)) == NULL) {
        ldg_horizon_release(&rec);
        return 0;
    }
    snprintf(prefix, sizeof prefix, "ledger-%llu-",
             (unsigned long long)rec.first);
    while (!found && (e = readdir(d)) != NULL) {
        const char *q = e->d_name + strlen(prefix);
        char *end;
        unsigned long long last;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || *q < '0' ||
            *q > '9')
            continue;
        errno = 0;
        last = strtoull(q, &end, 10);
        if (errno != 0 ||
            (strcmp(end, ".segment") != 0 && strcmp(end, ".bundle") != 0) ||
            last < cur->first || last >= want)
            continue;
        n = snprintf(cand, sizeof cand, "%s/%s", p->archive_dir, e->d_name);
        if (n < 0 || (size_t)n >= cap)
            continue;
        if (ret_file_sha256(cand, sha) == 0 &&
            memcmp(sha, rec.archive, 32) == 0) {
            memcpy(path, cand, (size_t)n + 1);
            *hz = last + 1;
            found = 1;
        }
    }
    closedir(d);
    ldg_horizon_release(&rec);
    return found;
}

/* Archives and prunes up to want->horizon in parts, under the lock. */
static int
apply_parts(struct ldg_ledger *l, const struct ldg_retention_policy *p,
            int force, uint64_t now_ns,
            const struct ldg_retention_horizon *want,
            struct ldg_policy_report *r)
{
    struct ldg_archive_opts ao;
    struct ldg_prune_opts po;
    char spec[32];
    int rc;

    /* an archive at most p->archive_events events (its writer and its
     * checks hold 3 and 12 KiB an event: docs/RETENTION.md), one prune each */
    r->first = want->first;
    for (;;) {
        struct ldg_retention_horizon cur;
        uint64_t hz;
        rc = ret_resolve(l, "", 0, want->horizon, &cur);
        if (rc == LDG_ENOTFOUND || (rc == 0 && cur.horizon <= cur.first))
            break;
        if (rc < 0)
            return rc;
        if (r->pruned == 0)
            r->first = cur.first; /* (a run before this one took some) */
        if ((rc = part_end(l, p, &cur, &hz)) < 0)
            return rc;
        snprintf(r->archive, sizeof r->archive, "%s/ledger-%llu-%llu.segment",
                 p->archive_dir, (unsigned long long)cur.first,
                 (unsigned long long)(hz - 1));
        /* a prune of this policy that a crash stopped between two of its
         * steps goes on with its archive */
        interrupted_archive(l, p, &cur, want->horizon + 1, r->archive,
                            sizeof r->archive, &hz);
        snprintf(spec, sizeof spec, "%llu", (unsigned long long)hz);
        memset(&po, 0, sizeof po);
        po.before = spec;
        po.archive = r->archive;
        po.keep_days = p->keep_days;
        po.force = force;
        po.now_ns = now_ns;
        /* an archive a crash left behind is checked like any by the
         * prune; one that fails its check is set aside (kept, renamed)
         * and written again */
        if (access(r->archive, F_OK) == 0) {
            rc = ldg_retention_prune(l, &po, &r->pr);
            if (rc != LDG_ETAMPER && rc != LDG_EBADINPUT)
                goto pruned;
            snprintf(r->set_aside, sizeof r->set_aside, "%s.rejected.%llu",
                     r->archive, (unsigned long long)(now_ns / 1000000000u));
            snprintf(r->set_aside_why, sizeof r->set_aside_why, "%s",
                     ldg_errmsg(l));
            if (rename(r->archive, r->set_aside) < 0) {
                ldg_set_errmsg(l,
                               "%s failed its check and cannot be moved "
                               "aside (%s): %s",
                               r->archive, strerror(errno), r->set_aside_why);
                return LDG_EIO;
            }
        }
        memset(&ao, 0, sizeof ao);
        ao.before = spec;
        ao.out = r->archive;
        if ((rc = ldg_retention_archive(l, &ao, &r->ar)) < 0)
            return rc;
        r->archived++;
        rc = ldg_retention_prune(l, &po, &r->pr);
        /* one just written that fails its check is removed (the next run
         * would only set it aside and write it again, run after run) */
        if (rc == LDG_ETAMPER || rc == LDG_EBADINPUT)
            unlink(r->archive);
    pruned:
        if (rc < 0)
            return rc;
        if (r->pr.already)
            break; /* (pruned meanwhile, with this archive) */
        r->pruned++;
        r->events += r->pr.events;
        if (hz >= want->horizon)
            break;
    }
    return 0;
}

int
ldg_retention_apply(struct ldg_ledger *l, const struct ldg_retention_policy *p,
                    int force, uint64_t now_ns, struct ldg_policy_report *r)
{
    struct ldg_retention_horizon age, want;
    uint64_t keep_ns, cutoff, used, removable;
    int rc, lockfd;

    if (l == NULL || p == NULL || r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    if (now_ns == 0)
        now_ns = ldg_now_wall_ns();
    keep_ns = (uint64_t)p->keep_days * 86400u * 1000000000u;
    cutoff = now_ns > keep_ns ? now_ns - keep_ns : 0;
    r->used = used = ret_used_bytes2(l, &removable);
    /* by age: the events older than keep_days */
    rc = ret_resolve(l, "the retention minimum", 1, cutoff, &age);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    if (rc == LDG_ENOTFOUND)
        age.horizon = 0;
    want = age;
    /* by the disk budget: as many of the oldest events as hold the excess,
     * at the bytes a prune removes an event on average (its records: its
     * tree hashes, the checkpoints and the state stay) */
    if (p->disk_budget > 0 && used > p->disk_budget) {
        struct ldg_retention_horizon b;
        uint64_t kept, per, need;
        rc = ret_resolve(l, "the disk budget", 0, 0, &b);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        kept = b.size - b.first;
        per = kept ? removable / kept : 0;
        need = per ? (used - p->disk_budget + per - 1) / per : 0;
        r->over_budget = used - p->disk_budget;
        if (need > 0 && b.first + need > age.horizon) {
            /* to a commit's end: the last at or before the need, or when
             * that is none, the first after it (an excess smaller than a
             * commit still prunes one) */
            uint64_t target = b.first + need, end;
            rc = ret_resolve(l, "the disk budget", 0, target, &b);
            if (rc == LDG_ENOTFOUND && target < b.size) {
                struct ldg_txn *t;
                if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
                    return rc;
                rc = ldg_checkpoint_ceil(t, target + 1, &end);
                ldg_txn_abort(t);
                if (rc == 0)
                    rc = ret_resolve(l, "the disk budget", 0, end, &b);
            }
            if (rc < 0 && rc != LDG_ENOTFOUND)
                return rc;
            if (rc == 0 && b.horizon > age.horizon) {
                if (!force) {
                    char t1[40];
                    ldg_time_when(t1, sizeof t1, b.until_ns);
                    snprintf(
                        r->budget_why, sizeof r->budget_why,
                        "the disk budget (%llu bytes; %llu in use) needs "
                        "events %llu..%llu pruned, up to %s, younger "
                        "than the retention minimum of %u days: only "
                        "the older ones are; " LDG_OPT_FORCE " prunes to the "
                        "budget",
                        (unsigned long long)p->disk_budget,
                        (unsigned long long)used, (unsigned long long)b.first,
                        (unsigned long long)(b.horizon - 1), t1, p->keep_days);
                    r->budget_refused = 1;
                } else {
                    want = b;
                }
            }
        }
    }
    if (want.horizon == 0 || want.horizon <= want.first) {
        int n = snprintf(r->why, sizeof r->why,
                         "nothing to prune: no commit of the log ends before "
                         "%u days ago (the retention minimum)",
                         p->keep_days);
        if (p->disk_budget > 0 && used <= p->disk_budget && n > 0 &&
            (size_t)n < sizeof r->why)
            snprintf(r->why + n, sizeof r->why - (size_t)n,
                     ", and the store is within its disk budget (%llu of "
                     "%llu bytes in use)",
                     (unsigned long long)used,
                     (unsigned long long)p->disk_budget);
        r->over_budget_after = r->over_budget;
        return 0;
    }
    if ((rc = mkdir_p(l, p->archive_dir)) < 0)
        return rc;
    /* one policy run at a time: a second waits, then finds the work done;
     * what a killed one left half-written is removed */
    if ((lockfd = lock_dir(l, p->archive_dir)) < 0)
        return lockfd;
    remove_partials(p->archive_dir);
    rc = apply_parts(l, p, force, now_ns, &want, r);
    close(lockfd); /* (and with it the lock) */
    if (rc == 0 && r->pruned > 0 && p->disk_budget > 0) {
        uint64_t after = ret_used_bytes2(l, &removable);
        if (after > p->disk_budget)
            r->over_budget_after = after - p->disk_budget;
        r->kept_for_all = after - removable;
    }
    if (rc == 0 && r->pruned == 0)
        snprintf(r->why, sizeof r->why,
                 "nothing to prune: the events before %llu were pruned "
                 "meanwhile (by another run)",
                 (unsigned long long)want.horizon);
    return rc;
}
