/*
 * util.c — files and notes for fleet/: atomic durable writes, bounded
 * reads, the text of a signed note.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "ledger/module.h"
#include "util/util.h"

int
ldg_fleet_name_ok(const char *name)
{
    static const uint8_t zero[32];
    char buf[LDG_ORIGIN_MAX + 80];

    return name != NULL && strlen(name) <= LDG_ORIGIN_MAX &&
           ldg_cosig_verifier(buf, sizeof buf, name, zero) > 0;
}

/* dir/rel through a temporary name and a rename; durable: fdatasync
 * before the rename and fsync of the directory after it. */
static int
write_via_tmp(const char *dir, const char *rel, const void *data, size_t len,
              unsigned mode, int durable, char *err, size_t errcap)
{
    char path[4400], tmp[4500], parent[4400], *slash;
    int fd, rc = 0;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* a name nobody could plant a file or symlink under (a target
     * directory others write to): its mode is ours, its content too */
    fd = ldg_tmp_beside(path, mode, tmp, sizeof tmp);
    if (fd < 0)
        return ldg_errf(err, errcap, LDG_EIO, "%s: %s", tmp, strerror(errno));
    if (ldg_write_all(fd, data, len, 0) < 0) {
        ldg_errf(err, errcap, 0, "%s: %s", tmp, strerror(errno));
        rc = errno == ENOSPC ? LDG_EFULL : LDG_EIO;
    }
    if (rc == 0 && durable && fdatasync(fd) < 0) {
        ldg_errf(err, errcap, 0, "%s: fsync: %s", tmp, strerror(errno));
        rc = LDG_EIO;
    }
    if (close(fd) < 0 && rc == 0)
        rc = ldg_errf(err, errcap, LDG_EIO, "%s: %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = ldg_errf(err, errcap, LDG_EIO, "%s: %s", path, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    snprintf(parent, sizeof parent, "%s", path);
    slash = strrchr(parent, '/');
    if (durable && slash != NULL) {
        *slash = '\0';
        fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            if (fsync(fd) < 0)
                rc = LDG_EIO;
            close(fd);
        }
    }
    return rc;
}

int
ldg_fleet_write_file(const char *dir, const char *rel, const void *data,
                     size_t len, unsigned mode, char *err, size_t errcap)
{
    return write_via_tmp(dir, rel, data, len, mode, 1, err, errcap);
}

int
ldg_fleet_read_file(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf;
    size_t off = 0;
    int fd;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return LDG_EIO;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return LDG_ETOOBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return LDG_ENOMEM;
    }
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    buf[off] = '\0';
    *out = buf;
    *len = off;
    return 0;
}

int
ldg_fleet_note_text_len(const char *note, size_t len, size_t *text_len)
{
    size_t tl;

    if (note == NULL || len < 3 || note[len - 1] != '\n')
        return LDG_EBADINPUT;
    tl = ldg_note_text_len(note, len);
    if (tl == 0 || tl + 1 >= len)
        return LDG_EBADINPUT; /* no signature line */
    LDG_ASSERT(note[tl - 1] == '\n' && note[tl] == '\n');
    *text_len = tl;
    return 0;
}

int
ldg_fleet_mkdirs_for(const char *path)
{
    char buf[4400];
    size_t n = strlen(path);

    if (n >= sizeof buf)
        return LDG_EINVAL;
    memcpy(buf, path, n + 1);
    return ldg_mkdir_p(buf, 0, 0, 0755, NULL, NULL) < 0 ? LDG_EIO : 0;
}

int
ldg_fleet_put_file(const char *dir, const char *rel, const void *data,
                   size_t len, char *err, size_t errcap)
{
    char path[4400];

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (ldg_fleet_mkdirs_for(path) < 0)
        return ldg_errf(err, errcap, LDG_EIO,
                        "%s: cannot create its directory: %s", path,
                        strerror(errno));
    return write_via_tmp(dir, rel, data, len, 0644, 0, err, errcap);
}
