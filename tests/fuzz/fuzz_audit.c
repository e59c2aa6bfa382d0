/*
 * fuzz_audit.c — libFuzzer target for audit-central's row decoder
 * (fleet/central.c): the JSONEachRow answer ClickHouse gives, one object
 * a line, each row's seq, entry (hex), leaf hash, columns, body and body
 * salts, checked against a verified mirror.
 *
 * Once per process it makes a real ledger of 50 events (bodies with
 * strings, numbers, nested objects, arrays and unicode), publishes it as
 * tiles, mirrors it, and renders the rows `ledger ship` would send
 * (ldg_ship_rows); those rows must audit clean (else abort). Each input is
 *
 *   byte 0 even: the rest is the whole answer
 *   byte 0 odd:  a patch of the good rows: bytes 1-2 an offset (big-
 *                endian, modulo their length), byte 3 how many bytes to
 *                delete there, the rest inserted there
 *
 * and goes through ldg_audit_rows against the mirror. Checked: no crash,
 * no undefined behaviour, no leak; a clean audit (0) has no finding and
 * checked every row of the log; LDG_ETAMPER comes with findings.
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEVENTS 50

static struct {
    int ready;
    char base[256], mirror[300];
    char *rows;
    size_t len;
} g;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The process's files go when it exits (a crash leaves them). */
static void
cleanup(void)
{
    nftw(g.base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_tiles_report tr;
    struct ldg_mirror_report mr;
    struct ldg_audit_report ar;
    struct ldg_fetcher f;
    struct ldg_writer *w;
    struct ldg_txn *t;
    char err[512], d[300], p[300], vkey[600];

    snprintf(g.base, sizeof g.base, "/tmp/fuzz_audit.XXXXXX");
    if (mkdtemp(g.base) == NULL)
        abort();
    atexit(cleanup);
    snprintf(d, sizeof d, "%s/log", g.base);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 64u << 20;
    if (ldg_init(d, "fuzz.example/audit", &o, err, sizeof err) < 0 ||
        ldg_open(&l, d, &o, err, sizeof err) < 0 ||
        ldg_verifier_key(l, vkey, sizeof vkey) < 0 ||
        ldg_writer_new(&w, l, NULL) < 0)
        abort();
    for (int i = 1; i < NEVENTS; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack(
            "{s:i, s:s, s:{s:f, s:[i, s, b]}, s:n}", "i", i, "text",
            i % 3 ? "plain" : "quote \" back\\slash \xc3\xa9\t\n", "nested",
            "x", i / 7.0, "list", i, "s", i % 2 == 0, "none");
        memset(&in, 0, sizeof in);
        in.type = i % 5 ? "x.fuzz.row" : "x.fuzz.other";
        in.run = i % 4 ? "R-1" : NULL;
        in.body = b;
        if (ldg_writer_add(w, &in) < 0) {
            fprintf(stderr, "append: %s\n", ldg_errmsg(l));
            abort();
        }
        json_decref(b);
    }
    if (ldg_writer_flush(w) < 0)
        abort();
    ldg_writer_free(w);
    snprintf(p, sizeof p, "%s/pub", g.base);
    if (ldg_tiles_write(l, p, &tr) < 0 || tr.size != NEVENTS)
        abort();
    ldg_fetcher_dir(&f, p);
    snprintf(g.mirror, sizeof g.mirror, "%s/mirror", g.base);
    if (ldg_mirror_sync(g.mirror, vkey, NULL, 0, &f, &mr, err, sizeof err) < 0)
        abort();
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) < 0 ||
        ldg_ship_rows(t, ldg_origin(l), 0, NEVENTS, &g.rows, &g.len, err,
                      sizeof err) < 0)
        abort();
    ldg_txn_abort(t);
    ldg_close(l);
    if (ldg_audit_rows(g.mirror, g.rows, g.len, NULL, NULL, &ar, err,
                       sizeof err) != 0 ||
        ar.rows != NEVENTS || ar.findings != 0)
        abort(); /* the good rows must audit clean */
    g.ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldg_audit_report r;
    char err[1024] = "";
    const char *ans = (const char *)data + 1;
    char *patched = NULL;
    size_t n = size ? size - 1 : 0;
    int rc;

    if (!g.ready)
        setup();
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        size_t off, del, ins;
        if (size < 4)
            return 0;
        off = ((size_t)data[1] << 8 | data[2]) % (g.len + 1);
        del = data[3];
        if (del > g.len - off)
            del = g.len - off;
        ins = size - 4;
        patched = malloc(g.len - del + ins + 1);
        if (patched == NULL)
            abort();
        memcpy(patched, g.rows, off);
        memcpy(patched + off, data + 4, ins);
        memcpy(patched + off + ins, g.rows + off + del, g.len - off - del);
        n = g.len - del + ins;
        ans = patched;
    }
    rc = ldg_audit_rows(g.mirror, ans, n, NULL, NULL, &r, err, sizeof err);
    if (rc == 0 && (r.findings != 0 || r.rows != NEVENTS || r.missing != 0))
        abort(); /* clean, yet a finding or an unchecked row */
    if (rc == LDG_ETAMPER && r.findings == 0)
        abort(); /* tampered, yet nothing named */
    if (rc != 0 && rc != LDG_ETAMPER)
        abort(); /* the mirror is fine: only findings may fail it */
    free(patched);
    return 0;
}
