/*
 * commands.h — every command of the ledger program. Each area's commands
 * live in their own cli/cmd_<area>.c with their option tables (see
 * cli/cli.h for how to add one); declare the command here and add it to
 * CLI_COMMANDS, one a line, in the order `ledger help` lists them.
 */
#ifndef LDG_CLI_COMMANDS_H
#define LDG_CLI_COMMANDS_H

#include "cli/cli.h"

/* cli/cmd_core.c, cmd_ingest.c, cmd_verify.c, cmd_stats.c, cmd_keys.c —
 * events, keys */
extern const struct cli_command cli_cmd_init, cli_cmd_append, cli_cmd_ingest,
    cli_cmd_show, cli_cmd_verify, cli_cmd_stats, cli_cmd_migrate, cli_cmd_flush,
    cli_cmd_keys, cli_cmd_erase;

/* cli/cmd_retention.c — archive and prune old events */
extern const struct cli_command cli_cmd_archive, cli_cmd_prune;
/* On a pruned ledger, says on stderr "WHAT: events 0..N-1 (up to T) were
 * pruned into the archive with SHA-256 H; ..." and returns 1; 0 (saying
 * nothing) on a ledger never pruned. */
int cli_pruned(struct cli *c, struct ldg_ledger *l, const char *what);
/* The same for pruned event seq, naming the archive that holds it when
 * the ledger.pruned event of its prune is still kept (after a later prune
 * the horizon record names only the latest archive). */
int cli_pruned_seq(struct cli *c, struct ldg_ledger *l, uint64_t seq,
                   const char *what);

/* cli/cmd_seal.c — sealing with a key the writer holds */
extern const struct cli_command cli_cmd_seal;

/* cli/cmd_serve.c — the daemon clients stream events into */
extern const struct cli_command cli_cmd_serve;

/* cli/cmd_proxy.c — the recorder in the request path of the models */
extern const struct cli_command cli_cmd_proxy;

/* cli/cmd_tlog.c — transparency (Merkle tree, checkpoints, proofs, tiles) */
extern const struct cli_command cli_cmd_checkpoint, cli_cmd_proof,
    cli_cmd_tiles;

/* cli/cmd_query.c, cmd_timeline.c — query (journalctl-style), timeline */
extern const struct cli_command cli_cmd_query, cli_cmd_timeline;

/* cli/cmd_export.c, cmd_verify_bundle.c — signed evidence bundles */
extern const struct cli_command cli_cmd_export, cli_cmd_verify_bundle;

/* cli/cmd_projections.c, cmd_doctor.c — projections and the doctor */
extern const struct cli_command cli_cmd_packs, cli_cmd_permissions,
    cli_cmd_models, cli_cmd_routes, cli_cmd_promotions, cli_cmd_runs,
    cli_cmd_doctor, cli_cmd_projections, cli_cmd_rebuild;

/* cli/cmd_memory.c — the control pipeline (issue 34) */
extern const struct cli_command cli_cmd_plans, cli_cmd_memory, cli_cmd_gates;

/* cli/cmd_pipeline.c — tripcodes (issue 34) */
extern const struct cli_command cli_cmd_tripcode;
/* cli/view.c: prints a plan's timeline (ldg_pipeline_timeline's, or a bundle's
 * timeline.json): the exit code. */
int cli_plan_timeline_json(struct cli *c, json_t *tl);
/* A timeline's text (ldg_query_timeline_text, ldg_pipeline_timeline_text)
 * on stdout: on a colour terminal the lines marked '!' (a failure, a
 * denial, a model down, a grant withdrawn) are red; on a terminal a line
 * wider than 80 columns is wrapped at its field gaps, an event's (after a
 * "timeline:" line) under column event_hang, the others indented by 4. */
void cli_timeline_print(const struct cli *c, const char *text, int event_hang);
/* `export --plan PLAN`: "seq=N" terms (each in a termsz-byte slot of the
 * malloc'd *out) for the events of the plan's timeline (only its own with
 * no_context), and the timeline itself (*tl, json_decref) and as text
 * (*text, free) for the bundle. 0 or an exit code (printed; 66 for an
 * unknown plan). */
int cli_plan_terms(struct cli *c, struct ldg_ledger *l, const char *plan,
                   int no_context, size_t termsz, char **out, size_t *n,
                   json_t **tl, char **text);

/* cli/cmd_evals.c — eval run, evals, promote, rollback */
extern const struct cli_command cli_cmd_eval, cli_cmd_evals, cli_cmd_promote,
    cli_cmd_rollback;

/* cli/cmd_sensors.c — model verify, probe */
extern const struct cli_command cli_cmd_model, cli_cmd_probe;

/* cli/cmd_fleet.c — beyond one box: witness */
extern const struct cli_command cli_cmd_witness, cli_cmd_publish,
    cli_cmd_mirror, cli_cmd_ship, cli_cmd_audit_central;

/* cli/cmd_metrics.c — the ledger's state for Prometheus */
extern const struct cli_command cli_cmd_metrics;

/* clang-format off */
#define CLI_COMMANDS \
    &cli_cmd_init, \
    &cli_cmd_append, \
    &cli_cmd_ingest, \
    &cli_cmd_serve, \
    &cli_cmd_proxy, \
    &cli_cmd_show, \
    &cli_cmd_verify, \
    &cli_cmd_stats, \
    &cli_cmd_migrate, \
    &cli_cmd_flush, \
    &cli_cmd_archive, \
    &cli_cmd_prune, \
    &cli_cmd_keys, \
    &cli_cmd_seal, \
    &cli_cmd_erase, \
    &cli_cmd_checkpoint, \
    &cli_cmd_proof, \
    &cli_cmd_tiles, \
    &cli_cmd_query, \
    &cli_cmd_timeline, \
    &cli_cmd_export, \
    &cli_cmd_verify_bundle, \
    &cli_cmd_packs, \
    &cli_cmd_permissions, \
    &cli_cmd_models, \
    &cli_cmd_routes, \
    &cli_cmd_promotions, \
    &cli_cmd_runs, \
    &cli_cmd_doctor, \
    &cli_cmd_metrics, \
    &cli_cmd_projections, \
    &cli_cmd_rebuild, \
    &cli_cmd_plans, \
    &cli_cmd_memory, \
    &cli_cmd_tripcode, \
    &cli_cmd_gates, \
    &cli_cmd_eval, \
    &cli_cmd_evals, \
    &cli_cmd_promote, \
    &cli_cmd_rollback, \
    &cli_cmd_probe, \
    &cli_cmd_model, \
    &cli_cmd_publish, \
    &cli_cmd_mirror, \
    &cli_cmd_witness, \
    &cli_cmd_ship, \
    &cli_cmd_audit_central
/* clang-format on */

/* cli/view.c — the views' shared parts (cmd_projections.c, cmd_doctor.c,
 * cmd_memory.c) */
struct vargs {
    uint64_t at_size;    /* 0 = now */
    const char *at_time; /* --at TIME, resolved once the ledger is open */
    const char *pack;
    int check;
    struct cli_bundle_args ba; /* doctor --bundle */
};

#define AT_OPT                                                                 \
    CLI_VALUE(                                                                 \
        'A', 0, "at", "SEQ|TIME",                                              \
        "the state as of event SEQ, or as of TIME (the last event "            \
        "at or before it; TIME as `ledger query -S` takes it: "                \
        "'2026-11-22 09:39', '-1h', 'yesterday', RFC 3339; a sign and a "      \
        "number alone, '-1', is refused: write '-1s'); default: now")

/* The options of a view that shows every row or, given KEY, one: --at and
 * the optional KEY (packs, runs, plans). */
#define CLI_VIEW_KEY_OPTS(xkey, xhelp)                                         \
    {                                                                          \
        AT_OPT, CLI_ARG(xkey, xhelp, CLI_OPTIONAL), CLI_OPT_END                \
    }

/* A view's .args: its options (AT_OPT, --pack, --check, --bundle's) into
 * the struct vargs args (cli_view_opt), positionals checked by the view
 * (cli_view_args). */
#define CLI_VIEW_ARGS                                                          \
    {                                                                          \
        .size = sizeof(struct vargs), .maxpos = -1, .opt = cli_view_opt        \
    }
int cli_view_opt(struct cli *c, void *args, int id, struct cli_args *a);
/* After the options: the bundle's options go with --bundle, at most
 * max_pos positionals, then cli_view_prepare. 0 or the exit code. */
int cli_view_args(struct cli *c, const struct vargs *va, int npos, char **pos,
                  int max_pos);
int cli_view_prepare(struct cli *c);
const char *cli_view_js(const json_t *o, const char *k);
long long cli_view_ji(const json_t *o, const char *a, const char *b);
void cli_view_rows(struct cli *c, json_t *rows);
/* Opens the ledger read-only and resolves --at TIME into va->at_size:
 * 0 with *l open, or the exit code (said; nothing left open). */
int cli_view_open(struct cli *c, struct vargs *va, struct ldg_ledger **l);
/* A view command: at most max_pos (0 or 1) positionals, the rows of view
 * for it (or --pack's) printed by human (human_one when a positional
 * names one row and it is not NULL). The exit code. */
int cli_view_cmd(struct cli *c, struct vargs *va, int npos, char **pos,
                 int max_pos, int view,
                 void (*human)(struct cli *c, json_t *rows),
                 void (*human_one)(struct cli *c, json_t *rows));
/* Opens the ledger (cli_view_open) and reads view as of va into *rows
 * (vo's other fields as the caller set them): 0 with *l open (the caller
 * closes it), a stale view warned about; else the exit code, said,
 * nothing left open. */
struct ldg_view_opts;
int cli_view_read(struct cli *c, struct vargs *va, int view,
                  struct ldg_view_opts *vo, struct ldg_ledger **l,
                  json_t **rows);
/* The horizon of the ledger cli_view_cmd last read (0: nothing pruned). */
extern uint64_t cli_view_horizon;
/* A list view with nothing to list says so, one way for every view: on
 * stderr "no WHAT[ for FOR] recorded in this ledger (N events)", or "no
 * WHAT[ for FOR] as of event N" (at_size, --at's, not 0), in every output
 * form. The caller prints no table (a header alone is no answer) and,
 * with -o json, no line (JSON Lines of nothing). */
void cli_view_none(struct cli *c, struct ldg_ledger *l, const char *what,
                   const char *for_what, uint64_t at_size);

/* cli/cmd_core.c — what the event commands share (cmd_ingest.c,
 * cmd_verify.c, cmd_stats.c, cmd_keys.c) */
/* --direct: the args struct T's int f set (write without `ledger serve`;
 * cli_serve_connect is not tried). */
#define CLI_DIRECT_OPT(id, T, f)                                               \
    CLI_ON(id, 0, "direct",                                                    \
           "write to the ledger directly even when `ledger serve` serves it",  \
           T, f)
#define CLI_QUIET_OPT                                                          \
    {                                                                          \
        .id = 'q', .short_name = 'q', .name = "quiet",                         \
        .help = "print only the sequence number (for scripts)",                \
        .kind = CLI_K_QUIET                                                    \
    }
/* -o: 0 when human (or one of human's other names), json or
 * json-pretty; else EX_USAGE, said. */
int cli_check_output(struct cli *c, const char *const *human);
/* The sequence number of a new event, labelled: "seq 33" or "seq 33:
 * what"; the bare number with -q; {"seq":"33"} with -o json. */
void cli_print_seq(struct cli *c, uint64_t seq, const char *what);
/* All of f, at most max bytes, into *out (malloc'd, NUL-terminated):
 * 0, LDG_ENOMEM, LDG_ETOOBIG, LDG_EIO. */
int cli_read_all(FILE *f, size_t max, char **out, size_t *len);
/* fopen(path, "rb") of an input the user named: NULL with errno set when
 * it cannot be opened, EISDIR when it is a directory (a read of one fails
 * later with no name for the cause). */
FILE *cli_fopen_input(const char *path);

/* cli/bundle.c: an event's seq as a bundle's events.jsonl has it
 * ("?" if it has none; buf holds it when it is a number). */
const char *cli_bundle_seq(const json_t *e, char buf[24]);

/* cli/bundle.c: query --deps's terms for TERMS (*out, *nout;
 * *store owns the new strings), and query --bundle's matches (fmt an
 * enum ldg_query_format). Each 0 or an exit code (said). */
struct ldg_query;
int cli_query_deps(struct cli *c, int nterms, char **terms, char ***out,
                   int *nout, json_t **store);
int cli_query_bundle(struct cli *c, const struct cli_bundle_args *ba,
                     const struct ldg_query *q, int fmt, uint32_t fields,
                     uint64_t limit, int reverse);

/* cli/query_out.c — `ledger query`'s reading and writing (cmd_query.c).
 * cli_rtxn_begin and cli_rtxn_end begin and end a read transaction as
 * ldg_txn_begin and ldg_txn_abort do, and mark it open: once
 * cli_tstp_install has run, a ctrl-Z (SIGTSTP) that comes while one is
 * open stops the process only once it ends (issue 63: stopped inside
 * one, a reader pins its snapshot and data.mdb grows). */
int cli_rtxn_begin(struct ldg_ledger *l, struct ldg_txn **tp);
void cli_rtxn_end(struct ldg_txn *t);
/* Installs the SIGTSTP handler and marks a read open: the reads that
 * come before the first marked one (opening the ledger, the setup's own)
 * are not marked one by one, so a ctrl-Z waits for the first marked
 * read's end. Called before cli_open. */
void cli_tstp_install(void);
/* The same marking for read transactions a library call begins and ends
 * (ldg_export_opts.snapshot): held 1 as one begins, 0 once it ended. */
void cli_rtxn_held(void *ctx, int held);
/* Output gathered in memory up to CLI_CHUNK_BYTES (cli_chunk_write, a
 * stream's writer: LDG_QUERY_WRITE_PAUSE once full), then written by a
 * thread (cli_bgw) while the next chunk is filled. */
#define CLI_CHUNK_BYTES ((size_t)4 << 20)
struct cli_chunk {
    struct ldg_buf b;
    size_t ready; /* bytes of b.p known mapped (populated or written) */
};
int cli_chunk_write(void *ctx, const char *text, size_t len);
/* write(ctx, ...) writes what the thread is given, in order: 0, 1 (the
 * reader is gone) or an exit code; after a nonzero one nothing more is
 * written. Zeroed, then write and ctx set, before first use. */
struct cli_bgw {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int (*write)(void *ctx, const char *text, size_t len);
    void *ctx;
    struct cli_chunk *job; /* being written; NULL when idle */
    int rc;                /* the first nonzero write result */
    int quit, started;
};
/* Waits until w has written what it was given: 0, or the first nonzero
 * result of its writes. */
int cli_bgw_idle(struct cli_bgw *w);
/* Gives idle w ch to write (its thread started on first use): 0, or -1
 * when no thread can be had (the caller writes ch itself). */
int cli_bgw_give(struct cli_bgw *w, struct cli_chunk *ch);
/* Waits for w's last write and ends the thread: as cli_bgw_idle. */
int cli_bgw_stop(struct cli_bgw *w);

/* cli/serve_said.c: `ledger serve --status` (the exit code), and the
 * server's last words on stderr (and the OTLP receiver's, otlp not NULL). */
struct ldg_serve_stats;
struct ldg_otlp_stats;
int cli_serve_status(struct cli *c);
/* The status file's receivers (ldg_jobs_receivers): an entry for an OTLP
 * receiver (name "otlp"; another transport's, its own name) and for the
 * metrics endpoint, each {"name", "address", "counters", "summary"}
 * (NULL when out of memory). */
json_t *cli_serve_receiver_otlp(const char *name, const char *address,
                                const struct ldg_otlp_stats *st);
json_t *cli_serve_receiver_metrics(const char *address, uint64_t scrapes,
                                   uint64_t partial);
/* "WHAT on http://HOST:PORTTAIL" on stdout once an endpoint given as
 * addr (PORT, localhost:PORT, HOST:PORT) listens on port; "WHAT on
 * unix:PATH (HOW)"; the address into url (cap bytes) for --status. */
void cli_serve_said_on(const char *what, const char *addr, unsigned port,
                       const char *tail, const char *how, char *url,
                       size_t cap);
void cli_serve_stopped(const struct ldg_serve_stats *st,
                       const struct ldg_otlp_stats *otlp);
/* The OTLP/gRPC front's entry beside the "otlp" one (same receiver:
 * the calls over gRPC of its requests, and the gRPC connections). */
json_t *cli_serve_receiver_grpc(const char *address,
                                const struct ldg_otlp_stats *st);
/* The receivers' counters in the status file (cli/serve_rx.c): written
 * now (ldg_jobs_receivers of now()), then by a thread when they changed,
 * at most once a minute, until stop writes them a last time. */
struct ldg_jobs;
void cli_serve_rx_start(struct ldg_jobs *jobs, json_t *(*now)(void));
void cli_serve_rx_stop(struct ldg_jobs *jobs, json_t *(*now)(void));
/* An endpoint's address as listened on (cli/serve_addr.c): a bare PORT,
 * or localhost:PORT, is loopback IPv4; into buf; NULL stays NULL. */
const char *cli_serve_listen_addr(const char *addr, char *buf, size_t cap);
/* The soft limit of file descriptors raised for want connections;
 * @return how many connections it allows. */
unsigned cli_serve_raise_nofile(unsigned want);

#endif
