#!/bin/sh
# check_exports.sh LIB.so API_LIST
#   Fails (exit 1, naming each) if the shared library exports a defined
#   symbol that API_LIST (tools/api_symbols.sh: the names the public
#   headers declare) does not hold: the library exports only its API.
set -eu
so=$1
api=$2
# (a pipeline's status is its last command's: nm's failure, a missing or
# unreadable library, must not read as "0 symbols")
nm -D --defined-only "$so" > /dev/null || exit 1
[ -s "$api" ] || { echo "$api: empty API list" >&2; exit 1; }
syms=$(nm -D --defined-only "$so" | awk 'NF == 3 && $2 ~ /[TDBRVWi]/ { print $3 }' |
    sed 's/@.*//' | sort -u)
extra=$(printf '%s\n' "$syms" | grep -vxF -f "$api" | grep -v '^LIBLEDGER_' || true)
n=$(printf '%s\n' "$syms" | grep -c . || true)
if [ -n "$extra" ]; then
    printf '%s: exports symbols no public header declares:\n' "$so" >&2
    printf '  %s\n' $extra >&2
    exit 1
fi
echo "exports: $n symbols, each declared in a public header"
