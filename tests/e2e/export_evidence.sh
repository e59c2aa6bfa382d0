#!/bin/sh
# export_evidence.sh — the evidence path on what the ledger really writes
# (issue 29): a commit that interleaves actors (an `ingest` of alice, bob,
# alice; several `ledger serve` clients sharing group commits) exports and
# verifies offline, each event proven against its own seal's events, and
# no export message blames the disk when `verify` finds nothing; a body
# whose every field --redact withholds is labelled "withheld" and verifies;
# --redact/--redact-body of a field the signed envelope repeats (subject,
# run) is refused, exit 64, naming the envelope field, unless
# --allow-envelope-disclosure accepts it. Each of those failed before the
# fix.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE="python3 $HERE/lib/serve_probe.py"
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
# verify BUNDLE DIR: verify-bundle against DIR's log key; exit code in $rc
verify() {
    "$LEDGER" verify-bundle "$1" --trusted-key \
        "$("$LEDGER" --dir "$2" keys verifier)" >/dev/null 2>"$T/verr"
    rc=$?
}
# interleaved DIR: how many events of DIR sit elsewhere than seal + leaf
# (another actor's event of the commit between them and their seal's first)
interleaved() {
    "$LEDGER" --dir "$1" query -o json 2>/dev/null |
        sed -n 's/^{"seq":"\([0-9]*\)".*"seal":"\([0-9]*\)","seal_leaf":"\([0-9]*\)".*/\1 \2 \3/p' |
        awk '$1 != $2 + $3 { n++ } END { print n + 0 }'
}

# --- the issue's commands: alice, bob, alice in one ingest (one commit) ----
D=$T/a
export LEDGER_DIR="$D"
"$LEDGER" init >/dev/null || exit 1
"$LEDGER" keys add alice --roles control-plane >/dev/null || exit 1
"$LEDGER" keys add bob --roles control-plane >/dev/null || exit 1
printf '%s\n' '{"type":"route.decision","actor":"alice","body":{"route":"r","chosen_model":"m"}}' \
    '{"type":"route.decision","actor":"bob","body":{"route":"r","chosen_model":"m2"}}' \
    '{"type":"route.decision","actor":"alice","body":{"route":"r","chosen_model":"m3"}}' |
    "$LEDGER" ingest - >/dev/null 2>&1 || fail "ingest"
"$LEDGER" verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"
[ "$(interleaved "$D")" -gt 0 ] || fail "the ingest did not interleave actors in a seal"
"$LEDGER" export --out "$T/a.bundle" type=route.decision 2>"$T/ee"
rc=$?
[ "$rc" = 0 ] || fail "export of an interleaved commit: exit $rc: $(cat "$T/ee")"
grep -q "corrupt" "$T/ee" && fail "export blames the disk: $(cat "$T/ee")"
verify "$T/a.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle of an interleaved commit: exit $rc: $(grep FAIL "$T/verr")"
# 9: the three selected, the genesis, the log key's anchor (event 1: init
# anchors it), the two key.added and their key.anchored (keys add anchors
# alice at 3 and bob at 5 as it adds them)
grep -q '^PASS signatures: 9 events vouched for' "$T/verr" ||
    fail "signatures: $(grep signatures "$T/verr")"
# the seal of alice's two events (6 and 8: alice, bob, alice after the
# genesis, the log key's anchor and each key's key.added and key.anchored)
# is carried once, with a proof per event
mkdir "$T/ax"
tar --zstd -xf "$T/a.bundle" -C "$T/ax" --strip-components=1 || fail "tar"
[ -f "$T/ax/seals/6.seal" ] && [ -f "$T/ax/seals/7.seal" ] &&
    [ ! -e "$T/ax/seals/8.seal" ] ||
    fail "seals carried: $(ls "$T/ax/seals" | tr '\n' ' ')"
[ -f "$T/ax/sealproofs/8.proof" ] || fail "no seal proof for event 8"
# the selection of alice's second event alone needs her seal all the same
"$LEDGER" export --out "$T/a8.bundle" seq=8 2>"$T/ee" || fail "export seq=8: $(cat "$T/ee")"
verify "$T/a8.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle seq=8: exit $rc: $(grep FAIL "$T/verr")"
unset LEDGER_DIR
# the other side: with alice's seal record really gone, export refuses and
# `verify` finds it too (a message about the disk only when verify agrees)
CC=${CC:-cc}
PKG=${PKG_CONFIG:-pkg-config}
if $CC -o "$T/lmdb_poke" "$HERE/../faults/lmdb_poke.c" \
    $($PKG --cflags --libs lmdb 2>/dev/null || echo -llmdb) 2>"$T/cc.err"; then
    cp -a "$D" "$T/a2"
    # (at store layout 9 the seal waits in the intake until a flush)
    "$LEDGER" --dir "$T/a2" flush >/dev/null || fail "flush a2"
    # (alice's seal: event 6, after the actor keys' anchors)
    "$T/lmdb_poke" "$T/a2" drop-seal 6 2>"$T/e" || fail "drop-seal: $(cat "$T/e")"
    "$LEDGER" --dir "$T/a2" export --out "$T/a2.bundle" type=route.decision 2>"$T/ee"
    erc=$?
    "$LEDGER" --dir "$T/a2" verify --full >"$T/out" 2>&1
    vrc=$?
    [ "$erc" != 0 ] || fail "export of a ledger missing a seal: exit 0"
    [ "$vrc" = 1 ] || fail "verify of a ledger missing a seal: exit $vrc"
    grep -q "event 6" "$T/ee" || fail "export does not name event 6: $(cat "$T/ee")"
    [ -e "$T/a2.bundle" ] && fail "a refused export left a file"
else
    echo "note: no C compiler for lmdb_poke; the deleted-seal case is skipped"
fi

# --- several serve clients, each its own actor, sharing group commits -------
D=$T/s
"$LEDGER" --dir "$D" init >/dev/null || exit 1
for k in c1 c2 c3 c4; do
    "$LEDGER" --dir "$D" keys add "$k" --roles run >/dev/null || exit 1
done
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
pids="$spid"
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    [ $i -gt 400 ] && { fail "serve did not start: $(cat "$T/serve.err")"; break; }
done
S=$(sed -n 's/^listening on //p' "$T/serve.out")
# a round: each client connects at once and, a second later, streams its
# 1,000 lines (about 150 KB, more than one read), so all four write while
# the others do and their events meet in group commits; up to five rounds
# until two clients shared a commit (one is almost always enough)
round=0
while [ $round -lt 5 ]; do
    round=$((round + 1))
    cpids=""
    for k in c1 c2 c3 c4; do
        awk -v k="$k" -v r=$round 'BEGIN { for (i = 0; i < 1000; i++)
            printf "{\"type\":\"run.step\",\"actor\":\"%s\",\"id\":\"%s-%d-%d\",\"body\":{\"run\":\"R-%s\",\"step\":\"s%d\",\"tool\":\"t\",\"status\":\"ok\"}}\n", k, k, r, i, k, i }' \
            >"$T/$k.jsonl"
        (sleep 1; cat "$T/$k.jsonl") | $PROBE "$S" lines >"$T/$k.ans" 2>&1 &
        cpids="$cpids $!"
    done
    for p in $cpids; do wait "$p" || fail "a serve client failed"; done
    for k in c1 c2 c3 c4; do
        n=$(grep -c '"seq"' "$T/$k.ans")
        [ "$n" = 1000 ] || fail "client $k: $n of 1000 acknowledged: $(grep -v '"seq"' "$T/$k.ans" | head -n 2)"
    done
    [ "$(interleaved "$D")" -gt 0 ] && break
done
kill -TERM "$spid"
wait "$spid"
pids=""
[ "$(interleaved "$D")" -gt 0 ] ||
    fail "no commit shared by two serve clients in 5 rounds (the case is not exercised)"
"$LEDGER" --dir "$D" verify --full >"$T/out" 2>&1 || fail "verify after serve: $(cat "$T/out")"
"$LEDGER" --dir "$D" export --out "$T/s.bundle" type=run.step 2>"$T/ee"
rc=$?
[ "$rc" = 0 ] || fail "export of shared serve commits: exit $rc: $(cat "$T/ee")"
verify "$T/s.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle of shared serve commits: exit $rc: $(grep FAIL "$T/verr")"
# one client's run alone (its events are not adjacent in the log)
"$LEDGER" --dir "$D" export --run R-c3 --out "$T/s3.bundle" 2>"$T/ee" ||
    fail "export --run R-c3: $(cat "$T/ee")"
verify "$T/s3.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle --run R-c3: exit $rc: $(grep FAIL "$T/verr")"

# --- redaction: labelled by what the body holds -----------------------------
D=$T/r
L() { "$LEDGER" --dir "$D" "$@"; }
L init >/dev/null || exit 1
L append run.started --body '{"run":"r1","pack":"p1","intent":"tidy up"}' >/dev/null || exit 1
L append x.d --body '{"a":1,"b":2}' >/dev/null || exit 1
L append x.e --body '{}' >/dev/null || exit 1
# every field of x.d withheld by --redact: a "withheld" body
L export --out "$T/all.bundle" --redact a,b type=x.d 2>"$T/ee" ||
    fail "export --redact a,b: $(cat "$T/ee")"
verify "$T/all.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle, every field redacted: exit $rc: $(grep FAIL "$T/verr")"
tar --zstd -xOf "$T/all.bundle" all/manifest.json >"$T/m.json" || fail "tar manifest"
grep -q '"type": "x.d", "role": "selected", "body": "withheld"}' "$T/m.json" ||
    fail "x.d not labelled withheld: $(grep x.d "$T/m.json")"
grep -q '"bodies_withheld": "1"' "$T/m.json" || fail "counts.bodies_withheld"
tar --zstd -xOf "$T/all.bundle" all/events.jsonl | grep -q '"body_withheld":true' ||
    fail "events.jsonl does not show the body withheld"
# an empty body has nothing to withhold: "full", and it verifies
L export --out "$T/empty.bundle" --redact-body x.e type=x.e 2>"$T/ee" ||
    fail "export --redact-body x.e: $(cat "$T/ee")"
verify "$T/empty.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle, empty body withheld: exit $rc: $(grep FAIL "$T/verr")"

# --- redaction against the envelope: refused unless accepted ---------------
L export --out "$T/env.bundle" --redact pack,run type=run.started 2>"$T/ee"
rc=$?
[ "$rc" = 64 ] || fail "--redact pack,run on run.started: exit $rc, want 64"
# (event 1 is the log key's anchor: run.started is event 2)
grep -q "event 2 (run.started): --redact pack: the envelope's subject \"pack:p1\"" "$T/ee" ||
    fail "envelope field not named: $(cat "$T/ee")"
grep -q -- "--allow-envelope-disclosure" "$T/ee" || fail "the way out is not named"
[ -e "$T/env.bundle" ] && fail "a refused export left a file"
L export --out "$T/env.bundle" --redact run type=run.started 2>"$T/ee"
rc=$?
[ "$rc" = 64 ] || fail "--redact run: exit $rc, want 64"
grep -q "the envelope's run \"r1\"" "$T/ee" || fail "run not named: $(cat "$T/ee")"
L export --out "$T/env.bundle" --redact-body run.started type=run.started 2>"$T/ee"
rc=$?
[ "$rc" = 64 ] || fail "--redact-body run.started: exit $rc, want 64"
# a field the envelope does not repeat is withheld as before
L export --out "$T/intent.bundle" --redact intent type=run.started 2>"$T/ee" ||
    fail "--redact intent: $(cat "$T/ee")"
tar --zstd -xOf "$T/intent.bundle" intent/events.jsonl | grep -q 'tidy up' &&
    fail "the withheld intent is in the bundle"
# accepted: written, verifies, and ships the envelope as it is
L export --out "$T/env.bundle" --redact pack,run --allow-envelope-disclosure \
    type=run.started 2>"$T/ee" || fail "--allow-envelope-disclosure: exit $?: $(cat "$T/ee")"
verify "$T/env.bundle" "$D"
[ "$rc" = 0 ] || fail "verify-bundle after --allow-envelope-disclosure: exit $rc"
tar --zstd -xOf "$T/env.bundle" env/events.jsonl | grep -q '"subject":"pack:p1","run":"r1"' ||
    fail "the accepted envelope is not shipped as it is"
L export --help | grep -q -- "--allow-envelope-disclosure" || fail "--help does not list the flag"

# --- pax records a reader honours (docs/format-bundle.md section 1) -------
# (what the reader did before issue 29 too, now written down): repack the
# run.started bundle with Python's tarfile: a pax `path` naming each
# member (the ustar name is junk) beside records a reader ignores, a
# global header, and a GNU.sparse member (refused)
mkdir "$T/px"
tar --zstd -xf "$T/intent.bundle" -C "$T/px" || fail "tar -x intent.bundle"
cat >"$T/pax.py" <<'PY'
import io, os, sys, tarfile
src, out, how = sys.argv[1], sys.argv[2], sys.argv[3]
names = []
for root, _, files in os.walk(os.path.join(src, "intent")):
    names += [os.path.relpath(os.path.join(root, f), src) for f in files]
names.sort(key=lambda n: (not n.endswith("/ledger-bundle"), n))
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    if how == "global":
        t.pax_headers = {"comment": "a global header"}
    for n in names:
        data = open(os.path.join(src, n), "rb").read()
        ti = tarfile.TarInfo(n)
        ti.size, ti.mode = len(data), 0o644
        if how == "path":
            ti.pax_headers = {"path": n, "uname": "mallory", "mtime": "1.5"}
            ti.name = "junk/" + str(len(names))
        if how == "sparse" and n.endswith("events.jsonl"):
            # one byte, a hole, the last byte (pax format 0.1)
            ti.pax_headers = {"GNU.sparse.size": str(len(data)),
                              "GNU.sparse.map": "0,1,%d,1" % (len(data) - 1)}
            data = data[:1] + data[-1:]
            ti.size = 2
        t.addfile(ti, io.BytesIO(data))
PY
for how in path global sparse; do
    python3 "$T/pax.py" "$T/px" "$T/pax-$how.tar" "$how" || fail "pax.py $how"
    zstd -qf "$T/pax-$how.tar" -o "$T/pax-$how.tar.zst" || fail "zstd $how"
    verify "$T/pax-$how.tar.zst" "$D"
    case $how in
    sparse) [ "$rc" = 65 ] && grep -q "sparse files are refused" "$T/verr" ||
        fail "a GNU.sparse member: exit $rc, want 65: $(grep FAIL "$T/verr")" ;;
    *) [ "$rc" = 0 ] || fail "pax $how: exit $rc: $(grep FAIL "$T/verr")" ;;
    esac
done

if [ "$fails" -gt 0 ]; then
    echo "export_evidence: $fails failed"
    exit 1
fi
echo "export_evidence: ok"
