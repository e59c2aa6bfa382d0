#!/bin/sh
# trust_client_seal.sh — a key held by its writer, end to end (issue 12):
# the key is made outside the ledger directory (`keys generate`), enrolled
# by its public key alone, batches are sealed on the writer's side
# (`ledger seal`, from the ledger or from --origin/--first alone) and go in
# through `ledger ingest` (plain and --strict, beside ordinary lines) and
# `ledger serve`; the log verifies, `keys list` counts what the key sealed,
# an export of the events verifies offline. A batch sent through serve
# records its sender (`source`: uid, gid, pid, exe) with every event, in
# the stamp, outside the seal: a retry is still recognised and the bundle
# still verifies. Then the misattribution
# attempts — a batch sealed by key A sent as key B, an event moved between
# two clients' batches, a replayed (stale) batch, one event's body changed
# after sealing, a revoked key, an unknown key, a key whose roles forbid a
# type, a batch for another ledger — are each refused with the right exit
# code and a message naming the cause, and nothing is written.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
events() { L stats -o json | jq -r .events; }
sealed_of() { L keys list -o json | jq -r --arg n "$1" 'select(.name==$n) | .sealed'; }

L init >/dev/null || exit 1
ORIGIN=$(L checkpoint | head -n 1)
mkdir "$T/writer"
# --- keys made outside the ledger, enrolled by public key ----------------
for k in alpha beta gamma; do
    "$LEDGER" keys generate --out "$T/writer/$k.key" >"$T/writer/$k.pub" ||
        fail "keys generate $k"
done
L keys add alpha --public-key @"$T/writer/alpha.pub" --roles run >/dev/null ||
    fail "enrol alpha"
L keys add beta --public-key @"$T/writer/beta.pub" --roles run >/dev/null ||
    fail "enrol beta"
ls "$D/keys" | grep -q -e alpha -e beta && fail "a writer's secret entered $D/keys"
[ "$(sealed_of alpha)" = 0 ] || fail "alpha sealed $(sealed_of alpha) before any batch"

cat >"$T/run1.jsonl" <<'EOF'
{"type":"run.started","body":{"run":"R-1","pack":"pdf-ops"},"id":"r1-start"}
{"type":"run.step","body":{"run":"R-1","step":"extract","tool":"ocr","status":"ok"},"id":"r1-s1","time":"2026-11-22T20:55:01.25Z"}
{"type":"run.finished","body":{"run":"R-1","status":"ok"},"id":"r1-end"}
EOF
# sealed from the ledger's own origin and count (--dir)
L seal --key "$T/writer/alpha.key" "$T/run1.jsonl" >"$T/a1.json" 2>"$T/err" ||
    fail "seal --dir: $(cat "$T/err")"
[ "$(wc -l <"$T/a1.json")" = 1 ] || fail "seal printed $(wc -l <"$T/a1.json") lines, want 1"
[ "$(jq -r .sealed.count "$T/a1.json")" = 3 ] || fail "sealed count: $(jq -c .sealed "$T/a1.json" | cut -c1-200)"
[ "$(jq -r .sealed.first "$T/a1.json")" = 0 ] || fail "first sealed batch not at 0"
n0=$(events)
# beside ordinary lines: the order of the input is the order of the log
{
    echo '{"type":"x.before","body":{"n":1}}'
    cat "$T/a1.json"
    echo '{"type":"x.after","body":{"n":2}}'
} >"$T/mixed.jsonl"
L ingest --direct "$T/mixed.jsonl" >/dev/null 2>"$T/err" || fail "ingest mixed: $(cat "$T/err")"
[ "$(events)" = $((n0 + 5)) ] || fail "mixed ingest: $(($(events) - n0)) events, want 5"
L query -o json >"$T/q.json"
[ "$(jq -r 'select(.type=="x.before") | .seq' "$T/q.json")" = "$n0" ] ||
    fail "x.before not first"
[ "$(jq -r 'select(.id=="r1-start") | .seq' "$T/q.json")" = $((n0 + 1)) ] ||
    fail "the sealed batch is not right after x.before"
[ "$(jq -r 'select(.id=="r1-end") | .seq' "$T/q.json")" = $((n0 + 3)) ] ||
    fail "the sealed batch is not contiguous"
[ "$(jq -r 'select(.id=="r1-s1") | .actor_name' "$T/q.json")" = alpha ] ||
    fail "sealed event not attributed to alpha: $(jq -c 'select(.id=="r1-s1")' "$T/q.json" | cut -c1-300)"
[ "$(jq -r 'select(.id=="r1-s1") | .time' "$T/q.json")" = 2026-11-22T20:55:01.250000000Z ] ||
    fail "the sealed event's time is not the one sealed"
[ "$(sealed_of alpha)" = 3 ] || fail "alpha sealed $(sealed_of alpha), want 3"
L keys list >"$T/list"
grep -Eq '^alpha .* writer +3 +run' "$T/list" || fail "keys list: $(cat "$T/list")"

# a retried batch is answered as duplicates, nothing appended
n1=$(events)
L ingest --direct "$T/a1.json" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 0 ] || fail "retried batch: exit $rc ($(cat "$T/err"))"
grep -q "3 events with an id already in the log" "$T/err" ||
    fail "retried batch not answered as duplicates: $(cat "$T/err")"
[ "$(events)" = "$n1" ] || fail "a retried batch was appended again"

# --strict takes a sealed batch into its all-or-nothing commit
sed 's/R-1/R-2/g; s/r1-/r2-/g' "$T/run1.jsonl" >"$T/run2.jsonl"
L seal --key "$T/writer/alpha.key" "$T/run2.jsonl" >"$T/a2.json" 2>/dev/null || fail "seal run2"
{ cat "$T/a2.json"; echo '{"type":"run.started","body":{}}'; } >"$T/strict-bad.jsonl"
L ingest --strict "$T/strict-bad.jsonl" >/dev/null 2>&1
[ $? = 65 ] || fail "--strict with a bad line did not refuse"
[ "$(events)" = "$n1" ] || fail "--strict with a bad line wrote the sealed batch"
L ingest --strict "$T/a2.json" >/dev/null 2>"$T/err" || fail "ingest --strict sealed: $(cat "$T/err")"
[ "$(sealed_of alpha)" = 6 ] || fail "alpha sealed $(sealed_of alpha) after --strict, want 6"

# sealed away from the ledger (--origin, --first), sent through ledger serve
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
        fail "serve did not start: $(cat "$T/serve.err")"
        break
    fi
done
sed 's/R-1/R-3/g; s/r1-/r3-/g' "$T/run1.jsonl" >"$T/run3.jsonl"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" \
    --first "$(sealed_of alpha)" "$T/run3.jsonl" >"$T/a3.json" 2>"$T/err" ||
    fail "seal --origin --first: $(cat "$T/err")"
n2=$(events)
L ingest -v "$T/a3.json" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] || fail "ingest through serve: exit $rc ($(cat "$T/err"))"
grep -q "through ledger serve" "$T/err" || fail "ingest did not go through serve: $(cat "$T/err")"
grep -q "3 events committed through ledger serve" "$T/err" ||
    fail "serve's answer did not count the batch: $(cat "$T/err")"
[ "$(events)" = $((n2 + 3)) ] || fail "serve appended $(($(events) - n2)) events, want 3"
# the raw answer names the seq range and the key's new count
if command -v python3 >/dev/null 2>&1; then
    sed 's/R-1/R-4/g; s/r1-/r4-/g' "$T/run1.jsonl" >"$T/run4.jsonl"
    "$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" \
        --first "$(sealed_of alpha)" "$T/run4.jsonl" >"$T/a4.json" 2>/dev/null
    cat >"$T/raw.py" <<'EOF'
import os, socket, sys
open(sys.argv[3], "w").write("%d\n" % os.getpid())
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())
EOF
    python3 "$T/raw.py" "$D/ledger.sock" "$T/a4.json" "$T/pid4" >"$T/ans" ||
        fail "raw serve request"
    [ "$(jq -r .count "$T/ans")" = 3 ] && [ "$(jq -r .sealed "$T/ans")" = 12 ] &&
        [ "$(jq -r .seq "$T/ans")" = $((n2 + 3)) ] ||
        fail "serve's answer to a sealed batch: $(cat "$T/ans")"
    # every event of it records its sender as the kernel names it (in the
    # stamp, outside what the writer sealed): this python's uid and pid
    for k in 0 1 2; do
        L show -o json $((n2 + 3 + k)) >"$T/show4" 2>&1
        [ "$(jq -r .source.uid "$T/show4")" = "$(id -u)" ] &&
            [ "$(jq -r .source.gid "$T/show4")" = "$(id -g)" ] &&
            [ "$(jq -r .source.pid "$T/show4")" = "$(cat "$T/pid4")" ] &&
            jq -r .source.exe "$T/show4" | grep -q python ||
            fail "sealed event $((n2 + 3 + k)) through serve: source $(jq -c .source "$T/show4") (pid $(cat "$T/pid4"))"
        [ "$(jq -r .actor_name "$T/show4")" = alpha ] ||
            fail "sealed event $((n2 + 3 + k)): actor $(jq -r .actor_name "$T/show4")"
    done
    # sent again (a lost answer): the seal is compared, not the stamp, so
    # a retry from another process is answered as the batch recorded
    python3 "$T/raw.py" "$D/ledger.sock" "$T/a4.json" "$T/pid4b" >"$T/ans" ||
        fail "raw serve request again"
    [ "$(jq -r .duplicate "$T/ans")" = true ] && [ "$(jq -r .seq "$T/ans")" = $((n2 + 3)) ] ||
        fail "a sealed batch sent again through serve: $(cat "$T/ans")"
    [ "$(events)" = $((n2 + 6)) ] || fail "the retried batch was appended again"
    # and by `ledger ingest -v` through serve: named as the batch it is
    # (it said "id '' is already event N")
    L ingest -v "$T/a4.json" >/dev/null 2>"$T/err" || fail "ingest -v of a4 again: $(cat "$T/err")"
    grep -q "a4.json: a sealed batch of 3 events is already events $((n2 + 3))\.\.$((n2 + 5)): not appended again" "$T/err" &&
        ! grep -q "id ''" "$T/err" || fail "ingest -v of a sealed batch again: $(cat "$T/err")"
fi
# the batch `ledger ingest` sent through serve: its events name that
# process (uid, and the ledger program as exe); those ingested directly
# name none
L query -o json >"$T/q3.json"
jq -c --argjson u "$(id -u)" 'select(.id=="r3-s1") | select(.source.uid == $u and (.source.exe | test("ledger")))' \
    "$T/q3.json" | grep -q . || fail "sealed via ingest through serve: $(jq -c 'select(.id=="r3-s1") | .source' "$T/q3.json")"
[ "$(jq -r 'select(.id=="r1-s1") | has("source")' "$T/q3.json")" = false ] ||
    fail "a directly ingested sealed event has a source: $(jq -c 'select(.id=="r1-s1") | .source' "$T/q3.json")"
kill -TERM "$pid"
wait "$pid"
pid=""
L verify --full >/dev/null 2>"$T/err" || fail "verify --full: $(cat "$T/err")"

# evidence: an export of run R-1 carries alpha's seal and each event's
# path to it, and verifies offline against the box's verifier key
L keys verifier >"$T/box.vkey"
L export --run R-1 --out "$T/r1.bundle" >/dev/null 2>"$T/err" || fail "export: $(cat "$T/err")"
tar --zstd -tf "$T/r1.bundle" >"$T/members" 2>/dev/null || fail "tar cannot list the bundle"
F=$(jq -r 'select(.id=="r1-start") | .seq' "$T/q.json")
grep -q "/seals/$F.seal\$" "$T/members" || fail "the bundle has no seals/$F.seal: $(grep seal "$T/members" | tr '\n' ' ')"
grep -q "/sealproofs/$((F + 1)).proof\$" "$T/members" || fail "no sealproofs/$((F + 1)).proof"
"$LEDGER" verify-bundle "$T/r1.bundle" --trusted-key "$T/box.vkey" >"$T/vb" 2>&1 ||
    fail "verify-bundle: $(grep -v '^PASS\|^SKIP' "$T/vb")"
# (R-1's three events, and what proves their key: the genesis, init's
# anchor, event 1, and alpha's key.added)
grep -q "^PASS signatures: 6 events .* 6 sealed (claim digest, seal proof, seal signature), 0 signed" "$T/vb" ||
    fail "verify-bundle does not say it checked the seals: $(grep signatures "$T/vb")"
# a run sealed by its writer and sent through serve: the sources recorded
# beside the seal change nothing of its proof
if [ -s "$T/pid4" ]; then
    L export --run R-4 --out "$T/r4.bundle" >/dev/null 2>"$T/err" || fail "export R-4: $(cat "$T/err")"
    "$LEDGER" verify-bundle "$T/r4.bundle" --trusted-key "$T/box.vkey" >"$T/vb4" 2>&1 ||
        fail "verify-bundle R-4: $(grep -v '^PASS\|^SKIP' "$T/vb4")"
    grep -q "^PASS signatures: \([0-9]*\) events .* \1 sealed (claim digest, seal proof, seal signature), 0 signed" "$T/vb4" &&
        grep -q "^PASS events: 3 selected" "$T/vb4" ||
        fail "verify-bundle R-4: $(grep 'signatures\|events:' "$T/vb4")"
    tar --zstd -xOf "$T/r4.bundle" --wildcards '*events.jsonl' 2>/dev/null |
        grep -c '"source":{"uid":' | grep -qx 3 || fail "R-4's bundle does not carry the 3 sources"
fi

# --- misattribution attempts: refused, named, nothing written ------------
refused() { # refused WHAT CODE PATTERN FILE
    before=$(events)
    L ingest --direct "$4" >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" = "$2" ] || fail "$1: exit $rc, want $2 ($(cat "$T/err"))"
    grep -q "$3" "$T/err" || fail "$1: message '$(head -n 1 "$T/err")' lacks '$3'"
    grep -q "$(basename "$4"):1:1:" "$T/err" || fail "$1: the file and line are not named"
    [ "$(events)" = "$before" ] || fail "$1: $(($(events) - before)) events written"
}
BID=$(sed -n 's/^key_id //p' "$T/writer/beta.pub")
sed 's/R-1/R-9/g; s/r1-/r9-/g' "$T/run1.jsonl" >"$T/run9.jsonl"
L seal --key "$T/writer/alpha.key" "$T/run9.jsonl" >"$T/a9.json" 2>/dev/null
L seal --key "$T/writer/beta.key" "$T/run9.jsonl" >"$T/b9.json" 2>/dev/null
# sealed by alpha (for beta's range, so only the signature can tell), sent
# as beta
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" \
    --first "$(sealed_of beta)" "$T/run9.jsonl" 2>/dev/null |
    jq -c --arg k "$BID" '.sealed.key = $k' >"$T/as-beta.json"
refused "alpha's batch as beta's" 65 "the seal does not verify with key 'beta'" "$T/as-beta.json"
# an event of alpha's batch moved into beta's
jq -c --slurpfile a "$T/a9.json" '.sealed.events[1] = $a[0].sealed.events[1]' \
    "$T/b9.json" >"$T/moved.json"
refused "an event moved between batches" 65 "the seal does not verify with key 'beta'" "$T/moved.json"
# one event's body changed after sealing
jq -c '.sealed.events[2].body.status = "failed"' "$T/a9.json" >"$T/body.json"
refused "a body changed after sealing" 65 "the seal does not verify with key 'alpha'" "$T/body.json"
# a salt changed: the same
jq -c '.sealed.events[0].salts.pack = "00000000000000000000000000000000"' \
    "$T/a9.json" >"$T/salt.json"
refused "a salt changed" 65 "the seal does not verify" "$T/salt.json"
# a replayed batch (stale first): a1 again with its ids taken out
jq -c 'del(.sealed.events[].id)' "$T/a1.json" >"$T/replay.json"
refused "a replayed batch" 65 "sealed.first is 0 but key 'alpha'.*a stale or replayed batch" "$T/replay.json"
# first said to be the current count, seal made for 0: the signature fails
jq -c --argjson f "$(sealed_of alpha)" '.sealed.first = $f' "$T/replay.json" >"$T/refirst.json"
refused "a replay with first rewritten" 65 "the seal does not verify" "$T/refirst.json"
# a1's ids again with a body changed: not a retry of what is recorded
jq -c '.sealed.events[2].body.status = "failed"' "$T/a1.json" >"$T/retry-body.json"
refused "a recorded batch's ids with a body changed" 65 "the seal does not verify with key 'alpha'" "$T/retry-body.json"
# a1's ids in a batch alpha really sealed (at first 0, as a1), but other
# events: the signature holds, the stored seal is not this one
sed 's/pdf-ops/pdf-tools/' "$T/run1.jsonl" >"$T/run1b.jsonl"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" --first 0 \
    "$T/run1b.jsonl" >"$T/retry-other.json" 2>/dev/null || fail "seal run1b"
refused "recorded ids under a different sealed batch" 65 "already in the log (from event $F), but not from this batch" "$T/retry-other.json"
# a key whose roles forbid the type
echo '{"type":"model.registered","body":{"model":"m1","digest":"sha256:00"}}' |
    L seal --key "$T/writer/alpha.key" >"$T/roles.json" 2>/dev/null
refused "a type outside the key's roles" 77 "sealed.events\[0\]: key 'alpha'.* may not sign model.registered" "$T/roles.json"
# an unknown key (never enrolled)
"$LEDGER" seal --key "$T/writer/gamma.key" --origin "$ORIGIN" --first 0 \
    "$T/run9.jsonl" >"$T/unknown.json" 2>/dev/null
refused "an unknown key" 77 "is not enrolled in this ledger" "$T/unknown.json"
L seal --key "$T/writer/gamma.key" "$T/run9.jsonl" >/dev/null 2>"$T/err"
[ $? = 77 ] || fail "seal --dir with an unknown key: not 77"
grep -q "not enrolled" "$T/err" || fail "seal --dir, unknown key: '$(cat "$T/err")'"
# a batch for another ledger (origin)
"$LEDGER" seal --key "$T/writer/beta.key" --origin example.org/other \
    --first 0 "$T/run9.jsonl" >"$T/origin.json" 2>/dev/null
refused "a batch sealed for another origin" 65 "the seal does not verify" "$T/origin.json"
# a revoked key
L keys revoke beta --reason "writer reinstalled" >/dev/null || fail "revoke beta"
refused "a revoked key" 77 "key 'beta'.* was revoked at event" "$T/b9.json"
L seal --key "$T/writer/beta.key" "$T/run9.jsonl" >/dev/null 2>"$T/err"
[ $? = 77 ] || fail "seal --dir with a revoked key: not 77"
# malformed batches name the field and the event
jq -c 'del(.sealed.events[1].salts.tool)' "$T/a9.json" >"$T/nosalt.json"
refused "a salt missing" 65 "sealed.events\[1\].salts" "$T/nosalt.json"
jq -c '.sealed.count = 2' "$T/a9.json" >"$T/count.json"
refused "a count not the events'" 65 "sealed.count" "$T/count.json"
jq -c '.sealed.extra = 1' "$T/a9.json" >"$T/extra.json"
refused "an unknown field" 65 "unknown field 'extra'" "$T/extra.json"
# the writer's own unsealed event: refused (77), as for any writer-held key
printf '{"type":"run.started","actor":"alpha","body":{"run":"R-9","pack":"p"}}\n' >"$T/plain.jsonl"
refused "an unsealed event as alpha" 77 "held by its writer" "$T/plain.jsonl"

# the good batch still goes in, and the log verifies after all that
L ingest --direct "$T/a9.json" >/dev/null 2>"$T/err" || fail "the good batch after the attempts: $(cat "$T/err")"
L verify --full >/dev/null 2>"$T/err" || fail "verify --full at the end: $(cat "$T/err")"

# --- ledger seal's own refusals ------------------------------------------
"$LEDGER" seal --origin "$ORIGIN" --first 0 "$T/run9.jsonl" >/dev/null 2>&1
[ $? = 64 ] || fail "seal without --key: not a usage error"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" "$T/run9.jsonl" >/dev/null 2>&1
[ $? = 64 ] || fail "seal --origin without --first: not a usage error"
chmod 644 "$T/writer/alpha.key"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" --first 0 "$T/run9.jsonl" >"$T/out" 2>"$T/err"
[ $? = 77 ] || fail "seal with a 0644 key file: not 77"
grep -q "mode 0644" "$T/err" || fail "loose key file: '$(cat "$T/err")'"
chmod 600 "$T/writer/alpha.key"
printf '{"type":"run.started","body":{"run":"R"}}\n{"type":"x.y","body":{' >"$T/bad.jsonl"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" --first 0 "$T/bad.jsonl" >"$T/out" 2>"$T/err"
[ $? = 65 ] || fail "seal of bad lines: not 65"
grep -q "bad.jsonl:1:1: run.started: field 'pack'" "$T/err" || fail "seal, bad line 1: '$(cat "$T/err")'"
[ -s "$T/out" ] && fail "seal printed a batch for bad input"
printf '{"type":"x.y","actor":"beta","body":{}}\n' |
    "$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" --first 0 >/dev/null 2>"$T/err"
[ $? = 65 ] || fail "seal of a line naming another actor: not 65"
grep -q "actor 'beta'" "$T/err" || fail "other actor: '$(cat "$T/err")'"
"$LEDGER" seal --key "$T/writer/alpha.key" --origin "$ORIGIN" --first 0 </dev/null >/dev/null 2>"$T/err"
[ $? = 65 ] || fail "seal of no events: not 65"
grep -q "no events to seal" "$T/err" || fail "no events: '$(cat "$T/err")'"

# --- what seal once let through (a review, 2026-11-30) ----------------------
# a key enrolled under another name than its file's ("keys add
# control-plane --public-key @cp.pub", the help's own example): a line may
# name the enrolled actor, and seal names the key as the ledger does
"$LEDGER" keys generate --out "$T/writer/cp.key" >"$T/writer/cp.pub" ||
    fail "keys generate cp"
L keys add control-plane --public-key @"$T/writer/cp.pub" >/dev/null ||
    fail "enrol cp as control-plane"
printf '{"type":"x.y","actor":"control-plane","body":{}}\n' >"$T/cp.jsonl"
L seal --key "$T/writer/cp.key" "$T/cp.jsonl" >"$T/cp.batch" 2>"$T/err" ||
    fail "seal naming the enrolled actor: $(cat "$T/err")"
grep -q "with key control-plane (id" "$T/err" || fail "seal of cp names: '$(cat "$T/err")'"
L ingest "$T/cp.batch" >/dev/null 2>"$T/err" || fail "ingest of cp's batch: $(cat "$T/err")"
# numbers past JSON's signed 64 bits: refused, not written as -1
printf '{"type":"x.y","body":{}}\n' >"$T/one.jsonl"
"$LEDGER" seal --key "$T/writer/cp.key" --origin "$ORIGIN" --first 18446744073709551615 "$T/one.jsonl" >"$T/out" 2>"$T/err"
[ $? = 64 ] || fail "seal --first 2^64-1: not 64"
grep -q "^ledger seal: --first: '18446744073709551615' is not a count" "$T/err" || fail "--first 2^64-1: '$(cat "$T/err")'"
printf '{"type":"x.y","time":"18446744073709551615","body":{}}\n' |
    "$LEDGER" seal --key "$T/writer/cp.key" --origin "$ORIGIN" --first 0 >"$T/out" 2>"$T/err"
[ $? = 65 ] || fail "seal of a time past 2262: not 65"
grep -q "^<stdin>:1:1: time: 18446744073709551615 ns is after 2262" "$T/err" || fail "time past 2262: '$(cat "$T/err")'"
[ -s "$T/out" ] && fail "seal printed a batch for a time past 2262"
# an origin no ledger can have (ledger init's rule)
"$LEDGER" seal --key "$T/writer/cp.key" --origin 'foo bar+x' --first 0 "$T/one.jsonl" >"$T/out" 2>"$T/err"
[ $? = 64 ] || fail "seal --origin 'foo bar+x': not 64"
grep -q "is no log origin" "$T/err" || fail "bad origin: '$(cat "$T/err")'"
# the log's own types: refused at seal, as ingest would
for t in body.erased ledger.pruned; do
    printf '{"type":"%s","body":{"seq":"1","reason":"r"}}\n' "$t" |
        L seal --key "$T/writer/cp.key" >"$T/out" 2>"$T/err"
    [ $? = 65 ] || fail "seal of $t: not 65"
    grep -q "type $t: the log key's alone" "$T/err" || fail "seal of $t: '$(cat "$T/err")'"
done
# a key file with bytes after a NUL is no key file
cp "$T/writer/cp.key" "$T/writer/nul.key" && printf '\0junk' >>"$T/writer/nul.key"
"$LEDGER" seal --key "$T/writer/nul.key" --origin "$ORIGIN" --first 0 "$T/one.jsonl" >"$T/out" 2>"$T/err"
[ $? = 77 ] || fail "seal with a key file with a NUL: not 77"
grep -q "nul.key: malformed seed line" "$T/err" || fail "NUL key file: '$(cat "$T/err")'"
# public keys no signature can verify under: never enrolled
n0=$(events)
for k in 0000000000000000000000000000000000000000000000000000000000000000 \
    0100000000000000000000000000000000000000000000000000000000000000 \
    ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff; do
    L keys add weak --public-key "$k" >"$T/out" 2>"$T/err"
    [ $? = 65 ] || fail "keys add of public key $k: not 65"
    grep -q "no usable Ed25519 key" "$T/err" || fail "weak key $k: '$(cat "$T/err")'"
done
[ "$(events)" = "$n0" ] || fail "a weak key was enrolled"
# keys generate whose public key cannot be printed keeps no file
if [ -w /dev/full ]; then
    "$LEDGER" keys generate --out "$T/writer/lost.key" >/dev/full 2>"$T/err"
    [ $? = 74 ] || fail "keys generate > /dev/full: not 74"
    [ -e "$T/writer/lost.key" ] && fail "keys generate > /dev/full left its key file"
    grep -q "lost.key removed" "$T/err" || fail "keys generate > /dev/full: '$(cat "$T/err")'"
fi

echo "trust_client_seal: $fails failed"
[ $fails = 0 ]
