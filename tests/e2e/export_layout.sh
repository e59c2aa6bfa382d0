#!/bin/sh
# export_layout.sh — the bundle is one NAME/ directory holding README.txt
# (what it is, how to verify it: its commands are run here as written) and
# SUMMARY.txt (the run's timeline, the doctor at its start and end, what
# failed); unpacked and packed again with plain tar (directories included,
# any order) it still verifies; a changed README or SUMMARY does not.
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
L keys verifier >"$T/box.vkey" || exit 1
VKEY=$(cat "$T/box.vkey")

# --- one top directory, named after the file -----------------------------
cd "$T" || exit 1
L export --run R-0001 --out r1.bundle 2>/dev/null || fail "export: exit $?"
tar --zstd -tf r1.bundle >"$T/list" || fail "tar -t"
[ "$(head -n 1 "$T/list")" = r1/ ] || fail "first entry is not r1/: $(head -n 1 "$T/list")"
grep -v '^r1/' "$T/list" && fail "a file outside r1/"
for f in ledger-bundle README.txt SUMMARY.txt manifest.json events.jsonl; do
    grep -qx "r1/$f" "$T/list" || fail "no r1/$f"
done
# --name, and names made from the file
L export --run R-0001 --name ticket-4711 --out t.tar.zst 2>/dev/null ||
    fail "export --name"
[ "$(tar --zstd -tf t.tar.zst | head -n 1)" = ticket-4711/ ] || fail "--name"
L export --run R-0001 --out 'my run.tar.zst' 2>/dev/null || fail "export spaces"
[ "$(tar --zstd -tf 'my run.tar.zst' | head -n 1)" = my_run/ ] ||
    fail "name from 'my run.tar.zst': $(tar --zstd -tf 'my run.tar.zst' | head -n 1)"
L export --run R-0001 --out - 2>/dev/null >stdout.tar.zst || fail "--out -"
[ "$(tar --zstd -tf stdout.tar.zst | head -n 1)" = bundle/ ] || fail "--out - name"
# a bad --name: exit 65 naming it, nothing written
for bad in ../up a/b .hidden -x ''; do
    L export --run R-0001 --name "$bad" --out bad.tar.zst 2>"$T/err"
    rc=$?
    [ "$rc" = 65 ] || fail "--name '$bad': exit $rc"
    grep -q "bundle name" "$T/err" || fail "--name '$bad': $(cat "$T/err")"
    [ -e bad.tar.zst ] && fail "--name '$bad' wrote a file"
done

# --- README.txt: what it is and how to verify it, commands that work -----
mkdir x && tar --zstd -xf r1.bundle -C x || fail "unpack"
R=x/r1/README.txt
grep -q 'ledger evidence bundle' "$R" || fail "README: what it is"
grep -qF "$VKEY" "$R" || fail "README lacks the verifier key"
grep -q 'offline' "$R" || fail "README: offline"
# every `ledger verify-bundle` command in it, run as written (from $T for
# the file, after packing the directory again for the .tar.zst)
grep -c '^     ledger verify-bundle' "$R" | grep -qx 3 || fail "README: 3 commands"
sed -n 's/^     tar \(.*\)$/\1/p' "$R" >"$T/tarcmd"
[ "$(cat "$T/tarcmd")" = "--zstd -cf r1.tar.zst r1" ] ||
    fail "README tar command: $(cat "$T/tarcmd")"
(cd x && tar --zstd -cf ../r1.tar.zst r1) || fail "repack as README says"
sed -n 's/^     ledger verify-bundle \(.*\)$/\1/p' "$R" | sed 's/ DIR$/ xdir/' |
    while IFS= read -r args; do
        eval "set -- $args"
        "$LEDGER" verify-bundle "$@" >/dev/null 2>"$T/verr" ||
            echo "README command fails: verify-bundle $args: $(grep -v PASS "$T/verr")"
    done >"$T/readme_fails"
[ -s "$T/readme_fails" ] && fail "$(cat "$T/readme_fails")"
[ -f xdir/SUMMARY.txt ] || fail "--extract as README says"

# --- SUMMARY.txt: timeline, doctor at start and end, what failed ----------
S=x/r1/SUMMARY.txt
grep -q '^Summary of evidence bundle r1' "$S" || fail "SUMMARY title"
grep -q '^Run R-0001, as `ledger timeline R-0001` shows it' "$S" ||
    fail "SUMMARY lacks the timeline"
grep -q '^What failed or was refused: 2 events' "$S" ||
    fail "SUMMARY failures: $(grep '^What failed' "$S")"
grep -q 'run.policy .*(denied)' "$S" || fail "SUMMARY: the denial"
grep -q 'model.state .*(model unavailable)' "$S" || fail "SUMMARY: model offline"
grep -q "^Doctor at the run's start (log size [0-9]*): degraded" "$S" ||
    fail "SUMMARY: doctor at start"
grep -q "^Doctor at the run's end (log size [0-9]*): degraded" "$S" ||
    fail "SUMMARY: doctor at end"
grep -q 'models-available' "$S" || fail "SUMMARY: the failing clause at the end"
grep -q '^Events selected (12):' "$S" || fail "SUMMARY: event list"
# redacted: no timeline or doctor (they show whole bodies), nothing leaked
L export --run R-0001 --redact requested_by --out red.tar.zst 2>/dev/null ||
    fail "export --redact"
tar --zstd -xOf red.tar.zst red/SUMMARY.txt >"$T/rs" || fail "red summary"
grep -q 'left out' "$T/rs" || fail "redacted SUMMARY does not say what it left out"
grep -q 'operator' "$T/rs" && fail "redacted SUMMARY shows requested_by's value"

# --- packed again with plain tar: any order, directories included ---------
for how in gnu posix dot; do
    rm -f re.tar.zst
    case $how in
    gnu) (cd x && tar --zstd -cf ../re.tar.zst r1) ;;
    posix) (cd x && tar --format=posix --zstd -cf ../re.tar.zst r1) ;;
    dot) (cd x && tar --zstd -cf ../re.tar.zst ./r1) ;;
    esac
    grep -q '^r1/proofs/$' "$T/list" && fail "the writer wrote a subdirectory"
    "$LEDGER" verify-bundle re.tar.zst --trusted-key "$VKEY" 2>"$T/verr"
    rc=$?
    [ "$rc" = 0 ] || fail "re-packed ($how): exit $rc $(grep FAIL "$T/verr")"
done
# ... under another name: the directory's name is not signed
cp -r x/r1 x/renamed && (cd x && tar --zstd -cf ../ren.tar.zst renamed) &&
    "$LEDGER" verify-bundle ren.tar.zst --trusted-key "$VKEY" 2>/dev/null ||
    fail "renamed directory does not verify"
# a plain (uncompressed) tar is refused, saying how to pack it
(cd x && tar -cf ../plain.tar r1)
"$LEDGER" verify-bundle plain.tar --trusted-key "$VKEY" 2>"$T/verr"
rc=$?
[ "$rc" = 65 ] || fail "plain tar: exit $rc"
grep -q 'tar --zstd' "$T/verr" || fail "plain tar: no hint: $(cat "$T/verr")"
# a file added beside the bundle's files, or outside its directory: refused
mkdir -p y/r1 && cp -r x/r1 y/ && echo hi >y/r1/notes.txt &&
    (cd y && tar --zstd -cf ../extra.tar.zst r1)
"$LEDGER" verify-bundle extra.tar.zst --trusted-key "$VKEY" 2>"$T/verr"
rc=$?
[ "$rc" = 65 ] || fail "extra file: exit $rc"
grep -q 'r1/notes.txt: not a name of the bundle layout' "$T/verr" ||
    fail "extra file: $(cat "$T/verr")"
echo hi >x/other.txt && (cd x && tar --zstd -cf ../two.tar.zst r1 other.txt)
"$LEDGER" verify-bundle two.tar.zst --trusted-key "$VKEY" 2>"$T/verr"
rc=$?
[ "$rc" = 65 ] || fail "file outside r1/: exit $rc"
grep -q "outside the bundle's directory r1/" "$T/verr" ||
    fail "file outside r1/: $(cat "$T/verr")"
rm x/other.txt

# --- README and SUMMARY are signed like every other file ------------------
for f in README.txt SUMMARY.txt; do
    rm -rf z && cp -r x z && printf 'all fine\n' >>"z/r1/$f" &&
        (cd z && tar --zstd -cf ../chg.tar.zst r1)
    "$LEDGER" verify-bundle chg.tar.zst --trusted-key "$VKEY" 2>"$T/verr"
    rc=$?
    [ "$rc" = 1 ] || fail "changed $f: exit $rc"
    grep -q "^FAIL files: .*$f" "$T/verr" || fail "changed $f: $(grep FAIL "$T/verr")"
done

cd / || exit 1
[ "$fails" = 0 ] || exit 1
echo "export_layout: ok"
