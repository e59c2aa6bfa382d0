# proxy.sh — sourced by the proxy e2e scripts (not run on its own: the
# test runner runs tests/e2e/*.sh only). Needs $T (the script's scratch
# directory), $ROOT (the source tree), $LEDGER, $D (the ledger), PIDS
# (the pids the script's trap kills) and, for stop_proxy, fail.
#   start_stub               tests/stubs/stub.py answering from
#                            $T/state.json on a port of its own: its pid
#                            added to PIDS, its URL in U
#   start_proxy NAME ARGS... `ledger proxy --listen 127.0.0.1:0 ARGS` in the
#                            background, its output in $T/NAME.out and
#                            $T/NAME.err, its environment added to by
#                            PROXY_ENV (assignments for env(1), e.g. a
#                            clock shim's LD_PRELOAD; unset: none); its pid
#                            in PX (added to PIDS), its URL in PP once it
#                            says it listens (10 s at the most)
#   stop_proxy PID NAME      SIGTERM, and it exits 0 (under ASan: no leak)
start_stub() {
    python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
        --port-file "$T/sport" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    px_i=0
    while [ ! -s "$T/sport" ] && [ $px_i -lt 600 ]; do
        sleep 0.05
        px_i=$((px_i + 1))
    done
    U="http://127.0.0.1:$(cat "$T/sport")"
}

start_proxy() {
    px_n=$1
    shift
    rm -f "$T/$px_n.out"
    # shellcheck disable=SC2086 # PROXY_ENV is words for env
    env ${PROXY_ENV:-} "$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
        "$@" >"$T/$px_n.out" 2>"$T/$px_n.err" &
    PX=$!
    PIDS="$PIDS $PX"
    px_i=0
    while ! grep -q '^listening on' "$T/$px_n.out" 2>/dev/null &&
        [ $px_i -lt 600 ]; do
        sleep 0.05
        px_i=$((px_i + 1))
    done
    PP="http://$(sed -n 's/^listening on //p' "$T/$px_n.out")"
}

stop_proxy() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    px_rc=$?
    [ "$px_rc" = 0 ] ||
        fail "proxy $2 exit $px_rc: $(tail -c 2000 "$T/$2.err")"
}
