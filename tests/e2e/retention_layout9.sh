#!/bin/sh
# retention_layout9.sh — a prune at store layout 9 frees what proofs
# do not need (issue 64, item 6; docs/RETENTION.md, FORMAT.md 6.2):
#
#   * 60,001 events at layout 9, 90% archived into one segment and
#     pruned;
#   * layout 9: pages in use fall to at most 1.2 x (1 - p) of before,
#     plus 1% (p the fraction pruned); the level-0 hash tiles before the
#     one of the last pruned event are gone (`prune -o json`
#     removed.tiles), the rest stay;
#   * every inclusion proof of an event from the first kept leaf on, and
#     every consistency proof from a size there (or a multiple of 256) to
#     a size at or after the horizon, is the same bytes as before the
#     prune, and Go's sumdb/tlog accepts them (tests/interop/tlogcheck);
#   * a proof of an event before the kept tiles, or a consistency proof
#     from a size inside them, exits 66 naming the horizon, layout 9 and
#     the archive; `checkpoint --size` of such a size prints the signed
#     note and says its root was not checked; `verify --trusted` with it
#     exits 66, named, and so does the submission to a witness whose last
#     cosigned size is such a one;
#   * verify and verify --full pass and say what they did not check;
#     `tiles` writes the kept tiles only and says so; published, a dropped
#     tile is a 404 as a tile never made (nginx, when present);
#   * a second prune drops the next tiles and verifies.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/retention_layout9.XXXXXX") ||
    exit 1
WPID=""
cleanup() {
    [ -n "${SERVER_PIDS:-}" ] && stop_servers
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
used() { # bytes of the pages in use, as bench/retention.sh counts them
    "$L" --dir "$1" stats --databases -o json |
        jq '[.databases[] | select(.name != "(free)") | .bytes] | add'
}

# ------------------------------------------------------------ the ledger --
# (60,000 events: the pages every store has whatever its size, some 300
# KB, stay below 1% of it; with a few thousand they alone pass the target)
N=60000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
    printf("{\"type\":\"x.t%d\",\"subject\":\"s:%d\",\"run\":\"r-%d\",\"body\":{\"n\":%d,\"s\":\"%s\"}}\n",
           i % 3, i % 7, i % 5, i, (i % 7 ? "ok" : "failed")) }' >"$T/in.jsonl"
D=$T/l9
"$L" --dir "$D" init --origin layout9.test/l >/dev/null || exit 1
"$L" --dir "$D" ingest --batch 1000 "$T/in.jsonl" >/dev/null 2>&1 || exit 1
[ "$("$L" --dir "$D" stats -o json | jq -r .layout)" = 9 ] || fail "init made no layout 9 store"
# event 0 is the genesis, 1 the log key's anchor (init anchors it by
# default), then commits of 1,000: 2..1001, 1002..2001, ...
SIZE=$((N + 2))
H=54002             # a commit's end
E=$(((H - 1) / 256 * 256)) # the first leaf whose level-0 tile stays
VK=$("$L" --dir "$D" keys verifier | head -1) # the key, not the anchor line after it

# what must not change: proofs at the log's size before the prune
proofs() { # DIR OUT
    mkdir -p "$2"
    for s in $E $((E + 1)) $((H - 1)) $H $((H + 1)) $((H + 300)) $((SIZE - 1)); do
        "$L" --dir "$1" proof --size "$SIZE" "$s" >"$2/proof.$s" 2>&1 ||
            echo "exit $?" >>"$2/proof.$s"
    done
    for o in 1024 $((E - 256)) $E $((E + 7)) $((H - 1)) $H $((H + 5)) $((SIZE - 1)) $SIZE; do
        "$L" --dir "$1" proof --size "$SIZE" --consistency "$o" >"$2/cons.$o" 2>&1 ||
            echo "exit $?" >>"$2/cons.$o"
    done
}
proofs "$D" "$T/before"
"$L" --dir "$D" checkpoint --size "$H" >"$T/ck.H" || fail "checkpoint --size $H"

# ------------------------------------------------------ the prune, 999 --
"$L" --dir "$D" archive --before "$H" --out "$T/a1.seg" >/dev/null 2>"$T/err" ||
    { echo "FAIL: archive: $(cat "$T/err")"; exit 1; }
SHA=$(sha256sum "$T/a1.seg" | cut -d' ' -f1)
u0=$(used "$D")
"$L" --dir "$D" prune --before "$H" --archive "$T/a1.seg" --force -o json \
    >"$T/prune.json" 2>"$T/err" || { echo "FAIL: prune: $(cat "$T/err")"; exit 1; }
u1=$(used "$D")
[ "$(jq -r .horizon.horizon "$T/prune.json")" = "$H" ] || fail "pruned to $(jq -c .horizon "$T/prune.json")"
tiles=$(jq -r .removed.tiles "$T/prune.json")
[ "$tiles" = $((E / 256)) ] || fail "prune dropped '$tiles' tiles, not $((E / 256))"
# pages in use: at most 1.2 x (1 - p) of before, plus 1% of it
verdict=$(echo "$u0 $u1 $H $SIZE" | awk '{ p = $3 / $4; lim = $1 * (1.2 * (1 - p) + 0.01);
    printf "%s %.1f%% (limit %.1f%%)", ($2 <= lim ? "ok" : "over"), 100 * $2 / $1, 100 * lim / $1 }')
case $verdict in
ok*) ;;
*) fail "pages in use after pruning $H of $SIZE at layout 9: $u0 -> $u1 bytes, $verdict" ;;
esac
"$L" --dir "$D" prune --before "$H" --archive "$T/a1.seg" --force >/dev/null 2>&1 ||
    fail "the same prune again (nothing to do) failed"

# ------------------------------------------------ the kept part's proofs --
proofs "$D" "$T/after"
for f in "$T"/before/*; do
    cmp -s "$f" "$T/after/$(basename "$f")" ||
        fail "$(basename "$f") changed with the prune: $(head -c 300 "$T/after/$(basename "$f")")"
done
grep -l '^exit' "$T"/before/* >/dev/null 2>&1 && fail "a proof failed before the prune: $(grep -l '^exit' "$T"/before/*)"

# ------------------------------------------ what needs a dropped hash --
pruned_err() { # WHAT EXIT: 66, naming layout 9, the horizon and the archive
    [ "$2" = 66 ] && grep -q "store layout 9" "$T/err" &&
        grep -q "events 0\.\.$((H - 1)) " "$T/err" && grep -q "$SHA" "$T/err" ||
        fail "$1: exit $2: $(cat "$T/err")"
}
for s in 0 5 $((E - 1)); do
    "$L" --dir "$D" proof "$s" >"$T/out" 2>"$T/err"
    pruned_err "proof $s" $?
    grep -q "no inclusion proof of event $s:" "$T/err" || fail "proof $s: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "proof $s printed something"
done
for o in 1 1000 $((E - 1)); do
    "$L" --dir "$D" proof --consistency "$o" >"$T/out" 2>"$T/err"
    pruned_err "proof --consistency $o" $?
done
"$L" --dir "$D" checkpoint --size 1 >"$T/ck.1" 2>"$T/err" &&
    grep -q "signature was checked, not its root" "$T/err" &&
    grep -q "no root of the tree of size 1" "$T/err" ||
    fail "checkpoint --size 1: $(cat "$T/err")"
"$L" --dir "$D" verify --trusted "$T/ck.1" >"$T/out" 2>"$T/err"
pruned_err "verify --trusted (size 1)" $?
"$L" --dir "$D" verify --trusted "$T/ck.H" >"$T/out" 2>"$T/err" ||
    fail "verify --trusted (size $H): $(cat "$T/err")"

# --------------------------------------------------------------- verify --
"$L" --dir "$D" verify >"$T/out" 2>&1 || fail "verify: $(cat "$T/out")"
grep -q "not checked: the leaf hashes of events 0\.\.$((E - 1)), dropped by the prune" "$T/out" ||
    fail "verify does not say what it did not check: $(cat "$T/out")"
"$L" --dir "$D" verify --full -o json >"$T/v.json" 2>"$T/err" || fail "verify --full: $(cat "$T/err")"
[ "$(jq -r .pruned.tree_from "$T/v.json")" = "$E" ] &&
    [ "$(jq -r .pruned.checkpoints_unchecked "$T/v.json")" -gt 0 ] ||
    fail "verify --full -o json: $(jq -c .pruned "$T/v.json")"

# ---------------------------------------------------------------- tiles --
"$L" --dir "$D" tiles "$T/tiles" >/dev/null 2>"$T/err" || fail "tiles: $(cat "$T/err")"
grep -q "level-0 hash tiles of events 0\.\.$((E - 1)), which the prune dropped" "$T/err" ||
    fail "tiles does not say which it left out: $(cat "$T/err")"
k=$(printf '%03d' $((E / 256)))
[ ! -e "$T/tiles/tile/0/000" ] && [ ! -e "$T/tiles/tile/0/$(printf '%03d' $((E / 256 - 1)))" ] &&
    [ -f "$T/tiles/tile/0/$k" ] && [ -f "$T/tiles/tile/1/000.p/$((SIZE / 256))" ] ||
    fail "tiles written: $(cd "$T/tiles" && find . -type f | sort | head -n 5)"

# ---------------------------------------------- Go's sumdb/tlog agrees --
if command -v go >/dev/null 2>&1; then
    export GOPATH=/usr/share/gocode GO111MODULE=off
    [ -n "${HOME:-}" ] || export GOCACHE="$T/gocache"
    (cd "$ROOT" && go build -o "$T/tlogcheck" ./tests/interop/tlogcheck) || fail "go build"
    for s in $H $((H + 1)) $((SIZE - 1)); do
        "$L" --dir "$D" show "$s" --raw >"$T/leaf" || fail "show $s --raw"
        "$T/tlogcheck" inclusion "$VK" "$T/after/proof.$s" "$T/leaf" >/dev/null ||
            fail "Go: inclusion of $s"
    done
    "$T/tlogcheck" consistency "$VK" "$T/ck.H" "$T/after/cons.$H" >/dev/null ||
        fail "Go: consistency from $H"
else
    echo "SKIP: go not installed: the Go cross-check of the proofs"
fi

# ------------------------------------------- served: a dropped tile 404s --
if command -v nginx >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 &&
    command -v python3 >/dev/null 2>&1; then
    . "$ROOT/tests/e2e/lib/servers.sh"
    start_nginx "$T/nginx" || fail nginx
    U=http://$SERVE_ADDR:$NGINX_PORT/logs/box
    "$L" --dir "$D" publish "$U" >/dev/null 2>"$T/err" || fail "publish: $(cat "$T/err")"
    c0=$(curl -s -o /dev/null -w '%{http_code}' "$U/tile/0/000")
    ck=$(curl -s -o /dev/null -w '%{http_code}' "$U/tile/0/$k")
    cn=$(curl -s -o /dev/null -w '%{http_code}' "$U/tile/0/x999/999")
    [ "$c0" = 404 ] && [ "$ck" = 200 ] && [ "$cn" = 404 ] ||
        fail "served tiles: a dropped one $c0, a kept one $ck, one never made $cn"
    stop_servers
else
    echo "SKIP: nginx, curl or python3 not installed: the published tiles"
fi

# --------------------------------------------------------- second prune --
H2=59002
"$L" --dir "$D" archive --before "$H2" --out "$T/a2.seg" >/dev/null 2>"$T/err" ||
    fail "second archive: $(cat "$T/err")"
"$L" --dir "$D" prune --before "$H2" --archive "$T/a2.seg" --force -o json \
    >"$T/prune2.json" 2>"$T/err" || fail "second prune: $(cat "$T/err")"
E2=$(((H2 - 1) / 256 * 256))
[ "$(jq -r .removed.tiles "$T/prune2.json")" = $(((E2 - E) / 256)) ] ||
    fail "second prune dropped $(jq -r .removed.tiles "$T/prune2.json") tiles, not $(((E2 - E) / 256))"
"$L" --dir "$D" verify --full >/dev/null 2>"$T/err" || fail "verify --full after the second prune: $(cat "$T/err")"
"$L" --dir "$D" proof "$E2" >/dev/null 2>"$T/err" || fail "proof $E2 after the second prune: $(cat "$T/err")"
"$L" --dir "$D" proof $((E2 - 1)) >/dev/null 2>"$T/err"
rc=$?
[ $rc = 66 ] && grep -q "store layout 9" "$T/err" || fail "proof $((E2 - 1)) after the second prune: exit $rc: $(cat "$T/err")"

# ------------------------- a witness whose last size is a dropped one --
# (a ledger of its own: cosigned at 302, its genesis, anchor and 300
# events, then grown and pruned past it; the next submission cannot be
# made, and says why, 66)
W=$T/w
LEDGER_LAYOUT=9 "$L" --dir "$W" init --origin layout9.test/w >/dev/null || exit 1
head -n 300 "$T/in.jsonl" | "$L" --dir "$W" ingest - >/dev/null 2>&1 || exit 1
WV=$("$L" witness init --dir "$T/wit" --name w.example/w1) || fail "witness init"
"$L" witness serve --listen 127.0.0.1:0 --dir "$T/wit" --trust "$("$L" --dir "$W" keys verifier)" \
    >"$T/wout" 2>"$T/werr" &
WPID=$!
i=0
while ! grep -q '^listening on 127.0.0.1:' "$T/wout" 2>/dev/null && [ $i -lt 600 ]; do
    i=$((i + 1))
    sleep 0.05
done
WURL=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/wout")
mkdir "$T/wpub"
"$L" --dir "$W" publish "$T/wpub" --witness "$WURL $WV" >/dev/null 2>"$T/err" &&
    grep -q "cosigned size 302" "$T/err" || fail "first witness submission: $(cat "$T/err")"
sed -n '301,1600p' "$T/in.jsonl" | "$L" --dir "$W" ingest --batch 500 - >/dev/null 2>&1 || exit 1
"$L" --dir "$W" archive --before 1302 --out "$T/w.seg" >/dev/null 2>&1 &&
    "$L" --dir "$W" prune --before 1302 --archive "$T/w.seg" --force >/dev/null 2>&1 ||
    fail "the witnessed ledger's prune"
"$L" --dir "$W" publish "$T/wpub" --witness "$WURL $WV" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 66 ] && grep -q "cannot build the request from size 302: no consistency proof from size 302" "$T/err" &&
    grep -q "store layout 9" "$T/err" || fail "witness below the kept tiles: exit $rc: $(cat "$T/err")"
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null

echo "retention_layout9: pruned $H of $SIZE events: pages in use $u0 -> $u1 bytes at layout 9 ($verdict); $nfail failed"
[ "$nfail" = 0 ]
