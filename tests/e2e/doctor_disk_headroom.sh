#!/bin/sh
# doctor_disk_headroom.sh — the doctor's disk-headroom clause weighs free
# space against the log's growth (issue 32; docs/PROJECTIONS.md, "The
# doctor"):
#   - the rate is the events appended in the last 7 days (ledger time),
#     or over the log's whole span when it is younger, never under a day,
#     times the store's bytes in use per event (as `ledger stats
#     --databases` counts them); -o json carries each measure;
#   - days left under the retention policy's keep_days fail the clause
#     (exit 1, degraded), under twice it warn (WARN, exit 0: the verdict
#     stays), otherwise ok; warn and fail give `ledger prune --policy` and
#     moving the archives off the box as remedies;
#   - a log with no event in the last 7 days is "not growing" and passes;
#   - a pruned log counts the events it keeps, an event the bytes it adds,
#     and is measured from its horizon when that is in the window;
#   - a malformed DIR/retention.json fails the clause, naming the file,
#     line and column (or the key);
#   - `doctor --at` leaves the clause out (the disk now is not the past's);
#   - on a small file system (a tmpfs, where this process may mount) the
#     floor of 1024 MiB and 5% fails it.
# Time that has passed is made with an LD_PRELOAD shim that moves the
# wall clock (tests/faults/clockshift.c, built here); free space is the
# real file system's, so the keep_days of each case are worked out from
# the days left the doctor measured.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/doctor_disk_headroom.XXXXXX") ||
    exit 1
mounted=0
cleanup() {
    [ "$mounted" = 1 ] && umount "$T/small" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
nfail=0
fail() {
    printf 'FAIL: %s\n' "$*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac

# the clock shim (CS): tests/e2e/lib/clockshift.sh
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$LEDGER"

DAY=86400
L() { "$LEDGER" --dir "$D" "$@"; }
# AGO DAYS CMD...: the command as if run DAYS days ago
AGO() {
    ago_s=$(($1 * DAY))
    shift
    env LD_PRELOAD="$CS" CLOCK_SHIFT_S=-$ago_s "$LEDGER" --dir "$D" "$@"
}
# events N: N lines for ingest, each with 2,000 random bytes as hex
events() {
    python3 -c '
import os, sys
for i in range(int(sys.argv[1])):
    print("{\"type\":\"x.headroom\",\"body\":{\"i\":%d,\"pad\":\"%s\"}}"
          % (i, os.urandom(2000).hex()))' "$1"
}
# doc [ARGS]: `ledger doctor -o json` into $T/doc.json, its exit in $drc
doc() {
    L doctor -o json "$@" >"$T/doc.json" 2>"$T/doc.err"
    drc=$?
}
# hr KEY: disk-headroom's KEY in $T/doc.json: a string as it is, else
# JSON text ("absent" when there is no such clause, "missing" no such key)
hr() {
    python3 - "$T/doc.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["box"] if c["name"] == "disk-headroom"]
if not c:
    print("absent")
elif sys.argv[2] not in c[0]:
    print("missing")
else:
    v = c[0][sys.argv[2]]
    print(v if isinstance(v, str) else json.dumps(v))
PY
}
# line N: disk-headroom's detail line N
line() {
    python3 - "$T/doc.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["box"] if c["name"] == "disk-headroom"][0]
det = c["detail"]
n = int(sys.argv[2])
print(det[n] if n < len(det) else "")
PY
}
# details: disk-headroom's detail lines, one a line
details() { python3 -c 'import json, sys
c = [c for c in json.load(open(sys.argv[1]))["box"] if c["name"] == "disk-headroom"]
print("\n".join(c[0]["detail"] if c else []))' "$T/doc.json"; }
# near A B PCT: A within PCT percent of B
near() {
    python3 -c '
import sys
a, b, p = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
sys.exit(0 if abs(a - b) <= abs(b) * p / 100 else 1)' "$1" "$2" "$3"
}
policy() { printf '%s\n' "$1" >"$D/retention.json"; }

# --- a log younger than a day: its events counted as one day's -------
D=$T/young
L init >/dev/null 2>&1 || {
    echo "FAIL: init"
    exit 1
}
events 300 | L ingest - >/dev/null 2>&1 || fail "ingest 300"
L verify >/dev/null 2>&1 || fail "verify"
doc
[ "$drc" = 0 ] || fail "young log: doctor exit $drc, want 0: $(cat "$T/doc.json" "$T/doc.err")"
[ "$(hr status)" = ok ] || fail "young log: status $(hr status): $(details)"
[ "$(hr remedy)" = missing ] || fail "young log: a remedy on an ok clause: $(hr remedy)"
[ "$(hr keep_days)" = 180 ] || fail "no retention.json: keep_days $(hr keep_days), want 180"
[ "$(hr window_days)" = 1.0 ] || fail "young log: window_days $(hr window_days), want 1.0"
# 302 events: the genesis, the log key's anchor (init anchors it) and 300
[ "$(hr events_per_day)" = 302.0 ] ||
    fail "young log: events_per_day $(hr events_per_day), want 302.0 (genesis, anchor and 300)"
# bytes an event: the store's bytes in use (every database but the free
# pages) over its events, as `ledger stats --databases` shows them
used=$(L stats --databases -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(d["bytes"] for d in s["databases"] if d["name"] != "(free)"))')
near "$(hr bytes_per_event)" "$((used / 302))" 2 ||
    fail "bytes_per_event $(hr bytes_per_event), stats says $used bytes in use for 302 events"
bpd=$(hr bytes_per_day)
free=$(hr free_bytes)
left=$(hr days_left)
near "$bpd" "$used" 2 || fail "bytes_per_day $bpd, want about $used (302 events a day)"
near "$left" "$((free / bpd))" 1 || fail "days_left $left, free $free / $bpd a day"
python3 -c 'import json, sys
c = [c for c in json.load(open(sys.argv[1]))["box"] if c["name"] == "disk-headroom"][0]
for k in ("free_bytes", "bytes_per_day", "days_left", "keep_days"):
    assert type(c[k]) is int, k
for k in ("events_per_day", "bytes_per_event", "window_days"):
    assert type(c[k]) in (int, float), k' "$T/doc.json" ||
    fail "measures are not numbers: $(cat "$T/doc.json")"
line 0 | grep -Eq "^[0-9.]+ (B|KiB|MiB|GiB|TiB|PiB) free \([0-9.]+%\) on the ledger's file system$" ||
    fail "line 0: $(line 0)"
line 1 | grep -Eq "^growing 302\.0 events/day at [0-9.]+ (B|KiB)/event in the store: [0-9.]+ (KiB|MiB)/day \(the log is younger than a day: its events counted as a day's\)$" ||
    fail "line 1: $(line 1)"
[ "$(line 2)" = "$left days left at that rate; the retention minimum is 180 days (the default: no $D/retention.json)" ] ||
    fail "line 2: $(line 2)"

# --- pass, warn, fail: keep_days against the days left -----------------
# Size the store so that the disk lasts about 20,000 days at its rate
# (the rate of a log younger than a day is its bytes in use a day): then
# keep_days for each case is within 1..36500 on any disk.
want=$((free / 20000))
if [ "$bpd" -lt "$want" ]; then
    more=$(((want - bpd) / $(printf '%.0f' "$(hr bytes_per_event)") + 1))
    if [ "$more" -gt 500000 ]; then
        fail "this file system has $free bytes free: the store would need $more more events"
        more=0
    fi
    events "$more" | L ingest - >/dev/null 2>&1 || fail "ingest $more"
fi
L verify >/dev/null 2>&1 || fail "verify"
doc
left=$(hr days_left)
echo "days left at the rate of $(hr events_per_day) events/day: $left"
if [ "$left" -lt 1000 ] || [ "$left" -gt 24000 ]; then
    fail "the store was sized for about 20000 days left; the doctor says $left"
fi

k=$((left / 3))
policy "{\"keep_days\": $k}"
doc
[ "$(hr status)" = ok ] || fail "pass (keep $k, $left days left): $(hr status) $(details)"
[ "$drc" = 0 ] || fail "pass: doctor exit $drc, want 0"
[ "$(hr keep_days)" = "$k" ] || fail "pass: keep_days $(hr keep_days), want $k"
line 2 | grep -q "; the retention minimum is $k days (keep_days in $D/retention.json)$" ||
    fail "pass: line 2: $(line 2)"

k=$((left * 2 / 3))
policy "{\"keep_days\": $k}"
doc
[ "$(hr status)" = warn ] || fail "warn (keep $k, $left days left): $(hr status) $(details)"
[ "$drc" = 0 ] || fail "warn: doctor exit $drc, want 0 (a warning changes no verdict)"
line 2 | grep -q "days left at that rate, fewer than twice the retention minimum of $k days (keep_days in $D/retention.json)$" ||
    fail "warn: line 2: $(line 2)"
# every event is younger than keep_days: a prune would remove nothing,
# and the remedy says so (it said `ledger prune --policy` until
# 2026-11-26)
[ "$(hr remedy)" = "[\"no event is older than the retention policy's $k days, so a prune would remove nothing: free space on the file system of $D (or give it more), or lower keep_days in $D/retention.json if the law lets you keep less\"]" ] ||
    fail "warn: remedy $(hr remedy)"
L doctor >"$T/human" 2>&1
grep -q "^  WARN    disk-headroom  *[0-9.]* [KMGTP]*i*B free" "$T/human" ||
    fail "warn: no WARN line: $(cat "$T/human")"
grep -q "^ *-> no event is older than the retention policy's $k days" "$T/human" ||
    fail "warn: no remedy line: $(cat "$T/human")"
grep -q "^verdict: healthy " "$T/human" || fail "warn: $(tail -n 1 "$T/human")"

k=$((left * 3 / 2))
policy "{\"keep_days\": $k, \"archive_dir\": \"/srv/ledger-archive\"}"
doc
[ "$(hr status)" = fail ] || fail "fail (keep $k, $left days left): $(hr status) $(details)"
[ "$drc" = 1 ] || fail "fail: doctor exit $drc, want 1 (degraded)"
line 2 | grep -q "days left at that rate, fewer than the retention minimum of $k days (keep_days in $D/retention.json)$" ||
    fail "fail: line 2: $(line 2)"
[ "$(hr remedy)" = "[\"no event is older than the retention policy's $k days, so a prune would remove nothing: free space on the file system of $D (or give it more), or lower keep_days in $D/retention.json if the law lets you keep less\"]" ] ||
    fail "fail: remedy $(hr remedy)"
L doctor >"$T/human" 2>&1
grep -q "^  FAIL    disk-headroom " "$T/human" || fail "fail: no FAIL line: $(cat "$T/human")"
grep -q "^verdict: degraded " "$T/human" || fail "fail: $(tail -n 1 "$T/human")"
L metrics >"$T/prom" 2>&1 || fail "metrics: $(head -c 300 "$T/prom")"
grep -q '^ledger_doctor_box_clause_status{clause="disk-headroom",status="fail"} 1$' "$T/prom" ||
    fail "metrics: $(grep disk-headroom "$T/prom")"

# --- a malformed retention.json fails the clause, naming where ---------
printf '{"keep_days": 30,\n}\n' >"$D/retention.json"
doc
[ "$(hr status)" = fail ] || fail "malformed policy: $(hr status)"
[ "$drc" = 1 ] || fail "malformed policy: doctor exit $drc, want 1"
[ "$(hr keep_days)" = null ] || fail "malformed policy: keep_days $(hr keep_days)"
details | grep -qF "the retention policy cannot be read, so the minimum is not known: $D/retention.json:2:1: " ||
    fail "malformed policy: not named with line and column: $(details)"
[ "$(hr remedy)" = "[\"correct $D/retention.json, or remove it for the defaults (keep 180 days, archives in $D/archive)\"]" ] ||
    fail "malformed policy: remedy $(hr remedy)"
[ "$(hr days_left)" = "$left" ] || near "$(hr days_left)" "$left" 5 ||
    fail "malformed policy: days left $(hr days_left), want about $left"
for bad in '{"keep": 30}|unknown key "keep"' \
    '{"keep_days": 0}|"keep_days": must be a whole number of days, 1 to 36500' \
    '{"keep_days": "30"}|"keep_days": must be a whole number of days' \
    '[30]|must be a JSON object' \
    '{"keep_days": 30, "keep_days": 40}|duplicate object key'; do
    policy "${bad%%|*}"
    doc
    [ "$(hr status)" = fail ] && [ "$drc" = 1 ] ||
        fail "policy ${bad%%|*}: $(hr status), exit $drc"
    details | grep -F "$D/retention.json" | grep -qF "${bad#*|}" ||
        fail "policy ${bad%%|*}: $(details)"
done
rm -f "$D/retention.json"

# --- doctor --at: the disk now is not the past's -----------------------
doc --at 2
[ "$(hr status)" = absent ] || fail "--at 2: disk-headroom is there: $(details)"
L doctor --at 2 2>/dev/null | grep -q disk-headroom && fail "--at 2: a disk-headroom line"

# --- a log older than the window: its last 7 days ----------------------
D=$T/old
AGO 20 init >/dev/null 2>&1 || fail "init 20 days ago"
events 100 | AGO 20 ingest - >/dev/null 2>&1 || fail "ingest 20 days ago"
events 70 | AGO 2 ingest - >/dev/null 2>&1 || fail "ingest 2 days ago"
L verify >/dev/null 2>&1 || fail "old log: verify"
doc
[ "$(hr window_days)" = 7.0 ] || fail "old log: window_days $(hr window_days), want 7.0"
[ "$(hr events_per_day)" = 10.0 ] ||
    fail "old log: events_per_day $(hr events_per_day), want 10.0 (70 in 7 days)"
line 1 | grep -q "^growing 10\.0 events/day at .* (over the last 7 days)$" ||
    fail "old log: line 1: $(line 1)"
[ "$(hr status)" = ok ] && [ "$drc" = 0 ] || fail "old log: $(hr status), exit $drc"

# pruned (its first 102 events, the 20-day-old ones: the genesis, the log
# key's anchor and 100): an event adds its entry, body, seal and index
# records (over the kept events) and its tree hashes and checkpoints (over
# every event: the pruned ones' stay); the state does not grow with
# events; the window counts the 70 and the ledger.pruned event
L archive --before '10 days ago' --out "$T/old.bundle" >/dev/null 2>&1 ||
    fail "archive the old log"
L prune --force --before '10 days ago' --archive "$T/old.bundle" >/dev/null 2>&1 ||
    fail "prune the old log"
doc
want=$(L stats --databases -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
db = {d["name"]: d["bytes"] for d in s["databases"]}
kept = sum(b for n, b in db.items() if n in ("entries", "bodies", "seals",
                                            "entries5", "bodies5")
           or n.startswith("ix.") or n.startswith("idx."))
every = sum(db.get(n, 0) for n in ("tree", "tiles", "checkpoints"))
print(kept / 71 + every / int(s["size"]))')
near "$(hr bytes_per_event)" "$want" 2 ||
    fail "pruned log: bytes_per_event $(hr bytes_per_event), want about $want (71 kept)"
near "$(hr events_per_day)" 10.142857 0.01 ||
    fail "pruned log: events_per_day $(hr events_per_day), want 71/7"
[ "$(hr status)" = ok ] && [ "$drc" = 0 ] || fail "pruned log: $(hr status), exit $drc"
# pruned again, inside the window (the 2-day-old events): their times went
# with them, so the log is measured from the horizon; an event still adds
# what it added before (301 kept: the two ledger.pruned events and 299 of
# today's, in 2 days)
bpe0=$(hr bytes_per_event)
L archive --before '1 day ago' --out "$T/old2.bundle" >/dev/null 2>&1 ||
    fail "archive the 2-day-old events"
L prune --force --before '1 day ago' --archive "$T/old2.bundle" >/dev/null 2>&1 ||
    fail "prune the 2-day-old events"
events 299 | L ingest - >/dev/null 2>&1 || fail "ingest today"
doc
# (the window grows by the seconds this part takes since the "2 days
# ago": up to 9 minutes of them are allowed, 301/2.0 down to 150.0)
line 1 | grep -q "^growing 150\.[0-5] events/day at .* (over the 2\.0 days since the horizon at [A-Z][a-z][a-z] [0-9][0-9] [0-9:]*: the events before it were pruned)$" ||
    fail "pruned in the window: line 1: $(line 1)"
[ "$(hr window_days)" = 2.0 ] || near "$(hr window_days)" 2.0 0.3 ||
    fail "pruned in the window: window_days $(hr window_days), want 2 (since the horizon)"
awk -v a="$(hr bytes_per_event)" -v b="$bpe0" 'BEGIN { exit !(a < 2 * b) }' ||
    fail "pruned in the window: bytes_per_event $(hr bytes_per_event), was $bpe0"

# --- pruned minutes after its events: a horizon younger than a day ----
# said so, not "over the 1.0 days since the horizon" (until 2026-11-26)
D=$T/fresh
L init >/dev/null 2>&1 || fail "init fresh"
events 20 | L ingest - >/dev/null 2>&1 || fail "ingest fresh"
events 10 | L ingest - >/dev/null 2>&1 || fail "ingest fresh 2"
L archive --before 21 --out "$T/fresh.bundle" >/dev/null 2>&1 &&
    L prune --force --before 21 --archive "$T/fresh.bundle" >/dev/null 2>&1 ||
    fail "prune fresh"
doc
line 1 | grep -q "(the horizon at [A-Z][a-z][a-z] [0-9][0-9] [0-9:]* is less than a day old: the events since counted as a day's; the events before it were pruned)$" ||
    fail "pruned just now: line 1: $(line 1)"

# --- a log younger than the window, older than a day: its whole span ---
# (60 events: the genesis, the log key's anchor and 58)
D=$T/days
AGO 3 init >/dev/null 2>&1 || fail "init 3 days ago"
events 58 | AGO 3 ingest - >/dev/null 2>&1 || fail "ingest 3 days ago"
doc
python3 -c 'import sys; w, e = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if 2.99 < w < 3.01 and abs(e - 60 / w) < 0.01 else 1)' \
    "$(hr window_days)" "$(hr events_per_day)" ||
    fail "3-day log: window_days $(hr window_days), events_per_day $(hr events_per_day), want 3.0 and 20.0"
line 1 | grep -q "^growing 20\.0 events/day at .* (over the log's 3\.0 days)$" ||
    fail "3-day log: line 1: $(line 1)"

# --- not growing: nothing appended in the last 7 days ------------------
D=$T/still
AGO 30 init >/dev/null 2>&1 || fail "init 30 days ago"
events 50 | AGO 30 ingest - >/dev/null 2>&1 || fail "ingest 30 days ago"
L verify >/dev/null 2>&1 || fail "still log: verify"
policy '{"keep_days": 36500}'
doc
[ "$(hr status)" = ok ] || fail "not growing: $(hr status) $(details)"
[ "$drc" = 0 ] || fail "not growing: doctor exit $drc, want 0"
[ "$(hr days_left)" = null ] || fail "not growing: days_left $(hr days_left), want null"
[ "$(hr events_per_day)" = 0.0 ] || fail "not growing: events_per_day $(hr events_per_day)"
[ "$(line 1)" = "not growing: no event appended in the last 7 days" ] ||
    fail "not growing: line 1: $(line 1)"
[ "$(line 2)" = "the retention minimum is 36500 days (keep_days in $D/retention.json)" ] ||
    fail "not growing: line 2: $(line 2)"
policy '{"keep_days": 36500'
doc
[ "$(hr status)" = fail ] && [ "$drc" = 1 ] ||
    fail "not growing, malformed policy: $(hr status), exit $drc"

# --- the floor: a small file system ------------------------------------
mkdir -p "$T/small"
if mount -t tmpfs -o size=64m tmpfs "$T/small" 2>/dev/null; then
    mounted=1
    D=$T/small/l
    L init >/dev/null 2>&1 || fail "init on the tmpfs"
    L verify >/dev/null 2>&1
    doc
    [ "$(hr status)" = fail ] && [ "$drc" = 1 ] ||
        fail "64 MiB tmpfs: $(hr status), exit $drc"
    line 0 | grep -Eq "^[0-9.]+ MiB free \([0-9.]+%\) on the ledger's file system, under the floor of 1024 MiB and 5%$" ||
        fail "64 MiB tmpfs: line 0: $(line 0)"
    hr remedy | grep -qF "\"free space on the file system of $D (need at least 1024 MiB and 5%)\"" &&
        hr remedy | grep -qF "no event is older than the retention policy's 180 days" ||
        fail "64 MiB tmpfs: remedy $(hr remedy)"
    # events older than keep_days: the prune to run, with its --dir
    D=$T/small/o
    AGO 20 init >/dev/null 2>&1 || fail "init 20 days ago on the tmpfs"
    events 10 | AGO 20 ingest - >/dev/null 2>&1 || fail "ingest 20 days ago"
    L verify >/dev/null 2>&1
    policy '{"keep_days": 5}'
    doc
    [ "$(hr remedy)" = "[\"free space on the file system of $D (need at least 1024 MiB and 5%)\", \"archive the events older than the retention policy's 5 days into $D/archive and prune them from the ledger:\", \"ledger --dir $D prune --policy\", \"move the archives in $D/archive off the box\"]" ] ||
        fail "64 MiB tmpfs, old events: remedy $(hr remedy)"
else
    echo "cannot mount a tmpfs here: the floor is not checked"
fi

[ "$nfail" = 0 ] || exit 1
echo "doctor_disk_headroom: pass, warn, fail, not growing, the window and a malformed policy as the doctor says"
