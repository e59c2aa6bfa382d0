#!/bin/sh
# release_build.sh — a release build (make RELEASE=1, what debian/rules
# makes) neither makes nor reads the store layout in development (999),
# and says so in its own words:
#   - made from this build's objects with ledger/layout.c alone rebuilt
#     ($B/release records the kind, so a change of RELEASE rebuilds it,
#     both ways);
#   - the Debian package's smoke test (debian/smoke.sh) passes on it;
#   - --version names no layout in development;
#   - init at a layout it does not make (4, 999) is refused (64) without
#     naming a layout it does not know, and leaves no ledger;
#   - init --epoch and migrate --layout 999 are refused (64), nothing made
#     or changed;
#   - a ledger a development build made at 999 is refused by every
#     command (query, ingest, stats: 65; verify: 1) naming the layout,
#     and its file is left byte for byte;
#   - make refuses to run the tests with RELEASE=1 (they make 999).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
B=$(dirname "$L")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
# (CI's second pass sets LEDGER_LAYOUT=999 for every test; this one says
# which layout each command gets.)
unset LEDGER_LAYOUT
# make asan's settings must not reach this make (cli_install.sh)
# (and V: the checks read make's short "CC file" lines)
unset MAKEFLAGS MFLAGS MAKELEVEL OPT V
if nm "$B/libledger.a" 2>/dev/null | grep -q -E '__(asan|tsan)_'; then
    echo "SKIP: $B holds instrumented objects, which a plain release program cannot link (make check runs this test)"
    exit 77
fi

# this build's objects; only layout.o is made again
R=$T/rel
mkdir -p "$R"
cp -a "$B/obj" "$R/obj"
[ -f "$B/release" ] && cp -a "$B/release" "$R/release"
(cd "$ROOT" && make B="$R" RELEASE=1 V=0 "$R/ledger") >"$T/make.log" 2>&1 ||
    { cat "$T/make.log"; echo "FAIL: make RELEASE=1"; exit 1; }
grep -q 'ledger/layout\.c' "$T/make.log" ||
    bad "make RELEASE=1 did not rebuild ledger/layout.c"
grep 'CC ' "$T/make.log" | grep -v 'ledger/layout\.c' | grep -q . &&
    bad "make RELEASE=1 rebuilt more than layout.c: $(grep 'CC ' "$T/make.log")"
[ "$(cat "$R/release")" = 1 ] || bad "$R/release does not say 1"
RL=$R/ledger

sh "$ROOT/debian/smoke.sh" "$RL" >"$T/smoke" 2>&1 ||
    { cat "$T/smoke"; bad "debian/smoke.sh failed on the release build"; }

"$RL" --version >"$T/v" || bad "--version exited $?"
grep -q 'store layouts 1 to 8 (appends to 8)' "$T/v" ||
    bad "--version: $(cat "$T/v")"
grep -q '999\|in development' "$T/v" && bad "--version names 999: $(cat "$T/v")"
"$L" --version | grep -q '999 in development' ||
    bad "the development build's --version does not name 999"

# init at a layout a release does not make
for n in 4 999; do
    LEDGER_LAYOUT=$n "$RL" --dir "$T/i$n" init >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 64 ] || bad "LEDGER_LAYOUT=$n init exited $rc, not 64"
    grep -q "store layout $n: .*makes layout 8 ledgers only" "$T/e" ||
        bad "LEDGER_LAYOUT=$n init: $(cat "$T/e")"
    [ -s "$T/o" ] && bad "LEDGER_LAYOUT=$n init printed: $(cat "$T/o")"
    [ -e "$T/i$n/data.mdb" ] && bad "LEDGER_LAYOUT=$n init made a ledger"
done
grep -q 999 "$T/e" || bad "999's refusal does not name 999: $(cat "$T/e")"
LEDGER_LAYOUT=4 "$RL" --dir "$T/i4" init 2>&1 | grep -q 999 &&
    bad "the refusal of layout 4 names 999, which a release does not know"

"$RL" --dir "$T/ep" init --epoch 60 >"$T/o" 2>"$T/e"
rc=$?
[ $rc = 64 ] || bad "init --epoch exited $rc, not 64"
grep -q 'epoch keys are in development, which this release build does not make' "$T/e" ||
    bad "init --epoch: $(cat "$T/e")"
[ -e "$T/ep/data.mdb" ] && bad "init --epoch made a ledger"

"$RL" --dir "$T/r8" init >/dev/null 2>&1 || bad "release init exited $?"
"$RL" --dir "$T/r8" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    bad "release ingest exited $?"
sum8=$(cat "$T/r8/data.mdb" | md5sum)
"$RL" --dir "$T/r8" migrate --layout 999 >"$T/o" 2>"$T/e"
rc=$?
[ $rc = 64 ] || bad "migrate --layout 999 exited $rc, not 64"
grep -q "'999' is not a store layout this build knows" "$T/e" ||
    bad "migrate --layout 999: $(cat "$T/e")"
[ "$(cat "$T/r8/data.mdb" | md5sum)" = "$sum8" ] ||
    bad "a refused migrate changed the ledger"
"$RL" --dir "$T/r8" verify >/dev/null 2>&1 || bad "release verify exited $?"
"$RL" --dir "$T/r8" stats -o json 2>/dev/null | grep -q '"layout": *8' ||
    bad "the release build's ledger is not at layout 8"

# a ledger of layout 999, made by a development build
LEDGER_LAYOUT=999 "$L" --dir "$T/d" init >/dev/null 2>&1 ||
    bad "development init at 999 exited $?"
"$L" --dir "$T/d" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    bad "development ingest at 999 exited $?"
sum=$(cat "$T/d/data.mdb" | md5sum)
for cmd in "verify:1" "query:65" "stats:65" \
    "ingest $ROOT/examples/pdf-ops.jsonl:65" "doctor:65"; do
    want=${cmd##*:}
    args=${cmd%:*}
    # shellcheck disable=SC2086
    "$RL" --dir "$T/d" $args >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = "$want" ] || bad "release $args on a 999 ledger exited $rc, not $want"
    grep -q 'store layout 999 is in development, which no release reads' "$T/e" ||
        bad "release $args on a 999 ledger: $(cat "$T/e")"
done
[ "$(cat "$T/d/data.mdb" | md5sum)" = "$sum" ] ||
    bad "the release build changed a 999 ledger it refused"
"$L" --dir "$T/d" verify >/dev/null 2>&1 ||
    bad "the 999 ledger no longer verifies in the development build"

# make refuses the tests in a release build
(cd "$ROOT" && make -n B="$R" RELEASE=1 check) >"$T/o" 2>&1 &&
    bad "make RELEASE=1 check did not refuse"
grep -q 'RELEASE=1 builds refuse layout 999' "$T/o" ||
    bad "make RELEASE=1 check: $(tail -3 "$T/o")"

# and back: RELEASE=0 rebuilds layout.c, and 999 is known again
(cd "$ROOT" && make B="$R" RELEASE=0 V=0 "$R/ledger") >"$T/make.log" 2>&1 ||
    { cat "$T/make.log"; bad "make RELEASE=0"; }
grep -q 'ledger/layout\.c' "$T/make.log" ||
    bad "make RELEASE=0 after RELEASE=1 did not rebuild ledger/layout.c"
"$R/ledger" --version | grep -q '999 in development' ||
    bad "the rebuilt development program does not know 999"

[ $nfail = 0 ] || { echo "release_build: $nfail failed"; exit 1; }
echo "release_build: a release build refuses 999 and says so; ok"
