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
#   hold_round WHAT OUT N HOST PORT SHUT0 AFTER ASK [PREFIX...]
#                        a round: N held (hold_start), SHUT0 or more of
#                        them closed at once (once the count stops
#                        moving: $hold_b), then the caller's function ASK
#                        (the requests), then the count must make the
#                        shell test AFTER (on $shut, $hold_b) true. A
#                        round whose count is all N closed (they reached
#                        an idle limit: a box that stalled past the
#                        server's 5 s "idle under pressure" between the
#                        holding and the requests) is run again, three
#                        times at most. 0, or 1 (AFTER false), 2 (no
#                        holder), 3 (fewer than SHUT0 closed at once),
#                        each said through the caller's fail, naming WHAT
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

hold_round() {
    hr_what=$1
    shift
    hold_round_ "$@"
    hr_rc=$?
    case $hr_rc in
    1) fail "$hr_what: of $held held, $shut closed after the requests, want $hr_after" ;;
    2) fail "$hr_what: the holder did not start" ;;
    3) fail "$hr_what: $held held, $shut closed at once, want $hr_shut0 or more" ;;
    esac
    return $hr_rc
}

hold_round_() {
    hr_out=$1 hr_n=$2 hr_host=$3 hr_port=$4 hr_shut0=$5 hr_after=$6 hr_ask=$7
    shift 7
    hr_try=1
    while :; do
        hold_b=""
        hold_start "$hr_out" "$hr_n" "$hr_host" "$hr_port" "$@" ||
            { hold_stop; return 2; }
        hold_until "$hr_out" "[ \"\$shut\" -ge $hr_shut0 ] && [ \"\$shut\" = \"\${hold_b:-}\" ] || { hold_b=\$shut; false; }" ||
            { hold_stop; return 3; }
        hold_b=$shut
        "$hr_ask"
        hr_rc=0
        hold_until "$hr_out" "[ \"\$shut\" -ne $hold_b ] || $hr_after" &&
            eval "$hr_after" || hr_rc=1
        hold_stop
        [ $hr_rc = 0 ] && return 0
        { [ "$shut" != "$held" ] || [ $hr_try -ge 3 ]; } && return 1
        hr_try=$((hr_try + 1))
    done
}
