#!/bin/sh
# smoke.sh LEDGER — the package build's test (debian/rules,
# dh_auto_test; DEB_BUILD_OPTIONS=nocheck skips it): the program just
# built makes a ledger, records the example box's morning, verifies it,
# exports a bundle and verifies that offline. A few seconds; the
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
echo "smoke: init, ingest, verify, export and verify-bundle passed"
