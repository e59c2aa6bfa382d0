/*
 * intake_log.c — a ledger's appends through its intake log (store layout
 * 9; FORMAT.md 12; issue 64).
 *
 * An ack group is made in a transaction with an overlay (store.c): the
 * store's snapshot with the intake's unapplied tail replayed over it, so
 * the append path's checks (ids, keys, seals, the chain) see every event
 * acknowledged so far, from any process; what it stores stays in memory
 * and is recorded as one frame (append.c), written and flushed at the end
 * of the log: that is the ack. Everything is signed before (seals and
 * the checkpoint are in the frame). When the unapplied tail passes
 * TAIL_EVENTS or TAIL_BLOCKS, or the ring has no room for a frame, the
 * tail is applied to LMDB in one transaction (ldg_intake_settle), which
 * records how far in meta "intake": only then is the ring's space before
 * that reused.
 *
 * A reader (ldg_txn_begin's read transactions) replays the tail over its
 * snapshot the same way; a handle keeps its last reader's view for the
 * next while the store's snapshot stays the same (rview below), so a
 * command replays the tail once. Locks: flock(2) on the intake, each holder on
 * an open file of its own (so threads of one process exclude each other as
 * processes do): exclusive from a writer's replay to its frame's flush,
 * or for a settle; shared from before a reader's snapshot begins to the
 * end of its replay. A thread that holds the exclusive lock reads without
 * asking again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ledger/intake_int.h"
#include "ledger/intake_log_int.h"

/* The ring a new intake gets: 8 MiB (2,048 blocks), or on a small file
 * system a sixteenth of its free space, at least 64 blocks (256 KiB):
 * the file is written whole at creation. */
#define RING_BLOCKS 2048u
#define RING_BLOCKS_MIN 64u
/* The unapplied tail is applied past 128 events or 512 blocks (2 MiB).
 * An LMDB commit writes some 100-300 KB whatever it holds: lone events
 * at 10 a second (bench/wear.sh, 150 s) cost 4,096 B each in their frames
 * and 4,358 B in data.mdb applied 64 at a time (9,000 B in all with the
 * journal, against a target of 8 KiB); twice as many a commit halve the
 * second share (measured: 7,832 B at 10 a second, 7,787 at 100). Every
 * reader replays the tail, some 20-40 us an event. */
#define TAIL_EVENTS 128u
#define TAIL_BLOCKS 512u
#define FRAME_MAX LDG_INTAKE_FRAME_MAX
/* Frames of earlier builds were up to 128 KiB of events: where the log
 * seems to end, a writer looks past a damaged frame of that size. */
#define FRAME_MAX_EVER ((size_t)128 << 10)

static _Thread_local struct ldg_ledger *held; /* this thread's EX lock */

struct ldg_intake_state {
    struct ldg_intake *in;
    char path[4200];
    /* The writer's view kept between ack groups (the exclusive lock held
     * each time): an overlay over an LMDB snapshot whose applied position
     * was view_applied, with every frame up to view_end replayed or
     * stored in it. Between groups its snapshot is let go (parked), and
     * the next group takes the newest and replays only the frames other
     * processes added; once anything applies the tail to LMDB (the
     * snapshot's position is no longer view_applied), it is made anew. */
    struct ldg_txn *view;
    struct ldg_intake_pos view_applied, view_end;
    /* The last try to apply the tail found no room (map or disk): the
     * tail's bound is not tried again until the ring is full. */
    int settle_full;
    /* A reader's view kept between read transactions the same way: the
     * last reader's overlay, taken back at its end (ldg_txn_keep) and
     * parked. The next reader renews it and, when the store's snapshot
     * is the one it let go (nothing committed since: ldg_store_txn_renew)
     * and the handle has the appliers it was made with, replays only
     * the frames past rview_end; else it is made anew. One reader holds
     * it at a time (rview_busy: a reader meanwhile makes its own); rmu
     * guards rview and rview_busy between threads. An ack group whose
     * writer has no view of its own takes it (view_adopt). */
    pthread_mutex_t rmu;
    /* A replay runs the handle's appliers (the projections), whose caches
     * are the handle's: readers hold the shared lock together, so their
     * replays take turns (two threads' replays freed each other's cache:
     * verify's workers, test_ingest under ASan). The writer's replay
     * holds the exclusive lock, which no reader holds meanwhile. */
    pthread_mutex_t replay_mu;
    struct ldg_txn *rview;
    int rview_busy;
    struct ldg_intake_pos rview_applied, rview_end;
    size_t rview_appliers;
};
/* A view holding more than this many events is made anew (its memory,
 * and the old snapshot it pins). */
#define VIEW_EVENTS_MAX 4096u

static void
path_of(char *buf, size_t cap, const char *dir)
{
    snprintf(buf, cap, "%s/%s", dir, ldg_store_file_name(LDG_FILE_INTAKE));
}

/* ------------------------------------------------------------ locks -- */

/* The lock on an open file of its own: the fd, or < 0. */
static int
lock_take(struct ldg_ledger *l, int exclusive)
{
    int fd = open(l->intake->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ldg_seterr(l, "cannot open the intake log %s: %s", l->intake->path,
                   strerror(errno));
        return LDG_EIO;
    }
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno != EINTR) {
            ldg_seterr(l, "cannot lock the intake log %s: %s", l->intake->path,
                       strerror(errno));
            close(fd);
            return LDG_EIO;
        }
    }
    return fd;
}

static void
lock_drop(int fd)
{
    if (fd >= 0)
        close(fd); /* the lock goes with it */
}

int
ldg_intake_lock_ex(struct ldg_ledger *l)
{
    int fd;
    if (ldg_batch_blocks(l))
        return LDG_EBUSY;
    LDG_ASSERT(held != l); /* not taken twice */
    if ((fd = lock_take(l, 1)) < 0)
        return fd;
    held = l;
    return fd;
}

void
ldg_intake_unlock_ex(struct ldg_ledger *l, int fd)
{
    if (fd < 0)
        return;
    if (held == l)
        held = NULL;
    lock_drop(fd);
}

/* ---------------------------------------------------- the position -- */

static int
applied_get(struct ldg_txn *t, struct ldg_intake_pos *a)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_val v;
    int rc = ldg_kv_get(t, ldg_core(l, LDG_DB_META), LDG_META_INTAKE,
                        sizeof LDG_META_INTAKE - 1, &v);
    const uint8_t *p = v.data;

    if (rc == LDG_ENOTFOUND || (rc == 0 && v.len != LDG_META_INTAKE_LEN)) {
        ldg_seterr(l,
                   "storage corrupt: %s is at store layout 9 but its "
                   "intake position record is %s",
                   l->dir, rc == 0 ? "damaged" : "missing");
        return LDG_ECORRUPT;
    }
    if (rc < 0)
        return rc;
    if (memcmp(p, ldg_intake_id(l->intake->in), LDG_INTAKE_ID_LEN) != 0) {
        ldg_seterr(l,
                   "storage corrupt: %s/intake is not this store's intake "
                   "log (another file id)",
                   l->dir);
        return LDG_ECORRUPT;
    }
    a->block = ldg_rd_be64(p + 16);
    a->gen = ldg_rd_be32(p + 24);
    a->seq = ldg_rd_be64(p + 28);
    /* (the ring's size itself: a frame ended at the ring's end) */
    if (a->block < 1 || a->block > ldg_intake_blocks(l->intake->in) ||
        a->gen == 0) {
        ldg_seterr(l,
                   "storage corrupt: %s: the intake position is outside "
                   "its ring",
                   l->dir);
        return LDG_ECORRUPT;
    }
    return 0;
}

int
ldg_intake_position_check(struct ldg_ledger *l, struct ldg_txn *t)
{
    struct ldg_intake_pos a;
    return l->intake != NULL ? applied_get(t, &a) : 0;
}

static int
applied_put(struct ldg_txn *t, const uint8_t id[LDG_INTAKE_ID_LEN],
            const struct ldg_intake_pos *a)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t v[LDG_META_INTAKE_LEN];
    memcpy(v, id, LDG_INTAKE_ID_LEN);
    ldg_be64(v + 16, a->block);
    ldg_be32(v + 24, a->gen);
    ldg_be64(v + 28, a->seq);
    return ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_INTAKE,
                           sizeof LDG_META_INTAKE - 1, v, sizeof v);
}

/* Replays into t the frames from *end on, moving *end past them. */
static int
replay_more(struct ldg_ledger *l, struct ldg_txn *t, struct ldg_intake_pos *end)
{
    struct ldg_intake_frame f;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc;

    while ((rc = ldg_intake_next(l->intake->in, end, &buf, &cap, &f)) == 1)
        if ((rc = ldg_intake_apply_frame(t, &f)) < 0)
            break;
    free(buf);
    if (rc == LDG_EIO)
        ldg_seterr(l, "cannot read the intake log %s: %s", l->intake->path,
                   strerror(errno));
    return rc < 0 ? rc : 0;
}

/* Replays into t every frame from t's applied position: *end gets where
 * the log ends, *events how many were replayed. */
static int
replay(struct ldg_ledger *l, struct ldg_txn *t, struct ldg_intake_pos *applied,
       struct ldg_intake_pos *end, uint64_t *events)
{
    int rc;

    *events = 0;
    if ((rc = applied_get(t, applied)) < 0)
        return rc;
    *end = *applied;
    rc = replay_more(l, t, end);
    *events = end->seq - applied->seq;
    return rc;
}

/* ------------------------------------------------------------- open -- */

int
ldg_intake_attach(struct ldg_ledger *l)
{
    static const struct ldg_intake_hooks hooks = {
        ldg_intake_read_begin, ldg_intake_settle, ldg_intake_lock_ex,
        ldg_intake_unlock_ex};
    struct ldg_intake_state *st;
    char err[600] = ""; /* (not every failure says why: memory) */
    int rc;

    if (l->intake != NULL)
        return 0;
    if ((st = calloc(1, sizeof *st)) == NULL)
        return LDG_ENOMEM;
    if (pthread_mutex_init(&st->rmu, NULL) != 0) {
        free(st);
        return LDG_ENOMEM;
    }
    if (pthread_mutex_init(&st->replay_mu, NULL) != 0) {
        pthread_mutex_destroy(&st->rmu);
        free(st);
        return LDG_ENOMEM;
    }
    path_of(st->path, sizeof st->path, l->dir);
    rc = ldg_intake_open(&st->in, st->path, (l->opts.flags & LDG_RDONLY) != 0,
                         err, sizeof err);
    if (rc == LDG_ENOTFOUND) {
        ldg_seterr(l,
                   "storage corrupt: %s is at store layout 9 and has no "
                   "intake log (%s): acknowledged events may be missing",
                   l->dir, st->path);
        rc = LDG_ECORRUPT;
    } else if (rc < 0) {
        ldg_seterr(l, "%s", err[0] ? err : ldg_strerror(rc));
    }
    if (rc < 0) {
        pthread_mutex_destroy(&st->replay_mu);
        pthread_mutex_destroy(&st->rmu);
        free(st);
        return rc;
    }
    if (l->opts.flags & LDG_NOSYNC)
        ldg_intake_set_nosync(st->in);
    l->intake_hooks = &hooks;
    l->intake = st;
    return 0;
}

void
ldg_intake_detach(struct ldg_ledger *l)
{
    if (l == NULL || l->intake == NULL)
        return;
    ldg_txn_abort(l->intake->view);
    /* the kept reader's view (none while a reader holds it: a reader
     * must end before its handle closes) */
    ldg_txn_abort(l->intake->rview);
    ldg_intake_close(l->intake->in);
    pthread_mutex_destroy(&l->intake->replay_mu);
    pthread_mutex_destroy(&l->intake->rmu);
    free(l->intake);
    l->intake = NULL;
}

int
ldg_intake_make(struct ldg_ledger *l, struct ldg_txn *t, uint64_t size)
{
    char path[4200], err[600];
    uint8_t id[LDG_INTAKE_ID_LEN];
    struct ldg_intake_pos a = {1, 1, size};
    int rc;

    uint64_t blocks = RING_BLOCKS;
    struct statvfs vfs;

    path_of(path, sizeof path, l->dir);
    ldg_random(id, sizeof id);
    /* one left by a conversion that did not finish is no store's */
    (void)unlink(path);
    if (statvfs(l->dir, &vfs) == 0) {
        uint64_t room =
            (uint64_t)vfs.f_bavail * vfs.f_frsize / 16 / LDG_INTAKE_BLOCK;
        if (room < blocks)
            blocks = room > RING_BLOCKS_MIN ? room : RING_BLOCKS_MIN;
    }
    if ((rc = ldg_intake_create(path, blocks, id, err, sizeof err)) < 0) {
        ldg_seterr(l, "%s", err);
        return rc;
    }
    /* whoever may read data.mdb may read its tail here (the ledger
     * group of a system ledger: its modes, never more than 0660) */
    {
        char data[4200];
        struct stat st;
        snprintf(data, sizeof data, "%s/%s", l->dir,
                 ldg_store_file_name(LDG_FILE_DATA));
        if (stat(data, &st) == 0 && (st.st_mode & 0060) != 0 &&
            chmod(path, st.st_mode & 0660) != 0) {
            ldg_seterr(l, "cannot give %s the modes of %s: %s", path, data,
                       strerror(errno));
            return LDG_EIO;
        }
    }
    return applied_put(t, id, &a);
}

/* ----------------------------------------------------------- settle -- */

/* Applies the tail to LMDB (the exclusive lock held). */
static int
settle_locked(struct ldg_ledger *l, struct ldg_intake_pos *end)
{
    struct ldg_intake_pos applied;
    struct ldg_txn *t;
    uint64_t events;
    int rc, tries = 0;

again:
    if ((rc = ldg_store_txn_begin(l->store, l, 1, &t)) < 0)
        return rc;
    rc = replay(l, t, &applied, end, &events);
    if (rc == 0 && events == 0) {
        ldg_txn_abort(t);
        return 0;
    }
    if (rc == 0)
        rc = applied_put(t, ldg_intake_id(l->intake->in), end);
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    if (rc == LDG_EFULL && tries++ < 8) {
        char why[256];
        if (ldg_store_grow(l->store, why, sizeof why) == 0)
            goto again;
        ldg_seterr(l,
                   "%s: the intake log's %llu unapplied events stay in it "
                   "(nothing is lost), and new events are refused once it "
                   "is full",
                   why, (unsigned long long)events);
    }
    l->intake->settle_full = rc == LDG_EFULL;
    return rc;
}

int
ldg_intake_settle(struct ldg_ledger *l)
{
    struct ldg_intake_pos end;
    int fd, rc;

    if (l == NULL || l->intake == NULL || (l->opts.flags & LDG_RDONLY))
        return 0;
    if (held == l)
        return settle_locked(l, &end);
    if ((fd = ldg_intake_lock_ex(l)) < 0)
        return fd;
    rc = settle_locked(l, &end);
    ldg_intake_unlock_ex(l, fd);
    return rc;
}

int
ldg_intake_scrub(struct ldg_ledger *l, int settle)
{
    struct ldg_intake_state *st = l->intake;
    struct ldg_intake_pos end;
    int rc;

    LDG_ASSERT(held == l);
    if (st == NULL)
        return 0;
    if (settle && (rc = settle_locked(l, &end)) < 0) {
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l,
                       "applying the intake log's events to the store "
                       "before the erasure: %s; nothing was erased, every "
                       "event is in the intake or the store",
                       ldg_strerror(rc));
        return rc;
    }
    /* every frame is in the store now: the kept view's replay of them
     * goes with their bytes */
    if (st->view != NULL) {
        ldg_txn_abort(st->view);
        st->view = NULL;
    }
    if ((rc = ldg_intake_wipe(st->in)) < 0)
        ldg_seterr(l,
                   "overwriting the intake log (%s/intake) before the "
                   "erasure: %s; nothing was erased, every event is in "
                   "the store",
                   l->dir, ldg_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------ reads -- */

/* The kept reader's view for this reader, or NULL (another reader has
 * it, or there is none): *mine says whether t, made anew, is to be
 * kept. */
static struct ldg_txn *
rview_take(struct ldg_intake_state *st, int *mine)
{
    struct ldg_txn *t = NULL;
    pthread_mutex_lock(&st->rmu);
    *mine = !st->rview_busy;
    if (*mine) {
        st->rview_busy = 1;
        t = st->rview;
        st->rview = NULL;
    }
    pthread_mutex_unlock(&st->rmu);
    return t;
}

/* The kept reader's view brought up to date (the lock held), or NULL
 * (freed) when it no longer holds. */
static struct ldg_txn *
rview_renew(struct ldg_ledger *l, struct ldg_txn *t)
{
    struct ldg_intake_state *st = l->intake;
    if (ldg_store_txn_renew(t) != 1 || st->rview_appliers != l->nappliers ||
        st->rview_end.seq - st->rview_applied.seq > VIEW_EVENTS_MAX ||
        replay_more(l, t, &st->rview_end) < 0 || ldg_txn_settle(t) < 0) {
        ldg_txn_abort(t);
        return NULL;
    }
    /* what a read memoized (epoch states) held in its hold of the lock */
    ldg_txn_memo_drop(t);
    return t;
}

/* The slot given back: t (parked) kept in it, or none. */
static void
rview_put(struct ldg_intake_state *st, struct ldg_txn *t)
{
    pthread_mutex_lock(&st->rmu);
    st->rview = t;
    st->rview_busy = 0;
    pthread_mutex_unlock(&st->rmu);
}

/* A reader's end (ldg_txn_keep): its view parked for the next. */
static int
rview_back(struct ldg_txn *t, int unchanged)
{
    struct ldg_intake_state *st = ldg_txn_ledger(t)->intake;
    if (st == NULL)
        return 0;    /* the handle's intake detached meanwhile */
    if (unchanged) { /* (its slot let go: a reader pins nothing between) */
        ldg_store_txn_park(t, 0);
        ldg_txn_memo_drop(t); /* (any epoch state a read loaded: kept) */
    }
    rview_put(st, unchanged ? t : NULL);
    return unchanged;
}

int
ldg_intake_read_begin(struct ldg_ledger *l, struct ldg_txn **out)
{
    struct ldg_intake_state *st = l->intake;
    struct ldg_intake_pos applied, end;
    struct ldg_txn *t;
    uint64_t events = 0;
    int fd = -1, rc = 0, mine;

    *out = NULL;
    if (held != l && (fd = lock_take(l, 0)) < 0)
        return fd;
    if (held != l)
        pthread_mutex_lock(&st->replay_mu);
    if ((t = rview_take(st, &mine)) != NULL)
        t = rview_renew(l, t);
    if (t != NULL) {
        events = st->rview_end.seq - st->rview_applied.seq;
    } else {
        size_t appliers = l->nappliers; /* (those the replay runs) */
        rc = ldg_store_txn_begin_overlay(l->store, l, &t);
        if (rc == 0)
            rc = replay(l, t, &applied, &end, &events);
        if (rc == 0)
            rc = ldg_txn_settle(t);
        if (rc == 0 && mine) {
            st->rview_applied = applied;
            st->rview_end = end;
            st->rview_appliers = appliers;
        }
    }
    if (held != l)
        pthread_mutex_unlock(&st->replay_mu);
    lock_drop(fd);
    if (rc < 0) {
        ldg_txn_abort(t);
        if (mine)
            rview_put(st, NULL);
        return rc;
    }
    ldg_txn_set_reader(t, 1, events);
    if (mine)
        ldg_txn_keep(t, rview_back);
    *out = t;
    return 0;
}

/* How far past the end of the log a writer looks for acknowledged frames
 * before it writes there: a frame is at most FRAME_MAX and its closing
 * records, so a frame that starts after one damaged frame starts within
 * this many blocks. */
#define LOOK_PAST                                                              \
    ((uint64_t)((FRAME_MAX_EVER + LDG_INTAKE_CLOSE_ROOM) / LDG_INTAKE_BLOCK) + \
     1)

/*
 * Acknowledged frames the log cannot reach: a frame of end's lap at a
 * block from end's on, or of the next lap, whose events come at or after
 * end's. A torn frame at the end (a write the crash cut short) hides no
 * such frame; a damaged one does, and every reader stops before it. With
 * near, only the LOOK_PAST blocks after end's (and as many from the
 * ring's start, for a writer that wrapped: when end is within two frames
 * of the ring's end) are looked at, up to the first
 * frame of an earlier lap (the writer never passed it); else the whole
 * ring. 1 with what and *seq (end's), 0 if none, LDG_EIO, LDG_ENOMEM.
 */
static int
hidden_past(struct ldg_intake *in, const struct ldg_intake_pos *end, int near,
            char *what, size_t cap, uint64_t *seq)
{
    struct ldg_intake_frame f;
    uint8_t *buf = NULL;
    size_t bcap = 0;
    uint64_t n = ldg_intake_blocks(in), b, first, stop;
    uint32_t gen;
    int rc = 0, pass;

    for (pass = 0; pass < 2 && rc == 0; pass++) {
        /* pass 0: from end's block; pass 1: the ring's start (next lap) */
        b = pass == 0 ? (near ? end->block + 1 : 1) : 1;
        stop = near ? b + LOOK_PAST : n;
        /* the next lap's start, when the damaged frame and one after it
         * (which wraps when it does not fit before the ring's end) could
         * reach past the end: two frames, not one */
        if (pass == 1 && (!near || end->block + 2 * LOOK_PAST < n))
            break;
        for (; b < stop && b < n; b++) {
            if ((rc = ldg_intake_peek_at(in, b, &gen, &first)) < 0)
                break;
            rc = 0;
            if (gen == 0)
                continue;
            if (first < end->seq || !((gen == end->gen && b >= end->block) ||
                                      gen == end->gen + 1)) {
                if (near && (gen < end->gen || first < end->seq))
                    break; /* the writer never wrote past an older frame */
                continue;
            }
            if ((rc = ldg_intake_frame_at(in, b, &buf, &bcap, &f)) <= 0)
                continue; /* a header, but not a whole frame */
            snprintf(what, cap,
                     "the intake log is damaged at block %llu (lap %u): "
                     "the frame of events %llu..%llu at block %llu, "
                     "acknowledged, lies past it and is not read",
                     (unsigned long long)end->block, (unsigned)end->gen,
                     (unsigned long long)f.first_seq,
                     (unsigned long long)(f.first_seq + f.count - 1),
                     (unsigned long long)b);
            *seq = end->seq;
            free(buf);
            return 1;
        }
    }
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ----------------------------------------------------------- appends -- */

/* A writer with no view of its own takes the kept reader's, when it is
 * free and was made with the handle's appliers (a one-shot append reads
 * before its group: one replay of the tail then serves both). */
static void
view_adopt(struct ldg_ledger *l)
{
    struct ldg_intake_state *st = l->intake;
    struct ldg_txn *t;
    int mine;

    if ((t = rview_take(st, &mine)) != NULL) {
        if (st->rview_appliers == l->nappliers) {
            ldg_txn_set_reader(t, 0, 0);
            st->view = t;
            st->view_applied = st->rview_applied;
            st->view_end = st->rview_end;
        } else {
            ldg_txn_abort(t);
        }
    }
    if (mine)
        rview_put(st, NULL);
}

/* The kept view, brought up to date with the frames other processes
 * added, or NULL when there is none or it no longer holds. */
static struct ldg_txn *
view_reuse(struct ldg_ledger *l, struct ldg_intake_ack *a)
{
    struct ldg_intake_state *st = l->intake;
    struct ldg_intake_pos now, end;
    int rc;

    if (st->view == NULL)
        view_adopt(l);
    if (st->view == NULL)
        return NULL;
    /* the newest snapshot under the kept changes, which hold there only
     * while its position is the one they were made at (no one applied
     * the tail since, and so no one wrote the store: a write applies the
     * tail first) */
    if (ldg_store_txn_renew(st->view) < 0)
        goto drop;
    rc = applied_get(st->view, &now);
    if (rc < 0 || now.block != st->view_applied.block ||
        now.gen != st->view_applied.gen || now.seq != st->view_applied.seq ||
        st->view_end.seq - now.seq > VIEW_EVENTS_MAX)
        goto drop;
    end = st->view_end;
    if (replay_more(l, st->view, &end) < 0)
        goto drop;
    a->applied = st->view_applied;
    a->end = end;
    a->tail_events = end.seq - a->applied.seq;
    /* what the last group memoized (epoch states) held under its hold of
     * the lock, not this one's */
    ldg_txn_memo_drop(st->view);
    return st->view;
drop:
    ldg_txn_abort(st->view);
    st->view = NULL;
    return NULL;
}

int
ldg_intake_ack_begin(struct ldg_ledger *l, struct ldg_intake_ack *a,
                     struct ldg_txn **out)
{
    uint64_t events;
    int rc;

    LDG_ASSERT(held == l);
    *out = NULL;
    a->settled = 0;
    if ((*out = view_reuse(l, a)) != NULL) {
        ldg_intake_build_init(&a->frame, a->end.gen, a->end.seq, FRAME_MAX);
        return 0;
    }
    if ((rc = ldg_store_txn_begin_overlay(l->store, l, out)) < 0)
        return rc;
    if ((rc = replay(l, *out, &a->applied, &a->end, &events)) < 0) {
        ldg_txn_abort(*out);
        *out = NULL;
        return rc;
    }
    a->tail_events = events;
    ldg_intake_build_init(&a->frame, a->end.gen, a->end.seq, FRAME_MAX);
    l->intake->view = *out;
    l->intake->view_applied = a->applied;
    l->intake->view_end = a->end;
    return 0;
}

void
ldg_intake_ack_end(struct ldg_ledger *l, struct ldg_intake_ack *a,
                   struct ldg_txn *t, int ok)
{
    struct ldg_intake_state *st = l->intake;
    if (t == NULL)
        return;
    if (st != NULL && t == st->view) {
        /* kept when it holds exactly the log up to the end: the group
         * acknowledged (or nothing stored), and the tail not applied */
        if (ok && !a->settled) {
            st->view_end = a->end;
            /* and its snapshot let go until the next group: a writer
             * waiting on its input pins no page the tail's apply frees */
            ldg_store_txn_park(t, 1);
            /* the epoch states the group used go to the handle's kept
             * ones now, not at the next group: there ldg_keys_expire
             * wipes a state whose period is over, so that an idle daemon
             * keeps no past secret in memory (tests/e2e/epochs_serve.sh) */
            ldg_txn_memo_drop(t);
            return;
        }
        st->view = NULL;
    }
    ldg_txn_abort(t);
}

int
ldg_intake_ack_write(struct ldg_ledger *l, struct ldg_intake_ack *a)
{
    struct ldg_intake_pos at;
    const uint8_t *p;
    size_t n;
    uint32_t blocks;
    int rc;

    LDG_ASSERT(held == l && a->frame.count > 0);
    /* where the log seems to end, a damaged frame may hide acknowledged
     * ones: never write over them */
    {
        char why[512];
        uint64_t seq;
        if ((rc = hidden_past(l->intake->in, &a->end, 1, why, sizeof why,
                              &seq)) > 0) {
            ldg_seterr(l,
                       "%s; nothing is written over it (`" LDG_CMD_VERIFY
                       "` says so too)",
                       why);
            return LDG_ECORRUPT;
        }
        if (rc < 0)
            return rc;
    }
    blocks =
        (uint32_t)((a->frame.len + LDG_INTAKE_BLOCK - 1) / LDG_INTAKE_BLOCK);
    rc = ldg_intake_place(l->intake->in, &a->end, &a->applied, blocks, &at);
    if (rc == LDG_EFULL) {
        /* no room before the unapplied tail: apply it, then the whole
         * ring past the end is free */
        if ((rc = settle_locked(l, &a->end)) < 0)
            return rc;
        a->applied = a->end;
        a->settled = 1;
        a->tail_events = 0;
        rc = ldg_intake_place(l->intake->in, &a->end, &a->applied, blocks, &at);
    }
    if (rc < 0) {
        ldg_seterr(l,
                   "the intake log has no room for a frame of %u blocks "
                   "(its ring is %llu)",
                   (unsigned)blocks,
                   (unsigned long long)ldg_intake_blocks(l->intake->in) - 1);
        return rc;
    }
    a->frame.gen = at.gen;
    if ((rc = ldg_intake_build_finish(&a->frame, &p, &n)) < 0)
        return rc;
    if ((rc = ldg_intake_write(l->intake->in, at.block, p, n)) < 0) {
        ldg_seterr(
            l, "cannot write the intake log %s: %s (%s)", l->intake->path,
            rc == LDG_EFULL ? "no space left on device" : strerror(errno),
            ldg_intake_unsure(l->intake->in)
                ? "nor undo the write: the events may be in the log, "
                  "and a retry with the same ids finds them"
                : "nothing was appended");
        return rc;
    }
    /* acknowledged: durable, sealed, under its signed checkpoint */
    a->end.block = at.block + n / LDG_INTAKE_BLOCK;
    a->end.gen = at.gen;
    a->end.seq += a->frame.count;
    a->tail_events += a->frame.count;
    if (!l->intake->settle_full &&
        (a->tail_events >= TAIL_EVENTS ||
         ldg_intake_used(l->intake->in, &a->end, &a->applied) >= TAIL_BLOCKS)) {
        /* a failure here loses nothing: the tail stays in the intake */
        if (settle_locked(l, &a->end) == 0)
            a->settled = 1;
    }
    return 0;
}

void
ldg_intake_ack_release(struct ldg_intake_ack *a)
{
    ldg_intake_build_release(&a->frame);
}

int
ldg_intake_direct_pos(struct ldg_ledger *l, struct ldg_txn *t, uint64_t size)
{
    struct ldg_intake_pos a;
    int rc;
    /* the tail applied (the caller settled it under the lock): the
     * position stays, at the new size */
    if ((rc = applied_get(t, &a)) < 0)
        return rc;
    a.seq = size;
    return applied_put(t, ldg_intake_id(l->intake->in), &a);
}

/*
 * verify --full's check of the intake against the store: its file id and
 * the applied position are the store's (applied_get), every frame from
 * there on follows the log (a reader's replay, made by verify's own read
 * transaction), and no frame that holds lies past the log's end: one of
 * the end's lap at or after the end's block, or of the next lap, from
 * the end's seq on, would be an acknowledged frame cut off by a damaged
 * one before it (a torn tail leaves only frames that do not hold, or of
 * earlier laps). 0; 1 with what (cap bytes) and *seq, the first event
 * cut off; < 0 on an error.
 */
int
ldg_intake_check(struct ldg_ledger *l, char *what, size_t cap, uint64_t *seq)
{
    struct ldg_intake_state *st = l->intake;
    struct ldg_intake_pos applied, end;
    struct ldg_intake_frame f;
    struct ldg_txn *t;
    uint8_t *buf = NULL;
    size_t bcap = 0;
    int rc, fd = -1;

    if (st == NULL)
        return 0;
    /* a reader's shared lock from the applied position to the scan past
     * the end (FORMAT 12.5): a frame a writer finished between the walk
     * and the scan would look like one cut off past the end */
    if (held != l && (fd = lock_take(l, 0)) < 0)
        return fd;
    if ((rc = ldg_store_txn_begin(l->store, l, 0, &t)) < 0)
        goto out;
    rc = applied_get(t, &applied);
    ldg_txn_abort(t);
    if (rc == LDG_ECORRUPT) {
        snprintf(what, cap, "%s", ldg_errbuf(l));
        *seq = 0;
        rc = 1;
        goto out;
    }
    if (rc < 0)
        goto out;
    end = applied;
    while ((rc = ldg_intake_next(st->in, &end, &buf, &bcap, &f)) == 1)
        ;
    free(buf);
    if (rc >= 0)
        rc = hidden_past(st->in, &end, 0, what, cap, seq);
out:
    lock_drop(fd);
    return rc;
}
