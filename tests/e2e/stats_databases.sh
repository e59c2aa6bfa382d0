#!/bin/sh
# stats_databases.sh — `ledger stats --databases`: where data.mdb's bytes
# are. Every database the ledger keeps is listed with its records, pages
# and bytes, LMDB's own pages last, and the bytes add up to the file's
# size: on a fresh ledger, after ingest, after appends that free pages
# (a rebuild rewrites the projections), with 3,000 seqs of one type (the
# trees of duplicates no database's count holds: "(ix duplicates)"), and
# in the human table's total.
# The log's counts agree with what stats says of it; a bad flag is 64.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/stats_db.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
export LEDGER_DIR="$T/d"

check() { # check WHAT: the JSON's databases against the file and the log
    "$L" stats --databases -o json >"$T/s.json" 2>"$T/err" ||
        { fail "$1: exit $? ($(cat "$T/err"))"; return; }
    python3 - "$1" "$T/s.json" "$LEDGER_DIR/data.mdb" <<'P' || fail "$1"
import json, os, sys
what, path, mdb = sys.argv[1:]
s = json.load(open(path))
dbs = s["databases"]
names = [d["name"] for d in dbs]
bad = []
total = sum(d["bytes"] for d in dbs)
if total != s["sizes"]["file_bytes"] or total != os.path.getsize(mdb):
    bad.append("bytes add up to %d, file %d (stat %d)" % (total, s["sizes"]["file_bytes"], os.path.getsize(mdb)))
for d in dbs:
    if set(d) != {"name", "records", "pages", "bytes"} or d["bytes"] != d["pages"] * 4096:
        bad.append("row %r" % d)
own = [n for n in names if not n.startswith("(")]
if own != sorted(own):
    bad.append("not in name order: %r" % own)
if names[-3:] != ["(catalogue)", "(free)", "(meta)"]:
    bad.append("LMDB's own rows: %r" % names[-3:])
for core in ["meta", "entries", "bodies", "tree", "checkpoints", "keys", "seals",
             "idx.type", "idx.subject", "idx.run", "idx.actor", "idx.time", "idx.id",
             "tiles", "ix.type", "ix.subject", "ix.run", "ix.actor",
             "entries5", "bodies5", "dicts"]:
    if core not in names:
        bad.append("no %s" % core)
by = {d["name"]: d for d in dbs}
# layout 9 (what init makes, or 8 with LEDGER_LAYOUT=8): the entries
# and bodies in entries5 and bodies5, the type index a seq per event in
# ix.type, and the layout 2 databases and layout 4's entries and bodies
# empty; at 9 the events of the intake's tail are not in LMDB yet
inlmdb = s["events"] - s.get("intake_events", 0)
if by["entries5"]["records"] != inlmdb or by["ix.type"]["records"] != inlmdb:
    bad.append("entries5 %d, ix.type %d, events %d in LMDB" % (by["entries5"]["records"], by["ix.type"]["records"], inlmdb))
if s["layout"] != int(os.environ.get("LEDGER_LAYOUT") or 9) or any(by[n]["records"] for n in ["idx.type", "idx.subject", "idx.run", "idx.actor", "idx.time", "entries", "bodies"]):
    bad.append("layout %r, the layout 2 indexes or entries, bodies hold records" % s["layout"])
if by["bodies5"]["records"] != s["bodies"] - s.get("intake_events", 0):
    bad.append("bodies5 %d, stats says %d" % (by["bodies5"]["records"], s["bodies"]))
if not any(n.startswith("proj.") for n in names):
    bad.append("no projection database")
if bad:
    print("%s: %s" % (what, "; ".join(bad)))
    sys.exit(1)
P
}

"$L" init >/dev/null || exit 1
check "fresh"
"$L" ingest examples/pdf-ops.jsonl >/dev/null 2>&1 || exit 1
check "after ingest"
for i in 1 2 3 4 5 6 7 8; do
    echo '{"n": '$i', "pad": "'"$(head -c 3000 /dev/zero | tr '\0' x)"'"}' |
        "$L" append x.test.note >/dev/null 2>&1 || fail "append $i"
done
"$L" rebuild >/dev/null 2>&1 || fail "rebuild"
check "after appends and a rebuild"
free=$("$L" stats --databases -o json | python3 -c 'import json,sys; print([d for d in json.load(sys.stdin)["databases"] if d["name"] == "(free)"][0]["pages"])')
[ "$free" -gt 0 ] || fail "no free pages after a rebuild rewrote the projections"

# 3,000 events of one type: ix.type keeps their seqs in a tree of their
# own, which LMDB counts in no database; the pages are the row "(ix
# duplicates)" (an index's), and the bytes still add up to the file
awk 'BEGIN { for (i = 0; i < 3000; i++) printf("{\"type\":\"x.many\",\"body\":{\"n\":%d}}\n", i) }' |
    "$L" ingest - >/dev/null 2>&1 || fail "ingest 3000"
check "with a type of 3,000 events"
dup=$("$L" stats --databases -o json | python3 -c 'import json,sys; print(sum(d["pages"] for d in json.load(sys.stdin)["databases"] if d["name"] == "(ix duplicates)"))')
[ "$dup" -gt 0 ] || fail "no (ix duplicates) pages for 3,000 seqs of one type"

# the human table: a header, a row a database, a total equal to the file
"$L" stats --databases >"$T/h" || fail "human: exit $?"
grep -q '^database  *records  *pages  *bytes  *bytes/event$' "$T/h" || fail "human: no header: $(cat "$T/h")"
size=$(stat -c %s "$LEDGER_DIR/data.mdb")
awk -v s="$size" '$1 == "total" { t = $2 } END { exit t == s ? 0 : 1 }' "$T/h" ||
    fail "human: the total is not $size: $(grep '^total' "$T/h")"
grep -q '^entries5 ' "$T/h" || fail "human: no entries5 row"
# without the flag: no table, and no databases in JSON
"$L" stats >"$T/h2" && ! grep -q '^database ' "$T/h2" || fail "plain stats shows the table"
"$L" stats -o json | python3 -c 'import json,sys; sys.exit("databases" in json.load(sys.stdin))' ||
    fail "plain stats -o json has databases"
# misuse
"$L" stats --database-s >/dev/null 2>"$T/err"
[ $? = 64 ] || fail "a bad flag: not 64"
"$L" stats extra >/dev/null 2>&1
[ $? = 64 ] || fail "a positional: not 64"
LEDGER_DIR="$T/none" "$L" stats --databases >/dev/null 2>"$T/err"
rc=$?
[ $rc = 66 ] || fail "no ledger: exit $rc ($(cat "$T/err"))"

[ "$nfail" = 0 ] && echo "stats_databases: ok" && exit 0
echo "stats_databases: $nfail failures"
exit 1
