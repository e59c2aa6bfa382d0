#!/bin/sh
# robust_corrupt.sh — a corrupt data.mdb is reported, never a crash
# (issue 11). LMDB has no page checksums and trusts its pages: a flipped
# bit can send a read into the void (SIGSEGV), a file cut short faults
# past its end (SIGBUS), an LMDB assertion aborts (SIGABRT).
#   1. The corpus tests/vectors/corrupt/ (a base image and the cases in
#      CASES): `verify --full` exits 1 with "storage corrupt", "cannot open
#      the ledger" or a named
#      finding; query, stats, doctor and timeline never die by a signal
#      and name the cause when they fail.
#   2. A sweep of FLIPS (default 30) seeded bit flips over the base image,
#      the same rules. FLIPS=1000 for a longer run (make torture does).
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

fresh() {
    rm -rf "$T/l"
    mkdir -m 700 "$T/l"
    cp "$T/base.mdb" "$T/l/data.mdb"
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
# (the image is sane to begin with)
fresh
"$LEDGER" --dir "$T/l" verify --full >/dev/null 2>"$T/err" ||
    bad "the base image does not verify: $(cat "$T/err")"
while read -r op a b; do
    case $op in '' | '#'*) continue ;; esac
    fresh
    case $op in
    flip)
        python3 -c 'import sys
p, o, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = bytearray(open(p, "rb").read()); d[o] ^= 1 << b; open(p, "wb").write(d)' \
            "$T/l/data.mdb" "$a" "$b"
        ;;
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
    before=$nverify_fail
    run_all "$op $a $b"
    # every corpus case is damage verify must see
    [ "$nverify_fail" -gt "$before" ] ||
        bad "$op $a $b: verify --full passed a corrupt image"
done <"$V/CASES"
echo "corpus: $ncases images, verify failed all of them"

# ------------------------------------------------------------- 2. sweep --
FLIPS=${FLIPS:-30}
n0=$ncases
v0=$nverify_fail
python3 -c 'import random, sys
random.seed(11)
for i in range(int(sys.argv[2])):
    print(random.randrange(int(sys.argv[1])), random.randrange(8))' \
    "$SIZE" "$FLIPS" >"$T/flips"
while read -r off bit; do
    fresh
    python3 -c 'import sys
p, o, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = bytearray(open(p, "rb").read()); d[o] ^= 1 << b; open(p, "wb").write(d)' \
        "$T/l/data.mdb" "$off" "$bit"
    run_all "flip $off $bit"
done <"$T/flips"
echo "sweep: $((ncases - n0)) bit flips, verify failed $((nverify_fail - v0)) (the rest hit unused bytes)"
echo "robust_corrupt: $ncases images, $nfail failed"
[ "$nfail" = 0 ]
