"""Python code that busy-waits on a flag another worker sets. One thread
spins `while not flag: pass`; N CPU-bound workers compete with it; worker 0
sets the flag when its own work is done. Run with K forced to 1
(BETAPOOL_MAX_WORKERS=1) the setter is parked behind the spinner: only the
bounded park lets the program finish.
usage: auto_spinflag.py N ITERS
prints one JSON line: pid, workers, results (the workers' spin results),
spins_seen (did the spinner see the flag), flag_value, seconds."""
import json
import os
import sys
import threading
import time

from _calib import spin

n, iters = int(sys.argv[1]), int(sys.argv[2])
flag = None
tids = [None] * (n + 1)
results = [None] * n
seen = []


def spinner():
    tids[n] = threading.get_native_id()
    while not flag:
        pass
    seen.append(flag)


def worker(i):
    global flag
    tids[i] = threading.get_native_id()
    results[i] = spin(iters + i)
    if i == 0:
        flag = results[0]


t0 = time.monotonic()
s = threading.Thread(target=spinner)
s.start()
ws = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
for t in ws:
    t.start()
for t in ws + [s]:
    t.join()
print(json.dumps({"pid": os.getpid(), "workers": tids, "results": results,
                  "seen": seen, "seconds": round(time.monotonic() - t0, 3)}))
