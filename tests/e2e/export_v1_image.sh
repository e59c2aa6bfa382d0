#!/bin/sh
# export_v1_image.sh — a ledger written by an older release (format 1,
# before seals: docs/FORMAT.md section 3.5, at store layout 1) with this
# one: `ledger migrate` converts it to layout 9, and it stays format 1
# (no signed byte changes).
#   1. tests/vectors/corrupt/base.mdb.zst, the data.mdb of a 41-event
#      ledger written by the release of commit 790efcf (before format 2):
#      before `ledger migrate`, export is refused (exit 65, naming layout
#      1 and `ledger migrate`), writes nothing and leaves data.mdb as it
#      was; migrate converts it (layout 1 -> 9, 41 events), then `verify
#      --full` passes and its events carry their own signatures, without
#      claim digests; the verifier key comes from the log itself. The
#      image is data.mdb alone, without the log key's secret (keys/), and
#      export signs the bundle's manifest with that key: export is refused
#      with exit 77, naming the missing key, and writes nothing.
#   2. tests/vectors/format1/, a ledger written by that same release with
#      its key files (its README says how), migrated: `verify --full`
#      passes, `keys verifier` is the vector's log.vkey, export of run
#      R-0001 (events of the log key and of an actor key, alice), then
#      verify-bundle with the log's verifier key passes, and the bundle is
#      a format 1 one (entry signatures, no seals/ or sealproofs/ members,
#      events.jsonl with signatures and no claim digests); an append to it
#      and a plain verify, which names what it left to --full.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/export_v1_image.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
command -v zstd >/dev/null 2>&1 || {
    echo "export_v1_image: zstd (the program) is missing"
    exit 1
}

# ----------------------------------------- 1. the corrupt corpus's base --
D=$T/l
mkdir -m 700 "$D" || exit 1
zstd -q -d -c "$ROOT/tests/vectors/corrupt/base.mdb.zst" >"$D/data.mdb" ||
    exit 1
L() { "$LEDGER" --dir "$D" "$@"; }

# an earlier build's layout: refused until migrated, nothing written
cp "$D/data.mdb" "$T/data.mdb.0" || exit 1
L export --out "$T/b00.bundle" type=x.t 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || fail "export of the layout 1 image: exit $rc, want 65"
grep -q 'is at store layout 1, an earlier build.s: this build reads and appends to layout 9 only' \
    "$T/err" && grep -q 'ledger migrate' "$T/err" ||
    fail "export of the layout 1 image: $(cat "$T/err")"
[ -e "$T/b00.bundle" ] && fail "export of the layout 1 image wrote a bundle"
cmp -s "$T/data.mdb.0" "$D/data.mdb" ||
    fail "a refused export changed data.mdb"
L migrate >"$T/out" 2>"$T/err" ||
    fail "migrate of the image: exit $? $(cat "$T/err")"
grep -q '^layout 1 -> 9 (41 events)$' "$T/out" ||
    fail "migrate of the image: $(cat "$T/out")"

L verify --full >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || fail "verify --full of the image: exit $rc $(cat "$T/err")"
grep -q '^ok: full verification of 41 events (0\.\.40): signatures,' \
    "$T/out" || fail "verify --full: $(cat "$T/out")"
L show 5 -o json >"$T/e5" || fail "show 5: exit $?"
grep -q '"signature":"[0-9a-f]\{128\}"' "$T/e5" ||
    fail "event 5 has no signature of its own: $(cat "$T/e5")"
grep -q '"claim_digest"' "$T/e5" && fail "event 5 has a claim digest"
VKEY=$(L keys verifier) || fail "keys verifier: exit $?"
case $VKEY in
ledger.local/e36682b43db3+*) ;;
*) fail "verifier key: $VKEY" ;;
esac

L export --out "$T/b0.bundle" type=x.t 2>"$T/err"
rc=$?
[ "$rc" = 77 ] || fail "export of the image without its log key: exit $rc"
grep -q 'the log key is needed to sign the bundle' "$T/err" ||
    fail "export does not name the missing key: $(cat "$T/err")"
[ -e "$T/b0.bundle" ] && fail "export without the log key wrote a bundle"
L verify --full >/dev/null 2>&1 || fail "verify --full after the export"

# ------------------------- 2. a format 1 ledger with its log key file --
V=$ROOT/tests/vectors/format1
if [ ! -f "$V/data.mdb.zst" ]; then
    fail "$V/data.mdb.zst is missing"
else
    D=$T/l1
    mkdir -m 700 "$D" "$D/keys" || exit 1
    zstd -q -d -c "$V/data.mdb.zst" >"$D/data.mdb" || exit 1
    for k in "$V"/keys/*; do
        install -m 600 "$k" "$D/keys/" || exit 1
    done
    L migrate >"$T/out" 2>"$T/err" ||
        fail "migrate (format1): exit $? $(cat "$T/err")"
    grep -q '^layout 1 -> 9 (35 events)$' "$T/out" ||
        fail "migrate (format1): $(cat "$T/out")"
    L verify --full >"$T/out" 2>"$T/err" ||
        fail "verify --full (format1): exit $? $(cat "$T/err")"
    grep -q 'signatures' "$T/out" || fail "verify (format1): $(cat "$T/out")"
    VKEY=$(L keys verifier) || fail "keys verifier (format1): exit $?"
    [ "$VKEY" = "$(cat "$V/log.vkey")" ] ||
        fail "verifier key $VKEY, the vector says $(cat "$V/log.vkey")"

    L export --out "$T/b1.bundle" --run R-0001 2>"$T/err"
    rc=$?
    [ "$rc" = 0 ] || fail "export --run R-0001 (format1): exit $rc $(cat "$T/err")"
    "$LEDGER" verify-bundle "$T/b1.bundle" --trusted-key "$VKEY" \
        2>"$T/verr"
    rc=$?
    [ "$rc" = 0 ] ||
        fail "verify-bundle (format1): exit $rc $(grep FAIL "$T/verr")"
    grep -q '^PASS signatures: [0-9]* entry signatures, each by a key valid' \
        "$T/verr" || fail "not a format 1 bundle: $(grep signatures "$T/verr")"
    grep -q '^PASS keys: the log key and 1 actor key' "$T/verr" ||
        fail "alice's key: $(grep keys "$T/verr")"
    grep -q '^bundle OK' "$T/verr" || fail "no verdict: $(tail -1 "$T/verr")"
    mkdir "$T/x"
    tar --zstd -xf "$T/b1.bundle" -C "$T/x" --strip-components=1 ||
        fail "tar"
    [ -e "$T/x/seals" ] || [ -e "$T/x/sealproofs" ] &&
        fail "a format 1 bundle with seals: $(ls "$T/x")"
    n=$(grep -c . "$T/x/events.jsonl")
    [ "$n" -gt 0 ] || fail "events.jsonl is empty"
    [ "$(grep -c '"signature":"[0-9a-f]\{128\}"' "$T/x/events.jsonl")" = "$n" ] ||
        fail "an event line without its signature: $(head -2 "$T/x/events.jsonl")"
    grep -q '"claim_digest"' "$T/x/events.jsonl" &&
        fail "events.jsonl with claim digests"

    # a plain verify after an append names what it left to --full: the
    # signatures and the indexes of the events before it (it checked
    # both of the new event only)
    L append -q x.t --body '{}' >/dev/null 2>"$T/err" ||
        fail "append (format1): $(cat "$T/err")"
    L verify >"$T/out" 2>"$T/err" || fail "verify (format1): exit $?"
    grep -q '(signatures, indexes);' "$T/out" ||
        fail "verify (format1), new events: $(cat "$T/out")"
    grep -q 'signatures and indexes of events before [0-9]* were not re-checked' \
        "$T/out" || fail "verify (format1), the rest: $(cat "$T/out")"
fi

[ "$fails" = 0 ] || { echo "export_v1_image: $fails failed"; exit 1; }
echo "export_v1_image: ok"
