/*
 * write_html.c — index.html, the bundle's page (page/page.h): what a
 * support engineer opens in a browser before installing anything. With
 * `export --run` (nothing redacted) it is the run's page, as `ledger
 * timeline RUN --html` draws it, with the exporter's doctor at the run's
 * start; otherwise the selected events as events.jsonl has them (so
 * redactions hold on the page too). Either way it says plainly that it is
 * the exporter's view and that `ledger verify-bundle` is what proves it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/write_int.h"
#include "page/page.h"

/* The first LDG_PAGE_EVENTS_MAX lines of events.jsonl as JSON. */
static json_t *
jsonl_events(const struct ex *x)
{
    json_t *a = json_array();
    const char *p = x->jsonl.s, *end = p ? p + x->jsonl.len : NULL;
    /* a bundle of more events than a page shows (an archive): the first
     * thousand, and the page says how many there are */
    size_t n = 0,
           most = x->nev > LDG_PAGE_EVENTS_MAX ? 1000 : LDG_PAGE_EVENTS_MAX;

    while (p != NULL && p < end && n < most) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *e = json_loadb(p, len, 0, NULL);
        if (e != NULL) {
            json_array_append_new(a, e);
            n++;
        }
        p += len + 1;
    }
    return a;
}

int
ex_write_index(struct ex *x, uint64_t now_ns)
{
    json_t *m = NULL, *ev;
    char *html = NULL;
    size_t hlen = 0;
    char title[200], sub[600], when[48], notice[1200], line[1400];
    int rc;

    ldg_time_rfc3339_sec(when, sizeof when, now_ns);
    if (x->timeline != NULL &&
        json_is_string(json_object_get(x->timeline, "plan"))) {
        /* export --plan: the plan's page */
        rc = ldg_page_plan(json_object_get(x->timeline, "timeline"), &m);
    } else if (x->timeline != NULL) {
        const json_t *d =
            json_array_get(json_object_get(x->timeline, "doctor"), 0);
        rc = ldg_page_run(json_object_get(x->timeline, "timeline"), &m);
        if (rc == 0 && d != NULL) {
            char dt[200];
            snprintf(dt, sizeof dt, "Doctor at the run's start (log size %s)",
                     json_string_value(json_object_get(d, "size"))
                         ? json_string_value(json_object_get(d, "size"))
                         : "?");
            ldg_page_set_doctor(
                m, d,
                json_string_value(json_object_get(
                    json_object_get(x->timeline, "timeline"), "pack")),
                dt);
        }
    } else {
        json_t *evs = jsonl_events(x);
        snprintf(title, sizeof title, "Evidence bundle %s", x->top);
        snprintf(sub, sizeof sub, "%llu events of %s, exported %s",
                 (unsigned long long)x->nev, x->origin, when);
        rc = ldg_page_events(evs, x->nev, title, sub, &m);
        json_decref(evs);
    }
    if (rc < 0)
        return rc;
    snprintf(notice, sizeof notice,
             "This page is the exporter's view of bundle %s, drawn when it "
             "was exported (%s). It proves nothing by itself: "
             "`" LDG_CMD_VERIFY_BUNDLE_KEY "` is what proves the events, "
             "their signatures and the checkpoint (README.txt says how).",
             x->top, when, "KEY", x->file);
    json_object_set_new(m, "notice", json_string(notice));
    ev = json_pack("{s:s, s:[]}", "status", "warn", "lines");
    snprintf(line, sizeof line,
             "The exporter proved each of the bundle's %llu events against "
             "the checkpoint of size %llu of the log %s, signed by the log "
             "key %s (log.vkey; compare it with the key the box's owner "
             "gave you).",
             (unsigned long long)x->nev, (unsigned long long)x->cksize,
             x->origin, x->vkey);
    json_array_append_new(json_object_get(ev, "lines"), json_string(line));
    json_array_append_new(json_object_get(ev, "lines"),
                          json_string("Not yet verified on this side: run "
                                      "`" LDG_CMD_VERIFY_BUNDLE
                                      "` to check every "
                                      "proof, signature and digest offline."));
    json_object_set_new(m, "evidence", ev);
    snprintf(line, sizeof line, "Written by `" LDG_CMD_EXPORT "` at %s.", when);
    json_object_set_new(m, "generator", json_string(line));
    rc = ldg_page_html(m, &html, &hlen);
    json_decref(m);
    if (rc < 0)
        return rc;
    return ex_member_put(x, B_INDEX, html, hlen, html);
}
