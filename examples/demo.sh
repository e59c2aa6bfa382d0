#!/bin/sh
# demo.sh LEDGER_BIN — the support story on the example box: a user asks
# what happened to their PDF run; the ledger answers from signed events.
# The ledger lives in build/demo-ledger (recreated each run).
set -eu
L=${1:-build/ledger}
D=${DEMO_DIR:-build/demo-ledger}
here=$(dirname "$0")
rm -rf "$D" "$D.bundle" "$D.vkey"
say() { printf '\n== %s\n' "$*" >&2; }
run() { printf '$ ledger %s\n' "$*" >&2; "$L" --dir "$D" "$@"; }

say "Setting up: a ledger, and a day of the box recorded (examples/pdf-ops.jsonl)"
run init --origin demo.ledger.local/box
run ingest "$here/pdf-ops.jsonl"
run verify

say "A user: \"my invoice run came back worse than usual - what happened?\""
run runs
run timeline R-0001

say "Which model served request q-2, and why?"
run query run=R-0001 type=route.decision body.request_id=q-2
say "Why was the primary model not used? Its state changes:"
run query type=model.state model=qwen2.5-7b-instruct@q4_k_m

say "Is the box healthy now? (the doctor exits 1: degraded)"
rc=0
run doctor || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
run routes

say "Evidence for the ticket: a bundle anyone can check offline"
run keys verifier >"$D.vkey"
printf '(the verifier key, given to whoever checks bundles: %s)\n' \
    "$(cat "$D.vkey")" >&2
run export --run R-0001 --out "$D.bundle"
run verify-bundle "$D.bundle" --trusted-key "$D.vkey"

say "The box's control pipeline: a day of plans, tripcodes and memory (examples/pipeline)"
P=$D-pipeline
rm -rf "$P" "$P.ctl"
sh "$here/pipeline/day.sh" "$L" "$P" "$P.ctl"
prun() { printf '$ ledger %s\n' "$*" >&2; "$L" --dir "$P" "$@"; }
prun plans
say "P-0919 promoted without a passing verify: which events broke which rule?"
prun timeline P-0919
say "A tripcode used inside its cooldown was refused, and recorded"
prun tripcode list
say "note-42 was admitted past its gates, then purged by its hash prefix"
prun memory --revoked
prun gates || true
say "The doctor flags the broken promises (exit 1: degraded)"
prun verify
rc=0
prun doctor || rc=$?
[ "$rc" -le 1 ] || exit "$rc"

say "The demo ledger is in $D; try: $L --dir $D help"
