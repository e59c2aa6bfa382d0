#!/bin/sh
# bench_results.sh — bench/results.sh, which `make bench` runs to rewrite
# bench/RESULTS.md from the parts' outputs (issue 35): on a run's worth of
# outputs it writes the machine, date and commit, one table a scenario,
# verdicts from the targets (a missed one explained from bench/bounds.tsv,
# or said to be unexplained), the Proxy section from proxy.tsv or
# proxy.md, "Missing" for a part that left nothing, under 200 lines; an
# empty or missing directory is exit 66. The committed RESULTS.md is what
# the generator writes (its first line and sections).
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
printf 'machine\tTest CPU, 2 CPUs\ndate\t2026-11-24 10:00 UTC\ncommit\tabc1234\nload\t0.5\n' >"$T/o/meta"
cat >"$T/o/results.tsv" <<EOF
ingest 1000000${tab}events/s${tab}150000${tab}50000${tab}hi${tab}ratio:2.5${tab}row peer
verify --full 1000000${tab}events/s${tab}100000${tab}-${tab}hi${tab}min:250000${tab}absolute
append, one process${tab}ms p50${tab}2.1${tab}4.0${tab}lo${tab}max:3${tab}
query run=R (1000000)${tab}ms p50${tab}2.0${tab}2.5${tab}lo${tab}ratio:1${tab}
EOF
printf 'scenario\tledger\tpeer\n64 clients acked events/s\t120000\t50000\n' >"$T/o/serve.tsv"
printf 'page of 10,000 events: load and render in Chromium\tms\t2500\tmax:2000\tnote\n' >"$T/o/glance.tsv"
printf 'proxy overhead p50\tms\t0.4\t0.3\tlo\tmax:1\tvs nginx\n' >"$T/o/proxy.tsv"
printf 'scenario\tunit\tfigure\ttarget\tverdict\nprotobuf / socket\tratio\t1.20\t>= 0.7\tmeets\nJSON / socket\tratio\t0.40\t>= 0.5\t**misses**\n' >"$T/o/otlp.tsv"
printf 'verify --full\tSHA-256, the test says\n' >"$T/bounds"

BENCH_BOUNDS="$T/bounds" sh "$G" "$T/o" >"$T/r.md" 2>"$T/e" || fail "exit $?: $(cat "$T/e")"
has() { grep -qF -- "$1" "$T/r.md" || fail "missing: $1"; }
has "| machine | Test CPU, 2 CPUs |"
has "| commit | abc1234 |"
has "## How to read these"
has "## Ingest, verify, append (issues 2, 12)"
has "## Query (issues 5, 17)"
has "| ingest 1000000 | events/s | 150000 | 50000 | 3.00 | >= 2.5x peer | meets | row peer |"
has "| verify --full 1000000 | events/s | 100000 | - | - | >= 250000 | **misses** | absolute |"
has "| append, one process | ms p50 | 2.1 | 4.0 | 0.53 | <= 3 | meets |"
has "| 64 clients acked events/s | 120000 | 50000 |"
has "## Proxy (issue 33)"
has "| proxy overhead p50 | ms | 0.4 | 0.3 | 1.33 | <= 1 | meets | vs nginx |"
has "## OpenTelemetry in: \`ledger serve --otlp\` (issue 48)"
has "| protobuf / socket | ratio | 1.20 | >= 0.7 | meets |"
has "- **JSON / socket**: not explained yet"
has "- **verify --full 1000000**: SHA-256, the test says"
has "- **page of 10,000 events: load and render in Chromium**: not explained yet"
has 'Missing: `bench/sensors.sh` left no `sensors.txt` in this run.'
grep -q 'ingest 1000000\*\*' "$T/r.md" && fail "a met target listed as missed"
[ "$(wc -l <"$T/r.md")" -lt 200 ] || fail "over 200 lines"
[ -e "$T/o/.missed" ] && fail "left its scratch file behind"

# a Markdown fragment for the proxy is taken as it is
printf '### nginx side by side\n' >"$T/o/proxy.md"
sh "$G" "$T/o" 2>/dev/null | grep -q '^### nginx side by side$' || fail "proxy.md not included"
rm "$T/o/proxy.md" "$T/o/proxy.tsv"
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
[ "$(wc -l <"$R")" -lt 200 ] || fail "bench/RESULTS.md is over 200 lines"
grep -q '^## What bounds the missed targets$' "$R" || fail "bench/RESULTS.md has no bounds"

if [ $fails -eq 0 ]; then
    echo "bench_results: ok"
    exit 0
fi
echo "bench_results: $fails failure(s)"
exit 1
