"""Thread start must not stall: ThreadPoolExecutor(WORKERS).submit of TASKS
trivial tasks. Every submit may start a new thread, and Thread.start() waits
for the new thread to run Python: a parked first take would stall it.
usage: auto_submit.py WORKERS TASKS
prints one JSON line: pid, result, seconds (submit to last result)."""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

workers, tasks = int(sys.argv[1]), int(sys.argv[2])


def task(i):
    return i * i


t0 = time.monotonic()
with ThreadPoolExecutor(workers) as ex:
    futs = [ex.submit(task, i) for i in range(tasks)]
    result = sum(f.result() for f in futs)
seconds = time.monotonic() - t0
print(json.dumps({"pid": os.getpid(), "result": result, "seconds": round(seconds, 4)}))
