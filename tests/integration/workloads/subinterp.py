"""Two threads computing in sub-interpreters with a GIL of their own (3.12+),
beside four threads computing under the main GIL. Each sub-interpreter
writes the CPUs it may run on, read inside it at the end of its work, to
OUT_DIR; the last line printed is the CPUs the process may use, read as it
starts (at its end the main thread may still be on the one CPU GIL affinity
gave the main GIL's threads: the mask comes back at the next tick).
usage: subinterp.py STEPS OUT_DIR"""
import os
import sys
import threading

try:
    import _interpreters as _i  # 3.13+

    def create():
        return _i.create("isolated")

    def run(iid, code):
        _i.exec(iid, code)
except ImportError:
    import _xxsubinterpreters as _i  # 3.12: isolated (a GIL of its own) by default

    def create():
        return _i.create()

    def run(iid, code):
        _i.run_string(iid, code)

steps, out_dir = int(sys.argv[1]), sys.argv[2]
allowed = sorted(os.sched_getaffinity(0))
SUB = f"""
import os, threading
s = 0
for i in range({steps}):
    s += i
assert s == {sum(range(steps))}
with open(os.path.join({out_dir!r}, str(threading.get_native_id())), "w") as f:
    f.write(" ".join(map(str, sorted(os.sched_getaffinity(0)))))
"""


def in_subinterpreter():
    iid = create()
    try:
        run(iid, SUB)
    finally:
        _i.destroy(iid)


def main_gil():
    s = 0
    for i in range(steps):
        s += i


threads = ([threading.Thread(target=main_gil) for _ in range(4)]
           + [threading.Thread(target=in_subinterpreter) for _ in range(2)])
for t in threads:
    t.start()
for t in threads:
    t.join()
print(" ".join(map(str, allowed)))
