/*
 * serve.h — `ledger serve`: the ledger's front door for live systems.
 *
 * A server holds one open ledger and serves it on a Unix stream socket.
 * Clients write request lines (newline-delimited JSON: an ingest line plus
 * optional "id" and "time", docs/PROTOCOL.md) and read one response line
 * per request, in order: {"id":...,"seq":"N"} once the event is durably
 * committed, or {"id":...,"error":"...","code":65}.
 *
 * Threads: ldg_serve_run's thread does all socket I/O (epoll) and parses
 * requests; one writer thread owns the ledger handle while the server
 * runs and commits whatever has arrived from every connection as one
 * group (a lone event commits at once; events that arrive while a commit
 * is on disk share the next one). Nothing else may use the ledger handle
 * between ldg_serve_new and ldg_serve_free.
 *
 * Bounds (all enforced before anything is allocated for the input):
 *   - a request line is at most max_line bytes; a longer one is answered
 *     with an error and skipped to its newline, the connection goes on;
 *   - at most max_conns connections; one more is answered with an error
 *     line and closed. Peers that may write nothing (access.json) hold
 *     at most a quarter of them together, and one uid other than the
 *     daemon's own at most half, so capacity is always left for writers;
 *   - a connection with nothing in flight that sends nothing for idle_ms
 *     is closed (a writer's only while half of max_conns or more are
 *     taken), and one whose line does not complete within line_ms of its
 *     first byte is dropped (slow senders hold no slot for long);
 *   - a connection with more than queue_max requests (or queue_bytes of
 *     request text) waiting for the disk is not read until the writer
 *     catches up (backpressure);
 *   - a connection whose unread responses reach out_max bytes is not
 *     read any more, and is dropped if it has not read them within
 *     stall_ms;
 *   - when all connections together hold budget_bytes (input read and not
 *     yet requests, requests waiting, responses unsent), no connection is
 *     read until they hold less; meanwhile a connection that reads none
 *     of its responses for stall_ms is dropped, however few they are.
 *     If no request is waiting, one connection at a time (the one with
 *     the longest incomplete line) may read on up to the newline that
 *     completes its line (dropped if it has not within stall_ms): what
 *     is held may pass the budget by one read and one line.
 *     docs/PROTOCOL.md, "Limits".
 */
#ifndef LDG_SERVE_H
#define LDG_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "ledger/ledger.h"

/* The protocol version docs/PROTOCOL.md describes. */
#define LDG_SERVE_PROTOCOL 1

/* Default socket name inside the ledger directory. */
#define LDG_SERVE_SOCKET "ledger.sock"
/* A file in the ledger directory every running server holds a shared
 * flock(2) on, whatever socket it serves: how `ledger migrate` knows the
 * ledger is served (ldg_serve_held). Empty; never removed. */
#define LDG_SERVE_LOCK "serve.lock"
/* ldg_serve_options.budget_bytes's default: 64 MiB. A normal load (64
 * clients, 16 requests in flight each) holds about 100 KiB. */
#define LDG_SERVE_BUDGET_DEFAULT ((size_t)64 << 20)
/* ldg_serve_options.idle_ms's and line_ms's defaults: 10 min, 30 s. */
#define LDG_SERVE_IDLE_DEFAULT 600000u
#define LDG_SERVE_LINE_DEFAULT 30000u
/* The parts data.mdb's mapping is released in, one at a time (trim_events). */
#define LDG_SERVE_TRIM_PARTS 8

struct ldg_serve_options {
    /* Socket path; NULL: DIR/ledger.sock. Ignored when listen_fd >= 0. */
    const char *socket_path;
    /* Serve an already listening socket (socket activation: systemd's
     * sd_listen_fds) instead of binding one: has_listen_fd 1 and its fd. */
    int has_listen_fd;
    int listen_fd;
    unsigned max_conns; /* 0 = 4096 */
    size_t max_line;    /* bytes; 0 = body limit + 64 KiB */
    unsigned queue_max; /* requests waiting per connection; 0 = 256 */
    size_t queue_bytes; /* request bytes waiting per connection; 0 = 4 MiB */
    size_t out_max;     /* unread response bytes per connection; 0 = 1 MiB */
    /* Bytes held for all connections together (input read and not yet
     * requests, request text waiting, answers unsent); at or over it no
     * connection is read until it falls below. 0 =
     * LDG_SERVE_BUDGET_DEFAULT. */
    size_t budget_bytes;
    unsigned stall_ms; /* drop a stalled reader after; 0 = 10000 */
    /* Close a connection that has nothing in flight (no partial line, no
     * request waiting, no answer unsent) and has sent nothing for idle_ms,
     * if its peer may write nothing or half of max_conns or more are
     * taken; 0 = LDG_SERVE_IDLE_DEFAULT. A client that keeps a connection
     * open between rare events reconnects when it finds it closed. */
    unsigned idle_ms;
    /* Drop a connection whose line has not completed (its newline read)
     * within line_ms of its first byte, counted while the server is
     * willing to read it (a pause for backpressure or the budget starts
     * the count again); 0 = LDG_SERVE_LINE_DEFAULT. */
    unsigned line_ms;
    unsigned drain_ms; /* on stop: time to hand out the last responses;
                          0 = 5000 */
    size_t group_max;  /* events per commit at most; 0 = 4096 */
    unsigned sweep_ms; /* clear dead readers' slots this often, idle or
                          not (ldg_clear_dead_readers); 0 = 60000 */
    /* Drop the server's mappings of data.mdb's pages after this many
     * committed events (LDG_ACCESS_RELEASE: LMDB reads through a shared
     * map, so every page the idempotency and index lookups touch would
     * otherwise stay counted in the daemon's resident size as the log
     * grows; the pages stay in the page cache), a part at a time: one of
     * LDG_SERVE_TRIM_PARTS parts of the file every trim_events /
     * LDG_SERVE_TRIM_PARTS events (at least 1); and all of it every
     * trim_events / (2 LDG_SERVE_TRIM_PARTS) requests answered
     * "duplicate", whose lookups read pages anywhere in the file. 0 =
     * 8192. */
    unsigned trim_events;
    /* Who may write: NULL: DIR/access.json (docs/SYSTEMD.md; a missing
     * file lets only the server's own uid and root write). A malformed
     * file fails ldg_serve_new with LDG_EBADINPUT naming line and column
     * or key. */
    const char *writers_path;
    /* Called once from ldg_serve_run when the socket accepts connections
     * (e.g. to print "listening on PATH" or to tell systemd). */
    void (*on_ready)(void *ctx, const char *path);
    /* Called once from ldg_serve_run when it begins to stop (it no longer
     * accepts; what is in flight is still committed and answered), e.g.
     * to tell systemd STOPPING=1. */
    void (*on_stopping)(void *ctx);
    /* Called from ldg_serve_run after ldg_serve_reload: rc 0 (what is
     * the path of the rules now in force) or negative (what says why the
     * file was refused; the previous rules stay). */
    void (*on_reload)(void *ctx, int rc, const char *what);
    void *ctx;
};

struct ldg_server;

/* Creates a server over l (borrowed; must outlive the server) and binds
 * its socket (mode 0660: never world-writable). An existing socket file
 * at the path is replaced only when nothing answers on it; if another
 * server does, LDG_EBUSY; a file that is not a socket is never replaced:
 * LDG_EEXIST. err gets a message on failure. */
int ldg_serve_new(struct ldg_server **out, struct ldg_ledger *l,
                  const struct ldg_serve_options *opts, char *err,
                  size_t errcap);
/* 1 when a server holds the ledger in directory dir (LDG_SERVE_LOCK), 0
 * when none does, or a negative ldg_error. */
int ldg_serve_held(const char *dir);
/* Serves until ldg_serve_stop. Then it stops accepting and reading,
 * commits every complete request already read, hands out the responses
 * (within drain_ms), closes every connection and returns 0; a failure of
 * the event loop itself returns a negative code with a message in
 * ldg_serve_errmsg. Storage failures are answered per request and do not
 * stop the server. */
int ldg_serve_run(struct ldg_server *s);
/* Asks the server to stop. Async-signal-safe (a SIGTERM handler may call
 * it); any thread. */
void ldg_serve_stop(struct ldg_server *s);
/* Asks the server to read its access.json again (SIGHUP). Async-signal-
 * safe; any thread. */
void ldg_serve_reload(struct ldg_server *s);
/* The socket path served ("" for an inherited socket of unknown name). */
const char *ldg_serve_path(const struct ldg_server *s);
const char *ldg_serve_errmsg(const struct ldg_server *s);

/* Counters, readable from any thread while it runs or after: each is
 * read whole (atomically), but together they are not one snapshot. */
struct ldg_serve_stats {
    uint64_t conns;    /* connections accepted */
    uint64_t refused;  /* connections refused (max_conns) */
    uint64_t dropped;  /* connections dropped (stalled readers) */
    uint64_t requests; /* request lines read */
    uint64_t acked;    /* events committed and answered with their seq */
    uint64_t errors;   /* requests answered with an error */
    uint64_t commits;  /* group commits that appended events */
    uint64_t denied;   /* errors that were "not authorised" (access.json) */
    uint64_t sweeps;   /* dead-reader sweeps done */
    uint64_t cleared;  /* reader slots of dead processes cleared */
    uint64_t trims;    /* parts of data.mdb's mapping dropped (trim_events),
                        * and whole drops for duplicates (trim_events) */
    /* events whose id was already in the log (a sealed batch's count
     * for a batch sent again), answered with that event's seq and
     * "duplicate": nothing appended, not in acked */
    uint64_t duplicates;
    /* the budget (budget_bytes): bytes held now for all connections, the
     * most held at once, and how many times reading stopped at it */
    uint64_t held;
    uint64_t held_peak;
    uint64_t budget_stops;
    /* connections closed for idle_ms with nothing in flight, and dropped
     * for a line not completed within line_ms (neither in dropped) */
    uint64_t idle_closed;
    uint64_t slow_dropped;
    /* of refused: connections refused for a share (docs/PROTOCOL.md,
     * "Limits"): peers with no write right hold at most a quarter of
     * max_conns together, and one uid other than the daemon's own at
     * most half */
    uint64_t refused_share;
    /* epoch keys ended at their period's end (docs/EPOCHS.md), and
     * tries to end them that failed (tried again 5 s later) */
    uint64_t epochs_ended;
    uint64_t epoch_failures;
    /* answers the writer sent to the client itself, with nothing else
     * queued for it (server.c, "Direct answers"); the loop sent the rest.
     * One may go to a connection the loop has just dropped (also counted
     * in dropped or slow_dropped): the client still gets a true answer. */
    uint64_t direct;
};
void ldg_serve_stats(const struct ldg_server *s, struct ldg_serve_stats *st);

/* Closes the socket (removing the file it bound) and frees everything. */
void ldg_serve_free(struct ldg_server *s);

/* -------------------------------------------------- in-process writers -- */

/*
 * A writer in the server's own process (the OTLP receiver, otlp/otlp.h)
 * hands its events to the server's writer thread directly: they are
 * committed in the same groups as the clients' lines, with the same
 * checks (ldg_batch_add_seq: the vocabulary, ids already in the log), and
 * answered once durable. No access.json rule applies: the caller is the
 * daemon itself.
 */
struct ldg_serve_done {
    /* 0: the group was committed (each event's outcome below); < 0:
     * nothing of the batch was written (the disk is full, an I/O error),
     * why says so and that it may be sent again; LDG_EVERSION: the ledger
     * is at an older store layout, why names the migrate, and the batch
     * sent again is refused the same way */
    int rc;
    const char *why; /* rc < 0, or the first refused event's reason, ""
                        when none was refused */
    size_t n;
    size_t appended, duplicates, refused;
    /* per event: 0 appended, 1 duplicate (its id was in the log: seqs[i]
     * is that event's), < 0 the ldg_error it was refused with */
    const int *outcome;
    const uint64_t *seqs;
    /* per event with outcome 1: what of it differs from the event in the
     * log (LDG_DIFF_* bits, ledger/ledger.h; 0 the same event) */
    const unsigned *differs;
};
/* Called once per ldg_serve_submit, on the server's writer thread: keep
 * it short (d and its arrays are valid only during the call). */
typedef void (*ldg_serve_done_fn)(void *cls, const struct ldg_serve_done *d);
/* Queues n events (borrowed: evs and everything they point to must stay
 * valid until done is called) for the writer; they go into one commit,
 * whole, with whatever else is queued. From any thread while
 * ldg_serve_run runs. @return 0 (done will be called exactly once),
 * LDG_EIO when the writer does not take events (not running yet, or
 * stopping: done is never called), LDG_ENOMEM, LDG_EINVAL. */
int ldg_serve_submit(struct ldg_server *s, const struct ldg_event_in *evs,
                     size_t n, ldg_serve_done_fn done, void *cls);
/* Events queued for the writer and not yet taken into a commit (clients'
 * requests count one each): how far behind the writer is. Any thread. */
uint64_t ldg_serve_backlog(const struct ldg_server *s);

/* ------------------------------------------------------ interval jobs -- */

/*
 * serve/jobs.c: the jobs `ledger serve` runs on an interval
 * (--probe-every, --publish-every URL, --ship-every URL, --verify-every,
 * --prune-every), one at a time, on a thread of their own, each a
 * function of this library (serve/job_run.c: the probe through the
 * server's socket, publish, ship, ldg_verify_full of the new events, the
 * retention policy) run in a process of its own that opens the ledger
 * itself, with a time limit (the interval, at least 30 s, at most 10
 * min): a job that hangs or crashes is killed and the server goes on
 * acking. No program is executed: the processes are forked by a runner
 * that ldg_jobs_new forks (util/spawn.c), so an embedder needs no
 * `ledger` binary. A failed run is reported through the log function
 * (ldg_jobs_set_log) with the job's last lines and retried after 5 s,
 * 10 s, 20 s, ... up to the interval. The library prints nothing itself.
 * What each job did last is kept in DIR/serve-status.json (written whole:
 * temporary file, fsync, rename) and sent as systemd's STATUS=.
 *
 * Threads: call ldg_jobs_new before the process starts any thread (the
 * runner is a fork, and a fork copies whatever lock another thread
 * holds); then one owner calls add/start/free; ldg_jobs_quit may be
 * called from any thread (not from a signal handler).
 */
#define LDG_SERVE_STATUS_FILE "serve-status.json"
struct ldg_jobs;
/* "30s", "5m", "1h", "2d", "500ms"; a bare number is seconds; 1 s to 30
 * days. 0 with *ms, -1 if s is not such a duration. */
int ldg_jobs_parse_every(const char *s, uint64_t *ms);
/* An empty set of jobs, and their runner (a process forked now: call it
 * before any thread starts). LDG_ENOMEM; LDG_EIO (no fork). */
int ldg_jobs_new(struct ldg_jobs **out);
/* The runner of js's jobs, for other jobs of the server's (the metrics
 * endpoint's scrapes, ldg_metrics_endpoint_opts.jobs). */
struct ldg_runner;
struct ldg_runner *ldg_jobs_runner(const struct ldg_jobs *js);
/* Where the jobs report, one line at a time without a newline: each
 * child's output ("probe: ..."), a failed run ("publish failed (exit 74,
 * 2 in a row): ...; retrying in 10 s", or without "exit N" when the child
 * could not start or was killed), a status file that cannot be written,
 * systemd that cannot be told. Called on the jobs' thread; log may be
 * NULL (nothing is reported). Set before ldg_jobs_start. */
void ldg_jobs_set_log(struct ldg_jobs *js,
                      void (*log)(void *ctx, const char *line), void *ctx);
/* Adds job name ("probe", "publish", "ship", "verify" or "prune") every
 * `every` (a duration as above); url (borrowed: must outlive js) is
 * required for publish and ship, refused for the others, and must be
 * http(s).
 * LDG_EBADINPUT with the reason in err (a job given twice, a bad duration
 * or URL). */
int ldg_jobs_add(struct ldg_jobs *js, const char *name, const char *every,
                 const char *url, char *err, size_t errcap);
size_t ldg_jobs_count(const struct ldg_jobs *js);
/* Writes DIR/serve-status.json (state "serving", socket sock; dir is
 * the ledger directory, copied) and starts the jobs' thread when there
 * are jobs; each runs once at once. LDG_EIO with err when the thread or
 * the program's own path cannot be had (the server may go on without its
 * jobs). */
int ldg_jobs_start(struct ldg_jobs *js, const char *dir, const char *sock,
                   char *err, size_t errcap);
/* No job starts any more, and one in flight is sent SIGTERM. */
void ldg_jobs_quit(struct ldg_jobs *js);
/* Quits, waits for the thread, writes the status file a last time (state
 * "stopped") if start ran, and frees js. NULL is fine. */
void ldg_jobs_free(struct ldg_jobs *js);
/* `ledger serve --proxy`'s child, as the status file says it: started
 * (running 1), or exited (running 0) with wstatus as waitpid gave it, to
 * be started again in restart_in_ms. Writes the status file. Thread-safe
 * with the jobs' thread. */
void ldg_jobs_proxy(struct ldg_jobs *js, int running, int wstatus,
                    uint64_t restart_in_ms);
/* The receivers `ledger serve` runs beside its socket (its OTLP
 * receivers, its metrics endpoint), for the status file's "receivers":
 * a JSON array of objects {"name", "address", "counters": {...},
 * "summary": "what the counters say, in a line"} (the caller's: list's
 * reference is taken). Replaces the last list and writes the status file
 * when ldg_jobs_start has run (each later write has it too). Thread-safe
 * with the jobs' thread. */
void ldg_jobs_receivers(struct ldg_jobs *js, json_t *list);
/* Reads DIR/serve-status.json for `ledger serve --status`: *out the
 * object (the caller json_decref's), *alive whether its server still
 * runs (state "serving" and its pid alive: not a zombie, and, when the
 * file says which boot and start time its pid had, still that process),
 * *failing whether a job's last run failed or --proxy's child is not
 * running (exited, to be started again). LDG_ENOTFOUND: no server has run
 * there; LDG_ECORRUPT: the file is not one (err names line and column, or what
 * is missing). */
int ldg_jobs_status(const char *dir, json_t **out, int *alive, int *failing,
                    char *err, size_t errcap);

/* ------------------------------------------------------------ systemd -- */

/*
 * serve/sd.c, the one file that uses libsystemd (loaded on first use,
 * only when the environment names systemd).
 */

/* Socket activation (sd_listen_fds): 1 with *fd the listening socket
 * passed by systemd (or systemd-socket-activate), 0 when none was passed
 * (LISTEN_FDS unset, or meant for another process), negative with a
 * message in err when something was passed that `ledger serve` cannot
 * serve: more than one socket, or one that is not a listening Unix
 * stream socket, or libsystemd cannot be loaded. */
int ldg_serve_sd_listen(int *fd, char *err, size_t errcap);
/* sd_notify(3): sends state ("READY=1", "STOPPING=1", "STATUS=...")
 * to the service manager. 0 when not run by one (NOTIFY_SOCKET unset),
 * > 0 sent, negative when it could not be sent. */
int ldg_serve_sd_notify(const char *state);
/* Why libsystemd could not be loaded (after a failure above). */
const char *ldg_serve_sd_why(void);

/* ------------------------------------------------------------- client -- */

/*
 * A client of a server (docs/PROTOCOL.md): send requests, read their
 * answers in the order sent. Requests are pipelined: send many, then
 * wait for their answers one by one.
 *
 * Threads: one thread may send while another waits for answers (each
 * side has its own lock), so a producer never stalls on acks; several
 * threads may send (each request goes out whole) but the order of their
 * requests is then theirs to know. ldg_client_close must not race any
 * other call.
 */
struct ldg_client;

/* One answer. */
struct ldg_client_answer {
    int has_id;
    char id[LDG_ID_MAX + 1];
    int ok; /* 1: committed, seq is its sequence number */
    uint64_t seq;
    int duplicate;    /* ok, and the id was recorded before (as seq) */
    unsigned differs; /* duplicate: what of the request differs from that
                         event (enum ldg_dup_diff; 0: the same) */
    uint64_t count;   /* ok: events the answer covers (seq..seq+count-1):
                         1, or a sealed batch's count */
    int has_sealed;   /* a committed sealed batch: sealed is its key's
                         count now (the next batch's "first") */
    uint64_t sealed;
    int code; /* when !ok: 65 bad request, 74 not committed, ... */
    char error[1024];
};

/* Connects to the server on path (NULL: DIR/ledger.sock of the ledger
 * directory dir). LDG_ENOTFOUND when no server answers there (no socket
 * file, or a stale one), LDG_EIO otherwise; err says which. */
int ldg_client_connect(struct ldg_client **out, const char *dir,
                       const char *path, char *err, size_t errcap);
/* Sends one request line (len bytes of JSON, without the newline; one is
 * added). Blocks while the server applies backpressure. LDG_EIO if the
 * server went away. */
int ldg_client_send(struct ldg_client *c, const char *line, size_t len);
/* Builds and sends a request for ev, with an id (NULL: ev->id, which may
 * be NULL too) and a source time (has_time 0: ev's own, if it has one).
 * LDG_EBADINPUT for an id longer than 128 bytes. */
int ldg_client_append(struct ldg_client *c, const struct ldg_event_in *ev,
                      const char *id, int has_time, uint64_t time_ns);
/* Waits for the next answer (timeout_ms < 0: forever). 0 with *a filled
 * (a->ok says committed or refused); LDG_ETIMEOUT; LDG_EIO when the
 * connection closed first (then nothing is known of the requests not yet
 * answered: send them again with the same ids); LDG_EBADINPUT for an
 * answer that is not the protocol's. */
int ldg_client_wait(struct ldg_client *c, struct ldg_client_answer *a,
                    int timeout_ms);
/* Says that no more requests follow (the server answers the rest, then
 * closes); waiting goes on. */
int ldg_client_done(struct ldg_client *c);
/* The connection's socket, for a caller that streams request lines it
 * already has as text (`ledger ingest` sends its input's bytes as they
 * are); the answers are still read with ldg_client_wait. */
int ldg_client_fd(const struct ldg_client *c);
/* Message for the last failure. */
const char *ldg_client_errmsg(const struct ldg_client *c);
void ldg_client_close(struct ldg_client *c);

#endif
