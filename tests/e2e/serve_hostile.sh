#!/bin/sh
# serve_hostile.sh — `ledger serve` under hostile clients (issue 29):
#   1. a peer with no write right (here nobody, a reader-group member in
#      the issue) opens more idle connections than --max-conns: it gets a
#      quarter of them; the writers (`ledger append`, a client of the
#      daemon's own uid) still connect and write. It used to get every
#      slot and every writer code 75 "too many connections".
#   2. idle connections are closed after --idle-timeout and slowloris
#      connections (a byte now and then, never a newline) are dropped
#      after --line-timeout; the stop line counts both.
#   3. forged sealed batches from many connections: the daemon's VmHWM
#      stays within what its stop line says it held (plus its own base),
#      and that within the budget and one batch; a batch longer than
#      --budget / 16 is refused unparsed; a peer that may write nothing
#      is refused before its batch is parsed.
# The issue's scenario was 4,200 connections against 4,096 and 200
# slowloris ones; it is scaled to --max-conns 64 here so it runs in
# seconds. The cross-uid part runs as nobody (setpriv) and needs root.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
chmod 711 "$T"
D=$T/l
S=$D/ledger.sock
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
ROOT=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && ROOT=1

start() {
    : >"$T/serve.out"
    "$LEDGER" --dir "$D" serve "$@" >"$T/serve.out" 2>"$T/serve.err" &
    pid=$!
    i=0
    while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "serve did not start: $(cat "$T/serve.err")"
            pid=""
            return 1
        fi
    done
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "serve exit $?: $(cat "$T/serve.err")"
    pid=""
}

# hold.py SOCKET N MODE SECONDS: opens N connections and holds them for
# SECONDS; MODE idle sends nothing, slow sends one byte of a line every
# 0.1 s from 0.5 s on. Prints "open K refused R": K connections the
# server kept, R answered code 75 at once; then "closed C after S s": C of
# the kept ones the server closed within SECONDS, the last S s after
# they were opened.
cat >"$T/hold.py" <<'EOF'
import select, socket, sys, time
path, n, mode, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
conns, refused = [], 0
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conns.append(s)
t0 = time.time()
# the refusals come at once; on a loaded box "at once" can be seconds:
# idle ones count them until none came for a second (30 s at most); slow
# ones must begin their line at 0.5 s
gone, last = set(), t0
quiet = 1 if mode == "idle" else 0
while time.time() - t0 < 30 and (time.time() - t0 < 0.5 or time.time() - last < quiet):
    for i, s in enumerate(conns):
        if i in gone:
            continue
        r, _, _ = select.select([s], [], [], 0)
        if r:
            d = s.recv(4096, socket.MSG_PEEK)
            if b'"code":75' in d:
                s.recv(4096)
                gone.add(i)
                refused += 1
                last = time.time()
    time.sleep(0.05)
kept = [s for i, s in enumerate(conns) if i not in gone]
print("open %d refused %d" % (len(kept), refused), flush=True)
if len(sys.argv) > 5:
    open(sys.argv[5], "w").close()  # the writers may go now
closed = set()
while time.time() - t0 < secs and len(closed) < len(kept):
    for i, s in enumerate(kept):
        if i in closed:
            continue
        if mode == "slow":
            try:
                s.send(b"{")
            except OSError:
                closed.add(i)
                continue
        r, _, _ = select.select([s], [], [], 0)
        if r:
            try:
                if s.recv(4096) == b"":
                    closed.add(i)
            except OSError:
                closed.add(i)
    time.sleep(0.1)
print("closed %d after %.1f s" % (len(closed), time.time() - t0), flush=True)
EOF
chmod 644 "$T/hold.py"

"$LEDGER" --dir "$D" init >/dev/null || exit 1
chmod 711 "$D"

# --- 1. a peer with no write right cannot take the writers' slots
if [ $ROOT = 1 ]; then
    start --max-conns 64 || exit 1
    chmod 666 "$S" # let nobody connect: access.json (none) decides
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$T/hold.py" "$S" 70 idle 4 "$T/held" \
        >"$T/nob" 2>&1 &
    hp=$!
    i=0
    while [ ! -e "$T/held" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    head -1 "$T/nob" | grep -q '^open 16 refused 54$' ||
        fail "nobody's idle connections: $(cat "$T/nob") (want 16 kept: a quarter of 64)"
    # the writers: the operator's `ledger append` and 40 connections of
    # the daemon's own uid (its share is the whole limit)
    out=$("$LEDGER" --dir "$D" append -v --body '{"i":1}' x.hostile 2>&1) ||
        fail "ledger append beside nobody's idle connections: $out"
    echo "$out" | grep -q 'seq' || fail "append: $out"
    "$PY" "$T/hold.py" "$S" 40 idle 0 >"$T/self" 2>&1
    head -1 "$T/self" | grep -q '^open 40 refused 0$' ||
        fail "the daemon's own uid beside nobody's connections: $(cat "$T/self")"
    wait $hp
    stop
    grep -q ' (54 refused, 0 dropped)' "$T/serve.err" ||
        fail "stop line: $(cat "$T/serve.err")"
    grep -q ' 54 connections refused over a share' "$T/serve.err" ||
        fail "stop line (shares): $(cat "$T/serve.err")"
    [ "$("$LEDGER" --dir "$D" query -o json type=x.hostile | wc -l)" = 1 ] ||
        fail "the append is not in the log"
fi

# --- 2. idle and slow connections do not hold their slots: 20 idle and
# 20 slow take all 40; the idle ones are closed (half of the slots or more
# taken), the slow ones dropped; then one idle connection alone (slots to
# spare) keeps its slot
start --max-conns 40 --idle-timeout 1000 --line-timeout 1500 || exit 1
# (not before their time; how long after it is the box's load)
"$PY" "$T/hold.py" "$S" 20 idle 30 >"$T/idle" 2>&1 &
ip=$!
"$PY" "$T/hold.py" "$S" 20 slow 30 >"$T/slow" 2>&1
wait $ip
grep -Eq '^closed 20 after ([1-9]|[1-9][0-9])\.' "$T/idle" || fail "idle connections: $(cat "$T/idle")"
grep -Eq '^closed 20 after ([2-9]|[1-9][0-9])\.' "$T/slow" || fail "slow lines: $(cat "$T/slow")"
"$PY" "$T/hold.py" "$S" 1 idle 2.5 >"$T/alone" 2>&1
grep -q '^closed 0 after' "$T/alone" || fail "an idle writer alone: $(cat "$T/alone")"
stop
grep -q '; 20 idle connections closed, 20 slow lines dropped, ' "$T/serve.err" ||
    fail "stop line: $(cat "$T/serve.err")"
# bad values are refused with the option's name
for opt in --idle-timeout --line-timeout; do
    "$LEDGER" --dir "$D" serve "$opt" 0 >/dev/null 2>"$T/e"
    rc=$?
    [ $rc = 64 ] && grep -q -- "$opt: '0' is not a whole number" "$T/e" ||
        fail "serve $opt 0: exit $rc: $(cat "$T/e")"
done

# --- 3. sealed batches: what they take is bounded and counted.
# 16 connections each send three forged batches (a bad sig) of 2,500
# events, 0.95 MB each; the issue's were 8.8 MB against the default 64
# MiB budget, here the budget is 16 MiB. A batch is parsed only while
# what is held has room for it (or none is parsed), and its parse and
# append count against --budget. Today's code parsed them all at once:
# 241 MB VmHWM at the default budget with 3.7 MB batches, its stop line
# saying 38 MB held.
"$LEDGER" keys generate --out "$T/w.key" >"$T/w.pub" || fail "keys generate"
"$LEDGER" --dir "$D" keys add w --public-key @"$T/w.pub" --roles run >/dev/null ||
    fail "keys add"
mk() { # mk N FILE: N run.step events
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "{\"type\":\"run.step\",\"body\":{\"run\":\"R-%d\",\"step\":\"s%d\",\"tool\":\"ocr\",\"status\":\"ok\",\"duration_ms\":%d},\"id\":\"%s%d\"}\n", i % 50, i, i, ENVIRON["P"], i }' >"$2"
}
P=f mk 2500 "$T/f.jsonl"
"$LEDGER" --dir "$D" seal --key "$T/w.key" "$T/f.jsonl" >"$T/f.sealed" 2>/dev/null || fail "seal"
# forged: the first base64 digit of the sig changed
sed 's/"sig":"A/"sig":"B/; t; s/"sig":"./"sig":"A/' "$T/f.sealed" >"$T/forged"
cmp -s "$T/f.sealed" "$T/forged" && fail "the batch was not forged"
cat >"$T/flood.py" <<'EOF'
import socket, sys, threading
path, n, k, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
data = open(f, "rb").read()
res = []
def one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for _ in range(k):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    fl = s.makefile("rb")
    res.append([fl.readline() for _ in range(k)])
ts = [threading.Thread(target=one) for _ in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
ans = [a for r in res for a in r]
print("answers %d refused %d" % (len(ans), sum(1 for a in ans if b'"error"' in a)))
print("first " + ans[0].decode()[:300] if ans else "none")
EOF
chmod 644 "$T/flood.py" "$T/f.sealed"
# A sanitizer's allocator keeps freed memory (ASan's quarantine: 443 MiB
# VmHWM for the forged load) and its shadow counts in the RSS: under one,
# VmHWM is shown, not bounded (the held figure is still checked).
RSS_CHECK=1
if ldd "$LEDGER" 2>/dev/null | grep -q -e libasan -e libtsan; then
    RSS_CHECK=0
    echo "serve_hostile: a sanitizer build: VmHWM is shown, not bounded"
fi
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
held() { sed -n 's/.*at most \([0-9]*\) KiB held at once.*/\1/p' "$T/serve.err"; }
B=16777216
start --budget $B || exit 1
base=$(hwm)
"$PY" "$T/flood.py" "$S" 16 3 "$T/forged" >"$T/flood" 2>&1
grep -q '^answers 48 refused 48$' "$T/flood" || fail "forged batches: $(cat "$T/flood")"
grep -q 'the seal does not verify' "$T/flood" || fail "forged batches: $(cat "$T/flood")"
peak=$(hwm)
stop
h=$(held)
echo "forged batches at --budget 16 MiB: VmHWM $peak KiB (at start $base), held at most $h KiB"
# the stop line's figure is true: the daemon's memory is what it held,
# and its own (at start, and 24 MiB for its allocator's arenas and slack)
[ $RSS_CHECK = 0 ] || [ "$peak" -le $((h + base + 24576)) ] ||
    fail "VmHWM $peak KiB, more than the $h KiB the stop line says were held and $base + 24576 KiB"
# what is held is at most the budget and one batch's parse and append
[ "${h:-999999}" -le $((2 * B / 1024)) ] || fail "held $h KiB, more than twice the budget"

# a valid batch longer than its limit (8 times --max-line or --budget /
# 16 if less, at least --max-line: here --max-line) is refused before it
# is read whole, naming the budget; with room in the budget (3 MiB a
# batch) it is committed and counted
P=v mk 6000 "$T/v.jsonl"
"$LEDGER" --dir "$D" seal --key "$T/w.key" "$T/v.jsonl" >"$T/v.sealed" 2>/dev/null || fail "seal"
start --budget $B || exit 1
"$PY" "$T/flood.py" "$S" 1 1 "$T/v.sealed" >"$T/big" 2>&1
grep -q 'a sealed batch longer than 1114112 bytes: not recorded .*raise --budget' "$T/big" ||
    fail "a batch over budget/16: $(cat "$T/big")"
stop
start --budget $((3 * B)) || exit 1
base=$(hwm)
"$PY" "$T/flood.py" "$S" 1 1 "$T/v.sealed" >"$T/big" 2>&1
grep -q '"count":6000' "$T/big" || fail "a batch within budget/16: $(cat "$T/big")"
peak=$(hwm)
stop
h=$(held)
echo "a valid 6,000-event batch ($(wc -c <"$T/v.sealed") bytes): VmHWM $peak KiB (at start $base), held at most $h KiB"
[ $RSS_CHECK = 0 ] || [ "$peak" -le $((h + base + 24576)) ] ||
    fail "VmHWM $peak KiB, more than the $h KiB held and $base + 24576 KiB"

# a peer that may write nothing is refused before its batch is parsed
if [ $ROOT = 1 ]; then
    start || exit 1
    chmod 666 "$S"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$T/flood.py" "$S" 1 1 "$T/f.sealed" >"$T/nob" 2>&1
    grep -q '^answers 1 refused 1$' "$T/nob" && grep -q 'not authorised: uid 65534' "$T/nob" ||
        fail "nobody's sealed batch: $(cat "$T/nob")"
    stop
fi

[ $fails = 0 ] || exit 1
echo "serve_hostile: ok"
