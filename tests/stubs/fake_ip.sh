#!/bin/sh
# fake_ip.sh — a stand-in for ip(8), for tests/e2e/netns_cleanup.sh.
#
# Knows the commands tests/e2e/lib/servers.sh's netns_up and netns_down
# give (link add/set/del, addr add, netns add/del, -n NS ...) and keeps
# what exists as files under the directory $FAKE_IP_STATE: netns/NAME for
# a namespace, links/NS@NAME (NS empty for this host) holding its veth
# peer's file name. Call number $FAKE_IP_FAIL_AT (counted in
# $FAKE_IP_STATE/calls) fails, exit 2, changing nothing. As the kernel
# does, deleting a namespace deletes the links inside it, and deleting
# either end of a veth pair deletes both.
S=${FAKE_IP_STATE:?}
mkdir -p "$S/netns" "$S/links"
calls=$(($(cat "$S/calls" 2>/dev/null || echo 0) + 1))
echo "$calls" > "$S/calls"
die() {
    echo "fake ip: $*" >&2
    exit 2
}
[ "$calls" = "${FAKE_IP_FAIL_AT:-}" ] && die "failing call $calls on purpose: $*"
ns=""
if [ "$1" = -n ]; then
    ns=$2
    shift 2
    [ -e "$S/netns/$ns" ] || die "no namespace $ns"
fi
key() { echo "${2-$ns}@$1"; }
need() { # NAME: a link in the current namespace (lo always is)
    [ "$1" = lo ] && [ -n "$ns" ] && return 0
    [ -e "$S/links/$(key "$1")" ] || die "no link $1 in '$ns'"
}
del() { # KEY: the link and its peer
    p=$(cat "$S/links/$1" 2>/dev/null)
    rm -f "$S/links/$1"
    [ -n "$p" ] && rm -f "$S/links/$p"
    return 0
}
move() { # OLD NEW: renames a link file, its peer pointing at the new one
    p=$(cat "$S/links/$1")
    mv "$S/links/$1" "$S/links/$2"
    [ -n "$p" ] && echo "$2" > "$S/links/$p"
    return 0
}
case "$1 $2" in
"link add")
    [ -e "$S/links/$(key "$3")" ] && die "exists $3"
    if [ "$4 $5" = "type bridge" ]; then
        : > "$S/links/$(key "$3")"
    elif [ "$4 $5 $6 $7" = "type veth peer name" ]; then
        [ -e "$S/links/$(key "$8")" ] && die "exists $8"
        key "$8" > "$S/links/$(key "$3")"
        key "$3" > "$S/links/$(key "$8")"
    else
        die "unknown: $*"
    fi
    ;;
"link set")
    need "$3"
    case $4 in
    netns)
        [ -e "$S/netns/$5" ] || die "no namespace $5"
        move "$(key "$3")" "$(key "$3" "$5")"
        ;;
    name) move "$(key "$3")" "$(key "$5")" ;;
    master) need "$5" ;;
    up | down) ;;
    *) die "unknown: $*" ;;
    esac
    ;;
"link del")
    need "$3"
    del "$(key "$3")"
    ;;
"addr add") need "$5" ;;
"netns add")
    [ -e "$S/netns/$3" ] && die "exists $3"
    : > "$S/netns/$3"
    ;;
"netns del")
    [ -e "$S/netns/$3" ] || die "no namespace $3"
    rm -f "$S/netns/$3"
    for f in "$S/links/$3"@*; do
        [ -e "$f" ] && del "$(basename "$f")"
    done
    ;;
*) die "unknown: $*" ;;
esac
exit 0
