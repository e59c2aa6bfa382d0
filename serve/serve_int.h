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
#define SERVE_CODE_DATA 65 /* the request is malformed or refused */
#define SERVE_CODE_OS 71   /* out of memory */
#define SERVE_CODE_IO 74   /* the ledger could not commit */
#define SERVE_CODE_TEMP 75 /* try again later (too many connections) */

/* One response line, malloc'd, ending in '\n' (*len without the NUL):
 *   {"id":"ID","seq":"N"}            id NULL: {"seq":"N"}
 *   {"id":"ID","error":"MSG","code":C}
 * id is id_len bytes of UTF-8 (as read from the request), msg any text
 * (invalid UTF-8 is replaced by '?'). NULL when out of memory. */
char *serve_ack_line(const char *id, size_t id_len, uint64_t seq, size_t *len);
char *serve_error_line(const char *id, size_t id_len, const char *msg, int code,
                       size_t *len);

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
};
void serve_peer_get(int fd, struct serve_peer *p);
/* The systemd unit named by a /proc/PID/cgroup text: the last path
 * component of the unified ("0::") line ending in .service or .scope
 * (a user's unit inside user@UID.service wins over that); "" if none. */
void serve_cgroup_unit(const char *text, size_t len, char *unit, size_t cap);

#endif
