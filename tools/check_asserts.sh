#!/bin/sh
# check_asserts.sh [ROOT] — the library states its invariants (issue 67):
# every library module of more than 1,000 code lines holds at least
# MIN_PER_K (2) uses of LDG_ASSERT, LDG_ALWAYS or LDG_NEVER per 1,000, and
# so does the library as a whole. Code lines are the non-blank lines of a
# module's .c files outside comments; generated files (*.pb-c.c, or a
# first line saying "DO NOT EDIT") are left out, as are cli/ and tests/.
# One "module: lines, asserts, per 1,000" line a module on stdout, then a
# "FAIL module: ..." line for each one below the floor; exit 1 if any.
ROOT=${1:-.}
MIN_PER_K=${MIN_PER_K:-2}
MODULES=${MODULES:-"ledger projections ingest query export doctor evals serve otlp http util verify metrics fleet retention sensors pipeline proxy"}
bad=0
report=
for m in $MODULES; do
    files=
    for f in "$ROOT/$m"/*.c; do
        [ -f "$f" ] || continue
        case $f in *.pb-c.c) continue ;; esac
        head -n 1 "$f" | grep -q 'DO NOT EDIT' && continue
        files="$files $f"
    done
    [ -n "$files" ] || continue
    # shellcheck disable=SC2086
    set -- $(awk '
    {
        line = $0; code = ""
        while (line != "") {
            if (inc) {
                i = index(line, "*/")
                if (!i) { line = ""; break }
                line = substr(line, i + 2); inc = 0
                continue
            }
            a = index(line, "/*"); b = index(line, "//")
            if (b && (!a || b < a)) { code = code substr(line, 1, b - 1); line = "" }
            else if (a) { code = code substr(line, 1, a - 1); line = substr(line, a + 2); inc = 1 }
            else { code = code line; line = "" }
        }
        if (code ~ /[^ \t]/) {
            n++
            s = code
            while (match(s, /LDG_(ASSERT|ALWAYS|NEVER)\(/)) { k++; s = substr(s, RSTART + RLENGTH) }
        }
    }
    END { printf "%d %d\n", n, k + 0 }' $files)
    lines=$1 asserts=$2
    total_lines=$((${total_lines:-0} + lines))
    total_asserts=$((${total_asserts:-0} + asserts))
    per=$(awk -v a="$asserts" -v l="$lines" 'BEGIN { printf "%.2f", l ? a * 1000 / l : 0 }')
    printf '%-12s %6d lines %4d asserts %5s per 1,000\n' "$m" "$lines" "$asserts" "$per"
    if [ "$lines" -gt 1000 ] && [ $((asserts * 1000)) -lt $((lines * MIN_PER_K)) ]; then
        report="$report
FAIL $m: $asserts asserts in $lines lines, fewer than $MIN_PER_K per 1,000 (need $(((lines * MIN_PER_K + 999) / 1000)))"
        bad=1
    fi
done
per=$(awk -v a="$total_asserts" -v l="$total_lines" 'BEGIN { printf "%.2f", l ? a * 1000 / l : 0 }')
printf '%-12s %6d lines %4d asserts %5s per 1,000\n' "library" "$total_lines" "$total_asserts" "$per"
if [ $((total_asserts * 1000)) -lt $((total_lines * MIN_PER_K)) ]; then
    report="$report
FAIL library: $total_asserts asserts in $total_lines lines, fewer than $MIN_PER_K per 1,000 (need $(((total_lines * MIN_PER_K + 999) / 1000)))"
    bad=1
fi
[ -z "$report" ] || printf '%s\n' "$report" | sed 1d
exit $bad
