#!/bin/sh
# views_pruned.sh — the views of a pruned ledger and of its segment
# (issue 63):
#   - `query run=R` of a run whose events were all pruned names the
#     segment holding them (it suggested another run's name);
#   - `timeline R --bundle SEGMENT` calls the file a segment and says each
#     event as a run's timeline does (it called it a bundle and printed
#     bare types and subjects);
#   - `verify-bundle SEGMENT --trusted-checkpoint FILE` alone verifies it
#     against that checkpoint, the trust anchor its help says it is (it
#     exited 64); a checkpoint that is not the segment's fails (1).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/views_pruned.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
D=$T/l
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
# two runs, an event a commit (a prune ends where a commit does): R-A
# events 2..4, R-B 5..7 (event 1 is init's key.anchored)
for r in R-A R-B; do
    L append run.started --body "{\"run\":\"$r\",\"pack\":\"p\",\"intent\":\"i-$r\"}" >/dev/null &&
        L append route.decision --subject route:p/r --run $r \
            --body '{"route":"p/r","chosen_model":"m","outcome":"ok","latency_ms":12}' >/dev/null &&
        L append run.finished --body "{\"run\":\"$r\",\"status\":\"ok\"}" >/dev/null ||
        { echo "FAIL: appending run $r"; exit 1; }
done
L checkpoint --size 5 >"$T/cp5" 2>"$T/err" || { echo "FAIL: checkpoint --size 5: $(cat "$T/err")"; exit 1; }
L checkpoint >"$T/cp8" 2>"$T/err" || { echo "FAIL: checkpoint: $(cat "$T/err")"; exit 1; }
L keys verifier >"$T/vk" || exit 1
L archive --before 5 --out "$T/seg1.seg" >/dev/null 2>"$T/err" || { echo "FAIL: archive: $(cat "$T/err")"; exit 1; }
L prune --before 5 --archive "$T/seg1.seg" --force >/dev/null 2>"$T/err" ||
    { echo "FAIL: prune: $(cat "$T/err")"; exit 1; }

# query run=R-A: every event of R-A is in the segment
L query run=R-A >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 66 ] || fail "query run=R-A: exit $rc"
grep -q 'did you mean' "$T/err" && fail "query run=R-A suggests another run: $(cat "$T/err")"
grep -q "note: run 'R-A': its events (2..4) are all before the horizon, pruned into the archive seg1.seg (events 0..4, SHA-256 [0-9a-f]*) (\`ledger query --bundle FILE run=R-A\` reads each)" "$T/err" ||
    fail "query run=R-A does not name the segment: $(cat "$T/err")"
# (a typo of a kept run is still answered with the near name)
L query run=R-C >/dev/null 2>"$T/err"
grep -q 'did you mean R-B' "$T/err" || fail "query run=R-C: $(cat "$T/err")"

# timeline --bundle of the segment
L timeline R-A --bundle "$T/seg1.seg" --trusted-key "$T/vk" >"$T/out" 2>"$T/err" ||
    fail "timeline --bundle: exit $? $(cat "$T/err")"
grep -q '^run R-A  (3 events in the segment ' "$T/out" || fail "timeline --bundle: $(head -1 "$T/out")"
grep -q 'segment .* holds a range of the log, not a run.s timeline' "$T/err" &&
    ! grep -q 'bundle .*seg1.seg holds' "$T/err" ||
    fail "timeline --bundle calls the segment a bundle: $(cat "$T/err")"
grep -q '#2 *run.started *p  intent=i-R-A' "$T/out" &&
    grep -q '#3 *route.decision *p/r -> m  12ms  ok' "$T/out" &&
    grep -q '#4 *run.finished *ok' "$T/out" ||
    fail "timeline --bundle prints bare lines: $(cat "$T/out")"

# verify-bundle with the trusted checkpoint alone
L verify-bundle "$T/seg1.seg" --trusted-checkpoint "$T/cp5" >"$T/out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '^PASS trusted-checkpoint: ' "$T/out" &&
    grep -q '^PASS log-key: .*held to the trusted checkpoint' "$T/out" &&
    grep -q '^segment OK: .*log key trusted' "$T/out" ||
    fail "verify-bundle --trusted-checkpoint alone: exit $rc $(cat "$T/out")"
L verify-bundle "$T/seg1.seg" --trusted-checkpoint "$T/cp8" >"$T/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q '^FAIL trusted-checkpoint: .*(size 8) is not the segment.s (size 5)' "$T/out" &&
    ! grep -q '^PASS log-key' "$T/out" ||
    fail "verify-bundle with another checkpoint: exit $rc $(cat "$T/out")"
L verify-bundle "$T/seg1.seg" >"$T/out" 2>&1
[ $? = 64 ] || fail "verify-bundle with no anchor: not 64"

[ $nfail = 0 ] || { echo "views_pruned: $nfail failed"; exit 1; }
echo "views_pruned: query, timeline and verify-bundle of a pruned run and its segment: all passed"
