#!/bin/sh
# cli_default_dir.sh — which ledger a command names no --dir for
# (ledger/ledger.h, ldg_default_dir; docs/SYSTEMD.md):
#
#   * with no ledger of the user's own and a system ledger
#     ($LEDGER_SYSTEM_DIR; /var/lib/ledger unless set), `doctor`, `stats`
#     and `query` read the system ledger, and make nothing in the user's
#     default;
#   * a --dir with no ledger there names the system ledger (give --dir
#     DIR), never `ledger init`, which would make a second, empty ledger;
#     without a system ledger, the message says `ledger init` makes one;
#   * `ledger init` without --dir makes the user's own ledger, and from
#     then on it is the one commands read;
#   * a system ledger this user may not read (run as nobody): without
#     --dir, that it cannot be read (74, permission denied); with a --dir
#     that holds none, named as closed to this user; init never advised.
#     nobody runs a copy of the binary in the test's own directory, from
#     /: the checkout may be where nobody cannot go (root's home).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/cli_default_dir.XXXXXX") ||
    exit 1
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
unset LEDGER_DIR XDG_STATE_HOME
S=$T/sys
"$L" --dir "$S" init --origin system.test/log >/dev/null || exit 1
"$L" --dir "$S" append x.sys --body '{"n":1}' >/dev/null || exit 1
H=$T/home
mkdir -p "$H"
as() { HOME=$H LEDGER_SYSTEM_DIR=$S "$L" "$@"; }

# ------------------------------------------- the system ledger is found --
as stats -o json >"$T/out" 2>"$T/err" || fail "stats: $(cat "$T/err")"
grep -q '"origin":"system.test/log"' "$T/out" ||
    fail "stats without --dir did not read the system ledger: $(cat "$T/out")"
as doctor >"$T/out" 2>"$T/err"
rc=$?
[ $rc -le 3 ] && ! grep -q 'ledger init' "$T/err" ||
    fail "doctor without --dir: exit $rc: $(cat "$T/err")"
as query type=x.sys >"$T/out" 2>"$T/err" && grep -q 'x.sys' "$T/out" ||
    fail "query without --dir: $(cat "$T/err")"
[ -e "$H/.local/state/ledger" ] && fail "a read made $H/.local/state/ledger"

# --------------------------------- no ledger here: where one is, not init --
as --dir "$T/none" doctor >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 66 ] && grep -q "no ledger in $T/none; the system ledger is in $S: give --dir $S" "$T/err" &&
    ! grep -q 'ledger init' "$T/err" ||
    fail "doctor --dir with no ledger: exit $rc: $(cat "$T/err")"
[ -e "$T/none" ] && fail "a read made $T/none"
HOME=$H LEDGER_SYSTEM_DIR=$T/nosys "$L" doctor >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 66 ] && grep -q "no ledger in $H/.local/state/ledger: \`ledger init\` makes one there" "$T/err" ||
    fail "doctor with no ledger anywhere: exit $rc: $(cat "$T/err")"

# ------------------------------------------ init makes the user's own --
as init --origin own.test/log >"$T/out" 2>"$T/err" ||
    fail "init without --dir beside a system ledger: $(cat "$T/err")"
[ -s "$H/.local/state/ledger/data.mdb" ] || fail "init did not make the user's own ledger"
as stats -o json >"$T/out" 2>&1 && grep -q '"origin":"own.test/log"' "$T/out" ||
    fail "stats after init: not the user's own: $(cat "$T/out")"

# -------------------------------- a system ledger this user may not read --
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    P=$T/priv
    mkdir -m 0755 "$P" && "$L" --dir "$P/l" init >/dev/null && chmod 0750 "$P/l"
    mkdir -m 0777 "$T/nobody"
    # nobody may not enter the checkout (a clone in root's 0700 home):
    # it runs a copy of the binary from $T, from a directory it may enter
    mkdir -m 0755 "$T/bin" && cp "$L" "$T/bin/ledger" && chmod 0755 "$T/bin/ledger" ||
        exit 1
    setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$T/bin/ledger" ||
        { echo "SKIP: nobody cannot reach $T (TMPDIR)"; [ "$nfail" -eq 0 ] || exit 1; exit 0; }
    nobody() {
        (cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
            env HOME="$T/nobody" LEDGER_SYSTEM_DIR="$P/l" "$T/bin/ledger" "$@" \
            >"$T/out" 2>"$T/err")
    }
    # without --dir: that ledger, and why it cannot be read (74)
    nobody doctor
    rc=$?
    [ $rc = 74 ] && grep -q "cannot open the ledger in $P/l: .*Permission denied" "$T/err" &&
        ! grep -q 'ledger init' "$T/err" ||
        fail "doctor as nobody beside an unreadable system ledger: exit $rc: $(cat "$T/err")"
    # a --dir with none: the system ledger named, and that it is closed
    nobody --dir "$T/nobody/none" doctor
    rc=$?
    [ $rc = 66 ] && grep -q "the system ledger is in $P/l (this user may not read it" "$T/err" &&
        ! grep -q 'ledger init' "$T/err" ||
        fail "doctor --dir as nobody beside an unreadable system ledger: exit $rc: $(cat "$T/err")"
else
    echo "SKIP: the unreadable system ledger needs root and setpriv"
fi

[ "$nfail" -eq 0 ] || exit 1
echo "cli_default_dir: ok"
