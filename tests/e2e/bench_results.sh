#!/bin/sh
# bench_results.sh — bench/results.sh, which `make bench` runs to rewrite
# bench/RESULTS.md from the parts' outputs (issues 35, 47): on a run's
# worth of outputs it writes one machine and one date line, one table a
# group of scenarios with verdicts from the targets (serve's, the
# fleet's and the sensors' too), each missed target as one line with its
# bound's headline and the bounds.tsv prefix (the unexplained ones in
# one paragraph), detail rows left to the files it names, the proxy's
# figures from proxy.tsv (key/value or rows) or proxy.md, "Missing" for
# a part that left nothing, under 215 lines, two screens at most (prose <=
# 100 bytes, table rows <= 120, a note cut to fit ends in " ..."); an
# empty or missing directory is exit 66. The committed RESULTS.md is
# what the generator writes (its first line and sections).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/bench_results.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
G="$ROOT/bench/results.sh"
tab=$(printf '\t')

mkdir "$T/o"
printf 'machine\tTest CPU, 2 CPUs\ndate\t2026-11-24 10:00 UTC\nend\t11:02 UTC\ncommit\tabc1234\nload\t0.5\n' >"$T/o/meta"
long="the first clause of a long note; then a second clause that cannot fit in the row at all, and a third one"
cat >"$T/o/results.tsv" <<EOF
ingest 1000000${tab}events/s${tab}150000${tab}50000${tab}hi${tab}ratio:2.5${tab}row peer
verify --full 1000000${tab}events/s${tab}100000${tab}-${tab}hi${tab}min:250000${tab}absolute
append, one process${tab}ms p50${tab}2.1${tab}4.0${tab}lo${tab}max:3${tab}
query run=R (1000000)${tab}ms p50${tab}2.0${tab}2.5${tab}lo${tab}ratio:1${tab}$long
store bench: entries (1000000)${tab}B/event${tab}196.4${tab}-${tab}lo${tab}-${tab}
store bench: bodies (1000000)${tab}B/event${tab}138.7${tab}-${tab}lo${tab}-${tab}
EOF
printf 'scenario\tledger\tpeer\n64 clients acked events/s\t120000\t50000\n64 clients ack p99 ms\t30.5\t9\nledger/peer events/s\t2.40\t\n' >"$T/o/serve.tsv"
printf 'page of 10,000 events: load and render in Chromium\tms\t2500\tmax:2000\tnote\n' >"$T/o/glance.tsv"
printf 'proxy overhead p50\tms\t0.4\t0.3\tlo\tmax:1\tvs nginx\n' >"$T/o/proxy.tsv"
printf 'scenario\tunit\tfigure\ttarget\tverdict\nprotobuf / socket\tratio\t1.20\t>= 0.7\tmeets\nJSON / socket\tratio\t0.40\t>= 0.5\t**misses**\n' >"$T/o/otlp.tsv"
cat >"$T/o/sensors.txt" <<EOF
machine: Test CPU
eval run: 1000 cases, concurrency 8, 5 ms stub: 0.75 s wall, 0.14 s CPU (PASSED)
  peer: the same 1000 POSTs with curl --parallel-max 8: 0.79 s wall, 0.12 s CPU
  peer: the same 1000 POSTs with curl --parallel-max 8: 0.74 s wall, 0.12 s CPU
eval best of 2: 0.68 s (target <= 1 s; floor 0.625 s): met, load 6.49
model verify: 1024 MiB in 1.12 s = 0.958696 GB/s wall, 1.17993 GB per CPU-second
  peer sha256sum: 3.93 s = 0.273216 GB/s wall, 0.293372 GB per CPU-second
  peer openssl dgst -sha256: 0.99 s = 1.08459 GB/s wall, 1.27826 GB per CPU-second
verify best of 2: 0.958696 GB/s wall (target >= 1 GB/s): NOT met, load 5.82
EOF
cat >"$T/o/retention.tsv" <<EOF
store, bytes an event (1000001 events, layout 5)${tab}B${tab}423.5${tab}-${tab}-${tab}seeded salts
archive 903001 events (one segment)${tab}events/s${tab}328364${tab}-${tab}min:200000${tab}2.18 CPU-s
verify-bundle of the 903001-event segment${tab}events/s${tab}200221${tab}-${tab}min:300000${tab}two threads
peak RSS of archive, 903001 events${tab}MiB${tab}40.6${tab}-${tab}max:128${tab}
peak RSS of prune, 903001 events${tab}MiB${tab}66.7${tab}-${tab}max:128${tab}
EOF
printf 'retention: archive 903001 events as one segment: 2.75 s\n' >"$T/o/retention.txt"
printf 'entries 196 B an event\n' >"$T/o/store-databases.txt"
cat >"$T/o/fleet.txt" <<EOF
fleet: machine: 2 cores, 24105 MiB, load 5.97 6.54 7.42
fleet: ship 1000001 events: 38.4 s, 26069 events/s (target >= 100000 events/s)
fleet: publish 1000001 events: 6.15 s (no target)
fleet: mirror 1000001 events: 13.73 s (target <= 10 s for 1M)
fleet: witness: 3200 cosignatures in 3.03 s, 1057/s (32 logs at once) (target >= 1000/s)
fleet: skip: clickhouse not installed
EOF
cat >"$T/o/wear.tsv" <<EOF
# mode full: timed runs 150 s, scrape every 15 s; layout 9; date 2026-11-29 06:27 UTC; commit abc1234; machine Box, 2 CPUs
scenario${tab}ledger events${tab}peer events${tab}ledger device B/event${tab}ledger process B/event${tab}peer device B/event${tab}peer process B/event${tab}ledger flushes/event${tab}peer flushes/event${tab}ledger written/stored${tab}note
lone 1/s${tab}150${tab}150${tab}17000${tab}260000${tab}39000${tab}17800${tab}1.60${tab}2.10${tab}5.50${tab}one in flight
lone 100/s${tab}15000${tab}15000${tab}7800${tab}250000${tab}18600${tab}18000${tab}1.03${tab}1.04${tab}3.30${tab}one in flight
lone 1000/s${tab}1000${tab}1000${tab}9000${tab}9100${tab}18000${tab}18000${tab}1.00${tab}1.00${tab}3.00${tab}one in flight, 150 s; reached 196/s (peer 343/s)
64 clients x 16${tab}128000${tab}128000${tab}1261${tab}6118${tab}556${tab}550${tab}0.01${tab}0.00${tab}2.53${tab}x
ingest 200000${tab}200000${tab}200000${tab}1100${tab}1200${tab}2100${tab}2000${tab}0.01${tab}0.01${tab}1.20${tab}x
proxy async${tab}9000${tab}9000${tab}3000${tab}3100${tab}18000${tab}17000${tab}0.20${tab}1.00${tab}2.00${tab}x
EOF
printf 'verify --full\tSHA-256, the test says\nverify-bundle of\tthe box'"'"'s load, not the work: %s\nquery\tthe cursor: a long account\n' \
    "$(printf 'x%.0s' $(seq 1 300))" >"$T/bounds"

BENCH_BOUNDS="$T/bounds" sh "$G" "$T/o" >"$T/r.md" 2>"$T/e" || fail "exit $?: $(cat "$T/e")"
has() { grep -qF -- "$1" "$T/r.md" || fail "missing: $1"; }
hasnt() { grep -qF -- "$1" "$T/r.md" && fail "should not be there: $1"; }
has "- machine: Test CPU, 2 CPUs"
has "- date: 2026-11-24 10:00 UTC to 11:02 UTC"
has "- commit: abc1234"
[ "$(grep -c -e '^- machine:' -e '^- date:' -e '^| machine' -e '^| date' "$T/r.md")" = 2 ] ||
    fail "not one machine and one date line"
has "## How to read these"
has "## Ingest, verify, append, proofs, tiles (issues 2, 3, 12)"
has "## Query (issues 5, 17)"
has "| ingest 1000000 | events/s | 150000 | 50000 | 3.00 | >= 2.5x peer | meets | row peer |"
has "| verify --full 1000000 | events/s | 100000 | - | - | >= 250000 | **misses** | absolute |"
has "| append, one process | ms p50 | 2.1 | 4.0 | 0.53 | <= 3 | meets |"
# a note that does not fit is cut at a clause, and says so
has "| query run=R (1000000) | ms p50 | 2.0 | 2.5 | 0.80 | <= 1x peer | meets | the first clause of a long note ... |"
# rows with neither a target nor a peer are left to results.tsv, named
hasnt "store bench: entries"
tr '\n' ' ' <"$T/r.md" | grep -qF 'Bytes by database: `bench/out/store-databases.txt` and 2 rows of `bench/out/results.tsv`.' ||
    fail "the rows left out and the store's breakdown not named"
# serve: the ratio a column, issue 13's targets judged
has "| 64 clients acked events/s | 120000 | 50000 | 2.40 | >= 60000, >= 1.5x peer | meets |"
has "| 64 clients ack p99 ms | 30.5 | 9 | 3.39 | <= 25 | **misses** |"
hasnt "| ledger/peer events/s"
# sensors: the best rounds, judged
has "| eval run: 1000 cases, concurrency 8, 5 ms stub (best of 2) | 0.68 s | 0.74 s (curl) | <= 1 s | meets |"
has "| model verify: 1024 MiB (best of 2) | 0.959 GB/s | sha256sum 0.273, openssl 1.085 GB/s | >= 1 GB/s | **misses** |"
has '`bench/out/sensors.txt`'
# retention: the rows with a target, peak RSS of one size in one row
has "| peak RSS of archive / prune, 903001 events | MiB | 40.6 / 66.7 | - | <= 128 | meets |"
hasnt "store, bytes an event"
has '1 more row: `bench/out/retention.tsv`; each step in words: `retention.txt`.'
has "## Proxy (issue 33)"
has "| proxy overhead p50 | ms | 0.4 | 0.3 | 1.33 | <= 1 | meets | vs nginx |"
has "## OpenTelemetry in: \`ledger serve --otlp\` (issue 48)"
has "| protobuf / socket | ratio | 1.20 | >= 0.7 | meets |"
# wear (issue 64): bytes an event in KB, the ratio to the peer's device
# count, issue 64's targets judged by row, the mode and the files named
has "## Wear: bytes written an event (issue 64)"
has "| lone 1/s | 17.0 KB | 39.0 KB | 0.44 | <= 16 KiB | **misses** |"
has "| lone 100/s | 7800 B | 18.6 KB | 0.42 | <= 8 KiB, <= 0.5x peer | meets |"
has "| 64 clients x 16 | 1261 B | 556 B | 2.27 | <= 2x stored | **misses** (2.53x) |"
has "| ingest 200000 | 1100 B | 2100 B | 0.52 | <= 1.5x stored | meets (1.20x) |"
has "| lone 1000/s (reached 196/s) | 9000 B | 18.0 KB | 0.50 | - | - |"
has "| proxy async | 3000 B | 18.0 KB | 0.17 | - | - |"
hasnt "layout 8"
tr '\n' ' ' <"$T/r.md" | grep -qF 'Layout 9: full mode, 2026-11-29 06:27 UTC, commit abc1234, Box, 2 CPUs' ||
    fail "wear: the layout 9 run not said"
for s in "wear, lone 1/s" "wear, 64 clients x 16"; do
    tr '\n' ' ' <"$T/r.md" | sed 's/.*Not explained yet//' | grep -qF "**$s**" ||
        fail "$s: not said to be unexplained"
done
grep -qF '**wear, lone 100/s**' "$T/r.md" && fail "wear: a met target listed as missed"
# a missed target: one line, the bound's headline (cut to fit) and its
# prefix; the unexplained ones are named in one paragraph
has "- **verify --full 1000000**: SHA-256, the test says (\`verify --full\`)"
has "- **verify-bundle of the 903001-event segment**: the box's load, not the work (\`verify-bundle of\`)"
hasnt "xxxxxxxxxx"
# (the unexplained ones are one wrapped paragraph)
tr '\n' ' ' <"$T/r.md" | sed 's/.*Not explained yet//' >"$T/un"
for s in "JSON / socket" "page of 10,000 events: load and render in Chromium" \
    "serve, 64 clients ack p99 ms" "model verify"; do
    grep -qF "**$s**" "$T/un" || fail "$s: not said to be unexplained"
done
# fleet: a row a figure, judged in the target's unit
has "| ship 1000001 events | 38.4 s, 26069 events/s | >= 100000 events/s | **misses** |"
has "| publish 1000001 events | 6.15 s | - | - |"
has "| mirror 1000001 events | 13.73 s | <= 10 s for 1M | **misses** |"
has "| witness | 3200 cosignatures in 3.03 s, 1057/s (32 logs at once) | >= 1000/s | meets |"
has "- skip: clickhouse not installed"
hasnt "fleet: machine"
for s in "ship 1000001 events" "mirror 1000001 events"; do
    grep -qF "**$s**" "$T/un" || fail "$s: not said to be unexplained"
done
has 'Missing: `bench/journal.sh` left no `journal.tsv` in this run.'
rm "$T/o/wear.tsv"
sh "$G" "$T/o" 2>/dev/null | grep -qF 'Missing: `bench/wear.sh` left no `wear.tsv` in this run.' ||
    fail "wear: a run without wear.tsv not said to be missing"

grep -q 'ingest 1000000\*\*' "$T/r.md" && fail "a met target listed as missed"
[ "$(wc -l <"$T/r.md")" -lt 215 ] || fail "over 215 lines"
awk '/^\|/ && length > 120 { print "row over 120 bytes: " $0; bad = 1 }
     !/^\|/ && length > 100 { print "line over 100 bytes: " $0; bad = 1 } END { exit bad }' "$T/r.md" ||
    fail "lines that do not fit a screen"
[ -e "$T/o/.missed" ] && fail "left its scratch file behind"

# bench/proxy.sh's key/value proxy.tsv: the rows with a target, judged
mkdir "$T/p"
cat >"$T/p/proxy.tsv" <<EOF
c64_nginx_rps${tab}36343
c64_nginx_p99_ms${tab}2.823
c64_proxy_rps${tab}9793
c64_proxy_p99_ms${tab}12.674
c64_proxy-async_rps${tab}11441
c64_proxy-async_p99_ms${tab}10.273
c1_direct_p50_ms${tab}0.058
c1_direct_p99_ms${tab}0.107
c1_added_nginx_ms${tab}0.045
c1_added_sync_ms${tab}0.828
c1_added_async_ms${tab}0.086
c1_added_p99_nginx_ms${tab}0.105
c1_added_p99_sync_ms${tab}1.278
c1_added_p99_async_ms${tab}0.433
slo_nginx_rps${tab}33946
slo_nginx_clients${tab}16
slo_nginx_p99_ms${tab}0.620
slo_proxy_rps${tab}6202
slo_proxy_clients${tab}16
slo_proxy_p99_ms${tab}4.570
slo_proxy_answered${tab}93440
slo_proxy_recorded${tab}102614
slo_proxy-async_rps${tab}15006
slo_proxy-async_clients${tab}16
slo_proxy-async_p99_ms${tab}1.960
s1_added_ttfb_nginx_ms${tab}0.098
s1_added_ttfb_proxy_ms${tab}0.275
s64_proxy_peak_rss_kib${tab}24576
EOF
printf '| whole table |\n' >"$T/p/proxy.md"
printf 'proxy latency, one client\tasync'"'"'s p99: the wake-ups\n' >"$T/pb"
BENCH_BOUNDS="$T/pb" sh "$G" "$T/p" >"$T/p.md" 2>/dev/null || fail "proxy.tsv alone: exit $?"
for want in \
    "| 1 client, p99 added over direct (0.107), ms | 0.105 | 1.278 | 0.433 | <= 1.5 sync, <= 0.3 async | **misses** |" \
    "| requests/s, p99 <= 5 ms (clients; p99) | 33946 (16; 0.620) | 6202 (16; 4.570) | 15006 (16; 1.960) | sync >= 5000 | meets |" \
    "| sync: answered, recorded in those runs | - | 93440, 102614 | - | every answer | meets |" \
    "| 64 clients, requests/s (p99 ms) | 36343 (2.823) | 9793 (12.674) | 11441 (10.273) | - | - |" \
    "| 64 streaming clients, proxy peak RSS, MiB | - | 24 | - | <= 64 | meets |" \
    '`bench/out/proxy.md`' \
    "- **proxy latency, one client**: async's p99 (\`proxy latency, one client\`)"; do
    grep -qF -- "$want" "$T/p.md" || fail "proxy.tsv: missing: $want"
done
grep -q 'whole table' "$T/p.md" && fail "proxy.md copied beside proxy.tsv's table"

# a Markdown fragment for the proxy alone: what precedes its table and
# the rows with a target; the rest is named
rm "$T/o/proxy.tsv"
printf '%s\n' '### nginx side by side' '' '| figure | nginx | sync | async | target | met |' '|---|---|---|---|---|---|' \
    '| no target here | 1 | 2 | 3 | | |' '| with a target | 1 | 2 | 3 | <= 4 | yes |' '' 'the sweep' >"$T/o/proxy.md"
sh "$G" "$T/o" >"$T/m.md" 2>/dev/null
grep -q '^### nginx side by side$' "$T/m.md" || fail "proxy.md not included"
grep -q '^| with a target |' "$T/m.md" || fail "proxy.md: a row with a target left out"
grep -q -e 'no target here' -e 'the sweep' "$T/m.md" && fail "proxy.md: detail on the page"
grep -qF 'The other rows and lines: `bench/out/proxy.md`.' "$T/m.md" || fail "proxy.md's rest not named"
rm "$T/o/proxy.md"
sh "$G" "$T/o" 2>/dev/null | grep -q 'No proxy bench part in this run' ||
    fail "no place for the proxy's figures when its part did not run"

mkdir "$T/empty"
sh "$G" "$T/empty" >/dev/null 2>&1; rc=$?
[ $rc = 66 ] || fail "an empty directory: exit $rc, want 66"
sh "$G" "$T/none" >/dev/null 2>&1; rc=$?
[ $rc = 66 ] || fail "a missing directory: exit $rc, want 66"

# the committed file is the generator's
R="$ROOT/bench/RESULTS.md"
head -1 "$R" | grep -q '^# Benchmark results$' || fail "bench/RESULTS.md is not the generator's"
[ "$(wc -l <"$R")" -lt 215 ] || fail "bench/RESULTS.md is over 215 lines"
grep -q '^## What bounds the missed targets$' "$R" || fail "bench/RESULTS.md has no bounds"

if [ $fails -eq 0 ]; then
    echo "bench_results: ok"
    exit 0
fi
echo "bench_results: $fails failure(s)"
exit 1
