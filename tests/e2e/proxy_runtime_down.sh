#!/bin/sh
# proxy_runtime_down.sh — the doctor takes the proxy's evidence that a
# runtime is down (issue 46: the proxy recorded every call it could not
# connect for, and the doctor's runtimes-up clause still said "none
# down"):
#
#   * a runtime "ollama", registered and healthy, behind `ledger proxy
#     --upstream ollama=URL` with nothing listening at URL: a model call is
#     502, its route.decision says "unreachable": true, and the doctor's
#     runtimes-up fails naming ollama down since that event, with the
#     proxy's reason; a call to an upstream that is no runtime of the log
#     changes nothing;
#   * the runtime comes back (the stub listens at URL): the next call is
#     answered, and runtimes-up is ok again; rebuild gives the same state.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: needs curl"; exit 77; }
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/proxy_runtime_down.XXXXXX") ||
    exit 1
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
runtimes_up() { # the runtimes-up clause: "STATUS DETAIL"
    L doctor -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["box"]:
    if c["name"] == "runtimes-up":
        print(c["status"], " ".join(c.get("detail", [])))'
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
L init >/dev/null || exit 1
L append runtime.registered --body "{\"runtime\":\"ollama\",\"endpoint\":\"$URL\"}" >/dev/null
L append runtime.health --body '{"runtime":"ollama","status":"up"}' >/dev/null
case $(runtimes_up) in ok*) ;; *) fail "before: $(runtimes_up)" ;; esac

"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 --upstream "ollama=$URL" \
    --upstream "other=$URL" >"$T/p.out" 2>"$T/p.err" &
PIDS="$PIDS $!"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
PP="http://$(sed -n 's/^listening on //p' "$T/p.out")"
call() { # UPSTREAM: a chat call through the proxy; prints the status
    curl -s -o "$T/resp" -w '%{http_code}' -H "X-Ledger-Upstream: $1" \
        "$PP/api/chat" -d '{"model":"llama3:8b","messages":[{"role":"user","content":"hi"}]}'
}

# an upstream that is no runtime of the log: nothing about runtimes
[ "$(call other)" = 502 ] || fail "call to other: not 502"
case $(runtimes_up) in ok*) ;; *) fail "a call to a non-runtime upstream: $(runtimes_up)" ;; esac
# the runtime's upstream, with nothing listening
[ "$(call ollama)" = 502 ] || fail "call to ollama (down): not 502"
L query type=route.decision body.upstream=ollama -o json -n 1 >"$T/ev" 2>/dev/null
grep -q '"unreachable":true' "$T/ev" || fail "the event does not say unreachable: $(cat "$T/ev")"
seq=$(sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p' "$T/ev")
r=$(runtimes_up)
case $r in
"fail runtime ollama is down since seq $seq: upstream ollama: "*) ;;
*) fail "after an unreachable call: $r (want down since seq $seq)" ;;
esac
L doctor >/dev/null 2>&1
[ $? = 0 ] && fail "doctor with a runtime down: exit 0"

# it comes back: the next answered call is it up
# (an Ollama-like answer at the runtime's own port)
python3 - "$PORT" "$T/up" >/dev/null 2>&1 <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        b = json.dumps({"model": "llama3:8b", "done": True,
                        "message": {"role": "assistant", "content": "hi"},
                        "prompt_eval_count": 1, "eval_count": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
open(sys.argv[2], "w").write("up")
s.serve_forever()
PY
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/up" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
[ "$(call ollama)" = 200 ] || fail "call to ollama (up): $(cat "$T/resp")"
case $(runtimes_up) in ok*) ;; *) fail "after an answered call: $(runtimes_up)" ;; esac
L rebuild --check >"$T/out" 2>&1 || fail "rebuild --check: $(cat "$T/out")"

[ "$nfail" -eq 0 ] || exit 1
echo "proxy_runtime_down: the doctor takes the proxy's evidence"
