#!/bin/sh
# intake_migrate_live.sh — `migrate --layout 9` while a writer that
# opened the ledger at layout 8 is still running (`ingest --direct`, fed
# line by line). That writer has no intake: its next appends went to LMDB
# behind the intake's back, and the intake's next frame took their seqs,
# so events acknowledged after the migration were lost and later appends
# got the same seq again. Now the old writer's next append is refused
# (nothing written, the message says to open the ledger again); every
# acknowledged event is there, and verify --full passes.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
IPID=
trap '[ -n "$IPID" ] && kill "$IPID" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
# layout 8 whatever the run's LEDGER_LAYOUT (make asan's is 999)
LEDGER_LAYOUT=8 "$L" init --dir "$D" >/dev/null || exit 1
"$L" append --dir "$D" x.t.n --body '{"i":0}' >/dev/null || exit 1
mkfifo "$T/in"
"$L" ingest --dir "$D" --direct --acks "$T/in" >"$T/acks" 2>"$T/ierr" &
IPID=$!
exec 3>"$T/in"
waitacks() { # N: until N ack lines are there (10 s at most)
    i=0
    while [ "$(wc -l <"$T/acks")" -lt "$1" ] && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
}
echo '{"type":"x.t.n","body":{"i":1}}' >&3
waitacks 1
[ "$(wc -l <"$T/acks")" = 1 ] || fail "the first line was not acknowledged: $(cat "$T/ierr")"
"$L" migrate --dir "$D" --layout 9 >/dev/null 2>"$T/merr" || fail "migrate: $(cat "$T/merr")"
echo '{"type":"x.t.n","body":{"i":2}}' >&3
exec 3>&-
wait "$IPID"
rc=$?
IPID=
[ $rc -ne 0 ] || fail "the old writer's append after the migration succeeded ($(cat "$T/acks"))"
grep -q "migrated to store layout 9" "$T/ierr" ||
    fail "the old writer's refusal does not say why: $(cat "$T/ierr")"
# what was acknowledged is there; new appends go through the intake
n_acked=$(grep -c committed_first "$T/acks")
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
# genesis, i=0, the $n_acked acknowledged, A1, A2
[ "$events" = $((2 + n_acked + 2)) ] || fail "events: $events, want $((2 + n_acked + 2))"

[ $nfail -eq 0 ] && echo "intake_migrate_live: the old writer refused, nothing acknowledged lost"
exit $((nfail > 0))
