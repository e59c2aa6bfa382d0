#!/bin/sh
# projections_rebuild_kill.sh — `ledger rebuild` killed with SIGKILL at
# different moments leaves the projections whole: afterwards
# `rebuild --check` finds no difference, the digests are those from before,
# the log verifies, and the next append keeps everything current.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/projections_kill.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || { echo "FAIL: init"; exit 1; }
L ingest "$ROOT/examples/pdf-ops.jsonl" 2>/dev/null || fail "ingest pdf-ops"
# 20,000 more events: runs with steps, decisions and policy checks.
awk 'BEGIN {
    for (r = 0; r < 1000; r++) {
        printf "{\"type\":\"run.started\",\"body\":{\"run\":\"K-%d\",\"pack\":\"pdf-ops\"}}\n", r
        for (i = 0; i < 16; i++)
            printf "{\"type\":\"route.decision\",\"body\":{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"llama3.2-3b-instruct@q8_0\",\"run\":\"K-%d\",\"latency_ms\":%d,\"fallback\":true,\"outcome\":\"ok\"}}\n", r, (r * 7 + i * 13) % 900
        printf "{\"type\":\"run.step\",\"body\":{\"run\":\"K-%d\",\"step\":\"s\",\"tool\":\"t\",\"status\":\"%s\"}}\n", r, (r % 9 ? "ok" : "failed")
        printf "{\"type\":\"run.finished\",\"body\":{\"run\":\"K-%d\",\"status\":\"ok\"}}\n", r
    }
}' >"$T/more.jsonl"
L ingest "$T/more.jsonl" 2>/dev/null || fail "ingest more"
L projections -o json | jq -r '.digest' >"$T/before" || fail "projections"

for delay in 0.01 0.05 0.1 0.2 0.3 0.5; do
    L rebuild >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    L rebuild --check >"$T/check" 2>&1 ||
        fail "after a kill at ${delay}s: rebuild --check: $(head -c 400 "$T/check")"
    L projections -o json | jq -r '.digest' >"$T/after"
    cmp -s "$T/before" "$T/after" ||
        fail "after a kill at ${delay}s the digests changed"
done
L verify >/dev/null 2>&1 || fail "verify after the kills"
L append run.finished --body '{"run":"K-1","status":"failed"}' >/dev/null ||
    fail "append after the kills"
L projections -o json | jq -r -s '[.[].current] | all' | grep -qx true ||
    fail "projections not current after an append"
L rebuild --check >/dev/null 2>&1 || fail "rebuild --check after the append"
L runs K-1 -o json | jq -r .status | grep -qx failed ||
    fail "runs K-1 does not show the appended run.finished"

[ "$nfail" -eq 0 ] || { echo "$nfail failures"; exit 1; }
echo "projections_rebuild_kill: ok"
