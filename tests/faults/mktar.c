/*
 * mktar.c — writes a ustar archive to stdout from a list of members on
 * stdin, so tests can build hostile bundles of any size without files of
 * that size on disk (tests/e2e/robust_bombs.sh pipes it into zstd).
 *
 * Each input line: NAME SIZE KIND [ARG]
 *   KIND zero    SIZE zero bytes
 *        rand    SIZE pseudo-random printable bytes (seed ARG), no newline
 *        file    the content of the file ARG (SIZE ignored: the file's)
 * Ends the archive with two zero blocks. Exit 0, or 1 with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned char blk[512];

static void
octal(char *dst, size_t w, unsigned long long v)
{
    snprintf(dst, w, "%0*llo", (int)(w - 1), v);
}

static int
header(const char *name, unsigned long long size)
{
    unsigned sum = 0;
    memset(blk, 0, sizeof blk);
    if (strlen(name) > 99)
        return -1;
    memcpy(blk, name, strlen(name));
    octal((char *)blk + 100, 8, 0644);
    octal((char *)blk + 108, 8, 0);
    octal((char *)blk + 116, 8, 0);
    octal((char *)blk + 124, 12, size);
    octal((char *)blk + 136, 12, 1700000000);
    blk[156] = '0';
    memcpy(blk + 257, "ustar", 6);
    memcpy(blk + 263, "00", 2);
    memset(blk + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += blk[i];
    snprintf((char *)blk + 148, 8, "%06o", sum);
    blk[155] = ' ';
    return fwrite(blk, 1, 512, stdout) == 512 ? 0 : -1;
}

static int
pad(unsigned long long size)
{
    size_t n = (size_t)((512 - size % 512) % 512);
    memset(blk, 0, sizeof blk);
    return n == 0 || fwrite(blk, 1, n, stdout) == n ? 0 : -1;
}

int
main(void)
{
    char line[4400], name[200], kind[16], arg[4096];
    static unsigned char buf[1 << 16];

    while (fgets(line, sizeof line, stdin) != NULL) {
        unsigned long long size, left;
        uint64_t x;
        int n;
        arg[0] = '\0';
        n = sscanf(line, "%199s %llu %15s %4095s", name, &size, kind, arg);
        if (n < 3) {
            fprintf(stderr, "mktar: bad line: %s", line);
            return 1;
        }
        if (strcmp(kind, "file") == 0) {
            FILE *f = fopen(arg, "rb");
            struct stat st;
            size_t got;
            if (f == NULL || fstat(fileno(f), &st) != 0) {
                perror(arg);
                return 1;
            }
            size = (unsigned long long)st.st_size;
            if (header(name, size) < 0)
                return 1;
            while ((got = fread(buf, 1, sizeof buf, f)) > 0)
                if (fwrite(buf, 1, got, stdout) != got)
                    return 1;
            fclose(f);
        } else {
            x = strtoull(arg, NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
            if (header(name, size) < 0)
                return 1;
            for (left = size; left > 0;) {
                size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
                if (strcmp(kind, "rand") == 0)
                    for (size_t i = 0; i < k; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        buf[i] = (unsigned char)('!' + (x >> 32) % 90);
                    }
                else
                    memset(buf, 0, k);
                if (fwrite(buf, 1, k, stdout) != k)
                    return 1;
                left -= k;
            }
        }
        if (pad(size) < 0)
            return 1;
    }
    memset(blk, 0, sizeof blk);
    for (int i = 0; i < 2; i++)
        if (fwrite(blk, 1, 512, stdout) != 512)
            return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}
