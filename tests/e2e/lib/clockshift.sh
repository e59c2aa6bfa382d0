# clockshift.sh — sourced by the e2e scripts that step the wall clock of the
# program under test (not run on its own: the test runner runs
# tests/e2e/*.sh only). tests/faults/clockshift.c is an LD_PRELOAD shim:
# under it every read of the wall clock is CLOCK_SHIFT_S seconds off
# (docs/TESTING.md), while the kernel's timed waits keep the real clocks.
#   clockshift_build PROGRAM [ASAN]
#                             builds the shim into $T/cs.so ($T: the
#                             script's scratch directory, $ROOT: the source
#                             tree) and sets CS, what LD_PRELOAD takes:
#                             under the sanitizers PROGRAM's runtimes come
#                             first, as they must, and ASAN_OPTIONS says the
#                             order is meant (and takes ASAN's options too,
#                             e.g. detect_leaks=0); SAN_PRE is those
#                             runtimes, each followed by a colon ("" without
#                             the sanitizers), to put before another shim.
#                             A shim that does not build prints FAIL with
#                             the compiler's words and exits 1.
#   within SECONDS CMD...     tests/e2e/lib/wait.sh's (the bugs these
#                             scripts catch wait an hour or a day)
#   cpu_ticks PID             the process's user and system time in clock
#                             ticks (its children not counted), HZ a second:
#                             how an idle process that spins is found
. "$ROOT/tests/e2e/lib/wait.sh"

clockshift_build() {
    ${CC:-cc} -shared -fPIC -O1 -o "$T/cs.so" \
        "$ROOT/tests/faults/clockshift.c" -ldl 2>"$T/cc.err" ||
        { echo "FAIL: clockshift: $(cat "$T/cc.err")"; exit 1; }
    SAN_PRE=$(ldd "$1" 2>/dev/null |
        awk '/libasan|libubsan|libtsan/ {print $3}' | tr '\n' ':')
    CS=$T/cs.so
    if [ -n "$SAN_PRE" ]; then
        CS="$SAN_PRE$T/cs.so"
        ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0${2:+:$2}
        export ASAN_OPTIONS
    fi
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
