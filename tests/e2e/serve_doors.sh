#!/bin/sh
# serve_doors.sh — the other doors of issue 13: `ledger append` and
# `ledger ingest` go through `ledger serve` when it serves the ledger (and
# say so with -v), write directly when no server answers or with --direct
# (and --strict), and say so and write nothing when its socket cannot be
# reached (permission denied: a server may be there); a served ingest reports bad lines as FILE:LINE:COL like a
# direct one; a direct `ledger ingest -` commits and acknowledges an event
# while its input stays open (it used to wait for 1,000 lines or the end).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
S=$D/ledger.sock
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
start() {
    : >"$T/serve.out" # else a restart may read the last daemon's line
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
stop() { kill -TERM "$pid"; wait "$pid"; pid=""; }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
# event 0 is genesis, event 1 the log key's anchor (init's epoch keys):
# the first append is seq 2

# --- no server: direct, and -v says why
"$LEDGER" --dir "$D" append -v x.door --body '{"i":1}' >"$T/o" 2>"$T/e" || fail "direct append"
grep -q 'no server .*writing .* directly' "$T/e" || fail "append -v without server: $(cat "$T/e")"
grep -q '^seq 2$' "$T/o" || fail "direct append: $(cat "$T/o")"

start || exit 1
# --- append through the server
"$LEDGER" --dir "$D" append -v x.door --body '{"i":2}' >"$T/o" 2>"$T/e" || fail "served append: $(cat "$T/e")"
grep -q "through ledger serve at $S" "$T/e" || fail "append -v: $(cat "$T/e")"
grep -q '^seq 3$' "$T/o" || fail "served append: $(cat "$T/o")"
seq=$("$LEDGER" --dir "$D" append -q x.door --body '{"i":3}')
[ "$seq" = 4 ] || fail "append -q through the server: '$seq'"
"$LEDGER" --dir "$D" append run.started --body '{}' 2>"$T/e"
rc=$?
[ $rc = 65 ] || fail "a refused append through the server: exit $rc"
grep -q "^ledger append: run.started: field '.*': required" "$T/e" || fail "refusal: $(cat "$T/e")"
"$LEDGER" --dir "$D" append -v --direct x.door --body '{"i":4}' >"$T/o" 2>"$T/e" || fail "--direct"
grep -q -- '--direct: writing' "$T/e" || fail "--direct -v: $(cat "$T/e")"
grep -q '^seq 5$' "$T/o" || fail "--direct: $(cat "$T/o")"
# --- a socket this user may not reach, beside a ledger it may write: said,
#     exit 74, nothing written (before, the event went in directly, behind
#     the server's back and without a word)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    U=$(mktemp -d)
    chmod 755 "$U"
    chown 65534:65534 "$U"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    as_nobody "$LEDGER" --dir "$U/l" init >/dev/null 2>"$T/e" ||
        fail "init as nobody: $(cat "$T/e")"
    # root's server: its socket is root's, 0660, so nobody may not connect
    "$LEDGER" --dir "$U/l" serve >"$T/userve.out" 2>"$T/userve.err" &
    upid=$!
    i=0
    while ! grep -q '^listening on ' "$T/userve.out" 2>/dev/null && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    n0=$("$LEDGER" --dir "$U/l" stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
    as_nobody "$LEDGER" --dir "$U/l" append x.door --body '{"i":5}' >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 74 ] || fail "append beside an unreachable socket: exit $rc: $(cat "$T/e")"
    grep -q "^ledger append: cannot connect to $U/l/ledger.sock: Permission denied (where ledger serve listens); nothing written (--direct" "$T/e" ||
        fail "append beside an unreachable socket: $(cat "$T/e")"
    printf '{"type":"x.door","body":{"i":6}}\n' |
        as_nobody "$LEDGER" --dir "$U/l" ingest - >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 74 ] || fail "ingest beside an unreachable socket: exit $rc: $(cat "$T/e")"
    grep -q "^ledger ingest: cannot connect to $U/l/ledger.sock: Permission denied" "$T/e" ||
        fail "ingest beside an unreachable socket: $(cat "$T/e")"
    n1=$("$LEDGER" --dir "$U/l" stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
    [ -n "$n0" ] && [ "$n0" = "$n1" ] || fail "events before/after the refused doors: '$n0' '$n1'"
    # the direct write the refusal stands in for would have worked
    as_nobody "$LEDGER" --dir "$U/l" append --direct x.door --body '{"i":7}' >"$T/o" 2>"$T/e" ||
        fail "append --direct as nobody: $(cat "$T/e")"
    kill -TERM "$upid"
    wait "$upid"
    rm -rf "$U"
else
    echo "SKIP: the unreachable-socket case needs root and setpriv"
fi

# --- append --id is idempotent, through the server and directly
s1=$("$LEDGER" --dir "$D" append -q --id once --time 2026-11-22T20:00:00Z x.door --body '{"i":10}')
s2=$("$LEDGER" --dir "$D" append -q -v --id once x.door --body '{"i":11}' 2>"$T/e")
[ -n "$s1" ] && [ "$s1" = "$s2" ] || fail "append --id twice: '$s1' '$s2'"
grep -q "already event $s1" "$T/e" || fail "append --id -v: $(cat "$T/e")"
grep -q "id 'once' is already event $s1, which differs from this one in time, body: not appended again" "$T/e" || fail "append --id, other body: $(cat "$T/e")"
s3=$("$LEDGER" --dir "$D" append -q --direct --id once x.door --body '{"i":12}' 2>"$T/e")
[ "$s3" = "$s1" ] || fail "append --direct --id again: '$s3' want '$s1'"
grep -q "id 'once' is already event $s1, which differs from this one in time, body" "$T/e" || fail "append --direct --id, other body: $(cat "$T/e")"
# the very same event again: its seq, and nothing said without -v
s4=$("$LEDGER" --dir "$D" append -q --id once --time 2026-11-22T20:00:00Z x.door --body '{"i":10}' 2>"$T/e")
[ "$s4" = "$s1" ] && [ ! -s "$T/e" ] || fail "append --id, same event: '$s4' $(cat "$T/e")"
"$LEDGER" --dir "$D" append --id once --time yesterday x.door --body '{}' 2>"$T/e"
rc=$?
[ $rc = 64 ] && grep -q -- "--time: 'yesterday' must be RFC 3339" "$T/e" || fail "append --time yesterday: exit $rc $(cat "$T/e")"
"$LEDGER" --dir "$D" append --id "$(printf '%0129d' 0)" x.door --body '{}' 2>"$T/e"
rc=$?
[ $rc = 65 ] && grep -q "field 'id': must be" "$T/e" || fail "append --id of 129 bytes: exit $rc $(cat "$T/e")"
"$LEDGER" --dir "$D" show -o json "$s1" | grep -q '"time":"2026-11-22T20:00:00.000000000Z",.*"clock":"source"' || fail "append --time: $("$LEDGER" --dir "$D" show -o json "$s1")"

# --- ingest through the server: acks per event, errors as FILE:LINE:COL
printf '%s\n' '{"type":"x.door","body":{"i":5}}' '' \
    '{"type":"x.door","body":{"i":6},"colour":1}' \
    '{"type":"x.door","body":{"i":7}}' >"$T/in.jsonl"
printf '%s' '{"type":"x.door","body":{"i":8}}' >>"$T/in.jsonl" # no final newline
"$LEDGER" --dir "$D" ingest -v --acks "$T/in.jsonl" >"$T/o" 2>"$T/e"
rc=$?
[ $rc = 65 ] || fail "served ingest with a bad line: exit $rc"
grep -q "through ledger serve" "$T/e" || fail "ingest -v: $(cat "$T/e")"
grep -q "in.jsonl:3:1: unknown field 'colour'" "$T/e" || fail "served ingest error: $(cat "$T/e")"
[ "$(grep -c committed_first "$T/o")" = 3 ] || fail "served ingest acks: $(cat "$T/o")"
grep -q '^ingest: 3 events committed through ledger serve' "$T/e" || fail "summary: $(cat "$T/e")"
# --strict writes directly (all or nothing)
"$LEDGER" --dir "$D" ingest -v --strict "$T/in.jsonl" >/dev/null 2>"$T/e"
grep -q -- '--strict: writing' "$T/e" || fail "ingest --strict -v: $(cat "$T/e")"
grep -q 'nothing committed' "$T/e" || fail "ingest --strict: $(cat "$T/e")"
stop
n=$("$LEDGER" --dir "$D" query -o json type=x.door | wc -l | tr -d ' ')
[ "$n" = 8 ] || fail "want 8 x.door events, got $n"

# --- ingest lines with ids and times: a second run appends nothing, and
#     says so; an id twice in one input is recorded once
printf '%s\n' '{"type":"x.ids","body":{"i":1},"id":"i-1","time":"2026-11-22T20:00:01.5Z"}' \
    '{"type":"x.ids","body":{"i":2},"id":"i-2","time":"1795377301250000000"}' \
    '{"type":"x.ids","body":{"i":2},"id":"i-2"}' >"$T/ids.jsonl"
"$LEDGER" --dir "$D" ingest "$T/ids.jsonl" 2>"$T/e" || fail "ingest ids: $(cat "$T/e")"
grep -q '^ingest: 2 events committed (seq [0-9.]*), 0 lines rejected, 1 events with an id already in the log (not appended again)$' "$T/e" || fail "ingest ids summary: $(cat "$T/e")"
# the duplicate line is named (it differs from the event with its id: no time)
grep -q "^$T/ids.jsonl:3: id 'i-2' is already event [0-9]*, which differs from this line in time: not appended again\$" "$T/e" || fail "ingest names the duplicate line: $(cat "$T/e")"
[ "$(grep -c 'already event' "$T/e")" = 1 ] || fail "ingest: only the differing duplicate is named without -v: $(cat "$T/e")"
"$LEDGER" --dir "$D" ingest --direct -v "$T/ids.jsonl" 2>"$T/e" || fail "ingest -v ids again"
grep -q "^$T/ids.jsonl:1: id 'i-1' is already event [0-9]*: not appended again\$" "$T/e" || fail "ingest -v names line 1: $(cat "$T/e")"
grep -q "^$T/ids.jsonl:2: id 'i-2' is already event [0-9]*: not appended again\$" "$T/e" || fail "ingest -v names line 2: $(cat "$T/e")"
"$LEDGER" --dir "$D" ingest "$T/ids.jsonl" 2>"$T/e" || fail "ingest ids again"
grep -q '^ingest: 0 events committed, 0 lines rejected, 3 events with an id already in the log' "$T/e" || fail "ingest ids again: $(cat "$T/e")"
"$LEDGER" --dir "$D" -o json ingest --strict "$T/ids.jsonl" 2>/dev/null >"$T/o" || fail "ingest --strict ids again"
[ "$(jq -c "[.committed,.rejected,.duplicates]" "$T/o")" = "[0,0,3]" ] || fail "ingest --strict -o json: $(cat "$T/o")"
n=$("$LEDGER" --dir "$D" query -o json type=x.ids | wc -l | tr -d ' ')
[ "$n" = 2 ] || fail "ingest with ids twice: $n events, want 2"
"$LEDGER" --dir "$D" query -o json type=x.ids >"$T/o"
grep -q '"ts":"1795377601500000000","time":"2026-11-22T20:00:01.500000000Z",.*"clock":"source",.*"id":"i-1"' "$T/o" || fail "ingest time/id: $(cat "$T/o")"
grep -q '"ts":"1795377301250000000",.*"id":"i-2"' "$T/o" || fail "ingest ns time: $(cat "$T/o")"
grep -q '"source":{' "$T/o" && fail "a direct ingest recorded a source: $(cat "$T/o")"
# through the server: each line answered, the repeated ones not appended
start || exit 1
"$LEDGER" --dir "$D" ingest -v "$T/ids.jsonl" 2>"$T/e" || fail "served ingest ids: $(cat "$T/e")"
grep -q "^$T/ids.jsonl: id 'i-1' is already event [0-9]*: not appended again\$" "$T/e" || fail "served ingest -v names the duplicate: $(cat "$T/e")"
grep -q "^$T/ids.jsonl: id 'i-2' is already event [0-9]*, which differs from this line in time: not appended again\$" "$T/e" || fail "served ingest names the differing duplicate: $(cat "$T/e")"
grep -q '^ingest: 0 events committed, 0 lines rejected, 3 events with an id already in the log' "$T/e" || fail "served ingest ids: $(cat "$T/e")"
stop
n=$("$LEDGER" --dir "$D" query -o json type=x.ids | wc -l | tr -d ' ')
[ "$n" = 2 ] || fail "served ingest with ids again: $n events, want 2"

# --- direct ingest - acks an event while the input stays open
python3 - "$LEDGER" "$D" >"$T/idle" 2>&1 <<'PY' || fail "idle ingest: $(cat "$T/idle")"
import select, subprocess, sys
p = subprocess.Popen([sys.argv[1], "--dir", sys.argv[2], "ingest", "--acks",
                      "--batch", "1000", "-"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE)
for i in range(3):
    p.stdin.write(b'{"type":"x.idle","body":{"i":%d}}\n' % i)
    p.stdin.flush()
    # a guard, not a measure: before, no ack came until 1000 lines or EOF
    r, _, _ = select.select([p.stdout], [], [], 30)
    if not r:
        print("no ack while the input is open (event %d)" % i)
        p.kill()
        sys.exit(1)
    print(p.stdout.readline().decode().strip())
p.stdin.close()
p.wait()
sys.exit(p.returncode)
PY
[ "$(grep -c committed_first "$T/idle")" = 3 ] || fail "idle acks: $(cat "$T/idle")"

"$LEDGER" --dir "$D" verify --full >/dev/null || fail "verify --full"
[ $fails = 0 ] && echo "serve_doors: ok"
[ $fails = 0 ]
