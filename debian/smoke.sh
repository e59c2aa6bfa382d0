#!/bin/sh
# smoke.sh LEDGER — the package build's test (debian/rules,
# dh_auto_test; DEB_BUILD_OPTIONS=nocheck skips it): the program just
# built makes a ledger, records the example box's morning, verifies it,
# exports a bundle and verifies that offline, and refuses the store
# layout in development (a release build's). A few seconds; the
# project's whole suite is make check's.
set -eu
L=$1
here=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/ledger-smoke.XXXXXX")
trap 'rm -rf "$T"' EXIT
run() {
    "$@" >"$T/out" 2>&1 || {
        cat "$T/out"
        echo "smoke: FAIL: $*"
        exit 1
    }
}
run "$L" --version
run "$L" --dir "$T/d" init --origin smoke.test/deb
run "$L" --dir "$T/d" ingest "$here/examples/pdf-ops.jsonl"
run "$L" --dir "$T/d" verify
"$L" --dir "$T/d" keys verifier >"$T/vkey"
run "$L" --dir "$T/d" export --run R-0001 --out "$T/b.bundle"
run "$L" verify-bundle "$T/b.bundle" --trusted-key "$T/vkey"
# a release build (RELEASE=1) names no layout in development, and init
# makes layout 9 (docs/FORMAT.md 6.1)
if "$L" --version | grep -q 'in development'; then
    echo "smoke: FAIL: --version names a layout in development"
    exit 1
fi
if ! "$L" --dir "$T/d" stats -o json | grep -q '"layout":9[,}]'; then
    "$L" --dir "$T/d" stats -o json
    echo "smoke: FAIL: the ledger init made is not at store layout 9"
    exit 1
fi
echo "smoke: init, ingest, verify, export and verify-bundle passed;" \
    "store layout 9"
