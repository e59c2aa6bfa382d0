#!/usr/bin/env python3
"""check_layout.py ROOT DIR... — one module knows the store layouts
(issue 68, item 2): outside ledger/layout.c, ledger/layout_int.h and
ledger migrate (ledger/migrate*.c), no library or cli/ file compares a
store layout's number with a layout or names one in code
(LDG_LAYOUT_<a layout's name>, the development number 999). Comments,
messages and help (string literals) and the public flags of ledger.h's
ldg_layout_info (LDG_LAYOUT_READS, _MAKES, _EPOCHS, _DEVEL) are free.

Prints each offence as FILE:LINE: text, and exits 1 when there is one.
"""
import os
import re
import sys

ALLOWED = {"ledger/layout.c", "ledger/layout_int.h"}
PUBLIC = {"LDG_LAYOUT_READS", "LDG_LAYOUT_MAKES", "LDG_LAYOUT_EPOCHS",
          "LDG_LAYOUT_DEVEL"}
NAME = re.compile(r"\bLDG_LAYOUT_[A-Z0-9_]+\b")
COMPARE = re.compile(
    r"\w*layout\w*\s*(==|!=|<=|>=|<|>)\s*'?[1-9]"
    r"|[1-9]\d*'?\s*(==|!=|<=|>=|<|>)\s*[\w>.-]*layout")
DEVEL = re.compile(r"layout.*\b999\b|\b999\b.*layout")


def strip_comments(text):
    """The text with /* */ and // comments blanked, lines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)  # the words aside
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    root, dirs = sys.argv[1], sys.argv[2:]
    bad = 0
    for d in dirs:
        for name in sorted(os.listdir(os.path.join(root, d))):
            rel = f"{d}/{name}"
            if not name.endswith((".c", ".h")) or rel in ALLOWED:
                continue
            if rel.startswith("ledger/migrate") or rel == "ledger/ledger.h":
                continue
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                code = strip_comments(f.read())
            for ln, line in enumerate(code.split("\n"), 1):
                names = [m for m in NAME.findall(line) if m not in PUBLIC]
                if names or COMPARE.search(line) or DEVEL.search(line):
                    print(f"{rel}:{ln}: {line.strip()}")
                    bad += 1
    if bad:
        print(f"check_layout: {bad} line(s) compare or name a store layout "
              "outside ledger/layout.c and ledger migrate: ask the layout "
              "module (ldg_txn_has, ldg_layout_info)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
