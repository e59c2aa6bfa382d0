#!/bin/sh
# robust_bombs.sh — verify-bundle's memory is bounded by what the
# manifest declares, whatever the file holds (issue 11). Hostile bundles
# are built from a real one with tests/faults/mktar.c (members of any size
# without files of that size on disk) and zstd; each verify-bundle runs
# under bench/rss.c, and its peak RSS must stay under RSS_LIMIT_KB (64 MiB):
#   zeros17     17 unlisted members of 63 MiB of zeros (a 1 GiB bomb)
#   nomanifest  the same without a manifest
#   rand80      2 unlisted members of 40 MiB that do not compress
#   bigline     events.jsonl replaced by one 60 MiB line (listed, of
#               another size than the manifest's "sizes": never read)
#   members     400,000 unlisted empty members
#   manifest    a 16 MB manifest.json of 2,400,001 JSON numbers that
#               do not compress much (a memory bomb once parsed)
#   good        the real bundle (exit 0), and read from a pipe
# Each refusal names the member; a zstd or tar bomb is exit 65, a member
# the manifest does not vouch for is a failed check (exit 1).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/robust_bombs.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
RSS_LIMIT_KB=${RSS_LIMIT_KB:-65536}
# ThreadSanitizer's shadow memory is counted in the process's RSS (a 16 MB
# manifest held briefly: 28 MiB plain, 109 MiB under TSan), so the bound is
# checked by the plain build (make check) and the ASan build, and a TSan
# build runs every case for its exit code and message only.
RSS_CHECK=1
if ldd "$LEDGER" 2>/dev/null | grep -q libtsan; then
    RSS_CHECK=0
    echo "robust_bombs: a ThreadSanitizer build: peak RSS is shown, not bounded"
fi
nfail=0
n=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
command -v zstd >/dev/null 2>&1 || {
    echo "robust_bombs: zstd (the program) is missing"
    exit 1
}
CC=${CC:-cc}
# plain builds: the helpers are not what is measured
env -u CFLAGS $CC -O1 -o "$T/mktar" "$ROOT/tests/faults/mktar.c" &&
    env -u CFLAGS $CC -O1 -o "$T/rss" "$ROOT/bench/rss.c" || exit 1

D=$T/l
"$LEDGER" --dir "$D" init >/dev/null 2>&1 &&
    "$LEDGER" --dir "$D" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 &&
    "$LEDGER" --dir "$D" export --out "$T/good.bundle" >/dev/null 2>"$T/err" &&
    "$LEDGER" --dir "$D" keys verifier >"$T/log.vkey" 2>"$T/err" || {
    echo "FAIL: cannot make a bundle: $(head -c 300 "$T/err")"
    exit 1
}
# the members as the layout names them: the bundle's one top directory
# (good/) taken off; the bundles built below have none (the older form,
# which readers still accept)
mkdir "$T/g" &&
    (cd "$T/g" && zstd -dq -c ../good.bundle | tar --strip-components=1 -xf -) &&
    zstd -dq -c "$T/good.bundle" | tar -tf - | sed -n 's|^[^/]*/\(..*[^/]\)$|\1|p' \
        >"$T/order" || exit 1
# spec lines for the real members, in their order; $1: a name to leave out
real() {
    while read -r m; do
        [ "$m" = "${1:-}" ] || printf '%s 0 file %s\n' "$m" "$T/g/$m"
    done <"$T/order"
}
# bundle NAME < spec: $T/NAME.bundle
bundle() {
    "$T/mktar" | zstd -q -1 -c >"$T/$1.bundle" || bad "$1: cannot build"
}
# run NAME "EXIT..." NEEDLE [FILE]: verify-bundle's exit, peak RSS, message: peak RSS and the message
run() {
    n=$((n + 1))
    f=${4:-$T/$1.bundle}
    "$T/rss" -o "$T/rss.out" -l "$1" -- "$LEDGER" verify-bundle "$f" \
        --trusted-key "$T/log.vkey" >"$T/out" 2>"$T/err"
    rc=$?
    kb=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$T/rss.out" | tail -n 1)
    rm -f "$T/rss.out"
    printf '  %-11s exit %s, peak RSS %s KiB, %s bytes\n' "$1" "$rc" "$kb" \
        "$(stat -c %s "$f" 2>/dev/null || echo -)"
    case " $2 " in
    *" $rc "*) ;;
    *) bad "$1: exit $rc, want $2: $(tail -n 3 "$T/err")" ;;
    esac
    [ "$RSS_CHECK" = 0 ] || { [ -n "$kb" ] && [ "$kb" -le "$RSS_LIMIT_KB" ]; } ||
        bad "$1: peak RSS ${kb:-?} KiB, over $RSS_LIMIT_KB KiB"
    grep -Eq -- "$3" "$T/err" ||
        bad "$1: the message does not name '$3': $(tail -n 3 "$T/err")"
}

MB63=66060288
{
    real manifest.json
    i=0
    while [ $i -lt 17 ]; do
        printf 'bodies/9000%02d.json %s zero\n' $i $MB63
        i=$((i + 1))
    done
    printf 'manifest.json 0 file %s\n' "$T/g/manifest.json"
} | bundle zeros17
run zeros17 65 "member bodies/900000.json"

{
    printf 'ledger-bundle 0 file %s\n' "$T/g/ledger-bundle"
    i=0
    while [ $i -lt 17 ]; do
        printf 'bodies/9000%02d.json %s zero\n' $i $MB63
        i=$((i + 1))
    done
} | bundle nomanifest
run nomanifest 65 "member bodies/900000.json"

{
    real
    printf 'bodies/900000.json 41943040 rand 1\n'
    printf 'bodies/900001.json 41943040 rand 2\n'
} | bundle rand80
run rand80 1 "bodies/900000.json"

{
    real events.jsonl
    printf 'events.jsonl 62914560 rand 3\n'
} | bundle bigline
run bigline 1 "events.jsonl: 62914560 bytes, the manifest says [0-9]* \\(not read\\)"

{
    real
    awk 'BEGIN { for (i = 1000000; i < 1400000; i++)
                   printf "entries/%d.entry 0 zero\n", i }'
} | bundle members
# refused as members the manifest does not list (1) or as a bomb (65)
run members "1 65" "member.* entries/1"

awk 'BEGIN { srand(1); printf "{\"files\":{},\"x\":["
             for (i = 0; i < 2400000; i++) printf "%d,", int(rand() * 1000000)
             printf "0]}" }' >"$T/bigman.json"
{
    real manifest.json
    printf 'manifest.json 0 file %s\n' "$T/bigman.json"
} | bundle manifest
run manifest 65 "member manifest.json: .* refused before parsing"

run good 0 "bundle OK" "$T/good.bundle"
cat "$T/good.bundle" | "$LEDGER" verify-bundle /dev/stdin \
    --trusted-key "$T/log.vkey" >/dev/null 2>"$T/err" ||
    bad "good, through a pipe: $(tail -n 2 "$T/err")"

echo "robust_bombs: $n bundles, $nfail failed"
[ "$nfail" = 0 ]
