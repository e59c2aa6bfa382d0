#!/bin/sh
# query_cli.sh — `ledger query`: matching, output modes, limits, cursors,
# erased bodies, empty results, exit codes for conflicts and bad input.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
q() { "$LEDGER" --dir "$D" query "$@"; }
# expect_code CODE CMD...: runs CMD with stdout/stderr to files
expect_code() {
    want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] || fail "'$*' exited $got, want $want ($(head -c 300 "$T/err"))"
}
lines() { wc -l <"$T/out" | tr -d ' '; }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
EX=$(dirname "$0")/../../examples/pdf-ops.jsonl
"$LEDGER" --dir "$D" ingest "$EX" 2>/dev/null || exit 1
# 33 events: 0 the genesis, 1 the log key's anchor (init anchors it by
# default), 2..32 the 31 of pdf-ops.jsonl (a route.decision at 27, R-0001's
# step read-pdfs at 26, its last three events 30..32)

# matching
expect_code 0 q run=R-0001
[ "$(lines)" = 8 ] || fail "run=R-0001: $(lines) lines, want 8"
expect_code 0 q type='route.*'
[ "$(lines)" = 4 ] || fail "type=route.*: $(lines) lines"
expect_code 0 q type=run.step body.status=ok
[ "$(lines)" = 2 ] || fail "type AND body: $(lines) lines"
expect_code 0 q body.status=ok + body.decision=deny
[ "$(lines)" = 4 ] || fail "OR group: $(lines) lines"
expect_code 0 q pack=pdf-ops
[ "$(lines)" = 14 ] || fail "pack=pdf-ops: $(lines) lines"
expect_code 0 q seq=5..7 -o json
[ "$(lines)" = 3 ] || fail "seq=5..7: $(lines) lines"
grep -q '^{"seq":"5","ts":"' "$T/out" || fail "json line shape: $(head -1 "$T/out")"
expect_code 0 q -S @0 -U now
[ "$(lines)" = 33 ] || fail "-S @0 -U now: $(lines) lines"
expect_code 0 q -S "1 hour ago" -U "+1h"
[ "$(lines)" = 33 ] || fail "relative window: $(lines) lines"
expect_code 0 q -S tomorrow
[ "$(lines)" = 0 ] || fail "-S tomorrow: $(lines) lines"
# --explain of a window with no event: said, not a blank plan and 1..0
expect_code 0 q -S tomorrow --explain
grep -qx "plan: empty; seq window empty" "$T/err" || fail "--explain, empty window: $(cat "$T/err")"
expect_code 0 q -g deny
[ "$(lines)" = 1 ] && grep -q run.policy "$T/out" || fail "-g deny: $(cat "$T/out")"
# repeated -g OR (git log --grep), never last-wins
expect_code 0 q -g deny -g '"fallback":true'
[ "$(lines)" = 2 ] || fail "-g deny -g fallback: $(lines) lines, want 2"
# negation: FIELD!=VALUE
expect_code 0 q body.decision!=deny
[ "$(lines)" -ge 1 ] || fail "body.decision!=deny: nothing"
grep -q deny "$T/out" && fail "body.decision!=deny printed a deny"
expect_code 0 q type!=run.step type!=route.decided
n_not=$(lines)
expect_code 0 q
n_all=$(lines)
expect_code 0 q type=run.step + type=route.decided
[ "$n_not" = $((n_all - $(lines))) ] || fail "type!= twice: $n_not of $n_all"
# a type= naming no type of the vocabulary (nor x.): empty stdout, exit 0,
# and one note on stderr naming the close type when there is one
expect_code 0 q type=run.startd
[ ! -s "$T/out" ] || fail "type=run.startd printed $(lines) lines"
[ "$(grep -c . "$T/err")" = 1 ] &&
    grep -q "note: no event type 'run.startd' in the vocabulary (did you mean run.started?)" "$T/err" ||
    fail "type=run.startd: stderr $(cat "$T/err")"
expect_code 0 q type=nothing.here
[ ! -s "$T/out" ] && grep -q "no event type 'nothing.here' in the vocabulary" "$T/err" &&
    ! grep -q "did you mean" "$T/err" || fail "type=nothing.here: stderr $(cat "$T/err")"
# type!= with such a name excludes nothing: every event, and the note
expect_code 0 q type!=run.startd
[ "$(lines)" = "$n_all" ] &&
    grep -q "no event type 'run.startd' in the vocabulary (did you mean run.started?)" "$T/err" ||
    fail "type!=run.startd: $(lines) of $n_all, stderr $(cat "$T/err")"
# a known type, an extension, a glob: no note
for t in type=run.started type=x.nothing 'type=run.st*' type!=run.started; do
    expect_code 0 q "$t"
    [ ! -s "$T/err" ] || fail "$t: stderr $(cat "$T/err")"
done
# an operator it does not understand is refused, never 'nothing'
expect_code 64 q 'body.duration_ms>=100'
grep -q "only FIELD=VALUE and FIELD!=VALUE" "$T/err" || fail ">=: $(cat "$T/err")"
expect_code 64 q 'body.decision~=de'
expect_code 64 q 'status!=ok'

# a run= naming no run at all: empty stdout, exit 0 (scripts), and a note
# on stderr naming the close run when there is one (not under -f)
expect_code 0 q run=R-001
[ ! -s "$T/out" ] && [ "$(grep -c . "$T/err")" = 1 ] &&
    grep -q "note: no run named 'R-001' in this ledger (did you mean R-0001?)" "$T/err" ||
    fail "run=R-001: $(lines) lines, stderr $(cat "$T/err")"
expect_code 0 q run=nope -o json
[ ! -s "$T/out" ] && grep -q "note: no run named 'nope' in this ledger$" "$T/err" ||
    fail "run=nope: $(lines) lines, stderr $(cat "$T/err")"
expect_code 0 q run!=R-001
[ "$(lines)" = "$n_all" ] && grep -q "no run named 'R-001'" "$T/err" ||
    fail "run!=R-001: $(lines) of $n_all, stderr $(cat "$T/err")"
for t in run=R-0001 run=; do
    expect_code 0 q "$t"
    [ ! -s "$T/err" ] || fail "$t: stderr $(cat "$T/err")"
done

# empty results: exit 0, nothing on stdout, nothing on stderr
for fmt in short json json-pretty verbose cat; do
    expect_code 0 q run=R-0001 type=x.none -o "$fmt"
    [ -s "$T/out" ] && fail "empty result printed something with -o $fmt"
    [ -s "$T/err" ] && fail "empty result wrote to stderr with -o $fmt"
done

# output modes
expect_code 0 q seq=27 -o verbose
# a format 1 entry shows its signature, a sealed one (format 2) its claim
# digest and its place in its seal
grep -q '^    signature=' "$T/out" ||
    { grep -q '^    claim_digest=' "$T/out" && grep -q '^    seal=' "$T/out"; } ||
    fail "verbose lacks the signature (or the claim digest and seal)"
grep -q '^    body.chosen_model=' "$T/out" || fail "verbose lacks body fields"
expect_code 0 q seq=27 -o cat
grep -q '^{"candidates":' "$T/out" || fail "cat: $(cat "$T/out")"
expect_code 0 q seq=27 -o json-pretty
[ "$(lines)" -gt 5 ] || fail "json-pretty is not indented"
for fmt in short short-iso short-precise short-utc; do
    expect_code 0 q seq=27 -o "$fmt"
    grep -q ' 27 route.decision route:pdf-ops/extract log: ' "$T/out" ||
        fail "-o $fmt: $(cat "$T/out")"
done
expect_code 0 "$LEDGER" --dir "$D" -o json query seq=27
grep -q '"type":"route.decision"' "$T/out" || fail "global -o json"

# limits and order
expect_code 0 q run=R-0001 -n 3 -o cat
[ "$(lines)" = 3 ] || fail "-n 3: $(lines) lines"
q run=R-0001 -n 3 -o json | sed 's/^{"seq":"\([0-9]*\)".*/\1/' | tr '\n' ' ' >"$T/seqs"
[ "$(cat "$T/seqs")" = "30 31 32 " ] || fail "-n 3 gives $(cat "$T/seqs")"
q run=R-0001 -r -n 2 -o json | sed 's/^{"seq":"\([0-9]*\)".*/\1/' | tr '\n' ' ' >"$T/seqs"
[ "$(cat "$T/seqs")" = "32 31 " ] || fail "-r -n 2 gives $(cat "$T/seqs")"
expect_code 0 q run=R-0001 -n all
[ "$(lines)" = 8 ] || fail "-n all"

# cursors
expect_code 0 q run=R-0001 -n 1 --show-cursor
c=$(sed -n 's/^-- cursor: //p' "$T/out")
case $c in 32:????????????????) ;; *) fail "cursor '$c'" ;; esac
expect_code 0 q run=R-0001 --after-cursor "$c"
[ -s "$T/out" ] && fail "after the last cursor: $(cat "$T/out")"
c27=$(q seq=27 -o json --show-cursor | sed 's/.*"cursor":"\([^"]*\)".*/\1/')
expect_code 0 q run=R-0001 --after-cursor "$c27" -o cat
[ "$(lines)" = 4 ] || fail "after cursor 27: $(lines) lines"
bad=$(printf '%s' "$c27" | sed 's/:./:z/;s/:z/:0/')
[ "$bad" = "$c27" ] && bad=$(printf '%s' "$c27" | sed 's/:./:1/')
expect_code 65 q --after-cursor "$bad"
grep -q 'the log changed' "$T/err" || fail "cursor mismatch message: $(cat "$T/err")"
expect_code 64 q --after-cursor nonsense
expect_code 66 q --after-cursor 999:0123456789abcdef

# erased bodies show as erased
"$LEDGER" --dir "$D" erase 26 --reason "test" >/dev/null || fail "erase"
expect_code 0 q seq=26 -o json
grep -q '"erased":true' "$T/out" || fail "erased json: $(cat "$T/out")"
expect_code 0 q seq=26
grep -q '\[body erased\]' "$T/out" || fail "erased short: $(cat "$T/out")"
expect_code 0 q run=R-0001 body.status=ok
[ "$(lines)" = 2 ] || fail "erased body still matches body terms"

# conflicts and bad input: usage errors, with a message
expect_code 64 q -f -r
grep -q conflict "$T/err" || fail "-f -r message"
expect_code 64 q -f -U now
expect_code 64 q -r --after-cursor "$c"
expect_code 64 q -o bogus
expect_code 64 q -n 0
expect_code 64 q -n ten
expect_code 64 q --no-such-option
expect_code 64 q -S "next tuesday"
grep -q "bad time 'next tuesday'" "$T/err" || fail "bad time message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "bad time printed on stdout"
expect_code 64 q -U 2026-02-30
grep -q "^ledger query: --until: bad time '2026-02-30': no such date" "$T/err" || fail "bad date message: $(cat "$T/err")"
expect_code 64 q -S @200 -U @100
expect_code 64 q colour=red
grep -q "unknown field 'colour'" "$T/err" || fail "bad field message"
expect_code 64 q seq=9..3
expect_code 64 q type=a +
expect_code 64 q -g '(unclosed'
expect_code 65 q actor=nobody
grep -q "nobody" "$T/err" || fail "unknown actor message"
expect_code 66 "$LEDGER" --dir "$T/none" query

# a reader that goes away (SIGPIPE) ends the query quietly with 0
awk 'BEGIN { for (i = 0; i < 3000; i++)
    printf "{\"type\":\"x.bulk\",\"body\":{\"i\":%d}}\n", i }' >"$T/bulk.jsonl"
"$LEDGER" --dir "$D" ingest "$T/bulk.jsonl" 2>/dev/null || fail "bulk ingest"
{ q -o json 2>"$T/pipe.err"; echo $? >"$T/pipe.rc"; } | head -n 1 >/dev/null
[ "$(cat "$T/pipe.rc")" = 0 ] || fail "SIGPIPE: exit $(cat "$T/pipe.rc")"
[ -s "$T/pipe.err" ] && fail "SIGPIPE: stderr $(cat "$T/pipe.err")"

# --output-fields (journalctl's): only the keys named, in the line's order
expect_code 0 q type=route.decision -o json --output-fields body,seq,model_at
[ "$(lines)" = 2 ] || fail "--output-fields: $(lines) lines"
head -1 "$T/out" | jq -e 'keys_unsorted == ["seq","body","model_at"]' \
    >/dev/null || fail "--output-fields keys: $(head -1 "$T/out")"
q type=route.decision -o json >"$T/full"
jq -c '{seq, body, model_at}' "$T/full" >"$T/want"
jq -c . "$T/out" | cmp -s - "$T/want" ||
    fail "--output-fields differs from the full line's keys"
expect_code 0 q seq=5 -o json-pretty --output-fields type,leaf_hash --show-cursor
jq -e 'keys_unsorted == ["type","leaf_hash","cursor"]' "$T/out" >/dev/null ||
    fail "json-pretty --output-fields: $(cat "$T/out")"
# a cursor still names the leaf when leaf_hash is left out
c5=$(q seq=5 -o json --show-cursor | jq -r .cursor)
expect_code 0 q seq=5 -o json --output-fields seq --show-cursor
[ "$(jq -r .cursor "$T/out")" = "$c5" ] || fail "cursor without leaf_hash: $(cat "$T/out")"
expect_code 64 q -o json --output-fields seq,bdy
grep -q "unknown field 'bdy'" "$T/err" || fail "typo: $(cat "$T/err")"
[ -s "$T/out" ] && fail "a typo printed events"
expect_code 64 q -o json --output-fields ''
grep -q "empty field name" "$T/err" || fail "empty: $(cat "$T/err")"
expect_code 64 q --output-fields seq
grep -q "goes with -o json" "$T/err" || fail "short: $(cat "$T/err")"
expect_code 0 q -S tomorrow -o json --output-fields seq
[ "$(lines)" = 0 ] || fail "empty selection with --output-fields: $(lines)"

# Output past two 4 MiB chunks (a thread writes one while the next is
# filled): every event once, in order, the same as the reverse pass read
# backwards; a full disk is an I/O error (74) naming the cause; a reader
# gone after the first chunks ends quietly.
awk 'BEGIN { for (i = 0; i < 12000; i++)
    printf "{\"type\":\"x.big\",\"body\":{\"i\":%d,\"pad\":\"%0900d\"}}\n", i, i }' \
    >"$T/big.jsonl"
"$LEDGER" --dir "$D" ingest "$T/big.jsonl" 2>/dev/null || fail "big ingest"
expect_code 0 q type=x.big -o json
[ "$(wc -c <"$T/out")" -gt $((9 << 20)) ] || fail "big: only $(wc -c <"$T/out") bytes"
jq -r '.body.i' "$T/out" | awk '$1 != NR - 1 { bad = 1 } END { exit bad || NR != 12000 }' ||
    fail "big: events missing or out of order"
q type=x.big -o json -r | tac | cmp -s - "$T/out" || fail "big: reverse pass differs"
expect_code 74 sh -c "\"\$0\" --dir \"\$1\" query type=x.big -o json >/dev/full" "$LEDGER" "$D"
grep -q "writing the output: No space left on device" "$T/err" ||
    fail "big into /dev/full: $(cat "$T/err")"
[ "$(grep -c . "$T/err")" = 1 ] || fail "big into /dev/full: more than one error: $(cat "$T/err")"
{ q type=x.big -o json 2>"$T/pipe.err"; echo $? >"$T/pipe.rc"; } | head -c $((5 << 20)) >/dev/null
[ "$(cat "$T/pipe.rc")" = 0 ] || fail "big SIGPIPE: exit $(cat "$T/pipe.rc")"
[ -s "$T/pipe.err" ] && fail "big SIGPIPE: stderr $(cat "$T/pipe.err")"

# a name that 20 keys bore in turn (added, used, revoked): actor=NAME
# finds the events of every one (before: at most 17 of a name's keys were
# looked for, and the rest's events were left out without a word)
A=$T/rot
"$LEDGER" --dir "$A" init >/dev/null 2>&1 || fail "init rot"
i=1
while [ $i -le 20 ]; do
    "$LEDGER" --dir "$A" keys add bob >/dev/null 2>&1 || fail "keys add bob ($i)"
    "$LEDGER" --dir "$A" append x.rot --actor bob --body "{\"i\":$i}" >/dev/null 2>&1 ||
        fail "append by bob ($i)"
    "$LEDGER" --dir "$A" keys revoke bob --reason "round $i" >/dev/null 2>&1 ||
        fail "keys revoke bob ($i)"
    i=$((i + 1))
done
n=$("$LEDGER" --dir "$A" query actor=bob type=x.rot -o json | wc -l)
[ "$n" = 20 ] || fail "actor=bob over 20 keys: $n events, want 20"

[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "query_cli: ok"
