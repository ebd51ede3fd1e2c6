"""Helpers shared by the benchmark workloads (standard library only). Each
workload prints one JSON line last: its own figures and whether libbetapool
is mapped into it, which the runner checks against the row it runs."""
import json
import sys
import threading
from time import perf_counter


def preloaded():
    with open("/proc/self/maps") as maps:
        return "libbetapool" in maps.read()


def report(**figures):
    figures["preloaded"] = preloaded()
    print(json.dumps(figures), flush=True)


def ready(**info):
    """For a workload the runner drives from outside (a server under wrk):
    one 'ready' line, then wait until the runner closes stdin."""
    print("ready " + json.dumps(info), flush=True)
    sys.stdin.read()


def pct(values, p):
    """The p-th percentile (nearest rank) of values; 0.0 when empty."""
    v = sorted(values)
    if not v:
        return 0.0
    return v[max(0, -(-len(v) * p // 100) - 1)]


def shares(total, n):
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def run_threads(target, args_per_thread):
    threads = [threading.Thread(target=target, args=a) for a in args_per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Spinners:
    """n pure-Python CPU threads that count loop steps until stop(); each
    checks the flag every 1,000 steps, so stopping takes a few ms at most."""

    def __init__(self, n):
        self.stopping = False
        self.steps = [0] * n
        self.gaps = [0.0] * n
        self.threads = [threading.Thread(target=self._spin, args=(i,), daemon=True)
                        for i in range(n)]

    def _spin(self, i):
        steps = 0
        s = 0
        gap = 0.0
        last = perf_counter()
        while not self.stopping:
            for j in range(1000):
                s += j * j
            steps += 1000
            self.steps[i] = steps
            now = perf_counter()
            if now - last > gap:
                gap = now - last
                self.gaps[i] = gap
            last = now

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join()
        return sum(self.steps)

    def max_gap_ms(self):
        """The longest any thread went between two marks of 1,000 steps."""
        return max(self.gaps or [0.0]) * 1e3
