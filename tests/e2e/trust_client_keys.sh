#!/bin/sh
# trust_client_keys.sh — keys held by their writers (issue 12): `ledger keys
# generate --out FILE` makes a secret key file anywhere (0600, the format of
# DIR/keys/NAME.key, never overwriting), prints the public key in a form
# `keys add --public-key @FILE` reads; `keys add NAME --public-key KEY`
# records "held": "writer" and writes no secret file (format version 2
# only: a format-1 ledger refuses it, exit 65, nothing written); bad keys
# are usage or data errors naming the cause; `keys list` shows who holds
# each key; an unsealed event from a writer-held key is refused by append,
# ingest (plain and --strict) and serve with exit/code 77 naming the key,
# and nothing is written, even with a key file planted under its name.
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

# --- keys generate: no ledger needed -------------------------------------
mkdir "$T/client"
"$LEDGER" keys generate --out "$T/client/cp.key" >"$T/cp.pub" 2>"$T/err" ||
    fail "keys generate: $(cat "$T/err")"
[ "$(stat -c %a "$T/client/cp.key")" = 600 ] ||
    fail "generated key file mode $(stat -c %a "$T/client/cp.key"), want 600"
head -n 2 "$T/client/cp.key" | tr '\n' ' ' | grep -q '^ledger-secret-key v1 name cp $' ||
    fail "generated key file is not a ledger key named cp: $(head -n 2 "$T/client/cp.key")"
grep -Eq '^seed [0-9a-f]{64}$' "$T/client/cp.key" || fail "no seed line"
PUB=$(sed -n 's/^public_key //p' "$T/cp.pub")
KID=$(sed -n 's/^key_id //p' "$T/cp.pub")
echo "$PUB" | grep -Eq '^[0-9a-f]{64}$' || fail "printed public key: $(cat "$T/cp.pub")"
echo "$KID" | grep -Eq '^[0-9a-f]{16}$' || fail "printed key id: $(cat "$T/cp.pub")"
[ -e "$D" ] && fail "keys generate created a ledger directory"
# never overwrites: exit 73, the file unchanged
cp "$T/client/cp.key" "$T/cp.key.before"
"$LEDGER" keys generate --out "$T/client/cp.key" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 73 ] || fail "generate over an existing file: exit $rc, want 73"
grep -q "already exists" "$T/err" || fail "overwrite refusal: '$(cat "$T/err")'"
cmp -s "$T/cp.key.before" "$T/client/cp.key" || fail "the existing key file changed"
[ -s "$T/out" ] && fail "a refused generate printed '$(cat "$T/out")'"
# a directory that is not there: 73 naming the file asked for (it was 74
# naming a temporary file beside it)
"$LEDGER" keys generate --out "$T/nodir/k.key" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 73 ] && grep -q "^ledger keys: cannot create $T/nodir/k.key: No such file or directory$" "$T/err" ||
    fail "generate into a missing directory: exit $rc, $(cat "$T/err")"
# a symbolic link is not followed either
ln -s "$T/client/elsewhere" "$T/client/link.key"
"$LEDGER" keys generate --out "$T/client/link.key" >/dev/null 2>&1
rc=$?
[ $rc = 73 ] || fail "generate onto a dangling symlink: exit $rc, want 73"
[ -e "$T/client/elsewhere" ] && fail "generate wrote through a symlink"
# names: from the file, or --name; a bad one is a usage error
"$LEDGER" keys generate --out "$T/client/bad name.key" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 64 ] || fail "generate with no valid name: exit $rc, want 64"
grep -q -- "--name" "$T/err" || fail "bad-name message does not point at --name: '$(cat "$T/err")'"
"$LEDGER" keys generate --out "$T/client/x.key" --name runner -o json >"$T/x.json" ||
    fail "generate --name -o json"
[ "$(jq -r .name "$T/x.json")" = runner ] || fail "generate --name: $(cat "$T/x.json")"
grep -q '^name runner$' "$T/client/x.key" || fail "--name not in the key file"
"$LEDGER" keys generate >/dev/null 2>"$T/err"
[ $? = 64 ] || fail "generate without --out: not a usage error"
grep -q -- "--out" "$T/err" || fail "generate without --out: '$(cat "$T/err")'"
"$LEDGER" keys generate --out "$T/nodir/y.key" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 73 ] || fail "generate into a missing directory: exit $rc, want 73"
grep -q "$T/nodir" "$T/err" || fail "missing directory not named: '$(cat "$T/err")'"
ls "$T/client" | grep -q tmp && fail "a temporary file was left in $T/client"

# --- keys add --public-key ----------------------------------------------
L init >/dev/null || exit 1
n0=$(events)
# bad keys: refused before the ledger is touched
L keys add cp --public-key abc >/dev/null 2>"$T/err"
rc=$?
[ $rc = 64 ] || fail "--public-key abc: exit $rc, want 64"
grep -q "not a public key" "$T/err" || fail "--public-key abc: '$(cat "$T/err")'"
L keys add cp --public-key @"$T/none.pub" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 66 ] || fail "--public-key @missing: exit $rc, want 66"
grep -q "$T/none.pub" "$T/err" || fail "missing @FILE not named: '$(cat "$T/err")'"
echo "not a key" >"$T/junk.pub"
L keys add cp --public-key @"$T/junk.pub" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 65 ] || fail "--public-key @junk: exit $rc, want 65"
grep -q "junk.pub holds no public key" "$T/err" || fail "@junk: '$(cat "$T/err")'"
L keys list --public-key "$PUB" >/dev/null 2>&1
[ $? = 64 ] || fail "--public-key with list: not a usage error"
[ "$(events)" = "$n0" ] || fail "refused key additions wrote events"

L keys add cp --public-key @"$T/cp.pub" --roles run >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 65 ] && grep -q "format version 1" "$T/err"; then
    # a format-1 ledger: refused, nothing written; the rest of this test
    # records a writer-held key as the log key would (a raw key.added)
    [ "$(events)" = "$n0" ] || fail "refused --public-key on format 1 wrote an event"
    grep -q "needs format version 2" "$T/err" || fail "format-1 refusal: '$(cat "$T/err")'"
    L append key.added --body "{\"key_id\":\"$KID\",\"public_key\":\"$PUB\",\"actor\":\"cp\",\"roles\":[\"run\"],\"held\":\"writer\"}" >/dev/null ||
        fail "raw key.added with held writer"
else
    [ $rc = 0 ] || fail "keys add --public-key: exit $rc: $(cat "$T/err")"
    grep -q "key cp (id $KID) added, held by its writer" "$T/out" ||
        fail "keys add --public-key said '$(cat "$T/out")'"
    # the same public key again, under any name: refused
    L keys add cp2 --public-key "$PUB" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 73 ] || fail "the same public key twice: exit $rc, want 73"
    grep -q "already in the log as key cp" "$T/err" || fail "same key twice: '$(cat "$T/err")'"
    # the JSON form generate prints is read too
    "$LEDGER" keys generate --out "$T/client/j.key" -o json >"$T/j.pub"
    L keys add j --public-key @"$T/j.pub" >/dev/null || fail "--public-key @json"
fi
[ -e "$D/keys/cp.key" ] && fail "keys add --public-key wrote a secret key file"
L keys list >"$T/list" || fail "keys list"
grep -Eq "^cp +$KID +[0-9]+ +- +writer +[0-9]+ +run" "$T/list" || fail "keys list: $(cat "$T/list")"
grep -Eq "^log .* ledger " "$T/list" || fail "keys list: log key not held by the ledger"
L keys list -o json >"$T/list.json" || fail "keys list -o json"
[ "$(jq -r 'select(.name=="cp") | .held' "$T/list.json")" = writer ] ||
    fail "keys list -o json: cp not held by its writer: $(cat "$T/list.json")"
[ "$(jq -r 'select(.name=="log") | .held' "$T/list.json")" = ledger ] ||
    fail "keys list -o json: log key not held by the ledger"

# --- unsealed events from a writer-held key: 77, named, nothing written ---
STEP='{"run":"R-1","pack":"p"}'
n1=$(events)
L append --direct run.started --actor cp --body "$STEP" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 77 ] || fail "append as a writer-held key: exit $rc, want 77"
grep -q "key cp (id $KID) is held by its writer: its events must arrive sealed" "$T/err" ||
    fail "append refusal: '$(cat "$T/err")'"
printf '{"type":"run.started","actor":"cp","body":%s}\n' "$STEP" >"$T/in.jsonl"
for mode in --direct --strict; do
    L ingest $mode "$T/in.jsonl" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 77 ] || fail "ingest $mode as a writer-held key: exit $rc, want 77"
    grep -q "in.jsonl:1:1: key cp (id $KID) is held by its writer" "$T/err" ||
        fail "ingest $mode refusal: '$(cat "$T/err")'"
done
# a bad line beside it: the usual 65
printf '{"type":"run.started","body":{}}\n' >>"$T/in.jsonl"
L ingest --direct "$T/in.jsonl" >/dev/null 2>&1
rc=$?
[ $rc = 65 ] || fail "ingest with a writer-held line and a bad line: exit $rc, want 65"
# a key file planted under its name changes nothing
cp "$T/client/cp.key" "$D/keys/cp.key"
L append --direct run.started --actor cp --body "$STEP" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 77 ] || fail "append with a planted key file: exit $rc, want 77"
rm -f "$D/keys/cp.key"
[ "$(events)" = "$n1" ] || fail "refused unsealed events were written"

# through ledger serve: answered with code 77 naming the key
if command -v python3 >/dev/null 2>&1; then
    : >"$T/serve.out" # else a restart may read the last daemon's line
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
    L append run.started --actor cp --body "$STEP" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 77 ] || fail "append through serve as a writer-held key: exit $rc, want 77"
    grep -q "held by its writer" "$T/err" || fail "served append refusal: '$(cat "$T/err")'"
    head -n 1 "$T/in.jsonl" >"$T/one.jsonl"
    L ingest "$T/one.jsonl" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 77 ] || fail "ingest through serve as a writer-held key: exit $rc, want 77"
    grep -q "held by its writer" "$T/err" || fail "served ingest refusal: '$(cat "$T/err")'"
    kill -TERM "$pid"
    wait "$pid"
    pid=""
    [ "$(events)" = "$n1" ] || fail "serve wrote refused unsealed events"
fi

L verify >/dev/null 2>"$T/err" || fail "verify: $(cat "$T/err")"
echo "trust_client_keys: $fails failed"
[ $fails = 0 ]
