#!/bin/sh
# core_badinput.sh — malformed input is refused with the right message and
# exit code, and leaves the ledger exactly as it was.
#
#   1. Every file of the corpus tests/vectors/bad/ (listed with its
#      expected message in tests/vectors/bad/EXPECT) through `ledger
#      ingest`: exit 65, "FILE:LINE:COL: message" on stderr naming the
#      problem, nothing on stdout, `stats` events and `checkpoint` unchanged.
#   2. Sizes generated here: a body just over 1 MiB (refused by its length),
#      one just under (accepted), a 10 MiB line followed by a good line.
#   3. A file with bad lines among good ones: without --strict the good
#      lines are committed and each bad one reported; with --strict nothing
#      is committed. Both exit 65.
#   4. The same kinds of bad bodies through `ledger append` (--body,
#      --body-file, stdin) and bad envelope options.
#
# Known core bugs are listed in KNOWN (and in the fourth column of EXPECT):
# their checks report XFAIL unless LEDGER_XFAIL_STRICT=1.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
V=$ROOT/tests/vectors/bad
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/core_badinput.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

KNOWN=${LEDGER_KNOWN_BUGS-""}
. "$ROOT/tests/e2e/lib/xfail.sh"

D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
L init >/dev/null 2>&1 || {
    echo "FAIL: init"
    exit 1
}
L keys add alice >/dev/null 2>&1 &&
    L keys add mallory >/dev/null 2>&1 &&
    L keys revoke mallory --reason "test" >/dev/null 2>&1 &&
    L append x.good --body '{"n":0}' >/dev/null 2>&1 || {
    echo "FAIL: setting up keys"
    exit 1
}
state() {
    printf '%s\n' "$(L stats -o json 2>/dev/null |
        sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')"
    L checkpoint 2>/dev/null
}
state >"$T/state0"
unchanged() { # unchanged WHAT [ID]
    state >"$T/state1"
    cmp -s "$T/state0" "$T/state1" || {
        bad "${2:-changed}" "$1: the ledger changed (events" \
            "$(head -n 1 "$T/state0") -> $(head -n 1 "$T/state1"))"
        cp "$T/state1" "$T/state0"
    }
}

# expect_refused ID WHAT FILE LINE COL PATTERN [--strict] — runs ingest on
# FILE and checks exit 65, the FILE:LINE:COL: prefix, the pattern, an empty
# stdout and an unchanged ledger.
expect_refused() {
    id=$1 what=$2 f=$3 line=$4 col=$5 pat=$6
    shift 6
    nchecks=$((nchecks + 1))
    L ingest "$@" "$f" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 65 ] || bad "$id" "$what: exit $rc, want 65" \
        "($(head -c 200 "$T/err" | tr -cd '[:print:]\n'))"
    [ -s "$T/out" ] && bad "$id" "$what: output on stdout: $(head -c 100 "$T/out")"
    if [ "$col" = "*" ]; then
        colre='[0-9][0-9]*'
    else
        colre=$col
    fi
    # The message line: "FILE:LINE:COL: text".
    msg=$(grep -F "$f:$line:" "$T/err" | head -n 1)
    if [ -z "$msg" ] ||
        ! printf '%s\n' "${msg#"$f:"}" | grep -q "^$line:$colre: ."; then
        bad "$id" "$what: no '$f:$line:$col:' message in" \
            "'$(head -c 200 "$T/err" | tr -cd '[:print:]\n')'"
    elif ! printf '%s\n' "$msg" | grep -Eiq -- "$pat"; then
        bad "$id" "$what: message '$msg' does not match /$pat/"
    fi
    unchanged "$what" "$id"
}

# ------------------------------------------------------------ 1. corpus --
n=0
tab=$(printf '\t')
while IFS="$tab" read -r file pos pat known; do
    case $file in '#'* | '') continue ;; esac
    [ -f "$V/$file" ] || {
        bad corpus "$file listed in EXPECT but missing"
        continue
    }
    [ "$known" = "-" ] && known=badinput
    expect_refused "$known" "$file" "$V/$file" "${pos%%:*}" "${pos#*:}" "$pat"
    n=$((n + 1))
done <"$V/EXPECT"
# Every corpus file is listed.
for f in "$V"/*.jsonl; do
    grep -q "^$(basename "$f")$tab" "$V/EXPECT" ||
        bad corpus "$(basename "$f") is not listed in EXPECT"
done
echo "corpus: $n files"

# ------------------------------------------------------------- 2. sizes --
# A body over the 1 MiB limit is refused by the length of its line, before
# parsing, and the ledger is unchanged.
awk 'BEGIN { printf "{\"type\":\"x.bad\",\"body\":{\"s\":\"";
    for (i = 0; i < 1048600; i++) printf "a"; printf "\"}}\n" }' >"$T/over.jsonl"
expect_refused body-limit "body just over 1 MiB" "$T/over.jsonl" 1 1 \
    'longer than|exceeds|1048576'
# A body under it is accepted.
awk 'BEGIN { printf "{\"type\":\"x.good\",\"body\":{\"s\":\"";
    for (i = 0; i < 1040000; i++) printf "a"; printf "\"}}\n" }' >"$T/under.jsonl"
nchecks=$((nchecks + 1))
L ingest "$T/under.jsonl" >/dev/null 2>"$T/err" ||
    bad size "a body just under 1 MiB is refused: $(head -c 200 "$T/err")"
state >"$T/state0"
# A 10 MiB line: refused by length (read in bounded memory), and the good
# line after it is still read and committed.
awk 'BEGIN { printf "{\"type\":\"x.bad\",\"body\":{\"s\":\"";
    for (i = 0; i < 10485760; i++) printf "b"; printf "\"}}\n";
    printf "{\"type\":\"x.good\",\"body\":{\"after\":\"long-line\"}}\n" }' \
    >"$T/long.jsonl"
nchecks=$((nchecks + 1))
before=$(head -n 1 "$T/state0")
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    # the peak RSS of ingesting one short line, with the same binary (a
    # sanitizer's build takes more of its own)
    printf '{"type":"x.good","body":{"short":1}}\n' >"$T/short.jsonl"
    cp -r "$D" "$T/d0"
    # (under ASan, without its quarantine of freed memory, which would
    # count every buffer ever freed)
    qa="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=0"
    ASAN_OPTIONS=$qa /usr/bin/time -o "$T/rss0" -f %M "$LEDGER" --dir "$T/d0" ingest \
        "$T/short.jsonl" >/dev/null 2>&1
    rss0=$(tail -n 1 "$T/rss0")
    ASAN_OPTIONS=$qa /usr/bin/time -o "$T/rss" -f %M "$LEDGER" --dir "$D" ingest "$T/long.jsonl" \
        >"$T/out" 2>"$T/err"
    rc=$?
    rss=$(tail -n 1 "$T/rss")
    # 10 MiB must not be held in memory: the line buffer stops at the
    # limit (1 MiB + envelope room), so the long line adds a few MiB at
    # most over the short one
    [ "$rss" -lt $((rss0 + 8192)) ] ||
        bad size "10 MiB line: peak RSS $rss KiB, $((rss - rss0)) KiB over a short line's"
else
    L ingest "$T/long.jsonl" >"$T/out" 2>"$T/err"
    rc=$?
fi
[ "$rc" = 65 ] || bad size "10 MiB line: exit $rc, want 65"
grep -q "long.jsonl:1:1: line is longer than" "$T/err" ||
    bad size "10 MiB line: message '$(head -c 200 "$T/err")'"
state >"$T/state1"
[ "$(head -n 1 "$T/state1")" = $((before + 1)) ] ||
    bad size "the good line after a 10 MiB line was not committed"
L show "$before" -o json 2>/dev/null | grep -q '"after":"long-line"' ||
    bad size "event $before is not the line after the 10 MiB line"
state >"$T/state0"

# ------------------------------------------------- 3. strict and mixed --
{
    echo '{"type":"x.mixed","body":{"n":1}}'
    echo '{"type":"x.mixed","body":{"n":2},}'
    echo '{"type":"x.mixed","body":{"n":3}}'
    echo ''
    echo '{"type":"nope.nope","body":{"n":5}}'
    echo '{"type":"x.mixed","body":{"n":6}}'
} >"$T/mixed.jsonl"
nchecks=$((nchecks + 1))
L ingest --strict "$T/mixed.jsonl" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || bad strict "--strict with bad lines: exit $rc"
grep -q "mixed.jsonl:2:[0-9]*: " "$T/err" || bad strict "--strict: line 2 not reported"
grep -q "mixed.jsonl:5:1: unknown event type 'nope.nope'" "$T/err" ||
    bad strict "--strict: line 5 not reported: $(cat "$T/err")"
grep -q "nothing committed" "$T/err" || bad strict "--strict: no 'nothing committed'"
unchanged "--strict with bad lines" strict
# --strict from a pipe (copied to a temporary file first).
nchecks=$((nchecks + 1))
L ingest --strict - <"$T/mixed.jsonl" >"$T/out" 2>"$T/err"
[ $? = 65 ] || bad strict "--strict from stdin: exit not 65"
grep -q "<stdin>:5:1: " "$T/err" || bad strict "--strict from stdin: line 5 not reported"
unchanged "--strict from stdin" strict
# Without --strict: the 3 good lines are committed, the 2 bad reported.
nchecks=$((nchecks + 1))
before=$(head -n 1 "$T/state0")
L ingest --acks "$T/mixed.jsonl" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || bad mixed "bad lines without --strict: exit $rc, want 65"
[ "$(grep -c 'mixed.jsonl:[25]:' "$T/err")" = 2 ] ||
    bad mixed "want lines 2 and 5 reported: $(cat "$T/err")"
grep -q "3 events committed" "$T/err" || bad mixed "summary: $(cat "$T/err")"
state >"$T/state0"
[ "$(head -n 1 "$T/state0")" = $((before + 3)) ] ||
    bad mixed "$(head -n 1 "$T/state0") events, want $((before + 3))"
i=0
for want in 1 3 6; do
    L show $((before + i)) -o json | grep -q "\"body\":{\"n\":$want}" ||
        bad mixed "event $((before + i)) is not line n=$want"
    i=$((i + 1))
done
grep -q "\"committed_last\":\"$((before + 2))\"" "$T/out" ||
    bad mixed "acks: $(cat "$T/out")"
# A good line after a line whose problem is found only at commit time.
printf '%s\n' '{"type":"x.mixed","body":{"n":7}}' \
    '{"type":"x.mixed","parent":999999,"body":{"n":8}}' \
    '{"type":"x.mixed","body":{"n":9}}' >"$T/late.jsonl"
nchecks=$((nchecks + 1))
before=$(head -n 1 "$T/state0")
L ingest "$T/late.jsonl" >"$T/out" 2>"$T/err"
rc=$?
state >"$T/state0"
[ "$rc" = 65 ] || bad checks-at-commit "bad parent among good lines: exit $rc"
[ "$(head -n 1 "$T/state0")" = $((before + 2)) ] ||
    bad checks-at-commit "a bad parent on line 2 among good lines: the" \
        "good lines 1 and 3 were not committed ($(head -n 1 "$T/state0")" \
        "events, want $((before + 2)); stderr: $(tr '\n' ' ' <"$T/err"))"
printf '%s\n' '{"type":"x.mixed","body":{"n":10}}' \
    '{"type":"x.mixed","actor":"../x","body":{"n":11}}' \
    '{"type":"x.mixed","body":{"n":12}}' >"$T/actor.jsonl"
nchecks=$((nchecks + 1))
before=$(head -n 1 "$T/state0")
L ingest --batch 1 "$T/actor.jsonl" >"$T/out" 2>"$T/err"
rc=$?
state >"$T/state0"
[ "$rc" = 65 ] && [ "$(head -n 1 "$T/state0")" = $((before + 2)) ] ||
    bad actor-name-fatal "a bad actor name on line 2 stops the ingest:" \
        "exit $rc, $(($(head -n 1 "$T/state0") - before)) of 2 good lines" \
        "committed ($(tr '\n' ' ' <"$T/err"))"
# The summary counts what was committed before the ingest stopped.
grep -q "ingest: $(($(head -n 1 "$T/state0") - before)) events committed" \
    "$T/err" || bad ingest-report "summary does not count the committed" \
    "events: '$(grep '^ingest:' "$T/err")'"

# --strict judges every line by every check a commit makes (unknown actor,
# revoked actor, parent out of range) and then commits all or nothing; it
# refuses exactly the lines a plain ingest refuses.
printf '%s\n' '{"type":"x.strict","body":{"n":1}}' \
    '{"type":"x.strict","actor":"nobody","body":{"n":2}}' \
    '{"type":"x.strict","actor":"mallory","body":{"n":3}}' \
    '{"type":"x.strict","parent":999999,"body":{"n":4}}' \
    '{"type":"x.strict","actor":"alice","body":{"n":5}}' >"$T/strict.jsonl"
nchecks=$((nchecks + 1))
state >"$T/state0"
L ingest --strict "$T/strict.jsonl" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || bad strict-all "--strict with commit-time problems: exit $rc"
grep -q "3 invalid lines, nothing committed" "$T/err" ||
    bad strict-all "--strict summary: $(tr '\n' ' ' <"$T/err")"
for n in 2 3 4; do
    grep -q "strict.jsonl:$n:" "$T/err" ||
        bad strict-all "--strict: line $n not reported: $(tr '\n' ' ' <"$T/err")"
done
unchanged "--strict with an unknown actor, a revoked one and a bad parent" strict-all
cp "$T/err" "$T/err.strict"
before=$(head -n 1 "$T/state0")
L ingest "$T/strict.jsonl" >"$T/out" 2>"$T/err"
state >"$T/state0"
[ "$(grep -c 'strict.jsonl:[0-9]*:' "$T/err")" = \
    "$(grep -c 'strict.jsonl:[0-9]*:' "$T/err.strict")" ] ||
    bad strict-same "strict and plain ingest refuse different lines:" \
        "$(tr '\n' ' ' <"$T/err.strict") / $(tr '\n' ' ' <"$T/err")"
[ "$(head -n 1 "$T/state0")" = $((before + 2)) ] ||
    bad strict-same "plain ingest of the same file: $(($(head -n 1 "$T/state0") - before)) committed, want 2"
# A valid file under --strict: all of it, in one commit (one checkpoint).
printf '%s\n' '{"type":"x.strict","body":{"n":6}}' \
    '{"type":"x.strict","parent":1,"actor":"alice","body":{"n":7}}' \
    '{"type":"x.strict","body":{"n":8}}' >"$T/strict-ok.jsonl"
nchecks=$((nchecks + 1))
before=$(head -n 1 "$T/state0")
L ingest --strict "$T/strict-ok.jsonl" >"$T/out" 2>"$T/err"
rc=$?
state >"$T/state0"
[ "$rc" = 0 ] && [ "$(head -n 1 "$T/state0")" = $((before + 3)) ] ||
    bad strict-ok "--strict valid file: exit $rc, $(($(head -n 1 "$T/state0") - before)) of 3 committed"
grep -q "3 events committed (seq $before..$((before + 2)))" "$T/err" ||
    bad strict-ok "--strict summary: $(cat "$T/err")"
L verify --full >/dev/null 2>&1 || bad strict-ok "verify --full after --strict"

# ------------------------------------------------------------ 4. append --
# expect_append ID WHAT CODE PATTERN ARGS... — `ledger append ARGS` exits
# CODE with a message matching PATTERN, nothing on stdout, no change.
expect_append() {
    a_id=$1 a_what=$2 a_code=$3 a_pat=$4
    shift 4
    nchecks=$((nchecks + 1))
    L append "$@" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = "$a_code" ] || bad "$a_id" "append $a_what: exit $rc, want" \
        "$a_code ($(head -c 200 "$T/err" | tr -cd '[:print:]\n'))"
    [ -s "$T/out" ] && bad "$a_id" "append $a_what: stdout '$(cat "$T/out")'"
    grep -q '^ledger append: ' "$T/err" ||
        bad "$a_id" "append $a_what: no 'ledger append:' message"
    grep -Eiq -- "$a_pat" "$T/err" ||
        bad "$a_id" "append $a_what: '$(head -c 200 "$T/err" |
            tr -cd '[:print:]\n')' does not match /$a_pat/"
    unchanged "append $a_what" "$a_id"
}
# Bodies that are bad as JSON or as an object, three ways in.
for b in 'trailing-comma:{"a":1,}:expected' \
    'truncated:{"a":1:expected' \
    'nan:{"a":NaN}:invalid token' \
    'duplicate:{"a":1,"a":2}:duplicate object key' \
    'array:[1,2]:must be a JSON object' \
    'string:"x":must be a JSON object|expected' \
    'nul:{"s":"\u0000"}:NUL' \
    'lone-surrogate:{"s":"\ud800"}:invalid Unicode'; do
    name=${b%%:*}
    rest=${b#*:}
    bpat=${rest##*:}
    body=${rest%:*}
    expect_append append "--body $name" 65 "--body:.*($bpat)" x.bad --body "$body"
    printf '%s' "$body" >"$T/body.json"
    expect_append append "--body-file $name" 65 "body.json:.*($bpat)" x.bad \
        --body-file "$T/body.json"
    expect_append append "stdin $name" 65 "<stdin>:.*($bpat)" x.bad <"$T/body.json"
done
printf '{"s":"a\377b"}' >"$T/utf8.json"
expect_append append "invalid UTF-8 (file)" 65 'unable to decode byte 0xff' \
    x.bad --body-file "$T/utf8.json"
printf '{"s":"a\000b"}' >"$T/nul.json"
expect_append append "raw NUL (stdin)" 65 'control character 0x0|end of file' \
    x.bad <"$T/nul.json"
# Fields given on the command line that are not UTF-8: refused, not
# stored to vanish from every JSON that shows the event
XFF=$(printf 'a\377b')
expect_append append "--id not UTF-8" 65 "field 'id': .*UTF-8" x.bad --body '{}' --id "$XFF"
expect_append append "--run not UTF-8" 65 "field 'run': not UTF-8" x.bad --body '{}' --run "$XFF"
expect_append append "--subject not UTF-8" 65 "field 'subject': not UTF-8" x.bad --body '{}' \
    --subject "x:$XFF"
# Vocabulary through append.
expect_append append "missing field" 65 "runtime.health: field 'status': required" \
    runtime.health --body '{"runtime":"ollama"}'
expect_append append "mistyped field" 65 "field 'cores': must be an integer" \
    host.profile --body '{"cpu":"x","cores":"4","ram_mb":1}'
expect_append append "enum" 65 "must be one of up\|degraded\|down" \
    runtime.health --body '{"runtime":"ollama","status":"sideways"}'
expect_append append "unknown type" 65 "unknown event type 'nope.nope'" \
    nope.nope --body '{}'
expect_append append "bad x. type" 65 "unknown event type 'x\.'" x. --body '{}'
expect_append append "genesis" 65 "written by 'ledger init' only" \
    ledger.genesis --body '{"origin":"o","log_key":"00"}'
# Envelope options.
expect_append append "subject" 65 "must be kind:name" x.bad --subject nocolon \
    --body '{}'
expect_append append "parent" 65 "parent 999999 is not an earlier event" x.bad \
    --parent 999999 --body '{}'
expect_append append "parent not a number" 64 "--parent: 'abc' is not a sequence number" \
    x.bad --parent abc --body '{}'
expect_append append "missing actor" 77 "no key 'nosuch'" x.bad --actor nosuch \
    --body '{}'
expect_append append "revoked actor" 77 "revoked" x.bad --actor mallory --body '{}'
expect_append append "key event by an actor" 77 "must be signed by the log key" \
    key.revoked --actor alice --body '{"key_id":"0123456789abcdef","reason":"r"}'
expect_append append "missing body file" 66 "cannot open .*nonexistent" x.bad \
    --body-file "$T/nonexistent.json"
# A directory where a file is named: refused as no input, saying so (it
# was "I/O error", 74, with no cause)
expect_append append "body file a directory" 66 "cannot open .*: is a directory" \
    x.bad --body-file "$T"
nchecks=$((nchecks + 1))
L ingest "$T" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] && grep -q "^ledger ingest: cannot open $T: Is a directory" "$T/err" ||
    bad ingest-directory "ingest of a directory: exit $rc: $(cat "$T/err")"
unchanged "ingest of a directory" ingest-directory
nchecks=$((nchecks + 1))
L verify --trusted "$T" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] &&
    grep -q "^ledger verify: cannot read trusted checkpoint $T: Is a directory" "$T/err" ||
    bad verify-trusted-directory "verify --trusted DIR: exit $rc: $(cat "$T/err")"
# Sizes: the message says what is too large and the limit.
awk 'BEGIN { printf "{\"s\":\""; for (i = 0; i < 1048600; i++) printf "a";
    printf "\"}" }' >"$T/big.json"
expect_append append-limit-message "body over 1 MiB" 65 \
    'body.*(1048576|1 MiB|exceeds|longer)' x.bad --body-file "$T/big.json"
awk 'BEGIN { printf "{\"a\":"; for (i = 0; i < 100; i++) printf "[";
    for (i = 0; i < 100; i++) printf "]"; printf "}" }' >"$T/deep.json"
expect_append append-limit-message "nesting 100 deep" 65 'deep|depth|nest' \
    x.bad --body-file "$T/deep.json"
awk 'BEGIN { printf "{"; for (i = 0; i < 257; i++) printf "%s\"f%03d\":%d",
    (i ? "," : ""), i, i; printf "}" }' >"$T/fields.json"
expect_append append-limit-message "257 fields" 65 '257 fields|more than 256' \
    x.bad --body-file "$T/fields.json"
awk 'BEGIN { printf "{\"s\":\""; for (i = 0; i < 5000000; i++) printf "a";
    printf "\"}" }' >"$T/huge.json"
expect_append append "body file over the read limit" 65 'too large|exceeds|limit' \
    x.bad --body-file "$T/huge.json"

# A body nested deeper than the stored record can be read back must be
# refused; one that is accepted must verify. (On a copy: a committed
# unreadable body would make every later verify fail.)
cp -a "$D" "$T/deep"
for depth in 28 31 40 63; do
    awk -v d="$depth" 'BEGIN { printf "{\"a\":"; for (i = 0; i < d; i++)
        printf "["; for (i = 0; i < d; i++) printf "]"; printf "}" }' \
        >"$T/deep.json"
    nchecks=$((nchecks + 1))
    if "$LEDGER" --dir "$T/deep" append x.deep --body-file "$T/deep.json" \
        >"$T/out" 2>"$T/err"; then
        "$LEDGER" --dir "$T/deep" verify --full >/dev/null 2>"$T/err2" ||
            bad deep-body-unverifiable "a body nested $depth deep was" \
                "acknowledged (seq $(cat "$T/out")) but then verify fails:" \
                "$(cat "$T/err2")"
        "$LEDGER" --dir "$T/deep" show "$(cat "$T/out")" -o json 2>/dev/null |
            grep -q '"body":{"a":\[' ||
            bad deep-body-unverifiable "a body nested $depth deep was" \
                "acknowledged but cannot be shown"
        rm -rf "$T/deep"
        cp -a "$D" "$T/deep"
    else
        grep -Eiq 'deep|depth|nest' "$T/err" ||
            bad append-limit-message "a body nested $depth deep is refused" \
                "with '$(cat "$T/err")'"
    fi
done

# ----------------------------------------------------------------- summary --
xfail_report
printf 'core_badinput: %d cases, %d failed, %d known bugs (xfail)\n' \
    "$nchecks" "$nfail" "$nxfail"
[ "$nfail" -eq 0 ]
