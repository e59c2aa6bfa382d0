#!/bin/sh
# release_build.sh — a release build (make RELEASE=1, what debian/rules
# makes) neither makes nor reads a store layout in development (docs/
# FORMAT.md 6.1: none in this build; layout 9 was 999 until 2026-12-02),
# and says so in its own words:
#   - made from this build's objects with ledger/layout.c alone rebuilt
#     ($B/release records the kind, so a change of RELEASE rebuilds it,
#     both ways);
#   - the Debian package's smoke test (debian/smoke.sh) passes on it;
#   - --version names no layout in development, in either build;
#   - init at a layout it does not make (4, 999) is refused (64) and
#     leaves no ledger; init makes layout 9, with epoch keys if asked;
#   - a ledger whose layout record says 999 (what a development build
#     made before 1.0) is refused by every command of either build
#     (query, ingest, stats, migrate: 65; verify: 1) naming the layout, and its
#     file is left byte for byte;
#   - make refuses to run the tests with RELEASE=1 (they may make a
#     layout in development).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
B=$(dirname "$L")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
# (a run may set LEDGER_LAYOUT for every test; this one says which layout
# each command gets.)
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
grep -q 'store layout 9 (ledger migrate converts 1 to 8 to it)' "$T/v" ||
    bad "--version: $(cat "$T/v")"
grep -q 'in development' "$T/v" && bad "--version names a layout in development: $(cat "$T/v")"
"$L" --version | grep -q 'in development' &&
    bad "the development build's --version names a layout in development"

# init at a layout a release does not make
for n in 4 8 999; do
    LEDGER_LAYOUT=$n "$RL" --dir "$T/i$n" init >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 64 ] || bad "LEDGER_LAYOUT=$n init exited $rc, not 64"
    grep -q "store layout $n: .*makes layout 9 ledgers" "$T/e" ||
        bad "LEDGER_LAYOUT=$n init: $(cat "$T/e")"
    [ -s "$T/o" ] && bad "LEDGER_LAYOUT=$n init printed: $(cat "$T/o")"
    [ -e "$T/i$n/data.mdb" ] && bad "LEDGER_LAYOUT=$n init made a ledger"
done

"$RL" --dir "$T/ep" init --epoch 60 >/dev/null 2>"$T/e" ||
    bad "release init --epoch exited $?: $(cat "$T/e")"
"$RL" --dir "$T/ep" append x.release --body "{}" >/dev/null 2>"$T/e" ||
    bad "release append after init --epoch exited $?: $(cat "$T/e")"
"$RL" --dir "$T/ep" keys epochs -o json 2>/dev/null | grep -q '"epoch"' ||
    bad "release init --epoch: its first seal made no epoch key"

"$RL" --dir "$T/r9" init >/dev/null 2>&1 || bad "release init exited $?"
"$RL" --dir "$T/r9" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    bad "release ingest exited $?"
"$RL" --dir "$T/r9" verify >/dev/null 2>&1 || bad "release verify exited $?"
"$RL" --dir "$T/r9" stats -o json 2>/dev/null | grep -q '"layout": *9' ||
    bad "the release build's ledger is not at layout 9"

# a ledger whose layout record says 999: what development builds made
# before layout 9 was frozen
if ! command -v mdb_load >/dev/null 2>&1; then
    bad "no mdb_load (lmdb-utils, setup.sh installs it)"
else
    "$L" --dir "$T/d" init >/dev/null 2>&1 || bad "development init exited $?"
    "$L" --dir "$T/d" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
        bad "development ingest exited $?"
    printf 'layout\n\\00\\00\\03\\e7\n' >"$T/l999.txt"
    mdb_load -T -s meta -f "$T/l999.txt" "$T/d" || bad "cannot write layout 999"
    sum=$(md5sum <"$T/d/data.mdb")
    for prog in "$RL" "$L"; do
        for cmd in "verify:1" "query:65" "stats:65" \
            "ingest $ROOT/examples/pdf-ops.jsonl:65" "doctor:65" \
            "migrate:65"; do
            want=${cmd##*:}
            args=${cmd%:*}
            # shellcheck disable=SC2086
            "$prog" --dir "$T/d" $args >"$T/o" 2>"$T/e"
            rc=$?
            [ $rc = "$want" ] || bad "$prog $args on a 999 ledger exited $rc, not $want"
            grep -q 'store layout 999, this build reads layout 9 (ledger migrate converts 1 to 8 to it)' "$T/e" ||
                bad "$prog $args on a 999 ledger: $(cat "$T/e")"
        done
    done
    [ "$(md5sum <"$T/d/data.mdb")" = "$sum" ] ||
        bad "a build changed a 999 ledger it refused"
fi

# make refuses the tests in a release build
(cd "$ROOT" && make -n B="$R" RELEASE=1 check) >"$T/o" 2>&1 &&
    bad "make RELEASE=1 check did not refuse"
grep -q 'RELEASE=1 builds refuse a layout in development' "$T/o" ||
    bad "make RELEASE=1 check: $(tail -3 "$T/o")"

# and back: RELEASE=0 rebuilds layout.c
(cd "$ROOT" && make B="$R" RELEASE=0 V=0 "$R/ledger") >"$T/make.log" 2>&1 ||
    { cat "$T/make.log"; bad "make RELEASE=0"; }
grep -q 'ledger/layout\.c' "$T/make.log" ||
    bad "make RELEASE=0 after RELEASE=1 did not rebuild ledger/layout.c"
"$R/ledger" --version | grep -q 'store layout 9 (ledger migrate converts 1 to 8 to it)' ||
    bad "the rebuilt development program: $("$R/ledger" --version | sed -n 2,3p)"

[ $nfail = 0 ] || { echo "release_build: $nfail failed"; exit 1; }
echo "release_build: a release build makes layout 9 and refuses 999; ok"
