#!/bin/sh
# proxy_crash.sh — kill -9 of `ledger proxy` under load, in the default
# (sync) mode: every answer a client received whole (a non-streamed
# answer, or a stream up to its end marker) has its event in the log,
# found by the X-Request-Id the client sent. 16 clients, half streaming,
# PROXY_CRASH_ROUNDS rounds (default 3) on one ledger; the log verifies
# after each.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/proxy_crash.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
ROUNDS=${PROXY_CRASH_ROUNDS:-3}
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
D=$T/l
echo '{"models": [{"name": "m:1", "digest": "sha256:aa"}], "default_answer": "a b c"}' >"$T/state.json"
# start_stub: tests/e2e/lib/proxy.sh
. "$ROOT/tests/e2e/lib/proxy.sh"
start_stub
"$LEDGER" --dir "$D" init >/dev/null || { echo "FAIL: init"; exit 1; }
r=1
total=0
while [ $r -le "$ROUNDS" ]; do
    rm -f "$T/p.out"
    "$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 --upstream "o=$U" \
        >"$T/p.out" 2>"$T/p.err" &
    PP=$!
    PIDS="$PIDS $PP"
    i=0
    while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    B="http://$(sed -n 's/^listening on //p' "$T/p.out")"
    # the clients write each id whose answer arrived whole
    python3 - "$B" "$r" "$T/got.$r" >"$T/load.$r" 2>&1 <<'P' &
import json, sys, threading, urllib.request, time
base, rnd, out = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
got = open(out, "w")
stop = time.time() + 20
def client(k):
    n = 0
    while time.time() < stop:
        n += 1
        rid = "r%s-c%d-%d" % (rnd, k, n)
        stream = k % 2 == 0
        body = {"model": "m:1", "prompt": "x", "stream": stream}
        req = urllib.request.Request(base + "/api/generate",
                                     json.dumps(body).encode(),
                                     {"X-Request-Id": rid})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                if r.status != 200:
                    continue
                if stream:
                    done = False
                    for line in r:
                        if json.loads(line).get("done"):
                            done = True
                    if not done:
                        continue
                else:
                    if not json.load(r).get("done"):
                        continue
        except Exception:
            return  # the proxy is gone
        with lock:
            got.write(rid + "\n")
            got.flush()
ts = [threading.Thread(target=client, args=(k,)) for k in range(16)]
for t in ts:
    t.start()
for t in ts:
    t.join()
P
    LP=$!
    # the kill comes under load: once more than 20 answers have arrived
    # (not after a set time: a loaded machine under a sanitizer may take
    # seconds for the first), or when the clients stop (20 s)
    i=0
    while [ "$(wc -l 2>/dev/null <"$T/got.$r" || echo 0)" -le 20 ] &&
        kill -0 $LP 2>/dev/null && [ $i -lt 400 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -9 $PP
    wait $PP 2>/dev/null
    wait $LP
    n=$(wc -l <"$T/got.$r")
    [ "$n" -gt 20 ] || fail "round $r: only $n answers before the kill"
    total=$((total + n))
    "$LEDGER" --dir "$D" query -o json >"$T/log.json" 2>"$T/qerr" ||
        fail "round $r: query: $(cat "$T/qerr")"
    python3 - "$T/log.json" "$T/got.$r" <<'P' || fail "round $r: answers without their event"
import json, sys
ids = set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("id"):
        ids.add(e["id"])
got = [l.strip() for l in open(sys.argv[2]) if l.strip()]
missing = [g for g in got if g not in ids]
if missing:
    print("%d of %d answered requests have no event: %s" % (len(missing), len(got), missing[:5]))
    sys.exit(1)
P
    "$LEDGER" --dir "$D" verify >/dev/null 2>"$T/verr" ||
        fail "round $r: verify: $(cat "$T/verr")"
    r=$((r + 1))
done
if [ "$nfail" -gt 0 ]; then
    echo "proxy_crash: $nfail failures"
    exit 1
fi
echo "proxy_crash: ok ($ROUNDS rounds, $total answers, each with its event)"
