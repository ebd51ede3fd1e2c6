"""A program for BETAPOOL_METRICS_DIR's tests: N threads share the GIL, so
time waiting for it and holding it keeps rising.

usage: prom_threads.py SECONDS N [wait] [fork] [collector]
    wait       read one line from stdin before starting any thread (the
               test plants files under the pid's names first)
    fork       after the threads started, fork a child that starts N
               threads of its own for SECONDS/2 and exits normally
               (sys.exit); the parent waits for it
    collector  also print the text prometheus_client's generate_latest
               gives for a registry holding betapool.prometheus's collector
Prints 'result R' (R depends only on N): the same with or without betapool.
"""
import os
import sys
import threading
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads


def spin(stop, out, i):
    n = 0
    while not stop.is_set():
        n = (n * 31 + i) % 1000003
    out[i] = i * i


def run_threads(seconds, n):
    stop = threading.Event()
    out = [0] * n
    ts = [threading.Thread(target=spin, args=(stop, out, i)) for i in range(n)]
    for t in ts:
        t.start()
    return stop, ts, out


def main():
    seconds, n = float(sys.argv[1]), int(sys.argv[2])
    flags = set(sys.argv[3:])
    if "wait" in flags:
        sys.stdin.readline()
    stop, ts, out = run_threads(seconds, n)
    if "fork" in flags:
        threading.Event().wait(min(0.5, seconds / 4))
        pid = os.fork()
        if pid == 0:
            cstop, cts, _ = run_threads(seconds / 2, n)
            print(f"child {os.getpid()}", flush=True)
            threading.Event().wait(seconds / 2)
            cstop.set()
            for t in cts:
                t.join()
            sys.exit(0)
        os.waitpid(pid, 0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        threading.Event().wait(0.05)
    if "collector" in flags:
        from prometheus_client import CollectorRegistry, generate_latest
        from betapool.prometheus import BetapoolCollector
        registry = CollectorRegistry()
        BetapoolCollector(registry=registry)
        sys.stdout.write(generate_latest(registry).decode())
    stop.set()
    for t in ts:
        t.join()
    print(f"result {sum(out)}", flush=True)


if __name__ == "__main__":
    main()
