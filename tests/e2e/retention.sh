#!/bin/sh
# retention.sh — `ledger archive` and `ledger prune` (docs/RETENTION.md):
# old events moved into an evidence bundle and out of the ledger, which
# keeps proving everything.
#
#   * a ledger of three stretches (400 days old, 200 days old, today), with
#     a second actor key, a model, route decisions that name it and a run
#     that spans the horizon;
#   * archive: rounded to a commit's end (said), verifies with verify-bundle
#     like any bundle, read by query/doctor --bundle;
#   * prune refuses (and changes nothing): no archive, a missing file, a
#     partial archive, a redacted one, another ledger's, a typo, events
#     younger than the retention minimum without --force;
#   * after the prune: verify and verify --full pass and say what was
#     pruned; the checkpoints, inclusion proofs of pruned and kept events
#     and consistency proofs are the same bytes as before; hash tiles are
#     the same, entry bundles with a pruned entry are not written; a
#     witness cosigns the next checkpoint and a mirror made before the
#     prune follows it; query, show and timeline name the horizon and the
#     archive (66 when nothing kept matches); export refuses a selection
#     that crosses the horizon and one after it verifies (the horizon
#     record establishes the pruned keys); rebuild and rebuild --check
#     give the digests of before; the doctor says what it said;
#   * a second archive and prune from the horizon on, both verifying;
#   * the policy: retention.json (keep_days, disk_budget, archive_dir),
#     `prune --policy`, `serve --prune-every`, a malformed file named;
#   * a full disk and kill -9 at every I/O call of a prune: the ledger is
#     the one before or the one after, and verifies.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib/wait.sh" # killed_in_call PID LOG
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/retention.XXXXXX") || exit 1
spid=""
hpid=""
wpid=""
cleanup() {
    for p in $spid $hpid $wpid; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
# the clock shim (CS; SAN_PRE for the other shims): lib/clockshift.sh
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$L" detect_leaks=0
CC=${CC:-cc}
$CC -shared -fPIC -O1 -o "$T/fi.so" "$ROOT/tests/faults/faultinject.c" -ldl \
    2>"$T/cc.err" || { echo "FAIL: faultinject: $(cat "$T/cc.err")"; exit 1; }
FI=$SAN_PRE$T/fi.so
# ago DAYS CMD...: runs the ledger with the wall clock DAYS days back
ago() {
    d=$1
    shift
    CLOCK_SHIFT_S=$((-d * 86400)) LD_PRELOAD=$CS "$L" "$@"
}
DAY=86400000000000

# ------------------------------------------------------------ the ledger --
B=$T/base
ago 400 --dir "$B" init --origin retention.test/log >/dev/null || exit 1
ago 400 --dir "$B" keys add alice --roles model,route,run >/dev/null || exit 1
# stretch I (400 days ago): a model, its verification, decisions that name
# it, and run R-span's start
gen() { # FROM COUNT
    awk -v f="$1" -v n="$2" 'BEGIN { for (i = f; i < f + n; i++)
        printf("{\"type\":\"x.ret.t%d\",\"subject\":\"s:%d\",\"run\":\"r-%d\",\"body\":{\"n\":%d}}\n",
               i % 3, i % 7, i % 5, i) }'
}
gen 0 700 >"$T/in1"
ago 400 --dir "$B" ingest "$T/in1" >/dev/null 2>&1 || exit 1
ago 400 --dir "$B" append model.registered --actor alice \
    --body '{"model":"m1","digest":"sha256:aa"}' >/dev/null || exit 1
ago 400 --dir "$B" append model.verified --actor alice --run R-old \
    --body '{"model":"m1","digest":"sha256:aa","ok":true}' >/dev/null || exit 1
ago 400 --dir "$B" append pack.installed \
    --body '{"pack":"p1","version":"1.0","manifest_digest":"sha256:bb"}' \
    >/dev/null || exit 1
ago 400 --dir "$B" append permission.granted \
    --body '{"pack":"p1","group":"exec","scope":"curl","by":"operator"}' \
    >/dev/null || exit 1
ago 400 --dir "$B" append run.started --actor alice \
    --body '{"run":"R-span","pack":"p1"}' >/dev/null || exit 1
# the ledger as it was at stretch I's end (same keys, same events)
cp -r "$B" "$T/b1"
# stretch II (200 days ago)
gen 700 800 >"$T/in2"
ago 200 --dir "$B" ingest "$T/in2" >/dev/null 2>&1 || exit 1
ago 200 --dir "$B" append route.decision --actor alice \
    --body '{"route":"r1","chosen_model":"m1","run":"R-span"}' >/dev/null ||
    exit 1
H2=$("$L" --dir "$B" stats -o json | jq -r .size) # stretch II ends here
# stretch III (today)
gen 1500 600 >"$T/in3"
"$L" --dir "$B" ingest "$T/in3" >/dev/null 2>&1 || exit 1
"$L" --dir "$B" append route.decision --actor alice \
    --body '{"route":"r1","chosen_model":"m1","run":"R-span"}' >/dev/null ||
    exit 1
"$L" --dir "$B" append run.finished --actor alice \
    --body '{"run":"R-span","status":"ok"}' >/dev/null || exit 1
# a run wholly after the horizon, under the permission granted before it
"$L" --dir "$B" append run.started --actor alice \
    --body '{"run":"R-late","pack":"p1"}' >/dev/null || exit 1
"$L" --dir "$B" append run.finished --actor alice \
    --body '{"run":"R-late","status":"ok"}' >/dev/null || exit 1
N=$("$L" --dir "$B" stats -o json | jq -r .size)
# genesis, init's anchor (key.anchored), alice's key.added and key.anchored
# (keys add anchors a key the box holds when the log key is anchored), 700
# events, 5 appends: stretch I's end
H1=$((700 + 9))
VK=$("$L" --dir "$B" keys verifier)

# what a reader gets that a prune must not change
answers() { # DIR OUT
    mkdir -p "$2"
    "$L" --dir "$1" checkpoint --size "$N" >"$2/checkpoint" 2>&1
    for s in 0 1 255 256 700 704 705 1500 1999 $((N - 1)); do
        "$L" --dir "$1" proof --size "$N" "$s" >"$2/proof.$s" 2>&1
    done
    for o in 1 256 $H1 $H2 $((N - 1)); do
        "$L" --dir "$1" proof --size "$N" --consistency "$o" >"$2/cons.$o" 2>&1
    done
    "$L" --dir "$1" projections --at $((N - 1)) -o json |
        jq -c '{name, digest}' >"$2/digests" 2>&1
    "$L" --dir "$1" doctor --at $((N - 1)) -o json | jq -c .packs >"$2/doctor" 2>&1
    # what the log knew of m1's weights at the decisions that name it
    # (registered and verified before the horizon)
    "$L" --dir "$1" query type=route.decision -o json |
        jq -c '[.seq, .model_at]' >"$2/model_at" 2>&1
}
answers "$B" "$T/before"
rm -rf "$T/tiles.before"
"$L" --dir "$B" tiles "$T/tiles.before" >/dev/null 2>&1 || fail "tiles before"

# ------------------------------------------------------------- archive --
D=$T/d
cp -r "$B" "$D"
"$L" --dir "$D" archive --before 600 --out "$T/a1.bundle" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] || fail "archive: $(cat "$T/err")"
R=$(sed -n 's/.*before 600 were asked for; rounded down to \([0-9]*\), where a commit ends.*/\1/p' "$T/err")
[ -n "$R" ] && [ "$R" -lt 600 ] ||
    fail "archive: rounding not said: $(cat "$T/err")"
grep -q "^archived events 0..$((R - 1)) ($R events" "$T/out" ||
    fail "archive: says $(cat "$T/out")"
rm -f "$T/a1.bundle"
"$L" --dir "$D" archive --before "$H1" --out "$T/a1.bundle" -o json >"$T/out" ||
    fail "archive -o json"
jq -e ".horizon.horizon == \"$H1\" and .horizon.first == \"0\" and
       .events == $H1 and (.sha256 | length) == 64" "$T/out" >/dev/null ||
    fail "archive -o json: $(cat "$T/out")"
[ "$(jq -r .sha256 "$T/out")" = "$(sha256sum "$T/a1.bundle" | cut -c1-64)" ] ||
    fail "archive: the SHA-256 it reports is not the file's"
"$L" verify-bundle "$T/a1.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle of the archive: $(grep -v PASS "$T/vb")"
grep -q "root of its checkpoint of size $H1" "$T/vb" ||
    fail "verify-bundle: $(tail -1 "$T/vb")"
"$L" query --bundle "$T/a1.bundle" --trusted-key "$VK" -o json -n all \
    type=x.ret.t1 2>/dev/null | wc -l | grep -qx 233 ||
    fail "query --bundle archive"
# its short lines as the ledger's (run= before the body)
"$L" query --bundle "$T/a1.bundle" --trusted-key "$VK" seq=5 2>/dev/null |
    cut -d' ' -f4- >"$T/q1"
"$L" --dir "$B" query seq=5 | cut -d' ' -f4- | cmp -s - "$T/q1" ||
    fail "query --bundle's line is not the ledger's: $(cat "$T/q1")"
# --max-bytes: smaller than the archive, refused naming the limit; larger,
# read
"$L" verify-bundle "$T/a1.bundle" --trusted-key "$VK" --max-bytes 100000 \
    >/dev/null 2>"$T/err"
[ $? -eq 65 ] && grep -q 'limit\|exceed\|more than' "$T/err" ||
    fail "verify-bundle --max-bytes 100000: $(tail -n 2 "$T/err")"
"$L" query --bundle "$T/a1.bundle" --trusted-key "$VK" --max-bytes 200000000 \
    -n 1 type=x.ret.t1 >/dev/null 2>"$T/err" ||
    fail "query --bundle --max-bytes: $(tail -n 2 "$T/err")"
"$L" timeline R-old --bundle "$T/a1.bundle" --trusted-key "$VK" >"$T/out" 2>"$T/err" &&
    grep -q '^run R-old  (1 events' "$T/out" && grep -q 'model.verified' "$T/out" ||
    fail "timeline --bundle of the archive: $(cat "$T/out" "$T/err")"
# ... and its page, as for any bundle (issue 46: --html refused it)
"$L" timeline R-old --bundle "$T/a1.bundle" --trusted-key "$VK" \
    --html "$T/old.html" >"$T/out" 2>"$T/err" &&
    grep -q 'model.verified' "$T/old.html" && grep -q 'Run R-old' "$T/old.html" &&
    grep -q 'the page shows the events of run R-old it holds' "$T/err" ||
    fail "timeline --bundle --html of the archive: $(cat "$T/out" "$T/err")"
rm -f "$T/old.html"
"$L" query --bundle "$T/a1.bundle" --trusted-key "$VK" --max-bytes 0 \
    2>/dev/null
[ $? -eq 64 ] || fail "query --bundle --max-bytes 0: not 64"
"$L" doctor --bundle "$T/a1.bundle" --trusted-key "$VK" --at $((H1 - 1)) \
    >/dev/null 2>"$T/err"
[ $? -le 3 ] || fail "doctor --bundle --at on the archive: $(cat "$T/err")"
"$L" --dir "$D" archive --before "$H1" --out "$T/a1.bundle" 2>"$T/err"
[ $? -eq 73 ] || fail "archive over an existing file: not 73 ($(cat "$T/err"))"
"$L" --dir "$D" archive --before yesterdayy --out "$T/x.bundle" 2>"$T/err"
[ $? -eq 64 ] && grep -q 'neither a sequence number nor a time' "$T/err" ||
    fail "archive --before typo: $(cat "$T/err")"
# a sign and digits would be seconds from now (the whole log): a unit is
# asked for; a number past 2^64-1 is a usage error like the others
for b in -5 +100 18446744073709551616; do
    "$L" --dir "$D" archive --before "$b" --out "$T/x.bundle" 2>"$T/err"
    [ $? -eq 64 ] && [ ! -e "$T/x.bundle" ] &&
        grep -Eq 'it needs a unit|more than any sequence number' "$T/err" ||
        fail "archive --before $b: $(cat "$T/err")"
done
"$L" --dir "$D" archive --before 0 --out "$T/x.bundle" 2>"$T/err"
[ $? -eq 66 ] && grep -q 'nothing before 0' "$T/err" ||
    fail "archive --before 0: $(cat "$T/err")"
"$L" --dir "$D" archive --out "$T/x.bundle" 2>/dev/null
[ $? -eq 64 ] || fail "archive without --before: not 64"
[ -e "$T/x.bundle" ] && fail "a refused archive left a file"

# ---------------------------------------------------- prune refuses --
"$L" --dir "$D" checkpoint >"$T/ck.now"
unchanged() { # WHAT
    "$L" --dir "$D" checkpoint | cmp -s - "$T/ck.now" || fail "$1: changed the log"
    "$L" --dir "$D" show 0 >/dev/null 2>&1 || fail "$1: event 0 is gone"
}
"$L" --dir "$D" prune --before "$H1" 2>"$T/err"
[ $? -eq 64 ] && grep -q -- '--archive FILE is required' "$T/err" ||
    fail "prune without --archive: $(cat "$T/err")"
unchanged "no --archive"
"$L" --dir "$D" prune --before "$H1" --archive "$T/none.bundle" --force 2>"$T/err"
[ $? -eq 66 ] && grep -q 'none.bundle' "$T/err" ||
    fail "prune, missing archive: $(cat "$T/err")"
unchanged "missing archive"
# (the ingest's commit ends at 703: alice's anchor is event 3)
"$L" --dir "$D" archive --before 704 --out "$T/short.bundle" >/dev/null 2>&1
"$L" --dir "$D" prune --before "$H1" --archive "$T/short.bundle" --force 2>"$T/err"
[ $? -eq 1 ] && grep -q "holds events 0..703; pruning before $H1 needs exactly events 0..$((H1 - 1))" "$T/err" ||
    fail "prune, partial archive: $(cat "$T/err")"
unchanged "partial archive"
# a refusal says how --before was read too (a time: all of the log)
"$L" --dir "$D" prune --before now --archive "$T/short.bundle" --force 2>"$T/err"
[ $? -eq 1 ] && grep -q "^ledger prune: --before now read as the time .*, after the log's last event: all of it" "$T/err" &&
    grep -q "holds events 0..703; pruning before" "$T/err" ||
    fail "prune --before now, partial archive: $(cat "$T/err")"
unchanged "partial archive, --before now"
head -c 5000 "$T/a1.bundle" >"$T/cut.bundle"
"$L" --dir "$D" prune --before "$H1" --archive "$T/cut.bundle" --force 2>"$T/err"
[ $? -eq 65 ] && grep -q 'cannot be read as a segment: .*truncated' "$T/err" ||
    fail "prune, truncated archive: $(cat "$T/err")"
unchanged "truncated archive"
"$L" --dir "$D" archive --before "$H1" --out - >/dev/null 2>"$T/err"
[ $? -eq 64 ] || fail "archive --out -: $(cat "$T/err")"
"$L" --dir "$T/b1" export --redact n --out "$T/red.bundle" \
    >/dev/null 2>&1 || fail "export --redact"
"$L" --dir "$D" prune --before "$H1" --archive "$T/red.bundle" --force 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'withheld\|needs exactly' "$T/err" ||
    fail "prune, redacted archive: exit $rc, $(cat "$T/err")"
unchanged "redacted archive"
O=$T/other
ago 400 --dir "$O" init --origin retention.test/log >/dev/null
gen 0 700 | ago 400 --dir "$O" ingest - >/dev/null 2>&1
"$L" --dir "$O" archive --before 702 --out "$T/foreign.bundle" >/dev/null 2>&1
"$L" --dir "$D" prune --before 702 --archive "$T/foreign.bundle" --force 2>"$T/err"
[ $? -eq 1 ] && grep -q 'log-key\|not this ledger' "$T/err" ||
    fail "prune, another ledger's archive: $(cat "$T/err")"
unchanged "foreign archive"
"$L" --dir "$D" prune --before "$H1" --archive "$T/a1.bundle" --froce 2>"$T/err"
[ $? -eq 64 ] || fail "prune --froce: not 64"
unchanged "typo"
# the retention minimum: a year-old horizon passes, today's does not
"$L" --dir "$D" archive --before "$N" --out "$T/all.bundle" >/dev/null 2>&1
"$L" --dir "$D" prune --before "$N" --archive "$T/all.bundle" 2>"$T/err"
[ $? -eq 65 ] && grep -q 'younger than the retention minimum of 180 days' "$T/err" ||
    fail "prune of today's events: $(cat "$T/err")"
unchanged "retention minimum"

# --------------------------------------------------------------- prune --
# (ledger metrics keeps a cache of its counts, which prune brings up)
"$L" --dir "$D" metrics >/dev/null || fail "metrics before the prune"
"$L" --dir "$D" prune --before "$H1" --archive "$T/a1.bundle" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] || fail "prune: $(cat "$T/err")"
grep -q "^pruned events 0..$((H1 - 1)) ($H1 events" "$T/out" ||
    fail "prune says: $(cat "$T/out")"
grep -q "^recorded as ledger.pruned, seq $N" "$T/out" || fail "prune: no seq $N"
"$L" --dir "$D" show "$N" -o json | jq -e ".type == \"ledger.pruned\" and
    .body.horizon == $H1 and .body.first == 0 and
    .body.archive == \"a1.bundle\"" >/dev/null || fail "the ledger.pruned event"
"$L" --dir "$D" stats | grep -q "^events  *$((N + 1)) (0..$((H1 - 1)) pruned" ||
    fail "stats: $("$L" --dir "$D" stats | grep events)"
# run again: nothing left to do, which is what was asked (exit 0)
"$L" --dir "$D" prune --before "$H1" --archive "$T/a1.bundle" >"$T/out" 2>&1 &&
    grep -q "events 0..$((H1 - 1)) were pruned already" "$T/out" ||
    fail "prune run again: $(cat "$T/out")"
# ... but not with an archive that is not there, or a directory (66 both,
# no input there, worded as verify-bundle and ingest word it), or a device
# (65: not a bundle)
"$L" --dir "$D" prune --before "$H1" --archive "$T/gone.bundle" >"$T/out" 2>&1
rc=$?
[ "$rc" = 66 ] && grep -q "cannot open $T/gone.bundle: No such file" "$T/out" ||
    fail "prune run again, a missing archive: exit $rc: $(cat "$T/out")"
"$L" --dir "$D" prune --before "$H1" --archive "$T" >"$T/out" 2>&1
rc=$?
[ "$rc" = 66 ] && grep -q "^ledger prune: cannot open $T: Is a directory$" "$T/out" ||
    fail "prune run again with a directory for its archive: exit $rc: $(cat "$T/out")"
"$L" --dir "$D" prune --before "$((H1 + 1))" --archive "$T" --force \
    >"$T/out" 2>&1
rc=$?
[ "$rc" = 66 ] && grep -q "^ledger prune: cannot open $T: Is a directory$" "$T/out" ||
    fail "prune with a directory for its archive: exit $rc: $(cat "$T/out")"
"$L" --dir "$D" prune --before "$((H1 + 1))" --archive /dev/null --force \
    >"$T/out" 2>&1
rc=$?
[ "$rc" = 65 ] && grep -q "archive /dev/null: not a file" "$T/out" ||
    fail "prune with a device for its archive: exit $rc: $(cat "$T/out")"
# the counters go on over the pruned events (prune brought the metrics'
# cache up to date first)
m=$("$L" --dir "$D" metrics | awk '/^ledger_events_total\{/ { s += $2 } END { print s }')
[ "$m" = "$((N + 1))" ] || fail "ledger_events_total after the prune: $m, not $((N + 1))"
"$L" --dir "$D" verify >"$T/v" 2>&1 || fail "verify after prune: $(cat "$T/v")"
"$L" --dir "$D" verify --full >"$T/v" 2>&1 ||
    fail "verify --full after prune: $(cat "$T/v")"
grep -q "events 0..$((H1 - 1)) pruned at .* into archive $(sha256sum "$T/a1.bundle" | cut -c1-64); verified from $H1" "$T/v" ||
    fail "verify does not say what was pruned: $(cat "$T/v")"
"$L" --dir "$D" verify --full -o json | jq -e ".pruned.horizon == \"$H1\"" \
    >/dev/null || fail "verify -o json: no pruned"
answers "$D" "$T/after"
# (m1 registered at 704, verified at 705: event 1 is init's anchor, 3
# alice's)
grep -q '"sha256:aa","registered_seq":"704","verified":true' "$T/before/model_at" ||
    fail "model_at before the prune: $(cat "$T/before/model_at")"
# store layout 9: the prune dropped the pruned events' level-0 tiles
# (FORMAT.md 6.2): a proof that needs them is refused, naming the archive
# (retention_layout9.sh checks those proofs against the archive)
L999=0
[ "$("$L" --dir "$D" stats -o json | jq .layout)" = 9 ] && L999=1
DROPPED="the tree hashes it needs were pruned (at store layout 9 a prune drops those of the pruned events"
for f in checkpoint digests doctor model_at $(cd "$T/before" && ls proof.* cons.*); do
    cmp -s "$T/before/$f" "$T/after/$f" && continue
    # (only of events, or from sizes, before the first tile kept)
    [ $L999 = 1 ] && [ "${f#*.}" -lt $((((H1 - 1) / 256) * 256)) ] &&
        grep -qF "$DROPPED" "$T/after/$f" && continue
    fail "$f differs after the prune: $(head -c 300 "$T/after/$f")"
done
rm -rf "$T/tiles.after"
"$L" --dir "$D" tiles "$T/tiles.after" >/dev/null 2>"$T/err" ||
    fail "tiles after prune: $(cat "$T/err")"
for f in $(cd "$T/tiles.before" && find tile -type f ! -path 'tile/entries/*' ! -path '*.p/*'); do
    # (dropped: the level-0 tiles wholly before the last pruned event's)
    [ $L999 = 1 ] && case $f in tile/0/[0-9][0-9][0-9]) true ;; *) false ;; esac &&
        [ "$(expr "${f#tile/0/}" + 0)" -lt $(((H1 - 1) / 256)) ] &&
        [ ! -e "$T/tiles.after/$f" ] && continue
    cmp -s "$T/tiles.before/$f" "$T/tiles.after/$f" || fail "hash tile $f differs"
done
[ -e "$T/tiles.after/tile/entries/000" ] && fail "an entry bundle of pruned events"
[ -e "$T/tiles.after/tile/entries/003" ] || fail "entry bundle 3 (kept) missing"
# the bundle the horizon (709) falls in, 512..767, from the entries the
# prune kept for it: as it was
cmp -s "$T/tiles.before/tile/entries/002" "$T/tiles.after/tile/entries/002" ||
    fail "entry bundle 2 (the horizon's) not written as before"

# readers name the horizon
"$L" --dir "$D" show 5 2>"$T/err"
[ $? -eq 66 ] && grep -q "event 5 was pruned: events 0..$((H1 - 1))" "$T/err" &&
    grep -q 'SHA-256' "$T/err" || fail "show of a pruned event: $(cat "$T/err")"
"$L" --dir "$D" query type=x.ret.t1 seq=0..10 >"$T/out" 2>"$T/err"
[ $? -eq 66 ] && [ ! -s "$T/out" ] && grep -q 'lies before the horizon' "$T/err" ||
    fail "query of the pruned range: $(cat "$T/err")"
"$L" --dir "$D" query type=x.ret.t1 -n 1 >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ -s "$T/out" ] && grep -q 'covers the kept events' "$T/err" ||
    fail "query over the horizon: $(cat "$T/err")"
# a run whose events were all pruned: the horizon's word, once, and no
# note that the run is not among the kept events (which repeats it)
"$L" --dir "$D" query run=R-old >"$T/out" 2>"$T/err"
[ $? -eq 66 ] && [ ! -s "$T/out" ] && grep -q 'reaches before the horizon' "$T/err" &&
    ! grep -q 'no run named' "$T/err" ||
    fail "query of a pruned run: $(cat "$T/err")"
cur=$("$L" --dir "$B" query -n 1 seq=5 --show-cursor | sed -n 's/^-- cursor: //p')
"$L" --dir "$D" query -n 1 --after-cursor "$cur" >/dev/null 2>"$T/err"
[ $? -eq 66 ] && grep -q "was pruned (the ledger keeps events from $H1 on): continue with seq=$H1\.\." "$T/err" ||
    fail "--after-cursor of a pruned event: $(cat "$T/err")"
"$L" --dir "$D" query "seq=$H1..$((H1 + 3))" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ ! -s "$T/err" ] || fail "query after the horizon: $(cat "$T/err")"
t100=$("$L" --dir "$B" show 100 -o json | jq -r .time)
"$L" --dir "$D" query -n 1 -U "$t100" >/dev/null 2>"$T/err"
[ $? -eq 66 ] || fail "query -U before the horizon: not 66 ($(cat "$T/err"))"
# a window wholly before the horizon, by time on both ends
t50=$("$L" --dir "$B" show 50 -o json | jq -r .time)
"$L" --dir "$D" query -S "$t50" -U "$t100" >"$T/out" 2>"$T/err"
[ $? -eq 66 ] && [ ! -s "$T/out" ] && grep -q 'horizon' "$T/err" ||
    fail "query -S -U before the horizon: $(cat "$T/err")"
"$L" --dir "$D" export -S "$t50" -U "$t100" --out "$T/e0.bundle" 2>"$T/err"
[ $? -eq 66 ] && [ ! -e "$T/e0.bundle" ] && grep -q 'horizon' "$T/err" ||
    fail "export -S -U before the horizon: $(cat "$T/err")"
# --at a time: before the horizon it is in the archive; at the last pruned
# event's time it is the state the ledger kept at the horizon
"$L" --dir "$D" doctor --at "$t100" >/dev/null 2>"$T/err"
[ $? -eq 66 ] && grep -q 'state at that time is before the horizon' "$T/err" &&
    grep -q 'no state before it is kept' "$T/err" ||
    fail "doctor --at a pruned time: $(cat "$T/err")"
# by seq: the earliest --at there is, named
"$L" --dir "$D" doctor --at 100 >/dev/null 2>"$T/err"
[ $? -eq 66 ] && grep -q "the earliest state here is the one at the horizon, --at $((H1 - 1))" "$T/err" ||
    fail "doctor --at a pruned seq: $(cat "$T/err")"
"$L" --dir "$D" doctor --at $((H1 - 1)) >/dev/null 2>"$T/err"
[ $? -le 3 ] || fail "doctor --at the earliest it names: $(cat "$T/err")"
tH=$("$L" --dir "$B" show $((H1 - 1)) -o json | jq -r .time)
"$L" --dir "$D" projections --at "$tH" -o json >"$T/out" 2>"$T/err" ||
    fail "projections --at the horizon's time: $(cat "$T/err")"
"$L" --dir "$B" projections --at $((H1 - 1)) -o json | cmp -s - "$T/out" ||
    fail "projections --at the horizon's time: not the state at $H1"
"$L" --dir "$D" runs R-span >"$T/out" 2>"$T/err"
# (R-span started at the last pruned event: the state after it is the one
# kept at the horizon)
snap=$(sed -n 's/^at its start   ledger doctor --at \([0-9]*\) .*/\1/p' "$T/out")
[ "$snap" = $((H1 - 1)) ] ||
    fail "runs R-span: where its start's state is: $(cat "$T/out" "$T/err")"
"$L" --dir "$D" doctor --at "$snap" >/dev/null 2>"$T/err"
[ $? -ne 66 ] || fail "doctor --at $snap (the horizon's state): $(cat "$T/err")"
# a run whose events were all pruned: named as such, not "no such run"
"$L" --dir "$D" timeline R-old >"$T/out" 2>"$T/err"
[ $? -eq 66 ] && grep -q 'run R-old: its events (.*) are all before the horizon' "$T/err" &&
    ! grep -q 'no such run' "$T/err" ||
    fail "timeline of a pruned run: $(cat "$T/err")"
"$L" --dir "$D" timeline R-span >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q 'began at event .* before the horizon' "$T/err" ||
    fail "timeline of a run across the horizon: $(cat "$T/err")"
# ... its pack, start and horizon said, what was in force shown at the
# horizon, not as nothing (until 2026-11-26 pack and start were null and
# the permissions an empty list, unmarked)
grep -q "^run R-span  pack .*started [A-Z][a-z][a-z] .* (#$((H1 - 1)), before the horizon: pruned)" "$T/out" &&
    grep -q "^begun before the horizon: its events before #$H1 were pruned" "$T/out" &&
    grep -q "^permissions in force at the horizon (pack " "$T/out" ||
    fail "timeline of a run across the horizon: $(head -5 "$T/out")"
# (its offsets count from its start, 400 days ago, not from its first kept
# event, 200 days ago: issue 46)
"$L" --dir "$D" timeline R-span -o json | jq -e ".pack != null and
    .start.pruned and .start.seq == \"$((H1 - 1))\" and
    (.start.recorded_ts | length) > 0 and
    .events[0].rel_us > 150 * $DAY / 1000 and
    .horizon.seq == \"$H1\" and (.horizon.archive_sha256 | length) == 64" \
    >/dev/null || fail "timeline -o json of a run across the horizon: $("$L" --dir "$D" timeline R-span -o json | head -c 600)"
# a run after the horizon under a permission granted before it: the
# permission is in force, its signer is in the archive
"$L" --dir "$D" timeline R-late >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q 'granted *exec *curl .*signer=(pruned: in its archive)' "$T/out" ||
    fail "timeline of a run under a pruned permission: $(cat "$T/out" "$T/err")"
"$L" --dir "$D" timeline R-late -o json | jq -e '.permissions[0].signer == null' \
    >/dev/null || fail "timeline -o json: the pruned permission's signer"
"$L" --dir "$D" export --run R-late --out "$T/late.bundle" >/dev/null 2>"$T/err" ||
    fail "export --run of a run under a pruned permission: $(cat "$T/err")"
"$L" verify-bundle "$T/late.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle of that run: $(grep -v PASS "$T/vb")"
"$L" --dir "$D" doctor --at 10 2>"$T/err"
[ $? -eq 66 ] && grep -q 'before the ledger.s horizon' "$T/err" ||
    fail "doctor --at a pruned size: $(cat "$T/err")"
"$L" --dir "$D" export --out "$T/e.bundle" 2>"$T/err"
[ $? -eq 66 ] && grep -q 'reaches before the ledger.s horizon' "$T/err" &&
    [ ! -e "$T/e.bundle" ] || fail "export across the horizon: $(cat "$T/err")"
"$L" --dir "$D" export "seq=$H1.." --out "$T/e.bundle" >/dev/null 2>&1 ||
    fail "export after the horizon"
"$L" verify-bundle "$T/e.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle of an export from the pruned ledger: $(grep -v PASS "$T/vb")"
grep -q 'and the horizon record' "$T/vb" || fail "keys check: $(grep keys "$T/vb")"
"$L" --dir "$D" export actor=alice type=route.decision "seq=$H1.." \
    --out "$T/e2.bundle" >/dev/null 2>&1 || fail "export of alice's decisions"
"$L" verify-bundle "$T/e2.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle (a pruned key, a pruned model): $(grep -v PASS "$T/vb")"
# its decisions say what the log knew of m1 then, as before the prune (the
# registration and verification are in the archive: the exporter's word)
n=$("$L" verify-bundle "$T/e2.bundle" --trusted-key "$VK" --extract "$T/e2x" \
    >/dev/null 2>&1 && jq -c . "$T/e2x/events.jsonl" |
    jq -s '[.[] | select(.model_at.registered_seq == "704" and
        .model_at.verified_seq == "705")] | length')
[ "$n" = 2 ] || fail "model_at in a bundle of the pruned ledger: $n decisions name m1's weights"
"$L" --dir "$D" keys list | grep -q '^alice ' || fail "keys list after prune"
"$L" --dir "$D" append x.after --actor alice --body '{}' >/dev/null 2>&1 &&
    fail "alice (roles model,route,run) appended an x. event"
"$L" --dir "$D" append route.decision --actor alice \
    --body '{"route":"r1","chosen_model":"m1"}' >/dev/null ||
    fail "append by a key added before the horizon"
"$L" --dir "$D" erase 5 --reason test 2>"$T/err"
[ $? -eq 66 ] && grep -q 'event 5 was pruned.*nothing erased' "$T/err" ||
    fail "erase of a pruned event: $(cat "$T/err")"
"$L" --dir "$D" append ledger.pruned --body '{}' 2>"$T/err"
[ $? -eq 65 ] && grep -q "written by 'ledger prune' only" "$T/err" ||
    fail "append ledger.pruned: $(cat "$T/err")"

# rebuild starts from the horizon
"$L" --dir "$D" rebuild >"$T/out" 2>&1 || fail "rebuild: $(cat "$T/out")"
"$L" --dir "$D" rebuild --check >"$T/out" 2>&1 &&
    grep -q '0 differences' "$T/out" || fail "rebuild --check: $(cat "$T/out")"
"$L" --dir "$D" projections --at $((N - 1)) -o json | jq -c '{name, digest}' |
    cmp -s - "$T/before/digests" || fail "rebuild: other digests at $N"
"$L" --dir "$D" verify --full >/dev/null 2>&1 || fail "verify after rebuild"

# --------------------------------------------- witness and mirror go on --
M=$T/mirror
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$T/tiles.before" \
    >"$T/hs" 2>&1 &
hpid=$!
i=0
while ! grep -q 'port [0-9]' "$T/hs" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
HP=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/hs" | head -n 1)
"$L" mirror "http://127.0.0.1:$HP" --state "$M" --key "$VK" >"$T/m" 2>&1 ||
    fail "mirror before the prune: $(cat "$T/m")"
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
# the prune's tiles published over the old ones (a publication keeps its
# files): the mirror fetches only the new tiles
cp -r "$T/tiles.after/." "$T/tiles.before/"
# (a file of its own: the first server's "port N" in $T/hs was read before
# the second one truncated it, and the mirror went to a port nobody served)
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$T/tiles.before" \
    >"$T/hs2" 2>&1 &
hpid=$!
i=0
while ! grep -q 'port [0-9]' "$T/hs2" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
HP=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/hs2" | head -n 1)
"$L" mirror "http://127.0.0.1:$HP" --state "$M" >"$T/m" 2>&1 ||
    fail "mirror after the prune: $(cat "$T/m")"
grep -q "verified at size $((N + 1))" "$T/m" || fail "mirror: $(cat "$T/m")"
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
hpid=""
WV=$("$L" witness init --dir "$T/w" --name w.example/w1) || fail "witness init"
"$L" witness serve --listen 127.0.0.1:0 --dir "$T/w" --trust "$VK" \
    >"$T/wout" 2>"$T/werr" &
wpid=$!
i=0
while ! grep -q '^listening on 127.0.0.1:' "$T/wout" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
WP=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/wout")
{ echo "old 0"; echo; "$L" --dir "$B" checkpoint; } >"$T/req0"
[ "$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/req0" \
    "http://127.0.0.1:$WP/add-checkpoint")" = 200 ] ||
    fail "witness: the checkpoint before the prune: $(cat "$T/resp")"
"$L" --dir "$D" proof --consistency "$N" >"$T/req1" ||
    fail "consistency proof from before the prune"
[ "$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/req1" \
    "http://127.0.0.1:$WP/add-checkpoint")" = 200 ] ||
    fail "witness: the checkpoint after the prune: $(cat "$T/resp")"
grep -q '^— w.example/w1 ' "$T/resp" || fail "witness: no cosignature"
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
wpid=""

# ------------------------------------------------- a second prune --
"$L" --dir "$D" archive --before "$H2" --out "$T/a2.bundle" >/dev/null 2>"$T/err" ||
    fail "second archive: $(cat "$T/err")"
"$L" verify-bundle "$T/a2.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle of the second archive: $(grep -v PASS "$T/vb")"
"$L" --dir "$D" prune --before "$H2" --archive "$T/a1.bundle" 2>"$T/err"
[ $? -eq 1 ] || fail "second prune with the first archive: $(cat "$T/err")"
"$L" --dir "$D" prune --before "$H2" --archive "$T/a2.bundle" >"$T/out" 2>&1 ||
    fail "second prune: $(cat "$T/out")"
"$L" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify after the second prune: $(cat "$T/v")"
grep -q "^ok: full verification of the [0-9]* kept events ($H2\.\." "$T/v" &&
    grep -q "events $H1..$((H2 - 1)) pruned at .* into archive $(sha256sum "$T/a2.bundle" | cut -c1-64) (0..$((H1 - 1)) into earlier archives); verified from $H2" "$T/v" ||
    fail "verify's words after the second prune: $(cat "$T/v")"
"$L" --dir "$D" show 800 2>&1 | grep -q "events $H1..$((H2 - 1)) were pruned into the archive a2.bundle with SHA-256 $(sha256sum "$T/a2.bundle" | cut -c1-64) (ledger.pruned, seq " ||
    fail "show after two prunes: $("$L" --dir "$D" show 800 2>&1)"
# a run spread over both archives names both (issue 46: only the latest)
"$L" --dir "$D" timeline R-span >"$T/out" 2>"$T/err"
grep -q "pruned into the archives a1.bundle (events 0..$((H1 - 1)), SHA-256 $(sha256sum "$T/a1.bundle" | cut -c1-64)) and a2.bundle (events $H1..$((H2 - 1)), SHA-256 $(sha256sum "$T/a2.bundle" | cut -c1-64))" "$T/out" &&
    grep -q "a1.bundle .* and a2.bundle" "$T/err" ||
    fail "timeline of a run over two archives: $(head -n 3 "$T/out") $(cat "$T/err")"
# an event of the first prune: its own archive, from its ledger.pruned
"$L" --dir "$D" show 5 2>&1 | grep -q "events 0..$((H1 - 1)) were pruned into the archive a1.bundle with SHA-256 $(sha256sum "$T/a1.bundle" | cut -c1-64)" ||
    fail "show of the first prune's event after two: $("$L" --dir "$D" show 5 2>&1)"
"$L" --dir "$D" export "seq=$H2.." --out "$T/e3.bundle" >/dev/null 2>&1 ||
    fail "export after two prunes"
"$L" verify-bundle "$T/e3.bundle" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
    fail "verify-bundle after two prunes: $(grep -v PASS "$T/vb")"
"$L" --dir "$D" rebuild --check 2>&1 | grep -q '0 differences' ||
    fail "rebuild --check after two prunes"

# ------------------------------------------------------------ policy --
P=$T/p
cp -r "$B" "$P"
"$L" --dir "$P" prune --policy >"$T/out" 2>"$T/err" || fail "prune --policy: $(cat "$T/err")"
grep -q "^archived events 0..$((H2 - 1)) into $P/archive/ledger-0-$((H2 - 1)).segment" "$T/out" ||
    fail "prune --policy says: $(cat "$T/out")"
"$L" verify-bundle "$P/archive/ledger-0-$((H2 - 1)).segment" --trusted-key "$VK" \
    >/dev/null 2>&1 || fail "the policy's archive does not verify"
"$L" --dir "$P" prune --policy >"$T/out" 2>&1 &&
    grep -q '^nothing to prune' "$T/out" || fail "prune --policy again: $(cat "$T/out")"
printf '{"keep_days": 100,\n "dusk_budget": 1}\n' >"$P/retention.json"
"$L" --dir "$P" prune --policy 2>"$T/err"
[ $? -eq 65 ] && grep -q 'unknown key "dusk_budget"' "$T/err" ||
    fail "retention.json with a typo: $(cat "$T/err")"
printf '{"keep_days": 100,\n "disk_budget": }\n' >"$P/retention.json"
"$L" --dir "$P" prune --policy 2>"$T/err"
[ $? -eq 65 ] && grep -q 'retention.json:2:' "$T/err" ||
    fail "malformed retention.json: $(cat "$T/err")"
printf '{"keep_days": 100, "disk_budget": "1K", "archive_dir": "old"}\n' \
    >"$P/retention.json"
"$L" --dir "$P" prune --policy -o json >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q 'younger than the retention minimum of 100 days' "$T/err" &&
    jq -e '.pruned == false and .budget_refused' "$T/out" >/dev/null ||
    fail "a budget that needs young events: $(cat "$T/err") $(cat "$T/out")"
"$L" --dir "$P" prune --policy --force >"$T/out" 2>"$T/err" ||
    fail "prune --policy --force: $(cat "$T/err")"
# 1K is less than what stays of every event: said, not passed over
grep -q 'still [0-9]* bytes over the disk budget of 1024 after this prune: what no prune removes .* raise it' "$T/err" ||
    fail "a budget no prune can reach: $(cat "$T/err")"
ls "$P/old" | grep -q '^ledger-' || fail "archive_dir old: $(ls "$P")"
# run again and again, still over it: each run says so and prunes the
# next commit (until 2026-11-26 a run whose excess was smaller than a
# commit pruned nothing and said only "nothing to prune")
h0=$("$L" --dir "$P" stats -o json | jq -r '.first.seq')
for i in 1 2 3; do
    "$L" --dir "$P" prune --policy --force -o json >"$T/out" 2>"$T/err" ||
        fail "prune --policy --force, run $i: $(cat "$T/err")"
    jq -e '(.over_budget_after // .policy.over_budget_after) > 0' "$T/out" \
        >/dev/null && grep -q 'over the disk budget of 1024' "$T/err" ||
        fail "prune --policy --force over budget, run $i: $(cat "$T/out" "$T/err")"
    h=$("$L" --dir "$P" stats -o json | jq -r '.first.seq')
    [ "$h" -gt "$h0" ] 2>/dev/null ||
        fail "prune --policy --force over budget, run $i: the horizon stayed at $h0"
    h0=$h
done
# archive_events: a long stretch archived and pruned in parts, never
# splitting a commit (here: commits of 100 events)
Q=$T/q
ago 400 --dir "$Q" init --origin retention.test/q >/dev/null
for k in 1 2 3 4 5 6 7 8; do
    gen $((k * 100)) 100 | ago 400 --dir "$Q" ingest - >/dev/null 2>&1
done
echo '{"archive_events": 250}' >"$Q/retention.json"
cp -r "$Q" "$T/qfail"
"$L" --dir "$Q" prune --policy -o json >"$T/qout" 2>"$T/err" ||
    fail "prune --policy in parts: $(cat "$T/err")"
# (genesis, init's anchor and 800 events: 802, all of them old enough)
jq -e '.policy.parts == 4 and .policy.archives_written == 4 and
       .policy.events == 802 and .horizon.horizon == "802"' "$T/qout" \
    >/dev/null || fail "prune --policy in parts: $(cat "$T/qout")"
# a part that fails after others were pruned: the error, and what was
# pruned before it (it was said only as the error); here the second
# part's archive name is taken by a directory
second=$(ls "$Q/archive" | sort -t- -k2,2n | sed -n 2p)
mkdir -p "$T/qfail/archive/$second"
"$L" --dir "$T/qfail" prune --policy >"$T/out" 2>"$T/err"
rc=$?
[ $rc != 0 ] && grep -q "before that, this run pruned 1 part: [0-9]* events from event 0 on" "$T/err" ||
    fail "prune --policy failing at part 2: exit $rc, $(cat "$T/err")"
"$L" --dir "$T/qfail" verify --full >/dev/null 2>&1 || fail "verify after a part failed"
for a in "$Q"/archive/ledger-*; do
    n=$("$L" verify-bundle "$a" --trusted-key "$("$L" --dir "$Q" keys verifier)" \
        -o json 2>/dev/null | jq -r .selected)
    [ -n "$n" ] && [ "$n" -le 250 ] || fail "$a holds $n events, more than archive_events 250"
    "$L" verify-bundle "$a" --trusted-key "$("$L" --dir "$Q" keys verifier)" \
        >/dev/null 2>&1 || fail "$a does not verify"
done
"$L" --dir "$Q" verify --full >/dev/null 2>&1 || fail "verify after the parts"
# a commit larger than archive_events is a part of its own, not the rest
# of the log in one; a configured archive_dir is made with its parents
Q2=$T/q2
ago 400 --dir "$Q2" init --origin retention.test/q2 >/dev/null
gen 0 300 >"$T/q2.in"
ago 400 --dir "$Q2" ingest --batch 300 "$T/q2.in" >/dev/null 2>&1
"$L" --dir "$Q2" metrics >/dev/null || fail "metrics of q2" # (its cache: 302)
gen 300 200 >"$T/q2.in"
ago 400 --dir "$Q2" ingest --batch 100 "$T/q2.in" >/dev/null 2>&1
echo '{"archive_events": 250, "archive_dir": "n/e/s/t"}' >"$Q2/retention.json"
"$L" --dir "$Q2" prune --policy -o json >"$T/out" 2>"$T/err" ||
    fail "prune --policy, a commit larger than a part: $(cat "$T/err")"
# (genesis and init's anchor, 2..301 in one commit, 302..501 in two)
jq -e '.policy.parts == 3 and .horizon.horizon == "502"' "$T/out" >/dev/null ||
    fail "prune --policy, a commit larger than a part: $(cat "$T/out")"
# the counters went on over the pruned events: the prune counted 302..501
# into the cache before it removed them (and three ledger.pruned after)
m=$("$L" --dir "$Q2" metrics | awk '/^ledger_events_total\{/ { s += $2 } END { print s }')
[ "$m" = 505 ] || fail "ledger_events_total after prune --policy: $m, not 505"
[ -e "$Q2/n/e/s/t/ledger-2-301.segment" ] && [ -e "$Q2/n/e/s/t/ledger-302-501.segment" ] &&
    [ -e "$Q2/n/e/s/t/ledger-0-1.segment" ] ||
    fail "the parts around a large commit: $(ls -R "$Q2/n" 2>&1)"
# an archive of the policy's name that fails its check is set aside and
# written again; what a killed run left half-written is removed
Z=$T/z
cp -r "$B" "$Z"
mkdir -p "$Z/archive"
head -c 5000 /dev/urandom >"$Z/archive/ledger-0-$((H2 - 1)).segment"
echo partial >"$Z/archive/ledger-0-99.segment.tmp.AbC123"
echo partial >"$Z/archive/ledger-0-98.bundle.tmp.XyZ789"
"$L" --dir "$Z" prune --policy >"$T/out" 2>"$T/err" ||
    fail "prune --policy over a damaged archive: $(cat "$T/err")"
grep -q "failed its check: kept as $Z/archive/ledger-0-$((H2 - 1)).segment.rejected" "$T/err" ||
    fail "the damaged archive not said: $(cat "$T/err")"
ls "$Z/archive" | grep -q '\.rejected\.' || fail "the damaged archive was not kept"
[ -e "$Z/archive/ledger-0-99.segment.tmp.AbC123" ] && fail "a partial archive left"
[ -e "$Z/archive/ledger-0-98.bundle.tmp.XyZ789" ] && fail "a partial bundle archive left"
"$L" verify-bundle "$Z/archive/ledger-0-$((H2 - 1)).segment" --trusted-key "$VK" \
    >/dev/null 2>&1 || fail "the archive written again does not verify"
# an event erased after it was written (the body.erased after the
# horizon): its segment carries the erasure (and its key's events), proven
# against the latest checkpoint, its events' root taken there by a
# consistency proof, and the state at the horizon as the events fold now
# with a note signed for it; the prune takes it
E=$T/e
"$L" --dir "$E" init --origin retention.test/e >/dev/null
gen 0 50 >"$T/e.in"
"$L" --dir "$E" ingest --batch 10 "$T/e.in" >/dev/null 2>&1
cp -r "$E" "$T/e.b"
"$L" --dir "$E" erase 5 --reason gdpr >/dev/null || fail "erase 5"
# (the genesis and init's anchor, then commits of 10 events, 2..11,
# 12..21, ...: 22 is a commit's end; 52 events, the erasure the 53rd)
"$L" --dir "$E" archive --before 22 --out "$T/e1.seg" >"$T/out" 2>&1 &&
    grep -q 'proven against the checkpoint of size 53' "$T/out" &&
    grep -q 'carries the 1 events after the horizon that prove those erasures' "$T/out" ||
    fail "archive of an erased event: $(cat "$T/out")"
EK=$("$L" --dir "$E" keys verifier)
"$L" verify-bundle "$T/e1.seg" --trusted-key "$EK" >"$T/vb" 2>&1 &&
    grep -q 'PASS erasures: 1 erased bodies, each named by a proven body.erased' "$T/vb" ||
    fail "verify-bundle, erased event: $(grep -v PASS "$T/vb")"
"$L" doctor --bundle "$T/e1.seg" --trusted-key "$EK" -o json >"$T/out" 2>"$T/err" &&
    jq -e '.size == "22" or .doctor.size == "22" or .log_size == "22"' "$T/out" >/dev/null ||
    grep -q '22' "$T/out" ||
    fail "doctor --bundle of an archive with an erasure after it: $(cat "$T/out" "$T/err")"
"$L" query --bundle "$T/e1.seg" --trusted-key "$EK" seq=5 2>/dev/null |
    grep -q '\[body erased\]' || fail "query --bundle of the erased event"
"$L" --dir "$E" prune --before 22 --archive "$T/e1.seg" --force >"$T/out" 2>&1 ||
    fail "prune with an erased event: $(cat "$T/out")"
"$L" --dir "$E" verify --full >/dev/null 2>&1 || fail "verify after pruning an erased event"
# a segment written before the erasure holds the erased body: refused
"$L" --dir "$T/e.b" archive --before 22 --out "$T/e0.seg" >/dev/null 2>&1
"$L" --dir "$T/e.b" erase 5 --reason gdpr >/dev/null || fail "erase 5 (b)"
"$L" --dir "$T/e.b" prune --before 22 --archive "$T/e0.seg" --force 2>"$T/err"
[ $? -eq 1 ] && grep -q 'event 5: the segment holds its body, which the ledger erased' "$T/err" ||
    fail "prune with a segment written before an erasure: $(cat "$T/err")"
# the evidence bundle archive (--format bundle, what archive wrote before
# segments) still verifies and prunes: without state when proven at a
# later checkpoint, and says why
"$L" --dir "$T/e.b" archive --format bundle --before 22 --out "$T/e1.bundle" >"$T/out" 2>&1 &&
    grep -q 'erased since, by event 52' "$T/out" ||
    fail "archive --format bundle of an erased event: $(cat "$T/out")"
"$L" verify-bundle "$T/e1.bundle" --trusted-key "$EK" >"$T/vb" 2>&1 ||
    fail "verify-bundle, bundle archive of an erased event: $(grep -v PASS "$T/vb")"
"$L" doctor --bundle "$T/e1.bundle" --trusted-key "$EK" >"$T/out" 2>"$T/err"
[ $? -eq 66 ] && grep -q 'holds no doctor at its checkpoint (its state was left out)' "$T/err" ||
    fail "doctor --bundle of a bundle archive proven at a later checkpoint: $(cat "$T/out" "$T/err")"
tar --zstd -xOf "$T/e1.bundle" e1/manifest.json | jq -e '.state.included == false and
    (.state.reason | test("folds events after the horizon"))' >/dev/null ||
    fail "that archive's manifest: $(tar --zstd -xOf "$T/e1.bundle" e1/manifest.json | jq -c .state)"
"$L" --dir "$T/e.b" prune --before 22 --archive "$T/e1.bundle" --force >"$T/out" 2>&1 ||
    fail "prune with a bundle archive of an erased event: $(cat "$T/out")"
"$L" --dir "$T/e.b" verify --full >/dev/null 2>&1 ||
    fail "verify --full after pruning with a bundle archive"
# a run that started well before the horizon: its start's state is kept
# nowhere, and runs says so rather than give a doctor --at that cannot work
F=$T/f
"$L" --dir "$F" init --origin retention.test/f >/dev/null
"$L" --dir "$F" append pack.installed \
    --body '{"pack":"p1","version":"1.0","manifest_digest":"sha256:bb"}' >/dev/null
"$L" --dir "$F" append run.started --body '{"run":"R-f","pack":"p1"}' >/dev/null
"$L" --dir "$F" ingest --batch 10 "$T/e.in" >/dev/null 2>&1
# (the genesis, init's anchor, the pack 2, the run 3, commits of 10 from 4)
"$L" --dir "$F" archive --before 24 --out "$T/f1.bundle" >/dev/null 2>&1
"$L" --dir "$F" prune --before 24 --archive "$T/f1.bundle" --force >/dev/null 2>&1 ||
    fail "prune of box f"
"$L" --dir "$F" runs R-f | grep -q '^at its start   not kept (seq 3 is before the horizon, 24' ||
    fail "runs R-f: $("$L" --dir "$F" runs R-f 2>&1 | tail -n 2)"
# the horizon inside a tile that was published only in part: the tile is
# written again, whole, from the entries the prune kept, so a mirror that
# follows goes on, and a new one verifies from scratch, as the log grows
G=$T/g
"$L" --dir "$G" init --origin retention.test/g >/dev/null
"$L" --dir "$G" ingest --batch 10 "$T/e.in" >/dev/null 2>&1
GK=$("$L" --dir "$G" keys verifier)
"$L" --dir "$G" tiles "$T/gpub" >/dev/null 2>&1
"$L" mirror "file://$T/gpub" --state "$T/gm1" --key "$GK" >/dev/null 2>&1 ||
    fail "mirror of box g"
"$L" --dir "$G" archive --before 21 --out "$T/g1.bundle" >/dev/null 2>&1
"$L" --dir "$G" prune --before 21 --archive "$T/g1.bundle" --force >/dev/null 2>&1 ||
    fail "prune of box g"
for k in 1 2 3 4 5 6; do
    "$L" --dir "$G" ingest --batch 100 "$T/e.in" >/dev/null 2>&1
done
"$L" --dir "$G" tiles "$T/gpub" >/dev/null 2>&1 || fail "tiles of box g"
[ -e "$T/gpub/tile/entries/000" ] || fail "box g: entry bundle 0 (the horizon's) not written"
"$L" mirror "file://$T/gpub" --state "$T/gm1" --key "$GK" >"$T/out" 2>&1 ||
    fail "the mirror of box g after its prune: $(cat "$T/out")"
"$L" mirror "file://$T/gpub" --state "$T/gm2" --key "$GK" >"$T/out" 2>&1 ||
    fail "a new mirror of box g after its prune: $(cat "$T/out")"
# two policy runs at once: one prunes, the other waits and finds it done
Z2=$T/z2
cp -r "$B" "$Z2"
"$L" --dir "$Z2" prune --policy >"$T/o1" 2>&1 &
zp=$!
"$L" --dir "$Z2" prune --policy >"$T/o2" 2>&1
r2=$?
wait "$zp"
r1=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || fail "two prune --policy at once: $r1 $r2: $(cat "$T/o1" "$T/o2")"
cat "$T/o1" "$T/o2" | grep -c '^nothing to prune' | grep -qx 1 ||
    fail "two prune --policy at once: $(cat "$T/o1" "$T/o2")"
"$L" --dir "$Z2" verify --full >/dev/null 2>&1 || fail "verify after two policy runs"
echo '{"archive_events": 0}' >"$Q/retention.json"
"$L" --dir "$Q" prune --policy 2>"$T/err"
[ $? -eq 65 ] && grep -q '"archive_events": must be' "$T/err" ||
    fail "archive_events 0: $(cat "$T/err")"
"$L" --dir "$P" verify --full >/dev/null 2>&1 || fail "verify after the budget prune"
# archive's "next:" line runs as it is printed: the ledger's --dir, the
# archive's name quoted for the shell, --force for events younger than
# keep_days (these are today's)
Y="$T/young dir"
"$L" --dir "$Y" init --origin retention.test/young >/dev/null || exit 1
gen 0 30 | "$L" --dir "$Y" ingest - >/dev/null 2>&1 || exit 1
"$L" --dir "$Y" archive --before 10 --out "$T/it's young.bundle" >"$T/out" 2>&1 ||
    fail "archive of young events: $(cat "$T/out")"
next=$(sed -n 's/^next: ledger //p' "$T/out")
case $next in
*"--dir '$Y' prune --before "*" --archive '$T/it'\\''s young.bundle' --force"*) ;;
*) fail "archive's next line: $next" ;;
esac
eval "\"\$L\" $next" >"$T/out" 2>&1 && grep -q '^pruned events 0\.\.' "$T/out" ||
    fail "archive's next line, pasted: $(cat "$T/out")"
# serve --prune-every runs it; a disk budget the young events would have
# to meet is said in its status (it was a bare "ok" until 2026-11-26)
S=$T/s
cp -r "$B" "$S"
echo '{"disk_budget": "1K"}' >"$S/retention.json"
"$L" --dir "$S" serve --prune-every 1s >"$T/sout" 2>"$T/serr" &
spid=$!
i=0
while [ $i -lt 600 ] && ! "$L" --dir "$S" stats -o json 2>/dev/null | jq -e .horizon >/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
"$L" --dir "$S" stats -o json | jq -e ".horizon == \"$H2\"" >/dev/null ||
    fail "serve --prune-every: not pruned ($(cat "$T/serr"))"
"$L" --dir "$S" serve --status -o json 2>/dev/null | jq -e '.jobs[] | select(.name == "prune")' \
    >/dev/null || fail "serve --status: no prune job"
i=0
while [ $i -lt 600 ] && ! "$L" --dir "$S" serve --status 2>/dev/null |
    grep -q '^prune .*ok, but: .*the disk budget (1024 bytes'; do
    sleep 0.1
    i=$((i + 1))
done
"$L" --dir "$S" serve --status -o json 2>/dev/null |
    jq -e '.jobs[] | select(.name == "prune") | .last_note | test("younger than the retention minimum")' \
    >/dev/null || fail "serve --status: the refused budget: $("$L" --dir "$S" serve --status 2>&1)"
kill "$spid"
wait "$spid" 2>/dev/null
spid=""
"$L" --dir "$S" verify --full >/dev/null 2>&1 || fail "verify after serve's prune"

# ----------------------------------- a full disk, kill -9, at every call --
C=$T/c
rm -rf "$C"
cp -r "$B" "$C"
FAULT_COUNT_FILE=$T/count LD_PRELOAD=$FI "$L" --dir "$C" prune --before "$H1" \
    --archive "$T/a1.bundle" >/dev/null 2>&1 || fail "counting run failed"
calls=$(cat "$T/count" 2>/dev/null || echo 0)
[ "$calls" -gt 5 ] || fail "a prune made only '$calls' I/O calls"
"$L" --dir "$B" checkpoint >"$T/ck.base"
"$L" --dir "$C" checkpoint >"$T/ck.pruned"
# after WHAT: the ledger before the prune or after it, verifying
after() {
    "$L" --dir "$C" checkpoint >"$T/ck" 2>&1
    if cmp -s "$T/ck" "$T/ck.base"; then
        "$L" --dir "$C" show 0 >/dev/null 2>&1 || fail "$1: before, but event 0 is gone"
        "$L" --dir "$C" stats -o json | jq -e '.horizon == null' >/dev/null ||
            fail "$1: before, but a horizon"
    elif [ "$(sed -n 2p "$T/ck")" = "$(sed -n 2p "$T/ck.pruned")" ] &&
        "$L" --dir "$C" stats -o json | jq -e ".horizon == \"$H1\"" >/dev/null; then
        # (the size after the prune; its ledger.pruned event has its own
        # time, so the root is another)
        "$L" --dir "$C" show 0 >/dev/null 2>&1 && fail "$1: after, but event 0 is there"
    else
        fail "$1: neither the checkpoint before nor after ($(head -c 200 "$T/ck"))"
    fi
    "$L" --dir "$C" verify --full >"$T/v" 2>&1 || fail "$1: verify: $(cat "$T/v")"
}
step=${RETENTION_CALL_STEP:-1}
n=1
while [ "$n" -le "$calls" ]; do
    rm -rf "$C"
    cp -r "$B" "$C"
    FAULT_AT=$n FAULT_ERRNO=ENOSPC LD_PRELOAD=$FI "$L" --dir "$C" prune \
        --before "$H1" --archive "$T/a1.bundle" >"$T/out" 2>"$T/err"
    rc=$?
    case $rc in
    0 | 74) ;;
    *) fail "ENOSPC at call $n: exit $rc ($(cat "$T/err"))" ;;
    esac
    after "ENOSPC at call $n"
    rm -rf "$C"
    cp -r "$B" "$C"
    rm -f "$T/flog"
    FAULT_AT=$n FAULT_MODE=hang FAULT_LOG=$T/flog LD_PRELOAD=$FI "$L" \
        --dir "$C" prune --before "$H1" --archive "$T/a1.bundle" >/dev/null 2>&1 &
    killed_in_call $! "$T/flog"
    after "kill -9 at call $n"
    n=$((n + step))
done

if [ "$nfail" -gt 0 ]; then
    echo "retention: $nfail failure(s)"
    exit 1
fi
echo "retention: ok ($N events, two prunes, the policy, serve's job; a prune's $calls I/O calls, one in $step failed and killed)"
