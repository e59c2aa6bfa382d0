#!/bin/sh
# trust_roles.sh — key roles are enforced (docs/FORMAT.md, Key roles): a
# key signs only the types its roles allow (append: exit 77 naming key,
# type and key.added, nothing written); an unknown role is refused before
# any key file is written (exit 64); keys list shows the roles; a key
# added without roles and the log key sign anything; the log verifies.
# (verify's finding for an event signed outside its roles: test_verify.c,
# which has to bypass the writer to make one.)
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
DEC='{"route":"pdf-ops/extract","chosen_model":"m1"}'
STEP='{"run":"R-1","step":"s1","tool":"t","status":"ok"}'

L init >/dev/null || exit 1
L keys add runner --roles run >/dev/null || fail "keys add --roles run"
L keys add cp --roles control-plane,x >/dev/null ||
    fail "keys add --roles control-plane,x"
L keys add free >/dev/null || fail "keys add without roles"

# an unknown role: usage error, no key file, no event
L stats -o json >"$T/before" 2>&1
L keys add typo --roles rnu >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 64 ] || fail "unknown role: exit $rc, want 64"
grep -q "unknown role 'rnu'" "$T/err" || fail "unknown role: '$(cat "$T/err")'"
grep -q "known: .*run" "$T/err" || fail "unknown role lists no known roles"
[ -e "$D/keys/typo.key" ] && fail "unknown role left keys/typo.key"
L stats -o json >"$T/after" 2>&1
cmp -s "$T/before" "$T/after" || fail "unknown role changed the ledger"

# inside its roles: ok; outside: 77, named, nothing written
L append run.step --actor runner --body "$STEP" >/dev/null ||
    fail "runner may sign run.step"
n0=$(L stats -o json | jq -r .events)
L append route.decision --actor runner --body "$DEC" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 77 ] || fail "outside roles: exit $rc, want 77"
grep -q "key 'runner' (.*) may not sign route.decision" "$T/err" ||
    fail "outside roles message: '$(cat "$T/err")'"
# (runner's key.added is event 2: event 1 is init's anchor)
grep -q "at event 2" "$T/err" || fail "message names no key.added"
[ -s "$T/out" ] && fail "refused append printed '$(cat "$T/out")'"
n1=$(L stats -o json | jq -r .events)
[ "$n0" = "$n1" ] || fail "refused append wrote: $n0 -> $n1 events"
# ingest applies the same rule, per line
printf '%s\n' \
    "{\"type\":\"run.step\",\"actor\":\"runner\",\"body\":$STEP}" \
    "{\"type\":\"x.note\",\"actor\":\"runner\",\"body\":{}}" >"$T/in.jsonl"
L ingest --strict "$T/in.jsonl" >"$T/out" 2>"$T/err" &&
    fail "strict ingest of a line outside roles passed"
grep -q "may not sign x.note" "$T/err" ||
    fail "strict ingest message: '$(cat "$T/err")'"
n2=$(L stats -o json | jq -r .events)
[ "$n1" = "$n2" ] || fail "strict ingest committed: $n1 -> $n2 events"

L append route.decision --actor cp --body "$DEC" >/dev/null ||
    fail "control-plane may sign route.decision"
L append x.note --actor cp --body '{}' >/dev/null || fail "x may sign x.note"
L append run.step --actor cp --body "$STEP" >/dev/null 2>&1 &&
    fail "control-plane signed run.step"
L append run.step --actor free --body "$STEP" >/dev/null ||
    fail "a key without roles may sign run.step"
L append route.decision --body "$DEC" >/dev/null ||
    fail "the log key may sign route.decision"

# keys list shows the roles
L keys list >"$T/keys" || fail "keys list"
grep -q '^runner .* run$' "$T/keys" || fail "keys list: $(cat "$T/keys")"
grep -q '^cp .* control-plane,x$' "$T/keys" || fail "keys list cp roles"
grep -q '^free .*(none: any actor type)' "$T/keys" || fail "keys list free"
L keys list -o json | jq -s -e 'map(select(.name=="runner"))[0].roles == ["run"]' \
    >/dev/null || fail "keys list -o json roles"

L verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"
L keys add --help | grep -q 'control-plane' ||
    fail "keys --help does not list the roles"

[ $fails = 0 ] && echo "trust_roles: ok"
exit $fails
