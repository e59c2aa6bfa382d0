#!/bin/sh
# docs_tripcode.sh — docs/VOCABULARY.md's tripcode enrolment works as
# written (issue 46: `--public-key @ctl.pub` named a file no step made):
# the lines between its <!-- tripcode-enrolment --> markers run, one by
# one, in an empty directory with `ledger` on PATH and LEDGER_DIR a fresh
# ledger; each exits 0, and the code is recorded as tripcode.used.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/docs_tripcode.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
mkdir -p "$T/bin" "$T/w"
ln -s "$LEDGER" "$T/bin/ledger"
export PATH="$T/bin:$PATH" LEDGER_DIR="$T/l"
ledger init >/dev/null || exit 1
sed -n '/<!-- tripcode-enrolment -->/,/<!-- \/tripcode-enrolment -->/p' \
    "$ROOT/docs/VOCABULARY.md" | sed '1,2d;$d' | sed '$d' >"$T/steps"
[ "$(wc -l <"$T/steps")" -ge 4 ] || fail "no steps found: $(cat "$T/steps")"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    (cd "$T/w" && sh -c "$line") >"$T/out" 2>&1 ||
        fail "step $n '$line': exit $?: $(cat "$T/out")"
done <"$T/steps"
ledger query type=tripcode.used -o json | grep -q '"code":"RECOVERY:LOCKDOWN"' ||
    fail "the code was not recorded as used: $(ledger query type=tripcode.* 2>&1)"
[ "$nfail" -eq 0 ] || exit 1
echo "docs_tripcode: VOCABULARY.md's $n steps run as written"
