#!/usr/bin/env python3
"""bench/to_journal.py: events as `ledger query -o json` prints them (stdin)
to the systemd journal's export format (stdout), for bench/journal.sh.

Each event is one journal entry: its time, MESSAGE "type subject k=v ..."
(the body's fields, nested values as compact JSON), the envelope as
LEDGER_SEQ, LEDGER_TYPE, LEDGER_SUBJECT and LEDGER_RUN, and each body field
as a field of its own (its name upper-cased, other characters '_'), so that
journalctl can select on it (STATUS=failed) as `ledger query` does
(body.status=failed). A value with a newline is left out of the fields (the
export format would need it binary-framed), never of MESSAGE."""
import json
import sys

BOOT = "0123456789abcdef0123456789abcdef"


def flat(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def field_name(k):
    n = "".join(c if c.isalnum() else "_" for c in k).upper()
    return n if n[:1].isalpha() else "F_" + n


def main():
    out = sys.stdout.buffer
    for line in sys.stdin:
        e = json.loads(line)
        b = e.get("body") if isinstance(e.get("body"), dict) else {}
        us = int(e["ts"]) // 1000
        msg = " ".join([e["type"], e["subject"]] +
                       ["%s=%s" % (k, flat(v)) for k, v in b.items()])
        rec = ["__REALTIME_TIMESTAMP=%d" % us, "__MONOTONIC_TIMESTAMP=%d" % us,
               "_BOOT_ID=" + BOOT, "SYSLOG_IDENTIFIER=ledger",
               "MESSAGE=" + msg.replace("\n", " "),
               "LEDGER_SEQ=" + e["seq"], "LEDGER_TYPE=" + e["type"],
               "LEDGER_SUBJECT=" + e["subject"]]
        if e.get("run"):
            rec.append("LEDGER_RUN=" + e["run"])
        for k, v in b.items():
            s = flat(v)
            if "\n" not in s:
                rec.append(field_name(k) + "=" + s)
        out.write(("\n".join(rec) + "\n\n").encode())


if __name__ == "__main__":
    main()
