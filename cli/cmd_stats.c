/*
 * cmd_stats.c — stats, migrate, flush.
 */
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "projections/projections.h"
#include "serve/serve.h"

/* --------------------------------------------------------------- stats -- */

struct stats_args {
    int databases;
};
static const struct cli_opt stats_opts[] = {
    CLI_ON('d', 0, "databases",
           "also each database's records, pages and bytes (and bytes an "
           "event), LMDB's own pages included: together data.mdb's size",
           struct stats_args, databases),
    CLI_OPT_END};

/* The --databases rows as a table, or as a JSON array. */
static void
stats_dbs_print(const struct ldg_db_size *d, size_t n, uint64_t events)
{
    uint64_t total = 0;
    printf("\n%-24s %12s %10s %14s %12s\n", "database", "records", "pages",
           "bytes", "bytes/event");
    for (size_t i = 0; i < n; i++) {
        total += d[i].bytes;
        printf("%-24s %12llu %10llu %14llu %12.1f\n", d[i].name,
               (unsigned long long)d[i].entries, (unsigned long long)d[i].pages,
               (unsigned long long)d[i].bytes,
               events ? (double)d[i].bytes / (double)events : 0.0);
    }
    printf("%-24s %12s %10s %14llu %12.1f\n", "total", "", "",
           (unsigned long long)total,
           events ? (double)total / (double)events : 0.0);
}

static json_t *
stats_dbs_json(const struct ldg_db_size *d, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I}", "name",
                                           d[i].name, "records",
                                           (json_int_t)d[i].entries, "pages",
                                           (json_int_t)d[i].pages, "bytes",
                                           (json_int_t)d[i].bytes));
    return a;
}

static int
cmd_stats(struct cli *c, struct stats_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_stats st;
    struct ldg_db_size *dbs = NULL;
    size_t ndbs = 0;
    char t1[64] = "", t2[64] = "";
    int rc;

    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_stats(l, &st);
    if (rc == 0 && x->databases)
        rc = ldg_stats_databases(l, &dbs, &ndbs);
    if (rc < 0) {
        cli_err(c, "%s%s", x->databases ? "the databases' sizes: " : "",
                *ldg_errmsg(l) ? ldg_errmsg(l) : ldg_strerror(rc));
        ldg_close(l);
        return cli_exit_code(rc);
    }
    if (st.events) {
        ldg_time_rfc3339_ns(t1, sizeof t1, st.first_ts);
        ldg_time_rfc3339_ns(t2, sizeof t2, st.last_ts);
    }
    if (c->out == OUT_HUMAN) {
        printf("origin       %s\n", ldg_origin(l));
        printf("layout       %d (%s)\n", st.layout, st.layout_what);
        if (st.horizon > 0)
            printf("events       %llu (0..%llu pruned: %llu kept)\n",
                   (unsigned long long)st.events,
                   (unsigned long long)(st.horizon - 1),
                   (unsigned long long)(st.events - st.horizon));
        else
            printf("events       %llu\n", (unsigned long long)st.events);
        printf("bodies       %llu (%llu erased)\n",
               (unsigned long long)st.bodies,
               (unsigned long long)(st.events - st.horizon - st.bodies));
        printf("checkpoints  %llu\n", (unsigned long long)st.checkpoints);
        printf("keys         %llu\n", (unsigned long long)st.keys);
        printf("entry bytes  %llu\n", (unsigned long long)st.entry_bytes);
        printf("body bytes   %llu\n", (unsigned long long)st.body_bytes);
        printf("file bytes   %llu\n", (unsigned long long)st.file_bytes);
        printf("map bytes    %llu\n", (unsigned long long)st.map_bytes);
        if (st.intake)
            printf("intake       %llu event%s not yet in data.mdb\n",
                   (unsigned long long)st.intake_events,
                   st.intake_events == 1 ? "" : "s");
        if (st.events) {
            char h1[32], h2[32];
            cli_when(h1, sizeof h1, st.first_ts);
            cli_when(h2, sizeof h2, st.last_ts);
            printf("first        %llu %s %s\n", (unsigned long long)st.horizon,
                   h1, st.first_type);
            printf("last         %llu %s %s\n",
                   (unsigned long long)(st.events - 1), h2, st.last_type);
        }
        if (x->databases)
            stats_dbs_print(dbs, ndbs, st.events);
    } else {
        char b[2][24];
        json_t *o;
        snprintf(b[0], sizeof b[0], "%llu", (unsigned long long)st.first_ts);
        snprintf(b[1], sizeof b[1], "%llu", (unsigned long long)st.last_ts);
        /* counts and byte sizes are numbers, the log size a string
         * (docs/OUTPUT.md) */
        o = json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
                      "origin", ldg_origin(l), "size", ldg_json_u64(st.events),
                      "events", (json_int_t)st.events, "bodies",
                      (json_int_t)st.bodies, "checkpoints",
                      (json_int_t)st.checkpoints, "keys", (json_int_t)st.keys,
                      "sizes", "entry_bytes", (json_int_t)st.entry_bytes,
                      "body_bytes", (json_int_t)st.body_bytes, "file_bytes",
                      (json_int_t)st.file_bytes, "map_bytes",
                      (json_int_t)st.map_bytes);
        /* the kept events' erased bodies, as verify counts them */
        if (o != NULL)
            json_object_set_new(
                o, "erased",
                json_integer((json_int_t)(st.events - st.horizon - st.bodies)));
        if (st.events) {
            char last[24];
            snprintf(last, sizeof last, "%llu",
                     (unsigned long long)(st.events - 1));
            json_object_set_new(o, "first",
                                json_pack("{s:o, s:s, s:s, s:s}", "seq",
                                          ldg_json_u64(st.horizon), "ts", b[0],
                                          "time", t1, "type", st.first_type));
            json_object_set_new(o, "last",
                                json_pack("{s:s, s:s, s:s, s:s}", "seq", last,
                                          "ts", b[1], "time", t2, "type",
                                          st.last_type));
        }
        json_object_set_new(o, "layout", json_integer(st.layout));
        if (st.horizon > 0)
            json_object_set_new(o, "horizon", ldg_json_u64(st.horizon));
        if (st.intake)
            json_object_set_new(o, "intake_events",
                                json_integer((json_int_t)st.intake_events));
        if (x->databases)
            json_object_set_new(o, "databases", stats_dbs_json(dbs, ndbs));
        cli_print_json(c, o);
    }
    free(dbs);
    ldg_close(l);
    return EX_OK;
}

CLI_COMMAND(
    stats, CLI_GROUP_EVENTS, "counts and sizes",
    "Prints the ledger's origin, how many events, bodies (and erased "
    "bodies), checkpoints and keys it holds, the bytes they take, and the "
    "first and last event. With --databases, a table of where data.mdb's "
    "bytes are: every database the ledger keeps (the log's, the indexes, "
    "the projections) with its records, pages, bytes and bytes an event, "
    "then LMDB's catalogue, free and meta pages. The layout line names the "
    "store layout (how the records are kept in LMDB, docs/FORMAT.md 6.1): "
    "9, the only one this build opens but to migrate it.",
    stats_opts, CLI_OUT_BASIC,
    "ledger stats\n"
    "# where the bytes go, database by database\n"
    "ledger stats --databases\n"
    "ledger stats -o json\n",
    CLI_CMD_GATHER, {.size = sizeof(struct stats_args)});

/* ------------------------------------------------------------- migrate -- */

struct migrate_args {
    int to; /* --layout, 0: the newest */
};

/* --layout N: 0, or the exit code of a usage error (kept for the
 * scripts that name the layout they convert to: the newest, the only one) */
static int
migrate_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    const char *v = a->value;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    (void)id;
    /* (the library knows the layouts: the one it converts to makes) */
    if (*end != '\0' || v[0] < '1' || v[0] > '9' || n > 1000000 ||
        (ldg_layout_info((int)n, NULL) & LDG_LAYOUT_MAKES) == 0) {
        cli_err(c,
                "--layout: '%s': this build converts a store to the newest "
                "layout only (`ledger --version` names it)",
                v);
        return EX_USAGE;
    }
    ((struct migrate_args *)args)->to = (int)n;
    return 0;
}

static const struct cli_opt migrate_opts[] = {
    CLI_VALUE('L', 0, "layout", "N",
              "the layout to convert to: the newest, 9, the only one this "
              "build reads (the default)"),
    CLI_OPT_END};

static int
cmd_migrate(struct cli *c, const struct migrate_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_client *cl = NULL;
    struct ldg_migrate_result r;
    int rc;

    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    rc = cli_serve_connect(c, &cl, 0);
    if (rc == 0) {
        ldg_client_close(cl);
        cli_err(c,
                "ledger serve serves this ledger (%s/%s): stop it, migrate, "
                "then start it again; nothing was changed",
                c->dir, LDG_SERVE_SOCKET);
        return EX_TEMPFAIL;
    }
    if (rc > 0)
        return rc;
    /* served on another socket: the server's hold on DIR/serve.lock */
    rc = ldg_serve_held(c->dir);
    if (rc != 0) {
        if (rc > 0)
            cli_err(c,
                    "ledger serve serves this ledger (it holds %s/%s; its "
                    "socket is elsewhere): stop it, migrate, then start it "
                    "again; nothing was changed",
                    c->dir, LDG_SERVE_LOCK);
        else
            cli_err(c, "%s/%s: %s", c->dir, LDG_SERVE_LOCK, ldg_strerror(rc));
        return rc > 0 ? EX_TEMPFAIL : cli_exit_code(rc);
    }
    if ((rc = cli_open(c, CLI_OPEN_MIGRATE, &l)) != 0)
        return rc;
    rc = ldg_migrate(l, x->to, cli_progress, c, &r);
    cli_progress_done(c);
    /* the projections brought up to date as every writer does (a rebuild
     * when the earlier build's are not this one's) */
    if (rc == 0)
        rc = ldg_projections_attach_progress(l, cli_progress, c);
    cli_progress_done(c);
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    ldg_close(l);
    if (c->out == OUT_HUMAN) {
        if (r.from == r.to && r.entries_digested > 0) {
            printf("layout %d already: stored the claim digest of the %llu "
                   "entr%s an earlier migrate left as they were (%llu "
                   "event%s)\n",
                   r.to, (unsigned long long)r.entries_digested,
                   r.entries_digested == 1 ? "y" : "ies",
                   (unsigned long long)r.events, r.events == 1 ? "" : "s");
        } else if (r.from == r.to && r.tiles_split > 0) {
            printf("layout %d already: split the %llu tile%s an earlier "
                   "migrate left whole (%llu event%s)\n",
                   r.to, (unsigned long long)r.tiles_split,
                   r.tiles_split == 1 ? "" : "s", (unsigned long long)r.events,
                   r.events == 1 ? "" : "s");
            printf("tree     %llu -> %llu bytes\n",
                   (unsigned long long)r.tree_before,
                   (unsigned long long)r.tree_after);
        } else if (r.from == r.to && r.body_index_built) {
            printf("layout %d already: built the body index (%llu event%s)\n",
                   r.to, (unsigned long long)r.events,
                   r.events == 1 ? "" : "s");
        } else if (r.from == r.to) {
            printf("layout %d already: nothing to convert (%llu event%s)\n",
                   r.to, (unsigned long long)r.events,
                   r.events == 1 ? "" : "s");
        } else {
            printf("layout %d -> %d (%llu event%s)\n", r.from, r.to,
                   (unsigned long long)r.events, r.events == 1 ? "" : "s");
            printf("tree     %llu -> %llu bytes\n",
                   (unsigned long long)r.tree_before,
                   (unsigned long long)r.tree_after);
            printf("indexes  %llu -> %llu bytes\n",
                   (unsigned long long)r.index_before,
                   (unsigned long long)r.index_after);
            printf("events   %llu -> %llu bytes (entries and bodies)\n",
                   (unsigned long long)r.events_before,
                   (unsigned long long)r.events_after);
            if (r.entries_digested > 0)
                printf("digests  %llu entr%s stored with their claim "
                       "digest as layout %d keeps it\n",
                       (unsigned long long)r.entries_digested,
                       r.entries_digested == 1 ? "y" : "ies", r.to);
        }
        printf("in use   %llu -> %llu bytes (data.mdb %llu bytes; LMDB "
               "reuses its free pages for later writes)\n",
               (unsigned long long)r.used_before,
               (unsigned long long)r.used_after,
               (unsigned long long)r.file_after);
    } else {
        cli_print_json(
            c, json_pack(
                   "{s:i, s:i, s:b, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I}, "
                   "s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:b, s:I}",
                   "from", r.from, "to", r.to, "converted",
                   r.from != r.to || r.tiles_split > 0 ||
                       r.entries_digested > 0 || r.body_index_built,
                   "events", (json_int_t)r.events, "tiles_split",
                   (json_int_t)r.tiles_split, "used_bytes", "before",
                   (json_int_t)r.used_before, "after", (json_int_t)r.used_after,
                   "file_bytes", "before", (json_int_t)r.file_before, "after",
                   (json_int_t)r.file_after, "tree_bytes", "before",
                   (json_int_t)r.tree_before, "after", (json_int_t)r.tree_after,
                   "index_bytes", "before", (json_int_t)r.index_before, "after",
                   (json_int_t)r.index_after, "event_bytes", "before",
                   (json_int_t)r.events_before, "after",
                   (json_int_t)r.events_after, "body_index_built",
                   r.body_index_built, "entries_digested",
                   (json_int_t)r.entries_digested));
    }
    return EX_OK;
}

CLI_COMMAND(
    migrate, CLI_GROUP_EVENTS, "convert the store to the newest layout",
    "Converts the ledger's store, in place, to a newer layout (how the "
    "ledger keeps its records in LMDB; docs/FORMAT.md section 6): no "
    "signed or hashed byte changes, and every checkpoint, proof, tile and "
    "bundle stays as it was. Layout 2 keeps the Merkle tree as tiles of 256 "
    "hashes instead of a record per node; layout 3 also keeps each index "
    "as one key per value (a type, a subject, a run, an actor) with its "
    "events' seqs packed under it, instead of a key per event, and no time "
    "index (times are found in the log itself); layout 4 also keeps a full "
    "tile's last hash apart, so that the tile takes two pages of the file "
    "instead of three; layout 5 keeps the entries without the bytes a "
    "reader derives (prev, a sealed entry's claim digest) and the bodies "
    "compressed with dictionaries trained on the ledger's own bodies, and "
    "gives new bodies one seed each instead of a salt per field (the bodies "
    "already there keep their salts); layout 6 derives a new body's salts "
    "from its seed with AES instead of BLAKE2b, which verifies faster (the "
    "move from 5 rewrites the layout record only: the bodies already there "
    "keep their seeds and salts); layout 7 stores a new sealed entry's "
    "claim digest again (41 bytes an event), so that a query showing it "
    "does not hash every claim (the move from 6 rewrites the sealed "
    "entries' records with their digests, a chunk at a time after the "
    "layout record, and says how many; from 4 or older the copy stores "
    "them so); layout 8 stores that digest raw before the entry's record "
    "(33 bytes an event, 8 fewer than layout 7; the move from 6 or 7 "
    "rewrites the sealed entries' records as the move from 6 to 7 does); "
    "layout 9 appends through an intake log, one block and one flush an "
    "acknowledgement, and may seal with epoch keys (docs/WRITE-PATH.md; "
    "the move from 8 makes the log and rewrites the layout record). "
    "This build reads and appends to layout 9 only: every other command "
    "refuses a ledger an earlier build left at an older layout (exit 65) "
    "until it is migrated; --layout takes 9 only. "
    "A crash or a full disk at any moment leaves the "
    "ledger in a layout it had or one on the way (layout 4 perhaps with "
    "some tiles not yet split), each keeping every checkpoint, and migrate "
    "run again goes on from there; the move "
    "to layout 5 copies the entries and bodies first, so it needs free "
    "space on the disk about their size. "
    "Refuses (exit 75) while `ledger serve` serves "
    "the ledger, on any socket (stop it first); other writers may go on. "
    "Refuses (exit 1) while a failed verification stands: converting "
    "rebuilds the stored tree and indexes, which would hide what it found. "
    "Shows "
    "progress on "
    "a terminal and prints the bytes in use before and after (data.mdb "
    "itself does not shrink: LMDB reuses the freed pages for later "
    "writes). `ledger stats` says which layout a ledger has.",
    migrate_opts, CLI_OUT_BASIC,
    "ledger migrate --dir ./box\n"
    "ledger stats --dir ./box | grep layout\n",
    0, {.size = sizeof(struct migrate_args), .opt = migrate_opt});

/* --------------------------------------------------------------- flush -- */

static const struct cli_opt flush_opts[] = {CLI_OPT_END};

/* What flush did, from the store's own end (events less the intake's
 * tail) before and after: other writers may append meanwhile. */
static void
flush_print(struct cli *c, const struct ldg_stats *a, const struct ldg_stats *b)
{
    uint64_t from = a->events - a->intake_events;
    uint64_t to = b->events - b->intake_events;
    uint64_t moved = to > from ? to - from : 0;

    if (c->out != OUT_HUMAN) {
        json_t *o =
            json_pack("{s:i, s:I, s:I}", "layout", b->layout, "moved",
                      (json_int_t)moved, "left", (json_int_t)b->intake_events);
        if (o != NULL && moved > 0) {
            json_object_set_new(o, "first", ldg_json_u64(from));
            json_object_set_new(o, "last", ldg_json_u64(to - 1));
        }
        cli_print_json(c, o);
        return;
    }
    if (moved == 0)
        printf("the intake held no event data.mdb lacks: data.mdb holds "
               "every event (%llu); nothing moved\n",
               (unsigned long long)b->events);
    else if (moved == 1)
        printf("moved 1 event (seq %llu) from the intake into data.mdb\n",
               (unsigned long long)from);
    else
        printf("moved %llu events (seq %llu to %llu) from the intake into "
               "data.mdb\n",
               (unsigned long long)moved, (unsigned long long)from,
               (unsigned long long)(to - 1));
    if (b->intake_events > 0)
        printf("%llu event%s appended meanwhile %s in the intake\n",
               (unsigned long long)b->intake_events,
               b->intake_events == 1 ? "" : "s",
               b->intake_events == 1 ? "is" : "are");
}

static int
cmd_flush(struct cli *c, void *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_stats a, b;
    struct ldg_txn *t = NULL;
    int rc;

    (void)x;
    if ((rc = cli_open(c, CLI_OPEN_WRITE, &l)) != 0)
        return rc;
    rc = ldg_stats(l, &a);
    /* a write to the store applies the intake's tail first (and with it
     * the projections this handle keeps); nothing else is written */
    if (rc == 0 && a.intake_events > 0 &&
        (rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) == 0)
        ldg_txn_abort(t);
    if (rc == 0)
        rc = ldg_stats(l, &b);
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    ldg_close(l);
    flush_print(c, &a, &b);
    return EX_OK;
}

CLI_COMMAND(
    flush, CLI_GROUP_EVENTS, "move the intake's events into data.mdb",
    "At store layout 9 an acknowledged event is first in the intake log "
    "(DIR/intake), and is applied to LMDB (data.mdb) in large "
    "transactions later: past 128 events or 2 MiB, when the intake is "
    "full, on `ledger serve`'s clean stop, before any other kind of "
    "write. Every reader sees the intake's events at once, so this is "
    "never needed for an answer; it applies them now, with the "
    "projections, so that LMDB's own file holds every event acknowledged "
    "so far (what `mdb_dump`, `mdb_stat` and other tools that read "
    "data.mdb directly see; a backup still copies the intake with it, "
    "docs/WRITE-PATH.md). Prints how many events it moved and which, and how "
    "many "
    "other writers appended meanwhile (they stay in the intake). At other "
    "layouts there is no intake: it says so and changes nothing. "
    "`ledger stats` says how many events the intake holds.",
    flush_opts, CLI_OUT_BASIC,
    "ledger flush --dir ./box\n"
    "mdb_stat -s entries5 ./box\n",
    0, {.size = 0});
