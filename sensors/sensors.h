/*
 * sensors.h — the box's own sensors: model weights integrity (Ollama blob
 * resolution, streaming SHA-256) and the runtime probe.
 *
 * Depends on ledger/ (hashing, events) and http/ (asking runtimes).
 */
#ifndef LDG_SENSORS_H
#define LDG_SENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* -------------------------------------------------------- Ollama store -- */

/* Ollama's models directory: $OLLAMA_MODELS, else $HOME/.ollama/models.
 * 0 or LDG_EINVAL (neither set, or too long for cap). */
int ldg_ollama_models_dir(char *buf, size_t cap);

/* Where a model's weights are in Ollama's store. A name "qwen2.5:7b" is
 * the manifest manifests/registry.ollama.ai/library/qwen2.5/7b ("user/m"
 * → registry.ollama.ai/user/m/latest, "host/ns/m:t" → host/ns/m/t); the
 * manifest's layer of mediaType application/vnd.ollama.image.model names
 * the weights blob, blobs/sha256-<hex>. */
struct ldg_ollama_model {
    char manifest_path[4096];
    char manifest_digest[72]; /* "sha256:" + hex of the manifest file: the
                                 digest /api/tags reports */
    char blob_path[4096];
    char layer_digest[72]; /* "sha256:<hex>" the manifest names the blob */
    uint64_t layer_size;   /* bytes the manifest says */
};
/* Resolves name under models_dir. LDG_ENOTFOUND (no manifest or no model
 * layer), LDG_EBADINPUT (bad name, malformed manifest), LDG_EIO; err says
 * which file. */
int ldg_ollama_resolve(const char *models_dir, const char *name,
                       struct ldg_ollama_model *out, char *err, size_t errlen);

/* Hashes a file: "sha256:<hex>" into out (72 bytes), *bytes the size.
 * progress as ldg_sha256_fd. LDG_ENOTFOUND, LDG_EIO. */
int ldg_file_sha256(const char *path, char out[72], uint64_t *bytes,
                    void (*progress)(void *ctx, uint64_t done, uint64_t total),
                    void *progress_ctx, char *err, size_t errlen);

/* 1 if two digests name the same bytes: equal after dropping a leading
 * "sha256:" from either and ignoring hex case; else 0. */
int ldg_digest_same(const char *a, const char *b);

/* ------------------------------------------------------- model verify -- */

struct ldg_ledger;

/* What `ledger model verify` is asked (strings borrowed for the call). */
struct ldg_model_verify_opts {
    const char *arg;        /* a regular file (weights, e.g. a GGUF), or a model
                               name (an absolute path that is no file: not found) */
    const char *name;       /* the model: a file's default is its base name, a
                               name's is arg */
    const char *expect;     /* the digest to compare with instead of the
                               registered one, or NULL */
    const char *ollama_dir; /* NULL: ldg_ollama_models_dir */
    void (*progress)(void *ctx, uint64_t done, uint64_t total); /* or NULL */
    void *progress_ctx;
};

/*
 * Hashes a model's weights, compares them and appends model.verified
 * {model, ok, bytes, path, expected, digest, weights_digest, and for an
 * Ollama model manifest, manifest_digest, layer_digest, detail}:
 *   a file     is compared with expect, else the digest registered for
 *              name; neither: refused (LDG_EINVAL, nothing written: a
 *              model.verified of nothing would register the model);
 *   a name     registered with a path (llama.cpp's /props) hashes that
 *              file against the registered digest (unless expect);
 *              otherwise Ollama's store: the manifest must hash to expect
 *              or the registered digest, and its weights blob to the
 *              digest the manifest names ("detail" says which failed).
 * 0 when they match, 1 when not (both appended; *out the body, a new
 * reference, *seq its sequence number). LDG_EINVAL for a bad expect or
 * argument or no Ollama directory, LDG_ENOTFOUND when the weights are not
 * found, LDG_EIO and the append's codes; nothing written then, and
 * ldg_errmsg(l) says why. Reads the whole file: seconds per GB.
 */
int ldg_model_verify(struct ldg_ledger *l,
                     const struct ldg_model_verify_opts *o, json_t **out,
                     uint64_t *seq);

/* --------------------------------------------------------------- probe -- */

enum ldg_runtime_kind {
    LDG_RT_AUTO,     /* find out: /api/version, then /props, then /models */
    LDG_RT_OLLAMA,   /* /api/version, /api/tags, /api/show, /api/ps */
    LDG_RT_LLAMACPP, /* /props, /v1/models */
    LDG_RT_OPENAI    /* URL/models (vLLM, LM Studio, any OpenAI-compatible) */
};

struct ldg_probe_runtime {
    const char *name; /* recorded as `runtime` */
    const char *url;  /* Ollama/llama.cpp: the server's root; OpenAI: the
                         base URL clients take (…/v1) */
    enum ldg_runtime_kind kind;
};

#define LDG_PROBE_RUNTIMES_MAX 32

/* "NAME=URL" or "NAME=KIND:URL" (KIND ollama, llamacpp or openai; an
 * http(s) URL) into rt, in place: s is cut at its '=' and rt points into
 * it. The name must not be among rts[0..n) (two entries under one name
 * would each report on the runtime: two health events and states in one
 * commit that may contradict each other).
 * @return 0; LDG_EBADINPUT (not that form, or not UTF-8 text); LDG_EEXIST
 * (named twice). */
int ldg_probe_runtime_parse(char *s, const struct ldg_probe_runtime *rts,
                            size_t n, struct ldg_probe_runtime *rt);
/* The runtimes the ledger in dir lists in DIR/runtimes (one NAME=URL a
 * line as ldg_probe_runtime_parse takes it; # comments, blank lines) into
 * rts (room for LDG_PROBE_RUNTIMES_MAX), *n their count; *text (the
 * caller frees it) holds the words they point into. No file: none.
 * @return 0; LDG_EBADINPUT with err naming the file, line and fault;
 * LDG_ENOMEM. */
int ldg_probe_runtimes_load(const char *dir, struct ldg_probe_runtime *rts,
                            size_t *n, char **text, char *err, size_t errcap);

struct ldg_probe_opts {
    const struct ldg_probe_runtime *runtimes;
    size_t nruntimes;
    long timeout_ms;        /* per request; 0 = 5000 */
    int host;               /* 1: host.profile and capacity.snapshot too */
    const char *disk_path;  /* statvfs target for disk_free_mb (ledger dir) */
    const char *proc_root;  /* "/proc" unless testing */
    const char *nvidia_smi; /* program to run; NULL = "nvidia-smi" on PATH;
                               "" = none */
};

/* Asks every runtime (and the host) what it has and returns the events it
 * would record, in order, as a JSON array of {"type", "body"} (new ref):
 * runtime.registered, runtime.health, model.registered, model.state per
 * runtime; then host.profile and capacity.snapshot. A runtime that does
 * not answer gives runtime.health down (with the cause) and model.state
 * offline for the models the log has registered on it (ldg_probe_diff
 * supplies those). A value the runtime gives that cannot be recorded as
 * it is (a negative or non-integer model size) is left out of the event,
 * and a {"type": "_warning", "body": {runtime, model, field, value,
 * left_out}} entry says so (ldg_probe_diff keeps it; it is never
 * appended). Never fails for a runtime's sake; LDG_ENOMEM only. */
int ldg_probe_collect(const struct ldg_probe_opts *o, json_t **out);

/* Keeps of events only those that change what the log says now: for each
 * event, the latest event of the same type and subject is compared on
 * the fields that identify a state (runtime.health: status; model.state:
 * state; capacity.snapshot: loaded models and free sizes changed by more
 * than 10% and 256 MB; host.profile: all but disk_free_mb; the others:
 * every field). Also adds model.state offline/removed for models the log
 * registered on a probed runtime that is down / no longer lists them.
 * *out (new ref) is the array to append; events is not changed. */
int ldg_probe_diff(struct ldg_ledger *l, json_t *events,
                   const struct ldg_probe_opts *o, json_t **out);

#endif
