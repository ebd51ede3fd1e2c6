"""A known CPU/sleep mix: N threads each do ROUNDS x (a pure-Python loop of
about LOOP_MS of CPU, then time.sleep(SLEEP_MS)), and measure the truth
themselves: per thread, the CPU time (time.thread_time) spent in the loops and
the wall time spent in the sleeps.
usage: mix.py N ROUNDS LOOP_MS SLEEP_MS
prints one JSON line: pid, workers, loop_cpu_s, loop_runq_s, sleep_wall_s,
sleep_asked_s, sleep_alone_s, truth_wall = sleep_wall / (sleep_wall +
loop_cpu) over all workers, and truth, the same with every sleep counted as
long as one sleep measured alone (see below); truth_wall_runq and truth_runq
are the same two with the loops' run-queue waits counted as loop time;
truth_sleep_runq is truth with the run-queue waits that fell within the
sleeps counted as sleep time; truth_lo is truth_runq with every sleep only
as long as asked (a sleep is never shorter: a bound that holds however
loaded the machine was when the sleep alone was measured).

A loop holds the GIL for its CPU time and for the time its thread waits,
preempted, for a CPU to run on: on a machine where other processes compete
for the CPUs the second can match the first (measured: 191 ms of loop CPU,
380 ms of GIL held). The kernel counts that wait per thread
(/proc/thread-self/schedstat, second field), so the loops' share lies
between truth_runq (every wait was with the GIL held) and truth (none was).

A woken sleeper waits for a CPU too before it can ask for the GIL back, and
that wait is rightly outside the GIL (blocked), which a sleep measured alone
does not show: on a loaded machine it was 330 ms across 32 threads' 0.5 s of
sleeps (beta_io 0.63 against a truth of 0.52). So the sleeps' share lies
below truth_sleep_runq (every run-queue wait within a sleep's span counted as
blocked; part of it is really the wait for the GIL).
"""
import json
import os
import sys
import threading
import time

from _calib import iters_per_second, spin

n, rounds = int(sys.argv[1]), int(sys.argv[2])
loop_ms, sleep_ms = float(sys.argv[3]), float(sys.argv[4])
iters = max(1, int(iters_per_second() * loop_ms / 1000.0))
tids = [None] * n
loop_cpu = [0.0] * n
loop_runq = [0.0] * n
sleep_wall = [0.0] * n
sleep_runq = [0.0] * n
go = threading.Event()


def runq_s():
    """Seconds this thread has waited runnable for a CPU (0 where the kernel
    does not say)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def work(i):
    tids[i] = threading.get_native_id()
    go.wait()
    for _ in range(rounds):
        q0 = runq_s()
        c0 = time.thread_time()
        spin(iters)
        loop_cpu[i] += time.thread_time() - c0
        loop_runq[i] += runq_s() - q0
        q0 = runq_s()
        w0 = time.monotonic()
        time.sleep(sleep_ms / 1000.0)
        sleep_wall[i] += time.monotonic() - w0
        sleep_runq[i] += runq_s() - q0


# The wall time around a sleep also holds the wait to take the GIL back, which
# under contention (32 threads) is many times the sleep itself. So the sleep's
# own length is also measured alone, before any worker runs: the truth counts
# each sleep as that long.
alone = []
for _ in range(10):
    w0 = time.monotonic()
    time.sleep(sleep_ms / 1000.0)
    alone.append(time.monotonic() - w0)
sleep_alone = sum(alone) / len(alone)

ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
go.set()
for t in ts:
    t.join()
cpu, runq, slept = sum(loop_cpu), sum(loop_runq), sum(sleep_wall)
slept_runq = sum(sleep_runq)
slept_alone = n * rounds * sleep_alone
asked = n * rounds * sleep_ms / 1000.0
print(json.dumps({"pid": os.getpid(), "threads": n, "workers": tids,
                  "loop_cpu_s": cpu, "loop_runq_s": runq, "sleep_wall_s": slept,
                  "sleep_runq_s": slept_runq,
                  "sleep_asked_s": asked,
                  "sleep_alone_s": slept_alone,
                  "truth_wall": slept / (slept + cpu),
                  "truth": slept_alone / (slept_alone + cpu),
                  "truth_wall_runq": slept / (slept + cpu + runq),
                  "truth_runq": slept_alone / (slept_alone + cpu + runq),
                  "truth_sleep_runq": (slept_alone + slept_runq) / (slept_alone + slept_runq + cpu),
                  "truth_lo": asked / (asked + cpu + runq)}))
