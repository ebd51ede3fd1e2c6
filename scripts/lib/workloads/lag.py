"""The main thread's wake-up lag next to a pool of pure-Python tasks: TASKS
tasks (each a loop of ITERS iterations) on ThreadPoolExecutor(WORKERS); while
they run, the main thread sleeps 2 ms in a loop and measures how much longer
than 2 ms each sleep took (the time to get the GIL back included).
usage: lag.py WORKERS TASKS ITERS
reports lag p50/p99/max (ms), the number of sleeps, and the pool's tasks/s
(first submit to last completion)."""
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from _wl import pct, report

workers, tasks, iters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
done = []


def task(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def on_done(_future):
    done.append(perf_counter())      # list.append is atomic under the GIL


lags = []
with ThreadPoolExecutor(max_workers=workers) as pool:
    t0 = perf_counter()
    for _ in range(tasks):
        pool.submit(task, iters).add_done_callback(on_done)
    while len(done) < tasks:
        s0 = perf_counter()
        time.sleep(0.002)
        lags.append(perf_counter() - s0 - 0.002)
wall = max(done) - t0
report(tasks_per_s=tasks / wall, wall_s=wall, lag_p50_ms=pct(lags, 50) * 1e3,
       lag_p99_ms=pct(lags, 99) * 1e3, lag_max_ms=max(lags or [0.0]) * 1e3, sleeps=len(lags))
