/*
 * timeline_text.c — a timeline (ldg_query_timeline's JSON) as the text
 * `ledger timeline` prints.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"
#include "query/timeline_int.h"

/* ------------------------------------------------------------- as text -- */

#define sget(o, k) ldg_json_str(o, k)

static void
put_val(struct ldg_buf *b, const char *label, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return;
    ldg_buf_puts(b, "  ");
    if (label != NULL)
        ldg_buf_printf(b, "%s=", label);
    if (json_is_string(v))
        ldg_buf_puts(b, json_string_value(v));
    else
        q_json_value(b, v, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

/* "  12ms" (an integer), "  1.8ms" (a number with a fraction). */
static void
put_ms(struct ldg_buf *b, const json_t *v)
{
    if (json_is_integer(v))
        ldg_buf_printf(b, "  %lldms", (long long)json_integer_value(v));
    else if (json_is_real(v))
        ldg_buf_printf(b, "  %.1fms", json_real_value(v));
}

/* Beside a claimed actor, the key that signed the event (its name, else
 * its id) and, when `ledger serve` recorded it, the process that submitted
 * it: "by=alice signer=ops source=uid 1000 pid 42 agent.service". */
static void
put_signer(struct ldg_buf *b, const json_t *e, const json_t *by)
{
    const json_t *sg = json_object_get(e, "signer");
    const json_t *src = json_object_get(e, "source");
    const char *nm = json_string_value(json_object_get(sg, "name"));
    if (by == NULL || json_is_null(by) || sg == NULL)
        return;
    if (json_is_null(sg)) { /* a pruned event: its archive names it */
        ldg_buf_puts(b, "  signer=(pruned: in its archive)");
        return;
    }
    ldg_buf_printf(b, "  signer=%s", nm ? nm : sget(sg, "key_id"));
    if (json_is_object(src)) {
        ldg_buf_printf(
            b, " source=uid %lld pid %lld",
            (long long)json_integer_value(json_object_get(src, "uid")),
            (long long)json_integer_value(json_object_get(src, "pid")));
        if (json_is_string(json_object_get(src, "unit")))
            ldg_buf_printf(b, " %s", sget(src, "unit"));
        else if (json_is_string(json_object_get(src, "exe")))
            ldg_buf_printf(b, " %s", sget(src, "exe"));
    }
}

/* "  weights sha256:0123456789ab… verified" (or "not verified", "verified
 * later at #N", "digest unknown") for an entry with "model_at". */
static void
put_model_at(struct ldg_buf *b, const json_t *m)
{
    const char *d = json_string_value(json_object_get(m, "digest"));

    if (m == NULL)
        return;
    if (d == NULL) {
        ldg_buf_puts(b, "  weights: digest unknown (never registered)");
        return;
    }
    ldg_buf_printf(b, "  weights %.19s%s", d, strlen(d) > 19 ? "…" : "");
    if (json_is_true(json_object_get(m, "verified")))
        ldg_buf_puts(b, " verified");
    else if (json_is_true(json_object_get(m, "ever_verified")))
        ldg_buf_printf(b, " verified later (#%s)", sget(m, "verified_seq"));
    else
        ldg_buf_puts(b, " never verified");
}

/* Under a proxy record joined to an application's span: one request,
 * two witnesses, and whether they agree. */
static void
join_line(struct ldg_buf *b, const json_t *e)
{
    const json_t *j = json_object_get(e, "joined"), *d, *x;
    size_t i;
    if (j == NULL)
        return;
    d = json_object_get(j, "differs");
    ldg_buf_printf(b,
                   "%s %10s  #%-8s =        the proxy's record of #%s (one "
                   "request, two witnesses): %s",
                   json_array_size(d) ? "!" : " ", "", sget(e, "seq"),
                   sget(j, "seq"),
                   json_array_size(d) ? "they DISAGREE:" : "they agree");
    json_array_foreach(d, i, x)
    {
        ldg_buf_printf(b, "%s %s ", i ? "," : "", sget(x, "field"));
        q_json_value(b, json_object_get(x, "app"), JSON_COMPACT);
        ldg_buf_puts(b, " (app) vs ");
        q_json_value(b, json_object_get(x, "proxy"), JSON_COMPACT);
        ldg_buf_puts(b, " (proxy)");
    }
    ldg_buf_add(b, "\n", 1);
}

/* Whether the timeline marks event e with '!': a denial, a failed or
 * aborted step or run, an error, and among the context events a
 * permission withdrawn, a model gone, a runtime down, a failed eval. */
static int
event_bad(const json_t *e)
{
    const char *kind = sget(e, "kind");
    const json_t *body = json_object_get(e, "body");
    const char *type = sget(e, "type");
    return json_is_true(json_object_get(e, "denied")) ||
           tl_jstr_is(body, "status", "failed") ||
           tl_jstr_is(body, "status", "aborted") ||
           tl_jstr_is(body, "outcome", "error") ||
           tl_jstr_is(body, "outcome", "refused") ||
           tl_jstr_is(body, "outcome", "client-gone") ||
           (strcmp(kind, "context") == 0 &&
            (strcmp(type, LDG_EV_PERMISSION_REVOKED) == 0 ||
             strcmp(type, LDG_EV_PERMISSION_DENIED) == 0 ||
             strcmp(type, LDG_EV_PROMOTION_ROLLED_BACK) == 0 ||
             tl_jstr_is(body, "state", "offline") ||
             tl_jstr_is(body, "state", "removed") ||
             tl_jstr_is(body, "status", "down") ||
             tl_jstr_is(body, "status", "degraded") ||
             json_is_false(json_object_get(body, "passed")) ||
             json_is_false(json_object_get(body, "ok"))));
}

/* The words of event e after its kind, each after two spaces: what the
 * timeline and the run page say of it. */
static void
event_words(struct ldg_buf *b, const json_t *e)
{
    const char *kind = sget(e, "kind");
    const json_t *body = json_object_get(e, "body");
    int deny = json_is_true(json_object_get(e, "denied"));

    if (body == NULL) {
        ldg_buf_printf(b, "  %s [body erased]", sget(e, "type"));
        return;
    }
    if (strcmp(kind, "start") == 0) {
        put_val(b, NULL, json_object_get(body, "pack"));
        put_val(b, "intent", json_object_get(body, "intent"));
        put_val(b, "by", json_object_get(body, "requested_by"));
        put_signer(b, e, json_object_get(body, "requested_by"));
        put_val(b, "plan", json_object_get(body, "plan_hash"));
    } else if (strcmp(kind, "step") == 0) {
        const json_t *arts = json_object_get(body, "artifacts"), *a;
        size_t i;
        put_val(b, NULL, json_object_get(body, "step"));
        put_val(b, "tool", json_object_get(body, "tool"));
        put_val(b, NULL, json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "duration_ms"));
        if (json_array_size(arts) > 0) {
            ldg_buf_puts(b, "  artifacts:");
            json_array_foreach(arts, i, a)
            {
                ldg_buf_printf(b, " %s",
                               json_is_string(json_object_get(a, "name"))
                                   ? sget(a, "name")
                                   : "?");
                if (json_is_string(json_object_get(a, "sha256")))
                    ldg_buf_printf(b, " (%.12s)", sget(a, "sha256"));
            }
        }
    } else if (strcmp(kind, "route") == 0) {
        ldg_buf_printf(b, "  %s -> %s", sget(body, "route"),
                       sget(body, "chosen_model"));
        if (json_is_true(json_object_get(body, "fallback")))
            ldg_buf_puts(b, "  FALLBACK");
        put_ms(b, json_object_get(body, "latency_ms"));
        put_val(b, NULL, json_object_get(body, "outcome"));
        if (json_is_integer(json_object_get(body, "tokens_in")) ||
            json_is_integer(json_object_get(body, "tokens_out"))) {
            ldg_buf_puts(b, "  tokens");
            put_val(b, "in", json_object_get(body, "tokens_in"));
            put_val(b, "out", json_object_get(body, "tokens_out"));
        }
        /* who saw it: the proxy (an upstream), an application's span */
        if (json_is_string(json_object_get(body, "upstream")))
            put_val(b, "via proxy", json_object_get(body, "upstream"));
        else if (json_is_string(json_object_get(body, "span_id")))
            put_val(b, "app span", json_object_get(body, "span_id"));
        put_val(b, "reason", json_object_get(body, "reason"));
    } else if (strcmp(kind, "policy") == 0) {
        if (!deny)
            put_val(b, NULL, json_object_get(body, "decision"));
        put_val(b, NULL, json_object_get(body, "rule"));
        put_val(b, "tool", json_object_get(body, "tool"));
        put_val(b, NULL, json_object_get(body, "tier"));
    } else if (strcmp(kind, "context") == 0) {
        static const char *const show[] = {
            "state",   "status",  "group",     "scope", "decision",
            "eval_id", "passed",  "candidate", "to",    "version",
            "by",      "expires", "reason",    "detail"};
        ldg_buf_printf(b, "  %s %s", sget(e, "type"), sget(e, "subject"));
        for (size_t i = 0; i < sizeof show / sizeof show[0]; i++) {
            put_val(b, show[i], json_object_get(body, show[i]));
            if (strcmp(show[i], "by") == 0)
                put_signer(b, e, json_object_get(body, "by"));
        }
    } else if (strcmp(kind, "end") == 0) {
        put_val(b, NULL, json_object_get(body, "status"));
        if (json_is_integer(json_object_get(body, "duration_ms")))
            ldg_buf_printf(b, "  %lldms",
                           (long long)json_integer_value(
                               json_object_get(body, "duration_ms")));
        put_val(b, "error", json_object_get(body, "error"));
    } else if (strcmp(sget(e, "type"), LDG_EV_PROXY_REQUEST) == 0) {
        /* a request ledger proxy passed on that is not a model call */
        ldg_buf_printf(b, "  %s %s %s", sget(e, "type"), sget(body, "method"),
                       sget(body, "path"));
        put_val(b, "status", json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "latency_ms"));
        put_val(b, NULL, json_object_get(body, "outcome"));
        put_val(b, "reason", json_object_get(body, "reason"));
    } else if (strcmp(kind, "span") == 0) {
        put_val(b, NULL, json_object_get(body, "name"));
        put_val(b, NULL, json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "duration_ms"));
        put_val(b, "operation", json_object_get(body, "operation"));
        put_val(b, "error", json_object_get(body, "error_type"));
    } else if (strcmp(kind, "log") == 0) {
        const json_t *msg = json_object_get(body, "body");
        put_val(b, NULL, json_object_get(body, "severity_text"));
        put_val(b, NULL, json_object_get(body, "event_name"));
        if (json_is_string(msg))
            ldg_buf_printf(b, "  %.80s%s", json_string_value(msg),
                           json_string_length(msg) > 80 ? "…" : "");
    } else {
        ldg_buf_printf(b, "  %s %s", sget(e, "type"), sget(e, "subject"));
    }
    put_model_at(b, json_object_get(e, "model_at"));
}

static void
event_line(struct ldg_buf *b, const json_t *e)
{
    int deny = json_is_true(json_object_get(e, "denied"));
    ldg_buf_printf(b, "%s %+10.3fs  #%-8s %-7s", event_bad(e) ? "!" : " ",
                   (double)json_integer_value(json_object_get(e, "rel_us")) /
                       1e6,
                   sget(e, "seq"), deny ? "DENY" : sget(e, "kind"));
    /* the span tree: two spaces a level */
    for (json_int_t d = json_integer_value(json_object_get(e, "depth"));
         d > 0 && d <= TRACE_DEPTH_MAX; d--)
        ldg_buf_puts(b, "  ");
    event_words(b, e);
    ldg_buf_add(b, "\n", 1);
    join_line(b, e);
}

char *
ldg_query_timeline_event_text(const json_t *e, int *bad)
{
    struct ldg_buf b;
    char *s;
    if (!json_is_object(e))
        return NULL;
    ldg_buf_init(&b, 65536);
    event_words(&b, e);
    if (bad != NULL)
        *bad = event_bad(e);
    if (b.len == 0)
        return strdup("");
    s = ldg_buf_detach(&b, NULL);
    if (s != NULL)
        memmove(s, s + 2, strlen(s + 2) + 1); /* the first two spaces */
    return s;
}

/* The earliest source time of the run's own events (the base of a run
 * without a start on the source's clock), UINT64_MAX when none. */
static uint64_t
first_source_ts(const json_t *tl)
{
    uint64_t first = UINT64_MAX;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const char *st = sget(e, "ts");
        /* (a context event before the run is not the run's time) */
        if (tl_jstr_is(e, "kind", "context"))
            continue;
        if (tl_jstr_is(e, "clock", "source") && st[0] >= '0' && st[0] <= '9' &&
            strtoull(st, NULL, 10) < first)
            first = strtoull(st, NULL, 10);
    }
    return first;
}

/* The first line: the run (or trace), its pack, when it started, its
 * status and how long it took. */
static void
text_head(struct ldg_buf *b, const json_t *tl)
{
    const json_t *v;
    char claimed[32] = "";

    if (json_is_string(json_object_get(tl, "trace")))
        ldg_buf_printf(b, "trace %s", sget(tl, "trace"));
    else
        ldg_buf_printf(b, "run %s", sget(tl, "run"));
    if (json_is_string(json_object_get(tl, "pack")))
        ldg_buf_printf(b, "  pack %s", sget(tl, "pack"));
    v = json_object_get(json_object_get(tl, "pack_version"), "version");
    if (json_is_string(v))
        ldg_buf_printf(b, " %s", json_string_value(v));
    v = json_object_get(tl, "start");
    if (json_is_true(json_object_get(v, "pruned"))) {
        const char *ts = sget(v, "recorded_ts");
        uint64_t ns = 0;
        char when[32];
        for (; *ts >= '0' && *ts <= '9'; ts++)
            ns = ns * 10 + (uint64_t)(*ts - '0');
        if (ns > 0) {
            ldg_time_local(when, sizeof when, ns);
            ldg_buf_printf(b, "  started %s (#%s, before the horizon: pruned)",
                           when, sget(v, "seq"));
        } else {
            ldg_buf_printf(b, "  started before the horizon (#%s, pruned)",
                           sget(v, "seq"));
        }
    } else if (json_is_object(v)) {
        /* human text: the one time format of the CLI's human output,
         * local time (TZ; `--utc` sets UTC) to the second, as `ledger
         * query` and `ledger runs` show it: the ledger's clock (docs/
         * QUERY.md, "Which clock") */
        uint64_t ns = 0, src = 0;
        const char *ts = sget(v, "recorded_ts"), *st = sget(v, "ts");
        char when[32];
        for (; *ts >= '0' && *ts <= '9'; ts++)
            ns = ns * 10 + (uint64_t)(*ts - '0');
        for (; *st >= '0' && *st <= '9'; st++)
            src = src * 10 + (uint64_t)(*st - '0');
        ldg_time_local(when, sizeof when, ns);
        ldg_time_local(claimed, sizeof claimed, src);
        ldg_buf_printf(b, "  started %s (#%s)", when, sget(v, "seq"));
    }
    ldg_buf_printf(b, "  status %s", sget(tl, "status"));
    v = json_object_get(tl, "root");
    if (json_is_object(v)) {
        /* how its root span ended: "(root span #11 invoke_agent planner:
         * unset in 94.3ms)" */
        ldg_buf_printf(b, " (root span #%s", sget(v, "seq"));
        if (json_is_string(json_object_get(v, "name")))
            ldg_buf_printf(b, " %s", sget(v, "name"));
        if (json_is_string(json_object_get(v, "status")))
            ldg_buf_printf(b, ": %s", sget(v, "status"));
        if (json_is_number(json_object_get(v, "duration_ms")))
            ldg_buf_printf(
                b, " in %.1fms",
                json_number_value(json_object_get(v, "duration_ms")));
        ldg_buf_puts(b, ")");
    } else if (tl_jstr_is(tl, "status", "trace")) {
        ldg_buf_puts(b, " (its root span is not recorded)");
    }
    if (tl_jstr_is(tl, "clock", "source") && claimed[0]) {
        ldg_buf_printf(b,
                       "  (times from the start: the source's clock, "
                       "which puts the start at %s)",
                       claimed);
    } else if (tl_jstr_is(tl, "clock", "source")) {
        /* no start (a trace): times from its first event */
        uint64_t first = first_source_ts(tl);
        if (first != UINT64_MAX)
            ldg_time_local(claimed, sizeof claimed, first);
        ldg_buf_printf(b,
                       "  (times from its first event: the source's clock, "
                       "which puts it at %s)",
                       claimed[0] ? claimed : "?");
    }
    v = json_object_get(json_object_get(tl, "end"), "duration_ms");
    if (json_is_integer(v))
        ldg_buf_printf(b, " in %.3fs", (double)json_integer_value(v) / 1000.0);
    ldg_buf_add(b, "\n", 1);
}

/* A run begun before the horizon: where its pruned events went. */
static void
text_horizon(struct ldg_buf *b, const json_t *tl, const json_t *hzo)
{
    if (json_is_object(hzo) &&
        json_array_size(json_object_get(hzo, "archives")) > 0) {
        char names[2048];
        ldg_query_pruned_archives_text(
            json_object_get(hzo, "archives"),
            json_is_true(json_object_get(hzo, "archives_whole")), names,
            sizeof names);
        ldg_buf_printf(b,
                       "begun before the horizon: its events before #%s were "
                       "pruned into %s (`" LDG_CMD_TIMELINE_BUNDLE
                       "` reads each); what was in force is shown as at the "
                       "horizon\n",
                       sget(hzo, "seq"), names, sget(tl, "run"), "FILE");
    } else if (json_is_object(hzo)) {
        ldg_buf_printf(
            b,
            "begun before the horizon: its events before #%s were "
            "pruned into the archive with SHA-256 %s (`" LDG_CMD_TIMELINE_BUNDLE
            "` reads them); what was in "
            "force is shown as at the horizon\n",
            sget(hzo, "seq"), sget(hzo, "archive_sha256"), sget(tl, "run"),
            "FILE");
    }
}

/* The permissions and evals in force at the start (or the horizon). */
static void
text_in_force(struct ldg_buf *b, const json_t *tl, const json_t *hzo)
{
    const char *at = json_is_object(hzo) ? "the horizon" : "the start";
    const json_t *v, *e;
    size_t i;

    if (json_is_string(json_object_get(tl, "pack"))) {
        v = json_object_get(tl, "permissions");
        ldg_buf_printf(b, "\npermissions in force at %s (pack %s):\n", at,
                       sget(tl, "pack"));
        if (json_array_size(v) == 0)
            ldg_buf_puts(b, "  (none recorded)\n");
        json_array_foreach(v, i, e)
        {
            const char *st = sget(e, "state");
            int bad = strcmp(st, "denied") == 0 || strcmp(st, "revoked") == 0 ||
                      strcmp(st, "expired") == 0;
            ldg_buf_printf(b, "%s %-10s %-12s %-28s", bad ? "!" : " ",
                           !bad           ? st
                           : st[0] == 'd' ? "DENIED"
                           : st[0] == 'r' ? "REVOKED"
                                          : "EXPIRED",
                           sget(e, "group"), sget(e, "scope"));
            put_val(b, NULL, json_object_get(e, "tier"));
            put_val(b, "by", json_object_get(e, "by"));
            put_signer(b, e, json_object_get(e, "by"));
            put_val(b, "expires", json_object_get(e, "expires"));
            ldg_buf_printf(b, "  #%s", sget(e, "seq"));
            put_val(b, "reason", json_object_get(e, "reason"));
            ldg_buf_add(b, "\n", 1);
        }
        v = json_object_get(tl, "evals");
        ldg_buf_printf(b, "\nevals in force at %s:\n", at);
        if (json_array_size(v) == 0)
            ldg_buf_puts(b, json_is_object(hzo)
                                ? "  (none kept: the evals before the "
                                  "horizon are in its archive)\n"
                                : "  (none recorded)\n");
        json_array_foreach(v, i, e)
        {
            if (json_is_true(json_object_get(e, "none"))) {
                ldg_buf_printf(b, "! %-32s %s\n", sget(e, "target"),
                               json_is_object(hzo)
                                   ? "no eval kept before the horizon (any "
                                     "earlier one is in its archive)"
                                   : "no eval before the start");
                continue;
            }
            ldg_buf_printf(
                b, "%s %-32s %s %s %s %s",
                json_is_true(json_object_get(e, "passed")) ? " " : "!",
                sget(e, "target"), sget(e, "eval_id"), sget(e, "suite"),
                sget(e, "candidate"),
                json_is_true(json_object_get(e, "passed")) ? "passed"
                                                           : "FAILED");
            if (json_is_integer(json_object_get(e, "cases_passed")) &&
                json_is_integer(json_object_get(e, "cases_total")))
                ldg_buf_printf(b, " %lld/%lld",
                               (long long)json_integer_value(
                                   json_object_get(e, "cases_passed")),
                               (long long)json_integer_value(
                                   json_object_get(e, "cases_total")));
            ldg_buf_printf(b, "  #%s\n", sget(e, "seq"));
        }
    }
}

/* The events, one a line, and the counts. */
static void
text_events(struct ldg_buf *b, const json_t *tl)
{
    const json_t *c = json_object_get(tl, "counts"), *e;
    size_t i;

    ldg_buf_puts(b, "\ntimeline:\n");
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        event_line(b, e);
        /* what `ledger verify` found, beside the data it found altered */
        if (json_is_string(json_object_get(e, "verify")))
            ldg_buf_printf(b,
                           "! %10s  #%-8s !! verification %s (this event's "
                           "data may be altered)\n",
                           "", sget(e, "seq"), sget(e, "verify"));
    }
    if (json_is_true(json_object_get(tl, "truncated")))
        ldg_buf_printf(
            b, "  ... (%lld events in all; use " LDG_CMD_QUERY_RUN ")\n",
            (long long)json_integer_value(json_object_get(c, "events")),
            sget(tl, "run"));
    if (json_integer_value(json_object_get(c, "joined")) > 0)
        ldg_buf_printf(
            b,
            "\n%lld model calls seen by both the application and the proxy: "
            "%lld disagree\n",
            (long long)json_integer_value(json_object_get(c, "joined")),
            (long long)json_integer_value(
                json_object_get(c, "joined_disagree")));
    ldg_buf_printf(
        b,
        "\n%lld events: %lld steps (%lld failed), %lld route decisions (%lld "
        "fallback%s), %lld policy decisions (%lld denied)\n",
        (long long)json_integer_value(json_object_get(c, "events")),
        (long long)json_integer_value(json_object_get(c, "steps")),
        (long long)json_integer_value(json_object_get(c, "steps_failed")),
        (long long)json_integer_value(json_object_get(c, "route_decisions")),
        (long long)json_integer_value(json_object_get(c, "fallbacks")),
        json_integer_value(json_object_get(c, "joined")) > 0
            ? "; a call both witnessed counted once"
            : "",
        (long long)json_integer_value(json_object_get(c, "policy_decisions")),
        (long long)json_integer_value(json_object_get(c, "denials")));
}

int
ldg_query_timeline_text(const json_t *tl, char **out)
{
    struct ldg_buf b;
    const json_t *hzo;

    if (tl == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    memset(&b, 0, sizeof b);
    hzo = json_object_get(tl, "horizon");
    text_head(&b, tl);
    text_horizon(&b, tl, hzo);
    text_in_force(&b, tl, hzo);
    text_events(&b, tl);
    if (b.err) {
        ldg_buf_release(&b);
        return LDG_ENOMEM;
    }
    *out = b.s;
    return 0;
}
