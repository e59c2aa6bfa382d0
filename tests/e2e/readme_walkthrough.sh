#!/bin/sh
# readme_walkthrough.sh — the README's "Using it" block, extracted and run
# top to bottom with `sh -e` on a fresh ledger in a temporary directory
# (the ledger binary's directory first on PATH, examples/ reachable), so
# the README stays true. Also checks a few answers it must show.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
case $L in /*) ;; *) L=$PWD/$L ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# the first ```sh block after "## Using it"
awk '/^## Using it/ {u = 1} u && /^```sh$/ {b = 1; next}
     b && /^```$/ {exit} b {print}' README.md >"$T/walk.sh"
[ "$(wc -l <"$T/walk.sh")" -gt 20 ] || fail "no walkthrough block in README.md"
ln -s "$PWD/examples" "$T/examples"
mkdir "$T/bin"
ln -s "$L" "$T/bin/ledger"
(cd "$T" && unset LEDGER_DIR && PATH="$T/bin:$PATH" sh -e walk.sh) \
    >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] || {
    tail -n 20 "$T/err"
    fail "the README walkthrough stopped with exit $rc (output above)"
}
grep -q 'ledger: unknown\|usage: ledger' "$T/err" && fail "usage error: $(cat "$T/err")"
# the answers it promises
grep -q 'route *pdf-ops/extract -> llama3.2-3b-instruct@q8_0 *FALLBACK' "$T/out" ||
    fail "timeline does not show the fallback"
grep -q 'reason="primary offline"' "$T/out" || fail "query does not say why"
grep -q '^doctor exit 1 ' "$T/out" || fail "the doctor's verdict is not degraded"
grep -q '^seq [0-9]*: key foundry (id [0-9a-f]*) added' "$T/out" ||
    fail "keys add is not labelled"
grep -q 'bundle OK: .*log key trusted' "$T/err" ||
    fail "the bundle does not verify with the trusted key"
grep -q '^ok: consistent with the trusted checkpoint' "$T/out" ||
    fail "verify --trusted: $(grep '^ok' "$T/out")"
# the one store layout it says a build makes, reads and appends to is the
# one init made, and the older ones it says migrate converts are those
# below it
# (what init makes unasked, whatever LEDGER_LAYOUT asks for)
env -u LEDGER_LAYOUT "$L" --dir "$T/plain-ledger" init >/dev/null 2>&1
lay=$("$L" --dir "$T/plain-ledger" stats -o json | sed -n 's/.*"layout": *\([0-9]*\).*/\1/p')
tr '\n' ' ' <README.md | grep -q "Layout $lay, the one layout ledger 1.0 makes, reads and appends to" ||
    fail "README does not name layout $lay (ledger init's) as the one read and appended to"
tr '\n' ' ' <README.md | grep -q "at layout 1 to $((lay - 1)) is refused by every command but \`ledger migrate\`" ||
    fail "README does not say layouts 1 to $((lay - 1)) go through migrate"
echo "readme_walkthrough: $(grep -c '^ledger\|^seq=' "$T/walk.sh") commands ran"
