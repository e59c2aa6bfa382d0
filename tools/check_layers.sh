#!/bin/sh
# check_layers.sh ROOT [LIB] — the header structure, as rules on what
# includes what (issue 30), and a library that never prints or exits.
#
#   1. ledger/format.h and the core's private headers (ledger/*_int.h:
#      each part's own, tools/ledger_parts.txt, whose floors
#      tools/check_parts.sh holds) are included only by ledger/
#      and the tests;
#   2. <lmdb.h> and <msgpack.h> only by ledger/ (and the tests' own LMDB
#      tools, test_prune_steps.c's LMDB with a small limit of changes a
#      transaction holds, and fuzz_horizon's check of canonical form
#      against msgpack-c): no other module knows how the bytes are kept;
#   3. ledger/module.h (the modules' interface) and the part interfaces it
#      includes (ledger/module_*.h) by no public header and
#      not by the program (cli/), which is built on the public API alone;
#   4. a public header (ledger/ledger.h, util/error.h, M/M.h of the other
#      modules) includes only public headers;
#   5. util/ and http/ include nothing from above them (util/ only util/,
#      http/ only util/ and http/);
#   6. doctor/ reads the ledger, the projections and the retention policy
#      (policy/), nothing else: not the bundle writer (export/) nor what
#      writes archives (retention/);
#   7. verify/ (the whole verdict, verify/verify.h) sits above the core,
#      the projections and the doctor and reads only them: it includes
#      util/, ledger/, projections/, doctor/ and its own; and none of
#      those three includes it (the core never reaches up for a verdict);
#   8. with LIB (an archive of the library's objects): no object of the
#      library refers to stdout, stderr, printf, puts, perror, exit,
#      _exit, err or warn: the library reports, the program prints
#      (but isolate.o's child and spawn.o's runner and jobs, forks of
#      their own that end with _exit).
#
# One "FILE:LINE: what" per finding on stdout; exit 1 if any.
set -u
ROOT=$1
LIB=${2:-}
cd "$ROOT" || exit 2
bad=0
say() { printf '%s\n' "$1"; bad=1; }

# the includes of the project's C files: FILE:LINE:HEADER, with HEADER
# as written: "dir/x.h" for the project's own, <x.h> for the system's
incs() {
    grep -Hn -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*[>"]' \
        "$@" 2>/dev/null |
        sed -E 's/^([^:]*):([0-9]*):[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]*[>"]).*/\1:\2:\3/'
}

srcs=$(find . -path ./build -prune -o -path ./.git -prune -o \
    \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
public="ledger/ledger.h ledger/events.h util/error.h"
for h in */*.h; do
    m=${h%%/*}
    case $m in ledger | util | cli | tests | bench) continue ;; esac
    [ "$h" = "$m/$m.h" ] && public="$public $h"
done

# shellcheck disable=SC2086
incs $srcs > "${TMPDIR:-/tmp}/layers.$$"
while IFS=: read -r f line h; do
    case $f:$h in
    ledger/*:'"verify/'* | projections/*:'"verify/'* | doctor/*:'"verify/'*)
        say "$f:$line: includes $h: the verdict sits above ${f%%/*}/" ;;
    esac
    case $f in
    ledger/*) continue ;;
    esac
    case $h in
    '"ledger/format.h"' | '"ledger/'*'_int.h"')
        # the unit tests and the benchmarks reach internals (they link
        # libledger-int.a, the Makefile says); nothing else does
        case $f in tests/* | bench/*) ;; *)
            say "$f:$line: includes $h, private to ledger/" ;; esac ;;
    '<lmdb.h>' | '<msgpack.h>')
        case $f in tests/faults/* | tests/e2e/lib/* | bench/append_floor.c | \
            tests/fuzz/fuzz_horizon.c | tests/retention/test_prune_steps.c) ;;
        *) say "$f:$line: includes $h: only ledger/ keeps the bytes" ;;
        esac ;;
    esac
    case $f:$h in
    cli/*:'"ledger/module.h"' | cli/*:'"ledger/module_'*'.h"')
        hn=${h#\"}; say "$f:$line: the program includes ${hn%\"}: use the public API" ;;
    util/*:'"'*)
        case $h in '"util/'*) ;; *)
            say "$f:$line: util/ includes $h, from above it" ;; esac ;;
    http/*:'"'*)
        case $h in '"util/'* | '"http/'*) ;; *)
            say "$f:$line: http/ includes $h, from above it" ;; esac ;;
    doctor/*:'"'*)
        case $h in '"util/'* | '"ledger/'* | '"doctor/'* | '"policy/'* | \
            '"projections/'*) ;; *)
            say "$f:$line: the doctor includes $h: it reads the ledger, the projections and the policy" ;; esac ;;
    verify/*:'"'*)
        case $h in '"util/'* | '"ledger/'* | '"projections/'* | '"doctor/'* | \
            '"verify/'*) ;; *)
            say "$f:$line: the verdict includes $h: it reads the ledger, the projections and the doctor" ;; esac ;;
    esac
    for p in $public; do
        [ "$f" = "$p" ] || continue
        case $h in '"'*)
            case " $public " in *" $(echo "$h" | tr -d '"') "*) ;; *)
                say "$f:$line: a public header includes $h, which is not public" ;;
            esac ;;
        esac
    done
done < "${TMPDIR:-/tmp}/layers.$$"
rm -f "${TMPDIR:-/tmp}/layers.$$"
# ledger/'s own public header, too
incs ledger/ledger.h | while IFS=: read -r f line h; do
    case $h in '"'*) [ "$h" = '"util/error.h"' ] ||
        [ "$h" = '"ledger/events.h"' ] ||
        echo "$f:$line: a public header includes $h, which is not public" ;;
    esac
done | grep . && bad=1

if [ -n "$LIB" ]; then
    nm -A "$LIB" 2>/dev/null |
        grep -E ' U (stdout|stderr|printf|vprintf|puts|putchar|perror|exit|_exit|err|errx|warn|warnx)$' |
        sed -E 's/^[^:]*:([^:]*):.* U (.*)$/\1: refers to \2: the library must not print or exit/' |
        grep -v '^isolate\.o: refers to _exit:\|^spawn\.o: refers to _exit:' |
        sort -u | grep . && bad=1
fi
exit $bad
