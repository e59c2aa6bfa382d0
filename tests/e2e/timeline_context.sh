#!/bin/sh
# timeline_context.sh — `ledger timeline RUN` shows, marked as context, the
# events that explain the run: a grant of its pack revoked mid-run (before
# the DENY it causes), its route's model going offline (before the
# fallback), an eval and a rollback of its route, runtime health; and the
# latest model state and runtime health before the start. Events of other
# packs, other models and other runs' decisions are left out.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
export LEDGER_DIR="$T/d"
"$L" init >/dev/null || exit 1
cat >"$T/s.jsonl" <<'J'
{"type":"runtime.registered","body":{"runtime":"ollama","endpoint":"http://127.0.0.1:11434"}}
{"type":"runtime.health","body":{"runtime":"ollama","status":"up"}}
{"type":"model.registered","body":{"model":"m-big","digest":"sha256:aa"}}
{"type":"model.registered","body":{"model":"m-small","digest":"sha256:bb"}}
{"type":"model.registered","body":{"model":"m-other","digest":"sha256:cc"}}
{"type":"model.state","body":{"model":"m-big","state":"available"}}
{"type":"model.state","body":{"model":"m-small","state":"available"}}
{"type":"pack.installed","body":{"pack":"p","version":"1.0","manifest_digest":"sha256:dd","requires":{"permissions":[{"group":"net.egress","scope":"api.example"}],"routes":["p/r"]}}}
{"type":"permission.requested","body":{"pack":"p","group":"net.egress","scope":"api.example","tier":"T2"}}
{"type":"permission.granted","body":{"pack":"p","group":"net.egress","scope":"api.example","by":"operator"}}
{"type":"route.declared","body":{"route":"p/r","pack":"p","model":"m-big","fallbacks":["m-small"]}}
{"type":"run.started","body":{"run":"R-9","pack":"p","intent":"fetch and summarize"}}
{"type":"route.decision","body":{"route":"p/r","chosen_model":"m-big","run":"R-9","reason":"primary available","outcome":"ok"}}
{"type":"permission.revoked","body":{"pack":"p","group":"net.egress","scope":"api.example","by":"security","reason":"egress audit"}}
{"type":"permission.granted","body":{"pack":"q","group":"net.egress","scope":"api.example","by":"operator"}}
{"type":"model.state","body":{"model":"m-other","state":"offline","reason":"unrelated"}}
{"type":"run.policy","body":{"run":"R-9","decision":"deny","rule":"net.egress:api.example","tool":"http"}}
{"type":"model.state","body":{"model":"m-big","state":"offline","reason":"evicted under VRAM pressure"}}
{"type":"route.decision","body":{"route":"p/r","chosen_model":"m-small","run":"R-8","reason":"another run","outcome":"ok"}}
{"type":"runtime.health","body":{"runtime":"ollama","status":"degraded","detail":"slow"}}
{"type":"route.decision","body":{"route":"p/r","chosen_model":"m-small","run":"R-9","fallback":true,"reason":"primary offline","outcome":"ok"}}
{"type":"eval.result","body":{"eval_id":"E-2","suite":"s","target":"route:p/r","candidate":"m-small","passed":false,"cases_total":10,"cases_passed":3}}
{"type":"run.finished","body":{"run":"R-9","status":"failed","error":"egress denied"}}
{"type":"model.state","body":{"model":"m-big","state":"available"}}
J
"$L" ingest --strict "$T/s.jsonl" 2>"$T/e" || { cat "$T/e"; exit 1; }
"$L" timeline R-9 >"$T/tl" 2>&1 || bad "timeline: exit $? $(cat "$T/tl")"
sed -n '/^timeline:/,$p' "$T/tl" >"$T/ev"
seq_of() { grep -n "$1" "$T/ev" | head -1 | cut -d: -f1; }
line_rev=$(seq_of 'context  permission.revoked pack:p')
line_deny=$(seq_of 'DENY')
line_off=$(seq_of 'context  model.state model:m-big  state=offline')
line_fb=$(seq_of 'FALLBACK')
[ -n "$line_rev" ] || bad "the revocation of the pack's grant is not shown: $(cat "$T/ev")"
[ -n "$line_deny" ] && [ -n "$line_rev" ] && [ "$line_rev" -lt "$line_deny" ] ||
    bad "the revocation is not before the DENY it explains"
grep 'permission.revoked' "$T/ev" | grep -q '^!' || bad "the revocation is not marked"
grep 'permission.revoked' "$T/ev" | grep -q 'reason=egress audit' || bad "no reason on the revocation"
[ -n "$line_off" ] && [ -n "$line_fb" ] && [ "$line_off" -lt "$line_fb" ] ||
    bad "the model going offline is not shown before the fallback: $(cat "$T/ev")"
grep -q 'context  runtime.health runtime:ollama  status=degraded' "$T/ev" ||
    bad "runtime health during the run is not shown"
grep -q 'context  eval.result route:p/r' "$T/ev" || bad "the route's eval is not shown"
# the latest before the start
grep -q '^ *-.*context  model.state model:m-big  state=available' "$T/ev" ||
    bad "the model's state before the start is not shown"
grep -q '^ *-.*context  runtime.health runtime:ollama  status=up' "$T/ev" ||
    bad "runtime health before the start is not shown"
# left out: other packs, other models, other runs, after the end
grep -q 'pack:q' "$T/ev" && bad "another pack's permission is shown"
grep -q 'm-other' "$T/ev" && bad "an unrelated model is shown"
grep -q 'another run' "$T/ev" && bad "another run's decision is shown"
[ "$(grep -c 'model.state model:m-big' "$T/ev")" = 2 ] ||
    bad "m-big: want the state before the start and the offline, not after the end"
# JSON: context marked, counted, in seq order
"$L" timeline R-9 -o json >"$T/j" || bad "timeline -o json"
grep -q '"kind":"context"' "$T/j" || bad "-o json: no context events"
grep -q '"context":[1-9]' "$T/j" || bad "-o json: counts.context missing"
# query pack=P --deps: the pack's events and those of what it depends on
"$L" query pack=p -o json >"$T/q0" || bad "query pack=p"
"$L" query pack=p --deps -o json >"$T/q1" || bad "query pack=p --deps"
grep -q '"type":"eval.result"' "$T/q1" || bad "--deps lacks the route's eval"
grep -q '"subject":"model:m-big"' "$T/q1" || bad "--deps lacks the route's model"
grep -q '"subject":"model:m-small"' "$T/q1" || bad "--deps lacks the fallback model"
grep -q 'm-other' "$T/q1" && bad "--deps has an unrelated model"
grep -q '"type":"eval.result"' "$T/q0" && bad "pack=p alone already had the eval"
"$L" query type=x --deps >/dev/null 2>"$T/e"; rc=$?
[ $rc = 64 ] && grep -q 'needs a pack=P' "$T/e" || bad "--deps without pack=: exit $rc"

# the permissions in force at the start are the projections' rule, expiry
# included: a grant that expired before the run is not in force
cat >"$T/x.jsonl" <<'J'
{"type":"pack.installed","body":{"pack":"e","version":"1","manifest_digest":"sha256:ee"}}
{"type":"permission.requested","body":{"pack":"e","group":"fs.read","scope":"/data","tier":"T1"}}
{"type":"permission.granted","body":{"pack":"e","group":"fs.read","scope":"/data","by":"operator","expires":"2001-01-01T00:00:00Z"}}
{"type":"run.started","body":{"run":"R-E","pack":"e"}}
{"type":"run.finished","body":{"run":"R-E","status":"failed","error":"fs.read denied"}}
J
"$L" ingest --strict "$T/x.jsonl" 2>/dev/null || bad "ingest expiry scenario"
"$L" timeline R-E >"$T/tle" 2>&1 || bad "timeline R-E: $(cat "$T/tle")"
grep -q '^! EXPIRED *fs.read *\/data' "$T/tle" ||
    bad "an expired grant is shown as in force: $(sed -n '/permissions in force/,/^$/p' "$T/tle")"
"$L" permissions --pack e --at "$("$L" query run=R-E type=run.started -o json |
    sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')" | grep -q expired ||
    bad "the permissions view disagrees"

# export --run carries the same context by default; --no-context leaves it
"$L" keys verifier >"$T/vkey"
"$L" export --run R-9 --out "$T/b" 2>"$T/e" || bad "export: $(cat "$T/e")"
grep -q 'with the [1-9][0-9]* context events of run R-9' "$T/e" ||
    bad "export does not say it added context: $(cat "$T/e")"
"$L" verify-bundle "$T/b" --trusted-key "$T/vkey" --extract "$T/x" \
    >/dev/null 2>"$T/e" || bad "verify-bundle: $(cat "$T/e")"
for q in permission.revoked runtime.health eval.result; do
    grep -q "\"type\":\"$q\"" "$T/x/events.jsonl" ||
        bad "the bundle lacks the context event $q"
done
want=$("$L" timeline R-9 -o json | grep -o '"seq":"[0-9]*"' | sort -u | wc -l)
"$L" export --run R-9 --no-context --out "$T/b2" 2>"$T/e" || bad "export --no-context"
grep -q 'context of run R-9 left out' "$T/e" || bad "--no-context not said: $(cat "$T/e")"
"$L" verify-bundle "$T/b2" --trusted-key "$T/vkey" --extract "$T/x2" \
    >/dev/null 2>&1 || bad "verify-bundle --no-context bundle"
grep -q permission.revoked "$T/x2/events.jsonl" && bad "--no-context still has context"
[ "$(grep -c '"selected":true\|^{' "$T/x2/events.jsonl")" -lt \
    "$(grep -c '^{' "$T/x/events.jsonl")" ] || bad "--no-context bundle is not smaller"

[ $nfail = 0 ] || exit 1
echo "timeline_context: revocation, model offline, health, evals shown as context"
