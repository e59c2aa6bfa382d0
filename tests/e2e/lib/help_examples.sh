# help_examples.sh — sourced by cli_help.sh (not run on its own): runs
# every example of every command's --help, as a user would paste it,
# against a demo ledger (examples/pdf-ops.jsonl, a run r1 of pack
# summarize, an eval of route:qa, 300 more events), in a directory that
# holds the files the examples name (body.json, events.jsonl, r1.bundle,
# box.vkey, c.txt, ...), with `ledger` on PATH and the variables they use
# ($M, $URL, $VKEY, $W1..$W3, $WVKEY, $DIGEST) set. HOME is the test's.
#
# An example passes when it exits 0..3 (a verification, quorum or doctor
# verdict is an answer). One that needs the network to hosts that are not
# here (logs.example, s3, a ClickHouse or witness on a fixed port) may exit
# 74. One that ends in `&` must still be running a second later; one that
# runs until stopped (query -f, witness serve) must be running when it is
# stopped after 3 s. A program an example pipes to that is not installed
# (socat) skips it. Absolute paths outside the test (/var/www) are moved
# under it. Anything else — in particular 64 and 65, an example that does
# not parse or whose data the ledger refuses — fails.
#
# Uses from cli_help.sh: $L (the binary), bad(), $T (a scratch directory).
ex_root=$(cd "$(dirname "$0")/../.." && pwd)
X=$T/examples
mkdir -p "$X/bin" "$X/home" "$X/run"
ln -sf "$L" "$X/bin/ledger"
# `producer | ledger ingest -`: a producer of events
printf '#!/bin/sh\necho %s\n' \
    "'{\"type\":\"x.demo.produced\",\"body\":{}}'" > "$X/bin/producer"
chmod +x "$X/bin/producer"
ex_path=$X/bin:$PATH
ex_stub=""

size() { ledger stats -o json | sed 's/.*"events":\([0-9]*\).*/\1/'; }
ticks() { # N: N events of type x.demo.tick in one commit
    i=0
    while [ $i -lt "$1" ]; do
        echo '{"type":"x.demo.tick","body":{"n":'$i'}}'
        i=$((i + 1))
    done | ledger ingest - >/dev/null
}
ex_setup() (
    set -e
    export PATH=$ex_path HOME=$X/home LEDGER_DIR=$X/run/demo
    export LEDGER_NVIDIA_SMI= no_proxy=127.0.0.1
    cd "$X/run"
    ledger init --origin example.org/box1 >/dev/null
    # sizes the examples name: run r1 (claiming the times of 2026-11-22
    # 09:38..09:41) holds event 22, commits end at 40 and 100 (stored
    # checkpoints for `proof --consistency 10 --size 40` and `checkpoint
    # --size 100`), more than 300 events in all (19 ticks: event 1 is
    # the log key's anchor)
    ticks 19
    t=2026-11-22T09:3
    {
        echo '{"type":"pack.installed","time":"'$t'8:00Z","body":{"pack":"summarize","version":"1.0","manifest_digest":"sha256:00"}}'
        echo '{"type":"permission.requested","time":"'$t'8:01Z","body":{"pack":"summarize","group":"fs.read","scope":"/data","tier":"T1"}}'
        echo '{"type":"run.started","time":"'$t'8:30Z","body":{"run":"r1","pack":"summarize"}}'
        echo '{"type":"run.step","time":"'$t'8:40Z","body":{"run":"r1","step":"read","tool":"fs","status":"ok"}}'
        echo '{"type":"route.decision","time":"'$t'9:00Z","body":{"run":"r1","route":"qa","chosen_model":"llama3:8b","prompt":"a question"}}'
        echo '{"type":"run.finished","time":"'$t'9:50Z","body":{"run":"r1","status":"ok"}}'
        echo '{"type":"route.declared","body":{"route":"qa","model":"llama3:8b"}}'
        for id in E-0 E-20261122T101500Z-3fa9c1; do
            m=llama3:8b
            [ $id = E-0 ] || m=qwen2.5:7b
            echo '{"type":"eval.result","body":{"eval_id":"'$id'","suite":"qa","target":"route:qa","candidate":"'$m'","passed":true,"cases_total":10,"cases_passed":10,"metrics":{"pass_rate":1.0,"latency_p50_ms":100}}}'
        done
        echo '{"type":"promotion.promoted","body":{"target":"route:qa","candidate":"llama3:8b","eval_id":"E-0"}}'
        # an application's span (ledger serve --otlp), for timeline --trace
        echo '{"type":"otel.span","body":{"name":"invoke_agent","trace_id":"5b8efff798038103d269b633813fc60c","span_id":"00f067aa0ba902b7","run":"5b8efff798038103d269b633813fc60c"}}'
    } | ledger ingest - >/dev/null
    ticks $((40 - $(size)))
    ledger ingest "$ex_root/examples/pdf-ops.jsonl" >/dev/null
    ticks $((100 - $(size)))
    ticks 300
    # files the examples name
    echo '{"model":"llama-3-8b","state":"loaded"}' > body.json
    printf '%s\n' '{"type":"run.started","body":{"run":"r2","pack":"summarize"}}' \
        '{"type":"run.step","body":{"run":"r2","step":"s","tool":"t","status":"ok"}}' > events.jsonl
    cp events.jsonl e.jsonl
    ledger keys verifier > box.vkey
    cp box.vkey box1.pin
    ledger checkpoint > saved-checkpoint.txt
    cp saved-checkpoint.txt c.txt
    ledger export --run r1 --out r1.bundle >/dev/null 2>&1
    mkdir -p "$X/var/www"
    # a second box, a published copy of the demo, and a list to mirror
    ledger --dir box1 init --origin example.org/box1b >/dev/null
    # a box to prune, and its archive of the events before 100
    ledger --dir old init --origin example.org/old >/dev/null
    (
        export LEDGER_DIR=old
        ticks 60
        ticks 60
        ticks 60
    )
    ledger --dir old archive --before 100 --out old.seg >/dev/null 2>&1
    ledger publish "$X/run/pub" >/dev/null
    echo "$X/run/pub m/box2 box.vkey" > boxes.txt
    # the weights examples: a GGUF file and an Ollama store for qwen2.5:7b
    head -c 4096 /dev/urandom > m.gguf
    o=$X/run/ollama
    mkdir -p "$o/blobs" "$o/manifests/registry.ollama.ai/library/qwen2.5"
    head -c 2048 /dev/urandom > "$o/blob"
    bd=$(sha256sum < "$o/blob" | cut -c1-64)
    mv "$o/blob" "$o/blobs/sha256-$bd"
    printf '{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":2048}]}' \
        "$bd" > "$o/manifests/registry.ollama.ai/library/qwen2.5/7b"
    md=$(sha256sum < "$o/manifests/registry.ollama.ai/library/qwen2.5/7b" | cut -c1-64)
    echo '{"type":"model.registered","body":{"model":"qwen2.5:7b","digest":"sha256:'$md'","runtime":"ol"}}' |
        ledger ingest - >/dev/null
    # an eval suite for `eval run`
    cp "$ex_root/examples/evals/capitals.jsonl" s.jsonl
    # the control pipeline's day (plans P-0917.., memory note-41/42) and
    # the controller's key the tripcode examples sign with
    ledger keys generate --out ctl.key > ctl.pub
    ledger keys add controller --public-key @ctl.pub --roles controller >/dev/null
    for d in 1 2 3; do
        ledger ingest "$ex_root/examples/pipeline/day$d.jsonl" >/dev/null
    done
    mkdir -p "$X/var/lib/node_exporter"
)

# ex_stop: ends the example started in the background, if any (not a
# child of this shell: waited for by polling)
ex_bg=""
ex_stop() {
    [ -n "$ex_bg" ] || return 0
    kill "$ex_bg" 2>/dev/null
    i=0
    while kill -0 "$ex_bg" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    ex_bg=""
}

# ex_alive PID: the process is there and not a zombie
ex_alive() {
    kill -0 "$1" 2>/dev/null &&
        [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# ex_port: a TCP port free on 127.0.0.1 now
ex_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ex_run CMD LINE: one example (continuations joined)
ex_run() {
    c=$1
    line=$2
    # moved under the test: absolute paths a test must not write
    line=$(printf '%s' "$line" | sed "s|/var/www|$X/var/www|g; s|/var/lib/node_exporter|$X/var/lib/node_exporter|g")
    # a client of the proxy an example before it starts (and stops):
    # tests/e2e/proxy_cli.sh sends that request to a running proxy
    case $line in
    curl*127.0.0.1:11435*)
        echo "not run here: $c example is a client of the proxy example (proxy_cli.sh runs it): $line"
        return 0
        ;;
    esac
    # a port an example listens on is one free now: CI runs this test
    # under `make asan` and in its chroot at the same time, on one network
    line=$(printf '%s' "$line" | sed "s|127\.0\.0\.1:8380|127.0.0.1:$(ex_port)|g; s|127\.0\.0\.1:9464|127.0.0.1:$(ex_port)|g")
    case $line in
    'ledger proxy '*--listen*) ;;
    'ledger proxy '*) line="$line --listen 127.0.0.1:$(ex_port)" ;;
    esac
    # the date an example names is the demo run's (the ledger's clock)
    line=$(printf '%s' "$line" | sed "s|2026-11-22 09:39|$ex_when|g")
    # what an example writes with --out is written anew
    o=$(printf '%s' "$line" | sed -n 's/.*--out \([^ ~/][^ ]*\).*/\1/p')
    [ -n "$o" ] && rm -f "$X/run/$o"
    # VAR=$(...): the value is kept for the examples after it
    var=$(printf '%s' "$line" | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=\$(.*/\1/p')
    [ -n "$var" ] && line="$line; rc=\$?; printf '%s' \"\$$var\" > '$X/varval'; exit \$rc"
    for p in $(printf '%s' "$line" | tr '|' '\n' | sed -n '2,$p' | awk '{print $1}'); do
        PATH=$ex_path command -v "$p" >/dev/null 2>&1 || {
            echo "SKIP: $c example needs $p: $line"
            return 0
        }
    done
    net=0
    case $line in
    *logs.example* | *s3://* | *http://h:* | *http://h/* | *:8123* | \
        *127.0.0.1:8080* | *w:8380* | *8.8.8.8*) net=1 ;;
    esac
    case $line in
    *'&')
        # started in the background: still running a second later
        ex_stop
        (
            cd "$X/run" && PATH=$ex_path HOME=$X/home exec sh -c "$line"' echo $! > "$1"' sh "$X/bg"
        ) > "$X/out" 2>&1
        sleep 1
        ex_bg=$(cat "$X/bg" 2>/dev/null)
        if [ -z "$ex_bg" ] || ! ex_alive "$ex_bg"; then
            [ $net = 1 ] && return 0
            bad "$c example stopped at once: $line: $(head -c 300 "$X/out")"
        fi
        return 0
        ;;
    esac
    forever=0
    case $line in
    *'query -f'* | *'witness serve'* | 'ledger proxy '*) forever=1 ;;
    esac
    if [ $forever = 1 ]; then
        # the command itself in timeout's hands (dash would leave it
        # running once sh -c ended), killed should it not end on SIGTERM;
        # --foreground: no SIGCONT after the SIGTERM, which can cancel the
        # SIGSTOP of LeakSanitizer's check at exit under `make asan` and
        # leave it spinning for good (seen 2026-11-26)
        fg=
        case $line in
        *'|'* | *';'* | *'&'*) ;;
        *) line="exec $line" fg=--foreground ;;
        esac
        (cd "$X/run" && PATH=$ex_path HOME=$X/home timeout $fg -k 10 3 sh -c "$line") \
            > "$X/out" 2>&1
        rc=$?
        [ $rc = 124 ] ||
            bad "$c example did not keep running: exit $rc: $line: $(head -c 300 "$X/out")"
        return 0
    fi
    rm -f "$X/varval"
    (cd "$X/run" && PATH=$ex_path HOME=$X/home timeout 60 sh -c "$line") \
        > "$X/out" 2>&1
    rc=$?
    if [ -n "$var" ] && [ -f "$X/varval" ]; then
        eval "$var=\$(cat \"\$X/varval\")"
        export "$var"
    fi
    case $rc in
    0 | 1 | 2 | 3) ;;
    74) [ $net = 1 ] || bad "$c example: exit 74: $line: $(head -c 300 "$X/out")" ;;
    *) bad "$c example: exit $rc: $line: $(head -c 400 "$X/out")" ;;
    esac
}

# what this part starts is stopped however the script ends
trap 'ex_stop; [ -n "$ex_stub" ] && kill "$ex_stub" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
if ! ex_setup > "$X/setup.log" 2>&1; then
    bad "help examples: the demo could not be made: $(tail -5 "$X/setup.log")"
else
    python3 "$ex_root/tests/stubs/stub.py" --state /dev/null \
        --port-file "$X/port" >/dev/null 2>&1 &
    ex_stub=$!
    i=0
    while [ ! -s "$X/port" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    export LEDGER_DIR=$X/run/demo OLLAMA_MODELS=$X/run/ollama
    export LEDGER_NVIDIA_SMI= no_proxy=127.0.0.1
    # s3: credentials and an endpoint where nothing listens (exit 74)
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    export LEDGER_S3_ENDPOINT=http://127.0.0.1:9
    export M=qwen2.5:7b URL="http://127.0.0.1:$(cat "$X/port")/v1"
    export VKEY W1 W2 W3 WVKEY DIGEST
    VKEY=$(cat "$X/run/box.vkey")
    DIGEST=sha256:$(sha256sum < "$X/run/m.gguf" | cut -c1-64)
    for w in 1 2 3; do
        "$L" witness init --dir "$X/w$w" --name "w.example/w$w" > "$X/wk" 2>/dev/null
        eval "W$w=\$(cat \"\$X/wk\")"
    done
    WVKEY=$W1
    ex_when=$("$L" show 22 -o json | sed 's/.*"recorded_time":"\([^"]*\)".*/\1/')
    # a checkpoint cosigned by w1, for `checkpoint --cosigned`
    wport=$(ex_port)
    "$L" witness serve --listen "127.0.0.1:$wport" --dir "$X/w1" \
        --trust "$VKEY" > "$X/wlog" 2>&1 &
    wpid=$!
    # (a witness starting under a sanitizer on a busy box may take
    # seconds to listen: up to 60 s. Wait for it first: publish exits 0
    # with the cosigning queued in its outbox when the witness is not
    # there yet, which is what it should do, and then nothing is
    # cosigned.)
    i=0
    while ! curl -s -o /dev/null "http://127.0.0.1:$wport/" && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    "$L" publish "$X/run/pub2" --witness "http://127.0.0.1:$wport $W1" \
        > "$X/pub2" 2>&1
    "$L" checkpoint --cosigned > /dev/null 2>&1 ||
        bad "no cosigned checkpoint for the examples: publish --witness: $(tail -n 3 "$X/pub2")"
    kill "$wpid" 2>/dev/null
    wait "$wpid" 2>/dev/null
    nex=0
    while read -r c; do
        "$L" "$c" --help | sed -n '/^Examples:/,$p' | sed '1d; s/^  //' |
            grep -v '^ *#' | awk '
                { line = (cont ? line " " : "") $0 }
                /(\\|\||&&)$/ { sub(/\\$/, "", line); cont = 1; next }
                { print line; cont = 0; line = "" }' > "$X/ex"
        while IFS= read -r e; do
            [ -n "$e" ] || continue
            nex=$((nex + 1))
            ex_run "$c" "$e" < /dev/null
        done < "$X/ex"
        ex_stop
    done < "$T/cmds"
    kill "$ex_stub" 2>/dev/null
    wait "$ex_stub" 2>/dev/null
    ex_stub=""
    [ "$nex" -ge 80 ] || bad "help examples: only $nex examples run"
fi
