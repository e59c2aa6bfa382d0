/*
 * commands.h — the command table beyond the core commands. Each module's
 * commands live in their own cli/cmd_<module>.c; add a declaration, a
 * usage line and a table entry here.
 */
#ifndef LDG_CLI_COMMANDS_H
#define LDG_CLI_COMMANDS_H

#include "cli/cli.h"

/* cli/cmd_tlog.c — transparency (Merkle tree, checkpoints, proofs, tiles) */
int cmd_checkpoint(struct cli *c, int argc, char **argv);
int cmd_proof(struct cli *c, int argc, char **argv);
int cmd_tiles(struct cli *c, int argc, char **argv);

/* cli/cmd_query.c — query (journalctl-style), timeline */
int cmd_query(struct cli *c, int argc, char **argv);
int cmd_timeline(struct cli *c, int argc, char **argv);

/* cli/cmd_export.c — signed evidence bundles */
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_verify_bundle(struct cli *c, int argc, char **argv);

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

#define CLI_EXTRA_USAGE                                                        \
    "  checkpoint [--size N]           the latest (or size N) signed "         \
    "checkpoint\n"                                                             \
    "  proof SEQ [--size N]            tlog-proof@v1 inclusion proof\n"        \
    "  proof --consistency OLD [--size N]   consistency proof body\n"          \
    "  tiles DIR                       write C2SP tlog-tiles to DIR\n"         \
    "  query [FIELD=VALUE..] [+ ..] [-S T] [-U T] [-g RE] [-n N] [-r] [-f]\n"  \
    "        [--after-cursor C] [--show-cursor] [-o short|verbose|json|cat]\n" \
    "                                  find events, journalctl-style\n"        \
    "  timeline RUN                    the flight-recorder view of a run\n"    \
    "  export [MATCH..] [-S T] [-U T] [--run R] --out FILE\n"                  \
    "         [--redact F,..] [--redact-body TYPE,..]  signed bundle\n"        \
    "  verify-bundle FILE [--trusted-key VKEY] [--extract DIR]\n"              \
    "                                  check a bundle offline\n"               \
    "  packs [PACK] | permissions [--pack P] | models | routes | promotions\n" \
    "       | runs [RUN]   [--at SEQ]  state computed from the events\n"       \
    "  doctor [--pack P] [--at SEQ]    readiness verdict with remedies\n"      \
    "                                  (exit 0 healthy, 1 degraded, 2 "        \
    "blocked,\n"                                                               \
    "                                  3 unknown)\n"                           \
    "  projections [--at SEQ] [--note] versions, positions and digests\n"      \
    "  rebuild [NAME..] [--check]      replay the log into the projections\n"

#define CLI_EXTRA_COMMANDS                                                     \
    {"checkpoint", cmd_checkpoint}, {"proof", cmd_proof},                      \
        {"tiles", cmd_tiles}, {"query", cmd_query},                            \
        {"timeline", cmd_timeline}, {"export", cmd_export},                    \
        {"verify-bundle", cmd_verify_bundle}, {"packs", cmd_packs},            \
        {"permissions", cmd_permissions}, {"models", cmd_models},              \
        {"routes", cmd_routes}, {"promotions", cmd_promotions},                \
        {"runs", cmd_runs}, {"doctor", cmd_doctor},                            \
        {"projections", cmd_projections},                                      \
    {                                                                          \
        "rebuild", cmd_rebuild                                                 \
    }

#endif
