#!/bin/sh
# check_cli_size.sh [DIR...] — files and functions stay small enough to
# read. The program stays thin (issue 47): no file in cli/ (the default)
# over 1,000 lines, no function there over 150. The library's modules
# (issue 67) are held to MAX_FILE=1500 MAX_FN=200 by `make check`.
# Generated files are left out: protobuf-c's *.pb-c.[ch] and any file
# whose first lines say "DO NOT EDIT". A function is counted from its
# opening brace at column 0 to its closing one (clang-format puts both
# there), its name from the line before.
# One "FILE:LINE: what" per finding on stdout; exit 1 if any.
[ $# -gt 0 ] || set -- cli
MAX_FILE=${MAX_FILE:-1000}
MAX_FN=${MAX_FN:-150}
bad=0
for DIR in "$@"; do
    for f in "$DIR"/*.c "$DIR"/*.h; do
        [ -f "$f" ] || continue
        case $f in *.pb-c.c | *.pb-c.h) continue ;; esac
        head -n 5 "$f" | grep -q 'DO NOT EDIT' && continue
        n=$(wc -l < "$f")
        if [ "$n" -gt "$MAX_FILE" ]; then
            echo "$f:1: $n lines, more than $MAX_FILE: split it"
            bad=1
        fi
        awk -v F="$f" -v MAX="$MAX_FN" '
        /^[A-Za-z_].*\(/ && !/;[ \t]*$/ { name = $0 }
        /^\{/ { start = NR; fn = name }
        /^\}/ && start {
            n = NR - start + 1
            if (n > MAX) {
                sub(/\(.*/, "", fn); k = split(fn, w, /[ *]+/)
                printf "%s:%d: %s is %d lines, more than %d: split it\n", F, start, w[k], n, MAX
                bad = 1
            }
            start = 0
        }
        END { exit bad }' "$f" || bad=1
    done
done
exit $bad
