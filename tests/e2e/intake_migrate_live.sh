#!/bin/sh
# intake_migrate_live.sh — a writer against a store an earlier build left
# at layout 8, before and after `migrate`. Before 1.0 a writer that had
# opened the ledger at 8 went on appending to LMDB after a migrate to 9,
# behind the intake's back (events acknowledged after the migration were
# lost and seqs given twice). A 1.0 build opens no layout but 9: the
# writer (`ingest --direct`, fed line by line) is refused at its start,
# exit 65 naming `ledger migrate`, acknowledging nothing and writing
# nothing; after the migrate the same writer appends through the intake,
# a retried id gets its first seq, every acknowledged event is there and
# verify --full passes.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
V=$(cd "$(dirname "$0")/../vectors/layout" && pwd)
T=$(mktemp -d)
IPID=
trap '[ -n "$IPID" ] && kill "$IPID" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
mkdir -m 700 "$D" "$D/keys"
zstd -q -d -c "$V/fresh8.mdb.zst" >"$D/data.mdb" &&
    install -m 600 "$V/keys/fresh5.key" "$D/keys/log.key" || { echo "FAIL: unpack fresh8"; exit 1; }
chmod 600 "$D/data.mdb"
cp "$D/data.mdb" "$T/before"
N0=4323 # fresh8's events (tests/vectors/layout/README)

# 1. at layout 8: the writer is refused at its start
echo '{"type":"x.t.n","body":{"i":1}}' >"$T/in"
"$L" ingest --dir "$D" --direct --acks "$T/in" >"$T/acks" 2>"$T/ierr"
rc=$?
[ $rc = 65 ] || fail "ingest at layout 8 exited $rc, not 65: $(cat "$T/ierr")"
grep -q "is at store layout 8, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it in place (run \`ledger --dir $D migrate\`" "$T/ierr" ||
    fail "the refusal does not name the migrate: $(cat "$T/ierr")"
[ ! -s "$T/acks" ] || fail "acknowledged at layout 8: $(cat "$T/acks")"
cmp -s "$D/data.mdb" "$T/before" || fail "the refused writer changed data.mdb"
[ ! -e "$D/intake" ] || fail "the refused writer made an intake log"

# 2. migrated: the same writer appends through the intake
"$L" migrate --dir "$D" >"$T/m" 2>"$T/merr" || fail "migrate: $(cat "$T/merr")"
grep -q "^layout 8 -> 9 ($N0 events)" "$T/m" || fail "migrate said: $(cat "$T/m")"
mkfifo "$T/in2"
"$L" ingest --dir "$D" --direct --acks "$T/in2" >"$T/acks" 2>"$T/ierr" &
IPID=$!
exec 3>"$T/in2"
for i in 1 2 3; do echo "{\"type\":\"x.t.n\",\"body\":{\"i\":$i}}" >&3; done
exec 3>&-
wait "$IPID" || fail "ingest after the migrate: $(cat "$T/ierr")"
IPID=
n_acked=$(grep -c committed_first "$T/acks")
[ "$n_acked" -ge 1 ] || fail "nothing acknowledged after the migrate: $(cat "$T/acks" "$T/ierr")"
for id in A1 A2; do
    "$L" append --dir "$D" x.t.n --id "$id" --body '{"i":9}' >"$T/a.$id" 2>&1 ||
        fail "append $id: $(cat "$T/a.$id")"
done
"$L" append --dir "$D" x.t.n --id A1 --body '{"i":9}' >"$T/a.again" 2>&1
cmp -s "$T/a.again" "$T/a.A1" || fail "a retry of A1 got $(cat "$T/a.again"), not A1's $(cat "$T/a.A1")"
s1=$(sed 's/[^0-9]//g' "$T/a.A1")
s2=$(sed 's/[^0-9]//g' "$T/a.A2")
[ "$s1" != "$s2" ] || fail "A1 and A2 got the same seq $s1"
"$L" show --dir "$D" "$s1" >/dev/null 2>&1 || fail "event $s1 (A1, acknowledged) is gone"
"$L" verify --dir "$D" --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"
events=$("$L" stats --dir "$D" -o json | jq -r .events)
# fresh8's, the three ingested, A1, A2
[ "$events" = $((N0 + 3 + 2)) ] || fail "events: $events, want $((N0 + 3 + 2))"

[ $nfail -eq 0 ] && echo "intake_migrate_live: the writer at layout 8 refused, then appended after the migrate"
exit $((nfail > 0))
