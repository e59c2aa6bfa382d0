# servers.sh — sourced by the fleet e2e tests: start nginx (WebDAV PUT) and
# other servers as the current user, on 127.0.0.1, on a port chosen at run
# time, with every file under $T. Each start_* sets a variable with the
# port and remembers the pid for stop_servers.
SERVER_PIDS=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT NAME
    i=0
    while ! curl -s -o /dev/null "http://127.0.0.1:$1/"; do
        i=$((i + 1))
        if [ $i -gt 200 ]; then echo "FAIL: $2 did not start on $1"; return 1; fi
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
        listen 127.0.0.1:$NGINX_PORT;
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
    <listen_host>127.0.0.1</listen_host>
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
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
CHU
    clickhouse-server --config-file="$d/config.xml" > "$d/stdout" 2>&1 &
    SERVER_PIDS="$SERVER_PIDS $!"
    i=0
    until [ "$(curl -s "http://127.0.0.1:$CH_PORT/ping")" = "Ok." ]; do
        i=$((i + 1))
        if [ $i -gt 300 ]; then echo "FAIL: clickhouse did not start"; tail -5 "$d/error.log"; return 1; fi
        sleep 0.1
    done
}

# chq PORT SQL: runs a query, prints the result
chq() {
    curl -sf --data-binary "$2" "http://127.0.0.1:$1/"
}
