/*
 * stats.c — ldg_stats: sizes of a ledger's log and databases.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/migrate_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"

/* -------------------------------------------------------------- stats -- */

int
ldg_stats(struct ldg_ledger *l, struct ldg_stats *st)
{
    struct ldg_txn *t;
    struct ldg_event ev;
    struct stat sb;
    char path[4200];
    int rc;

    memset(st, 0, sizeof *st);
    l->errmsg[0] = '\0';
    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_txn_size(t, &st->events);
    if (rc == 0 && (st->layout = ldg_txn_layout(t)) < 0)
        rc = st->layout;
    if (rc == 0)
        st->layout_what = ldg_layout_what(st->layout);
    if (rc == 0)
        rc = ldg_db_count(t, ldg_core(l, ldg_db_bodies(t)), &st->bodies);
    if (rc == 0)
        rc = ldg_db_count(t, ldg_core(l, LDG_DB_CHECKPOINTS), &st->checkpoints);
    if (rc == 0)
        rc = ldg_db_bytes(t, ldg_core(l, ldg_db_entries(t)), &st->entry_bytes);
    if (rc == 0)
        rc = ldg_db_bytes(t, ldg_core(l, ldg_db_bodies(t)), &st->body_bytes);
    if (rc == 0) {
        uint64_t n = 0;
        rc = ldg_db_count(t, ldg_core(l, LDG_DB_KEYS), &n);
        st->keys = n; /* corrected below: records are id: and name: */
    }
    if (rc == 0) {
        st->horizon = ldg_txn_horizon(t);
        st->intake = l->intake != NULL;
        st->intake_events = ldg_txn_tail(t);
    }
    if (rc == 0) {
        /* a damaged meta "digest.next" (FORMAT.md 6) is named, not
         * passed over (a whole one migrate finishes) */
        uint64_t next;
        rc = ldg_txn_digest_next(t, &next);
        if (rc == LDG_ENOTFOUND || rc == 0)
            rc = 0;
    }
    if (rc == 0 && st->events > st->horizon) {
        rc = ldg_event_get(t, st->horizon, &ev);
        if (rc == 0) {
            st->first_ts = ev.ts_ns;
            memcpy(st->first_type, ev.type, sizeof ev.type);
            rc = ldg_event_get(t, st->events - 1, &ev);
        }
        if (rc == 0) {
            st->last_ts = ev.ts_ns;
            memcpy(st->last_type, ev.type, sizeof ev.type);
        }
    }
    ldg_txn_abort(t);
    if (rc == 0) {
        struct ldg_keyinfo *ki;
        size_t nk;
        int krc = ldg_keys_list(l, &ki, &nk);
        if (krc == 0) {
            st->keys = nk;
            free(ki);
        } else if (krc == LDG_ENOMEM) {
            rc = krc; /* the count above is the records', not the keys' */
        }
        snprintf(path, sizeof path, "%s/data.mdb", l->dir);
        if (stat(path, &sb) == 0)
            st->file_bytes = (uint64_t)sb.st_size;
        st->map_bytes = ldg_store_map_size(l->store);
    }
    return rc;
}

int
ldg_stats_databases(struct ldg_ledger *l, struct ldg_db_size **out, size_t *n)
{
    struct ldg_txn *t;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_store_db_sizes(t, out, n);
    ldg_txn_abort(t);
    return rc;
}

/* pid's start time (wall clock ns) and state letter from /proc (Linux);
 * left 0 when they cannot be read. */
static void
proc_info(struct ldg_snapshot_holder *h)
{
    char path[64], buf[1024], *p;
    unsigned long long start_ticks = 0;
    FILE *f;
    size_t n;
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec rt, bt;

    snprintf(path, sizeof path, "/proc/%d/stat", h->pid);
    if ((f = fopen(path, "r")) == NULL)
        return;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and ')' */
    if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
        return;
    h->state = p[2];
    /* field 22, starttime, is the 20th after the state */
    p += 3;
    for (int i = 0; i < 19 && p != NULL; i++)
        if ((p = strchr(p, ' ')) != NULL)
            p++;
    if (p == NULL || sscanf(p, "%llu", &start_ticks) != 1 || hz <= 0)
        return;
    /* ticks since boot; boot = now (wall) - uptime (CLOCK_BOOTTIME) */
    if (clock_gettime(CLOCK_REALTIME, &rt) != 0 ||
        clock_gettime(CLOCK_BOOTTIME, &bt) != 0)
        return;
    {
        uint64_t now = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
        uint64_t up = (uint64_t)bt.tv_sec * 1000000000u + (uint64_t)bt.tv_nsec;
        uint64_t since_boot = start_ticks * (1000000000u / (uint64_t)hz);
        if (up <= now && since_boot <= up)
            h->proc_start_ns = now - up + since_boot;
    }
}

static int
holder_cmp(const void *a, const void *b)
{
    const struct ldg_snapshot_holder *x = a, *y = b;
    return x->txnid < y->txnid ? -1 : x->txnid > y->txnid ? 1 : x->pid - y->pid;
}

int
ldg_stats_snapshots(struct ldg_ledger *l, struct ldg_snapshot_holder **out,
                    size_t *n, uint64_t *last_txnid)
{
    struct ldg_txn *t;
    uint64_t dummy;
    int rc;

    if (l == NULL || out == NULL || n == NULL)
        return LDG_EINVAL;
    *out = NULL;
    *n = 0;
    if (last_txnid == NULL)
        last_txnid = &dummy;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_store_snapshots(t, out, n, last_txnid);
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *n; i++)
        proc_info(&(*out)[i]);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, holder_cmp);
    return 0;
}
