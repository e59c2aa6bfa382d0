/*
 * page.h — one self-contained HTML page that shows a timeline as a
 * picture (docs/PAGE.md): `ledger timeline RUN --html FILE` and the
 * index.html at the top of every evidence bundle.
 *
 * The renderer is generic over a timeline: it draws a "page model", a
 * JSON object that says nothing of runs,
 *
 *   {"title": S, "subtitle": S?, "notice": S?,
 *    "verdict": {"title": S, "verdict": "healthy|degraded|blocked|unknown",
 *                "lines": [{"status": "ok|warn|fail|unknown",
 *                           "text": S}]}?,
 *    "evidence": {"status": "ok|warn|unknown", "lines": [S]}?,
 *    "facts": [{"title": S, "lines": [{"bad": B, "text": S}]}]?,
 *    "events": [{"seq": S, "rel_us": N, "time": S, "lane": S,
 *                "type": S, "label": S, "bad": B, "fallback": B,
 *                "body": {...}|null, "depth": N?}],
 *    "events_total": N?, "generator": S?}
 *
 * and ldg_page_run builds one from a run's timeline (ldg_query_timeline's
 * object). A plan, once plans exist, needs only its own builder of the
 * same model: the picture, lanes, colours and the list come for free.
 *
 * The page fetches nothing: inline CSS, no script, no font or image, and
 * a Content-Security-Policy of default-src 'none' that keeps it so. Marks
 * carry their type and body as a tooltip (the title attribute); each
 * event is also a line of the list below the picture, with its whole body.
 * Colours are the Okabe-Ito palette (told apart by the colour-blind), and
 * a failure is vermillion red *and* a cross, so no meaning rests on colour
 * alone. It reflows on a phone and prints in black and white legibly.
 */
#ifndef LDG_PAGE_H
#define LDG_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"

/* Events the page lists at most; a longer timeline shows the first ones
 * and says how many more there are ("events_total"). */
#define LDG_PAGE_EVENTS_MAX 20000

/* Writes the page of model: *out a new NUL-terminated text of *len
 * bytes, the caller's (free). Every string is escaped; a missing field
 * is left out of the page.
 * @return 0; LDG_EINVAL when model is not an object with an "events"
 *   array; LDG_ENOMEM.
 * Cost: linear in the events; about 1 KiB of HTML an event. */
int ldg_page_html(const json_t *model, char **out, size_t *len);

/* The page model of a run's timeline (ldg_query_timeline's object, as
 * `ledger timeline R -o json` prints it): title, subtitle, the
 * permissions and evals in force at the start as facts, and one event per
 * timeline event, in lanes by kind (run, step, route, policy, context),
 * failed steps, denials and errors marked bad, route decisions labelled
 * with the model that answered and FALLBACK. A trace's spans keep their
 * depth (the list indents them under their parent), a proxy's record
 * joined to the app's span says whether the two witnesses agree (bad when
 * not), and the pairs are listed as a fact. The subtitle's times are in
 * the one human format (util.h's ldg_time_when). *out: a new object (the
 * caller json_decref's). LDG_EINVAL when tl is not a timeline. */
int ldg_page_run(const json_t *tl, json_t **out);

/* The page model of a list of events, as `ledger show -o json` and a
 * bundle's events.jsonl give them ({"seq", "ts", "time", "type",
 * "subject", "actor_name"?, "body"?}, in seq order): one lane per kind of
 * event (the type's first word: run, route, permission, model, ...), each
 * labelled with its subject and the body's telling fields, bad as for a
 * run. At most LDG_PAGE_EVENTS_MAX are kept; total says how many there
 * are in all. *out: a new object. LDG_EINVAL when events is not an
 * array. */
int ldg_page_events(const json_t *events, size_t total, const char *title,
                    const char *subtitle, json_t **out);

/* The page model of a control-pipeline plan's story
 * (ldg_pipeline_timeline's object, as `ledger timeline PLAN -o json`
 * prints it): title "Plan P: STATE", its path of states, the rules it
 * broke (each by seq) as facts, and one event per timeline event in lanes
 * by kind of thing (plan, debate, snapshot, tripcode, build, ...), an
 * event that broke a rule marked bad with the rule in its label. Plan
 * timelines carry no bodies. *out: a new object. LDG_EINVAL when tl is not
 * a plan timeline. */
int ldg_page_plan(const json_t *tl, json_t **out);

/* Sets the model's "verdict" from a doctor object (ldg_doctor_run's or
 * the projections' LDG_VIEW_DOCTOR, or a bundle's timeline.json doctor):
 * the verdict of pack (NULL: the box's), with each clause that does not
 * hold and its detail. title says when ("Doctor at the run's start, log
 * size 23"). */
int ldg_page_set_doctor(json_t *model, const json_t *doctor, const char *pack,
                        const char *title);

/* The page's evidence box ("evidence" of the model) for events read from
 * the ledger of t: its newest checkpoint and log key, what `ledger
 * verify` last found (a standing finding makes it "fail", events not yet
 * verified "warn"), and the export that proves them (`ledger export FLAG
 * NAME`, FLAG --run or --plan). *out: a new object.
 * @return 0; LDG_EINVAL; LDG_ENOMEM. */
int ldg_page_evidence_ledger(struct ldg_txn *t, const char *flag,
                             const char *name, json_t **out);
/* The evidence box of a page drawn from a bundle just verified (kind:
 * "bundle" or "segment", as the reader named it; NULL says "bundle"): its
 * events proven against its checkpoint of that size of the log origin;
 * with say_key, which key signed it (insecure: the one the bundle
 * carries, unchecked, and the box says "warn"). *out: a new object.
 * @return 0; LDG_EINVAL; LDG_ENOMEM. */
int ldg_page_evidence_bundle(const char *file, const char *kind, size_t events,
                             uint64_t checkpoint_size, const char *origin,
                             int insecure, int say_key, json_t **out);

#endif
