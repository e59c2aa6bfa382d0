#!/bin/sh
# serve_examples.sh — the example clients of examples/clients/ (Python
# with the standard library only, Go with its standard library only) run
# against a real `ledger serve`: every event answered with a seq, and the
# events are in the ledger with the bodies sent.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
S=$D/ledger.sock
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    [ $i -gt 400 ] && { echo "FAIL: serve did not start"; exit 1; }
done

if command -v python3 >/dev/null 2>&1; then
    python3 "$ROOT/examples/clients/ledger_client.py" "$S" 5 >"$T/py" 2>&1 || fail "python client: $(cat "$T/py")"
    [ "$(grep -c '^py-[0-9] seq [0-9]*$' "$T/py")" = 5 ] || fail "python client: $(cat "$T/py")"
    n=$("$LEDGER" --dir "$D" query -o json type=x.example.python | grep -c '"lang":"python"')
    [ "$n" = 5 ] || fail "python events in the ledger: $n"
    # again, the same ids: the first seqs, nothing new recorded
    python3 "$ROOT/examples/clients/ledger_client.py" "$S" 5 >"$T/py2" 2>&1 || fail "python client again: $(cat "$T/py2")"
    cmp -s "$T/py" "$T/py2" || fail "python client again: $(cat "$T/py2") (first: $(cat "$T/py"))"
    n=$("$LEDGER" --dir "$D" query -o json type=x.example.python | grep -c '"lang":"python"')
    [ "$n" = 5 ] || fail "python events after a second run: $n"
else
    echo "SKIP: the python client (python3 not installed)"
fi

if command -v go >/dev/null 2>&1; then
    [ -n "${HOME:-}" ] || export GOCACHE="$T/gocache"
    (cd "$ROOT/examples/clients/go" && go build -o "$T/goclient" .) >"$T/gobuild" 2>&1 ||
        fail "go build: $(cat "$T/gobuild")"
    "$T/goclient" "$S" 5 >"$T/go" 2>&1 || fail "go client: $(cat "$T/go")"
    [ "$(grep -c '^go-[0-9] seq [0-9]*$' "$T/go")" = 5 ] || fail "go client: $(cat "$T/go")"
    n=$("$LEDGER" --dir "$D" query -o json type=x.example.go | grep -c '"lang":"go"')
    [ "$n" = 5 ] || fail "go events in the ledger: $n"
    "$T/goclient" "$S" 5 >"$T/go2" 2>&1 || fail "go client again: $(cat "$T/go2")"
    cmp -s "$T/go" "$T/go2" || fail "go client again: $(cat "$T/go2") (first: $(cat "$T/go"))"
    n=$("$LEDGER" --dir "$D" query -o json type=x.example.go | grep -c '"lang":"go"')
    [ "$n" = 5 ] || fail "go events after a second run: $n"
elif [ "${LEDGER_REQUIRE_GO:-0}" = 1 ]; then
    fail "go not installed and LEDGER_REQUIRE_GO=1"
else
    echo "SKIP: the go client (go not installed)"
fi

kill -TERM "$pid"
wait "$pid"
pid=""
"$LEDGER" --dir "$D" verify --full >/dev/null || fail "verify --full"
[ $fails = 0 ] && echo "serve_examples: ok"
[ $fails = 0 ]
