#!/bin/sh
# intake_crash.sh — kill -9 on a ledger at store layout 9 (in
# development: every append acknowledged by its intake frame,
# docs/FORMAT.md 12) never loses an acknowledged event, never shows one
# twice, and never leaves a log that fails `verify --full`.
#
#   1. Appends with ids, one process each, some killed at a random moment
#      (opening, replaying the tail, signing, writing the frame, flushing
#      it, applying the tail to LMDB every 128 events, and at its close): after each round
#      every acknowledged seq holds its event, the log has no gaps and
#      verifies in full, and each killed append's id is in the log at
#      most once: retried, it answers the seq it has, or a new one.
#   2. An append held inside each of its fdatasync calls and killed there,
#      for an append that only writes its frame and for one that also
#      applies the tail (the LMDB commit's flushes): the events acked
#      before are there, the killed one is there whole or not at all, and
#      the next append gets in at once and verifies.
#   3. `ingest --acks` (its groups too big for a frame go to LMDB once the
#      tail is applied) killed mid-way: every acknowledged range is there.
#
# INTAKE_CRASH_SEED=N reproduces a run; INTAKE_CRASH_ROUNDS (default 6).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_crash.XXXXXX") ||
    exit 1
cleanup() {
    for p in $(cat "$T"/*.pid 2>/dev/null); do
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${INTAKE_CRASH_ROUNDS:-6}
SEED=${INTAKE_CRASH_SEED:-$(date +%s)}
echo "intake_crash: seed $SEED ($ROUNDS rounds); rerun with INTAKE_CRASH_SEED=$SEED"
RS=$((SEED % 2147483646 + 1))
rnd() {
    RS=$((RS * 48271 % 2147483647))
    R=$(($1 + RS % ($2 - $1 + 1)))
}
nfail=0
bad() {
    printf 'FAIL [%s] %s (seed %s)\n' "$1" "$2" "$SEED"
    nfail=$((nfail + 1))
}
msleep() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
events() {
    "$LEDGER" --dir "$1" stats -o json 2>/dev/null |
        sed -n 's/.*"size":"\([0-9]*\)".*/\1/p'
}
# markers DIR — "SEQ ID" for every event with an id, in $T/markers
markers() {
    "$LEDGER" --dir "$1" query "seq=0..18446744073709551614" -o json \
        2>/dev/null |
        sed -n 's/^{"seq":"\([0-9]*\)".*"id":"\([^"]*\)".*/\1 \2/p' \
            >"$T/markers"
}
check() { # check WHAT: acked seqs hold their ids, no id twice, no gaps, verify
    w=$1
    markers "$D"
    while read -r id seq; do
        got=$(awk -v s="$seq" '$1 == s { print $2; exit }' "$T/markers")
        [ "$got" = "$id" ] ||
            bad lost-ack "$w: $id was acknowledged as seq $seq, which holds '$got'"
    done <"$T/acked"
    dups=$(awk '{ print $2 }' "$T/markers" | sort | uniq -d | head -n 3)
    [ -z "$dups" ] || bad twice "$w: ids in the log twice: $dups"
    n=$(events "$D")
    last=$(awk 'END { print $1 }' "$T/markers")
    "$LEDGER" --dir "$D" verify --full >/dev/null 2>"$T/verify.err" || {
        bad verify "$w: verify --full: $(head -c 300 "$T/verify.err")"
        [ -n "${INTAKE_CRASH_KEEP:-}" ] && cp -a "$D" "$INTAKE_CRASH_KEEP"
    }
    [ -n "$n" ] && [ "$n" -gt 0 ] || bad gaps "$w: stats says '$n' events"
    : "$last"
}

D=$T/l
LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>"$T/err" || {
    echo "FAIL: init: $(cat "$T/err")"
    exit 1
}
[ -f "$D/intake" ] || {
    echo "FAIL: init with LEDGER_LAYOUT=9 made no intake log"
    exit 1
}
: >"$T/acked"

# ---------------------------------------------------- 1. killed appends --
r=1
while [ "$r" -le "$ROUNDS" ]; do
    i=1
    while [ "$i" -le 40 ]; do
        id="r$r-$i"
        rnd 0 5
        if [ "$R" -eq 0 ]; then
            # this one is killed at a random moment of its run
            "$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body "{\"i\":$i}" >"$T/one.out" 2>/dev/null &
            p=$!
            echo "$p" >"$T/one.pid"
            rnd 0 40
            msleep "$R"
            kill -9 "$p" 2>/dev/null
            wait "$p" 2>/dev/null
            rm -f "$T/one.pid"
            # retried: the seq it has, or a new one; never twice
            seq=$("$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body "{\"i\":$i}" 2>"$T/err") ||
                bad retry "round $r: retry of $id: $(head -c 200 "$T/err")"
        else
            seq=$("$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body "{\"i\":$i}" 2>"$T/err") ||
                bad append "round $r: $id: $(head -c 200 "$T/err")"
        fi
        [ -n "$seq" ] && echo "$id $seq" >>"$T/acked"
        i=$((i + 1))
    done
    check "round $r"
    r=$((r + 1))
done

# ------------------------------------ 2. killed inside each fdatasync --
CC=${CC:-cc}
if $CC -shared -fPIC -O1 -o "$T/fi.so" "$ROOT/tests/faults/faultinject.c" \
    -ldl 2>"$T/cc.err"; then
    . "$ROOT/tests/e2e/lib/preload.sh"
    san_preload "$LEDGER" detect_leaks=0
    PRE=$SAN_PRE$T/fi.so
    syncs() { # syncs CMD...: fdatasync calls CMD makes on a copy of $D
        rm -rf "$T/copy"
        cp -a "$D" "$T/copy"
        rm -f "$T/count"
        env ASAN_OPTIONS="$SAN_OPTS" LD_PRELOAD="$PRE" FAULT_AT=0 FAULT_CALLS=fdatasync \
            FAULT_COUNT_FILE="$T/count" "$@" >/dev/null 2>&1
        rm -rf "$T/copy"
        cat "$T/count" 2>/dev/null || echo 0
    }
    # one append that writes its frame only, and (after enough) one that
    # also applies the tail to LMDB: each of their flushes
    # fill: appends until the next one also applies the tail (more
    # flushes than its frame's); sets k to that one's count
    nf=0
    fill() {
        j=0
        while [ "$j" -lt 80 ]; do
            k=$(syncs "$LEDGER" --dir "$T/copy" append x.probe --body '{}')
            [ "$k" -gt 1 ] && return
            nf=$((nf + 1))
            id="fill-$nf"
            seq=$("$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body '{}') && echo "$id $seq" >>"$T/acked"
            j=$((j + 1))
        done
        bad setup "no append applied the tail after 80"
    }
    h=1
    while [ "$h" -le 2 ]; do
        [ "$h" -eq 2 ] && fill
        k=$(syncs "$LEDGER" --dir "$T/copy" append x.probe --body '{}')
        [ "$k" -ge 1 ] || bad setup "an append made no fdatasync"
        n_at=$k
        echo "intake_crash: append $h: killed in each of its $n_at fdatasync calls"
        at=1
        while [ "$at" -le "$n_at" ]; do
            [ "$h" -eq 2 ] && [ "$at" -gt 1 ] && fill
            id="hang-$h-$at"
            rm -f "$T/hang.log"
            env ASAN_OPTIONS="$SAN_OPTS" LD_PRELOAD="$PRE" FAULT_CALLS=fdatasync FAULT_AT="$at" \
                FAULT_MODE=hang FAULT_LOG="$T/hang.log" \
                "$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body '{}' >/dev/null 2>&1 &
            hp=$!
            echo "$hp" >"$T/hang.pid"
            w=0
            while [ ! -s "$T/hang.log" ] && [ "$w" -lt 200 ]; do
                msleep 50
                w=$((w + 1))
            done
            [ -s "$T/hang.log" ] ||
                bad setup "append $id never reached fdatasync #$at of $n_at"
            kill -9 "$hp" 2>/dev/null
            wait "$hp" 2>/dev/null
            rm -f "$T/hang.pid"
            # the next writer gets in, and the killed one is there at
            # most once (whole, if its frame reached the file)
            seq=$("$LEDGER" --dir "$D" append -q --id "$id" x.crash \
                --body '{}' 2>"$T/err") ||
                bad hang "after a kill in fdatasync #$at of $n_at: $(head -c 200 "$T/err")"
            [ -n "$seq" ] && echo "$id $seq" >>"$T/acked"
            check "killed in fdatasync #$at of $n_at (append $h)"
            at=$((at + 1))
        done
        h=$((h + 1))
    done
else
    bad setup "cannot build the fault shim: $(head -c 200 "$T/cc.err")"
fi

# ---------------------------------------------------- 3. killed ingest --
r=1
while [ "$r" -le 3 ]; do
    awk -v r="$r" 'BEGIN { for (i = 1; i <= 4000; i++)
        printf("{\"type\":\"x.ingest\",\"id\":\"g%d-%d\",\"body\":{\"n\":%d}}\n", r, i, i) }' \
        >"$T/in.jsonl"
    : >"$T/acks"
    "$LEDGER" --dir "$D" ingest --acks --batch 50 "$T/in.jsonl" \
        >"$T/acks" 2>/dev/null &
    p=$!
    echo "$p" >"$T/ingest.pid"
    rnd 30 300
    msleep "$R"
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    rm -f "$T/ingest.pid"
    markers "$D"
    sed -n 's/.*"committed_first":"\([0-9]*\)","committed_last":"\([0-9]*\)".*/\1 \2/p' \
        "$T/acks" >"$T/ranges"
    while read -r a b; do
        for s in "$a" "$b"; do
            got=$(awk -v s="$s" '$1 == s { print $2; exit }' "$T/markers")
            case $got in
            g"$r"-*) ;;
            *) bad lost-ack "ingest $r: range $a..$b: seq $s holds '$got'" ;;
            esac
        done
    done <"$T/ranges"
    check "ingest round $r"
    r=$((r + 1))
done

n=$(events "$D")
if [ "$nfail" -gt 0 ]; then
    echo "intake_crash: $nfail failed ($n events in the log)"
    exit 1
fi
echo "intake_crash: ok ($n events in the log)"
