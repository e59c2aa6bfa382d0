#!/bin/sh
# serve_fds.sh — `ledger serve` out of file descriptors. The process
# shares its descriptor table with its other receivers, so its open-file
# limit can run out below --max-conns. A connection that then waits was
# left in the backlog: the listening socket stayed readable and the event
# loop woke for it without end (a core at 100%), and the client waited
# for an answer that never came. Now the server takes it with a spare
# descriptor (util/sock.c, ldg_accept) and answers code 75 naming the
# cause; once descriptors are free again, clients are served as before.
# The soft limit is lowered on the running server with prlimit(1) to its
# lowest free descriptor number.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
PY=$(command -v python3) || { echo "SKIP: needs python3"; exit 77; }
command -v prlimit >/dev/null 2>&1 || { echo "SKIP: needs prlimit"; exit 77; }
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
S=$T/s.sock
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
"$LEDGER" init --dir "$D" >/dev/null || exit 1
"$LEDGER" --dir "$D" serve --socket "$S" >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    [ $i -gt 400 ] && { fail "serve did not start: $(cat "$T/serve.err")"; exit 1; }
done

# client.py SOCKET LINE: one connection, one line, the answer printed
cat >"$T/client.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass # refused at once: its answer is still there to read
try:
    print(s.makefile().readline().strip() or "(closed, no answer)")
except socket.timeout:
    print("(no answer in 10 s)")
EOF
ev='{"type":"x.t.thing","subject":"pack:a","body":{}}'
a=$("$PY" "$T/client.py" "$S" "$ev")
case $a in *'"seq"'*) ;; *) fail "first append not answered with a seq: $a" ;; esac

# hold one connection open, then allow exactly the descriptors in use
nfd() { ls "/proc/$pid/fd" | wc -l; }
fd0=$(nfd)
"$PY" - "$S" "$T/held" <<'EOF' &
import socket, sys, time, os
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
open(sys.argv[2], "w").close()
while os.path.exists(sys.argv[2]):
    time.sleep(0.05)
EOF
holder=$!
i=0
while [ ! -e "$T/held" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
# (until the server has taken the connection)
i=0
while [ "$(nfd)" -le "$fd0" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
# the lowest free descriptor number: a new one needs a number below the
# limit, and one is free below the lowest gap
n=0
while [ -e "/proc/$pid/fd/$n" ]; do n=$((n + 1)); done
prlimit --pid "$pid" --nofile="$n:" || fail "prlimit failed"

a=$("$PY" "$T/client.py" "$S" "$ev")
case $a in
*'out of file descriptors'*'"code":75'*) ;;
*) fail "a client past the open-file limit got: $a" ;;
esac
# again: the spare is taken back each time
a=$("$PY" "$T/client.py" "$S" "$ev")
case $a in
*'out of file descriptors'*) ;;
*) fail "a second client past the limit got: $a" ;;
esac
# not spinning: the backlog is empty, the server sleeps in epoll_wait
# (sampled for up to 5 s: on a loaded box it may be runnable a moment)
i=0
st=$(awk '{print $3}' /proc/$pid/stat)
while [ "$st" != S ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
    st=$(awk '{print $3}' /proc/$pid/stat)
done
[ "$st" = S ] || fail "serve is in state $st, not sleeping, after refusing"

# free descriptors: the held connection closes; clients are served again
rm -f "$T/held"
wait "$holder"
# (the server sees the close when it sees it: tried for up to 30 s)
i=0
a=$("$PY" "$T/client.py" "$S" "$ev")
while case $a in *'"seq"'*) false ;; *) [ $i -lt 300 ] ;; esac do
    sleep 0.1
    i=$((i + 1))
    a=$("$PY" "$T/client.py" "$S" "$ev")
done
case $a in *'"seq"'*) ;; *) fail "after a descriptor was freed: $a" ;; esac
prlimit --pid "$pid" --nofile=1024: || fail "prlimit back failed"
a=$("$PY" "$T/client.py" "$S" "$ev")
case $a in *'"seq"'*) ;; *) fail "after the limit was raised: $a" ;; esac

kill -TERM "$pid"
wait "$pid" || fail "serve exit $?: $(cat "$T/serve.err")"
pid=""
"$LEDGER" verify --dir "$D" >/dev/null || fail "verify after the run failed"
n=$("$LEDGER" stats --dir "$D" -o json | jq -r .events)
[ "$n" = 5 ] || fail "expected 5 events (genesis, anchor and 3 appends), got $n"

[ $fails -eq 0 ] && echo "serve_fds: refused past the open-file limit, no spin, served after"
exit $((fails > 0))
