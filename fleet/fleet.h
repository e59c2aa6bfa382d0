/*
 * fleet.h — beyond one box: a C2SP tlog-witness (fleet/witness.c, served
 * over HTTP by fleet/witness_http.c, the one libmicrohttpd file).
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error; a
 * message for the last failure on a handle from its _errmsg accessor;
 * `T **out` first means the caller owns the result. docs/FLEET.md has the
 * formats and the protocol.
 */
#ifndef LDG_FLEET_H
#define LDG_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* ------------------------------------------------------------ witness -- */

/*
 * A witness directory (created 0700):
 *   DIR/witness.key       the cosigner's Ed25519 seed, 32 bytes, 0600
 *   DIR/witness.name      its key name (a schema-less URL), one line
 *   DIR/state/<H>         the latest checkpoint cosigned for an origin,
 *                         H = hex SHA-256(origin): the note as received
 *   DIR/refused/<T>-<H>   requests refused for a fork or a bad proof
 *                         (evidence of log misbehaviour), as received
 */
struct ldg_witness;

#define LDG_WITNESS_BODY_MAX 65536 /* bytes in an add-checkpoint request */

/* Creates the witness key and name in dir (which must not hold a key
 * yet). vkey (cap bytes) gets the cosigner verifier key. */
int ldg_witness_init(const char *dir, const char *name, char *vkey, size_t cap,
                     char *err, size_t errcap);
/* Opens a witness directory, trusting the log verifier keys in trust
 * (ntrust of them, "origin+id+key" as `ledger keys verifier` prints; a
 * log's key name is its origin). */
int ldg_witness_open(struct ldg_witness **out, const char *dir,
                     const char *const *trust, size_t ntrust, char *err,
                     size_t errcap);
void ldg_witness_free(struct ldg_witness *w);
/* The cosigner verifier key (borrowed, lives as long as w). */
const char *ldg_witness_vkey(const struct ldg_witness *w);

/* The answer to one request, as c2sp.org/tlog-witness defines it. */
struct ldg_witness_reply {
    int status;        /* HTTP status: 200, 400, 403, 404, 409, 422, 500 */
    const char *ctype; /* Content-Type (static) */
    char *body;        /* malloc'd; the caller frees */
    size_t body_len;
    char why[512]; /* one line for the operator's log: what and why */
};
/*
 * Handles one add-checkpoint request body. Thread-safe: the check against
 * the stored checkpoint and the durable update are one step under a lock
 * (the race the spec describes cannot happen). 200 carries the
 * cosignature line; 409's body is the size the witness holds, "N\n"
 * (text/x.tlog.size), for an old size that is not it, and for a
 * checkpoint of that same size with another root (a fork); 422 a proof
 * that does not verify; 404 an unknown origin; 403 no trusted signature;
 * 400 a malformed body or an old size above the checkpoint's. Returns 0
 * with *reply filled, or LDG_ENOMEM.
 */
int ldg_witness_add_checkpoint(struct ldg_witness *w, const char *body,
                               size_t len, uint64_t now_s,
                               struct ldg_witness_reply *reply);
void ldg_witness_reply_release(struct ldg_witness_reply *reply);

/* Serves POST /add-checkpoint on addr ("127.0.0.1:PORT"; port 0 picks a
 * free one) until *stop becomes non-zero (checked every 100 ms). Once
 * listening, on_ready (may be NULL) is called with the bound port; each
 * request's outcome goes to on_log (may be NULL) as one line. */
struct ldg_witness_serve_options {
    const char *addr;
    volatile int *stop;
    void (*on_ready)(void *ctx, unsigned port);
    void (*on_log)(void *ctx, const char *line);
    void *ctx;
};
int ldg_witness_serve(struct ldg_witness *w,
                      const struct ldg_witness_serve_options *o, char *err,
                      size_t errcap);
/* "libmicrohttpd VERSION", or why it cannot be loaded (it is loaded on
 * first use). Static storage; for --version. */
const char *ldg_witness_lib_version(void);

/* ------------------------------------------------------------ remotes -- */

/* A place a log is published to or read from (fleet/remote.c): an HTTP
 * prefix that takes PUT (WebDAV), s3://BUCKET/PREFIX (SigV4 through
 * http/; endpoint $LEDGER_S3_ENDPOINT, region $AWS_REGION, credentials
 * $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY), or a local directory
 * (file://DIR or a path starting with / or .). */
struct ldg_remote;
int ldg_remote_open(struct ldg_remote **out, const char *url, char *err,
                    size_t errcap);
void ldg_remote_free(struct ldg_remote *r);
/* GET base/rel into *out (malloc'd); LDG_ENOTFOUND on 404. Idempotent
 * requests are retried with backoff by http/. */
int ldg_remote_get(struct ldg_remote *r, const char *rel, uint8_t **out,
                   size_t *len, char *err, size_t errcap);
/* PUT data to base/rel. */
int ldg_remote_put(struct ldg_remote *r, const char *rel, const void *data,
                   size_t len, char *err, size_t errcap);
/* POST body to url (never retried); *status and the response body
 * (malloc'd, may be NULL) for the caller to read. 0 whenever an answer
 * arrived, whatever its status; LDG_ENET/LDG_ETIMEOUT otherwise. */
int ldg_remote_post(const char *url, const char *body, size_t len, long *status,
                    char **resp_body, size_t *resp_len, char *err,
                    size_t errcap);

/* ------------------------------------------------------------ publish -- */

struct ldg_publish_report {
    uint64_t old_size;  /* size completely published before this run */
    uint64_t size;      /* size published now */
    uint64_t files_put; /* files uploaded this run (checkpoint included) */
    uint64_t bytes_put;
};
/*
 * Publishes the log to url as C2SP tlog-tiles (fleet/publish.c): stages
 * the tiles under LEDGER_DIR/fleet/publish-<H>/tiles, then PUTs what is
 * new or grew since the size last published there, bundles and tiles
 * first, the checkpoint last, and records the size only after the
 * checkpoint's PUT. An interrupted run is resumed by the next one from the
 * last complete publish. 0 also when there is nothing new (files_put 0).
 */
int ldg_publish(struct ldg_ledger *l, const char *url,
                struct ldg_publish_report *rep, char *err, size_t errcap);

/* ----------------------------------------- witness submission (outbox) -- */

enum ldg_submit_outcome {
    LDG_SUBMIT_UPTODATE, /* the witness already cosigned this size */
    LDG_SUBMIT_COSIGNED, /* cosigned now; kept in fleet/cosigned/<size> */
    LDG_SUBMIT_QUEUED,   /* unreachable or backing off: in the outbox */
    LDG_SUBMIT_REFUSED   /* the witness refused (a fork or rollback) */
};
enum ldg_submit_flags { LDG_SUBMIT_NOW = 1 }; /* ignore the backoff */
struct ldg_submit_report {
    enum ldg_submit_outcome outcome;
    uint64_t size;     /* the log's size (the checkpoint submitted) */
    uint64_t cosigned; /* the size this witness has cosigned */
    uint64_t attempts; /* failed attempts so far (queued) */
    char what[700];    /* one line for the operator */
};
/*
 * Submits the latest checkpoint to the witness at url (its submission
 * prefix; "/add-checkpoint" is appended) whose cosigner key is wvkey
 * (fleet/submit.c). Store-and-forward: when the witness cannot be reached
 * the size waits in an outbox under LEDGER_DIR/fleet/witness-<H>/ and is
 * retried by later calls with exponential backoff (2 s doubling, at most
 * an hour); the newest checkpoint is sent with a consistency proof from
 * the last cosigned size (a 409 naming another held size is retried once
 * from it). A verified cosignature is kept with the checkpoint in
 * LEDGER_DIR/fleet/cosigned/<size>. Returns 0 for UPTODATE, COSIGNED and
 * QUEUED; LDG_ETAMPER when the witness refuses our history (422, or it
 * holds a size at or above ours), LDG_EBADSIG if its answer does not
 * verify, LDG_EHTTP for other refusals, LDG_EBADINPUT for a wvkey that
 * is not a cosigner key or a url that is not http(s) (nothing queued);
 * report->what says which.
 */
int ldg_witness_submit(struct ldg_ledger *l, const char *url, const char *wvkey,
                       unsigned flags, struct ldg_submit_report *report);
/* The checkpoint of size (0: the newest cosigned) with the cosignatures
 * kept for it; *out malloc'd. LDG_ENOTFOUND if none. */
int ldg_cosigned_get(struct ldg_ledger *l, uint64_t size, char **out,
                     size_t *len);

/* ------------------------------------------------------------- mirror -- */

/* Where a mirror reads a published log from: get fetches the file rel
 * ("checkpoint", "tile/0/000", ...) relative to the log's prefix into
 * *out (malloc'd). LDG_ENOTFOUND if it is not there, another code with a
 * message in err otherwise. */
struct ldg_fetcher {
    int (*get)(void *ctx, const char *rel, uint8_t **out, size_t *len,
               char *err, size_t errcap);
    void *ctx;
};
/* A fetcher over a local directory (dir is borrowed). */
void ldg_fetcher_dir(struct ldg_fetcher *f, const char *dir);
/* A fetcher over a remote (borrowed; one thread). */
void ldg_remote_fetcher(struct ldg_remote *r, struct ldg_fetcher *f);

struct ldg_mirror_report {
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t old_size;      /* the size mirrored before */
    uint64_t size;          /* the published size */
    uint64_t entries_added; /* size - old_size when it succeeded */
    uint64_t tiles_fetched, bundles_fetched, bytes_fetched;
    int epoch;            /* the checkpoint's epoch line was checked */
    uint32_t period, sub; /* ... its epoch of the log key */
};
/*
 * Brings the verified copy in dir (a C2SP tlog-tiles tree plus dir/vkey)
 * up to the published checkpoint. vkey: the log's verifier key, needed the
 * first time and then remembered in dir/vkey (a different one is refused,
 * LDG_EKEY; one that is not a verifier key, or none the first time, is
 * refused before anything is written, LDG_EINVAL). Fetches only the checkpoint
 * and the tiles and bundles that are new or grew. Returns 0 when the copy now
 * holds the published size; LDG_EBADSIG if the checkpoint's signature does not
 * verify; LDG_ETAMPER for a rollback, a fork (err names the sizes and roots), a
 * changed bundle or a tile that disagrees with the entries; fetch errors as the
 * fetcher returns them. On any failure the copy is left as it was.
 *
 * Epoch keys (docs/EPOCHS.md): pins (npins of them, or NULL and 0) are
 * what `ledger keys verifier` names; the log key's anchor among them is
 * remembered in dir/anchor by the first sync that passes with it (a
 * different one later is LDG_EKEY once the mirrored checkpoint is signed
 * under the remembered one). With an anchor, each published checkpoint
 * that carries an epoch line needs it whole in checkpoint.epoch,
 * certified from the anchor and signing the note; its epoch never goes
 * back, and once a mirrored checkpoint was under one, a checkpoint
 * without is refused (LDG_ETAMPER; a fork of two checkpoints both under
 * epoch keys is named an equivocation). A checkpoint.epoch missing or of
 * another checkpoint is read three times in all, 200 ms apart, then
 * LDG_EBUSY. rep->epoch says whether the line was checked, rep->period
 * and rep->sub its epoch.
 */
int ldg_mirror_sync(const char *dir, const char *vkey,
                    const struct ldg_anchor_pin *pins, size_t npins,
                    const struct ldg_fetcher *f, struct ldg_mirror_report *rep,
                    char *err, size_t errcap);

/* --------------------------------------------- the fleet-wide store -- */

struct ldg_ship_report {
    uint64_t from, to; /* events [from, to) shipped this run */
    uint64_t shipped;
    uint64_t batches;
};
/*
 * Ships the log's events into ClickHouse over its HTTP interface
 * (fleet/central.c): url is the server's HTTP endpoint (e.g.
 * http://127.0.0.1:8123/?database=fleet), table (NULL: "ledger_events")
 * is created if missing (docs/FLEET.md has the schema). Resumes after the
 * largest seq the table holds for this log's origin; sends batch events
 * (0: 20,000) per JSONEachRow INSERT, so memory stays one batch's rows.
 * At-least-once: a batch whose answer is lost is sent again by the next
 * run; the table (ReplacingMergeTree ORDER BY (origin, seq)) keeps one row
 * per (origin, seq).
 */
int ldg_ship(struct ldg_ledger *l, const char *url, const char *table,
             size_t batch, struct ldg_ship_report *rep, char *err,
             size_t errcap);

struct ldg_audit_report {
    uint64_t origins;    /* mirrored origins audited */
    uint64_t rows;       /* rows checked */
    uint64_t findings;   /* discrepancies reported */
    uint64_t missing;    /* rows in the log but not in the table */
    uint64_t extra;      /* rows in the table beyond the log */
    uint64_t unmirrored; /* origins in the table without a mirror */
};
/*
 * Audits the central table against verified mirrors (each of mirrors is a
 * `ledger mirror` state directory, or a directory holding them; each
 * mirror's checkpoint is re-verified with its remembered key). Per origin:
 * rows missing, rows whose entry does not hash to the mirrored tile's
 * leaf, rows whose columns or body disagree with the entry and its body
 * commitment, rows beyond the mirrored log, and origins with no mirror.
 * Each discrepancy is one line to finding(ctx, line). Returns 0 when there
 * is none, LDG_ETAMPER when there is any, other codes for I/O.
 */
int ldg_audit_central(const char *url, const char *table,
                      const char *const *mirrors, size_t nmirrors,
                      void (*finding)(void *ctx, const char *line), void *ctx,
                      struct ldg_audit_report *rep, char *err, size_t errcap);

#endif
