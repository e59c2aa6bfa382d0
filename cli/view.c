/*
 * view.c — what the views share (cmd_projections.c, cmd_doctor.c,
 * cmd_memory.c): --at, the options, the rows printed, a plan's timeline.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"

int
cli_view_prepare(struct cli *c)
{
    return cli_resolve_dir(c) != 0 ? EX_USAGE : 0;
}

/* --at SEQ|TIME into va: 0, or the exit code of a usage error. */
static int
at_opt(struct cli *c, const char *value, struct vargs *va)
{
    char err[600];
    uint64_t seq, ns = 0, now = ldg_now_wall_ns();
    /* a time is checked now, resolved once the ledger is open; one in the
     * future (*ns set past now) is refused then, naming the last event */
    int rc = ldg_query_parse_at(value, now, &seq, &ns, err, sizeof err);
    if (rc < 0 && ns <= now)
        return cli_usage_err(c, "--at %s", err);
    rc = rc < 0 ? 0 : rc;
    va->at_size = rc == 1 ? seq + 1 : 0;
    va->at_time = rc == 1 ? NULL : value;
    return 0;
}

int
cli_view_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct vargs *va = args;
    int i;
    switch (id) {
    case 'A':
        return at_opt(c, a->value, va);
    case 'p':
        va->pack = a->value;
        return 0;
    case 'c':
        va->check = 1;
        return 0;
    default:
        i = cli_bundle_opt(c, &va->ba, id, a->value);
        return i < 0 ? -i : i == 0 ? cli_usage(c) : 0;
    }
}

int
cli_view_args(struct cli *c, const struct vargs *va, int npos, char **pos,
              int max_pos)
{
    if (va->ba.file == NULL &&
        (va->ba.have_key || va->ba.insecure || va->ba.max_bytes != 0))
        return cli_usage_err(c, "--trusted-key, "
                                "--insecure-trust-bundle-key and --max-bytes "
                                "go with --bundle FILE");
    if (npos > max_pos)
        return cli_usage_err(c, "unexpected argument '%s'", pos[max_pos]);
    return cli_view_prepare(c);
}

const char *
cli_view_js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

void
cli_view_rows(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) cli_print_json(c, json_incref(r));
}

/* Warns on stderr when the answer had to be computed from the log
 * because the store is not this code's version or is behind, naming what
 * fixes it: ledger rebuild. */
static void
warn_stale(struct cli *c, struct ldg_ledger *l, const struct vargs *va)
{
    json_t *list = NULL, *o;
    size_t i;
    if (va->at_size != 0 || ldg_projections_list(l, 0, &list) < 0)
        return;
    json_array_foreach(list, i, o)
    {
        if (json_is_true(json_object_get(o, "current")))
            continue;
        fprintf(stderr,
                "ledger %s: note: projection %s is not current in "
                "the store (computed from the log for this answer; "
                "`ledger rebuild` fixes the store)\n",
                c->cmd, cli_view_js(o, "name"));
        break;
    }
    json_decref(list);
}

/* A standing verification finding (ledger verify found an event
 * altered) within the events the view folds: said on stderr, as show and
 * query say it; the rows cannot mark it. */
static void
warn_finding(struct cli *c, struct ldg_ledger *l, const struct vargs *va)
{
    struct ldg_query_finding f;
    if (ldg_query_finding(l, &f) && (va->at_size == 0 || f.seq < va->at_size))
        cli_finding_say(c, &f,
                        "a view is computed from the events, that one among "
                        "them");
}

/*
 * --at TIME: the state as of the last event at or before TIME, found with
 * the time index (a reverse query bounded by TIME). 0 or an exit code.
 */
static int
cli_view_at(struct cli *c, struct ldg_ledger *l, struct vargs *va)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[512];
    int rc;

    if (va->at_time == NULL) {
        /* --at SEQ beyond the log: no input there (66), as show and
         * verify --from say; the library's check says EINVAL (64) */
        uint64_t size;
        if (va->at_size == 0)
            return 0;
        if ((rc = ldg_size(l, &size)) < 0)
            return cli_fail(c, l, rc);
        if (va->at_size > size) {
            cli_err(c, "--at %llu is beyond the log's last seq %llu",
                    (unsigned long long)(va->at_size - 1),
                    (unsigned long long)(size ? size - 1 : 0));
            return EX_NOINPUT;
        }
        return 0;
    }
    {
        /* the option's syntax was checked before the ledger was open; now
         * against the clock: a time in the future is refused (64), with
         * the ledger's last event beside it, not taken as now */
        uint64_t seq, ns, size;
        if (ldg_query_parse_at(va->at_time, ldg_now_wall_ns(), &seq, &ns, err,
                               sizeof err) < 0) {
            char last[120] = "";
            if (ldg_size(l, &size) == 0 && size > 0 &&
                ldg_txn_begin(l, LDG_TXN_READ, &t) == 0) {
                char when[40];
                if (ldg_event_get(t, size - 1, &ev) == 0) {
                    cli_when(when, sizeof when, ev.ts_ns);
                    snprintf(last, sizeof last,
                             "; the ledger's last event, seq %llu, is at %s",
                             (unsigned long long)(size - 1), when);
                }
                ldg_txn_abort(t);
                t = NULL;
            }
            cli_err(c, "--at %s%s", err, last);
            return EX_USAGE;
        }
    }
    rc = ldg_query_compile(&q, 0, NULL, NULL, va->at_time, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "--at: %s", err);
        return EX_USAGE;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) == 0 &&
        (rc = ldg_query_iter_new(&it, q, t, LDG_QUERY_REVERSE)) == 0)
        rc = ldg_query_iter_next(it, &ev);
    if (rc == 0)
        va->at_size = ev.seq + 1;
    if (rc == LDG_ENOTFOUND && it != NULL) {
        /* a pruned ledger: the last event at or before TIME may be
         * pruned. At or after the last pruned event's time, that is the
         * horizon's state, which the ledger keeps; before it, it is in an
         * archive. */
        struct ldg_query_stats st;
        struct ldg_horizon h;
        uint64_t at_ns;
        ldg_query_iter_stats(it, &st);
        if (st.reached_pruned && ldg_horizon(l, &h) == 0) {
            if (ldg_query_parse_time(va->at_time, ldg_now_wall_ns(), &at_ns,
                                     err, sizeof err) == 0 &&
                at_ns >= h.ts_ns)
                va->at_size = h.seq, rc = 0;
            else
                rc = LDG_EPRUNED;
            ldg_horizon_release(&h);
        }
    }
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    if (rc == LDG_EPRUNED) {
        char what[300];
        snprintf(what, sizeof what,
                 "--at %s: the state at that time is before the horizon, "
                 "and no state before it is kept (the events are in the "
                 "archive, which carries the state at its end; the "
                 "earliest state here is the one at the horizon: --at the "
                 "last pruned event's seq)",
                 va->at_time);
        if (!cli_pruned(c, l, what))
            cli_err(c, "%s", what);
        return EX_NOINPUT;
    }
    if (rc == LDG_ENOTFOUND) {
        cli_err(c, "--at %s: the log has no event at or before that time",
                va->at_time);
        return EX_NOINPUT;
    }
    if (rc < 0)
        return cli_fail(c, l, rc);
    return 0;
}

int
cli_view_open(struct cli *c, struct vargs *va, struct ldg_ledger **l)
{
    int rc;

    if ((rc = cli_open(c, 1, l)) != 0)
        return rc;
    /* the views of events the store's projections lack (the intake's
     * tail, at layout 9) folded in memory, not from the whole log */
    if ((rc = ldg_projections_attach(*l)) < 0) {
        rc = cli_fail_close(c, *l, rc);
        *l = NULL;
        return rc;
    }
    if ((rc = cli_view_at(c, *l, va)) != 0) {
        ldg_close(*l);
        *l = NULL;
    }
    return rc;
}

uint64_t cli_view_horizon;

int
cli_view_read(struct cli *c, struct vargs *va, int view,
              struct ldg_view_opts *vo, struct ldg_ledger **l, json_t **rows)
{
    int rc;

    if ((rc = cli_view_open(c, va, l)) != 0)
        return rc;
    vo->at_size = va->at_size;
    rc = ldg_projections_view(*l, view, vo, rows);
    if (vo->progress != NULL && c->progress && va->at_size)
        cli_progress_done(c);
    if (rc < 0) {
        rc = cli_fail_close(c, *l, rc);
        *l = NULL;
        return rc;
    }
    warn_stale(c, *l, va);
    warn_finding(c, *l, va);
    return 0;
}

static int
view_run(struct cli *c, int view, struct vargs *va, const char *filter,
         void (*human)(struct cli *c, json_t *rows))
{
    struct ldg_view_opts vo = {
        .filter = filter, .progress = cli_progress, .progress_ctx = c};
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL;
    int rc;

    if ((rc = cli_view_read(c, va, view, &vo, &l, &rows)) != 0)
        return rc;
    {
        /* a pruned ledger: the human views point into the archive for
         * states before the horizon */
        struct ldg_horizon h;
        cli_view_horizon = 0;
        if (ldg_horizon(l, &h) == 0) {
            cli_view_horizon = h.seq;
            ldg_horizon_release(&h);
        }
    }
    if (json_array_size(rows) == 0)
        cli_view_none(c, l, c->cmd, filter, va->at_size);
    else if (c->out == OUT_HUMAN)
        human(c, rows);
    else
        cli_view_rows(c, rows);
    json_decref(rows);
    ldg_close(l);
    return EX_OK;
}

void
cli_view_none(struct cli *c, struct ldg_ledger *l, const char *what,
              const char *for_what, uint64_t at_size)
{
    uint64_t size = 0;
    const char *f = for_what != NULL ? " for " : "";
    const char *fw = for_what != NULL ? for_what : "";

    if (at_size != 0) {
        cli_err(c, "no %s%s%s as of event %llu", what, f, fw,
                (unsigned long long)(at_size - 1));
        return;
    }
    if (ldg_size(l, &size) < 0) {
        cli_err(c, "no %s%s%s recorded in this ledger", what, f, fw);
        return;
    }
    cli_err(c, "no %s%s%s recorded in this ledger (%llu event%s)", what, f, fw,
            (unsigned long long)size, size == 1 ? "" : "s");
}

int
cli_view_cmd(struct cli *c, struct vargs *va, int npos, char **pos, int max_pos,
             int view, void (*human)(struct cli *c, json_t *rows),
             void (*human_one)(struct cli *c, json_t *rows))
{
    int rc = cli_view_args(c, va, npos, pos, max_pos);
    if (rc != 0)
        return rc;
    return view_run(c, view, va, max_pos ? (npos ? pos[0] : NULL) : va->pack,
                    npos && human_one ? human_one : human);
}

long long
cli_view_ji(const json_t *o, const char *a, const char *b)
{
    return (long long)json_integer_value(
        json_object_get(json_object_get(o, a), b));
}

/* ---------------------------------------------------- a plan's timeline -- */

void
cli_timeline_print(const struct cli *c, const char *text, int event_hang)
{
    int events = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        int bad = c->color && p[0] == '!';
        cli_line(c, p, n, events ? event_hang : 4,
                 bad ? cli_paint(c->color, CLI_PAINT_FAIL) : NULL,
                 bad ? cli_paint(c->color, CLI_PAINT_OFF) : NULL);
        if (n == 9 && strncmp(p, "timeline:", 9) == 0)
            events = 1;
        else if (n == 0)
            events = 0;
        p += n;
        if (*p == '\n')
            p++;
    }
}

int
cli_plan_timeline_json(struct cli *c, json_t *tl)
{
    char *text = NULL;
    int rc;

    if (!json_is_object(tl)) {
        cli_err(c, "the bundle's timeline.json has no plan timeline");
        return EX_DATAERR;
    }
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, json_incref(tl));
        return EX_OK;
    }
    rc = ldg_pipeline_timeline_text(tl, &text);
    if (rc < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    cli_timeline_print(c, text, 4);
    free(text);
    return EX_OK;
}

int
cli_plan_terms(struct cli *c, struct ldg_ledger *l, const char *plan,
               int no_context, size_t termsz, char **out, size_t *n,
               json_t **tlout, char **text)
{
    json_t *tl = NULL, *e;
    size_t i;
    int rc = ldg_pipeline_timeline(l, plan, &tl);

    *out = NULL;
    *n = 0;
    *tlout = NULL;
    *text = NULL;
    if (rc == 0 && (rc = ldg_pipeline_timeline_text(tl, text)) < 0)
        ldg_set_errmsg(l, "plan %s: %s", plan, ldg_strerror(rc));
    if (rc < 0) {
        cli_err(c, "%s", cli_why(l, rc));
        json_decref(tl);
        return cli_exit_code(rc);
    }
    *out =
        malloc((json_array_size(json_object_get(tl, "events")) + 1) * termsz);
    if (*out == NULL) {
        json_decref(tl);
        free(*text);
        *text = NULL;
        return cli_fail_err(c, "", LDG_ENOMEM);
    }
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        if (no_context && kind != NULL && strcmp(kind, "context") == 0)
            continue;
        snprintf(*out + *n * termsz, termsz, "seq=%s",
                 json_string_value(json_object_get(e, "seq")));
        (*n)++;
    }
    *tlout = tl;
    return 0;
}
