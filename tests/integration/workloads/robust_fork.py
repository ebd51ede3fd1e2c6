"""os.fork() while 4 threads are busy on the CPU. The child starts a small
thread pool, prints its result and exits with status 7 (through a normal
interpreter exit, so the shim's exit path runs in it too); the parent waits
for it, stops its threads and exits with status 3.
Prints 'parent PID child PID status N result R tids T,...' in the parent and
'child PID result R tids T,...' in the child (T: the pool threads' kernel
thread ids)."""
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads


def spin(stop, out, i):
    n = 0
    while not stop.is_set():
        n = (n * 31 + i) % 1000003
    out[i] = n


def task(i):
    return sum(j * j for j in range(2000 + i)) % 9973, threading.get_native_id()


def pool_run():
    started = set()
    with ThreadPoolExecutor(4, initializer=lambda: started.add(threading.get_native_id())) as ex:
        res = list(ex.map(task, range(64)))
    tids = ",".join(str(t) for t in sorted(started | {t for _, t in res}))
    return sum(r for r, _ in res), tids


def main():
    stop = threading.Event()
    out = [0] * 4
    ts = [threading.Thread(target=spin, args=(stop, out, i)) for i in range(4)]
    for t in ts:
        t.start()
    threading.Event().wait(0.3)
    pid = os.fork()
    if pid == 0:
        r, tids = pool_run()
        print(f"child {os.getpid()} result {r} tids {tids}", flush=True)
        sys.exit(7)
    _, status = os.waitpid(pid, 0)
    stop.set()
    for t in ts:
        t.join()
    r, tids = pool_run()
    print(f"parent {os.getpid()} child {pid} status {os.waitstatus_to_exitcode(status)} result {r} "
          f"tids {tids}", flush=True)
    sys.exit(3)


if __name__ == "__main__":
    main()
