#!/bin/sh
# robust_limits.sh — crashes and limits from issue 11, end to end:
#   1. `ingest` with an empty first line (was SIGSEGV, exit 139) commits
#      the event after it; CR, NUL and a missing final newline are handled;
#   2. `ingest /dev/zero` stops at the line limit with an error naming
#      line 1 and exit 65 (it used to read forever), in bounded memory.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/robust_limits.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
nchecks=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
check() { nchecks=$((nchecks + 1)); }
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
L init >/dev/null 2>&1 || {
    echo "FAIL: init"
    exit 1
}
events() { L stats -o json 2>/dev/null | sed -n 's/.*"events":"\([0-9]*\)".*/\1/p'; }

base=$(events)
# ------------------------------------------------------ 1. empty lines --
check
printf '\n{"type":"x.t","body":{}}\n' | L ingest - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || bad "empty first line: exit $rc, want 0 ($(head -c 200 "$T/err"))"
[ "$(events)" = $((base + 1)) ] || bad "empty first line: $(events) events, want $((base + 1))"
check
printf '\r\n\n{"type":"x.t","body":{"n":2}}\r\n{"type":"x.t","body":{"n":3}}' |
    L ingest - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || bad "CR lines, no final newline: exit $rc ($(head -c 200 "$T/err"))"
[ "$(events)" = $((base + 3)) ] || bad "CR lines, no final newline: $(events) events, want $((base + 3))"
check
printf '{"type":"x.t","body":{}}\0\n' | L ingest - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || bad "NUL in a line: exit $rc, want 65"
grep -q '^<stdin>:1:' "$T/err" || bad "NUL in a line: message '$(head -c 200 "$T/err")'"

# ------------------------------------------------------- 2. /dev/zero --
check
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    timeout 60 /usr/bin/time -o "$T/rss" -f %M "$LEDGER" --dir "$D" \
        ingest /dev/zero >"$T/out" 2>"$T/err"
    rc=$?
    rss=$(tail -n 1 "$T/rss")
    case $rss in *[!0-9]* | '') rss=0 ;; esac
    [ "$rss" -lt 40000 ] || bad "ingest /dev/zero: peak RSS $rss KiB"
else
    timeout 60 "$LEDGER" --dir "$D" ingest /dev/zero >"$T/out" 2>"$T/err"
    rc=$?
fi
[ "$rc" = 65 ] || bad "ingest /dev/zero: exit $rc, want 65 (124 = never ended)"
grep -q '^/dev/zero:1:1: line is longer than .*stopped reading' "$T/err" ||
    bad "ingest /dev/zero: message '$(head -c 300 "$T/err")'"
[ "$(events)" = $((base + 3)) ] || bad "ingest /dev/zero changed the ledger"

echo "robust_limits: $nchecks checks, $nfail failed"
[ "$nfail" = 0 ]
