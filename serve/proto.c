/*
 * proto.c — the response lines of the serve protocol (docs/PROTOCOL.md)
 * and the peer's credentials. Request lines are ingest lines and are
 * decoded by ldg_ingest_parse_line_ex (ingest/ingest.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "serve/serve_int.h"
#include "ledger/module.h"
#include "util/util.h"

/* Copies msg with every byte that is not part of valid UTF-8 replaced by
 * '?', so the JSON written is always valid. */
static void
utf8_clean(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)src[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        int ok = k > 0 && i + k <= n && !(k == 2 && c < 0xc2);
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)src[i + j] & 0xc0) == 0x80;
        if (ok && k == 3) {
            unsigned char c1 = (unsigned char)src[i + 1];
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
        }
        if (ok && k == 4) {
            unsigned char c1 = (unsigned char)src[i + 1];
            ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) &&
                 !(c == 0xf4 && c1 >= 0x90);
        }
        if (!ok) {
            dst[i++] = '?';
            continue;
        }
        memcpy(dst + i, src + i, k);
        i += k;
    }
}

static char *
line_new(const char *id, size_t id_len, size_t extra, char **o)
{
    char *buf = malloc(6 * id_len + extra + 64);
    if (buf == NULL)
        return NULL;
    *o = buf;
    *(*o)++ = '{';
    if (id != NULL) {
        memcpy(*o, "\"id\":", 5);
        *o = ldg_json_str_write(*o + 5, id, id_len);
        *(*o)++ = ',';
    }
    return buf;
}

char *
serve_ack_line(const char *id, size_t id_len, uint64_t seq, int dup,
               unsigned differs, size_t *len)
{
    char *o, *buf = line_new(id, id_len, 160, &o), nm[96];
    if (buf == NULL)
        return NULL;
    o += sprintf(o, "\"seq\":\"%llu\"%s", (unsigned long long)seq,
                 dup ? ",\"duplicate\":true" : "");
    if (dup && differs != 0) {
        /* the library's names, "type, body", as ["type","body"] */
        ldg_dup_diff_names(differs, nm, sizeof nm);
        o += sprintf(o, ",\"differs\":[\"");
        for (const char *p = nm; *p; p++) {
            if (p[0] == ',' && p[1] == ' ') {
                o += sprintf(o, "\",\"");
                p++;
            } else {
                *o++ = *p;
            }
        }
        o += sprintf(o, "\"]");
    }
    o += sprintf(o, "}\n");
    LDG_ASSERT((size_t)(o - buf) < 6 * id_len + 160 + 64);
    *len = (size_t)(o - buf);
    return buf;
}

char *
serve_sealed_ack_line(uint64_t seq, uint64_t count, int dup, uint64_t sealed,
                      size_t *len)
{
    char *buf = malloc(128);
    int n;
    if (buf == NULL)
        return NULL;
    if (dup)
        n = snprintf(buf, 128,
                     "{\"seq\":\"%llu\",\"count\":%llu,"
                     "\"duplicate\":true}\n",
                     (unsigned long long)seq, (unsigned long long)count);
    else
        n = snprintf(buf, 128,
                     "{\"seq\":\"%llu\",\"count\":%llu,"
                     "\"sealed\":%llu}\n",
                     (unsigned long long)seq, (unsigned long long)count,
                     (unsigned long long)sealed);
    LDG_ASSERT(n > 0 && n < 128);
    *len = (size_t)n;
    return buf;
}

char *
serve_error_line(const char *id, size_t id_len, const char *msg, int code,
                 size_t *len)
{
    size_t n = strlen(msg);
    char *o, *clean, *buf = line_new(id, id_len, 6 * n + 40, &o);
    if (buf == NULL)
        return NULL;
    clean = malloc(n + 1);
    if (clean == NULL) {
        free(buf);
        return NULL;
    }
    utf8_clean(clean, msg, n);
    memcpy(o, "\"error\":", 8);
    o = ldg_json_str_write(o + 8, clean, n);
    free(clean);
    o += sprintf(o, ",\"code\":%d}\n", code);
    LDG_ASSERT((size_t)(o - buf) < 6 * id_len + 6 * n + 40 + 64);
    *len = (size_t)(o - buf);
    return buf;
}

void
serve_cgroup_unit(const char *text, size_t len, char *unit, size_t cap)
{
    const char *p = text, *end = text + len;
    unit[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p >= 3 && memcmp(p, "0::", 3) == 0) {
            const char *c = p + 3;
            while (c < le) {
                const char *sl = memchr(c, '/', (size_t)(le - c));
                const char *ce = sl ? sl : le;
                size_t n = (size_t)(ce - c);
                if ((n > 8 && memcmp(ce - 8, ".service", 8) == 0) ||
                    (n > 6 && memcmp(ce - 6, ".scope", 6) == 0)) {
                    if (n < cap) {
                        memcpy(unit, c, n);
                        unit[n] = '\0';
                    }
                }
                c = ce + 1;
            }
        }
        p = le + 1;
    }
}

static void
peer_proc(struct serve_peer *p)
{
    char path[64], buf[4096];
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%d/exe", (int)p->pid);
    n = readlink(path, p->exe, sizeof p->exe - 1);
    p->exe[n > 0 ? n : 0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)p->pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf);
        if (n > 0)
            serve_cgroup_unit(buf, (size_t)n, p->unit, sizeof p->unit);
        close(fd);
    }
}

void
serve_peer_get(int fd, struct serve_peer *p)
{
    struct ucred uc;
    socklen_t sl = sizeof uc;
    memset(p, 0, sizeof *p);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0 &&
        sl == sizeof uc) {
        p->ok = 1;
        p->pid = uc.pid;
        p->uid = uc.uid;
        p->gid = uc.gid;
        if (uc.pid > 0)
            peer_proc(p);
    }
}
