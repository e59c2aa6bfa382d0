/*
 * config.c — the proxy's upstreams and routes, from --upstream NAME=URL
 * and the proxy file (proxy.h, docs/PROXY.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "proxy/proxy_int.h"

int
ldg_proxy_config_new(struct ldg_proxy_config **out)
{
    if (out == NULL)
        return LDG_EINVAL;
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return LDG_ENOMEM;
    (*out)->async = -1;
    (*out)->content = -1;
    return 0;
}

void
ldg_proxy_config_free(struct ldg_proxy_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nup; i++)
        free(c->up[i].url);
    for (size_t i = 0; i < c->nroutes; i++) {
        for (size_t k = 0; k < c->routes[i].n; k++)
            free(c->routes[i].cand[k].model);
        free(c->routes[i].cand);
        free(c->routes[i].model);
    }
    free(c->routes);
    free(c->listen);
    free(c);
}

static int
name_ok(const char *s, size_t n)
{
    if (n == 0 || n > LDG_PROXY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int
proxy_upstream_find(const struct ldg_proxy_config *c, const char *name,
                    size_t n)
{
    for (size_t i = 0; i < c->nup; i++)
        if (strlen(c->up[i].name) == n && memcmp(c->up[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

/* What is wrong with a host name or IPv4 address of n bytes (its
 * characters already checked), or NULL: names of labels of 1 to 63
 * bytes that neither start nor end with '-' (a last '.' allowed), and
 * all digits and dots only as an IPv4 address inet_pton takes. */
static const char *
host_bad(const char *h, size_t n)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a4;
    size_t i = 0;

    if (n > 253)
        return "the host name is longer than 253 bytes";
    if (strspn(h, "0123456789.") >= n) {
        if (n >= sizeof ip)
            return "not an IPv4 address";
        memcpy(ip, h, n);
        ip[n] = '\0';
        return inet_pton(AF_INET, ip, &a4) == 1 ? NULL : "not an IPv4 address";
    }
    while (i < n) {
        size_t l = strcspn(h + i, ".:/");
        if (i + l > n)
            l = n - i;
        if (l == 0 || l > 63)
            return "a part of the host name between dots is empty or longer "
                   "than 63 bytes";
        if (h[i] == '-' || h[i + l - 1] == '-')
            return "a part of the host name starts or ends with '-'";
        i += l + 1; /* and the dot; a last one ends the loop */
    }
    return NULL;
}

/* What is wrong with a URL's authority (what follows "http://": an
 * optional user@, a host or [IPv6] address, an optional :PORT, then the
 * path), or NULL when nothing is: caught at start rather than as a 502
 * on every request. */
static const char *
authority_bad(const char *a)
{
    const char *why;
    size_t len = strcspn(a, "/");
    const char *at = memchr(a, '@', len), *host, *end = a + len, *port;

    host = at ? at + 1 : a;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));
        char ip[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        size_t n;
        if (rb == NULL || rb == host + 1)
            return "an IPv6 address is written [ADDRESS]";
        /* the address, without a zone (%25eth0 or %eth0, RFC 6874) */
        n = strcspn(host + 1, "%]");
        if (n >= sizeof ip)
            return "not an IPv6 address between [ and ]";
        memcpy(ip, host + 1, n);
        ip[n] = '\0';
        if (inet_pton(AF_INET6, ip, &a6) != 1 ||
            (host[1 + n] == '%' && host + 2 + n == rb))
            return "not an IPv6 address between [ and ]";
        port = rb + 1;
        if (port < end && *port != ':')
            return "only :PORT may follow ]";
    } else {
        port = memchr(host, ':', (size_t)(end - host));
        if (port == NULL)
            port = end;
        if (port == host)
            return "no host";
        for (const char *s = host; s < port; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
                  *s == '_'))
                return "the host has a character a host name cannot have";
        if ((why = host_bad(host, (size_t)(port - host))) != NULL)
            return why;
    }
    if (port < end) { /* ":PORT" */
        unsigned long v = 0;
        const char *s = port + 1;
        if (s == end)
            return "':' without a port";
        for (; s < end; s++) {
            if (*s < '0' || *s > '9')
                return "the port is not a number";
            v = v * 10 + (unsigned long)(*s - '0');
            if (v > 65535)
                break;
        }
        if (v == 0 || v > 65535)
            return "the port is not 1 to 65535";
    }
    return NULL;
}

static int
add_upstream(struct ldg_proxy_config *c, const char *name, size_t n,
             const char *url, const char *where, char *err, size_t cap)
{
    if (!name_ok(name, n))
        return ldg_errf(
            err, cap, LDG_EBADINPUT,
            "%supstream name '%.*s': 1 to %d letters, digits, '.', '_' "
            "or '-'",
            where, (int)n, name, LDG_PROXY_NAME_MAX);
    if ((n == 3 && memcmp(name, "api", 3) == 0) ||
        (n == 2 && memcmp(name, "v1", 2) == 0)) {
        /* a first path segment names an upstream: these would take the
         * APIs' own paths (/api/chat, /v1/models) */
        return ldg_errf(
            err, cap, LDG_EBADINPUT,
            "%supstream name '%.*s': the first segment of the APIs' "
            "paths (/api/..., /v1/...), which an upstream's name would "
            "take over: choose another",
            where, (int)n, name);
    }
    if (proxy_upstream_find(c, name, n) >= 0)
        return ldg_errf(err, cap, LDG_EBADINPUT,
                        "%supstream '%.*s' is given twice", where, (int)n,
                        name);
    if (c->nup >= LDG_PROXY_UPSTREAMS_MAX)
        return ldg_errf(err, cap, LDG_EBADINPUT, "%smore than %d upstreams",
                        where, LDG_PROXY_UPSTREAMS_MAX);
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    if (skip == 0 || url[skip] == 0 || url[skip] == '/' ||
        strpbrk(url, "?# \t\r\n") != NULL)
        return ldg_errf(
            err, cap, LDG_EBADINPUT,
            "%supstream '%.*s': '%s' is not an http:// or https:// URL "
            "(a host, an optional port and path, no query)",
            where, (int)n, name, url);
    const char *what = authority_bad(url + skip);
    {
        /* the client's whole path is appended to the URL's */
        size_t ul = strlen(url);
        while (ul > skip && url[ul - 1] == '/')
            ul--;
        const char *auth_end = url + skip + strcspn(url + skip, "/");
        if (what == NULL &&
            memchr(url + skip, '@', (size_t)(auth_end - (url + skip))) != NULL)
            what = "a user or password in the URL (credentials are not "
                   "kept in a URL: the client's Authorization header is "
                   "passed on)";
        else if (what == NULL &&
                 ((ul >= skip + 3 && strncmp(url + ul - 3, "/v1", 3) == 0) ||
                  (ul >= skip + 4 && strncmp(url + ul - 4, "/api", 4) == 0)))
            what = "the URL ends in /v1 or /api, and the proxy appends the "
                   "client's whole path (/v1/chat/completions, /api/chat): "
                   "give the runtime's base URL, without it";
    }
    if (what != NULL)
        return ldg_errf(err, cap, LDG_EBADINPUT, "%supstream '%.*s': '%s': %s",
                        where, (int)n, name, url, what);
    char *u = strdup(url);
    if (u == NULL)
        return LDG_ENOMEM;
    size_t ul = strlen(u);
    while (ul > skip && u[ul - 1] == '/')
        u[--ul] = 0;
    memcpy(c->up[c->nup].name, name, n);
    c->up[c->nup].name[n] = 0;
    c->up[c->nup].url = u;
    c->nup++;
    return 0;
}

int
ldg_proxy_config_add_upstream(struct ldg_proxy_config *c, const char *spec,
                              char *err, size_t errcap)
{
    if (c == NULL || spec == NULL)
        return LDG_EINVAL;
    const char *eq = strchr(spec, '=');
    if (eq == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        LDG_OPT_UPSTREAM " '%s': expected NAME=URL, e.g. "
                                         "ollama=http://127.0.0.1:11434",
                        spec);
    return add_upstream(c, spec, (size_t)(eq - spec), eq + 1,
                        LDG_OPT_UPSTREAM ": ", err, errcap);
}

static int
load_routes(struct ldg_proxy_config *c, json_t *routes, char *err, size_t cap)
{
    const char *model;
    json_t *list;

    if (!json_is_object(routes))
        return ldg_errf(err, cap, LDG_EBADINPUT,
                        "\"routes\": must be an object of model names");
    c->routes = calloc(json_object_size(routes) + 1, sizeof *c->routes);
    if (c->routes == NULL)
        return LDG_ENOMEM;
    json_object_foreach(routes, model, list)
    {
        struct proxy_route *r = &c->routes[c->nroutes];
        size_t i;
        json_t *e;
        if (!json_is_array(list) || json_array_size(list) == 0)
            return ldg_errf(err, cap, LDG_EBADINPUT,
                            "\"routes\".\"%s\": must be a list of candidates "
                            "({\"upstream\": NAME, \"model\": MODEL})",
                            model);
        if ((r->model = strdup(model)) == NULL ||
            (r->cand = calloc(json_array_size(list), sizeof *r->cand)) == NULL)
            return LDG_ENOMEM;
        c->nroutes++;
        json_array_foreach(list, i, e)
        {
            const char *k;
            json_t *v, *up = json_object_get(e, "upstream"),
                       *m = json_object_get(e, "model");
            if (!json_is_object(e) || !json_is_string(up))
                return ldg_errf(
                    err, cap, LDG_EBADINPUT,
                    "\"routes\".\"%s\"[%zu]: needs \"upstream\", a name "
                    "of \"upstreams\"",
                    model, i);
            json_object_foreach(e, k, v)
            {
                if (strcmp(k, "upstream") && strcmp(k, "model"))
                    return ldg_errf(
                        err, cap, LDG_EBADINPUT,
                        "\"routes\".\"%s\"[%zu]: unknown key \"%s\" "
                        "(known: upstream, model)",
                        model, i, k);
            }
            int ui = proxy_upstream_find(c, json_string_value(up),
                                         json_string_length(up));
            if (ui < 0)
                return ldg_errf(
                    err, cap, LDG_EBADINPUT,
                    "\"routes\".\"%s\"[%zu]: no upstream named '%s'", model, i,
                    json_string_value(up));
            if (m != NULL && !json_is_string(m))
                return ldg_errf(
                    err, cap, LDG_EBADINPUT,
                    "\"routes\".\"%s\"[%zu].model: must be a string", model, i);
            LDG_ASSERT(r->n < json_array_size(list));
            r->cand[r->n].up = (size_t)ui;
            if (m &&
                (r->cand[r->n].model = strdup(json_string_value(m))) == NULL)
                return LDG_ENOMEM;
            r->n++;
        }
    }
    return 0;
}

int
ldg_proxy_config_load(struct ldg_proxy_config *c, const char *path, char *err,
                      size_t errcap)
{
    json_t *j, *v;
    const char *k;
    int rc = 0;

    if (c == NULL || path == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_json_load_object(path, &j, err, errcap)) < 0)
        return rc;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "listen") && strcmp(k, "upstreams") &&
            strcmp(k, "routes") && strcmp(k, "record") &&
            strcmp(k, "record_content")) {
            ldg_errf(err, errcap, 0,
                     "%s: unknown key \"%s\" (known: listen, upstreams, "
                     "routes, record, record_content)",
                     path, k);
            rc = LDG_EBADINPUT;
            goto out;
        }
    }
    if ((v = json_object_get(j, "listen")) != NULL) {
        if (!json_is_string(v)) {
            ldg_errf(err, errcap, 0, "%s: \"listen\": must be a string", path);
            rc = LDG_EBADINPUT;
            goto out;
        }
        free(c->listen);
        if ((c->listen = strdup(json_string_value(v))) == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    if ((v = json_object_get(j, "record")) != NULL) {
        const char *s = json_string_value(v);
        if (s == NULL || (strcmp(s, "sync") && strcmp(s, "async"))) {
            ldg_errf(err, errcap, 0,
                     "%s: \"record\": must be \"sync\" or \"async\"", path);
            rc = LDG_EBADINPUT;
            goto out;
        }
        c->async = strcmp(s, "async") == 0;
    }
    if ((v = json_object_get(j, "record_content")) != NULL) {
        if (!json_is_boolean(v)) {
            ldg_errf(err, errcap, 0,
                     "%s: \"record_content\": must be true or false", path);
            rc = LDG_EBADINPUT;
            goto out;
        }
        c->content = json_is_true(v);
    }
    if ((v = json_object_get(j, "upstreams")) != NULL) {
        const char *name;
        json_t *u;
        char where[300];
        if (!json_is_object(v)) {
            ldg_errf(err, errcap, 0,
                     "%s: \"upstreams\": must be an object {NAME: URL}", path);
            rc = LDG_EBADINPUT;
            goto out;
        }
        snprintf(where, sizeof where, "%s: \"upstreams\": ", path);
        json_object_foreach(v, name, u)
        {
            if (!json_is_string(u)) {
                ldg_errf(err, errcap, 0, "%s\"%s\": must be a URL string",
                         where, name);
                rc = LDG_EBADINPUT;
                goto out;
            }
            rc = add_upstream(c, name, strlen(name), json_string_value(u),
                              where, err, errcap);
            if (rc < 0)
                goto out;
        }
    }
    if ((v = json_object_get(j, "routes")) != NULL) {
        char e2[400] = "";
        rc = load_routes(c, v, e2, sizeof e2);
        if (rc < 0) {
            ldg_errf(err, errcap, 0, "%s: %s", path, e2);
            goto out;
        }
    }
out:
    json_decref(j);
    return rc;
}

const char *
ldg_proxy_config_listen(const struct ldg_proxy_config *c)
{
    return c ? c->listen : NULL;
}

int
ldg_proxy_config_async(const struct ldg_proxy_config *c)
{
    return c ? c->async : -1;
}

int
ldg_proxy_config_content(const struct ldg_proxy_config *c)
{
    return c ? c->content : -1;
}

size_t
ldg_proxy_config_upstreams(const struct ldg_proxy_config *c)
{
    return c ? c->nup : 0;
}

int
ldg_proxy_config_upstream(const struct ldg_proxy_config *c, size_t i,
                          const char **name, const char **url)
{
    if (c == NULL || i >= c->nup)
        return -1;
    if (name)
        *name = c->up[i].name;
    if (url)
        *url = c->up[i].url;
    return 0;
}

size_t
ldg_proxy_config_routes(const struct ldg_proxy_config *c)
{
    return c ? c->nroutes : 0;
}

const struct proxy_route *
proxy_route_find(const struct ldg_proxy_config *c, const char *model)
{
    for (size_t i = 0; c && model && i < c->nroutes; i++)
        if (strcmp(c->routes[i].model, model) == 0)
            return &c->routes[i];
    return NULL;
}
