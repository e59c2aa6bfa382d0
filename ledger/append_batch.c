/*
 * append_batch.c — all-or-nothing batches (append_int.h): one write
 * transaction holds every accepted event until the caller commits or
 * fails it; sealed batches bring events sealed elsewhere.
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

#include "ledger/append_int.h"
#include "ledger/epoch_int.h"
#include "ledger/intake_int.h"
#include "ledger/intake_log_int.h"
#include "ledger/index_int.h"
#include "ledger/keys_int.h"
#include "ledger/log_int.h"
#include "ledger/tlog_int.h"

/* -------------------------------------------------- all-or-nothing -- */

/*
 * An all-or-nothing batch: one write transaction holds every accepted
 * event; each is judged by exactly the checks a commit makes (prep_init,
 * then check_in_txn against the log as the transaction has it, so key
 * events, erasures and parents earlier in the batch count). A refused
 * event writes nothing and the batch goes on; a storage failure ends it.
 * Nothing is durable until ldg_batch_commit.
 */
struct ldg_batch {
    struct ldg_ledger *l;
    struct ldg_txn *t;
    struct tail tl;
    uint8_t prev[32];
    uint64_t n;         /* events stored in the transaction */
    int dead;           /* a storage failure: only ldg_batch_free is left */
    int full;           /* that failure was LDG_EFULL */
    struct seal_set ss; /* format 2: the ledger-held keys' open seals */
    int intake_fd;      /* layout 9: the intake's lock, held throughout */
    int via_frame;      /* layout 9: b->t is an overlay, acked by a frame */
    size_t bytes;       /* its events' entries and body records */
    struct ldg_intake_ack ia;
};

/*
 * Layout 9: a batch is made in an overlay over the store with the
 * intake's tail replayed and acknowledged by its frame at commit, as an
 * append is; one that outgrows a frame (or whose transaction a caller
 * asks for, to write more than events) goes on in an LMDB transaction:
 * the tail applied, then what the batch stored so far (its frame so far,
 * and the seals it closed) applied to it. That stores the frame's events
 * twice (in the overlay, then in LMDB), so after a batch that passed a
 * frame's limit the handle begins its next one in LMDB (l->batch_big): a
 * server under load, whose groups are that big one after another
 * (docs/WRITE-PATH.md, "Bigger groups").
 */
static int
batch_to_lmdb(struct ldg_batch *b, uint64_t upto, int scrub)
{
    struct ldg_ledger *l = b->l;
    struct ldg_intake_build *fr = &b->ia.frame;
    struct ldg_txn *t = NULL;
    int rc = 0;

    if (!b->via_frame)
        return 0;
    fr->max = SIZE_MAX; /* (room for the seals: the frame is not written) */
    fr->full = 0;
    if (fr->count > 0)
        rc = app_frame_seals(b->t, fr, fr->first_seq, upto - fr->first_seq);
    l->frame = NULL;
    ldg_intake_ack_end(l, &b->ia, b->t, 0);
    b->t = NULL;
    b->via_frame = 0;
    if (rc == 0)
        rc = scrub ? ldg_intake_scrub(l, 1) : ldg_intake_settle(l);
    if (rc == 0)
        rc = ldg_store_txn_begin(l->store, l, 1, &t);
    if (rc == 0 && fr->count > 0) {
        struct ldg_intake_frame f;
        const uint8_t *p;
        size_t n;
        rc = ldg_intake_build_finish(fr, &p, &n);
        if (rc == 0)
            rc = ldg_intake_frame_parse(p, n, &f, NULL);
        if (rc == 0)
            rc = ldg_intake_apply_frame(t, &f);
    }
    ldg_intake_ack_release(&b->ia);
    if (rc < 0) {
        ldg_txn_abort(t);
        return rc;
    }
    b->t = t;
    return 0;
}

/* store_checked in a batch: one that outgrows its frame goes on in
 * LMDB, and the event is stored there. */
static int
batch_store(struct ldg_batch *b, struct ldg_prep *p, int erase, uint64_t target)
{
    int rc;

    /* an erasure at layout 9: the batch goes on in LMDB, with no copy
     * of the body left in the intake (ldg_commit_spans) */
    if (erase && b->intake_fd >= 0 &&
        (rc = b->via_frame ? batch_to_lmdb(b, p->seq, 1)
                           : ldg_intake_scrub(b->l, 0)) < 0)
        return rc;
    rc = app_store_checked(b->t, p, b->prev, b->prev, erase, target);
    if (rc == LDG_ETOOBIG && b->via_frame && b->ia.frame.full) {
        if ((rc = batch_to_lmdb(b, p->seq, 0)) < 0)
            return rc;
        rc = app_store_checked(b->t, p, b->prev, b->prev, erase, target);
    }
    if (rc == 0)
        b->bytes += ldg_prep_frame_bytes(p);
    return rc;
}

/* Says which storage limit a batch met (LDG_EFULL or LDG_ETXNFULL): the
 * disk, the map (grown by ldg_batch_free for a retry, as far as the disk
 * and map_max_bytes allow), or one transaction's limit of changes, which
 * no disk space lifts. */
static void
batch_full_msg(struct ldg_ledger *l, int rc)
{
    uint64_t fs_free = 0;

    ldg_store_fs_free(l->store, &fs_free, NULL);
    if (rc == LDG_ETXNFULL)
        ldg_seterr(l,
                   "the batch is too large for one transaction (LMDB's "
                   "limit of changed pages in a commit, MDB_TXN_FULL; "
                   "%llu MiB free on the file system): nothing of the "
                   "batch is written; commit it in smaller parts",
                   (unsigned long long)(fs_free >> 20));
    else if (ldg_store_disk_full(l->store))
        ldg_seterr(l,
                   "no space left on device (%llu MiB free on FS); "
                   "nothing of the batch is written",
                   (unsigned long long)(fs_free >> 20));
    else
        ldg_seterr(l,
                   "storage full: the map of %llu MiB is full (%llu MiB "
                   "free on the file system); nothing of the batch is "
                   "written",
                   (unsigned long long)(ldg_store_map_size(l->store) >> 20),
                   (unsigned long long)(fs_free >> 20));
}

int
ldg_batch_begin(struct ldg_batch **out, struct ldg_ledger *l)
{
    struct ldg_batch *b;
    int rc;

    if (out == NULL || l == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return LDG_ENOMEM;
    b->l = l;
    b->intake_fd = -1;
    /* layout 9: a batch appends to LMDB itself (it is written once,
     * not in the intake and again), the tail applied first and the
     * intake locked until it ends, so that no frame is written under it */
    if (l->intake != NULL && (b->intake_fd = ldg_intake_lock_ex(l)) < 0) {
        rc = b->intake_fd;
        free(b);
        return rc;
    }
    if (l->intake != NULL && !l->batch_big) {
        rc = ldg_intake_ack_begin(l, &b->ia, &b->t);
        b->via_frame = rc == 0;
        if (rc == 0) {
            l->frame = &b->ia.frame;
            l->frame_txn = b->t;
        }
    } else if (l->intake != NULL) {
        /* the last batch passed a frame's limit: this one goes to LMDB
         * from its start, as batch_to_lmdb would take it there (once: if
         * it fails, a full map say, the next tries a frame again) */
        l->batch_big = 0;
        rc = ldg_intake_settle(l);
        if (rc == 0)
            rc = ldg_store_txn_begin(l->store, l, 1, &b->t);
    } else {
        rc = ldg_txn_begin(l, LDG_TXN_WRITE, &b->t);
    }
    if (rc < 0) {
        if (ldg_errbuf(l)[0] == '\0')
            ldg_seterr(l, "cannot begin a write transaction: %s",
                       ldg_strerror(rc));
        ldg_intake_unlock_ex(l, b->intake_fd);
        free(b);
        return rc;
    }
    if ((rc = app_read_tail(b->t, &b->tl)) < 0) {
        if (rc != LDG_EVERSION) /* (an older layout said so, and how) */
            ldg_seterr(l, "cannot read the end of the log: %s",
                       ldg_strerror(rc));
        if (b->via_frame)
            ldg_intake_ack_end(l, &b->ia, b->t, 0);
        else
            ldg_txn_abort(b->t);
        l->frame = NULL;
        ldg_intake_ack_release(&b->ia);
        ldg_intake_unlock_ex(l, b->intake_fd);
        free(b);
        return rc;
    }
    memcpy(b->prev, b->tl.leaf, 32);
    __atomic_store_n(&l->batch_thread, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&l->batch_owner, b, __ATOMIC_RELEASE);
    *out = b;
    return 0;
}

int
ldg_batch_add_pruned(struct ldg_batch *b, const struct ldg_event_in *ev,
                     uint64_t *seq)
{
    struct ldg_txn *t;
    int rc;
    if (ev == NULL || ev->type == NULL ||
        strcmp(ev->type, LDG_EV_LEDGER_PRUNED) != 0)
        return LDG_EINVAL;
    if ((rc = ldg_batch_txn(b, &t)) < 0) /* (in LMDB, as the prune is) */
        return rc;
    app_adding_pruned = 1;
    rc = ldg_batch_add_seq(b, ev, seq, NULL);
    app_adding_pruned = 0;
    return rc;
}

int
ldg_batch_txn(struct ldg_batch *b, struct ldg_txn **out)
{
    int rc;
    *out = NULL;
    if (b == NULL || b->dead)
        return LDG_EINVAL;
    /* a caller that writes more than events writes to LMDB */
    if (b->via_frame && (rc = batch_to_lmdb(b, b->tl.size + b->n, 0)) < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        return rc;
    }
    *out = b->t;
    return 0;
}

int
ldg_batch_add(struct ldg_batch *b, const struct ldg_event_in *ev)
{
    uint64_t seq;
    return ldg_batch_add_seq(b, ev, &seq, NULL);
}

int
ldg_batch_add_seq(struct ldg_batch *b, const struct ldg_event_in *ev,
                  uint64_t *seq_out, unsigned *differs)
{
    struct ldg_ledger *l;
    struct ldg_prep p;
    uint64_t seq, now, min_ts;
    uint64_t target = 0;
    int rc, erase = 0;

    if (b == NULL || ev == NULL)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    if (b->t == NULL) {
        ldg_seterr(l, "the batch is committed: it takes no more events "
                      "(begin another)");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if (differs != NULL)
        *differs = 0;
    seq = b->tl.size + b->n;
    rc = app_prep_init_ex(l, &p, ev, 1, NULL, NULL);
    if (rc == 0) {
        now = ldg_clock_now(l);
        min_ts = seq == 0 ? 0 : b->tl.ts + 1;
        rc = ldg_prep_sign(l, &p, seq, now > min_ts ? now : min_ts);
        if (rc == 0)
            rc = app_check_in_txn(b->t, &p, seq, &erase, &target);
    }
    if (rc < 0) {
        /* refused: nothing of this event was written */
        if (rc == LDG_EDUPLICATE && seq_out != NULL)
            *seq_out = p.dup_seq;
        if (rc == LDG_EDUPLICATE && differs != NULL)
            *differs = p.dup_differs;
        ldg_prep_release(&p);
        return rc;
    }
    if (l->format >= 2) {
        size_t slot;
        rc = app_seal_place(&b->ss, b->t, &p, seq, &slot);
        if (rc == 0)
            rc = batch_store(b, &p, erase, target);
        if (rc == 0)
            ldg_seal_acc_add(&b->ss.s[slot].acc, p.digest);
    } else {
        rc = batch_store(b, &p, erase, target);
    }
    if (rc < 0)
        goto dead;
    if (seq_out != NULL)
        *seq_out = seq;
    b->tl.ts = p.ts;
    b->n++;
    ldg_prep_release(&p);
    return 0;
dead:
    ldg_prep_release(&p);
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(l, rc);
    else if (l->errmsg[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    /* A storage failure is never one of the codes that refuse one event
     * (LDG_EBADINPUT, LDG_ETOOBIG, LDG_EKEY, LDG_EEXIST). */
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
                   rc == LDG_EEXIST || rc == LDG_EDUPLICATE
               ? LDG_EIO
               : rc;
}

/* The intake's lock goes when the batch's transaction has ended, as
 * LMDB's write lock does (ledger.h: "until commit or free"), not at
 * ldg_batch_free, which a caller may call much later. */
static void
batch_unlock(struct ldg_batch *b)
{
    if (b != NULL && b->t == NULL && b->intake_fd >= 0) {
        ldg_intake_unlock_ex(b->l, b->intake_fd);
        b->intake_fd = -1;
    }
}

static int batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n);

/* The handle no longer holds b's lock: a write on b's thread is no longer
 * refused (unless another batch holds it now: only b's own mark goes). */
static void
batch_release(struct ldg_batch *b)
{
    struct ldg_batch *mine = b;
    if (b->t == NULL && b->intake_fd < 0)
        __atomic_compare_exchange_n(&b->l->batch_owner, &mine, NULL, 0,
                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int
ldg_batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n)
{
    int rc;
    if (b == NULL)
        return batch_commit(b, first_seq, n);
    b->l->batch_committing = 1; /* what commits writes, on this thread */
    rc = batch_commit(b, first_seq, n);
    b->l->batch_committing = 0;
    batch_unlock(b);
    batch_release(b);
    return rc;
}

static int
batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n)
{
    struct ldg_ledger *l;
    uint64_t size;
    int rc = 0;

    if (b == NULL || b->t == NULL)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    size = b->tl.size + b->n;
    if (b->n > 0)
        rc = app_seal_set_close(&b->ss, b->t);
    if (rc == 0 && b->n > 0 && !(l->opts.flags & LDG_BENCH_NOTREE))
        rc = ldg_checkpoint_put(b->t, size);
    /* (the frame closed first: an applier's note follows its checkpoint) */
    if (rc == 0 && b->n > 0 && b->via_frame)
        rc = app_frame_close(b->t, &b->ia.frame, b->tl.size, b->n);
    for (size_t i = 0; rc == 0 && b->n > 0 && i < l->nappliers; i++)
        if (l->appliers[i].at_commit != NULL)
            rc = l->appliers[i].at_commit(l->appliers[i].ctx, b->t, size);
    if (b->via_frame) {
        /* the ack: the frame written and flushed; the overlay goes */
        l->frame = NULL;
        if (rc == 0 && b->n > 0)
            rc = ldg_intake_ack_write(l, &b->ia);
        ldg_intake_ack_end(l, &b->ia, b->t, rc == 0);
    } else {
        if (rc == 0 && b->n > 0 && b->intake_fd >= 0)
            rc = ldg_intake_direct_pos(l, b->t, size);
        if (rc == 0)
            rc = b->n > 0 ? ldg_txn_commit(b->t) : (ldg_txn_abort(b->t), 0);
        else
            ldg_txn_abort(b->t);
    }
    b->t = NULL;
    if (rc < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
            batch_full_msg(l, rc);
        else if (l->errmsg[0] == '\0')
            ldg_seterr(l, "commit failed: %s", ldg_strerror(rc));
        return rc;
    }
    if (b->intake_fd >= 0)
        l->batch_big = b->bytes > LDG_INTAKE_FRAME_MAX;
    if (b->n > 0 && (b->intake_fd < 0 || !b->via_frame || b->ia.settled))
        ldg_dict_after_commit(l, size);
    if (first_seq != NULL)
        *first_seq = b->tl.size;
    if (n != NULL)
        *n = b->n;
    return 0;
}

void
ldg_batch_fail(struct ldg_batch *b, int rc)
{
    if (b == NULL || b->dead)
        return;
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(b->l, rc);
}

int
ldg_batch_commit_changes(struct ldg_batch *b)
{
    int rc;

    if (b == NULL || b->t == NULL)
        return LDG_EINVAL;
    if (b->n > 0)
        return ldg_batch_commit(b, NULL, NULL);
    if (b->dead) {
        ldg_seterr(b->l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    if (b->via_frame) { /* no event, and nothing else written: nothing */
        ldg_intake_ack_end(b->l, &b->ia, b->t, 1);
        b->t = NULL;
        batch_unlock(b);
        batch_release(b);
        return 0;
    }
    rc = ldg_txn_commit(b->t);
    b->t = NULL;
    batch_unlock(b);
    batch_release(b);
    if (rc < 0) {
        b->dead = 1;
        b->full = rc == LDG_EFULL;
        if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
            batch_full_msg(b->l, rc);
        else if (b->l->errmsg[0] == '\0')
            ldg_seterr(b->l, "commit failed: %s", ldg_strerror(rc));
    }
    return rc;
}

void
ldg_batch_free(struct ldg_batch *b)
{
    if (b == NULL)
        return;
    if (b->via_frame) {
        ldg_intake_ack_end(b->l, &b->ia, b->t, 0);
        /* only while its frame is the handle's: once committed, another
         * batch's may be (a free after the commit cleared it, and that
         * batch's commit then failed: test_api_contract) */
        if (b->l->frame == &b->ia.frame)
            b->l->frame = NULL;
    } else {
        ldg_txn_abort(b->t);
    }
    ldg_intake_ack_release(&b->ia);
    ldg_intake_unlock_ex(b->l, b->intake_fd);
    {
        struct ldg_batch *mine = b; /* its lock is gone: its mark too */
        __atomic_compare_exchange_n(&b->l->batch_owner, &mine, NULL, 0,
                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    }
    /* The map was too small for the batch: make room for a retry (as
     * far as the file system has room; a full disk does not grow it). */
    if (b->full) {
        char why[256];
        ldg_store_grow(b->l->store, why, sizeof why);
    }
    app_seal_set_release(&b->ss);
    free(b);
}

/* -------------------------------------------------- sealed batches -- */

static int
cmp_idp(const void *a, const void *b)
{
    const struct ldg_prep *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* Refuses the sealed batch (nothing of it written, the batch goes on). */
static int sealed_refuse(struct ldg_ledger *l, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sealed_refuse(struct ldg_ledger *l, int rc, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ldg_seterr(l, "sealed batch refused (nothing of it written): %s", msg);
    return rc;
}

size_t
ldg_batch_sealed_cost(const struct ldg_sealed_batch *sb)
{
    /* the preps and their index, and per event the entry's and the body
     * record's buffers (measured: 1.5 KiB a small event beside its prep) */
    if (sb == NULL)
        return 0;
    return sb->n * (sizeof(struct ldg_prep) + sizeof(struct ldg_prep *) + 1536);
}

/* A retried batch: how many of its events, from the first on, are
 * already in the log by id (*ndup), the first of them at *dup_first. */
static int
sealed_dups(struct ldg_batch *b, const struct ldg_sealed_batch *sb,
            uint64_t *ndup, uint64_t *dup_first)
{
    int rc;
    for (size_t i = 0; i < sb->n; i++) {
        const char *id = sb->ev[i].in.id;
        uint64_t at;
        if (id == NULL)
            continue;
        rc = ldg_index_id_lookup(b->t, id, strlen(id), &at);
        if (rc == LDG_ENOTFOUND)
            continue;
        if (rc < 0)
            return rc;
        if ((*ndup)++ == 0)
            *dup_first = at;
        if (*ndup != i + 1)
            break;
    }
    return 0;
}

/* Each event of the batch prepared and signed as the key's, checked
 * (no key events, roles, parents, distinct ids), its digest into acc. */
static int
sealed_prep(struct ldg_ledger *l, const struct ldg_sealed_batch *sb,
            const struct ldg_key_state *ks, struct ldg_key *pk, uint64_t seq0,
            struct ldg_prep *preps, struct ldg_prep **byid,
            struct ldg_seal_acc *acc)
{
    size_t n = sb->n, nid = 0;
    int rc;

    ldg_seal_acc_init(acc);
    for (size_t i = 0; i < n; i++) {
        struct ldg_event_in in = sb->ev[i].in;
        struct ldg_prep *p = &preps[i];
        in.actor = NULL;
        rc = app_prep_init_ex(l, p, &in, 1, pk, sb->ev[i].salts);
        if (rc == 0 && ldg_type_log_only(p->type)) {
            ldg_seterr(l, "%s is the log key's and never arrives sealed",
                       p->type);
            rc = LDG_EKEY;
        }
        if (rc == 0)
            rc = app_roles_refuse(l, ks, p->type);
        if (rc == 0 && p->has_parent && p->parent >= seq0 + i) {
            ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                       (unsigned long long)p->parent,
                       (unsigned long long)(seq0 + i));
            rc = LDG_EBADINPUT;
        }
        if (rc == 0)
            rc = ldg_prep_sign(l, p, seq0 + i, 0);
        if (rc < 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ldg_errmsg(l));
            if (rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY)
                rc = sealed_refuse(l, rc, "sealed.events[%zu]: %s", i,
                                   why[0] ? why : ldg_strerror(rc));
            return rc;
        }
        if (p->id[0] != '\0')
            byid[nid++] = p;
        ldg_seal_acc_add(acc, p->digest);
    }
    /* ids must differ from each other too */
    qsort(byid, nid, sizeof *byid, cmp_idp);
    for (size_t i = 1; i < nid; i++)
        if (strcmp(byid[i - 1]->id, byid[i]->id) == 0) {
            rc = sealed_refuse(l, LDG_EBADINPUT,
                               "sealed.events[%zu] and [%zu] carry the same "
                               "id '%s'",
                               (size_t)(byid[i - 1] - preps),
                               (size_t)(byid[i] - preps), byid[i]->id);
            return rc;
        }
    return 0;
}

/* A retry (every id already there): answered as duplicates once its seal
 * is the one stored for them; refused otherwise. */
static int
sealed_retry(struct ldg_batch *b, const struct ldg_sealed_batch *sb,
             const struct ldg_key_state *ks, const struct ldg_seal *seal,
             uint64_t dup_first, uint64_t *first_seq)
{
    struct ldg_ledger *l = b->l;
    struct ldg_seal stored;
    int rc;

    rc = ldg_seal_get(b->t, dup_first, &stored);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    if (rc == LDG_ENOTFOUND || stored.count != sb->n ||
        stored.first != sb->first || strcmp(stored.key_id, ks->key_id) != 0 ||
        memcmp(stored.root, seal->root, sizeof seal->root) != 0) {
        rc = sealed_refuse(l, LDG_EBADINPUT,
                           "every event's id is already in the log (from "
                           "event %llu), but not from this batch: its "
                           "seal is not the one stored there (changed "
                           "events re-sent under recorded ids)",
                           (unsigned long long)dup_first);
        return rc;
    }
    if (first_seq != NULL)
        *first_seq = dup_first;
    ldg_seterr(l,
               "sealed batch of %zu events: every event's id is already "
               "in the log (from event %llu): not appended again",
               sb->n, (unsigned long long)dup_first);
    return LDG_EDUPLICATE;
}

int
ldg_batch_add_sealed(struct ldg_batch *b, const struct ldg_sealed_batch *sb,
                     uint64_t *first_seq)
{
    struct ldg_ledger *l;
    struct ldg_key_state ks;
    struct ldg_key *pk = NULL;
    struct ldg_prep *preps = NULL, **byid = NULL;
    struct ldg_seal_acc acc;
    struct ldg_seal seal;
    uint64_t seq0, have = 0, ndup = 0, dup_first = 0, ts = 0;
    size_t n, i;
    int rc, retry;

    if (b == NULL || sb == NULL || sb->n == 0 || sb->n != sb->count)
        return LDG_EINVAL;
    l = b->l;
    if (b->dead) {
        ldg_seterr(l, "the batch failed earlier; nothing of it is written");
        return LDG_EINVAL;
    }
    l->errmsg[0] = '\0';
    if (l->format < 2)
        return sealed_refuse(l, LDG_EBADINPUT,
                             "this ledger is format 1, whose events are "
                             "signed one by one; sealed batches need format "
                             "2");
    n = sb->n;
    seq0 = b->tl.size + b->n;
    rc = ldg_keys_lookup(b->t, sb->key_id, &ks);
    if (rc == LDG_ENOTFOUND)
        return sealed_refuse(l, LDG_EKEY,
                             "key %s is not enrolled in this "
                             "ledger (" LDG_CMD_KEYS_ADD ")",
                             sb->key_id);
    if (rc < 0)
        return rc;
    if (ks.revoked_seq != UINT64_MAX)
        return sealed_refuse(l, LDG_EKEY,
                             "key '%s' (%s) was revoked at "
                             "event %llu",
                             ks.name, ks.key_id,
                             (unsigned long long)ks.revoked_seq);
    /* a retried batch: all its events already there (by id) */
    if ((rc = sealed_dups(b, sb, &ndup, &dup_first)) < 0)
        return rc;
    /* A retry (every id already there) is answered as duplicates only
     * once it proves to be the batch recorded: its seal verifies and is
     * the stored one (below). */
    retry = ndup == n;
    if (ndup > 0 && !retry)
        return sealed_refuse(l, LDG_EBADINPUT,
                             "some of its events' ids are already in the log "
                             "and some are not (a sealed batch is appended "
                             "whole)");
    if (!retry && ldg_epoch_anchored_before(b->t, ks.key_id, seq0))
        /* its seals must carry the epoch part only the box can make
         * (FORMAT.md 5.1): stored as sent, it would fail verify */
        return sealed_refuse(l, LDG_EKEY,
                             "key '%s' (%s) seals with epoch keys since its "
                             "anchor: the ledger seals its events, so they "
                             "come unsealed (a sealed batch is for a key its "
                             "writer holds)",
                             ks.name, ks.key_id);
    if (!retry) {
        /* this key's ledger-held seal in the batch so far is complete
         * now: a key's seals never interleave */
        if ((rc = app_seal_close_key(&b->ss, b->t, ks.key_id)) < 0)
            goto dead;
        if ((rc = ldg_key_sealed(b->t, ks.key_id, &have)) < 0)
            return rc;
        if (sb->first != have)
            return sealed_refuse(
                l, LDG_EBADINPUT,
                "sealed.first is %llu but key '%s' (%s) has %llu "
                "events sealed: a stale or replayed batch "
                "(" LDG_CMD_KEYS_LIST_JSON " shows \"sealed\")",
                (unsigned long long)sb->first, ks.name, ks.key_id,
                (unsigned long long)have);
    }
    if ((rc = ldg_key_from_public(&pk, ks.name, ks.pub)) < 0)
        return rc;
    preps = calloc(n, sizeof *preps);
    byid = calloc(n, sizeof *byid);
    if (preps == NULL || byid == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = sealed_prep(l, sb, &ks, pk, seq0, preps, byid, &acc)) < 0)
        goto out;
    memset(&seal, 0, sizeof seal);
    LDG_ASSERT(acc.count == n); /* the client's seal spans its batch */
    seal.count = n;
    seal.first = sb->first;
    memcpy(seal.key_id, ks.key_id, sizeof seal.key_id);
    memcpy(seal.origin, l->origin, sizeof seal.origin);
    ldg_seal_acc_root(&acc, seal.root);
    memcpy(seal.sig, sb->sig, 64);
    if (ldg_seal_verify(&seal, ks.pub) != 0) {
        rc = sealed_refuse(l, LDG_EBADSIG,
                           "the seal does not verify with key '%s' (%s): "
                           "these %zu events, first %llu or origin '%s' are "
                           "not what it signed",
                           ks.name, ks.key_id, n, (unsigned long long)sb->first,
                           l->origin);
        goto out;
    }
    if (retry) {
        rc = sealed_retry(b, sb, &ks, &seal, dup_first, first_seq);
        goto out;
    }
    /* everything is checked: store the events contiguously, then the
     * seal as given; a failure from here on is the storage's */
    ts = b->tl.ts;
    for (i = 0; i < n; i++) {
        struct ldg_prep *p = &preps[i];
        uint64_t now = ldg_clock_now(l), min_ts = seq0 + i == 0 ? 0 : ts + 1;
        p->seq = seq0 + i;
        p->ts = now > min_ts ? now : min_ts;
        ts = p->ts;
        p->seal_seq = seq0;
        p->seal_leaf = i;
        if ((rc = batch_store(b, p, 0, 0)) < 0)
            goto dead;
    }
    if ((rc = app_seal_store(b->t, seq0, &seal)) < 0)
        goto dead;
    b->n += n;
    b->tl.ts = ts;
    if (first_seq != NULL)
        *first_seq = seq0;
    rc = 0;
    goto out;
dead:
    b->dead = 1;
    b->full = rc == LDG_EFULL;
    if (rc == LDG_EFULL || rc == LDG_ETXNFULL)
        batch_full_msg(l, rc);
    else if (l->errmsg[0] == '\0')
        ldg_seterr(l, "append failed: %s", ldg_strerror(rc));
    if (rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
        rc == LDG_EEXIST || rc == LDG_EDUPLICATE || rc == LDG_EBADSIG)
        rc = LDG_EIO;
out:
    for (i = 0; preps != NULL && i < n; i++)
        ldg_prep_release(&preps[i]);
    free(preps);
    free(byid);
    ldg_key_free(pk);
    return rc;
}
