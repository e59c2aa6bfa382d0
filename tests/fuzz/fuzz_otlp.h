/*
 * fuzz_otlp.h — what both OTLP fuzz targets check of a decoded request
 * (fuzz_otlp_pb.c, fuzz_otlp_json.c; their corpora are replayed by
 * tests/otlp/test_fuzz_otlp.c under make check). The first input byte
 * picks the signal (traces or logs), the mapping (content, GenAI-only,
 * dropped logs, a run attribute), small limits or the defaults, and
 * whether the rest is a gzip body. Invariants:
 *
 *   - decode returns 0, LDG_EBADINPUT or LDG_ETOOBIG (LDG_ENOMEM only
 *     from the arena's budget), never crashes or leaks;
 *   - a refusal says why (a message), and leaves no batch;
 *   - an accepted request gives at most items_max events, each of a type
 *     the mapper makes (route.decision, run.step, otel.span, otel.log),
 *     with an id of "otlp:" and 32 + 16 hex digits (a span) or
 *     "otlp-log:" and 32, a run (when set) of 1..LDG_RUN_MAX bytes, and a
 *     body the vocabulary accepts (ldg_vocab_check): the ledger never
 *     refuses what the mapper made of valid input;
 *   - without content, no content attribute is in any body (nor a GenAI
 *     span event's content, message or tool_calls), and no GenAI log
 *     event (its eventName or event.name attribute) keeps its body.
 */
#ifndef FUZZ_OTLP_H
#define FUZZ_OTLP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/module.h"
#include "otlp/otlp_int.h"

#include "tests/fuzz/fuzz.h"

static int
fuzz_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* No attribute of body's "attributes" (or its events') is content. */
static int
fuzz_no_content(json_t *body)
{
    const char *k;
    json_t *v, *e;
    size_t i;
    json_object_foreach(json_object_get(body, "attributes"), k, v)
    {
        if (otlp_content_key(k, strlen(k)))
            return 0;
    }
    json_array_foreach(json_object_get(body, "events"), i, e)
    {
        struct otlp_mapper m;
        memset(&m, 0, sizeof m);
        m.event = json_string_value(json_object_get(e, "name"));
        json_object_foreach(json_object_get(e, "attributes"), k, v)
        {
            if (otlp_content_attr(&m, k, strlen(k)))
                return 0;
        }
    }
    return 1;
}

static void
fuzz_otlp_one(int json, const uint8_t *data, size_t size)
{
    struct ldg_otlp_map m = {0};
    struct ldg_otlp_limits lim = {0};
    struct ldg_otlp_batch *b = NULL;
    enum ldg_otlp_signal sig;
    char err[1024] = "";
    void *inflated = NULL;
    size_t n;
    int rc;

    if (size < 1)
        return;
    sig = (data[0] & 1) ? LDG_OTLP_LOGS : LDG_OTLP_TRACES;
    m.record_content = (data[0] >> 1) & 1;
    m.spans = (data[0] >> 2) & 1 ? LDG_OTLP_SPANS_GENAI : LDG_OTLP_SPANS_ALL;
    m.drop_logs = (data[0] >> 3) & 1;
    m.run_attr = (data[0] >> 4) & 1 ? "session.id" : NULL;
    if ((data[0] >> 5) & 1) {
        lim.items_max = 4;
        lim.attrs_max = 16;
        lim.value_max = 8;
        lim.depth_max = 2;
    }
    data++;
    size--;
    if ((data[-1] >> 6) & 1) {
        rc = ldg_otlp_inflate(data, size, (size_t)1 << 20, &inflated, &n, err,
                              sizeof err);
        FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
        FUZZ_ASSERT(rc == 0 || (err[0] && inflated == NULL));
        if (rc < 0)
            return;
        FUZZ_ASSERT(n <= (size_t)1 << 20);
        data = inflated;
        size = n;
    }
    rc = ldg_otlp_decode(&b, sig, json, data, size, &m, &lim, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT || rc == LDG_ETOOBIG ||
                rc == LDG_ENOMEM);
    if (rc < 0) {
        FUZZ_ASSERT(b == NULL && err[0] != 0);
        free(inflated);
        return;
    }
    otlp_limits_fill(&lim, &lim);
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    FUZZ_ASSERT(n <= lim.items_max);
    FUZZ_ASSERT(n + ldg_otlp_batch_dropped(b) == ldg_otlp_batch_items(b));
    for (size_t i = 0; i < n; i++) {
        const char *t = ev[i].type, *id = ev[i].id;
        char verr[512];
        if (sig == LDG_OTLP_LOGS) {
            FUZZ_ASSERT(strcmp(t, "otel.log") == 0);
            FUZZ_ASSERT(strncmp(id, "otlp-log:", 9) == 0 &&
                        strlen(id) == 9 + 32 && fuzz_hex(id + 9, 32));
        } else {
            FUZZ_ASSERT(strcmp(t, "route.decision") == 0 ||
                        strcmp(t, "run.step") == 0 ||
                        strcmp(t, "otel.span") == 0);
            FUZZ_ASSERT(strncmp(id, "otlp:", 5) == 0 &&
                        strlen(id) == 5 + 32 + 1 + 16 && fuzz_hex(id + 5, 32) &&
                        id[37] == ':' && fuzz_hex(id + 38, 16));
            FUZZ_ASSERT(ev[i].run != NULL);
        }
        if (ev[i].run != NULL)
            FUZZ_ASSERT(strlen(ev[i].run) >= 1 &&
                        strlen(ev[i].run) <= LDG_RUN_MAX);
        FUZZ_ASSERT(json_is_object(ev[i].body));
        if (ldg_vocab_check(t, ev[i].body, verr, sizeof verr) != 0) {
            fprintf(stderr, "vocabulary refuses %s: %s\n", t, verr);
            FUZZ_ASSERT(0);
        }
        if (!m.record_content) {
            const char *en =
                json_string_value(json_object_get(ev[i].body, "event_name"));
            FUZZ_ASSERT(fuzz_no_content(ev[i].body));
            /* a GenAI event's body is content */
            FUZZ_ASSERT(en == NULL || strncmp(en, "gen_ai.", 7) != 0 ||
                        json_object_get(ev[i].body, "body") == NULL);
        }
    }
    ldg_otlp_batch_free(b);
    free(inflated);
}

#endif
