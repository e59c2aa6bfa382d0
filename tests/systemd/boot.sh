#!/bin/sh
# tests/systemd/boot.sh DEB_DIR — the Debian packages' units under a real
# systemd (issues 13 and 68): the packages are built from this tree
# (tools/deb.sh DEB_DIR, as `make deb`; BOOT_DEB_BUILT=1 takes the .debs
# already in DEB_DIR), a Debian 12 root file system (debootstrap) with
# systemd as its init gets their dependencies from the mirror and
# ledger_*.deb and libledger1_*.deb copied in, and is booted with
# systemd-nspawn. Inside it (tests/systemd/inside.sh), under the running
# systemd:
#   - `apt-get install ./ledger_*.deb ./libledger1_*.deb`: the package's
#     own maintainer scripts make the ledger user and group, the 0750
#     /var/lib/ledger and the system ledger, and enable and start the
#     packaged units (/lib/systemd/system, ExecStart=/usr/bin/ledger);
#   - what an operator still does (docs/SYSTEMD.md, docs/PACKAGING.md): an
#     access.json naming agent.service, `systemctl reload ledger`;
#   - the socket is systemd's, ledger:ledger 0660, and the service, once
#     stopped, is not started again until the next connection;
#   - `ledger append` from agent.service (run as nobody, in the ledger
#     group) is acked through the socket-activated daemon and recorded
#     with source.unit "agent.service" and uid 65534; from other.service it
#     is refused with exit 77, naming the rule;
#   - a client of the daemon's own user, run from a copy of the program
#     through a symlink, is recorded under the packaged unit with its real
#     executable (source.exe); one of another user with none, and with
#     SYSTEMD.md's CAP_SYS_PTRACE drop-in with its real executable;
#   - the daemon runs as the ledger user with NoNewPrivs, no capability
#     and a seccomp filter (Type=notify: systemd saw READY=1);
#   - a member of the ledger group reads the ledger without writing it;
#   - `systemctl stop` (SIGTERM) ends the service with status 0, and
#     `verify --full` passes;
#   - ledger-epoch.timer enables, and ledger-epoch.service (`keys advance
#     --if-expired` as the ledger user) ends with status 0.
# Needs root, systemd-nspawn (systemd-container), debootstrap, what `make
# deb` needs and the Debian mirror. Prints "ok ..." / "FAIL ..." lines and
# exits 1 on any failure. Without the tools it says SKIP and exits 0,
# unless LEDGER_REQUIRE_NSPAWN=1 (CI), when a missing tool fails the test.
#   NSPAWN_ROOT=DIR  a root file system to reuse (else a fresh one,
#                    removed); the packages a run left in it are purged
#                    and the ledger user and group deleted first
#   BOOT_DEB_BUILT=1 no build: the newest .debs in DEB_DIR
#   BOOT_KEEP=1      keep the logs (the container's console, inside.log,
#                    the journal)
#   CI_MIRROR        the Debian mirror (default http://deb.debian.org/debian)
set -u
debdir=${1:-build/deb}
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
case $debdir in /*) ;; *) debdir=$TOP/$debdir ;; esac

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

# the packages, from this tree
if [ "${BOOT_DEB_BUILT:-0}" != 1 ]; then
    echo "boot: make deb (tools/deb.sh $debdir)" >&2
    sh "$TOP/tools/deb.sh" "$debdir" >"$out/deb.log" 2>&1 || {
        tail -n 20 "$out/deb.log"
        echo "FAIL: make deb"
        exit 1
    }
fi
debs=""
for p in ledger libledger1; do
    # shellcheck disable=SC2012
    f=$(ls -t "$debdir"/${p}_*.deb 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "FAIL: no $debdir/${p}_*.deb"; exit 1; }
    debs="$debs $f"
done
echo "boot: packages$debs" >&2

if [ -n "${NSPAWN_ROOT:-}" ]; then
    root=$NSPAWN_ROOT
else
    root=$(mktemp -d /var/tmp/ledger-boot.XXXXXX)
    chmod 755 "$root"
    fresh=$root
    echo "boot: debootstrap bookworm (systemd) into $root" >&2
    cache=/var/cache/apt/archives
    [ -d "$cache" ] && [ -w "$cache" ] || cache=""
    debootstrap --variant=minbase ${cache:+--cache-dir="$cache"} \
        --include=systemd,systemd-sysv,dbus bookworm "$root" "$mirror" >"$out/debootstrap.log" 2>&1 || {
        tail -n 20 "$out/debootstrap.log"
        echo "FAIL: debootstrap"
        exit 1
    }
fi
[ -x "$root/usr/lib/systemd/systemd" ] || { echo "FAIL: $root has no systemd"; exit 1; }

# a root reused: what an earlier run installed goes, the ledger user and
# group with it (Debian's purge keeps them), so that this run's packages
# must make them again
if [ -z "$fresh" ]; then
    chroot "$root" dpkg --purge ledger libledger1 >"$out/purge.log" 2>&1 || {
        tail -n 20 "$out/purge.log"
        echo "FAIL: dpkg --purge in $root"
        exit 1
    }
    chroot "$root" userdel ledger 2>/dev/null
    chroot "$root" groupdel ledger 2>/dev/null
    rm -rf "$root/var/lib/ledger" "$root/etc/systemd/system/ledger.service.d"
fi
# the packages' dependencies and recommendations from the mirror (not
# ours: the installation inside is then the packages' alone, with no
# network)
deps=$(for f in $debs; do dpkg-deb -f "$f" Depends Recommends; done |
    sed 's/^[A-Za-z-]*: *//' | tr ',' '\n' | sed 's/^ *//; s/ *$//' |
    grep -v -E '^(ledger|libledger1|libledger-dev)( |$)' | grep . |
    sort -u | paste -sd, -)
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
if ! chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq &&
        apt-get satisfy -y -qq --no-install-recommends "$1"' sh "$deps" \
    >"$out/deps.log" 2>&1; then
    tail -n 20 "$out/deps.log"
    echo "FAIL: installing the dependencies in $root ($deps)"
    exit 1
fi
rm -rf "$root/root/ledger-debs"
mkdir -p "$root/root/ledger-debs"
# shellcheck disable=SC2086
cp $debs "$root/root/ledger-debs/"
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
