#!/bin/sh
# robust_limits.sh — crashes and limits from issue 11, end to end:
#   1. `ingest` with an empty first line (was SIGSEGV, exit 139) commits
#      the event after it; CR, NUL and a missing final newline are handled;
#   2. `ingest /dev/zero` stops at the line limit with an error naming
#      line 1 and exit 65 (it used to read forever), in bounded memory;
#   3. validation as FORMAT.md says: 24 nested arrays or objects in a body
#      value accepted, 25 refused (25 empty arrays used to pass);
#      `"run":""` and `--run ""` refused (it was dropped silently);
#   4. an empty `--dir ""` or `LEDGER_DIR=""` refused with exit 64 (it
#      used the default ledger);
#   5. exit codes: erase, proof --consistency and verify --from beyond the
#      log exit 66 (were 65, 65 and 0 with "0 events verified").
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
events() { L stats -o json 2>/dev/null | sed -n 's/.*"size":"\([0-9]*\)".*/\1/p'; }

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

# ----------------------------------------------------------- 3. nesting --
nest() { # nest N OPEN INNER CLOSE — a body {"a": N levels around INNER}
    awk -v n="$1" -v o="$2" -v m="$3" -v c="$4" 'BEGIN { printf "{\"a\":";
        for (i = 0; i < n; i++) printf "%s", o; printf "%s", m;
        for (i = 0; i < n; i++) printf "%s", c; printf "}" }'
}
before=$(events)
for kind in arrays objects; do
    for n in 24 25; do
        check
        if [ $kind = arrays ]; then
            body=$(nest "$n" '[' '' ']')
        else
            body=$(nest "$n" '{"b":' 1 '}')
        fi
        L append x.t --body "$body" >"$T/out" 2>"$T/err"
        rc=$?
        if [ "$n" = 24 ]; then
            [ "$rc" = 0 ] || bad "$n nested $kind refused: exit $rc ($(head -c 200 "$T/err"))"
        else
            [ "$rc" = 65 ] && grep -q 'nests deeper than 24' "$T/err" ||
                bad "$n nested $kind: exit $rc, want 65 ($(head -c 200 "$T/err"))"
        fi
    done
done
[ "$(events)" = $((before + 2)) ] || bad "nesting: $(events) events, want $((before + 2))"

# --------------------------------------------------------- 3. empty run --
check
printf '{"type":"x.t","run":"","body":{}}\n' | L ingest - >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] && grep -q "^<stdin>:1:1: field 'run': must not be empty" "$T/err" ||
    bad "\"run\":\"\": exit $rc ($(head -c 200 "$T/err")), want 65"
check
L append x.t --run "" --body '{}' >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] && grep -q "field 'run': must not be empty" "$T/err" ||
    bad "--run '': exit $rc ($(head -c 200 "$T/err")), want 65"

# -------------------------------------------------------- 4. empty dirs --
E="env -u LEDGER_DIR HOME=$T/home XDG_STATE_HOME=$T/xdg"
check
$E "$LEDGER" --dir "" init >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 64 ] && grep -q "empty directory name" "$T/err" ||
    bad "--dir '' init: exit $rc ($(head -c 200 "$T/err")), want 64"
check
$E LEDGER_DIR="" "$LEDGER" init >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 64 ] && grep -q "LEDGER_DIR is set but empty" "$T/err" ||
    bad "LEDGER_DIR='' init: exit $rc ($(head -c 200 "$T/err")), want 64"
[ -e "$T/home" ] || [ -e "$T/xdg" ] && bad "an empty directory name created the default ledger"

# --------------------------------------------------------- 5. exit codes --
check
L erase 99999 --reason test >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] && grep -q "no event 99999" "$T/err" ||
    bad "erase 99999: exit $rc ($(head -c 200 "$T/err")), want 66"
check
L proof --consistency 99999 >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] || bad "proof --consistency 99999: exit $rc ($(head -c 200 "$T/err")), want 66"
check
L verify --from 99999 >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] && grep -q "no such event" "$T/err" && ! grep -q "verified" "$T/out" ||
    bad "verify --from 99999: exit $rc ($(head -c 200 "$T/out" "$T/err")), want 66"

echo "robust_limits: $nchecks checks, $nfail failed"
[ "$nfail" = 0 ]
