#!/bin/sh
# events_fresh.sh — ledger/events.h is what tools/gen_events.sh makes of
# docs/VOCABULARY.md (issue 30: one generated table of event types), and
# the generator notices a change: a type added to the document appears in
# its output, and a document without tables is refused.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/events_fresh.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

cd "$ROOT" || exit 1
if ! sh tools/gen_events.sh docs/VOCABULARY.md > "$T/events.h"; then
    bad "gen_events.sh failed"
elif cmp -s "$T/events.h" ledger/events.h; then
    ok "ledger/events.h is fresh ($(grep -c '^#define LDG_EV_' ledger/events.h) types)"
else
    line=$(cmp "$T/events.h" ledger/events.h 2>&1 | sed -n 's/.* line \([0-9]*\).*/\1/p')
    bad "ledger/events.h is stale from line ${line:-?} (make events): $(diff "$T/events.h" ledger/events.h | head -n 4 | tr '\n' ' ')"
fi

# every type of the document's tables is in the table, and only those
types=$(sed -n 's/^| `\([a-z_][a-z_]*\.[a-z_.]*\)` |.*/\1/p' docs/VOCABULARY.md | sort -u)
have=$(sed -n 's/^#define LDG_EV_[A-Z_]* "\(.*\)"$/\1/p' ledger/events.h | sort -u)
if [ "$types" = "$have" ]; then
    ok "the table holds every type of VOCABULARY.md and no other"
else
    bad "types differ: $(printf '%s\n' "$types" | diff - "$(printf '%s\n' "$have" > "$T/h"; echo "$T/h")" | tr '\n' ' ')"
fi

# the generator follows the document
cp docs/VOCABULARY.md "$T/v.md"
printf '\n| type | body |\n|---|---|\n| `widget.spun` | `speed*` |\n' >> "$T/v.md"
if sh tools/gen_events.sh "$T/v.md" | grep -qx '#define LDG_EV_WIDGET_SPUN "widget.spun"'; then
    ok "a type added to the document appears as LDG_EV_WIDGET_SPUN"
else
    bad "a type added to the document did not appear"
fi
printf '# no tables here\n' > "$T/empty.md"
if sh tools/gen_events.sh "$T/empty.md" > /dev/null 2> "$T/err"; then
    bad "a document without types was accepted"
else
    ok "a document without types is refused: $(cat "$T/err")"
fi
sh tools/gen_events.sh "$T/missing.md" > /dev/null 2> "$T/err"
[ $? -eq 66 ] && ok "a missing document: exit 66, $(cat "$T/err")" ||
    bad "a missing document: not exit 66"

[ "$fails" -eq 0 ] || { echo "events_fresh: $fails failed"; exit 1; }
echo "events_fresh: all passed"
