#!/bin/sh
# run_tests_counts.sh — tests/run_tests.sh counts what a test's exit says
# (docs/TESTING.md, "What a test's exit says"), on a tree of made-up tests:
#
#   * exit 0 passes; exit 77 with a "SKIP: why" line is skipped, not
#     passed, and said with its reason; 77 without that line fails (a
#     command's 77 passed on); any other exit fails;
#   * a test that passes with a "SKIP: why" line (a part left out), and a
#     unit test with cmocka's "[  SKIPPED ]", pass and are listed under
#     "parts skipped";
#   * the summary is "N passed, N failed, N skipped";
#   * LEDGER_MUST_RUN: a skip, or a part skipped, of a test it names fails
#     the run, but for those LEDGER_MAY_SKIP names; the patterns are never
#     taken for file names;
#   * the lanes of LEDGER_TEST_JOBS count the same;
#   * each line says the test's seconds and its CPU seconds, its
#     children's included, and the summary adds them up.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/run_tests_counts.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}

mkdir -p "$T/tests/e2e" "$T/b/tests/m"
cp "$ROOT/tests/run_tests.sh" "$T/tests/"
e2e() { # NAME BODY
    printf '#!/bin/sh\n%s\n' "$2" >"$T/tests/e2e/$1.sh"
}
# (a_pass's child computes: CPU the harness must count)
e2e a_pass 'sh -c "i=0; while [ \$i -lt 300000 ]; do i=\$((i + 1)); done"; echo ok'
e2e b_skip 'echo "SKIP: needs frob"; exit 77'
e2e c_part 'echo "SKIP: the go part (no go)"; echo ok'
e2e d_bare77 'exit 77'
e2e e_fail 'echo broken; exit 3'
printf '#!/bin/sh\necho "[  SKIPPED ] test_m__case"\necho "[  SKIPPED ] test_m__case"\n' \
    >"$T/b/tests/m/test_u"
printf '#!/bin/sh\necho "[==========] 1 test(s) run."\n' >"$T/b/tests/m/test_v"
chmod +x "$T/b/tests/m/test_u" "$T/b/tests/m/test_v"
# a file a pattern would name, were it taken for one
touch "$T/a_pass" "$T/zz"

run() { # OUT ENV...: runs the harness in the tree
    out=$1
    shift
    # (the harness that runs this test sets these for its own run)
    (cd "$T" && env -u LEDGER_TESTS -u LEDGER_SKIP_TESTS -u LEDGER_MUST_RUN \
        -u LEDGER_MAY_SKIP -u LEDGER_TEST_JOBS -u LEDGER_SERIAL_TESTS "$@" \
        sh tests/run_tests.sh b) >"$T/$out" 2>&1
    echo $?
}

rc=$(run plain LEDGER_MUST_RUN=)
[ "$rc" = 1 ] || fail "a run with failures: exit $rc"
grep -qx '4 passed, 2 failed, 1 skipped' "$T/plain" ||
    fail "summary: $(tail -n 1 "$T/plain")"
grep -qx 'SKIP tests/e2e/b_skip.sh (needs frob)' "$T/plain" ||
    fail "a skip is not said as one: $(grep b_skip "$T/plain")"
grep -q '^PASS tests/e2e/b_skip' "$T/plain" && fail "a skip counted as a pass"
grep -q '^PASS tests/e2e/c_part.sh (.*parts skipped: the go part (no go))' "$T/plain" ||
    fail "a part skipped is not said: $(grep c_part "$T/plain")"
grep -q '^PASS b/tests/m/test_u (.*parts skipped: test_m__case)$' "$T/plain" ||
    fail "cmocka's skipped case is not said: $(grep test_u "$T/plain")"
grep -q '^FAIL tests/e2e/d_bare77.sh: exit 77 without a "SKIP: why" line' "$T/plain" ||
    fail "a bare 77: $(grep d_bare77 "$T/plain")"
grep -q '^FAIL tests/e2e/e_fail.sh' "$T/plain" || fail "a failure is not one"
grep -q '^skipped: tests/e2e/b_skip.sh (needs frob)' "$T/plain" ||
    fail "no list of the skipped: $(cat "$T/plain")"
grep -q '^parts skipped: .*c_part.sh' "$T/plain" ||
    fail "no list of the parts skipped: $(cat "$T/plain")"

# only passing and skipping tests: exit 0
rm "$T/tests/e2e/d_bare77.sh" "$T/tests/e2e/e_fail.sh"
rc=$(run ok LEDGER_MUST_RUN=)
[ "$rc" = 0 ] && grep -qx '4 passed, 0 failed, 1 skipped' "$T/ok" ||
    fail "skips alone: exit $rc, $(tail -n 1 "$T/ok")"

# LEDGER_MUST_RUN: skips of what it names fail
rc=$(run must 'LEDGER_MUST_RUN=*')
[ "$rc" = 1 ] && grep -qx '2 passed, 3 failed, 0 skipped' "$T/must" ||
    fail "LEDGER_MUST_RUN=*: exit $rc, $(cat "$T/must")"
grep -q '^FAIL tests/e2e/b_skip.sh: skipped (needs frob), but LEDGER_MUST_RUN' "$T/must" ||
    fail "LEDGER_MUST_RUN: $(grep b_skip "$T/must")"
grep -q '^FAIL tests/e2e/c_part.sh: left parts out' "$T/must" ||
    fail "LEDGER_MUST_RUN, a part: $(grep c_part "$T/must")"
rc=$(run may 'LEDGER_MUST_RUN=b_* c_* test_*' 'LEDGER_MAY_SKIP=c_part test_u')
[ "$rc" = 1 ] && grep -qx '4 passed, 1 failed, 0 skipped' "$T/may" ||
    fail "LEDGER_MAY_SKIP: exit $rc, $(cat "$T/may")"
rc=$(run none 'LEDGER_MUST_RUN=a_*')
[ "$rc" = 0 ] || fail "LEDGER_MUST_RUN naming only what ran whole: $(cat "$T/none")"

# in lanes, the same count
rc=$(run lanes LEDGER_MUST_RUN= LEDGER_TEST_JOBS=2 LEDGER_SERIAL_TESTS=)
[ "$rc" = 0 ] && grep -qx '4 passed, 0 failed, 1 skipped' "$T/lanes" ||
    fail "in two lanes: exit $rc, $(cat "$T/lanes")"

# the serial ones two at a time after the lanes: the same count
rc=$(run serial2 LEDGER_MUST_RUN= LEDGER_TEST_JOBS=2 'LEDGER_SERIAL_TESTS=a_* c_*' \
    LEDGER_SERIAL_JOBS=2)
[ "$rc" = 0 ] && grep -qx '4 passed, 0 failed, 1 skipped' "$T/serial2" ||
    fail "serial ones in two lanes: exit $rc, $(cat "$T/serial2")"
[ -e "$T/b/tests/queue" ] && fail "the lanes' queue was left: $(ls "$T/b/tests/queue")"

# seconds and CPU seconds: a_pass's child's CPU counted (alone and in a
# lane), a test that only echoes costs next to none, the summary adds
for f in ok lanes serial2; do
    c=$(sed -n 's/^PASS tests\/e2e\/a_pass.sh ([0-9]* s, \([0-9.]*\) s CPU)$/\1/p' "$T/$f")
    awk -v c="${c:-x}" 'BEGIN { exit !(c ~ /^[0-9.]+$/ && c >= 0.1) }' ||
        fail "$f: a_pass's CPU: '${c:-}' ($(grep a_pass "$T/$f"))"
    c=$(sed -n 's/^PASS tests\/e2e\/c_part.sh ([0-9]* s, \([0-9.]*\) s CPU;.*/\1/p' "$T/$f")
    awk -v c="${c:-x}" 'BEGIN { exit !(c ~ /^[0-9.]+$/ && c < 0.1) }' ||
        fail "$f: c_part's CPU: '${c:-}' ($(grep c_part "$T/$f"))"
    grep -Eq '^5 tests: [0-9]+ s of test time, [0-9.]+ s of CPU$' "$T/$f" ||
        fail "$f: no sum of the times: $(tail -n 2 "$T/$f")"
done

# every test keeps to it: no script of the tree says SKIP and then exits
# 0 (a whole test left out would count as passed); a part left out says
# SKIP and goes on
for f in "$ROOT"/tests/e2e/*.sh "$ROOT"/tests/*/*.sh; do
    case $f in */run_tests_counts.sh | */systemd/*) continue ;; esac
    awk -v f="${f#"$ROOT"/}" '/SKIP/ { s = NR }
        /exit 0/ && s && NR - s <= 2 { print f ":" NR ": SKIP then exit 0" }' "$f"
done >"$T/exit0"
[ -s "$T/exit0" ] && fail "tests that skip with exit 0: $(cat "$T/exit0")"

[ "$nfail" -eq 0 ] || exit 1
echo "run_tests_counts: ok"
