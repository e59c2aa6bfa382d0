# servers.sh — sourced by the fleet e2e tests: start nginx (WebDAV PUT) and
# other servers as the current user, on $SERVE_ADDR (127.0.0.1 unless
# netns_up set it), on a port chosen at run time, with every file under
# $T. Each start_* sets a variable with the port and remembers the pid for
# stop_servers.
SERVER_PIDS=""
SERVE_ADDR=${SERVE_ADDR:-127.0.0.1}
NETNS=""

free_port() {
    python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$SERVE_ADDR"
}

# ------------------------------------------------- network namespaces --
# netns_up N: boxes 1..N each in a network namespace of their own, joined
# by veth pairs to a bridge on this host; the servers listen on the
# bridge's address ($SERVE_ADDR), the only way out of a box. Needs root
# and iproute2; returns non-zero (and leaves nothing behind) when the
# kernel or the user cannot make them. The addresses are a /24 of 10/8
# picked from the pid, the names carry the pid: tests running at the same
# time do not meet. netns_down removes everything. LEDGER_NO_NETNS=1: no
# namespaces (to try the loopback form).
#
# Each thing made is remembered the moment it exists (a namespace in
# NETNS, the bridge and each veth's host end in NS_LINKS), so a step that
# fails at any point leaves nothing: netns_down deletes the namespaces
# (and the veth ends inside them) and the links on this host (a veth's
# host end takes its peer with it). tests/e2e/netns_cleanup.sh makes each
# step fail in turn against a stand-in for ip(8).
NS_TAG=lf$$
NS_LINKS=""
netns_up() {
    [ "${LEDGER_NO_NETNS:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
        command -v ip >/dev/null 2>&1 || return 1
    ns_net=10.$((100 + ($$ / 250) % 100)).$(($$ % 250))
    NETNS=""
    ip link add "${NS_TAG}br" type bridge 2>/dev/null || return 1
    NS_LINKS="${NS_TAG}br"
    ip addr add "$ns_net.1/24" dev "${NS_TAG}br" &&
        ip link set "${NS_TAG}br" up || { netns_down; return 1; }
    b=1
    while [ "$b" -le "$1" ]; do
        ip netns add "${NS_TAG}-box$b" || { netns_down; return 1; }
        NETNS="$NETNS${NS_TAG}-box$b "
        ip link add "${NS_TAG}h$b" type veth peer name "${NS_TAG}v$b" ||
            { netns_down; return 1; }
        NS_LINKS="$NS_LINKS ${NS_TAG}h$b"
        ip link set "${NS_TAG}v$b" netns "${NS_TAG}-box$b" &&
            ip link set "${NS_TAG}h$b" master "${NS_TAG}br" &&
            ip link set "${NS_TAG}h$b" up &&
            ip -n "${NS_TAG}-box$b" link set lo up &&
            ip -n "${NS_TAG}-box$b" link set "${NS_TAG}v$b" name eth0 &&
            ip -n "${NS_TAG}-box$b" addr add "$ns_net.$((10 + b))/24" dev eth0 &&
            ip -n "${NS_TAG}-box$b" link set eth0 up || { netns_down; return 1; }
        b=$((b + 1))
    done
    SERVE_ADDR=$ns_net.1
    return 0
}
netns_down() {
    for ns in $NETNS; do ip netns del "$ns" 2>/dev/null; done
    for ln in $NS_LINKS; do ip link del "$ln" 2>/dev/null; done
    NETNS=""
    NS_LINKS=""
    SERVE_ADDR=127.0.0.1
}
# box B CMD...: runs CMD inside box B's namespace (on this host, without
# namespaces, as it is)
box() {
    b=$1
    shift
    if [ -n "$NETNS" ]; then
        ip netns exec "${NS_TAG}-box$b" "$@"
    else
        "$@"
    fi
}
# box_link B up|down: box B's only network link
box_link() {
    ip -n "${NS_TAG}-box$1" link set eth0 "$2"
}

wait_port() { # PORT NAME
    i=0
    while ! curl -s -o /dev/null "http://$SERVE_ADDR:$1/"; do
        i=$((i + 1))
        if [ $i -gt 600 ]; then echo "FAIL: $2 did not start on $1"; return 1; fi
        sleep 0.05
    done
}

# start_nginx DIR: a WebDAV server whose document root is DIR/www; sets
# NGINX_PORT. Non-root friendly: every path is under DIR.
start_nginx() {
    d=$1
    mkdir -p "$d/www" "$d/tmp"
    NGINX_PORT=$(free_port)
    u=""
    [ "$(id -u)" = 0 ] && u="user root;"
    cat > "$d/nginx.conf" <<NGX
$u
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen $SERVE_ADDR:$NGINX_PORT;
        root $d/www;
        location / {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 64m;
        }
    }
}
NGX
    nginx -c "$d/nginx.conf" -p "$d" -g 'daemon off;' 2>>"$d/error.log" &
    SERVER_PIDS="$SERVER_PIDS $!"
    wait_port "$NGINX_PORT" nginx
}

stop_servers() {
    for p in $SERVER_PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    SERVER_PIDS=""
}

# start_clickhouse DIR: clickhouse-server (Debian's 18.16) as the current
# user with a minimal config under DIR; sets CH_PORT (HTTP).
start_clickhouse() {
    d=$1
    mkdir -p "$d/data" "$d/tmp" "$d/user_files"
    CH_PORT=$(free_port)
    ch_tcp=$(free_port)
    cat > "$d/config.xml" <<CHX
<yandex>
    <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog></logger>
    <http_port>$CH_PORT</http_port>
    <tcp_port>$ch_tcp</tcp_port>
    <listen_host>$SERVE_ADDR</listen_host>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>67108864</mark_cache_size>
</yandex>
CHX
    cat > "$d/users.xml" <<CHU
<yandex>
    <profiles><default></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>$SERVE_ADDR/24</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
CHU
    clickhouse-server --config-file="$d/config.xml" > "$d/stdout" 2>&1 &
    SERVER_PIDS="$SERVER_PIDS $!"
    i=0
    until [ "$(curl -s "http://$SERVE_ADDR:$CH_PORT/ping")" = "Ok." ]; do
        i=$((i + 1))
        if [ $i -gt 300 ]; then echo "FAIL: clickhouse did not start"; tail -5 "$d/error.log"; return 1; fi
        sleep 0.1
    done
}

# chq PORT SQL: runs a query, prints the result
chq() {
    curl -sf --data-binary "$2" "http://$SERVE_ADDR:$1/"
}
