#!/bin/sh
# pipeline.sh — the control pipeline's evidence (issue 34) end to end, on
# the example box day (examples/pipeline/day.sh): plans and their
# violations by seq, memory items and the purge by hash prefix, tripcodes
# (accepted, cooldown, replay, forged, expired, future, malformed, no
# controller key), the success gates, the doctor's clauses, timeline PLAN,
# export --plan checked by verify-bundle, rebuild --check; and the unhappy
# paths: illegal transitions, unknown plans and items, purges with an
# empty, non-hex, ambiguous or unmatched prefix, vocabulary refusals.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/pipeline.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
# expect_exit CODE what command...
expect_exit() {
    want=$1
    what=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] ||
        fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"
}
# expect_jq what JSON-file jq-filter expected
expect_jq() {
    got=$(jq -r "$3" <"$2" 2>&1)
    [ "$got" = "$4" ] || fail "$1: $3 is '$got', want '$4'"
}
expect_jqs() {
    got=$(jq -r -s "$3" <"$2" 2>&1)
    [ "$got" = "$4" ] || fail "$1: $3 is '$got', want '$4'"
}
expect_err() { # what pattern: stderr of the last expect_exit names it
    grep -q -- "$2" "$T/err" || fail "$1: stderr lacks '$2': $(cat "$T/err")"
}
L() { "$LEDGER" --dir "$D" "$@"; }
# seq of the first event matching query terms
seq_of() { L query -o json "$@" | jq -r '.seq' | head -1; }

# ------------------------------------------------ a fresh, empty ledger --
D=$T/fresh
L init >/dev/null || { echo "FAIL: init"; exit 1; }
# (the lists say they are empty on stderr, with no header alone on
# stdout; gates answers "unknown"; its 2 events: the genesis, 0, and the
# log key's anchor, 1)
for v in plans memory "memory --revoked" gates "tripcode list"; do
    case $v in
    plans) note="no plans recorded" ;;
    memory) note="no memory items recorded" ;;
    "memory --revoked") note="no revoked or purged memory items recorded" ;;
    "tripcode list") note="no tripcodes recorded" ;;
    *) note= ;;
    esac
    # shellcheck disable=SC2086
    L $v >"$T/out" 2>"$T/err" || fail "fresh $v: exit $?"
    if [ -n "$note" ]; then
        [ ! -s "$T/out" ] &&
            [ "$(cat "$T/err")" = "ledger ${v%% *}: $note in this ledger (2 events)" ] ||
            fail "fresh $v: $(cat "$T/out" "$T/err")"
    else
        [ -s "$T/err" ] && fail "fresh $v: $(cat "$T/err")"
    fi
    # shellcheck disable=SC2086
    L $v -o json >"$T/out" 2>"$T/err" || fail "fresh $v -o json"
done
L gates -o json >"$T/out"
expect_jq "fresh gates" "$T/out" '.status + " " + (.promotions|tostring)' \
    "unknown 0"
L plans -o json >"$T/out"
[ -s "$T/out" ] && fail "fresh plans -o json printed rows"

D=$T/day
sh "$ROOT/examples/pipeline/day.sh" "$LEDGER" "$D" "$T/ctl" ||
    { echo "FAIL: examples/pipeline/day.sh"; exit 1; }

# ------------------------------------------------------------- plans --
L plans -o json >"$T/plans.json" || fail "plans"
expect_jqs "plans" "$T/plans.json" '[.[].plan] | join(",")' \
    "P-0917,P-0918,P-0919,P-0920"
expect_jqs "plans" "$T/plans.json" '[.[].state] | join(",")' \
    "PROMOTE,ABORT,PROMOTE,PROMOTE"
expect_jqs "conforming plans" "$T/plans.json" \
    '[.[] | select(.plan != "P-0919") | .violations | length] | add' 0
expect_jq "P-0918 path" "$T/plans.json" \
    'select(.plan=="P-0918") | .path | join(">")' \
    "IDLE>PLAN>DEBATE_PLAN>SIMULATE>VERIFY>ABORT"
s_blue=$(seq_of type=plan.step body.step=edit-router)
s_prom=$(seq_of type=plan.state body.plan=P-0919 body.state=PROMOTE)
s_t3=$(seq_of type=plan.step body.step=reimage)
expect_jq "P-0919 violations" "$T/plans.json" \
    'select(.plan=="P-0919") | [.violations[] | .seq + " " + .rule] | join(",")' \
    "$s_blue mutate-blue,$s_prom promote-without-verify,$s_t3 t3-without-tripcode"
expect_jq "seq is a string" "$T/plans.json" \
    'select(.plan=="P-0919") | .violations[0].seq | type' string
expect_exit 0 "plans P-0919" L plans P-0919
grep -q "promote-without-verify" "$T/out" || fail "plans P-0919: $(cat "$T/out")"
# its passing VERIFY is an event, said so (issue 63: "verified 12" read
# as a count)
s_ver=$(seq_of type=plan.state body.plan=P-0917 body.state=VERIFY)
expect_exit 0 "plans P-0917" L plans P-0917
grep -q "^verified       VERIFY passed at seq $s_ver (after the last change)\$" "$T/out" ||
    fail "plans P-0917: $(grep verified "$T/out")"
expect_exit 66 "plans nope" L plans P-nope
expect_err "plans nope" "P-nope: no such plan"
expect_exit 64 "plans two" L plans P-0917 P-0918
expect_exit 0 "plans --at" L plans --at 5 -o json
[ "$(wc -l <"$T/out")" = 1 ] || fail "plans --at 5: $(cat "$T/out")"

# ------------------------------------------ rules, one plan at a time --
D=$T/rules
L init >/dev/null || fail "init rules"
ev() { printf '%s\n' "$1" >>"$T/rules.jsonl"; }
: >"$T/rules.jsonl"
# R1: skips DEBATE_PLAN and SIMULATE, goes back to IDLE, steps after ABORT
ev '{"type":"plan.state","body":{"plan":"R1","state":"IDLE"}}'
ev '{"type":"plan.state","body":{"plan":"R1","state":"PLAN"}}'
ev '{"type":"plan.state","body":{"plan":"R1","state":"VERIFY","passed":true}}'
ev '{"type":"plan.state","body":{"plan":"R1","state":"IDLE"}}'
ev '{"type":"plan.state","body":{"plan":"R1","state":"ABORT"}}'
ev '{"type":"plan.step","body":{"plan":"R1","step":"late","tool":"x","tier":"T0","status":"ok"}}'
ev '{"type":"plan.state","body":{"plan":"R1","state":"PLAN"}}'
# R2: simulate without a debate; a failed VERIFY not followed by ABORT
ev '{"type":"plan.state","body":{"plan":"R2","state":"PLAN"}}'
ev '{"type":"plan.state","body":{"plan":"R2","state":"DEBATE_PLAN"}}'
ev '{"type":"plan.state","body":{"plan":"R2","state":"SIMULATE","passed":true}}'
ev '{"type":"plan.state","body":{"plan":"R2","state":"VERIFY","passed":false}}'
ev '{"type":"plan.state","body":{"plan":"R2","state":"PROMOTE"}}'
# R3: a debate that accepted after an ERROR vote; T2 steps without a
# snapshot and with one never taken; a T3 step with a tripcode never used;
# a verify undone by a later change
ev '{"type":"plan.state","body":{"plan":"R3","state":"PLAN"}}'
ev '{"type":"plan.state","body":{"plan":"R3","state":"DEBATE_PLAN"}}'
ev '{"type":"debate.vote","body":{"debate":"D3","subject":"plan:R3","round":1,"model":"a","decision":"ERROR"}}'
ev '{"type":"debate.decided","body":{"debate":"D3","subject":"plan:R3","decision":"ACCEPT","rule":"judge"}}'
ev '{"type":"plan.state","body":{"plan":"R3","state":"SIMULATE","passed":true}}'
ev '{"type":"plan.step","body":{"plan":"R3","step":"a","tool":"x","tier":"T2","status":"ok"}}'
ev '{"type":"plan.step","body":{"plan":"R3","step":"b","tool":"x","tier":"T2","status":"ok","snapshot":"S-none"}}'
ev '{"type":"plan.step","body":{"plan":"R3","step":"c","tool":"x","tier":"T3","status":"ok","tripcode":"RECOVERY:LOCKDOWN"}}'
ev '{"type":"plan.state","body":{"plan":"R3","state":"VERIFY","passed":true}}'
ev '{"type":"plan.step","body":{"plan":"R3","step":"d","tool":"x","tier":"T1","status":"ok"}}'
ev '{"type":"plan.state","body":{"plan":"R3","state":"PROMOTE"}}'
# (event 1 is the log key's anchor: the file's events are 2..)
L ingest "$T/rules.jsonl" 2>"$T/err" || fail "ingest rules: $(cat "$T/err")"
L plans -o json >"$T/rules.json" || fail "plans (rules)"
expect_jq "R1 rules" "$T/rules.json" \
    'select(.plan=="R1") | [.violations[].rule] | join(",")' \
    "illegal-transition,illegal-transition,step-after-abort,after-end"
expect_jq "R1 first illegal transition" "$T/rules.json" \
    'select(.plan=="R1") | .violations[0] | .seq + " " + .detail' \
    "4 PLAN -> VERIFY is not a step of IDLE -> PLAN -> DEBATE_PLAN -> SIMULATE -> VERIFY -> PROMOTE"
expect_jq "R2 rules" "$T/rules.json" \
    'select(.plan=="R2") | [.violations[].rule] | join(",")' \
    "debate-not-accepted,abort-on-failure,promote-without-verify"
expect_jq "R3 rules" "$T/rules.json" \
    'select(.plan=="R3") | [.violations[].rule] | join(",")' \
    "debate-fail-closed,t2-without-snapshot,t2-without-snapshot,t3-without-tripcode,promote-without-verify"
expect_jq "R3 verify undone" "$T/rules.json" \
    'select(.plan=="R3") | .violations[-1].detail' \
    "no passing VERIFY after the last change at seq 23"
expect_exit 0 "rebuild --check (rules)" L rebuild --check
# the vocabulary: required fields, enumerations
expect_exit 65 "plan.state bad state" L append plan.state \
    --body '{"plan":"R9","state":"DEPLOY"}'
expect_err "bad state" "field 'state': must be one of"
expect_exit 65 "plan.step without tier" L append plan.step \
    --body '{"plan":"R9","step":"s","tool":"t","status":"ok"}'
expect_err "no tier" "field 'tier': required"
expect_exit 65 "memory.gate bad gate" L append memory.gate \
    --body '{"item":"i","gate":"vibes","passed":true}'
expect_exit 65 "debate.vote round as text" L append debate.vote \
    --body '{"debate":"d","subject":"plan:R9","round":"1","model":"m","decision":"ACCEPT"}'
expect_err "round" "field 'round': must be an integer"
L append plan.state --body '{"plan":"R9","state":"IDLE"}' >/dev/null 2>&1
expect_jq "subject" "$(L show -o json "$(seq_of type=plan.state body.plan=R9)" \
    >"$T/show.json"; echo "$T/show.json")" '.subject' "plan:R9"

# ------------------------------------------------------------ memory --
D=$T/day
L memory -o json >"$T/mem.json" || fail "memory"
expect_jqs "memory" "$T/mem.json" '[.[].item] | join(",")' "note-41"
expect_jq "note-41 gates" "$T/mem.json" '.passed | join(",")' \
    "sanitize,debate,validators,quarantine"
expect_jq "note-41 provenance" "$T/mem.json" '.provenance.toolchain' \
    "tc-2026.11"
expect_jq "note-41 conforms" "$T/mem.json" '.violations | length' 0
L memory --revoked -o json >"$T/rev.json" || fail "memory --revoked"
expect_jq "note-42 purged" "$T/rev.json" '.status + " " + (.hash|tostring)' \
    "purged null"
expect_jq "note-42 violations" "$T/rev.json" '[.violations[].rule] | join(",")' \
    "admitted-without-debate,admitted-without-validators,admitted-without-quarantine"
s_cand=$(L query -o json type=memory.candidate subject=memory:note-42 |
    jq -r '.seq')
L show -o json "$s_cand" >"$T/cand.json" 2>/dev/null
grep -q a9df53ed "$T/cand.json" && fail "note-42's candidate body still there"
s_purge=$(seq_of type=memory.purged)
expect_jq "purge record" "$(L show -o json "$s_purge" >"$T/p.json"; echo "$T/p.json")" \
    '.body.items | join(",")' "note-42"
expect_exit 0 "verify --full after the purge" L verify --full
expect_exit 66 "memory nope" L memory nope
expect_exit 0 "memory note-42" L memory note-42
grep -q "purged" "$T/out" || fail "memory note-42: $(cat "$T/out")"
# purges that must be refused, and change nothing
size0=$(L stats -o json | jq -r '.events')
expect_exit 64 "purge: empty prefix" L memory purge --prefix "" --reason r
expect_exit 64 "purge: no prefix" L memory purge --reason r
expect_exit 64 "purge: no reason" L memory purge --prefix 93
expect_exit 64 "purge: not hex" L memory purge --prefix 93zz --reason r
expect_exit 64 "purge: not hex at all" L memory purge --prefix zz --reason r
expect_err "not hex" "1..64 hex digits"
expect_exit 66 "purge: no match" L memory purge --prefix ffff --reason r
expect_exit 66 "purge: already purged" L memory purge --prefix a9df53 --reason r
expect_exit 64 "purge with --revoked" L memory purge --prefix 93 --reason r --revoked
expect_exit 64 "--prefix without purge" L memory --prefix 93
# --revoked chooses the list; with ITEM it said nothing and was ignored
expect_exit 64 "ITEM with --revoked" L memory a9df53 --revoked
expect_err "ITEM with --revoked" "with ITEM it says nothing"
size1=$(L stats -o json | jq -r '.events')
[ "$size0" = "$size1" ] || fail "refused purges wrote events ($size0 -> $size1)"
# an ambiguous prefix: two items whose hashes start alike
cat >"$T/amb.jsonl" <<'EOF'
{"type":"memory.candidate","body":{"item":"m-a","hash":"abcd0001","provenance":{"models":["m"]}}}
{"type":"memory.candidate","body":{"item":"m-b","hash":"abcd0002","provenance":{"models":["m"]}}}
{"type":"memory.candidate","body":{"item":"m-c","hash":"abcd0002","provenance":{"models":["m"]}}}
EOF
L ingest "$T/amb.jsonl" 2>/dev/null || fail "ingest amb"
expect_exit 65 "purge: ambiguous" L memory purge --prefix abcd --reason r
expect_err "ambiguous" "ambiguous: 2 different hashes"
expect_exit 0 "purge: one hash, two items" L memory purge --prefix ABCD0002 \
    --reason r -o json
expect_jq "two items" "$T/out" '.items | join(",")' "m-b,m-c"
expect_jq "two erasures" "$T/out" '.erased | length' 2
expect_jq "seqs are strings" "$T/out" '[.seq, .erased[]] | map(type) | unique | join(",")' string
expect_exit 0 "purge --all" L memory purge --prefix abcd --all --reason r
L memory --revoked -o json >"$T/rev2.json"
expect_jqs "all purged" "$T/rev2.json" '[.[].status] | unique | join(",")' \
    purged

# a candidate gone with a prune: its body is in the segment, so a purge
# that said "purged" would claim what it did not do; refused, nothing
# written
D=$T/pruned
L init >/dev/null 2>&1 || fail "init pruned"
L append -q memory.candidate --body '{"item":"old-1","hash":"'"$(printf 'e1%062d' 0)"'","provenance":{"source":"s"}}' >/dev/null
L append -q x.later --body '{}' >/dev/null
# (the candidate is seq 2, after the log key's anchor, 1)
L archive --before 3 --out "$T/p.seg" >/dev/null 2>&1 || fail "archive"
L prune --before 3 --archive "$T/p.seg" --force >/dev/null 2>&1 || fail "prune"
sz0=$(L stats -o json | jq -r .events)
expect_exit 66 "purge: candidate pruned" L memory purge --prefix e1 --reason r
expect_err "was pruned" "seq 2 was pruned"
[ "$(L stats -o json | jq -r .events)" = "$sz0" ] || fail "the refused purge wrote"
L memory old-1 -o json >"$T/old.json"
expect_jq "still a candidate" "$T/old.json" '.status' candidate
# items there are, on the other side of --revoked: said so, not "no
# memory items recorded"
expect_exit 0 "memory --revoked, one live" L memory --revoked
expect_err "one live" "no revoked or purged memory items; 1 is live"
D=$T/gone
L init >/dev/null 2>&1 || fail "init gone"
L append -q memory.candidate --body '{"item":"z-1","hash":"'"$(printf 'f2%062d' 0)"'","provenance":{"source":"s"}}' >/dev/null
L memory purge --prefix f2 --reason r >/dev/null 2>&1 || fail "purge z-1"
expect_exit 0 "memory, only purged" L memory
expect_err "only purged" "no live memory items; 1 is revoked or purged"
[ ! -s "$T/out" ] || fail "memory, only purged: stdout $(cat "$T/out")"
D=$T/day

# --------------------------------------------------------- tripcodes --
L tripcode list -o json >"$T/tc.json" || fail "tripcode list"
expect_jq "tripcode" "$T/tc.json" '"\(.uses) \(.spent) \(.refusals)"' "1 1 1"
expect_jq "cooldown" "$T/tc.json" '.refused_reason | startswith("inside its cooldown")' true
K=$T/ctl/ctl.key
now=$(date +%s)
# replay: the accepted text again
expect_exit 1 "replayed" L tripcode verify @"$T/ctl/code1"
expect_err "replayed" "refused: replayed"
# forged: another key's signature, then a flipped signature digit
"$LEDGER" keys generate --out "$T/ctl/other.key" >/dev/null
"$LEDGER" tripcode sign --key "$T/ctl/other.key" RECOVERY:LOCKDOWN >"$T/forged"
expect_exit 1 "forged" L tripcode verify @"$T/forged"
expect_err "forged" "forged"
"$LEDGER" tripcode sign --key "$K" RECOVERY:LOCKDOWN >"$T/good"
sed 's/.$/X/; s/X$/0/' "$T/good" >"$T/flip"
cmp -s "$T/good" "$T/flip" && sed 's/.$/1/' "$T/good" >"$T/flip"
expect_exit 1 "bit-flipped" L tripcode verify @"$T/flip"
expect_err "bit-flipped" "forged"
# a code that is not UTF-8: refused as data, nothing recorded (before:
# "out of memory", 71)
sed 's/LOCKDOWN/LOCK\xff/' "$T/good" >"$T/nonutf8"
n0=$(L checkpoint | sed -n 2p)
expect_exit 65 "not UTF-8" L tripcode verify @"$T/nonutf8"
expect_err "not UTF-8" "tripcode is not UTF-8 text"
[ "$(L checkpoint | sed -n 2p)" = "$n0" ] || fail "not UTF-8: an event was written"
# a changed code under the same signature
sed 's/LOCKDOWN/REIMAGE_TO_GOLDEN/' "$T/good" >"$T/swap"
expect_exit 1 "code swapped" L tripcode verify @"$T/swap"
# expired, from the future
"$LEDGER" tripcode sign --key "$K" --ts $((now - 3600)) RECOVERY:LOCKDOWN >"$T/old"
expect_exit 1 "expired" L tripcode verify @"$T/old"
expect_err "expired" "expired"
"$LEDGER" tripcode sign --key "$K" --ts $((now + 3600)) RECOVERY:LOCKDOWN >"$T/fut"
expect_exit 1 "future" L tripcode verify @"$T/fut"
expect_err "future" "not yet valid"
# accepted, then used twice
expect_exit 0 "lockdown" L tripcode verify --plan P-0919 @"$T/good"
expect_exit 1 "lockdown again" L tripcode verify -o json @"$T/good"
expect_jq "refusal as json" "$T/out" '"\(.seq|type) \(.accepted) \(.code)"' \
    "string false RECOVERY:LOCKDOWN"
cp "$T/out" "$T/again.json"
L query -o json type=tripcode.refused >"$T/r.json"
expect_jq "its seq is the refusal's" "$T/again.json" .seq \
    "$(jq -r -s 'last.seq' "$T/r.json")"
L tripcode list -o json >"$T/tc2.json"
expect_jq "recorded" "$T/tc2.json" \
    'select(.code=="RECOVERY:LOCKDOWN") | "\(.uses) \(.refusals)"' "1 5"
expect_jqs "refusals are events" \
    "$(L query -o json type=tripcode.refused >"$T/r.json"; echo "$T/r.json")" \
    'length' 8
# a long code's refusal cut between characters: its reason is recorded
long=$(printf 'RECOVERY:%0190d\303\251' 0)
expect_exit 1 "long code" L tripcode verify -o json "$now|$long|$(printf '%0128d' 0)"
expect_jq "long code refused" "$T/out" '.reason | startswith("'"'"'RECOVERY:0000")' true
# malformed: nothing recorded
size0=$(L stats -o json | jq -r '.events')
expect_exit 65 "malformed" L tripcode verify "12|RECOVERY:LOCKDOWN"
expect_exit 65 "bad sig" L tripcode verify "12|RECOVERY:LOCKDOWN|zz"
expect_exit 65 "bad ts" L tripcode verify "012|RECOVERY:LOCKDOWN|$(printf '%0128d' 0)"
expect_exit 65 "sign: unknown code" "$LEDGER" tripcode sign --key "$K" RECOVERY:NUKE
expect_err "unknown code" "is not a tripcode"
expect_exit 65 "sign: bad id" "$LEDGER" tripcode sign --key "$K" "RECOVERY:DIAGNOSTIC::a b"
expect_exit 66 "sign: no key file" "$LEDGER" tripcode sign --key "$T/none.key" RECOVERY:LOCKDOWN
expect_exit 64 "sign: no --key" "$LEDGER" tripcode sign RECOVERY:LOCKDOWN
expect_exit 64 "tripcode bogus" L tripcode bogus
expect_exit 66 "verify: no file" L tripcode verify @"$T/nofile"
size1=$(L stats -o json | jq -r '.events')
[ "$size0" = "$size1" ] || fail "malformed tripcodes wrote events"
# one code verified by eight processes at once: exactly one is accepted
# (the history is read and the use recorded under one lock)
"$LEDGER" tripcode sign --key "$K" RECOVERY:DIAGNOSTIC::race >"$T/race"
for i in 1 2 3 4 5 6 7 8; do
    (L tripcode verify @"$T/race" >/dev/null 2>&1; echo $? >"$T/race.$i") &
done
wait
acc=$(cat "$T"/race.? | grep -c '^0$')
ref=$(cat "$T"/race.? | grep -c '^1$')
[ "$acc" = 1 ] && [ "$ref" = 7 ] ||
    fail "racing verifies: $acc accepted and $ref refused, want 1 and 7"
n=$(L query -o json type=tripcode.used body.code=RECOVERY:DIAGNOSTIC::race | grep -c .)
[ "$n" = 1 ] || fail "racing verifies recorded $n uses, want 1"
# no controller key enrolled: nothing recorded, 66
D=$T/nokey
L init >/dev/null
expect_exit 66 "no controller key" L tripcode verify @"$T/good"
expect_err "no controller key" "no controller key is enrolled"
D=$T/day

# ------------------------------------------------------------- gates --
L gates -o json >"$T/gates.json" || fail "gates"
expect_jq "gates" "$T/gates.json" \
    '[.gates[] | .gate + "=" + .status] | join(",")' \
    "promotion-success=fail,errors-after-promotion=fail,no-direct-blue-writes=fail,deterministic-artifacts=pass"
expect_jq "gates" "$T/gates.json" '.gates[0].value' 50
expect_jq "blue evidence" "$T/gates.json" '.gates[2].evidence[0].seq' "$s_blue"
expect_exit 1 "gates --check" L gates --check
expect_exit 0 "gates --since tomorrow" L gates --since tomorrow -o json
expect_jq "gates --since tomorrow" "$T/out" '.status + " " + (.promotions|tostring)' \
    "unknown 0"
expect_exit 64 "gates --since bad" L gates --since yesterdayish

# ------------------------------------------------------------ doctor --
expect_exit 1 "doctor" L doctor -o json
expect_jq "doctor" "$T/out" \
    '[.box[] | select(.name=="plans-conform" or .name=="memory-admission" or .name=="success-gates") | .name + "=" + .status] | join(",")' \
    "plans-conform=fail,memory-admission=ok,success-gates=fail"
expect_jq "doctor remedy" "$T/out" \
    '.box[] | select(.name=="plans-conform") | .remedy[0]' \
    "ledger timeline P-0919"
# a box without the pipeline gets none of these clauses
D=$T/plain
L init >/dev/null
L ingest "$ROOT/examples/pdf-ops.jsonl" 2>/dev/null
L doctor -o json >"$T/out" 2>/dev/null
expect_jq "no pipeline clauses" "$T/out" \
    '[.box[].name | select(.=="plans-conform" or .=="success-gates" or .=="memory-admission")] | length' 0
D=$T/day

# ---------------------------------------------------------- timeline --
expect_exit 0 "timeline P-0919" L timeline P-0919
grep -q "^!   broke mutate-blue" "$T/out" || fail "timeline P-0919: $(cat "$T/out")"
expect_exit 0 "timeline P-0920 -o json" L timeline P-0920 -o json
expect_jq "P-0920 context" "$T/out" \
    '[.events[] | select(.kind=="context") | .type] | unique | join(",")' \
    "key.added,snapshot.taken,tripcode.refused"
expect_exit 66 "timeline unknown" L timeline P-nope
expect_err "timeline unknown" "no run or plan"

# ------------------------------------------------------------ export --
L keys verifier >"$T/vkey"
n=$(L timeline P-0920 -o json | jq '.events | length')
expect_exit 0 "export --plan" L export --plan P-0920 --out "$T/p.bundle"
expect_err "export --plan selects the timeline" "wrote .*: $n events selected"
expect_exit 0 "verify-bundle" "$LEDGER" verify-bundle "$T/p.bundle" \
    --trusted-key "$T/vkey"
grep -q "^bundle OK: .*($n selected)" "$T/err" ||
    fail "verify-bundle of the plan: $(tail -1 "$T/err")"
# the plan as a page: from the ledger, from the bundle, and the bundle's
# own index.html; each names the plan, its broken rules and every event
expect_exit 0 "timeline PLAN --html" L timeline P-0919 --html "$T/p19.html"
[ -s "$T/p19.html" ] || fail "timeline PLAN --html wrote no page"
grep -q "<title>Plan P-0919" "$T/p19.html" || fail "the plan page's title"
for r in mutate-blue promote-without-verify t3-without-tripcode; do
    grep -q "$r" "$T/p19.html" || fail "the plan page lacks rule $r"
done
for sq in $(L timeline P-0919 -o json | jq -r '.events[].seq'); do
    grep -q "#$sq<" "$T/p19.html" || fail "the plan page lacks event $sq"
done
expect_exit 0 "timeline PLAN --html --bundle" "$LEDGER" timeline P-0920 \
    --bundle "$T/p.bundle" --trusted-key "$T/vkey" --html "$T/p20.html"
grep -q "<title>Plan P-0920" "$T/p20.html" || fail "the bundle's plan page"
rm -rf "$T/pi"
"$LEDGER" verify-bundle "$T/p.bundle" --trusted-key "$T/vkey" \
    --extract "$T/pi" >/dev/null 2>&1 || fail "extract for index.html"
grep -q "<title>Plan P-0920" "$T/pi/index.html" ||
    fail "export --plan's index.html is not the plan's page"
# offline, from the bundle alone: the tripcode the plan spent verifies
# with the controller key the bundle carries (its key.added is context)
if python3 -c 'import cryptography' 2>/dev/null; then
    rm -rf "$T/px"
    "$LEDGER" verify-bundle "$T/p.bundle" --trusted-key "$T/vkey" \
        --extract "$T/px" >/dev/null 2>&1 || fail "extract the plan bundle"
    python3 - "$T/px" <<'PY' || fail "the tripcode does not verify offline"
import json, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
d = sys.argv[1]
bodies = {}
for f in os.listdir(d + "/bodies"):
    b = json.load(open(d + "/bodies/" + f))["fields"]
    bodies[int(f.split(".")[0])] = {k: v["value"] for k, v in b.items()}
keys = {b["key_id"]: b["public_key"] for b in bodies.values() if "public_key" in b}
used = [b for b in bodies.values() if "sig" in b and b.get("plan") == "P-0920"
        and "reason" not in b]
assert len(used) == 1, used
u = used[0]
pk = Ed25519PublicKey.from_public_bytes(bytes.fromhex(keys[u["key_id"]]))
pk.verify(bytes.fromhex(u["sig"]), ("%d|%s" % (u["ts"], u["code"])).encode())
PY
fi
# the receiving side: the plan's story from the bundle alone
expect_exit 0 "timeline --bundle" L timeline P-0920 --bundle "$T/p.bundle" \
    --trusted-key "$T/vkey"
grep -q "^plan P-0920: PROMOTE" "$T/out" || fail "timeline --bundle: $(cat "$T/out")"
expect_exit 66 "timeline --bundle, another plan" L timeline P-0919 \
    --bundle "$T/p.bundle" --trusted-key "$T/vkey"
expect_err "another plan" "holds the timeline of plan P-0920, not of P-0919"
expect_exit 0 "export --plan --no-context" L export --plan P-0920 --no-context \
    --out "$T/p2.bundle"
expect_exit 66 "export unknown plan" L export --plan P-nope --out "$T/x.bundle"
expect_exit 64 "export --plan --run" L export --plan P-0920 --run R --out "$T/x.bundle"
# the purge's bundle: erased bodies still verify
expect_exit 0 "export memory" L export type='memory.*' --out "$T/m.bundle"
expect_exit 0 "verify-bundle memory" "$LEDGER" verify-bundle "$T/m.bundle" \
    --trusted-key "$T/vkey"
# a tampered bundle fails
cp "$T/p.bundle" "$T/bad.bundle"
# (another value than the one there, whatever it is)
b=$(od -An -tu1 -j 200 -N 1 "$T/bad.bundle" | tr -d ' ')
printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
    dd of="$T/bad.bundle" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 65 "tampered bundle" "$LEDGER" verify-bundle "$T/bad.bundle" \
    --trusted-key "$T/vkey"

# ----------------------------------------------------------- rebuild --
expect_exit 0 "rebuild --check" L rebuild --check
expect_exit 0 "rebuild plans memory builds" L rebuild plans memory builds -o json
expect_jqs "rebuild" "$T/out" '[.[].changed] | any' false
L projections -o json >"$T/proj.json"
expect_jqs "projections" "$T/proj.json" \
    '[.[] | select(.name=="plans" or .name=="memory" or .name=="builds") | .current] | all' \
    true
L projections --note >"$T/note"
for nv in "plans 2" "memory 1" "builds 1"; do
    grep -q "^$nv " "$T/note" || fail "the signed note does not bind ${nv% *} (version ${nv#* })"
done
# a plan counts the snapshot and tripcode events its timeline shows as its
# own (issue 46: plans P counted 0 of them)
for p in P-0917 P-0919 P-0920; do
    L timeline "$p" -o json >"$T/tl.json" 2>/dev/null
    L plans "$p" -o json >"$T/pl.json" 2>/dev/null
    ws=$(jq '[.events[] | select(.kind == "plan" and (.type | startswith("snapshot.")))] | length' "$T/tl.json")
    wt=$(jq '[.events[] | select(.kind == "plan" and (.type | startswith("tripcode.")))] | length' "$T/tl.json")
    gs=$(jq '.snapshots' "$T/pl.json")
    gt=$(jq '.tripcodes' "$T/pl.json")
    [ "$ws/$wt" = "$gs/$gt" ] ||
        fail "plans $p counts $gs snapshots, $gt tripcodes; its timeline shows $ws, $wt"
    # (its span of events reaches its last snapshot or tripcode event)
    l=$(jq -r '[.events[] | select(.kind == "plan" and (.type | test("^(snapshot|tripcode)\\.")))] | last | .seq // "0"' "$T/tl.json")
    [ "$(jq -r '.last_seq' "$T/pl.json")" -ge "$l" ] ||
        fail "plans $p ends at $(jq -r .last_seq "$T/pl.json"), before its event $l"
done
[ "$(jq .snapshots_restored "$T/pl.json")/$(jq .tripcodes_refused "$T/pl.json")" = 1/1 ] ||
    fail "plans P-0920: restored and refused: $(cat "$T/pl.json")"
# an item admitted with no candidate has no hash: not "(erased)", which
# is a purged item's (issue 46)
L append memory.admitted --body '{"item":"note-99"}' >/dev/null || fail "admit note-99"
L memory >"$T/out"
grep -q '^note-99 .* - ' "$T/out" && ! grep -q '^note-99 .*(erased)' "$T/out" ||
    fail "memory: an item with no candidate: $(grep note-99 "$T/out")"
L memory note-99 | grep -q '^hash  *none: no memory.candidate gave one$' ||
    fail "memory note-99: $(L memory note-99 | grep hash)"
L memory --revoked | grep -q '^note-42 .*(erased)' ||
    fail "memory --revoked: the purged item's hash: $(L memory --revoked)"
# the doctor's remedy for it is a command that works as pasted (issue 46:
# it was prose, "revoke it: record memory.revoked for item ...")
cmd=$(L doctor 2>/dev/null | grep -A1 'memory-admission .*note-99' | sed -n 's/^ *-> //p')
case $cmd in
"ledger append memory.revoked --actor KEY --body '"*) ;;
*) fail "doctor's memory-admission remedy is not a command: '$cmd'" ;;
esac
L keys add mem --roles memory >/dev/null || fail "keys add mem"
eval "$(printf '%s' "$cmd" | sed "s|^ledger |L |; s|--actor KEY|--actor mem|")" >/dev/null ||
    fail "the remedy as pasted: $cmd"
L doctor -o json 2>/dev/null | jq -e '.box[] | select(.name == "memory-admission") | .status == "ok"' >/dev/null ||
    fail "memory-admission after the remedy: $(L doctor 2>/dev/null | grep -A1 memory-admission)"

if [ "$nfail" -ne 0 ]; then
    echo "pipeline: $nfail failure(s)"
    exit 1
fi
echo "pipeline: plans, memory, tripcodes, gates, doctor, timeline, export as documented"
