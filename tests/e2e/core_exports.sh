#!/bin/sh
# core_exports.sh — the library exports only its API (issue 17). The
# shared library's link runs tools/check_exports.sh on every build of
# libledger.so (make shared, make install; cli_install.sh does that); this
# test shows the check itself holds: a library that exports a name no
# public header declares fails, naming it, and one that exports only
# declared names passes; and tools/api_symbols.sh finds the API's names.
# It also checks that the built libledger.a keeps only the API global.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${LEDGER:?set LEDGER to the ledger binary}"
CC=${CC:-cc}
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/core_exports.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

cd "$ROOT" || exit 1
# the public headers, as the Makefile lists them (issue 30: ledger.h,
# util/error.h and each other module's own header)
# (a make of its own: under `make -jN check` the MAKEFLAGS it inherits
# made it say "Entering directory" around the list)
HEADERS=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    make -s --no-print-directory print-headers)
case " $HEADERS " in *" ledger/ledger.h "*) ;; *)
    bad "make print-headers does not list ledger/ledger.h: $HEADERS" ;; esac
sh tools/api_symbols.sh "$CC" -I. $(pkg-config --cflags jansson) -- \
    $HEADERS > "$T/api" || bad "api_symbols.sh failed"
for n in ldg_open ldg_append ldg_strerror ldg_query_reindex; do
    if grep -qx "$n" "$T/api"; then ok "the API list holds $n"
    else bad "the API list lacks $n"; fi
done
for n in ldg_core_kv_put:handle_int.h ldg_index_walk:module.h \
    ldg_buf_add:util.h; do
    if grep -qx "${n%%:*}" "$T/api"; then
        bad "the API list holds an internal name (${n%%:*}, ${n#*:})"
    else
        ok "the API list leaves out ${n%%:*} (${n#*:})"
    fi
done

cat > "$T/lib.c" <<'C'
int ldg_open(void);
int ldg_open(void) { return 0; }
int helper_leak(void);
int helper_leak(void) { return 1; }
C
$CC -shared -fPIC -o "$T/leaky.so" "$T/lib.c"
if sh tools/check_exports.sh "$T/leaky.so" "$T/api" 2> "$T/err"; then
    bad "a library exporting helper_leak passed"
elif grep -q 'helper_leak' "$T/err"; then
    ok "a library exporting helper_leak fails, naming it"
else
    cat "$T/err"
    bad "the failure does not name helper_leak"
fi
printf 'LIBLEDGER_1 { global: ldg_open; local: *; };\n' > "$T/map"
$CC -shared -fPIC -Wl,--version-script="$T/map" -o "$T/clean.so" "$T/lib.c"
if sh tools/check_exports.sh "$T/clean.so" "$T/api" > "$T/out" 2>&1; then
    ok "the same library with a version script passes ($(cat "$T/out"))"
else
    cat "$T/out"
    bad "a library exporting only ldg_open failed"
fi
# the built static library (make check builds it): only the API global
B=${LEDGER%/ledger}
if [ -f "$B/libledger.a" ] && [ -f "$B/libledger.api" ]; then
    nm -g --defined-only "$B/libledger.a" |
        awk 'NF == 3 { print $3 }' | sort -u > "$T/a.syms"
    extra=$(grep -vxF -f "$B/libledger.api" "$T/a.syms" | head -5)
    if [ -n "$extra" ]; then
        bad "libledger.a has non-API globals: $extra"
    else
        ok "libledger.a: $(wc -l < "$T/a.syms") globals, each in a public header"
    fi
else
    bad "no $B/libledger.a and $B/libledger.api to look at (LEDGER=$LEDGER)"
fi
[ "$fails" -eq 0 ] || { echo "core_exports: $fails failed"; exit 1; }
echo "core_exports: all passed"
