"""A CPU-bound pool of plain threads with a result that does not depend on
timing: N threads each run spin(ITERS + i), a pure-Python loop.
usage: enforce_cpu_pool.py N ITERS
prints one JSON line: pid, workers (native ids), result (the per-thread
results folded in thread order), seconds (wall time of the pool)."""
import json
import os
import sys
import threading
import time

from _calib import spin

n, iters = int(sys.argv[1]), int(sys.argv[2])
tids = [None] * n
results = [None] * n


def work(i):
    tids[i] = threading.get_native_id()
    results[i] = spin(iters + i)


t0 = time.monotonic()
ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
seconds = time.monotonic() - t0
folded = 0
for r in results:
    folded = (folded * 1000003 + r) % (1 << 61)
print(json.dumps({"pid": os.getpid(), "workers": tids, "result": folded,
                  "seconds": round(seconds, 3)}))
