#!/usr/bin/env python3
"""check_leaks.py ROOT — one owner for the stored bytes (issue 17).

Fails (exit 1, one "FILE:LINE: what" per finding on stdout) if a source
file outside ledger/ and util/ (the library's other modules, the CLI, and
any module added later) knows the stored format:

  * names one of the core's databases (FORMAT.md: meta, entries, bodies,
    tree, checkpoints, keys, idx.*) as a database: a string literal given
    to ldg_db_open, or any "idx.<name>" literal;
  * uses msgpack: includes <msgpack.h>, calls msgpack-c, the core's
    canonical msgpack helpers (ldg_mp_*, ldg_json_to_msgpack,
    ldg_msgpack_to_json) or its codec internals (codec_int.h).

Comments are ignored (a file may say why it does not look at the bytes).
There are no exceptions: the last two files that read the stored bytes
themselves (projections/scan.c and query/iter.c) go through the core's
scan accessors since issue 17 (ledger.h, "fast scans").
"""
import os
import re
import sys

CORE_DBS = ("meta", "entries", "bodies", "tree", "checkpoints", "keys")
SKIP_DIRS = {"ledger", "util", "tests", "bench", "build", "examples",
             "contrib", "man", "docs", ".git"}

RULES = [
    (re.compile(r'ldg_db_open\s*\([^;]*?"(%s)"' % "|".join(CORE_DBS)),
     "opens a core database by name"),
    (re.compile(r'"idx\.[a-z_]+"'), "names a core index database"),
    (re.compile(r'#\s*include\s*[<"]msgpack'), "includes msgpack-c"),
    (re.compile(r'\bmsgpack_[a-z_]+\s*\('), "calls msgpack-c"),
    (re.compile(r'\b(ldg_mp_[a-z_]+|ldg_json_to_msgpack|ldg_msgpack_to_json)'
                r'\s*\('), "uses the core's msgpack codec"),
    (re.compile(r'#\s*include\s*"ledger/(codec_int|ledger_int|tlog_int|'
                r'crypto_int)\.h"'), "includes a private header of ledger/"),
]


def strip_comments(text):
    """Blanks out /* */ and // comments, keeping line numbers."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def findings(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8",
              errors="replace") as f:
        text = strip_comments(f.read())
    # a call may span lines: match over the text, report the line
    for rx, what in RULES:
        for m in rx.finditer(text):
            yield text.count("\n", 0, m.start()) + 1, what


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = 0
    leaky = set()
    for d in sorted(os.listdir(root)):
        if d in SKIP_DIRS or not os.path.isdir(os.path.join(root, d)):
            continue
        for dp, _, files in os.walk(os.path.join(root, d)):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dp, fn), root)
                for line, what in findings(root, rel):
                    bad += 1
                    leaky.add(rel)
                    print("%s:%d: %s" % (rel, line, what))
    print("leaks: %d in %d files%s"
          % (bad, len(leaky),
             " (%s)" % ", ".join(sorted(leaky)) if leaky else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
