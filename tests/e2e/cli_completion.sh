#!/bin/sh
# cli_completion.sh — the bash and zsh completions (contrib/completion/):
# commands and options from the program, query's field names, and run,
# pack, route, model and key names from the ledger named by --dir.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
C=$HERE/../../contrib/completion
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
L init >/dev/null || exit 1
L ingest "$HERE/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys add foundry >/dev/null || exit 1
# the completions run "ledger" as typed: put this one first on PATH
mkdir "$T/bin" && ln -s "$LEDGER" "$T/bin/ledger"
PATH=$T/bin:$PATH
export PATH D

# want NAME GOT WORD...: every WORD is among GOT
want() {
    n=$1 got=$2
    shift 2
    for w in "$@"; do
        case " $got " in *" $w "*) ;; *) bad "$n: no '$w' in: $got" ;; esac
    done
}

if command -v bash >/dev/null 2>&1; then
    cat >"$T/c.bash" <<EOB
. "$C/ledger.bash"
c() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _ledger; echo "\${COMPREPLY[*]}"; }
EOB
    b() { bash -c ". '$T/c.bash'; c $*" 2>&1; }
    want "bash: commands" "$(b ledger --dir "$D" '""')" timeline doctor query export verify-bundle
    want "bash: global options" "$(b ledger --dir "$D" --)" --no-pager --color --utc --wide --version
    want "bash: query options" "$(b ledger --dir "$D" query --)" --since= --grep= --bundle= --wide
    want "bash: query fields" "$(b ledger --dir "$D" query '""')" type= subject= run= actor= pack= model= route= seq= body.
    want "bash: run names" "$(b ledger --dir "$D" timeline '""')" R-0001
    want "bash: run=" "$(b ledger --dir "$D" query run=)" run=R-0001
    want "bash: route=" "$(b ledger --dir "$D" query route=)" route=pdf-ops/extract route=pdf-ops/summarize
    want "bash: pack=" "$(b ledger --dir "$D" query pack=)" pack=pdf-ops
    want "bash: model=" "$(b ledger --dir "$D" query model=)" model=qwen2.5-7b-instruct@q4_k_m
    want "bash: actor=" "$(b ledger --dir "$D" query actor=)" actor=foundry actor=log
    want "bash: --pack" "$(b ledger --dir "$D" doctor --pack '""')" pdf-ops
    want "bash: export --run" "$(b ledger --dir "$D" export --run '""')" R-0001
else
    echo "cli_completion: no bash; bash completion not checked"
fi

if command -v zsh >/dev/null 2>&1; then
    # compadd stands in for zsh's completion system: what would be offered
    z() {
        zsh -f -c 'compadd() { print -r -- "$*" }; _files() { :; }
            words=("$@"); CURRENT=${#words}; . "'"$C/_ledger"'"' zsh "$@" 2>&1
    }
    want "zsh: commands" "$(z ledger --dir "$D" '')" timeline doctor query
    want "zsh: global options" "$(z ledger --dir "$D" --)" --no-pager --wide --utc
    want "zsh: run names" "$(z ledger --dir "$D" timeline '')" R-0001
    want "zsh: run=" "$(z ledger --dir "$D" query run=)" R-0001
    want "zsh: route=" "$(z ledger --dir "$D" query route=)" pdf-ops/extract
    want "zsh: actor=" "$(z ledger --dir "$D" query actor=)" foundry
    want "zsh: --pack" "$(z ledger --dir "$D" doctor --pack '')" pdf-ops
    want "zsh: query fields" "$(z ledger --dir "$D" query '')" type= run= pack= body.
else
    echo "cli_completion: no zsh; zsh completion not checked"
fi

[ $nfail = 0 ] || exit 1
echo "cli_completion: bash and zsh complete commands, options, fields and the ledger's names"
