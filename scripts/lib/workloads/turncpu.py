"""A favoured-looking thread that turns CPU-bound: one thread first holds the
GIL briefly between 1 ms sleeps and socketpair round trips for PHASE1
seconds, then computes pure Python for PHASE2 seconds, while NCPU CPU
threads run throughout.
usage: turncpu.py NCPU PHASE1 PHASE2
reports the CPU threads' loop rate over the whole run and while the turned
thread computes, their longest gap between two progress marks (ms), and the
turned thread's rates in each phase."""
import socket
import sys
import threading
import time
from time import perf_counter

from _wl import Spinners, report

ncpu, phase1, phase2 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
cpu = Spinners(ncpu)
marks = {}


def turner():
    mine, peer = socket.socketpair()

    def echo():
        while True:
            data = peer.recv(4096)
            if not data:
                break
            peer.sendall(data)
    e = threading.Thread(target=echo)
    e.start()
    t0 = perf_counter()
    n1 = 0
    while perf_counter() - t0 < phase1:
        time.sleep(0.001)
        mine.sendall(b"x" * 64)
        got = 0
        while got < 64:
            got += len(mine.recv(4096))
        n1 += 1
    mine.close()
    e.join()
    marks["p1_ops_per_s"] = n1 / (perf_counter() - t0)
    marks["cpu_steps_at_turn"] = sum(cpu.steps)
    t1 = perf_counter()
    steps = 0
    s = 0
    while perf_counter() - t1 < phase2:
        for j in range(1000):
            s += j * j
        steps += 1000
    t2 = perf_counter()
    marks["cpu_steps_at_end"] = sum(cpu.steps)
    marks["p2_wall"] = t2 - t1
    marks["turned_msteps_per_s"] = steps / (t2 - t1) / 1e6


cpu.start()
t0 = perf_counter()
t = threading.Thread(target=turner)
t.start()
t.join()
wall = perf_counter() - t0
total = cpu.stop()
report(cpu_msteps_per_s=total / wall / 1e6,
       cpu_p2_msteps_per_s=(marks["cpu_steps_at_end"] - marks["cpu_steps_at_turn"])
       / marks["p2_wall"] / 1e6,
       cpu_max_gap_ms=cpu.max_gap_ms(), p1_ops_per_s=marks["p1_ops_per_s"],
       turned_msteps_per_s=marks["turned_msteps_per_s"], wall_s=wall)
