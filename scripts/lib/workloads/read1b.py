"""COUNT 1-byte os.pread calls (the hooks' worst case), split over THREADS.
usage: read1b.py COUNT THREADS FILE"""
import os
import sys
import time

from _wl import report, run_threads, shares

count, nthreads, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
FILE_SIZE = os.path.getsize(path)


def reader(n):
    fd = os.open(path, os.O_RDONLY)
    off = 0
    for _ in range(n):
        os.pread(fd, 1, off)
        off += 4097
        if off >= FILE_SIZE:
            off = 0
    os.close(fd)


t0 = time.perf_counter()
if nthreads == 1:
    reader(count)
else:
    run_threads(reader, [(n,) for n in shares(count, nthreads)])
body = time.perf_counter() - t0
report(body_s=body, reads_per_s=count / body)
