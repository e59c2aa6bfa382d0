#!/bin/sh
# model_at.sh — route decisions, evals and promotions show the digest
# their model had at that moment and whether its weights were hashed
# (issue 14): in `query -o json` (plain and threaded streaming: 600
# decisions), `show -o json`, `timeline` (human and json) and a bundle's
# events.jsonl, which verify-bundle accepts; the name re-pointed at other
# weights changes later events only.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

"$L" --dir "$D" init >/dev/null || exit 1
{
    echo '{"type":"route.decision","body":{"route":"chat","chosen_model":"qwen","run":"R1","outcome":"ok"}}'
    echo '{"type":"model.registered","body":{"model":"qwen","digest":"sha256:aaaa"}}'
    i=0
    while [ $i -lt 300 ]; do
        echo '{"type":"route.decision","body":{"route":"chat","chosen_model":"qwen","outcome":"ok"}}'
        i=$((i + 1))
    done
    echo '{"type":"model.verified","body":{"model":"qwen","digest":"sha256:aaaa","ok":true}}'
    echo '{"type":"route.decision","body":{"route":"chat","chosen_model":"qwen","run":"R1","outcome":"ok"}}'
    echo '{"type":"model.registered","body":{"model":"qwen","digest":"sha256:bbbb"}}'
    i=0
    while [ $i -lt 300 ]; do
        echo '{"type":"route.decision","body":{"route":"chat","chosen_model":"qwen","outcome":"ok"}}'
        i=$((i + 1))
    done
    echo '{"type":"route.decision","body":{"route":"chat","chosen_model":"qwen","run":"R1","outcome":"ok"}}'
    echo '{"type":"model.verified","body":{"model":"qwen","digest":"sha256:bbbb","ok":false}}'
} >"$T/ev.jsonl"
"$L" --dir "$D" ingest "$T/ev.jsonl" 2>/dev/null || exit 1
# (event 1 is init's key.anchored: the first line is event 2, qwen's
# weights aaaa are registered at 3 and verified at 304, bbbb registered
# at 306)

# -o json: 603 decisions (more than one batch: the threaded path)
"$L" --dir "$D" query type=route.decision -o json >"$T/q" || fail "query exit $?"
python3 - "$T/q" <<'PY' || fail "query -o json model_at"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 603, len(rows)
first = rows[0]["model_at"]
assert first == {"model": "qwen", "digest": None, "verified": False,
                 "ever_verified": False}, first
for r in rows[1:301]:
    m = r["model_at"]
    assert m["digest"] == "sha256:aaaa" and m["registered_seq"] == "3", m
    assert m["verified"] is False and m["ever_verified"] is True, m
    assert m["verified_seq"] == "304", m
m = rows[301]["model_at"]
assert m["verified"] is True and m["verified_seq"] == "304", m
for r in rows[302:]:
    m = r["model_at"]
    assert m["digest"] == "sha256:bbbb" and m["registered_seq"] == "306", m
    # the ok:false verification does not count
    assert m["verified"] is False and m["ever_verified"] is False, m
    assert "verified_seq" not in m, m
PY
# the same bytes from the plain loop (199 events, under one batch) as
# from the threaded stream (events 2..201 less the registration at 3)
"$L" --dir "$D" query type=route.decision seq=..201 -o json >"$T/q1" || fail "query seq"
[ "$(wc -l <"$T/q1")" = 199 ] || fail "window: $(wc -l <"$T/q1") lines"
head -n 199 "$T/q" | cmp -s - "$T/q1" || fail "threaded and plain renderings differ"
# other types carry none
"$L" --dir "$D" query type=model.registered -o json | grep -q model_at &&
    fail "model.registered carries model_at"
"$L" --dir "$D" show 305 -o json | grep -q '"verified":true\|"verified": true' ||
    fail "show -o json: $("$L" --dir "$D" show 305 -o json | tail -3)"

# timeline: human and json
"$L" --dir "$D" timeline R1 >"$T/tl" || fail "timeline exit $?"
grep -q 'chat -> qwen  ok  weights: digest unknown (never registered)' "$T/tl" ||
    fail "timeline: unknown digest: $(cat "$T/tl")"
grep -q 'chat -> qwen  ok  weights sha256:aaaa verified' "$T/tl" ||
    fail "timeline: verified: $(cat "$T/tl")"
grep -q 'chat -> qwen  ok  weights sha256:bbbb never verified' "$T/tl" ||
    fail "timeline: never verified: $(cat "$T/tl")"
"$L" --dir "$D" timeline R1 -o json | python3 -c '
import json, sys
tl = json.load(sys.stdin)
ds = [e["model_at"]["digest"] for e in tl["events"] if e["kind"] == "route"]
assert ds == [None, "sha256:aaaa", "sha256:bbbb"], ds
' || fail "timeline -o json model_at"

# a bundle of the run's decisions: model_at, backed by support events
"$L" --dir "$D" export run=R1 --out "$T/b.bundle" >/dev/null 2>&1 || fail "export"
"$L" --dir "$D" verify-bundle "$T/b.bundle" \
    --trusted-key "$("$L" --dir "$D" keys verifier)" >"$T/vb" 2>&1 ||
    fail "verify-bundle: $(cat "$T/vb")"
mkdir "$T/x"
(cd "$T/x" && tar --zstd -xf "$T/b.bundle" 2>/dev/null || zstd -dc "$T/b.bundle" | tar -x) ||
    fail "unpack"
ev=$(find "$T/x" -name events.jsonl | head -1)
man=$(find "$T/x" -name manifest.json | head -1)
[ "$(grep -c '"model_at"' "$ev")" = 3 ] || fail "events.jsonl model_at: $(cat "$ev")"
grep -q '"type": "model.registered", "role": "support"' "$man" ||
    fail "no model.registered support event: $(grep type "$man")"
grep -q '"seq": "304", "type": "model.verified", "role": "support"' "$man" ||
    fail "no model.verified support event: $(grep type "$man")"

# an Ollama name without a tag is NAME:latest when only that one is
# registered (as the proxy reads the registry): the same weights in
# model_at, the timeline and a bundle, whose verifier accepts the backing
P=$T/ollama
"$L" --dir "$P" init --origin model-at.test/ollama >/dev/null || exit 1
"$L" --dir "$P" append model.registered \
    --body '{"model":"phi:latest","digest":"sha256:1111"}' >/dev/null || exit 1
# (events 2, 3 and 4: event 1 is init's key.anchored)
"$L" --dir "$P" append model.verified \
    --body '{"model":"phi:latest","digest":"sha256:1111","ok":true}' >/dev/null || exit 1
"$L" --dir "$P" append route.decision --run R9 \
    --body '{"route":"chat","chosen_model":"phi","run":"R9"}' >/dev/null || exit 1
"$L" --dir "$P" show 4 -o json | jq -e '.model_at == {"model": "phi",
    "digest": "sha256:1111", "registered_seq": "2", "verified": true,
    "ever_verified": true, "verified_seq": "3"}' >/dev/null ||
    fail "model_at of 'phi' with 'phi:latest' registered: $("$L" --dir "$P" show 4 -o json | jq -c .model_at)"
"$L" --dir "$P" timeline R9 | grep -q 'chat -> phi  weights sha256:1111 verified' ||
    fail "timeline of 'phi': $("$L" --dir "$P" timeline R9 | grep chat)"
"$L" --dir "$P" export seq=4..4 --out "$T/p.bundle" >/dev/null 2>&1 || fail "export of 'phi'"
"$L" verify-bundle "$T/p.bundle" --trusted-key "$("$L" --dir "$P" keys verifier)" \
    >"$T/vb" 2>&1 || fail "verify-bundle of 'phi': $(grep -v PASS "$T/vb")"
# a name with a tag is never read as another
"$L" --dir "$P" append route.decision --run R9 \
    --body '{"route":"chat","chosen_model":"phi:2b","run":"R9"}' >/dev/null || exit 1
"$L" --dir "$P" show 5 -o json | jq -e '.model_at.digest == null' >/dev/null ||
    fail "model_at of 'phi:2b': $("$L" --dir "$P" show 5 -o json | jq -c .model_at)"

[ "$fails" -eq 0 ] || exit 1
echo "model_at: ok"
