#!/bin/sh
# metrics_wear.sh — `ledger serve --metrics` shows what the server writes
# (issue 64, item 5): ledger_storage_written_bytes_total, the kernel's
# count for the server's process (write_bytes of /proc/PID/io), present,
# a counter that promtool accepts, never above what the kernel says of the
# process after the scrape, and grown after events are appended through
# the server.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in promtool curl; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
[ -r /proc/self/io ] || { echo "SKIP: the kernel does not count I/O a process (/proc/self/io)"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/servers.sh"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/metrics_wear.XXXXXX") || exit 1
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
M=ledger_storage_written_bytes_total
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
kernel() { awk '/^write_bytes:/ { print $2 }' "/proc/$spid/io"; }

"$LEDGER" --dir "$D" init >/dev/null || { echo "FAIL: init"; exit 1; }
MPORT=$(free_port)
"$LEDGER" --dir "$D" serve --metrics "127.0.0.1:$MPORT" >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
i=0
while ! grep -q '^metrics on ' "$T/serve.out" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/s1" || fail "GET /metrics: $(cat "$T/serve.err")"
k1=$(kernel)
promtool check metrics <"$T/s1" >"$T/pc" 2>&1 || fail "promtool: $(cat "$T/pc")"
grep -q "^# TYPE $M counter$" "$T/s1" || fail "$M: no counter family"
grep -q "^# HELP $M .*write_bytes" "$T/s1" || fail "$M: its help does not say whose count it is"
v1=$(value "$T/s1" $M)
case $v1 in '' | *[!0-9]*) fail "$M: '$v1', not a count" ;; esac
[ "${v1:-0}" -le "${k1:-0}" ] 2>/dev/null ||
    fail "$M $v1 is more than the kernel's count of the process after the scrape, $k1"

# 200 events through the server, one commit each: the server writes them
i=0
while [ $i -lt 200 ]; do
    printf '{"type":"x.wear","body":{"i":%d}}\n' $i
    i=$((i + 1))
done >"$T/ev.jsonl"
"$LEDGER" --dir "$D" ingest --batch 1 "$T/ev.jsonl" >/dev/null 2>"$T/ing.err" ||
    fail "ingest through the server: $(cat "$T/ing.err")"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/s2" || fail "GET /metrics again"
k2=$(kernel)
v2=$(value "$T/s2" $M)
[ "$(value "$T/s2" ledger_serve_events_committed_total)" = 200 ] ||
    fail "the events did not go through the server: $(grep events_committed "$T/s2")"
[ "${v2:-0}" -gt "${v1:-0}" ] 2>/dev/null || fail "$M did not grow after 200 commits: $v1 -> $v2"
[ "${v2:-0}" -le "${k2:-0}" ] 2>/dev/null || fail "$M $v2 is more than the kernel's $k2"
promtool check metrics <"$T/s2" >"$T/pc" 2>&1 || fail "promtool (after): $(cat "$T/pc")"
# `ledger metrics` alone is not a server: a process's count there would
# be the scrape's own, so the family is not in it
"$LEDGER" --dir "$D" metrics 2>/dev/null | grep -q "^$M" &&
    fail "ledger metrics (no server) shows $M"
kill "$spid"
wait "$spid" || fail "serve: exit $?"
spid=""
if [ $fails -eq 0 ]; then
    echo "metrics_wear: ok"
    exit 0
fi
echo "metrics_wear: $fails failure(s)"
exit 1
