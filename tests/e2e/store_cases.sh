#!/bin/sh
# store_cases.sh — tests/vectors/store/CASES: FORMAT.md's answers about
# the store (issue 63's gaps: meta "digest.next" that is not 8 bytes, what
# decides a ledger "pruned before 2026-11-27", the body index's bytes and
# a pair before the horizon), each a base store (fresh8's golden image, or
# a pruned ledger made here), edits (tests/faults/lmdb_poke.c, or the
# ledger), a command and the exit code and words it must give. fresh8 is
# at store layout 8, which this build opens only to convert it: the base
# fresh8 is the image as each command meets it, `ledger migrate` the image
# itself (damage there is met by the migrate that converts it), any other
# command the image after `ledger migrate` (layout 9, the same log).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/store_cases.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
n=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
CC=${CC:-cc}
# shellcheck disable=SC2046
$CC -O1 -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb) 2>"$T/cc.err" ||
    { echo "FAIL: lmdb_poke: $(cat "$T/cc.err")"; exit 1; }

# the bases: fresh8.image at layout 8, fresh8 it migrated to 9
mkdir "$T/fresh8.image" &&
    zstd -dqc "$ROOT/tests/vectors/layout/fresh8.mdb.zst" >"$T/fresh8.image/data.mdb" ||
    { echo "FAIL: cannot unpack fresh8.mdb.zst"; exit 1; }
cp -r "$T/fresh8.image" "$T/fresh8" &&
    "$LEDGER" --dir "$T/fresh8" migrate >"$T/base.out" 2>&1 &&
    grep -q '^layout 8 -> 9 (4323 events)$' "$T/base.out" ||
    { echo "FAIL: migrate fresh8: $(head -c 300 "$T/base.out")"; exit 1; }
gen() { # FROM TO
    awk -v f="$1" -v t="$2" 'BEGIN { for (i = f; i < t; i++)
        printf("{\"type\":\"x.case.t\",\"subject\":\"s:%d\",\"body\":{\"n\":%d,\"status\":\"%s\"}}\n",
               i % 5, i, i % 2 ? "ok" : "failed") }'
}
# (the genesis, init's anchor, event 1, then 2..101 and 102..201: the
# horizon at the first ingest's end, 102)
P=$T/pruned
{ "$LEDGER" --dir "$P" init --origin cases.test/store &&
    gen 0 100 | "$LEDGER" --dir "$P" ingest - &&
    "$LEDGER" --dir "$P" flush &&
    gen 100 200 | "$LEDGER" --dir "$P" ingest - &&
    "$LEDGER" --dir "$P" archive --before 102 --out "$T/p.seg" &&
    "$LEDGER" --dir "$P" prune --before 102 --archive "$T/p.seg" --force; } \
    >"$T/base.out" 2>&1 || { echo "FAIL: the pruned base: $(tail -3 "$T/base.out")"; exit 1; }

run() { # ledger ARGS... | poke ARGS... on $D
    w=$1
    shift
    case $w in
    ledger) "$LEDGER" --dir "$D" "$@" ;;
    poke) "$T/poke" "$D" "$@" ;;
    *) echo "no such verb: $w" >&2; return 2 ;;
    esac
}
trim() { printf '%s' "$1" | sed 's/^ *//; s/ *$//'; }

set -f
while IFS='|' read -r name base edits cmd want pat; do
    name=$(trim "$name")
    case $name in '#'* | '') continue ;; esac
    n=$((n + 1))
    base=$(trim "$base") cmd=$(trim "$cmd") want=$(trim "$want")
    pat=$(trim "$pat")
    D=$T/case
    rm -rf "$D"
    from=$base
    case $base:$cmd in
    fresh8:'ledger migrate' | fresh8:'ledger migrate '*) from=fresh8.image ;;
    esac
    cp -r "$T/$from" "$D" || { bad "$name: no base $base"; continue; }
    ok=1
    IFS=';'
    for e in $edits; do
        IFS=' '
        # shellcheck disable=SC2086
        run $(trim "$e") >"$T/edit.out" 2>&1 ||
            { bad "$name: edit $(trim "$e"): $(head -c 300 "$T/edit.out")"; ok=0; }
        IFS=';'
    done
    IFS=' '
    [ "$ok" = 1 ] || continue
    # shellcheck disable=SC2086
    run $cmd >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = "$want" ] ||
        bad "$name: $cmd: exit $rc, want $want ($(cat "$T/out" "$T/err" | head -c 300))"
    cat "$T/out" "$T/err" | grep -Eq -- "$pat" ||
        bad "$name: $cmd: no /$pat/ in: $(cat "$T/out" "$T/err" | head -c 300)"
done <"$ROOT/tests/vectors/store/CASES"
set +f
[ "$n" -ge 10 ] || bad "CASES holds $n cases"
echo "store_cases: $n cases, $nfail failed"
[ "$nfail" = 0 ]
