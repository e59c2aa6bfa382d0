/*
 * model.c — page models (page.h) from a run's timeline and a doctor.
 *
 * An event reads as `ledger timeline` says it, bad where the timeline
 * marks it with '!' (ldg_query_timeline_event_text).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page/page.h"
#include "query/query.h"
#include "util/util.h"

#define sget(o, k) ldg_json_str(o, k)

static int
sis(const json_t *o, const char *k, const char *v)
{
    return strcmp(sget(o, k), v) == 0;
}

/* " key=value" for a string, number or bool field that is there. */
static void
put(struct ldg_buf *b, const char *key, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return;
    ldg_buf_puts(b, b->len ? "  " : "");
    if (key != NULL)
        ldg_buf_printf(b, "%s=", key);
    if (json_is_string(v))
        ldg_buf_puts(b, json_string_value(v));
    else if (json_is_integer(v))
        ldg_buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        ldg_buf_printf(b, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        ldg_buf_puts(b, json_is_true(v) ? "true" : "false");
    else {
        char *s = json_dumps(v, JSON_COMPACT);
        if (s != NULL)
            ldg_buf_puts(b, s);
        free(s);
    }
}

static const char *
lane_of(const char *kind)
{
    if (strcmp(kind, "start") == 0 || strcmp(kind, "end") == 0)
        return "run";
    if (strcmp(kind, "step") == 0)
        return "steps";
    if (strcmp(kind, "route") == 0)
        return "route decisions";
    return kind[0] ? kind : "other"; /* policy, context, ... */
}

/* snprintf that leaves valid UTF-8: a recorded name cut where the
 * buffer ends loses the character it was cut in (jansson refuses a string
 * that is not UTF-8, and the page would not be drawn at all). */
static void put_text(char *b, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
put_text(char *b, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, cap, fmt, ap);
    va_end(ap);
    ldg_utf8_trim(b);
}

static json_t *text_line(int bad, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *
text_line(int bad, const char *fmt, ...)
{
    char s[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    ldg_utf8_trim(s);
    return json_pack("{s:b, s:s}", "bad", bad, "text", s);
}

static json_t *
facts(const json_t *tl)
{
    json_t *out = json_array(), *perm = json_array(), *ev = json_array(), *x;
    size_t i;

    json_array_foreach(json_object_get(tl, "permissions"), i, x)
    {
        int bad = !sis(x, "state", "granted");
        struct ldg_buf b;
        ldg_buf_init(&b, 4096);
        ldg_buf_printf(&b, "%s %s %s", sget(x, "state"), sget(x, "group"),
                       sget(x, "scope"));
        put(&b, NULL, json_object_get(x, "tier"));
        put(&b, "by", json_object_get(x, "by"));
        put(&b, "reason", json_object_get(x, "reason"));
        ldg_buf_printf(&b, "  #%s", sget(x, "seq"));
        json_array_append_new(perm, text_line(bad, "%s", b.s ? b.s : ""));
        ldg_buf_release(&b);
    }
    json_array_foreach(json_object_get(tl, "evals"), i, x)
    {
        if (json_is_true(json_object_get(x, "none")))
            json_array_append_new(ev, text_line(1,
                                                "%s: no eval before the "
                                                "start",
                                                sget(x, "target")));
        else
            json_array_append_new(
                ev,
                text_line(!json_is_true(json_object_get(x, "passed")),
                          "%s: %s %s %s %s %lld/%lld  #%s", sget(x, "target"),
                          sget(x, "eval_id"), sget(x, "suite"),
                          sget(x, "candidate"),
                          json_is_true(json_object_get(x, "passed")) ? "passed"
                                                                     : "FAILED",
                          (long long)json_integer_value(
                              json_object_get(x, "cases_passed")),
                          (long long)json_integer_value(
                              json_object_get(x, "cases_total")),
                          sget(x, "seq")));
    }
    if (json_object_get(tl, "pack") != NULL &&
        json_is_string(json_object_get(tl, "pack"))) {
        json_array_append_new(
            out, json_pack("{s:s, s:o}", "title",
                           "Permissions in force at the start", "lines", perm));
        json_array_append_new(out, json_pack("{s:s, s:o}", "title",
                                             "Evals in force at the start",
                                             "lines", ev));
    } else {
        json_decref(perm);
        json_decref(ev);
    }
    return out;
}

/* A decimal u64 of a JSON string, 0 when not one. */
static uint64_t
ju64(const json_t *o, const char *k)
{
    const char *s = sget(o, k);
    return s[0] >= '0' && s[0] <= '9' ? strtoull(s, NULL, 10) : 0;
}

/* When the run began, in the one time format of human output (as `ledger
 * timeline` says it): "started Nov 28 12:42:54 (#8)", or for a run with no
 * start (a trace) "first event Nov 28 12:42:54", the earliest of its own
 * events (a context event before it is not the run's time). */
static void
began(char *b, size_t cap, const json_t *tl)
{
    const json_t *st = json_object_get(tl, "start"), *e;
    char when[LDG_TIME_WHEN_LEN];
    uint64_t first = 0;
    size_t i;

    if (json_is_object(st) && ju64(st, "recorded_ts") > 0) {
        char src[LDG_TIME_WHEN_LEN] = "";
        /* on the source's clock, what it claims too */
        if (sis(tl, "clock", "source") && ju64(st, "ts") > 0 &&
            ju64(st, "ts") != ju64(st, "recorded_ts"))
            ldg_time_when(src, sizeof src, ju64(st, "ts"));
        put_text(b, cap, "started %s (#%s%s%s)",
                 ldg_time_when(when, sizeof when, ju64(st, "recorded_ts")),
                 sget(st, "seq"), src[0] ? "; its source's clock says " : "",
                 src);
        return;
    }
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        uint64_t t = ju64(e, "ts");
        if (!sis(e, "kind", "context") && t > 0 && (first == 0 || t < first))
            first = t;
    }
    if (first > 0)
        put_text(b, cap, "first event %s",
                 ldg_time_when(when, sizeof when, first));
    else
        put_text(b, cap, "no start");
}

/* "status trace (root span #11 invoke_agent planner: unset in 94.3ms)" */
static void
status_text(char *b, size_t cap, const json_t *tl)
{
    const json_t *r = json_object_get(tl, "root");
    const json_t *d = json_object_get(r, "duration_ms");
    char ms[48] = "";

    if (!json_is_object(r)) {
        put_text(b, cap, "status %s%s", sget(tl, "status"),
                 sis(tl, "status", "trace") ? " (its root span not recorded)"
                                            : "");
        return;
    }
    if (json_is_number(d))
        snprintf(ms, sizeof ms, " in %.1fms", json_number_value(d));
    put_text(b, cap, "status %s (root span #%s %s%s%s%s)", sget(tl, "status"),
             sget(r, "seq"), sget(r, "name"),
             json_is_string(json_object_get(r, "status")) ? ": " : "",
             sget(r, "status"), ms);
}

/* The two witnesses of each model call both recorded (the proxy's record
 * joined to the application's span, as `ledger timeline` joins them):
 * a fact line each, bad when they disagree. */
static json_t *
witnesses(const json_t *tl)
{
    json_t *lines = json_array(), *e, *d, *x;
    size_t i, k;

    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const json_t *j = json_object_get(e, "joined");
        struct ldg_buf b;
        if (!json_is_object(j))
            continue;
        d = json_object_get(j, "differs");
        ldg_buf_init(&b, 4096);
        ldg_buf_printf(&b,
                       "#%s, the proxy's record of the call of #%s (the "
                       "application's span): %s",
                       sget(e, "seq"), sget(j, "seq"),
                       json_array_size(d) ? "they DISAGREE:" : "they agree");
        json_array_foreach(d, k, x)
        {
            char *a = json_dumps(json_object_get(x, "app"), JSON_ENCODE_ANY);
            char *p = json_dumps(json_object_get(x, "proxy"), JSON_ENCODE_ANY);
            ldg_buf_printf(&b, "%s %s %s (app) vs %s (proxy)", k ? "," : "",
                           sget(x, "field"), a ? a : "?", p ? p : "?");
            free(a);
            free(p);
        }
        json_array_append_new(
            lines, text_line(json_array_size(d) > 0, "%s", b.s ? b.s : ""));
        ldg_buf_release(&b);
    }
    return lines;
}

/* A standing verification finding marked on e (ldg_query_finding_mark):
 * drawn as a failure, what verify found first in its label. Takes label
 * (may be NULL); returns the label to use (malloc'd or NULL). */
static char *
verify_label(const json_t *e, char *label, int *bad)
{
    const char *v = json_string_value(json_object_get(e, "verify"));
    size_t n;
    char *s;

    if (v == NULL)
        return label;
    *bad = 1;
    n = strlen(v) + (label ? strlen(label) : 0) + 16;
    if ((s = malloc(n)) == NULL)
        return label;
    put_text(s, n, "VERIFY %s%s%s", v, label && *label ? " \xc2\xb7 " : "",
             label ? label : "");
    free(label);
    return s;
}

int
ldg_page_run(const json_t *tl, json_t **out)
{
    const json_t *evs = json_object_get(tl, "events");
    json_t *e;
    const json_t *c = json_object_get(tl, "counts");
    json_t *m, *list, *fs, *wl;
    char title[600], sub[1600], when[160], st[512];
    size_t i;

    if (out == NULL || !json_is_object(tl) || !json_is_array(evs))
        return LDG_EINVAL;
    *out = NULL;
    if (json_is_string(json_object_get(tl, "trace")))
        put_text(title, sizeof title, "Trace %s", sget(tl, "trace"));
    else
        put_text(title, sizeof title, "Run %s", sget(tl, "run"));
    began(when, sizeof when, tl);
    status_text(st, sizeof st, tl);
    char pk[400] = "";
    if (json_is_string(json_object_get(tl, "pack")))
        put_text(pk, sizeof pk, "pack %s %s \xc2\xb7 ", sget(tl, "pack"),
                 sget(json_object_get(tl, "pack_version"), "version"));
    put_text(
        sub, sizeof sub,
        "%s%s \xc2\xb7 %s \xc2\xb7 "
        "%lld events: %lld steps (%lld failed), %lld route decisions "
        "(%lld fallback%s), %lld policy decisions (%lld denied)",
        pk, when, st,
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
    list = json_array();
    json_array_foreach(evs, i, e)
    {
        json_t *body = json_object_get(e, "body");
        char *label;
        int bad = 0;
        json_t *o;
        if (i >= LDG_PAGE_EVENTS_MAX)
            break;
        if (!json_is_object(body))
            body = NULL;
        /* the words `ledger timeline` says of it */
        label = verify_label(e, ldg_query_timeline_event_text(e, &bad), &bad);
        /* a proxy's record joined to the app's span: the two witnesses'
         * verdict, as the timeline's line under it says it */
        const json_t *j = json_object_get(e, "joined");
        char jt[160] = "";
        if (json_is_object(j)) {
            int dis = json_array_size(json_object_get(j, "differs")) > 0;
            put_text(jt, sizeof jt,
                     " \xe2\x80\x94 the proxy's record of #%s (one request, "
                     "two witnesses): %s",
                     sget(j, "seq"), dis ? "they DISAGREE" : "they agree");
            bad |= dis;
        }
        struct ldg_buf lb;
        ldg_buf_init(&lb, 1 << 20);
        ldg_buf_printf(&lb, "%s%s", label ? label : "", jt);
        o = json_pack(
            "{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:O, s:I}", "seq",
            sget(e, "seq"), "rel_us",
            (json_int_t)json_integer_value(json_object_get(e, "rel_us")),
            "time", sget(e, "time"), "lane", lane_of(sget(e, "kind")), "type",
            sget(e, "type"), "label", lb.s ? lb.s : "", "bad", bad, "fallback",
            body != NULL && json_is_true(json_object_get(body, "fallback")),
            "body", body ? body : json_null(), "depth",
            (json_int_t)json_integer_value(json_object_get(e, "depth")));
        ldg_buf_release(&lb);
        free(label);
        if (o == NULL) {
            json_decref(list);
            return LDG_ENOMEM;
        }
        json_array_append_new(list, o);
    }
    fs = facts(tl);
    wl = witnesses(tl);
    if (json_array_size(wl) > 0)
        json_array_append_new(
            fs, json_pack("{s:s, s:o}", "title",
                          "Model calls seen by two witnesses (the "
                          "application's span and the proxy's record)",
                          "lines", wl));
    else
        json_decref(wl);
    m = json_pack("{s:s, s:s, s:o, s:o, s:I}", "title", title, "subtitle", sub,
                  "facts", fs, "events", list, "events_total",
                  (json_int_t)json_integer_value(json_object_get(c, "events")));
    if (m == NULL)
        return LDG_ENOMEM;
    *out = m;
    return 0;
}

int
ldg_page_set_doctor(json_t *model, const json_t *doctor, const char *pack,
                    const char *title)
{
    const json_t *p = NULL, *x, *c, *d;
    json_t *lines;
    const char *verdict = sget(doctor, "verdict");
    size_t i, j;

    if (!json_is_object(model) || !json_is_object(doctor))
        return LDG_EINVAL;
    lines = json_array();
    if (pack != NULL)
        json_array_foreach(json_object_get(doctor, "packs"), i,
                           x) if (sis(x, "pack", pack)) p = x;
    if (p != NULL) {
        verdict = sget(p, "verdict");
        json_array_foreach(json_object_get(p, "ok"), i, x)
            json_array_append_new(
                lines,
                json_pack("{s:s, s:s}", "status", "ok", "text",
                          json_string_value(x) ? json_string_value(x) : ""));
        json_array_foreach(json_object_get(p, "clauses"), i, c)
        {
            struct ldg_buf b;
            ldg_buf_init(&b, 8192);
            ldg_buf_printf(&b, "%s", sget(c, "name"));
            json_array_foreach(json_object_get(c, "detail"), j, d)
                ldg_buf_printf(&b, "%s%s", j ? "; " : ": ",
                               json_string_value(d) ? json_string_value(d)
                                                    : "");
            json_array_append_new(lines, json_pack("{s:s, s:s}", "status",
                                                   sget(c, "status"), "text",
                                                   b.s ? b.s : ""));
            ldg_buf_release(&b);
        }
    }
    json_array_foreach(json_object_get(doctor, "box"), i, c)
    {
        if (sis(c, "status", "ok"))
            continue;
        struct ldg_buf b;
        ldg_buf_init(&b, 8192);
        ldg_buf_printf(&b, "box: %s", sget(c, "name"));
        json_array_foreach(json_object_get(c, "detail"), j, d)
            ldg_buf_printf(&b, "%s%s", j ? "; " : ": ",
                           json_string_value(d) ? json_string_value(d) : "");
        json_array_append_new(lines, json_pack("{s:s, s:s}", "status",
                                               sget(c, "status"), "text",
                                               b.s ? b.s : ""));
        ldg_buf_release(&b);
    }
    json_object_set_new(
        model, "verdict",
        json_pack("{s:s, s:s, s:o}", "title", title ? title : "Doctor",
                  "verdict", verdict[0] ? verdict : "unknown", "lines", lines));
    return 0;
}

/* The kind of an event for its lane: its type's first word. */
static void
kind_of(const char *type, char *b, size_t cap)
{
    size_t n = strcspn(type, ".");
    snprintf(b, cap, "%.*s", (int)(n < cap ? n : cap - 1), type);
}

int
ldg_page_events(const json_t *events, size_t total, const char *title,
                const char *subtitle, json_t **out)
{
    json_t *list, *e, *m;
    uint64_t t0 = 0;
    size_t i;

    if (out == NULL || !json_is_array(events))
        return LDG_EINVAL;
    *out = NULL;
    list = json_array();
    json_array_foreach(events, i, e)
    {
        json_t *body = json_object_get(e, "body"), *o, *fake;
        const char *ts = sget(e, "ts"), *type = sget(e, "type");
        uint64_t t = strtoull(ts, NULL, 10);
        char kind[64], *label;
        int bad = 0;
        if (i >= LDG_PAGE_EVENTS_MAX)
            break;
        if (i == 0)
            t0 = t;
        if (!json_is_object(body))
            body = NULL;
        kind_of(type, kind, sizeof kind);
        /* the timeline's view of it: route decisions and steps are told
         * as a run's are, anything else as context */
        fake =
            json_pack("{s:s, s:s, s:s, s:b}", "type", type, "subject",
                      sget(e, "subject"), "kind",
                      strcmp(type, LDG_EV_ROUTE_DECISION) == 0 ? "route"
                      : strcmp(type, LDG_EV_RUN_STEP) == 0     ? "step"
                      : strcmp(type, LDG_EV_RUN_POLICY) == 0   ? "policy"
                      : strcmp(type, LDG_EV_RUN_STARTED) == 0  ? "start"
                      : strcmp(type, LDG_EV_RUN_FINISHED) == 0 ? "end"
                                                               : "context",
                      "denied", body != NULL && sis(body, "decision", "deny"));
        if (fake != NULL && body != NULL)
            json_object_set(fake, "body", body);
        label =
            verify_label(e, ldg_query_timeline_event_text(fake, &bad), &bad);
        o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:O}", "seq",
                      sget(e, "seq"), "rel_us",
                      (json_int_t)(t >= t0 ? (t - t0) / 1000 : 0), "time",
                      sget(e, "time"), "lane", kind, "type", type, "label",
                      label ? label : "", "bad", bad, "fallback",
                      body != NULL &&
                          json_is_true(json_object_get(body, "fallback")),
                      "body", body ? body : json_null());
        free(label);
        json_decref(fake);
        if (o == NULL) {
            json_decref(list);
            return LDG_ENOMEM;
        }
        json_array_append_new(list, o);
    }
    m = json_pack("{s:s, s:s, s:o, s:I}", "title", title ? title : "Events",
                  "subtitle", subtitle ? subtitle : "", "events", list,
                  "events_total", (json_int_t)total);
    if (m == NULL)
        return LDG_ENOMEM;
    *out = m;
    return 0;
}

int
ldg_page_plan(const json_t *tl, json_t **out)
{
    json_t *list, *e, *m, *facts_, *vlines, *v;
    const char *plan, *state;
    uint64_t t0 = 0;
    size_t i, j;
    char title[600], path[1024] = "";

    if (out == NULL || !json_is_object(tl) ||
        !json_is_array(json_object_get(tl, "events")))
        return LDG_EINVAL;
    *out = NULL;
    plan = sget(tl, "plan");
    state = sget(tl, "state");
    put_text(title, sizeof title, "Plan %s: %s", plan, state[0] ? state : "?");
    json_array_foreach(json_object_get(tl, "path"), i, e)
    {
        size_t n = strlen(path);
        put_text(path + n, sizeof path - n, "%s%s", i ? " > " : "path: ",
                 json_string_value(e) ? json_string_value(e) : "?");
    }
    list = json_array();
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const char *time = sget(e, "time"), *type = sget(e, "type");
        json_t *viol = json_object_get(e, "violations"), *o;
        struct ldg_buf b;
        uint64_t t = 0;
        char kind[64];
        if (i >= LDG_PAGE_EVENTS_MAX)
            break;
        ldg_time_parse_rfc3339(time, strlen(time), 0, &t);
        if (i == 0)
            t0 = t;
        kind_of(type, kind, sizeof kind);
        ldg_buf_init(&b, 8192);
        ldg_buf_puts(&b, sget(e, "summary"));
        json_array_foreach(viol, j, v)
            ldg_buf_printf(&b, " ! %s", sget(v, "rule"));
        if (sis(e, "kind", "context"))
            ldg_buf_puts(&b, " (context)");
        if (json_is_string(json_object_get(e, "verify")))
            ldg_buf_printf(&b, " ! VERIFY %s", sget(e, "verify"));
        o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:n}", "seq",
                      sget(e, "seq"), "rel_us",
                      (json_int_t)(t >= t0 ? (t - t0) / 1000 : 0), "time", time,
                      "lane", kind, "type", type, "label", b.s ? b.s : "",
                      "bad",
                      json_array_size(viol) > 0 ||
                          json_is_string(json_object_get(e, "verify")),
                      "fallback", 0, "body");
        ldg_buf_release(&b);
        if (o == NULL) {
            json_decref(list);
            return LDG_ENOMEM;
        }
        json_array_append_new(list, o);
    }
    /* the rules it broke, each by the event that broke it */
    vlines = json_array();
    json_array_foreach(json_object_get(tl, "violations"), i, v)
        json_array_append_new(
            vlines,
            text_line(1, "seq %s: %s%s%s", sget(v, "seq"), sget(v, "rule"),
                      sget(v, "detail")[0] ? ": " : "", sget(v, "detail")));
    if (json_array_size(vlines) == 0)
        json_array_append_new(vlines, text_line(0, "%s",
                                                "none: the plan kept every "
                                                "rule (docs/PROJECTIONS.md)"));
    facts_ =
        json_pack("[{s:s, s:o}]", "title", "Rules broken", "lines", vlines);
    m = json_pack("{s:s, s:s, s:o, s:o, s:I}", "title", title, "subtitle", path,
                  "facts", facts_, "events", list, "events_total",
                  (json_int_t)json_array_size(json_object_get(tl, "events")));
    if (m == NULL)
        return LDG_ENOMEM;
    *out = m;
    return 0;
}
