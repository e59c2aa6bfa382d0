/*
 * cmd_core.c — init, append, show (ingest, verify, stats, keys, erase:
 * cmd_*.c).
 */
#include <unistd.h>
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "query/query.h"
#include "serve/serve.h"
#include "ingest/ingest.h"

enum { OPT_DIRECT = 300, OPT_ID, OPT_TIME };

/* ---------------------------------------------------------------- init -- */

struct init_args {
    const char *origin;
    unsigned epoch_s;
};
static const struct init_args init_defaults = {.epoch_s = 60};
static const struct cli_opt init_opts[] = {
    CLI_STR('g', 0, "origin", "NAME",
            "the log's name in every checkpoint: printable ASCII without "
            "spaces or '+' (default: ledger.local/ and 12 random hex "
            "digits)",
            struct init_args, origin),
    CLI_NUM(500, 0, "epoch", "SECONDS",
            "seal with forward-secure epoch keys of SECONDS from the start "
            "(default 60: the anchor is event 1); 0 for none, the log key "
            "then signs every seal for the ledger's life and `ledger keys "
            "anchor` can anchor it later",
            struct init_args, epoch_s, 0, 31622400),
    CLI_OPT_END};

/* 1 with *out when dir holds what an `init --epoch` left when it stopped
 * before its anchor (a fault, a kill): the genesis alone, of the origin
 * asked for if one was, no anchor. The same command then finishes it. */
static int
init_unanchored(struct cli *c, const struct init_args *x,
                struct ldg_ledger **out)
{
    struct ldg_anchor_pin *pins = NULL;
    struct ldg_ledger *l;
    uint64_t size = 0;
    size_t n = 0;

    if (cli_open(c, 0, &l) != 0)
        return 0;
    if (ldg_size(l, &size) == 0 && size == 1 &&
        (x->origin == NULL || strcmp(x->origin, ldg_origin(l)) == 0) &&
        ldg_keys_anchors(l, &pins, &n) == 0 && n == 0) {
        *out = l;
        return 1;
    }
    free(pins);
    ldg_close(l);
    return 0;
}

static int
cmd_init(struct cli *c, struct init_args *x, int npos, char **pos)
{
    char err[1024] = "", vkey[512];
    struct ldg_ledger *l;
    struct ldg_options o;
    const char *layout_env = NULL;
    int rc;

    memset(&o, 0, sizeof o);
    /* what chose an older format or layout before is refused, not ignored:
     * a ledger other than the one asked for is not made */
    {
        const char *v = getenv("LEDGER_FORMAT");
        if (v != NULL && v[0] != '\0' && strcmp(v, "2") != 0) {
            cli_err(c,
                    "$LEDGER_FORMAT is '%s': this build makes format 2 "
                    "ledgers only (it reads and appends to the older ones); "
                    "unset it",
                    v);
            return EX_USAGE;
        }
        /* the store layout: ldg_init says which it makes (and refuses
         * another before it makes anything) */
        if ((v = getenv("LEDGER_LAYOUT")) != NULL && v[0] != '\0') {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end != '\0' || v[0] < '1' || v[0] > '9' || n > 1000000) {
                cli_err(c,
                        "$LEDGER_LAYOUT is '%s': not a store layout's "
                        "number; unset it",
                        v);
                return EX_USAGE;
            }
            o.layout = (unsigned)n;
            layout_env = v;
        }
    }
    /* the user's own default, never the system ledger: init makes a new
     * ledger where it was asked to */
    if ((rc = cli_resolve_dir_own(c)) != 0)
        return rc;
    rc = ldg_init(c->dir, x->origin, &o, err, sizeof err);
    if (rc == LDG_EINVAL && layout_env != NULL &&
        (ldg_layout_info((int)o.layout, NULL) & LDG_LAYOUT_MAKES) == 0) {
        cli_err(c, "$LEDGER_LAYOUT is '%s': %s; unset it", layout_env, err);
        return EX_USAGE;
    }
    if (rc == LDG_EEXIST && x->epoch_s != 0 && init_unanchored(c, x, &l)) {
        /* said, not silent: the ledger was there, its anchor is new */
        cli_err(c,
                "%s holds a ledger with only its genesis and no anchor: "
                "anchoring its log key now, as `ledger keys anchor` would",
                c->dir);
        goto anchor;
    }
    if (rc < 0)
        return cli_fail_err(c, err, rc);
    /* Opened for writing, so the projections' store is made now, current
     * at the genesis event: a fresh ledger's views are current and empty
     * (read-only views would otherwise say the store is not current).
     * The ledger itself is already made and durable; if only this step
     * fails (say an I/O error in the projections' store), init has done
     * its job: say what was not done and that the next write does it, so
     * that init is not left unrepeatable ("a ledger already exists"). */
    if (cli_open(c, 0, &l) != 0) {
        cli_err(c,
                "the ledger in %s is made, but its projections were not "
                "built (above); the next command that writes builds them",
                c->dir);
        if (x->epoch_s != 0) { /* (a read-only handle cannot anchor) */
            cli_err(c,
                    "its log key is not anchored either: the same `ledger "
                    "init --epoch %u` finishes it",
                    x->epoch_s);
            return EX_IOERR;
        }
        if ((rc = cli_open(c, 1, &l)) != 0)
            return rc;
    }
anchor:
    if (x->epoch_s != 0 &&
        (rc = ldg_keys_anchor(l, NULL, (uint64_t)x->epoch_s * 1000000000ull,
                              NULL)) < 0) {
        rc = cli_fail(c, l, rc);
        cli_err(c,
                "the ledger in %s is made, but its log key is not anchored: "
                "the same `ledger init --epoch %u` finishes it",
                c->dir, x->epoch_s);
        ldg_close(l);
        return rc;
    }
    ldg_verifier_key(l, vkey, sizeof vkey);
    if (c->out == OUT_HUMAN) {
        printf("dir\t%s\norigin\t%s\nverifier\t%s\n", c->dir, ldg_origin(l),
               vkey);
    } else {
        cli_print_json(c, json_pack("{s:s, s:s, s:s}", "dir", c->dir, "origin",
                                    ldg_origin(l), "verifier", vkey));
    }
    ldg_close(l);
    return EX_OK;
}

CLI_COMMAND(
    init, CLI_GROUP_EVENTS, "create a ledger and its log key",
    "Creates an empty ledger in the ledger directory: the LMDB store, the "
    "log's signing key (kept 0600 in a 0700 directory) and the origin that "
    "names this log in its checkpoints. Prints the directory, the origin and "
    "the verifier key a third party needs to check checkpoints and bundles "
    "from this ledger. Refuses (exit 73) when a ledger already exists there. "
    "The ledger is of format 2 (sealed entries) at store layout 9, the one "
    "this build reads and appends to (`ledger migrate` brings an earlier "
    "build's store to it). Its log key is anchored at once (event 1, "
    "key.anchored) and seals with forward-secure epoch keys of 60 s "
    "(--epoch): whoever holds the box later cannot sign again what was "
    "acked before the current epoch (docs/EPOCHS.md). --epoch 0 makes a "
    "ledger without them.",
    init_opts, CLI_OUT_BASIC,
    "# a ledger in ./box, named for its checkpoints\n"
    "ledger init --origin box.example/ledger --dir ./box\n"
    "# epochs of 5 minutes instead of 60 s\n"
    "ledger init --epoch 300 --dir ./box2\n",
    0, {.size = sizeof(struct init_args), .defaults = &init_defaults});

static json_t *
parse_body(struct cli *c, const char *what, const char *text, size_t len)
{
    json_error_t je;
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (b == NULL) {
        if (je.line < 1 || je.text[0] == '\0')
            cli_err(c, "%s: cannot parse the body: %s", what,
                    je.text[0] ? je.text : "out of memory");
        else
            cli_err(c, "%s:%d:%d: %s", what, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(b)) {
        cli_err(c, "%s: the body must be a JSON object", what);
        json_decref(b);
        return NULL;
    }
    return b;
}

struct append_args {
    struct ldg_event_in in;
    const char *body_text, *body_file;
    int direct, verbose;
};
#define AA struct append_args
static const struct cli_opt append_opts[] = {
    CLI_STR('s', 0, "subject", "S",
            "what the event is about (a model, route, pack, ...)", AA,
            in.subject),
    CLI_STR('r', 0, "run", "R", "the run it belongs to", AA, in.run),
    CLI_VALUE('p', 0, "parent", "SEQ", "the event it follows from"),
    CLI_STR('a', 0, "actor", "NAME",
            "vouch with this actor's key (`ledger keys add`); default: "
            "the log key",
            AA, in.actor),
    CLI_STR('b', 0, "body", "JSON", "the body, a JSON object", AA, body_text),
    CLI_STR('f', 0, "body-file", "FILE",
            "read the body from FILE (- for standard input)", AA, body_file),
    CLI_STR(OPT_ID, 0, "id", "ID",
            "idempotency key (1 to 128 bytes): if an event with this id "
            "is in the log, print its seq and append nothing",
            AA, in.id),
    CLI_VALUE(OPT_TIME, 0, "time", "TIME",
              "when it happened at the source: RFC 3339 or nanoseconds "
              "since the epoch (stored beside the ledger's own time)"),
    CLI_DIRECT_OPT(OPT_DIRECT, AA, direct),
    CLI_ON('v', 'v', "verbose", "say which way the event went", AA, verbose),
    CLI_QUIET_OPT,
    CLI_ARG("TYPE", "the event type, e.g. model.registered, x.myorg.thing", 0),
    CLI_OPT_END};

/* --parent and --time: 0, or the exit code of a usage error */
static int
append_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct append_args *x = args;
    const char *why;
    if (id == 'p') {
        if (cli_parse_u64(a->value, &x->in.parent) < 0)
            return cli_usage_err(c, "--parent: '%s' is not a sequence number",
                                 a->value);
        x->in.has_parent = 1;
    } else {
        if (ldg_ingest_parse_time(a->value, &x->in.time_ns, &why) < 0)
            return cli_usage_err(c, "--time: '%s' %s", a->value, why);
        x->in.has_time = 1;
    }
    return 0;
}

/* Through `ledger serve` when it serves c->dir: the exit code, or -1
 * when no server answers (then the caller writes directly). */
/* An --id already in the log: the first event's seq is printed and
 * nothing appended; said on stderr with -v, and always when the event
 * given differs from the stored one (the id was reused for another). */
/* The seq appended, or, for an id already in the log, the first event's
 * with -o json's "duplicate": true and "differs" (what of this event is
 * not as recorded, as serve answers: docs/PROTOCOL.md). */
static void
print_appended(struct cli *c, uint64_t seq, int dup, unsigned differs)
{
    char names[96], *save = NULL;
    json_t *o, *d;

    if (c->out == OUT_HUMAN || !dup) {
        cli_print_seq(c, seq, NULL);
        return;
    }
    o = json_pack("{s:o, s:b}", "seq", ldg_json_u64(seq), "duplicate", 1);
    d = json_array();
    ldg_dup_diff_names(differs, names, sizeof names);
    for (char *w = strtok_r(names, ", ", &save); w != NULL;
         w = strtok_r(NULL, ", ", &save))
        json_array_append_new(d, json_string(w));
    if (o != NULL && differs != 0)
        json_object_set_new(o, "differs", d);
    else
        json_decref(d);
    cli_print_json(c, o);
}

static void
dup_say(const char *id, uint64_t seq, unsigned differs, char *what, size_t cap)
{
    if (differs)
        fprintf(stderr,
                "ledger append: id '%s' is already event %llu, which "
                "differs from this one in %s: not appended again\n",
                id, (unsigned long long)seq,
                ldg_dup_diff_names(differs, what, cap));
    else
        fprintf(stderr,
                "ledger append: id '%s' is already event %llu: not appended "
                "again\n",
                id, (unsigned long long)seq);
}

static int
append_served(struct cli *c, const struct ldg_event_in *in, int verbose)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    int rc;

    if ((rc = cli_serve_connect(c, &cl, verbose)) != 0)
        return rc;
    rc = ldg_client_append(cl, in, in->id, in->has_time, in->time_ns);
    if (rc == LDG_EBADINPUT) { /* refused before anything was sent */
        cli_err(c, "%s", ldg_client_errmsg(cl));
        ldg_client_close(cl);
        return EX_DATAERR;
    }
    if (rc == 0)
        rc = ldg_client_wait(cl, &ans, -1);
    if (rc < 0) {
        cli_err(c, "ledger serve: %s; the event may or may not be recorded",
                ldg_client_errmsg(cl));
        rc = EX_IOERR;
    } else if (!ans.ok) {
        const char *m = ans.error;
        /* "line 1: " is the connection's line; ours has one */
        if (strncmp(m, "line 1: ", 8) == 0)
            m += 8;
        cli_err(c, "%s", m);
        rc = ans.code > 0 && ans.code < 256 ? ans.code : EX_SOFTWARE;
    } else {
        if (ans.duplicate && (verbose || ans.differs)) {
            char what[96];
            dup_say(in->id, ans.seq, ans.differs, what, sizeof what);
        }
        print_appended(c, ans.seq, ans.duplicate, ans.differs);
        rc = EX_OK;
    }
    ldg_client_close(cl);
    return rc;
}

static int
cmd_append(struct cli *c, struct append_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq;
    unsigned differs = 0;
    int dup = 0;
    int rc;

    if ((rc = cli_npos(c, npos, pos, 1, 1,
                       "TYPE is needed: the event type, e.g. run.started, "
                       "model.registered, x.myorg.thing")) != 0)
        return rc;
    if (x->body_text && x->body_file)
        return cli_usage_err(c, "--body and --body-file: give one of them");
    x->in.type = pos[0];
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (x->body_text != NULL) {
        body = parse_body(c, "--body", x->body_text, strlen(x->body_text));
    } else {
        FILE *f = stdin;
        char *text;
        size_t len;
        const char *name = x->body_file ? x->body_file : "<stdin>";
        if (x->body_file != NULL && strcmp(x->body_file, "-") != 0) {
            f = cli_fopen_input(x->body_file);
            if (f == NULL) {
                cli_err(c, "cannot open %s: %s", x->body_file, strerror(errno));
                return EX_NOINPUT;
            }
        }
        if (f == stdin && isatty(0))
            fprintf(stderr, "ledger append: reading the body from the "
                            "terminal; end it with Ctrl-D (or give --body "
                            "JSON or --body-file FILE)\n");
        rc = cli_read_all(f, LDG_BODY_MAX_DEFAULT * 4, &text, &len);
        if (f != stdin)
            fclose(f);
        if (rc < 0) {
            cli_err(c, "%s: %s", name, ldg_strerror(rc));
            return cli_exit_code(rc);
        }
        body = parse_body(c, name, text, len);
        free(text);
    }
    if (body == NULL)
        return EX_DATAERR;
    x->in.body = body;
    if (!x->direct) {
        rc = append_served(c, &x->in, x->verbose);
        if (rc >= 0)
            goto out;
    } else if (x->verbose)
        fprintf(stderr, "ledger append: --direct: writing %s directly\n",
                c->dir);
    if ((rc = cli_open(c, 0, &l)) != 0)
        goto out;
    cli_expire_epochs(l);
    rc = ldg_append_ex(l, &x->in, &seq, &differs);
    if (rc == LDG_EDUPLICATE) { /* idempotent: the first one's seq */
        if (x->verbose || differs) {
            char what[96];
            dup_say(x->in.id, seq, differs, what, sizeof what);
        }
        dup = 1;
        rc = 0;
    }
    if (rc < 0) {
        cli_err(c, "%s", cli_why(l, rc));
        if (rc == LDG_EFULL)
            cli_full_advice(c);
        rc = cli_exit_code(rc);
        goto out;
    }
    print_appended(c, seq, dup, differs);
    rc = EX_OK;
out:
    json_decref(body);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    append, CLI_GROUP_EVENTS, "append one event",
    "Appends one event of type TYPE, sealed (format 2) or signed (format "
    "1) with its actor's key, and prints its sequence number "
    "(\"seq 33\") once it is durably committed. The body is a JSON object "
    "given with "
    "--body, read from --body-file, or read from standard input when "
    "neither is given. The event is chained to the previous one, added to "
    "the Merkle tree, and the projections are updated in the same "
    "transaction.\n\n"
    "When `ledger serve` serves the ledger (its socket DIR/ledger.sock "
    "answers), the event goes through it and is committed with what other "
    "clients send; when nothing listens there, or with --direct, append "
    "writes the ledger itself. A socket it may not reach (permission "
    "denied: a server may be there) is an error (74), not a direct write "
    "behind a server's back. -v says which way the event went.",
    append_opts, CLI_OUT_BASIC,
    "# run r1 of pack summarize starts (the run link is the body's run)\n"
    "ledger append run.started --body "
    "'{\"run\":\"r1\",\"pack\":\"summarize\"}'\n"
    "# the body from a file, e.g. "
    "{\"model\":\"llama-3-8b\",\"state\":\"loaded\"}\n"
    "ledger append model.state --body-file body.json\n"
    "# keep the sequence number for a later --parent\n"
    "seq=$(ledger append run.step -q \\\n"
    "    --body "
    "'{\"run\":\"r1\",\"step\":\"ocr\",\"tool\":\"ocr\",\"status\":\"ok\"}')\n"
    "ledger append run.finished --parent \"$seq\" \\\n"
    "    --body '{\"run\":\"r1\",\"status\":\"ok\"}'\n",
    0, {.size = sizeof(struct append_args), .maxpos = -1, .opt = append_opt});

/* ---------------------------------------------------------------- show -- */

/* One event in full: the shape `ledger query -o json` prints (one shape
 * for scripts everywhere), plus the actor's public key. */
static json_t *
event_json(struct ldg_txn *t, const struct ldg_event *ev)
{
    json_t *o = ldg_query_event_json(t, ev);
    struct ldg_keyinfo ki;
    char hex[65];
    if (o != NULL && ldg_key_info(t, ev->actor, &ki) == 0) {
        ldg_hex(hex, ki.pub, 32);
        json_object_set_new(o, "actor_public_key", json_string(hex));
    }
    return o;
}

struct show_args {
    int raw;
};
static const struct cli_opt show_opts[] = {
    CLI_ON('r', 0, "raw",
           "write the stored entry's bytes (msgpack) instead of text",
           struct show_args, raw),
    CLI_ARG("SEQ", "the event's sequence number", 0), CLI_OPT_END};

static int
cmd_show(struct cli *c, struct show_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    uint64_t seq;
    int rc;

    if ((rc = cli_one_seq(c, npos, pos, "the event to show", &seq)))
        return rc;
    if (x->raw && c->tty_out) {
        cli_err(c, "--raw writes the binary entry; refusing to write it to "
                   "a terminal (redirect it to a file or a pipe)");
        return EX_USAGE;
    }
    if ((rc = cli_open_read(c, &l, &t)) != 0)
        return rc;
    rc = ldg_event_get(t, seq, &ev);
    if (rc < 0) {
        char what[64];
        snprintf(what, sizeof what, "event %llu was pruned",
                 (unsigned long long)seq);
        if (rc == LDG_ENOTFOUND)
            cli_err(c, "no event %llu", (unsigned long long)seq);
        else if (rc == LDG_EPRUNED)
            cli_pruned_seq(c, l, seq, what);
        else
            cli_err(c, "event %llu: %s", (unsigned long long)seq,
                    ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    if (x->raw) {
        struct ldg_query_finding f;
        /* raw bytes carry no mark: say so, when they are this event's */
        if (cli_finding(c, l, &f, "--raw prints the entry's bytes alone") &&
            f.seq == seq)
            cli_err(c,
                    "the bytes below are event %llu's, which ledger "
                    "verify found altered or not verifiable",
                    (unsigned long long)seq);
        uint8_t *whole = malloc(LDG_ENTRY_MAX);
        const uint8_t *e;
        size_t el;
        rc = whole == NULL
                 ? LDG_ENOMEM
                 : ldg_event_entry(t, seq, whole, LDG_ENTRY_MAX, &e, &el);
        if (rc == 0) {
            cli_guard_raw(); /* the stored bytes, as they are */
            fwrite(e, 1, el, stdout);
        }
        free(whole);
        if (rc < 0) {
            cli_err(c, "event %llu: %s", (unsigned long long)seq,
                    ldg_strerror(rc));
            rc = cli_exit_code(rc);
            goto out;
        }
    } else {
        json_t *o = event_json(t, &ev), *v;
        struct ldg_query_finding f;
        /* what `ledger verify` found, beside the data it found altered */
        if (cli_finding(c, l, &f, NULL))
            ldg_query_finding_mark(&f, o);
        /* an erased body: which event erased it, when and why */
        if (json_is_true(json_object_get(o, "erased"))) {
            json_t *by = NULL;
            if (ldg_query_erasure_of(t, seq, &by) == 0)
                json_object_set_new(o, "erased_by", by);
        }
        if (c->out != OUT_HUMAN) {
            cli_print_json(c, o);
            goto done;
        }
        const char *k;
        json_object_foreach(o, k, v)
        {
            if (json_is_string(v)) {
                printf("%-16s %s\n", k, json_string_value(v));
            } else if (strcmp(k, "erased_by") == 0) {
                char when[32];
                cli_when_rfc3339(when, sizeof when,
                                 json_string_value(json_object_get(v, "time")));
                printf("%-16s by event %s at %s: %s\n", k,
                       json_string_value(json_object_get(v, "seq")), when,
                       json_is_string(json_object_get(v, "reason"))
                           ? json_string_value(json_object_get(v, "reason"))
                           : "(no reason)");
            } else if (strcmp(k, "source") == 0) {
                /* who submitted it, beside the signer above: one line */
                printf(
                    "%-16s uid %lld gid %lld pid %lld", k,
                    (long long)json_integer_value(json_object_get(v, "uid")),
                    (long long)json_integer_value(json_object_get(v, "gid")),
                    (long long)json_integer_value(json_object_get(v, "pid")));
                if (json_is_string(json_object_get(v, "exe")))
                    printf(" exe %s",
                           json_string_value(json_object_get(v, "exe")));
                if (json_is_string(json_object_get(v, "unit")))
                    printf(" unit %s",
                           json_string_value(json_object_get(v, "unit")));
                putchar('\n');
            } else {
                char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS |
                                            JSON_ENCODE_ANY);
                printf("%-16s %s\n", k, s ? s : "?");
                free(s);
            }
        }
        json_decref(o);
    }
done:
    rc = EX_OK;
out:
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    show, CLI_GROUP_EVENTS, "one event in full",
    "Prints one event: its sequence number, time, type, subject, run, "
    "actor and the actor's public key, parent, hashes, and its body (or "
    "that the body was erased: erased_by, the body.erased event that did, "
    "when and its reason). -o json prints the shape `ledger query -o json` "
    "prints, with erased_by: {seq, time, reason} beside \"erased\": true.",
    show_opts, CLI_OUT_BASIC,
    "ledger show 12\n"
    "ledger show 12 -o json-pretty\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER,
    {.size = sizeof(struct show_args), .maxpos = -1});
