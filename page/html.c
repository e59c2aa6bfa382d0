/*
 * html.c — a page model (page.h) as one self-contained HTML file.
 *
 * Layout, top to bottom: the title and a line of counts; the notice (a
 * bundle's "this is the exporter's view"); the doctor's verdict with each
 * clause; the evidence status; the facts (permissions and evals in force
 * at the start); the picture — a time axis and one lane per kind of event,
 * each event a mark placed at its time, its type and body in a tooltip,
 * linked to its line; and the list of every event with its whole body. No
 * script: the tooltips are title attributes, the links are anchors, so the page
 * works where script is off and prints whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page/page.h"
#include "util/util.h"

#define TITLE_BODY_MAX 300 /* bytes of a body in a mark's tooltip */
/* A body as the page shows it: a number with the digits it was given
 * (15 significant, as the timeline's text; jansson's default of 17 wrote
 * a span's 94.318153 ms as 94.31815300000001) */
#define BODY_JSON (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

#define sget(o, k) ldg_json_str(o, k)

/* Text, escaped for HTML content and attribute values; invalid UTF-8 and
 * control characters (except newline and tab) become U+FFFD. */
static void
esc_n(struct ldg_buf *b, const char *s, size_t n)
{
    size_t i = 0, from = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        if (ch == '&')
            rep = "&amp;";
        else if (ch == '<')
            rep = "&lt;";
        else if (ch == '>')
            rep = "&gt;";
        else if (ch == '"')
            rep = "&quot;";
        else if (ch == '\'')
            rep = "&#39;";
        else if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            rep = "\xef\xbf\xbd";
        if (rep != NULL) {
            ldg_buf_add(b, s + from, i - from);
            ldg_buf_puts(b, rep);
            from = ++i;
            continue;
        }
        i++;
    }
    ldg_buf_add(b, s + from, n - from);
}

static void
esc(struct ldg_buf *b, const char *s)
{
    esc_n(b, s, strlen(s));
}

static const char *const style =
    ":root{--fg:#1b1b1b;--mu:#555;--bg:#fff;--ln:#ddd;--bad:#d55e00;"
    "--ok:#009e73;--warn:#e69f00;--k0:#0072b2;--k1:#009e73;--k2:#cc79a7;"
    "--k3:#56b4e9;--k4:#999;--k5:#e69f00;--k6:#000}\n"
    "*{box-sizing:border-box}\n"
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--fg);background:var(--bg);margin:0 auto;padding:1em;"
    "max-width:72em;overflow-wrap:anywhere}\n"
    "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}"
    "\n.sub{color:var(--mu);margin:.2em 0 1em}\n"
    "code,pre,.seq,.t{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,"
    "monospace;font-size:.9em}\n"
    ".notice{border:2px solid var(--fg);padding:.6em .8em;margin:1em 0;"
    "font-weight:600}\n"
    ".box{border-left:6px solid var(--k4);padding:.3em .8em;margin:.6em 0;"
    "background:#f6f6f6}\n"
    ".v-healthy,.s-ok{border-color:var(--ok)}"
    ".v-degraded,.s-warn{border-color:var(--warn)}"
    ".v-blocked,.s-fail{border-color:var(--bad)}\n"
    ".box ul,.facts ul{margin:.3em 0;padding-left:1.2em}\n"
    ".st{display:inline-block;min-width:4.5em;font-weight:700;"
    "font-family:ui-monospace,monospace;font-size:.85em}\n"
    ".st-fail,li.bad{color:var(--bad)}\n"
    ".st-warn{color:#8a5a00}.st-ok{color:var(--ok)}\n"
    ".chart{overflow-x:auto;border:1px solid var(--ln);padding:.4em 0}\n"
    ".plot{min-width:40em;position:relative}\n"
    ".lane{display:flex;align-items:center;border-top:1px solid var(--ln);"
    "min-height:2.2em}\n"
    ".ln{flex:0 0 9em;padding:0 .5em;font-size:.85em;color:var(--mu)}\n"
    ".tr{position:relative;flex:1;height:2.2em;margin-right:1em}\n"
    ".m{position:absolute;top:.55em;width:1.1em;height:1.1em;margin-left:"
    "-.55em;border-radius:50%;border:2px solid #fff;text-decoration:none;"
    "font-size:.75em;line-height:.9em;text-align:center;color:#fff}\n"
    ".m:hover,.m:focus{outline:2px solid var(--fg);z-index:2}\n"
    ".k0{background:var(--k0)}.k1{background:var(--k1)}.k2{background:"
    "var(--k2)}.k3{background:var(--k3)}.k4{background:var(--k4)}.k5{"
    "background:var(--k5)}.k6{background:var(--k6)}\n"
    ".m.b{background:var(--bad);border-radius:0;border-color:var(--fg);"
    "width:1.3em;height:1.3em;top:.45em}\n"
    ".m.f{border:2px dashed var(--fg)}\n"
    ".axis{display:flex;margin-left:9em;margin-right:1em;position:relative;"
    "height:1.4em;font-size:.75em;color:var(--mu)}\n"
    ".axis span{position:absolute;transform:translateX(-50%);"
    "white-space:nowrap}\n"
    ".legend{font-size:.85em;color:var(--mu)}\n"
    ".legend i{display:inline-block;width:.9em;height:.9em;border-radius:"
    "50%;vertical-align:middle;margin:0 .2em 0 .8em}\n"
    ".legend i.b{border-radius:0;background:var(--bad)}\n"
    "ol.ev{list-style:none;padding:0;margin:0}\n"
    "ol.ev li{border-top:1px solid var(--ln);padding:.3em 0;"
    "content-visibility:auto;contain-intrinsic-size:auto 3em}\n"
    "ol.ev li.bad{border-left:6px solid var(--bad);padding-left:.4em}\n"
    ".t{color:var(--mu);display:inline-block;min-width:11em}\n"
    "ol.ev b{margin-right:.5em}ol.ev em{font-style:normal;font-weight:700}"
    "\n"
    "code.bd{display:block;margin:.1em 0 0 1em;color:var(--mu);"
    "font-size:.8em;white-space:pre-wrap;word-break:break-all}\n"
    "pre{white-space:pre-wrap;word-break:break-word;margin:.2em 0;"
    "background:#f6f6f6;padding:.4em}\n"
    "footer{margin-top:2em;color:var(--mu);font-size:.85em}\n"
    "@media (max-width:40em){body{padding:.5em;font-size:14px}"
    ".ln{flex-basis:5.5em}.axis{margin-left:5.5em}"
    ".t{min-width:0}}\n"
    "@media print{body{max-width:none;font-size:10pt}ol.ev li{"
    "content-visibility:visible}.chart{overflow:"
    "visible;border:none}.plot{min-width:0}.m{border-color:#000;print-color-"
    "adjust:exact;"
    "-webkit-print-color-adjust:exact}a{color:inherit}"
    ".notice{break-inside:avoid}}\n";

/* The lane drawn last when there are more kinds than lanes (custom x.*
 * types): every event of a kind past the others goes there. */
static const char more_lane[] = "other kinds";

/* The lanes in the order they are drawn: the usual kinds first; past
 * cap - 1 kinds, the last is more_lane, so that every event has a mark. */
static size_t
lanes_of(const json_t *evs, const char **lanes, size_t cap)
{
    static const char *const order[] = {"run", "steps", "route decisions",
                                        "policy", "context"};
    size_t n = 0, i;
    json_t *e;

    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        json_array_foreach(evs, i,
                           e) if (strcmp(sget(e, "lane"), order[k]) == 0)
        {
            lanes[n++] = order[k];
            break;
        }
    json_array_foreach(evs, i, e)
    {
        const char *l = sget(e, "lane");
        size_t j;
        for (j = 0; j < n && strcmp(lanes[j], l) != 0; j++)
            ;
        if (j == n && n + 1 < cap)
            lanes[n++] = l;
        else if (j == n && n + 1 == cap)
            lanes[n++] = more_lane;
    }
    return n;
}

/* The lane of an event whose kind is name. */
static size_t
lane_at(const char *const *lanes, size_t nl, const char *name)
{
    for (size_t j = 0; j < nl; j++)
        if (lanes[j] != more_lane && strcmp(lanes[j], name) == 0)
            return j;
    return nl - 1; /* past the drawn kinds: more_lane */
}

/* A time relative to the run's start, in the unit its span needs. */
static void
rel_unit(char *b, size_t cap, json_int_t us, json_int_t span)
{
    if (span < 10000)
        snprintf(b, cap, "%+lld \xc2\xb5s", (long long)us);
    else if (span < 10000000)
        snprintf(b, cap, "%+.1f ms", (double)us / 1e3);
    else
        snprintf(b, cap, "%+.3f s", (double)us / 1e6);
}

/* The share of the picture's width the context from before a run's own
 * events takes, in per cent (picture). */
#define BEFORE_PCT 10

/* 1 when e is context from before the run's own first event, at
 * run_lo (picture). */
static int
before_run(const json_t *e, json_int_t run_lo)
{
    return strcmp(sget(e, "lane"), "context") == 0 &&
           json_integer_value(json_object_get(e, "rel_us")) < run_lo;
}

static void
picture(struct ldg_buf *b, const json_t *evs)
{
    const char *lanes[64];
    size_t nl = lanes_of(evs, lanes, 64), ne = json_array_size(evs), i;
    size_t nbefore = 0;
    json_int_t lo = 0, hi = 0, run_lo = 0;
    int by_time, have_run = 0, gutter = 0;
    json_t *e;

    json_array_foreach(evs, i, e)
    {
        json_int_t r = json_integer_value(json_object_get(e, "rel_us"));
        if (i == 0 || r < lo)
            lo = r;
        if (i == 0 || r > hi)
            hi = r;
        if (strcmp(sget(e, "lane"), "context") != 0 &&
            (!have_run++ || r < run_lo))
            run_lo = r;
    }
    /* context from long before the run (a model's state, the runtime's
     * health hours earlier) would squeeze the run's own span into a sliver
     * at the right: it is drawn in a band of its own at the left, in its
     * order, and the axis spans the run's events */
    if (have_run && run_lo > lo && hi > run_lo) {
        gutter = BEFORE_PCT;
        lo = run_lo;
        json_array_foreach(evs, i, e) nbefore += before_run(e, run_lo);
    }
    by_time = hi > lo;
    ldg_buf_puts(b, "<section id=\"picture\"><h2>Picture</h2>\n");
    if (!by_time && ne > 1)
        ldg_buf_puts(b, "<p class=\"legend\">The events carry one and the "
                        "same time: they are spaced in their order.</p>\n");
    if (gutter)
        ldg_buf_printf(b,
                       "<p class=\"legend\">The %zu context event%s from "
                       "before the run's first event %s drawn in their order "
                       "in the band marked \xe2\x80\x9c"
                       "before\xe2\x80\x9d; the axis spans the "
                       "run's own events (each line below has its time).</p>\n",
                       nbefore, nbefore == 1 ? "" : "s",
                       nbefore == 1 ? "is" : "are");
    ldg_buf_puts(b, "<div class=\"chart\"><div class=\"plot\" role=\"img\" "
                    "aria-label=\"the events on a time axis, one lane per "
                    "kind; the list below says the same in words\">\n"
                    "<div class=\"axis\">");
    if (gutter)
        ldg_buf_puts(b, "<span style=\"left:0%;transform:none\">before</span>");
    for (int k = 0; k <= 4; k++) {
        char t[40];
        if (by_time)
            rel_unit(t, sizeof t, lo + (hi - lo) * k / 4, hi - lo);
        else
            snprintf(t, sizeof t, "%s",
                     k == 0   ? "first"
                     : k == 4 ? "last"
                              : "");
        ldg_buf_printf(b, "<span style=\"left:%d%%%s\">%s</span>",
                       gutter + (100 - gutter) * k / 4,
                       k == 0 && !gutter ? ";transform:none"
                       : k == 4          ? ";transform:translateX(-100%)"
                                         : "",
                       t);
    }
    ldg_buf_puts(b, "</div>\n");
    for (size_t l = 0; l < nl; l++) {
        ldg_buf_puts(b, "<div class=\"lane\"><div class=\"ln\">");
        esc(b, lanes[l]);
        ldg_buf_puts(b, "</div><div class=\"tr\">");
        json_array_foreach(evs, i, e)
        {
            double x;
            char *body;
            if (lane_at(lanes, nl, sget(e, "lane")) != l)
                continue;
            if (gutter && before_run(e, run_lo)) {
                /* the k-th of the context before the run, in order */
                size_t k = 0, j;
                json_t *o;
                json_array_foreach(evs, j, o)
                {
                    if (j == i)
                        break;
                    k += before_run(o, run_lo);
                }
                x = (double)gutter * (double)(k + 1) / (double)(nbefore + 1);
            } else if (by_time)
                x = gutter + (100.0 - gutter) *
                                 (double)(json_integer_value(
                                              json_object_get(e, "rel_us")) -
                                          lo) /
                                 (double)(hi - lo);
            else
                x = ne > 1 ? 100.0 * (double)i / (double)(ne - 1) : 50.0;
            ldg_buf_printf(
                b,
                "<a class=\"m k%zu%s%s\" style=\"left:%.2f%%\" "
                "href=\"#e",
                l % 7, json_is_true(json_object_get(e, "bad")) ? " b" : "",
                json_is_true(json_object_get(e, "fallback")) ? " f" : "", x);
            esc(b, sget(e, "seq"));
            ldg_buf_puts(b, "\" title=\"");
            esc(b, sget(e, "type"));
            ldg_buf_puts(b, " #");
            esc(b, sget(e, "seq"));
            ldg_buf_puts(b, "\n");
            esc(b, sget(e, "label"));
            body = json_is_object(json_object_get(e, "body"))
                       ? json_dumps(json_object_get(e, "body"), BODY_JSON)
                       : NULL;
            if (body != NULL) {
                size_t n = strlen(body);
                ldg_buf_puts(b, "\n");
                if (n > TITLE_BODY_MAX) {
                    n = TITLE_BODY_MAX;
                    while (n > 0 && ((unsigned char)body[n] & 0xc0) == 0x80)
                        n--; /* not inside a UTF-8 sequence */
                }
                esc_n(b, body, n);
                if (n < strlen(body))
                    ldg_buf_puts(b, "\xe2\x80\xa6");
                free(body);
            }
            ldg_buf_printf(b, "\">%s</a>",
                           json_is_true(json_object_get(e, "bad")) ? "&#x2715;"
                                                                   : "");
        }
        ldg_buf_puts(b, "</div></div>\n");
    }
    ldg_buf_puts(b, "</div></div>\n<p class=\"legend\">Each mark is an event "
                    "(hover or focus it for its type and body; it links to "
                    "its line below).<i class=\"k0\"></i>by lane colour"
                    "<i class=\"b\"></i>failed, denied or error (red, "
                    "square, &#x2715;)<i class=\"k4\" style=\"border:2px "
                    "dashed #000\"></i>fallback</p></section>\n");
}

static void
events_list(struct ldg_buf *b, const json_t *model)
{
    const json_t *evs = json_object_get(model, "events");
    json_int_t total =
        json_integer_value(json_object_get(model, "events_total"));
    json_int_t lo = 0, hi = 0;
    size_t i;
    json_t *e;

    ldg_buf_printf(b, "<section id=\"events\"><h2>Events (%zu)</h2>\n",
                   json_array_size(evs));
    if (total > (json_int_t)json_array_size(evs))
        ldg_buf_printf(b,
                       "<p class=\"notice\">Only the first %zu of %lld events "
                       "are shown.</p>\n",
                       json_array_size(evs), (long long)total);
    json_array_foreach(evs, i, e)
    {
        json_int_t r = json_integer_value(json_object_get(e, "rel_us"));
        if (i == 0 || r < lo)
            lo = r;
        if (i == 0 || r > hi)
            hi = r;
    }
    ldg_buf_puts(b, "<ol class=\"ev\">\n");
    json_array_foreach(evs, i, e)
    {
        char t[40];
        int bad = json_is_true(json_object_get(e, "bad"));
        char *body;
        /* in the unit the run's span needs, as on the axis */
        rel_unit(t, sizeof t, json_integer_value(json_object_get(e, "rel_us")),
                 hi - lo);
        json_int_t depth = json_integer_value(json_object_get(e, "depth"));
        ldg_buf_puts(b, "<li id=\"e");
        esc(b, sget(e, "seq"));
        /* few elements a line: a page of 10,000 events is 60,000 of
         * them, and the browser's time goes with their number */
        ldg_buf_printf(b, "\" class=\"%s\"", bad ? "bad" : "ok");
        /* a span's place in its trace: indented under its parent, as the
         * timeline indents it */
        if (depth > 0 && depth <= 64)
            ldg_buf_printf(b, " style=\"margin-left:%.1fem\"",
                           1.5 * (double)depth);
        ldg_buf_puts(b, "><span class=\"t\" title=\"");
        esc(b, sget(e, "time"));
        ldg_buf_printf(b, "\">%s #", t);
        esc(b, sget(e, "seq"));
        ldg_buf_puts(b,
                     bad ? "</span> <em>&#x2715; BAD</em> <b>" : "</span> <b>");
        esc(b, sget(e, "type"));
        ldg_buf_puts(b, "</b> ");
        esc(b, sget(e, "label"));
        body = json_is_object(json_object_get(e, "body"))
                   ? json_dumps(json_object_get(e, "body"), BODY_JSON)
                   : NULL;
        if (body != NULL) {
            /* a <details> per line made the page of 10,000 events 3.4
             * times slower to load (its shadow tree): the body is a
             * plain block, which also prints */
            ldg_buf_puts(b, "<code class=\"bd\">");
            esc(b, body);
            ldg_buf_puts(b, "</code>");
            free(body);
        }
        ldg_buf_puts(b, "</li>\n");
    }
    ldg_buf_puts(b, "</ol></section>\n");
}

static const char *
status_word(const char *s)
{
    if (strcmp(s, "ok") == 0)
        return "OK";
    if (strcmp(s, "warn") == 0)
        return "WARN";
    if (strcmp(s, "fail") == 0)
        return "FAIL";
    return "UNKNOWN";
}

static void
verdict(struct ldg_buf *b, const json_t *v)
{
    const char *vd = sget(v, "verdict");
    size_t i;
    json_t *x;

    ldg_buf_puts(b, "<section id=\"verdict\" class=\"box v-");
    esc(b, vd);
    ldg_buf_puts(b, "\"><h2>");
    esc(b, sget(v, "title"));
    ldg_buf_puts(b, ": <span class=\"vd\">");
    esc(b, vd);
    ldg_buf_puts(b, "</span></h2><ul>\n");
    json_array_foreach(json_object_get(v, "lines"), i, x)
    {
        const char *st = sget(x, "status");
        ldg_buf_printf(b, "<li><span class=\"st st-%s\">%s</span> ",
                       strcmp(st, "ok") == 0     ? "ok"
                       : strcmp(st, "warn") == 0 ? "warn"
                       : strcmp(st, "fail") == 0 ? "fail"
                                                 : "unknown",
                       status_word(st));
        esc(b, sget(x, "text"));
        ldg_buf_puts(b, "</li>\n");
    }
    ldg_buf_puts(b, "</ul></section>\n");
}

static void
lines_box(struct ldg_buf *b, const char *id, const char *title, const json_t *o)
{
    size_t i;
    json_t *x;
    const char *st = sget(o, "status");

    ldg_buf_printf(b, "<section id=\"%s\" class=\"box s-%s\"><h2>%s</h2><ul>\n",
                   id,
                   strcmp(st, "ok") == 0     ? "ok"
                   : strcmp(st, "fail") == 0 ? "fail"
                                             : "warn",
                   title);
    json_array_foreach(json_object_get(o, "lines"), i, x)
    {
        ldg_buf_puts(b, "<li>");
        esc(b, json_string_value(x) ? json_string_value(x) : "");
        ldg_buf_puts(b, "</li>\n");
    }
    ldg_buf_puts(b, "</ul></section>\n");
}

static void
facts(struct ldg_buf *b, const json_t *fs)
{
    size_t i, j;
    json_t *f, *x;

    json_array_foreach(fs, i, f)
    {
        ldg_buf_puts(b, "<section class=\"facts\"><h2>");
        esc(b, sget(f, "title"));
        ldg_buf_puts(b, "</h2><ul>\n");
        if (json_array_size(json_object_get(f, "lines")) == 0)
            ldg_buf_puts(b, "<li>(none recorded)</li>\n");
        json_array_foreach(json_object_get(f, "lines"), j, x)
        {
            int bad = json_is_true(json_object_get(x, "bad"));
            ldg_buf_printf(b, "<li%s>%s", bad ? " class=\"bad\"" : "",
                           bad ? "&#x2715; " : "");
            esc(b, sget(x, "text"));
            ldg_buf_puts(b, "</li>\n");
        }
        ldg_buf_puts(b, "</ul></section>\n");
    }
}

static int
page_html(const json_t *model, struct ldg_buf *b)
{
    const json_t *evs = json_object_get(model, "events");

    if (!json_is_object(model) || !json_is_array(evs))
        return LDG_EINVAL;
    ldg_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                    "<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, "
                    "initial-scale=1\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'; style-src "
                    "'unsafe-inline'\">\n<title>");
    esc(b, sget(model, "title"));
    ldg_buf_printf(b,
                   "</title>\n<style>\n%s</style></head>\n<body>\n<header>"
                   "<h1>",
                   style);
    esc(b, sget(model, "title"));
    ldg_buf_puts(b, "</h1>\n<p class=\"sub\">");
    esc(b, sget(model, "subtitle"));
    ldg_buf_puts(b, "</p></header>\n");
    if (json_is_string(json_object_get(model, "notice"))) {
        ldg_buf_puts(b, "<section id=\"notice\" class=\"notice\">");
        esc(b, sget(model, "notice"));
        ldg_buf_puts(b, "</section>\n");
    }
    if (json_is_object(json_object_get(model, "verdict")))
        verdict(b, json_object_get(model, "verdict"));
    if (json_is_object(json_object_get(model, "evidence")))
        lines_box(b, "evidence", "Evidence",
                  json_object_get(model, "evidence"));
    facts(b, json_object_get(model, "facts"));
    picture(b, evs);
    events_list(b, model);
    ldg_buf_puts(b, "<footer>");
    esc(b, json_is_string(json_object_get(model, "generator"))
               ? sget(model, "generator")
               : "written by ledger");
    ldg_buf_puts(b, "</footer>\n</body></html>\n");
    return b->err;
}

int
ldg_page_html(const json_t *model, char **out, size_t *len)
{
    struct ldg_buf b;
    int rc;

    if (out == NULL || len == NULL)
        return LDG_EINVAL;
    *out = NULL;
    *len = 0;
    ldg_buf_init(&b, 0);
    if ((rc = page_html(model, &b)) < 0) {
        ldg_buf_release(&b);
        return rc;
    }
    *out = ldg_buf_detach(&b, len);
    return *out != NULL ? 0 : LDG_ENOMEM;
}
