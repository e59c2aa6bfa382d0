#!/bin/sh
# otlp_grpc_hostile.sh — `ledger serve --otlp-grpc` against clients that
# mean harm (issue 66), as serve_hostile.sh and otlp_cli.sh test the other
# doors; raw HTTP/2 frames from tests/e2e/lib/h2_hostile.py:
#   1. idle connections from another uid (nobody: 70 of them, more than
#      the 64 slots) hold at most half the slots, the rest closed at once;
#      slow calls from a third uid (a byte every 2 s) are reset once they
#      have not ended within 30 s; the operator's calls are served all the
#      while; the idle ones are closed after 30 s;
#   2. a flood of streams on one connection: the 33rd and later refused
#      (SETTINGS_MAX_CONCURRENT_STREAMS 32), the server serves others;
#   3. a rapid reset of 5,000 streams: the connection ends with a GOAWAY;
#   4. a message declared 4 GiB - 1 bytes: RESOURCE_EXHAUSTED, no RetryInfo,
#      nothing allocated for it (the server's memory stays small);
#   5. the counters say so (serve --metrics, the stop line);
#   6. a full disk (a 6 MiB tmpfs, root only): UNAVAILABLE with a RetryInfo
#      of 5 s naming the lack of space, nothing of that call written, and
#      after a restart every span answered OK is there and the ledger
#      verifies.
# 1 and 6 need root (setpriv, mount); without it they are skipped, said.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in node python3 curl; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_grpc_hostile.XXXXXX") || exit 1
chmod 755 "$T"
SP=""
M=$T/fs
mounted=0
cleanup() {
    [ -n "$SP" ] && kill -9 $SP 2>/dev/null
    wait 2>/dev/null
    [ "$mounted" = 1 ] && umount "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'ok - %s\n' "$*"; }
L() { "$LEDGER" --dir "$D" "$@"; }
GEN="python3 $HERE/lib/otlp_gen.py"
PB="python3 $HERE/lib/otlp_pb.py"
CALL="node $HERE/lib/grpc_call.cjs"
# (Debian's python3: other uids may not reach a python in root's home)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
H2="$PY $HERE/lib/h2_hostile.py"
ROOT=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && ROOT=1
as() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

start_serve() {
    : >"$T/s.out"
    "$LEDGER" --dir "$D" serve --otlp-grpc 127.0.0.1:0 --metrics 127.0.0.1:0 \
        "$@" >"$T/s.out" 2>"$T/s.err" &
    SP=$!
    i=0
    while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    G=$(sed -n 's/^otlp-grpc on http:\/\/\([^ ]*\) .*/\1/p' "$T/s.out")
    MU=$(sed -n 's/^metrics on \(http:[^ ]*\)/\1/p' "$T/s.out")
    [ -n "$G" ] || { fail "serve did not start: $(cat "$T/s.out" "$T/s.err")"; exit 1; }
}
stop_serve() {
    kill -TERM $SP
    wait $SP 2>/dev/null
    SP=""
}
# served TRACE N: a call of N spans from this uid is answered OK and recorded
served() {
    $GEN batch "$1" "$2" 1 | $PB traces >"$T/s.pb"
    $CALL "$G" traces "$T/s.pb" >"$T/r" 2>&1
    grep -q '"grpc":0' "$T/r" && [ "$(L query run="$1" -o json | wc -l)" = "$2" ]
}

L init >/dev/null || { echo "FAIL: init"; exit 1; }
start_serve

# ------------------------------ 1. idle and slow from other uids --
if [ $ROOT = 1 ]; then
    f0=$fails
    as 65534 $H2 "$G" idle 70 40 >"$T/idle" 2>&1 &
    ip=$!
    i=0
    while ! grep -q '^held' "$T/idle" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    grep -q '^held 32 of 70$' "$T/idle" ||
        fail "nobody's idle connections: $(cat "$T/idle") (want 32 kept: half of 64)"
    as 65533 $H2 "$G" slow 4 40 >"$T/slow" 2>&1 &
    sp=$!
    sleep 1
    served aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1 3 ||
        fail "a call beside nobody's idle connections and slow calls: $(cat "$T/r")"
    wait $sp
    wait $ip
    tail -1 "$T/slow" | grep -q '^reset 4 of 4 after' ||
        fail "slow calls were not reset: $(cat "$T/slow")"
    # reset by the server's timeout (30 s), not at once
    head -1 "$T/slow" | grep -q '^reset 0 of 4' ||
        fail "slow calls reset at once: $(cat "$T/slow")"
    grep -q '^closed 70 of 70 ' "$T/idle" ||
        fail "nobody's idle connections were not closed: $(cat "$T/idle")"
    served aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2 3 || fail "a call after them: $(cat "$T/r")"
    [ $fails = $f0 ] && ok "idle (nobody) and slow (uid 65533) connections: half the slots at most, reset or closed after 30 s; calls served"
else
    echo "idle and slow connections from other uids: skipped (needs root and setpriv)"
fi

# --------------------------------------------- 2. a flood of streams --
$H2 "$G" flood 200 >"$T/flood" 2>&1
grep -q '^refused 168, goaway 0, open 32$' "$T/flood" ||
    fail "200 streams on one connection: $(cat "$T/flood")"
served aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3 3 || fail "a call after the flood: $(cat "$T/r")"
ok "200 streams at once on one connection: 32 open, 168 refused; others served"

# ------------------------------------------------ 3. rapid reset --
$H2 "$G" resets 5000 >"$T/resets" 2>&1
grep -q '^goaway [0-9]* after [0-9]*$' "$T/resets" ||
    fail "rapid reset: $(cat "$T/resets")"
served aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4 3 || fail "a call after the resets: $(cat "$T/r")"
ok "5,000 streams opened and cancelled: $(cat "$T/resets"); others served"

# ----------------------------------- 4. a message declared 4 GiB --
printf 'x' >"$T/x"
hp=""
for i in 1 2 3 4 5 6 7 8; do
    $CALL "$G" traces "$T/x" --declare 4294967295 >"$T/huge.$i" 2>&1 &
    hp="$hp $!"
done
for p in $hp; do wait $p; done
for i in 1 2 3 4 5 6 7 8; do
    grep -q '"grpc":8,"message":"the message is 4294967295 bytes, over the limit of 8388608","retry_s":null' "$T/huge.$i" ||
        fail "4 GiB declared: $(cat "$T/huge.$i")"
done
rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$SP/status)
[ "$rss" -lt 262144 ] || fail "the server's peak memory: $rss kB after 8 calls declaring 4 GiB"
ok "8 calls declaring 4 GiB - 1: RESOURCE_EXHAUSTED without RetryInfo; peak memory $((rss / 1024)) MiB"

# ------------------------------------------------------ 5. counters --
f0=$fails
curl -s "$MU" >"$T/m"
python3 - "$T/m" "$ROOT" <<'P' || fail "metrics: $(grep '^ledger_otlp' "$T/m")"
import sys
m = {}
for l in open(sys.argv[1]):
    if l.startswith("ledger_otlp_"):
        k, v = l.split()
        m[k] = int(v)
root = sys.argv[2] == "1"
assert m["ledger_otlp_grpc_h2_errors_total"] >= 1, m
# (by reason: 8 calls declaring 4 GiB, the body's size)
assert m['ledger_otlp_requests_refused_total{reason="body_size"}'] == 8, m
if root:
    assert m["ledger_otlp_grpc_conns_refused_total"] >= 38, m
    assert m["ledger_otlp_grpc_calls_cut_total"] >= 4, m
P
stop_serve
grep -q 'ledger serve: otlp: .* of the requests over gRPC; gRPC connections: ' "$T/s.err" ||
    fail "the stop line: $(cat "$T/s.err")"
[ $fails = $f0 ] && ok "the counters: connections refused, calls cut, HTTP/2 errors"

# ----------------------------------------------------- 6. a full disk --
if [ $ROOT = 1 ] && mkdir -p "$M" && mount -t tmpfs -o size=6m tmpfs "$M" 2>/dev/null; then
    mounted=1
    D=$M/l
    L init >/dev/null 2>&1 || fail "init on the tmpfs"
    start_serve
    TRF=ffffffffffffffffffffffffffffffff
    : >"$T/full"
    i=0
    while [ $i -lt 200 ]; do
        i=$((i + 1))
        $GEN batch $TRF 300 "$(printf '%x' $((i * 1000)))" | $PB traces >"$T/f.pb"
        $CALL "$G" traces "$T/f.pb" >"$T/fr" 2>&1
        echo "$i $(head -1 "$T/fr")" >>"$T/full"
        grep -q '"grpc":0' "$T/fr" || break
    done
    grep -q '"grpc":14,"message":"not recorded: .*nothing of this request was written; send it again)","retry_s":5' "$T/fr" ||
        fail "a full disk: $(tail -2 "$T/full")"
    kill -9 $SP
    wait $SP 2>/dev/null
    SP=""
    L verify >"$T/v" 2>&1 || fail "verify after the full disk: $(cat "$T/v")"
    L query run=$TRF -o json --output-fields id >"$T/f.ids"
    python3 - "$T/f.ids" "$TRF" "$i" <<'P' || fail "after the full disk: $(tail -3 "$T/full")"
import json, sys
have = {json.loads(l)["id"] for l in open(sys.argv[1])}
tr, last = sys.argv[2], int(sys.argv[3])
for c in range(1, last + 1):
    ids = {"otlp:%s:%016x" % (tr, c * 1000 + k) for k in range(300)}
    if c < last:
        assert ids <= have, "call %d answered OK, spans missing" % c
    else:
        assert not (ids & have), "call %d refused, yet recorded" % c
print("full disk: %d calls answered OK, all there; the refused one not" % (last - 1))
P
    ok "a full disk: UNAVAILABLE with RetryInfo 5 s, nothing of it written; every acked span there"
else
    echo "a full disk: skipped (needs root and a tmpfs mount)"
fi

[ $fails = 0 ] || { echo "otlp_grpc_hostile: $fails failed"; exit 1; }
echo "otlp_grpc_hostile: all passed"
