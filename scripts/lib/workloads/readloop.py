"""COUNT os.read calls of 64 KiB from /dev/zero in one thread (WHERE=main:
the main thread; WHERE=worker: one started thread, the main thread joining
it). Each read releases and retakes the GIL: callgrind's instruction count
of COUNT and 2*COUNT reads, differenced, is the cost of one cycle.
usage: readloop.py COUNT [main|worker]"""
import os
import sys
import threading
import time

from _wl import report

count = int(sys.argv[1])
where = sys.argv[2] if len(sys.argv) > 2 else "main"


def reader():
    fd = os.open("/dev/zero", os.O_RDONLY)
    for _ in range(count):
        os.read(fd, 65536)
    os.close(fd)


t0 = time.perf_counter()
if where == "main":
    reader()
else:
    t = threading.Thread(target=reader)
    t.start()
    t.join()
report(body_s=time.perf_counter() - t0)
