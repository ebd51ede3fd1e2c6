"""A CPU-bound pool of plain threads with a result that does not depend on
timing: N threads each run spin(ITERS + i), a pure-Python loop, all at once.

Every worker waits at a start line until all N have started, so that the N
really compute side by side. Started one by one instead, a worker whose work
is short finishes before the main thread (itself waiting for the GIL) has
started the next few: on a busy machine only 2-3 workers were ever alive at
once, never more than K, and nothing could park.

usage: auto_cpu_pool.py N ITERS
prints one JSON line: pid, workers (native ids), result (the per-thread
results folded in thread order), seconds (wall time of the pool from the
start line)."""
import json
import os
import sys
import threading
import time

from _calib import spin

n, iters = int(sys.argv[1]), int(sys.argv[2])
tids = [None] * n
results = [None] * n
go = threading.Event()


def work(i):
    tids[i] = threading.get_native_id()
    go.wait()
    results[i] = spin(iters + i)


ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
t0 = time.monotonic()
go.set()
for t in ts:
    t.join()
seconds = time.monotonic() - t0
folded = 0
for r in results:
    folded = (folded * 1000003 + r) % (1 << 61)
print(json.dumps({"pid": os.getpid(), "workers": tids, "result": folded,
                  "seconds": round(seconds, 3)}))
