#!/bin/sh
# cli_json_types.sh — every command's -o json follows the one type rule of
# docs/OUTPUT.md: sequence numbers, log/tree sizes and ns times are strings
# of digits; counts, byte sizes and durations are numbers. Event bodies
# (recorded data) are not checked.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(dirname "$0")
T=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
J() { # J NAME ARGS...: the JSON lines of one command, named
    name=$1
    shift
    L "$@" -o json >"$T/j" 2>/dev/null
    sed "s/^/$name	/" "$T/j" >>"$T/all"
}

: >"$T/all"
J init init --origin example.org/box1
J ingest ingest "$HERE/../../examples/pdf-ops.jsonl"
J append append x.note --body '{"n":1}'
J keys-add keys add foundry --roles control-plane
J keys-list keys list
# event 1 is the log key's anchor (key.anchored): 33 is the x.note above
J erase erase 33 --reason "personal data"
J show show 26
J stats stats
J migrate migrate
J verify verify
J checkpoint checkpoint
J proof proof 5
J tiles tiles "$T/tiles"
J runs runs
J run runs R-0001
J routes routes
J permissions permissions
J models models
J packs packs
J promotions promotions
J projections projections
J doctor doctor
J timeline timeline R-0001
J query query
J export export --run R-0001 --out "$T/r1.bundle"
L keys verifier >"$T/box.vkey"
J verify-bundle verify-bundle "$T/r1.bundle" --trusted-key "$T/box.vkey"
J rebuild rebuild
J evals evals
J doctor-bundle doctor --bundle "$T/r1.bundle" --trusted-key "$T/box.vkey"
J archive archive --before 3 --out "$T/a.seg"

# an ingest through `ledger serve` answers in the same types as a direct one
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
printf '{"type":"x.served","body":{"n":1}}\n' >"$T/one.jsonl"
J ingest-served ingest "$T/one.jsonl"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=
grep -q '^ingest-served	' "$T/all" || bad "no JSON from an ingest through ledger serve"

for n in init ingest append keys-add keys-list erase show stats migrate verify checkpoint proof tiles runs run \
    routes permissions models packs projections doctor timeline query export verify-bundle rebuild \
    evals doctor-bundle archive; do
    grep -q "^$n	" "$T/all" || bad "$n: no JSON line"
done

python3 - "$T/all" >"$T/problems" <<'PY' || bad "JSON types differ from docs/OUTPUT.md: $(cat "$T/problems")"
import json, re, sys
STR = re.compile(r'^(seq|.*_seq|size|old_size|checkpoint_size|cosigned_size|'
                 r'tree_size|applied|ts|.*_ts|start_ns|t0)$')
FROMTO = {"verify", "ship"}
NUM = {"committed", "rejected", "selected", "erased", "events", "bodies",
       "checkpoints", "keys", "records", "behind", "count", "files", "bytes",
       "tiles", "bundles", "shipped", "batches", "cosignatures", "support",
       "tiles_written", "bundles_written", "fields_withheld",
       "bodies_withheld", "bodies_erased", "upgrades", "cases_total",
       "cases_passed", "context", "steps", "steps_failed", "fallbacks",
       "denials", "route_decisions", "policy_decisions", "refused",
       "unknown", "duration_ms", "latency_ms",
       "rel_us", "span_us"}
bad = []
def walk(cmd, x, path, key):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "body":  # recorded data: the vocabulary's types
                continue
            if k == "erased" and "leaf_hash" in x:
                # an event whose body was erased: `"erased": true` in
                # place of its body (docs/QUERY.md), not a count
                if v is not True:
                    bad.append(f"{cmd} {path}.erased: {v!r} is not true")
                continue
            walk(cmd, v, path + "." + k, k)
    elif isinstance(x, list):
        for v in x:
            walk(cmd, v, path + "[]", key)
    elif x is None:
        pass
    elif STR.match(key) or (key in ("from", "to") and cmd in FROMTO):
        if not (isinstance(x, str) and x.isdigit()):
            bad.append(f"{cmd} {path}: {x!r} is not a string of digits")
    elif (key in NUM and not (key == "fallbacks" and "counts" not in path)) or \
            (key == "after" and cmd == "archive") or \
            (key in ("version", "code_version") and cmd == "projections"):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            bad.append(f"{cmd} {path}: {x!r} is not a number")
for line in open(sys.argv[1]):
    cmd, _, text = line.rstrip("\n").partition("\t")
    try:
        v = json.loads(text)
    except ValueError as e:
        bad.append(f"{cmd}: not JSON: {text[:60]} ({e})")
        continue
    walk(cmd, v, "", "")
for b in sorted(set(bad)):
    print(b)
sys.exit(1 if bad else 0)
PY

[ $nfail = 0 ] || exit 1
echo "cli_json_types: every command's -o json follows docs/OUTPUT.md"
