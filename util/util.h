/*
 * util.h — the plumbing every module shares, written once: a bounded
 * growable buffer, big-endian byte order, RFC 3339 time text, hex, the
 * ledger program's command lines and its runs as a child, a Unix
 * socket's liveness, and the monotonic deadlines of timed waits.
 *
 * util/ sits below ledger/: it uses only libc, jansson (the JSON values
 * every view writes alike) and the library's one error enum
 * (util/error.h), and includes no header from above it;
 * ledger/ and every module above it may use it. Like libgit2's src/util
 * or curl's curlx_. Not part of libledger's API: neither installed nor
 * exported (the CLI links its own copy, build/libledger-util.a).
 */
#ifndef LDG_UTIL_H
#define LDG_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "util/error.h"

/* ----------------------------------------------------------- asserts -- */

/*
 * What the code relies on, stated where it relies on it (SQLite's assert,
 * ALWAYS and NEVER; LMDB's mdb_cassert). Checked when built with
 * -DLDG_DEBUG (make asan and make tsan build so, and the fuzz targets): a
 * broken one aborts, naming its condition, file and line. Compiled out of
 * the release build (plain make), where the condition is not evaluated.
 *
 *   LDG_ASSERT(c)  c holds here.
 *   LDG_ALWAYS(c)  c holds, but the code handles it not holding: the
 *                  value of c (in a release build, just c).
 *   LDG_NEVER(c)   c never holds, handled if it does: the value of c.
 *
 * Assert what the code itself makes true, never what stored or outside
 * bytes say: those are checked and refused (LDG_ECORRUPT, LDG_EBADINPUT),
 * and the bit-flip, fuzz and crash tests make them false on purpose.
 */
#ifdef LDG_DEBUG
_Noreturn void ldg_assert_fail(const char *cond, const char *file, int line);
#define LDG_ASSERT(c) ((c) ? (void)0 : ldg_assert_fail(#c, __FILE__, __LINE__))
#define LDG_ALWAYS(c) ((c) ? 1 : (ldg_assert_fail(#c, __FILE__, __LINE__), 0))
#define LDG_NEVER(c) ((c) ? (ldg_assert_fail(#c, __FILE__, __LINE__), 1) : 0)
#else
#define LDG_ASSERT(c) ((void)0)
#define LDG_ALWAYS(c) ((c) != 0)
#define LDG_NEVER(c) ((c) != 0)
#endif

/* ------------------------------------------------------------- errors -- */

/* Writes the message (a printf format) into err, cap bytes (nothing when
 * err is NULL or cap 0), and returns rc: for the calls that report into
 * their caller's buffer, `return ldg_errf(err, cap, LDG_EIO, "%s: %s",
 * path, strerror(errno));`. */
int ldg_errf(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------- buffer -- */

/*
 * A growable byte buffer with a ceiling (curl's dynbuf takes a `toobig`):
 * outside input can never make it allocate without bound. Errors are
 * sticky in err (LDG_ENOMEM, LDG_ETOOBIG util/error.h's enum ldg_error):
 * append freely, check err once at the end. After an append through
 * these functions p[len] is a NUL (not counted in len), so text can be
 * used as a C string; p is NULL until the first append.
 *
 * A zeroed struct is an empty buffer with the default ceiling.
 */
struct ldg_buf {
    union {
        uint8_t *p; /* the bytes ... */
        char *s;    /* ... seen as text */
    };
    size_t len, cap;
    size_t max; /* most bytes len may reach; 0: LDG_BUF_MAX_DEFAULT */
    int err;    /* sticky: LDG_ENOMEM / LDG_ETOOBIG */
};
#define LDG_BUF_MAX_DEFAULT ((size_t)1 << 40)

/* Sets b up empty with ceiling max (0: LDG_BUF_MAX_DEFAULT). */
void ldg_buf_init(struct ldg_buf *b, size_t max);
/* Frees what b holds and leaves it empty (the ceiling is kept). */
void ldg_buf_release(struct ldg_buf *b);
/* ldg_buf_room's growing half (call ldg_buf_room). */
uint8_t *ldg_buf_grow(struct ldg_buf *b, size_t n);
/* Room for n more bytes and a NUL after them at p + len, or NULL (err
 * set). The caller writes there and then adds what it wrote to len.
 * Inline when the room is there already: writers of large outputs (query
 * -o json) call it a few times an event. (cap never exceeds the ceiling
 * plus one, so room within cap is within the ceiling.) */
static inline uint8_t *
ldg_buf_room(struct ldg_buf *b, size_t n)
{
    if (b->err == 0 && b->p != NULL && n < b->cap - b->len)
        return b->p + b->len;
    return ldg_buf_grow(b, n);
}
void ldg_buf_add(struct ldg_buf *b, const void *p, size_t n);
void ldg_buf_puts(struct ldg_buf *b, const char *s);
void ldg_buf_printf(struct ldg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ldg_buf_vprintf(struct ldg_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (all of them if n >= len): the rest moves to
 * the front, p[len] stays a NUL, capacity and err are kept. Costs a
 * memmove of the len - n bytes kept, none when n >= len: a queue read
 * from the front a little at a time (serve's output, sent as the socket
 * takes it) keeps a read offset of its own and drops what it has read
 * only when it needs room or has read it all, not after every read. */
void ldg_buf_consume(struct ldg_buf *b, size_t n);
/* Hands the bytes to the caller (malloc'd, NUL-terminated, *len if not
 * NULL gets their count) and leaves b empty; NULL if b->err is set or
 * nothing was added (then b is released). */
char *ldg_buf_detach(struct ldg_buf *b, size_t *len);

/* --------------------------------------------------------- byte order -- */

/* Big-endian integers: the order LMDB keys sort in (FORMAT.md). */
static inline void
ldg_be16(uint8_t out[2], uint16_t v)
{
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
}
static inline void
ldg_be32(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline void
ldg_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}
/* The unsigned big-endian number in the n (at most 8) bytes at p. */
static inline uint64_t
ldg_rd_ben(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint16_t
ldg_rd_be16(const uint8_t *p)
{
    return (uint16_t)ldg_rd_ben(p, 2);
}
static inline uint32_t
ldg_rd_be32(const uint8_t *p)
{
    return (uint32_t)ldg_rd_ben(p, 4);
}
static inline uint64_t
ldg_rd_be64(const uint8_t *p)
{
    return ldg_rd_ben(p, 8);
}

/* --------------------------------------------------------------- time -- */

/* Monotonic nanoseconds since boot (for timings and intervals). */
uint64_t ldg_now_mono_ns(void);
/* The same clock in milliseconds: the unit of the network's idle limits
 * and deadlines (http/, serve/). */
uint64_t ldg_now_mono_ms(void);
/* Nanoseconds since the Unix epoch, by the wall clock (CLOCK_REALTIME):
 * for times a user reads or that outlive the process, never for an
 * interval (NTP or an operator may step it by hours). */
uint64_t ldg_now_wall_ns(void);

/* A wait that measures an interval (a tick, a backoff, a sweep, a limit
 * on a shutdown) waits on the monotonic clock: a condition variable made
 * with default attributes waits on CLOCK_REALTIME, so a wall clock set
 * back an hour makes a 200 ms wait last an hour and 200 ms (and one set
 * forward makes every wait return at once: a spin). Such waits use the
 * three below. A wait for a time of day would stay on the wall clock;
 * the ledger has none. */

/* Initialises *cv (caller memory; released with pthread_cond_destroy)
 * with its timed waits on CLOCK_MONOTONIC. 0, or LDG_ENOMEM when pthread
 * cannot (*cv then not initialised). */
int ldg_cond_init_mono(pthread_cond_t *cv);
/* The CLOCK_MONOTONIC time in_ns from now: the deadline
 * pthread_cond_timedwait takes on a condition variable made by
 * ldg_cond_init_mono. */
struct timespec ldg_mono_deadline(uint64_t in_ns);
/* The deadline at at_ns on ldg_now_mono_ns's clock, as a timespec. */
struct timespec ldg_mono_timespec(uint64_t at_ns);

/* "2026-05-01T12:00:00.000000001Z": RFC 3339 UTC with nanoseconds, 30
 * characters; LDG_TIME_NS_LEN with the NUL. */
#define LDG_TIME_NS_LEN 31
/* "2026-05-01T12:00:00Z": RFC 3339 UTC to the second, 20 characters. */
#define LDG_TIME_SEC_LEN 21

/* Formats ts_ns (nanoseconds since the Unix epoch) into buf; "?" if the
 * time cannot be shown (cap too small for the text is cut as snprintf
 * cuts). Returns buf. */
char *ldg_time_rfc3339_ns(char *buf, size_t cap, uint64_t ts_ns);
char *ldg_time_rfc3339_sec(char *buf, size_t cap, uint64_t ts_ns);
/* "Nov 22 09:39:01": local time (TZ: the CLI's --utc sets UTC) to the
 * second, month abbreviated as strftime's %b gives it: the one time format
 * of human output (ledger query's short format, the timeline, the CLI's
 * tables). 15 characters in the C locale; LDG_TIME_LOCAL_LEN with the
 * NUL. "?" if the time cannot be shown or does not fit in cap (then cut
 * as snprintf cuts). Returns buf. Costs a localtime_r (TZ is read once
 * per process, as tzset reads it). */
#define LDG_TIME_LOCAL_LEN 16
char *ldg_time_local(char *buf, size_t cap, uint64_t ts_ns);
/* The one time format of human output (docs/OUTPUT.md): ldg_time_local
 * this year, with the year when it is another ("Oct 22 2025 16:06:57": a
 * retention horizon or an old verification is months back). Every human
 * text the library writes (messages, the doctor's details, a plan's
 * timeline) uses it; JSON keeps RFC 3339. cap: 24 or more. Returns buf. */
#define LDG_TIME_WHEN_LEN 24
char *ldg_time_when(char *buf, size_t cap, uint64_t ts_ns);
/* The date and clock part "2026-05-01T12:00:00" (19 characters) of the
 * second secs, for writers that add the fraction themselves. 0 or -1. */
int ldg_time_rfc3339_base(char *buf, size_t cap, int64_t secs);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (negative
 * before it); and back. Howard Hinnant's algorithms: exact for any date
 * an int64_t of days holds. */
int64_t ldg_days_from_civil(int64_t y, int m, int d);
void ldg_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* The days in month m (1..12) of year y. */
int ldg_days_in_month(int64_t y, int m);

/* ldg_time_parse_rfc3339 flags. */
#define LDG_TIME_SPACE 1u    /* a space may stand for the 'T' */
#define LDG_TIME_LONGFRAC 2u /* fraction digits past the ninth are dropped */
/* Parses exactly the n bytes at s as an RFC 3339 date-time,
 * YYYY-MM-DD(T|t)HH:MM:SS[.F](Z|z|+HH:MM|-HH:MM) with F 1 to 9 digits,
 * into *ns, nanoseconds since the epoch; a leap second (:60) is the last
 * nanosecond of its minute. 0; -1 if it is not one (malformed, a day its
 * month has not, an hour past 23, an offset past 23:59, ...); -2 if it is
 * before 1970-01-01T00:00:00Z or past 2^64 - 1 ns, with *ns saturated (0
 * or UINT64_MAX) for callers to whom "long ago"/"far ahead" is enough. */
int ldg_time_parse_rfc3339(const char *s, size_t n, unsigned flags,
                           uint64_t *ns);

/* --------------------------------------------- mkdir -p, write all -- */

/* mkdir -p over the path in path: each directory of it that ends at a '/'
 * from byte from on (a leading '/' is the root's), and path itself when
 * whole, created with mode when missing. made (may be NULL) is told each
 * directory created, path cut there, for a caller that syncs its parent;
 * a nonzero return stops and is returned. 0; or -1 with errno from the
 * mkdir that failed and path cut at that directory (it is as it was on
 * every other return). */
int ldg_mkdir_p(char *path, size_t from, int whole, unsigned mode,
                int (*made)(void *ctx, const char *dir), void *ctx);

/* A new temporary file beside path, for a write that replaces path by a
 * rename: "PATH.XXXXXX" made by mkostemp (O_EXCL: never a file or
 * symlink someone planted under a name they could guess), then given
 * mode as open(2) would (less the umask). Its name into tmp (cap bytes).
 * The fd; or -1 with errno (ENAMETOOLONG when the name does not fit). */
int ldg_tmp_beside(const char *path, unsigned mode, char *tmp, size_t cap);

/* Writes the n bytes at p to fd whole: again after EINTR and after a short
 * write. sock: send() with MSG_NOSIGNAL (a peer gone is an error, not a
 * SIGPIPE). 0; or -1 with errno (EIO when a write wrote nothing). */
int ldg_write_all(int fd, const void *p, size_t n, int sock);

/* --------------------------------------------------------------- JSON -- */

/* A 64-bit number (a sequence number, a log size, a time in ns) as every
 * view writes it: a decimal string (docs/OUTPUT.md). A new reference, NULL
 * when out of memory. */
json_t *ldg_json_u64(uint64_t v);
/* n (at most 64) bytes as a lowercase hex string; a new reference. */
json_t *ldg_json_hex(const uint8_t *p, size_t n);
/* The string member k of o, or "" when there is none (o NULL or not an
 * object, k missing or not a string): never NULL. Borrowed, valid while
 * o holds it. */
const char *ldg_json_str(const json_t *o, const char *k);
/* Reads the file path, which must be one JSON object (no key twice).
 * @return 0 with *out (a new reference); LDG_ENOTFOUND (no such file) or
 * LDG_EIO (unreadable, or not a regular file) with err "PATH: why";
 * LDG_EBADINPUT with err "PATH:LINE:COLUMN: what" or "PATH: must be a
 * JSON object". */
int ldg_json_load_object(const char *path, json_t **out, char *err,
                         size_t errcap);
/* 1 if s is text a JSON string can hold (valid UTF-8, no NUL before its
 * end); 0 if not, or s NULL. */
int ldg_json_text_ok(const char *s);
/* How many bytes of s to print as "%.*s" to show at most max of them
 * without cutting a UTF-8 character in two (text cut mid-character is no
 * longer UTF-8, and a JSON body would drop it). */
int ldg_utf8_cut(const char *s, size_t max);
/* Cuts from s a UTF-8 character its end leaves unfinished (what snprintf
 * leaves when it truncates text in the middle of one), in place. */
void ldg_utf8_trim(char *s);

/* ------------------------------------------------------- hex, text -- */

/* Lowercase hex of n bytes into out (2n+1 bytes with NUL). */
void ldg_hex(char *out, const uint8_t *p, size_t n);
/* Parses exactly 2n hex digits (either case). 0 or LDG_EBADINPUT. */
int ldg_unhex(uint8_t *out, size_t n, const char *hex);
/* The same for the first 2n characters of hex only (the rest is not looked
 * at; a NUL among them is a bad digit): for hex inside a longer text. */
int ldg_unhex_prefix(uint8_t *out, size_t n, const char *hex);
/* 1 when s is 1 to max bytes with no control character (< 0x20, 0x7f). */
int ldg_text_ok(const char *s, size_t max);
/* The edit (Levenshtein) distance of a and b, for "did you mean"; SIZE_MAX
 * when either is longer than 64 bytes. */
size_t ldg_edit_distance(const char *a, const char *b);
/* ldg_parse_u64 flags. */
#define LDG_DEC_CANONICAL 1u /* no leading zero ("0" itself is fine) */
/* Parses exactly the n bytes at s as a decimal: 1 to 20 digits, no sign
 * or space, fitting uint64, into *out (untouched on failure). 0 or -1. */
int ldg_parse_u64(const char *s, size_t n, unsigned flags, uint64_t *out);

/* ------------------------------------------ the program's command lines -- */

/*
 * The ledger program's command lines that library code runs or names, in
 * one table: the child the program starts (serve's --proxy; the library
 * starts none: its jobs are functions, util/spawn.c) and the remedies its
 * messages print. Library code spells a command or an option of the
 * program nowhere else. `ledger help --check` (cli/opt.c, run by
 * tests/e2e/cli_help.sh) checks each entry of LDG_CMDS against the CLI's
 * option tables: renaming or removing an option an entry uses fails the
 * tests, as does an LDG_CMD_ left out of LDG_CMDS.
 *
 * Words: "ledger", perhaps "--dir DIR", the command (and the subcommand of
 * keys, memory or witness), then its options, each followed by its value
 * when it takes one. Upper-case words (DIR, URL, KEY, RUN), printf
 * conversions and '...'-quoted words are placeholders: ldg_cmd_argv fills
 * in DIR and URL; an entry with a conversion is the start of a printf
 * format, and its user passes the values.
 */
#define LDG_CMD_INIT "ledger init"
#define LDG_CMD_APPEND_BODY "ledger append %s --actor KEY --body "
#define LDG_CMD_VERIFY "ledger verify"
#define LDG_CMD_VERIFY_FULL "ledger verify --full"
#define LDG_CMD_REBUILD "ledger rebuild"
#define LDG_CMD_MIGRATE "ledger migrate"
#define LDG_CMD_MIGRATE_IN "ledger --dir %s migrate"
#define LDG_CMD_SERVE "ledger serve"
#define LDG_CMD_KEYS_ADD "ledger keys add"
#define LDG_CMD_KEYS_ADD_CONTROLLER                                            \
    "ledger keys add NAME --public-key @FILE --roles controller"
#define LDG_CMD_KEYS_LIST "ledger keys list"
#define LDG_CMD_KEYS_LIST_JSON "ledger keys list -o json"
#define LDG_CMD_KEYS_VERIFIER "ledger keys verifier"
#define LDG_CMD_KEYS_ANCHOR "ledger keys anchor"
#define LDG_CMD_KEYS_ADVANCE "ledger keys advance"
#define LDG_CMD_KEYS_ADVANCE_EXPIRED "ledger keys advance --if-expired"
#define LDG_CMD_PUBLISH_WITNESS "ledger publish --witness"
#define LDG_CMD_STATS_DATABASES "ledger stats --databases"
#define LDG_CMD_ARCHIVE "ledger archive"
#define LDG_CMD_ARCHIVE_BEFORE "ledger archive --before %llu"
#define LDG_CMD_PRUNE "ledger prune"
#define LDG_CMD_PRUNE_POLICY "ledger prune --policy"
#define LDG_CMD_PRUNE_POLICY_IN "ledger --dir %s prune --policy"
#define LDG_CMD_EXPORT "ledger export"
#define LDG_CMD_VERIFY_BUNDLE "ledger verify-bundle"
#define LDG_CMD_VERIFY_BUNDLE_KEY "ledger verify-bundle --trusted-key '%s' %s"
#define LDG_CMD_VERIFY_BUNDLE_EXTRACT                                          \
    "ledger verify-bundle --trusted-key '%s' %s --extract DIR"
#define LDG_CMD_TIMELINE "ledger timeline %s"
#define LDG_CMD_TIMELINE_BUNDLE "ledger timeline %s --bundle %s"
#define LDG_CMD_QUERY_RUN "ledger query run=%s"
#define LDG_CMD_QUERY_BUNDLE "ledger query --bundle %s"
#define LDG_CMD_RUNS "ledger runs"
#define LDG_CMD_PLANS "ledger plans"
#define LDG_CMD_DOCTOR_BUNDLE "ledger doctor --bundle %s"
#define LDG_CMD_GATES "ledger gates"
#define LDG_CMD_EVALS "ledger evals"
#define LDG_CMD_TILES "ledger tiles"
#define LDG_CMD_MEMORY_PURGE "ledger memory purge --prefix %.16s --reason "
#define LDG_CMD_WITNESS_INIT "ledger witness init"
#define LDG_CMD_WITNESS_KEY "ledger witness key"
#define LDG_CMD_SERVE_VERIFY_EVERY "ledger serve --verify-every"
#define LDG_CMD_SERVE_OTLP "ledger serve --otlp"
#define LDG_CMD_SERVE_OTLP_GRPC "ledger serve --otlp-grpc"
#define LDG_CMD_METRICS "ledger metrics"
#define LDG_CMD_SERVE_METRICS "ledger serve --metrics"
/* the doctor's remedy for a runtime down: probe it again (runtime, URL) */
#define LDG_CMD_PROBE_RUNTIME "ledger probe --runtime %s=%s"
/* the program's own child (serve --proxy, started by cli/cmd_serve.c) */
#define LDG_CMD_PROXY "ledger --dir DIR proxy"

/* Every entry, for the check: X(LDG_CMD_NAME) each. */
#define LDG_CMDS(X)                                                            \
    X(LDG_CMD_INIT)                                                            \
    X(LDG_CMD_APPEND_BODY)                                                     \
    X(LDG_CMD_VERIFY)                                                          \
    X(LDG_CMD_VERIFY_FULL)                                                     \
    X(LDG_CMD_REBUILD)                                                         \
    X(LDG_CMD_KEYS_ADD)                                                        \
    X(LDG_CMD_KEYS_ADD_CONTROLLER)                                             \
    X(LDG_CMD_KEYS_LIST)                                                       \
    X(LDG_CMD_KEYS_LIST_JSON)                                                  \
    X(LDG_CMD_KEYS_VERIFIER)                                                   \
    X(LDG_CMD_KEYS_ANCHOR)                                                     \
    X(LDG_CMD_KEYS_ADVANCE)                                                    \
    X(LDG_CMD_KEYS_ADVANCE_EXPIRED)                                            \
    X(LDG_CMD_PUBLISH_WITNESS)                                                 \
    X(LDG_CMD_STATS_DATABASES)                                                 \
    X(LDG_CMD_ARCHIVE)                                                         \
    X(LDG_CMD_ARCHIVE_BEFORE)                                                  \
    X(LDG_CMD_PRUNE)                                                           \
    X(LDG_CMD_PRUNE_POLICY)                                                    \
    X(LDG_CMD_PRUNE_POLICY_IN)                                                 \
    X(LDG_CMD_MIGRATE_IN)                                                      \
    X(LDG_CMD_EXPORT)                                                          \
    X(LDG_CMD_VERIFY_BUNDLE)                                                   \
    X(LDG_CMD_VERIFY_BUNDLE_KEY)                                               \
    X(LDG_CMD_VERIFY_BUNDLE_EXTRACT)                                           \
    X(LDG_CMD_TIMELINE)                                                        \
    X(LDG_CMD_TIMELINE_BUNDLE)                                                 \
    X(LDG_CMD_QUERY_RUN)                                                       \
    X(LDG_CMD_QUERY_BUNDLE)                                                    \
    X(LDG_CMD_RUNS)                                                            \
    X(LDG_CMD_PLANS)                                                           \
    X(LDG_CMD_DOCTOR_BUNDLE)                                                   \
    X(LDG_CMD_GATES)                                                           \
    X(LDG_CMD_EVALS)                                                           \
    X(LDG_CMD_TILES)                                                           \
    X(LDG_CMD_MEMORY_PURGE)                                                    \
    X(LDG_CMD_WITNESS_INIT)                                                    \
    X(LDG_CMD_WITNESS_KEY)                                                     \
    X(LDG_CMD_MIGRATE)                                                         \
    X(LDG_CMD_SERVE)                                                           \
    X(LDG_CMD_SERVE_VERIFY_EVERY)                                              \
    X(LDG_CMD_SERVE_OTLP)                                                      \
    X(LDG_CMD_SERVE_OTLP_GRPC)                                                 \
    X(LDG_CMD_METRICS)                                                         \
    X(LDG_CMD_SERVE_METRICS)                                                   \
    X(LDG_CMD_PROBE_RUNTIME)                                                   \
    X(LDG_CMD_PROXY)

/*
 * The program's options that library messages name alone ("--before 'x'
 * is neither a sequence number nor a time"; a short one as _SHORT), each
 * listed in LDG_OPTS with the commands whose messages name it ("keys add"
 * for a subcommand's, commas between): `ledger help --check` checks that
 * each of them has it, so renaming or removing the option fails the
 * tests, as does an LDG_OPT_ left out of LDG_OPTS. A message that names a
 * command names it through an LDG_CMD_ entry above; an option of another
 * program (tar's --zstd) is no entry.
 */
#define LDG_OPT_ACTOR "--actor"
#define LDG_OPT_EPOCH "--epoch"
#define LDG_OPT_AGAINST "--against"
#define LDG_OPT_ALL "--all"
#define LDG_OPT_ALLOW_EMPTY "--allow-empty"
#define LDG_OPT_ALLOW_ENVELOPE_DISCLOSURE "--allow-envelope-disclosure"
#define LDG_OPT_AT "--at"
#define LDG_OPT_BEFORE "--before"
#define LDG_OPT_BUDGET "--budget"
#define LDG_OPT_DIR "--dir"
#define LDG_OPT_EXPECT "--expect"
#define LDG_OPT_EXTRACT "--extract"
#define LDG_OPT_FORCE "--force"
#define LDG_OPT_GREP "--grep"
#define LDG_OPT_GREP_SHORT "-g"
#define LDG_OPT_INSECURE_TRUST_BUNDLE_KEY "--insecure-trust-bundle-key"
#define LDG_OPT_KEY "--key"
#define LDG_OPT_LAYOUT "--layout"
#define LDG_OPT_MAX_BYTES "--max-bytes"
#define LDG_OPT_MAX_CONNS "--max-conns"
#define LDG_OPT_MAX_LINE "--max-line"
#define LDG_OPT_METRICS_REMOTE "--metrics-remote"
#define LDG_OPT_MIRROR "--mirror"
#define LDG_OPT_MODEL "--model"
#define LDG_OPT_NO_STATE "--no-state"
#define LDG_OPT_OLLAMA_DIR "--ollama-dir"
#define LDG_OPT_OTLP_GRPC "--otlp-grpc"
#define LDG_OPT_OTLP_LOGS "--otlp-logs"
#define LDG_OPT_OTLP_SPANS "--otlp-spans"
#define LDG_OPT_PREFIX "--prefix"
#define LDG_OPT_REDACT "--redact"
#define LDG_OPT_REDACT_ALLOW_MISSING "--redact-allow-missing"
#define LDG_OPT_REDACT_BODY "--redact-body"
#define LDG_OPT_ROLES "--roles"
#define LDG_OPT_SEGMENT "--segment"
#define LDG_OPT_SHOW_CURSOR "--show-cursor"
#define LDG_OPT_SINCE "--since"
#define LDG_OPT_SINCE_SHORT "-S"
#define LDG_OPT_STALL_TIMEOUT "--stall-timeout"
#define LDG_OPT_STATE "--state"
#define LDG_OPT_STRICT "--strict"
#define LDG_OPT_TABLE "--table"
#define LDG_OPT_TRUST "--trust"
#define LDG_OPT_TRUSTED_CHECKPOINT "--trusted-checkpoint"
#define LDG_OPT_TRUSTED_KEY "--trusted-key"
#define LDG_OPT_UNTIL "--until"
#define LDG_OPT_UNTIL_SHORT "-U"
#define LDG_OPT_UPSTREAM "--upstream"
#define LDG_OPT_WITNESS_KEY "--witness-key"

/* Every entry, for the check: X(LDG_OPT_NAME, "command,command") each. */
#define LDG_OPTS(X)                                                            \
    X(LDG_OPT_ACTOR, "proxy")                                                  \
    X(LDG_OPT_AGAINST, "verify-bundle")                                        \
    X(LDG_OPT_ALL, "memory purge")                                             \
    X(LDG_OPT_EPOCH, "keys")                                                   \
    X(LDG_OPT_ALLOW_EMPTY, "export")                                           \
    X(LDG_OPT_ALLOW_ENVELOPE_DISCLOSURE, "export")                             \
    X(LDG_OPT_AT, "packs,permissions,models,routes,promotions,runs,doctor,"    \
                  "projections,plans,memory,gates")                            \
    X(LDG_OPT_BEFORE, "archive,prune")                                         \
    X(LDG_OPT_BUDGET, "serve")                                                 \
    X(LDG_OPT_DIR, "verify")                                                   \
    X(LDG_OPT_EXPECT, "model")                                                 \
    X(LDG_OPT_EXTRACT, "verify-bundle")                                        \
    X(LDG_OPT_FORCE, "prune")                                                  \
    X(LDG_OPT_GREP, "query")                                                   \
    X(LDG_OPT_GREP_SHORT, "query")                                             \
    X(LDG_OPT_INSECURE_TRUST_BUNDLE_KEY,                                       \
      "verify-bundle,query,timeline,doctor")                                   \
    X(LDG_OPT_KEY, "mirror")                                                   \
    X(LDG_OPT_LAYOUT, "migrate")                                               \
    X(LDG_OPT_MAX_BYTES, "verify-bundle,query,timeline,doctor")                \
    X(LDG_OPT_MAX_CONNS, "serve")                                              \
    X(LDG_OPT_MAX_LINE, "serve")                                               \
    X(LDG_OPT_METRICS_REMOTE, "serve")                                         \
    X(LDG_OPT_MIRROR, "audit-central")                                         \
    X(LDG_OPT_MODEL, "model")                                                  \
    X(LDG_OPT_NO_STATE, "export")                                              \
    X(LDG_OPT_OLLAMA_DIR, "model")                                             \
    X(LDG_OPT_OTLP_GRPC, "serve")                                              \
    X(LDG_OPT_OTLP_LOGS, "serve")                                              \
    X(LDG_OPT_OTLP_SPANS, "serve")                                             \
    X(LDG_OPT_PREFIX, "memory purge")                                          \
    X(LDG_OPT_REDACT, "export")                                                \
    X(LDG_OPT_REDACT_ALLOW_MISSING, "export")                                  \
    X(LDG_OPT_REDACT_BODY, "export")                                           \
    X(LDG_OPT_ROLES, "keys add")                                               \
    X(LDG_OPT_SEGMENT, "export")                                               \
    X(LDG_OPT_SHOW_CURSOR, "query")                                            \
    X(LDG_OPT_SINCE, "export,query")                                           \
    X(LDG_OPT_SINCE_SHORT, "export,query")                                     \
    X(LDG_OPT_STALL_TIMEOUT, "serve")                                          \
    X(LDG_OPT_STATE, "mirror")                                                 \
    X(LDG_OPT_STRICT, "ingest")                                                \
    X(LDG_OPT_TABLE, "ship,audit-central")                                     \
    X(LDG_OPT_TRUST, "witness")                                                \
    X(LDG_OPT_TRUSTED_CHECKPOINT, "verify-bundle")                             \
    X(LDG_OPT_TRUSTED_KEY, "verify-bundle,query,timeline,doctor")              \
    X(LDG_OPT_UNTIL, "export,query")                                           \
    X(LDG_OPT_UNTIL_SHORT, "export,query")                                     \
    X(LDG_OPT_UPSTREAM, "proxy")                                               \
    X(LDG_OPT_WITNESS_KEY, "verify-bundle")

/* -------------------------------------------------------------- child -- */

/* The most words, and bytes with their NULs, of a child's command line. */
#define LDG_CMD_ARGS_MAX 16
#define LDG_CMD_TEXT_MAX 8192

/* Splits line (an LDG_CMD_ entry without conversions) into argv at
 * spaces, DIR and URL replaced by dir and url (which may be NULL when line
 * has no such word), the words kept in text: argv[0] is "ledger", and
 * argv ends with a NULL. 0, or LDG_ETOOBIG / LDG_EINVAL (a word missing
 * its value). */
int ldg_cmd_argv(const char *line, const char *dir, const char *url,
                 char text[LDG_CMD_TEXT_MAX], char *argv[LDG_CMD_ARGS_MAX]);

/* Jobs in processes of their own (util/spawn.c). A job is a function of
 * this program's image: it runs in a process forked by the runner, opens
 * what it needs itself, writes what it says to fd (its standard output
 * and error too), and returns its exit code (0..255). */
typedef int (*ldg_job_fn)(const char *const *args, size_t nargs, int fd);
#define LDG_CHILD_ARGS_MAX 8
#define LDG_CHILD_TEXT_MAX 8192 /* bytes of a job's arguments, NULs too */
/* The runner: a process forked now, which forks every job from itself, so
 * that a job starts from a process of one thread holding no lock. Make it
 * before any thread starts (a fork copies the locks other threads hold);
 * it ends with its caller. 0; LDG_ENOMEM; LDG_EIO (no fork). */
struct ldg_runner;
int ldg_runner_new(struct ldg_runner **out);
/* Ends the runner and the jobs it runs. NULL is a no-op. */
void ldg_runner_free(struct ldg_runner *r);

/* A run of a job, for ldg_child_run. */
struct ldg_child {
    struct ldg_runner *runner;
    ldg_job_fn fn;
    const char *args[LDG_CHILD_ARGS_MAX];
    size_t nargs;
    uint64_t limit_ms; /* killed (SIGKILL) when it runs longer */
    /* Each piece of output as read; a nonzero return kills the child
     * (it printed more than the caller takes). */
    int (*out)(void *ctx, const char *p, size_t n);
    /* The child's pid once started, 0 once reaped: for a caller that
     * may signal it from another thread (ldg_jobs_quit). May be NULL. */
    void (*pid)(void *ctx, pid_t pid);
    void *ctx;
};
#define LDG_CHILD_NO_EXIT (-1)
/* Runs c's job through its runner (any thread may: requests are sent one
 * at a time), its output given to c->out as it comes, to its end or its
 * time limit; SIGPIPE, SIGTERM at their defaults and no signal blocked in
 * it, whatever the caller's. Returns its exit code (0..255), or
 * LDG_CHILD_NO_EXIT with why it has none in why (could not start, killed
 * at its time limit or for its output, killed by a signal). Blocks the
 * calling thread for the child's run. */
int ldg_child_run(const struct ldg_child *c, char *why, size_t cap);
/* Sends sig to a job ldg_child_run started and to its process group (what
 * it started itself), or to the job alone when its group is not made yet. */
void ldg_child_signal(pid_t pid, int sig);

/* ------------------------------------------------------- unix sockets -- */

/* Whether a server answers on the Unix socket file path: 0 only when a
 * connect is refused (or nothing is there), so that a socket file left by
 * a server that is gone may be replaced; a full backlog or a stopped
 * server is live, and the connect never waits. 1 too when path is too
 * long to connect to. */
int ldg_unix_socket_live(const char *path);

/* accept4(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC) that cannot spin. A process
 * out of descriptors (EMFILE, ENFILE) leaves the connection waiting and
 * the listening socket readable, and a level-triggered event loop would
 * wake for it forever; so *spare, a descriptor held for this (/dev/null,
 * opened here while *spare is -1), is closed, the waiting connection taken
 * and returned with *full set to 1, for the caller to refuse and close.
 * The spare is opened again on the next call. The connection's fd; or -1
 * with errno (EAGAIN when none waits). The caller closes *spare when it
 * stops listening. */
int ldg_accept(int lfd, int *spare, int *full);

/* -------------------------------------------------------- tcp sockets -- */

/* Who holds the other end of a TCP connection made on this box: the
 * kernel's socket tables (sock_diag netlink) are asked for the socket
 * whose local address is peer and whose remote address is self (the
 * connection's two ends as getpeername and getsockname give them), and
 * name its owner's uid (the fsuid that created it, which its owner
 * cannot change) and its inode. A peer on another machine, or in another
 * network namespace, has no such socket here. One netlink round trip
 * (tens of microseconds). @return 0 and *uid, *inode; -1 when no live
 * socket of this box matches (a remote peer, a socket already closed,
 * sock_diag unavailable). */
struct sockaddr_storage;
int ldg_tcp_peer_owner(const struct sockaddr_storage *peer,
                       const struct sockaddr_storage *self, uint64_t *uid,
                       uint64_t *inode);

#endif
