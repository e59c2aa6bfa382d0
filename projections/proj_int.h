/*
 * proj_int.h — shared between the files of projections/, not public.
 *
 * The pieces, bottom to top:
 *
 *   scan.c     events as the folds see them: an envelope (seq, ts, type,
 *              subject, run) and a body view that reads fields either from
 *              a jansson object (the append path) or straight from the
 *              stored msgpack (the rebuild path, which must not pay for a
 *              JSON decode of every body)
 *   records.c  the record types, each with one symmetric io function that
 *              encodes, decodes and frees it
 *   state.c    struct pstate: a write-back cache of records keyed by
 *              (tag, key), optionally backed by a transaction, with the
 *              per-projection multiset digests
 *   fold.c     the folds: one event in, records updated
 *              (fold_routes.c: those of routes, decisions, evals and
 *              promotions)
 *   derive.c   what is computed from records at read time: pack state,
 *              route readiness, effective permissions, the doctor clauses
 *   views.c    JSON renderings of every view
 *   engine.c   meta, notes and catch-up (engine_int.h), with applier.c
 *              (the append path), read.c (reading as of a size),
 *              rebuild.c and check.c
 *   verified.c proj.verified, the successful model verifications by
 *              subject and digest (for query's model_at), with an
 *              applier of its own
 */
#ifndef LDG_PROJ_INT_H
#define LDG_PROJ_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ledger/module.h"
#include "util/util.h"
#include "projections/projections.h"

/* ------------------------------------------------------------ versions -- */

/* Storage layout of proj.* databases (meta record layout, key scheme). */
#define PROJ_FORMAT 1
/* Code versions: bump when a fold's output for the same events changes. */
#define V_PACKS 1
#define V_PERMISSIONS                                                          \
    2 /* 2: one RFC 3339 parser (a day the month lacks is                      \
       * malformed, :60 is the last ns, no wrap past 2554) */
#define V_MODELS                                                               \
    2 /* 2: a proxy call to the runtime's upstream that could not connect      \
       * is the runtime down, an answer after it is it up */
#define V_ROUTES                                                               \
    3 /* 3: a model call seen by both the app's span and the proxy's           \
       * record is counted once, as the app's span says it */
#define V_PROMOTIONS 1
#define V_RUNS                                                                 \
    2 /* 2: a run an application's trace is linked to (otel.*, a decision      \
       * with a trace_id) is marked traced: "trace", not "not-started" */
#define V_DOCTOR 1
/* the control pipeline (issue 34): plans, snapshots, tripcodes; memory
 * items; builds and success gates. Plans 2: a plan counts every snapshot
 * and tripcode event that names it (restored and refused too), and they
 * end its span of events, as its timeline shows them */
#define V_PLANS 2
#define V_MEMORY 1
#define V_BUILDS 1

enum proj_id {
    P_PACKS,
    P_PERMISSIONS,
    P_MODELS,
    P_ROUTES,
    P_PROMOTIONS,
    P_RUNS,
    P_PLANS,
    P_MEMORY,
    P_BUILDS,
    P_COUNT
};
#define P_ALL ((1u << P_COUNT) - 1)

struct proj_def {
    const char *name; /* "packs" */
    const char *db;   /* "proj.packs" */
    uint32_t version;
};
extern const struct proj_def proj_defs[P_COUNT];
/* Index of a projection by name, or -1. */
int proj_find(const char *name);

/* Bounds on what one record may hold (outside input is bounded). */
#define PROJ_LIST_MAX 256 /* entries in a requires list, fallbacks, ... */
#define PROJ_STR_MAX 1024 /* bytes kept of a free-text string */
#define PROJ_METRICS_MAX 16
#define PROJ_KEY_MAX 480 /* longer keys are shortened with a hash */

/* --------------------------------------------------------------- scan.c -- */

/* Strings of a stored event or body are the core's slices (ledger/module.h). */
int sv_eq(struct ldg_slice a, const char *s);

/* A C string as a slice (NULL: the empty slice). */
static inline struct ldg_slice
svs(const char *s)
{
    struct ldg_slice v;
    v.p = s ? s : "";
    v.n = s ? strlen(s) : 0;
    return v;
}

/* The name after "kind:" in a subject or target, if it has that kind. */
static inline int
kind_name(struct ldg_slice s, const char *kind, struct ldg_slice *out)
{
    size_t k = strlen(kind);
    if (s.n <= k + 1 || memcmp(s.p, kind, k) != 0 || s.p[k] != ':')
        return 0;
    out->p = s.p + k + 1;
    out->n = s.n - k - 1;
    return 1;
}

/* The event types as the folds see them: one per type of ledger/events.h
 * (generated from docs/VOCABULARY.md), T_OTHER for x.* types. The folds'
 * dispatch (fold_event) names every one in a switch the compiler checks
 * (EV_SWITCH_CHECKED): a new type is a build error until it says what the
 * type feeds. */
enum ev_type {
    T_OTHER = 0,
#define T_ENUM(id, name) T_##id,
    LDG_EVENT_TYPES(T_ENUM)
#undef T_ENUM
};
#define T_COUNT (LDG_EVENT_TYPE_COUNT + 1)
/* Around a function whose switch over enum ev_type must name every type
 * (-Wswitch and -Wswitch-enum as errors, in GCC and clang alike). */
#define EV_SWITCH_CHECKED_BEGIN                                                \
    _Pragma("GCC diagnostic push")                                             \
        _Pragma("GCC diagnostic error \"-Wswitch\"")                           \
            _Pragma("GCC diagnostic error \"-Wswitch-enum\"")
#define EV_SWITCH_CHECKED_END _Pragma("GCC diagnostic pop")
enum ev_type ev_type_of(const char *type, size_t len);
/* Does an event of this type feed any projection? */
int ev_type_feeds(enum ev_type t);
/* The projections an event of type t can change (scan.c; P_ALL where not
 * narrowed down): a fold of none of them passes such an event over.
 * fold_event states it of every fold (ps_upd asserts it), so a fold that
 * starts to change another projection fails the tests, not a view at an
 * earlier size. */
unsigned ev_type_writes(enum ev_type t);

/* The envelope as the folds see it. Strings are borrowed (from the
 * struct ldg_event or from the stored entry, valid while the txn is). */
struct penv {
    uint64_t seq, ts;
    enum ev_type type;
    struct ldg_slice subject, run;
};
/* e as the folds see ev (its strings borrowed from ev). */
void penv_from_event(struct penv *e, const struct ldg_event *ev);

/* A body is the core's ldg_body_view (ledger/module.h): over the stored record
 * on the rebuild path, over the applier's JSON object on the append path,
 * or erased. */

/* Iterates the events [from, to) of the log seen by t, giving each
 * envelope and body to fn. Uses the fast path over the stored bytes and
 * falls back to ldg_event_get/ldg_body_get for anything unexpected.
 * mask: the projections being folded (P_ALL: every event as always);
 * an event whose type changes none of them is passed over, its body
 * never read (ev_type_writes). */
int scan_events(struct ldg_txn *t, uint64_t from, uint64_t to, unsigned mask,
                int (*fn)(void *ctx, const struct penv *e,
                          const struct ldg_body_view *b),
                void *ctx, ldg_projections_progress_fn progress, void *pctx,
                struct ldg_scan_stats *st);

/* Time values ("expires"): RFC 3339 string or a number of seconds,
 * milliseconds, microseconds or nanoseconds since the epoch (by
 * magnitude). 0 if unparseable. */
uint64_t parse_time_ns(const struct ldg_body_view *b, const char *name);

/* ------------------------------------------------------------ records.c -- */

struct strlist {
    char **v;
    uint32_t n;
};

/* A bump allocator for records decoded only to be read (views): freed
 * all at once, never field by field. */
struct arena_block;
struct arena {
    struct arena_block *head;
};
#define ARENA_BLOCK (120u << 10) /* under malloc's mmap threshold */
void *arena_alloc(struct arena *a, size_t n); /* zeroed; NULL if no memory */
void arena_release(struct arena *a);

enum io_mode { IO_ENC, IO_DEC, IO_FREE };
struct io {
    enum io_mode mode;
    struct ldg_buf out;     /* IO_ENC: the record (bounded, IO_BUF_MAX) */
    const uint8_t *p, *end; /* IO_DEC: input */
    struct arena *arena;    /* IO_DEC: allocate here instead of malloc */
    int err;
};

/* Record tags (first byte of every key, by projection). */
#define TAG_PACK 'p'    /* packs:       pack                        */
#define TAG_PERM 'g'    /* permissions: pack \0 group \0 scope      */
#define TAG_MODEL 'm'   /* models:      model                       */
#define TAG_RUNTIME 'r' /* models:      runtime                     */
#define TAG_HOST 'h'    /* models:      "local"                     */
#define TAG_ROUTE 'd'   /* routes:      route                       */
#define TAG_REVAL 'e'   /* routes:      route \0 candidate          */
#define TAG_RSTATS 's'  /* routes:      route                       */
#define TAG_RJOIN 'j'   /* routes:      trace_id \0 span_id          */
#define TAG_PEVAL 'v'   /* promotions:  eval_id                     */
#define TAG_PTARGET 't' /* promotions:  target                      */
#define TAG_PHIST 'h'   /* promotions:  target \0 seq(8 BE)         */
#define TAG_RUN 'u'     /* runs:        run                         */
#define TAG_PLAN 'l'    /* plans:       plan                        */
#define TAG_SNAP 'n'    /* plans:       snapshot                    */
#define TAG_TRIP 'c'    /* plans:       tripcode                    */
#define TAG_MITEM 'i'   /* memory:      item                        */
#define TAG_BPROMO 'b'  /* builds:      seq(8 BE) of build.promoted */
#define TAG_BINPUT 'i'  /* builds:      inputs_digest               */
#define TAG_BBLUE 'w'   /* builds:      seq(8 BE) of a write to Blue */
#define TAG_BLAST 'x'   /* builds:      "last" (the latest promotion) */

struct rtype {
    uint8_t tag;
    enum proj_id proj;
    size_t size;
    void (*io)(struct io *io, void *rec);
    const char *name;
};
const struct rtype *rtype_of(enum proj_id p, uint8_t tag);
/* Index of a record type in 0..RTYPE_COUNT-1. */
#define RTYPE_COUNT 21
int rtype_index(const struct rtype *rt);

enum lifecycle { LC_INSTALLED = 1, LC_ENABLED, LC_DISABLED, LC_REMOVED };
enum tri { TRI_NONE = 0, TRI_OK = 1, TRI_FAIL = 2 };

struct preq {
    char *group, *scope, *tier;
    uint8_t optional;
    uint64_t since_seq; /* decisions count when after this event */
};

struct rec_pack {
    char *name, *version, *manifest_digest, *source;
    uint64_t installed_seq, installed_ts;
    uint8_t lifecycle; /* enum lifecycle */
    uint8_t enabled;   /* cleared by pack.disabled, set by enable/install */
    uint64_t lifecycle_seq;
    char *lifecycle_reason;
    uint8_t validated; /* enum tri, since the last install/upgrade */
    uint64_t validated_seq;
    struct strlist validation_errors;
    uint8_t checked; /* enum tri: latest pack.checked */
    uint64_t checked_seq;
    struct strlist check_failed;
    uint8_t requires_state; /* 0 ok, 1 too large (over PROJ_LIST_MAX) */
    struct preq *perms;
    uint32_t nperms;
    struct strlist routes, models, evals;
    uint32_t upgrades;
    char *upgraded_from;
    uint64_t upgraded_seq;
    uint64_t last_seq;
};

enum perm_state {
    PS_NONE = 0,
    PS_REQUESTED,
    PS_GRANTED,
    PS_DENIED,
    PS_REVOKED
};
struct rec_perm {
    char *pack, *group, *scope, *tier;
    uint8_t state; /* enum perm_state (expired is derived) */
    uint64_t requested_seq, requested_ts;
    uint64_t decided_seq, decided_ts;
    char *by, *reason;
    uint64_t expires_ns; /* 0 = none */
    uint8_t bad_expires; /* expires given but unparseable */
};

enum model_state {
    MS_UNKNOWN = 0,
    MS_AVAILABLE,
    MS_LOADED,
    MS_PARKED,
    MS_OFFLINE,
    MS_REMOVED
};
enum verify_state { VS_NONE = 0, VS_OK, VS_FAILED, VS_MISMATCH };
struct rec_model {
    char *name, *digest, *format, *quant, *runtime, *license;
    char *source_url, *source_sha256;
    uint8_t has_size;
    uint64_t size_bytes;
    struct strlist capabilities;
    uint64_t registered_seq; /* 0 with registered = 0: never registered */
    uint8_t registered;
    uint8_t state; /* enum model_state */
    char *state_reason;
    uint64_t state_seq, state_ts;
    uint8_t verified; /* enum verify_state */
    uint64_t verified_seq;
    char *verified_digest;
};

enum rt_status { RT_UNKNOWN = 0, RT_UP, RT_DEGRADED, RT_DOWN };
struct rec_runtime {
    char *name, *endpoint, *version, *detail;
    uint8_t registered;
    uint64_t registered_seq;
    uint8_t status; /* enum rt_status */
    uint8_t has_latency;
    double latency_ms;
    uint64_t health_seq, health_ts;
};

struct rec_host {
    char *cpu;
    int64_t cores, ram_mb, tier, gpus, vram_total_mb;
    uint64_t profile_seq;
    uint8_t has_profile, has_disk, has_capacity;
    int64_t disk_free_mb;
    uint64_t disk_seq;
    int64_t ram_free_mb, vram_free_mb;
    uint64_t capacity_seq;
};

enum cur_source { CS_DECLARED = 0, CS_PROMOTED, CS_ROLLED_BACK };
struct rec_route {
    char *name, *pack, *declared_model, *eval_suite;
    struct strlist fallbacks;
    uint8_t has_threshold;
    char *thr_metric, *thr_op;
    double thr_value;
    uint8_t declared;
    uint64_t declared_seq;
    char *current_model;
    uint8_t current_source; /* enum cur_source */
    uint64_t current_seq;
    uint8_t fallbacks_truncated;
};

struct metric {
    char *name;
    double v;
};
struct rec_reval {
    char *route, *candidate, *eval_id, *suite;
    char *candidate_digest; /* as the runtime reported it at eval time */
    uint8_t passed;
    int64_t cases_total, cases_passed;
    uint32_t nmetrics;
    struct metric m[PROJ_METRICS_MAX];
    uint8_t has_violations;
    int64_t violations;
    uint64_t seq, ts;
};

/* Latency histogram: 1 ms buckets below 16 ms, then 16 buckets per
 * power of two up to 2^40 ms. */
#define HIST_LINEAR 16
#define HIST_SUB 16
#define HIST_OCTAVES 37
#define HIST_N (HIST_LINEAR + HIST_SUB * HIST_OCTAVES)
struct rec_rstats {
    char *route;
    uint64_t count, fallback, error, refused, unknown;
    uint64_t hist[HIST_N];
    uint64_t last_seq;
    /* routes 3: the models its decisions chose (chosen_model), the first
     * PROJ_DECIDED_MAX in the order first seen */
    struct strlist models;
};
#define PROJ_DECIDED_MAX 8
int hist_bucket(double ms);
double hist_value(int bucket);
/* What the routes projection keeps of one span of a trace to count a
 * model call seen by both the application and the proxy once (routes 3;
 * fold_routes.c, "one call, two witnesses"), keyed by trace and span id. */
enum rjoin_kind {
    RJ_DECISION = 1, /* an app's route.decision span: the call counted */
    RJ_LINK,         /* a client span: its parent */
    RJ_PROXY         /* a proxy's record waiting for its call's span */
};
struct rec_rjoin {
    uint8_t kind;    /* enum rjoin_kind */
    char *parent;    /* RJ_LINK: the span's parent span id */
    char *route;     /* RJ_PROXY: the route its record was counted in */
    uint8_t flags;   /* RJ_PROXY: 1 fallback, 2 error, 4 refused */
    uint32_t bucket; /* RJ_PROXY: its latency's bucket + 1, 0 none */
};
/* Nearest-rank percentile (0 < q <= 1) from the histogram, or -1. */
double hist_percentile(const uint64_t *hist, double q);

struct rec_peval {
    char *eval_id, *target, *candidate, *suite;
    uint8_t passed;
    uint8_t has_pass_rate, has_p50, has_violations;
    double pass_rate, p50_ms;
    int64_t violations;
    uint64_t seq;
};

enum hist_kind { HK_REQUESTED = 1, HK_PROMOTED, HK_REJECTED, HK_ROLLED_BACK };
struct rec_ptarget {
    char *target;
    char *candidate, *eval_id; /* in force, or NULL */
    uint64_t seq;              /* event that put it in force */
    uint8_t source;            /* enum cur_source (promoted/rolled back) */
    uint8_t ungated;
    char *ungated_reason;
    char *prev_candidate, *prev_eval_id;
    uint8_t prev_ungated;
    uint64_t requested, promoted, rejected, rolled_back, ungated_total;
    char *pending_candidate; /* latest promotion.requested not settled */
    char *pending_eval_id;
    uint64_t pending_seq;
};
struct rec_phist {
    char *target;
    uint64_t seq, ts;
    uint8_t kind; /* enum hist_kind */
    char *candidate, *eval_id, *previous, *reason;
    uint8_t ungated;
};

enum run_status { RS_RUNNING = 0, RS_OK, RS_FAILED, RS_ABORTED, RS_UNKNOWN };
struct rec_run {
    char *run, *pack, *intent, *requested_by, *plan_hash, *error;
    uint8_t started, status; /* enum run_status */
    uint64_t started_seq, start_ts, finished_seq, end_ts;
    uint8_t has_duration;
    double duration_ms;
    uint64_t first_seq, last_seq, events;
    uint64_t steps, steps_ok, steps_failed, steps_skipped;
    uint64_t decisions, dec_fallback, dec_error, dec_refused;
    uint64_t policy_allow, policy_deny;
    char *last_step, *first_failed_step, *first_deny_rule;
    uint64_t first_failed_seq, first_deny_seq;
    /* runs 2: an application's trace (an otel.* event, or a decision with
     * a trace_id, linked to it): without run.started it is a "trace" */
    uint8_t traced;
};

/* ---- the control pipeline (issue 34; fold_pipeline.c) ---- */

/* A broken promise: the event that broke it and the rule's name. */
struct pviol {
    uint64_t seq;
    char *rule, *detail;
};
#define PROJ_VIOL_MAX 64 /* violations kept per record (more are counted) */
struct viols {
    struct pviol *v;
    uint32_t n;
    uint64_t total; /* including those past PROJ_VIOL_MAX */
};

enum plan_state {
    PL_NONE = 0,
    PL_IDLE,
    PL_PLAN,
    PL_DEBATE_PLAN,
    PL_SIMULATE,
    PL_VERIFY,
    PL_PROMOTE,
    PL_ABORT
};
enum debate_dec { DD_NONE = 0, DD_ACCEPT, DD_REJECT, DD_ERROR };
/* What a plan or memory item knows of the debates on it: the latest
 * decision, the latest ERROR vote, and the decisions voted in the latest
 * debate (a bit per enum debate_dec). */
struct pdebate {
    uint8_t dec; /* enum debate_dec of the latest debate.decided */
    uint64_t seq;
    char *id;
    uint64_t err_seq; /* an ERROR vote of err_id */
    char *err_id;
    char *votes_id; /* the debate votes_mask is of */
    uint8_t votes_mask;
};
struct rec_plan {
    char *plan, *intent, *plan_hash, *reason;
    uint8_t state; /* enum plan_state */
    uint64_t state_seq, first_seq, first_ts, last_seq, last_ts;
    struct strlist path;   /* states in order (PROJ_LIST_MAX kept) */
    uint64_t change_seq;   /* last PLAN state or step that changed things */
    uint64_t verified_seq; /* passing VERIFY after change_seq, or 0 */
    uint64_t failed_seq;   /* failed VERIFY/SIMULATE awaiting ABORT, or 0 */
    struct pdebate debate;
    uint64_t steps, steps_ok, steps_failed, steps_skipped;
    uint64_t snapshots, tripcodes; /* events of each kind naming the plan */
    uint64_t snaps_restored, trips_refused; /* of those, restores and
                                               refusals */
    uint64_t promoted_seq, aborted_seq;
    struct viols viols;
};
struct rec_snap {
    char *snapshot, *label, *plan, *reason;
    uint64_t taken_seq, taken_ts, restored_seq, restores;
};
struct rec_trip {
    char *code, *plan, *sig, *refused_reason;
    uint64_t uses, consumed, refusals;
    uint64_t used_seq, used_ts; /* the latest tripcode.used */
    int64_t payload_ts;         /* its payload's ts (seconds) */
    uint64_t refused_seq;
    /* a tripcode.used whose signature or ts repeats an earlier use (two
     * verifies that raced): counted here, whatever the command said */
    uint64_t replays, replay_seq;
};
enum mgate { MG_SANITIZE, MG_DEBATE, MG_VALIDATORS, MG_QUARANTINE, MG_COUNT };
enum mstatus { MS_CANDIDATE = 0, MS_ADMITTED, MS_REVOKED, MS_PURGED };
struct rec_mitem {
    char *item, *hash, *provenance; /* provenance: canonical JSON */
    uint8_t status;                 /* enum mstatus */
    uint8_t erased;                 /* its candidate body was erased */
    uint64_t candidate_seq, candidate_ts;
    uint8_t gate[MG_COUNT]; /* enum tri */
    uint64_t gate_seq[MG_COUNT];
    struct pdebate debate;
    uint64_t admitted_seq, revoked_seq, purged_seq;
    char *reason; /* of the latest admit/revoke/purge */
    uint64_t last_seq;
    struct viols viols;
};
struct rec_bpromo {
    uint64_t seq, ts;
    char *artifact, *sbom, *plan, *slot, *inputs;
    uint64_t reverted_seq;
    uint64_t errors; /* error events in the window after it */
    uint64_t first_error_seq;
};
struct rec_binput {
    char *inputs, *first_digest;
    uint64_t first_seq, first_ts, builds, differ;
    char *differ_digest;
    uint64_t differ_seq, differ_ts;
};
struct rec_bblue {
    uint64_t seq, ts;
    char *type, *what, *plan;
};
struct rec_blast {
    uint64_t seq, ts; /* the latest build.promoted */
};
/* The window after a promotion whose errors count against it. */
#define GATE_ERROR_WINDOW_NS (600ull * 1000000000ull)

/* Encodes rec of type rt into a malloc'd buffer. */
int rec_encode(const struct rtype *rt, void *rec, uint8_t **out, size_t *len);
/* Decodes into a new calloc'd record. */
int rec_decode(const struct rtype *rt, const uint8_t *p, size_t len,
               void **out);
/* The same into arena memory when a is non-NULL (never rec_free it). */
int rec_decode_in(const struct rtype *rt, const uint8_t *p, size_t len,
                  struct arena *a, void **out);
void rec_free(const struct rtype *rt, void *rec);

/* -------------------------------------------------------------- state.c -- */

struct pentry {
    const struct rtype *rt;
    uint32_t hash;
    uint32_t klen;
    uint8_t *key; /* tag ‖ key bytes (the db key) */
    void *rec;
    uint8_t dirty, has_old, queued;
    uint8_t in_arena;  /* entry and key live in the arena */
    uint8_t rec_arena; /* rec lives in the arena (read-only until copied) */
    uint8_t old_hash[32];
};
/* qsort's order of struct pentry pointers: by key bytes, a prefix
 * first (the db's order). */
int proj_cmp_entry(const void *a, const void *b);

/* Multiset digest of a projection: the sum mod 2^256 of
 * SHA-256(u32be(klen) ‖ key ‖ value) over its records, and their count. */
struct pdigest {
    uint8_t acc[32];
    uint64_t count;
};

struct pstate {
    struct ldg_txn *t;    /* backing store, or NULL (memory only) */
    int writable;         /* t is a write txn and we may flush */
    int have_db[P_COUNT]; /* the proj.<name> db exists */
    int horizon;          /* t's records are proj.horizon's (ps_new_horizon):
                           * one db, each key after its projection's index */
    ldg_dbi dbi[P_COUNT];
    unsigned mask;   /* projections folded */
    unsigned writes; /* in fold_event: what the event may change (its
                        type's ev_type_writes and the runs link); else 0 */
    struct pentry **slots;
    uint32_t *hashes; /* slot hashes, 0 = empty */
    size_t cap, n;
    struct pentry **dirty;
    size_t ndirty, dcap;
    struct pdigest dig[P_COUNT];
    uint64_t applied; /* events folded: state after the first N */
    uint64_t last_ts; /* ts of event applied-1 */
    int loaded[256];  /* tag fully loaded from the backing store */
    /* Read states: entries of a fully loaded tag in key order (the
     * cursor's order), so listing them needs no sort; per_tag counts the
     * entries of each (projection, tag) in the table. */
    struct pentry **ordered[RTYPE_COUNT];
    size_t nordered[RTYPE_COUNT];
    size_t per_tag[RTYPE_COUNT];
    struct arena arena; /* read states: decoded records live here */
    int err;            /* last failure of ps_get/ps_upd (they return
                         * NULL), e.g. LDG_ECORRUPT; 0 if none */
    struct ldg_ledger *l;
};

int ps_new(struct pstate **out, struct ldg_ledger *l, struct ldg_txn *t,
           int writable, unsigned mask);
/* A pruned ledger keeps the projections' records at its horizon in
 * proj.horizon (docs/format-projections.md): key u8 projection index ‖
 * record key, value the record; keys whose first byte is
 * PROJ_HORIZON_VERIFIED are proj.verified's keys before the horizon. */
#define PROJ_HORIZON_DB "proj.horizon"
/* proj.horizon's key of the signed projection note for the state kept
 * there (FORMAT.md 6.2: the one whose text the horizon record's state
 * digests). 0xfd: no projection's index, nor the verified keys' 0xfe. */
#define PROJ_HORIZON_NOTE "\xfdnote"
#define PROJ_HORIZON_NOTE_LEN 5
#define PROJ_HORIZON_VERIFIED 0xfe
/* Loads the snapshot's records of the projections in ps->mask into a
 * memory-only ps (LDG_ECORRUPT when t has no snapshot). */
int ps_load_snapshot(struct pstate *ps, struct ldg_txn *t);
/* A writable state of every projection backed by the snapshot in the
 * write transaction t (proj.horizon, created if missing): a miss reads
 * the record kept there, ps_flush writes the changed ones back and keeps
 * ps->dig, which the caller sets to the snapshot's digests first. A fold
 * of a prune's events into it holds only the records they touch. */
int ps_new_horizon(struct pstate **out, struct ldg_ledger *l,
                   struct ldg_txn *t);
/* verified.c: replaces the snapshot's proj.verified keys with those of
 * the events before hz. */
int verified_snapshot(struct ldg_txn *t, uint64_t hz);
void ps_free(struct pstate *ps);
/* Key building: tag ‖ parts joined with 0x00; long keys are shortened to
 * a prefix ‖ 0x01 ‖ hex(SHA-256(full))[0:32]. buf needs PROJ_KEY_MAX+1. */
size_t pkey(uint8_t *buf, uint8_t tag, const struct ldg_slice *parts, size_t n);
#define KEY1(buf, tag, a) pkey((buf), (tag), (struct ldg_slice[]){(a)}, 1)
#define KEY2(buf, tag, a, b)                                                   \
    pkey((buf), (tag), (struct ldg_slice[]){(a), (b)}, 2)
#define KEY3(buf, tag, a, b, c)                                                \
    pkey((buf), (tag), (struct ldg_slice[]){(a), (b), (c)}, 3)
/* The record for key (loaded from the backing store if needed), or NULL
 * if there is none or it cannot be read (then ps->err says why). */
void *ps_get(struct pstate *ps, enum proj_id p, const uint8_t *key,
             size_t klen);
/* The record for key, created (zeroed, dirty) if missing; marks dirty. */
void *ps_upd(struct pstate *ps, enum proj_id p, const uint8_t *key,
             size_t klen);
/* Loads every record with this tag from the backing store. */
int ps_load_tag(struct pstate *ps, enum proj_id p, uint8_t tag);
/* Entries with tag (loaded or created), sorted by key. *out malloc'd. */
int ps_list(struct pstate *ps, enum proj_id p, uint8_t tag,
            struct pentry ***out, size_t *n);
/* Writes dirty records to the backing write txn and updates dig. */
int ps_flush(struct pstate *ps);
/* Digest bytes shown to users and signed in notes:
 * SHA-256("ledger/projection/v1" 0x00 ‖ name 0x00 ‖ u32be(version) ‖
 * u64be(count) ‖ acc). */
void pdigest_final(uint8_t out[32], enum proj_id p, const struct pdigest *d);
void pdigest_add(struct pdigest *d, const uint8_t h[32]);
void pdigest_sub(struct pdigest *d, const uint8_t h[32]);
void record_hash(uint8_t out[32], const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen);
/* Computes the digests of all records (memory-only states). */
int ps_digest_all(struct pstate *ps, struct pdigest out[P_COUNT]);
/* A state over a store (ps->t, not proj.horizon) whose records some folds
 * changed in memory: d, the digests of the store's records, becomes that
 * of the store with ps's records in place of its (each one's stored form
 * out, if any, its form in memory in). Reads t; 0 or an error. */
int ps_digest_over(struct pstate *ps, struct pdigest d[P_COUNT]);

/* ----------------------------------------------------------- verified.c -- */

/* Registers proj.verified's applier on l, filling the store first when
 * it is behind the log (ldg_projections_attach). */
int verified_attach(struct ldg_ledger *l);
/* Empties proj.verified in t and fills it from the first size events
 * (ledger rebuild, with the models projection). */
int verified_refill(struct ldg_txn *t, uint64_t size);
/* Compares proj.verified with what the events it covers call for,
 * appending {"projection": "verified", "key", "what", "stored": null,
 * "rebuilt": null} to diffs for each difference. A store never built
 * is none. */
int verified_check(struct ldg_txn *t, json_t *diffs);

/* --------------------------------------------------------------- fold.c -- */

/* A copy of s of at most PROJ_STR_MAX bytes, never cutting a UTF-8
 * sequence (malloc'd; NULL out of memory). */
char *dup_sv(struct ldg_slice s);
/* *dst replaced by dup_sv(s): 0, or LDG_ENOMEM with *dst kept. */
int set_sv(char **dst, struct ldg_slice s);
/* dup_sv of s (n bytes) appended to l: 0 or LDG_ENOMEM. */
int strlist_add(struct strlist *l, const char *s, size_t n);
/* Folds one event into ps (projections in ps->mask). */
int fold_event(struct pstate *ps, const struct penv *e,
               const struct ldg_body_view *b);

/* rec = the record of proj under key, to update; returns from the
 * calling fold on failure (ps->err, else LDG_ENOMEM). */
#define UPD(ps, proj, key, klen)                                               \
    do {                                                                       \
        rec = ps_upd((ps), (proj), (key), (klen));                             \
        if (rec == NULL)                                                       \
            return (ps)->err ? (ps)->err : LDG_ENOMEM;                         \
    } while (0)

/* *dst replaced by a copy of s (NULL: cleared): 0 or LDG_ENOMEM. */
int fold_set_str(char **dst, const char *s);

/* Sets *dst from an optional body string field (cleared when absent). */
int fold_set_field(char **dst, const struct ldg_body_view *b, const char *name);

/* A JSON array of strings into l (non-strings skipped). Returns 1 if it
 * held more than max entries (the rest dropped), 0, or an error. */
int fold_strlist_from_json(struct strlist *l, const json_t *a, size_t max);

/* ---- fold_routes.c: the folds of routes, decisions, evals and
 * promotions, which fold_event calls ---- */

int fold_route_declared(struct pstate *ps, const struct penv *e,
                        const struct ldg_body_view *b);

int fold_span_join(struct pstate *ps, const struct penv *e,
                   const struct ldg_body_view *b);

int fold_decision(struct pstate *ps, const struct penv *e,
                  const struct ldg_body_view *b);

int fold_eval_result(struct pstate *ps, const struct penv *e,
                     const struct ldg_body_view *b);

int fold_promotion(struct pstate *ps, const struct penv *e,
                   const struct ldg_body_view *b);

/* The promotion gate of VOCABULARY.md for promoting cand on target with
 * eval_id, against the state in ps: 1 holds, 0 not (why says which rule
 * failed), < 0 a record could not be read. The same rule fold_event
 * applies to a promotion.promoted to mark it ungated. */
int promotion_gate(struct pstate *ps, const char *target, const char *cand,
                   const char *eval_id, char *why, size_t cap);

/* ------------------------------------------------------------- derive.c -- */

/* Effective state of a pack's permission requirement. */
enum req_state {
    RQ_GRANTED,
    RQ_GRANTED_DEMO,
    RQ_DENIED,
    RQ_REVOKED,
    RQ_EXPIRED,
    RQ_UNDECIDED
};
enum req_state req_effective(struct pstate *ps, const struct rec_pack *p,
                             const struct preq *r, uint64_t now_ns,
                             const struct rec_perm **deciding);

enum route_ready {
    RR_PROVEN,
    RR_DECLARED_NOT_PROVEN,
    RR_FAILING,
    RR_FALLBACK_ACTIVE,
    RR_OFFLINE,
    RR_UNDECLARED
};
const char *route_ready_name(enum route_ready r);
struct route_eval_info {
    enum route_ready ready;
    const struct rec_reval *eval; /* latest eval for the current model */
    const char *serving;          /* model that would serve, or NULL */
    char detail[512];
};
/* detail is always filled when the route is not proven; for a proven
 * route only with want_detail. */
void route_readiness(struct pstate *ps, const struct rec_route *r,
                     struct route_eval_info *out, int want_detail);
/* A model can serve: state available/loaded and its runtime not down. */
int model_usable(struct pstate *ps, const char *model);

enum pack_state {
    PK_REMOVED,
    PK_DISABLED,
    PK_INVALID,
    PK_INSTALLED,
    PK_BLOCKED,
    PK_AWAITING,
    PK_DEMO_ONLY,
    PK_DECLARED_NOT_PROVEN,
    PK_DEGRADED,
    PK_READY
};
const char *pack_state_name(enum pack_state s);
/* State of a pack with its reasons (JSON array of strings, new ref) and
 * partial flag. */
enum pack_state pack_state_of(struct pstate *ps, const struct rec_pack *p,
                              uint64_t now_ns, int *partial, json_t *reasons);

/* The log-derived doctor: {verdict, packs: [...], box: [clauses]}. */
json_t *doctor_state_json(struct pstate *ps, const char *only_pack);

/* Loads what the views and the doctor read. */
int ps_load_for_doctor(struct pstate *ps);

/* -------------------------------------------------------------- views.c -- */

json_t *view_packs(struct pstate *ps, const char *only);
json_t *view_permissions(struct pstate *ps, const char *only_pack);
json_t *view_models(struct pstate *ps);
json_t *view_routes(struct pstate *ps);
json_t *view_promotions(struct pstate *ps);
json_t *view_runs(struct pstate *ps, const char *only);
json_t *sv_json(const char *s);
/* ts_ns as RFC 3339 UTC with nanoseconds (views.c). */
json_t *time_json(uint64_t ts_ns);
/* Canonical bytes of a JSON value: compact, keys sorted. */
char *canonical_json(const json_t *v);

/* ---------------------------------- fold_pipeline.c, views_pipeline.c -- */

const char *plan_state_name(uint8_t s);
const char *mgate_name(int g);
/* Fold one control-pipeline event each, as fold_event calls them:
 * plan.state/plan.step (a failed step also by fold_build_errors),
 * debate.*, and, for the projections in ps->mask that hold them,
 * snapshot.*, tripcode.* (plans), memory.* (memory), build.* (builds). */
int fold_plan(struct pstate *ps, const struct penv *e,
              const struct ldg_body_view *b);
int fold_debate(struct pstate *ps, const struct penv *e,
                const struct ldg_body_view *b);
int fold_snapshot(struct pstate *ps, const struct penv *e,
                  const struct ldg_body_view *b);
int fold_tripcode(struct pstate *ps, const struct penv *e,
                  const struct ldg_body_view *b);
int fold_memory(struct pstate *ps, const struct penv *e,
                const struct ldg_body_view *b);
int fold_build(struct pstate *ps, const struct penv *e,
               const struct ldg_body_view *b);
/* An error event (route.decision outcome error, health.probe red,
 * run.finished or plan.step failed) in the window after the latest
 * build.promoted counts against it. */
int fold_build_errors(struct pstate *ps, const struct penv *e,
                      const struct ldg_body_view *b);
/* flagged: only the rows with violations */
json_t *view_plans(struct pstate *ps, const char *only, int flagged);
json_t *view_snapshots(struct pstate *ps);
json_t *view_tripcodes(struct pstate *ps, const char *only);
json_t *view_memory(struct pstate *ps, const char *only, int flagged);
json_t *view_gates(struct pstate *ps, uint64_t since_ns);

/* ------------------------------------------------------------- engine.c -- */

struct pmeta {
    uint32_t version;
    uint64_t applied;
    struct pdigest dig;
    int present;
};
int meta_read(struct ldg_txn *t, enum proj_id p, struct pmeta *m);

#endif
