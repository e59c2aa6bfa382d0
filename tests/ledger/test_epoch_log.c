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
 * under the ledger directory holds a past epoch's secret. The anchors a
 * verifier pins (ldg_keys_anchors). Checkpoints signed by the epoch key
 * (FORMAT.md 5.1): one signed again by the log key alone, by the current
 * epoch, or with a forged epoch signature is refused naming its size.
 */
#include "tests/ledger/epoch_fx.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* What `keys verifier` names for a verifier to pin: each anchored key's
 * anchor, the log key's first, as its key.anchored says. */
static void
test_epoch_log__anchors_listed(void **state)
{
    struct fx *f = *state;
    struct ldg_anchor_pin *p;
    uint64_t seq;
    size_t n;

    assert_int_equal(ldg_keys_add(f->l, "bob", NULL, NULL), 0);
    assert_int_equal(ldg_keys_anchors(f->l, &p, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].name, "log");
    assert_string_equal(p[0].key_id, f->l->log_key->key_id);
    assert_int_equal(p[0].seq, 3);
    assert_int_equal(p[0].t0_ns, T0 + 10 * SEC);
    assert_int_equal(p[0].period_ns, 60 * SEC);
    free(p);
    clock_ns = T0 + 140 * SEC;
    assert_int_equal(ldg_keys_anchor(f->l, "bob", 5 * SEC, &seq), 0);
    assert_int_equal(ldg_keys_anchors(f->l, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].name, "log");
    assert_string_equal(p[1].name, "bob");
    assert_int_equal(p[1].seq, seq);
    assert_int_equal(p[1].period_ns, 5 * SEC);
    free(p);
}

/* The control: before the anchor (what today's build makes of every
 * event without epochs), what is on the box re-signs the past: the seal,
 * the tree and the newest checkpoint; verify cannot tell once the
 * checkpoints signed under past epochs are gone (only the newest is part
 * of the log). A witness's cosigned checkpoint or a bundle bounds it. */
static void
test_epoch_log__without_epochs_the_past_is_resignable(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    /* event 2 is before the anchor: sealed by the log key alone */
    rewrite_time(f, 2, root);
    reseal(f, 2, root, NO_EPOCH);
    rechain(f, 2);
    for (uint64_t q = 5; q < 9; q++)
        t_raw_del(f->l, "checkpoints", q);
    verify_ok(f);
}

/* ... but while they are there, the checkpoints signed by the epoch keys
 * since the log key's first epoch seal hold the tree: re-signed by the
 * current epoch, the first one's certs are not what the log carried
 * there. */
static void
test_epoch_log__rewrite_before_anchor_caught_by_checkpoints(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    rewrite_time(f, 2, root);
    reseal(f, 2, root, NO_EPOCH);
    rechain(f, 2);
    expect_bad(f, LDG_VERIFY_FULL, 4,
               "checkpoint of size 5, by the log "
               "key's epoch: epoch 2.1 carries");
}

/* The newest checkpoint signed again by the log key alone (its epoch line
 * dropped, as a stock signer makes it): refused. */
static void
test_epoch_log__checkpoint_without_epoch_line_refused(void **state)
{
    struct fx *f = *state;
    resign_checkpoint(f, 9, CK_LOG_KEY_ONLY, 0, 0);
    expect_bad(f, LDG_VERIFY_FULL, 8,
               "checkpoint of size 9 carries no signature by an epoch key");
}

/* An old checkpoint signed again by the current epoch (2.1), its certs
 * and links those the log had not carried at size 6 (epoch 0.0): the
 * line holds, but the log key's next seal (event 6, epoch 0.1) is under
 * an earlier epoch than the checkpoint before it: refused. */
static void
test_epoch_log__checkpoint_resigned_by_current_epoch_refused(void **state)
{
    struct fx *f = *state;
    resign_checkpoint(f, 6, CK_BY_CURRENT, ldg_epoch_part_level(0, 2), 0);
    expect_bad(f, LDG_VERIFY_FULL, 6,
               "the checkpoint of size 6 before it is signed by its later "
               "epoch 2.1");
}

/* A checkpoint under its own past epoch with a forged signature. */
static void
test_epoch_log__checkpoint_epoch_signature_forged_refused(void **state)
{
    struct fx *f = *state;
    resign_checkpoint(f, 7, CK_FORGED_SIG, 0, 0);
    expect_bad(f, LDG_VERIFY_FULL, 6,
               "does not verify with the key of epoch 0.1");
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
        assert_int_equal(ldg_ed25519_sign_ctx(ext + 40, LDG_EPOCH_LINK_CTX, msg,
                                              sizeof msg, cur),
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
    assert_int_equal(ldg_mountinfo_data_journal(mi, "/var/lib/ledger/keys"), 0);
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

/* The state file's bytes hold seed k (raw). */
static int
file_holds(struct fx *f, const uint8_t k[32])
{
    char path[512];
    uint8_t buf[2 * LDG_EPOCH_SLOT];
    FILE *fp;
    size_t n;
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    assert_non_null(fp = fopen(path, "rb"));
    n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    return holds(buf, n, k, 32);
}

/* What `ledger serve` runs when a period ends: an epoch that sealed
 * events is ended once its period is over, not before, and once; an
 * idle key makes no epoch; a seal that opens an epoch says when it is
 * due. (Periods of 60 s from T0 + 10 s: period 2 ends at T0 + 190 s.) */
static void
test_epoch_log__expire(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st;
    struct ldg_epoch_row *rows;
    struct ldg_exposure x;
    uint8_t old[32];
    uint64_t next, gen;
    unsigned ended;
    size_t n;

    (void)ldg_keys_epoch_due(f->l); /* the setup's seals */
    assert_true(ldg_keys_epoch_due(f->l) == UINT64_MAX);
    st = current_state(f);
    memcpy(old, st->cur_seed, 32);
    gen = st->gen;
    ldg_epoch_state_free(st);
    /* inside the period: nothing ended, due at its end */
    clock_ns = T0 + 150 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 0);
    assert_true(next == T0 + 190 * SEC);
    assert_int_equal(ldg_keys_exposure(f->l, &x), 0);
    assert_true(x.end_ns == T0 + 190 * SEC);
    assert_int_equal(x.since_seq, 8);
    st = current_state(f);
    assert_true(st->gen == gen);
    ldg_epoch_state_free(st);
    /* (the expire's view replayed the live epoch's seal: noted) */
    assert_true(ldg_keys_epoch_due(f->l) == T0 + 190 * SEC);
    /* at its end: ended, the old secret overwritten in both slots */
    clock_ns = T0 + 190 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 1);
    assert_true(next == UINT64_MAX);
    assert_false(file_holds(f, old));
    st = current_state(f);
    assert_int_equal(st->cur.period, 3);
    gen = st->gen;
    ldg_epoch_state_free(st);
    assert_int_equal(ldg_keys_epochs(f->l, &rows, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[3].live, 0);
    assert_int_equal(rows[2].live, 0);
    free(rows);
    /* idle for periods: nothing more ended nor written */
    clock_ns = T0 + 400 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 0);
    assert_true(next == UINT64_MAX);
    st = current_state(f);
    assert_true(st->gen == gen);
    ldg_epoch_state_free(st);
    assert_true(ldg_keys_epoch_due(f->l) == UINT64_MAX);
    /* the next event opens period 6's epoch: due at T0 + 430 s */
    append_at(f, T0 + 410 * SEC);
    assert_true(ldg_keys_epoch_due(f->l) == T0 + 430 * SEC);
    assert_int_equal(ldg_keys_epochs(f->l, &rows, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(rows[4].live, 1);
    free(rows);
    clock_ns = T0 + 420 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 0);
    assert_true(next == T0 + 430 * SEC);
    verify_ok(f);
}

/* Another process (a child) ends f's live epoch now: `ledger keys
 * advance` beside an idle daemon. */
static void
advance_elsewhere(struct fx *f)
{
    pid_t pid;
    int status;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        struct ldg_ledger *l2 = NULL;
        struct ldg_options o;
        char err[256];
        memset(&o, 0, sizeof o);
        o.flags = LDG_NOSYNC;
        if (ldg_open(&l2, f->dir, &o, err, sizeof err) != 0)
            _exit(2);
        ldg_set_clock(l2, &clock_ns);
        _exit(ldg_keys_advance(l2, NULL, NULL) == 0 ? 0 : 3);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A process keeps its epoch states between transactions (kept_put); the
 * next ldg_keys_expire wipes one whose file holds another (an advance by
 * another process) or whose period is over, before it ends anything: an
 * idle daemon holds no past secret (issue 65). */
static void
test_epoch_log__kept_prune(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st;
    uint64_t gen, gen21, gen22, next;
    uint32_t period;
    unsigned ended;

    /* the setup's last append (epoch 2.1, period 2 ends at T0 + 190 s) */
    assert_int_equal(ldg_epoch_kept(f->l, "log", &gen21, &period), 1);
    assert_int_equal(period, 2);
    st = current_state(f);
    assert_true(st->gen == gen21);
    ldg_epoch_state_free(st);
    /* inside the period, its file unchanged: kept */
    clock_ns = T0 + 150 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 0);
    assert_int_equal(ldg_epoch_kept(f->l, "log", &gen, &period), 1);
    assert_true(gen == gen21);
    /* another process ends 2.1: the kept copy of its secret goes at the
     * next expire, though this one has nothing to end */
    advance_elsewhere(f);
    st = current_state(f);
    gen22 = st->gen;
    ldg_epoch_state_free(st);
    assert_true(gen22 != gen21);
    clock_ns = T0 + 151 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 0);
    assert_false(ldg_epoch_kept(f->l, "log", &gen, &period) && gen == gen21);
    /* 2.2 seals an event and is kept; at its period's end the expire
     * drops it first, then ends it: what stays kept is the next epoch's
     * (kept_put keeps the first state of a name: without the prune,
     * 2.2's would have stayed) */
    append_at(f, T0 + 160 * SEC);
    assert_int_equal(ldg_epoch_kept(f->l, "log", &gen, &period), 1);
    assert_int_equal(period, 2);
    gen22 = gen;
    clock_ns = T0 + 190 * SEC;
    assert_int_equal(ldg_keys_expire(f->l, &next, &ended), 0);
    assert_int_equal(ended, 1);
    assert_false(ldg_epoch_kept(f->l, "log", &gen, &period) &&
                 (gen == gen22 || period == 2));
    verify_ok(f);
}

/* The chain survives pruning (issue 65, item 6): a prune past the anchor
 * keeps the log key's anchor and its chain at the horizon in the horizon
 * record (FORMAT.md 6.2, "epoch"), so every epoch part after it is still
 * checked from the anchor, after a second prune too, and `keys epochs`
 * lists their keys. A build before this one checked none of them. */
static void
test_epoch_log__pruned_past_the_anchor_keeps_the_chain(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_row *rows;
    struct ldg_horizon hz;
    const struct ldg_horizon_key *hk;
    size_t n;

    prune_at(f, 6);
    assert_int_equal(ldg_horizon(f->l, &hz), 0);
    hk = ldg_horizon_key_find(&hz, f->l->log_key->key_id);
    assert_non_null(hk);
    assert_true(hk->anchored);
    assert_int_equal(hk->anchor_seq, 3);
    /* epoch 0.1 (5 sealed under 0.0, 0.1 began before 6): 0.0's whole part */
    assert_int_equal(hk->epoch_len, 74 + 32 * 128);
    ldg_horizon_release(&hz);
    verify_ok(f);
    assert_int_equal(ldg_keys_epochs(f->l, &rows, &n), 0);
    assert_int_equal(n, 3); /* 0.1 from 6, 2.0 from 7, 2.1 from 8 */
    for (size_t i = 0; i < n; i++) {
        static const uint8_t zero[32];
        assert_true(rows[i].checked);
        assert_memory_not_equal(rows[i].pub, zero, 32);
    }
    free(rows);
    /* a second prune walks on from the first's chain */
    prune_at(f, 8);
    assert_int_equal(ldg_horizon(f->l, &hz), 0);
    hk = ldg_horizon_key_find(&hz, f->l->log_key->key_id);
    assert_true(hk->anchored && hk->epoch_len == 74 + 32 * 128);
    ldg_horizon_release(&hz);
    verify_ok(f);
    /* and the log goes on under epoch keys */
    append_at(f, T0 + 140 * SEC);
    verify_ok(f);
}

/* What the old build let through on a pruned ledger: an event after the
 * horizon re-sealed with the log key alone, or by the current epoch key,
 * is refused naming the event, as before a prune. */
static void
test_epoch_log__pruned_resealed_without_epoch_refused(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    prune_at(f, 6);
    rewrite_time(f, 7, root);
    reseal(f, 7, root, NO_EPOCH);
    rechain(f, 7);
    expect_bad(f, LDG_VERIFY_FULL, 7, "carries no epoch");
}

static void
test_epoch_log__pruned_resealed_by_current_epoch_refused(void **state)
{
    struct fx *f = *state;
    uint8_t root[32];
    prune_at(f, 6);
    rewrite_time(f, 6, root);
    reseal(f, 6, root, BY_CURRENT);
    rechain(f, 6);
    expect_bad(f, LDG_VERIFY_FULL, 6, "epoch 2.1");
}

/* The horizon record signed again by the log key without the chain it
 * keeps (as whoever holds the box can, or as a development build before
 * 2026-11-29 wrote it): the epoch seals after the horizon have no
 * signature but their epoch keys', which nothing ties to an anchor now,
 * so verify refuses the first of them, naming why. */
static void
test_epoch_log__pruned_chain_dropped_refused(void **state)
{
    struct fx *f = *state;
    struct ldg_horizon h;
    struct ldg_txn *t;
    uint8_t *rec;
    size_t n;
    int rc;

    prune_at(f, 6);
    assert_int_equal(ldg_horizon(f->l, &h), 0);
    horizon_without_anchors(f, &h, &rec, &n);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    rc = ldg_core_kv_put(t, ldg_core(f->l, LDG_DB_META), LDG_META_HORIZON,
                         strlen(LDG_META_HORIZON), rec, n);
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    assert_int_equal(rc, 0);
    ldg_horizon_release(&h);
    free(rec);
    expect_bad(f, LDG_VERIFY_FULL, 6, "keeps no chain of the key");
}

/* Another process ends the epoch (`keys advance`, the epoch timer) while
 * this handle keeps the state its last commit used: the next commit seals
 * under the new epoch, not the one whose secret the file no longer
 * holds. */
static void
test_epoch_log__another_writers_advance_is_taken(void **state)
{
    struct fx *f = *state;
    struct ldg_epoch_state *st = current_state(f);
    struct ldg_epoch_row *rows;
    char path[512], err[256];
    size_t n;

    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    clock_ns = T0 + 138 * SEC;
    assert_int_equal(ldg_epoch_advance(st, clock_ns), 0);
    if (ldg_epoch_file_store(path, st, 0, err, sizeof err) != 0)
        fail_msg("%s", err);
    ldg_epoch_state_free(st);
    append_at(f, T0 + 139 * SEC); /* 9: epoch 2.2 */
    verify_ok(f);
    assert_int_equal(ldg_keys_epochs(f->l, &rows, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(rows[4].period, 2);
    assert_int_equal(rows[4].sub, 2);
    assert_int_equal(rows[4].from_seq, 9);
    free(rows);
}

/* The log key's epoch record in the key registry (what sealers and `keys
 * verifier` read) with byte at of its value flipped. */
static void
flip_epoch_record(struct fx *f, size_t at)
{
    struct ldg_txn *t = NULL;
    struct ldg_val v;
    char key[64];
    uint8_t buf[128];

    snprintf(key, sizeof key, "epoch:%s", f->l->log_key->key_id);
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "keys", 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, key, strlen(key), &v), 0);
    assert_true(v.len > at && v.len <= sizeof buf);
    memcpy(buf, v.data, v.len);
    buf[at] ^= 1;
    assert_int_equal(ldg_core_kv_put(t, dbi, key, strlen(key), buf, v.len), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

/* Its anchor (bytes 0..31) or its last epoch's sub (64) altered: verify
 * names the record (the log's events are untouched). */
static void
test_epoch_log__registry_anchor_altered(void **state)
{
    struct fx *f = *state;
    struct ldg_anchor_pin *p = NULL;
    size_t n = 0;

    flip_epoch_record(f, 0);
    expect_bad(f, LDG_VERIFY_FULL, 8, "is not its key.anchored (event 3)");
    /* and no anchor is given out to pin (`keys verifier`) */
    assert_int_equal(ldg_keys_anchors(f->l, &p, &n), LDG_ETAMPER);
    assert_null(p);
    assert_non_null(strstr(ldg_errmsg(f->l), "no anchor is given out"));
}

static void
test_epoch_log__registry_epoch_altered(void **state)
{
    struct fx *f = *state;
    flip_epoch_record(f, 64);
    expect_bad(f, 0, 8,
               "names epoch 2.0 as its seals' last, but they end "
               "at 2.1");
}

#define TE(name) cmocka_unit_test_setup_teardown(name, setup_epochs, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TE(test_epoch_log__verifies_and_lists),
        TE(test_epoch_log__anchors_listed),
        TE(test_epoch_log__without_epochs_the_past_is_resignable),
        TE(test_epoch_log__rewrite_before_anchor_caught_by_checkpoints),
        TE(test_epoch_log__checkpoint_without_epoch_line_refused),
        TE(test_epoch_log__checkpoint_resigned_by_current_epoch_refused),
        TE(test_epoch_log__checkpoint_epoch_signature_forged_refused),
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
        TE(test_epoch_log__kept_prune),
        TE(test_epoch_log__expire),
        TE(test_epoch_log__pruned_past_the_anchor_keeps_the_chain),
        TE(test_epoch_log__pruned_resealed_without_epoch_refused),
        TE(test_epoch_log__pruned_resealed_by_current_epoch_refused),
        TE(test_epoch_log__pruned_chain_dropped_refused),
        TE(test_epoch_log__another_writers_advance_is_taken),
        TE(test_epoch_log__registry_anchor_altered),
        TE(test_epoch_log__registry_epoch_altered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
