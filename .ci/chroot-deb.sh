#!/bin/sh
# .ci/chroot-deb.sh — run by .ci/run in its fresh Debian 12 chroot (as
# root, in the clone, after setup.sh and make check): the Debian packages
# built there (make deb: what setup.sh installed must be enough, with no
# compiler cache), installed as docs/PACKAGING.md says (`apt-get install
# ./ledger_*.deb ./libledger1_*.deb`; no service starts in a chroot), then
# `ledger --version`, the system ledger the postinst made, and the
# README's demo (examples/demo.sh) with the installed /usr/bin/ledger.
# The packages' units under systemd are make boot-test's, on the host.
set -eu
t0=$(date +%s)
make deb
echo "chroot: make deb took $(( $(date +%s) - t0 )) s" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    ./build/deb/ledger_*.deb ./build/deb/libledger1_*.deb
p=$(command -v ledger)
[ "$p" = /usr/bin/ledger ] || { echo "chroot: ledger is $p, not /usr/bin/ledger" >&2; exit 1; }
/usr/bin/ledger --version
runuser -u ledger -- /usr/bin/ledger --dir /var/lib/ledger verify
DEMO_DIR=/tmp/ledger-deb-demo sh examples/demo.sh /usr/bin/ledger >/tmp/ledger-deb-demo.out 2>&1 || {
    tail -n 40 /tmp/ledger-deb-demo.out >&2
    echo "chroot: the README's demo failed with /usr/bin/ledger" >&2
    exit 1
}
rm -rf /tmp/ledger-deb-demo /tmp/ledger-deb-demo.*
echo "chroot: the packages built, installed, and the demo ran with /usr/bin/ledger in $(( $(date +%s) - t0 )) s" >&2
