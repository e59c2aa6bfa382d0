#!/bin/sh
# tests/systemd/inside.sh OUT — runs inside the container boot.sh boots,
# as a oneshot unit once the system is up: docs/SYSTEMD.md's set-up, then
# the checks boot.sh lists. Writes "ok ..."/"FAIL ..." lines to OUT/result
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
# as(UNIT, ARGS...): `ledger ARGS` run in the transient unit UNIT as
# nobody, a member of the ledger group; its output in $O/as.out, its
# exit status returned
as_unit() {
    u=$1
    shift
    systemd-run --quiet --wait --pipe --unit="$u" -p User=nobody \
        -p RuntimeMaxSec=60 \
        -p SupplementaryGroups=ledger /usr/bin/ledger --dir "$D" "$@" \
        >"$O/as.out" 2>"$O/as.err" </dev/null
}
trap 'journalctl -b --no-pager -u ledger.service -u ledger.socket \
    -u ledger-epoch.service -u agent.service -u other.service >"$O/journal.log" 2>&1
    touch "$O/done"; systemctl poweroff --no-block' EXIT

# --- docs/SYSTEMD.md, "Setting up" (PREFIX=/usr: the units are on
#     systemd's own path, no copy needed)
check "systemd-sysusers" systemd-sysusers /usr/lib/sysusers.d/ledger.conf
check "the ledger directory" install -d -o ledger -g ledger -m 0750 "$D"
check "init as the ledger user" runuser -u ledger -- ledger --dir "$D" init
echo '{"version": 1, "readers": "ledger", "writers": [{"unit": "agent.service", "types": ["x.*"]}, {"unit": "agent2.service", "types": ["x.*"]}]}' |
    runuser -u ledger -- tee "$D/access.json" >/dev/null
check "daemon-reload" systemctl daemon-reload
check "enable --now ledger.socket" systemctl enable --now ledger.socket

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
        ok "no source.exe for another user's peer under the shipped unit"
    fi
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
if as_unit agent2.service append -q x.exe --body '{"n":9}'; then
    ledger --dir "$D" show -o json "$(cat "$O/as.out")" >"$O/show2.json" 2>&1
    grep -q '"exe":"/usr/bin/ledger"' "$O/show2.json" && grep -q '"unit":"agent2.service"' "$O/show2.json" &&
        ok "with CAP_SYS_PTRACE, source.exe is /usr/bin/ledger" ||
        fail "source with the drop-in: $(cat "$O/show2.json")"
else
    fail "agent2.service append: $(cat "$O/as.err")"
fi
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
