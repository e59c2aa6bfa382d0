# shellcheck shell=sh
# What the read-window tests share (query_windows.sh, export_windows.sh,
# segment_windows.sh; sourced after `here=$(dirname "$0")`):
#
#   win_start NAME        the test's temp dir T (removed at exit, with
#                         every pid in $pids killed), bad MSG (counts in
#                         nfail), and gen FROM TO: events of about 1.2 kB
#   win_tools             builds $T/fi.so (tests/faults/faultinject.c) and
#                         $T/lr (lib/lmdb_readers.c: `lr count DIR` says
#                         how many reader slots DIR's readers hold), sets
#                         SAN_PRE and SAN_OPTS (lib/preload.sh); exits 1
#                         naming the compiler's error when one fails
#   writing PID           waits (30 s at most) until PID's output file
#                         (unnamed, or NAME.tmp.XXXXXX, in $T) holds bytes
#   nofile NAME           fails when any $T/NAME* file is left
#   tstp_check WHAT DIR CMD...
#                         CMD started in a process group of its own whose
#                         parent is in this session (lib/ownpgrp.py: in an
#                         orphaned group, as a test run from a detached
#                         job is, the kernel discards SIGTSTP); once it
#                         writes, SIGTSTP: it must stop holding no reader
#                         slot of ledger DIR; then SIGCONT. Sets TSTP_RC
#                         to CMD's exit code (its stderr: $T/tstp.err);
#                         says what WHAT did.
. "$here/lib/preload.sh"

win_start() {
    T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/$1.XXXXXX") || exit 1
    pids=""
    trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
    trap 'exit 130' INT TERM
    nfail=0
}
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
gen() { # gen FROM TO
    awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i < b; i++)
        printf "{\"type\":\"x.t\",\"run\":\"r1\",\"body\":{\"i\":%d,\"pad\":\"%01000d\"}}\n", i, i }'
}

win_tools() {
    if ! cc -shared -fPIC -o "$T/fi.so" "$here/../faults/faultinject.c" -ldl 2>"$T/cc.err" ||
        ! cc -o "$T/lr" "$here/lib/lmdb_readers.c" -llmdb 2>>"$T/cc.err"; then
        echo "FAIL cannot build the helpers: $(head -c 300 "$T/cc.err")"
        exit 1
    fi
    # (the runs with the shim are killed: no leak check)
    san_preload "$LEDGER" detect_leaks=0
}

writing() {
    i=0
    while [ $i -lt 3000 ]; do
        for f in /proc/"$1"/fd/*; do
            case $(readlink "$f" 2>/dev/null) in
            "$T"/*deleted* | "$T"/*.tmp.*)
                [ "$(stat -L -c %s "$f" 2>/dev/null || echo 0)" -gt 0 ] && return 0
                ;;
            esac
        done
        sleep 0.01
        i=$((i + 1))
    done
    return 1
}

nofile() {
    for f in "$T/$1"*; do
        [ -e "$f" ] && bad "$1: a failed run left ${f#"$T"/}"
    done
}

tstp_check() {
    what=$1 dir=$2
    shift 2
    rm -f "$T/tstp.pid"
    python3 "$here/lib/ownpgrp.py" "$T/tstp.pid" "$@" >/dev/null 2>"$T/tstp.err" &
    wp=$!
    i=0
    while [ ! -s "$T/tstp.pid" ] && [ $i -lt 500 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    tp=$(cat "$T/tstp.pid")
    pids="$pids $tp $wp"
    writing "$tp" || bad "tstp: the $what wrote no byte of its file"
    kill -TSTP "$tp"
    i=0
    while ! grep -q '^State:.*stopped' "/proc/$tp/status" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    if grep -q '^State:.*stopped' "/proc/$tp/status" 2>/dev/null; then
        slots=$("$T/lr" count "$dir")
        [ "$slots" = 0 ] || bad "an $what stopped by SIGTSTP holds $slots reader slot(s)"
        echo "an $what stopped by SIGTSTP while it wrote: $slots reader slot(s) held"
    else
        bad "$what $tp did not stop on SIGTSTP: $(grep State "/proc/$tp/status" 2>/dev/null)"
    fi
    kill -CONT "$tp"
    wait "$wp"
    TSTP_RC=$?
}
