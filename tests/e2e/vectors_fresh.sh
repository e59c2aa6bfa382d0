#!/bin/sh
# vectors_fresh.sh — tests/vectors/store-v5.txt (committed; the store layout
# vectors tests/ledger/test_stored.c checks the C code against) is what
# tests/vectors/store-v5.py computes from docs/FORMAT.md alone (Python's
# hashlib and cryptography package, the zstd command line): a vector edited
# by hand, or a script changed without writing the file again, fails here.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/vectors_fresh.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
cd "$ROOT" || exit 1
for tool in python3 zstd; do
    command -v $tool >/dev/null 2>&1 || {
        echo "FAIL: $tool is not installed (setup.sh installs it)"
        exit 1
    }
done
python3 -c 'import cryptography' 2>/dev/null || {
    echo "FAIL: python3-cryptography is not installed (setup.sh installs it)"
    exit 1
}
python3 tests/vectors/store-v5.py >"$T/store-v5.txt" || {
    echo "FAIL: tests/vectors/store-v5.py"
    exit 1
}
if cmp -s "$T/store-v5.txt" tests/vectors/store-v5.txt; then
    echo "ok   tests/vectors/store-v5.txt is what store-v5.py computes"
else
    echo "FAIL tests/vectors/store-v5.txt is stale:"
    diff "$T/store-v5.txt" tests/vectors/store-v5.txt | head -n 8
    exit 1
fi
