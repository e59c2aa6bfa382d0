#!/bin/sh
# serve_clock.sh — `ledger serve`'s intervals are measured on the
# monotonic clock, not the wall clock (which NTP or an operator may step by
# hours). The daemon runs under tests/faults/clockshift.c (built here), an
# LD_PRELOAD shim that makes every read of the wall clock an hour ahead
# (or behind) of the clock the kernel's timed waits use: what a wall clock
# stepped back (or forward) an hour does to a deadline computed from it.
# (The proxy's intervals, `serve --proxy`'s restart included:
# proxy_clock.sh.)
#   - an hour ahead, --publish-every 1s to a port where nothing listens:
#     the failing job is run again every second (its retry waited an
#     hour until 2026-11-27);
#   - an hour ahead, --sweep-every 1s and no job: a reader killed with its
#     read transaction open is cleared by the idle daemon's sweep within
#     seconds (the sweep waited an hour);
#   - an hour behind, both: the idle daemon does not spin (every deadline
#     in the past made each wait return at once: a core's worth of CPU,
#     found by the process's CPU time), and the job still runs once a
#     second, not back to back;
#   - the wall clock stepped back an hour while the daemon runs
#     (CLOCK_SHIFT_FILE): a failing job's next run in `--status -o json`
#     and in systemd's STATUS= ("retry in N s") is still seconds away, not
#     an hour and seconds (they were the wall-clock time of before the
#     step until 2026-11-27).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/serve_clock.XXXXXX") || exit 1
pid=""
sink=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
export LEDGER_NVIDIA_SMI= # no GPU probing in tests
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }

# the shim (CS), within and cpu_ticks
. "$HERE/lib/clockshift.sh"
clockshift_build "$LEDGER"
${CC:-cc} -o "$T/lr" "$HERE/lib/lmdb_readers.c" -llmdb 2>"$T/cc.err" ||
    { echo "FAIL: lmdb_readers: $(cat "$T/cc.err")"; exit 1; }
L init >/dev/null || { echo "FAIL: init"; exit 1; }
DEAD="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')/"

# serve NAME SHIFT ARGS...: `ledger serve` with the wall clock SHIFT
# seconds off, its pid in pid
serve() {
    nm=$1
    s=$2
    shift 2
    : >"$T/$nm.out"
    CLOCK_SHIFT_S=$s LD_PRELOAD=$CS "$LEDGER" --dir "$D" serve "$@" \
        >"$T/$nm.out" 2>"$T/$nm.err" &
    pid=$!
    within 20 grep -q '^listening on ' "$T/$nm.out" ||
        fail "serve $nm: $(cat "$T/$nm.err")"
}
stop() { # NAME: SIGTERM, and it exits 0 (under ASan: no leak)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=""
    [ $rc = 0 ] || fail "serve $1: exit $rc: $(tail -3 "$T/$1.err")"
}
# failures NAME: how many times the daemon logged the publish job failing
failures() { grep -c 'publish failed' "$T/$1.err"; }
fails_at_least() { [ "$(failures "$1")" -ge "$2" ]; }
# dead_reader_cleared: a reader killed with its read transaction open has
# its slot cleared
dead_reader_cleared() {
    "$T/lr" hold "$D" >"$T/hold.out" &
    hp=$!
    within 30 grep -q holding "$T/hold.out" || fail "reader helper did not start"
    kill -9 "$hp"
    wait "$hp" 2>/dev/null
    within 30 sh -c "[ \"\$('$T/lr' count '$D')\" = 0 ]"
}

# ------------------------------------------------ an hour ahead: a job --
serve job 3600 --publish-every 1s "$DEAD"
within 15 fails_at_least job 3 ||
    fail "wall clock an hour ahead: the failing publish job ran $(failures job) times in 15 s, want 3 (its retry after 1 s waits on the wall clock)"
grep -q 'publish failed (exit 74, 1 in a row): .*retrying in 1 s' "$T/job.err" ||
    fail "the job's first failure: $(grep publish "$T/job.err" | head -2)"
stop job

# ---------------------------------------------- an hour ahead: the sweep --
serve sweep 3600 --sweep-every 1s
dead_reader_cleared ||
    fail "wall clock an hour ahead: the idle daemon's sweep did not clear a dead reader's slot in 10 s (its 1 s wait is on the wall clock)"
stop sweep
grep -q '^ledger serve: stopped: .*; [1-9][0-9]* dead readers cleared;' "$T/sweep.err" ||
    fail "the sweep did not clear the dead reader: $(tail -1 "$T/sweep.err")"

# ------------------------------------------------------ an hour behind --
serve behind -3600 --sweep-every 1s --publish-every 1s "$DEAD"
within 15 fails_at_least behind 2 ||
    fail "wall clock an hour behind: the publish job ran $(failures behind) times in 15 s, want 2"
c0=$(cpu_ticks $pid)
f0=$(failures behind)
sleep 3
c1=$(cpu_ticks $pid)
f1=$(failures behind)
[ $((c1 - c0)) -lt "$HZ" ] ||
    fail "wall clock an hour behind: the daemon used $((c1 - c0)) clock ticks of CPU in 3 s (at most $HZ; its waits spin)"
[ $((f1 - f0)) -le 10 ] ||
    fail "wall clock an hour behind: the 1 s job failed $((f1 - f0)) times in 3 s (a spin fails it dozens)"
dead_reader_cleared ||
    fail "wall clock an hour behind: a dead reader's slot not cleared in 10 s"
stop behind

# ------------------------------- stepped back an hour while it runs --
python3 "$HERE/lib/notify_sink.py" "$T/notify" "$T/msgs" &
sink=$!
within 30 test -S "$T/notify" || fail "notify sink"
echo 0 >"$T/shift"
# the publish job fails (retry in 5 s); the verify job runs every second
# and writes the status after each run
: >"$T/step.out"
NOTIFY_SOCKET=$T/notify CLOCK_SHIFT_FILE=$T/shift LD_PRELOAD=$CS \
    "$LEDGER" --dir "$D" serve --publish-every 1m "$DEAD" --verify-every 1s \
    >"$T/step.out" 2>"$T/step.err" &
pid=$!
within 20 grep -q '^listening on ' "$T/step.out" ||
    fail "serve step: $(cat "$T/step.err")"
within 15 fails_at_least step 1 || fail "step: the publish job did not fail"
echo -3600 >"$T/shift"
# a status written after the step (by the verify job's next run): its
# "updated" is before "started"; the publish job's retry in it, and in
# the STATUS= sent with it, is seconds away (5 s after its first failure,
# 10 s after a second)
python3 - "$D/serve-status.json" <<'PY' || fail "--status after the step: $(cat "$D/serve-status.json")"
import datetime, json, sys, time
t = lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
end = time.monotonic() + 20
while True:
    try:
        s = json.load(open(sys.argv[1]))
        if t(s["updated"]) < t(s["started"]):
            break
    except (OSError, ValueError):
        pass
    assert time.monotonic() < end, "no status written after the step"
    time.sleep(0.1)
jobs = {j["name"]: j for j in s["jobs"]}
ahead = (t(jobs["publish"]["next_run"]) - t(s["updated"])).total_seconds()
assert -1 <= ahead <= 11, "publish next_run %+.0f s from updated" % ahead
PY
# every STATUS= sent after the one sent with that status (so surely after
# the step) says the same, and one comes within seconds
m1=$(grep -c '^STATUS=' "$T/msgs")
after_step() { grep '^STATUS=' "$T/msgs" | tail -n +$((m1 + 1)); }
some_after_step() { after_step | grep -q 'publish FAILING'; }
within 30 some_after_step || fail "no STATUS= after the step"
after_step | grep 'publish FAILING' |
    sed 's/.*publish FAILING.*retry in \([0-9]*\)s.*/\1/' >"$T/retry"
while read -r r; do
    [ "$r" -le 10 ] || fail "STATUS= after the step: retry in ${r}s"
done <"$T/retry"
stop step
L verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"

[ $nfail -eq 0 ] || exit 1
echo "serve_clock: a 1 s job and the 1 s sweep run on time with the wall clock an hour ahead and behind, no spin; a step back leaves next runs in place"
