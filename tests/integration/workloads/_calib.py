"""Shared by the workloads: a pure-Python loop and its speed on this machine."""
import time


def spin(n):
    """A pure-Python loop: n iterations of integer arithmetic, no calls out."""
    x = 0
    for i in range(n):
        x += i ^ (x & 7)
    return x


def iters_per_second():
    """How many spin() iterations one thread does per CPU second (best of 3)."""
    best = 0.0
    for _ in range(3):
        n = 100_000
        t0 = time.thread_time()
        spin(n)
        dt = time.thread_time() - t0
        if dt > 0:
            best = max(best, n / dt)
    return best or 20_000_000.0
