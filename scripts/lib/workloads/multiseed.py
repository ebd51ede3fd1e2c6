"""PROCS processes of the seed's pool started together by multiprocessing
(fork): each runs ThreadPoolExecutor(WORKERS) over TASKS/PROCS tasks of the
seed's (an ITERS-iteration loop, then time.sleep(SLEEP)). They start at one
barrier; tasks_per_s is every task over the wall time from the barrier to
the last process's last task; slowest_tasks_per_s the slowest process's own.
usage: multiseed.py PROCS TASKS WORKERS ITERS SLEEP"""
import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from _wl import report, shares

procs, tasks, workers, iters, sleep_s = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                         int(sys.argv[4]), float(sys.argv[5]))


def task(_):
    s = 0
    for i in range(iters):
        s += i * i
    if sleep_s > 0:
        time.sleep(sleep_s)
    return s


def one(n, barrier, out):
    barrier.wait()
    t0 = perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(task, range(n)):
            pass
    out.put((t0, perf_counter(), n))


if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=one, args=(n, barrier, out)) for n in shares(tasks, procs)]
    for p in ps:
        p.start()
    res = [out.get(timeout=600) for _ in ps]
    for p in ps:
        p.join()
    if any(p.exitcode for p in ps):
        raise SystemExit(f"a process failed: {[p.exitcode for p in ps]}")
    start, end = min(r[0] for r in res), max(r[1] for r in res)
    report(tasks_per_s=tasks / (end - start), wall_s=end - start,
           slowest_tasks_per_s=min(n / (b - a) for a, b, n in res))
