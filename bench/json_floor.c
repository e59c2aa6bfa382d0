/*
 * json_floor.c — what the JSON of an evidence bundle costs on its own
 * (issue 32's floor): the CPU seconds jansson (the project's JSON library)
 * takes to parse a bundle's manifest.json (one document) and events.jsonl
 * (a document a line), and to write them again (json_dumps, the
 * exporter's settings), with nothing else done. A prune must check the
 * manifest and the event views of its archive, and an archive must write
 * them, so these are a lower bound on each, below any other work.
 *
 *   make build/bench/json_floor
 *   build/bench/json_floor DIR     (DIR: an unpacked bundle)
 *
 * Prints "json_floor: FILE docs N bytes B parse S dump S" a file.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
cpu_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) != NULL &&
        fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b != NULL ? (size_t)n : 0;
    return b;
}

/* Parses FILE (whole: one document; else a document a line), then dumps
 * every document; prints the CPU seconds of each. */
static int
one(const char *dir, const char *name, int whole)
{
    char path[4096];
    size_t len, n = 0, cap = 0;
    json_t **docs = NULL;
    double t0, parse, dump;
    char *b;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    b = slurp(path, &len);
    if (b == NULL) {
        fprintf(stderr, "json_floor: %s: cannot read\n", path);
        return 1;
    }
    t0 = cpu_now();
    for (char *p = b, *end = b + len; p < end;) {
        char *q = whole ? end : memchr(p, '\n', (size_t)(end - p));
        json_error_t e;
        json_t *j;

        if (q == NULL)
            q = end;
        j = json_loadb(p, (size_t)(q - p), 0, &e);
        if (j == NULL) {
            fprintf(stderr, "json_floor: %s: line %d: %s\n", path, e.line,
                    e.text);
            return 1;
        }
        if (n == cap) {
            json_t **d = realloc(docs, (cap = cap ? 2 * cap : 1024) *
                                           sizeof *docs);
            if (d == NULL)
                return 1;
            docs = d;
        }
        docs[n++] = j;
        p = q + 1;
    }
    parse = cpu_now() - t0;
    t0 = cpu_now();
    for (size_t i = 0; i < n; i++) {
        char *s = json_dumps(docs[i], JSON_COMPACT | JSON_SORT_KEYS);
        free(s);
    }
    dump = cpu_now() - t0;
    printf("json_floor: %s docs %zu bytes %zu parse %.3f dump %.3f\n", name,
           n, len, parse, dump);
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    free(b);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: json_floor DIR (an unpacked bundle)\n");
        return 64;
    }
    return one(argv[1], "manifest.json", 1) |
           one(argv[1], "events.jsonl", 0);
}
