#!/bin/sh
# bench/proxy.sh BUILD_DIR — `ledger proxy` side by side with nginx as a
# reverse proxy (nginx-light, an access log, keep-alive to the upstream),
# in front of the same upstream (bench/proxy_stub.c), in one run, loaded by
# bench/proxy_load.c (keep-alive clients, POST /v1/chat/completions),
# measured as gateways publish themselves (issue 46):
#   - one client, PROXY_SECONDS (5) s each: p50 and p99 latency through
#     the upstream directly, nginx, the proxy (sync, the default) and the
#     proxy with --record async, and what each adds to a direct call at
#     each (targets: p99 added <= 1.5 ms sync, <= 0.3 ms async);
#   - requests/s at p99 <= PROXY_SLO_MS (5): 1, 2, 4, ... PROXY_CLIENTS
#     clients, PROXY_SLO_SECONDS (3) s each; the most requests/s of a run
#     whose p99 is within the bound (target: >= 5,000 recorded
#     requests/s in the default sync mode, where every answer waits for
#     its event's commit);
#   - PROXY_CLIENTS (64) clients, non-streaming: requests/s, p50/p99 and
#     each server's CPU time a request;
#   - one streaming client: time to first byte, added;
#   - PROXY_CLIENTS streaming clients through the proxy: its peak RSS.
# The ledger is on the same disk as the build (every event of the sync
# proxy is durably committed before its answer). Prints one line per
# figure and writes bench/out/proxy.tsv.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
NC=${PROXY_CLIENTS:-64}
SEC=${PROXY_SECONDS:-5}
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null; rm -rf "$T"' EXIT
command -v nginx >/dev/null 2>&1 || { echo "proxy bench: nginx is not installed (nginx-light)"; exit 1; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

"$B/bench/proxy_stub" "$T/sport" 0 20 &
pids="$pids $!"
i=0
while [ ! -s "$T/sport" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
SP=$(cat "$T/sport")

NP=$(free_port)
mkdir -p "$T/ngx/tmp"
u=""
[ "$(id -u)" = 0 ] && u="user root;"
cat >"$T/ngx/nginx.conf" <<NGX
$u
worker_processes 1;
pid $T/nginx.pid;
error_log $T/ngx/error.log;
events { worker_connections 4096; }
http {
    access_log $T/ngx/access.log;
    client_body_temp_path $T/ngx/tmp/body;
    proxy_temp_path $T/ngx/tmp/proxy;
    fastcgi_temp_path $T/ngx/tmp/fastcgi;
    uwsgi_temp_path $T/ngx/tmp/uwsgi;
    scgi_temp_path $T/ngx/tmp/scgi;
    upstream stub { server 127.0.0.1:$SP; keepalive 128; }
    server {
        listen 127.0.0.1:$NP;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://stub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
NGX
nginx -c "$T/ngx/nginx.conf" -p "$T/ngx" 2>"$T/ngx/start.err" ||
    { echo "proxy bench: nginx: $(cat "$T/ngx/start.err")"; exit 1; }

"$B/ledger" --dir "$T/sync" init >/dev/null
"$B/ledger" --dir "$T/sync" proxy --listen 127.0.0.1:0 --upstream "stub=http://127.0.0.1:$SP" \
    >"$T/sync.out" 2>"$T/sync.err" &
SYNC=$!
pids="$pids $SYNC"
"$B/ledger" --dir "$T/async" init >/dev/null
"$B/ledger" --dir "$T/async" proxy --listen 127.0.0.1:0 --record async \
    --upstream "stub=http://127.0.0.1:$SP" >"$T/async.out" 2>"$T/async.err" &
ASYNC=$!
pids="$pids $ASYNC"
i=0
while { ! grep -q '^listening on' "$T/sync.out" 2>/dev/null ||
    ! grep -q '^listening on' "$T/async.out" 2>/dev/null; } && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
PS=$(sed -n 's/^listening on 127.0.0.1://p' "$T/sync.out")
PA=$(sed -n 's/^listening on 127.0.0.1://p' "$T/async.out")

: >"$OUT/proxy.tsv"
say() { printf '%s\n' "$*"; }
rec() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/proxy.tsv"; }

# CPU time (utime + stime, clock ticks) of processes, or of those of
# their threads whose name matches one of the patterns $2 (the proxy names its
# recorder thread "proxy-record" and its curl thread "http-loop";
# libmicrohttpd names its own "MHD-*").
ticks() {
    for p in $1; do
        if [ -n "${2:-}" ]; then
            # (the threads listed, not globbed: the patterns below must
            # not be expanded as file names, so globbing is off there)
            for t in $(ls "/proc/$p/task" 2>/dev/null); do
                c=$(cat "/proc/$p/task/$t/comm" 2>/dev/null)
                set -f
                for pat in $2; do
                    # shellcheck disable=SC2254
                    case $c in $pat) cut -d' ' -f14,15 "/proc/$p/task/$t/stat" ;; esac
                done
                set +f
            done
        else
            cut -d' ' -f14,15 "/proc/$p/stat"
        fi
    done | awk '{ s += $1 + $2 } END { print s + 0 }'
}
HZ=$(getconf CLK_TCK)
us_per() { python3 -c "print('%.0f' % (($2 - $1) * 1e6 / $HZ / max($3, 1)))"; }

# 64 clients, non-streaming; the servers' CPU time a request (what bounds
# a proxy when the box's cores are busy: bench/bounds.tsv)
NGW=$(pgrep -P "$(cat "$T/nginx.pid")" | tr '\n' ' ')
for who in direct:$SP nginx:$NP proxy:$PS proxy-async:$PA; do
    n=${who%%:*}
    p=${who#*:}
    case $n in
    nginx) cp=$NGW ;;
    proxy) cp=$SYNC ;;
    proxy-async) cp=$ASYNC ;;
    *) cp="" ;;
    esac
    c0=$(ticks "$cp")
    k0=$(ticks "$cp" proxy-record)
    h0=$(ticks "$cp" 'MHD-* http-loop')
    r=$("$B/bench/proxy_load" "127.0.0.1:$p" "$NC" "$SEC")
    reqs=$(field "$r" reqs)
    if [ -n "$cp" ]; then
        r="$r cpu_us_per_req=$(us_per "$c0" "$(ticks "$cp")" "$reqs")"
        case $n in proxy*)
            r="$r record_cpu_us_per_req=$(us_per "$k0" "$(ticks "$cp" proxy-record)" "$reqs")"
            r="$r http_cpu_us_per_req=$(us_per "$h0" "$(ticks "$cp" 'MHD-* http-loop')" "$reqs")" ;;
        esac
    fi
    eval "rps_$(echo $n | tr - _)=$(field "$r" rps)"
    [ "$n" = proxy ] && rec_sync=$(field "$r" record_cpu_us_per_req)
    say "$NC clients  $n: $r"
    rec "c${NC}_${n}_rps" "$(field "$r" rps)"
    rec "c${NC}_${n}_p50_ms" "$(field "$r" p50_ms)"
    rec "c${NC}_${n}_p99_ms" "$(field "$r" p99_ms)"
    [ -n "$cp" ] && rec "c${NC}_${n}_cpu_us_per_req" "$(field "$r" cpu_us_per_req)"
    case $n in proxy*)
        rec "c${NC}_${n}_record_cpu_us_per_req" "$(field "$r" record_cpu_us_per_req)"
        rec "c${NC}_${n}_http_cpu_us_per_req" "$(field "$r" http_cpu_us_per_req)" ;;
    esac
done
ratio=$(python3 -c "print('%.2f' % ($rps_proxy / $rps_nginx))")
ratio_a=$(python3 -c "print('%.2f' % ($rps_proxy_async / $rps_nginx))")
say "throughput vs nginx at $NC clients: sync ${ratio}x, async ${ratio_a}x"
rec "c${NC}_sync_vs_nginx" "$ratio"
rec "c${NC}_async_vs_nginx" "$ratio_a"

# one client: p50 and p99 of each, and what each proxy adds to a direct
# call at each (the figures gateways publish: added latency, issue 46)
for who in direct:$SP nginx:$NP proxy:$PS proxy-async:$PA; do
    n=${who%%:*}
    p=${who#*:}
    r=$("$B/bench/proxy_load" "127.0.0.1:$p" 1 "$SEC")
    eval "p50_$(echo $n | tr - _)=$(field "$r" p50_ms)"
    eval "p99_$(echo $n | tr - _)=$(field "$r" p99_ms)"
    say "1 client  $n: $r"
    rec "c1_${n}_p50_ms" "$(field "$r" p50_ms)"
    rec "c1_${n}_p99_ms" "$(field "$r" p99_ms)"
done
add() { python3 -c "print('%.3f' % ($1 - $2))"; }
# the disk under the ledgers, as a sync commit meets it: a 4 KiB write and
# fdatasync, 500 times (LMDB makes two such flushes a commit: its pages,
# then its meta page)
r=$(python3 - "$T" <<'P'
import os, sys, time
fd = os.open(os.path.join(sys.argv[1], "flush.probe"), os.O_WRONLY | os.O_CREAT, 0o600)
b, lat = b"\0" * 4096, []
for i in range(500):
    t = time.perf_counter()
    os.pwrite(fd, b, (i % 64) * 4096)
    os.fdatasync(fd)
    lat.append(time.perf_counter() - t)
lat.sort()
print("flush_p50_ms=%.3f flush_p99_ms=%.3f" % (lat[250] * 1e3, lat[495] * 1e3))
P
)
say "the disk: a 4 KiB write and fdatasync, $r"
rec disk_flush_p50_ms "$(field "$r" flush_p50_ms)"
rec disk_flush_p99_ms "$(field "$r" flush_p99_ms)"
say "added p50 latency, 1 client: nginx $(add $p50_nginx $p50_direct) ms, proxy sync $(add $p50_proxy $p50_direct) ms, async $(add $p50_proxy_async $p50_direct) ms"
say "added p99 latency, 1 client: nginx $(add $p99_nginx $p99_direct) ms, proxy sync $(add $p99_proxy $p99_direct) ms (target <= 1.5), async $(add $p99_proxy_async $p99_direct) ms (target <= 0.3)"
rec c1_added_nginx_ms "$(add $p50_nginx $p50_direct)"
rec c1_added_sync_ms "$(add $p50_proxy $p50_direct)"
rec c1_added_async_ms "$(add $p50_proxy_async $p50_direct)"
rec c1_added_p99_nginx_ms "$(add $p99_nginx $p99_direct)"
rec c1_added_p99_sync_ms "$(add $p99_proxy $p99_direct)"
rec c1_added_p99_async_ms "$(add $p99_proxy_async $p99_direct)"

# requests/s at p99 <= 5 ms: runs of 1, 2, 4, ... PROXY_CLIENTS clients;
# the figure is the most requests/s of a run whose p99 is within the bound
# (and without errors). Every request of the sync proxy is recorded (its
# answer waits for the commit), and the events in its ledger are counted
# against the requests answered.
SLO=${PROXY_SLO_MS:-5}
SLO_SEC=${PROXY_SLO_SECONDS:-3}
slo_sweep() { # NAME PORT: sets slo_rps_NAME, slo_c_NAME, slo_p99_NAME, slo_reqs
    best=0 bc=0 bp=0 c=1 slo_reqs=0
    while [ "$c" -le "$NC" ]; do
        r=$("$B/bench/proxy_load" "127.0.0.1:$2" "$c" "$SLO_SEC")
        say "  $1, $c clients: $r"
        slo_reqs=$((slo_reqs + $(field "$r" reqs)))
        ok=$(python3 -c "print(1 if $(field "$r" p99_ms) <= $SLO and $(field "$r" errors) == 0 else 0)")
        if [ "$ok" = 1 ] && [ "$(field "$r" rps)" -gt "$best" ]; then
            best=$(field "$r" rps) bc=$c bp=$(field "$r" p99_ms)
        fi
        c=$((c * 2))
    done
    eval "slo_rps_$(echo $1 | tr - _)=$best slo_c_$(echo $1 | tr - _)=$bc slo_p99_$(echo $1 | tr - _)=$bp"
    rec "slo_${1}_rps" "$best"
    rec "slo_${1}_clients" "$bc"
    rec "slo_${1}_p99_ms" "$bp"
}
say "requests/s at p99 <= $SLO ms ($SLO_SEC s a run, 1 to $NC clients):"
# (the model calls recorded: route.decision events; the proxy records
# other events beside them)
events() { "$B/ledger" --dir "$T/sync" query type=route.decision -o json 2>/dev/null | wc -l; }
slo_sweep nginx "$NP"
ev0=$(events)
slo_sweep proxy "$PS"
ev1=$(events)
say "  the sync proxy answered $slo_reqs requests and its ledger gained $((ev1 - ev0)) route.decision events"
rec slo_proxy_answered "$slo_reqs"
rec slo_proxy_recorded "$((ev1 - ev0))"
[ "$((ev1 - ev0))" -ge "$slo_reqs" ] || say "  **the sync proxy answered more requests than it recorded**"
slo_sweep proxy-async "$PA"
say "at p99 <= $SLO ms: nginx $slo_rps_nginx/s ($slo_c_nginx clients), proxy sync $slo_rps_proxy recorded/s ($slo_c_proxy clients, p99 $slo_p99_proxy ms; target >= 5000), async $slo_rps_proxy_async/s ($slo_c_proxy_async clients)"

# one streaming client: time to first byte
for who in direct:$SP nginx:$NP proxy:$PS; do
    n=${who%%:*}
    p=${who#*:}
    r=$("$B/bench/proxy_load" "127.0.0.1:$p" 1 "$SEC" stream)
    eval "tt_$n=$(field "$r" ttfb_p50_ms)"
    say "1 stream  $n: $r"
    rec "s1_${n}_ttfb_p50_ms" "$(field "$r" ttfb_p50_ms)"
done
say "added time to first byte: nginx $(add $tt_nginx $tt_direct) ms, proxy $(add $tt_proxy $tt_direct) ms (target <= 1)"
rec s1_added_ttfb_nginx_ms "$(add $tt_nginx $tt_direct)"
rec s1_added_ttfb_proxy_ms "$(add $tt_proxy $tt_direct)"

# 64 streaming clients: the proxy's peak RSS (a fresh one)
kill "$SYNC"
wait "$SYNC" 2>/dev/null
"$B/ledger" --dir "$T/sync" proxy --listen 127.0.0.1:0 --upstream "stub=http://127.0.0.1:$SP" \
    >"$T/sync2.out" 2>"$T/sync2.err" &
SYNC=$!
pids="$pids $SYNC"
i=0
while ! grep -q '^listening on' "$T/sync2.out" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PS=$(sed -n 's/^listening on 127.0.0.1://p' "$T/sync2.out")
r=$("$B/bench/proxy_load" "127.0.0.1:$PS" "$NC" "$SEC" stream)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SYNC/status")
say "$NC streams  proxy: $r; peak RSS $((rss / 1024)) MiB (target <= 64)"
rec "s${NC}_proxy_rps" "$(field "$r" rps)"
rec "s${NC}_proxy_peak_rss_kib" "$rss"
n_ev=$("$B/ledger" --dir "$T/sync" stats -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("events", "?"))' 2>/dev/null)
say "events in the sync proxy's ledger: $n_ev"

# The section bench/results.sh puts in bench/RESULTS.md: one table, the
# figures of this run beside nginx's, each with its target.
v() { sed -n "s/^$1	//p" "$OUT/proxy.tsv"; }
yes_no() { python3 -c "print('yes' if $1 else '**no**')"; }
{
    echo "| figure | nginx | proxy sync (default) | proxy async | target | met |"
    echo "|---|---|---|---|---|---|"
    echo "| the disk under the ledgers: a 4 KiB write and fdatasync, p50 and p99, ms (a sync commit makes two) | | $(v disk_flush_p50_ms), $(v disk_flush_p99_ms) | | | |"
    echo "| 1 client, p50 added over direct, ms (direct: $(v c1_direct_p50_ms)) | $(v c1_added_nginx_ms) | $(v c1_added_sync_ms) | $(v c1_added_async_ms) | | |"
    echo "| 1 client, p99 added over direct, ms (direct: $(v c1_direct_p99_ms)) | $(v c1_added_p99_nginx_ms) | $(v c1_added_p99_sync_ms) | $(v c1_added_p99_async_ms) | <= 1.5 sync, <= 0.3 async | $(yes_no "$(v c1_added_p99_sync_ms) <= 1.5 and $(v c1_added_p99_async_ms) <= 0.3") |"
    echo "| requests/s at p99 <= $SLO ms (sync: each recorded before its answer), clients, p99 ms | $(v slo_nginx_rps) ($(v slo_nginx_clients); $(v slo_nginx_p99_ms)) | $(v slo_proxy_rps) ($(v slo_proxy_clients); $(v slo_proxy_p99_ms)) | $(v slo_proxy-async_rps) ($(v slo_proxy-async_clients); $(v slo_proxy-async_p99_ms)) | sync >= 5,000 | $(yes_no "$(v slo_proxy_rps) >= 5000") |"
    echo "| the sync proxy over those runs: requests answered (after each run's warm-up), route.decision events its ledger gained | | $(v slo_proxy_answered), $(v slo_proxy_recorded) | | every answer recorded | $(yes_no "$(v slo_proxy_recorded) >= $(v slo_proxy_answered)") |"
    echo "| $NC clients, requests/s (direct: $(v c${NC}_direct_rps)), p99 ms | $(v c${NC}_nginx_rps) ($(v c${NC}_nginx_p99_ms)) | $(v c${NC}_proxy_rps) ($(v c${NC}_proxy_p99_ms)) | $(v c${NC}_proxy-async_rps) ($(v c${NC}_proxy-async_p99_ms)) | | |"
    echo "| $NC clients, server CPU a request, µs (proxy: its recorder thread; its two HTTP threads, libmicrohttpd's and curl's) | $(v c${NC}_nginx_cpu_us_per_req) | $(v c${NC}_proxy_cpu_us_per_req) ($(v c${NC}_proxy_record_cpu_us_per_req); $(v c${NC}_proxy_http_cpu_us_per_req)) | $(v c${NC}_proxy-async_cpu_us_per_req) ($(v c${NC}_proxy-async_record_cpu_us_per_req); $(v c${NC}_proxy-async_http_cpu_us_per_req)) | | |"
    echo "| 1 stream, time to first byte added, ms | $(v s1_added_ttfb_nginx_ms) | $(v s1_added_ttfb_proxy_ms) | | <= 1 | $(yes_no "$(v s1_added_ttfb_proxy_ms) <= 1") |"
    echo "| $NC streaming clients, proxy peak RSS, MiB | | $(($(v s${NC}_proxy_peak_rss_kib) / 1024)) | | <= 64 | $(yes_no "$(v s${NC}_proxy_peak_rss_kib) <= 65536") |"
} >"$OUT/proxy.md"
