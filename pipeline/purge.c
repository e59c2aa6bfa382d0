/*
 * purge.c — the fast purge of memory items by hash prefix.
 *
 * A purge is the existing erasure (body.erased) applied to every
 * memory.candidate of the matching items, with a memory.purged that
 * says what was purged and why, all in one batch: either the record of
 * the purge and every erasure are in the log, or none of them. The
 * envelopes, body digests, chain and tree stay, so `ledger verify` and
 * evidence bundles keep working; the bodies (hash, provenance, and any
 * content the control plane put there) are gone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"
#include "util/util.h"

#define LIST_MAX 8 /* hashes named in an "ambiguous" message */

static int
prefix_norm(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n == 0 || n > 64 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)in[i]))
            return -1;
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    LDG_ASSERT(n < cap);
    out[n] = '\0';
    return 0;
}

/* Items whose hash starts with prefix: *items (names) and *hashes
 * (distinct, in order of first match); the match with the oldest
 * memory.candidate into *oldest (its seq, UINT64_MAX for none) and
 * oldest_item. */
static int
match_items(struct ldg_ledger *l, const char *prefix, json_t *items,
            json_t *hashes, uint64_t *oldest, char *oldest_item, size_t cap)
{
    json_t *rows = NULL, *r;
    size_t i, n = strlen(prefix);
    int rc = ldg_projections_view(l, LDG_VIEW_MEMORY, NULL, &rows);
    if (rc < 0)
        return rc;
    json_array_foreach(rows, i, r)
    {
        const char *h = json_string_value(json_object_get(r, "hash"));
        char low[80];
        size_t k, hn;
        json_t *x;
        int seen = 0;
        if (h == NULL || (hn = strlen(h)) < n || hn >= sizeof low)
            continue;
        for (k = 0; k <= hn; k++)
            low[k] = (char)tolower((unsigned char)h[k]);
        LDG_ASSERT(low[hn] == '\0' && n <= hn);
        if (strncmp(low, prefix, n) != 0)
            continue;
        json_array_append(items, json_object_get(r, "item"));
        {
            const char *cs =
                json_string_value(json_object_get(r, "candidate_seq"));
            uint64_t c = cs ? strtoull(cs, NULL, 10) : UINT64_MAX;
            if (c < *oldest) {
                *oldest = c;
                snprintf(oldest_item, cap, "%s",
                         json_string_value(json_object_get(r, "item")));
            }
        }
        json_array_foreach(hashes, k, x) seen |=
            strcmp(json_string_value(x), low) == 0;
        if (!seen)
            json_array_append_new(hashes, json_string(low));
    }
    json_decref(rows);
    return 0;
}

static int
has_item(const json_t *items, const char *subject)
{
    size_t i;
    json_t *x;
    if (strncmp(subject, "memory:", 7) != 0)
        return 0;
    json_array_foreach(items, i, x) if (strcmp(json_string_value(x),
                                               subject + 7) == 0) return 1;
    return 0;
}

/* The seqs of the matching items' memory.candidate events whose bodies
 * are still there. */
static int
candidate_seqs(struct ldg_ledger *l, const json_t *items, json_t *seqs)
{
    static char term[] = "type=memory.candidate";
    char *terms[1] = {term};
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[256];
    int rc;

    if ((rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err)) < 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    if ((rc = ldg_query_iter_new(&it, q, t, 0)) < 0)
        goto out;
    while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL;
        if (!has_item(items, ev.subject))
            continue;
        rc = ldg_body_get(t, ev.seq, &body);
        json_decref(body);
        if (rc == LDG_EERASED)
            continue;
        if (rc < 0)
            goto out;
        json_array_append_new(seqs, json_integer((json_int_t)ev.seq));
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
out:
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return rc;
}

/* LDG_EPRUNED, said, when the oldest matched item's memory.candidate
 * (seq oldest) went with a prune: its body is in an archive segment,
 * which a purge cannot erase, so marking the item purged would claim
 * what was not done; else 0. */
static int
pruned_item(struct ldg_ledger *l, const char *prefix, uint64_t oldest,
            const char *item)
{
    struct ldg_stats st;
    int rc;

    if ((rc = ldg_stats(l, &st)) < 0)
        return rc;
    if (st.horizon == 0 || oldest >= st.horizon)
        return 0;
    ldg_set_errmsg(l,
                   "item %s (hash %s...): its memory.candidate event seq "
                   "%llu was pruned (the ledger starts at seq %llu); its "
                   "body is in an archive segment, which a purge cannot "
                   "erase; nothing purged",
                   item, prefix, (unsigned long long)oldest,
                   (unsigned long long)st.horizon);
    return LDG_EPRUNED;
}

static int
write_purge(struct ldg_ledger *l, const char *prefix, const char *reason,
            json_t *items, json_t *seqs, uint64_t *purged_seq)
{
    struct ldg_batch *b = NULL;
    struct ldg_event_in in;
    json_t *body;
    char why[1200];
    size_t i;
    json_t *x;
    int rc;

    if ((rc = ldg_batch_begin(&b, l)) < 0)
        return rc;
    body = json_pack("{s:s, s:s, s:O, s:O}", "prefix", prefix, "reason", reason,
                     "items", items, "erased", seqs);
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_MEMORY_PURGED;
    in.body = body;
    rc = body ? ldg_batch_add_seq(b, &in, purged_seq, NULL) : LDG_ENOMEM;
    json_decref(body);
    snprintf(why, sizeof why, "memory purge (prefix %s): %.1000s", prefix,
             reason);
    json_array_foreach(seqs, i, x)
    {
        if (rc < 0)
            break;
        body = json_pack("{s:I, s:s}", "target_seq", json_integer_value(x),
                         "reason", why);
        memset(&in, 0, sizeof in);
        in.type = LDG_EV_BODY_ERASED;
        in.body = body;
        rc = body ? ldg_batch_add(b, &in) : LDG_ENOMEM;
        json_decref(body);
    }
    if (rc == 0)
        rc = ldg_batch_commit(b, NULL, NULL);
    ldg_batch_free(b);
    return rc;
}

int
ldg_pipeline_purge(struct ldg_ledger *l, const char *prefix_in,
                   const char *reason, int all, json_t **report)
{
    char prefix[72];
    json_t *items = NULL, *hashes = NULL, *seqs = NULL;
    uint64_t seq = 0, oldest = UINT64_MAX;
    char oldest_item[300] = "";
    int rc;

    if (report != NULL)
        *report = NULL;
    if (l == NULL || prefix_in == NULL || reason == NULL)
        return LDG_EINVAL;
    if (prefix_norm(prefix_in, prefix, sizeof prefix) < 0) {
        /* a malformed argument: misuse (64), as docs/PROJECTIONS.md says;
         * what the ledger holds (no match, ambiguity) is another thing */
        ldg_set_errmsg(
            l, LDG_OPT_PREFIX " '%.80s': a hash prefix is 1..64 hex digits",
            prefix_in);
        return LDG_EINVAL;
    }
    if (*reason == '\0') {
        ldg_set_errmsg(l, "a purge needs a reason");
        return LDG_EINVAL;
    }
    items = json_array();
    hashes = json_array();
    seqs = json_array();
    if (items == NULL || hashes == NULL || seqs == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = match_items(l, prefix, items, hashes, &oldest, oldest_item,
                          sizeof oldest_item)) < 0)
        goto out;
    if (json_array_size(items) == 0) {
        ldg_set_errmsg(l,
                       "no memory item's hash starts with %s (items already "
                       "purged have no hash left)",
                       prefix);
        rc = LDG_ENOTFOUND;
        goto out;
    }
    if (json_array_size(hashes) > 1 && !all) {
        char list[LIST_MAX * 70 + 32];
        size_t n = 0, i;
        json_t *x;
        json_array_foreach(hashes, i, x)
        {
            if (i == LIST_MAX) {
                snprintf(list + n, sizeof list - n, ", ...");
                break;
            }
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
                                  i ? ", " : "", json_string_value(x));
        }
        ldg_set_errmsg(l,
                       "prefix %s is ambiguous: %zu different hashes start "
                       "with it (%s); give more digits, or " LDG_OPT_ALL
                       " to purge "
                       "every one",
                       prefix, json_array_size(hashes), list);
        rc = LDG_EBADINPUT;
        goto out;
    }
    if ((rc = pruned_item(l, prefix, oldest, oldest_item)) < 0)
        goto out;
    if ((rc = candidate_seqs(l, items, seqs)) < 0)
        goto out;
    if ((rc = write_purge(l, prefix, reason, items, seqs, &seq)) < 0)
        goto out;
    if (report != NULL) {
        *report = json_pack("{s:o, s:s, s:O, s:O, s:O}", "seq",
                            json_integer((json_int_t)seq), "prefix", prefix,
                            "items", items, "hashes", hashes, "erased", seqs);
        if (*report == NULL)
            rc = LDG_ENOMEM;
    }
out:
    json_decref(items);
    json_decref(hashes);
    json_decref(seqs);
    return rc;
}
