"""Every thread in the log: threads that end right as the process exits
(during interpreter shutdown, with betapool's last tick in flight) are each
accounted for. Every thread_start has exactly one thread_exit after it, or an
entry in the exit record's list of threads alive, and the exit record's
counts are those of the records written.

The workload (workloads/exit_race.py) starts many threads of several kinds
that end around the exit: non-daemon threads CPython's shutdown waits for,
daemon threads that end on their own or are stopped by the shutdown, and
threads that are not Python's, some of them alive at the exit. It is run
repeatedly on every Python, in observe and auto (acting) mode, with betapool
ticking every 10 ms (so that ticks and exits meet) and at the default
interval, each run with its own seed."""
import json
import os
import shutil
import sys
import tempfile
import unittest

import common
from common import WORKLOADS, ShimTestCase

WORKER_VIA = ("PyThread_start_new_thread", "PyThread_start_joinable_thread", "start_routine")
FIGS = ("gil_held_ms", "gil_wait_ms", "idle_ms", "blocked_ms", "parked_ms")
# Threads per kind, and runs per Python (modes and intervals alternate).
THREADS = 16
RUNS = 8
RUN_ENV = [{"BETAPOOL_MODE": mode, "BETAPOOL_INTERVAL_MS": ms}
           for mode in ("observe", "auto") for ms in ("10", "100")]
ALL_KINDS = ("enders", "dending", "spinners", "sleepers", "native")


def kinds_for(label):
    """Every kind, but for CPython 3.10: there a daemon thread that is still
    running when the interpreter is torn down can crash the process without
    betapool (CPython's take_gil reads a freed interpreter; measured with
    this workload, 3.10.13: 5 segfaults in 200 runs without betapool, 3 in
    200 with it). On 3.10 only threads that end before the interpreter goes
    and threads that are not Python's are run."""
    if label.endswith("-3.10"):
        return ("enders", "native")
    return ALL_KINDS


def account(recs):
    """Walk the log in order. Returns (problems, summary): every thread_start
    opens its tid (a tid open twice is a problem), every thread_exit closes
    an open one (one that is not open is a problem); what is left open must
    be exactly the exit record's list, and the exit record's counts those of
    the records."""
    problems = []
    open_ = {}
    starts = exits = python = 0
    for no, r in enumerate(recs, 1):
        ev = r.get("event")
        if ev == "thread_start":
            starts += 1
            python += bool(r.get("python"))
            if r["tid"] in open_:
                problems.append(f"record {no}: thread_start of tid {r['tid']}, already started and not ended")
            open_[r["tid"]] = r
        elif ev == "thread_exit":
            exits += 1
            if open_.pop(r["tid"], None) is None:
                problems.append(f"record {no}: thread_exit of tid {r['tid']} without a thread_start before it")
    ex = recs[-1]
    listed = [t["tid"] for t in ex.get("threads", [])]
    if len(set(listed)) != len(listed):
        problems.append(f"the exit record lists a tid twice: {sorted(listed)}")
    lost = sorted(set(open_) - set(listed))
    if lost:
        problems.append(f"{len(lost)} thread(s) started and neither ended nor listed at exit: "
                        f"{[(t, open_[t].get('via')) for t in lost]}")
    extra = sorted(set(listed) - set(open_))
    if extra:
        problems.append(f"the exit record lists tids that did not start or already ended: {extra}")
    counts = {"threads_started": starts, "threads_exited": exits, "python_threads": python}
    said = {k: ex.get(k) for k in counts}
    if said != counts:
        problems.append(f"the exit record says {said}, the records say {counts}")
    if ex.get("threads_untracked") != 0:
        problems.append(f"threads_untracked {ex.get('threads_untracked')}")
    final = sum(1 for r in recs if r.get("event") == "thread_exit" and r["t"] == ex["t"])
    return problems, {"exits": exits, "alive": len(listed), "final_tick_exits": final}


class TestExitRace(ShimTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="betapool-exit-race-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def test_every_thread_is_accounted_for(self):
        for label, py in self.each_python():
            kinds = kinds_for(label)
            totals = {"exits": 0, "alive": 0, "final_tick_exits": 0}
            for run in range(RUNS):
                env = RUN_ENV[run % len(RUN_ENV)]
                with self.subTest(python=label, run=run, **env):
                    self.check_run(label, py, run, env, kinds, totals)
            print(f"\n  exit race {label} ({','.join(kinds)}): {RUNS} runs, thread_exit records "
                  f"{totals['exits']} ({totals['final_tick_exits']} written by the last tick), "
                  f"alive at exit {totals['alive']}", file=sys.stderr, end="")

    def check_run(self, label, py, run, env, kinds, totals):
        d = tempfile.mkdtemp(prefix=f"{label}-{run}-", dir=self.tmp)
        log = os.path.join(d, "run.jsonl")
        argv = [py, os.path.join(WORKLOADS, "exit_race.py"), str(THREADS), str(run), ",".join(kinds)]
        cp = common.run(argv, dict(env, BETAPOOL_LOG=log), timeout=120)
        what = f"{label} run {run} {env}"
        self.assertEqual(cp.returncode, 0, f"{what}: exit {cp.returncode}\n{cp.stderr[-2000:]}")
        out = json.loads(cp.stdout.strip().splitlines()[-1])
        recs = common.read_log(log)
        self.assertTrue(recs, f"{what}: empty log")
        self.assertEqual(recs[0]["event"], "start", f"{what}: first record {recs[0]}")
        self.assertEqual(recs[-1]["event"], "exit", f"{what}: last record {str(recs[-1])[:400]}")
        self.assertEqual([r["event"] for r in recs].count("exit"), 1, f"{what}: exit records")
        problems, summary = account(recs)
        self.assertEqual(problems, [], f"{what}: the log does not account for every thread")
        for k in totals:
            totals[k] += summary[k]

        # Every Python thread the workload started, and the main thread, is
        # in the log as CPython's; the threads that are not Python's too.
        starts = {r["tid"]: r for r in recs if r["event"] == "thread_start"}
        main = starts.get(out["pid"])
        self.assertIsNotNone(main, f"{what}: no thread_start for the main thread")
        self.assertEqual((main["python"], main["via"]), (True, "main"), f"{what}: {main}")
        for kind, tids in out["tids"].items():
            self.assertEqual(len(tids), THREADS if kind in kinds else 0, f"{what}: {kind} {tids}")
            missing = [t for t in tids if t not in starts]
            self.assertEqual(missing, [], f"{what}: {kind} threads with no thread_start")
            wrong = [starts[t] for t in tids if not starts[t]["python"] or starts[t]["via"] not in WORKER_VIA]
            self.assertEqual(wrong, [], f"{what}: {kind} threads not seen as CPython's")
        foreign = [r for r in starts.values() if not r["python"]]
        self.assertGreaterEqual(len(foreign), out["native"], f"{what}: threads not Python's")

        # Each thread's account of its life adds up, however it ended.
        lives = [r for r in recs if r["event"] == "thread_exit"] + recs[-1].get("threads", [])
        for r in lives:
            if not starts.get(r["tid"], {}).get("python"):
                continue
            self.assertIn("wall_ms", r, f"{what}: a Python thread's life without figures: {r}")
            parts = sum(r.get(k, 0.0) for k in FIGS)
            self.assertAlmostEqual(r["wall_ms"], parts, delta=0.01 + 1e-6 * r["wall_ms"],
                                   msg=f"{what}: wall != held + wait + idle + blocked + parked: {r}")


if __name__ == "__main__":
    unittest.main()
