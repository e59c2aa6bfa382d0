#!/bin/sh
# core_v2.sh — format version 2 (id, source time, source; docs/FORMAT.md
# section 3.1) end to end without a server: a ledger written before it
# (no idx.id database) is read as it is, and takes ids once written to;
# v1 and v2 entries side by side verify; `ingest` lines with ids and times
# give a run that `timeline` lays out on the source's clock (a batch
# ingested at once is not every step at +0.000s); a bundle of v2 events
# verifies, its events.jsonl showing both clocks, and an old-style v1 line
# is unchanged.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
v1=$(L append -q x.old --body '{"i":1}') || exit 1
L append -q x.old --body '{"i":2}' >/dev/null || exit 1

# --- a ledger as written before format version 2: no idx.id
CC=${CC:-cc}
PKG=${PKG_CONFIG:-pkg-config}
if $CC -o "$T/lmdb_poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $($PKG --cflags --libs lmdb 2>/dev/null || echo -llmdb) 2>"$T/cc.err"; then
    "$T/lmdb_poke" "$D" drop-db idx.id 2>"$T/e" || fail "drop idx.id: $(cat "$T/e")"
    L query -o json type=x.old >"$T/q" 2>"$T/e" || fail "query of an older ledger: $(cat "$T/e")"
    [ "$(wc -l <"$T/q" | tr -d ' ')" = 2 ] || fail "query of an older ledger: $(cat "$T/q")"
    grep -q '"clock":"ledger"' "$T/q" || fail "v1 event: $(cat "$T/q")"
    L show "$v1" >/dev/null 2>"$T/e" || fail "show of an older ledger: $(cat "$T/e")"
else
    echo "SKIP: no C compiler for lmdb_poke: $(cat "$T/cc.err")"
fi

# --- ids and times through append, on that ledger
a=$(L append -q --id a-1 --time 2026-11-22T20:00:00.5+01:00 x.new --body '{"i":3}') || fail "append --id"
b=$(L append -q --id a-1 --time 2026-11-22T20:00:00.5+01:00 x.new --body '{"i":3}' 2>"$T/e") || fail "append --id again"
[ -n "$a" ] && [ "$a" = "$b" ] && [ ! -s "$T/e" ] || fail "append --id twice: '$a' '$b' $(cat "$T/e")"
# -o json says it: duplicate, and what differs from the recorded event
# (a script saw only {"seq":...} and could not tell)
[ "$(L append -o json --id a-1 --time 2026-11-22T20:00:00.5+01:00 x.new --body '{"i":3}')" = "{\"seq\":\"$a\",\"duplicate\":true}" ] ||
    fail "append -o json of a duplicate"
[ "$(L append -o json --id a-1 x.new --body '{"i":4}' 2>/dev/null | jq -c .differs)" = '["time","body"]' ] ||
    fail "append -o json of a differing duplicate: $(L append -o json --id a-1 x.new --body '{"i":4}' 2>&1)"
L show -o json "$a" | grep -q '"ts":"1795374000500000000","time":"2026-11-22T19:00:00.500000000Z",.*"clock":"source",.*"id":"a-1"' ||
    fail "append --time: $(L show -o json "$a")"
L show -o json "$a" | grep -q '"source":{' && fail "a direct append recorded a source"
L append --time 2026-13-01T00:00:00Z x.new --body '{}' 2>"$T/e"
rc=$?
[ $rc = 64 ] && grep -q -- "--time: '2026-13-01T00:00:00Z' must be RFC 3339" "$T/e" || fail "append --time bad month: exit $rc $(cat "$T/e")"
L append --id "$(printf '%0129d' 0)" x.new --body '{}' 2>"$T/e"
rc=$?
[ $rc = 65 ] && grep -q "field 'id': must be" "$T/e" || fail "append --id of 129 bytes: exit $rc $(cat "$T/e")"

# --- a run ingested in one batch, with the source's times
cat >"$T/run.jsonl" <<'EOF'
{"type":"run.started","body":{"run":"R-v2","pack":"pdf-ops","intent":"x","requested_by":"alice"},"id":"r-1","time":"2026-11-22T20:00:00Z"}
{"type":"run.step","body":{"run":"R-v2","step":"read","tool":"t","tier":"T1","status":"ok"},"id":"r-2","time":"2026-11-22T20:00:01.250Z"}
{"type":"run.step","body":{"run":"R-v2","step":"write","tool":"t","tier":"T1","status":"ok"},"id":"r-3","time":"2026-11-22T20:00:04Z"}
{"type":"run.finished","body":{"run":"R-v2","status":"ok"},"id":"r-4","time":"1795377605000000000"}
EOF
L ingest "$T/run.jsonl" 2>"$T/e" || fail "ingest the run: $(cat "$T/e")"
L ingest "$T/run.jsonl" 2>"$T/e" || fail "ingest the run again: $(cat "$T/e")"
grep -q '0 events committed, 0 lines rejected, 4 events with an id already in the log' "$T/e" || fail "ingest again: $(cat "$T/e")"
L timeline R-v2 >"$T/tl" 2>"$T/e" || fail "timeline: $(cat "$T/e")"
grep -q "(times from the start: the source's clock, which puts the start at" "$T/tl" || fail "timeline clock: $(cat "$T/tl")"
grep -q '+1.250s .*read' "$T/tl" || fail "timeline step at +1.250s: $(cat "$T/tl")"
grep -q '+4.000s .*write' "$T/tl" || fail "timeline step at +4.000s: $(cat "$T/tl")"
L timeline -o json R-v2 >"$T/tlj" || fail "timeline -o json"
grep -q '"clock":"source"' "$T/tlj" || fail "timeline -o json clock: $(cat "$T/tlj")"
grep -q '"span_us":5000000' "$T/tlj" || fail "timeline span: $(cat "$T/tlj")"
# time selections use the ledger's time, not the source's (2026-11-22)
n=$(L query -o json -U 2026-11-23T00:00:00Z type=run.step 2>/dev/null | wc -l | tr -d ' ')
# the day (UTC) the ledger recorded them, from the events themselves: a
# bare date is local time, and `date` may have passed midnight since
now_day=$(L query -o json type=run.step 2>/dev/null | head -n 1 |
    sed -n 's/.*"recorded_time":"\([0-9-]*\)T.*/\1/p')
[ -n "$now_day" ] || fail "no recorded_time on run.step"
if [ "$now_day" != 2026-11-22 ]; then
    [ "$n" = 0 ] || fail "query -U selected by the source's time: $n events"
fi
n=$(L query -o json -S "${now_day}T00:00:00Z" type=run.step 2>/dev/null | wc -l | tr -d ' ')
[ "$n" = 2 ] || fail "query -S the day recorded: $n run.step events, want 2"

# --- v1 and v2 side by side verify
L verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"

# --- a bundle of them verifies; events.jsonl shows both clocks
L export --out "$T/b.tar.zst" 2>"$T/ee" || fail "export: $(cat "$T/ee")"
VKEY=$(L keys verifier) || fail "keys verifier"
"$LEDGER" verify-bundle "$T/b.tar.zst" --trusted-key "$VKEY" >/dev/null 2>"$T/verr" || fail "verify-bundle: $(cat "$T/verr")"
"$LEDGER" verify-bundle "$T/b.tar.zst" --trusted-key "$VKEY" --extract "$T/x" >/dev/null 2>&1 || fail "verify-bundle --extract"
ev=$(find "$T/x" -name events.jsonl | head -n 1)
[ -n "$ev" ] || fail "no events.jsonl in the bundle"
if [ -n "$ev" ]; then
    grep '"seq":"'"$v1"'"' "$ev" | grep -q '"recorded_ts"\|"clock"' && fail "a v1 line changed: $(grep '"seq":"'"$v1"'"' "$ev")"
    grep '"seq":"'"$a"'"' "$ev" | grep -q '"ts":"1795374000500000000","time":"2026-11-22T19:00:00.500000000Z","recorded_ts":"[0-9]*","recorded_time":"[^"]*","clock":"source",.*"id":"a-1"' ||
        fail "a v2 line: $(grep '"seq":"'"$a"'"' "$ev")"
    # an edited source time is refused
    sed 's/"ts":"1795374000500000000"/"ts":"1795374000500000001"/' "$ev" >"$T/ev2" && cp "$T/ev2" "$ev"
    (cd "$(dirname "$(dirname "$ev")")" && tar --zstd -cf "$T/b2.tar.zst" "$(basename "$(dirname "$ev")")") 2>/dev/null
    "$LEDGER" verify-bundle "$T/b2.tar.zst" --trusted-key "$VKEY" >/dev/null 2>"$T/verr"
    rc=$?
    [ $rc = 1 ] && grep -q "'ts' differs from the entry" "$T/verr" || fail "edited source time: exit $rc $(cat "$T/verr")"
fi

[ $fails = 0 ] && echo "core_v2: ok"
[ $fails = 0 ]
