#!/bin/sh
# cli_small_answers.sh — the small wrong answers of issue 29, each as a user
# met it:
#   - `mirror --key box.vkey` stored the text "box.vkey" as the log's key
#     (for good: a remembered key is never replaced): the file is read, and
#     text that is no key is refused (64) before anything is written;
#   - `model verify FILE` with nothing to compare registered a model that
#     never was: refused (64), nothing written;
#   - `promote` with a mistyped eval id wrote a permanent promotion.rejected:
#     refused (66), nothing written (also with --force);
#   - the README's `query type=model.state model='qwen2.5*'` found nothing;
#   - `query pack=P type=T --deps` printed every event of P's routes and
#     models, whatever T;
#   - `publish` to a URL holding another box's log overwrote it, exit 0:
#     refused (73; 1 for this origin's log at a larger size);
#   - `probe` of a runtime listing 2,000 models committed one event at a
#     time, and stored a size of -5: one commit (one seal), the negative
#     size left out and named on stderr.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/cli_small.XXXXXX") || exit 1
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 LEDGER_NVIDIA_SMI=
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
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
size() { L stats -o json | sed 's/.*"events":\([0-9]*\).*/\1/'; }

L init --origin example.org/box1 >/dev/null || { echo "FAIL: init"; exit 1; }
L ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null || { echo "FAIL: ingest"; exit 1; }

# --- mirror --key FILE
L keys verifier > "$T/box.vkey"
L publish "$T/pub" >/dev/null || fail "publish to a directory"
# a relative directory that is there is a directory (it used to be
# refused as "want http://, https://, s3://BUCKET/PREFIX or a
# directory"), so is ./new; a bare name that is not there is more likely
# a URL without its scheme: refused, nothing created; a scheme that is
# none of these is refused, naming what it wants
mkdir "$T/relpub"
(cd "$T" && "$LEDGER" --dir "$D" publish relpub >/dev/null 2>"$T/err") ||
    fail "publish to a relative directory: $(cat "$T/err")"
cmp -s "$T/relpub/checkpoint" "$T/pub/checkpoint" ||
    fail "publish to a relative directory: not the checkpoint of $T/pub"
(cd "$T" && "$LEDGER" --dir "$D" publish ./newpub >/dev/null 2>"$T/err") ||
    fail "publish to ./newpub: $(cat "$T/err")"
[ -f "$T/newpub/checkpoint" ] || fail "publish to ./newpub: no checkpoint"
(cd "$T" && "$LEDGER" --dir "$D" publish logs.example.org/box1 >"$T/out" 2>"$T/err")
rc=$?
[ "$rc" = 64 ] && [ ! -e "$T/logs.example.org" ] &&
    grep -q "logs.example.org/box1: no such directory (a new one here: ./logs.example.org/box1; a server: http://" "$T/err" ||
    fail "publish to a scheme-less URL: exit $rc: $(cat "$T/err")"
# two boxes given one URL: the second used to overwrite the first's log
# (and roll it back) and exit 0; another log's checkpoint, or this
# origin's at a larger size, is refused before anything is written
"$LEDGER" --dir "$T/other" init --origin example.org/box2 >/dev/null ||
    fail "init box2"
cp "$T/pub/checkpoint" "$T/ck.before"
expect_exit 73 "publish another log over this one" "$LEDGER" --dir "$T/other" publish "$T/pub"
grep -q "holds the checkpoint of another log ('example.org/box1'), not of example.org/box2" "$T/err" ||
    fail "publish over another log: $(cat "$T/err")"
"$LEDGER" --dir "$T/again" init --origin example.org/box1 >/dev/null ||
    fail "init box1 again"
expect_exit 1 "publish a shorter log of this origin over it" "$LEDGER" --dir "$T/again" publish "$T/pub"
grep -q "refusing to publish a shorter log over it" "$T/err" ||
    fail "publish a shorter log over it: $(cat "$T/err")"
cmp -s "$T/pub/checkpoint" "$T/ck.before" || fail "the published checkpoint was overwritten"
L publish "$T/pub" >"$T/out" 2>"$T/err" && grep -q 'nothing new' "$T/out" ||
    fail "publish of the log there after: $(cat "$T/out" "$T/err")"
expect_exit 64 "publish to file:// with no path" "$LEDGER" --dir "$D" publish file://
grep -q "file://: no directory after file://" "$T/err" ||
    fail "publish file://: $(cat "$T/err")"
[ -e /checkpoint ] && [ /checkpoint -nt "$T/pub/checkpoint" ] &&
    fail "publish file:// wrote /checkpoint"
expect_exit 64 "mirror of a scheme-less URL" "$LEDGER" mirror nosuch.example/logs --state "$T/m9"
grep -q "no such directory" "$T/err" || fail "mirror nosuch.example/logs: $(cat "$T/err")"
expect_exit 64 "publish to ftp://" "$LEDGER" --dir "$D" publish ftp://x/y
grep -q "ftp://x/y: want http://, https://, s3://BUCKET/PREFIX, file:// or a directory" "$T/err" ||
    fail "publish ftp://: $(cat "$T/err")"
expect_exit 0 "mirror --key FILE" "$LEDGER" mirror "$T/pub" --state "$T/m1" --key "$T/box.vkey"
# the file is the key's line, then the log key's anchor line (init
# anchors it): the key is remembered in vkey, the anchor in anchor
head -1 "$T/box.vkey" | cmp -s "$T/m1/vkey" - ||
    fail "mirror --key FILE remembered '$(cat "$T/m1/vkey" 2>/dev/null)', not the key in the file"
sed -n 's/^anchor name=log key_id=\([^ ]*\) pub=\([^ ]*\) t0=\([^ ]*\) period_ns=\([^ ]*\) seq=\([^ ]*\)$/\1 \2 \3 \4 \5/p' \
    "$T/box.vkey" | cmp -s "$T/m1/anchor" - ||
    fail "mirror --key FILE remembered the anchor '$(cat "$T/m1/anchor" 2>/dev/null)', not the one in the file"
expect_exit 0 "mirror again, key remembered" "$LEDGER" mirror "$T/pub" --state "$T/m1"
expect_exit 66 "mirror --key missing file" "$LEDGER" mirror "$T/pub" --state "$T/m2" --key "$T/nope.vkey"
grep -q "nope.vkey" "$T/err" || fail "missing key file not named: $(cat "$T/err")"
# a --list that is a directory is no input (66, as ingest DIR), not "no
# logs listed" (65) of a list never read
expect_exit 66 "mirror --list DIR" "$LEDGER" mirror --list "$T"
grep -q "^ledger mirror: cannot open $T: Is a directory$" "$T/err" ||
    fail "mirror --list DIR: $(cat "$T/err")"
expect_exit 66 "mirror --list missing" "$LEDGER" mirror --list "$T/nope.txt"
grep -q "cannot open $T/nope.txt: No such file" "$T/err" ||
    fail "mirror --list missing: $(cat "$T/err")"
expect_exit 64 "mirror --key not a key" "$LEDGER" mirror "$T/pub" --state "$T/m3" --key 'box+not+a+key'
grep -q "not a log verifier key" "$T/err" || fail "bad key not said: $(cat "$T/err")"
[ -e "$T/m2/vkey" ] || [ -e "$T/m3/vkey" ] && fail "a refused --key was remembered"
# no key at all the first time: a usage error (64), not an unusable key
expect_exit 64 "mirror without a key" "$LEDGER" mirror "$T/pub" --state "$T/m4"
grep -q "no log key remembered: give --key" "$T/err" || fail "no key: $(cat "$T/err")"
# a line past the list's buffer: named, not split into a second entry
{ printf '#%08200d\n' 0; printf '%s %s\n' "$T/pub" "$T/m1"; } >"$T/long.txt"
expect_exit 65 "mirror --list long line" "$LEDGER" mirror --list "$T/long.txt"
grep -q "long.txt:1: line longer than" "$T/err" || fail "long list line: $(cat "$T/err")"
# publish: --retry-now names no witness by itself; a URL the outbox
# would cut short is refused before anything is published
expect_exit 64 "publish --retry-now alone" L publish "$T/pub" --retry-now
grep -q -- "--retry-now retries the --witness named with it" "$T/err" ||
    fail "--retry-now alone: $(cat "$T/err")"
expect_exit 64 "publish --witness long URL" L publish "$T/pub" \
    --witness "http://127.0.0.1:1/$(printf '%02100d' 0) w.example/w1+01234567+AAAA"
grep -q -- "--witness: a URL of 2119 bytes" "$T/err" || fail "long witness URL: $(cat "$T/err")"

# --- model verify FILE with nothing to compare
head -c 1000 /dev/urandom > "$T/w.gguf"
n0=$(size)
expect_exit 64 "model verify FILE, nothing to compare" L model verify "$T/w.gguf"
grep -q "nothing to compare" "$T/err" || fail "model verify: $(cat "$T/err")"
[ "$(size)" = "$n0" ] || fail "model verify with nothing to compare wrote an event"
L models -o json | grep -q 'w.gguf' && fail "models view lists w.gguf"
fd=$(sha256sum < "$T/w.gguf" | cut -c1-64)
expect_exit 0 "model verify FILE --expect" L model verify "$T/w.gguf" --model w --expect "sha256:$fd"

# --- promote with an eval id that names no result
n0=$(size)
expect_exit 66 "promote, mistyped eval" L promote route:pdf-ops/extract qwen2.5-7b-instruct@q4_k_m --eval E-l
grep -q "no eval E-l in the log" "$T/err" || fail "promote typo: $(cat "$T/err")"
expect_exit 66 "promote --force, mistyped eval" L promote route:pdf-ops/extract qwen2.5-7b-instruct@q4_k_m --eval E-l --force
[ "$(size)" = "$n0" ] || fail "promote with a mistyped eval id wrote an event"
echo '{"type":"eval.started","body":{"eval_id":"E-9","suite":"s","target":"route:pdf-ops/extract","candidate":"m"}}' |
    L ingest - >/dev/null
n0=$(size)
expect_exit 66 "promote, eval without a result" L promote route:pdf-ops/extract m --eval E-9
grep -q "has started but has no result" "$T/err" || fail "promote unfinished: $(cat "$T/err")"
[ "$(size)" = "$n0" ] || fail "promote of an unfinished eval wrote an event"
# a real eval still goes through the gate (E-1 is for another candidate)
expect_exit 1 "promote, gate fails" L promote route:pdf-ops/extract m --eval E-1
L query type=promotion.rejected | grep -q "E-1" || fail "a gated rejection is still recorded"

# --- the README's glob
L query type=model.state model='qwen2.5*' -o json --output-fields seq > "$T/q"
[ "$(wc -l < "$T/q")" = 2 ] || fail "model='qwen2.5*': $(cat "$T/q")"

# --- --deps keeps the other terms
L query pack=pdf-ops type=route.decision --deps -o json --output-fields type > "$T/q"
[ -s "$T/q" ] || fail "--deps with type=: nothing"
grep -v '"route.decision"' "$T/q" && fail "--deps with type=route.decision printed other types"
L query pack=pdf-ops --deps -o json --output-fields type | grep -q '"model.state"' ||
    fail "--deps without type= lost the models' events"

# --- probe: one commit, no negative size
python3 - "$T/state.json" <<'EOF'
import json, sys
ms = [{"name": "m%d:7b" % i, "digest": "%064x" % i, "size": 1000 + i}
      for i in range(2000)]
ms[3]["size"] = -5
json.dump({"version": "0.5.7", "models": ms}, open(sys.argv[1], "w"))
EOF
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
    --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
n0=$(size)
expect_exit 0 "probe 2,000 models" L probe --no-host --direct -r "ol=http://127.0.0.1:$(cat "$T/port")"
grep -q "model m3:7b: field 'size' is -5, not a byte count: size_bytes left out" "$T/err" ||
    fail "negative size not named: $(head -c 300 "$T/err")"
n1=$(size)
[ $((n1 - n0)) -ge 4000 ] || fail "probe appended $((n1 - n0)) events"
L query seq=$n0.. -o json --output-fields seal | sort -u > "$T/seals"
[ "$(wc -l < "$T/seals")" = 1 ] ||
    fail "probe's events are in $(wc -l < "$T/seals") commits, want 1"
L query model=m3:7b type=model.registered -o json > "$T/q"
grep -q '"size_bytes"' "$T/q" && fail "a negative size was stored: $(cat "$T/q")"
grep -q '"model":"m3:7b"' "$T/q" || fail "m3:7b not registered"
L query model=m4:7b type=model.registered -o json | grep -q '"size_bytes":1004' ||
    fail "a good size was not stored"

# a SEQ that is not one, or an argument too many, is named, not answered
# with the usage alone
for a in "show abc" "show" "show 1 2" "proof abc" "proof" \
    "proof --consistency 3 4" "erase abc --reason x" "erase 1" \
    "verify extra" "stats extra" "metrics extra" "checkpoint extra"; do
    # shellcheck disable=SC2086
    L $a >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 64 ] && [ ! -s "$T/out" ] &&
        head -n 1 "$T/err" | grep -Eq "^ledger [a-z]+: ('abc' is not a sequence number|SEQ is required|one SEQ at a time|--consistency OLD takes no SEQ|--reason TEXT is required|unexpected argument 'extra')" ||
        fail "ledger $a: exit $rc: $(head -n 1 "$T/err")"
done

[ $nfail = 0 ] || exit 1
echo "cli_small_answers: mirror key files, model verify, promote, glob, --deps, probe batch, SEQ arguments"
