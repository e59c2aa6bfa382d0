#!/bin/sh
# bench/journal.sh BUILD_DIR — `ledger query` against the systemd journal
# (issue 49), the same events in both, in one run:
#   - JOURNAL_N events (default 1,000,000) of bench/gen_events (seed 1)
#     ingested into a ledger, then written out of it (`ledger query -o
#     json`), turned into the journal's export format (bench/to_journal.py:
#     MESSAGE "type subject k=v ...", the envelope as LEDGER_* fields, each
#     body field as a field of its own) and imported with
#     systemd-journal-remote into a journal directory;
#   - the scans a user waits for, each side's answer on a pipe to wc -l,
#     the median of JOURNAL_REPS (3) runs, alternating: `query -g REGEX`
#     against `journalctl -g REGEX`, and `query body.status=failed -o
#     short` against `journalctl STATUS=failed -o short` (the target: at
#     least as fast as the journal); then the other queries (a run, a
#     type, a time window, the last 100), where the ledger is to stay
#     ahead.
# Writes bench/out/journal.tsv (scenario, unit, ledger, journalctl, better,
# target, note), which bench/results.sh prints as "Against the journal".
# Needs systemd-journal-remote (setup.sh installs it) and python3.
set -u -f # (-f: the patterns are passed on, never globbed)
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
N=${JOURNAL_N:-1000000}
REPS=${JOURNAL_REPS:-3}
GREP=${JOURNAL_GREP:-tool exited with status [0-9]}
mkdir -p "$OUT/logs"
L=$B/ledger
RSS=$B/bench/rss
JR=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
    [ -x "$p" ] && JR=$p && break
done
TSV=$OUT/journal.tsv
printf 'scenario\tunit\tledger\tjournalctl\tbetter\ttarget\tnote\n' >"$TSV"
if [ -z "$JR" ] || ! command -v journalctl >/dev/null 2>&1 ||
    ! command -v python3 >/dev/null 2>&1; then
    echo "journal: systemd-journal-remote, journalctl or python3 missing (sh setup.sh)"
    printf 'journal\t-\tn/a (systemd-journal-remote missing)\t-\t-\t-\t\n' >>"$TSV"
    exit 0
fi
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | tail -n 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
log() { echo "== journal: $*"; }

D=$OUT/journal-ledger
J=$OUT/journal-dir
DATA=$OUT/journal-events-$N.jsonl
STAMP=$OUT/journal-$N.stamp
want="n=$N $("$L" --version 2>/dev/null | sed -n 's/^formats: *//p')"
if [ "${BENCH_FRESH:-0}" != 1 ] && [ -f "$STAMP" ] &&
    [ "$(cat "$STAMP")" = "$want" ] && [ -f "$D/data.mdb" ] && [ -d "$J" ]; then
    log "reusing $D and $J (BENCH_FRESH=1 rebuilds)"
else
    log "$N events into a ledger and a journal"
    rm -rf "$D" "$J" "$STAMP"
    "$B/bench/gen_events" "$N" --seed 1 >"$DATA" 2>"$DATA.meta" || exit 1
    "$L" --dir "$D" init >/dev/null || exit 1
    "$L" --dir "$D" ingest "$DATA" >/dev/null 2>"$OUT/logs/journal-ingest.err" || {
        echo "journal: ingest failed: $(tail -n 2 "$OUT/logs/journal-ingest.err")"
        exit 1
    }
    mkdir -p "$J"
    "$L" --dir "$D" query -o json -n all | python3 bench/to_journal.py |
        "$JR" -o "$J/ledger.journal" - 2>"$OUT/logs/journal-remote.err" || {
        echo "journal: systemd-journal-remote failed: $(tail -n 2 "$OUT/logs/journal-remote.err")"
        exit 1
    }
    echo "$want" >"$STAMP"
fi
rm -f "$DATA"
jbytes=$(du -sb "$J" | cut -f1)
lbytes=$(stat -c %s "$D/data.mdb")
run=$("$L" --dir "$D" query -o json -n 1 type=run.started 2>/dev/null |
    sed -n 's/.*"run":"\([^"]*\)".*/\1/p')
# a tenth of the log's time, from the middle
t0=$("$L" --dir "$D" show -o json $((N * 45 / 100)) | sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
t1=$("$L" --dir "$D" show -o json $((N * 55 / 100)) | sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
j0=$(date -d "$t0" '+%Y-%m-%d %H:%M:%S.%N' | cut -c1-26)
j1=$(date -d "$t1" '+%Y-%m-%d %H:%M:%S.%N' | cut -c1-26)

# time LABEL CMD...: seconds of one run, its lines in $OUT/logs/LABEL.rows
time_one() {
    label=$1
    shift
    rm -f "$OUT/logs/$label.rss"
    rows=$("$RSS" -o "$OUT/logs/$label.rss" -l "$label" -- "$@" \
        2>"$OUT/logs/$label.err" | wc -l)
    echo "$rows" >"$OUT/logs/$label.rows"
    field secs <"$OUT/logs/$label.rss"
}
# pair TAG NAME TARGET NOTE -- LEDGER-QUERY-ARGS -- JOURNALCTL-ARGS
pair() {
    tag=$1 name=$2 target=$3 note=$4
    shift 5
    la="" ja=""
    while [ "$1" != "--" ]; do la="$la$(printf '%s\037' "$1")"; shift; done
    shift
    for a in "$@"; do ja="$ja$(printf '%s\037' "$a")"; done
    : >"$OUT/logs/j-$tag-l.secs"
    : >"$OUT/logs/j-$tag-j.secs"
    i=0
    while [ $i -lt "$REPS" ]; do
        # shellcheck disable=SC2086
        (IFS=$(printf '\037') && time_one "j-$tag-l" "$L" --dir "$D" query $la) \
            >>"$OUT/logs/j-$tag-l.secs"
        # shellcheck disable=SC2086
        (IFS=$(printf '\037') && time_one "j-$tag-j" journalctl -D "$J" --no-pager $ja) \
            >>"$OUT/logs/j-$tag-j.secs"
        i=$((i + 1))
    done
    ls=$(median <"$OUT/logs/j-$tag-l.secs")
    js=$(median <"$OUT/logs/j-$tag-j.secs")
    lr=$(cat "$OUT/logs/j-$tag-l.rows")
    jr=$(cat "$OUT/logs/j-$tag-j.rows")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" s "$ls" "$js" lo "$target" \
        "lines: ledger $lr, journalctl $jr${note:+; $note}" >>"$TSV"
    echo "journal: $name: ledger ${ls}s ($lr lines), journalctl ${js}s ($jr lines)"
}

log "queries over $N events (median of $REPS)"
pair grep "query -g REGEX ($N)" ratio:1 "-g '$GREP'" -- -n all -o short -g "$GREP" -- -g "$GREP"
pair body "query body.status=failed -o short ($N)" ratio:1 "journalctl STATUS=failed" -- \
    -n all -o short body.status=failed -- STATUS=failed -o short
pair run "query run=R ($N)" ratio:1 "journalctl LEDGER_RUN=R" -- -n all -o short "run=$run" -- \
    "LEDGER_RUN=$run" -o short
pair type "query type=run.finished ($N)" ratio:1 "journalctl LEDGER_TYPE=" -- \
    -n all -o short type=run.finished -- LEDGER_TYPE=run.finished -o short
pair window "query time window ($N)" ratio:1 "a tenth of the log; journalctl --since/--until" -- \
    -n all -o short -S "$t0" -U "$t1" -- --since "$j0" --until "$j1" -o short
pair last "query -n 100 ($N)" ratio:1 "the last 100" -- -n 100 -o short -- -n 100 -o short
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "store bytes an event ($N)" B \
    "$(calc '%.1f' "$lbytes / $N")" "$(calc '%.1f' "$jbytes / $N")" lo - \
    "data.mdb against the journal directory (the journal keeps no proofs)" >>"$TSV"
echo "journal: wrote $TSV"
