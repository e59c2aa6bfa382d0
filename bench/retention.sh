#!/bin/sh
# bench/retention.sh BUILD_DIR — issues 32 and 50, on this machine: a
# BENCH_RETENTION_N-event ledger (default 1M, bench/gen_events), its
# oldest 90% (up to the first commit's end at or after it) archived as
# one segment and pruned with it, and
#   store     the live store's bytes an event (pages in use, as `ledger
#             stats --databases` counts them, over the events), and the
#             store layout the ledger has (`ledger stats`)
#   archive   the segment's bytes an event and the events/s and peak RSS
#             of writing it (target: <= 0.4x the store's bytes an event
#             at layout 4 and before, whose events carry a stored salt a
#             field; <= 0.6x at layout 5, whose events carry a seed,
#             >= 200,000 events/s, <= 128 MiB)
#   verify    verify-bundle of that segment: events/s and peak RSS
#             (target >= 300,000 events/s on two cores, <= 128 MiB)
#   prune     the prune with it, its check included: seconds and peak
#             RSS (target <= 10 s for 1M, <= 128 MiB)
#   peer      today's evidence-bundle archive of the same events in the
#             same run (`archive --format bundle`, which bounds its memory
#             by parts): the first BENCH_RETENTION_PEER events (default
#             100,000) as a bundle and as a segment (`export --segment`
#             of the same range): bytes an event, seconds, peak RSS, and
#             verify-bundle of each
#   big       peak RSS (and time) of archive, verify-bundle and prune of
#             90% of a BENCH_RETENTION_BIG-event ledger (default 5M; 0:
#             not run): the 128 MiB holds at any size
#   pages     the store's bytes in use after, against before; and the
#             same for a copy of the store migrated to layout 9 (in
#             development: its prune drops the pruned events' level-0
#             hash tiles, issue 64 item 6) pruned with the same archive
#             (target: <= 1.2 x (1 - p) of before, plus 1%)
#   queries   the same queries over the kept events, before and after:
#             a run's events, a time window, a body term in a seq range
#             (median of 3 each; the ratio after/before)
# Prints "retention: ..." lines; writes $BENCH_OUT/retention.txt and
# $BENCH_OUT/retention.tsv (scenario, unit, segment, bundle, target,
# note) for bench/results.sh's table.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
N=${BENCH_RETENTION_N:-1000000}
PEER=${BENCH_RETENTION_PEER:-100000}
L=$PWD/$B/ledger
RSS=$PWD/$B/bench/rss
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$OUT"
R="$OUT/retention.txt"
TSV="$OUT/retention.tsv"
: >"$R"
: >"$TSV"
now() { date +%s.%N; }
say() { echo "retention: $*" | tee -a "$R"; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }
secs() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }
div() { echo "$1 $2" | awk '{ printf "%.1f", $1 / $2 }'; }
rate() { echo "$1 $2" | awk '{ printf "%d", $1 / $2 }'; }
used() { # bytes of pages in use
    "$L" --dir "$1" stats --databases -o json |
        jq '[.databases[] | select(.name != "(free)") | .bytes] | add'
}
# timed LABEL CMD...: runs it under bench/rss; sets $s (seconds) and $mb
# (peak RSS, MiB); its exit status is returned
timed() {
    lab=$1
    shift
    "$RSS" -o "$T/rss.$lab" -l "$lab" -- "$@"
    st=$?
    s=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' "$T/rss.$lab" |
        awk '{ printf "%.2f", $1 }')
    mb=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$T/rss.$lab" |
        awk '{ printf "%.1f", $1 / 1024 }')
    # CPU seconds (user + sys): on a loaded box the figure that compares
    cpu=$(sed -n 's/.*user=\([0-9.]*\) sys=\([0-9.]*\).*/\1 \2/p' "$T/rss.$lab" |
        awk '{ printf "%.2f", $1 + $2 }')
    return $st
}
med3() { # CMD...: median seconds of three runs
    for i in 1 2 3; do
        a=$(now)
        "$@" >/dev/null 2>&1
        b=$(now)
        secs "$a" "$b"
        echo
    done | sort -n | sed -n 2p
}

for p in jq awk; do
    command -v $p >/dev/null || { say "skip: $p not installed"; exit 0; }
done
[ -x "$RSS" ] || { say "skip: $RSS not built (make $B/bench/rss)"; exit 0; }
say "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); N=$N, peer part $PEER"
"$B/bench/gen_events" "$N" >"$T/ev.jsonl" 2>/dev/null || exit 1
D=$T/box
"$L" --dir "$D" init --origin bench.example/box >/dev/null || exit 1
"$L" --dir "$D" ingest "$T/ev.jsonl" >/dev/null 2>&1 || exit 1
rm -f "$T/ev.jsonl"
VK=$("$L" --dir "$D" keys verifier)
SIZE=$((N + 1))
# A horizon is the end of a commit (a seal): the first one at or after
# 90%, so that at least 90% is pruned (`show` names an event's seal by its
# first seq; the next seal begins at the first seq whose seal differs)
HZ=$((SIZE * 9 / 10))
seal_of() { "$L" --dir "$D" show "$1" -o json | jq -r .seal; }
s0=$(seal_of "$HZ")
if [ "$s0" != "$HZ" ]; then
    lo=$HZ hi=$((SIZE - 1))
    if [ "$(seal_of "$hi")" = "$s0" ]; then
        HZ=$SIZE
    else
        while [ $((hi - lo)) -gt 1 ]; do
            mid=$(((lo + hi) / 2))
            if [ "$(seal_of "$mid")" = "$s0" ]; then lo=$mid; else hi=$mid; fi
        done
        HZ=$hi
    fi
fi

# queries over the events that stay: a run whose events are all kept, a
# time window and a body term in the kept stretch
RUN=$("$L" --dir "$D" query -o json -n all "seq=$((HZ + 1000)).." type=run.started |
    jq -r '.run // empty' | head -n 1)
t1=$("$L" --dir "$D" show $((SIZE * 95 / 100)) -o json | jq -r .time)
t2=$("$L" --dir "$D" show $((SIZE * 97 / 100)) -o json | jq -r .time)
q_run() { "$L" --dir "$D" query -o json -n all "run=$RUN"; }
q_win() { "$L" --dir "$D" query -o json -n all -S "$t1" -U "$t2"; }
q_body() { "$L" --dir "$D" query -o json -n all "seq=$HZ.." body.status=failed; }
qr0=$(med3 q_run)
qw0=$(med3 q_win)
qb0=$(med3 q_body)
u0=$(used "$D")
store=$(div "$u0" "$SIZE")
LAYOUT=$("$L" --dir "$D" stats -o json | jq -r .layout)
# the byte target: 0.4x a store of stored salts (layout 4 and before),
# 0.6x a store of seeded salts (layout 5 on)
if [ "$LAYOUT" -ge 5 ] 2>/dev/null; then F=0.6; SALTS="seeded salts"; else F=0.4; SALTS="a stored salt a field"; fi
say "store: $u0 bytes in use for $SIZE events: $store B an event (layout $LAYOUT, $SALTS)"
row "store, bytes an event ($SIZE events, layout $LAYOUT)" B "$store" - - "pages in use over events; $SALTS"

# ------------------------------------------- the peer: the first part --
# the same events both ways: a bundle archive (--format bundle) and a
# segment of the same range (export --segment), each verified
# (the commit holding event PEER starts where its seal does: one key)
PH=$(seal_of "$PEER")
if [ -n "$PH" ] && [ "$PH" != null ] && [ "$PH" -gt 0 ]; then
    timed peer_bundle "$L" --dir "$D" archive --before "$PH" --format bundle \
        --out "$T/peer.bundle" >/dev/null 2>&1
    pb_s=$s pb_mb=$mb pb_c=$cpu
    timed peer_segment "$L" --dir "$D" export --segment "seq=0..$((PH - 1))" \
        --out "$T/peer.seg" >/dev/null 2>&1
    ps_s=$s ps_mb=$mb ps_c=$cpu
    pb_b=$(stat -c %s "$T/peer.bundle")
    ps_b=$(stat -c %s "$T/peer.seg")
    # (an archive of this size unpacks past verify-bundle's default)
    timed peer_vb "$L" verify-bundle "$T/peer.bundle" --trusted-key "$VK" \
        --max-bytes 100000000000 >/dev/null 2>&1 || say "verify-bundle of the peer bundle FAILED"
    pvb_s=$s pvb_mb=$mb pvb_c=$cpu
    timed peer_vs "$L" verify-bundle "$T/peer.seg" --trusted-key "$VK" \
        >/dev/null 2>&1 || say "verify-bundle of the peer segment FAILED"
    pvs_s=$s pvs_mb=$mb pvs_c=$cpu
    say "peer, events 0..$((PH - 1)) ($PH): bundle $(div "$pb_b" "$PH") B an event ($pb_b bytes) written in $pb_s s ($pb_c CPU-s), $pb_mb MiB, verified in $pvb_s s ($pvb_c CPU-s), $pvb_mb MiB; segment $(div "$ps_b" "$PH") B an event ($ps_b bytes) written in $ps_s s ($ps_c CPU-s), $ps_mb MiB, verified in $pvs_s s ($pvs_c CPU-s), $pvs_mb MiB"
    row "archive bytes an event, events 0..$((PH - 1))" B "$(div "$ps_b" "$PH")" "$(div "$pb_b" "$PH")" "max:$(echo "$store $F" | awk '{ printf "%.1f", $2 * $1 }')" "${F}x the layout $LAYOUT store's $store"
    row "archive $PH events" "events/s" "$(rate "$PH" "$ps_s")" "$(rate "$PH" "$pb_s")" "min:200000" "$ps_c / $pb_c CPU-s; peak RSS $ps_mb / $pb_mb MiB"
    row "verify-bundle of it" "events/s" "$(rate "$PH" "$pvs_s")" "$(rate "$PH" "$pvb_s")" "min:300000" "$pvs_c / $pvb_c CPU-s; peak RSS $pvs_mb / $pvb_mb MiB"
    rm -f "$T/peer.bundle" "$T/peer.seg"
fi

# the same store at layout 9, pruned below with the same archive
D9=$T/box999
cp -a "$D" "$D9" && "$L" --dir "$D9" migrate --layout 9 >/dev/null 2>&1 ||
    { say "migrate --layout 9 of a copy failed"; D9=""; }

# ------------------------------------------------ the segment of 90% --
timed archive "$L" --dir "$D" archive --before "$HZ" --out "$T/a.seg" \
    -o json >"$T/out" 2>"$T/err" || { say "archive failed: $(tail -n 2 "$T/err")"; exit 1; }
a_s=$s a_mb=$mb a_c=$cpu
bytes=$(jq -r .bytes "$T/out")
say "archive $HZ events as one segment: $a_s s ($a_c CPU-s: $(rate "$HZ" "$a_c") events a CPU-second), $(rate "$HZ" "$a_s") events/s, peak RSS $a_mb MiB; $bytes bytes, $(div "$bytes" "$HZ") B an event against the layout $LAYOUT store's $store ($(echo "$bytes $HZ $store" | awk '{ printf "%.2f", $1 / $2 / $3 }')x; $SALTS; target <= ${F}x, >= 200000 events/s, <= 128 MiB)"
row "archive $HZ events (one segment)" "events/s" "$(rate "$HZ" "$a_s")" - "min:200000" "$a_c CPU-s ($(rate "$HZ" "$a_c") events a CPU-second); peak RSS $a_mb MiB (<= 128)"
row "archive bytes an event, events 0..$((HZ - 1))" B "$(div "$bytes" "$HZ")" - "max:$(echo "$store $F" | awk '{ printf "%.1f", $2 * $1 }')" "$(echo "$bytes $HZ $store" | awk '{ printf "%.2f", $1 / $2 / $3 }')x the layout $LAYOUT store's $store ($SALTS)"
timed verify "$L" verify-bundle "$T/a.seg" --trusted-key "$VK" >/dev/null 2>"$T/err" ||
    say "verify-bundle of the segment FAILED: $(tail -n 2 "$T/err")"
v_s=$s v_mb=$mb v_c=$cpu
say "verify-bundle of it: $v_s s ($v_c CPU-s over its two threads), $(rate "$HZ" "$v_s") events/s, peak RSS $v_mb MiB (target >= 300000 events/s, <= 128 MiB)"
row "verify-bundle of the $HZ-event segment" "events/s" "$(rate "$HZ" "$v_s")" - "min:300000" "$v_c CPU-s on two threads; peak RSS $v_mb MiB (<= 128)"
timed prune "$L" --dir "$D" prune --before "$HZ" --archive "$T/a.seg" --force \
    >/dev/null 2>"$T/err" || { say "prune failed: $(tail -n 2 "$T/err")"; exit 1; }
p_s=$s p_mb=$mb p_c=$cpu
say "prune $HZ events with it, its check included: $p_s s ($p_c CPU-s), peak RSS $p_mb MiB (target <= 10 s for 1M, <= 128 MiB)"
row "prune $HZ events, check included" s "$p_s" - "max:10" "$p_c CPU-s; peak RSS $p_mb MiB (<= 128)"
row "peak RSS of archive, $HZ events" MiB "$a_mb" - "max:128" ""
row "peak RSS of verify-bundle, $HZ events" MiB "$v_mb" - "max:128" ""
row "peak RSS of prune, $HZ events" MiB "$p_mb" - "max:128" ""
u1=$(used "$D")
qr1=$(med3 q_run)
qw1=$(med3 q_win)
qb1=$(med3 q_body)
"$L" --dir "$D" verify >/dev/null 2>&1 || say "verify after the prune FAILED"
say "pages in use after pruning $(echo "$HZ $SIZE" | awk '{ printf "%.1f", 100 * $1 / $2 }')%: $u0 -> $u1 bytes, $(echo "$u1 $u0" | awk '{ printf "%.1f", 100 * $1 / $2 }')% (target <= 15%)"
row "pages in use after pruning $(echo "$HZ $SIZE" | awk '{ printf "%.1f", 100 * $1 / $2 }')%" "% of before" "$(echo "$u1 $u0" | awk '{ printf "%.1f", 100 * $1 / $2 }')" - "max:15" "$u0 -> $u1 bytes"
say "query run=$RUN: $qr0 -> $qr1 s; window: $qw0 -> $qw1 s; body term: $qb0 -> $qb1 s (median of 3, before -> after)"
if [ -n "$D9" ]; then
    v0=$(used "$D9")
    pct=$(echo "$HZ $SIZE" | awk '{ printf "%.1f", 100 * $1 / $2 }')
    lim=$(echo "$HZ $SIZE" | awk '{ printf "%.1f", 100 * (1.2 * (1 - $1 / $2) + 0.01) }')
    if "$L" --dir "$D9" prune --before "$HZ" --archive "$T/a.seg" --force -o json         >"$T/p9" 2>"$T/err"; then
        v1=$(used "$D9")
        "$L" --dir "$D9" verify >/dev/null 2>&1 || say "verify after the layout 9 prune FAILED"
        say "pages in use after pruning $pct% at layout 9: $v0 -> $v1 bytes, $(echo "$v1 $v0" | awk '{ printf "%.1f", 100 * $1 / $2 }')% ($(jq -r .removed.tiles "$T/p9") level-0 hash tiles dropped; target <= $lim%: 1.2 x (1 - p) + 1%)"
        row "pages in use after pruning $pct%, layout 9" "% of before" "$(echo "$v1 $v0" | awk '{ printf "%.1f", 100 * $1 / $2 }')" - "max:$lim" "$v0 -> $v1 bytes; the level-0 hash tiles of the pruned events dropped"
    else
        say "prune at layout 9 failed: $(tail -n 2 "$T/err")"
    fi
    rm -rf "$D9"
fi

# ------------------------------------------ peak RSS at a larger size --
# (the 128 MiB holds at any size: archive, verify-bundle and prune of the
# oldest 90% of a BENCH_RETENTION_BIG-event ledger, default 5M; 0: not run)
BIG=${BENCH_RETENTION_BIG:-5000000}
[ "$BIG" -gt 0 ] 2>/dev/null || exit 0
rm -rf "$D"
"$B/bench/gen_events" "$BIG" >"$T/ev.jsonl" 2>/dev/null || exit 1
D=$T/big
"$L" --dir "$D" init --origin bench.example/big >/dev/null || exit 1
"$L" --dir "$D" ingest "$T/ev.jsonl" >/dev/null 2>&1 || exit 1
rm -f "$T/ev.jsonl"
VK=$("$L" --dir "$D" keys verifier)
BH=$(((BIG + 1) * 9 / 10))
timed big_archive "$L" --dir "$D" archive --before "$BH" --out "$T/b.seg" \
    -o json >"$T/out" 2>"$T/err" || { say "archive of $BIG failed: $(tail -n 2 "$T/err")"; exit 1; }
BH=$(jq -r .horizon.horizon "$T/out")
ba_s=$s ba_mb=$mb ba_c=$cpu
timed big_verify "$L" verify-bundle "$T/b.seg" --trusted-key "$VK" >/dev/null 2>"$T/err" ||
    say "verify-bundle of the $BH-event segment FAILED: $(tail -n 2 "$T/err")"
bv_s=$s bv_mb=$mb bv_c=$cpu
timed big_prune "$L" --dir "$D" prune --before "$BH" --archive "$T/b.seg" --force \
    >/dev/null 2>"$T/err" || { say "prune of $BH failed: $(tail -n 2 "$T/err")"; exit 1; }
bp_s=$s bp_mb=$mb bp_c=$cpu
say "at $BIG events, the oldest $BH: archive $ba_s s ($ba_c CPU-s), peak RSS $ba_mb MiB; verify-bundle $bv_s s ($bv_c CPU-s, $(rate "$BH" "$bv_s") events/s), $bv_mb MiB; prune $bp_s s ($bp_c CPU-s), $bp_mb MiB (target <= 128 MiB each); load $(cut -d' ' -f1-3 /proc/loadavg)"
row "peak RSS of archive, $BH events" MiB "$ba_mb" - "max:128" "$ba_s s, $ba_c CPU-s"
row "peak RSS of verify-bundle, $BH events" MiB "$bv_mb" - "max:128" "$bv_s s, $bv_c CPU-s ($(rate "$BH" "$bv_s") events/s)"
row "peak RSS of prune, $BH events" MiB "$bp_mb" - "max:128" "$bp_s s, $bp_c CPU-s"
