#!/bin/sh
# api_symbols.sh CC CFLAGS -- HEADER...
#   (CC is one word, quoted when it has several: 'ccache cc')
#   The names the public headers declare: every ldg_* identifier followed
#   by '(' in the preprocessed headers (functions; static inline helpers
#   come along and are harmless). One a line, sorted.
# api_symbols.sh --map CC CFLAGS -- HEADER...
#   The same as a GNU ld version script that exports exactly those names
#   and hides everything else (libledger.so).
set -eu
map=0
if [ "${1:-}" = --map ]; then map=1; shift; fi
cc=$1; shift
flags=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do flags="$flags $1"; shift; done
[ "${1:-}" = -- ] && shift
tmp=$(mktemp "${TMPDIR:-/tmp}/api_symbols.XXXXXX.c")
trap 'rm -f "$tmp"' EXIT
for h in "$@"; do printf '#include "%s"\n' "$h"; done > "$tmp"
# shellcheck disable=SC2086
names=$($cc -E -P $flags "$tmp" | grep -o '\bldg_[a-z0-9_]*[[:space:]]*(' |
    sed 's/[[:space:]]*($//' | sort -u)
if [ "$map" -eq 1 ]; then
    printf 'LIBLEDGER_1 {\n  global:\n'
    for n in $names; do printf '    %s;\n' "$n"; done
    printf '  local:\n    *;\n};\n'
else
    printf '%s\n' $names
fi
