#!/bin/sh
# cli_times.sh — human output prints times in one format (docs/OUTPUT.md:
# "Nov 22 09:39:01", local time, to the second, the year added when it is
# not this one; only query's short-iso, short-precise and short-utc show
# more). Issue 46 found four: RFC 3339 with nanoseconds in the notes on
# pruned events, to the second in verify's finding warning and the doctor,
# "2026-11-22T09:39:01" in a plan's timeline, a bare "Z" time in gates and
# serve --status. Every human view and message here, on stdout and
# stderr, carries no RFC 3339 time; their -o json keeps RFC 3339.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/cli_times.XXXXXX") ||
    exit 1
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
# the shim (CS): tests/e2e/lib/clockshift.sh
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$L" detect_leaks=0
ago() { # DAYS CMD...
    d=$1
    shift
    CLOCK_SHIFT_S=$((-d * 86400)) LD_PRELOAD=$CS "$L" "$@"
}
RFC='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]'
# one DIR CMD...: the command's human output (stdout and stderr) has no
# RFC 3339 time; what has one is named
one() {
    d=$1
    shift
    "$L" --dir "$d" "$@" >"$T/out" 2>&1
    if grep -n "$RFC" "$T/out" >"$T/bad"; then
        fail "$*: an RFC 3339 time in human output: $(head -n 2 "$T/bad")"
    fi
}
# err DIR CMD...: the same for stderr only, of a command whose stdout is
# data (query's lines carry bodies, which may hold any text; show prints
# the event's fields as stored, its times exact)
err() {
    d=$1
    shift
    "$L" --dir "$d" "$@" >/dev/null 2>"$T/out"
    if grep -n "$RFC" "$T/out" >"$T/bad"; then
        fail "$* (stderr): an RFC 3339 time: $(head -n 2 "$T/bad")"
    fi
}

# a box whose first days were pruned, with a run across the horizon
D=$T/d
ago 400 --dir "$D" init >/dev/null || exit 1
ago 400 --dir "$D" append run.started --body '{"run":"R1","pack":"p"}' >/dev/null
ago 400 --dir "$D" append run.step --body '{"run":"R1","step":"a","tool":"t","status":"ok"}' >/dev/null
ago 300 --dir "$D" append run.step --body '{"run":"R1","step":"b","tool":"t","status":"ok"}' >/dev/null
"$L" --dir "$D" append run.finished --body '{"run":"R1","status":"ok"}' >/dev/null
"$L" --dir "$D" archive --before '350 days ago' --out "$T/a.bundle" >"$T/out" 2>&1 ||
    fail "archive: $(cat "$T/out")"
grep "$RFC" "$T/out" && fail "archive's words: $(cat "$T/out")"
"$L" --dir "$D" prune --before '350 days ago' --archive "$T/a.bundle" >"$T/out" 2>&1 ||
    fail "prune: $(cat "$T/out")"
grep "$RFC" "$T/out" && fail "prune's words: $(cat "$T/out")"
one "$D" prune --before '1 day ago' --archive "$T/a.bundle" # (younger: refused)
one "$D" timeline R1
err "$D" query run=R1 -o short
"$L" --dir "$D" query run=R1 2>/dev/null | grep -v "^[A-Z][a-z][a-z] [0-9][0-9] [0-9:]\{8\} " &&
    fail "query: a line whose time is not the one format"
err "$D" show 1
one "$D" runs
one "$D" verify
one "$D" verify --full
one "$D" stats
one "$D" doctor
# ... and -o json keeps RFC 3339
"$L" --dir "$D" timeline R1 -o json 2>/dev/null | grep -q "$RFC" ||
    fail "timeline -o json lost its RFC 3339 times"

# a finding that stands: the warning on every reader's stderr, the doctor
"$L" --dir "$D" append x.mark --body '{"m":"zzqq-mark"}' >/dev/null
"$L" --dir "$D" flush >/dev/null # (layout 9: into data.mdb, altered below)
python3 - "$D/data.mdb" <<'EOF' || exit 1
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"zzqq-mark")
while i >= 0:
    b[i] ^= 0x01
    i = b.find(b"zzqq-mark", i + 1)
open(p, "r+b").write(b)
EOF
"$L" --dir "$D" verify --full >/dev/null 2>&1 && fail "verify passed an altered body"
err "$D" query -n 2
err "$D" show 5
one "$D" doctor

# the control pipeline: a plan's timeline, plans, gates
P=$T/p
sh "$ROOT/examples/pipeline/day.sh" "$L" "$P" "$T/ctl" >/dev/null 2>&1 ||
    fail "examples/pipeline/day.sh"
one "$P" timeline P-0919
one "$P" plans
one "$P" plans P-0920
one "$P" gates
one "$P" gates --since '2 days ago'
one "$P" memory --revoked
one "$P" tripcode list

# serve --status: while it serves, and after it stopped
S=$T/s
"$L" --dir "$S" init >/dev/null || exit 1
"$L" --dir "$S" serve --verify-every 1h >"$T/serve.log" 2>&1 &
spid=$!
i=0
# (the status file is written after the socket listens)
while [ ! -s "$S/serve-status.json" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
one "$S" serve --status
grep -q '^serving on .* since [A-Z][a-z][a-z] [0-9]' "$T/out" ||
    fail "serve --status: $(cat "$T/out")"
kill "$spid" && wait "$spid" 2>/dev/null
spid=""
one "$S" serve --status
"$L" --dir "$S" serve --status -o json | grep -q "$RFC" ||
    fail "serve --status -o json lost its RFC 3339 times"
# a failing job that said nothing: never "(null)" (issue 46)
jq '.jobs[0].runs = 2 | .jobs[0].failures = 2 | .jobs[0].failing_in_a_row = 2 |
    .jobs[0].last_exit = 74 | .jobs[0].last_error = null' \
    "$S/serve-status.json" >"$T/st.json" && mv "$T/st.json" "$S/serve-status.json"
"$L" --dir "$S" serve --status >"$T/out" 2>&1
grep -q 'FAILING: 2 in a row, exit 74: (no message)' "$T/out" &&
    ! grep -q '(null)' "$T/out" ||
    fail "serve --status of a job that said nothing: $(cat "$T/out")"

[ "$nfail" -eq 0 ] || exit 1
echo "cli_times: human output prints one time format"
