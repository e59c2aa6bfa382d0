/*
 * vocab.c — the event vocabulary (v1): known types, their required and
 * optional body fields with JSON types, enumerated values, and subject
 * derivation. The rules are docs/VOCABULARY.md's "Field types" table, made
 * into ledger/vocab.def by tools/gen_events.sh.
 *
 * A field spec is "name:T" with "*" after the name when required:
 *   s string   i integer   n number   b boolean   o object   a array
 *   t time (string or integer)
 * An enumeration follows as "=a|b|c".
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ledger/record_int.h"

struct vtype {
    const char *type;
    const char *fields; /* space-separated field specs */
};

/* The rules of each type, generated from docs/VOCABULARY.md's "Field
 * types" table by tools/gen_events.sh (`make events`). */
static const struct vtype vocab[] = {
#define X(id, fields) {LDG_EV_##id, fields},
#include "ledger/vocab.def"
#undef X
};

/* ledger/events.h and ledger/vocab.def come from the same table; a stale
 * one (make events not run) does not compile. */
_Static_assert(sizeof vocab / sizeof vocab[0] == LDG_EVENT_TYPE_COUNT,
               "ledger/vocab.def and ledger/events.h are out of step "
               "(make events)");

static const struct vtype *
find_type(const char *type)
{
    for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++)
        if (strcmp(vocab[i].type, type) == 0)
            return &vocab[i];
    return NULL;
}

static const char *
type_word(char t)
{
    switch (t) {
    case 's':
        return "a string";
    case 'i':
        return "an integer";
    case 'n':
        return "a number";
    case 'b':
        return "a boolean";
    case 'o':
        return "an object";
    case 'a':
        return "an array";
    case 't':
        return "a time (string or integer)";
    default:
        return "?";
    }
}

static int
type_ok(char t, const json_t *v)
{
    switch (t) {
    case 's':
        return json_is_string(v);
    case 'i':
        return json_is_integer(v);
    case 'n':
        return json_is_number(v);
    case 'b':
        return json_is_boolean(v);
    case 'o':
        return json_is_object(v);
    case 'a':
        return json_is_array(v);
    case 't':
        return json_is_string(v) || json_is_integer(v);
    default:
        return 0;
    }
}

/* Is v (a string) one of the '|'-separated words in [e, eend)? */
static int
enum_ok(const char *e, size_t elen, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    const char *p = e, *end = e + elen;
    while (p < end) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        size_t wl = (size_t)((bar ? bar : end) - p);
        if (wl == n && memcmp(p, s, n) == 0)
            return 1;
        p += wl + 1;
    }
    return 0;
}

/* Every word an enumeration of the vocabulary lists ("=a|b|c"), sorted
 * and deduplicated once: ldg_vocab_enum_value's table. */
#define ENUM_WORDS_MAX 128
static struct {
    const char *p;
    size_t n;
} enum_words[ENUM_WORDS_MAX];
static size_t n_enum_words;
static pthread_once_t enum_once = PTHREAD_ONCE_INIT;

static int
word_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static void
enum_words_make(void)
{
    for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++) {
        const char *f = vocab[i].fields;
        while ((f = strchr(f, '=')) != NULL) {
            const char *p = ++f, *end = p + strcspn(p, " ");
            while (p < end) {
                const char *bar = memchr(p, '|', (size_t)(end - p));
                size_t wl = (size_t)((bar ? bar : end) - p), j;
                for (j = 0; j < n_enum_words; j++)
                    if (word_cmp(enum_words[j].p, enum_words[j].n, p, wl) >= 0)
                        break;
                if ((j == n_enum_words ||
                     word_cmp(enum_words[j].p, enum_words[j].n, p, wl) != 0) &&
                    n_enum_words < ENUM_WORDS_MAX) {
                    memmove(&enum_words[j + 1], &enum_words[j],
                            (n_enum_words - j) * sizeof enum_words[0]);
                    enum_words[j].p = p;
                    enum_words[j].n = wl;
                    n_enum_words++;
                }
                p += wl + 1;
            }
            f = end;
        }
    }
}

int
ldg_vocab_enum_value(const char *s, size_t n)
{
    size_t lo = 0, hi;
    pthread_once(&enum_once, enum_words_make);
    hi = n_enum_words;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = word_cmp(enum_words[mid].p, enum_words[mid].n, s, n);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int
valid_type_name(const char *t)
{
    size_t n = strlen(t);
    int dot = 0;
    if (n == 0 || n > LDG_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '.') {
            if (i == 0 || i == n - 1 || t[i - 1] == '.')
                return 0;
            dot = 1;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-')) {
            return 0;
        }
    }
    return dot;
}

int
ldg_vocab_run_check(const char *type, const json_t *body, const char *run,
                    char *err, size_t errcap)
{
    const json_t *br = body != NULL ? json_object_get(body, "run") : NULL;

    /* the runs projection keys a run.* event by its body's run, the
     * query and the timeline by the envelope's: two runs would each hold
     * half of it ("ledger runs" listing a run "ledger timeline" denies) */
    if (run == NULL || strncmp(type, "run.", 4) != 0 || !json_is_string(br) ||
        strcmp(json_string_value(br), run) == 0)
        return 0;
    return ldg_errf(err, errcap, LDG_EBADINPUT,
                    "field 'run': '%s', but the body's run is '%s' (a %s "
                    "event is in the run its body names: leave out the "
                    "one or make them the same)",
                    run, json_string_value(br), type);
}

int
ldg_vocab_check(const char *type, const json_t *body, char *err, size_t errcap)
{
    const struct vtype *vt;
    const char *p;

    if (type == NULL || *type == '\0') {
        snprintf(err, errcap, "field 'type': required");
        return LDG_EBADINPUT;
    }
    if (strlen(type) > LDG_TYPE_MAX) {
        snprintf(err, errcap, "event type longer than %d bytes", LDG_TYPE_MAX);
        return LDG_ETOOBIG;
    }
    if (body != NULL && !json_is_object(body)) {
        snprintf(err, errcap, "field 'body': must be an object");
        return LDG_EBADINPUT;
    }
    vt = find_type(type);
    if (vt == NULL) {
        if (strncmp(type, "x.", 2) == 0 && valid_type_name(type))
            return 0;
        snprintf(err, errcap,
                 "unknown event type '%s' (custom types must start with "
                 "'x.', e.g. 'x.myorg.thing')",
                 type);
        return LDG_EBADINPUT;
    }
    for (p = vt->fields; *p;) {
        char name[64];
        const char *sp = strchr(p, ' '), *end = sp ? sp : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t nl = (size_t)(colon - p);
        int required = p[nl - 1] == '*';
        char t = colon[1];
        const json_t *v;

        if (required)
            nl--;
        memcpy(name, p, nl);
        name[nl] = '\0';
        v = body ? json_object_get(body, name) : NULL;
        if (v == NULL || (!required && json_is_null(v))) {
            if (required) {
                snprintf(err, errcap, "%s: field '%s': required", type, name);
                return LDG_EBADINPUT;
            }
        } else if (!type_ok(t, v)) {
            snprintf(err, errcap, "%s: field '%s': must be %s", type, name,
                     type_word(t));
            return LDG_EBADINPUT;
        } else if (eq != NULL && !enum_ok(eq + 1, (size_t)(end - eq - 1), v)) {
            snprintf(err, errcap, "%s: field '%s': must be one of %.*s", type,
                     name, (int)(end - eq - 1), eq + 1);
            return LDG_EBADINPUT;
        }
        p = sp ? sp + 1 : end;
    }
    return 0;
}

int
ldg_vocab_subject(const char *type, const json_t *body, char *buf, size_t cap)
{
    static const struct {
        const char *field, *kind;
    } order[] = {{"pack", "pack"},      {"model", "model"}, {"route", "route"},
                 {"target", NULL},      {"run", "run"},     {"key_id", "key"},
                 {"runtime", "runtime"}};
    /* The control pipeline's types name their thing by a field of their
     * own (issue 34): a plan, a memory item, a snapshot, a tripcode, a
     * build's artifact, a debate's subject (already kind:name). */
    static const struct {
        const char *prefix, *field, *kind;
    } pipeline[] = {{"plan.", "plan", "plan"},
                    {"memory.", "item", "memory"},
                    {"snapshot.", "snapshot", "snapshot"},
                    {"tripcode.", "code", "tripcode"},
                    {"build.", "artifact_digest", "build"},
                    {"debate.", "subject", NULL}};
    int n;
    for (size_t i = 0; body && type && i < sizeof pipeline / sizeof pipeline[0];
         i++) {
        const json_t *v;
        if (strncmp(type, pipeline[i].prefix, strlen(pipeline[i].prefix)) != 0)
            continue;
        v = json_object_get(body, pipeline[i].field);
        if (!json_is_string(v) || json_string_length(v) == 0)
            break;
        if (pipeline[i].kind == NULL)
            n = snprintf(buf, cap, "%s", json_string_value(v));
        else
            n = snprintf(buf, cap, "%s:%s", pipeline[i].kind,
                         json_string_value(v));
        return n >= 0 && (size_t)n < cap ? 0 : LDG_ETOOBIG;
    }
    for (size_t i = 0; body && i < sizeof order / sizeof order[0]; i++) {
        const json_t *v = json_object_get(body, order[i].field);
        if (!json_is_string(v) || json_string_length(v) == 0)
            continue;
        if (order[i].kind == NULL)
            n = snprintf(buf, cap, "%s", json_string_value(v));
        else
            n = snprintf(buf, cap, "%s:%s", order[i].kind,
                         json_string_value(v));
        return n >= 0 && (size_t)n < cap ? 0 : LDG_ETOOBIG;
    }
    n = snprintf(buf, cap, "host:local");
    return n >= 0 && (size_t)n < cap ? 0 : LDG_ETOOBIG;
}

/* ------------------------------------------------------------- roles -- */

/*
 * Key roles (docs/FORMAT.md "Key roles"). A key.added's "roles" say which
 * event types that key may sign; append refuses anything else and verify
 * reports it. Each role is a set of type prefixes; a key's roles are the
 * union. A key.added without roles (or with an empty list) allows every
 * type an actor key may sign, as before roles were enforced. ledger.genesis
 * and key.* are the log key's alone, whatever the roles; the log key signs
 * anything.
 */
enum {
    R_HOST = 1u << 0,
    R_RUNTIME = 1u << 1,
    R_CAPACITY = 1u << 2,
    R_MODEL = 1u << 3,
    R_PACK = 1u << 4,
    R_PERMISSION = 1u << 5,
    R_ROUTE = 1u << 6,
    R_EVAL = 1u << 7,
    R_PROMOTION = 1u << 8,
    R_RUN = 1u << 9,
    R_X = 1u << 10,
    R_ERASE = 1u << 11,
    /* the control pipeline (issue 34) */
    R_PLAN = 1u << 12,
    R_DEBATE = 1u << 13,
    R_SNAPSHOT = 1u << 14,
    R_TRIPCODE = 1u << 15,
    R_MEMORY = 1u << 16,
    R_BUILD = 1u << 17,
    R_HEALTH = 1u << 18,
    R_ALL = (1u << 19) - 1,
};

static const struct {
    const char *name;
    uint32_t bits;
} roles[] = {
    {"host", R_HOST},
    {"runtime", R_RUNTIME},
    {"capacity", R_CAPACITY},
    {"model", R_MODEL},
    {"pack", R_PACK},
    {"permission", R_PERMISSION},
    {"route", R_ROUTE},
    {"eval", R_EVAL},
    {"promotion", R_PROMOTION},
    {"run", R_RUN},
    {"x", R_X},
    {"erase", R_ERASE},
    {"sensor", R_HOST | R_RUNTIME | R_CAPACITY},
    {"control-plane",
     R_MODEL | R_PACK | R_PERMISSION | R_ROUTE | R_EVAL | R_PROMOTION},
    {"plan", R_PLAN},
    {"debate", R_DEBATE},
    {"snapshot", R_SNAPSHOT},
    {"tripcode", R_TRIPCODE},
    {"memory", R_MEMORY},
    {"build", R_BUILD},
    {"health", R_HEALTH},
    {"controller", R_PLAN | R_DEBATE | R_SNAPSHOT | R_TRIPCODE | R_MEMORY |
                       R_BUILD | R_HEALTH},
    {"any", R_ALL},
};

/* The prefix of each bit, in bit order. */
static const char *const role_prefix[] = {
    "host.",       "runtime.",    "capacity.", "model.",     "pack.",
    "permission.", "route.",      "eval.",     "promotion.", "run.",
    "x.",          "body.erased", "plan.",     "debate.",    "snapshot.",
    "tripcode.",   "memory.",     "build.",    "health.",
};

static uint32_t
role_bits(const char *name)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].bits;
    return 0;
}

uint32_t
ldg_roles_mask(const json_t *rl)
{
    uint32_t m = 0;
    size_t i;
    const json_t *v;

    if (rl == NULL || json_is_null(rl) ||
        (json_is_array(rl) && json_array_size(rl) == 0))
        return R_ALL;
    if (!json_is_array(rl))
        return 0;
    json_array_foreach(rl, i, v)
    {
        if (json_is_string(v))
            m |= role_bits(json_string_value(v));
    }
    return m;
}

int
ldg_roles_mask_allows(uint32_t mask, const char *type)
{
    /* the proxy's other requests go with its route decisions */
    if (strcmp(type, "proxy.request") == 0)
        type = "route.decision";
    for (size_t b = 0; b < sizeof role_prefix / sizeof role_prefix[0]; b++) {
        const char *p = role_prefix[b];
        size_t n = strlen(p);
        int hit =
            p[n - 1] == '.' ? strncmp(type, p, n) == 0 : strcmp(type, p) == 0;
        if (hit)
            return (mask & (1u << b)) != 0;
    }
    return 0; /* ledger.genesis, key.*: the log key's alone */
}

int
ldg_roles_allow(const json_t *rl, const char *type)
{
    return type != NULL && ldg_roles_mask_allows(ldg_roles_mask(rl), type);
}

/* The known role names, comma-separated (static). */
static const char *
ldg_roles_names(void)
{
    return "host, runtime, capacity, model, pack, permission, route, eval, "
           "promotion, run, x, erase, sensor, control-plane, plan, debate, "
           "snapshot, tripcode, memory, build, health, controller, any";
}

int
ldg_roles_check(const json_t *rl, char *err, size_t errcap)
{
    size_t i;
    const json_t *v;

    if (rl == NULL || json_is_null(rl))
        return 0;
    if (!json_is_array(rl)) {
        snprintf(err, errcap, "key.added: field 'roles': must be an array");
        return LDG_EBADINPUT;
    }
    json_array_foreach(rl, i, v)
    {
        if (!json_is_string(v)) {
            snprintf(err, errcap,
                     "key.added: field 'roles': entry %zu is not a string", i);
            return LDG_EBADINPUT;
        }
        if (role_bits(json_string_value(v)) == 0) {
            snprintf(err, errcap,
                     "key.added: field 'roles': unknown role '%.64s' (known: "
                     "%s)",
                     json_string_value(v), ldg_roles_names());
            return LDG_EBADINPUT;
        }
    }
    return 0;
}
