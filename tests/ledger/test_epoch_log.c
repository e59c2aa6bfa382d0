/*
 * test_epoch_log.c — ledger/epoch_log.c and the epoch checks of
 * verify_seals.c, as an attacker who holds the box after two epoch
 * advances would try them (issue 65, item 6): with the log key and the
 * current epoch state, an event of a past epoch re-sealed (by the current
 * epoch key, by the log key alone, or under the past epoch with a forged
 * signature), or a second link from a past sub-epoch, is refused by
 * `ledger verify`, naming the event and the epoch; the same re-sealing on
 * a ledger without epochs (today's) verifies. A second anchor, a state
 * file restored from a backup and a power cut during an advance; no file
 * under the ledger directory holds a past epoch's secret.
 */
#include "tests/ledger/verify_fx.h"

#include <dirent.h>
#include <sys/stat.h>

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/tlog_int.h"

#define T0 2000000000000000000ull
#define SEC 1000000000ull

static uint64_t clock_ns;

/* Every epoch secret the box held on the way (from the state file). */
static uint8_t held[2048][32];
static size_t nheld;

static void
note_secrets(struct fx *f)
{
    char path[512], err[256];
    struct ldg_epoch_state *s = NULL;
    static const uint8_t zero[32];
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    if (ldg_epoch_file_load(path, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(nheld + 33 <= sizeof held / sizeof held[0]);
    memcpy(held[nheld++], s->cur_seed, 32);
    for (int l = 0; l < 32; l++)
        if (memcmp(s->pend[l], zero, 32) != 0)
            memcpy(held[nheld++], s->pend[l], 32);
    ldg_epoch_state_free(s);
}

static void
append_at(struct fx *f, uint64_t t)
{
    clock_ns = t;
    t_append(f->l, "x.test", "{\"k\":1}", NULL);
    note_secrets(f);
}

/*
 * 1, 2 before the anchor; 3 key.anchored (60 s periods from T0 + 10 s);
 * 4, 5 in epoch 0.0; keys advance; 6 in epoch 0.1; 7 in epoch 2.0; keys
 * advance; 8 in epoch 2.1. Each its own commit and seal.
 */
static int
setup_epochs(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    uint64_t seq;
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, 0, 999);
    ldg_set_clock(f->l, &clock_ns);
    nheld = 0;
    clock_ns = T0;
    t_append(f->l, "x.test", "{\"k\":1}", NULL); /* 1 */
    clock_ns = T0 + 5 * SEC;
    t_append(f->l, "x.test", "{\"k\":2}", NULL); /* 2 */
    clock_ns = T0 + 10 * SEC;
    assert_int_equal(ldg_keys_anchor(f->l, NULL, 60 * SEC, &seq), 0);
    assert_int_equal(seq, 3);
    note_secrets(f);
    append_at(f, T0 + 20 * SEC); /* 4 */
    append_at(f, T0 + 21 * SEC); /* 5 */
    clock_ns = T0 + 22 * SEC;
    assert_int_equal(ldg_keys_advance(f->l, NULL, NULL), 0);
    note_secrets(f);
    append_at(f, T0 + 23 * SEC);  /* 6 */
    append_at(f, T0 + 135 * SEC); /* 7: period 2 */
    clock_ns = T0 + 136 * SEC;
    assert_int_equal(ldg_keys_advance(f->l, NULL, NULL), 0);
    append_at(f, T0 + 137 * SEC); /* 8: epoch 2.1 */
    *state = f;
    return 0;
}

/* The attacker's tools: the state file as it is now, and the log key. */
static struct ldg_epoch_state *
current_state(struct fx *f)
{
    char path[512], err[256];
    struct ldg_epoch_state *s = NULL;
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    if (ldg_epoch_file_load(path, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    return s;
}

static struct ldg_event
get_event(struct fx *f, uint64_t seq)
{
    static uint8_t buf[LDG_ENTRY_MAX];
    struct ldg_event ev;
    size_t n = t_raw_get(f->l, "entries", seq, buf, sizeof buf);
    assert_int_equal(ldg_entry2_decode(buf, n, &ev), 0);
    return ev;
}

/* Rewrites event q's claim with another source time (which no index
 * holds): its digest, its one-event seal's root into root. */
static void
rewrite_time(struct fx *f, uint64_t q, uint8_t root[32])
{
    struct ldg_event ev = get_event(f, q);
    struct ldg_claim c;
    struct ldg_stamp st;
    uint8_t claim[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX];
    size_t cn, en;

    assert_int_equal(ldg_claim_decode(ev.signed_part, ev.signed_len, &c), 0);
    c.has_time = 1;
    c.time_ns = 1234567890;
    assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
    memset(&st, 0, sizeof st);
    ldg_claim_digest(st.digest, claim, cn);
    st.leaf = 0;
    st.seal = q;
    st.seq = q;
    st.ts = ev.ts_ns;
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, ev.prev),
        0);
    t_raw_put(f->l, "entries", q, entry, en);
    ldg_seal_root((const uint8_t(*)[32])st.digest, 1, root);
}

/* Rebuilds, from `from` on, prev, the stored tree and every checkpoint
 * with the log key (test_verify_seals.c's attacker). */
static void
rechain(struct fx *f, uint64_t from)
{
    struct ldg_txn *t;
    ldg_dbi ent, cks;
    uint64_t size;
    uint8_t prev[32];

    assert_int_equal(ldg_size(f->l, &size), 0);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(
        ldg_db_open(t, ldg_core_db_names[ldg_db_entries(t)], 0, &ent), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &cks), 0);
    assert_int_equal(ldg_entry_prev(t, from, prev), 0);
    for (uint64_t q = from; q < size; q++) {
        uint8_t k[8], buf[LDG_ENTRY_MAX], leaf[32];
        struct ldg_val v;
        size_t n;
        ldg_be64(k, q);
        assert_int_equal(ldg_kv_get(t, ent, k, 8, &v), 0);
        assert_int_equal(
            ldg_entry_whole(v.data, v.len, prev, buf, sizeof buf, &n), 0);
        if (q > from)
            memcpy(buf + n - 32, prev, 32);
        if (((const uint8_t *)v.data)[0] == 0x93)
            assert_int_equal(ldg_core_kv_put(t, ent, k, 8, buf, n), 0);
        ldg_tlog_leaf_hash(leaf, buf, n);
        assert_int_equal(ldg_tree_add_leaf(t, q, leaf), 0);
        memcpy(prev, leaf, 32);
    }
    for (uint64_t q = from + 1; q <= size; q++) {
        uint8_t k[8];
        struct ldg_val v;
        ldg_be64(k, q);
        if (ldg_kv_get(t, cks, k, 8, &v) == 0)
            assert_int_equal(ldg_checkpoint_put(t, q), 0);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
verify_ok(struct fx *f)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                        NULL);
    if (rc != 0)
        fail_msg("verify: %d at %llu: %s", rc, (unsigned long long)r.bad_seq,
                 r.what);
}

enum forge { BY_CURRENT, NO_EPOCH, OLD_EPOCH_FORGED_SIG };

/* Re-seals event q (one event, key-local first `first`) over root with the
 * log key and, as `how` says, the epoch part. */
static void
reseal(struct fx *f, uint64_t q, const uint8_t root[32], enum forge how)
{
    struct ldg_epoch_state *st = current_state(f);
    struct ldg_seal s, old;
    uint8_t rec[LDG_SEAL_REC_MAX], map[LDG_SEAL_MAP_MAX], sig[64];
    static uint8_t ext[LDG_EPOCH_EXT_MAX];
    size_t n, mn;

    n = t_raw_get(f->l, "seals", q, rec, sizeof rec);
    assert_int_equal(ldg_seal_record_decode(rec, n, &old), 0);
    memset(&s, 0, sizeof s);
    s.count = 1;
    s.first = old.first;
    memcpy(s.key_id, old.key_id, sizeof s.key_id);
    memcpy(s.origin, old.origin, sizeof s.origin);
    memcpy(s.root, root, 32);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_seal_sign(&s, f->l->log_key), 0);
    assert_int_equal(ldg_seal_map_encode(&s, map, sizeof map, &mn), 0);
    assert_int_equal(ldg_epoch_seal_sign(st, map, mn, sig), 0);
    if (how == BY_CURRENT) {
        /* the whole path: as if it were the key's first epoch seal */
        s.ext_len = ldg_epoch_ext_encode(ext, st, sig, 0, 0);
        s.ext = ext;
    } else if (how == OLD_EPOCH_FORGED_SIG) {
        /* the past epoch's part as stored, the signature the current
         * key's */
        memcpy(ext, old.ext, old.ext_len);
        memcpy(ext + 8, sig, 64);
        s.ext = ext;
        s.ext_len = old.ext_len;
    }
    assert_int_equal(ldg_seal_record_encode(&s, rec, sizeof rec, &n), 0);
    t_raw_put(f->l, "seals", q, rec, n);
    ldg_epoch_state_free(st);
}

static void
test_epoch_log__verifies_and_lists(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_row *rows;
    size_t n;
    static const struct {
        uint32_t p, j;
        uint64_t from;
    } want[] = {{0, 0, 4}, {0, 1, 6}, {2, 0, 7}, {2, 1, 8}};

    verify_ok(f);
    assert_int_equal(ldg_keys_epochs(f->l, &rows, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rows[i].key, "log");
        assert_int_equal(rows[i].period, want[i].p);
        assert_int_equal(rows[i].sub, want[i].j);
        assert_int_equal(rows[i].from_seq, want[i].from);
    }
    /* each sub-epoch starts after the last event before it */
    assert_true(rows[1].start_ns > T0 + 21 * SEC);
    assert_true(rows[3].start_ns > T0 + 135 * SEC);
    free(rows);
}

/* The control: on a ledger without epochs (what today's build makes),
 * what is on the box re-signs the past and verify cannot tell. */
static void
test_epoch_log__without_epochs_the_past_is_resignable(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    /* event 2 is before the anchor: sealed by the log key alone */
    rewrite_time(f, 2, root);
    reseal(f, 2, root, NO_EPOCH);
    rechain(f, 2);
    verify_ok(f);
}

static void
test_epoch_log__resealed_by_current_epoch_refused(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    rewrite_time(f, 4, root);
    reseal(f, 4, root, BY_CURRENT);
    rechain(f, 4);
    expect_bad(f, LDG_VERIFY_FULL, 4, "epoch 2.1");
    expect_bad(f, LDG_VERIFY_FULL, 4, "before the start");
    /* and the same seal over the event unchanged (re-signing, no edit) */
}

static void
test_epoch_log__same_event_resigned_by_current_refused(void **state)
{
    struct fx *f = *state;
    uint8_t rec[LDG_SEAL_REC_MAX];
    struct ldg_seal s;
    size_t n = t_raw_get(f->l, "seals", 5, rec, sizeof rec);
    assert_int_equal(ldg_seal_record_decode(rec, n, &s), 0);
    reseal(f, 5, s.root, BY_CURRENT);
    /* 4 is the key's first epoch seal and carried the path: 5 carrying it
     * again is refused as what the log had carried already */
    expect_bad(f, LDG_VERIFY_FULL, 5, "epoch 2.1");
}

static void
test_epoch_log__resealed_without_epoch_refused(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    rewrite_time(f, 6, root);
    reseal(f, 6, root, NO_EPOCH);
    rechain(f, 6);
    expect_bad(f, LDG_VERIFY_FULL, 6, "carries no epoch");
}

static void
test_epoch_log__past_epoch_signature_forged_refused(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    rewrite_time(f, 5, root);
    reseal(f, 5, root, OLD_EPOCH_FORGED_SIG);
    rechain(f, 5);
    expect_bad(f, LDG_VERIFY_FULL, 5,
               "epoch signature does not verify with the key of epoch 0.0");
}

/* A second link from a past sub-epoch: epoch 0.1's link replaced by one
 * to a key the attacker made, signed with the current key. */
static void
test_epoch_log__second_link_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st = current_state(f);
    struct ldg_key *mine = NULL;
    uint8_t rec[LDG_SEAL_REC_MAX], msg[LDG_EPOCH_LINK_MSG], *ext;
    struct ldg_seal s;
    struct ldg_epoch_ext x;
    size_t n = t_raw_get(f->l, "seals", 6, rec, sizeof rec);

    assert_int_equal(ldg_seal_record_decode(rec, n, &s), 0);
    assert_int_equal(ldg_epoch_ext_decode(s.ext, s.ext_len, &x), 0);
    assert_int_equal(x.period, 0);
    assert_int_equal(x.sub, 1);
    assert_int_equal(x.j0, 0);
    ext = (uint8_t *)(uintptr_t)x.links; /* in rec */
    assert_int_equal(ldg_key_generate(&mine, "mine"), 0);
    memcpy(ext + 8, mine->pub, 32);
    ldg_epoch_link_msg(msg, &st->par, 0, 1, ldg_rd_be64(ext), mine->pub);
    {
        struct ldg_key *cur = NULL;
        assert_int_equal(ldg_epoch_key(st, "cur", &cur), 0);
        assert_int_equal(ldg_ed25519_sign_ctx(ext + 40, LDG_EPOCH_LINK_CTX,
                                              msg, sizeof msg, cur),
                         0);
        ldg_key_free(cur);
    }
    t_raw_put(f->l, "seals", 6, rec, n);
    expect_bad(f, LDG_VERIFY_FULL, 6, "link 1 does not verify");
    expect_bad(f, LDG_VERIFY_FULL, 6, "epoch 0.1");
    ldg_key_free(mine);
    ldg_epoch_state_free(st);
}

static void
test_epoch_log__second_anchor_refused(void **state)
{
    struct fx *f = *state;
    uint64_t seq;
    char body[256];
    assert_int_equal(ldg_keys_anchor(f->l, NULL, 60 * SEC, &seq), LDG_EEXIST);
    snprintf(body, sizeof body,
             "{\"key_id\":\"%s\",\"anchor\":\"%064d\",\"t0\":1,"
             "\"period_ns\":60000000000}",
             f->l->log_key ? f->l->log_key->key_id : "", 0);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    snprintf(body, sizeof body,
             "{\"key_id\":\"%s\",\"anchor\":\"%064d\",\"t0\":1,"
             "\"period_ns\":60000000000}",
             f->l->log_key->key_id, 0);
    {
        struct ldg_event_in in;
        json_t *b = json_loads(body, 0, NULL);
        memset(&in, 0, sizeof in);
        in.type = LDG_EV_KEY_ANCHORED;
        in.body = b;
        assert_int_equal(ldg_append(f->l, &in, &seq), LDG_EBADINPUT);
        assert_non_null(strstr(ldg_errmsg(f->l), "has an anchor already"));
        json_decref(b);
    }
}

/* keys/ restored from a backup: the state is behind the log. The box
 * refuses to seal under an epoch that goes back. */
static void
test_epoch_log__state_behind_the_log_refused(void **state)
{
    struct fx *f = *state;
    char path[512], copy[600], cmd[2000];
    struct ldg_event_in in;
    json_t *b = json_loads("{\"k\":3}", 0, NULL);
    uint64_t seq;

    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    snprintf(copy, sizeof copy, "%s/backup.epochs", f->dir);
    snprintf(cmd, sizeof cmd, "cp -p %s %s", path, copy);
    assert_int_equal(system(cmd), 0);
    append_at(f, T0 + 300 * SEC); /* 9: period 4 */
    snprintf(cmd, sizeof cmd, "cat %s > %s && rm %s", copy, path, copy);
    assert_int_equal(system(cmd), 0);
    clock_ns = T0 + 301 * SEC;
    memset(&in, 0, sizeof in);
    in.type = "x.test";
    in.body = b;
    assert_int_equal(ldg_append(f->l, &in, &seq), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(f->l), "restored from a backup"));
    json_decref(b);
}

/* A power cut at each step of the state file's store during an advance:
 * the ledger goes on appending, and verifies. */
static void
test_epoch_log__power_cut_during_advance(void **state)
{
    struct fx *f = *state;
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    for (int step = 1; step <= 3; step++) {
        struct ldg_epoch_state *st = current_state(f);
        clock_ns += 2 * SEC;
        assert_int_equal(ldg_epoch_advance(st, clock_ns), 0);
        assert_int_equal(ldg_epoch_file_store(path, st, step, err, sizeof err),
                         LDG_EIO);
        ldg_epoch_state_free(st);
        append_at(f, clock_ns + SEC);
    }
    verify_ok(f);
}

/* 1 when the n bytes of k occur in hay, raw, in hex or in base64. */
static int
holds(const uint8_t *hay, size_t hn, const uint8_t *k, size_t n)
{
    for (size_t i = 0; i + n <= hn; i++)
        if (memcmp(hay + i, k, n) == 0)
            return 1;
    return 0;
}

static int
holds_any(const uint8_t *hay, size_t hn, const uint8_t k[32])
{
    char hex[65], b64[64];
    uint8_t sh[34];
    ldg_hex(hex, k, 32);
    if (holds(hay, hn, k, 32) || holds(hay, hn, (const uint8_t *)hex, 64))
        return 1;
    for (int a = 0; a < 3; a++) {
        memset(sh, 0, sizeof sh);
        memcpy(sh + a, k, 32);
        ldg_base64(b64, sh, 33);
        if (holds(hay, hn, (const uint8_t *)b64 + 4,
                  (size_t)((32 + a) / 3 - 1) * 4))
            return 1;
    }
    return 0;
}

static int
dir_holds(const char *dir, const uint8_t k[32], char *where, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    assert_non_null(d);
    while (!found && (e = readdir(d)) != NULL) {
        char p[1024];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            found = dir_holds(p, k, where, cap);
        } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
            FILE *fp = fopen(p, "rb");
            uint8_t *buf = malloc((size_t)st.st_size);
            size_t got = fread(buf, 1, (size_t)st.st_size, fp);
            fclose(fp);
            if (holds_any(buf, got, k)) {
                snprintf(where, cap, "%s", p);
                found = 1;
            }
            free(buf);
        }
    }
    closedir(d);
    return found;
}

/* After the advances, no file under the ledger directory holds a secret
 * the box held for an epoch now past (the current one and the pending
 * ones of later periods excepted: the box must keep those). */
static void
test_epoch_log__no_past_secret_in_any_file(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st = current_state(f);
    char where[1024];
    size_t past = 0;
    ldg_close(f->l); /* everything on disk */
    f->l = NULL;
    for (size_t i = 0; i < nheld; i++) {
        int now = memcmp(held[i], st->cur_seed, 32) == 0;
        for (int l = 0; l < 32; l++)
            now |= memcmp(held[i], st->pend[l], 32) == 0;
        if (now)
            continue;
        past++;
        if (dir_holds(f->dir, held[i], where, sizeof where))
            fail_msg("%s holds the past secret %zu", where, i);
    }
    assert_true(past >= 4);
    /* the control: the current secret is found where it is */
    assert_true(dir_holds(f->dir, st->cur_seed, where, sizeof where));
    ldg_epoch_state_free(st);
    {
        char err[256];
        struct ldg_options o;
        memset(&o, 0, sizeof o);
        o.flags = LDG_NOSYNC;
        assert_int_equal(ldg_open(&f->l, f->dir, &o, err, sizeof err), 0);
    }
}


/* The doctor's line: the current epoch and since which seq; and which
 * mount holds keys/, read from mountinfo. */
static void
test_epoch_log__exposure(void **state)
{
    struct fx *f = *state;
    struct ldg_exposure x;
    static const char mi[] =
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        "27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw,data=ordered\n"
        "30 27 8:2 / /var rw,relatime - ext4 /dev/sda2 rw,data=journal\n"
        "31 30 8:3 / /var/lib/ledger rw - ext4 /dev/sda3 rw,errors=remount-ro\n"
        "32 27 8:4 / /varx rw - ext4 /dev/sda4 rw,data=journal\n";

    assert_int_equal(ldg_keys_exposure(f->l, &x), 0);
    assert_true(x.anchored);
    assert_int_equal(x.period, 2);
    assert_int_equal(x.sub, 1);
    assert_int_equal(x.since_seq, 8);
    assert_true(x.start_ns > T0 + 135 * SEC);
    assert_true(x.fs[0] != '\0');
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/var/db/x"), 1);
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/var"), 1);
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/var/lib/ledger/keys"),
                     0);
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/home/u/.local"), 0);
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/varx/keys"), 1);
    assert_int_equal(ldg_mountinfo_data_journal("", "/x"), -1);
    /* after an advance nothing is sealed under the new epoch yet */
    clock_ns = T0 + 140 * SEC;
    assert_int_equal(ldg_keys_advance(f->l, NULL, NULL), 0);
    assert_int_equal(ldg_keys_exposure(f->l, &x), 0);
    assert_int_equal(x.sub, 2);
    assert_true(x.since_seq == UINT64_MAX);
}

#define TE(name) cmocka_unit_test_setup_teardown(name, setup_epochs, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TE(test_epoch_log__verifies_and_lists),
        TE(test_epoch_log__without_epochs_the_past_is_resignable),
        TE(test_epoch_log__resealed_by_current_epoch_refused),
        TE(test_epoch_log__same_event_resigned_by_current_refused),
        TE(test_epoch_log__resealed_without_epoch_refused),
        TE(test_epoch_log__past_epoch_signature_forged_refused),
        TE(test_epoch_log__second_link_refused),
        TE(test_epoch_log__second_anchor_refused),
        TE(test_epoch_log__state_behind_the_log_refused),
        TE(test_epoch_log__power_cut_during_advance),
        TE(test_epoch_log__no_past_secret_in_any_file),
        TE(test_epoch_log__exposure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
