"""Many threads that end right as the process exits, for the log's
accounting: every thread betapool saw start must end in the log, with a
thread_exit or in the exit record's list of threads still alive.

usage: exit_race.py N SEED [KIND,...]
Starts, per kind named (default: every kind), N threads (each records its native id, then waits for the
main thread's signal):
  enders   non-daemon threads that compute for a moment (0-2 ms, drawn from
           SEED) and end: CPython's shutdown waits for them, so they finish
           while the interpreter is being torn down and betapool's last tick
           is near;
  dending  daemon threads that do the same: some end before shutdown stops
           them, some are stopped by it;
  spinners daemon threads that compute until shutdown stops them (CPython
           ends a daemon thread that asks for the GIL after finalization);
  sleepers daemon threads that sleep 0-1 ms and compute, over and over;
  native   N // 4 + 1 threads that are not Python's, and as many again:
           libc's pthread_create called through ctypes with libc's usleep
           as the start routine; the first sleep 0-4 ms (most end around the
           exit), the others 10 s (alive at the exit).
Prints one JSON line (pid, the native ids of the Python threads by kind, the
count of native threads), then signals the threads and returns at once."""
import ctypes
import json
import os
import random
import sys
import threading
import time

n, seed = int(sys.argv[1]), int(sys.argv[2])
kinds = sys.argv[3].split(",") if len(sys.argv) > 3 else ["enders", "dending", "spinners", "sleepers", "native"]
rng = random.Random(seed)
go = threading.Event()
tids = {"enders": [], "dending": [], "spinners": [], "sleepers": []}
ready = threading.Semaphore(0)


def spin_for(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def ender(kind, seconds):
    tids[kind].append(threading.get_native_id())
    ready.release()
    go.wait()
    spin_for(seconds)


def spinner():
    tids["spinners"].append(threading.get_native_id())
    ready.release()
    go.wait()
    x = 0
    while True:
        x += 1


def sleeper(pauses):
    tids["sleepers"].append(threading.get_native_id())
    ready.release()
    go.wait()
    i = 0
    while True:
        time.sleep(pauses[i % len(pauses)])
        spin_for(pauses[(i + 1) % len(pauses)])
        i += 1


threads = []
for _ in range(n):
    # Every draw is made whatever the kinds, so a seed means the same times.
    make = {
        "enders": threading.Thread(target=ender, args=("enders", rng.uniform(0, 0.002))),
        "dending": threading.Thread(target=ender, args=("dending", rng.uniform(0, 0.002)), daemon=True),
        "spinners": threading.Thread(target=spinner, daemon=True),
        "sleepers": threading.Thread(target=sleeper, args=([rng.uniform(0, 0.001) for _ in range(7)],),
                                     daemon=True),
    }
    threads += [t for kind, t in make.items() if kind in kinds]
for t in threads:
    t.start()
for _ in threads:
    ready.acquire()

# CDLL(None) looks pthread_create up in the global scope, as a C library's
# own call would be bound: through an LD_PRELOADed interposer first.
libc = ctypes.CDLL(None)
libc.pthread_create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p]
usleep = ctypes.cast(libc.usleep, ctypes.c_void_p).value
native = n // 4 + 1 if "native" in kinds else 0
for us in [rng.randrange(1, 4000) for _ in range(native)] + [10_000_000] * native:
    th = ctypes.c_ulong(0)
    rc = libc.pthread_create(ctypes.byref(th), None, usleep, ctypes.c_void_p(us))
    assert rc == 0, rc
native *= 2

print(json.dumps({"pid": os.getpid(), "tids": tids, "native": native}), flush=True)
go.set()
