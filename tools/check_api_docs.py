#!/usr/bin/env python3
"""check_api_docs.py HEADER MAX -- the embedding API's promise (issue 30).

HEADER declares at most MAX functions, and the comment above each one
(or above the group it belongs to) has a "@return" line, unless the
function returns void, and a "Lifetime:" line. Names the first function
that breaks the rule; exit 1.
"""
import re
import sys

path, most = sys.argv[1], int(sys.argv[2])
text = open(path, encoding="utf-8").read()
proto = re.compile(r"^[a-z][^;{}#]*?\b(ldg_[a-z0-9_]+)\s*\([^;{}]*\);", re.M)
found = list(proto.finditer(text))
bad = []
for m in found:
    before = text[: m.start()]
    comment = before[before.rfind("/*") : before.rfind("*/")]
    returns_void = m.group(0).split(m.group(1))[0].strip() == "void"
    if "@return" not in comment and not returns_void:
        bad.append(f"{m.group(1)}: no @return line")
    if "Lifetime" not in comment:
        bad.append(f"{m.group(1)}: no Lifetime line")
if len(found) > most:
    bad.append(f"{len(found)} functions, more than {most}")
for b in bad:
    print(f"{path}: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"{path}: {len(found)} functions (at most {most}), each documented")
