#!/bin/sh
# intake_oneshot.sh — at store layout 9 a one-shot writer (`ledger
# append`) costs the store one intake block and one flush: it leaves the
# intake's tail for the next writer (LDG_KEEP_TAIL; docs/WRITE-PATH.md),
# where before each append also committed to LMDB (its close applied the
# tail, and the next open's projections applied it again). Checked:
#   1. 20 appends in 20 processes leave data.mdb's last LMDB transaction
#      where it was (mdb_stat), and each writes one 4 KiB block and one
#      flush (strace, on the last);
#   2. every event is seen at once: query, show, proof, and the views
#      (routes, a read-only process folding the tail);
#   3. past 128 unapplied events the tail goes to LMDB in one commit, and
#      `verify --full` finds the store's projections match the log;
#   4. `serve`, a long-lived writer, applies the tail when it stops;
#   5. an ingest whose group passes a frame's 64 KiB of events (100 of
#      some 900 B stored) commits it to LMDB, leaving no tail (stats' intake
#      count 0, an LMDB commit; before, up to 128 KiB went to a frame: 100
#      in the intake), and one
#      of three small events leaves them in a frame (intake 3, LMDB
#      untouched).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_oneshot.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
command -v mdb_stat >/dev/null 2>&1 || { echo "SKIP: no mdb_stat (lmdb-utils)"; exit 77; }
txn() { mdb_stat -e "$D" | sed -n 's/^ *Last transaction ID: //p'; }
decision() { # MODEL
    printf '{"route":"pdf/x","chosen_model":"%s","latency_ms":5,"outcome":"ok"}' "$1" |
        "$LEDGER" --dir "$D" append route.decision --subject route:pdf/x 2>"$T/err" ||
        fail "append: $(cat "$T/err")"
}

LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>"$T/err" ||
    { echo "FAIL: init at layout 9: $(cat "$T/err")"; exit 1; }
t0=$(txn)
i=0
while [ $i -lt 19 ]; do
    decision "m$((i % 3))" >/dev/null
    i=$((i + 1))
done
if command -v strace >/dev/null 2>&1; then
    # (LeakSanitizer does not work under ptrace: off, under make asan)
    ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0 \
        strace -f -y -e trace=pwrite64,write,fdatasync,fsync -o "$T/trace" \
        "$LEDGER" --dir "$D" append x.t --body '{"last":1}' >/dev/null 2>"$T/err" ||
        fail "append under strace: $(cat "$T/err")"
    grep -q 'data\.mdb>' "$T/trace" &&
        fail "the last append wrote data.mdb: $(grep 'data\.mdb>' "$T/trace" | head -n 3)"
    n=$(grep -c '^[0-9]* *pwrite64([0-9]*<[^>]*/intake>, .*= 4096$' "$T/trace")
    s=$(grep -c '^[0-9]* *fdatasync([0-9]*<[^>]*/intake>)' "$T/trace")
    [ "$n" = 1 ] && [ "$s" = 1 ] ||
        fail "the last append: $n 4 KiB writes and $s flushes of the intake (want 1 and 1): $(cat "$T/trace")"
else
    "$LEDGER" --dir "$D" append x.t --body '{"last":1}' >/dev/null ||
        fail "the last append"
fi
t1=$(txn)
[ "$t1" = "$t0" ] ||
    fail "20 one-shot appends committed to LMDB: its last transaction $t0 -> $t1"

# 2. seen at once, from the tail (22 events: the genesis, the log key's
# anchor, 1, and the 20 appended, 2..21)
n=$("$LEDGER" --dir "$D" query -n all -o json | wc -l)
[ "$n" = 22 ] || fail "query: $n events, want 22"
"$LEDGER" --dir "$D" show 21 | grep -q '"last"' || fail "show 21: $("$LEDGER" --dir "$D" show 21 2>&1)"
"$LEDGER" --dir "$D" proof 21 >"$T/proof" 2>&1 || fail "proof 21: $(cat "$T/proof")"
"$LEDGER" --dir "$D" routes -o json >"$T/routes" 2>"$T/rerr" ||
    fail "routes: $(cat "$T/rerr")"
grep -q '"count":19' "$T/routes" || grep -q '"count": 19' "$T/routes" ||
    fail "routes does not count the 19 decisions of the tail: $(cat "$T/routes")"
[ -s "$T/rerr" ] && fail "routes said: $(cat "$T/rerr")"
[ "$(txn)" = "$t0" ] || fail "the readers committed to LMDB"

# 3. past 128 unapplied events: one commit
i=0
while [ $i -lt 120 ]; do
    decision "m$((i % 3))" >/dev/null
    i=$((i + 1))
done
t2=$(txn)
[ "$t2" -gt "$t1" ] && [ $((t2 - t1)) -le 2 ] ||
    fail "140 unapplied events: LMDB's last transaction $t1 -> $t2 (want one commit, at most two)"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"
grep -q "stored projections match the log" "$T/v" || fail "verify --full: $(cat "$T/v")"

# 4. serve applies the tail when it stops
decision m9 >/dev/null
t3=$(txn)
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
        fail "serve did not start: $(cat "$T/serve.err")"
        break
    fi
done
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=""
[ "$(txn)" -gt "$t3" ] || fail "serve stopped and left the tail in the intake (LMDB at $t3)"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full after serve: $(cat "$T/v")"

# 5. groups past 16 KiB of events to LMDB, small ones to a frame
intake() { "$LEDGER" --dir "$D" stats -o json | jq -r '.intake_events'; }
# (bodies of 1,200 random hex digits: some 900 B an event stored)
awk 'BEGIN { srand(5); for (i = 0; i < 100; i++) { p = "";
    for (j = 0; j < 1200; j++) p = p sprintf("%x", int(rand() * 16));
    printf "{\"type\":\"x.test.big\",\"body\":{\"n\":%d,\"pad\":\"%s\"}}\n", i, p } }' >"$T/big.jsonl"
t5=$(txn)
"$LEDGER" --dir "$D" ingest --batch 100 "$T/big.jsonl" >/dev/null 2>"$T/err" ||
    fail "ingest of a group of 100: $(cat "$T/err")"
[ "$(intake)" = 0 ] || fail "a group of 100 events (some 90 KiB) left $(intake) events in the intake"
[ "$(txn)" -gt "$t5" ] || fail "a group of 100 events: no LMDB commit"
head -n 3 "$T/big.jsonl" >"$T/small.jsonl"
t6=$(txn)
"$LEDGER" --dir "$D" ingest "$T/small.jsonl" >/dev/null 2>"$T/err" || fail "ingest of 3: $(cat "$T/err")"
[ "$(intake)" = 3 ] || fail "a group of 3 small events: the intake holds $(intake), not 3"
[ "$(txn)" = "$t6" ] || fail "a group of 3 small events committed to LMDB ($t6 -> $(txn))"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full after the ingests: $(cat "$T/v")"

if [ "$fails" = 0 ]; then
    echo "intake_oneshot: ok"
else
    echo "intake_oneshot: $fails failure(s)"
    exit 1
fi
