#!/bin/sh
# cli_manners.sh — command-line manners every command shares:
#   - a reader that goes away (`ledger runs | head -1`) ends the output
#     with exit 0, for every command that prints data;
#   - numbers are labelled ("seq 33", "seq 5: key alice (id ...) added;
#     anchored at event 6, ..."),
#     -q prints the bare value, -o json the {"seq":"N"} object;
#   - on a terminal (util-linux `script` gives one): `append` with no body
#     says it is reading the terminal, `show --raw` refuses binary;
#   - the pager ($PAGER, LESS=FRX) and colour only on a terminal, off with
#     --no-pager, NO_COLOR, --color=never; --color=always forces colour;
#   - an empty file or directory name ('') is a usage error, 64, naming
#     the option.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
export LEDGER_DIR="$T/d"
"$L" init >/dev/null || exit 1
"$L" ingest examples/pdf-ops.jsonl 2>/dev/null || exit 1

# ------------------------------------------------------------ SIGPIPE --
run=$("$L" runs -o json | head -1 | sed -n 's/.*"run":"\([^"]*\)".*/\1/p')
[ -n "$run" ] || bad "no run in the example ledger"
for cmd in runs packs models routes promotions permissions projections \
    stats "keys list" "show 3" "query" "timeline $run" "runs $run" \
    "checkpoint" "proof 3" "help" "query --help"; do
    for reader in "head -1" "head -c 0"; do
        # shellcheck disable=SC2086
        { "$L" $cmd 2>"$T/err"; echo $? >"$T/rc"; } | $reader >/dev/null
        rc=$(cat "$T/rc")
        [ "$rc" = 0 ] || bad "ledger $cmd | $reader: exit $rc ($(cat "$T/err"))"
        # (an empty list's note is the answer, not an error: promotions)
        grep -v "^ledger ${cmd%% *}: no $cmd recorded in this ledger ([0-9]* events)$" \
            "$T/err" >"$T/err2"
        [ -s "$T/err2" ] && bad "ledger $cmd | $reader: stderr $(cat "$T/err")"
    done
done
# doctor's exit code is its verdict, with or without a reader
"$L" doctor >/dev/null 2>&1; want=$?
{ "$L" doctor 2>/dev/null; echo $? >"$T/rc"; } | head -c 0
[ "$(cat "$T/rc")" = "$want" ] || bad "doctor | head: exit $(cat "$T/rc"), want $want"
# a full disk is still an error
if [ -w /dev/full ]; then
    "$L" stats >/dev/full 2>"$T/err"; rc=$?
    [ $rc = 74 ] && grep -q 'No space left' "$T/err" ||
        bad "stats >/dev/full: exit $rc ($(cat "$T/err"))"
fi

# ---------------------------------------------------- labelled numbers --
out=$("$L" append x.manners --body '{}')
echo "$out" | grep -qx 'seq [0-9][0-9]*' || bad "append prints '$out', not 'seq N'"
n=$("$L" append -q x.manners --body '{}')
echo "$n" | grep -qx '[0-9][0-9]*' || bad "append -q prints '$n'"
[ "$n" = $((${out#seq } + 1)) ] || bad "append -q: $n after $out"
"$L" append x.manners --body '{}' -o json | grep -qx '{"seq":"[0-9]*"}' ||
    bad "append -o json"
# the types append's help gives as examples are types append knows (its
# help once named model.loaded, which append refused as unknown)
types=$("$L" append --help | sed -n 's/^ *TYPE *the event type, e\.g\. //p' |
    tr -d ',')
[ -n "$types" ] || bad "append --help names no example type"
for t in $types; do
    "$L" append --body '{}' "$t" >/dev/null 2>"$T/err"
    grep -q 'unknown event type' "$T/err" &&
        bad "append --help's example $t is refused: $(cat "$T/err")"
done
# the log key is anchored (init's default), so keys add anchors alice at
# once, in the next event, and says so
out=$("$L" keys add alice)
echo "$out" | grep -qx 'seq [0-9]*: key alice (id [0-9a-f]\{16\}) added; anchored at event [0-9]*, epoch keys of 60 s' ||
    bad "keys add prints '$out'"
k=${out%%:*}; k=${k#seq }; a=${out#*anchored at event }; a=${a%%,*}
[ "$a" = $((k + 1)) ] || bad "keys add: anchored at event $a, added at $k"
id=$(echo "$out" | sed 's/.*(id \([0-9a-f]*\)).*/\1/')
"$L" keys list | grep -q "^alice  *$id " || bad "keys add named id $id, keys list does not"
out=$("$L" erase "$n" --reason test)
echo "$out" | grep -qx "seq [0-9]*: body of event $n erased" ||
    bad "erase prints '$out'"
n2=$("$L" keys revoke alice --reason test -q)
echo "$n2" | grep -qx '[0-9][0-9]*' || bad "keys revoke -q prints '$n2'"

# ------------------------------------------------------------ terminals --
if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    timeout 20 script -qec "'$L' append x.manners" /dev/null </dev/null \
        >"$T/tty" 2>&1; rc=$?
    grep -q 'reading the body from the terminal' "$T/tty" ||
        bad "append on a terminal does not say it reads the terminal: $(cat "$T/tty")"
    [ $rc = 65 ] || bad "append of an empty terminal body: exit $rc"
    # a body from a file, run on a terminal, does not read the terminal
    printf '{"k":1}' >"$T/body.json"
    timeout 20 script -qec "'$L' append x.manners --body-file '$T/body.json'" \
        /dev/null </dev/null >"$T/tty" 2>&1; rc=$?
    [ $rc = 0 ] || bad "append --body-file on a terminal: exit $rc: $(cat "$T/tty")"
    grep -q 'reading the body from the terminal' "$T/tty" &&
        bad "append --body-file on a terminal says it reads the terminal"
    timeout 20 script -qec "'$L' show 1 --raw" /dev/null </dev/null \
        >"$T/tty" 2>&1; rc=$?
    [ $rc = 64 ] && grep -q 'refusing to write it to a terminal' "$T/tty" ||
        bad "show --raw to a terminal: exit $rc: $(cat "$T/tty")"
    # not a terminal: raw bytes flow
    "$L" show 1 --raw >"$T/raw" || bad "show --raw to a file: exit $?"
    [ -s "$T/raw" ] || bad "show --raw to a file wrote nothing"
else
    echo "SKIP: no util-linux script(1) for the terminal checks"
fi

# ------------------------------------------------------- pager, colour --
esc=$(printf '\033')
PAGER="env > '$T/pager.env'; cat > '$T/paged'"
export PAGER
"$L" doctor >"$T/o" 2>&1
[ -e "$T/paged" ] && bad "the pager ran with stdout not a terminal"
grep -q "$esc" "$T/o" && bad "colour with stdout not a terminal"
"$L" doctor --color=always >"$T/o" 2>&1
grep -q "$esc\[1;31mFAIL" "$T/o" || bad "--color=always: no red FAIL"
"$L" help >/dev/null; [ -e "$T/paged" ] && bad "help paged to a pipe"
"$L" verify-bundle /dev/null >/dev/null 2>"$T/e"
grep -q "$esc" "$T/e" && bad "colour on stderr that is not a terminal"
if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    # A colour terminal whatever the caller's TERM is (CI runs with TERM
    # unset or "dumb", which rightly turns colour off: checked below).
    ontty() { TERM=xterm NO_COLOR= timeout 20 script -qec "$*" /dev/null </dev/null >"$T/tty" 2>&1; }
    ontty "'$L' doctor"
    [ -s "$T/paged" ] || bad "doctor on a terminal: the pager did not get the output"
    grep -q 'verdict:' "$T/paged" || bad "pager output: $(head -c 200 "$T/paged")"
    grep -q "$esc\[1;31mFAIL" "$T/paged" || bad "no colour on a terminal (through the pager)"
    grep -qx 'LESS=FRX' "$T/pager.env" || bad "the pager was not given LESS=FRX"
    rm -f "$T/paged"
    ontty "LESS=X '$L' doctor"
    grep -qx 'LESS=X' "$T/pager.env" || bad "LESS set by the user was overridden"
    rm -f "$T/paged"
    ontty "'$L' doctor --no-pager"
    [ -e "$T/paged" ] && bad "--no-pager: the pager ran"
    grep -q 'verdict:' "$T/tty" || bad "--no-pager: no output on the terminal"
    ontty "'$L' --no-pager help"
    [ -e "$T/paged" ] && bad "ledger --no-pager help: the pager ran"
    ontty "'$L' help --no-pager query"
    [ -e "$T/paged" ] && bad "ledger help --no-pager query: the pager ran"
    grep -q 'usage: ledger query' "$T/tty" || bad "help --no-pager query: $(head -c 200 "$T/tty")"
    ontty "NO_COLOR=1 '$L' doctor --no-pager"
    grep -q "$esc\[" "$T/tty" && bad "NO_COLOR=1: colour on the terminal"
    ontty "TERM=dumb '$L' doctor --no-pager"
    grep -q "$esc\[" "$T/tty" && bad "TERM=dumb: colour on the terminal"
    ontty "'$L' doctor --no-pager --color=never"
    grep -q "$esc\[" "$T/tty" && bad "--color=never: colour on the terminal"
    ontty "PAGER= '$L' routes"
    [ -e "$T/paged" ] && bad "an empty PAGER still paged"
    grep -q '^ROUTE' "$T/tty" || bad "PAGER=: no output"
    ontty "'$L' stats"
    [ -e "$T/paged" ] && bad "stats (short output) was paged"
    ontty "'$L' query --help"
    grep -q 'usage: ledger query' "$T/paged" || bad "query --help not paged on a terminal"
fi
# show --raw refuses a terminal, and starts no pager to refuse it
if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    printf '#!/bin/sh\ntouch "%s"\ncat >/dev/null\n' "$T/pager-ran" >"$T/pager"
    chmod +x "$T/pager"
    PAGER=$T/pager timeout 30 script -qec "'$L' show --raw 3; echo rc=\$?" /dev/null </dev/null >"$T/tty" 2>&1
    grep -q 'refusing to write it to a terminal' "$T/tty" && grep -q 'rc=64' "$T/tty" ||
        bad "show --raw on a terminal: $(cat "$T/tty")"
    [ -e "$T/pager-ran" ] && bad "show --raw on a terminal started the pager"
    "$L" show --raw 3 | od -c | grep -q . || bad "show --raw piped wrote nothing"
fi
# ------------------------------------------------------------- progress --
# one line on stderr, only on a terminal, with a percentage, erased at the
# end (the summary line follows on a clean line)
i=0
while [ $i -lt 2000 ]; do
    echo '{"type":"x.progress","body":{"i":'$i'}}'
    i=$((i + 1))
done >"$T/many.jsonl"
"$L" ingest "$T/many.jsonl" 2>/dev/null || bad "ingest many"
"$L" verify --full >/dev/null 2>"$T/e" || bad "verify --full: $(cat "$T/e")"
grep -q "$(printf '\r')" "$T/e" && bad "progress drawn on a stderr that is not a terminal"
if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    timeout 60 script -qec "'$L' verify --full" /dev/null </dev/null >"$T/tty" 2>&1
    grep -q 'verify: [0-9]*/[0-9]* ([0-9]*%)' "$T/tty" ||
        bad "verify on a terminal shows no progress with a percentage"
    grep -q "$(printf '\r\033')\[K\($(printf '\033')\[32m\)\?ok\($(printf '\033')\[0m\)\?: " "$T/tty" ||
        bad "the progress line is not erased before the summary: $(od -c "$T/tty" | tail -3)"
    # ingest of a file (size known): a percentage of the file
    awk 'BEGIN { for (i = 0; i < 40000; i++)
        printf "{\"type\":\"x.progress\",\"body\":{\"i\":%d}}\n", i }' \
        >"$T/big.jsonl"
    timeout 120 script -qec "'$L' ingest '$T/big.jsonl'" /dev/null </dev/null >"$T/tty" 2>&1
    grep -q "ingest: [0-9]*% of $T/big.jsonl ([0-9]* lines read" "$T/tty" ||
        bad "ingest of a file on a terminal shows no percentage: $(tr '\r' '\n' <"$T/tty" | head -3)"
    grep -q "$(printf '\r\033')\[Kingest: 40000 events committed" "$T/tty" ||
        bad "ingest's progress line is not erased before the summary"
    # rebuild: the projections' pass shows its progress, then the index
    # pass (each counts from the start again)
    timeout 120 script -qec "'$L' rebuild >/dev/null" /dev/null </dev/null >"$T/tty" 2>&1
    tr '\r' '\n' <"$T/tty" | awk '{ print } /indexes rebuilt/ { exit }' >"$T/ix"
    passes=$(sed -n 's/.*rebuild: \([0-9]*\)\/[0-9]* ([0-9]*%).*/\1/p' "$T/ix" |
        awk 'NR == 1 || $1 < last { n++ } { last = $1 } END { print n + 0 }')
    [ "$passes" -ge 2 ] ||
        bad "rebuild shows the progress of $passes pass(es), want the projections' and the indexes': $(head -3 "$T/ix")"
    # export: events with a percentage, erased before its summary
    timeout 900 script -qec "'$L' export --out '$T/all.bundle' >/dev/null" /dev/null </dev/null >"$T/tty" 2>&1
    grep -q 'export: [0-9]*/[0-9]* ([0-9]*%)' "$T/tty" ||
        bad "export on a terminal shows no progress: $(tr '\r' '\n' <"$T/tty" | head -3)"
    grep -q "$(printf '\r\033')\[K.*export: wrote " "$T/tty" ||
        bad "export's progress line is not erased before its summary: $(tr '\r' '\n' <"$T/tty" | head -5)"
    # model hashing: bytes with a percentage of the file
    head -c 70000000 /dev/zero >"$T/w.gguf"
    timeout 120 script -qec "'$L' model verify '$T/w.gguf' --expect $(printf '%064d' 0) >/dev/null" \
        /dev/null </dev/null >"$T/tty" 2>&1
    rm -f "$T/w.gguf"
    grep -q 'model: [0-9]*/70000000 ([0-9]*%)' "$T/tty" ||
        bad "model verify on a terminal shows no progress: $(tr '\r' '\n' <"$T/tty" | head -3)"
fi

"$L" doctor --color=sometimes >/dev/null 2>"$T/e"; rc=$?
[ $rc = 64 ] && grep -q "always, never or auto" "$T/e" || bad "--color=sometimes: exit $rc"

# keys without a subcommand, with a typo, or with the wrong count of
# arguments: 64 and a line naming the cause before the usage
for a in "keys:a subcommand is needed" "keys lst:unknown subcommand 'lst'" \
    "keys add:add takes one NAME" "keys list x:list takes no argument" \
    "keys generate x:generate takes no argument"; do
    # shellcheck disable=SC2086
    "$L" ${a%%:*} >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 64 ] && head -1 "$T/e" | grep -q "^ledger keys: ${a#*:}" ||
        bad "${a%%:*}: exit $rc, first line: $(head -1 "$T/e")"
done

# arguments missing or left over: the cause is named before the usage
# (each printed the usage line alone)
while IFS='|' read -r args want; do
    # shellcheck disable=SC2086
    "$L" $args </dev/null >"$T/o" 2>"$T/e"
    rc=$?
    cmd=${args%% *}
    [ $rc = 64 ] && [ ! -s "$T/o" ] &&
        [ "$(head -1 "$T/e")" = "ledger $cmd: $want" ] &&
        grep -q "^usage: ledger $cmd " "$T/e" ||
        bad "ledger $args: exit $rc, $(head -1 "$T/e"), want 'ledger $cmd: $want'"
done <<'EOF_ARGS'
gates x|unexpected argument 'x'
routes x|unexpected argument 'x'
runs a b|unexpected argument 'b'
probe x|unexpected argument 'x'
tripcode|a subcommand is needed: sign CODE, verify TRIPCODE or list
seal|--key FILE is needed (the key that seals the events)
seal a b|unexpected argument 'b'
append|TYPE is needed: the event type, e.g. run.started, model.registered, x.myorg.thing
append x.a y.b|unexpected argument 'y.b'
append x.a --body {} --body-file f|--body and --body-file: give one of them
timeline|RUN is needed: the run (or plan) to show, or --trace ID
timeline a b|unexpected argument 'b'
tiles|OUTDIR is needed: the directory to write the tiles into
verify-bundle|FILE is needed: the bundle to verify
EOF_ARGS

# a global option left without its value: said so, 64 (it was "unknown
# option '--dir'")
for o in --dir -o --output; do
    "$L" "$o" >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 64 ] && [ ! -s "$T/o" ] &&
        grep -q "^ledger: option '$o' needs a value$" "$T/e" ||
        bad "ledger $o: exit $rc, $(head -1 "$T/e")"
done

# ------------------------------------------------ an empty file name --
# Every option and positional whose usage names a file or a directory
# (FILE, VKEY|FILE, DIR, OUTDIR, EVENTS.jsonl ...) given '' is a usage
# error naming it, before anything is opened (it said "cannot open : No
# such file or directory", 66, or went on with a default).
n=0
for cmd in $("$L" help --commands); do
    "$L" "$cmd" --help 2>/dev/null | sed -n '/^usage:/,/^$/p' |
        grep -o -- '--[a-z-]* [A-Za-z|.]*\(FILE\|DIR\|PATH\|jsonl\)' |
        sed 's/ .*//' | sort -u >"$T/popts"
    while read -r o; do
        n=$((n + 1))
        "$L" "$cmd" "$o" '' >"$T/o" 2>"$T/e"
        rc=$?
        [ $rc = 64 ] && [ ! -s "$T/o" ] &&
            grep -q -- "^ledger $cmd: $o '': names no \(file\|directory\)$" "$T/e" ||
            bad "ledger $cmd $o '': exit $rc, $(head -1 "$T/e")"
    done <"$T/popts"
done
[ $n -ge 20 ] || bad "only $n options naming a file or directory found"
for cmd in "ingest" "verify-bundle"; do
    "$L" $cmd '' >"$T/o" 2>"$T/e"
    rc=$?
    [ $rc = 64 ] && [ ! -s "$T/o" ] && grep -q "'': names no file$" "$T/e" ||
        bad "ledger $cmd '': exit $rc, $(head -1 "$T/e")"
done

[ $nfail = 0 ] || exit 1
echo "cli_manners: SIGPIPE, labelled numbers, terminals, empty file names as documented"
