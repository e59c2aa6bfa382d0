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

/* Who is at the other end of a connection, from the kernel
 * (SO_PEERCRED); ok 0 when it could not be read. */
struct serve_peer {
    int ok;
    pid_t pid;
    uid_t uid;
    gid_t gid;
};
void serve_peer_get(int fd, struct serve_peer *p);

#endif
