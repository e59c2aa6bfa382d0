/*
 * records.c — the record types of every projection and their encoding.
 *
 * Each record type has one io function that walks its fields in a fixed
 * order; the same walk encodes (IO_ENC), decodes (IO_DEC) or frees
 * (IO_FREE), so the three can never disagree. The encoding is canonical
 * (one record value has exactly one byte string), which is what makes the
 * multiset digest of a projection a digest of its state:
 *
 *   u8      1 byte
 *   u32/u64 unsigned LEB128 varint, shortest form
 *   i64     zigzag, then varint
 *   f64     8 bytes IEEE 754 big-endian
 *   str     varint(len + 1) ‖ bytes, or varint 0 for "absent"
 *   list    varint(n) ‖ n × str
 *
 * Record layouts (field order) are listed in docs/format-projections.md.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

#define IO_BUF_MAX (16u << 20) /* a record is never larger than this */

/* Encoding's one error is the output's (sticky: LDG_ETOOBIG past
 * IO_BUF_MAX, LDG_ENOMEM); nothing else sets io->err when encoding. */
static void
io_put(struct io *io, const void *p, size_t n)
{
    ldg_buf_add(&io->out, p, n);
    io->err = io->out.err;
}

/* Zeroed memory for decoding: from the arena when the io has one (the
 * record is then freed with the arena, never field by field). */
static void *
io_alloc(struct io *io, size_t n)
{
    if (io->arena != NULL)
        return arena_alloc(io->arena, n);
    return calloc(1, n);
}

static void
put_varint(struct io *io, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    io_put(io, b, n);
}

static uint64_t
get_varint(struct io *io)
{
    uint64_t v = 0;
    int shift = 0;
    while (!io->err) {
        uint8_t c;
        if (io->p >= io->end || shift > 63) {
            io->err = LDG_ECORRUPT;
            break;
        }
        c = *io->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift > 0) /* not the shortest form */
                io->err = LDG_ECORRUPT;
            return v;
        }
        shift += 7;
    }
    return 0;
}

static void
io_u8(struct io *io, uint8_t *v)
{
    if (io->mode == IO_ENC) {
        io_put(io, v, 1);
    } else if (io->mode == IO_DEC && !io->err) {
        if (io->p >= io->end) {
            io->err = LDG_ECORRUPT;
            return;
        }
        *v = *io->p++;
    }
}

static void
io_u64(struct io *io, uint64_t *v)
{
    if (io->mode == IO_ENC)
        put_varint(io, *v);
    else if (io->mode == IO_DEC)
        *v = get_varint(io);
}

static void
io_u32(struct io *io, uint32_t *v)
{
    uint64_t w = *v;
    io_u64(io, &w);
    if (io->mode == IO_DEC) {
        if (w > UINT32_MAX)
            io->err = LDG_ECORRUPT;
        *v = (uint32_t)w;
    }
}

static void
io_i64(struct io *io, int64_t *v)
{
    uint64_t z;
    if (io->mode == IO_ENC) {
        z = ((uint64_t)*v << 1) ^ (uint64_t)(*v >> 63);
        put_varint(io, z);
    } else if (io->mode == IO_DEC) {
        z = get_varint(io);
        *v = (int64_t)((z >> 1) ^ (~(z & 1) + 1));
    }
}

static void
io_f64(struct io *io, double *v)
{
    uint8_t b[8];
    uint64_t u;
    if (io->mode == IO_ENC) {
        memcpy(&u, v, 8);
        ldg_be64(b, u);
        io_put(io, b, 8);
    } else if (io->mode == IO_DEC && !io->err) {
        if (io->end - io->p < 8) {
            io->err = LDG_ECORRUPT;
            return;
        }
        u = ldg_rd_be64(io->p);
        io->p += 8;
        memcpy(v, &u, 8);
    }
}

static void
io_str(struct io *io, char **s)
{
    if (io->mode == IO_ENC) {
        if (*s == NULL) {
            put_varint(io, 0);
        } else {
            size_t n = strlen(*s);
            put_varint(io, n + 1);
            io_put(io, *s, n);
        }
    } else if (io->mode == IO_DEC) {
        uint64_t n = get_varint(io);
        *s = NULL;
        if (io->err || n == 0)
            return;
        n--;
        if ((uint64_t)(io->end - io->p) < n || memchr(io->p, 0, n)) {
            io->err = LDG_ECORRUPT;
            return;
        }
        *s = io_alloc(io, n + 1);
        if (*s == NULL) {
            io->err = LDG_ENOMEM;
            return;
        }
        memcpy(*s, io->p, n);
        (*s)[n] = '\0';
        io->p += n;
    } else {
        free(*s);
        *s = NULL;
    }
}

/* Count of a list: encodes/decodes n, bounded by what the input can hold
 * (each element takes at least min_bytes) and by PROJ_LIST_MAX*64. */
static uint32_t
io_count(struct io *io, uint32_t n, size_t min_bytes)
{
    uint64_t v = n;
    if (io->mode == IO_ENC) {
        put_varint(io, v);
        return n;
    }
    if (io->mode == IO_FREE)
        return n;
    v = get_varint(io);
    if (io->err)
        return 0;
    if (v > (uint64_t)(io->end - io->p) / (min_bytes ? min_bytes : 1) ||
        v > 1u << 20) {
        io->err = LDG_ECORRUPT;
        return 0;
    }
    return (uint32_t)v;
}

static void
io_strlist(struct io *io, struct strlist *l)
{
    uint32_t n = io_count(io, l->n, 1);
    if (io->err)
        return;
    if (io->mode == IO_DEC) {
        l->n = 0;
        l->v = n ? io_alloc(io, n * sizeof *l->v) : NULL;
        if (n && l->v == NULL) {
            io->err = LDG_ENOMEM;
            return;
        }
        l->n = n;
    }
    for (uint32_t i = 0; i < n; i++)
        io_str(io, &l->v[i]);
    if (io->mode == IO_FREE) {
        free(l->v);
        l->v = NULL;
        l->n = 0;
    }
}

/* ----------------------------------------------------------- records -- */

static void
io_pack(struct io *io, void *r)
{
    struct rec_pack *p = r;
    uint32_t n;

    io_str(io, &p->name);
    io_str(io, &p->version);
    io_str(io, &p->manifest_digest);
    io_str(io, &p->source);
    io_u64(io, &p->installed_seq);
    io_u64(io, &p->installed_ts);
    io_u8(io, &p->lifecycle);
    io_u8(io, &p->enabled);
    io_u64(io, &p->lifecycle_seq);
    io_str(io, &p->lifecycle_reason);
    io_u8(io, &p->validated);
    io_u64(io, &p->validated_seq);
    io_strlist(io, &p->validation_errors);
    io_u8(io, &p->checked);
    io_u64(io, &p->checked_seq);
    io_strlist(io, &p->check_failed);
    io_u8(io, &p->requires_state);
    n = io_count(io, p->nperms, 5);
    if (io->err)
        return;
    if (io->mode == IO_DEC) {
        p->perms = n ? io_alloc(io, n * sizeof *p->perms) : NULL;
        if (n && p->perms == NULL) {
            io->err = LDG_ENOMEM;
            return;
        }
        p->nperms = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        io_str(io, &p->perms[i].group);
        io_str(io, &p->perms[i].scope);
        io_str(io, &p->perms[i].tier);
        io_u8(io, &p->perms[i].optional);
        io_u64(io, &p->perms[i].since_seq);
    }
    if (io->mode == IO_FREE) {
        free(p->perms);
        p->perms = NULL;
    }
    io_strlist(io, &p->routes);
    io_strlist(io, &p->models);
    io_strlist(io, &p->evals);
    io_u32(io, &p->upgrades);
    io_str(io, &p->upgraded_from);
    io_u64(io, &p->upgraded_seq);
    io_u64(io, &p->last_seq);
}

static void
io_perm(struct io *io, void *r)
{
    struct rec_perm *p = r;
    io_str(io, &p->pack);
    io_str(io, &p->group);
    io_str(io, &p->scope);
    io_str(io, &p->tier);
    io_u8(io, &p->state);
    io_u64(io, &p->requested_seq);
    io_u64(io, &p->requested_ts);
    io_u64(io, &p->decided_seq);
    io_u64(io, &p->decided_ts);
    io_str(io, &p->by);
    io_str(io, &p->reason);
    io_u64(io, &p->expires_ns);
    io_u8(io, &p->bad_expires);
}

static void
io_model(struct io *io, void *r)
{
    struct rec_model *m = r;
    io_str(io, &m->name);
    io_str(io, &m->digest);
    io_str(io, &m->format);
    io_str(io, &m->quant);
    io_str(io, &m->runtime);
    io_str(io, &m->license);
    io_str(io, &m->source_url);
    io_str(io, &m->source_sha256);
    io_u8(io, &m->has_size);
    io_u64(io, &m->size_bytes);
    io_strlist(io, &m->capabilities);
    io_u8(io, &m->registered);
    io_u64(io, &m->registered_seq);
    io_u8(io, &m->state);
    io_str(io, &m->state_reason);
    io_u64(io, &m->state_seq);
    io_u64(io, &m->state_ts);
    io_u8(io, &m->verified);
    io_u64(io, &m->verified_seq);
    io_str(io, &m->verified_digest);
}

static void
io_runtime(struct io *io, void *r)
{
    struct rec_runtime *x = r;
    io_str(io, &x->name);
    io_str(io, &x->endpoint);
    io_str(io, &x->version);
    io_str(io, &x->detail);
    io_u8(io, &x->registered);
    io_u64(io, &x->registered_seq);
    io_u8(io, &x->status);
    io_u8(io, &x->has_latency);
    io_f64(io, &x->latency_ms);
    io_u64(io, &x->health_seq);
    io_u64(io, &x->health_ts);
}

static void
io_host(struct io *io, void *r)
{
    struct rec_host *h = r;
    io_str(io, &h->cpu);
    io_i64(io, &h->cores);
    io_i64(io, &h->ram_mb);
    io_i64(io, &h->tier);
    io_i64(io, &h->gpus);
    io_i64(io, &h->vram_total_mb);
    io_u64(io, &h->profile_seq);
    io_u8(io, &h->has_profile);
    io_u8(io, &h->has_disk);
    io_u8(io, &h->has_capacity);
    io_i64(io, &h->disk_free_mb);
    io_u64(io, &h->disk_seq);
    io_i64(io, &h->ram_free_mb);
    io_i64(io, &h->vram_free_mb);
    io_u64(io, &h->capacity_seq);
}

static void
io_route(struct io *io, void *r)
{
    struct rec_route *x = r;
    io_str(io, &x->name);
    io_str(io, &x->pack);
    io_str(io, &x->declared_model);
    io_str(io, &x->eval_suite);
    io_strlist(io, &x->fallbacks);
    io_u8(io, &x->has_threshold);
    io_str(io, &x->thr_metric);
    io_str(io, &x->thr_op);
    io_f64(io, &x->thr_value);
    io_u8(io, &x->declared);
    io_u64(io, &x->declared_seq);
    io_str(io, &x->current_model);
    io_u8(io, &x->current_source);
    io_u64(io, &x->current_seq);
    io_u8(io, &x->fallbacks_truncated);
}

static void
io_reval(struct io *io, void *r)
{
    struct rec_reval *x = r;
    uint32_t n;
    io_str(io, &x->route);
    io_str(io, &x->candidate);
    io_str(io, &x->eval_id);
    io_str(io, &x->suite);
    io_u8(io, &x->passed);
    io_i64(io, &x->cases_total);
    io_i64(io, &x->cases_passed);
    n = io_count(io, x->nmetrics, 9);
    if (io->err)
        return;
    if (n > PROJ_METRICS_MAX) {
        io->err = LDG_ECORRUPT;
        return;
    }
    x->nmetrics = n;
    for (uint32_t i = 0; i < n; i++) {
        io_str(io, &x->m[i].name);
        io_f64(io, &x->m[i].v);
    }
    io_u8(io, &x->has_violations);
    io_i64(io, &x->violations);
    io_u64(io, &x->seq);
    io_u64(io, &x->ts);
    io_str(io, &x->candidate_digest);
}

/* The histogram is stored sparse: count of non-empty buckets, then
 * (bucket index, count) pairs in index order. */
static void
io_rstats(struct io *io, void *r)
{
    struct rec_rstats *x = r;
    uint32_t nz = 0;
    io_str(io, &x->route);
    io_u64(io, &x->count);
    io_u64(io, &x->fallback);
    io_u64(io, &x->error);
    io_u64(io, &x->refused);
    io_u64(io, &x->unknown);
    if (io->mode == IO_ENC) {
        for (int i = 0; i < HIST_N; i++)
            nz += x->hist[i] != 0;
        io_u32(io, &nz);
        for (uint32_t i = 0; i < HIST_N; i++) {
            if (x->hist[i] == 0)
                continue;
            io_u32(io, &i);
            io_u64(io, &x->hist[i]);
        }
    } else if (io->mode == IO_DEC) {
        uint32_t prev = 0;
        io_u32(io, &nz);
        if (nz > HIST_N)
            io->err = LDG_ECORRUPT;
        for (uint32_t k = 0; k < nz && !io->err; k++) {
            uint32_t i = 0;
            uint64_t c = 0;
            io_u32(io, &i);
            io_u64(io, &c);
            if (i >= HIST_N || (k > 0 && i <= prev) || c == 0) {
                io->err = LDG_ECORRUPT;
                break;
            }
            x->hist[i] = c;
            prev = i;
        }
    }
    io_u64(io, &x->last_seq);
    io_strlist(io, &x->models);
}

static void
io_peval(struct io *io, void *r)
{
    struct rec_peval *x = r;
    io_str(io, &x->eval_id);
    io_str(io, &x->target);
    io_str(io, &x->candidate);
    io_str(io, &x->suite);
    io_u8(io, &x->passed);
    io_u8(io, &x->has_pass_rate);
    io_u8(io, &x->has_p50);
    io_u8(io, &x->has_violations);
    io_f64(io, &x->pass_rate);
    io_f64(io, &x->p50_ms);
    io_i64(io, &x->violations);
    io_u64(io, &x->seq);
}

static void
io_ptarget(struct io *io, void *r)
{
    struct rec_ptarget *x = r;
    io_str(io, &x->target);
    io_str(io, &x->candidate);
    io_str(io, &x->eval_id);
    io_u64(io, &x->seq);
    io_u8(io, &x->source);
    io_u8(io, &x->ungated);
    io_str(io, &x->ungated_reason);
    io_str(io, &x->prev_candidate);
    io_str(io, &x->prev_eval_id);
    io_u8(io, &x->prev_ungated);
    io_u64(io, &x->requested);
    io_u64(io, &x->promoted);
    io_u64(io, &x->rejected);
    io_u64(io, &x->rolled_back);
    io_u64(io, &x->ungated_total);
    io_str(io, &x->pending_candidate);
    io_str(io, &x->pending_eval_id);
    io_u64(io, &x->pending_seq);
}

static void
io_phist(struct io *io, void *r)
{
    struct rec_phist *x = r;
    io_str(io, &x->target);
    io_u64(io, &x->seq);
    io_u64(io, &x->ts);
    io_u8(io, &x->kind);
    io_str(io, &x->candidate);
    io_str(io, &x->eval_id);
    io_str(io, &x->previous);
    io_str(io, &x->reason);
    io_u8(io, &x->ungated);
}

static void
io_run(struct io *io, void *r)
{
    struct rec_run *x = r;
    io_str(io, &x->run);
    io_str(io, &x->pack);
    io_str(io, &x->intent);
    io_str(io, &x->requested_by);
    io_str(io, &x->plan_hash);
    io_str(io, &x->error);
    io_u8(io, &x->started);
    io_u8(io, &x->status);
    io_u64(io, &x->started_seq);
    io_u64(io, &x->start_ts);
    io_u64(io, &x->finished_seq);
    io_u64(io, &x->end_ts);
    io_u8(io, &x->has_duration);
    io_f64(io, &x->duration_ms);
    io_u64(io, &x->first_seq);
    io_u64(io, &x->last_seq);
    io_u64(io, &x->events);
    io_u64(io, &x->steps);
    io_u64(io, &x->steps_ok);
    io_u64(io, &x->steps_failed);
    io_u64(io, &x->steps_skipped);
    io_u64(io, &x->decisions);
    io_u64(io, &x->dec_fallback);
    io_u64(io, &x->dec_error);
    io_u64(io, &x->dec_refused);
    io_u64(io, &x->policy_allow);
    io_u64(io, &x->policy_deny);
    io_str(io, &x->last_step);
    io_str(io, &x->first_failed_step);
    io_str(io, &x->first_deny_rule);
    io_u64(io, &x->first_failed_seq);
    io_u64(io, &x->first_deny_seq);
    io_u8(io, &x->traced);
}

/* ---- the control pipeline (issue 34) ---- */

/* varint(n) ‖ n × (u64 seq ‖ str rule ‖ str detail) ‖ u64 total */
static void
io_viols(struct io *io, struct viols *x)
{
    uint32_t n = x->n;
    io_u32(io, &n);
    if (io->mode == IO_DEC) {
        if (n > PROJ_VIOL_MAX) {
            io->err = LDG_ECORRUPT;
            return;
        }
        x->v = n ? io_alloc(io, n * sizeof *x->v) : NULL;
        if (n && x->v == NULL) {
            io->err = LDG_ENOMEM;
            return;
        }
        x->n = n;
    }
    for (uint32_t i = 0; i < x->n && !io->err; i++) {
        io_u64(io, &x->v[i].seq);
        io_str(io, &x->v[i].rule);
        io_str(io, &x->v[i].detail);
    }
    if (io->mode == IO_FREE) {
        free(x->v);
        x->v = NULL;
        x->n = 0;
    }
    io_u64(io, &x->total);
}

static void
io_debate(struct io *io, struct pdebate *d)
{
    io_u8(io, &d->dec);
    io_u64(io, &d->seq);
    io_str(io, &d->id);
    io_u64(io, &d->err_seq);
    io_str(io, &d->err_id);
    io_str(io, &d->votes_id);
    io_u8(io, &d->votes_mask);
}

static void
io_plan(struct io *io, void *r)
{
    struct rec_plan *x = r;
    io_str(io, &x->plan);
    io_str(io, &x->intent);
    io_str(io, &x->plan_hash);
    io_str(io, &x->reason);
    io_u8(io, &x->state);
    io_u64(io, &x->state_seq);
    io_u64(io, &x->first_seq);
    io_u64(io, &x->first_ts);
    io_u64(io, &x->last_seq);
    io_u64(io, &x->last_ts);
    io_strlist(io, &x->path);
    io_u64(io, &x->change_seq);
    io_u64(io, &x->verified_seq);
    io_u64(io, &x->failed_seq);
    io_debate(io, &x->debate);
    io_u64(io, &x->steps);
    io_u64(io, &x->steps_ok);
    io_u64(io, &x->steps_failed);
    io_u64(io, &x->steps_skipped);
    io_u64(io, &x->snapshots);
    io_u64(io, &x->tripcodes);
    io_u64(io, &x->snaps_restored);
    io_u64(io, &x->trips_refused);
    io_u64(io, &x->promoted_seq);
    io_u64(io, &x->aborted_seq);
    io_viols(io, &x->viols);
}

static void
io_snap(struct io *io, void *r)
{
    struct rec_snap *x = r;
    io_str(io, &x->snapshot);
    io_str(io, &x->label);
    io_str(io, &x->plan);
    io_str(io, &x->reason);
    io_u64(io, &x->taken_seq);
    io_u64(io, &x->taken_ts);
    io_u64(io, &x->restored_seq);
    io_u64(io, &x->restores);
}

static void
io_trip(struct io *io, void *r)
{
    struct rec_trip *x = r;
    io_str(io, &x->code);
    io_str(io, &x->plan);
    io_str(io, &x->sig);
    io_str(io, &x->refused_reason);
    io_u64(io, &x->uses);
    io_u64(io, &x->consumed);
    io_u64(io, &x->refusals);
    io_u64(io, &x->used_seq);
    io_u64(io, &x->used_ts);
    io_i64(io, &x->payload_ts);
    io_u64(io, &x->refused_seq);
    io_u64(io, &x->replays);
    io_u64(io, &x->replay_seq);
}

static void
io_mitem(struct io *io, void *r)
{
    struct rec_mitem *x = r;
    io_str(io, &x->item);
    io_str(io, &x->hash);
    io_str(io, &x->provenance);
    io_u8(io, &x->status);
    io_u8(io, &x->erased);
    io_u64(io, &x->candidate_seq);
    io_u64(io, &x->candidate_ts);
    for (int g = 0; g < MG_COUNT; g++) {
        io_u8(io, &x->gate[g]);
        io_u64(io, &x->gate_seq[g]);
    }
    io_debate(io, &x->debate);
    io_u64(io, &x->admitted_seq);
    io_u64(io, &x->revoked_seq);
    io_u64(io, &x->purged_seq);
    io_str(io, &x->reason);
    io_u64(io, &x->last_seq);
    io_viols(io, &x->viols);
}

static void
io_bpromo(struct io *io, void *r)
{
    struct rec_bpromo *x = r;
    io_u64(io, &x->seq);
    io_u64(io, &x->ts);
    io_str(io, &x->artifact);
    io_str(io, &x->sbom);
    io_str(io, &x->plan);
    io_str(io, &x->slot);
    io_str(io, &x->inputs);
    io_u64(io, &x->reverted_seq);
    io_u64(io, &x->errors);
    io_u64(io, &x->first_error_seq);
}

static void
io_binput(struct io *io, void *r)
{
    struct rec_binput *x = r;
    io_str(io, &x->inputs);
    io_str(io, &x->first_digest);
    io_u64(io, &x->first_seq);
    io_u64(io, &x->first_ts);
    io_u64(io, &x->builds);
    io_u64(io, &x->differ);
    io_str(io, &x->differ_digest);
    io_u64(io, &x->differ_seq);
    io_u64(io, &x->differ_ts);
}

static void
io_bblue(struct io *io, void *r)
{
    struct rec_bblue *x = r;
    io_u64(io, &x->seq);
    io_u64(io, &x->ts);
    io_str(io, &x->type);
    io_str(io, &x->what);
    io_str(io, &x->plan);
}

static void
io_rjoin(struct io *io, void *r)
{
    struct rec_rjoin *x = r;
    io_u8(io, &x->kind);
    io_str(io, &x->parent);
    io_str(io, &x->route);
    io_u8(io, &x->flags);
    io_u32(io, &x->bucket);
}

static void
io_blast(struct io *io, void *r)
{
    struct rec_blast *x = r;
    io_u64(io, &x->seq);
    io_u64(io, &x->ts);
}

static const struct rtype rtypes[] = {
    {TAG_PACK, P_PACKS, sizeof(struct rec_pack), io_pack, "pack"},
    {TAG_PERM, P_PERMISSIONS, sizeof(struct rec_perm), io_perm, "permission"},
    {TAG_MODEL, P_MODELS, sizeof(struct rec_model), io_model, "model"},
    {TAG_RUNTIME, P_MODELS, sizeof(struct rec_runtime), io_runtime, "runtime"},
    {TAG_HOST, P_MODELS, sizeof(struct rec_host), io_host, "host"},
    {TAG_ROUTE, P_ROUTES, sizeof(struct rec_route), io_route, "route"},
    {TAG_REVAL, P_ROUTES, sizeof(struct rec_reval), io_reval, "route-eval"},
    {TAG_RSTATS, P_ROUTES, sizeof(struct rec_rstats), io_rstats, "route-stats"},
    {TAG_RJOIN, P_ROUTES, sizeof(struct rec_rjoin), io_rjoin, "route-join"},
    {TAG_PEVAL, P_PROMOTIONS, sizeof(struct rec_peval), io_peval, "eval"},
    {TAG_PTARGET, P_PROMOTIONS, sizeof(struct rec_ptarget), io_ptarget,
     "target"},
    {TAG_PHIST, P_PROMOTIONS, sizeof(struct rec_phist), io_phist, "history"},
    {TAG_RUN, P_RUNS, sizeof(struct rec_run), io_run, "run"},
    {TAG_PLAN, P_PLANS, sizeof(struct rec_plan), io_plan, "plan"},
    {TAG_SNAP, P_PLANS, sizeof(struct rec_snap), io_snap, "snapshot"},
    {TAG_TRIP, P_PLANS, sizeof(struct rec_trip), io_trip, "tripcode"},
    {TAG_MITEM, P_MEMORY, sizeof(struct rec_mitem), io_mitem, "memory-item"},
    {TAG_BPROMO, P_BUILDS, sizeof(struct rec_bpromo), io_bpromo, "promotion"},
    {TAG_BINPUT, P_BUILDS, sizeof(struct rec_binput), io_binput, "inputs"},
    {TAG_BBLUE, P_BUILDS, sizeof(struct rec_bblue), io_bblue, "blue-write"},
    {TAG_BLAST, P_BUILDS, sizeof(struct rec_blast), io_blast, "last"},
};

_Static_assert(sizeof rtypes / sizeof rtypes[0] == RTYPE_COUNT,
               "RTYPE_COUNT in proj_int.h");

int
rtype_index(const struct rtype *rt)
{
    return (int)(rt - rtypes);
}

const struct rtype *
rtype_of(enum proj_id p, uint8_t tag)
{
    for (size_t i = 0; i < sizeof rtypes / sizeof rtypes[0]; i++)
        if (rtypes[i].proj == p && rtypes[i].tag == tag)
            return &rtypes[i];
    return NULL;
}

int
rec_encode(const struct rtype *rt, void *rec, uint8_t **out, size_t *len)
{
    struct io io;
    memset(&io, 0, sizeof io);
    io.mode = IO_ENC;
    ldg_buf_init(&io.out, IO_BUF_MAX);
    rt->io(&io, rec);
    if (io.err) {
        ldg_buf_release(&io.out);
        return io.err;
    }
    *out = io.out.p; /* malloc'd (NUL after len), or NULL if empty */
    *len = io.out.len;
    return 0;
}

int
rec_decode_in(const struct rtype *rt, const uint8_t *p, size_t len,
              struct arena *a, void **out)
{
    struct io io;
    void *rec = a ? arena_alloc(a, rt->size) : calloc(1, rt->size);
    if (rec == NULL)
        return LDG_ENOMEM;
    memset(&io, 0, sizeof io);
    io.mode = IO_DEC;
    io.p = p;
    io.end = p + len;
    io.arena = a;
    rt->io(&io, rec);
    if (io.err == 0 && io.p != io.end)
        io.err = LDG_ECORRUPT;
    if (io.err) {
        int err = io.err;
        if (a == NULL)
            rec_free(rt, rec);
        return err;
    }
    *out = rec;
    return 0;
}

int
rec_decode(const struct rtype *rt, const uint8_t *p, size_t len, void **out)
{
    return rec_decode_in(rt, p, len, NULL, out);
}

/* ------------------------------------------------------------- arena -- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *
arena_alloc(struct arena *a, size_t n)
{
    struct arena_block *b = a->head;
    size_t need = (n + 15) & ~(size_t)15;
    void *p;
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    LDG_ASSERT(b->used + need <= b->cap);
    p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

void
arena_release(struct arena *a)
{
    while (a->head != NULL) {
        struct arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
}

void
rec_free(const struct rtype *rt, void *rec)
{
    struct io io;
    if (rec == NULL)
        return;
    memset(&io, 0, sizeof io);
    io.mode = IO_FREE;
    rt->io(&io, rec);
    free(rec);
}

/* --------------------------------------------------------- histogram -- */

int
hist_bucket(double ms)
{
    int e;
    double m;
    if (!(ms >= 0)) /* negative or NaN */
        return -1;
    if (ms < HIST_LINEAR)
        return (int)ms;
    m = frexp(ms, &e); /* ms = m * 2^e, m in [0.5, 1) */
    e -= 1;            /* ms = (2m) * 2^e, 2m in [1, 2) */
    if (e - 4 >= HIST_OCTAVES)
        return HIST_N - 1;
    return HIST_LINEAR + (e - 4) * HIST_SUB + (int)((2 * m - 1) * HIST_SUB);
}

double
hist_value(int b)
{
    int e, sub;
    double lo, w;
    if (b < HIST_LINEAR)
        return b;
    e = (b - HIST_LINEAR) / HIST_SUB + 4;
    sub = (b - HIST_LINEAR) % HIST_SUB;
    w = ldexp(1.0, e) / HIST_SUB;
    lo = ldexp(1.0, e) + sub * w;
    return lo + w / 2;
}

double
hist_percentile(const uint64_t *hist, double q)
{
    uint64_t total = 0, rank, seen = 0;
    for (int i = 0; i < HIST_N; i++)
        total += hist[i];
    if (total == 0)
        return -1;
    rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < HIST_N; i++) {
        seen += hist[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_N - 1);
}
