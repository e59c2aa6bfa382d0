#!/bin/sh
# Runs every test program and prints one summary line "N passed, N failed".
#   tests/run_tests.sh BUILD_DIR [unit]
# Unit tests: build/tests/<module>/test_* (cmocka).
# End-to-end tests: tests/e2e/*.sh, each given the ledger binary in $LEDGER.
# Each line says how many seconds the test took.
#   LEDGER_TESTS="serve_* core_crash"  runs only the end-to-end tests whose
#   names (without .sh) match one of these shell patterns (make tsan uses it).
#   LEDGER_SKIP_TESTS="cli_install"  leaves out the end-to-end tests whose
#   names match one of these patterns (make asan uses it).
B=${1:-build}
only=${2:-all}
picked() {
    n=$(basename "$1" .sh)
    for p in ${LEDGER_SKIP_TESTS:-}; do
        # shellcheck disable=SC2254
        case $n in $p) return 1 ;; esac
    done
    [ -z "${LEDGER_TESTS:-}" ] && return 0
    for p in $LEDGER_TESTS; do
        # shellcheck disable=SC2254
        case $n in $p) return 0 ;; esac
    done
    return 1
}
pass=0
fail=0
failed=""
export LEDGER="$PWD/$B/ledger"
export LEDGER_TEST_TMP="${TMPDIR:-/tmp}"
for t in $(find "$B/tests" -type f -name 'test_*' -perm -u+x | sort); do
    s0=$(date +%s)
    if "$t" > "$t.log" 2>&1; then
        pass=$((pass + 1))
        printf 'PASS %s (%d s)\n' "$t" $(($(date +%s) - s0))
    else
        fail=$((fail + 1))
        failed="$failed $t"
        printf 'FAIL %s\n' "$t"
        tail -n 30 "$t.log"
    fi
done
if [ "$only" = all ]; then
    for t in $(ls tests/e2e/*.sh 2>/dev/null | sort); do
        picked "$t" || continue
        log="$B/tests/$(basename "$t").log"
        mkdir -p "$B/tests"
        s0=$(date +%s)
        if sh "$t" > "$log" 2>&1; then
            pass=$((pass + 1))
            printf 'PASS %s (%d s)\n' "$t" $(($(date +%s) - s0))
        else
            fail=$((fail + 1))
            failed="$failed $t"
            printf 'FAIL %s\n' "$t"
            tail -n 30 "$log"
        fi
    done
fi
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
