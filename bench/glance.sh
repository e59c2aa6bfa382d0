#!/bin/sh
# bench/glance.sh BUILD_DIR — issue 35's figures: what `ledger metrics`
# costs on a large log, and how long a 10,000-event run's page takes to
# load and render in headless Chromium. Writes $BENCH_OUT/glance.tsv
# (scenario, unit, value, target, note), read by bench/results.sh.
#
#   BENCH_GLANCE_N  events in the metrics store (default 1,000,000; 20,000
#                   with BENCH_QUICK=1); ~78% are route decisions, given
#                   the proxy's fields so that their bodies are read
#   BENCH_OUT       output directory (default bench/out)
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
if [ "${BENCH_QUICK:-0}" = 1 ]; then N=${BENCH_GLANCE_N:-20000}; else N=${BENCH_GLANCE_N:-1000000}; fi
L=$PWD/$B/ledger
GEN=$PWD/$B/bench/gen_events
T=$(mktemp -d "${TMPDIR:-/tmp}/glance.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
R=$OUT/glance.tsv
: >"$R"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$R"; }
# secs CMD...: wall seconds of CMD (its output discarded)
secs() {
    a=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo fail; return; }
    b=$(date +%s%N)
    echo "$a $b" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ------------------------------------------------------------ metrics --
"$L" --dir "$T/m" init --origin bench.glance/box >/dev/null || exit 1
"$GEN" "$N" --seed 1 2>/dev/null |
    sed 's/"type":"route.decision","body":{/&"upstream":"ollama","status":200,"ttft_ms":120,/' |
    "$L" --dir "$T/m" ingest - >/dev/null 2>&1 || { echo "glance: ingest failed"; exit 1; }
cold=$(secs "$L" --dir "$T/m" metrics --no-cache)
first=$(secs "$L" --dir "$T/m" metrics)
warm=$(for i in 1 2 3 4 5; do secs "$L" --dir "$T/m" metrics; printf ' '; done | median)
"$GEN" 1000 --seed 2 2>/dev/null | tail -n 1000 | "$L" --dir "$T/m" ingest - >/dev/null 2>&1
incr=$(secs "$L" --dir "$T/m" metrics)
row "metrics, $N events, no cache" s "$cold" - "every event counted, 78% of bodies read"
row "metrics, $N events, first run (writes the cache)" s "$first" - ""
row "metrics, $N events, cache current" s "$warm" - "median of 5: doctor, routes, disk, no event read"
row "metrics, +1,000 events since the cache" s "$incr" - ""

# ----------------------------------------------------------- the page --
python3 - "$T/big.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    w = lambda t, b: f.write(json.dumps({"type": t, "body": b}) + "\n")
    w("run.started", {"run": "BIG", "pack": "p", "intent": "bench"})
    for i in range(9998):
        if i % 3 == 0:
            w("route.decision", {"route": "p/r", "run": "BIG", "chosen_model": "m",
              "latency_ms": 100 + i % 50, "fallback": i % 30 == 0, "outcome": "ok"})
        elif i % 3 == 1:
            w("run.step", {"run": "BIG", "step": "s%d" % i, "tool": "t",
              "status": "failed" if i % 101 == 0 else "ok", "duration_ms": 5})
        else:
            w("run.policy", {"run": "BIG", "decision": "allow", "rule": "r", "tool": "t"})
    w("run.finished", {"run": "BIG", "status": "ok", "duration_ms": 10000})
EOF
"$L" --dir "$T/p" init --origin bench.page/box >/dev/null &&
    "$L" --dir "$T/p" ingest "$T/big.jsonl" >/dev/null 2>&1 || exit 1
html=$(secs "$L" --dir "$T/p" timeline BIG --html "$T/big.html")
row "timeline --html, 10,000 events" s "$html" - "$(wc -c <"$T/big.html") bytes"
if command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    # a fresh browser each time: a second navigation in the same tab
    # also pays for tearing the first page's 50,000 elements down
    for i in 1 2 3; do
        node tests/e2e/lib/page_load.js chromium \
            "$T/big.html" 1 2>/dev/null
    done >"$T/load"
    load=$(sed -n 's/^load_ms=\([0-9]*\).*/\1/p' "$T/load" | tr '\n' ' ' | median)
    paint=$(sed -n 's/.*paint_ms=\([0-9]*\).*/\1/p' "$T/load" | tr '\n' ' ' | median)
    row "page of 10,000 events: load and render in Chromium" ms "${load:-n/a}" max:2000 \
        "median of 3, in the browser (DevTools), first paint ${paint:-?} ms"
else
    row "page of 10,000 events: load and render in Chromium" ms n/a max:2000 "needs chromium and node"
fi
printf 'glance: load %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
cat "$R"
