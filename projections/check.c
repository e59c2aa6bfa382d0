/*
 * check.c — the stored projections and their notes compared with a fold
 * of the log (ldg_projections_check, ldg_projections_check_stored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"
#include "projections/engine_int.h"

/* -------------------------------------------------------------- check -- */

/* Positional JSON of a record's fields (IO order; see records.c). */
static json_t *
rec_json(const struct rtype *rt, const uint8_t *val, size_t len)
{
    void *rec = NULL;
    json_t *o;
    char *hex;
    if (rt == NULL)
        return json_null();
    o = json_object();
    json_object_set_new(o, "type", json_string(rt->name));
    if (rec_decode(rt, val, len, &rec) == 0) {
        rec_free(rt, rec);
        json_object_set_new(o, "bytes", json_integer((json_int_t)len));
    } else {
        json_object_set_new(o, "undecodable", json_true());
    }
    hex = malloc(len * 2 + 1);
    if (hex != NULL) {
        ldg_hex(hex, val, len);
        json_object_set_new(o, "hex", json_string(hex));
        free(hex);
    }
    return o;
}

static json_t *
key_json(const uint8_t *k, size_t n)
{
    /* tag ‖ parts with NUL separators; shown with '/' between parts, and
     * 8-byte sequence numbers (history) as "#N". */
    char buf[PROJ_KEY_MAX * 2 + 32];
    size_t o = 0;
    buf[o++] = (char)k[0];
    buf[o++] = ':';
    for (size_t i = 1; i < n && o + 4 < sizeof buf; i++) {
        if (k[i] == 0x00 && k[0] == TAG_PHIST && n - i - 1 == 8) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "#%llu",
                                  (unsigned long long)ldg_rd_be64(k + i + 1));
            break;
        }
        if (k[i] == 0x00)
            buf[o++] = '/';
        else if (k[i] >= 0x20 && k[i] < 0x7f)
            buf[o++] = (char)k[i];
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", k[i]);
    }
    buf[o < sizeof buf ? o : sizeof buf - 1] = '\0';
    return json_string(buf);
}

static void
add_diff(json_t *diffs, enum proj_id p, json_t *key, const char *what,
         json_t *stored, json_t *rebuilt)
{
    json_array_append_new(
        diffs, json_pack("{s:s, s:o, s:s, s:o, s:o}", "projection",
                         proj_defs[p].name, "key", key ? key : json_null(),
                         "what", what, "stored", stored ? stored : json_null(),
                         "rebuilt", rebuilt ? rebuilt : json_null()));
}

static int
compare_one(struct ldg_txn *t, struct pstate *ps, enum proj_id p, json_t *diffs)
{
    struct pentry **v = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, val;
    ldg_dbi dbi;
    size_t n = 0, i = 0;
    int rc, crc;

    v = malloc((ps->n ? ps->n : 1) * sizeof *v);
    if (v == NULL)
        return LDG_ENOMEM;
    for (size_t s = 0; s < ps->cap; s++)
        if (ps->slots[s] != NULL && ps->slots[s]->rt->proj == p)
            v[n++] = ps->slots[s];
    LDG_ASSERT(n <= ps->n);
    qsort(v, n, sizeof *v, proj_cmp_entry);
    rc = ldg_db_open(t, proj_defs[p].db, 0, &dbi);
    if (rc == LDG_ENOTFOUND) {
        /* no database: no records (each one rebuilt is missing) */
        crc = LDG_ENOTFOUND;
        rc = 0;
    } else if (rc < 0) {
        free(v);
        return rc;
    } else {
        if ((rc = ldg_cursor_open(t, dbi, &c)) < 0) {
            free(v);
            return rc;
        }
        crc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &val);
    }
    for (;;) {
        int cmp;
        uint8_t *enc = NULL;
        size_t elen = 0;
        if (crc != 0 && crc != LDG_ENOTFOUND) {
            rc = crc;
            break;
        }
        if (crc == LDG_ENOTFOUND && i >= n)
            break;
        if (crc == LDG_ENOTFOUND) {
            cmp = 1;
        } else if (i >= n) {
            cmp = -1;
        } else {
            size_t m = k.len < v[i]->klen ? k.len : v[i]->klen;
            cmp = memcmp(k.data, v[i]->key, m);
            if (cmp == 0)
                cmp = k.len < v[i]->klen ? -1 : k.len > v[i]->klen;
        }
        if (i < n && cmp >= 0) {
            if ((rc = rec_encode(v[i]->rt, v[i]->rec, &enc, &elen)) < 0)
                break;
        }
        if (cmp < 0) {
            add_diff(diffs, p, key_json(k.data, k.len), "only in the store",
                     rec_json(rtype_of(p, ((const uint8_t *)k.data)[0]),
                              val.data, val.len),
                     NULL);
            crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &val);
        } else if (cmp > 0) {
            add_diff(diffs, p, key_json(v[i]->key, v[i]->klen),
                     "missing from the store", NULL,
                     rec_json(v[i]->rt, enc, elen));
            i++;
        } else {
            if (elen != val.len || memcmp(enc, val.data, elen) != 0)
                add_diff(diffs, p, key_json(v[i]->key, v[i]->klen), "differs",
                         rec_json(v[i]->rt, val.data, val.len),
                         rec_json(v[i]->rt, enc, elen));
            i++;
            crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &val);
        }
        free(enc);
    }
    ldg_cursor_close(c);
    free(v);
    return rc < 0 ? rc : 0;
}

/* The signed projection notes in proj.notes, as `projections --note` and
 * bundles give them: each signed by the log key, of this log's origin and
 * of the size it is stored under, never past the log; and the one at the
 * stored state's size (at, when every projection is stored there) says
 * what the stored state is (which the caller compared with the log).
 * Differences go to diffs as {"projection": "notes", "key": size, ...}. */
/* Whether the stored note's text (n bytes at s, its lines up to the
 * blank one) names the state want names. Its header, origin and size
 * lines are want's. A projection's line "NAME VERSION DIGEST" at want's
 * version must be want's line; one at another version (or a projection
 * the note or want lacks) is a true statement of another code's fold,
 * which this code folds anew (the projection's version changed): it is
 * not compared, and then nor is the doctor's line, whose digest folds
 * every projection's. */
#define NOTE_LINES 32
static int
note_lines(const char *s, size_t n, const char **l, size_t *len)
{
    size_t k = 0;
    const char *p = s, *end = s + n;
    while (p < end && k < NOTE_LINES) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t m = e != NULL ? (size_t)(e - p) : (size_t)(end - p);
        if (m == 0)
            break; /* the blank line before the signatures */
        l[k] = p;
        len[k++] = m;
        p += m + (e != NULL);
    }
    return (int)k;
}

static int
note_agrees(const char *s, size_t n, const char *want)
{
    const char *a[NOTE_LINES], *b[NOTE_LINES];
    size_t al[NOTE_LINES], bl[NOTE_LINES];
    int na = note_lines(s, n, a, al),
        nb = note_lines(want, strlen(want), b, bl);
    int same = na == nb, doctor_a = -1, doctor_b = -1;

    if (na < 3 || nb < 3)
        return 0;
    for (int i = 0; i < 3; i++) /* header, origin, size */
        if (al[i] != bl[i] || memcmp(a[i], b[i], al[i]) != 0)
            return 0;
    for (int i = 3; i < na; i++) {
        size_t an = strcspn(a[i], " "), av;
        int j;
        if (an >= al[i])
            return 0;
        if (an == 6 && memcmp(a[i], "doctor", 6) == 0) {
            doctor_a = i;
            continue;
        }
        for (j = 3; j < nb; j++)
            if (strcspn(b[j], " ") == an && memcmp(a[i], b[j], an) == 0)
                break;
        if (j == nb) { /* a projection this code has not */
            same = 0;
            continue;
        }
        av = strcspn(a[i] + an + 1, " ");
        if (av != strcspn(b[j] + an + 1, " ") ||
            memcmp(a[i] + an + 1, b[j] + an + 1, av) != 0) {
            same = 0; /* another version: not compared */
            continue;
        }
        if (al[i] != bl[j] || memcmp(a[i], b[j], al[i]) != 0)
            return 0; /* the same version, another digest */
    }
    for (int j = 3; j < nb; j++)
        if (strcspn(b[j], " ") == 6 && memcmp(b[j], "doctor", 6) == 0)
            doctor_b = j;
    if (!same)
        return 1;
    return doctor_a >= 0 && doctor_b >= 0 && al[doctor_a] == bl[doctor_b] &&
           memcmp(a[doctor_a], b[doctor_b], al[doctor_a]) == 0;
}

static int
notes_check(struct ldg_txn *t, uint64_t size, uint64_t at, json_t *diffs)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi;
    char want[2048], head[256];
    int rc, crc, have_want;

    rc = ldg_db_open(t, NOTES_DB, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    have_want = eng_note_text(t, at, want, sizeof want) == 0;
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (crc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); crc == 0;
         crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const char *what = NULL;
        uint64_t ks = k.len == 8 ? ldg_rd_be64(k.data) : 0;
        size_t tlen = 0;
        char ksz[24];
        snprintf(ksz, sizeof ksz, "%llu", (unsigned long long)ks);
        snprintf(head, sizeof head, "%s\norigin %s\nsize %llu\n", NOTE_HEADER,
                 ldg_origin(l), (unsigned long long)ks);
        if (k.len != 8)
            what = "a key that is not a log size";
        else if (ks > size)
            what = "signed for a size the log has not reached";
        else if ((rc = ldg_log_verify_note(l, v.data, v.len, &tlen)) ==
                 LDG_ENOMEM) {
            crc = rc; /* the machine's, not a difference */
            break;
        } else if (rc != 0)
            what = "its signature does not verify with the log key";
        else if (tlen < strlen(head) || memcmp(v.data, head, strlen(head)) != 0)
            what = "its text does not name this log's origin and the size "
                   "it is stored under";
        else if (ks == at && have_want &&
                 !note_agrees((const char *)v.data, tlen, want))
            what = "its digests are not those of the stored state";
        if (what != NULL)
            json_array_append_new(diffs,
                                  json_pack("{s:s, s:s, s:s, s:n, s:n}",
                                            "projection", "notes", "key", ksz,
                                            "what", what, "stored", "rebuilt"));
    }
    ldg_cursor_close(c);
    return crc == LDG_ENOTFOUND ? 0 : crc;
}

int
ldg_projections_check_stored(struct ldg_ledger *l,
                             ldg_projections_progress_fn fn, void *ctx,
                             json_t **diffs, uint64_t *ndiff, unsigned *checked)
{
    struct ldg_txn *t = NULL;
    struct pmeta m[P_COUNT];
    unsigned mask = 0, bad = 0;
    uint64_t size = 0, at = 0;
    json_t *d = NULL;
    int rc;

    if (l == NULL || diffs == NULL || ndiff == NULL || checked == NULL)
        return LDG_EINVAL;
    *diffs = NULL;
    *ndiff = 0;
    *checked = 0;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) == 0) {
        /* a view answers from the store only when every projection is
         * stored at this code's version, at one size within the log (as
         * ldg_projections_view decides); otherwise from the log alone */
        mask = P_ALL;
        for (int p = 0; p < P_COUNT && rc == 0; p++) {
            if ((rc = meta_read(t, (enum proj_id)p, &m[p])) < 0)
                break;
            if (!m[p].present || m[p].version != proj_defs[p].version ||
                m[p].applied > size || (p > 0 && m[p].applied != at))
                mask = 0;
            at = m[p].applied;
        }
    }
    if (rc == 0 && (d = json_array()) == NULL)
        rc = LDG_ENOMEM;
    /* As stored: each projection's records add up to the digest its meta
     * record keeps (the applier keeps it with every change), the signed
     * notes are sound, proj.verified is what its events call for. A
     * record that differs from the log's while its digest was kept with
     * it is what `rebuild --check` finds (a fold of the whole log). */
    for (int p = 0; rc == 0 && p < P_COUNT; p++) {
        struct pdigest sd;
        if (!(mask & (1u << p)))
            continue;
        if ((rc = eng_stored_digest(t, (enum proj_id)p, &sd)) < 0)
            break;
        if (sd.count != m[p].dig.count || memcmp(sd.acc, m[p].dig.acc, 32) != 0)
            bad |= 1u << p;
    }
    if (rc == 0)
        rc = notes_check(t, size, mask ? at : size, d);
    if (rc == 0 && (mask & (1u << P_MODELS)))
        rc = verified_check(t, d);
    if (rc == 0)
        rc = eng_horizon_check(t, d);
    ldg_txn_abort(t);
    if (rc < 0) {
        json_decref(d);
        return rc;
    }
    *checked = mask;
    if (bad == 0) {
        *diffs = d;
        *ndiff = json_array_size(d);
        return 0;
    }
    /* a projection whose records are not what was kept: name them, by
     * the state the log gives */
    json_decref(d);
    if ((rc = ldg_projections_check(l, mask, fn, ctx, diffs, ndiff)) < 0)
        return rc;
    for (int p = 0; *ndiff == 0 && p < P_COUNT; p++)
        if (bad & (1u << p))
            add_diff(*diffs, (enum proj_id)p, NULL,
                     "the digest kept for its records is not theirs (its "
                     "meta record is damaged)",
                     NULL, NULL);
    *ndiff = json_array_size(*diffs);
    return 0;
}

int
ldg_projections_check(struct ldg_ledger *l, unsigned mask,
                      ldg_projections_progress_fn fn, void *ctx,
                      json_t **diffs_out, uint64_t *ndiff)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    struct pmeta m[P_COUNT];
    struct pdigest d[P_COUNT];
    uint64_t size, at = UINT64_MAX;
    json_t *diffs = NULL;
    int rc;

    if (l == NULL || diffs_out == NULL || (mask & ~P_ALL) != 0)
        return LDG_EINVAL;
    if (mask == 0)
        mask = P_ALL;
    *diffs_out = NULL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    diffs = json_array();
    /* Compare at the size the store has applied (the most common). */
    for (int p = 0; p < P_COUNT; p++) {
        if ((rc = meta_read(t, (enum proj_id)p, &m[p])) < 0)
            goto out;
        if ((mask & (1u << p)) && m[p].present && at == UINT64_MAX)
            at = m[p].applied;
    }
    if (at == UINT64_MAX || at > size)
        at = size;
    for (int p = 0; p < P_COUNT; p++) {
        char buf[160];
        if (!(mask & (1u << p)))
            continue;
        if (!m[p].present) {
            add_diff(diffs, (enum proj_id)p, NULL,
                     "no stored state (never built)", NULL, NULL);
            continue;
        }
        if (m[p].version != proj_defs[p].version) {
            snprintf(buf, sizeof buf, "stored version %u, code version %u",
                     m[p].version, proj_defs[p].version);
            add_diff(diffs, (enum proj_id)p, NULL, buf, NULL, NULL);
        }
        if (m[p].applied != at) {
            snprintf(buf, sizeof buf,
                     "stored state covers %llu events, "
                     "the others %llu",
                     (unsigned long long)m[p].applied, (unsigned long long)at);
            add_diff(diffs, (enum proj_id)p, NULL, buf, NULL, NULL);
        }
    }
    if ((rc = ps_new(&ps, l, NULL, 0, mask)) < 0)
        goto out;
    if ((rc = eng_fold_range(ps, t, 0, at, fn, ctx)) < 0)
        goto out;
    if ((rc = ps_digest_all(ps, d)) < 0)
        goto out;
    for (int p = 0; p < P_COUNT; p++) {
        uint8_t a[32], b[32];
        if (!(mask & (1u << p)) || !m[p].present)
            continue;
        if ((rc = compare_one(t, ps, (enum proj_id)p, diffs)) < 0)
            goto out;
        pdigest_final(a, (enum proj_id)p, &d[p]);
        pdigest_final(b, (enum proj_id)p, &m[p].dig);
        if (memcmp(a, b, 32) != 0)
            add_diff(diffs, (enum proj_id)p, NULL, "digest differs",
                     ldg_json_hex(b, 32), ldg_json_hex(a, 32));
    }
    if ((mask & (1u << P_MODELS)) && (rc = verified_check(t, diffs)) < 0)
        goto out;
    if ((rc = notes_check(t, size, at, diffs)) < 0)
        goto out;
    *ndiff = json_array_size(diffs);
    *diffs_out = diffs;
    diffs = NULL;
out:
    json_decref(diffs);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}
