#!/bin/sh
# query_timeline.sh — `ledger timeline RUN`: the human view marks denials
# and fallbacks and lists what was in force at the start; -o json gives the
# same structure; an unknown run exits 66, a missing argument 64.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
"$LEDGER" --dir "$D" ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" \
    2>/dev/null || exit 1

"$LEDGER" --dir "$D" timeline R-0001 >"$T/out" 2>"$T/err" || fail "timeline exit $?"
for want in "run R-0001  pack pdf-ops 0.3.1" "status ok" "in 2.310s" \
    "permissions in force at the start" "! DENIED     net.egress" \
    "evals in force at the start" "route:pdf-ops/extract" "E-1" \
    "no eval before the start" "DENY" "FALLBACK" "read-pdfs" "412ms" \
    "invoices.txt" "2 route decisions (1 fallback)" "1 denied"; do
    grep -qF -- "$want" "$T/out" || fail "human view lacks '$want'"
done
[ -s "$T/err" ] && fail "stderr: $(cat "$T/err")"

"$LEDGER" --dir "$D" timeline R-0001 -o json >"$T/json" || fail "json exit $?"
[ "$(wc -l <"$T/json" | tr -d ' ')" = 1 ] || fail "-o json is not one line"
for want in '"run":"R-0001"' '"status":"ok"' '"kind":"start"' '"kind":"end"' \
    '"denied":true' '"state":"denied"' '"eval_id":"E-1"' '"rel_us":'; do
    grep -qF -- "$want" "$T/json" || fail "json lacks $want"
done
# the example's events carry their source's times (issue 46: they had
# none, and the page of the README's demo had no time axis): the run
# spans 2.31 s on the source's clock
"$LEDGER" --dir "$D" timeline R-0001 -o json | jq -e '.clock == "source" and
    .span_us == 2310000 and ([.events[] | select(.kind != "context") | .rel_us] |
    (first == 0 and last == 2310000))' >/dev/null ||
    fail "the example's times: $("$LEDGER" --dir "$D" timeline R-0001 -o json | jq -c '{clock, span_us}')"
"$LEDGER" --dir "$D" timeline R-0001 -o json-pretty >"$T/pretty" || fail "pretty"
[ "$(wc -l <"$T/pretty" | tr -d ' ')" -gt 20 ] || fail "json-pretty not indented"

"$LEDGER" --dir "$D" timeline R-nope >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] || fail "unknown run: exit $rc"
grep -q "R-nope" "$T/err" || fail "unknown run message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "unknown run printed on stdout"
"$LEDGER" --dir "$D" timeline >/dev/null 2>&1
[ $? = 64 ] || fail "missing RUN is not a usage error"
"$LEDGER" --dir "$D" timeline R-0001 -o verbose >/dev/null 2>&1
[ $? = 64 ] || fail "bad -o is not a usage error"

# a run made only of model calls (what the proxy records with X-Ledger-Run):
# the timeline says what `ledger runs` says, not-started (issue 46: the
# timeline said running)
for i in 1 2; do
    "$LEDGER" --dir "$D" append route.decision --run R-proxy \
        --body '{"route":"ollama/llama3","chosen_model":"llama3","outcome":"ok"}' \
        >/dev/null || fail "append a model call"
done
rs=$("$LEDGER" --dir "$D" runs -o json | jq -r 'select(.run == "R-proxy") | .status')
ts=$("$LEDGER" --dir "$D" timeline R-proxy -o json | jq -r .status)
[ "$rs" = not-started ] && [ "$ts" = "$rs" ] ||
    fail "a run of model calls only: runs says '$rs', timeline '$ts'"
"$LEDGER" --dir "$D" timeline R-proxy | head -n 1 | grep -q 'status not-started' ||
    fail "timeline's text: $("$LEDGER" --dir "$D" timeline R-proxy | head -n 1)"

# a trace (issue 63): a context event days before it (its model's
# state) is not its time (the header said Nov 22 for a run of Nov 28); a
# log record comes under the span it was emitted in, though appended
# before it at the same millisecond; the status is a trace's, with its
# root span
TR=0af7651916cd43dd8448eb211c80319c
L() { "$LEDGER" --dir "$D" "$@"; }
L append model.state --subject model:mX --body '{"model":"mX","state":"available"}' \
    --time 2026-11-22T10:00:00Z >/dev/null &&
    L append otel.log --run $TR --time 2026-11-28T10:00:00Z \
        --body "{\"trace_id\":\"$TR\",\"span_id\":\"b7ad6b7169203331\",\"body\":\"hello from the span\"}" >/dev/null &&
    L append otel.span --run $TR --time 2026-11-28T10:00:00Z \
        --body "{\"trace_id\":\"$TR\",\"span_id\":\"b7ad6b7169203331\",\"name\":\"agent\",\"status\":\"ok\",\"duration_ms\":5}" >/dev/null &&
    L append route.decision --subject route:r --run $TR --time 2026-11-28T10:00:00.001Z \
        --body "{\"route\":\"r\",\"chosen_model\":\"mX\",\"trace_id\":\"$TR\",\"span_id\":\"00f067aa0ba902b7\",\"parent_span_id\":\"b7ad6b7169203331\",\"outcome\":\"ok\"}" >/dev/null ||
    fail "appending a trace"
L --utc timeline $TR >"$T/tr"
head -n 1 "$T/tr" | grep -q "run $TR  status trace (root span #[0-9]* agent: ok in 5.0ms)  (times from its first event: the source's clock, which puts it at Nov 28 10:00:00)" ||
    fail "a trace's header: $(head -n 1 "$T/tr")"
grep -q 'context  model.state model:mX' "$T/tr" || fail "the context event is not shown: $(cat "$T/tr")"
awk '/ span  *agent/ { s = NR } /hello from the span/ { l = NR } END { exit !(s && l && s < l) }' "$T/tr" ||
    fail "the log record is not under its span: $(cat "$T/tr")"

# run= is left out of a short line only when the subject says that very
# run (run:A of run B showed neither B nor run=)
s=$(L append x.t.n --subject run:A --run B --body '{}' | sed 's/[^0-9]//g')
L query seq="$s" | grep -q "run:A log: run=B" || fail "run B of subject run:A: $(L query seq="$s")"
s=$(L append x.t.n --subject run:C --run C --body '{}' | sed 's/[^0-9]//g')
L query seq="$s" | grep -q "run=" && fail "run C of subject run:C said twice: $(L query seq="$s")"

[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "query_timeline: ok"
