#!/bin/sh
# bench/sensors.sh BUILD_DIR — the sensors' benchmarks (issue 14):
#   eval    `ledger eval run` of 1,000 cases at concurrency 8 against
#           tests/stubs/stub.py answering each after 5 ms (target: <= 1 s
#           wall for the whole command, i.e. at most ~1 ms a case beyond
#           the endpoint's 625 ms floor of 1000 x 5 ms / 8)
#   verify  `ledger model verify FILE` of a 1 GiB file, hashing rate
#           (target >= 1 GB/s, SHA-256 with the CPU's extensions); the file
#           is read once before timing so the page cache holds it
# Environment: BENCH_EVAL_CASES (1000), BENCH_VERIFY_MB (1024), BENCH_REPS (3)
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
L=$PWD/$B/ledger
N=${BENCH_EVAL_CASES:-1000}
MB=${BENCH_VERIFY_MB:-1024}
REPS=${BENCH_REPS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_sensors.XXXXXX") || exit 1
SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }

echo '{"delay_ms": 5, "default_answer": "ok"}' >"$T/state.json"
python3 tests/stubs/stub.py --state "$T/state.json" --port-file "$T/port" \
    >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
EP="http://127.0.0.1:$(cat "$T/port")/v1"
i=0
while [ $i -lt "$N" ]; do
    echo "{\"id\": \"c$i\", \"prompt\": \"q$i\", \"assert\": [{\"type\": \"equals\", \"value\": \"ok\"}]}"
    i=$((i + 1))
done >"$T/suite.jsonl"
"$L" --dir "$T/l" init >/dev/null

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
best=
r=0
while [ $r -lt "$REPS" ]; do
    t0=$(now)
    "$L" --dir "$T/l" eval run "$T/suite.jsonl" --target route:bench \
        --candidate m --endpoint "$EP" -j 8 >"$T/out" 2>&1 ||
        { echo "eval run failed: $(tail -2 "$T/out")"; exit 1; }
    t1=$(now)
    s=$(calc "$t1 - $t0")
    echo "eval run: $N cases, concurrency 8, 5 ms stub: ${s} s ($(tail -1 "$T/out" | sed 's/;.*//'))"
    if [ -z "$best" ] || [ "$(calc "($s < $best)")" = 1 ]; then best=$s; fi
    r=$((r + 1))
done
ok=$(calc "($best <= 1.0)")
echo "eval best of $REPS: ${best} s (target <= 1 s): $([ "$ok" = 1 ] && echo met || echo NOT met)"

head -c $((MB * 1024 * 1024)) /dev/urandom >"$T/w.bin"
cat "$T/w.bin" >/dev/null
best=
r=0
while [ $r -lt "$REPS" ]; do
    t0=$(now)
    "$L" --dir "$T/l" model verify "$T/w.bin" --model w \
        --expect "$(printf '0%.0s' $(seq 64))" >/dev/null 2>&1
    t1=$(now)
    s=$(calc "$t1 - $t0")
    rate=$(calc "$MB * 1.048576 / $s / 1000")
    echo "model verify: $MB MiB in ${s} s = ${rate} GB/s"
    if [ -z "$best" ] || [ "$(calc "($rate > $best)")" = 1 ]; then best=$rate; fi
    r=$((r + 1))
done
ok=$(calc "($best >= 1.0)")
echo "verify best of $REPS: ${best} GB/s (target >= 1 GB/s): $([ "$ok" = 1 ] && echo met || echo NOT met)"
