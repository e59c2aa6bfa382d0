#!/bin/sh
# netns_cleanup.sh — tests/e2e/lib/servers.sh's netns_up leaves nothing
# behind when a step fails (issue 29: a `make check` network namespace was
# left after a failed setup step). Against tests/stubs/fake_ip.sh, a
# stand-in for ip(8) that keeps what exists as files, each of the calls
# a successful `netns_up 3` makes is made to fail in turn: netns_up must
# then return non-zero with no namespace and no link left. The successful
# run must leave 3 namespaces that netns_down removes with every link.
# Needs no root and no network (`id -u` is made to say 0).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
mkdir -p "$T/bin"
ln -s "$ROOT/tests/stubs/fake_ip.sh" "$T/bin/ip"
printf '#!/bin/sh\necho 0\n' > "$T/bin/id"
chmod +x "$T/bin/id"
export PATH="$T/bin:$PATH" FAKE_IP_STATE="$T/state"

# up N [down]: a fresh state, netns_up 3 with call N failing (0: none);
# prints netns_up's status, then what exists (and after netns_down, in the
# same shell: what netns_up made is remembered there)
up() {
    rm -rf "$T/state"
    FAKE_IP_FAIL_AT=$1 sh -c '
        left() {
            (cd "$FAKE_IP_STATE" && ls netns links | grep -v ":$" | grep . |
                sort | tr "\n" " ")
        }
        . "$1/tests/e2e/lib/servers.sh"
        netns_up 3 2>/dev/null
        echo "rc=$?"
        echo "left=$(left)"
        if [ "$2" = down ]; then
            netns_down
            echo "down=$(left)"
        fi' sh "$ROOT" "${2:-}"
}

up 0 > /dev/null
calls=$(cat "$T/state/calls") # those of netns_up 3 alone
up 0 down > "$T/ok"
grep -q '^rc=0$' "$T/ok" || fail "netns_up 3 with nothing failing: $(cat "$T/ok")"
[ "$(grep '^left=' "$T/ok" | tr ' ' '\n' | grep -c -- '-box[0-9]*$')" = 3 ] ||
    fail "netns_up 3 did not make 3 namespaces: $(cat "$T/ok")"
grep -q '^down=$' "$T/ok" || fail "netns_down left: $(cat "$T/ok")"
[ "$calls" -ge 20 ] || fail "a successful netns_up 3 made only $calls ip calls"

n=1
while [ "$n" -le "$calls" ]; do
    up "$n" > "$T/r"
    grep -q '^rc=0$' "$T/r" && fail "netns_up succeeded with ip call $n failing"
    grep -q '^left=$' "$T/r" ||
        fail "ip call $n failing left $(sed -n 's/^left=//p' "$T/r")"
    n=$((n + 1))
done
[ $nfail = 0 ] || exit 1
echo "netns_cleanup: each of $calls ip calls failing in turn leaves nothing"
