#!/bin/sh
# bench/epochs.sh BUILD_DIR — issue 65's figures: what forward-secure epoch
# keys cost (bench/epoch_cost.c says how each is measured). Writes
# $BENCH_OUT/epochs.tsv (scenario, unit, value, target, note), read by
# bench/results.sh; the program's own line stays in epochs.txt.
#
#   BENCH_EPOCH_N   events of the verify comparison (default 1,000,000;
#                   100,000 with BENCH_QUICK=1), an epoch every 1,000
#   BENCH_OUT       output directory (default bench/out)
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
if [ "${BENCH_QUICK:-0}" = 1 ]; then N=${BENCH_EPOCH_N:-100000}; else N=${BENCH_EPOCH_N:-1000000}; fi
R=$OUT/epochs.tsv
: >"$R"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$R"; }
"$B/bench/epoch_cost" --events "$N" --every 1000 --rounds 3 >"$OUT/epochs.txt" 2>&1 ||
    { row "epoch_cost" "-" "fail" "-" "$(tail -n 1 "$OUT/epochs.txt")"; exit 0; }
v() { sed -n "s/.*[ ^]$1=\([-0-9.]*\).*/\1/p; s/^$1=\([-0-9.]*\).*/\1/p" "$OUT/epochs.txt" | head -n 1; }
sign=$(v sign_us)
row "CPU per epoch (periods in a row)" "us" "$(v epoch_cpu_us)" "max:100" \
    "in user space $(v epoch_user_us) us (the tree's keys and cert signatures; one Ed25519 signature here $sign us; the seal's epoch signature is made in place of the key's own, not counted); the state file's two writes and fdatasyncs $(v epoch_store_cpu_us) us"
row "stored per epoch" "bytes" "$(v epoch_bytes)" "max:160" \
    "the epoch part of the seal opening it, a cert amortized, less the key's own signature it replaces; each further seal $(v seal_bytes) B"
row "chain for one epoch key, year-old ledger, 60 s epochs" "bytes" "$(v chain_bytes)" "max:1048576" \
    "32 certs and the links of its period: what a one-event bundle carries (bundles do not carry it yet)"
row "checking that chain" "ms" "$(v chain_verify_ms)" "max:1000" "32 + links Ed25519 checks"
row "verify --full, epoch every 1000 events / none" "ratio" "$(v verify_cpu_ratio)" "min:0.95" \
    "$N events, by CPU time side by side (wall: $(v verify_ratio))"
