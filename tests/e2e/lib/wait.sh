# wait.sh — sourced by the e2e scripts that wait for something a process
# does in its own time (not run on its own: the test runner runs
# tests/e2e/*.sh only).
#   within SECONDS CMD...  CMD again every 0.1 s until it succeeds; false
#                          after SECONDS (slack for a loaded box or a
#                          sanitizer's build). Its counters are its own:
#                          a caller's variables are left alone.
within() {
    wi_n=$(($1 * 10))
    shift
    wi_i=0
    until "$@"; do
        wi_i=$((wi_i + 1))
        [ $wi_i -gt $wi_n ] && return 1
        sleep 0.1
    done
}

# killed_in_call PID LOG: PID runs under tests/faults' shim with
# FAULT_MODE=hang; waits until it hangs in the call (the shim writes LOG
# first) or ends (a call this run never reaches), 24 s at most, then
# kills it with SIGKILL and reaps it: a crash at that call.
killed_in_call() {
    kc_i=0
    while kill -0 "$1" 2>/dev/null && [ ! -s "$2" ] && [ $kc_i -lt 1200 ]; do
        sleep 0.02
        kc_i=$((kc_i + 1))
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
