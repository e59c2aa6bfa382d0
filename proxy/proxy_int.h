/*
 * proxy_int.h — shared between the files of proxy/, not public.
 *
 *   config.c   upstreams, routes, the proxy file
 *   observe.c  which API a request calls; what its request and response
 *              say (models, tokens, content), streams line by line
 *   peer.c     who is at the other end of a client connection
 *   record.c   the recorder: events queued, committed in groups
 *              (directly or through `ledger serve`), waited for
 *   proxy.c    the HTTP handler: forwarding, fallback, events
 */
#ifndef LDG_PROXY_INT_H
#define LDG_PROXY_INT_H

/* The recorder takes events no one waits for (async mode's) on its tick,
 * PROXY_REC_TICK_MS after its last take, or at once when
 * PROXY_REC_GROUP_MAX are queued. The tick is part of async mode's
 * promise: a crash may lose the events of the last tick (docs/PROXY.md);
 * 200 ms is PostgreSQL's wal_writer_delay, its asynchronous commit's.
 * A group's commit holds the answers written meanwhile for as long as it
 * writes: 512 keeps that to a few milliseconds under load (at 64 clients
 * p99 9-12 ms against 19-24 with 8,192 a group), while a lone client's
 * requests still make one commit every ~90 ms. */
#define PROXY_REC_TICK_MS 200
#define PROXY_REC_GROUP_MAX 512

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "proxy/proxy.h"
#include "util/util.h"

/* ------------------------------------------------------------ config -- */

struct proxy_upstream {
    char name[LDG_PROXY_NAME_MAX + 1];
    char *url; /* without a trailing '/' */
};

struct proxy_cand {
    size_t up;   /* index into upstreams */
    char *model; /* the model to ask it for; NULL: the one asked for */
};

struct proxy_route {
    char *model; /* the name clients ask for */
    struct proxy_cand *cand;
    size_t n;
};

struct ldg_proxy_config {
    struct proxy_upstream up[LDG_PROXY_UPSTREAMS_MAX];
    size_t nup;
    struct proxy_route *routes;
    size_t nroutes;
    char *listen;
    int async;   /* -1: not said */
    int content; /* -1: not said */
};

/* The route for model, or NULL. */
const struct proxy_route *proxy_route_find(const struct ldg_proxy_config *c,
                                           const char *model);
/* The upstream named name (n bytes), or -1. */
int proxy_upstream_find(const struct ldg_proxy_config *c, const char *name,
                        size_t n);

/* ----------------------------------------------------------- observe -- */

enum proxy_api {
    API_OTHER = 0,
    API_OPENAI_CHAT,
    API_OPENAI_COMPLETIONS,
    API_OPENAI_EMBEDDINGS,
    API_OLLAMA_CHAT,
    API_OLLAMA_GENERATE,
    API_OLLAMA_EMBED
};
/* The model API a method and path call (API_OTHER: not a model call). */
enum proxy_api proxy_api_of(const char *method, const char *path);
/* "openai.chat", ...; NULL for API_OTHER. */
const char *proxy_api_name(enum proxy_api a);
/* 1 for the Ollama APIs (errors are {"error": "..."}), 0 for OpenAI's
 * ({"error": {"message": ...}}). */
int proxy_api_ollama(enum proxy_api a);

/* What a request body says. */
struct proxy_reqinfo {
    int json_ok;     /* the body is a JSON object */
    char model[256]; /* "" when it names none */
    int stream;      /* what it asks for (Ollama's default: 1) */
    json_t *prompt;  /* with content: messages / prompt / input (a ref) */
};
void proxy_req_parse(enum proxy_api a, const void *body, size_t len,
                     int want_content, struct proxy_reqinfo *ri,
                     json_t **parsed);

/* What the response says, fed whole or piece by piece. */
struct proxy_obs {
    enum proxy_api api;
    int want_content;
    char model[256];
    int has_in, has_out;
    int64_t tokens_in, tokens_out;
    int done;               /* a stream's end marker was seen */
    int bad_json;           /* a whole answer or a stream's line is not JSON */
    int error_seen;         /* an {"error": ...} object in the stream */
    char error[256];        /* its message */
    struct ldg_buf content; /* completion text (want_content) */
    int content_cut;        /* more than LDG_PROXY_CONTENT_MAX */
    struct ldg_buf line;    /* a stream line not yet complete */
    int line_skip;          /* the line is too long: skip to its end */
};
void proxy_obs_init(struct proxy_obs *o, enum proxy_api a, int want_content);
void proxy_obs_release(struct proxy_obs *o);
/* A whole JSON response body. */
void proxy_obs_whole(struct proxy_obs *o, const char *p, size_t n);
/* A piece of a stream (SSE "data: {...}" lines or NDJSON lines). */
void proxy_obs_piece(struct proxy_obs *o, const char *p, size_t n);
/* At the end of a stream: a last line without its newline. */
void proxy_obs_flush(struct proxy_obs *o);
/* 1 if a piece holds a stream's end marker: "data: [DONE]" or
 * "done":true (with or without a space). */
int proxy_piece_ends(const char *p, size_t n);

/* W3C Trace Context's traceparent header ("00-TRACEID-PARENTID-FLAGS"):
 * 1 with trace (32 hex digits) and parent (16) when v is valid as the
 * recommendation (level 1) reads it — version 00 exactly 55 characters,
 * a later version at least 55 with '-' after them, version ff invalid;
 * lowercase hex only; neither id all zeros — else 0 (the header is passed
 * on unchanged either way; an invalid one is not recorded). */
int proxy_traceparent(const char *v, char trace[33], char parent[17]);

/* -------------------------------------------------------------- peer -- */

struct proxy_peer {
    const char *transport; /* "unix", "tcp" */
    int has_ids;           /* uid and gid known */
    uint64_t uid, gid;
    int has_pid;
    uint64_t pid;
    char exe[1024]; /* "" unknown */
    char addr[64];  /* the client's address and port over TCP */
    /* the scan for the pid (peer.c) */
    uint64_t inode;
    int scan;
};
/* Who is at the other end of fd (a client connection). Never fails:
 * what cannot be learned is left out. Blocks for the scan of /proc. */
void proxy_peer_get(int fd, struct proxy_peer *p);

/* What is known of each open connection of a server, by its id. */
struct proxy_peers;
int proxy_peers_new(struct proxy_peers **out);
/* Waits for the scans still running, then frees ps. */
void proxy_peers_free(struct proxy_peers *ps);
/* Connection conn closed: forget it. */
void proxy_peers_closed(struct proxy_peers *ps, uint64_t conn);
/* Who is at fd, connection conn, into *p, without blocking on a scan:
 * @return 1 when p is whole now (from what conn's earlier requests
 * learned, or cheaply), 0 when the scan for the pid runs on a thread of
 * its own, which fills p and then calls done(cls) (p and cls must stay
 * valid until then). */
int proxy_peer_lookup(struct proxy_peers *ps, int fd, uint64_t conn,
                      struct proxy_peer *p, void (*done)(void *cls), void *cls);
json_t *proxy_peer_json(const struct proxy_peer *p);
/* For tests: the uid and socket inode owning local -> remote in a
 * /proc/net/tcp text (hex addresses as the kernel writes them). 0 found,
 * -1 not. */
int proxy_tcp_lookup(const char *text, size_t len, const char *local,
                     const char *remote, uint64_t *uid, uint64_t *inode);

/* ------------------------------------------------------------ record -- */

struct proxy_rec;
struct proxy_item; /* one event on its way */

struct proxy_rec_options {
    struct ldg_ledger *ledger;
    struct ldg_client *client;
    const char *serve_dir;
    struct ldg_ledger *registry;
    const char *actor;
};
int proxy_rec_new(struct proxy_rec **out, const struct proxy_rec_options *o,
                  char *err, size_t errcap);
/* Queues an event (type, body taken over, run and id copied, may be
 * NULL; time_ns its source time, when the request arrived, ns since the
 * epoch, 0 none). A route.decision's model_digest and model_verified are
 * added
 * by the recorder, from the registry as it is when the event is taken
 * for its commit (read again when it is a second old). wait 1: returns once it
 * is committed (0) or not (< 0, message in why); wait 0: returns 0 at once (the
 * event is committed later; what happens is counted in the stats). */
int proxy_rec_submit(struct proxy_rec *r, const char *type, json_t *body,
                     const char *run, const char *id, uint64_t time_ns,
                     int wait, char *why, size_t whycap);
/* The outcome of an event queued with proxy_rec_submit_cb: rc 0 (it is
 * committed) or < 0 with why. Called once, on the recorder's thread (or
 * the one that read the commit's answer), without its lock held. */
typedef void (*proxy_rec_cb)(void *cls, int rc, const char *why);
/* Queues an event as proxy_rec_submit does and returns at once; cb is
 * called once its outcome is known. @return 0 (cb will be called), or
 * < 0 with why when it could not be queued (cb is never called). */
int proxy_rec_submit_cb(struct proxy_rec *r, const char *type, json_t *body,
                        const char *run, const char *id, uint64_t time_ns,
                        proxy_rec_cb cb, void *cls, char *why, size_t whycap);
/* Commits what is queued, stops the threads, frees r (and the client it
 * was given, also when proxy_rec_new fails); the final counts into the
 * pointers that are not NULL. The error of the last failed commit, or
 * 0. */
int proxy_rec_free(struct proxy_rec *r, uint64_t *recorded, uint64_t *failed,
                   uint64_t *commits);
void proxy_rec_stats(struct proxy_rec *r, uint64_t *recorded, uint64_t *failed,
                     uint64_t *commits);
void proxy_rec_last_error(struct proxy_rec *r, char *buf, size_t cap);
void proxy_rec_epoch_error(struct proxy_rec *r, char *buf, size_t cap);

#endif
