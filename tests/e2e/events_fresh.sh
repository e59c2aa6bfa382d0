#!/bin/sh
# events_fresh.sh — ledger/events.h and ledger/vocab.def are what
# tools/gen_events.sh makes of docs/VOCABULARY.md (issues 30 and 47: one
# description of the event types), and the generator notices a change: a
# type added to the table appears with its rules, a type the prose names
# but the table lacks, a field of unknown type and a document without
# tables are refused.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/events_fresh.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

cd "$ROOT" || exit 1
for f in events.h vocab.def; do
    case $f in vocab.def) opt=--rules ;; *) opt= ;; esac
    if ! sh tools/gen_events.sh $opt docs/VOCABULARY.md > "$T/$f"; then
        bad "gen_events.sh $opt failed"
    elif cmp -s "$T/$f" "ledger/$f"; then
        ok "ledger/$f is fresh ($(grep -c '^#define LDG_EV_\|^X(' "ledger/$f") types)"
    else
        line=$(cmp "$T/$f" "ledger/$f" 2>&1 | sed -n 's/.* line \([0-9]*\).*/\1/p')
        bad "ledger/$f is stale from line ${line:-?} (make events): $(diff "$T/$f" "ledger/$f" | head -n 4 | tr '\n' ' ')"
    fi
done

# every type any table of the document names is in the table, and only those
types=$(grep '^| `[a-z_]*\.' docs/VOCABULARY.md | cut -d'|' -f2 | tr -d '` ' |
    tr ',/' '\n\n' | sort -u)
have=$(sed -n 's/^#define LDG_EV_[A-Z_]* "\(.*\)"$/\1/p' ledger/events.h | sort -u)
if [ "$types" = "$have" ]; then
    ok "the table holds every type of VOCABULARY.md and no other"
else
    bad "types differ: $(printf '%s\n' "$types" | diff - "$(printf '%s\n' "$have" > "$T/h"; echo "$T/h")" | tr '\n' ' ')"
fi

# the generator follows the document: a row added to the field types
# table becomes a name and a rule
cp docs/VOCABULARY.md "$T/v.md"
sed -i 's/^| `health.probe` |.*/&\n| `widget.spun` | `speed`* number; `mode` string (one of `fast`, `slow`) |/' "$T/v.md"
if sh tools/gen_events.sh "$T/v.md" | grep -qx '#define LDG_EV_WIDGET_SPUN "widget.spun"' &&
    sh tools/gen_events.sh --rules "$T/v.md" |
    grep -qx 'X(WIDGET_SPUN, "speed\*:n mode:s=fast|slow")'; then
    ok "a type added to the table appears as LDG_EV_WIDGET_SPUN with its rules"
else
    bad "a type added to the table did not appear with its rules"
fi
# a type the prose names but the field types table lacks is refused
cp docs/VOCABULARY.md "$T/v.md"
printf '\n| type | body |\n|---|---|\n| `widget.spun` | `speed*` |\n' >> "$T/v.md"
if sh tools/gen_events.sh "$T/v.md" > /dev/null 2> "$T/err"; then
    bad "a type missing from the field types table was accepted"
else
    grep -q 'widget.spun is not in the "Field types" table' "$T/err" &&
        ok "a type missing from the field types table is refused: $(cat "$T/err")" ||
        bad "a type missing from the field types table: $(cat "$T/err")"
fi
# a field whose type is not one of the words
cp docs/VOCABULARY.md "$T/v.md"
sed -i 's/^| `health.probe` | `target`\* string/| `health.probe` | `target`* strnig/' "$T/v.md"
if sh tools/gen_events.sh --rules "$T/v.md" > /dev/null 2> "$T/err"; then
    bad "a field of unknown type was accepted"
else
    grep -q ':[0-9]*: field target: unknown type' "$T/err" &&
        ok "a field of unknown type is refused with its line: $(cat "$T/err")" ||
        bad "a field of unknown type: $(cat "$T/err")"
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
