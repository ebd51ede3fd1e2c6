"""The main thread does TCP round trips to an echo server in another process
while N pure-Python CPU threads run; each CPU thread notes when it makes
progress. usage: priority_client.py N SECONDS
prints one JSON line: pid, round_trips, seconds, rt_per_s, p99_ms, loops
(per CPU thread), max_gap_s (the longest a CPU thread went without a loop)."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

ECHO = r"""
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    d = c.recv(64)
    if not d:
        break
    c.sendall(d)
"""

n, seconds = int(sys.argv[1]), float(sys.argv[2])
# The echo server runs without betapool: it is the other end of the wire.
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("BETAPOOL_")}
srv = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, env=env)
port = int(srv.stdout.readline())
stop = threading.Event()
loops = [0] * n
gaps = [0.0] * n


def cpu(i):
    last = time.monotonic()
    while not stop.is_set():
        k = 0
        for _ in range(2000):
            k += 1
        loops[i] += 1
        now = time.monotonic()
        gaps[i] = max(gaps[i], now - last)
        last = now


threads = [threading.Thread(target=cpu, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
c = socket.create_connection(("127.0.0.1", port))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat = []
t0 = time.monotonic()
while time.monotonic() - t0 < seconds:
    a = time.monotonic()
    c.sendall(b"x")
    if not c.recv(64):
        break
    lat.append(time.monotonic() - a)
took = time.monotonic() - t0
stop.set()
for t in threads:
    t.join()
c.close()
srv.wait(timeout=10)
lat.sort()
print(json.dumps({"pid": os.getpid(), "round_trips": len(lat), "seconds": took,
                  "rt_per_s": len(lat) / took, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3 if lat else None,
                  "loops": loops, "max_gap_s": max(gaps) if gaps else 0.0}))
