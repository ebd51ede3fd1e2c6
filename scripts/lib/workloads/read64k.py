"""COUNT os.preadv calls of 64 KiB into a preallocated buffer, from a file in
the page cache (offset wraps), split over THREADS threads (1: the main thread).
usage: read64k.py COUNT THREADS FILE"""
import os
import sys
import time

from _wl import report, run_threads, shares

count, nthreads, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
FILE_SIZE = os.path.getsize(path)


def reader(n, start):
    fd = os.open(path, os.O_RDONLY)
    buf = memoryview(bytearray(65536))
    off = start
    for _ in range(n):
        os.preadv(fd, [buf], off)
        off += 65536
        if off >= FILE_SIZE:
            off = 0
    os.close(fd)


t0 = time.perf_counter()
if nthreads == 1:
    reader(count, 0)
else:
    run_threads(reader, [(n, (i * FILE_SIZE // nthreads) & ~65535)
                         for i, n in enumerate(shares(count, nthreads))])
body = time.perf_counter() - t0
report(body_s=body, reads_per_s=count / body, mib_per_s=count / 16 / body)
