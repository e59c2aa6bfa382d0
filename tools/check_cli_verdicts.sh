#!/bin/sh
# check_cli_verdicts.sh ROOT [OBJ...] — the program only speaks (issue 67):
# the library decides every verdict, cli/ prints it. Three rules, each a
# finding "FILE:LINE: what" (or "FILE: what") on stdout; exit 1 if any.
#
#   1. Includes. A cli/ file includes, of the project's headers, only the
#      public ones (the installed API: ledger/ledger.h, ledger/events.h,
#      util/error.h and each other module's M/M.h), util/util.h (the
#      plumbing the program links its own copy of) and cli/'s own: never
#      a module's internals (M/*_int.h, ledger/module.h, ledger/format.h,
#      a module's second header).
#
#   2. The parts of a verdict are asked of the library whole. The cli/
#      objects (OBJ..., when given) refer to none of the functions whose
#      results the library composes into a verdict: ldg_verify,
#      ldg_verify_isolated, ldg_verify_trusted, ldg_cosig_count,
#      ldg_verify_record, ldg_verify_record_dir, ldg_verify_state,
#      ldg_projections_check_stored and ldg_doctor_verify_new (the verdict
#      of `ledger verify`: ldg_verify_full; a standing finding:
#      ldg_query_finding; the evidence box: ldg_page_evidence_*), and
#      ldg_metrics_catch_up (a prune keeps its counts itself).
#
#   3. A verdict's parts are read only to be printed. A verdict is a
#      struct ldg_verdict (verify/verify.h); its parts are the members
#      declared after its "Out." comment. In cli/*.c, a variable or member
#      declared as struct ldg_verdict (or a pointer to one) is a verdict
#      name; a line that names a part through one (NAME.PART or
#      NAME->PART) must not
#        a. assign to it or step it (=, op=, ++, --): the verdict is the
#           library's;
#        b. be a return statement: the exit code comes from the code
#           ldg_verify_full returned (cli_exit_code), not from its parts;
#        c. be an assignment to a plain variable (NAME = ..., NAME op=
#           ...) unless what is assigned is built by a call of json_* or
#           cli_* (the output being printed).
#      Conditions (if, ?:) that choose what to print, and the arguments of
#      the calls that print, may name them. The check is by line, as
#      clang-format lays the code out: the line that names the part.
set -u
export LC_ALL=C
ROOT=${1:?usage: check_cli_verdicts.sh ROOT [OBJ...]}
shift
cd "$ROOT" || exit 2
bad=0
say() { printf '%s\n' "$1"; bad=1; }

# 1. includes
public="ledger/ledger.h ledger/events.h util/error.h util/util.h"
for h in */*.h; do
    m=${h%%/*}
    case $m in ledger | util | cli | tests | bench) continue ;; esac
    [ "$h" = "$m/$m.h" ] && public="$public $h"
done
for f in cli/*.c cli/*.h; do
    [ -f "$f" ] || continue
    grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' "$f" |
        sed -E 's/^([0-9]*):[^"]*"([^"]*)".*/\1 \2/' |
        while read -r line h; do
            case $h in cli/*) continue ;; esac
            case " $public " in *" $h "*) continue ;; esac
            echo "$f:$line: includes \"$h\", not a public header: the program is built on the API"
        done
done | grep . && bad=1

# 2. the functions that make a verdict's parts
PARTS="ldg_verify ldg_verify_isolated ldg_verify_trusted ldg_cosig_count
ldg_verify_record ldg_verify_record_dir ldg_verify_state
ldg_projections_check_stored ldg_doctor_verify_new ldg_metrics_catch_up"
for o in "$@"; do
    for s in $(nm -u "$o" 2>/dev/null | awk '{ print $NF }'); do
        for p in $PARTS; do
            [ "$s" = "$p" ] &&
                say "cli/$(basename "$o" .o).c: calls $s, a part of a verdict the library gives whole"
        done
    done
done

# 3. a verdict's parts, read only to be printed
outs=$(awk '/^struct ldg_verdict \{/ { in_s = 1; next }
    in_s && /^\};/ { exit }
    in_s && /\/\* Out\. \*\// { out = 1; next }
    in_s && out && /^[[:space:]]+[a-z].*;/ {
        s = $0; sub(/;.*/, "", s); sub(/\[.*/, "", s)
        n = split(s, w, /[ *]+/); print w[n] }' verify/verify.h |
    tr '\n' '|' | sed 's/|$//')
[ -n "$outs" ] || { say "verify/verify.h: no parts found in struct ldg_verdict"; outs=none; }
for f in cli/*.c; do
    names=$(grep -o -E 'struct ldg_verdict[[:space:]]*\*?[[:space:]]*[a-z_][a-z0-9_]*' "$f" |
        sed -E 's/.*[ *]//' | sort -u | tr '\n' '|' | sed 's/|$//')
    [ -n "$names" ] || continue
    awk -v f="$f" -v names="$names" -v outs="$outs" '
    BEGIN { acc = "(^|[^A-Za-z0-9_])(" names ")(\\.|->)(" outs ")([^A-Za-z0-9_]|$)" }
    # comments and strings say nothing
    { line = $0; gsub(/"([^"\\]|\\.)*"/, "\"\"", line); sub(/\/\/.*/, "", line)
      if (line ~ /^[[:space:]]*(\/?\*)/) next }
    line ~ acc {
        why = ""
        t = line
        if (match(t, "(" names ")(\\.|->)(" outs ")([.\\[][^ ;,)]*)?[[:space:]]*([-+*/|&^]?=[^=]|\\+\\+|--)"))
            why = "assigns to a part of the verdict"
        else if (t ~ /(^|[^A-Za-z0-9_])return([^A-Za-z0-9_]|$)/)
            why = "returns a part of the verdict (the exit code is the code ldg_verify_full returned)"
        else if (t ~ /^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*[-+*\/|&]?=[^=]/ &&
                 t !~ /^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=[[:space:]]*(json_|cli_)/)
            why = "decides with a part of the verdict (assigned to a variable, not printed)"
        if (why != "") { printf "%s:%d: %s\n", f, NR, why; found = 1 }
    }
    END { exit found }' "$f" || bad=1
done
exit $bad
