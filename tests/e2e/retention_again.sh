#!/bin/sh
# retention_again.sh — what `ledger prune` and `ledger archive` leave and
# accept after a run was done or killed (docs/RETENTION.md):
#
#   * a prune run again after it was done takes only the archive the
#     ledger's records pin by its SHA-256: that one says "pruned already,
#     into this archive" (exit 0, -o json {"pruned": false, ...}); any
#     other file, a bundle of this ledger's or not, is refused (1), naming
#     the SHA-256 pinned and the archive's name; after a second prune the
#     first one's archive is still told from another by its kept
#     ledger.pruned;
#   * a `ledger archive` (and `ledger export --out`) killed while it
#     writes leaves no file: no NAME, no NAME.tmp.XXXXXX (the file is
#     written unnamed and linked to its name when whole); the next one
#     writes it. Without O_TMPFILE it writes a NAME.tmp.XXXXXX it holds
#     locked: another writer keeps a live one's, the next removes a
#     killed one's.
#
# (A prune too large for one LMDB transaction, made in steps, and a prune
# stopped between two steps and run again: tests/retention/
# test_prune_steps.c, where LMDB's limit can be made small.)
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/retention_again.XXXXXX") ||
    exit 1
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
# the clock shim (CS; SAN_PRE for the other shims): lib/clockshift.sh
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$L" detect_leaks=0
CC=${CC:-cc}
$CC -shared -fPIC -O1 -o "$T/fi.so" "$ROOT/tests/faults/faultinject.c" -ldl \
    2>"$T/cc.err" || { echo "FAIL: faultinject: $(cat "$T/cc.err")"; exit 1; }
$CC -shared -fPIC -O1 -o "$T/nt.so" "$ROOT/tests/faults/notmpfile.c" -ldl \
    2>"$T/cc.err" || { echo "FAIL: notmpfile: $(cat "$T/cc.err")"; exit 1; }
FI=$SAN_PRE$T/fi.so
NT=$SAN_PRE$T/nt.so
ago() { # DAYS CMD...: the ledger with the wall clock DAYS days back
    d=$1
    shift
    CLOCK_SHIFT_S=$((-d * 86400)) LD_PRELOAD=$CS "$L" "$@"
}
sha() { sha256sum "$1" | cut -c1-64; }

# ------------------------------------------------------------ the ledger --
D=$T/d
ago 400 --dir "$D" init --origin again.test/log >/dev/null || exit 1
for i in 1 2 3 4 5 6; do
    awk -v i="$i" 'BEGIN { for (k = 0; k < 20; k++)
        printf("{\"type\":\"x.again\",\"run\":\"r-%d\",\"body\":{\"n\":%d}}\n", i, k) }' |
        ago 400 --dir "$D" ingest - >/dev/null 2>&1 || exit 1
done
# six commits of 20 events, 2..21, 22..41, ..., 102..121 (event 0 is the
# genesis, 1 the log key's anchor: init anchors it by default), so 42, 82
# and 102 are where commits end
# two erased bodies: one the first prune takes, one it keeps
ago 400 --dir "$D" erase --reason test 10 >/dev/null || exit 1
ago 400 --dir "$D" erase --reason test 50 >/dev/null || exit 1
"$L" --dir "$D" archive --before 42 --out "$T/a1.bundle" >/dev/null 2>&1 ||
    fail "archive a1"
"$L" --dir "$D" prune --before 42 --archive "$T/a1.bundle" >"$T/out" 2>&1 ||
    fail "prune: $(cat "$T/out")"
A1=$(sha "$T/a1.bundle")
# verify and stats count the same erased bodies: the kept events' (issue
# 46: verify counted the pruned one too); verify names that one apart
v=$("$L" --dir "$D" verify --full -o json | jq -c '[.erased, .erased_pruned]')
s=$("$L" --dir "$D" stats -o json | jq -c '.erased')
[ "$v" = "[1,1]" ] && [ "$s" = 1 ] ||
    fail "erased bodies after a prune: verify $v, stats $s"
"$L" --dir "$D" verify --full >"$T/out" 2>&1
grep -q '; 1 erased bodies' "$T/out" &&
    grep -q 'and 1 body.erased kept for pruned events' "$T/out" ||
    fail "verify's words on erased bodies: $(cat "$T/out")"
"$L" --dir "$D" stats | grep -q '^bodies .*(1 erased)' ||
    fail "stats: $("$L" --dir "$D" stats | grep bodies)"

# ----------------------------------------------------------- run again --
"$L" --dir "$D" prune --before 42 --archive "$T/a1.bundle" >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "events 0..41 were pruned already, into this archive" "$T/out" &&
    grep -q "$A1" "$T/out" ||
    fail "prune run again with its archive: exit $rc: $(cat "$T/out")"
"$L" --dir "$D" prune --before 42 --archive "$T/a1.bundle" -o json >"$T/out" 2>&1 &&
    jq -e ".pruned == false and .archive_sha256 == \"$A1\"" "$T/out" >/dev/null ||
    fail "prune run again -o json: $(cat "$T/out")"
# any other file: refused, naming the archive that is
echo "not an archive" >"$T/other"
cp -r "$D" "$T/d2"
"$L" --dir "$T/d2" archive --before 82 --out "$T/later.bundle" >/dev/null 2>&1 ||
    fail "archive of a copy"
for f in "$T/other" "$T/later.bundle"; do
    "$L" --dir "$D" prune --before 42 --archive "$f" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 1 ] && [ ! -s "$T/out" ] &&
        grep -q "$(basename "$f") (SHA-256 $(sha "$f")) is not the archive of the events before 42" "$T/err" &&
        grep -q "events 0..41 went into the archive with SHA-256 $A1" "$T/err" &&
        grep -q "a1.bundle" "$T/err" ||
        fail "prune run again with $(basename "$f"): exit $rc: $(cat "$T/out" "$T/err")"
done
# the same prune asked with a --before that rounds down to the horizon
# (as a --before TIME run again does): pruned already, the archive
# compared all the same (it answered "nothing left", 66, with any file)
"$L" --dir "$D" prune --before 50 --archive "$T/a1.bundle" >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "events 0..41 were pruned already, into this archive" "$T/out" ||
    fail "prune --before 50 run again with its archive: exit $rc: $(cat "$T/out")"
"$L" --dir "$D" prune --before 50 --archive "$T/other" >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "is not the archive of the events before 50" "$T/out" ||
    fail "prune --before 50 run again with another file: exit $rc: $(cat "$T/out")"
# a second prune: the first one's archive is told by its ledger.pruned
"$L" --dir "$D" archive --before 82 --out "$T/a2.bundle" >/dev/null 2>&1 ||
    fail "archive a2"
"$L" --dir "$D" prune --before 82 --archive "$T/a2.bundle" >/dev/null 2>&1 ||
    fail "second prune"
"$L" --dir "$D" prune --before 42 --archive "$T/a1.bundle" >"$T/out" 2>&1 &&
    grep -q "pruned already, into this archive .*ledger.pruned seq" "$T/out" ||
    fail "the first prune run again after a second: $(cat "$T/out")"
"$L" --dir "$D" prune --before 42 --archive "$T/a2.bundle" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "with SHA-256 $A1 .*a1.bundle" "$T/out" ||
    fail "the first prune run again with the second's archive: $(cat "$T/out")"
"$L" --dir "$D" prune --before 82 --archive "$T/a1.bundle" >"$T/out" 2>&1
[ $? -eq 1 ] && grep -q "$(sha "$T/a2.bundle")" "$T/out" ||
    fail "the second prune run again with the first's archive: $(cat "$T/out")"
"$L" --dir "$D" verify >"$T/out" 2>&1 || fail "verify: $(cat "$T/out")"

# --------------------------------------------- an archive killed writing --
# (the first write of the bundle blocks; the process is killed there)
for cmd in archive export; do
    rm -f "$T/hang.log"
    if [ $cmd = archive ]; then
        set -- archive --before 102 --out "$T/k.bundle"
    else
        set -- export --out "$T/k.bundle" seq=82..
    fi
    FAULT_CALLS=write FAULT_AT=1 FAULT_MODE=hang FAULT_LOG="$T/hang.log" \
        LD_PRELOAD=$FI "$L" --dir "$D" "$@" >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ ! -s "$T/hang.log" ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$T/hang.log" ] || fail "$cmd: never reached its first write"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
    left=$(ls "$T" | grep '^k\.bundle')
    [ -z "$left" ] || fail "$cmd killed while writing left: $left"
    "$L" --dir "$D" "$@" >/dev/null 2>"$T/err" ||
        fail "$cmd after a killed one: $(cat "$T/err")"
    [ -s "$T/k.bundle" ] && [ -z "$(ls "$T" | grep '^k\.bundle\.')" ] ||
        fail "$cmd: $(ls "$T")"
    rm -f "$T/k.bundle"
done

# ... and where the file system has no O_TMPFILE (notmpfile.so: NFS, an
# overlayfs before Linux 6.6), the file is NAME.tmp.XXXXXX, locked while
# it is written: a live writer's is kept by another writer of the name, a
# killed one's is removed by the next (until 2026-11-27 it stayed: issue
# 46's 1.2 GB NAME.tmp.XXXXXX)
for cmd in archive export; do
    rm -f "$T/hang.log"
    if [ $cmd = archive ]; then
        set -- archive --before 102 --out "$T/k.bundle"
    else
        set -- export --out "$T/k.bundle" seq=82..
    fi
    FAULT_CALLS=write FAULT_AT=1 FAULT_MODE=hang FAULT_LOG="$T/hang.log" \
        LD_PRELOAD="$NT:$T/fi.so" "$L" --dir "$D" "$@" >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ ! -s "$T/hang.log" ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$T/hang.log" ] || fail "$cmd without O_TMPFILE: never reached its first write"
    live=$(ls "$T" | grep '^k\.bundle\.tmp\.')
    [ -n "$live" ] || fail "$cmd without O_TMPFILE: no NAME.tmp.XXXXXX: $(ls "$T")"
    # another writer of the name beside the live one: its file is kept
    LD_PRELOAD=$NT "$L" --dir "$D" "$@" >/dev/null 2>"$T/err" ||
        fail "$cmd beside a live writer: $(cat "$T/err")"
    [ -s "$T/k.bundle" ] && [ -f "$T/$live" ] ||
        fail "$cmd beside a live writer: its file $live taken: $(ls "$T")"
    rm -f "$T/k.bundle"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
    [ -f "$T/$live" ] || fail "$cmd without O_TMPFILE killed: nothing left to remove"
    LD_PRELOAD=$NT "$L" --dir "$D" "$@" >/dev/null 2>"$T/err" ||
        fail "$cmd after a killed one without O_TMPFILE: $(cat "$T/err")"
    left=$(ls "$T" | grep '^k\.bundle\.')
    [ -s "$T/k.bundle" ] && [ -z "$left" ] ||
        fail "$cmd after a killed one without O_TMPFILE left: $left"
    rm -f "$T/k.bundle"
done

# --before TIME ages events by their recorded time, not a time their
# source claimed (docs/RETENTION.md, "Which time"): events back-filled now
# with times a year old are not before '30 days ago'
B=$T/backfill
"$L" --dir "$B" init >/dev/null || exit 1
for i in 1 2 3; do
    "$L" --dir "$B" append x.old --time '2025-01-0'$i'T00:00:00Z' \
        --body "{\"i\":$i}" >/dev/null || fail "append --time"
done
"$L" --dir "$B" archive --before '30 days ago' --out "$T/bf.bundle" >"$T/out" 2>&1
rc=$?
[ $rc = 66 ] && grep -q "nothing before 30 days ago" "$T/out" ||
    fail "archive --before a time of back-filled events: exit $rc: $(cat "$T/out")"
# (all of them: 0 the genesis, 1 the anchor, 2..4 the three back-filled)
"$L" --dir "$B" archive --before 5 --out "$T/bf.bundle" >/dev/null 2>&1 ||
    fail "archive --before SEQ of back-filled events"

[ "$nfail" -eq 0 ] || exit 1
echo "retention_again: ok"
