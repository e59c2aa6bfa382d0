"""ownpgrp.py PIDFILE CMD [ARG...]: runs CMD in a process group of its own
whose parent (this process) stays in the caller's session, writes CMD's
pid to PIDFILE, and exits with CMD's status (128+N for a signal N).

Why: the kernel discards SIGTSTP (its default action, as a shell's ctrl-Z
takes it) in an orphaned process group, and a test run from a detached
job or a fresh session (setsid, CI's background streams) is in one. A
group whose parent is in the same session but another group is not
orphaned, so ctrl-Z stops CMD there as it does at a terminal."""
import os
import sys

pidfile, cmd = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execvp(cmd[0], cmd)
try:
    os.setpgid(pid, pid)  # (either side may run first)
except OSError:
    pass
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % pid)
os.rename(pidfile + ".tmp", pidfile)
_, st = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
