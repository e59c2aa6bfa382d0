#!/usr/bin/env python3
"""wear_files.py — bench/wear.sh's breakdown of a device's writes by file.

  wear_files.py collect TRACE_PIPE OUT MNT:DEV...
      Reads a tracefs instance's trace_pipe, filtered to the loop devices
      (block:block_rq_issue and ext4:ext4_ext_map_blocks_exit), until
      SIGTERM (SIGUSR1, SIGUSR2: start the first, the second device's sums
      afresh). Each block ext4 maps to a file (map_blocks_exit: the inode,
      its physical block, a count) is that inode's from then on; each
      write request issued to a device (rq_issue: sector and length, after
      merging) is summed, block by block, to the inode owning the block at
      that moment; the journal's blocks are inode 8's from the start
      (debugfs "blocks <8>", read-only). Meanwhile it lists every file
      under each MNT four times a second (inode -> name). Writes OUT as
      JSON.
  wear_files.py report OUT DEV EVENTS
      Prints, for DEV's writes, "name  KiB  B/event  share" a file, most
      first, then the total.

Limits: the journal (preallocated at mkfs) is named apart; blocks no file
was given during the run are ext4's own (inode tables, bitmaps, the
superblock; directory blocks are mapped like files and named after their
directory) — "(ext4 metadata)"; a file that lived less than a quarter of a
second (each scrape's temporary metrics cache, before its rename) is
"(files gone before a listing)". A written block is named after the file
that owns it when the request is issued, so a block freed by one file and
reused by another is counted to each in turn. The file system starts at
sector 0 of its loop device (no partition).
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading

RQ = re.compile(r"block_rq_issue: (\d+,\d+) (\S+) \d+ \(\S*\) (\d+) \+ (\d+)")
MAP = re.compile(r"ext4_ext_map_blocks_exit: dev (\d+,\d+) ino (\d+) .*?"
                 r"pblk (\d+) len (\d+)")


def names_of(mnt, names):
    for d, ds, fs in os.walk(mnt):
        for f in fs + ds:
            p = os.path.join(d, f)
            try:
                names[os.lstat(p).st_ino] = os.path.relpath(p, mnt)
            except OSError:
                pass


def collect(pipe, out, pairs):
    mnts = [p.split(":", 1) for p in pairs]
    devs = [d for _, d in mnts]
    owner = {d: {} for d in devs}  # dev -> {4 KiB block: inode}
    by = {d: {} for d in devs}  # dev -> {inode or label: bytes}
    names = {d: {} for d in devs}  # dev -> {inode: name}
    for _, d in mnts:
        # the journal's blocks, placed at mkfs: inode 8's from the start
        try:
            blk = subprocess.run(["debugfs", "-R", "blocks <8>",
                                  "/dev/loop" + d.split(",")[1]],
                                 capture_output=True, text=True,
                                 timeout=30).stdout.split()
        except (OSError, subprocess.SubprocessError):
            blk = []
        for x in blk:
            if x.isdigit():
                owner[d][int(x)] = 8
    stop = threading.Event()

    def lister():
        while not stop.is_set():
            for m, d in mnts:
                names_of(m, names[d])
            stop.wait(0.25)

    th = threading.Thread(target=lister, daemon=True)
    th.start()

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR1, lambda *_: by[devs[0]].clear())
    signal.signal(signal.SIGUSR2, lambda *_: by[devs[-1]].clear())
    with open(out + ".ready", "w"):
        pass  # bench/wear.sh waits for this before its first signal
    try:
        with open(pipe, "r", errors="replace") as f:
            for line in f:
                m = RQ.search(line)
                if m is not None:
                    d = m.group(1)
                    if "W" not in m.group(2) or d not in by:
                        continue
                    s, n = int(m.group(3)), int(m.group(4))
                    o, b = owner[d], by[d]
                    while n > 0:
                        blk = s // 8
                        take = min(n, 8 - s % 8)
                        k = o.get(blk, "meta")
                        b[k] = b.get(k, 0) + take * 512
                        s += take
                        n -= take
                    continue
                m = MAP.search(line)
                if m is not None and m.group(1) in owner:
                    ino, p, n = int(m.group(2)), int(m.group(3)), int(m.group(4))
                    if p:
                        o = owner[m.group(1)]
                        for blk in range(p, p + n):
                            o[blk] = ino
    except KeyboardInterrupt:
        pass
    stop.set()
    th.join()
    res = {}
    for m, d in mnts:
        names_of(m, names[d])
        res[d] = {"by": {str(k): v for k, v in by[d].items()},
                  "names": {str(k): v for k, v in names[d].items()}}
    with open(out, "w") as f:
        json.dump(res, f)


def report(path, dev, events):
    with open(path) as f:
        res = json.load(f).get(dev, {"by": {}, "names": {}})
    by = {}
    for k, v in res["by"].items():
        if k == "meta":
            name = "(ext4 metadata)"
        elif k == "8":
            name = "(ext4 journal)"
        else:
            name = res["names"].get(k, "(files gone before a listing)")
            name = re.sub(r"[0-9a-f]{6,}|\.[A-Za-z0-9]{6}$", "*", name)
        by[name] = by.get(name, 0) + v
    tot = sum(by.values())
    ev = max(int(events), 1)
    for name, b in sorted(by.items(), key=lambda x: -x[1]):
        print("  %-46s %12.1f KiB %9.0f B/event %5.1f%%"
              % (name, b / 1024, b / ev, 100.0 * b / tot if tot else 0))
    print("  %-46s %12.1f KiB %9.0f B/event" % ("(all)", tot / 1024, tot / ev))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.stderr.write(__doc__)
        sys.exit(64)
