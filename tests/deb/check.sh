#!/bin/sh
# tests/deb/check.sh OUT — `make deb-check`: the Debian packages built
# (tools/deb.sh into OUT; DEB_CHECK_BUILT=1 takes the .debs already there)
# and tested as an operator gets them (docs/PACKAGING.md):
#   - lintian --pedantic on the three .debs: any error or warning fails
#     (debian/*.lintian-overrides name each tag overridden, and why);
#   - libledger-dev: examples/embed/embed.c built with nothing but
#     pkg-config against the unpacked package, linked to libledger.so.1
#     and run with the packaged library;
#   - in a fresh Debian 12 chroot (debootstrap minbase; nothing of this
#     machine changes): the packages' dependencies installed, a list of
#     every file taken, then `apt-get install ./*.deb`: the ledger user
#     and group exist (when OUT/prev holds the previous build that passed,
#     it is installed first and this is an upgrade, which must keep its
#     system ledger), /var/lib/ledger is the ledger user's, 0750, and
#     holds a ledger that verifies, `ledger --version` runs, a member of
#     the ledger group reads the system ledger with no --dir, a user
#     outside it is refused; then `apt-get purge`: every file is as it was
#     before the installation but the user and group (kept, as Debian
#     keeps system users); then debian/tests (autopkgtest) in the same
#     chroot: the README's demo and a smoke test with the installed
#     program, a program built through pkg-config, the system ledger
#     (DEB_CHECK_AUTOPKGTEST=0 leaves them out);
#   - piuparts: installation and purge in its own chroot
#     (DEB_CHECK_PIUPARTS=0 leaves it out).
# Needs root, debootstrap and the Debian mirror for the chroot part;
# without them it says SKIP for that part, unless LEDGER_MUST_RUN is set
# (CI), when it fails. Prints "ok ..." / "FAIL ..." lines; exit 1 on any
# failure.
#   CI_MIRROR   the Debian mirror (default http://deb.debian.org/debian)
set -u
out=${1:-build/deb}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
nfail=0
ok() { echo "ok $*"; }
fail() {
    echo "FAIL $*"
    nfail=$((nfail + 1))
}
T=$(mktemp -d "${TMPDIR:-/tmp}/ledger-deb-check.XXXXXX") || exit 1
root=""
mounted=""
cleanup() {
    for m in $mounted; do umount -l "$root$m" 2>/dev/null; done
    [ -n "$root" ] && rm -rf --one-file-system "$root"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${DEB_CHECK_BUILT:-0}" != 1 ]; then
    sh tools/deb.sh "$out" >"$T/build.out" || { cat "$T/build.out"; echo "FAIL make deb"; exit 1; }
fi
debs=""
for p in ledger libledger1 libledger-dev; do
    # shellcheck disable=SC2012
    f=$(ls -t "$out"/${p}_*.deb 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "FAIL no $out/${p}_*.deb"; exit 1; }
    debs="$debs $f"
done
echo "deb-check:$debs"
# the previous build that passed (OUT/prev, kept by the last passing run):
# installed first, so that the installation test is an upgrade from it
prev=""
prev_ver=""
# shellcheck disable=SC2086
set -- $debs
ver=$(dpkg-deb -f "$1" Version)
if [ -d "$out/prev" ]; then
    for p in ledger libledger1 libledger-dev; do
        f=$(ls "$out"/prev/${p}_*.deb 2>/dev/null | head -n 1)
        [ -n "$f" ] && prev="$prev $f"
    done
    # shellcheck disable=SC2086
    [ -n "$prev" ] && set -- $prev && prev_ver=$(dpkg-deb -f "$1" Version)
    if [ -n "$prev" ] && ! dpkg --compare-versions "$prev_ver" lt "$ver"; then
        echo "deb-check: the previous build ($prev_ver) is not older than $ver: no upgrade test"
        prev=""
    fi
fi
[ -n "$prev" ] || echo "deb-check: no previous build in $out/prev: installing afresh, no upgrade"

# ------------------------------------------------------------- lintian --
if command -v lintian >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    lintian --pedantic --display-info --tag-display-limit 0 $debs >"$T/lintian" 2>&1
    cat "$T/lintian"
    if grep -q '^[EW]:' "$T/lintian"; then
        fail "lintian --pedantic: $(grep -c '^[EW]:' "$T/lintian") errors or warnings"
    else
        ok "lintian --pedantic: no error, no warning ($(grep -c "^[IPXC]:" "$T/lintian") other tags)"
    fi
else
    fail "lintian is not installed (setup.sh installs it)"
fi

# ------------------------------------------- libledger-dev, pkg-config --
x=$T/dev
for f in $debs; do dpkg-deb -x "$f" "$x"; done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
if flags=$(PKG_CONFIG_PATH=$x/usr/lib/$ma/pkgconfig PKG_CONFIG_SYSROOT_DIR=$x \
    pkg-config --cflags --libs libledger 2>"$T/pc.err"); then
    # shellcheck disable=SC2086
    if ${CC:-cc} -std=c11 -Wall -Werror -o "$T/embed" examples/embed/embed.c \
        $flags 2>"$T/cc.err"; then
        if readelf -d "$T/embed" | grep -q 'NEEDED.*\[libledger\.so\.1\]'; then
            ok "libledger-dev: embed.c built with pkg-config, linked to libledger.so.1"
        else
            fail "embed.c is not linked to libledger.so.1: $(readelf -d "$T/embed" | grep NEEDED)"
        fi
        if LD_LIBRARY_PATH=$x/usr/lib/$ma PATH=/nonexistent "$T/embed" "$T/embed-ledger" \
            >"$T/embed.out" 2>&1 && grep -qx 'verdict: ok' "$T/embed.out"; then
            ok "embed.c runs with the packaged libledger.so.1"
        else
            fail "embed.c with the packaged library: $(cat "$T/embed.out")"
        fi
    else
        fail "cc with libledger.pc's flags: $(cat "$T/cc.err")"
    fi
else
    fail "pkg-config libledger: $(cat "$T/pc.err")"
fi

# ------------------------------------------- installed in a fresh root --
skip() {
    if [ -n "${LEDGER_MUST_RUN:-}" ]; then
        fail "$*"
    else
        echo "SKIP: $*"
    fi
}
if [ "$(id -u)" != 0 ]; then
    skip "the installation test needs root"
elif ! command -v debootstrap >/dev/null 2>&1; then
    skip "the installation test needs debootstrap"
else
    root=$(mktemp -d /var/tmp/ledger-deb-root.XXXXXX)
    chmod 755 "$root"
    mirror=${CI_MIRROR:-http://deb.debian.org/debian}
    cache=/var/cache/apt/archives
    [ -d "$cache" ] && [ -w "$cache" ] || cache=""
    echo "deb-check: debootstrap bookworm into $root" >&2
    if ! debootstrap --variant=minbase ${cache:+--cache-dir="$cache"} \
        bookworm "$root" "$mirror" >"$T/debootstrap.log" 2>&1; then
        tail -n 20 "$T/debootstrap.log"
        fail "debootstrap"
    else
        printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
        chmod 755 "$root/usr/sbin/policy-rc.d"
        cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
        mount -t proc proc "$root/proc" && mounted="/proc"
        mkdir -p "$root/tmp/debs"
        # shellcheck disable=SC2086
        cp $debs "$root/tmp/debs/"
        inside() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
        # the packages' dependencies first (not ours), so that what the
        # installation adds and the purge removes is the packages' alone
        deps=$(for f in $debs; do dpkg-deb -f "$f" Depends; done |
            tr ',' '\n' | sed 's/^ *//; s/ *$//' |
            grep -v -E '^(ledger|libledger1|libledger-dev)( |$)' | grep . |
            sort -u | paste -sd, -)
        # every file, its type, mode and owner; and what changes anyway
        snap() {
            (cd "$root" && find . -xdev \
                \( -path ./proc -o -path ./tmp -o -path ./var/cache \
                -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
                -o -path ./var/log -o -path ./run \) -prune -o \
                -printf '%y %m %u:%g %p\n') |
                grep -v -E ' \./etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' |
                sort
        }
        if ! inside apt-get update -qq >"$T/apt.log" 2>&1 ||
            ! inside apt-get satisfy -y -qq --no-install-recommends "$deps" \
                >>"$T/apt.log" 2>&1; then
            tail -n 20 "$T/apt.log"
            fail "installing the dependencies ($deps)"
        else
            snap >"$T/before"
            prev_origin=""
            if [ -n "$prev" ]; then
                mkdir -p "$root/tmp/prev"
                # shellcheck disable=SC2086
                cp $prev "$root/tmp/prev/"
                if inside sh -c 'apt-get install -y -qq --no-install-recommends /tmp/prev/*.deb' \
                    >"$T/prev.log" 2>&1; then
                    prev_origin=$(inside runuser -u ledger -- ledger --dir /var/lib/ledger \
                        stats -o json | jq -r .origin 2>/dev/null)
                    ok "the previous build installed ($prev_ver, system ledger ${prev_origin:-?})"
                else
                    tail -n 30 "$T/prev.log"
                    fail "apt-get install of the previous build ($prev_ver)"
                fi
            fi
            if inside sh -c 'apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb' \
                >"$T/install.log" 2>&1; then
                ok "apt-get install ./ledger_*.deb ./libledger1_*.deb ./libledger-dev_*.deb${prev:+ (an upgrade from $prev_ver)}"
            else
                tail -n 30 "$T/install.log"
                fail "apt-get install of the three packages"
            fi
            if [ -n "$prev_origin" ]; then
                o=$(inside runuser -u ledger -- ledger --dir /var/lib/ledger stats -o json |
                    jq -r .origin 2>/dev/null)
                [ "$o" = "$prev_origin" ] &&
                    ok "the upgrade kept the system ledger ($o)" ||
                    fail "after the upgrade the system ledger is ${o:-none}, not $prev_origin"
            fi
            grep -i 'verifier' "$T/install.log" | head -n 3
            inside getent passwd ledger >"$T/pw" &&
                ok "the ledger user: $(cat "$T/pw")" || fail "no ledger user"
            inside getent group ledger >"$T/gr" &&
                ok "the ledger group: $(cat "$T/gr")" || fail "no ledger group"
            st=$(inside stat -c '%U:%G %a' /var/lib/ledger 2>&1)
            [ "$st" = "ledger:ledger 750" ] &&
                ok "/var/lib/ledger: $st" || fail "/var/lib/ledger: $st"
            inside ledger --version >"$T/v" 2>&1 &&
                ok "ledger --version: $(head -n 1 "$T/v")" ||
                fail "ledger --version: $(cat "$T/v")"
            inside runuser -u ledger -- ledger --dir /var/lib/ledger verify >"$T/verify" 2>&1 &&
                ok "the system ledger verifies" || fail "verify: $(cat "$T/verify")"
            # a member of the ledger group, no --dir, no LEDGER_DIR
            inside useradd -m -G ledger reader >/dev/null 2>&1
            inside useradd -m outsider >/dev/null 2>&1
            origin=$(inside runuser -u ledger -- ledger --dir /var/lib/ledger stats -o json |
                jq -r .origin 2>/dev/null)
            if inside runuser -u reader -- env HOME=/home/reader ledger stats -o json \
                >"$T/stats" 2>&1 && [ -n "$origin" ] &&
                [ "$(jq -r .origin "$T/stats")" = "$origin" ]; then
                ok "a member of the ledger group reads the system ledger ($origin) with no --dir"
            else
                fail "a member of the ledger group, stats with no --dir: $(cat "$T/stats") (the system ledger: ${origin:-?})"
            fi
            inside runuser -u outsider -- env HOME=/home/outsider ledger stats >"$T/out" 2>&1
            rc=$?
            [ $rc = 74 ] && grep -q -i 'permission denied' "$T/out" &&
                ok "a user outside the group is refused (74)" ||
                fail "outsider: exit $rc: $(cat "$T/out")"
            [ -e "$root/home/reader/.local/state/ledger" ] &&
                fail "the reader's read made its own ledger"
            inside userdel -r reader >/dev/null 2>&1
            inside userdel -r outsider >/dev/null 2>&1
            # an upgrade onto a ledger at an older store layout (layout 7's
            # golden image, tests/vectors/layout): the postinst migrates it
            L7=tests/vectors/layout/layout7.mdb.zst
            if command -v zstd >/dev/null 2>&1 && [ -f "$L7" ]; then
                d=$root/var/lib/ledger
                rm -rf "$d/data.mdb" "$d/lock.mdb" "$d/intake" "$d/keys"
                zstd -q -d -c "$L7" >"$d/data.mdb"
                mkdir -m 700 "$d/keys"
                cp tests/vectors/layout/keys/log.key "$d/keys/log.key"
                chmod 600 "$d/keys/log.key" "$d/data.mdb"
                inside chown -R ledger:ledger /var/lib/ledger
                if inside sh -c 'apt-get install -y -qq --reinstall --no-install-recommends /tmp/debs/ledger_*.deb' \
                    >"$T/reinstall.log" 2>&1; then
                    l=$(inside runuser -u ledger -- ledger --dir /var/lib/ledger stats -o json |
                        jq -r .layout 2>/dev/null)
                    [ "$l" = 9 ] && inside runuser -u ledger -- ledger --dir /var/lib/ledger \
                        verify >/dev/null 2>&1 &&
                        ok "an upgrade onto a layout 7 ledger migrated it (layout $l, verifies)" ||
                        fail "after the upgrade onto layout 7: layout ${l:-?}: $(tail -n 5 "$T/reinstall.log")"
                else
                    tail -n 20 "$T/reinstall.log"
                    fail "the upgrade onto a layout 7 ledger failed"
                fi
            else
                skip "the migration test needs zstd and $L7"
            fi
            if inside apt-get purge -y -qq ledger libledger1 libledger-dev \
                >"$T/purge.log" 2>&1; then
                ok "apt-get purge"
            else
                tail -n 20 "$T/purge.log"
                fail "apt-get purge"
            fi
            snap >"$T/after"
            if diff "$T/before" "$T/after" >"$T/diff"; then
                ok "after the purge every file is as before the installation"
            else
                cat "$T/diff"
                fail "the purge left the files above changed"
            fi
            inside getent passwd ledger >/dev/null &&
                ok "the ledger user stays after the purge (system users are kept)"
            # debian/tests, in the same chroot (they install what they need)
            if [ "${DEB_CHECK_AUTOPKGTEST:-1}" = 0 ]; then
                echo "deb-check: autopkgtest not run (DEB_CHECK_AUTOPKGTEST=0)"
            elif ! command -v autopkgtest >/dev/null 2>&1; then
                skip "autopkgtest is not installed (setup.sh installs it)"
            else
                mkdir -p "$T/src"
                git ls-files -z --cached --others --exclude-standard |
                    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done; :' sh |
                    tar --null -T - -cf - | tar -xf - -C "$T/src"
                # shellcheck disable=SC2086
                autopkgtest --output-dir "$T/autopkgtest" $debs "$T/src" \
                    -- chroot "$root" >"$T/autopkgtest.log" 2>&1
                rc=$?
                grep -E '^(demo|smoke|system-ledger) ' "$T/autopkgtest/summary" 2>/dev/null
                if [ $rc = 0 ]; then
                    ok "autopkgtest: debian/tests pass against the installed packages"
                else
                    # each failed test's own output
                    for t in $(awk '$2 == "FAIL" { print $1 }' "$T/autopkgtest/summary" 2>/dev/null); do
                        sed -n "/: test $t: \[---/,/: test $t: - - -/p" "$T/autopkgtest/log" | tail -n 40
                    done
                    tail -n 20 "$T/autopkgtest.log"
                    fail "autopkgtest: exit $rc"
                fi
            fi
        fi
    fi
fi
# ------------------------------------------------------------ piuparts --
# install and purge in piuparts' own chroot (its checks: files left,
# adequate's). Ignored: what systemd, a dependency piuparts purges too,
# makes with its own tmpfiles.d (systemd.conf, provision.conf), none of
# it ours. (The upgrade is tested above, from the previous build: no
# archive has an earlier ledger.)
if [ "${DEB_CHECK_PIUPARTS:-1}" = 0 ]; then
    echo "deb-check: piuparts not run (DEB_CHECK_PIUPARTS=0)"
elif [ "$(id -u)" != 0 ]; then
    skip "piuparts needs root"
elif ! command -v piuparts >/dev/null 2>&1; then
    skip "piuparts is not installed (setup.sh installs it)"
else
    # shellcheck disable=SC2086
    if piuparts -d bookworm -m "${CI_MIRROR:-http://deb.debian.org/debian}" \
        --no-upgrade-test -i /root/.ssh/ -i /var/cache/private/ \
        -i /var/lib/private/ -i /var/log/private/ \
        -i /var/lib/systemd/coredump/ -i /var/lib/systemd/pstore/ \
        $debs >"$T/piuparts.log" 2>&1; then
        ok "piuparts: installation and purge ($(grep -c 'INFO: PASS' "$T/piuparts.log") passes)"
    else
        grep -A 20 'ERROR' "$T/piuparts.log" | head -n 40
        fail "piuparts"
    fi
fi
if [ $nfail -ne 0 ]; then
    echo "deb-check: $nfail FAILED"
    exit 1
fi
# this build is the next run's previous one
rm -rf "$out/prev" && mkdir -p "$out/prev" && cp $debs "$out/prev/"
echo "deb-check: passed"
