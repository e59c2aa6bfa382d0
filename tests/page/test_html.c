/*
 * test_html.c — the page (page/html.c, page/model.c): a run's timeline
 * becomes marks in lanes and lines with their bodies, each line the words
 * `ledger timeline` says of the event, bad events are
 * marked, text from the log is escaped (a body cannot inject markup), the
 * page refers to nothing outside itself, the doctor's verdict is the
 * pack's, a list of events is drawn by kind, and a model that is not one
 * is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "page/page.h"
#include "query/query.h"

static const char *tl_text =
    "{\"run\":\"R-1\",\"pack\":\"p\",\"status\":\"failed\","
    "\"start\":{\"seq\":\"3\",\"time\":\"2026-11-24T10:00:00Z\"},"
    "\"counts\":{\"events\":4},"
    "\"permissions\":[{\"state\":\"denied\",\"group\":\"net.egress\","
    "\"scope\":\"x\",\"seq\":\"2\"}],\"evals\":[],"
    "\"events\":["
    "{\"seq\":\"3\",\"kind\":\"start\",\"type\":\"run.started\",\"rel_us\":0,"
    "\"body\":{\"run\":\"R-1\",\"pack\":\"p\",\"intent\":\"<script>alert(1)"
    "</script>\"}},"
    "{\"seq\":\"4\",\"kind\":\"route\",\"type\":\"route.decision\","
    "\"rel_us\":1000,\"body\":{\"route\":\"p/r\",\"chosen_model\":\"small\","
    "\"fallback\":true,\"latency_ms\":12,\"outcome\":\"ok\"}},"
    "{\"seq\":\"5\",\"kind\":\"step\",\"type\":\"run.step\",\"rel_us\":2000,"
    "\"body\":{\"step\":\"s\",\"status\":\"failed\"}},"
    "{\"seq\":\"6\",\"kind\":\"policy\",\"type\":\"run.policy\","
    "\"rel_us\":3000,\"denied\":true,\"body\":{\"decision\":\"deny\","
    "\"rule\":\"net.egress:x\"}}]}";

static char *
page_of(json_t *model)
{
    char *html = NULL;
    size_t n = 0;
    assert_int_equal(ldg_page_html(model, &html, &n), 0);
    assert_non_null(html);
    assert_int_equal(strlen(html), n);
    return html;
}

/* The page of the timeline text tl. */
static char *
page_of_text(const char *text)
{
    json_t *tl = json_loads(text, 0, NULL), *m = NULL;
    char *html;
    assert_non_null(tl);
    assert_int_equal(ldg_page_run(tl, &m), 0);
    html = page_of(m);
    json_decref(m);
    json_decref(tl);
    return html;
}

static void
test_html__run_page(void **state)
{
    json_t *tl = json_loads(tl_text, 0, NULL), *m = NULL, *doc;
    char *html;
    (void)state;

    assert_non_null(tl);
    assert_int_equal(ldg_page_run(tl, &m), 0);
    /* each event's line is what `ledger timeline` says of it */
    for (size_t i = 0; i < 4; i++) {
        const json_t *e = json_array_get(json_object_get(tl, "events"), i);
        const json_t *pe = json_array_get(json_object_get(m, "events"), i);
        char *words = ldg_query_timeline_event_text(e, NULL);
        assert_non_null(words);
        assert_string_equal(json_string_value(json_object_get(pe, "label")),
                            words);
        free(words);
    }
    doc = json_loads("{\"verdict\":\"blocked\",\"packs\":[{\"pack\":\"q\","
                     "\"verdict\":\"healthy\"},{\"pack\":\"p\",\"verdict\":"
                     "\"degraded\",\"ok\":[\"enabled\"],\"clauses\":[{"
                     "\"name\":\"routes-proven\",\"status\":\"fail\","
                     "\"detail\":[\"route p/r: failing\"]}]}],\"box\":[]}",
                     0, NULL);
    assert_int_equal(ldg_page_set_doctor(m, doc, "p", "Doctor at the start"),
                     0);
    html = page_of(m);
    /* every event has its line and its mark */
    for (int s = 3; s <= 6; s++) {
        char id[32], href[32];
        snprintf(id, sizeof id, "id=\"e%d\"", s);
        snprintf(href, sizeof href, "href=\"#e%d\"", s);
        assert_non_null(strstr(html, id));
        assert_non_null(strstr(html, href));
    }
    /* the failed step and the denial are bad, the others not */
    assert_non_null(strstr(html, "id=\"e5\" class=\"bad\""));
    assert_non_null(strstr(html, "id=\"e6\" class=\"bad\""));
    assert_non_null(strstr(html, "id=\"e4\" class=\"ok\""));
    /* the route decision names the model that answered and the fallback */
    assert_non_null(strstr(html, "p/r -&gt; small  FALLBACK  12ms  ok"));
    assert_non_null(strstr(html, " f\" style=\"left:"));
    /* the pack's verdict, not the box's or another pack's */
    assert_non_null(strstr(html, "Doctor at the start: <span class=\"vd\">"
                                 "degraded"));
    assert_non_null(strstr(html, "routes-proven: route p/r: failing"));
    /* lanes by kind */
    assert_non_null(strstr(html, "<div class=\"ln\">route decisions</div>"));
    assert_non_null(strstr(html, "<div class=\"ln\">steps</div>"));
    /* the body's text is escaped: no markup from the log */
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    /* nothing from elsewhere */
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_non_null(strstr(html, "default-src 'none'"));
    /* the permission denied at the start */
    assert_non_null(strstr(html, "class=\"bad\">&#x2715; denied net.egress"));
    free(html);
    json_decref(m);
    json_decref(doc);
    json_decref(tl);
}

/* Context from long before the run (a runtime's health 100 minutes
 * earlier) is drawn in a band of its own at the left, and the axis spans
 * the run's own events (issue 46: the README demo's run sat in the last
 * 0.04 % of an axis that began with the morning's context). */
static void
test_html__context_long_before_the_run_has_its_band(void **state)
{
    json_t *tl = json_loads(
               "{\"run\":\"R-1\",\"pack\":\"p\",\"status\":\"ok\","
               "\"start\":{\"seq\":\"3\",\"time\":\"2026-11-24T10:00:00Z\"},"
               "\"counts\":{\"events\":3},\"permissions\":[],\"evals\":[],"
               "\"events\":["
               "{\"seq\":\"2\",\"kind\":\"context\",\"type\":"
               "\"runtime.health\",\"rel_us\":-6000000000,\"body\":{"
               "\"runtime\":\"ollama\",\"status\":\"up\"}},"
               "{\"seq\":\"3\",\"kind\":\"start\",\"type\":\"run.started\","
               "\"rel_us\":0,\"body\":{\"run\":\"R-1\",\"pack\":\"p\"}},"
               "{\"seq\":\"4\",\"kind\":\"step\",\"type\":\"run.step\","
               "\"rel_us\":1000000,\"body\":{\"step\":\"s\",\"status\":"
               "\"ok\"}},"
               "{\"seq\":\"5\",\"kind\":\"end\",\"type\":\"run.finished\","
               "\"rel_us\":2000000,\"body\":{\"run\":\"R-1\",\"status\":"
               "\"ok\"}}]}",
               0, NULL),
           *m = NULL;
    char *html;
    (void)state;

    assert_non_null(tl);
    assert_int_equal(ldg_page_run(tl, &m), 0);
    html = page_of(m);
    /* the band, and the context event in it */
    assert_non_null(strstr(html, "<span style=\"left:0%;transform:none\">"
                                 "before</span>"));
    assert_non_null(strstr(html, "style=\"left:5.00%\" href=\"#e2\""));
    assert_non_null(strstr(html, "The 1 context event from before the "
                                 "run's first event is drawn"));
    /* the run over the rest: its start at the band's edge, its step in
     * the middle, its end at the right */
    assert_non_null(strstr(html, "style=\"left:10.00%\" href=\"#e3\""));
    assert_non_null(strstr(html, "style=\"left:55.00%\" href=\"#e4\""));
    assert_non_null(strstr(html, "style=\"left:100.00%\" href=\"#e5\""));
    assert_non_null(strstr(html, "<span style=\"left:10%\">+0.0 ms</span>"));
    free(html);
    json_decref(m);
    json_decref(tl);
    /* a run with no context before it: no band, the axis from its start */
    html = page_of_text(tl_text);
    assert_null(strstr(html, ">before</span>"));
    assert_non_null(strstr(html, "<span style=\"left:0%;transform:none\">"));
    free(html);
}

/* A recorded name long enough that the title's or a line's buffer ends
 * inside one of its characters: the page is drawn, its text valid UTF-8,
 * the name cut at a character (the page and `export --run` failed: jansson
 * refused the cut text, reported as "not a timeline" or out of memory). */
static void
test_html__long_multibyte_names_still_draw(void **state)
{
    json_t *tl = json_loads(tl_text, 0, NULL), *m = NULL, *root;
    char pack[1300], name[2000];
    size_t k = 0;
    (void)state;
    assert_non_null(tl);
    for (int off = 0; off < 3; off++) {
        k = 0;
        for (int i = 0; i < off; i++)
            pack[k++] = 'a';
        while (k + 3 < 398)
            k += (size_t)sprintf(pack + k, "\xe2\x82\xac");
        pack[k] = '\0';
        json_object_set_new(tl, "pack", json_string(pack));
        k = 0;
        while (k + 3 < sizeof name - 1)
            k += (size_t)sprintf(name + k, "\xe2\x82\xac");
        name[k] = '\0';
        root = json_pack("{s:s, s:s, s:s}", "seq", "3", "name", name, "status",
                         "ok");
        json_object_set_new(tl, "root", root);
        assert_int_equal(ldg_page_run(tl, &m), 0);
        assert_non_null(json_string_value(json_object_get(m, "subtitle")));
        char *html = page_of(m);
        assert_non_null(strstr(html, "\xe2\x82\xac\xe2\x82\xac"));
        free(html);
        json_decref(m);
    }
    json_decref(tl);
}

/* More kinds than the picture has lanes (custom types on a bundle's
 * page): every event still has its mark, the kinds past the 63rd in a
 * last lane "other kinds" (they had none). */
static void
test_html__every_event_has_a_mark_past_64_kinds(void **state)
{
    json_t *evs = json_array(), *m = NULL;
    char *html, type[32];
    size_t marks = 0;
    (void)state;
    for (int i = 0; i < 70; i++) {
        snprintf(type, sizeof type, "k%d.thing", i);
        json_array_append_new(
            evs, json_pack("{s:s, s:s, s:s, s:s}", "seq", "1", "ts", "1000",
                           "type", type, "subject", "x"));
        json_string_set(json_object_get(json_array_get(evs, (size_t)i), "seq"),
                        type); /* a distinct anchor a mark */
    }
    assert_int_equal(ldg_page_events(evs, 70, "T", "S", &m), 0);
    html = page_of(m);
    for (const char *p = html; (p = strstr(p, "<a class=\"m ")) != NULL; p++)
        marks++;
    assert_int_equal(marks, 70);
    assert_non_null(strstr(html, "<div class=\"ln\">other kinds</div>"));
    assert_non_null(strstr(html, "<div class=\"ln\">k0</div>"));
    free(html);
    json_decref(m);
    json_decref(evs);
}

static void
test_html__events_page(void **state)
{
    json_t *evs = json_loads(
        "[{\"seq\":\"10\",\"ts\":\"1000\",\"type\":\"model.state\","
        "\"subject\":\"model:a\",\"body\":{\"state\":\"offline\"}},"
        "{\"seq\":\"11\",\"ts\":\"5000\",\"type\":\"route.decision\","
        "\"subject\":\"route:r\",\"body\":{\"route\":\"r\",\"chosen_model\":"
        "\"a\",\"outcome\":\"error\"}},"
        "{\"seq\":\"12\",\"ts\":\"9000\",\"type\":\"x.note\",\"subject\":"
        "\"x\"}]",
        0, NULL);
    json_t *m = NULL;
    char *html;
    (void)state;

    assert_int_equal(ldg_page_events(evs, 40, "T \"q\"", "S", &m), 0);
    html = page_of(m);
    assert_non_null(strstr(html, "<title>T &quot;q&quot;</title>"));
    assert_non_null(strstr(html, "<div class=\"ln\">model</div>"));
    assert_non_null(strstr(html, "<div class=\"ln\">route</div>"));
    assert_non_null(strstr(html, "<div class=\"ln\">x</div>"));
    assert_non_null(strstr(html, "id=\"e10\" class=\"bad\"")); /* offline */
    assert_non_null(strstr(html, "id=\"e11\" class=\"bad\"")); /* error */
    assert_non_null(strstr(html, "id=\"e12\" class=\"ok\""));
    assert_non_null(strstr(html, "Only the first 3 of 40 events"));
    free(html);
    json_decref(m);
    json_decref(evs);
}

static void
test_html__refuses_what_is_not_a_model(void **state)
{
    char *html = NULL;
    size_t n = 0;
    json_t *bad = json_loads("{\"events\":{}}", 0, NULL), *m = NULL;
    (void)state;

    assert_int_equal(ldg_page_html(bad, &html, &n), LDG_EINVAL);
    assert_null(html);
    assert_int_equal(ldg_page_html(NULL, &html, &n), LDG_EINVAL);
    assert_int_equal(ldg_page_html(bad, NULL, &n), LDG_EINVAL);
    assert_int_equal(ldg_page_run(bad, &m), LDG_EINVAL);
    assert_null(m);
    assert_int_equal(ldg_page_events(bad, 0, NULL, NULL, &m), LDG_EINVAL);
    assert_int_equal(ldg_page_set_doctor(bad, NULL, NULL, NULL), LDG_EINVAL);
    json_decref(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html__run_page),
        cmocka_unit_test(test_html__context_long_before_the_run_has_its_band),
        cmocka_unit_test(test_html__long_multibyte_names_still_draw),
        cmocka_unit_test(test_html__events_page),
        cmocka_unit_test(test_html__every_event_has_a_mark_past_64_kinds),
        cmocka_unit_test(test_html__refuses_what_is_not_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
