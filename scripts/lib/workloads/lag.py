"""The main thread's wake-up lag next to a pool of pure-Python tasks: TASKS
tasks (each a loop of ITERS iterations) on ThreadPoolExecutor(WORKERS); while
they run, the main thread sleeps 2 ms in a loop and measures how much longer
than 2 ms each sleep took (the time to get the GIL back included).
usage: lag.py WORKERS TASKS ITERS [upfront|inflight]
upfront (the default) submits every task before the main thread's loop;
inflight leaves it to a second thread that keeps WORKERS tasks in flight,
submitting one as one completes (a thread that blocks between short holds,
as the main thread does). Reports lag p50/p99/max (ms), the number of sleeps, and the pool's tasks/s
(first submit to last completion)."""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

from _wl import pct, report

workers, tasks, iters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "upfront"
if mode not in ("upfront", "inflight"):
    raise SystemExit(f"lag.py: unknown mode {mode!r} (upfront or inflight)")
done = []


def task(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def on_done(_future):
    done.append(perf_counter())      # list.append is atomic under the GIL


lags = []
slots = threading.Semaphore(workers)


def done_and_free(future):
    on_done(future)
    slots.release()


def feed(pool):
    for _ in range(tasks):
        slots.acquire()
        pool.submit(task, iters).add_done_callback(done_and_free)


with ThreadPoolExecutor(max_workers=workers) as pool:
    t0 = perf_counter()
    if mode == "upfront":
        for _ in range(tasks):
            pool.submit(task, iters).add_done_callback(on_done)
    else:
        feeder = threading.Thread(target=feed, args=(pool,))
        feeder.start()
    while len(done) < tasks:
        s0 = perf_counter()
        time.sleep(0.002)
        lags.append(perf_counter() - s0 - 0.002)
    if mode == "inflight":
        feeder.join()
wall = max(done) - t0
report(tasks_per_s=tasks / wall, wall_s=wall, lag_p50_ms=pct(lags, 50) * 1e3,
       lag_p99_ms=pct(lags, 99) * 1e3, lag_max_ms=max(lags or [0.0]) * 1e3, sleeps=len(lags))
