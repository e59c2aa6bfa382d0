#!/bin/sh
# doctor_wear.sh — the doctor's storage-wear clause (issue 64, item 5)
# against a stub sysfs (LEDGER_SYSFS_ROOT) standing for the device that
# holds the ledger's directory:
#   - no history yet: said, with the kernel's count since boot, no guess;
#   - `ledger metrics` takes a sample (once in 10 minutes, not each run);
#   - samples an hour and a day old: the bytes of each window, and the
#     years a device of that size lasts at 3,000 cycles (the assumption
#     said); under 5 years a warning, the verdict and exit code unchanged;
#     samples of another boot are not used;
#   - an eMMC's own life_time and pre-EOL figures instead of the estimate,
#     a worn one a warning; an NVMe whose SMART log cannot be read says so
#     and falls back to the estimate; a partition's whole disk is sized;
#   - a file system on no listed block device: said, nothing else.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/doctor_wear.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
D=$T/l
"$LEDGER" --dir "$D" init >/dev/null || { echo "FAIL: init"; exit 1; }
MM=$(stat -c '%Hd:%Ld' "$D")
BOOT=$(cat /proc/sys/kernel/random/boot_id)
S=$T/sys
export LEDGER_SYSFS_ROOT=$S
# stub DISK [PART]: the device of MM is DISK (or its partition PART)
stub() {
    rm -rf "$S"
    mkdir -p "$S/block/$1" "$S/dev/block"
    echo 67108864 >"$S/block/$1/size" # 32 GiB
    if [ -n "${2:-}" ]; then
        mkdir -p "$S/block/$1/$2"
        echo 2 >"$S/block/$1/$2/partition"
        ln -s "../../block/$1/$2" "$S/dev/block/$MM"
    else
        ln -s "../../block/$1" "$S/dev/block/$MM"
    fi
}
# sectors N: the device's count of sectors written since boot
sectors() {
    d=$(readlink -f "$S/dev/block/$MM")
    echo "100 0 800 10 500 0 $1 20 0 30 40 0 0 0 0 0 0" >"$d/stat"
}
doc() { "$LEDGER" --dir "$D" doctor >"$T/out" 2>&1; echo $? >"$T/rc"; }
has() { grep -qF -- "$1" "$T/out" || fail "$2: missing '$1' in: $(grep -A3 storage-wear "$T/out")"; }
hasnt() { grep -qF -- "$1" "$T/out" && fail "$2: should not say '$1'"; }
now=$(date +%s)

# no history
stub vda
sectors 2097152 # 1 GiB
doc
has "storage-wear" "no history"
has "no history of vda's writes an hour long yet" "no history"
has "1.0 GiB written to it by every writer" "no history: the count since boot"
hasnt "years" "no history"
[ "$(cat "$T/rc")" = 0 ] || fail "no history: doctor exit $(cat "$T/rc")"

# `ledger metrics` samples, once in 10 minutes
"$LEDGER" --dir "$D" metrics >/dev/null 2>&1 || fail "metrics"
[ "$(wc -l <"$D/storage-wear.tsv")" = 1 ] || fail "metrics: no sample: $(cat "$D/storage-wear.tsv" 2>&1)"
grep -q "^[0-9]* $BOOT $MM 2097152$" "$D/storage-wear.tsv" ||
    fail "the sample is not this boot's count: $(cat "$D/storage-wear.tsv")"
sectors 2097160
"$LEDGER" --dir "$D" metrics >/dev/null 2>&1
[ "$(wc -l <"$D/storage-wear.tsv")" = 1 ] || fail "a second sample within 10 minutes"

# an hour and a day of history: 40 GiB in the last day (not the other
# boot's sample), 2 GiB in the last hour; 32 GiB x 3000 at 40 GiB a day
# is 6.6 years (at the hour's 48 GiB a day it would be 5.5)
cat >"$D/storage-wear.tsv" <<X
$((now - 200000)) 00000000-other-boot $MM 1
$((now - 86400 - 60)) $BOOT $MM 2097152
$((now - 3600 - 30)) $BOOT $MM 81788928
X
sectors $((2097152 + 83886080))
doc
has "2.0 GiB written to vda in the last 1.0 h, 40.0 GiB in the last day" "history"
has "a 32.0 GiB device lasts 6.6 years, assuming 3000 write cycles" "history: years"
grep -q "^  ok      storage-wear" "$T/out" || fail "6.6 years: not ok: $(grep storage-wear "$T/out")"
"$LEDGER" --dir "$D" doctor -o json >"$T/j" 2>/dev/null
python3 -c '
import json, sys
c = [x for x in json.load(open(sys.argv[1]))["box"] if x["name"] == "storage-wear"][0]
assert c["status"] == "ok", c
assert c["day_bytes"] == 83886080 * 512 - 0 and c["hour_bytes"] == 2 << 30, c
assert abs(c["years"] - 6.6) < 0.05, c
' "$T/j" || fail "doctor -o json: the measures"

# a faster rate: under 5 years warns, and changes nothing else
sectors $((2097152 + 83886080 * 2))
doc
has "a 32.0 GiB device lasts 3.3 years" "fast"
has "under the 5 years the doctor warns below" "fast"
grep -q "^  WARN    storage-wear" "$T/out" || fail "3.3 years: no warning: $(grep storage-wear "$T/out")"
[ "$(cat "$T/rc")" = 0 ] || fail "a wear warning changed the exit code: $(cat "$T/rc")"
grep -q "^verdict: healthy" "$T/out" || fail "a wear warning changed the verdict: $(tail -1 "$T/out")"

# only an hour: said, and the estimate from the hour (the clock read
# again here: the rate is over the sample's age, and under make asan on a
# loaded box the steps above take long enough to change its last digit)
now=$(date +%s)
cat >"$D/storage-wear.tsv" <<X
$((now - 3600 - 30)) $BOOT $MM 81788928
X
sectors $((81788928 + 4194304))
doc
has "2.0 GiB written to vda in the last 1.0 h (the samples cover less than a day)" "hour only"
has "at the last hour's rate (47.6 GiB a day), a 32.0 GiB device lasts 5.5 years" "hour only"

# an eMMC's own figures, on a partition: no estimate from cycles
stub mmcblk0 mmcblk0p2
sectors $((81788928 + 4194304))
mkdir -p "$S/block/mmcblk0/device"
echo "0x02 0x03" >"$S/block/mmcblk0/device/life_time"
echo "0x01" >"$S/block/mmcblk0/device/pre_eol_info"
doc
has "2.0 GiB written to mmcblk0p2 in the last 1.0 h" "emmc partition"
has "mmcblk0's own estimate (eMMC life_time): 10-20% of its life used (type A), 20-30% (type B); pre-EOL: normal" "emmc"
hasnt "write cycles" "emmc"
grep -q "^  ok      storage-wear" "$T/out" || fail "emmc: not ok"
echo "0x0b 0x0a" >"$S/block/mmcblk0/device/life_time"
echo "0x03" >"$S/block/mmcblk0/device/pre_eol_info"
doc
has "more than 100% of its life used (type A), 90-100% (type B); pre-EOL: urgent" "worn emmc"
grep -q "^  WARN    storage-wear" "$T/out" || fail "worn emmc: no warning"

# an NVMe drive whose SMART log is not readable here: said, then the
# estimate
stub nvme0n1
sectors $((81788928 + 4194304))
doc
if [ -e /dev/nvme0 ]; then
    grep -qE "nvme0n1's own figure \(NVMe SMART log\)|nvme0n1's own figure \(NVMe percentage used\) not read" "$T/out" ||
        fail "nvme: neither its figure nor why not"
else
    has "nvme0n1's own figure (NVMe percentage used) not read: cannot open /dev/nvme0" "nvme"
    has "at the last hour's rate" "nvme: the estimate"
fi

# no block device behind the file system
rm -rf "$S" && mkdir -p "$S"
doc
has "no count of the device's writes: the ledger's file system (device $MM) is on no block device the kernel lists" "no device"
"$LEDGER" --dir "$D" metrics >/dev/null 2>&1 || fail "metrics without a device"

if [ $fails -eq 0 ]; then
    echo "doctor_wear: ok"
    exit 0
fi
echo "doctor_wear: $fails failure(s)"
exit 1
