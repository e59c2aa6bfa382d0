#!/bin/sh
# verify_every_db.sh — `verify --full` checks every structure the ledger
# answers from, as it is stored (issue 31): one bit flipped in a page of
# any database of data.mdb (the log's entries, bodies, tree, seals,
# checkpoints, keys, meta, every index, every projection's records and
# its signed notes, LMDB's catalogue) is either caught by `verify --full`
# (exit 1, naming what it found) or changes no answer: query, show,
# proof, tiles, every projection view, `projections` and the doctor give
# what the undamaged ledger gave (lib/flip_sweep.py says exactly).
# Three ledgers: a day of a box (examples/pdf-ops.jsonl: packs, models,
# routes, promotions, runs), a day of its control pipeline
# (examples/pipeline: plans, memory, builds), and 601 events whose Merkle
# tree fills two tiles (db tiles) and whose indexes (store layout 4, ix.*)
# keep some values' seqs in pages of their own and others' inside their
# node. VERIFY_FLIPS flips a
# database (default 12, 2 under make asan; make torture's FLIPS raises it).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/verify_every_db.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
N=${VERIFY_FLIPS:-${FLIPS:-12}}

"$L" --dir "$T/box" init >/dev/null &&
    "$L" --dir "$T/box" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    bad "cannot make the box's ledger"
sh "$ROOT/examples/pipeline/day.sh" "$L" "$T/pipe" "$T/pipe.ctl" >/dev/null 2>&1 ||
    bad "cannot make the pipeline's ledger"
# a third, of 601 events (genesis, the log key's anchor, 599 ingested):
# two full tiles of the Merkle tree (db tiles, store layout 4: 255 hashes
# each, the last in db tree) beside its edge in db tree; 600 seqs of one
# type and of one actor (pages of their own in ix.type and ix.actor), 120
# of each subject and 6 of each run (inside their nodes)
"$L" --dir "$T/tile" init >/dev/null &&
    awk 'BEGIN { for (i = 0; i < 599; i++)
        printf("{\"type\":\"x.tile.test\",\"subject\":\"s:%d\",\"run\":\"r-%d\",\"body\":{\"n\":%d}}\n", i % 5, i % 100, i) }' |
    "$L" --dir "$T/tile" ingest - >/dev/null 2>&1 || bad "cannot make the tiles' ledger"
# every event in data.mdb, where the flips go (at store layout 9 they
# wait in the intake until a flush; at 8 a no-op)
for d in box pipe tile; do
    "$L" --dir "$T/$d" flush >/dev/null || bad "$d: flush"
done

# the undamaged ledgers verify and check their projections
for d in box pipe; do
    "$L" --dir "$T/$d" verify --full -o json >"$T/v.json" 2>"$T/err" ||
        bad "$d: verify --full: $(cat "$T/err")"
    n=$(jq '.projections.checked | length' "$T/v.json")
    [ "$n" = 9 ] || bad "$d: verify --full checked $n projections, want 9"
done
"$L" --dir "$T/box" verify --full 2>&1 | grep -q '9 stored projections match the log' ||
    bad "verify --full does not say that the projections were checked"

# one projection record changed behind the ledger's back: named, exit 1,
# and not recorded as a passing full verification; rebuild mends it
cp -r "$T/box" "$T/one"
python3 - "$T/one/data.mdb" "$ROOT/tests/e2e/lib/lmdb_pages.py" <<'PY' || bad "cannot damage proj.packs"
import struct, subprocess, sys
f, tool = sys.argv[1], sys.argv[2]
pg = [int(l.split()[2]) for l in subprocess.run(
    [sys.executable, tool, f], capture_output=True, text=True).stdout.splitlines()
    if l.startswith("proj.packs leaf")][0]
d = bytearray(open(f, "rb").read())
o = pg * 4096
upper = struct.unpack_from("<H", d, o + 14)[0]
d[4095 + o] ^= 0x01  # the last byte of the page: the first record's value
open(f, "wb").write(d)
PY
"$L" --dir "$T/one" verify --full -o json >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || bad "damaged proj.packs: verify --full exit $rc, want 1"
grep -q 'FAILED: projection packs' "$T/err" ||
    bad "damaged proj.packs: the finding does not name it: $(cat "$T/err")"
grep -q 'ledger rebuild' "$T/err" || bad "damaged proj.packs: no remedy named"
[ "$(jq -r '.ok' "$T/out")" = false ] || bad "damaged proj.packs: json says ok"
[ "$(jq '.projections.differences | length' "$T/out")" -ge 1 ] ||
    bad "damaged proj.packs: json lists no difference"
"$L" --dir "$T/one" rebuild >/dev/null 2>&1 || bad "rebuild after the damage failed"
"$L" --dir "$T/one" verify --full >/dev/null 2>"$T/err" ||
    bad "after rebuild, verify --full still fails: $(cat "$T/err")"

# ix.body (the body index query uses, FORMAT.md 6.1) given a pair no body
# gives (outcome=ok for event 5, put with mdb_load): named at event 5,
# exit 1, the remedy said; rebuild mends it. (The unit tests take pairs
# away and change keys: test_verify_indexes.c.)
cp -r "$T/box" "$T/bix"
printf 'outcome\\00ok\n\\00\\00\\00\\00\\00\\00\\00\\05\n' >"$T/bix.txt"
if command -v mdb_load >/dev/null 2>&1; then
    mdb_load -T -s ix.body -f "$T/bix.txt" "$T/bix" || bad "cannot damage ix.body"
    "$L" --dir "$T/bix" verify --full -o json >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 1 ] || bad "damaged ix.body: verify --full exit $rc, want 1"
    grep -q 'event 5: index ix.body holds the key outcome=ok' "$T/err" ||
        bad "damaged ix.body: the finding does not name it: $(cat "$T/err")"
    grep -q 'ledger rebuild' "$T/err" || bad "damaged ix.body: no remedy named"
    "$L" --dir "$T/bix" rebuild >/dev/null 2>&1 || bad "rebuild of ix.body failed"
    "$L" --dir "$T/bix" verify --full -o json >"$T/out" 2>"$T/err" ||
        bad "after rebuild, verify --full still fails: $(cat "$T/err")"
    [ "$(jq -r '.body_index' "$T/out")" = checked ] ||
        bad "verify --full -o json does not say ix.body was checked"
else
    bad "no mdb_load (lmdb-utils, setup.sh installs it)"
fi

# a body stored for no event (past the log's end, a key of the wrong
# size, one of the wrong size between two seqs): read by no one and met by
# no pass, so verify says so from the bodies database's keys and count
if command -v mdb_load >/dev/null 2>&1; then
    for key in 000000000001869f 6978 00000000000000000001; do
        rm -rf "$T/stray" && cp -r "$T/box" "$T/stray"
        rec=$(mdb_dump -s bodies5 "$T/box" | sed -n 10p)
        printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n%s\nDATA=END\n' \
            "$key" "$rec" >"$T/stray.txt"
        mdb_load -s bodies5 -f "$T/stray.txt" "$T/stray" || bad "cannot add a stray body"
        "$L" --dir "$T/stray" verify --full >/dev/null 2>"$T/err"
        rc=$?
        [ "$rc" = 1 ] || bad "stray body key $key: verify --full exit $rc, want 1"
        grep -q 'FAILED: .*the bodies database holds' "$T/err" ||
            bad "stray body key $key: the finding does not name it: $(cat "$T/err")"
    done
fi

# every database, bit by bit (the tiles' ledger: its tree's two databases,
# the tiles' values on overflow pages included, and its indexes; the
# others have no tile)
for d in box pipe tile; do
    only=""
    [ "$d" = tile ] && only="tiles tree ix.type ix.subject ix.run ix.actor"
    # shellcheck disable=SC2086
    python3 "$ROOT/tests/e2e/lib/flip_sweep.py" "$L" "$T/$d" "$N" 31 $only >"$T/sweep" 2>&1 ||
        bad "$d: $(grep -c '^FAIL' "$T/sweep") flips answered otherwise after verify said ok"
    sed "s/^/$d: /" "$T/sweep"
    [ "$d" = tile ] || { grep -q '^tree: ' "$T/sweep" && grep -q '^proj.notes: ' "$T/sweep" &&
        grep -q '^ix.body: ' "$T/sweep"; } ||
        bad "$d: the sweep did not reach every database"
done
# (the last sweep was the tiles' ledger's)
for db in tiles ix.type ix.subject ix.run ix.actor; do
    grep -q "^$db: " "$T/sweep" || bad "tile: the sweep did not reach db $db"
done


[ "$nfail" -eq 0 ] && echo "verify_every_db: ok" || echo "verify_every_db: $nfail failures"
[ "$nfail" -eq 0 ]
