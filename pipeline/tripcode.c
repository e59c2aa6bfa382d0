/*
 * tripcode.c — signed recovery codes: their text, signing, and the check
 * `ledger tripcode verify` makes before recording a use or a refusal.
 *
 * The text and what is signed are in pipeline.h and docs/VOCABULARY.md.
 * The signature is the core's plain Ed25519 (ldg_sig_verify_plain): this
 * file never touches libsodium. What was used before (for replay and
 * cooldown) is read from the plans projection's tripcode records, which
 * fold every tripcode.used in the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "util/util.h"
#include "ledger/module.h"

#define DEF_TTL_S 300
#define DEF_COOLDOWN_S 900
#define DEF_SKEW_S 60

static int
name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
ldg_pipeline_code_check(const char *code, char *err, size_t errcap)
{
    static const char *const plain[] = {"RECOVERY:REIMAGE_TO_GOLDEN",
                                        "RECOVERY:LOCKDOWN"};
    static const char *const arg[] = {"RECOVERY:REVERT_SNAPSHOT::",
                                      "RECOVERY:DIAGNOSTIC::"};
    if (code == NULL)
        return LDG_EINVAL;
    for (size_t i = 0; i < 2; i++)
        if (strcmp(code, plain[i]) == 0)
            return 0;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(arg[i]);
        if (strncmp(code, arg[i], n) != 0)
            continue;
        if (name_ok(code + n))
            return 0;
        snprintf(err, errcap,
                 "tripcode '%.*s': the part after '%s' must be 1..128 of "
                 "[A-Za-z0-9._-]",
                 ldg_utf8_cut(code, 200), code, arg[i]);
        return LDG_EBADINPUT;
    }
    snprintf(err, errcap,
             "'%.*s' is not a tripcode (RECOVERY:REVERT_SNAPSHOT::<id>, "
             "RECOVERY:REIMAGE_TO_GOLDEN, RECOVERY:LOCKDOWN or "
             "RECOVERY:DIAGNOSTIC::<profile>)",
             ldg_utf8_cut(code, 200), code);
    return LDG_EBADINPUT;
}

int
ldg_pipeline_tripcode_sign(const struct ldg_key *k, int64_t ts_s,
                           const char *code, char *out, size_t cap, char *err,
                           size_t errcap)
{
    char msg[LDG_TRIPCODE_MAX], hex[129];
    uint8_t sig[64];
    int n, rc;

    if (k == NULL || code == NULL || out == NULL || ts_s < 0 ||
        ts_s > 999999999999LL)
        return LDG_EINVAL;
    if ((rc = ldg_pipeline_code_check(code, err, errcap)) < 0)
        return rc;
    n = snprintf(msg, sizeof msg, "%lld|%s", (long long)ts_s, code);
    if (n < 0 || (size_t)n + 130 > sizeof msg)
        return LDG_ETOOBIG;
    if ((rc = ldg_key_sign_plain(k, msg, (size_t)n, sig)) < 0) {
        snprintf(err, errcap, "key %s holds no secret to sign with", k->name);
        return rc;
    }
    ldg_hex(hex, sig, 64);
    n = snprintf(out, cap, "%s|%s", msg, hex);
    return n >= 0 && (size_t)n < cap ? 0 : LDG_ETOOBIG;
}

int
ldg_pipeline_tripcode_parse(const char *text, struct ldg_tripcode *t, char *err,
                            size_t errcap)
{
    char *first, *last;
    size_t n;

    if (text == NULL || t == NULL)
        return LDG_EINVAL;
    memset(t, 0, sizeof *t);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--; /* a tripcode read from a file keeps its newline */
    if (n >= sizeof t->buf) {
        snprintf(err, errcap, "tripcode longer than %d bytes",
                 LDG_TRIPCODE_MAX - 1);
        return LDG_EBADINPUT;
    }
    memcpy(t->buf, text, n);
    t->buf[n] = '\0';
    if (!ldg_json_text_ok(t->buf)) { /* recorded as JSON, refused or not */
        snprintf(err, errcap, "tripcode is not UTF-8 text");
        return LDG_EBADINPUT;
    }
    first = strchr(t->buf, '|');
    last = strrchr(t->buf, '|');
    if (first == NULL || first == last) {
        snprintf(err, errcap, "tripcode is not TS|CODE|SIG (two '|' needed)");
        return LDG_EBADINPUT;
    }
    *first = '\0';
    *last = '\0';
    n = strlen(t->buf);
    if (n == 0 || n > 12 || strspn(t->buf, "0123456789") != n ||
        (t->buf[0] == '0' && n > 1)) {
        snprintf(err, errcap,
                 "tripcode TS '%.*s' is not seconds since the epoch "
                 "(1..12 digits, no leading zero)",
                 ldg_utf8_cut(t->buf, 40), t->buf);
        return LDG_EBADINPUT;
    }
    t->ts_s = strtoll(t->buf, NULL, 10);
    t->code = first + 1;
    if (*t->code == '\0') {
        snprintf(err, errcap, "tripcode has an empty CODE");
        return LDG_EBADINPUT;
    }
    if (strlen(last + 1) != 128 ||
        strspn(last + 1, "0123456789abcdef") != 128 ||
        ldg_unhex(t->sig, 64, last + 1) < 0) {
        snprintf(err, errcap,
                 "tripcode SIG is not 128 lowercase hex digits (an Ed25519 "
                 "signature)");
        return LDG_EBADINPUT;
    }
    memcpy(t->sig_hex, last + 1, 129);
    return 0;
}

/* Does a comma-separated role list hold "controller"? */
static int
is_controller(const char *roles)
{
    const char *p = roles;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        if (n == 10 && strncmp(p, "controller", 10) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

/* Which controller key signed t: 1 (name, id filled), 0 none, < 0. */
static int
find_signer(struct ldg_ledger *l, const struct ldg_tripcode *t,
            const char *only, struct ldg_tripcode_verdict *v, int *nkeys)
{
    struct ldg_keyinfo *k = NULL;
    char msg[LDG_TRIPCODE_MAX];
    size_t n = 0;
    int rc, len, hit = 0;

    *nkeys = 0;
    if ((rc = ldg_keys_list(l, &k, &n)) < 0)
        return rc;
    len = snprintf(msg, sizeof msg, "%lld|%s", (long long)t->ts_s, t->code);
    for (size_t i = 0; i < n && !hit; i++) {
        if (k[i].revoked_seq != UINT64_MAX || !is_controller(k[i].roles) ||
            (only != NULL && strcmp(only, k[i].name) != 0))
            continue;
        (*nkeys)++;
        if (ldg_sig_verify_plain(k[i].pub, msg, (size_t)len, t->sig) == 0) {
            snprintf(v->key_name, sizeof v->key_name, "%s", k[i].name);
            snprintf(v->key_id, sizeof v->key_id, "%s", k[i].key_id);
            hit = 1;
        }
    }
    free(k);
    return hit;
}

/* The plans projection's record of code (NULL if never seen). */
static int
code_record(struct ldg_ledger *l, const char *code, json_t **out)
{
    struct ldg_view_opts o;
    json_t *rows = NULL;
    int rc;
    memset(&o, 0, sizeof o);
    o.filter = code;
    *out = NULL;
    rc = ldg_projections_view(l, LDG_VIEW_TRIPCODES, &o, &rows);
    if (rc == LDG_ENOTFOUND) {
        ldg_set_errmsg(l, "%s", "");
        return 0;
    }
    if (rc < 0)
        return rc;
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

static uint64_t
jseq(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? strtoull(s, NULL, 10) : 0;
}

/* Replay, cooldown: the reason to refuse, or "" (rec may be NULL). */
static void
judge_history(const json_t *rec, const struct ldg_tripcode *t, uint64_t now,
              int64_t cooldown_s, char *why, size_t cap)
{
    const char *sig = json_string_value(json_object_get(rec, "sig"));
    uint64_t used_seq = jseq(rec, "used_seq");
    uint64_t used_ns = 0;
    int64_t last_ts;

    why[0] = '\0';
    if (rec == NULL || used_seq == 0)
        return;
    last_ts = (int64_t)json_integer_value(json_object_get(rec, "payload_ts"));
    if (sig != NULL && strcmp(sig, t->sig_hex) == 0) {
        snprintf(why, cap, "replayed: this tripcode was used at seq %llu",
                 (unsigned long long)used_seq);
        return;
    }
    if (t->ts_s <= last_ts) {
        snprintf(why, cap,
                 "replayed: signed at %lld, not after the use at seq %llu "
                 "(signed at %lld)",
                 (long long)t->ts_s, (unsigned long long)used_seq,
                 (long long)last_ts);
        return;
    }
    used_ns = jseq(rec, "used_ns");
    if (used_ns != 0 && now < used_ns) {
        /* The clock reads earlier than the last use: it was stepped back
         * (NTP at boot, a wrong RTC, someone setting it), so how long ago
         * that use was is unknown. Skipping the cooldown would let a
         * stepped clock undo it; count it as inside instead, until the
         * clock passes the use and its cooldown. */
        /* (UTC and exact: the reason is stored in the event, read
         * later and elsewhere, not only by a human here now) */
        char at[LDG_TIME_NS_LEN], last[LDG_TIME_NS_LEN];
        uint64_t back_ms = (used_ns - now + 999999ull) / 1000000ull;
        snprintf(why, cap,
                 "inside its cooldown: the clock reads %s, %llu.%03llu s "
                 "earlier than the last use of %s at seq %llu (%s), so "
                 "the time since that use is unknown (cooldown %lld s; "
                 "check the clock)",
                 ldg_time_rfc3339_ns(at, sizeof at, now),
                 (unsigned long long)(back_ms / 1000),
                 (unsigned long long)(back_ms % 1000), t->code,
                 (unsigned long long)used_seq,
                 ldg_time_rfc3339_ns(last, sizeof last, used_ns),
                 (long long)cooldown_s);
        return;
    }
    if (used_ns != 0 && (now - used_ns) / 1000000000ull < (uint64_t)cooldown_s)
        snprintf(why, cap,
                 "inside its cooldown: %s was used at seq %llu, %llu s ago "
                 "(cooldown %lld s)",
                 t->code, (unsigned long long)used_seq,
                 (unsigned long long)((now - used_ns) / 1000000000ull),
                 (long long)cooldown_s);
}

/* An exclusive lock on DIR/tripcode.lock (made 0600 when missing), held
 * by the returned descriptor until it is closed; every `tripcode verify`
 * of the ledger, from any process, takes it before reading a code's
 * history. @return the descriptor or LDG_EIO (the message on l). */
static int
lock_uses(struct ldg_ledger *l)
{
    char path[4096];
    int fd;

    if ((size_t)snprintf(path, sizeof path, "%s/tripcode.lock", ldg_dir(l)) >=
        sizeof path) {
        ldg_set_errmsg(l, "%s", "ledger directory path too long");
        return LDG_EIO;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ldg_set_errmsg(l, "cannot open %s: %s", path, strerror(errno));
        return LDG_EIO;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            ldg_set_errmsg(l, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return LDG_EIO;
        }
    }
    return fd;
}

static int
record(struct ldg_ledger *l, const struct ldg_tripcode *t,
       const struct ldg_tripcode_opts *o, struct ldg_tripcode_verdict *v)
{
    struct ldg_event_in in;
    json_t *body;
    int rc;

    body = json_pack("{s:s, s:I, s:s}", "code", t->code, "ts",
                     (json_int_t)t->ts_s, "sig", t->sig_hex);
    if (body == NULL)
        return LDG_ENOMEM;
    if (v->key_id[0])
        json_object_set_new(body, "key_id", json_string(v->key_id));
    if (o->plan != NULL)
        json_object_set_new(body, "plan", json_string(o->plan));
    if (!v->accepted)
        json_object_set_new(body, "reason", json_string(v->reason));
    memset(&in, 0, sizeof in);
    in.type = v->accepted ? LDG_EV_TRIPCODE_USED : LDG_EV_TRIPCODE_REFUSED;
    in.body = body;
    rc = ldg_append(l, &in, &v->seq);
    json_decref(body);
    return rc;
}

int
ldg_pipeline_tripcode_verify(struct ldg_ledger *l, const char *text,
                             const struct ldg_tripcode_opts *opts,
                             struct ldg_tripcode_verdict *v)
{
    struct ldg_tripcode_opts o;
    struct ldg_tripcode t;
    json_t *rec = NULL;
    char err[512];
    uint64_t now;
    int rc, nkeys = 0, lock_fd = -1;

    if (l == NULL || text == NULL || v == NULL)
        return LDG_EINVAL;
    memset(v, 0, sizeof *v);
    memset(&o, 0, sizeof o);
    if (opts != NULL)
        o = *opts;
    if (o.ttl_s <= 0)
        o.ttl_s = DEF_TTL_S;
    if (o.cooldown_s <= 0)
        o.cooldown_s = DEF_COOLDOWN_S;
    if (o.skew_s <= 0)
        o.skew_s = DEF_SKEW_S;
    now = o.now_ns ? o.now_ns : ldg_now_wall_ns();
    if ((rc = ldg_pipeline_tripcode_parse(text, &t, err, sizeof err)) < 0) {
        ldg_set_errmsg(l, "%s", err);
        return rc;
    }
    if (ldg_pipeline_code_check(t.code, err, sizeof err) < 0) {
        snprintf(v->reason, sizeof v->reason, "%s", err);
        goto decided;
    }
    if ((rc = find_signer(l, &t, o.key, v, &nkeys)) < 0)
        return rc;
    if (nkeys == 0) {
        if (o.key != NULL)
            ldg_set_errmsg(
                l,
                "no active controller key named %s (`" LDG_CMD_KEYS_LIST
                "` shows the keys and their roles)",
                o.key);
        else
            ldg_set_errmsg(
                l,
                "no controller key is enrolled: `" LDG_CMD_KEYS_ADD_CONTROLLER
                "` "
                "enrols the controller's public key");
        return LDG_ENOTFOUND;
    }
    if (rc == 0) {
        snprintf(v->reason, sizeof v->reason,
                 "forged: the signature does not verify with %s",
                 o.key ? "that controller key" : "any enrolled controller key");
        goto decided;
    }
    if (t.ts_s > 0 &&
        (uint64_t)t.ts_s > now / 1000000000ull + (uint64_t)o.skew_s) {
        snprintf(v->reason, sizeof v->reason,
                 "not yet valid: signed at %lld, %lld s in the future",
                 (long long)t.ts_s,
                 (long long)((uint64_t)t.ts_s - now / 1000000000ull));
        goto decided;
    }
    if (now / 1000000000ull > (uint64_t)t.ts_s + (uint64_t)o.ttl_s) {
        snprintf(v->reason, sizeof v->reason,
                 "expired: signed at %lld, %llu s ago (valid for %lld s)",
                 (long long)t.ts_s,
                 (unsigned long long)(now / 1000000000ull - (uint64_t)t.ts_s),
                 (long long)o.ttl_s);
        goto decided;
    }
    /* The history is read and the use recorded under one lock, so two
     * verifies of one code cannot both see it unused and both accept it. */
    if ((lock_fd = lock_uses(l)) < 0)
        return lock_fd;
    if ((rc = code_record(l, t.code, &rec)) < 0)
        goto out;
    judge_history(rec, &t, now, o.cooldown_s, v->reason, sizeof v->reason);
    json_decref(rec);
    if (v->reason[0] == '\0')
        v->accepted = 1;
decided:
    rc = record(l, &t, &o, v);
out:
    if (lock_fd >= 0)
        close(lock_fd); /* releases the lock */
    return rc;
}
