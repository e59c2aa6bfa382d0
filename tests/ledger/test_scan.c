/*
 * test_scan.c — ldg_log_scan (ledger/scan.c) hands out exactly what the
 * strict accessors read: every envelope, every body (read in place, or
 * decoded when compressed), erased bodies, bodies not wanted; it stops
 * when asked and names a missing event. With types, the same for the
 * events of those types alone, in seq order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

struct seen {
    struct ldg_txn *t;
    uint64_t next, n, erased, stop_at;
    const char *skip_type; /* want_body says 0 for it */
    const uint64_t *want;  /* the seqs expected, if not next, next + 1, ... */
    uint64_t last_done, last_total;
};

static int
want(void *ctx, const struct ldg_event *ev)
{
    struct seen *s = ctx;
    return s->skip_type == NULL || strcmp(ev->type, s->skip_type) != 0;
}

static int
check_cb(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct seen *s = ctx;
    struct ldg_event want_ev;
    json_t *body = NULL, *v;
    const char *k;
    int rc;

    assert_int_equal(ev->seq, s->want != NULL ? s->want[s->n] : s->next);
    assert_int_equal(ldg_event_get(s->t, ev->seq, &want_ev), 0);
    assert_int_equal(ev->ts_ns, want_ev.ts_ns);
    assert_string_equal(ev->type, want_ev.type);
    assert_string_equal(ev->subject, want_ev.subject);
    assert_string_equal(ev->run, want_ev.run);
    assert_string_equal(ev->actor, want_ev.actor);
    /* a layout 5 record leaves prev to be derived: a scan does not */
    if (!want_ev.derived)
        assert_memory_equal(ev->prev, want_ev.prev, 32);
    rc = ldg_body_get(s->t, ev->seq, &body);
    if (rc == LDG_EERASED) {
        assert_true(ldg_body_view_erased(b));
        s->erased++;
    } else {
        assert_int_equal(rc, 0);
        assert_false(ldg_body_view_erased(b));
        json_object_foreach(body, k, v)
        {
            json_t *w = ldg_body_view_json(b, k);
            if (s->skip_type != NULL && strcmp(ev->type, s->skip_type) == 0)
                assert_null(w); /* not read */
            else if (json_is_null(v))
                assert_null(w);
            else
                assert_true(json_equal(v, w));
            json_decref(w);
        }
        json_decref(body);
    }
    s->next++;
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 1 : 0;
}

static struct ldg_ledger *
setup_log(char *dir, size_t cap, uint64_t *erased_seq)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    char big[12000], body[128];
    uint64_t a;

    t_append(l, "pack.installed",
             "{\"pack\":\"p\",\"version\":\"1\",\"manifest_digest\":\"d\","
             "\"requires\":{\"routes\":[\"p/r\"]}}",
             NULL);
    a = t_append(l, "route.decision",
                 "{\"route\":\"p/r\",\"chosen_model\":\"m\",\"run\":\"R\","
                 "\"latency_ms\":1.5,\"fallback\":false}",
                 NULL);
    t_append(l, "x.other", "{\"k\":\"v\",\"n\":-70000,\"big\":1e300}", NULL);
    /* a body large and repetitive enough to be stored compressed */
    memset(big, 0, sizeof big);
    strcpy(big, "{\"note\":\"");
    memset(big + strlen(big), 'a', 10000);
    strcat(big, "\"}");
    t_append(l, "x.large", big, NULL);
    snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"r\"}",
             (unsigned long long)a);
    t_append(l, "body.erased", body, NULL);
    t_append(l, "model.state", "{\"model\":\"m\",\"state\":\"loaded\"}", NULL);
    *erased_seq = a;
    return l;
}

static void
test_scan__reads_what_the_strict_accessors_read(void **state)
{
    char dir[512];
    uint64_t erased, size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &erased);
    struct ldg_scan_stats st;
    struct ldg_scan_fns fns;
    struct seen s;
    (void)state;
    assert_int_equal(ldg_size(l, &size), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &s.t), 0);
    memset(&fns, 0, sizeof fns);
    fns.event = check_cb;
    fns.ctx = &s;
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), 0);
    assert_int_equal(s.n, size);
    assert_int_equal(st.events, size);
    assert_int_equal(s.erased, 1);
    assert_int_equal(st.erased, 1);
    /* the compressed one too: inflated, then read in place */
    assert_int_equal(st.slow_bodies, 0);
    assert_int_equal(st.fast_bodies, size - 1);

    /* from the middle, bodies of one type not wanted */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    s.next = 2;
    s.skip_type = "x.other";
    fns.want_body = want;
    assert_int_equal(ldg_log_scan(s.t, 2, size, &fns, &st), 0);
    assert_int_equal(st.events, size - 2);
    assert_int_equal(st.fast_bodies + st.slow_bodies + st.erased, size - 3);

    /* a positive return stops the scan and is not an error */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    s.stop_at = 3;
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), 0);
    assert_int_equal(s.n, 3);

    /* an empty range calls nothing */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    assert_int_equal(ldg_log_scan(s.t, 4, 4, &fns, &st), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(ldg_log_scan(NULL, 0, 1, &fns, &st), LDG_EINVAL);
    ldg_txn_abort(s.t);
    ldg_close(l);
    t_rmrf(dir);
    (void)erased;
}

static void
progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    struct seen *s = ctx;
    s->last_done = done;
    s->last_total = total;
}

static void
test_scan__types_hands_out_their_events_alone(void **state)
{
    char dir[512];
    uint64_t erased, size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &erased);
    /* route.decision (erased), x.large (compressed), model.state */
    const uint64_t want[] = {erased, erased + 2, erased + 4};
    const char *types[] = {"model.state", "x.large", "route.decision",
                           "no.such.type", NULL};
    struct ldg_scan_stats st;
    struct ldg_scan_fns fns;
    struct seen s;
    (void)state;
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, erased + 5);
    memset(&s, 0, sizeof s);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &s.t), 0);
    memset(&fns, 0, sizeof fns);
    fns.event = check_cb;
    fns.ctx = &s;
    fns.types = types;
    fns.progress = progress_cb;
    fns.progress_ctx = &s;
    s.want = want;
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.erased, 1);
    assert_int_equal(s.erased, 1);
    assert_int_equal(st.fast_bodies, 2);
    assert_int_equal(s.last_done, 3);
    assert_int_equal(s.last_total, 3);

    /* within [from, to) only */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    s.want = want + 1;
    assert_int_equal(ldg_log_scan(s.t, erased + 1, erased + 3, &fns, &st), 0);
    assert_int_equal(s.n, 1);

    /* a positive return stops it and is not an error */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    s.want = want;
    s.stop_at = 2;
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(st.events, 2);

    /* no type: nothing */
    memset(&s.next, 0, sizeof s - sizeof s.t);
    fns.types = types + 4;
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(st.events, 0);
    ldg_txn_abort(s.t);

    /* an event the type index lists that is not in the log: corruption,
     * named by seq */
    t_raw_del(l, "entries", erased + 2);
    fns.types = types;
    memset(&s, 0, sizeof s);
    s.want = want;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &s.t), 0);
    assert_int_equal(ldg_log_scan(s.t, 0, size, &fns, &st), LDG_ECORRUPT);
    {
        char want_msg[32];
        snprintf(want_msg, sizeof want_msg,
                 "event %llu:", (unsigned long long)(erased + 2));
        assert_non_null(strstr(ldg_errmsg(l), want_msg));
    }
    assert_int_equal(s.n, 1);
    ldg_txn_abort(s.t);
    ldg_close(l);
    t_rmrf(dir);
}

static int
count_cb(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    (void)ev;
    (void)b;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void
test_scan__a_missing_event_is_corruption_named_by_seq(void **state)
{
    char dir[512];
    uint64_t erased, size, n = 0;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &erased);
    struct ldg_scan_fns fns;
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_size(l, &size), 0);
    t_raw_del(l, "entries", 3);
    memset(&fns, 0, sizeof fns);
    fns.event = count_cb;
    fns.ctx = &n;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_log_scan(t, 0, size, &fns, NULL), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(l), "event 3"));
    assert_int_equal(n, 3);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan__reads_what_the_strict_accessors_read),
        cmocka_unit_test(test_scan__a_missing_event_is_corruption_named_by_seq),
        cmocka_unit_test(test_scan__types_hands_out_their_events_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
