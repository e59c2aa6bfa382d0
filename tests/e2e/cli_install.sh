#!/bin/sh
# cli_install.sh — `make install` and `make uninstall`:
#   - into a temporary PREFIX: the program, libledger.a, libledger.so with
#     its versioned soname, every public header, libledger.pc, the man
#     pages (with scdoc), the completions, the documents;
#   - a small C program built with nothing but
#     `pkg-config --cflags --libs libledger` (examples/embed/embed.c)
#     creates a ledger, appends, gets the verdict of `verify --full` and
#     runs serve's verify job with no `ledger` program in reach, and the
#     installed `ledger` reads what it wrote;
#   - `man ledger` finds the page under the prefix;
#   - DESTDIR stages under a root without changing PREFIX;
#   - `make uninstall` removes every file it installed.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
B=$(dirname "$L")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) B=${B#"$PWD"/} ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
P=$T/prefix
# Under `make asan` the outer make's OPT (sanitizers) reaches this make
# through MAKEFLAGS; the library other programs link must be a plain one.
# make also exports variables set on its command line (make asan's OPT) into
# the environment of its recipes; this make must not see them either.
unset MAKEFLAGS MFLAGS MAKELEVEL OPT
# A sanitizer build (make asan, make tsan) has instrumented objects in $B:
# a library built from them needs the sanitizer's runtime loaded first in
# every program that links it. Install a plain build of our own instead.
if nm "$B/libledger.a" 2>/dev/null | grep -q -E '__(asan|tsan)_'; then
    B=$T/build
fi

make -s B="$B" install PREFIX="$P" >"$T/make.log" 2>&1 ||
    { cat "$T/make.log"; echo "FAIL: make install"; exit 1; }
for f in bin/ledger lib/libledger.a lib/libledger.so lib/libledger.so.1 \
    lib/pkgconfig/libledger.pc include/libledger/ledger/ledger.h \
    include/libledger/query/query.h include/libledger/export/export.h \
    include/libledger/projections/projections.h \
    include/libledger/doctor/doctor.h \
    share/bash-completion/completions/ledger \
    share/zsh/site-functions/_ledger share/doc/ledger/FORMAT.md; do
    [ -e "$P/$f" ] || bad "make install did not install $f"
done
# every systemd unit (systemd/), into lib/systemd/system
for u in systemd/*.service systemd/*.socket systemd/*.timer; do
    [ -e "$u" ] || continue
    [ -f "$P/lib/systemd/system/${u##*/}" ] || bad "systemd unit $u not installed"
done
# the systemd units, with the installed program's path, and the user
for f in lib/systemd/system/ledger.socket lib/systemd/system/ledger.service \
    lib/systemd/system/ledger-epoch.service \
    lib/systemd/system/ledger-epoch.timer lib/sysusers.d/ledger.conf \
    lib/tmpfiles.d/ledger.conf; do
    [ -f "$P/$f" ] || bad "make install did not install $f"
done
for u in ledger.service ledger-epoch.service; do
    grep -q "^ExecStart=$P/bin/ledger " "$P/lib/systemd/system/$u" ||
        bad "$u: ExecStart is not $P/bin/ledger: $(grep ExecStart= "$P/lib/systemd/system/$u")"
    ! grep -q '@BINDIR@' "$P/lib/systemd/system/$u" ||
        bad "$u still says @BINDIR@"
done
# every public header (ledger.h, util/error.h, one per other module), and
# none of the private ones (issue 30: module.h, format.h and util.h are
# neither installed nor exported)
for h in ledger/ledger.h util/error.h */*.h; do
    m=${h%%/*}
    case $m in cli|tests|util|ledger) [ "$h" = ledger/ledger.h ] ||
        [ "$h" = util/error.h ] || continue ;; esac
    [ "$h" = "$m/$m.h" ] || [ "$h" = util/error.h ] || continue
    [ -f "$P/include/libledger/$h" ] || bad "public header $h not installed"
done
for h in ledger/module.h ledger/format.h ledger/handle_int.h util/util.h; do
    [ ! -e "$P/include/libledger/$h" ] || bad "private header $h installed"
done
# util is not exported: none of its functions is a global of the library
if nm -D --defined-only "$P/lib/libledger.so" | grep -q ' T ldg_buf_'; then
    bad "libledger.so exports util's ldg_buf_*"
fi
# the shared library has a versioned soname
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$P/lib/libledger.so" | grep -q 'SONAME.*\[libledger\.so\.1\]' ||
        bad "libledger.so has no soname libledger.so.1"
fi
[ -L "$P/lib/libledger.so" ] && [ -L "$P/lib/libledger.so.1" ] ||
    bad "libledger.so and libledger.so.1 are not links to the versioned file"

# a program built only through pkg-config (examples/embed/embed.c), run
# with no ledger program in reach: every verdict and serve job it asks for
# is the library's own
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs libledger) || bad "pkg-config libledger"
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Werror -o "$T/prog" "$ROOT/examples/embed/embed.c" $flags \
    2>"$T/cc.log" || bad "cc with pkg-config flags: $(cat "$T/cc.log")"
if [ -x "$T/prog" ]; then
    mv "$P/bin/ledger" "$P/bin/ledger.away"
    LD_LIBRARY_PATH="$P/lib" PATH=/nonexistent "$T/prog" "$T/d" >"$T/out" \
        2>"$T/err" || bad "the program fails: $(cat "$T/err")"
    mv "$P/bin/ledger.away" "$P/bin/ledger"
    grep -qx 'seq 1' "$T/out" || bad "program printed $(cat "$T/out")"
    grep -qx 'verdict: ok' "$T/out" || bad "no verdict: $(cat "$T/out")"
    grep -qx 'verify job: ok (exit 0)' "$T/out" ||
        bad "the serve job did not run: $(cat "$T/out" "$T/err")"
    if command -v readelf >/dev/null 2>&1; then
        readelf -d "$T/prog" | grep -q 'NEEDED.*\[libledger\.so\.1\]' ||
            bad "the program is not linked against libledger.so.1"
    fi
    "$P/bin/ledger" --dir "$T/d" query type=x.embed.hello -o cat \
        >"$T/q" 2>&1 || bad "installed ledger cannot read it: $(cat "$T/q")"
    grep -q 'built with pkg-config' "$T/q" || bad "query: $(cat "$T/q")"
fi
"$P/bin/ledger" --version >/dev/null || bad "installed ledger --version"

# man pages
if command -v scdoc >/dev/null 2>&1; then
    for m in man1/ledger.1 man1/ledger-record.1 man1/ledger-tlog.1 \
        man1/ledger-query.1 man1/ledger-export.1 man1/ledger-state.1 \
        man5/ledger-format.5 man7/ledger-events.7; do
        [ -s "$P/share/man/$m" ] || bad "man page $m not installed"
    done
    if command -v man >/dev/null 2>&1; then
        w=$(MANPATH="$P/share/man" man -w ledger 2>&1)
        [ "$w" = "$P/share/man/man1/ledger.1" ] || bad "man -w ledger: $w"
        MANPATH="$P/share/man" MANWIDTH=80 man ledger-query 2>/dev/null |
            grep -q 'after-cursor' || bad "man ledger-query lacks its options"
    fi
else
    echo "SKIP: scdoc is not installed; no man pages"
fi

# DESTDIR stages; PREFIX stays what the files say
make -s B="$B" install PREFIX=/opt/ledger DESTDIR="$T/stage" \
    >"$T/make2.log" 2>&1 || bad "make install DESTDIR: $(cat "$T/make2.log")"
[ -x "$T/stage/opt/ledger/bin/ledger" ] || bad "DESTDIR install: no program"
grep -qx 'prefix=/opt/ledger' "$T/stage/opt/ledger/lib/pkgconfig/libledger.pc" ||
    bad "DESTDIR install: libledger.pc does not say prefix=/opt/ledger"

# uninstall removes every file
make -s B="$B" uninstall PREFIX="$P" >"$T/make3.log" 2>&1 ||
    bad "make uninstall: $(cat "$T/make3.log")"
left=$(find "$P" -type f -o -type l)
[ -z "$left" ] || bad "make uninstall left: $left"

[ $nfail = 0 ] || exit 1
echo "cli_install: install, pkg-config build, man, DESTDIR, uninstall"
