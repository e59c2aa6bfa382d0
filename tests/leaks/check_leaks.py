#!/usr/bin/env python3
"""check_leaks.py ROOT — one owner for the stored bytes (issue 17).

Fails (exit 1, one "FILE:LINE: what" per finding on stdout) if a source
file outside ledger/ and util/ (the library's other modules, the CLI, and
any module added later) knows the stored format:

  * names one of the core's databases (the names in ledger/store.c's
    core_names, FORMAT.md section 6: meta, entries, bodies, tree, ...,
    idx.*): any string literal equal to one, wherever it stands — in a call
    to ldg_db_open, in a variable, a table or a macro that reaches
    ldg_db_open later — except in the few places listed in ALLOW_CALLS and
    ALLOW_INITS below, where the same word is a name in the command line's
    output or a bundle's layout, never a database; an "idx.<name>" literal
    is never allowed. Adjacent literals are joined as the compiler joins
    them ("ent" "ries"), and \\x / octal escapes decoded;
  * names one of the store's files ("data.mdb", "lock.mdb", or a path
    ending in one): ledger.h's ldg_store_file_name() names them;
  * uses LMDB: includes <lmdb.h>, calls mdb_*() or uses an MDB_* name;
  * uses msgpack: includes <msgpack.h>, calls msgpack-c, the core's
    canonical msgpack helpers (ldg_mp_*, ldg_json_to_msgpack,
    ldg_msgpack_to_json) or its codec internals (codec_int.h).

Comments are ignored (a file may say why it does not look at the bytes),
and so are the words inside string literals for the LMDB rules (a message
may say "mdb_env_open"). The check reads the source, not what it computes:
a name assembled at run time (snprintf of "entr" and "ies") passes it, and
ldg_db_open's own refusals (FORMAT.md section 6) are the guard there.
projections/scan.c and query/iter.c, the last two files that read the
stored bytes themselves, go through the core's scan accessors since issue
17 (ledger.h, "fast scans").
"""
import os
import re
import sys

SKIP_DIRS = {"ledger", "util", "tests", "bench", "build", "examples",
             "contrib", "man", "docs", ".git"}

# A core database name may stand as a literal only as an argument of these
# calls: their strings are member names of JSON the program prints or
# reads (docs/OUTPUT.md, format-bundle.md's manifest), the names of a
# bundle verification's checks, or the words of a query plan.
ALLOW_CALLS = {
    "json_pack": "a JSON member name (docs/OUTPUT.md, bundle manifest)",
    "json_object_get": "a bundle manifest member (format-bundle.md)",
    "bv_ju64": "a bundle manifest member (format-bundle.md)",
    "bv_check": "the name of a bundle verification check",
    "bv_check_fails": "the name of a bundle verification check",
    "plan_note": "a word of the query plan ledger query --explain prints",
}
# ... or in these initialisers, file by file.
ALLOW_INITS = {
    ("export/archive.c", "dirs"):
        "the directories of a bundle's layout (format-bundle.md)",
    ("cli/cmd_core.c", "cli_cmd_keys"): "the command `ledger keys`",
    ("cli/cmd_core.c", "sigs"): "a word of ledger verify's summary line",
    ("metrics/render.c", "part_entries"):
        "a label value of a Prometheus series (docs/METRICS.md)",
    ("metrics/render.c", "part_bodies"):
        "a label value of a Prometheus series (docs/METRICS.md)",
}

RULES = [
    (re.compile(r'#\s*include\s*[<"]msgpack'), "includes msgpack-c"),
    (re.compile(r'\bmsgpack_[a-z_]+\s*\('), "calls msgpack-c"),
    (re.compile(r'\b(ldg_mp_[a-z_]+|ldg_json_to_msgpack|ldg_msgpack_to_json)'
                r'\s*\('), "uses the core's msgpack codec"),
    (re.compile(r'#\s*include\s*"ledger/(codec_int|ledger_int|tlog_int|'
                r'crypto_int)\.h"'), "includes a private header of ledger/"),
    (re.compile(r'#\s*include\s*[<"]lmdb\.h[>"]'), "includes LMDB"),
]
# run over the text with string literals blanked
CODE_RULES = [
    (re.compile(r'\bmdb_[a-z_]+\s*\('), "calls LMDB"),
    (re.compile(r'\bMDB_[A-Za-z_]+\b'), "uses an LMDB name"),
]
STORE_FILE = re.compile(r'(^|/)(data|lock)\.mdb$')


def core_dbs(root):
    """The core's database names, from ledger/store.c's core_names."""
    path = os.path.join(root, "ledger", "store.c")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        sys.exit("check_leaks: %s" % e)
    m = re.search(r'core_names\s*\[[^\]]*\]\s*=\s*\{([^}]*)\}', text)
    if m is None:
        sys.exit("check_leaks: no core_names table in %s" % path)
    names = re.findall(r'"([^"]+)"', m.group(1))
    if not names:
        sys.exit("check_leaks: an empty core_names table in %s" % path)
    return set(names)


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


def unescape(s):
    try:
        return s.encode("latin-1", "replace").decode("unicode_escape")
    except UnicodeDecodeError:
        return s


def literals(text):
    """(skeleton, [(start, value)]): text (comments already blanked) with
    the insides of string and character literals blanked, and the string
    literals, adjacent ones joined, each at the offset of its first."""
    sk, lits, i, n = list(text), [], 0, len(text)
    last_end = -1
    while i < n:
        c = text[i]
        if c not in "\"'":
            i += 1
            continue
        j = i + 1
        while j < n and text[j] != c and text[j] != "\n":
            j += 2 if text[j] == "\\" else 1
        for k in range(i + 1, min(j, n)):
            sk[k] = " "
        if c == '"':
            v = unescape(text[i + 1:j])
            if lits and text[last_end:i].strip() == "":
                lits[-1] = (lits[-1][0], lits[-1][1] + v)
            else:
                lits.append((i, v))
            last_end = j + 1
        i = j + 1
    return "".join(sk), lits


def tail_context(sk, start, pos):
    """A literal that starts an expression statement or declaration."""
    m = re.search(r'(\w+)\s*(\[[^\]]*\]\s*)*=(?!=)[^;=]*$', sk[start:pos])
    return ("init", m.group(1)) if m else ("other", "")


def context(sk, pos):
    """What the literal at pos stands in: ("call", function),
    ("init", variable initialised or assigned), ("macro", name) or
    ("other", "")."""
    line = sk[sk.rfind("\n", 0, pos) + 1:pos]
    m = re.match(r'\s*#\s*define\s+(\w+)', line)
    if m:
        return "macro", m.group(1)
    depth, i = 0, pos - 1
    while i >= 0:
        c = sk[i]
        if c in ")]}":
            depth += 1
        elif c in "([{" and depth:
            depth -= 1
        elif c == "(":
            m = re.search(r'(\w+)\s*$', sk[:i])
            return ("call", m.group(1)) if m else ("other", "")
        elif c == "[":
            return "other", ""
        elif c == "{":
            before = sk[:i].rstrip()
            if before.endswith("="):
                return tail_context(sk, 0, len(before))
            if not before.endswith((",", "{")):
                return tail_context(sk, i + 1, pos)  # a block's statement
            # an element of an outer brace list: climb on
        elif c == ";" and depth == 0:
            return tail_context(sk, i + 1, pos)
        i -= 1
    return tail_context(sk, 0, pos)


def name_findings(rel, sk, lits, dbs):
    for pos, v in lits:
        where = sk.count("\n", 0, pos) + 1
        if STORE_FILE.search(v):
            yield where, 'names the store\'s file "%s"' % v
            continue
        if re.fullmatch(r'idx\.[a-z_]+', v):
            yield where, 'names a core index database "%s"' % v
            continue
        if v not in dbs:
            continue
        kind, name = context(sk, pos)
        if kind == "call" and name in ALLOW_CALLS:
            continue
        if kind == "init" and (rel, name) in ALLOW_INITS:
            continue
        how = {"call": " (in a call to %s)", "init": " (in %s)",
               "macro": " (macro %s)"}.get(kind, "%s") % name
        yield where, 'names a core database "%s"%s' % (v, how)


def findings(root, rel, dbs):
    with open(os.path.join(root, rel), encoding="utf-8",
              errors="replace") as f:
        text = strip_comments(f.read())
    sk, lits = literals(text)
    out = []
    # a call may span lines: match over the text, report the line
    for rules, t in ((RULES, text), (CODE_RULES, sk)):
        for rx, what in rules:
            for m in rx.finditer(t):
                out.append((t.count("\n", 0, m.start()) + 1, what))
    out.extend(name_findings(rel, sk, lits, dbs))
    return sorted(out)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    dbs = core_dbs(root)
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
                for line, what in findings(root, rel, dbs):
                    bad += 1
                    leaky.add(rel)
                    print("%s:%d: %s" % (rel, line, what))
    print("leaks: %d in %d files%s"
          % (bad, len(leaky),
             " (%s)" % ", ".join(sorted(leaky)) if leaky else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
