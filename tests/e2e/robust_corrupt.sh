#!/bin/sh
# robust_corrupt.sh — a corrupt data.mdb is reported, never a crash
# (issue 11). LMDB has no page checksums and trusts its pages: a flipped
# bit can send a read into the void (SIGSEGV), a file cut short faults
# past its end (SIGBUS), an LMDB assertion aborts (SIGABRT).
# The base image tests/vectors/corrupt/base.mdb.zst is at store layout 1,
# which this build opens through `ledger migrate` only (to layout 9; every
# other command refuses it until then).
#   1. The corpus tests/vectors/corrupt/ (the base image and the cases in
#      CASES, each damage at the layout 1 image's own offsets), then
#      `ledger migrate`: migrate never crashes (exit 0; or 1, its full
#      verification of the store as it is naming the damage, data.mdb as
#      it was; or 65 naming the damage: "storage corrupt", "cannot open
#      the ledger"), and every case is named, by migrate's refusal or by
#      `verify --full` after it (exit 1); after it, verify --full exits 0 or 1 with a
#      finding, and query, stats, doctor and timeline never die by a
#      signal and name the cause when they fail.
#   2. A sweep of FLIPS (default 30) seeded bit flips over the base image,
#      each then migrated: migrate never crashes (exit 0, or 1 or 65
#      saying why, as in 1), and the rules of 1 for the commands after it.
#   3. The same FLIPS seeded bit flips over the base image's data.mdb
#      migrated to layout 9 (what every command reads now): the rules of
#      1 for the commands. FLIPS=1000 for a longer run (make torture does).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
V=$ROOT/tests/vectors/corrupt
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/robust_corrupt.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
ncases=0
nverify_fail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
command -v zstd >/dev/null 2>&1 || {
    echo "robust_corrupt: zstd (the program) is missing"
    exit 1
}
zstd -q -d -c "$V/base.mdb.zst" >"$T/base.mdb" || exit 1
SIZE=$(stat -c %s "$T/base.mdb")
# the base image migrated: the layout 9 store part 3 flips
mkdir -m 700 "$T/m9" || exit 1
cp "$T/base.mdb" "$T/m9/data.mdb" || exit 1
"$LEDGER" --dir "$T/m9" migrate >"$T/out" 2>"$T/err" ||
    bad "migrate of the base image: exit $? $(cat "$T/err")"
grep -q '^layout 1 -> 9 (41 events)$' "$T/out" ||
    bad "migrate of the base image: $(cat "$T/out")"
"$LEDGER" --dir "$T/m9" verify --full >/dev/null 2>"$T/err" ||
    bad "the base image migrated does not verify: $(cat "$T/err")"
rm -f "$T/m9/lock.mdb"
SIZE9=$(stat -c %s "$T/m9/data.mdb")

# fresh: the layout 1 image in $T/l; fresh9: the layout 9 store
fresh() {
    rm -rf "$T/l"
    mkdir -m 700 "$T/l"
    cp "$T/base.mdb" "$T/l/data.mdb"
}
fresh9() {
    rm -rf "$T/l"
    cp -a "$T/m9" "$T/l"
}
# flip OFFSET BIT: one bit of $T/l/data.mdb
flip() {
    python3 -c 'import sys
p, o, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = bytearray(open(p, "rb").read()); d[o] ^= 1 << b; open(p, "wb").write(d)' \
        "$T/l/data.mdb" "$1" "$2"
}
# migrate LABEL — ledger migrate of $T/l: exit 0 (migrated=1); or 1, its
# full verification of the store as it is failing, the damage named and
# data.mdb as it was; or 65 saying why (migrated=0, its stderr in
# $T/merr); a crash (a signal, or exit 70, "crashed (SIG...)") or another
# exit fails
migrate() {
    cp "$T/l/data.mdb" "$T/mbefore"
    "$LEDGER" --dir "$T/l" migrate >"$T/out" 2>"$T/merr"
    rc=$?
    migrated=0
    case $rc in
    0) migrated=1 ;;
    1)
        grep -q "the store does not verify at layout [0-9]* (.*); nothing was converted" "$T/merr" ||
            bad "$1: migrate exit 1 without the damage named: $(head -c 300 "$T/merr")"
        cmp -s "$T/l/data.mdb" "$T/mbefore" || bad "$1: migrate exit 1, yet data.mdb changed"
        ;;
    65) [ -s "$T/merr" ] || bad "$1: migrate exit 65 with nothing on stderr" ;;
    *) bad "$1: migrate exit $rc, want 0, 1 or 65: $(head -c 200 "$T/merr")" ;;
    esac
}
# run_all LABEL — every command against $T/l; none may die by a signal.
run_all() {
    ncases=$((ncases + 1))
    "$LEDGER" --dir "$T/l" verify --full >"$T/out" 2>"$T/err"
    rc=$?
    case $rc in
    0) ;; # the damage missed everything verify reads (free pages)
    1)
        nverify_fail=$((nverify_fail + 1))
        grep -Eq 'FAILED|corrupt|cannot open the ledger' "$T/err" ||
            bad "$1: verify exit 1 without a finding: $(head -c 200 "$T/err")"
        ;;
    *) bad "$1: verify exit $rc, want 0 or 1: $(head -c 200 "$T/err")" ;;
    esac
    for cmd in "query -o json" "stats" "doctor" "timeline r1"; do
        # shellcheck disable=SC2086
        "$LEDGER" --dir "$T/l" $cmd >"$T/out" 2>"$T/err"
        rc=$?
        if [ "$rc" -ge 128 ]; then
            bad "$1: '$cmd' died by signal $((rc - 128))"
        elif [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ ! -s "$T/err" ]; then
            bad "$1: '$cmd' exit $rc with nothing on stderr"
        fi
    done
}

# ------------------------------------------------------------ 1. corpus --
nrefused=0
nfound=0
while read -r op a b; do
    case $op in '' | '#'*) continue ;; esac
    fresh
    case $op in
    flip) flip "$a" "$b" ;;
    node)
        # an extra node at the end of leaf page $a with key $b (hex): a
        # well-formed LMDB page whose keys no per-event lookup reaches
        python3 -c 'import struct, sys
p, pg, key = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
d = bytearray(open(p, "rb").read())
o = pg * 4096
lower, upper = struct.unpack_from("<HH", d, o + 12)
size = 8 + len(key) + ((8 + len(key)) & 1)
nu = upper - size
struct.pack_into("<HHHH", d, o + nu, 0, 0, 0, len(key))
d[o + nu + 8:o + nu + 8 + len(key)] = key
struct.pack_into("<H", d, o + lower, nu)
struct.pack_into("<HH", d, o + 12, lower + 2, nu)
open(p, "wb").write(d)' "$T/l/data.mdb" "$a" "$b"
        ;;
    truncate) truncate -s "$a" "$T/l/data.mdb" ;;
    zero) dd if=/dev/zero of="$T/l/data.mdb" bs=1 seek="$a" count="$b" \
        conv=notrunc 2>/dev/null ;;
    *) bad "CASES: unknown operation '$op'"; continue ;;
    esac
    migrate "$op $a $b"
    if [ "$rc" = 65 ]; then
        if grep -Eq 'FAILED|corrupt|cannot open the ledger' "$T/merr"; then
            nrefused=$((nrefused + 1))
        else
            bad "$op $a $b: migrate refused it without naming the damage: $(head -c 200 "$T/merr")"
        fi
    fi
    before=$nverify_fail
    run_all "$op $a $b"
    # every corpus case is damage that migrate or verify must name
    if [ "$migrated" = 1 ]; then
        if [ "$nverify_fail" -gt "$before" ]; then
            nfound=$((nfound + 1))
        else
            bad "$op $a $b: migrate converted a corrupt image and verify --full passed it"
        fi
    fi
done <"$V/CASES"
echo "corpus: $ncases images: migrate refused $nrefused, verify --full failed $nfound it converted"

# ------------------------------------------------------------- 2. sweep --
FLIPS=${FLIPS:-30}
# flips SIZE: FLIPS seeded offsets and bits
flips() {
    python3 -c 'import random, sys
random.seed(11)
for i in range(int(sys.argv[2])):
    print(random.randrange(int(sys.argv[1])), random.randrange(8))' \
        "$1" "$FLIPS"
}
n0=$ncases
m0=0
f0=0
flips "$SIZE" >"$T/flips"
while read -r off bit; do
    fresh
    flip "$off" "$bit"
    migrate "flip $off $bit (layout 1)"
    [ "$migrated" = 0 ] && m0=$((m0 + 1))
    before=$nverify_fail
    run_all "flip $off $bit (layout 1)"
    [ "$migrated" = 1 ] && [ "$nverify_fail" -gt "$before" ] && f0=$((f0 + 1))
done <"$T/flips"
echo "sweep of layout 1: $((ncases - n0)) bit flips, migrate refused $m0, verify --full failed $f0 it converted (the rest hit bytes that no check reads or migrate leaves behind)"

# ---------------------------------------------------- 3. sweep at layout 9 --
n0=$ncases
v0=$nverify_fail
flips "$SIZE9" >"$T/flips"
while read -r off bit; do
    fresh9
    flip "$off" "$bit"
    run_all "flip $off $bit (layout 9)"
done <"$T/flips"
echo "sweep of layout 9: $((ncases - n0)) bit flips, verify failed $((nverify_fail - v0)) (the rest hit unused bytes)"
echo "robust_corrupt: $ncases images, $nfail failed"
[ "$nfail" = 0 ]
