/*
 * cmd_verify_bundle.c — verify-bundle (the --bundle readers' verified
 * reading: bundle.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"

/* Reads path whole into *out (NUL-terminated, *len bytes), at most cap
 * bytes: 0; -1 when it is not there and absent_ok; else the exit code
 * (66 unreadable or empty, 65 larger than cap), said under opt. */
static int
read_small(struct cli *c, const char *opt, const char *path, size_t cap,
           const char *toolarge, int absent_ok, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    char *buf;

    if (f == NULL && absent_ok && errno == ENOENT)
        return -1;
    if (f == NULL) {
        cli_err(c, "%s: cannot read %s: %s", opt, path, strerror(errno));
        return EX_NOINPUT;
    }
    buf = malloc(cap + 1);
    n = buf ? fread(buf, 1, cap + 1, f) : 0;
    if (buf == NULL || ferror(f) || n == 0 || n > cap) {
        cli_err(c, "%s: cannot read %s: %s", opt, path,
                buf == NULL ? "out of memory"
                : ferror(f) ? strerror(errno)
                : n == 0    ? "empty"
                            : toolarge);
        free(buf);
        fclose(f);
        return n > cap ? EX_DATAERR : EX_NOINPUT;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* --trusted-checkpoint FILE: read whole (a checkpoint note is small),
 * and FILE.epoch beside it when it is there (its epoch line whole, as
 * `ledger publish` writes checkpoint.epoch beside checkpoint); a file
 * that cannot be read is exit 66 before any bundle check. */
static int
read_checkpoint(struct cli *c, const char *path, char **out, size_t *len,
                char **line, size_t *llen)
{
    size_t n;
    char *buf, ep[4096];
    int rc = read_small(c, "--trusted-checkpoint", path, 1 << 16,
                        "larger than 64 KiB: not a checkpoint", 0, &buf, &n);

    if (rc != 0)
        return rc;
    {
        /* a signed note: the checkpoint text, a blank line, signatures */
        const char *sep = strstr(buf, "\n\n");
        char origin[LDG_ORIGIN_MAX + 1];
        uint64_t size;
        uint8_t root[32];
        if (sep == NULL ||
            ldg_checkpoint_parse(buf, (size_t)(sep - buf) + 1, origin,
                                 sizeof origin, &size, root) < 0) {
            cli_err(c,
                    "--trusted-checkpoint: %s is not a signed checkpoint "
                    "(what `ledger checkpoint` prints)",
                    path);
            free(buf);
            return EX_DATAERR;
        }
    }
    *line = NULL;
    *llen = 0;
    if ((size_t)snprintf(ep, sizeof ep, "%s.epoch", path) >= sizeof ep)
        rc = -1;
    else
        rc = read_small(c, "--trusted-checkpoint", ep, 1 << 20,
                        "larger than 1 MiB: not an epoch line", 1, line, llen);
    if (rc > 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

static json_t *
report_json(const char *file, const struct ldg_bundle_report *r,
            const char *summary)
{
    json_t *checks = json_array(), *o;
    char a[24];

    for (size_t i = 0; checks && i < r->nchecks; i++)
        json_array_append_new(
            checks,
            json_pack("{s:s, s:s, s:s}", "name", r->checks[i].name, "status",
                      ldg_export_status_name(r->checks[i].status), "detail",
                      r->checks[i].detail));
    snprintf(a, sizeof a, "%llu", (unsigned long long)r->checkpoint_size);
    o = json_pack("{s:s, s:b, s:b, s:s, s:s, s:s, s:I, s:I, s:o, s:s}", "file",
                  file, "ok", r->ok && r->readable, "key_trusted",
                  r->key_trusted, "origin", r->origin, "log_key", r->log_vkey,
                  "checkpoint_size", a, "events", (json_int_t)r->events,
                  "selected", (json_int_t)r->selected, "checks", checks,
                  "summary", summary);
    if (o != NULL) {
        char cs[24];
        snprintf(cs, sizeof cs, "%llu", (unsigned long long)r->cosigned_size);
        json_object_set_new(o, "checkpoint_trusted",
                            json_boolean(r->checkpoint_trusted));
        json_object_set_new(o, "cosigned_size",
                            r->cosigned_size ? json_string(cs) : json_null());
        json_object_set_new(o, "witnesses_cosigned",
                            json_integer(r->witnesses_cosigned));
        json_object_set_new(o, "format",
                            json_string(r->segment ? "segment" : "bundle"));
        if (r->segment) {
            /* the range, and the SHA-256 of the bytes verified */
            char hex[65], n[24];
            for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", r->sha256[i]);
            snprintf(n, sizeof n, "%llu", (unsigned long long)r->sel_first);
            json_object_set_new(o, "first", json_string(n));
            snprintf(n, sizeof n, "%llu",
                     (unsigned long long)(r->sel_last + 1));
            json_object_set_new(o, "end", json_string(n));
            json_object_set_new(o, "sha256", json_string(hex));
        }
    }
    return o;
}

struct vb_args {
    struct ldg_bundle_verify_opts o;
    char key[1024];              /* --trusted-key's */
    struct ldg_anchor_pin *pins; /* ... and its anchors */
    size_t npins;
    const char *ckpt_file, *wkeys[32]; /* --trusted-checkpoint, --witness-key */
    size_t nw;
    uint64_t quorum;
};
#define VB struct vb_args

/* The options the table cannot store: 0, or the exit code after saying
 * why. */
static int
vb_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct vb_args *x = args;
    const char *val = a->value;
    char wname[LDG_ORIGIN_MAX + 1];
    uint8_t wpub[32];
    uint64_t v;
    int rc;

    switch (id) {
    case 'k':
        /* one log key (cli/args.c refuses a second) */
        free(x->pins);
        rc = cli_trust_arg(c, "--trusted-key", val, x->key, sizeof x->key,
                           &x->pins, &x->npins);
        x->o.trusted_vkey = x->key;
        x->o.anchors = x->pins;
        x->o.nanchors = x->npins;
        return rc;
    case 'c':
        x->ckpt_file = val;
        return 0;
    case 'W':
        if (x->nw == 32)
            return cli_usage_err(c, "--witness-key: at most 32");
        if (ldg_cosig_parse_verifier(val, wname, sizeof wname, wpub) < 0) {
            cli_err(c,
                    "--witness-key: malformed: '%s' (a witness key is "
                    "what `ledger witness key` prints)",
                    val);
            return EX_DATAERR;
        }
        x->wkeys[x->nw++] = val;
        return 0;
    case 'Q':
        if (cli_parse_u64(val, &x->quorum) < 0 || x->quorum == 0 ||
            x->quorum > 32)
            return cli_usage_err(c, "--quorum: '%s' is not a count of 1 to 32",
                                 val);
        return 0;
    default: /* --max-bytes */
        if (cli_parse_u64(val, &v) < 0 || v == 0)
            return cli_usage_err(c, "--max-bytes: a positive number");
        cli_bundle_limits(&x->o.limits, v);
        return 0;
    }
}

static const struct cli_opt verify_bundle_opts[] = {
    CLI_VALUE('k', 0, "trusted-key", "VKEY|FILE",
              "the log's verifier key as you received it from the box's "
              "owner (`ledger keys verifier`, plain or -o json), or a file "
              "holding it (an argument without '+' is a file); required "
              "unless --insecure-trust-bundle-key. The anchor lines it "
              "carries after the key (a ledger with epoch keys) are pinned: "
              "a bundle whose key.anchored differs or is missing, or whose "
              "seals after the anchor carry no epoch, is refused"),
    CLI_VALUE('c', 0, "trusted-checkpoint", "FILE",
              "a checkpoint of the log you trust (`ledger checkpoint` or "
              "`ledger checkpoint --cosigned` on the box, or a witness's): "
              "a trust anchor of its own; the bundle's checkpoint, or the "
              "cosigned one it carries, must be this one (FILE.epoch beside "
              "it, when there, is its epoch line whole: a fork then signed "
              "by epoch keys is named an equivocation)"),
    CLI_STR('a', 0, "against", "BUNDLE",
            "another bundle of the same log (an earlier export you kept): "
            "verified too, and compared event by event and seal by seal; "
            "where they differ under the box's epoch keys, an equivocation",
            VB, o.against),
    CLI_VALUES('W', 0, "witness-key", "VKEY",
               "a witness's cosigner key whose cosignature on the bundle's "
               "cosigned checkpoint counts toward --quorum (repeatable)"),
    CLI_VALUE('Q', 0, "quorum", "K",
              "with --witness-key: at least K of those witnesses must have "
              "cosigned (default 1)"),
    CLI_ON('I', 0, "insecure-trust-bundle-key",
           "check the bundle only against the key it carries (it then "
           "proves nothing about where it comes from)",
           VB, o.insecure_trust_bundle_key),
    CLI_STR('x', 0, "extract", "OUTDIR",
            "after verifying, write the bundle's files under OUTDIR", VB,
            o.extract_dir),
    CLI_NUM('t', 0, "threads", "N", "verify on N threads (1 to 16)", VB,
            o.threads, 1, 16),
    CLI_VALUE('m', 0, "max-bytes", "N",
              "refuse a bundle that unpacks to more than N bytes"),
    CLI_ARG("FILE", "the bundle", 0),
    CLI_OPT_END};

/* Whether the one failed check is "extract": a bundle that verified whole
 * but could not be written out. */
static int
only_extract_failed(const struct ldg_bundle_report *r)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].status == LDG_CHECK_FAIL)
            return strcmp(r->checks[i].name, "extract") == 0;
    return 0;
}

/* Whether every failed check is --against's own ("against", and the
 * "equivocation" it found): the bundle itself verified. */
static int
only_against_failed(const struct ldg_bundle_report *r)
{
    int against = 0;

    for (size_t i = 0; i < r->nchecks; i++) {
        if (r->checks[i].status != LDG_CHECK_FAIL)
            continue;
        if (strcmp(r->checks[i].name, "against") != 0 &&
            strcmp(r->checks[i].name, "equivocation") != 0)
            return 0;
        against |= strcmp(r->checks[i].name, "against") == 0;
    }
    return against;
}

/* 0 when path is a file this process can read, else the errno saying why
 * (EISDIR for a directory: cli_fopen_input's rule). */
static int
unreadable(const char *path)
{
    FILE *f = cli_fopen_input(path);

    if (f == NULL)
        return errno;
    fclose(f);
    return 0;
}

static int
cmd_verify_bundle(struct cli *c, void *args, int npos, char **pos)
{
    struct vb_args *x = args;
    struct ldg_bundle_verify_opts *o = &x->o;
    struct ldg_bundle_report *r;
    char summary[600], *ckpt = NULL, *ckline = NULL;
    const char *file;
    size_t nfail = 0;
    int rc, e;

    /* the command line first: a usage error before any file is read */
    if (npos != 1 || (rc = cli_check_output(c, NULL)) != 0 ||
        (x->quorum > 0 && x->nw == 0) || x->quorum > x->nw) {
        free(x->pins);
        if (npos != 1)
            return cli_npos(c, npos, pos, 1, 1,
                            "FILE is needed: the bundle to verify");
        if (x->quorum > 0 && x->nw == 0)
            return cli_usage_err(c, "--quorum needs --witness-key");
        if (x->quorum > x->nw)
            return cli_usage_err(c,
                                 "--quorum %llu: only %zu witness keys given",
                                 (unsigned long long)x->quorum, x->nw);
        return rc;
    }
    if (x->ckpt_file != NULL &&
        (rc =
             read_checkpoint(c, x->ckpt_file, &ckpt, &o->trusted_checkpoint_len,
                             &ckline, &o->trusted_checkpoint_epoch_len)) != 0) {
        free(x->pins);
        return rc;
    }
    o->trusted_checkpoint = ckpt;
    o->trusted_checkpoint_epoch = ckline;
    if (o->against != NULL && (e = unreadable(o->against)) != 0) {
        cli_err(c, "--against: cannot read %s: %s", o->against, strerror(e));
        free(ckpt);
        free(ckline);
        free(x->pins);
        return EX_NOINPUT;
    }
    o->witness_keys = x->wkeys;
    o->nwitness_keys = x->nw;
    o->quorum = (unsigned)x->quorum;
    file = pos[0];
    r = malloc(sizeof *r);
    if (r == NULL) {
        free(ckpt);
        free(ckline);
        free(x->pins);
        return cli_fail_err(c, "", LDG_ENOMEM);
    }
    rc = ldg_export_verify(file, o, r);
    free(ckpt);
    free(ckline);
    free(x->pins);
    x->pins = NULL;
    for (size_t i = 0; i < r->nchecks; i++) {
        enum ldg_check_status st = r->checks[i].status;
        fprintf(
            stderr, "%s%s%s %s: %s\n",
            cli_paint(c->color_err, st == LDG_CHECK_FAIL   ? CLI_PAINT_FAIL
                                    : st == LDG_CHECK_PASS ? CLI_PAINT_OK
                                                           : CLI_PAINT_WARN),
            ldg_export_status_name(st), cli_paint(c->color_err, CLI_PAINT_OFF),
            r->checks[i].name, r->checks[i].detail);
        nfail += r->checks[i].status == LDG_CHECK_FAIL;
    }
    if (rc == 0 && r->segment)
        snprintf(summary, sizeof summary,
                 "segment OK: events %llu..%llu of %s, their leaves giving "
                 "the root of its checkpoint of size %llu (and %llu proven "
                 "events outside the range); log key %s",
                 (unsigned long long)r->sel_first,
                 (unsigned long long)r->sel_last, r->origin,
                 (unsigned long long)r->checkpoint_size,
                 (unsigned long long)(r->events - r->selected),
                 r->key_trusted          ? "trusted"
                 : r->checkpoint_trusted ? "held to the trusted checkpoint"
                                         : "TAKEN ON TRUST from the segment");
    else if (rc == 0)
        snprintf(summary, sizeof summary,
                 "bundle OK: %llu events (%llu selected) from %s, proven "
                 "against its checkpoint of size %llu; log key %s",
                 (unsigned long long)r->events, (unsigned long long)r->selected,
                 r->origin, (unsigned long long)r->checkpoint_size,
                 r->key_trusted          ? "trusted"
                 : r->checkpoint_trusted ? "held to the trusted checkpoint"
                                         : "TAKEN ON TRUST from the bundle");
    else if (rc == LDG_EKEY)
        snprintf(summary, sizeof summary,
                 "%s: not verified: no trust anchor given", file);
    else if (rc == LDG_ETAMPER && only_against_failed(r))
        snprintf(summary, sizeof summary,
                 "%s verified, but the --against bundle %s tells another "
                 "history or does not verify (FAIL above)",
                 file, o->against);
    else if (rc == LDG_ETAMPER)
        snprintf(summary, sizeof summary,
                 "%s FAILED verification: %zu of %zu checks failed",
                 r->segment ? "segment" : "bundle", nfail, r->nchecks);
    else if (rc == LDG_EINVAL) /* a segment with --against: FAIL says */
        snprintf(summary, sizeof summary, "%s: not verified: %s", file,
                 r->nchecks > 0 ? r->checks[0].detail : "invalid argument");
    else if (rc == LDG_ENOMEM)
        snprintf(summary, sizeof summary,
                 "%s: not verified: memory ran out while verifying, so no "
                 "check above is to be relied on, passed or failed",
                 file);
    else if (rc == LDG_ENOTFOUND) /* missing, or a directory: FAIL says */
        snprintf(summary, sizeof summary,
                 "%s: not verified: it cannot be opened", file);
    else if (nfail == 1 && only_extract_failed(r))
        /* every check of the bundle passed: what failed is --extract's
         * directory (FAIL extract says why), not the bundle */
        snprintf(summary, sizeof summary,
                 "%s verified, but nothing extracted (%s)", file,
                 ldg_strerror(rc));
    else
        snprintf(summary, sizeof summary, "%s: not a readable %s (%s)", file,
                 r->segment ? "segment" : "bundle", ldg_strerror(rc));
    fprintf(stderr, "%s\n", summary);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, report_json(file, r, summary));
    free(r);
    return cli_bundle_exit(rc);
}

const struct cli_command cli_cmd_verify_bundle = {
    "verify-bundle",
    CLI_GROUP_EXPORT,
    cmd_verify_bundle,
    "check a bundle offline",
    "Checks an evidence bundle without the ledger it came from: every "
    "event's seal (format 2: its claim's path to the seal's root, each "
    "seal's signature once) or signature (format 1) and its chain link, "
    "the inclusion proofs against the "
    "signed checkpoint, redactions against their hashes, and the projected "
    "state against the events. Each check is printed on standard error "
    "(ok, FAIL, ...) with a one-line verdict. A segment (what `ledger "
    "archive` and `export --segment` write) is checked in one pass: its "
    "events' seals, chain and bodies, and their leaves with the left edge "
    "against its checkpoint's root, stopping at the first failure "
    "(docs/FORMAT.md section 11). The anchor lines `ledger keys verifier` "
    "prints after the key, given with it to --trusted-key, are pinned: a "
    "bundle or segment whose key.anchored differs from one or is missing, "
    "or whose seals after it carry no epoch part, fails naming the first "
    "bad event and the anchor (docs/EPOCHS.md). Exits 0 when the bundle "
    "verifies, 1 when a check fails, 64 when an anchor is malformed (or "
    "FILE is a segment given --against), 65 when it is not a readable "
    "bundle, 66 when FILE or the --against bundle cannot be read.",
    verify_bundle_opts,
    CLI_OUT_BASIC,
    "ledger verify-bundle r1.bundle --trusted-key box.vkey\n"
    "# the anchors of a ledger with epoch keys pinned too\n"
    "ledger keys verifier -o json > box.json   # on the box, once\n"
    "ledger verify-bundle r1.bundle --trusted-key box.json\n"
    "# an archive (a segment) is checked the same way\n"
    "ledger verify-bundle old.seg --trusted-key \"$(ledger --dir old keys "
    "verifier)\"\n"
    "# anchored by a checkpoint you kept, and 2 of 3 witnesses' cosignatures\n"
    "ledger verify-bundle r1.bundle --trusted-checkpoint c.txt --quorum 2 \\\n"
    "    --witness-key \"$W1\" --witness-key \"$W2\" --witness-key \"$W3\"\n"
    "# verify, then look inside\n"
    "ledger verify-bundle r1.bundle --trusted-key box.vkey --extract r1/\n",
    0,
    {.size = sizeof(struct vb_args), .maxpos = -1, .opt = vb_opt}};
