#!/bin/sh
# files_planted.sh — names another user could plant a symlink under.
# The ledger's own user (or anyone who may write into a directory ledger
# writes) could make root's `ledger metrics` overwrite any file: the wear
# samples went through DIR/storage-wear.tsv.tmp, the metrics cache
# through DIR/metrics-cache.json.PID.tmp, the status file through
# DIR/serve-status.json.PID.tmp, a publish to a directory through
# NAME.tmp.PID.N, the page through FILE.PID.tmp — each opened O_TRUNC,
# following a symlink, then renamed into place. Each name is planted here
# exactly (the process's pid is the shell's that execs it) as a symlink
# to a decoy: the decoy must be untouched. A witness key is refused in a
# directory others may write (its file could be theirs, and readable).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
case $L in /*) ;; *) L=$PWD/$L ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
"$L" init --dir "$D" >/dev/null || exit 1
"$L" ingest --dir "$D" examples/pdf-ops.jsonl 2>/dev/null || exit 1
decoy() { printf 'DECOY\n' >"$T/decoy"; }
untouched() { # WHAT
    [ "$(cat "$T/decoy")" = DECOY ] || fail "$1: the decoy was written: $(head -c 80 "$T/decoy")"
}
export L D T

# metrics: the wear samples' and the cache's temporary names
decoy
sh -c 'ln -s "$T/decoy" "$D/storage-wear.tsv.tmp"; ln -s "$T/decoy" "$D/metrics-cache.json.$$.tmp"; exec "$L" --dir "$D" metrics' >/dev/null 2>"$T/err" ||
    fail "metrics: $(cat "$T/err")"
untouched "metrics"
[ -L "$D/storage-wear.tsv" ] && fail "storage-wear.tsv became a symlink"
[ -L "$D/metrics-cache.json" ] && fail "metrics-cache.json became a symlink"
rm -f "$D/storage-wear.tsv.tmp" "$D"/metrics-cache.json.*.tmp

# a symlink in place of the cache is not read through (to a FIFO, a read
# through it would wait for a writer forever), and is replaced
mkfifo "$T/fifo"
rm -f "$D/metrics-cache.json"
ln -s "$T/fifo" "$D/metrics-cache.json"
timeout 20 "$L" --dir "$D" metrics >/dev/null 2>&1
[ $? -eq 124 ] && fail "metrics read through a symlinked cache (it waited on the FIFO)"
[ -L "$D/metrics-cache.json" ] && fail "the symlinked cache was kept"

# serve's status file
decoy
sh -c 'ln -s "$T/decoy" "$D/serve-status.json.$$.tmp"; exec "$L" --dir "$D" serve --socket "$T/s.sock" --verify-every 1h' >/dev/null 2>"$T/serr" &
spid=$!
i=0
while [ ! -s "$D/serve-status.json" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM "$spid"
wait "$spid" || fail "serve: $(cat "$T/serr")"
untouched "serve's status file"

# publish to a directory
decoy
mkdir "$T/pub"
sh -c 'for n in 0 1 2 3 4 5 6 7 8 9; do for f in checkpoint tile/0/000 tile/entries/000.p/6; do mkdir -p "$(dirname "$T/pub/$f")"; ln -sf "$T/decoy" "$T/pub/$f.tmp.$$.$n"; done; done; exec "$L" --dir "$D" publish "$T/pub"' >/dev/null 2>"$T/err" ||
    fail "publish: $(cat "$T/err")"
untouched "publish to a directory"
[ -L "$T/pub/checkpoint" ] && fail "the published checkpoint is a symlink"

# the page
decoy
run=$("$L" --dir "$D" runs -o json | head -1 | jq -r .run)
sh -c 'ln -s "$T/decoy" "$T/page.html.$$.tmp"; exec "$L" --dir "$D" timeline "$1" --html "$T/page.html"' sh "$run" 2>"$T/err" ||
    fail "timeline --html: $(cat "$T/err")"
untouched "timeline --html"

# a witness key only in a directory that is this user's and no one
# else may write
mkdir -m 0777 "$T/wshared"
chmod 0777 "$T/wshared"
"$L" witness init --dir "$T/wshared" --name w.example/w1 >/dev/null 2>"$T/err"
[ $? -ne 0 ] || fail "witness init in a world-writable directory succeeded"
grep -q "no one else may write" "$T/err" || fail "witness init: $(cat "$T/err")"
[ -e "$T/wshared/witness.key" ] && fail "a witness key was written there"
"$L" witness init --dir "$T/wown" --name w.example/w1 >/dev/null 2>"$T/err" ||
    fail "witness init in a new directory: $(cat "$T/err")"

[ $nfail -eq 0 ] && echo "files_planted: no planted name was written through"
exit $((nfail > 0))
