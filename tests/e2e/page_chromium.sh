#!/bin/sh
# page_chromium.sh — the page of a run (issue 35) in a real browser:
# headless Chromium (Debian's chromium) loads, with the network disabled,
#   - `ledger timeline R-0001 --html` of the example box: the DOM it
#     renders (--dump-dom) holds every event of the run's timeline (by
#     seq), the denial marked bad, the route decision with its fallback,
#     the doctor's verdict at the start and the evidence status;
#   - index.html of an `export --run` bundle: every event, the notice
#     that it is the exporter's view and that verify-bundle proves it;
#     and of a bundle without --run;
#   - a run of 10,000 events: every event is in the DOM; the time to load
#     and render it, measured in the browser by lib/page_load.js (the
#     DevTools protocol), is printed (the issue's target is under 2 s;
#     bench/RESULTS.md);
# the console shows nothing (no error, no blocked load: the page carries a
# Content-Security-Policy of default-src 'none'), and a page tampered to
# fetch an image must show a console error here, so the check can fail.
# Screenshots are kept in $LEDGER_TEST_ARTEFACTS (default
# build/test-artefacts). Unhappy paths: a missing directory (73), an
# unknown run (66), --html with no name (64).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in chromium python3; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/page_chromium.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
ART=${LEDGER_TEST_ARTEFACTS:-$ROOT/build/test-artefacts}
mkdir -p "$ART"
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
L() { "$LEDGER" --dir "$D" "$@"; }

# browse PAGE OUT: Chromium with no network loads PAGE; OUT.dom gets the
# DOM, OUT.png a screenshot, OUT.console the console's lines
browse() {
    u=$(mktemp -d "$T/chr.XXXXXX")
    set -- "$1" "$2" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$u" \
        --host-resolver-rules='MAP * ~NOTFOUND' --proxy-server=127.0.0.1:9 \
        --enable-logging=stderr --v=0
    p=$1 o=$2
    shift 2
    timeout 120 chromium "$@" --dump-dom "file://$p" >"$o.dom" 2>"$o.err1"
    timeout 120 chromium "$@" --window-size=1200,1600 \
        --screenshot="$o.png" "file://$p" >/dev/null 2>"$o.err2"
    grep -h ':CONSOLE' "$o.err1" "$o.err2" >"$o.console"
    rm -rf "$u"
}
# has_events DOM SEQ...: every seq has its line in the DOM
has_events() {
    dom=$1
    shift
    for s in "$@"; do
        grep -q "id=\"e$s\"" "$dom" || { fail "event $s not in $dom"; return; }
    done
}

L init --origin page.test/box >/dev/null || { echo "FAIL: init"; exit 1; }
# event 0 is genesis, event 1 the log key's anchor (init's epoch keys):
# pdf-ops.jsonl's events are 2..32, its run R-0001 starts at #24
L ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 || fail "ingest"
seqs=$(L timeline R-0001 -o json | python3 -c 'import json,sys
print(" ".join(e["seq"] for e in json.load(sys.stdin)["events"]))')
[ -n "$seqs" ] || fail "no events in the timeline"

# ------------------------------------------------------------ the run --
L timeline R-0001 --html "$T/r1.html" || fail "timeline --html: exit $?"
grep -qi '<script\|src=\|@import\|url(' "$T/r1.html" &&
    fail "the page refers to something outside itself"
browse "$T/r1.html" "$T/r1"
cp "$T/r1.png" "$ART/page_chromium-run.png" 2>/dev/null
[ -s "$T/r1.png" ] || fail "no screenshot of the run's page"
[ -s "$T/r1.console" ] && fail "console: $(cat "$T/r1.console")"
has_events "$T/r1.dom" $seqs
[ "$(grep -o 'id="e[0-9]*"' "$T/r1.dom" | wc -l)" = "$(echo $seqs | wc -w)" ] ||
    fail "the page lists other events than the timeline's"
grep -q "Doctor at the run's start (log size 24): <span class=\"vd\">degraded" "$T/r1.dom" ||
    fail "the doctor's verdict at the start is not on the page"
grep -q 'routes-proven' "$T/r1.dom" || fail "the failing clause is not on the page"
grep -q 'id="evidence"' "$T/r1.dom" || fail "no evidence status"
grep -q 'signed by the log key page.test/box+' "$T/r1.dom" || fail "evidence: no log key"
grep -q 'id="e28" class="bad"' "$T/r1.dom" || fail "the denial (#28) is not marked bad"
grep -q 'id="e26" class="ok"' "$T/r1.dom" || fail "the ok step (#26) is marked bad"
grep -q 'llama3.2-3b-instruct@q8_0  FALLBACK' "$T/r1.dom" ||
    fail "the fallback decision does not name the model that answered"
grep -q 'class="m k[0-9] b"' "$T/r1.dom" || fail "no red mark in the picture"
grep -q '<meta name="viewport"' "$T/r1.dom" || fail "no viewport: not for phones"
grep -q '@media print' "$T/r1.html" || fail "no print styles"

# the check can fail: a page that fetches something shows an error
sed 's|<footer>|<img src="http://example.invalid/x.png"><footer>|' "$T/r1.html" >"$T/bad.html"
browse "$T/bad.html" "$T/bad"
[ -s "$T/bad.console" ] || fail "a blocked fetch left no console line: the console check is blind"

# ---------------------------------------------------------- the bundle --
L keys verifier >"$T/vkey"
L export --run R-0001 --out "$T/r1.bundle" >/dev/null 2>&1 || fail "export --run"
"$LEDGER" verify-bundle --trusted-key "$T/vkey" "$T/r1.bundle" >/dev/null ||
    fail "verify-bundle with index.html"
mkdir "$T/x"
tar --zstd -xf "$T/r1.bundle" -C "$T/x" || fail "tar"
[ -s "$T/x/r1/index.html" ] || fail "no index.html at the top of the bundle"
[ -s "$T/x/r1/README.txt" ] || fail "no README.txt beside it"
browse "$T/x/r1/index.html" "$T/b1"
cp "$T/b1.png" "$ART/page_chromium-bundle.png" 2>/dev/null
[ -s "$T/b1.console" ] && fail "bundle page console: $(cat "$T/b1.console")"
has_events "$T/b1.dom" $seqs
grep -q "exporter&#39;s view\|exporter's view" "$T/b1.dom" || fail "the bundle page does not say it is the exporter's view"
grep -q 'verify-bundle' "$T/b1.dom" || fail "the bundle page does not name verify-bundle"
grep -q 'Doctor at the run' "$T/b1.dom" || fail "the bundle page has no doctor"
# a changed page fails verification
sed -i 's/degraded/healthy/' "$T/x/r1/index.html"
(cd "$T/x" && tar --zstd -cf "$T/t.tar.zst" r1)
"$LEDGER" verify-bundle --trusted-key "$T/vkey" "$T/t.tar.zst" >"$T/vb" 2>&1 && fail "a changed index.html verified"
grep -q 'FAIL files.*index.html' "$T/vb" || fail "the changed index.html is not named: $(grep FAIL "$T/vb")"
# the page read back from the bundle on the receiving side
L timeline R-0001 --bundle "$T/r1.bundle" --trusted-key "$T/vkey" --html "$T/rb.html" ||
    fail "timeline --bundle --html"
grep -q 'Verified just now' "$T/rb.html" || fail "timeline --bundle --html: no evidence line"
# a bundle without a run: its selected events
L export --out "$T/sel.bundle" type=route.decision >/dev/null 2>&1 || fail "export a selection"
mkdir "$T/y" && tar --zstd -xf "$T/sel.bundle" -C "$T/y"
browse "$T/y/sel/index.html" "$T/b2"
[ -s "$T/b2.console" ] && fail "selection page console: $(cat "$T/b2.console")"
sel=$(python3 -c 'import json,sys
print(" ".join(json.loads(l)["seq"] for l in open(sys.argv[1])))' "$T/y/sel/events.jsonl")
has_events "$T/b2.dom" $sel

# ----------------------------------------------------- unhappy paths --
L timeline R-0001 --html "$T/no/such/dir/x.html" 2>"$T/e1"; rc=$?
[ $rc = 73 ] || fail "--html into a missing directory: exit $rc, want 73"
grep -q 'cannot create' "$T/e1" || fail "missing directory: $(cat "$T/e1")"
L timeline R-9999 --html "$T/x.html" 2>/dev/null; rc=$?
[ $rc = 66 ] || fail "unknown run: exit $rc, want 66"
[ -e "$T/x.html" ] && fail "an unknown run wrote a page"
L timeline R-0001 --html "" 2>/dev/null; rc=$?
[ $rc = 64 ] || fail "--html '': exit $rc, want 64"
L timeline R-0001 --html "$T/y.html" -o json 2>/dev/null; rc=$?
[ $rc = 64 ] || fail "--html with -o json: exit $rc, want 64"

# ------------------------------------------------- 10,000 events run --
python3 - "$T/big.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    w = lambda t, b: f.write(json.dumps({"type": t, "body": b}) + "\n")
    w("run.started", {"run": "BIG", "pack": "pdf-ops", "intent": "load"})
    for i in range(9998):
        if i % 3 == 0:
            w("route.decision", {"route": "pdf-ops/extract", "run": "BIG",
              "chosen_model": "qwen2.5-7b-instruct@q4_k_m",
              "request_id": "b-%d" % i, "latency_ms": 100 + i % 50,
              "fallback": i % 30 == 0, "outcome": "error" if i % 97 == 0 else "ok"})
        elif i % 3 == 1:
            w("run.step", {"run": "BIG", "step": "s%d" % i, "tool": "t",
              "status": "failed" if i % 101 == 0 else "ok", "duration_ms": 5})
        else:
            w("run.policy", {"run": "BIG", "decision": "deny" if i % 89 == 0 else "allow",
              "rule": "fs.read:~/x", "tool": "t", "tier": "T1"})
    w("run.finished", {"run": "BIG", "status": "ok", "duration_ms": 10000})
EOF
L ingest "$T/big.jsonl" >/dev/null 2>&1 || fail "ingest the big run"
L timeline BIG --html "$T/big.html" || fail "timeline BIG --html"
browse "$T/big.html" "$T/big"
[ -s "$T/big.console" ] && fail "big page console: $(head -3 "$T/big.console")"
want=$(L timeline BIG -o json | python3 -c 'import json,sys
print(len(json.load(sys.stdin)["events"]))')
n=$(grep -o 'id="e[0-9]*"' "$T/big.dom" | sort -u | wc -l)
[ "$n" = "$want" ] || fail "the 10,000-event page shows $n events, the timeline $want"
cp "$T/big.png" "$ART/page_chromium-10k.png" 2>/dev/null
# the time to load and render it, measured inside the browser (start-up
# not counted); a figure for bench/RESULTS.md, not a threshold here
# (node drives the browser over a pipe: lib/cdp.js; without node the
# figure and the layout check below are said to be left out)
if command -v node >/dev/null 2>&1; then
    node "$HERE/lib/page_load.js" chromium \
        "$T/big.html" 1 >"$T/load" 2>"$T/load.err" ||
        fail "page_load.js: $(cat "$T/load.err")"
    grep -q 'errors=0$' "$T/load" || fail "console errors on the big page: $(cat "$T/load")"
    echo "page_chromium: 10,000-event page, $(wc -c <"$T/big.html") bytes: $(cat "$T/load")"
fi

# ---------------------------------------------- words, times, numbers --
# (issue 63) the page of the example run: its header's time is in the one
# human format, not RFC 3339 ns; the legend's word "before" is laid out on
# one line (it was squeezed into a column of letters over the axis, by
# the legend's swatch style); a number of the body keeps its digits (a
# span's 94.318153 ms was written 94.31815300000001)
grep -o '<p class="sub">[^<]*' "$T/r1.html" >"$T/r1.sub"
grep -q 'started [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]\{8\} (#' "$T/r1.sub" &&
    ! grep -q '[0-9]T[0-9:]*\.[0-9]*Z' "$T/r1.sub" ||
    fail "the page's header time: $(cat "$T/r1.sub")"
grep -q 'band marked' "$T/r1.html" || fail "the run's page has no band of context before the run"
L append route.decision --subject route:pdf-ops/extract --run R-0001 \
    --body '{"route":"pdf-ops/extract","chosen_model":"m","latency_ms":94.318153,"outcome":"ok"}' \
    >/dev/null || fail "append a decision with a latency"
L timeline R-0001 --html "$T/r1b.html" || fail "timeline --html again"
grep -q 'latency_ms&quot;:94.318153[,}]' "$T/r1b.html" ||
    fail "the page's numbers: $(grep -o 'latency_ms&quot;:[0-9.]*' "$T/r1b.html")"
if command -v node >/dev/null 2>&1; then
    node "$HERE/lib/page_layout.js" chromium \
        "$T/r1b.html" before >"$T/layout" 2>"$T/layout.err" ||
        fail "page_layout.js: $(cat "$T/layout.err")"
    awk '$1 == "before" { split($2, r, "="); split($3, w, "="); split($4, h, "=");
        exit !(r[2] == 1 && w[2] + 0 > h[2] + 0) } END { if (NR == 0) exit 1 }' "$T/layout" ||
        fail "the word 'before' is not laid out on one line: $(cat "$T/layout")"
else
    echo "SKIP: the layout of 'before' (no node to drive the browser)"
fi

if [ $fails -eq 0 ]; then
    echo "page_chromium: ok"
    exit 0
fi
echo "page_chromium: $fails failure(s)"
exit 1
