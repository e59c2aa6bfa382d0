#!/bin/sh
# check_cli_calls.sh OBJ... — the program's files call one way (issue 47):
# main.o (the dispatcher) on top, the command files (cmd_*.o) below it,
# the shared helpers (every other file: cli.c, term.c, opt.c, view.c, ...)
# at the bottom. A command file never uses a function or table another
# command file defines (what two commands share goes down into a helper
# file or the library), a helper never uses one a command file or main.o
# defines, and the helpers' own uses of each other form no loop.
# One "FILE: uses SYMBOL of FILE" per finding on stdout; exit 1 if any.
set -u
export LC_ALL=C
[ $# -gt 0 ] || { echo "usage: check_cli_calls.sh cli/OBJ..." >&2; exit 2; }
tmp=${TMPDIR:-/tmp}/cli_calls.$$
trap 'rm -f "$tmp".*' EXIT
# SYMBOL OBJECT, for every global a cli/ object defines
for f in "$@"; do
    o=${f##*/}
    nm -g --defined-only "$f" | awk -v o="$o" 'NF == 3 { print $3, o }'
done | sort > "$tmp.def"
# USER SYMBOL, for every undefined symbol of a cli/ object
for f in "$@"; do
    o=${f##*/}
    nm -u "$f" | awk -v o="$o" '{ print $NF, o }'
done | sort > "$tmp.use"
join "$tmp.use" "$tmp.def" | awk '$2 != $3 { print $2, $3, $1 }' > "$tmp.edge"
bad=0
while read -r user def sym; do
    case $user in main.o) continue ;; esac
    case $user:$def in
    cmd_*:cmd_* | *:main.o | *:cmd_*)
        echo "cli/${user%.o}.c: uses $sym of cli/${def%.o}.c"
        bad=1 ;;
    esac
done < "$tmp.edge"
# the helpers among themselves: a loop is a finding too
awk '$1 != "main.o" && $1 !~ /^cmd_/ { print $1, $2 }' "$tmp.edge" |
    sort -u | tsort > /dev/null 2> "$tmp.loop" ||
    { sed 's/^/cli\/: helpers call in a loop: /' "$tmp.loop"; bad=1; }
exit $bad
