#!/usr/bin/env python3
"""check_layout.py ROOT DIR... — one module knows the store layouts
(issue 68, item 2): outside ledger/layout.c, ledger/layout_int.h and
ledger migrate (ledger/migrate*.c), no library or cli/ file compares a
store layout with a number or names one in code:

  - LDG_LAYOUT_<a layout's name> (the public flags of ledger.h's
    ldg_layout_info, LDG_LAYOUT_READS, _MAKES, _EPOCHS, _DEVEL and
    _MIGRATES, are
    free);
  - a layout (a name holding "layout", or a call such as
    ldg_txn_layout(t)) compared with a number, across lines, through
    parentheses, in decimal or hex, or a switch on one with case labels;
  - the development number 999 beside a layout, or as a string ("999").

Comments are free, and so are messages and help (the words of string
literals), but for the strings that are a number alone beside a layout.

Prints each offence as FILE:LINE: text, and exits 1 when there is one.
"""
import os
import re
import sys

ALLOWED = {"ledger/layout.c", "ledger/layout_int.h", "ledger/ledger.h"}
PUBLIC = {"LDG_LAYOUT_READS", "LDG_LAYOUT_MAKES", "LDG_LAYOUT_EPOCHS",
          "LDG_LAYOUT_DEVEL", "LDG_LAYOUT_MIGRATES"}
OP = r"(?:==|!=|<=|>=|<(?!<)|>(?!>))"
NUM = r"\(?\s*(?:0[xX][0-9a-fA-F]*[1-9a-fA-F][0-9a-fA-F]*|[1-9][0-9]*|'[1-9]')"
LAY = r"[\w.>-]*layout\w*(?:\s*\([^()]*\))?"
PATTERNS = [
    re.compile(r"\bLDG_LAYOUT_[A-Z0-9_]+\b"),
    re.compile(LAY + r"\s*\)?\s*" + OP + r"\s*" + NUM),
    re.compile(r"(?:[1-9][0-9]*|'[1-9]')\s*" + OP + r"\s*\(?\s*" + LAY),
    re.compile(r"\bswitch\s*\(\s*" + LAY + r"\s*\)\s*\{[^{}]*\bcase\s+" +
               r"(?:[1-9]|0[xX])"),
    re.compile(r"layout[^;{}]*\b999\b|\b999\b[^;{}]*layout"),
]
# on the text with the strings kept: a number alone as a string beside a
# layout ("8", "999": the old ways of parsing $LEDGER_LAYOUT)
STRINGS = [
    re.compile(r"\"999\""),
    re.compile(r"(?i)layout[^;{}]*\"[1-9][0-9]*\"|\"[1-9][0-9]*\"[^;{}]*layout",
               re.I),
]


def blank(text, strings):
    """text with comments (and, when strings, the words of string and
    character literals) blanked, newlines kept."""
    out, i, n = [], 0, len(text)

    def spaces(s):
        return "".join(ch if ch == "\n" else " " for ch in s)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(spaces(text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(spaces(text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            body = text[i + 1:j]
            keep = not strings or (c == "'" and re.fullmatch(r"[0-9]", body))
            out.append(c + (body if keep else spaces(body)) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def offences(text):
    code = blank(text, True)
    kept = blank(text, False)
    found = set()
    for pat in PATTERNS:
        for m in pat.finditer(code):
            if m.group(0) in PUBLIC:
                continue
            found.add(code.count("\n", 0, m.start()) + 1)
    for pat in STRINGS:
        for m in pat.finditer(kept):
            found.add(kept.count("\n", 0, m.start()) + 1)
    return sorted(found)


# The check's own test (--self-test, run before it in make check): each
# line of CAUGHT is an offence, none of FREE is.
CAUGHT = [
    "if (ldg_txn_layout(t) >= 5)",
    "if (layout == 8) {",
    "while (l->layout\n    != 0x9)",
    "if (4 < store_layout)",
    "switch (layout) { case 4: break; }",
    "o.layout = LDG_LAYOUT_INTAKE;",
    "if (layout_env != NULL && n == 999)",
    "if (strcmp(layout_env, \"999\") == 0)",
    "const char *layout = \"8\";",
]
FREE = [
    "/* layout 9, in development */",
    "if (ldg_layout_info(n, NULL) & LDG_LAYOUT_DEVEL)",
    "ldg_seterr(l, \"store layout 9 is in development\");",
    "if (layout_count == 0)",
    "int layout = ldg_layout_default();",
    "if (n_layouts > 0)",
]


def self_test():
    bad = [c for c in CAUGHT if not offences(c)]
    bad += [f for f in FREE if offences(f)]
    for b in bad:
        print(f"check_layout --self-test: wrong about: {b}", file=sys.stderr)
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root, dirs = sys.argv[1], sys.argv[2:]
    bad = 0
    for d in dirs:
        for name in sorted(os.listdir(os.path.join(root, d))):
            rel = f"{d}/{name}"
            if not name.endswith((".c", ".h")) or rel in ALLOWED or \
                    rel.startswith("ledger/migrate"):
                continue
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
            lines = text.split("\n")
            for ln in offences(text):
                print(f"{rel}:{ln}: {lines[ln - 1].strip()}")
                bad += 1
    if bad:
        print(f"check_layout: {bad} line(s) compare or name a store layout "
              "outside ledger/layout.c and ledger migrate: ask the layout "
              "module (ldg_txn_has, ldg_layout_info)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
