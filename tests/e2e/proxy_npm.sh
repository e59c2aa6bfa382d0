#!/bin/sh
# proxy_npm.sh — real clients no one here wrote: the official OpenAI
# Node.js library (npm's `openai`) and Ollama's (`ollama`), streaming and
# not, through `ledger proxy` in front of tests/stubs/stub.py
# (tests/e2e/lib/proxy_clients.mjs). Each call appears exactly once in the
# log with the right model, tokens and outcome, in the run the clients
# named (X-Ledger-Run), and the API key they sent is nowhere in it.
# The libraries are installed by setup.sh into BUILD/npm (versions in
# tests/npm/package.json); when they are not there this installs them,
# and skips (77) only when npm's registry cannot be reached.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NPM_DIR=${LEDGER_NPM_DIR:-$(cd "$(dirname "$LEDGER")" && pwd)/npm}
case $NPM_DIR in */asan/npm|*/tsan/npm) [ -d "$ROOT/build/npm/node_modules" ] && NPM_DIR=$ROOT/build/npm ;; esac
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/proxy_npm.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
command -v node >/dev/null 2>&1 || { echo "FAIL: node is not installed (setup.sh installs it)"; exit 1; }
if [ ! -d "$NPM_DIR/node_modules/openai" ] || [ ! -d "$NPM_DIR/node_modules/ollama" ]; then
    command -v npm >/dev/null 2>&1 || { echo "FAIL: npm is not installed (setup.sh installs it)"; exit 1; }
    mkdir -p "$NPM_DIR" && cp "$ROOT/tests/npm/package.json" "$NPM_DIR/"
    if ! timeout 300 npm install --prefix "$NPM_DIR" --no-audit --no-fund \
        >"$T/npm.log" 2>&1; then
        if ! timeout 30 npm ping >/dev/null 2>&1; then
            echo "SKIP: npm's registry is unreachable; the openai and ollama libraries cannot be installed"
            exit 77
        fi
        echo "FAIL: npm install: $(tail -5 "$T/npm.log")"
        exit 1
    fi
fi
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
DIG=sha256:$(printf 'e%.0s' $(seq 64))
cat >"$T/state.json" <<J
{"models": [{"name": "llama3:8b", "digest": "$DIG"}],
 "answers": {"why is the sky blue": "because of Rayleigh scattering"}}
J
# start_stub: tests/e2e/lib/proxy.sh
. "$ROOT/tests/e2e/lib/proxy.sh"
start_stub
L init >/dev/null || { echo "FAIL: init"; exit 1; }
L append model.registered --body "{\"model\":\"llama3:8b\",\"digest\":\"$DIG\"}" >/dev/null
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 --upstream "ollama=$U" \
    >"$T/p.out" 2>"$T/p.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
B="http://$(sed -n 's/^listening on //p' "$T/p.out")"
node --version >"$T/node.v"
if ! node "$ROOT/tests/e2e/lib/proxy_clients.mjs" "$NPM_DIR" "$B" r-npm llama3:8b \
    >"$T/out" 2>"$T/err"; then
    fail "the clients failed: $(tail -20 "$T/err")"
fi
cat >"$T/want" <<'W'
openai.chat "because of Rayleigh scattering"
openai.chat.stream "because of Rayleigh scattering"
openai.embeddings 1
openai.models 1
ollama.chat.stream "because of Rayleigh scattering"
ollama.generate "because of Rayleigh scattering"
ollama.embed 2
ollama.list 1
W
cmp -s "$T/out" "$T/want" || fail "what the clients got: $(cat "$T/out")"
kill -TERM $PP
wait $PP 2>/dev/null
L query run=r-npm -o json >"$T/ev"
python3 - "$T/ev" "$DIG" <<'P' || fail "events: $(cat "$T/ev" | head -c 3000)"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
rd = [e["body"] for e in es if e["type"] == "route.decision"]
pr = [e["body"] for e in es if e["type"] == "proxy.request"]
got = sorted((b["api"], b["stream"]) for b in rd)
want = sorted([("openai.chat", False), ("openai.chat", True),
               ("openai.embeddings", False), ("ollama.chat", True),
               ("ollama.generate", False), ("ollama.embed", False)])
assert got == want, got
assert sorted(b["path"] for b in pr) == ["/api/tags", "/v1/models"], pr
for b in rd:
    assert b["outcome"] == "ok" and b["status"] == 200, b
    assert b["chosen_model"] == "llama3:8b" and b["model_digest"] == sys.argv[2], b
    assert b["tokens_in"] > 0, b
    if "embed" not in b["api"]:
        assert b["tokens_out"] == 4, b
    assert b["client"]["exe"].split("/")[-1].startswith("node"), b["client"]
for b in pr:
    assert b["outcome"] == "ok", b
P
grep -q 'sk-test-never-recorded' "$T/ev" && fail "the API key is in the log"
L query -o json | grep -q 'sk-test' && fail "the API key is in the log"
if [ "$nfail" -gt 0 ]; then
    echo "proxy_npm: $nfail failures"
    exit 1
fi
echo "proxy_npm: ok (node $(cat "$T/node.v"))"
