# hold_idle.py — sourced as text (python3 -c "$(cat ...)": a holder of
# another uid may not read the test's directory) by tests/e2e/lib/hold.sh.
#   hold_idle.py HOST PORT N
# Opens N connections to HOST:PORT and sends nothing on them. Once it has
# them, prints "OPENED SHUT": how many it opened, and how many of those
# the server has closed (those it refused at once among them, once it
# has taken them from its backlog). Prints the line again on each
# SIGUSR1; stops after ten minutes (the test kills it long before).
import signal, socket, sys, time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(n):
    try:
        held.append(socket.create_connection((host, port), timeout=5))
    except OSError:
        pass


def shut():
    k = 0
    for s in held:
        s.setblocking(False)
        try:
            k += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            k += 1
    return k


def report(*_):
    print(len(held), shut(), flush=True)


signal.signal(signal.SIGUSR1, report)
report()
end = time.monotonic() + 600
while time.monotonic() < end:
    time.sleep(1)
