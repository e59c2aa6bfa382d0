# bash completion for ledger(1).
#
# Commands and options come from the program itself (`ledger help
# --commands`, `ledger help --options CMD`, generated from its option
# tables), so they are always the installed version's. Run, pack, route and
# model names come from the ledger (`ledger runs -o json`, ...), using the
# --dir given on the command line, if any.

_ledger_names() { # VIEW FIELD: the FIELD values of `ledger VIEW -o json`
    local dir=()
    [ -n "$_ledger_dir" ] && dir=(--dir "$_ledger_dir")
    # shellcheck disable=SC2086 # a view may be two words ("keys list")
    "${_ledger_prog:-ledger}" "${dir[@]}" $1 -o json 2>/dev/null |
        sed -n 's/^{.*"'"$2"'":"\([^"]*\)".*/\1/p'
}

_ledger() {
    local cur prev cmd i w
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    _ledger_prog=${COMP_WORDS[0]}
    _ledger_dir=
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --dir) _ledger_dir=${COMP_WORDS[i + 1]}; i=$((i + 1)) ;;
        --dir=*) _ledger_dir=${w#--dir=} ;;
        -o|--output) i=$((i + 1)) ;;
        -*) ;;
        *) [ -z "$cmd" ] && cmd=$w ;;
        esac
    done
    _ledger_dir=${_ledger_dir/#\~/$HOME}

    if [ -z "$cmd" ]; then
        case $prev in
        --dir) compopt -o dirnames 2>/dev/null; return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--dir --output --help --version --no-pager --color --utc --wide" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "help $("$_ledger_prog" help --commands 2>/dev/null)" -- "$cur"))
        fi
        return
    fi

    # values of options
    case $prev in
    --dir|--extract) compopt -o dirnames 2>/dev/null; return ;;
    --out|--body-file|--trusted|--trusted-key|--trusted-checkpoint|--bundle) compopt -o default 2>/dev/null; COMPREPLY=(); return ;;
    --pack|-p) COMPREPLY=($(compgen -W "$(_ledger_names packs pack)" -- "$cur")); return ;;
    --run) COMPREPLY=($(compgen -W "$(_ledger_names runs run)" -- "$cur")); return ;;
    -o|--output)
        if [ "$cmd" = query ]; then
            COMPREPLY=($(compgen -W "short short-iso short-precise short-utc verbose json json-pretty cat" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "human json json-pretty" -- "$cur"))
        fi
        return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$_ledger_prog" help --options "$cmd" 2>/dev/null)" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi

    case $cmd in
    help) COMPREPLY=($(compgen -W "$("$_ledger_prog" help --commands 2>/dev/null)" -- "$cur")) ;;
    timeline|runs) COMPREPLY=($(compgen -W "$(_ledger_names runs run)" -- "$cur")) ;;
    packs) COMPREPLY=($(compgen -W "$(_ledger_names packs pack)" -- "$cur")) ;;
    keys) COMPREPLY=($(compgen -W "add list revoke verifier" -- "$cur")) ;;
    rebuild) COMPREPLY=($(compgen -W "packs permissions models routes promotions runs indexes" -- "$cur")) ;;
    ingest|verify-bundle|tiles) compopt -o default 2>/dev/null; COMPREPLY=() ;;
    query|export)
        case $cur in
        run=*) COMPREPLY=($(compgen -P run= -W "$(_ledger_names runs run)" -- "${cur#run=}")) ;;
        pack=*) COMPREPLY=($(compgen -P pack= -W "$(_ledger_names packs pack)" -- "${cur#pack=}")) ;;
        route=*) COMPREPLY=($(compgen -P route= -W "$(_ledger_names routes route)" -- "${cur#route=}")) ;;
        model=*) COMPREPLY=($(compgen -P model= -W "$(_ledger_names models model)" -- "${cur#model=}")) ;;
        actor=*) COMPREPLY=($(compgen -P actor= -W "$(_ledger_names 'keys list' name)" -- "${cur#actor=}")) ;;
        *=*) ;;
        *)
            COMPREPLY=($(compgen -W "type= subject= run= actor= pack= model= route= seq= body. +" -- "$cur"))
            compopt -o nospace 2>/dev/null ;;
        esac ;;
    esac
}
complete -F _ledger ledger
