"""GIL-bound processes for test_share: THREADS threads of pure-Python loops
until SECONDS have passed (time-bounded, so that every thread keeps asking
for the GIL for the whole run however busy the machine is), then an ending.
usage: share_cpus.py THREADS SECONDS END [CHILD_SECONDS]
END: exit (return from main), os_exit (os._exit(7) with the threads still
computing), sigterm (wait for SIGTERM; the handler, in Python, calls
os._exit(0), like gunicorn's workers), sigterm_default (wait for SIGTERM
with no handler: the kernel ends the process), fork (a multiprocessing child made
by fork computes CHILD_SECONDS with threads of its own while the parent
computes; the child ends as multiprocessing's children do, with os._exit).
Prints one JSON line first: pid, allowed CPUs; with fork also the child's
pid and exit code at the end."""
import json
import multiprocessing
import os
import signal
import sys
import threading
import time

threads, seconds, end = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
child_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
stop = time.monotonic() + seconds


def spin(until):
    s = 0
    while time.monotonic() < until:
        for i in range(2000):
            s += i * i
    return s


def pool(until, n):
    ts = [threading.Thread(target=spin, args=(until,), daemon=True) for _ in range(n)]
    for t in ts:
        t.start()
    return ts


def child():
    for t in pool(time.monotonic() + child_seconds, threads):
        t.join()


if __name__ == "__main__":
    print(json.dumps({"pid": os.getpid(), "allowed": sorted(os.sched_getaffinity(0))}), flush=True)
    if end in ("sigterm", "sigterm_default"):
        if end == "sigterm":
            signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        pool(float("inf"), threads)
        while True:
            time.sleep(1)
    workers = pool(stop, threads)
    if end == "fork":
        p = multiprocessing.get_context("fork").Process(target=child)
        p.start()
        p.join()
        print(json.dumps({"child": p.pid, "child_exitcode": p.exitcode}), flush=True)
    if end == "os_exit":
        time.sleep(seconds / 2)
        os._exit(7)
    for t in workers:
        t.join()
