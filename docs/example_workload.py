"""The workload behind docs/example.svg: a ThreadPoolExecutor(64) that first
waits on sleeps (I/O-like), then computes (GIL-bound).

    betapool run --log run.jsonl docs/example_workload.py     # the default mode, auto
    betapool plot run.jsonl -o docs/example.svg
"""
import time
from concurrent.futures import ThreadPoolExecutor


def sleepy(i):
    for _ in range(20):
        time.sleep(0.002)
        sum(range(200))
    return i


def busy(i):
    s = 0
    for j in range(60000):
        s += j * i
    return s


with ThreadPoolExecutor(64) as pool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        list(pool.map(sleepy, range(256)))
    t1 = time.monotonic()
    while time.monotonic() - t1 < 2.0:
        list(pool.map(busy, range(64)))
print("done")
