"""InterpreterPoolExecutor(WORKERS) of pure-Python CPU tasks (sub-interpreters
with a GIL each: they run in parallel) next to a ThreadPoolExecutor(THREADS)
of pure-Python loops under the main GIL, which compute until the interpreter
pool is done. Python 3.14+.
usage: interppool.py TASKS STEPS WORKERS THREADS"""
import sys
import threading
import time
from concurrent.futures import InterpreterPoolExecutor, ThreadPoolExecutor

from _wl import report

tasks, steps, workers, nthreads = (int(a) for a in sys.argv[1:5])


def cpu(n):
    s = 0
    for i in range(n):
        s += i
    return s


done = threading.Event()


def gil_bound():
    chunks = 0
    while not done.is_set():
        cpu(10_000)
        chunks += 1
    return chunks


with ThreadPoolExecutor(nthreads) as tp:
    loops = [tp.submit(gil_bound) for _ in range(nthreads)]
    t0 = time.perf_counter()
    with InterpreterPoolExecutor(workers) as ip:
        results = list(ip.map(cpu, [steps] * tasks))
    body = time.perf_counter() - t0
    done.set()
    chunks = sum(f.result() for f in loops)
if results != [cpu(steps)] * tasks:
    sys.exit("wrong results")
report(body_s=body, interp_tasks_per_s=tasks / body, interp_s=body,
       gil_msteps_per_s=chunks * 10_000 / body / 1e6)
