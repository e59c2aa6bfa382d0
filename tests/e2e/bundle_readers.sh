#!/bin/sh
# bundle_readers.sh — `ledger timeline|query|doctor --bundle FILE` on the
# receiving side, with no ledger: the bundle is verified first and nothing
# of it is shown unless it verifies; what is shown agrees with the ledger
# it came from; every unhappy path has its own error and exit code.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
# R ARGS...: run without any ledger (--dir points nowhere)
R() { "$LEDGER" --dir "$T/nowhere" "$@" >"$T/out" 2>"$T/err"; rc=$?; }

L init >/dev/null || exit 1
# (event 1 is the log key's anchor: pdf-ops.jsonl's events are 2..32)
L ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys verifier >"$T/box.vkey" || exit 1
L export --run R-0001 --out "$T/r1.bundle" 2>/dev/null || exit 1
B=$T/r1.bundle
K="--trusted-key $T/box.vkey"

# --- timeline --------------------------------------------------------------
# shellcheck disable=SC2086
R timeline R-0001 --bundle "$B" $K
[ "$rc" = 0 ] || fail "timeline --bundle: exit $rc $(cat "$T/err")"
L timeline R-0001 >"$T/want" 2>/dev/null
cmp -s "$T/out" "$T/want" || fail "timeline --bundle differs from the ledger's"
grep -q "bundle $B verified" "$T/err" || fail "timeline: no verified note"
# shellcheck disable=SC2086
R timeline R-0001 --bundle "$B" $K -o json
L timeline R-0001 -o json >"$T/want" 2>/dev/null
cmp -s "$T/out" "$T/want" || fail "timeline --bundle -o json differs"
# shellcheck disable=SC2086
R timeline R-0002 --bundle "$B" $K
[ "$rc" = 66 ] || fail "timeline of another run: exit $rc"
grep -q "holds the timeline of run R-0001, not of run R-0002" "$T/err" ||
    fail "another run: $(cat "$T/err")"

# --- query -----------------------------------------------------------------
for terms in "type=route.decision" "actor=log type=run.*" "body.outcome=ok" \
    "run=R-0001 + type=model.state" "seq=26..29"; do
    # shellcheck disable=SC2086
    R query --bundle "$B" $K $terms -o json
    [ "$rc" = 0 ] || fail "query --bundle $terms: exit $rc $(cat "$T/err")"
    sed 's/^{"seq":"\([0-9]*\)".*/\1/' "$T/out" >"$T/got"
    # the bundle has only the selected events: compare within them
    tar --zstd -xOf "$B" r1/events.jsonl |
        sed 's/^{"seq":"\([0-9]*\)".*/\1/' >"$T/sel"
    # shellcheck disable=SC2086
    L query $terms -o json | sed 's/^{"seq":"\([0-9]*\)".*/\1/' |
        grep -xF -f "$T/sel" >"$T/want"
    cmp -s "$T/got" "$T/want" ||
        fail "query --bundle $terms: $(tr '\n' ' ' <"$T/got") want $(tr '\n' ' ' <"$T/want")"
done
# each event as `query` prints it, in every format --bundle takes (issue
# 46: the short lines were the bundle's own, unquoted, on the source's
# clock, with the subject's field; the JSON lacked the two clocks)
tar --zstd -xOf "$B" r1/events.jsonl | sed 's/^{"seq":"\([0-9]*\)".*/\1/' >"$T/sel"
L append x.bundle.v2 --id i-1 --time 2026-01-01T00:00:00Z --run R-0001 \
    --body '{"note":"with spaces","n":1}' >/dev/null
L export --run R-0001 --out "$T/r1b.bundle" 2>/dev/null || fail "export again"
for f in short short-iso short-utc json json-pretty; do
    # shellcheck disable=SC2086
    R query --bundle "$T/r1b.bundle" $K run=R-0001 -n all -o $f
    [ "$rc" = 0 ] || fail "query --bundle -o $f: exit $rc $(cat "$T/err")"
    L query run=R-0001 -n all -o $f >"$T/want"
    cmp -s "$T/out" "$T/want" ||
        fail "query --bundle -o $f differs from query: $(diff "$T/out" "$T/want" | head -n 4)"
done
# --output-fields selects the bundle's keys as a ledger's
# shellcheck disable=SC2086
R query --bundle "$B" $K type=route.decision -o json --output-fields seq,type
[ "$rc" = 0 ] && [ "$(jq -c 'keys_unsorted' "$T/out" | sort -u)" = '["seq","type"]' ] ||
    fail "query --bundle --output-fields: exit $rc $(cat "$T/out" "$T/err")"
# shellcheck disable=SC2086
R query --bundle "$B" $K -o json --output-fields sequence
[ "$rc" = 64 ] && grep -q "unknown field 'sequence'" "$T/err" ||
    fail "query --bundle --output-fields typo: exit $rc $(cat "$T/err")"
# shellcheck disable=SC2086
R query --bundle "$B" $K type=route.decision -n 1 -r
[ "$(wc -l <"$T/out")" = 1 ] && grep -q ' 30 route.decision ' "$T/out" ||
    fail "query --bundle -n 1 -r: $(cat "$T/out")"
# shellcheck disable=SC2086
R query --bundle "$B" $K -g 'primary offline'
grep -q ' 30 route.decision ' "$T/out" && [ "$(wc -l <"$T/out")" = 1 ] ||
    fail "query --bundle -g: $(cat "$T/out")"
# shellcheck disable=SC2086
R query --bundle "$B" $K type=nothing.here
[ "$rc" = 0 ] && [ ! -s "$T/out" ] || fail "no match: exit $rc"
# shellcheck disable=SC2086
R query --bundle "$B" $K -f
[ "$rc" = 64 ] || fail "query --bundle -f: exit $rc"
# shellcheck disable=SC2086
R query --bundle "$B" $K 'bogus~x'
[ "$rc" = 64 ] || fail "query --bundle bad term: exit $rc"

# --- doctor ----------------------------------------------------------------
# shellcheck disable=SC2086
R doctor --bundle "$B" $K
[ "$rc" = 1 ] || fail "doctor --bundle: exit $rc (degraded is 1)"
grep -q '^verdict: degraded (log size 33)' "$T/out" ||
    fail "doctor --bundle: $(tail -n 1 "$T/out")"
grep -q 'live box-wide checks are not in it' "$T/err" ||
    fail "doctor --bundle does not say what it lacks"
start=$(L query run=R-0001 type=run.started -o json | sed 's/^{"seq":"\([0-9]*\)".*/\1/')
at=$((start - 1))
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --at "$at" -o json
[ "$rc" = 1 ] || fail "doctor --bundle --at $at: exit $rc $(cat "$T/err")"
L doctor --at "$at" -o json >"$T/want" 2>/dev/null
[ "$(jq -c '.packs' "$T/out")" = "$(jq -c '.packs' "$T/want")" ] ||
    fail "doctor --bundle --at $at differs from the ledger's"
# every event of the run, not only its start and end: the same packs as
# the ledger's doctor there (the model goes offline at 29, mid-run)
end=$(L query run=R-0001 type=run.finished -o json | sed 's/^{"seq":"\([0-9]*\)".*/\1/')
for s in $(seq "$at" "$end"); do
    # shellcheck disable=SC2086
    R doctor --bundle "$B" $K --at "$s" -o json
    L doctor --at "$s" -o json >"$T/want" 2>/dev/null
    [ "$(jq -c '.packs' "$T/out")" = "$(jq -c '.packs' "$T/want")" ] &&
        [ "$(jq -r .size "$T/out")" = $((s + 1)) ] ||
        fail "doctor --bundle --at $s differs from the ledger's (exit $rc): $(cat "$T/err")"
done
# a time inside the run: the log as of the last event at or before it
# (the ledger's recorded time, which --at selects by; "ts" is the source's)
ts29=$(L show 29 -o json | sed -n 's/.*"recorded_ts":"\([0-9]*\)".*/\1/p')
ts28=$(L show 28 -o json | sed -n 's/.*"recorded_ts":"\([0-9]*\)".*/\1/p')
secs() { echo "@$(($1 / 1000000000)).$(printf '%09d' $(($1 % 1000000000)))"; }
for pair in "$ts29:29" "$ts28:28"; do
    # shellcheck disable=SC2086
    R doctor --bundle "$B" $K --at "$(secs "${pair%%:*}")" -o json
    L doctor --at "${pair#*:}" -o json >"$T/want" 2>/dev/null
    [ "$(jq -c '.packs' "$T/out")" = "$(jq -c '.packs' "$T/want")" ] ||
        fail "doctor --bundle --at the time of event ${pair#*:}: exit $rc $(cat "$T/err")"
done
# outside the run (and not the checkpoint): exit 66 naming the range
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --at 5
[ "$rc" = 66 ] || fail "doctor --at not in the bundle: exit $rc"
grep -q "\-\-at event 5 is outside bundle .*: it answers at events $at\.\.$end (.*) of run R-0001 and at event 32 (the checkpoint)" "$T/err" ||
    fail "doctor --at 5: $(cat "$T/err")"
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --at yesterday
[ "$rc" = 66 ] || fail "doctor --bundle --at yesterday: exit $rc"
grep -q "\-\-at yesterday is outside bundle .*: it answers at events $at\.\.$end" "$T/err" ||
    fail "doctor --at yesterday: $(cat "$T/err")"
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --at +1h
[ "$rc" = 64 ] && grep -q "\-\-at '+1h' is in the future" "$T/err" ||
    fail "doctor --bundle --at +1h: exit $rc $(cat "$T/err")"
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --at 'not a time'
[ "$rc" = 64 ] || fail "doctor --bundle --at 'not a time': exit $rc"
# shellcheck disable=SC2086
R doctor --bundle "$B" $K --pack nope
[ "$rc" = 66 ] || fail "doctor --bundle --pack nope: exit $rc"

# --pack P is P's verdict, as the live doctor gives it: another pack's
# failure (zz: installed, never validated: blocked) never changes it (the
# bundle's own verdict is every active pack's)
D2=$T/l2
"$LEDGER" --dir "$D2" init >/dev/null || exit 1
"$LEDGER" --dir "$D2" ingest "$(dirname "$0")/../../examples/pdf-ops.jsonl" 2>/dev/null
"$LEDGER" --dir "$D2" append -q pack.installed --body '{"pack":"zz","version":"1.0","manifest_digest":"sha256:'"$(printf '%064d' 0)"'","requires":{"permissions":[]},"source":"local:/x"}' >/dev/null
"$LEDGER" --dir "$D2" export --out "$T/two.bundle" >/dev/null 2>&1
"$LEDGER" --dir "$D2" keys verifier >"$T/two.vkey"
"$LEDGER" --dir "$D2" doctor --pack pdf-ops >/dev/null 2>&1
live=$?
R doctor --bundle "$T/two.bundle" --trusted-key "$T/two.vkey" --pack pdf-ops -o json
[ "$rc" = "$live" ] && [ "$rc" = 1 ] && [ "$(jq -r .verdict "$T/out")" = degraded ] ||
    fail "doctor --bundle --pack pdf-ops: exit $rc (live $live), $(jq -c .verdict "$T/out")"
R doctor --bundle "$T/two.bundle" --trusted-key "$T/two.vkey" --pack zz
[ "$rc" = 2 ] || fail "doctor --bundle --pack zz: exit $rc"
R doctor --bundle "$T/two.bundle" --trusted-key "$T/two.vkey"
[ "$rc" = 2 ] || fail "doctor --bundle of both: exit $rc"

# --- verified before anything is shown -----------------------------------
R timeline R-0001 --bundle "$B"
[ "$rc" = 64 ] && grep -q 'pass --trusted-key' "$T/err" ||
    fail "no trust anchor: exit $rc"
# a missing file is said first (66, naming it), with or without a trust
# flag, in verify-bundle's words ("cannot open", not "cannot read"), and
# once: one line, no "FAIL archive:" line saying it again before it, and
# nothing on stdout
once() { # WHAT: one line on stderr and it says "cannot open $1", no stdout
    [ "$(wc -l <"$T/err")" = 1 ] && [ "$(grep -c "cannot open" "$T/err")" = 1 ] &&
        grep -q "cannot open $1" "$T/err" && ! grep -q "cannot read\|FAIL" "$T/err" &&
        [ ! -s "$T/out" ]
}
for cmd in "timeline R-0001" "query" "doctor" "timeline R-0001 --html $T/h.html"; do
    for trust in "" "$K"; do
        # shellcheck disable=SC2086
        R $cmd --bundle "$T/missing.bundle" $trust
        [ "$rc" = 66 ] && once "$T/missing.bundle: No such file" ||
            fail "$cmd --bundle MISSING ${trust:-no trust flag}: exit $rc $(cat "$T/err")"
    done
done
[ -e "$T/h.html" ] && fail "timeline --html of a missing bundle wrote $T/h.html"
# the other reader of an archive: prune --archive (nothing pruned)
L prune --before 5 --archive "$T/missing.bundle" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] && once "$T/missing.bundle: No such file" ||
    fail "prune --archive MISSING: exit $rc $(cat "$T/err")"
R verify-bundle "$T/missing.bundle"
[ "$rc" = 66 ] && grep -q "cannot open .*missing.bundle" "$T/err" ||
    fail "verify-bundle MISSING, no trust flag: exit $rc $(cat "$T/err")"
# a directory is no input either (66, saying so), not an I/O error (74)
for cmd in "timeline R-0001" "query" "doctor"; do
    # shellcheck disable=SC2086
    R $cmd --bundle "$T" $K
    [ "$rc" = 66 ] && once "$T: Is a directory" ||
        fail "$cmd --bundle DIR: exit $rc $(cat "$T/err")"
done
R verify-bundle "$T" $K
[ "$rc" = 66 ] && grep -q "cannot open $T: Is a directory" "$T/err" ||
    fail "verify-bundle DIR: exit $rc $(cat "$T/err")"
# ... and its summary does not call it "not found" or unreadable
grep -q "not found\|not a readable" "$T/err" &&
    fail "verify-bundle DIR: the summary names another cause: $(cat "$T/err")"
R query --trusted-key "$T/box.vkey" type=run.started
[ "$rc" = 64 ] || fail "--trusted-key without --bundle: exit $rc"
# so is --max-bytes, a bundle reader's limit: it was taken and ignored
for cmd in "timeline R-0001" "query" "doctor"; do
    # shellcheck disable=SC2086
    R $cmd --max-bytes 5
    [ "$rc" = 64 ] && [ ! -s "$T/out" ] && grep -q -- "--max-bytes go with --bundle FILE" "$T/err" ||
        fail "$cmd --max-bytes without --bundle: exit $rc $(cat "$T/err")"
done
mkdir "$T/other" && "$LEDGER" --dir "$T/other" init >/dev/null &&
    "$LEDGER" --dir "$T/other" keys verifier >"$T/other.vkey"
for cmd in "timeline R-0001" "query" "doctor"; do
    # shellcheck disable=SC2086
    R $cmd --bundle "$B" --trusted-key "$T/other.vkey"
    [ "$rc" = 1 ] || fail "$cmd with another log's key: exit $rc"
    [ -s "$T/out" ] && fail "$cmd with another log's key printed: $(head -c 200 "$T/out")"
    grep -q '^FAIL log-key' "$T/err" || fail "$cmd: no FAIL log-key: $(cat "$T/err")"
done
# a tampered bundle: a body changed, repacked
mkdir "$T/x" && tar --zstd -xf "$B" -C "$T/x" &&
    sed -i 's/primary offline/primary fine/' "$T/x/r1/events.jsonl" &&
    (cd "$T/x" && tar --zstd -cf "$T/bad.bundle" r1)
for cmd in "timeline R-0001" "query" "doctor"; do
    # shellcheck disable=SC2086
    R $cmd --bundle "$T/bad.bundle" $K
    [ "$rc" = 1 ] || fail "$cmd on a tampered bundle: exit $rc"
    [ -s "$T/out" ] && fail "$cmd on a tampered bundle printed something"
    grep -q 'does not verify; nothing of it is shown' "$T/err" ||
        fail "$cmd tampered: $(cat "$T/err")"
done
# shellcheck disable=SC2086
R query --bundle "$T/missing.bundle" $K
[ "$rc" = 66 ] || fail "missing bundle: exit $rc"
echo junk >"$T/junk.bundle"
# shellcheck disable=SC2086
R query --bundle "$T/junk.bundle" $K
[ "$rc" = 65 ] || fail "not a bundle: exit $rc"

# --- a redacted bundle: no timeline, withheld fields do not match ---------
L export --run R-0001 --redact requested_by --out "$T/red.bundle" 2>/dev/null ||
    fail "export --redact"
# shellcheck disable=SC2086
R timeline R-0001 --bundle "$T/red.bundle" $K
# (its run's events as the bundle gives them, redactions applied, saying
# that it holds no timeline.json; not that `export --run` writes one, as
# this bundle was so written: only when nothing is redacted)
[ "$rc" = 0 ] && grep -q 'holds no timeline.json' "$T/err" &&
    grep -q 'writes one when nothing is redacted' "$T/err" &&
    grep -q '^run R-0001 ' "$T/out" ||
    fail "redacted bundle timeline: exit $rc $(cat "$T/err")"
# shellcheck disable=SC2086
R timeline R-9999 --bundle "$T/red.bundle" $K
[ "$rc" = 66 ] && grep -q 'holds no timeline and no event of run R-9999' "$T/err" ||
    fail "redacted bundle, another run's timeline: exit $rc $(cat "$T/err")"
# shellcheck disable=SC2086
R query --bundle "$T/red.bundle" $K body.requested_by=operator
[ "$rc" = 0 ] && [ ! -s "$T/out" ] || fail "withheld field matched: $(cat "$T/out")"
# shellcheck disable=SC2086
R query --bundle "$T/red.bundle" $K type=run.started
grep -q '\[1 fields withheld\]' "$T/out" || fail "withheld not shown: $(cat "$T/out")"

# --- bounded alike (issue 63) ---------------------------------------------
# /dev/zero: every reader read 1 GiB (query, timeline and doctor into
# memory) before refusing it; each now refuses it at once, in the same
# words. A pipe of zstd's magic and then zeros, with --max-bytes 1000000:
# each refuses it as larger than the limit, in the same words, having
# read at most the bound and a pipe's buffer (the writer counts).
for cmd in "verify-bundle /dev/zero" "query --bundle /dev/zero" \
    "timeline R-0001 --bundle /dev/zero" "doctor --bundle /dev/zero"; do
    # shellcheck disable=SC2086
    R $cmd --insecure-trust-bundle-key
    [ "$rc" = 65 ] || fail "$cmd: exit $rc"
    cat "$T/out" "$T/err" |
        grep -qx "FAIL archive: not a bundle: not a zstd stream (a bundle is a zstd-compressed tar: pack one with tar --zstd -cf)" ||
        fail "$cmd: $(cat "$T/out" "$T/err" | head -c 300)"
done
if command -v python3 >/dev/null 2>&1; then
    for cmd in "verify-bundle /dev/stdin" "query --bundle /dev/stdin" \
        "timeline R-0001 --bundle /dev/stdin" "doctor --bundle /dev/stdin"; do
        python3 -c '
import sys
o, n = sys.stdout.buffer, 0
try:
    o.write(b"\x28\xb5\x2f\xfd"); n = 4
    z = bytes(65536)
    while n < (1 << 30):
        o.write(z); n += len(z)
    o.flush()
except BrokenPipeError:
    pass
open(sys.argv[1], "w").write("%d\n" % n)' "$T/written" 2>/dev/null |
            "$LEDGER" --dir "$T/nowhere" $cmd --insecure-trust-bundle-key \
                --max-bytes 1000000 >"$T/out" 2>"$T/err"
        rc=$?
        [ "$rc" = 65 ] || fail "$cmd (a pipe past the bound): exit $rc"
        cat "$T/out" "$T/err" | grep -qx "FAIL archive: the bundle is larger than the limit of 1000000 bytes (--max-bytes)" ||
            fail "$cmd (a pipe past the bound): $(cat "$T/out" "$T/err" | head -c 300)"
        w=$(cat "$T/written")
        # the bound, and at most 1 MiB of the pipe's buffer beside it
        [ "$w" -le $((1000000 + 1048576 + 65536)) ] ||
            fail "$cmd (a pipe past the bound): $w bytes read"
    done
else
    echo "SKIP: python3 missing (the bounded pipe)"
fi

# --- offsets and --grep on a selection --------------------------------------
# A bundle by selection has no timeline.json: the run's offsets come from
# the ledger's clock, as `ledger timeline` reads it, not from a source time
# before the run's first event (which once printed +18228506296.292s).
E=$T/early
"$LEDGER" --dir "$E" init >/dev/null || fail "init early"
# (event 1 is the log key's anchor: the run's events are 2 and 3)
"$LEDGER" --dir "$E" append x.a.started --run r1 --body '{}' >/dev/null || fail "append started"
"$LEDGER" --dir "$E" append x.a.step --run r1 --time 2020-01-01T00:00:00Z \
    --body "{\"s\":\"$(printf '%046d' 0 | tr 0 a)b\"}" >/dev/null || fail "append early step"
"$LEDGER" --dir "$E" keys verifier >"$T/early.vkey" || fail "early vkey"
"$LEDGER" --dir "$E" export --out "$T/early.bundle" run=r1 2>/dev/null || fail "export early"
R timeline r1 --bundle "$T/early.bundle" --trusted-key "$T/early.vkey"
[ "$rc" = 0 ] || fail "timeline of a selection: exit $rc $(cat "$T/err")"
grep -q '^ *+0\.[0-9]*s  #3 ' "$T/out" || fail "selection offsets: $(cat "$T/out")"
# a pattern PCRE2 gives up on: the same error, naming --grep, from a ledger
# and from a bundle (before: "invalid argument", 64 and 65)
"$LEDGER" --dir "$E" query -g '"(a+)+$' >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 65 ] || fail "query -g past the match limit: exit $rc"
grep -q '^ledger query: event 3: --grep: the pattern backtracks past PCRE2' "$T/err" ||
    fail "match limit message: $(cat "$T/err")"
R query -g '"(a+)+$' --bundle "$T/early.bundle" --trusted-key "$T/early.vkey"
[ "$rc" = 65 ] || fail "query --bundle -g past the match limit: exit $rc"
grep -q "event 3: --grep: the pattern backtracks past PCRE2" "$T/err" ||
    fail "bundle match limit message: $(cat "$T/err")"

[ "$fails" = 0 ] || exit 1
echo "bundle_readers: ok"
