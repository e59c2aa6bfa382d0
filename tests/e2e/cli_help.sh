#!/bin/sh
# cli_help.sh — help for every command, generated from the option tables:
#   - `ledger help --commands` lists the commands; for each, `ledger CMD
#     --help`, `ledger CMD -h` and `ledger help CMD` print the same help on
#     stdout, nothing on stderr, exit 0, with a description, the options
#     and an example of that command;
#   - every option `help --options CMD` names is in the help, and every
#     --option an example uses exists; each short option (-S) exits as its
#     long one (--since) does with the same value;
#   - `ledger --help` and `ledger help` list every command;
#   - an unknown option, a missing value, an unknown command or help topic
#     exit 64 with a usage line on stderr and nothing on stdout;
#   - every example in every --help runs against a demo ledger
#     (lib/help_examples.sh says what counts as working).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
# No ledger is needed for help: point at one that does not exist.
export LEDGER_DIR="$T/none"

"$L" help --commands > "$T/cmds" || bad "help --commands exit $?"
# every option table is consistent (unique ids and names), and so is
# every command line library code runs or names (util/util.h's LDG_CMDS)
"$L" help --check 2>"$T/e" || bad "option tables: $(cat "$T/e")"
# ... which lists every LDG_CMD_ util.h defines
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
sed -n 's/^#define \(LDG_CMD_[A-Z_]*\) *\(\\\|"\).*/\1/p' "$ROOT/util/util.h" |
    grep -v '^LDG_CMD_ARGS_MAX$\|^LDG_CMD_TEXT_MAX$' | sort > "$T/defined"
sed -n 's/^ *X(\(LDG_CMD_[A-Z_]*\)) *\\\{0,1\}$/\1/p' "$ROOT/util/util.h" | sort > "$T/listed"
[ -s "$T/defined" ] && cmp -s "$T/defined" "$T/listed" ||
    bad "util.h: LDG_CMD_ entries not in LDG_CMDS: $(comm -23 "$T/defined" "$T/listed" | tr '\n' ' ')"
# ... and library code spells a command in a message only through them: a
# string literal naming `ledger CMD` (or "run ledger CMD") outside util.h
# would escape help --check when CMD is renamed
find "$ROOT" -path "$ROOT/cli" -prune -o -path "$ROOT/tests" -prune \
    -o -path "$ROOT/bench" -prune -o -path "$ROOT/build" -prune \
    -o -path "$ROOT/tools" -prune -o -name '*.[ch]' -print |
    grep -v '/util/util\.h$' | xargs grep -nE '^[^*]*"[^"]*(`|run )ledger [a-z]' \
    > "$T/spelled" 2>/dev/null
[ ! -s "$T/spelled" ] ||
    bad "library code names a command outside util.h's LDG_CMD_: $(cat "$T/spelled")"
# ... LDG_OPTS every LDG_OPT_ (the options library messages name alone)
sed -n 's/^#define \(LDG_OPT_[A-Z_]*\) *\(\\\|"\).*/\1/p' "$ROOT/util/util.h" |
    sort > "$T/defined"
sed -n 's/^ *X(\(LDG_OPT_[A-Z_]*\),.*/\1/p' "$ROOT/util/util.h" |
    sort > "$T/listed"
[ -s "$T/defined" ] && cmp -s "$T/defined" "$T/listed" ||
    bad "util.h: LDG_OPT_ entries not in LDG_OPTS: $(comm -23 "$T/defined" "$T/listed" | tr '\n' ' ')"
# ... and a message of library code names an option of the program only
# through them: a string literal holding "--name" outside util.h would
# escape help --check when the option is renamed, and so would a "-S" (other
# programs' options, tar's, nvidia-smi's, chgrp's, and the page's CSS
# variables are not ours; nor is strerror(-n) or a comment's "top -H")
find "$ROOT" -path "$ROOT/cli" -prune -o -path "$ROOT/tests" -prune \
    -o -path "$ROOT/bench" -prune -o -path "$ROOT/build" -prune \
    -o -path "$ROOT/tools" -prune -o -name '*.[ch]' -print |
    grep -v '/util/util\.h$' | xargs grep -nE '^[^*]*"([^"]*[^"A-Za-z0-9-])?--[a-z]' 2>/dev/null |
    grep -vE 'tar --zstd|--query-gpu=|--format=csv|var\(--|[{;]--[a-z]' \
    > "$T/spelled"
find "$ROOT" -path "$ROOT/cli" -prune -o -path "$ROOT/tests" -prune \
    -o -path "$ROOT/bench" -prune -o -path "$ROOT/build" -prune \
    -o -path "$ROOT/tools" -prune -o -name '*.[ch]' -print |
    grep -v '/util/util\.h$' |
    xargs grep -nE '^[^*]*"([^"]*[ (/])?-[A-Za-z]([ /),;]|")' 2>/dev/null |
    grep -vE 'chgrp -R|strerror\(-|top -H' >> "$T/spelled"
[ ! -s "$T/spelled" ] ||
    bad "library code names an option outside util.h's LDG_OPT_: $(cat "$T/spelled")"
# a renamed or removed option, command or subcommand is caught
for line in 'ledger verify --ful' 'ledger --dir DIR frob' 'ledger keys lst' \
    'ledger prune --policy -o json --archiv F'; do
    if "$L" help --check-line "$line" 2> "$T/e"; then
        bad "help --check-line passed '$line'"
    elif ! grep -q "^'$line': " "$T/e"; then
        bad "help --check-line '$line': $(cat "$T/e")"
    fi
done
"$L" help --check-line 'ledger --dir DIR prune --policy -o json --archive F' ||
    bad "help --check-line refused a good line"
n=$(wc -l < "$T/cmds")
[ "$n" -ge 24 ] || bad "help --commands lists $n commands"
"$L" --help > "$T/overview" 2> "$T/err"; rc=$?
[ $rc = 0 ] && [ ! -s "$T/err" ] || bad "--help: exit $rc, stderr $(cat "$T/err")"
"$L" help > "$T/overview2" || bad "help: exit $?"
cmp -s "$T/overview" "$T/overview2" || bad "'ledger help' and 'ledger --help' differ"

while read -r c; do
    "$L" "$c" --help > "$T/h1" 2> "$T/e1"; rc=$?
    [ $rc = 0 ] || bad "$c --help: exit $rc"
    [ -s "$T/e1" ] && bad "$c --help wrote to stderr: $(head -c 200 "$T/e1")"
    grep -q "^usage: ledger $c" "$T/h1" || bad "$c --help: no usage line"
    grep -q '^Examples:' "$T/h1" || bad "$c --help: no Examples section"
    sed -n '/^Examples:/,$p' "$T/h1" | grep -q "^  .*ledger $c\( \|$\)" ||
        bad "$c --help: no example of 'ledger $c'"
    # a description paragraph of at least ~2 lines after the usage
    desc=$(awk 'NR>1 && /^$/ {p++; next} p==1 {n++} END {print n+0}' "$T/h1")
    [ "$desc" -ge 1 ] || bad "$c --help: no description"
    "$L" "$c" -h > "$T/h2" 2>&1 || bad "$c -h: exit $?"
    cmp -s "$T/h1" "$T/h2" || bad "$c -h differs from $c --help"
    "$L" help "$c" > "$T/h3" 2>&1 || bad "help $c: exit $?"
    cmp -s "$T/h1" "$T/h3" || bad "help $c differs from $c --help"
    # every line fits 80 columns
    awk -v c="$c" 'length($0) > 80 {print "FAIL: " c " --help: line over 80 columns: " $0; exit 1}' "$T/h1" ||
        nfail=$((nfail + 1))
    # every option is documented, and the examples use real options
    "$L" help --options "$c" > "$T/opts" || bad "help --options $c: exit $?"
    while read -r o; do
        o=${o%=}
        case $o in
        --*) grep -q -- "$o\b" "$T/h1" || bad "$c --help does not show $o" ;;
        -?) grep -q -- "$o\(,\| \|$\)" "$T/h1" || bad "$c --help does not show $o" ;;
        esac
    done < "$T/opts"
    sed -n '/^Examples:/,$p' "$T/h1" | grep -v '^ *#' | tr ' ' '\n' |
        grep -- '^--' | sed 's/=.*//' | sort -u | while read -r o; do
        grep -qx -- "$o=\?" "$T/opts" || echo "FAIL: $c example uses $o, which $c does not take"
    done > "$T/exfail"
    [ -s "$T/exfail" ] && { cat "$T/exfail"; nfail=$((nfail + 1)); }
    grep -q "^  ledger $c\( \|$\)" "$T/overview" || bad "--help does not list $c"
    # usage errors: 64, usage on stderr, nothing on stdout
    "$L" "$c" --no-such-option > "$T/o" 2> "$T/e"; rc=$?
    [ $rc = 64 ] || bad "$c --no-such-option: exit $rc"
    [ -s "$T/o" ] && bad "$c --no-such-option wrote to stdout"
    grep -q "unknown option '--no-such-option'" "$T/e" ||
        bad "$c --no-such-option: error does not name it: $(cat "$T/e")"
    grep -q "^usage: ledger $c" "$T/e" || bad "$c --no-such-option: no usage line"
    # each short option is its long one (issue 46: `gates -S TIME` exited
    # 64 with the usage line while `--since TIME` worked): the same exit
    # with the same value, here without a ledger
    grep -E '^  -[a-zA-Z], --[a-z]' "$T/h1" | grep -v '^  -[ho], ' |
        sed 's/^  -\(.\), --\([a-z0-9-]*\)\( \([A-Z|]*\)\)\{0,1\}.*/\1 \2 \4/' |
        while read -r s long meta; do
            case $meta in
            '') v="" ;;
            *TIME*) v=yesterday ;;
            N | *SEQ*) v=1 ;;
            *) v=x ;;
            esac
            "$L" "$c" "-$s" ${v:+"$v"} </dev/null >/dev/null 2>"$T/es"
            r1=$?
            "$L" "$c" "--$long" ${v:+"$v"} </dev/null >/dev/null 2>"$T/el"
            r2=$?
            [ "$r1" = "$r2" ] ||
                echo "FAIL: $c -$s $v: exit $r1, --$long $v: exit $r2 ($(head -c 200 "$T/es"))"
        done >"$T/shortfail"
    [ -s "$T/shortfail" ] && { cat "$T/shortfail"; nfail=$((nfail + 1)); }
done < "$T/cmds"

# a value given to a flag names the flag, by its name or its prefix
for f in --full=1 --ful=1; do
    "$L" verify "$f" > "$T/o" 2> "$T/e"; rc=$?
    [ $rc = 64 ] && grep -q "option '--full' takes no value ('1' given)" "$T/e" ||
        bad "verify $f: exit $rc: $(cat "$T/e")"
done

# a missing value names the option
"$L" query -n > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && grep -q "option '-n' needs a value" "$T/e" ||
    bad "query -n: exit $rc: $(cat "$T/e")"
"$L" doctor --at > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && grep -q "option '--at' needs a value" "$T/e" ||
    bad "doctor --at: exit $rc: $(cat "$T/e")"
# an abbreviation that fits two options is ambiguous, one that fits one works
"$L" verify --f > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && grep -q "ambiguous option '--f' (--from or --full)" "$T/e" ||
    bad "verify --f: exit $rc: $(cat "$T/e")"
# a single-value option given twice is refused, by either spelling, and
# nothing runs (mirror --key A --key B once kept B silently); repeatable
# options (--trust, -g, --redact) and flags still repeat
for args in "mirror --key A --key B" "query -n 3 --lines 4" \
    "export --out $T/x.tar --name a --name=b" "doctor --at 3 --at=4"; do
    # shellcheck disable=SC2086
    "$L" $args > "$T/o" 2> "$T/e"; rc=$?
    [ $rc = 64 ] && [ ! -s "$T/o" ] && [ ! -e "$T/x.tar" ] &&
        grep -q "given more than once (it takes one value)" "$T/e" ||
        bad "$args: exit $rc: $(cat "$T/e")"
done
for args in "query -n 3" "query -g a -g b" "export --redact a --redact b" \
    "verify --full --full"; do
    # shellcheck disable=SC2086
    "$L" $args > "$T/o" 2> "$T/e"
    grep -q "given more than once" "$T/e" && bad "$args refused as repeated"
done
# unknown command and help topic
"$L" frobnicate > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && [ ! -s "$T/o" ] && grep -q "unknown command 'frobnicate'" "$T/e" ||
    bad "unknown command: exit $rc: $(cat "$T/e")"
"$L" help frobnicate > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && [ ! -s "$T/o" ] && grep -q "no command 'frobnicate'" "$T/e" ||
    bad "help frobnicate: exit $rc: $(cat "$T/e")"
# no command at all
"$L" > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 64 ] && [ ! -s "$T/o" ] && grep -q "usage: ledger" "$T/e" ||
    bad "no command: exit $rc"

# --version names the format, the features and the libraries
"$L" --version > "$T/v" 2> "$T/e"; rc=$?
[ $rc = 0 ] && [ ! -s "$T/e" ] || bad "--version: exit $rc"
for w in '^ledger [0-9]' 'ledger format [0-9]' 'bundle format [0-9]' \
    'features:' 'lmdb [0-9]' 'libsodium [0-9]' 'zstd [0-9]' 'jansson [0-9]' \
    'pcre2 [0-9]' 'libcurl [0-9]' 'libarchive [0-9]' 'witness server (libmicrohttpd)' \
    'serve (Unix socket)' 'libmicrohttpd [0-9]' 'ledger format 1 and 2'; do
    grep -q "$w" "$T/v" || bad "--version does not say '$w': $(cat "$T/v")"
done
# the one store layout it reads and appends to is the one `init` makes,
# and migrate converts the earlier ones to it; no option that is gone
# (init --format went with issue 49)
# (what init makes unasked, whatever LEDGER_LAYOUT asks for)
env -u LEDGER_LAYOUT "$L" --dir "$T/vl" init >/dev/null 2>&1
lay=$("$L" --dir "$T/vl" stats -o json 2>/dev/null | jq -r '.layout // empty')
tr '\n' ' ' < "$T/v" | grep -q "store layout ${lay:-X} (ledger migrate converts 1 to $((${lay:-1} - 1)) to it)" ||
    bad "--version does not name the layout init makes (${lay:-?}): $(cat "$T/v")"
grep -q -- '--format' "$T/v" && bad "--version names init --format, which is gone"

# every example of every command's --help runs (issue 29: the three
# `ledger append` examples exited 65)
. "$(dirname "$0")/lib/help_examples.sh"

[ $nfail = 0 ] || exit 1
echo "cli_help: $n commands, help and usage errors as documented, $nex examples run"
