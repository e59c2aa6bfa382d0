#!/bin/sh
# verify_remember.sh — `ledger verify` remembers what it found and works on
# evidence it may not change. One byte of an old event's body is altered
# inside data.mdb: `verify --full` fails; afterwards the doctor's
# chain-verified clause fails naming the event and when it was found, and a
# plain `verify` exits 1 while that finding stands, until a full
# verification passes again. Plain verify says what it checked. Verifying a
# write-protected copy (no write bits; a read-only bind mount and an
# immutable file where the system allows them) works, writes nothing
# (data.mdb bytes and mtime unchanged) and says it could not record.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
M=""
cleanup() {
    [ -n "$M" ] && umount "$M" 2>/dev/null
    chattr -R -i "$T" 2>/dev/null
    chmod -R u+w "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
i=1
while [ $i -le 30 ]; do
    L append x.test.step --body "{\"marker\":\"mark-$i-zzzzqq\"}" \
        >/dev/null || exit 1
    i=$((i + 1))
done
# seq of marker 7 is 8 (genesis is 0, init's key.anchored 1): 32 events
E=8
L verify --full >"$T/out" 2>&1 || fail "clean verify --full: $(cat "$T/out")"
grep -q '^ok: full verification of 32 events' "$T/out" ||
    fail "full verify output: $(cat "$T/out")"
L verify >"$T/out" 2>&1 || fail "clean plain verify"
grep -q '^ok: nothing new since seq 31' "$T/out" ||
    fail "nothing-new output: $(cat "$T/out")"
grep -q 'last full verification at seq 31, [A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9];' "$T/out" ||
    fail "no last full verification: $(cat "$T/out")"
L append x.test.step --body '{"marker":"new"}' >/dev/null
L append x.test.step --body '{"marker":"new"}' >/dev/null
L verify >"$T/out" 2>&1 || fail "plain verify of 2 new"
grep -q '^ok: checked 2 new events 32..33' "$T/out" ||
    fail "new-events output: $(cat "$T/out")"
# (a format 2 ledger checks every seal from 0: what it leaves is the
# events' claims, keys and indexes)
grep -Eq "(signatures|claims, keys and indexes) of events before 32 were not re-checked" "$T/out" ||
    fail "plain verify does not say what it did not re-check"
L doctor -o json >"$T/doc" 2>/dev/null
grep -q '"chain-verified".*plain runs' "$T/doc" ||
    grep -q 'plain runs.*"chain-verified"' "$T/doc" ||
    fail "doctor does not say its clause rests on plain runs"

# alter one byte of marker 7's body inside data.mdb (at store layout 9
# flushed there first; at 8 a no-op)
L flush >/dev/null || fail "flush"
python3 - "$D/data.mdb" <<'EOF' || exit 1
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# every copy: LMDB's freed pages may still hold an older one
i = b.find(b"mark-7-zzzzqq")
assert i >= 0
while i >= 0:
    b[i + 12] ^= 0x01
    i = b.find(b"mark-7-zzzzqq", i + 1)
open(p, "r+b").write(b)
EOF
L verify --full >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "verify --full after tampering: exit $rc"
grep -q "event $E" "$T/err" || fail "verify --full: $(cat "$T/err")"
L doctor >"$T/doc" 2>&1
# (when, in human output's one time format: docs/OUTPUT.md)
grep 'chain-verified' "$T/doc" | grep -q "FAIL.*event $E (found [A-Z][a-z][a-z] [0-9][0-9] [0-9:]*)" ||
    fail "doctor after a failed verify: $(grep chain-verified "$T/doc")"
# export does not ship what it cannot vouch for: exit 1 naming the event,
# and no bundle
L export type=x.test.step --out "$T/b.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "export of a tampered selection: exit $rc"
grep -q "refusing to export: event $E: body does not match" "$T/err" ||
    fail "export: $(cat "$T/err")"
[ -e "$T/b.tar.zst" ] && fail "export wrote a bundle of a tampered selection"
# plain verify re-checks every body, so it sees the altered one itself
L verify >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "plain verify after tampering: exit $rc"
grep -q "event $E" "$T/err" || fail "plain verify: $(cat "$T/err")"

# evidence that may not be changed: a write-protected copy
cp -a "$D" "$T/copy" || exit 1
chmod -R a-w "$T/copy"
sum0=$(cksum <"$T/copy/data.mdb")
mt0=$(stat -c %Y.%y "$T/copy/data.mdb")
"$LEDGER" --dir "$T/copy" verify --full >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "verify of a write-protected copy: exit $rc $(cat "$T/err")"
grep -q "event $E" "$T/err" || fail "copy: finding not named: $(cat "$T/err")"
grep -q 'could not record this result in the ledger: .*/copy/data.mdb is write-protected' "$T/err" ||
    fail "copy: no 'could not record' naming why: $(cat "$T/err")"
[ "$(cksum <"$T/copy/data.mdb")" = "$sum0" ] || fail "copy: data.mdb changed"
[ "$(stat -c %Y.%y "$T/copy/data.mdb")" = "$mt0" ] ||
    fail "copy: data.mdb mtime changed"

# repaired (the byte put back): a full verification clears the finding
python3 - "$D/data.mdb" <<'EOF' || exit 1
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"mark-7-zzzzqp")
assert i >= 0
while i >= 0:
    b[i + 12] ^= 0x01
    i = b.find(b"mark-7-zzzzqp", i + 1)
open(p, "r+b").write(b)
EOF
# the finding stands (plain verify cannot clear it, even with nothing bad
# left in what it checks, nor with good new events) until --full passes
L verify >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "plain verify while a finding stands: exit $rc"
grep -q "found: event $E: .*stands until" "$T/err" ||
    fail "plain verify: $(cat "$T/err")"
L doctor 2>/dev/null | grep 'chain-verified' | grep -q 'FAIL' ||
    fail "doctor cleared the finding"
L append x.test.step --body '{"marker":"later"}' >/dev/null
L verify >/dev/null 2>&1 && fail "plain verify with new events cleared it"
L verify -o json 2>/dev/null | grep -q '"standing":true' ||
    fail "-o json does not carry the standing finding"
L verify --full >"$T/out" 2>&1 || fail "verify --full after repair: $(cat "$T/out")"
L verify >/dev/null 2>&1 || fail "plain verify after a full one passed"
L doctor 2>/dev/null | grep 'chain-verified' | grep -q 'ok.*full verification' ||
    fail "doctor after repair: $(L doctor 2>/dev/null | grep chain-verified)"

# a clean write-protected copy verifies (exit 0) and still writes nothing
chmod -R u+w "$T/copy" && rm -rf "$T/copy"
cp -a "$D" "$T/copy" && chmod -R a-w "$T/copy"
sum0=$(cksum <"$T/copy/data.mdb")
"$LEDGER" --dir "$T/copy" verify >"$T/out" 2>"$T/err" ||
    fail "clean write-protected copy: exit $? $(cat "$T/err")"
[ "$(cksum <"$T/copy/data.mdb")" = "$sum0" ] || fail "clean copy changed"
ls "$T/copy" | grep -qv '^data.mdb$\|^lock.mdb$\|^keys$\|^intake$' &&
    fail "verify created files in the copy: $(ls "$T/copy")"

# a read-only bind mount and an immutable data.mdb, where allowed (root)
mkdir "$T/mnt"
if mount --bind "$T/copy" "$T/mnt" 2>/dev/null &&
    mount -o remount,ro,bind "$T/mnt" 2>/dev/null; then
    M=$T/mnt
    "$LEDGER" --dir "$T/mnt" verify --full >"$T/out" 2>"$T/err" ||
        fail "read-only mount: exit $? $(cat "$T/err")"
    grep -q 'could not record this result in the ledger: .*/mnt/data.mdb is write-protected' "$T/err" ||
        fail "ro mount: no 'could not record' naming why: $(cat "$T/err")"
    umount "$T/mnt"
    M=""
else
    echo "verify_remember: read-only bind mount not permitted here; skipped"
fi
chmod -R u+w "$T/copy"
if chattr +i "$T/copy/data.mdb" "$T/copy/lock.mdb" 2>/dev/null; then
    sum0=$(cksum <"$T/copy/data.mdb")
    "$LEDGER" --dir "$T/copy" verify --full >"$T/out" 2>"$T/err" ||
        fail "immutable copy: exit $? $(cat "$T/err")"
    grep -q 'could not record this result in the ledger: .*Operation not permitted' "$T/err" ||
        fail "immutable copy: no 'could not record' naming why: $(cat "$T/err")"
    [ "$(cksum <"$T/copy/data.mdb")" = "$sum0" ] || fail "immutable changed"
    chattr -i "$T/copy/data.mdb" "$T/copy/lock.mdb"
else
    echo "verify_remember: chattr +i not permitted here; skipped"
fi

[ "$fails" = 0 ] || exit 1
echo "verify_remember: ok"
