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
#   LEDGER_TEST_JOBS=2  runs the end-to-end tests in that many lanes at
#   once (make asan uses it: a sanitized test spends its time starting
#   processes on one core), except those matching LEDGER_SERIAL_TESTS
#   (the ones that time things, kill processes under load or use the
#   box's network namespaces), which run alone afterwards.
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
# Tests see the environment a fresh machine gives them: a Python that
# buffers its output when it goes to a file, as Debian's does.
unset PYTHONUNBUFFERED
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
# run_one TEST: runs an end-to-end test, prints its line (and the end of
# its log when it fails) and adds PASS or FAIL with its name to $status.
run_one() {
    log="$B/tests/$(basename "$1").log"
    s0=$(date +%s)
    if sh "$1" > "$log" 2>&1; then
        printf 'PASS %s (%d s)\n' "$1" $(($(date +%s) - s0))
        echo "PASS $1" >> "$status"
    else
        printf 'FAIL %s\n' "$1"
        tail -n 30 "$log"
        echo "FAIL $1" >> "$status"
    fi
}
serial_test() {
    n=$(basename "$1" .sh)
    for p in ${LEDGER_SERIAL_TESTS-*crash* serve_* proxy_* robust_readers \
        ingest_trickle metrics_prom netns_* page_* fleet timeline_context}; do
        # shellcheck disable=SC2254
        case $n in $p) return 0 ;; esac
    done
    return 1
}
if [ "$only" = all ]; then
    mkdir -p "$B/tests"
    status="$B/tests/e2e.status"
    : > "$status"
    jobs=${LEDGER_TEST_JOBS:-1}
    lanes="" serial=""
    for t in $(ls tests/e2e/*.sh 2>/dev/null | sort); do
        picked "$t" || continue
        if [ "$jobs" -gt 1 ] && ! serial_test "$t"; then
            lanes="$lanes $t"
        else
            serial="$serial $t"
        fi
    done
    if [ -n "$lanes" ]; then
        i=0
        while [ "$i" -lt "$jobs" ]; do
            (
                k=0
                for t in $lanes; do
                    [ $((k % jobs)) -eq "$i" ] && run_one "$t"
                    k=$((k + 1))
                done
            ) > "$B/tests/lane$i.out" &
            i=$((i + 1))
        done
        wait
        i=0
        while [ "$i" -lt "$jobs" ]; do
            cat "$B/tests/lane$i.out"
            i=$((i + 1))
        done
    fi
    for t in $serial; do
        run_one "$t"
    done
    pass=$((pass + $(grep -c '^PASS ' "$status")))
    fail=$((fail + $(grep -c '^FAIL ' "$status")))
    failed="$failed $(sed -n 's/^FAIL //p' "$status" | tr '\n' ' ')"
fi
failed=$(echo $failed)
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
