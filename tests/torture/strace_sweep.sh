#!/bin/sh
# strace_sweep.sh — fault injection with strace's --inject (no shim in the
# process): for each write-side call a clean `ledger append` makes
# (pwrite64, write, fdatasync, fsync, msync, ftruncate), for N = 1..K
# (K = how many such calls a clean run makes), the Nth call fails with
# ERRNO (EIO, then ENOSPC). After each run, without strace:
#   - the command ended by exit, not a signal; a non-zero exit said why;
#   - `verify --full` passes (what was durable before is intact);
#   - if it exited 0, the event it printed is there; if not, the log did
#     not grow.
# Run by `make torture` (needs strace). Prints the number of runs.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v strace >/dev/null 2>&1 || {
    echo "strace_sweep: strace is missing"
    exit 1
}
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/strace_sweep.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
runs=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
B=$T/base
"$LEDGER" --dir "$B" init >/dev/null 2>&1 || exit 1
for i in 1 2 3 4 5; do
    "$LEDGER" --dir "$B" append x.t --body "{\"i\":$i}" >/dev/null 2>&1 || exit 1
done
size() { "$LEDGER" --dir "$1" stats -o json 2>/dev/null | sed -n 's/.*"size":"\([0-9]*\)".*/\1/p'; }
base=$(size "$B")
CALLS=pwrite64,write,fdatasync,fsync,msync,ftruncate
rm -rf "$T/w" && cp -a "$B" "$T/w"
strace -f -qq -o "$T/count" -e trace=$CALLS "$LEDGER" --dir "$T/w" append x.t \
    --body '{"n":1}' >/dev/null 2>&1
K=$(grep -cE "^[0-9]+ +($(echo $CALLS | tr , '|'))\(" "$T/count")
echo "strace_sweep: a clean append makes $K write-side calls"
for e in EIO ENOSPC; do
    n=1
    while [ "$n" -le $((K + 1)) ]; do
        rm -rf "$T/w" && cp -a "$B" "$T/w"
        strace -f -qq -o /dev/null -e trace=$CALLS \
            -e inject=$CALLS:error=$e:when=$n \
            "$LEDGER" --dir "$T/w" append -q x.t --body '{"n":1}' \
            >"$T/out" 2>"$T/err"
        rc=$?
        runs=$((runs + 1))
        if [ "$rc" -ge 128 ]; then
            bad "$e at call $n: died by signal $((rc - 128))"
        elif [ "$rc" != 0 ] && ! grep -q . "$T/err"; then
            bad "$e at call $n: exit $rc with no message"
        fi
        "$LEDGER" --dir "$T/w" verify --full >/dev/null 2>"$T/verr" ||
            bad "$e at call $n: verify after: $(head -c 200 "$T/verr")"
        now=$(size "$T/w")
        if [ "$rc" = 0 ]; then
            seq=$(cat "$T/out")
            "$LEDGER" --dir "$T/w" show "$seq" >/dev/null 2>&1 ||
                bad "$e at call $n: exit 0 printed $seq, which is not there"
        elif [ "${now:-x}" != "$base" ] && [ "${now:-x}" != $((base + 1)) ]; then
            bad "$e at call $n: the log has $now events (was $base)"
        fi
        n=$((n + 1))
    done
done
echo "strace_sweep: $runs runs, $nfail failed"
[ "$nfail" = 0 ]
