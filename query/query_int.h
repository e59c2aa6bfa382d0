/*
 * query_int.h — shared between the files of query/, not public.
 */
#ifndef LDG_QUERY_INT_H
#define LDG_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"
#include "ledger/module.h"
#include "util/util.h"

/* How every view marks a standing verification finding's event
 * (finding.c, render.c): "failed: WHAT". */
#define Q_FINDING_MARK "failed: %s"
#define Q_VALUE_MAX 500   /* bytes in one term value (LMDB keys <= 511) */
#define Q_SOURCES_MAX 256 /* index ranges merged by one iterator */
#define Q_GREP_MAX 64     /* -g patterns in one query */

enum qfield {
    /* envelope fields first: they are tested before anything that needs
     * the body */
    QF_SEQ,
    QF_RUN,
    QF_TYPE,
    QF_SUBJECT,
    QF_ACTOR,
    /* need the body (pack/model/route only when the subject differs) */
    QF_PACK,
    QF_MODEL,
    QF_ROUTE,
    QF_BODY
};

/* A byte string that must occur in a stored body record (uncompressed)
 * for a body predicate to hold. */
struct needle {
    uint8_t *p;
    size_t n;
};

struct qvalue {
    char *s;            /* as given */
    int glob;           /* contains * ? [ (type, subject) */
    size_t prefix;      /* literal prefix length before the first glob char */
    uint64_t lo, hi;    /* QF_SEQ range, inclusive */
    int is_int, is_num; /* VALUE reads as an integer / a number */
    int64_t ival;
    double dval;
    struct needle *vneedles; /* msgpack encodings the value may take */
    size_t nvneedles;
};

struct qpred {
    enum qfield f;
    int neg;     /* FIELD!=VALUE: holds when FIELD=VALUE does not (see
                  * docs/QUERY.md); never chooses a source */
    char *name;  /* QF_BODY: the field path as given ("a.b") */
    char **path; /* QF_BODY: path split at '.' */
    size_t npath;
    const char *const *fields; /* pack/model/route: body fields to test */
    struct qvalue *v;
    size_t nv;
    /* prefilter: one of the name needles and one of the value needles of
     * some value must occur (only for uncompressed records) */
    struct needle *nneedles;
    size_t nnneedles;
};

struct qgroup {
    struct qpred *p;
    size_t n;
    int needs_body; /* some predicate may need the body */
};

struct ldg_query {
    struct qgroup *g;
    size_t ng;
    uint64_t since_ns, until_ns; /* 0 / UINT64_MAX when open */
    uint64_t seq_lo, seq_hi;     /* ldg_query_restrict */
    void **re;                   /* pcre2_code *[nre]: -g patterns, OR */
    void **md;                   /* pcre2_match_data *[nre] */
    size_t nre;
    struct ldg_buf notes; /* ldg_query_notes */
    /* LDG_QUERY_KEEP_HINT: a window's iterator gave the scan hints, which
     * stay until ldg_query_release_hint */
    int hinted;
};

/* match.c */
/* The body context of one event, loaded lazily. */
/* What the byte prefilter needs to look into a compressed record: the
 * store's dictionaries, its body limit, and scratch to inflate into (one
 * per thread that prefilters). */
struct q_pre {
    const struct ldg_dicts *d;
    size_t max;
    struct ldg_inflate s;
    struct ldg_buf grep; /* the text -g patterns are matched against */
};
void q_pre_init(struct q_pre *x, struct ldg_txn *t);
void q_pre_release(struct q_pre *x);

struct qbody {
    struct ldg_txn *t;
    uint64_t seq;
    struct ldg_reader *rd;
    struct q_pre *pre; /* the iterator's (NULL: none, no prefilter) */
    int have_raw;      /* 1 loaded, -1 absent (erased) */
    const uint8_t *raw;
    size_t raw_len;
    int have_json; /* 1 loaded, -1 erased */
    json_t *json;
};
void qbody_init(struct qbody *b, struct ldg_txn *t, struct ldg_reader *rd,
                uint64_t seq);
void qbody_release(struct qbody *b);
/* Does the event satisfy group g? 1, 0, or a negative error. actor_ids
 * holds the resolved key ids for each QF_ACTOR predicate of the group, in
 * order (NULL-terminated lists). */
int q_group_match(const struct qgroup *g, const struct ldg_event *ev,
                  struct qbody *b, char *const *const *actor_ids);
/* Does the raw record of pred p possibly hold? (byte prefilter; a
 * compressed record is inflated into x's scratch first) */
int q_prefilter(const struct qpred *p, struct q_pre *x, const uint8_t *rec,
                size_t len);
int q_value_match(const json_t *v, const struct qvalue *qv);
int q_str_match(const struct qvalue *qv, const char *s);
int q_grep_compile(struct ldg_query *q, const char *pattern, char *err,
                   size_t errcap);
void q_grep_free(struct ldg_query *q);
/* grep: 1 match, 0 no, <0 error */
int q_grep(const struct ldg_query *q, const struct ldg_event *ev,
           struct qbody *b, const char *actor_name);

/* iter.c: the stored body record of the event the iterator returned
 * last (looked up once, through a cursor that follows the scan): 0 with
 * *rec (valid until the transaction ends), LDG_EERASED, or an error. */
int q_iter_body_record(struct ldg_query_iter *it, const uint8_t **rec,
                       size_t *len);
struct ldg_txn *q_iter_txn(const struct ldg_query_iter *it);
uint64_t q_iter_examined(const struct ldg_query_iter *it);

/* render.c: JSON text into util's buffer (struct ldg_buf): v with
 * jansson's encoder. */
void q_json_value(struct ldg_buf *b, const json_t *v, size_t flags);

/* render.c: -o json from a stored body record, for one thread's use. */
struct q_jsonstate {
    long long utc_sec; /* "YYYY-MM-DDTHH:MM:SS" of utc_sec; -1 none */
    char utc_base[32];
};
/* Appends the json line of ev (actor name `name`, "" if none) with the
 * body from its stored record (rec NULL: erased), then extra (may be
 * NULL: ,"model_at":{..} from q_model_at_text). Touches nothing but its
 * arguments: worker threads call it on events of the caller's snapshot. */
int q_render_json_rec(struct ldg_buf *b, struct q_jsonstate *js, unsigned flags,
                      uint32_t fields, const struct ldg_event *ev,
                      const char *name, const uint8_t *rec, size_t rec_len,
                      size_t body_max, const struct ldg_dicts *d,
                      const char *extra);
/* The fields that need the body record at hand: the body, and model_at
 * (whose model is named in the body). */
#define Q_FIELDS_REC                                                           \
    ((UINT32_C(1) << LDG_QF_BODY) | (UINT32_C(1) << LDG_QF_MODEL_AT))
/* A renderer's format, flags, and the name of key id (cached in r; the
 * pointer is valid until the next call on r). */
enum ldg_query_format q_render_fmt(const struct ldg_query_render *r);
/* The renderer's standing finding (ldg_query_render_set_finding): its seq
 * (UINT64_MAX: none) and *what, "failed: ..." (borrowed). */
uint64_t q_render_finding(const struct ldg_query_render *r, const char **what);
/* Adds ,"verify":what to the json line [start, b->len) ending in "}\n". */
void q_json_mark_finding(struct ldg_buf *b, size_t start, const char *what);
unsigned q_render_flags(const struct ldg_query_render *r);
uint32_t q_render_fields(const struct ldg_query_render *r);
/* iter.c: events from it have ev->leaf zero from here on, unread (for a
 * stream that shows no leaf hash and no cursor) */
void q_iter_skip_leaf(struct ldg_query_iter *it);
/* iter.c: events from it have a derived claim digest zero from here on,
 * not made (ldg_reader_want_digest): the stream's workers make it */
void q_iter_skip_digest(struct ldg_query_iter *it);
/* Key names by id, cached (names never change): at most 256; the
 * owner frees v. */
struct q_keyname {
    char id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
};
struct q_names {
    struct q_keyname *v;
    size_t n;
};
/* render.c: the name of key id in t, "" if it has none (or the cache is
 * full); valid while c lives. */
const char *q_key_name(struct q_names *c, struct ldg_txn *t, const char *id);
const char *q_render_key_name(struct ldg_query_render *r, struct ldg_txn *t,
                              const char *id);
struct q_modelcache;
struct q_modelcache **q_render_modelcache(struct ldg_query_render *r);
/* stream.c's ring of batches, kept in the renderer between calls of
 * ldg_query_stream (NULL until the first needs it); freed with it. */
struct q_stream;
struct q_stream **q_render_stream(struct ldg_query_render *r);
/* iter.c: a forward bodies scan of at least this many events has a
 * thread prefilter its second half (tests lower it) */
extern uint64_t q_iter_prescan_min;
extern size_t q_iter_prescan_cap; /* candidates it keeps at most */
/* iter.c: 0 keeps body.F=V off the body index (tests compare the scan) */
extern int q_iter_body_index;
void q_stream_free(struct q_stream *s);

/* model_at.c: per-snapshot cache of models' registrations and
 * verifications. *c may be NULL (created on first use) and is replaced
 * when t differs from the transaction it was made for (unless detached
 * and t sees the same snapshot). */
struct q_modelcache;
/* ,"model_at":{...} for an event about a model (ldg_query_model_of),
 * malloc'd into *out; *out NULL for other events. The model's name is
 * read from body if at hand (the decoded body), else from rec (the stored
 * record, rec_len bytes; NULL if not at hand), else from the log. */
int q_model_at_text(struct q_modelcache **mc, struct ldg_txn *t,
                    const struct ldg_event *ev, const json_t *body,
                    const uint8_t *rec, size_t rec_len, char **out);
/* A rendered ,"model_at":{..} shared between the cache and the events it
 * was rendered for. Only the thread that owns the cache takes and drops
 * references (q_model_at_ref, q_mtext_drop); other threads may read s
 * while a reference they were handed is held. */
struct q_mtext {
    unsigned refs;
    char s[];
};
void q_mtext_drop(struct q_mtext *x);
/* As q_model_at_text, with *out a reference to the text (NULL for an
 * event about no model) instead of a copy: the events of a scan that name
 * a model in the same state share one text, and a scan's next event in
 * the seq range its answer holds for costs no lookup (the stream path). */
int q_model_at_ref(struct q_modelcache **mc, struct ldg_txn *t,
                   const struct ldg_event *ev, const json_t *body,
                   const uint8_t *rec, size_t rec_len, struct q_mtext **out);
int q_modelcache_lookup(struct q_modelcache **c, struct ldg_txn *t,
                        const char *model, uint64_t seq,
                        struct ldg_model_at *out);
/* The same as the text q_model_at_ref gives, for model at seq: the last
 * rendering of each cached model is kept and reused while its answer
 * stays the same. */
int q_modelcache_text(struct q_modelcache **c, struct ldg_txn *t,
                      const char *model, uint64_t seq, struct q_mtext **out);
/* The body field that names the model an event of this type is about
 * (ldg_query_model_of), or NULL. */
const char *q_model_field(const char *type);
void q_modelcache_free(struct q_modelcache *c);
/* Lets go of c's transaction (its cursors) when the caller is about to
 * end it, keeping what was read: a later call with a transaction of the
 * same snapshot (ldg_txn_snapshot) goes on with it, any other starts
 * again. ldg_query_stream calls it as it returns, so a renderer may
 * outlive the transaction it rendered in. */
void q_modelcache_detach(struct q_modelcache *c);

#endif
