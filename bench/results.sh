#!/bin/sh
# bench/results.sh OUT_DIR — writes bench/RESULTS.md (on stdout) from the
# figures of one `make bench` run: the current figure of every benchmark,
# one table per scenario, with the machine, date and commit, a short "how
# to read these", and what bounds each figure that misses its target.
# History lives in git, not in the file.
#
# It reads whatever of these the run left in OUT_DIR (a part that did not
# run is said to be missing, not left out silently):
#   meta          "key<TAB>value" lines: machine, date, commit, load, note
#                 (make bench writes it; without it they are asked here)
#   results.tsv   bench/run.sh: scenario, unit, ledger, peer, better
#                 (hi|lo), target (min:X, max:X, ratio:X or -), note
#   serve.tsv     bench/serve.sh: scenario, ledger, peer (a header line)
#   sensors.txt   bench/sensors.sh's output
#   fleet.txt     bench/fleet.sh's lines
#   glance.tsv    bench/glance.sh: scenario, unit, value, target, note
#   otlp.tsv      bench/otlp.sh: scenario, unit, figure, target, verdict
#                 (a header line) — the "OpenTelemetry in" section
#   journal.tsv   bench/journal.sh: scenario, unit, ledger, journalctl,
#                 better, target (ratio:X against journalctl, or -), note
#                 (a header line) — the "Against the journal" section
#   proxy.tsv     the proxy bench part (issue 33), when there is one:
#                 scenario, unit, ledger, nginx, better (hi|lo), target
#                 (min:X, max:X, ratio:X against nginx, or -), note —
#                 the "Proxy" section; or proxy.md, a Markdown fragment
#                 taken as it is
# and bench/bounds.tsv (kept by hand): "scenario prefix<TAB>what bounds
# it", the explanation printed for each missed target whose scenario
# starts with the prefix.
set -u
O=${1:?usage: bench/results.sh OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# Prose lines (not table rows, headings or code) are wrapped to fit a
# screen: this script runs itself and wraps what it wrote.
if [ -z "${RESULTS_UNWRAPPED:-}" ]; then
    out=$(RESULTS_UNWRAPPED=1 sh "$0" "$@") || exit $?
    printf '%s\n' "$out" | awk -v W=78 '
    /^```/ { code = !code }
    code || length($0) <= W || /^[|#]/ || /^    / { print; next }
    {
        ind = ""; if (match($0, /^(- |[0-9]+\. |  +)/)) ind = sprintf("%*s", RLENGTH, "")
        n = split($0, w, " "); line = ""
        for (i = 1; i <= n; i++) {
            if (line != "" && length(line) + 1 + length(w[i]) > W) { print line; line = ind w[i] }
            else line = line == "" ? w[i] : line " " w[i]
        }
        print line
    }'
    exit 0
fi
BOUNDS=${BENCH_BOUNDS:-$HERE/bounds.tsv}
[ -d "$O" ] || { echo "bench/results.sh: no directory $O" >&2; exit 66; }
any=0
for f in results.tsv serve.tsv sensors.txt fleet.txt glance.tsv proxy.tsv proxy.md retention.txt retention.tsv otlp.tsv journal.tsv; do
    [ -f "$O/$f" ] && any=1
done
[ $any = 1 ] || {
    echo "bench/results.sh: $O holds no bench part's output" >&2
    exit 66
}
meta() { [ -f "$O/meta" ] && awk -F '\t' -v k="$1" '$1 == k { print $2; exit }' "$O/meta"; }
machine=$(meta machine)
[ -n "$machine" ] || machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
date=$(meta date)
[ -n "$date" ] || date=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(meta commit)
[ -n "$commit" ] || commit=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
load=$(meta load)
note=$(meta note)

cat <<EOF
# Benchmark results

The current figure of every benchmark, written by \`make bench\`
(\`bench/results.sh\` from the parts' outputs in \`bench/out/\`). Earlier
figures and the analyses behind them are in git's history of this file.

| | |
|---|---|
| machine | $machine |
| date | $date |
| commit | $commit |
| load average | ${load:-not recorded} |
EOF
[ -n "$note" ] && printf '\n%s\n' "$note"
cat <<'EOF'

## How to read these

Every figure is a whole process timed from outside (fork to exit), as a
user would see it. "peer" is the SQLite peer (`bench/peer_sqlite.c`), run
on the same box in the same minutes, so **the ratio is the figure that
compares across boxes and loads**; absolute figures move with the load of
a shared box. "better" says which way is good; "target" is the issue's,
"verdict" whether this run met it. A missed target is explained under
"What bounds the missed targets" at the end.

To run: `make bench` (every part at full scale, about an hour; the box
should be quiet), `BENCH_QUICK=1 make bench` for a quick look; `sh
bench/results.sh bench/out > bench/RESULTS.md` writes this file again from
a run's outputs. Each part's options are in its header (`bench/run.sh`,
`bench/serve.sh`, `bench/sensors.sh`, `bench/fleet.sh`,
`bench/glance.sh`).
EOF

# ------------------------------------------------------- run.sh's tables --
if [ -f "$O/results.tsv" ]; then
    awk -F '\t' '
function isnum(x) { return x ~ /^[0-9.]+$/ }
function judge(t, l, r, better,    k, v) {
    if (t == "-" || t == "") return "-"
    k = t; sub(/:.*/, "", k); v = t; sub(/^[^:]*:/, "", v)
    if (k == "min") { if (!isnum(l)) return "?"; return (l + 0 >= v + 0) ? "meets" : "**misses**" }
    if (k == "max") { if (!isnum(l)) return "?"; return (l + 0 <= v + 0) ? "meets" : "**misses**" }
    if (k == "ratio") {
        if (r == "") return "?"
        if (better == "hi") return (r + 0 >= v + 0) ? "meets" : "**misses**"
        return (r + 0 <= v + 0) ? "meets" : "**misses**"
    }
    return "?"
}
function ttext(t, better,    k, v) {
    if (t == "-" || t == "") return "-"
    k = t; sub(/:.*/, "", k); v = t; sub(/^[^:]*:/, "", v)
    if (k == "min") return ">= " v
    if (k == "max") return "<= " v
    return (better == "hi" ? ">= " : "<= ") v "x peer"
}
function group(s) {
    if (s ~ /^(ingest|verify --full|append)/) return 1
    if (s ~ /^(proof|tiles)/) return 2
    if (s ~ /^query/) return 3
    if (s ~ /^(rebuild|doctor|projections|tree)/) return 4
    if (s ~ /^(export|verify-bundle)/) return 5
    if (s ~ /^store/) return 7
    return 6
}
BEGIN {
    T[1] = "Ingest, verify, append (issues 2, 12)"; T[2] = "Proofs and tiles (issue 3)"
    T[3] = "Query (issues 5, 17)"; T[4] = "Projections and the doctor (issue 4)"
    T[5] = "Export and verify-bundle (issue 6)"; T[6] = "Other"
    T[7] = "Store size and migrate (issues 31, 49)"
}
{
    r = ""
    if (isnum($3) && isnum($4) && $4 + 0 > 0) r = sprintf("%.2f", $3 / $4)
    g = group($1); n[g]++
    row[g, n[g]] = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |", $1, $2, $3,
        ($4 == "" ? "-" : $4), (r == "" ? "-" : r), ttext($6, $5), judge($6, $3, r, $5),
        ($7 == "" ? "" : $7))
    v = judge($6, $3, r, $5)
    if (v ~ /misses/) print $1 > "/dev/stderr"
}
END {
    for (g = 1; g <= 7; g++) {
        if (!n[g]) continue
        printf "\n## %s\n\n", T[g]
        print "| scenario | unit | ledger | peer | ledger/peer | target | verdict | note |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= n[g]; i++) print row[g, i]
    }
}' "$O/results.tsv" 2>"$O/.missed"
else
    printf '\n## Ingest, verify, append, proofs, tiles, query, projections, export\n\nMissing: `bench/run.sh` left no `results.tsv` in this run.\n'
    : >"$O/.missed"
fi

# ----------------------------------------------------------- journal --
printf '\n## Against the journal: the same events in systemd-journal (issue 49)\n\n'
if [ -f "$O/journal.tsv" ]; then
    echo "| scenario | unit | ledger | journalctl | ledger/journalctl | target | verdict | note |"
    echo "|---|---|---|---|---|---|---|---|"
    tail -n +2 "$O/journal.tsv" | awk -F '\t' '
function isnum(x) { return x ~ /^[0-9.]+$/ }
{
    r = ""; v = "-"
    if (isnum($3) && isnum($4) && $4 + 0 > 0) r = sprintf("%.2f", $3 / $4)
    k = $6; sub(/:.*/, "", k); x = $6; sub(/^[^:]*:/, "", x)
    if (k == "ratio") v = (r == "") ? "?" : ($5 == "hi" ? (r + 0 >= x + 0) : (r + 0 <= x + 0)) ? "meets" : "**misses**"
    if (v ~ /misses/) print $1 > "/dev/stderr"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4,
        (r == "" ? "-" : r), (k == "ratio" ? ($5 == "hi" ? ">= " : "<= ") x "x journalctl" : "-"), v, $7
}' 2>>"$O/.missed"
else
    echo 'Missing: `bench/journal.sh` left no `journal.tsv` in this run.'
fi

# ------------------------------------------------------------- serve --
printf '\n## `ledger serve` (issue 13)\n\n'
if [ -f "$O/serve.tsv" ]; then
    echo "| scenario | ledger | peer |"
    echo "|---|---|---|"
    tail -n +2 "$O/serve.tsv" | awk -F '\t' '{ printf "| %s | %s | %s |\n", $1, $2, ($3 == "" ? "-" : $3) }'
    echo
    echo "Targets: >= 60,000 acked events/s with p99 <= 25 ms and >= 1.5x the peer (64 clients), daemon RSS <= 64 MiB, one-at-a-time p50 <= 1.5 ms."
else
    echo 'Missing: `bench/serve.sh` left no `serve.tsv` in this run.'
fi

# ------------------------------------------------------------ sensors --
printf '\n## Sensors: `eval run`, `model verify` (issue 14)\n\n'
if [ -f "$O/sensors.txt" ]; then
    grep -v '^machine:' "$O/sensors.txt" | sed 's/^/    /'
    grep -q '^eval best.*NOT met' "$O/sensors.txt" && echo "eval run" >>"$O/.missed"
    grep -q '^verify best.*NOT met' "$O/sensors.txt" && echo "model verify" >>"$O/.missed"
else
    echo 'Missing: `bench/sensors.sh` left no `sensors.txt` in this run.'
fi

# -------------------------------------------------------------- fleet --
printf '\n## Fleet: ship, publish, mirror, witness (issue 16)\n\n'
if [ -f "$O/fleet.txt" ]; then
    sed 's/^fleet: /- /' "$O/fleet.txt"
    # "ship N events: S s, R events/s (target >= T events/s)"
    awk '/^fleet: ship / { for (i = 1; i <= NF; i++) if ($i == "events/s" && r == "") r = $(i - 1)
        t = $0; sub(/.*>= /, "", t); sub(/ .*/, "", t); if (r + 0 < t + 0) print "ship" }' \
        "$O/fleet.txt" >>"$O/.missed"
else
    echo 'Missing: `bench/fleet.sh` left no `fleet.txt` in this run.'
fi

# ---------------------------------------------------------- retention --
printf '\n## Retention: segments, archive and prune (issues 32, 50)\n\n'
if [ -f "$O/retention.tsv" ]; then
    echo "| scenario | unit | segment | bundle archive (peer) | target | verdict | note |"
    echo "|---|---|---|---|---|---|---|"
    awk -F '\t' '{
        v = "-"; t = $5
        k = t; sub(/:.*/, "", k); x = t; sub(/^[^:]*:/, "", x)
        if (k == "min") v = ($3 + 0 >= x + 0) ? "meets" : "**misses**"
        if (k == "max") v = ($3 + 0 <= x + 0) ? "meets" : "**misses**"
        if (v ~ /misses/) print $1 > "/dev/stderr"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4,
            (k == "min" ? ">= " x : k == "max" ? "<= " x : "-"), v, $6
    }' "$O/retention.tsv" 2>>"$O/.missed"
    echo
fi
if [ -f "$O/retention.txt" ]; then
    sed 's/^retention: /- /' "$O/retention.txt"
else
    echo 'Missing: `bench/retention.sh` left no `retention.txt` in this run.'
fi

# ----------------------------------------------- metrics and the page --
printf '\n## Metrics and the run page (issue 35)\n\n'
if [ -f "$O/glance.tsv" ]; then
    echo "| scenario | unit | figure | target | verdict | note |"
    echo "|---|---|---|---|---|---|"
    awk -F '\t' '{
        v = "-"
        if ($4 ~ /^max:/) { t = substr($4, 5); v = ($3 ~ /^[0-9.]+$/) ? (($3 + 0 <= t + 0) ? "meets" : "**misses**") : "?" }
        if (v ~ /misses/) print $1 > "/dev/stderr"
        printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, ($4 ~ /^max:/ ? "<= " substr($4, 5) : "-"), v, $5
    }' "$O/glance.tsv" 2>>"$O/.missed"
else
    echo 'Missing: `bench/glance.sh` left no `glance.tsv` in this run.'
fi

# -------------------------------------------------------------- proxy --
# The proxy's bench part (issue 33) writes proxy.tsv or proxy.md; this
# section is where its figures, side by side with nginx, go.
printf '\n## Proxy (issue 33)\n\n'
if [ -f "$O/proxy.md" ]; then
    cat "$O/proxy.md"
    grep -q 'sync >= 5,000 | \*\*no' "$O/proxy.md" &&
        echo "proxy sync throughput" >>"$O/.missed"
    grep -q '0.3 async | \*\*no' "$O/proxy.md" &&
        echo "proxy latency, one client" >>"$O/.missed"
elif [ -f "$O/proxy.tsv" ]; then
    echo "| scenario | unit | ledger | nginx | ledger/nginx | target | verdict | note |"
    echo "|---|---|---|---|---|---|---|---|"
    awk -F '\t' '
function isnum(x) { return x ~ /^[0-9.]+$/ }
{
    r = ""; if (isnum($3) && isnum($4) && $4 + 0 > 0) r = sprintf("%.2f", $3 / $4)
    k = $6; sub(/:.*/, "", k); v = $6; sub(/^[^:]*:/, "", v); t = "-"; j = "-"
    if (k == "min") { t = ">= " v; j = isnum($3) ? ($3 + 0 >= v + 0 ? "meets" : "**misses**") : "?" }
    if (k == "max") { t = "<= " v; j = isnum($3) ? ($3 + 0 <= v + 0 ? "meets" : "**misses**") : "?" }
    if (k == "ratio") { t = ($5 == "hi" ? ">= " : "<= ") v "x nginx"
        j = r == "" ? "?" : (($5 == "hi" ? r + 0 >= v + 0 : r + 0 <= v + 0) ? "meets" : "**misses**") }
    if (j ~ /misses/) print $1 > "/dev/stderr"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, ($4 == "" ? "-" : $4), (r == "" ? "-" : r), t, j, $7
}' "$O/proxy.tsv" 2>>"$O/.missed"
else
    echo 'No proxy bench part in this run (`bench/out/proxy.tsv` or `proxy.md`).'
fi

# bench/otlp.sh (issue 48): the OTLP receiver against the server's own
# protocol, the same spans
printf '\n## OpenTelemetry in: `ledger serve --otlp` (issue 48)\n\n'
if [ -f "$O/otlp.tsv" ]; then
    echo "| scenario | unit | figure | target | verdict |"
    echo "|---|---|---|---|---|"
    tail -n +2 "$O/otlp.tsv" | awk -F '\t' '{
        if ($5 ~ /misses/) print $1 > "/dev/stderr"
        printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' 2>>"$O/.missed"
    echo
    echo "Batches of 512 chat spans, one batch in flight a connection, best of the rounds (\`bench/otlp.sh\`); the socket figure sends the events those spans map to as request lines, 512 at a time."
else
    echo 'No OTLP bench part in this run (`bench/out/otlp.tsv`).'
fi

# -------------------------------------------------- what bounds them --
printf '\n## What bounds the missed targets\n\n'
if [ ! -s "$O/.missed" ]; then
    echo "Every target with a verdict was met in this run."
else
    sort -u "$O/.missed" | while IFS= read -r s; do
        why=""
        [ -f "$BOUNDS" ] && why=$(awk -F '\t' -v s="$s" 'index(s, $1) == 1 && length($1) > best { best = length($1); w = $2 } END { print w }' "$BOUNDS")
        printf -- '- **%s**: %s\n' "$s" "${why:-not explained yet (bench/bounds.tsv has no line for it)}"
    done
fi
rm -f "$O/.missed"
