#!/bin/sh
# core_seals.sh — ledger format 2 (sealed entries, docs/FORMAT.md 3.2-3.5)
# end to end through the CLI: `init` makes one (`--format` is gone, and
# $LEDGER_FORMAT naming another format is refused), events of three keys
# ingested in batch commits are sealed one seal per key per commit, `show`
# says where each sits in its seal, `verify` passes and says it checked
# seals; a seal record's signature flipped, a seal record deleted and a
# body flipped on disk are each caught by verify (exit 1) naming the first
# bad event; a format 1 ledger (tests/vectors/layout/format1.mdb.zst,
# migrated) still signs each event it takes.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

# --- init makes format 2: another format is asked for no more
"$LEDGER" --dir "$T/bad" init --format 1 >/dev/null 2>"$T/e"
rc=$?
[ "$rc" = 64 ] || fail "init --format 1: exit $rc, want 64"
grep -q "format" "$T/e" || fail "init --format 1: $(cat "$T/e")"
[ ! -e "$T/bad/data.mdb" ] || fail "init --format 1 made a ledger"
for v in 1 two; do
    LEDGER_FORMAT=$v "$LEDGER" --dir "$T/bad" init >/dev/null 2>"$T/e"
    rc=$?
    [ "$rc" = 64 ] || fail "LEDGER_FORMAT=$v init: exit $rc, want 64"
    grep -q "^ledger init: \$LEDGER_FORMAT is '$v': this build makes format 2 ledgers only" "$T/e" ||
        fail "LEDGER_FORMAT=$v names the variable: $(cat "$T/e")"
    [ ! -e "$T/bad/data.mdb" ] || fail "LEDGER_FORMAT=$v made a ledger"
done
LEDGER_FORMAT=2 "$LEDGER" --dir "$T/two" init >/dev/null 2>"$T/e" ||
    fail "LEDGER_FORMAT=2 init: $(cat "$T/e")"

L init >/dev/null || exit 1
L keys add alice >/dev/null || fail "keys add alice"
L keys add bob >/dev/null || fail "keys add bob"
i=0
while [ $i -lt 60 ]; do
    case $((i % 3)) in
    0) a=',"actor":"alice"' ;;
    1) a=',"actor":"bob"' ;;
    *) a='' ;;
    esac
    printf '{"type":"x.step","body":{"i":%d,"run":"R-%d"}%s}\n' $i $((i / 10)) "$a"
    i=$((i + 1))
done >"$T/in.jsonl"
L ingest --batch 20 "$T/in.jsonl" >/dev/null 2>"$T/e" || fail "ingest: $(cat "$T/e")"
# the events in data.mdb itself, where lmdb_poke alters them (at store
# layout 9 they wait in the intake until a flush; at 8 a no-op)
L flush >/dev/null || fail "flush"
cp -a "$D" "$T/fresh" # never verified: no saved position reveals a cut

# event 0 is the genesis, 1 the log key's anchor (init anchors it), 2..5
# the keys added, each followed by its own key.anchored (keys add anchors a
# key whose secret the box keeps when the log key is anchored), 6..65 the
# 60 ingested
L verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"
grep -q "^ok: full verification of 66 events (0..65): seals" "$T/out" ||
    fail "verify --full output: $(cat "$T/out")"

# each event's place: alice's seal of the first batch opens at seq 6
L show -o json 6 >"$T/s6" 2>"$T/e" || fail "show 6: $(cat "$T/e")"
grep -q '"seal":"6"' "$T/s6" && grep -q '"seal_leaf":"0"' "$T/s6" &&
    grep -q '"actor_name":"alice"' "$T/s6" &&
    grep -q '"claim_digest":"[0-9a-f]\{64\}"' "$T/s6" ||
    fail "show 6: $(cat "$T/s6")"
grep -q '"signature"' "$T/s6" && fail "a sealed event shows a signature"
L show -o json 9 >"$T/s9" 2>"$T/e" || fail "show 9"
grep -q '"seal":"6"' "$T/s9" && grep -q '"seal_leaf":"1"' "$T/s9" ||
    fail "show 9 (alice's second event of that commit): $(cat "$T/s9")"
L keys list -o json >"$T/k" 2>"$T/e" || fail "keys list: $(cat "$T/e")"

CC=${CC:-cc}
PKG=${PKG_CONFIG:-pkg-config}
if $CC -o "$T/lmdb_poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $($PKG --cflags --libs lmdb 2>/dev/null || echo -llmdb) 2>"$T/cc.err"; then
    # alice's seal of the second commit (seq 26..45: the keys' anchors
    # moved it by two; alice's first is 27, her seal holds 7 events)
    cp -a "$D" "$T/v1"
    # alice's key is anchored at keys add, so the seal is an epoch seal
    # (FORMAT.md 5.1): its signature is esig, not the last byte (flip-seal
    # flips j0 there); as her second seal of epoch 0.0 it carries no certs,
    # so the record ends esig[64] l0 j0: flip esig's last byte
    sz=$("$T/lmdb_poke" "$T/v1" keys seals | sed -n 's/^000000000000001b //p')
    [ -n "$sz" ] && "$T/lmdb_poke" "$T/v1" flip seals 000000000000001b $((sz - 3)) 2>"$T/e" ||
        fail "flip seal 27's esig (record of '$sz' bytes): $(cat "$T/e")"
    "$LEDGER" --dir "$T/v1" verify --full >"$T/out" 2>&1
    rc=$?
    [ "$rc" = 1 ] || fail "verify after a seal's signature flipped: exit $rc"
    grep -q "event 27: seal of 7 events by key [0-9a-f]*: its epoch signature does not verify with the key of epoch 0.0" "$T/out" ||
        fail "flipped seal: $(cat "$T/out")"
    cp -a "$D" "$T/v2"
    "$T/lmdb_poke" "$T/v2" drop-seal 27 2>"$T/e" || fail "drop-seal: $(cat "$T/e")"
    "$LEDGER" --dir "$T/v2" verify --full >"$T/out" 2>&1
    rc=$?
    [ "$rc" = 1 ] || fail "verify after a seal deleted: exit $rc"
    grep -q "event 27: opens a seal but no seal record is stored for it" "$T/out" ||
        fail "deleted seal: $(cat "$T/out")"
    cp -a "$D" "$T/v3"
    "$T/lmdb_poke" "$T/v3" flip-body 33 2>"$T/e" || fail "flip-body: $(cat "$T/e")"
    "$LEDGER" --dir "$T/v3" verify --full >"$T/out" 2>&1
    rc=$?
    [ "$rc" = 1 ] && grep -q "event 33: .*body" "$T/out" ||
        fail "flipped body: exit $rc, $(cat "$T/out")"
    # a cut at a commit boundary, with the seals and counts it takes along,
    # is a consistent shorter log (only a kept checkpoint reveals it)
    L checkpoint >"$T/ckpt" || fail "checkpoint"
    cp -a "$T/fresh" "$T/v4"
    "$T/lmdb_poke" "$T/v4" truncate 20 2>"$T/e" || fail "truncate: $(cat "$T/e")"
    "$LEDGER" --dir "$T/v4" verify --full >"$T/out" 2>&1 ||
        fail "a consistent cut: $(cat "$T/out")"
    "$LEDGER" --dir "$T/v4" verify --full --trusted "$T/ckpt" >"$T/out" 2>&1
    rc=$?
    [ "$rc" = 1 ] && grep -q "rolled back" "$T/out" ||
        fail "verify --trusted after a cut: exit $rc, $(cat "$T/out")"
else
    echo "SKIP: no C compiler for lmdb_poke: $(cat "$T/cc.err")"
fi

# --- a format 1 ledger beside it (made by an older build: the golden
# image), migrated: an event it takes is signed on its own
D1=$T/one
V=$ROOT/tests/vectors/layout
mkdir -m 700 "$D1" "$D1/keys" &&
    zstd -q -d -c "$V/format1.mdb.zst" >"$D1/data.mdb" &&
    cp "$V/keys/format1.key" "$D1/keys/log.key" &&
    chmod 600 "$D1/keys/log.key" "$D1/data.mdb" ||
    fail "unpack the format 1 image"
"$LEDGER" --dir "$D1" migrate >/dev/null 2>&1 || fail "migrate (format 1)"
"$LEDGER" --dir "$D1" append -q x.step --body '{"i":1}' >/dev/null || fail "append (format 1)"
"$LEDGER" --dir "$D1" show -o json 33 >"$T/f1" || fail "show (format 1)"
grep -q '"signature":"[0-9a-f]\{128\}"' "$T/f1" || fail "format 1 show: $(cat "$T/f1")"
grep -q '"seal"' "$T/f1" && fail "a format 1 event shows a seal"
"$LEDGER" --dir "$D1" verify --full >"$T/out" 2>&1 || fail "format 1 verify"
grep -q "signatures, bodies" "$T/out" || fail "format 1 verify: $(cat "$T/out")"

if [ "$fails" -gt 0 ]; then
    echo "core_seals: $fails failed"
    exit 1
fi
echo "core_seals: ok"
