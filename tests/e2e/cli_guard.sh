#!/bin/sh
# cli_guard.sh — recorded data is shown on the terminal, never obeyed by
# it (cli/guard.c). An event whose subject, run and body carry ESC
# sequences (CSI, OSC title), BEL, a C1 control and a bidi override
# is printed by every human view with those written as text ("\x1b",
# "\u202e"); -o json keeps the exact values; show --raw keeps the bytes;
# error messages are filtered too; ledger's own colours still pass with
# --color=always, and nothing passes with --color=never; valid UTF-8 is
# never escaped, also where a character straddles a buffer boundary.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
export LEDGER_DIR="$T/d"
"$L" init >/dev/null || exit 1

# raw control bytes other than newline and tab, or C1 / bidi characters
has_raw() { # FILE
    LC_ALL=C grep -q "$(printf '[\001-\010\013-\037]')" "$1" ||
        grep -q "$(printf '\302[\200-\237]')" "$1" ||
        grep -q "$(printf '\342\200[\252-\256]')" "$1"
}

printf '%s\n' '{"type":"x.t.thing","subject":"pack:p\u001b[31mRED\u0007x\u007f","run":"r\u001b]0;owned\u0007","body":{"pack":"a\u001b[2Jb","note":"\u009b31m\u202eevil"}}' |
    "$L" ingest - 2>/dev/null || bad "ingest of the hostile event failed"
run=$(printf 'r\033]0;owned\007')
# the hostile event is seq 2: 0 is the genesis, 1 the log key's anchor
# (init anchors it by default)

for v in "show 2" "query" "query -o verbose" "query -o cat" \
    "runs" "packs" "stats"; do
    # shellcheck disable=SC2086
    "$L" $v >"$T/out" 2>"$T/err"
    has_raw "$T/out" && bad "$v: a raw control byte reached stdout"
    has_raw "$T/err" && bad "$v: a raw control byte reached stderr"
done
"$L" show 2 >"$T/out"
grep -qF "$(printf 'pack:p\\x1b[31mRED\\x07x\177')" "$T/out" ||
    bad "show: the subject is not written as text: $(grep subject "$T/out")"
grep -qF 'r\x1b]0;owned\x07' "$T/out" || bad "show: the run is not written as text"
# a table counts a character as it is shown (\x1b takes 4 columns): the
# escaped run's row keeps its columns under their headings
"$L" runs >"$T/out"
awk 'NR == 1 { c = index($0, "STATUS") }
     /owned/ { ok = substr($0, c - 1, 1) == " " && substr($0, c, 1) != " " }
     END { exit !(c && ok) }' "$T/out" || bad "runs: the escaped row is out of its columns: $(cat "$T/out")"
"$L" query >"$T/out"
grep -qF '\u009b31m\u202eevil' "$T/out" ||
    bad "query: C1 and bidi are not written as text: $(tail -1 "$T/out")"
"$L" timeline "$run" >"$T/out" 2>&1 || bad "timeline of the hostile run failed"
has_raw "$T/out" && bad "timeline: a raw control byte reached the terminal"
grep -qF 'a\x1b[2Jb' "$T/out" || bad "timeline: the pack's name is not written as text"

# -o json: the exact values (jq decodes them back)
"$L" show 2 -o json >"$T/json"
has_raw "$T/json" && bad "show -o json: a raw control byte"
s=$(jq -r .subject "$T/json")
[ "$s" = "$(printf 'pack:p\033[31mRED\007x\177')" ] ||
    bad "show -o json: the subject changed: $(printf %s "$s" | od -c | head -2)"
n=$(jq -r .body.note "$T/json" | od -An -tx1 | tr -d ' \n')
[ "$n" = "c29b33316de280ae6576696c0a" ] || bad "show -o json: body.note changed: $n"

# show --raw: the stored bytes, not filtered (an ESC is in them)
"$L" show 2 --raw >"$T/raw" || bad "show --raw failed"
LC_ALL=C grep -q "$(printf '\033')" "$T/raw" ||
    bad "show --raw: the entry's ESC bytes were changed"

# an error message that quotes recorded or given text
"$L" timeline "$(printf 'x\033[2Jy')" >/dev/null 2>"$T/err"
[ $? -eq 66 ] || bad "timeline of no such run: not 66"
has_raw "$T/err" && bad "an error message carried a raw ESC"
grep -qF 'x\x1b[2Jy' "$T/err" || bad "the error does not show the name as text: $(cat "$T/err")"
"$L" ingest "$(printf '%s/no\377such' "$T")" 2>"$T/err"
grep -qF 'no\xffsuch' "$T/err" || bad "invalid UTF-8 in a file name is not written as \\xff: $(cat "$T/err")"

# colour: ledger's own passes with always; a forged one never with never
"$L" verify --color=always >"$T/out" 2>&1
LC_ALL=C grep -q "$(printf '\033\\[32m')" "$T/out" ||
    bad "verify --color=always: ledger's green did not pass"
printf '%s\n' '{"type":"x.t.thing","subject":"pack:g\u001b[32mgreen\u001b[0m","body":{}}' |
    "$L" ingest - 2>/dev/null || bad "ingest of the green event failed"
"$L" query --color=never >"$T/out"
has_raw "$T/out" && bad "--color=never: a painted sequence from data passed"
grep -qF 'g\x1b[32mgreen\x1b[0m' "$T/out" || bad "--color=never: not written as text"

# valid UTF-8 is never escaped, also where the filter's input ends in
# the middle of a character (a full buffer is written at any byte): 3,000
# lines of two- and three-byte characters, 400 of them a kilobyte of "€"
i=0
eu=$(printf '%300s' '' | sed 's/ /€/g')
while [ $i -lt 3000 ]; do
    pad=$(printf '%*s' $((i % 7)) '' | tr ' ' a)
    if [ $((i % 7)) -eq 0 ] && [ $i -lt 2800 ]; then
        printf '{"type":"x.t.thing","subject":"pack:é%sü€","body":{"n":"%s%s"}}\n' \
            "$pad" "$eu" $i
    else
        printf '{"type":"x.t.thing","subject":"pack:é%sü€","body":{"n":"ßø%s"}}\n' \
            "$pad" $i
    fi
    i=$((i + 1))
done >"$T/many.jsonl"
"$L" ingest "$T/many.jsonl" 2>/dev/null || bad "ingest of 3,000 UTF-8 events failed"
for how in "query" "query --wide" "query -o verbose"; do
    # shellcheck disable=SC2086
    "$L" $how >"$T/out"
    grep -e é -e € -e ß "$T/out" | grep -q '\\[xu]' &&
        bad "$how: valid UTF-8 was escaped: $(grep -e é -e € -e ß "$T/out" | grep -m1 -o '.\{0,20\}\\[xu].\{0,20\}')"
    [ "$(grep -o 'ü€' "$T/out" | wc -l)" -eq 3000 ] ||
        bad "$how lost characters: $(grep -o 'ü€' "$T/out" | wc -l) of 3000"
done
"$L" query -o json | jq -r .subject | grep -c 'ü€' >"$T/n"
[ "$(cat "$T/n")" -eq 3000 ] || bad "query -o json lost characters"

[ $nfail -eq 0 ] && echo "cli_guard: ok"
exit $((nfail > 0))
