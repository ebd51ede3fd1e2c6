"""A known CPU/sleep mix: N threads each do ROUNDS x (a pure-Python loop of
about LOOP_MS of CPU, then time.sleep(SLEEP_MS)), and measure the truth
themselves: per thread, the CPU time (time.thread_time) spent in the loops and
the wall time spent in the sleeps.
usage: mix.py N ROUNDS LOOP_MS SLEEP_MS
prints one JSON line: pid, workers, loop_cpu_s, sleep_wall_s, sleep_asked_s,
sleep_alone_s, truth_wall = sleep_wall / (sleep_wall + loop_cpu) over all
workers, and truth, the same with every sleep counted as long as one sleep
measured alone (see below)."""
import json
import os
import sys
import threading
import time

from _calib import iters_per_second, spin

n, rounds = int(sys.argv[1]), int(sys.argv[2])
loop_ms, sleep_ms = float(sys.argv[3]), float(sys.argv[4])
iters = max(1, int(iters_per_second() * loop_ms / 1000.0))
tids = [None] * n
loop_cpu = [0.0] * n
sleep_wall = [0.0] * n
go = threading.Event()


def work(i):
    tids[i] = threading.get_native_id()
    go.wait()
    for _ in range(rounds):
        c0 = time.thread_time()
        spin(iters)
        loop_cpu[i] += time.thread_time() - c0
        w0 = time.monotonic()
        time.sleep(sleep_ms / 1000.0)
        sleep_wall[i] += time.monotonic() - w0


# The wall time around a sleep also holds the wait to take the GIL back, which
# under contention (32 threads) is many times the sleep itself. So the sleep's
# own length is also measured alone, before any worker runs: the truth counts
# each sleep as that long.
alone = []
for _ in range(10):
    w0 = time.monotonic()
    time.sleep(sleep_ms / 1000.0)
    alone.append(time.monotonic() - w0)
sleep_alone = sum(alone) / len(alone)

ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
go.set()
for t in ts:
    t.join()
cpu, slept = sum(loop_cpu), sum(sleep_wall)
slept_alone = n * rounds * sleep_alone
print(json.dumps({"pid": os.getpid(), "threads": n, "workers": tids,
                  "loop_cpu_s": cpu, "sleep_wall_s": slept,
                  "sleep_asked_s": n * rounds * sleep_ms / 1000.0,
                  "sleep_alone_s": slept_alone,
                  "truth_wall": slept / (slept + cpu),
                  "truth": slept_alone / (slept_alone + cpu)}))
