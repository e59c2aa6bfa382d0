#!/bin/bash
# bench/wear.sh BUILD_DIR — what recording costs the flash (issue 64): bytes
# written an event by `ledger` and by its SQLite WAL peer (bench/
# peer_serve.c, synchronous=FULL; bench/peer_sqlite.c --sign batch for bulk
# ingest), side by side in one run, each counted twice:
#
#   device   sectors written (field 7 of /sys/block/loopN/stat, x 512) of a
#            file system that holds nothing but that side's files: each side
#            gets its own ext4 on its own loop device (a sparse file under
#            WEAR_IMG_DIR, losetup, mkfs.ext4 with its inode tables and
#            journal zeroed at mkfs, not lazily after mount), made afresh for
#            every scenario. This is what a box's flash is asked to write:
#            the files' data, ext4's journal and metadata. Flushes (field 16)
#            are counted too. Counted from just before the first event to
#            after the file system is unmounted, once the writer has stopped
#            cleanly: unmounting writes back every dirty page and checkpoints
#            the journal, so no deferred write escapes the count (the
#            unmount's own superblock write, a few KiB, is in it too);
#   process  the kernel's count for the writing processes (write_bytes of
#            /proc/PID/io: page-cache pages dirtied, each counted when first
#            dirtied, and direct writes), read from bench/rss, which runs
#            each server and reads its own /proc/self/io after the reap
#            (Linux adds a reaped child's count to its parent's, so the
#            metrics scrapes `serve` runs as children are in it), less the
#            server's count just before the first event. The kernel counts
#            a dirtied page's whole folio: with large folios in the page
#            cache (ext4 on this bench's Linux 6.18), a 4 KiB write into a
#            file written earlier in large pieces counts up to 1 MiB, so
#            this column can be far above the device's.
#
# By file: the data pages ext4 submitted to the device, file by file (the
# ext4:ext4_writepages_result trace event, in a tracefs instance of its own
# filtered to the two loop devices, summed by inode; inodes are named by a
# listing of both file systems every second and at the end). Its limits:
# it sees data writes only, so the journal, inode tables, bitmaps and
# directory blocks are the rest of the device's count ("journal and
# metadata"); a file that lived less than a second and was never listed
# is "(unnamed inode N)"; pages of files written through a shared mmap
# show up when written back, like any other. Written to
# $OUT/wear-files.txt.
#
# Scenarios (the peer beside each, on its own device):
#   lone N/s     one client, one event in flight, paced at N a second
#                (bench/serve_load's RATE), for WEAR_SECS; the ledger's and
#                the peer's loads run at the same time, each on its own
#                device
#   64 clients   bench/serve_load, 64 clients x WEAR_EVENTS, 16 in flight
#                each (bench/serve.sh's load), one side after the other
#   ingest       `ledger ingest` of WEAR_INGEST_N generated events
#                (bench/gen_events) against `peer_sqlite ingest --sign batch`
#   proxy MODE   `ledger proxy --record MODE` (sync, async: docs/PROXY.md)
#                in front of bench/proxy_stub, writing through `ledger serve`
#                as on a box, one client back to back (bench/proxy_load) for
#                WEAR_SECS; the peer: lone events back to back, one in
#                flight, for the same time, at the same time
#   otlp         `ledger serve --otlp`, bench/otlp_load pb (WEAR_OTLP_CONNS
#                connections x WEAR_OTLP_BATCHES batches of 512 spans); the
#                peer takes the events those spans map to, 512 at a time
# Every `ledger serve` runs as a box runs it: with --metrics, scraped every
# WEAR_SCRAPE (15) s from the start of the load until it stops.
#
# The periodic writes and their cycles: the metrics scrape (15 s: each
# writes DIR/metrics-cache.json), ext4's journal commit (5 s) and the
# kernel's write-back of dirty pages (every 5 s, of pages dirty for 30 s);
# `serve`'s dead-reader sweep (60 s) writes only when it clears a dead
# reader's slot, which a clean run never has; the doctor's sample of the
# device's writes (DIR/storage-wear.tsv, rewritten by a scrape every 10
# minutes: a few KiB) is taken once a run, at its first scrape, so a run
# holds more of it than a box does; at layout 9, the tail's application
# to data.mdb every 128 events (lone_secs, below). The timed scenarios run
# WEAR_SECS: 150 s by default (ten scrapes); the bursts (64 clients,
# ingest, otlp) are as long as their load takes, and their periodic writes
# are then a small share of the total (the scrapes are counted in the
# notes).
#
#   WEAR_QUICK=1   20 s timed runs, lone events at 10 and 100 a second, 64
#                  clients x 200, ingest of 20,000, proxy sync only, 1 x 5
#                  OTLP batches (for tests; `make bench` runs the full mode:
#                  150 s, 1, 10, 100 and 1,000 a second, 64 x 2000,
#                  200,000, sync and async, 4 x 25)
#   WEAR_ONLY      scenarios to run, from: lone 64 ingest proxy otlp
#   WEAR_RATES, WEAR_SECS, WEAR_EVENTS, WEAR_INGEST_N, WEAR_PROXY_MODES,
#   WEAR_OTLP_CONNS, WEAR_OTLP_BATCHES, WEAR_SCRAPE   the figures above
#   WEAR_IMG_DIR   where the two file systems' backing files go (/tmp);
#                  WEAR_IMG_MB their size (2048, sparse)
#
# Needs root (losetup, mount, tracefs). Writes $OUT/wear.tsv (a row a
# scenario, read by bench/results.sh), $OUT/wear-files.txt and
# $OUT/wear.txt (everything it measured, in words). Loop devices, mounts
# and the trace instance are removed on exit, whatever the exit.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
case $B in /*) ;; *) B=$ROOT/$B ;; esac
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
LEDGER=$B/ledger
RSS=$B/bench/rss

if [ "${WEAR_QUICK:-0}" = 1 ]; then
    MODE=quick
    SECS=${WEAR_SECS:-20}
    RATES=${WEAR_RATES:-10 100}
    NE=${WEAR_EVENTS:-200}
    ING_N=${WEAR_INGEST_N:-20000}
    PMODES=${WEAR_PROXY_MODES:-sync}
    OC=${WEAR_OTLP_CONNS:-1}
    OB=${WEAR_OTLP_BATCHES:-5}
else
    MODE=full
    SECS=${WEAR_SECS:-150}
    RATES=${WEAR_RATES:-1 10 100 1000}
    NE=${WEAR_EVENTS:-2000}
    ING_N=${WEAR_INGEST_N:-200000}
    PMODES=${WEAR_PROXY_MODES:-sync async}
    OC=${WEAR_OTLP_CONNS:-4}
    OB=${WEAR_OTLP_BATCHES:-25}
fi
ONLY=${WEAR_ONLY:-lone 64 ingest proxy otlp}
SCRAPE=${WEAR_SCRAPE:-15}
IMG_DIR=${WEAR_IMG_DIR:-/tmp}
IMG_MB=${WEAR_IMG_MB:-2048}

die() { echo "wear bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root: loop devices, mount and tracefs"
for t in losetup mkfs.ext4 mount umount curl; do
    command -v $t >/dev/null 2>&1 || die "$t is not installed"
done
for t in "$LEDGER" "$RSS" "$B/bench/serve_load" "$B/bench/peer_serve" \
    "$B/bench/peer_sqlite" "$B/bench/gen_events" "$B/bench/proxy_stub" \
    "$B/bench/proxy_load" "$B/bench/otlp_load"; do
    [ -x "$t" ] || die "$t is missing (make bench builds it)"
done
TR=/sys/kernel/tracing
[ -d "$TR/instances" ] || mount -t tracefs nodev "$TR" 2>/dev/null
[ -d "$TR/events/ext4/ext4_writepages_result" ] ||
    die "no tracefs with ext4:ext4_writepages_result at $TR"

T=$(mktemp -d "${TMPDIR:-/tmp}/wear.XXXXXX") || exit 1
TI=$TR/instances/wear-$$
LOOPS="" MNTS="" pids=""
cleanup() {
    # every process a scenario may have left running, by its id: the
    # servers (not only their bench/rss wrappers), the loads, the stub,
    # the scraper and the trace's collector
    touch "$T/stop-scrape" 2>/dev/null
    for p in ${SP:-} ${PP:-} ${XP:-} ${stub:-} ${a:-} ${b:-} ${SCR:-} $pids; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    [ -d "$TI" ] && { echo 0 >"$TI/tracing_on"; rmdir "$TI"; } 2>/dev/null
    for m in $MNTS; do umount "$m" 2>/dev/null; done
    for l in $LOOPS; do losetup -d "$l" 2>/dev/null; done
    rm -f "$IMG_DIR/wear-$$-l.img" "$IMG_DIR/wear-$$-p.img"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------- the two devices --
# side l (the ledger) and p (the peer): a loop device each, one mount
# point each; mkfs'd afresh by fresh_fs before each scenario
for s in l p; do
    img=$IMG_DIR/wear-$$-$s.img
    truncate -s "${IMG_MB}M" "$img" || die "cannot make $img"
    dev=$(losetup -f --show "$img") || die "losetup $img failed"
    LOOPS="$LOOPS $dev"
    mkdir -p "$T/$s"
    eval "DEV_$s=$dev"
    eval "MNT_$s=$T/$s"
done
MNTS="$T/l $T/p"
# kernel's dev_t of /dev/loopN (major << 20 | minor, as trace events give)
kdev() { echo $(((7 << 20) | ${1#/dev/loop})); }

fresh_fs() { # fresh_fs SIDE
    eval "dev=\$DEV_$1 mnt=\$MNT_$1"
    umount "$mnt" 2>/dev/null
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ||
        die "mkfs.ext4 $dev failed"
    mount "$dev" "$mnt" || die "mount $dev failed"
}
# sectors written and flushes of SIDE's device since boot
dstat() {
    eval "dev=\$DEV_$1"
    awk '{ print $7, ($16 == "" ? 0 : $16) }' "/sys/block/${dev#/dev/}/stat"
}
wbytes_of() { awk '/^write_bytes:/ { print $2 }' "/proc/$1/io" 2>/dev/null; }
rss_wb() { sed -n 's/.*write_bytes=\([0-9-]*\).*/\1/p' "$1" | tail -n 1; }
rss_status() { sed -n 's/.*status=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
wait_line() { # wait_line FILE REGEX: up to 30 s
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    grep -q "$2" "$1" 2>/dev/null
}
child_of() { # the one child of a bench/rss wrapper
    i=0
    while [ $i -lt 100 ]; do
        c=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{ print $1 }')
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.02
        i=$((i + 1))
    done
    return 1
}

# ----------------------------------------------------- per-file trace --
mkdir "$TI" || die "cannot make the trace instance $TI"
echo 16384 >"$TI/buffer_size_kb"
echo "dev == $(kdev "$DEV_l") || dev == $(kdev "$DEV_p")" \
    >"$TI/events/block/block_rq_issue/filter"
echo 1 >"$TI/events/block/block_rq_issue/enable"
echo "dev == $(kdev "$DEV_l") || dev == $(kdev "$DEV_p")" \
    >"$TI/events/ext4/ext4_ext_map_blocks_exit/filter"
echo 1 >"$TI/events/ext4/ext4_ext_map_blocks_exit/enable"
trace_start() {
    : >"$TI/trace"
    rm -f "$T/files.json" "$T/files.json.ready"
    python3 "$ROOT/bench/wear_files.py" collect "$TI/trace_pipe" "$T/files.json" \
        "$MNT_l:7,${DEV_l#/dev/loop}" "$MNT_p:7,${DEV_p#/dev/loop}" &
    COL=$!
    pids="$pids $COL"
    i=0
    while [ ! -e "$T/files.json.ready" ] && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ -e "$T/files.json.ready" ] || die "the trace's collector did not start"
}
trace_stop() {
    sleep 0.5
    kill -TERM "$COL" 2>/dev/null
    wait "$COL" 2>/dev/null
    pids=""
    lost=$(cat "$TI/per_cpu"/cpu*/stats 2>/dev/null | awk '/^overrun:/ { o += $2 } END { print o + 0 }')
    [ "$lost" = 0 ] || echo "  (the trace lost $lost requests: the breakdown is short)" >>"$FILES"
}
# per_file SIDE EVENTS: "name KiB B/event share" lines, most first
per_file() {
    eval "dev=\$DEV_$1"
    python3 "$ROOT/bench/wear_files.py" report "$T/files.json" "7,${dev#/dev/loop}" "$2"
}

# ------------------------------------------------------------ a side --
# begin SIDE: counters before the first event
begin() {
    sync -f "$(eval echo "\$MNT_$1")"
    sleep 0.3 # the trace's lines of what came before, read
    eval "D0_$1=\"$(dstat "$1")\""
    if [ "$1" = l ]; then kill -USR1 "$COL"; else kill -USR2 "$COL"; fi
}
# end SIDE: unmount (every deferred write done), then the device's count
end() {
    eval "mnt=\$MNT_$1"
    umount "$mnt" || die "umount $mnt failed"
    eval "D1_$1=\"$(dstat "$1")\""
}
dev_bytes() { eval "set -- \$D0_$1 \$D1_$1"; echo $((($3 - $1) * 512)); }
dev_flushes() { eval "set -- \$D0_$1 \$D1_$1"; echo $(($4 - $2)); }

# a box's `ledger serve`, under bench/rss, scraped every SCRAPE s
serve_start() { # serve_start DIR LABEL [ARGS...]: sets SW SP MURL
    d=$1 lab=$2
    shift 2
    "$LEDGER" --dir "$d" init >/dev/null || die "ledger init failed"
    "$RSS" -o "$T/$lab.rss" -l "$lab" -- "$LEDGER" --dir "$d" serve \
        --metrics 127.0.0.1:0 "$@" >"$T/$lab.out" 2>"$T/$lab.err" &
    SW=$!
    wait_line "$T/$lab.out" '^listening on ' || die "serve: $(tail -n 2 "$T/$lab.err")"
    SP=$(child_of $SW) || die "serve did not start"
    wait_line "$T/$lab.out" '^metrics on ' || die "serve: no metrics endpoint"
    MURL=$(sed -n 's/^metrics on \(http:[^ ]*\).*/\1/p' "$T/$lab.out")
}
scrape_start() {
    rm -f "$T/stop-scrape"
    : >"$T/scrapes"
    (while [ ! -e "$T/stop-scrape" ]; do
        curl -fsS -o /dev/null "$MURL" && echo ok >>"$T/scrapes"
        i=0
        while [ $i -lt "$SCRAPE" ] && [ ! -e "$T/stop-scrape" ]; do
            sleep 1
            i=$((i + 1))
        done
    done) &
    SCR=$!
}
scrape_stop() {
    touch "$T/stop-scrape"
    wait "$SCR" 2>/dev/null
    SCR=""
    SCRAPES=$(wc -l <"$T/scrapes")
}
# stop PID WRAPPER LABEL: SIGTERM, and again after 20 s (said in the
# notes), then SIGKILL after 20 s more; waits for the wrapper
stop() {
    kill -TERM "$1" 2>/dev/null
    k=0
    while kill -0 "$1" 2>/dev/null; do
        sleep 0.1
        k=$((k + 1))
        if [ $k = 200 ]; then
            echo "  $3: still running 20 s after SIGTERM: sent it again" >>"$T/notes"
            kill -TERM "$1" 2>/dev/null
        elif [ $k = 400 ]; then
            echo "  $3: killed (SIGKILL)" >>"$T/notes"
            kill -KILL "$1" 2>/dev/null
        fi
    done
    wait "$2"
}
serve_stop() { # serve_stop LABEL: TERM, wait, check a clean stop
    stop "$SP" "$SW" "$1 (serve)"
    SP=""
    [ "$(rss_status "$T/$1.rss")" = 0 ] ||
        echo "  $1: serve did not stop cleanly: $(tail -n 2 "$T/$1.err")" >>"$T/notes"
}
peer_start() { # peer_start LABEL: peer_serve on side p under rss; sets PW PP
    "$RSS" -o "$T/$1.rss" -l "$1" -- "$B/bench/peer_serve" "$MNT_p/p.sock" \
        "$MNT_p/p.db" >"$T/$1.out" 2>"$T/$1.err" &
    PW=$!
    wait_line "$T/$1.out" '^listening on ' || die "peer_serve: $(cat "$T/$1.err")"
    PP=$(child_of $PW) || die "peer_serve did not start"
}
peer_stop() { stop "$PP" "$PW" "peer_serve"; PP=""; }

# (the layout `ledger init` makes here, read back from one)
"$LEDGER" --dir "$T/probe" init >/dev/null 2>"$T/probe.err" ||
    die "ledger init: $(cat "$T/probe.err")"
LAYOUT=$("$LEDGER" --dir "$T/probe" stats -o json 2>/dev/null | sed -n 's/.*"layout":\([0-9]*\).*/\1/p')
[ -n "$LAYOUT" ] || die "ledger stats -o json did not say the probe ledger's layout"
rm -rf "$T/probe"
ROWS=$OUT/wear.tsv
FILES=$OUT/wear-files.txt
TXT=$OUT/wear.txt
: >"$T/notes"
{
    printf '# mode %s: timed runs %s s, scrape every %s s; layout %s; date %s; commit %s; machine %s\n' \
        "$MODE" "$SECS" "$SCRAPE" "$LAYOUT" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
    printf 'scenario\tledger events\tpeer events\tledger device B/event\tledger process B/event\tpeer device B/event\tpeer process B/event\tledger flushes/event\tpeer flushes/event\tledger written/stored\tnote\n'
} >"$ROWS"
: >"$FILES"
{
    echo "== wear: bytes written an event, $(date -u '+%Y-%m-%d %H:%M UTC'), mode $MODE, store layout $LAYOUT"
    echo "   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; kernel $(uname -r)"
    echo "   ledger on $DEV_l, peer on $DEV_p: ext4, ${IMG_MB} MiB each, under $IMG_DIR"
} | tee "$TXT"

div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (b > 0) printf f, a / b; else printf "-" }'; }

# record NAME LEDGER_EVENTS PEER_EVENTS LEDGER_PROC_BYTES PEER_PROC_BYTES
#        STORED_BYTES NOTE: a row, its words and its files
record() {
    name=$1 le=$2 pe=$3 lp=$4 pp=$5 st=$6 note=$7
    ld=$(dev_bytes l) pd=$(dev_bytes p)
    lf=$(dev_flushes l) pf=$(dev_flushes p)
    ldb=$(div "$ld" "$le" %.0f) lpb=$(div "$lp" "$le" %.0f)
    pdb=$(div "$pd" "$pe" %.0f) ppb=$(div "$pp" "$pe" %.0f)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$le" "$pe" \
        "$ldb" "$lpb" "$pdb" "$ppb" "$(div "$lf" "$le" %.2f)" "$(div "$pf" "$pe" %.2f)" \
        "$(div "$ld" "$st" %.2f)" "$note" >>"$ROWS"
    {
        echo "-- $name: $note"
        echo "   ledger: $le events; device $ld B ($ldb B/event, $lf flushes), process $lp B ($lpb B/event); stored (data.mdb's growth) $st B"
        echo "   peer:   $pe events; device $pd B ($pdb B/event, $pf flushes), process $pp B ($ppb B/event)"
    } | tee -a "$TXT"
    {
        echo "== $name: ledger, $le events, device $ld B"
        per_file l "$le"
        echo "== $name: peer, $pe events, device $pd B"
        per_file p "$pe"
        echo
    } >>"$FILES"
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# ------------------------------------------------------- lone events --
# At layout 9 the intake's tail is applied to data.mdb every 128 events
# (docs/WRITE-PATH.md): a periodic write of 128/RATE s. In full mode a
# lone rate's run holds ten of them, as it holds ten of every other
# periodic write: at 1 a second, 1,280 s (its row's note says how long).
lone_secs() { # lone_secs RATE
    if [ "$LAYOUT" = 9 ] && [ "$MODE" = full ]; then
        awk -v r="$1" -v s="$SECS" 'BEGIN { c = int(1280 / r + 0.999); print (c > s ? c : s) }'
    else
        echo "$SECS"
    fi
}
lone() { # lone RATE
    r=$1
    secs=$(lone_secs "$r")
    n=$(awk -v r="$r" -v s="$secs" 'BEGIN { printf "%d", r * s }')
    fresh_fs l && fresh_fs p
    trace_start
    serve_start "$MNT_l/l" "lone$r"
    peer_start "lone$r-peer"
    st0=$(size_of "$MNT_l/l/data.mdb")
    begin l && begin p
    lw0=$(wbytes_of "$SP") pw0=$(wbytes_of "$PP")
    scrape_start
    "$B/bench/serve_load" "$MNT_l/l/ledger.sock" 1 "$n" 1 "$r" >"$T/ll" 2>&1 &
    a=$!
    "$B/bench/serve_load" "$MNT_p/p.sock" 1 "$n" 1 "$r" >"$T/pl" 2>&1 &
    b=$!
    wait $a
    la=$?
    wait $b
    pa=$?
    a="" b=""
    scrape_stop
    st1=$(size_of "$MNT_l/l/data.mdb")
    serve_stop "lone$r"
    peer_stop
    end l && end p
    trace_stop
    [ $la = 0 ] && [ $pa = 0 ] || echo "  lone $r/s: a load failed: $(cat "$T/ll" "$T/pl")" >>"$T/notes"
    lr=$(field "$(cat "$T/ll")" eps) pr=$(field "$(cat "$T/pl")" eps)
    record "lone $r/s" "$n" "$n" \
        $(($(rss_wb "$T/lone$r.rss") - lw0)) $(($(rss_wb "$T/lone$r-peer.rss") - pw0)) \
        $((st1 - st0)) "one in flight, ${secs} s, $SCRAPES scrapes; reached $lr/s (peer $pr/s)"
}

# ---------------------------------------------------------- 64 clients --
many() {
    fresh_fs l && fresh_fs p
    trace_start
    serve_start "$MNT_l/l" c64
    st0=$(size_of "$MNT_l/l/data.mdb")
    begin l
    lw0=$(wbytes_of "$SP")
    scrape_start
    lm=$("$B/bench/serve_load" "$MNT_l/l/ledger.sock" 64 "$NE" 16)
    scrape_stop
    st1=$(size_of "$MNT_l/l/data.mdb")
    serve_stop c64
    peer_start c64-peer
    begin p
    pw0=$(wbytes_of "$PP")
    pm=$("$B/bench/serve_load" "$MNT_p/p.sock" 64 "$NE" 16)
    peer_stop
    end l && end p
    trace_stop
    n=$((64 * NE))
    record "64 clients x 16" "$n" "$n" \
        $(($(rss_wb "$T/c64.rss") - lw0)) $(($(rss_wb "$T/c64-peer.rss") - pw0)) \
        $((st1 - st0)) "64 clients, 16 in flight each, $SCRAPES scrapes; ledger $(field "$lm" eps)/s, peer $(field "$pm" eps)/s"
}

# -------------------------------------------------------------- ingest --
ingest() {
    data=$OUT/wear-events-$ING_N.jsonl
    [ -s "$data" ] || "$B/bench/gen_events" "$ING_N" --seed 1 >"$data" 2>/dev/null ||
        die "gen_events failed"
    fresh_fs l && fresh_fs p
    trace_start
    "$LEDGER" --dir "$MNT_l/l" init >/dev/null || die "ledger init failed"
    st0=$(size_of "$MNT_l/l/data.mdb")
    begin l
    "$RSS" -o "$T/ing.rss" -l ing -- "$LEDGER" --dir "$MNT_l/l" ingest "$data" \
        >/dev/null 2>"$T/ing.err" || echo "  ingest failed: $(tail -n 1 "$T/ing.err")" >>"$T/notes"
    st1=$(size_of "$MNT_l/l/data.mdb")
    begin p
    "$RSS" -o "$T/ping.rss" -l ping -- "$B/bench/peer_sqlite" ingest "$MNT_p/p.db" \
        "$data" --batch 1000 --threads 1 --sign batch >/dev/null 2>"$T/ping.err" ||
        echo "  peer ingest failed: $(tail -n 1 "$T/ping.err")" >>"$T/notes"
    end l && end p
    trace_stop
    record "ingest $ING_N" "$ING_N" "$ING_N" \
        "$(rss_wb "$T/ing.rss")" "$(rss_wb "$T/ping.rss")" $((st1 - st0)) \
        "ledger ingest, no serve; the batch peer (peer_sqlite --sign batch, 1,000 a transaction)"
}

# --------------------------------------------------------------- proxy --
proxy() { # proxy MODE
    m=$1
    fresh_fs l && fresh_fs p
    trace_start
    "$B/bench/proxy_stub" "$T/sport" 0 20 >/dev/null 2>&1 &
    stub=$!
    i=0
    while [ ! -s "$T/sport" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    serve_start "$MNT_l/l" "px$m"
    "$RSS" -o "$T/px$m-proxy.rss" -l "px$m-proxy" -- "$LEDGER" --dir "$MNT_l/l" proxy \
        --listen 127.0.0.1:0 --record "$m" --upstream "stub=http://127.0.0.1:$(cat "$T/sport")" \
        >"$T/px$m-proxy.out" 2>"$T/px$m-proxy.err" &
    XW=$!
    wait_line "$T/px$m-proxy.out" '^listening on' || die "proxy: $(cat "$T/px$m-proxy.err")"
    XP=$(child_of $XW) || die "proxy did not start"
    port=$(sed -n 's/^listening on 127.0.0.1://p' "$T/px$m-proxy.out")
    peer_start "px$m-peer"
    st0=$(size_of "$MNT_l/l/data.mdb")
    begin l && begin p
    c0=$("$LEDGER" --dir "$MNT_l/l" stats -o json 2>/dev/null | sed -n 's/.*"events": *\([0-9]*\).*/\1/p' | head -n 1)
    lw0=$(wbytes_of "$SP") xw0=$(wbytes_of "$XP") pw0=$(wbytes_of "$PP")
    scrape_start
    # the peer: lone events back to back, as many as time allows
    # (paced at 20,000 a second: faster than it goes, so unpaced, and
    # stopped when the proxy's time is up; its events are counted in its
    # table)
    "$B/bench/serve_load" "$MNT_p/p.sock" 1 $((SECS * 20000)) 1 20000 >"$T/pl" 2>&1 &
    b=$!
    pl=$("$B/bench/proxy_load" "127.0.0.1:$port" 1 "$SECS")
    kill -TERM $b 2>/dev/null
    wait $b 2>/dev/null
    b=""
    scrape_stop
    stop "$XP" "$XW" "proxy $m"
    XP=""
    st1=$(size_of "$MNT_l/l/data.mdb")
    c1=$("$LEDGER" --dir "$MNT_l/l" stats -o json 2>/dev/null | sed -n 's/.*"events": *\([0-9]*\).*/\1/p' | head -n 1)
    serve_stop "px$m"
    # the peer's events: rows of its table, read after it stopped
    peer_stop
    kill "$stub" 2>/dev/null
    wait "$stub" 2>/dev/null
    stub=""
    # (Python's sqlite3: the sqlite3 program is not among the set-up's packages)
    pe=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' \
        "$MNT_p/p.db" 2>"$T/pe.err") || die "the peer's events: $(tail -n 1 "$T/pe.err")"
    end l && end p
    trace_stop
    le=$((${c1:-0} - ${c0:-0}))
    record "proxy $m" "$le" "$pe" \
        $(($(rss_wb "$T/px$m.rss") - lw0 + $(rss_wb "$T/px$m-proxy.rss") - xw0)) \
        $(($(rss_wb "$T/px$m-peer.rss") - pw0)) $((st1 - st0)) \
        "proxy --record $m, one client, through serve, $SECS s, $SCRAPES scrapes; $(field "$pl" rps) req/s; peer: lone events back to back"
}

# ---------------------------------------------------------------- otlp --
otlp() {
    fresh_fs l && fresh_fs p
    trace_start
    serve_start "$MNT_l/l" otlp --otlp 127.0.0.1:0
    wait_line "$T/otlp.out" '^otlp on ' || die "serve: no otlp receiver"
    u=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/otlp.out")
    st0=$(size_of "$MNT_l/l/data.mdb")
    begin l
    lw0=$(wbytes_of "$SP")
    scrape_start
    lo=$("$B/bench/otlp_load" pb "$u" "$OC" "$OB")
    scrape_stop
    st1=$(size_of "$MNT_l/l/data.mdb")
    serve_stop otlp
    peer_start otlp-peer
    begin p
    pw0=$(wbytes_of "$PP")
    po=$("$B/bench/otlp_load" serve "$MNT_p/p.sock" "$OC" "$OB")
    peer_stop
    end l && end p
    trace_stop
    n=$(field "$lo" spans)
    record "OTLP pb" "${n:-0}" "$(field "$po" spans)" \
        $(($(rss_wb "$T/otlp.rss") - lw0)) $(($(rss_wb "$T/otlp-peer.rss") - pw0)) \
        $((st1 - st0)) "OTLP/HTTP protobuf, $OC conns x $OB batches of 512 spans, $SCRAPES scrapes; peer: the same events, 512 a write"
}

if want lone; then for r in $RATES; do echo "lone events, $r/s, $(lone_secs "$r") s" >&2; lone "$r"; done; fi
if want 64; then echo "64 clients" >&2; many; fi
if want ingest; then echo "ingest $ING_N" >&2; ingest; fi
if want proxy; then for m in $PMODES; do echo "proxy $m, $SECS s" >&2; proxy "$m"; done; fi
if want otlp; then echo "otlp" >&2; otlp; fi
if [ -s "$T/notes" ]; then
    echo "notes:" | tee -a "$TXT"
    tee -a "$TXT" <"$T/notes"
fi
echo "wear: $ROWS, by file $FILES"
