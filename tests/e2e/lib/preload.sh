# shellcheck shell=sh
# The sanitizer runtimes a shim must follow (sourced by tests/e2e/*.sh).
#
#   san_preload PROGRAM [OPTS]  sets SAN_PRE to PROGRAM's sanitizer runtimes
#                               (libasan, libubsan, libtsan), each followed
#                               by ':', or to "" when PROGRAM has none. A
#                               shim preloaded into a sanitized program
#                               must come after them:
#                                   LD_PRELOAD=$SAN_PRE$T/fi.so PROGRAM ...
#                               With runtimes, ASAN_OPTIONS gains
#                               verify_asan_link_order=0 (the order is
#                               meant) and OPTS (for example detect_leaks=0).
san_preload() {
    SAN_PRE=$(ldd "$1" 2>/dev/null |
        awk '/libasan|libubsan|libtsan/ {print $3}' | tr '\n' ':')
    if [ -n "$SAN_PRE" ]; then
        ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0${2:+:$2}
        export ASAN_OPTIONS
    fi
}
