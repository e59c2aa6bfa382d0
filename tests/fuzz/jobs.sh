# jobs.sh — sourced by run.sh and run_bundle.sh: runs fuzzers FUZZ_JOBS at a
# time (default: the number of processors), so a run of N targets of S
# seconds each takes about N/FUZZ_JOBS * S of wall-clock time while every
# target still fuzzes for S seconds on a processor of its own.
#
#   fz_spawn FUNCTION ARGS...   runs FUNCTION ARGS in the background once a
#                               slot is free; FUNCTION's exit status counts
#   fz_wait_all                 waits for every one; non-zero if any failed
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $FUZZ_JOBS in '' | *[!0-9]* | 0) FUZZ_JOBS=1 ;; esac
fz_pids=""
fz_status=0
fz_count() { echo $#; }
fz_reap_one() {
    # shellcheck disable=SC2086
    set -- $fz_pids
    fz_p=$1
    shift
    fz_pids="$*"
    wait "$fz_p" || fz_status=1
}
fz_spawn() {
    # shellcheck disable=SC2086
    while [ "$(fz_count $fz_pids)" -ge "$FUZZ_JOBS" ]; do fz_reap_one; done
    "$@" &
    fz_pids="$fz_pids $!"
}
fz_wait_all() {
    while [ -n "${fz_pids# }" ] && [ -n "$fz_pids" ]; do fz_reap_one; done
    return $fz_status
}
