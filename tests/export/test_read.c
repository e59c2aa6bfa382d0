/*
 * test_read.c — a bundle's contents for readers (export/read.c):
 * ldg_export_read hands out events, state and timeline only after every
 * check passed, and nothing of a bundle that fails; the events match the
 * query module's matcher (ldg_query_match_json) as on the ledger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "query/query.h"
#include "tests/export/helpers.h"

struct fx {
    char *dir;
    struct ldg_ledger *l;
    char path[600];
    char vkey[512];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_export_opts o;
    static char run_r1[] = "run=R1";
    char *const terms[] = {run_r1};

    f->dir = tmp_dir();
    f->l = new_ledger(f->dir, "l");
    seed_history(f->l);
    assert_int_equal(ldg_verifier_key(f->l, f->vkey, sizeof f->vkey), 0);
    snprintf(f->path, sizeof f->path, "%s/r1.bundle", f->dir);
    memset(&o, 0, sizeof o);
    o.nterms = 1;
    o.terms = terms;
    o.run = "R1";
    assert_int_equal(ldg_export_write(f->l, &o, f->path, NULL), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int
read_with(const char *path, const char *vkey, struct ldg_bundle_contents **out,
          struct ldg_bundle_report *r)
{
    struct ldg_bundle_verify_opts o;
    memset(&o, 0, sizeof o);
    o.trusted_vkey = vkey;
    o.threads = 2;
    return ldg_export_read(out, path, &o, r);
}

static void
test_read__verified_bundle_hands_out_its_contents(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_contents *c = NULL;
    struct ldg_bundle_report r;
    const json_t *e;
    size_t i;

    assert_int_equal(read_with(f->path, f->vkey, &c, &r), 0);
    assert_non_null(c);
    /* the selected events of run R1, in order */
    assert_int_equal(json_array_size(c->events), 4);
    json_array_foreach(c->events, i, e)
        assert_string_equal(json_string_value(json_object_get(e, "run")), "R1");
    assert_non_null(c->state);
    assert_non_null(c->timeline);
    assert_string_equal(json_string_value(json_object_get(c->timeline, "run")),
                        "R1");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(c->timeline, "timeline"), "status")),
        "ok");
    assert_true(json_is_array(json_object_get(c->timeline, "doctor")));
    assert_int_equal(c->checkpoint_size, r.checkpoint_size);
    assert_true(r.ok);
    ldg_export_contents_free(c);
}

static void
test_read__nothing_from_a_bundle_that_fails(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_contents *c = (void *)1;
    struct ldg_bundle_report r;
    struct ldg_ledger *other;
    char dir2[700], vkey2[512], bad[700];
    struct bundle b;
    uint8_t *buf, *out;
    size_t len, olen;
    FILE *fp;

    /* another log's key: log-key fails, nothing handed out */
    snprintf(dir2, sizeof dir2, "%s/other", f->dir);
    other = new_ledger(dir2, "other");
    assert_int_equal(ldg_verifier_key(other, vkey2, sizeof vkey2), 0);
    ldg_close(other);
    assert_int_equal(read_with(f->path, vkey2, &c, &r), LDG_ETAMPER);
    assert_null(c);
    assert_int_equal(status_of(&r, "log-key"), LDG_CHECK_FAIL);
    /* no trust anchor */
    c = (void *)1;
    assert_int_equal(read_with(f->path, NULL, &c, &r), LDG_EKEY);
    assert_null(c);
    /* missing file */
    c = (void *)1;
    snprintf(bad, sizeof bad, "%s/missing.bundle", f->dir);
    assert_int_equal(read_with(bad, f->vkey, &c, &r), LDG_ENOTFOUND);
    assert_null(c);
    /* a changed events.jsonl, repacked */
    fp = fopen(f->path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    len = (size_t)ftell(fp);
    rewind(fp);
    buf = malloc(len);
    assert_int_equal(fread(buf, 1, len, fp), len);
    fclose(fp);
    read_bundle(&b, buf, len);
    member_set(&b, B_EVENTS, "{}\n", 3);
    write_bundle(&b, &out, &olen);
    snprintf(bad, sizeof bad, "%s/bad.bundle", f->dir);
    fp = fopen(bad, "wb");
    assert_int_equal(fwrite(out, 1, olen, fp), olen);
    fclose(fp);
    c = (void *)1;
    assert_int_equal(read_with(bad, f->vkey, &c, &r), LDG_ETAMPER);
    assert_null(c);
    bundle_release(&b);
    free(buf);
    free(out);
}

static void
test_read__query_terms_match_bundle_events(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_contents *c = NULL;
    struct ldg_bundle_report r;
    static const struct {
        const char *terms[3];
        int n;
        size_t want;
    } cases[] = {
        {{"type=run.*"}, 1, 3},
        {{"actor=alice"}, 1, 2},
        {{"body.tool=tesseract"}, 1, 1},
        {{"type=run.started", "+", "seq=0..3"}, 3, 2},
        {{"body.status!=ok"}, 1, 0},
        {{"run=R2"}, 1, 0},
    };
    assert_int_equal(read_with(f->path, f->vkey, &c, &r), 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct ldg_query *q = NULL;
        char err[256];
        size_t hits = 0, i;
        const json_t *e;
        assert_int_equal(
            ldg_query_compile(&q, cases[k].n,
                              (char *const *)(uintptr_t)cases[k].terms, NULL,
                              NULL, err, sizeof err),
            0);
        json_array_foreach(c->events, i, e)
        {
            int m = ldg_query_match_json(q, e);
            assert_true(m == 0 || m == 1);
            hits += (size_t)m;
        }
        if (hits != cases[k].want)
            fprintf(stderr, "case %zu: %zu hits, want %zu\n", k, hits,
                    cases[k].want);
        assert_int_equal(hits, cases[k].want);
        ldg_query_free(q);
    }
    ldg_export_contents_free(c);
}

/* Copies the file at from into the FIFO at to, in a child (killed by
 * SIGPIPE if the reader stops early); returns its pid. */
static pid_t
feed(const char *from, const char *to)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char b[65536];
        ssize_t n;
        int in = open(from, O_RDONLY), out = open(to, O_WRONLY);
        signal(SIGPIPE, SIG_DFL);
        while (in >= 0 && out >= 0 && (n = read(in, b, sizeof b)) > 0)
            if (write(out, b, (size_t)n) != n)
                break;
        _exit(0);
    }
    return pid;
}

/* A bundle read through a pipe (no size known ahead) holds the same as
 * the file; the reading stops at the limit: one byte under the bundle's
 * size it is refused as too large (from a pipe and from the file), at
 * the size the whole of it is read. */
static void
test_read__a_pipe_reads_to_the_limit_and_no_further(void **state)
{
    struct fx *f = *state;
    struct ldg_bundle_contents *c = NULL, *cf = NULL;
    struct ldg_bundle_report r;
    struct ldg_bundle_verify_opts o;
    char fifo[700];
    struct stat st;
    pid_t pid;
    char *a, *b;

    assert_int_equal(stat(f->path, &st), 0);
    snprintf(fifo, sizeof fifo, "%s/p", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* the default limit: the same contents as the file's */
    pid = feed(f->path, fifo);
    assert_int_equal(read_with(fifo, f->vkey, &c, &r), 0);
    waitpid(pid, NULL, 0);
    assert_int_equal(read_with(f->path, f->vkey, &cf, &r), 0);
    a = json_dumps(c->events, JSON_COMPACT);
    b = json_dumps(cf->events, JSON_COMPACT);
    assert_string_equal(a, b);
    free(a);
    free(b);
    ldg_export_contents_free(c);
    ldg_export_contents_free(cf);
    /* a limit one byte under the size */
    memset(&o, 0, sizeof o);
    o.trusted_vkey = f->vkey;
    o.limits.total_bytes = (uint64_t)st.st_size - 1;
    pid = feed(f->path, fifo);
    c = NULL;
    assert_int_equal(ldg_export_read(&c, fifo, &o, &r), LDG_ETOOBIG);
    waitpid(pid, NULL, 0);
    assert_null(c);
    assert_non_null(strstr(r.checks[0].detail, "larger than the limit"));
    assert_int_equal(ldg_export_read(&c, f->path, &o, &r), LDG_ETOOBIG);
    assert_non_null(strstr(r.checks[0].detail, "larger than the limit"));
    /* at the size, the read is whole (what comes after is verification's,
     * whose own limits count the members' unpacked bytes) */
    o.limits.total_bytes = (uint64_t)st.st_size;
    pid = feed(f->path, fifo);
    (void)ldg_export_read(&c, fifo, &o, &r);
    waitpid(pid, NULL, 0);
    assert_true(r.nchecks > 0);
    assert_null(strstr(r.checks[0].detail, "cannot read"));
    ldg_export_contents_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_read__verified_bundle_hands_out_its_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_read__nothing_from_a_bundle_that_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_read__query_terms_match_bundle_events, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_read__a_pipe_reads_to_the_limit_and_no_further, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
