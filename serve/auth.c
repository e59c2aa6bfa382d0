/*
 * auth.c — who may write through `ledger serve`: DIR/access.json.
 *
 * The file (docs/SYSTEMD.md, "Who may write") lists writers; each entry
 * names peers by what the kernel says of them (SO_PEERCRED's uid and gid,
 * SO_PEERGROUPS' supplementary groups, the systemd unit from the peer's
 * cgroup) and may narrow the event types and actor keys they write:
 *
 *   {"version": 1,
 *    "readers": "ledger",
 *    "writers": [
 *      {"user": "vllm", "types": ["runtime.*", "model.*"]},
 *      {"unit": "agent.service", "actors": ["agent"]},
 *      {"group": "ops"}]}
 *
 * A peer may write an event when at least one entry matches the peer (all
 * of the entry's selectors) and that entry allows the event's type and
 * actor. The daemon's own uid may always write (it owns the ledger's files
 * and could write them directly anyway). Without the file the default is
 * the daemon's own uid and root. The file is parsed with jansson; a
 * malformed file is refused naming its line and column, an unknown key or
 * a wrong value naming its place (writers[2].types[0]); a user or group
 * that does not exist is refused by name.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "serve/serve.h"
#include "serve/serve_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define MAX_LIST 64

struct writer {
    int has_uid, has_gid;
    uid_t uid;
    gid_t gid;
    char *unit;   /* NULL: any */
    char **types; /* NULL: any */
    size_t ntypes;
    char **actors; /* NULL: any */
    size_t nactors;
};

struct serve_auth {
    char path[4200];
    int from_file;
    uid_t self;
    struct writer w[SERVE_AUTH_MAX];
    size_t n;
    int has_readers;
    gid_t readers;
    char readers_name[64];
};

static void
free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
serve_auth_free(struct serve_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->w[i].unit);
        free_list(a->w[i].types, a->w[i].ntypes);
        free_list(a->w[i].actors, a->w[i].nactors);
    }
    free(a);
}

/* A list of non-empty strings (types or actor names). */
static int
get_list(json_t *v, const char *where, const char *key, char ***out, size_t *n,
         char *err, size_t cap)
{
    size_t i, k;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > MAX_LIST) {
        snprintf(err, cap, "%s.%s: must be a list of 1 to %d strings", where,
                 key, MAX_LIST);
        return -1;
    }
    *out = calloc(json_array_size(v), sizeof **out);
    if (*out == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    *n = 0;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL || s[0] == '\0' || strlen(s) > 255) {
            snprintf(err, cap, "%s.%s[%zu]: must be a string of 1 to 255 bytes",
                     where, key, i);
            return -1;
        }
        if (strcmp(key, "types") == 0) {
            /* "*", "a.b" or "a.*": a star only as the whole last label */
            const char *star = strchr(s, '*');
            k = strlen(s);
            if (star != NULL && strcmp(s, "*") != 0 &&
                !(star == s + k - 1 && k >= 3 && s[k - 2] == '.')) {
                snprintf(err, cap,
                         "%s.types[%zu]: \"%s\": a type is a name (x.y), a "
                         "prefix ending in \".*\" (x.*), or \"*\"",
                         where, i, s);
                return -1;
            }
        }
        if (((*out)[(*n)++] = strdup(s)) == NULL) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* A uid/gid: a non-negative integer below 2^32 - 1. */
static int
get_id(json_t *v, const char *where, const char *key, unsigned *out, char *err,
       size_t cap)
{
    json_int_t i;
    if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
        i >= 4294967295LL) {
        snprintf(err, cap, "%s.%s: must be a number (0 to 4294967294)", where,
                 key);
        return -1;
    }
    *out = (unsigned)i;
    return 0;
}

static int
get_group(json_t *v, const char *where, const char *key, gid_t *gid, char *name,
          size_t namecap, char *err, size_t cap)
{
    const char *s = json_string_value(v);
    struct group *g;
    if (json_is_integer(v)) {
        unsigned u;
        if (get_id(v, where, key, &u, err, cap) < 0)
            return -1;
        *gid = (gid_t)u;
        if (name != NULL) {
            g = getgrgid(*gid);
            snprintf(name, namecap, "%s", g ? g->gr_name : "");
        }
        return 0;
    }
    if (s == NULL || s[0] == '\0') {
        snprintf(err, cap, "%s.%s: must be a group name or a gid", where, key);
        return -1;
    }
    errno = 0;
    g = getgrnam(s);
    if (g == NULL) {
        snprintf(err, cap, "%s.%s: no group \"%s\" on this system", where, key,
                 s);
        return -1;
    }
    *gid = g->gr_gid;
    if (name != NULL)
        snprintf(name, namecap, "%s", s);
    return 0;
}

static int
parse_writer(struct writer *w, json_t *e, size_t idx, char *err, size_t cap)
{
    static const char *const known[] = {"uid",    "user",    "gid",
                                        "group",  "unit",    "types",
                                        "actors", "comment", NULL};
    char where[32];
    const char *key;
    json_t *v;
    snprintf(where, sizeof where, "writers[%zu]", idx);
    if (!json_is_object(e)) {
        snprintf(err, cap, "%s: must be an object", where);
        return -1;
    }
    json_object_foreach(e, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, cap,
                     "%s: unknown key \"%s\" (known: uid, user, gid, group, "
                     "unit, types, actors, comment)",
                     where, key);
            return -1;
        }
    }
    if (json_object_get(e, "uid") && json_object_get(e, "user")) {
        snprintf(err, cap, "%s: give \"uid\" or \"user\", not both", where);
        return -1;
    }
    if (json_object_get(e, "gid") && json_object_get(e, "group")) {
        snprintf(err, cap, "%s: give \"gid\" or \"group\", not both", where);
        return -1;
    }
    if ((v = json_object_get(e, "uid")) != NULL) {
        unsigned u;
        if (get_id(v, where, "uid", &u, err, cap) < 0)
            return -1;
        w->has_uid = 1;
        w->uid = (uid_t)u;
    }
    if ((v = json_object_get(e, "user")) != NULL) {
        const char *s = json_string_value(v);
        struct passwd *pw;
        if (s == NULL || s[0] == '\0') {
            snprintf(err, cap, "%s.user: must be a user name", where);
            return -1;
        }
        if ((pw = getpwnam(s)) == NULL) {
            snprintf(err, cap, "%s.user: no user \"%s\" on this system", where,
                     s);
            return -1;
        }
        w->has_uid = 1;
        w->uid = pw->pw_uid;
    }
    if ((v = json_object_get(e, "gid")) != NULL ||
        (v = json_object_get(e, "group")) != NULL) {
        const char *k = json_object_get(e, "gid") ? "gid" : "group";
        if (get_group(v, where, k, &w->gid, NULL, 0, err, cap) < 0)
            return -1;
        w->has_gid = 1;
    }
    if ((v = json_object_get(e, "unit")) != NULL) {
        const char *s = json_string_value(v);
        if (s == NULL || s[0] == '\0' || strlen(s) >= SERVE_UNIT_MAX ||
            strchr(s, '/')) {
            snprintf(err, cap,
                     "%s.unit: must be a systemd unit name (vllm.service)",
                     where);
            return -1;
        }
        if ((w->unit = strdup(s)) == NULL) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
    }
    if (!w->has_uid && !w->has_gid && w->unit == NULL) {
        snprintf(err, cap,
                 "%s: names no peer (give uid, user, gid, group or unit)",
                 where);
        return -1;
    }
    if ((v = json_object_get(e, "types")) != NULL &&
        get_list(v, where, "types", &w->types, &w->ntypes, err, cap) < 0)
        return -1;
    if ((v = json_object_get(e, "actors")) != NULL &&
        get_list(v, where, "actors", &w->actors, &w->nactors, err, cap) < 0)
        return -1;
    if ((v = json_object_get(e, "comment")) != NULL && !json_is_string(v)) {
        snprintf(err, cap, "%s.comment: must be a string", where);
        return -1;
    }
    return 0;
}

int
serve_auth_load(struct serve_auth **out, const char *path, uid_t self,
                char *err, size_t cap)
{
    struct serve_auth *a;
    json_error_t je;
    json_t *root, *v;
    const char *key;
    char msg[600];
    int rc = LDG_EBADINPUT;

    *out = NULL;
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return LDG_ENOMEM;
    snprintf(a->path, sizeof a->path, "%s", path);
    a->self = self;
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            /* the documented default: the daemon's own uid and root */
            a->w[0].has_uid = 1;
            a->w[0].uid = self;
            a->w[1].has_uid = 1;
            a->w[1].uid = 0;
            a->n = self == 0 ? 1 : 2;
            *out = a;
            return 0;
        }
        if (access(path, R_OK) != 0) {
            snprintf(err, cap, "%s: cannot read: %s", path, strerror(errno));
            serve_auth_free(a);
            return LDG_EIO;
        }
        snprintf(err, cap, "%s: line %d, column %d: %s", path, je.line,
                 je.column, je.text);
        serve_auth_free(a);
        return LDG_EBADINPUT;
    }
    a->from_file = 1;
    if (!json_is_object(root)) {
        snprintf(msg, sizeof msg, "must be an object {\"writers\": [...]}");
        goto bad;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "version") != 0 && strcmp(key, "writers") != 0 &&
            strcmp(key, "readers") != 0 && strcmp(key, "comment") != 0) {
            snprintf(msg, sizeof msg,
                     "unknown key \"%s\" (known: version, writers, readers, "
                     "comment)",
                     key);
            goto bad;
        }
    }
    if ((v = json_object_get(root, "version")) != NULL &&
        !(json_is_integer(v) && json_integer_value(v) == 1)) {
        snprintf(msg, sizeof msg,
                 "version: this ledger reads version 1 of this file");
        goto bad;
    }
    v = json_object_get(root, "writers");
    if (v == NULL || !json_is_array(v)) {
        snprintf(msg, sizeof msg,
                 "writers: missing or not a list (an empty list [] lets "
                 "only the daemon's own user write)");
        goto bad;
    }
    if (json_array_size(v) > SERVE_AUTH_MAX) {
        snprintf(msg, sizeof msg, "writers: %zu entries, at most %d",
                 json_array_size(v), SERVE_AUTH_MAX);
        goto bad;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (parse_writer(&a->w[a->n], json_array_get(v, i), i, msg,
                         sizeof msg) < 0) {
            a->n++;
            goto bad;
        }
        a->n++;
    }
    if ((v = json_object_get(root, "readers")) != NULL) {
        if (get_group(v, "", "readers", &a->readers, a->readers_name,
                      sizeof a->readers_name, msg, sizeof msg) < 0)
            goto bad;
        a->has_readers = 1;
    }
    if ((v = json_object_get(root, "comment")) != NULL && !json_is_string(v)) {
        snprintf(msg, sizeof msg, "comment: must be a string");
        goto bad;
    }
    json_decref(root);
    *out = a;
    return 0;
bad:
    snprintf(err, cap, "%s: %s", path,
             msg[0] == '.' ? msg + 1 : msg); /* ".readers" -> "readers" */
    json_decref(root);
    serve_auth_free(a);
    return rc;
}

void
serve_peer_groups(int fd, struct serve_peer *p)
{
    socklen_t len = sizeof p->groups;
    p->ngroups = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
        p->ngroups = (int)(len / sizeof(gid_t));
}

static int
in_group(const struct serve_peer *p, gid_t g)
{
    if (p->gid == g)
        return 1;
    for (int i = 0; i < p->ngroups; i++)
        if (p->groups[i] == g)
            return 1;
    return 0;
}

uint64_t
serve_auth_match(const struct serve_auth *a, const struct serve_peer *p)
{
    uint64_t m = 0;
    if (a == NULL || !p->ok)
        return 0;
    if (p->uid == a->self)
        return SERVE_AUTH_SELF;
    for (size_t i = 0; i < a->n; i++) {
        const struct writer *w = &a->w[i];
        if (w->has_uid && w->uid != p->uid)
            continue;
        if (w->has_gid && !in_group(p, w->gid))
            continue;
        if (w->unit != NULL && strcmp(w->unit, p->unit) != 0)
            continue;
        m |= (uint64_t)1 << i;
    }
    return m;
}

static int
type_ok(const struct writer *w, const char *type)
{
    if (w->types == NULL)
        return 1;
    for (size_t i = 0; i < w->ntypes; i++) {
        const char *t = w->types[i];
        size_t k = strlen(t);
        if (strcmp(t, "*") == 0 || strcmp(t, type) == 0)
            return 1;
        if (t[k - 1] == '*' && strncmp(t, type, k - 1) == 0)
            return 1; /* "x.*" matches "x.y", "x.y.z" */
    }
    return 0;
}

static int
actor_ok(const struct writer *w, const char *actor)
{
    if (w->actors == NULL)
        return 1;
    for (size_t i = 0; i < w->nactors; i++)
        if (strcmp(w->actors[i], actor) == 0)
            return 1;
    return 0;
}

int
serve_auth_check(const struct serve_auth *a, uint64_t may,
                 const struct serve_peer *p, const char *type,
                 const char *actor, char *msg, size_t cap)
{
    int type_seen = 0;
    if (a == NULL || may == SERVE_AUTH_SELF)
        return 1;
    if (actor == NULL || actor[0] == '\0')
        actor = "log";
    for (size_t i = 0; i < a->n; i++) {
        if (!(may & ((uint64_t)1 << i)))
            continue;
        if (type_ok(&a->w[i], type)) {
            type_seen = 1;
            if (actor_ok(&a->w[i], actor))
                return 1;
        }
    }
    if (!p->ok)
        snprintf(msg, cap,
                 "not authorised: the kernel did not say who the peer is "
                 "(SO_PEERCRED)");
    else if (may == 0)
        snprintf(msg, cap,
                 "not authorised: uid %u gid %u%s%s matches no writer in %s%s",
                 (unsigned)p->uid, (unsigned)p->gid, p->unit[0] ? " unit " : "",
                 p->unit, a->path,
                 a->from_file ? ""
                              : " (no such file: only the daemon's own "
                                "user and root may write)");
    else if (!type_seen)
        snprintf(msg, cap,
                 "not authorised: uid %u may not write type \"%s\" (%s)",
                 (unsigned)p->uid, type, a->path);
    else
        snprintf(msg, cap,
                 "not authorised: uid %u may not write \"%s\" as actor \"%s\" "
                 "(%s)",
                 (unsigned)p->uid, type, actor, a->path);
    return 0;
}

/* Gives file f group gid and mode, changing only what differs: under the
 * shipped unit the files already have the group, and chown is outside its
 * system calls (SystemCallFilter=~@privileged). For the directory (is_dir)
 * the setgid bit of its mode (files made later keep the group) is wanted
 * only when those files would not get the group anyway, as this process's
 * own: the unit's RestrictSUIDSGID= refuses to set it, and its
 * StateDirectoryMode=0750 clears it at every start. 0 or an errno. */
static int
give_group(const char *f, gid_t gid, mode_t mode, int is_dir)
{
    struct stat st;
    mode_t have;
    if (stat(f, &st) != 0)
        return errno;
    have = st.st_mode & 07777;
    if (is_dir && have == (mode & 0777) && getegid() == gid)
        mode = have;
    if (st.st_gid != gid && chown(f, (uid_t)-1, gid) != 0)
        return errno;
    if (have != mode && chmod(f, mode) != 0)
        return errno;
    return 0;
}

/* Gives the readers' group what reading needs: the directory (0750, and
 * setgid only when needed: give_group) and data.mdb to read, lock.mdb to
 * write (LMDB readers register in it: without it a reader would read
 * without the lock, unsafe beside a live writer), the intake log to read
 * where there is one (store layout 9: the acknowledged events LMDB does
 * not hold yet), the socket to connect. keys/ and its files are not
 * touched: they stay 0700 and 0600. */
int
serve_auth_apply_readers(const struct serve_auth *a, const char *dir,
                         const char *sock, char *err, size_t cap)
{
    static const struct {
        int file; /* enum ldg_store_file; -1: the directory itself */
        mode_t mode;
    } files[] = {{-1, 02750},
                 {LDG_FILE_DATA, 0640},
                 {LDG_FILE_LOCK, 0660},
                 {LDG_FILE_INTAKE, 0640}};
    const size_t nfiles = sizeof files / sizeof files[0];
    char p[4300];
    int e;
    if (a == NULL || !a->has_readers)
        return 0;
    for (size_t i = 0; i <= nfiles; i++) {
        const char *f;
        mode_t mode;
        if (i < nfiles) {
            const char *name =
                files[i].file < 0 ? "" : ldg_store_file_name(files[i].file);
            snprintf(p, sizeof p, "%s%s%s", dir, name[0] ? "/" : "", name);
            f = p;
            mode = files[i].mode;
        } else {
            if (sock == NULL || sock[0] == '\0')
                break;
            f = sock;
            mode = 0660;
        }
        e = give_group(f, a->readers, mode, i == 0);
        if (e == ENOENT && i < nfiles && files[i].file == LDG_FILE_INTAKE)
            continue; /* a store without an intake log */
        if (e != 0) {
            snprintf(err, cap,
                     "%s: \"readers\": \"%s\": cannot give the group "
                     "access to %s: %s%s",
                     a->path, a->readers_name[0] ? a->readers_name : "(gid)", f,
                     strerror(e),
                     e == EPERM ? " (the daemon may not chown or set a "
                                  "setgid bit here, as under the shipped "
                                  "unit: give the directory and its files "
                                  "that group first, chgrp -R)"
                                : "");
            return LDG_EIO;
        }
    }
    return 0;
}
