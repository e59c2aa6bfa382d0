#!/bin/sh
# export_erase.sh — erasure and bundles: `ledger erase` keeps `ledger verify`
# passing (and reporting the erasure); a bundle holding the erased event
# carries the body.erased that explains it, verifies, and says the body is
# erased in the manifest and events.jsonl; a bundle stripped of that
# body.erased fails; events needed for verification cannot be erased.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
L ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys add alice >/dev/null || exit 1

# the run.started of R-0001 holds who asked for it: erase that body
target=$(L query run=R-0001 type=run.started -o json |
    sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
[ -n "$target" ] || { echo "no run.started in R-0001"; exit 1; }
who=$(L show "$target" -o json | sed -n 's/.*"requested_by":"\([^"]*\)".*/\1/p')
eseq=$(L erase -q "$target" --reason "data subject request") ||
    fail "erase: exit $?"

L verify --full >"$T/out" 2>"$T/err" || fail "verify after erase: exit $?"
grep -q '1 erased bodies' "$T/out" || fail "verify does not report it: $(cat "$T/out")"
L verify --full -o json | grep -q '"erased":1,' || fail "verify -o json erased"
L show "$target" -o json | grep -q '"erased":true' || fail "show: not erased"
# show names the erasure and its reason (issue 63: it said "erased true")
L show "$target" -o json | grep -q "\"erased_by\":{\"seq\":\"$eseq\",\"time\":\"[^\"]*\",\"reason\":\"data subject request\"}" ||
    fail "show -o json: no erased_by: $(L show "$target" -o json)"
L show "$target" | grep -q "^erased_by  *by event $eseq at .*: data subject request\$" ||
    fail "show: the erasure is not named: $(L show "$target")"
# help erase says what the erasure leaves in the envelope
L help erase | tr -s ' \n' '  ' | grep -q 'The envelope stays whole, and with it what it repeats of the body: the subject derived from' ||
    fail "help erase does not say the subject and run stay"

# events needed to verify cannot be erased
L erase 0 --reason x 2>/dev/null && fail "the genesis body was erased"
kseq=$(L query type=key.added -o json | sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
L erase "$kseq" --reason x 2>/dev/null && fail "a key.added body was erased"
L erase "$eseq" --reason x 2>/dev/null && fail "a body.erased body was erased"
L erase "$target" --reason again 2>/dev/null && fail "erased twice"

# a bundle of R-0001 carries the erasure and verifies
L export --run R-0001 --out "$T/b.tar.zst" 2>"$T/ee" ||
    fail "export: exit $? $(cat "$T/ee")"
grep -q '1 bodies erased' "$T/ee" || fail "export summary: $(cat "$T/ee")"
VKEY=$(L keys verifier) || fail "keys verifier"
"$LEDGER" verify-bundle "$T/b.tar.zst" --trusted-key "$VKEY" 2>"$T/verr"
rc=$?
[ "$rc" = 0 ] || fail "verify-bundle: exit $rc $(grep FAIL "$T/verr")"
grep -q '^PASS erasures: 1 erased body' "$T/verr" ||
    fail "erasure not reported: $(grep erasures "$T/verr")"
grep -q '1 bodies erased in the ledger' "$T/verr" ||
    fail "redactions line lacks the erasure"
mkdir "$T/x"
tar --zstd -xf "$T/b.tar.zst" -C "$T/x" --strip-components=1 || fail "tar"
[ "$(cat "$T/x/bodies/$target.json")" = '{"erased":true}' ] ||
    fail "bodies/$target.json: $(cat "$T/x/bodies/$target.json")"
[ -f "$T/x/entries/$eseq.entry" ] || fail "the body.erased event is missing"
grep -q "\"seq\":\"$target\".*\"erased\":true" "$T/x/events.jsonl" ||
    fail "events.jsonl does not show the erasure"
grep -q "\"erased_by\": \"$eseq\"" "$T/x/manifest.json" ||
    fail "manifest lacks erased_by"
[ -n "$who" ] && grep -rqF -- "$who" "$T/x" && fail "erased value in bundle"

# the same bundle without its body.erased (members dropped, repacked with
# GNU tar): the erasure is no longer explained
cd "$T/x" || exit 1
rm "entries/$eseq.entry" "proofs/$eseq.proof" "bodies/$eseq.json"
find . -type f ! -name ledger-bundle | sed 's|^\./||' | sort >"$T/list"
tar --zstd -cf "$T/stripped.tar.zst" ledger-bundle -T "$T/list" ||
    fail "repack"
cd - >/dev/null || exit 1
"$LEDGER" verify-bundle "$T/stripped.tar.zst" --trusted-key "$VKEY" \
    2>"$T/verr"
rc=$?
[ "$rc" = 1 ] || fail "stripped bundle: exit $rc"
grep -q '^FAIL erasures: .*no proven body.erased' "$T/verr" ||
    fail "stripped bundle: $(grep erasures "$T/verr")"

[ "$fails" = 0 ] || exit 1
echo "export_erase: ok"
