/*
 * cmd_keys.c — keys, erase.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/commands.h"

/* ---------------------------------------------------------------- keys -- */

static int
keys_list(struct cli *c, struct ldg_ledger *l)
{
    struct ldg_keyinfo *k;
    size_t n;
    int rc = ldg_keys_list(l, &k, &n);
    if (rc < 0)
        return cli_fail(c, l, rc);
    if (c->out == OUT_HUMAN)
        printf("%-16s %-16s %-7s %-7s %-6s %-7s %s\n", "NAME", "KEY ID",
               "ADDED", "REVOKED", "HELD", "SEALED", "ROLES");
    for (size_t i = 0; i < n; i++) {
        char added[24], rev[24], pub[65];
        /* who holds the secret: the ledger (keys/NAME.key on this box),
         * the writer (enrolled with --public-key: its events arrive
         * sealed), or nobody here (a ledger-held key whose file is gone) */
        const char *held = k[i].writer_held  ? "writer"
                           : k[i].has_secret ? "ledger"
                                             : "none";
        snprintf(added, sizeof added, "%llu",
                 (unsigned long long)k[i].added_seq);
        if (k[i].revoked_seq == UINT64_MAX)
            snprintf(rev, sizeof rev, "-");
        else
            snprintf(rev, sizeof rev, "%llu",
                     (unsigned long long)k[i].revoked_seq);
        ldg_hex(pub, k[i].pub, 32);
        if (c->out == OUT_HUMAN) {
            /* 80 columns on a terminal: a long name or role list is cut
             * with "…" (whole when piped) */
            cli_cell(c, k[i].name, 16, 0);
            printf("%-16s %-7s %-7s %-6s %-7llu ", k[i].key_id, added, rev,
                   held, (unsigned long long)k[i].sealed);
            cli_cell(c,
                     k[i].roles[0] == '*'    ? "* (log key: any type)"
                     : k[i].roles[0] == '\0' ? "(none: any actor type)"
                                             : k[i].roles,
                     (int)cli_width(c) - 65, 1);
        } else {
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "name", k[i].name,
                          "key_id", k[i].key_id, "public_key", pub, "added_seq",
                          added, "has_secret", k[i].has_secret, "held",
                          k[i].writer_held ? "writer" : "ledger");
            /* the `first` this key's next seal must carry (a count) */
            json_object_set_new(o, "sealed",
                                json_integer((json_int_t)k[i].sealed));
            json_t *rl = json_array();
            char dup[sizeof k[i].roles], *save = NULL;
            /* the log key: ["*"]; none: [] (any actor type) */
            snprintf(dup, sizeof dup, "%s", k[i].roles);
            for (char *r = strtok_r(dup, ",", &save); r;
                 r = strtok_r(NULL, ",", &save))
                json_array_append_new(rl, json_string(r));
            json_object_set_new(o, "roles", rl);
            if (k[i].revoked_seq != UINT64_MAX)
                json_object_set_new(o, "revoked_seq", json_string(rev));
            cli_print_json(c, o);
        }
    }
    free(k);
    return EX_OK;
}

/* How many keys have an anchor (key.anchored) into *n. */
static int
anchored(struct ldg_ledger *l, size_t *n)
{
    struct ldg_anchor_pin *p = NULL;
    int rc = ldg_keys_anchors(l, &p, n);
    free(p);
    return rc;
}

/* ledger keys epochs: each epoch the log's seals are under. */
static int
keys_epochs(struct cli *c, struct ldg_ledger *l)
{
    struct ldg_epoch_row *r;
    size_t n;
    int rc = ldg_keys_epochs(l, &r, &n);

    if (rc < 0)
        return cli_fail(c, l, rc);
    if (n == 0) { /* said, not an empty table */
        size_t na = 0;
        if ((rc = anchored(l, &na)) < 0) {
            free(r);
            return cli_fail(c, l, rc);
        }
        if (na > 0)
            cli_err(c,
                    "no epoch yet: %zu key%s anchored, and none has "
                    "sealed an event since (a key's first epoch starts "
                    "with its first seal)",
                    na, na == 1 ? " is" : "s are");
        else
            cli_err(c, "no key of this ledger seals with epoch keys "
                       "(`ledger keys anchor`, at store layout 9: "
                       "docs/EPOCHS.md)");
        free(r);
        return EX_OK;
    }
    if (c->out == OUT_HUMAN)
        printf("%-16s %-12s %-10s %-5s %s\n", "KEY", "EPOCH", "FROM_SEQ",
               "LIVE", "PUBLIC KEY");
    for (size_t i = 0; i < n; i++) {
        char ep[32], pub[65];
        snprintf(ep, sizeof ep, "%u.%u", r[i].period, r[i].sub);
        /* a key anchored before a prune's horizon: its certs left with
         * the pruned events, its epoch keys are not known here */
        if (r[i].checked)
            ldg_hex(pub, r[i].pub, 32);
        else
            snprintf(pub, sizeof pub, "-");
        if (c->out == OUT_HUMAN) {
            cli_cell(c, r[i].key, 16, 0);
            printf("%-12s %-10llu %-5s %s\n", ep,
                   (unsigned long long)r[i].from_seq,
                   r[i].live > 0    ? "yes"
                   : r[i].live == 0 ? "no"
                                    : "-",
                   pub);
        } else {
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:o}", "epoch", ep, "key", r[i].key,
                          "pub", pub, "from_seq", ldg_json_u64(r[i].from_seq));
            if (r[i].checked)
                json_object_set_new(o, "start_ns", ldg_json_u64(r[i].start_ns));
            else
                json_object_set_new(o, "pub", json_null());
            /* its secret still on the box (absent: not known here) */
            if (r[i].live >= 0)
                json_object_set_new(o, "live", json_boolean(r[i].live));
            cli_print_json(c, o);
        }
    }
    free(r);
    return EX_OK;
}

/* ledger keys verifier: the log's verifier key, one line (what
 * verify-bundle --trusted-key and C2SP tools read), then, for each key
 * with epoch keys, the anchor a verifier pins (verify-bundle
 * --trusted-key takes the whole: docs/EPOCHS.md):
 *
 *   anchor name=log key_id=HEX16 pub=HEX64 t0=NS period_ns=NS seq=N
 *
 * -o json: {"verifier", "anchor" (the log key's), "anchors" (every
 * anchored key's, the log key's first)}. */
static int
keys_verifier(struct cli *c, struct ldg_ledger *l, const char *vkey)
{
    struct ldg_anchor_pin *p = NULL;
    json_t *o, *arr;
    size_t n = 0;
    int rc;

    if ((rc = ldg_keys_anchors(l, &p, &n)) < 0)
        return cli_fail(c, l, rc);
    if (c->out == OUT_HUMAN || n == 0) {
        cli_print_text(c, "verifier", vkey);
        for (size_t i = 0; c->out == OUT_HUMAN && i < n; i++) {
            char hex[65];
            ldg_hex(hex, p[i].anchor, 32);
            printf("anchor name=%s key_id=%s pub=%s t0=%llu period_ns=%llu "
                   "seq=%llu\n",
                   p[i].name, p[i].key_id, hex, (unsigned long long)p[i].t0_ns,
                   (unsigned long long)p[i].period_ns,
                   (unsigned long long)p[i].seq);
        }
        free(p);
        return EX_OK;
    }
    o = json_pack("{s:s}", "verifier", vkey);
    arr = json_array();
    for (size_t i = 0; o && arr && i < n; i++) {
        char hex[65];
        json_t *a;
        ldg_hex(hex, p[i].anchor, 32);
        /* t0 a nanosecond time and seq a seq: strings (OUTPUT.md) */
        a = json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}", "name", p[i].name,
                      "key_id", p[i].key_id, "pub", hex, "t0",
                      ldg_json_u64(p[i].t0_ns), "period_ns",
                      (json_int_t)p[i].period_ns, "seq",
                      ldg_json_u64(p[i].seq));
        if (i == 0 && strcmp(p[i].name, "log") == 0)
            json_object_set(o, "anchor", a);
        json_array_append_new(arr, a);
    }
    json_object_set_new(o, "anchors", arr);
    free(p);
    cli_print_json(c, o);
    return EX_OK;
}

/* " of N s": the period of the anchor appended at seq, as its
 * key.anchored says, into buf; "" when it cannot be read back (never a
 * period the anchor may not have). */
static const char *
anchored_period(struct ldg_ledger *l, uint64_t seq, char *buf, size_t cap)
{
    struct ldg_anchor_pin *p = NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (ldg_keys_anchors(l, &p, &n) == 0)
        for (size_t i = 0; i < n; i++)
            if (p[i].seq == seq)
                snprintf(buf, cap, " of %llu s",
                         (unsigned long long)(p[i].period_ns / 1000000000ull));
    free(p);
    return buf;
}

/* ledger keys anchor|advance [NAME] */
static int
keys_epoch_write(struct cli *c, struct ldg_ledger *l, const char *sub,
                 const char *name, unsigned epoch_s, int if_expired)
{
    struct ldg_epoch_row row;
    char what[256], pub[65], of[32];
    uint64_t seq;
    int rc;

    if (strcmp(sub, "anchor") == 0) {
        uint64_t period = (uint64_t)epoch_s * 1000000000ull;
        /* unasked (0): the library's default, then said as anchored */
        if ((rc = ldg_keys_anchor(l, name, period, &seq)) < 0)
            return cli_fail(c, l, rc);
        snprintf(what, sizeof what,
                 "key %s seals with epoch keys%s from here on",
                 name ? name : "log", anchored_period(l, seq, of, sizeof of));
        cli_print_seq(c, seq, what);
        return EX_OK;
    }
    if (if_expired) {
        struct ldg_epoch_row *er = NULL;
        size_t en = 0;
        unsigned n = 0;
        if ((rc = ldg_keys_expire(l, NULL, &n)) < 0)
            return cli_fail(c, l, rc);
        /* -q (the timer's): the count when some ended, else nothing */
        if (c->quiet && c->out == OUT_HUMAN) {
            if (n > 0)
                printf("%u\n", n);
            return EX_OK;
        }
        if (n > 0)
            snprintf(what, sizeof what,
                     "%u epoch%s ended (%s period was over); the old "
                     "secret%s overwritten",
                     n, n == 1 ? "" : "s", n == 1 ? "its" : "their",
                     n == 1 ? " is" : "s are");
        else {
            size_t na = 0;
            /* which "nothing": an error here is said, not taken for one */
            if ((rc = ldg_keys_epochs(l, &er, &en)) < 0 ||
                (rc = anchored(l, &na)) < 0) {
                free(er);
                return cli_fail(c, l, rc);
            }
            snprintf(what, sizeof what, "%s",
                     en > 0   ? "no epoch to end: none that sealed events has "
                                "outlived its period"
                     : na > 0 ? "no epoch to end: no anchored key has "
                                "sealed an event since its anchor"
                              : "no epoch to end: no key of this ledger "
                                "seals with epoch keys");
        }
        free(er);
        cli_print_text(c, "epoch", what);
        return EX_OK;
    }
    if ((rc = ldg_keys_advance(l, name, &row)) < 0)
        return cli_fail(c, l, rc);
    ldg_hex(pub, row.pub, 32);
    snprintf(what, sizeof what,
             "key %s is at epoch %u.%u (%s); the old "
             "secret is overwritten",
             row.key, row.period, row.sub, pub);
    cli_print_text(c, "epoch", what);
    return EX_OK;
}

/* A key added with its secret on the box seals with epoch keys as the
 * log key does (issue 65: every key whose secret the box holds): when
 * the log key is anchored, the new key is too, of epoch_s seconds or the
 * log key's period; what gets the anchor's seq. 0, a negative code
 * (nothing said), or an exit code after saying that the key is added but
 * not anchored. */
static int
add_anchor(struct cli *c, struct ldg_ledger *l, const char *name,
           unsigned epoch_s, char *what, size_t cap)
{
    struct ldg_anchor_pin *p = NULL;
    uint64_t period = (uint64_t)epoch_s * 1000000000ull, seq;
    char of[32];
    size_t n = 0, at = strlen(what);
    int rc;

    if ((rc = ldg_keys_anchors(l, &p, &n)) < 0)
        return rc;
    if (n == 0 || strcmp(p[0].name, "log") != 0) {
        free(p);
        return 0; /* the log key has none: nor has this one */
    }
    free(p);
    /* unasked (0): the library's default (an unfinished anchor's period,
     * else the log key's) */
    if ((rc = ldg_keys_anchor(l, name, period, &seq)) < 0) {
        /* the anchor's error first (its "nothing was appended" is the
         * anchor's), then what was done */
        rc = cli_fail(c, l, rc);
        cli_err(c,
                "key %s is added, but not anchored: the same `ledger keys "
                "add %s` (or `ledger keys anchor %s`) finishes it",
                name, name, name);
        return rc;
    }
    snprintf(what + at, cap - at, "; anchored at event %llu, epoch keys%s",
             (unsigned long long)seq, anchored_period(l, seq, of, sizeof of));
    return 0;
}

/* `keys add NAME` again after one that stopped between NAME's key.added
 * and its anchor (a fault, a kill): NAME is this box's key, in force and
 * not anchored, while the log key is. 1 with *seq (the key.added's) when
 * it is: the anchor is what is left to do; 0 when not (the add goes on,
 * and says what is wrong); a negative code. */
static int
add_unfinished(struct ldg_ledger *l, const char *name, uint64_t *seq)
{
    struct ldg_keyinfo *ki = NULL;
    struct ldg_anchor_pin *p = NULL;
    size_t nk = 0, np = 0;
    int rc, found = 0;

    if ((rc = ldg_keys_list(l, &ki, &nk)) < 0)
        return rc;
    if ((rc = ldg_keys_anchors(l, &p, &np)) < 0) {
        free(ki);
        return rc;
    }
    for (size_t i = 0; i < nk; i++)
        if (strcmp(ki[i].name, name) == 0 && ki[i].has_secret &&
            !ki[i].writer_held && ki[i].revoked_seq == UINT64_MAX) {
            found = 1;
            *seq = ki[i].added_seq;
            for (size_t j = 0; j < np; j++)
                if (strcmp(p[j].key_id, ki[i].key_id) == 0)
                    found = 0; /* anchored: nothing unfinished */
        }
    if (np == 0 || strcmp(p[0].name, "log") != 0)
        found = 0; /* the log key has no epochs: nor do its actors */
    free(ki);
    free(p);
    return found;
}

enum { OPT_PUBKEY = 400, OPT_KEYOUT, OPT_KEYNAME, OPT_EPOCH, OPT_IF_EXPIRED };

struct keys_args {
    const char *roles, *reason, *pubkey, *kout, *kname;
    unsigned epoch_s;
    int if_expired;
};
#define KA struct keys_args
static const struct cli_opt keys_opts[] = {
    CLI_STR('r', 0, "roles", "R,...",
            "with add: the event types the key may sign, as roles: host, "
            "runtime, capacity, model, pack, permission, route, eval, "
            "promotion, run, x, erase, sensor, control-plane, plan, "
            "debate, snapshot, tripcode, memory, build, health, "
            "controller, any "
            "(docs/FORMAT.md, Key roles; none: any actor type)",
            KA, roles),
    CLI_STR('R', 0, "reason", "TEXT", "with revoke (required): why", KA,
            reason),
    CLI_STR(OPT_PUBKEY, 0, "public-key", "KEY",
            "with add: enrol a key held by its writer: its public key as "
            "64 hex digits, or @FILE holding what `ledger keys generate` "
            "printed; no secret key file is written, and the key's events "
            "must arrive sealed (`ledger seal`). Format version 2 ledgers "
            "only",
            KA, pubkey),
    CLI_STR(OPT_KEYOUT, 0, "out", "FILE",
            "with generate (required): the secret key file to create, "
            "mode 0600; an existing file is never overwritten",
            KA, kout),
    CLI_STR(OPT_KEYNAME, 0, "name", "NAME",
            "with generate: the name written in the key file (default: "
            "FILE's base name without .key)",
            KA, kname),
    CLI_NUM(OPT_EPOCH, 0, "epoch", "SECONDS",
            "with anchor or add: how long an epoch key lives (default: "
            "an unfinished anchor's period, else the log key's for "
            "another key, else 60)",
            KA, epoch_s, 1, 31622400),
    CLI_ON(OPT_IF_EXPIRED, 0, "if-expired",
           "with advance: end only the epochs whose period is over and "
           "that sealed events, of every key (what `ledger serve` does "
           "when a period ends; run it from a timer where no serve runs: "
           "ledger-epoch.timer, docs/EPOCHS.md); with -q it prints how "
           "many it ended, and nothing when none",
           KA, if_expired),
    CLI_QUIET_OPT,
    CLI_ARG(
        "add|list|revoke|verifier|generate|anchor|advance|epochs",
        "add NAME: create actor NAME's key and record it (with --public-key: "
        "record a key its writer holds); list: every key; revoke NAME: "
        "record that NAME's key is no longer trusted; verifier: the log's "
        "verifier key, for a third party (-o json: and the log key's epoch "
        "anchor); generate: make a secret key "
        "file outside any ledger (--out) and print its public key; "
        "anchor [NAME]: NAME (default the log key) seals with "
        "forward-secure epoch keys from here on; advance [NAME]: end "
        "NAME's current epoch now; epochs: the epoch keys the log's "
        "seals are under",
        0),
    CLI_OPT_END};

/* "key NAME (id KEYID) added" */
static void
key_added(struct ldg_ledger *l, const char *name, char *what, size_t cap)
{
    struct ldg_keyinfo *k;
    size_t n;
    snprintf(what, cap, "key %s added", name);
    if (ldg_keys_list(l, &k, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0 && k[i].revoked_seq == UINT64_MAX)
            snprintf(what, cap, "key %s (id %s) added%s", name, k[i].key_id,
                     k[i].writer_held ? ", held by its writer" : "");
    free(k);
}

/* --public-key KEY: 64 hex digits, or @FILE holding what `keys generate`
 * prints (its "public_key HEX" line, its -o json object, or the bare hex).
 * 0, or an exit code after saying why. */
static int
parse_public_key(struct cli *c, const char *arg, uint8_t pub[32])
{
    char text[4096];
    const char *what = arg;
    size_t n;
    int found = 0;

    if (arg[0] != '@') {
        if (ldg_unhex(pub, 32, arg) < 0) {
            cli_err(c,
                    "--public-key: '%.80s' is not a public key (64 hex "
                    "digits, or @FILE as `ledger keys generate` prints it)",
                    arg);
            return EX_USAGE;
        }
        return 0;
    }
    what = arg + 1;
    {
        FILE *f = fopen(what, "r");
        if (f == NULL) {
            cli_err(c, "--public-key: cannot open %s: %s", what,
                    strerror(errno));
            return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
        }
        n = fread(text, 1, sizeof text - 1, f);
        if (ferror(f)) {
            cli_err(c, "--public-key: cannot read %s: %s", what,
                    strerror(errno));
            fclose(f);
            return EX_IOERR;
        }
        if (n == sizeof text - 1 && fgetc(f) != EOF) {
            fclose(f);
            cli_err(c, "--public-key: %s is larger than a public key file",
                    what);
            return EX_DATAERR;
        }
        fclose(f);
        text[n] = '\0';
    }
    {
        /* the bare hex, with or without a newline */
        size_t m = strcspn(text, " \t\r\n");
        found = m == 64 && text[m + strspn(text + m, " \t\r\n")] == '\0' &&
                ldg_unhex_prefix(pub, 32, text) == 0;
    }
    if (!found && text[0] == '{') {
        json_error_t je;
        json_t *o = json_loads(text, 0, &je);
        const char *v = json_string_value(json_object_get(o, "public_key"));
        found = v != NULL && ldg_unhex(pub, 32, v) == 0;
        json_decref(o);
    }
    if (!found) {
        /* "public_key HEX" on a line of its own */
        for (char *line = text; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "public_key ", 11) == 0 &&
                strcspn(line + 11, " \t\r") == 64 &&
                line[11 + 64 + strspn(line + 75, " \t\r")] == '\0')
                found = ldg_unhex_prefix(pub, 32, line + 11) == 0;
            if (found)
                break;
            line = nl ? nl + 1 : NULL;
        }
    }
    if (!found) {
        cli_err(c,
                "--public-key: %s holds no public key (a line 'public_key "
                "<64 hex digits>' as `ledger keys generate` prints it, its "
                "-o json object, or the 64 hex digits alone)",
                what);
        return EX_DATAERR;
    }
    return 0;
}

/* `keys generate --out FILE [--name NAME]`: no ledger involved. */
/* 1 when a file could be made in path's directory (it is there, and
 * writable): else a failure to create path is "cannot create", 73. */
static int
dir_of_writable(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return access(".", W_OK | X_OK) == 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + (slash == path)),
             path);
    return access(dir, W_OK | X_OK) == 0;
}

static int
keys_generate(struct cli *c, const char *out, const char *name)
{
    char nbuf[LDG_NAME_MAX + 1], err[1024], pub[65];
    struct ldg_key *k = NULL;
    int rc;

    if (out == NULL || *out == '\0') {
        cli_err(c, "generate needs --out FILE (the secret key file to "
                   "create)");
        return EX_USAGE;
    }
    if (name == NULL) {
        const char *base = strrchr(out, '/');
        size_t len;
        base = base ? base + 1 : out;
        len = strlen(base);
        if (len > 4 && strcmp(base + len - 4, ".key") == 0)
            len -= 4;
        if (len == 0 || len > LDG_NAME_MAX) {
            cli_err(c,
                    "--out %s: no key name in the file name; give --name "
                    "NAME",
                    out);
            return EX_USAGE;
        }
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)len, base);
        name = nbuf;
        if (!ldg_key_name_valid(name)) {
            cli_err(c,
                    "--out %s: '%s' is not a valid key name (1-%d of A-Z "
                    "a-z 0-9 . _ -); give --name NAME",
                    out, name, LDG_NAME_MAX);
            return EX_USAGE;
        }
    } else if (!ldg_key_name_valid(name)) {
        cli_err(c,
                "--name: '%s' is not a valid key name (1-%d of A-Z a-z 0-9 "
                ". _ -)",
                name, LDG_NAME_MAX);
        return EX_USAGE;
    }
    if ((rc = ldg_key_generate(&k, name)) < 0) {
        cli_err(c, "cannot generate a key: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    rc = ldg_keyfile_save(out, k, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        ldg_key_free(k);
        return rc == LDG_EEXIST || (rc == LDG_EIO && !dir_of_writable(out))
                   ? EX_CANTCREAT
                   : cli_exit_code(rc);
    }
    ldg_hex(pub, k->pub, 32);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s, s:s, s:s, s:s}", "name", k->name,
                                    "key_id", k->key_id, "public_key", pub,
                                    "file", out));
    else if (c->quiet)
        printf("%s\n", pub);
    else
        printf("public_key %s\nkey_id %s\nname %s\n", pub, k->key_id, k->name);
    ldg_key_free(k);
    /* a key whose public half nobody saw is no use: no command prints it
     * again, and the file would block the next try. So the output goes
     * out now (not kept until the command ends: cli/gather.c). */
    if (cli_gather_end(c) != 0 || fflush(stdout) != 0 || ferror(stdout)) {
        cli_err(c, "cannot print the public key: %s; %s removed",
                strerror(errno), out);
        unlink(out);
        return EX_IOERR;
    }
    return EX_OK;
}

static int
cmd_keys(struct cli *c, struct keys_args *x, int npos, char **pos)
{
    const char *sub;
    struct ldg_ledger *l = NULL;
    uint64_t seq;
    uint8_t pub[32];
    char what[512];
    int rc, write;

    if (npos < 1)
        return cli_usage_err(c, "a subcommand is needed: add, list, revoke, "
                                "verifier or generate");
    sub = pos[0];
    if (x->pubkey != NULL && strcmp(sub, "add") != 0)
        return cli_usage_err(c, "--public-key goes with add");
    if ((x->kout != NULL || x->kname != NULL) && strcmp(sub, "generate") != 0)
        return cli_usage_err(c, "--out and --name go with generate");
    if (strcmp(sub, "generate") == 0) {
        if (npos != 1)
            return cli_usage_err(c, "generate takes no argument");
        if (x->roles != NULL || x->reason != NULL)
            return cli_usage_err(c, "generate makes a key file only; give "
                                    "--roles to keys add");
        if (x->epoch_s != 0)
            return cli_usage_err(c, "--epoch goes with anchor");
        if (x->if_expired)
            return cli_usage_err(c, "--if-expired goes with advance");
        return keys_generate(c, x->kout, x->kname);
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (x->epoch_s != 0 && strcmp(sub, "anchor") != 0 &&
        (strcmp(sub, "add") != 0 || x->pubkey != NULL))
        return cli_usage_err(c, "--epoch goes with anchor, or add of a key "
                                "whose secret the box keeps");
    if (x->if_expired && strcmp(sub, "advance") != 0)
        return cli_usage_err(c, "--if-expired goes with advance");
    if (x->if_expired && npos > 1)
        return cli_usage_err(c, "advance --if-expired takes no NAME: it "
                                "looks at every key with epoch keys");
    if (strcmp(sub, "anchor") == 0 || strcmp(sub, "advance") == 0 ||
        strcmp(sub, "epochs") == 0) {
        int ro = strcmp(sub, "epochs") == 0;
        if (x->roles != NULL || x->reason != NULL || x->pubkey != NULL)
            return cli_usage_err(c,
                                 "%s takes no --roles, --reason nor "
                                 "--public-key",
                                 sub);
        if (npos > (ro ? 1 : 2))
            return cli_usage_err(c,
                                 ro ? "epochs takes no argument"
                                    : "%s takes one NAME at most",
                                 sub);
        if ((rc = cli_open(c, ro, &l)) != 0)
            return rc;
        rc = ro ? keys_epochs(c, l)
                : keys_epoch_write(c, l, sub, npos > 1 ? pos[1] : NULL,
                                   x->epoch_s, x->if_expired);
        ldg_close(l);
        return rc;
    }
    write = strcmp(sub, "add") == 0 || strcmp(sub, "revoke") == 0;
    if (!write && strcmp(sub, "list") != 0 && strcmp(sub, "verifier") != 0)
        return cli_usage_err(c,
                             "unknown subcommand '%s' (add, list, revoke, "
                             "verifier, generate, anchor, advance or epochs)",
                             sub);
    if (x->roles != NULL && strcmp(sub, "add") != 0)
        return cli_usage_err(c, "--roles goes with add");
    if (x->reason != NULL && strcmp(sub, "revoke") != 0)
        return cli_usage_err(c, "--reason goes with revoke");
    if (npos != 1 + write)
        return cli_usage_err(
            c, write ? "%s takes one NAME" : "%s takes no argument", sub);
    if (x->pubkey != NULL && (rc = parse_public_key(c, x->pubkey, pub)) != 0)
        return rc;
    if (strcmp(sub, "revoke") == 0 && (x->reason == NULL || !*x->reason)) {
        cli_err(c, "revoke needs --reason TEXT");
        return EX_USAGE;
    }
    if ((rc = cli_open(c, !write, &l)) != 0)
        return rc;
    if (strcmp(sub, "list") == 0) {
        rc = keys_list(c, l);
    } else if (strcmp(sub, "verifier") == 0) {
        ldg_verifier_key(l, what, sizeof what);
        rc = keys_verifier(c, l, what);
    } else if (strcmp(sub, "revoke") == 0) {
        rc = ldg_keys_revoke(l, pos[1], x->reason, &seq);
        snprintf(what, sizeof what, "key %s revoked", pos[1]);
    } else {
        rc = x->pubkey != NULL ? 0 : add_unfinished(l, pos[1], &seq);
        if (rc > 0) /* said, not silent: the key was there, its anchor new */
            cli_err(c,
                    "key %s is added already (event %llu) but not "
                    "anchored: anchoring it now, as `ledger keys anchor %s` "
                    "would",
                    pos[1], (unsigned long long)seq, pos[1]);
        else if (rc == 0)
            rc = x->pubkey != NULL
                     ? ldg_keys_enrol(l, pos[1], x->roles, pub, &seq)
                     : ldg_keys_add(l, pos[1], x->roles, &seq);
        if (rc >= 0)
            key_added(l, pos[1], what, sizeof what);
        if (rc >= 0 && x->pubkey == NULL)
            rc = add_anchor(c, l, pos[1], x->epoch_s, what, sizeof what);
        if (rc > 0) { /* said */
            ldg_close(l);
            return rc;
        }
    }
    if (rc < 0)
        rc = cli_fail(c, l, rc);
    else if (write)
        cli_print_seq(c, seq, what);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    keys, CLI_GROUP_EVENTS, "actor keys and the log key",
    "Manages the keys that vouch for events. Every actor (a runtime, an "
    "evaluator, an operator) has its own Ed25519 key, which seals its "
    "events (format 2: one signature per commit or batch covers them) or "
    "signs each one (format 1); "
    "adding and revoking a key are themselves events in the log, so a "
    "verifier knows which key was valid when. The secret keys stay in the "
    "ledger directory's keys/ (0600); only public keys enter the log."
    "\n\n"
    "A writer may hold its own key instead: `ledger keys generate --out "
    "FILE > FILE.pub` makes a secret key file anywhere (no ledger needed) "
    "and prints its public key, kept in FILE.pub; `ledger keys add NAME "
    "--public-key @FILE.pub` records "
    "it with \"held\": \"writer\" in its key.added and writes no secret. "
    "The ledger then never signs as that key: appending or ingesting as it "
    "without a seal is refused (exit 77); its events must arrive sealed by "
    "their writer. Enrolling one needs a format version 2 ledger. `keys "
    "list` shows who holds each key (HELD: ledger, writer, or none when a "
    "ledger-held key's file is gone) and how many events its seals cover "
    "(SEALED; in a format 2 ledger, the \"first\" its next seal carries: "
    "-o json \"sealed\")."
    "\n\n"
    "And `keys verifier` prints the log's verifier key (what verify-bundle "
    "--trusted-key and C2SP tools read), then, on a ledger with epoch "
    "keys, one line a key with an anchor: `anchor name=N key_id=ID "
    "pub=HEX t0=NS period_ns=NS seq=S` (-o json: \"verifier\", \"anchor\" "
    "the log key's, \"anchors\" every key's). Given whole to verify-bundle "
    "--trusted-key, the anchors are pinned: a bundle whose anchor was "
    "removed and its seals signed again by the log key is refused "
    "(docs/EPOCHS.md).",
    keys_opts, CLI_OUT_BASIC,
    "# prints \"seq 5: key runtime (id 3f9a1c2e5b7d0a41) added; anchored\n"
    "# at event 6, epoch keys of 60 s\" (its secret is on this box: it\n"
    "# seals with epoch keys as the log key does)\n"
    "ledger keys add runtime --roles run,route\n"
    "ledger keys list\n"
    "ledger keys revoke runtime --reason 'host reinstalled'\n"
    "# give this to whoever verifies your bundles (with its anchors)\n"
    "ledger keys verifier > box.vkey\n"
    "# forward-secure evidence (on from `ledger init`; `ledger keys anchor\n"
    "# --epoch 60` on a ledger made with --epoch 0): `ledger keys advance`\n"
    "# ends an epoch early;\n"
    "# `ledger keys advance --if-expired` ends those whose period is over\n"
    "ledger keys epochs -o json\n"
    "# a key the control plane holds itself: make it on its own box ...\n"
    "ledger keys generate --out cp.key > cp.pub\n"
    "# ... and enrol only its public key in the ledger\n"
    "ledger keys add control-plane --public-key @cp.pub --roles pack,run\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER,
    {.size = sizeof(struct keys_args), .maxpos = -1});

/* --------------------------------------------------------------- erase -- */

struct erase_args {
    const char *reason;
};
static const struct cli_opt erase_opts[] = {
    {.id = 'R',
     .name = "reason",
     .value = "TEXT",
     .help = "why the body is erased (required)",
     .flags = CLI_REQUIRED,
     CLI_AT(struct erase_args, reason, CLI_K_STR)},
    CLI_QUIET_OPT,
    CLI_ARG("SEQ", "the event whose body is erased", 0),
    CLI_OPT_END};

static int
cmd_erase(struct cli *c, struct erase_args *x, int npos, char **pos)
{
    struct ldg_event_in in;
    struct ldg_ledger *l = NULL;
    uint64_t target, seq;
    json_t *body;
    int rc;

    if ((rc = cli_one_seq(c, npos, pos, "the event to erase", &target)))
        return rc;
    if (x->reason == NULL || *x->reason == '\0')
        return cli_usage_err(c, "--reason TEXT is required (why the body "
                                "is erased, kept in the log)");
    if (!ldg_json_text_ok(x->reason))
        return cli_usage_err(c, "--reason: not UTF-8 (it is kept in the "
                                "log, as JSON text)");
    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    {
        /* An event that is not in the log is missing input (66), not bad
         * data: say so before asking the library to refuse it. */
        uint64_t size = 0;
        if ((rc = ldg_size(l, &size)) < 0)
            return cli_fail_close(c, l, rc);
        if (target >= size) {
            cli_err(c, "no event %llu: the log has events 0..%llu",
                    (unsigned long long)target,
                    (unsigned long long)(size ? size - 1 : 0));
            ldg_close(l);
            return EX_NOINPUT;
        }
    }
    body = json_pack("{s:I, s:s}", "target_seq", (json_int_t)target, "reason",
                     x->reason);
    if (body == NULL) {
        ldg_close(l);
        cli_err(c, "%s", ldg_strerror(LDG_ENOMEM));
        return EX_OSERR;
    }
    memset(&in, 0, sizeof in);
    in.type = LDG_EV_BODY_ERASED;
    in.body = body;
    rc = ldg_append(l, &in, &seq);
    json_decref(body);
    if (rc == LDG_EPRUNED) {
        /* its body is in an archive, which cannot be changed: nothing to
         * erase here (docs/RETENTION.md) */
        char what[160];
        snprintf(what, sizeof what,
                 "event %llu was pruned, its body with it (an archive "
                 "holds it and cannot be changed); nothing erased",
                 (unsigned long long)target);
        cli_pruned(c, l, what);
        rc = EX_NOINPUT;
    } else if (rc < 0) {
        rc = cli_fail(c, l, rc);
    } else {
        char what[80];
        snprintf(what, sizeof what, "body of event %llu erased",
                 (unsigned long long)target);
        cli_print_seq(c, seq, what);
        rc = EX_OK;
    }
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    erase, CLI_GROUP_EVENTS, "erase the body of an event",
    "Erases the body of event SEQ (personal data, a leaked secret) by "
    "appending a body.erased event that names it and says why. The event "
    "itself, its body hash and its place in the chain and the tree stay, "
    "so the log still verifies; the body is gone from the store and from "
    "every later export. The envelope stays whole, and with it what it "
    "repeats of the body: the subject derived from the body's first "
    "present field of pack, model, route, target, run, key_id and runtime "
    "(\"pack:pdf-ops\", \"model:...\"), and the run link derived from its "
    "run field. A value in one of those fields is not erased with the body: "
    "keep personal data out of them (or give the event its own --subject "
    "and --run when appending). Prints the sequence number of the erasure.",
    erase_opts, CLI_OUT_BASIC,
    "ledger erase 17 --reason 'customer data, ticket 4411'\n", 0,
    {.size = sizeof(struct erase_args), .maxpos = -1});
