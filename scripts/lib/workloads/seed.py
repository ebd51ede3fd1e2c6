"""The seed's workload (the BetaPool paper's benchmark): TASKS tasks on
ThreadPoolExecutor(WORKERS), each a pure-Python loop of ITERS iterations
then time.sleep(SLEEP).
usage: seed.py TASKS WORKERS ITERS SLEEP
reports tasks_per_s (first submit to last completion), in-task p50/p99 and
end-to-end p99 (submit to result, taken in a done-callback), in ms."""
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from _wl import pct, report

tasks, workers, iters, sleep_s = (int(sys.argv[1]), int(sys.argv[2]),
                                  int(sys.argv[3]), float(sys.argv[4]))
in_task = [0.0] * tasks
submitted = [0.0] * tasks
completed = [0.0] * tasks


def task(k):
    t0 = perf_counter()
    s = 0
    for i in range(iters):
        s += i * i
    if sleep_s > 0:
        time.sleep(sleep_s)
    in_task[k] = perf_counter() - t0
    return s


def on_done(k):
    def cb(_future):
        completed[k] = perf_counter()
    return cb


with ThreadPoolExecutor(max_workers=workers) as pool:
    for k in range(tasks):
        submitted[k] = perf_counter()
        pool.submit(task, k).add_done_callback(on_done(k))

e2e = [c - s for s, c in zip(submitted, completed)]
wall = max(completed) - submitted[0]
report(tasks_per_s=tasks / wall, wall_s=wall, in_p50_ms=pct(in_task, 50) * 1e3,
       in_p99_ms=pct(in_task, 99) * 1e3, e2e_p99_ms=pct(e2e, 99) * 1e3)
