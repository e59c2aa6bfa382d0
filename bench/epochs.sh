#!/bin/sh
# bench/epochs.sh BUILD_DIR — issue 65's figures: what forward-secure epoch
# keys cost (bench/epoch_cost.c says how each is measured). Writes
# $BENCH_OUT/epochs.tsv (scenario, unit, value, target, note), read by
# bench/results.sh; the program's own line stays in epochs.txt.
#
#   BENCH_EPOCH_N   events of the verify comparison (default 1,000,000;
#                   100,000 with BENCH_QUICK=1), an epoch every 1,000
#   BENCH_OUT       output directory (default bench/out)
#   SERVE_CLIENTS, SERVE_EVENTS, SERVE_WINDOW
#                   the serve comparison's load (64, 2000, 16 as serve.sh)
#
# `ledger serve`'s acked rate with the log key's epoch keys and without:
# three ledgers (init's default of 60 s epochs, --epoch 1, --epoch 0),
# each served by its own daemon and loaded in turn by bench/serve_load_ep
# (64 clients, 16 unanswered each), three rounds; best of each.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
if [ "${BENCH_QUICK:-0}" = 1 ]; then N=${BENCH_EPOCH_N:-100000}; else N=${BENCH_EPOCH_N:-1000000}; fi
R=$OUT/epochs.tsv
: >"$R"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$R"; }
"$B/bench/epoch_cost" --events "$N" --every 1000 --rounds 3 --ledger "$B/ledger" >"$OUT/epochs.txt" 2>&1 ||
    { row "epoch_cost" "-" "fail" "-" "$(tail -n 1 "$OUT/epochs.txt")"; exit 0; }
v() { sed -n "s/.*[ ^]$1=\([-0-9.]*\).*/\1/p; s/^$1=\([-0-9.]*\).*/\1/p" "$OUT/epochs.txt" | head -n 1; }
sign=$(v sign_us)
row "CPU per epoch (periods in a row)" "us" "$(v epoch_cpu_us)" "max:100" \
    "in user space $(v epoch_user_us) us (the tree's keys and cert signatures; one Ed25519 signature here $sign us; the seal's epoch signature is made in place of the key's own, not counted); the state file's two writes and fdatasyncs $(v epoch_store_cpu_us) us"
row "floor: one key pair, one signature, two ordered syncs" "us" "$(v floor_epoch_us)" "-" \
    "side by side: the least any design that links a fresh key and overwrites the old secret in place, power-safe, can cost here (docs/EPOCHS.md); the key and signature $(v floor_link_us) us, the two writes and fdatasyncs of a plain file of the slot's size $(v floor_store_us) us"
row "stored per epoch" "bytes" "$(v epoch_bytes)" "max:160" \
    "the epoch part of the seal opening it, a cert amortized, less the key's own signature it replaces; each further seal $(v seal_bytes) B"
row "chain for one epoch key, year-old ledger, 60 s epochs" "bytes" "$(v chain_bytes)" "max:1048576" \
    "32 certs and the links of its period: what a one-event bundle carries in its seal record"
row "checking that chain" "ms" "$(v chain_verify_ms)" "max:1000" "32 + links Ed25519 checks"
row "verify --full, epoch every 1000 events / none" "ratio" "$(v cli_verify_cpu_ratio)" "min:0.95" \
    "the command, $N events, by CPU time side by side, best of 3 each (wall: $(v cli_verify_ratio); $(v cli_verify_epochs_s) s against $(v cli_verify_plain_s) s)"
row "ldg_verify alone (seals, chain, tree), the same ledgers" "ratio" "$(v verify_cpu_ratio)" "-" \
    "the library's check without the command's body index and projections, which cost the same with epochs or without (wall: $(v verify_ratio))"

# serve: the acked rate with epoch keys (60 s, 1 s) and without
NC=${SERVE_CLIENTS:-64}
NE=${SERVE_EVENTS:-2000}
W=${SERVE_WINDOW:-16}
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait; rm -rf "$T"' EXIT
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for e in 60 1 0; do
    "$B/ledger" --dir "$T/e$e" init --epoch "$e" >/dev/null ||
        { row "serve, epochs of $e s" "-" "fail" "-" "init --epoch $e failed"; exit 0; }
    "$B/ledger" --dir "$T/e$e" serve >"$T/e$e.out" 2>"$T/e$e.err" &
    pids="$pids $!"
done
for e in 60 1 0; do
    i=0
    while ! grep -q '^listening on ' "$T/e$e.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
done
best60=0 best1=0 best0=0
for order in "60 1 0" "1 0 60" "0 60 1"; do # each first once
    for e in $order; do
        out=$("$B/bench/serve_load_ep" "$T/e$e/ledger.sock" "$NC" "$NE" "$W")
        case "$out" in
        *" errors=0"*) ;;
        *) row "serve, epochs of $e s" "-" "fail" "-" "the load failed or had errors: $out"; exit 0 ;;
        esac
        eps=$(field "$out" eps)
        eval "b=\$best$e"
        if awk -v a="$eps" -v b="$b" 'BEGIN { exit !(a > b) }'; then eval "best$e=$eps"; fi
    done
done
for p in $pids; do kill -TERM "$p"; done
wait
pids=""
adv=$("$B/ledger" --dir "$T/e1" keys epochs -o json 2>/dev/null | grep -c '"key":"log"' || true)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
row "serve acked events/s, epochs of 60 s / none" "ratio" "$(ratio "$best60" "$best0")" "min:0.95" \
    "$NC clients x $NE events, window $W, epoll load, best of 3 each, taken in turn (each first once): $best60 against $best0 events/s"
row "serve acked events/s, epochs of 1 s / none" "ratio" "$(ratio "$best1" "$best0")" "-" \
    "the same with an epoch's end every second ($adv epoch keys of the log key over the run): $best1 events/s"
