"""THREADS plain threads splitting COUNT pure-Python loop steps.
usage: cpupool.py COUNT THREADS -"""
import sys
import time

from _wl import report, run_threads, shares

count, nthreads = int(sys.argv[1]), int(sys.argv[2])


def spin(n):
    s = 0
    for i in range(n):
        s += i * i


t0 = time.perf_counter()
run_threads(spin, [(n,) for n in shares(count, nthreads)])
body = time.perf_counter() - t0
report(body_s=body, msteps_per_s=count / body / 1e6)
