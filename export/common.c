/*
 * common.c — small helpers shared by write.c and verify.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export/export_int.h"

int
parse_dec(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

json_t *
json_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

json_t *
json_hex(const uint8_t *p, size_t n)
{
    char b[129];
    if (n > 64)
        return NULL;
    ldg_hex(b, p, n);
    return json_string(b);
}

void
format_time(char *buf, size_t cap, uint64_t ts_ns)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    struct tm tm;
    char base[32];

    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(base, sizeof base, "?");
    snprintf(buf, cap, "%s.%09lluZ", base,
             (unsigned long long)(ts_ns % 1000000000u));
}

const char *const envelope_keys[] = {
    "seq",  "ts",      "time",   "type", "subject",         "run",
    "parent", "actor", "prev",   "body_commitment", "leaf_hash",
    "signature", NULL};

json_t *
envelope_json(const struct ldg_event *ev)
{
    json_t *o = json_object();
    char tbuf[64];

    if (o == NULL)
        return NULL;
    format_time(tbuf, sizeof tbuf, ev->ts_ns);
    json_object_set_new(o, "seq", json_u64(ev->seq));
    json_object_set_new(o, "ts", json_u64(ev->ts_ns));
    json_object_set_new(o, "time", json_string(tbuf));
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "subject", json_string(ev->subject));
    if (ev->run[0])
        json_object_set_new(o, "run", json_string(ev->run));
    if (ev->has_parent)
        json_object_set_new(o, "parent", json_u64(ev->parent));
    json_object_set_new(o, "actor", json_string(ev->actor));
    json_object_set_new(o, "prev", json_hex(ev->prev, 32));
    json_object_set_new(o, "body_commitment", json_hex(ev->body_root, 32));
    json_object_set_new(o, "leaf_hash", json_hex(ev->leaf, 32));
    json_object_set_new(o, "signature", json_hex(ev->sig, 64));
    return o;
}
