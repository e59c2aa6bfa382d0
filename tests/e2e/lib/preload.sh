# shellcheck shell=sh
# The sanitizer runtimes a shim must follow (sourced by tests/e2e/*.sh).
#
#   san_preload PROGRAM [OPTS]  sets SAN_PRE to PROGRAM's sanitizer runtimes
#                               (libasan, libubsan, libtsan), each followed
#                               by ':', or to "" when PROGRAM has none, and
#                               SAN_OPTS to the ASAN_OPTIONS a run with the
#                               shim takes: the caller's, and with runtimes
#                               verify_asan_link_order=0 (the order is
#                               meant) and OPTS (for example detect_leaks=0
#                               for a run that is killed). A shim preloaded
#                               into a sanitized program must come after
#                               the runtimes:
#     ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so PROGRAM ...
#                               (other runs keep the caller's ASAN_OPTIONS)
san_preload() {
    SAN_PRE=$(ldd "$1" 2>/dev/null |
        awk '/libasan|libubsan|libtsan/ {print $3}' | tr '\n' ':')
    SAN_OPTS=${ASAN_OPTIONS:-}
    if [ -n "$SAN_PRE" ]; then
        SAN_OPTS=$SAN_OPTS${SAN_OPTS:+:}verify_asan_link_order=0${2:+:$2}
    fi
}
