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

static const struct cli_opt init_opts[] = {
    CLI_VALUE('g', 0, "origin", "NAME",
              "the log's name in every checkpoint: printable ASCII without "
              "spaces or '+' (default: ledger.local/ and 12 random hex "
              "digits)"),
    CLI_OPT_END};

const struct cli_command cli_cmd_init = {
    "init",
    CLI_GROUP_EVENTS,
    cmd_init,
    "create a ledger and its log key",
    "Creates an empty ledger in the ledger directory: the LMDB store, the "
    "log's signing key (kept 0600 in a 0700 directory) and the origin that "
    "names this log in its checkpoints. Prints the directory, the origin and "
    "the verifier key a third party needs to check checkpoints and bundles "
    "from this ledger. Refuses (exit 73) when a ledger already exists there. "
    "The ledger is of format 2 (sealed entries) and the newest store layout, "
    "the one this build appends to; ledgers made before (format 1, older "
    "layouts) are read as they are, and `ledger migrate` brings an older "
    "layout to the newest.",
    init_opts,
    CLI_OUT_BASIC,
    "# a ledger in ./box, named for its checkpoints\n"
    "ledger init --origin box.example/ledger --dir ./box\n",
    0};

int
cmd_init(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    const char *origin = NULL;
    char err[1024], vkey[512];
    struct ldg_ledger *l;
    struct ldg_options o;
    int ch, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'g')
            origin = a.value;
        else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage_err(c, "unexpected argument '%s'", argv[a.ind]);
    /* what chose an older format or layout before is refused, not ignored:
     * a ledger other than the one asked for is not made */
    {
        static const char *const vars[][2] = {{"LEDGER_FORMAT", "2"},
                                              {"LEDGER_LAYOUT", "5"}};
        _Static_assert(LDG_LAYOUT_NEWEST == 5, "LEDGER_LAYOUT's value");
        for (size_t i = 0; i < 2; i++) {
            const char *v = getenv(vars[i][0]);
            if (v != NULL && v[0] != '\0' && strcmp(v, vars[i][1]) != 0) {
                cli_err(c,
                        "$%s is '%s': this build makes %s %s ledgers only "
                        "(it reads and %s the older ones); unset it",
                        vars[i][0], v, i ? "store layout" : "format",
                        vars[i][1], i ? "migrates" : "appends to");
                return EX_USAGE;
            }
        }
    }
    memset(&o, 0, sizeof o);
    /* the user's own default, never the system ledger: init makes a new
     * ledger where it was asked to */
    if ((rc = cli_resolve_dir_own(c)) != 0)
        return rc;
    rc = ldg_init(c->dir, origin, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        return cli_exit_code(rc);
    }
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
        if ((rc = cli_open(c, 1, &l)) != 0)
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

static const struct cli_opt append_opts[] = {
    CLI_VALUE('s', 0, "subject", "S",
              "what the event is about (a model, route, pack, ...)"),
    CLI_VALUE('r', 0, "run", "R", "the run it belongs to"),
    CLI_VALUE('p', 0, "parent", "SEQ", "the event it follows from"),
    CLI_VALUE('a', 0, "actor", "NAME",
              "vouch with this actor's key (`ledger keys add`); default: "
              "the log key"),
    CLI_VALUE('b', 0, "body", "JSON", "the body, a JSON object"),
    CLI_VALUE('f', 0, "body-file", "FILE",
              "read the body from FILE (- for standard input)"),
    CLI_VALUE(OPT_ID, 0, "id", "ID",
              "idempotency key (1 to 128 bytes): if an event with this id "
              "is in the log, print its seq and append nothing"),
    CLI_VALUE(OPT_TIME, 0, "time", "TIME",
              "when it happened at the source: RFC 3339 or nanoseconds "
              "since the epoch (stored beside the ledger's own time)"),
    CLI_FLAG(OPT_DIRECT, 0, "direct",
             "write to the ledger directly even when `ledger serve` serves "
             "it"),
    CLI_FLAG('v', 'v', "verbose", "say which way the event went"),
    CLI_QUIET_OPT,
    CLI_ARG("TYPE", "the event type, e.g. run.started, model.loaded", 0),
    CLI_OPT_END};

const struct cli_command cli_cmd_append = {
    "append",
    CLI_GROUP_EVENTS,
    cmd_append,
    "append one event",
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
    append_opts,
    CLI_OUT_BASIC,
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
    0};

/* Through `ledger serve` when it serves c->dir: the exit code, or -1
 * when no server answers (then the caller writes directly). */
/* An --id already in the log: the first event's seq is printed and
 * nothing appended; said on stderr with -v, and always when the event
 * given differs from the stored one (the id was reused for another). */
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
        cli_print_seq(c, ans.seq, NULL);
        rc = EX_OK;
    }
    ldg_client_close(cl);
    return rc;
}

int
cmd_append(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_event_in in;
    const char *body_text = NULL, *body_file = NULL;
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq;
    unsigned differs = 0;
    int ch, rc, direct = 0, verbose = 0;

    memset(&in, 0, sizeof in);
    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 's':
            in.subject = a.value;
            break;
        case 'r':
            in.run = a.value;
            break;
        case 'p':
            if (cli_parse_u64(a.value, &in.parent) < 0)
                return cli_usage_err(c,
                                     "--parent: '%s' is not a sequence "
                                     "number",
                                     a.value);
            in.has_parent = 1;
            break;
        case 'a':
            in.actor = a.value;
            break;
        case 'b':
            body_text = a.value;
            break;
        case 'f':
            body_file = a.value;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case OPT_DIRECT:
            direct = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case OPT_ID:
            in.id = a.value;
            break;
        case OPT_TIME: {
            const char *why;
            if (ldg_ingest_parse_time(a.value, &in.time_ns, &why) < 0)
                return cli_usage_err(c, "--time: '%s' %s", a.value, why);
            in.has_time = 1;
            break;
        }
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind + 1 != argc || (body_text && body_file))
        return cli_usage(c);
    in.type = argv[a.ind];
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (body_text != NULL) {
        body = parse_body(c, "--body", body_text, strlen(body_text));
    } else {
        FILE *f = stdin;
        char *text;
        size_t len;
        const char *name = body_file ? body_file : "<stdin>";
        if (f == stdin && isatty(0))
            fprintf(stderr, "ledger append: reading the body from the "
                            "terminal; end it with Ctrl-D (or give --body "
                            "JSON or --body-file FILE)\n");
        if (body_file != NULL && strcmp(body_file, "-") != 0) {
            f = fopen(body_file, "rb");
            if (f == NULL) {
                cli_err(c, "cannot open %s: %s", body_file, strerror(errno));
                return EX_NOINPUT;
            }
        }
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
    in.body = body;
    if (!direct) {
        rc = append_served(c, &in, verbose);
        if (rc >= 0)
            goto out;
    } else if (verbose)
        fprintf(stderr, "ledger append: --direct: writing %s directly\n",
                c->dir);
    if ((rc = cli_open(c, 0, &l)) != 0)
        goto out;
    rc = ldg_append_ex(l, &in, &seq, &differs);
    if (rc == LDG_EDUPLICATE) { /* idempotent: the first one's seq */
        if (verbose || differs) {
            char what[96];
            dup_say(in.id, seq, differs, what, sizeof what);
        }
        rc = 0;
    }
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        if (rc == LDG_EFULL)
            cli_full_advice(c);
        rc = cli_exit_code(rc);
        goto out;
    }
    cli_print_seq(c, seq, NULL);
    rc = EX_OK;
out:
    json_decref(body);
    ldg_close(l);
    return rc;
}

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

static const struct cli_opt show_opts[] = {
    CLI_FLAG('r', 0, "raw",
             "write the stored entry's bytes (msgpack) instead of text"),
    CLI_ARG("SEQ", "the event's sequence number", 0), CLI_OPT_END};

const struct cli_command cli_cmd_show = {
    "show",
    CLI_GROUP_EVENTS,
    cmd_show,
    "one event in full",
    "Prints one event: its sequence number, time, type, subject, run, "
    "actor and the actor's public key, parent, hashes, and its body (or "
    "that the body was erased, and by which event). -o json prints the "
    "shape `ledger query -o json` prints.",
    show_opts,
    CLI_OUT_BASIC,
    "ledger show 12\n"
    "ledger show 12 -o json-pretty\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_show(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    uint64_t seq;
    int ch, rc, raw = 0;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        if (ch == 'r')
            raw = 1;
        else
            return cli_usage(c);
    }
    if (ch < 0)
        return a.exit;
    if ((rc = cli_one_seq(c, argc, argv, a.ind, "the event to show", &seq)))
        return rc;
    if ((rc = cli_check_output(c, NULL)) != 0)
        return rc;
    if (raw && c->tty_out) {
        cli_err(c, "--raw writes the binary entry; refusing to write it to "
                   "a terminal (redirect it to a file or a pipe)");
        return EX_USAGE;
    }
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
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
    if (raw) {
        uint64_t bad;
        char what[512];
        /* raw bytes carry no mark: say so, when they are this event's */
        if (cli_finding(c, l, &bad, what, sizeof what,
                        "--raw prints the entry's bytes alone") &&
            bad == seq)
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
        if (rc == 0)
            fwrite(e, 1, el, stdout);
        free(whole);
        if (rc < 0) {
            cli_err(c, "event %llu: %s", (unsigned long long)seq,
                    ldg_strerror(rc));
            rc = cli_exit_code(rc);
            goto out;
        }
    } else {
        json_t *o = event_json(t, &ev), *v;
        uint64_t bad;
        char what[512];
        /* what `ledger verify` found, beside the data it found altered */
        if (cli_finding(c, l, &bad, what, sizeof what, NULL) && bad == seq)
            json_object_set_new(o, "verify", json_sprintf("failed: %s", what));
        if (c->out != OUT_HUMAN) {
            cli_print_json(c, o);
            goto done;
        }
        const char *k;
        json_object_foreach(o, k, v)
        {
            if (json_is_string(v)) {
                printf("%-16s %s\n", k, json_string_value(v));
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
