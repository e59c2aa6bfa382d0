/*
 * serve_int.h — serve's internals shared between its files, its tests and
 * its fuzz target (not part of the public face, serve.h).
 */
#ifndef LDG_SERVE_INT_H
#define LDG_SERVE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Response codes (sysexits, as the CLI's exit codes). */
#define SERVE_CODE_DATA 65   /* the request is malformed or refused */
#define SERVE_CODE_IO 74     /* the ledger could not commit */
#define SERVE_CODE_TEMP 75   /* try again later (too many connections) */
#define SERVE_CODE_NOPERM 77 /* the peer may not write this (access.json) */

/* One response line, malloc'd, ending in '\n' (*len without the NUL):
 *   {"id":"ID","seq":"N"}            id NULL: {"seq":"N"}
 *   {"id":"ID","seq":"N","duplicate":true}   dup: the id was recorded
 *                                    before, as event N
 *   {"id":"ID","seq":"N","duplicate":true,"differs":["type","body"]}
 *                                    ... and what of the request differs
 *                                    from event N (enum ldg_dup_diff)
 *   {"id":"ID","error":"MSG","code":C}
 * id is id_len bytes of UTF-8 (as read from the request), msg any text
 * (invalid UTF-8 is replaced by '?'). NULL when out of memory. */
char *serve_ack_line(const char *id, size_t id_len, uint64_t seq, int dup,
                     unsigned differs, size_t *len);
char *serve_error_line(const char *id, size_t id_len, const char *msg, int code,
                       size_t *len);
/* The answer to a sealed batch (docs/PROTOCOL.md, "Sealed batches"):
 *   {"seq":"F","count":N,"sealed":S}   committed as events F..F+N-1; S
 *                                      the key's count now (the next
 *                                      batch's "first")
 *   {"seq":"F","count":N,"duplicate":true}   every event's id was in the
 *                                      log already, the first as event F */
char *serve_sealed_ack_line(uint64_t seq, uint64_t count, int dup,
                            uint64_t sealed, size_t *len);
/* A sealed-batch line may be this many times --max-line long, or
 * --budget / LDG_INGEST_SEALED_FACTOR if less (never less than
 * --max-line): conn.c's sealed_max. */
#define SERVE_SEALED_LINE_FACTOR 8

/* Who is at the other end of a connection, from the kernel: uid, gid
 * and pid from SO_PEERCRED at connect time, the executable from
 * /proc/PID/exe and the systemd unit from /proc/PID/cgroup, read when the
 * connection is accepted (exe and unit "" when they cannot be read: the
 * process is gone, or /proc is not ours to read). ok 0 when even
 * SO_PEERCRED failed. */
#define SERVE_EXE_MAX 1024
#define SERVE_UNIT_MAX 256
struct serve_peer {
    int ok;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    char exe[SERVE_EXE_MAX];
    char unit[SERVE_UNIT_MAX];
    gid_t groups[64]; /* supplementary groups (SO_PEERGROUPS) */
    int ngroups;
};
void serve_peer_get(int fd, struct serve_peer *p);
/* The systemd unit named by a /proc/PID/cgroup text: the last path
 * component of the unified ("0::") line ending in .service or .scope
 * (a user's unit inside user@UID.service wins over that); "" if none. */
void serve_cgroup_unit(const char *text, size_t len, char *unit, size_t cap);

/* Who may write (serve/auth.c): DIR/access.json, parsed once at start.
 * At most SERVE_AUTH_MAX writer entries. */
#define SERVE_AUTH_FILE "access.json"
#define SERVE_AUTH_MAX 63
#define SERVE_AUTH_SELF ((uint64_t)1 << 63) /* the daemon's own uid */
struct serve_auth;
/* Reads path; a missing file is the default (self and root may write).
 * LDG_EBADINPUT with err naming the file and the line and column (bad
 * JSON) or the key (writers[2].types[0]: ...); LDG_EIO if unreadable. */
int serve_auth_load(struct serve_auth **out, const char *path, uid_t self,
                    char *err, size_t cap);
void serve_auth_free(struct serve_auth *a);
/* Fills p->groups from SO_PEERGROUPS. */
void serve_peer_groups(int fd, struct serve_peer *p);
/* The entries p matches, as a bit set (SERVE_AUTH_SELF: the daemon's own
 * uid, which may write anything); 0: none. */
uint64_t serve_auth_match(const struct serve_auth *a,
                          const struct serve_peer *p);
/* 1 if a peer matching may may write type as actor (NULL: the log key,
 * named "log"); else 0 with msg saying why. */
int serve_auth_check(const struct serve_auth *a, uint64_t may,
                     const struct serve_peer *p, const char *type,
                     const char *actor, char *msg, size_t cap);
/* With "readers": GROUP in the file, gives GROUP read access to the
 * ledger in dir (dir 02750, data.mdb 0640, lock.mdb 0660 — LMDB readers
 * write their slot there) and connect access to sock (0660); keys/ is
 * left 0700. 0, or LDG_EIO with err naming the file. */
int serve_auth_apply_readers(const struct serve_auth *a, const char *dir,
                             const char *sock, char *err, size_t cap);

/* The interval jobs (job_run.c): ldg_job_fn's, args the ledger's
 * directory (then a URL; for the probe, the socket the daemon serves). */
int ldg_job_probe(const char *const *a, size_t n, int fd);
int ldg_job_publish(const char *const *a, size_t n, int fd);
int ldg_job_ship(const char *const *a, size_t n, int fd);
int ldg_job_verify(const char *const *a, size_t n, int fd);
int ldg_job_prune(const char *const *a, size_t n, int fd);

#endif
