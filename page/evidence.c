/*
 * evidence.c — the page's evidence box (page.h): what the events shown
 * rest on, from the ledger (its checkpoint, its log key, what `ledger
 * verify` last found) or from a bundle just verified.
 */
#include <stdarg.h>
#include <stdio.h>

#include "page/page.h"
#include "util/util.h"

static json_t *
evidence_new(const char *status)
{
    return json_pack("{s:s, s:[]}", "status", status, "lines");
}

static void add_line(json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
add_line(json_t *ev, const char *fmt, ...)
{
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    ldg_utf8_trim(s); /* a name cut mid-character: the line is kept */
    json_array_append_new(json_object_get(ev, "lines"), json_string(s));
}

/* What `ledger verify` last found, as a line of the box. */
static void
verify_line(json_t *ev, int have, const struct ldg_verify_state *vs,
            uint64_t size)
{
    char when[64];
    if (!have) {
        add_line(ev, "What `" LDG_CMD_VERIFY "` last found cannot be read.");
    } else if (vs->finding) {
        add_line(ev,
                 "A verification FAILED and that finding stands: event %llu: "
                 "%s. Do not trust this page until `" LDG_CMD_VERIFY
                 "` passes.",
                 (unsigned long long)vs->finding_seq, vs->finding_what);
    } else if (vs->verified_size == 0) {
        add_line(ev,
                 "`" LDG_CMD_VERIFY "` has not checked this log yet: run it "
                 "to re-check every signature, the chain and the tree.");
    } else {
        if (vs->full_ts_ns)
            ldg_time_when(when, sizeof when, vs->full_ts_ns);
        add_line(ev,
                 "`" LDG_CMD_VERIFY
                 "` has checked events 0 to %llu%s%s%s; %llu "
                 "appended since are not yet verified.",
                 (unsigned long long)(vs->verified_size - 1),
                 vs->full_ts_ns ? " (last full verification " : "",
                 vs->full_ts_ns ? when : "", vs->full_ts_ns ? ")" : "",
                 (unsigned long long)(size > vs->verified_size
                                          ? size - vs->verified_size
                                          : 0));
    }
}

int
ldg_page_evidence_ledger(struct ldg_txn *t, const char *flag, const char *name,
                         json_t **out)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_verify_state vs;
    uint64_t size = 0;
    char vkey[512] = "?";
    int have;
    json_t *ev;

    if (out == NULL || l == NULL || flag == NULL || name == NULL)
        return LDG_EINVAL;
    have = ldg_verify_state(l, &vs) == 0;
    ldg_txn_size(t, &size);
    ldg_verifier_key(l, vkey, sizeof vkey);
    ev = evidence_new(!have || vs.finding        ? "fail"
                      : vs.verified_size >= size ? "ok"
                                                 : "warn");
    if (ev == NULL)
        return LDG_ENOMEM;
    add_line(ev,
             "From the ledger %s (origin %s), the box's own log: its newest "
             "checkpoint covers events 0 to %llu and is signed by the log "
             "key %s.",
             ldg_dir(l), ldg_origin(l),
             (unsigned long long)(size ? size - 1 : 0), vkey);
    verify_line(ev, have, &vs, size);
    add_line(ev,
             "To prove the events to someone else: `" LDG_CMD_EXPORT " %s %s` "
             "writes a bundle that `" LDG_CMD_VERIFY_BUNDLE "` checks offline.",
             flag, name);
    *out = ev;
    return 0;
}

int
ldg_page_evidence_bundle(const char *file, const char *kind, size_t events,
                         uint64_t checkpoint_size, const char *origin,
                         int insecure, int say_key, json_t **out)
{
    json_t *ev;
    if (out == NULL || file == NULL || origin == NULL)
        return LDG_EINVAL;
    if ((ev = evidence_new(insecure ? "warn" : "ok")) == NULL)
        return LDG_ENOMEM;
    add_line(ev,
             "Verified just now by this program, as `" LDG_CMD_VERIFY_BUNDLE
             " %s` does: the %s's %zu events are proven against its "
             "checkpoint of size %llu of the log %s%s%s.",
             file, kind != NULL ? kind : "bundle", events,
             (unsigned long long)checkpoint_size, origin,
             !say_key   ? ""
             : insecure ? ", signed by the key the bundle carries (not "
                          "checked against a trusted "
                          "key: " LDG_OPT_INSECURE_TRUST_BUNDLE_KEY ")"
                        : ", signed by the trusted key given",
             "");
    *out = ev;
    return 0;
}
