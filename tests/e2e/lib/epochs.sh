# epochs.sh — sourced by the epoch keys' e2e scripts (not run on its own:
# the test runner runs tests/e2e/*.sh only). Needs $D (the ledger), $T
# (the script's scratch directory, exported here), L (the ledger command
# on $D), fail, and SLACK (seconds an epoch's end may take past its
# period). Each helper says what it does above it; append_fresh appends
# with `L append` (through serve when one serves $D).
# the current epoch secret in the state file (the slot of highest
# generation), and every secret it holds (current and pending)
cur_secret() {
    python3 - "$D/keys/log.epochs" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
best = None
for s in (b[0:8192], b[8192:]):
    if s[:8] == b"ldgepk01":
        g = int.from_bytes(s[8:16], "big")
        if best is None or g > best[0]:
            best = (g, s[72:104].hex())
print(best[1])
EOF
}
gen() {
    python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); print(max(int.from_bytes(s[8:16],"big") for s in (b[:8192], b[8192:]) if s[:8]==b"ldgepk01"))' "$D/keys/log.epochs"
}
# no_secret HEX WHAT: no file under $D holds the secret HEX, raw, hex
# (either case) or base64 (at any of the three alignments)
no_secret() {
    python3 - "$D" "$1" <<'EOF' || fail "$2: $(cat "$T/found")"
import base64, os, sys
root, k = sys.argv[1], bytes.fromhex(sys.argv[2])
pats = [k, k.hex().encode(), k.hex().upper().encode()]
for a in range(3):
    b = base64.b64encode(bytes(a) + k)
    pats.append(b[4:4 * ((32 + a) // 3)])
for d, _, fs in os.walk(root):
    for f in fs:
        p = os.path.join(d, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        if any(q in data for q in pats):
            open(os.environ["T"] + "/found", "w").write("the secret is in " + p)
            sys.exit(1)
EOF
}
export T
# no_secret_mem PID HEX: the secret HEX (raw) is in no readable mapping
# of process PID's memory
no_secret_mem() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
pid, k = sys.argv[1], bytes.fromhex(sys.argv[2])
try:
    mem = open("/proc/%s/mem" % pid, "rb", 0)
    maps = open("/proc/%s/maps" % pid).read().splitlines()
except PermissionError as e:
    print("note: cannot read the memory of process %s (%s): not checked" % (pid, e))
    sys.exit(0)
found, read, big = [], 0, 0
for line in maps:
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
    if not m or m.group(3)[0] != "r" or m.group(4) in ("[vvar]", "[vsyscall]"):
        continue
    a, b = int(m.group(1), 16), int(m.group(2), 16)
    if b - a > 1 << 30:  # (a sanitizer's shadow: terabytes reserved)
        big += 1
        continue
    for at in range(a, b, 1 << 24):  # 16 MiB at a time, 32 bytes over
        try:
            mem.seek(at)
            data = mem.read(min(b, at + (1 << 24) + 31) - at)
        except OSError:
            continue
        read += len(data)
        if k in data:
            found.append("%s at %#x" % (m.group(4) or "anonymous", at + data.index(k)))
            break
if big:
    print("note: %d mappings over 1 GiB not read" % big)
if read == 0:
    sys.exit("no mapping of process %s could be read" % pid)
if found:
    sys.exit("in " + ", ".join(found))
EOF
}
# period_end SEQ: when the period of the epoch that sealed SEQ ends (ns)
period_end() {
    L keys verifier -o json >"$T/vk" || return 1
    L keys epochs -o json >"$T/ep" || return 1
    jq -r --argjson s "$1" 'select((.from_seq | tonumber) <= $s) | .epoch' "$T/ep" |
        tail -n 1 | cut -d. -f1 >"$T/p"
    python3 -c 'import json,sys
a = json.load(open(sys.argv[1]))["anchor"]
print(int(a["t0"]) + (int(sys.argv[2]) + 1) * a["period_ns"])' "$T/vk" "$(cat "$T/p")"
}
now_ns() { python3 -c 'import time; print(time.time_ns())'; }
sleep_until() { # NS
    python3 -c 'import sys, time
d = (int(sys.argv[1]) - time.time_ns()) / 1e9
time.sleep(max(d, 0))' "$1"
}
live_of() { # SEQ: the "live" of the epoch that sealed SEQ
    L keys epochs -o json | jq -r --argjson s "$1" \
        'select((.from_seq | tonumber) <= $s) | .live' | tail -n 1
}

# append_fresh N: an event through serve 100 ms into a period, and the
# secret of the epoch that sealed it read before that period ends: on a
# slow box (make asan, a loaded CI) serve may end the epoch first, and
# the secret read would be the next one's; then the round is taken again
# (up to 5). Sets seq and sec; counts its events in nfresh (each one an
# epoch that serve ends).
nfresh=0
# into_period: sleeps until 100 ms into the log key's next period
into_period() {
    L keys verifier -o json >"$T/vk" || return 1
    sleep_until "$(python3 -c 'import json, sys, time
a = json.load(open(sys.argv[1]))["anchor"]
t0, n = int(a["t0"]), a["period_ns"]
print(t0 + ((time.time_ns() - t0) // n + 1) * n + 100000000)' "$T/vk")"
}
append_fresh() {
    for try in 1 2 3 4 5; do
        into_period || return 1
        seq=$(L append x.test --body "{\"n\":$1}" | sed -n 's/^seq //p')
        [ -n "$seq" ] || return 1
        nfresh=$((nfresh + 1))
        sec=$(cur_secret)
        [ "$(now_ns)" -lt "$(period_end "$seq")" ] && return 0
        echo "note: round $try: the period of seq $seq ended before its secret was read"
    done
    return 1
}
slots_same() {
    python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); sys.exit(b[:8192] != b[8192:])' "$D/keys/log.epochs"
}
# ended_by SEQ END: the epoch that sealed SEQ, whose period ends at END
# (ns), is ended by SLACK after it, its end whole (both slots of the
# state file written; waited for at most 30 s more on a loaded disk,
# said if so); the lag from END to the state file's last write printed
ended_by() {
    sleep_until $(($2 + SLACK * 1000000000))
    i=0
    until [ "$(live_of "$1")" = false ] && slots_same; do
        i=$((i + 1))
        [ $i -gt 300 ] && { fail "the epoch of seq $1 is still live 30 s after its period: $(L keys epochs -o json)"; return 1; }
        sleep 0.1
    done
    [ $i = 0 ] || echo "note: the end of seq $1's epoch was whole only $i tenths of a second after the slack"
    mt=$(python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$D/keys/log.epochs")
    echo "info: seq $1's epoch ended $(( (mt - $2) / 1000000 )) ms after its period's end (the state file's mtime, a coarse clock)"
}
