/*
 * write_int.h — private to `ledger export` (export/write*.c): the export's
 * context (struct ex), its selection and key records, the member queue,
 * and the steps each file gives the others. Nothing here is API; see
 * export.h.
 *
 * One struct ex lives for one ldg_export_write* call and reads in windows
 * (x->t, renewed by ex_window): each a snapshot of the same store whose
 * log prefix and tree below the bundle's checkpoint are the same bytes,
 * checked to have lost nothing to a prune or an erase meanwhile; the
 * member queue's writer thread alone touches the archive and the digest
 * list until it is joined (ex_queue_finish).
 */
#ifndef LEDGER_EXPORT_WRITE_INT_H
#define LEDGER_EXPORT_WRITE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "export/export_int.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

#define ROLE_SELECTED 1u
#define ROLE_SUPPORT 2u
#define MAX_EVENTS_DEFAULT 200000
#define PROGRESS_EVERY 256
/* A read window (docs/QUERY.md, "Readers and the file's growth"): the
 * export holds one read snapshot for at most this many events or this
 * long, and never while it waits for room in the member queue. */
#define EX_WINDOW_EVENTS 1000
#define EX_WINDOW_MS 100
#define EX_WINDOW_ROOM 16 /* queue slots one event may take */

struct sel {
    uint64_t seq;
    unsigned role;
    uint64_t erased_by; /* UINT64_MAX if none */
};

struct keyent {
    char id[LDG_KEYID_LEN + 1];
    struct ldg_keyinfo ki;
};

/*
 * Members go through a queue to a writer thread, which hashes them, adds
 * them to the archive (whose zstd stream has worker threads of its own)
 * and records the digests; the calling thread keeps reading the ledger and
 * formatting. Only the writer touches the archive and the digest list
 * until it is joined.
 */
#define QCAP 1024
#define WBATCH 256 /* members the writer takes at once */
struct qitem {
    char name[48];
    const void *data;
    size_t len;
    void *owned; /* freed after writing */
};
struct mqueue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    struct qitem items[QCAP];
    size_t head, count;
    int closed, started, inited, err;
    pthread_t th;
    char errmsg[320];
};

/* How many events SUMMARY.txt lists, and how many failures. */
#define EX_SUMMARY_LIST 200

struct ex {
    struct ldg_ledger *l;
    const struct ldg_export_opts *o;
    /* the read window (win.t, and what each new one checks), the first
     * snapshot's size, its horizon (hz.seq) and the events read and the
     * time (ms) since win.t began */
    struct ldg_window win;
    uint64_t size0, win_events, win_ms;
    struct ldg_vouch *vouch; /* while vouch_all runs (rebound per window) */
    char vkey[512];
    char origin[LDG_ORIGIN_MAX + 1];
    char *ck;
    char *ck_epoch; /* its epoch line whole (B_CHECKPOINT_EPOCH), or NULL */
    /* a pruned ledger's horizon (hz.seq 0: never pruned): carried as the
     * member "horizon", it establishes the keys added before it */
    struct ldg_horizon hz;
    char *cosigned_proof; /* cosigned/consistency, or NULL: none carried */
    uint64_t cksize;
    uint8_t root[32];
    uint64_t max_events;
    struct sel *ev;
    size_t nev, capev;
    struct keyent *keys;
    size_t nkeys, capkeys;
    struct bwriter *w;
    /* The manifest's two long lists, as JSON text: "files" (written by
     * the writer thread only) and "events". */
    struct ldg_buf mfiles, msizes, mevents;
    struct ldg_buf jsonl;
    uint64_t tar_bytes; /* uncompressed archive size so far */
    struct ldg_export_report rep;
    struct mqueue q;
    struct ldg_proof_batch *proofs; /* every proof against cksize */
    json_t *state;                  /* projected state at cksize, or NULL */
    char *state_note;               /* its signed projection note, or NULL */
    json_t *timeline;               /* timeline.json, or NULL */
    json_t *run_tl;          /* the run's timeline, when the export read it */
    char top[B_TOP_MAX + 1]; /* the archive's one directory */
    char file[300];          /* the bundle's file name, for README */
    uint64_t now_ns;
    struct ldg_query_models *models; /* "model_at" (none when redacting) */
    /* format 2: the seals whose events are being written, each with its
     * events' claim digests, read once per seal. A key's seal covers its
     * events of one commit, which need not be adjacent (FORMAT.md 3.3):
     * several seals are open at once when actors interleave, and one is
     * dropped once the events passed its last. */
    struct exseal *seals;
    size_t nseals, capseals;
    /* the epoch parts of seals of anchored keys, made whole */
    struct ldg_epoch_walk *epochs;
    /* SUMMARY.txt's figures, gathered as each line of events.jsonl is
     * made (an archive holds a million lines: none is read again): the
     * first EX_SUMMARY_LIST lines and as many of those that report a
     * failure, parsed (owned), every line and failure counted */
    json_t *sum_sel[EX_SUMMARY_LIST], *sum_fail[EX_SUMMARY_LIST];
    size_t sum_nsel, sum_nfl, sum_nall, sum_nfail;
    uint64_t sum_last_ts; /* the last line's ts */
};

struct exseal {
    uint64_t seal_seq, last_seq; /* its first and last event */
    struct ldg_seal seal;
    uint8_t (*dig)[32];         /* seal.count claim digests, in leaf order */
    struct ldg_seal_tree *tree; /* built from dig on its first proof */
};

/* write_select.c: which events go into the bundle */
struct keyent *ex_find_key(struct ex *x, const char *id);
int ex_select_events(struct ex *x, struct ldg_query *q);
int ex_select_context(struct ex *x);
int ex_model_at(struct ex *x, const struct ldg_event *ev, const json_t *body,
                struct ldg_model_at *m, const char **model);
int ex_select_support(struct ex *x);

/* write.c: the read window. Counts n events read in x->t; once the
 * window is full (or the queue has no room for an event's members) ends
 * x->t, waits for room outside any snapshot, begins a new one and checks
 * that no prune nor erase removed what the bundle needs (LDG_ENOTFOUND,
 * the message saying so). Nothing read from the old x->t may be held
 * across it. */
int ex_window(struct ex *x, uint64_t n);

/* write_queue.c: the members' queue */
size_t ex_queue_room(struct ex *x);
int ex_queue_wait_room(struct ex *x, size_t room);
int ex_queue_start(struct ex *x);
int ex_queue_finish(struct ex *x);
int ex_member_put(struct ex *x, const char *name, const void *data, size_t len,
                  void *owned);
int ex_member(struct ex *x, const char *name, const void *data, size_t len);
int ex_member_json(struct ex *x, const char *name, json_t *v, size_t flags);
int ex_in_list(const char *s, char *const *list, size_t n);
int ex_protected_type(const char *type);

/* write_members.c: the members */
int ex_write_keys(struct ex *x);
int ex_write_event(struct ex *x, const struct sel *s);
void ex_load_state(struct ex *x);
int ex_write_state(struct ex *x);
int ex_write_manifest(struct ex *x, uint64_t now_ns);

/* write_readme.c: README.txt and SUMMARY.txt; ex_failure_of says whether an
 * event of type with the disclosed body (NULL: none disclosed) reports a
 * failure, a denial or something down, and which (static text), or NULL */
const char *ex_failure_of(const char *type, const json_t *body);
/* ex_summary_add takes one line of events.jsonl (line, len: the whole
 * line) for SUMMARY.txt; ex_summary_free releases what it kept. */
void ex_summary_add(struct ex *x, const struct ldg_event *ev,
                    const json_t *body, const char *line, size_t len);
void ex_summary_free(struct ex *x);
int ex_write_readme(struct ex *x, uint64_t now_ns);
int ex_write_summary(struct ex *x, uint64_t now_ns);

/* write_html.c: index.html */
int ex_write_index(struct ex *x, uint64_t now_ns);

#endif
