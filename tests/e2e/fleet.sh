#!/bin/sh
# fleet.sh — the fleet end to end, every server real and on this machine:
# three boxes (ledgers) publish to nginx (WebDAV PUT), get cosigned by a
# witness, one mirror verifies all three from a list, increments fetch
# only what is new; one box goes offline and catches up through its
# witness outbox; one box rewrites its history (the same keys, other
# events) and republishes: the witness refuses it, the mirror reports the
# fork, naming sizes and roots, and keeps its verified copy; the copy
# itself is servable and verifies with Go's sumdb/tlog (tests/interop/
# tlogcheck tiles); every box ships to ClickHouse and audit-central finds
# an altered row.
#
# Network: when this runs as root with iproute2 (CI does), each box runs
# its network commands (publish, ship) in a network namespace of its own,
# joined to this host by a veth pair and a bridge; nginx, the witness and
# ClickHouse listen on the bridge's address, and "offline" is the box's
# link going down. Otherwise everything is on 127.0.0.1 and "offline" is
# the witness being stopped. The first line of output says which.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
. tests/e2e/lib/servers.sh
trap 'stop_servers; netns_down; rm -rf "$T"' EXIT
# a signal (a runner's timeout, ^C) ends through the EXIT trap too
trap 'exit 130' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }
for p in nginx curl python3 clickhouse-server; do
    command -v $p >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
if netns_up 3; then
    echo "fleet: network: each box in its own network namespace, servers on $SERVE_ADDR (a bridge)"
else
    echo "fleet: network: loopback 127.0.0.1 (network namespaces unavailable: not root, no iproute2, or the kernel refused)"
fi

start_nginx "$T/nginx" || fail nginx
W=http://$SERVE_ADDR:$NGINX_PORT
if [ -n "$NETNS" ]; then
    # the boxes reach the servers only through the bridge
    box 1 curl -sf -o /dev/null "$W/" -X OPTIONS ||
        box 1 curl -s -o /dev/null "$W/" || fail "box 1 cannot reach $W"
    box 1 curl -s -m 2 -o /dev/null "http://127.0.0.1:$NGINX_PORT/" &&
        fail "box 1 reaches the host's loopback: not isolated"
fi

for b in 1 2 3; do
    "$L" --dir "$T/box$b" init --origin "box$b.example/log" >/dev/null || fail "init box$b"
    "$L" --dir "$T/box$b" ingest examples/pdf-ops.jsonl 2>/dev/null || fail "ingest box$b"
    "$L" --dir "$T/box$b" keys verifier > "$T/box$b.vkey" || fail verifier
done
# each box holds genesis (0), its anchor (1, ledger init's epoch keys)
# and the 31 events of pdf-ops.jsonl: 33 events
# box 2 has more than one tile of events
i=0
while [ $i -lt 300 ]; do
    echo "{\"type\":\"x.load\",\"body\":{\"i\":$i}}"
    i=$((i + 1))
done > "$T/load.jsonl"
"$L" --dir "$T/box2" ingest "$T/load.jsonl" 2>/dev/null || fail "ingest load"

# one witness trusting the three boxes
WV=$("$L" witness init --dir "$T/wit" --name w.example/w1) || fail "witness init"
start_witness() {
    : >"$T/wout" # else a restart may read the last witness's line
    "$L" witness serve --listen "$SERVE_ADDR:${WPORT:-0}" --dir "$T/wit" \
        --trust "$(cat "$T/box1.vkey")" --trust "$(cat "$T/box2.vkey")" \
        --trust "$(cat "$T/box3.vkey")" > "$T/wout" 2>> "$T/werr" &
    WPID=$!
    SERVER_PIDS="$SERVER_PIDS $WPID"
    i=0
    while ! grep -q '^listening on' "$T/wout" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 600 ] && { fail "witness did not start: $(cat "$T/werr")"; break; }
        sleep 0.05
    done
    WPORT=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\)$/\1/p' "$T/wout")
}
start_witness
WIT="http://$SERVE_ADDR:$WPORT $WV"

for b in 1 2 3; do
    box $b "$L" --dir "$T/box$b" publish "$W/logs/box$b" --witness "$WIT" > "$T/pub$b" 2> "$T/pe$b" ||
        fail "publish box$b: $(cat "$T/pe$b")"
    grep -q 'cosigned size' "$T/pe$b" || fail "box$b not cosigned: $(cat "$T/pe$b")"
done
"$L" --dir "$T/box1" checkpoint --cosigned > "$T/cosigned1" || fail "checkpoint --cosigned"
grep -q '^— w.example/w1 ' "$T/cosigned1" || fail "no cosignature kept: $(cat "$T/cosigned1")"
grep -q '^— box1.example/log ' "$T/cosigned1" || fail "no log signature in the cosigned checkpoint"
# k-of-n witness policy on the cosigned checkpoint
WV2=$("$L" witness init --dir "$T/wit2" --name w.example/w2) || fail "second witness"
"$L" --dir "$T/box1" verify --trusted "$T/cosigned1" --witness-key "$WV" > "$T/v1" ||
    fail "verify --trusted with a witness: $(cat "$T/v1")"
grep -q 'witness quorum met: 1 of 1 cosigned' "$T/v1" || fail "quorum report: $(cat "$T/v1")"
"$L" --dir "$T/box1" verify --trusted "$T/cosigned1" --witness-key "$WV" \
    --witness-key "$WV2" --quorum 2 > /dev/null 2> "$T/v2"
[ $? -eq 1 ] || fail "quorum 2 of 2 with one cosignature: want exit 1"
grep -q 'quorum not met: 1 of 2 cosigned, 2 needed (w.example/w1 cosigned, w.example/w2 did not cosign)' "$T/v2" ||
    fail "quorum failure: $(cat "$T/v2")"
"$L" --dir "$T/box1" verify --quorum 1 2>/dev/null
[ $? -eq 64 ] || fail "--quorum without --trusted: want 64"
# box 2: 33 + 300 = 333 events, one full tile of 256 and 77 hashes
grep -q 'published size 333 (was 0)' "$T/pub2" || fail "publish report: $(cat "$T/pub2")"
[ -f "$T/nginx/www/logs/box2/tile/0/001.p/77" ] || fail "tile layout on the server"
box 1 "$L" --dir "$T/box1" publish "$W/logs/box1" > "$T/pub1b" || fail "publish again"
grep -q 'nothing new' "$T/pub1b" || fail "second publish: $(cat "$T/pub1b")"

# the mirror: all three from a list, keys given once (as the files
# `keys verifier` wrote: the key's line and its anchor's, one list line)
for b in 1 2 3; do
    echo "$W/logs/box$b $T/mirror/box$b $T/box$b.vkey"
done > "$T/list"
"$L" mirror --list "$T/list" > "$T/m1" || fail "mirror: $(cat "$T/m1")"
[ "$(grep -c 'verified at size' "$T/m1")" = 3 ] || fail "mirror report: $(cat "$T/m1")"
cmp -s "$T/mirror/box2/checkpoint" "$T/nginx/www/logs/box2/checkpoint" || fail "mirrored checkpoint"

# an increment: only the new bundle and tiles are fetched
"$L" --dir "$T/box2" append x.more --body '{"n":1}' >/dev/null || fail append
box 2 "$L" --dir "$T/box2" publish "$W/logs/box2" > "$T/pub2b" || fail "publish increment"
grep -q 'published size 334 (was 333)' "$T/pub2b" || fail "increment: $(cat "$T/pub2b")"
"$L" mirror "$W/logs/box2" --state "$T/mirror/box2" > "$T/m2" || fail "mirror increment: $(cat "$T/m2")"
# (an anchored log's report names the epoch that signed it)
grep -q 'size 334 (signed by epoch .* of the log key, certified from its anchor) (was 333): 1 bundles, 2 tiles' "$T/m2" || fail "increment fetched: $(cat "$T/m2")"
"$L" mirror "$W/logs/box2" --state "$T/mirror/box2" -o json > "$T/m3" || fail "mirror json"
grep -q '"status": *"ok"' "$T/m3" || fail "json: $(cat "$T/m3")"

# box 2 goes offline: its network link goes down (in namespaces; on
# loopback, the witness is stopped instead). Its publishes fail (exit 74,
# naming the upload) but the checkpoint waits in the witness outbox; back
# online, the log is uploaded and the newest checkpoint is cosigned from
# the last cosigned size.
if [ -n "$NETNS" ]; then
    box_link 2 down || fail "box 2 link down"
    offline_rc=74
else
    kill "$WPID"; wait "$WPID" 2>/dev/null
    offline_rc=0
fi
"$L" --dir "$T/box2" append x.offline --body '{"n":1}' >/dev/null
box 2 "$L" --dir "$T/box2" publish "$W/logs/box2" --witness "$WIT" > /dev/null 2> "$T/off1"
rc=$?
[ $rc -eq $offline_rc ] || fail "publish while offline: exit $rc, want $offline_rc: $(cat "$T/off1")"
grep -q 'queued in the outbox, attempt 1' "$T/off1" || fail "outbox: $(cat "$T/off1")"
if [ -n "$NETNS" ]; then
    grep -q "ledger publish: .*$W" "$T/off1" || fail "the failed upload is not named: $(cat "$T/off1")"
    [ "$(sed -n 2p "$T/nginx/www/logs/box2/checkpoint")" = 334 ] ||
        fail "offline box 2 changed its published checkpoint"
fi
"$L" --dir "$T/box2" append x.offline --body '{"n":2}' >/dev/null
box 2 "$L" --dir "$T/box2" publish "$W/logs/box2" --witness "$WIT" > /dev/null 2> "$T/off2"
grep -q 'waits in the outbox\|queued in the outbox' "$T/off2" || fail "outbox 2: $(cat "$T/off2")"
"$L" --dir "$T/box2" checkpoint --cosigned | sed -n 2p | grep -qx 333 || fail "cosigned moved while offline"
if [ -n "$NETNS" ]; then
    box_link 2 up || fail "box 2 link up"
else
    start_witness
fi
# until the backoff has passed, the submission waits (and says so)
i=0
while :; do
    box 2 "$L" --dir "$T/box2" publish "$W/logs/box2" --witness "$WIT" > /dev/null 2> "$T/off3" ||
        fail "catch up: $(cat "$T/off3")"
    grep -q 'waits in the outbox' "$T/off3" || break
    i=$((i + 1))
    [ $i -lt 20 ] || fail "the outbox never retried: $(cat "$T/off3")"
    sleep 1
done
grep -q 'cosigned size 336 (from 333)' "$T/off3" || fail "catch-up: $(cat "$T/off3")"
"$L" --dir "$T/box2" checkpoint --cosigned | sed -n 2p | grep -qx 336 || fail "cosigned after catch-up"
"$L" mirror "$W/logs/box2" --state "$T/mirror/box2" > /dev/null || fail "mirror after catch-up"

# box 3 rewrites its history: a copy taken earlier (same keys) appends
# other events and publishes over the original
cp -r "$T/box3" "$T/box3-old"
"$L" --dir "$T/box3" append x.real --body '{"n":1}' >/dev/null
box 3 "$L" --dir "$T/box3" publish "$W/logs/box3" --witness "$WIT" >/dev/null 2>&1 || fail "publish box3"
"$L" mirror "$W/logs/box3" --state "$T/mirror/box3" >/dev/null || fail "mirror box3"
cp "$T/mirror/box3/checkpoint" "$T/box3-good"
for n in 1 2 3; do
    "$L" --dir "$T/box3-old" append x.forged --body "{\"n\":$n}" >/dev/null
done
box 3 "$L" --dir "$T/box3-old" publish "$W/logs/box3-forged" --witness "$WIT" >/dev/null 2> "$T/wf"
[ $? -eq 1 ] || fail "the witness did not refuse the rewritten history: $(cat "$T/wf")"
grep -q 'refused' "$T/wf" || fail "witness refusal message: $(cat "$T/wf")"
grep -q '422.*does not verify' "$T/werr" || fail "witness log: $(tail -3 "$T/werr")"
cp -r "$T/nginx/www/logs/box3-forged/." "$T/nginx/www/logs/box3/"
"$L" mirror "$W/logs/box3" --state "$T/mirror/box3" 2> "$T/m4"
[ $? -eq 1 ] || fail "fork: want exit 1"
grep -q 'fork' "$T/m4" || fail "fork message: $(cat "$T/m4")"
grep -q 'mirrored size 34' "$T/m4" || fail "fork sizes: $(cat "$T/m4")"
cmp -s "$T/mirror/box3/checkpoint" "$T/box3-good" || fail "mirror copy changed by a fork"
"$L" mirror --list "$T/list" > /dev/null 2>&1
[ $? -eq 1 ] || fail "list with a forked log: want exit 1"

# ship every box into ClickHouse, query the fleet, audit against mirrors
start_clickhouse "$T/ch" || fail clickhouse
chq "$CH_PORT" "CREATE DATABASE fleet" || fail "create database"
U="http://$SERVE_ADDR:$CH_PORT/?database=fleet"
for b in 1 2; do
    box $b "$L" --dir "$T/box$b" ship "$U" > "$T/ship$b" || fail "ship box$b"
done
box 3 "$L" --dir "$T/box3" ship "$U" --batch 7 > "$T/ship3" || fail "ship box3"
grep -q 'shipped 34 events \[0, 34) in 5 batches' "$T/ship3" || fail "ship report: $(cat "$T/ship3")"
box 2 "$L" --dir "$T/box2" ship "$U" > "$T/ship2b" || fail "ship again"
grep -q 'shipped 0 events \[336, 336)' "$T/ship2b" || fail "resume: $(cat "$T/ship2b")"
# a fleet query: model registrations per box
chq "$CH_PORT" "SELECT origin, count() FROM fleet.ledger_events FINAL WHERE type = 'model.registered' GROUP BY origin ORDER BY origin FORMAT TabSeparated" > "$T/q1" || fail query
[ "$(wc -l < "$T/q1")" = 3 ] || fail "fleet query: $(cat "$T/q1")"
"$L" --dir "$T/box1" query type=model.registered -o json | wc -l > "$T/n1"
grep -q "^box1.example/log	$(cat "$T/n1")\$" "$T/q1" || fail "query hits vs box1: $(cat "$T/q1")"
# the example queries of docs/FLEET.md run on this ClickHouse
python3 - docs/FLEET.md "$T/q" <<'PY' || fail "extract the queries"
import re, sys
for i, q in enumerate(re.findall(r'```sql\n(.*?)```', open(sys.argv[1]).read(), re.S)):
    open('%s%d.sql' % (sys.argv[2], i), 'w').write(q)
PY
for q in "$T"/q[0-9]*.sql; do
    curl -sf --data-binary @"$q" "$U" > /dev/null || fail "docs/FLEET.md query $(basename "$q") fails"
done
# box3's mirror stopped at the forged publish: mirror box3's real log anew
box 3 "$L" --dir "$T/box3" publish "$W/logs/box3-real" >/dev/null || fail "republish box3"
rm -rf "$T/mirror/box3"
"$L" mirror "$W/logs/box3-real" --state "$T/mirror/box3" --key "$(cat "$T/box3.vkey")" >/dev/null || fail "mirror box3 real"
"$L" audit-central "$U" --mirror "$T/mirror" > "$T/a1" 2> "$T/a1e" || fail "audit of a clean table: $(cat "$T/a1" "$T/a1e")"
# 33 + 336 + 34 rows (box1, box2, box3)
grep -q '3 origins, 403 rows checked, 0 discrepancies' "$T/a1e" || fail "audit summary: $(cat "$T/a1e")"
# a row altered in ClickHouse (a newer version of box1's seq 12)
chq "$CH_PORT" "INSERT INTO fleet.ledger_events SELECT origin, seq, ts_ns, time, type, subject, run, actor, parent, replaceAll(body, 'pdf', 'xls'), body_salts, body_erased, entry, leaf_hash, body_root FROM fleet.ledger_events WHERE origin = 'box1.example/log' AND seq = 12" || fail "alter"
"$L" audit-central "$U" --mirror "$T/mirror" > "$T/a2" 2>/dev/null
[ $? -eq 1 ] || fail "altered row: want exit 1"
grep -q 'box1.example/log seq 12: body disagrees with its commitment' "$T/a2" || fail "altered row: $(cat "$T/a2")"
chq "$CH_PORT" "INSERT INTO fleet.ledger_events (origin, seq, type) VALUES ('box2.example/log', 5000, 'x.fake')"
"$L" audit-central "$U" --mirror "$T/mirror" > "$T/a3" 2>/dev/null
grep -q 'box2.example/log seq 5000: in ClickHouse but not in the log' "$T/a3" || fail "extra row: $(cat "$T/a3")"
"$L" --dir "$T/box1" ship "http://127.0.0.1:1/" 2>/dev/null
[ $? -eq 74 ] || fail "ship to nowhere: want 74"
"$L" --dir "$T/box1" ship "$U" --table 'x;drop' 2>/dev/null
[ $? -eq 64 ] || fail "bad table name: want 64"

# unhappy paths of the commands
"$L" mirror "$W/logs/nobox" --state "$T/mirror/nobox" --key "$(cat "$T/box1.vkey")" 2>"$T/e"
[ $? -eq 74 ] || fail "missing log: want 74"
grep -q '404' "$T/e" || fail "missing log message: $(cat "$T/e")"
"$L" mirror "$W/logs/box1" --state "$T/mirror/x" 2>"$T/e"
[ $? -eq 64 ] || fail "no key: want 64 (a usage error, not an unusable key)"
"$L" mirror "$W/logs/box1" --state "$T/mirror/box1" --key "$(cat "$T/box2.vkey")" 2>/dev/null
[ $? -eq 77 ] || fail "other key: want 77"
"$L" --dir "$T/box1" publish ftp://x 2>/dev/null
[ $? -eq 64 ] || fail "bad URL: want 64"
"$L" --dir "$T/box1" publish http://127.0.0.1:1/x 2>"$T/e"
[ $? -eq 74 ] || fail "unreachable: want 74"
"$L" --dir "$T/box1" publish "$W/logs/box1" --witness nospace 2>"$T/e"
[ $? -eq 64 ] || fail "--witness without a key: want 64 (it crashed once)"
grep -q "want 'URL VKEY'" "$T/e" || fail "--witness without a key: $(cat "$T/e")"
# an unusable witness key (a log's key): refused before the upload is
# tried (which would fail too), named, no "ok" and no outcome on stdout
"$L" --dir "$T/box1" publish http://127.0.0.1:1/x -o json \
    --witness "http://127.0.0.1:1 $(cat "$T/box1.vkey")" >"$T/j" 2>"$T/e"
[ $? -eq 64 ] || fail "a bad witness key: want 64"
[ ! -s "$T/j" ] || fail "bad witness key: stdout says $(cat "$T/j")"
grep -q 'not a witness (cosignature) verifier key' "$T/e" || fail "bad witness key: $(cat "$T/e")"
echo "x y z w" > "$T/badlist"
"$L" mirror --list "$T/badlist" 2>/dev/null
[ $? -eq 65 ] || fail "bad list: want 65"

# the mirror's copy is a tlog-tiles tree Go can verify
if command -v go >/dev/null 2>&1; then
    export GOPATH=/usr/share/gocode GO111MODULE=off
    [ -n "${HOME:-}" ] || export GOCACHE="$T/gocache"
    go build -o "$T/tlogcheck" ./tests/interop/tlogcheck || fail "go build"
    # (Go's note verifier takes the key's line, not the anchor's)
    "$T/tlogcheck" tiles "$(head -1 "$T/box2.vkey")" "$T/mirror/box2" >/dev/null || fail "Go: mirror copy"
fi
echo "fleet: ok"
