"""What a program can see of its own threads, printed deterministically:
threading.enumerate() (names, daemon flags) and active_count() before, while
and after four threads run, then a deterministic computation done by threads.
Its stdout must be the same with and without betapool preloaded."""
import hashlib
import threading

from _calib import spin


def view(when):
    ts = threading.enumerate()
    names = sorted((t.name, t.daemon, t is threading.main_thread()) for t in ts)
    print(when, "active_count", threading.active_count(), "enumerate", len(ts), names)


view("before")
ready = threading.Barrier(5)
release = threading.Event()
results = [None] * 4


def work(i):
    ready.wait()
    release.wait()
    results[i] = spin(20_000 + i)


ts = [threading.Thread(target=work, args=(i,), name=f"worker-{i}", daemon=i == 3)
      for i in range(4)]
for t in ts:
    t.start()
ready.wait()
view("during")
release.set()
for t in ts:
    t.join()
view("after")
print("current", threading.current_thread().name, threading.main_thread().name)
print("results", results)
print("digest", hashlib.sha256(repr(results).encode()).hexdigest())
