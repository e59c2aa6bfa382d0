/*
 * test_intake.c — the intake log's bytes and file (ledger/intake.c,
 * docs/FORMAT.md section 12): the file header and frames against
 * tests/vectors/intake-v1.txt (computed independently of the C code), every
 * single-bit change and truncation of a frame refused, the builder's
 * limits, and the ring: frames written lap after lap, a reader that stops
 * at a torn or stale tail and never takes a frame twice, the writer
 * refused (never overwriting) when the unapplied tail fills the ring —
 * a model test against a list of the frames written.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/intake_int.h"
#include "tests/support/support.h"

#define VECTORS "tests/vectors/intake-v1.txt"
#define CORE2 "tests/vectors/core-v2.txt"
#define STORE5 "tests/vectors/store-v5.txt"

/* The value of key in a vectors file (malloc'd hex). */
static char *
vec_in(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    static char line[65536];
    char *out = NULL;
    assert_non_null(f);
    while (out == NULL && fgets(line, sizeof line, f) != NULL) {
        char *c = strstr(line, ": ");
        if (line[0] == '#' || c == NULL)
            continue;
        *c = '\0';
        if (strcmp(line, key) != 0)
            continue;
        c[2 + strcspn(c + 2, "\n")] = '\0';
        out = strdup(c + 2);
    }
    fclose(f);
    if (out == NULL)
        fail_msg("%s: no '%s'", file, key);
    return out;
}

static size_t
vbytes(const char *file, const char *key, uint8_t **out)
{
    char *hex = vec_in(file, key);
    size_t n = strlen(hex) / 2;
    *out = malloc(n ? n : 1);
    assert_non_null(*out);
    assert_int_equal(ldg_unhex(*out, n, hex), 0);
    free(hex);
    return n;
}

/* The vectors' first frame, built here. */
static void
build_vector_frame(struct ldg_intake_build *b, const uint8_t **p, size_t *n)
{
    uint8_t *entry, *seal, *body, *dict, *note;
    size_t ne = vbytes(CORE2, "entry", &entry);
    size_t ns = vbytes(CORE2, "seal.record", &seal);
    size_t nb = vbytes(STORE5, "body.record.seeded", &body);
    size_t nd = vbytes(STORE5, "dict", &dict);
    size_t nn = vbytes(VECTORS, "frame.note", &note);

    ldg_intake_build_init(b, 1, 42, 1 << 20);
    assert_int_equal(ldg_intake_build_dict(b, 7, dict, nd), 0);
    assert_int_equal(ldg_intake_build_event(b, entry, ne, body, nb), 0);
    assert_int_equal(ldg_intake_build_seal(b, 40, seal, ns), 0);
    assert_int_equal(ldg_intake_build_checkpoint(b, note, nn), 0);
    assert_int_equal(ldg_intake_build_finish(b, p, n), 0);
    free(entry);
    free(seal);
    free(body);
    free(dict);
    free(note);
}

static void
test_intake__header_matches_vector(void **state)
{
    uint8_t hdr[LDG_INTAKE_BLOCK], id[16], got_id[16], *want;
    uint64_t blocks = 0;
    size_t n = vbytes(VECTORS, "header", &want);
    (void)state;
    assert_int_equal(ldg_unhex(id, 16, "000102030405060708090a0b0c0d0e0f"), 0);
    ldg_intake_header_encode(hdr, 16, id);
    assert_memory_equal(hdr, want, n);
    for (size_t i = n; i < sizeof hdr; i++)
        assert_int_equal(hdr[i], 0);
    assert_int_equal(ldg_intake_header_parse(hdr, &blocks, got_id, NULL), 0);
    assert_int_equal(blocks, 16);
    assert_memory_equal(got_id, id, 16);
    /* any changed byte of the first 72 is refused */
    for (size_t i = 0; i < n * 8; i++) {
        hdr[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_true(ldg_intake_header_parse(hdr, &blocks, got_id, NULL) < 0);
        hdr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    free(want);
}

static void
test_intake__frame_matches_vector(void **state)
{
    struct ldg_intake_build b;
    struct ldg_intake_frame f;
    struct ldg_intake_rec r;
    const uint8_t *p;
    uint8_t *want, *entry, *seal;
    size_t n, off = 0;
    size_t nw = vbytes(VECTORS, "frame", &want);
    size_t ne = vbytes(CORE2, "entry", &entry);
    size_t ns = vbytes(CORE2, "seal.record", &seal);
    (void)state;

    build_vector_frame(&b, &p, &n);
    assert_int_equal(n, LDG_INTAKE_BLOCK);
    assert_memory_equal(p, want, nw);
    for (size_t i = nw; i < n; i++)
        assert_int_equal(p[i], 0);
    /* parsed, from the vector's bytes alone */
    assert_int_equal(ldg_intake_frame_parse(want, nw, &f, NULL), 0);
    assert_int_equal(f.gen, 1);
    assert_int_equal(f.blocks, 1);
    assert_int_equal(f.first_seq, 42);
    assert_int_equal(f.count, 1);
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
    assert_int_equal(r.kind, LDG_IREC_DICT);
    assert_int_equal(r.id, 7);
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
    assert_int_equal(r.kind, LDG_IREC_EVENT);
    assert_int_equal(r.len, ne);
    assert_memory_equal(r.p, entry, ne);
    assert_true(r.blen > 0 && r.b[0] == 0x02); /* the seeded body record */
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
    assert_int_equal(r.kind, LDG_IREC_SEAL);
    assert_int_equal(r.seq, 40);
    assert_int_equal(r.len, ns);
    assert_memory_equal(r.p, seal, ns);
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
    assert_int_equal(r.kind, LDG_IREC_CHECKPOINT);
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 0);
    ldg_intake_build_release(&b);
    free(want);

    /* the second: lap 2, an event with an empty body, no checkpoint */
    nw = vbytes(VECTORS, "frame2", &want);
    ldg_intake_build_init(&b, 2, 43, 4096);
    assert_int_equal(ldg_intake_build_event(&b, entry, ne, NULL, 0), 0);
    assert_int_equal(ldg_intake_build_finish(&b, &p, &n), 0);
    assert_memory_equal(p, want, nw);
    assert_int_equal(ldg_intake_frame_parse(p, n, &f, NULL), 0);
    off = 0;
    assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
    assert_int_equal(r.blen, 0);
    ldg_intake_build_release(&b);
    free(want);

    /* the third: a checkpoint, then the appliers' NOTE */
    {
        uint8_t *cp, *pn;
        size_t ncp = vbytes(VECTORS, "frame.note", &cp);
        size_t npn = vbytes(VECTORS, "frame3.note", &pn);
        nw = vbytes(VECTORS, "frame3", &want);
        ldg_intake_build_init(&b, 1, 44, 4096);
        assert_int_equal(ldg_intake_build_event(&b, entry, ne, NULL, 0), 0);
        /* kind order: the note comes after the checkpoint, once */
        assert_int_equal(ldg_intake_build_note(&b, pn, npn), 0);
        assert_int_equal(ldg_intake_build_checkpoint(&b, cp, ncp), LDG_EINVAL);
        ldg_intake_build_reset(&b, 44);
        assert_int_equal(ldg_intake_build_event(&b, entry, ne, NULL, 0), 0);
        assert_int_equal(ldg_intake_build_checkpoint(&b, cp, ncp), 0);
        assert_int_equal(ldg_intake_build_checkpoint(&b, cp, ncp), LDG_EINVAL);
        assert_int_equal(ldg_intake_build_note(&b, pn, npn), 0);
        assert_int_equal(ldg_intake_build_note(&b, pn, npn), LDG_EINVAL);
        assert_int_equal(ldg_intake_build_note(&b, pn, 0), LDG_EINVAL);
        assert_int_equal(ldg_intake_build_finish(&b, &p, &n), 0);
        assert_int_equal(n, LDG_INTAKE_BLOCK);
        assert_memory_equal(p, want, nw);
        assert_int_equal(ldg_intake_frame_parse(want, nw, &f, NULL), 0);
        off = 0;
        assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
        assert_int_equal(r.kind, LDG_IREC_EVENT);
        assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
        assert_int_equal(r.kind, LDG_IREC_CHECKPOINT);
        assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 1);
        assert_int_equal(r.kind, LDG_IREC_NOTE);
        assert_int_equal(r.len, npn);
        assert_memory_equal(r.p, pn, npn);
        assert_int_equal(ldg_intake_rec_next(&f, &off, &r), 0);
        /* two notes (the builder made to write a second): refused */
        ldg_intake_build_reset(&b, 44);
        assert_int_equal(ldg_intake_build_event(&b, entry, ne, NULL, 0), 0);
        assert_int_equal(ldg_intake_build_note(&b, pn, npn), 0);
        b.last = LDG_IREC_CHECKPOINT; /* (as if the first were not there) */
        assert_int_equal(ldg_intake_build_note(&b, pn, npn), 0);
        assert_int_equal(ldg_intake_build_finish(&b, &p, &n), 0);
        {
            const char *why = NULL;
            assert_int_equal(ldg_intake_frame_parse(p, n, &f, &why),
                             LDG_ECORRUPT);
            assert_string_equal(why, "a frame with two notes");
        }
        ldg_intake_build_release(&b);
        free(want);
        free(cp);
        free(pn);
    }
    free(entry);
    free(seal);
}

/* Every single-bit change of a frame's header or payload is refused, and
 * so is every truncation. */
static void
test_intake__changed_frame_is_refused(void **state)
{
    struct ldg_intake_build b;
    struct ldg_intake_frame f;
    const uint8_t *p;
    uint8_t *m;
    size_t n, used;
    (void)state;

    build_vector_frame(&b, &p, &n);
    assert_int_equal(ldg_intake_frame_parse(p, n, &f, NULL), 0);
    used = LDG_INTAKE_FRAME_HDR + f.payload_len;
    m = malloc(n);
    assert_non_null(m);
    memcpy(m, p, n);
    for (size_t i = 0; i < used * 8; i++) {
        const char *why = NULL;
        m[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (ldg_intake_frame_parse(m, n, &f, &why) == 0)
            fail_msg("a frame with bit %zu flipped is taken", i);
        assert_non_null(why);
        m[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    for (size_t len = 0; len < used; len++)
        assert_true(ldg_intake_frame_parse(m, len, &f, NULL) < 0);
    /* zeros (a block never written) are no frame's start */
    memset(m, 0, n);
    assert_int_equal(ldg_intake_frame_parse(m, n, &f, NULL), LDG_ENOTFOUND);
    free(m);
    ldg_intake_build_release(&b);
}

static void
test_intake__builder_keeps_its_rules(void **state)
{
    struct ldg_intake_build b;
    struct ldg_intake_frame f;
    const uint8_t *p;
    uint8_t big[9000], e[3] = {0x93, 0x01, 0x02};
    size_t n;
    (void)state;
    memset(big, 0xab, sizeof big);

    ldg_intake_build_init(&b, 1, 0, 8192);
    /* no event: no frame */
    assert_int_equal(ldg_intake_build_finish(&b, &p, &n), LDG_EINVAL);
    assert_int_equal(ldg_intake_build_event(&b, e, 0, NULL, 0), LDG_EINVAL);
    assert_int_equal(ldg_intake_build_event(&b, e, 3, NULL, 0), 0);
    /* out of kind order */
    assert_int_equal(ldg_intake_build_dict(&b, 1, e, 3), LDG_EINVAL);
    assert_int_equal(ldg_intake_build_checkpoint(&b, e, 3), 0);
    assert_int_equal(ldg_intake_build_seal(&b, 1, e, 3), LDG_EINVAL);
    assert_int_equal(ldg_intake_build_checkpoint(&b, e, 3), LDG_EINVAL);
    ldg_intake_build_release(&b);

    /* the limit in bytes counts the padding; a refused event leaves the
     * frame as it was */
    ldg_intake_build_init(&b, 1, 7, 8192);
    assert_int_equal(ldg_intake_build_event(&b, e, 3, big, 4000), 0);
    assert_int_equal(ldg_intake_build_event(&b, e, 3, big, sizeof big),
                     LDG_ETOOBIG);
    assert_int_equal(ldg_intake_build_event(&b, e, 3, big, 3000), 0);
    assert_int_equal(ldg_intake_build_finish(&b, &p, &n), 0);
    assert_int_equal(n, 8192);
    assert_int_equal(ldg_intake_frame_parse(p, n, &f, NULL), 0);
    assert_int_equal(f.count, 2);
    assert_int_equal(f.blocks, 2);
    ldg_intake_build_release(&b);
}

/* ------------------------------------------------------------ file -- */

struct tdir {
    char dir[256], path[300];
};

static void
tdir_new(struct tdir *d)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/ldg-intake-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/intake", d->dir);
}

/* A frame of `count` events from seq whose payload fills about `blocks`
 * blocks; entries are seq-stamped bytes so a reader can tell them. */
static size_t
make_frame(struct ldg_intake_build *b, uint32_t gen, uint64_t seq,
           uint32_t count, uint32_t blocks, const uint8_t **p)
{
    size_t n, body = (size_t)blocks * LDG_INTAKE_BLOCK;
    static uint8_t pad[16 * LDG_INTAKE_BLOCK];
    body = body > 200 + 64 ? body - 200 - 64 : 0;
    body /= count;
    ldg_intake_build_init(b, gen, seq, sizeof pad + LDG_INTAKE_BLOCK);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[8];
        ldg_be64(e, seq + i);
        assert_int_equal(ldg_intake_build_event(b, e, 8, pad, body), 0);
    }
    assert_int_equal(ldg_intake_build_checkpoint(b, "cp", 2), 0);
    assert_int_equal(ldg_intake_build_finish(b, p, &n), 0);
    return n;
}

static void
test_intake__file_is_made_whole_and_checked(void **state)
{
    struct tdir d;
    struct ldg_intake *in = NULL;
    uint8_t id[16] = {1, 2, 3};
    char err[512];
    struct stat st;
    int fd;
    (void)state;
    tdir_new(&d);

    assert_int_equal(ldg_intake_open(&in, d.path, 1, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_int_equal(ldg_intake_create(d.path, 32, id, err, sizeof err), 0);
    assert_int_equal(stat(d.path, &st), 0);
    assert_int_equal(st.st_size, 32 * LDG_INTAKE_BLOCK);
    /* written blocks, not a hole: a frame's fdatasync has no extent to
     * record */
    assert_true((uint64_t)st.st_blocks * 512 >= 32 * LDG_INTAKE_BLOCK);
    assert_int_equal(ldg_intake_create(d.path, 32, id, err, sizeof err),
                     LDG_EEXIST);
    assert_int_equal(ldg_intake_open(&in, d.path, 0, err, sizeof err), 0);
    assert_int_equal(ldg_intake_blocks(in), 32);
    assert_memory_equal(ldg_intake_id(in), id, 16);
    ldg_intake_close(in);

    /* cut short: refused, naming the cause */
    assert_int_equal(truncate(d.path, 20 * LDG_INTAKE_BLOCK), 0);
    assert_int_equal(ldg_intake_open(&in, d.path, 1, err, sizeof err),
                     LDG_ECORRUPT);
    assert_non_null(strstr(err, "cut short"));
    /* a damaged header */
    fd = open(d.path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 20), 1);
    close(fd);
    assert_int_equal(ldg_intake_open(&in, d.path, 1, err, sizeof err),
                     LDG_ECORRUPT);
    assert_non_null(strstr(err, "checksum"));
    t_rmrf(d.dir);
}

/* Frames are read back in order; a torn frame ends the log and takes
 * nothing written before it. */
static void
test_intake__torn_tail_ends_the_log(void **state)
{
    struct tdir d;
    struct ldg_intake *in = NULL;
    struct ldg_intake_build b;
    struct ldg_intake_frame f;
    struct ldg_intake_pos end = {1, 1, 100}, applied = end, at, rd;
    uint8_t id[16] = {9}, *buf = NULL;
    size_t cap = 0;
    char err[512];
    const uint8_t *p;
    (void)state;
    tdir_new(&d);
    assert_int_equal(ldg_intake_create(d.path, 64, id, err, sizeof err), 0);
    assert_int_equal(ldg_intake_open(&in, d.path, 0, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        size_t n = make_frame(&b, end.gen, end.seq, 2, (uint32_t)(1 + i), &p);
        assert_int_equal(ldg_intake_place(in, &end, &applied,
                                          (uint32_t)(n / LDG_INTAKE_BLOCK),
                                          &at),
                         0);
        assert_int_equal(ldg_intake_write(in, at.block, p, n), 0);
        end.block = at.block + n / LDG_INTAKE_BLOCK;
        end.gen = at.gen;
        end.seq += 2;
        ldg_intake_build_release(&b);
    }
    /* the fourth, torn: only its first block reached the disk */
    {
        size_t n = make_frame(&b, end.gen, end.seq, 1, 3, &p);
        uint8_t *half = calloc(1, n);
        assert_true(n == 3 * LDG_INTAKE_BLOCK);
        memcpy(half, p, LDG_INTAKE_BLOCK);
        assert_int_equal(ldg_intake_write(in, end.block, half, n), 0);
        free(half);
        ldg_intake_build_release(&b);
    }
    rd = applied;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ldg_intake_next(in, &rd, &buf, &cap, &f), 1);
        assert_int_equal(f.first_seq, 100 + 2 * i);
    }
    assert_int_equal(ldg_intake_next(in, &rd, &buf, &cap, &f), 0);
    assert_int_equal(rd.seq, 106);
    assert_int_equal(rd.block, end.block);
    free(buf);
    ldg_intake_close(in);
    t_rmrf(d.dir);
}

/*
 * The model test: frames of random sizes written lap after lap into a
 * ring of 15 blocks, the applied position moved forward at random, and a
 * torn write now and then (a frame half written, then the writer starts
 * over at the same place, as after a crash). After each step a reader
 * from the applied position must take exactly the frames written since,
 * in order, and stop; a write the ring has no room for is refused and
 * overwrites nothing.
 */
struct mframe {
    uint64_t seq;
    uint32_t count;
};

static void
test_intake__ring_model(void **state)
{
    struct tdir d;
    struct ldg_intake *in = NULL;
    struct ldg_intake_pos end = {1, 1, 0}, applied = end;
    struct mframe live[64];
    struct ldg_intake_pos starts[64]; /* the position each live frame is at */
    size_t nlive = 0, cap = 0, wrote = 0, refused = 0, laps = 0;
    size_t torn_whole = 0;
    uint8_t id[16] = {7}, *buf = NULL;
    char err[512];
    unsigned seed = 64;
    (void)state;
    tdir_new(&d);
    assert_int_equal(ldg_intake_create(d.path, 16, id, err, sizeof err), 0);
    assert_int_equal(ldg_intake_open(&in, d.path, 0, err, sizeof err), 0);

    for (int step = 0; step < 3000; step++) {
        unsigned r = (unsigned)rand_r(&seed);
        if (r % 3 == 0 && nlive > 0) {
            /* apply some frames: the applied position moves past them */
            size_t k = 1 + (size_t)rand_r(&seed) % nlive;
            applied = k < nlive ? starts[k] : end;
            memmove(live, live + k, (nlive - k) * sizeof *live);
            memmove(starts, starts + k, (nlive - k) * sizeof *starts);
            nlive -= k;
        } else {
            struct ldg_intake_build b;
            struct ldg_intake_pos at;
            const uint8_t *p;
            uint32_t count = 1 + (uint32_t)rand_r(&seed) % 3;
            uint32_t blocks = 1 + (uint32_t)rand_r(&seed) % 5;
            size_t n = make_frame(&b, end.gen, end.seq, count, blocks, &p);
            uint32_t nb = (uint32_t)(n / LDG_INTAKE_BLOCK);
            int rc = ldg_intake_place(in, &end, &applied, nb, &at);
            if (rc == LDG_EFULL) {
                refused++;
                ldg_intake_build_release(&b);
                goto check;
            }
            assert_int_equal(rc, 0);
            if (at.gen != end.gen) {
                /* the frame's lap is the one it is placed in */
                ldg_intake_build_release(&b);
                make_frame(&b, at.gen, end.seq, count, blocks, &p);
                laps++;
            }
            if (r % 7 == 1 && nb > 1) {
                /* torn: the first block only, and the writer dies; the
                 * next one finds the log's end by reading it from the
                 * applied position, as a writer does after a crash (the
                 * stale blocks after the torn one may hold the very bytes
                 * it was writing: then the frame is whole, and in the
                 * log) */
                struct ldg_intake_pos rd = applied;
                struct ldg_intake_frame f;
                assert_int_equal(
                    ldg_intake_write(in, at.block, p, LDG_INTAKE_BLOCK), 0);
                for (size_t i = 0; i < nlive; i++)
                    assert_int_equal(ldg_intake_next(in, &rd, &buf, &cap, &f),
                                     1);
                if (ldg_intake_next(in, &rd, &buf, &cap, &f) == 1) {
                    assert_true(nlive < 64);
                    live[nlive].seq = end.seq;
                    live[nlive].count = f.count;
                    starts[nlive++] = at;
                    end = rd;
                    torn_whole++;
                }
            } else {
                assert_int_equal(ldg_intake_write(in, at.block, p, n), 0);
                assert_true(nlive < 64);
                live[nlive].seq = end.seq;
                live[nlive].count = count;
                starts[nlive++] = at;
                end.block = at.block + nb;
                end.gen = at.gen;
                end.seq += count;
                wrote++;
            }
            ldg_intake_build_release(&b);
        }
    check:;
        struct ldg_intake_pos rd = applied;
        struct ldg_intake_frame f;
        for (size_t i = 0; i < nlive; i++) {
            if (ldg_intake_next(in, &rd, &buf, &cap, &f) != 1)
                fail_msg("step %d: frame %zu of %zu (seq %llu) not read", step,
                         i, nlive, (unsigned long long)live[i].seq);
            assert_int_equal(f.first_seq, live[i].seq);
            assert_int_equal(f.count, live[i].count);
        }
        if (ldg_intake_next(in, &rd, &buf, &cap, &f) != 0)
            fail_msg("step %d: a frame past the log's end (seq %llu) is read",
                     step, (unsigned long long)f.first_seq);
        assert_int_equal(rd.seq, end.seq);
    }
    /* the model went round the ring, and the ring filled now and then */
    assert_true(laps > 10);
    assert_true(refused > 10);
    assert_true(wrote > 500);
    print_message("%zu frames, %zu laps, %zu refused, %zu torn but whole\n",
                  wrote, laps, refused, torn_whole);
    free(buf);
    ldg_intake_close(in);
    t_rmrf(d.dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intake__header_matches_vector),
        cmocka_unit_test(test_intake__frame_matches_vector),
        cmocka_unit_test(test_intake__changed_frame_is_refused),
        cmocka_unit_test(test_intake__builder_keeps_its_rules),
        cmocka_unit_test(test_intake__file_is_made_whole_and_checked),
        cmocka_unit_test(test_intake__torn_tail_ends_the_log),
        cmocka_unit_test(test_intake__ring_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
