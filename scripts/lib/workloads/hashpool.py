"""COUNT SHA-256 digests of 8 MiB buffers split over THREADS threads (native
code that releases the GIL: it runs in parallel).
usage: hashpool.py COUNT THREADS -"""
import hashlib
import sys
import time

from _wl import report, run_threads, shares

count, nthreads = int(sys.argv[1]), int(sys.argv[2])
buf = b"\x5a" * (8 << 20)


def hasher(n):
    for _ in range(n):
        hashlib.sha256(buf).digest()


t0 = time.perf_counter()
run_threads(hasher, [(n,) for n in shares(count, nthreads)])
body = time.perf_counter() - t0
report(body_s=body, mib_per_s=count * 8 / body)
