#!/bin/sh
# .ci/chroot.sh — the README's two commands on a Debian 12 that has never
# seen the project: a fresh `debootstrap` chroot with only build-essential,
# git, curl, python3 and ca-certificates; a clone of this repository (and
# ../shared when it is there, which tests may read); then, inside it,
# runs COMMAND there (in the clone, as root, with nothing of the host's
# environment). .ci/run gives it the README's two commands. Exits with
# COMMAND's status. Needs root and debootstrap.
#
#   sh .ci/chroot.sh 'sh setup.sh && make check'
#
#   CI_CHROOT_DIR   where to build it (default: a new dir under /var/tmp)
#   CI_CHROOT_KEEP  1: leave the chroot in place afterwards
#   CI_MIRROR       Debian mirror (default http://deb.debian.org/debian)
#   CI_APT_CACHE    a directory of .deb files to share with the chroot
#                   (default this machine's /var/cache/apt/archives; "" for
#                   none). A package cache, as apt-cacher would be: debootstrap
#                   and apt check every file in it against the signed
#                   package lists and fetch what is missing or different,
#                   so the chroot still installs everything setup.sh names;
#                   it only does not download again what this machine has.
set -eu
[ $# -eq 1 ] || { echo "usage: sh .ci/chroot.sh COMMAND" >&2; exit 64; }
cmd=$1
src=$(cd "$(dirname "$0")/.." && pwd)
mirror=${CI_MIRROR:-http://deb.debian.org/debian}
root=${CI_CHROOT_DIR:-$(mktemp -d /var/tmp/ledger-ci-chroot.XXXXXX)}
# mktemp makes it 0700: the chroot's / must be 0755 as on any system, or
# nothing but root can reach a file in it (tests run programs as nobody)
chmod 755 "$root"
mounted=""

cleanup() {
    for m in $mounted; do umount -l "$root$m" 2>/dev/null || true; done
    # and whatever the tests mounted inside (ip netns binds its namespaces
    # under /run/netns), deepest first
    awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    # --one-file-system: never descend into a mount that did not go away
    # (a bind of the host's /dev above all).
    if [ "${CI_CHROOT_KEEP:-0}" != 1 ]; then
        rm -rf --one-file-system "$root" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "chroot: installing debootstrap" >&2
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

t0=$(date +%s)
cache=${CI_APT_CACHE-/var/cache/apt/archives}
[ -n "$cache" ] && [ -d "$cache" ] && [ -w "$cache" ] || cache=""
echo "chroot: debootstrap bookworm into $root${cache:+ (package cache: $cache)}" >&2
debootstrap --variant=minbase ${cache:+--cache-dir="$cache"} \
    --include=build-essential,git,curl,python3,ca-certificates \
    bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
    tail -n 30 "$root.debootstrap.log" >&2
    exit 74
}
rm -f "$root.debootstrap.log"
cat >"$root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
# No package may start a service inside the chroot (nginx, clickhouse).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The machine's own trust configuration, as every machine of this
# workplace has it: the certificate authorities it added locally (its
# egress proxy's) and npm told to trust the system's store. Without them
# no TLS connection leaves the chroot (the npm registry, for the tests'
# client libraries). Nothing of the project's is copied.
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt \
        "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi
if [ -f /etc/npmrc ]; then cp /etc/npmrc "$root/etc/npmrc"; fi

# dpkg unpacks without an fsync per file, as Debian's container images
# have it: this root is thrown away when the run ends, and a power cut in
# the middle of it means a new run, never a half-written package that
# lives on. (It only changes how long the packages take to install.)
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/ci-unsafe-io"

mkdir -p "$root/var/cache/apt/archives"
if [ -n "$cache" ]; then
    mount --bind "$cache" "$root/var/cache/apt/archives"
    mounted="/var/cache/apt/archives $mounted"
fi
for m in /proc /sys /dev /dev/pts /dev/shm; do
    mkdir -p "$root$m"
    case $m in
    /proc) mount -t proc proc "$root$m" ;;
    /sys) mount -t sysfs sys "$root$m" ;;
    /dev/shm) mount -t tmpfs -o mode=1777 shm "$root$m" ;;
    *) mount --bind "$m" "$root$m" ;;
    esac
    mounted="$m $mounted"
done

git clone -q "$src" "$root/work/ledger"
if [ -d "$src/../shared" ]; then cp -rL "$src/../shared" "$root/work/shared"; fi
echo "chroot: ready after $(( $(date +%s) - t0 )) s, at $(date -u +%T); running: $cmd" >&2

rc=0
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb LANG=C.UTF-8 CI=true LEDGER_REQUIRE_GO=1 LEDGER_MUST_RUN='*' \
    chroot "$root" /bin/sh -c "cd /work/ledger && $cmd" || rc=$?
echo "chroot: done after $(( $(date +%s) - t0 )) s, at $(date -u +%T) (exit $rc)" >&2
exit $rc
