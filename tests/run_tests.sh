#!/bin/sh
# Runs every test program and prints one summary line "N passed, N failed".
#   tests/run_tests.sh BUILD_DIR [unit]
# Unit tests: build/tests/<module>/test_* (cmocka).
# End-to-end tests: tests/e2e/*.sh, each given the ledger binary in $LEDGER.
B=${1:-build}
only=${2:-all}
pass=0
fail=0
failed=""
export LEDGER="$PWD/$B/ledger"
export LEDGER_TEST_TMP="${TMPDIR:-/tmp}"
for t in $(find "$B/tests" -type f -name 'test_*' -perm -u+x | sort); do
    if "$t" > "$t.log" 2>&1; then
        pass=$((pass + 1))
        printf 'PASS %s\n' "$t"
    else
        fail=$((fail + 1))
        failed="$failed $t"
        printf 'FAIL %s\n' "$t"
        tail -n 30 "$t.log"
    fi
done
if [ "$only" = all ]; then
    for t in $(ls tests/e2e/*.sh 2>/dev/null | sort); do
        log="$B/tests/$(basename "$t").log"
        mkdir -p "$B/tests"
        if sh "$t" > "$log" 2>&1; then
            pass=$((pass + 1))
            printf 'PASS %s\n' "$t"
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
