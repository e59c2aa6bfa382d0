#!/bin/sh
# serve_cli.sh — `ledger serve` end to end over its Unix socket
# (docs/PROTOCOL.md): answers in order, acks only for committed events,
# errors naming the field or column while the connection goes on, many
# clients sharing commits, and the hostile clients of issue 13 (a 100 MB
# line, a disconnect mid-line, a client that never reads, 1,000 idle
# connections, one connection too many), each with a clear error and no
# effect on the others; SIGTERM drains; a stale socket is replaced, a live
# one is not; the socket is not world-writable.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 0; }
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE="python3 $HERE/lib/serve_probe.py"
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
S=$D/ledger.sock
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

# start [OPTIONS]: starts the server, waits for "listening on"
start() {
    "$LEDGER" --dir "$D" serve "$@" >"$T/serve.out" 2>"$T/serve.err" &
    pid=$!
    i=0
    while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "serve did not start: $(cat "$T/serve.err")"
            return 1
        fi
    done
}
# stop: SIGTERM, wait; the exit code is in $stopped
stop() {
    kill -TERM "$pid"
    wait "$pid"
    stopped=$?
    pid=""
}
count() { "$LEDGER" --dir "$D" query -o json "type=$1" 2>/dev/null | wc -l | tr -d ' '; }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
start || exit 1
grep -q "^listening on $S\$" "$T/serve.out" || fail "listening line: $(cat "$T/serve.out")"
mode=$(stat -c %a "$S")
[ "$mode" = 660 ] || fail "socket mode $mode, want 660"

# --- answers in order; errors name the field or column; the connection
#     goes on after each bad line
cat >"$T/req" <<'EOF'
{"type":"x.serve","body":{"i":1},"id":"first"}
{"type":"x.serve","body":{"i":2},"id":"bad-field","colour":"red"}
{"type":"x.serve","body":{"i":3},
{"type":"run.started","body":{},"id":"vocab"}
{"type":"x.serve","body":{"i":4},"id":"t1","time":"2026-11-22T20:55:01.25+01:00"}
{"type":"x.serve","body":{"i":5},"id":"t2","time":"yesterday"}
{"type":"x.serve","body":{"i":6},"id":""}
{"type":"x.serve","body":{"i":7},"actor":"nobody","id":"who"}

{"type":"x.serve","body":{"i":8}}
EOF
$PROBE "$S" lines <"$T/req" >"$T/ans" || fail "lines client: $(cat "$T/ans")"
[ "$(wc -l <"$T/ans" | tr -d ' ')" = 9 ] || fail "want 9 answers (blank line is not a request): $(cat "$T/ans")"
sed -n 1p "$T/ans" | grep -q '^{"id":"first","seq":"[0-9]*"}$' || fail "ack 1: $(sed -n 1p "$T/ans")"
sed -n 2p "$T/ans" | grep -q '"id":"bad-field","error":"line 2: unknown field .colour.*"code":65}$' || fail "answer 2: $(sed -n 2p "$T/ans")"
sed -n 3p "$T/ans" | grep -q '"error":"line 3, column [0-9]*: .*"code":65' || fail "answer 3: $(sed -n 3p "$T/ans")"
sed -n 4p "$T/ans" | grep -q '"id":"vocab","error":"line 4: .*field .*"code":65' || fail "answer 4: $(sed -n 4p "$T/ans")"
sed -n 5p "$T/ans" | grep -q '^{"id":"t1","seq":' || fail "answer 5: $(sed -n 5p "$T/ans")"
sed -n 6p "$T/ans" | grep -q '"id":"t2","error":"line 6: field .time.: must be RFC 3339' || fail "answer 6: $(sed -n 6p "$T/ans")"
sed -n 7p "$T/ans" | grep -q '"error":"line 7: field .id.: must be a string of 1 to 128 bytes' || fail "answer 7: $(sed -n 7p "$T/ans")"
sed -n 8p "$T/ans" | grep -q '"id":"who","error":"line 8: .*nobody' || fail "answer 8: $(sed -n 8p "$T/ans")"
sed -n 9p "$T/ans" | grep -q '^{"seq":"[0-9]*"}$' || fail "answer 9: $(sed -n 9p "$T/ans")"
[ "$(count x.serve)" = 3 ] || fail "want 3 events recorded, got $(count x.serve)"
# what was acked is what is stored
seq1=$(sed -n 1p "$T/ans" | sed 's/.*"seq":"\([0-9]*\)".*/\1/')
"$LEDGER" --dir "$D" show -o json "$seq1" | grep -q '"i":1' || fail "acked seq $seq1 is not event i=1"

# --- many clients at once: every event acked once, in order per client,
#     and they share commits
PROBE_ACKS=$T/acks $PROBE "$S" many 8 300 >"$T/many" || fail "many: $(cat "$T/many")"
grep -q '^acks 2400$' "$T/many" || fail "many: $(cat "$T/many")"
# every acked seq holds the event with that id's body
sed 's/^c[0-9]*-/c-/' "$T/acks" >"$T/acks2"
"$LEDGER" --dir "$D" query -o json type=x.serve >"$T/q" 2>/dev/null
# (client k's events carry i 0..299 each: compare seq -> i only)
python3 - "$T/acks" "$T/q" <<'PY' || fail "acked seqs do not hold their events"
import json, sys
stored = {int(e["seq"]): e["body"]["i"] for e in map(json.loads, open(sys.argv[2]))}
for line in open(sys.argv[1]):
    ident, q = line.split()
    if stored.get(int(q)) != int(ident.split("-")[1]):
        print("acked", ident, "at", q, "holds", stored.get(int(q))); sys.exit(1)
PY

# --- a 100 MB line: refused before it is held, the connection goes on
$PROBE "$S" bigline 100 >"$T/big" || fail "bigline client"
sed -n 1p "$T/big" | grep -q '"error":"line 1: longer than [0-9]* bytes: not recorded' || fail "big line: $(sed -n 1p "$T/big")"
sed -n 2p "$T/big" | grep -q '^{"id":"after-big","seq":' || fail "after big line: $(sed -n 2p "$T/big")"
[ "$(count x.big)" = 0 ] || fail "part of the big line was recorded"

# --- a client that disconnects mid-line: nothing of it recorded
$PROBE "$S" midline >/dev/null || fail "midline client"
[ "$(count x.mid)" = 0 ] || fail "a cut line was recorded"

# --- 1,000 idle connections do not stop another client
$PROBE "$S" idle 1000 >"$T/idle" 2>&1 || fail "idle: $(cat "$T/idle")"
grep -q '^{"id":"among-idle","seq":' "$T/idle" || fail "among 1000 idle: $(cat "$T/idle")"

kill -0 "$pid" 2>/dev/null || fail "the server died"
stop
[ "$stopped" = 0 ] || fail "SIGTERM: exit $stopped"
[ ! -e "$S" ] || fail "socket left behind after SIGTERM"

# --- a client that never reads is dropped; others are served meanwhile
start --stall-timeout 500 || exit 1
$PROBE "$S" noread 20000 >"$T/noread" 2>&1 &
nr=$!
sleep 1
$PROBE "$S" lines >"$T/other" <<'EOF'
{"type":"x.other","body":{},"id":"meanwhile"}
EOF
grep -q '"id":"meanwhile","seq"' "$T/other" || fail "a client beside a non-reader: $(cat "$T/other")"
wait "$nr"
grep -q '^dropped$' "$T/noread" || fail "non-reader: $(cat "$T/noread")"
stop
grep -q ' 1 dropped' "$T/serve.err" || fail "stats: $(cat "$T/serve.err")"

# --- one connection too many is told so and closed
start --max-conns 3 || exit 1
$PROBE "$S" conns 4 >"$T/conns" || fail "conns client"
[ "$(grep -c '^(open)$' "$T/conns")" = 3 ] || fail "conns: $(cat "$T/conns")"
grep -q '"error":"too many connections; try again later","code":75' "$T/conns" || fail "4th conn: $(cat "$T/conns")"

# --- a second server on a live socket is refused; the first goes on
"$LEDGER" --dir "$D" serve >/dev/null 2>"$T/second"
rc=$?
[ $rc = 75 ] || fail "second server: exit $rc"
grep -q 'another server already answers' "$T/second" || fail "second server: $(cat "$T/second")"

# --- SIGTERM drains: lines sent before it are committed and answered
$PROBE "$S" drain 3000 >"$T/drain" 2>"$T/drain.acks" &
dp=$!
i=0
while ! grep -q sent "$T/drain" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
stop
[ "$stopped" = 0 ] || fail "drain: exit $stopped"
wait "$dp"
grep -q 'eof$' "$T/drain" || fail "drain: $(cat "$T/drain") $(grep -v '^d-' "$T/drain.acks")"
acked=$(grep -c '^d-' "$T/drain.acks")
[ "$acked" -gt 0 ] || fail "drain: nothing acked: $(head -c 300 "$T/drain.acks")"
grep '^d-' "$T/drain.acks" >"$T/dacks"
"$LEDGER" --dir "$D" query -o json type=x.drain >"$T/q" 2>/dev/null
$PROBE "$S" check "$T/dacks" d- <"$T/q" >"$T/dcheck" || fail "drain: $(cat "$T/dcheck")"

# --- a stale socket (server killed) is replaced
start || exit 1
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=""
[ -S "$S" ] || fail "kill -9 should leave the socket file"
start || exit 1
$PROBE "$S" lines >"$T/after" <<'EOF'
{"type":"x.after","body":{}}
EOF
grep -q '"seq"' "$T/after" || fail "after restart: $(cat "$T/after")"
stop

"$LEDGER" --dir "$D" verify --full >/dev/null || fail "verify --full"
"$LEDGER" --dir "$D" serve --bogus >/dev/null 2>&1
[ $? = 64 ] || fail "unknown option: want 64"

[ $fails = 0 ] && echo "serve_cli: ok"
[ $fails = 0 ]
