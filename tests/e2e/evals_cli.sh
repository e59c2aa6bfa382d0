#!/bin/sh
# evals_cli.sh — eval run / evals / promote / rollback end to end against
# tests/stubs/stub.py: 40 of 40 right, promoted; a candidate with 30 of 40
# right passes its threshold but is refused promotion (promotion.rejected,
# exit 1); --force promotes it, marked ungated; rollback goes back; a
# refused endpoint fails every case (exit 1, never passed); bad suites and
# bad arguments exit 65/64/66 naming the cause.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/evals_cli.XXXXXX") || exit 1
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
expect_exit() {
    want=$1
    what=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] ||
        fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"
}
expect_jq() {
    got=$(jq -r "$3" <"$2" 2>&1)
    [ "$got" = "$4" ] || fail "$1: $3 is '$got', want '$4'"
}
L() { "$LEDGER" --dir "$D" "$@"; }
D=$T/l

# state: answers for q0..q(N-1) right, the rest wrong
state() {
    python3 - "$1" "$T/state.json" <<'PY'
import json, sys
n = int(sys.argv[1])
json.dump({"answers": {"q%d" % i: "a%d" % i for i in range(n)},
           "default_answer": "wrong",
           "models": [{"name": "m1", "digest": "d1" * 32},
                      {"name": "m2", "digest": "d2" * 32}]},
          open(sys.argv[2], "w"))
PY
}
state 40
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
    --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$T/port")
EP="http://127.0.0.1:$PORT/v1"

{
    echo '{"suite": {"name": "s40", "version": "1", "threshold": {"metric": "pass_rate", "op": ">=", "value": 0.7}}}'
    i=0
    while [ $i -lt 40 ]; do
        echo "{\"id\": \"c$i\", \"prompt\": \"q$i\", \"assert\": [{\"type\": \"equals\", \"value\": \"a$i\"}]}"
        i=$((i + 1))
    done
} >"$T/s40.jsonl"

L init >/dev/null || { echo "FAIL: init"; exit 1; }
L append route.declared --body '{"route": "qa", "model": "m1"}' >/dev/null
L append model.state --body '{"model": "m1", "state": "available"}' >/dev/null
L append model.state --body '{"model": "m2", "state": "available"}' >/dev/null
L append model.registered --body "{\"model\": \"m1\", \"digest\": \"sha256:$(printf 'd1%.0s' $(seq 32))\"}" >/dev/null

# 1. all right: passed, exit 0, recorded
expect_exit 0 "eval m1" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m1 --endpoint "$EP" --concurrency 4 -o json
expect_jq "eval m1" "$T/out" '.cases_passed' 40
expect_jq "eval m1" "$T/out" '.passed' true
expect_jq "eval m1 digest" "$T/out" '.candidate_digest | startswith("sha256:d1d1")' true
# a sequence number is a string in every -o json (docs/OUTPUT.md)
expect_jq "eval m1 seq" "$T/out" '.seq | type' string
E1=$(jq -r .eval_id "$T/out")
expect_exit 0 "promote m1" L promote route:qa m1 --eval "$E1"
L routes -o json >"$T/routes"
expect_jq "routes after m1" "$T/routes" '.readiness' proven
# names are bound to bytes: m1 re-pointed at other weights is no longer
# proven by an eval of the old ones; back to the old digest, proven again
D1="sha256:$(printf 'd1%.0s' $(seq 32))"
L append model.registered --body "{\"model\": \"m1\", \"digest\": \"sha256:$(printf 'ee%.0s' $(seq 32))\"}" >/dev/null
L routes -o json >"$T/routes"
expect_jq "re-pointed m1" "$T/routes" '.readiness' declared-not-proven
expect_jq "re-pointed m1 detail" "$T/routes" '.detail | test("other weights")' true
expect_jq "route eval digest" "$T/routes" '.eval.candidate_digest' "$D1"
L append model.registered --body "{\"model\": \"m1\", \"digest\": \"$D1\"}" >/dev/null
L routes -o json >"$T/routes"
expect_jq "m1 back" "$T/routes" '.readiness' proven

# 2. 30 of 40 right: recorded as 30/40, passes 0.7, but worse than m1
state 30
expect_exit 0 "eval m2" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m2 --endpoint "$EP" --concurrency 8
grep -q "FAIL c35 " "$T/out" || fail "eval m2: failed case c35 not named"
grep -q "PASSED 30/40" "$T/out" || fail "eval m2: summary: $(tail -1 "$T/out")"
L evals --target route:qa -o json >"$T/evals"
E2=$(tail -1 "$T/evals" | jq -r .eval_id)
expect_jq "evals m2" "$T/evals" 'select(.candidate=="m2") | .cases_passed' 30
expect_jq "evals seq" "$T/evals" 'select(.candidate=="m2") | .seq | type' string
expect_exit 1 "promote worse m2" L promote route:qa m2 --eval "$E2"
grep -q "pass rate 0.75 is lower than 1" "$T/err" ||
    fail "promote m2: reason: $(cat "$T/err")"
L query type=promotion.rejected -o json >"$T/rej"
expect_jq "rejected event" "$T/rej" '.body.candidate' m2
L promotions -o json >"$T/p"
expect_jq "still m1" "$T/p" '.candidate' m1

# 3. --force: promoted, ungated
expect_exit 0 "force m2" L promote route:qa m2 --eval "$E2" --force
L promotions -o json >"$T/p"
expect_jq "forced" "$T/p" '.candidate' m2
expect_jq "forced ungated" "$T/p" '.ungated' true

# 4. rollback to the previous
expect_exit 0 "rollback" L rollback route:qa --reason "worse answers"
L promotions -o json >"$T/p"
expect_jq "rolled back" "$T/p" '.candidate' m1

# 5. wrong eval for the target, unknown eval
# (an id that names no eval decides nothing: refused, nothing written)
expect_exit 66 "promote unknown eval" L promote route:qa m2 --eval E-nope
grep -q "no eval E-nope in the log" "$T/err" || fail "unknown eval: $(cat "$T/err")"
expect_exit 1 "promote other candidate" L promote route:qa m1 --eval "$E2"

# 6. refused endpoint: every case fails, exit 1
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_exit 1 "refused" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m1 --endpoint "http://127.0.0.1:$DEAD/v1" -o json
expect_jq "refused" "$T/out" '.cases_passed' 0
expect_jq "refused" "$T/out" '.request_failures' 40
expect_jq "refused detail" "$T/out" '.cases[0].detail | test("connection refused")' true

# 7. bad input
printf '{"id": "a", "prompt": "x", "assert": [{"type": "regexp", "value": "y"}]}\n' >"$T/bad.jsonl"
expect_exit 65 "bad suite" L eval run "$T/bad.jsonl" --target route:qa \
    --candidate m1 --endpoint "$EP"
grep -q "bad.jsonl:1:40: field 'assert\[0\].type': unknown type 'regexp'" "$T/err" ||
    fail "bad suite message: $(cat "$T/err")"
expect_exit 66 "missing suite" L eval run "$T/none.jsonl" --target route:qa \
    --candidate m1 --endpoint "$EP"
expect_exit 64 "bad target" L eval run "$T/s40.jsonl" --target qa \
    --candidate m1 --endpoint "$EP"
expect_exit 64 "no endpoint" L eval run "$T/s40.jsonl" --target route:qa --candidate m1
expect_exit 64 "bad concurrency" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m1 --endpoint "$EP" -j 0
expect_exit 64 "rollback without reason" L rollback route:qa
expect_exit 64 "--seed and --no-seed" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m1 --endpoint "$EP" --seed 3 --no-seed
# refused before eval.started is written: no eval left without a result
n0=$(L checkpoint | sed -n 2p)
expect_exit 64 "endpoint too long" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate m1 --endpoint "http://127.0.0.1:1/$(printf '%03000d' 0)"
grep -q "endpoint URL longer than" "$T/err" || fail "long endpoint: $(cat "$T/err")"
K=$(printf '%02000d' 0) expect_exit 64 "API key too long" L eval run "$T/s40.jsonl" \
    --target route:qa --candidate m1 --endpoint "$EP" --api-key-env K
grep -q "API key longer than" "$T/err" || fail "long key: $(cat "$T/err")"
bad=$(printf 'm\377')
expect_exit 65 "candidate not UTF-8" L eval run "$T/s40.jsonl" --target route:qa \
    --candidate "$bad" --endpoint "$EP"
grep -q "the candidate is not UTF-8 text" "$T/err" || fail "not UTF-8: $(cat "$T/err")"
[ "$(L checkpoint | sed -n 2p)" = "$n0" ] || fail "refused runs wrote events"
expect_exit 65 "rollback reason not UTF-8" L rollback route:qa --reason "$bad"
grep -q "the reason is not UTF-8 text" "$T/err" || fail "rollback: $(cat "$T/err")"
expect_exit 65 "promote reason not UTF-8" L promote route:qa m1 --eval E-1 --reason "$bad"
[ "$(L checkpoint | sed -n 2p)" = "$n0" ] || fail "refused rollback/promote wrote events"
# an eval id no query can hold names no eval (before: 65, "invalid input")
expect_exit 66 "promote a 600-byte eval id" L promote route:qa m1 --eval "E-$(printf '%0550d' 0)"
grep -q "no eval E-0000" "$T/err" || fail "long eval id: $(cat "$T/err")"
expect_exit 0 "eval --help" L eval run --help
grep -q "Example" "$T/out" || fail "eval --help has no example"
# the example suite parses and runs (the stub answers "wrong": exit 1)
expect_exit 1 "example suite" L eval run "$ROOT/examples/evals/capitals.jsonl" \
    --target route:demo --candidate m1 --endpoint "$EP" -o json
expect_jq "example suite" "$T/out" '.cases_total' 5

[ $nfail -eq 0 ] && echo "evals_cli: ok"
exit $nfail
