#!/bin/sh
# ingest_trickle.sh — a direct `ledger ingest -` never sits on an event
# (issue 13): input that keeps arriving is committed and acknowledged
# (--acks) while it flows, whatever --batch says.
#
# flood: the writer sends events without a pause, so the input never goes
# idle, until the first ack comes back; that ack must cover fewer events
# than --batch 50000 (it came before the batch filled) and arrive while
# the input is open. Before, an event waited for a full batch, the end of
# the input or a 2 ms pause in it: a writer that keeps the pipe full got
# its first ack for exactly 50,000 events (with --batch 1000000, none
# within the 30 s guard). The batch is not larger because the writer
# allocates its ring of batches up front, which sanitizer builds zero.
#
# trickle: events ~1 ms apart (never the 2 ms pause that used to flush),
# also with --batch 50000: the first ack comes back, for fewer events than
# the batch, before the last line is sent. Before, it would have come when
# 50,000 events had trickled in, after the 30 s guard.
#
# No timing is measured; the guard only stops a test that would otherwise
# never end.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

"$LEDGER" --dir "$D" init >/dev/null || exit 1

# feed MODE: runs `ingest --direct --acks -` under the writer MODE (flood
# or trickle) until the first ack is read, then sends one last event and
# closes; every event must be acknowledged exactly once
feed() {
    python3 - "$LEDGER" "$D" "$1" >"$T/feed.$1" 2>&1 <<'PY'
import fcntl, json, select, subprocess, sys, time
led, d, mode = sys.argv[1], sys.argv[2], sys.argv[3]
args = [led, "--dir", d, "ingest", "--direct", "--acks", "--batch", "50000"]
p = subprocess.Popen(args + ["-"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE)
try:  # a deeper pipe (1 MiB): more events queued ahead of ingest
    fcntl.fcntl(p.stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
except OSError:
    pass
line = b'{"type":"x.trickle","body":{"mode":"%s","i":%d}}\n'
guard = time.monotonic() + 30
sent, acks = 0, []
while not acks:
    if time.monotonic() > guard:
        print("%s: no ack within 30 s while the input kept coming "
              "(%d events sent)" % (mode, sent))
        p.kill()
        sys.exit(1)
    if mode == "flood":
        # 100 events a write, no pause: the pipe stays full
        p.stdin.write(b"".join(line % (b"flood", sent + k)
                               for k in range(100)))
        sent += 100
    else:
        p.stdin.write(line % (b"trickle", sent))
        sent += 1
        time.sleep(0.001)
    p.stdin.flush()
    r, _, _ = select.select([p.stdout], [], [], 0)
    if r:
        acks.append(p.stdout.readline())
# the first ack came while the input was open
first = json.loads(acks[0])
n1 = int(first["committed_last"]) - int(first["committed_first"]) + 1
p.stdin.write(line % (mode.encode(), sent))
sent += 1
p.stdin.close()
acks += p.stdout.readlines()
rc = p.wait()
got = 0
for a in acks:
    o = json.loads(a)
    got += int(o["committed_last"]) - int(o["committed_first"]) + 1
print("sent %d acked %d in %d commits, the first of %d, rc %d" %
      (sent, got, len(acks), n1, rc))
if n1 >= 50000:
    print("%s: the first ack waited for the batch to fill" % mode)
    sys.exit(1)
sys.exit(0 if rc == 0 and got == sent else 1)
PY
}

want=0
for m in flood trickle; do
    feed $m || fail "$m: $(cat "$T/feed.$m")"
    k=$(sed -n 's/^sent \([0-9]*\) .*/\1/p' "$T/feed.$m")
    want=$((want + ${k:-0}))
done
n=$("$LEDGER" --dir "$D" query -o json type=x.trickle | wc -l | tr -d ' ')
[ "$n" = "$want" ] || fail "want $want x.trickle events, got $n"
"$LEDGER" --dir "$D" verify --full >/dev/null || fail "verify --full"
[ $fails = 0 ] && echo "ingest_trickle: ok"
[ $fails = 0 ]
