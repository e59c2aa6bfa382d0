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
