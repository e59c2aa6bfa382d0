#!/bin/sh
# trust_signer.sh — "who did it" comes from the log: every view that shows
# an actor a body claims (permission `by`, run `requested_by`) also shows
# the key that signed the event, by name, and -o json carries both as
# "by"/"requested_by" and "signer": {"key_id", "name"}. The claims here
# name people who never signed anything ("alice", "bob"); the signers are
# the keys "ops" and "log".
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
L keys add ops --roles pack,permission,run >/dev/null || exit 1
OPS=$(L keys list -o json | jq -r 'select(.name=="ops") | .key_id')
LOG=$(L keys list -o json | jq -r 'select(.name=="log") | .key_id')
L append pack.installed --actor ops --body '{"pack":"p1","version":"1",
 "manifest_digest":"d","requires":{"permissions":[{"group":"fs.read",
 "scope":"/tmp","tier":"T1"},{"group":"net.egress","scope":"*","tier":"T2"}]}}' \
    >/dev/null || exit 1
L append permission.requested --body '{"pack":"p1","group":"fs.read",
 "scope":"/tmp","tier":"T1"}' >/dev/null || exit 1
L append permission.granted --actor ops --body '{"pack":"p1",
 "group":"fs.read","scope":"/tmp","by":"alice"}' >/dev/null || exit 1
L append permission.denied --body '{"pack":"p1","group":"net.egress",
 "scope":"*","by":"carol"}' >/dev/null || exit 1
L append run.started --actor ops --body '{"run":"R-1","pack":"p1",
 "requested_by":"bob"}' >/dev/null || exit 1
L append run.finished --body '{"run":"R-1","status":"ok"}' >/dev/null || exit 1

# permissions: BY (claimed) and SIGNER (the key)
L permissions >"$T/p" || fail "permissions"
head -1 "$T/p" | grep -q ' BY  *SIGNER ' || fail "no SIGNER column: $(head -1 "$T/p")"
grep -q '^p1  *fs.read .* alice  *ops  ' "$T/p" ||
    fail "fs.read row: $(grep fs.read "$T/p")"
grep -q '^p1  *net.egress .* carol  *log  ' "$T/p" ||
    fail "net.egress row: $(grep net.egress "$T/p")"
L permissions -o json >"$T/pj" || fail "permissions -o json"
jq -e -s --arg k "$OPS" 'map(select(.group=="fs.read"))[0] |
    .by == "alice" and .signer == {"key_id": $k, "name": "ops"}' "$T/pj" \
    >/dev/null || fail "permissions json: $(cat "$T/pj")"
jq -e -s --arg k "$LOG" 'map(select(.group=="net.egress"))[0] |
    .by == "carol" and .signer == {"key_id": $k, "name": "log"}' "$T/pj" \
    >/dev/null || fail "permissions json (log key): $(cat "$T/pj")"
# --at: the state as of an event, signer the same (the grant is event 6:
# event 1 is init's anchor, 2 ops' key.added, 3 its key.anchored — keys add
# anchors a key whose secret the box keeps when the log key is anchored)
L permissions --at 6 -o json | jq -e -s '.[0].signer.name == "ops"' \
    >/dev/null || fail "permissions --at 6: signer"

# runs: requested_by and the signer of run.started
L runs R-1 -o json | jq -e --arg k "$OPS" \
    '.requested_by == "bob" and .signer == {"key_id": $k, "name": "ops"}' \
    >/dev/null || fail "runs json: $(L runs R-1 -o json)"

# timeline: text and json
L timeline R-1 >"$T/t" || fail "timeline"
grep -q 'start .*by=bob  signer=ops' "$T/t" ||
    fail "timeline start line: $(grep start "$T/t")"
grep -q 'granted .*by=alice  signer=ops' "$T/t" ||
    fail "timeline permission line: $(grep granted "$T/t")"
L timeline R-1 -o json >"$T/tj" || fail "timeline -o json"
jq -e --arg k "$OPS" '(.permissions[] | select(.group=="fs.read") |
    .by == "alice" and .signer.key_id == $k and .signer.name == "ops")' \
    "$T/tj" >/dev/null || fail "timeline json permissions"
jq -e '[.events[] | .signer.name] == ["ops", "log"]' "$T/tj" >/dev/null ||
    fail "timeline json events' signers: $(jq -c '[.events[].signer]' "$T/tj")"

# query: ACTOR is the signer's name, beside the claim
L query type=run.started >"$T/q" || fail "query"
grep -q ' run.started pack:p1 ops: .*requested_by=bob' "$T/q" ||
    fail "query short: $(cat "$T/q")"

[ $fails = 0 ] && echo "trust_signer: ok"
exit $fails
