"""A single-threaded pure-Python loop of COUNT steps (no thread started).
usage: loop.py COUNT 1 -"""
import sys
import time

from _wl import report

count = int(sys.argv[1])
t0 = time.perf_counter()
s = 0
for i in range(count):
    s += i * i
body = time.perf_counter() - t0
report(body_s=body, steps_per_s=count / body)
