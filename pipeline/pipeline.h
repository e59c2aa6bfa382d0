/*
 * pipeline.h — the control pipeline's actions on the ledger (issue 34):
 * checking and recording tripcodes, and purging memory items by hash
 * prefix. What the pipeline did is read from the projections
 * (projections/projections.h: LDG_VIEW_PLANS, _MEMORY, _TRIPCODES,
 * _GATES); this module is the part that writes.
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error, a
 * message in ldg_errmsg(l) (or in err for the functions without a
 * ledger), `json_t **out` owned by the caller.
 */
#ifndef LDG_PIPELINE_H
#define LDG_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"

/* ------------------------------------------------------------ tripcodes -- */

/*
 * A tripcode is a signed recovery code, given as the text
 *
 *     TS|CODE|SIG
 *
 * TS the signing time in decimal seconds since the Unix epoch (no sign,
 * no leading zero, at most 12 digits); CODE one of
 *
 *     RECOVERY:REVERT_SNAPSHOT::<id>    RECOVERY:REIMAGE_TO_GOLDEN
 *     RECOVERY:LOCKDOWN                 RECOVERY:DIAGNOSTIC::<profile>
 *
 * (<id> and <profile> 1..128 of [A-Za-z0-9._-]); SIG the Ed25519
 * signature, 128 lowercase hex digits, by the controller's key over the
 * ASCII bytes "TS|CODE" exactly (no domain prefix, no newline).
 * docs/VOCABULARY.md has a test vector.
 */
#define LDG_TRIPCODE_MAX 512 /* bytes of a whole TS|CODE|SIG text */

/* Checks CODE's grammar: 0, or LDG_EBADINPUT with err naming the problem. */
int ldg_pipeline_code_check(const char *code, char *err, size_t errcap);

/* Writes "TS|CODE|SIG" for code at ts_s signed by k (which must hold its
 * secret) into out (cap >= LDG_TRIPCODE_MAX). LDG_EBADINPUT if code is not
 * a tripcode (err says why), LDG_EKEY for a public-only key. */
int ldg_pipeline_tripcode_sign(const struct ldg_key *k, int64_t ts_s,
                               const char *code, char *out, size_t cap,
                               char *err, size_t errcap);

/* A parsed tripcode text; the strings point into buf. */
struct ldg_tripcode {
    int64_t ts_s;
    const char *code;
    uint8_t sig[64];
    char sig_hex[129];
    char buf[LDG_TRIPCODE_MAX];
};
/* Splits text: LDG_EBADINPUT (err says where) if it is not TS|CODE|SIG
 * with a TS and a SIG of the forms above. CODE is not checked here. */
int ldg_pipeline_tripcode_parse(const char *text, struct ldg_tripcode *out,
                                char *err, size_t errcap);

struct ldg_tripcode_opts {
    uint64_t now_ns;    /* the time to judge by; 0 = the clock */
    int64_t ttl_s;      /* a code older than this is expired; 0 = 300 */
    int64_t cooldown_s; /* a code used less than this ago is refused;
                         * 0 = 900; so is one last used later than
                         * now_ns (a clock stepped back) */
    int64_t skew_s;     /* a TS this far in the future is tolerated; 0 = 60 */
    const char *plan;   /* recorded with the use or refusal; may be NULL */
    const char *key;    /* only this controller key (by name); NULL: any */
};

struct ldg_tripcode_verdict {
    int accepted;                    /* 1 used, 0 refused */
    uint64_t seq;                    /* the tripcode.used / tripcode.refused */
    char reason[512];                /* why refused ("" when accepted) */
    char key_name[LDG_NAME_MAX + 1]; /* the key it verified with, or "" */
    char key_id[LDG_KEYID_LEN + 1];
};

/*
 * Checks a tripcode text against the controller keys enrolled in the log
 * (active keys whose roles include "controller", docs/FORMAT.md "Key
 * roles"), in this order: the code's grammar, the signature, expiry (TS
 * older than ttl_s, or more than skew_s ahead), replay (this very
 * signature was used before, or TS is not after the last accepted use of
 * the code) and cooldown (the code was used less than cooldown_s ago,
 * or its last use is later than the time judged by: the clock was
 * stepped back, the time since the use is unknown, and it counts as
 * inside the cooldown; the reason names both times).
 * Then records the answer: tripcode.used (body: code, ts, sig, key_id,
 * plan) or tripcode.refused (the same and reason), signed by the log key,
 * and fills *v. Returns 0 in both cases (v->accepted says which).
 * LDG_EBADINPUT when text is not a tripcode at all (nothing recorded);
 * LDG_ENOTFOUND when no controller key is enrolled (nothing recorded);
 * other codes from reading or appending. The code's history is read and
 * the answer appended under one lock (DIR/tripcode.lock), so two
 * verifies of one code, from any processes, cannot both accept it; a
 * tripcode.used another writer ingests is not under that lock, and the
 * plans projection shows such a second use as a replay
 * (docs/PROJECTIONS.md).
 */
int ldg_pipeline_tripcode_verify(struct ldg_ledger *l, const char *text,
                                 const struct ldg_tripcode_opts *o,
                                 struct ldg_tripcode_verdict *v);

/* --------------------------------------------------------------- memory -- */

/*
 * Purges the memory items whose hash (their memory.candidate's "hash",
 * lowercase hex) starts with prefix: in one batch, a memory.purged
 * {prefix, reason, items, erased} and a body.erased for every
 * memory.candidate of those items, so the bodies (hash, provenance and
 * whatever else the candidate carried) are gone while the log still
 * verifies and bundles still check. prefix is 1..64 hex digits (either
 * case); it must name one hash (items sharing it are all purged) unless
 * all is set. Items whose candidate body is already erased have no hash
 * and never match.
 *
 * LDG_EINVAL: empty or non-hex prefix (or longer than 64), empty reason
 * (misuse: exit 64); LDG_EBADINPUT: an ambiguous prefix (several hashes
 * match and all is 0; the message lists them); LDG_ENOTFOUND: no item
 * matches. *report (may be NULL) gets
 * {"seq" (of memory.purged), "prefix", "items": [...], "hashes": [...],
 * "erased": [seq, ...]}.
 */
int ldg_pipeline_purge(struct ldg_ledger *l, const char *prefix,
                       const char *reason, int all, json_t **report);

/* ------------------------------------------------------------- timeline -- */

/*
 * A plan's story: {"plan", "state", "path", "violations" (as the plans
 * view gives them), "events": [{"seq", "time", "type", "kind", "summary",
 * "violations": [those broken by this event]}]} with every event whose
 * subject is plan:PLAN (its plan.* and the debate.* on it) or whose body
 * names it in "plan" (snapshots, tripcodes, builds) — kind "plan" — and,
 * kind "context", the events of the snapshots and tripcodes its steps
 * name and the key.added of each controller key a tripcode event names
 * (so a bundle can re-check the signatures), in log order. `export
 * --plan` selects exactly these events.
 * LDG_ENOTFOUND ("PLAN: no such plan") if the plans projection does not
 * know it. Cost: one indexed query over those events.
 */
int ldg_pipeline_timeline(struct ldg_ledger *l, const char *plan, json_t **out);
/* Renders it as text lines; a line starting with '!' is (or is under) an
 * event that broke a rule. *out malloc'd. */
int ldg_pipeline_timeline_text(const json_t *tl, char **out);

/* What `ledger timeline NAME` shows: the timeline of the run NAME
 * (ldg_query_timeline over t), *kind LDG_TIMELINE_RUN, else that of the
 * plan NAME (ldg_pipeline_timeline), *kind LDG_TIMELINE_PLAN. On a pruned
 * ledger, a run that began before the horizon is found with note (cut to
 * cap; "" otherwise) saying which archives its pruned events went into.
 * LDG_ENOTFOUND with ldg_errmsg(l) saying why: the run's events were all
 * pruned (and into which archives), or no run or plan has that name (and,
 * on a pruned ledger, the archive it may be in); LDG_EBADINPUT (a name
 * too long), another code as those two give. *out is the caller's. */
enum { LDG_TIMELINE_RUN = 1, LDG_TIMELINE_PLAN = 2 };
int ldg_pipeline_timeline_find(struct ldg_ledger *l, struct ldg_txn *t,
                               const char *name, json_t **out, int *kind,
                               char *note, size_t cap);

#endif
