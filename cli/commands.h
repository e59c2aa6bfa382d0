/*
 * commands.h — every command of the ledger program. Each area's commands
 * live in their own cli/cmd_<area>.c with their option tables (see
 * cli/cli.h for how to add one); declare the command here and add it to
 * CLI_COMMANDS, one a line, in the order `ledger help` lists them.
 */
#ifndef LDG_CLI_COMMANDS_H
#define LDG_CLI_COMMANDS_H

#include "cli/cli.h"

/* cli/cmd_core.c — recording events, keys */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_append(struct cli *c, int argc, char **argv);
int cmd_ingest(struct cli *c, int argc, char **argv);
int cmd_show(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_migrate(struct cli *c, int argc, char **argv);
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_erase(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_init, cli_cmd_append, cli_cmd_ingest,
    cli_cmd_show, cli_cmd_verify, cli_cmd_stats, cli_cmd_migrate, cli_cmd_keys,
    cli_cmd_erase;

/* cli/cmd_retention.c — archive and prune old events */
int cmd_archive(struct cli *c, int argc, char **argv);
int cmd_prune(struct cli *c, int argc, char **argv);
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
int cmd_seal(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_seal;

/* cli/cmd_serve.c — the daemon clients stream events into */
int cmd_serve(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_serve;

/* cli/cmd_proxy.c — the recorder in the request path of the models */
int cmd_proxy(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_proxy;

/* cli/cmd_tlog.c — transparency (Merkle tree, checkpoints, proofs, tiles) */
int cmd_checkpoint(struct cli *c, int argc, char **argv);
int cmd_proof(struct cli *c, int argc, char **argv);
int cmd_tiles(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_checkpoint, cli_cmd_proof,
    cli_cmd_tiles;

/* cli/cmd_query.c — query (journalctl-style), timeline */
int cmd_query(struct cli *c, int argc, char **argv);
int cmd_timeline(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_query, cli_cmd_timeline;

/* cli/cmd_export.c — signed evidence bundles */
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_verify_bundle(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_export, cli_cmd_verify_bundle;

/* cli/cmd_projections.c — projections and the doctor */
int cmd_packs(struct cli *c, int argc, char **argv);
int cmd_permissions(struct cli *c, int argc, char **argv);
int cmd_models(struct cli *c, int argc, char **argv);
int cmd_routes(struct cli *c, int argc, char **argv);
int cmd_promotions(struct cli *c, int argc, char **argv);
int cmd_runs(struct cli *c, int argc, char **argv);
int cmd_doctor(struct cli *c, int argc, char **argv);
int cmd_projections(struct cli *c, int argc, char **argv);
int cmd_rebuild(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_packs, cli_cmd_permissions,
    cli_cmd_models, cli_cmd_routes, cli_cmd_promotions, cli_cmd_runs,
    cli_cmd_doctor, cli_cmd_projections, cli_cmd_rebuild;

/* cli/cmd_projections.c — the control pipeline (issue 34) */
int cmd_plans(struct cli *c, int argc, char **argv);
int cmd_memory(struct cli *c, int argc, char **argv);
int cmd_gates(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_plans, cli_cmd_memory, cli_cmd_gates;

/* cli/cmd_pipeline.c — tripcodes (issue 34) */
int cmd_tripcode(struct cli *c, int argc, char **argv);
/* Prints a plan's timeline (ldg_pipeline_timeline's, or a bundle's
 * timeline.json): the exit code. */
int cli_plan_timeline_json(struct cli *c, json_t *tl);
/* `export --plan PLAN`: "seq=N" terms (each in a termsz-byte slot of the
 * malloc'd *out) for the events of the plan's timeline (only its own with
 * no_context), and the timeline itself (*tl, json_decref) and as text
 * (*text, free) for the bundle. 0 or an exit code (printed; 66 for an
 * unknown plan). */
int cli_plan_terms(struct cli *c, struct ldg_ledger *l, const char *plan,
                   int no_context, size_t termsz, char **out, size_t *n,
                   json_t **tl, char **text);
extern const struct cli_command cli_cmd_tripcode;

/* cli/cmd_evals.c — eval run, evals, promote, rollback */
int cmd_eval(struct cli *c, int argc, char **argv);
int cmd_evals(struct cli *c, int argc, char **argv);
int cmd_promote(struct cli *c, int argc, char **argv);
int cmd_rollback(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_eval, cli_cmd_evals, cli_cmd_promote,
    cli_cmd_rollback;

/* cli/cmd_sensors.c — model verify, probe */
int cmd_model(struct cli *c, int argc, char **argv);
int cmd_probe(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_model, cli_cmd_probe;

/* cli/cmd_fleet.c — beyond one box: witness */
int cmd_witness(struct cli *c, int argc, char **argv);
int cmd_publish(struct cli *c, int argc, char **argv);
int cmd_mirror(struct cli *c, int argc, char **argv);
int cmd_ship(struct cli *c, int argc, char **argv);
int cmd_audit_central(struct cli *c, int argc, char **argv);
extern const struct cli_command cli_cmd_witness, cli_cmd_publish,
    cli_cmd_mirror, cli_cmd_ship, cli_cmd_audit_central;

/* cli/cmd_metrics.c — the ledger's state for Prometheus */
int cmd_metrics(struct cli *c, int argc, char **argv);
/* Brings DIR/metrics-cache.json, when there is one, up to l's size, so
 * that the counters go on over the events a prune is about to remove;
 * a failure is said on stderr and changes nothing else. Returns 0. */
int cli_metrics_catch_up(struct cli *c, struct ldg_ledger *l);
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

#endif
