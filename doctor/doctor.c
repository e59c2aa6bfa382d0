/*
 * doctor.c — the live box-wide clauses and the verdict (see doctor.h).
 *
 * Budget: `ledger doctor` answers in a few milliseconds on a ledger of a
 * million events and a thousand packs because nothing here replays the
 * log: the pack clauses come from projection records, chain-verified from
 * the core's saved verify position, and the rest from the file system.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "doctor/doctor.h"
#include "ledger/module.h"
#include "policy/policy.h"
#include "util/util.h"

/* A verdict's rank (ldg_projections_verdict_rank) as the exit code. */
static int
rank_exit(int r)
{
    static const int code[] = {LDG_DOCTOR_HEALTHY, LDG_DOCTOR_UNKNOWN,
                               LDG_DOCTOR_DEGRADED, LDG_DOCTOR_BLOCKED};
    return code[r < 0 ? 0 : r > 3 ? 3 : r];
}

/* A clause's status, as clause_add takes it: 0 ok, 1 unknown, 2 fail
 * (the numbers every clause passes), and ST_WARN: worse than ok, milder
 * than unknown, with remedies, but never a change of the verdict
 * (disk-headroom's "the disk fills within twice the retention"). */
enum { ST_OK = 0, ST_UNKNOWN = 1, ST_FAIL = 2, ST_WARN = 3 };

static int
severity(int st)
{
    static const int sev[] = {0, 2, 3, 1};
    return sev[st < 0 || st > ST_WARN ? ST_FAIL : st];
}

struct clause {
    const char *name;
    int status; /* ST_* */
    json_t *detail, *remedy;
};

static void
clause_init(struct clause *c, const char *name)
{
    c->name = name;
    c->status = 0;
    c->detail = json_array();
    c->remedy = NULL;
}

static void clause_add(struct clause *c, int status, const char *remedy,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
clause_add(struct clause *c, int status, const char *remedy, const char *fmt,
           ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (severity(status) > severity(c->status))
        c->status = status;
    json_array_append_new(c->detail, json_string(buf));
    if (remedy != NULL) {
        if (c->remedy == NULL)
            c->remedy = json_array();
        json_array_append_new(c->remedy, json_string(remedy));
    }
}

/* Appends the clause (with more, an object whose keys are added to it:
 * its measures; may be NULL) and returns it. */
static json_t *
clause_emit_with(json_t *box, struct clause *c, json_t *more)
{
    static const char *const st[] = {"ok", "unknown", "fail", "warn"};
    json_t *o = json_pack("{s:s, s:s, s:o}", "name", c->name, "status",
                          st[c->status], "detail", c->detail);
    if (c->status != ST_OK)
        json_object_set_new(o, "remedy", c->remedy ? c->remedy : json_array());
    else
        json_decref(c->remedy);
    if (more != NULL)
        json_object_update(o, more);
    json_decref(more);
    json_array_append_new(box, o);
    return o;
}

/* A status's rank in the verdict: a failure is "degraded", unknown is
 * "unknown", a warning changes nothing. */
static int
status_rank(int st)
{
    return st == ST_FAIL ? 2 : st == ST_UNKNOWN ? 1 : 0;
}

/* Appends the clause; returns its rank. */
static int
clause_emit(json_t *box, struct clause *c)
{
    (void)clause_emit_with(box, c, NULL);
    return status_rank(c->status);
}

/* The clause rests on what the core remembers of its verifications
 * (ldg_verify_state): a standing finding fails it until a full
 * verification passes; otherwise it says whether the verified position
 * comes from a full verification or from plain runs over new events
 * since one (which did not re-check older signatures and bodies). Once a
 * verification is recorded, the events appended since are checked here
 * (check_new: the doctor of now, not --at), at most
 * LDG_DOCTOR_VERIFY_NEW_MAX of them; a log never verified is left to
 * `ledger verify`, the baseline the checks of new events build on. */
static int
chain_verified(struct ldg_ledger *l, uint64_t size, int check_new, json_t *box)
{
    struct clause c;
    struct ldg_verify_state st;
    struct ldg_verify_report rep;
    char when[32], fwhen[32], nerr[512] = "";
    int rc, nrc = 1; /* 1: no check of new events made */

    clause_init(&c, "chain-verified");
    rc = ldg_verify_state(l, &st);
    /* New events since the last verification are checked now (what they
     * cost, not what the log costs: verify_new.c), so that a busy box's
     * clause does not turn unknown with every write. */
    if (rc == 0 && check_new && !st.finding && st.verified_size > 0 &&
        st.verified_size < size) {
        nrc = ldg_doctor_verify_new(l, LDG_DOCTOR_VERIFY_NEW_MAX, &rep, nerr,
                                    sizeof nerr);
        if ((nrc == 0 || nrc == LDG_ETAMPER) && rep.recorded) {
            rc = ldg_verify_state(l, &st);
        } else if (nrc == LDG_ETAMPER) { /* found, not recorded */
            st.finding = 1;
            st.finding_seq = rep.bad_seq;
            st.finding_ts_ns = rep.found_ts_ns;
            snprintf(st.finding_what, sizeof st.finding_what, "%s", rep.what);
        } else if (nrc == 0) {
            st.verified_size = rep.to;
        }
    }
    ldg_time_when(fwhen, sizeof fwhen, st.full_ts_ns);
    if (rc < 0) {
        clause_add(&c, 1, LDG_CMD_VERIFY_FULL,
                   "cannot read what verification found: %s", ldg_strerror(rc));
    } else if (st.finding && !check_new && st.finding_seq >= size) {
        /* --at: judged at that size, before the bad event (verification
         * reached it having checked those before) */
        ldg_time_when(when, sizeof when, st.finding_ts_ns);
        clause_add(&c, 0, NULL,
                   "the first %llu events held when verification reached "
                   "event %llu and found it bad (%s): that finding stands "
                   "for the log now, not for event %llu",
                   (unsigned long long)size, (unsigned long long)st.finding_seq,
                   when, (unsigned long long)(size - 1));
    } else if (st.finding) {
        ldg_time_when(when, sizeof when, st.finding_ts_ns);
        clause_add(&c, 2, LDG_CMD_VERIFY_FULL,
                   "verification FAILED at event %llu (found %s): %s; this "
                   "stands until a full verification passes",
                   (unsigned long long)st.finding_seq, when, st.finding_what);
    } else if (check_new && st.verified_size > size) {
        /* the log now (not --at) shorter than a verification saw:
         * verify_chain.c's finding, which the doctor says itself (it runs
         * no verification when nothing is new) */
        clause_add(&c, 2, LDG_CMD_VERIFY,
                   "the log has %llu events but %llu were verified before: "
                   "the tail from event %llu on was truncated",
                   (unsigned long long)size,
                   (unsigned long long)st.verified_size,
                   (unsigned long long)size);
    } else if (st.verified_size == 0) {
        clause_add(&c, 1, LDG_CMD_VERIFY,
                   "the log was never verified on this box");
    } else if (st.verified_size < size) {
        clause_add(
            &c, 1, LDG_CMD_VERIFY,
            "verified through %llu of %llu events; the rest are not "
            "verified yet%s",
            (unsigned long long)st.verified_size, (unsigned long long)size,
            nrc == LDG_EFULL
                ? " (more new events than the doctor checks on demand: "
                  "`" LDG_CMD_VERIFY "`, or `" LDG_CMD_SERVE_VERIFY_EVERY "`)"
                : "");
        if (nrc < 0 && nrc != LDG_EFULL && nrc != LDG_ETAMPER)
            clause_add(&c, 1, NULL, "checking the new events failed: %s",
                       nerr[0] ? nerr : ldg_strerror(nrc));
    } else if (st.full_ts_ns != 0 && st.full_size >= st.verified_size) {
        clause_add(&c, 0, NULL,
                   "signatures, bodies, chain and tree verified through "
                   "%llu events by a full verification (%s)",
                   (unsigned long long)size, fwhen);
    } else if (st.full_ts_ns != 0) {
        clause_add(&c, 0, NULL,
                   "verified through %llu events: a full verification "
                   "through %llu (%s), then plain runs over the events "
                   "after it (chain, tree and bodies re-checked from 0, "
                   "older signatures not)",
                   (unsigned long long)size, (unsigned long long)st.full_size,
                   fwhen);
    } else {
        clause_add(&c, 0, NULL,
                   "verified through %llu events by plain runs, each over "
                   "the events new to it (never a full verification)",
                   (unsigned long long)size);
    }
    if (nrc == 0 && rep.checked > 0 && !st.finding)
        clause_add(
            &c, 0, NULL,
            "events %llu..%llu (new since the last verification) "
            "checked just now: chain link, signatures or seals, "
            "bodies, tree consistency, checkpoints%s%s",
            (unsigned long long)rep.from, (unsigned long long)rep.to - 1,
            rep.recorded ? "" : "; not recorded: ", rep.recorded ? "" : nerr);
    return clause_emit(box, &c);
}

static int
keys_valid(struct ldg_ledger *l, json_t *box)
{
    struct clause c;
    struct ldg_keyinfo *k = NULL;
    char path[4200], remedy[4400];
    struct stat st;
    size_t n = 0;
    int bad = 0;

    clause_init(&c, "keys-valid");
    snprintf(path, sizeof path, "%s/keys/log.key", ldg_dir(l));
    if (stat(path, &st) != 0) {
        snprintf(remedy, sizeof remedy,
                 "restore %s (mode 0600) from a backup; without it nothing "
                 "can be appended or checkpointed",
                 path);
        clause_add(&c, 2, remedy, "the log key file %s is missing: %s", path,
                   strerror(errno));
        bad = 1;
    } else if ((st.st_mode & 077) != 0) {
        snprintf(remedy, sizeof remedy, "chmod 600 %s", path);
        clause_add(&c, 2, remedy,
                   "the log key file %s is readable by "
                   "others (mode %03o)",
                   path, (unsigned)(st.st_mode & 0777));
        bad = 1;
    }
    if (ldg_keys_list(l, &k, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (k[i].revoked_seq == UINT64_MAX || !k[i].has_secret)
                continue;
            snprintf(path, sizeof path, "%s/keys/%s.key", ldg_dir(l),
                     k[i].name);
            snprintf(remedy, sizeof remedy,
                     "remove %s: its key was revoked and must not sign "
                     "again",
                     path);
            clause_add(&c, 2, remedy,
                       "key %s (%s) was revoked at seq %llu but its secret "
                       "key file is still here",
                       k[i].name, k[i].key_id,
                       (unsigned long long)k[i].revoked_seq);
            bad = 1;
        }
        if (!bad)
            clause_add(&c, 0, NULL,
                       "%zu keys known; the log key is "
                       "present and private",
                       n);
        free(k);
    } else {
        clause_add(&c, 1, LDG_CMD_KEYS_LIST,
                   "the key registry could not be read");
    }
    return clause_emit(box, &c);
}

/* What whoever holds the box now could still re-sign (issue 65). */
static int
epoch_exposure(struct ldg_ledger *l, uint64_t witness_size, uint64_t now_ns,
               json_t *box)
{
    struct clause c;
    struct ldg_exposure x;
    char ago[64];
    int rc;

    clause_init(&c, "epoch-exposure");
    rc = ldg_keys_exposure(l, &x);
    if (rc < 0) {
        clause_add(&c, ST_FAIL, LDG_CMD_KEYS_ADVANCE,
                   "the log key's epoch state cannot be used: %s",
                   ldg_errmsg(l));
        return clause_emit(box, &c);
    }
    if (!x.anchored) {
        /* at a store layout without them the anchor is refused: the
         * remedy is the conversion first */
        const char *remedy = LDG_CMD_KEYS_ANCHOR " " LDG_OPT_EPOCH " 60";
        char why[200] = "";
        struct ldg_stats st;
        if (ldg_stats(l, &st) == 0 &&
            !(ldg_layout_info(st.layout, NULL) & LDG_LAYOUT_EPOCHS)) {
            remedy = LDG_CMD_MIGRATE;
            snprintf(why, sizeof why,
                     "; store layout %d has none: `" LDG_CMD_MIGRATE
                     "` converts it, then `%s`",
                     st.layout, LDG_CMD_KEYS_ANCHOR " " LDG_OPT_EPOCH " 60");
        }
        clause_add(&c, ST_WARN, remedy,
                   "the log key has no epoch keys: whoever holds this box "
                   "can re-sign its whole past%s (docs/EPOCHS.md)",
                   why);
    } else {
        uint64_t s =
            now_ns > x.start_ns ? (now_ns - x.start_ns) / 1000000000u : 0;
        snprintf(ago, sizeof ago, "%llu s ago", (unsigned long long)s);
        if (x.since_seq == UINT64_MAX)
            clause_add(&c, ST_OK, NULL,
                       "the log key is at epoch %u.%u, begun %s, which has "
                       "sealed nothing yet: whoever holds the box now can "
                       "re-sign nothing acked",
                       x.period, x.sub, ago);
        else if (now_ns >= x.end_ns)
            /* its period is over and no serve, timer nor writer ended it:
             * the promise of a period's exposure at most is broken */
            clause_add(&c, ST_WARN,
                       LDG_CMD_KEYS_ADVANCE_EXPIRED
                       " (and keep ledger serve or ledger-epoch.timer "
                       "running: docs/EPOCHS.md)",
                       "the log key is at epoch %u.%u since seq %llu, begun "
                       "%s, whose period ended %llu s ago but whose secret "
                       "is still on the box: whoever holds the box now "
                       "could re-sign the events from seq %llu on",
                       x.period, x.sub, (unsigned long long)x.since_seq, ago,
                       (unsigned long long)((now_ns - x.end_ns) / 1000000000u),
                       (unsigned long long)x.since_seq);
        else
            clause_add(&c, ST_OK, NULL,
                       "the log key is at epoch %u.%u since seq %llu, begun "
                       "%s: whoever holds the box now could re-sign the "
                       "events from seq %llu on, none before (until its "
                       "period ends, in %llu s)",
                       x.period, x.sub, (unsigned long long)x.since_seq, ago,
                       (unsigned long long)x.since_seq,
                       (unsigned long long)((x.end_ns - now_ns + 999999999u) /
                                            1000000000u));
    }
    if (witness_size > 0)
        clause_add(&c, ST_OK, NULL,
                   "deleting or truncating the log below %llu events would "
                   "be detected: a witness cosigned that size",
                   (unsigned long long)witness_size);
    else
        clause_add(&c, ST_OK, NULL,
                   "nothing on this box would detect deleting or truncating "
                   "the whole log: no witness has cosigned it "
                   "(" LDG_CMD_PUBLISH_WITNESS ")");
    if (x.fs_keeps_old == 1)
        clause_add(&c, ST_WARN,
                   "keep DIR/keys on a file system that overwrites in place "
                   "(ext4 data=ordered, xfs)",
                   "keys/ is on %s, which may keep the old bytes an in-place "
                   "overwrite replaces: past epoch secrets may stay readable "
                   "from the raw device",
                   x.fs);
    else if (x.fs_keeps_old < 0)
        clause_add(&c, ST_OK, NULL,
                   "keys/ is on %s: whether it keeps overwritten bytes is "
                   "not known here",
                   x.fs);
    return clause_emit(box, &c);
}

static int
projections_current(struct ldg_ledger *l, uint64_t at_size, json_t *box)
{
    struct clause c;
    json_t *list = NULL, *o;
    uint64_t size = 0;
    size_t i;
    int bad = 0;

    clause_init(&c, "projections-current");
    if (at_size != 0) {
        clause_add(&c, 0, NULL,
                   "state recomputed from the log at %llu "
                   "events",
                   (unsigned long long)at_size);
        return clause_emit(box, &c);
    }
    if (ldg_size(l, &size) == 0 && size <= 1) {
        /* a fresh ledger: nothing but the genesis to project yet */
        clause_add(&c, 0, NULL, "nothing to project yet");
        return clause_emit(box, &c);
    }
    if (ldg_projections_list(l, 0, &list) < 0) {
        clause_add(&c, 1, LDG_CMD_REBUILD,
                   "the projection store could not be read");
        return clause_emit(box, &c);
    }
    json_array_foreach(list, i, o)
    {
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *ver = json_object_get(o, "version");
        json_int_t code =
            json_integer_value(json_object_get(o, "code_version"));
        json_int_t behind = json_integer_value(json_object_get(o, "behind"));
        if (json_is_true(json_object_get(o, "current")))
            continue;
        if (name != NULL && strcmp(name, "doctor") == 0) {
            /* the doctor's inputs (last in the list) are stale when a
             * projection above is: that one was named already */
            if (!bad)
                clause_add(&c, 2, LDG_CMD_REBUILD,
                           "the doctor's inputs could not be taken from the "
                           "stored projections (this answer was computed "
                           "from the log)");
            bad = 1;
            continue;
        }
        bad = 1;
        if (!json_is_integer(ver))
            clause_add(&c, 2, LDG_CMD_REBUILD,
                       "projection %s was never built (this answer was "
                       "computed from the log)",
                       name);
        else if (json_integer_value(ver) != code)
            clause_add(&c, 2, LDG_CMD_REBUILD,
                       "projection %s is stored at version %lld, this code "
                       "is version %lld (this answer was computed from the "
                       "log)",
                       name, (long long)json_integer_value(ver),
                       (long long)code);
        else
            clause_add(&c, 2, LDG_CMD_REBUILD,
                       "projection %s is %lld events behind the log (they "
                       "were folded in memory for this answer); an "
                       "appender ran without projections",
                       name, (long long)behind);
    }
    if (!bad)
        clause_add(&c, 0, NULL,
                   "all projections stored at this code's "
                   "versions and up to the log");
    json_decref(list);
    return clause_emit(box, &c);
}

/* ------------------------------------------------------ disk-headroom -- */

#define NS_PER_DAY (86400ull * 1000000000ull)

/* n bytes in 1024-based units: "512 B", "63.2 GiB". */
static void
human_bytes(char *buf, size_t cap, double n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    LDG_ASSERT(u >= 0 && u < (int)(sizeof unit / sizeof unit[0]));
    if (u == 0)
        snprintf(buf, cap, "%.0f B", n);
    else
        snprintf(buf, cap, "%.1f %s", n, unit[u]);
}

/* What the log grows by: the events appended (ledger time, which grows
 * with seq) in the window — the LDG_DOCTOR_GROWTH_DAYS days up to now,
 * or the log's whole span when it is younger, and never under a day: a
 * log of minutes is not extrapolated from its minutes — and the store's
 * bytes in use per event (data.mdb's pages less the free ones, as `ledger
 * stats --databases` counts them, over the log's events). A pruned log
 * whose horizon falls in the window is measured from its horizon (the
 * times of the events before it went with them), and its bytes an event
 * are what an event adds: the tree's and the checkpoints' over every event
 * (they stay for the pruned ones), the entries', bodies', seals' and
 * indexes' over the events kept (the state kept at the horizon does not
 * grow with events). */
struct growth {
    uint64_t events;    /* appended in the window */
    uint64_t window_ns; /* its length */
    int young;          /* the log is younger than the window */
    uint64_t hz_ns;     /* measured from the horizon: its time, else 0 */
    uint64_t used_bytes;
    /* of those, on a pruned log: what each kept event holds (entries,
     * bodies, seals, indexes), and what every event ever appended holds
     * (the tree's hashes, the checkpoints), the rest being the state */
    uint64_t kept_bytes, all_bytes;
    uint64_t size; /* events the store holds (none before a horizon) */
    uint64_t all;  /* events ever appended */
};

static int
growth_measure(struct ldg_ledger *l, uint64_t now_ns, struct growth *g)
{
    const uint64_t full = (uint64_t)LDG_DOCTOR_GROWTH_DAYS * NS_PER_DAY;
    uint64_t since = now_ns > full ? now_ns - full : 1, lo, hi;
    struct ldg_db_size *dbs = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_horizon h;
    struct ldg_event ev;
    size_t n = 0, i;
    int rc;

    memset(g, 0, sizeof *g);
    g->window_ns = full;
    if ((rc = ldg_stats_databases(l, &dbs, &n)) < 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (dbs[i].cls != LDG_DBC_FREE)
            g->used_bytes += dbs[i].bytes;
        if (dbs[i].cls == LDG_DBC_TREE || dbs[i].cls == LDG_DBC_CHECKPOINT)
            g->all_bytes += dbs[i].bytes;
        else if (dbs[i].cls == LDG_DBC_EVENT || dbs[i].cls == LDG_DBC_INDEX)
            g->kept_bytes += dbs[i].bytes;
    }
    free(dbs);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &g->size)) < 0 || g->size == 0)
        goto out;
    g->all = g->size;
    /* A pruned log keeps the events from its horizon on: those are the
     * ones the bytes in use hold, and the log is older than they are. */
    if (ldg_horizon_get(t, &h) == 0) {
        uint64_t hz = h.seq < g->size ? h.seq : g->size, hts = h.ts_ns;
        g->size -= hz;
        ldg_horizon_release(&h);
        if (hts >= since) {
            /* the window reaches before the horizon, whose events' times
             * are gone: measured from it */
            g->hz_ns = hts;
            g->events = g->size;
            g->window_ns = now_ns > hts ? now_ns - hts : 0;
            if (g->window_ns < NS_PER_DAY)
                g->window_ns = NS_PER_DAY;
            goto out;
        }
    }
    if (g->size == 0)
        goto out;
    /* (An event 0 that cannot be read, a pruned log's, is taken for an
     * old log's: the window then says what it holds, or why it cannot.) */
    if (ldg_event_get(t, 0, &ev) == 0 && ev.ts_ns >= since) {
        g->young = 1;
        g->events = g->size;
        g->window_ns = now_ns > ev.ts_ns ? now_ns - ev.ts_ns : 0;
    } else {
        lo = 0;
        if ((rc = ldg_txn_size(t, &hi)) < 0)
            goto out;
        hi--;
        if ((rc = ldg_time_window(t, since, UINT64_MAX, &lo, &hi)) < 0)
            goto out;
        g->events = rc == 0 ? hi - lo + 1 : 0;
        rc = 0;
    }
    if (g->window_ns < NS_PER_DAY)
        g->window_ns = NS_PER_DAY;
out:
    ldg_txn_abort(t);
    return rc;
}

/* "(keep_days in DIR/retention.json)" or "(the default: no DIR/...)". */
static void
policy_source(char *buf, size_t cap, const char *dir,
              const struct ldg_retention_policy *p)
{
    snprintf(buf, cap, "%s %s/%s",
             p->from_file ? "keep_days in" : "the default: no", dir,
             LDG_RETENTION_FILE);
}

/* A remedy on its own (no detail line of its own). */
static void
clause_remedy(struct clause *c, const char *remedy)
{
    if (c->remedy == NULL)
        c->remedy = json_array();
    json_array_append_new(c->remedy, json_string(remedy));
}

/* The remedies for too little room: archive and prune what the policy
 * lets go, then move the archives off the box. */
static void
prune_remedies(struct clause *c, const struct ldg_retention_policy *p,
               struct ldg_ledger *l, uint64_t now_ns)
{
    struct ldg_stats st;
    uint64_t keep_ns = (uint64_t)p->keep_days * NS_PER_DAY;
    char r[4400];

    if (ldg_stats(l, &st) == 0 && (st.events == 0 || st.first_ts == 0 ||
                                   st.first_ts + keep_ns > now_ns)) {
        /* nothing the policy may prune yet: the command would do nothing */
        snprintf(r, sizeof r,
                 "no event is older than the retention policy's %u days, so "
                 "a prune would remove nothing: free space on the file "
                 "system of %s (or give it more), or lower keep_days in "
                 "%s/%s if the law lets you keep less",
                 p->keep_days, ldg_dir(l), ldg_dir(l), LDG_RETENTION_FILE);
        clause_remedy(c, r);
        return;
    }
    snprintf(r, sizeof r,
             "archive the events older than the retention policy's %u days "
             "into %s and prune them from the ledger:",
             p->keep_days, p->archive_dir);
    clause_remedy(c, r);
    snprintf(r, sizeof r, LDG_CMD_PRUNE_POLICY_IN, ldg_dir(l));
    clause_remedy(c, r);
    snprintf(r, sizeof r, "move the archives in %s off the box",
             p->archive_dir);
    clause_remedy(c, r);
}

/* The growth lines of disk-headroom and its measures into m: the rate,
 * then the days left against the retention minimum (policy NULL: the
 * policy could not be read, no minimum to judge by). */
static void
growth_lines(struct clause *c, const struct growth *g, uint64_t freeb,
             const struct ldg_retention_policy *pol, const char *dir, json_t *m)
{
    double wdays = (double)g->window_ns / (double)NS_PER_DAY;
    double epd = (double)g->events / wdays;
    double bpe = g->size == 0       ? 0
                 : g->all > g->size ? (double)g->kept_bytes / (double)g->size +
                                          (double)g->all_bytes / (double)g->all
                                    : (double)g->used_bytes / (double)g->size;
    double bpd = epd * bpe, left;
    unsigned long long days;
    char win[256], src[4400], eb[32], db[32];
    int st = ST_OK;

    if (pol != NULL)
        policy_source(src, sizeof src, dir, pol);
    json_object_set_new(m, "keep_days",
                        pol ? json_integer(pol->keep_days) : json_null());
    json_object_set_new(m, "window_days", json_real(wdays));
    json_object_set_new(m, "events_per_day", json_real(epd));
    json_object_set_new(m, "bytes_per_event", json_real(bpe));
    json_object_set_new(m, "bytes_per_day", json_integer((json_int_t)bpd));
    if (g->events == 0 || bpd <= 0) {
        json_object_set_new(m, "days_left", json_null());
        clause_add(c, ST_OK, NULL,
                   "not growing: no event appended in the last %d days",
                   LDG_DOCTOR_GROWTH_DAYS);
        if (pol != NULL)
            clause_add(c, ST_OK, NULL, "the retention minimum is %u days (%s)",
                       pol->keep_days, src);
        return;
    }
    if (g->hz_ns != 0 && g->window_ns == NS_PER_DAY) {
        char when[64];
        ldg_time_when(when, sizeof when, g->hz_ns);
        snprintf(win, sizeof win,
                 "the horizon at %s is less than a day old: the events "
                 "since counted as a day's; the events before it were "
                 "pruned",
                 when);
    } else if (g->hz_ns != 0) {
        char when[64];
        ldg_time_when(when, sizeof when, g->hz_ns);
        snprintf(win, sizeof win,
                 "over the %.1f days since the horizon at %s: the "
                 "events before it were pruned",
                 wdays, when);
    } else if (!g->young)
        snprintf(win, sizeof win, "over the last %d days",
                 LDG_DOCTOR_GROWTH_DAYS);
    else if (g->window_ns == NS_PER_DAY)
        snprintf(win, sizeof win,
                 "the log is younger than a day: its events counted as a "
                 "day's");
    else
        snprintf(win, sizeof win, "over the log's %.1f days", wdays);
    human_bytes(eb, sizeof eb, bpe);
    human_bytes(db, sizeof db, bpd);
    clause_add(c, ST_OK, NULL,
               "growing %.1f events/day at %s/event in the store: %s/day (%s)",
               epd, eb, db, win);
    /* whole days, as many as are left in full */
    left = (double)freeb / bpd;
    days = left > 1e15 ? (unsigned long long)1e15 : (unsigned long long)left;
    json_object_set_new(m, "days_left", json_integer((json_int_t)days));
    if (pol == NULL) {
        clause_add(c, ST_OK, NULL, "%llu days left at that rate", days);
        return;
    }
    if (left < (double)pol->keep_days)
        st = ST_FAIL;
    else if (left < 2.0 * pol->keep_days)
        st = ST_WARN;
    clause_add(c, st, NULL,
               st == ST_FAIL   ? "%llu days left at that rate, fewer than "
                                 "the retention minimum of %u days (%s)"
               : st == ST_WARN ? "%llu days left at that rate, fewer than "
                                 "twice the retention minimum of %u days "
                                 "(%s)"
                               : "%llu days left at that rate; the retention "
                                 "minimum is %u days (%s)",
               days, pol->keep_days, src);
}

/*
 * disk-headroom: free space on the ledger's file system (statvfs: what
 * an unprivileged writer may use), judged twice: against a floor
 * (LDG_DOCTOR_DISK_MIN_MB and _PERCENT: fail below either), and against
 * the log's growth (growth_measure): the days left at that rate fail the
 * clause below the retention policy's keep_days (the disk would fill
 * before `ledger prune --policy` may remove anything) and warn below
 * twice it. A log that did not grow in the window passes that half. A
 * malformed DIR/retention.json fails the clause, naming the file's error.
 */
static int
disk_headroom(struct ldg_ledger *l, uint64_t now_ns, json_t *box)
{
    const char *dir = ldg_dir(l);
    struct ldg_retention_policy pol;
    struct statvfs sv;
    struct clause c;
    struct growth g;
    char remedy[4300], perr[4400] = "", fb[32];
    unsigned long long freeb, total;
    double pct;
    json_t *m;
    int prc, grc;

    clause_init(&c, "disk-headroom");
    if (statvfs(dir, &sv) != 0) {
        clause_add(&c, ST_UNKNOWN, NULL, "cannot read free space of %s: %s",
                   dir, strerror(errno));
        return clause_emit(box, &c);
    }
    freeb = (unsigned long long)sv.f_bavail * sv.f_frsize;
    total = (unsigned long long)sv.f_blocks * sv.f_frsize;
    pct = total ? 100.0 * (double)freeb / (double)total : 0;
    human_bytes(fb, sizeof fb, (double)freeb);
    m = json_pack("{s:I}", "free_bytes", (json_int_t)freeb);
    if ((freeb >> 20) < LDG_DOCTOR_DISK_MIN_MB ||
        pct < LDG_DOCTOR_DISK_MIN_PERCENT) {
        snprintf(remedy, sizeof remedy,
                 "free space on the file system of %s (need at least %d "
                 "MiB and %d%%)",
                 dir, LDG_DOCTOR_DISK_MIN_MB, LDG_DOCTOR_DISK_MIN_PERCENT);
        clause_add(&c, ST_FAIL, remedy,
                   "%s free (%.1f%%) on the ledger's file system, under "
                   "the floor of %d MiB and %d%%",
                   fb, pct, LDG_DOCTOR_DISK_MIN_MB,
                   LDG_DOCTOR_DISK_MIN_PERCENT);
    } else {
        clause_add(&c, ST_OK, NULL,
                   "%s free (%.1f%%) on the ledger's file "
                   "system",
                   fb, pct);
    }
    prc = ldg_retention_policy_load(dir, &pol, perr, sizeof perr);
    if ((grc = growth_measure(l, now_ns, &g)) < 0) {
        clause_add(&c, ST_UNKNOWN, LDG_CMD_VERIFY,
                   "cannot measure the log's growth: %s",
                   ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(grc));
        json_object_set_new(m, "keep_days",
                            prc < 0 ? json_null()
                                    : json_integer(pol.keep_days));
    } else {
        growth_lines(&c, &g, freeb, prc < 0 ? NULL : &pol, dir, m);
    }
    if (prc < 0) {
        snprintf(remedy, sizeof remedy,
                 "correct %s/%s, or remove it for the defaults (keep %d "
                 "days, archives in %s/%s)",
                 dir, LDG_RETENTION_FILE, LDG_RETENTION_KEEP_DAYS_DEFAULT, dir,
                 LDG_RETENTION_ARCHIVE_DIR_DEFAULT);
        clause_add(&c, ST_FAIL, remedy,
                   "the retention policy cannot be read, so the minimum "
                   "is not known: %s",
                   perr[0] ? perr : ldg_strerror(prc));
    } else if (c.status == ST_FAIL || c.status == ST_WARN) {
        prune_remedies(&c, &pol, l, now_ns);
    }
    (void)clause_emit_with(box, &c, m);
    return status_rank(c.status);
}

/* ------------------------------------------------------- storage-wear -- */

/* An eMMC life_time value as the share of its life used. */
static const char *
emmc_used(int v)
{
    static const char *const r[] = {"not given", "0-10%",  "10-20%", "20-30%",
                                    "30-40%",    "40-50%", "50-60%", "60-70%",
                                    "70-80%",    "80-90%", "90-100%"};
    if (v == 0x0b)
        return "more than 100%";
    return v >= 0 && v <= 0x0a ? r[v] : "not given";
}

/*
 * storage-wear: what the device holding the ledger writes (wear.c): the
 * bytes of the last hour and day from the samples `ledger metrics` keeps
 * (every writer of the device, as the kernel counts sectors), and either
 * the device's own wear figure (eMMC, NVMe) or the years a device of its
 * size lasts at that rate at LDG_DOCTOR_WEAR_CYCLES write cycles. A
 * warning at most (below LDG_DOCTOR_WEAR_WARN_YEARS, or an eMMC or NVMe
 * that says 90% of its life is used): wear is a forecast, not a fault.
 */
static void
storage_wear(struct ldg_ledger *l, uint64_t now_ns, json_t *box)
{
    static const char remedy[] =
        "see what writes to the device: the recorder's share is "
        "ledger_storage_written_bytes_total at `" LDG_CMD_SERVE_METRICS "`; "
        "move the ledger to a device with more endurance, or record fewer "
        "events";
    struct ldg_doctor_wear *w = calloc(1, sizeof *w);
    const char *dir = ldg_dir(l);
    uint64_t now_s = now_ns / 1000000000u, wb = 0, ws = 0;
    char a[32], b[32], sz[32];
    double years = -1;
    struct clause c;
    json_t *m;

    clause_init(&c, "storage-wear");
    if (w == NULL || ldg_doctor_wear_measure(dir, now_s, w) < 0) {
        clause_add(&c, ST_OK, NULL, "no count of the device's writes: %s",
                   w ? w->why : "out of memory");
        (void)clause_emit_with(box, &c, NULL);
        free(w);
        return;
    }
    human_bytes(sz, sizeof sz, (double)w->disk_bytes);
    if (w->hour_s != 0) {
        char day[64] = " (the samples cover less than a day)";
        human_bytes(a, sizeof a, (double)w->hour_bytes);
        if (w->day_s != 0) {
            human_bytes(b, sizeof b, (double)w->day_bytes);
            snprintf(day, sizeof day, ", %s in the last day", b);
        }
        clause_add(&c, ST_OK, NULL,
                   "%s written to %s in the last %.1f h%s (every writer of "
                   "%s, as the kernel counts sectors written; sampled by "
                   "`" LDG_CMD_METRICS "`)",
                   a, w->dev, (double)w->hour_s / 3600, day, w->dev);
        wb = w->day_s ? w->day_bytes : w->hour_bytes;
        ws = w->day_s ? w->day_s : w->hour_s;
    } else {
        human_bytes(a, sizeof a, (double)w->sectors * 512);
        clause_add(&c, ST_OK, NULL,
                   "no history of %s's writes an hour long yet (%s/%s: a "
                   "sample every %u minutes, taken by `" LDG_CMD_METRICS
                   "` and each scrape of `" LDG_CMD_SERVE_METRICS
                   "`); since boot "
                   "%.1f h ago, %s written to it by every writer",
                   w->dev, dir, LDG_DOCTOR_WEAR_FILE,
                   LDG_DOCTOR_WEAR_EVERY_S / 60, w->uptime_s / 3600, a);
    }
    if (w->emmc_life_a >= 0) {
        int worst =
            w->emmc_life_a > w->emmc_life_b ? w->emmc_life_a : w->emmc_life_b;
        static const char *const eol[] = {"not given", "normal",
                                          "warning (80% of the reserved "
                                          "blocks used)",
                                          "urgent"};
        clause_add(
            &c, worst >= 0x0a || w->emmc_pre_eol >= 2 ? ST_WARN : ST_OK,
            worst >= 0x0a || w->emmc_pre_eol >= 2 ? remedy : NULL,
            "%s's own estimate (eMMC life_time): %s of its life used "
            "(type A), %s (type B); pre-EOL: %s",
            w->disk, emmc_used(w->emmc_life_a), emmc_used(w->emmc_life_b),
            w->emmc_pre_eol >= 0 && w->emmc_pre_eol <= 3 ? eol[w->emmc_pre_eol]
                                                         : "not given");
    } else if (w->nvme_used >= 0) {
        clause_add(&c, w->nvme_used >= 90 ? ST_WARN : ST_OK,
                   w->nvme_used >= 90 ? remedy : NULL,
                   "%s's own figure (NVMe SMART log): %d%% of its rated "
                   "life used",
                   w->disk, w->nvme_used);
    } else {
        if (w->is_nvme)
            clause_add(&c, ST_OK, NULL,
                       "%s's own figure (NVMe percentage used) not read: %s",
                       w->disk, w->nvme_why);
        if (ws != 0 && w->disk_bytes != 0 && wb != 0) {
            double per_year = (double)wb / (double)ws * 365.25 * 86400;
            human_bytes(a, sizeof a, (double)wb / (double)ws * 86400);
            years = (double)w->disk_bytes * LDG_DOCTOR_WEAR_CYCLES / per_year;
            clause_add(&c, years < LDG_DOCTOR_WEAR_WARN_YEARS ? ST_WARN : ST_OK,
                       years < LDG_DOCTOR_WEAR_WARN_YEARS ? remedy : NULL,
                       "at the last %s's rate (%s a day), a %s device "
                       "lasts %.1f years, assuming %u write cycles over the "
                       "whole device and no amplification inside it%s",
                       w->day_s ? "day" : "hour", a, sz, years,
                       LDG_DOCTOR_WEAR_CYCLES,
                       years < LDG_DOCTOR_WEAR_WARN_YEARS
                           ? ": under the 5 years the doctor warns below"
                           : "");
        } else if (ws != 0 && wb == 0) {
            clause_add(&c, ST_OK, NULL, "nothing written in that time");
        }
    }
    m = json_pack(
        "{s:s, s:o, s:o, s:o}", "device", w->dev, "hour_bytes",
        w->hour_s ? json_integer((json_int_t)w->hour_bytes) : json_null(),
        "day_bytes",
        w->day_s ? json_integer((json_int_t)w->day_bytes) : json_null(),
        "years", years >= 0 ? json_real(years) : json_null());
    (void)clause_emit_with(box, &c, m);
    free(w);
}

/* ----------------------------------------------------- snapshots-held -- */

/*
 * snapshots-held: a process holding an old read snapshot of the store
 * (ldg_stats_snapshots: LMDB's reader table and free list). While it
 * holds it no commit may reuse a page freed since, so data.mdb grows by
 * what the writer frees meanwhile; a reader that is reading holds one
 * for a batch, a stopped or hung one for as long as it stays so. A
 * holder warns once it holds LDG_DOCTOR_SNAPSHOT_WARN_MB or is stopped
 * with a commit behind it; the clause fails at LDG_DOCTOR_SNAPSHOT_FAIL_MB.
 * LMDB does not record when a snapshot was taken: "since" is the
 * process's start (its snapshot is younger), with how many commits were
 * made since the snapshot.
 */
static void
snapshots_held(struct ldg_ledger *l, json_t *box)
{
    struct ldg_snapshot_holder *v = NULL;
    struct clause c;
    size_t n = 0, shown = 0;
    uint64_t last = 0;
    json_t *arr;
    int rc;

    clause_init(&c, "snapshots-held");
    if ((rc = ldg_stats_snapshots(l, &v, &n, &last)) < 0) {
        clause_add(&c, ST_UNKNOWN, NULL, "cannot read the reader table: %s",
                   ldg_strerror(rc));
        (void)clause_emit(box, &c);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct ldg_snapshot_holder *h = &v[i];
        char hb[32], when[LDG_TIME_WHEN_LEN], remedy[400];
        char state[2] = {h->state ? h->state : '?', '\0'};
        int st = ST_OK;
        json_array_append_new(
            arr,
            json_pack(
                "{s:i, s:s, s:I, s:I, s:I, s:I, s:o}", "pid", h->pid, "state",
                state, "txnid", (json_int_t)h->txnid, "commits_behind",
                (json_int_t)h->behind, "held_pages", (json_int_t)h->held_pages,
                "held_bytes", (json_int_t)h->held_bytes, "process_started",
                h->proc_start_ns
                    ? json_integer((json_int_t)(h->proc_start_ns / 1000000000u))
                    : json_null()));
        if ((h->held_bytes >> 20) >= LDG_DOCTOR_SNAPSHOT_FAIL_MB)
            st = ST_FAIL;
        else if ((h->held_bytes >> 20) >= LDG_DOCTOR_SNAPSHOT_WARN_MB ||
                 (h->state == 'T' && h->behind > 0))
            st = ST_WARN;
        if (st == ST_OK)
            continue;
        human_bytes(hb, sizeof hb, (double)h->held_bytes);
        if (h->proc_start_ns)
            ldg_time_when(when, sizeof when, h->proc_start_ns);
        else
            snprintf(when, sizeof when, "an unknown time");
        snprintf(remedy, sizeof remedy,
                 "let process %d go on (`kill -CONT %d`, or `fg` in its "
                 "shell) or end it (`kill %d`): the next commit reuses what "
                 "it held",
                 h->pid, h->pid, h->pid);
        clause_add(&c, st, remedy,
                   "process %d%s holds the store's snapshot of commit %llu, "
                   "%llu commits old (its process started %s): %s freed "
                   "since cannot be reused while it does, so data.mdb "
                   "grows instead",
                   h->pid, h->state == 'T' ? " (stopped)" : "",
                   (unsigned long long)h->txnid, (unsigned long long)h->behind,
                   when, hb);
        shown++;
    }
    if (shown == 0 && n == 0)
        clause_add(&c, ST_OK, NULL,
                   "no other reader holds a snapshot of the store");
    else if (shown == 0)
        clause_add(&c, ST_OK, NULL,
                   "%zu reader(s) hold a recent snapshot, under %d MiB each", n,
                   LDG_DOCTOR_SNAPSHOT_WARN_MB);
    (void)clause_emit_with(box, &c, json_pack("{s:o}", "holders", arr));
    free(v);
}

size_t
ldg_doctor_full_advice(const char *dir, char *buf, size_t cap)
{
    struct ldg_retention_policy pol;
    struct statvfs sv;
    char fb[32] = "an unknown amount", perr[4400] = "";
    int n;

    if (buf == NULL || cap == 0)
        return 0;
    if (dir == NULL)
        dir = ".";
    if (statvfs(dir, &sv) == 0)
        human_bytes(fb, sizeof fb,
                    (double)((unsigned long long)sv.f_bavail * sv.f_frsize));
    if (ldg_retention_policy_load(dir, &pol, perr, sizeof perr) < 0)
        n = snprintf(buf, cap,
                     "%s free on the file system of %s; the retention "
                     "policy cannot be read (%s): correct it, then "
                     "`" LDG_CMD_PRUNE_POLICY
                     "` archives and prunes the events older "
                     "than its keep_days; `" LDG_CMD_STATS_DATABASES "` shows "
                     "where the bytes go",
                     fb, dir, perr);
    else
        n = snprintf(
            buf, cap,
            "%s free on the file system of %s; to make room: free "
            "some space on it first (a prune needs a few pages of "
            "its own to commit), then `" LDG_CMD_PRUNE_POLICY_IN
            "` (archives the events older than the "
            "retention policy's %u days into %s and prunes them) "
            "and move the archives off the box; `" LDG_CMD_STATS_DATABASES
            "` shows where the bytes go",
            fb, dir, dir, pol.keep_days, pol.archive_dir);
    if (n < 0)
        n = 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ------------------------------------ the control pipeline (issue 34) -- */

/* A view of the pipeline's projections at at_size, only its flagged rows
 * when flagged (NULL on error). */
static json_t *
pipeline_view(struct ldg_ledger *l, enum ldg_proj_view view, uint64_t at_size,
              int flagged)
{
    struct ldg_view_opts vo;
    json_t *v = NULL;
    memset(&vo, 0, sizeof vo);
    vo.at_size = at_size;
    vo.only_flagged = flagged;
    if (ldg_projections_view(l, view, &vo, &v) < 0)
        return NULL;
    return v;
}

static const char *
jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "?";
}

/* Records the projection name holds at at_size (0 = now), or 0. */
static uint64_t
proj_records(struct ldg_ledger *l, const char *name, uint64_t at_size)
{
    uint64_t n = 0;
    return ldg_projections_records(l, name, at_size, &n) < 0 ? 0 : n;
}

/* plans-conform: no plan broke a rule of the pipeline (docs/PROJECTIONS.md,
 * "Control pipeline"). Only when the log has plans, snapshots or
 * tripcodes. Reads only the plans with violations. */
static void
plans_conform(struct ldg_ledger *l, uint64_t at_size, json_t *box)
{
    json_t *rows = pipeline_view(l, LDG_VIEW_PLANS, at_size, 1), *p;
    struct clause c;
    size_t i;
    char remedy[600];

    if (rows == NULL || (json_array_size(rows) == 0 &&
                         proj_records(l, "plans", at_size) == 0)) {
        json_decref(rows);
        return;
    }
    clause_init(&c, "plans-conform");
    json_array_foreach(rows, i, p)
    {
        const json_t *v0 = json_array_get(json_object_get(p, "violations"), 0);
        snprintf(remedy, sizeof remedy, LDG_CMD_TIMELINE, jstr(p, "plan"));
        clause_add(&c, 2, remedy,
                   "plan %s broke %lld rule(s) of the pipeline, first %s at "
                   "seq %s: %s",
                   jstr(p, "plan"),
                   (long long)json_integer_value(
                       json_object_get(p, "violations_total")),
                   jstr(v0, "rule"), jstr(v0, "seq"), jstr(v0, "detail"));
    }
    if (json_array_size(rows) == 0)
        clause_add(&c, 0, NULL, "no plan broke a rule of the pipeline");
    (void)clause_emit(box, &c);
    json_decref(rows);
}

/* The command that revokes memory item `item`: a `ledger append` of
 * memory.revoked with its body in shell single quotes (a quote in the
 * item's name written as '\''). */
static void
revoke_cmd(char *buf, size_t cap, const char *item)
{
    json_t *b = json_pack("{s:s, s:s}", "item", item, "reason",
                          "admitted outside the pipeline");
    char *j =
        b != NULL ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    size_t n;

    json_decref(b);
    n = (size_t)snprintf(buf, cap, LDG_CMD_APPEND_BODY "'",
                         LDG_EV_MEMORY_REVOKED);
    for (const char *p = j != NULL ? j : "{}"; *p && n + 6 < cap; p++) {
        if (*p == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *p;
        }
    }
    if (n + 2 <= cap) {
        buf[n++] = '\'';
        buf[n] = '\0';
    }
    free(j);
}

/* memory-admission: every item in memory (admitted, not revoked or
 * purged) came through every gate with provenance. Only when the log has
 * memory items. Reads only the items with violations. */
static void
memory_admission(struct ldg_ledger *l, uint64_t at_size, json_t *box)
{
    json_t *rows = pipeline_view(l, LDG_VIEW_MEMORY, at_size, 1), *m;
    struct clause c;
    size_t i, bad = 0;
    char remedy[600];

    if (rows == NULL || (json_array_size(rows) == 0 &&
                         proj_records(l, "memory", at_size) == 0)) {
        json_decref(rows);
        return;
    }
    clause_init(&c, "memory-admission");
    json_array_foreach(rows, i, m)
    {
        const json_t *v0 = json_array_get(json_object_get(m, "violations"), 0);
        if (strcmp(jstr(m, "status"), "admitted") != 0)
            continue; /* revoked or purged: out of memory already */
        bad++;
        if (json_is_string(json_object_get(m, "hash")))
            snprintf(remedy, sizeof remedy,
                     LDG_CMD_MEMORY_PURGE "'admitted "
                                          "outside the pipeline'",
                     jstr(m, "hash"));
        else
            /* no hash to purge by: revoke it, as a command to paste */
            revoke_cmd(remedy, sizeof remedy, jstr(m, "item"));
        clause_add(&c, 2, remedy,
                   "memory item %s is admitted but broke %lld rule(s), first "
                   "%s at seq %s: %s",
                   jstr(m, "item"),
                   (long long)json_integer_value(
                       json_object_get(m, "violations_total")),
                   jstr(v0, "rule"), jstr(v0, "seq"), jstr(v0, "detail"));
    }
    if (bad == 0)
        clause_add(&c, 0, NULL,
                   "every item in memory came through sanitize, debate, "
                   "validators and quarantine with provenance");
    (void)clause_emit(box, &c);
    json_decref(rows);
}

/* success-gates: no success gate fails (`ledger gates`). Only when the
 * log has builds or promotions; a gate with nothing to judge is named in
 * the detail but does not fail the clause. */
static void
success_gates(struct ldg_ledger *l, uint64_t at_size, json_t *box)
{
    json_t *o = pipeline_view(l, LDG_VIEW_GATES, at_size, 0), *g;
    struct clause c;
    size_t i;
    int failed = 0;

    if (o == NULL)
        return;
    if (strcmp(jstr(o, "status"), "unknown") == 0 &&
        json_integer_value(json_object_get(o, "promotions")) == 0) {
        json_decref(o); /* no promotion and nothing failing: nothing */
        return;
    }
    clause_init(&c, "success-gates");
    json_array_foreach(json_object_get(o, "gates"), i, g)
    {
        const char *st = jstr(g, "status");
        json_t *v = json_object_get(g, "value");
        char val[40];
        if (json_is_real(v))
            snprintf(val, sizeof val, "%.2f %%", json_real_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else
            snprintf(val, sizeof val, "-");
        if (strcmp(st, "fail") == 0) {
            clause_add(&c, 2, failed ? NULL : LDG_CMD_GATES,
                       "gate %s fails: %s against %s", jstr(g, "gate"), val,
                       jstr(g, "threshold"));
            failed = 1;
        } else if (strcmp(st, "unknown") == 0) {
            clause_add(&c, 0, NULL, "gate %s: nothing to judge yet",
                       jstr(g, "gate"));
        }
    }
    if (!failed)
        clause_add(
            &c, 0, NULL, "no success gate fails (%lld promotion(s))",
            (long long)json_integer_value(json_object_get(o, "promotions")));
    (void)clause_emit(box, &c);
    json_decref(o);
}

/* A box clause's rank: ok and warn 0, unknown 1, fail 2 (a failed box
 * clause degrades, it never blocks; a warning says what is coming and
 * changes no verdict). */
static int
clause_rank(const json_t *cl)
{
    const char *st = json_string_value(json_object_get(cl, "status"));
    if (st == NULL || strcmp(st, "unknown") == 0)
        return 1;
    return strcmp(st, "ok") == 0 || strcmp(st, "warn") == 0 ? 0 : 2;
}

/*
 * Which box-wide clauses bear on every pack, and so on `--pack P`'s
 * verdict (docs/PROJECTIONS.md): the log and keys every pack's evidence
 * rests on, the projections its answer comes from, and the disk it
 * writes to. Not: promotions-gated (box-wide it lists only targets no
 * pack claims; a pack's own targets are in its own clause) and
 * runtimes-up (a pack's runtimes are in its runtime-up clause).
 */
static int
box_clause_bears_on_a_pack(const char *name)
{
    return name == NULL || (strcmp(name, "promotions-gated") != 0 &&
                            strcmp(name, "runtimes-up") != 0 &&
                            /* the control pipeline's: the box's */
                            strcmp(name, "plans-conform") != 0 &&
                            strcmp(name, "memory-admission") != 0 &&
                            strcmp(name, "success-gates") != 0);
}

/* disk-reported is unknown when no event reported free disk, but
 * disk-headroom just measured it (statvfs) and found enough: the
 * question is answered, so the clause holds, saying how. */
static void
disk_answered(json_t *box)
{
    const char *measured = NULL;
    json_t *rep = NULL, *x;
    size_t i;

    json_array_foreach(box, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        if (name != NULL && strcmp(name, "disk-headroom") == 0)
            measured = json_string_value(
                json_array_get(json_object_get(x, "detail"), 0));
        if (name != NULL && strcmp(name, "disk-reported") == 0)
            rep = x;
    }
    if (rep == NULL || measured == NULL ||
        clause_rank(rep) != 1) /* only unknown is answered */
        return;
    json_object_set_new(rep, "status", json_string("ok"));
    json_object_del(rep, "remedy");
    json_array_append_new(
        json_object_get(rep, "detail"),
        json_pack("s+", "answered by measuring instead: ", measured));
}

int
ldg_doctor_verdict(json_t *d, const char *pack)
{
    size_t i;
    json_t *x;
    int rank = 0, r;

    /* the packs that count (active ones, or the one asked for), then the
     * box clauses that bear on them */
    json_array_foreach(json_object_get(d, "packs"), i, x)
    {
        const char *name = json_string_value(json_object_get(x, "pack"));
        if (pack == NULL ? !json_is_true(json_object_get(x, "active"))
                         : name == NULL || strcmp(name, pack) != 0)
            continue;
        r = ldg_projections_verdict_rank(
            json_string_value(json_object_get(x, "verdict")));
        rank = r > rank ? r : rank;
    }
    json_array_foreach(json_object_get(d, "box"), i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        if (pack != NULL && !box_clause_bears_on_a_pack(name))
            continue;
        r = clause_rank(x);
        rank = r > rank ? r : rank;
    }
    json_object_set_new(d, "verdict",
                        json_string(ldg_projections_verdict_name(rank)));
    return rank_exit(rank);
}

int
ldg_doctor_run(struct ldg_ledger *l, const struct ldg_doctor_opts *opts,
               json_t **out, int *verdict)
{
    struct ldg_view_opts vo;
    json_t *d = NULL, *box;
    uint64_t size = 0, now_ns = opts ? opts->now_ns : 0;
    int rc;

    if (l == NULL || out == NULL || verdict == NULL || opts == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (now_ns == 0)
        now_ns = ldg_now_wall_ns();
    memset(&vo, 0, sizeof vo);
    vo.at_size = opts->at_size;
    vo.filter = opts->pack;
    vo.progress = opts->progress;
    vo.progress_ctx = opts->progress_ctx;
    if ((rc = ldg_projections_view(l, LDG_VIEW_DOCTOR, &vo, &d)) < 0)
        return rc;
    size = strtoull(json_string_value(json_object_get(d, "size")), NULL, 10);
    box = json_object_get(d, "box");
    (void)chain_verified(l, size, opts->at_size == 0, box);
    (void)keys_valid(l, box);
    if (opts->at_size == 0)
        (void)epoch_exposure(l, opts->witness_size, now_ns, box);
    (void)projections_current(l, opts->at_size, box);
    if (opts->at_size == 0 && disk_headroom(l, now_ns, box) == 0)
        disk_answered(box);
    if (opts->at_size == 0) {
        storage_wear(l, now_ns, box);
        snapshots_held(l, box);
    }
    {
        /* the control pipeline's clauses, at the doctor's size (0: the
         * store, read without a replay) */
        uint64_t at = opts->at_size ? size : 0;
        plans_conform(l, at, box);
        memory_admission(l, at, box);
        success_gates(l, at, box);
    }
    *verdict = ldg_doctor_verdict(d, opts->pack);
    *out = d;
    return 0;
}
