#!/bin/sh
# verify_marks.sh — what `ledger verify` found is shown beside the data it
# found altered (issue 29: after verify recorded a failure, show, timeline
# and query printed the altered body with no note). One byte of a run
# step's body is altered inside data.mdb; before `verify` runs nothing is
# marked (nothing is known); after it records the failure:
#   - show N: a "verify  failed: ..." line (-o json: "verify":"failed: ...");
#   - query: a "!! verification failed" line after the event's (short),
#     "verify=failed: ..." (verbose), "verify":"failed: ..." in json, also
#     with --output-fields and through the threaded json path;
#   - timeline: a "!! verification failed" line under the event; -o json
#     has the key on that event; --html draws it as a failure ("VERIFY
#     failed: ...") and the evidence box says the finding stands;
#   - every one of them warns on stderr, once; other events are not marked;
#   - query -o cat and show --raw, which print the data alone, say on
#     stderr that it is not marked there (never that it is);
#   - the views (runs, packs), computed from the events, say it on stderr
#     too, unless --at is before the event.
# A full verification that passes after the byte is put back clears it all.
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
L() { "$LEDGER" --dir "$D" "$@"; }
flip() { # flips one bit of the marker in every copy inside data.mdb
    python3 - "$D/data.mdb" <<'EOF' || exit 1
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
m = b"scan-zzqq" if b.find(b"scan-zzqq") >= 0 else b"scan-zzqp"
i = b.find(m)
assert i >= 0
while i >= 0:
    b[i + 8] ^= 0x01
    i = b.find(m, i + 1)
open(p, "r+b").write(b)
EOF
}

L init >/dev/null || exit 1
{
    echo '{"type":"run.started","body":{"run":"r1","pack":"p"}}'
    echo '{"type":"run.step","body":{"run":"r1","step":"scan-zzqq","tool":"t","status":"ok"}}'
    echo '{"type":"run.finished","body":{"run":"r1","status":"ok"}}'
    i=0
    while [ $i -lt 400 ]; do # past the threaded json path's first 256
        echo '{"type":"x.test.tick","body":{"n":'$i'}}'
        i=$((i + 1))
    done
} | L ingest - >/dev/null 2>&1 || exit 1
N=3 # the step (event 1 is init's key.anchored, 2 the run.started)
L verify --full >/dev/null 2>&1 || fail "clean verify"
flip
# before verify runs, nothing is known, nothing marked
L show $N >"$T/o" 2>"$T/e"
grep -q verify "$T/o" && fail "marked before verify ran: $(cat "$T/o")"
L verify --full >/dev/null 2>&1 && fail "verify --full passed a flipped byte"

L show $N >"$T/o" 2>"$T/e" || fail "show after the finding: exit $?"
grep -q "^verify  *failed: event $N" "$T/o" || fail "show: no mark: $(cat "$T/o")"
grep -q "WARNING: ledger verify found event $N" "$T/e" || fail "show: no warning: $(cat "$T/e")"
L show $N -o json >"$T/o" 2>/dev/null
grep -q "\"verify\": *\"failed: event $N" "$T/o" || fail "show -o json: $(cat "$T/o")"
L show 1 -o json >"$T/o" 2>"$T/e"
grep -q '"verify"' "$T/o" && fail "show of another event is marked"
grep -q 'WARNING' "$T/e" || fail "show of another event: no warning"

L query run=r1 >"$T/o" 2>"$T/e"
[ "$(grep -c 'WARNING' "$T/e")" = 1 ] || fail "query: warning not once: $(cat "$T/e")"
grep -A1 " $N run.step" "$T/o" | grep -q "!! verification failed: event $N" ||
    fail "query short: $(cat "$T/o")"
[ "$(grep -c '!!' "$T/o")" = 1 ] || fail "query marks more than the event"
L query run=r1 -o verbose 2>/dev/null | grep -q "^    verify=failed: event $N" ||
    fail "query verbose: no mark"
L query run=r1 -o json 2>/dev/null | grep "\"seq\":\"$N\"" | grep -q "\"verify\":\"failed: event $N" ||
    fail "query json: no mark"
L query run=r1 -o json --output-fields seq,type 2>/dev/null | grep "\"seq\":\"$N\"" |
    grep -q '"verify":"failed' || fail "query json --output-fields: no mark"
L query -o json 2>/dev/null > "$T/all"
[ "$(grep -c '"verify"' "$T/all")" = 1 ] || fail "query json (threaded): $(grep -c '"verify"' "$T/all") marks"
grep "\"seq\":\"$N\"" "$T/all" | grep -q '"verify"' || fail "query json (threaded): wrong event marked"
L query run=r1 -o json-pretty 2>/dev/null | grep -q "\"verify\": \"failed: event $N" ||
    fail "query json-pretty: no mark"
# what cannot carry a mark says so, never "it is marked where it is
# shown" (issue 46: -o cat printed the altered body unmarked under that)
L query run=r1 -o cat >"$T/o" 2>"$T/e"
grep -q 'it is NOT marked in this output (-o cat prints the bodies alone)' "$T/e" &&
    ! grep -q 'it is marked where it is shown' "$T/e" ||
    fail "query -o cat: $(cat "$T/e")"
L show $N --raw >"$T/o" 2>"$T/e"
grep -q 'it is NOT marked in this output (--raw' "$T/e" &&
    grep -q "the bytes below are event $N's" "$T/e" ||
    fail "show --raw: $(cat "$T/e")"

L timeline r1 >"$T/o" 2>"$T/e" || fail "timeline: exit $?"
grep -q "#$N .*!! verification failed: event $N" "$T/o" || fail "timeline: no mark: $(cat "$T/o")"
grep -q 'WARNING' "$T/e" || fail "timeline: no warning"
L timeline r1 -o json 2>/dev/null | grep -q "\"verify\": *\"failed: event $N" ||
    fail "timeline json: no mark"
# the page draws it as a failure, and its evidence box says it stands
L timeline r1 --html "$T/p.html" >/dev/null 2>"$T/e" || fail "timeline --html: exit $?"
grep -q "VERIFY failed: event $N" "$T/p.html" || fail "page: the event is not marked"
grep -q "A verification FAILED and that finding stands: event $N" "$T/p.html" ||
    fail "page: the evidence box does not say the finding stands"

# a view is computed from the events, the altered one among them: it
# says so (not as of an event before it)
for v in runs packs; do
    L $v >/dev/null 2>"$T/e" || fail "$v: exit $?"
    grep -q "WARNING: ledger verify found event $N .*it is NOT marked in this output (a view is computed from the events, that one among them)" "$T/e" ||
        fail "$v: no warning: $(cat "$T/e")"
done
# (--at the run.started, the event before the step)
L runs --at $((N - 1)) >/dev/null 2>"$T/e" || fail "runs --at $((N - 1)): exit $?"
[ -s "$T/e" ] && fail "runs --at $((N - 1)), before the event: $(cat "$T/e")"

# the byte put back and a full verification passes: nothing is marked
flip
L verify --full >/dev/null 2>&1 || fail "verify --full after the byte is back"
L query run=r1 >"$T/o" 2>"$T/e"
grep -q '!!' "$T/o" && fail "marked after a full verification passed"
[ -s "$T/e" ] && fail "warned after a full verification passed: $(cat "$T/e")"
L runs >/dev/null 2>"$T/e"
[ -s "$T/e" ] && fail "runs warned after a full verification passed: $(cat "$T/e")"
[ $nfail = 0 ] || exit 1
echo "verify_marks: show, query (every format), timeline and its page mark the event verify found"
