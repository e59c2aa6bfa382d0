#!/bin/sh
# tests/systemd/inside.sh OUT — runs inside the container boot.sh boots,
# as a oneshot unit once the system is up: `apt-get install` of the
# packages boot.sh copied to /root/ledger-debs, what docs/SYSTEMD.md and
# docs/PACKAGING.md leave to the operator, then the checks boot.sh lists. Writes "ok ..."/"FAIL ..." lines to OUT/result
# and creates OUT/done at the end.
set -u
O=${1:-/out}
D=/var/lib/ledger
R=$O/result
: >"$R"
ok() { echo "ok $*" >>"$R"; }
fail() { echo "FAIL $*" >>"$R"; }
check() { # check WHAT COMMAND...: ok when the command succeeds
    w=$1
    shift
    if "$@" >>"$O/inside.log" 2>&1; then ok "$w"; else fail "$w"; fi
}
# as_unit UNIT ARGS...: `ledger ARGS` run in the transient unit UNIT as
# $as_user (nobody), a member of the ledger group, from $as_bin
# (/usr/bin/ledger); its output in $O/as.out, its exit status returned
as_user=nobody
as_bin=/usr/bin/ledger
as_unit() {
    u=$1
    shift
    systemd-run --quiet --wait --pipe --unit="$u" -p User="$as_user" \
        -p RuntimeMaxSec=60 \
        -p SupplementaryGroups=ledger "$as_bin" --dir "$D" "$@" \
        >"$O/as.out" 2>"$O/as.err" </dev/null
}
trap 'journalctl -b --no-pager -u ledger.service -u ledger.socket \
    -u ledger-epoch.service -u agent.service -u other.service >"$O/journal.log" 2>&1
    touch "$O/done"; systemctl poweroff --no-block' EXIT

# --- the packages, installed as docs/PACKAGING.md says, under the running
#     systemd: their maintainer scripts do what "Setting up" lists
if (cd /root/ledger-debs && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q ./ledger_*.deb ./libledger1_*.deb) >"$O/apt.log" 2>&1; then
    ok "apt-get install ./ledger_*.deb ./libledger1_*.deb"
else
    fail "apt-get install: $(tail -n 20 "$O/apt.log")"
fi
cat "$O/apt.log" >>"$O/inside.log"
pw=$(getent passwd ledger)
case $pw in
ledger:*:/var/lib/ledger:*) ok "the package made the ledger user: $pw" ;;
*) fail "the ledger user: '$pw'" ;;
esac
getent group ledger >/dev/null && ok "the package made the ledger group" || fail "no ledger group"
st=$(stat -c '%U:%G %a' "$D" 2>&1)
[ "$st" = "ledger:ledger 750" ] && ok "$D: $st" || fail "$D is '$st', want 'ledger:ledger 750'"
check "the package made the system ledger" runuser -u ledger -- ledger --dir "$D" verify
# the units are the package's, and run the package's program
for u in ledger.socket ledger.service ledger-epoch.service ledger-epoch.timer; do
    f=$(systemctl show -p FragmentPath --value "$u")
    if ! dpkg -L ledger | grep -qx "/lib/systemd/system/$u"; then
        fail "$u is not in the package: $(dpkg -L ledger | grep systemd/system | paste -sd' ')"
    else
        case $f in
        /lib/systemd/system/"$u" | /usr/lib/systemd/system/"$u") ok "$u is the package's ($f)" ;;
        *) fail "$u is systemd's from '$f', not the package's" ;;
        esac
    fi
done
systemctl show -p ExecStart --value ledger.service | grep -q 'path=/usr/bin/ledger ' &&
    ok "ledger.service runs /usr/bin/ledger" ||
    fail "ledger.service ExecStart: $(systemctl show -p ExecStart --value ledger.service)"
a=$(systemctl is-enabled ledger.socket ledger-epoch.timer | paste -sd' ')
[ "$a" = "enabled enabled" ] && ok "the package enabled ledger.socket and ledger-epoch.timer" ||
    fail "after the installation ledger.socket, ledger-epoch.timer are: $a"
a=$(systemctl is-active ledger.socket ledger-epoch.timer | paste -sd' ')
[ "$a" = "active active" ] && ok "the package started ledger.socket and ledger-epoch.timer" ||
    fail "after the installation ledger.socket, ledger-epoch.timer are: $a"

# --- what the operator does (SYSTEMD.md, "Who may write"; PACKAGING.md):
#     writers in access.json, then the daemon told, if it runs
echo '{"version": 1, "readers": "ledger", "writers": [{"unit": "agent.service", "types": ["x.*"]}, {"unit": "agent2.service", "types": ["x.*"]}]}' |
    runuser -u ledger -- tee "$D/access.json" >/dev/null
check "systemctl try-reload-or-restart ledger" systemctl try-reload-or-restart ledger

# --- the socket is systemd's; nothing runs before the first connection
st=$(stat -c '%U:%G %a' "$D/ledger.sock" 2>&1)
[ "$st" = "ledger:ledger 660" ] && ok "socket ledger:ledger 0660" ||
    fail "socket is '$st', want 'ledger:ledger 660'"
a=$(systemctl is-active ledger.service)
[ "$a" = inactive ] && ok "service not started before a connection" ||
    fail "service is $a before any connection"

# --- a writer the access file names: acked through the activated daemon
if as_unit agent.service append -q -v x.boot --body '{"n":1}'; then
    seq=$(cat "$O/as.out")
    ok "agent.service appended seq $seq"
    grep -q 'through ledger serve' "$O/as.err" && ok "append went through the daemon" ||
        fail "append did not go through the daemon: $(cat "$O/as.err")"
else
    fail "agent.service append: exit $?: $(cat "$O/as.err")"
    seq=""
fi
a=$(systemctl is-active ledger.service)
[ "$a" = active ] && ok "service started by the socket" || fail "service is $a after a connection"

# --- provenance: the kernel's view of the writer, with its unit
if [ -n "$seq" ]; then
    ledger --dir "$D" show -o json "$seq" >"$O/show.json" 2>&1
    grep -q '"unit":"agent.service"' "$O/show.json" && ok "source.unit is agent.service" ||
        fail "source.unit: $(cat "$O/show.json")"
    grep -q '"uid":65534' "$O/show.json" && ok "source.uid is nobody's" ||
        fail "source.uid: $(cat "$O/show.json")"
    # the unit has no capability: a peer of another user's /proc/PID/exe
    # is not the daemon's to read (ptrace access), so no exe (PROTOCOL.md)
    if ! grep -q '"source":{' "$O/show.json"; then
        fail "no source in show: $(cat "$O/show.json")"
    elif grep -q '"exe":' "$O/show.json"; then
        fail "source.exe without CAP_SYS_PTRACE: $(cat "$O/show.json")"
    else
        ok "no source.exe for another user's peer under the packaged unit"
    fi
fi

# --- a peer's executable under the packaged unit: a client of the
#     daemon's own user, run from a copy of the program through a
#     symlink, is recorded with the copy's real path (not the symlink,
#     not the daemon's own /usr/bin/ledger)
mkdir -p /usr/local/libexec
cp /usr/bin/ledger /usr/local/libexec/ledger-agent-bin
ln -sf /usr/local/libexec/ledger-agent-bin /usr/local/bin/ledger-agent
as_user=ledger
as_bin=/usr/local/bin/ledger-agent
as_unit agent3.service append -q -v x.exe --body '{"n":8}'
rc=$?
as_user=nobody
as_bin=/usr/bin/ledger
if [ $rc = 0 ]; then
    ledger --dir "$D" show -o json "$(cat "$O/as.out")" >"$O/show3.json" 2>&1
    grep -q '"exe":"/usr/local/libexec/ledger-agent-bin"' "$O/show3.json" &&
        grep -q '"uid":'"$(id -u ledger)"',' "$O/show3.json" &&
        ok "under the packaged unit, source.exe is the client's real executable" ||
        fail "source of the ledger user's client: $(cat "$O/show3.json")"
else
    fail "agent3.service append: $(cat "$O/as.err")"
fi

# --- a peer the access file does not name: refused, 77, nothing written
as_unit other.service append x.boot --body '{"n":2}'
rc=$?
[ $rc = 77 ] && ok "other.service refused with 77" || fail "other.service: exit $rc, want 77: $(cat "$O/as.err")"
grep -q 'matches no writer' "$O/as.err" && ok "the refusal names the rule" ||
    fail "refusal text: $(cat "$O/as.err")"

# --- the daemon as the units say: its user, no privileges, Type=notify
pid=$(systemctl show -p MainPID --value ledger.service)
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
    [ "$uid" = "$(id -u ledger)" ] && ok "daemon runs as the ledger user" || fail "daemon uid $uid"
    grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status" && ok "NoNewPrivs" || fail "NoNewPrivs not set"
    grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status" && ok "no effective capability" ||
        fail "$(grep CapEff "/proc/$pid/status")"
    grep -q '^CapBnd:[[:space:]]*0000000000000000$' "/proc/$pid/status" && ok "empty bounding set" ||
        fail "$(grep CapBnd "/proc/$pid/status")"
    grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status" && ok "seccomp filter" || fail "no seccomp filter"
else
    fail "no MainPID"
fi
s=$(systemctl show -p StatusText --value ledger.service)
case $s in serving*) ok "Type=notify status: $s" ;; *) fail "StatusText '$s'" ;; esac

# --- a reader in the ledger group reads, and cannot write directly
as_unit reader.service query -o json type=x.boot
rc=$?
[ $rc = 0 ] && grep -q '"n":1' "$O/as.out" && ok "a ledger-group member queries" ||
    fail "reader query: exit $rc: $(cat "$O/as.err")"
as_unit reader2.service append --direct x.boot --body '{"n":3}'
rc=$?
[ $rc = 74 ] && grep -q 'Permission denied' "$O/as.err" &&
    ok "a reader cannot write directly (exit 74, permission denied)" ||
    fail "a reader writing directly: exit $rc: $(cat "$O/as.err")"

# --- root, with no ledger of its own and no --dir, finds the system ledger
# (issue 46: the doctor looked in ~/.local/state/ledger and said `ledger
# init`, which would have made a second, empty ledger)
rm -rf /root/.local/state/ledger
(cd / && env -u LEDGER_DIR HOME=/root ledger doctor -o json) >"$O/doc.json" 2>"$O/doc.err"
rc=$?
[ $rc -le 3 ] && grep -q '"verdict"' "$O/doc.json" && ! grep -q 'ledger init' "$O/doc.err" &&
    ok "root's ledger doctor finds /var/lib/ledger" ||
    fail "root's ledger doctor without --dir: exit $rc: $(cat "$O/doc.err")"
[ ! -e /root/.local/state/ledger ] || fail "the doctor made /root/.local/state/ledger"

# --- SYSTEMD.md's drop-in for executables: CAP_SYS_PTRACE, and exe is there
mkdir -p /etc/systemd/system/ledger.service.d
printf '[Service]\nAmbientCapabilities=CAP_SYS_PTRACE\nCapabilityBoundingSet=CAP_SYS_PTRACE\n' \
    >/etc/systemd/system/ledger.service.d/exe.conf
check "daemon-reload with the exe drop-in" systemctl daemon-reload
check "restart ledger.service" systemctl restart ledger.service
as_bin=/usr/local/bin/ledger-agent
if as_unit agent2.service append -q x.exe --body '{"n":9}'; then
    ledger --dir "$D" show -o json "$(cat "$O/as.out")" >"$O/show2.json" 2>&1
    grep -q '"exe":"/usr/local/libexec/ledger-agent-bin"' "$O/show2.json" &&
        grep -q '"unit":"agent2.service"' "$O/show2.json" &&
        ok "with CAP_SYS_PTRACE, another user's source.exe is its real executable" ||
        fail "source with the drop-in: $(cat "$O/show2.json")"
else
    fail "agent2.service append: $(cat "$O/as.err")"
fi
as_bin=/usr/bin/ledger
rm -rf /etc/systemd/system/ledger.service.d
check "daemon-reload without it" systemctl daemon-reload

# --- systemctl stop: SIGTERM, drained, status 0; the log verifies
check "systemctl stop ledger.service" systemctl stop ledger.service
r=$(systemctl show -p Result --value ledger.service)
e=$(systemctl show -p ExecMainStatus --value ledger.service)
[ "$r" = success ] && [ "$e" = 0 ] && ok "stopped: Result=success, status 0" ||
    fail "stopped: Result=$r ExecMainStatus=$e"
check "verify --full" runuser -u ledger -- ledger --dir "$D" verify --full
n=$(ledger --dir "$D" query -o json type=x.boot | grep -c .)
[ "$n" = 1 ] && ok "exactly the acked event is in the log" || fail "$n x.boot events, want 1"

# --- ledger-epoch.timer (docs/EPOCHS.md): enabled, and its service, run
#     once, ends what has expired (here nothing: no epoch keys) with
#     status 0 as the ledger user
check "enable --now ledger-epoch.timer" systemctl enable --now ledger-epoch.timer
a=$(systemctl is-active ledger-epoch.timer)
[ "$a" = active ] && ok "ledger-epoch.timer active" || fail "ledger-epoch.timer is $a"
check "start ledger-epoch.service" systemctl start ledger-epoch.service
r=$(systemctl show -p Result --value ledger-epoch.service)
e=$(systemctl show -p ExecMainStatus --value ledger-epoch.service)
[ "$r" = success ] && [ "$e" = 0 ] && ok "ledger-epoch.service: Result=success, status 0" ||
    fail "ledger-epoch.service: Result=$r ExecMainStatus=$e"
