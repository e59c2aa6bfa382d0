#!/bin/sh
# fleet_witness_lost.sh — a witness behind a proxy that misbehaves:
#   1. the witness cosigns, but its answer is lost (the proxy drops it):
#      the box queues the submission; the retry gets 409 with our very
#      size, proves from it (an empty proof) and is cosigned. It used to
#      exit 1, "this log was rolled back or forked".
#   2. the witness's answer carries a line of its name for another key
#      first (as after a key rotation): the box keeps the line that
#      verifies. It used to keep the first line of that name, which does
#      not verify, while saying "cosigned".
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
WPID=
PPID2=
cleanup() {
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    [ -n "$PPID2" ] && kill "$PPID2" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }

B=$T/box
"$L" --dir "$B" init --origin box2.example/log >/dev/null || exit 1
"$L" --dir "$B" ingest examples/pdf-ops.jsonl 2>/dev/null || exit 1
VK=$("$L" --dir "$B" keys verifier) || exit 1
WV=$("$L" witness init --dir "$T/w" --name w.example/w1) || exit 1
"$L" witness serve --listen 127.0.0.1:0 --dir "$T/w" --trust "$VK" \
    >"$T/wout" 2>"$T/werr" &
WPID=$!
i=0
while ! grep -q '^listening on 127.0.0.1:' "$T/wout" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 600 ] && { echo "FAIL: witness did not start"; exit 1; }
    sleep 0.05
done
WPORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/wout")

# the proxy: forwards to the witness; $T/mode says what it does to the
# answer: pass, drop (forward, then close without answering) or prepend
# (a line of the witness's name with key ID 01020304 first)
cat >"$T/proxy.py" <<'PY'
import base64, http.server, sys, urllib.request
wport, mode_file, port_file = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        req = urllib.request.Request("http://127.0.0.1:%s%s" % (wport, self.path),
                                     data=body, method="POST")
        try:
            r = urllib.request.urlopen(req)
            status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        mode = open(mode_file).read().strip()
        if mode == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if mode == "prepend" and status == 200:
            bogus = base64.b64encode(bytes([1, 2, 3, 4]) + bytes(72)).decode()
            data = ("\u2014 w.example/w1 %s\n" % bogus).encode() + data
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
echo drop >"$T/mode"
python3 "$T/proxy.py" "$WPORT" "$T/mode" "$T/pport" 2>"$T/perr" &
PPID2=$!
i=0
while [ ! -s "$T/pport" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
PURL="http://127.0.0.1:$(cat "$T/pport")"

# 1. the answer is lost: queued (exit 0); the retry is cosigned
"$L" --dir "$B" publish "$T/pub" --witness "$PURL $WV" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || fail "lost answer: exit $rc, want 0 ($(cat "$T/err"))"
grep -q "queued in the outbox" "$T/err" || fail "lost answer: not queued: $(cat "$T/err")"
S=$("$L" --dir "$B" checkpoint | sed -n 2p)
echo pass >"$T/mode"
"$L" --dir "$B" publish "$T/pub" --witness "$PURL $WV" --retry-now >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || fail "retry after a lost answer: exit $rc, want 0 ($(cat "$T/out" "$T/err"))"
cat "$T/out" "$T/err" | grep -q "cosigned size $S (from $S)" || fail "retry: not cosigned: $(cat "$T/out" "$T/err")"
"$L" --dir "$B" checkpoint --cosigned >"$T/cos" || fail "no cosigned checkpoint kept"
grep -q '^— w.example/w1 ' "$T/cos" || fail "the kept checkpoint has no witness line"

# 2. a line of the witness's name for another key comes first
"$L" --dir "$B" append x.t.n --body '{"i":1}' >/dev/null
echo prepend >"$T/mode"
"$L" --dir "$B" publish "$T/pub" --witness "$PURL $WV" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || fail "prepended line: exit $rc ($(cat "$T/out" "$T/err"))"
"$L" --dir "$B" checkpoint --cosigned >"$T/cos2" || fail "no cosigned checkpoint kept (2)"
grep -q '^— w.example/w1 AQIDBA' "$T/cos2" && fail "kept the line that does not verify: $(tail -2 "$T/cos2")"
grep -q '^— w.example/w1 ' "$T/cos2" || fail "kept no witness line: $(cat "$T/cos2")"
[ $nfail -eq 0 ] && echo "fleet_witness_lost: a lost answer is retried, the verifying line kept"
exit $((nfail > 0))
