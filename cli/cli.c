/*
 * cli.c — what every command uses: errors and exit codes, the ledger's
 * directory and opening it, -o, numbers, JSON output, times, progress.
 * The bottom of the program (tools/check_cli_calls.sh): it calls no
 * command file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "doctor/doctor.h"
#include "metrics/metrics.h"
#include "query/query.h"
#include "serve/serve.h"

void
cli_err(const struct cli *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ledger%s%s: ", c && c->cmd ? " " : "",
            c && c->cmd ? c->cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *
cli_why(struct ldg_ledger *l, int rc)
{
    const char *m = l != NULL ? ldg_errmsg(l) : NULL;
    return m != NULL && m[0] ? m : ldg_strerror(rc);
}

int
cli_fail(struct cli *c, struct ldg_ledger *l, int rc)
{
    cli_err(c, "%s", cli_why(l, rc));
    return cli_exit_code(rc);
}

void
cli_print_text(const struct cli *c, const char *key, const char *text)
{
    size_t n = strlen(text);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s}", key, text));
    else
        printf("%s%s", text, n > 0 && text[n - 1] == '\n' ? "" : "\n");
}

int
cli_open_read(struct cli *c, struct ldg_ledger **l, struct ldg_txn **t)
{
    int rc;
    if ((rc = cli_open(c, 1, l)) != 0)
        return rc;
    if ((rc = ldg_txn_begin(*l, LDG_TXN_READ, t)) < 0) {
        cli_err(c, "%s", cli_why(*l, rc));
        ldg_close(*l);
        *l = NULL;
        return cli_exit_code(rc);
    }
    return 0;
}

int
cli_fail_err(struct cli *c, const char *err, int rc)
{
    cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
    return cli_exit_code(rc);
}

int
cli_fail_close(struct cli *c, struct ldg_ledger *l, int rc)
{
    int ex = cli_fail(c, l, rc);
    ldg_close(l);
    return ex;
}

/* c->dir from --dir, LEDGER_DIR or the default (own: the user's own,
 * never the system ledger); 64, said, when none can be told. */
static int
resolve_dir(struct cli *c, int own)
{
    const char *env = getenv("LEDGER_DIR");
    if ((own ? ldg_default_dir_own(c->dir, sizeof c->dir, c->dir_opt)
             : ldg_default_dir(c->dir, sizeof c->dir, c->dir_opt)) == 0)
        return 0;
    if (c->dir_opt != NULL && c->dir_opt[0] == '\0')
        cli_err(c, "--dir: empty directory name");
    else if (c->dir_opt == NULL && env != NULL && env[0] == '\0')
        cli_err(c, "LEDGER_DIR is set but empty: give a directory name, or "
                   "unset it for the default ledger");
    else if (c->dir_opt != NULL || env != NULL)
        cli_err(c, "the ledger directory name is too long");
    else
        cli_err(c, "cannot tell where the ledger is: give --dir DIR or set "
                   "LEDGER_DIR (HOME is not set)");
    return EX_USAGE;
}

int
cli_resolve_dir(struct cli *c)
{
    return resolve_dir(c, 0);
}

int
cli_resolve_dir_own(struct cli *c)
{
    return resolve_dir(c, 1);
}

int
cli_serve_connect(struct cli *c, struct ldg_client **out, int verbose)
{
    char err[600] = "";
    int rc = ldg_client_connect(out, c->dir, NULL, err, sizeof err);

    if (rc == 0) {
        if (verbose)
            fprintf(stderr, "ledger %s: through ledger serve at %s/%s\n",
                    c->cmd, c->dir, LDG_SERVE_SOCKET);
        return 0;
    }
    if (rc == LDG_ENOTFOUND || rc == LDG_EINVAL) {
        /* no socket, nobody listening on it, or a path no server could
         * have bound: nothing serves this ledger */
        if (verbose)
            fprintf(stderr, "ledger %s: no server (%s): writing %s directly\n",
                    c->cmd, err, c->dir);
        return -1;
    }
    /* EACCES and the like: whether a server is there is not known, so
     * neither is it said; but no direct write behind one's back */
    cli_err(c,
            "%s (where ledger serve listens); nothing written (--direct "
            "writes the ledger directly instead)",
            err);
    return cli_exit_code(rc);
}

int
cli_exit_code(int rc)
{
    return ldg_exit_code(rc); /* the library's policy (util/error.h) */
}

void
cli_full_advice(const struct cli *c)
{
    char buf[8192];
    ldg_doctor_full_advice(c->dir, buf, sizeof buf);
    cli_err(c, "%s", buf);
}

void
cli_ledger_options(struct ldg_options *o, unsigned flags)
{
    const char *mb = getenv("LEDGER_MAP_BYTES");
    const char *mx = getenv("LEDGER_MAP_MAX_BYTES");
    memset(o, 0, sizeof *o);
    o->flags = flags;
    if (mb != NULL)
        o->map_size_bytes = (size_t)strtoull(mb, NULL, 10);
    if (mx != NULL)
        o->map_max_bytes = (size_t)strtoull(mx, NULL, 10);
}

int
cli_open(struct cli *c, int ro, struct ldg_ledger **out)
{
    struct ldg_options o;
    char err[1024];
    int rc;

    if (c->dir[0] == '\0' && (rc = cli_resolve_dir(c)) != 0)
        return rc;
    cli_ledger_options(&o, ro == CLI_OPEN_READ      ? LDG_RDONLY
                           : ro == CLI_OPEN_WRITE   ? LDG_KEEP_TAIL
                           : ro == CLI_OPEN_MIGRATE ? LDG_MIGRATE
                                                    : 0);
    err[0] = '\0';
    rc = ldg_open(out, c->dir, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "cannot open the ledger in %s: %s", c->dir,
                err[0] ? err : ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    /* Appending commands keep the projections current in the same
     * transaction (a rebuild first if their stored version is not ours). */
    if (ro != CLI_OPEN_READ && ro != CLI_OPEN_MIGRATE &&
        (rc = ldg_projections_attach_progress(*out, cli_progress, c)) < 0) {
        if (c->progress)
            fputc('\n', stderr);
        cli_err(c, "%s", cli_why(*out, rc));
        ldg_close(*out);
        *out = NULL;
        return cli_exit_code(rc);
    }
    return 0;
}

void
cli_expire_epochs(struct ldg_ledger *l)
{
    (void)ldg_keys_expire(l, NULL, NULL);
}

int
cli_set_output(struct cli *c, const char *v)
{
    c->out_name = v;
    if (strcmp(v, "json") == 0)
        c->out = OUT_JSON;
    else if (strcmp(v, "json-pretty") == 0)
        c->out = OUT_JSON_PRETTY;
    else
        c->out = OUT_HUMAN;
    return 0;
}

int
cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

void
cli_print_json(const struct cli *c, json_t *v)
{
    size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
    if (c->out == OUT_JSON_PRETTY)
        flags |= JSON_INDENT(2);
    else
        flags |= JSON_COMPACT;
    json_dumpf(v, stdout, flags);
    fputc('\n', stdout);
    json_decref(v);
}

/*
 * One progress line on stderr, only when it is a terminal: "verify:
 * 12000/50000 events (24%), 0:31 left", rewritten in place at most ten
 * times a second and erased (cli_progress_done) when the work ends. The
 * estimate is the rate so far; it appears once a second has passed.
 */
static uint64_t progress_t0_ns, progress_last_ns;

void
cli_progress(void *ctx, uint64_t done, uint64_t total)
{
    const struct cli *c = ctx;
    uint64_t now;
    char eta[48] = "";
    if (!c->progress)
        return;
    now = ldg_now_mono_ns();
    if (progress_t0_ns == 0 || done == 0)
        progress_t0_ns = now;
    if (done != total && now - progress_last_ns < 100000000u)
        return;
    progress_last_ns = now;
    if (total && done > 0 && done < total &&
        now - progress_t0_ns > 1000000000u) {
        double left = (double)(now - progress_t0_ns) / 1e9 *
                      (double)(total - done) / (double)done;
        unsigned long s = (unsigned long)(left + 0.5);
        snprintf(eta, sizeof eta, ", %lu:%02lu left", s / 60, s % 60);
    }
    if (total)
        fprintf(cli_guard_stderr_raw(), "\r%s: %llu/%llu (%.0f%%)%s\033[K",
                c->cmd, (unsigned long long)done, (unsigned long long)total,
                100.0 * (double)done / (double)total, eta);
    else
        fprintf(cli_guard_stderr_raw(), "\r%s: %llu\033[K", c->cmd,
                (unsigned long long)done);
}

void
cli_set_utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

void
cli_when(char *buf, size_t cap, uint64_t ts_ns)
{
    /* "Oct 22 16:06:57" this year; "Oct 22 2025 16:06:57" another */
    ldg_time_when(buf, cap, ts_ns);
}

void
cli_when_rfc3339(char *buf, size_t cap, const char *t)
{
    uint64_t ns;
    if (t == NULL ||
        ldg_time_parse_rfc3339(t, strlen(t), LDG_TIME_LONGFRAC, &ns) < 0) {
        snprintf(buf, cap, "%s", t != NULL ? t : "-");
        return;
    }
    cli_when(buf, cap, ns);
}

void
cli_progress_done(const struct cli *c)
{
    if (c->progress && progress_last_ns != 0)
        fputs("\r\033[K", cli_guard_stderr_raw());
    progress_t0_ns = progress_last_ns = 0;
}

int
cli_check_output(struct cli *c, const char *const *human)
{
    if (c->out_name == NULL || c->out != OUT_HUMAN)
        return 0;
    for (size_t i = 0; human && human[i]; i++)
        if (strcmp(c->out_name, human[i]) == 0)
            return 0;
    if (strcmp(c->out_name, "human") == 0)
        return 0;
    cli_err(c, "unknown output format '%s' (use human, json or json-pretty)",
            c->out_name);
    return EX_USAGE;
}

/* The sequence number of a new event, labelled: "seq 33" or "seq 33:
 * what"; the bare number with -q; {"seq":"33"} with -o json. */
void
cli_print_seq(struct cli *c, uint64_t seq, const char *what)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)seq);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s}", "seq", b));
    else if (c->quiet)
        printf("%s\n", b);
    else
        printf("seq %s%s%s\n", b, what ? ": " : "", what ? what : "");
}

FILE *
cli_fopen_input(const char *path)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (f != NULL && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    return f;
}

int
cli_read_all(FILE *f, size_t max, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return LDG_ENOMEM;
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap > max) {
                free(buf);
                return LDG_ETOOBIG;
            }
            cap *= 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return LDG_ENOMEM;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return LDG_EIO;
    }
    if (n > max) {
        free(buf);
        return LDG_ETOOBIG;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* ------------------------------------------------------ the pruned past -- */

int
cli_pruned(struct cli *c, struct ldg_ledger *l, const char *what)
{
    struct ldg_horizon h;
    char d[400];
    if (ldg_horizon(l, &h) < 0)
        return 0;
    ldg_horizon_describe(&h, d, sizeof d);
    cli_err(c,
            "%s%s%s; the ledger keeps events from %llu on (`ledger query "
            "--bundle FILE` reads the archive)",
            what ? what : "", what ? ": " : "", d, (unsigned long long)h.seq);
    ldg_horizon_release(&h);
    return 1;
}

int
cli_pruned_seq(struct cli *c, struct ldg_ledger *l, uint64_t seq,
               const char *what)
{
    static char type[] = "type=ledger.pruned";
    char *terms[1] = {type}, err[256];
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_query_stats st;
    struct ldg_event ev;
    int rc, said = 0;

    /* the ledger.pruned event (still kept) of the prune that took seq */
    rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err);
    if (rc == 0)
        rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc == 0)
        rc = ldg_query_iter_new(&it, q, t, 0);
    while (rc == 0 && !said && (rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *b = NULL;
        json_int_t f, h;
        if (ldg_body_get(t, ev.seq, &b) < 0)
            continue;
        f = json_integer_value(json_object_get(b, "first"));
        h = json_integer_value(json_object_get(b, "horizon"));
        if (json_is_integer(json_object_get(b, "first")) && f >= 0 && h > f &&
            seq >= (uint64_t)f && seq < (uint64_t)h &&
            json_is_string(json_object_get(b, "archive_sha256"))) {
            ldg_query_iter_stats(it, &st); /* (its horizon) */
            cli_err(c,
                    "%s: events %lld..%lld were pruned into the archive %s "
                    "with SHA-256 %s (ledger.pruned, seq %llu); the ledger "
                    "keeps events from %llu on (`ledger query --bundle "
                    "FILE` reads the archive)",
                    what, (long long)f, (long long)(h - 1),
                    json_is_string(json_object_get(b, "archive"))
                        ? json_string_value(json_object_get(b, "archive"))
                        : "?",
                    json_string_value(json_object_get(b, "archive_sha256")),
                    (unsigned long long)ev.seq, (unsigned long long)st.horizon);
            said = 1;
        }
        json_decref(b);
    }
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return said ? 1 : cli_pruned(c, l, what);
}

/* A standing verification finding (ledger verify found an event altered,
 * and no full verification has passed since): said once on stderr, since
 * what follows may show the altered data. */
void
cli_finding_say(struct cli *c, const struct ldg_query_finding *f,
                const char *unmarked)
{
    char when[32];
    cli_when(when, sizeof when, f->found_ts_ns);
    if (unmarked != NULL)
        cli_err(c,
                "WARNING: ledger verify found event %llu altered or not "
                "verifiable (%s): %s; it is NOT marked in this output (%s), "
                "and what is shown may be altered data until a full "
                "verification passes (ledger verify --full)",
                (unsigned long long)f->seq, when, f->what, unmarked);
    else
        cli_err(c,
                "WARNING: ledger verify found event %llu altered or not "
                "verifiable (%s): %s; it is marked where it is shown, and "
                "what is shown may be altered data until a full verification "
                "passes (ledger verify --full)",
                (unsigned long long)f->seq, when, f->what);
}

int
cli_finding(struct cli *c, struct ldg_ledger *l, struct ldg_query_finding *f,
            const char *unmarked)
{
    if (!ldg_query_finding(l, f))
        return 0;
    cli_finding_say(c, f, unmarked);
    return 1;
}
