#!/bin/sh
# serve_job_limits.sh — `ledger serve`'s jobs at their edges (a review's
# findings):
#   1. with --socket elsewhere than DIR/ledger.sock, the probe job writes
#      through that socket (it failed every run, exit 66, looking for
#      DIR/ledger.sock);
#   2. a stop while the probe's nvidia-smi hangs: the job's process group
#      is killed (the hung program too), the stop does not wait for it,
#      and the run is not counted as the job's failure (the stop waited
#      ~40 s for the grandchild, and the status said FAILING, killed by
#      signal 15);
#   3. a probe whose warnings fill the job's 4 KiB tail to within a few
#      bytes: the server goes on (it wrote past the tail's end, over the
#      stack, and died of SIGSEGV).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
pid="" SPID=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
job_field() { # FIELD: the probe job's field in the status file
    python3 -c 'import json,sys; j=[x for x in json.load(open(sys.argv[1]))["jobs"] if x["name"]=="probe"][0]; print(j[sys.argv[2]])' \
        "$D/serve-status.json" "$1"
}
serve() { # ARGS...: starts serve, waits for its first probe run's end
    "$LEDGER" --dir "$D" serve --socket "$T/s.sock" "$@" >"$T/out" 2>"$T/err" &
    pid=$!
}
wait_runs() { # N: until the probe job has N runs (30 s at most)
    i=0
    while [ $i -lt 600 ]; do
        [ -s "$D/serve-status.json" ] && [ "$(job_field runs 2>/dev/null)" = "$1" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}
stop() {
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=""
    return $rc
}

# 1. --socket: the probe writes through it
D=$T/l1
L init >/dev/null || exit 1
n0=$(L stats -o json | jq -r .events)
LEDGER_NVIDIA_SMI=/nonexistent serve --probe-every 1m
wait_runs 1 || fail "the probe job did not run: $(cat "$T/err")"
[ "$(job_field last_exit)" = 0 ] || fail "probe with --socket: exit $(job_field last_exit): $(job_field last_error)"
stop || fail "serve exit $rc: $(cat "$T/err")"
[ "$(L stats -o json | jq -r .events)" -gt "$n0" ] || fail "the probe job appended nothing"

# 2. a stop while nvidia-smi hangs
D=$T/l2
L init >/dev/null || exit 1
cat >"$T/smi" <<EOF
#!/bin/sh
touch "$T/smi-started"
sleep 40
touch "$T/smi-done"
EOF
chmod +x "$T/smi"
LEDGER_NVIDIA_SMI=$T/smi serve --probe-every 1m
i=0
while [ ! -e "$T/smi-started" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
[ -e "$T/smi-started" ] || fail "the fake nvidia-smi never ran: $(cat "$T/err")"
stop || fail "serve exit $rc on a stop during a job: $(cat "$T/err")"
sleep 1
[ -e "$T/smi-done" ] && fail "the stop waited for the hung nvidia-smi (it ran to its end)"
pgrep -f "$T/smi" >/dev/null && fail "the hung nvidia-smi outlived the server: $(pgrep -af "$T/smi")"
[ "$(job_field failures)" = 0 ] || fail "a run cut by the stop counted as a failure: $(job_field last_error)"
grep -q "cut short by the stop" "$T/err" || fail "the stop's cut is not said: $(cat "$T/err")"

# 3. warnings that fill the job's tail to within a few bytes
D=$T/l3
L init >/dev/null || exit 1
python3 - "$T/state.json" <<'PY'
import json, sys
models = [{"name": chr(ord("a") + i) * 300, "digest": "%064x" % i, "size": "x"}
          for i in range(11)]
models.append({"name": "z" * 284, "digest": "%064x" % 99, "size": "x"})
json.dump({"version": "0.5.7", "models": models}, open(sys.argv[1], "w"))
PY
python3 tests/stubs/stub.py --state "$T/state.json" --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
echo "r=ollama:http://127.0.0.1:$(cat "$T/port")" >"$D/runtimes"
LEDGER_NVIDIA_SMI=/nonexistent serve --probe-every 2s
wait_runs 2 || fail "the server did not outlive two probe runs: $(tail -3 "$T/err")"
kill -0 "$pid" 2>/dev/null || fail "the server died"
stop || fail "serve exit $rc after the long warnings: $(tail -3 "$T/err")"
grep -q "left out" "$T/err" || fail "the warnings were not logged"

[ $nfail -eq 0 ] && echo "serve_job_limits: --socket probe, a stop beside a hung child, a full tail"
exit $((nfail > 0))
