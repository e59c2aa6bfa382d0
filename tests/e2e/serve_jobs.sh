#!/bin/sh
# serve_jobs.sh — `ledger serve`'s interval jobs and its dead-reader sweep
# (issues 11, 13, 14, 16), against real servers:
#   - --probe-every against the Ollama-style stub (tests/stubs/stub.py):
#     the probe's events go through the daemon's own socket (the daemon
#     commits every event in the log), only what changed is appended
#     (probing again and again adds nothing; a changed digest adds exactly
#     one model.registered);
#   - --publish-every to a port where nothing listens at first: the job
#     fails, is logged, retried with backoff (5 s, then 10 s), shown by
#     `ledger serve --status` (exit 1, FAILING) and in systemd's STATUS=,
#     and the daemon goes on serving; then nginx (WebDAV) comes up on that
#     port and the next retry publishes the checkpoint;
#   - --ship-every into ClickHouse when clickhouse-server is installed:
#     every event arrives as a row;
#   - a reader killed with its read transaction open is cleared by the
#     periodic sweep while the daemon sits idle (--sweep-every 1s);
#   - SIGTERM: exit 0, status "stopped", `--status` exit 69; so is a
#     status file left "serving" whose pid is another process's or a zombie;
#   - bad durations, a missing or non-http URL, a job given twice: exit 64.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib/servers.sh"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/serve_jobs.XXXXXX") || exit 1
pid="" SPID="" sink=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; [ -n "$sink" ] && kill "$sink" 2>/dev/null; stop_servers; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
export LEDGER_NVIDIA_SMI= # no GPU probing in tests
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
L() { "$LEDGER" --dir "$D" "$@"; }
count() { L query -o json "type=$1" 2>/dev/null | wc -l | tr -d ' '; }
. "$HERE/lib/wait.sh" # within SECONDS CMD...

L init >/dev/null || exit 1

# --- usage errors
for args in "--probe-every 0" "--probe-every 5x" "--probe-every -1s" \
    "--probe-every 31d" "--publish-every 5s" "--publish-every 5s ftp://x/" \
    "--ship-every 1m --max-conns 3" "--probe-every 1s --probe-every 2s" \
    "--sweep-every never" "--sweep-every 31d" "--sweep-every 0"; do
    # shellcheck disable=SC2086
    L serve $args >"$T/u.out" 2>"$T/u.err"
    rc=$?
    [ $rc = 64 ] || fail "serve $args: exit $rc, want 64: $(cat "$T/u.err")"
    [ -e "$D/ledger.sock" ] && fail "serve $args: left a socket"
done
grep -q "given twice" "$T/u.err" 2>/dev/null || true
L serve --publish-every 5s >/dev/null 2>"$T/u.err"
grep -q "the URL is missing" "$T/u.err" || fail "missing URL: $(cat "$T/u.err")"
L serve --probe-every 5x >/dev/null 2>"$T/u.err"
grep -q "'5x' is not a duration" "$T/u.err" || fail "bad duration: $(cat "$T/u.err")"
L serve --status >"$T/st" 2>"$T/st.err"
[ $? = 66 ] || fail "--status before any server: want 66: $(cat "$T/st.err")"

# --- servers: an Ollama-style runtime; a port with nothing on it (yet)
A=$(printf 'a%.0s' $(seq 64))
B=$(printf 'b%.0s' $(seq 64))
C=$(printf 'c%.0s' $(seq 64))
# written whole (a temporary file renamed): the stub re-reads the file on
# every request, and a probe that read it half-written saw no models, so
# the next one registered m1 again
state() {
    cat >"$T/state.json.tmp" <<J
{"version": "0.5.7", "models": [
 {"name": "m1:7b", "digest": "$A", "size": 1000, "quant": "Q4_K_M", "family": "qwen2", "loaded": true},
 {"name": "m2:3b", "digest": "$1", "size": 500, "quant": "Q8_0", "family": "llama", "loaded": false}],
 "model_path": "$T/w.gguf"}
J
    mv "$T/state.json.tmp" "$T/state.json"
}
state "$B"
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
within 30 test -s "$T/port" || { echo "FAIL: stub did not start"; exit 1; }
echo "ol=http://127.0.0.1:$(cat "$T/port")" >"$D/runtimes"
P=$(free_port)
CH=""
if command -v clickhouse-server >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
    if start_clickhouse "$T/ch" && chq "$CH_PORT" "CREATE DATABASE fleet"; then
        CH="http://127.0.0.1:$CH_PORT/?database=fleet"
    else
        fail "clickhouse did not start"
    fi
else
    echo "note: no clickhouse-server: --ship-every not tested here"
fi

python3 "$HERE/lib/notify_sink.py" "$T/notify" "$T/msgs" &
sink=$!
within 30 test -S "$T/notify" || fail "notify sink"

# --- the daemon with its jobs
# shellcheck disable=SC2046
: >"$T/serve.out"
NOTIFY_SOCKET=$T/notify "$LEDGER" --dir "$D" serve --probe-every 2s \
    --publish-every 1m "http://127.0.0.1:$P/" \
    $([ -n "$CH" ] && echo "--ship-every 2s $CH") \
    --sweep-every 1s >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
within 20 grep -q '^listening on ' "$T/serve.out" || { echo "FAIL: serve: $(cat "$T/serve.err")"; exit 1; }

# probe: the two models, host and runtime, through the daemon
within 30 sh -c "[ \$('$LEDGER' --dir '$D' query -o json type=model.registered 2>/dev/null | wc -l) -ge 2 ]" ||
    fail "probe job: no model.registered: $(tail -5 "$T/serve.err")"
grep -q "ledger serve: probe: " "$T/serve.err" || fail "the probe's output is not logged"
# publish: fails (nothing listens), is logged, retried, shown
within 30 grep -q "publish failed (exit 74, 2 in a row)" "$T/serve.err" ||
    fail "publish job: no second failure: $(grep publish "$T/serve.err" | tail -3)"
grep -q "publish failed (exit 74, 1 in a row): .*retrying in 5 s" "$T/serve.err" ||
    fail "first retry not after 5 s: $(grep 'publish failed' "$T/serve.err" | head -2)"
grep -q "publish failed (exit 74, 2 in a row): .*retrying in 10 s" "$T/serve.err" ||
    fail "second retry not after 10 s (backoff): $(grep 'publish failed' "$T/serve.err" | head -3)"
L serve --status >"$T/st" 2>"$T/st.err"
rc=$?
[ $rc = 1 ] || fail "--status with a failing job: exit $rc, want 1: $(cat "$T/st" "$T/st.err")"
grep -q "^serving on $D/ledger.sock (pid $pid" "$T/st" || fail "--status: $(cat "$T/st")"
grep -q "^publish .*FAILING: 2 in a row, exit 74: .*127.0.0.1.*$P" "$T/st" || fail "--status publish: $(cat "$T/st")"
grep -q "^probe .* ok$" "$T/st" || fail "--status probe: $(cat "$T/st")"
L serve --status -o json >"$T/stj" 2>/dev/null
python3 - "$T/stj" <<'PY' || fail "--status -o json: $(cat "$T/stj")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["running"] is True and s["state"] == "serving", s
jobs = {j["name"]: j for j in s["jobs"]}
assert jobs["publish"]["failing_in_a_row"] == 2 and jobs["publish"]["last_exit"] == 74, jobs
assert jobs["publish"]["last_ok"] is None and jobs["publish"]["next_run"], jobs
assert jobs["probe"]["failing_in_a_row"] == 0 and jobs["probe"]["last_exit"] == 0, jobs
assert jobs["probe"]["runs"] >= 1, jobs
PY
grep -q "^STATUS=serving on .*publish FAILING (2 in a row, exit 74" "$T/msgs" ||
    fail "STATUS= does not say publish is failing: $(grep STATUS "$T/msgs" | tail -2)"
# the daemon serves on through it
L append -v --body '{"n":1}' x.during >/dev/null 2>"$T/app.err" || fail "append while a job fails: $(cat "$T/app.err")"
grep -q "through ledger serve" "$T/app.err" || fail "append did not go through the daemon"
# nginx comes up on the port: the next retry (10 s after the second
# failure) publishes
free_port() { echo "$P"; }
start_nginx "$T/www" || fail "nginx"
within 40 test -s "$T/www/www/checkpoint" || fail "publish never succeeded: $(grep publish "$T/serve.err" | tail -3)"
within 30 sh -c "'$LEDGER' --dir '$D' serve --status >/dev/null 2>&1" ||
    fail "--status not 0 after the publish succeeded: $(L serve --status 2>&1)"
# probing again and again appends nothing new; a changed digest appends
# exactly its model.registered
sleep 2.5
[ "$(count runtime.registered)" = 1 ] || fail "runtime.registered $(count runtime.registered) times"
[ "$(count model.registered)" = 2 ] || fail "model.registered $(count model.registered) times before a change"
state "$C"
within 20 sh -c "[ \$('$LEDGER' --dir '$D' query -o json type=model.registered 2>/dev/null | wc -l) -ge 3 ]" ||
    fail "the changed digest was not probed"
sleep 2.5
[ "$(count model.registered)" = 3 ] || fail "model.registered $(count model.registered) times, want 3"
L query -o json type=model.registered | tail -1 | grep -q "$C" || fail "the third model.registered is not the new digest"

if [ -n "$CH" ]; then
    n=$(L query -o json 2>/dev/null | wc -l | tr -d ' ')
    within 30 sh -c "[ \"\$(curl -sf --data-binary 'SELECT count() FROM fleet.ledger_events FINAL' 'http://127.0.0.1:$CH_PORT/')\" -ge $n ]" ||
        fail "ship job: $(chq "$CH_PORT" 'SELECT count() FROM fleet.ledger_events') rows, want $n"
fi

# --- SIGTERM: exit 0; the status says stopped
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc = 0 ] || fail "SIGTERM: exit $rc: $(tail -3 "$T/serve.err")"
stopline=$(grep '^ledger serve: stopped: ' "$T/serve.err")
# every event in the log but genesis and the log key's anchor (events 0
# and 1, written by init) was committed by the daemon (the probe's went
# through it)
total=$(L query -o json 2>/dev/null | wc -l | tr -d ' ')
byd=$(echo "$stopline" | sed 's/.* \([0-9]*\) events committed.*/\1/')
[ "$byd" = $((total - 2)) ] || fail "the daemon committed $byd events, the log has $total: $stopline"
L serve --status >"$T/st" 2>&1
rc=$?
[ $rc = 69 ] || fail "--status after stop: exit $rc, want 69: $(cat "$T/st")"
grep -q "^not running (pid [0-9]* stopped" "$T/st" || fail "--status after stop: $(cat "$T/st")"
# a status file left saying "serving" (a power loss, kill -9) whose pid
# is now another process's, or a zombie: not serving, exit 69 (kill(pid,
# 0) says yes to both); the file names the boot and start of its pid
grep -q '"boot_id": "[0-9a-f-]\{36\}"' "$D/serve-status.json" &&
    grep -q '"start_ticks": [0-9]' "$D/serve-status.json" ||
    fail "the status file does not say who its pid is: $(cat "$D/serve-status.json")"
restatus() { # PID keep|drop (drop: a file without boot_id and start_ticks)
    python3 - "$D/serve-status.json" "$1" "$2" <<'PY'
import json, sys
p, pid, ident = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(p))
d["pid"], d["state"] = pid, "serving"
if ident == "drop":
    d.pop("boot_id", None)
    d.pop("start_ticks", None)
json.dump(d, open(p, "w"))
PY
}
sleep 60 &
other=$!
restatus "$other" keep
L serve --status >"$T/st" 2>&1
rc=$?
kill "$other" 2>/dev/null
[ $rc = 69 ] || fail "--status, its pid another process's: exit $rc, want 69: $(cat "$T/st")"
grep -q "^not running (pid $other is gone" "$T/st" || fail "--status, pid reused: $(cat "$T/st")"
# (the child outlives the exec: a shell may reap a child that ended before
# it execs, and then there is no zombie: a make check once failed so)
sh -c 'sleep 0.5 & echo $! >"$1"; exec sleep 60' sh "$T/zpid" &
zparent=$!
within 30 sh -c "[ -s '$T/zpid' ] && grep -q '^[0-9]* (.*) Z' /proc/\$(cat '$T/zpid')/stat" ||
    fail "no zombie to test with"
restatus "$(cat "$T/zpid")" drop
L serve --status >"$T/st" 2>&1
rc=$?
kill "$zparent" 2>/dev/null
[ $rc = 69 ] || fail "--status, its pid a zombie: exit $rc, want 69: $(cat "$T/st")"
L verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"

# --- the dead-reader sweep, alone (every job's child opens the ledger,
#     and an open clears dead readers too): a daemon without jobs
: >"$T/serve2.out"
"$LEDGER" --dir "$D" serve --sweep-every 1s >"$T/serve2.out" 2>"$T/serve2.err" &
pid=$!
within 20 grep -q '^listening on ' "$T/serve2.out" || fail "serve 2: $(cat "$T/serve2.err")"
# a reader killed with its read transaction open, while the daemon idles
# (and keeps the environment open, so nothing resets the reader table)
if command -v cc >/dev/null 2>&1 &&
    cc -o "$T/lr" "$HERE/lib/lmdb_readers.c" -llmdb 2>"$T/cc.err"; then
    "$T/lr" hold "$D" >"$T/hold.out" &
    hp=$!
    within 30 grep -q holding "$T/hold.out" || fail "reader helper did not start"
    kill -9 "$hp"
    wait "$hp" 2>/dev/null
    # (its slot may be cleared at once if a sweep falls just now: the
    # stop line below counts what the sweeps cleared)
    within 30 sh -c "[ \"\$('$T/lr' count '$D')\" = 0 ]" ||
        fail "the daemon's sweep did not clear the dead reader's slot"
else
    fail "cannot build the LMDB reader helper: $(cat "$T/cc.err")"
fi
kill -TERM "$pid"
wait "$pid" || fail "serve 2: exit $?"
pid=""
grep -q '^ledger serve: stopped: .*; [1-9][0-9]* dead readers cleared;' "$T/serve2.err" ||
    fail "the sweep did not clear the dead reader: $(tail -1 "$T/serve2.err")"

[ $fails -eq 0 ] || exit 1
echo "serve_jobs: probe through the daemon, publish retried with backoff then published${CH:+, ship}, sweep, status"
