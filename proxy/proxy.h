/*
 * proxy.h — `ledger proxy`: the recorder in the request path of a box's
 * models (docs/PROXY.md).
 *
 * A reverse proxy that applications call instead of their model
 * runtime's port (Ollama, llama.cpp's server, vLLM, LM Studio, anything
 * OpenAI-compatible). Every request is passed to an upstream unchanged
 * (hop-by-hop headers, Host, Accept-Encoding and the proxy's own X-Ledger-*
 * headers excepted) and its answer passed back, streams piece by piece as
 * they arrive; each request becomes one event:
 *
 *   route.decision   a model call: OpenAI POST /v1/chat/completions,
 *                    /v1/completions, /v1/embeddings; Ollama POST
 *                    /api/chat, /api/generate, /api/embed
 *   proxy.request    anything else (GET /v1/models, /api/tags, ...)
 *
 * with the fields of /work/notes' contract (docs/PROXY.md lists them):
 * upstream, api, models asked for and answering, that model's digest in
 * the registry and whether it was verified, status, outcome (ok, error,
 * refused, client-gone), latency, time to first token, tokens, sizes,
 * and who asked (the kernel's word: SO_PEERCRED on a Unix socket, the
 * owner of the client's socket from /proc/net/tcp* over loopback TCP).
 * Prompts and completions are recorded only with record_content, as the
 * body fields "prompt" and "completion" (export --redact withholds them,
 * erase removes them). Authorization and API keys are never recorded.
 *
 * Durability (record): LDG_PROXY_RECORD_SYNC, the default, answers a
 * non-streamed request only once its event is durably committed (the
 * events of concurrent requests share commits), and holds back a
 * stream's final piece (the one with OpenAI's "data: [DONE]" or Ollama's
 * "done":true, or the end of the body) until its event is committed; a
 * request whose event cannot be committed is answered 503 (a stream is
 * cut short). LDG_PROXY_RECORD_ASYNC answers first and commits after.
 *
 * Threads: one serves every client connection (http/server.h's
 * event-driven model), one runs every upstream request (the HTTP
 * client's loop), one records (two when writing through `ledger serve`),
 * and a short-lived one per new loopback TCP connection looks for the
 * client's process in /proc. None blocks another: a request waiting for
 * its upstream or its commit holds no thread. The ledger handle given is
 * used by the recorder thread alone while the proxy runs.
 */
#ifndef LDG_PROXY_H
#define LDG_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "serve/serve.h"

/* On stop, how long the requests in flight get to end (new ones are
 * answered 503 meanwhile); what is left is cut, recorded as "error". */
#define LDG_PROXY_DRAIN_MS 10000

#define LDG_PROXY_LISTEN_DEFAULT "127.0.0.1:11435"
/* The proxy file in the ledger directory (docs/PROXY.md). */
#define LDG_PROXY_FILE "proxy.json"
#define LDG_PROXY_BODY_MAX_DEFAULT (32u * 1024 * 1024)     /* request */
#define LDG_PROXY_RESPONSE_MAX_DEFAULT (64u * 1024 * 1024) /* buffered */
#define LDG_PROXY_CONNECT_MS_DEFAULT 3000
#define LDG_PROXY_FIRST_BYTE_MS_DEFAULT 300000 /* a cold model load */
#define LDG_PROXY_IDLE_MS_DEFAULT 300000       /* between stream pieces */
#define LDG_PROXY_UPSTREAMS_MAX 32
#define LDG_PROXY_NAME_MAX 64 /* bytes in an upstream's name */
/* bytes of prompt and of completion kept with record_content */
#define LDG_PROXY_CONTENT_MAX (256u * 1024)

/* ------------------------------------------------------------ config -- */

/* Upstreams and routes: from --upstream NAME=URL and/or a proxy file. */
struct ldg_proxy_config;

int ldg_proxy_config_new(struct ldg_proxy_config **out);
void ldg_proxy_config_free(struct ldg_proxy_config *c);
/* Adds an upstream from "NAME=URL" (NAME: 1..64 of [A-Za-z0-9._-]; URL
 * http:// or https://, a path prefix allowed, no query). The first one
 * added is the default. LDG_EBADINPUT with err naming what is wrong (no
 * '=', a bad name, a name given twice, a bad URL, too many). */
int ldg_proxy_config_add_upstream(struct ldg_proxy_config *c, const char *spec,
                                  char *err, size_t errcap);
/*
 * Reads a proxy file (JSON, docs/PROXY.md):
 *   {"listen": "127.0.0.1:11435",
 *    "upstreams": {"ollama": "http://127.0.0.1:11434", ...},
 *    "routes": {"llama3": [{"upstream": "ollama", "model": "llama3:8b"},
 *                          {"upstream": "vllm"}], ...},
 *    "record": "sync"|"async", "record_content": false}
 * Every key is optional but one upstream is needed (here or added).
 * LDG_ENOTFOUND: no such file; LDG_EIO: it cannot be read, or is not a
 * regular file (a directory); LDG_EBADINPUT: malformed (err names the
 * line and column, or the key and what is wrong with it: an unknown key,
 * a route naming an upstream that is not there, ...). Upstreams it names
 * are added after those already added.
 */
int ldg_proxy_config_load(struct ldg_proxy_config *c, const char *path,
                          char *err, size_t errcap);
/* What the file said (NULL / -1 when it did not say): listen address,
 * record mode (0 sync, 1 async), record_content (0/1). Borrowed. */
const char *ldg_proxy_config_listen(const struct ldg_proxy_config *c);
int ldg_proxy_config_async(const struct ldg_proxy_config *c);
int ldg_proxy_config_content(const struct ldg_proxy_config *c);
size_t ldg_proxy_config_upstreams(const struct ldg_proxy_config *c);
/* The i-th upstream's name and URL (borrowed), or -1 past the last. */
int ldg_proxy_config_upstream(const struct ldg_proxy_config *c, size_t i,
                              const char **name, const char **url);
/* Routes in the config (0 when there is no routing). */
size_t ldg_proxy_config_routes(const struct ldg_proxy_config *c);

/* ------------------------------------------------------------- proxy -- */

enum ldg_proxy_record { LDG_PROXY_RECORD_SYNC = 0, LDG_PROXY_RECORD_ASYNC };

struct ldg_proxy_options {
    const char *listen; /* NULL: LDG_PROXY_LISTEN_DEFAULT; any address
                           ldg_httpd_start takes ("unix:/path" too) */
    const struct ldg_proxy_config *config; /* borrowed; required */
    /* Where events go: exactly one of ledger (written directly, used by
     * the recorder thread alone until ldg_proxy_stop) and client (a
     * connection to `ledger serve`; taken over: the proxy closes it). */
    struct ldg_ledger *ledger;
    struct ldg_client *client;
    /* With client: the ledger directory, to connect again when the
     * server went away (NULL: no reconnecting). Copied. */
    const char *serve_dir;
    /* Where model digests come from (the models view, re-read every
     * second by the recorder thread when events arrive): the ledger
     * itself (may be the same handle as ledger) or a read-only handle;
     * NULL: events carry no digest. */
    struct ldg_ledger *registry;
    enum ldg_proxy_record record;
    int record_content;   /* 1: "prompt" and "completion" fields */
    const char *actor;    /* key name the events are signed with; NULL:
                             the log key (direct) / the server's choice */
    size_t body_max;      /* 0: LDG_PROXY_BODY_MAX_DEFAULT */
    size_t response_max;  /* 0: LDG_PROXY_RESPONSE_MAX_DEFAULT */
    unsigned max_conns;   /* 0: 1024 */
    unsigned idle_conn_s; /* idle client connection; 0: 300 */
    long connect_ms, first_byte_ms, idle_ms; /* 0: the defaults above */
};

struct ldg_proxy;

/* Starts the proxy (its own threads) and returns at once. LDG_EINVAL
 * (no config, no upstream, not exactly one of ledger and client),
 * LDG_EKEY (actor's key file is missing or unusable, or the log does not
 * hold it as an active key),
 * LDG_EBADINPUT / LDG_EIO from the HTTP server (address, in use), with
 * err filled. On failure the client, if given, is closed. */
int ldg_proxy_start(struct ldg_proxy **out, const struct ldg_proxy_options *o,
                    char *err, size_t errcap);
/* The TCP port listened on (0 for a Unix socket). */
unsigned ldg_proxy_port(const struct ldg_proxy *p);

struct ldg_proxy_stats {
    uint64_t requests;      /* requests answered or ended */
    uint64_t recorded;      /* events durably committed */
    uint64_t record_failed; /* events that could not be committed */
    /* events by outcome (docs/PROXY.md): "error" (the upstream answered
     * >= 400, failed, timed out, sent a bad answer), "refused" (the proxy
     * refused the request, or no upstream accepted the connection),
     * "client-gone" (the client left before the end of the answer) */
    uint64_t errors, refused, client_gone;
    uint64_t commits; /* commits (direct) or answers waited for */
};
void ldg_proxy_stats(const struct ldg_proxy *p, struct ldg_proxy_stats *st);
/* Why recording last failed ("" if it never did). Copied into buf. */
void ldg_proxy_last_error(const struct ldg_proxy *p, char *buf, size_t cap);
/* Writing directly, the proxy ends an expired epoch each second it idles
 * (docs/EPOCHS.md): why the last try failed (a state file gone), "" when
 * it succeeded or none was made. Copied into buf; any thread. */
void ldg_proxy_epoch_error(const struct ldg_proxy *p, char *buf, size_t cap);

/* Stops listening, ends every connection (streams cut short are
 * recorded as client-gone), commits every event queued, and frees p;
 * *st (may be NULL) gets the final counts. NULL p is a no-op. @return 0,
 * or the error of the last failed commit. */
int ldg_proxy_stop(struct ldg_proxy *p, struct ldg_proxy_stats *st);

#endif
