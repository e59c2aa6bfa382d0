#!/bin/sh
# serve_access.sh — who may write through `ledger serve`, and who may read
# (issue 13, DIR/access.json, docs/SYSTEMD.md):
#   - without the file only the daemon's own uid (and root) may write;
#     another uid is refused per line with code 77 naming the file, and
#     the connection goes on;
#   - entries by user, uid, group (primary or supplementary, SO_PEERGROUPS)
#     and unit, narrowed by types ("x.*" prefixes) and actors ("log" is the
#     log key); only what is allowed is stored;
#   - a malformed file names its line and column, an unknown key, a bad
#     value, an unknown user or group name its place; the daemon exits 78
#     and serves nothing;
#   - "readers": GROUP gives that group read access (directory 2750,
#     data.mdb 0640, lock.mdb 0660, socket 0660) while keys/ stays 0700
#     and the key 0600 (issue 11's checks): a member of the group runs
#     query, show, runs, doctor and verify but cannot write directly.
# The cross-uid parts run the clients as nobody (setpriv); they need root.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -n "$PY" ] || { echo "SKIP: needs python3"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
chmod 711 "$T"
D=$T/l
S=$D/ledger.sock
A=$D/access.json
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
cp "$HERE/lib/serve_probe.py" "$T/probe.py"
chmod 644 "$T/probe.py"
ROOT=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1 &&
    getent group nogroup >/dev/null 2>&1 && ROOT=1
NOBODY=65534

start() {
    : >"$T/serve.out" # else a restart may read the last daemon's line
    "$LEDGER" --dir "$D" serve "$@" >"$T/serve.out" 2>"$T/serve.err" &
    pid=$!
    i=0
    while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
        if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "serve did not start: $(cat "$T/serve.err")"
            pid=""
            return 1
        fi
    done
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "serve exit $?: $(cat "$T/serve.err")"
    pid=""
}
# as UID GID [GROUPS] -- lines client with stdin's lines
as() {
    u=$1 g=$2 gs=$3
    shift 3
    if [ -n "$gs" ]; then
        setpriv --reuid="$u" --regid="$g" --groups="$gs" "$PY" "$T/probe.py" "$S" lines
    else
        setpriv --reuid="$u" --regid="$g" --clear-groups "$PY" "$T/probe.py" "$S" lines
    fi
}
count() { "$LEDGER" --dir "$D" query -o json "type=$1" 2>/dev/null | wc -l | tr -d ' '; }

"$LEDGER" --dir "$D" init >/dev/null || exit 1
chmod 711 "$D"

# --- 1. no file: the daemon's own uid writes, another uid is refused
start || exit 1
printf '%s\n' '{"type":"x.self","body":{},"id":"s1"}' |
    python3 "$T/probe.py" "$S" lines >"$T/self" 2>&1
grep -q '^{"id":"s1","seq":"[0-9]*"}$' "$T/self" || fail "own uid refused without a file: $(cat "$T/self")"
if [ $ROOT = 1 ]; then
    chmod 666 "$S" # this test's socket: let nobody connect, access.json decides
    printf '%s\n' '{"type":"x.nob","body":{},"id":"n1"}' '{"type":"x.nob","body":{},"id":"n2"}' |
        as $NOBODY $NOBODY "" >"$T/nob" 2>&1
    [ "$(grep -c '"code":77}$' "$T/nob")" = 2 ] || fail "nobody without a file: $(cat "$T/nob")"
    grep -q "line 1: not authorised: uid $NOBODY gid $NOBODY matches no writer in .*access.json (no such file: only the daemon's own user and root may write)" "$T/nob" ||
        fail "refusal message: $(cat "$T/nob")"
    grep -q '"id":"n2".*line 2: not authorised' "$T/nob" || fail "connection did not go on: $(cat "$T/nob")"
    [ "$(count x.nob)" = 0 ] || fail "refused events were stored"
fi
stop

# --- 2. entries: user with types and actors; group (supplementary); unit
cat >"$A" <<'EOF'
{
  "version": 1,
  "comment": "who may write through ledger serve",
  "writers": [
    {"user": "nobody", "types": ["x.ok.*", "x.exact"], "actors": ["log"]},
    {"group": "nogroup", "uid": 4242, "types": ["x.grp"]},
    {"unit": "nosuch-agent.service"}
  ]
}
EOF
start || exit 1
if [ $ROOT = 1 ]; then
    chmod 666 "$S"
    cat >"$T/req" <<'EOF'
{"type":"x.ok.one","body":{"i":1},"id":"u1"}
{"type":"x.exact","body":{"i":2},"id":"u2"}
{"type":"x.exactly","body":{"i":3},"id":"u3"}
{"type":"x.ok","body":{"i":4},"id":"u4"}
{"type":"x.ok.two","body":{"i":5},"id":"u5","actor":"agent"}
{"type":"x.grp","body":{"i":6},"id":"u6"}
EOF
    as $NOBODY $NOBODY "" <"$T/req" >"$T/ans" 2>&1
    sed -n 1p "$T/ans" | grep -q '^{"id":"u1","seq":' || fail "x.ok.* allowed: $(sed -n 1p "$T/ans")"
    sed -n 2p "$T/ans" | grep -q '^{"id":"u2","seq":' || fail "x.exact allowed: $(sed -n 2p "$T/ans")"
    sed -n 3p "$T/ans" | grep -q "\"id\":\"u3\",\"error\":\"line 3: not authorised: uid $NOBODY may not write type .\"x.exactly.\"" ||
        fail "x.exactly refused: $(sed -n 3p "$T/ans")"
    sed -n 4p "$T/ans" | grep -q '"id":"u4","error":"line 4: not authorised: .*type' || fail "x.ok is not x.ok.*: $(sed -n 4p "$T/ans")"
    sed -n 5p "$T/ans" | grep -q '"id":"u5","error":"line 5: not authorised: .*as actor .\"agent.\"' || fail "actor refused: $(sed -n 5p "$T/ans")"
    sed -n 6p "$T/ans" | grep -q '"id":"u6","error":.*"code":77' || fail "x.grp is not nobody's: $(sed -n 6p "$T/ans")"
    # uid 4242 in nogroup only as a supplementary group: allowed x.grp
    printf '%s\n' '{"type":"x.grp","body":{},"id":"g1"}' '{"type":"x.ok.one","body":{},"id":"g2"}' |
        as 4242 4242 $NOBODY >"$T/grp" 2>&1
    sed -n 1p "$T/grp" | grep -q '^{"id":"g1","seq":' || fail "supplementary group: $(cat "$T/grp")"
    sed -n 2p "$T/grp" | grep -q '"id":"g2".*not authorised' || fail "group entry is x.grp only: $(cat "$T/grp")"
    # uid 4242 without the group: nothing
    printf '%s\n' '{"type":"x.grp","body":{},"id":"g3"}' | as 4242 4242 "" >"$T/grp2" 2>&1
    grep -q '"id":"g3".*matches no writer' "$T/grp2" || fail "no group: $(cat "$T/grp2")"
    # a unit entry does not match a process outside that unit
    printf '%s\n' '{"type":"x.unit","body":{},"id":"v1"}' | as 4343 4343 "" >"$T/unit" 2>&1
    grep -q '"id":"v1".*matches no writer' "$T/unit" || fail "unit: $(cat "$T/unit")"
    # SIGHUP: a bad file changes nothing; a good one applies, to an open
    # connection too from its next line
    cp "$A" "$T/good.json"
    printf '{"writers": [{"uid": 1,}]}\n' >"$A"
    kill -HUP "$pid"
    i=0
    while ! grep -q "not reloaded" "$T/serve.err" && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    grep -q "SIGHUP: not reloaded, the previous rules stay: .*access.json: line 1, column" "$T/serve.err" ||
        fail "bad file on SIGHUP: $(cat "$T/serve.err")"
    printf '%s\n' '{"type":"x.ok.hup","body":{},"id":"h1"}' | as $NOBODY $NOBODY "" >"$T/hup1" 2>&1
    grep -q '^{"id":"h1","seq":' "$T/hup1" || fail "the old rules did not stay: $(cat "$T/hup1")"
    # an open connection (nobody's), then the rules change under it
    cat >"$T/stepper.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.stdin:  # one request a line, each answered before the next
    s.sendall(line.encode())
    print(f.readline().decode().rstrip("\n"), flush=True)
PY
    chmod 644 "$T/stepper.py"
    mkfifo "$T/hfifo"
    setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$PY" -u "$T/stepper.py" "$S" <"$T/hfifo" >"$T/hup2" 2>&1 &
    hp=$!
    exec 7>"$T/hfifo"
    printf '%s\n' '{"type":"x.hup","body":{},"id":"h2"}' >&7
    i=0
    while ! grep -q h2 "$T/hup2" && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    printf '{"writers": [{"user": "nobody", "types": ["x.hup"]}]}\n' >"$A"
    kill -HUP "$pid"
    i=0
    while ! grep -q "SIGHUP: .*access.json read again" "$T/serve.err" && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    grep -q "SIGHUP: .*access.json read again" "$T/serve.err" || fail "good file on SIGHUP: $(cat "$T/serve.err")"
    printf '%s\n' '{"type":"x.hup","body":{},"id":"h3"}' >&7
    exec 7>&-
    wait "$hp"
    grep -q '"id":"h2".*"code":77' "$T/hup2" || fail "before the reload x.hup was not allowed: $(cat "$T/hup2")"
    grep -q '^{"id":"h3","seq":' "$T/hup2" || fail "after the reload x.hup on the open connection: $(cat "$T/hup2")"
    cp "$T/good.json" "$A"
    kill -HUP "$pid"
    [ "$(count x.ok.one)" = 1 ] || fail "x.ok.one stored $(count x.ok.one) times"
    [ "$(count x.grp)" = 1 ] || fail "x.grp stored $(count x.grp) times"
    [ "$(count x.exactly)" = 0 ] || fail "a refused type was stored"
else
    echo "note: not root: the cross-uid checks are skipped"
fi
# the daemon's own uid may always write, whatever the file says
printf '%s\n' '{"type":"x.self2","body":{},"id":"s2"}' |
    python3 "$T/probe.py" "$S" lines >"$T/self2" 2>&1
grep -q '^{"id":"s2","seq":' "$T/self2" || fail "own uid refused: $(cat "$T/self2")"
stop
grep -q "not authorised" "$T/serve.err" || [ $ROOT = 0 ] || fail "stop line does not count refusals: $(cat "$T/serve.err")"

# --- 3. malformed files: exit 78, named, nothing served
bad() {
    name=$1 want=$2
    "$LEDGER" --dir "$D" serve >"$T/b.out" 2>"$T/b.err" &
    bp=$!
    i=0
    while kill -0 $bp 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    if kill -0 $bp 2>/dev/null; then
        kill -9 $bp
        fail "$name: the daemon started"
    fi
    wait $bp
    rc=$?
    [ "$rc" = 78 ] || fail "$name: exit $rc, want 78: $(cat "$T/b.err")"
    grep -q -- "$want" "$T/b.err" || fail "$name: want '$want': $(cat "$T/b.err")"
    grep -q listening "$T/b.out" && fail "$name: it served"
    [ -e "$S" ] && fail "$name: a socket was left"
}
printf '{"writers": [\n  {"uid": 3,}\n]}\n' >"$A"
bad "bad JSON" "access.json: line 2, column 13: "
printf '{"writers": [], "writer": []}\n' >"$A"
bad "unknown top key" 'unknown key "writer" (known: version, writers, readers, comment)'
printf '{"writers": [{"uid": 3, "typs": ["x.*"]}]}\n' >"$A"
bad "unknown entry key" 'writers\[0\]: unknown key "typs"'
printf '{"writers": [{"uid": 3, "uid": 4}]}\n' >"$A"
bad "duplicate key" "duplicate object key"
printf '{"writers": [{"user": "no-such-user-xyz"}]}\n' >"$A"
bad "unknown user" 'writers\[0\].user: no user "no-such-user-xyz"'
printf '{"writers": [{"uid": 1}, {"group": "no-such-group-xyz"}]}\n' >"$A"
bad "unknown group" 'writers\[1\].group: no group "no-such-group-xyz"'
printf '{"writers": [{"uid": -1}]}\n' >"$A"
bad "negative uid" 'writers\[0\].uid: must be a number'
printf '{"writers": [{"types": ["x.*"]}]}\n' >"$A"
bad "no selector" 'writers\[0\]: names no peer'
printf '{"writers": [{"uid": 5, "types": ["x*y"]}]}\n' >"$A"
bad "bad pattern" 'writers\[0\].types\[0\]: "x\*y"'
printf '{"writers": [{"uid": 5, "actors": []}]}\n' >"$A"
bad "empty actors" 'writers\[0\].actors: must be a list of 1 to'
printf '{"version": 2, "writers": []}\n' >"$A"
bad "version" "version: this ledger reads version 1"
printf '{"readers": "no-such-group-xyz", "writers": []}\n' >"$A"
bad "unknown readers group" 'readers: no group "no-such-group-xyz"'
printf '[]\n' >"$A"
bad "not an object" "must be an object"
: >"$A"
bad "empty file" "access.json: line "

# --- 4. readers: the group reads, keys stay the owner's; at store layout
# 999 too, whose readers read the intake log (before: "Permission denied"
# for every reading command of a member of the group)
readers_check() {
    printf '{"version": 1, "readers": "nogroup", "writers": []}\n' >"$A"
    start || exit 1
    [ "$(stat -c '%a %G' "$D")" = "2750 nogroup" ] || fail "dir: $(stat -c '%a %G' "$D")"
    [ "$(stat -c '%a %G' "$D/data.mdb")" = "640 nogroup" ] || fail "data.mdb: $(stat -c '%a %G' "$D/data.mdb")"
    [ "$(stat -c '%a %G' "$D/lock.mdb")" = "660 nogroup" ] || fail "lock.mdb: $(stat -c '%a %G' "$D/lock.mdb")"
    if [ -e "$D/intake" ]; then
        [ "$(stat -c '%a %G' "$D/intake")" = "640 nogroup" ] || fail "intake: $(stat -c '%a %G' "$D/intake")"
    fi
    [ "$(stat -c '%a %G' "$S")" = "660 nogroup" ] || fail "socket: $(stat -c '%a %G' "$S")"
    [ "$(stat -c '%a' "$D/keys")" = 700 ] || fail "keys/ is $(stat -c '%a' "$D/keys")"
    for k in "$D"/keys/*; do
        [ "$(stat -c '%a' "$k")" = 600 ] || fail "$k is $(stat -c '%a' "$k")"
    done
    # a member of the group reads while the daemon serves
    printf '%s\n' '{"type":"x.live","body":{"n":1},"id":"l1"}' |
        python3 "$T/probe.py" "$S" lines >/dev/null 2>&1
    rd() { setpriv --reuid=$NOBODY --regid=$NOBODY --init-groups "$LEDGER" --dir "$D" "$@"; }
    rd query -o json type=x.live >"$T/rq" 2>"$T/rq.err" || fail "reader query: $(cat "$T/rq.err")"
    grep -q '"n":1' "$T/rq" || fail "reader does not see x.live: $(cat "$T/rq")"
    rd show -o json 0 >/dev/null 2>"$T/rs.err" || fail "reader show: $(cat "$T/rs.err")"
    rd runs >/dev/null 2>"$T/rr.err" || fail "reader runs: $(cat "$T/rr.err")"
    rd doctor >/dev/null 2>"$T/rd.err"
    [ $? -le 1 ] || fail "reader doctor: $(cat "$T/rd.err")"
    rd verify >/dev/null 2>"$T/rv.err" || fail "reader verify: $(cat "$T/rv.err")"
    rd keys list >/dev/null 2>"$T/rk.err" || fail "reader keys list: $(cat "$T/rk.err")"
    # a reader reads the log key's secret? never
    setpriv --reuid=$NOBODY --regid=$NOBODY --init-groups cat "$D/keys/log.key" >/dev/null 2>&1 &&
        fail "a reader read the log key"
    setpriv --reuid=$NOBODY --regid=$NOBODY --init-groups ls "$D/keys" >/dev/null 2>&1 &&
        fail "a reader listed keys/"
    # a reader writes neither directly nor through the daemon
    rd append --direct --body '{}' x.sneak >/dev/null 2>"$T/ra.err" && fail "a reader appended directly"
    printf '%s\n' '{"type":"x.sneak","body":{},"id":"r1"}' | as $NOBODY $NOBODY "" >"$T/rw" 2>&1
    grep -q '"id":"r1".*"code":77' "$T/rw" || fail "reader wrote through the daemon: $(cat "$T/rw")"
    [ "$(count x.sneak)" = 0 ] || fail "a reader's event was stored"
    # a new event after the reader's read is seen by the next read
    printf '%s\n' '{"type":"x.live","body":{"n":2},"id":"l2"}' |
        python3 "$T/probe.py" "$S" lines >/dev/null 2>&1
    rd query -o json type=x.live 2>/dev/null | grep -q '"n":2' || fail "reader does not see the second x.live"
    stop
    # the owner's own checks of issue 11 still pass on the shared directory
    "$LEDGER" --dir "$D" verify --full >"$T/vf" 2>&1 || fail "verify --full: $(cat "$T/vf")"
    "$LEDGER" --dir "$D" append --direct --body '{}' x.owner >/dev/null 2>"$T/oa.err" ||
        fail "the owner cannot append: $(cat "$T/oa.err")"
}
if [ $ROOT = 1 ]; then
    readers_check
    D=$T/l999 S=$T/l999/ledger.sock A=$T/l999/access.json
    LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null || exit 1
    [ -e "$D/intake" ] || fail "layout 9 made no intake log"
    readers_check
fi

[ $fails -eq 0 ] || exit 1
echo "serve_access: default, entries by user/group/unit/types/actors, 14 malformed files, group readers"
