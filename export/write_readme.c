/*
 * write_readme.c — README and SUMMARY.md: what a person reads first in a
 * bundle (`ledger export`; the flow is in write.c, the shared context in
 * write_int.h).
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

#include "export/write_int.h"
#include "projections/projections.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* --------------------------------------------------- README and SUMMARY -- */

/* "2026-11-22 09:39:01 UTC": seconds, no fraction (human text). */
static void
human_utc(char *buf, size_t cap, uint64_t ts_ns)
{
    char base[32];
    if (ldg_time_rfc3339_base(base, sizeof base,
                              (int64_t)(ts_ns / 1000000000u)) < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    base[10] = ' '; /* "2026-11-22T09:39:01" -> "2026-11-22 09:39:01" */
    snprintf(buf, cap, "%s UTC", base);
}

/* README.txt: what the bundle is and how to check it, with the exact
 * commands (the verifier key spelled out, to be compared with one
 * received another way). */
int
ex_write_readme(struct ex *x, uint64_t now_ns)
{
    struct ldg_buf b = {0};
    char when[48];
    const char *file = x->file;

    human_utc(when, sizeof when, now_ns);
    ldg_buf_printf(&b,
                   "This is a ledger evidence bundle (format %s), named %s.\n"
                   "\n",
                   LDG_BUNDLE_MAGIC, x->top);
    ldg_buf_printf(
        &b,
        "It holds %llu signed, hash-chained events from the ledger "
        "of\n%s, exported with `" LDG_CMD_EXPORT "` on\n%s. Each event "
        "comes with a Merkle inclusion proof against the\nlog's "
        "signed checkpoint of size %llu (the file `checkpoint`), "
        "and\nmanifest.json, which lists every file with its SHA-256, "
        "is signed with the\nlog's key (manifest.sig). SUMMARY.txt "
        "says in words what the events\nshow; events.jsonl has them "
        "decoded, one JSON object a line.\n\n",
        (unsigned long long)x->nev, x->origin, when,
        (unsigned long long)x->cksize);
    ldg_buf_puts(&b, "How to verify it (offline: no ledger and no network are "
                     "needed)\n\n");
    ldg_buf_printf(
        &b,
        "1. Get the log's verifier key from the box's owner through a "
        "channel you\n   trust (`" LDG_CMD_KEYS_VERIFIER "` prints it on "
        "the box). Not from this\n   bundle: its own copy, log.vkey, "
        "only shows the bundle agrees with itself.\n   The key this "
        "bundle was signed with is:\n\n     %s\n\n",
        x->vkey);
    ldg_buf_printf(&b,
                   "2. Check the bundle file (exit 0: verified; 1: a check "
                   "failed; 65: not a\n   readable bundle):\n\n"
                   "     " LDG_CMD_VERIFY_BUNDLE_KEY "\n\n",
                   x->vkey, file);
    ldg_buf_printf(&b,
                   "3. If you unpacked it, pack the directory again and check "
                   "that (the order\n   of the files does not matter):\n\n"
                   "     tar --zstd -cf %s.tar.zst %s\n"
                   "     " LDG_CMD_VERIFY_BUNDLE_KEY ".tar.zst\n\n",
                   x->top, x->top, x->vkey, x->top);
    ldg_buf_printf(&b,
                   "   To check and unpack in one go:\n\n"
                   "     " LDG_CMD_VERIFY_BUNDLE_EXTRACT "\n\n",
                   x->vkey, file);
    ldg_buf_printf(&b,
                   "With the key passed the same way, `" LDG_CMD_TIMELINE_BUNDLE
                   "`,\n`" LDG_CMD_QUERY_BUNDLE "` and `" LDG_CMD_DOCTOR_BUNDLE
                   "` read the\nbundle after verifying it. "
                   "Every byte of the layout is described in\n"
                   "docs/format-bundle.md of the ledger's source.\n",
                   "RUN", file, file, file);
    if (b.err) {
        free(b.p);
        return b.err;
    }
    return ex_member_put(x, B_README, b.p, b.len, b.p);
}

#define jget(o, k) ldg_json_str(o, k)

static int
jis(const json_t *o, const char *k, const char *v)
{
    return strcmp(jget(o, k), v) == 0;
}

/* The timeline's rule for marking a line with '!' (write_int.h). */
const char *
ex_failure_of(const char *type, const json_t *body)
{
    if (body == NULL)
        return NULL;
    if (jis(body, "decision", "deny"))
        return "denied";
    if (jis(body, "status", "failed") || jis(body, "status", "aborted") ||
        jis(body, "outcome", "error"))
        return "failed";
    if (jis(body, "outcome", "refused"))
        return "refused";
    if (jis(body, "outcome", "client-gone"))
        return "client gone";
    if (strcmp(type, LDG_EV_PERMISSION_REVOKED) == 0 ||
        strcmp(type, LDG_EV_PERMISSION_DENIED) == 0)
        return "permission withdrawn";
    if (strcmp(type, LDG_EV_PROMOTION_ROLLED_BACK) == 0)
        return "rolled back";
    if (jis(body, "state", "offline") || jis(body, "state", "removed"))
        return "model unavailable";
    if (jis(body, "status", "down") || jis(body, "status", "degraded"))
        return "runtime unhealthy";
    if (json_is_false(json_object_get(body, "passed")) ||
        json_is_false(json_object_get(body, "ok")))
        return "check failed";
    return NULL;
}

/* A line of a listed event is parsed once, here; the others are only
 * counted. */
void
ex_summary_add(struct ex *x, const struct ldg_event *ev, const json_t *body,
               const char *line, size_t len)
{
    const char *why = ex_failure_of(ev->type, body);
    int list = x->sum_nsel < EX_SUMMARY_LIST,
        listfail = why != NULL && x->sum_nfl < EX_SUMMARY_LIST;

    x->sum_nall++;
    x->sum_last_ts = ldg_event_time(ev);
    if (why != NULL)
        x->sum_nfail++;
    if (list || listfail) {
        /* (a line that does not parse, which export never writes, is
         * counted and not listed) */
        json_t *e = json_loadb(line, len, 0, NULL);
        if (e == NULL)
            return;
        if (listfail)
            x->sum_fail[x->sum_nfl++] = json_incref(e);
        if (list)
            x->sum_sel[x->sum_nsel++] = json_incref(e);
        json_decref(e);
    }
}

void
ex_summary_free(struct ex *x)
{
    for (size_t i = 0; i < x->sum_nsel; i++)
        json_decref(x->sum_sel[i]);
    for (size_t i = 0; i < x->sum_nfl; i++)
        json_decref(x->sum_fail[i]);
    x->sum_nsel = x->sum_nfl = 0;
}

/* The doctor (log-derived clauses) after the first size events. */
static json_t *
summary_doctor(struct ex *x, struct ldg_buf *b, const char *title,
               uint64_t size, const char *pack)
{
    struct ldg_view_opts vo;
    json_t *d = NULL, *p, *c;
    char msg[512];
    size_t i, j, k;
    int shown = 0;

    memset(&vo, 0, sizeof vo);
    vo.at_size = size;
    snprintf(msg, sizeof msg, "%s", ldg_errmsg(x->l));
    if (ldg_projections_view(x->l, LDG_VIEW_DOCTOR, &vo, &d) < 0) {
        ldg_buf_printf(b, "\n%s: not available (%s)\n", title,
                       ldg_errmsg(x->l));
        ldg_set_errmsg(x->l, "%s", msg);
        return NULL;
    }
    ldg_buf_printf(b, "\n%s (log size %llu): %s\n", title,
                   (unsigned long long)size, jget(d, "verdict"));
    json_array_foreach(json_object_get(d, "packs"), i, p)
    {
        if (pack != NULL && !jis(p, "pack", pack))
            continue;
        json_array_foreach(json_object_get(p, "clauses"), j, c)
        {
            json_t *line;
            if (jis(c, "status", "ok"))
                continue;
            ldg_buf_printf(b, "  %-4s pack %s: %s\n",
                           jis(c, "status", "fail") ? "FAIL" : "WARN",
                           jget(p, "pack"), jget(c, "name"));
            json_array_foreach(json_object_get(c, "detail"), k, line)
                ldg_buf_printf(b, "         %s\n", json_string_value(line));
            shown++;
        }
    }
    json_array_foreach(json_object_get(d, "box"), i, c)
    {
        json_t *line;
        if (jis(c, "status", "ok"))
            continue;
        ldg_buf_printf(b, "  %-4s %s\n",
                       jis(c, "status", "fail") ? "FAIL" : "WARN",
                       jget(c, "name"));
        json_array_foreach(json_object_get(c, "detail"), k, line)
            ldg_buf_printf(b, "         %s\n", json_string_value(line));
        shown++;
    }
    if (shown == 0)
        ldg_buf_puts(b, "  every clause holds\n");
    return d;
}

/* Sizes of the longest run whose doctor is kept at every point. */
#define DOCTOR_POINTS_MAX 512

/*
 * timeline.json's "doctor_points": the doctor after every size from lo to
 * hi (the events before the run's start through its end), so that `ledger
 * doctor --bundle --at` answers at any event or time of the run. Kept
 * where it changes: {"size", "seq" (the last event in), "ts" (its time),
 * "doctor"}; "ts" lists the time of every event lo-1..hi-1 (for --at
 * TIME), "first_ts" and "last_ts" are the first and last of them,
 * "next_ts" the time of the event after hi, when the checkpoint holds
 * one: a time before it is still at hi. A run longer than
 * DOCTOR_POINTS_MAX events keeps only the start and end ("doctor").
 */
/* doctor_points' walk: one point a size where the doctor changes */
struct dpts {
    struct ex *x;
    json_t *pts, *times, *prev;
};

static int
doctor_point(void *ctx, uint64_t size, json_t *d)
{
    struct dpts *p = ctx;
    struct ldg_event ev;
    json_t *cmp;
    int rc;

    if ((rc = ldg_event_get(p->x->win.t, size - 1, &ev)) < 0) {
        json_decref(d);
        return rc;
    }
    json_array_append_new(p->times, ldg_json_u64(ev.ts_ns));
    cmp = json_deep_copy(d);
    json_object_del(cmp, "size");
    if (p->prev != NULL && json_equal(p->prev, cmp)) {
        json_decref(cmp);
        json_decref(d);
        return 0;
    }
    json_decref(p->prev);
    p->prev = cmp;
    json_array_append_new(
        p->pts, json_pack("{s:o, s:o, s:o, s:o}", "size", ldg_json_u64(size),
                          "seq", ldg_json_u64(size - 1), "ts",
                          ldg_json_u64(ev.ts_ns), "doctor", d));
    return 0;
}

static void
doctor_points(struct ex *x, uint64_t lo, uint64_t hi)
{
    struct dpts p = {x, NULL, NULL, NULL};
    json_t *pts, *times, *o;
    struct ldg_event ev;
    char msg[512];

    if (hi < lo || hi - lo > DOCTOR_POINTS_MAX)
        return;
    snprintf(msg, sizeof msg, "%s", ldg_errmsg(x->l));
    p.pts = pts = json_array();
    p.times = times = json_array();
    if (ldg_projections_doctor_each(x->l, lo, hi, doctor_point, &p) < 0) {
        json_decref(pts);
        json_decref(times);
        json_decref(p.prev);
        ldg_set_errmsg(x->l, "%s", msg);
        return; /* the start and end doctors remain */
    }
    json_decref(p.prev);
    o = json_pack("{s:o, s:o, s:o, s:o}", "first_size", ldg_json_u64(lo),
                  "last_size", ldg_json_u64(hi), "points", pts, "ts", times);
    if (ldg_event_get(x->win.t, lo - 1, &ev) == 0)
        json_object_set_new(o, "first_ts", ldg_json_u64(ev.ts_ns));
    if (ldg_event_get(x->win.t, hi - 1, &ev) == 0)
        json_object_set_new(o, "last_ts", ldg_json_u64(ev.ts_ns));
    if (hi < x->cksize && ldg_event_get(x->win.t, hi, &ev) == 0)
        json_object_set_new(o, "next_ts", ldg_json_u64(ev.ts_ns));
    json_object_set_new(x->timeline, "doctor_points", o);
    ldg_set_errmsg(x->l, "%s", msg);
}

/* The run's timeline and the doctor at its start and end. Only for a
 * bundle that redacts nothing: both read whole bodies. */
static void
summary_run(struct ex *x, struct ldg_buf *b)
{
    const char *run = x->o->run;
    const json_t *tl = x->o->run_timeline ? x->o->run_timeline : x->run_tl;
    json_t *own = NULL, *docs, *d;
    char *text = NULL;
    uint64_t s = 0, e = 0;

    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0) {
        ldg_buf_printf(b,
                       "\nThe timeline of run %s and the doctor are left out: "
                       "fields or bodies\nwere redacted, and both would show "
                       "them.\n",
                       run);
        return;
    }
    if (tl == NULL && ldg_query_timeline(x->win.t, run, &own) == 0)
        tl = own;
    if (tl == NULL || ldg_query_timeline_text(tl, &text) < 0) {
        ldg_buf_printf(b, "\nRun %s: no timeline (%s)\n", run,
                       ldg_errmsg(x->l));
        json_decref(own);
        return;
    }
    ldg_buf_printf(b, "\nRun %s, as `" LDG_CMD_TIMELINE "` shows it:\n\n", run,
                   run);
    ldg_buf_puts(b, text);
    if (ldg_parse_u64(jget(json_object_get(tl, "start"), "seq"),
                      strlen(jget(json_object_get(tl, "start"), "seq")),
                      LDG_DEC_CANONICAL, &s) < 0)
        s = 0;
    if (ldg_parse_u64(jget(json_object_get(tl, "end"), "seq"),
                      strlen(jget(json_object_get(tl, "end"), "seq")),
                      LDG_DEC_CANONICAL, &e) < 0)
        e = 0;
    docs = json_array();
    if (s > 0 && (d = summary_doctor(
                      x, b, "Doctor at the run's start", s,
                      json_string_value(json_object_get(tl, "pack")))) != NULL)
        json_array_append_new(docs, d);
    if (e > 0 && e < x->cksize &&
        (d = summary_doctor(x, b, "Doctor at the run's end", e + 1,
                            json_string_value(json_object_get(tl, "pack")))) !=
            NULL)
        json_array_append_new(docs, d);
    else if (e == 0)
        ldg_buf_printf(b, "\nThe run has no end event up to the checkpoint.\n");
    free(text);
    /* timeline.json: the same, for `ledger timeline --bundle` and `ledger
     * doctor --bundle --at` on the receiving side */
    x->timeline = json_pack("{s:s, s:O, s:o}", "run", run, "timeline", tl,
                            "doctor", docs);
    json_decref(own);
    if (x->timeline != NULL && s > 0 && e >= s)
        doctor_points(x, s, e + 1 < x->cksize ? e + 1 : x->cksize);
}

/* The control pipeline's plan (export --plan): its timeline as the CLI
 * computed it (pipeline/pipeline.h). Only when nothing is redacted. */
static void
summary_plan(struct ex *x, struct ldg_buf *b)
{
    const char *plan = x->o->plan;
    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0) {
        ldg_buf_printf(b,
                       "\nThe timeline of plan %s is left out: fields or "
                       "bodies were redacted,\nand it would show them.\n",
                       plan);
        return;
    }
    ldg_buf_printf(b, "\nPlan %s, as `" LDG_CMD_TIMELINE "` shows it:\n\n",
                   plan, plan);
    ldg_buf_puts(b, x->o->plan_timeline_text);
    x->timeline =
        json_pack("{s:s, s:O}", "plan", plan, "timeline", x->o->plan_timeline);
}

/* SUMMARY.txt: the bundle in words, for the person who receives it. */
int
ex_write_summary(struct ex *x, uint64_t now_ns)
{
    const struct ldg_export_opts *o = x->o;
    struct ldg_buf b = {0};
    char when[48], t0[48] = "", t1[48] = "";
    json_t **sel = x->sum_sel, **fails = x->sum_fail;
    size_t nsel = x->sum_nsel, nfl = x->sum_nfl, nall = x->sum_nall,
           nfail = x->sum_nfail, nlist = 0;
    int rc = 0;

    human_utc(when, sizeof when, now_ns);
    ldg_buf_printf(&b, "Summary of evidence bundle %s\n\n", x->top);
    ldg_buf_printf(&b, "From the ledger of %s, exported on %s%s%s.\n",
                   x->origin, when, o->exported_by ? " by " : "",
                   o->exported_by ? o->exported_by : "");
    ldg_buf_puts(&b, "Selection:");
    if (o->nterms == 0 && !o->since && !o->until)
        ldg_buf_puts(&b, " every event");
    for (int i = 0; i < o->nterms; i++)
        ldg_buf_printf(&b, " %s", o->terms[i]);
    if (o->since)
        ldg_buf_printf(&b, " since %s", o->since);
    if (o->until)
        ldg_buf_printf(&b, " until %s", o->until);
    ldg_buf_puts(&b, "\n");
    ldg_buf_printf(
        &b,
        "Events: %llu: %llu selected, %llu added to establish keys "
        "or erasures,\n        each proven against the signed "
        "checkpoint of size %llu.\n",
        (unsigned long long)x->nev, (unsigned long long)x->rep.selected,
        (unsigned long long)x->rep.support, (unsigned long long)x->cksize);
    ldg_buf_printf(&b,
                   "Bodies: %llu whole, %llu redacted (%llu fields withheld), "
                   "%llu withheld whole,\n        %llu erased in the ledger.\n",
                   (unsigned long long)x->rep.bodies_full,
                   (unsigned long long)x->rep.bodies_redacted,
                   (unsigned long long)x->rep.fields_withheld,
                   (unsigned long long)x->rep.bodies_withheld,
                   (unsigned long long)x->rep.bodies_erased);
    ldg_buf_printf(&b, "Projected state: %s.\n", x->rep.state_detail);

    /* the selected events, as events.jsonl has them (already redacted):
     * gathered line by line as it was written (ex_summary_add) */
    if (nall > 0) {
        uint64_t a = 0;
        const char *ta = nsel > 0 ? jget(sel[0], "ts") : "";
        if (ldg_parse_u64(ta, strlen(ta), LDG_DEC_CANONICAL, &a) == 0)
            human_utc(t0, sizeof t0, a);
        human_utc(t1, sizeof t1, x->sum_last_ts);
        ldg_buf_printf(&b, "Time span: %s to %s.\n", t0, t1);
    }
    ldg_buf_printf(&b, "\nWhat failed or was refused: %zu event%s\n", nfail,
                   nfail == 1 ? "" : "s");
    if (nfail == 0)
        ldg_buf_puts(&b,
                     "  nothing: no selected event reports a failure, a "
                     "denial, a withdrawn\n  permission, a model offline or "
                     "a runtime down\n");
    for (size_t i = 0; i < nfl; i++) {
        const char *why = ex_failure_of(jget(fails[i], "type"),
                                        json_object_get(fails[i], "body"));
        uint64_t ts = 0;
        const char *tss = jget(fails[i], "ts");
        if (ldg_parse_u64(tss, strlen(tss), LDG_DEC_CANONICAL, &ts) == 0)
            human_utc(t0, sizeof t0, ts);
        ldg_buf_printf(&b, "  #%-6s %s  %-22s %s  (%s)\n",
                       jget(fails[i], "seq"), t0, jget(fails[i], "type"),
                       jget(fails[i], "subject"), why ? why : "");
    }
    if (nfail > nfl)
        ldg_buf_printf(&b, "  ... and %zu more: events.jsonl has every one\n",
                       nfail - nfl);
    if (o->run != NULL)
        summary_run(x, &b);
    else if (o->plan != NULL && o->plan_timeline != NULL &&
             o->plan_timeline_text != NULL)
        summary_plan(x, &b);
    else if (x->state != NULL)
        json_decref(
            summary_doctor(x, &b, "Doctor at the checkpoint", x->cksize, NULL));
    ldg_buf_printf(&b, "\nEvents selected (%zu):\n", nall);
    for (size_t i = 0; i < nsel && nlist < EX_SUMMARY_LIST; i++, nlist++) {
        uint64_t ts = 0;
        const char *tss = jget(sel[i], "ts"), *run = jget(sel[i], "run");
        if (ldg_parse_u64(tss, strlen(tss), LDG_DEC_CANONICAL, &ts) == 0)
            human_utc(t0, sizeof t0, ts);
        ldg_buf_printf(&b, "  #%-6s %s  %-22s %s%s%s%s\n", jget(sel[i], "seq"),
                       t0, jget(sel[i], "type"), jget(sel[i], "subject"),
                       *run ? "  run " : "", run,
                       json_is_true(json_object_get(sel[i], "body_withheld"))
                           ? "  [body withheld]"
                       : json_is_true(json_object_get(sel[i], "erased"))
                           ? "  [body erased]"
                           : "");
    }
    if (nall > nlist)
        ldg_buf_printf(&b, "  ... and %zu more: events.jsonl has every one\n",
                       nall - nlist);
    if (b.err) {
        rc = b.err;
        goto out;
    }
    rc = ex_member_put(x, B_SUMMARY, b.p, b.len, b.p);
    b.p = NULL;
out:
    free(b.p);
    return rc;
}
