/*
 * verify.c — `ledger model verify`'s decision: which weights are hashed
 * (a file, the file llama.cpp said it loaded, or the blob of Ollama's
 * manifest), what they are compared with (the digest to expect, else the
 * one registered), and the model.verified that records it. A
 * model.verified with nothing compared would put a never-registered model
 * into the models view for good, so that is refused.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/ledger.h"
#include "query/query.h"
#include "sensors/sensors.h"
#include "util/util.h"

/* The body of the latest model.registered for model (new ref) or NULL. */
static json_t *
registered(struct ldg_ledger *l, const char *model)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    json_t *body = NULL;
    char err[256], ty[] = "type=model.registered", subj[LDG_SUBJECT_MAX + 16];
    char *terms[] = {ty, subj};
    if ((size_t)snprintf(subj, sizeof subj, "subject=model:%s", model) >=
        sizeof subj)
        return NULL; /* longer than a subject: never registered */
    if (ldg_query_compile(&q, 2, terms, NULL, NULL, err, sizeof err) < 0)
        return NULL;
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) == 0 &&
        ldg_query_iter_new(&it, q, t, LDG_QUERY_REVERSE) == 0 &&
        ldg_query_iter_next(it, &ev) == 0)
        ldg_body_get(t, ev.seq, &body);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return body;
}

/* Hashes path into digest and *bytes, compares it with want and fills
 * body: 1 match, 0 not, < 0 the hash's error. */
static int
hash_file(struct ldg_ledger *l, const struct ldg_model_verify_opts *o,
          const char *path, const char *want, json_t *body, char digest[72],
          uint64_t *bytes)
{
    char err[1024];
    int rc = ldg_file_sha256(path, digest, bytes, o->progress, o->progress_ctx,
                             err, sizeof err);
    if (rc < 0) {
        ldg_set_errmsg(l, "%s", err);
        return rc;
    }
    rc = ldg_digest_same(want, digest);
    json_object_set_new(body, "path", json_string(path));
    json_object_set_new(body, "expected", json_string(want));
    json_object_set_new(body, "digest", json_string(digest));
    json_object_set_new(body, "weights_digest", json_string(digest));
    return rc;
}

/* An Ollama model: its manifest and weights blob against each other and
 * the manifest against want. 1, 0 or < 0. */
static int
hash_ollama(struct ldg_ledger *l, const struct ldg_model_verify_opts *o,
            const char *want, json_t *body, char digest[72], uint64_t *bytes)
{
    struct ldg_ollama_model om;
    char err[1024], dirbuf[4096];
    const char *odir = o->ollama_dir;
    int rc;

    if (odir == NULL) {
        if (ldg_ollama_models_dir(dirbuf, sizeof dirbuf) < 0) {
            ldg_set_errmsg(l,
                           "cannot tell where Ollama's models are: "
                           "give " LDG_OPT_OLLAMA_DIR " or set OLLAMA_MODELS");
            return LDG_EINVAL;
        }
        odir = dirbuf;
    }
    if ((rc = ldg_ollama_resolve(odir, o->arg, &om, err, sizeof err)) < 0 ||
        (rc = ldg_file_sha256(om.blob_path, digest, bytes, o->progress,
                              o->progress_ctx, err, sizeof err)) < 0) {
        ldg_set_errmsg(l, "%s", err);
        return rc;
    }
    int blob_ok = ldg_digest_same(digest, om.layer_digest);
    int man_ok = ldg_digest_same(want, om.manifest_digest);
    json_object_set_new(body, "path", json_string(om.blob_path));
    json_object_set_new(body, "manifest", json_string(om.manifest_path));
    json_object_set_new(body, "manifest_digest",
                        json_string(om.manifest_digest));
    json_object_set_new(body, "layer_digest", json_string(om.layer_digest));
    json_object_set_new(body, "weights_digest", json_string(digest));
    json_object_set_new(body, "expected", json_string(want));
    /* The identity the runtime reports is the manifest's digest: record
     * it (as registered) when the chain holds. */
    json_object_set_new(
        body, "digest",
        json_string(blob_ok && man_ok ? want : om.manifest_digest));
    if (!blob_ok)
        json_object_set_new(body, "detail",
                            json_string("the weights blob does not hash to the "
                                        "digest its manifest names"));
    else if (!man_ok)
        json_object_set_new(body, "detail",
                            json_string("the manifest does not hash to the "
                                        "registered digest (re-pointed or "
                                        "re-pulled since it was registered)"));
    return blob_ok && man_ok;
}

int
ldg_model_verify(struct ldg_ledger *l, const struct ldg_model_verify_opts *o,
                 json_t **out, uint64_t *seq)
{
    const char *name, *want, *arg;
    struct stat st;
    json_t *reg = NULL, *body = NULL;
    char digest[72];
    uint64_t bytes = 0;
    int rc;

    if (l == NULL || o == NULL || o->arg == NULL || out == NULL || seq == NULL)
        return LDG_EINVAL;
    *out = NULL;
    arg = o->arg;
    if (o->expect && !ldg_digest_same(o->expect, o->expect)) {
        ldg_set_errmsg(l,
                       "'%s' is not a sha256 digest (64 hex digits, "
                       "optionally sha256:)",
                       o->expect);
        return LDG_EINVAL;
    }
    if (o->name != NULL && o->name[0] == '\0') {
        ldg_set_errmsg(l, "an empty model name: give " LDG_OPT_MODEL
                          " NAME, or leave it out");
        return LDG_EINVAL;
    }
    int there = stat(arg, &st) == 0;
    int is_file = there && S_ISREG(st.st_mode);
    if (!is_file && (arg[0] == '/' || strncmp(arg, "./", 2) == 0 ||
                     strncmp(arg, "../", 3) == 0)) { /* a path, no name */
        ldg_set_errmsg(l, "%s: %s", arg,
                       there ? "not a regular file" : "no such file");
        return LDG_ENOTFOUND;
    }
    if ((body = json_object()) == NULL)
        return LDG_ENOMEM;
    const char *b = strrchr(arg, '/');
    name = o->name ? o->name : is_file && b ? b + 1 : arg;
    reg = registered(l, name);
    want = o->expect ? o->expect
                     : json_string_value(json_object_get(reg, "digest"));
    /* a registration whose runtime reported no digest ("unreported", as
     * llama.cpp's) has nothing to compare with either */
    if (want == NULL || !ldg_digest_same(want, want)) {
        ldg_set_errmsg(l,
                       "%s: nothing to compare with: model '%s' is %s; "
                       "give " LDG_OPT_EXPECT " DIGEST%s (nothing was written)",
                       arg, name,
                       reg == NULL ? "not registered"
                                   : "registered without a sha256 digest",
                       is_file && reg == NULL ? ", or " LDG_OPT_MODEL
                                                " NAME of a registered model"
                                              : "");
        rc = LDG_EINVAL;
        goto out;
    }
    const char *path = json_string_value(json_object_get(reg, "path"));
    if (is_file)
        rc = hash_file(l, o, arg, want, body, digest, &bytes);
    else if (path) /* llama.cpp: the file it said it loaded */
        rc = hash_file(l, o, path, want, body, digest, &bytes);
    else
        rc = hash_ollama(l, o, want, body, digest, &bytes);
    if (rc < 0)
        goto out;
    LDG_ASSERT(rc == 0 || rc == 1); /* the hash's verdict: match or not */
    /* the registered digest as written when it names the same bytes, so
     * that the models view sees the very digest verified */
    const char *rd = json_string_value(json_object_get(reg, "digest"));
    if (rc == 1 && rd != NULL &&
        ldg_digest_same(rd, json_string_value(json_object_get(body, "digest"))))
        json_object_set_new(body, "digest", json_string(rd));
    json_object_set_new(body, "model", json_string(name));
    json_object_set_new(body, "ok", json_boolean(rc));
    json_object_set_new(body, "bytes", json_integer((json_int_t)bytes));
    struct ldg_event_in in = {.type = LDG_EV_MODEL_VERIFIED, .body = body};
    int arc = ldg_append(l, &in, seq);
    if (arc < 0) {
        char m[512];
        snprintf(m, sizeof m, "%s", ldg_errmsg(l));
        ldg_set_errmsg(l, "cannot append model.verified: %s",
                       m[0] ? m : ldg_strerror(arc));
        rc = arc;
        goto out;
    }
    *out = body;
    body = NULL;
    rc = rc ? 0 : 1;
out:
    json_decref(reg);
    json_decref(body);
    return rc;
}
