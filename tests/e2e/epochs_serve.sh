#!/bin/sh
# epochs_serve.sh — `ledger serve` ends an epoch key's epoch when its
# period is over (issue 65: "no acked event stays under a live epoch key
# for more than --epoch; an idle box makes no epoch"; docs/EPOCHS.md).
#
# A layout-9 ledger with 2 s epochs (LEDGER_TEST_EPOCH_S seconds: make
# asan runs 6, where one program's start alone takes a tenth of a second
# and a loaded box may take a whole 2 s period between an append and the
# next look), one event appended through serve
# and no further traffic: by the period's end plus SLACK (2 s) `keys
# epochs` says the epoch is no longer live and both slots of the state
# file are written (on a disk too loaded for that, waited for up to 30 s
# more and said), and no file under the ledger directory holds its
# secret, raw, hex or base64; the lag from the period's end to the state
# file's last write is printed. An idle serve,
# before any event and after the end, makes no epoch over several periods
# (the state file is not written: same generation). `ledger keys advance
# --if-expired` ends an expired epoch where no serve runs and does nothing
# otherwise; a one-shot `append --direct` ends another key's expired
# epoch before it writes. kill -9 of serve inside an epoch end (an LD_PRELOAD shim
# holds it at the first, then the second, fdatasync of the state file)
# leaves a ledger that opens, verifies and holds every acked event, and
# the next serve finishes the job (the old secret gone). After each timed
# end the ended epoch's secret is not in the daemon's memory either (every
# readable mapping of /proc/PID/mem: the states serve keeps between
# commits are wiped at the period's end; needs the right to read another
# process's memory, root's in CI, and says so where it has none). `verify --full`
# passes after the timed ends. Fails on a build whose serve does not end
# epochs (the epoch stays live).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
SLACK=2
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
export LEDGER_LAYOUT=9

# serve_start [ENV...]: a daemon on $D, waited for; pid in $pid
serve_start() {
    : >"$T/serve.out"
    env "$@" "$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
    pid=$!
    i=0
    while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
        sleep 0.02
        i=$((i + 1))
        [ $i -gt 500 ] && { fail "serve did not start: $(cat "$T/serve.err")"; return 1; }
    done
    return 0
}
serve_stop() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
}
# cur_secret, gen, no_secret, no_secret_mem, period_end, now_ns,
# sleep_until, into_period, live_of, append_fresh, slots_same, ended_by
. "$(dirname "$0")/lib/epochs.sh"

P=${LEDGER_TEST_EPOCH_S:-2}
case $P in '' | *[!0-9]* | 0* | 1) echo "LEDGER_TEST_EPOCH_S: seconds, at least 2: $P" >&2; exit 64 ;; esac
# three periods and half a second
idle=$((P * 3)).5
L init --epoch "$P" >/dev/null 2>"$T/err" || { fail "init --epoch $P: $(cat "$T/err")"; exit 1; }

# --- an idle serve makes no epoch: three periods, the state untouched
g0=$(gen)
serve_start || exit 1
sleep "$idle"
[ "$(gen)" = "$g0" ] || fail "an idle serve wrote the state file (generation $g0 -> $(gen))"
L keys epochs >"$T/out" 2>&1
grep -q 'no epoch yet: 1 key is anchored, and none has sealed an event since' "$T/out" ||
    fail "an idle serve made an epoch: $(cat "$T/out")"

# --- one event through serve, then nothing: ended by the period's end
# plus SLACK, its secret nowhere under the ledger directory
append_fresh 1 || fail "append through serve"
# (live while its period lasts: when the period ended before keys epochs
# answered, as on a loaded box under make asan, nothing can be said)
end=$(period_end "$seq")
# (the scan finds a secret that is there: the live epoch's, which serve
# keeps between commits, while its period lasts)
if out=$(no_secret_mem "$pid" "$sec" 2>&1); then
    case "$out" in
    "note: cannot read"*) ;;
    *) [ "$(now_ns)" -lt "$end" ] && fail "the scan of serve's memory did not find the live epoch's secret" ;;
    esac
fi
lv=$(live_of "$seq")
if [ "$lv" != true ] && [ "$(now_ns)" -lt "$end" ]; then
    fail "the epoch that sealed seq $seq is not live at once: $(L keys epochs -o json 2>&1)"
elif [ "$lv" != true ]; then
    echo "note: the period of seq $seq ended before keys epochs answered: not said live at once"
fi
ended_by "$seq" "$end"
no_secret "$sec" "after the timed end"
out=$(no_secret_mem "$pid" "$sec" 2>&1) || fail "the ended epoch's secret is in serve's memory: $out"
[ -n "$out" ] && echo "$out"
[ "$(cur_secret)" != "$sec" ] || fail "the state file's current secret is the old one"
L verify --full >"$T/out" 2>&1 || fail "verify --full after a timed end: $(cat "$T/out")"

# --- idle again over several periods: nothing more ended or written
g1=$(gen)
n1=$(L keys epochs -o json | wc -l)
sleep "$idle"
[ "$(gen)" = "$g1" ] || fail "an idle serve after an epoch's end wrote the state file again ($g1 -> $(gen))"
[ "$(L keys epochs -o json | wc -l)" = "$n1" ] || fail "an idle serve made an epoch"

# --- the next event: a new epoch, sealed and ended the same way
append_fresh 2 || fail "second append through serve"
seq2=$seq
sec2=$sec
end2=$(period_end "$seq2")
ended_by "$seq2" "$end2"
no_secret "$sec2" "after the second timed end"
out=$(no_secret_mem "$pid" "$sec2" 2>&1) || fail "the second ended epoch's secret is in serve's memory: $out"
[ -n "$out" ] && echo "$out"
serve_stop
grep -q "epochs: $nfresh ended at their period" "$T/serve.err" ||
    fail "serve's last words do not count $nfresh epochs ended: $(cat "$T/serve.err")"

# --- no serve: `keys advance --if-expired` (what ledger-epoch.timer runs)
L keys advance --if-expired >"$T/out" 2>&1 || fail "advance --if-expired with nothing to end: $(cat "$T/out")"
grep -q 'no epoch to end' "$T/out" || fail "advance --if-expired said: $(cat "$T/out")"
# a ledger with no epoch key says so (exit 0: the timer runs on any box),
# not that no epoch "outlived its period" (--epoch 0: init anchors the
# log key by default)
"$LEDGER" --dir "$T/plain" init --epoch 0 >/dev/null 2>&1 || fail "init a ledger without epochs"
"$LEDGER" --dir "$T/plain" keys advance --if-expired >"$T/out" 2>&1 ||
    fail "advance --if-expired without epoch keys: $(cat "$T/out")"
grep -q 'no key of this ledger seals with epoch keys' "$T/out" ||
    fail "advance --if-expired without epoch keys said: $(cat "$T/out")"
# an event, then --if-expired inside its period: on a slow box (make
# asan, a loaded CI) the period may end between the two, and then
# nothing can be said of "inside", so that round is taken again with the
# next event (the period's end read after the advance has answered)
inside=0
for try in 1 2 3 4 5; do
    seq3=$(L append x.test --body '{"n":3}' | sed -n 's/^seq //p')
    sec3=$(cur_secret)
    L keys advance --if-expired >"$T/out" 2>&1
    after=$(now_ns)
    after_sec=$(cur_secret)
    [ "$after" -lt "$(period_end "$seq3")" ] || continue
    inside=1
    grep -q 'no epoch to end' "$T/out" || fail "advance --if-expired ended a live period's epoch: $(cat "$T/out")"
    [ "$after_sec" = "$sec3" ] || fail "advance --if-expired changed the state inside the period"
    break
done
[ "$inside" = 1 ] || fail "5 rounds of an append and --if-expired each outlasted a $P s period"
sleep_until $(($(period_end "$seq3") + 100000000))
# the doctor says the epoch outlived its period, and the cure
exposure() {
    L doctor -o json | jq -c '.box[] | select(.name == "epoch-exposure")'
}
exposure >"$T/ex"
jq -e '.status == "warn" and (.remedy | any(test("keys advance --if-expired")))' "$T/ex" >/dev/null ||
    fail "doctor on an expired live epoch: $(cat "$T/ex")"
L keys advance --if-expired -q >"$T/out" 2>&1 || fail "advance --if-expired: $(cat "$T/out")"
[ "$(cat "$T/out")" = 1 ] || fail "advance --if-expired -q after the period said: $(cat "$T/out")"
[ "$(live_of "$seq3")" = false ] || fail "advance --if-expired left the epoch live"
no_secret "$sec3" "after advance --if-expired"
exposure >"$T/ex"
jq -e '.status == "ok"' "$T/ex" >/dev/null || fail "doctor after advance --if-expired: $(cat "$T/ex")"
L keys advance --if-expired -q >"$T/out" 2>&1
[ ! -s "$T/out" ] || fail "advance --if-expired -q with nothing to end said: $(cat "$T/out")"
# the next one-shot writer ends what outlived its period first, whatever
# key it seals with: alice's epoch, by an append as the log key (keys add
# anchors alice itself, the log key being anchored: --epoch gives her 1 s)
L keys add alice --epoch 1 >"$T/out" 2>&1 &&
    grep -q 'anchored at event [0-9]*, epoch keys of 1 s$' "$T/out" ||
    fail "keys add alice --epoch 1: $(cat "$T/out")"
sa=$(L append --direct x.test --actor alice --body '{"alice":1}' | sed -n 's/^seq //p')
[ "$(live_of "$sa")" = true ] || fail "alice's epoch is not live after her append"
sleep 1.2
L append --direct x.test --body '{"log":1}' >/dev/null || fail "append --direct as the log key"
L keys epochs -o json | jq -e -s 'any(.[]; .key == "alice" and .live == false)' >/dev/null ||
    fail "a one-shot append left alice's expired epoch live: $(L keys epochs -o json)"
L keys advance --if-expired a >"$T/out" 2>&1
[ $? = 64 ] || fail "advance --if-expired NAME: not a usage error: $(cat "$T/out")"
L keys list --if-expired >"$T/out" 2>&1
[ $? = 64 ] || fail "keys list --if-expired: not a usage error"

# --- kill -9 of serve inside an epoch end: held at the Nth fdatasync of
# the state file made after the period's end, then killed
CC=${CC:-cc}
cat >"$T/hold.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* holds the process at the EH_AT-th fdatasync of a *.epochs file made
 * at or after EH_FROM (ns), once it has touched EH_MARK */
static int n;
int
fdatasync(int fd)
{
    static int (*real)(int);
    char p[64], t[4096];
    struct timespec ts;
    ssize_t k;
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    k = readlink(p, t, sizeof t - 1);
    clock_gettime(CLOCK_REALTIME, &ts);
    if (k > 7 && getenv("EH_AT") != NULL) {
        t[k] = '\0';
        if (strcmp(t + k - 7, ".epochs") == 0 &&
            (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec >=
                strtoull(getenv("EH_FROM"), NULL, 10) &&
            ++n == atoi(getenv("EH_AT"))) {
            close(open(getenv("EH_MARK"), O_WRONLY | O_CREAT, 0600));
            for (;;)
                pause();
        }
    }
    return real(fd);
}
EOF
if ! $CC -shared -fPIC -o "$T/hold.so" "$T/hold.c" -ldl 2>"$T/cc.err"; then
    fail "cannot build the fdatasync shim: $(cat "$T/cc.err")"
else
    PRE=$(ldd "$LEDGER" 2>/dev/null | awk '/libasan|libubsan|libtsan/ {print $3}' | tr '\n' ':')
    [ -n "$PRE" ] && export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0
    : >"$T/acked"
    for at in 1 2; do
        # the next period's bounds: the event goes in early in it, and
        # the shim counts from half a second before its end on (after
        # the seal that may open the period's epoch)
        L keys verifier -o json >"$T/vk"
        set -- $(python3 -c 'import json, sys, time
a = json.load(open(sys.argv[1]))["anchor"]
t0, n = int(a["t0"]), a["period_ns"]
b = t0 + ((time.time_ns() - t0) // n + 1) * n
print(b + 200000000, b + n)' "$T/vk")
        kend=$2
        rm -f "$T/mark"
        serve_start LD_PRELOAD="$PRE$T/hold.so" EH_AT=$at \
            EH_FROM=$((kend - 500000000)) EH_MARK="$T/mark" || break
        sleep_until "$1"
        L append x.test --body "{\"kill\":$at}" | sed -n 's/^seq //p' >>"$T/acked"
        s=$(tail -n 1 "$T/acked")
        [ -n "$s" ] || { fail "round $at: append through serve"; serve_stop; continue; }
        ksec=$(cur_secret)
        [ "$(period_end "$s")" = "$kend" ] || fail "round $at: the event is not in the period ending at $kend"
        sleep_until "$kend"
        i=0
        while [ ! -e "$T/mark" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
        [ -e "$T/mark" ] || fail "round $at: serve never reached the state file's fdatasync #$at after the period's end"
        kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=""
        # the ledger the kill left: opens, verifies, holds every acked event
        L keys epochs -o json >"$T/out" 2>&1 || fail "round $at: keys epochs after the kill: $(cat "$T/out")"
        L verify >"$T/out" 2>&1 || fail "round $at: verify after the kill: $(cat "$T/out")"
        size=$(L stats -o json | jq -r .events)
        while read -r a; do
            [ "$a" -lt "$size" ] || fail "round $at: acked seq $a is not in the log ($size events)"
        done <"$T/acked"
        # the next serve finishes the job: the old secret gone
        serve_start || break
        # (its writer finishes the end beside the listening socket)
        i=0
        while [ "$(live_of "$s")" != false ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        [ "$(live_of "$s")" = false ] || fail "round $at: the epoch is live 30 s after the next serve began"
        no_secret "$ksec" "round $at: after the kill and the next serve"
        serve_stop
    done
fi
L append x.test --body '{"after":"kills"}' >/dev/null || fail "append after the kills"
L verify --full >"$T/out" 2>&1 || fail "verify --full at the end: $(cat "$T/out")"

[ "$fails" = 0 ] && echo "ok: epochs_serve" && exit 0
exit 1
