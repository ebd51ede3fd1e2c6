"""Idle workers: a ThreadPoolExecutor(4) whose workers mostly wait on its work
queue. Four tasks meeting at a barrier first make the pool start all four
workers; then the main thread submits a tiny task every PERIOD seconds for
SECONDS seconds.
usage: idle_pool.py [SECONDS] [PERIOD]   prints one JSON line: pid, workers."""
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
period = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
tids = set()
meet = threading.Barrier(4)


def hello():
    tids.add(threading.get_native_id())
    meet.wait()


def tiny(k):
    return sum(range(k))


with ThreadPoolExecutor(4) as ex:
    for f in [ex.submit(hello) for _ in range(4)]:
        f.result()
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done += ex.submit(tiny, 200).result() > 0
        time.sleep(period)
print(json.dumps({"pid": os.getpid(), "workers": sorted(tids), "tasks": done}))
