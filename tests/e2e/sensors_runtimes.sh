#!/bin/sh
# sensors_runtimes.sh — `ledger probe` across two runtimes and through
# their blips (a review's findings):
#   1. one model served by two runtimes (one has it loaded, the other
#      not): a probe again appends nothing (each runtime is compared with
#      its own last news; before, every probe flipped the state);
#   2. a model that moved from one runtime to the other is not recorded
#      "removed" while the other serves it (before: removed, in the view);
#   3. Ollama's /api/show failing for a probe registers nothing anew (no
#      registration without capabilities, and none again on recovery);
#   4. a model whose name is longer than a subject is said on stderr, not
#      dropped silently;
#   5. a `runtimes` file that is a directory is an error naming it (it
#      read as an empty list).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: needs jq"; exit 77; }
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
A=$(printf 'a%.0s' $(seq 64))
B=$(printf 'b%.0s' $(seq 64))
stub() { # NAME: starts a stub on $T/NAME.json, its URL in $T/NAME.url
    python3 tests/stubs/stub.py --state "$T/$1.json" --port-file "$T/$1.port" \
        >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$1.port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
    echo "http://127.0.0.1:$(cat "$T/$1.port")" >"$T/$1.url"
}
models() { # NAME JSON-MODELS [EXTRA]
    printf '{"version": "0.5.7", "models": %s%s}\n' "$2" "${3:-}" >"$T/$1.json"
}
m1l='{"name": "m1:7b", "digest": "'$A'", "size": 1000, "loaded": true}'
m1a='{"name": "m1:7b", "digest": "'$A'", "size": 1000, "loaded": false}'
m2='{"name": "m2:3b", "digest": "'$B'", "size": 500, "loaded": false}'
models a "[$m1l, $m2]"
models b "[$m1a]"
stub a
stub b
RA="a=$(cat "$T/a.url")"
RB="b=$(cat "$T/b.url")"
L init >/dev/null || exit 1
size() { L checkpoint | sed -n 2p; }

# 1. m1 on both runtimes: the first probe records both; then nothing
L probe --no-host -r "$RA" -r "$RB" >/dev/null 2>"$T/err" || fail "probe 1: $(cat "$T/err")"
n=$(size)
for k in 2 3; do
    L probe --no-host -r "$RA" -r "$RB" >"$T/out" 2>"$T/err" || fail "probe $k: $(cat "$T/err")"
    [ "$(size)" = "$n" ] || fail "probe $k of an unchanged pair appended: $(L query -o json seq="$n".. | jq -c '[.type,.body.runtime,.body.state]')"
done

# 2. m2 moves from a to b: not "removed" while b serves it
models a "[$m1l]"
models b "[$m1a, $m2]"
L probe --no-host -r "$RA" -r "$RB" >/dev/null 2>"$T/err" || fail "probe (moved): $(cat "$T/err")"
st=$(L models -o json | jq -r 'select(.model=="m2:3b") | .state')
[ "$st" = available ] || fail "a moved model is '$st' in the view, want available: $(L models -o json | jq -c 'select(.model=="m2:3b")')"
n=$(size)
L probe --no-host -r "$RA" -r "$RB" >/dev/null 2>&1
[ "$(size)" = "$n" ] || fail "a probe after the move appended again"

# 3. /api/show fails on a: no registration without capabilities, and
#    none when it is back
n_reg=$(L query -o json type=model.registered | wc -l)
models a "[$m1l]" ', "fail": {"/api/show": "500"}'
L probe --no-host -r "$RA" -r "$RB" >/dev/null 2>&1
models a "[$m1l]"
L probe --no-host -r "$RA" -r "$RB" >/dev/null 2>&1
[ "$(L query -o json type=model.registered | wc -l)" = "$n_reg" ] ||
    fail "an /api/show blip re-registered: $(L query -o json type=model.registered | tail -2)"
L query -o json type=runtime.health | tail -3 | grep -q '"degraded"' ||
    fail "the blip is not said in runtime.health"

# 4. a name longer than a subject holds: said, the others recorded
long=$(printf 'x%.0s' $(seq 450))
models a "[$m1l, {\"name\": \"$long\", \"digest\": \"$A\", \"size\": 1}]"
L probe --no-host -r "$RA" -r "$RB" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || fail "probe with a long name: exit $rc ($(cat "$T/err"))"
grep -q "runtime a: model 'xxxx.*(450 bytes): cannot be recorded" "$T/err" ||
    fail "a long model name dropped silently: $(cat "$T/err")"

# 5. DIR/runtimes a directory
mkdir "$D/runtimes"
L probe --no-host >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 74 ] || fail "runtimes is a directory: exit $rc, want 74 ($(cat "$T/err"))"
grep -q "runtimes: Is a directory" "$T/err" || fail "runtimes directory: $(cat "$T/err")"

[ $nfail -eq 0 ] && echo "sensors_runtimes: two runtimes, a move, a blip, a long name, a directory"
exit $((nfail > 0))
