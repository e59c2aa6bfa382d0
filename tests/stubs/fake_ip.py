#!/usr/bin/env python3
"""fake_ip.py - a stand-in for ip(8), for tests/e2e/netns_cleanup.sh.

Knows the commands tests/e2e/lib/servers.sh's netns_up and netns_down
give (link add/set/del, addr add, netns add/del, -n NS ...), keeps what
exists in the JSON file $FAKE_IP_STATE ({"links": {"NS/NAME": {"peer"}},
"netns": [names]}, NS "" for this host), and fails (exit 2, nothing changed) on call number
$FAKE_IP_FAIL_AT (counted in $FAKE_IP_STATE.calls). As the kernel does,
deleting a namespace deletes the links inside it, and deleting either end
of a veth pair deletes both.
"""
import json
import os
import sys

path = os.environ["FAKE_IP_STATE"]
try:
    with open(path) as f:
        st = json.load(f)
except (OSError, ValueError):
    st = {"links": {}, "netns": []}
calls = 0
try:
    with open(path + ".calls") as f:
        calls = int(f.read() or 0)
except OSError:
    pass
calls += 1
with open(path + ".calls", "w") as f:
    f.write(str(calls))


def die(msg):
    sys.stderr.write("fake ip: %s\n" % msg)
    sys.exit(2)


if str(calls) == os.environ.get("FAKE_IP_FAIL_AT", ""):
    die("failing call %d on purpose: %s" % (calls, " ".join(sys.argv[1:])))
a = sys.argv[1:]
ns = ""
if a[:1] == ["-n"]:
    ns, a = a[1], a[2:]
    if ns not in st["netns"]:
        die("no namespace " + ns)
links = st["links"]  # "NS/NAME" ("" for this host) -> {"peer": key}


def key(name, where=None):
    return "%s/%s" % (ns if where is None else where, name)


def link(name):
    if name == "lo" and ns:
        return {}
    if key(name) not in links:
        die("no link %s in '%s'" % (name, ns))
    return links[key(name)]


def delete(k):
    l = links.pop(k, None)
    if l and l.get("peer"):
        links.pop(l["peer"], None)


def move(old, new):
    l = links.pop(old)
    links[new] = l
    if l.get("peer"):
        links[l["peer"]]["peer"] = new


if a[:2] == ["link", "add"]:
    name = a[2]
    if key(name) in links:
        die("exists " + name)
    if a[3:5] == ["type", "bridge"]:
        links[key(name)] = {"peer": None}
    elif a[3:6] == ["type", "veth", "peer"] and a[6] == "name":
        if key(a[7]) in links:
            die("exists " + a[7])
        links[key(name)] = {"peer": key(a[7])}
        links[key(a[7])] = {"peer": key(name)}
    else:
        die("unknown: " + " ".join(a))
elif a[:2] == ["link", "set"]:
    name = a[2]
    link(name)
    if a[3] == "netns":
        if a[4] not in st["netns"]:
            die("no namespace " + a[4])
        move(key(name), key(name, a[4]))
    elif a[3] == "name":
        move(key(name), key(a[4]))
    elif a[3] == "master":
        link(a[4])
    elif a[3] not in ("up", "down"):
        die("unknown: " + " ".join(a))
elif a[:2] == ["link", "del"]:
    link(a[2])
    delete(key(a[2]))
elif a[:2] == ["addr", "add"]:
    link(a[4])
elif a[:2] == ["netns", "add"]:
    if a[2] in st["netns"]:
        die("exists " + a[2])
    st["netns"].append(a[2])
elif a[:2] == ["netns", "del"]:
    if a[2] not in st["netns"]:
        die("no namespace " + a[2])
    st["netns"].remove(a[2])
    for k in [k for k in links if k.startswith(a[2] + "/")]:
        delete(k)
else:
    die("unknown: " + " ".join(a))
with open(path, "w") as f:
    json.dump(st, f)
