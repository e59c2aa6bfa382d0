#!/bin/sh
# day.sh LEDGER_BIN DIR WORK — a box's day through the control pipeline
# (issue 34), recorded into a new ledger at DIR; WORK (created, 0700)
# holds the controller's key, which the controller keeps, not the ledger.
#
#   P-0917  promotes: plan, debate (agreement), simulate, build Green
#           twice from the same inputs (same digest), verify, snapshot,
#           promote with a T2 step that names the snapshot
#   P-0918  aborts: the judge breaks a split debate, verify fails, ABORT
#   P-0919  breaks the rules: writes to Blue, promotes without a passing
#           verify, its build is reverted after a red probe, and a T3 step
#           runs without a tripcode
#   tripcode RECOVERY:REVERT_SNAPSHOT::S-0917 signed by the controller and
#           accepted for P-0920, then a second one inside its cooldown,
#           refused (both recorded)
#   P-0920  reverts to S-0917 with a T3 step that spends the tripcode
#   memory  note-41 admitted through every gate; note-42 admitted after
#           sanitize only (flagged), then purged by its hash prefix
set -eu
L=$1
D=$2
W=$3
here=$(dirname "$0")
mkdir -p "$W"
chmod 700 "$W"
rm -f "$W/ctl.key" "$W/ctl.pub" "$W/code1" "$W/code2"
"$L" --dir "$D" init >/dev/null
"$L" keys generate --out "$W/ctl.key" >"$W/ctl.pub"
"$L" --dir "$D" keys add controller --public-key @"$W/ctl.pub" \
    --roles controller >/dev/null
"$L" --dir "$D" ingest "$here/day1.jsonl" 2>/dev/null
# P-0920 is planned, debated, simulated and verified; its revert needs a
# tripcode from the controller
"$L" --dir "$D" ingest "$here/day2.jsonl" 2>/dev/null
now=$(date +%s)
"$L" tripcode sign --key "$W/ctl.key" --ts "$now" \
    RECOVERY:REVERT_SNAPSHOT::S-0917 >"$W/code1"
"$L" --dir "$D" tripcode verify --plan P-0920 @"$W/code1" >/dev/null
# the controller, impatient, signs the same code again a second later
"$L" tripcode sign --key "$W/ctl.key" --ts $((now + 1)) \
    RECOVERY:REVERT_SNAPSHOT::S-0917 >"$W/code2"
rc=0
"$L" --dir "$D" tripcode verify --plan P-0920 @"$W/code2" >/dev/null \
    2>/dev/null || rc=$?
[ "$rc" = 1 ] || { echo "day.sh: the second tripcode was not refused" >&2; exit 1; }
"$L" --dir "$D" ingest "$here/day3.jsonl" 2>/dev/null
"$L" --dir "$D" memory purge --prefix a9df53 \
    --reason "the user asked to forget it (ticket 88)" >/dev/null
