#!/bin/sh
# check_parts.sh ROOT [OBJ...] — ledger/ is floors, not one room (issue
# 67): each file belongs to a part (tools/ledger_parts.txt, the ground
# floor first) and a part reaches only its own files and the parts below:
#
#   1. every ledger/*.c and every part header is in the table;
#   2. a file, or a part header, includes no part header of a part above
#      its own;
#   3. with OBJ (ledger/'s objects): a file uses no function or table
#      that a file of a part above its own defines, and the parts' uses
#      of each other form no circle.
#
# Where a lower part must reach up (the intake under a transaction, the
# appliers under an append), the upper part registers a hook in a struct
# the lower one owns (handle_int.h's struct ldg_intake_hooks).
# One "FILE:LINE: what" per finding on stdout; exit 1 if any.
set -u
export LC_ALL=C
ROOT=$1
shift
cd "$ROOT" || exit 2
TABLE=tools/ledger_parts.txt
tmp=${TMPDIR:-/tmp}/parts.$$
trap 'rm -f "$tmp".*' EXIT
bad=0

# FLOOR PART, one line a part; FILE PART FLOOR, one line a file or header
awk '/^part / { sub(":", "", $2); n++; print n, $2 }' "$TABLE" > "$tmp.floor"
awk 'NR == FNR { floor[$2] = $1; next }
    /^#/ || NF == 0 { next }
    /^part / { p = $2; sub(":", "", p)
        for (i = 3; i <= NF; i++) print $i, p, floor[p]; next }
    { if (!($2 in floor)) { print "tools/ledger_parts.txt:" FNR ": no part " $2 > "/dev/stderr"; exit 3 }
      print $1, $2, floor[$2] }' "$tmp.floor" "$TABLE" > "$tmp.of" || exit 2

# 1. every file and part header has its part
for f in ledger/*.c ledger/*_int.h; do
    b=${f#ledger/}
    grep -q "^$b " "$tmp.of" ||
        { echo "$f:1: in no part of $TABLE"; bad=1; }
done

# 2. no include of a part header from below (in a file or a part header)
for f in ledger/*.c ledger/*.h; do
    b=${f#ledger/}
    grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"ledger/[^"]*"' "$f" |
        sed -E 's/^([0-9]*):.*"ledger\/([^"]*)".*/\1 \2/' |
        while read -r line h; do
            awk -v f="$f" -v b="$b" -v h="$h" -v line="$line" '
                $1 == b { fp = $2; ff = $3 } $1 == h { hp = $2; hf = $3 }
                END { if (fp != "" && hp != "" && hf > ff)
                    printf "%s:%s: includes ledger/%s of part %s, above its part %s\n",
                        f, line, h, hp, fp }' "$tmp.of"
        done
done > "$tmp.inc"
[ -s "$tmp.inc" ] && { cat "$tmp.inc"; bad=1; }

# 3. calls: SYMBOL OBJECT of every global a ledger/ object defines, and
# USER SYMBOL of every symbol one uses; an edge is USER DEF SYMBOL
if [ $# -gt 0 ]; then
    for o in "$@"; do
        nm -g --defined-only "$o" | awk -v o="${o##*/}" 'NF == 3 { print $3, o }'
    done | sort > "$tmp.def"
    for o in "$@"; do
        nm -u "$o" | awk -v o="${o##*/}" '{ print $NF, o }'
    done | sort > "$tmp.use"
    join "$tmp.use" "$tmp.def" | awk '$2 != $3 { print $2, $3, $1 }' |
        sort -u > "$tmp.edge"
    awk 'NR == FNR { part[$1] = $2; floor[$1] = $3; next }
        { u = $1; d = $2; sub(/\.o$/, ".c", u); sub(/\.o$/, ".c", d)
          if (!(u in part) || !(d in part)) next
          if (floor[d] > floor[u])
              printf "ledger/%s:1: uses %s of ledger/%s (part %s, above its part %s)\n",
                  u, $3, d, part[d], part[u]
          if (part[d] != part[u])
              print part[u], part[d] > "'"$tmp.pedge"'" }' \
        "$tmp.of" "$tmp.edge" > "$tmp.up"
    [ -s "$tmp.up" ] && { cat "$tmp.up"; bad=1; }
    # the parts among themselves: a circle is a finding too
    if [ -s "$tmp.pedge" ]; then
        sort -u "$tmp.pedge" | tsort > /dev/null 2> "$tmp.loop" ||
            { sed 's/^/ledger\/: parts call in a circle: /' "$tmp.loop"; bad=1; }
    fi
fi
exit $bad
