/*
 * gen_events.c — deterministic synthetic event generator for the benchmarks.
 *
 *   gen_events N [--seed S] [--runs R] [--packs P]
 *
 * Writes exactly N JSON Lines events to stdout, each
 * {"type":...,"body":{...}} and valid per shared/VOCABULARY.md (every
 * required field present with the right JSON type). The same arguments give
 * the same bytes on every machine: all choices come from one splitmix64
 * stream seeded by S (default 1). No subject is given: the ledger derives
 * it from the body, and so does the SQLite peer.
 *
 * The mix, in stream order:
 *
 *   1. Setup (about 16 + 10 + 17 * P events): host.profile, two runtimes
 *      (registered + health), ten models (model.registered + model.state),
 *      then for each of the P packs: pack.installed (with its requires),
 *      pack.validated, three permission.requested, two permission.granted
 *      and one permission.denied (optional net.egress), two route.declared,
 *      three eval.started/eval.result pairs, promotion.requested and
 *      promotion.promoted for the pack's first route. If N is smaller than
 *      the setup, the stream is simply cut after N events.
 *
 *   2. The rest: 99% run events, 1% background, interleaved at random.
 *      Runs: R of them (default: run events / 100, so each run id has about
 *      100 events at any N; with N = 10M that is ~98,000 runs), up to 16
 *      open at once so their events interleave like concurrent pack runs.
 *      A run of length L is run.started, L-2 middle events, run.finished;
 *      the middle events are
 *          80% route.decision (with "run"; 5% fallback, 2% error, 1% refused)
 *          13% run.step       (3% failed, 1% skipped)
 *           7% run.policy     (10% deny)
 *      and run.finished is 5% failed, 1% aborted. Overall, route.decision
 *      is ~78% of a large stream.
 *      Background scenarios, drawn in turn: model.state flips, runtime
 *      health, capacity.snapshot, an eval sweep (eval.started, eval.result,
 *      promotion.requested, then promotion.promoted or promotion.rejected),
 *      a rollback, a permission.revoked + permission.granted pair,
 *      pack.checked, model.verified.
 *
 * Body sizes: route.decision ~300 bytes, run.step ~250, run.started ~230,
 * run.policy ~150, run.finished 60-120, pack.installed ~700.
 *
 * On stderr, one summary line for the harness:
 *   gen_events n=N seed=S packs=P runs=R setup=K background=B
 *   sample_run=ID sample_run_events=E
 * The sample run (index R/2) is the one bench/run.sh queries by run id.
 *
 * --mix box: a box whose model calls go through `ledger proxy`: the run
 * events' route.decision is the one the proxy records (docs/PROXY.md's
 * fields: api, chosen_model, client, fallback, latency_ms,
 * model_requested, outcome, path, request_bytes, response_bytes, route,
 * run, status, stream, tokens_in, tokens_out, ttft_ms for a stream,
 * upstream, reason when not ok), and runs are 90% of such calls, 7%
 * run.step and 3% run.policy. Everything else is as above.
 *
 * Speed: formats with snprintf into a 1 MiB buffer and writes it in blocks;
 * well over 1M lines/s on one core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_CAP (1u << 20)
#define EVENT_MAX 4096 /* bytes one formatted event may take */
#define NMODELS 10
#define MAX_OPEN_RUNS 16
#define BG_QUEUE 8
#define RUN_EVENTS_DEFAULT 100

static const char *const models[NMODELS] = {
    "qwen2.5-7b-instruct@q4_k_m",
    "llama3.2-3b-instruct@q8_0",
    "mistral-7b-instruct-v0.3@q4_k_m",
    "llama3.1-8b-instruct@q5_k_m",
    "gemma2-9b-it@q4_k_m",
    "phi3.5-mini-instruct@q4_k_m",
    "qwen2.5-coder-7b@q4_k_m",
    "deepseek-r1-distill-qwen-7b@q4_k_m",
    "granite3.1-8b-instruct@q4_k_m",
    "nomic-embed-text-v1.5@f16"};

static const char *const pack_bases[] = {
    "pdf-ops",        "mail-triage",  "code-review",  "invoice-extract",
    "meeting-notes",  "support-desk", "doc-search",   "translate",
    "contract-check", "log-analyst",  "receipt-scan", "calendar-assist"};
#define NPACK_BASES (sizeof pack_bases / sizeof pack_bases[0])

static const char *const verbs[] = {"extract", "summarize", "classify",
                                    "answer",  "rewrite",   "plan"};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static const char *const steps[] = {"read-input",   "extract-text", "chunk",
                                    "embed",        "retrieve",     "draft",
                                    "check-policy", "write-report"};
#define NSTEPS (sizeof steps / sizeof steps[0])

static const char *const tools[] = {"pdftotext", "fs.read", "fs.write",
                                    "http",      "python",  "tesseract",
                                    "sqlite",    "ripgrep"};
#define NTOOLS (sizeof tools / sizeof tools[0])

static const char *const intents[] = {
    "extract invoice totals from ~/Documents/invoices",
    "summarize this week's meeting notes for the team",
    "triage the unread support mail and draft replies",
    "review the open merge request for policy violations",
    "translate the product sheet into German and French",
    "answer the customer's question from the knowledge base"};
#define NINTENTS (sizeof intents / sizeof intents[0])

static const char *const requesters[] = {"operator", "scheduler", "api:token-3",
                                         "cron:nightly"};
#define NREQUESTERS (sizeof requesters / sizeof requesters[0])

struct run_slot {
    uint64_t index; /* run number, 0-based */
    uint64_t pos;   /* events of this run already written */
    uint64_t len;   /* events this run will have */
};

struct gen {
    uint64_t rng;
    unsigned npacks;
    uint64_t nruns;
    uint64_t run_events; /* events belonging to runs, all runs together */
    uint64_t next_run;   /* next run index to open */
    struct run_slot open[MAX_OPEN_RUNS];
    unsigned nopen;
    uint64_t bg_scenario;          /* background scenarios drawn so far */
    char bgq[BG_QUEUE][EVENT_MAX]; /* pending background events */
    unsigned bgq_head, bgq_len;
    char *out;
    size_t out_len;
    uint64_t written;
    uint64_t limit; /* lines to write in all; emit drops the rest */
    int box;        /* --mix box */
};

static uint64_t
rnd(struct gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform-enough integer in [0, n) for the small n used here. */
static uint64_t
below(struct gen *g, uint64_t n)
{
    return n ? rnd(g) % n : 0;
}

static uint64_t
between(struct gen *g, uint64_t lo, uint64_t hi)
{
    return lo + below(g, hi - lo + 1);
}

/* 64 lowercase hex digits (a fake SHA-256) and a NUL into out[65]. */
static void
hex64(struct gen *g, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int w = 0; w < 4; w++) {
        uint64_t v = rnd(g);
        for (int i = 0; i < 16; i++) {
            out[w * 16 + i] = digits[v & 15];
            v >>= 4;
        }
    }
    out[64] = '\0';
}

static void
flush_out(struct gen *g)
{
    if (g->out_len && fwrite(g->out, 1, g->out_len, stdout) != g->out_len) {
        fprintf(stderr, "gen_events: writing stdout: %s\n", strerror(errno));
        exit(1);
    }
    g->out_len = 0;
}

/* Writes one event line straight into the output buffer. */
__attribute__((format(printf, 2, 3))) static void
emit(struct gen *g, const char *fmt, ...)
{
    if (g->written >= g->limit)
        return;
    if (OUT_CAP - g->out_len < EVENT_MAX)
        flush_out(g);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->out + g->out_len, EVENT_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= EVENT_MAX) {
        fprintf(stderr, "gen_events: event longer than %d bytes\n", EVENT_MAX);
        exit(1);
    }
    g->out_len += (size_t)n;
    g->written++;
}

static void
pack_name(char *buf, size_t cap, unsigned p)
{
    if (p < NPACK_BASES)
        snprintf(buf, cap, "%s", pack_bases[p]);
    else
        snprintf(buf, cap, "%s-%u", pack_bases[p % NPACK_BASES],
                 (unsigned)(p / NPACK_BASES));
}

/* Route r (0 or 1) of pack p, its primary model and its fallback. */
static void
route_name(char *buf, size_t cap, unsigned p, unsigned r)
{
    char pack[64];
    pack_name(pack, sizeof pack, p);
    snprintf(buf, cap, "%s/%s", pack, verbs[(p + r) % NVERBS]);
}

static const char *
route_primary(unsigned p, unsigned r)
{
    return models[(p * 2 + r) % (NMODELS - 1)]; /* never the embedder */
}

static const char *
route_fallback(unsigned p, unsigned r)
{
    return models[(p * 2 + r + 4) % (NMODELS - 1)];
}

/* ------------------------------------------------------------- setup -- */

static void
setup_models(struct gen *g)
{
    char h[65];
    emit(g, "{\"type\":\"host.profile\",\"body\":{\"cpu\":\"AMD Ryzen 9 "
            "7950X\",\"cores\":16,\"ram_mb\":65536,\"gpus\":[{\"name\":"
            "\"RTX 4090\",\"vram_mb\":24564}],\"disk_free_mb\":912000,"
            "\"tier\":2}}\n");
    emit(g, "{\"type\":\"runtime.registered\",\"body\":{\"runtime\":"
            "\"ollama\",\"endpoint\":\"http://127.0.0.1:11434\","
            "\"version\":\"0.5.7\"}}\n");
    emit(g, "{\"type\":\"runtime.registered\",\"body\":{\"runtime\":"
            "\"llama.cpp\",\"endpoint\":\"http://127.0.0.1:8080\","
            "\"version\":\"b4460\"}}\n");
    emit(g, "{\"type\":\"runtime.health\",\"body\":{\"runtime\":\"ollama\","
            "\"status\":\"up\",\"latency_ms\":3}}\n");
    emit(g, "{\"type\":\"runtime.health\",\"body\":{\"runtime\":"
            "\"llama.cpp\",\"status\":\"up\",\"latency_ms\":2}}\n");
    for (unsigned m = 0; m < NMODELS; m++) {
        hex64(g, h);
        emit(g,
             "{\"type\":\"model.registered\",\"body\":{\"model\":\"%s\","
             "\"digest\":\"sha256:%s\",\"size_bytes\":%" PRIu64 ","
             "\"format\":\"gguf\",\"quant\":\"Q4_K_M\",\"runtime\":\"%s\","
             "\"capabilities\":[\"chat\",\"tools\"],\"source\":{\"url\":"
             "\"https://example.invalid/models/%u.gguf\",\"sha256\":\"%s\"},"
             "\"license\":\"apache-2.0\"}}\n",
             models[m], h, between(g, 300000000, 9000000000ull),
             m % 3 ? "ollama" : "llama.cpp", m, h);
    }
    for (unsigned m = 0; m < NMODELS; m++)
        emit(g,
             "{\"type\":\"model.state\",\"body\":{\"model\":\"%s\","
             "\"state\":\"available\"}}\n",
             models[m]);
}

static void
setup_pack(struct gen *g, unsigned p)
{
    char pack[64], r0[96], r1[96], h[65];
    static const char *const groups[3] = {"fs.read", "exec", "net.egress"};
    static const char *const tiers[3] = {"T1", "T1", "T3"};
    char scopes[3][96];

    pack_name(pack, sizeof pack, p);
    route_name(r0, sizeof r0, p, 0);
    route_name(r1, sizeof r1, p, 1);
    snprintf(scopes[0], sizeof scopes[0], "~/Documents/%s", pack);
    snprintf(scopes[1], sizeof scopes[1], "%s", tools[p % NTOOLS]);
    snprintf(scopes[2], sizeof scopes[2], "api.%s.example.invalid", pack);

    hex64(g, h);
    emit(g,
         "{\"type\":\"pack.installed\",\"body\":{\"pack\":\"%s\","
         "\"version\":\"0.%u.%u\",\"manifest_digest\":\"sha256:%s\","
         "\"requires\":{\"permissions\":[{\"group\":\"%s\",\"scope\":\"%s\","
         "\"tier\":\"%s\"},{\"group\":\"%s\",\"scope\":\"%s\",\"tier\":"
         "\"%s\"},{\"group\":\"%s\",\"scope\":\"%s\",\"tier\":\"%s\","
         "\"optional\":true}],\"routes\":[\"%s\",\"%s\"],\"models\":[\"%s\","
         "\"%s\"],\"evals\":[\"%s-smoke\"]},\"source\":\"local:/opt/packs/"
         "%s.tar\"}}\n",
         pack, 1 + p % 7, p % 13, h, groups[0], scopes[0], tiers[0], groups[1],
         scopes[1], tiers[1], groups[2], scopes[2], tiers[2], r0, r1,
         route_primary(p, 0), route_primary(p, 1), pack, pack);
    emit(g,
         "{\"type\":\"pack.validated\",\"body\":{\"pack\":\"%s\","
         "\"ok\":true}}\n",
         pack);
    for (int i = 0; i < 3; i++)
        emit(g,
             "{\"type\":\"permission.requested\",\"body\":{\"pack\":\"%s\","
             "\"group\":\"%s\",\"scope\":\"%s\",\"tier\":\"%s\"}}\n",
             pack, groups[i], scopes[i], tiers[i]);
    for (int i = 0; i < 2; i++)
        emit(g,
             "{\"type\":\"permission.granted\",\"body\":{\"pack\":\"%s\","
             "\"group\":\"%s\",\"scope\":\"%s\",\"by\":\"operator\"}}\n",
             pack, groups[i], scopes[i]);
    emit(g,
         "{\"type\":\"permission.denied\",\"body\":{\"pack\":\"%s\","
         "\"group\":\"%s\",\"scope\":\"%s\",\"by\":\"operator\","
         "\"reason\":\"no cloud egress on this box\"}}\n",
         pack, groups[2], scopes[2]);
    for (unsigned r = 0; r < 2; r++)
        emit(g,
             "{\"type\":\"route.declared\",\"body\":{\"route\":\"%s\","
             "\"pack\":\"%s\",\"model\":\"%s\",\"fallbacks\":[\"%s\"],"
             "\"eval_suite\":\"%s-smoke\",\"threshold\":{\"metric\":"
             "\"pass_rate\",\"op\":\">=\",\"value\":0.%u}}}\n",
             r ? r1 : r0, pack, route_primary(p, r), route_fallback(p, r), pack,
             8 + r);
    /* Evals: each route with its primary, then route 0 with a candidate
     * that gets promoted. */
    for (unsigned e = 0; e < 3; e++) {
        const char *route = e == 1 ? r1 : r0;
        const char *cand = e == 2 ? route_fallback(p, 0) : route_primary(p, e);
        unsigned total = 40, passed = (unsigned)between(g, 37, 40);
        emit(g,
             "{\"type\":\"eval.started\",\"body\":{\"eval_id\":\"E-%u-%u\","
             "\"suite\":\"%s-smoke\",\"target\":\"route:%s\","
             "\"candidate\":\"%s\"}}\n",
             p, e, pack, route, cand);
        emit(g,
             "{\"type\":\"eval.result\",\"body\":{\"eval_id\":\"E-%u-%u\","
             "\"suite\":\"%s-smoke\",\"target\":\"route:%s\","
             "\"candidate\":\"%s\",\"passed\":true,\"cases_total\":%u,"
             "\"cases_passed\":%u,\"metrics\":{\"pass_rate\":%.3f,"
             "\"latency_p50_ms\":%u,\"latency_p95_ms\":%u},"
             "\"policy_violations\":0}}\n",
             p, e, pack, route, cand, total, passed, (double)passed / total,
             (unsigned)between(g, 300, 900), (unsigned)between(g, 1000, 2500));
    }
    emit(g,
         "{\"type\":\"promotion.requested\",\"body\":{\"target\":"
         "\"route:%s\",\"candidate\":\"%s\",\"eval_id\":\"E-%u-2\"}}\n",
         r0, route_fallback(p, 0), p);
    emit(g,
         "{\"type\":\"promotion.promoted\",\"body\":{\"target\":"
         "\"route:%s\",\"candidate\":\"%s\",\"previous\":\"%s\","
         "\"eval_id\":\"E-%u-2\"}}\n",
         r0, route_fallback(p, 0), route_primary(p, 0), p);
}

/* ---------------------------------------------------------------- runs -- */

static void
run_id(char *buf, size_t cap, uint64_t index)
{
    snprintf(buf, cap, "R-%08" PRIu64, index + 1);
}

/* Length of run i: the run events split evenly, the first ones one longer. */
static uint64_t
run_len(const struct gen *g, uint64_t i)
{
    uint64_t base = g->run_events / g->nruns;
    return base + (i < g->run_events % g->nruns ? 1 : 0);
}

static void
emit_route_decision(struct gen *g, const char *run, unsigned p)
{
    char route[96];
    unsigned r = (unsigned)below(g, 2);
    uint64_t u = below(g, 100);
    int fallback = u < 5;
    const char *outcome = "ok";
    uint64_t o = below(g, 100);
    if (o < 2)
        outcome = "error";
    else if (o < 3)
        outcome = "refused";
    route_name(route, sizeof route, p, r);
    emit(g,
         "{\"type\":\"route.decision\",\"body\":{\"route\":\"%s\","
         "\"chosen_model\":\"%s\",\"run\":\"%s\",\"request_id\":"
         "\"q-%016" PRIx64 "\",\"candidates\":[\"%s\",\"%s\"],\"reason\":"
         "\"%s\",\"fallback\":%s,\"latency_ms\":%u,\"tokens_in\":%u,"
         "\"tokens_out\":%u,\"outcome\":\"%s\"}}\n",
         route, fallback ? route_fallback(p, r) : route_primary(p, r), run,
         rnd(g), route_primary(p, r), route_fallback(p, r),
         fallback ? "primary offline" : "primary available",
         fallback ? "true" : "false", (unsigned)between(g, 40, 4000),
         (unsigned)between(g, 200, 8000), (unsigned)between(g, 20, 1200),
         outcome);
}

static void
emit_run_step(struct gen *g, const char *run, uint64_t pos)
{
    char h[65];
    uint64_t u = below(g, 100);
    const char *status = u < 3 ? "failed" : u < 4 ? "skipped" : "ok";
    unsigned s = (unsigned)(pos % NSTEPS), t = (unsigned)below(g, NTOOLS);
    hex64(g, h);
    emit(
        g,
        "{\"type\":\"run.step\",\"body\":{\"run\":\"%s\",\"step\":\"%s-%" PRIu64
        "\",\"tool\":\"%s\",\"tier\":\"T%u\",\"status\":\"%s\","
        "\"duration_ms\":%u,\"artifacts\":[{\"name\":\"%s-%" PRIu64
        ".out\",\"sha256\":\"%s\"}]}}\n",
        run, steps[s], pos, tools[t], (unsigned)below(g, 3), status,
        (unsigned)between(g, 3, 9000), steps[s], pos, h);
}

static void
emit_run_policy(struct gen *g, const char *run, unsigned p)
{
    char pack[64];
    int deny = below(g, 10) == 0;
    unsigned t = (unsigned)below(g, NTOOLS);
    pack_name(pack, sizeof pack, p);
    emit(g,
         "{\"type\":\"run.policy\",\"body\":{\"run\":\"%s\",\"decision\":"
         "\"%s\",\"rule\":\"%s:~/Documents/%s/inbox\",\"tool\":\"%s\","
         "\"tier\":\"T%u\"}}\n",
         run, deny ? "deny" : "allow", deny ? "net.egress" : "fs.read", pack,
         tools[t], deny ? 3u : 1u);
}

/* A model call as `ledger proxy` records it (docs/PROXY.md). */
static void
emit_proxy_call(struct gen *g, const char *run, unsigned p)
{
    static const char *const apis[][2] = {
        {"openai.chat", "/v1/chat/completions"},
        {"ollama.chat", "/api/chat"},
        {"openai.embeddings", "/v1/embeddings"}};
    static const char *const exes[] = {"/usr/bin/python3.11",
                                       "/usr/local/bin/agent",
                                       "/opt/packs/bin/pack-runner"};
    char route[96], ttft[32] = "", reason[128] = "";
    unsigned r = (unsigned)below(g, 2), a = (unsigned)below(g, 10);
    int fallback = below(g, 100) < 5, stream, err = below(g, 100) < 2;
    const char *model = fallback ? route_fallback(p, r) : route_primary(p, r);
    unsigned lat = (unsigned)between(g, 40, 4000);
    a = a < 7 ? 0 : a < 9 ? 1 : 2;
    stream = a != 2 && below(g, 2);
    route_name(route, sizeof route, p, r);
    if (stream)
        snprintf(ttft, sizeof ttft, ",\"ttft_ms\":%u",
                 (unsigned)between(g, 20, lat));
    if (err)
        snprintf(reason, sizeof reason, ",\"reason\":\"upstream answered %u\"",
                 500u);
    else if (fallback)
        snprintf(reason, sizeof reason,
                 ",\"reason\":\"%s: connection refused\"",
                 route_primary(p, r));
    emit(g,
         "{\"type\":\"route.decision\",\"body\":{\"api\":\"%s\","
         "\"chosen_model\":\"%s\",\"client\":{\"exe\":\"%s\","
         "\"gid\":1000,\"pid\":%u,\"transport\":\"unix\",\"uid\":1000},"
         "\"fallback\":%s,\"latency_ms\":%u.%03u,\"model_requested\":"
         "\"%s\",\"outcome\":\"%s\",\"path\":\"%s\",\"request_bytes\":%u,"
         "\"response_bytes\":%u,\"route\":\"%s\",\"run\":\"%s\","
         "\"status\":%u,\"stream\":%s%s,\"tokens_in\":%u,"
         "\"tokens_out\":%u,\"upstream\":\"%s\"%s}}\n",
         apis[a][0], model, exes[p % 3], 2000u + p * 7, fallback ? "true" : "false",
         lat, (unsigned)below(g, 1000), route_primary(p, r),
         err ? "error" : "ok", apis[a][1], (unsigned)between(g, 200, 24000),
         (unsigned)between(g, 150, 9000), route, run, err ? 500u : 200u,
         stream ? "true" : "false", ttft, (unsigned)between(g, 20, 6000),
         (unsigned)between(g, 1, 1200), a == 1 ? "ollama" : "llamacpp",
         reason);
}

/* Writes the next event of the run in slot s. Returns 1 when the run is
 * complete. */
static int
run_next(struct gen *g, struct run_slot *s)
{
    char run[32], pack[64], h[65];
    unsigned p = (unsigned)(s->index % g->npacks);
    run_id(run, sizeof run, s->index);
    if (s->pos == 0) {
        pack_name(pack, sizeof pack, p);
        hex64(g, h);
        emit(g,
             "{\"type\":\"run.started\",\"body\":{\"run\":\"%s\",\"pack\":"
             "\"%s\",\"intent\":\"%s\",\"requested_by\":\"%s\","
             "\"plan_hash\":\"sha256:%s\"}}\n",
             run, pack, intents[below(g, NINTENTS)],
             requesters[below(g, NREQUESTERS)], h);
    } else if (s->pos + 1 == s->len) {
        uint64_t u = below(g, 100);
        if (u < 6)
            emit(g,
                 "{\"type\":\"run.finished\",\"body\":{\"run\":\"%s\","
                 "\"status\":\"%s\",\"duration_ms\":%u,\"error\":\"%s\"}}\n",
                 run, u < 5 ? "failed" : "aborted",
                 (unsigned)between(g, 100, 600000),
                 u < 5 ? "step failed: tool exited with status 1"
                       : "aborted by operator");
        else
            emit(g,
                 "{\"type\":\"run.finished\",\"body\":{\"run\":\"%s\","
                 "\"status\":\"ok\",\"duration_ms\":%u}}\n",
                 run, (unsigned)between(g, 100, 600000));
    } else {
        uint64_t u = below(g, 100);
        if (g->box && u < 90)
            emit_proxy_call(g, run, p);
        else if (g->box && u < 97)
            emit_run_step(g, run, s->pos);
        else if (g->box)
            emit_run_policy(g, run, p);
        else if (u < 80)
            emit_route_decision(g, run, p);
        else if (u < 93)
            emit_run_step(g, run, s->pos);
        else
            emit_run_policy(g, run, p);
    }
    s->pos++;
    return s->pos >= s->len;
}

/* Opens runs until MAX_OPEN_RUNS are open or none are left. */
static void
open_runs(struct gen *g)
{
    while (g->nopen < MAX_OPEN_RUNS && g->next_run < g->nruns) {
        struct run_slot *s = &g->open[g->nopen++];
        s->index = g->next_run++;
        s->pos = 0;
        s->len = run_len(g, s->index);
    }
}

static void
run_event(struct gen *g)
{
    unsigned i = (unsigned)below(g, g->nopen);
    if (run_next(g, &g->open[i])) {
        g->open[i] = g->open[--g->nopen];
        open_runs(g);
    }
}

/* ---------------------------------------------------------- background -- */

__attribute__((format(printf, 2, 3))) static void
bg_push(struct gen *g, const char *fmt, ...)
{
    if (g->bgq_len >= BG_QUEUE) {
        fprintf(stderr, "gen_events: background queue overflow\n");
        exit(1);
    }
    char *dst = g->bgq[(g->bgq_head + g->bgq_len) % BG_QUEUE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, EVENT_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= EVENT_MAX) {
        fprintf(stderr, "gen_events: event longer than %d bytes\n", EVENT_MAX);
        exit(1);
    }
    g->bgq_len++;
}

static void
bg_eval_sweep(struct gen *g, uint64_t k)
{
    unsigned p = (unsigned)below(g, g->npacks), r = (unsigned)below(g, 2);
    char route[96], pack[64];
    const char *cand = models[below(g, NMODELS - 1)];
    unsigned total = 200, passed = (unsigned)between(g, 150, 200);
    int ok = passed >= 180;
    route_name(route, sizeof route, p, r);
    pack_name(pack, sizeof pack, p);
    bg_push(g,
            "{\"type\":\"eval.started\",\"body\":{\"eval_id\":\"E-bg-%" PRIu64
            "\",\"suite\":\"%s-full\",\"target\":\"route:%s\","
            "\"candidate\":\"%s\"}}\n",
            k, pack, route, cand);
    bg_push(g,
            "{\"type\":\"eval.result\",\"body\":{\"eval_id\":\"E-bg-%" PRIu64
            "\",\"suite\":\"%s-full\",\"target\":\"route:%s\","
            "\"candidate\":\"%s\",\"passed\":%s,\"cases_total\":%u,"
            "\"cases_passed\":%u,\"metrics\":{\"pass_rate\":%.3f,"
            "\"latency_p50_ms\":%u,\"latency_p95_ms\":%u},"
            "\"policy_violations\":%u}}\n",
            k, pack, route, cand, ok ? "true" : "false", total, passed,
            (double)passed / total, (unsigned)between(g, 300, 900),
            (unsigned)between(g, 1000, 2500), ok ? 0u : 1u);
    bg_push(g,
            "{\"type\":\"promotion.requested\",\"body\":{\"target\":"
            "\"route:%s\",\"candidate\":\"%s\",\"eval_id\":\"E-bg-%" PRIu64
            "\"}}\n",
            route, cand, k);
    if (ok)
        bg_push(g,
                "{\"type\":\"promotion.promoted\",\"body\":{\"target\":"
                "\"route:%s\",\"candidate\":\"%s\",\"previous\":\"%s\","
                "\"eval_id\":\"E-bg-%" PRIu64 "\"}}\n",
                route, cand, route_primary(p, r), k);
    else
        bg_push(g,
                "{\"type\":\"promotion.rejected\",\"body\":{\"target\":"
                "\"route:%s\",\"candidate\":\"%s\",\"reason\":\"pass rate "
                "%.3f below threshold 0.900\"}}\n",
                route, cand, (double)passed / total);
}

/* Queues the next background scenario. */
static void
bg_refill(struct gen *g)
{
    static const char *const states[] = {"loaded", "parked", "available",
                                         "offline"};
    uint64_t k = g->bg_scenario++;
    unsigned p = (unsigned)below(g, g->npacks), r = (unsigned)below(g, 2);
    const char *model = models[below(g, NMODELS)];
    char pack[64], route[96], h[65];
    pack_name(pack, sizeof pack, p);
    route_name(route, sizeof route, p, r);

    switch (k % 8) {
    case 0:
    case 4:
        bg_push(g,
                "{\"type\":\"model.state\",\"body\":{\"model\":\"%s\","
                "\"state\":\"%s\",\"reason\":\"runtime scheduler: vram "
                "pressure %u%%\"}}\n",
                model, states[below(g, 4)], (unsigned)between(g, 40, 99));
        break;
    case 1:
        bg_push(g,
                "{\"type\":\"runtime.health\",\"body\":{\"runtime\":\"%s\","
                "\"status\":\"%s\",\"latency_ms\":%u,\"detail\":\"probe "
                "GET /api/tags\"}}\n",
                k % 16 == 1 ? "ollama" : "llama.cpp",
                below(g, 20) ? "up" : "degraded", (unsigned)between(g, 1, 80));
        bg_push(g,
                "{\"type\":\"capacity.snapshot\",\"body\":{\"ram_free_mb\":%u,"
                "\"vram_free_mb\":%u,\"disk_free_mb\":%u,\"loaded_models\":"
                "[\"%s\"]}}\n",
                (unsigned)between(g, 4000, 60000),
                (unsigned)between(g, 500, 20000),
                (unsigned)between(g, 100000, 900000), model);
        break;
    case 2:
        bg_eval_sweep(g, k);
        break;
    case 3:
        bg_push(g,
                "{\"type\":\"permission.revoked\",\"body\":{\"pack\":\"%s\","
                "\"group\":\"exec\",\"scope\":\"%s\",\"by\":\"operator\","
                "\"reason\":\"tool upgrade under review\"}}\n",
                pack, tools[p % NTOOLS]);
        bg_push(g,
                "{\"type\":\"permission.granted\",\"body\":{\"pack\":\"%s\","
                "\"group\":\"exec\",\"scope\":\"%s\",\"by\":\"operator\","
                "\"expires\":\"2027-01-01T00:00:00Z\"}}\n",
                pack, tools[p % NTOOLS]);
        break;
    case 5:
        bg_push(g,
                "{\"type\":\"pack.checked\",\"body\":{\"pack\":\"%s\","
                "\"ok\":true,\"clauses\":[{\"name\":\"tool-present\","
                "\"ok\":true},{\"name\":\"out-dir-writable\",\"ok\":true}]}}"
                "\n",
                pack);
        break;
    case 6:
        hex64(g, h);
        bg_push(g,
                "{\"type\":\"model.verified\",\"body\":{\"model\":\"%s\","
                "\"digest\":\"sha256:%s\",\"ok\":true}}\n",
                model, h);
        break;
    default:
        bg_push(g,
                "{\"type\":\"promotion.rolled_back\",\"body\":{\"target\":"
                "\"route:%s\",\"to\":\"%s\",\"reason\":\"error rate rose "
                "after promotion\"}}\n",
                route, route_primary(p, r));
        break;
    }
}

static void
bg_event(struct gen *g)
{
    if (g->bgq_len == 0)
        bg_refill(g);
    const char *ev = g->bgq[g->bgq_head];
    size_t n = strlen(ev);
    if (OUT_CAP - g->out_len < EVENT_MAX)
        flush_out(g);
    memcpy(g->out + g->out_len, ev, n);
    g->out_len += n;
    g->written++;
    g->bgq_head = (g->bgq_head + 1) % BG_QUEUE;
    g->bgq_len--;
}

/* ---------------------------------------------------------------- main -- */

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: gen_events N [--seed S] [--runs R] [--packs P] "
                    "[--mix bench|box]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    uint64_t n = 0, seed = 1, runs = 0, packs = 20;
    int have_n = 0, box = 0;
    for (int i = 1; i < argc; i++) {
        uint64_t *dst = NULL;
        if (!strcmp(argv[i], "--mix")) {
            if (i + 1 >= argc || (strcmp(argv[i + 1], "box") &&
                                  strcmp(argv[i + 1], "bench")))
                usage();
            box = !strcmp(argv[++i], "box");
            continue;
        }
        if (!strcmp(argv[i], "--seed"))
            dst = &seed;
        else if (!strcmp(argv[i], "--runs"))
            dst = &runs;
        else if (!strcmp(argv[i], "--packs"))
            dst = &packs;
        if (dst) {
            const char *opt = argv[i];
            if (i + 1 >= argc || parse_u64(argv[++i], dst)) {
                fprintf(stderr, "gen_events: %s needs a number\n", opt);
                usage();
            }
        } else if (!have_n && parse_u64(argv[i], &n) == 0) {
            have_n = 1;
        } else {
            fprintf(stderr, "gen_events: unexpected argument '%s'\n", argv[i]);
            usage();
        }
    }
    if (!have_n)
        usage();
    if (packs < 1 || packs > 1000000) {
        fprintf(stderr, "gen_events: --packs must be 1..1000000\n");
        return 2;
    }

    static struct gen g; /* large (the queue); zeroed */
    g.rng = seed;
    g.limit = n;
    g.npacks = (unsigned)packs;
    g.box = box;
    g.out = malloc(OUT_CAP);
    if (!g.out) {
        fprintf(stderr, "gen_events: out of memory\n");
        return 1;
    }

    setup_models(&g);
    for (unsigned p = 0; p < g.npacks && g.written < n; p++)
        setup_pack(&g, p);
    uint64_t setup = g.written;
    uint64_t rest = n - setup;
    uint64_t bg_left = rest / 100;
    g.run_events = rest - bg_left;
    if (runs == 0)
        runs = (g.run_events + RUN_EVENTS_DEFAULT / 2) / RUN_EVENTS_DEFAULT;
    if (runs > g.run_events / 2) {
        /* Every run needs run.started and run.finished. */
        fprintf(stderr,
                "gen_events: only %" PRIu64 " runs fit in %" PRIu64
                " run events\n",
                g.run_events / 2, g.run_events);
        runs = g.run_events / 2;
    }
    if (runs == 0) {
        /* Too few events for a run: the rest is background. */
        bg_left += g.run_events;
        g.run_events = 0;
    }
    g.nruns = runs;
    open_runs(&g);

    uint64_t run_left = g.run_events, bg_total = bg_left;
    while (run_left + bg_left > 0) {
        if (bg_left && below(&g, run_left + bg_left) < bg_left) {
            bg_event(&g);
            bg_left--;
        } else {
            run_event(&g);
            run_left--;
        }
    }

    flush_out(&g);
    if (fflush(stdout)) {
        fprintf(stderr, "gen_events: writing stdout: %s\n", strerror(errno));
        return 1;
    }

    char sample[32] = "";
    uint64_t sample_len = 0;
    if (g.nruns) {
        run_id(sample, sizeof sample, g.nruns / 2);
        sample_len = run_len(&g, g.nruns / 2);
    }
    fprintf(stderr,
            "gen_events n=%" PRIu64 " seed=%" PRIu64 " packs=%u runs=%" PRIu64
            " setup=%" PRIu64 " background=%" PRIu64
            " sample_run=%s sample_run_events=%" PRIu64 "\n",
            n, seed, g.npacks, g.nruns, setup, bg_total,
            sample[0] ? sample : "-", sample_len);
    free(g.out);
    return 0;
}
