#!/bin/sh
# demo.sh LEDGER_BIN — the main job on an embedded default ledger: create a
# ledger, record the pdf-ops scenario, verify it, and show what was
# recorded. The ledger lives in build/demo-ledger (recreated each run).
set -eu
L=${1:-build/ledger}
D=${DEMO_DIR:-build/demo-ledger}
here=$(dirname "$0")
rm -rf "$D"
echo "== ledger init" >&2
"$L" --dir "$D" init --origin demo.ledger.local/box
echo "== ledger keys add foundry (an actor key for the control plane)" >&2
"$L" --dir "$D" keys add foundry --roles control-plane >/dev/null
echo "== ledger ingest $here/pdf-ops.jsonl" >&2
"$L" --dir "$D" ingest "$here/pdf-ops.jsonl"
echo "== ledger append (one event signed by the foundry key)" >&2
"$L" --dir "$D" append x.demo.note --actor foundry \
    --body '{"note":"demo finished","by":"setup"}'
echo "== ledger verify --full" >&2
"$L" --dir "$D" verify --full
echo "== ledger stats" >&2
"$L" --dir "$D" stats
echo "== ledger show 26 (a route decision, in full)" >&2
"$L" --dir "$D" show 26
echo "== ledger checkpoint" >&2
"$L" --dir "$D" checkpoint
echo "== ledger proof 26" >&2
"$L" --dir "$D" proof 26
echo "== the demo ledger is in $D; try: $L --dir $D show 5 -o json" >&2
