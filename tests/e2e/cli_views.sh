#!/bin/sh
# cli_views.sh — human output as an operator sees it: one time format
# ("Nov 22 09:39:01", local, or UTC with --utc; never nanoseconds in a
# table), tables that fit 80 columns on a terminal and cut long values with
# "…" (whole when piped), colour on a terminal for verify's ok, timeline's
# '!' lines, runs' status and routes' readiness (none when piped, with
# NO_COLOR or TERM=dumb).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
esc=$(printf '\033')

L init >/dev/null || exit 1
L ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
# a scope longer than its column, to be cut on a terminal
L append permission.granted --body '{"pack":"pdf-ops","group":"fs.read","scope":"~/Documents/a/very/long/path/that/does/not/fit","by":"operator"}' >/dev/null ||
    exit 1

# --- one time format -------------------------------------------------------
# (ns times in human output: 2026-11-22T09:39:01.123456789Z)
nsre='[0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]'
for v in runs permissions "runs R-0001" "timeline R-0001" stats; do
    # shellcheck disable=SC2086
    TZ=UTC L $v >"$T/out" 2>&1 || bad "$v: exit $?"
    grep -q "$nsre" "$T/out" && bad "$v shows a nanosecond time: $(grep "$nsre" "$T/out" | head -1)"
done
start_ns=$(L query run=R-0001 type=run.started -o json | sed -n 's/.*"recorded_ts":"\([0-9]*\)".*/\1/p')
secs=$((start_ns / 1000000000))
want_utc=$(TZ=UTC date -d "@$secs" '+%b %d %H:%M:%S')
want_ny=$(TZ=America/New_York date -d "@$secs" '+%b %d %H:%M:%S')
TZ=America/New_York L runs >"$T/out" 2>/dev/null
grep -q "$want_ny" "$T/out" || bad "runs: not local time ($want_ny): $(cat "$T/out")"
TZ=America/New_York L --utc runs >"$T/out" 2>/dev/null
grep -q "$want_utc" "$T/out" || bad "--utc runs: not UTC ($want_utc): $(cat "$T/out")"
TZ=America/New_York L timeline R-0001 --utc >"$T/out" 2>/dev/null
grep -q "started $want_utc (#" "$T/out" || bad "timeline --utc: $(head -1 "$T/out")"
TZ=America/New_York L query run=R-0001 type=run.started --utc >"$T/out" 2>/dev/null
grep -q "^$want_utc " "$T/out" || bad "query --utc: $(cat "$T/out")"
# -o json is unchanged: RFC 3339 UTC with nanoseconds
L runs -o json | grep -q '"start":"[0-9-]*T[0-9:]*\.[0-9]\{9\}Z"' ||
    bad "runs -o json lost its RFC 3339 time"
L help query | grep -q -- '--utc' || bad "query --help lacks --utc"
L help runs | grep -q -- '--utc' || bad "runs --help lacks --utc"

# --- piped: whole values ----------------------------------------------------
L permissions >"$T/out" 2>/dev/null
grep -q 'does/not/fit' "$T/out" || bad "piped permissions cut a value"
grep -q '…' "$T/out" && bad "piped output has an ellipsis"

if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    ontty() { TERM=xterm NO_COLOR= COLUMNS=80 timeout 30 script -qec "$*" /dev/null </dev/null >"$T/tty" 2>&1; }
    # --- 80 columns on a terminal ----------------------------------------
    for v in packs permissions models routes promotions runs; do
        ontty "'$LEDGER' --dir '$D' --no-pager --color=never $v"
        tr -d '\r' <"$T/tty" | sed 's/…/./g' >"$T/lines"
        grep -q . "$T/lines" || bad "$v: no output on a terminal"
        awk -v v="$v" '{ n = length($0) } n > 80 { print v ": " n " columns: " $0; bad = 1 }
            END { exit bad }' "$T/lines" || bad "$v is wider than 80 columns"
    done
    ontty "'$LEDGER' --dir '$D' --no-pager --color=never permissions"
    grep -q '~/Documen… ' "$T/tty" || bad "a long scope is not cut with …: $(cat "$T/tty")"
    # --- colour on a terminal ---------------------------------------------
    ontty "'$LEDGER' --dir '$D' verify"
    grep -q "$esc\[32mok$esc\[0m: " "$T/tty" || bad "verify: no green ok on a terminal"
    ontty "'$LEDGER' --dir '$D' --no-pager timeline R-0001"
    grep -q "$esc\[1;31m! " "$T/tty" || bad "timeline: '!' lines not red"
    ontty "'$LEDGER' --dir '$D' --no-pager routes"
    grep -q "$esc\[33mfallback-active" "$T/tty" || bad "routes: readiness not coloured"
    ontty "'$LEDGER' --dir '$D' --no-pager runs"
    grep -q "$esc\[32mok" "$T/tty" || bad "runs: status not coloured"
    ontty "NO_COLOR=1 '$LEDGER' --dir '$D' --no-pager timeline R-0001"
    grep -q "$esc\[[0-9;]*m" "$T/tty" && bad "NO_COLOR: timeline coloured"
    ontty "TERM=dumb '$LEDGER' --dir '$D' verify"
    grep -q "$esc\[[0-9;]*m" "$T/tty" && bad "TERM=dumb: verify coloured"
fi
# piped: never colour
L verify >"$T/out" 2>&1
grep -q "$esc" "$T/out" && bad "verify piped is coloured"
L timeline R-0001 >"$T/out" 2>&1
grep -q "$esc" "$T/out" && bad "timeline piped is coloured"

# --- words that say what they mean (issue 63) -------------------------------
# the doctor's remedy for a runtime down names the command that asks it
# again, with its endpoint
L append runtime.registered --body '{"runtime":"lmx","endpoint":"http://127.0.0.1:9"}' >/dev/null &&
    L append runtime.health --body '{"runtime":"lmx","status":"down","detail":"refused"}' >/dev/null ||
    bad "appending a runtime down"
L doctor >"$T/out" 2>&1
grep -q '^ *-> ledger probe --runtime lmx=http://127.0.0.1:9$' "$T/out" ||
    bad "doctor: a runtime down's remedy names no command: $(grep -A3 'lmx' "$T/out")"
# migrate's help names the one layout this build reads and appends to
L help migrate >"$T/out"
tr '\n' ' ' <"$T/out" | grep -q 'reads  *and  *appends  *to  *layout  *9  *only' &&
    ! tr '\n' ' ' <"$T/out" | grep -q 'appends to  *layouts' ||
    bad "help migrate: $(tr '\n' ' ' <"$T/out" | grep -o 'appends to  *layouts\{0,1\}  *[0-9][ 0-9and]*')"

[ $nfail = 0 ] || exit 1
echo "cli_views: one time format, 80 columns on a terminal, colour as documented"
