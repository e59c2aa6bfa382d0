#!/bin/sh
# projections_cli.sh — the projection views and the doctor through the
# CLI: the shared pdf-ops example, exit codes (doctor 0/1/2/3, usage 64,
# not found 66), --at, JSON form (64-bit numbers as strings), rebuild and
# rebuild --check, the signed note, and --at against a ledger that only
# ever had the prefix (views compared without their time fields).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/projections_cli.XXXXXX") ||
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
# the same over all JSON Lines at once (jq --slurp)
expect_jqs() {
    got=$(jq -r -s "$3" <"$2" 2>&1)
    [ "$got" = "$4" ] || fail "$1: $3 is '$got', want '$4'"
}
L() { "$LEDGER" --dir "$D" "$@"; }

# ---------------------------------------------- a fresh, empty ledger --
# its views are current and empty, and say so (not "not current"): no
# table header alone on stdout (-o json: no line), and on stderr what is
# true, in one wording for every list view; exit 0 (its 2 events: the
# genesis, 0, and the log key's anchor, 1)
D=$T/fresh
L init >/dev/null || { echo "FAIL: init"; exit 1; }
for v in packs permissions models routes promotions runs plans memory \
    "memory --revoked" evals "tripcode list"; do
    case $v in
    memory) what="memory items" ;;
    "memory --revoked") what="revoked or purged memory items" ;;
    evals) what="eval results" ;;
    "tripcode list") what=tripcodes ;;
    *) what=$v ;;
    esac
    for o in human json; do
        # shellcheck disable=SC2086
        L $v -o $o >"$T/out" 2>"$T/err" || fail "fresh $v -o $o: exit $?"
        [ -s "$T/out" ] && fail "fresh $v -o $o printed: $(cat "$T/out")"
        [ "$(cat "$T/err")" = "ledger ${v%% *}: no $what recorded in this ledger (2 events)" ] ||
            fail "fresh $v -o $o: stderr '$(cat "$T/err")'"
    done
    # on a terminal too: the note, no header, not "not current"
    if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
        timeout 20 script -qec "'$LEDGER' --dir '$D' --no-pager $v" /dev/null \
            </dev/null >"$T/tty" 2>&1
        grep -q 'not current' "$T/tty" && fail "fresh $v: $(cat "$T/tty")"
        [ "$(tr -d '\r' <"$T/tty")" = "ledger ${v%% *}: no $what recorded in this ledger (2 events)" ] ||
            fail "fresh $v on a terminal: $(cat "$T/tty")"
    fi
done
L projections -o json >"$T/out" || fail "fresh projections"
expect_jqs "fresh projections" "$T/out" \
    '[.[] | select(.name != "doctor") | .current] | all' true
L permissions --at 0 >"$T/out" 2>"$T/err" || fail "--at 0 on a fresh ledger: exit $?"
[ ! -s "$T/out" ] && [ "$(cat "$T/err")" = "ledger permissions: no permissions as of event 0" ] ||
    fail "--at 0 on a fresh ledger: $(cat "$T/out" "$T/err")"

D=$T/pdf
L init >/dev/null || { echo "FAIL: init"; exit 1; }
# (event 1 is the log key's anchor: pdf-ops.jsonl's events are 2..32)
L ingest "$ROOT/examples/pdf-ops.jsonl" 2>/dev/null || fail "ingest pdf-ops"

# ------------------------------------------------------------- views --
L packs -o json >"$T/packs.json" || fail "packs"
expect_jq "packs" "$T/packs.json" '.state' declared-not-proven
expect_jq "packs" "$T/packs.json" '.partial' true
expect_jq "packs" "$T/packs.json" '.installed_seq|type' string
L routes -o json >"$T/routes.json" || fail "routes"
expect_jq "routes" "$T/routes.json" \
    'select(.route=="pdf-ops/extract").readiness' fallback-active
expect_jq "routes" "$T/routes.json" \
    'select(.route=="pdf-ops/summarize").readiness' declared-not-proven
L permissions --pack pdf-ops -o json >"$T/perms.json" || fail "permissions"
expect_jq "permissions" "$T/perms.json" \
    'select(.group=="net.egress") | .state + " " + .by + " " + .seq' \
    "denied operator 18"
L models -o json >"$T/models.json" || fail "models"
expect_jq "models" "$T/models.json" \
    'select(.model=="qwen2.5-7b-instruct@q4_k_m").state' offline
L runs R-0001 -o json >"$T/run.json" || fail "runs R-0001"
expect_jq "runs" "$T/run.json" '.status + " " + (.policy.deny|tostring)' \
    "ok 1"
L promotions -o json >"$T/promo.json" || fail "promotions"
L packs >"$T/packs.txt" || fail "packs (human)"
grep -q "pdf-ops.*declared-not-proven+partial" "$T/packs.txt" ||
    fail "packs (human) does not show the state: $(cat "$T/packs.txt")"
# a pack that asks no permissions has none: an empty list, exit 0 (not
# "no such pack", 66, which is for a pack that is not there)
D=$T/bare
L init >/dev/null 2>&1 || fail "init bare"
L append -q pack.installed --body '{"pack":"bare","version":"1.0","manifest_digest":"sha256:'"$(printf '%064d' 0)"'","requires":{"permissions":[]},"source":"local:/x"}' >/dev/null
expect_exit 0 "permissions --pack bare" L permissions --pack bare
[ ! -s "$T/out" ] && grep -q "no permissions for bare recorded" "$T/err" ||
    fail "permissions --pack bare: $(cat "$T/out" "$T/err")"
expect_exit 66 "permissions --pack nope" L permissions --pack nope
grep -q "nope: no such pack" "$T/err" || fail "permissions --pack nope: $(cat "$T/err")"
D=$T/pdf

# ------------------------------------------------------------ doctor --
expect_exit 1 "doctor (degraded)" L doctor
expect_exit 1 "doctor --pack pdf-ops" L doctor --pack pdf-ops -o json
expect_jq "doctor" "$T/out" '.packs[0].verdict' degraded
expect_jq "doctor" "$T/out" \
    '[.packs[0].clauses[] | select(.status=="fail") | .name] | join(",")' \
    "routes-proven,models-available"
expect_jq "doctor" "$T/out" '[.packs[0].clauses[].remedy | length > 0] | all' \
    true
# what the doctor said when run R-0001 started (seq 24)
expect_exit 1 "doctor --at 24" L doctor --pack pdf-ops --at 24 -o json
expect_jq "doctor --at 24" "$T/out" \
    '[.packs[0].clauses[] | .name] | join(",")' "routes-proven"
expect_exit 66 "doctor --pack nope" L doctor --pack nope
grep -q "nope" "$T/err" || fail "doctor --pack nope: no message"

# --------------------------------------------------------- usage, --at --
expect_exit 64 "packs --at x" L packs --at x
expect_exit 64 "packs -o yaml" L packs -o yaml
expect_exit 66 "packs nope" L packs nope
expect_exit 66 "packs --at beyond the log" L packs --at 33
grep -q "beyond the log.s last seq 32" "$T/err" || fail "packs --at 33: $(cat "$T/err")"
expect_exit 64 "rebuild bogus" L rebuild bogus
expect_exit 0 "packs --at 8" L packs --at 8 -o json
[ -s "$T/out" ] && fail "packs --at 8: a pack before pack.installed (seq 9)"

# --------------------------------------------- projections, rebuild --
L projections -o json >"$T/proj.json" || fail "projections"
expect_jqs "projections" "$T/proj.json" '[.[].current] | all' true
L projections --at 32 -o json >"$T/proj32.json" || fail "projections --at"
a=$(jq -r '.digest' <"$T/proj.json" | tr '\n' ' ')
b=$(jq -r '.digest' <"$T/proj32.json" | tr '\n' ' ')
[ "$a" = "$b" ] || fail "stored digests differ from a replay: $a / $b"
L projections --note >"$T/note" || fail "projections --note"
grep -q "^ledger-projections/v1$" "$T/note" || fail "note header"
for name in packs permissions models routes promotions runs doctor; do
    d=$(jq -r "select(.name==\"$name\").digest" <"$T/proj.json")
    v=$(jq -r "select(.name==\"$name\").version" <"$T/proj.json")
    grep -q "^$name $v $d\$" "$T/note" || fail "note does not bind $name $v $d"
done
# (at store layout 9 the notes are signed as the tail is applied: a
# flush first, for one at this size; at 8 a no-op)
L flush >/dev/null || fail "flush"
expect_exit 0 "rebuild" L rebuild -o json
expect_jqs "rebuild" "$T/out" '[.[].changed] | any' false
expect_jqs "rebuild" "$T/out" '[.[].note == "matches"] | all' true
expect_exit 0 "rebuild --check" L rebuild --check
expect_exit 0 "rebuild packs routes" L rebuild packs routes
# every name at once (the cap was 8 of the 10)
expect_exit 0 "rebuild all ten by name" L rebuild packs permissions models \
    routes promotions runs plans memory builds indexes
grep -q "indexes rebuilt" "$T/err" || fail "rebuild ten names: indexes: $(cat "$T/err")"
# --check compares projections; indexes named were said checked and not
expect_exit 64 "rebuild --check indexes" L rebuild --check indexes
expect_exit 64 "rebuild --check packs indexes" L rebuild --check packs indexes
expect_exit 0 "rebuild --check nine" L rebuild --check packs permissions \
    models routes promotions runs plans memory builds

# ------------------------------------------- healthy, unknown, blocked --
D=$T/ready
L init >/dev/null
L ingest "$ROOT/examples/scenarios/ready.jsonl" 2>/dev/null
# (init verified its genesis, the doctor checks the events since: a new
# ledger is healthy before any `ledger verify`; issue 46)
expect_exit 0 "doctor before verify (init verified the genesis)" L doctor
L verify >/dev/null 2>&1 || fail "verify"
expect_exit 0 "doctor after verify (healthy)" L doctor
grep -q "verdict: healthy" "$T/out" || fail "doctor: no healthy verdict line"
D=$T/perm
L init >/dev/null
L ingest "$ROOT/examples/scenarios/permissions.jsonl" 2>/dev/null
# (at seq 8, the file's 7th event after the anchor, 1: fs.write denied)
expect_exit 2 "doctor --at 8 (blocked)" L doctor --pack mail --at 8

# ------------------------------- --at equals a ledger that stopped --
strip='del(.. | .time?, .ts?, .installed?, .start?, .end?)'
for k in 5 14 20 27; do
    D=$T/prefix$k
    L init >/dev/null
    head -n "$k" "$ROOT/examples/scenarios/routes.jsonl" >"$T/head.jsonl"
    L ingest "$T/head.jsonl" 2>/dev/null
    D=$T/full
    [ -d "$D" ] || { L init >/dev/null &&
        L ingest "$ROOT/examples/scenarios/routes.jsonl" 2>/dev/null; }
    for v in packs routes models promotions; do
        D=$T/full
        # (the prefix's last seq is k + 1: event 1 is the key's anchor)
        L "$v" --at $((k + 1)) -o json | jq -S -c "$strip" >"$T/a"
        D=$T/prefix$k
        L "$v" -o json | jq -S -c "$strip" >"$T/b"
        cmp -s "$T/a" "$T/b" ||
            fail "$v --at $((k + 1)) differs from a ledger of $k events"
    done
done

[ "$nfail" -eq 0 ] || { echo "$nfail failures"; exit 1; }
echo "projections_cli: ok"
