/*
 * cmd_seal.c — `ledger seal`: the writer's side of a key it holds itself
 * (docs/FORMAT.md, "Client-held keys"): event lines in, one sealed-batch
 * line out, signed with a key file that never enters the ledger's keys/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ingest/ingest.h"

enum { OPT_SEAL_KEY = 500, OPT_SEAL_ORIGIN, OPT_SEAL_FIRST };

struct seal_args {
    const char *keyfile, *origin, *first;
};
static const struct cli_opt seal_opts[] = {
    {.id = OPT_SEAL_KEY,
     .name = "key",
     .value = "FILE",
     .help =
         "the writer's secret key file (`ledger keys generate --out FILE`), "
         "enrolled with `ledger keys add NAME --public-key`",
     .flags = CLI_REQUIRED,
     CLI_AT(struct seal_args, keyfile, CLI_K_STR)},
    CLI_STR(OPT_SEAL_ORIGIN, 0, "origin", "LINE",
            "the ledger's origin line (first line of `ledger checkpoint`); "
            "with --first, no ledger is read",
            struct seal_args, origin),
    CLI_STR(OPT_SEAL_FIRST, 0, "first", "K",
            "how many events the key's earlier seals cover (`ledger keys "
            "list -o json` shows it as \"sealed\")",
            struct seal_args, first),
    CLI_ARG("EVENTS.jsonl",
            "event lines, as `ledger ingest` takes them (default: standard "
            "input)",
            CLI_OPTIONAL),
    CLI_OPT_END};

/* Reads one line of at most max bytes into b (its ceiling, b->max: so it
 * grows to at most max + 1), NUL-terminated. 1, 0 at the end, -1 on a read
 * error (or no memory), -2 for a line longer than max (skipped to its
 * end). */
static int
read_line(FILE *in, struct ldg_buf *b)
{
    int ch, over = 0;

    b->len = 0;
    while ((ch = getc(in)) != EOF && ch != '\n') {
        uint8_t *o;
        if (over)
            continue;
        if (b->len >= b->max) {
            over = 1;
            continue;
        }
        o = ldg_buf_room(b, 1);
        if (o == NULL)
            return -1;
        *o = (uint8_t)ch;
        b->len++;
    }
    if (ferror(in))
        return -1;
    if (ch == EOF && b->len == 0 && !over)
        return 0;
    if (over)
        return -2;
    if (b->len > 0 && b->s[b->len - 1] == '\r')
        b->len--;
    if (ldg_buf_room(b, 0) == NULL)
        return -1;
    b->s[b->len] = '\0';
    return 1;
}

static int
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* The origin, the key's count and the name the ledger enrolled it under
 * (enrolled, LDG_NAME_MAX + 1 bytes: it may differ from the key file's)
 * from the ledger in c->dir. */
static int
from_ledger(struct cli *c, const struct ldg_key *key, char *origin, size_t ocap,
            uint64_t *first, char *enrolled)
{
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_keyinfo ki;
    int rc;

    if ((rc = cli_open(c, 1, &l)) != 0)

        return rc;
    if (ldg_format(l) < 2) {
        cli_err(c,
                "the ledger in %s is format version %d: sealed batches need "
                "format version 2",
                c->dir, ldg_format(l));
        ldg_close(l);
        return EX_DATAERR;
    }
    snprintf(origin, ocap, "%s", ldg_origin(l));
    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc == 0)
        rc = ldg_key_info(t, key->key_id, &ki);
    if (rc == LDG_ENOTFOUND) {
        cli_err(c,
                "key %s (id %s) is not enrolled in the ledger in %s (ledger "
                "keys add NAME --public-key)",
                key->name, key->key_id, c->dir);
        rc = EX_NOPERM;
    } else if (rc == 0 && ki.revoked_seq != UINT64_MAX) {
        cli_err(c, "key %s (id %s) was revoked at event %llu", ki.name,
                key->key_id, (unsigned long long)ki.revoked_seq);
        rc = EX_NOPERM;
    } else if (rc == 0) {
        snprintf(enrolled, LDG_NAME_MAX + 1, "%s", ki.name);
        rc = ldg_key_sealed(t, key->key_id, first);
        if (rc < 0) {
            rc = cli_fail(c, l, rc);
        }
    } else {
        rc = cli_fail(c, l, rc);
    }
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

/* --origin and --first (together, or the ledger in --dir says both): 0,
 * or the exit code of a usage error. */
static int
seal_check_opts(struct cli *c, const char *origin_opt, const char *first_opt,
                uint64_t *first)
{
    if ((origin_opt == NULL) != (first_opt == NULL))
        return cli_usage_err(c, "--origin and --first go together (without "
                                "them the ledger in --dir says both)");
    if (first_opt != NULL &&
        (cli_parse_u64(first_opt, first) < 0 || *first > (uint64_t)INT64_MAX))
        return cli_usage_err(c, "--first: '%s' is not a count (0 to 2^63 - 1)",
                             first_opt);
    if (origin_opt != NULL &&
        (strlen(origin_opt) == 0 || strlen(origin_opt) > LDG_ORIGIN_MAX ||
         strpbrk(origin_opt, "\n\r\t") != NULL))
        return cli_usage_err(c, "--origin: 1 to %d bytes on one line",
                             LDG_ORIGIN_MAX);
    if (origin_opt != NULL && c->dir_opt != NULL)
        return cli_usage_err(c, "--dir or --origin and --first, not both");
    return 0;
}

/* Prints the sealed batch, one line, if ingest can take it: 0, or the exit
 * code after saying why. */
static int
print_batch(struct cli *c, const json_t *batch, const char *name, size_t n)
{
    char *text = json_dumps(batch, JSON_COMPACT | JSON_SORT_KEYS);
    size_t len;

    if (text == NULL)
        return cli_fail_err(c, "", LDG_ENOMEM);
    len = strlen(text) + 1;
    if (len > LDG_SEALED_LINE_MAX) {
        cli_err(c,
                "%s: the sealed batch of %zu events is %zu bytes, more than "
                "ingest takes on one line (%zu): seal fewer events a batch",
                name, n, len, LDG_SEALED_LINE_MAX);
        free(text);
        return EX_DATAERR;
    }
    if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
        cli_err(c, "cannot write the sealed batch: %s", strerror(errno));
        free(text);
        return EX_IOERR;
    }
    free(text);
    return 0;
}

static int
cmd_seal(struct cli *c, struct seal_args *x, int npos, char **pos)
{
    const char *name = "<stdin>";
    char origin[LDG_ORIGIN_MAX + 1], err[1024], enrolled[LDG_NAME_MAX + 1];
    struct ldg_key *key = NULL;
    struct ldg_sealer *s = NULL;
    uint64_t first = 0, lineno = 0;
    FILE *in = stdin;
    struct ldg_buf line = {0};
    json_t *batch = NULL;
    int rc, got;

    if ((rc = cli_npos(c, npos, pos, 0, 1, NULL)) != 0)
        return rc;
    if (x->keyfile == NULL)
        return cli_usage_err(c, "--key FILE is needed (the key that seals "
                                "the events)");
    if ((rc = seal_check_opts(c, x->origin, x->first, &first)) != 0)
        return rc;
    err[0] = enrolled[0] = '\0';
    rc = ldg_keyfile_load(x->keyfile, &key, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        return rc == LDG_ENOTFOUND ? EX_NOINPUT : EX_NOPERM;
    }
    if (x->origin != NULL) {
        snprintf(origin, sizeof origin, "%s", x->origin);
    } else if ((rc = from_ledger(c, key, origin, sizeof origin, &first,
                                 enrolled)) != 0) {
        goto out;
    }
    if (npos > 0 && strcmp(pos[0], "-") != 0) {
        name = pos[0];
        in = fopen(name, "rb");
        if (in == NULL) {
            cli_err(c, "cannot open %s: %s", name, strerror(errno));
            rc = EX_NOINPUT;
            goto out;
        }
    }
    if ((rc = ldg_sealer_begin(&s, origin, key, first)) == LDG_EINVAL &&
        x->origin != NULL) {
        /* the library's rule (ledger init's): the only argument left */
        rc = cli_usage_err(c,
                           "--origin: '%.80s' is no log origin (printable "
                           "ASCII without '+' or spaces, as `ledger "
                           "checkpoint` prints on its first line)",
                           x->origin);
        goto out;
    }
    if (rc < 0) {
        cli_err(c, "cannot seal: %s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    ldg_buf_init(&line, LDG_BODY_MAX_DEFAULT + 65536);
    while ((got = read_line(in, &line)) != 0) {
        struct ldg_event_in ev;
        struct ldg_ingest_meta meta;
        json_t *holder = NULL;
        char msg[600];
        int col = 1;

        lineno++;
        if (got == -1) {
            cli_err(c, "%s: read error at line %llu: %s", name,
                    (unsigned long long)lineno, strerror(errno));
            rc = EX_IOERR;
            goto out;
        }
        if (got == -2) {
            fprintf(stderr, "%s:%llu:1: line is longer than %d bytes\n", name,
                    (unsigned long long)lineno, LDG_BODY_MAX_DEFAULT + 65536);
            rc = EX_DATAERR;
            goto out;
        }
        if (is_blank(line.s, line.len))
            continue;
        if (ldg_ingest_parse_line_ex(line.s, line.len, LDG_BODY_MAX_DEFAULT, 0,
                                     &ev, &meta, &holder, &col, msg,
                                     sizeof msg) < 0) {
            fprintf(stderr, "%s:%llu:%d: %s\n", name,
                    (unsigned long long)lineno, col, msg);
            rc = EX_DATAERR;
            goto out;
        }
        /* the key file's name, or the one the ledger enrolled it under
         * (keys add NAME --public-key: they may differ) */
        if (ev.actor != NULL && strcmp(ev.actor, key->name) != 0 &&
            strcmp(ev.actor, enrolled) != 0) {
            fprintf(stderr,
                    "%s:%llu:1: actor '%s': these events are sealed by key "
                    "%s (id %s); leave \"actor\" out\n",
                    name, (unsigned long long)lineno, ev.actor,
                    enrolled[0] ? enrolled : key->name, key->key_id);
            json_decref(holder);
            rc = EX_DATAERR;
            goto out;
        }
        rc = ldg_sealer_add(s, &ev, msg, sizeof msg);
        json_decref(holder);
        if (rc < 0) {
            fprintf(stderr, "%s:%llu:1: %s\n", name, (unsigned long long)lineno,
                    msg[0] ? msg : ldg_strerror(rc));
            rc = cli_exit_code(rc);
            goto out;
        }
    }
    if (ldg_sealer_count(s) == 0) {
        cli_err(c, "%s: no events to seal", name);
        rc = EX_DATAERR;
        goto out;
    }
    if ((rc = ldg_sealer_finish(s, &batch, err, sizeof err)) < 0) {
        rc = cli_fail_err(c, err, rc);
        goto out;
    }
    if ((rc = print_batch(c, batch, name, ldg_sealer_count(s))) != 0)
        goto out;
    fprintf(stderr,
            "sealed %zu events with key %s (id %s), range %llu..%llu, for "
            "%s\n",
            ldg_sealer_count(s), enrolled[0] ? enrolled : key->name,
            key->key_id, (unsigned long long)first,
            (unsigned long long)(first + ldg_sealer_count(s) - 1), origin);
    rc = EX_OK;
out:
    if (in != stdin && in != NULL)
        fclose(in);
    ldg_buf_release(&line);
    json_decref(batch);
    ldg_sealer_free(s);
    ldg_key_free(key);
    return rc;
}

CLI_COMMAND(
    seal, CLI_GROUP_EVENTS, "seal events with a key the writer holds",
    "Reads event lines (the lines `ledger ingest` takes: type, body, "
    "subject, run, parent, id, time) and prints one sealed batch, one JSON "
    "line, to send to `ledger ingest` or `ledger serve`: each event's "
    "claim (its body committed under fresh random salts), the RFC 6962 "
    "root of their digests and one Ed25519 seal over it by the key in "
    "--key, for the ledger's origin and the key's range [first, first + "
    "count). The ledger takes the whole batch, contiguously in one commit, "
    "or nothing.\n\n"
    "The secret key is read from --key only, never from a ledger's keys/. "
    "With --origin and --first nothing else is read, so the events can be "
    "sealed on another machine; without them, the ledger directory "
    "(--dir) is opened read-only for its origin and the key's count. A "
    "line naming an \"actor\" other than the key's name is refused. Exit "
    "65 names FILE:LINE:COLUMN of a bad line; nothing is printed then.",
    seal_opts, NULL,
    "# seal a batch with the key cp.key (made by `ledger keys generate`,\n"
    "# enrolled by `ledger keys add cp --public-key`), then hand the one\n"
    "# line to `ledger ingest` or `ledger serve`\n"
    "ledger seal --key cp.key events.jsonl > batch.json\n"
    "# sealing away from the box: origin and count given\n"
    "ledger seal --key cp.key --origin example.org/box1 --first 12 e.jsonl\n",
    0, {.size = sizeof(struct seal_args), .maxpos = -1});
