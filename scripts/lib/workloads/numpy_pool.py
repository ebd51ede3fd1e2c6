"""A numpy matmul pool (BLAS releases the GIL: the pool must run in
parallel). For DURATION seconds one thread multiplies SIZE x SIZE float64
matrices, then THREADS threads do for DURATION seconds; the speedup is the
pool's rate over the single thread's. Run with OPENBLAS_NUM_THREADS=1 and
OMP_NUM_THREADS=1 so that the parallelism is the pool's own.
usage: numpy_pool.py THREADS SIZE DURATION"""
import sys
import threading
from time import perf_counter

import numpy

from _wl import report

nthreads, size, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = numpy.random.default_rng(1)
a = rng.random((size, size))
b = rng.random((size, size))


def rate(n):
    counts = [0] * n
    end = perf_counter() + duration

    def work(i):
        c = 0
        while perf_counter() < end:
            numpy.matmul(a, b)
            c += 1
        counts[i] = c
    t0 = perf_counter()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (perf_counter() - t0)


one = rate(1)
pool = rate(nthreads)
report(matmul_per_s=pool, single_per_s=one, speedup=pool / one)
