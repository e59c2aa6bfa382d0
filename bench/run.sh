#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — the ledger's benchmarks, side by side with the
# SQLite peer (bench/peer_sqlite.c), in one run on one machine.
#
#   make bench                        # BUILD_DIR=build, full scale
#   BENCH_QUICK=1 bench/run.sh build  # 20,000 events, well under a minute
#   BENCH_N=100000 BENCH_QUERY_N=1000000 bench/run.sh build
#
# Environment:
#   BENCH_N          events for ingest / verify / append / proof / tiles
#                    (default 1,000,000; 20,000 with BENCH_QUICK=1)
#   BENCH_QUERY_N    events in the query stores (default 10,000,000; equal
#                    to BENCH_N with BENCH_QUICK=1). When equal to BENCH_N
#                    the ingest stores are queried instead of building more.
#   BENCH_REPS       process runs for the append and proof medians (50)
#   BENCH_QUERY_REPS runs per query, median taken (3)
#   BENCH_SEED, BENCH_PACKS, BENCH_BATCH   generator seed (1), packs (20),
#                    peer commit batch (1000)
#   BENCH_THREADS    threads for the pipelined peer (default: nproc)
#   BENCH_ONLY       space-separated scenarios to run, from: ingest store
#                    verify append proof tiles query rebuild doctor export
#                    fleet retention (store: data.mdb's bytes an event after ingest,
#                    database by database, against the batch peer's file,
#                    on the bench's events and on a box's traffic mix
#                    (gen_events --mix box); then a ledger of the same
#                    events made by the build before store layout 5 and
#                    its `ledger migrate`: issues 31, 49)
#                    (default: all; fleet is bench/fleet.sh, BENCH_FLEET_N
#                    events, default 1,000,000; retention is
#                    bench/retention.sh, BENCH_RETENTION_N, the same, and
#                    BENCH_RETENTION_BIG, default 5,000,000, for peak RSS)
#   BENCH_FRESH=1    rebuild the query stores even if a matching set from
#                    an earlier run is in bench/out/
#   BENCH_OUT        output directory (default bench/out)
#   BENCH_FORMAT     ledger format the stores are created in (default 2:
#                    sealed entries, issue 12; passed to `ledger init` as
#                    $LEDGER_FORMAT; since store layout 5 a build makes
#                    format 2 only and refuses another, but the older
#                    build of the migrate row still takes 1)
#   BENCH_OLD_LEDGER a `ledger` of a build before store layout 5 (the
#                    migrate row's store is made with it); by default the
#                    commit before layout 5 (the parent of the commit that
#                    added ledger/codec_stored.c) is built under
#                    bench/out/old-COMMIT/ once and kept
#   TARGET_*         override a target (see "Targets" below)
#
# Everything is written under bench/out/ (gitignored): data, stores, logs,
# results.tsv (machine-readable) and results.md (a table for RESULTS.md).
#
# Every figure is measured from outside, on whole processes, with the
# bench/rss wrapper (wall time from fork to exit, and the child's peak RSS),
# the same way for the ledger and for the peer. A ledger step that fails
# (the CLI is still growing) prints "n/a (reason)" and the run goes on.
#
# Two SQLite peers: `peer_sqlite` as it was (one Ed25519 signature per row,
# "row peer"), and `peer_sqlite --sign batch` (issue 12: a hash chain per
# row and one signature per 1,000-row transaction, "batch peer"). Each
# ingests with one thread (simple) and pipelined.
set -u

B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT/bin" "$OUT/logs"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    N=${BENCH_N:-20000}
    QN=${BENCH_QUERY_N:-$N}
    REPS=${BENCH_REPS:-20}
else
    N=${BENCH_N:-1000000}
    QN=${BENCH_QUERY_N:-10000000}
    REPS=${BENCH_REPS:-50}
fi
QREPS=${BENCH_QUERY_REPS:-3}
SEED=${BENCH_SEED:-1}
PACKS=${BENCH_PACKS:-20}
BATCH=${BENCH_BATCH:-1000}
NPROC=$(nproc 2>/dev/null || echo 1)
THREADS=${BENCH_THREADS:-$NPROC}
[ "$THREADS" -ge 2 ] || THREADS=2 # the pipelined peer needs two
ONLY=${BENCH_ONLY:-ingest store overhead verify append proof tiles query rebuild doctor export fleet retention}

# Targets: what the issue asks of the ledger. Kinds: "min:X" (the ledger's
# figure must be at least X), "max:X" (at most X), "ratio:X" (ledger/peer at
# least X for higher-is-better rows, at most X for lower-is-better rows).
# The defaults are the issues' targets; override with TARGET_<NAME>=kind:value.
# Issue 12 (format 2, seals) raised issue 2's ingest/verify/append targets
# (1.25x the row peer, 60,000/s, verify 32,000/s, append 5 ms) to these.
T_INGEST=${TARGET_INGEST:-ratio:2.5}        # issue 12: >= 2.5x the pipelined row peer
T_INGEST_ABS=${TARGET_INGEST_ABS:-min:100000} # issue 12: >= 100,000 events/s
T_INGEST_B=${TARGET_INGEST_BATCH:-ratio:1.25} # issue 12: >= 1.25x the batch peer
T_RSS=${TARGET_RSS:-max:64}                 # issue 2/12: peak RSS <= 64 MiB
T_VERIFY=${TARGET_VERIFY:-min:250000}       # issue 12: verify --full >= 250,000/s
T_VERIFY_R=${TARGET_VERIFY_RATIO:-ratio:3}  # issue 12: >= 3x either peer's verify
T_APPEND=${TARGET_APPEND:-max:3}            # issue 12: append p50 <= 3 ms
T_PROOF=${TARGET_PROOF:-max:5}              # issue 3: proof p50 <= 5 ms
T_TILES=${TARGET_TILES:-max:10}             # issue 3: tiles of 1M <= 10 s
T_TILES_INC=${TARGET_TILES_INC:-max:0.2}    # issue 3: +1000 events <= 0.2 s
T_QRUN=${TARGET_QUERY_RUN:-max:10}          # issue 5: run=R <= 10 ms
T_QRUN_R=${TARGET_QUERY_RUN_RATIO:-ratio:1} # issue 5/17: run=R faster than the peer
T_QTIME=${TARGET_QUERY_TIME:-ratio:1.5}     # issue 5: >= 1M/s and >= 1.5x peer
# (on the like-for-like row, the peer's keys: the whole line is 2.5x the
# peer's bytes through the same pipe, so its row shows the pipe's floor)
T_QTIME_WHOLE=${TARGET_QUERY_TIME_WHOLE:--}
T_QBODY=${TARGET_QUERY_BODY:-ratio:1.5}     # issue 5: >= 500k/s and >= 1.5x peer
T_BYTES=${TARGET_BYTES:-max:300}           # issue 31: data.mdb <= 300 bytes an event
T_BYTES_R=${TARGET_BYTES_RATIO:-ratio:0.5}  # issue 31: <= 0.5x the batch peer's file
T_BYTES_R49=${TARGET_BYTES_RATIO49:-ratio:0.8} # issue 49: <= 0.8x, bench and box mix
T_MIGRATE=${TARGET_MIGRATE:-min:200000}     # issue 31: migrate >= 200,000 events/s
T_MIGRATE_RSS=${TARGET_MIGRATE_RSS:-max:128} # issue 31: migrate peak RSS <= 128 MiB
T_REBUILD=${TARGET_REBUILD:-min:300000}     # issue 4: rebuild >= 300,000/s
T_DOCTOR=${TARGET_DOCTOR:-max:50}           # issue 4: doctor <= 50 ms
T_EXPORT=${TARGET_EXPORT:-max:1}            # issue 6: export of 10k events <= 1 s
T_VBUNDLE=${TARGET_VERIFY_BUNDLE:-max:1}    # issue 6: verify-bundle <= 1 s

LEDGER=$B/ledger
RESULTS=$OUT/results.tsv
: >"$RESULTS"

log() { printf '%s\n' "$*" >&2; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# ------------------------------------------------------------ the tools --

# Uses BUILD_DIR/bench/NAME when it is newer than its source, else compiles
# bench/NAME.c directly (the bench programs do not need libledger, so this
# works while the library does not build).
tool() {
    local name=$1 bin=$B/bench/$1
    if [ -x "$bin" ] && [ "$bin" -nt "bench/$name.c" ]; then
        printf '%s\n' "$bin"
        return 0
    fi
    bin=$OUT/bin/$name
    if [ ! -x "$bin" ] || [ "bench/$name.c" -nt "$bin" ]; then
        log "building $bin"
        # shellcheck disable=SC2046
        ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -o "$bin" "bench/$name.c" \
            $(pkg-config --cflags --libs libsodium nettle jansson sqlite3 lmdb) \
            -lpthread || return 1
    fi
    printf '%s\n' "$bin"
}

GEN=$(tool gen_events) || exit 1
PEER=$(tool peer_sqlite) || exit 1
RSS=$(tool rss) || exit 1
FLOOR=$(tool append_floor) || exit 1

# ------------------------------------------------------------- helpers --

# field NAME < "k=v k=v" line: the value of NAME in the last line having it.
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | tail -n 1; }

# timed LABEL CMD...: runs CMD under rss with stdout to $OUT/logs/LABEL.out
# and stderr to $OUT/logs/LABEL.err. Sets SECS, RSSKB, STATUS.
timed() {
    local label=$1
    shift
    local m=$OUT/logs/$label.rss
    rm -f "$m"
    "$RSS" -o "$m" -l "$label" -- "$@" >"$OUT/logs/$label.out" \
        2>"$OUT/logs/$label.err"
    STATUS=$?
    SECS=$(field secs <"$m")
    RSSKB=$(field maxrss_kb <"$m")
    return "$STATUS"
}

# timed_lines LABEL CMD...: as timed, but stdout goes through wc -l (for
# queries whose output may be large). Sets ROWS too.
timed_lines() {
    local label=$1
    shift
    local m=$OUT/logs/$label.rss
    rm -f "$m"
    ROWS=$("$RSS" -o "$m" -l "$label" -- "$@" 2>"$OUT/logs/$label.err" |
        wc -l)
    STATUS=$(field status <"$m")
    STATUS=${STATUS:-127}
    SECS=$(field secs <"$m")
    RSSKB=$(field maxrss_kb <"$m")
    return "$STATUS"
}

# Why LABEL failed, in a few words, for "n/a (...)".
reason() {
    local r
    r=$(grep -v '^[[:space:]]*$' "$OUT/logs/$1.err" 2>/dev/null | head -n 1 |
        tr -d '\r' | cut -c1-60)
    printf '%s\n' "${r:-exit status ${STATUS:-?}}"
}

median() {
    sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) exit 1
              if (NR % 2) print a[(NR + 1) / 2]
              else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

now_ns() { date +%s%N; }

# row SCENARIO UNIT LEDGER PEER BETTER TARGET NOTE
# BETTER is hi or lo; LEDGER/PEER are numbers or "n/a (...)"/"-".
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
        "${7:-}" >>"$RESULTS"
}

ledger_ok=1
ledger_why=""
if [ ! -x "$LEDGER" ]; then
    ledger_ok=0
    ledger_why="$LEDGER missing"
fi
na() { printf 'n/a (%s)\n' "$1"; }

# ---------------------------------------------------------------- data --

# gen_data FILE COUNT SEED: generates unless FILE is already there and
# newer than the generator. The generator's summary goes to FILE.meta.
gen_data() {
    if [ -s "$1" ] && [ -s "$1.meta" ] && [ "$1" -nt "$GEN" ]; then
        return 0
    fi
    log "generating $2 events into $1"
    "$GEN" "$2" --seed "$3" --packs "$PACKS" >"$1.tmp" 2>"$1.meta" &&
        mv "$1.tmp" "$1"
}

DATA=$OUT/events-$N-s$SEED-p$PACKS.jsonl
EXTRA=$OUT/extra-1000-s$((SEED + 1000)).jsonl
gen_data "$DATA" "$N" "$SEED" || exit 1
gen_data "$EXTRA" 1000 $((SEED + 1000)) || exit 1
if [ "$QN" = "$N" ]; then
    QDATA=$DATA
else
    QDATA=$OUT/events-$QN-s$SEED-p$PACKS.jsonl
    if want query || want rebuild || want doctor; then
        gen_data "$QDATA" "$QN" "$SEED" || exit 1
    fi
fi

# --------------------------------------------------------- the machine --

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
disk=$(df -h "$OUT" | awk 'NR == 2 { print $1 " (" $2 ", " $4 " free)" }')
echo "== ledger benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "   machine: $NPROC cores, $cpu, $mem, disk $disk"
echo "   events: ingest/verify N=$N, query N=$QN; append/proof runs=$REPS;" \
    "peer threads=$THREADS batch=$BATCH"
echo "   ledger: $LEDGER $([ "$ledger_ok" = 1 ] || echo "(missing)")," \
    "stores made with LEDGER_FORMAT=${BENCH_FORMAT:-2};" \
    "$("$LEDGER" --version 2>/dev/null | head -n 1)"
# Other work on the box skews every figure (both sides alike, but not
# evenly): say so next to the numbers.
load_note() {
    awk -v n="$NPROC" -v when="$1" '{
        printf "   load average %s: %s %s %s", when, $1, $2, $3
        if ($1 > n / 2) printf "  (busy: figures are noisy)"
        printf "\n" }' /proc/loadavg
}
load_note "at start"

ING_DIR=$OUT/ledger-ingest
PEER1_DB=$OUT/peer-ingest-1.db
PEER_DB=$OUT/peer-ingest.db
PEERB1_DB=$OUT/peer-batch-ingest-1.db
PEERB_DB=$OUT/peer-batch-ingest.db

# Creates a fresh ledger in DIR; sets ledger_why on failure.
FMT=${BENCH_FORMAT:-2}
ledger_fresh() {
    rm -rf "$1"
    if ! LEDGER_FORMAT=$FMT timed "$2-init" "$LEDGER" --dir "$1" init; then
        ledger_why="init: $(reason "$2-init")"
        return 1
    fi
}

# committed count from `ledger ingest` stderr: the first number on a line
# that says "committed"; else COUNT if it exited 0.
committed() {
    local c
    c=$(grep -i committed "$OUT/logs/$1.err" 2>/dev/null | head -n 1 |
        grep -o '[0-9][0-9]*' | head -n 1)
    printf '%s\n' "${c:-$2}"
}

# ------------------------------------------------------------- ingest --

l_ing_ok=0 # the ledger ingest store is usable for later scenarios
ING_T0=0 ING_T1=0 P_T0=0 P_T1=0
if want ingest || want store || want verify || want append || want proof || want tiles ||
    { [ "$QN" = "$N" ] && { want query || want rebuild || want doctor; }; }; then
    log "ingest: $N events"
    # the ledger
    l_eps=$(na "$ledger_why") l_rss=$l_eps
    if [ "$ledger_ok" = 1 ] && ledger_fresh "$ING_DIR" ledger-ingest; then
        ING_T0=$(now_ns)
        if timed ledger-ingest "$LEDGER" --dir "$ING_DIR" ingest "$DATA"; then
            ING_T1=$(now_ns)
            c=$(committed ledger-ingest "$N")
            l_eps=$(calc '%.0f' "$c / $SECS")
            l_rss=$(calc '%.1f' "$RSSKB / 1024")
            l_ing_ok=1
            [ "$c" = "$N" ] || log "ledger ingest committed $c of $N"
        else
            l_eps=$(na "$(reason ledger-ingest)") l_rss=$l_eps
        fi
    else
        l_eps=$(na "$ledger_why") l_rss=$l_eps
    fi
    # the row peer, simple then pipelined
    rm -f "$PEER1_DB"* "$PEER_DB"* "$PEERB1_DB"* "$PEERB_DB"*
    p1_eps=$(na failed) p_eps=$(na failed) p_rss=$(na failed) p1_rss=$p_rss
    if timed peer-ingest-1 "$PEER" ingest "$PEER1_DB" "$DATA" \
        --batch "$BATCH" --threads 1; then
        p1_eps=$(calc '%.0f' "$N / $SECS")
        p1_rss=$(calc '%.1f' "$RSSKB / 1024")
    fi
    P_T0=$(now_ns)
    if timed peer-ingest "$PEER" ingest "$PEER_DB" "$DATA" \
        --batch "$BATCH" --threads "$THREADS"; then
        P_T1=$(now_ns)
        p_eps=$(calc '%.0f' "$N / $SECS")
        p_rss=$(calc '%.1f' "$RSSKB / 1024")
    fi
    rm -f "$PEER1_DB"*
    # the batch peer (one signature per transaction), simple then pipelined
    pb1_eps=$(na failed) pb_eps=$(na failed) pb_rss=$(na failed) pb1_rss=$pb_rss
    if timed peer-batch-ingest-1 "$PEER" ingest "$PEERB1_DB" "$DATA" \
        --batch "$BATCH" --threads 1 --sign batch; then
        pb1_eps=$(calc '%.0f' "$N / $SECS")
        pb1_rss=$(calc '%.1f' "$RSSKB / 1024")
    fi
    if timed peer-batch-ingest "$PEER" ingest "$PEERB_DB" "$DATA" \
        --batch "$BATCH" --threads "$THREADS" --sign batch; then
        pb_eps=$(calc '%.0f' "$N / $SECS")
        pb_rss=$(calc '%.1f' "$RSSKB / 1024")
    fi
    rm -f "$PEERB1_DB"*
    # The batch peer's ratio target is on the faster of its two variants.
    pb_best=$pb_eps pb_which="pipelined, $THREADS threads"
    case "$pb1_eps" in
    n/a*) ;;
    *) case "$pb_eps" in
        n/a*) pb_best=$pb1_eps pb_which="simple, 1 thread" ;;
        *) if [ "$(calc '%d' "($pb1_eps > $pb_eps)")" = 1 ]; then
            pb_best=$pb1_eps pb_which="simple, 1 thread"
        fi ;;
        esac ;;
    esac
    if want ingest; then
        row "ingest $N" "events/s" "$l_eps" "$p_eps" hi "$T_INGEST" \
            "row peer pipelined, $THREADS threads"
        row "ingest $N" "events/s" "$l_eps" "$p1_eps" hi "$T_INGEST_ABS" \
            "row peer simple, 1 thread"
        row "ingest $N" "events/s" "$l_eps" "$pb_best" hi "$T_INGEST_B" \
            "batch peer, the faster: $pb_which (pipelined $pb_eps, simple $pb1_eps)"
        row "ingest peak RSS" "MiB" "$l_rss" "$p_rss" lo "$T_RSS" \
            "row peer pipelined (1 thread: $p1_rss; batch peer $pb_rss, 1 thread $pb1_rss)"
    fi
fi

# -------------------------------------------------------------- store --
# Bytes on disk an event (issues 31, 49): data.mdb after the ingest above,
# against the batch peer's SQLite file of the same events, and database by
# database ($OUT/store-databases.txt, and rows a component each); then the
# same on a box's traffic mix (gen_events --mix box: route.decision as
# `ledger proxy` records it), both sides fresh. Then the same events into
# a ledger made by the build before store layout 5 (layout 4) and `ledger
# migrate` of it to the newest layout (7, in one conversion), timed with its peak
# RSS.

# The `ledger` of the build before store layout 5: $BENCH_OLD_LEDGER, or
# that commit built under $OUT/old-COMMIT once.
old_ledger() {
    if [ -n "${BENCH_OLD_LEDGER:-}" ]; then
        echo "$BENCH_OLD_LEDGER"
        return 0
    fi
    local c d
    c=$(git log --format=%H --diff-filter=A -- ledger/codec_stored.c 2>/dev/null |
        tail -n 1)
    [ -n "$c" ] && c=$(git rev-parse --short "$c^" 2>/dev/null) || return 1
    d=$OUT/old-$c
    if [ ! -x "$d/build/ledger" ]; then
        rm -rf "$d" && mkdir -p "$d" &&
            git archive "$c" | tar -x -C "$d" &&
            make -C "$d" -j"$NPROC" build/ledger >"$OUT/logs/old-build.log" 2>&1 ||
            return 1
    fi
    echo "$d/build/ledger"
}

# store_rows DIR N LABEL: a row for each part of DIR's data.mdb, in bytes
# an event (stats --databases)
store_rows() {
    "$LEDGER" --dir "$1" stats --databases -o json >"$OUT/logs/store-$3.json" 2>/dev/null ||
        return 0
    local part
    for part in "entries:^entries5?$" "bodies:^bodies5?$" "dictionaries:^dicts$" \
        "tree:^(tiles|tree)$" "indexes:^(ix[.]|idx[.])|^[(]ix duplicates[)]$" \
        "seals, checkpoints, keys, meta:^(seals|checkpoints|keys|meta)$" \
        "projections:^proj[.]" "free pages:^[(]free[)]$" \
        "LMDB catalogue and meta:^[(](catalogue|meta)[)]$"; do
        row "store $3: ${part%%:*} ($2)" "B/event" \
            "$(jq -r --arg re "${part#*:}" --argjson n "$2" \
                '[.databases[] | select(.name | test($re)) | .bytes] | add // 0 | . / $n | . * 10 | round / 10' \
                "$OUT/logs/store-$3.json")" "-" lo "-" ""
    done
}

if want store; then
    log "store: bytes an event (bench and box mix), and migrate of $N events"
    l_b=$(na "${ledger_why:-ingest failed}") p_b=$(na "batch peer's file missing")
    if [ "$l_ing_ok" = 1 ] &&
        "$LEDGER" --dir "$ING_DIR" stats --databases >"$OUT/store-databases.txt" 2>&1; then
        l_b=$(calc '%.1f' "$(stat -c %s "$ING_DIR/data.mdb") / $N")
    fi
    [ -f "$PEERB_DB" ] && p_b=$(calc '%.1f' "$(stat -c %s "$PEERB_DB") / $N")
    row "store bytes an event ($N)" "B" "$l_b" "$p_b" lo "$T_BYTES_R49" \
        "issue 49; data.mdb after ingest; peer: the batch peer's file (breakdown: store-databases.txt)"
    row "store bytes an event ($N)" "B" "$l_b" "$p_b" lo "$T_BYTES_R" "issue 31"
    row "store bytes an event ($N)" "B" "$l_b" "-" lo "$T_BYTES" "issue 31, absolute target"
    [ "$l_ing_ok" = 1 ] && store_rows "$ING_DIR" "$N" bench

    # a box's traffic mix: both sides fresh, the same events
    BOX=$OUT/events-box-$N-s$SEED.jsonl BOX_DIR=$OUT/ledger-box BOX_DB=$OUT/peer-box.db
    [ -s "$BOX" ] || "$GEN" "$N" --seed "$SEED" --packs "$PACKS" --mix box \
        >"$BOX" 2>"$BOX.meta" || rm -f "$BOX"
    l_x=$(na "${ledger_why:-no box events}") p_x=$(na "peer ingest failed")
    if [ -s "$BOX" ] && [ "$ledger_ok" = 1 ] && ledger_fresh "$BOX_DIR" ledger-box &&
        timed ledger-box-ingest "$LEDGER" --dir "$BOX_DIR" ingest "$BOX"; then
        l_x=$(calc '%.1f' "$(stat -c %s "$BOX_DIR/data.mdb") / $N")
        "$LEDGER" --dir "$BOX_DIR" stats --databases >"$OUT/store-databases-box.txt" 2>&1
        store_rows "$BOX_DIR" "$N" "box mix"
    elif [ -s "$BOX" ]; then
        l_x=$(na "$(reason ledger-box-ingest)")
    fi
    rm -f "$BOX_DB"*
    [ -s "$BOX" ] && timed peer-box-ingest "$PEER" ingest "$BOX_DB" "$BOX" \
        --batch "$BATCH" --threads "$THREADS" --sign batch &&
        p_x=$(calc '%.1f' "$(stat -c %s "$BOX_DB") / $N")
    row "store bytes an event, box mix ($N)" "B" "$l_x" "$p_x" lo "$T_BYTES_R49" \
        "issue 49; gen_events --mix box (breakdown: store-databases-box.txt)"
    rm -rf "$BOX_DIR" "$BOX_DB"*

    # migrate: a ledger of the layout before, made by the build before
    MIG_DIR=$OUT/ledger-migrate
    l_m=$(na "$ledger_why") l_mr=$l_m
    rm -rf "$MIG_DIR"
    if [ "$ledger_ok" != 1 ]; then
        :
    elif ! OLD=$(old_ledger); then
        l_m=$(na "no build before layout 5 (BENCH_OLD_LEDGER; $OUT/logs/old-build.log)") l_mr=$l_m
    elif LEDGER_FORMAT=$FMT timed migrate-init "$OLD" --dir "$MIG_DIR" init &&
        timed migrate-ingest "$OLD" --dir "$MIG_DIR" ingest "$DATA"; then
        mig_from=$("$LEDGER" --dir "$MIG_DIR" stats -o json 2>/dev/null | jq -r .layout)
        if timed ledger-migrate "$LEDGER" --dir "$MIG_DIR" migrate; then
            mig_to=$("$LEDGER" --dir "$MIG_DIR" stats -o json 2>/dev/null | jq -r .layout)
            l_m=$(calc '%.0f' "$N / $SECS")
            l_mr=$(calc '%.1f' "$RSSKB / 1024")
        else
            l_m=$(na "$(reason ledger-migrate)") l_mr=$l_m
        fi
    else
        l_m=$(na "the older build's ledger: $(reason migrate-ingest)") l_mr=$l_m
    fi
    row "store migrate layout ${mig_from:-4} to ${mig_to:-8} ($N)" "events/s" "$l_m" "-" hi "$T_MIGRATE" \
        "in place; events $(sed -n 's/^events *//p' "$OUT/logs/ledger-migrate.out" 2>/dev/null | sed 's/ (.*//')"
    row "store migrate peak RSS" "MiB" "$l_mr" "-" lo "$T_MIGRATE_RSS" ""
    rm -rf "$MIG_DIR"
fi

# ------------------------------------------------------------- verify --

if want verify; then
    log "verify: $N events"
    l_v=$(na "${ledger_why:-ingest failed}")
    if [ "$l_ing_ok" = 1 ]; then
        if timed ledger-verify "$LEDGER" --dir "$ING_DIR" verify --full; then
            l_v=$(calc '%.0f' "$N / $SECS")
        else
            l_v=$(na "$(reason ledger-verify)")
        fi
    fi
    p_v1=$(na failed) p_vt=$(na failed) p_vb=$(na failed)
    timed peer-verify-1 "$PEER" verify "$PEER_DB" --threads 1 &&
        p_v1=$(calc '%.0f' "$N / $SECS")
    timed peer-verify "$PEER" verify "$PEER_DB" --threads "$THREADS" &&
        p_vt=$(calc '%.0f' "$N / $SECS")
    timed peer-batch-verify "$PEER" verify "$PEERB_DB" &&
        p_vb=$(calc '%.0f' "$N / $SECS")
    row "verify --full $N" "events/s" "$l_v" "$p_vt" hi "$T_VERIFY_R" \
        "row peer $THREADS threads"
    row "verify --full $N" "events/s" "$l_v" "$p_v1" hi "$T_VERIFY" \
        "row peer 1 thread"
    row "verify --full $N" "events/s" "$l_v" "$p_vb" hi "$T_VERIFY_R" \
        "batch peer: re-hash the chain, one signature per 1,000 rows"
fi

# ------------------------------------------------------ append, proof --

# A route.decision body for append run I.
append_body() {
    printf '{"route":"pdf-ops/extract","chosen_model":"qwen2.5-7b-instruct@q4_k_m","run":"R-bench-append","request_id":"q-append-%d","candidates":["qwen2.5-7b-instruct@q4_k_m","llama3.2-3b-instruct@q8_0"],"reason":"primary available","fallback":false,"latency_ms":812,"tokens_in":3120,"tokens_out":240,"outcome":"ok"}' "$1"
}

if want append; then
    log "append: $REPS process runs each, interleaved"
    : >"$OUT/logs/append-ledger.secs"
    : >"$OUT/logs/append-peer.secs"
    : >"$OUT/logs/append-peer-batch.secs"
    : >"$OUT/logs/append-floor.secs"
    : >"$OUT/logs/append-true.secs"
    rm -rf "$OUT/append-floor"
    l_fail=""
    for i in $(seq 1 "$REPS"); do
        body=$(append_body "$i")
        # the floor: a process that only exits, and one that makes one
        # durable LMDB commit (bench/append_floor.c), by the same wrapper
        timed append-true /bin/true && echo "$SECS" >>"$OUT/logs/append-true.secs"
        timed append-floor "$FLOOR" "$OUT/append-floor" &&
            echo "$SECS" >>"$OUT/logs/append-floor.secs"
        if [ "$l_ing_ok" = 1 ] && [ -z "$l_fail" ]; then
            if timed ledger-append "$LEDGER" --dir "$ING_DIR" append route.decision \
                --body "$body"; then
                echo "$SECS" >>"$OUT/logs/append-ledger.secs"
            else
                l_fail=$(reason ledger-append)
            fi
        fi
        timed peer-append "$PEER" append "$PEER_DB" route.decision "$body" &&
            echo "$SECS" >>"$OUT/logs/append-peer.secs"
        if [ -f "$PEERB_DB" ]; then
            timed peer-batch-append "$PEER" append "$PEERB_DB" route.decision \
                "$body" && echo "$SECS" >>"$OUT/logs/append-peer-batch.secs"
        fi
    done
    if [ -n "$l_fail" ]; then
        l_a=$(na "$l_fail")
    elif [ "$l_ing_ok" = 1 ]; then
        l_a=$(median <"$OUT/logs/append-ledger.secs" |
            awk '{ printf "%.2f", $1 * 1000 }')
    else
        l_a=$(na "${ledger_why:-ingest failed}")
    fi
    p_a=$(median <"$OUT/logs/append-peer.secs" |
        awk '{ printf "%.2f", $1 * 1000 }')
    pb_a=$(median <"$OUT/logs/append-peer-batch.secs" |
        awk '{ printf "%.2f", $1 * 1000 }')
    row "append, one process" "ms p50" "$l_a" "${p_a:-n/a (failed)}" lo \
        "$T_APPEND" "$REPS runs, start to exit; row peer"
    row "append, one process" "ms p50" "$l_a" "${pb_a:-n/a (no batch peer store)}" lo \
        "-" "batch peer (one signature for its one-row transaction)"
    f_a=$(median <"$OUT/logs/append-floor.secs" |
        awk '{ printf "%.2f", $1 * 1000 }')
    t_a=$(median <"$OUT/logs/append-true.secs" |
        awk '{ printf "%.2f", $1 * 1000 }')
    row "append floor: exec + one durable LMDB commit" "ms p50" \
        "${f_a:-n/a (failed)}" "${t_a:-n/a (failed)}" lo "-" \
        "ledger column: bench/append_floor.c; peer column: /bin/true"
fi

if want proof; then
    log "proof: $REPS process runs each at random seqs"
    : >"$OUT/logs/proof-ledger.secs"
    : >"$OUT/logs/proof-peer.secs"
    l_fail=""
    for s in $(awk -v n="$N" -v k="$REPS" -v seed="$SEED" \
        'BEGIN { srand(seed); for (i = 0; i < k; i++) print int(rand() * n) }'); do
        if [ "$l_ing_ok" = 1 ] && [ -z "$l_fail" ]; then
            if timed ledger-proof "$LEDGER" --dir "$ING_DIR" proof "$s"; then
                echo "$SECS" >>"$OUT/logs/proof-ledger.secs"
            else
                l_fail=$(reason ledger-proof)
            fi
        fi
        timed peer-get "$PEER" get "$PEER_DB" "$s" &&
            echo "$SECS" >>"$OUT/logs/proof-peer.secs"
    done
    if [ -n "$l_fail" ]; then
        l_p=$(na "$l_fail")
    elif [ "$l_ing_ok" = 1 ]; then
        l_p=$(median <"$OUT/logs/proof-ledger.secs" |
            awk '{ printf "%.2f", $1 * 1000 }')
    else
        l_p=$(na "${ledger_why:-ingest failed}")
    fi
    p_p=$(median <"$OUT/logs/proof-peer.secs" |
        awk '{ printf "%.2f", $1 * 1000 }')
    row "proof SEQ, one process" "ms p50" "$l_p" "${p_p:-n/a (failed)}" lo \
        "$T_PROOF" "peer: fetch row + check sig (no Merkle proof)"
fi

# -------------------------------------------------------------- tiles --

if want tiles; then
    log "tiles: from scratch, then after 1000 more events"
    TILES=$OUT/tiles
    rm -rf "$TILES"
    t_s=$(na "${ledger_why:-ingest failed}") t_i=$t_s
    if [ "$l_ing_ok" = 1 ]; then
        if timed ledger-tiles "$LEDGER" --dir "$ING_DIR" tiles "$TILES"; then
            t_s=$(calc '%.3f' "$SECS")
            if ! timed ledger-ingest-extra "$LEDGER" --dir "$ING_DIR" ingest "$EXTRA"; then
                t_i=$(na "ingest: $(reason ledger-ingest-extra)")
            elif timed ledger-tiles-inc "$LEDGER" --dir "$ING_DIR" tiles "$TILES"; then
                t_i=$(calc '%.3f' "$SECS")
            else
                t_i=$(na "$(reason ledger-tiles-inc)")
            fi
        else
            t_s=$(na "$(reason ledger-tiles)") t_i=$t_s
        fi
    fi
    row "tiles from scratch" "s" "$t_s" "-" lo "$T_TILES" "peer has no tiles"
    row "tiles after +1000" "s" "$t_i" "-" lo "$T_TILES_INC" \
        "incremental publish"
fi

# ------------------------------------------------------ query stores --

Q_LDIR=$ING_DIR Q_PDB=$PEER_DB q_l_ok=$l_ing_ok
QT0=$ING_T0 QT1=$ING_T1 QP0=$P_T0 QP1=$P_T1
QSAMPLE=$(field sample_run <"$DATA.meta")
if [ "$QN" != "$N" ] && { want query || want rebuild || want doctor; }; then
    Q_LDIR=$OUT/ledger-query-$QN
    Q_PDB=$OUT/peer-query-$QN.db
    QSAMPLE=$(field sample_run <"$QDATA.meta")
    STAMP=$OUT/query-$QN.stamp
    stamp_want="n=$QN seed=$SEED packs=$PACKS"
    # The stores are reused while what they hold is the same: the same
    # events (the stamp's first line), the ledger's on-disk format version
    # (`ledger --version`) and the peer's schema (its CREATE statements),
    # not the binaries: a rebuilt ledger or peer reads the same store.
    # (`ledger --version` says "formats: ledger format 1 and 2 (...)" and
    # "store layouts 1 to N (appends to N)": a store of another layout is
    # made again; the store is made in format $FMT.) Empty when the ledger
    # does not run.
    l_fmt=$("$LEDGER" --version 2>/dev/null |
        sed -n 's/^formats: *ledger format \([0-9][0-9, and]*[0-9]\).*/\1/p')
    [ -z "$l_fmt" ] || l_fmt="$FMT of $l_fmt, layout $("$LEDGER" --version |
        sed -n 's/.*(appends to \([0-9]*\)).*/\1/p')"
    p_schema=$(sed -n '/CREATE TABLE IF NOT EXISTS meta/,/events_ts/p' \
        bench/peer_sqlite.c | cksum | cut -d' ' -f1)
    reuse=0
    ql_fmt="" qp_schema=""
    if [ "${BENCH_FRESH:-0}" != 1 ] && [ -f "$STAMP" ] &&
        [ "$(head -n 1 "$STAMP")" = "$stamp_want" ] && [ -f "$Q_PDB" ]; then
        # shellcheck disable=SC1090
        . "$STAMP.vars"
        # a stamp from before qp_schema was recorded: the peer store is
        # taken as it is
        if [ -z "$qp_schema" ] || [ "$qp_schema" = "$p_schema" ]; then
            reuse=1
            if [ "$ledger_ok" = 1 ] && { [ "$q_l_ok" != 1 ] ||
                [ -z "$l_fmt" ] || [ "$ql_fmt" != "$l_fmt" ] ||
                [ ! -f "$Q_LDIR/data.mdb" ]; }; then
                q_l_ok=0 # no ledger store, or another format: rebuild it only
                reuse=2
            fi
        fi
    fi
    if [ "$reuse" != 1 ]; then
        log "query stores: ingesting $QN events (not a scenario; timed for the record)"
        q_l_ok=0 ql_eps=$(na "$ledger_why")
        if [ "$ledger_ok" = 1 ] && ledger_fresh "$Q_LDIR" ledger-query; then
            QT0=$(now_ns)
            if timed ledger-query-ingest "$LEDGER" --dir "$Q_LDIR" ingest "$QDATA"; then
                QT1=$(now_ns)
                q_l_ok=1
                ql_fmt=$l_fmt
                ql_eps=$(calc '%.0f' "$QN / $SECS")
            else
                ql_eps=$(na "$(reason ledger-query-ingest)")
            fi
        fi
        if [ "$reuse" = 0 ]; then
            rm -f "$Q_PDB"*
            QP0=$(now_ns)
            timed peer-query-ingest "$PEER" ingest "$Q_PDB" "$QDATA" \
                --batch "$BATCH" --threads "$THREADS" || exit 1
            QP1=$(now_ns)
            qp_eps=$(calc '%.0f' "$QN / $SECS")
        fi
        echo "$stamp_want" >"$STAMP"
        printf 'q_l_ok=%s QT0=%s QT1=%s QP0=%s QP1=%s ql_eps="%s" qp_eps="%s" ql_fmt="%s" qp_schema="%s"\n' \
            "$q_l_ok" "$QT0" "$QT1" "$QP0" "$QP1" "$ql_eps" "$qp_eps" \
            "$ql_fmt" "$p_schema" >"$STAMP.vars"
    else
        log "query stores: reusing $Q_LDIR and $Q_PDB (BENCH_FRESH=1 rebuilds)"
    fi
    row "ingest $QN (query store)" "events/s" "$ql_eps" "$qp_eps" hi "-" \
        "peer pipelined"
fi

# -------------------------------------------------------------- query --

if want query; then
    log "query: run=$QSAMPLE, a time window, body.status=failed, body.tool=fs.write over $QN events"
    # query NAME LEDGER-ARGS... -- PEER-ARGS...: medians of QREPS runs.
    # Sets LQ/PQ (secs or n/a) and LROWS/PROWS.
    query() {
        local name=$1 i
        shift
        local largs=() pargs=()
        while [ "$1" != "--" ]; do largs+=("$1"); shift; done
        shift
        pargs=("$@")
        : >"$OUT/logs/q-$name-ledger.secs"
        : >"$OUT/logs/q-$name-peer.secs"
        LQ="" LROWS=0 PROWS=0
        for i in $(seq 1 "$QREPS"); do
            if [ "$q_l_ok" = 1 ] && [ -z "$LQ" ]; then
                if timed_lines "q-$name-ledger" "$LEDGER" --dir "$Q_LDIR" query \
                    "${largs[@]}" -o json; then
                    echo "$SECS" >>"$OUT/logs/q-$name-ledger.secs"
                    LROWS=$ROWS
                else
                    LQ=$(na "$(reason "q-$name-ledger")")
                fi
            fi
            timed_lines "q-$name-peer" "$PEER" "${pargs[@]}" &&
                echo "$SECS" >>"$OUT/logs/q-$name-peer.secs" && PROWS=$ROWS
        done
        if [ "$q_l_ok" != 1 ]; then
            LQ=$(na "${ledger_why:-query store failed}")
        elif [ -z "$LQ" ]; then
            LQ=$(median <"$OUT/logs/q-$name-ledger.secs")
        fi
        PQ=$(median <"$OUT/logs/q-$name-peer.secs")
        PQ=${PQ:-$(na "$(reason "q-$name-peer")")}
    }
    isnum() { case $1 in '' | *[!0-9.e+-]*) return 1 ;; esac; }

    query run run="$QSAMPLE" -- query-run "$Q_PDB" "$QSAMPLE"
    lv=$LQ pv=$PQ
    isnum "$lv" && lv=$(calc '%.2f' "$lv * 1000")
    isnum "$pv" && pv=$(calc '%.2f' "$pv * 1000")
    row "query run=R ($QN)" "ms p50" "$lv" "$pv" lo "$T_QRUN" \
        "rows: ledger $LROWS, peer $PROWS"
    row "query run=R ($QN)" "ms p50" "$lv" "$pv" lo "$T_QRUN_R" \
        "faster than the peer (issue 17)"

    # About the middle tenth of each store's ingest, by wall clock. The
    # ledger takes whole seconds (-S/-U @SECS), so its window is rounded
    # out; the peer gets the same fractions of its own ingest, in ns, so
    # both return about the same events.
    lfrom=$(calc '%d' "int(($QT0 + 0.45 * ($QT1 - $QT0)) / 1e9)")
    lto=$(calc '%d' "int(($QT0 + 0.55 * ($QT1 - $QT0)) / 1e9 + 0.999)")
    [ "$lto" -gt "$lfrom" ] || lto=$((lfrom + 1))
    f0=0.45 f1=0.55
    if [ "$QT1" -gt "$QT0" ]; then
        f0=$(calc '%.6f' "($lfrom * 1e9 - $QT0) / ($QT1 - $QT0)")
        f1=$(calc '%.6f' "($lto * 1e9 - $QT0) / ($QT1 - $QT0)")
    fi
    pfrom=$(calc '%.0f' "$QP0 + ($f0 < 0 ? 0 : $f0) * ($QP1 - $QP0)")
    pto=$(calc '%.0f' "$QP0 + ($f1 > 1 ? 1 : $f1) * ($QP1 - $QP0)")
    query time -S "@$lfrom" -U "@$lto" -- scan-time "$Q_PDB" "$pfrom" "$pto"
    lv=$LQ pv=$PQ
    isnum "$lv" && lv=$(calc '%.0f' "$LROWS / $lv")
    isnum "$pv" && pv=$(calc '%.0f' "$PROWS / $pv")
    # The whole line is 2.5 times the peer's bytes (the hashes, both
    # clocks, the seal, model_at): the row says how many, from one more
    # run of each side. The issue 5/17 ratio is on the like-for-like row
    # below.
    lbytes="?" pbytes="?"
    [ "$q_l_ok" = 1 ] &&
        lbytes=$("$LEDGER" --dir "$Q_LDIR" query -S "@$lfrom" -U "@$lto" -o json \
            2>/dev/null | wc -c)
    pbytes=$("$PEER" scan-time "$Q_PDB" "$pfrom" "$pto" 2>/dev/null | wc -c)
    row "query time window ($QN)" "events/s" "$lv" "$pv" hi "$T_QTIME_WHOLE" \
        "rows: ledger $LROWS, peer $PROWS; whole lines, $lbytes bytes against the peer's $pbytes"
    # The same window with the keys the peer prints (seq, ts, type,
    # subject, run, actor, body): the whole -o json line is 2.5 times the
    # peer's (hashes, both clocks, the seal, model_at), and both go through
    # a pipe to wc -l, so this is the like-for-like figure.
    query timef -S "@$lfrom" -U "@$lto" \
        --output-fields seq,ts,type,subject,run,actor,body \
        -- scan-time "$Q_PDB" "$pfrom" "$pto"
    lv=$LQ pv=$PQ
    isnum "$lv" && lv=$(calc '%.0f' "$LROWS / $lv")
    isnum "$pv" && pv=$(calc '%.0f' "$PROWS / $pv")
    row "query time window, the peer's keys ($QN)" "events/s" "$lv" "$pv" hi \
        "$T_QTIME" "rows: ledger $LROWS, peer $PROWS; --output-fields"

    # status is one of the fields the body index (ix.body) keeps: the
    # ledger reads the events it names, the peer scans; tool is not: both
    # scan every body (issue 5's body scan, issue 49's limit on it)
    query body body.status=failed -- scan-body "$Q_PDB" status failed
    lv=$LQ pv=$PQ
    isnum "$lv" && lv=$(calc '%.0f' "$QN / $lv")
    isnum "$pv" && pv=$(calc '%.0f' "$QN / $pv")
    row "query body.status=failed ($QN)" "scanned/s" "$lv" "$pv" hi "$T_QBODY" \
        "rows: ledger $LROWS, peer $PROWS; the ledger through ix.body"
    query bodyscan body.tool=fs.write -- scan-body "$Q_PDB" tool fs.write
    lv=$LQ pv=$PQ
    isnum "$lv" && lv=$(calc '%.0f' "$QN / $lv")
    isnum "$pv" && pv=$(calc '%.0f' "$QN / $pv")
    row "query body.tool=fs.write, a scan ($QN)" "scanned/s" "$lv" "$pv" hi "$T_QBODY" \
        "rows: ledger $LROWS, peer $PROWS; every body on both sides"
fi

# ----------------------------------------------------- rebuild, doctor --

if want rebuild; then
    log "rebuild: $QN events"
    v=$(na "${ledger_why:-query store failed}")
    if [ "$q_l_ok" = 1 ]; then
        # All projections by name (issue 4's "rebuild of all projections");
        # `ledger rebuild` alone also rebuilds the five indexes.
        if timed ledger-rebuild "$LEDGER" --dir "$Q_LDIR" rebuild packs \
            permissions models routes promotions runs; then
            v=$(calc '%.0f' "$QN / $SECS")
        else
            v=$(na "$(reason ledger-rebuild)")
        fi
    fi
    row "rebuild projections ($QN)" "events/s" "$v" "-" hi "$T_REBUILD" \
        "peer has no projections"
fi
if want doctor; then
    log "doctor"
    v=$(na "${ledger_why:-query store failed}")
    if [ "$q_l_ok" = 1 ]; then
        # A verdict other than healthy may exit non-zero; that still counts
        # when a verdict was printed.
        if timed ledger-doctor "$LEDGER" --dir "$Q_LDIR" doctor ||
            { [ "$STATUS" -le 3 ] && [ -s "$OUT/logs/ledger-doctor.out" ]; }; then
            v=$(calc '%.2f' "$SECS * 1000")
        else
            v=$(na "$(reason ledger-doctor)")
        fi
    fi
    row "doctor ($QN)" "ms" "$v" "-" lo "$T_DOCTOR" ""
fi

# ------------------------------------------------------------- export --

# Issue 6: `ledger export --run R` of a 10,000-event run from a ledger of
# N events, and `ledger verify-bundle` of that bundle, whole processes
# (median of BENCH_EXPORT_REPS runs, 3). The store is the N generated
# events plus one run R-bench-export of BENCH_EXPORT_RUN events
# (run.started, route.decision and run.step, run.finished), kept in
# $OUT/ledger-export-N and reused while the data is unchanged
# (BENCH_FRESH=1 rebuilds it). No peer does anything comparable.
export_run() { # export_run RUN COUNT: the run's events as JSON Lines
    awk -v run="$1" -v n="$2" 'BEGIN {
    printf "{\"type\":\"run.started\",\"body\":{\"run\":\"%s\",\"pack\":\"pdf-ops\",\"intent\":\"export benchmark run\",\"requested_by\":\"operator\",\"plan_hash\":\"sha256:%064d\"}}\n", run, 0
    for (i = 1; i <= n - 2; i++) {
        if (i % 5 == 0)
            printf "{\"type\":\"run.step\",\"body\":{\"run\":\"%s\",\"step\":\"chunk-%d\",\"tool\":\"ripgrep\",\"tier\":\"T0\",\"status\":\"ok\",\"duration_ms\":%d,\"artifacts\":[{\"name\":\"chunk-%d.out\",\"sha256\":\"%064d\"}]}}\n", run, i, 100 + i % 3000, i, i
        else
            printf "{\"type\":\"route.decision\",\"body\":{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen2.5-7b-instruct@q4_k_m\",\"run\":\"%s\",\"request_id\":\"q-export-%08d\",\"candidates\":[\"qwen2.5-7b-instruct@q4_k_m\",\"llama3.2-3b-instruct@q8_0\"],\"reason\":\"primary available\",\"fallback\":false,\"latency_ms\":%d,\"tokens_in\":%d,\"tokens_out\":%d,\"outcome\":\"ok\"}}\n", run, i, 200 + i % 2000, 1000 + i % 4000, 100 + i % 900
    }
    printf "{\"type\":\"run.finished\",\"body\":{\"run\":\"%s\",\"status\":\"ok\",\"duration_ms\":%d}}\n", run, 3600000
    }'
}

if want export; then
    ERUN=${BENCH_EXPORT_RUN:-10000}
    EREPS=${BENCH_EXPORT_REPS:-3}
    EDIR=$OUT/ledger-export-$N
    ESTAMP=$OUT/export-$N.stamp
    estamp_want="n=$N seed=$SEED packs=$PACKS run=$ERUN"
    e_x=$(na "${ledger_why:-ledger missing}") e_v=$e_x e_ok=0
    if [ "$ledger_ok" = 1 ]; then
        if [ "${BENCH_FRESH:-0}" != 1 ] && [ -f "$ESTAMP" ] &&
            [ "$(cat "$ESTAMP")" = "$estamp_want" ] && [ -d "$EDIR" ]; then
            log "export: reusing $EDIR (BENCH_FRESH=1 rebuilds it)"
            e_ok=1
        else
            log "export: building $EDIR ($N events and a run of $ERUN; not timed)"
            rm -f "$ESTAMP"
            export_run R-bench-export "$ERUN" >"$OUT/export-run-$ERUN.jsonl"
            if ledger_fresh "$EDIR" ledger-export &&
                timed ledger-export-ingest "$LEDGER" --dir "$EDIR" ingest "$DATA" &&
                timed ledger-export-ingest-run "$LEDGER" --dir "$EDIR" ingest \
                    "$OUT/export-run-$ERUN.jsonl"; then
                echo "$estamp_want" >"$ESTAMP"
                e_ok=1
            else
                e_x=$(na "store: $(reason ledger-export-ingest)") e_v=$e_x
            fi
        fi
    fi
    if [ "$e_ok" = 1 ]; then
        log "export: --run R-bench-export ($ERUN events of $N), then verify-bundle; $EREPS runs each"
        EVKEY=$("$LEDGER" --dir "$EDIR" keys verifier 2>/dev/null)
        : >"$OUT/logs/export-ledger.secs"
        : >"$OUT/logs/vbundle-ledger.secs"
        e_fail="" v_fail=""
        for i in $(seq 1 "$EREPS"); do
            rm -f "$OUT/export.bundle"
            if timed ledger-export "$LEDGER" --dir "$EDIR" export \
                --run R-bench-export --out "$OUT/export.bundle"; then
                echo "$SECS" >>"$OUT/logs/export-ledger.secs"
            else
                e_fail=$(reason ledger-export)
                break
            fi
            if timed ledger-verify-bundle "$LEDGER" verify-bundle \
                "$OUT/export.bundle" --trusted-key "$EVKEY"; then
                echo "$SECS" >>"$OUT/logs/vbundle-ledger.secs"
            else
                v_fail=$(reason ledger-verify-bundle)
            fi
        done
        if [ -n "$e_fail" ]; then
            e_x=$(na "$e_fail") e_v=$(na "no bundle")
        else
            e_x=$(median <"$OUT/logs/export-ledger.secs" | awk '{ printf "%.3f", $1 }')
            if [ -n "$v_fail" ]; then
                e_v=$(na "$v_fail")
            else
                e_v=$(median <"$OUT/logs/vbundle-ledger.secs" | awk '{ printf "%.3f", $1 }')
            fi
        fi
        ebytes=$(wc -c <"$OUT/export.bundle" 2>/dev/null || echo 0)
    fi
    row "export --run R ($ERUN of $N)" "s" "$e_x" "-" lo "$T_EXPORT" \
        "no peer; process start to exit, median of ${EREPS:-3}, bundle ${ebytes:-?} bytes"
    row "verify-bundle ($ERUN events)" "s" "$e_v" "-" lo "$T_VBUNDLE" \
        "no peer; --trusted-key, median of ${EREPS:-3}"
fi

# ------------------------------------------------- overhead of tree/proj --

# In-process, side by side on the same input: ingest with and without the
# Merkle tree + per-commit checkpoint (issue 3: <= 15%; "without" keeps
# the leaf hashes of level 0, which layout 5 reads each entry's prev from:
# bench/tree_overhead.c), and with and without the projections attached
# (issue 4: <= 20%).
OVH_N=${BENCH_OVERHEAD_N:-$(( N < 200000 ? N : 200000 ))}
if want overhead; then
    OVH_FILE=$OUT/events-ovh-$OVH_N.jsonl
    [ -s "$OVH_FILE" ] || "$B/bench/gen_events" "$OVH_N" --seed "$SEED" >"$OVH_FILE" 2>/dev/null
    log "overhead: tree and projections on $OVH_N events"
    if [ -x "$B/bench/tree_overhead" ] &&
        "$B/bench/tree_overhead" "$OVH_FILE" --rounds 2 >"$OUT/logs/tree_overhead.out" 2>&1; then
        v=$(sed -n 's/.* overhead_pct=\([-0-9.]*\).*/\1/p' "$OUT/logs/tree_overhead.out")
        vc=$(sed -n 's/.*cpu_overhead_pct=\([-0-9.]*\).*/\1/p' "$OUT/logs/tree_overhead.out")
        case "$v" in -*) v=0.0 ;; esac
    else
        v=$(na "tree_overhead failed")
        vc="?"
    fi
    row "tree+checkpoint cost ($OVH_N)" "% of ingest" "$v" "-" lo "max:15" \
        "same process, wall, best of 2, with vs without the tree above its leaf hashes (layout 5 reads prev from them) and the per-commit checkpoint; CPU time: ${vc}%"
    if [ -x "$B/bench/projections_overhead" ] &&
        "$B/bench/projections_overhead" "$OVH_FILE" --rounds 2 >"$OUT/logs/proj_overhead.out" 2>&1; then
        v=$(sed -n 's/^overhead  *\([-0-9.]*\)% wall.*/\1/p' "$OUT/logs/proj_overhead.out" | head -1)
        case "$v" in -*) v=0.0 ;; "") v=$(na "no overhead figure") ;; esac
    else
        v=$(na "projections_overhead failed")
    fi
    row "projections cost ($OVH_N)" "% of ingest" "$v" "-" lo "max:20" \
        "same process, with vs without projections"
fi

# -------------------------------------------------------------- table --

# Ratio is ledger/peer. Target check: min/max on the ledger's figure,
# ratio on ledger/peer in the row's better direction.
awk -F '\t' -v md="$OUT/results.md" '
function isnum(x) { return x ~ /^[0-9.]+$/ }
function judge(t, l, r, better,    k, v) {
    if (t == "-" || t == "") return "-"
    k = t; sub(/:.*/, "", k); v = t; sub(/^[^:]*:/, "", v)
    if (k == "min") { if (!isnum(l)) return "?"; return (l + 0 >= v + 0) ? "meets" : "MISSES" }
    if (k == "max") { if (!isnum(l)) return "?"; return (l + 0 <= v + 0) ? "meets" : "MISSES" }
    if (k == "ratio") {
        if (r == "") return "?"
        if (better == "hi") return (r + 0 >= v + 0) ? "meets" : "MISSES"
        return (r + 0 <= v + 0) ? "meets" : "MISSES"
    }
    return "?"
}
function ttext(t, better) {
    if (t == "-" || t == "") return "-"
    k = t; sub(/:.*/, "", k); v = t; sub(/^[^:]*:/, "", v)
    if (k == "min") return ">= " v
    if (k == "max") return "<= " v
    return (better == "hi" ? ">= " : "<= ") v "x peer"
}
{
    r = ""
    if (isnum($3) && isnum($4) && $4 + 0 > 0) r = sprintf("%.2f", $3 / $4)
    n++; S[n] = $1; U[n] = $2; Lv[n] = $3; P[n] = $4; R[n] = (r == "" ? "-" : r)
    B[n] = ($5 == "hi" ? "higher" : "lower"); T[n] = ttext($6, $5)
    J[n] = judge($6, $3, r, $5); N[n] = $7
}
END {
    H[1] = "scenario"; H[2] = "unit"; H[3] = "ledger"; H[4] = "peer"
    H[5] = "l/p"; H[6] = "better"; H[7] = "target"
    for (c = 1; c <= 7; c++) W[c] = length(H[c])
    for (i = 1; i <= n; i++) {
        C[i, 1] = S[i]; C[i, 2] = U[i]; C[i, 3] = Lv[i]; C[i, 4] = P[i]
        C[i, 5] = R[i]; C[i, 6] = B[i]; C[i, 7] = T[i]
        for (c = 1; c <= 7; c++)
            if (length(C[i, c]) > W[c]) W[c] = length(C[i, c])
    }
    for (c = 1; c <= 7; c++) printf "%-*s  ", W[c], H[c]
    print "verdict / note"
    for (i = 1; i <= n; i++) {
        for (c = 1; c <= 7; c++) printf "%-*s  ", W[c], C[i, c]
        print J[i] (N[i] == "" ? "" : "  " N[i])
    }
    print "| scenario | unit | ledger | peer | ledger/peer | better | target | verdict | note |" > md
    print "|---|---|---|---|---|---|---|---|---|" > md
    for (i = 1; i <= n; i++)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", S[i], U[i], Lv[i], P[i], R[i], B[i], T[i], J[i], N[i] > md
}' "$RESULTS"
if want fleet; then
    BENCH_OUT=$OUT bench/fleet.sh "$B" || echo "fleet: n/a (bench/fleet.sh failed)"
fi
if want retention; then
    BENCH_OUT=$OUT sh bench/retention.sh "$B" ||
        echo "retention: n/a (bench/retention.sh failed)"
fi
load_note "at end"
echo "(results: $RESULTS, $OUT/results.md; logs: $OUT/logs/)"
