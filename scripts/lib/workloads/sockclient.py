"""A TCP client doing 64-byte round trips to the echo server at
127.0.0.1:PORT (another process) for DURATION seconds, from the main thread
(WHERE=main) or a worker thread (WHERE=worker), while NCPU pure-Python CPU
threads run.
usage: sockclient.py PORT NCPU DURATION main|worker
reports round trips/s, round-trip p50/p99 (ms), and the CPU threads' loop
steps per second (all threads together)."""
import socket
import sys
import threading
from time import perf_counter

from _wl import Spinners, pct, report

port, ncpu, duration, where = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
lat = []


def client():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"r" * 64
    end = perf_counter() + duration
    while True:
        t0 = perf_counter()
        if t0 >= end:
            break
        s.sendall(msg)
        got = 0
        while got < len(msg):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("echo server closed the connection")
            got += len(chunk)
        lat.append(perf_counter() - t0)
    s.close()


cpu = Spinners(ncpu)
cpu.start()
t0 = perf_counter()
if where == "main":
    client()
else:
    t = threading.Thread(target=client)
    t.start()
    t.join()
wall = perf_counter() - t0
steps = cpu.stop()
report(rt_per_s=len(lat) / wall, p50_ms=pct(lat, 50) * 1e3, p99_ms=pct(lat, 99) * 1e3,
       cpu_msteps_per_s=steps / wall / 1e6, cpu_max_gap_ms=cpu.max_gap_ms(), wall_s=wall)
