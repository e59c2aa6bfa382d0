#!/bin/sh
# Runs every test program and prints one summary line
# "N passed, N failed, N skipped".
#   tests/run_tests.sh BUILD_DIR [unit | e2e]
# Unit tests: build/tests/<module>/test_* (cmocka).
# End-to-end tests: tests/e2e/*.sh, each given the ledger binary in $LEDGER.
# Each line says how many seconds the test took, and how many seconds of
# CPU it and its processes used (what decides the suite's time on two
# cores: most tests wait as much as they compute); the summary adds them.
#
# What a test's exit means (docs/TESTING.md, "What a test's exit says"):
#   0    passed;
#   77   skipped whole: it could not run here (a tool missing, not root),
#        and its last "SKIP: why" line says why (automake's convention);
#   else failed.
# A test that passed but left a part out says so on a line of its own that
# begins "SKIP: " (cmocka's "[  SKIPPED ]" for a unit test's case): it is
# counted as passed and listed under "parts skipped", never as a pass of
# what it left out.
#   LEDGER_TESTS="serve_* core_crash"  runs only the end-to-end tests whose
#   names (without .sh) match one of these shell patterns (make tsan uses it).
#   LEDGER_SKIP_TESTS="cli_install"  leaves out the end-to-end tests whose
#   names match one of these patterns (make asan uses it).
#   LEDGER_MUST_RUN="*"  the tests (unit or end-to-end, by name) that must
#   run whole here: a skip, or a part skipped, of one of them is a failure
#   (CI sets it: everything setup.sh installs is there).
#   LEDGER_MAY_SKIP="core_faults"  those left out of LEDGER_MUST_RUN (a
#   part that cannot run in this build, as allocation faults under ASan).
#   LEDGER_E2E_ASAN_OPTIONS="detect_leaks=0"  added to ASAN_OPTIONS for
#   the end-to-end tests only (make asan ASAN_E2E_LEAKS=0 uses it).
#   LEDGER_TEST_JOBS=3  runs the end-to-end tests, then the unit tests, in
#   that many lanes at once, one queue (make check and make asan use it:
#   most tests wait as much as they compute), each lane taking the next
#   test, except
#   the end-to-end tests matching LEDGER_SERIAL_TESTS (those with short
#   timeouts of their own, a daemon's idle or line limit, that kill
#   processes under load or use the box's network namespaces), which run
#   afterwards, apart from the others: one at a time, or
#   LEDGER_SERIAL_JOBS=2 at a time (make check: they wait far more than
#   they compute, so two of them load the cores less than the lanes do).
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
# must_run NAME: 0 when NAME must run whole (LEDGER_MUST_RUN, not
# LEDGER_MAY_SKIP).
must_run() {
    r=1
    set -f # (the patterns are the shell's, not file names)
    for p in ${LEDGER_MUST_RUN:-}; do
        # shellcheck disable=SC2254
        case $1 in $p) r=0 ;; esac
    done
    for p in ${LEDGER_MAY_SKIP:-}; do
        # shellcheck disable=SC2254
        case $1 in $p) r=1 ;; esac
    done
    set +f
    return $r
}
# skipped_parts LOG: the "SKIP: why" lines (and cmocka's skipped cases)
# of a test that passed, one line.
skipped_parts() {
    sed -n 's/^SKIP: //p; s/^\[  SKIPPED \] \(test_.*\)/\1/p' "$1" |
        awk '!seen[$0]++' | tr '\n' ';' | sed 's/;$//; s/;/; /g'
}
# cpu_mark: sets cpu to the CPU seconds (user and system) of this shell's
# children that have ended (times itself, not in a pipe nor in $(...): a
# subshell's children are not these).
cpu_mark() {
    times >"$status.times"
    cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$status.times")
    rm -f "$status.times"
}
# cpu_since C0: the CPU seconds since cpu_mark set C0, into cpu
cpu_since() {
    cpu_mark
    cpu=$(echo "$cpu $1" | awk '{ printf "%.1f", $1 - $2 }')
}
# verdict NAME RC LOG SECS CPU: the line of a test that ended with RC (its
# log in LOG) after SECS seconds and CPU seconds of CPU; prints it and adds
# "PASS|FAIL|SKIP|PART NAME..." and "TIME NAME SECS CPU" to $status.
verdict() {
    name=$1 rc=$2 log=$3 secs=$4 cpu=$5
    echo "TIME $name $secs $cpu" >> "$status"
    short=$(basename "$name" .sh)
    if [ "$rc" -eq 77 ] && ! grep -q '^SKIP: ' "$log"; then
        # (77 without its "SKIP: why": a command's 77 passed on, a failure)
        printf 'FAIL %s: exit 77 without a "SKIP: why" line\n' "$name"
        tail -n 30 "$log"
        echo "FAIL $name" >> "$status"
    elif [ "$rc" -eq 77 ]; then
        why=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
        if must_run "$short"; then
            printf 'FAIL %s: skipped (%s), but LEDGER_MUST_RUN says it must run\n' "$name" "$why"
            echo "FAIL $name" >> "$status"
        else
            printf 'SKIP %s (%s)\n' "$name" "$why"
            echo "SKIP $name ($why)" >> "$status"
        fi
    elif [ "$rc" -eq 0 ]; then
        parts=$(skipped_parts "$log")
        if [ -n "$parts" ] && must_run "$short"; then
            printf 'FAIL %s: left parts out (%s), but LEDGER_MUST_RUN says it must run whole\n' "$name" "$parts"
            echo "FAIL $name" >> "$status"
        elif [ -n "$parts" ]; then
            printf 'PASS %s (%d s, %s s CPU; parts skipped: %s)\n' "$name" "$secs" "$cpu" "$parts"
            echo "PASS $name" >> "$status"
            echo "PART $name ($parts)" >> "$status"
        else
            printf 'PASS %s (%d s, %s s CPU)\n' "$name" "$secs" "$cpu"
            echo "PASS $name" >> "$status"
        fi
    else
        printf 'FAIL %s (%d s, %s s CPU)\n' "$name" "$secs" "$cpu"
        tail -n 30 "$log"
        echo "FAIL $name" >> "$status"
    fi
}
# Tests see the environment a fresh machine gives them: a Python that
# buffers its output when it goes to a file, as Debian's does.
unset PYTHONUNBUFFERED
export LEDGER="$PWD/$B/ledger"
export LEDGER_TEST_TMP="${TMPDIR:-/tmp}"
mkdir -p "$B/tests"
status="$B/tests/run.status"
: > "$status"
jobs=${LEDGER_TEST_JOBS:-1}
# run_one TEST: runs a test (a unit test's program, or an end-to-end
# test's script), prints its line (and the end of its log when it fails)
# and adds its verdict to $status.
run_one() {
    case $1 in
    *.sh) log="$B/tests/$(basename "$1").log" ;;
    *) log="$1.log" ;;
    esac
    s0=$(date +%s)
    cpu_mark
    c0=$cpu rc=0
    case $1 in
    *.sh)
        ASAN_OPTIONS=${ASAN_OPTIONS:-}${LEDGER_E2E_ASAN_OPTIONS:+${ASAN_OPTIONS:+:}}${LEDGER_E2E_ASAN_OPTIONS:-} \
            sh "$1" > "$log" 2>&1 || rc=$? ;;
    *) "$1" > "$log" 2>&1 || rc=$? ;;
    esac
    cpu_since "$c0"
    verdict "$1" "$rc" "$log" $(($(date +%s) - s0)) "$cpu"
}
# in_lanes TEST...: runs the tests in $jobs lanes at once, each lane
# taking the next test not yet taken (a file a test in $B/tests/queue,
# claimed by renaming it); then prints their lines, lane by lane, and adds
# their verdicts to $status.
in_lanes() {
    if [ "$jobs" -le 1 ]; then
        for t in "$@"; do run_one "$t"; done
        return
    fi
    q="$B/tests/queue"
    rm -rf "$q"
    mkdir -p "$q"
    n=1000
    for t in "$@"; do
        n=$((n + 1))
        printf '%s\n' "$t" >"$q/$n"
    done
    i=0
    while [ "$i" -lt "$jobs" ]; do
        (
            status="$B/tests/lane$i.status"
            : > "$status"
            for f in "$q"/[0-9][0-9][0-9][0-9]; do
                mv "$f" "$f.$i" 2>/dev/null || continue
                run_one "$(cat "$f.$i")"
            done
        ) > "$B/tests/lane$i.out" &
        i=$((i + 1))
    done
    wait
    i=0
    while [ "$i" -lt "$jobs" ]; do
        cat "$B/tests/lane$i.out"
        cat "$B/tests/lane$i.status" >> "$status"
        i=$((i + 1))
    done
    rm -rf "$q"
}
# (the unit tests wait as the end-to-end ones do: on a server's timeout,
# a child, a job's time limit; each works in a directory of its own)
units=""
[ "$only" = e2e ] || units=$(find "$B/tests" -type f -name 'test_*' -perm -u+x | sort)
serial_test() {
    n=$(basename "$1" .sh)
    for p in ${LEDGER_SERIAL_TESTS-*crash* serve_* proxy_* robust_readers \
        ingest_trickle metrics_prom netns_* page_* fleet timeline_context}; do
        # shellcheck disable=SC2254
        case $n in $p) return 0 ;; esac
    done
    return 1
}
lanes="" serial=""
if [ "$only" = all ] || [ "$only" = e2e ]; then
    for t in $(ls tests/e2e/*.sh 2>/dev/null | sort); do
        picked "$t" || continue
        if [ "$jobs" -gt 1 ] && ! serial_test "$t"; then
            lanes="$lanes $t"
        else
            serial="$serial $t"
        fi
    done
fi
# The unit tests share the lanes with the end-to-end ones, after them:
# one queue, no lane idle while another ends its part (the short unit
# tests fill the lanes' ends).
# shellcheck disable=SC2086
[ -n "$lanes$units" ] && in_lanes $lanes $units
jobs=${LEDGER_SERIAL_JOBS:-1}
# shellcheck disable=SC2086
[ -n "$serial" ] && in_lanes $serial
pass=$(grep -c '^PASS ' "$status")
fail=$(grep -c '^FAIL ' "$status")
skip=$(grep -c '^SKIP ' "$status")
failed=$(sed -n 's/^FAIL //p' "$status" | tr '\n' ' ')
failed=$(echo $failed)
# the end of each failed test's log again, last: a lane's lines come
# before the lanes after it, and a CI that keeps only the run's end (as
# .ci/run's summary does) would lose why
for t in $failed; do
    case $t in
    *.sh) log="$B/tests/$(basename "$t").log" ;;
    *) log="$t.log" ;;
    esac
    [ -f "$log" ] || continue
    printf -- '--- the end of %s:\n' "$log"
    tail -n 12 "$log"
done
[ "$skip" -gt 0 ] && printf 'skipped: %s\n' "$(sed -n 's/^SKIP //p' "$status" | tr '\n' ' ')"
grep -q '^PART ' "$status" &&
    printf 'parts skipped: %s\n' "$(sed -n 's/^PART //p' "$status" | tr '\n' ' ')"
[ -n "$failed" ] && printf 'failed: %s\n' "$failed"
awk '$1 == "TIME" { n++; w += $3; c += $4 }
    END { if (n) printf "%d tests: %d s of test time, %.1f s of CPU\n", n, w, c }' "$status"
printf '%d passed, %d failed, %d skipped\n' "$pass" "$fail" "$skip"
[ "$fail" -eq 0 ]
