#!/bin/sh
# fleet_witness.sh — `ledger witness` over real HTTP on loopback: a box's
# checkpoints are cosigned (checked again by Go's crypto/ed25519 and
# sumdb/note when Go is present), a stale old size gets 409 with the size
# the witness holds, a rewritten history (same keys, different events) is
# refused (422) and kept as evidence, a rollback is refused (409), and the
# protocol's other refusals (404, 403, 400, 405) and the CLI's errors.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
WPID=
cleanup() { [ -n "$WPID" ] && kill "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/werr" ] && tail -5 "$T/werr"; exit 1; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

B=$T/box
"$L" --dir "$B" init --origin box1.example/log >/dev/null || fail init
# what `keys verifier` prints: the key's line, then the anchor line of the
# log key (init anchors it); --trust takes it whole, VK is the key alone
VKV=$("$L" --dir "$B" keys verifier) || fail verifier
VK=$(printf '%s\n' "$VKV" | head -n 1)
WV=$("$L" witness init --dir "$T/w" --name w.example/w1) || fail "witness init"
case "$WV" in w.example/w1+????????+*) ;; *) fail "witness vkey: $WV" ;; esac
[ "$("$L" witness key --dir "$T/w")" = "$WV" ] || fail "witness key differs"
"$L" witness init --dir "$T/w" --name w.example/w1 2>/dev/null
[ $? -eq 73 ] || fail "second witness init in one dir: want exit 73"
# -o json: the verifier key as `keys verifier -o json` prints a log's
[ "$("$L" witness key --dir "$T/w" -o json | jq -r .verifier)" = "$WV" ] ||
    fail "witness key -o json"
# another subcommand's option, an empty --dir: usage errors, nothing made
for args in "key --dir $T/w --name other" "init --dir $T/w9 --listen 1.2.3.4:5" \
    "init --dir $T/w9 --trust $VK" "key --dir $T/w --trust $VK" \
    "serve --dir $T/w --listen 127.0.0.1:0 --trust $VK -o json"; do
    # shellcheck disable=SC2086
    "$L" witness $args >/dev/null 2>"$T/e"
    rc=$?
    [ $rc -eq 64 ] || fail "witness $args: exit $rc, want 64 ($(cat "$T/e"))"
done
[ -e "$T/w9" ] && fail "a refused init made its directory"
"$L" witness init --dir '' >/dev/null 2>"$T/e"
[ $? -eq 64 ] || fail "witness init --dir '': want 64 ($(cat "$T/e"))"
"$L" witness key --dir '' >/dev/null 2>"$T/e"
[ $? -eq 64 ] || fail "witness key --dir '': want 64 ($(cat "$T/e"))"
# a Unix socket: said as given (before: "listening on unix:0")
"$L" witness serve --listen "unix:$T/w.sock" --dir "$T/w" --trust "$VKV" \
    >"$T/uout" 2>"$T/uerr" &
UPID=$!
i=0
while [ ! -s "$T/uout" ] && [ $i -lt 600 ]; do i=$((i + 1)); sleep 0.05; done
[ "$(cat "$T/uout")" = "listening on unix:$T/w.sock" ] ||
    fail "unix listen line: $(cat "$T/uout") $(cat "$T/uerr")"
kill $UPID 2>/dev/null
wait $UPID 2>/dev/null

"$L" witness serve --listen 127.0.0.1:0 --dir "$T/w" --trust "$VKV" \
    > "$T/wout" 2> "$T/werr" &
WPID=$!
i=0
while ! grep -q '^listening on 127.0.0.1:' "$T/wout" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 600 ] && { fail "witness did not start"; break; }
    sleep 0.05
done
PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/wout")
URL=http://127.0.0.1:$PORT/add-checkpoint

post() { # FILE -> prints status, body in $T/resp
    curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$1" "$URL"
}

"$L" --dir "$B" ingest examples/pdf-ops.jsonl 2>/dev/null || fail ingest
{ echo "old 0"; echo; "$L" --dir "$B" checkpoint; } > "$T/req0"
[ "$(post "$T/req0")" = 200 ] || fail "first add-checkpoint: $(cat "$T/resp")"
grep -q '^— w.example/w1 ' "$T/resp" || fail "cosignature line: $(cat "$T/resp")"
"$L" --dir "$B" checkpoint > "$T/ck1"
S1=$(sed -n 2p "$T/ck1")
cat "$T/ck1" "$T/resp" > "$T/cosigned1"

# the same request again: 409 with the held size, text/x.tlog.size
code=$(curl -s -o "$T/resp" -D "$T/hdr" -w '%{http_code}' --data-binary @"$T/req0" "$URL")
[ "$code" = 409 ] || fail "stale old size: got $code"
[ "$(cat "$T/resp")" = "$S1" ] || fail "409 body: $(cat "$T/resp") want $S1"
grep -qi '^content-type: text/x.tlog.size' "$T/hdr" || fail "409 content type"

# keep a copy of the box now: same keys, to rewrite history later
cp -r "$B" "$T/fork"
"$L" --dir "$B" append x.more --body '{"n":1}' >/dev/null || fail append
"$L" --dir "$B" append x.more --body '{"n":2}' >/dev/null || fail append
"$L" --dir "$B" proof --consistency "$S1" > "$T/req1" || fail "consistency body"
[ "$(post "$T/req1")" = 200 ] || fail "grown checkpoint: $(cat "$T/resp")"
S2=$((S1 + 2))

# rewritten history: the copy appends other events (same keys) to size S2+3
for n in 1 2 3 4 5; do
    "$L" --dir "$T/fork" append x.other --body "{\"n\":$n}" >/dev/null || fail "fork append"
done
"$L" --dir "$T/fork" proof --consistency "$S2" > "$T/reqf" || fail "fork body"
[ "$(post "$T/reqf")" = 422 ] || fail "fork: want 422, got $(cat "$T/resp")"
grep -q 'does not verify' "$T/resp" || fail "fork reason: $(cat "$T/resp")"
ls "$T/w/refused" | grep -q . || fail "refused request not kept"
# rollback: the copy's smaller checkpoint
{ echo "old $S2"; echo; "$L" --dir "$T/fork" checkpoint --size "$S1"; } > "$T/reqr"
[ "$(post "$T/reqr")" = 400 ] || fail "rollback (old above size): $(cat "$T/resp")"
{ echo "old 0"; echo; "$L" --dir "$T/fork" checkpoint --size "$S1"; } > "$T/reqr"
[ "$(post "$T/reqr")" = 409 ] || fail "rollback: want 409"
[ "$(cat "$T/resp")" = "$S2" ] || fail "rollback 409 body"
grep -q 'rollback refused' "$T/werr" || fail "witness log does not say rollback"

# other refusals
"$L" --dir "$T/other" init --origin other.example/log >/dev/null
{ echo "old 0"; echo; "$L" --dir "$T/other" checkpoint; } > "$T/reqo"
[ "$(post "$T/reqo")" = 404 ] || fail "unknown origin: want 404"
# the log key's signature line (the last is the epoch key's, which a
# witness does not check)
sed '/^— box1\.example\/log /s/^\(— [^ ]* \)./\1A/' "$T/req0" > "$T/reqb"
cmp -s "$T/reqb" "$T/req0" && sed -i '/^— box1\.example\/log /s/^\(— [^ ]* \)./\1B/' "$T/reqb"
code=$(post "$T/reqb")
[ "$code" = 403 ] || [ "$code" = 400 ] || fail "bad signature: got $code"
printf 'old x\n\ngarbage\n' > "$T/reqm"
[ "$(post "$T/reqm")" = 400 ] || fail "malformed: want 400"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 405 ] || fail "GET: want 405, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/req0" "http://127.0.0.1:$PORT/nope")
[ "$code" = 404 ] || fail "other path: want 404, got $code"

# CLI errors
"$L" witness serve --listen nowhere --dir "$T/w" --trust "$VK" 2>/dev/null
[ $? -eq 64 ] || fail "bad --listen: want 64"
"$L" witness serve --listen 127.0.0.1:0 --dir "$T/w" --trust junk 2>"$T/e"
[ $? -eq 65 ] || fail "bad --trust: want 65"
grep -q junk "$T/e" || fail "bad --trust message"
# publish --witness: an argument no retry can make work is a usage error
# before anything is published, never an outbox entry retried forever
for w in "notaurl $WV" " $WV" "http:// $WV" "http://127.0.0.1:$PORT $VK" \
    "http://127.0.0.1:$PORT junk"; do
    "$L" --dir "$B" publish "$T/pub" --witness "$w" 2>"$T/e"
    rc=$?
    [ $rc -eq 64 ] || fail "publish --witness '$w': want 64, got $rc"
    grep -q "not an http(s) URL\|not a witness (cosignature) verifier key" \
        "$T/e" || fail "publish --witness '$w' message: $(cat "$T/e")"
    [ ! -e "$T/pub/checkpoint" ] || fail "publish --witness '$w' published"
    ls -d "$B"/fleet/witness-* >/dev/null 2>&1 &&
        fail "publish --witness '$w' queued it in an outbox"
done
"$L" witness key --dir "$T/none" 2>/dev/null
[ $? -eq 66 ] || fail "missing witness: want 66"
"$L" witness --help | grep -q "ledger witness init" || fail "--help"
"$L" witness bogus 2>/dev/null
[ $? -eq 64 ] || fail "unknown subcommand: want 64"

if command -v go >/dev/null 2>&1; then
    export GOPATH=/usr/share/gocode GO111MODULE=off
    [ -n "${HOME:-}" ] || export GOCACHE="$T/gocache"
    go build -o "$T/tlogcheck" ./tests/interop/tlogcheck || fail "go build"
    "$T/tlogcheck" cosig "$VK" "$WV" "$T/cosigned1" >/dev/null || fail "Go: cosignature"
    # a flipped byte of the witness's signature must be refused by Go too
    sed '$s/^\(— w.example\/w1 .\{40\}\)./\1A/' "$T/cosigned1" > "$T/bad"
    cmp -s "$T/bad" "$T/cosigned1" && sed -i '$s/^\(— w.example\/w1 .\{40\}\)./\1B/' "$T/bad"
    "$T/tlogcheck" cosig "$VK" "$WV" "$T/bad" >/dev/null 2>&1 && fail "Go accepted a bad cosignature"
else
    echo "SKIP: the Go cross-check (go not installed)"
fi
echo "fleet_witness: ok (loopback 127.0.0.1:$PORT)"
