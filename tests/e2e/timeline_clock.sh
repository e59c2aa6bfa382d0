#!/bin/sh
# timeline_clock.sh — one rule for which clock each view shows and
# selects by (docs/QUERY.md, "Which clock"), on a run a control plane
# sent after the fact in one batch, every event claiming when it happened
# (2026-11-20 10:00:10 .. 10:00:22), with a revocation of its pack 10 s
# into it and the denial it caused a second later (issue 29: the timeline
# showed the revocation at +0.000s, before the denial; runs showed the
# ledger's time of the start, the timeline's first line the source's):
#   - timeline: the revocation at +10.000s, after the step at +5.000s and
#     before the DENY at +11.000s; a context event that claims no time
#     right after the run event before it in the log; the first line's
#     start time is the ledger's, with the source's claim beside it;
#   - runs, runs RUN, timeline and query show the same time of day for the
#     start: the ledger's;
#   - -S/-U select by the ledger's clock: a window around the claimed
#     times selects nothing, one around the ledger's time the run.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
nfail=0
fail() {
    printf 'FAIL: %s\n' "$*"
    nfail=$((nfail + 1))
}
L() { "$LEDGER" --dir "$D" --utc "$@"; }

L init >/dev/null || exit 1
t=2026-11-20T10:00
printf '%s\n' \
    '{"type":"pack.installed","time":"'$t':00Z","body":{"pack":"p","version":"1","manifest_digest":"sha256:00"}}' \
    '{"type":"permission.granted","time":"'$t':01Z","body":{"pack":"p","group":"net.egress","scope":"api.example","by":"admin"}}' \
    '{"type":"run.started","time":"'$t':10Z","body":{"run":"r1","pack":"p"}}' \
    '{"type":"run.step","time":"'$t':15Z","body":{"run":"r1","step":"fetch","tool":"curl","status":"ok"}}' \
    '{"type":"pack.validated","body":{"pack":"p","ok":true}}' \
    '{"type":"permission.revoked","time":"'$t':20Z","body":{"pack":"p","group":"net.egress","scope":"api.example","by":"admin","reason":"leak"}}' \
    '{"type":"run.policy","time":"'$t':21Z","body":{"run":"r1","decision":"deny","rule":"net.egress","tool":"curl"}}' \
    '{"type":"run.finished","time":"'$t':22Z","body":{"run":"r1","status":"failed"}}' |
    L ingest - >/dev/null 2>&1 || exit 1

# the run starts at seq 4: 0 is the genesis, 1 the log key's anchor (init
# anchors it by default), 2 and 3 the pack's install and grant
L timeline r1 >"$T/tl" || fail "timeline: exit $?"
sed -n '/^timeline:/,/^$/p' "$T/tl" | sed 1d | sed '/^$/d' > "$T/lines"
order=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^#/) {print $i; break}}' "$T/lines" | tr '\n' ' ')
[ "$order" = "#4 #5 #6 #7 #8 #9 " ] || fail "timeline order: $order: $(cat "$T/lines")"
grep -q '+10.000s  #7 .*permission.revoked' "$T/lines" || fail "revocation not at +10.000s: $(cat "$T/lines")"
grep -q '+11.000s  #8 .*DENY' "$T/lines" || fail "denial: $(cat "$T/lines")"
grep -q '+5.000s  #6 .*pack.validated' "$T/lines" ||
    fail "a context event with no claimed time not after the step before it: $(cat "$T/lines")"

# the start, as each view shows it: the ledger's time of day
rt=$(L show 4 -o json | sed 's/.*"recorded_time":"\([^"]*\)".*/\1/')
hms=$(printf '%s' "$rt" | cut -c12-19)
day=$(date -u -d "$rt" '+%b %d' 2>/dev/null)
head -1 "$T/tl" | grep -q "started $day $hms (#4)" || fail "timeline start is not the ledger's ($day $hms): $(head -1 "$T/tl")"
head -1 "$T/tl" | grep -q "which puts the start at Nov 20 10:00:10" ||
    fail "timeline does not show the source's claim: $(head -1 "$T/tl")"
L runs | grep -q "^r1 .* $day $hms" || fail "runs: $(L runs)"
L runs r1 | grep -q "started .*seq 4 at $day $hms" || fail "runs r1: $(L runs r1 | grep started)"
L query seq=4 | grep -q "^$day $hms 4 run.started" || fail "query: $(L query seq=4)"
L query seq=4 -o verbose | grep -q 'time=2026-11-20T10:00:10.*(the source.s clock)' ||
    fail "query verbose does not show the claim: $(L query seq=4 -o verbose)"

# selected by the ledger's clock
n=$(L query -S '2026-11-20 10:00:00 UTC' -U '2026-11-20 10:01:00 UTC' run=r1 | wc -l)
[ "$n" = 0 ] || fail "-S/-U around the claimed times selected $n events"
n=$(L query -S "@$(($(date -u -d "$rt" +%s) - 5))" run=r1 | wc -l)
[ "$n" = 4 ] || fail "-S around the ledger's time selected $n events, want 4"

[ $nfail = 0 ] || exit 1
echo "timeline_clock: one clock for times of day and selection, the run's own for durations"
