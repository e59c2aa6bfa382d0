#!/bin/sh
# query_follow.sh — `ledger query -f`: shows the last 10 matches, then
# prints events other processes append, and ends with 0 and no error
# output on SIGINT and when its reader goes away (SIGPIPE).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
# wait_lines FILE N: waits (at most ~20 s, a guard, not a measure) for N lines
wait_lines() {
    i=0
    while [ "$(cat "$1" 2>/dev/null | wc -l | tr -d ' ')" -lt "$2" ] && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(cat "$1" 2>/dev/null | wc -l | tr -d ' ')" -ge "$2" ]
}

"$LEDGER" --dir "$D" init >/dev/null || exit 1
awk 'BEGIN { for (i = 0; i < 15; i++)
    printf "{\"type\":\"x.follow\",\"body\":{\"i\":%d}}\n", i }' >"$T/pre.jsonl"
"$LEDGER" --dir "$D" ingest "$T/pre.jsonl" 2>/dev/null || exit 1

"$LEDGER" --dir "$D" query -f -o cat type=x.follow >"$T/out" 2>"$T/err" &
pid=$!
wait_lines "$T/out" 10 || fail "no initial output"
sleep 0.3
[ "$(wc -l <"$T/out" | tr -d ' ')" = 10 ] || fail "initial: $(wc -l <"$T/out") lines, want the last 10"
head -n 1 "$T/out" | grep -q '"i":5' || fail "initial output starts at $(head -n 1 "$T/out")"
for i in 100 101 102; do
    "$LEDGER" --dir "$D" append x.follow --body "{\"i\":$i}" >/dev/null ||
        fail "append $i"
    "$LEDGER" --dir "$D" append x.other --body '{}' >/dev/null
done
wait_lines "$T/out" 13 || fail "followed events did not arrive: $(cat "$T/out")"
tail -n 1 "$T/out" | grep -q '"i":102' || fail "last line $(tail -n 1 "$T/out")"
grep -q x.other "$T/out" && fail "non-matching event printed"
kill -INT "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || fail "SIGINT: exit $rc"
[ -s "$T/err" ] && fail "SIGINT: stderr $(cat "$T/err")"

# --show-cursor in follow mode ends with the cursor of the last event
"$LEDGER" --dir "$D" query -f -n 1 --show-cursor type=x.follow >"$T/out2" 2>"$T/err2" &
pid=$!
wait_lines "$T/out2" 1 || fail "no output with --show-cursor"
kill -INT "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" = 0 ] || fail "SIGINT with cursor: exit $rc"
tail -n 1 "$T/out2" | grep -q '^-- cursor: ' || fail "no cursor at the end: $(cat "$T/out2")"

# reader gone: the follower notices on its next write and exits 0
{ "$LEDGER" --dir "$D" query -f -o json type=x.follow 2>"$T/err3"; echo $? >"$T/rc3"; } |
    head -n 11 >"$T/out3" &
hp=$!
i=0
while [ ! -s "$T/rc3" ] && [ $i -lt 600 ]; do
    "$LEDGER" --dir "$D" append x.follow --body '{"i":201}' >/dev/null
    sleep 0.1
    i=$((i + 1))
done
wait "$hp"
[ "$(wc -l <"$T/out3" | tr -d ' ')" = 11 ] || fail "pipe follower printed $(wc -l <"$T/out3") lines"
[ "$(cat "$T/rc3" 2>/dev/null)" = 0 ] || fail "SIGPIPE: exit '$(cat "$T/rc3" 2>/dev/null)'"
[ -s "$T/err3" ] && fail "SIGPIPE: stderr $(cat "$T/err3")"

[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "query_follow: ok"
