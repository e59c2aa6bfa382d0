#!/bin/sh
# core_layers.sh — one header per audience (issue 30), held as include
# rules by tools/check_layers.sh, and the check catches a breach put back:
#
#   1. the tree as it is passes, and the library's objects neither print
#      nor exit;
#   2. a copy of the tree with one breach at a time fails, naming the file
#      and line: a module including ledger/format.h, a core-private header
#      or <lmdb.h>; the program or a public header including
#      ledger/module.h; util/ or http/ including a header from above; the
#      doctor including retention/ or export/ (it reads the policy alone);
#      the verdict (verify/) including a module above it, or the core, the
#      projections or the doctor including the verdict;
#   3. an object that prints to stderr, archived with the library's, fails
#      naming the object;
#   4. the same words in a comment are not a breach;
#   5. the program's calls go one way (tools/check_cli_calls.sh): its
#      objects as built pass; a command file using another's function, a
#      helper using a command file's, and two helpers using each other
#      fail, naming them;
#   6. the program only speaks (tools/check_cli_verdicts.sh): the tree
#      and its objects as built pass; a cli/ file including a module's
#      internal header, an object calling a function that makes a
#      verdict's part (ldg_verify), and a verdict's part assigned to,
#      returned or decided with fail, naming the file and line; the same
#      parts printed or choosing what to print pass;
#   7. ledger/ is floors (tools/check_parts.sh, tools/ledger_parts.txt):
#      the tree and ledger/'s objects as built pass; a file including the
#      header of a part above its own, a part header including one of a
#      part above (the tree's tree_int.h the keys' keys_int.h), and a
#      file in no part, fail naming the file and line; a file using a function a part above defines
#      fails naming both, and the same call going down passes.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${LEDGER:?set LEDGER to the ledger binary}"
B=$(dirname "$LEDGER")
CC=${CC:-cc}
CHECK="sh $ROOT/tools/check_layers.sh"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/core_layers.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# 1. the tree itself, and the library as built
if [ -f "$B/libledger-int.a" ]; then
    if $CHECK "$ROOT" "$B/libledger-int.a" > "$T/out" 2>&1; then
        ok "the tree keeps its layers; $B/libledger-int.a neither prints nor exits"
    else
        cat "$T/out"
        bad "the tree breaks a layer rule"
    fi
else
    bad "no $B/libledger-int.a to look at"
fi

copy() {
    rm -rf "$T/tree"
    mkdir -p "$T/tree"
    (cd "$ROOT" && find . -path ./build -prune -o -path ./.git -prune -o \
        \( -name '*.c' -o -name '*.h' \) -print | tar -cf - -T -) |
        tar -xf - -C "$T/tree"
}

# 2. one breach at a time, at the end of a file
n=0
while IFS='|' read -r what file line; do
    n=$((n + 1))
    copy < /dev/null
    printf '%s\n' "$line" >> "$T/tree/$file"
    at=$(wc -l < "$T/tree/$file")
    if $CHECK "$T/tree" > "$T/out" 2>&1 < /dev/null; then
        bad "breach $n ($what) not caught"
    elif grep -q "^$file:$at: " "$T/out"; then
        ok "breach $n ($what) caught at $file:$at"
    else
        cat "$T/out"
        bad "breach $n ($what) failed the check without naming $file:$at"
    fi
done <<'BREACHES'
a module includes format.h|doctor/doctor.c|#include "ledger/format.h"
a module includes handle_int.h|query/render.c|#include "ledger/handle_int.h"
a module includes codec_int.h|export/write.c|#include "ledger/codec_int.h"
a module includes lmdb.h|projections/engine.c|#include <lmdb.h>
a module includes msgpack.h|serve/server.c|#include <msgpack.h>
the program includes module.h|cli/main.c|#include "ledger/module.h"
a public header includes module.h|query/query.h|#include "ledger/module.h"
a public header includes util.h|export/export.h|#include "util/util.h"
ledger.h includes util.h|ledger/ledger.h|#include "util/util.h"
util includes the core|util/buf.c|#include "ledger/ledger.h"
http includes a module|http/http.c|#include "ledger/module.h"
the doctor includes retention|doctor/doctor.c|#include "retention/retention.h"
the doctor includes the bundle writer|doctor/verify_new.c|#include "export/export.h"
the verdict includes the server|verify/verify.c|#include "serve/serve.h"
the core reaches up to the verdict|ledger/verify.c|#include "verify/verify.h"
the projections reach up to the verdict|projections/engine.c|#include "verify/verify.h"
BREACHES

# 3. a library object that prints
cat > "$T/noisy.c" <<'C'
#include <stdio.h>
void noisy_(void);
void noisy_(void) { fprintf(stderr, "hello\n"); }
C
if $CC -c -o "$T/noisy.o" "$T/noisy.c" && cp "$B/libledger-int.a" "$T/lib.a" &&
    ar rcs "$T/lib.a" "$T/noisy.o"; then
    if $CHECK "$ROOT" "$T/lib.a" > "$T/out" 2>&1; then
        bad "an object that prints to stderr not caught"
    elif grep -q '^noisy.o: refers to stderr' "$T/out"; then
        ok "an object that prints caught: $(head -n 1 "$T/out")"
    else
        cat "$T/out"
        bad "the printing object failed the check without naming noisy.o"
    fi
else
    bad "could not build the printing object"
fi

# 4. words in comments are not breaches
copy
printf '/* #include "ledger/format.h" */\n// #include <lmdb.h>\n' \
    >> "$T/tree/doctor/doctor.c"
if $CHECK "$T/tree" > "$T/out" 2>&1; then
    ok "the same words in comments pass"
else
    cat "$T/out"
    bad "a comment was taken for a breach"
fi

# 5. cli/'s calls: main on top, commands, helpers at the bottom
CALLS="sh $ROOT/tools/check_cli_calls.sh"
objs=$(for o in "$B"/obj/cli/*.o; do # (not a removed file's)
    [ -f "$ROOT/cli/$(basename "$o" .o).c" ] && echo "$o"; done)
# shellcheck disable=SC2086
if [ -n "$objs" ] && $CALLS $objs > "$T/out" 2>&1; then
    ok "the program's files call one way"
else
    cat "$T/out"
    bad "the program's files do not call one way (or no $B/obj/cli)"
fi
mkdir -p "$T/cli"
# one object: FILE FUNCTION-IT-DEFINES [FUNCTION-IT-CALLS]
obj() {
    {
        printf 'int %s(void);\nint %s(void) { return 0; }\n' "$2" "$2"
        if [ -n "${3:-}" ]; then
            printf 'int %s(void);\nint u_%s(void) { return %s(); }\n' \
                "$3" "$2" "$3"
        fi
    } > "$T/cli/$1.c" && $CC -c -o "$T/cli/$1.o" "$T/cli/$1.c"
}
# name | objects (FILE:DEFINES[:CALLS] ...) | what the finding names
while IFS='|' read -r name objs want; do
    rm -f "$T"/cli/*.o
    for o in $objs; do
        IFS=: read -r f d u <<EOF2
$o
EOF2
        obj "$f" "$d" "$u" || bad "could not build $f"
    done
    if $CALLS "$T"/cli/*.o > "$T/out" 2>&1; then
        bad "$name not caught"
    elif grep -q "$want" "$T/out"; then
        ok "$name caught: $(head -n 1 "$T/out")"
    else
        cat "$T/out"
        bad "$name failed without naming it ($want)"
    fi
done <<'CASES'
a command using another's|main:m:cmd_a cmd_a:cmd_a:b_fn cmd_b:b_fn|cli/cmd_a.c: uses b_fn of cli/cmd_b.c
a helper using a command's|main:m:cmd_a cmd_a:cmd_a:h_fn help:h_fn:cmd_a|cli/help.c: uses cmd_a of cli/cmd_a.c
a helper using main's|main:m help:h_fn:m|cli/help.c: uses m of cli/main.c
two helpers in a loop|h1:f1:f2 h2:f2:f1|helpers call in a loop
CASES
# and the same shape going down passes
rm -f "$T"/cli/*.o
obj main m cmd_a && obj cmd_a cmd_a h_fn && obj h1 h_fn f2 && obj h2 f2 &&
    if $CALLS "$T"/cli/*.o > "$T/out" 2>&1; then
        ok "calls going down pass"
    else
        cat "$T/out"
        bad "calls going down were taken for a breach"
    fi

# 6. verdicts: decided in the library, printed by the program
VERD="sh $ROOT/tools/check_cli_verdicts.sh"
objs=$(for o in "$B"/obj/cli/*.o; do
    [ -f "$ROOT/cli/$(basename "$o" .o).c" ] && echo "$o"; done)
# shellcheck disable=SC2086
if $VERD "$ROOT" $objs > "$T/out" 2>&1; then
    ok "the program prints the verdicts the library gives"
else
    cat "$T/out"
    bad "the program composes a verdict"
fi
verd_case() { # name | the file's text | what the finding names
    if $VERD "$T/tree" "$@" > "$T/out" 2>&1; then
        bad "$name not caught"
    elif grep -q "$want" "$T/out"; then
        ok "$name caught: $(head -n 1 "$T/out")"
    else
        cat "$T/out"
        bad "$name failed without naming it ($want)"
    fi
}
copy
printf '#include "query/query_int.h"\n' >> "$T/tree/cli/cmd_stats.c"
at=$(wc -l < "$T/tree/cli/cmd_stats.c")
name="a cli/ file including a module's internals"
want="^cli/cmd_stats.c:$at: includes \"query/query_int.h\""
verd_case
copy
printf 'int ldg_verify(void);\nint cmd_x(void);\nint cmd_x(void) { return ldg_verify(); }\n' \
    > "$T/cmd_x.c" && $CC -c -o "$T/cmd_x.o" "$T/cmd_x.c" ||
    bad "could not build cmd_x.o"
name="an object asking ldg_verify for a part"
want="^cli/cmd_x.c: calls ldg_verify,"
verd_case "$T/cmd_x.o"
for breach in \
    'a part assigned|    w->failed = LDG_VERDICT_NONE;|assigns to a part' \
    'a part returned|    return w->proj_ndiff == 0 ? 0 : 1;|returns a part' \
    'a part decided with|    n = w->proj_ndiff > 0;|decides with a part'; do
    copy
    name=${breach%%|*}
    rest=${breach#*|}
    want=${rest#*|}
    {
        printf 'static int vx(const struct ldg_verdict *w);\n'
        printf 'static int\nvx(const struct ldg_verdict *w)\n{\n    int n = 0;\n'
        printf '%s\n' "${rest%%|*}"
        printf '    return n;\n}\n'
    } >> "$T/tree/cli/cmd_verify.c"
    at=$(($(wc -l < "$T/tree/cli/cmd_verify.c") - 2))
    want="^cli/cmd_verify.c:$at: $want"
    verd_case
done
copy
{
    printf 'static void vy(struct cli *c, const struct ldg_verdict *w);\n'
    printf 'static void\nvy(struct cli *c, const struct ldg_verdict *w)\n{\n'
    printf '    if (w->failed == LDG_VERDICT_LOG)\n'
    printf '        cli_err(c, "FAILED: %%s", w->what);\n}\n'
} >> "$T/tree/cli/cmd_verify.c"
if $VERD "$T/tree" > "$T/out" 2>&1; then
    ok "a part printed, and choosing what to print, pass"
else
    cat "$T/out"
    bad "printing a part was taken for a breach"
fi


# 7. ledger/'s floors
PARTS="sh $ROOT/tools/check_parts.sh"
lobjs=$(for o in "$B"/obj/ledger/*.o; do # (not a removed file's)
    [ -f "$ROOT/ledger/$(basename "$o" .o).c" ] && echo "$o"; done)
# shellcheck disable=SC2086
if [ -n "$lobjs" ] && $PARTS "$ROOT" $lobjs > "$T/out" 2>&1; then
    ok "ledger/'s parts call and include downward only"
else
    cat "$T/out"
    bad "ledger/'s parts do not keep their floors (or no $B/obj/ledger)"
fi
partcopy() {
    copy
    mkdir -p "$T/tree/tools" && cp "$ROOT/tools/ledger_parts.txt" "$T/tree/tools/"
}
# parts_breach WHAT FILE WANT: the copy fails, WANT its first finding
parts_breach() {
    if $PARTS "$T/tree" > "$T/out" 2>&1; then
        bad "$1 not caught"
    elif grep -q "^$2" "$T/out"; then
        ok "$1 caught: $(head -n 1 "$T/out")"
    else
        cat "$T/out"
        bad "$1 failed without naming ${2%%:*}"
    fi
}
partcopy
printf '#include "ledger/segment_int.h"\n' >> "$T/tree/ledger/read.c"
at=$(wc -l < "$T/tree/ledger/read.c")
parts_breach "an include from below" \
    "ledger/read.c:$at: includes ledger/segment_int.h of part segment"
partcopy
printf '#include "ledger/keys_int.h"\n' >> "$T/tree/ledger/tree_int.h"
at=$(wc -l < "$T/tree/ledger/tree_int.h")
parts_breach "a part header including one above" \
    "ledger/tree_int.h:$at: includes ledger/keys_int.h of part keys"
partcopy
printf 'int zz_fn(void);\n' > "$T/tree/ledger/zz_new.c"
parts_breach "a file in no part" "ledger/zz_new.c:1: in no part"
# tree.o (part tree) and verify.o (part verify, above it)
mkdir -p "$T/ledger"
pobj() {
    {
        printf 'int %s(void);\nint %s(void) { return 0; }\n' "$2" "$2"
        printf 'int %s(void);\nint u_%s(void) { return %s(); }\n' "$3" "$2" "$3"
    } > "$T/ledger/$1.c" && $CC -c -o "$T/ledger/$1.o" "$T/ledger/$1.c"
}
rm -f "$T"/ledger/*.o
if pobj tree t_fn v_fn && pobj verify v_fn x_fn; then
    if $PARTS "$ROOT" "$T"/ledger/*.o > "$T/out" 2>&1; then
        bad "the tree calling verification not caught"
    elif grep -q "^ledger/tree.c:1: uses v_fn of ledger/verify.c (part verify, above its part tree)" "$T/out"; then
        ok "a call up caught: $(head -n 1 "$T/out")"
    else
        cat "$T/out"
        bad "the call up failed without naming it"
    fi
else
    bad "could not build the objects of a call up"
fi
rm -f "$T"/ledger/*.o
if pobj tree t_fn x_fn && pobj verify v_fn t_fn; then
    if $PARTS "$ROOT" "$T"/ledger/*.o > "$T/out" 2>&1; then
        ok "a call going down passes"
    else
        cat "$T/out"
        bad "a call going down was taken for a breach"
    fi
else
    bad "could not build the objects of a call down"
fi

[ "$fails" -eq 0 ] || { echo "core_layers: $fails failed"; exit 1; }
echo "core_layers: all passed"
