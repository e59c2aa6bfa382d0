# hold.sh — sourced by the e2e scripts that hold a server's connections
# idle (not run on its own: the test runner runs tests/e2e/*.sh only):
# the holder is tests/e2e/lib/hold_idle.py, which says how many of its
# connections the server has closed whenever it is asked. That is what
# tells a newcomer answered in a slot made for it (an idle one closed,
# the others still held) from one answered only once the idle ones timed
# out (all of them closed), without timing anything.
#   hold_start OUT N HOST PORT [PREFIX...]
#                        starts the holder of N connections (as PREFIX
#                        /usr/bin/python3 ..., e.g. setpriv to another
#                        uid), HOLDER its pid, its lines into OUT; waits
#                        for its first line
#   hold_until OUT COND  asks the holder until its answer, read into
#                        $held and $shut, makes the shell test COND true
#                        (e.g. '[ "$shut" -ge 8 ]'): false if it never
#                        does (60 s: slack for a loaded box) or the
#                        holder is gone
#   hold_stop            kills and reaps the holder
. "$ROOT/tests/e2e/lib/wait.sh"
HOLD_PY=$ROOT/tests/e2e/lib/hold_idle.py

hold_start() {
    ho_out=$1 ho_n=$2 ho_host=$3 ho_port=$4
    shift 4
    : >"$ho_out"
    # (the script on the command line: another uid may not read $ROOT)
    "$@" /usr/bin/python3 -c "$(cat "$HOLD_PY")" "$ho_host" "$ho_port" \
        "$ho_n" >"$ho_out" &
    HOLDER=$!
    within 60 test -s "$ho_out"
}

hold_asked() { # OUT COND: one question; its answer in held and shut
    ho_k=$(wc -l <"$1")
    kill -USR1 "$HOLDER" 2>/dev/null || return 2
    within 30 sh -c "[ \$(wc -l <'$1') -gt $ho_k ]" || return 2
    held=$(tail -n 1 "$1" | cut -d' ' -f1)
    shut=$(tail -n 1 "$1" | cut -d' ' -f2)
    eval "$2"
}

hold_until() {
    ho_i=0
    until hold_asked "$1" "$2"; do
        [ $? = 2 ] && return 1
        ho_i=$((ho_i + 1))
        [ $ho_i -ge 600 ] && return 1
        sleep 0.1
    done
}

hold_stop() {
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
}
