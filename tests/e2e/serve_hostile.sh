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
# The issue's scenario was 4,200 connections against 4,096 and 200
# slowloris ones; it is scaled to --max-conns 64 here so it runs in
# seconds. The cross-uid part runs as nobody (setpriv) and needs root.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "SKIP: needs python3"; exit 0; }
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
time.sleep(0.5)
kept = []
for s in conns:
    r, _, _ = select.select([s], [], [], 0)
    if r and b'"code":75' in s.recv(4096):
        refused += 1
    else:
        kept.append(s)
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
    while [ ! -e "$T/held" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
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

# --- 2. idle and slow connections do not hold their slots
start --max-conns 64 --idle-timeout 1000 --line-timeout 1500 || exit 1
"$PY" "$T/hold.py" "$S" 20 idle 4 >"$T/idle" 2>&1 &
ip=$!
"$PY" "$T/hold.py" "$S" 20 slow 5 >"$T/slow" 2>&1
wait $ip
grep -q '^closed 20 after 1\.' "$T/idle" || fail "idle connections: $(cat "$T/idle")"
grep -q '^closed 20 after 2\.' "$T/slow" || fail "slow lines: $(cat "$T/slow")"
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

[ $fails = 0 ] || exit 1
echo "serve_hostile: ok"
