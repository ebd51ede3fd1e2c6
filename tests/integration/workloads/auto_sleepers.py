"""A sleep-bound pool that wants more threads: N threads each loop, for
SECONDS, time.sleep(SLEEP) followed by spin(ITERS), a little Python.
usage: auto_sleepers.py N SECONDS SLEEP ITERS
prints one JSON line: pid, workers, rounds (summed over threads)."""
import json
import os
import sys
import threading
import time

from _calib import spin

n, seconds, sleep, iters = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
tids = [None] * n
rounds = [0] * n
go = threading.Event()


def work(i):
    tids[i] = threading.get_native_id()
    go.wait()
    end = time.monotonic() + seconds
    r = 0
    while time.monotonic() < end:
        time.sleep(sleep)
        spin(iters)
        r += 1
    rounds[i] = r


ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
go.set()
for t in ts:
    t.join()
print(json.dumps({"pid": os.getpid(), "workers": tids, "rounds": sum(rounds)}))
