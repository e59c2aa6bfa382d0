#!/bin/sh
# doctor_follows.sh — chain-verified follows a busy box (issue 29: the
# doctor said "unknown", exit 3, after every write until someone ran
# `ledger verify`):
#   - once a verification is recorded, a box written to through `ledger
#     serve` gets "ok" for chain-verified from every doctor run, writes in
#     between (the doctor checks the new events itself and records it);
#   - `ledger serve --verify-every 1s` runs `ledger verify --new` as an
#     interval job: the new events are checked and recorded without any
#     doctor (`verify --new` then has nothing new), `serve --status` shows
#     the job's runs;
#   - tampering still fails: a byte of a new event's body altered inside
#     data.mdb makes the job fail (the status says so), the doctor fail
#     chain-verified naming the event (exit 1), and `ledger verify` exit 1;
#   - a never-verified log stays "unknown" (the doctor does not take the
#     first verification on itself), `verify --new` with --full is 64.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/doctor_follows.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
D=$T/l
nfail=0
fail() {
    printf 'FAIL: %s\n' "$*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
L() { "$LEDGER" --dir "$D" "$@"; }
chain() { # the status of chain-verified in the doctor's JSON
    L doctor -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([c["status"] for c in d["box"] if c["name"] == "chain-verified"][0])'
}
. "$ROOT/tests/e2e/lib/wait.sh" # within SECONDS CMD...

L init >/dev/null || exit 1
# a new ledger is verified: init checked its genesis (issue 46: its doctor
# said unknown, 3, until the first verify)
[ "$(chain)" = ok ] || fail "a fresh ledger: chain-verified $(chain), want ok"
L doctor >/dev/null 2>&1
rc=$?
[ $rc = 0 ] || fail "a fresh ledger's doctor: exit $rc, want 0"
L append x.test.a --body '{}' >/dev/null
L verify --new --full >/dev/null 2>&1
[ $? = 64 ] || fail "verify --new --full: want 64"
L verify >/dev/null 2>&1 || fail "first verify"

"$LEDGER" --dir "$D" serve --verify-every 1s >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
within 30 grep -q listening "$T/serve.out" || { echo "FAIL: serve did not start"; exit 1; }

# a busy box: writes, doctor, writes, doctor ...
round=0
while [ $round -lt 5 ]; do
    i=0
    while [ $i -lt 20 ]; do
        echo '{"type":"x.test.busy","body":{"round":'$round',"i":'$i'}}'
        i=$((i + 1))
    done | L ingest - >/dev/null 2>&1 || fail "ingest round $round"
    st=$(chain)
    [ "$st" = ok ] || fail "round $round: chain-verified $st after writes"
    L doctor >/dev/null 2>&1
    rc=$?
    [ $rc = 0 ] || fail "round $round: doctor exit $rc"
    round=$((round + 1))
done

# the job alone: new events, no doctor; the job checks and records them
L append x.test.b --body '{}' >/dev/null
L append x.test.b --body '{}' >/dev/null
n=$(L stats -o json | sed 's/.*"events":\([0-9]*\).*/\1/')
job_caught_up() {
    L verify --new 2>/dev/null | grep -q "nothing new since seq $((n - 1))"
}
within 30 job_caught_up || fail "the verify job did not record the new events: $(L verify --new -o json 2>&1)"
L serve --status -o json >"$T/st" 2>/dev/null
grep -q '"name":"verify"' "$T/st" || fail "serve --status: no verify job: $(cat "$T/st")"
grep -q '"last_exit":0' "$T/st" || fail "serve --status: verify job not ok: $(cat "$T/st")"

# tampering still fails: the server is stopped so that nothing verifies
# the event before its byte is altered (checked once, an event is not
# checked again but by a plain or full `ledger verify`), then started
# again: the job's first run, at once, checks it
kill "$pid"
wait "$pid" 2>/dev/null
L append x.test.c --body '{"marker":"tamper-zzqq"}' >/dev/null
L flush >/dev/null # (layout 9: into data.mdb, altered below)
seq=$(($(L stats -o json | sed 's/.*"events":\([0-9]*\).*/\1/') - 1))
python3 - "$D/data.mdb" <<'EOF' || exit 1
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"tamper-zzqq")
assert i >= 0
while i >= 0:
    b[i + 10] ^= 0x01
    i = b.find(b"tamper-zzqq", i + 1)
open(p, "r+b").write(b)
EOF
"$LEDGER" --dir "$D" serve --verify-every 1s >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
within 30 grep -q listening "$T/serve.out" || { echo "FAIL: serve did not start again: $(cat "$T/serve.err")"; exit 1; }
job_failed() { L serve --status -o json 2>/dev/null | grep -q '"last_exit":1'; }
within 15 job_failed || fail "the verify job did not fail on tampering: $(L serve --status 2>&1)"
grep -q "event $seq" "$T/serve.err" || fail "the job's log does not name event $seq"
L doctor >"$T/doc" 2>&1
rc=$?
[ $rc = 1 ] || fail "doctor after tampering: exit $rc, want 1"
grep 'chain-verified' "$T/doc" | grep -q "FAIL.*event $seq" ||
    fail "doctor: $(grep -A1 chain-verified "$T/doc")"
L verify >/dev/null 2>&1
[ $? = 1 ] || fail "verify after tampering: want 1"
# --at before the bad event is judged at that size: the finding is the
# log's now, not the first events' (it failed chain-verified for them)
L doctor --at $((seq - 1)) -o json >"$T/doc.json" 2>/dev/null
jq -e '.box[] | select(.name == "chain-verified") | .status == "ok" and
    (.detail[0] | test("found it bad"))' "$T/doc.json" >/dev/null ||
    fail "doctor --at $((seq - 1)): $(jq -c '.box[] | select(.name == "chain-verified")' "$T/doc.json")"
L doctor --at "$seq" -o json >"$T/doc.json" 2>/dev/null
jq -e '.box[] | select(.name == "chain-verified") | .status == "fail"' "$T/doc.json" >/dev/null ||
    fail "doctor --at $seq (the bad event): $(jq -c '.box[] | select(.name == "chain-verified")' "$T/doc.json")"

kill "$pid"
wait "$pid" 2>/dev/null
pid=""
# a checkpoint signed since the last verification, its signature broken:
# verify --new and the doctor fail naming it, and `ledger checkpoint`
# hands it out no more (until 2026-11-26 both said ok, and checkpoint
# printed it, exit 0). A ledger anchors its log key by default, so a
# checkpoint carries two signature lines, the log key's then its epoch
# key's: each is broken in turn, on a ledger of its own.
# ck_case NAME LINE: LINE is which signature line of the checkpoint to
# break, 1 (the log key's) or 2 (the epoch key's, the last line)
ck_case() {
    D=$T/ck$2
    L init >/dev/null || exit 1
    L append x.test.a --body '{}' >/dev/null
    L verify >/dev/null 2>&1 || fail "ck $1: first verify"
    L append x.test.b --body '{}' >/dev/null
    L append x.test.c --body '{}' >/dev/null
    L checkpoint >"$T/ck.txt"
    L flush >/dev/null # (layout 9: into data.mdb, altered below)
    n=$(sed -n 2p "$T/ck.txt")
    key=$(printf '%016x' "$n")
    len=$("$T/poke" "$D" keys checkpoints | awk -v k="$key" '$1 == k {print $2}')
    [ "$len" = "$(wc -c <"$T/ck.txt")" ] || fail "ck $1: stored $len bytes, printed $(wc -c <"$T/ck.txt")"
    [ "$(grep -c '^— ' "$T/ck.txt")" = 2 ] && tail -1 "$T/ck.txt" | grep -q '^— [^ ]*/epoch ' ||
        fail "ck $1: not the log key's and the epoch key's signatures: $(cat "$T/ck.txt")"
    # the end of the signature line broken (the first "— " line, or the
    # second), then a bit in the middle of its base64, of a character that
    # stays base64 with its low bit flipped (A, Z, a, z, + and / do not:
    # the signature would then not decode, a different failure)
    ln=$(grep -n '^— ' "$T/ck.txt" | sed -n "$2s/:.*//p")
    off=$(($(head -n "${ln:-0}" "$T/ck.txt" | wc -c) - 20))
    while [ "$off" -gt 0 ]; do
        c=$(dd if="$T/ck.txt" bs=1 skip="$off" count=1 2>/dev/null)
        case $c in [BCDEFGHIJKLMNOPQRSTUVWXYbcdefghijklmnopqrstuvwxy0123456789]) break ;; esac
        off=$((off - 1))
    done
    "$T/poke" "$D" flip checkpoints "$key" "$off" || fail "ck $1: poke"
    L verify --new >"$T/out" 2>&1
    rc=$?
    [ $rc = 1 ] && grep -q "$3" "$T/out" ||
        fail "ck $1: verify --new of a broken checkpoint: exit $rc: $(cat "$T/out")"
    L doctor >"$T/doc" 2>&1
    grep 'chain-verified' "$T/doc" | grep -q "FAIL.*checkpoint of size $n" ||
        fail "ck $1: doctor, a broken checkpoint: $(grep chain-verified "$T/doc")"
    L checkpoint >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 65 ] && [ ! -s "$T/out" ] && grep -q "$4" "$T/err" ||
        fail "ck $1: checkpoint of a broken one: exit $rc: $(cat "$T/out" "$T/err")"
}
if ${CC:-cc} -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb 2>/dev/null || echo -llmdb) 2>/dev/null; then
    ck_case "log key" 1 "the stored checkpoint of size [0-9]* does not verify with the log key" \
        "does not verify with the log key"
    # (the epoch key's: `ledger verify` says "checkpoint of size N, by the
    # log key's epoch: its signature does not verify")
    ck_case "epoch key" 2 "checkpoint of size [0-9]*.* epoch.*does not verify" \
        "epoch.*does not verify"
else
    fail "lmdb_poke does not build"
fi

[ $nfail = 0 ] || exit 1
echo "doctor_follows: ok after every write, serve --verify-every records, tampering fails"
