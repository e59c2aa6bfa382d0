#!/bin/sh
# sensors_cli.sh — `ledger probe` and `ledger model verify` end to end
# against tests/stubs/stub.py and a fake Ollama store:
#   probe twice → nothing new the second time; change one model's digest →
#   exactly its model.registered; unload → exactly its model.state; stop
#   the runtime → runtime.health down + its models offline; llama.cpp via
#   /props; model verify of an Ollama model (ok, then a tampered blob →
#   exit 1 and the models view says failed), of a FILE with --expect;
#   bad arguments exit 64 (a runtime named twice too; in DIR/runtimes
#   65), missing weights 66.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/sensors_cli.XXXXXX") || exit 1
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
export LEDGER_NVIDIA_SMI=   # no GPU probing in tests
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
count() { grep -c "$1" "$T/out"; }
L() { "$LEDGER" --dir "$D" "$@"; }
D=$T/l
A=$(printf 'a%.0s' $(seq 64))
B=$(printf 'b%.0s' $(seq 64))
C=$(printf 'c%.0s' $(seq 64))
state() { # digest-of-m2 m2-loaded
    cat >"$T/state.json" <<J
{"version": "0.5.7", "models": [
 {"name": "m1:7b", "digest": "$A", "size": 1000, "quant": "Q4_K_M", "family": "qwen2", "loaded": true},
 {"name": "m2:3b", "digest": "$1", "size": 500, "quant": "Q8_0", "family": "llama", "loaded": $2}],
 "model_path": "$T/w.gguf"}
J
}
state "$B" false
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
    --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
U="http://127.0.0.1:$(cat "$T/port")"

L init >/dev/null || { echo "FAIL: init"; exit 1; }
expect_exit 0 "probe 1" L probe -r "ol=$U" -o json
[ "$(grep -c '"model.registered"' "$T/out")" = 2 ] || fail "probe 1: $(cat "$T/out")"
grep -q '"runtime.registered"' "$T/out" || fail "probe 1: no runtime.registered"
grep -q '"status":"up"' "$T/out" || fail "probe 1: runtime not up"
grep -q '"host.profile"' "$T/out" || fail "probe 1: no host.profile"
grep -q '"seq":"[0-9]*"' "$T/out" && ! grep -q '"seq":[0-9]' "$T/out" ||
    fail "probe 1: seq is not a string (docs/OUTPUT.md): $(head -c 300 "$T/out")"
grep -q '"capacity.snapshot"' "$T/out" || fail "probe 1: no capacity.snapshot"
grep -q '"loaded_models":\["m1:7b"\]' "$T/out" || fail "probe 1: loaded models"
grep -q '"digest":"'"$B"'"' "$T/out" || fail "probe 1: digest as reported"
N1=$(L stats -o json | jq -r .events)

expect_exit 0 "probe 2" L probe -r "ol=$U" -o json
[ -s "$T/out" ] && fail "probe 2 appended: $(cat "$T/out")"
grep -q "no change" "$T/err" || fail "probe 2: $(cat "$T/err")"
[ "$(L stats -o json | jq -r .events)" = "$N1" ] || fail "probe 2 changed the log"

# m2 re-pointed at other weights: exactly its model.registered
state "$C" false
expect_exit 0 "probe 3" L probe -r "ol=$U" -o json
[ "$(wc -l <"$T/out")" = 1 ] || fail "probe 3: $(cat "$T/out")"
grep -q '"type":"model.registered".*"model":"m2:3b"' "$T/out" ||
    fail "probe 3: $(cat "$T/out")"
# m2 loaded: its model.state, and the capacity's loaded models
state "$C" true
expect_exit 0 "probe 4" L probe -r "ol=$U" -o json
grep -q '"model.state".*"state":"loaded"' "$T/out" || fail "probe 4: $(cat "$T/out")"
[ "$(grep -c '"model.state"' "$T/out")" = 1 ] || fail "probe 4: $(cat "$T/out")"
grep -q '"loaded_models":\["m1:7b","m2:3b"\]' "$T/out" || fail "probe 4: capacity"

# runtimes from the ledger directory's file; a down runtime
echo "ol=$U" >"$D/runtimes"
expect_exit 0 "probe from file" L probe
kill $SPID; wait $SPID 2>/dev/null; SPID=
expect_exit 0 "probe down" L probe -o json --timeout-ms 1000
grep -q '"runtime.health".*"status":"down"' "$T/out" || fail "down: $(cat "$T/out")"
[ "$(grep -c '"state":"offline"' "$T/out")" = 2 ] || fail "down: offline: $(cat "$T/out")"
expect_exit 0 "probe down again" L probe -o json --timeout-ms 1000
[ -s "$T/out" ] && fail "probe down twice appended: $(cat "$T/out")"
L models -o json >"$T/models"
[ "$(jq -r 'select(.model=="m1:7b") | .state' "$T/models")" = offline ] ||
    fail "models view: $(cat "$T/models")"

# llama.cpp through /props (restart the stub)
rm -f "$T/port"
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
    --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
U="http://127.0.0.1:$(cat "$T/port")"
printf 'gguf weights' >"$T/w.gguf"
expect_exit 0 "probe llama.cpp" L probe --no-host -r "lc=llamacpp:$U" -o json
grep -q '"kind":"llama.cpp"' "$T/out" || fail "llama.cpp: $(cat "$T/out")"
grep -q '"path":"'"$T"'/w.gguf"' "$T/out" || fail "llama.cpp path: $(cat "$T/out")"
grep -q '"digest":"unreported"' "$T/out" || fail "llama.cpp digest: $(cat "$T/out")"
LCM=$(jq -r 'select(.type=="model.registered") | .body.model' "$T/out" | head -1)
[ -n "$LCM" ] || fail "llama.cpp: no model.registered: $(cat "$T/out")"

# model verify: a fake Ollama store for m1:7b
S=$T/ollama
mkdir -p "$S/blobs" "$S/manifests/registry.ollama.ai/library/tiny"
printf 'these are the weights' >"$T/blob"
WD=$(sha256sum "$T/blob" | cut -d' ' -f1)
cp "$T/blob" "$S/blobs/sha256-$WD"
printf '{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":21}]}' \
    "$WD" >"$S/manifests/registry.ollama.ai/library/tiny/latest"
MD=$(sha256sum "$S/manifests/registry.ollama.ai/library/tiny/latest" | cut -d' ' -f1)
L append model.registered --body "{\"model\": \"tiny\", \"digest\": \"$MD\", \"runtime\": \"ol\"}" >/dev/null
expect_exit 0 "verify ollama" L model verify tiny --ollama-dir "$S" -o json
[ "$(jq -r .ok "$T/out")" = true ] || fail "verify ollama: $(cat "$T/out")"
[ "$(jq -r .weights_digest "$T/out")" = "sha256:$WD" ] || fail "verify: weights digest"
[ "$(jq -r .digest "$T/out")" = "$MD" ] || fail "verify: digest"
L models -o json >"$T/models"
[ "$(jq -r 'select(.model=="tiny") | .verified' "$T/models")" = ok ] ||
    fail "models view verified: $(grep tiny "$T/models")"
printf 'tampered!' >>"$S/blobs/sha256-$WD"
expect_exit 1 "verify tampered" L model verify tiny --ollama-dir "$S"
grep -q "MISMATCH" "$T/out" || fail "tampered: $(cat "$T/out")"
grep -q "does not hash to the digest its manifest names" "$T/out" ||
    fail "tampered detail: $(cat "$T/out")"
L models -o json >"$T/models"
[ "$(jq -r 'select(.model=="tiny") | .verified' "$T/models")" = failed ] ||
    fail "models view failed: $(grep tiny "$T/models")"
# nothing registered and no --expect: nothing to compare with (64, before
# the store is looked at); with --expect, no manifest is 66
OLLAMA_MODELS=$S expect_exit 64 "verify unknown" L model verify nope
grep -q "nothing to compare with: model 'nope' is not registered" "$T/err" ||
    fail "verify unknown: $(cat "$T/err")"
OLLAMA_MODELS=$S expect_exit 66 "verify unknown --expect" L model verify nope --expect "$A"
grep -q "no manifest at" "$T/err" || fail "verify unknown --expect: $(cat "$T/err")"
# an Ollama model pulled but never registered: refused, nothing written
# (before: recorded ok with expected null, and listed in the models view)
mkdir -p "$S/manifests/registry.ollama.ai/library/q"
cp "$S/manifests/registry.ollama.ai/library/tiny/latest" "$S/manifests/registry.ollama.ai/library/q/"
n0=$(L checkpoint | sed -n 2p)
expect_exit 64 "verify unregistered ollama" L model verify q --ollama-dir "$S" -o json
[ "$(L checkpoint | sed -n 2p)" = "$n0" ] || fail "unregistered ollama model: an event was written"
L models -o json | grep -q '"q"' && fail "unregistered ollama model is in the models view"
# a manifest that is a FIFO is refused, not waited on
mkdir -p "$S/manifests/registry.ollama.ai/library/ff"
mkfifo "$S/manifests/registry.ollama.ai/library/ff/latest"
expect_exit 66 "verify a FIFO manifest" timeout 20 "$LEDGER" --dir "$D" model verify ff --ollama-dir "$S" --expect "$A"
grep -q "not a regular file" "$T/err" || fail "FIFO manifest: $(cat "$T/err")"

# a FILE against --expect, and the llama.cpp path of a registered model
FD=$(sha256sum "$T/w.gguf" | cut -d' ' -f1)
expect_exit 0 "verify file" L model verify "$T/w.gguf" --model w --expect "sha256:$FD"
expect_exit 1 "verify file wrong" L model verify "$T/w.gguf" --model w --expect "$A"
# nothing to compare with: refused, nothing written (issue 29)
expect_exit 64 "verify file unregistered" L model verify "$T/w.gguf" -o json
[ -s "$T/out" ] && fail "unregistered: printed $(cat "$T/out")"
L models -o json | grep -q '"w.gguf"' && fail "unregistered: w.gguf is in the models view"
expect_exit 64 "verify bad expect" L model verify "$T/w.gguf" --expect xyz
# 64 characters that are not hex are no digest either (before: recorded a
# failed verification against "sha256:zzz...")
expect_exit 64 "verify non-hex expect" L model verify "$T/w.gguf" --model w \
    --expect "sha256:$(printf 'z%.0s' $(seq 64))"
expect_exit 64 "verify empty --model" L model verify "$T/w.gguf" --model '' --expect "$A"
grep -q "empty model name" "$T/err" || fail "empty --model: $(cat "$T/err")"
# llama.cpp's model (registered with its path, digest unreported): with
# --expect its file is hashed (before: Ollama's store was looked in, 66);
# without, nothing to compare with (before: a recorded MISMATCH)
expect_exit 0 "verify llama.cpp model --expect" L model verify "$LCM" --expect "$FD" -o json
[ "$(jq -r .path "$T/out")" = "$T/w.gguf" ] || fail "llama.cpp --expect: $(cat "$T/out")"
n0=$(L checkpoint | sed -n 2p)
expect_exit 64 "verify llama.cpp model alone" L model verify "$LCM"
grep -q "registered without a sha256 digest" "$T/err" || fail "llama.cpp alone: $(cat "$T/err")"
[ "$(L checkpoint | sed -n 2p)" = "$n0" ] || fail "llama.cpp alone: an event was written"
# a registered path that is a FIFO: refused at once, not waited on
mkfifo "$T/fifo.gguf"
L append model.registered --body "{\"model\": \"lcf\", \"digest\": \"unreported\", \"runtime\": \"lc\", \"path\": \"$T/fifo.gguf\"}" >/dev/null
expect_exit 66 "verify a FIFO path" timeout 20 "$LEDGER" --dir "$D" model verify lcf --expect "$A"
grep -q "not a regular file" "$T/err" || fail "FIFO path: $(cat "$T/err")"
expect_exit 66 "verify missing file" L model verify /nonexistent/x.gguf
# a relative path is a path too (before: "not an Ollama model name", 65)
expect_exit 66 "verify missing relative file" L model verify ./nonexistent-x.gguf
grep -q "nonexistent-x.gguf: no such file" "$T/err" || fail "relative: $(cat "$T/err")"
expect_exit 66 "verify a directory" L model verify ./
grep -q "not a regular file" "$T/err" || fail "directory: $(cat "$T/err")"
# --expect in capitals of a registered digest: recorded as registered, so
# the models view says ok (before: stale, the digest kept as typed)
L append model.registered --body "{\"model\": \"w3\", \"digest\": \"sha256:$FD\", \"runtime\": \"lc\"}" >/dev/null
expect_exit 0 "verify capitals" L model verify "$T/w.gguf" --model w3 \
    --expect "$(printf %s "$FD" | tr a-f A-F)" -o json
[ "$(jq -r .digest "$T/out")" = "sha256:$FD" ] || fail "capitals recorded: $(cat "$T/out")"
L models -o json >"$T/models"
[ "$(jq -r 'select(.model=="w3") | .verified' "$T/models")" = ok ] ||
    fail "capitals, models view: $(grep w3 "$T/models")"
expect_exit 64 "verify no subcommand" L model
expect_exit 64 "probe bad runtime" L probe -r nourl
expect_exit 64 "probe bad url" L probe -r x=ftp://h
# a name that is not UTF-8 cannot be recorded: refused, not "no change"
expect_exit 64 "probe name not UTF-8" L probe --no-host -n -r "$(printf 'a\377')=http://127.0.0.1:1"
grep -q "in UTF-8" "$T/err" || fail "probe name not UTF-8: $(cat "$T/err")"
# one runtime named twice (two URLs, or the same one): each would report on
# it, two health events in one commit that may contradict each other
size0=$(L checkpoint | sed -n 2p)
expect_exit 64 "probe a runtime twice" L probe -r "ol=$U" -r "ol=http://127.0.0.1:1"
grep -q "runtime 'ol' is given twice" "$T/err" || fail "probe twice: $(cat "$T/err")"
expect_exit 64 "probe the same runtime twice" L probe -r "ol=$U" -r "ol=$U"
printf 'ol=%s\n# the old one\nol=http://127.0.0.1:1\n' "$U" >"$D/runtimes"
expect_exit 65 "runtimes file naming one twice" L probe
grep -q "runtimes:3: runtime 'ol' is listed twice" "$T/err" ||
    fail "runtimes file twice: $(cat "$T/err")"
rm -f "$D/runtimes"
[ "$(L checkpoint | sed -n 2p)" = "$size0" ] || fail "probe twice appended"
[ $nfail -eq 0 ] && echo "sensors_cli: ok"
exit $nfail
