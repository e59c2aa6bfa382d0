/*
 * evals_int.h — shared between the files of evals/ (not public).
 */
#ifndef LDG_EVALS_INT_H
#define LDG_EVALS_INT_H

#include "evals/evals.h"

struct eval_re; /* a compiled PCRE2 pattern (evals/assert.c) */

struct eval_assert {
    enum ldg_eval_assert_type type;
    char *text; /* string value (equals … regex) */
    size_t text_len;
    struct eval_re *re; /* regex */
    char *path;         /* json-path-equals */
    json_t *want;       /* json-path-equals value */
};

struct eval_case {
    char *id;
    json_t *messages; /* array of {role, content} */
    struct eval_assert *a;
    size_t na;
    unsigned line;
};

struct ldg_eval_suite {
    char *name, *version;
    char digest[7 + 64 + 1];
    json_t *threshold; /* {metric, op, value} */
    struct eval_re **forbid;
    char **forbid_src;
    size_t nforbid;
    struct eval_case *cases;
    size_t ncases;
};

/* The options ldg_eval_run refuses (concurrency, the endpoint's and API
 * key's lengths), checked before anything is recorded: 0, or LDG_EINVAL
 * with err "eval: why". */
int eval_run_check(const struct ldg_eval_run_opts *o, char *err, size_t errlen);

/* Compiles pattern (UTF-8). NULL with err "offset N: message" on error. */
struct eval_re *eval_re_compile(const char *pattern, char *err, size_t errlen);
void eval_re_free(struct eval_re *re);

#endif
