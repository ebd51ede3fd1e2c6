"""Pure-CPU threads: N threads each run a pure-Python loop; the total work is
sized to about TOTAL seconds of CPU whatever N is.
usage: cpu.py N [TOTAL]   prints one JSON line: pid, workers (native ids)."""
import json
import os
import sys
import threading

from _calib import iters_per_second, spin

n = int(sys.argv[1])
total = float(sys.argv[2]) if len(sys.argv) > 2 else 0.6
per = max(1, int(iters_per_second() * total / n))
tids = [None] * n


def work(i):
    tids[i] = threading.get_native_id()
    spin(per)


ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps({"pid": os.getpid(), "threads": n, "workers": tids, "iters": per}))
