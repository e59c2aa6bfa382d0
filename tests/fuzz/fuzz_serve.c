/*
 * fuzz_serve.c — libFuzzer target for one request line of the serve
 * protocol (docs/PROTOCOL.md): ldg_ingest_parse_line_ex with
 * LDG_INGEST_REQUEST (ingest/ingest.c), then the answer the server would
 * write for it (serve/proto.c). Arbitrary bytes in; no crash, no undefined
 * behaviour, and:
 *
 *   - a refused line gets LDG_EBADINPUT or LDG_ETOOBIG, a message, a
 *     column >= 1 and nothing to free; an id it reports is 1..128 bytes;
 *   - an accepted line has a type and an object body; an id is 1..128
 *     bytes without control characters; the event carries the line's id
 *     and time;
 *   - every answer line (error with the message, ack) is one line of
 *     valid JSON that gives back the id byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ledger/module.h"
#include "util/util.h"
#include "serve/serve_int.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

static void
serve_check_answer(char *line, size_t len, const struct ldg_ingest_meta *m)
{
    json_error_t je;
    json_t *o, *id;
    FUZZ_ASSERT(line != NULL && len > 0 && line[len - 1] == '\n');
    FUZZ_ASSERT(memchr(line, '\n', len) == line + len - 1);
    o = json_loadb(line, len, 0, &je);
    FUZZ_ASSERT(json_is_object(o));
    id = json_object_get(o, "id");
    if (m->has_id)
        FUZZ_ASSERT(json_is_string(id) && json_string_length(id) == m->id_len &&
                    memcmp(json_string_value(id), m->id, m->id_len) == 0);
    else
        FUZZ_ASSERT(id == NULL);
    json_decref(o);
    free(line);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_event_in ev;
    struct ldg_ingest_meta m;
    json_t *holder = NULL;
    char msg[600], *line;
    size_t len = 0;
    int col = 0, rc;

    msg[0] = '\0';
    rc = ldg_ingest_parse_line_ex((const char *)data, size, 1 << 20,
                                  LDG_INGEST_REQUEST, &ev, &m, &holder, &col,
                                  msg, sizeof msg);
    if (m.has_id)
        FUZZ_ASSERT(m.id_len >= 1 && m.id_len <= LDG_ID_MAX &&
                    strlen(m.id) == m.id_len);
    if (rc != 0) {
        FUZZ_ASSERT(rc == LDG_EBADINPUT || rc == LDG_ETOOBIG);
        FUZZ_ASSERT(holder == NULL && col >= 1 && msg[0] != '\0');
        line =
            serve_error_line(m.has_id ? m.id : NULL, m.id_len, msg, 65, &len);
        serve_check_answer(line, len, &m);
        return 0;
    }
    FUZZ_ASSERT(holder != NULL && ev.type != NULL && json_is_object(ev.body));
    for (size_t i = 0; m.has_id && i < m.id_len; i++)
        FUZZ_ASSERT((unsigned char)m.id[i] >= 0x20 && m.id[i] != 0x7f);
    /* the event carries what the line said (format version 2) */
    FUZZ_ASSERT(m.has_id ? ev.id != NULL && strcmp(ev.id, m.id) == 0
                         : ev.id == NULL);
    FUZZ_ASSERT(ev.has_time == m.has_time && ev.time_ns == m.time_ns);
    line = serve_ack_line(m.has_id ? m.id : NULL, m.id_len, 42, 0, 0, &len);
    serve_check_answer(line, len, &m);
    /* a duplicate's answer, with what differs */
    line = serve_ack_line(m.has_id ? m.id : NULL, m.id_len, UINT64_MAX, 1,
                          (unsigned)size & 0x7f, &len);
    serve_check_answer(line, len, &m);
    /* an error text that is not UTF-8 still makes valid JSON */
    line = serve_error_line(m.has_id ? m.id : NULL, m.id_len,
                            "\xff\xfe bad \xc3", 74, &len);
    serve_check_answer(line, len, &m);
    json_decref(holder);
    return 0;
}
