#!/bin/sh
# tests/systemd/boot.sh BUILD_DIR — the shipped units under a real systemd
# (issue 13): a Debian 12 root file system (debootstrap) with systemd as
# its init is booted with systemd-nspawn; inside it the ledger is installed
# with `make install PREFIX=/usr DESTDIR=ROOT` and set up exactly as
# docs/SYSTEMD.md's "Setting up" says (sysusers, the 0750 directory, init
# as the ledger user, an access.json naming agent.service, enable --now
# ledger.socket). Then, inside (tests/systemd/inside.sh):
#   - the socket is systemd's, ledger:ledger 0660, and the service is not
#     started until the first connection;
#   - `ledger append` from agent.service (run as nobody, in the ledger
#     group) is acked through the socket-activated daemon and recorded
#     with source.unit "agent.service" and uid 65534; from other.service it
#     is refused with exit 77, naming the rule;
#   - the daemon runs as the ledger user with NoNewPrivs, no capability
#     and a seccomp filter (Type=notify: systemd saw READY=1);
#   - a member of the ledger group reads the ledger without writing it;
#   - `systemctl stop` (SIGTERM) ends the service with status 0, and
#     `verify --full` passes;
#   - ledger-epoch.timer enables, and ledger-epoch.service (`keys advance
#     --if-expired` as the ledger user) ends with status 0.
# Needs root, systemd-nspawn (systemd-container), debootstrap and the
# Debian mirror. Prints "ok ..." / "FAIL ..." lines and exits 1 on any
# failure. Without the tools it says SKIP and exits 0, unless
# LEDGER_REQUIRE_NSPAWN=1 (CI), when a missing tool fails the test.
#   NSPAWN_ROOT=DIR  a root file system to reuse (else a fresh one, removed)
#   CI_MIRROR        the Debian mirror (default http://deb.debian.org/debian)
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
mirror=${CI_MIRROR:-http://deb.debian.org/debian}
skip() {
    if [ "${LEDGER_REQUIRE_NSPAWN:-0}" = 1 ]; then
        echo "FAIL: $*"
        exit 1
    fi
    echo "SKIP: $*"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null 2>&1 || skip "needs systemd-nspawn (systemd-container)"
command -v debootstrap >/dev/null 2>&1 || skip "needs debootstrap"
[ -x "$TOP/$B/ledger" ] || { echo "FAIL: no $B/ledger (build first)"; exit 1; }

out=$(mktemp -d /tmp/ledger-boot-out.XXXXXX)
chmod 777 "$out"
nsp=""
fresh=""
cleanup() {
    if [ -n "$nsp" ]; then
        kill -TERM "$nsp" 2>/dev/null
        sleep 1
        kill -TERM "$nsp" 2>/dev/null
        sleep 1
        kill -KILL "$nsp" 2>/dev/null
        wait "$nsp" 2>/dev/null
    fi
    [ -n "$fresh" ] && rm -rf --one-file-system "$fresh"
    if [ "${BOOT_KEEP:-0}" = 1 ]; then echo "boot: logs kept in $out" >&2; else rm -rf "$out"; fi
}
trap cleanup EXIT INT TERM

if [ -n "${NSPAWN_ROOT:-}" ]; then
    root=$NSPAWN_ROOT
else
    root=$(mktemp -d /var/tmp/ledger-boot.XXXXXX)
    chmod 755 "$root"
    fresh=$root
    echo "boot: debootstrap bookworm (systemd) into $root" >&2
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
        bookworm "$root" "$mirror" >"$out/debootstrap.log" 2>&1 || {
        tail -n 20 "$out/debootstrap.log"
        echo "FAIL: debootstrap"
        exit 1
    }
fi
[ -x "$root/usr/lib/systemd/systemd" ] || { echo "FAIL: $root has no systemd"; exit 1; }

# the ledger as a package would install it, units and sysusers included
make -C "$TOP" B="$B" install PREFIX=/usr DESTDIR="$root" >"$out/install.log" 2>&1 || {
    tail -n 20 "$out/install.log"
    echo "FAIL: make install DESTDIR=$root"
    exit 1
}
install -m 755 "$HERE/inside.sh" "$root/usr/local/sbin/ledger-boot-test"
cat >"$root/etc/systemd/system/ledger-boot-test.service" <<'UNIT'
[Unit]
Description=ledger: the units' boot test (tests/systemd/inside.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ledger-boot-test /out
StandardOutput=append:/out/inside.log
StandardError=append:/out/inside.log
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/ledger-boot-test.service \
    "$root/etc/systemd/system/multi-user.target.wants/ledger-boot-test.service"
echo ledger-boot >"$root/etc/hostname"
# a fresh ledger each boot (NSPAWN_ROOT reused)
rm -rf "$root/var/lib/ledger"

echo "boot: systemd-nspawn -b" >&2
systemd-nspawn -q -D "$root" --register=no --keep-unit -b \
    --bind="$out:/out" --console=pipe >"$out/console.log" 2>&1 &
nsp=$!
i=0
while [ ! -e "$out/done" ] && [ $i -lt 1200 ] && kill -0 "$nsp" 2>/dev/null; do
    sleep 0.25
    i=$((i + 1))
done
if [ ! -e "$out/done" ]; then
    echo "FAIL: the test inside the container did not finish"
    tail -n 30 "$out/console.log"
    [ -e "$out/inside.log" ] && tail -n 30 "$out/inside.log"
    [ -e "$out/result" ] && cat "$out/result"
    [ -e "$out/journal.log" ] && tail -n 30 "$out/journal.log"
    exit 1
fi
cat "$out/result"
if grep -q '^FAIL' "$out/result" || ! grep -q '^ok' "$out/result"; then
    echo "--- inside.log"
    tail -n 40 "$out/inside.log"
    echo "--- journal"
    tail -n 40 "$out/journal.log"
    exit 1
fi
echo "boot: $(grep -c '^ok' "$out/result") checks passed under systemd $(chroot "$root" /usr/lib/systemd/systemd --version 2>/dev/null | head -n 1 | cut -d' ' -f2)"
exit 0
