#!/bin/sh
# tools/deb.sh OUT — `make deb`: the Debian packages ledger, libledger1
# and libledger-dev (debian/; docs/PACKAGING.md), built from a copy of
# the tree in OUT/ledger (the files git tracks, and new ones it
# does not ignore), so nothing is written in the tree itself. The .debs,
# .changes and .buildinfo land in OUT; their names are printed last.
#
# The version is the Makefile's VERSION (debian/changelog's top entry must
# say the same) with the last commit's time and hash after a '~', which
# sorts it before the release and each build after the commits before it:
# 1.0.0~git20261128.162508.1ace804 (+dirty when the tree has uncommitted
# changes). DEB_VERSION=V gives another. The changelog's date, and
# SOURCE_DATE_EPOCH (every file's time in the packages), are the last
# commit's: two builds of one commit give the same bytes
# (tests/deb/check.sh checks).
#
# DEB_BUILD_OPTIONS is passed on (default parallel=2): nocheck skips the
# build's smoke test (debian/smoke.sh).
set -eu
out=${1:?usage: tools/deb.sh OUT}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
die() {
    echo "deb: $*" >&2
    exit 1
}
for t in dpkg-buildpackage dh fakeroot git; do
    command -v $t >/dev/null 2>&1 ||
        die "needs $t (apt-get install dpkg-dev debhelper fakeroot git; setup.sh installs them)"
done
ver=$(sed -n 's/^VERSION *= *//p' Makefile)
[ -n "$ver" ] || die "no VERSION in the Makefile"
clver=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ "$clver" = "$ver" ] ||
    die "debian/changelog's top entry is $clver, the Makefile's VERSION $ver: give the changelog an entry for $ver"
git rev-parse --verify -q HEAD >/dev/null || die "not a git checkout with a commit"
ts=$(git log -1 --format=%ct)
dirty=""
[ -z "$(git status --porcelain --untracked-files=normal)" ] || dirty=+dirty
pkgver=${DEB_VERSION:-$ver~git$(date -u -d "@$ts" +%Y%m%d.%H%M%S).$(git rev-parse --short=7 HEAD)$dirty}

mkdir -p "$out"
out=$(cd "$out" && pwd)
# (one name whatever the version: the compiler cache finds what it saw)
src=$out/ledger
rm -rf "$src"
mkdir -p "$src"
# (a file deleted but not yet committed is left out)
git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done; :' sh |
    tar --null -T - -cf - | tar -xf - -C "$src"
# the version and date of the top entry
date=$(date -u -R -d "@$ts")
sed -i -e "1s/^ledger ([^)]*)/ledger ($pkgver)/" \
    -e "0,/^ -- /s/^\( -- .*>  \).*/\1$date/" "$src/debian/changelog"
# debhelper gives the build a HOME of its own: a compiler cache (CC="ccache
# cc") must be told where the real one is
if command -v ccache >/dev/null 2>&1 && [ -z "${CCACHE_DIR:-}" ]; then
    CCACHE_DIR=$(ccache -k cache_dir 2>/dev/null) && export CCACHE_DIR
fi
echo "deb: building ledger $pkgver in $src" >&2
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
(
    cd "$src"
    SOURCE_DATE_EPOCH=$ts DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-parallel=2} \
        dpkg-buildpackage -b -us -uc
) >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    die "dpkg-buildpackage failed (whole log: $out/build.log)"
}
rm -rf "$src"
grep -E '^(smoke|dpkg-gensymbols):' "$out/build.log" >&2 || :
echo "deb: built in $out:" >&2
ls "$out"/*.deb
