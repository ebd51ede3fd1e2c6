"""GIL affinity from inside: what CPUs each thread may run on, phase by phase.

usage: affinity_phases.py MODE
  phases   8 CPU-bound workers for --cpu seconds, then sleepers for --sleep
           seconds; each worker reports its mask at the end of each phase.
           Worker 1 confines itself to the lowest allowed CPU first (a mask
           set by the program). Midway through the CPU phase worker 0 reports
           its own mask and starts children -- subprocess, os.system, os.posix_spawn,
           os.fork -- that report theirs.
  hashlib  4 workers hash 8 MiB buffers (CPython releases the GIL) for
           2 seconds; every mask any of them had is reported.
Prints one JSON line."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time

CPU_S, SLEEP_S, WORKERS = 2.5, 1.5, 8
# Seconds into the CPU phase: betapool has pinned by then. Starting the
# children makes worker 0 wait outside the GIL, so it turns brief and gets
# every CPU back until it computes again (the next 0.1 s tick); on Debian's
# 3.14 the four children took 0.35-0.42 s, so the start leaves them time.
CHILD_AT = 1.0


def mask():
    return sorted(os.sched_getaffinity(0))


def spin(n):
    s = 0
    for i in range(n):
        s += i
    return s


def child_masks():
    """The masks of children started now, from this thread."""
    out = {"self": mask()}
    grep = "grep Cpus_allowed_list /proc/self/status"
    out["subprocess"] = subprocess.run(["/bin/sh", "-c", grep], capture_output=True,
                                       text=True).stdout.split()[-1]
    r, w = os.pipe()
    os.set_inheritable(w, True)
    os.system(f"{grep} >&{w}")  # the shell's own mask
    pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", f"{grep} >&{w}"], dict(os.environ))
    os.waitpid(pid, 0)
    pid = os.fork()
    if pid == 0:
        os.write(w, ("fork " + ",".join(map(str, mask())) + "\n").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(w)
    with os.fdopen(r) as f:
        lines = f.read().split("\n")
    out["system"] = lines[0].split()[-1]
    out["posix_spawn"] = lines[1].split()[-1]
    out["fork"] = lines[2].split()[-1]
    return out


def phases():
    allowed = mask()
    t0 = time.monotonic()
    at_cpu, at_sleep, children = {}, {}, {}

    def worker(i):
        if i == 1:
            os.sched_setaffinity(0, {allowed[0]})
        done_children = i != 0
        while time.monotonic() - t0 < CPU_S:
            spin(3000)
            if not done_children and time.monotonic() - t0 >= CHILD_AT:
                children.update(child_masks())
                done_children = True
        at_cpu[i] = mask()
        while time.monotonic() - t0 < CPU_S + SLEEP_S:
            time.sleep(0.01)
        at_sleep[i] = mask()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"allowed": allowed, "at_cpu": at_cpu, "at_sleep": at_sleep, "children": children,
            "main": mask()}


def hashing():
    allowed = mask()
    seen = set()
    buf = b"\x5a" * (8 << 20)
    t0 = time.monotonic()
    digests = []

    def worker():
        while time.monotonic() - t0 < 2.0:
            digests.append(hashlib.sha256(buf).hexdigest())
            seen.add(tuple(mask()))

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"allowed": allowed, "seen": sorted(seen), "hashes": len(digests),
            "same": len(set(digests)) == 1}


if __name__ == "__main__":
    out = phases() if sys.argv[1] == "phases" else hashing()
    print(json.dumps(out))
