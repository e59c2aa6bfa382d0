#!/bin/sh
# tests/deb/repro.sh OUT — `make deb-repro`: two builds of the packages
# from the same commit (tools/deb.sh into OUT/repro-1 and OUT/repro-2,
# two different directories, without the compiler cache) must give
# byte-identical .deb files (SOURCE_DATE_EPOCH is the last commit's
# time). The tree must be clean (committed): a +dirty build is not a
# build of a commit. Prints "ok ..." / "FAIL ..." lines; exit 1 on any
# difference, naming the files that differ in each package that does.
set -u
out=${1:-build/deb}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
    echo "FAIL the tree has uncommitted changes: commit them first (git status)"
    exit 1
fi
nfail=0
for i in 1 2; do
    rm -rf "$out/repro-$i"
    CCACHE_DISABLE=1 sh tools/deb.sh "$out/repro-$i" >/dev/null ||
        { echo "FAIL build $i"; exit 1; }
done
n=0
for a in "$out"/repro-1/*.deb; do
    f=${a##*/}
    b=$out/repro-2/$f
    n=$((n + 1))
    if [ ! -f "$b" ]; then
        echo "FAIL $f: only in the first build"
        nfail=$((nfail + 1))
    elif cmp -s "$a" "$b"; then
        echo "ok $f: identical ($(sha256sum <"$a" | cut -c1-16))"
    else
        echo "FAIL $f differs between the two builds"
        T=$(mktemp -d)
        dpkg-deb -x "$a" "$T/1" && dpkg-deb -x "$b" "$T/2" &&
            diff -r -q "$T/1" "$T/2"
        dpkg-deb -e "$a" "$T/c1" && dpkg-deb -e "$b" "$T/c2" &&
            diff -r "$T/c1" "$T/c2"
        rm -rf "$T"
        nfail=$((nfail + 1))
    fi
done
[ $n -gt 0 ] || { echo "FAIL no .deb built"; exit 1; }
[ $nfail -eq 0 ] || { echo "deb-repro: $nfail of $n packages differ"; exit 1; }
echo "deb-repro: $n packages byte-identical over two builds"
