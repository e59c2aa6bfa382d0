#!/bin/sh
# robust_readers.sh — a dead reader no longer makes data.mdb grow for good
# (issue 11). A `query` blocked on a full pipe holds a read transaction;
# it is SIGKILLed while a long `ingest` is running, and 20,000 more events
# follow. The writer sweeps dead readers' slots (at most once a second,
# and before growing the map), so the file stays within 2x of the same
# ingest with no reader at all. (It used to grow ~25x: 767 MB against 30.5
# MB for 30,000 events.) Then the same with a live `query` that stops
# reading its pipe: it must not pin its snapshot either; then `export
# --out -` and `timeline` blocked on pipes nobody reads.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/robust_readers.XXXXXX") ||
    exit 1
pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
gen() { # gen FROM TO
    awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i < b; i++)
        printf "{\"type\":\"x.t\",\"run\":\"r1\",\"body\":{\"i\":%d,\"pad\":\"%0200d\"}}\n", i, i }'
}
gen 0 10000 >"$T/a.jsonl"
gen 10000 30000 >"$T/b.jsonl"
BATCH=${BATCH:-10}
size_of() { stat -c %s "$1/data.mdb"; }

# Reader-free: the same ingest, the same pause, no reader.
"$LEDGER" --dir "$T/free" init >/dev/null 2>&1 || exit 1
{ cat "$T/a.jsonl"; sleep 2; cat "$T/b.jsonl"; } |
    "$LEDGER" --dir "$T/free" ingest --batch "$BATCH" - >/dev/null 2>&1 || bad "ingest (no reader)"
free=$(size_of "$T/free")

"$LEDGER" --dir "$T/dead" init >/dev/null 2>&1 || exit 1
mkfifo "$T/go"
{
    cat "$T/a.jsonl"
    cat "$T/go" >/dev/null # wait until the reader is dead
    cat "$T/b.jsonl"
} | "$LEDGER" --dir "$T/dead" ingest --batch "$BATCH" - >/dev/null 2>"$T/ingest.err" &
ing=$!
pids="$pids $ing"
# Wait for the first part to be committed, then start a reader that
# blocks on a pipe nobody reads, holding its read transaction.
i=0
while [ "$i" -lt 600 ]; do
    n=$("$LEDGER" --dir "$T/dead" stats -o json 2>/dev/null |
        sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
    [ "${n:-0}" -ge 10001 ] && break
    sleep 0.1
    i=$((i + 1))
done
sh -c 'echo $$ >"$1/qpid"; exec "$2" --dir "$1/dead" query -o json' sh "$T" "$LEDGER" |
    sleep 600 &
pids="$pids $!"
sleep 1
qpid=$(cat "$T/qpid")
pids="$pids $qpid"
kill -9 "$qpid"
sleep 0.5
echo go >"$T/go"
wait "$ing" || bad "ingest with a dead reader: $(head -c 300 "$T/ingest.err")"
dead=$(size_of "$T/dead")
echo "data.mdb after 30,000 events: $free bytes with no reader, $dead with a SIGKILLed reader"
[ "$dead" -le $((2 * free)) ] ||
    bad "a dead reader made data.mdb $dead bytes, more than 2x $free"

# A live reader that stops reading: `query -o json` into a pipe nobody
# reads (`| less` left open). It lets its snapshot go every 4 MiB of
# output, so blocked on the pipe it pins nothing.
"$LEDGER" --dir "$T/paused" init >/dev/null 2>&1 || exit 1
mkfifo "$T/go2"
{
    cat "$T/a.jsonl"
    cat "$T/go2" >/dev/null
    cat "$T/b.jsonl"
} | "$LEDGER" --dir "$T/paused" ingest --batch "$BATCH" - >/dev/null 2>"$T/ingest2.err" &
ing=$!
pids="$pids $ing"
i=0
while [ "$i" -lt 600 ]; do
    n=$("$LEDGER" --dir "$T/paused" stats -o json 2>/dev/null |
        sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
    [ "${n:-0}" -ge 10001 ] && break
    sleep 0.1
    i=$((i + 1))
done
sh -c 'echo $$ >"$1/qpid2"; exec "$2" --dir "$1/paused" query -o json' sh "$T" "$LEDGER" |
    sleep 600 &
pids="$pids $!"
sleep 1
echo go >"$T/go2"
wait "$ing" || bad "ingest beside a paused reader: $(head -c 300 "$T/ingest2.err")"
paused=$(size_of "$T/paused")
kill -9 "$(cat "$T/qpid2")" 2>/dev/null
echo "data.mdb after 30,000 events: $paused bytes beside a paused query"
[ "$paused" -le $((2 * free)) ] ||
    bad "a paused query made data.mdb $paused bytes, more than 2x $free"
# Long readers into pipes nobody reads: `export --out -` (a bundle of
# every event) and `timeline r1`. Each ends its read transaction before
# it writes (export through an unlinked temporary file, timeline from the
# timeline built in memory), so blocked on the pipe they pin nothing.
"$LEDGER" --dir "$T/pipes" init >/dev/null 2>&1 || exit 1
mkfifo "$T/go3"
{
    cat "$T/a.jsonl"
    cat "$T/go3" >/dev/null
    cat "$T/b.jsonl"
} | "$LEDGER" --dir "$T/pipes" ingest --batch "$BATCH" - >/dev/null 2>"$T/ingest3.err" &
ing=$!
pids="$pids $ing"
i=0
while [ "$i" -lt 600 ]; do
    n=$("$LEDGER" --dir "$T/pipes" stats -o json 2>/dev/null |
        sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
    [ "${n:-0}" -ge 10001 ] && break
    sleep 0.1
    i=$((i + 1))
done
sh -c 'echo $$ >"$1/epid"; exec "$2" --dir "$1/pipes" export --out - 2>/dev/null' \
    sh "$T" "$LEDGER" | sleep 600 &
pids="$pids $!"
sh -c 'echo $$ >"$1/tpid"; exec "$2" --dir "$1/pipes" timeline r1 2>/dev/null' \
    sh "$T" "$LEDGER" | sleep 600 &
pids="$pids $!"
sleep 0.5
epid=$(cat "$T/epid")
tpid=$(cat "$T/tpid")
pids="$pids $epid $tpid"
# wait (at most 60 s) until both are blocked writing to their pipes
i=0
while [ "$i" -lt 600 ]; do
    we=$(cat "/proc/$epid/wchan" 2>/dev/null)
    wt=$(cat "/proc/$tpid/wchan" 2>/dev/null)
    case "$we:$wt" in *pipe*:*pipe*) break ;; esac
    sleep 0.1
    i=$((i + 1))
done
echo "export blocked in '$we', timeline in '$wt'"
echo go >"$T/go3"
wait "$ing" || bad "ingest beside blocked export and timeline: $(head -c 300 "$T/ingest3.err")"
piped=$(size_of "$T/pipes")
echo "data.mdb after 30,000 events: $piped bytes beside a blocked export and timeline"
[ "$piped" -le $((2 * free)) ] ||
    bad "a blocked export or timeline made data.mdb $piped bytes, more than 2x $free"
echo "robust_readers: 3 checks, $nfail failed"
[ "$nfail" = 0 ]
